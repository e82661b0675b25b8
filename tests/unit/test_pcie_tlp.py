"""tb/pcie/tlp.py and tb/pcie/hooks.py without a simulator: byte-exact TLPs built by hand from the facts
(PCIe r6.3 §6.20.2.1 PASID prefix, DMWr Fmt/Type 010/011 1_1011, completion status RRS = 010), round trips,
the stream-field layout of docs/tlp_interface.md, every malformed-input error, and the hook's install rules.

The end-to-end check of the hook (a DMWr through a real RootComplex, switch and port) needs cocotb's
scheduler, so it is the cocotb test `test_hooks_end_to_end` in tb/pcie/test/link_shim_tests.py.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `tb.pcie`

from cocotbext.pcie.core import port as cocotbext_port  # noqa: E402
from cocotbext.pcie.core.dllp import FcType  # noqa: E402
from cocotbext.pcie.core.tlp import CplStatus, Tlp, TlpType  # noqa: E402
from cocotbext.pcie.core.utils import PcieId  # noqa: E402

from tb.bad_inputs import BadInput  # noqa: E402
from tb.pcie import hooks  # noqa: E402
from tb.pcie.tlp import RRS, PasidTlp, StreamFields, TlpFormatError  # noqa: E402

H = bytes.fromhex


# ---- hand-built examples -------------------------------------------------------------------------------
DMWR64 = (
    H("91 8a bc de")              # PASID prefix: 100_1_0001, PMR=1 ER=0, PASID 0xABCDE
    + H("7b 00 00 10")            # Fmt 011 Type 1_1011, TC 0, Attr 0, Length 16 DW
    + H("00 00 05 ff")            # Requester 00:00.0, Tag 5, Last BE F, First BE F
    + H("00 00 00 01 23 45 67 80")  # address 0x1_2345_6780
    + bytes(range(64))
)
MWR32_PMR_ER = (
    H("91 c0 00 01")              # PMR=1 ER=1, PASID 0x00001
    + H("40 00 00 01")            # Fmt 010 Type 0 (MWr 3DW), Length 1
    + H("01 00 00 0f")            # Requester 01:00.0, Tag 0, Last BE 0 (1 DW), First BE F
    + H("00 00 10 04")            # address 0x1004
    + H("44 33 22 11")
)
CPL_RRS = (
    H("0a 00 00 00")              # Fmt 000 Type 0_1010 (Cpl), Length 0
    + H("01 00 40 04")            # Completer 01:00.0, Status 010 (RRS), BCM 0, Byte Count 4
    + H("00 00 07 00")            # Requester 00:00.0, Tag 7, Lower Address 0
)
MWR3DW = H("40 00 00 02") + H("00 10 2a ff") + H("c0 00 20 00") + bytes(range(8))
MWR4DW = H("60 00 00 01") + H("00 10 00 0e") + H("00 00 00 01 00 00 00 08") + H("00 aa bb cc")


def test_dmwr_64bit_with_pasid_bytes():
    tlp = PasidTlp.create_dmwr(0x1_2345_6780, bytes(range(64)), pasid=0xABCDE, pmr=True, tag=5)
    assert tlp.is_dmwr() and (tlp.fmt, tlp.type) == (0b011, 0x1B)
    assert bytes(tlp.pack()) == DMWR64
    assert tlp.get_size() == len(DMWR64)
    got = PasidTlp.unpack(DMWR64)
    assert got == tlp and got.is_dmwr() and (got.pasid, got.pmr, got.er) == (0xABCDE, True, False)
    assert got.fmt_type == TlpType.MEM_WRITE_64, "DMWr routes as a 64-bit memory request"
    assert got.get_fc_type() == FcType.NP and got.is_nonposted() and not got.is_posted()


def test_dmwr_32bit_code():
    tlp = PasidTlp.create_dmwr(0xC000_1000, bytes(64), pasid=0)
    assert tlp.pack()[4] == 0x5B and tlp.fmt_type == TlpType.MEM_WRITE
    assert PasidTlp.unpack(tlp.pack()) == tlp


def test_mwr_prefix_pmr_er_bytes():
    tlp = PasidTlp.create_mem_write(0x1004, H("44 33 22 11"), requester_id=PcieId(1, 0, 0), pasid=1, pmr=True,
                                    er=True)
    assert bytes(tlp.pack()) == MWR32_PMR_ER
    got = PasidTlp.unpack(MWR32_PMR_ER)
    assert got == tlp and got.is_mem_write() and got.is_posted() and (got.pmr, got.er) == (True, True)


def test_completion_rrs_bytes():
    req = PasidTlp.create_dmwr(0x4000, bytes(64), pasid=3, tag=7)
    cpl = PasidTlp.create_completion_for_tlp(req, PcieId(1, 0, 0), status=RRS)
    cpl.byte_count = 4
    assert RRS == CplStatus.CRS == 2
    assert bytes(cpl.pack()) == CPL_RRS
    got = PasidTlp.unpack(CPL_RRS)
    assert got == cpl and got.status == RRS and got.is_completion() and not got.has_prefix


def test_3dw_and_4dw_memory_writes():
    w3 = PasidTlp.create_mem_write(0xC000_2000, bytes(range(8)), requester_id=PcieId(0, 2, 0), tag=0x2A)
    assert bytes(w3.pack()) == MWR3DW and PasidTlp.unpack(MWR3DW) == w3
    w4 = PasidTlp.create_mem_write(0x1_0000_0009, H("aa bb cc"), requester_id=PcieId(0, 2, 0))
    assert (w4.first_be, w4.length) == (0xE, 1)
    assert bytes(w4.pack()) == MWR4DW and PasidTlp.unpack(MWR4DW) == w4
    assert PasidTlp.unpack(MWR4DW).get_header_size_dw() == 4


def test_plain_tlps_round_trip_like_the_base_class():
    rd = PasidTlp.create_mem_read(0x1_0000_0100, 64, tag=9, pasid=0xFFFFF, er=True)
    cpld = PasidTlp.create_completion_data_for_tlp(rd, PcieId(3, 0, 0))
    cpld.set_data(bytes(range(64)))
    cpld.byte_count = 64
    for tlp in (rd, cpld, PasidTlp.create_mem_read(0x80, 4)):
        assert PasidTlp.unpack(tlp.pack()) == tlp
    base = Tlp.unpack(PasidTlp.create_mem_read(0x80, 4).pack())
    assert PasidTlp(base) == base, "a PasidTlp copy of a plain Tlp equals it"


def test_copy_keeps_prefix_and_th():
    tlp = PasidTlp.create_dmwr(0x1000, bytes(64), pasid=0x12345, pmr=True)
    tlp.th = True
    copy = PasidTlp(tlp)
    assert copy == tlp and copy.is_dmwr() and copy.th and copy.pasid == 0x12345


@pytest.mark.parametrize("raw", [DMWR64, MWR32_PMR_ER, CPL_RRS, MWR3DW, MWR4DW])
def test_stream_fields_round_trip(raw):
    tlp = PasidTlp.unpack(raw)
    f = tlp.to_stream_fields()
    hdr_bytes = 16 if raw[4 if f.prfx_valid else 0] & 0x20 else 12
    assert f.hdr >> 120 == raw[4 if f.prfx_valid else 0], "hdr[127:120] is header byte 0"
    if hdr_bytes == 12:
        assert f.hdr & 0xFFFF_FFFF == 0
    assert PasidTlp.from_stream_fields(*f) == tlp


def test_stream_fields_layout():
    f = PasidTlp.unpack(DMWR64).to_stream_fields()
    assert f == StreamFields(0x7B000010_000005FF_00000001_23456780, True, 0x918ABCDE, bytes(range(64)))
    f = PasidTlp.unpack(CPL_RRS).to_stream_fields()
    assert f == StreamFields(0x0A000000_01004004_00000700_00000000, False, 0, b"")


# ---- malformed input ------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, message", [
    (b"", "truncated"),
    (H("40 00 00"), "truncated"),
    (H("91 00 00 01"), "truncated"),                          # prefix, no header
    (H("91 00 00 01 40 00 00 01 00 00"), "truncated"),        # header cut short
    (MWR3DW[:-1], "Length field says 2 DW"),                  # payload shorter than Length
    (MWR3DW + b"\0\0\0\0", "Length field says 2 DW"),         # payload longer than Length
    (CPL_RRS + b"\0", "has no payload"),
    (H("90 00 00 00") + MWR3DW, "unsupported TLP prefix type"),   # E2E TPH prefix
    (H("80 00 00 00") + MWR3DW, "unsupported TLP prefix type"),   # local prefix
    (H("91 00 00 01 91 00 00 02") + MWR3DW, "more than one TLP prefix"),
    (H("91 30 00 01") + MWR3DW, "reserved bits"),
    (H("91 00 00 01") + CPL_RRS, "not allowed on CPL"),
    (H("a0 00 00 00") + bytes(12), "reserved Fmt"),
    (H("1b 00 00 10") + bytes(12), "DMWr always carries data"),   # DMWr type without data
    (H("03 00 00 00") + bytes(8), "unsupported or malformed header"),  # unknown type
    (H("0a 00 00 00 01 00 60 04 00 00 07 00"), "unsupported or malformed header"),  # reserved status 011
])
def test_unpack_rejects(raw, message):
    with pytest.raises(TlpFormatError, match=message):
        PasidTlp.unpack(raw)


def test_pasid_width_and_flags_without_pasid():
    with pytest.raises(TlpFormatError, match="20 bits"):
        PasidTlp.create_dmwr(0x1000, bytes(64), pasid=1 << 20)
    tlp = PasidTlp.create_mem_write(0x1000, bytes(4))
    with pytest.raises(TlpFormatError, match="20 bits"):
        tlp.pasid = -1
    tlp.pmr = True
    with pytest.raises(TlpFormatError, match="without a PASID prefix"):
        tlp.pack()


def test_pack_rejects_inconsistent_tlps():
    tlp = PasidTlp.create_mem_write(0x1000, bytes(8))
    tlp.data = bytearray(4)
    with pytest.raises(TlpFormatError, match="does not match"):
        tlp.pack()
    cpl = PasidTlp.create_completion_for_tlp(PasidTlp.create_mem_read(0, 4), PcieId(0, 0, 0))
    cpl.pasid = 5
    with pytest.raises(TlpFormatError, match="not allowed on CPL"):
        cpl.pack()
    odd = PasidTlp()
    odd.fmt, odd.type = 0, 0x03
    with pytest.raises(TlpFormatError, match="unknown Fmt"):
        odd.pack()


@pytest.mark.parametrize("args, message", [
    ((1 << 128, False, 0), "128-bit"),
    ((0x9100_0000 << 96, False, 0), "prefixes travel on prfx"),
    ((0x40000001_00000000_00001000_00000001, False, 0, bytes(4)), "3DW header with nonzero"),
    ((0x40000001_00000000_00001000_00000000, True, 0x90000001, bytes(4)), "prfx\\[31:24\\] must be 0x91"),
    ((0x40000001_00000000_00001000_00000000, False, 0, bytes(8)), "Length field says 1 DW"),
])
def test_from_stream_fields_rejects(args, message):
    with pytest.raises(TlpFormatError, match=message):
        PasidTlp.from_stream_fields(*args)


def test_builders_reject_bad_requests():
    with pytest.raises(ValueError, match="4 KiB"):
        PasidTlp.create_mem_write(0xFFC, bytes(8))
    with pytest.raises(ValueError, match="DMWr"):
        PasidTlp.create_dmwr(0x1002, bytes(64))
    with pytest.raises(ValueError, match="DMWr"):
        PasidTlp.create_dmwr(0x1000, bytes(132))


# ---- hooks ------------------------------------------------------------------------------------------
def test_hook_install_is_idempotent_and_targets_the_port_rebuild():
    hooks.install()
    hooks.install()
    assert hooks.is_installed() and cocotbext_port.Tlp is PasidTlp
    rebuilt = cocotbext_port.Tlp(PasidTlp.create_dmwr(0x1000, bytes(64), pasid=9, er=True))
    assert rebuilt.is_dmwr() and (rebuilt.pasid, rebuilt.er) == (9, True)
    # every module of the package that builds TLPs builds PasidTlp, and none is left out: a module that
    # names `Tlp` is in the hook's list
    import pkgutil, importlib
    import cocotbext.pcie.core as core
    naming = {m.name for m in pkgutil.iter_modules(core.__path__)
              if m.name != "tlp" and getattr(importlib.import_module(f"{core.__name__}.{m.name}"), "Tlp", None)
              is not None}
    assert naming == {m.__name__.rsplit(".", 1)[1] for m in hooks.BUILDERS}, naming
    assert all(m.Tlp is PasidTlp for m in hooks.BUILDERS)
    from cocotbext.pcie.core import rc
    cpl = rc.Tlp.create_completion_data_for_tlp(PasidTlp.create_mem_read(0x1000, 4), rc.PcieId(0, 0, 0))
    assert type(cpl) is PasidTlp


def test_hook_version_pin():
    hooks.check_version("0.2.16")
    with pytest.raises(hooks.HookError, match="0.2.17"):
        hooks.check_version("0.2.17")
    assert hooks.installed_version() == hooks.SUPPORTED_VERSION


from cocotbext.pcie.core import function as _pcie_function  # noqa: E402

# cocotb's Queue and Event, as cocotbext-pcie names them (the per-tag hook's fakes below build these names;
# importing cocotb here would make sim/tools/bad_inputs_doc.py read this file as a cocotb module)
Queue, Event = _pcie_function.Queue, _pcie_function.Event
_REAL_QUEUE_EVENT = (Queue, Event)


def test_per_tag_lists_are_made_at_first_use():
    hooks.install()
    function = _pcie_function
    f = function.Function()
    # the module's names are back, and tag_release is a real Event
    assert function.Queue is Queue and function.Event is Event and type(f.tag_release) is Event
    for lst, kind in ((f.rx_cpl_queues, Queue), (f.rx_cpl_sync, Event)):
        assert type(lst) is hooks.PerTag and len(lst) == 256
        assert all(list.__getitem__(lst, t) is None for t in range(256)), "built before use"
        first = lst[7]
        assert type(first) is kind and lst[7] is first and list.__getitem__(lst, 7) is first
        assert list.__getitem__(lst, 8) is None
        assert lst[-1] is lst[255] and type(lst[255]) is kind
        assert lst[6:9] == [lst[6], first, lst[8]] and all(type(x) is kind for x in lst[6:9])
        assert [type(x) for x in lst] == [kind] * 256
    g = function.Function()
    assert g.rx_cpl_queues[7] is not f.rx_cpl_queues[7], "a function's queues are its own"


class _Shaped:          # a constructor of the shape the hook expects (see _PER_TAG_LINES)
    def __init__(self, fail=False):
        self.tag_release = Event()
        self.rx_cpl_queues = [Queue() for k in range(256)]
        self.rx_cpl_sync = [Event() for k in range(256)]
        if fail:
            raise ValueError("constructor failed")


class _Misshaped:       # builds one more Event, which the stand-ins would turn into None
    def __init__(self):
        self.tag_release = Event()
        self.rx_cpl_queues = [Queue() for k in range(256)]
        self.rx_cpl_sync = [Event() for k in range(256)]
        self.other = Event()


class _Resized:         # the per-tag lists are no longer 256 long
    def __init__(self):
        self.tag_release = Event()
        self.rx_cpl_queues = [Queue() for k in range(512)]
        self.rx_cpl_sync = [Event() for k in range(512)]


def test_per_tag_hook_checks_the_constructor_and_restores_names():
    hooks._check_per_tag_site(_Shaped)
    with pytest.raises(hooks.HookError, match="other than the per-tag lists"):
        hooks._check_per_tag_site(_Misshaped)
    with pytest.raises(hooks.HookError, match=r"rx_cpl_queues = \[Queue\(\) for k in range\(256\)\]"):
        hooks._check_per_tag_site(_Resized)
    init = hooks._per_tag_constructor(_Shaped)
    obj = _Shaped.__new__(_Shaped)
    init(obj)
    assert type(obj.tag_release) is Event and type(obj.rx_cpl_queues) is hooks.PerTag
    with pytest.raises(ValueError, match="constructor failed"):
        init(_Shaped.__new__(_Shaped), fail=True)
    assert (Queue, Event) == _REAL_QUEUE_EVENT, "stand-ins left in place"


# ---- request formation rules on decode (PCIe Base §2.2.4.1, §2.2.5, §2.2.7) ------------------------------
def _hdr3(byte0, length, first_be, last_be, addr):
    return bytes((byte0, 0, 0, length)) + bytes((0, 0, 0, last_be << 4 | first_be)) + addr.to_bytes(4, "big")


def _hdr4(byte0, length, first_be, last_be, addr):
    return bytes((byte0, 0, 0, length)) + bytes((0, 0, 0, last_be << 4 | first_be)) + addr.to_bytes(8, "big")


@pytest.mark.parametrize("raw, message", [
    (_hdr4(0x20, 1, 0xF, 0, 0x1000), "4DW header for address 0x1000 below 4 GiB"),           # MRd 4DW
    (_hdr4(0x60, 1, 0xF, 0, 0xFFFF_FFFC) + bytes(4), "below 4 GiB"),                        # MWr 4DW
    (_hdr3(0x00, 2, 0xF, 0xF, 0xFFC), "crosses a 4 KiB boundary"),                          # MRd
    (_hdr3(0x40, 4, 0xF, 0xF, 0x1FF8) + bytes(16), "crosses a 4 KiB boundary"),             # MWr
    (_hdr3(0x00, 0, 0xF, 0xF, 0x1004), "crosses a 4 KiB boundary"),                         # Length 0 = 1024 DW
    (_hdr3(0x00, 1, 0xF, 0x1, 0x1000), "Last DW BE 0b0001 must be 0000b"),
    (_hdr3(0x00, 3, 0x0, 0xF, 0x1000), "must be nonzero"),
    (_hdr3(0x40, 2, 0xF, 0x0, 0x1000) + bytes(8), "must be nonzero"),
    (_hdr3(0x00, 3, 0x5, 0xF, 0x1000), "non-contiguous"),                                    # first BE 0101
    (_hdr3(0x00, 3, 0xF, 0xE, 0x1000), "non-contiguous"),                                    # last BE 1110
    (_hdr3(0x00, 2, 0x9, 0x9, 0x1004), "non-contiguous"),                                    # 2 DW, not QW-aligned
    (_hdr3(0x5B, 33, 0xF, 0xF, 0x1000) + bytes(132), "at most 32 DW"),                       # DMWr 132 bytes
    (_hdr3(0x5B, 16, 0xE, 0xF, 0x1000) + bytes(64), "DMWr Byte Enables"),
    (_hdr3(0x5B, 16, 0xF, 0x7, 0x1000) + bytes(64), "DMWr Byte Enables"),
])
def test_unpack_rejects_malformed_requests(raw, message):
    with pytest.raises(TlpFormatError, match=message):
        PasidTlp.unpack(raw)


@pytest.mark.parametrize("raw", [
    _hdr3(0x00, 1, 0x0, 0x0, 0x1000),                  # zero-length read
    _hdr3(0x00, 1, 0x5, 0x0, 0x1000),                  # 1 DW: any First BE
    _hdr3(0x00, 2, 0x9, 0x9, 0x1000),                  # QW-aligned 2 DW: non-contiguous allowed
    _hdr3(0x00, 3, 0x8, 0x1, 0x1FF4),                  # contiguous, ends exactly at the 4 KiB boundary
    _hdr4(0x20, 1, 0xF, 0, 0x1_0000_0000),             # 4DW at exactly 4 GiB
    _hdr3(0x00, 0, 0xF, 0xF, 0x2000),                  # 1024 DW from a page start
    _hdr3(0x5B, 32, 0xF, 0xF, 0x1000) + bytes(128),    # DMWr of 128 bytes
    _hdr3(0x5B, 1, 0xF, 0x0, 0x1000) + bytes(4),       # DMWr of one DW
])
def test_unpack_accepts_well_formed_requests(raw):
    assert PasidTlp.unpack(raw).pack() == raw


@pytest.mark.parametrize("value", [2, -1, "yes", None, 1.0])
def test_pmr_er_must_be_boolean(value):
    tlp = PasidTlp.create_mem_write(0x1000, bytes(4), pasid=5)
    for name in ("pmr", "er"):
        with pytest.raises(TlpFormatError, match=f"{name.upper()} must be a boolean"):
            setattr(tlp, name, value)
    with pytest.raises(TlpFormatError, match="PMR must be a boolean"):
        PasidTlp.create_mem_read(0x1000, 4, pasid=5, pmr=2)
    tlp.pmr, tlp.er = 1, 0
    assert (tlp.pmr, tlp.er) == (True, False) and tlp.pack()[1] == 0x80


def test_completions_without_data_carry_byte_count_4():
    """UR/CA/RRS and DMWr completions: Byte Count 4, Lower Address 0 (docs/tlp_interface.md, completion rules)."""
    dmwr = PasidTlp.create_dmwr(0x1_0000_1040, bytes(64), pasid=5, tag=9)
    mrd = PasidTlp.create_mem_read(0x1002, 61, tag=3)
    for req in (dmwr, mrd):
        for make in (PasidTlp.create_ur_completion_for_tlp, PasidTlp.create_ca_completion_for_tlp,
                     PasidTlp.create_crs_completion_for_tlp):
            cpl = make(req, PcieId(1, 0, 0))
            assert (cpl.byte_count, cpl.lower_address, cpl.tag) == (4, 0, req.tag), (make.__name__, req)
            assert PasidTlp.unpack(cpl.pack()).byte_count == 4
    ok = PasidTlp.create_completion_for_tlp(dmwr, PcieId(1, 0, 0))
    assert (ok.status, ok.byte_count) == (CplStatus.SC, 4)


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
# Requests that keep the rules (zero-length read, QW-aligned 2-DW with non-contiguous BEs, 4DW at exactly 4 GiB, ...)
# decode: test_unpack_accepts_well_formed_requests.
BAD_INPUTS = (
    BadInput(cls="tlp", input="Truncated TLP: empty, 3 bytes, a PASID prefix with no header, a header cut short",
             outcome="PasidTlp.unpack raises TlpFormatError ('truncated')",
             test="test_unpack_rejects"),
    BadInput(cls="tlp", input="Payload shorter or longer than the Length field",
             outcome="PasidTlp.unpack raises TlpFormatError ('Length field says 2 DW ...')",
             test="test_unpack_rejects"),
    BadInput(cls="tlp", input="A completion without data (Cpl) followed by a payload byte",
             outcome="PasidTlp.unpack raises TlpFormatError ('... has no payload')",
             test="test_unpack_rejects"),
    BadInput(cls="tlp", input="A TLP prefix other than PASID (E2E TPH 0x90, local prefix 0x80)",
             outcome="PasidTlp.unpack raises TlpFormatError ('unsupported TLP prefix type')",
             test="test_unpack_rejects"),
    BadInput(cls="tlp", input="Two PASID prefixes",
             outcome="PasidTlp.unpack raises TlpFormatError ('more than one TLP prefix')",
             test="test_unpack_rejects"),
    BadInput(cls="tlp", input="PASID prefix with reserved bits 5:4 of byte 1 set",
             outcome="PasidTlp.unpack raises TlpFormatError ('reserved bits')",
             test="test_unpack_rejects"),
    BadInput(cls="tlp", input="PASID prefix on a completion",
             outcome="PasidTlp.unpack raises TlpFormatError ('not allowed on CPL')",
             test="test_unpack_rejects"),
    BadInput(cls="tlp", input="Reserved Fmt 101b",
             outcome="PasidTlp.unpack raises TlpFormatError ('reserved Fmt')",
             test="test_unpack_rejects"),
    BadInput(cls="tlp", input="DMWr type (1_1011) with a no-data Fmt",
             outcome="PasidTlp.unpack raises TlpFormatError ('DMWr always carries data')",
             test="test_unpack_rejects"),
    BadInput(cls="tlp", input="Unknown Type 0_0011, or a completion with reserved status 011b",
             outcome="PasidTlp.unpack raises TlpFormatError ('unsupported or malformed header')",
             test="test_unpack_rejects"),
    BadInput(cls="tlp", input="PASID of 21 bits (1 << 20) given to create_dmwr, or -1 set on a TLP",
             outcome="TlpFormatError ('20 bits')",
             test="test_pasid_width_and_flags_without_pasid"),
    BadInput(cls="tlp", input="PMR set on a TLP without a PASID prefix",
             outcome="pack() raises TlpFormatError ('without a PASID prefix')",
             test="test_pasid_width_and_flags_without_pasid"),
    BadInput(cls="tlp", input="Packing a TLP whose data does not match its Length, a completion with a PASID, an "
                              "unknown Fmt/Type",
             outcome="pack() raises TlpFormatError ('does not match' / 'not allowed on CPL' / 'unknown Fmt')",
             test="test_pack_rejects_inconsistent_tlps"),
    BadInput(cls="tlp", input="Stream fields: hdr wider than 128 bits; a prefix inside hdr; a 3DW header with nonzero "
                              "hdr[31:0]; prfx not 0x91; payload longer than Length",
             outcome="PasidTlp.from_stream_fields raises TlpFormatError ('128-bit' / 'prefixes travel on prfx' / '3DW "
                     "header with nonzero' / 'prfx[31:24] must be 0x91' / 'Length field says 1 DW')",
             test="test_from_stream_fields_rejects"),
    BadInput(cls="tlp", input="Building an MWr that crosses 4 KiB, a DMWr at a non-DWORD address, a DMWr of 132 bytes",
             outcome="create_mem_write / create_dmwr raise ValueError ('4 KiB' / 'DMWr')",
             test="test_builders_reject_bad_requests"),
    BadInput(cls="tlp", input="MRd or MWr with a 4DW header for an address below 4 GiB",
             outcome="PasidTlp.unpack raises TlpFormatError naming the rule ('4DW header for address ... below 4 "
                     "GiB')",
             test="test_unpack_rejects_malformed_requests"),
    BadInput(cls="tlp", input="MRd or MWr crossing a 4 KiB boundary (also Length 0 = 1024 DW from 0x1004)",
             outcome="PasidTlp.unpack raises TlpFormatError ('crosses a 4 KiB boundary')",
             test="test_unpack_rejects_malformed_requests"),
    BadInput(cls="tlp", input="1-DW request with a nonzero Last DW BE",
             outcome="PasidTlp.unpack raises TlpFormatError ('Last DW BE 0b0001 must be 0000b')",
             test="test_unpack_rejects_malformed_requests"),
    BadInput(cls="tlp", input="Multi-DW request with First or Last DW BE 0000b",
             outcome="PasidTlp.unpack raises TlpFormatError ('must be nonzero')",
             test="test_unpack_rejects_malformed_requests"),
    BadInput(cls="tlp", input="Non-contiguous Byte Enables (First 0101b, Last 1110b, or 1001b/1001b on a 2-DW request "
                              "not QW-aligned)",
             outcome="PasidTlp.unpack raises TlpFormatError ('non-contiguous')",
             test="test_unpack_rejects_malformed_requests"),
    BadInput(cls="tlp", input="DMWr of 33 DW (132 bytes)",
             outcome="PasidTlp.unpack raises TlpFormatError ('at most 32 DW')",
             test="test_unpack_rejects_malformed_requests"),
    BadInput(cls="tlp", input="DMWr with First DW BE 1110b or Last DW BE 0111b",
             outcome="PasidTlp.unpack raises TlpFormatError ('DMWr Byte Enables')",
             test="test_unpack_rejects_malformed_requests"),
    BadInput(cls="tlp", input="PMR or ER given as 2, -1, 'yes', None or 1.0",
             outcome="TlpFormatError ('PMR must be a boolean' / 'ER must be a boolean'), also from "
                     "create_mem_read(pmr=2)",
             test="test_pmr_er_must_be_boolean"),
)


def test_direct_link_copy_of_a_plain_tlp_is_a_full_pasid_tlp():
    """tb/pcie/direct.py hands the package's own completions (plain Tlp) on as PasidTlp copies: every field a
    PasidTlp has must be there, so the bench's hooks can copy them again (PoisonedReads, the ATS agent)."""
    from tb.pcie.direct import _copy
    base = Tlp.unpack(PasidTlp.create_mem_read(0x80, 4).pack())
    hop = _copy(base)
    again = PasidTlp(hop)
    assert again == base and again.pasid is None and again.msg_code == 0
    assert (hop.msg_b8_11, hop.msg_b12_15) == (0, 0)


