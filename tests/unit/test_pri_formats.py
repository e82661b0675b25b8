"""PRI without a simulator (docs/ats_pri.md 1.2, 1.5, 1.6): Page Request / PRG Response bytes against the
tables, response code classes, the host formats (VT-d page_req_dsc and QI type 9, SMMUv3 PRIQ entry and
CMD_PRI_RESP) against Linux's field positions in both directions (the bench's tb/pcie/pri.py and the kernel
side's fw/imsdev/platform/iommu_pri.py), the PRI capability registers and the shim's Page Request checks,
pci_reset_pri / pci_enable_pri in Linux's order, and each platform's queue with the kernel's handler thread."""
import asyncio
import errno
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cocotbext.pcie.core.tlp import TlpType  # noqa: E402

from imsdev.platform import iommu_pri as kpri  # noqa: E402
from tb.pcie import pri  # noqa: E402
from tb.pcie.pri_link import PriExtCapability, PriLinkState  # noqa: E402
from tb.pcie.tlp import PasidTlp, ProtocolError  # noqa: E402

H = bytes.fromhex
RID = 0x0100


# ---- Page Request and PRG Response (1.5) --------------------------------------------------------------
def test_page_request_bytes():
    # address 0x0000_7F5A_1234_5000, PRGI 0x1AB, L = 1, W = 1, R = 0
    req = pri.PageRequest(page=0x7F5A_1234_5, prgi=0x1AB, r=False, w=True, last=True)
    b8, b12 = req.pack()
    assert b8 == 0x0000_7F5A
    assert b12 == 0x1234_5000 | 0x1AB << 3 | 0b110
    assert pri.PageRequest.unpack(b8, b12) == req
    tlp = PasidTlp.create_page_request(requester_id=RID, page=req.page, prgi=req.prgi, w=True, pasid=0x12345,
                                       pmr=True)
    raw = bytes(tlp.pack())
    # PASID prefix (PMR b7 of byte 1), Msg to RC 0x30, Length 0, requester, tag 0, code 0x04, bytes 8-15
    assert raw == H("91 81 23 45") + H("30 00 00 00") + H("01 00 00 04") + H("00 00 7F 5A") + \
        (0x1234_5000 | 0x1AB << 3 | 0b110).to_bytes(4, "big")
    back = PasidTlp.from_stream_fields(*tlp.to_stream_fields())
    assert back.is_page_request() and back.page_request_fields() == req
    assert back.pasid == 0x12345 and back.pmr and int(back.tc) == 0


def test_stop_marker_and_ranges():
    assert pri.PageRequest(page=0, prgi=5, last=True).stop_marker
    assert not pri.PageRequest(page=0, prgi=5, r=True).stop_marker
    with pytest.raises(pri.PriFormatError):
        pri.PageRequest(page=0, prgi=512).pack()
    assert pri.PageRequest.unpack(0xFFFF_FFFF, 0xFFFF_FFFF) == pri.PageRequest(
        page=(1 << 52) - 1, prgi=0x1FF, r=True, w=True, last=True)


def test_prg_response_bytes():
    tlp = PasidTlp.create_prg_response(requester_id=0, dest_id=RID, prgi=0x155, code=pri.RESP_INVALID)
    raw = bytes(tlp.pack())
    # Msg by ID 0x32, code 0x05, bytes 8-9 = destination, 10-11 = code 15:12 | PRGI 8:0, 12-15 reserved
    assert raw == H("32 00 00 00") + H("00 00 00 05") + H("01 00 11 55") + H("00 00 00 00")
    back = PasidTlp.from_stream_fields(*tlp.to_stream_fields())
    assert back.is_prg_response() and back.prg_response_fields() == (pri.RESP_INVALID, 0x155)
    assert int(back.completer_id) == RID
    with_pasid = PasidTlp.create_prg_response(requester_id=0, dest_id=RID, prgi=1, code=0, pasid=7)
    f = with_pasid.to_stream_fields()
    assert f.prfx_valid and f.prfx == 0x9100_0007 and f.hdr >> 120 == 0x32


