#!/usr/bin/env python3
"""`make stress SEEDS=N`: the constrained-random stress test (tb/tests/stress) over many seeds.

Seed i runs on one (configuration, platform) of default/small x x86/arm in rotation (`--matrix all`: every
seed on all four). Seeds come from SEED (the base: seed i = a deterministic function of base and i) or,
without it, from a random base that is printed, so any run can be repeated. JOBS runs in parallel.
IMSDEV_STRESS_ITEMS sets the descriptors per run (default here 600; the `make test` version uses 240).

Writes sim/results/stress/summary.json:
  {"seeds", "descriptors", "interrupts", "lost", "duplicated", "misrouted", "spurious", "failed_seeds": [...]}
(each failed seed with its config, platform, message and replay command), prints a table, and exits
non-zero on any failure or any non-zero lost/duplicated/misrouted/spurious count.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import simlib

MODULE = "tb.tests.stress.test_stress"
MATRIX = [(c, p) for c in ("default", "small") for p in ("x86", "arm")]
COUNTS_FILE = "stress_counts.json"
KEYS = ("descriptors", "interrupts", "lost", "duplicated", "misrouted", "spurious")
DEFAULT_ITEMS = 600


def derive_seed(base: int, i: int) -> int:
    """Seed i of a campaign: stable across machines and Python versions."""
    h = hashlib.sha256(f"imsdev-stress:{base}:{i}".encode()).digest()
    return int.from_bytes(h[:4], "little") % (2**31 - 1) + 1


def run_one(seed: int, cfg: str, plat: str, items: int) -> dict:
    t0 = time.monotonic()
    _, cases, log_dir = simlib.run(MODULE, simlib.config(cfg), seed=seed, platform=plat, tag=f"-s{seed}")
    row = {"seed": seed, "config": cfg, "platform": plat, "wall_s": round(time.monotonic() - t0, 1),
           "log": str((log_dir / "sim.log").relative_to(simlib.ROOT))}
    counts_path = log_dir / COUNTS_FILE
    counts = {}
    if counts_path.exists():
        try:
            counts = json.loads(counts_path.read_text())
        except json.JSONDecodeError:
            counts = {}
    for k in KEYS:
        row[k] = int(counts.get(k, 0))
    row["events"] = counts.get("events", {})
    row["sim_us"] = round(counts.get("sim_time_ns", 0) / 1000, 1)
    row["cpu_s"] = float(counts.get("cpu_s", 0))
    failed = [c for c in cases if not c.passed]
    row["passed"] = bool(cases) and not failed and bool(counts) and counts.get("passed", False) \
        and not any(row[k] for k in ("lost", "duplicated", "misrouted", "spurious"))
    if not row["passed"]:
        msg = "; ".join(f"{c.name}: {c.message[:300]}" for c in failed) or counts.get("message", "") \
            or ("no " + COUNTS_FILE if not counts else "non-zero interrupt accounting")
        msg = re.sub(r"data=bytearray\(.*?\), (?=fmt_type)", "", msg)     # TLP payloads make unreadable lines
        hdl = _hdl_error(log_dir / "sim.log")
        if hdl:
            msg = f"{hdl} | {msg}"
        row["message"] = msg
        row["replay"] = (f"IMSDEV_STRESS_ITEMS={items} IMSDEV_STRESS_FLR={os.environ['IMSDEV_STRESS_FLR']} make sim TEST=test_stress CONFIG={cfg} PLATFORM={plat} "
                         f"SEED={seed} JOBS=1")
    return row


def _hdl_error(log: Path) -> str:
    """The first %Error line of the simulator (an RTL assertion ends the run before cocotb can say why)."""
    try:
        with log.open(errors="replace") as f:
            for line in f:
                if "%Error" in line:
                    return line.strip()[:300]
    except OSError:
        pass
    return ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=int(os.environ.get("SEEDS") or 20))
    ap.add_argument("--seed", type=int, default=int(os.environ["SEED"]) if os.environ.get("SEED") else None,
                    help="base seed (default: random, printed)")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("JOBS") or 2))
    ap.add_argument("--items", type=int, default=int(os.environ.get("IMSDEV_STRESS_ITEMS") or DEFAULT_ITEMS))
    ap.add_argument("--matrix", choices=("rotate", "all"), default=os.environ.get("STRESS_MATRIX") or "rotate")
    ap.add_argument("--flr", choices=("0", "1"), default=os.environ.get("IMSDEV_STRESS_FLR") or "1",
                    help="draw FLR under load (default 1)")
    args = ap.parse_args()
    base = args.seed if args.seed is not None else simlib.new_seed("stress")
    os.environ["IMSDEV_STRESS_ITEMS"] = str(args.items)
    os.environ["IMSDEV_STRESS_FLR"] = args.flr
    os.environ.setdefault("COCOTB_LOG_LEVEL", "INFO")
    runs = []
    for i in range(args.seeds):
        seed = derive_seed(base, i)
        combos = MATRIX if args.matrix == "all" else [MATRIX[i % len(MATRIX)]]
        runs += [(seed, c, p) for c, p in combos]
    print(f"stress: {args.seeds} seeds from base SEED={base} ({len(runs)} runs, {args.items} descriptors each, "
          f"matrix {args.matrix}, FLR {'on' if args.flr == '1' else 'off'}, {args.jobs} jobs)", flush=True)
    out_dir = simlib.RESULTS_ROOT / "stress"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_one, s, c, p, args.items) for s, c, p in runs]
        for f in futures:
            row = f.result()
            rows.append(row)
            print(f"  {'PASS' if row['passed'] else 'FAIL'} seed={row['seed']:<11} {row['config']:<8} {row['platform']:<4} "
                  f"desc={row['descriptors']:<6} irq={row['interrupts']:<5} lost={row['lost']} dup={row['duplicated']} "
                  f"mis={row['misrouted']} spur={row['spurious']} sim={row['sim_us']}us cpu={row['cpu_s']}s", flush=True)
            if not row["passed"]:
                print(f"      {row['message'][:300]}\n      replay: {row['replay']}  (log: {row['log']})", flush=True)
    summary = {"seeds": args.seeds}
    for k in KEYS:
        summary[k] = sum(r[k] for r in rows)
    summary["failed_seeds"] = [{k: r[k] for k in ("seed", "config", "platform", "message", "replay", "log")}
                               for r in rows if not r["passed"]]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    events: dict = {}
    for r in rows:
        for k, v in r["events"].items():
            events[k] = events.get(k, 0) + v
    (out_dir / "runs.json").write_text(json.dumps({"base_seed": base, "items": args.items, "matrix": args.matrix,
                                                   "flr": args.flr, "events": events, "runs": rows}, indent=1) + "\n")
    print("\ncontrol events: " + ", ".join(f"{k} {v}" for k, v in sorted(events.items())))
    cpu = sum(r["cpu_s"] for r in rows)
    print()
    print("| seeds | runs | descriptors | interrupts | lost | duplicated | misrouted | spurious | failed | "
          "CPU s/run | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.seeds} | {len(rows)} | {summary['descriptors']} | {summary['interrupts']} | {summary['lost']} | "
          f"{summary['duplicated']} | {summary['misrouted']} | {summary['spurious']} | {len(summary['failed_seeds'])} | "
          f"{cpu / max(1, len(rows)):.1f} | {time.monotonic() - t0:.0f} |")
    print(f"summary: {out_dir / 'summary.json'}  (replay the campaign: make stress SEEDS={args.seeds} SEED={base})")
    bad = summary["failed_seeds"] or any(summary[k] for k in ("lost", "duplicated", "misrouted", "spurious"))
    return 1 if bad or not rows else 0


if __name__ == "__main__":
    sys.exit(main())
