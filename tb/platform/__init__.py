"""Host-platform models for the bench, and the bundles that pair them with the kernel's irq domain.

Models (pure Python, synchronous, no simulator): :mod:`.memory` (host memory, shared helpers),
:mod:`.cpu` (where interrupts land), :mod:`.vtd_ir` (x86 VT-d interrupt remapping), :mod:`.smmu`
(ARM SMMU MSI window) and :mod:`.gic_its` (ARM GICv3 ITS and LPI redistributors).

A platform bundle gives the bench one interface, identical on x86 and ARM, so the same device test
runs on both:

* ``handle_write(addr, data, requester_id) -> bool``: offer every upstream memory write of the
  device; True means the platform consumed it as an interrupt message (delivered or faulted).
* ``alloc_irqs(requester_id, nvecs, hwsize=None)``, ``set_affinity(irq, cpu)``, ``free_irqs(irqs)``:
  the kernel's irq-domain operations (fw/imsdev/platform); each Irq carries the message to program
  into the device (``irq.msg``).
* ``expected_target(irq) -> (target, vector)``: where that message must land, comparable with
  ``Delivery.key``; ``deliveries``, ``delivery_count``, ``on_deliver`` (callbacks), ``faults``.
* With ``dma_translation=True`` (off by default): a DMA-translating IOMMU (x86: :class:`~.vtd_dma.VtdDmarUnit`
  in place of the interrupt-remapping-only unit, whose IR behaviour it inherits; ARM: an
  :class:`~.smmu_dma.SmmuV3` beside the MSI window), the kernel's SVA code on it (``sva``: VtdSva /
  SmmuSva, fw/imsdev/platform/iommu_sva.py), ``translate(requester_id, pasid, priv, addr, is_write)``,
  ``attach_dma_device(requester_id)`` (the device's default domain: DMA without PASID untranslated), and
  the DMA faults in ``faults``. Without it ``sva`` is None and nothing is translated.
* Guests (tb/vmm, docs/vmm.md; all off by default): x86 ``posted=True`` gives the unit CAP.PI and
  interrupt posting (tb/platform/vtd_posted.py); ``second_level=True`` (x86, with dma_translation) a
  unit with second-level/nested walks and the kernel's ``VtdNestedSva``; ARM ``stage2=True`` (with
  dma_translation) an SMMUv3 with stage 2 and ``SmmuNested``.

The kernel side reaches the models only through host memory and their read_reg/write_reg, so the
tables it builds are the ones the models read.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from imsdev.platform import HostAllocator, Irq, ItsIrqDomain, Process, SmmuSva, VtdIrqDomain, VtdSva
from imsdev.platform.iommu_nested import SmmuNested, VtdNestedSva

from .cpu import Cpus, Delivery
from .gic_its import ITS_FRAME_BYTES, GicIts, GicRedistributors
from .memory import HostMemory, MemoryAccessError, SparseMemory
from .smmu import SmmuMsiWindow
from .smmu_dma import SmmuV3
from .vtd_dma import VtdDmarUnit
from .vtd_ir import VtdFaultReason, VtdInterruptRemapping
from .vtd_posted import VtdPostedDmarUnit, VtdPostedInterruptRemapping

# Where the kernel's tables go when the caller does not say: clear of the MSI window, the ITS
# frames and the x86 interrupt window.
DEFAULT_ALLOC_BASE = 0x1000_0000
DEFAULT_ALLOC_SIZE = 0x0400_0000


class HostPlatform:
    name = "host"

    def __init__(self, memory: HostMemory, cpus: Cpus, allocator: HostAllocator):
        self.memory = memory
        self.cpus = cpus
        self.allocator = allocator
        self.domain: Any = None
        self.sva: Any = None          # VtdSva / SmmuSva when built with dma_translation=True

    @property
    def dma_translation(self) -> bool:
        return self.sva is not None

    def translate(self, requester_id: int, pasid: int | None, priv: bool, addr: int, is_write: bool):
        """The physical address of one DMA access, or the fault the IOMMU recorded for it."""
        raise NotImplementedError(f"{self.name} platform built without dma_translation")

    def attach_dma_device(self, requester_id: int) -> None:
        """The kernel's probe-time attach: DMA without PASID passes untranslated."""
        if self.sva is not None:
            self.sva.attach_device(requester_id)

    def process(self, name: str):
        """A new user address space (mm) in this platform's page-table format."""
        return Process(name, self.memory, self.allocator, self.name)

    def handle_write(self, addr: int, data: bytes, requester_id: int) -> bool:
        raise NotImplementedError

    @property
    def faults(self) -> list:
        raise NotImplementedError

    @property
    def cpu_count(self) -> int:
        return self.domain.cpu_count

    def alloc_irqs(self, requester_id: int, nvecs: int, hwsize: int | None = None) -> list[Irq]:
        return self.domain.alloc_irqs(requester_id, nvecs, hwsize)

    def set_affinity(self, irq: Irq, cpu: int) -> None:
        self.domain.set_affinity(irq, cpu)

    def free_irqs(self, irqs: Sequence[Irq]) -> None:
        self.domain.free_irqs(irqs)

    def expected_target(self, irq: Irq) -> tuple[int, int]:
        return irq.expected

    @property
    def deliveries(self) -> list[Delivery]:
        return self.cpus.deliveries

    @property
    def on_deliver(self) -> list[Callable[[Delivery], None]]:
        return self.cpus.on_deliver

    def delivery_count(self, target: int, vector: int) -> int:
        return self.cpus.count(target, vector)


