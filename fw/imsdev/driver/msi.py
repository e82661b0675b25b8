"""PCI MSI-X (drivers/pci/msi/msi.c, msi.h), in Linux's order (platform-facts.md section 1).

msix_capability_init:
  1. Message Control |= ENABLE | MASKALL (nothing can fire while the table is being set up)
  2. map the table from the capability's BIR/offset, cache each used entry's Vector Control
  3. allocate from the parent domain and activate: __pci_write_msi_msg for each (entries still masked)
  4. INTx off
  5. msix_mask_all: write MASKBIT to every entry of the table (tsize, not just the ones used)
  6. Message Control &= ~MASKALL
request_irq then unmasks (pci_msix_unmask: write, no flush); free_irq masks (pci_msix_mask: write,
flushing read). __pci_write_msi_msg masks an unmasked entry before rewriting address/data, restores
Vector Control after, and reads DATA back so the writes have reached the device before it returns.
Shutdown (pci_free_irq_vectors): mask every used vector, clear ENABLE, INTx back on.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from imsdev import regs
from imsdev.platform import MsiMsg

from .irqdesc import IrqChip, IrqCore, IrqDesc
from .pci import PciDev, PciError

PCI_MSIX_FLAGS = 2
PCI_MSIX_FLAGS_QSIZE = 0x07FF
PCI_MSIX_FLAGS_MASKALL = 0x4000
PCI_MSIX_FLAGS_ENABLE = 0x8000
PCI_MSIX_TABLE = 4
PCI_MSIX_TABLE_BIR = 0x7
PCI_MSIX_TABLE_OFFSET = 0xFFFF_FFF8
PCI_MSIX_PBA = 8

# Entry layout: the device's generated register map is the PCI spec's, so the names agree.
PCI_MSIX_ENTRY_SIZE = regs.MSIX_TABLE_STRIDE
PCI_MSIX_ENTRY_LOWER_ADDR = regs.MSIX_TABLE_ADDR_LO
PCI_MSIX_ENTRY_UPPER_ADDR = regs.MSIX_TABLE_ADDR_HI
PCI_MSIX_ENTRY_DATA = regs.MSIX_TABLE_DATA
PCI_MSIX_ENTRY_VECTOR_CTRL = regs.MSIX_TABLE_VECTOR_CTRL
PCI_MSIX_ENTRY_CTRL_MASKBIT = regs.MSIX_TABLE_VECTOR_CTRL_MASK_MASK


@dataclass(eq=False)
class MsixEntry:
    """msi_desc.pci for one MSI-X vector: its table slot and the cached Vector Control."""
    index: int
    base: int          # MMIO address of the entry
    ctrl: int


class MsixChip(IrqChip):
    """pci_msi_mask_irq / pci_msi_unmask_irq / pci_msi_domain_write_msg for MSI-X."""
    name = "PCI-MSIX"

    def __init__(self, pdev: PciDev):
        self.pdev = pdev
        self.ops = pdev.ops

    def _write_ctrl(self, e: MsixEntry, ctrl: int) -> None:
        e.ctrl = ctrl
        self.ops.mmio_write32(e.base + PCI_MSIX_ENTRY_VECTOR_CTRL, ctrl)

    def irq_mask(self, desc: IrqDesc) -> None:
        """pci_msix_mask: set MASKBIT, then a read so the mask is in effect when this returns."""
        e: MsixEntry = desc.chip_data
        self._write_ctrl(e, e.ctrl | PCI_MSIX_ENTRY_CTRL_MASKBIT)
        self.ops.mmio_read32(e.base + PCI_MSIX_ENTRY_VECTOR_CTRL)

    def irq_unmask(self, desc: IrqDesc) -> None:
        """pci_msix_unmask: clear MASKBIT; no flush (a late unmask only delays the interrupt)."""
        e: MsixEntry = desc.chip_data
        self._write_ctrl(e, e.ctrl & ~PCI_MSIX_ENTRY_CTRL_MASKBIT)

    def irq_write_msi_msg(self, desc: IrqDesc, msg: MsiMsg) -> None:
        """__pci_write_msi_msg: changing address/data of an unmasked entry is undefined (PCIe §6.1.4.5),
        so mask around the update; the DATA read-back flushes the posted writes."""
        e: MsixEntry = desc.chip_data
        ctrl = e.ctrl
        unmasked = not ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT
        if unmasked:
            self._write_ctrl(e, ctrl | PCI_MSIX_ENTRY_CTRL_MASKBIT)
        self.ops.mmio_write32(e.base + PCI_MSIX_ENTRY_LOWER_ADDR, msg.address_lo)
        self.ops.mmio_write32(e.base + PCI_MSIX_ENTRY_UPPER_ADDR, msg.address_hi)
        self.ops.mmio_write32(e.base + PCI_MSIX_ENTRY_DATA, msg.data)
        if unmasked:
            self._write_ctrl(e, ctrl)
        self.ops.mmio_read32(e.base + PCI_MSIX_ENTRY_DATA)


class PciMsix:
    """The MSI-X state of one function: table mapping, the vectors in use, setup and shutdown."""

    def __init__(self, pdev: PciDev, core: IrqCore):
        self.pdev = pdev
        self.ops = pdev.ops
        self.core = core
        self.chip = MsixChip(pdev)
        self.table = 0
        self.tsize = 0
        self.descs: list[IrqDesc] = []

    def table_size(self) -> int:
        """pci_msix_vec_count."""
        if not self.pdev.msix_cap:
            raise PciError(errno.EINVAL, "no MSI-X capability")
        return (self.pdev.read_config_word(self.pdev.msix_cap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE) + 1

    def _clear_and_set_ctrl(self, clear: int, set_: int) -> None:
        self.pdev.clear_and_set_config_word(self.pdev.msix_cap + PCI_MSIX_FLAGS, clear, set_)

    def _map_region(self) -> int:
        """msix_map_region: BIR and offset from the Table register."""
        table = self.pdev.read_config_dword(self.pdev.msix_cap + PCI_MSIX_TABLE)
        bir = table & PCI_MSIX_TABLE_BIR
        return self.pdev.iomap(bir) + (table & PCI_MSIX_TABLE_OFFSET)

    def alloc_irq_vectors(self, nvec: int, hwsize_extra: int = 0) -> list[IrqDesc]:
        """pci_alloc_irq_vectors(dev, nvec, nvec, PCI_IRQ_MSIX) -> msix_capability_init.
        hwsize_extra: further interrupts this requester will take from the same parent domain (its IMS
        slots), so a per-device table (the ITS's ITT) is sized once for all of them."""
        if self.pdev.msix_enabled:
            raise PciError(errno.EINVAL, "MSI-X already enabled")
        self.tsize = self.table_size()
        if not 1 <= nvec <= self.tsize:
            raise PciError(errno.ENOSPC, f"{nvec} vectors requested, table has {self.tsize}")
        self._clear_and_set_ctrl(0, PCI_MSIX_FLAGS_MASKALL | PCI_MSIX_FLAGS_ENABLE)
        self.pdev.msix_enabled = True
        self.table = self._map_region()
        entries = []
        for i in range(nvec):
            base = self.table + i * PCI_MSIX_ENTRY_SIZE
            entries.append(MsixEntry(i, base, self.ops.mmio_read32(base + PCI_MSIX_ENTRY_VECTOR_CTRL)))
        self.descs = self.core.alloc_descs(self.chip, [e.index for e in entries], entries,
                                           hwsize=self.tsize + hwsize_extra)
        self.pdev.intx(False)
        self._mask_all()
        self._clear_and_set_ctrl(PCI_MSIX_FLAGS_MASKALL, 0)
        return self.descs

    def _mask_all(self) -> None:
        """msix_mask_all: every entry of the table, used or not, so nothing stale can fire."""
        ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT
        for i in range(self.tsize):
            self.ops.mmio_write32(self.table + i * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL, ctrl)
        for desc in self.descs:
            desc.chip_data.ctrl |= ctrl

    def free_irq_vectors(self) -> None:
        """pci_free_irq_vectors -> pci_msix_shutdown: mask every vector, clear ENABLE, INTx back on,
        then give the platform entries back."""
        if not self.pdev.msix_enabled:
            return
        for desc in self.descs:
            self.chip.irq_mask(desc)
        self._clear_and_set_ctrl(PCI_MSIX_FLAGS_ENABLE, 0)
        self.pdev.msix_enabled = False
        self.pdev.intx(True)
        self.core.free_descs(self.descs)
        self.descs = []

    def pending(self, vector: int) -> bool:
        """PBA bit of a vector (BIR/offset from the PBA register)."""
        pba = self.pdev.read_config_dword(self.pdev.msix_cap + PCI_MSIX_PBA)
        base = self.pdev.iomap(pba & PCI_MSIX_TABLE_BIR) + (pba & PCI_MSIX_TABLE_OFFSET)
        word = self.ops.mmio_read64(base + (vector // 64) * regs.MSIX_PBA_STRIDE)
        return bool(word >> (vector % 64) & 1)
