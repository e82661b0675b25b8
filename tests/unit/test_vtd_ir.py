"""VT-d interrupt-remapping model against platform-facts.md section 4.

IRTEs, addresses and invalidation descriptors are assembled here from the documented bit positions,
independently of the model's own encoders, and written to host memory as raw bytes.
"""

import pytest

from tb.bad_inputs import BadInput
from tb.platform.cpu import Cpus
from tb.platform.memory import SparseMemory
from tb.platform.vtd_ir import VtdFaultReason, VtdInterruptRemapping

TABLE = 0x0010_0000
QUEUE = 0x0020_0000
STATUS = 0x0030_0000
RID = 0x0310  # bus 3, device 2, function 0

IRTA, GCMD, GSTS, FSTS, IQH, IQT, IQA = 0xB8, 0x18, 0x1C, 0x34, 0x80, 0x88, 0x90
IRE, SIRTP, CFI, QIE = 1 << 25, 1 << 24, 1 << 23, 1 << 26
FRCD0 = 0x200


def irte(*, present=1, fpd=0, dm=0, rh=0, tm=0, dlm=0, vector=0x40, dest=0, sid=RID, sq=0, svt=1,
         low_extra=0, high_extra=0) -> bytes:
    low = (present | fpd << 1 | dm << 2 | rh << 3 | tm << 4 | dlm << 5 | vector << 16
           | dest << 32 | low_extra)
    high = sid | sq << 16 | svt << 18 | high_extra
    return low.to_bytes(8, "little") + high.to_bytes(8, "little")


def xapic(apic_id: int) -> int:
    return apic_id << 8  # destination field bits 47:40 of the IRTE


def remappable(handle: int, shv: bool = False) -> int:
    return (0xFEE0_0000 | (handle & 0x7FFF) << 5 | 1 << 4 | int(shv) << 3
            | (handle >> 15 & 1) << 2)


def compatibility(dest: int) -> int:
    return 0xFEE0_0000 | dest << 12


class Rig:
    def __init__(self, *, cpu_ids=(0, 1, 2, 3), **options):
        self.memory = SparseMemory()
        self.clock = iter(range(1000, 10**6))
        self.cpus = Cpus(cpu_ids, now=lambda: next(self.clock))
        self.iommu = VtdInterruptRemapping(self.memory, self.cpus, **options)
        self.queue_tail = 0

    def enable(self, size_field=7, eime=False, cfi=False, base=TABLE):
        self.iommu.write_reg(IRTA, base | (1 << 11 if eime else 0) | size_field)
        self.iommu.write_reg(GCMD, SIRTP)
        self.iommu.write_reg(GCMD, IRE | (CFI if cfi else 0))

    def put(self, index: int, raw: bytes, base=TABLE):
        self.memory.write(base + 16 * index, raw)

    def send(self, address: int, data: int = 0, rid: int = RID) -> bool:
        return self.iommu.handle_write(address, data.to_bytes(4, "little"), rid)

    def enable_queue(self):
        self.iommu.write_reg(IQT, 0)
        self.iommu.write_reg(IQA, QUEUE)  # QS=0: one 4 KiB page, 256 descriptors
        self.iommu.write_reg(GCMD, self.iommu.read_reg(GSTS) & (IRE | CFI) | QIE)

    def submit(self, *descriptors: tuple[int, int]):
        for low, high in descriptors:
            self.memory.write(QUEUE + self.queue_tail, low.to_bytes(8, "little")
                              + high.to_bytes(8, "little"))
            self.queue_tail = (self.queue_tail + 16) % 4096
        self.iommu.write_reg(IQT, self.queue_tail)

    @property
    def reasons(self):
        return [f.reason for f in self.iommu.fault_log]

    @property
    def keys(self):
        return [d.key for d in self.cpus.deliveries]


def iec_index(index: int, mask_bits: int = 0) -> tuple[int, int]:
    return (0x4 | 1 << 4 | mask_bits << 27 | index << 32, 0)


def iec_global() -> tuple[int, int]:
    return (0x4, 0)


