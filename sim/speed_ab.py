"""Bench speed of another commit and of this tree, side by side (`make speed-ab REV=<commit>`).

On a shared machine a bench's CPU-seconds move with the other core's load and drift over hours, so two
`make bench` runs made at different times compare nothing. This runs the test classes of `sim/bench.py`
(SPEED_CLASSES: WQ traffic, MSI-X, driver model, default configuration, one seed) for REV and for the
working tree alternately, RUNS times each, and reports per class the CPU-seconds of each run (from the
first test's start, tb/speedprobe.py), the median of each side and their ratio, with the load average
beside every run. REV is checked out as a detached git worktree under sim/build/speed-ab/ and built there
(ccache makes an unchanged RTL cheap); its own bench code runs its own classes.

`--instructions` also counts the instructions of one run per side under valgrind's callgrind (about 50 times
slower): unlike CPU-seconds, that count does not depend on the machine's load. It needs valgrind and, on both
sides, a sim/simlib.py that honours IMSDEV_SIM_WRAPPER.

Writes sim/results/speed-ab.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AB_ROOT = ROOT / "sim" / "build" / "speed-ab"
RESULTS = ROOT / "sim" / "results"
CALLGRIND = "valgrind --tool=callgrind --callgrind-out-file=/dev/null --log-file={log}.%p"


class SpeedAbError(RuntimeError):
    """A side could not be measured (unknown REV, a tree without the speed classes, a failed test)."""


# ---- one run, inside a tree (the child process) ----------------------------------------------------------
def child(tree: Path, cls: str, instr_log: str | None) -> dict:
    """Run class `cls` once with `tree`'s own bench code; prints and returns its figures."""
    sys.path[:0] = [str(tree / "sim"), str(tree)]
    os.chdir(tree / "sim")
    import bench      # the tree's own
    import simlib
    classes = getattr(bench, "SPEED_CLASSES", None)
    if not classes or cls not in classes:
        raise SpeedAbError(f"{tree}: sim/bench.py has no speed class {cls!r} (known: {sorted(classes or {})})")
    if instr_log:
        if "IMSDEV_SIM_WRAPPER" not in Path(simlib.__file__).read_text():
            raise SpeedAbError(f"{tree}: its sim/simlib.py does not honour IMSDEV_SIM_WRAPPER; --instructions "
                               f"needs it on both sides")
        os.environ["IMSDEV_SIM_WRAPPER"] = CALLGRIND.format(log=instr_log)
    cfg = simlib.config("default")
    simlib.build(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.json"
        run = getattr(bench, "run_speed_class", None)
        r = run(cfg, cls, probe, tag="-speed-ab") if run else _run_class_older_tree(bench, simlib, cfg, cls, probe)
    if r.get("failed") or "cpu_s" not in r:
        raise SpeedAbError(f"{tree}: class {cls} failed ({r.get('failed') or 'no probe output'}), log {r.get('log')}")
    out = {"cpu_s": r["cpu_s"], "tlps": r["tlps"], "tests": r["tests"], "cycles": r["cycles"],
           "loadavg_1m": round(os.getloadavg()[0], 2)}
    print(json.dumps(out))
    return out


def _run_class_older_tree(bench, simlib, cfg, cls: str, probe: Path) -> dict:
    """bench.run_speed_class for a tree from before it existed: the same run and figures, in the older
    bench's own terms (its speed_classes() body)."""
    c = bench.SPEED_CLASSES[cls]
    _, cases, log_dir = simlib.run(c["module"], cfg, seed=bench.SPEED_SEED, platform=c["platform"],
                                   tag="-speed-ab", extra_env={"IMSDEV_SPEED_OUT": str(probe)},
                                   test_filter=c["filter"])
    failed = [k.name for k in cases if not k.passed]
    if not probe.exists():
        return {"failed": failed or ["<no probe output>"], "log": str(log_dir)}
    p = json.loads(probe.read_text())
    return {"cpu_s": p["cpu_s"], "tlps": p["tlp_total"], "tests": len(cases),
            "cycles": round(sum(k.sim_time_ns for k in cases) / _clock_ns()), "failed": failed,
            "log": str(log_dir)}


def _clock_ns() -> float:
    from tb.env import CLOCK_NS
    return CLOCK_NS


def callgrind_total(log_prefix: str) -> int:
    """Instructions of every process valgrind logged under `log_prefix`.<pid> (the simulator)."""
    total = 0
    for f in Path(log_prefix).parent.glob(Path(log_prefix).name + ".*"):
        m = re.search(r"Collected\s*:\s*(\d+)", f.read_text(errors="replace"))
        if m:
            total += int(m.group(1))
    return total


# ---- the comparison (the parent process) ------------------------------------------------------------------
def worktree(rev: str) -> tuple[Path, str]:
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
                         capture_output=True, text=True)
    if sha.returncode != 0:
        raise SpeedAbError(f"REV {rev!r} is not a commit of this repository: {sha.stderr.strip()}")
    sha = sha.stdout.strip()
    path = AB_ROOT / sha[:12]
    if not (path / "sim" / "bench.py").exists():
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(path), sha],
                       check=True, capture_output=True)
    venv = path / ".venv"
    if not venv.exists() and (ROOT / ".venv").exists():
        venv.symlink_to(ROOT / ".venv")       # the same pinned tools on both sides
    return path, sha


def run_side(tree: Path, cls: str, instr_log: str | None = None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(tree), "--classes", cls]
    if instr_log:
        cmd += ["--instr-log", instr_log]
    r = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        raise SpeedAbError(f"{tree} {cls}: the run failed (rc {r.returncode}): {(r.stderr or r.stdout)[-1500:]}")
    return json.loads(lines[-1])


