"""Block benches (tb/blocks/<block>/test_block_<block>.py) on the project's one runner (sim/simlib.py):
builds one block for a parameter set, runs its cocotb module and fails unless every cocotb test passed.
Builds go to sim/build/blocks/<tag>/, logs and results.xml to sim/results/blocks/<tag>/.

Environment: SEED=<n> replays, TESTCASE=<cocotb test> runs one, WAVES=1 dumps FST.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "sim") not in sys.path:
    sys.path.insert(0, str(ROOT / "sim"))

import simlib  # noqa: E402

RTL = simlib.RTL


def tag(block: str, params: dict) -> str:
    return block + "-" + "-".join(f"{k}{v}" for k, v in params.items())


def sources(*files: Path) -> list:
    """The lint configuration first, then packages before their users."""
    return simlib.sources_of(*files, control_files=(RTL / "lint.vlt",))


def run_block(block: str, toplevel: str, test_module: str, srcs: list, params: dict,
              extra_env: dict | None = None) -> Path:
    """Build and run; returns the results directory. Asserts that every cocotb test passed."""
    waves = simlib.env_flag("WAVES")
    name = tag(block, params)
    build_dir = simlib.BUILD_ROOT / "blocks" / (name + ("-waves" if waves else ""))
    test_dir = simlib.RESULTS_ROOT / "blocks" / name
    # Block RTL is lint-clean with -Wall: warnings stay fatal here.
    simlib.verilator_build(sources=srcs, toplevel=toplevel, params=params, build_dir=build_dir, waves=waves,
                           warnings_fatal=True)
    seed = simlib.seed_from_env() or simlib.new_seed()
    print(f"\n{name}: seed {seed} (replay: SEED={seed})")
    cases = simlib.cocotb_run(module=test_module, toplevel=toplevel, build_dir=build_dir, test_dir=test_dir,
                              seed=seed, testcase=os.environ.get("TESTCASE") or None, extra_env=extra_env,
                              waves=waves)
    assert cases, "no cocotb test ran"
    for c in cases:
        print(f"  {c.name:<32} cycles={c.sim_time_ns / 10:9.0f} wall={c.wall_s:6.2f} s")
    bad = [f"{c.name}: {c.message[:500]}" for c in cases if not c.passed]
    assert not bad, f"seed {seed}: " + "; ".join(bad) + f" (log: {test_dir / 'sim.log'})"
    return test_dir
