#!/usr/bin/env python3
"""Run a firmware developer's own program against the RTL (`make fw-run`, fw/README.md "Running your own
code against the RTL").

  fw_run.py --prog my_test.c   --platform x86|arm [--config small|default|wide] [--seed N] [--pauses MODE]
            [--guest posted|remapped|vits --guest-pasids 0x1234,...]
  fw_run.py --prog my_script.py --platform x86|arm ...

* C: the file defines ``int imsdev_main(const struct imsdev_ops *ops)`` (fw/lib/imsdev.h). It is compiled
  with fw/lib's sources into sim/build/fw-run/<name>.so (``cc -std=c11 -Wall -Wextra -Werror -fPIC
  -shared``; $CC overrides cc); the compiler's messages are shown as they are and a failed compilation
  stops before any simulation.
* Python: the file defines ``main(ops)``; ops is the bench's DeviceOps, what the driver model's
  ``imsdev.driver.imsdev_probe(ops)`` takes. Returning None or 0 (or ``sys.exit(0)``) is success.

The configuration is built if needed (incremental), then tb/tests/fw/user_program.py runs the program on
the chosen platform through sim/simlib.run. Printed: the program's output (printf / print) from sim.log,
the device's and the platform's errors (SWERR records, MMIO errors, VT-d IR faults, SMMU/ITS drops,
interrupts the program never took), and a summary with the replay command.

--guest runs the program inside a VM that owns the whole device (tb/vmm/assign.py, docs/vmm.md "The device in
a guest"): MSI-X table trapped as vfio-pci does (PBA mapped through), every IMS window trapped, guest RAM behind VT-d second
level / SMMUv3 stage 2; interrupts through the VMM's IRTEs (x86: posted or remapped) or host ITS events
injected through the guest's virtual ITS (ARM: vits) to the guest's vCPUs; the report adds the VM exits by
reason and what the VMM refused. --guest-pasids lists the PASIDs the guest kernel attached (x86: second level
over guest RAM; ARM: CDs in the guest's own table over stage 2): another PASID faults.

Exit status: 0 the program returned 0; 1 it failed (non-zero return, exception, crash, timeout: the
simulation failed); 2 bad arguments or a compilation error (nothing was simulated).
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import simlib  # noqa: E402
from configs import CONFIGS  # noqa: E402

MODULE = "tb.tests.fw.user_program"
# The ARM guest's CD-table size (tb/vmm/assign.py ARM_S1CDMAX), read from its one definition: importing the
# bench here would pull cocotb into an argument check.
ARM_GUEST_SSID_BITS = int(re.search(r"^ARM_S1CDMAX = (\d+)", (simlib.ROOT / "tb" / "vmm" / "assign.py").read_text(),
                                    re.M).group(1))
PLATFORMS = ("x86", "arm")
PAUSES = ("none", "idle", "backpressure", "both")
GUESTS = ("none", "posted", "remapped", "vits")
GUEST_PLATFORM = {"posted": "x86", "remapped": "x86", "vits": "arm"}
DEFAULT_CONFIG = "small"
DEFAULT_TIMEOUT_S = 600
FW = simlib.ROOT / "fw"
OUT_DIR = simlib.BUILD_ROOT / "fw-run"
# Marker lines tb/tests/fw/user_program.py prints into sim.log (keep in step with it).
OUTPUT_BEGIN = "==== fw-run: program output begin ===="
OUTPUT_END = "==== fw-run: program output end ===="
REPORT_BEGIN = "==== fw-run: device and platform report ===="
REPORT_END = "==== fw-run: end of report ===="
RESULT_FILE = "fw_run.json"

CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-O2", "-g"]
# Linked into the program's .so with -z defs: the link fails unless the program defines imsdev_main.
ENTRY_C = """/* Written by sim/fw_run.py: the link fails unless the program defines imsdev_main (fw/lib/imsdev.h). */
#include "imsdev.h"