# ---- PasidTlp.check: the package's Tlp.check with constant type sets ------------------------------------
def _check_cases():
    """Every TlpType with field values around each rule's edge (Length vs payload, 4 KiB crossing, Byte
    Count vs Length, reserved Length, Last BE), seeded so a failure replays."""
    import random
    rng = random.Random(20261203)
    for ft in TlpType:
        for _ in range(40):
            t = PasidTlp()
            t.fmt_type = ft
            t.length = rng.choice([0, 1, 2, 16, 1023, rng.randrange(1024)])
            has_data = t.fmt in (2, 3)
            t.data = bytearray(4 * (t.length if has_data and rng.random() < 0.8 else rng.randrange(4)))
            t.address = rng.choice([0, 0xFFC, 0xFC0, 0x1000 - 4 * t.length, rng.randrange(1 << 32)]) & ~3
            t.byte_count = rng.randrange(4096)
            t.lower_address = rng.randrange(128)
            t.last_be = rng.choice([0, 0xF])
            yield ft, t


def test_fast_check_matches_package(capsys):
    """Same verdict and message as cocotbext-pcie's Tlp.check for every type but configuration and I/O
    requests, where the package's rule never runs (it compares fmt_type == a set)."""
    cfg_io = {TlpType.CFG_READ_0, TlpType.CFG_WRITE_0, TlpType.CFG_READ_1, TlpType.CFG_WRITE_1,
              TlpType.IO_READ, TlpType.IO_WRITE}
    seen = {True: 0, False: 0}
    for ft, t in _check_cases():
        if ft in cfg_io:
            continue
        ours = t.check()
        out_ours = capsys.readouterr().out
        theirs = Tlp.check(t)
        out_theirs = capsys.readouterr().out
        assert (ours, out_ours) == (theirs, out_theirs), ft
        seen[ours] += 1
    assert seen[True] > 100 and seen[False] > 100, seen       # both verdicts exercised