def wait_with_status(value: int) -> tuple[int, int]:
    return (0x5 | 1 << 5 | value << 32, STATUS)


@pytest.fixture
def rig():
    r = Rig()
    r.enable()
    return r


# ------------------------------------------------------------------------------------- registers
def test_capability_registers_describe_fault_records_and_features():
    iommu = Rig(fault_recording_registers=4, host_address_width=46).iommu
    cap, ecap = iommu.read_reg(0x08), iommu.read_reg(0x10)
    assert (cap >> 40 & 0xFF) + 1 == 4
    assert (cap >> 24 & 0x3FF) * 16 == FRCD0
    assert (cap >> 16 & 0x3F) + 1 == 46
    assert ecap & (1 << 1) and ecap & (1 << 3) and ecap & (1 << 4)  # QI, IR, EIM
    assert not cap >> 59 & 1  # CAP.PI: no posted interrupts unless the platform opts in (tb/platform/vtd_posted.py)
    assert iommu.read_reg(0x08 + 4, size=4) == cap >> 32


def test_global_command_bits_are_reflected_in_status_and_gcmd_reads_zero():
    r = Rig()
    assert r.iommu.read_reg(GSTS) == 0
    r.iommu.write_reg(GCMD, SIRTP)
    assert r.iommu.read_reg(GSTS) == SIRTP  # IRTPS
    r.iommu.write_reg(GCMD, IRE | CFI)
    assert r.iommu.read_reg(GSTS) == IRE | SIRTP | CFI
    r.iommu.write_reg(GCMD, IRE)
    assert r.iommu.read_reg(GSTS) == IRE | SIRTP
    assert r.iommu.read_reg(GCMD) == 0


def test_irta_takes_effect_only_when_sirtp_is_set():
    r = Rig(cache_irtes=False)  # the cached non-present entry would hide the switch (see below)
    r.put(1, irte(vector=0x51, dest=xapic(2)))
    r.iommu.write_reg(IRTA, TABLE | 7)
    r.iommu.write_reg(GCMD, IRE)
    assert r.send(remappable(1))
    assert r.reasons == [VtdFaultReason.NOT_PRESENT]  # still the reset table at address 0
    assert r.iommu.read_reg(IRTA) == TABLE | 7
    r.iommu.write_reg(GCMD, IRE | SIRTP)
    r.send(remappable(1))
    assert r.keys == [(2, 0x51)]


# ------------------------------------------------------------------------------------- delivery
def test_remappable_message_delivers_irte_vector_to_xapic_destination(rig):
    rig.put(5, irte(vector=0x41, dest=xapic(2), tm=1, dlm=1, rh=1))
    assert rig.send(remappable(5))
    (delivery,) = rig.cpus.deliveries
    assert delivery.key == (2, 0x41)
    assert delivery.requester_id == RID
    assert delivery.details["index"] == 5
    assert (delivery.details["trigger_mode"], delivery.details["delivery_mode"],
            delivery.details["redirection_hint"]) == (1, 1, 1)
    assert rig.iommu.delivered == 1 and rig.iommu.faults == 0


@pytest.mark.parametrize("vector", [0x20, 0x7F, 0x80, 0xC1, 0xEF, 0xFF])
def test_every_vector_bit_of_the_irte_is_delivered(rig, vector):
    # IRTE bits 23:16 are the whole 8-bit vector (facts section 4); Linux uses 0x20..0xEF, so bit 7 matters.
    rig.put(6, irte(vector=vector, dest=xapic(3)))
    assert rig.send(remappable(6))
    assert rig.keys == [(3, vector)] and rig.reasons == []


def test_handle_bit_15_comes_from_address_bit_2():
    r = Rig()
    r.enable(size_field=15)  # 65536 entries
    r.put(0x8003, irte(vector=0x62, dest=xapic(3)))
    r.put(0x0003, irte(vector=0x33, dest=xapic(1)))
    assert remappable(0x8003) == 0xFEE0_0000 | 3 << 5 | 1 << 4 | 1 << 2
    r.send(remappable(0x8003))
    assert r.keys == [(3, 0x62)]


