"""VT-d interrupt posting (tb/platform/vtd_posted.py) and the kernel's posted-IRTE / descriptor code
(fw/imsdev/platform/x86_posted.py).

The model tests write posted IRTEs and read descriptors as raw bytes laid out from the documented bit
positions (struct irte posted members, struct pi_desc: PIR 255:0, ON b256, SN b257, NV 279:272,
NDST 319:288), independently of the encoders under test.
"""

import pytest

from imsdev.fields import FieldError
from imsdev.platform import HostAllocator
from imsdev.platform.x86_ir import VtdIrqDomain
from imsdev.platform.x86_posted import (PiControl, PiDesc, PostedIrte, VcpuPiData, encode_posted_irte,
                                        intel_ir_set_vcpu_affinity, ndst_for_apic_id)
from tb.platform.cpu import Cpus
from tb.platform.memory import SparseMemory
from tb.platform.vtd_ir import VtdFaultReason, VtdInterruptRemapping
from tb.platform.vtd_posted import VtdPostedDmarUnit, VtdPostedInterruptRemapping

TABLE = 0x0010_0000
PID = 0x0040_0040            # 64-byte aligned, not page aligned
PID_HIGH = 0x1_2345_6780     # above 4 GiB: PDA[63:32] = 1
RID = 0x0310
IRTA, GCMD, CAP, FRCD0 = 0xB8, 0x18, 0x08, 0x200
IRE, SIRTP = 1 << 25, 1 << 24
NV = 0xF2


def posted_irte(*, vector=0x45, pda=PID, urgent=0, fpd=0, sid=RID, sq=0, svt=1, present=1,
                low_extra=0, high_extra=0) -> bytes:
    low = (present | fpd << 1 | urgent << 14 | 1 << 15 | vector << 16
           | ((pda >> 6) & ((1 << 26) - 1)) << 38 | low_extra)
    high = sid | sq << 16 | svt << 18 | (pda >> 32) << 32 | high_extra
    return low.to_bytes(8, "little") + high.to_bytes(8, "little")


def remappable(handle: int) -> int:
    return 0xFEE0_0000 | handle << 5 | 1 << 4


class Rig:
    def __init__(self, unit=VtdPostedInterruptRemapping, *, eime=False):
        self.memory = SparseMemory()
        self.clock = iter(range(1000, 10**6))
        self.cpus = Cpus((0, 1, 2, 3), now=lambda: next(self.clock))
        self.unit = unit(self.memory, self.cpus)
        self.unit.write_reg(IRTA, TABLE | (1 << 11 if eime else 0) | 7)
        self.unit.write_reg(GCMD, SIRTP)
        self.unit.write_reg(GCMD, IRE)

    def descriptor(self, *, on=0, sn=0, nv=NV, ndst=2 << 8, pir=0, addr=PID):
        control = on | sn << 1 | nv << 16 | ndst << 32
        self.memory.write(addr, pir.to_bytes(32, "little") + control.to_bytes(8, "little")
                          + bytes(24))

    def pir(self, addr=PID):
        return int.from_bytes(self.memory.read(addr, 32), "little")

    def control(self, addr=PID):
        return int.from_bytes(self.memory.read(addr + 32, 8), "little")

    def send(self, index=5, rid=RID):
        return self.unit.handle_write(remappable(index), (0).to_bytes(4, "little"), rid)

    @property
    def keys(self):
        return [d.key for d in self.cpus.deliveries]

    def frcd(self):
        return (self.unit.read_reg(FRCD0), self.unit.read_reg(FRCD0 + 8))


# ------------------------------------------------------------------------- capability
def test_cap_pi_is_bit_59_of_cap_only_on_posting_units():
    assert Rig().unit.read_reg(CAP) >> 59 & 1 == 1
    assert Rig(VtdPostedDmarUnit).unit.read_reg(CAP) >> 59 & 1 == 1
    assert Rig(VtdInterruptRemapping).unit.read_reg(CAP) >> 59 & 1 == 0
    assert Rig().unit.read_reg(0x10) >> 59 & 1 == 0      # not ECAP


def test_unit_without_posting_still_faults_im_as_reserved():
    rig = Rig(VtdInterruptRemapping)
    rig.descriptor()
    rig.memory.write(TABLE + 16 * 5, posted_irte())
    rig.send()
    assert [f.reason for f in rig.unit.fault_log] == [VtdFaultReason.IRTE_RESERVED]
    assert rig.pir() == 0 and rig.keys == []


