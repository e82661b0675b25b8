"""VT-d second-level (PGTT=010b) and nested (PGTT=011b) translation (tb/platform/vtd_nested.py through
VtdDmarUnit(second_level=True)) and the kernel's second-level tables and PASID entries
(fw/imsdev/platform/iommu_nested.py).

Tables are written here bit by bit from the documented positions: PASID entry SLPTPTR[63:12], AW[4:2],
PGTT[8:6], FLPTPTR[191:140]; second-level entry R b0, W b1, PS b7, address [51:12]; first-level entry
P b0, R/W b1, U/S b2, A b5, D b6, PS b7. FRCD: FI[63:12]; SID[79:64], PP b95, FR[103:96], PV[123:104],
T1 b126, F b127.
"""

import pytest

from imsdev.fields import FieldError
from imsdev.platform import HostAllocator, VtdIrqDomain
from imsdev.platform import iommu_nested as nested
from tb.platform.cpu import Cpus
from tb.platform.memory import SparseMemory
from tb.platform.vtd_dma import VtdDmaFaultReason as R
from tb.platform.vtd_dma import VtdDmarUnit

RTADDR, GCMD, CAP, ECAP, FRCD0 = 0x20, 0x18, 0x08, 0x10, 0x200
TE, SRTP = 1 << 31, 1 << 30
RID = 0x0310
ROOT, CTX, PDIR, PTAB = 0x10_0000, 0x10_1000, 0x10_3000, 0x10_4000
SR, SW, SPS = 1, 2, 1 << 7                       # second-level R, W, PS
P, RW, US, A, D = 1, 2, 4, 1 << 5, 1 << 6        # first-level
GUEST_RAM_HPA = 0x4000_0000                      # GPA g lives at HPA GUEST_RAM_HPA + g (if mapped)


def q(memory, addr):
    return int.from_bytes(memory.read(addr, 8), "little")


def w(memory, addr, value, size=8):
    memory.write(addr, value.to_bytes(size, "little"))


class Rig:
    def __init__(self, *, second_level=True, aw=0b010):
        self.memory = SparseMemory()
        self.unit = VtdDmarUnit(self.memory, Cpus((0,)), second_level=second_level)
        self.next_table = 0x20_0000
        self.aw = aw
        m = self.memory
        w(m, ROOT + 16 * 3, CTX | 1)
        w(m, CTX + 32 * (RID & 0x7F), 1 | 1 << 3 | PDIR, 16)     # P, PASIDE, RID_PASID 0
        w(m, PDIR, PTAB | 1)
        self.slptptr = self.table()
        self.unit.write_reg(RTADDR, ROOT | 1 << 10)
        self.unit.write_reg(GCMD, SRTP)
        self.unit.write_reg(GCMD, TE)

    def table(self):
        addr, self.next_table = self.next_table, self.next_table + 0x1000
        return addr

    def pasid_entry(self, pasid, *, pgtt=2, slptptr=None, flptptr=0, aw=None, did=9):
        q0 = 1 | (self.aw if aw is None else aw) << 2 | pgtt << 6 \
            | (self.slptptr if slptptr is None else slptptr)
        q2 = flptptr
        self.memory.write(PTAB + 64 * pasid, (q0 | did << 64 | q2 << 128).to_bytes(64, "little"))

    def sl_map(self, gpa, hpa, size=0x1000, flags=SR | SW, table_flags=SR | SW, levels=4):
        table = self.slptptr
        leaf_level = {0x1000: 1, 1 << 21: 2, 1 << 30: 3}[size]
        for level in range(levels, 0, -1):
            slot = table + 8 * (gpa >> (12 + 9 * (level - 1)) & 0x1FF)
            if level == leaf_level:
                w(self.memory, slot, hpa | flags | (SPS if level > 1 else 0))
                return slot
            entry = q(self.memory, slot)
            if not entry & 3:
                entry = self.table() | table_flags
                w(self.memory, slot, entry)
            table = entry & ~0xFFF & ((1 << 52) - 1)

    def guest_ram(self, gpa, size=0x1000, flags=SR | SW):
        """Map guest RAM page(s) identity-offset at GUEST_RAM_HPA."""
        for offset in range(0, size, 0x1000):
            self.sl_map(gpa + offset, GUEST_RAM_HPA + gpa + offset, flags=flags)

    def t(self, pasid, addr, *, write=False):
        return self.unit.translate(RID, pasid, False, addr, write)

    def frcd(self):
        return self.unit.read_reg(FRCD0), self.unit.read_reg(FRCD0 + 8)