def test_subhandle_is_added_to_handle_when_shv_is_set(rig):
    rig.put(11, irte(vector=0x45, dest=xapic(1)))
    rig.put(8, irte(vector=0x44, dest=xapic(0)))
    rig.send(remappable(8, shv=True), data=3)
    rig.send(remappable(8, shv=False), data=3)  # data ignored without SHV
    assert rig.keys == [(1, 0x45), (0, 0x44)]


def test_x2apic_mode_uses_all_32_destination_bits():
    r = Rig(cpu_ids=(0, 0x1_0002))
    r.enable(eime=True)
    r.put(2, irte(vector=0x70, dest=0x1_0002))
    r.send(remappable(2))
    assert r.keys == [(0x1_0002, 0x70)]


def test_destination_absent_from_cpus_is_undeliverable(rig):
    rig.put(1, irte(vector=0x40, dest=xapic(9)))
    rig.send(remappable(1))
    assert rig.cpus.deliveries == [] and [u.key for u in rig.cpus.undeliverable] == [(9, 0x40)]
    assert rig.iommu.delivered == 0


def test_writes_outside_the_interrupt_window_are_not_claimed(rig):
    assert not rig.send(0xFED0_0000)
    assert not rig.send(0xFEF0_0000)
    assert not rig.send(0x1000)
    assert rig.iommu.fault_log == [] and rig.cpus.deliveries == []


def test_timestamps_come_from_the_callers_clock(rig):
    rig.put(1, irte(dest=xapic(0)))
    rig.send(remappable(1))
    rig.send(remappable(2))
    assert rig.cpus.deliveries[0].time == 1000
    assert rig.iommu.fault_log[0].time == 1001


# ------------------------------------------------------------------------------------- 0x20
def test_fault_20_address_high_bits_with_window_pattern(rig):
    rig.put(1, irte(dest=xapic(0)))
    assert rig.send(0x1_0000_0000 | remappable(1))
    assert rig.reasons == [VtdFaultReason.REQUEST_RESERVED]
    assert rig.cpus.deliveries == []


def test_address_high_bits_are_ordinary_memory_writes_without_remapping():
    r = Rig()
    assert not r.send(0x1_0000_0000 | compatibility(1))


def test_fault_20_subhandle_with_data_upper_bits(rig):
    rig.put(9, irte(dest=xapic(0)))
    rig.send(remappable(8, shv=True), data=0x0001_0001)
    assert rig.reasons == [VtdFaultReason.REQUEST_RESERVED]
    assert rig.cpus.deliveries == []


def test_fault_20_non_dword_write(rig):
    rig.put(1, irte(dest=xapic(0)))
    assert rig.iommu.handle_write(remappable(1), b"\x00\x00", RID)
    assert rig.reasons == [VtdFaultReason.REQUEST_RESERVED]


def _frcd0_index(rig) -> int:
    return rig.iommu.read_reg(FRCD0) >> 48


@pytest.mark.parametrize("address_high, handle, shv, data, index", [
    (1, 0x21, False, 0, 0x21),                 # address bits 63:32 set: the index of the low half
    (1, 0x8003, False, 0, 0x8003),             # handle[15] from address bit 2
    (0, 8, True, 0x0001_0001, 9),              # SHV with data[31:16] != 0: handle + subhandle
])
def test_fault_20_records_the_interrupt_index(rig, address_high, handle, shv, data, index):
    """FRCD.FI[63:48] holds the interrupt_index computed for the faulted request (VT-d §7.1.3)."""
    rig.send(address_high << 32 | remappable(handle, shv=shv), data=data)
    assert rig.reasons == [VtdFaultReason.REQUEST_RESERVED]
    assert rig.iommu.fault_log[0].index == index and _frcd0_index(rig) == index


