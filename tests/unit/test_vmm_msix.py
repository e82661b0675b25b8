"""MSI-X in a guest (tb/vmm/trap.py VfioMsix): the guest's table writes trap, the VMM allocates a host
IRTE (x86, posted or remapped) or ITS event (ARM) and writes a host-valid message into the physical
table; mask/unmask are forwarded, PBA reads forwarded; each guest vector arrives exactly once at its
vCPU. The device is the behavioural model of tb/vmm/device.py."""

import pytest

from imsdev import regs
from imsdev.platform import ItsIrqDomain, MsiMsg
from imsdev.platform.x86_ir import compatibility_msi_message, remappable_msi_message
from tb.platform import ArmPlatform
from tb.platform.cpu import Cpus
from tb.platform.gic_its import GicRedistributors
from tb.platform.vtd_ir import VtdFaultReason
from tb.vmm.device import InterruptStorageDevice, msix_entry_offset
from tb.vmm.exits import ExitReason
from tb.vmm.guest import Guest, TrappedRegisters
from tb.vmm.host import ArmRouting, X86Host, X86Routing, X86Vm
from tb.vmm.trap import GuestBar, VfioMsix
from tb.vmm.vits import GuestMsiMapper, VirtualIts

RID = 0x0300
CTRL, DATA = 0xC, 0x8


class X86Rig:
    def __init__(self, posted=True):
        self.host = X86Host()
        self.vm = X86Vm(self.host, "vm0", vcpus=2)
        self.device = InterruptStorageDevice(RID, self.host.handle_write)
        self.msix = VfioMsix(self.device, X86Routing(self.host, self.vm, posted=posted))
        self.bar = GuestBar(self.device, self.vm.exits)
        self.msix.install(self.bar)
        for n, vcpu in enumerate(self.vm.vcpus):
            vcpu.load(n)

    def guest_program(self, vector, msg, unmask=True):
        """Linux __pci_write_msi_msg on a masked entry, then pci_msix_unmask."""
        base = msix_entry_offset(vector)
        self.bar.write32(base + CTRL, 1)
        self.bar.write32(base + 0x0, msg.address_lo)
        self.bar.write32(base + 0x4, msg.address_hi)
        self.bar.write32(base + DATA, msg.data)
        self.bar.read32(base + DATA)
        if unmask:
            self.bar.write32(base + CTRL, 0)


@pytest.mark.parametrize("posted", [True, False], ids=["posted", "remapped"])
def test_guest_vector_arrives_once_at_its_vcpu(posted):
    rig = X86Rig(posted)
    mark = rig.vm.exits.mark()
    rig.guest_program(0, compatibility_msi_message(1, 0x41))
    assert rig.vm.exits.since(mark) == {ExitReason.EPT_VIOLATION: 6}
    route = rig.msix.entries[(0,)].route
    physical = rig.device.msix[0]
    assert (physical.address_lo, physical.address_hi, physical.data, physical.ctrl) == \
        (route.host_msg.address_lo, 0, route.host_msg.data, 0)
    assert physical.address_lo & 1 << 4                           # remappable format: a host handle
    mark = rig.vm.exits.mark()
    rig.device.fire_msix(0)
    assert rig.vm.vcpus[1].counts == {0x41: 1} and rig.vm.vcpus[0].received == []
    expected_exits = {} if posted else {ExitReason.EXTERNAL_INTERRUPT: 1}
    assert rig.vm.exits.since(mark) == expected_exits
    assert rig.host.faults == []


def test_guest_reads_its_own_message_not_the_host_one():
    rig = X86Rig()
    msg = compatibility_msi_message(1, 0x41)
    rig.guest_program(0, msg)
    base = msix_entry_offset(0)
    assert [rig.bar.read32(base + o) for o in (0, 4, 8, 12)] == [msg.address_lo, 0, 0x41, 0]


