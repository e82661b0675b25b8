"""VT-d scalable-mode first-level DMA translation (tb/platform/vtd_dma.py) and the kernel-side VtdSva.

The model tests build root/context/PASID/first-level entries here from the documented bit positions
(docs/iommu.md), independently of the kernel model's encoders; the last tests run the kernel model
(fw/imsdev/platform/iommu_sva.py) against the hardware model.
"""

import pytest

from imsdev.fields import FieldError
from imsdev.platform import HostAllocator, Process, VtdIrqDomain, VtdSva
from imsdev.platform import iommu_sva as sva
from tb.platform.cpu import Cpus
from tb.platform.memory import SparseMemory
from tb.platform.vtd_dma import VtdDmaFaultReason as R
from tb.platform.vtd_dma import VtdDmarUnit

RTADDR, GCMD, FSTS, FRCD0 = 0x20, 0x18, 0x34, 0x200
TE, SRTP = 1 << 31, 1 << 30
RID = 0x0310          # bus 3, devfn 0x10 (lower context table)
RID_UPPER = 0x0390    # bus 3, devfn 0x90 (upper context table)
ROOT, CTX_LO, CTX_HI, PDIR, PTAB = 0x10_0000, 0x10_1000, 0x10_2000, 0x10_3000, 0x10_4000
P, RW, US, A, D, PS = 1, 2, 4, 1 << 5, 1 << 6, 1 << 7


def q(memory, addr):
    return int.from_bytes(memory.read(addr, 8), "little")


def w(memory, addr, value, size=8):
    memory.write(addr, value.to_bytes(size, "little"))


class Rig:
    def __init__(self, *, pdts=0, rid_pasid=0, rid_priv=0, paside=1, ctx_fpd=0):
        self.memory = SparseMemory()
        self.clock = iter(range(1000, 10**6))
        self.unit = VtdDmarUnit(self.memory, Cpus((0,), now=lambda: next(self.clock)))
        self.next_table = 0x20_0000
        m = self.memory
        w(m, ROOT + 16 * 3, CTX_LO | 1)          # LP
        w(m, ROOT + 16 * 3 + 8, CTX_HI | 1)      # UP
        for table, devfn in ((CTX_LO, RID & 0x7F), (CTX_HI, RID_UPPER & 0x7F)):
            low = 1 | ctx_fpd << 1 | paside << 3 | pdts << 9 | PDIR
            high = rid_pasid | rid_priv << 20
            w(m, table + 32 * devfn, low | high << 64, 16)
        w(m, PDIR, PTAB | 1)                     # directory entry 0: PASIDs 0-63
        self.pml4 = self.table()
        self.unit.write_reg(RTADDR, ROOT | 1 << 10)   # TTM = scalable
        self.unit.write_reg(GCMD, SRTP)
        self.unit.write_reg(GCMD, TE)

    def table(self):
        addr, self.next_table = self.next_table, self.next_table + 0x1000
        return addr

    def pasid_entry(self, pasid, *, pgtt=1, did=7, flptptr=None, sre=0, wpe=0, flpm=0, fpd=0,
                    present=1, extra=0):
        q0 = present | fpd << 1 | pgtt << 6
        q1 = did
        q2 = sre | flpm << 2 | wpe << 4 | (self.pml4 if flptptr is None else flptptr)
        self.memory.write(PTAB + 64 * (pasid & 63),
                          (q0 | q1 << 64 | q2 << 128 | extra).to_bytes(64, "little"))

    def map(self, va, pa, size=0x1000, flags=P | RW | US, table_flags=P | RW | US, root=None):
        """4-level IA-32e tables written bit by bit: returns the leaf's address."""
        table = self.pml4 if root is None else root
        leaf_level = {0x1000: 1, 1 << 21: 2, 1 << 30: 3}[size]
        for level in (4, 3, 2, 1):
            slot = table + 8 * (va >> (12 + 9 * (level - 1)) & 0x1FF)
            if level == leaf_level:
                w(self.memory, slot, pa | flags | (PS if level > 1 else 0))
                return slot
            entry = q(self.memory, slot)
            if not entry & 1:
                entry = self.table() | table_flags
                w(self.memory, slot, entry)
            table = entry & ~0xFFF & ((1 << 52) - 1)

    def t(self, pasid, addr, *, write=False, priv=False, rid=RID):
        return self.unit.translate(rid, pasid, priv, addr, write)

    def frcd(self, n=0):
        return self.unit.read_reg(FRCD0 + 16 * n), self.unit.read_reg(FRCD0 + 16 * n + 8)


