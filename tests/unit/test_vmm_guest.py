"""Guests (tb/vmm/guest.py): RAM backed by scattered host pages, the IOMMU tables of that RAM built with
the kernel's second-level / stage-2 code, device DMA at guest-physical addresses, nested translation of a
guest process's addresses, trapped register frames and exit accounting."""

import pytest

from imsdev.platform import HostAllocator, Process, VtdIrqDomain
from imsdev.platform import iommu_nested as nested
from imsdev.platform import iommu_sva as sva
from tb.platform.cpu import Cpus
from tb.platform.memory import MemoryAccessError, SparseMemory
from tb.platform.smmu_dma import SmmuEventId, SmmuV3
from tb.platform.vtd_dma import VtdDmaFaultReason, VtdDmarUnit
from tb.vmm.exits import ExitCounter, ExitReason
from tb.vmm.guest import Guest, GuestMemory, TrappedRegisters

RID = 0x0300


def host():
    return SparseMemory(), HostAllocator(0x1000_0000, 0x400_0000)


def test_guest_ram_is_host_scattered_and_reads_across_pages():
    memory, allocator = host()
    allocator.alloc(0x3000, 0x1000)                      # something else already lives there
    ram = GuestMemory(memory, allocator, 0x4000)
    assert sorted(ram.pages) == [0, 0x1000, 0x2000, 0x3000]
    assert all(hpa % 0x1000 == 0 and hpa >= 0x1000_3000 for hpa in ram.pages.values())
    ram.write(0x0FFC, bytes(range(8)))
    assert ram.read(0x0FFC, 8) == bytes(range(8))
    assert memory.read(ram.hpa(0x1000), 4) == bytes([4, 5, 6, 7])
    with pytest.raises(MemoryAccessError):
        ram.read(0x4000, 1)
    with pytest.raises(ValueError):
        GuestMemory(memory, allocator, 0x1800)


def x86_iommu(memory, allocator):
    unit = VtdDmarUnit(memory, Cpus((0,)), second_level=True)
    domain = VtdIrqDomain(unit, memory, allocator, (0,))
    return unit, nested.VtdNestedSva(unit, memory, allocator, domain)


def test_x86_device_dma_at_guest_physical_addresses():
    memory, allocator = host()
    guest = Guest("vm0", "x86", memory, allocator, ram_size=0x10_0000)
    unit, kernel = x86_iommu(memory, allocator)
    kernel.attach_second_level(RID, guest.iommu_tables, did=5)
    for gpa in (0x0, 0x5123, 0xF_FFF8):
        assert unit.translate(RID, None, False, gpa, True) == guest.memory.hpa(gpa)
    fault = unit.translate(RID, None, False, 0x10_0000, False)     # just past guest RAM
    assert fault.reason == VtdDmaFaultReason.SM_SL_ENTRY_RW_ERROR


def test_x86_nested_guest_process_gva_to_hpa():
    memory, allocator = host()
    guest = Guest("vm0", "x86", memory, allocator, ram_size=0x10_0000)
    unit, kernel = x86_iommu(memory, allocator)
    process = Process("guest-app", guest.memory, guest.allocator, "x86")   # tables in guest RAM
    data_gpa = guest.allocator.alloc(0x2000, 0x1000)
    process.map(0x7F00_0000_0000, data_gpa, 0x2000)
    kernel.bind_nested(RID, 7, process.pgd, guest.iommu_tables, did=6)
    for offset in (0x10, 0x1FF0):
        assert unit.translate(RID, 7, False, 0x7F00_0000_0000 + offset, True) == \
            guest.memory.hpa(data_gpa + offset)
    assert unit.translate(RID, 7, False, 0x7F00_0000_2000, False).reason == \
        VtdDmaFaultReason.SM_FL_ENTRY_NOT_PRESENT
    assert unit.dma_fault_log[-1].pasid == 7


def test_arm_device_dma_and_nested_through_stage2():
    memory, allocator = host()
    guest = Guest("vm0", "arm", memory, allocator, ram_size=0x10_0000)
    smmu = SmmuV3(memory, stage2=True)
    kernel = nested.SmmuNested(smmu, memory, allocator, sid_bits=10)
    kernel.attach_stage2(RID, guest.iommu_tables, vmid=1)
    assert smmu.translate(RID, None, False, 0x5123, True) == guest.memory.hpa(0x5123)
    assert smmu.translate(RID, None, False, 0x10_0000, True).event_id == SmmuEventId.F_TRANSLATION
    # Nested: the guest's own CD table and stage-1 tables in its RAM (its SMMU driver's work).
    process = Process("guest-app", guest.memory, guest.allocator, "arm")
    data_gpa = guest.allocator.alloc(0x1000, 0x1000)
    process.map(0x40_0000, data_gpa, 0x1000)
    cd_table = guest.allocator.alloc(64 * 4, 64)
    for n, word in enumerate(sva.encode_cd(process.pgd, asid=3)):
        guest.memory.write(cd_table + 64 * 1 + 8 * n, word.to_bytes(8, "little"))
    kernel.attach_nested(RID, cd_table, 2, guest.iommu_tables, vmid=1)
    assert smmu.translate(RID, 1, False, 0x40_0010, True) == guest.memory.hpa(data_gpa + 0x10)
    assert [e.event_id for e in smmu.events] == [SmmuEventId.F_TRANSLATION]   # the earlier one only


def test_trapped_registers_count_one_exit_per_access():
    class Regs:
        def __init__(self):
            self.value = 0

        def read_reg(self, offset, size=None):
            return self.value

        def write_reg(self, offset, value, size=None):
            self.value = value

    exits = ExitCounter()
    regs = TrappedRegisters(Regs(), exits, "GITS", vcpu=1)
    regs.write_reg(0x88, 0x20)
    assert regs.read_reg(0x88) == 0x20
    assert exits.counts == {ExitReason.EPT_VIOLATION: 2}
    assert [(e.vcpu, e.detail) for e in exits.log] == [(1, "GITS write 0x88"), (1, "GITS read 0x88")]
    mark = exits.mark()
    exits.exit(ExitReason.HLT, 0)
    assert exits.since(mark) == {ExitReason.HLT: 1} and exits.count() == 3
    assert [int(r) for r in (ExitReason.EXTERNAL_INTERRUPT, ExitReason.HLT, ExitReason.VMCALL,
                             ExitReason.EPT_VIOLATION)] == [1, 12, 18, 48]
