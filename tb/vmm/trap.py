"""Trapped interrupt tables: the guest's BAR0 view, and the VMM's emulation of an MSI-X table (as vfio-pci
with QEMU does) or of IMS pages (as a virtual device composition module does: IMS design (c)).

:class:`GuestBar` is the guest's mapping of the device's BAR0. Ranges registered with ``trap`` are
not mapped: each guest access is one exit (EPT_VIOLATION) and then the range's emulation; every
other offset (portals, IMS pages in designs (a) and (b), the rest of BAR0) goes straight to the
device with no exit, as an EPT mapping of the BAR would.

:class:`TrappedTable` emulates 16-byte {ADDR_LO, ADDR_HI, DATA, CTRL} entries (QEMU hw/pci/msix.c
keeps the guest's table in VMM memory; hw/vfio/pci.c vfio_msix_vector_use/release allocate and free
the host side):

* the guest's reads return its own view (never the host message);
* a guest unmask of an entry (CTRL mask 1 -> 0) whose message has no route yet, or changed since,
  asks the routing (:mod:`.host`) for a host interrupt for that guest message, writes the host-valid
  message into the physical entry in Linux's order (mask, ADDR_LO, ADDR_HI, DATA, read back) and
  unmasks it; a guest message the VMM cannot decode is recorded in ``rejected`` and the physical entry
  stays masked;
* a guest mask is forwarded to the physical entry (mask bit only);
* :class:`VfioMsix` traps the table only: the PBA stays mapped through to the device, as QEMU leaves it
  (its PBA emulation is disabled except while a vector masked in QEMU fires; vfio-pci's BAR access
  protects only the table), so the guest reads the device's pending bits and its writes reach the device;
* :class:`TrappedIms` keeps the guest's PASID_EN/PASID bits in its view. Without a PASID map the
  physical CTRL gets the mask bit only; with one (``pasid_map``: the VMM's guest -> host PASID lookup,
  :class:`~.pasid.PasidTranslationTable.host_pasid`) the physical slot is bound to the *host* PASID
  (issue 10 item 6: the device sees only host PASIDs), and a guest PASID the VMM does not know keeps the
  physical slot masked and is recorded in ``rejected``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

from imsdev import regs

from .device import DeviceMmio, in_ims, in_msix_table, ims_slot_offset, msix_entry_offset
from .exits import ExitCounter, ExitReason
from .host import GuestMessageError, Route

ADDR_LO, ADDR_HI, DATA, CTRL = 0x0, 0x4, 0x8, 0xC
MASK = 1


class Routing(Protocol):
    def route_message(self, requester_id: int, address: int, data: int) -> Route: ...

    def unroute(self, route: Route) -> None: ...


class Emulation(Protocol):
    def read32(self, offset: int) -> int: ...

    def write32(self, offset: int, value: int) -> None: ...


class GuestBar:
    """The guest's BAR0: trapped ranges exit to their emulation, the rest is passed through."""

    def __init__(self, device: DeviceMmio, exits: ExitCounter, *, vcpu: int = 0):
        self.device = device
        self.exits = exits
        self.vcpu = vcpu
        self._traps: list[tuple[int, int, str, Emulation]] = []

    def trap(self, start: int, end: int, name: str, emulation: Emulation) -> None:
        self._traps.append((start, end, name, emulation))

    def _trap_for(self, offset: int):
        return next(((name, emu) for start, end, name, emu in self._traps if start <= offset < end),
                    None)

    def read32(self, offset: int) -> int:
        trapped = self._trap_for(offset)
        if trapped is None:
            return self.device.read32(offset)
        self.exits.exit(ExitReason.EPT_VIOLATION, self.vcpu, f"{trapped[0]} read {offset:#x}")
        return trapped[1].read32(offset)

    def write32(self, offset: int, value: int) -> None:
        trapped = self._trap_for(offset)
        if trapped is None:
            self.device.write32(offset, value)
            return
        self.exits.exit(ExitReason.EPT_VIOLATION, self.vcpu, f"{trapped[0]} write {offset:#x}")
        trapped[1].write32(offset, value)

    def is_trapped(self, offset: int) -> bool:
        return self._trap_for(offset) is not None

    def read64(self, offset: int) -> int:
        """A QWORD read (the driver's PBA read): one exit when trapped, emulated as two DWORDs."""
        trapped = self._trap_for(offset)
        if trapped is None:
            return self.device.read64(offset)
        self.exits.exit(ExitReason.EPT_VIOLATION, self.vcpu, f"{trapped[0]} read64 {offset:#x}")
        return trapped[1].read32(offset) | trapped[1].read32(offset + 4) << 32