@pytest.mark.parametrize("code", range(16))
def test_response_classes(code):
    want = {0: "success", 1: "invalid", 0xF: "failure"}.get(code, "unused")
    assert pri.response_class(code) == want


# ---- host formats (1.6) ----------------------------------------------------------------------------------
def test_vtd_page_req_dsc_positions():
    d = pri.VtdPageRequest(rid=0xBEEF, pasid=0xABCDE, page=0x7F5A_0000_1, prgi=0x1FF, rd=True, wr=False,
                           lpig=True, exe=False, pm=True)
    raw = d.pack()
    assert len(raw) == 32 and raw[16:] == bytes(16)
    qw0 = int.from_bytes(raw[:8], "little")
    qw1 = int.from_bytes(raw[8:16], "little")
    assert qw0 == 1 | 1 << 8 | 0xBEEF << 16 | 0xABCDE << 32 | 1 << 53
    assert qw1 == 1 | 1 << 2 | 0x1FF << 3 | 0x7F5A_0000_1 << 12
    k = kpri.decode_page_req_dsc(raw)
    assert (k["type"], k["pasid_present"], k["rid"], k["pasid"], k["exe_req"], k["pm_req"]) == \
        (1, True, 0xBEEF, 0xABCDE, False, True)
    assert (k["rd_req"], k["wr_req"], k["lpig"], k["prg_index"], k["addr"]) == \
        (True, False, True, 0x1FF, 0x7F5A_0000_1000)
    assert pri.VtdPageRequest.unpack(raw) == d
    assert pri.VtdPageRequest.unpack(pri.VtdPageRequest(1, None, 2, 3, False, True, True).pack()).pasid is None


@pytest.mark.parametrize("pasid", [None, 0x12345])
@pytest.mark.parametrize("code", [0, 1, 0xF])
def test_vtd_page_group_response(pasid, code):
    lo, hi = kpri.qi_page_group_response(0x0100, pasid, code, 0x42, True)
    assert lo & 0xF == 9 and (lo >> 4 & 1) == (pasid is not None) and lo >> 12 & 0xF == code
    assert lo >> 16 & 0xFFFF == 0x0100 and lo >> 32 & 0xFFFFF == (pasid or 0)
    assert hi == 0x42 << 3 | 1 << 2
    assert pri.decode_vtd_page_group_response(lo, hi) == (0x0100, pasid, code, 0x42, True)
    assert pri.vtd_page_group_response(0x0100, pasid, code, 0x42) == (lo, hi)
    assert pri.decode_vtd_page_group_response(0x8, 0) is None          # type 8: not a page group response


def test_priq_entry_positions():
    e = pri.PriqEntry(sid=0x0100, ssid=0xFEDCB, page=0x7F5A_0000_2, prgi=0x0AB, read=False, write=True,
                      last=True, priv=True, exe=False)
    raw = e.pack()
    dw0 = int.from_bytes(raw[:8], "little")
    dw1 = int.from_bytes(raw[8:], "little")
    assert dw0 == 0x0100 | 0xFEDCB << 32 | 1 << 58 | 1 << 61 | 1 << 62 | 1 << 63
    assert dw1 == 0x0AB | 0x7F5A_0000_2 << 12
    k = kpri.decode_priq_entry(raw)
    assert (k["sid"], k["ssid"], k["ssv"], k["priv"], k["exec"], k["read"], k["write"], k["last"], k["grpid"],
            k["addr"]) == (0x0100, 0xFEDCB, True, True, False, False, True, True, 0x0AB, 0x7F5A_0000_2000)
    assert pri.PriqEntry.unpack(raw) == e


