"""cocotb tests of imsdev_ats_inv (run by test_block_ats.py): Invalidate Request intake, ATC invalidate outputs,
read/write snapshots, coalesced Invalidate Completions (PCIe 10.3; docs/ats_pri.md 1.4, 2.5).

The bench plays the TA (rx_msg), the DMA engine's four counters and the message writer (cpl_ready with random
backpressure). Its model: a request taken when the counters read (A, P) completes once retired >= A and
sent >= P (A, P read two cycles after the request), completions in request order, coalesced per TA. The ATC
invalidate (inv_valid and its fields) is shown exactly in the cycle after each Invalidate Request is taken, and
in no other cycle; the snapshots are read the cycle after that, once the ATC is cleared.
Seeds: COCOTB_RANDOM_SEED xor the test name.
"""
from __future__ import annotations

import random
import zlib

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from tb.clock import start_clock

from .atc_model import PAGE_MASK, s_decode, s_encode

FT_MSGD_ID, FT_MSG_ID, FT_MWR64 = 0x72, 0x32, 0x60


def inv_req_hdr(ta: int, itag: int, dev: int, code: int = 0x01, ft: int = FT_MSGD_ID) -> int:
    """Invalidate Request header: bytes 4-5 TA requester ID, byte 6 ITag, byte 7 message code, bytes 8-9 the
    function's ID; Length 2 (the payload)."""
    return ft << 120 | 2 << 96 | ta << 80 | itag << 72 | code << 64 | dev << 48


def inv_payload(page: int, s: int) -> int:
    """2-DW payload as the data bus carries it (byte k = bits 8k+7:8k): entry bits 63:32 first, big-endian."""
    entry = page << 12 | s << 11
    return int.from_bytes(entry.to_bytes(8, "big"), "little")


