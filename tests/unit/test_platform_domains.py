"""The kernel-side irq domains (fw/imsdev/platform) driving the platform models end to end.

The same scenarios run on x86 (VT-d remapping) and ARM (SMMU + GICv3 ITS): allocate, compose, let the
"device" write the composed message through ``handle_write``, and check the exact target. The
platform-specific tests decode what the driver left in host memory and in the ITS command queue from
the documented bit positions (platform-facts.md sections 4-6).
"""

import pytest

from tb.bad_inputs import BadInput
from tb.platform import ArmPlatform, X86Platform, make_platform
from tb.platform.gic_its import ItsErrorReason
from tb.platform.memory import MemoryAccessError, SparseMemory, read_le, write_le
from tb.platform.vtd_ir import VtdFaultReason

RID = 0x0300
OTHER_RID = 0x0408


@pytest.fixture(params=["x86", "arm"])
def platform(request):
    return make_platform(request.param)


def send(platform, irq, rid=None):
    return platform.handle_write(irq.msg.address, irq.msg.payload,
                                 irq.requester_id if rid is None else rid)


def fault_reasons(platform):
    return [f.reason for f in platform.faults]


UNMAPPED_VECTOR = {"x86": VtdFaultReason.NOT_PRESENT, "arm": ItsErrorReason.EVENT_UNMAPPED}
UNMAPPED_DEVICE = {"x86": VtdFaultReason.NOT_PRESENT, "arm": ItsErrorReason.DEVICE_UNMAPPED}
WRONG_REQUESTER = {"x86": VtdFaultReason.SOURCE_ID_MISMATCH, "arm": ItsErrorReason.DEVICE_UNMAPPED}


# ------------------------------------------------------------------------------------- both platforms
def test_every_vector_lands_exactly_once_on_its_expected_target(platform):
    irqs = platform.alloc_irqs(RID, 5)
    for irq in irqs:
        assert send(platform, irq)
    assert [d.key for d in platform.deliveries] == [platform.expected_target(i) for i in irqs]
    assert len({platform.expected_target(i) for i in irqs}) == 5
    assert {d.target for d in platform.deliveries} == set(platform.cpus.ids)  # spread over CPUs
    assert all(platform.delivery_count(*platform.expected_target(i)) == 1 for i in irqs)
    assert platform.faults == []


def test_affinity_change_keeps_the_message_and_moves_the_next_delivery(platform):
    irq, other = platform.alloc_irqs(RID, 2)
    message, old_target = irq.msg, platform.expected_target(irq)
    platform.set_affinity(irq, 3)
    assert irq.msg == message
    assert platform.expected_target(irq) != old_target
    assert irq.target == platform.cpus.ids[3]
    send(platform, irq)
    send(platform, other)
    assert [d.key for d in platform.deliveries] == [platform.expected_target(irq),
                                                    platform.expected_target(other)]
    assert platform.faults == []


def test_a_freed_vector_is_dropped_with_a_fault_and_its_sibling_still_works(platform):
    freed, kept = platform.alloc_irqs(RID, 2)
    platform.free_irqs([freed])
    send(platform, freed)
    send(platform, kept)
    assert [d.key for d in platform.deliveries] == [platform.expected_target(kept)]
    assert fault_reasons(platform) == [UNMAPPED_VECTOR[platform.name]]


def test_freeing_every_vector_unmaps_the_device(platform):
    irqs = platform.alloc_irqs(RID, 3)
    platform.free_irqs(irqs)
    send(platform, irqs[1])
    assert platform.deliveries == []
    assert fault_reasons(platform) == [UNMAPPED_DEVICE[platform.name]]


def test_a_message_from_another_requester_is_rejected(platform):
    (irq,) = platform.alloc_irqs(RID, 1)
    send(platform, irq, rid=OTHER_RID)
    assert platform.deliveries == []
    assert fault_reasons(platform) == [WRONG_REQUESTER[platform.name]]


def test_deliveries_reach_callbacks_with_the_benchs_clock():
    for name in ("x86", "arm"):
        clock = iter(range(5000, 6000))
        platform = make_platform(name, now=lambda: next(clock))
        seen = []
        platform.on_deliver.append(seen.append)
        (irq,) = platform.alloc_irqs(RID, 1)
        send(platform, irq)
        assert [(r.key, r.requester_id) for r in seen] == [(irq.expected, RID)]
        assert seen[0].time >= 5000


