"""cocotb tests of imsdev_pri (run by test_block_ats.py): page-request slots, credits, PRG index rotation, the
Page Request TLP, PRG Response matching, RF/UPRGI pulses, Stopped (PCIe 10.4; docs/ats_pri.md 1.2, 1.5, 2.6).

The bench plays the two DMA sides (req held until done, a new random key per request), the TA (PRG Responses
on the rx_msg tap: right, unknown, stale or wrong-PASID indices, every response code, other messages), the
link's PRI Control (Enable, Reset pulses, allocation, Bus Master Enable) and the message writer (pq_ready with
random backpressure). PriModel holds the rules of the spec pages:
  - a slot asked for while PRI is unusable (Enable 0, RF latched, allocation 0) or in a Reset cycle ends at once
    with FAIL; a pending slot ends with FAIL when PRI becomes unusable, on Reset, or on another slot's RF;
  - a Page Request may appear only for a pending slot while outstanding < allocation, PRI usable, BME 1 (all in
    the cycle before it appears) and must appear within LIVE cycles once it could; its fields are exact
    (Fmt/Type 0x30, TC/Attr/Length 0, Requester ID, tag 0, code 0x04, page address, PRG index, L = 1, W for
    the write slot, R for the read slot, PASID prefix with PMR = priv, ER = 0);
  - PRG index = {counter, slot}, the slot's counter moving on when a request stops being outstanding: never
    two outstanding with one index, and a late response to an earlier index does not match;
  - a response (Fmt/Type 0x32 or 0x72, code 0x05) matches an outstanding slot by index and by PASID when it
    has a prefix: Success / Invalid Request / anything else = FAIL with RF (every other slot FAIL too); no
    match: UPRGI; while RF is latched responses are ignored; Enable 0 -> 1 clears RF;
  - Stopped = nothing outstanding.
Seeds: COCOTB_RANDOM_SEED xor the test name.
"""
from __future__ import annotations

import random
import zlib

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from tb.bad_inputs import BadInput
from tb.clock import start_clock
from tb.pcie.ats import FT_MSG_ID, FT_MSG_TO_RC, FT_MSGD_ID, MSG_CODE_INV_REQ, MSG_CODE_PAGE_REQ, MSG_CODE_PRG_RESP

SLOTS = 2
WRITE_SLOT = 1                 # slot 0: read side (R), slot 1: write side (W)
PR_SUCCESS, PR_INVALID, PR_FAIL = 0, 1, 2
IDLE, PEND, OUT = "idle", "pend", "out"
LIVE = 4                       # cycles a page request may wait once everything allows it
PASID_PREFIX = 0x91


def prg_response(bdf: int, prgi: int, code: int, host: int = 0x0010, ft: int = FT_MSG_ID,
                 msg_code: int = MSG_CODE_PRG_RESP) -> int:
    """PRG Response header: bytes 4-5 the host's requester ID, byte 7 code 0x05, bytes 8-9 destination (the
    function), bytes 10-11 response code 15:12 | PRG index 8:0."""
    return ft << 120 | host << 80 | msg_code << 64 | bdf << 48 | (code & 0xF) << 44 | (prgi & 0x1FF) << 32


class PriModel:
    def __init__(self):
        self.reset()

    def reset(self):
        self.st = [IDLE] * SLOTS
        self.key = [None] * SLOTS          # (page, pasid, priv) of the slot's request
        self.cnt = [0] * SLOTS
        self.rf = False

    def n_out(self):
        return sum(s == OUT for s in self.st)

    def prgi(self, s):
        return (self.cnt[s] << 1 | s) & 0x1FF