class InvBench:
    def __init__(self, dut, name):
        self.dut = dut
        self.seed = (cocotb.RANDOM_SEED ^ zlib.crc32(name.encode())) & 0x7FFF_FFFF
        self.rng = random.Random(self.seed)
        dut._log.info("%s: seed %d", name, self.seed)
        self.bdf = self.rng.randrange(1, 1 << 16)
        self.stu = 0
        self.alloc = self.retire = self.planned = self.sent = 0
        self.pending = []         # [ta, itag, a_snap, p_snap, cycles to the snapshot] in order
        self.inv_taken_last = False  # an Invalidate Request was taken in the previous cycle
        self.cpls = []            # (ta, vector) received
        self.inv_seen = []        # (has_pasid, pasid, page, size)
        self.cpl_bp = 0.3

    async def start(self):
        d = self.dut
        start_clock(d.clk, 10)
        for sig in ("rx_msg_valid", "rx_msg_sop", "rx_msg_eop", "rx_msg_hdr", "rx_msg_prfx_valid", "rx_msg_prfx",
                    "rx_msg_data", "cpl_ready", "rd_alloc_count", "rd_retire_count", "wr_planned_count",
                    "wr_sent_count"):
            getattr(d, sig).value = 0
        d.cfg_bdf.value = self.bdf
        d.cfg_ats_stu.value = self.stu
        d.rst.value = 1
        for _ in range(3):
            await RisingEdge(d.clk)
        d.rst.value = 0
        await FallingEdge(d.clk)

    def expected_ready(self):
        """Entries at the head that may complete (in order)."""
        n = 0
        for ta, itag, a, p, _ in self.pending:
            if a is None or self.retire < a or self.sent < p:
                break
            n += 1
        return n

    async def cycle(self, msg=None, drain=True):
        """One cycle: optionally offer one single-beat message (hdr, prfx or None, data); returns taken."""
        d = self.dut
        rng = self.rng
        d.rx_msg_valid.value = msg is not None
        if msg is not None:
            hdr, prfx, data = msg
            d.rx_msg_sop.value = 1
            d.rx_msg_eop.value = 1
            d.rx_msg_hdr.value = hdr
            d.rx_msg_prfx_valid.value = prfx is not None
            d.rx_msg_prfx.value = 0x91 << 24 | (prfx or 0)
            d.rx_msg_data.value = data
        d.cpl_ready.value = int(rng.random() >= self.cpl_bp)
        for name, v in (("rd_alloc_count", self.alloc), ("rd_retire_count", self.retire),
                        ("wr_planned_count", self.planned), ("wr_sent_count", self.sent)):
            getattr(d, name).value = v & 0xFFFF
        await ReadOnly()
        taken = msg is not None and bool(d.rx_msg_ready.value)
        # snapshot of the request taken two cycles ago: the counters as they are in this cycle
        for e in self.pending:
            if e[2] is None:
                e[4] -= 1
                if e[4] == 0:
                    e[2], e[3] = self.alloc, self.planned
        assert bool(d.inv_valid.value) == self.inv_taken_last, \
            (f"seed {self.seed}: ATC invalidate {'shown' if d.inv_valid.value else 'not shown'} in the cycle after "
             f"{'an' if self.inv_taken_last else 'no'} Invalidate Request was taken")
        if d.inv_valid.value:
            self.inv_seen.append((int(d.inv_has_pasid.value), int(d.inv_pasid.value), int(d.inv_page.value),
                                  int(d.inv_size.value)))
        self.inv_taken_last = bool(taken and (hdr >> 120) == FT_MSGD_ID and (hdr >> 64) & 0xFF == 0x01)
        if self.inv_taken_last:
            self.pending.append([(hdr >> 80) & 0xFFFF, (hdr >> 72) & 0x1F, None, None, 2])
        if d.cpl_valid.value and d.cpl_ready.value:
            self.check_cpl(int(d.cpl_hdr.value))
        await RisingEdge(d.clk)
        await FallingEdge(d.clk)
        return taken

    def check_cpl(self, h: int):
        assert h >> 120 == FT_MSG_ID, f"{h:#034x}: not a Msg routed by ID"
        assert (h >> 96) & 0xFFFFFF == 0, f"{h:#034x}: TC/attr/length not 0"
        assert (h >> 80) & 0xFFFF == self.bdf, "Requester ID is not the function's"
        assert (h >> 64) & 0xFF == 0x02, "message code is not Invalidate Completion"
        assert (h >> 32) & 0x7 == 1 and (h >> 35) & 0x1FFF == 0, f"CC {(h >> 32) & 7} (one completion: 1)"
        ta, vec = (h >> 48) & 0xFFFF, h & 0xFFFF_FFFF
        # the completion covers a prefix of the ready entries, all of one TA
        n = self.expected_ready()
        want = 0
        k = 0
        while k < n and self.pending[k][0] == ta and not (want >> self.pending[k][1] & 1):
            want |= 1 << self.pending[k][1]
            k += 1
        assert k > 0 and ta == self.pending[0][0], \
            f"seed {self.seed}: completion TA {ta:#x} vec {vec:#x}, pending {self.pending[:4]}, ready {n}"
        # the RTL may coalesce fewer than all ready ones (a later entry became ready after it sent)
        got = 0
        m = 0
        while m < k and (vec >> self.pending[m][1]) & 1:
            got |= 1 << self.pending[m][1]
            m += 1
        assert got == vec and m > 0, f"seed {self.seed}: vector {vec:#x}, ready prefix {want:#x}"
        del self.pending[:m]
        self.cpls.append((ta, vec))


