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


# Bench speed per test class (issue 11 item 2): real regression modules run on the bench build with the speed
# probe (tb/speedprobe.py), so the figure is what the regression pays. Targets are issue 11's, on the default
# configuration. The msix class leaves out test_reset_values (it reads every table entry of every vector,
# 25 s per pauses mode, and adds nothing the other MSI-X tests do not exercise per TLP).
SPEED_CLASSES = {
    "wq_traffic": {"module": "tb.tests.wq.test_traffic", "filter": None, "platform": None, "target": 15_000},
    "msix": {"module": "tb.tests.msix.test_msix", "filter": r"\.test_msix\.(?!test_reset_values)", "platform": None,
             "target": 25_000},
    "driver": {"module": "tb.tests.fw.test_driver_model", "filter": None, "platform": "x86", "target": 15_000},
}
SPEED_TLP_TARGET_MS = 0.2
SPEED_SEED = 1       # one seed for every run, so before and after simulate the same test


def run_speed_class(cfg, name: str, probe: Path, tag: str, extra_env: dict | None = None,
                    build_into: Path | None = None) -> dict:
    """Run speed class `name` once (simlib.run, the class's seed and filter) with tb/speedprobe.py writing to
    `probe`. Returns its figures, or {"failed": [...], "log": ...} when the probe wrote nothing. sim/speed_ab.py
    runs this same function of each tree it compares."""
    from tb.env import CLOCK_NS
    c = SPEED_CLASSES[name]
    probe.unlink(missing_ok=True)
    _, cases, log_dir = simlib.run(c["module"], cfg, seed=SPEED_SEED, platform=c["platform"], tag=tag,
                                   extra_env={"IMSDEV_SPEED_OUT": str(probe), **(extra_env or {})},
                                   test_filter=c["filter"], build_into=build_into)
    failed = [k.name for k in cases if not k.passed]
    if not probe.exists():
        return {"failed": failed or ["<no probe output>"], "log": str(log_dir)}
    p = json.loads(probe.read_text())
    cycles = round(sum(k.sim_time_ns for k in cases) / CLOCK_NS)
    cpu = p["cpu_s"]
    return {"module": c["module"], "platform": c["platform"], "tests": len(cases), "cycles": cycles,
            "cpu_s": cpu, "tlps": p["tlp_total"], "tlps_by_stream": p["tlps"],
            "cycles_per_cpu_s": round(cycles / cpu) if cpu else None,
            "cpu_ms_per_tlp": round(1000 * cpu / p["tlp_total"], 3) if p["tlp_total"] else None,
            "target_cycles_per_cpu_s": c["target"], "target_cpu_ms_per_tlp": SPEED_TLP_TARGET_MS,
            "loadavg_1m": round(os.getloadavg()[0], 2), "failed": failed, "log": str(log_dir)}


def speed_classes(cfg, before: bool = False) -> dict:
    """Per class: simulated cycles, CPU-seconds from the first test's start (tb/speedprobe.py: the simulator's
    start-up is left out), TLPs on the link, cycles per CPU-second and CPU-ms per TLP. `before`: the bench as it
    was before issue 11 item 2, side by side: every signal public (--public-flat-rw, its own build) and every
    TLP over cocotbext-pcie's simulated link (IMSDEV_DIRECT_LINK=0)."""
    into = None
    if before:
        into = simlib.BUILD_ROOT / f"{cfg.name}-allpublic"
        simlib.build(cfg, into=into, all_public=True)
    suffix = "-before" if before else ""
    return {name: run_speed_class(cfg, name, simlib.RESULTS_ROOT / f"speed-{cfg.name}-{name}{suffix}.json",
                                  tag="-speed" + suffix, extra_env={"IMSDEV_DIRECT_LINK": "0"} if before else None,
                                  build_into=into)
            for name in SPEED_CLASSES}


CEILING_MAIN = Path(__file__).resolve().parent / "ceiling" / "ceiling_main.cpp"
CEILING_CYCLES = 2_000_000


