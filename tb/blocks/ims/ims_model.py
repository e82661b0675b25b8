"""Reference model of the per-WQ Interrupt Message Store, written from the rules of the block's spec
(the brief and regs/imsdev.rdl imsdev_ims_entry), not from the RTL.

Entry (16 bytes): ADDR_LO (+0, bits [1:0] read 0), ADDR_HI (+4), DATA (+8), CTRL (+0xC: MASK b0 RW
reset 1, PENDING b1 RO, PASID_EN b3 RW, PASID [31:12] RW, other bits read 0).

Rules:
- ADDR_LO/ADDR_HI/DATA writes take effect only while MASK=1; while MASK=0 they are dropped and
  reported (WR_UNMASKED, with the entry's PASID).
- CTRL writes always take effect; a change of PASID_EN or PASID clears PENDING; a CTRL write leaving
  MASK=0 with PENDING set (and the function not blocked) sends one message and clears PENDING.
- A request: wq/index out of range -> INDEX_RANGE error; PASID_EN=1 and PASID differs -> PASID_MISMATCH
  error (nothing else); masked or blocked -> PENDING; else one message {addr, data}.
- Unblocking replays every pending entry that is unmasked.

Every call returns what the hardware must do in the order the calls were made (the block processes
MMIO and requests in acceptance order).
"""
from __future__ import annotations

from dataclasses import dataclass

ERR_WR_UNMASKED = 0x01
ERR_INDEX_RANGE = 0x02
ERR_PASID_MISMATCH = 0x03
ERR_NAMES = {ERR_WR_UNMASKED: "WR_UNMASKED", ERR_INDEX_RANGE: "INDEX_RANGE", ERR_PASID_MISMATCH: "PASID_MISMATCH"}

WINDOW_DWS = 0x8000 // 4          # regs/imsdev.rdl: IMS[8] @ 0x4_0000 += 0x8000
MAX_WQ = 8
CTRL_RW = 0xFFFF_F009


def ims_off(wq: int, index: int, dw: int) -> int:
    """DW offset inside the IMS region."""
    return wq * WINDOW_DWS + index * 4 + dw


def be_mask(be: int) -> int:
    return sum(0xFF << (8 * i) for i in range(4) if be >> i & 1)


@dataclass
class Entry:
    addr_lo: int = 0
    addr_hi: int = 0
    data: int = 0
    mask: int = 1
    pasid_en: int = 0
    pasid: int = 0
    pending: bool = False

    @property
    def ctrl(self) -> int:
        return self.mask | (int(self.pending) << 1) | (self.pasid_en << 3) | (self.pasid << 12)

    @property
    def pair(self) -> tuple[int, int]:
        """The message this entry sends: (64-bit address, data)."""
        return (self.addr_hi << 32) | self.addr_lo, self.data


@dataclass(frozen=True)
class Err:
    code: int
    wq: int
    index: int
    pasid: int

    def __str__(self) -> str:
        return f"{ERR_NAMES.get(self.code, hex(self.code))}(wq={self.wq}, index={self.index}, pasid={self.pasid:#x})"


class ImsModel:
    def __init__(self, num_wq: int, ims_per_wq: int):
        self.num_wq = num_wq
        self.ims_per_wq = ims_per_wq
        self.reset()

    def reset(self) -> None:
        self.entries: dict[tuple[int, int], Entry] = {}
        self.blocked = False
        # Every (address, data) pair any entry has held while unmasked, with its owner (for the
        # torn-message check: a message must be one of these, never a mix).
        self.held_unmasked: dict[tuple[int, int], tuple[int, int]] = {}

    def entry(self, wq: int, index: int) -> Entry:
        e = self.entries.get((wq, index))
        if e is None:
            e = self.entries[(wq, index)] = Entry()
        return e

    def in_range(self, wq: int, index: int) -> bool:
        return 0 <= wq < self.num_wq and 0 <= index < self.ims_per_wq

    def decode(self, off: int) -> tuple[int, int, int]:
        return off // WINDOW_DWS, (off % WINDOW_DWS) // 4, off % 4

    def _note_unmasked(self, wq: int, index: int) -> None:
        e = self.entry(wq, index)
        if not e.mask:
            self.held_unmasked.setdefault(e.pair, (wq, index))

    # ------------------------------------------------------------------ MMIO
    def read(self, off: int) -> int:
        wq, index, dw = self.decode(off)
        if not self.in_range(wq, index):
            return 0
        e = self.entry(wq, index)
        return (e.addr_lo, e.addr_hi, e.data, e.ctrl)[dw]

    def write(self, off: int, wdata: int, be: int = 0xF) -> tuple[list[tuple[int, int]], list[Err]]:
        """Returns (messages sent, errors)."""
        wq, index, dw = self.decode(off)
        msgs: list[tuple[int, int]] = []
        errs: list[Err] = []
        if not self.in_range(wq, index) or be == 0:
            return msgs, errs
        e = self.entry(wq, index)
        m = be_mask(be)
        if dw == 3:
            old = e.ctrl & ~0x2
            new = ((old & ~m) | (wdata & m)) & CTRL_RW
            pasid_en, pasid = (new >> 3) & 1, new >> 12
            if (pasid_en, pasid) != (e.pasid_en, e.pasid):
                e.pending = False
            e.mask, e.pasid_en, e.pasid = new & 1, pasid_en, pasid
            self._note_unmasked(wq, index)
            if not e.mask and e.pending and not self.blocked:
                e.pending = False
                msgs.append(e.pair)
            return msgs, errs
        if not e.mask:
            errs.append(Err(ERR_WR_UNMASKED, wq, index, e.pasid))
            return msgs, errs
        if dw == 0:
            e.addr_lo = ((e.addr_lo & ~m) | (wdata & m)) & 0xFFFF_FFFC
        elif dw == 1:
            e.addr_hi = (e.addr_hi & ~m) | (wdata & m)
        else:
            e.data = (e.data & ~m) | (wdata & m)
        return msgs, errs

    # ------------------------------------------------------------------ interrupt requests
    def fire(self, wq: int, index: int, pasid: int) -> tuple[list[tuple[int, int]], list[Err]]:
        if not self.in_range(wq, index):
            return [], [Err(ERR_INDEX_RANGE, wq, index, pasid)]
        e = self.entry(wq, index)
        if e.pasid_en and pasid != e.pasid:
            return [], [Err(ERR_PASID_MISMATCH, wq, index, pasid)]
        if e.mask or self.blocked:
            e.pending = True
            return [], []
        return [e.pair], []

    def set_blocked(self, blocked: bool) -> list[tuple[int, int]]:
        """Returns the messages the replay after unblocking must send."""
        msgs = []
        if self.blocked and not blocked:
            for e in self.entries.values():
                if e.pending and not e.mask:
                    e.pending = False
                    msgs.append(e.pair)
        self.blocked = blocked
        return msgs