@cocotb.test()
async def test_fields_and_range(dut):
    """One request at a time: inv_* from the payload (S decode every size, STU rounding), PASID prefix or none,
    the completion's fields; a message with another code or type is dropped (dropped_o)."""
    tb = InvBench(dut, "fields")
    await tb.start()
    rng = tb.rng
    for k in range(60):
        size = rng.choice([0, 1, 3, 9, 18, 30, 51])
        page = rng.randrange(1 << 52)
        s, field_ = s_encode(size, page)
        pasid = rng.randrange(1 << 20) if rng.random() < 0.7 else None
        tb.stu = rng.choice([0, 0, 2, 9])
        dut.cfg_ats_stu.value = tb.stu
        ta = rng.randrange(1 << 16)
        itag = rng.randrange(32)
        # (the previous request has completed, so the queue is empty: rx_msg_ready must be up)
        assert await tb.cycle((inv_req_hdr(ta, itag, tb.bdf), pasid, inv_payload(field_, s))), \
            f"seed {tb.seed}: request {k} refused with an empty queue"
        await tb.cycle()                   # the invalidate is shown in the cycle after the request is taken
        assert tb.inv_seen, "no ATC invalidate for the request"
        hp, p, pg, sz = tb.inv_seen.pop()
        assert (hp, pg, sz) == (int(pasid is not None), field_, max(s_decode(s, field_), tb.stu)), \
            (hp, hex(pg), sz, size, tb.stu)
        if pasid is not None:
            assert p == pasid
        for _ in range(20):
            if not tb.pending:
                break
            await tb.cycle()
        assert not tb.pending and tb.cpls[-1] == (ta, 1 << itag), (tb.pending, tb.cpls[-1:])
    # other messages: dropped, no invalidate, no completion
    for code, ft in ((0x02, FT_MSGD_ID), (0x05, FT_MSG_ID), (0x01, FT_MWR64)):
        n = len(tb.cpls)
        await tb.cycle((inv_req_hdr(1, 1, tb.bdf, code=code, ft=ft), None, 0))
        for _ in range(10):
            await tb.cycle()
        assert len(tb.cpls) == n and not tb.inv_seen