def test_fast_check_applies_cfg_io_rule(capsys):
    """Configuration and I/O requests: Length 1 and Last BE 0, as the package intended."""
    for ft in (TlpType.CFG_READ_0, TlpType.CFG_WRITE_1, TlpType.IO_WRITE):
        t = PasidTlp()
        t.fmt_type = ft
        t.length, t.last_be = 1, 0
        t.data = bytearray(4 if t.fmt == 2 else 0)
        assert t.check()
        t.length = 2
        t.data = bytearray(8 if t.fmt == 2 else 0)
        assert not t.check()
        assert "invalid length for IO or configuration request" in capsys.readouterr().out
        t.length, t.last_be = 1, 0xF
        t.data = bytearray(4 if t.fmt == 2 else 0)
        assert not t.check()
        assert "invalid last BE" in capsys.readouterr().out


# ---- PasidTlp header packing: the package's Tlp.pack_header/unpack_header with constant type sets -------
_HDR_FIELDS = ("fmt", "type", "length", "at", "attr", "ep", "td", "th", "ln", "tag", "tc", "first_be", "last_be",
               "requester_id", "completer_id", "address", "ph", "byte_count", "bcm", "status", "lower_address")


def _outcome(fn):
    try:
        return fn(), None
    except Exception as exc:          # noqa: BLE001 - the package raises bare Exception/ValueError
        return None, type(exc)


