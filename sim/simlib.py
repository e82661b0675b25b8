"""Build and run helpers shared by `make sim`, `make bench` and single-test runs.

One Verilator build per (configuration, waves) under sim/build/, reused by every test that runs on it.
Tests are cocotb modules under tb/tests/, listed with their configurations in sim/testplan.py.
"""
from __future__ import annotations

import os
import random
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from cocotb_tools.runner import VerilatorControlFile, get_runner

from configs import CONFIGS, Config

ROOT = Path(__file__).resolve().parent.parent
RTL = ROOT / "rtl"
BUILD_ROOT = ROOT / "sim" / "build"
RESULTS_ROOT = ROOT / "sim" / "results"
TOPLEVEL = "imsdev_top"

# The venv's `verilator` launcher (sim/tools/setup_verilator.py) must come before any system Verilator,
# also when this module is used without the Makefile's PATH.
_VENV_BIN = Path(__import__("sys").executable).parent
if (_VENV_BIN / "verilator").exists():
    os.environ["PATH"] = str(_VENV_BIN) + os.pathsep + os.environ.get("PATH", "")
os.environ.pop("VERILATOR_ROOT", None)

# cocotb's runner hands the simulator this process's sys.path as PYTHONPATH: put the bench (`tb.*`,
# repo root) and the driver side (`imsdev.*`, fw/) on it.
for _p in (str(ROOT / "fw"), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)


def rtl_sources() -> list[Path]:
    """Every RTL file, packages first (they must be compiled before their users)."""
    files = sorted(RTL.rglob("*.sv"))
    pkgs = [f for f in files if f.name.endswith("_pkg.sv")]
    return pkgs + [f for f in files if f not in pkgs]


def lint_configs() -> list[Path]:
    return sorted(RTL.rglob("*.vlt"))


def build_dir(cfg: Config, waves: bool = False) -> Path:
    return BUILD_ROOT / (cfg.name + ("-waves" if waves else ""))


def build(cfg: Config, waves: bool = False, use_ccache: bool = True) -> float:
    """Build one configuration (incremental: an unchanged build takes well under a second)."""
    if use_ccache and shutil.which("ccache"):
        os.environ["OBJCACHE"] = "ccache"
    else:
        os.environ.pop("OBJCACHE", None)
    runner = get_runner("verilator")
    args = ["--assert", "-Wno-fatal", "--x-assign", "unique", "--x-initial", "unique"]
    if waves:
        args += ["--trace-fst", "--trace-structs"]
    t0 = time.monotonic()
    runner.build(
        sources=[VerilatorControlFile(str(p)) for p in lint_configs()] + [str(p) for p in rtl_sources()],
        hdl_toplevel=TOPLEVEL,
        parameters=cfg.params,
        build_args=args,
        build_dir=str(build_dir(cfg, waves)),
        waves=waves,
        timescale=("1ns", "1ps"),
        log_file=str(build_dir(cfg, waves) / "build.log"),
    )
    return time.monotonic() - t0


@dataclass
class CaseResult:
    name: str
    passed: bool
    sim_time_ns: float
    wall_s: float
    message: str = ""


def run(module: str, cfg: Config, seed: int | None = None, testcase: str | None = None,
        platform: str | None = None, waves: bool = False, tag: str = "") -> tuple[int, list[CaseResult], Path]:
    """Run one cocotb test module on a built configuration; returns (seed, per-test results, log dir)."""
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    name = f"{cfg.name}-{module.rsplit('.', 1)[-1]}" + (f"-{platform}" if platform else "") + tag
    test_dir = RESULTS_ROOT / name
    test_dir.mkdir(parents=True, exist_ok=True)
    results_xml = test_dir / "results.xml"
    if results_xml.exists():
        results_xml.unlink()
    env = {
        "IMSDEV_CONFIG": cfg.name,
        "IMSDEV_PLATFORM": platform or "",
        "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "INFO"),
    }
    runner = get_runner("verilator")
    try:
        runner.test(
            test_module=module,
            hdl_toplevel=TOPLEVEL,
            hdl_toplevel_lang="verilog",
            testcase=testcase,
            seed=seed,
            build_dir=str(build_dir(cfg, waves)),
            test_dir=str(test_dir),
            results_xml=str(results_xml),
            extra_env=env,
            waves=waves,
            log_file=str(test_dir / "sim.log"),
        )
    except SystemExit:
        pass   # the runner exits on failing tests; the results file says which
    return seed, parse_results(results_xml), test_dir


def parse_results(path: Path) -> list[CaseResult]:
    if not path.exists():
        return [CaseResult("<simulator>", False, 0.0, 0.0, f"no results file {path}: the simulator crashed")]
    out = []
    for tc in ET.parse(path).getroot().iter("testcase"):
        failure = tc.find("failure")
        if failure is None:
            failure = tc.find("error")
        skipped = tc.find("skipped") is not None
        msg = ""
        if failure is not None:
            msg = (failure.get("message") or failure.text or "failed").strip()
        out.append(CaseResult(
            name=tc.get("name", "?"),
            passed=failure is None and not skipped,
            sim_time_ns=_sim_time_ns(tc),
            wall_s=float(tc.get("time", 0) or 0),
            message=msg if not skipped else "skipped",
        ))
    return out


def _sim_time_ns(tc) -> float:
    props = {p.get("name"): p.get("value") for p in tc.iter("property")}
    return float(props.get("sim_time_duration") or tc.get("sim_time_ns") or 0)


def config(name: str) -> Config:
    try:
        return CONFIGS[name]
    except KeyError:
        raise SystemExit(f"unknown configuration {name!r}; known: {', '.join(CONFIGS)}") from None
