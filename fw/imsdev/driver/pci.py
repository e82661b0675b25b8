"""The PCI core as the driver sees it (drivers/pci/pci.c, access.c, ats.c; include/uapi/linux/pci_regs.h).

pci_enable_device / pci_set_master / pci_iomap / capability walks / pci_enable_pasid, and the FLR path of
pci_reset_function (save state, pcie_flr, restore state). Config-space constants are the PCI spec's,
named as in pci_regs.h; the device's own registers come from imsdev.regs.
"""

from __future__ import annotations

import errno

from .ops import DeviceOps

PCI_VENDOR_ID = 0x00
PCI_COMMAND = 0x04
PCI_COMMAND_MEMORY = 0x0002
PCI_COMMAND_MASTER = 0x0004
PCI_COMMAND_INTX_DISABLE = 0x0400
PCI_STATUS = 0x06
PCI_STATUS_CAP_LIST = 0x0010
PCI_BASE_ADDRESS_0 = 0x10
PCI_BASE_ADDRESS_SPACE_IO = 0x1
PCI_BASE_ADDRESS_MEM_TYPE_MASK = 0x6
PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x4
PCI_BASE_ADDRESS_MEM_MASK = ~0xF
PCI_CAPABILITY_LIST = 0x34
PCI_CAP_ID_EXP = 0x10
PCI_CAP_ID_MSIX = 0x11
PCI_EXT_CAP_ID_PASID = 0x1B
PCI_CFG_SPACE_SIZE = 0x100
PCI_CFG_SPACE_EXP_SIZE = 0x1000
PCI_FIND_CAP_TTL = 48

PCI_EXP_DEVCAP = 0x04
PCI_EXP_DEVCAP_FLR = 0x1000_0000
PCI_EXP_DEVCTL = 0x08
PCI_EXP_DEVCTL_BCR_FLR = 0x8000
PCI_EXP_DEVSTA = 0x0A
PCI_EXP_DEVSTA_TRPND = 0x0020

PCI_PASID_CAP = 0x04
PCI_PASID_CAP_EXEC = 0x02
PCI_PASID_CAP_PRIV = 0x04
PCI_PASID_CTRL = 0x06
PCI_PASID_CTRL_ENABLE = 0x01
PCI_PASID_CTRL_EXEC = 0x02
PCI_PASID_CTRL_PRIV = 0x04

# pcie_flr: the function gets 100 ms after Initiate FLR before software may touch it (PCIe r6 §6.6.2).
PCIE_FLR_DELAY_MS = 100
PCI_RESET_WAIT_POLLS = 100
PCI_STD_NUM_BARS = 6


class PciError(Exception):
    def __init__(self, err: int, what: str):
        super().__init__(f"{what}: {errno.errorcode.get(err, err)}")
        self.errno = err