def expect_record(rig, reason, *, addr, pasid=None, write=False, priv=False, rid=RID, n=0):
    """The fault record against the FRCD layout: FI[63:12]; SID[79:64], PRIV b93, PP b95,
    FR[103:96], PV[123:104], T1 b126 (1 = read), F b127."""
    low, high = rig.frcd(n)
    assert low == addr & ~0xFFF
    assert high & 0xFFFF == rid
    assert high >> 29 & 1 == int(priv)
    assert high >> 31 & 1 == int(pasid is not None)
    assert high >> 32 & 0xFF == reason
    assert high >> 40 & 0xFFFFF == (pasid or 0)
    assert high >> 62 & 1 == int(not write)
    assert high >> 63 == 1


# --------------------------------------------------------------------------- page sizes
@pytest.mark.parametrize("size", [0x1000, 1 << 21, 1 << 30])
def test_every_page_size_translates_and_sets_accessed_dirty(size):
    rig = Rig()
    rig.pasid_entry(5)
    va, pa = 0x7F00_0000_0000 & ~(size - 1), 0x4000_0000
    leaf = rig.map(va, pa, size)
    offset = size - 8
    assert rig.t(5, va + offset) == pa + offset
    assert q(rig.memory, leaf) & (A | D) == A
    assert rig.t(5, va + 0x10, write=True) == pa + 0x10
    assert q(rig.memory, leaf) & (A | D) == A | D
    assert rig.unit.dma_fault_log == []


def test_upper_context_table_and_translation_disabled():
    rig = Rig()
    rig.pasid_entry(1)
    rig.map(0x1000, 0x9000)
    assert rig.t(1, 0x1234, rid=RID_UPPER) == 0x9234
    rig.unit.write_reg(GCMD, 0)  # TE=0: no remapping
    assert rig.t(1, 0xABC000) == 0xABC000


# --------------------------------------------------------------------------- permissions
def test_user_write_to_read_only_page():
    rig = Rig()
    rig.pasid_entry(3)
    rig.map(0x5000, 0x8000, flags=P | US)
    assert rig.t(3, 0x5008) == 0x8008
    fault = rig.t(3, 0x5008, write=True)
    assert fault.reason == R.SM_NO_WRITE_PERMISSION == 0x85
    expect_record(rig, 0x85, addr=0x5008, pasid=3, write=True)


def test_read_only_in_a_non_leaf_entry_also_blocks_writes():
    rig = Rig()
    rig.pasid_entry(3)
    rig.map(0x5000, 0x8000, table_flags=P | US)
    assert rig.t(3, 0x5000, write=True).reason == 0x85


def test_supervisor_write_to_read_only_needs_wpe():
    rig = Rig()
    rig.pasid_entry(3, sre=1, wpe=0)
    rig.map(0x5000, 0x8000, flags=P | US)
    assert rig.t(3, 0x5000, write=True, priv=True) == 0x8000
    rig.pasid_entry(3, sre=1, wpe=1)
    assert rig.t(3, 0x5000, write=True, priv=True).reason == 0x85
    expect_record(rig, 0x85, addr=0x5000, pasid=3, write=True, priv=True)


def test_user_access_to_supervisor_page():
    rig = Rig()
    rig.pasid_entry(9, sre=1)
    rig.map(0x6000, 0xA000, flags=P | RW)       # U/S = 0
    assert rig.t(9, 0x6000).reason == R.SM_FL_USER_PRIVILEGE == 0x81
    expect_record(rig, 0x81, addr=0x6000, pasid=9)
    assert rig.t(9, 0x6000, priv=True) == 0xA000


def test_supervisor_request_without_sre():
    rig = Rig()
    rig.pasid_entry(9, sre=0)
    rig.map(0x6000, 0xA000)
    assert rig.t(9, 0x6000, priv=True).reason == R.SM_PASID_ENTRY_SRE_CLEAR == 0x5D
    expect_record(rig, 0x5D, addr=0x6000, pasid=9, priv=True)