def test_two_devices_and_reallocation_after_free(platform):
    first = platform.alloc_irqs(RID, 3)
    second = platform.alloc_irqs(OTHER_RID, 2)
    platform.free_irqs(first)
    third = platform.alloc_irqs(RID, 4)
    for irq in second + third:
        send(platform, irq)
    assert [d.key for d in platform.deliveries] == [i.expected for i in second + third]
    assert len({i.expected for i in second + third}) == 6
    assert platform.faults == []


# ------------------------------------------------------------------------------------- x86
def decode_irte(raw: bytes) -> dict:
    value = int.from_bytes(raw, "little")
    return {"present": value & 1, "fpd": value >> 1 & 1, "dest_mode": value >> 2 & 1,
            "trigger": value >> 4 & 1, "delivery": value >> 5 & 7, "posted": value >> 15 & 1,
            "vector": value >> 16 & 0xFF, "dest": value >> 32 & 0xFFFF_FFFF,
            "sid": value >> 64 & 0xFFFF, "sq": value >> 80 & 3, "svt": value >> 82 & 3,
            "reserved": value >> 84}


def irte_bytes(platform: X86Platform, index: int) -> bytes:
    return platform.memory.read(platform.domain.table + 16 * index, 16)


def test_x86_driver_enables_remapping_and_blocks_compatibility_format():
    platform = X86Platform(ir_table_entries=256)
    gsts = platform.iommu.read_reg(0x1C)
    assert gsts & (1 << 25) and gsts & (1 << 24) and gsts & (1 << 26)  # IRES, IRTPS, QIES
    assert not gsts & (1 << 23)  # CFIS
    irta = platform.iommu.read_reg(0xB8)
    assert irta & ~0xFFF == platform.domain.table and irta & 0xF == 7 and not irta & (1 << 11)
    assert platform.iommu.invalidations[0] == ("global", None, None)
    assert platform.handle_write(0xFEE0_1000, (0x41).to_bytes(4, "little"), RID)
    assert fault_reasons(platform) == [VtdFaultReason.COMPAT_BLOCKED]


def test_x86_irte_and_message_follow_the_linux_format():
    platform = X86Platform(apic_ids=(0, 4, 8, 12))
    irqs = platform.alloc_irqs(RID, 3)
    base = irqs[0].index
    assert base % 4 == 0 and [i.index for i in irqs] == [base, base + 1, base + 2]
    for subhandle, irq in enumerate(irqs):
        assert irq.msg.address_hi == 0
        assert irq.msg.address_lo == (0xFEE << 20 | (base & 0x7FFF) << 5 | 1 << 4 | 1 << 3
                                      | (base >> 15) << 2)
        assert irq.msg.data == subhandle
        entry = decode_irte(irte_bytes(platform, irq.index))
        assert entry == {"present": 1, "fpd": 0, "dest_mode": 0, "trigger": 0, "delivery": 0,
                         "posted": 0, "vector": irq.vector, "dest": irq.target << 8, "sid": RID,
                         "sq": 0, "svt": 1, "reserved": 0}
    assert [i.target for i in irqs] == [0, 4, 8]


def test_x86_vector_blocks_are_power_of_two_and_reserved_whole():
    platform = X86Platform()
    block = platform.alloc_irqs(RID, 3)
    single = platform.alloc_irqs(RID, 1)
    assert [i.index for i in block] == [0, 1, 2] and single[0].index == 4
    platform.free_irqs(block[:2])
    assert platform.alloc_irqs(RID, 1)[0].index == 5  # index 3 stays reserved with the block
    platform.free_irqs(block[2:])
    assert platform.alloc_irqs(RID, 2)[0].index == 0