@pytest.mark.parametrize("ssid", [None, 0x54321])
@pytest.mark.parametrize("resp", [kpri.PRI_RESP_DENY, kpri.PRI_RESP_FAIL, kpri.PRI_RESP_SUCC])
def test_cmd_pri_resp(ssid, resp):
    lo, hi = kpri.cmd_pri_resp(0x0100, ssid, 0x1FE, resp)
    assert lo & 0xFF == 0x41 and lo >> 32 == 0x0100 and (lo >> 11 & 1) == (ssid is not None)
    assert hi == 0x1FE | resp << 12
    assert pri.decode_cmd_pri_resp(lo, hi) == (0x0100, ssid, 0x1FE, resp)
    assert pri.cmd_pri_resp(0x0100, ssid, 0x1FE, resp) == (lo, hi)
    assert pri.SMMU_TO_PCIE[resp] == {2: 0, 0: 1, 1: 0xF}[resp]


# ---- capability and the shim's checks (1.2, 3.2) ---------------------------------------------------------
def run(coro):
    return asyncio.run(coro)


def test_capability_registers():
    stopped = {"v": 1}
    cap = PriExtCapability(stopped=lambda: stopped["v"])
    assert (cap.cap_id, cap.cap_ver, cap.length) == (0x13, 1, 4)
    assert run(cap._read_register(1)) == (0x8000 | 0x100) << 16            # E = 0, Stopped, PASID Required
    assert run(cap._read_register(2)) == 2 and run(cap._read_register(3)) == 0
    run(cap._write_register(3, 1, 0xF))
    run(cap._write_register(1, pri.PRI_CTRL_ENABLE, 0x3))
    assert run(cap._read_register(1)) == 1 | 0x8000 << 16                   # Stopped reads 0 while E = 1
    cap.rf = cap.uprgi = True
    run(cap._write_register(1, (pri.PRI_STATUS_RF << 16) | 1, 0xF))         # RW1C RF only
    assert (cap.rf, cap.uprgi, cap.enable) == (False, True, True)
    run(cap._write_register(1, 0, 0x3))                                      # E = 0
    stopped["v"] = 0
    assert run(cap._read_register(1)) >> 16 == 0x8002                      # not stopped yet, UPRGI kept
    run(cap._write_register(1, pri.PRI_CTRL_RESET, 0x3))
    assert cap.reset_requested and not cap.enable
    cap.rf = True
    run(cap._write_register(1, pri.PRI_CTRL_ENABLE, 0x3))                   # E 0 -> 1 clears RF and UPRGI
    assert not cap.rf and not cap.uprgi
    run(cap._write_register(3, 3, 0xF))
    assert len(cap.errors) == 2                                              # while E = 1, above capacity


def _pr(prgi, *, r=True, w=False, last=True, tc=0, rid=RID, pasid=5):
    t = PasidTlp.create_page_request(requester_id=rid, page=0x1000 + prgi, prgi=prgi, r=r, w=w, last=last,
                                     pasid=pasid)
    t.tc = type(t.tc)(tc)
    return t


PASID_ON = SimpleNamespace(pasid_enable=True, priv_enable=True, exec_enable=False)


def _state(alloc=2, enable=True):
    cap = PriExtCapability()
    cap.enable, cap.allocation = enable, alloc
    return PriLinkState(cap)


def test_link_checks_accept_and_count():
    st = _state()
    st.check_page_request(_pr(1), RID, PASID_ON)
    st.check_page_request(_pr(2, r=False, w=True), RID, PASID_ON)
    assert st.max_outstanding == 2
    assert not st.response_sent(PasidTlp.create_prg_response(requester_id=0, dest_id=RID, prgi=1, code=0, pasid=6))
    assert st.response_sent(PasidTlp.create_prg_response(requester_id=0, dest_id=RID, prgi=1, code=0, pasid=5))
    assert not st.response_sent(PasidTlp.create_prg_response(requester_id=0, dest_id=RID, prgi=9, code=0, pasid=5))
    assert st.response_sent(PasidTlp.create_prg_response(requester_id=0, dest_id=RID, prgi=2, code=0))  # no PASID
    assert st.stats["prg_resp_unexpected"] == 2
    st.check_page_request(_pr(1), RID, PASID_ON)                              # PRGI 1 free again


