#!/usr/bin/env python3
"""Generate everything that describes the BAR0 register map from regs/imsdev.rdl.

    python sim/tools/regen.py            write the generated files
    python sim/tools/regen.py --check    write nothing; exit 1 listing every generated file that is stale
                                         or missing, and compile the C header with gcc
    python sim/tools/regen.py --lint     run `verilator --lint-only -Wall` on rtl/regs/ (one invocation)

Outputs (checked in, each carrying a do-not-edit banner):
    rtl/regs/imsdev_csr.sv, rtl/regs/imsdev_csr_pkg.sv   PeakRDL-regblock, passthrough cpuif, `csr` only
    rtl/regs/imsdev_map_pkg.sv                           region bases, strides, offsets, field positions
    fw/include/imsdev_regs.h                             C constants and address helpers
    fw/imsdev/regs.py                                    Python constants and register tables
    docs/registers.md                                    register document

PeakRDL-regblock and systemrdl-compiler do the RTL; the other outputs come from one model built here by
walking the elaborated tree, so the names and numbers in C, Python, SystemVerilog and the docs cannot
drift apart. Naming rule (same in every language; C adds an IMSDEV_ prefix):
    <BLOCK>_BASE/_SIZE/_STRIDE/_COUNT   a region; _BASE is a BAR0 offset
    <BLOCK>_OFFSET                      a nested array, relative to one element of its parent
    <BLOCK>_<REG>                       a register: BAR0 offset, or the offset inside one array element
    <BLOCK>_<REG>_<FIELD>_SHIFT/_WIDTH/_MASK/_RESET, <BLOCK>_<REG>_RESET/_RESET_MASK
    <ENUM>_<MEMBER>                     encoded field values (enum type name without imsdev_ and _e)
"""
from __future__ import annotations

import argparse
import difflib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[2]
RDL = "regs/imsdev.rdl"
TOP_TYPE = "imsdev"
CSR_TYPE = "imsdev_csr"
CSR_INST = "csr"
CSR_MODULE = "imsdev_csr"
CSR_PACKAGE = "imsdev_csr_pkg"
MAP_PACKAGE = "imsdev_map_pkg"
C_PREFIX = "IMSDEV_"
PAGE = 0x1000

OUT_CSR_SV = "rtl/regs/imsdev_csr.sv"
OUT_CSR_PKG = "rtl/regs/imsdev_csr_pkg.sv"
OUT_MAP_PKG = "rtl/regs/imsdev_map_pkg.sv"
OUT_C = "fw/include/imsdev_regs.h"
OUT_PY = "fw/imsdev/regs.py"
OUT_MD = "docs/registers.md"
OUTPUTS = (OUT_CSR_SV, OUT_CSR_PKG, OUT_MAP_PKG, OUT_C, OUT_PY, OUT_MD)
LINT_FILES = ("rtl/regs/lint_waivers.vlt", OUT_CSR_PKG, OUT_MAP_PKG, OUT_CSR_SV)

BANNER = "generated from regs/imsdev.rdl by sim/tools/regen.py; do not edit"
C_FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"]


class RegenError(Exception):
    pass


# ---------------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------------
@dataclass
class FieldInfo:
    name: str
    lsb: int
    width: int
    reset: Optional[int]  # None: the RDL gives none because the RTL drives it (capability fields)
    access: str  # software view: RO, RW, W1C, W1S, WO, RC
    hw: str  # r, w, rw, na
    volatile: bool  # hardware may change it, so a written value need not read back
    desc: str
    enum: Optional[str] = None  # constant prefix of the enum that encodes it

    @property
    def msb(self) -> int:
        return self.lsb + self.width - 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


@dataclass
class RegInfo:
    name: str
    const: str
    offset: int  # BAR0 offset, or offset inside one element of the innermost array
    offset_w: int  # address bits of the space `offset` lives in
    width: int
    title: str
    desc: str
    fields: List[FieldInfo]
    emit_offset: bool = True  # False for a register that is itself the array element (offset 0)

    @property
    def reset(self) -> int:
        return sum((f.reset or 0) << f.lsb for f in self.fields)

    @property
    def reset_mask(self) -> int:
        return sum(f.mask for f in self.fields if f.reset is not None)

    @property
    def access(self) -> str:
        kinds = sorted({f.access for f in self.fields})
        return "/".join(kinds)


@dataclass
class WindowInfo:
    name: str
    const: str
    base: int
    size: int
    stride: int
    desc: str


@dataclass
class BlockInfo:
    const: str
    kind: str  # addrmap, regfile, reg
    inst: str
    base: int  # BAR0 offset if absolute, else offset inside one element of the parent array
    absolute: bool
    elem_size: int
    count: Optional[int]
    stride: Optional[int]
    title: str
    desc: str
    parent: Optional[str]
    level_consts: List[str]  # const of each array level from the top down to here
    index_names: List[str]  # index argument name of each array level, for address helpers
    index_counts: List[int]
    span: int  # size of the space register offsets inside this block are relative to
    registers: List[RegInfo] = dc_field(default_factory=list)
    windows: List[WindowInfo] = dc_field(default_factory=list)
    external: bool = False

    @property
    def size(self) -> int:
        return self.stride * self.count if self.count else self.elem_size


@dataclass
class EnumInfo:
    const: str
    type_name: str
    members: List[Tuple[str, int, str]]
    width: int


