"""ATS formats shared by the bench (docs/ats_pri.md 1.1, 1.3, 1.4): the one Python module for them.

* AT field values (PCIe Base r6.x Table 10-1): 00b untranslated, 01b Translation Request, 10b translated,
  11b reserved.
* S encoding of a naturally aligned range (PCIe §10.2.3.2, Table 10-5). Sizes are log2 of the number of
  4 KiB pages: 0 = 4 KiB, 1 = 8 KiB, 9 = 2 MiB, 18 = 1 GiB, `SIZE_ALL` (52) = every address ("all
  translations": S = 1, address bits 62:12 all 1, bit 63 = 0).
* The 8-byte Translation Completion data entry (bits 63:12 translated address, 11 S, 10 N, 5 Global, 4 Priv,
  3 Exe, 2 U, 1 W, 0 R) and the Invalidate Request payload (63:12 untranslated address, 11 S, 0 Global).
* Wire order of both on the payload: `ENTRY_DW0_HIGH` (docs/ats_pri.md 1.3, as PCIe r6.2 Figure 10-14 and the
  Invalidate Request body show it): True = payload DW0 carries entry bits 63:32; each DW in header byte order
  (byte 0 = bits 31:24).
  The RTL's switch is `imsdev_ats_pkg::ENTRY_DW0_HIGH`; both must agree (tests/unit/test_ats_formats.py).
* Message codes and Fmt/Type bytes of Invalidate Request (MsgD by ID, 0x72, code 0x01) and Invalidate
  Completion (Msg by ID, 0x32, code 0x02).
"""
from __future__ import annotations

from dataclasses import dataclass

AT_UNTRANSLATED = 0
AT_TRANSLATION_REQUEST = 1
AT_TRANSLATED = 2
AT_RESERVED = 3

ATS_EXT_CAP_ID = 0x000F
PAGE_SHIFT = 12
PAGE_BITS = 52                      # address bits 63:12
PAGE_MASK = (1 << PAGE_BITS) - 1
SIZE_ALL = 52
SIZE_2M = 9
SIZE_1G = 18
ITAGS = 32

ENTRY_DW0_HIGH = True

MSG_CODE_INV_REQ = 0x01
MSG_CODE_INV_CPL = 0x02
MSG_CODE_PAGE_REQ = 0x04
MSG_CODE_PRG_RESP = 0x05
FT_MSGD_ID = 0x72
FT_MSG_ID = 0x32
FT_MSG_TO_RC = 0x30


class AtsFormatError(ValueError):
    """A field combination the ATS formats cannot express (or that the spec leaves undefined)."""


# ---- S encoding -----------------------------------------------------------------------------------------
def size_mask(size: int) -> int:
    """Page-number bits inside one range of 2^size pages."""
    return PAGE_MASK if size >= SIZE_ALL else (1 << size) - 1


def s_encode(size: int, page: int) -> tuple[int, int]:
    """(S, page field) for the naturally aligned range of 2^size pages containing `page` (address >> 12)."""
    if not 0 <= size <= SIZE_ALL:
        raise AtsFormatError(f"size 2^{size} pages outside 0..{SIZE_ALL}")
    if size == 0:
        return 0, page & PAGE_MASK
    if size == SIZE_ALL:
        return 1, (1 << (PAGE_BITS - 1)) - 1          # bits 62:12 all 1, bit 63 = 0
    return 1, (page & ~size_mask(size) & PAGE_MASK) | ((1 << (size - 1)) - 1)


def s_decode(s: int, page: int) -> tuple[int, int]:
    """(size, base page) of a range from S and the page field. S = 1 with bits 63:12 all 1 is undefined."""
    page &= PAGE_MASK
    if not s:
        return 0, page
    if page == PAGE_MASK:
        raise AtsFormatError("S = 1 with address bits 63:12 all 1 is undefined (PCIe Table 10-5)")
    n = 0
    while n < PAGE_BITS - 1 and (page >> n) & 1:
        n += 1
    size = min(n + 1, SIZE_ALL)
    return size, page & ~size_mask(size) & PAGE_MASK


def pages_of(size: int) -> int:
    return 1 << size


# ---- payload word order ---------------------------------------------------------------------------------
def qword_to_payload(val: int, dw0_high: bool = ENTRY_DW0_HIGH) -> bytes:
    hi, lo = (val >> 32) & 0xFFFF_FFFF, val & 0xFFFF_FFFF
    first, second = (hi, lo) if dw0_high else (lo, hi)
    return first.to_bytes(4, "big") + second.to_bytes(4, "big")