@dataclass
class GuestEntry:
    address_lo: int = 0
    address_hi: int = 0
    data: int = 0
    ctrl: int = MASK
    route: Route | None = None
    routed_message: tuple[int, int] | None = field(default=None)

    @property
    def message(self) -> tuple[int, int]:
        return (self.address_hi << 32 | self.address_lo, self.data)


@dataclass(frozen=True)
class Rejected:
    key: tuple
    address: int
    data: int
    reason: str


class TrappedTable:
    """Emulated 16-byte interrupt entries backed by physical ones (subclasses give the layout)."""

    CTRL_GUEST_BITS = MASK

    def __init__(self, device: DeviceMmio, routing: Routing):
        self.device = device
        self.routing = routing
        self.entries: dict[tuple, GuestEntry] = {}
        self.rejected: list[Rejected] = []

    # layout hooks
    def _key(self, offset: int) -> tuple | None:
        raise NotImplementedError

    def _physical(self, key: tuple) -> int:
        raise NotImplementedError

    def _entry(self, offset: int) -> tuple[tuple, GuestEntry, int] | None:
        key = self._key(offset)
        if key is None:
            return None
        entry = self.entries.setdefault(key, GuestEntry())
        return key, entry, offset % 16

    def read32(self, offset: int) -> int:
        located = self._entry(offset)
        if located is None:
            return 0
        _, entry, word = located
        return {ADDR_LO: entry.address_lo, ADDR_HI: entry.address_hi, DATA: entry.data,
                CTRL: entry.ctrl}[word]

    def write32(self, offset: int, value: int) -> None:
        located = self._entry(offset)
        if located is None:
            return
        key, entry, word = located
        if word == ADDR_LO:
            entry.address_lo = value & 0xFFFF_FFFC
        elif word == ADDR_HI:
            entry.address_hi = value
        elif word == DATA:
            entry.data = value
        if word != CTRL:
            if not entry.ctrl & MASK and entry.routed_message != entry.message:
                self._activate(key, entry)      # a live vector's message changed: re-route it
            return
        was_masked = bool(entry.ctrl & MASK)
        entry.ctrl = value & self.CTRL_GUEST_BITS
        if was_masked and not entry.ctrl & MASK:
            self._activate(key, entry)
        elif not was_masked and entry.ctrl & MASK:
            self._set_physical_mask(key, True)

    def _activate(self, key: tuple, entry: GuestEntry) -> None:
        if entry.route is None or entry.routed_message != entry.message:
            self._release(entry)
            try:
                entry.route = self.routing.route_message(self.device.requester_id, *entry.message)
            except GuestMessageError as error:
                self.rejected.append(Rejected(key, *entry.message, str(error)))
                self._set_physical_mask(key, True)
                return
            entry.routed_message = entry.message
            self._write_physical(key, entry.route)
        self._set_physical_mask(key, False)

    def _release(self, entry: GuestEntry) -> None:
        if entry.route is not None:
            self.routing.unroute(entry.route)
            entry.route = None
            entry.routed_message = None

    def _write_physical(self, key: tuple, route: Route) -> None:
        base = self._physical(key)
        self._set_physical_mask(key, True)
        self.device.write32(base + ADDR_LO, route.host_msg.address_lo)
        self.device.write32(base + ADDR_HI, route.host_msg.address_hi)
        self.device.write32(base + DATA, route.host_msg.data)
        self.device.read32(base + DATA)

    def _set_physical_mask(self, key: tuple, masked: bool) -> None:
        base = self._physical(key)
        ctrl = self.device.read32(base + CTRL)
        self.device.write32(base + CTRL, ctrl | MASK if masked else ctrl & ~MASK & self._physical_ctrl_bits())

    def _physical_ctrl_bits(self) -> int:
        return 0xFFFF_FFFF

    def unroute_all(self) -> None:
        """Free the host interrupts without touching the device (after the guest's driver masked its
        entries and disabled the device, as at a VM's shutdown)."""
        for entry in self.entries.values():
            self._release(entry)

    def release_all(self) -> None:
        for key, entry in self.entries.items():
            if entry.route is not None:
                self._set_physical_mask(key, True)
                self._release(entry)