# --------------------------------------------------------------------------- not present
@pytest.mark.parametrize("level", [4, 3, 2, 1])
def test_not_present_at_each_first_level(level):
    rig = Rig()
    rig.pasid_entry(2)
    va = 0x1234_5678_9000
    leaf = rig.map(va, 0x7000)
    table = rig.pml4
    for current in (4, 3, 2, 1):
        slot = table + 8 * (va >> (12 + 9 * (current - 1)) & 0x1FF)
        if current == level:
            w(rig.memory, slot, q(rig.memory, slot) & ~1)
            break
        table = q(rig.memory, slot) & ~0xFFF & ((1 << 52) - 1)
    assert leaf
    fault = rig.t(2, va + 0x18, write=True)
    assert fault.reason == R.SM_FL_ENTRY_NOT_PRESENT == 0x71
    expect_record(rig, 0x71, addr=va + 0x18, pasid=2, write=True)


def test_not_present_in_root_context_directory_and_pasid_entry():
    rig = Rig()
    assert rig.t(64, 0x1000).reason == R.SM_PASID_DIR_NOT_PRESENT == 0x51   # directory entry 1
    assert rig.t(4, 0x1000).reason == R.SM_PASID_ENTRY_NOT_PRESENT == 0x59
    assert rig.t(4, 0x1000, rid=0x0311).reason == R.SM_CONTEXT_ENTRY_NOT_PRESENT == 0x41
    assert rig.t(4, 0x1000, rid=0x0410).reason == R.SM_ROOT_ENTRY_NOT_PRESENT == 0x39
    expect_record(rig, 0x39, addr=0x1000, pasid=4, rid=0x0410, n=3)
    assert [f.in_fault_register for f in rig.unit.dma_fault_log] == [True] * 4
    assert rig.unit.read_reg(FSTS) >> 8 & 0xFF == 4 and rig.unit.read_reg(FSTS) & 2  # FRI, PPF


def test_pasid_beyond_directory_and_paside_clear():
    rig = Rig(pdts=0)                            # 2^7 directory entries: PASIDs below 2^13
    fault = rig.t(1 << 13, 0x2000)
    assert fault.reason == R.SM_PASID_BEYOND_DIRECTORY == 0x46
    expect_record(rig, 0x46, addr=0x2000, pasid=1 << 13)
    assert rig.t((1 << 13) - 1, 0x2000).reason == 0x51   # inside, directory entry absent
    assert Rig(paside=0).t(1, 0x2000).reason == R.SM_CONTEXT_PASIDE_CLEAR == 0x45


# --------------------------------------------------------------------------- RID_PASID
def test_request_without_pasid_uses_rid_pasid():
    rig = Rig(rid_pasid=17)
    rig.pasid_entry(17)
    rig.map(0x3000, 0xB000, flags=P | US)
    assert rig.t(None, 0x3010) == 0xB010
    fault = rig.t(None, 0x3010, write=True, priv=True)   # priv ignored: no PASID, RID_PRIV = 0
    assert fault.reason == 0x85 and fault.pasid is None and fault.priv is False
    expect_record(rig, 0x85, addr=0x3010, pasid=None, write=True)


def test_rid_priv_makes_untagged_requests_supervisor():
    rig = Rig(rid_pasid=17, rid_priv=1)
    rig.pasid_entry(17, sre=0)
    rig.map(0x3000, 0xB000)
    assert rig.t(None, 0x3000).reason == 0x5D


# --------------------------------------------------------------------------- invalid / reserved
def test_reserved_bits_in_first_level_entries():
    rig = Rig()
    rig.pasid_entry(2)
    leaf = rig.map(0x4000, 0x8000)
    w(rig.memory, leaf, q(rig.memory, leaf) | 1 << 45)    # above HAW (39 bits)
    assert rig.t(2, 0x4000).reason == R.SM_FL_ENTRY_RESERVED == 0x72
    rig2 = Rig()
    rig2.pasid_entry(2)
    rig2.map(0x4000, 0x8000)
    w(rig2.memory, rig2.pml4, q(rig2.memory, rig2.pml4) | PS)  # PS in a PML4E
    assert rig2.t(2, 0x4000).reason == 0x72
    rig3 = Rig()
    rig3.pasid_entry(2)
    rig3.map(0x20_0000, 0x40_0000 | 1 << 13, 1 << 21)         # 2 MiB leaf with bit 13 set
    assert rig3.t(2, 0x20_0000).reason == 0x72