def test_fast_header_pack_unpack_match_package():
    """Every TlpType but the message types PasidTlp packs itself, random fields (seeded): the same header
    bytes as cocotbext-pcie's Tlp.pack_header, and the same fields (or the same exception type) from
    unpacking random header bytes as Tlp.unpack_header."""
    import random
    from tb.pcie.tlp import _MSG_TYPES
    rng = random.Random(20261203)
    packed = 0
    for ft in TlpType:
        if ft in _MSG_TYPES:
            continue
        for _ in range(30):
            t = PasidTlp()
            t.fmt_type = ft
            t.length = rng.randrange(1024)
            t.at, t.attr, t.tc = rng.randrange(3), rng.randrange(8), rng.randrange(8)
            t.ep, t.td, t.th, t.ln = (rng.random() < 0.5 for _ in range(4))
            t.tag = rng.randrange(1024)
            t.first_be, t.last_be = rng.randrange(16), rng.randrange(16)
            t.requester_id, t.completer_id = PcieId.from_int(rng.randrange(1 << 16)), PcieId.from_int(rng.randrange(1 << 16))
            t.address = rng.randrange(1 << 64) & ~3
            t.ph = rng.randrange(4)
            t.byte_count, t.bcm, t.status = rng.randrange(4096), rng.random() < 0.5, CplStatus(rng.choice((0, 1, 2, 4)))
            t.lower_address = rng.randrange(128)
            ours, ours_exc = _outcome(lambda: bytes(t._pack_request_cpl_header()))
            theirs, theirs_exc = _outcome(lambda: bytes(Tlp.pack_header(t)))
            assert (ours, ours_exc) == (theirs, theirs_exc), ft
            packed += ours is not None
    assert packed > 500
    unpacked = 0
    for _ in range(4000):
        raw = bytearray(rng.randrange(256) for _ in range(16))
        if rng.random() < 0.8:         # mostly a known Fmt/Type, so that the field decoding is compared
            f, ty = rng.choice([t.value for t in TlpType])
            raw[0] = f << 5 | ty
        raw = bytes(raw)
        if (raw[0] >> 5, raw[0] & 0x1F) in {m.value for m in _MSG_TYPES}:
            continue
        ours, ours_exc = _outcome(lambda: PasidTlp._unpack_request_cpl_header(raw))
        theirs, theirs_exc = _outcome(lambda: Tlp.unpack_header.__func__(PasidTlp, raw))
        assert ours_exc == theirs_exc, raw.hex()
        if ours is not None:
            assert [(type(getattr(ours, f)), getattr(ours, f)) for f in _HDR_FIELDS] == \
                [(type(getattr(theirs, f)), getattr(theirs, f)) for f in _HDR_FIELDS], raw.hex()
            unpacked += 1
    assert unpacked > 1000, unpacked


