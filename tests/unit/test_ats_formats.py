"""tb/pcie/ats.py and the ATS parts of tb/pcie/tlp.py without a simulator (docs/ats_pri.md 1.3, 1.4):
S encoding round trips and boundaries (4 KiB, 8 KiB, 2 MiB, 1 GiB, "all"), the Translation Completion
entry and Invalidate Request payload bit positions and wire order (against hand-built bytes and the RTL's
switch), AT rules of request_format_error, and Invalidate Request / Completion messages byte-exact."""
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cocotbext.pcie.core.tlp import TlpType  # noqa: E402
from cocotbext.pcie.core.utils import PcieId  # noqa: E402

from tb.pcie import ats  # noqa: E402
from tb.pcie.tlp import PasidTlp, TlpFormatError, request_format_error  # noqa: E402

H = bytes.fromhex


# ---- S encoding ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("size, page, s, field", [
    (0, 0x12345, 0, 0x12345),                       # 4 KiB: S = 0, address as is
    (1, 0x12345, 1, 0x12344),                       # 8 KiB: S = 1, bit 12 = 0
    (2, 0x12345, 1, 0x12345),                       # 16 KiB: bit 12 = 1, bit 13 = 0
    (ats.SIZE_2M, 0x40000 | 0x1FF, 1, 0x400FF),     # 2 MiB: bits 19:12 = 1, bit 20 = 0
    (ats.SIZE_1G, 0x80000 | 0x3FFFF, 1, 0x80000 | 0x1FFFF),   # 1 GiB: bits 28:12 = 1, bit 29 = 0
    (ats.SIZE_ALL, 0xABC, 1, (1 << 51) - 1),        # all: 62:12 = 1, bit 63 = 0
])
def test_s_encode_examples(size, page, s, field):
    assert ats.s_encode(size, page) == (s, field)
    dsize, base = ats.s_decode(s, field)
    assert dsize == size
    if size < ats.SIZE_ALL:
        assert base == page & ~ats.size_mask(size)


@pytest.mark.parametrize("size", range(0, ats.SIZE_ALL + 1))
def test_s_round_trip_every_size(size):
    page = 0xF_FFFF_FFFF_FFFF & ~ats.size_mask(size) if size < ats.SIZE_ALL else 0
    page &= ~(1 << 51)   # keep bit 63 clear so the page field is never all ones
    s, field = ats.s_encode(size, page)
    assert ats.s_decode(s, field) == (size, page & ~ats.size_mask(size))


def test_s_undefined_all_ones_and_bad_size():
    with pytest.raises(ats.AtsFormatError):
        ats.s_decode(1, ats.PAGE_MASK)
    with pytest.raises(ats.AtsFormatError):
        ats.s_encode(53, 0)


def test_smallest_cover_and_stu():
    assert ats.smallest_cover(0x100, 1) == 0
    assert ats.smallest_cover(0x100, 2) == 1
    assert ats.smallest_cover(0x101, 2) == 2          # pages 0x101..0x102 straddle an 8 KiB boundary
    assert ats.smallest_cover(0x200, 512) == ats.SIZE_2M
    assert ats.stu_bytes(0) == 4096 and ats.stu_bytes(9) == 2 << 20


# ---- Translation Completion entry -------------------------------------------------------------------------
def test_entry_bits_and_wire_order():
    e = ats.TranslationEntry(page=0x1_2345_6789A, size=0, r=True, w=False, u=False, exe=True, priv=True,
                             glob=False, n=True)
    val = e.pack()
    assert val == (0x1_2345_6789A << 12) | (1 << 10) | (1 << 4) | (1 << 3) | 1
    # DW0 = bits 63:32 big-endian, then bits 31:0 (docs/ats_pri.md 1.3, ENTRY_DW0_HIGH)
    assert e.to_payload(True) == H("00 01 23 45") + H("67 89 a4 19")
    assert e.to_payload(False) == H("67 89 a4 19") + H("00 01 23 45")
    assert ats.TranslationEntry.from_payload(e.to_payload()) == e