class PriBench:
    def __init__(self, dut, name):
        self.dut = dut
        self.seed = (cocotb.RANDOM_SEED ^ zlib.crc32(name.encode())) & 0x7FFF_FFFF
        self.rng = random.Random(self.seed)
        dut._log.info("%s: seed %d", name, self.seed)
        self.m = PriModel()
        self.bdf = self.rng.randrange(1, 1 << 16)
        # link / configuration
        self.en, self.alloc, self.bme = 1, 2, 1
        self.en_q = 0                      # Enable as the RTL saw it last cycle (0 -> 1 clears RF)
        self.uprgi_q = self.rf_set_q = False   # the status pulses due this cycle (registered outputs)
        self.prev = None                   # the previous cycle's (en, alloc, bme, reset, model usable, n_out)
        # sides: the request each side holds (None: idle)
        self.side_req = [None] * SLOTS
        self.pq_bp = 0.3
        self.pq_shown = False              # a Page Request shown and not yet taken
        self.wait = [0] * SLOTS            # cycles a pending slot could have been issued
        self.cycle_no = 0
        # observations
        self.sent = []                     # (slot, prgi, key)
        self.done_log = []                 # (slot, res, key)
        self.uprgi = 0
        self.rf_sets = 0
        self.max_out = 0

    async def start(self):
        d = self.dut
        start_clock(d.clk, 10)
        for sig in ("req", "req_pasid", "req_priv", "req_page", "msg_valid", "msg_hdr", "msg_prfx_valid", "msg_prfx",
                    "pq_ready", "cfg_pri_reset"):
            getattr(d, sig).value = 0
        d.cfg_bdf.value = self.bdf
        self._drive_cfg()
        d.rst.value = 1
        for _ in range(3):
            await RisingEdge(d.clk)
        d.rst.value = 0
        await FallingEdge(d.clk)

    def _drive_cfg(self):
        d = self.dut
        d.cfg_pri_en.value = self.en
        d.cfg_pri_alloc.value = self.alloc
        d.cfg_bus_master_en.value = self.bme

    def usable(self):
        return bool(self.en) and not self.m.rf and self.alloc != 0

    def new_key(self):
        r = self.rng
        page = r.choice([r.randrange(1 << 20), r.randrange(1 << 52), (1 << 52) - 1 - r.randrange(16)])
        return page, r.randrange(1 << 20), r.randrange(2)

    def ask(self, s, key=None):
        """Side s asks for a page (held until its done)."""
        assert self.side_req[s] is None
        self.side_req[s] = key or self.new_key()

    async def cycle(self, msg=None, reset=False, pq_ready=None):
        """One cycle. msg: (hdr, pasid or None) offered on the rx_msg tap; reset: a cfg_pri_reset pulse."""
        d = self.dut
        m = self.m
        self.cycle_no += 1
        # ---- inputs
        self._drive_cfg()
        d.cfg_pri_reset.value = int(reset)
        req = pasid = priv = page = 0
        for s in range(SLOTS):
            if self.side_req[s] is not None:
                pg, pa, pv = self.side_req[s]
                req |= 1 << s
                pasid |= pa << (20 * s)
                priv |= pv << s
                page |= pg << (52 * s)
        d.req.value = req
        d.req_pasid.value = pasid
        d.req_priv.value = priv
        d.req_page.value = page
        d.msg_valid.value = int(msg is not None)
        if msg is not None:
            hdr, mp = msg
            d.msg_hdr.value = hdr
            d.msg_prfx_valid.value = int(mp is not None)
            d.msg_prfx.value = PASID_PREFIX << 24 | (mp or 0)
        ready = int(self.rng.random() >= self.pq_bp) if pq_ready is None else int(pq_ready)
        d.pq_ready.value = ready
        await ReadOnly()

        # ---- a new Page Request: issued at the last edge, from a pending slot, with a credit
        pq_valid = bool(d.pq_valid.value)
        if pq_valid and not self.pq_shown:
            self.check_page_request(int(d.pq_hdr.value), int(d.pq_prfx.value))
        self.pq_shown = pq_valid and not ready

        # ---- expected outputs of this cycle
        usable = self.usable()
        want_done = [None] * SLOTS
        rsp = match = False
        code = slot = None
        if msg is not None:
            hdr, mp = msg
            rsp = (hdr >> 120) in (FT_MSG_ID, FT_MSGD_ID) and (hdr >> 64) & 0xFF == MSG_CODE_PRG_RESP
            code, prgi = (hdr >> 44) & 0xF, (hdr >> 32) & 0x1FF
            slot = prgi & 1
            match = (m.st[slot] == OUT and prgi == m.prgi(slot)
                     and (mp is None or mp == m.key[slot][1]))
        take = rsp and not m.rf
        rf_now = take and match and code not in (0, 1)
        for s in range(SLOTS):
            if m.st[s] == IDLE:
                if self.side_req[s] is not None and (not usable or reset):
                    want_done[s] = PR_FAIL
            elif m.st[s] == PEND:
                if not usable or reset or rf_now:
                    want_done[s] = PR_FAIL
            else:
                if take and match and slot == s:
                    want_done[s] = PR_SUCCESS if code == 0 else PR_INVALID if code == 1 else PR_FAIL
                elif reset or rf_now:
                    want_done[s] = PR_FAIL
        done = int(d.done.value)
        res = int(d.done_res.value)
        for s in range(SLOTS):
            got = (res >> (2 * s)) & 3 if done >> s & 1 else None
            assert got == want_done[s], \
                f"seed {self.seed} cycle {self.cycle_no}: slot {s} ({m.st[s]}) done {got}, expected {want_done[s]} " \
                f"(msg {msg and hex(msg[0])}, usable {usable}, reset {reset}, rf {m.rf})"
        want_uprgi = take and not match
        # the status pulses are registered: they show the previous cycle's response
        assert bool(d.pri_uprgi_set.value) == self.uprgi_q, \
            f"seed {self.seed} cycle {self.cycle_no}: pri_uprgi_set {d.pri_uprgi_set.value}, expected {self.uprgi_q}"
        assert bool(d.pri_rf_set.value) == self.rf_set_q, \
            f"seed {self.seed} cycle {self.cycle_no}: pri_rf_set {d.pri_rf_set.value}, expected {self.rf_set_q}"
        self.uprgi_q, self.rf_set_q = want_uprgi, rf_now
        assert bool(d.pri_stopped.value) == (m.n_out() == 0), \
            f"seed {self.seed} cycle {self.cycle_no}: pri_stopped {d.pri_stopped.value} with {m.n_out()} outstanding"
        self.uprgi += want_uprgi
        self.rf_sets += rf_now

        # ---- liveness: a pending slot that could be issued is issued within LIVE cycles
        could = usable and not reset and not rf_now and self.bme and not pq_valid and m.n_out() < self.alloc
        for s in range(SLOTS):
            if m.st[s] == PEND and want_done[s] is None and could:
                self.wait[s] += 1
                assert self.wait[s] <= LIVE, f"seed {self.seed} cycle {self.cycle_no}: slot {s} pending, not issued"
            else:
                self.wait[s] = 0

        # ---- state after the edge
        self.prev = (bool(self.en), self.alloc, bool(self.bme), reset, usable, m.n_out(), rf_now)
        for s in range(SLOTS):
            if want_done[s] is not None:
                self.done_log.append((s, want_done[s], self.side_req[s]))
                if m.st[s] == OUT:
                    m.cnt[s] = (m.cnt[s] + 1) & 0xFF
                m.st[s] = IDLE
                self.side_req[s] = None
            elif m.st[s] == IDLE and self.side_req[s] is not None:
                m.st[s] = PEND
                m.key[s] = self.side_req[s]
        if self.en and not self.en_q:
            m.rf = False                   # Enable 0 -> 1 clears RF (PCIe T10-14)
        elif rf_now:
            m.rf = True
        self.en_q = self.en
        await RisingEdge(d.clk)
        await FallingEdge(d.clk)

    def check_page_request(self, h, prfx):
        m = self.m
        en, alloc, bme, reset, usable, n_out, rf_now = self.prev
        slot = (h >> 3) & 1
        s_txt = f"seed {self.seed} cycle {self.cycle_no}: Page Request {h:#034x}"
        assert m.st[slot] == PEND, f"{s_txt}: slot {slot} is {m.st[slot]}, not waiting for a page request"
        assert usable and not reset and not rf_now and bme, \
            f"{s_txt}: issued while PRI unusable/reset/BME 0 ({self.prev})"
        assert n_out < alloc, f"{s_txt}: issued with {n_out} outstanding and allocation {alloc}"
        page, pasid, priv = m.key[slot]
        assert h >> 120 == FT_MSG_TO_RC, f"{s_txt}: Fmt/Type {h >> 120:#x}, expected {FT_MSG_TO_RC:#x}"
        assert (h >> 96) & 0xFF_FFFF == 0, f"{s_txt}: TC/Attr/Length not 0"
        assert (h >> 80) & 0xFFFF == self.bdf, f"{s_txt}: Requester ID not the function's {self.bdf:#x}"
        assert (h >> 72) & 0xFF == 0, f"{s_txt}: tag not 0"
        assert (h >> 64) & 0xFF == MSG_CODE_PAGE_REQ, f"{s_txt}: message code"
        assert (h >> 32) & 0xFFFF_FFFF == page >> 20, f"{s_txt}: page address 63:32 (page {page:#x})"
        assert (h >> 12) & 0xF_FFFF == page & 0xF_FFFF, f"{s_txt}: page address 31:12 (page {page:#x})"
        assert (h >> 3) & 0x1FF == m.prgi(slot), f"{s_txt}: PRG index {(h >> 3) & 0x1FF:#x}, expected {m.prgi(slot):#x}"
        assert (h >> 2) & 1 == 1, f"{s_txt}: L = 0 (one page per PRG: L must be 1)"
        assert (h >> 1) & 1 == int(slot == WRITE_SLOT) and h & 1 == int(slot != WRITE_SLOT), \
            f"{s_txt}: W/R = {(h >> 1) & 1}/{h & 1} for slot {slot}"
        assert prfx == (PASID_PREFIX << 24 | priv << 23 | pasid), \
            f"{s_txt}: prefix {prfx:#010x}, expected PASID {pasid:#x} PMR {priv} ER 0"
        outstanding = [self.m.prgi(s) for s in range(SLOTS) if m.st[s] == OUT]
        assert m.prgi(slot) not in outstanding, f"{s_txt}: PRG index already outstanding"
        m.st[slot] = OUT
        self.sent.append((slot, m.prgi(slot), m.key[slot]))
        self.max_out = max(self.max_out, m.n_out())

    async def idle(self, n=1, **kw):
        for _ in range(n):
            await self.cycle(**kw)

    async def until(self, cond, limit=50, **kw):
        for _ in range(limit):
            if cond():
                return
            await self.cycle(**kw)
        assert cond(), f"seed {self.seed}: condition not reached in {limit} cycles"

    def respond(self, s, code, pasid="right", prgi=None):
        """A PRG Response for slot s's outstanding request."""
        m = self.m
        p = m.prgi(s) if prgi is None else prgi
        mp = None if pasid is None else (m.key[s][1] if pasid == "right" else (m.key[s][1] ^ 1))
        return prg_response(self.bdf, p, code), mp


