#!/usr/bin/env python3
"""`make bench`: performance and size numbers of the RTL, per build configuration.

Measures a clean Verilator build of each configuration, then runs tb/bench/bench_perf.py on it and
reports: MSI-X request-to-message latency, replay throughput, ENQCMD acceptance against the link limit,
completion-to-interrupt latency (IMS and MSI-X), simulated cycles per second, and how they scale from
the small configuration to the default one. Writes sim/results/bench.json and sim/results/bench.md.
"""
import json
import os
import shutil
import sys

import simlib
from configs import CONFIGS


def main() -> int:
    report = {}
    for name, cfg in CONFIGS.items():
        clean = simlib.BUILD_ROOT / f"bench-{name}"
        shutil.rmtree(clean, ignore_errors=True)
        # A clean build in its own directory without ccache: the build time a fresh machine sees.
        build_s = simlib.build(cfg, use_ccache=False, into=clean)
        shutil.rmtree(clean, ignore_errors=True)
        simlib.build(cfg)          # the regular (incremental) build the bench runs on
        out = simlib.RESULTS_ROOT / f"bench-{name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        os.environ["IMSDEV_BENCH_OUT"] = str(out)
        seed, cases, log_dir = simlib.run("tb.bench.bench_perf", cfg, tag="-bench")
        failed = [c.name for c in cases if not c.passed]
        data = json.loads(out.read_text()) if out.exists() else {}
        data["build"] = {"clean_build_s": round(build_s, 1)}
        data["config"] = cfg.params
        data["failed"] = failed
        report[name] = data
        print(f"{name}: {json.dumps(data)}")
    (simlib.RESULTS_ROOT / "bench.json").write_text(json.dumps(report, indent=1))
    md = render(report)
    (simlib.RESULTS_ROOT / "bench.md").write_text(md)
    print(md)
    return 1 if any(r["failed"] for r in report.values()) else 0


def render(report) -> str:
    rows = [("configuration", lambda r: ", ".join(f"{k}={v}" for k, v in r["config"].items())),
            ("clean Verilator build (s)", lambda r: r["build"]["clean_build_s"]),
            ("MSI-X request -> message (cycles)", lambda r: r.get("msix_latency", {}).get("cycles")),
            ("MSI-X replay burst (messages/cycle)", lambda r: r.get("msix_replay", {}).get("messages_per_cycle")),
            ("ENQCMD acceptance (desc/cycle)", lambda r: r.get("swq_acceptance", {}).get("desc_per_cycle")),
            ("link limit (desc/cycle)", lambda r: r.get("swq_acceptance", {}).get("link_limit")),
            ("acceptance / link limit", lambda r: r.get("swq_acceptance", {}).get("ratio")),
            ("completion record -> IMS message (cycles)", lambda r: r.get("completion_to_interrupt", {}).get("ims_cycles")),
            ("completion record -> MSI-X message (cycles)", lambda r: r.get("completion_to_interrupt", {}).get("msix_cycles")),
            ("simulated cycles per second", lambda r: r.get("sim_speed", {}).get("cycles_per_s"))]
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
    sys.exit(main())
