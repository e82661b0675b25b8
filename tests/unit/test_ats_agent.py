"""The root complex's translation agent and ATC consistency checker (tb/pcie/ats_agent.py) and the shim's ATS
checks (tb/pcie/ats_link.py) without a simulator: Translation Completion format, grants, the checker's verdicts
on translated TLPs before and after an Invalidate Completion, ITag accounting, and every check of the shim on
the device's ATS TLPs."""
import asyncio
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cocotbext.pcie.core.tlp import CplStatus, TlpType  # noqa: E402
from cocotbext.pcie.core.utils import PcieId  # noqa: E402

from tb.pcie import ats  # noqa: E402
from tb.pcie.ats_agent import AtsAgent  # noqa: E402
from tb.pcie.ats_link import AtsExtCapability, AtsLinkState  # noqa: E402
from tb.pcie.tlp import PasidTlp, ProtocolError  # noqa: E402

DEV = 0x0100
VA, PA = 0x7F00_0000_0000, 0x2000_0000


class FakeRc:
    def __init__(self):
        self.log = logging.getLogger("fake_rc")
        self.sent = []
        self.agent = None

    def set_ats_agent(self, agent):
        self.agent = agent

    async def send(self, tlp):
        self.sent.append(tlp)


class FakeShim:
    def __init__(self):
        self.ats_cap = AtsExtCapability()
        self.ats_cap.enable = True
        self.ats = AtsLinkState(self.ats_cap)
        self.message_handler = None
        self.tx_tlp_observers = []
        self.requester_id = DEV
        self.delivered = []

    def deliver_message(self, tlp):
        self.ats.invalidate_sent(tlp)
        self.delivered.append(tlp)

    def device_sends(self, tlp):
        """What LinkShim._run_tx_req does with a TLP of the device: check, observers, message dispatch."""
        self.ats.check_upstream(tlp, self.requester_id)
        for obs in self.tx_tlp_observers:
            obs(tlp)
        if tlp.is_message():
            self.message_handler(tlp)


def translate(rid, pasid, priv, exe, addr, nw):
    if addr >> 12 == VA >> 12:
        return ats.TranslationEntry(page=PA >> 12, r=True, w=not nw)
    if addr >> 12 == (VA >> 12) + 1:
        return ats.TranslationEntry(page=(PA >> 12) + 1, r=True, w=False)
    if addr >> 12 == (VA >> 12) + 2:
        return CplStatus.UR
    return ats.TranslationEntry()


def setup():
    rc, shim = FakeRc(), FakeShim()
    agent = AtsAgent(rc, shim, translate)
    return rc, shim, agent


def treq(addr, pasid=5, nw=False):
    tlp = PasidTlp.create_mem_read(addr, 8, requester_id=PcieId.from_int(DEV), tag=16, pasid=pasid)
    tlp.at = ats.AT_TRANSLATION_REQUEST
    tlp.ph = int(nw)
    return tlp


def translated(addr, write=False, pasid=5, n=64):
    tlp = PasidTlp.create_mem_write(addr, bytes(n), requester_id=PcieId.from_int(DEV), pasid=pasid) if write else \
        PasidTlp.create_mem_read(addr, n, requester_id=PcieId.from_int(DEV), tag=3, pasid=pasid)
    tlp.at = ats.AT_TRANSLATED
    return tlp


def ask(agent, tlp):
    return asyncio.run(agent.upstream(tlp))


def test_translation_completion_format_and_grant():
    rc, shim, agent = setup()
    assert ask(agent, treq(VA)) is None
    cpl, = rc.sent
    assert cpl.fmt_type == TlpType.CPL_DATA and cpl.status == CplStatus.SC and int(cpl.at) == 0
    assert (cpl.byte_count, cpl.lower_address, cpl.length, cpl.tag) == (8, 64 - 8, 2, 16)
    assert ats.TranslationEntry.from_payload(bytes(cpl.data)) == ats.TranslationEntry(page=PA >> 12, r=True, w=True)
    assert len(agent.grants) == 1 and agent.stats["granted"] == 1
    ask(agent, treq(VA + 0x3000))
    assert ats.TranslationEntry.from_payload(bytes(rc.sent[-1].data)) == ats.TranslationEntry()
    assert len(agent.grants) == 1 and agent.stats["no_translation"] == 1     # R = W = 0 grants nothing
    ask(agent, treq(VA + 0x2000))
    assert rc.sent[-1].status == CplStatus.UR and not rc.sent[-1].has_data()


def test_translated_requests_pass_to_the_physical_address():
    rc, shim, agent = setup()
    ask(agent, treq(VA))
    out = ask(agent, translated(PA + 0x40))
    assert out.address == PA + 0x40 and int(out.at) == 0 and out.pasid == 5


@pytest.mark.parametrize("write", [False, True])
def test_translated_requests_keep_the_links_credit_release(write):
    """The copy handed on at the physical address must release the flow-control credit of the TLP that came
    over the link (and keep its ingress port): losing it leaked one credit per translated TLP on the simulated
    link until the device's writes stopped (records lost after an unmap under traffic)."""
    rc, shim, agent = setup()
    ask(agent, treq(VA))
    released = []
    tlp = translated(PA + 0x40, write=write)
    tlp.release_fc_cb = lambda: released.append(True)
    tlp.ingress_port = port = object()
    out = ask(agent, tlp)
    assert out is not tlp and out.ingress_port is port and not released
    out.release_fc()
    assert released == [True]