async def _clear_rf(tb):
    """Enable 0 then 1 (the way software re-enables PRI); the model's RF clears with the rising edge."""
    tb.en = 0
    await tb.idle(2)
    tb.en = 1
    await tb.idle(2)
    assert not tb.m.rf


@cocotb.test()
async def test_page_request_fields(dut):
    """Each slot: Page Request fields for pages at both ends of the address space, PRIV 0/1, any PASID;
    Success ends the slot with PR_SUCCESS; pq backpressure holds the message."""
    tb = PriBench(dut, "fields")
    await tb.start()
    keys = [(0, 0, 0), ((1 << 52) - 1, (1 << 20) - 1, 1), (0x12345_6789A, 0x5A5A5, 0), (0xFFFFF, 0x1, 1)]
    for key in keys:
        for s in range(SLOTS):
            tb.ask(s, key)
            await tb.until(lambda: tb.m.st[s] == OUT, pq_ready=0)
            await tb.idle(3, pq_ready=0)               # held while not taken (checked: no second request)
            await tb.idle(1, pq_ready=1)
            await tb.cycle(msg=tb.respond(s, 0))
            assert tb.done_log[-1] == (s, PR_SUCCESS, key)
    assert len(tb.sent) == 2 * len(keys)


@cocotb.test()
async def test_credits(dut):
    """Allocation 0: every request ends with FAIL at once, nothing sent. Allocation 1: the read and the write
    side ask together, one request outstanding at a time, the other sent after the first response. Allocation 2:
    both outstanding."""
    tb = PriBench(dut, "credits")
    tb.pq_bp = 0.0
    await tb.start()
    tb.alloc = 0
    tb.ask(0)
    tb.ask(1)
    await tb.idle(3)
    assert [x[:2] for x in tb.done_log] == [(0, PR_FAIL), (1, PR_FAIL)] and not tb.sent
    for alloc in (1, 2):
        tb.alloc = alloc
        tb.ask(0)
        tb.ask(1)
        await tb.until(lambda: len(tb.sent) >= 1)
        await tb.idle(10)
        assert tb.m.n_out() == alloc, f"allocation {alloc}: {tb.m.n_out()} outstanding"
        first = tb.sent[-1][0] if alloc == 1 else 0
        await tb.cycle(msg=tb.respond(first, 0))
        await tb.until(lambda: tb.m.n_out() == 1)
        other = 1 - first
        await tb.cycle(msg=tb.respond(other, 1))
        assert tb.done_log[-1][:2] == (other, PR_INVALID)
        await tb.idle(2)
        assert tb.m.n_out() == 0
    assert tb.max_out == 2