@cocotb.test()
async def test_snapshots_and_coalescing(dut):
    """Random traffic: requests from 2 TAs (32 ITags each, never more than 32 outstanding), counters that move
    (MRd allocated/retired, translated MWr planned/sent), completion backpressure. Every completion is for the
    oldest ready requests of one TA; none before its snapshots are reached; all complete in the end. The
    counters alternate every 500 cycles between falling behind (the queue fills up) and catching up (it
    drains), so requests also reach an empty queue with reads or writes outstanding after every slot has been
    used (counted: at least 5; 14-28 per run in the runs measured)."""
    tb = InvBench(dut, "snapshots")
    await tb.start()
    rng = tb.rng
    tas = [rng.randrange(1 << 16) for _ in range(2)]
    free = {ta: list(range(32)) for ta in tas}
    sent_reqs = lone_outstanding = 0
    for cyc in range(8000):
        # counters: allocate / plan, and retire / send behind (slower, or faster to catch up)
        behind = (cyc // 500) % 2 == 0
        if rng.random() < 0.3:
            tb.alloc += 1
        if tb.retire < tb.alloc and rng.random() < (0.25 if behind else 0.6):
            tb.retire += 1
        if rng.random() < 0.3:
            tb.planned += 1
        if tb.sent < tb.planned and rng.random() < (0.25 if behind else 0.6):
            tb.sent += 1
        lone = not tb.pending and (tb.retire < tb.alloc or tb.sent < tb.planned)
        msg = None
        if cyc < 7000 and rng.random() < 0.3 and len(tb.pending) < 32:
            ta = rng.choice(tas)
            # an ITag is reused only after its completion (PCIe 10.3.1)
            busy = {e[1] for e in tb.pending if e[0] == ta}
            cand = [t for t in free[ta] if t not in busy]
            if cand:
                itag = rng.choice(cand)
                s, f = s_encode(rng.choice([0, 9]), rng.randrange(1 << 40))
                msg = (inv_req_hdr(ta, itag, tb.bdf), rng.choice([None, rng.randrange(1 << 20)]), inv_payload(f, s))
        taken = await tb.cycle(msg)
        if msg is not None and not taken:
            assert len(tb.pending) >= 32, f"seed {tb.seed}: request refused with {len(tb.pending)} outstanding"
        sent_reqs += taken
        lone_outstanding += bool(taken and lone and sent_reqs > 32)
    for _ in range(2000):
        tb.retire, tb.sent = tb.alloc, tb.planned
        await tb.cycle()
        if not tb.pending:
            break
    assert not tb.pending, f"seed {tb.seed}: {len(tb.pending)} requests never completed"
    coalesced = sum(bin(v).count("1") > 1 for _, v in tb.cpls)
    dut._log.info("snapshots: %d requests, %d completions (%d coalesced), %d to an empty queue with reads or "
                  "writes outstanding", sent_reqs, len(tb.cpls), coalesced, lone_outstanding)
    assert sent_reqs > 300 and coalesced > 10 and lone_outstanding >= 5, (sent_reqs, coalesced, lone_outstanding)


@cocotb.test()
async def test_32_outstanding(dut):
    """32 requests back to back while nothing can complete (a read outstanding): all taken without a cycle of
    backpressure, the 33rd is refused until the first completes; then all 32 complete coalesced."""
    tb = InvBench(dut, "outstanding")
    await tb.start()
    tb.alloc = 1
    tb.cpl_bp = 0.0
    ta = 0x0010
    for itag in range(32):
        assert await tb.cycle((inv_req_hdr(ta, itag, tb.bdf), None, inv_payload(itag, 0))), \
            f"request {itag} refused"
    assert not await tb.cycle((inv_req_hdr(ta, 0, tb.bdf), None, 0)), "a 33rd outstanding request was taken"
    for _ in range(20):
        await tb.cycle()
    assert not tb.cpls, "completion before the outstanding read retired"
    tb.retire = 1
    for _ in range(80):
        await tb.cycle()
    assert not tb.pending and sum(bin(v).count("1") for _, v in tb.cpls) == 32, tb.cpls
    assert len(tb.cpls) <= 2, f"32 ready requests of one TA in {len(tb.cpls)} completions"


@cocotb.test()
async def test_lone_request_waits_for_its_snapshot(dut):
    """A request that arrives to an empty queue while a translated read or write issued before it is still
    outstanding completes only after that read retires / that write is sent: its snapshots are the ones
    taken two cycles after it, never the ones its queue slot held from an earlier request (whose reads have
    long retired) or from power-up. Random traffic keeps the queue full, so it sees this case only in its
    first cycles; here every one of the 32 slots is used three times (fresh, then holding an old snapshot),
    each request alone in the queue, with a read outstanding, a write planned or both, held 12 cycles."""
    tb = InvBench(dut, "lone")
    await tb.start()
    rng = tb.rng
    tb.cpl_bp = 0.0
    ta = 0x0020
    for k in range(96):
        kind = k % 3                                      # 0: a read, 1: a write, 2: both outstanding
        if kind != 1:
            tb.alloc += rng.randrange(1, 4)
        if kind != 0:
            tb.planned += rng.randrange(1, 4)
        itag = k % 32
        assert await tb.cycle((inv_req_hdr(ta, itag, tb.bdf), None, inv_payload(k, 0))), \
            f"seed {tb.seed}: request {k} refused with an empty queue"
        for cyc in range(12):
            await tb.cycle()
            assert not tb.cpls[k:], \
                (f"seed {tb.seed}: request {k} (slot {k % 32}, {('read', 'write', 'read and write')[kind]} "
                 f"outstanding) completed {cyc + 1} cycles after it was taken, before its snapshot was reached")
        tb.retire, tb.sent = tb.alloc, tb.planned
        for _ in range(20):
            if not tb.pending:
                break
            await tb.cycle()
        assert not tb.pending and tb.cpls[k:] == [(ta, 1 << itag)], \
            f"seed {tb.seed}: request {k}: pending {tb.pending}, completions {tb.cpls[k:]}"
