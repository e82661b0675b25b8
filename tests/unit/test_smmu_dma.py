"""SMMUv3 stage-1 translation (tb/platform/smmu_dma.py) and the kernel-side SmmuSva.

STEs, CDs, descriptors and the expected 32-byte event records are assembled here from the documented
bit positions (docs/iommu.md), independently of both models' encoders.
"""

import pytest

from imsdev.fields import FieldError
from imsdev.platform import HostAllocator, Process, SmmuSva
from imsdev.platform import iommu_sva as sva
from tb.platform.memory import SparseMemory
from tb.platform.smmu import SmmuMsiWindow
from tb.platform.smmu_dma import SmmuEventId as E
from tb.platform.smmu_dma import SmmuV3

CR0, STRTAB_BASE, STRTAB_CFG = 0x20, 0x80, 0x88
CMDQ_BASE, CMDQ_PROD, CMDQ_CONS = 0x90, 0x98, 0x9C
EVTQ_BASE, EVTQ_PROD, EVTQ_CONS = 0xA0, 0x100A8, 0x100AC
STRTAB, CDTAB, EVTQ, CMDQ = 0x10_0000, 0x20_0000, 0x30_0000, 0x31_0000
SID = 0x21
TABLE, BLOCK, PAGE = 0b11, 0b01, 0b11
AF, AP_EL0, AP_RO = 1 << 10, 1 << 6, 1 << 7


def q(memory, addr):
    return int.from_bytes(memory.read(addr, 8), "little")


def w(memory, addr, value, size=8):
    memory.write(addr, value.to_bytes(size, "little"))


def expected_event(event_id, sid, ssid, *, addr=0, write=False, priv=False, klass=0b10,
                   access=True, fetch=None):
    """EventID[7:0], SSV b11, SSID[31:12], SID[63:32]; PnU b97, RnW b99, CLASS[105:104];
    InputAddr[191:128]; FetchAddr[243:195]."""
    dw0 = event_id | (ssid is not None) << 11 | (ssid or 0) << 12 | sid << 32
    dw1 = (int(priv) << 33 | int(not write) << 35 | klass << 40) if access else 0
    dw2 = addr if access else 0
    dw3 = fetch & ~7 if fetch is not None else 0
    return b"".join(v.to_bytes(8, "little") for v in (dw0, dw1, dw2, dw3))