@cocotb.test()
async def test_prgi_rotation(dut):
    """600 requests on each slot: the index rotates through all 256 counter values ({counter, slot}), never two
    outstanding alike; a late response to the previous index, a response to the other slot's idle index, and
    one with a wrong PASID set UPRGI and change nothing; a response without a prefix matches."""
    tb = PriBench(dut, "prgi")
    tb.pq_bp = 0.0
    await tb.start()
    seen = [set(), set()]
    for i in range(600):
        for s in range(SLOTS):
            tb.ask(s)
        await tb.until(lambda: tb.m.n_out() == 2)
        for s in range(SLOTS):
            seen[s].add(tb.m.prgi(s))
            if i % 7 == 0:
                n = tb.uprgi
                await tb.cycle(msg=(prg_response(tb.bdf, (tb.m.prgi(s) - 2) & 0x1FF, 0), None))   # previous index
                await tb.cycle(msg=tb.respond(s, 0, pasid="wrong"))
                assert tb.uprgi == n + 2 and tb.m.st[s] == OUT
            await tb.cycle(msg=tb.respond(s, 0, pasid=None if i % 2 else "right"))
            assert tb.done_log[-1][:2] == (s, PR_SUCCESS)
        await tb.cycle(msg=(prg_response(tb.bdf, 0x155, 0), None))       # nothing outstanding: UPRGI
    assert all(len(x) == 256 for x in seen), [len(x) for x in seen]


