"""What the driver needs from the machine it runs on.

Everything the driver does to hardware goes through one ``DeviceOps`` object, so the same driver runs
against the RTL in cocotb (tb/driver_ops.py), against a fake that records the access sequence
(tests/unit) or anywhere else that can provide these few operations. They are the kernel's primitives:

  mmio_read32/64, mmio_write32/64   readl/readq, writel/writeq on an ioremapped BAR (physical address;
                                    ioremap is the identity here)
  cfg_read/cfg_write                pci_{read,write}_config_{byte,word,dword}
  mem_alloc/mem_read/mem_write      dma_alloc_coherent and CPU access to that memory
  dmwr                              ENQCMDS: a 64-byte non-posted write with a PASID; the completion
                                    status is what the CPU reports (ZF) - here the PCIe status itself
  movdir64b                         MOVDIR64B (iosubmit_cmds512): a 64-byte posted write
  wait_irq                          the CPU's interrupt entry: (target, vector) pairs delivered since the
                                    last call, waiting up to timeout_ns for at least one
  delay_ns / msleep / ktime_get_ns  ndelay / msleep / ktime_get_ns (the bench may compress msleep)
  requester_id, irq_domain          pci_dev_id(), and the platform's MSI parent domain
                                    (fw/imsdev/platform: x86 interrupt remapping or the ARM ITS)

Delivery keys are (target, vector): APIC ID and IDT vector on x86, redistributor and LPI INTID on ARM,
exactly ``Irq.expected`` of the platform domain; the irq core (irqdesc.py) maps them back to irqs.
"""

from __future__ import annotations

import abc
import enum

from imsdev.platform import IrqDomain


class DmwrStatus(enum.IntEnum):
    """Completion status of an ENQCMD(S) / DMWr, PCIe Cpl Status encoding (same values in imsdev.h)."""
    SC = 0x0     # accepted
    UR = 0x1     # unsupported request: the device refused it and logged SWERR
    RRS = 0x2    # request retry status: queue full / not enabled; nothing queued, nothing logged
    CA = 0x4     # completer abort: bad size/alignment, SWERR logged


class DeviceOps(abc.ABC):
    requester_id: int
    irq_domain: IrqDomain

    @abc.abstractmethod
    def mmio_read32(self, addr: int) -> int: ...

    @abc.abstractmethod
    def mmio_write32(self, addr: int, value: int) -> None: ...

    @abc.abstractmethod
    def mmio_read64(self, addr: int) -> int: ...

    @abc.abstractmethod
    def mmio_write64(self, addr: int, value: int) -> None: ...

    @abc.abstractmethod
    def cfg_read(self, offset: int, size: int) -> int: ...

    @abc.abstractmethod
    def cfg_write(self, offset: int, size: int, value: int) -> None: ...

    @abc.abstractmethod
    def mem_alloc(self, size: int, align: int = 64) -> int:
        """Zeroed DMA-able host memory; returns its bus address."""

    @abc.abstractmethod
    def mem_read(self, addr: int, length: int) -> bytes: ...

    @abc.abstractmethod
    def mem_write(self, addr: int, data: bytes) -> None: ...

    @abc.abstractmethod
    def dmwr(self, addr: int, data: bytes, pasid: int, priv: bool = False) -> DmwrStatus: ...

    @abc.abstractmethod
    def movdir64b(self, addr: int, data: bytes) -> None: ...

    @abc.abstractmethod
    def wait_irq(self, timeout_ns: int) -> list[tuple[int, int]]: ...

    @abc.abstractmethod
    def delay_ns(self, ns: int) -> None: ...

    @abc.abstractmethod
    def ktime_get_ns(self) -> int: ...

    def msleep(self, ms: int) -> None:
        self.delay_ns(ms * 1_000_000)

    def flush(self) -> None:
        """Issue posted MMIO writes an implementation buffers (none by default). An implementation that
        buffers them issues them, in order, before any access that returns a value or lets time pass."""