@dataclass
class Model:
    bar_size: int
    bar_addr_w: int
    csr_addr_w: int
    title: str
    desc: str
    blocks: List[BlockInfo]
    enums: List[EnumInfo]

    def block(self, const: str) -> BlockInfo:
        for b in self.blocks:
            if b.const == const:
                return b
        raise KeyError(const)


def clog2(x: int) -> int:
    return max(0, (x - 1).bit_length())


def _text(s: Optional[str]) -> str:
    return " ".join((s or "").split())


def _field_access(f) -> str:
    from systemrdl.rdltypes import AccessType, OnReadType, OnWriteType

    sw = f.get_property("sw")
    onwrite = f.get_property("onwrite")
    onread = f.get_property("onread")
    if sw == AccessType.r:
        if onread == OnReadType.rclr:
            return "RC"
        if onread is None:
            return "RO"
    elif sw == AccessType.rw and onread is None:
        if onwrite is None:
            return "RW"
        if onwrite == OnWriteType.woclr:
            return "W1C"
        if onwrite == OnWriteType.woset:
            return "W1S"
    elif sw == AccessType.w and onwrite is None:
        return "WO"
    # A new combination needs a name in every output and in the bench's access checks: fail loudly.
    raise RegenError(f"{f.get_path()}: unsupported access sw={sw} onread={onread} onwrite={onwrite}")


def _enum_const(type_name: str) -> str:
    name = type_name
    if name.startswith(TOP_TYPE + "_"):
        name = name[len(TOP_TYPE) + 1:]
    if name.endswith("_e"):
        name = name[:-2]
    return name.upper()


def compile_rdl():
    """Return (root of the whole BAR0 map, root of the csr block elaborated on its own)."""
    try:
        from systemrdl import RDLCompiler
        from peakrdl_regblock.udps import ALL_UDPS
    except ImportError as e:  # the usual cause is running the system python instead of the venv's
        raise RegenError(f"{e}: run with the project venv (.venv/bin/python)") from e
    rdlc = RDLCompiler()
    for udp in ALL_UDPS:
        rdlc.register_udp(udp)
    rdlc.compile_file(str(ROOT / RDL))
    top = rdlc.elaborate(TOP_TYPE, TOP_TYPE)
    # The regblock is exported from a separate elaboration of the csr type so that its instance name,
    # and with it every hwif struct type name, starts with the module name instead of "csr".
    csr = rdlc.elaborate(CSR_TYPE, CSR_MODULE)
    return top, csr


def build_model(top_root) -> Model:
    from systemrdl.node import AddrmapNode, MemNode, RegfileNode, RegNode
    from systemrdl.rdltypes import AccessType

    top = top_root.top
    bar_size = 1 << clog2(top.size)
    blocks: List[BlockInfo] = []
    enums: Dict[str, EnumInfo] = {}

    def make_field(f) -> FieldInfo:
        reset = f.get_property("reset")
        if reset is not None and not isinstance(reset, int):
            raise RegenError(f"{f.get_path()}: reset must be a constant")
        hw = f.get_property("hw")
        hw_s = {AccessType.r: "r", AccessType.w: "w", AccessType.rw: "rw", AccessType.na: "na"}.get(hw)
        if hw_s is None:
            raise RegenError(f"{f.get_path()}: unsupported hw access {hw}")
        fi = FieldInfo(
            name=f.inst_name, lsb=f.lsb, width=f.width, reset=reset, access=_field_access(f),
            hw=hw_s, volatile=f.is_volatile, desc=_text(f.get_property("desc")),
        )
        enc = f.get_property("encode")
        if enc is not None:
            const = _enum_const(enc.type_name)
            info = enums.get(const)
            if info is None:
                members = [(m.name, m.value, _text(m.rdl_desc)) for m in enc]
                info = EnumInfo(const, enc.type_name, members, f.width)
                enums[const] = info
            info.width = max(info.width, f.width)
            fi.enum = const
        return fi

    def make_reg(r, const: str, offset: int, offset_w: int, emit_offset: bool = True) -> RegInfo:
        if r.get_property("regwidth") % 32:
            raise RegenError(f"{r.get_path()}: registers must be a multiple of 32 bits")
        fields = sorted((make_field(f) for f in r.fields()), key=lambda x: x.lsb)
        return RegInfo(
            name=r.inst_name, const=const, offset=offset, offset_w=offset_w,
            width=r.get_property("regwidth"), title=_text(r.get_property("name")),
            desc=_text(r.get_property("desc")), fields=fields, emit_offset=emit_offset,
        )

    def walk(node, parent: Optional[BlockInfo]) -> None:
        if isinstance(node, MemNode):
            raise RegenError(f"{node.get_path()}: mem is not supported by the exporters; use a regfile array")
        const = node.inst_name.upper() if parent is None else f"{parent.const}_{node.inst_name.upper()}"
        # Offsets are BAR0 offsets until the first array level; below it they are relative to one
        # element of the innermost array, which is what the RAM blocks and the drivers index.
        absolute = parent is None or (parent.absolute and not parent.count)
        base = node.raw_address_offset + (parent.base if parent is not None and not parent.count else 0)
        count = stride = None
        if node.is_array:
            if len(node.array_dimensions) != 1:
                raise RegenError(f"{node.get_path()}: only one-dimensional arrays are supported")
            count = node.array_dimensions[0]
            stride = node.array_stride
        levels = list(parent.level_consts) if parent else []
        idx_names = list(parent.index_names) if parent else []
        idx_counts = list(parent.index_counts) if parent else []
        span = parent.span if parent else bar_size
        if count:
            levels.append(const)
            idx_names.append(node.inst_name.lower())
            idx_counts.append(count)
            span = stride
        elem_size = node.size
        windows: List[WindowInfo] = []
        if isinstance(node, AddrmapNode):
            for w in node.get_property("imsdev_reserved_windows", default=None) or []:
                windows.append(WindowInfo(
                    name=w.name, const=f"{const}_{w.name}", base=base + w.offset, size=w.size,
                    stride=w.stride, desc=_text(w.desc)))
                elem_size = max(elem_size, w.offset + w.size)
        if parent is None and not count:
            # BAR0 regions are page granular: the MSI-X structures must not share a page with
            # anything else, and a page per block keeps the BAR decode to a compare of the upper bits.
            elem_size = (elem_size + PAGE - 1) // PAGE * PAGE
        blk = BlockInfo(
            const=const, kind=type(node).__name__.replace("Node", "").lower(), inst=node.inst_name,
            base=base, absolute=absolute, elem_size=elem_size, count=count, stride=stride,
            title=_text(node.get_property("name")), desc=_text(node.get_property("desc")),
            parent=parent.const if parent else None, level_consts=levels, index_names=idx_names,
            index_counts=idx_counts, span=span, windows=windows,
            # Only the csr block comes out of PeakRDL-regblock; everything else is hand-written RTL.
            external=parent.external if parent else node.inst_name != CSR_INST,
        )
        blocks.append(blk)
        if isinstance(node, RegNode):
            blk.registers.append(make_reg(node, const, 0, clog2(span), emit_offset=False))
            return
        for child in node.children():
            if isinstance(child, RegNode) and not child.is_array:
                off = child.raw_address_offset + (0 if count else base)
                blk.registers.append(make_reg(child, f"{const}_{child.inst_name.upper()}", off, clog2(span)))
            elif isinstance(child, (AddrmapNode, RegfileNode, RegNode)):
                walk(child, blk)

    for child in top.children():
        walk(child, None)

    csr_block = next(b for b in blocks if b.inst == CSR_INST)
    model = Model(
        bar_size=bar_size, bar_addr_w=clog2(bar_size), csr_addr_w=clog2(csr_block.elem_size),
        title=_text(top.get_property("name")), desc=_text(top.get_property("desc")),
        blocks=blocks, enums=list(enums.values()),
    )
    check_model(model)
    return model


