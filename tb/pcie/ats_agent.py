"""The root complex as ATS Translation Agent (docs/ats_pri.md 3.3), and the ATC consistency checker.

`AtsAgent(rc, shim, translate, check_translated=None)` attaches to a HostRootComplex and a LinkShim:

* Translation Requests (MRd, AT = 01b) are answered here: `translate(rid, pasid, priv, exe, addr, nw)` (the
  platform: tb/platform/vtd_ats.py, tb/platform/smmu_ats.py) returns a `TranslationEntry` (R = W = 0 for "no
  translation") or a `CplStatus` (UR / CA, sent as a Cpl without data). A successful answer is one CplD of
  8 bytes per entry, Byte Count 8 x n, Lower Address = RCB - Byte Count (PCIe §10.2.3). Length > 2 asks for
  sequential STU-sized translations; each is asked of the platform in turn.
* Translated requests (AT = 10b) go to the physical address, untranslated, after the platform's
  `check_translated(rid, pasid, addr, is_write)` (None = allowed, else the reason: the read gets UR, the write
  is dropped; both counted in `blocked`).
* `send_invalidate_request(pasid, page, size)` sends an Invalidate Request to the device (ITag from a free pool
  of 32), `wait_invalidations(itags)` waits for their Invalidate Completions (QI wait / CMD_SYNC).

The checker: every granted translation is recorded (rid, PASID, priv, untranslated range, physical range, R/W,
when). Every TLP the device sends is seen in the order the device sent it (shim.tx_tlp_observers): a translated
request must fall inside one granted, not yet revoked range of its PASID/priv with the right permission. A grant is
revoked when the device's Invalidate Completion for an invalidation sent after the grant and covering it arrives,
not when the page is unmapped. Anything else raises ProtocolError (the device used a stale or made-up
translation), whatever the memory contents.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import cocotb
from cocotb.triggers import Event, with_timeout
from cocotbext.pcie.core.tlp import CplStatus
from cocotbext.pcie.core.utils import PcieId

from tb import coverage

from . import ats
from .tlp import PasidTlp, ProtocolError

TA_ID = 0x0000          # the root complex's Requester ID (root port 00:00.0 answers for the TA)
DEFAULT_RCB = 64


@dataclass
class Grant:
    seq: int
    rid: int
    pasid: int | None
    priv: bool
    page: int               # untranslated base page
    size: int               # log2 pages
    pa_page: int
    r: bool
    w: bool
    revoked: bool = False

    def covers_pa(self, addr: int, nbytes: int) -> bool:
        lo = self.pa_page << ats.PAGE_SHIFT
        return lo <= addr and addr + max(nbytes, 1) <= lo + (1 << (self.size + ats.PAGE_SHIFT))


@dataclass
class Invalidation:
    itag: int
    seq: int
    pasid: int | None
    body: ats.InvalidatePayload
    done: Event = field(default_factory=Event)
    # the device's translated reads (AT = 10b) still waiting for their completions when the request was
    # delivered, by tag: the same TLP objects must be gone from the shim's outstanding reads at the completion
    reads: dict = field(default_factory=dict)


class AtsAgent:
    def __init__(self, rc, shim, translate: Callable, check_translated: Callable | None = None, *,
                 rcb: int = DEFAULT_RCB, ta_id: int = TA_ID):
        self.rc = rc
        self.shim = shim
        self.translate = translate
        self.check_translated = check_translated
        self.rcb = rcb
        self.ta_id = ta_id
        self.grants: list[Grant] = []
        self.inflight: dict[int, Invalidation] = {}
        self.completed: list[Invalidation] = []
        self.seq = 0
        self.stats = {"treq": 0, "granted": 0, "no_translation": 0, "ur": 0, "ca": 0, "translated": 0,
                      "blocked": 0, "inv_req": 0, "inv_cpl": 0}
        self.log: list[tuple[str, object]] = []     # (kind, detail) in order: for tests and coverage
        # Tests hold a Translation Completion back: {(PASID, page number): Event}. The answer is computed when
        # the request arrives (the mapping of that moment) and sent once the Event is set; `held` is set when
        # such a request has arrived. Other requests and TLPs keep flowing meanwhile.
        self.hold: dict[tuple[int | None, int], Event] = {}
        self.held = Event()
        # PRI (tb/pri_bench.py): the platform's page request queue takes each Page Request (the TLP), in the
        # order the device sent them; `send_prg_response` answers.
        self.page_request_handler: Callable | None = None
        shim.message_handler = self._on_message
        shim.tx_tlp_observers.append(self._check_device_tlp)
        shim.ats.flr_callbacks.append(self.flr)
        rc.set_ats_agent(self)

    # ---- upstream requests (called by HostRootComplex.handle_tlp) -------------------------------------
    async def upstream(self, tlp):
        """Handle a request with AT != 00b: returns the TLP for the RC's normal path (at its physical address),
        or None when it was answered or dropped here."""
        at = int(tlp.at)
        rid = int(tlp.requester_id)
        if at == ats.AT_TRANSLATION_REQUEST:
            tlp.release_fc()
            await self._answer_translation(tlp, rid)
            return None
        if at != ats.AT_TRANSLATED:
            tlp.release_fc()
            raise ProtocolError(f"AT {at:#04b} reached the translation agent: {tlp!r}")
        self.stats["translated"] += 1
        why = self.check_translated(rid, tlp.pasid, tlp.address, tlp.is_mem_write()) \
            if self.check_translated else None
        if why:
            self.stats["blocked"] += 1
            self.log.append(("blocked", (tlp.address, why)))
            tlp.release_fc()
            if tlp.is_mem_read():
                await self.rc.send(PasidTlp.create_ur_completion_for_tlp(tlp, PcieId(0, 0, 0)))
            return None
        out = PasidTlp(tlp)
        out.at = 0
        # cocotbext-pcie's Tlp copy drops the link's flow-control release and the ingress port: without them
        # every translated TLP kept its posted or non-posted credit on the simulated link (IMSDEV_DIRECT_LINK=0)
        # until the device could send no more writes and records were lost.
        out.release_fc_cb = tlp.release_fc_cb
        out.ingress_port = tlp.ingress_port
        return out

    async def _answer_translation(self, tlp, rid):
        self.stats["treq"] += 1
        self.rc.log.info("ATS: Translation Request %#x PASID %s tag %d", tlp.address, tlp.pasid, tlp.tag)
        n = tlp.length // 2
        stu = self.shim.ats_cap.stu if self.shim.ats_cap is not None else 0
        nw = bool(tlp.ph & 1)
        entries = []
        for i in range(n):
            addr = tlp.address + i * ats.stu_bytes(stu)
            res = self.translate(rid, tlp.pasid, tlp.pmr, tlp.er, addr, nw)
            if isinstance(res, CplStatus):
                if i:
                    break       # later translations unavailable: return those found (one CplD)
                self.stats["ur" if res == CplStatus.UR else "ca"] += 1
                coverage.ats_translation("ur" if res == CplStatus.UR else "ca", "read" if nw else "write")
                self.log.append(("fail", (addr, res)))
                cpl = PasidTlp.create_completion_for_tlp(tlp, PcieId(0, 0, 0), has_data=False, status=res)
                cpl.at = 0
                await self.rc.send(cpl)
                return
            entries.append((addr, res))
        payload = b""
        for addr, e in entries:
            if e.r or e.w:
                self.seq += 1
                self.grants.append(Grant(self.seq, rid, tlp.pasid, tlp.pmr, (addr >> ats.PAGE_SHIFT) &
                                         ~ats.size_mask(e.size), e.size, e.page, e.r, e.w))
                self.stats["granted"] += 1
                coverage.ats_translation("granted_rw" if e.w else "granted_r", "read" if nw else "write")
                coverage.ats_entry_size(e.size)
                self.log.append(("granted", (addr, e)))
            else:
                self.stats["no_translation"] += 1
                coverage.ats_translation("no_translation", "read" if nw else "write")
                self.log.append(("no_translation", (addr, e)))
            payload += e.to_payload()
        cpl = PasidTlp.create_completion_data_for_tlp(tlp, PcieId(0, 0, 0))
        cpl.at = 0
        cpl.set_data(payload)
        cpl.byte_count = len(payload)
        cpl.lower_address = (self.rcb - len(payload)) & 0x7F
        gate = self.hold.pop((tlp.pasid, tlp.address >> ats.PAGE_SHIFT), None)
        if gate is not None:
            self.held.set()
            cocotb.start_soon(self._send_when(gate, cpl))
            return
        await self.rc.send(cpl)

    async def _send_when(self, gate: Event, cpl):
        await gate.wait()
        await self.rc.send(cpl)

    # ---- the checker: the device's TLPs in the order it sent them ------------------------------------
    def _check_device_tlp(self, tlp):
        if tlp.is_message() or int(tlp.at) != ats.AT_TRANSLATED:
            return
        is_write = tlp.is_mem_write()
        nbytes = tlp.length * 4
        for g in self.grants:
            if g.revoked or g.pasid != tlp.pasid or g.priv != bool(tlp.pmr) or g.rid != int(tlp.requester_id):
                continue
            if g.covers_pa(tlp.address, nbytes) and (g.w if is_write else g.r):
                return
        stale = [g for g in self.grants if g.revoked and g.pasid == tlp.pasid and g.covers_pa(tlp.address, nbytes)]
        raise ProtocolError(f"ATC checker: translated {'write' if is_write else 'read'} {tlp!r} is not inside a "
                            f"live grant with {'W' if is_write else 'R'}"
                            f"{f' (revoked grants cover it: {stale[:2]})' if stale else ''}")

    def _on_message(self, tlp):
        if tlp.is_page_request():
            self.log.append(("page_req", tlp))
            if self.page_request_handler is None:
                raise ProtocolError(f"Page Request {tlp!r} but the platform has no page request queue attached")
            self.page_request_handler(tlp)
            return
        cc, vector = tlp.inv_completion_fields()
        self.stats["inv_cpl"] += 1
        for itag in range(ats.ITAGS):
            if not vector >> itag & 1:
                continue
            inv = self.inflight.pop(itag, None)
            if inv is None:
                raise ProtocolError(f"Invalidate Completion for ITag {itag}, which the TA has not sent: {tlp!r}")
            outstanding = self.shim_read_tlps()
            late = [t for t, r in inv.reads.items() if outstanding.get(t) is r]
            if late:
                raise ProtocolError(f"Invalidate Completion for ITag {itag} before the completions of the "
                                    f"translated reads outstanding when the request was sent (tags {late}) "
                                    f"were received (PCIe 10.3.1): {tlp!r}")
            for g in self.grants:
                if g.seq <= inv.seq and not g.revoked and (inv.pasid is None or g.pasid == inv.pasid) and \
                        inv.body.covers(g.page, g.size):
                    g.revoked = True
            # revoked grants are kept a while, only to name them in the checker's message
            self.grants = [g for g in self.grants if not g.revoked or g.seq > self.seq - 256]
            self.completed.append(inv)
            coverage.ats_invalidation("all" if inv.body.size >= ats.SIZE_ALL else "page" if inv.body.size == 0
                                      else "range", inv.pasid is not None, bool(inv.reads))
            self.log.append(("inv_cpl", itag))
            self.rc.log.info("ATS: Invalidate Completion ITag %d", itag)
            inv.done.set()

    def shim_read_tlps(self) -> dict:
        """The device's reads still waiting for their completions, by tag (the shim's record)."""
        reads = getattr(self.shim, "outstanding_reads", None)
        return reads() if reads else {}

    def translated_reads(self) -> dict:
        return {t: r for t, r in self.shim_read_tlps().items() if int(r.at) == ats.AT_TRANSLATED}

    # ---- downstream: invalidations ------------------------------------------------------------------
    def send_invalidate_request(self, pasid: int | None, page: int, size: int = 0, glob: bool = False) -> int:
        """Send one Invalidate Request (untranslated range: 2^size pages at `page`); returns its ITag."""
        free = [t for t in range(ats.ITAGS) if t not in self.inflight]
        if not free:
            raise RuntimeError("32 Invalidate Requests outstanding: the TA must wait for a completion first")
        itag = free[0]
        tlp = PasidTlp.create_invalidate_request(requester_id=self.ta_id, dest_id=self.shim.requester_id, itag=itag,
                                                 page=page, size=size, glob=glob, pasid=pasid)
        inv = Invalidation(itag, self.seq, pasid, ats.InvalidatePayload(page & ~ats.size_mask(size)
                                                                        if size < ats.SIZE_ALL else 0, size, glob),
                           reads=self.translated_reads())
        self.inflight[itag] = inv
        self.stats["inv_req"] += 1
        self.log.append(("inv_req", (itag, pasid, page, size)))
        self.rc.log.info("ATS: Invalidate Request ITag %d PASID %s page %#x size 2^%d pages", itag, pasid, page, size)
        self.shim.deliver_message(tlp)
        return itag

    def send_prg_response(self, dest_id: int, pasid: int | None, prgi: int, code: int) -> None:
        """Send one PRG Response (the platform's page group response / CMD_PRI_RESP) to the device."""
        tlp = PasidTlp.create_prg_response(requester_id=self.ta_id, dest_id=dest_id, prgi=prgi, code=code,
                                           pasid=pasid)
        self.log.append(("prg_resp", (pasid, prgi, code)))
        self.rc.log.info("PRI: PRG Response PRGI %d PASID %s code %#x", prgi, pasid, code)
        self.shim.deliver_message(tlp)

    async def wait_invalidations(self, itags=None, timeout_ns: int = 200_000) -> None:
        """Wait until the given ITags (default: every outstanding one) have their Invalidate Completions."""
        pending = [self.inflight[t] for t in (self.inflight if itags is None else itags) if t in self.inflight]
        for inv in pending:
            if not inv.done.is_set():
                await with_timeout(inv.done.wait(), timeout_ns, "ns")

    def flr(self) -> None:
        """FLR: the ATC is empty and outstanding invalidations may be dropped (PCIe §10.3.7/§10.3.8)."""
        for inv in self.inflight.values():
            inv.done.set()
        self.inflight.clear()
        for g in self.grants:
            g.revoked = True