def payload_to_qword(payload: bytes, dw0_high: bool = ENTRY_DW0_HIGH) -> int:
    if len(payload) != 8:
        raise AtsFormatError(f"an ATS entry/payload is 8 bytes, got {len(payload)}")
    dw0 = int.from_bytes(payload[0:4], "big")
    dw1 = int.from_bytes(payload[4:8], "big")
    return (dw0 << 32 | dw1) if dw0_high else (dw1 << 32 | dw0)


# ---- Translation Completion data entry ------------------------------------------------------------------
@dataclass(frozen=True)
class TranslationEntry:
    """One Translation Completion entry. `page` is the translated page (address >> 12) of the range's base,
    `size` log2 pages (the S encoding is applied on pack)."""
    page: int = 0
    size: int = 0
    r: bool = False
    w: bool = False
    u: bool = False
    exe: bool = False
    priv: bool = False
    glob: bool = False
    n: bool = False
    ama: int = 0

    def pack(self) -> int:
        if self.size >= SIZE_ALL:
            raise AtsFormatError("a translation cannot cover every address (S 'all' is for invalidations)")
        s, field = s_encode(self.size, self.page)
        return (field << PAGE_SHIFT) | (s << 11) | (int(self.n) << 10) | ((self.ama & 7) << 6) | \
            (int(self.glob) << 5) | (int(self.priv) << 4) | (int(self.exe) << 3) | (int(self.u) << 2) | \
            (int(self.w) << 1) | int(self.r)

    @classmethod
    def unpack(cls, val: int) -> "TranslationEntry":
        size, page = s_decode((val >> 11) & 1, val >> PAGE_SHIFT)
        return cls(page=page, size=size, r=bool(val & 1), w=bool(val & 2), u=bool(val & 4), exe=bool(val & 8),
                   priv=bool(val & 16), glob=bool(val & 32), n=bool(val & 1 << 10), ama=(val >> 6) & 7)

    def to_payload(self, dw0_high: bool = ENTRY_DW0_HIGH) -> bytes:
        return qword_to_payload(self.pack(), dw0_high)

    @classmethod
    def from_payload(cls, payload: bytes, dw0_high: bool = ENTRY_DW0_HIGH) -> "TranslationEntry":
        return cls.unpack(payload_to_qword(payload, dw0_high))

    @property
    def address(self) -> int:
        return self.page << PAGE_SHIFT

    @property
    def nbytes(self) -> int:
        return 1 << (self.size + PAGE_SHIFT)


# ---- Invalidate Request payload -------------------------------------------------------------------------
@dataclass(frozen=True)
class InvalidatePayload:
    """Invalidate Request body: untranslated range (base page, log2 pages; SIZE_ALL = every address) and the
    Global Invalidate bit."""
    page: int = 0
    size: int = 0
    glob: bool = False

    def pack(self) -> int:
        s, field = s_encode(self.size, self.page)
        return (field << PAGE_SHIFT) | (s << 11) | int(self.glob)

    @classmethod
    def unpack(cls, val: int) -> "InvalidatePayload":
        size, page = s_decode((val >> 11) & 1, val >> PAGE_SHIFT)
        return cls(page=page if size < SIZE_ALL else 0, size=size, glob=bool(val & 1))

    def to_payload(self, dw0_high: bool = ENTRY_DW0_HIGH) -> bytes:
        return qword_to_payload(self.pack(), dw0_high)

    @classmethod
    def from_payload(cls, payload: bytes, dw0_high: bool = ENTRY_DW0_HIGH) -> "InvalidatePayload":
        return cls.unpack(payload_to_qword(payload, dw0_high))

    def covers(self, page: int, size: int = 0) -> bool:
        """True if this range overlaps the range of 2^size pages at `page`."""
        m = size_mask(self.size) | size_mask(size)
        return ((self.page ^ page) & ~m & PAGE_MASK) == 0


def smallest_cover(page: int, npages: int) -> int:
    """log2 pages of the smallest naturally aligned range containing [page, page + npages)."""
    if npages < 1:
        raise AtsFormatError("an invalidation covers at least one page")
    size = 0
    last = page + npages - 1
    while (page >> size) != (last >> size):
        size += 1
    return min(size, SIZE_ALL)


def stu_bytes(stu: int) -> int:
    """Smallest Translation Unit of ATS Control.STU: 2^STU x 4096 bytes."""
    return 4096 << stu
