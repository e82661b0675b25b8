"""Posted interrupts end to end: the kernel posts a device interrupt to a vCPU (intel_ir_set_vcpu_affinity),
the VT-d model posts it, and the KVM-shaped vCPU model (tb/vmm/vcpu.py) takes it running, preempted
and blocked. Descriptor bytes are checked against struct pi_desc (ON b256, SN b257, NV 279:272,
NDST 319:288, xAPIC APIC ID in NDST[15:8])."""

import pytest

from imsdev.platform import HostAllocator
from imsdev.platform.x86_ir import VtdIrqDomain
from imsdev.platform.x86_posted import PiDesc, VcpuPiData, intel_ir_set_vcpu_affinity
from tb.platform.cpu import Cpus
from tb.platform.memory import SparseMemory
from tb.platform.vtd_posted import VtdPostedInterruptRemapping
from tb.vmm.exits import ExitCounter, ExitReason
from tb.vmm.vcpu import PhysicalCpus, Vcpu, VcpuState

RID = 0x0310
GUEST_VECTOR = 0x61
PI_VECTOR, WAKEUP_VECTOR = 0xF2, 0xF1


class Host:
    def __init__(self, vcpus=1):
        self.memory = SparseMemory()
        self.cpus = Cpus((0, 1, 2, 3))
        self.unit = VtdPostedInterruptRemapping(self.memory, self.cpus)
        self.allocator = HostAllocator(0x1000_0000, 0x100_0000)
        self.domain = VtdIrqDomain(self.unit, self.memory, self.allocator, (0, 1, 2, 3))
        self.pcpus = PhysicalCpus(self.cpus)
        self.exits = ExitCounter()
        self.vcpus = [Vcpu(n, PiDesc(self.memory, self.allocator.alloc(64, 64)), self.exits, self.pcpus)
                      for n in range(vcpus)]
        self.irq, = self.domain.alloc_irqs(RID, 1)

    def post_to(self, vcpu, vector=GUEST_VECTOR, irq=None):
        irq = irq or self.irq
        intel_ir_set_vcpu_affinity(self.domain, irq, VcpuPiData(vcpu.pi_desc.addr, vector))

    def fire(self, irq=None):
        msg = (irq or self.irq).msg
        assert self.unit.handle_write(msg.address, msg.payload, RID)

    def control_bytes(self, vcpu):
        return self.memory.read(vcpu.pi_desc.addr + 32, 8)

    @property
    def keys(self):
        return [d.key for d in self.cpus.deliveries]


def test_running_vcpu_takes_posted_interrupt_without_a_vm_exit():
    host = Host()
    vcpu = host.vcpus[0]
    vcpu.load(2)
    assert host.control_bytes(vcpu) == bytes([0, 0, PI_VECTOR, 0, 0, 2, 0, 0])   # SN=0, NV, NDST=2<<8
    host.post_to(vcpu)
    host.fire()
    assert host.keys == [(2, PI_VECTOR)]
    assert [(t.vector, t.how) for t in vcpu.received] == [(GUEST_VECTOR, "posted")]
    assert vcpu.pi_desc.pir == 0 and not vcpu.pi_desc.test_on()
    assert host.exits.count() == 0
    host.fire()
    assert vcpu.count(GUEST_VECTOR) == 2 and host.exits.count() == 0


def test_preempted_vcpu_suppresses_notification_then_syncs_on_entry_elsewhere():
    host = Host()
    vcpu = host.vcpus[0]
    vcpu.load(2)
    host.post_to(vcpu)
    vcpu.preempt()
    assert host.control_bytes(vcpu)[0] == 0b10                  # SN set
    host.fire()
    host.fire()                                                  # merges in PIR
    assert host.keys == [] and vcpu.received == []
    assert vcpu.pi_desc.pir == 1 << GUEST_VECTOR and not vcpu.pi_desc.test_on()
    vcpu.load(3)                                                 # migrated: NDST follows
    assert host.control_bytes(vcpu) == bytes([0, 0, PI_VECTOR, 0, 0, 3, 0, 0])
    assert [(t.vector, t.how) for t in vcpu.received] == [(GUEST_VECTOR, "entry-sync")]
    assert host.exits.counts == {ExitReason.EXTERNAL_INTERRUPT: 1}
    host.fire()
    assert host.keys == [(3, PI_VECTOR)] and vcpu.count(GUEST_VECTOR) == 2


