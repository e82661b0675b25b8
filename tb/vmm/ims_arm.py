"""IMS in an ARM guest: the three designs of issue 10 item 3 on a GICv3 ITS behind the SMMU's MSI window.

An ARM guest's interrupt is an EventID of a DeviceID on its *virtual* ITS (tb/vmm/vits.py): the guest kernel's
unchanged ITS code maps the device under its virtual DeviceID (MAPD/MAPTI on the vITS, each GITS access one exit)
and composes (doorbell IOVA in the MSI window, EventID). That allocation is the same for all three designs and
is done by :meth:`ArmVm.guest_event` before a design's setup; what the designs differ in is how a host-valid
message gets into the IMS slot:

(a) :class:`ArmDirectIms`: the guest writes its own message into its pass-through IMS slot (no exit). The
    device's write reaches the *physical* ITS with the physical DeviceID (the StreamID) and the guest's EventID.
    With KVM's plain vgic-its (``shadow=False``) nothing maps that pair for the guest: the physical ITS drops it
    (DEVICE_UNMAPPED when no host driver maps the DeviceID; when the host driver owns the function its own ITT
    is looked up, so the guest's EventID names one of the host's events or is EVENT_UNMAPPED). With a
    shadowing vITS (``shadow=True``: every guest MAPTI mirrored on the physical DeviceID with the same
    EventID, a model choice, not a KVM mode: KVM maps host events it chose) the guest's message is valid.
(b) :class:`ArmHypercallIms`: an HVC (counted as VMCALL) asks the host for a host-valid message for the guest's
    (virtual DeviceID, EventID): the host allocates an event of the physical DeviceID whose LPI handler injects
    through the vITS (host.ArmRouting), the guest writes that message; mask/unmask are direct.
(c) :class:`ArmTrappedIms`: the VMM traps the IMS pages (trap.TrappedIms over host.ArmRouting): every IMS access
    is one exit (a stage-2 data abort, counted as EPT_VIOLATION), the guest's own message is validated (its
    doorbell) and backed by a host event.

In (a) shadowed, (b) and (c) every interrupt is a host LPI plus one injection through the vITS (one
EXTERNAL_INTERRUPT exit): GICv4 direct injection is not modelled.
"""

from __future__ import annotations

from imsdev.platform import Irq, ItsIrqDomain, MsiMsg

from ..platform.cpu import Cpus
from ..platform.gic_its import GicRedistributors
from .exits import ExitReason
from .guest import Guest, TrappedRegisters
from .host import ArmRouting, Route
from .ims import GuestImsDriver
from .trap import GuestBar, TrappedIms
from .vits import GuestMsiMapper, VirtualIts

VITS_GPA = 0x0808_0000             # the guest's ITS frame (GPA; as tb/vmm/bench.py)
ARM_VM_RAM = 0x10_0000


class ArmVm:
    """An ARM VM on an ARM host (``tb.platform.ArmPlatform`` or the bench's model): guest RAM, vCPUs with
    redistributors in guest memory, a virtual ITS (virtual DeviceID -> the device's requester ID), the guest
    kernel's ITS domain on it, and the VMM's routing (:class:`~.host.ArmRouting`)."""

    def __init__(self, host, name: str, *, requester_id: int, virtual_device_id: int, vcpus: int = 2,
                 shadow: bool = False, set_dev_id: bool = True, ram_size: int = ARM_VM_RAM):
        self.host = host
        self.name = name
        self.virtual_device_id = virtual_device_id
        self.guest = Guest(name, "arm", host.memory, host.allocator, ram_size=ram_size)
        self.cpus = Cpus(range(vcpus), host.cpus.now)
        self.redistributors = GicRedistributors(self.guest.memory, self.cpus)
        self.vits = VirtualIts(self.guest.memory, self.redistributors, host.domain, host.cpus, self.guest.exits,
                               gpa_base=VITS_GPA, device_id_bits=8, shadow=shadow)
        if set_dev_id:
            self.vits.set_dev_id(virtual_device_id, requester_id)
        self.mapper = GuestMsiMapper(self.vits, host.smmu, host.its.phys_base)
        self.kernel = ItsIrqDomain(TrappedRegisters(self.vits, self.guest.exits, "GITS"),
                                   [TrappedRegisters(self.redistributors.frames[p], self.guest.exits, f"GICR{p}")
                                    for p in self.cpus.ids],
                                   self.guest.memory, self.guest.allocator, self.mapper, its_phys_base=VITS_GPA)
        self.routing = ArmRouting(host, self.vits, virtual_device_id, self.mapper.guest_mappings)

    @property
    def exits(self):
        return self.guest.exits

    def guest_event(self) -> Irq:
        """The guest kernel allocates one interrupt of its device on its vITS (MAPD once, MAPTI, INV)."""
        irq, = self.kernel.alloc_irqs(self.virtual_device_id, 1)
        return irq

    def received(self, irq: Irq) -> int:
        return sum(1 for d in self.cpus.deliveries if d.key == irq.expected)


