"""Block benches (tb/blocks/<block>/test_block_<block>.py) on the project's one runner (sim/simlib.py):
builds one block for a parameter set, runs its cocotb module and fails unless every cocotb test passed.
Builds go to sim/build/blocks/<tag>/, logs and results.xml to sim/results/blocks/<tag>/.

Environment: SEED=<n> replays, TESTCASE=<cocotb test> runs one, WAVES=1 dumps FST.
The mutation campaign (sim/mutation/mutate.py) runs the benches on its instrumented copy of rtl/:
IMSDEV_BLOCK_RTL=<copy>/rtl takes the sources from there (with the generated imsdev_mutant_pkg), builds and
results go beside the copy, and IMSDEV_MUTANT=<n> becomes the +IMSDEV_MUTANT plusarg that activates a mutant.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "sim") not in sys.path:
    sys.path.insert(0, str(ROOT / "sim"))

import simlib  # noqa: E402

MUTANT_RTL = os.environ.get("IMSDEV_BLOCK_RTL")
RTL = Path(MUTANT_RTL) if MUTANT_RTL else simlib.RTL
MUTANT_PKG = RTL / "_mutation" / "imsdev_mutant_pkg.sv"


def tag(block: str, params: dict) -> str:
    return block + "-" + "-".join(f"{k}{v}" for k, v in params.items())


def sources(*files: Path) -> list:
    """The lint configuration first, then packages before their users (the mutant selector first of all
    in the instrumented copy)."""
    pkg = (MUTANT_PKG,) if MUTANT_RTL else ()
    return simlib.sources_of(*pkg, *files, control_files=(RTL / "lint.vlt",))


def run_block(block: str, toplevel: str, test_module: str, srcs: list, params: dict,
              extra_env: dict | None = None) -> Path:
    """Build and run; returns the results directory. Asserts that every cocotb test passed."""
    waves = simlib.env_flag("WAVES")
    name = tag(block, params)
    root = simlib.BUILD_ROOT if not MUTANT_RTL else RTL.parent
    build_dir = root / "blocks" / (name + ("-waves" if waves else ""))
    test_dir = (simlib.RESULTS_ROOT if not MUTANT_RTL else RTL.parent / "results") / "blocks" / name
    # Block RTL is lint-clean with -Wall: warnings stay fatal here (not in the mutation tool's instrumented
    # copy, whose selector logic is not written to be warning-free).
    simlib.verilator_build(sources=srcs, toplevel=toplevel, params=params, build_dir=build_dir, waves=waves,
                           warnings_fatal=not MUTANT_RTL)
    mutant = os.environ.get("IMSDEV_MUTANT")
    plusargs = (f"+IMSDEV_MUTANT={mutant}",) if MUTANT_RTL and mutant else ()
    seed = simlib.seed_from_env() or simlib.new_seed(f"blocks/{name}/{test_module}/{os.environ.get('TESTCASE', '')}")
    print(f"\n{name}: seed {seed} (replay: SEED={seed})")
    cases = simlib.cocotb_run(module=test_module, toplevel=toplevel, build_dir=build_dir, test_dir=test_dir,
                              seed=seed, testcase=os.environ.get("TESTCASE") or None, extra_env=extra_env,
                              waves=waves, plusargs=plusargs)
    assert cases, "no cocotb test ran"
    for c in cases:
        print(f"  {c.name:<32} cycles={c.sim_time_ns / 10:9.0f} wall={c.wall_s:6.2f} s")
    bad = [f"{c.name}: {c.message[:500]}" for c in cases if not c.passed]
    kept = simlib.failed_log(test_dir, seed)
    log = kept if kept.exists() else test_dir / "sim.log"
    assert not bad, f"seed {seed}: " + "; ".join(bad) + f" (log: {log})"
    return test_dir
