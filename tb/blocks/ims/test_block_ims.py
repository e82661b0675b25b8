"""pytest runner of the imsdev_ims block bench: builds the block with Verilator (cocotb_tools.runner)
for each parameter set and runs the cocotb tests of test_ims.py on it.

    PATH=$PWD/.venv/bin:$PATH .venv/bin/python -m pytest tb/blocks/ims/test_block_ims.py -q
    (environment: SEED=<n> to replay, TESTCASE=<cocotb test> to run one, WAVES=1 for an FST dump,
     IMS_TRACE=1 to log every event the bench applies to the model, IMS_STRESS_OPS / IMS_THROUGHPUT_N
     to size the stress and throughput tests)

Builds go to sim/build/blocks/ims-<params>/, logs and results.xml to sim/results/blocks/ims-<params>/.
Every cocotb test must pass (parsed from results.xml); the seed is printed for replay.
"""
from __future__ import annotations

import pytest

from tb.blocks.runner import RTL, run_block, sources, tag

PARAM_SETS = [
    dict(NUM_WQ=8, IMS_PER_WQ=256, FIFO_DEPTH=4),
    dict(NUM_WQ=1, IMS_PER_WQ=16, FIFO_DEPTH=4),
]


@pytest.mark.parametrize("params", PARAM_SETS, ids=lambda p: tag("ims", p))
def test_block_ims(params):
    srcs = sources(*sorted((RTL / "common").glob("*.sv")), *sorted((RTL / "ims").glob("*.sv")))
    run_block("ims", "imsdev_ims", "tb.blocks.ims.test_ims", srcs, params, {
        "IMS_NUM_WQ": str(params["NUM_WQ"]),
        "IMS_PER_WQ": str(params["IMS_PER_WQ"]),
        "IMS_FIFO_DEPTH": str(params["FIFO_DEPTH"]),
    })