def summarize(runs: dict) -> dict:
    """Per class and side: each run's CPU-seconds, the median, CPU-ms per TLP at the median, and the ratio
    of the working tree's median to REV's (below 1: the working tree is faster)."""
    out = {}
    for cls, sides in runs.items():
        row = {}
        for side, rs in sides.items():
            cpu = [r["cpu_s"] for r in rs]
            med = statistics.median(cpu)
            row[side] = {"cpu_s": cpu, "median_cpu_s": round(med, 3), "tlps": rs[0]["tlps"],
                         "cycles": rs[0]["cycles"], "loadavg_1m": [r["loadavg_1m"] for r in rs],
                         "cpu_ms_per_tlp": round(1000 * med / rs[0]["tlps"], 3) if rs[0]["tlps"] else None,
                         "cycles_per_cpu_s": round(rs[0]["cycles"] / med) if med else None}
        if row.get("rev", {}).get("median_cpu_s") and "tree" in row:
            row["ratio"] = round(row["tree"]["median_cpu_s"] / row["rev"]["median_cpu_s"], 3)
        out[cls] = row
    return out


def render(rev: str, sha: str, summary: dict, instr: dict) -> str:
    lines = [f"# Bench speed: {rev} ({sha[:12]}) against the working tree", "",
             "CPU-seconds from each class's first test (tb/speedprobe.py), runs alternated; median, CPU-ms per "
             "TLP and cycles per CPU-second at the median; ratio = working tree / REV.", "",
             "| class | REV runs (CPU-s) | tree runs (CPU-s) | REV median (ms/TLP) | tree median (ms/TLP) | ratio | "
             "load |", "|---|---|---|---|---|---|---|"]
    for cls, row in summary.items():
        a, b = row["rev"], row["tree"]
        load = sorted(a["loadavg_1m"] + b["loadavg_1m"])
        lines.append(f"| {cls} | {', '.join(map(str, a['cpu_s']))} | {', '.join(map(str, b['cpu_s']))} | "
                     f"{a['median_cpu_s']} ({a['cpu_ms_per_tlp']}) | {b['median_cpu_s']} ({b['cpu_ms_per_tlp']}) | "
                     f"{row.get('ratio')} | {load[0]}-{load[-1]} |")
    if instr:
        lines += ["", "Instructions of one run per side (callgrind, the simulator process, start-up included):", "",
                  "| class | REV | tree | ratio |", "|---|---|---|---|"]
        for cls, d in instr.items():
            lines.append(f"| {cls} | {d['rev']:,} | {d['tree']:,} | {round(d['tree'] / d['rev'], 3)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev", nargs="?", help="the commit to compare the working tree with")
    ap.add_argument("--runs", type=int, default=3, help="runs per side and class, alternated (default 3)")
    ap.add_argument("--classes", default="", help="comma-separated speed classes (default: all of REV's)")
    ap.add_argument("--instructions", action="store_true", help="also count instructions under callgrind")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--instr-log", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    try:
        if args.child:
            child(Path(args.child), args.classes, args.instr_log)
            return 0
        if not args.rev:
            ap.error("REV is required (e.g. make speed-ab REV=HEAD~3)")
        if args.runs < 1:
            ap.error("--runs must be at least 1")
        if args.instructions and shutil.which("valgrind") is None:
            raise SpeedAbError("--instructions needs valgrind (Debian package valgrind)")
        rev_tree, sha = worktree(args.rev)
        if args.instructions and "IMSDEV_SIM_WRAPPER" not in (rev_tree / "sim" / "simlib.py").read_text():
            raise SpeedAbError(f"{args.rev}: its sim/simlib.py does not honour IMSDEV_SIM_WRAPPER (added with "
                               f"sim/speed_ab.py); compare instructions only between commits that have it, or "
                               f"leave out --instructions")
        sys.path[:0] = [str(ROOT / "sim"), str(ROOT)]
        import bench
        classes = [c for c in args.classes.split(",") if c] or list(bench.SPEED_CLASSES)
        unknown = [c for c in classes if c not in bench.SPEED_CLASSES]
        if unknown:
            ap.error(f"--classes: unknown {unknown}; known: {', '.join(bench.SPEED_CLASSES)}")
        runs = {c: {"rev": [], "tree": []} for c in classes}
        for i in range(args.runs):
            for cls in classes:
                # alternate which side goes first, so a drift in the machine's speed favours neither
                order = (("rev", rev_tree), ("tree", ROOT)) if i % 2 == 0 else (("tree", ROOT), ("rev", rev_tree))
                for side, tree in order:
                    r = run_side(tree, cls)
                    runs[cls][side].append(r)
                    print(f"speed-ab: run {i + 1}/{args.runs} {cls} {side}: {r['cpu_s']} CPU-s, "
                          f"load {r['loadavg_1m']}", flush=True)
        instr = {}
        if args.instructions:
            with tempfile.TemporaryDirectory() as tmp:
                for cls in classes:
                    instr[cls] = {}
                    for side, tree in (("rev", rev_tree), ("tree", ROOT)):
                        log = f"{tmp}/{cls}-{side}"
                        run_side(tree, cls, instr_log=log)
                        instr[cls][side] = callgrind_total(log)
                        print(f"speed-ab: {cls} {side}: {instr[cls][side]:,} instructions", flush=True)
        summary = summarize(runs)
        report = {"rev": args.rev, "sha": sha, "runs": args.runs, "classes": summary, "instructions": instr,
                  "cpus": os.cpu_count()}
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "speed-ab.json").write_text(json.dumps(report, indent=1))
        md = render(args.rev, sha, summary, instr)
        (RESULTS / "speed-ab.md").write_text(md)
        print(md)
        return 0
    except SpeedAbError as e:
        print(f"speed-ab: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