@pytest.mark.parametrize("case, want", [
    ("pri_off", "PRI Control.E = 0"), ("alloc", "allocation"), ("tc", "TC 1"), ("prgi", "still outstanding"),
    ("stop", "Stop Marker"), ("l0", "L = 0"), ("rid", "requester ID"), ("no_cap", "without a PRI capability"),
    ("pasid_off", "PASID prefix"),
])
def test_link_check_bad(case, want):
    st = _state(alloc=1 if case == "alloc" else 2, enable=case != "pri_off")
    pc = PASID_ON
    if case == "no_cap":
        st = PriLinkState(None)
    if case in ("alloc", "prgi"):
        st.check_page_request(_pr(3), RID, pc)
    tlp = {"tc": lambda: _pr(4, tc=1), "prgi": lambda: _pr(3), "stop": lambda: _pr(4, r=False),
           "l0": lambda: _pr(4, last=False), "rid": lambda: _pr(4, rid=0x200)}.get(case, lambda: _pr(4))()
    if case == "pasid_off":
        pc = SimpleNamespace(pasid_enable=False, priv_enable=False, exec_enable=False)
    with pytest.raises(ProtocolError, match=want):
        st.check_page_request(tlp, RID, pc)


def test_snapshot_shares_counters_not_outstanding():
    """A Page Request judged against the pre-FLR snapshot counts in the live counters and maximum, but is not
    outstanding in the live state (the FLR cleared it)."""
    st = _state()
    st.check_page_request(_pr(1), RID, PASID_ON)
    snap = st.snapshot()
    st.flr()
    snap.check_page_request(_pr(2), RID, PASID_ON)
    assert st.stats["page_req"] == 2 and len(st.requests) == 2
    assert st.max_outstanding == 2 and snap.max_outstanding == 2
    assert not st.outstanding and set(snap.outstanding) == {1, 2}


def test_pri_reset_and_flr_clear_outstanding():
    st = _state()
    st.check_page_request(_pr(1), RID, PASID_ON)
    st.pri_reset()
    st.check_page_request(_pr(1), RID, PASID_ON)
    st.flr()
    assert not st.outstanding and not st.cap.enable and st.cap.allocation == 0


# ---- Linux order (drivers/pci/ats.c) ------------------------------------------------------------------------
class FakeCfg:
    def __init__(self, ctrl=0, status=0x8100, cap=2):
        self.regs = {4: ctrl, 6: status, 8: cap, 12: 0}
        self.log = []

    async def read_word(self, reg):
        return self.regs[reg]

    async def read_dword(self, reg):
        return self.regs[reg]

    async def write_word(self, reg, val):
        self.log.append(("w16", reg, val))
        self.regs[reg] = val

    async def write_dword(self, reg, val):
        self.log.append(("w32", reg, val))
        self.regs[reg] = val


def test_linux_reset_then_enable():
    cfg = FakeCfg()
    assert run(kpri.pci_reset_pri(cfg)) == 0
    assert run(kpri.pci_enable_pri(cfg, 32)) == 0
    assert cfg.log == [("w16", 4, 0x2), ("w32", 12, 2), ("w16", 4, 0x1)]
    assert run(kpri.pci_enable_pri(cfg, 1)) == -errno.EBUSY                   # already enabled
    assert run(kpri.pci_reset_pri(cfg)) == -errno.EBUSY
    assert run(kpri.pci_enable_pri(FakeCfg(status=0x8000), 1)) == -errno.EBUSY   # not Stopped
    cfg = FakeCfg()
    run(kpri.pci_enable_pri(cfg, 1))
    assert cfg.regs[12] == 1
    assert run(kpri.pci_prg_resp_pasid_required(cfg))


# ---- platform queue + kernel thread, both platforms (3.4) ---------------------------------------------------
class FakeAgent:
    def __init__(self):
        self.sent = []
        self.page_request_handler = None

    def send_prg_response(self, dest, pasid, prgi, code):
        self.sent.append((dest, pasid, prgi, code))


