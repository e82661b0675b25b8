"""tb/public.vlt makes imsdev_top's ports visible to VPI, each by its exact name: inputs read-write (the bench
drives them), outputs read-only. A signal VPI may write is an input to Verilator, so a rule that also matched
an internal signal (as cfg_* once matched the registered sideband cfg_*_q) made everything computed from it
part of the input-combinational logic that the model re-evaluates at every evaluation."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TOP_SV = ROOT / "rtl" / "top" / "imsdev_top.sv"
VLT = ROOT / "tb" / "public.vlt"
RULE = re.compile(r'^public_flat_(rw|rd)\s+-module\s+"(\w+)"\s+-var\s+"([^"]+)"\s*$')


def top_ports() -> dict[str, str]:
    """imsdev_top's ANSI port list: name -> 'input' or 'output'."""
    src = TOP_SV.read_text()
    start = src.index("module imsdev_top")
    header = src[start:src.index(");", src.index("(", src.index(")", start)))]
    ports = {}
    for line in header.splitlines():
        line = line.split("//", 1)[0]
        m = re.match(r"\s*(input|output|inout)\b.*?(\w+)\s*,?\s*$", line)
        if m:
            ports[m.group(2)] = m.group(1)
    return ports


def top_rules() -> dict[str, str]:
    rules = {}
    for line in VLT.read_text().splitlines():
        m = RULE.match(line.strip())
        if m and m.group(2) == "imsdev_top":
            assert m.group(3) not in rules, f"public.vlt: {m.group(3)} listed twice"
            rules[m.group(3)] = m.group(1)
    return rules


def test_port_list_is_parsed():
    ports = top_ports()
    assert ports["clk"] == "input" and ports["tx_req_valid"] == "output" and ports["tx_req_ready"] == "input"
    assert ports["rx_req_ready"] == "output" and ports["pri_stopped"] == "output"
    assert len(ports) > 50


def test_every_port_and_nothing_else():
    ports, rules = top_ports(), top_rules()
    assert not [n for n in rules if any(c in n for c in "*?")], "imsdev_top rules must name ports exactly"
    assert sorted(set(ports) - set(rules)) == [], "ports the bench cannot see"
    assert sorted(set(rules) - set(ports)) == [], "rules naming no port of imsdev_top"


def test_inputs_read_write_outputs_read_only():
    ports, rules = top_ports(), top_rules()
    wrong = {n: (d, rules[n]) for n, d in ports.items() if rules[n] != ("rw" if d == "input" else "rd")}
    assert wrong == {}