def test_blank_tlp_is_a_full_default_tlp():
    """PasidTlp() copies the defaults of the first blank one: every field as the full constructor sets it, a
    payload buffer of its own, and the copy unaffected by changes to an earlier TLP."""
    first = PasidTlp()
    first.tag, first.address = 7, 0x1000
    first.data += b"abcd"
    first.set_pasid(5, pmr=True)
    fresh = PasidTlp()
    full = object.__new__(PasidTlp)
    Tlp.__init__(full)
    full._pasid, full._pmr, full._er = None, False, False
    full.msg_code = full.msg_b8_11 = full.msg_b12_15 = 0
    assert fresh.__dict__ == full.__dict__
    assert fresh.data == bytearray() and fresh.data is not PasidTlp().data
    assert fresh.pasid is None and fresh.tag == 0 and fresh.address == 0


def test_fmt_type_of_dmwr_codes():
    """Type 1_1011 is a DMWr only with data (Fmt 010 / 011): it then routes as MWr / MWr64; without data it is
    no type at all (the Enum's ValueError, as for any unknown code)."""
    t = PasidTlp()
    for fmt, want in ((0b010, TlpType.MEM_WRITE), (0b011, TlpType.MEM_WRITE_64)):
        t.fmt, t.type = fmt, 0x1B
        assert t.is_dmwr() and t.fmt_type == want
    for fmt in (0b000, 0b001):
        t.fmt, t.type = fmt, 0x1B
        assert not t.is_dmwr()
        with pytest.raises(ValueError):
            t.fmt_type


