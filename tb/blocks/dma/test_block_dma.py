"""pytest runner of the imsdev_dma block bench: builds the block with Verilator (cocotb_tools.runner) for
each parameter set and runs the cocotb tests of test_dma.py on it.

    PATH=$PWD/.venv/bin:$PATH .venv/bin/python -m pytest tb/blocks/dma/test_block_dma.py -q -s
    (environment: SEED=<n> to replay, TESTCASE=<cocotb test> to run one, WAVES=1 for an FST dump,
     DMA_ALL_WIDTHS=1 to add DATA_W=64 and 512)

Builds go to sim/build/blocks/dma-<params>/, logs, results.xml and perf.json (throughput/latency figures of
test_throughput) to sim/results/blocks/dma-<params>/. Every cocotb test must pass (parsed from
results.xml); the seed is printed for replay.
"""
from __future__ import annotations

import os

import pytest

from tb.blocks.runner import ROOT, RTL, run_block, sources, tag

# CPL_TIMEOUT is short so that the timeout test runs quickly; the bench's completion delays stay far below.
PARAM_SETS = [
    dict(DATA_W=256, TAGS=16, BUF_BYTES=4096, CPL_TIMEOUT=3000),
    dict(DATA_W=128, TAGS=8, BUF_BYTES=2048, CPL_TIMEOUT=3000),
    dict(DATA_W=128, TAGS=16, BUF_BYTES=2048, CPL_TIMEOUT=3000, ATS_ENTRIES=4),   # ATC, translation requests
]
# DMA_ALL_WIDTHS=1 adds the other two data path widths (not part of the default run).
if os.environ.get("DMA_ALL_WIDTHS", "0") not in ("", "0"):
    PARAM_SETS += [
        dict(DATA_W=64, TAGS=32, BUF_BYTES=1024, CPL_TIMEOUT=3000),
        dict(DATA_W=512, TAGS=32, BUF_BYTES=8192, CPL_TIMEOUT=3000),
    ]


@pytest.mark.parametrize("params", PARAM_SETS, ids=lambda p: tag("dma", p))
def test_block_dma(params):
    srcs = sources(*sorted((RTL / "common").glob("*.sv")), RTL / "link" / "imsdev_tlp_pkg.sv",
                   *sorted((RTL / "dma").glob("*.sv")), *sorted((RTL / "ats").glob("*.sv")))
    run_block("dma", "imsdev_dma", "tb.blocks.dma.test_dma", srcs, params, {
        "DMA_DATA_W": str(params["DATA_W"]),
        "DMA_TAGS": str(params["TAGS"]),
        "DMA_BUF_BYTES": str(params["BUF_BYTES"]),
        "DMA_CPL_TIMEOUT": str(params["CPL_TIMEOUT"]),
        "DMA_ATS_ENTRIES": str(params.get("ATS_ENTRIES", 0)),
        "DMA_RESULTS_DIR": str(ROOT / "sim" / "results" / "blocks" / tag("dma", params)),
    })