def test_interrupt_index_wraps_at_16_bits():
    """handle + subhandle is a 16-bit interrupt_index: 0xFFFF + 2 selects IRTE 1 (VT-d §5.1.2.2)."""
    r = Rig()
    r.enable(size_field=7)                     # 256 entries
    r.put(1, irte(vector=0x61, dest=xapic(2)))
    r.send(remappable(0xFFFF, shv=True), data=2)
    assert r.keys == [(2, 0x61)] and r.iommu.fault_log == []
    r.send(remappable(0xFFF0, shv=True), data=0x20)   # 0x1_0010 wraps to 0x10: not present, fault 0x22 at 0x10
    assert r.reasons == [VtdFaultReason.NOT_PRESENT] and r.iommu.fault_log[0].index == 0x10


def test_non_dword_write_without_remapping_is_consumed_silently():
    r = Rig()
    assert r.iommu.handle_write(compatibility(1), b"\x41\x00", RID)
    assert r.cpus.deliveries == [] and r.iommu.fault_log == [] and r.iommu.ignored_writes == 1


# ------------------------------------------------------------------------------------- 0x21
def test_fault_21_index_at_or_beyond_table_size():
    r = Rig()
    r.enable(size_field=3)  # 2^(3+1) = 16 entries
    r.put(15, irte(dest=xapic(1)))
    r.put(16, irte(dest=xapic(1)))
    r.send(remappable(15))
    r.send(remappable(16))
    r.send(remappable(14, shv=True), data=2)
    assert r.keys == [(1, 0x40)]
    assert r.reasons == [VtdFaultReason.INDEX_OUT_OF_RANGE] * 2
    assert [f.index for f in r.iommu.fault_log] == [16, 16]


# ------------------------------------------------------------------------------------- 0x22
def test_fault_22_not_present_records_index_and_source(rig):
    rig.put(4, irte(present=0, dest=xapic(1)))
    rig.send(remappable(4), rid=0x0420)
    (fault,) = rig.iommu.fault_log
    assert (fault.reason, fault.index, fault.requester_id) == (VtdFaultReason.NOT_PRESENT, 4, 0x420)
    assert rig.cpus.deliveries == []


def test_fpd_suppresses_not_present_fault_but_drops(rig):
    rig.put(4, irte(present=0, fpd=1, dest=xapic(1)))
    rig.send(remappable(4))
    assert rig.iommu.fault_log == [] and rig.cpus.deliveries == []
    assert [f.reason for f in rig.iommu.suppressed_faults] == [VtdFaultReason.NOT_PRESENT]
    assert rig.iommu.read_reg(FSTS) & 0x2 == 0  # no PPF


# ------------------------------------------------------------------------------------- 0x23
def test_fault_23_table_memory_error(rig):
    rig.put(6, irte(dest=xapic(1)))
    rig.memory.add_error_range(TABLE + 16 * 6, 16)
    rig.send(remappable(6))
    assert rig.reasons == [VtdFaultReason.TABLE_READ_ERROR]


def test_fault_23_table_beyond_host_address_width():
    r = Rig(host_address_width=39)
    r.enable(base=1 << 39)
    r.send(remappable(0))
    assert r.reasons == [VtdFaultReason.TABLE_READ_ERROR]


def test_fault_23_is_not_suppressed_by_fpd(rig):
    rig.put(6, irte(fpd=1, dest=xapic(1)))
    rig.memory.add_error_range(TABLE + 16 * 6, 16)
    rig.send(remappable(6))
    assert rig.reasons == [VtdFaultReason.TABLE_READ_ERROR]


