"""The one build-and-run layer of every Verilator + cocotb bench in the project.

`make sim`, `make bench`, `make mutate`, `make coverage`, `make stress` and the block benches (tb/blocks,
tb/pcie/test) all build and run through `verilator_build()` and `cocotb_run()`:
* one Verilator build per (design, parameter set, variant) under sim/build/, reused by every run on it;
  variants are waves (FST tracing), coverage (Verilator line/branch/toggle/expression/user) and mutants (sources
  from the mutation tool's instrumented copy, every mutant selectable at run time);
* every run gets a seed (printed, replayable) that also seeds Verilator's randomised initial values
  (`--x-initial unique` + `+verilator+rand+reset+2`), so a reset bug shows up under some seeds and the
  same seed shows it again;
* results come back parsed from cocotb's results.xml, one `CaseResult` per cocotb test.

Full-chip helpers `build(cfg)` / `run(module, cfg)` wrap these for `imsdev_top` and the configurations of
sim/configs.py; tests are cocotb modules under tb/tests/, listed in sim/testplan.py.
"""
from __future__ import annotations

import hashlib
import os
import random
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from cocotb_tools.runner import VerilatorControlFile, get_runner

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "sim") not in sys.path:
    sys.path.insert(0, str(ROOT / "sim"))

from configs import CONFIGS, Config  # noqa: E402

RTL = ROOT / "rtl"
BUILD_ROOT = ROOT / "sim" / "build"
RESULTS_ROOT = ROOT / "sim" / "results"
PYCACHE_DIR = BUILD_ROOT / "pycache"
# Bytecode caches for the simulator processes, kept in the build tree, not beside the sources. With
# PYTHONDONTWRITEBYTECODE set (this workplace's shells set it) every simulator launch compiled tb/ and fw/
# from source and ran the assertion rewriter on its test module again. Set here, in this process's
# environment, because cocotb's runner lays os.environ over a run's extra_env, and once for every thread.
# An empty value is "not set" to Python.
os.environ["PYTHONDONTWRITEBYTECODE"] = ""
os.environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE_DIR)
TOPLEVEL = "imsdev_top"
# The mutation tool (sim/mutation/mutate.py) writes its instrumented copies under sim/build/<tree>/ (default
# tree "mutation"; a second campaign can run beside the first under another name).
DEFAULT_MUTANT_TREE = "mutation"
# Simulator runs that exceed this are killed (a mutant can make the device hang; a bench without a
# timeout somewhere would otherwise stall a campaign). Generous: the slowest regression module takes ~2 min.
DEFAULT_RUN_TIMEOUT_S = int(os.environ.get("IMSDEV_RUN_TIMEOUT_S", "1200"))

# The venv's `verilator` launcher (sim/tools/setup_verilator.py) must come before any system Verilator,
# also when this module is used without the Makefile's PATH.
_VENV_BIN = Path(sys.executable).parent
if (_VENV_BIN / "verilator").exists():
    os.environ["PATH"] = str(_VENV_BIN) + os.pathsep + os.environ.get("PATH", "")
os.environ.pop("VERILATOR_ROOT", None)

# cocotb's runner hands the simulator this process's sys.path as PYTHONPATH: put the bench (`tb.*`,
# repo root) and the driver side (`imsdev.*`, fw/) on it.
for _p in (str(ROOT / "fw"), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)


SEED_BASE_ENV = "SEED_BASE"


