"""Every simulation check in rtl/ is armed by the first reset.

Registers power up random (+verilator+rand+reset+2) and the clock may run before any reset; Verilator's first
evaluation can even take a rising edge at time 0 with rst's power-up value (its copy of a port and the port are
randomised apart). A check that runs on that state reports a failure the design does not have: make test failed
once on a seed where imsdev_ats_xlate's stale check, guarded by `!rst` alone, met such an edge. The simulation
test (test_registers' test_clock_before_the_first_reset) draws one power-up state per run; this scan holds every
check to the rule on every run: each `assert` and each `$error` outside an assertion's else sits under an `if`
whose condition names an armed flag, a flag that powers up 0 (`initial`) and is set only by a reset
(`if (rst) F <= 1'b1;`) or follows one (`F <= G && !rst;` with G armed).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

RTL = Path(__file__).resolve().parents[2] / "rtl"

_INIT = re.compile(r"\binitial\s+(\{[^}]*\}|\w+)\s*=\s*(\d*'[bdh]0+|0)\s*;")
_SET_BY_RESET = re.compile(r"\bif\s*\(\s*rst\s*\)\s*(\w+)\s*<=\s*1'b1\s*;")
_FOLLOWS = re.compile(r"\b(\w+)\s*<=\s*(\w+)\s*&&\s*!rst\s*;")
_ASSIGN = re.compile(r"\b(\w+)\s*<=")
_CHECK = re.compile(r"(?<!else )(\bassert\s*\(|\$error\s*\()")
_IF = re.compile(r"\bif\s*\((.*)")


def _code(line: str) -> str:
    return line.split("//", 1)[0]


def armed_flags(text: str) -> set[str]:
    """Flags of a file that power up 0 and whose every assignment is `if (rst) F <= 1'b1;` or `F <= G && !rst;`
    with G armed (at least one assignment; a flag assigned any other way, e.g. at every edge, is not armed)."""
    lines = [_code(line) for line in text.splitlines()]
    zero = set()
    for line in lines:
        for m in _INIT.finditer(line):
            zero.update(n.strip() for n in m.group(1).strip("{}").split(","))
    sources: dict[str, list[str | None]] = {}      # flag -> per assignment: None (by a reset), G (follows G), ""
    for line in lines:
        by_reset, follows = _SET_BY_RESET.search(line), _FOLLOWS.search(line)
        for m in _ASSIGN.finditer(line):
            f = m.group(1)
            if by_reset and by_reset.group(1) == f:
                sources.setdefault(f, []).append(None)
            elif follows and follows.group(1) == f:
                sources.setdefault(f, []).append(follows.group(2))
            else:
                sources.setdefault(f, []).append("")
    armed: set[str] = set()
    grew = True
    while grew:
        new = {f for f in zero - armed if sources.get(f)
               and all(g is None or g in armed for g in sources[f])}
        armed |= new
        grew = bool(new)
    return armed


def unarmed_checks(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every check not under an `if` that names an armed flag of its file."""
    lines = [_code(line) for line in text.splitlines()]
    armed = armed_flags(text)
    bad = []
    for i, line in enumerate(lines):
        m = _CHECK.search(line)
        if not m or re.search(r"\$fatal", line):
            continue
        guards = []
        same = _IF.search(line[:m.start()])
        if same:
            guards.append(same.group(1))
        indent = len(line) - len(line.lstrip())
        for back in range(i - 1, -1, -1):
            prev = lines[back]
            if not prev.strip():
                continue
            ind = len(prev) - len(prev.lstrip())
            if re.search(r"\b(always_ff|always|initial|module)\b", prev) and ind < indent:
                break
            if ind < indent:
                indent = ind
                g = _IF.search(prev)
                if g:
                    guards.append(g.group(1))
        if not any(re.search(rf"(?<![!\w]){re.escape(f)}\b", g) for g in guards for f in armed):
            bad.append((i + 1, text.splitlines()[i].strip()))
    return bad


def _rtl_files():
    return sorted(RTL.rglob("*.sv"))