# ------------------------------------------------------------------------------------- 0x24
@pytest.mark.parametrize("fields", [
    dict(low_extra=1 << 12),             # reserved 14:12
    dict(low_extra=1 << 15),             # IM=1: posted format, unsupported
    dict(low_extra=1 << 24),             # reserved 31:24
    dict(high_extra=1 << (100 - 64)),    # reserved 127:84
    dict(dest=0x1),                      # xAPIC: destination bits 39:32 reserved
    dict(dest=0x1_0000),                 # xAPIC: destination bits 63:48 reserved
    dict(dlm=0b011),                     # reserved delivery mode
    dict(dlm=0b110),
    dict(svt=0b11),                      # reserved SVT encoding
], ids=["bit12", "posted", "bit24", "bit100", "dest39_32", "dest63_48", "dlm3", "dlm6", "svt3"])
def test_fault_24_reserved_irte_content(rig, fields):
    rig.put(3, irte(**{"dest": xapic(1), **fields}))
    rig.send(remappable(3))
    assert rig.reasons == [VtdFaultReason.IRTE_RESERVED]
    assert rig.cpus.deliveries == []


def test_x2apic_destination_bits_are_not_reserved():
    r = Rig(cpu_ids=(0x1_0001,))
    r.enable(eime=True)
    r.put(3, irte(dest=0x1_0001))
    r.send(remappable(3))
    assert r.keys == [(0x1_0001, 0x40)]


def test_fpd_suppresses_reserved_irte_fault(rig):
    rig.put(3, irte(fpd=1, dest=xapic(1), low_extra=1 << 12))
    rig.send(remappable(3))
    assert rig.iommu.fault_log == [] and rig.cpus.deliveries == []
    assert [f.reason for f in rig.iommu.suppressed_faults] == [VtdFaultReason.IRTE_RESERVED]


# ------------------------------------------------------------------------------------- 0x25
def test_fault_25_compatibility_format_blocked_when_cfi_clear(rig):
    rig.send(compatibility(1), data=0x41)
    assert rig.reasons == [VtdFaultReason.COMPAT_BLOCKED]
    assert rig.cpus.deliveries == []


def test_compatibility_format_passes_through_with_cfi_in_xapic_mode():
    r = Rig()
    r.enable(cfi=True)
    r.send(compatibility(3), data=0x8041)
    assert r.keys == [(3, 0x41)]
    assert r.cpus.deliveries[0].details["format"] == "compatibility"
    assert r.cpus.deliveries[0].details["trigger_mode"] == 1


def test_fault_25_compatibility_format_blocked_in_x2apic_mode_even_with_cfi():
    r = Rig()
    r.enable(cfi=True, eime=True)
    r.send(compatibility(3), data=0x41)
    assert r.reasons == [VtdFaultReason.COMPAT_BLOCKED]


def test_remapping_disabled_interprets_every_message_as_compatibility_format():
    r = Rig()
    r.send(compatibility(2), data=0x37)
    r.send(remappable(0x5), data=0x38)  # bit 4 is ignored without remapping: dest = addr[19:12]
    assert r.keys == [(2, 0x37), (0, 0x38)]
    assert r.iommu.fault_log == []


# ------------------------------------------------------------------------------------- 0x26
SID = 0x1234  # bus 0x12, device 6, function 4


@pytest.mark.parametrize("sq, requester_id, accepted", [
    (0, SID, True), (0, SID ^ 0x1, False),
    (1, SID ^ 0x4, True), (1, SID ^ 0x2, False),            # mask 0xfffb ignores bit 2
    (2, SID ^ 0x6, True), (2, SID ^ 0x1, False),            # mask 0xfff9 ignores bits 2:1
    (3, SID ^ 0x7, True), (3, SID ^ 0x8, False),            # mask 0xfff8 ignores bits 2:0
])
def test_fault_26_source_id_with_qualifier_masks(rig, sq, requester_id, accepted):
    rig.put(2, irte(dest=xapic(1), sid=SID, sq=sq, svt=1))
    rig.send(remappable(2), rid=requester_id)
    assert rig.keys == ([(1, 0x40)] if accepted else [])
    assert rig.reasons == ([] if accepted else [VtdFaultReason.SOURCE_ID_MISMATCH])


@pytest.mark.parametrize("bus, accepted", [(2, True), (3, True), (5, True), (1, False),
                                           (6, False)])
