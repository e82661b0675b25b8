"""SMMU-style MSI window: the IOVA page that a device's MSI write uses on an ARM platform.

Follows platform-facts.md section 6: the software-MSI reserved region is MSI_IOVA_BASE 0x0800_0000,
MSI_IOVA_LENGTH 0x10_0000 (Linux arm-smmu-v3); iommu_dma_get_msi_page() maps the granule page holding
GITS_TRANSLATER once, and iommu_dma_compose_msi_msg() makes the message address
``page IOVA | (PA & (granule - 1))``. The SMMU translates the device's write to that physical address,
where the ITS sees it with the DeviceID derived from the StreamID (here: the requester ID).

This models the result of the kernel's IOMMU mapping (``map``/``unmap`` stand for iommu_map/iommu_unmap
on the device's domain), not the SMMU's page-table walk: one translation domain shared by all streams.
Only writes in the window are claimed; the rest of the device's DMA is not translated by this model.
A write to an unmapped page in the window is dropped and recorded as an event like SMMUv3's
F_TRANSLATION (event 0x10) with the StreamID and the IOVA. A translated write goes to whichever
target (the ITS) was attached at that physical address; a physical address no target claims is
written to host memory when a memory object was given, as a real write would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .memory import HostMemory

MSI_IOVA_BASE = 0x0800_0000
MSI_IOVA_LENGTH = 0x10_0000
MSI_GRANULE = 0x1000

EVT_ID_TRANSLATION_FAULT = 0x10


class WriteTarget(Protocol):
    def handle_write(self, addr: int, data: bytes, requester_id: int) -> bool: ...


@dataclass(frozen=True)
class SmmuEvent:
    event_id: int
    stream_id: int
    iova: int
    data: bytes
    time: Any

    @property
    def requester_id(self) -> int:
        return self.stream_id

    @property
    def reason(self) -> str:
        return "translation_fault" if self.event_id == EVT_ID_TRANSLATION_FAULT else "event"


class SmmuMsiWindow:
    def __init__(self, *, iova_base: int = MSI_IOVA_BASE, length: int = MSI_IOVA_LENGTH,
                 granule: int = MSI_GRANULE, memory: HostMemory | None = None, now=None):
        if iova_base % granule or length % granule:
            raise ValueError("the MSI window must be granule-aligned")
        self.iova_base = iova_base
        self.length = length
        self.granule = granule
        self.memory = memory
        self._now = now if now is not None else (lambda: None)
        self._pages: dict[int, int] = {}  # IOVA page -> PA page
        self._targets: list[tuple[int, int, WriteTarget]] = []
        self.events: list[SmmuEvent] = []
        self.translated_writes = 0
        self.unclaimed_writes = 0

    def contains(self, iova: int) -> bool:
        return self.iova_base <= iova < self.iova_base + self.length

    def attach(self, pa_base: int, length: int, target: WriteTarget) -> None:
        """Put a write target (the ITS frames) at a physical address range."""
        self._targets.append((pa_base, pa_base + length, target))

    def map(self, iova: int, pa: int) -> None:
        if iova % self.granule or pa % self.granule:
            raise ValueError(f"map({iova:#x}, {pa:#x}): not {self.granule:#x}-aligned")
        if not self.contains(iova):
            raise ValueError(f"map({iova:#x}): outside the MSI window")
        if self._pages.get(iova, pa) != pa:
            raise ValueError(f"map({iova:#x}): already mapped to {self._pages[iova]:#x}")
        self._pages[iova] = pa

    def unmap(self, iova: int) -> bool:
        return self._pages.pop(iova - iova % self.granule, None) is not None

    def translate(self, iova: int) -> int | None:
        offset = iova % self.granule
        page = self._pages.get(iova - offset)
        return None if page is None else page + offset

    @property
    def mappings(self) -> dict[int, int]:
        return dict(self._pages)

    def handle_write(self, addr: int, data: bytes, requester_id: int) -> bool:
        if not self.contains(addr):
            return False
        pa = self.translate(addr)
        if pa is None:
            self.events.append(SmmuEvent(EVT_ID_TRANSLATION_FAULT, requester_id, addr, bytes(data),
                                         self._now()))
            return True
        self.translated_writes += 1
        for start, end, target in self._targets:
            if start <= pa < end and target.handle_write(pa, data, requester_id):
                return True
        self.unclaimed_writes += 1
        if self.memory is not None:
            self.memory.write(pa, data)
        return True
