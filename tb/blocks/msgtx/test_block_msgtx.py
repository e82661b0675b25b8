"""pytest runner of the imsdev_msg_tx block bench (the message writer: interrupt messages and header-only
messages, such as Page Requests and Invalidate Completions, onto a request stream): builds the block with
Verilator for each data path width and runs the cocotb tests of test_msgtx.py on it.

    PATH=$PWD/.venv/bin:$PATH .venv/bin/python -m pytest tb/blocks/msgtx/test_block_msgtx.py -q -s
    (environment: SEED=<n> to replay, TESTCASE=<cocotb test> to run one, WAVES=1 for an FST dump)

Builds go to sim/build/blocks/msgtx-<params>/, logs and results.xml to sim/results/blocks/msgtx-<params>/.
"""
from __future__ import annotations

import pytest

from tb.blocks.runner import RTL, run_block, sources, tag

PARAM_SETS = [dict(DATA_W=256), dict(DATA_W=64)]


@pytest.mark.parametrize("params", PARAM_SETS, ids=lambda p: tag("msgtx", p))
def test_block_msgtx(params):
    srcs = sources(RTL / "link" / "imsdev_tlp_pkg.sv", RTL / "link" / "imsdev_msg_tx.sv")
    run_block("msgtx", "imsdev_msg_tx", "tb.blocks.msgtx.test_msgtx", srcs, params,
              {"MSGTX_DATA_W": str(params["DATA_W"])})
