"""ARM guest interrupts through a virtual ITS (tb/vmm/vits.py): the guest kernel's unchanged ITS code
against the virtual ITS in guest memory, the VMM's virtual -> physical DeviceID table, shadowing onto
the physical ITS, the guest MSI IOVA in the MSI window, and injection to the guest's vCPUs."""

import pytest

from imsdev.platform import ItsIrqDomain
from tb.platform import ArmPlatform
from tb.platform.cpu import Cpus
from tb.platform.gic_its import GicRedistributors, ItsErrorReason
from tb.vmm.exits import ExitReason
from tb.vmm.guest import Guest, TrappedRegisters
from tb.vmm.vits import GuestMsiMapper, VirtualIts

VRID, PRID = 0x0010, 0x0300          # the guest's view of the device, and the real one
OTHER_PRID = 0x0400
VITS_GPA = 0x0808_0000               # the virtual ITS frame in the guest's physical map (not RAM)
MSI_IOVA = 0x0800_0000


class ArmGuest:
    def __init__(self):
        self.host = ArmPlatform()
        self.guest = Guest("vm0", "arm", self.host.memory, self.host.allocator)
        self.vcpus = Cpus((0, 1))
        redists = GicRedistributors(self.guest.memory, self.vcpus)
        self.vits = VirtualIts(self.guest.memory, redists, self.host.domain, self.host.cpus,
                               self.guest.exits, gpa_base=VITS_GPA, device_id_bits=8)
        exits = self.guest.exits
        frames = [TrappedRegisters(redists.frames[p], exits, f"GICR{p}") for p in self.vcpus.ids]
        self.mapper = GuestMsiMapper(self.vits, self.host.smmu, self.host.its.phys_base)
        self.kernel = ItsIrqDomain(TrappedRegisters(self.vits, exits, "GITS"), frames, self.guest.memory,
                                   self.guest.allocator, self.mapper, its_phys_base=VITS_GPA)

    def device_write(self, msg, requester_id=PRID):
        return self.host.handle_write(msg.address, msg.payload, requester_id)


def test_guest_msi_is_a_window_iova_mapped_onto_the_physical_translater():
    vm = ArmGuest()
    vm.vits.set_dev_id(VRID, PRID)
    irq, = vm.kernel.alloc_irqs(VRID, 1)
    assert irq.msg.address == MSI_IOVA | 0x040 and irq.msg.data == 0    # GITS_TRANSLATER 0x10040
    assert vm.mapper.guest_mappings == {MSI_IOVA: VITS_GPA + 0x10000}
    assert vm.host.smmu.translate(irq.msg.address) == vm.host.its.phys_base + 0x10040


def test_guest_interrupt_arrives_once_at_its_vcpu_through_the_physical_its():
    vm = ArmGuest()
    vm.vits.set_dev_id(VRID, PRID)
    irqs = vm.kernel.alloc_irqs(VRID, 2)
    assert [k[1] for k in vm.vits.shadow] == [0, 1]
    mark = vm.guest.exits.mark()
    for irq in irqs:
        assert vm.device_write(irq.msg)
    assert [d.key for d in vm.vcpus.deliveries] == [irq.expected for irq in irqs]
    assert vm.guest.exits.since(mark) == {ExitReason.EXTERNAL_INTERRUPT: 2}
    # The physical ITS saw the physical DeviceID and the guest's EventIDs.
    host_irqs = [vm.vits.shadow[(VRID, e)] for e in (0, 1)]
    assert [(i.requester_id, i.index) for i in host_irqs] == [(PRID, 0), (PRID, 1)]
    assert vm.host.its.errors == [] and vm.vits.errors == []


def test_unmapped_virtual_device_id_is_dropped_and_recorded():
    vm = ArmGuest()
    vm.vits.set_dev_id(VRID, PRID)
    irq, = vm.kernel.alloc_irqs(0x0020, 1)            # the guest names a device it was not given
    assert [(d.name, d.virtual_device_id) for d in vm.vits.dropped] == \
        [("MAPD", 0x20), ("MAPTI", 0x20), ("INV", 0x20)]
    assert not any(k[0] == 0x20 for k in vm.vits.shadow)
    vm.device_write(irq.msg, requester_id=OTHER_PRID)   # whatever device tries it: nothing arrives
    assert vm.vcpus.deliveries == []
    assert [(e.reason, e.device_id) for e in vm.host.its.errors] == \
        [(ItsErrorReason.DEVICE_UNMAPPED, OTHER_PRID)]
    vm.vits.inject(0x20, 0)
    assert vm.vits.dropped_injections[0].reason == "virtual DeviceID unmapped"


def test_another_device_cannot_use_the_guests_message():
    vm = ArmGuest()
    vm.vits.set_dev_id(VRID, PRID)
    irq, = vm.kernel.alloc_irqs(VRID, 1)
    vm.device_write(irq.msg, requester_id=OTHER_PRID)
    assert vm.vcpus.deliveries == [] and vm.host.cpus.deliveries == []
    vm.device_write(irq.msg)
    assert len(vm.vcpus.deliveries) == 1


def test_guest_free_discards_the_shadow_and_unmaps_the_physical_device():
    vm = ArmGuest()
    vm.vits.set_dev_id(VRID, PRID)
    irqs = vm.kernel.alloc_irqs(VRID, 2)
    vm.kernel.free_irqs(irqs)
    assert vm.vits.shadow == {}
    vm.device_write(irqs[0].msg)
    assert vm.vcpus.deliveries == []
    assert vm.host.its.errors[-1].reason == ItsErrorReason.DEVICE_UNMAPPED


def test_set_affinity_in_the_guest_moves_only_the_virtual_mapping():
    vm = ArmGuest()
    vm.vits.set_dev_id(VRID, PRID)
    irq, = vm.kernel.alloc_irqs(VRID, 1)
    vm.kernel.set_affinity(irq, 1)
    vm.device_write(irq.msg)
    assert [d.key for d in vm.vcpus.deliveries] == [(1, irq.vector)]


def test_dev_id_table_rejects_conflicts():
    vm = ArmGuest()
    vm.vits.set_dev_id(VRID, PRID)
    with pytest.raises(ValueError):
        vm.vits.set_dev_id(VRID, OTHER_PRID)
    with pytest.raises(ValueError):
        vm.vits.set_dev_id(0x30, PRID)


def test_every_guest_its_register_access_is_an_exit():
    vm = ArmGuest()
    vm.vits.set_dev_id(VRID, PRID)
    mark = vm.guest.exits.mark()
    vm.kernel.alloc_irqs(VRID, 1)
    exits = vm.guest.exits.log[mark:]
    assert exits and all(e.reason == ExitReason.EPT_VIOLATION for e in exits)
    assert all(e.detail.startswith("GITS") for e in exits)
