"""Build tb/pcie/test/link_loopback.sv with Verilator and run the cocotb tests of tb/pcie against it
(on the project's one runner, sim/simlib.py).

    PATH=.venv/bin:$PATH python -m pytest tb/pcie/test -s           # random seed, printed
    SEED=1234 PATH=.venv/bin:$PATH python -m pytest tb/pcie/test -s # replay
    TESTS=test_dmwr ... / WAVES=1 ...                               # a regex of tests / FST waves

Builds go to sim/build/blocks/link_shim-w<DATA_W>/, logs and results.xml to sim/results/blocks/link_shim-w<DATA_W>/.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
for _p in (str(ROOT / "sim"), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import simlib  # noqa: E402

TOPLEVEL = "link_loopback"


def run_link_shim(data_w: int, seed: int, test_filter: str | None = None,
                  waves: bool = False) -> list[simlib.CaseResult]:
    """Build (incrementally) and run the link tests; returns one result per cocotb test."""
    name = f"link_shim-w{data_w}"
    build_dir = simlib.BUILD_ROOT / "blocks" / (name + ("-waves" if waves else ""))
    simlib.verilator_build(sources=[str(HERE / "link_loopback.sv")], toplevel=TOPLEVEL,
                           params={"DATA_W": data_w}, build_dir=build_dir, waves=waves,
                           extra_args=("-Wall",), warnings_fatal=True)
    return simlib.cocotb_run(module="link_shim_tests", toplevel=TOPLEVEL, build_dir=build_dir,
                             test_dir=simlib.RESULTS_ROOT / "blocks" / name, seed=seed,
                             test_filter=test_filter, waves=waves)


@pytest.mark.parametrize("data_w", [256, 64])
def test_link_shim(data_w):
    seed = simlib.seed_from_env() or simlib.new_seed(f"link_shim/{data_w}/{os.environ.get('TESTS', '')}")
    print(f"\ntb/pcie link tests, DATA_W={data_w}: seed {seed} (replay with SEED={seed})")
    waves = simlib.env_flag("WAVES")
    cases = run_link_shim(data_w, seed, os.environ.get("TESTS"), waves)
    failed = [f"{c.name}: {c.message[:300]}" for c in cases if not c.passed]
    assert cases and not failed, f"{len(failed)} of {len(cases)} link tests failed (seed {seed}): " + "; ".join(failed)
    if waves:
        fst = simlib.RESULTS_ROOT / "blocks" / f"link_shim-w{data_w}" / "dump.fst"
        assert fst.exists() and fst.stat().st_size > 0, f"WAVES=1 left no waveform at {fst}"