def test_mask_is_forwarded_pending_shows_in_the_forwarded_pba_and_unmask_replays_once():
    rig = X86Rig()
    rig.guest_program(3, compatibility_msi_message(0, 0x50))
    rig.bar.write32(msix_entry_offset(3) + CTRL, 1)
    assert rig.device.msix[3].ctrl == 1
    rig.device.fire_msix(3)
    assert rig.vm.vcpus[0].received == []
    assert rig.bar.read32(regs.MSIX_PBA_BASE) == 1 << 3
    routes_before = dict(rig.msix.entries)
    rig.bar.write32(msix_entry_offset(3) + CTRL, 0)
    assert rig.vm.vcpus[0].counts == {0x50: 1}
    assert rig.bar.read32(regs.MSIX_PBA_BASE) == 0
    assert rig.msix.entries == routes_before                        # same route: nothing reallocated


def test_changed_message_is_rerouted_and_the_old_irte_freed():
    rig = X86Rig()
    rig.guest_program(0, compatibility_msi_message(1, 0x41))
    old = rig.msix.entries[(0,)].route
    rig.guest_program(0, compatibility_msi_message(0, 0x42))
    new = rig.msix.entries[(0,)].route
    assert not old.host_irq.active and new.host_irq.active and new.vector == 0x42
    rig.device.fire_msix(0)
    assert rig.vm.vcpus[0].counts == {0x42: 1} and rig.vm.vcpus[1].received == []


def test_message_the_vmm_cannot_decode_stays_masked():
    rig = X86Rig()
    rig.guest_program(0, compatibility_msi_message(5, 0x41))        # no vCPU 5
    rig.guest_program(1, remappable_msi_message(0, 0))              # a host handle, not a guest message
    rig.guest_program(2, MsiMsg(0x0800_0040, 0, 0x41))              # not the interrupt window
    assert [(r.key, r.reason.split(":")[0]) for r in rig.msix.rejected] == [
        ((0,), "destination APIC ID 5 is not a vCPU of vm0"),
        ((1,), "address 0xfee00018 is remappable format"),
        ((2,), "address 0x8000040 is not in the interrupt window")]
    assert all(rig.device.msix[v].ctrl & 1 for v in range(3))
    for v in range(3):
        rig.device.fire_msix(v)
    assert rig.device.sent == [] and all(v.received == [] for v in rig.vm.vcpus)


def test_many_vectors_each_exactly_once_on_both_vcpus():
    rig = X86Rig()
    for v in range(8):
        rig.guest_program(v, compatibility_msi_message(v % 2, 0x40 + v))
    for v in range(8):
        rig.device.fire_msix(v)
    assert rig.vm.vcpus[0].counts == {0x40: 1, 0x42: 1, 0x44: 1, 0x46: 1}
    assert rig.vm.vcpus[1].counts == {0x41: 1, 0x43: 1, 0x45: 1, 0x47: 1}


def test_preempted_vcpu_gets_posted_vector_on_next_entry():
    rig = X86Rig(posted=True)
    rig.guest_program(0, compatibility_msi_message(1, 0x41))
    rig.vm.vcpus[1].preempt()
    rig.device.fire_msix(0)
    assert rig.vm.vcpus[1].received == []
    rig.vm.vcpus[1].load(2)
    assert rig.vm.vcpus[1].counts == {0x41: 1}


def test_without_the_trap_a_guest_message_is_blocked_by_remapping():
    """What the trap prevents: the guest's compatibility-format message in the physical table."""
    rig = X86Rig()
    rig.device.write32(msix_entry_offset(0), compatibility_msi_message(1, 0x41).address_lo)
    rig.device.write32(msix_entry_offset(0) + DATA, 0x41)
    rig.device.write32(msix_entry_offset(0) + CTRL, 0)
    rig.device.fire_msix(0)
    assert [f.reason for f in rig.host.faults] == [VtdFaultReason.COMPAT_BLOCKED]
    assert all(v.received == [] for v in rig.vm.vcpus)


