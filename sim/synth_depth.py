#!/usr/bin/env python3
"""Logic-depth report of a synthesised ECP5 netlist (yosys `synth_ecp5 -json`): for every flip-flop and RAM
input, the longest chain of combinational cells from any flip-flop / RAM output or top-level input.

    .venv/bin/python sim/synth_depth.py sim/results/synth/small/ecp5.json [--top 40] [--md out.md] [--json out.json]

sim/synth.py runs it after every ECP5 synthesis (sim/results/synth/<config>/depth.md, depth.json, and the
histogram and the worst endpoints in summary.json). nextpnr reports only the worst path per clock, and a
place and route takes 10-20 CPU-minutes; this report lists every deep cone after a synthesis of a few minutes.

Cost model ("levels", one unit = one routed LUT level: every reported path of the small configuration is
about 80% routing, so a level is counted per routed hop, not per logic delay):
  LUT4                      1 per input -> Z
  PFUMX  ALUT/BLUT -> Z     0.25 (the slice's own mux after its two LUTs, no routing); C0 -> Z 1 (routed select)
  L6MUX21  D0/D1 -> Z       0.25 (inside the slice pair); SD -> Z 1
  CCU2C  A/B/C/D -> S/COUT  1 (the routed entry into the carry chain); CIN -> S/COUT 0.1 per cell (the dedicated
                            ripple: a 32-bit compare = 16 cells = 1 + 1.5 levels)
  TRELLIS_DPR16X4 RAD -> DO 1 (the asynchronous read is a LUT read); its contents are state, so DO also starts
                            at 0; DI / WAD / WRE are endpoints
  DP16KD                    outputs are start points (synchronous read), inputs endpoints
  TRELLIS_FF                Q a start point; DI, M, CE, LSR endpoints (CE and LSR listed apart from the data)
Unknown cell types are treated as sequential (outputs start, inputs end) and counted in "unknown_types".
"luts" beside a depth is the number of LUT4 (incl. CCU2C entries and LUT-RAM reads) on that worst path.

Names: a flip-flop's endpoint is named after the RTL net its Q drives (`u_dma.u_wr.done_lo_q[3]`), grouped
per register and pin; the cells of a path are shown by the RTL net they drive where the netlist kept one
(netnames with an `hdlname`), else by the RTL prefix of yosys's generated cell name (`u_dma.u_wr.lk_priv~`).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

# (input port or port prefix, output ports, cost, counts as a LUT) per combinational cell type.
ARCS = {
    "LUT4": [(p, ("Z",), 1.0, 1) for p in "ABCD"],
    "PFUMX": [("ALUT", ("Z",), 0.25, 0), ("BLUT", ("Z",), 0.25, 0), ("C0", ("Z",), 1.0, 0)],
    "L6MUX21": [("D0", ("Z",), 0.25, 0), ("D1", ("Z",), 0.25, 0), ("SD", ("Z",), 1.0, 0)],
    "CCU2C": ([(p + "0", ("S0", "S1", "COUT"), 1.0, 1) for p in "ABCD"]
              + [(p + "1", ("S1", "COUT"), 1.0, 1) for p in "ABCD"]
              + [("CIN", ("S0", "S1", "COUT"), 0.1, 0)]),
    "TRELLIS_DPR16X4": [("RAD", ("DO",), 1.0, 1)],
}
# Ports that are neither data endpoints nor start points.
CLOCK_PORTS = {"CLK", "WCK", "CLKA", "CLKB"}
CONST = {"0", "1", "x", "z"}
GEN = re.compile(r"(_TRELLIS_FF_Q|_LUT4_|_PFUMX_|_L6MUX21_|_CCU2C_|_TRELLIS_DPR16X4|\$).*$")


def _top(netlist: dict) -> tuple[str, dict]:
    for name, m in netlist["modules"].items():
        if str(m.get("attributes", {}).get("top", "0")).strip("0") != "":
            return name, m
    sys.exit("synth_depth: no top module (attribute top) in the netlist")


def _bit_names(mod: dict) -> dict[int, tuple[int, str]]:
    """bit -> (rank, name): the best name of every net bit; rank 0 = an RTL net (hdlname), 1 = a top-level port
    (an RTL register driving an output keeps its own name), 2 = a readable generated name, 3 = anything else.
    Shorter names win within a rank."""
    best: dict[int, tuple[int, str]] = {}
    ports = set(mod.get("ports", {}))
    for name, n in mod["netnames"].items():
        attrs = n.get("attributes", {})
        rank = (0 if name not in ports else 1) if "hdlname" in attrs else (3 if ("$" in name or GEN.search(name)) else 2)
        bits = n["bits"]
        off = int(n.get("offset", 0))
        upto = bool(n.get("upto", 0))
        for i, b in enumerate(bits):
            if isinstance(b, str):
                continue
            idx = (off + len(bits) - 1 - i) if upto else (off + i)
            label = name if len(bits) == 1 else f"{name}[{idx}]"
            cur = best.get(b)
            key = (rank, len(label))
            if cur is None or key < (cur[0], len(cur[1])):
                best[b] = (rank, label)
    return best


def _short(cell: str) -> str:
    """The RTL prefix of a generated cell name: `u_dma.u_wr.lk_priv_LUT4_B_Z_...` -> `u_dma.u_wr.lk_priv~`."""
    s = GEN.sub("", cell)
    return (s + "~") if s != cell else cell


NONE = float("-inf")     # no start point behind this bit (a constant; a top-level input unless ports=True)


def analyse(netlist: dict, ports: bool = False, probes: list[str] = ()) -> dict:
    """ports=False (default, as nextpnr's out-of-context timing): paths from top-level inputs and into
    top-level outputs are not counted."""
    top_name, mod = _top(netlist)
    names = _bit_names(mod)
    cells = mod["cells"]
    # driver: bit -> (cell, out port)  for combinational outputs; start: bit -> start label
    comb_in: dict[tuple[str, str], list] = {}        # (cell, out port) -> [(in bits, cost, lut)]
    driver: dict[int, tuple[str, str, int]] = {}
    start: dict[int, str] = {}
    endpoints: list[tuple[str, str, int, str]] = []  # (cell, pin, bit, kind)
    unknown: Counter = Counter()
    types: Counter = Counter()
    in_ports: set = set()
    for pname, p in mod["ports"].items():
        if p["direction"] in ("input", "inout"):
            for i, b in enumerate(p["bits"]):
                if not isinstance(b, str):
                    start[b] = f"port:{pname}" + (f"[{i}]" if len(p["bits"]) > 1 else "")
                    in_ports.add(b)
    for cname, c in cells.items():
        t = c["type"]
        types[t] += 1
        conns, dirs = c["connections"], c.get("port_directions", {})
        arcs = ARCS.get(t)
        if arcs is not None:
            for port, bits in conns.items():
                if dirs.get(port) == "output":
                    for i, b in enumerate(bits):
                        if not isinstance(b, str):
                            driver[b] = (cname, port, i)
            for inp, outs, cost, lut in arcs:
                bits = conns.get(inp, [])
                for o in outs:
                    comb_in.setdefault((cname, o), []).append((bits, cost, lut))
            if t == "TRELLIS_DPR16X4":      # write side: endpoints; contents: state (DO starts at 0 as well)
                for port in ("DI", "WAD", "WRE"):
                    for i, b in enumerate(conns.get(port, [])):
                        endpoints.append((cname, port, b, "ram"))
            continue
        if t not in ("TRELLIS_FF", "DP16KD"):
            unknown[t] += 1
        for port, bits in conns.items():
            if port in CLOCK_PORTS:
                continue
            d = dirs.get(port)
            for i, b in enumerate(bits):
                if d == "output":
                    if not isinstance(b, str):
                        start[b] = cname
                elif d == "input":
                    endpoints.append((cname, port if t == "TRELLIS_FF" else re.sub(r"\d+$", "", port), b,
                                      "ff" if t == "TRELLIS_FF" else "ram"))
    if ports:
        for pname, p in mod["ports"].items():
            if p["direction"] in ("output", "inout"):
                for i, b in enumerate(p["bits"]):
                    endpoints.append((f"port:{pname}", "OUT", b, "port"))

    # arrival(bit) = (depth, luts, pred bit, via cell); iterative DFS with memo.
    arr: dict = {}

    def arrival(b0):
        if isinstance(b0, str):
            return (NONE, 0, None, None)
        if b0 in arr:
            return arr[b0]
        stack = [b0]
        onstack = set()
        while stack:
            b = stack[-1]
            if b in arr:
                stack.pop()
                continue
            if b not in driver:
                arr[b] = ((NONE if (b in in_ports and not ports) else 0.0), 0, None, None)
                stack.pop()
                continue
            cname, port, i = driver[b]
            ins = comb_in.get((cname, port), [])
            pend = []
            for bits, _cost, _lut in ins:
                # a vector input (RAD) feeds every output bit; a scalar input likewise
                for ib in bits:
                    if not isinstance(ib, str) and ib not in arr:
                        pend.append(ib)
            if pend and b not in onstack:
                onstack.add(b)
                stack.extend(x for x in pend if x not in onstack)
                continue
            best = (NONE, 0, None, cname)
            for bits, cost, lut in ins:
                for ib in bits:
                    if isinstance(ib, str):
                        continue
                    a = arr.get(ib, (NONE, 0, None, None))     # a combinational loop: cut here
                    d = a[0] + cost
                    if d > best[0]:
                        best = (round(d, 3), a[1] + lut, ib, cname)
            if cells[cname]["type"] == "TRELLIS_DPR16X4" and best[0] < 0:
                best = (0.0, 0, None, cname)          # the RAM's contents: state
            arr[b] = best
            onstack.discard(b)
            stack.pop()
        return arr[b0]

    def label(b):
        return names.get(b, (4, f"bit{b}"))[1] if not isinstance(b, str) else b

    def path(b):
        """[(name, cell type)] from the start point to bit b."""
        out = []
        seen = set()
        while b is not None and not isinstance(b, str) and b not in seen:
            seen.add(b)
            d, lut, pred, cname = arrival(b)
            rank, nm = names.get(b, (4, f"bit{b}"))
            if cname is None or b in start and pred is None:
                out.append((nm if rank <= 2 else start.get(b, nm), "start"))
                break
            t = cells[cname]["type"]
            pin = next((pp for pp, bb in cells[cname]["connections"].items() if pred in bb), "?")
            out.append((nm if rank <= 1 else _short(cname), f"{t}.{pin} @{d:g}"))
            if pred is None:          # a LUT-RAM's contents
                break
            b = pred
        return list(reversed(out))

    # Q bit of each FF -> register name
    ffname: dict[str, str] = {}
    for cname, c in cells.items():
        if c["type"] == "TRELLIS_FF":
            q = c["connections"].get("Q", [None])[0]
            ffname[cname] = label(q) if q is not None else cname

    rows = []
    unreached = 0
    for cname, pin, b, kind in endpoints:
        d, lut, _pred, _via = arrival(b)
        if d == NONE:
            unreached += 1
            continue
        if kind == "ff":
            ep = ffname[cname]
        elif kind == "ram":
            ep = re.sub(r"(\.mem)(\.\d+)+$", r"\1", cname) if ".mem." in cname else _short(cname)
        else:
            ep = cname
        rows.append((d, lut, ep, pin, b, kind))

    hist = Counter(int(r[0]) for r in rows)
    groups: dict[tuple[str, str], dict] = {}
    for d, lut, ep, pin, b, kind in rows:
        base = re.sub(r"\[\d+\]", "", ep)
        g = groups.get((base, pin))
        if g is None or d > g["depth"]:
            g = dict(endpoint=base, pin=pin, kind=kind, depth=d, luts=lut, worst_bit=ep, bit=b,
                     bits=(g["bits"] if g else 0))
            groups[(base, pin)] = g
        g["bits"] += 1
    probed = {}
    for pr in probes:                     # "cell.PIN": the depth at one cell pin (checks against nextpnr's paths)
        cname, pin = pr.rsplit(".", 1)
        if cname in cells and pin in cells[cname]["connections"]:
            bs = [b for b in cells[cname]["connections"][pin] if not isinstance(b, str)]
            if bs:
                b = max(bs, key=lambda x: arrival(x)[0])
                d, lut, _p, _c = arrival(b)
                probed[pr] = dict(depth=d, luts=lut, path=[f"{n} ({t})" if t != "start" else n for n, t in path(b)])
    top = sorted(groups.values(), key=lambda g: (-g["depth"], g["endpoint"], g["pin"]))
    for g in top[:200]:
        p = path(g.pop("bit"))
        g["start"] = p[0][0] if p else None
        g["path"] = [f"{n} ({t})" if t != "start" else n for n, t in p]
        g["rtl"] = [n for n, t in p if not n.endswith("~")]
    for g in top[200:]:
        g.pop("bit", None)
    return dict(top=top_name, cost_model=dict(LUT4=1, PFUMX_mux=0.25, PFUMX_select=1, L6MUX21_mux=0.25,
                                              L6MUX21_select=1, CCU2C_entry=1, CCU2C_carry_per_cell=0.1,
                                              DPR16X4_read=1),
                cell_types=dict(types), unknown_types=dict(unknown), endpoint_bits=len(rows),
                unreached_bits=unreached, ports=ports,
                max_depth=max((r[0] for r in rows), default=0),
                histogram={str(k): hist[k] for k in sorted(hist)}, groups=top, probes=probed)


def summary(rep: dict, n: int = 10) -> dict:
    """The headline for summary.json: max depth, histogram, the n worst endpoint groups (no paths)."""
    return dict(max_depth=rep["max_depth"], endpoint_bits=rep["endpoint_bits"], histogram=rep["histogram"],
                worst=[{k: g[k] for k in ("endpoint", "pin", "depth", "luts", "bits", "start")}
                       for g in rep["groups"][:n]])


def to_md(rep: dict, n: int = 40, title: str = "Logic depth (sim/synth_depth.py)") -> str:
    cm = rep["cost_model"]
    out = [f"# {title}", "",
           f"Top `{rep['top']}`, {rep['endpoint_bits']} endpoint bits. Depth in routed LUT levels: LUT4 "
           f"{cm['LUT4']}, PFUMX/L6MUX21 mux {cm['PFUMX_mux']} (select {cm['PFUMX_select']}), CCU2C entry "
           f"{cm['CCU2C_entry']} + {cm['CCU2C_carry_per_cell']} per carry cell, LUT-RAM read {cm['DPR16X4_read']}; "
           "`luts` = LUT4 on the worst path.", "",
           "## Histogram (endpoint bits per whole level)", "", "| depth | bits |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in rep["histogram"].items()]
    if rep["unknown_types"]:
        out += ["", f"Cell types treated as sequential: {rep['unknown_types']}"]
    out += ["", f"## Worst {n} cones (endpoints per register and pin; registers with the same worst path merged)", "",
            "| # | depth | luts | endpoint (worst bit) | pin | bits | start | path (RTL nets; `~` = generated cell of that "
            "prefix) |", "|---|---|---|---|---|---|---|---|"]
    for i, c in enumerate(cones(rep)[:n], 1):
        g = c[0]
        more = (f" and {len(c) - 1} more: " + ", ".join(f"`{x['endpoint']}`" for x in c[1:6])
                + (", ..." if len(c) > 6 else "")) if len(c) > 1 else ""
        p = " -> ".join(_dedup([x.split(" (")[0] for x in g.get("path", [])]))
        out.append(f"| {i} | {g['depth']:.2f} | {g['luts']} | `{g['worst_bit']}`{more} | {g['pin']} | "
                   f"{sum(x['bits'] for x in c)} | `{g.get('start')}` | {p} |")
    return "\n".join(out) + "\n"


def cones(rep: dict) -> list[list[dict]]:
    """The listed endpoint groups merged by identical worst path (one enable into many registers), worst first."""
    out: dict = {}
    for g in rep["groups"]:
        if "path" not in g:
            break
        out.setdefault((g["depth"], g["pin"], tuple(g["path"][:-2])), []).append(g)
    return list(out.values())


def _dedup(xs):
    out = []
    for x in xs:
        if not out or out[-1] != x:
            out.append(x)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("netlist", type=Path)
    ap.add_argument("--top", type=int, default=40, help="endpoint groups listed (default 40)")
    ap.add_argument("--md", type=Path, help="write the Markdown report here (default: stdout)")
    ap.add_argument("--json", type=Path, help="write the full report as JSON here")
    ap.add_argument("--endpoint", help="print the worst path into endpoints matching this regex")
    args = ap.parse_args(argv)
    rep = analyse(json.loads(args.netlist.read_text()))
    if args.json:
        args.json.write_text(json.dumps(rep, indent=1) + "\n")
    if args.endpoint:
        for g in rep["groups"]:
            if re.search(args.endpoint, f"{g['endpoint']}.{g['pin']}") and "path" in g:
                print(f"{g['depth']:.2f} ({g['luts']} LUTs) {g['worst_bit']}.{g['pin']}:")
                print("  " + "\n  ".join(g["path"]))
        return 0
    md = to_md(rep, args.top)
    if args.md:
        args.md.write_text(md)
    else:
        print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
