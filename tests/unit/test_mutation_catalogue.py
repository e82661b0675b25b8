"""The mutation tool's pattern application (sim/mutation/catalogue.py): every mutant present in one copy,
selected at run time, the original behaviour kept when another mutant (or none) is active."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sim" / "mutation"))

from catalogue import CatalogueError, Mutant, instrument_text, load  # noqa: E402

SV = """module m(input logic a, input logic b, output logic y, output logic z);
    assign y = a && b;
    always_comb begin
        z = 1'b0;
        if (a) z = b;
    end
endmodule
"""


def mutant(id_, find, replace, number, mode="expr", file="rtl/x/m.sv", after=None):
    return Mutant(id=id_, file=file, find=find, replace=replace, kind="operator", description="d",
                  mode=mode, after=after, number=number)


def test_sv_expression_becomes_a_run_time_choice():
    out = instrument_text(SV, [mutant("x.and_or", "a && b", "a || b", 7)], "sv")
    assert "assign y = ((imsdev_mutant_pkg::active == 32'd7) ? (a || b) : (a && b));" in out


def test_sv_statement_mutant_keeps_the_original_in_the_else_branch():
    out = instrument_text(SV, [mutant("x.drop", "if (a) z = b;", ";", 3, mode="stmt")], "sv")
    assert "if (imsdev_mutant_pkg::active == 32'd3) begin ; end else begin if (a) z = b; end" in out


def test_mutants_of_the_same_span_are_chained():
    out = instrument_text(SV, [mutant("x.or", "a && b", "a || b", 1), mutant("x.xor", "a && b", "a ^ b", 2)], "sv")
    assert "(imsdev_mutant_pkg::active == 32'd1) ? (a || b) : (imsdev_mutant_pkg::active == 32'd2) ? (a ^ b) : (a && b)" in out


def test_partial_overlap_is_an_error():
    with pytest.raises(CatalogueError, match="overlap"):
        instrument_text(SV, [mutant("x.one", "a && b", "a", 1), mutant("x.two", "y = a", "y = b", 2)], "sv")


def test_find_must_match_exactly_once_unless_anchored():
    with pytest.raises(CatalogueError, match="occurs 0 times"):
        instrument_text(SV, [mutant("x.none", "c && d", "c", 1)], "sv")
    with pytest.raises(CatalogueError, match="occurs 2 times"):
        instrument_text(SV, [mutant("x.twice", "z = ", "z <= ", 1)], "sv")
    out = instrument_text(SV, [mutant("x.anchored", "b", "!b", 1, after="if (a) z = ")], "sv")
    assert "if (a) z = ((imsdev_mutant_pkg::active == 32'd1) ? (!b) : (b));" in out


def test_a_mutant_inside_a_simulation_only_check_is_refused():
    # a mutant must change the design: one that lands in an `ifndef SYNTHESIS check only mutates the check
    sv = SV.replace("endmodule", """`ifndef SYNTHESIS
    always_comb assert (y == (a && b && a));
`ifdef VERILATOR
    wire v = a || b || a;
`endif
`else
    wire s = a ^ b ^ a;
`endif
endmodule""")
    with pytest.raises(CatalogueError, match="simulation-only"):
        instrument_text(sv, [mutant("x.check", "a && b && a", "a", 1)], "sv")
    with pytest.raises(CatalogueError, match="simulation-only"):
        instrument_text(sv, [mutant("x.nested", "a || b || a", "a", 1)], "sv")
    # the design's copy of a pattern, and the synthesis-only `else branch, are mutated as before
    out = instrument_text(sv, [mutant("x.design", "a && b", "a || b", 1, after="assign y = ")], "sv")
    assert "assign y = ((imsdev_mutant_pkg::active == 32'd1) ? (a || b) : (a && b));" in out
    assert "32'd1" in instrument_text(sv, [mutant("x.synth", "a ^ b ^ a", "a", 1)], "sv")


PY = '''"""doc"""
from __future__ import annotations


def f(x):
    y = x + 1
    return y
'''


def test_python_expression_and_statement_mutants_select_on_the_environment():
    out = instrument_text(PY, [mutant("p.off", "x + 1", "x + 2", 5, file="tb/platform/p.py"),
                               mutant("p.drop", "return y", "return 0", 6, mode="stmt", file="tb/platform/p.py")],
                          "python")
    ns = {}
    exec(compile(out.replace("from __future__ import annotations\n", ""), "p", "exec"), ns)
    for active, expected in (("0", 2), ("5", 3), ("6", 0)):
        ns["_imsdev_mutant"] = active
        assert ns["f"](1) == expected, (active, out)
    assert out.index("from __future__") < out.index("_imsdev_mutant =")


def test_the_project_catalogue_loads_with_unique_ids_and_numbers():
    mutants = load()
    assert len({m.id for m in mutants}) == len(mutants)
    assert len({m.number for m in mutants}) == len(mutants)
    assert all(m.number > 0 for m in mutants)
