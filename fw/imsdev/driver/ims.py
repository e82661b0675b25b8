"""Per-queue IMS: an interrupt message store in device memory (one window per WQ).

Stands for Linux's v6.2 IMS core (pci_create_ims_domain / pci_ims_alloc_irq / pci_ims_free_irq) with the
IDXD IMS irq chip of tglx's series (drivers/irqchip/irq-pci-intel-idxd.c, platform-facts.md section 2):

* slot = IMS window of the WQ + index * IMS_ENTRY_STRIDE; {ADDR_LO, ADDR_HI, DATA, CTRL}.
* prepare_desc masks the slot; shutdown masks it, deactivation zeroes address and data, freeing the
  slot also drops its PASID binding.
* mask / unmask write the whole CTRL (PASID | PASID_EN | MASK), then read it back.
* write_msi_msg: ADDR_LO, ADDR_HI, DATA, then a read-back.
* the message store is "slow" (device memory behind a bus, IMS_QUEUE style): the callbacks only record
  what the irq core wants; irq_bus_sync_unlock applies it. At that point the device rule of
  docs/work_queues.md decides the order: writes to ADDR/DATA of an *unmasked* entry are dropped
  (SWERR IMS_UNMASKED_WRITE), so a changed message is written only behind a mask, and the final CTRL
  (unmask) comes last. Several updates under one lock become one ordered sequence.
* the PASID of the instance cookie (Linux: union msi_instance_cookie) binds the slot to a PASID:
  the device fires it only for descriptors of that PASID.

Affinity is not a chip operation (the chip has no irq_set_affinity): the parent domain retargets the
IRTE / ITS event and the slot is left alone (irqdesc.IrqCore.irq_set_affinity).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Optional

from imsdev import regs
from imsdev.platform import MsiMsg

from .irqdesc import IrqChip, IrqCore, IrqDesc
from .registers import FIELD_GET, ims_ctrl

IMS_CTRL_MASK = regs.IMS_ENTRY_CTRL_MASK_MASK
_CTRL_SW_BITS = (regs.IMS_ENTRY_CTRL_MASK_MASK | regs.IMS_ENTRY_CTRL_PASID_EN_MASK
                 | regs.IMS_ENTRY_CTRL_PASID_MASK)   # PENDING is the device's, never compared


@dataclass(eq=False)
class ImsSlot:
    index: int
    base: int                          # MMIO address of the slot
    pasid: Optional[int]               # instance cookie: PASID binding, None = unbound
    msg: MsiMsg = field(default_factory=lambda: MsiMsg(0, 0, 0))     # wanted
    masked: bool = True                                               # wanted
    hw_msg: Optional[MsiMsg] = None    # last written to the device (None: not written by the driver yet)
    hw_ctrl: int = regs.IMS_ENTRY_CTRL_RESET
    lock_depth: int = 0
    syncs: int = 0                     # how many unlocks wrote something (for tests and statistics)


class ImsChip(IrqChip):
    """IMS chip of one WQ's window."""
    name = "IMS"

    def __init__(self, ops, window: int):
        self.ops = ops
        self.window = window

    # ---- irq_chip callbacks: record only --------------------------------------------------------
    def irq_bus_lock(self, desc: IrqDesc) -> None:
        desc.chip_data.lock_depth += 1

    def irq_write_msi_msg(self, desc: IrqDesc, msg: MsiMsg) -> None:
        desc.chip_data.msg = msg
        self._sync_if_unlocked(desc.chip_data)

    def irq_mask(self, desc: IrqDesc) -> None:
        desc.chip_data.masked = True
        self._sync_if_unlocked(desc.chip_data)

    def irq_unmask(self, desc: IrqDesc) -> None:
        desc.chip_data.masked = False
        self._sync_if_unlocked(desc.chip_data)

    def irq_bus_sync_unlock(self, desc: IrqDesc) -> None:
        slot: ImsSlot = desc.chip_data
        slot.lock_depth -= 1
        if slot.lock_depth == 0:
            self.sync(slot)

    def _sync_if_unlocked(self, slot: ImsSlot) -> None:
        # Called outside irq_bus_lock (e.g. by prepare/teardown code): behave like a fast chip.
        if slot.lock_depth == 0:
            self.sync(slot)

    # ---- applying the queued state ---------------------------------------------------------------
    def _write_ctrl(self, slot: ImsSlot, ctrl: int) -> None:
        self.ops.mmio_write32(slot.base + regs.IMS_ENTRY_CTRL, ctrl)
        self.ops.mmio_read32(slot.base + regs.IMS_ENTRY_CTRL)       # read back: in effect on return
        slot.hw_ctrl = ctrl

    def sync(self, slot: ImsSlot) -> None:
        """Bring the slot to the wanted (message, mask, PASID): mask before a message change, message,
        read-back flush, then the final CTRL. Nothing is written for an unchanged slot."""
        wrote = False
        if slot.msg != slot.hw_msg:
            if not slot.hw_ctrl & IMS_CTRL_MASK:
                self._write_ctrl(slot, slot.hw_ctrl | IMS_CTRL_MASK)
            self.ops.mmio_write32(slot.base + regs.IMS_ENTRY_ADDR_LO, slot.msg.address_lo)
            self.ops.mmio_write32(slot.base + regs.IMS_ENTRY_ADDR_HI, slot.msg.address_hi)
            self.ops.mmio_write32(slot.base + regs.IMS_ENTRY_DATA, slot.msg.data)
            self.ops.mmio_read32(slot.base + regs.IMS_ENTRY_DATA)
            slot.hw_msg = slot.msg
            wrote = True
        want = ims_ctrl(slot.masked, slot.pasid)
        if want != slot.hw_ctrl & _CTRL_SW_BITS:
            self._write_ctrl(slot, want)
            wrote = True
        slot.syncs += wrote

    def prepare(self, slot: ImsSlot) -> None:
        """idxd_ims_prepare_desc: the slot starts masked, with its PASID binding."""
        self._write_ctrl(slot, ims_ctrl(True, slot.pasid))
        slot.masked = True

    def read_ctrl(self, slot: ImsSlot) -> int:
        return self.ops.mmio_read32(slot.base + regs.IMS_ENTRY_CTRL)