class PciDev:
    """struct pci_dev, for one function reached through `ops`."""

    def __init__(self, ops: DeviceOps):
        self.ops = ops
        self.msix_cap = 0
        self.pcie_cap = 0
        self.pasid_cap = 0
        self.pasid_features = 0
        self.pasid_enabled = False
        self.msix_enabled = False
        self.saved_config: list[int] | None = None

    @property
    def devid(self) -> int:
        """pci_dev_id(): bus << 8 | devfn, the requester ID the platform's IOMMU / ITS sees."""
        return self.ops.requester_id

    # ---- config accessors (drivers/pci/access.c) ------------------------------------------------
    def read_config_byte(self, where: int) -> int:
        return self.ops.cfg_read(where, 1)

    def read_config_word(self, where: int) -> int:
        return self.ops.cfg_read(where, 2)

    def read_config_dword(self, where: int) -> int:
        return self.ops.cfg_read(where, 4)

    def write_config_word(self, where: int, val: int) -> None:
        self.ops.cfg_write(where, 2, val)

    def write_config_dword(self, where: int, val: int) -> None:
        self.ops.cfg_write(where, 4, val)

    def clear_and_set_config_word(self, where: int, clear: int, set_: int) -> None:
        self.write_config_word(where, (self.read_config_word(where) & ~clear) | set_)

    # ---- capability walks (drivers/pci/pci.c) ---------------------------------------------------
    def find_capability(self, cap: int) -> int:
        """__pci_find_next_cap_ttl from PCI_CAPABILITY_LIST; 0 if absent. The TTL bounds a looped list."""
        if not self.read_config_word(PCI_STATUS) & PCI_STATUS_CAP_LIST:
            return 0
        pos = self.read_config_byte(PCI_CAPABILITY_LIST)
        for _ in range(PCI_FIND_CAP_TTL):
            if pos < 0x40:
                break
            pos &= ~3
            ent = self.read_config_word(pos)
            if ent & 0xFF == 0xFF:
                break
            if ent & 0xFF == cap:
                return pos
            pos = ent >> 8
        return 0

    def find_ext_capability(self, cap: int) -> int:
        """pci_find_next_ext_capability from 0x100; 0 if absent (also for an all-0/all-1 header)."""
        pos = PCI_CFG_SPACE_SIZE
        ttl = (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) // 8
        header = self.read_config_dword(pos)
        if header in (0, 0xFFFF_FFFF):
            return 0
        while ttl > 0:
            ttl -= 1
            if header & 0xFFFF == cap and pos:
                return pos
            pos = (header >> 20) & 0xFFC
            if pos < PCI_CFG_SPACE_SIZE:
                break
            header = self.read_config_dword(pos)
        return 0

    # ---- enable / bus master / BARs -------------------------------------------------------------
    def enable_device(self) -> None:
        """pci_enable_device_mem: memory decode on; find the capabilities the driver needs."""
        self.clear_and_set_config_word(PCI_COMMAND, 0, PCI_COMMAND_MEMORY)
        self.pcie_cap = self.find_capability(PCI_CAP_ID_EXP)
        self.msix_cap = self.find_capability(PCI_CAP_ID_MSIX)
        self.pasid_cap = self.find_ext_capability(PCI_EXT_CAP_ID_PASID)

    def disable_device(self) -> None:
        self.clear_and_set_config_word(PCI_COMMAND, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 0)

    def set_master(self) -> None:
        self.clear_and_set_config_word(PCI_COMMAND, 0, PCI_COMMAND_MASTER)

    def clear_master(self) -> None:
        self.clear_and_set_config_word(PCI_COMMAND, PCI_COMMAND_MASTER, 0)

    def intx(self, enable: bool) -> None:
        """pci_intx: MSI-X users turn legacy INTx off."""
        if enable:
            self.clear_and_set_config_word(PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 0)
        else:
            self.clear_and_set_config_word(PCI_COMMAND, 0, PCI_COMMAND_INTX_DISABLE)

    def resource_start(self, bar: int) -> int:
        """Bus address the BAR was assigned at enumeration (pci_resource_start)."""
        if not 0 <= bar < PCI_STD_NUM_BARS:
            raise PciError(errno.EINVAL, f"BAR{bar}")
        lo = self.read_config_dword(PCI_BASE_ADDRESS_0 + 4 * bar)
        if lo & PCI_BASE_ADDRESS_SPACE_IO:
            raise PciError(errno.ENODEV, f"BAR{bar} is an I/O BAR")
        addr = lo & PCI_BASE_ADDRESS_MEM_MASK & 0xFFFF_FFFF
        if lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK == PCI_BASE_ADDRESS_MEM_TYPE_64:
            addr |= self.read_config_dword(PCI_BASE_ADDRESS_0 + 4 * (bar + 1)) << 32
        return addr

    def iomap(self, bar: int) -> int:
        """pci_iomap: the BAR's MMIO base (ioremap is the identity in this model)."""
        addr = self.resource_start(bar)
        if not addr:
            raise PciError(errno.ENODEV, f"BAR{bar} is not assigned")
        return addr

    # ---- PASID (drivers/pci/ats.c) ---------------------------------------------------------------
    def enable_pasid(self, features: int) -> None:
        """pci_enable_pasid: refuse features the capability does not offer, then enable."""
        if self.pasid_enabled:
            raise PciError(errno.EBUSY, "PASID already enabled")
        if not self.pasid_cap:
            raise PciError(errno.EINVAL, "no PASID capability")
        supported = self.read_config_word(self.pasid_cap + PCI_PASID_CAP) & (PCI_PASID_CAP_EXEC | PCI_PASID_CAP_PRIV)
        if (supported | features) != supported:
            raise PciError(errno.EINVAL, f"PASID features {features:#x} not in {supported:#x}")
        self.write_config_word(self.pasid_cap + PCI_PASID_CTRL, PCI_PASID_CTRL_ENABLE | features)
        self.pasid_features = features
        self.pasid_enabled = True

    def disable_pasid(self) -> None:
        if self.pasid_enabled:
            self.write_config_word(self.pasid_cap + PCI_PASID_CTRL, 0)
            self.pasid_enabled = False

    # ---- reset (pci_reset_function: save, FLR, restore) -----------------------------------------
    def save_state(self) -> None:
        """pci_save_state: the type-0 header (the rest is re-programmed by the driver's re-probe)."""
        self.saved_config = [self.read_config_dword(4 * i) for i in range(16)]

    def restore_state(self) -> None:
        """pci_restore_config_space: high dwords first, so BARs are back before Command enables decode;
        only dwords that differ are written (pci_restore_config_dword)."""
        if self.saved_config is None:
            raise PciError(errno.EINVAL, "restore without save")
        for i in reversed(range(16)):
            if self.read_config_dword(4 * i) != self.saved_config[i]:
                self.write_config_dword(4 * i, self.saved_config[i])
        self.pasid_enabled = False      # FLR cleared the PASID control; the driver's probe enables it again
        self.msix_enabled = False

    def has_flr(self) -> bool:
        return bool(self.pcie_cap and
                    self.read_config_dword(self.pcie_cap + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR)

    def flr(self) -> None:
        """pcie_flr: wait for pending transactions, Initiate FLR, wait 100 ms, poll until the function
        answers config reads again (pci_dev_wait)."""
        if not self.has_flr():
            raise PciError(errno.ENOTTY, "function has no FLR")
        for _ in range(PCI_RESET_WAIT_POLLS):
            if not self.read_config_word(self.pcie_cap + PCI_EXP_DEVSTA) & PCI_EXP_DEVSTA_TRPND:
                break
            self.ops.msleep(1)
        self.clear_and_set_config_word(self.pcie_cap + PCI_EXP_DEVCTL, 0, PCI_EXP_DEVCTL_BCR_FLR)
        self.ops.msleep(PCIE_FLR_DELAY_MS)
        for _ in range(PCI_RESET_WAIT_POLLS):
            if self.read_config_dword(PCI_COMMAND) != 0xFFFF_FFFF:
                return
            self.ops.msleep(1)
        raise PciError(errno.ENOTTY, "function not ready after FLR")

    def reset_function(self) -> None:
        self.save_state()
        self.flr()
        self.restore_state()