def check_model(m: Model) -> None:
    """Layout rules that the RDL compiler does not know about."""
    tops = sorted((b for b in m.blocks if b.parent is None), key=lambda b: b.base)
    for a, b in zip(tops, tops[1:]):
        if a.base + a.size > b.base:
            raise RegenError(f"{a.const} overlaps {b.const}")
    for b in tops:
        if b.base + b.size > m.bar_size:
            raise RegenError(f"{b.const} extends past BAR0")
        if b.inst.upper().startswith("MSIX_"):
            # PCIe: MSI-X table/PBA must not share a naturally aligned 4 KiB page with other registers.
            first, last = b.base // PAGE, (b.base + b.size - 1) // PAGE
            for o in tops:
                if o is b or o.inst.upper().startswith("MSIX_"):
                    continue
                if not (o.base + o.size - 1 < first * PAGE or o.base > last * PAGE + PAGE - 1):
                    raise RegenError(f"{b.const} shares a 4 KiB page with {o.const}")
    csr = m.block("CSR")
    for w in csr.windows:
        for r in csr.registers:
            if w.base <= r.offset < w.base + w.size:
                raise RegenError(f"{r.const} lies in reserved window {w.const}")
    names: Dict[str, str] = {}
    for name, _v, _k, _b in constants(m):
        if name in names:
            raise RegenError(f"generated constant {name} defined twice")
        names[name] = name


# ---------------------------------------------------------------------------------------------------
# One flat list of constants, rendered by every language
# ---------------------------------------------------------------------------------------------------
# kind: ("addr", bits) for offsets, ("int",) for counts/positions, ("bits", width) for masks/values
def constants(m: Model) -> List[Tuple[str, int, tuple, Optional[BlockInfo]]]:
    """(name, value, kind, owning block); kind is ("int",) for sizes, counts and bit positions,
    ("addr", bits) for offsets and ("bits", width) for masks and values."""
    out: List[Tuple[str, int, tuple, Optional[BlockInfo]]] = [
        ("BAR0_SIZE", m.bar_size, ("int",), None),
        ("BAR0_ADDR_W", m.bar_addr_w, ("int",), None),
    ]
    for b in m.blocks:
        add = lambda n, v, k: out.append((n, v, k, b))
        if b.absolute:
            add(f"{b.const}_BASE", b.base, ("addr", m.bar_addr_w))
        else:
            add(f"{b.const}_OFFSET", b.base, ("int",))
        add(f"{b.const}_SIZE", b.size, ("int",))
        if b.count:
            add(f"{b.const}_STRIDE", b.stride, ("int",))
            add(f"{b.const}_COUNT", b.count, ("int",))
        if b.inst == CSR_INST:
            add(f"{b.const}_ADDR_W", m.csr_addr_w, ("int",))
        for w in b.windows:
            add(f"{w.const}_BASE", w.base, ("addr", m.bar_addr_w))
            add(f"{w.const}_SIZE", w.size, ("int",))
            if w.stride:
                add(f"{w.const}_STRIDE", w.stride, ("int",))
        for r in b.registers:
            if r.emit_offset:
                add(r.const, r.offset, ("addr", r.offset_w))
            add(f"{r.const}_RESET", r.reset, ("bits", r.width))
            add(f"{r.const}_RESET_MASK", r.reset_mask, ("bits", r.width))
            for f in r.fields:
                p = f"{r.const}_{f.name}"
                add(f"{p}_SHIFT", f.lsb, ("int",))
                add(f"{p}_WIDTH", f.width, ("int",))
                add(f"{p}_MASK", f.mask, ("bits", r.width))
                if f.reset is not None:
                    add(f"{p}_RESET", f.reset, ("bits", f.width))
    for e in m.enums:
        for name, value, _d in e.members:
            out.append((f"{e.const}_{name}", value, ("bits", e.width), None))
    return out