def ceiling(cfg) -> dict:
    """Cycles per CPU-second of the same RTL in a bare Verilator C++ loop (sim/ceiling/ceiling_main.cpp): the
    ceiling the cocotb bench's speed is compared with. Same Verilator, same RTL and parameters and the same
    assertion, X and C++ optimisation options as the bench build, without VPI, public signals or Python."""
    out = simlib.BUILD_ROOT / f"ceiling-{cfg.name}"
    shutil.rmtree(out, ignore_errors=True)
    simlib.use_model_opt()          # the bench build's C++ optimisation (simlib.MODEL_OPT)
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
    parser.add_argument("--speed-before", action="store_true",
                        help="also measure the test classes' speed as the bench was before issue 11 item 2 (every "
                             "signal public, every TLP over the simulated link), on the default configuration")
    parser.add_argument("--speed-only", action="store_true",
                        help="only the test classes' speed (no clean builds, no bench_perf measurements)")
    args = parser.parse_args(argv)
    names = [n for n in args.configs.split(",") if n]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown or not names:
        parser.error(f"--configs {args.configs!r}: known configurations are {', '.join(CONFIGS)}")
    report = {}
    for name, cfg in ((n, CONFIGS[n]) for n in names):
        if args.speed_only:
            simlib.build(cfg)
            data = {"config": cfg.params, "ceiling": ceiling(cfg), "speed_classes": speed_classes(cfg)}
            if args.speed_before and name == "default":
                data["speed_classes_before"] = speed_classes(cfg, before=True)
            data["load"] = {"loadavg_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
            data["failed"] = [f"{c}: {t}" for key in ("speed_classes", "speed_classes_before")
                              for c, m in data.get(key, {}).items() for t in m.get("failed", [])]
            _speed_of_ceiling(data)
            report[name] = data
            print(f"{name}: {json.dumps(data)}")
            continue
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
        classes = speed_classes(cfg)
        before = speed_classes(cfg, before=True) if args.speed_before and name == "default" else None
        failed += [f"{c}: {t}" for m in (classes, before or {}) for c in m for t in m[c].get("failed", [])]
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
        data["speed_classes"] = classes
        if before is not None:
            data["speed_classes_before"] = before
        _speed_of_ceiling(data)
        data["failed"] = failed
        report[name] = data
        print(f"{name}: {json.dumps(data)}")
    # --speed-only writes its own files, so a full report is not replaced by a partial one.
    stem = "bench-speed" if args.speed_only else "bench"
    (simlib.RESULTS_ROOT / f"{stem}.json").write_text(json.dumps(report, indent=1))
    md = render(report)
    (simlib.RESULTS_ROOT / f"{stem}.md").write_text(md)
    print(md)
    for name, what in bench_plots.plot_all(report, simlib.RESULTS_ROOT / stem).items():
        print(f"plot {name}: {what}")
    return 1 if any(r["failed"] for r in report.values()) else 0


def _speed_of_ceiling(data: dict) -> None:
    ceil = data.get("ceiling", {}).get("cycles_per_cpu_s")
    for key in ("speed_classes", "speed_classes_before"):
        for m in data.get(key, {}).values():
            if ceil and m.get("cycles_per_cpu_s"):
                m["of_ceiling"] = round(m["cycles_per_cpu_s"] / ceil, 4)


def render(report) -> str:
    rows = [("configuration", lambda r: ", ".join(f"{k}={v}" for k, v in r["config"].items())),
            ("clean Verilator build (s)", lambda r: r.get("build", {}).get("clean_build_s")),
            ("clean build with a warm ccache (s)", lambda r: r.get("build", {}).get("ccache_build_s")),
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
    # Batch throughput (bench_batch_rate): members per cycle and the share of the link limit from its own beats.
    rows.append(("BATCH of 64 B MEMMOVE members (+ records; batch record + MSI-X), 1 WQ: members/cycle "
                 "(of link limit), members per batch",
                 lambda r: (lambda d: f"{d['members_per_cycle']} ({d['ratio']:.1%}), {d['members_per_batch']}"
                            if d else None)(r.get("batch_rate"))))
    sizes = sorted({pt["members_per_batch"] for r in report.values() for pt in r.get("batch_rate", {}).get("sweep", [])})
    for size in sizes:
        rows.append((f"BATCH sweep, {size} members per batch: members/cycle (of link limit)",
                     lambda r, size=size: next((f"{pt['members_per_cycle']} ({pt['ratio']:.1%})"
                                                for pt in r.get("batch_rate", {}).get("sweep", [])
                                                if pt["members_per_batch"] == size), None)))
    # Bench speed per test class (SPEED_CLASSES): after, and before where --speed-before measured it.
    for cls, c in SPEED_CLASSES.items():
        for key, when in (("speed_classes_before", "before issue 11 item 2"), ("speed_classes", "now")):
            if not any(cls in r.get(key, {}) for r in report.values()):
                continue
            rows.append((f"{cls} ({c['module'].rsplit('.', 1)[-1]}), {when}: cycles per CPU-second / CPU-ms per TLP "
                         f"(target >= {c['target']:,} / <= {SPEED_TLP_TARGET_MS})",
                         lambda r, key=key, cls=cls: (lambda m: f"{m['cycles_per_cpu_s']:,} / {m['cpu_ms_per_tlp']} "
                                                      f"({m['tlps']} TLPs, {m['cpu_s']} CPU-s, load {m['loadavg_1m']})"
                                                      if m and m.get("cycles_per_cpu_s") else None)(
                             r.get(key, {}).get(cls))))
    names = list(report)
    lines = ["| measurement | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, get in rows:
        lines.append(f"| {label} | " + " | ".join(str(get(report[n])) for n in names) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