def fl_map(rig, root_gpa, va, gpa, *, flags=P | RW | US, next_gpa):
    """First-level tables in guest memory (written at their HPAs): returns the leaf's HPA."""
    table = root_gpa
    for level in (4, 3, 2, 1):
        slot_gpa = table + 8 * (va >> (12 + 9 * (level - 1)) & 0x1FF)
        slot = GUEST_RAM_HPA + slot_gpa
        if level == 1:
            w(rig.memory, slot, gpa | flags)
            return slot
        entry = q(rig.memory, slot)
        if not entry & 1:
            entry = next_gpa.pop(0) | P | RW | US
            w(rig.memory, slot, entry)
        table = entry & ~0xFFF & ((1 << 52) - 1)


# --------------------------------------------------------------------------- capabilities
def test_second_level_capabilities_only_when_enabled():
    rig = Rig()
    assert rig.unit.read_reg(ECAP) >> 46 & 1 and rig.unit.read_reg(ECAP) >> 26 & 1   # SLTS, NEST
    assert rig.unit.read_reg(CAP) >> 8 & 0x1F == 0b00110                             # SAGAW 39, 48
    assert rig.unit.read_reg(CAP) >> 34 & 0xF == 0b0011                              # SLLPS 2M, 1G
    off = Rig(second_level=False)
    assert not off.unit.read_reg(ECAP) >> 46 & 1 and not off.unit.read_reg(ECAP) >> 26 & 1
    off.pasid_entry(1, pgtt=2)
    assert off.t(1, 0x1000).reason == R.SM_PASID_ENTRY_INVALID == 0x5B


# --------------------------------------------------------------------------- second level only
@pytest.mark.parametrize("size", [0x1000, 1 << 21, 1 << 30])
def test_second_level_translates_every_page_size(size):
    rig = Rig()
    rig.pasid_entry(1)
    gpa, hpa = 3 << 30, 0x4000_0000                 # both aligned to every page size
    rig.sl_map(gpa, hpa, size)
    assert rig.t(1, gpa + size - 4) == hpa + size - 4
    assert rig.t(1, gpa + 8, write=True) == hpa + 8
    assert rig.unit.dma_fault_log == []


def test_three_level_table_with_aw_39():
    rig = Rig(aw=0b001)
    rig.pasid_entry(1)
    rig.sl_map(0x7F_FFFF_F000, 0x5000, levels=3)
    assert rig.t(1, 0x7F_FFFF_F123) == 0x5123
    fault = rig.t(1, 1 << 39)
    assert fault.reason == R.SM_ADDRESS_BEYOND_HAW == 0x83


def test_request_without_pasid_uses_a_second_level_rid_pasid_entry():
    rig = Rig()
    rig.pasid_entry(0)
    rig.sl_map(0x8000, 0x3000)
    assert rig.unit.translate(RID, None, False, 0x8010, True) == 0x3010


@pytest.mark.parametrize("flags,write,reason", [(SR, True, 0x85), (SW, False, 0x86)],
                         ids=["read-only-write", "write-only-read"])
def test_second_level_permissions(flags, write, reason):
    rig = Rig()
    rig.pasid_entry(1)
    rig.sl_map(0x8000, 0x3000, flags=flags)
    fault = rig.t(1, 0x8008, write=write)
    assert fault.reason == reason
    low, high = rig.frcd()
    assert low == 0x8000
    assert high == (1 << 63 | int(not write) << 62 | 1 << 40 | reason << 32 | 1 << 31 | RID)


def test_permission_is_the_and_of_every_level():
    rig = Rig()
    rig.pasid_entry(1)
    rig.sl_map(0x8000, 0x3000, table_flags=SR)
    assert rig.t(1, 0x8000) == 0x3000
    assert rig.t(1, 0x8000, write=True).reason == 0x85


@pytest.mark.parametrize("level", [4, 3, 2, 1])
def test_r_w_clear_at_each_level_is_fault_0x79(level):
    rig = Rig()
    rig.pasid_entry(1)
    leaf = rig.sl_map(0x8000, 0x3000)
    # Walk down to the entry of `level` and clear its R and W.
    table = rig.slptptr
    for lv in (4, 3, 2, 1):
        slot = table + 8 * (0x8000 >> (12 + 9 * (lv - 1)) & 0x1FF)
        if lv == level:
            w(rig.memory, slot, q(rig.memory, slot) & ~3)
            break
        table = q(rig.memory, slot) & ~0xFFF
    assert leaf
    assert rig.t(1, 0x8000).reason == R.SM_SL_ENTRY_RW_ERROR == 0x79


