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

import os
import random
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cocotb_tools.runner import VerilatorControlFile, get_runner

ROOT = Path(__file__).resolve().parents[3]
# The venv's Verilator (5.048) must win over any system one.
_VENV_BIN = Path(sys.executable).parent
if (_VENV_BIN / "verilator").exists():
    os.environ["PATH"] = str(_VENV_BIN) + os.pathsep + os.environ.get("PATH", "")
os.environ.pop("VERILATOR_ROOT", None)

TOPLEVEL = "imsdev_ims"
PARAM_SETS = [
    dict(NUM_WQ=8, IMS_PER_WQ=256, FIFO_DEPTH=4),
    dict(NUM_WQ=1, IMS_PER_WQ=16, FIFO_DEPTH=4),
]


def _tag(params: dict) -> str:
    return "ims-" + "-".join(f"{k}{v}" for k, v in params.items())


def _sources() -> list:
    rtl = ROOT / "rtl"
    files = sorted((rtl / "common").glob("*.sv")) + sorted((rtl / "ims").glob("*.sv"))
    return [VerilatorControlFile(str(rtl / "lint.vlt"))] + [str(f) for f in files]


def _run(runner, params, seed, build_dir, test_dir, results_xml, waves) -> None:
    runner.test(
        test_module="tb.blocks.ims.test_ims",
        hdl_toplevel=TOPLEVEL,
        testcase=os.environ.get("TESTCASE") or None,
        seed=seed,
        build_dir=str(build_dir),
        test_dir=str(test_dir),
        results_xml=str(results_xml),
        extra_env={
            "PYTHONPATH": os.pathsep.join([str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])),
            "IMS_NUM_WQ": str(params["NUM_WQ"]),
            "IMS_PER_WQ": str(params["IMS_PER_WQ"]),
            "IMS_FIFO_DEPTH": str(params["FIFO_DEPTH"]),
            "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "INFO"),
        },
        # Random initial values (--x-initial unique), reproducible from the seed.
        plusargs=[f"+verilator+seed+{seed}", "+verilator+rand+reset+2"],
        waves=waves,
        log_file=str(test_dir / "sim.log"),
    )


@pytest.mark.parametrize("params", PARAM_SETS, ids=_tag)
def test_block_ims(params):
    waves = os.environ.get("WAVES", "0") not in ("", "0")
    build_dir = ROOT / "sim" / "build" / "blocks" / (_tag(params) + ("-waves" if waves else ""))
    test_dir = ROOT / "sim" / "results" / "blocks" / _tag(params)
    test_dir.mkdir(parents=True, exist_ok=True)
    results_xml = test_dir / "results.xml"
    if results_xml.exists():
        results_xml.unlink()

    runner = get_runner("verilator")
    args = ["--assert", "--x-assign", "unique", "--x-initial", "unique"]
    if waves:
        args += ["--trace-fst", "--trace-structs"]
    runner.build(
        sources=_sources(),
        hdl_toplevel=TOPLEVEL,
        parameters=params,
        build_args=args,
        build_dir=str(build_dir),
        waves=waves,
        timescale=("1ns", "1ps"),
        log_file=str(build_dir / "build.log"),
    )

    seed = int(os.environ["SEED"]) if os.environ.get("SEED") else random.SystemRandom().randrange(1, 2**31)
    print(f"\n{_tag(params)}: seed {seed} (replay: SEED={seed})")
    try:
        _run(runner, params, seed, build_dir, test_dir, results_xml, waves)
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
        for tag in ("failure", "error", "skipped"):
            el = tc.find(tag)
            if el is not None:
                bad.append(f"{tc.get('name')}: {tag}: {(el.get('message') or el.text or '').strip()[:500]}")
    assert not bad, f"seed {seed}: " + "; ".join(bad) + f" (log: {test_dir / 'sim.log'})"