class Rig:
    def __init__(self, *, s1cdmax=4, s1dss=0b10, config=0b101, t0sz=16, log2_sids=8,
                 cd_record=1, evtq_log2=3):
        self.memory = SparseMemory()
        self.smmu = SmmuV3(self.memory)
        self.next_table = 0x40_0000
        self.t0sz = t0sz
        self.ste(SID, s1cdmax=s1cdmax, s1dss=s1dss, config=config)
        self.cd_record = cd_record
        self.roots = {}
        s = self.smmu
        s.write_reg(STRTAB_BASE, STRTAB)
        s.write_reg(STRTAB_CFG, log2_sids)                  # FMT linear
        s.write_reg(EVTQ_BASE, EVTQ | evtq_log2)
        s.write_reg(CMDQ_BASE, CMDQ | 4)
        s.write_reg(CR0, 0b1101)                            # SMMUEN, EVTQEN, CMDQEN

    def ste(self, sid, *, s1cdmax=4, s1dss=0b10, config=0b101, valid=1, cd_table=CDTAB):
        w0 = valid | config << 1 | cd_table | s1cdmax << 59
        self.memory.write(STRTAB + 64 * sid, (w0 | s1dss << 64).to_bytes(64, "little"))

    def table(self):
        addr, self.next_table = self.next_table, self.next_table + 0x1000
        return addr

    def cd(self, ssid, *, asid=None, valid=1, epd0=0, epd1=1, tg0=0, aa64=1, record=None,
           t0sz=None):
        root = self.roots.setdefault(ssid, self.table())
        w0 = ((self.t0sz if t0sz is None else t0sz) | tg0 << 6 | epd0 << 14 | epd1 << 30
              | valid << 31 | 5 << 32 | aa64 << 41
              | (self.cd_record if record is None else record) << 45 | 1 << 46
              | (asid if asid is not None else ssid + 1) << 48)
        self.memory.write(CDTAB + 64 * ssid, (w0 | root << 64).to_bytes(64, "little"))
        return root

    def map(self, ssid, va, pa, size=0x1000, attrs=AF | AP_EL0, table_bits=0):
        """Descriptors written bit by bit; returns the leaf's address."""
        table = self.roots[ssid]
        ias = 64 - self.t0sz
        level = 4 - -(-(ias - 12) // 9)
        leaf_level = {0x1000: 3, 1 << 21: 2, 1 << 30: 1}[size]
        while True:
            shift = 12 + 9 * (3 - level)
            slot = table + 8 * (va >> shift & 0x1FF)
            if level == leaf_level:
                w(self.memory, slot, pa | attrs | (PAGE if level == 3 else BLOCK))
                return slot
            entry = q(self.memory, slot)
            if not entry & 1:
                entry = self.table() | TABLE | table_bits
                w(self.memory, slot, entry)
            table = entry & ((1 << 48) - 1) & ~0xFFF
            level += 1

    def t(self, ssid, addr, *, write=False, priv=False, sid=SID):
        return self.smmu.translate(sid, ssid, priv, addr, write)

    def queued(self, n):
        return self.memory.read(EVTQ + 32 * n, 32)


# --------------------------------------------------------------------------- translation
@pytest.mark.parametrize("size", [0x1000, 1 << 21, 1 << 30])
@pytest.mark.parametrize("t0sz", [16, 25])
def test_every_page_size(size, t0sz):
    rig = Rig(t0sz=t0sz)
    rig.cd(1)
    va, pa = 0x40_0000_0000 & ((1 << (64 - t0sz)) - 1) | 0x4000_0000, 0x8000_0000
    rig.map(1, va, pa, size)
    assert rig.t(1, va + size - 4) == pa + size - 4
    assert rig.t(1, va, write=True) == pa
    assert rig.smmu.events == []


def test_ste_bypass_abort_and_no_ssid():
    rig = Rig(config=0b100)
    assert rig.t(None, 0x1234) == 0x1234 and rig.t(3, 0x1234) == 0x1234
    rig = Rig(config=0b000)
    result = rig.t(1, 0x1234)
    assert result.event_id is None and rig.smmu.events == [] and rig.smmu.suppressed_events
    rig = Rig(s1dss=0b01)
    assert rig.t(None, 0x5000) == 0x5000          # S1DSS bypass
    rig = Rig(s1dss=0b10)
    rig.cd(0)
    rig.map(0, 0x5000, 0x9000)
    assert rig.t(None, 0x5000) == 0x9000          # S1DSS: CD 0
    assert rig.t(0, 0x5000).event_id == E.C_BAD_SUBSTREAMID
    rig = Rig(s1dss=0b00)
    assert rig.t(None, 0x5000).event_id == E.F_STREAM_DISABLED == 0x06
    assert rig.queued(0) == expected_event(0x06, SID, None, access=False)


# --------------------------------------------------------------------------- permissions
def test_write_to_read_only_page():
    rig = Rig()
    rig.cd(2)
    rig.map(2, 0x7000, 0x9000, attrs=AF | AP_EL0 | AP_RO)
    assert rig.t(2, 0x7010) == 0x9010
    event = rig.t(2, 0x7010, write=True)
    assert event.event_id == E.F_PERMISSION == 0x13 and event.queued
    assert rig.queued(0) == expected_event(0x13, SID, 2, addr=0x7010, write=True)


def test_unprivileged_access_to_privileged_page():
    rig = Rig()
    rig.cd(2)
    rig.map(2, 0x7000, 0x9000, attrs=AF)          # AP[1] = 0: EL1 only
    assert rig.t(2, 0x7000, priv=True) == 0x9000
    assert rig.t(2, 0x7008).event_id == E.F_PERMISSION
    assert rig.queued(0) == expected_event(0x13, SID, 2, addr=0x7008)
    assert rig.t(2, 0x7008, priv=True, write=True) == 0x9008


def test_aptable_restricts_later_levels():
    rig = Rig()
    rig.cd(2)
    rig.map(2, 0x7000, 0x9000, table_bits=1 << 62)   # APTable[1]: no writes below
    assert rig.t(2, 0x7000) == 0x9000
    assert rig.t(2, 0x7000, write=True, priv=True).event_id == E.F_PERMISSION


def test_access_flag_fault():
    rig = Rig()
    rig.cd(2)
    rig.map(2, 0x7000, 0x9000, attrs=AP_EL0 | AP_RO)   # AF = 0; wins over the permission fault
    assert rig.t(2, 0x7000, write=True).event_id == E.F_ACCESS == 0x12
    assert rig.queued(0) == expected_event(0x12, SID, 2, addr=0x7000, write=True)


# --------------------------------------------------------------------------- translation faults
@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_translation_fault_at_each_level(level):
    rig = Rig()
    rig.cd(3)
    va = 0x1234_5678_9000
    rig.map(3, va, 0x9000)
    table = rig.roots[3]
    for current in range(4):
        slot = table + 8 * (va >> (12 + 9 * (3 - current)) & 0x1FF)
        if current == level:
            w(rig.memory, slot, q(rig.memory, slot) & ~1)
            break
        table = q(rig.memory, slot) & ((1 << 48) - 1) & ~0xFFF
    event = rig.t(3, va + 0x20, priv=True)
    assert event.event_id == E.F_TRANSLATION == 0x10
    assert rig.queued(0) == expected_event(0x10, SID, 3, addr=va + 0x20, priv=True)


def test_block_descriptor_at_level_3_and_out_of_range_addresses():
    rig = Rig()
    rig.cd(3)
    leaf = rig.map(3, 0x7000, 0x9000)
    w(rig.memory, leaf, q(rig.memory, leaf) & ~2)    # 01 at level 3 is reserved
    assert rig.t(3, 0x7000).event_id == E.F_TRANSLATION
    assert rig.t(3, 1 << 48).event_id == E.F_TRANSLATION          # beyond T0SZ = 16
    assert rig.t(3, 0xFFFF_8000_0000_0000).event_id == E.F_TRANSLATION  # TTB1 range, EPD1 = 1


def test_unrecorded_faults_without_cd_r():
    rig = Rig(cd_record=0)
    rig.cd(3)
    event = rig.t(3, 0x7000)
    assert event.event_id == E.F_TRANSLATION and not event.queued
    assert rig.smmu.events == [] and rig.smmu.read_reg(EVTQ_PROD) == 0


def test_walk_external_abort_and_address_size():
    rig = Rig()
    root = rig.cd(3)
    rig.map(3, 0x7000, 0x9000)
    rig.memory.add_error_range(root, 8)
    event = rig.t(3, 0x7000)
    assert event.event_id == E.F_WALK_EABT == 0x0B and event.fetch_address == root
    assert rig.queued(0) == expected_event(0x0B, SID, 3, addr=0x7000, klass=0b01, fetch=root)
    rig.memory.clear_error_ranges()
    leaf = rig.map(3, 0x8000, 0x9000)
    w(rig.memory, leaf, q(rig.memory, leaf) | 1 << 49)
    assert rig.t(3, 0x8000).event_id == E.F_ADDR_SIZE == 0x11


# --------------------------------------------------------------------------- configuration errors
def test_bad_streamid_ste_substreamid_and_cd():
    rig = Rig(log2_sids=6)
    assert rig.t(1, 0x1000, sid=64).event_id == E.C_BAD_STREAMID == 0x02
    assert rig.queued(0) == expected_event(0x02, 64, 1, access=False)
    assert rig.t(1, 0x1000, sid=SID + 1).event_id == E.C_BAD_STE == 0x04
    assert rig.queued(1) == expected_event(0x04, SID + 1, 1, access=False)
    assert rig.t(16, 0x1000).event_id == E.C_BAD_SUBSTREAMID == 0x08   # S1CDMax = 4
    assert rig.queued(2) == expected_event(0x08, SID, 16, access=False)
    assert rig.t(5, 0x1000).event_id == E.C_BAD_CD == 0x0A             # CD 5 has V = 0
    assert rig.queued(3) == expected_event(0x0A, SID, 5, access=False)
    assert [e.queued for e in rig.smmu.events] == [True] * 4
    assert rig.smmu.read_reg(EVTQ_PROD) == 4


def test_substreams_disabled_and_stage_2_config():
    rig = Rig(s1cdmax=0)
    rig.cd(0)
    assert rig.t(1, 0x1000).event_id == E.C_BAD_SUBSTREAMID
    rig = Rig(config=0b110)
    event = rig.t(1, 0x1000)
    assert event.event_id == E.C_BAD_STE and "stage 2" in event.detail


@pytest.mark.parametrize("field, value, text", [("tg0", 0b01, "TG0"), ("aa64", 0, "AA64"),
                                                ("t0sz", 12, "T0SZ")])
def test_unsupported_cd_fields(field, value, text):
    rig = Rig()
    rig.cd(1, **{field: value})
    event = rig.t(1, 0x1000)
    assert event.event_id == E.C_BAD_CD and text in event.detail


def test_fetch_aborts():
    rig = Rig()
    rig.memory.add_error_range(CDTAB + 64, 64)
    event = rig.t(1, 0x1000)
    assert event.event_id == E.F_CD_FETCH == 0x09 and event.fetch_address == CDTAB + 64
    rig.memory.add_error_range(STRTAB + 64 * SID, 64)
    assert rig.t(1, 0x1000).event_id == E.F_STE_FETCH == 0x03


def test_ttb1_walks_are_not_modelled():
    rig = Rig()
    rig.cd(1, epd1=0)
    w(rig.memory, CDTAB + 64, q(rig.memory, CDTAB + 64) | 16 << 16)   # T1SZ = 16
    with pytest.raises(NotImplementedError, match="EPD1"):
        rig.t(1, 0xFFFF_8000_0000_0000)


# --------------------------------------------------------------------------- queues
def test_event_queue_wraps_and_overflows():
    rig = Rig(evtq_log2=1)                      # two entries
    for n in range(3):
        rig.t(9, 0x1000 * n)                    # C_BAD_CD each
    assert [e.queued for e in rig.smmu.events] == [True, True, False]
    prod = rig.smmu.read_reg(EVTQ_PROD)
    assert prod & 0b11 == 0b10 and prod >> 31 == 1       # index 0, wrap 1; OVFLG != OVACKFLG
    rig.smmu.write_reg(EVTQ_CONS, 0b10 | 1 << 31)        # consumed both, overflow acknowledged
    rig.t(9, 0x5000)
    assert rig.smmu.read_reg(EVTQ_PROD) == 0b11 | 1 << 31
    assert rig.queued(0) == expected_event(0x0A, SID, 9, access=False)


def test_illegal_command_stops_the_queue():
    rig = Rig()
    w(rig.memory, CMDQ, 0x7F, 16)
    rig.smmu.write_reg(CMDQ_PROD, 1)
    assert rig.smmu.read_reg(CMDQ_CONS) >> 24 & 0x7F == 1
    assert rig.smmu.read_reg(0x60) & 1 != rig.smmu.read_reg(0x64) & 1     # GERROR.CMDQ_ERR


# --------------------------------------------------------------------------- kernel side
class Host:
    def __init__(self):
        self.memory = SparseMemory()
        self.allocator = HostAllocator(0x1000_0000, 0x0800_0000)
        self.smmu = SmmuV3(self.memory)
        self.sva = SmmuSva(self.smmu, self.memory, self.allocator)

    def process(self, name):
        return Process(name, self.memory, self.allocator, "arm")


def test_bind_two_processes_with_the_same_virtual_address():
    host = Host()
    a, b = host.process("a"), host.process("b")
    va = 0x7000_0000
    a.map(va, 0x0200_0000, 0x20_0000)                   # one 2 MiB block
    b.map(va, 0x0300_0000, 0x1000, writable=False)
    b.map(0x1_4000_0000, 0x8000_0000, 1 << 30)          # one 1 GiB block
    ha, hb = host.sva.bind(0x0100, a), host.sva.bind(0x0100, b)
    s = host.smmu
    assert s.translate(0x0100, ha.pasid, False, va + 0x1_2348, True) == 0x0201_2348
    assert s.translate(0x0100, hb.pasid, False, va + 8, False) == 0x0300_0008
    assert s.translate(0x0100, hb.pasid, False, 0x1_4123_4567, False) == 0x8123_4567
    event = s.translate(0x0100, hb.pasid, False, va + 8, True)
    assert event.event_id == E.F_PERMISSION
    assert host.sva.read_events() == [expected_event(0x13, 0x0100, hb.pasid, addr=va + 8,
                                                     write=True)]
    assert s.translate(0x0100, None, False, 0x5000, True) == 0x5000    # S1DSS bypass
    assert s.translate(0x0200, 1, False, 0x5000, True).event_id is None  # unattached: abort STE


def test_unmap_and_unbind_invalidate():
    host = Host()
    a = host.process("a")
    a.map(0x10_0000, 0x0200_0000, 0x1000)
    handle = host.sva.bind(0x0100, a)
    s = host.smmu
    a.unmap(0x10_0000, 0x1000)
    assert s.invalidations[-2:] == [("tlbi-nh-va", 1, 0x10_0000, 1), ("sync",)]
    assert s.translate(0x0100, 1, False, 0x10_0000, False).event_id == E.F_TRANSLATION
    handle.unbind()
    assert s.invalidations[-4:] == [("cfgi-cd", 0x0100, 1, 1), ("sync",), ("tlbi-nh-asid", 1),
                                    ("sync",)]
    assert s.translate(0x0100, 1, False, 0x10_0000, False).event_id == E.C_BAD_CD
    assert a.pasid is None


def test_pasid_beyond_linear_cd_table():
    host = Host()
    host.sva.pasids.first = 1 << 10
    with pytest.raises(ValueError, match="CD table"):
        host.sva.bind(0x0100, host.process("a"))


def test_msi_window_model_is_untouched():
    window = SmmuMsiWindow()
    window.map(0x0800_0000, 0x0808_0000)
    assert window.translate(0x0800_0040) == 0x0808_0040


def test_encoders_check_their_fields():
    with pytest.raises(FieldError):
        sva.encode_arm_leaf(0x1000, sva.PAGE_2M, writable=True, user=True)
    with pytest.raises(FieldError):
        sva.encode_arm_leaf(1 << 48, sva.PAGE_4K, writable=True, user=True)
    with pytest.raises(FieldError):
        sva.encode_cd(0x1000, 1 << 16)
    with pytest.raises(FieldError):
        sva.encode_cd(0x1008, 1)
    with pytest.raises(FieldError):
        sva.encode_ste_s1(0x1010, 4)
    with pytest.raises(FieldError):
        sva.encode_ste_s1(0x1000, 32)
    with pytest.raises(FieldError):
        sva.cmd_tlbi_nh_va(1, 0x1234)
    with pytest.raises(FieldError):
        sva.cmd_cfgi_cd(1, 1 << 20)


# =========================================================================== stage 2 (smmu_s2.py)
# STE word 2: S2VMID[15:0], VTCR[50:32] (S2T0SZ[5:0], S2SL0[7:6], S2TG[15:14], S2PS[18:16]), S2AA64 b51,
# S2ENDI b52, S2R b58; word 3: S2TTB[51:4]. Stage-2 descriptors: S2AP[7:6] (6 read, 7 write), AF b10.
# Event: S2 b103, CLASS[105:104], IPA in dw3[51:12].
S2_READ, S2_WRITE = 1 << 6, 1 << 7
S2_CDTAB_IPA = 0x8000_0000                       # the guest's CD table, an IPA


def expected_s2_event(event_id, sid, ssid, *, addr, ipa, write=False, klass=0b10):
    dw0 = event_id | (ssid is not None) << 11 | (ssid or 0) << 12 | sid << 32
    dw1 = int(not write) << 35 | 1 << 39 | klass << 40
    return b"".join(v.to_bytes(8, "little") for v in (dw0, dw1, addr, ipa & ~0xFFF & (2**52 - 1)))


class S2Rig:
    def __init__(self, *, config=0b110, t0sz=16, sl0=2, tg=0, aa64=1, s2r=1, ps=5, s1cdmax=2):
        self.memory = SparseMemory()
        self.smmu = SmmuV3(self.memory, stage2=True)
        self.next_table = 0x40_0000
        self.t0sz, self.sl0 = t0sz, sl0
        self.s2ttb = self.table()
        vtcr = t0sz | sl0 << 6 | tg << 14 | ps << 16
        w0 = 1 | config << 1 | (S2_CDTAB_IPA if config == 0b111 else 0) | s1cdmax << 59
        w2 = 0x55 | vtcr << 32 | aa64 << 51 | s2r << 58
        self.memory.write(STRTAB + 64 * SID, (w0 | w2 << 128 | self.s2ttb << 192).to_bytes(64, "little"))
        s = self.smmu
        s.write_reg(STRTAB_BASE, STRTAB)
        s.write_reg(STRTAB_CFG, 8)
        s.write_reg(EVTQ_BASE, EVTQ | 3)
        s.write_reg(CMDQ_BASE, CMDQ | 4)
        s.write_reg(CR0, 0b1101)

    def table(self):
        addr, self.next_table = self.next_table, self.next_table + 0x1000
        return addr

    def s2_map(self, ipa, pa, size=0x1000, attrs=AF | S2_READ | S2_WRITE):
        table, level = self.s2ttb, {2: 0, 1: 1, 0: 2}[self.sl0]
        leaf_level = {0x1000: 3, 1 << 21: 2, 1 << 30: 1}[size]
        while True:
            slot = table + 8 * (ipa >> (12 + 9 * (3 - level)) & 0x1FF)
            if level == leaf_level:
                w(self.memory, slot, pa | attrs | (PAGE if level == 3 else BLOCK))
                return slot
            entry = q(self.memory, slot)
            if not entry & 1:
                entry = self.table() | TABLE
                w(self.memory, slot, entry)
            table, level = entry & ((1 << 48) - 1) & ~0xFFF, level + 1

    def t(self, ssid, addr, *, write=False):
        return self.smmu.translate(SID, ssid, False, addr, write)

    def queued(self, n):
        return self.memory.read(EVTQ + 32 * n, 32)


def test_idr0_s2p_only_with_stage2():
    assert S2Rig().smmu.read_reg(0x00) & 1 == 1
    assert Rig().smmu.read_reg(0x00) & 1 == 0


@pytest.mark.parametrize("size", [0x1000, 1 << 21, 1 << 30])
def test_stage2_only_translates_ipa_for_every_page_size(size):
    rig = S2Rig()
    rig.s2_map(0x1_4000_0000, 0x8000_0000, size)
    assert rig.t(None, 0x1_4000_0000 + size - 4) == 0x8000_0000 + size - 4
    assert rig.t(None, 0x1_4000_0000, write=True) == 0x8000_0000
    assert rig.smmu.events == []


def test_stage2_start_level_1_for_a_39_bit_ipa():
    rig = S2Rig(t0sz=25, sl0=1)
    rig.s2_map(0x7F_FFFF_F000, 0x3000)
    assert rig.t(None, 0x7F_FFFF_F010) == 0x3010
    fault = rig.t(None, 1 << 39)
    assert fault.event_id == E.F_TRANSLATION and fault.record[12] >> 7 & 1   # S2 = b103


@pytest.mark.parametrize("attrs,write", [(AF | S2_READ, True), (AF | S2_WRITE, False)],
                         ids=["read-only", "write-only"])
def test_stage2_permission_fault_record(attrs, write):
    rig = S2Rig()
    rig.s2_map(0x5000, 0x9000, attrs=attrs)
    event = rig.t(None, 0x5008, write=write)
    assert event.event_id == E.F_PERMISSION == 0x13
    assert event.record == expected_s2_event(0x13, SID, None, addr=0x5008, ipa=0x5008, write=write)
    assert rig.smmu.events == [event] and event.queued and rig.queued(0) == event.record


def test_stage2_translation_access_and_address_size_faults():
    rig = S2Rig()
    assert rig.t(None, 0x5000).record == expected_s2_event(0x10, SID, None, addr=0x5000, ipa=0x5000)
    rig.s2_map(0x6000, 0x9000, attrs=S2_READ | S2_WRITE)                       # AF = 0
    assert rig.t(None, 0x6000).event_id == E.F_ACCESS
    rig.s2_map(0x7000, 1 << 48 | 0x9000)                                       # OA bit 48
    assert rig.t(None, 0x7000).event_id == E.F_ADDR_SIZE


def test_stage2_faults_are_recorded_only_with_s2r():
    rig = S2Rig(s2r=0)
    event = rig.t(None, 0x5000)
    assert event.event_id == E.F_TRANSLATION
    assert rig.smmu.events == [] and rig.smmu.suppressed_events == [event]


@pytest.mark.parametrize("fields,what", [(dict(aa64=0), "S2AA64"), (dict(tg=1), "S2TG"),
                                         (dict(t0sz=12), "S2T0SZ"), (dict(sl0=1), "start level"),
                                         (dict(sl0=3), "S2SL0"), (dict(ps=6), "S2PS")])
def test_bad_stage2_ste_fields_are_c_bad_ste(fields, what):
    rig = S2Rig(**fields)
    event = rig.t(None, 0x5000)
    assert event.event_id == E.C_BAD_STE and what in event.detail


def test_without_stage2_support_config_110_stays_c_bad_ste():
    rig = S2Rig()
    rig.smmu.stage2 = False
    assert rig.t(None, 0x5000).event_id == E.C_BAD_STE


class NestedRig(S2Rig):
    """Guest RAM: IPA g at PA 0x1000_0000 + g. The guest's CD table at IPA S2_CDTAB_IPA, its stage-1
    tables at IPAs 0x1000.. ."""

    RAM = 0x1000_0000

    def __init__(self, **options):
        super().__init__(config=0b111, **options)
        self.ram(S2_CDTAB_IPA)
        self.next_ipa = 0x1000
        self.root = self.guest_table()
        # T0SZ 16, EPD1, V, IPS 48-bit, AA64, R, A, ASID 7
        w0 = 16 | 1 << 30 | 1 << 31 | 5 << 32 | 1 << 41 | 1 << 45 | 1 << 46 | 7 << 48
        self.memory.write(self.RAM + S2_CDTAB_IPA + 64 * 1, (w0 | self.root << 64).to_bytes(64, "little"))

    def ram(self, ipa, attrs=AF | S2_READ | S2_WRITE):
        self.s2_map(ipa, self.RAM + ipa, attrs=attrs)

    def guest_table(self):
        ipa, self.next_ipa = self.next_ipa, self.next_ipa + 0x1000
        self.ram(ipa)
        return ipa

    def s1_map(self, va, ipa, attrs=AF | AP_EL0 | PAGE):
        table = self.root
        for level in (0, 1, 2, 3):
            slot = self.RAM + table + 8 * (va >> (12 + 9 * (3 - level)) & 0x1FF)
            if level == 3:
                w(self.memory, slot, ipa | attrs)
                return
            entry = q(self.memory, slot)
            if not entry & 1:
                entry = self.guest_table() | TABLE
                w(self.memory, slot, entry)
            table = entry & ~0xFFF & ((1 << 48) - 1)


def test_nested_translates_va_to_ipa_to_pa():
    rig = NestedRig()
    rig.s1_map(0x7F00_0000_1000, 0x20_0000)
    rig.ram(0x20_0000)
    assert rig.t(1, 0x7F00_0000_1010, write=True) == rig.RAM + 0x20_0010
    assert rig.smmu.events == []


def test_nested_s1dss_bypass_skips_stage1_but_not_stage2():
    """STE.S1DSS 0b01 "bypass stage 1 as though STE.Config == 0b1x0": with stage 2 enabled a transaction
    without a SubstreamID is still translated as an IPA (IHI 0070, STE.S1DSS); no CD is fetched."""
    rig = NestedRig()
    slot = STRTAB + 64 * SID + 8
    w(rig.memory, slot, q(rig.memory, slot) | 0b01)
    rig.ram(0x30_0000)
    assert rig.t(None, 0x30_0040, write=True) == rig.RAM + 0x30_0040
    event = rig.t(None, 0x50_0000)              # an IPA stage 2 does not map: a stage-2 fault, not a bypass
    assert (event.event_id, event.substream_id) == (E.F_TRANSLATION, None)
    assert rig.queued(0)[12] >> 7 & 1             # S2 = 1 (record bit 103)


def test_nested_stage2_fault_on_a_stage1_table_fetch_is_class_tt_with_the_table_ipa():
    rig = NestedRig()
    rig.s1_map(0x7F00_0000_1000, 0x20_0000)
    level3_ipa = rig.next_ipa - 0x1000                       # the last table allocated
    leaf = rig.s2_map(level3_ipa, rig.RAM + level3_ipa)
    w(rig.memory, leaf, 0)                                    # stage 2 unmaps that table page
    event = rig.t(1, 0x7F00_0000_1010)
    slot_ipa = level3_ipa + 8 * 1
    assert event.record == expected_s2_event(0x10, SID, 1, addr=0x7F00_0000_1010, ipa=slot_ipa,
                                             klass=0b01)


def test_nested_cd_fetch_goes_through_stage2():
    rig = NestedRig()
    leaf = rig.s2_map(S2_CDTAB_IPA, rig.RAM + S2_CDTAB_IPA)
    w(rig.memory, leaf, 0)
    event = rig.t(1, 0x1000)
    assert event.event_id == E.F_TRANSLATION
    assert event.record[13] & 0b11 == 0b00                   # CLASS CD (b105:104)
    assert event.record[12] >> 7 & 1 == 1                    # S2


def test_nested_final_ipa_read_only_in_stage2():
    rig = NestedRig()
    rig.s1_map(0x7F00_0000_1000, 0x20_0000)
    rig.ram(0x20_0000, attrs=AF | S2_READ)
    assert rig.t(1, 0x7F00_0000_1000) == rig.RAM + 0x20_0000
    event = rig.t(1, 0x7F00_0000_1000, write=True)
    assert event.record == expected_s2_event(0x13, SID, 1, addr=0x7F00_0000_1000, ipa=0x20_0000,
                                             write=True)


def test_nested_stage1_faults_still_have_s2_clear():
    rig = NestedRig()
    event = rig.t(1, 0x7F00_0000_1000)                        # no stage-1 mapping
    assert event.event_id == E.F_TRANSLATION and event.record[12] >> 7 & 1 == 0


def test_kernel_stage2_attach_against_the_model():
    from imsdev.platform import iommu_nested as nested
    memory = SparseMemory()
    smmu = SmmuV3(memory, stage2=True)
    allocator = HostAllocator(0x1000_0000, 0x100_0000)
    kernel = nested.SmmuNested(smmu, memory, allocator, sid_bits=8)
    tables = nested.ArmStage2Tables(memory, allocator)
    tables.map(0x0, 0x2000_0000, 1 << 21)
    tables.map(0x20_0000, 0x2100_0000, 0x1000, writable=False)
    kernel.attach_stage2(0x21, tables, vmid=3)
    assert smmu.translate(0x21, None, False, 0x1234, True) == 0x2000_1234
    assert smmu.translate(0x21, None, False, 0x20_0010, False) == 0x2100_0010
    assert smmu.translate(0x21, None, False, 0x20_0010, True).event_id == E.F_PERMISSION
    assert ("cfgi-ste", 0x21, 1) in smmu.invalidations
    words = nested.encode_ste_nested(0x8000_0000, 2, tables.root, 3)
    assert words[0] == 1 | 0b111 << 1 | 0x8000_0000 | 2 << 59
    assert words[2] == 3 | (16 | 2 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 5 << 16) << 32 | 1 << 51 \
        | 1 << 54 | 1 << 58
    assert words[3] == tables.root
    with pytest.raises(FieldError):
        nested.encode_s2_leaf(0x1000, 1 << 21)