class ImsDomain:
    """pci_create_ims_domain for one WQ's IMS window: hwsize = CAP1.IMS_PER_WQ slots."""

    def __init__(self, core: IrqCore, window: int, hwsize: int):
        self.core = core
        self.window = window
        self.hwsize = hwsize
        self.chip = ImsChip(core.ops, window)
        self.used: dict[int, IrqDesc] = {}

    def slot_base(self, index: int) -> int:
        return self.window + regs.IMS_ENTRY_OFFSET + index * regs.IMS_ENTRY_STRIDE

    def alloc_irq(self, pasid: Optional[int] = None, index: Optional[int] = None) -> IrqDesc:
        """pci_ims_alloc_irq(dev, icookie): the lowest free slot (or `index`), prepared (masked, bound to
        `pasid`), then activated with the parent domain's message."""
        if index is None:
            index = next((i for i in range(self.hwsize) if i not in self.used), None)
            if index is None:
                raise OSError(errno.ENOSPC, f"IMS window at {self.window:#x}: all {self.hwsize} slots in use")
        elif index in self.used or not 0 <= index < self.hwsize:
            raise OSError(errno.EBUSY, f"IMS slot {index} is in use or out of range")
        slot = ImsSlot(index, self.slot_base(index), pasid)
        self.chip.prepare(slot)
        (desc,) = self.core.alloc_descs(self.chip, [index], [slot])
        self.used[index] = desc
        return desc

    def free_irq(self, desc: IrqDesc) -> None:
        """pci_ims_free_irq: the slot ends masked, zeroed and unbound; then the platform entry goes.
        (free_irq has normally shut it down already; then only the binding changes.)"""
        with self.core.bus_lock(desc):
            desc.chip.irq_mask(desc)
            desc.chip.irq_write_msi_msg(desc, MsiMsg(0, 0, 0))
            desc.chip_data.pasid = None
        self.core.free_descs([desc])
        del self.used[desc.hwirq]

    def pending(self, desc: IrqDesc) -> bool:
        return bool(FIELD_GET("IMS_ENTRY_CTRL_PENDING", self.chip.read_ctrl(desc.chip_data)))