@pytest.mark.parametrize("size", [0, 1, ats.SIZE_2M, ats.SIZE_1G, 30])
def test_entry_round_trip_sizes(size):
    page = 0x123_4000_0000 >> 12 << 12 & ~ats.size_mask(size) & ats.PAGE_MASK
    e = ats.TranslationEntry(page=page, size=size, r=True, w=True)
    back = ats.TranslationEntry.unpack(e.pack())
    assert back == e and back.nbytes == 4096 << size


def test_entry_all_is_not_a_translation():
    with pytest.raises(ats.AtsFormatError):
        ats.TranslationEntry(size=ats.SIZE_ALL).pack()


def test_rtl_and_bench_agree_on_wire_order():
    """One switch per side (RTL package, this module): a mismatch would hide in both, so compare them."""
    pkg = (ROOT / "rtl/ats/imsdev_ats_pkg.sv").read_text()
    m = re.search(r"ENTRY_DW0_HIGH\s*=\s*1'b([01])", pkg)
    assert m, "imsdev_ats_pkg::ENTRY_DW0_HIGH not found"
    assert bool(int(m.group(1))) == ats.ENTRY_DW0_HIGH
    m = re.search(r"MSG_CODE_INV_REQ\s*=\s*8'h([0-9a-fA-F]+)", pkg)
    assert int(m.group(1), 16) == ats.MSG_CODE_INV_REQ
    m = re.search(r"MSG_CODE_INV_CPL\s*=\s*8'h([0-9a-fA-F]+)", pkg)
    assert int(m.group(1), 16) == ats.MSG_CODE_INV_CPL


# ---- Invalidate payload -------------------------------------------------------------------------------
@pytest.mark.parametrize("size, page", [(0, 0x7_0000), (1, 0x7_0002), (ats.SIZE_2M, 0x7_0200),
                                        (ats.SIZE_1G, 0x4_0000), (ats.SIZE_ALL, 0)])
def test_invalidate_payload_round_trip(size, page):
    p = ats.InvalidatePayload(page, size)
    assert ats.InvalidatePayload.from_payload(p.to_payload()) == p
    assert p.covers(page) and p.covers(page + (1 << size) - 1)
    if size < ats.SIZE_ALL:
        assert not p.covers(page + (1 << size)) and not p.covers(page - 1)
    else:
        assert p.covers(ats.PAGE_MASK) and p.covers(0x12345)


def test_invalidate_payload_bits():
    assert ats.InvalidatePayload(0x7_0200, ats.SIZE_2M, glob=True).pack() == \
        ((0x7_0200 | 0xFF) << 12) | (1 << 11) | 1


# ---- AT rules -------------------------------------------------------------------------------------------
def _treq(addr=0x5000, length=2, at=ats.AT_TRANSLATION_REQUEST):
    tlp = PasidTlp.create_mem_read(addr, 4 * length, pasid=7)
    tlp.at = at
    return tlp


def test_translation_request_rules():
    assert request_format_error(_treq()) is None
    assert request_format_error(_treq(length=4)) is None
    assert "even" in request_format_error(_treq(length=1))
    assert "even" in request_format_error(_treq(length=3))
    assert "11:0" in request_format_error(_treq(addr=0x5100))
    w = PasidTlp.create_mem_write(0x5000, bytes(8))
    w.at = ats.AT_TRANSLATION_REQUEST
    assert "Memory Read" in request_format_error(w)
    w.at = ats.AT_TRANSLATED
    assert request_format_error(w) is None
    w.at = ats.AT_RESERVED
    assert "reserved" in request_format_error(w)


def test_at_travels_in_stream_fields():
    for at in (ats.AT_TRANSLATION_REQUEST, ats.AT_TRANSLATED):
        tlp = _treq(at=at)
        f = tlp.to_stream_fields()
        assert (f.hdr >> 96) >> 10 & 3 == at        # header DW0 bits 11:10
        back = PasidTlp.from_stream_fields(*f)
        assert back.at == at and back.pasid == 7 and back == tlp


