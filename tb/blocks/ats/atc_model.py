"""Reference model of the device's Address Translation Cache (docs/ats_pri.md 2.3) and of the ATS formats it
decodes (PCIe Base r6.x 10.2.3.2 Table 10-5 S encoding; the completion entry wire order of docs/ats_pri.md 1.3).

Sizes are log2 of the number of 4 KiB pages: 0 = 4 KiB, 9 = 2 MiB, 18 = 1 GiB, 52 = everything.
"""
from __future__ import annotations

from dataclasses import dataclass

ALL = 52
PAGE_BITS = 52
PAGE_MASK = (1 << PAGE_BITS) - 1
# docs/ats_pri.md 1.3: DW0 of the payload = entry bits 63:32, each DW in header byte order (byte 0 = MSB).
ENTRY_DW0_HIGH = True


def s_decode(s: int, page: int) -> int:
    """Size of a translation / invalidation range from S and the page number (address bits 63:12).
    S = 0: 4 KiB. S = 1: 2^(13 + n) bytes, n = consecutive 1s from address bit 12 up; bits 62:12 all 1 = all."""
    if not s:
        return 0
    n = 0
    while n < 51 and (page >> n) & 1:
        n += 1
    return min(n + 1, ALL)


def s_encode(size: int, base_page: int) -> tuple[int, int]:
    """(S, page field) of a naturally aligned range of 2^size pages starting at base_page."""
    if size == 0:
        return 0, base_page
    return 1, (base_page & ~((1 << size) - 1) & PAGE_MASK) | ((1 << (size - 1)) - 1)


def entry_from_payload(payload: bytes) -> int:
    """The 64-bit Translation Completion entry from its 8 payload bytes (byte 0 first on the link)."""
    dw0 = int.from_bytes(payload[0:4], "big")
    dw1 = int.from_bytes(payload[4:8], "big")
    return (dw0 << 32 | dw1) if ENTRY_DW0_HIGH else (dw1 << 32 | dw0)


def mask(size: int) -> int:
    return PAGE_MASK if size >= ALL else (1 << size) - 1


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