# ------------------------------------------------------------------------- posting
def test_post_sets_pir_bit_and_on_and_notifies_ndst_with_nv():
    rig = Rig()
    rig.descriptor(ndst=2 << 8)                        # xAPIC: APIC ID in NDST[15:8]
    rig.memory.write(TABLE + 16 * 5, posted_irte(vector=0x45))
    assert rig.send()
    assert rig.memory.read(PID + 8, 1) == b"\x20"      # vector 0x45 = PIR byte 8, bit 5
    assert rig.pir() == 1 << 0x45
    assert rig.control() == 1 | NV << 16 | (2 << 8) << 32   # ON set, nothing else changed
    assert rig.keys == [(2, NV)]
    event, = rig.unit.posted
    assert (event.index, event.vector, event.pi_desc_addr, event.notified, event.suppressed) == \
        (5, 0x45, PID, True, False)
    assert rig.unit.fault_log == [] and rig.unit.notifications == 1


def test_second_post_while_on_is_set_sends_no_notification():
    rig = Rig()
    rig.descriptor()
    rig.memory.write(TABLE + 16 * 5, posted_irte(vector=0x45))
    rig.memory.write(TABLE + 16 * 6, posted_irte(vector=0x80))
    rig.send(5)
    rig.send(6)
    rig.send(6)
    assert rig.pir() == 1 << 0x45 | 1 << 0x80
    assert rig.keys == [(2, NV)]
    assert [(e.notified, e.suppressed, e.already_pending) for e in rig.unit.posted] == \
        [(True, False, False), (False, False, False), (False, False, True)]


def test_sn_suppresses_notification_and_leaves_on_clear():
    rig = Rig()
    rig.descriptor(sn=1)
    rig.memory.write(TABLE + 16 * 5, posted_irte(vector=0x31))
    rig.send()
    assert rig.pir() == 1 << 0x31
    assert rig.control() & 0b11 == 0b10                # SN still set, ON still clear
    assert rig.keys == []
    assert rig.unit.posted[0].suppressed and not rig.unit.posted[0].notified


def test_urgent_irte_notifies_even_with_sn_set():
    rig = Rig()
    rig.descriptor(sn=1, ndst=3 << 8)
    rig.memory.write(TABLE + 16 * 5, posted_irte(vector=0x31, urgent=1))
    rig.send()
    assert rig.control() & 0b11 == 0b11
    assert rig.keys == [(3, NV)]


def test_descriptor_above_4g_uses_pda_high_and_x2apic_ndst():
    rig = Rig(eime=True)
    rig.descriptor(addr=PID_HIGH, ndst=0x0000_0001, nv=0xF1)
    rig.memory.write(TABLE + 16 * 5, posted_irte(vector=0xFF, pda=PID_HIGH))
    rig.send()
    assert rig.pir(PID_HIGH) == 1 << 0xFF
    assert rig.keys == [(1, 0xF1)]                     # x2APIC: NDST is the full APIC ID
    assert rig.pir(PID_HIGH & 0xFFFF_FFFF) == 0


@pytest.mark.parametrize("bit", [2, 7, 12, 13, 24, 37, 84, 95])
def test_reserved_posted_irte_bits_fault_0x24_and_post_nothing(bit):
    rig = Rig()
    rig.descriptor()
    extra = 1 << bit
    rig.memory.write(TABLE + 16 * 5, posted_irte(low_extra=extra & (2**64 - 1), high_extra=extra >> 64))
    rig.send()
    assert [f.reason for f in rig.unit.fault_log] == [VtdFaultReason.IRTE_RESERVED]
    assert rig.frcd() == (5 << 48, 1 << 63 | 0x24 << 32 | RID)
    assert rig.pir() == 0 and rig.keys == [] and rig.unit.posted == []


def test_avail_bits_are_not_reserved():
    rig = Rig()
    rig.descriptor()
    rig.memory.write(TABLE + 16 * 5, posted_irte(low_extra=0xF << 8))
    rig.send()
    assert rig.unit.fault_log == [] and rig.pir() == 1 << 0x45


def test_source_id_mismatch_faults_0x26_and_fpd_suppresses_it():
    rig = Rig()
    rig.descriptor()
    rig.memory.write(TABLE + 16 * 5, posted_irte(sid=0x0400))
    rig.send()
    assert rig.frcd() == (5 << 48, 1 << 63 | 0x26 << 32 | RID)
    rig.memory.write(TABLE + 16 * 6, posted_irte(sid=0x0400, fpd=1))
    rig.send(6)
    assert len(rig.unit.fault_log) == 1 and len(rig.unit.suppressed_faults) == 1
    assert rig.pir() == 0 and rig.keys == []


def test_svt_3_is_reserved_in_posted_format():
    rig = Rig()
    rig.descriptor()
    rig.memory.write(TABLE + 16 * 5, posted_irte(svt=3))
    rig.send()
    assert [f.reason for f in rig.unit.fault_log] == [VtdFaultReason.IRTE_RESERVED]


def test_unreadable_descriptor_drops_the_interrupt_and_is_recorded():
    rig = Rig()
    rig.memory.add_error_range(PID, 64)
    rig.memory.write(TABLE + 16 * 5, posted_irte())
    rig.send()
    assert rig.keys == [] and rig.unit.posted == []
    error, = rig.unit.posted_errors
    assert (error.index, error.pi_desc_addr) == (5, PID)