class VfioMsix(TrappedTable):
    """The MSI-X table as vfio-pci + QEMU present it to a guest (the PBA is mapped through: module doc)."""

    def _key(self, offset: int) -> tuple | None:
        if not in_msix_table(offset):
            return None
        return ((offset - regs.MSIX_TABLE_BASE) // regs.MSIX_TABLE_STRIDE,)

    def _physical(self, key: tuple) -> int:
        return msix_entry_offset(key[0])

    def install(self, bar: GuestBar) -> None:
        bar.trap(regs.MSIX_TABLE_BASE, regs.MSIX_TABLE_BASE + regs.MSIX_TABLE_SIZE, "MSI-X table",
                 self)


class TrappedIms(TrappedTable):
    """One work queue's IMS window trapped and emulated (IMS design (c))."""

    CTRL_GUEST_BITS = (regs.IMS_ENTRY_CTRL_MASK_MASK | regs.IMS_ENTRY_CTRL_PASID_EN_MASK
                       | regs.IMS_ENTRY_CTRL_PASID_MASK)

    def __init__(self, device: DeviceMmio, routing: Routing, wq: int, slots: range | None = None, *,
                 pasid_map: Callable[[int], int | None] | None = None):
        """``slots``: the slot indices given to this guest (default: the whole window, one page per WQ).
        Two guests may share a window in slot ranges (a build with one WQ); the trapped range is then
        only those slots' bytes. ``pasid_map``: guest PASID -> host PASID (None: unknown), see above."""
        super().__init__(device, routing)
        self.pasid_map = pasid_map
        self.wq = wq
        self.window = regs.IMS_BASE + wq * regs.IMS_STRIDE
        self.slots = slots
        first, end = (0, regs.IMS_STRIDE) if slots is None else \
            (slots.start * regs.IMS_ENTRY_STRIDE, slots.stop * regs.IMS_ENTRY_STRIDE)
        self.range = (self.window + first, self.window + end)

    def _key(self, offset: int) -> tuple | None:
        if not in_ims(offset) or not self.range[0] <= offset < self.range[1]:
            return None
        return (self.wq, (offset - self.window) // regs.IMS_ENTRY_STRIDE)

    def _physical(self, key: tuple) -> int:
        return ims_slot_offset(*key)

    def _physical_ctrl_bits(self) -> int:
        return regs.IMS_ENTRY_CTRL_MASK_MASK   # without a PASID map the binding stays in the guest's view

    def read32(self, offset: int) -> int:
        """The guest's view, except the read-only PENDING bit of CTRL, which is the device's (as vfio
        forwards PBA reads): a masked slot that fired shows pending, and clears when the VMM's unmask
        lets the device send it."""
        value = super().read32(offset)
        located = self._entry(offset)
        if located is not None and located[2] == CTRL:
            physical = self.device.read32(self._physical(located[0]) + CTRL)
            value = value & ~regs.IMS_ENTRY_CTRL_PENDING_MASK | physical & regs.IMS_ENTRY_CTRL_PENDING_MASK
        return value

    def _host_binding(self, key: tuple) -> int | None:
        """The physical PASID_EN/PASID bits for the guest's binding of slot ``key`` (0: unbound), or
        None when the guest names a PASID the VMM has not mapped."""
        ctrl = self.entries[key].ctrl
        if not ctrl & regs.IMS_ENTRY_CTRL_PASID_EN_MASK:
            return 0
        gpasid = (ctrl & regs.IMS_ENTRY_CTRL_PASID_MASK) >> regs.IMS_ENTRY_CTRL_PASID_SHIFT
        hpasid = self.pasid_map(gpasid)
        if hpasid is None:
            return None
        return regs.IMS_ENTRY_CTRL_PASID_EN_MASK | hpasid << regs.IMS_ENTRY_CTRL_PASID_SHIFT

    def _set_physical_mask(self, key: tuple, masked: bool) -> None:
        """With a PASID map the VMM writes the whole physical CTRL: mask and the host binding. An unmask
        with an unknown guest PASID is refused: the slot stays masked and unbound."""
        if self.pasid_map is None:
            super()._set_physical_mask(key, masked)
            return
        binding = self._host_binding(key)
        if binding is None:
            entry = self.entries[key]
            if not masked:
                self.rejected.append(Rejected(key, *entry.message, f"guest PASID in CTRL {entry.ctrl:#x} "
                                              f"is not one of the guest's bound PASIDs"))
            binding, masked = 0, True
        self.device.write32(self._physical(key) + CTRL, binding | (MASK if masked else 0))

    def write32(self, offset: int, value: int) -> None:
        """A guest CTRL write that changes only the PASID of a live (unmasked) slot re-binds it."""
        located = self._entry(offset) if self.pasid_map is not None else None
        before = located[1].ctrl if located is not None else None
        super().write32(offset, value)
        if located is not None and located[2] == CTRL:
            entry = located[1]
            if not entry.ctrl & MASK and before is not None and not before & MASK and before != entry.ctrl:
                self._set_physical_mask(located[0], False)

    def install(self, bar: GuestBar) -> None:
        bar.trap(*self.range, f"IMS WQ{self.wq}", self)


__all__ = ["GuestBar", "Rejected", "TrappedIms", "TrappedTable", "VfioMsix"]