@cocotb.test()
async def test_response_codes(dut):
    """Every response code on each slot with both slots outstanding: 0 Success, 1 Invalid Request, 0xF and the
    unused 2..0xE Response Failure: RF pulse, the other slot ends with FAIL in the same cycle, later requests FAIL
    at once, later responses are ignored (no UPRGI) until Enable 0 -> 1. With allocation 1 a Response Failure
    also ends the pending slot. Other message codes and a code 0x05 that is not ID-routed are ignored."""
    tb = PriBench(dut, "codes")
    await tb.start()
    for code in range(16):
        for s in range(SLOTS):
            for alloc in (2, 1):
                tb.alloc = alloc
                tb.ask(s)
                await tb.until(lambda: tb.m.st[s] == OUT, limit=60)
                tb.ask(1 - s)
                if alloc == 2:
                    await tb.until(lambda: tb.m.st[1 - s] == OUT, limit=60)
                await tb.idle(3)
                assert tb.m.st[1 - s] == (OUT if alloc == 2 else PEND)
                await tb.cycle(msg=(prg_response(tb.bdf, tb.m.prgi(s), 0, msg_code=MSG_CODE_INV_REQ), None))
                await tb.cycle(msg=(prg_response(tb.bdf, tb.m.prgi(s), 0, ft=FT_MSG_TO_RC), None))
                n = len(tb.done_log)
                await tb.cycle(msg=tb.respond(s, code))
                want = PR_SUCCESS if code == 0 else PR_INVALID if code == 1 else PR_FAIL
                got = sorted(x[:2] for x in tb.done_log[n:])
                if code >= 2:
                    assert got == [(0, PR_FAIL), (1, PR_FAIL)] and tb.m.rf, f"code {code}: {got}"
                    u = tb.uprgi
                    await tb.cycle(msg=(prg_response(tb.bdf, 0x1FF, 0), None))       # ignored while RF
                    assert tb.uprgi == u
                    tb.ask(s)
                    await tb.idle(2)
                    assert tb.done_log[-1][:2] == (s, PR_FAIL) and not tb.m.n_out()
                    await _clear_rf(tb)
                else:
                    assert got == [(s, want)], f"code {code}: {got}"
                    await tb.until(lambda: tb.m.st[1 - s] == OUT, limit=60)
                    await tb.cycle(msg=tb.respond(1 - s, 0))
                await tb.idle(2)
    assert tb.rf_sets == 14 * 2 * 2