int (*const imsdev_fw_run_entry)(const struct imsdev_ops *ops) = imsdev_main;
"""


class UsageError(Exception):
    """Bad arguments or a program that cannot run: exit 2, nothing simulated."""


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p.resolve())


def check_args(args) -> tuple[Path, str, str, int | None]:
    if not args.prog:
        raise UsageError("no program given: make fw-run PROG=<file.c|file.py> PLATFORM=<x86|arm>")
    prog = Path(args.prog)
    if prog.suffix not in (".c", ".py"):
        raise UsageError(f"PROG={args.prog}: a C source (.c, defining imsdev_main) or a Python script "
                         f"(.py, defining main(ops)) is expected")
    if not prog.is_file():
        raise UsageError(f"PROG={args.prog}: no such file (relative paths are taken from {Path.cwd()})")
    if args.platform not in PLATFORMS:
        raise UsageError(f"PLATFORM={args.platform!r}: give one of {', '.join(PLATFORMS)} "
                         f"(x86: VT-d interrupt remapping; arm: SMMU MSI window + GICv3 ITS)")
    if args.config not in CONFIGS:
        raise UsageError(f"CONFIG={args.config!r}: known configurations are {', '.join(CONFIGS)}")
    if args.pauses not in PAUSES:
        raise UsageError(f"PAUSES={args.pauses!r}: one of {', '.join(PAUSES)}")
    if args.guest not in GUESTS:
        raise UsageError(f"GUEST={args.guest!r}: one of {', '.join(GUESTS)} (how the VMM delivers the guest's "
                         f"interrupts: x86 VT-d posted or remapped IRTEs, ARM host ITS events injected "
                         f"through the guest's virtual ITS)")
    if args.guest != "none" and args.platform != GUEST_PLATFORM[args.guest]:
        raise UsageError(f"GUEST={args.guest} needs PLATFORM={GUEST_PLATFORM[args.guest]}")
    if args.guest_pasids and args.guest == "none":
        raise UsageError("GUEST_PASIDS is for a program in a guest: give GUEST=posted|remapped (x86) or "
                         "GUEST=vits (arm) too")
    for text in filter(None, args.guest_pasids.split(",")):
        try:
            value = int(text, 0)
        except ValueError:
            raise UsageError(f"GUEST_PASIDS: {text!r} is not an integer") from None
        if not 0 < value < 1 << 20:
            raise UsageError(f"GUEST_PASIDS: {text} is not a PASID (1 .. 0xFFFFF)")
        if args.guest == "vits" and value >= 1 << ARM_GUEST_SSID_BITS:
            raise UsageError(f"GUEST_PASIDS: {text} does not fit the ARM guest's linear CD table "
                             f"(SubstreamIDs 1 .. {(1 << ARM_GUEST_SSID_BITS) - 1:#x})")
    seed = None
    if args.seed not in (None, ""):
        try:
            seed = int(args.seed, 0)
        except ValueError:
            raise UsageError(f"SEED={args.seed!r} is not an integer") from None
        if not 0 < seed < 2**32:
            raise UsageError(f"SEED={args.seed!r} is out of range (1 .. 2**32-1)")
    return prog, args.platform, args.config, seed


def run_name(prog: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", prog.stem)


def compile_c(prog: Path) -> Path:
    """The program + fw/lib into sim/build/fw-run/<name>.so; the compiler's output as it is."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    name = run_name(prog)
    so, entry = OUT_DIR / f"{name}.so", OUT_DIR / f"{name}-entry.c"
    entry.write_text(ENTRY_C)
    cc = shlex.split(os.environ.get("CC") or "cc")
    cmd = (cc + CFLAGS + [f"-I{_rel(FW / 'include')}", f"-I{_rel(FW / 'lib')}", _rel(prog)]
           + [_rel(p) for p in sorted((FW / "lib").glob("*.c"))] + [_rel(entry), "-o", _rel(so), "-Wl,-z,defs"])
    print("fw-run: " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    res = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(res.stdout)
    sys.stderr.write(res.stderr)
    if res.returncode:
        hint = ""
        if re.search(r"undefined (reference|symbol).*imsdev_main", res.stderr):
            hint = ("\n  the program must define int imsdev_main(const struct imsdev_ops *ops) "
                    "(#include \"imsdev.h\"; fw/README.md)")
        raise UsageError(f"{prog}: compilation failed ({cc[0]} exit status {res.returncode}); nothing was "
                         f"simulated{hint}")
    return so


def check_python(prog: Path) -> None:
    """Syntax and a top-level main(ops), before any simulation."""
    src = prog.read_text()
    try:
        tree = ast.parse(src, filename=str(prog))
    except SyntaxError as exc:
        sys.stderr.write("".join(traceback.format_exception_only(exc)))
        raise UsageError(f"{prog}: syntax error; nothing was simulated") from None
    mains = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "main"]
    if not mains:
        raise UsageError(f"{prog}: no top-level `def main(ops):` (it gets the bench's DeviceOps, "
                         f"for imsdev.driver.imsdev_probe(ops); fw/README.md)")
    fn = mains[-1]
    if isinstance(fn, ast.AsyncFunctionDef):
        raise UsageError(f"{prog}:{fn.lineno}: main must be a plain (blocking) function, not async")
    if not (fn.args.posonlyargs or fn.args.args or fn.args.vararg):
        raise UsageError(f"{prog}:{fn.lineno}: main takes one argument, the ops: def main(ops)")


def section(lines: list[str], begin: str, end: str) -> list[str] | None:
    """Lines between the markers; to the end of the log if the end marker is missing (a crash)."""
    try:
        i = lines.index(begin)
    except ValueError:
        return None
    try:
        j = lines.index(end, i + 1)
    except ValueError:
        j = len(lines)
    return lines[i + 1:j]