def test_non_canonical_address():
    rig = Rig()
    rig.pasid_entry(2)
    assert rig.t(2, 0x0000_8000_0000_0000).reason == R.SM_FL_NON_CANONICAL == 0x80


@pytest.mark.parametrize("pgtt, name", [(0b010, "second-level"), (0b011, "nested"),
                                        (0b000, "reserved"), (0b111, "reserved")])
def test_unsupported_pgtt_is_an_invalid_pasid_entry(pgtt, name):
    rig = Rig()
    rig.pasid_entry(2, pgtt=pgtt)
    fault = rig.t(2, 0x1000)
    assert fault.reason == R.SM_PASID_ENTRY_INVALID == 0x5B
    assert "PGTT" in fault.detail and name in fault.detail


def test_five_level_paging_and_reserved_pasid_entry_bits():
    rig = Rig()
    rig.pasid_entry(2, flpm=1)
    assert rig.t(2, 0x1000).reason == 0x5B and "FLPM" in rig.unit.dma_fault_log[-1].detail
    rig.pasid_entry(2, extra=1 << 300)
    assert rig.t(2, 0x1000).reason == R.SM_PASID_ENTRY_RESERVED == 0x5A


def test_pass_through_pgtt():
    rig = Rig()
    rig.pasid_entry(2, pgtt=0b100)
    assert rig.t(2, 0x1234_5678) == 0x1234_5678


def test_table_read_errors():
    rig = Rig()
    rig.pasid_entry(2)
    rig.memory.add_error_range(PTAB, 0x1000)
    assert rig.t(2, 0x1000).reason == R.SM_PASID_ENTRY_ACCESS == 0x58
    rig.memory.clear_error_ranges()
    rig.pasid_entry(2, flptptr=1 << 40)
    assert rig.t(2, 0x1000).reason == R.SM_FL_PML4_ACCESS == 0x73


def test_fpd_suppresses_recording():
    rig = Rig()
    rig.pasid_entry(2, present=0, fpd=1)     # Linux's pasid_clear_entry_with_fpd
    fault = rig.t(2, 0x1000)
    assert fault.reason == 0x59 and not fault.in_fault_register
    assert rig.unit.dma_fault_log == [] and rig.unit.suppressed_dma_faults == [fault]
    assert rig.frcd()[1] == 0
    assert Rig(ctx_fpd=1).t(2, 0x1000).in_fault_register is False


def test_full_fault_registers_set_pfo():
    rig = Rig()
    for n in range(9):
        rig.t(4, 0x1000 * n)
    assert [f.in_fault_register for f in rig.unit.dma_fault_log] == [True] * 8 + [False]
    assert rig.unit.read_reg(FSTS) & 1      # PFO


def test_legacy_mode():
    rig = Rig()
    rig.unit.write_reg(RTADDR, ROOT)        # TTM = 00b
    rig.unit.write_reg(GCMD, SRTP | TE)
    assert rig.t(1, 0x1000).reason == R.SM_TTM0_REQUEST_WITH_PASID == 0x31
    with pytest.raises(NotImplementedError, match="TTM"):
        rig.t(None, 0x1000)


# --------------------------------------------------------------------------- kernel side
class Host:
    def __init__(self):
        self.memory = SparseMemory()
        self.allocator = HostAllocator(0x1000_0000, 0x0400_0000)
        self.cpus = Cpus((0, 1))
        self.unit = VtdDmarUnit(self.memory, self.cpus)
        self.irqs = VtdIrqDomain(self.unit, self.memory, self.allocator, (0, 1))
        self.sva = VtdSva(self.unit, self.memory, self.allocator, self.irqs)

    def process(self, name):
        return Process(name, self.memory, self.allocator, "x86")