def _platform(name, order=0):
    from tb.platform import make_platform
    from tb.platform.smmu_pri import attach_priq
    from tb.platform.vtd_pri import attach_prq
    plat = make_platform(name, dma_translation=True)
    plat.attach_dma_device(RID)
    agent = FakeAgent()
    woke = []
    if name == "x86":
        attach_prq(plat.iommu, agent, lambda: woke.append(1))
        k = kpri.VtdPrq(plat.iommu, plat.iommu.memory, plat.sva.allocator, plat.sva.qi, order=order)
    else:
        attach_priq(plat.dma, agent, lambda: woke.append(1))
        k = kpri.SmmuPriq(plat.sva, log2=1 if order < 0 else 6)
    k.enable()
    return plat, agent, k, woke


@pytest.mark.parametrize("name", ["x86", "arm"])
def test_queue_and_handler(name):
    plat, agent, k, woke = _platform(name)
    seen = []

    def fault(pasid, addr, write, priv, exe):
        seen.append((pasid, addr, write))
        return kpri.RESP_SUCCESS if addr == 0x7000_0000 else kpri.RESP_INVALID
    agent.page_request_handler(_pr(7, pasid=9))
    tlp = PasidTlp.create_page_request(requester_id=RID, page=0x7000_0, prgi=8, w=True, pasid=9)
    agent.page_request_handler(tlp)
    assert len(woke) == 2 and not agent.sent
    assert k.event_thread(fault) == 2
    assert seen == [(9, 0x1007 << 12, False), (9, 0x7000_0000, True)]
    assert agent.sent == [(RID, 9, 7, pri.RESP_INVALID), (RID, 9, 8, pri.RESP_SUCCESS)]
    assert k.event_thread(fault) == 0                                        # queue consumed
    agent.page_request_handler(_pr(20, pasid=9))
    agent.page_request_handler(_pr(21, pasid=8))
    assert k.drain_pasid(9, fault) == 1 and k.event_thread(fault) == 0       # the drain empties the queue
    # a request without PASID is a bad request: Invalid without asking the fault handler
    agent.page_request_handler(_pr(3, pasid=None))
    k.event_thread(fault)
    assert agent.sent[-1] == (RID, None, 3, pri.RESP_INVALID) and len(seen) == 4


def test_vtd_queue_full_answers_success():
    plat, agent, k, _ = _platform("x86")
    for i in range(127):                                                     # 4 KiB / 32 B = 128 slots, one kept
        agent.page_request_handler(_pr(i % 512, pasid=1))
    assert not agent.sent
    agent.page_request_handler(_pr(200, pasid=1))
    assert agent.sent == [(RID, 1, 200, pri.RESP_SUCCESS)] and plat.iommu.prq["overflows"] == 1
    assert plat.iommu.read_reg(0xDC) & 2                                      # PRO
    k.event_thread(lambda *a: kpri.RESP_SUCCESS)
    assert not plat.iommu.read_reg(0xDC) & 3                                  # PPR and PRO cleared by the thread


def test_smmu_queue_full_answers_success():
    plat, agent, k, _ = _platform("arm", order=-1)                           # 2 entries
    agent.page_request_handler(_pr(1, pasid=1))
    agent.page_request_handler(_pr(2, pasid=1))
    agent.page_request_handler(_pr(3, pasid=1))
    assert agent.sent == [(RID, 1, 3, pri.RESP_SUCCESS)] and plat.dma.priq["overflows"] == 1
    assert k.event_thread(lambda *a: kpri.RESP_INVALID) == 2
    assert [s[3] for s in agent.sent[1:]] == [pri.RESP_INVALID] * 2
    assert plat.dma.read_reg(0x100CC) >> 31 == plat.dma.read_reg(0x100C8) >> 31   # overflow acknowledged


def test_message_types_are_exact():
    assert _pr(1).fmt_type == TlpType.MSG_TO_RC
    assert PasidTlp.create_prg_response(requester_id=0, dest_id=RID, prgi=1, code=0).fmt_type == TlpType.MSG_ID