def test_x86_affinity_rewrites_only_that_irte_and_invalidates_it():
    platform = X86Platform()
    irqs = platform.alloc_irqs(RID, 4)
    table_bytes = 16 * platform.domain.table_entries
    before = platform.memory.read(platform.domain.table, table_bytes)
    platform.set_affinity(irqs[1], 2)
    after = platform.memory.read(platform.domain.table, table_bytes)
    changed = {n // 16 for n in range(table_bytes) if before[n] != after[n]}
    assert changed == {irqs[1].index}
    entry = decode_irte(irte_bytes(platform, irqs[1].index))
    assert (entry["dest"] >> 8, entry["vector"]) == irqs[1].expected
    assert platform.iommu.invalidations[-1] == ("index", irqs[1].index, 0)


def test_x86_x2apic_mode_programs_32_bit_destinations():
    platform = X86Platform(apic_ids=(0, 0x100, 0x2_0000, 3), x2apic=True)
    assert platform.iommu.read_reg(0xB8) & (1 << 11)
    irqs = platform.alloc_irqs(RID, 3)
    for irq in irqs:
        send(platform, irq)
    assert [d.target for d in platform.deliveries] == [0, 0x100, 0x2_0000]
    assert decode_irte(irte_bytes(platform, irqs[2].index))["dest"] == 0x2_0000


def test_x86_driver_invalidation_is_what_makes_affinity_work_with_the_cache():
    platform = X86Platform(cache_irtes=True)
    (irq,) = platform.alloc_irqs(RID, 1)
    send(platform, irq)  # the IRTE is now cached
    platform.set_affinity(irq, 1)
    send(platform, irq)
    assert [d.target for d in platform.deliveries] == [0, 1]


# ------------------------------------------------------------------------------------- ARM
def its_commands_since(platform: ArmPlatform, start: int) -> list[str]:
    return [record.name for record in platform.its.command_log[start:]]


def test_arm_setup_maps_a_collection_per_cpu_and_enables_lpis():
    platform = ArmPlatform(cpu_count=3)
    records = platform.its.command_log
    mapcs = [r.command for r in records if r.name == "MAPC"]
    assert [(c.collection_id, c.rdbase, c.valid) for c in mapcs] == [(0, 0, 1), (1, 1, 1), (2, 2, 1)]
    assert [r.name for r in records].count("INVALL") == 3
    assert all(r.error is None for r in records)
    assert platform.its.read_reg(0x0) == 1
    for frame in platform.redistributors.frames.values():
        assert frame.read_reg(0x0) & 1 and frame.read_reg(0x70) & 0x1F == 15


def test_arm_message_is_the_translater_offset_in_the_msi_window():
    platform = ArmPlatform(its_phys_base=0x0808_0000)
    irqs = platform.alloc_irqs(RID, 3)
    assert platform.smmu.mappings == {0x0800_0000: 0x0809_0000}  # page holding 0x0809_0040
    for event, irq in enumerate(irqs):
        assert (irq.msg.address_hi, irq.msg.address_lo, irq.msg.data) == (0, 0x0800_0040, event)
        assert irq.index == event and irq.vector >= 8192
    assert [i.vector for i in irqs] == list(range(irqs[0].vector, irqs[0].vector + 3))


@pytest.mark.parametrize("nvecs, size_field, itt_bytes", [(1, 0, 256), (3, 1, 256), (5, 2, 256),
                                                          (64, 5, 512)])
def test_arm_device_sizing_follows_its_create_device(nvecs, size_field, itt_bytes):
    platform = ArmPlatform()
    start = len(platform.its.command_log)
    platform.alloc_irqs(RID, nvecs)
    (mapd,) = [r.command for r in platform.its.command_log[start:] if r.name == "MAPD"]
    assert (mapd.device_id, mapd.size, mapd.valid) == (RID, size_field, 1)
    assert mapd.itt_address % 256 == 0
    assert platform.allocator._allocated[mapd.itt_address] == itt_bytes
    names = its_commands_since(platform, start)
    assert names == ["MAPD", "SYNC"] + ["MAPTI", "SYNC", "INV", "SYNC"] * nvecs


def test_arm_hwsize_sizes_the_itt_for_later_allocations():
    platform = ArmPlatform()
    first = platform.alloc_irqs(RID, 2, hwsize=8)
    later = platform.alloc_irqs(RID, 6)
    assert [i.index for i in first + later] == list(range(8))
    with pytest.raises(RuntimeError):
        platform.alloc_irqs(RID, 1)
    for irq in first + later:
        send(platform, irq)
    assert len(platform.deliveries) == 8 and platform.faults == []


def test_arm_affinity_sends_only_movi_and_sync():
    platform = ArmPlatform()
    irqs = platform.alloc_irqs(RID, 2)
    start = len(platform.its.command_log)
    platform.set_affinity(irqs[0], 2)
    assert its_commands_since(platform, start) == ["MOVI", "SYNC"]
    movi = platform.its.command_log[start].command
    assert (movi.device_id, movi.event_id, movi.collection_id) == (RID, 0, 2)


def test_arm_free_discards_disables_the_lpi_and_unmaps_the_empty_device():
    platform = ArmPlatform()
    irqs = platform.alloc_irqs(RID, 2)
    config = platform.domain.config_table
    assert platform.memory.read(config + irqs[0].vector - 8192, 1)[0] & 1
    start = len(platform.its.command_log)
    platform.free_irqs(irqs)
    assert its_commands_since(platform, start) == ["DISCARD", "SYNC", "DISCARD", "SYNC",
                                                   "MAPD", "SYNC"]
    assert platform.its.command_log[-2].command.valid == 0
    assert not platform.memory.read(config + irqs[0].vector - 8192, 1)[0] & 1


def test_arm_driver_keeps_working_across_command_queue_wrap():
    platform = ArmPlatform(command_queue_pages=1)  # 128 slots
    for round_ in range(12):
        irqs = platform.alloc_irqs(RID, 4)
        platform.set_affinity(irqs[0], round_ % 4)
        for irq in irqs:
            send(platform, irq)
        platform.free_irqs(irqs)
    assert len(platform.its.command_log) > 2 * 128  # the queue wrapped at least twice
    assert platform.its.read_reg(0x90) == platform.its.read_reg(0x88)  # CREADR == CWRITER
    assert len(platform.deliveries) == 48 and platform.faults == []


# ------------------------------------------------------------------------------------- host memory model
@pytest.mark.parametrize("addr, length", [(0x1FF8, 16), (0x1FFF, 2), (0x0FF0, 0x2020), (0x3000, 4096)])
def test_sparse_memory_reads_back_writes_across_page_boundaries(addr, length):
    # Tables (IRTEs, ITS commands, DTE/ITE/CTE) may straddle a 4 KiB page of the model's store.
    mem = SparseMemory()
    data = bytes((i * 7 + 3) & 0xFF for i in range(length))
    mem.write(addr, data)
    assert mem.read(addr, length) == data
    assert mem.read(addr - 1, length + 2) == bytes(1) + data + bytes(1)
    write_le(mem, addr, 0x1122_3344_5566_7788_99AA_BBCC_DDEE_FF00, 16)
    assert read_le(mem, addr, 16) == 0x1122_3344_5566_7788_99AA_BBCC_DDEE_FF00


def test_sparse_memory_bounds_and_error_ranges():
    mem = SparseMemory(size=0x2000)
    mem.write(0x1FFC, b"abcd")
    with pytest.raises(MemoryAccessError):
        mem.read(0x1FFD, 4)
    mem.add_error_range(0x1000, 0x10)
    with pytest.raises(MemoryAccessError):
        mem.read(0x0FFF, 2)
    mem.clear_error_ranges()
    assert mem.read(0x0FFF, 2) == bytes(2)


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="platform", input="Kernel irq domain + platform model (x86 and arm): message of a freed vector",
             outcome="dropped with fault NOT_PRESENT (x86) / EVENT_UNMAPPED (arm); its sibling is still delivered",
             test="test_a_freed_vector_is_dropped_with_a_fault_and_its_sibling_still_works"),
    BadInput(cls="platform", input="Kernel irq domain + platform model (x86 and arm): message after every vector of "
                                   "the device was freed",
             outcome="dropped with fault NOT_PRESENT (x86) / DEVICE_UNMAPPED (arm)",
             test="test_freeing_every_vector_unmaps_the_device"),
    BadInput(cls="platform", input="Kernel irq domain + platform model (x86 and arm): message from another requester "
                                   "ID",
             outcome="dropped with fault SOURCE_ID_MISMATCH (x86) / DEVICE_UNMAPPED (arm)",
             test="test_a_message_from_another_requester_is_rejected"),
    BadInput(cls="platform", input="ARM domain: allocating past the ITT sized by the first allocation's hwsize",
             outcome="alloc_irqs raises RuntimeError",
             test="test_arm_hwsize_sizes_the_itt_for_later_allocations"),
    BadInput(cls="platform", input="Platform memory: read past its size, or over an error range",
             outcome="MemoryAccessError; readable again after clear_error_ranges",
             test="test_sparse_memory_bounds_and_error_ranges"),
)
