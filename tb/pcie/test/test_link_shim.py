"""Build tb/pcie/test/link_loopback.sv with Verilator and run the cocotb tests of tb/pcie against it.

    PATH=.venv/bin:$PATH python -m pytest tb/pcie/test -s           # random seed, printed
    SEED=1234 PATH=.venv/bin:$PATH python -m pytest tb/pcie/test -s # replay
    TESTS=test_dmwr ... / WAVES=1 ...                               # a regex of tests / VCD waves

`run_link_shim()` is the one place that builds and runs; `make sim` can call it directly.
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest
from cocotb_tools.check_results import get_results
from cocotb_tools.runner import get_runner

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
BUILD_ROOT = HERE / "sim_build"
TOPLEVEL = "link_loopback"

# The simulator inherits this process's sys.path as PYTHONPATH: it must find `tb.pcie`, the platform models'
# `imsdev` (fw/) that tb.platform imports, and the test module.
for _p in (str(ROOT), str(ROOT / "fw"), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)


def run_link_shim(data_w: int = 256, seed: int | None = None, test_filter: str | None = None,
                  waves: bool = False) -> tuple[int, int, Path]:
    """Build (incrementally) and run the link tests; returns (tests, failures, results.xml)."""
    os.environ.pop("VERILATOR_ROOT", None)
    build_dir = BUILD_ROOT / f"w{data_w}{'-waves' if waves else ''}"
    runner = get_runner("verilator")
    runner.build(
        sources=[HERE / "link_loopback.sv"],
        hdl_toplevel=TOPLEVEL,
        parameters={"DATA_W": data_w},
        build_args=["-Wall"],
        build_dir=build_dir,
        waves=waves,
        timescale=("1ns", "1ps"),
    )
    xml = runner.test(
        test_module="link_shim_tests",
        hdl_toplevel=TOPLEVEL,
        test_filter=test_filter,
        seed=seed,
        build_dir=build_dir,
        test_dir=build_dir,
        waves=waves,
        timescale=("1ns", "1ps"),
        results_xml=str(build_dir / "results.xml"),
    )
    tests, failed = get_results(Path(xml))
    return tests, failed, Path(xml)


@pytest.mark.parametrize("data_w", [256, 64])
def test_link_shim(data_w):
    seed = int(os.environ.get("SEED") or random.randrange(1 << 31))
    print(f"\ntb/pcie link tests, DATA_W={data_w}: seed {seed} (replay with SEED={seed})")
    tests, failed, xml = run_link_shim(data_w, seed, os.environ.get("TESTS"), os.environ.get("WAVES", "0") not in ("", "0"))
    assert tests > 0 and failed == 0, f"{failed} of {tests} link tests failed (seed {seed}, see {xml})"
