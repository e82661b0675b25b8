"""Logic-depth report (sim/synth_depth.py) on a tiny captured ECP5 netlist: tests/unit/synth_depth_tiny.json is
`synth_ecp5 -json` (Yosys 0.70 from yowasp, read_slang) of the module below, reduced to its top module with the
cells' parameters and attributes dropped (only `hdlname` kept on nets). No synthesis runs.

    module tiny (input clk, we, input [3:0] wa, ra_in, input [7:0] din, output [7:0] q);
        logic [7:0] mem [16];  logic [3:0] ra_q;  logic [7:0] a_q, b_q, s_q, x_q;  logic cmp_q;
        always_ff @(posedge clk) begin
            if (we) mem[wa] <= din;
            ra_q <= ra_in;  a_q <= din;  b_q <= a_q;
            s_q   <= a_q + b_q;                          // carry chain (4 CCU2C)
            x_q   <= mem[ra_q] ^ {a_q[3:0], b_q[3:0]};   // LUT-RAM read (TRELLIS_DPR16X4), then a LUT
            cmp_q <= (s_q == x_q) && (a_q[0] | b_q[1]);
        end
        assign q = s_q ^ {7'b0, cmp_q};
    endmodule
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "sim"))

import synth_depth  # noqa: E402

NETLIST = json.loads((HERE / "synth_depth_tiny.json").read_text())


def groups(rep):
    return {(g["endpoint"], g["pin"]): g for g in rep["groups"]}


def test_cell_counts_and_no_unknown_types():
    rep = synth_depth.analyse(NETLIST)
    assert rep["top"] == "tiny"
    assert rep["cell_types"]["CCU2C"] == 4 and rep["cell_types"]["TRELLIS_DPR16X4"] == 2
    assert rep["unknown_types"] == {}


def test_register_to_register_depths():
    g = groups(synth_depth.analyse(NETLIST))
    assert g[("b_q", "DI")]["depth"] == 0                    # a wire from a_q
    s = g[("s_q", "DI")]                                       # carry chain: 1 level in, 0.1 per further cell
    assert 1.0 <= s["depth"] <= 1.4 and s["luts"] == 1 and s["bits"] == 8
    x = g[("x_q", "DI")]                                       # LUT-RAM read (1) + the XOR's LUT (1)
    assert x["depth"] == 2 and x["luts"] == 2
    assert any("TRELLIS_DPR16X4.RAD" in p for p in x["path"])
    c = g[("cmp_q", "DI")]                                     # the deepest: the 8-bit compare of two registers
    assert c["depth"] == max(gg["depth"] for gg in g.values()) and c["depth"] >= 2
    assert c["start"] in {f"{r}[{i}]" for r in ("s_q", "x_q") for i in range(8)}


def test_names_are_rtl_registers():
    g = groups(synth_depth.analyse(NETLIST))
    assert {e for e, _p in g} >= {"b_q", "s_q", "x_q", "cmp_q"}    # s_q named after itself, not the port q


def test_top_level_ports_not_timed_by_default():
    g = groups(synth_depth.analyse(NETLIST))
    assert ("a_q", "DI") not in g                              # from the input port din only
    rep = synth_depth.analyse(NETLIST, ports=True)
    gp = groups(rep)
    assert gp[("a_q", "DI")]["depth"] == 0
    assert any(e.startswith("port:q") for e, _p in gp)        # the output port as an endpoint


def test_histogram_summary_and_markdown():
    rep = synth_depth.analyse(NETLIST)
    assert sum(rep["histogram"].values()) == rep["endpoint_bits"]
    assert rep["max_depth"] == groups(rep)[("cmp_q", "DI")]["depth"]
    s = synth_depth.summary(rep, 2)
    assert len(s["worst"]) == 2 and s["worst"][0]["endpoint"] == "cmp_q"
    md = synth_depth.to_md(rep, 5)
    assert "| 1 | " in md and "`cmp_q`" in md and "## Histogram" in md


def test_probe_one_pin():
    ff = next(n for n, c in NETLIST["modules"]["tiny"]["cells"].items()
              if c["type"] == "TRELLIS_FF" and n.startswith("cmp_q"))
    rep = synth_depth.analyse(NETLIST, probes=[ff + ".DI"])
    assert rep["probes"][ff + ".DI"]["depth"] == rep["max_depth"]