def test_bind_two_processes_with_the_same_virtual_address():
    host = Host()
    a, b = host.process("a"), host.process("b")
    va = 0x7000_0000
    a.map(va, 0x0200_0000, 0x2000)
    b.map(va, 0x0300_0000, 0x1000, writable=False)
    b.map(0x1_4000_0000, 0x8000_0000, 1 << 30)        # a 1 GiB page
    ha, hb = host.sva.bind(0x0100, a), host.sva.bind(0x0100, b)
    assert (ha.pasid, hb.pasid) == (1, 2)
    u = host.unit
    assert u.translate(0x0100, ha.pasid, False, va + 0x1008, True) == 0x0200_1008
    assert u.translate(0x0100, hb.pasid, False, va + 8, False) == 0x0300_0008
    assert u.translate(0x0100, hb.pasid, False, 0x1_4123_4567, False) == 0x8123_4567
    assert u.translate(0x0100, hb.pasid, False, va + 8, True).reason == 0x85
    assert u.translate(0x0100, None, False, 0x5000, True) == 0x5000   # RID_PASID: pass-through
    # the MSI path keeps working next to DMA remapping
    (irq,) = host.irqs.alloc_irqs(0x0100, 1)
    assert u.handle_write(irq.msg.address, irq.msg.payload, 0x0100)
    assert host.cpus.count(irq.target, irq.vector) == 1


def test_unmap_and_unbind_invalidate():
    host = Host()
    a = host.process("a")
    a.map(0x10_0000, 0x0200_0000, 0x1000)
    handle = host.sva.bind(0x0100, a)
    u = host.unit
    a.unmap(0x10_0000, 0x1000)
    assert u.invalidations[-1] == ("pasid-iotlb", 3, 2, 1, 0x10_0000, 0)  # page-selective, DID 2, PASID 1, AM 0
    assert u.translate(0x0100, 1, False, 0x10_0000, False).reason == 0x71
    a.map(0x10_0000, 0x0200_0000, 0x1000)
    handle.unbind()
    assert u.invalidations[-2:] == [("pasid-cache", 1, 2, 1), ("pasid-iotlb", 2, 2, 1, None, 0)]
    assert u.translate(0x0100, 1, False, 0x10_0000, False).reason == 0x59
    assert a.pasid is None and a.invalidate_listeners == []
    assert host.sva.bind(0x0100, a).pasid == 1          # PASID freed and reused


def test_supervisor_bind_sets_sre_and_wpe():
    host = Host()
    a = host.process("k")
    a.map(0x10_0000, 0x0200_0000, 0x1000, writable=False, user=False)
    handle = host.sva.bind(0x0100, a, supervisor=True)
    assert host.unit.translate(0x0100, handle.pasid, True, 0x10_0000, False) == 0x0200_0000
    assert host.unit.translate(0x0100, handle.pasid, True, 0x10_0000, True).reason == 0x85


def test_bind_beyond_the_device_directory():
    host = Host()
    host.sva.attach_device(0x0200, pasid_bits=13)
    host.sva.pasids.first = 1 << 13
    with pytest.raises(ValueError, match="beyond"):
        host.sva.bind(0x0200, host.process("a"))


def test_encoders_check_their_fields():
    with pytest.raises(FieldError):
        sva.encode_x86_leaf(0x1000, sva.PAGE_2M, writable=True, user=True)   # misaligned
    with pytest.raises(FieldError):
        sva.encode_x86_leaf(0x1000, 0x3000, writable=True, user=True)
    with pytest.raises(FieldError):
        sva.encode_x86_leaf(0x1000, sva.PAGE_4K, writable=2, user=True)
    with pytest.raises(FieldError):
        sva.encode_pasid_entry(pgtt=1, did=1 << 16)
    with pytest.raises(FieldError):
        sva.encode_pasid_entry(pgtt=2, did=1)
    with pytest.raises(FieldError):
        sva.encode_pasid_entry(pgtt=1, did=1, flptptr=0x1234)
    with pytest.raises(FieldError):
        sva.encode_sm_context_entry(0x1000, 8)
    with pytest.raises(FieldError):
        sva.encode_sm_context_entry(0x1000, 0, rid_pasid=1 << 20)
    with pytest.raises(FieldError):
        sva.qi_piotlb(1, 1, 0x1000, pages=2)                          # not 8 KiB aligned
    with pytest.raises(FieldError):
        sva.qi_pasid_cache(1, 1 << 20)
    host = Host()
    with pytest.raises(FieldError):
        host.process("a").map(0x1000, 0x2000, 0x1800)
    with pytest.raises(FieldError):
        host.process("a").map(1 << 47, 0x2000, 0x1000)
