#!/usr/bin/env python3
"""`make bench`: performance and size numbers of the RTL, per build configuration.

Measures a clean Verilator build of each configuration (without ccache, and again with a warm one), then runs
tb/bench/bench_perf.py on it and reports: MSI-X request-to-message latency, replay throughput against the number
pending, ENQCMD acceptance against the link limit, completion-to-interrupt latency (IMS and MSI-X), the sustained
descriptor rate per transfer size and busy WQs, simulated cycles per second, the machine's load, and how they
scale from the small configuration to the max one. Writes sim/results/bench.json, sim/results/bench.md and the PNG plots
of sim/bench_plots.py in sim/results/bench/.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import bench_plots
import simlib
from configs import CONFIGS


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of every finished child process: the simulator's cost, not the wall clock."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


CEILING_MAIN = Path(__file__).resolve().parent / "ceiling" / "ceiling_main.cpp"
CEILING_CYCLES = 2_000_000


def ceiling(cfg) -> dict:
    """Cycles per CPU-second of the same RTL in a bare Verilator C++ loop (sim/ceiling/ceiling_main.cpp): the
    ceiling the cocotb bench's speed is compared with. Same Verilator, same RTL and parameters and the same
    assertion and X options as the bench build, without VPI, public signals or Python."""
    out = simlib.BUILD_ROOT / f"ceiling-{cfg.name}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", "2", "--Mdir", str(out), "--top-module", simlib.TOPLEVEL,
           "--assert", "--x-assign", "unique", "--x-initial", "unique", "-Wno-fatal", "-o", "ceiling",
           *[f"-G{k}={v}" for k, v in cfg.params.items()],
           *[str(p) for p in simlib.lint_configs()], *[str(p) for p in simlib.rtl_sources()], str(CEILING_MAIN)]
    build = subprocess.run(cmd, capture_output=True, text=True)
    if build.returncode != 0:
        (out / "build.log").parent.mkdir(parents=True, exist_ok=True)
        (out / "build.log").write_text(build.stdout + build.stderr)
        raise SystemExit(f"ceiling build failed for {cfg.name}: see {out / 'build.log'}")
    run = subprocess.run([str(out / "ceiling"), str(CEILING_CYCLES)], capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help="comma-separated configurations (default: all of sim/configs.py)")
    args = parser.parse_args(argv)
    names = [n for n in args.configs.split(",") if n]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown or not names:
        parser.error(f"--configs {args.configs!r}: known configurations are {', '.join(CONFIGS)}")
    report = {}
    for name, cfg in ((n, CONFIGS[n]) for n in names):
        clean = simlib.BUILD_ROOT / f"bench-{name}"
        shutil.rmtree(clean, ignore_errors=True)
        # A clean build in its own directory without ccache: the build time a fresh machine sees.
        build_s = simlib.build(cfg, use_ccache=False, into=clean)
        shutil.rmtree(clean, ignore_errors=True)
        simlib.build(cfg)          # the regular (incremental) build the bench runs on; it also warms ccache
        # The same clean build with that warm ccache: what an edit that touches no RTL costs a developer.
        cc_s = simlib.build(cfg, into=clean)
        shutil.rmtree(clean, ignore_errors=True)
        out = simlib.RESULTS_ROOT / f"bench-{name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        os.environ["IMSDEV_BENCH_OUT"] = str(out)
        cpu0 = _children_cpu_s()
        seed, cases, log_dir = simlib.run("tb.bench.bench_perf", cfg, tag="-bench")
        bench_cpu_s = _children_cpu_s() - cpu0
        failed = [c.name for c in cases if not c.passed]
        ceil = ceiling(cfg)
        data = json.loads(out.read_text()) if out.exists() else {}
        data["build"] = {"clean_build_s": round(build_s, 1), "ccache_build_s": round(cc_s, 1)}
        # The machine's load beside the numbers: wall-clock figures mean little on a shared machine.
        data["load"] = {"loadavg_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
                        "bench_cpu_s": round(bench_cpu_s, 1)}
        data["config"] = cfg.params
        data["ceiling"] = ceil
        speed = data.get("sim_speed", {})
        if speed.get("cycles_per_cpu_s") and ceil.get("cycles_per_cpu_s"):
            speed["of_ceiling"] = round(speed["cycles_per_cpu_s"] / ceil["cycles_per_cpu_s"], 4)
        data["failed"] = failed
        report[name] = data
        print(f"{name}: {json.dumps(data)}")
    (simlib.RESULTS_ROOT / "bench.json").write_text(json.dumps(report, indent=1))
    md = render(report)
    (simlib.RESULTS_ROOT / "bench.md").write_text(md)
    print(md)
    for name, what in bench_plots.plot_all(report, simlib.RESULTS_ROOT / "bench").items():
        print(f"plot {name}: {what}")
    return 1 if any(r["failed"] for r in report.values()) else 0


def render(report) -> str:
    rows = [("configuration", lambda r: ", ".join(f"{k}={v}" for k, v in r["config"].items())),
            ("clean Verilator build (s)", lambda r: r["build"]["clean_build_s"]),
            ("clean build with a warm ccache (s)", lambda r: r["build"].get("ccache_build_s")),
            ("load average (1 min) / CPUs", lambda r: (lambda l: f"{l['loadavg_1m']} / {l['cpus']}" if l else None)(r.get("load"))),
            ("bench CPU-seconds", lambda r: r.get("load", {}).get("bench_cpu_s")),
            ("MSI-X request -> message (cycles)", lambda r: r.get("msix_latency", {}).get("cycles")),
            ("MSI-X replay burst (messages/cycle)", lambda r: r.get("msix_replay", {}).get("messages_per_cycle")),
            ("ENQCMD acceptance (desc/cycle)", lambda r: r.get("swq_acceptance", {}).get("desc_per_cycle")),
            ("link limit (desc/cycle)", lambda r: r.get("swq_acceptance", {}).get("link_limit")),
            ("acceptance / link limit", lambda r: r.get("swq_acceptance", {}).get("ratio")),
            ("completion record -> IMS message (cycles)", lambda r: r.get("completion_to_interrupt", {}).get("ims_cycles")),
            ("completion record -> MSI-X message (cycles)", lambda r: r.get("completion_to_interrupt", {}).get("msix_cycles")),
            ("simulated cycles per second (wall)", lambda r: r.get("sim_speed", {}).get("cycles_per_s")),
            ("simulated cycles per CPU-second", lambda r: r.get("sim_speed", {}).get("cycles_per_cpu_s")),
            ("bare Verilator C++ loop, idle link: cycles per CPU-second (the ceiling)",
             lambda r: r.get("ceiling", {}).get("cycles_per_cpu_s")),
            ("bench speed / ceiling", lambda r: r.get("sim_speed", {}).get("of_ceiling"))]
    # Sustained descriptor rate (tb/bench/bench_perf.py bench_descriptor_rate): desc/cycle and the share of
    # the link limit that run derived from its own beats per descriptor.
    keys = sorted({k for r in report.values() for k in r.get("descriptor_rate", {})},
                  key=lambda k: (int(k.split("B_")[0]), int(k.split("_")[1][:-2])))
    for key in keys:
        size, wqs = key.split("B_")[0], key.split("_")[1][:-2]
        rows.append((f"MEMMOVE {size} B + record + MSI-X, {wqs} WQ(s) busy: desc/cycle (of link limit)",
                     lambda r, key=key: (lambda d: f"{d['desc_per_cycle']} ({d['ratio']:.1%})" if d else None)(
                         r.get("descriptor_rate", {}).get(key))))
    names = list(report)
    lines = ["| measurement | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, get in rows:
        lines.append(f"| {label} | " + " | ".join(str(get(report[n])) for n in names) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
