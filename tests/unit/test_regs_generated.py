"""The register map outputs generated from regs/imsdev.rdl: current, consistent with the RDL and with
each other (Python, C, SystemVerilog), and laid out as the PCIe spec and the product brief require.
No simulator needed."""
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REGEN = ROOT / "sim" / "tools" / "regen.py"
HEADER = ROOT / "fw" / "include" / "imsdev_regs.h"
MAP_PKG = ROOT / "rtl" / "regs" / "imsdev_map_pkg.sv"
C_FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"]


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


# Loaded by path so the test checks this file, whatever fw/imsdev/__init__.py grows into.
regs = _load("imsdev_regs_under_test", ROOT / "fw" / "imsdev" / "regs.py")


def _constants():
    return {k: v for k, v in vars(regs).items() if k.isupper() and isinstance(v, int)}


@pytest.fixture(scope="module")
def rdl_top():
    from peakrdl_regblock.udps import ALL_UDPS
    from systemrdl import RDLCompiler

    rdlc = RDLCompiler()
    for udp in ALL_UDPS:
        rdlc.register_udp(udp)
    rdlc.compile_file(str(ROOT / "regs" / "imsdev.rdl"))
    return rdlc.elaborate("imsdev").top


# --------------------------------------------------------------------------------------------------
def test_regen_check_passes():
    r = subprocess.run([sys.executable, str(REGEN), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_regen_check_reports_stale_and_missing(tmp_path, monkeypatch, capsys):
    regen = _load("regen_under_test", REGEN)
    outputs = regen.generate()
    monkeypatch.setattr(regen, "ROOT", tmp_path)
    regen.write(outputs)
    assert regen.check(outputs, show_diff=False) == 0
    (tmp_path / regen.OUT_PY).write_text((tmp_path / regen.OUT_PY).read_text() + "# edited by hand\n")
    (tmp_path / regen.OUT_MD).unlink()
    capsys.readouterr()
    assert regen.check(outputs, show_diff=False) == 1
    out = capsys.readouterr().out
    assert f"{regen.OUT_PY}: stale" in out
    assert f"{regen.OUT_MD}: missing" in out


def test_generated_files_carry_banner():
    banner = "generated from regs/imsdev.rdl by sim/tools/regen.py; do not edit"
    for rel in ("rtl/regs/imsdev_csr.sv", "rtl/regs/imsdev_csr_pkg.sv", "rtl/regs/imsdev_map_pkg.sv",
                "fw/include/imsdev_regs.h", "fw/imsdev/regs.py", "docs/registers.md"):
        head = (ROOT / rel).read_text().splitlines()[0]
        assert banner in head, rel


# --------------------------------------------------------------------------------------------------
# Python constants against an independent walk of the RDL
def _access(f):
    from systemrdl.rdltypes import AccessType, OnWriteType

    sw, onwrite = f.get_property("sw"), f.get_property("onwrite")
    if sw == AccessType.r:
        return "RO"
    if sw == AccessType.w:
        return "WO"
    return {None: "RW", OnWriteType.woclr: "W1C", OnWriteType.woset: "W1S"}[onwrite]


def _check_register(py_reg, node, offset):
    assert py_reg.offset == offset, py_reg.name
    assert py_reg.width == node.get_property("regwidth")
    rdl_fields = {f.inst_name: f for f in node.fields()}
    assert {f.name for f in py_reg.fields} == set(rdl_fields), py_reg.name
    for f in py_reg.fields:
        n = rdl_fields[f.name]
        assert (f.lsb, f.width, f.mask) == (n.lsb, n.width, ((1 << n.width) - 1) << n.lsb), f.name
        assert f.reset == n.get_property("reset"), f"{py_reg.name}.{f.name}"
        assert f.access == _access(n), f"{py_reg.name}.{f.name}"
        assert f.volatile == n.is_volatile, f"{py_reg.name}.{f.name}"
        c = vars(regs)
        prefix = f"{py_reg.const}_{f.name}"
        assert c[prefix + "_SHIFT"] == n.lsb and c[prefix + "_WIDTH"] == n.width
        assert c[prefix + "_MASK"] == f.mask
        if f.reset is not None:
            assert c[prefix + "_RESET"] == f.reset
    expect_reset = sum((f.get_property("reset") or 0) << f.lsb for f in node.fields())
    assert py_reg.reset == expect_reset == vars(regs)[py_reg.const + "_RESET"], py_reg.name


def test_csr_registers_match_rdl(rdl_top):
    csr = rdl_top.get_child_by_name("csr")
    nodes = list(csr.registers())
    assert [r.name for r in regs.REGISTERS] == [n.inst_name for n in nodes]
    for py_reg, node in zip(regs.REGISTERS, nodes):
        assert py_reg.const == "CSR_" + node.inst_name
        assert getattr(regs, py_reg.const) == node.absolute_address
        _check_register(py_reg, node, node.absolute_address)


def test_array_regions_match_rdl(rdl_top):
    def node(path):
        return rdl_top.find_by_path(path)

    for vec in (0, 1, 31, 32, 63, 64, 2047):
        for r in regs.LAYOUTS["MSIX_TABLE"]:
            n = node(f"MSIX_TABLE[{vec}].{r.name}")
            assert regs.msix_table_at(vec) + r.offset == n.absolute_address
            _check_register(r, n, n.absolute_address - node(f"MSIX_TABLE[{vec}]").absolute_address)
    for qw in (0, 1, 31):
        assert regs.msix_pba_at(qw) == node(f"MSIX_PBA[{qw}]").absolute_address
    _check_register(regs.LAYOUTS["MSIX_PBA"][0], node("MSIX_PBA[0]"), 0)
    for wq, entry in ((0, 0), (0, 1), (3, 17), (7, 2047)):
        base = node(f"IMS[{wq}].ENTRY[{entry}]").absolute_address
        assert regs.ims_entry_at(wq, entry) == base
        for r in regs.LAYOUTS["IMS_ENTRY"]:
            n = node(f"IMS[{wq}].ENTRY[{entry}].{r.name}")
            _check_register(r, n, n.absolute_address - base)
    with pytest.raises(IndexError):
        regs.msix_table_at(regs.MSIX_TABLE_COUNT)
    with pytest.raises(IndexError):
        regs.ims_entry_at(regs.IMS_COUNT, 0)


def test_enums_match_rdl(rdl_top):
    enc = rdl_top.find_by_path("csr.ERR.CODE").get_property("encode")
    assert regs.ENUMS["MMIO_ERR"] == {m.name: m.value for m in enc}
    for name, value in regs.ENUMS["MMIO_ERR"].items():
        assert getattr(regs, "MMIO_ERR_" + name) == value
    assert regs.REGISTERS_BY_NAME["ERR"].field("CODE").enum == "MMIO_ERR"


# --------------------------------------------------------------------------------------------------
# The layout the product needs (PCIe MSI-X rules, IDXD-style IMS entries, BAR0 size)
def test_bar0_layout():
    assert regs.BAR0_SIZE == 1024 * 1024  # docs/tlp_interface.md: one IMS window per WQ, up to 16 WQs
    assert regs.CSR_BASE == 0 and regs.CSR_SIZE == 0x1000
    assert (regs.MSIX_TABLE_BASE, regs.MSIX_PBA_BASE, regs.IMS_BASE) == (0x20000, 0x28000, 0x40000)
    assert regs.MSIX_TABLE_STRIDE == regs.IMS_ENTRY_STRIDE == 16
    assert regs.MSIX_TABLE_COUNT == 2048 and regs.MSIX_PBA_COUNT * 64 == regs.MSIX_TABLE_COUNT
    assert regs.IMS_COUNT == regs.CSR_WQCFG_COUNT == 16 and regs.IMS_STRIDE == 0x8000 and regs.IMS_ENTRY_COUNT * 16 == regs.IMS_STRIDE
    assert regs.IMS_BASE + regs.IMS_COUNT * regs.IMS_STRIDE <= regs.BAR0_SIZE

    def pages(base, size):
        return set(range(base // 0x1000, (base + size - 1) // 0x1000 + 1))

    msix = pages(regs.MSIX_TABLE_BASE, regs.MSIX_TABLE_SIZE) | pages(regs.MSIX_PBA_BASE, regs.MSIX_PBA_SIZE)
    others = pages(regs.CSR_BASE, regs.CSR_SIZE) | pages(regs.IMS_BASE, regs.IMS_SIZE)
    assert not msix & others, "MSI-X table/PBA share a 4 KiB page with other registers"


def test_entry_layouts():
    assert [(r.name, r.offset) for r in regs.LAYOUTS["MSIX_TABLE"]] == [
        ("ADDR_LO", 0x0), ("ADDR_HI", 0x4), ("DATA", 0x8), ("VECTOR_CTRL", 0xC)]
    assert regs.MSIX_TABLE_VECTOR_CTRL_MASK_MASK == 1 and regs.MSIX_TABLE_VECTOR_CTRL_MASK_RESET == 1
    assert [(r.name, r.offset) for r in regs.LAYOUTS["IMS_ENTRY"]] == [
        ("ADDR_LO", 0x0), ("ADDR_HI", 0x4), ("DATA", 0x8), ("CTRL", 0xC)]
    ctrl = {f.name: f for f in regs.LAYOUTS["IMS_ENTRY"][3].fields}
    assert (ctrl["MASK"].lsb, ctrl["MASK"].reset) == (0, 1)
    assert (ctrl["PENDING"].lsb, ctrl["PENDING"].access) == (1, "RO")
    assert ctrl["PASID_EN"].lsb == 3
    assert (ctrl["PASID"].lsb, ctrl["PASID"].msb) == (12, 31)


def test_csr_semantics():
    r = regs.REGISTERS_BY_NAME
    assert r["SCRATCH"].access == "RW" and r["SCRATCH"].reset == 0
    assert {f.name: f.lsb for f in r["INT_CAUSE"].fields} == {"SW_TEST": 0, "ERR_LOG": 1, "MMIO_ERR": 2}
    for reg in ("INT_ENABLE", "INT_TEST"):
        assert {f.name: f.lsb for f in r[reg].fields} == {f.name: f.lsb for f in r["INT_CAUSE"].fields}
    assert all(f.access == "W1C" and f.hw == "r" and f.volatile for f in r["INT_CAUSE"].fields)
    assert all(f.access == "WO" for f in r["INT_TEST"].fields)
    assert {f.name: f.access for f in r["ERR"].fields} == {"VALID": "W1C", "OVERFLOW": "W1C", "CODE": "RO"}
    for cap in ("CAP0", "CAP1", "CAP2"):
        assert all(f.reset is None and f.hw == "w" for f in r[cap].fields)
    offsets = [reg.offset for reg in regs.REGISTERS]
    assert len(set(offsets)) == len(offsets) and all(o % 4 == 0 for o in offsets)
    for w in regs.WINDOWS.values():
        assert not any(w.base <= o < w.base + w.size for o in offsets), w.name


# --------------------------------------------------------------------------------------------------
# C header and SystemVerilog package against the Python module
def test_c_header_matches_python(tmp_path):
    cc = shutil.which("gcc")
    assert cc, "gcc is needed to check fw/include/imsdev_regs.h"
    consts = _constants()
    probes = dict((f"C_{k}", v) for k, v in consts.items())
    lines = ['#include <stdio.h>', '#include "imsdev_regs.h"', "int main(void) {"]
    for k in sorted(consts):
        lines.append(f'    printf("C_{k} %llu\\n", (unsigned long long)(IMSDEV_{k}));')
    calls = {
        "AT_MSIX_64": ("IMSDEV_MSIX_TABLE_AT(64)", regs.msix_table_at(64)),
        "AT_MSIX_2047": ("IMSDEV_MSIX_TABLE_AT(2047)", regs.msix_table_at(2047)),
        "AT_PBA_1": ("IMSDEV_MSIX_PBA_AT(1)", regs.msix_pba_at(1)),
        "AT_IMS_3_17": ("IMSDEV_IMS_ENTRY_AT(3, 17)", regs.ims_entry_at(3, 17)),
        "AT_IMS_7_2047": ("IMSDEV_IMS_ENTRY_AT(7, 2047)", regs.ims_entry_at(7, 2047)),
        "AT_WQCFG_5": ("IMSDEV_CSR_WQCFG_AT(5)", regs.csr_wqcfg_at(5)),
        "GET_CODE": ("IMSDEV_FIELD_GET(CSR_ERR_CODE, 0x1234u)", 0x12),
        "PREP_PASID": ("IMSDEV_FIELD_PREP(IMS_ENTRY_CTRL_PASID, 0xABCDEu)", 0xABCDE << 12),
    }
    for k, (expr, value) in calls.items():
        lines.append(f'    printf("{k} %llu\\n", (unsigned long long)({expr}));')
        probes[k] = value
    lines += ["    return 0;", "}"]
    src = tmp_path / "probe.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "probe"
    r = subprocess.run([cc, *C_FLAGS, "-I", str(HEADER.parent), "-o", str(exe), str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    got = {k: int(v) for k, v in (line.split() for line in out.splitlines())}
    assert got == probes


def test_c_header_has_no_extra_constants():
    text = HEADER.read_text()
    macros = set(re.findall(r"^#define IMSDEV_(\w+)\s+\S", text, re.M))
    macros -= {"REGS_H"}
    assert macros == set(_constants())


def test_sv_map_pkg_matches_python():
    text = MAP_PKG.read_text()
    pat = re.compile(r"localparam\s+(int unsigned|logic \[(\d+):0\])\s+(\w+)\s*=\s*(?:(\d+)'h([0-9A-Fa-f]+)|(\d+));")
    found = {}
    for m in pat.finditer(text):
        ptype, msb, name, size, hexval, dec = m.groups()
        value = int(hexval, 16) if hexval is not None else int(dec)
        if msb is not None:
            assert int(size) == int(msb) + 1, name
            assert value < (1 << int(size)), name
        found[name] = value
    assert found == _constants()
    assert "`default_nettype none" in text