def test_fault_26_bus_range_start_in_upper_byte_end_in_lower(rig, bus, accepted):
    # Linux set_irte_verify_bus(start=2, end=5) writes SID = 2 << 8 | 5.
    rig.put(2, irte(dest=xapic(1), sid=2 << 8 | 5, svt=2))
    rig.send(remappable(2), rid=bus << 8 | 0x08)
    assert rig.keys == ([(1, 0x40)] if accepted else [])
    assert rig.reasons == ([] if accepted else [VtdFaultReason.SOURCE_ID_MISMATCH])


def test_no_source_validation_accepts_any_requester(rig):
    rig.put(2, irte(dest=xapic(1), sid=0, svt=0))
    rig.send(remappable(2), rid=0xBEEF)
    assert rig.keys == [(1, 0x40)]


def test_fpd_suppresses_source_id_fault(rig):
    rig.put(2, irte(fpd=1, dest=xapic(1), sid=SID, svt=1))
    rig.send(remappable(2), rid=SID ^ 0x100)
    assert rig.iommu.fault_log == [] and rig.cpus.deliveries == []
    assert [f.reason for f in rig.iommu.suppressed_faults] == [VtdFaultReason.SOURCE_ID_MISMATCH]


# ------------------------------------------------------------------------------------- recording
def test_fault_recording_register_layout_and_clearing(rig):
    rig.put(0x21, irte(present=0))
    rig.send(remappable(0x21), rid=0x0A0B)
    fsts = rig.iommu.read_reg(FSTS)
    assert fsts & 0x2 and (fsts >> 8 & 0xFF) == 1  # PPF, FRI advanced
    low, high = rig.iommu.read_reg(FRCD0), rig.iommu.read_reg(FRCD0 + 8)
    assert low >> 48 == 0x21
    assert high >> 63 == 1 and (high >> 32 & 0xFF) == 0x22 and high & 0xFFFF == 0x0A0B
    rig.iommu.write_reg(FRCD0 + 8, 0)  # writing 0 keeps F
    assert rig.iommu.read_reg(FRCD0 + 12, size=4) >> 31 == 1
    rig.iommu.write_reg(FRCD0 + 12, 1 << 31, size=4)  # Linux clears F with a dword write
    assert rig.iommu.read_reg(FRCD0 + 8) >> 63 == 0
    assert rig.iommu.read_reg(FSTS) & 0x2 == 0


def test_full_fault_registers_set_primary_fault_overflow():
    r = Rig(fault_recording_registers=2)
    r.enable()
    for index in (1, 2, 3):
        r.send(remappable(index))
    assert [f.in_fault_register for f in r.iommu.fault_log] == [True, True, False]
    assert r.iommu.read_reg(FSTS) & 0x1  # PFO
    r.iommu.write_reg(FSTS, 0x1)
    assert not r.iommu.read_reg(FSTS) & 0x1
    assert r.iommu.faults == 3


# ------------------------------------------------------------------------------------- IEC + QI
def test_cached_irte_is_used_until_index_invalidation(rig):
    rig.enable_queue()
    rig.put(7, irte(vector=0x40, dest=xapic(0)))
    rig.send(remappable(7))
    rig.put(7, irte(vector=0x50, dest=xapic(1)))
    rig.send(remappable(7))
    rig.submit(iec_index(6), wait_with_status(0x11))  # another index: no effect on 7
    rig.send(remappable(7))
    rig.submit(iec_index(7), wait_with_status(0x22))
    rig.send(remappable(7))
    assert rig.keys == [(0, 0x40), (0, 0x40), (0, 0x40), (1, 0x50)]
    assert int.from_bytes(rig.memory.read(STATUS, 4), "little") == 0x22
    assert rig.iommu.read_reg(IQH) == rig.queue_tail == 64


def test_index_invalidation_mask_covers_aligned_block_and_global_covers_all(rig):
    rig.enable_queue()
    for index in (4, 5, 7, 8):
        rig.put(index, irte(vector=0x40, dest=xapic(0)))
        rig.send(remappable(index))
        rig.put(index, irte(vector=0x41, dest=xapic(0)))
    rig.submit(iec_index(5, mask_bits=2))  # indices 4..7
    for index in (4, 5, 7, 8):
        rig.send(remappable(index))
    rig.submit(iec_global())
    rig.send(remappable(8))
    assert [v for _, v in rig.keys[4:]] == [0x41, 0x41, 0x41, 0x40, 0x41]


