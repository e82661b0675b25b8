"""What the platform irq domains share: the MSI message, the allocated interrupt, the domain interface.

This package stands for Linux's interrupt-remapping and ITS irq domains (drivers/iommu/intel/
irq_remapping.c, drivers/irqchip/irq-gic-v3-its.c): it programs the platform's remapping hardware and
composes the message a device must write. It touches the hardware models only as a kernel would:
through host memory (an object with ``read``/``write``) and register-access objects (``read_reg`` /
``write_reg``). It imports nothing from the bench's models (tb/platform), whose decoders are their own, so
that a test of the two together checks one implementation of the facts against another. (Where the bench
must build the same structure a kernel builds, e.g. the posted-interrupt descriptor in
tb/platform/vtd_posted.py, tb imports fw's encoder rather than copying its constants.)
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence


class HostMemory(Protocol):
    def read(self, addr: int, length: int) -> bytes: ...

    def write(self, addr: int, data: bytes) -> None: ...


class RegisterAccess(Protocol):
    def read_reg(self, offset: int, size: int | None = None) -> int: ...

    def write_reg(self, offset: int, value: int, size: int | None = None) -> None: ...


@dataclass(frozen=True)
class MsiMsg:
    address_lo: int
    address_hi: int
    data: int

    @property
    def address(self) -> int:
        return self.address_hi << 32 | self.address_lo

    @property
    def payload(self) -> bytes:
        """The 4 bytes a device writes to ``address``."""
        return self.data.to_bytes(4, "little")


@dataclass
class Irq:
    """One allocated interrupt and where the kernel expects it to arrive.

    ``index`` is what the device's message selects in the remapping hardware: the IRTE index on x86,
    the EventID on ARM. ``target`` is the APIC ID (x86) or the redistributor's processor number (ARM);
    ``vector`` is the IDT vector (x86) or the LPI INTID (ARM). ``cpu`` is the logical CPU number that
    ``set_affinity`` takes.
    """

    requester_id: int
    index: int
    msg: MsiMsg
    cpu: int
    target: int
    vector: int
    active: bool = field(default=True, compare=False)

    @property
    def hwirq(self) -> int:
        return self.index

    @property
    def expected(self) -> tuple[int, int]:
        return (self.target, self.vector)


class IrqDomain(abc.ABC):
    """The operations a device driver's MSI-X or IMS setup asks of the platform."""

    @property
    @abc.abstractmethod
    def cpu_count(self) -> int: ...

    @abc.abstractmethod
    def alloc_irqs(self, requester_id: int, nvecs: int, hwsize: int | None = None) -> list[Irq]:
        """Allocate nvecs interrupts for a requester; hwsize sizes per-device tables (ITS ITT) for
        the device's whole vector space, as Linux's msi_domain_info.hwsize does."""

    @abc.abstractmethod
    def set_affinity(self, irq: Irq, cpu: int) -> None:
        """Retarget an interrupt by reprogramming the remapping hardware only: the device's
        message stays the same."""

    @abc.abstractmethod
    def free_irqs(self, irqs: Sequence[Irq]) -> None: ...


class HostAllocator:
    """First-fit allocator of host memory for the kernel's tables (kzalloc/alloc_pages stand-in)."""

    def __init__(self, base: int, size: int):
        self.base = base
        self.size = size
        self._free: list[tuple[int, int]] = [(base, base + size)]
        self._allocated: dict[int, int] = {}

    def alloc(self, size: int, align: int = 8) -> int:
        if size <= 0 or align <= 0 or align & (align - 1):
            raise ValueError(f"alloc(size={size}, align={align})")
        for n, (start, end) in enumerate(self._free):
            addr = (start + align - 1) & ~(align - 1)
            if addr + size <= end:
                pieces = [(start, addr), (addr + size, end)]
                self._free[n:n + 1] = [(a, b) for a, b in pieces if b > a]
                self._allocated[addr] = size
                return addr
        raise MemoryError(f"host allocator: no {size:#x} bytes aligned to {align:#x}")

    def free(self, addr: int) -> None:
        size = self._allocated.pop(addr)
        self._free.append((addr, addr + size))
        self._free.sort()
        merged: list[tuple[int, int]] = []
        for start, end in self._free:
            if merged and merged[-1][1] == start:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        self._free = merged


def zero_fill(memory: HostMemory, addr: int, size: int) -> None:
    memory.write(addr, bytes(size))


def write_u64(memory: HostMemory, addr: int, value: int) -> None:
    memory.write(addr, value.to_bytes(8, "little"))


def wait_for(read: Callable[[], int], done: Callable[[int], bool], what: str,
             attempts: int = 1000) -> int:
    """Poll a register until done(value), like Linux's IOMMU_WAIT_OP / readl_relaxed_poll_timeout."""
    for _ in range(attempts):
        value = read()
        if done(value):
            return value
    raise TimeoutError(f"timed out waiting for {what} (last value {value:#x})")
