"""docs/bad_inputs.md is what sim/tools/bad_inputs_doc.py writes from the tests' BAD_INPUTS rows, and the
generator refuses rows it cannot stand behind: a test that does not exist, an unknown class, an empty field,
a duplicate, a value that is not a plain string."""
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "sim" / "tools"))

import bad_inputs_doc as gen  # noqa: E402
from tb.bad_inputs import CLASSES, BadInput  # noqa: E402


def test_committed_doc_is_current():
    rows = gen.collect()
    assert (ROOT / gen.OUT).read_text() == gen.render(rows), \
        "docs/bad_inputs.md is stale: run `make regen` (sim/run.py bad-inputs)"
    assert len(rows) >= 100 and {r.cls for r, _ in rows} <= set(CLASSES)


def test_every_row_names_where_its_test_runs():
    rows = gen.collect()
    for row, where in rows:
        if row.path.startswith("tests/unit/"):
            assert where == "unit (`make unit`)"
        else:
            assert where.startswith(("default", "small", "wide", "block bench")), (row.where, where)
    # test_platform_faults defines its x86 tests under `if PLATFORM == "x86":`, its ARM ones under "arm".
    faults = {r.test: w for r, w in rows if r.path == "tb/tests/platform/test_platform_faults.py"}
    assert faults and all(w.endswith("; " + t.split("_")[1]) for t, w in faults.items()), faults


def tree(tmp_path, body: str, name: str = "test_example.py", cocotb: bool = False) -> Path:
    """A repository with one pytest (or cocotb) module under tests/unit declaring `body`."""
    d = tmp_path / "tests" / "unit"
    d.mkdir(parents=True)
    (tmp_path / "tb").mkdir()
    head = "import cocotb\n\n\n@cocotb.test()\nasync def test_real(dut):\n    pass\n" if cocotb else \
        "def test_real():\n    pass\n"
    (d / name).write_text("from tb.bad_inputs import BadInput\n\n" + head + "\n\n" + textwrap.dedent(body))
    return tmp_path


ROW = 'BadInput(cls="{cls}", input="{inp}", outcome="UR", test="{test}")'


def rows_of(*rows) -> str:
    return "BAD_INPUTS = (\n" + "".join(f"    {r},\n" for r in rows) + ")\n"


def test_a_good_row_is_collected(tmp_path):
    root = tree(tmp_path, rows_of(ROW.format(cls="portal", inp="a read", test="test_real")))
    ((row, where),) = gen.collect(root)
    assert (row.cls, row.input, row.outcome, row.test, where) == ("portal", "a read", "UR", "test_real",
                                                                 "unit (`make unit`)")
    assert "| a read | UR | `tests/unit/test_example.py::test_real` |" in gen.render([(row, where)])


def test_a_row_naming_a_missing_test_is_rejected(tmp_path):
    root = tree(tmp_path, rows_of(ROW.format(cls="portal", inp="a read", test="test_missing")))
    with pytest.raises(gen.BadInputsError, match=r"test_example.py:\d+: 'test_missing' is not a pytest test"):
        gen.collect(root)


def test_a_cocotb_row_must_name_a_cocotb_test(tmp_path):
    body = "async def helper(dut):\n    pass\n\n\n" + rows_of(ROW.format(cls="portal", inp="a read", test="helper"))
    root = tree(tmp_path, body, cocotb=True)
    with pytest.raises(gen.BadInputsError, match="'helper' is not a cocotb test"):
        gen.collect(root)


def test_a_conditional_cocotb_test_decorator_counts():
    """A module-level decorator that returns cocotb.test()(f) on some builds (tb/blocks/dma's ats_test) marks a
    cocotb test; one that never calls cocotb.test does not."""
    import ast
    src = ("import cocotb\n\n\n"
           "def ats_test(f):\n    return cocotb.test()(f) if ATS else f\n\n\n"
           "def plain(f):\n    return f\n\n\n"
           "@ats_test\nasync def test_on_ats(dut):\n    pass\n\n\n"
           "@plain\nasync def test_not_one(dut):\n    pass\n\n\n"
           "@cocotb.test()\nasync def test_real(dut):\n    pass\n")
    assert sorted(gen._test_functions(ast.parse(src))) == ["test_on_ats", "test_real"]


def test_a_cocotb_module_nothing_runs_is_rejected(tmp_path):
    root = tree(tmp_path, rows_of(ROW.format(cls="portal", inp="a read", test="test_real")), cocotb=True)
    with pytest.raises(gen.BadInputsError, match="neither sim/testplan.py nor a pytest runner"):
        gen.collect(root)


def test_an_unknown_class_is_rejected(tmp_path):
    root = tree(tmp_path, rows_of(ROW.format(cls="portals", inp="a read", test="test_real")))
    with pytest.raises(gen.BadInputsError, match="unknown class 'portals'"):
        gen.collect(root)
    with pytest.raises(ValueError, match="not one of"):
        BadInput(cls="portals", input="a read", outcome="UR", test="test_real")


@pytest.mark.parametrize("body, message", [
    (rows_of(ROW.format(cls="portal", inp=" ", test="test_real")), "empty input"),
    (rows_of(ROW.format(cls="portal", inp="a read", test="test_real"),
             ROW.format(cls="portal", inp="A  read", test="test_real")), "duplicate row"),
    (rows_of('BadInput(cls="portal", input=f"{1}", outcome="UR", test="test_real")'), "plain string literal"),
    (rows_of('BadInput(cls="portal", input="a read", test="test_real")'), "exactly the fields"),
    (rows_of('BadInput("portal", "a read", "UR", "test_real")'), "by keyword"),
    ("BAD_INPUTS = [x for x in ()]\n", "must be a tuple"),
])
def test_malformed_rows_are_rejected(tmp_path, body, message):
    with pytest.raises(gen.BadInputsError, match=message):
        gen.collect(tree(tmp_path, body))


def test_check_mode_reports_a_stale_doc(tmp_path):
    root = tree(tmp_path, rows_of(ROW.format(cls="portal", inp="a read", test="test_real")))
    (root / "docs").mkdir()
    assert gen.main(["--check"], root=root) == 1            # not written yet
    assert gen.main([], root=root) == 0
    assert gen.main(["--check"], root=root) == 0
    doc = root / gen.OUT
    doc.write_text(doc.read_text().replace("a read", "a write"))
    assert gen.main(["--check"], root=root) == 1
    bad = tree(tmp_path / "bad", rows_of(ROW.format(cls="portal", inp="a read", test="test_gone")))
    (bad / "docs").mkdir()
    assert gen.main([], root=bad) == 2 and not (bad / gen.OUT).exists()