class X86Platform(HostPlatform):
    name = "x86"

    def __init__(self, memory: HostMemory | None = None, *, apic_ids: Sequence[int] = (0, 1, 2, 3),
                 now: Callable[[], Any] | None = None, x2apic: bool = False,
                 ir_table_entries: int = 4096, cache_irtes: bool = True,
                 alloc_base: int = DEFAULT_ALLOC_BASE, alloc_size: int = DEFAULT_ALLOC_SIZE,
                 dma_translation: bool = False, posted: bool = False, second_level: bool = False):
        super().__init__(memory if memory is not None else SparseMemory(), Cpus(apic_ids, now),
                         HostAllocator(alloc_base, alloc_size))
        if second_level and not dma_translation:
            raise ValueError("second_level needs dma_translation")
        if dma_translation:
            unit = VtdPostedDmarUnit if posted else VtdDmarUnit
            extra = {"second_level": True} if second_level else {}
        else:
            unit = VtdPostedInterruptRemapping if posted else VtdInterruptRemapping
            extra = {}
        self.iommu = unit(self.memory, self.cpus, cache_irtes=cache_irtes, **extra)
        self.domain = VtdIrqDomain(self.iommu, self.memory, self.allocator, apic_ids,
                                   table_entries=ir_table_entries, x2apic=x2apic)
        if dma_translation:
            sva = VtdNestedSva if second_level else VtdSva
            self.sva = sva(self.iommu, self.memory, self.allocator, self.domain)

    def handle_write(self, addr: int, data: bytes, requester_id: int) -> bool:
        return self.iommu.handle_write(addr, data, requester_id)

    def translate(self, requester_id: int, pasid: int | None, priv: bool, addr: int, is_write: bool):
        if self.sva is None:
            return super().translate(requester_id, pasid, priv, addr, is_write)
        return self.iommu.translate(requester_id, pasid, priv, addr, is_write)

    @property
    def faults(self) -> list:
        return list(self.iommu.fault_log) + list(getattr(self.iommu, "dma_fault_log", ()))


class ArmPlatform(HostPlatform):
    name = "arm"

    def __init__(self, memory: HostMemory | None = None, *, cpu_count: int = 4,
                 now: Callable[[], Any] | None = None, its_phys_base: int = 0x0808_0000,
                 device_id_bits: int = 16, event_id_bits: int = 16, intid_bits: int = 16,
                 command_queue_pages: int = 16, stall_on_command_error: bool = False,
                 alloc_base: int = DEFAULT_ALLOC_BASE, alloc_size: int = DEFAULT_ALLOC_SIZE,
                 dma_translation: bool = False, sva_stream_id_bits: int = 12, stage2: bool = False):
        super().__init__(memory if memory is not None else SparseMemory(),
                         Cpus(range(cpu_count), now), HostAllocator(alloc_base, alloc_size))
        self.redistributors = GicRedistributors(self.memory, self.cpus, intid_bits=intid_bits)
        self.its = GicIts(self.memory, self.redistributors, phys_base=its_phys_base,
                          device_id_bits=device_id_bits, event_id_bits=event_id_bits,
                          stall_on_command_error=stall_on_command_error)
        self.smmu = SmmuMsiWindow(memory=self.memory, now=self.cpus.now)
        self.smmu.attach(its_phys_base, ITS_FRAME_BYTES, self.its)
        frames = [self.redistributors.frames[p] for p in self.cpus.ids]
        self.domain = ItsIrqDomain(self.its, frames, self.memory, self.allocator, self.smmu,
                                   its_phys_base=its_phys_base, lpi_id_bits=intid_bits,
                                   command_queue_pages=command_queue_pages)
        self.dma: SmmuV3 | None = None
        if stage2 and not dma_translation:
            raise ValueError("stage2 needs dma_translation")
        if dma_translation:
            # The DMA-translating SMMU beside the MSI window (which keeps claiming MSI writes first). The
            # kernel sizes its linear stream table for sva_stream_id_bits (2^12 StreamIDs x 64 B = 256 KiB
            # of the bench's table memory; the model itself has 16 SID bits).
            self.dma = SmmuV3(self.memory, now=self.cpus.now, stage2=stage2)
            sva = SmmuNested if stage2 else SmmuSva
            self.sva = sva(self.dma, self.memory, self.allocator, sid_bits=sva_stream_id_bits)

    def handle_write(self, addr: int, data: bytes, requester_id: int) -> bool:
        return self.smmu.handle_write(addr, data, requester_id)

    def translate(self, requester_id: int, pasid: int | None, priv: bool, addr: int, is_write: bool):
        if self.dma is None:
            return super().translate(requester_id, pasid, priv, addr, is_write)
        return self.dma.translate(requester_id, pasid, priv, addr, is_write)

    @property
    def faults(self) -> list:
        dma = list(self.dma.events) if self.dma is not None else []
        return list(self.smmu.events) + list(self.its.errors) + dma


PLATFORMS = {"x86": X86Platform, "arm": ArmPlatform}


def make_platform(name: str, **options: Any) -> HostPlatform:
    return PLATFORMS[name](**options)


__all__ = ["ArmPlatform", "Cpus", "Delivery", "GicIts", "GicRedistributors", "HostPlatform",
           "MemoryAccessError", "PLATFORMS", "SmmuMsiWindow", "SmmuV3", "SparseMemory", "VtdDmarUnit",
           "VtdFaultReason",
           "VtdInterruptRemapping", "X86Platform", "make_platform"]