# --------------------------------------------------------------------------- ARM
VRID, VITS_GPA = 0x0010, 0x0808_0000


def test_arm_guest_msix_through_a_host_its_event_and_the_virtual_its():
    host = ArmPlatform()
    guest = Guest("vm0", "arm", host.memory, host.allocator)
    vcpus = Cpus((0, 1))
    redists = GicRedistributors(guest.memory, vcpus)
    vits = VirtualIts(guest.memory, redists, host.domain, host.cpus, guest.exits, gpa_base=VITS_GPA,
                      device_id_bits=8, shadow=False)
    vits.set_dev_id(VRID, RID)
    mapper = GuestMsiMapper(vits, host.smmu, host.its.phys_base)
    kernel = ItsIrqDomain(TrappedRegisters(vits, guest.exits, "GITS"),
                          [TrappedRegisters(redists.frames[p], guest.exits, "GICR") for p in (0, 1)],
                          guest.memory, guest.allocator, mapper, its_phys_base=VITS_GPA)
    guest_irqs = kernel.alloc_irqs(VRID, 2)
    device = InterruptStorageDevice(RID, host.handle_write)
    msix = VfioMsix(device, ArmRouting(host, vits, VRID, mapper.guest_mappings))
    bar = GuestBar(device, guest.exits)
    msix.install(bar)
    for n, irq in enumerate(guest_irqs):
        base = msix_entry_offset(n)
        for offset, value in ((CTRL, 1), (0, irq.msg.address_lo), (4, irq.msg.address_hi),
                              (DATA, irq.msg.data), (CTRL, 0)):
            bar.write32(base + offset, value)
    host_events = [msix.entries[(n,)].route.host_irq for n in range(2)]
    assert [(i.requester_id, device.msix[n].data) for n, i in enumerate(host_events)] == \
        [(RID, host_events[0].index), (RID, host_events[1].index)]
    mark = guest.exits.mark()
    device.fire_msix(1)
    device.fire_msix(0)
    assert [d.key for d in vcpus.deliveries] == [guest_irqs[1].expected, guest_irqs[0].expected]
    assert guest.exits.since(mark) == {ExitReason.EXTERNAL_INTERRUPT: 2}
    assert host.its.errors == [] and vits.errors == []


def test_physical_table_is_programmed_in_linux_order_through_device_ops():
    """The VMM's writes to the physical entry, on the recording fake of the driver tests (through
    OpsDevice, the adapter the cocotb integration will use): mask, address, data, read back, unmask;
    the fake reports no address/data write to an unmasked vector."""
    from fake_device import BAR0, FakeDevice

    from tb.vmm.device import OpsDevice

    fake = FakeDevice()
    host = X86Host()
    vm = X86Vm(host, "vm0", vcpus=2)
    msix = VfioMsix(OpsDevice(fake, BAR0), X86Routing(host, vm))
    bar = GuestBar(OpsDevice(fake, BAR0), vm.exits)
    msix.install(bar)
    base = msix_entry_offset(2)
    mark = fake.mark()
    msg = compatibility_msi_message(1, 0x41)
    for offset, value in ((CTRL, 1), (0, msg.address_lo), (4, 0), (DATA, msg.data), (CTRL, 0)):
        bar.write32(base + offset, value)
    host_msg = msix.entries[(2,)].route.host_msg
    ctrl = regs.MSIX_TABLE_BASE + 2 * 16 + CTRL
    assert fake.since(mark) == [
        ("r32", ctrl), ("w32", ctrl, 1),
        ("w32", ctrl - 0xC, host_msg.address_lo), ("w32", ctrl - 0x8, 0), ("w32", ctrl - 0x4, 0),
        ("r32", ctrl - 0x4),
        ("r32", ctrl), ("w32", ctrl, 0)]
    assert fake.violations == []
    mark = fake.mark()
    bar.write32(base + CTRL, 1)                                     # guest mask: forwarded
    assert fake.since(mark) == [("r32", ctrl), ("w32", ctrl, 1)]