# ------------------------------------------------------------------------- kernel encoders
def test_encode_posted_irte_matches_struct_irte_layout():
    low, high = encode_posted_irte(0x45, PID_HIGH, RID, urgent=True)
    raw = posted_irte(vector=0x45, pda=PID_HIGH, urgent=1)
    assert (low, high) == (int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:], "little"))
    decoded = PostedIrte.decode(low, high)
    assert (decoded.vector, decoded.pi_desc_addr, decoded.urgent, decoded.source_id, decoded.reserved) \
        == (0x45, PID_HIGH, True, RID, False)


@pytest.mark.parametrize("call,field", [
    (lambda: encode_posted_irte(0x100, PID, RID), "vector"),
    (lambda: encode_posted_irte(0x45, PID + 0x20, RID), "PID address"),
    (lambda: encode_posted_irte(0x45, PID, 0x1_0000), "source-id"),
    (lambda: encode_posted_irte(0x45, PID, RID, svt=3), "SVT"),
    (lambda: ndst_for_apic_id(0x100, x2apic=False), "xAPIC"),
    (lambda: PiControl(False, False, 0x100, 0).pack(), "NV"),
])
def test_encoders_reject_values_that_do_not_fit(call, field):
    with pytest.raises(FieldError, match=field):
        call()


def test_pi_desc_accessors_match_posted_intr_h_layout():
    memory = SparseMemory()
    pid = PiDesc(memory, PID)
    pid.init(nv=0xF2, ndst=ndst_for_apic_id(3, x2apic=False))
    assert memory.read(PID + 32, 8) == bytes([0, 0, 0xF2, 0, 0, 3, 0, 0])
    pid.set_sn()
    assert memory.read(PID + 32, 1) == b"\x02"
    assert not pid.test_and_set_pir(0) and pid.test_and_set_pir(0)
    pid.test_and_set_pir(255)
    assert memory.read(PID + 31, 1) == b"\x80"
    assert pid.take_pir() == [0, 255] and pid.is_pir_empty()
    with pytest.raises(FieldError):
        PiDesc(memory, PID + 8)


# ------------------------------------------------------------------------- kernel against the model
def kernel_rig():
    memory = SparseMemory()
    cpus = Cpus((0, 1, 2, 3))
    unit = VtdPostedInterruptRemapping(memory, cpus)
    allocator = HostAllocator(0x1000_0000, 0x100_0000)
    domain = VtdIrqDomain(unit, memory, allocator, (0, 1, 2, 3))
    return memory, cpus, unit, domain, allocator


def test_set_vcpu_affinity_posts_then_returns_to_remapped_delivery():
    memory, cpus, unit, domain, allocator = kernel_rig()
    irq, = domain.alloc_irqs(RID, 1)
    msg = irq.msg
    unit.handle_write(msg.address, msg.payload, RID)
    assert [d.key for d in cpus.deliveries] == [irq.expected]
    pid_addr = allocator.alloc(64, 64)
    pid = PiDesc(memory, pid_addr)
    pid.init(nv=0xF2, ndst=ndst_for_apic_id(1, x2apic=False))
    invalidations = len(unit.invalidations)
    intel_ir_set_vcpu_affinity(domain, irq, VcpuPiData(pid_addr, 0x61))
    assert unit.invalidations[invalidations:] == [("index", irq.index, 0)]
    raw = int.from_bytes(memory.read(domain.irte_address(irq.index), 16), "little")
    assert raw & 0xFFFF_FFFF_FFFF_FFFF == 1 | 1 << 15 | 0x61 << 16 | ((pid_addr >> 6) & (2**26 - 1)) << 38
    assert raw >> 64 == RID | 1 << 18 | (pid_addr >> 32) << 32
    unit.handle_write(msg.address, msg.payload, RID)         # the device's message is unchanged
    assert pid.pir == 1 << 0x61 and pid.test_on()
    assert [d.key for d in cpus.deliveries][1:] == [(1, 0xF2)]
    intel_ir_set_vcpu_affinity(domain, irq, None)
    unit.handle_write(msg.address, msg.payload, RID)
    assert [d.key for d in cpus.deliveries][2:] == [irq.expected]
    assert unit.fault_log == []


def test_set_vcpu_affinity_needs_cap_pi():
    memory = SparseMemory()
    unit = VtdInterruptRemapping(memory, Cpus((0, 1)))
    domain = VtdIrqDomain(unit, memory, HostAllocator(0x1000_0000, 0x10_0000), (0, 1))
    irq, = domain.alloc_irqs(RID, 1)
    with pytest.raises(RuntimeError, match="CAP.PI"):
        intel_ir_set_vcpu_affinity(domain, irq, VcpuPiData(0x2000_0000, 0x61))
