#!/usr/bin/env python3
"""Command line for the simulation flow (called by the Makefile).

  run.py build [--config NAME] [--waves]   build RTL configurations (all used by the testplan by default)
  run.py lint                              Verilator --lint-only -Wall over all RTL, every configuration
  run.py testplan                          write docs/testplan.md from sim/testplan.py
"""
import argparse
import subprocess
import sys
import time

import simlib
from configs import CONFIGS
from testplan import TESTPLAN


def cmd_build(args) -> int:
    names = [args.config] if args.config else sorted({c for e in TESTPLAN for c in e.configs})
    for name in names:
        secs = simlib.build(simlib.config(name), waves=args.waves)
        print(f"build {name}{' (waves)' if args.waves else ''}: {secs:.1f} s -> {simlib.build_dir(simlib.config(name), args.waves)}")
    return 0


def cmd_lint(_args) -> int:
    rc = 0
    for cfg in CONFIGS.values():
        cmd = (["verilator", "--lint-only", "-Wall", "--top-module", simlib.TOPLEVEL]
               + [f"-G{k}={v}" for k, v in cfg.params.items()]
               + [str(p) for p in simlib.lint_configs()] + [str(p) for p in simlib.rtl_sources()])
        t0 = time.monotonic()
        res = subprocess.run(cmd, cwd=simlib.ROOT)
        print(f"lint {cfg.name}: {'clean' if res.returncode == 0 else 'FAILED'} ({time.monotonic() - t0:.1f} s)")
        rc |= res.returncode
    return rc


def cmd_testplan(_args) -> int:
    lines = ["# Testplan", "", "Generated from sim/testplan.py by `sim/run.py testplan`; do not edit.", "",
             "| test module | configurations | platforms | features checked |", "|---|---|---|---|"]
    for e in TESTPLAN:
        plats = ", ".join(p for p in e.platforms if p) or "-"
        lines.append(f"| `{e.module}` | {', '.join(e.configs)} | {plats} | " + "<br>".join(e.features) + " |")
    (simlib.ROOT / "docs" / "testplan.md").write_text("\n".join(lines) + "\n")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--config")
    b.add_argument("--waves", action="store_true")
    sub.add_parser("lint")
    sub.add_parser("testplan")
    args = ap.parse_args()
    return {"build": cmd_build, "lint": cmd_lint, "testplan": cmd_testplan}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
