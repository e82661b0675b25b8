"""A guest: guest-physical memory backed by host pages, the VMM's second-level tables for it, exit
accounting, and trapped MMIO.

Shaped like KVM memslots plus the VMM's VFIO DMA mapping of guest RAM:

* :class:`GuestMemory` hands out one host page per 4 KiB of guest RAM from the host allocator (so
  guest-contiguous memory is host-scattered, as with a real VMM's anonymous memory), and implements
  the models' memory protocol (``read``/``write`` by GPA). An access to a GPA that is not RAM raises
  ``MemoryAccessError``: for the CPU that is an EPT violation (MMIO) that the VMM must handle.
* ``second_level_tables()`` builds the IOMMU's view of the same mapping in host memory with the kernel
  code of ``imsdev.platform.iommu_nested`` (VT-d second level on x86, SMMU stage 2 on ARM), every RAM
  page GPA -> HPA, writable: the VFIO_IOMMU_MAP_DMA / IOMMU_IOAS_MAP of the guest's RAM.
* :class:`TrappedRegisters` stands for an emulated register frame the guest reaches through MMIO
  (the virtual ITS, a trapped MSI-X table): each access is one exit (EPT_VIOLATION on x86; a stage-2
  data abort on ARM, counted under the same reason) before the VMM's emulation runs.
"""

from __future__ import annotations

from typing import Any

from imsdev.platform import HostAllocator
from imsdev.platform.iommu_nested import ArmStage2Tables, VtdSecondLevelTables

from ..platform.memory import HostMemory, MemoryAccessError
from .exits import ExitCounter, ExitReason

PAGE = 4096


class GuestMemory:
    """Guest RAM [base, base + size): GPA pages backed by individually allocated host pages."""

    def __init__(self, host_memory: HostMemory, host_allocator: HostAllocator, size: int, *,
                 base: int = 0):
        if size % PAGE or base % PAGE:
            raise ValueError("guest RAM must be whole 4 KiB pages")
        self.host_memory = host_memory
        self.base = base
        self.size = size
        self.pages: dict[int, int] = {}
        for gpa in range(base, base + size, PAGE):
            hpa = host_allocator.alloc(PAGE, PAGE)
            host_memory.write(hpa, bytes(PAGE))
            self.pages[gpa] = hpa

    def contains(self, gpa: int) -> bool:
        return gpa - gpa % PAGE in self.pages

    def hpa(self, gpa: int) -> int:
        page = self.pages.get(gpa - gpa % PAGE)
        if page is None:
            raise MemoryAccessError(f"GPA {gpa:#x} is not guest RAM")
        return page + gpa % PAGE

    def read(self, addr: int, length: int) -> bytes:
        out = bytearray()
        while length:
            chunk = min(length, PAGE - addr % PAGE)
            out += self.host_memory.read(self.hpa(addr), chunk)
            addr, length = addr + chunk, length - chunk
        return bytes(out)

    def write(self, addr: int, data: bytes) -> None:
        view = memoryview(bytes(data))
        while view:
            chunk = min(len(view), PAGE - addr % PAGE)
            self.host_memory.write(self.hpa(addr), bytes(view[:chunk]))
            addr, view = addr + chunk, view[chunk:]

    def second_level_tables(self, arch: str, host_allocator: HostAllocator):
        """The IOMMU tables of this guest's RAM (GPA -> HPA, 4 KiB pages, read/write)."""
        kind = {"x86": VtdSecondLevelTables, "arm": ArmStage2Tables}[arch]
        tables = kind(self.host_memory, host_allocator)
        for gpa, hpa in sorted(self.pages.items()):
            tables.map(gpa, hpa, PAGE, page_size=PAGE)
        return tables


class TrappedRegisters:
    """An emulated register frame: every guest access exits to the VMM, then reaches ``target``."""

    def __init__(self, target: Any, exits: ExitCounter, name: str, *, vcpu: int = 0):
        self.target = target
        self.exits = exits
        self.name = name
        self.vcpu = vcpu

    def read_reg(self, offset: int, size: int | None = None) -> int:
        self.exits.exit(ExitReason.EPT_VIOLATION, self.vcpu, f"{self.name} read {offset:#x}")
        return self.target.read_reg(offset, size)

    def write_reg(self, offset: int, value: int, size: int | None = None) -> None:
        self.exits.exit(ExitReason.EPT_VIOLATION, self.vcpu, f"{self.name} write {offset:#x}")
        self.target.write_reg(offset, value, size)


class Guest:
    """One VM: its RAM, a GPA allocator for the guest kernel's own allocations, exits, and (once
    built) the IOMMU tables of its RAM."""

    def __init__(self, name: str, arch: str, host_memory: HostMemory, host_allocator: HostAllocator,
                 *, ram_size: int = 0x40_0000, now=None):
        if arch not in ("x86", "arm"):
            raise ValueError(f"arch {arch!r}: x86 or arm")
        self.name = name
        self.arch = arch
        self.host_allocator = host_allocator
        self.memory = GuestMemory(host_memory, host_allocator, ram_size)
        # The guest kernel allocates inside its RAM, leaving page 0 unused.
        self.allocator = HostAllocator(PAGE, ram_size - PAGE)
        self.exits = ExitCounter(now)
        self._iommu_tables = None

    @property
    def iommu_tables(self):
        if self._iommu_tables is None:
            self._iommu_tables = self.memory.second_level_tables(self.arch, self.host_allocator)
        return self._iommu_tables


__all__ = ["Guest", "GuestMemory", "TrappedRegisters"]