# ---- the whole host path: shim check -> agent -> platform queue -> kernel thread -> PRG Response ------------
@pytest.mark.parametrize("name", ["x86", "arm"])
def test_agent_to_queue_to_response(name):
    import logging

    from tb.pcie.ats_agent import AtsAgent
    from tb.pcie.ats_link import AtsLinkState
    from tb.platform.smmu_pri import attach_priq
    from tb.platform.vtd_pri import attach_prq

    plat, _, k, woke = _platform(name)
    cap = PriExtCapability()
    cap.enable, cap.allocation = True, 2

    class Shim:
        ats_cap = None
        ats = AtsLinkState(None)
        pri = PriLinkState(cap)
        message_handler = None
        tx_tlp_observers = []
        requester_id = RID
        delivered = []

        def deliver_message(self, tlp):
            assert tlp.is_prg_response()
            self.pri.response_sent(tlp)
            self.delivered.append(PasidTlp.from_stream_fields(*tlp.to_stream_fields()))

    class Rc:
        log = logging.getLogger("rc")

        def set_ats_agent(self, agent):
            pass

    shim = Shim()
    agent = AtsAgent(Rc(), shim, translate=lambda *a: None)
    if name == "x86":
        attach_prq(plat.iommu, agent, lambda: woke.append(1))
    else:
        attach_priq(plat.dma, agent, lambda: woke.append(1))
    for prgi, page, w in ((0x10, 0x7000_0, False), (0x11, 0x7000_1, True)):
        tlp = PasidTlp.create_page_request(requester_id=RID, page=page, prgi=prgi, r=not w, w=w, pasid=4)
        shim.pri.check_page_request(tlp, RID, PASID_ON)
        shim.message_handler(tlp)
    assert len(shim.pri.outstanding) == 2 and len(woke) == 2
    k.event_thread(lambda pasid, addr, write, priv, exe: kpri.RESP_INVALID if write else kpri.RESP_SUCCESS)
    assert not shim.pri.outstanding and shim.pri.stats["prg_resp_unexpected"] == 0
    got = [(int(t.completer_id), t.pasid, t.prg_response_fields()) for t in shim.delivered]
    assert got == [(RID, 4, (pri.RESP_SUCCESS, 0x10)), (RID, 4, (pri.RESP_INVALID, 0x11))]
    assert [x[0] for x in agent.log] == ["page_req", "page_req", "prg_resp", "prg_resp"]


from tb.bad_inputs import BadInput  # noqa: E402

BAD_INPUTS = (
    BadInput(cls="tlp", input="Page Request from the device while PRI Control.E = 0, beyond the allocation, with "
                              "TC 1, as a Stop Marker, with L = 0, with a PRG index still outstanding, another "
                              "requester ID, a PASID prefix PASID Control does not allow, or without a PRI capability",
             outcome="ProtocolError naming the rule (tb/pcie/pri_link.py)", test="test_link_check_bad"),
    BadInput(cls="config", input="PRI allocation written while PRI E = 1 or above the capacity",
             outcome="recorded as an error of the PRI configuration (raised at the next Page Request)",
             test="test_capability_registers"),
    BadInput(cls="platform", input="Page Request into a full VT-d page request queue",
             outcome="PRS.PRO set, the request not queued, the IOMMU answers Success itself (L = 1); the PRQ thread "
                     "clears PPR and PRO", test="test_vtd_queue_full_answers_success"),
    BadInput(cls="platform", input="Page Request into a full SMMUv3 PRI queue",
             outcome="PROD.OVFLG toggled, answered Success by the SMMU; the thread acknowledges (OVACKFLG = OVFLG)",
             test="test_smmu_queue_full_answers_success"),
    BadInput(cls="platform", input="Page Request without a PASID (kernel PRQ/PRIQ thread)",
             outcome="Invalid Request without asking the fault handler", test="test_queue_and_handler"),
)
