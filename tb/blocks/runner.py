"""Shared pytest-side runner of the block benches (tb/blocks/<block>/test_block_<block>.py): builds one
block with Verilator for a parameter set, runs its cocotb module and fails unless every cocotb test
passed. Builds go to sim/build/blocks/<tag>/, logs and results.xml to sim/results/blocks/<tag>/.

Environment: SEED=<n> replays, TESTCASE=<cocotb test> runs one, WAVES=1 dumps FST.
"""
from __future__ import annotations

import os
import random
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from cocotb_tools.runner import VerilatorControlFile, get_runner

ROOT = Path(__file__).resolve().parents[2]
RTL = ROOT / "rtl"
# The venv's Verilator (5.048) must win over any system one.
_VENV_BIN = Path(sys.executable).parent
if (_VENV_BIN / "verilator").exists():
    os.environ["PATH"] = str(_VENV_BIN) + os.pathsep + os.environ.get("PATH", "")
os.environ.pop("VERILATOR_ROOT", None)


def tag(block: str, params: dict) -> str:
    return block + "-" + "-".join(f"{k}{v}" for k, v in params.items())


def sources(*files: Path) -> list:
    """The lint configuration first, then packages before their users."""
    pkgs = [f for f in files if f.name.endswith("_pkg.sv")]
    return [VerilatorControlFile(str(RTL / "lint.vlt"))] + [str(f) for f in pkgs + [f for f in files if f not in pkgs]]


def run_block(block: str, toplevel: str, test_module: str, srcs: list, params: dict,
              extra_env: dict | None = None) -> Path:
    """Build and run; returns the results directory. Asserts that every cocotb test passed."""
    waves = os.environ.get("WAVES", "0") not in ("", "0")
    name = tag(block, params)
    build_dir = ROOT / "sim" / "build" / "blocks" / (name + ("-waves" if waves else ""))
    test_dir = ROOT / "sim" / "results" / "blocks" / name
    test_dir.mkdir(parents=True, exist_ok=True)
    results_xml = test_dir / "results.xml"
    results_xml.unlink(missing_ok=True)

    runner = get_runner("verilator")
    args = ["--assert", "--x-assign", "unique", "--x-initial", "unique"]
    if waves:
        args += ["--trace-fst", "--trace-structs"]
    runner.build(sources=srcs, hdl_toplevel=toplevel, parameters=params, build_args=args,
                 build_dir=str(build_dir), waves=waves, timescale=("1ns", "1ps"),
                 log_file=str(build_dir / "build.log"))

    seed = int(os.environ["SEED"]) if os.environ.get("SEED") else random.SystemRandom().randrange(1, 2**31)
    print(f"\n{name}: seed {seed} (replay: SEED={seed})")
    env = {
        "PYTHONPATH": os.pathsep.join([str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])),
        "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "INFO"),
        **(extra_env or {}),
    }
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel, testcase=os.environ.get("TESTCASE") or None,
                    seed=seed, build_dir=str(build_dir), test_dir=str(test_dir), results_xml=str(results_xml),
                    extra_env=env,
                    # Random initial values (--x-initial unique), reproducible from the seed.
                    plusargs=[f"+verilator+seed+{seed}", "+verilator+rand+reset+2"],
                    waves=waves, log_file=str(test_dir / "sim.log"))
    except SystemExit:
        pass    # the runner exits non-zero when a cocotb test fails; results.xml says which

    assert results_xml.exists(), f"no {results_xml}: the simulator crashed (log: {test_dir / 'sim.log'})"
    cases = list(ET.parse(results_xml).getroot().iter("testcase"))
    assert cases, "no cocotb test ran"
    bad = []
    for tc in cases:
        props = {p.get("name"): p.get("value") for p in tc.iter("property")}
        sim_ns = float(props.get("sim_time_stop", 0) or 0) - float(props.get("sim_time_start", 0) or 0)
        print(f"  {tc.get('name'):<32} cycles={sim_ns / 10:9.0f} wall={float(tc.get('time', 0) or 0):6.2f} s")
        for kind in ("failure", "error", "skipped"):
            el = tc.find(kind)
            if el is not None:
                bad.append(f"{tc.get('name')}: {kind}: {(el.get('message') or el.text or '').strip()[:500]}")
    assert not bad, f"seed {seed}: " + "; ".join(bad) + f" (log: {test_dir / 'sim.log'})"
    return test_dir