@cocotb.test()
async def test_stopped_reset_enable(dut):
    """Stopped follows the outstanding requests; Reset ends every slot with FAIL (a late response then sets
    UPRGI); Enable 0 with a request outstanding: no new request, the outstanding one still completes and
    Stopped comes back; BME 0 holds a pending request back."""
    tb = PriBench(dut, "stopped")
    tb.pq_bp = 0.0
    await tb.start()
    tb.ask(0)
    tb.ask(1)
    await tb.until(lambda: tb.m.n_out() == 2)
    old = [tb.m.prgi(0), tb.m.prgi(1)]
    tb.en = 0
    await tb.cycle(reset=True)
    assert tb.m.n_out() == 0 and tb.done_log[-2:][0][1] == PR_FAIL
    await tb.cycle(msg=(prg_response(tb.bdf, old[0], 0), None))
    assert tb.uprgi == 1
    tb.en = 1
    await tb.idle(2)
    tb.ask(1)
    await tb.until(lambda: tb.m.n_out() == 1)
    tb.en = 0
    tb.ask(0)                                     # PRI off: fails at once
    await tb.idle(3)
    assert tb.done_log[-1][:2] == (0, PR_FAIL) and tb.m.n_out() == 1
    await tb.cycle(msg=tb.respond(1, 0))
    assert tb.done_log[-1][:2] == (1, PR_SUCCESS) and tb.m.n_out() == 0
    tb.en = 1
    tb.bme = 0
    n = len(tb.sent)
    tb.ask(0)
    await tb.idle(20)
    assert tb.m.st[0] == PEND and len(tb.sent) == n, "a Page Request with Bus Master Enable 0"
    tb.bme = 1
    await tb.until(lambda: tb.m.n_out() == 1)
    tb.en = 0                                     # the outstanding request stays outstanding
    await tb.idle(5)
    assert tb.m.n_out() == 1
    await tb.cycle(msg=tb.respond(0, 1))
    assert tb.done_log[-1][:2] == (0, PR_INVALID)


