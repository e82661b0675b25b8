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

TOPLEVEL = "imsdev_dma"
# CPL_TIMEOUT is short so that the timeout test runs quickly; the bench's completion delays stay far below.
PARAM_SETS = [
    dict(DATA_W=256, TAGS=16, BUF_BYTES=4096, CPL_TIMEOUT=3000),
    dict(DATA_W=128, TAGS=8, BUF_BYTES=2048, CPL_TIMEOUT=3000),
]
# DMA_ALL_WIDTHS=1 adds the other two data path widths (not part of the default run).
if os.environ.get("DMA_ALL_WIDTHS", "0") not in ("", "0"):
    PARAM_SETS += [
        dict(DATA_W=64, TAGS=32, BUF_BYTES=1024, CPL_TIMEOUT=3000),
        dict(DATA_W=512, TAGS=32, BUF_BYTES=8192, CPL_TIMEOUT=3000),
    ]


def _tag(params: dict) -> str:
    return "dma-" + "-".join(f"{k}{v}" for k, v in params.items())


def _sources() -> list:
    rtl = ROOT / "rtl"
    files = sorted((rtl / "common").glob("*.sv")) + [rtl / "link" / "imsdev_tlp_pkg.sv"] \
        + sorted((rtl / "dma").glob("*.sv"))
    pkgs = [f for f in files if f.name.endswith("_pkg.sv")]
    return [VerilatorControlFile(str(rtl / "lint.vlt"))] + [str(f) for f in pkgs + [f for f in files if f not in pkgs]]


@pytest.mark.parametrize("params", PARAM_SETS, ids=_tag)
def test_block_dma(params):
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
        runner.test(
            test_module="tb.blocks.dma.test_dma",
            hdl_toplevel=TOPLEVEL,
            testcase=os.environ.get("TESTCASE") or None,
            seed=seed,
            build_dir=str(build_dir),
            test_dir=str(test_dir),
            results_xml=str(results_xml),
            extra_env={
                "PYTHONPATH": os.pathsep.join([str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])),
                "DMA_DATA_W": str(params["DATA_W"]),
                "DMA_TAGS": str(params["TAGS"]),
                "DMA_BUF_BYTES": str(params["BUF_BYTES"]),
                "DMA_CPL_TIMEOUT": str(params["CPL_TIMEOUT"]),
                "DMA_RESULTS_DIR": str(test_dir),
                "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "INFO"),
            },
            # Random initial values (--x-initial unique), reproducible from the seed.
            plusargs=[f"+verilator+seed+{seed}", "+verilator+rand+reset+2"],
            waves=waves,
            log_file=str(test_dir / "sim.log"),
        )
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
