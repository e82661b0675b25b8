#!/usr/bin/env python3
"""Write docs/bad_inputs.md from the `BAD_INPUTS` rows of the test modules (tb/bad_inputs.py describes a row).

    python sim/tools/bad_inputs_doc.py           write docs/bad_inputs.md (also `sim/run.py bad-inputs`, `make regen`)
    python sim/tools/bad_inputs_doc.py --check   exit 1 if docs/bad_inputs.md is not what would be written

Rows are read without importing any test module (no cocotb, no simulator): every Python file under tb/ and
tests/unit/ whose text mentions BAD_INPUTS is parsed with `ast`, and its module-level
`BAD_INPUTS = (BadInput(cls=..., input=..., outcome=..., test=...), ...)` is read field by field (plain string
literals only). Each row is checked: its class is one of tb/bad_inputs.py CLASSES, no field is empty, the test
it names exists in that module (cocotb module: an `async def` decorated with `cocotb.test`; otherwise a pytest
`def test_...`), no (class, input) appears twice, and a cocotb module runs somewhere: in sim/testplan.py, or
named by a pytest runner beside it (a block bench). Any problem stops the generator with a message naming the
file, line and row.

Where each row's test runs comes from sim/testplan.py (configurations, platforms; a test defined under
`if PLATFORM == "x86":` runs on that platform only), the block bench runner, or `make unit`.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tb.bad_inputs import CLASSES  # noqa: E402  (metadata only: no cocotb)

SCAN_DIRS = ("tb", "tests/unit")
OUT = Path("docs") / "bad_inputs.md"
FIELDS = ("cls", "input", "outcome", "test")


class BadInputsError(Exception):
    """A row that cannot be published: the message names the file, line and what is wrong."""


@dataclass(frozen=True)
class Row:
    cls: str
    input: str
    outcome: str
    test: str
    path: str           # repository-relative, POSIX
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class TestFunc:
    kind: str                   # "cocotb" or "pytest"
    platform: str | None        # defined under `if PLATFORM == "<p>":`


# ------------------------------------------------------------------------------------------------ parsing
def _is_cocotb_module(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name == "cocotb" or a.name.startswith("cocotb.") for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module and (node.module == "cocotb"
                                                                 or node.module.startswith("cocotb.")):
            return True
    return False


def _is_cocotb_test_decorator(dec: ast.expr) -> bool:
    target = dec.func if isinstance(dec, ast.Call) else dec
    if isinstance(target, ast.Attribute):
        return target.attr == "test" and isinstance(target.value, ast.Name) and target.value.id == "cocotb"
    return False


def _platform_of(test: ast.expr) -> str | None:
    """`PLATFORM == "x86"` -> "x86"."""
    if (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "PLATFORM"
            and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
            and isinstance(test.comparators[0], ast.Constant) and isinstance(test.comparators[0].value, str)):
        return test.comparators[0].value
    return None


def _test_decorators(tree: ast.Module) -> set[str]:
    """Module-level functions that make their argument a cocotb test, perhaps only on some builds, e.g.
    `def ats_test(f): return cocotb.test()(f) if ATS_BUILD else f` (a test of the builds that have the block)."""
    out = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and len(node.args.args) == 1:
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return) and ret.value is not None and any(
                        isinstance(c, ast.Call) and _is_cocotb_test_decorator(c.func) for c in ast.walk(ret.value)):
                    out.add(node.name)
    return out


def _test_functions(tree: ast.Module) -> dict[str, TestFunc]:
    """Test functions defined at module level (also inside module-level `if` blocks)."""
    cocotb_module = _is_cocotb_module(tree)
    wrappers = _test_decorators(tree)
    found: dict[str, TestFunc] = {}
    factories = set()
    for node in ast.walk(tree):        # TestFactory(fn).generate_tests(): fn is a cocotb test
        if (isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))
                and (getattr(node.func, "id", None) or getattr(node.func, "attr", None)) == "TestFactory"
                and node.args and isinstance(node.args[0], ast.Name)):
            factories.add(node.args[0].id)

    def visit(body, platform):
        for node in body:
            if isinstance(node, ast.If):
                visit(node.body, _platform_of(node.test) or platform)
                visit(node.orelse, platform)
            elif isinstance(node, ast.AsyncFunctionDef) and cocotb_module:
                if any(_is_cocotb_test_decorator(d) or (isinstance(d, ast.Name) and d.id in wrappers)
                       for d in node.decorator_list) or node.name in factories:
                    found[node.name] = TestFunc("cocotb", platform)
            elif isinstance(node, ast.FunctionDef) and not cocotb_module and node.name.startswith("test"):
                found[node.name] = TestFunc("pytest", platform)
    visit(tree.body, None)
    return found


def _string_field(node: ast.expr, name: str, where: str) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    raise BadInputsError(f"{where}: BadInput {name} must be a plain string literal (no f-string, name or "
                         f"expression), got {ast.unparse(node)[:80]}")


def parse_rows(path: Path, rel: str) -> tuple[list[Row], dict[str, TestFunc], bool]:
    """The BAD_INPUTS rows of one file, its test functions, and whether it is a cocotb module."""
    tree = ast.parse(path.read_text(), filename=rel)
    rows: list[Row] = []
    seen_assign = False
    for stmt in tree.body:
        targets = []
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == "BAD_INPUTS":
            raise BadInputsError(f"{rel}:{stmt.lineno}: declare BAD_INPUTS once, as one tuple (no +=)")
        if not any(isinstance(t, ast.Name) and t.id == "BAD_INPUTS" for t in targets):
            continue
        if seen_assign:
            raise BadInputsError(f"{rel}:{stmt.lineno}: BAD_INPUTS assigned twice")
        seen_assign = True
        if not isinstance(value, (ast.Tuple, ast.List)):
            raise BadInputsError(f"{rel}:{stmt.lineno}: BAD_INPUTS must be a tuple of BadInput(...) rows")
        for elt in value.elts:
            where = f"{rel}:{elt.lineno}"
            func = elt.func if isinstance(elt, ast.Call) else None
            fname = getattr(func, "id", None) or getattr(func, "attr", None)
            if fname != "BadInput":
                raise BadInputsError(f"{where}: a BAD_INPUTS element must be a BadInput(...) call")
            if elt.args:
                raise BadInputsError(f"{where}: give BadInput fields by keyword ({', '.join(FIELDS)})")
            kw = {k.arg: k.value for k in elt.keywords}
            if set(kw) != set(FIELDS):
                raise BadInputsError(f"{where}: BadInput needs exactly the fields {', '.join(FIELDS)}, got "
                                     f"{', '.join(str(k) for k in kw)}")
            vals = {k: _string_field(kw[k], k, where) for k in FIELDS}
            rows.append(Row(**{k: " ".join(v.split()) for k, v in vals.items()}, path=rel, line=elt.lineno))
    for stmt in ast.walk(tree):      # nested assignments would be invisible to the reader of the module
        if stmt not in tree.body and isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "BAD_INPUTS" for t in stmt.targets):
            raise BadInputsError(f"{rel}:{stmt.lineno}: BAD_INPUTS must be assigned at module level")
    return rows, _test_functions(tree), _is_cocotb_module(tree)


# ------------------------------------------------------------------------------------------------ where it runs
def load_testplan(root: Path = ROOT):
    spec = importlib.util.spec_from_file_location("_bad_inputs_testplan", root / "sim" / "testplan.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {e.module: e for e in mod.TESTPLAN}


def _dotted(rel: str) -> str:
    return rel[:-3].replace("/", ".")


def _block_runner(root: Path, rel: str) -> str | None:
    """The pytest runner beside a cocotb module that is not in the testplan (a block bench): the file that
    names the module in a string literal."""
    path = root / rel
    names = {_dotted(rel), path.stem}
    for other in sorted(path.parent.glob("*.py")):
        if other == path:
            continue
        text = other.read_text()
        if any(f'"{n}"' in text or f"'{n}'" in text for n in names):
            return other.relative_to(root).as_posix()
    return None


def runs_on(root: Path, rel: str, func: TestFunc, testplan: dict) -> str:
    if func.kind == "pytest":
        return "unit (`make unit`)" if rel.startswith("tests/unit/") else f"pytest `{rel}`"
    entry = testplan.get(_dotted(rel))
    if entry is not None:
        plats = [p for p in entry.platforms if p]
        if func.platform is not None:
            plats = [p for p in plats if p == func.platform]
        return ", ".join(entry.configs) + (f"; {', '.join(plats)}" if plats else "")
    runner = _block_runner(root, rel)
    return f"block bench `{runner}` (`make blocks`)" if runner else ""


# ------------------------------------------------------------------------------------------------ collect
def collect(root: Path = ROOT, testplan: dict | None = None) -> list[tuple[Row, str]]:
    """Every row of every module under SCAN_DIRS, checked, with where its test runs; in document order."""
    testplan = load_testplan() if testplan is None else testplan
    out: list[tuple[Row, str, int]] = []
    seen: dict[tuple[str, str], Row] = {}
    for d in SCAN_DIRS:
        for path in sorted((root / d).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if "BAD_INPUTS" not in path.read_text() or rel == "tb/bad_inputs.py":
                continue
            rows, funcs, is_cocotb = parse_rows(path, rel)
            for row in rows:
                if row.cls not in CLASSES:
                    raise BadInputsError(f"{row.where}: unknown class {row.cls!r}; the classes are "
                                         f"{', '.join(CLASSES)} (tb/bad_inputs.py)")
                for k in FIELDS:
                    if not getattr(row, k):
                        raise BadInputsError(f"{row.where}: empty {k}")
                func = funcs.get(row.test)
                if func is None:
                    what = ("a cocotb test (async def decorated with cocotb.test)" if is_cocotb
                            else "a pytest test function (def test_...)")
                    raise BadInputsError(f"{row.where}: {row.test!r} is not {what} of {rel}; its tests: "
                                         f"{', '.join(sorted(funcs)) or 'none'}")
                key = (row.cls, row.input.casefold())
                if key in seen:
                    raise BadInputsError(f"{row.where}: duplicate row ({row.cls}, {row.input!r}), first at "
                                         f"{seen[key].where}")
                seen[key] = row
                where = runs_on(root, rel, func, testplan)
                if not where:
                    raise BadInputsError(f"{row.where}: {rel} is a cocotb module that neither sim/testplan.py "
                                         f"nor a pytest runner beside it runs")
                out.append((row, where, len(out)))
    order = {c: i for i, c in enumerate(CLASSES)}
    out.sort(key=lambda x: (order[x[0].cls], x[0].path, x[2]))
    return [(r, w) for r, w, _ in out]


# ------------------------------------------------------------------------------------------------ render
def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(rows: list[tuple[Row, str]]) -> str:
    by_cls = {c: [x for x in rows if x[0].cls == c] for c in CLASSES}
    lines = [
        "<!-- generated by sim/tools/bad_inputs_doc.py (sim/run.py bad-inputs, make regen); do not edit -->",
        "",
        "# Bad inputs",
        "",
        "Every bad input the device, the bench's models or the firmware kit is checked against: the input, the "
        "outcome the named test observes, and the test. Generated by `sim/run.py bad-inputs` (`make regen`) "
        "from the `BAD_INPUTS` rows that each test module declares after its tests (`tb/bad_inputs.py`: the "
        "row format and the classes); `make check-regen` fails when this file is stale. A row states only what "
        "its test asserts. Where a test runs: a cocotb module of `sim/testplan.py` on the configurations "
        "(and platforms) listed (`make sim`); a block bench by `make blocks`; unit tests by `make unit`.",
        "",
        "Names: CA/UR/RRS/SC are completion statuses; SWERR codes are `SWERR_*`, ERR codes `MMIO_ERR_*` and "
        "command errors `CMD_ERR_*` of docs/registers.md; record statuses carry their `fw/imsdev/driver/uapi.py` "
        "name; OCCUPANCY is WQCFG6.OCCUPANCY.",
        "",
        "## Summary",
        "",
        "| class | inputs | rows | test modules |",
        "|---|---|---|---|",
    ]
    for c, title in CLASSES.items():
        mods = len({r.path for r, _ in by_cls[c]})
        lines.append(f"| [{c}](#{c}) | {_cell(title)} | {len(by_cls[c])} | {mods} |")
    lines.append(f"| **total** | | {len(rows)} | {len({r.path for r, _ in rows})} |")
    for c, title in CLASSES.items():
        lines += ["", f"## {c}", "", f"{title}.", ""]
        if not by_cls[c]:
            lines.append("No rows yet.")
            continue
        lines += ["| input | outcome | test | runs on |", "|---|---|---|---|"]
        for r, where in by_cls[c]:
            lines.append(f"| {_cell(r.input)} | {_cell(r.outcome)} | `{r.path}::{r.test}` | {_cell(where)} |")
    return "\n".join(lines) + "\n"


def main(argv=None, root: Path = ROOT) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="fail if docs/bad_inputs.md is stale, write nothing")
    args = ap.parse_args(argv)
    try:
        rows = collect(root)
    except BadInputsError as exc:
        print(f"bad inputs: {exc}", file=sys.stderr)
        return 2
    text = render(rows)
    out = root / OUT
    if args.check:
        if not out.exists() or out.read_text() != text:
            print(f"{OUT} is stale: run `make regen` (sim/run.py bad-inputs)", file=sys.stderr)
            return 1
        return 0
    out.write_text(text)
    print(f"written: {OUT} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
