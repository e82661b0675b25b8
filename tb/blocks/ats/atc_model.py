"""Reference model of the device's Address Translation Cache (docs/ats_pri.md 2.3) and of the ATS formats it
decodes (PCIe Base r6.x 10.2.3.2 Table 10-5 S encoding; the completion entry wire order of docs/ats_pri.md 1.3).

Sizes are log2 of the number of 4 KiB pages: 0 = 4 KiB, 9 = 2 MiB, 18 = 1 GiB, 52 = everything.
"""
from __future__ import annotations

from dataclasses import dataclass

from tb.pcie import ats as _ats

# The formats come from tb/pcie/ats.py (one source with the system bench; its unit test checks the wire-order
# switch against imsdev_ats_pkg). Sizes here are log2 pages as there.
ALL = _ats.SIZE_ALL
PAGE_BITS = _ats.PAGE_BITS
PAGE_MASK = _ats.PAGE_MASK
ENTRY_DW0_HIGH = _ats.ENTRY_DW0_HIGH
s_encode = _ats.s_encode
mask = _ats.size_mask


def s_decode(s: int, page: int) -> int:
    """The size the device decodes from S and the page number. The one encoding PCIe leaves undefined (S = 1
    with address bits 63:12 all 1, where tb.pcie.ats raises) the device reads as everything."""
    if s and (page & PAGE_MASK) == PAGE_MASK:
        return ALL
    return _ats.s_decode(s, page)[0]


def entry_from_payload(payload: bytes) -> int:
    """The 64-bit Translation Completion entry from its 8 payload bytes (byte 0 first on the link)."""
    return _ats.payload_to_qword(payload)


def overlap(a: int, asz: int, b: int, bsz: int) -> bool:
    return ((a ^ b) & ~(mask(asz) | mask(bsz)) & PAGE_MASK) == 0


@dataclass
class Entry:
    pasid: int
    priv: int
    va: int
    pa: int
    size: int
    r: int
    w: int

    def covers(self, pasid: int, priv: int, page: int) -> bool:
        return self.pasid == pasid and self.priv == priv and ((self.va ^ page) & ~mask(self.size)) == 0


class AtcModel:
    """Fully associative, ENTRIES entries; replacement: an overlapping entry of the same key, else the first free
    entry, else round robin; invalidate with PASID: that PASID's overlapping entries; without: all."""

    def __init__(self, entries: int):
        self.n = entries
        self.slots: list[Entry | None] = [None] * entries
        self.rr = 0
        self.evictions = 0

    def lookup(self, pasid: int, priv: int, page: int):
        """(hit, r, w, pa page) as the RTL shows it before the clock edge."""
        for e in self.slots:
            if e is not None and e.covers(pasid, priv, page):
                return 1, e.r, e.w, (e.pa & ~mask(e.size) & PAGE_MASK) | (page & mask(e.size))
        return 0, 0, 0, 0

    def step(self, *, clear=False, ins=None, inv=None):
        """One clock edge. ins = (pasid, priv, page, pa, size, r, w); inv = (has_pasid, pasid, page, size)."""
        if clear:
            self.slots = [None] * self.n
            self.rr = 0
            return
        old = list(self.slots)
        if inv is not None:
            has_pasid, ipasid, ipage, isize = inv
            for i, e in enumerate(old):
                if e is not None and (not has_pasid or (e.pasid == ipasid and overlap(e.va, e.size, ipage, isize))):
                    self.slots[i] = None
        if ins is None:
            return
        pasid, priv, page, pa, size, r, w = ins
        if inv is not None:
            has_pasid, ipasid, ipage, isize = inv
            if not has_pasid or (pasid == ipasid and overlap(page, size, ipage, isize)):
                return
        same = [i for i, e in enumerate(old) if e is not None and e.pasid == pasid and e.priv == priv
                and overlap(e.va, e.size, page, size)]
        free = [i for i, e in enumerate(old) if e is None]
        if same:
            victim = same[0]
        elif free:
            victim = free[0]
        else:
            victim = self.rr
            self.rr = (self.rr + 1) % self.n
            self.evictions += 1
        for i in same:
            self.slots[i] = None
        self.slots[victim] = Entry(pasid, priv, page & ~mask(size) & PAGE_MASK, pa & ~mask(size) & PAGE_MASK,
                                   size, r, w)

    def valid_bits(self) -> int:
        return sum(1 << i for i, e in enumerate(self.slots) if e is not None)
