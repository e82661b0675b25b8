"""pytest runner of the ATS block bench: builds tb/blocks/ats/atc_tb.sv (imsdev_ats_atc and the ATS package
functions) with Verilator for each parameter set and runs the cocotb tests of test_atc.py on it.

    .venv/bin/python -m pytest tb/blocks/ats -q -s   (SEED=<n> replays, TESTCASE=<test>, WAVES=1)
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tb.blocks.runner import RTL, run_block, sources, tag

HERE = Path(__file__).resolve().parent
PARAM_SETS = [dict(ENTRIES=8), dict(ENTRIES=3)]


@pytest.mark.parametrize("params", PARAM_SETS, ids=lambda p: tag("ats", p))
def test_block_ats(params):
    srcs = sources(RTL / "ats" / "imsdev_ats_pkg.sv", RTL / "ats" / "imsdev_ats_atc.sv", HERE / "atc_tb.sv")
    run_block("ats", "atc_tb", "tb.blocks.ats.test_atc", srcs, params, {"ATC_ENTRIES": str(params["ENTRIES"])})


@pytest.mark.parametrize("params", [dict(DATA_W=128), dict(DATA_W=64)], ids=lambda p: tag("ats_inv", p))
def test_block_ats_inv(params):
    srcs = sources(RTL / "link" / "imsdev_tlp_pkg.sv", RTL / "ats" / "imsdev_ats_pkg.sv",
                   RTL / "ats" / "imsdev_ats_inv.sv")
    run_block("ats_inv", "imsdev_ats_inv", "tb.blocks.ats.test_inv", srcs, params)


@pytest.mark.parametrize("params", [dict(SLOTS=2)], ids=lambda p: tag("pri", p))
def test_block_pri(params):
    srcs = sources(RTL / "link" / "imsdev_tlp_pkg.sv", RTL / "ats" / "imsdev_ats_pkg.sv", RTL / "ats" / "imsdev_pri.sv")
    run_block("pri", "imsdev_pri", "tb.blocks.ats.test_pri", srcs, params)
