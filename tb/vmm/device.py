"""The device as the VMM models see it: a small "device MMIO" interface, and a behavioural model of the
device's interrupt storage that implements it for unit tests.

:class:`DeviceMmio` is all the VMM code of this package needs from a device: 32-bit BAR0 accesses by
offset, 64-bit reads (the PBA), and the requester ID. The cocotb integration will implement it over the
RTL (BAR0 through the root complex); :class:`OpsDevice` adapts any ``DeviceOps`` of the driver
model (the bench's, or tests/unit/fake_device.py's recording fake); unit tests that need messages use
:class:`InterruptStorageDevice`.

:class:`InterruptStorageDevice` models only the interrupt storage, at the offsets of the register map
(``imsdev.regs``, generated from regs/imsdev.rdl; no number restated here):

* MSI-X table at MSIX_TABLE_BASE, 16-byte entries {ADDR_LO, ADDR_HI, DATA, VECTOR_CTRL}, Mask (b0)
  resetting to 1; PBA at MSIX_PBA_BASE, bit k of QWORD k/64. PCIe rules (platform-facts section 1):
  a masked vector that would send sets its pending bit; unmasking sends it once and clears it.
  Address/data written while unmasked is recorded in ``violations`` (PCIe: undefined).
* IMS: one window of IMS_STRIDE bytes per work queue at IMS_BASE, 16-byte slots {ADDR_LO, ADDR_HI,
  DATA, CTRL}; CTRL mask b0 (reset 1), pending b1 (read-only), PASID_EN b3, PASID[31:12]. An
  address/data write while unmasked is dropped and recorded (the device's torn-message rule).

A message is sent by calling ``upstream(address, data_bytes, requester_id)`` (the platform's
``handle_write``), and is logged in ``sent``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from imsdev import regs

Upstream = Callable[[int, bytes, int], bool]

MSIX_MASK = regs.MSIX_TABLE_VECTOR_CTRL_MASK_MASK
IMS_MASK = regs.IMS_ENTRY_CTRL_MASK_MASK
IMS_PENDING = regs.IMS_ENTRY_CTRL_PENDING_MASK
IMS_SW_BITS = (regs.IMS_ENTRY_CTRL_MASK_MASK | regs.IMS_ENTRY_CTRL_PASID_EN_MASK
               | regs.IMS_ENTRY_CTRL_PASID_MASK)


class DeviceMmio(Protocol):
    requester_id: int

    def read32(self, offset: int) -> int: ...

    def write32(self, offset: int, value: int) -> None: ...

    def read64(self, offset: int) -> int: ...


class OpsDevice:
    """DeviceMmio over the driver model's DeviceOps (tb/driver_ops.py on the RTL, or the recording
    fake of tests/unit): BAR0 offsets become ``bar0 + offset`` MMIO accesses."""

    def __init__(self, ops, bar0: int):
        self.ops = ops
        self.bar0 = bar0
        self.requester_id = ops.requester_id

    def read32(self, offset: int) -> int:
        return self.ops.mmio_read32(self.bar0 + offset)

    def write32(self, offset: int, value: int) -> None:
        self.ops.mmio_write32(self.bar0 + offset, value)

    def read64(self, offset: int) -> int:
        return self.ops.mmio_read64(self.bar0 + offset)


def msix_entry_offset(vector: int) -> int:
    return regs.MSIX_TABLE_BASE + vector * regs.MSIX_TABLE_STRIDE


def ims_slot_offset(wq: int, index: int) -> int:
    return regs.IMS_BASE + wq * regs.IMS_STRIDE + index * regs.IMS_ENTRY_STRIDE


def in_msix_table(offset: int) -> bool:
    return regs.MSIX_TABLE_BASE <= offset < regs.MSIX_TABLE_BASE + regs.MSIX_TABLE_SIZE


def in_msix_pba(offset: int) -> bool:
    return regs.MSIX_PBA_BASE <= offset < regs.MSIX_PBA_BASE + regs.MSIX_PBA_SIZE


def in_ims(offset: int) -> bool:
    return regs.IMS_BASE <= offset < regs.IMS_BASE + regs.IMS_SIZE


@dataclass
class _Entry:
    address_lo: int = 0
    address_hi: int = 0
    data: int = 0
    ctrl: int = 1

    def word(self, index: int) -> int:
        return (self.address_lo, self.address_hi, self.data, self.ctrl)[index]

    def set_word(self, index: int, value: int) -> None:
        name = ("address_lo", "address_hi", "data", "ctrl")[index]
        setattr(self, name, value & 0xFFFF_FFFF)


@dataclass(frozen=True)
class SentMessage:
    source: str          # "msix" or "ims"
    index: tuple
    address: int
    data: int


class InterruptStorageDevice:
    """MSI-X table, PBA and per-WQ IMS windows of one function, behind DeviceMmio."""

    def __init__(self, requester_id: int, upstream: Upstream, *, msix_vectors: int = 9,
                 num_wq: int = 2, ims_per_wq: int = 16):
        self.requester_id = requester_id
        self.upstream = upstream
        self.msix = [_Entry() for _ in range(msix_vectors)]
        self.msix_pending = [False] * msix_vectors
        self.ims = [[_Entry() for _ in range(ims_per_wq)] for _ in range(num_wq)]
        self.ims_pending = [[False] * ims_per_wq for _ in range(num_wq)]
        self.sent: list[SentMessage] = []
        self.violations: list[str] = []
        self.accesses = 0

    # --------------------------------------------------------------- DeviceMmio
    def _locate(self, offset: int):
        if in_msix_table(offset):
            vector, byte = divmod(offset - regs.MSIX_TABLE_BASE, regs.MSIX_TABLE_STRIDE)
            if vector < len(self.msix):
                return "msix", (vector,), self.msix[vector], byte // 4
        elif in_ims(offset):
            wq, rest = divmod(offset - regs.IMS_BASE, regs.IMS_STRIDE)
            index, byte = divmod(rest, regs.IMS_ENTRY_STRIDE)
            if wq < len(self.ims) and index < len(self.ims[wq]):
                return "ims", (wq, index), self.ims[wq][index], byte // 4
        return None

    def read32(self, offset: int) -> int:
        self.accesses += 1
        if in_msix_pba(offset):
            return self.read64(offset - offset % 8) >> (32 if offset % 8 else 0) & 0xFFFF_FFFF
        located = self._locate(offset)
        if located is None:
            return 0
        kind, index, entry, word = located
        value = entry.word(word)
        if kind == "ims" and word == 3 and self.ims_pending[index[0]][index[1]]:
            value |= IMS_PENDING
        return value

    def read64(self, offset: int) -> int:
        if in_msix_pba(offset):
            self.accesses += 1
            first = (offset - regs.MSIX_PBA_BASE) * 8
            return sum(1 << (v - first) for v in range(first, min(first + 64, len(self.msix)))
                       if self.msix_pending[v])
        return self.read32(offset) | self.read32(offset + 4) << 32

    def write32(self, offset: int, value: int) -> None:
        self.accesses += 1
        located = self._locate(offset)
        if located is None:
            return
        kind, index, entry, word = located
        if word < 3:
            if not entry.ctrl & 1:
                self.violations.append(f"{kind} {index}: address/data written while unmasked")
                if kind == "ims":
                    return
            entry.set_word(word, value)
            return
        was_masked = bool(entry.ctrl & 1)
        entry.ctrl = value & (MSIX_MASK if kind == "msix" else IMS_SW_BITS)
        if was_masked and not entry.ctrl & 1:
            pending = self.msix_pending if kind == "msix" else self.ims_pending[index[0]]
            slot = index[-1]
            if pending[slot]:
                pending[slot] = False
                self._send(kind, index, entry)

    # --------------------------------------------------------------- interrupt sources
    def fire_msix(self, vector: int) -> None:
        entry = self.msix[vector]
        if entry.ctrl & 1:
            self.msix_pending[vector] = True
        else:
            self._send("msix", (vector,), entry)

    def fire_ims(self, wq: int, index: int) -> None:
        entry = self.ims[wq][index]
        if entry.ctrl & 1:
            self.ims_pending[wq][index] = True
        else:
            self._send("ims", (wq, index), entry)

    def _send(self, kind: str, index: tuple, entry: _Entry) -> None:
        address = entry.address_hi << 32 | entry.address_lo
        self.sent.append(SentMessage(kind, index, address, entry.data))
        self.upstream(address, entry.data.to_bytes(4, "little"), self.requester_id)


__all__ = ["DeviceMmio", "InterruptStorageDevice", "OpsDevice", "SentMessage", "ims_slot_offset", "in_ims",
           "in_msix_pba", "in_msix_table", "msix_entry_offset"]