def test_irte_cache_can_be_disabled():
    r = Rig(cache_irtes=False)
    r.enable()
    r.put(7, irte(vector=0x40, dest=xapic(0)))
    r.send(remappable(7))
    r.put(7, irte(vector=0x50, dest=xapic(1)))
    r.send(remappable(7))
    assert r.keys == [(0, 0x40), (1, 0x50)]


def test_sirtp_does_not_flush_the_cache_global_invalidation_does(rig):
    rig.enable_queue()
    other_table = 0x0050_0000
    rig.put(1, irte(vector=0x40, dest=xapic(0)))
    rig.put(1, irte(vector=0x60, dest=xapic(2)), base=other_table)
    rig.send(remappable(1))
    rig.iommu.write_reg(IRTA, other_table | 7)
    rig.iommu.write_reg(GCMD, IRE | QIE | SIRTP)
    rig.send(remappable(1))
    rig.submit(iec_global())
    rig.send(remappable(1))
    assert rig.keys == [(0, 0x40), (0, 0x40), (2, 0x60)]


def test_invalidation_queue_error_on_unknown_descriptor(rig):
    rig.enable_queue()
    rig.submit((0xF, 0), iec_global())
    assert rig.iommu.read_reg(FSTS) & (1 << 4)  # IQE
    assert rig.iommu.read_reg(IQH) == 0
    rig.memory.write(QUEUE, (0x5).to_bytes(8, "little") + bytes(8))  # replace with a plain wait
    rig.iommu.write_reg(FSTS, 1 << 4)
    rig.iommu.write_reg(IQT, rig.queue_tail)
    assert rig.iommu.read_reg(IQH) == 32
    assert rig.iommu.read_reg(FSTS) & (1 << 4) == 0


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="platform", input="VT-d model: remappable message with address bits 63:32 set",
             outcome="fault 0x20 (REQUEST_RESERVED), nothing delivered",
             test="test_fault_20_address_high_bits_with_window_pattern"),
    BadInput(cls="platform", input="VT-d model: SHV = 1 with data[31:16] != 0",
             outcome="fault 0x20 (REQUEST_RESERVED), nothing delivered",
             test="test_fault_20_subhandle_with_data_upper_bits"),
    BadInput(cls="platform", input="VT-d model: remappable message written with 2 bytes (not a DWORD)",
             outcome="claimed; fault 0x20 (REQUEST_RESERVED)",
             test="test_fault_20_non_dword_write"),
    BadInput(cls="platform", input="VT-d model: 0x20 faults (high address bits; handle[15] from address bit 2; SHV "
                                   "with data[31:16])",
             outcome="the fault and FRCD.FI[63:48] hold the computed interrupt index (0x21, 0x8003, handle + "
                     "subhandle = 9)",
             test="test_fault_20_records_the_interrupt_index"),
    BadInput(cls="platform", input="VT-d model: handle 0xFFF0 + subhandle 0x20 (16-bit interrupt index wraps to 0x10)",
             outcome="fault 0x22 (NOT_PRESENT) at index 0x10; 0xFFFF + 2 delivers IRTE 1",
             test="test_interrupt_index_wraps_at_16_bits"),
    BadInput(cls="platform", input="VT-d model: compatibility-format write of 2 bytes with remapping disabled",
             outcome="consumed silently: no delivery, no fault, counted as ignored",
             test="test_non_dword_write_without_remapping_is_consumed_silently"),
    BadInput(cls="platform", input="VT-d model: interrupt index 16 in a 16-entry table (handle 16, or handle 14 + "
                                   "subhandle 2)",
             outcome="fault 0x21 (INDEX_OUT_OF_RANGE) with index 16, twice; index 15 is delivered",
             test="test_fault_21_index_at_or_beyond_table_size"),
    BadInput(cls="platform", input="VT-d model: IRTE with Present = 0",
             outcome="fault 0x22 (NOT_PRESENT) with the index and the requester ID; nothing delivered",
             test="test_fault_22_not_present_records_index_and_source"),
    BadInput(cls="platform", input="VT-d model: not-present IRTE with FPD = 1",
             outcome="dropped with no fault record and no PPF; kept as a suppressed 0x22",
             test="test_fpd_suppresses_not_present_fault_but_drops"),
    BadInput(cls="platform", input="VT-d model: IRTE whose memory read fails",
             outcome="fault 0x23 (TABLE_READ_ERROR)",
             test="test_fault_23_table_memory_error"),
    BadInput(cls="platform", input="VT-d model: remapping table above the host address width (39 bits)",
             outcome="fault 0x23 (TABLE_READ_ERROR)",
             test="test_fault_23_table_beyond_host_address_width"),
    BadInput(cls="platform", input="VT-d model: IRTE read error with FPD = 1",
             outcome="fault 0x23 still recorded (FPD does not suppress it)",
             test="test_fault_23_is_not_suppressed_by_fpd"),
    BadInput(cls="platform", input="VT-d model: IRTE with a reserved field set: bits 14:12, IM = 1 (posted), bits "
                                   "31:24, bit 100, xAPIC destination bits 39:32 or 63:48, delivery mode 011b/110b, "
                                   "SVT 11b",
             outcome="fault 0x24 (IRTE_RESERVED), nothing delivered",
             test="test_fault_24_reserved_irte_content"),
    BadInput(cls="platform", input="VT-d model: IRTE with a reserved bit and FPD = 1",
             outcome="dropped with no fault record; kept as a suppressed 0x24",
             test="test_fpd_suppresses_reserved_irte_fault"),
    BadInput(cls="platform", input="VT-d model: compatibility-format message with remapping on and CFI clear",
             outcome="fault 0x25 (COMPAT_BLOCKED), nothing delivered",
             test="test_fault_25_compatibility_format_blocked_when_cfi_clear"),
    BadInput(cls="platform", input="VT-d model: compatibility-format message in x2APIC mode (EIME) even with CFI set",
             outcome="fault 0x25 (COMPAT_BLOCKED)",
             test="test_fault_25_compatibility_format_blocked_in_x2apic_mode_even_with_cfi"),
    BadInput(cls="platform", input="VT-d model: requester ID outside the IRTE's SID under SQ 0..3 (masks 0xFFFF, "
                                   "0xFFFB, 0xFFF9, 0xFFF8)",
             outcome="fault 0x26 (SOURCE_ID_MISMATCH), nothing delivered; IDs differing only in masked bits are "
                     "delivered",
             test="test_fault_26_source_id_with_qualifier_masks"),
    BadInput(cls="platform", input="VT-d model: requester bus outside the IRTE's bus range (SVT 10b: buses 2..5; bus "
                                   "1 or 6)",
             outcome="fault 0x26 (SOURCE_ID_MISMATCH), nothing delivered; buses 2, 3, 5 are delivered",
             test="test_fault_26_bus_range_start_in_upper_byte_end_in_lower"),
    BadInput(cls="platform", input="VT-d model: source-ID mismatch with FPD = 1",
             outcome="dropped with no fault record; kept as a suppressed 0x26",
             test="test_fpd_suppresses_source_id_fault"),
    BadInput(cls="platform", input="VT-d model: more faults than fault recording registers (3 faults, 2 registers)",
             outcome="the third is logged but not in a register; FSTS.PFO set, W1C clears it",
             test="test_full_fault_registers_set_primary_fault_overflow"),
    BadInput(cls="platform", input="VT-d model: unknown descriptor type 0xF in the invalidation queue",
             outcome="FSTS.IQE set, IQH stays at the bad descriptor; after it is replaced and IQE cleared the queue "
                     "advances",
             test="test_invalidation_queue_error_on_unknown_descriptor"),
)