def test_blocked_vcpu_is_woken_by_the_wakeup_vector_and_takes_the_interrupt_when_loaded():
    host = Host()
    vcpu = host.vcpus[0]
    vcpu.load(1)
    host.post_to(vcpu)
    vcpu.halt()
    assert vcpu.state is VcpuState.BLOCKED and vcpu in host.pcpus.wakeup_lists[1]
    assert host.control_bytes(vcpu)[:3] == bytes([0, 0, WAKEUP_VECTOR])
    host.fire()
    assert host.keys == [(1, WAKEUP_VECTOR)]
    assert vcpu.state is VcpuState.PREEMPTED and vcpu.wakeups == 1 and vcpu.received == []
    host.fire()                                                  # ON already set: no second wake-up
    assert host.keys == [(1, WAKEUP_VECTOR)]
    vcpu.load(1)
    assert vcpu not in host.pcpus.wakeup_lists[1]
    assert [(t.vector, t.how) for t in vcpu.received] == [(GUEST_VECTOR, "entry-sync")]
    assert host.exits.counts == {ExitReason.HLT: 1}


def test_halt_with_a_vector_already_in_pir_wakes_at_once():
    host = Host()
    vcpu = host.vcpus[0]
    vcpu.load(1)
    host.post_to(vcpu)
    vcpu.preempt()
    host.fire()                                                  # suppressed, in PIR
    vcpu.load(1)
    assert vcpu.count(GUEST_VECTOR) == 1
    vcpu.pi_desc.test_and_set_pir(0x70)                          # posted between entry and HLT
    vcpu.halt()
    assert vcpu.state is VcpuState.PREEMPTED and vcpu.wakeups == 1


def test_notification_to_a_cpu_running_another_vcpu_waits_for_the_next_entry():
    host = Host(vcpus=2)
    a, b = host.vcpus
    a.load(0)
    host.post_to(a)
    a.preempt()
    b.load(0)                                                    # b now runs where a's NDST... still points
    a.pi_desc.clear_sn()                                         # stale descriptor: SN clear, NDST = CPU 0
    host.fire()
    assert host.keys == [(0, PI_VECTOR)]
    assert b.received == [] and a.received == []                 # b's own descriptor has ON = 0
    assert len(host.pcpus.spurious_notifications) == 1
    assert a.pi_desc.test_on()
    b.preempt()
    a.load(0)
    assert [(t.vector, t.how) for t in a.received] == [(GUEST_VECTOR, "entry-sync")]


def test_two_vcpus_two_irqs_no_cross_delivery():
    host = Host(vcpus=2)
    a, b = host.vcpus
    irq2, = host.domain.alloc_irqs(RID, 1)
    a.load(0)
    b.load(1)
    host.post_to(a, 0x40)
    host.post_to(b, 0x50, irq2)
    for _ in range(3):
        host.fire()
    host.fire(irq2)
    assert a.counts == {0x40: 3} and b.counts == {0x50: 1}
    assert host.keys == [(0, PI_VECTOR)] * 3 + [(1, PI_VECTOR)]


def test_load_twice_and_cpu_conflicts_are_errors():
    host = Host(vcpus=2)
    a, b = host.vcpus
    a.load(0)
    with pytest.raises(RuntimeError):
        a.load(1)
    with pytest.raises(RuntimeError):
        b.load(0)
    with pytest.raises(RuntimeError):
        b.halt()


def test_host_vector_while_a_vcpu_runs_is_an_external_interrupt_exit():
    host = Host()
    vcpu = host.vcpus[0]
    seen = []
    host.pcpus.register_host_vector(host.irq.target, host.irq.vector, seen.append)
    vcpu.load(host.irq.target)
    host.fire()                                                  # remapped, not posted
    assert [d.key for d in seen] == [host.irq.expected]
    assert host.exits.counts == {ExitReason.EXTERNAL_INTERRUPT: 1}
    assert host.exits.log[0].detail == f"host vector {host.irq.vector:#x}"


def test_injection_wakes_a_halted_vcpu_which_takes_it_when_loaded():
    host = Host()
    vcpu = host.vcpus[0]
    vcpu.load(1)
    vcpu.halt()
    vcpu.inject(0x33)                                            # remapped path: kvm_vcpu_kick
    assert vcpu.state is VcpuState.PREEMPTED and vcpu.received == [] and vcpu.irr == {0x33}
    vcpu.load(1)
    assert [(t.vector, t.how) for t in vcpu.received] == [(0x33, "entry-sync")]   # taken at VM entry


def test_x2apic_host_writes_the_full_apic_id_into_ndst():
    memory = SparseMemory()
    cpus = Cpus((0, 0x100))
    allocator = HostAllocator(0x1000_0000, 0x10_0000)
    pcpus = PhysicalCpus(cpus, x2apic=True)
    vcpu = Vcpu(0, PiDesc(memory, allocator.alloc(64, 64)), ExitCounter(), pcpus)
    vcpu.load(0x100)
    assert memory.read(vcpu.pi_desc.addr + 32, 8) == bytes([0, 0, PI_VECTOR, 0, 0x00, 0x01, 0, 0])