def test_checker_verdicts():
    rc, shim, agent = setup()
    ask(agent, treq(VA))
    ask(agent, treq(VA + 0x1000))                       # read-only grant
    shim.device_sends(translated(PA + 0x100))
    shim.device_sends(translated(PA + 0x100, write=True))
    shim.device_sends(translated(PA + 0x1000 + 0x80))
    with pytest.raises(ProtocolError, match="live grant with W"):
        shim.device_sends(translated(PA + 0x1000, write=True))
    with pytest.raises(ProtocolError, match="live grant"):
        shim.device_sends(translated(PA + 0x2000))      # never granted
    with pytest.raises(ProtocolError, match="live grant"):
        shim.device_sends(translated(PA + 0x100, pasid=6))     # another PASID's key
    with pytest.raises(ProtocolError, match="live grant"):
        shim.device_sends(translated(PA + 0x2FC0))            # the page after the read-only grant


def test_grant_revoked_only_at_the_invalidate_completion():
    rc, shim, agent = setup()
    ask(agent, treq(VA))
    itag = agent.send_invalidate_request(5, VA >> 12, 0)
    inv, = shim.delivered
    assert inv.is_inv_request() and inv.inv_request_fields()[0] == itag == 0 and int(inv.completer_id) == DEV
    shim.device_sends(translated(PA))                   # before the completion: still allowed
    shim.device_sends(PasidTlp.create_invalidate_completion(requester_id=DEV, dest_id=0, itag_vector=1 << itag))
    assert agent.completed[-1].itag == itag and agent.completed[-1].done.is_set()
    with pytest.raises(ProtocolError, match="revoked"):
        shim.device_sends(translated(PA))
    ask(agent, treq(VA))                                # re-translated: a new grant
    shim.device_sends(translated(PA))


def test_invalidation_scope():
    rc, shim, agent = setup()
    ask(agent, treq(VA))
    ask(agent, treq(VA, pasid=6))
    itag = agent.send_invalidate_request(7, VA >> 12, 0)          # another PASID: revokes nothing
    shim.device_sends(PasidTlp.create_invalidate_completion(requester_id=DEV, dest_id=0, itag_vector=1 << itag))
    shim.device_sends(translated(PA, pasid=5))
    itag = agent.send_invalidate_request(None, (VA >> 12) + 16, 4)  # no PASID, 64 KiB not covering VA's page
    shim.device_sends(PasidTlp.create_invalidate_completion(requester_id=DEV, dest_id=0, itag_vector=1 << itag))
    shim.device_sends(translated(PA, pasid=6))
    itag = agent.send_invalidate_request(None, 0, ats.SIZE_ALL)    # no PASID, everything: every PASID
    ask(agent, treq(VA, pasid=6))                                  # granted after the request was sent: kept
    shim.device_sends(PasidTlp.create_invalidate_completion(requester_id=DEV, dest_id=0, itag_vector=1 << itag))
    shim.device_sends(translated(PA, pasid=6))
    with pytest.raises(ProtocolError):
        shim.device_sends(translated(PA, pasid=5))


def test_itag_pool_and_bad_completions():
    rc, shim, agent = setup()
    itags = [agent.send_invalidate_request(5, i, 0) for i in range(32)]
    assert itags == list(range(32))
    with pytest.raises(RuntimeError):
        agent.send_invalidate_request(5, 99, 0)
    with pytest.raises(ProtocolError, match="Device ID"):
        shim.device_sends(PasidTlp.create_invalidate_completion(requester_id=DEV, dest_id=0x0200, itag_vector=1))
    with pytest.raises(ProtocolError, match="CC"):
        shim.device_sends(PasidTlp.create_invalidate_completion(requester_id=DEV, dest_id=0, itag_vector=1, cc=2))
    with pytest.raises(ProtocolError, match="requester ID"):
        shim.device_sends(PasidTlp.create_invalidate_completion(requester_id=0x0101, dest_id=0, itag_vector=1))
    shim.device_sends(PasidTlp.create_invalidate_completion(requester_id=DEV, dest_id=0, itag_vector=0b11))
    with pytest.raises(ProtocolError, match="ITag 0 is not outstanding"):
        shim.device_sends(PasidTlp.create_invalidate_completion(requester_id=DEV, dest_id=0, itag_vector=1))
    assert agent.send_invalidate_request(5, 1, 0) == 0           # freed ITags are reused


def test_shim_at_rules_and_flr():
    shim = FakeShim()
    shim.ats_cap.enable = False
    with pytest.raises(ProtocolError, match="E = 0"):
        shim.ats.check_upstream(translated(PA), DEV)
    with pytest.raises(ProtocolError, match="E = 0"):
        shim.ats.check_upstream(treq(VA), DEV)
    shim.ats.check_upstream(PasidTlp.create_mem_read(PA, 64, requester_id=PcieId.from_int(DEV)), DEV)
    nocap = AtsLinkState(None)
    with pytest.raises(ProtocolError, match="no ATS capability"):
        nocap.check_upstream(translated(PA), DEV)
    rc, shim, agent = setup()
    ask(agent, treq(VA))
    agent.send_invalidate_request(5, 1, 0)
    shim.ats.flr()
    assert not shim.ats.outstanding and not agent.inflight
    with pytest.raises(ProtocolError):
        shim.device_sends(translated(PA))                 # the FLR emptied the ATC


def test_capability_registers():
    cap = AtsExtCapability()
    assert asyncio.run(cap._read_register(1)) == 0x20
    asyncio.run(cap._write_register(1, (0x8000 | 5) << 16, 0xC))
    assert (cap.enable, cap.stu) == (True, 5) and asyncio.run(cap._read_register(1)) == 0x20 | (0x8005 << 16)
    asyncio.run(cap._write_register(1, 0xFFFF, 0x3))               # the capability half is read-only
    assert asyncio.run(cap._read_register(1)) == 0x20 | (0x8005 << 16)
    cap.reset()
    assert asyncio.run(cap._read_register(1)) == 0x20
