"""IMS in a guest, the three designs (tb/vmm/ims.py), their measured comparison (tb/vmm/report.py) and the
table in docs/vmm.md generated from it."""

import re
from pathlib import Path

import pytest

from imsdev.platform import MsiMsg
from imsdev.platform.x86_ir import remappable_msi_message
from tb.platform.vtd_ir import VtdFaultReason
from tb.vmm import report
from tb.vmm.device import InterruptStorageDevice
from tb.vmm.exits import ExitReason as X
from tb.vmm.host import X86Host, X86Routing, X86Vm
from tb.vmm.ims import DirectIms, GuestImsDriver, HypercallIms, TrappedImsDesign
from tb.vmm.trap import GuestBar

RID = 0x0300
DOC = Path(__file__).resolve().parents[2] / "docs" / "vmm.md"


class Rig:
    def __init__(self, posted=True):
        self.host = X86Host()
        self.vm = X86Vm(self.host, "A", vcpus=2)
        for n, vcpu in enumerate(self.vm.vcpus):
            vcpu.load(n)
        self.device = InterruptStorageDevice(RID, self.host.handle_write, num_wq=2)
        self.bar = GuestBar(self.device, self.vm.exits)
        self.routing = X86Routing(self.host, self.vm, posted=posted)


# --------------------------------------------------------------------------- (a)
def test_a_guest_message_is_blocked_compatibility_format_with_no_exit():
    rig = Rig()
    DirectIms(rig.vm, rig.bar).setup(0, 0, 1, 0x41)
    slot = rig.device.ims[0][0]
    assert (slot.address_lo, slot.data, slot.ctrl & 1) == (0xFEE0_1000, 0x41, 0)
    rig.device.fire_ims(0, 0)
    fault, = rig.host.faults
    assert (fault.reason, fault.requester_id, fault.index) == (VtdFaultReason.COMPAT_BLOCKED, RID, None)
    assert rig.host.cpus.deliveries == [] and all(v.received == [] for v in rig.vm.vcpus)
    assert rig.vm.exits.count() == 0


def test_a_guessed_handles_hit_irtes_the_guest_does_not_own():
    rig = Rig()
    other, = rig.host.domain.alloc_irqs(0x0400, 1)                  # another device's IRTE
    driver = GuestImsDriver(rig.bar)
    driver.write_message(0, 0, remappable_msi_message(other.index, 0))
    driver.unmask(0, 0)
    driver.write_message(0, 1, remappable_msi_message(0x0123, 0))   # never allocated
    driver.unmask(0, 1)
    rig.device.fire_ims(0, 0)
    rig.device.fire_ims(0, 1)
    assert [(f.reason, f.index) for f in rig.host.faults] == \
        [(VtdFaultReason.SOURCE_ID_MISMATCH, other.index), (VtdFaultReason.NOT_PRESENT, 0x0123)]
    assert rig.host.cpus.deliveries == []


# --------------------------------------------------------------------------- (b)
@pytest.mark.parametrize("posted", [True, False], ids=["posted", "remapped"])
def test_b_hypercall_gives_a_host_message_and_interrupts_arrive(posted):
    rig = Rig(posted)
    ims = HypercallIms(rig.vm, rig.bar, rig.routing, RID)
    msg = ims.setup(0, 0, 1, 0x41)
    assert msg.address_lo & 1 << 4 and msg.data == 0                # remappable, SHV sub-handle 0
    assert rig.vm.exits.counts == {X.VMCALL: 1}
    assert [e.detail for e in rig.vm.exits.log] == ["get_msi vcpu 1 vector 0x41"]
    rig.device.fire_ims(0, 0)
    assert rig.vm.vcpus[1].counts == {0x41: 1}
    ims.hypercall_free_msi(msg)
    rig.device.fire_ims(0, 0)
    assert [f.reason for f in rig.host.faults] == [VtdFaultReason.NOT_PRESENT]
    assert rig.vm.exits.count(X.VMCALL) == 2


# --------------------------------------------------------------------------- (c)
def test_c_trapped_ims_emulates_the_guest_message_and_forwards_mask():
    rig = Rig()
    ims = TrappedImsDesign(rig.vm, rig.bar, rig.routing, 0)
    ims.setup(0, 0, 1, 0x41)
    assert rig.vm.exits.counts == {X.EPT_VIOLATION: 8}
    slot = rig.device.ims[0][0]
    route = ims.emulation.entries[(0, 0)].route
    assert (slot.address_lo, slot.data) == (route.host_msg.address_lo, route.host_msg.data)
    assert rig.bar.read32(0x40000) == 0xFEE0_1000                    # the guest still sees its own
    rig.device.fire_ims(0, 0)
    assert rig.vm.vcpus[1].counts == {0x41: 1}
    GuestImsDriver(rig.bar).mask(0, 0)
    assert slot.ctrl & 1
    rig.device.fire_ims(0, 0)
    assert rig.vm.vcpus[1].counts == {0x41: 1}
    GuestImsDriver(rig.bar).unmask(0, 0)
    assert rig.vm.vcpus[1].counts == {0x41: 2}