def test_reserved_bits_access_error_and_bad_pointers():
    rig = Rig()
    rig.pasid_entry(1)
    leaf = rig.sl_map(0x8000, 0x3000)
    w(rig.memory, leaf, q(rig.memory, leaf) | 1 << 45)            # address bit above HAW (39)
    assert rig.t(1, 0x8000).reason == R.SM_SL_ENTRY_RESERVED == 0x7A
    rig.sl_map(0x20_0000, 0x20_1000 | SR, 1 << 21)                # 2 MiB leaf, address bit 12 set
    assert rig.t(1, 0x20_0000).reason == 0x7A
    rig.memory.add_error_range(rig.slptptr, 8)
    assert rig.t(1, 0x8000).reason == R.SM_SL_ENTRY_ACCESS == 0x78
    rig.pasid_entry(2, slptptr=1 << 39)
    assert rig.t(2, 0x8000).reason == R.SM_SL_INVALID_POINTER == 0x7B
    rig.pasid_entry(3, aw=0b011)
    fault = rig.t(3, 0x8000)
    assert fault.reason == 0x5B and "AW" in fault.detail


# --------------------------------------------------------------------------- nested
class Nested:
    """A guest with first-level tables in its RAM: PML4 at GPA 0x1000, further tables 0x2000-0x4000,
    a data page at GPA 0x9000, the GVA 0x7F00_0000_1000."""

    GVA, DATA_GPA, ROOT_GPA = 0x7F00_0000_1000, 0x9000, 0x1000

    def __init__(self, *, data_flags=SR | SW, table_flags=SR | SW):
        self.rig = Rig()
        for gpa in (0x1000, 0x2000, 0x3000, 0x4000):
            self.rig.guest_ram(gpa, flags=table_flags)
        self.rig.guest_ram(self.DATA_GPA, flags=data_flags)
        self.leaf = fl_map(self.rig, self.ROOT_GPA, self.GVA, self.DATA_GPA,
                           next_gpa=[0x2000, 0x3000, 0x4000])
        self.rig.pasid_entry(5, pgtt=3, flptptr=self.ROOT_GPA)

    def t(self, addr=None, write=False):
        return self.rig.t(5, self.GVA + 0x10 if addr is None else addr, write=write)


def test_nested_translates_gva_to_gpa_to_hpa_and_sets_first_level_a_d_in_guest_ram():
    n = Nested()
    assert n.t() == GUEST_RAM_HPA + n.DATA_GPA + 0x10
    assert q(n.rig.memory, n.leaf) & (A | D) == A
    assert n.t(write=True) == GUEST_RAM_HPA + n.DATA_GPA + 0x10
    assert q(n.rig.memory, n.leaf) & (A | D) == A | D
    assert n.rig.unit.dma_fault_log == []


def test_nested_final_gpa_not_mapped_or_read_only_in_second_level():
    n = Nested(data_flags=SR)
    assert n.t(write=True).reason == R.SM_NO_WRITE_PERMISSION
    low, high = n.rig.frcd()
    assert low == n.GVA and high >> 32 & 0xFF == 0x85 and high >> 40 & 0xFFFFF == 5
    n2 = Nested()
    fl_map(n2.rig, n2.ROOT_GPA, n2.GVA + 0x1000, 0xA000, next_gpa=[])   # GPA 0xA000 not in RAM
    assert n2.t(n2.GVA + 0x1000).reason == 0x79


def test_nested_first_level_table_not_readable_in_second_level():
    n = Nested()
    n.rig.sl_map(0x1000, GUEST_RAM_HPA + 0x1000, flags=SW)         # PML4 page write-only
    assert n.t().reason == R.SM_NESTED_FL_PML4_READ == 0x75
    n = Nested()
    n.rig.sl_map(0x3000, GUEST_RAM_HPA + 0x3000, flags=SW)         # the PD page
    assert n.t().reason == R.SM_NESTED_FL_READ == 0x76
    n = Nested()
    n.rig.sl_map(0x3000, GUEST_RAM_HPA + 0x3000, flags=0)          # not mapped at all
    assert n.t().reason == 0x79


def test_nested_a_d_update_needs_write_in_second_level():
    n = Nested(table_flags=SR)
    fault = n.t()                                # A must be set in the (read-only) FL entries
    assert fault.reason == R.SM_NESTED_FL_WRITE == 0x77
    assert q(n.rig.memory, n.leaf) & D == 0