def _hex(v: int, digits: int = 0) -> str:
    return f"0x{v:0{digits}X}" if digits else f"0x{v:X}"


def _digits(bits: int) -> int:
    return max(1, (bits + 3) // 4)


# ---------------------------------------------------------------------------------------------------
# Renderers
# ---------------------------------------------------------------------------------------------------
def render_map_pkg(m: Model) -> str:
    lines = [
        f"// {BANNER}",
        "//",
        "// BAR0 layout constants for the hand-written RTL (MSI-X table/PBA, IMS storage, BAR decode).",
        "// Names follow the rule in sim/tools/regen.py; the same names exist in fw/include/imsdev_regs.h",
        "// (with an IMSDEV_ prefix) and fw/imsdev/regs.py. BAR0 offsets are sized BAR0_ADDR_W bits and",
        "// in-element offsets by the element size, so comparing them with an address slice of that width",
        "// needs no cast; counts, strides and bit positions are int unsigned for generate loops.",
        "",
        "`default_nettype none",
        "",
        f"package {MAP_PACKAGE};",
        "",
    ]
    rows = []
    for name, value, kind, _b in constants(m):
        if kind[0] == "int":
            rows.append(("int unsigned", name, str(value) if value < 4096 else _sv_hex(value, 32)))
        else:
            bits = kind[1]
            rows.append((f"logic [{bits - 1}:0]", name, f"{bits}'h{value:0{_digits(bits)}X}"))
    tw = max(len(r[0]) for r in rows)
    nw = max(len(r[1]) for r in rows)
    lines += [f"  localparam {t:<{tw}} {n:<{nw}} = {v};" for t, n, v in rows]
    lines += ["", "endpackage", "", "`default_nettype wire", ""]
    return "\n".join(lines)


def _sv_hex(v: int, bits: int) -> str:
    return f"{bits}'h{v:X}"


def _c_value(value: int, kind: tuple) -> str:
    if kind[0] == "int":
        return f"{value}u" if value < 4096 else f"{_hex(value)}u"
    bits = kind[1]
    return f"{_hex(value, _digits(bits))}{'ull' if bits > 32 else 'u'}"


def _c_comment(text: str) -> str:
    return text.replace("*/", "* /")


def render_c(m: Model) -> str:
    out = [
        f"/* {BANNER} */",
        "/*",
        " * BAR0 register map of the IMS multi-queue device.",
        " * Naming: IMSDEV_<BLOCK>_BASE/_SIZE/_STRIDE/_COUNT for regions (BASE = BAR0 offset),",
        " * IMSDEV_<BLOCK>_<REG> for register offsets (BAR0 offset, or offset inside one array element),",
        " * IMSDEV_<BLOCK>_<REG>_<FIELD>_SHIFT/_WIDTH/_MASK/_RESET for fields, IMSDEV_<ENUM>_<MEMBER> for",
        " * encoded values. IMSDEV_<BLOCK>_AT(i, ...) gives the BAR0 offset of one array element.",
        " * Only DWORD (and, where docs/registers.md says so, aligned QWORD) accesses are defined.",
        " */",
        "#ifndef IMSDEV_REGS_H",
        "#define IMSDEV_REGS_H",
        "",
        "/* Field helpers: f is a field name without the prefix, e.g. IMSDEV_FIELD_GET(CSR_ERR_CODE, v). */",
        f"#define {C_PREFIX}FIELD_GET(f, v) \\",
        f"    (((unsigned long long)(v) & {C_PREFIX}##f##_MASK) >> {C_PREFIX}##f##_SHIFT)",
        f"#define {C_PREFIX}FIELD_PREP(f, x) \\",
        f"    (((unsigned long long)(x) << {C_PREFIX}##f##_SHIFT) & {C_PREFIX}##f##_MASK)",
        "",
    ]
    consts = constants(m)
    width = max(len(c[0]) for c in consts) + len(C_PREFIX)
    current = None
    for name, value, kind, owner in consts:
        if owner is not current and owner is not None:
            if current is not None:
                _c_helpers(current, out)
            current = owner
            ext = " (hand-written RAM block)" if owner.external else ""
            out += ["", f"/* {owner.const}: {_c_comment(owner.title)}{ext} */"]
        elif owner is None and current is not None:
            _c_helpers(current, out)
            current = None
            out += ["", "/* Encoded field values */"]
        out.append(f"#define {C_PREFIX + name:<{width}} {_c_value(value, kind)}")
    if current is not None:
        _c_helpers(current, out)
    out += ["", "#endif /* IMSDEV_REGS_H */", ""]
    return "\n".join(out)


def _c_helpers(b: BlockInfo, out: List[str]) -> None:
    if b.count:
        args = ", ".join(b.index_names)
        expr = _addr_expr(b, lambda n: f"{C_PREFIX}{n}", lambda i: f"({i})")
        out.append(f"#define {C_PREFIX}{b.const}_AT({args}) \\\n    ({expr})")
    for w in b.windows:
        if w.stride:
            out.append(f"#define {C_PREFIX}{w.const}_AT(i) \\\n    "
                       f"({C_PREFIX}{w.const}_BASE + (i) * {C_PREFIX}{w.const}_STRIDE)")


def _addr_expr(b: BlockInfo, ref, arg) -> str:
    # Walk the array levels from the top; each level's base is relative to the element above it.
    parts = []
    consts = b.level_consts
    for lvl, name in enumerate(b.index_names):
        c = consts[lvl]
        parts.append(ref(f"{c}_BASE" if lvl == 0 else f"{c}_OFFSET"))
        parts.append(f"{arg(name)} * {ref(c + '_STRIDE')}")
    return " + ".join(parts)


def render_py(m: Model) -> str:
    consts = constants(m)
    L = [
        f"# {BANNER}",
        '"""BAR0 register map of the IMS multi-queue device, for the bench and the driver model.',
        "",
        "Naming (same names as fw/include/imsdev_regs.h without its IMSDEV_ prefix):",
        "  <BLOCK>_BASE/_SIZE/_STRIDE/_COUNT  regions; _BASE is a BAR0 offset",
        "  <BLOCK>_OFFSET                     a nested array, relative to one element of its parent",
        "  <BLOCK>_<REG>                      register offset: BAR0 offset, or inside one array element",
        "  <BLOCK>_<REG>_<FIELD>_SHIFT/_WIDTH/_MASK/_RESET, <BLOCK>_<REG>_RESET/_RESET_MASK",
        "  <ENUM>_<MEMBER>                    encoded field values",
        "REGISTERS lists every csr register (BAR0 offsets); LAYOUTS the registers of one element of each",
        "array region (offsets inside the element). Field.reset is None where the RTL drives the value",
        "(capabilities); Field.volatile means hardware may change the field.",
        '"""',
        "from typing import Dict, NamedTuple, Optional, Tuple",
        "",
        "",
        "class Field(NamedTuple):",
        "    name: str",
        "    lsb: int",
        "    width: int",
        "    mask: int  # in-register mask",
        "    reset: Optional[int]  # field value after reset (unshifted); None = driven by the RTL",
        '    access: str  # software: "RO", "RW", "W1C", "W1S", "WO" (reads 0), "RC"',
        '    hw: str  # hardware: "r", "w", "rw", "na"',
        "    volatile: bool  # hardware may change it",
        "    enum: Optional[str]  # key into ENUMS for encoded fields",
        "    desc: str",
        "",
        "    @property",
        "    def msb(self) -> int:",
        "        return self.lsb + self.width - 1",
        "",
        "",
        "class Register(NamedTuple):",
        "    name: str",
        "    const: str  # prefix of its constants; also the offset constant unless it is an array element",
        "    offset: int",
        "    width: int",
        '    access: str  # field access kinds joined by "/", e.g. "RO/W1C"',
        "    reset: int",
        "    reset_mask: int  # bits whose reset value is defined",
        "    title: str",
        "    desc: str",
        "    fields: Tuple[Field, ...]",
        "",
        "    def field(self, name: str) -> Field:",
        "        for f in self.fields:",
        "            if f.name == name:",
        "                return f",
        "        raise KeyError(f\"{self.name} has no field {name}\")",
        "",
        "",
        "class Region(NamedTuple):",
        "    name: str",
        "    base: int  # BAR0 offset if parent is None, else offset inside one element of parent",
        "    size: int",
        "    stride: Optional[int]  # array regions only",
        "    count: Optional[int]",
        "    parent: Optional[str]",
        "    external: bool  # implemented by a hand-written RAM block, not the generated regblock",
        "    title: str",
        "",
        "",
        "class Window(NamedTuple):",
        "    name: str",
        "    base: int",
        "    size: int",
        "    stride: int  # 0 = not an array",
        "    desc: str",
        "",
        "",
        "def field_get(value: int, f: Field) -> int:",
        "    return (value & f.mask) >> f.lsb",
        "",
        "",
        "def field_prep(f: Field, x: int) -> int:",
        "    if x >> f.width:",
        "        raise ValueError(f\"{x:#x} does not fit in {f.name} ({f.width} bits)\")",
        "    return x << f.lsb",
        "",
        "",
    ]
    for n, v, k, _b in consts:
        if k[0] == "int":
            L.append(f"{n} = {v if v < 4096 else _hex(v)}")
        else:
            L.append(f"{n} = {_hex(v, _digits(k[1]))}")
    L += ["", ""]

    def reg_lit(r: RegInfo, indent: str) -> List[str]:
        s = [f"{indent}Register(",
             f"{indent}    name={r.name!r}, const={r.const!r}, offset={_hex(r.offset)}, width={r.width},",
             f"{indent}    access={r.access!r}, reset={_hex(r.reset)}, reset_mask={_hex(r.reset_mask)},",
             f"{indent}    title={r.title!r},",
             f"{indent}    desc={r.desc!r},",
             f"{indent}    fields=("]
        for f in r.fields:
            reset = "None" if f.reset is None else _hex(f.reset)
            s.append(f"{indent}        Field({f.name!r}, {f.lsb}, {f.width}, {_hex(f.mask)}, {reset}, {f.access!r}, "
                     f"{f.hw!r}, {f.volatile}, {f.enum!r},")
            s.append(f"{indent}              {f.desc!r}),")
        s.append(f"{indent}    ),")
        s.append(f"{indent}),")
        return s

    csr = m.block("CSR")
    L.append("REGISTERS: Tuple[Register, ...] = (")
    for r in csr.registers:
        L += reg_lit(r, "    ")
    L += [")", "REGISTERS_BY_NAME: Dict[str, Register] = {r.name: r for r in REGISTERS}", ""]
    L.append("LAYOUTS: Dict[str, Tuple[Register, ...]] = {")
    for b in m.blocks:
        if b is csr or not b.registers:
            continue
        L.append(f"    {b.const!r}: (")
        for r in b.registers:
            L += reg_lit(r, "        ")
        L.append("    ),")
    L += ["}", ""]
    L.append("REGIONS: Dict[str, Region] = {")
    for b in m.blocks:
        parent = b.level_consts[-1] if not b.absolute else None
        if parent == b.const:
            parent = b.level_consts[-2]
        L.append(f"    {b.const!r}: Region({b.const!r}, {_hex(b.base)}, {_hex(b.size)}, "
                 f"{_hex(b.stride) if b.stride else None}, {b.count}, {parent!r}, {b.external}, {b.title!r}),")
    L += ["}", ""]
    L.append("WINDOWS: Dict[str, Window] = {")
    for b in m.blocks:
        for w in b.windows:
            L.append(f"    {w.const!r}: Window({w.const!r}, {_hex(w.base)}, {_hex(w.size)}, {_hex(w.stride)},")
            L.append(f"                     {w.desc!r}),")
    L += ["}", ""]
    L.append("ENUMS: Dict[str, Dict[str, int]] = {")
    for e in m.enums:
        L.append(f"    {e.const!r}: {{")
        for n, v, _d in e.members:
            L.append(f"        {n!r}: {_hex(v, 2)},")
        L.append("    },")
    L += ["}", "", ""]
    for b in m.blocks:
        if b.count:
            args = ", ".join(f"{n}: int" for n in b.index_names)
            L.append(f"def {b.const.lower()}_at({args}) -> int:")
            L.append(f'    """BAR0 offset of one {b.const} element."""')
            for name, cnt in zip(b.index_names, b.index_counts):
                L.append(f"    if not 0 <= {name} < {cnt}:")
                L.append(f"        raise IndexError(f\"{name}={{{name}}} out of range 0..{cnt - 1}\")")
            L.append(f"    return {_addr_expr(b, lambda n: n, lambda i: i)}")
            L += ["", ""]
        for w in b.windows:
            if w.stride:
                L.append(f"def {w.const.lower()}_at(i: int) -> int:")
                L.append(f'    """BAR0 offset of element i of the {w.const} window."""')
                L.append(f"    if not 0 <= i < {w.const}_SIZE // {w.const}_STRIDE:")
                L.append(f"        raise IndexError(f\"i={{i}} out of range for {w.const}\")")
                L.append(f"    return {w.const}_BASE + i * {w.const}_STRIDE")
                L += ["", ""]
    while L[-1] == "":
        L.pop()
    L.append("")
    return "\n".join(L)


def _md(s: str) -> str:
    return s.replace("|", "\\|")


def _bits(f: FieldInfo) -> str:
    return f"[{f.msb}]" if f.width == 1 else f"[{f.msb}:{f.lsb}]"


def render_md(m: Model, hwif_report: str) -> str:
    L = [
        f"<!-- {BANNER} -->",
        "",
        f"# {m.title}",
        "",
        m.desc,
        "",
        "Source: `regs/imsdev.rdl` (SystemRDL 2.0). Regenerate everything with `python sim/tools/regen.py`;",
        "`python sim/tools/regen.py --check` fails when a generated file is stale.",
        "",
        "| generated file | contents |",
        "|---|---|",
        f"| `{OUT_CSR_SV}`, `{OUT_CSR_PKG}` | register block `{CSR_MODULE}` for the csr page (PeakRDL-regblock, passthrough cpuif) |",
        f"| `{OUT_MAP_PKG}` | package `{MAP_PACKAGE}`: the constants below for the hand-written RTL |",
        f"| `{OUT_C}` | C: the constants below with an `IMSDEV_` prefix, `IMSDEV_<BLOCK>_AT(...)`, `IMSDEV_FIELD_GET/PREP` |",
        f"| `{OUT_PY}` | Python: the same constants, `REGISTERS`, `LAYOUTS`, `REGIONS`, `WINDOWS`, `ENUMS`, `<block>_at(...)` |",
        "",
        "Constant names: `<BLOCK>_BASE/_SIZE/_STRIDE/_COUNT` for regions (`_BASE` is a BAR0 offset),",
        "`<BLOCK>_OFFSET` for a nested array inside one element of its parent, `<BLOCK>_<REG>` for a register",
        "offset (BAR0 offset for csr registers, offset inside one element for array regions),",
        "`<BLOCK>_<REG>_<FIELD>_SHIFT/_WIDTH/_MASK/_RESET` for fields and `<ENUM>_<MEMBER>` for encoded values.",
        "",
        "Access: RO read-only (writes ignored); RW read/write; W1C write 1 to clear; WO write-only, reads 0",
        "(here: a one-cycle pulse to the RTL); *volatile* = hardware may change the value. Reserved bits and",
        "unused offsets read 0 and ignore writes.",
        "",
        "## BAR0 memory map",
        "",
        f"BAR0 is {m.bar_size // 1024} KiB ({_hex(m.bar_size)}).",
        "",
        "| region | BAR0 offsets | element | count | implemented by | description |",
        "|---|---|---|---|---|---|",
    ]
    for b in m.blocks:
        if not b.absolute:
            continue
        end = b.base + b.size - 1
        elem = _hex(b.stride) + " B" if b.count else _hex(b.elem_size) + " B"
        impl = "hand-written RTL" if b.external else f"`{CSR_MODULE}` (generated)"
        L.append(f"| `{b.const}` | {_hex(b.base, 5)}-{_hex(end, 5)} | {elem} | {b.count or 1} | {impl} | "
                 f"{_md(b.title)}. {_md(b.desc)} |")
    nested = [b for b in m.blocks if not b.absolute]
    if nested:
        L += ["", "Nested arrays (offsets inside one element of the parent):", "",
              "| array | offset | stride | count | BAR0 offset of element |", "|---|---|---|---|---|"]
        for b in nested:
            args = ", ".join(b.index_names)
            expr = _addr_expr(b, lambda n: n, lambda i: i)
            L.append(f"| `{b.const}` | {_hex(b.base)} | {_hex(b.stride)} | {b.count} | `{b.const}_AT({args})` = "
                     f"`{expr}` |")
    for b in m.blocks:
        if not b.registers and not b.windows:
            continue
        L += ["", f"## {b.const}: {b.title}", ""]
        if b.desc:
            L += [b.desc, ""]
        if b.count:
            args = ", ".join(b.index_names)
            L += [f"{b.count} elements of {_hex(b.stride)} bytes; element BAR0 offset: "
                  f"`{_addr_expr(b, lambda n: n, lambda i: i)}`. Register offsets below are inside one element.", ""]
        rows = [(r.offset, f"`{r.const}`" if r.emit_offset else f"(element) `{r.const}`",
                 _md(r.title or r.name), r.access, _hex(r.reset, 8 if r.width == 32 else 16))
                for r in b.registers]
        rows += [(w.base, f"`{w.const}_BASE`", _md(w.desc), "reserved", "-") for w in b.windows]
        L += ["| offset | name | title | access | reset |", "|---|---|---|---|---|"]
        for off, name, title, acc, reset in sorted(rows, key=lambda x: x[0]):
            L.append(f"| {_hex(off, 3)} | {name} | {title} | {acc} | {reset} |")
        if b.windows:
            L += ["", "Reserved windows (later issues; they read 0 and ignore writes until then):", ""]
            for w in b.windows:
                extra = f", stride {_hex(w.stride)} (`{w.const}_AT(i)`)" if w.stride else ""
                L.append(f"- `{w.const}`: {_hex(w.base, 3)}-{_hex(w.base + w.size - 1, 3)}{extra}. {w.desc}")
        for r in b.registers:
            L += ["", f"### {r.const}{'' if not r.emit_offset else ' @ ' + _hex(r.offset, 3)}: {r.title or r.name}", ""]
            if r.desc and r.desc != b.desc:
                L += [r.desc, ""]
            L += [f"{r.width} bits, reset {_hex(r.reset, r.width // 4)} (defined bits {_hex(r.reset_mask, r.width // 4)}).", "",
                  "| bits | field | access | hw | reset | description |", "|---|---|---|---|---|---|"]
            for f in sorted(r.fields, key=lambda f: -f.lsb):
                reset = "from RTL" if f.reset is None else _hex(f.reset)
                acc = f.access + (", volatile" if f.volatile else "")
                desc = _md(f.desc)
                if f.enum:
                    desc += f" Values: see `{f.enum}` below."
                L.append(f"| {_bits(f)} | `{f.name}` | {acc} | {f.hw} | {reset} | {desc} |")
    if m.enums:
        L += ["", "## Encoded values", ""]
        for e in m.enums:
            L += [f"### {e.const} (`{e.type_name}`)", "", "| value | name | meaning |", "|---|---|---|"]
            for n, v, d in e.members:
                L.append(f"| {_hex(v, 2)} | `{e.const}_{n}` | {_md(d)} |")
            L.append("")
    L += [
        "## RTL interface of the generated csr block",
        "",
        f"Module `{CSR_MODULE}` (package `{CSR_PACKAGE}`): `clk`, `rst` (active-high, synchronous), the",
        f"passthrough cpuif `s_cpuif_*` ({m.csr_addr_w}-bit byte address inside the csr page, 32-bit data), and",
        "`hwif_in`/`hwif_out`:",
        "",
        "```",
        hwif_report.strip(),
        "```",
        "",
    ]
    return "\n".join(L)


# ---------------------------------------------------------------------------------------------------
# PeakRDL-regblock
# ---------------------------------------------------------------------------------------------------
def run_regblock(csr_root, addr_w: int) -> Tuple[str, str, str]:
    from peakrdl_regblock import RegblockExporter
    from peakrdl_regblock.__about__ import __version__ as rb_version
    from peakrdl_regblock.cpuif.passthrough import PassthroughCpuif

    with tempfile.TemporaryDirectory() as tmp:
        RegblockExporter().export(
            csr_root.top, tmp,
            cpuif_cls=PassthroughCpuif,
            module_name=CSR_MODULE,
            package_name=CSR_PACKAGE,
            # The BAR decode hands the block the offset inside its 4 KiB page, not inside the 0x48 bytes
            # the registers happen to span, so unused offsets in the page decode to "no register".
            address_width=addr_w,
            # Hierarchical struct names (imsdev_csr__INT_CAUSE__SW_TEST__in_t) instead of names with
            # content hashes, so that editing a description does not rename RTL types.
            reuse_hwif_typedefs=False,
            default_reset_activelow=False,
            default_reset_async=False,
            generate_hwif_report=True,
        )
        sv = Path(tmp, CSR_MODULE + ".sv").read_text()
        pkg = Path(tmp, CSR_PACKAGE + ".sv").read_text()
        rpt = Path(tmp, CSR_MODULE + "_hwif.rpt").read_text()
    head = [
        f"// {BANNER}",
        f"// (PeakRDL-regblock {rb_version}, passthrough cpuif, active-high synchronous reset `rst`)",
        "",
        "`default_nettype none",
        "",
        "",
    ]
    tail = ["", "`default_nettype wire", ""]
    wrap = lambda text: "\n".join(head) + text.rstrip("\n") + "\n" + "\n".join(tail)
    return wrap(sv), wrap(pkg), rpt


# ---------------------------------------------------------------------------------------------------
def generate() -> Dict[str, str]:
    top, csr = compile_rdl()
    model = build_model(top)
    sv, pkg, rpt = run_regblock(csr, model.csr_addr_w)
    return {
        OUT_CSR_SV: sv,
        OUT_CSR_PKG: pkg,
        OUT_MAP_PKG: render_map_pkg(model),
        OUT_C: render_c(model),
        OUT_PY: render_py(model),
        OUT_MD: render_md(model, rpt),
    }


def compile_c_header(header_text: str) -> Optional[str]:
    """Compile a translation unit that includes the header; return an error text or None."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return "no C compiler (gcc) on PATH"
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "imsdev_regs.h").write_text(header_text)
        src = Path(tmp, "t.c")
        src.write_text('#include "imsdev_regs.h"\nint main(void) { return (int)(IMSDEV_CSR_DEV_ID & 0u); }\n')
        r = subprocess.run([cc, *C_FLAGS, "-I", tmp, "-o", str(Path(tmp, "t")), str(src)],
                           capture_output=True, text=True)
        if r.returncode:
            return r.stdout + r.stderr
    return None


def check(outputs: Dict[str, str], show_diff: bool) -> int:
    bad = []
    for rel, text in outputs.items():
        p = ROOT / rel
        if not p.exists():
            bad.append((rel, "missing"))
        elif p.read_text() != text:
            bad.append((rel, "stale"))
            if show_diff:
                sys.stdout.writelines(difflib.unified_diff(
                    p.read_text().splitlines(True), text.splitlines(True), f"a/{rel}", f"b/{rel}", n=2))
    for rel, why in bad:
        print(f"regen --check: {rel}: {why}")
    err = compile_c_header(outputs[OUT_C])
    if err:
        print(f"regen --check: {OUT_C} does not compile with gcc {' '.join(C_FLAGS)}:\n{err}")
    if bad or err:
        if bad:
            print("regen --check: run `python sim/tools/regen.py` and commit the result")
        return 1
    print(f"regen --check: {len(outputs)} generated files are current; C header compiles")
    return 0


def write(outputs: Dict[str, str]) -> None:
    for rel, text in outputs.items():
        p = ROOT / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists() or p.read_text() != text:
            p.write_text(text)
            print(f"regen: wrote {rel}")
    init = ROOT / "fw/imsdev/__init__.py"
    if not init.exists():
        # Another change may add a real __init__.py; create an empty one only if nothing is there.
        try:
            with open(init, "x"):
                pass
        except FileExistsError:
            pass


def lint() -> int:
    verilator = shutil.which("verilator")
    if verilator is None or verilator.startswith("/usr/bin"):
        print("regen --lint: put the venv's bin first on PATH (Debian's verilator is too old)")
        return 1
    cmd = [verilator, "--lint-only", "-Wall", "--top-module", CSR_MODULE, *LINT_FILES]
    print("regen --lint:", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="write nothing; fail if a generated file is stale")
    ap.add_argument("--diff", action="store_true", help="with --check: show what would change")
    ap.add_argument("--lint", action="store_true", help="run verilator --lint-only -Wall on rtl/regs/")
    args = ap.parse_args(argv)
    if args.lint:
        return lint()
    try:
        outputs = generate()
    except RegenError as e:
        print(f"regen: {e}", file=sys.stderr)
        return 2
    if args.check:
        return check(outputs, args.diff)
    write(outputs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
