"""Hosts and VMs for the VMM model, and the VMM's host-interrupt routing for a guest vector.

* :class:`X86Host`: host memory, physical CPUs, a VT-d unit with interrupt posting (CAP.PI), the host
  kernel's remapping domain (``VtdIrqDomain``) and KVM's per-CPU state (:class:`~.vcpu.PhysicalCpus`).
  Built here rather than through tb/platform's X86Platform, whose unit has no posting.
* :class:`X86Vm`: a guest with vCPUs whose posted-interrupt descriptors are in host memory (KVM
  allocates them in the vCPU structure).
* :class:`X86Routing` / :class:`ArmRouting`: what the VMM does when a guest vector must be backed by a
  host interrupt (vfio-pci's MSI-X vector use, a hypercall, a trapped IMS slot): allocate the host
  resource (an IRTE; an ITS event), and connect it to the guest -
  - x86, posted: ``intel_ir_set_vcpu_affinity`` points the IRTE at the vCPU's descriptor with the
    guest vector (KVM's vmx_pi_update_irte): delivery needs no exit;
  - x86, remapped: the IRTE targets a host vector; its handler (vfio_msihandler -> eventfd -> irqfd ->
    kvm_set_msi) injects the guest vector: an EXTERNAL_INTERRUPT exit when it interrupts a vCPU;
  - ARM: a host LPI whose handler injects (virtual DeviceID, EventID) through the guest's virtual ITS
    (vgic_its_inject_msi): one EXTERNAL_INTERRUPT exit per interrupt.
  Each returns a :class:`Route` holding the host-valid message to write into the device.

x86 guests without a virtual IOMMU compose compatibility-format messages (destination APIC ID in
address[19:12], vector in data[7:0]); vCPU n has APIC ID n. Such a message is what the VMM decodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from imsdev.platform import HostAllocator, Irq, MsiMsg, VtdIrqDomain
from imsdev.platform.x86_posted import PiDesc, VcpuPiData, intel_ir_set_vcpu_affinity

from ..platform import ArmPlatform
from ..platform.cpu import Cpus, Delivery
from ..platform.memory import SparseMemory, bit_field
from ..platform.vtd_ir import INTERRUPT_WINDOW_BASE, INTERRUPT_WINDOW_MASK
from ..platform.vtd_posted import VtdPostedDmarUnit, VtdPostedInterruptRemapping
from .exits import ExitReason
from .guest import Guest
from .vcpu import PhysicalCpus, Vcpu
from .vits import VirtualIts

HOST_ALLOC_BASE, HOST_ALLOC_SIZE = 0x1000_0000, 0x0400_0000


class GuestMessageError(ValueError):
    """The guest's message is not one the VMM can turn into a host interrupt."""


@dataclass
class Route:
    host_irq: Irq
    vcpu: int
    vector: int                     # x86: guest vector; ARM: guest EventID
    posted: bool = False
    detach: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def host_msg(self) -> MsiMsg:
        return self.host_irq.msg


class X86Host:
    def __init__(self, *, apic_ids: Sequence[int] = (0, 1, 2, 3), second_level: bool = False,
                 now: Callable[[], Any] | None = None):
        self.memory = SparseMemory()
        self.cpus = Cpus(apic_ids, now)
        if second_level:
            self.iommu = VtdPostedDmarUnit(self.memory, self.cpus, second_level=True)
        else:
            self.iommu = VtdPostedInterruptRemapping(self.memory, self.cpus)
        self.allocator = HostAllocator(HOST_ALLOC_BASE, HOST_ALLOC_SIZE)
        self.domain = VtdIrqDomain(self.iommu, self.memory, self.allocator, apic_ids)
        self.pcpus = PhysicalCpus(self.cpus)

    def handle_write(self, addr: int, data: bytes, requester_id: int) -> bool:
        return self.iommu.handle_write(addr, data, requester_id)

    @property
    def faults(self) -> list:
        return list(self.iommu.fault_log)


class X86Vm:
    def __init__(self, host: X86Host, name: str, *, vcpus: int = 2, ram_size: int = 0x10_0000):
        self.host = host
        self.guest = Guest(name, "x86", host.memory, host.allocator, ram_size=ram_size)
        self.vcpus = [Vcpu(n, PiDesc(host.memory, host.allocator.alloc(64, 64)), self.guest.exits,
                           host.pcpus) for n in range(vcpus)]

    @property
    def exits(self):
        return self.guest.exits