def new_seed(key: str = "") -> int:
    """A run's seed when SEED does not give one. Random (1 .. 2**31-1) unless SEED_BASE is set; with SEED_BASE
    it is derived from SEED_BASE and `key`, the run's identity (its results directory's name: module,
    configuration, platform and reseed tag), so that one SEED_BASE gives every run of a regression its own
    seed and the same seeds again on any machine. `make test` sets SEED_BASE to the commit it tests: CI's
    result on a commit is the one `make test` gives on that commit anywhere, and a failure replays from the
    printed seed either way. `make sim` on its own draws random seeds (new ones every run)."""
    base = os.environ.get(SEED_BASE_ENV, "")
    if not base:
        return random.SystemRandom().randrange(1, 2**31)
    digest = hashlib.sha256(f"{base}/{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % (2**31 - 1) + 1


def parse_seed(raw: str) -> int:
    """A SEED value: an integer (any base prefix) in 1 .. 2**32-1; ValueError saying what is wrong."""
    try:
        seed = int(raw, 0)
    except ValueError:
        raise ValueError(f"SEED={raw!r} is not an integer") from None
    if not 0 < seed < 2**32:
        raise ValueError(f"SEED={raw!r} is out of range (1 .. 2**32-1)")
    return seed


def seed_from_env() -> int | None:
    """SEED=<n> from the environment (replay), None when unset or empty; a clear error otherwise."""
    raw = os.environ.get("SEED", "")
    if raw == "":
        return None
    try:
        return parse_seed(raw)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None


def env_flag(name: str) -> bool:
    return os.environ.get(name, "0") not in ("", "0")


# ---- generic build and run ------------------------------------------------------------------------
def sources_of(*files: Path, control_files: tuple[Path, ...] = ()) -> list:
    """Verilator control files first, then packages before their users."""
    pkgs = [f for f in files if f.name.endswith("_pkg.sv")]
    return ([VerilatorControlFile(str(p)) for p in control_files]
            + [str(f) for f in pkgs + [f for f in files if f not in pkgs]])


# The C++ optimisation of the model's per-cycle code (Verilator's OPT_FAST) and its runtime (OPT_GLOBAL: the VPI
# and scheduler every callback goes through). Verilator's default, -Os, favours size; at -O2 the default
# configuration's bare C++ loop runs about 1.6 times as many cycles per CPU-second (sim/ceiling, 2026-12-04:
# 270,000-300,000 -> 410,000-490,000) and the bench's test classes take 5-15% less CPU, for the same clean
# build time (62 -> 65 CPU-s; the slow-path code, OPT_SLOW, stays unoptimised). cocotb's runner calls make
# itself with no way to pass variables, so they go in through MAKEFLAGS, where GNU make reads variable
# definitions as if given on its command line; every later make this process starts gets them too (the
# ceiling's build, so both are compiled alike).
MODEL_OPT = ("OPT_FAST=-O2", "OPT_GLOBAL=-O2")


def use_model_opt() -> None:
    flags = os.environ.get("MAKEFLAGS", "")
    missing = [d for d in MODEL_OPT if d not in flags.split()]
    if missing:
        os.environ["MAKEFLAGS"] = " ".join([flags.strip(), *missing]).strip()


def verilator_build(*, sources: list, toplevel: str, params: dict, build_dir: Path, waves: bool = False,
                    coverage: bool = False, extra_args: tuple = (), use_ccache: bool = True,
                    warnings_fatal: bool = False) -> float:
    """Build (incrementally: an unchanged build takes well under a second); returns the seconds it took."""
    if use_ccache and shutil.which("ccache"):
        os.environ["OBJCACHE"] = "ccache"
    else:
        os.environ.pop("OBJCACHE", None)
    use_model_opt()
    args = ["--assert", "--x-assign", "unique", "--x-initial", "unique", *extra_args]
    if not warnings_fatal:
        args.append("-Wno-fatal")
    if waves:
        args += ["--trace-fst", "--trace-structs"]
    if coverage:
        # line = statement blocks (v_line) + if/else and ?: arms (v_branch); expr = condition terms (v_expr)
        args += ["--coverage-line", "--coverage-toggle", "--coverage-expr", "--coverage-user",
                 "--coverage-underscore"]
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    log = build_dir / "build.log"
    try:
        get_runner("verilator").build(
            sources=sources, hdl_toplevel=toplevel, parameters=params, build_args=args,
            build_dir=str(build_dir), waves=waves, timescale=("1ns", "1ps"), log_file=str(log),
        )
    except RuntimeError as exc:
        raise BuildError(build_failure_message(log, waves)) from exc
    return time.monotonic() - t0


class BuildError(SystemExit):
    """A Verilator build failed: the message names the build log and, where it knows one, the fix."""


def build_failure_message(log: Path, waves: bool) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    lines = [f"Verilator build failed; build log: {log}"]
    errors = [ln for ln in text.splitlines() if "error" in ln.lower()][:5]
    lines += [f"  {ln.strip()}" for ln in errors]
    if "lz4.h" in text or "zlib.h" in text:
        lines.append("  The FST waveform writer needs the lz4/zlib headers (Debian: liblz4-dev, zlib1g-dev): "
                     "run `make system-deps` as root, or install them with your package manager.")
    elif waves:
        lines.append("  (a WAVES=1 build: it compiles the FST writer, which needs liblz4-dev and zlib1g-dev)")
    return "\n".join(lines)


@dataclass
class CaseResult:
    name: str
    passed: bool
    sim_time_ns: float
    wall_s: float
    message: str = ""


def cocotb_run(*, module: str, toplevel: str, build_dir: Path, test_dir: Path, seed: int,
               testcase: str | None = None, test_filter: str | None = None, extra_env: dict | None = None, plusargs: tuple = (),
               waves: bool = False, timeout_s: int | None = None) -> list[CaseResult]:
    """Run one cocotb module on a build; returns one CaseResult per cocotb test (a crash or a timeout is
    reported as a failed pseudo-test named <simulator>)."""
    test_dir = Path(test_dir)
    test_dir.mkdir(parents=True, exist_ok=True)
    results_xml = test_dir / "results.xml"
    results_xml.unlink(missing_ok=True)
    for stale in ("dump.fst", "coverage.dat"):
        (test_dir / stale).unlink(missing_ok=True)
    # pytest-style assertion rewriting only in the test modules (tb/tests/**/test_*.py): cocotb's default
    # ("*.py") rewrites every imported module at each launch (nothing is cached here), which cost about half
    # a CPU-second of each simulator start; the bench's own asserts carry their messages.
    env = {"COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "INFO"),
           "COCOTB_REWRITE_ASSERTION_FILES": os.environ.get("COCOTB_REWRITE_ASSERTION_FILES", "test_*.py"),
           **(extra_env or {})}
    timeout_s = timeout_s or DEFAULT_RUN_TIMEOUT_S
    # SIGKILL after the timeout: a hung simulation never ends the campaign or the regression.
    saved_prefix = os.environ.get("SIM_CMD_PREFIX")
    # IMSDEV_SIM_WRAPPER: a command the simulator runs under, inside the timeout (sim/speed_ab.py counts
    # instructions with valgrind's callgrind; gdb or perf work the same way).
    wrapper = os.environ.get("IMSDEV_SIM_WRAPPER", "").strip()
    os.environ["SIM_CMD_PREFIX"] = f"timeout -s KILL {timeout_s}" + (f" {wrapper}" if wrapper else "")
    try:
        get_runner("verilator").test(
            test_module=module, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog", testcase=testcase,
            test_filter=test_filter, seed=seed, build_dir=str(build_dir), test_dir=str(test_dir), results_xml=str(results_xml),
            extra_env=env, waves=waves, log_file=str(test_dir / "sim.log"),
            # Random initial values (--x-initial unique), reproducible from the seed.
            plusargs=[f"+verilator+seed+{seed}", "+verilator+rand+reset+2", *plusargs],
        )
    except (SystemExit, RuntimeError):
        pass   # the runner raises on a failing test or a killed simulator; results.xml says which
    finally:
        if saved_prefix is None:
            os.environ.pop("SIM_CMD_PREFIX", None)
        else:
            os.environ["SIM_CMD_PREFIX"] = saved_prefix
    cases = parse_results(results_xml, test_dir / "sim.log")
    if keeps_failed_log(cases, plusargs):
        keep_failed_log(test_dir, seed)
    return cases


def keeps_failed_log(cases: list[CaseResult], plusargs: tuple = ()) -> bool:
    """A run whose log is kept aside: one that failed, unless a mutant was active (those runs are meant to
    fail, and the campaign has its own records)."""
    return not all(c.passed for c in cases) and not any(a.startswith("+IMSDEV_MUTANT=") for a in plusargs)


def failed_log(test_dir: Path, seed: int) -> Path:
    return Path(test_dir) / f"sim.failed-seed{seed}.log"


def keep_failed_log(test_dir: Path, seed: int) -> Path | None:
    """Copy a failing run's sim.log (and results.xml) aside, named by its seed: the next run of the same
    test directory overwrites sim.log, and a failure that does not come back on a rerun would otherwise
    leave nothing to read. Mutant runs (which are meant to fail) keep nothing."""
    test_dir = Path(test_dir)
    log = test_dir / "sim.log"
    if not log.exists():
        return None
    kept = failed_log(test_dir, seed)
    shutil.copyfile(log, kept)
    if (test_dir / "results.xml").exists():
        shutil.copyfile(test_dir / "results.xml", kept.with_suffix(".xml"))
    return kept


def _hdl_errors(log: Path | None, limit: int = 2) -> list[str]:
    """The first RTL assertion / $error / $fatal lines of a simulation log (Verilator prints '%Error:')."""
    if log is None or not log.exists():
        return []
    found = []
    with log.open(errors="replace") as f:
        for line in f:
            if "%Error" in line or "%Fatal" in line:
                found.append(line.strip())
                if len(found) >= limit:
                    break
    return found


def parse_results(path: Path, log: Path | None = None) -> list[CaseResult]:
    hdl = _hdl_errors(log)
    if not path.exists():
        why = "the simulator crashed or was killed after its timeout"
        return [CaseResult("<simulator>", False, 0.0, 0.0,
                           f"no results file {path}: {why} (log: {log})" + "".join(f"; {e}" for e in hdl))]
    out = []
    for tc in ET.parse(path).getroot().iter("testcase"):
        failure = tc.find("failure")
        if failure is None:
            failure = tc.find("error")
        skipped = tc.find("skipped") is not None
        msg = ""
        if failure is not None:
            msg = (failure.get("message") or failure.text or "failed").strip()
            if hdl and "ended prematurely" in msg:
                msg = "; ".join(hdl) + " -- " + msg     # an RTL assertion stopped the simulation
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
    if props.get("sim_time_duration"):
        return float(props["sim_time_duration"])
    if props.get("sim_time_stop"):
        return float(props["sim_time_stop"]) - float(props.get("sim_time_start", 0) or 0)
    return float(tc.get("sim_time_ns") or 0)


# ---- the full chip (imsdev_top) ---------------------------------------------------------------------
def rtl_sources(rtl_root: Path = RTL) -> list[Path]:
    """Every RTL file, packages first (they must be compiled before their users)."""
    files = sorted(rtl_root.rglob("*.sv"))
    pkgs = [f for f in files if f.name.endswith("_pkg.sv")]
    return pkgs + [f for f in files if f not in pkgs]


def lint_configs(rtl_root: Path = RTL) -> list[Path]:
    return sorted(rtl_root.rglob("*.vlt"))


def build_dir(cfg: Config, waves: bool = False, coverage: bool = False, mutant_tree: str | None = None) -> Path:
    suffix = "" if mutant_tree is None else ("-mut" if mutant_tree == DEFAULT_MUTANT_TREE else f"-{mutant_tree}")
    return BUILD_ROOT / (cfg.name + ("-waves" if waves else "") + ("-cov" if coverage else "") + suffix)


# Only what the bench reads is public (tb/public.vlt); cocotb's runner passes --public-flat-rw, which made every
# signal public and the Verilated model about 4.5 times slower. Verilator takes the last of the two options.
PUBLIC_VLT = ROOT / "tb" / "public.vlt"
PUBLIC_ARGS = ("--no-public-flat-rw",)


def build(cfg: Config, waves: bool = False, coverage: bool = False, mutant_tree: str | None = None,
          use_ccache: bool = True, into: Path | None = None, all_public: bool = False) -> float:
    """Build one configuration of imsdev_top; `mutant_tree` builds the mutation tool's instrumented copy.
    Signals are public (VPI-visible) only where tb/public.vlt says so; `all_public` keeps cocotb's
    --public-flat-rw (every signal), for `make bench`'s before/after comparison."""
    rtl_root = RTL if mutant_tree is None else BUILD_ROOT / mutant_tree / "rtl"
    if mutant_tree is not None and not rtl_root.exists():
        raise SystemExit(f"{rtl_root} does not exist: run sim/mutation/mutate.py instrument first")
    return verilator_build(
        sources=[VerilatorControlFile(str(p)) for p in (*lint_configs(rtl_root), *(() if all_public else (PUBLIC_VLT,)))]
        + [str(p) for p in rtl_sources(rtl_root)],
        toplevel=TOPLEVEL, params=cfg.params, build_dir=into or build_dir(cfg, waves, coverage, mutant_tree),
        waves=waves, coverage=coverage, use_ccache=use_ccache, extra_args=() if all_public else PUBLIC_ARGS)


def run(module: str, cfg: Config, seed: int | None = None, testcase: str | None = None,
        platform: str | None = None, waves: bool = False, tag: str = "", coverage: bool = False,
        mutant: int | None = None, mutant_tree: str = DEFAULT_MUTANT_TREE, extra_env: dict | None = None,
        timeout_s: int | None = None, test_filter: str | None = None,
        build_into: Path | None = None) -> tuple[int, list[CaseResult], Path]:
    """Run one cocotb test module on a built configuration; returns (seed, per-test results, log dir).
    `testcase` names tests the way cocotb's runner does; `test_filter` is a COCOTB_TEST_FILTER regex
    (sim/selection.py testcase_filter() makes one that also selects parametrised tests).

    `mutant` (a mutant's number in the catalogue) runs on the build of `mutant_tree` with that mutant active;
    `build_into` runs on a build made with build(..., into=) instead of the configuration's own."""
    name = f"{cfg.name}-{module.rsplit('.', 1)[-1]}" + (f"-{platform}" if platform else "") + tag
    if seed is None:
        seed = new_seed(name + (f"-mutant{mutant}" if mutant is not None else ""))
    test_dir = RESULTS_ROOT / name
    env = {"IMSDEV_CONFIG": cfg.name, "IMSDEV_PLATFORM": platform or "", **(extra_env or {})}
    plusargs = ()
    if mutant is not None:
        env["IMSDEV_MUTANT"] = str(mutant)
        plusargs = (f"+IMSDEV_MUTANT={mutant}",)
    cases = cocotb_run(module=module, toplevel=TOPLEVEL,
                       build_dir=build_into or build_dir(cfg, waves, coverage, mutant_tree if mutant is not None else None),
                       test_dir=test_dir, seed=seed, testcase=testcase, test_filter=test_filter,
                       extra_env=env, plusargs=plusargs,
                       waves=waves, timeout_s=timeout_s)
    return seed, cases, test_dir


def config(name: str) -> Config:
    try:
        return CONFIGS[name]
    except KeyError:
        raise SystemExit(f"unknown configuration {name!r}; known: {', '.join(CONFIGS)}") from None