def test_c_only_traps_its_own_window():
    rig = Rig()
    TrappedImsDesign(rig.vm, rig.bar, rig.routing, 1)
    GuestImsDriver(rig.bar).mask(0, 0)                               # WQ0: not trapped here
    assert rig.vm.exits.count() == 0


# --------------------------------------------------------------------------- comparison
EXPECTED = {
    ("a", True): (False, ("0x25 COMPAT_BLOCKED",), True, {}, {}, {}),
    ("a", False): (False, ("0x25 COMPAT_BLOCKED",), True, {}, {}, {}),
    ("b", True): (True, (), False, {X.VMCALL: 1}, {}, {}),
    ("b", False): (True, (), False, {X.VMCALL: 1}, {}, {X.EXTERNAL_INTERRUPT: 1}),
    ("c", True): (True, (), True, {X.EPT_VIOLATION: 8}, {X.EPT_VIOLATION: 4}, {}),
    ("c", False): (True, (), True, {X.EPT_VIOLATION: 8}, {X.EPT_VIOLATION: 4},
                   {X.EXTERNAL_INTERRUPT: 1}),
}


@pytest.mark.parametrize("key,posted", list(EXPECTED), ids=[f"{k}-{'posted' if p else 'remapped'}"
                                                            for k, p in EXPECTED])
def test_measured_comparison(key, posted):
    r = report.measure(key, posted)
    assert (r.delivered, r.faults, r.isolated, r.exits_setup, r.exits_mask_unmask,
            r.exits_interrupt) == EXPECTED[(key, posted)]


EXPECTED_ARM = {
    ("a", False): (False, ("DEVICE_UNMAPPED",), True, {}, {}, {}),
    ("a", True): (True, (), False, {}, {}, {X.EXTERNAL_INTERRUPT: 1}),
    ("b", False): (True, (), False, {X.VMCALL: 1}, {}, {X.EXTERNAL_INTERRUPT: 1}),
    ("c", False): (True, (), True, {X.EPT_VIOLATION: 8}, {X.EPT_VIOLATION: 4}, {X.EXTERNAL_INTERRUPT: 1}),
}


@pytest.mark.parametrize("key,shadow", list(EXPECTED_ARM), ids=[f"{k}-{'shadowing' if s else 'vgic-its'}"
                                                                for k, s in EXPECTED_ARM])
def test_measured_comparison_arm(key, shadow):
    """ARM: a plain vITS leaves the guest's own message undeliverable (the physical ITS has no mapping for the
    physical DeviceID); a shadowing vITS makes it valid, and then, like the hypercall's host message, any guest
    sharing the function can fire it; the trapped design is isolated. Every delivery is one injection exit."""
    assert (key, shadow) in report.ARM_CASES
    r = report.measure_arm(key, shadow)
    assert r.platform == "ARM"
    assert (r.delivered, r.faults, r.isolated, r.exits_setup, r.exits_mask_unmask,
            r.exits_interrupt) == EXPECTED_ARM[(key, shadow)]


def test_arm_trapped_design_backs_the_guest_message_with_a_host_event():
    from tb.platform import ArmPlatform
    from tb.vmm.ims_arm import ArmTrappedIms, ArmVm
    host = ArmPlatform()
    vm = ArmVm(host, "A", requester_id=RID, virtual_device_id=0x10)
    device = InterruptStorageDevice(RID, host.handle_write, num_wq=1)
    bar = GuestBar(device, vm.exits)
    ims = ArmTrappedIms(vm, bar, 0)
    irq = vm.guest_event()
    mark = vm.exits.mark()
    ims.setup(0, 0, irq)
    assert vm.exits.since(mark) == {X.EPT_VIOLATION: 8}
    route = ims.emulation.entries[(0, 0)].route
    slot = device.ims[0][0]
    assert (slot.address_lo, slot.data) == (route.host_msg.address_lo, route.host_msg.data)
    assert route.host_irq.requester_id == RID and route.vector == irq.index
    assert bar.read32(0x40000 + 8) == irq.msg.data                     # the guest still sees its EventID
    device.fire_ims(0, 0)
    assert [d.key for d in vm.cpus.deliveries] == [irq.expected] and vm.vits.injected == 1
    guest_bar = GuestBar(device, vm.exits)
    ArmTrappedIms(ArmVm(host, "B", requester_id=0x0400, virtual_device_id=0x10), guest_bar, 0, range(1, 2))
    GuestImsDriver(guest_bar).write_message(0, 1, MsiMsg(0xFEE0_0000, 0, 0))   # not B's doorbell
    GuestImsDriver(guest_bar).unmask(0, 1)
    assert device.ims[0][1].ctrl & 1


def test_docs_table_is_generated_from_the_models():
    text = DOC.read_text()
    found = re.search(r"<!-- ims-designs:begin -->\n(.*?)<!-- ims-designs:end -->", text, re.S)
    assert found, "docs/vmm.md lacks the ims-designs markers"
    assert found.group(1) == report.table(), "regenerate with: python -m tb.vmm.report"