def test_reserved_at_on_the_wire_is_rejected():
    f = PasidTlp.create_mem_read(0x5000, 8).to_stream_fields()
    with pytest.raises(TlpFormatError, match="AT 11b"):
        PasidTlp.from_stream_fields(f.hdr | (3 << 106), f.prfx_valid, f.prfx, f.data)
    with pytest.raises(TlpFormatError, match="Translation Request"):
        PasidTlp.from_stream_fields(f.hdr | (1 << 106) | (0x100 << 32), f.prfx_valid, f.prfx, f.data)


# ---- Invalidate Request / Completion messages -----------------------------------------------------------
def test_invalidate_request_bytes():
    tlp = PasidTlp.create_invalidate_request(requester_id=0x0000, dest_id=0x0108, itag=5, page=0x7_0200,
                                             size=ats.SIZE_2M, pasid=0x12345)
    raw = bytes(tlp.pack())
    assert raw[:4] == H("91 01 23 45")                       # PASID prefix
    assert raw[4:8] == H("72 00 00 02")                      # MsgD routed by ID, Length 2
    assert raw[8:12] == H("00 00 05 01")                     # Requester ID (TA), ITag 5, code 0x01
    assert raw[12:16] == H("01 08 00 00")                    # Device ID = the function
    assert raw[16:20] == bytes(4)
    assert raw[20:28] == ats.InvalidatePayload(0x7_0200, ats.SIZE_2M).to_payload()
    back = PasidTlp.from_stream_fields(*tlp.to_stream_fields())
    assert back == tlp and back.is_inv_request() and int(back.completer_id) == 0x0108
    itag, body = back.inv_request_fields()
    assert itag == 5 and body == ats.InvalidatePayload(0x7_0200, ats.SIZE_2M)


def test_invalidate_completion_bytes():
    tlp = PasidTlp.create_invalidate_completion(requester_id=0x0108, dest_id=0x0000, itag_vector=0x8000_0021,
                                                cc=1)
    raw = bytes(tlp.pack())
    assert raw == H("32 00 00 00") + H("01 08 00 02") + H("00 00 00 01") + H("80 00 00 21")
    back = PasidTlp.unpack(raw)
    assert back.is_inv_completion() and back.inv_completion_fields() == (1, 0x8000_0021)
    assert PasidTlp.create_invalidate_completion(requester_id=1, dest_id=0, itag_vector=1, cc=0) \
        .inv_completion_fields() == (8, 1)


def test_message_bad_inputs():
    with pytest.raises(ValueError):
        PasidTlp.create_invalidate_request(requester_id=0, dest_id=8, itag=32, page=0, size=0)
    cpl = PasidTlp.create_invalidate_completion(requester_id=8, dest_id=0, itag_vector=1)
    cpl.set_pasid(3)
    with pytest.raises(TlpFormatError, match="PASID prefix"):
        cpl.pack()
    raw = bytearray(PasidTlp.create_invalidate_completion(requester_id=8, dest_id=0, itag_vector=1).pack())
    raw[2] |= 0x08                                                   # AT = 10b on a message
    with pytest.raises(TlpFormatError, match="AT"):
        PasidTlp.unpack(bytes(raw))
    with pytest.raises(TlpFormatError):
        PasidTlp.create_invalidate_completion(requester_id=8, dest_id=0, itag_vector=1).inv_request_fields()


def test_message_survives_the_hop_copy():
    tlp = PasidTlp.create_invalidate_request(requester_id=0, dest_id=0x0108, itag=3, page=9, size=0, pasid=4)
    assert PasidTlp(tlp) == tlp and PasidTlp(tlp).msg_code == ats.MSG_CODE_INV_REQ
    assert tlp.fmt_type == TlpType.MSG_DATA_ID and tlp.is_posted()
    assert PcieId.from_int(0x0108) == tlp.completer_id