class ArmDirectIms:
    """Design (a): the guest's own message (its doorbell IOVA, its EventID), straight into the device."""

    name = "(a) guest writes its own message"

    def __init__(self, vm: ArmVm, bar: GuestBar):
        self.vm = vm
        self.driver = GuestImsDriver(bar)

    def setup(self, wq: int, index: int, irq: Irq) -> MsiMsg:
        self.driver.write_message(wq, index, irq.msg)
        self.driver.unmask(wq, index)
        return irq.msg


class ArmHypercallIms:
    """Design (b): an HVC returns a host-valid message for the guest's (virtual DeviceID, EventID)."""

    name = "(b) hypercall for a host message"

    def __init__(self, vm: ArmVm, bar: GuestBar, requester_id: int):
        self.vm = vm
        self.requester_id = requester_id
        self.driver = GuestImsDriver(bar)
        self.routes: dict[tuple[int, int], Route] = {}

    def hypercall_get_msi(self, irq: Irq, *, calling_vcpu: int = 0) -> MsiMsg:
        """The host checks that the message is the guest's own (its doorbell) and backs its EventID with a
        host event of the physical DeviceID whose LPI injects (virtual DeviceID, EventID) through the vITS."""
        self.vm.exits.exit(ExitReason.VMCALL, calling_vcpu,
                           f"HVC get_msi vDevID {self.vm.virtual_device_id:#x} event {irq.index}")
        route = self.vm.routing.route_message(self.requester_id, irq.msg.address, irq.msg.data)
        self.routes[(route.host_msg.address, route.host_msg.data)] = route
        return route.host_msg

    def setup(self, wq: int, index: int, irq: Irq) -> MsiMsg:
        msg = self.hypercall_get_msi(irq)
        self.driver.write_message(wq, index, msg)
        self.driver.unmask(wq, index)
        return msg


class ArmTrappedIms:
    """Design (c): the VMM traps and emulates the guest's IMS window (or its slots of one)."""

    name = "(c) VMM traps IMS pages"

    def __init__(self, vm: ArmVm, bar: GuestBar, wq: int, slots: range | None = None):
        self.vm = vm
        self.emulation = TrappedIms(bar.device, vm.routing, wq, slots)
        self.emulation.install(bar)
        self.driver = GuestImsDriver(bar)

    def setup(self, wq: int, index: int, irq: Irq) -> MsiMsg:
        self.driver.write_message(wq, index, irq.msg)
        self.driver.unmask(wq, index)
        return irq.msg


def arm_design(key: str, vm: ArmVm, bar: GuestBar, requester_id: int, wq: int, slots: range | None = None):
    if key == "a":
        return ArmDirectIms(vm, bar)
    if key == "b":
        return ArmHypercallIms(vm, bar, requester_id)
    return ArmTrappedIms(vm, bar, wq, slots)


__all__ = ["ARM_VM_RAM", "ArmDirectIms", "ArmHypercallIms", "ArmTrappedIms", "ArmVm", "VITS_GPA", "arm_design"]