def test_nested_first_level_address_beyond_the_second_level_input_width():
    n = Nested()
    w(n.rig.memory, n.leaf, (1 << 48) | P | RW | US)               # GPA bit 48: beyond AW 48
    assert n.t().reason == R.SM_NESTED_FL_ADDRESS_BEYOND == 0x74
    n = Nested()
    w(n.rig.memory, n.leaf, (1 << 40) | P | RW | US)               # above HAW, inside AW: a GPA
    n.rig.sl_map(1 << 40, 0x6000)
    assert n.t() == 0x6010


def test_nested_user_privilege_is_still_checked_in_first_level():
    n = Nested()
    w(n.rig.memory, n.leaf, n.DATA_GPA | P | RW)                   # U/S = 0
    assert n.t().reason == R.SM_FL_USER_PRIVILEGE


# --------------------------------------------------------------------------- kernel side
def test_kernel_second_level_tables_and_attach_against_the_model():
    memory = SparseMemory()
    cpus = Cpus((0,))
    unit = VtdDmarUnit(memory, cpus, second_level=True)
    allocator = HostAllocator(0x1000_0000, 0x100_0000)
    domain = VtdIrqDomain(unit, memory, allocator, (0,))
    sva = nested.VtdNestedSva(unit, memory, allocator, domain)
    tables = nested.VtdSecondLevelTables(memory, allocator)
    tables.map(0x0, 0x2000_0000, 1 << 21)                          # 2 MiB of guest RAM
    tables.map(0x20_0000, 0x2100_0000, 0x1000, writable=False)
    sva.attach_second_level(RID, tables, did=7)
    assert unit.translate(RID, None, False, 0x1234, True) == 0x2000_1234
    assert unit.translate(RID, None, False, 0x20_0010, False) == 0x2100_0010
    assert unit.translate(RID, None, False, 0x20_0010, True).reason == 0x85
    assert unit.translate(RID, None, False, 0x40_0000, False).reason == 0x79
    assert ("pasid-cache", 1, 7, 0) in unit.invalidations


def test_kernel_attaches_a_guest_ram_second_level_at_one_pasid_and_detaches_it():
    """iommufd's PASID attach of an S2 HWPT (tb/vmm/assign.py): PGTT=010b in that PASID's entry only."""
    memory = SparseMemory()
    unit = VtdDmarUnit(memory, Cpus((0,)), second_level=True)
    allocator = HostAllocator(0x1000_0000, 0x100_0000)
    sva = nested.VtdNestedSva(unit, memory, allocator, VtdIrqDomain(unit, memory, allocator, (0,)))
    tables = nested.VtdSecondLevelTables(memory, allocator)
    tables.map(0x0, 0x2000_0000, 1 << 21)
    sva.attach_pasid_second_level(RID, 0x1234, tables, did=7)
    assert unit.translate(RID, 0x1234, False, 0x1234, True) == 0x2000_1234
    assert unit.translate(RID, 0x1235, False, 0x1234, True).reason == R.SM_PASID_ENTRY_NOT_PRESENT
    assert ("pasid-cache", 1, 7, 0x1234) in unit.invalidations
    assert unit.invalidations[-1] == ("iotlb", 2, 7), "second level: a domain-selective IOTLB flush"
    sva.detach_pasid(RID, 0x1234, did=7)
    assert unit.invalidations[-2:] == [("pasid-cache", 1, 7, 0x1234), ("iotlb", 2, 7)]
    assert unit.translate(RID, 0x1234, False, 0x1234, True).reason == R.SM_PASID_ENTRY_NOT_PRESENT
    with pytest.raises(FieldError, match="PASID"):
        sva.attach_pasid_second_level(RID, 1 << 20, tables, did=7)


def test_kernel_encoders_match_the_pasid_entry_layout_and_check_fields():
    words = nested.encode_pasid_entry_nested(0x5000, 0x7000, 9)
    assert words[0] == 1 | 2 << 2 | 3 << 6 | 0x7000
    assert words[1] == 9 | 1 << 23
    assert words[2] == 0x5000
    assert nested.encode_sl_leaf(0x20_0000, 1 << 21) == 0x20_0000 | SR | SW | SPS
    with pytest.raises(FieldError, match="SLPTPTR"):
        nested.encode_pasid_entry_second_level(0x7001, 1)
    with pytest.raises(FieldError, match="AW"):
        nested.encode_pasid_entry_second_level(0x7000, 1, aw=3)
    with pytest.raises(FieldError, match="R=W=0"):
        nested.encode_sl_leaf(0x1000, 0x1000, readable=False, writable=False)