@pytest.mark.parametrize("path", _rtl_files(), ids=lambda p: str(p.relative_to(RTL)))
def test_every_check_is_armed_by_a_reset(path):
    bad = unarmed_checks(path.read_text())
    assert not bad, (f"{path.relative_to(RTL.parent)}: checks not under an armed flag (set only by a reset, "
                     f"initial 0): " + "; ".join(f"line {n}: {s[:100]}" for n, s in bad))


def test_the_scan_finds_checks():
    """The scan is not vacuous: it sees the checks of the files known to have them."""
    for name, at_least in (("common/imsdev_stream_check.sv", 8), ("dma/imsdev_dma_wr.sv", 10),
                           ("ats/imsdev_ats_xlate.sv", 2), ("ims/imsdev_ims.sv", 3)):
        text = (RTL / name).read_text()
        found = [i for i, line in enumerate(text.splitlines()) if _CHECK.search(_code(line))]
        assert len(found) >= at_least, f"{name}: {len(found)} checks seen"


UNARMED = {
    "guarded by !rst alone (imsdev_ats_xlate before the fix)": """
        always_ff @(posedge clk) begin
            if (!rst && take && ref_sent_q)
                assert (c_stale == ref_stale_q) else $error("stale");
        end
    """,
    "a flag set at every edge, not by a reset": """
        logic checks_on_q;
        initial checks_on_q = 1'b0;
        always_ff @(posedge clk) checks_on_q <= 1'b1;
        always_ff @(posedge clk) begin
            if (checks_on_q && !rst) assert (valid) else $error("x");
        end
    """,
    "a flag following !rst without a reset seen": """
        logic checks_on_q;
        initial checks_on_q = 1'b0;
        always_ff @(posedge clk) begin
            checks_on_q <= !rst;
            if (checks_on_q && !rst)
                assert (a == b) else $error("x");
        end
    """,
    "a flag following one that is also set at every edge": """
        logic seen_q, on_q;
        initial {seen_q, on_q} = 2'b00;
        always_ff @(posedge clk) if (rst) seen_q <= 1'b1;
        always_ff @(posedge clk) seen_q <= 1'b1;
        always_ff @(posedge clk) on_q <= seen_q && !rst;
        always_ff @(posedge clk)
            if (on_q && !rst) assert (a == b) else $error("x");
    """,
    "a flag set by a reset and also following an unarmed one": """
        logic free_q, on_q;
        initial on_q = 1'b0;
        always_ff @(posedge clk) begin
            if (rst) on_q <= 1'b1;
            on_q <= free_q && !rst;
            if (on_q && !rst) assert (a == b) else $error("x");
        end
    """,
    "an armed flag named by a sibling if, not the enclosing one": """
        logic seen_q;
        initial seen_q = 1'b0;
        always_ff @(posedge clk) begin
            if (rst) seen_q <= 1'b1;
            if (!rst)
                assert (a == b) else $error("x");
        end
    """,
    "an if (...) $error without a flag": """
        always_ff @(posedge clk) begin
            if (!rst && s1_send && !ready) $error("overflow");
        end
    """,
}

ARMED = {
    "set by a reset": """
        logic seen_q;
        initial seen_q = 1'b0;
        always_ff @(posedge clk) begin
            if (rst) seen_q <= 1'b1;
            if (seen_q && !rst)
                for (int i = 0; i < 4; i++)
                    if (v[i]) assert (a[i] == b[i]) else $error("x %0d", i);
        end
    """,
    "following a flag set by a reset, in a block of its own": """
        logic armed_q, on_q;
        initial {armed_q, on_q} = 2'b00;
        always_ff @(posedge clk) if (rst) armed_q <= 1'b1;
        always_ff @(posedge clk) on_q <= armed_q && !rst;
        always_ff @(posedge clk)
            if (on_q && !rst && s1_send && !ready) $error("overflow");
    """,
}


@pytest.mark.parametrize("case", sorted(UNARMED))
def test_the_scan_refuses(case):
    assert unarmed_checks(UNARMED[case]), case


@pytest.mark.parametrize("case", sorted(ARMED))
def test_the_scan_accepts(case):
    assert unarmed_checks(ARMED[case]) == [], case