def show(title: str, body: list[str]) -> None:
    print(f"---- {title} " + "-" * max(4, 72 - len(title)))
    for ln in body:
        print(ln)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prog", default="", help="the program: a .c file defining imsdev_main, or a .py file "
                                               "defining main(ops)")
    ap.add_argument("--platform", default="", help="x86 (VT-d IR) or arm (SMMU + GICv3 ITS)")
    ap.add_argument("--config", default=DEFAULT_CONFIG, help=f"RTL configuration (default {DEFAULT_CONFIG})")
    ap.add_argument("--seed", default=None, help="simulation seed (replay); a new one by default")
    ap.add_argument("--pauses", default="none", help="link idle/backpressure: none, idle, backpressure, both")
    ap.add_argument("--guest", default="none", help="run the program in a VM owning the device (x86): posted or "
                                                    "remapped interrupt delivery; none (default) runs on the host")
    ap.add_argument("--guest-pasids", default="", help="comma-separated PASIDs the guest kernel attached (GUEST)")
    ap.add_argument("--trace", action="store_true", help="keep the link models' per-access lines in sim.log")
    ap.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT_S,
                    help=f"kill the simulation after this many wall-clock seconds (default {DEFAULT_TIMEOUT_S})")
    args = ap.parse_args(argv)

    try:
        prog, platform, config, seed = check_args(args)
        so = compile_c(prog) if prog.suffix == ".c" else None
        if so is None:
            check_python(prog)
    except UsageError as exc:
        print(f"fw-run: {exc}", file=sys.stderr)
        return 2

    cfg = simlib.config(config)
    secs = simlib.build(cfg)
    print(f"fw-run: build {config}: {secs:.1f} s -> {_rel(simlib.build_dir(cfg))}")
    seed = seed if seed is not None else simlib.new_seed(f"fw_run/{config}/{platform}/{prog.name}/{args.guest}")
    where = f"{config}/{platform}" + (f" in a guest ({args.guest} interrupts)" if args.guest != "none" else "")
    print(f"fw-run: running {_rel(prog)} on {where}, seed {seed}", flush=True)
    env = {"IMSDEV_FW_PROG": str(prog.resolve()), "IMSDEV_FW_SO": str(so) if so else "",
           "IMSDEV_FW_PAUSES": args.pauses, "IMSDEV_FW_TRACE": "1" if args.trace else "0",
           "IMSDEV_FW_GUEST": args.guest, "IMSDEV_FW_GUEST_PASIDS": args.guest_pasids}
    tag = f"-{run_name(prog)}" + (f"-guest-{args.guest}" if args.guest != "none" else "")
    # what the last run of this program left must not pass for this run's result (simlib.run's directory)
    (simlib.RESULTS_ROOT / f"{cfg.name}-{MODULE.rsplit('.', 1)[-1]}-{platform}{tag}" / RESULT_FILE).unlink(
        missing_ok=True)
    t0, cpu0 = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    seed, cases, test_dir = simlib.run(MODULE, cfg, seed=seed, platform=platform, tag=tag,
                                       extra_env=env, timeout_s=args.timeout)
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    # A developer's program is not the regression: keep its hits out of `make fcov`.
    (test_dir / "coverage.json").unlink(missing_ok=True)

    log = test_dir / "sim.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    output = section(lines, OUTPUT_BEGIN, OUTPUT_END)
    rep = section(lines, REPORT_BEGIN, REPORT_END)
    if output is None:
        show("sim.log (the program never started; last lines)", lines[-40:])
    else:
        show(f"program output ({_rel(prog)})", output)
    if rep is not None:
        show("device and platform report", rep)

    result_file = test_dir / RESULT_FILE
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    ok = bool(cases) and all(c.passed for c in cases)
    replay = f"make fw-run PROG={args.prog} PLATFORM={platform} CONFIG={config} SEED={seed}" + \
        (f" PAUSES={args.pauses}" if args.pauses != "none" else "") + \
        (f" GUEST={args.guest}" if args.guest != "none" else "") + \
        (f" GUEST_PASIDS={args.guest_pasids}" if args.guest_pasids else "")
    sim_us = sum(c.sim_time_ns for c in cases) / 1000
    if result:
        what = f"{result['result']}; {len(result['swerr'])} SWERR, {len(result['faults'])} platform fault(s)"
    elif output is not None:
        what = ("the simulation ended inside the program: it crashed the simulator (segfault, exit(), abort()) "
                f"or was killed after {args.timeout} s (--timeout)")
    else:
        what = "the simulation failed before the program started"
    print("-" * 78)
    print(f"fw-run: {'PASS' if ok else 'FAIL'}  {_rel(prog)} on {where}, seed {seed}: {what}")
    if not ok:
        for c in cases:
            if not c.passed:
                print(f"  {c.name}: {c.message.splitlines()[0][:300] if c.message else 'failed'}")
    print(f"  simulated {sim_us:.1f} us in {wall:.1f} s wall, {cpu:.1f} s CPU")
    print(f"  log: {_rel(log)}")
    print(f"  replay: {replay}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