def decode_compatibility_message(address: int, data: int) -> tuple[int, int]:
    """(destination APIC ID, vector) of a compatibility-format message, else GuestMessageError."""
    if address >> 32 or address & INTERRUPT_WINDOW_MASK != INTERRUPT_WINDOW_BASE:
        raise GuestMessageError(f"address {address:#x} is not in the interrupt window")
    if address & 1 << 4:
        raise GuestMessageError(f"address {address:#x} is remappable format: a host handle")
    return bit_field(address, 19, 12), data & 0xFF


class X86Routing:
    """Host interrupts for an x86 guest's vectors, posted or remapped."""

    def __init__(self, host: X86Host, vm: X86Vm, *, posted: bool = True, affine: bool = False):
        """``affine``: a remapped host interrupt is steered to the physical CPU the target vCPU last ran
        on (what an irqbalance hint or a VMM's pinning does), so its handler interrupts that vCPU."""
        self.host = host
        self.vm = vm
        self.posted = posted
        self.affine = affine

    def route_message(self, requester_id: int, address: int, data: int) -> Route:
        apic_id, vector = decode_compatibility_message(address, data)
        if apic_id >= len(self.vm.vcpus):
            raise GuestMessageError(f"destination APIC ID {apic_id} is not a vCPU of {self.vm.guest.name}")
        return self.route(requester_id, apic_id, vector)

    def route(self, requester_id: int, vcpu_index: int, vector: int) -> Route:
        vcpu = self.vm.vcpus[vcpu_index]
        irq, = self.host.domain.alloc_irqs(requester_id, 1)
        if self.posted:
            intel_ir_set_vcpu_affinity(self.host.domain, irq, VcpuPiData(vcpu.pi_desc.addr, vector))
            return Route(irq, vcpu_index, vector, posted=True)
        if self.affine and vcpu.cpu is not None:
            self.host.domain.set_affinity(irq, list(self.host.cpus.ids).index(vcpu.cpu))
        self.host.pcpus.register_host_vector(irq.target, irq.vector,
                                             lambda _delivery: vcpu.inject(vector))
        return Route(irq, vcpu_index, vector, detach=lambda: self.host.pcpus.unregister_host_vector(
            irq.target, irq.vector))

    def unroute(self, route: Route) -> None:
        if route.detach is not None:
            route.detach()
        self.host.domain.free_irqs([route.host_irq])


class ArmRouting:
    """Host ITS events for an ARM guest's (virtual DeviceID, EventID), injected through its vITS."""

    def __init__(self, host: ArmPlatform, vits: VirtualIts, virtual_device_id: int, guest_doorbells):
        self.host = host
        self.vits = vits
        self.virtual_device_id = virtual_device_id
        self.guest_doorbells = guest_doorbells   # IOVA -> GPA, the guest's MSI mappings
        # ITT size of the device's first host event (None: as many as asked): a VMM that backs every
        # MSI-X vector and IMS slot with a host event sizes it for all of them, as vfio-pci's MSI-X enable
        # sizes the ITT for the whole table (its_pci_msi_prepare)
        self.hwsize: int | None = None
        self._routes: dict[tuple[int, int], tuple[int, int]] = {}
        host.cpus.on_deliver.append(self._host_interrupt)

    def route_message(self, requester_id: int, address: int, data: int) -> Route:
        page = address & ~0xFFF
        if self.guest_doorbells.get(page) != self.vits.doorbell_address & ~0xFFF \
                or address & 0xFFF != self.vits.doorbell_address & 0xFFF:
            raise GuestMessageError(f"address {address:#x} is not the guest's ITS doorbell")
        irq, = self.host.domain.alloc_irqs(requester_id, 1, self.hwsize)
        self._routes[irq.expected] = (self.virtual_device_id, data)
        return Route(irq, 0, data, detach=lambda: self._routes.pop(irq.expected, None))

    def unroute(self, route: Route) -> None:
        route.detach()
        self.host.domain.free_irqs([route.host_irq])

    def _host_interrupt(self, delivery: Delivery) -> None:
        target = self._routes.get(delivery.key)
        if target is not None:
            self.vits.exits.exit(ExitReason.EXTERNAL_INTERRUPT, 0, f"host LPI {delivery.vector}")
            self.vits.inject(*target)


__all__ = ["ArmRouting", "GuestMessageError", "Route", "X86Host", "X86Routing", "X86Vm",
           "decode_compatibility_message"]