@cocotb.test()
async def test_random(dut):
    """Random sides, responses (right, stale, unknown, wrong PASID, no prefix; every code), Enable/Reset/
    allocation/BME changes and pq backpressure, against PriModel every cycle."""
    tb = PriBench(dut, "random")
    await tb.start()
    r = tb.rng

    def goals_met():
        return len(tb.sent) > 1000 and tb.uprgi > 50 and tb.rf_sets > 5 and tb.max_out == 2

    # At least 20,000 cycles, then on until the goals below are reached (about 1 seed in 10 is short of 1,000
    # page requests at 20,000), at most 200,000.
    n = 0
    while n < 20000 or (not goals_met() and n < 200000):
        n += 1
        for s in range(SLOTS):
            if tb.side_req[s] is None and r.random() < 0.2:
                tb.ask(s)
        msg = None
        reset = False
        x = r.random()
        outs = [s for s in range(SLOTS) if tb.m.st[s] == OUT]
        if outs and x < 0.15:
            s = r.choice(outs)
            code = r.choices([0, 1, 0xF, r.randrange(2, 15)], [70, 20, 3, 2])[0]
            msg = tb.respond(s, code, pasid=r.choice(["right", None, "right", "wrong"]))
        elif x < 0.17:
            msg = (prg_response(tb.bdf, r.randrange(512), r.randrange(16)), r.choice([None, r.randrange(1 << 20)]))
        elif x < 0.171:
            reset = True
        y = r.random()
        stuck = not tb.en or tb.m.rf or not tb.alloc or not tb.bme       # come back from these more often
        if y < (0.03 if stuck else 0.002):
            tb.en ^= 1
        elif y < (0.06 if stuck else 0.004):
            tb.alloc = r.choice([0, 1, 2, 2, 3])
        elif y < (0.09 if stuck else 0.006):
            tb.bme ^= 1
        await tb.cycle(msg=msg, reset=reset)
    dut._log.info("random: %d cycles, %d page requests, %d UPRGI, %d RF, outcomes %s", n, len(tb.sent), tb.uprgi,
                  tb.rf_sets, {k: sum(x[1] == k for x in tb.done_log) for k in (PR_SUCCESS, PR_INVALID, PR_FAIL)})
    assert goals_met(), (n, len(tb.sent), tb.uprgi, tb.rf_sets, tb.max_out)


BAD_INPUTS = (
    BadInput(cls="tlp", input="PRG Response (imsdev_pri) whose PRG index is not outstanding: unknown, the slot's "
                              "previous index (late or repeated), or with nothing outstanding",
             outcome="pri_uprgi_set one cycle later, no slot ends, dropped", test="test_prgi_rotation"),
    BadInput(cls="tlp", input="PRG Response (imsdev_pri) with the outstanding index but another PASID in its prefix",
             outcome="pri_uprgi_set, the slot stays outstanding", test="test_prgi_rotation"),
    BadInput(cls="tlp", input="PRG Response (imsdev_pri) with Response Failure 0xF or an unused code 0x2..0xE",
             outcome="the slot and every other pending or outstanding slot end with FAIL (no-BOF), pri_rf_set; "
                     "later responses ignored (no UPRGI) and new requests FAIL at once until Enable 0 -> 1",
             test="test_response_codes"),
    BadInput(cls="tlp", input="Message code 0x05 not routed by ID (Fmt/Type 0x30), or another code (0x01) in a "
                              "Msg routed by ID, on the rx_msg tap of imsdev_pri",
             outcome="ignored: no slot ends, no UPRGI", test="test_response_codes"),
    BadInput(cls="config", input="PRI Outstanding Page Request Allocation 0 (imsdev_pri)",
             outcome="every page request asked for ends with FAIL at once (the side behaves as without BOF), "
                     "no Page Request", test="test_credits"),
    BadInput(cls="config", input="PRI Reset (cfg_pri_reset) with page requests outstanding (imsdev_pri)",
             outcome="every slot ends with FAIL, Stopped at once, a late response then sets UPRGI",
             test="test_stopped_reset_enable"),
)