def test_code_lookups_match_package():
    """has_data, get_header_size(_dw), get_fc_type and is_posted/nonposted/completion looked up by code give
    the package's answers (or its exception type) for every Fmt/Type code, except that a DMWr (Type 1_1011
    with data) is non-posted."""
    from tb.pcie.tlp import DMWR_TYPE
    for fmt in range(8):
        for ty in range(32):
            t = PasidTlp()
            t.fmt, t.type = fmt, ty
            for name in ("has_data", "get_header_size", "get_header_size_dw", "get_fc_type", "is_posted",
                         "is_nonposted", "is_completion"):
                ours = _outcome(getattr(t, name))
                theirs = _outcome(lambda: getattr(Tlp, name)(t))
                if ty == DMWR_TYPE and fmt in (2, 3) and name in ("get_fc_type", "is_posted", "is_nonposted"):
                    want = {"get_fc_type": FcType.NP, "is_posted": False, "is_nonposted": True}[name]
                    assert ours == (want, None), (fmt, ty, name, ours)
                else:
                    assert ours == theirs, (fmt, ty, name, ours, theirs)


def test_fmt_type_of_plain_and_pasid_tlps():
    """fmt_type_of answers what the TLP's own fmt_type property does, for every code, plain Tlp or PasidTlp
    (an unknown code: the same exception type)."""
    from tb.pcie.tlp import fmt_type_of
    for cls in (Tlp, PasidTlp):
        for fmt in range(8):
            for ty in range(32):
                t = cls()
                t.fmt, t.type = fmt, ty
                assert _outcome(lambda: fmt_type_of(t)) == _outcome(lambda: t.fmt_type), (cls, fmt, ty)
