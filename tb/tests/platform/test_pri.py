"""PRI and Block-on-Fault end to end (issue 9 stage 2, docs/ats_pri.md 4: T1 PRI part, T7, T8, T9, T13, T15):
the device's Page Requests through the shim (tb/pcie/pri_link.py checks every one: PRI enabled, within the
allocation, TC 0, L = 1, no Stop Marker, PRGI not outstanding) to the platform's page request queue (x86: VT-d
PQA/PQH/PQT + QI type 9; arm: SMMUv3 PRIQ + CMD_PRI_RESP) and the kernel's handler thread
(fw/imsdev/platform/iommu_pri.py), which makes a process's lazy page resident and answers Success, or answers
Invalid Request for an address the process does not own.

Run with IMSDEV_PLATFORM=x86 or arm on builds with ATS_ENTRIES > 0 (default, small); on a build without ATS
every test is skipped (the PRI capability and CAP3.PRS exist only there). The ATC consistency checker of
tb/pcie/ats_agent.py runs in every test as in test_ats.py.
"""
from __future__ import annotations

import errno

import cocotb
from cocotb.triggers import RisingEdge
from cocotb.utils import get_sim_time
from cocotbext.pcie.core.utils import PcieId

from imsdev import regs
from imsdev.driver.uapi import DSA_COMP_PAGE_FAULT_IR
from imsdev.platform import iommu_pri as kpri

from tb import coverage
from tb.ats_bench import AtsHost
from tb.env import CLOCK_NS
from tb.params import DeviceParams
from tb.pcie import ats, pri
from tb.pcie.tlp import PasidTlp, ProtocolError
from tb.pri_bench import PriHost
from tb.sva import PAGE, SvaHost
from tb.tests.platform.common import PLATFORM, finish
from tb.wq import (CR_BYTES, FLAG_BOF, FLAG_CRAV, FLAG_RCR, OP_MEMFILL, OP_MEMMOVE, ST_PAGE_FAULT, ST_SUCCESS,
                   CompletionRecord, Descriptor, WqConfig, WqEnv)

try:
    _NO_PRI = DeviceParams.from_env().ats_entries == 0
except (RuntimeError, KeyError):
    _NO_PRI = False

VA_BASE = 0x0000_7E11_0000_0000
VA_SRC = VA_BASE                       # 2 resident pages
VA_DST = VA_BASE + 0x10_0000           # 2 resident pages
VA_CR = VA_BASE + 0x20_0000            # 1 resident page of records
VA_LAZY = VA_BASE + 0x30_0000          # 16 lazy pages (resident only after a page request)
VA_FORBID = VA_BASE + 0x50_0000        # 4 pages the process does not own
SHARED_WQ = 0
ST_WRITE = 0x80
ST_IR = DSA_COMP_PAGE_FAULT_IR         # 0x04
PRI_RETRIES = 4                        # docs/ats_pri.md 2.6
WAIT_NS = 50_000


async def start(dut, *, alloc=2, bof_en=True, enable_pri=True):
    env = await WqEnv.start(dut, "none", platform_options={"dma_translation": True}, ats=True)
    plat = env.b.platform
    assert plat is not None and plat.name == PLATFORM
    assert env.b.shim.pri_cap is not None, "the RTL has no PRI interface"
    host = SvaHost(env.b)
    ah = AtsHost(env.b)
    await ah.enable()
    ph = PriHost(ah, host)
    ph.scoreboard = env.sb
    if enable_pri:
        await ph.enable(alloc)
    await env.setup({SHARED_WQ: WqConfig(size=min(env.p.wq_depth, 8), bof_en=bof_en)})
    return env, plat, host, ah, ph


def new_process(env, host, name="A", *, bof=True):
    proc = host.process(name)
    proc.map(VA_SRC, 2 * PAGE)
    proc.map(VA_DST, 2 * PAGE)
    proc.map(VA_CR, PAGE)
    proc.map(VA_LAZY, 16 * PAGE, lazy=True)
    proc.forbid(VA_FORBID, 4 * PAGE)
    proc.pri_bof = bof
    env.sb.add_space(proc.bind(), proc)
    return proc


def desc(j, op, size, *, src=None, dst=None, cr=None, bof=True):
    return Descriptor(opcode=op, flags=FLAG_CRAV | FLAG_RCR | (FLAG_BOF if bof else 0),
                      cr_addr=VA_CR + 64 * j if cr is None else cr,
                      src=(VA_SRC + 0x80 + 0x40 * j) if src is None else src,
                      dst=(VA_DST + 0x100 + 0x40 * j) if dst is None else dst, size=size)


async def submit(env, proc, d):
    t = await env.sb.submit(SHARED_WQ, d, pasid=proc.pasid, priv=False, retries=200, backoff_cycles=10)
    assert t.accepted, f"{t} not accepted"
    return t


async def done(env, proc, t):
    await env.sb.wait_complete([t])
    await env.b.settle()
    return CompletionRecord.parse(proc.read(t.desc.cr_addr, CR_BYTES))


async def run(env, proc, d):
    t = await submit(env, proc, d)
    return t, await done(env, proc, t)


def st(rec) -> int:
    return rec.status | rec.status_bit7 << 7


def page_requests(env, n0=0):
    return env.b.shim.pri.requests[n0:]


async def wait_until(env, cond, what, timeout_ns=WAIT_NS):
    """Poll every 4 cycles until cond() holds (ends on the event; the bound only names a hang)."""
    deadline = get_sim_time("ns") + timeout_ns
    while not cond():
        if get_sim_time("ns") > deadline:
            raise AssertionError(f"{what}: not within {timeout_ns} ns")
        await env.b.cycles(4)


def check_pr(tlp, env, proc, va, *, write):
    """A Page Request's exact fields: the page, R/W, L = 1, the PASID prefix (PMR 0, ER 0), TC 0, cfg_bdf."""
    f = tlp.page_request_fields()
    assert (f.page, f.r, f.w, f.last) == (va >> 12, not write, write, True), f"{tlp!r}: {f}"
    assert (tlp.pasid, tlp.pmr, tlp.er, int(tlp.tc), int(tlp.requester_id)) == \
        (proc.pasid, False, False, 0, env.b.requester_id), f"{tlp!r}"


def treqs_for(env, n0, page):
    return [s.tlp for s in env.b.shim.tx_req_log[n0:] if not s.tlp.is_message()
            and int(s.tlp.at) == ats.AT_TRANSLATION_REQUEST and s.tlp.address >> 12 == page]


# ------------------------------------------------------------------------------------------------ T1
@cocotb.test(skip=_NO_PRI)
async def test_pri_enumeration(dut):
    """T1 (PRI part): PRI (ID 0x13, version 1) follows ATS in the chain; at reset Control 0, Status 0x8100
    (Stopped, PRG Response PASID Required), capacity 2 = CAP3.PRI_CAPACITY, allocation 0; CAP3.BOF = PRS = 1.
    pci_reset_pri pulses cfg_pri_reset once; pci_enable_pri(32) writes allocation 2 then E: cfg_pri_en = 1,
    cfg_pri_alloc = 2, Status 0x8000 (Stopped reads 0 while E = 1); a second pci_enable_pri is refused; FLR
    returns Control, Status and allocation to reset and cfg_pri_en / cfg_pri_alloc to 0."""
    env, plat, host, ah, ph = await start(dut, enable_pri=False)
    b = env.b
    ats_off = await b.find_ext_cap(ats.ATS_EXT_CAP_ID)
    pri_off = await b.find_ext_cap(pri.PRI_EXT_CAP_ID)
    assert ats_off and pri_off and (await b.dev.config_read_dword(ats_off)) >> 20 == pri_off, \
        f"PRI at {pri_off:#x} is not chained right after ATS at {ats_off:#x}"
    hdr = await b.dev.config_read_dword(pri_off)
    assert hdr & 0xFFFF == 0x0013 and (hdr >> 16) & 0xF == 1 and hdr >> 20 == 0, f"PRI header {hdr:#010x}"
    assert await b.dev.config_read_dword(pri_off + 4) == 0x8100_0000
    cap3 = await b.rd32(regs.CSR_CAP3)
    assert cap3 & (regs.CSR_CAP3_BOF_MASK | regs.CSR_CAP3_PRS_MASK) == 0x5, f"CAP3 {cap3:#x}"
    capacity = (cap3 & regs.CSR_CAP3_PRI_CAPACITY_MASK) >> regs.CSR_CAP3_PRI_CAPACITY_SHIFT
    assert capacity == pri.PRI_CAPACITY == await b.dev.config_read_dword(pri_off + 8)
    assert await b.dev.config_read_dword(pri_off + 12) == 0
    pulses = []

    async def count():
        while True:
            await RisingEdge(dut.cfg_pri_reset)
            pulses.append(get_sim_time("ns"))
    mon = cocotb.start_soon(count())
    await ph.enable(32)
    assert len(pulses) == 1, f"cfg_pri_reset pulsed {len(pulses)} times for one pci_reset_pri"
    assert await b.dev.config_read_dword(pri_off + 12) == 2
    assert await ph.control() == pri.PRI_CTRL_ENABLE and await ph.status() == pri.PRI_STATUS_PASID
    assert (int(dut.cfg_pri_en.value), int(dut.cfg_pri_alloc.value)) == (1, 2)
    assert await kpri.pci_enable_pri(ph.cfg, 1) < 0
    await b.function_level_reset()
    assert await b.dev.config_read_dword(pri_off + 4) == 0x8100_0000
    assert await b.dev.config_read_dword(pri_off + 12) == 0
    assert (int(dut.cfg_pri_en.value), int(dut.cfg_pri_alloc.value)) == (0, 0)
    mon.cancel()
    assert len(pulses) == 1, "FLR is no PRI reset pulse"


# ------------------------------------------------------------------------------------------------ T7
@cocotb.test(skip=_NO_PRI)
async def test_fault_bof_pri(dut):
    """T7: BOF descriptors on lazy pages: one Page Request per faulting page (source: R, destination and
    record: W; L = 1; PASID prefix, PMR 0), the kernel makes the page resident and answers Success, the device
    translates again and the descriptor succeeds with exact data (scoreboard). Forbidden pages: Invalid Request
    -> 0x04 (source) / 0x84 (destination), exact bytes and fault address, also mid-buffer. A no-BOF descriptor
    on a lazy page sends no Page Request and gets 0x03. Success without the page becoming resident: another
    Page Request, at most 4 rounds, then the no-BOF record 0x03 (read side) / 0x83 (write side). Response Failure: RF set, the descriptor gets
    0x03, later BOF descriptors get 0x03 without a Page Request until PRI is enabled again."""
    env, plat, host, ah, ph = await start(dut)
    a = new_process(env, host)
    shim = env.b.shim
    # source on a lazy page
    n0, l0 = len(page_requests(env)), len(shim.tx_req_log)
    d = desc(0, OP_MEMMOVE, 256, src=VA_LAZY + 0x100)
    t, rec = await run(env, a, d)
    await env.sb.check([t])
    assert st(rec) == ST_SUCCESS
    prs = page_requests(env, n0)
    assert len(prs) == 1, f"{len(prs)} Page Requests for one lazy source page"
    check_pr(prs[0], env, a, VA_LAZY, write=False)
    assert len(treqs_for(env, l0, VA_LAZY >> 12)) == 2, "no Translation Request after the Success response"
    coverage.pri_bof("effective")
    # destination on a lazy page, record on a lazy page
    n0 = len(page_requests(env))
    t, rec = await run(env, a, desc(1, OP_MEMFILL, 200, dst=VA_LAZY + PAGE + 0x40))
    await env.sb.check([t])
    prs = page_requests(env, n0)
    assert len(prs) == 1 and st(rec) == ST_SUCCESS
    check_pr(prs[0], env, a, VA_LAZY + PAGE, write=True)
    n0 = len(page_requests(env))
    t, rec = await run(env, a, desc(2, OP_MEMFILL, 64, cr=VA_LAZY + 2 * PAGE + 0x20))
    await env.sb.check([t])
    prs = page_requests(env, n0)
    assert len(prs) == 1 and st(rec) == ST_SUCCESS, f"record on a lazy page: {prs}, {rec}"
    check_pr(prs[0], env, a, VA_LAZY + 2 * PAGE, write=True)
    # forbidden: Invalid Request
    d = desc(3, OP_MEMMOVE, 64, src=VA_FORBID + 0x40)
    t, rec = await run(env, a, d)
    assert (st(rec), rec.bytes_completed, rec.fault_addr) == (ST_IR, 0, d.src), f"{rec}"
    assert t.status == ST_IR
    await env.sb.check([t])                 # the scoreboard predicts 0x04 for a BOF source it cannot map
    d = desc(4, OP_MEMFILL, 64, dst=VA_FORBID + PAGE)
    _, rec = await run(env, a, d)
    assert (st(rec), rec.bytes_completed, rec.fault_addr) == (ST_IR | ST_WRITE, 0, d.dst), f"{rec}"
    d = desc(5, OP_MEMMOVE, 512, src=VA_FORBID - 192, dst=VA_DST + 0x400)
    a.map(VA_FORBID - PAGE, PAGE)
    guard = a.read(d.dst, 512)
    t, rec = await run(env, a, d)
    assert (st(rec), rec.bytes_completed, rec.fault_addr) == (ST_IR, 192, VA_FORBID), f"mid-buffer {rec}"
    await env.sb.check([t])
    assert a.read(d.dst, 192) == a.read(d.src, 192) and a.read(d.dst + 192, 320) == guard[192:]
    # no BOF on a lazy page: no Page Request, 0x03
    n0 = len(page_requests(env))
    d = desc(6, OP_MEMMOVE, 64, src=VA_LAZY + 3 * PAGE, bof=False)
    t, rec = await run(env, a, d)
    await env.sb.check([t])
    assert (st(rec), rec.bytes_completed, rec.fault_addr) == (ST_PAGE_FAULT, 0, d.src) and \
        not page_requests(env, n0), f"{rec}"
    # Success without the page becoming resident: retried, bounded
    for rounds, lazy in ((2, VA_LAZY + 4 * PAGE), (PRI_RETRIES, VA_LAZY + 5 * PAGE)):
        ph.script[(a.pasid, lazy >> 12)] = [pri.RESP_SUCCESS] * (rounds - 1) if rounds < PRI_RETRIES \
            else [pri.RESP_SUCCESS] * PRI_RETRIES
        n0 = len(page_requests(env))
        d = desc(7 + rounds, OP_MEMMOVE, 64, src=lazy)
        _, rec = await run(env, a, d)
        n = len(page_requests(env, n0))
        if rounds < PRI_RETRIES:
            assert (n, st(rec)) == (rounds, ST_SUCCESS), f"{rounds - 1} unmapped Success: {n} requests, {rec}"
        else:
            assert (n, st(rec), rec.bytes_completed, rec.fault_addr) == (PRI_RETRIES, ST_PAGE_FAULT, 0, d.src), \
                f"Success {PRI_RETRIES} times without the page: {n} requests, {rec}"
    # the write side likewise: four Success answers without the page, then the no-BOF record 0x83
    lazy = VA_LAZY + 8 * PAGE
    ph.script[(a.pasid, lazy >> 12)] = [pri.RESP_SUCCESS] * PRI_RETRIES
    n0 = len(page_requests(env))
    d = desc(15, OP_MEMFILL, 64, dst=lazy + 0x80)
    _, rec = await run(env, a, d)
    prs = page_requests(env, n0)
    assert (len(prs), st(rec), rec.bytes_completed, rec.fault_addr) == \
        (PRI_RETRIES, ST_PAGE_FAULT | ST_WRITE, 0, d.dst), f"write side, Success {PRI_RETRIES} times: {prs}, {rec}"
    assert all(p.page_request_fields().w for p in prs)
    # Response Failure
    lazy = VA_LAZY + 6 * PAGE
    ph.script[(a.pasid, lazy >> 12)] = [pri.RESP_FAILURE]
    d = desc(12, OP_MEMMOVE, 64, src=lazy)
    _, rec = await run(env, a, d)
    assert (st(rec), rec.bytes_completed, rec.fault_addr) == (ST_PAGE_FAULT, 0, d.src), f"{rec}"
    assert await ph.status() & pri.PRI_STATUS_RF and shim.pri.stats["rf_set"] == 1
    n0 = len(page_requests(env))
    d = desc(13, OP_MEMFILL, 64, dst=VA_LAZY + 7 * PAGE)
    _, rec = await run(env, a, d)
    assert (st(rec), rec.bytes_completed, not page_requests(env, n0)) == (ST_PAGE_FAULT | ST_WRITE, 0, True), \
        f"BOF with RF latched: {rec}, {page_requests(env, n0)}"
    coverage.pri_bof("rf")
    await ph.disable()
    assert await ph.status() & pri.PRI_STATUS_STOPPED
    await ph.enable(2)
    assert not await ph.status() & pri.PRI_STATUS_RF
    t, rec = await run(env, a, desc(14, OP_MEMFILL, 64, dst=VA_LAZY + 7 * PAGE))
    await env.sb.check([t])
    assert st(rec) == ST_SUCCESS and len(page_requests(env, n0)) == 1
    ph.finish()
    await finish(env.b, plat, "test_fault_bof_pri")


# ------------------------------------------------------------------------------------------------ T8
@cocotb.test(skip=_NO_PRI)
async def test_pri_limits(dut):
    """T8: allocation 0, PRI Enable 0, a WQ without BOF_EN, a WQ with PRS_DISABLE: a BOF descriptor on a lazy
    page sends no Page Request and gets the no-BOF record (0x03 / 0x83). Allocation 1:
    a destination fault (MEMFILL) and a source fault (MEMMOVE) at once with the kernel thread held: one Page
    Request for 100 cycles after both sides were denied, the second only after the first's response (the shim
    counts outstanding requests against the allocation); PRI disabled with that request outstanding: Stopped 0
    and pci_enable_pri refused until its response arrives, then Stopped 1; the side still waiting for a credit
    resolves as without BOF (0x03). Allocation 2: both outstanding. PRG indices: never reused while outstanding (shim),
    exactly {per-side counter, slot} (read side slot 0, write side slot 1) over every request of the test."""
    env, plat, host, ah, ph = await start(dut, alloc=0)
    a = new_process(env, host)
    a.pri_bof = False                  # BOF is not effective until the allocation is above 0
    shim = env.b.shim
    assert await (await ph.cap()).read_dword(pri.PRI_ALLOC_REQ) == 0
    d = desc(0, OP_MEMMOVE, 64, src=VA_LAZY)
    _, rec = await run(env, a, d)
    assert (st(rec), rec.bytes_completed, len(page_requests(env))) == (ST_PAGE_FAULT, 0, 0), f"alloc 0: {rec}"
    coverage.pri_bof("no_allocation")
    # BOF not effective for the other reasons (docs/ats_pri.md 2.1): PRI Enable 0, WQCFG2.BOF_EN 0,
    # WQCFG2.PRS_DISABLE 1: each a no-BOF descriptor (0x03 / 0x83, no Page Request); the page stays lazy
    size = min(env.p.wq_depth, 8)
    await ph.disable()
    await ph.enable(2)
    await ph.disable()
    for j, (reason, cfg) in enumerate((("pri_off", None), ("wq_bof_en_0", WqConfig(size=size, bof_en=False)),
                                       ("prs_disable", WqConfig(size=size, bof_en=True, prs_disable=True)))):
        if cfg is not None:
            await env.cmd_ok(regs.CMD_DISABLE_WQ, SHARED_WQ)
            await env.enable_wq(SHARED_WQ, cfg)
        d = desc(20 + j, OP_MEMFILL, 64, dst=VA_LAZY + PAGE * 15)
        _, rec = await run(env, a, d)
        assert (st(rec), rec.bytes_completed, rec.fault_addr, len(page_requests(env))) == \
            (ST_PAGE_FAULT | ST_WRITE, 0, d.dst, 0), f"BOF not effective ({reason}): {rec}"
        coverage.pri_bof(reason)
        if j == 0:
            await ph.enable(2)
    await env.cmd_ok(regs.CMD_DISABLE_WQ, SHARED_WQ)
    await env.enable_wq(SHARED_WQ, WqConfig(size=size, bof_en=True))
    a.pri_bof = True
    for alloc in (1, 2):
        await ph.disable()
        await ph.enable(alloc)
        base = VA_LAZY + (1 + 4 * alloc) * PAGE
        n0, n_log = len(page_requests(env)), len(ah.agent.log)
        ph.pause()
        t1 = await submit(env, a, desc(1 + 2 * alloc, OP_MEMFILL, 64, dst=base))
        t2 = await submit(env, a, desc(2 + 2 * alloc, OP_MEMMOVE, 64, src=base + PAGE, dst=VA_DST + 0x800))
        denied = {base >> 12, (base + PAGE) >> 12}
        await wait_until(env, lambda: denied <= {x[1][0] >> 12 for x in ah.agent.log[n_log:]
                                                 if x[0] == "no_translation"},
                         "both sides' translations denied")
        await wait_until(env, lambda: len(page_requests(env, n0)) == alloc, f"{alloc} Page Request(s)")
        # both sides now want a Page Request; give the device time to send one more than allowed (the shim
        # raises at once if it does): this bound is the check itself, not a wait for an event
        await env.b.cycles(100)
        assert len(page_requests(env, n0)) == len(shim.pri.outstanding) == alloc
        if alloc == 1:
            # PRI disabled with a request outstanding: Stopped stays 0 until the response (so pci_enable_pri is
            # refused), and the response still ends the request (the side then waits as at allocation 0)
            await ph.disable()
            assert await ph.status() == pri.PRI_STATUS_PASID, "Stopped while a Page Request is outstanding"
            assert await kpri.pci_enable_pri(await ph.cap(), alloc) == -errno.EBUSY
            ph.resume()
            ph._notify()
            await wait_until(env, lambda: not shim.pri.outstanding, "the response while PRI is disabled")
            await wait_until(env, lambda: env.b.dut.pri_stopped.value == 1, "pri_stopped")
            assert await ph.status() == pri.PRI_STATUS_PASID | pri.PRI_STATUS_STOPPED
            await ph.enable(alloc)
            ph.pause()
        ph.resume()
        ph._notify()
        # at allocation 1 the read side was still waiting for a credit when PRI was disabled: it resolves as
        # without BOF (docs/ats_pri.md 2.6), 0x03 at its first byte; the write side got its answer
        want = (ST_SUCCESS, ST_SUCCESS if alloc == 2 else ST_PAGE_FAULT)
        if alloc == 1:
            t2.status = ST_PAGE_FAULT
        assert tuple([st(await done(env, a, t)) for t in (t1, t2)]) == want
        await env.sb.check([t1, t2])
        prs = page_requests(env, n0)
        assert sorted((p.page_request_fields().page, p.page_request_fields().w) for p in prs) == \
            [(base >> 12, True), ((base + PAGE) >> 12, False)][:alloc], f"allocation {alloc}: {prs}"
    assert shim.pri.max_outstanding == 2
    # PRGI rotation: four read-side faults, four write-side faults
    n0 = len(page_requests(env))
    for k in range(4):
        await run(env, a, desc(8 + k, OP_MEMMOVE, 64, src=VA_LAZY + (11 + k) * PAGE, dst=VA_DST + 0x40 * k))
    for k in range(4):
        await run(env, a, desc(12 + k, OP_MEMFILL, 64, dst=VA_FORBID + (k % 4) * PAGE + 0x40 * k))
    prs = [p.page_request_fields() for p in page_requests(env, n0)]
    reads = [p.prgi for p in prs if p.r]
    writes = [p.prgi for p in prs if p.w]
    env.b.log.info("PRGIs: read side %s, write side %s", reads, writes)
    assert len(reads) == len(writes) == 4
    # PRG index = {per-side counter, slot}: slot 0 the read side, 1 the write side; the counter moves on with
    # each answered request of its side (docs/ats_pri.md 2.6, rtl/ats/imsdev_pri.sv), over the whole test
    count = {False: 0, True: 0}
    for p in (p.page_request_fields() for p in page_requests(env)):
        assert p.prgi == ((count[p.w] << 1) | int(p.w)) & 0x1FF, \
            f"PRG index {p.prgi:#x} for the {'write' if p.w else 'read'} side's request #{count[p.w]}"
        count[p.w] += 1
    ph.finish()
    await finish(env.b, plat, "test_pri_limits")


# ------------------------------------------------------------------------------------------------ T9
@cocotb.test(skip=_NO_PRI)
async def test_pri_bad_inputs(dut):
    """T9: a PRG Response for a PRGI not outstanding sets UPRGI and nothing else (no TLP, the next BOF
    descriptor works); a response with the right PRGI but another PASID sets UPRGI and leaves the request
    outstanding (the right answer then completes it); one without a PASID prefix is matched on the PRGI alone
    (docs/ats_pri.md 2.6): its Success makes the device translate again and ask again (PRGI + 2), the stale
    answer then sets UPRGI; an unused response code (0x5) acts as Response Failure: RF, record 0x03 (source) / 0x83
    (destination). For the record page, Response Failure, an unused code and Invalid Request leave the record
    unwritten (the data is written, the next descriptor completes); RF after the first two."""
    env, plat, host, ah, ph = await start(dut)
    a = new_process(env, host)
    shim = env.b.shim
    l0 = len(shim.tx_req_log)
    ph.send_response(a.pasid, 0x1F0, pri.RESP_SUCCESS)
    await wait_until(env, lambda: shim.pri.stats["uprgi_set"] == 1, "UPRGI for an unknown PRGI")
    await env.b.settle()
    assert await ph.status() == pri.PRI_STATUS_PASID | pri.PRI_STATUS_UPRGI
    assert len(shim.tx_req_log) == l0, "the device sent something for an unexpected PRG Response"
    await (await ph.cap()).write_word(pri.PRI_STATUS, pri.PRI_STATUS_UPRGI)
    assert await ph.status() == pri.PRI_STATUS_PASID
    # another PASID: UPRGI, the request stays outstanding, the right answer completes it
    ph.pause()
    n0 = len(page_requests(env))
    t = await submit(env, a, desc(0, OP_MEMMOVE, 64, src=VA_LAZY))
    await wait_until(env, lambda: len(page_requests(env, n0)) == 1, "Page Request")
    prgi = page_requests(env, n0)[0].page_request_fields().prgi
    before = shim.pri.stats["uprgi_set"]
    wrong = a.pasid + 1
    ph.send_response(wrong, prgi, pri.RESP_SUCCESS)
    await wait_until(env, lambda: shim.pri.stats["uprgi_set"] == before + 1,
                     f"UPRGI for PRGI {prgi} with PASID {wrong:#x}")
    await env.b.settle()
    assert not t.cr_writes and prgi in shim.pri.outstanding and len(page_requests(env, n0)) == 1
    ph.resume()
    ph._notify()
    rec = await done(env, a, t)
    await env.sb.check([t])
    assert st(rec) == ST_SUCCESS and len(page_requests(env, n0)) == 1
    # no PASID prefix: matched on the PRG index alone (docs/ats_pri.md 2.6), taken as the answer: Success while
    # the page is still not resident -> the device translates again and asks again (a new PRG index); the kernel
    # then answers both queued requests: the first is no longer outstanding (UPRGI), the second completes it
    ph.pause()
    n0 = len(page_requests(env))
    t = await submit(env, a, desc(1, OP_MEMMOVE, 64, src=VA_LAZY + PAGE))
    await wait_until(env, lambda: len(page_requests(env, n0)) == 1, "Page Request")
    prgi = page_requests(env, n0)[0].page_request_fields().prgi
    before = shim.pri.stats["uprgi_set"]
    ph.send_response(None, prgi, pri.RESP_SUCCESS)
    await wait_until(env, lambda: len(page_requests(env, n0)) == 2, "the Page Request after a PASID-less Success")
    second = page_requests(env, n0)[1].page_request_fields()
    assert (second.page, second.r, second.prgi) == ((VA_LAZY + PAGE) >> 12, True, prgi + 2), f"{second}"
    assert shim.pri.stats["uprgi_set"] == before
    ph.resume()
    ph._notify()
    rec = await done(env, a, t)
    await env.sb.check([t])
    assert st(rec) == ST_SUCCESS and len(page_requests(env, n0)) == 2
    await wait_until(env, lambda: shim.pri.stats["uprgi_set"] == before + 1, "UPRGI for the stale PRG index")
    lazy = VA_LAZY + 3 * PAGE
    ph.script[(a.pasid, lazy >> 12)] = [0x5]
    d = desc(4, OP_MEMMOVE, 64, src=lazy)
    _, rec = await run(env, a, d)
    assert (st(rec), rec.bytes_completed, rec.fault_addr) == (ST_PAGE_FAULT, 0, d.src), f"unused code: {rec}"
    assert await ph.status() & pri.PRI_STATUS_RF
    # every failing answer on the write side and for the record page (PRI enabled again before each):
    # destination -> 0x83 with RF; record -> no record at all (its page is not resident; the SWERR for a record
    # fault is stage 3), the data written, the engine goes on (the next descriptor completes)
    cases = [("write", pri.RESP_FAILURE), ("write", 0x5), ("record", pri.RESP_FAILURE), ("record", 0x5),
             ("record", pri.RESP_INVALID)]
    for k, (side, code) in enumerate(cases):
        await ph.disable()
        await ph.enable(2)
        lazy = VA_LAZY + (4 + k) * PAGE
        ph.script[(a.pasid, lazy >> 12)] = [code]
        if side == "write":
            d = desc(5 + k, OP_MEMFILL, 64, dst=lazy)
            _, rec = await run(env, a, d)
            assert (st(rec), rec.bytes_completed, rec.fault_addr) == (ST_PAGE_FAULT | ST_WRITE, 0, d.dst), \
                f"destination answered {code:#x}: {rec}"
        else:
            d = desc(5 + k, OP_MEMFILL, 64, cr=lazy + 0x40)
            before = a.read(d.cr_addr, CR_BYTES)
            n_resp = len(ah.agent.log)
            t = await submit(env, a, d)
            await wait_until(env, lambda: any(x[0] == "prg_resp" for x in ah.agent.log[n_resp:]),
                             f"PRG Response {code:#x} for the record page")
            t2, rec2 = await run(env, a, desc(12 + k, OP_MEMFILL, 64))
            assert st(rec2) == ST_SUCCESS, f"{rec2}"
            await env.sb.check([t2])
            env.sb.mark_aborted([t])
            t.before.pop("dst", None)
            await env.sb.check([t])
            assert a.read(d.cr_addr, CR_BYTES) == before and \
                a.read(d.dst, 64) == (d.pattern * 9)[:64], f"record page answered {code:#x}"
        rf = bool(await ph.status() & pri.PRI_STATUS_RF)
        assert rf == (code != pri.RESP_INVALID), f"{side} answered {code:#x}: RF {rf}"
    ph.finish()
    await finish(env.b, plat, "test_pri_bad_inputs")


# ------------------------------------------------------------------------------------------------ T13
@cocotb.test(skip=_NO_PRI)
async def test_flr_mid_pri(dut):
    """T13: FLR while a descriptor waits for its PRG Response and an Invalidate Request is pending: no TLP
    starts after the FLR until the driver sets the device up again; the late PRG Response (the kernel thread
    answers after the FLR) sets UPRGI; the invalidation is completed or dropped; after re-enabling (bus
    mastering, PASID, ATS, pci_reset_pri + pci_enable_pri, WQ with BOF_EN) a BOF descriptor on a lazy page
    succeeds."""
    env, plat, host, ah, ph = await start(dut)
    a = new_process(env, host)
    shim = env.b.shim
    ph.pause()
    t = await submit(env, a, desc(0, OP_MEMMOVE, 64, src=VA_LAZY))
    await wait_until(env, lambda: len(page_requests(env)) == 1, "Page Request")
    ah.agent.send_invalidate_request(a.pasid, VA_DST >> 12, 0)
    flr0 = shim.flr_count
    flr_task = cocotb.start_soon(env.b.function_level_reset())
    while shim.flr_count == flr0:                   # the moment the device sees the FLR pulse
        await env.b.cycles(1)
    flr_ns = get_sim_time("ns")
    await flr_task
    env.after_flr()
    env.sb.mark_aborted([t])
    l0 = len(shim.tx_req_log)
    ph.resume()
    ph._notify()
    await wait_until(env, lambda: shim.pri.stats["uprgi_set"] == 1, "UPRGI for the PRG Response after FLR")
    await env.b.settle()
    late = [s for s in shim.tx_req_log if s.start_ns >= flr_ns and not s.tlp.is_inv_completion()]
    assert not late, f"TLPs after the FLR: {[s.tlp for s in late[:3]]}"
    assert len(shim.tx_req_log) >= l0 and await ph.status() == pri.PRI_STATUS_PASID | pri.PRI_STATUS_STOPPED | \
        pri.PRI_STATUS_UPRGI
    await env.set_pasid_control(True, True)
    await env.msix_enable()
    await ah.enable()
    await ph.enable(2)
    assert await ph.status() == pri.PRI_STATUS_PASID
    await env.setup({SHARED_WQ: WqConfig(size=min(env.p.wq_depth, 8), bof_en=True)})
    n0 = len(page_requests(env))
    t, rec = await run(env, a, desc(1, OP_MEMMOVE, 64, src=VA_LAZY + PAGE))
    await env.sb.check([t])
    assert st(rec) == ST_SUCCESS and len(page_requests(env, n0)) == 1
    ph.finish()
    await finish(env.b, plat, "test_flr_mid_pri")


@cocotb.test(skip=_NO_PRI)
async def test_flr_window_ats_pri_judged_before_it(dut):
    """A translated request or a Page Request the device starts between the Initiate-FLR write and the edge
    that samples `flr` was decided before the FLR (docs/tlp_interface.md "FLR"): the link judges its AT field
    by ATS Enable and the Page Request by PRI (Enable, allocation, the PRGs outstanding) and the PASID
    controls as they were before the write, and the Page Request is not outstanding after the FLR. The same
    TLPs first shown an edge later are judged by the reset controls and refused. The link's judgement is
    called on TLPs built here: a full chip cannot be steered into that window of two edges (the loopback
    bench does it for PASID, MPS and reads: tb/pcie/test, test_flr_window_request_judged_before_it)."""
    env, plat, host, ah, ph = await start(dut)
    b, shim = env.b, env.b.shim
    a = new_process(env, host)
    rid = PcieId.from_int(b.requester_id)
    tw = PasidTlp.create_mem_write(VA_DST, bytes(range(64)), requester_id=rid, pasid=a.pasid)
    tw.at = ats.AT_TRANSLATED
    prgi = 5
    pr = PasidTlp.create_page_request(requester_id=rid, page=VA_LAZY >> 12, prgi=prgi, r=True, pasid=a.pasid)
    assert shim.ats.enabled and shim.pri.cap.enable and shim.pasid_cap.pasid_enable
    n_req = len(shim.pri.requests)
    await b.function_level_reset()
    boundary = shim._flr_seen_ns
    assert not (shim.ats.enabled or shim.pri.cap.enable or shim.pasid_cap.pasid_enable)
    shim._check_upstream(tw, boundary)
    shim._check_upstream(pr, boundary)
    assert shim.pri.requests[n_req:] == [pr] and prgi not in shim.pri.outstanding
    for tlp, refusal in ((tw, "while ATS Control.E = 0"), (pr, "while PRI Control.E = 0")):
        try:
            shim._check_upstream(tlp, boundary + CLOCK_NS)
        except ProtocolError as exc:
            assert refusal in str(exc), exc
        else:
            raise AssertionError(f"{tlp!r} first shown after the FLR's edge was not refused")
    await finish(env.b, plat, "test_flr_window_ats_pri_judged_before_it")


# ------------------------------------------------------------------------------------------------ T15
@cocotb.test(skip=_NO_PRI)
async def test_drain_pasid_bof(dut):
    """T15: DRAIN_PASID(A) while A's BOF descriptor waits for its PRG Response: CMDSTS stays ACTIVE while the
    kernel thread is held; the drain finishes only after the response, and the descriptor's record is written
    before it (success, exact data). Then A is unbound (the kernel drains A's page requests first: the queue
    is empty): B's BOF work afterwards sends Page Requests with B's PASID only."""
    env, plat, host, ah, ph = await start(dut)
    a = new_process(env, host, "A")
    bproc = new_process(env, host, "B")
    ph.pause()
    t = await submit(env, a, desc(0, OP_MEMMOVE, 128, src=VA_LAZY))
    await wait_until(env, lambda: len(page_requests(env)) == 1, "Page Request")
    await env.cmd_write(regs.CMD_DRAIN_PASID, a.pasid)
    await env.b.cycles(200)
    active, _, _ = await env.cmdsts()
    assert active, "DRAIN_PASID finished while A's descriptor is blocked on PRI"
    assert not t.cr_writes
    n_resp = len(ah.agent.log)
    ph.resume()
    ph._notify()
    st_ = await env.cmd_wait("DRAIN_PASID")
    drained_ns = get_sim_time("ns")
    assert st_.err == regs.CMD_ERR_OK
    resp = [x for x in ah.agent.log[n_resp:] if x[0] == "prg_resp"]
    assert len(resp) == 1, resp
    assert t.cr_writes, "DRAIN_PASID completed before the blocked descriptor's record"
    await env.sb.check([t])
    assert st(CompletionRecord.parse(a.read(t.desc.cr_addr, CR_BYTES))) == ST_SUCCESS
    # unbind A in the kernel's order: its page requests are drained (nothing left queued), then the PASID goes
    assert ph.drain_pasid(a.pasid) == 0 and [r[0] for r in ph.requests] == [a.pasid]
    assert not env.b.shim.pri.outstanding
    old = a.pasid
    a.unbind()
    n0 = len(page_requests(env))
    tb_, rec = await run(env, bproc, desc(1, OP_MEMFILL, 64, dst=VA_LAZY + PAGE))
    await env.sb.check([tb_])
    assert st(rec) == ST_SUCCESS
    prs = page_requests(env, n0)
    assert [p.pasid for p in prs] == [bproc.pasid] and old != bproc.pasid, prs
    env.b.log.info("DRAIN_PASID done at %d ns after the PRG Response", drained_ns)
    ph.finish()
    await finish(env.b, plat, "test_drain_pasid_bof")


# ------------------------------------------------------------------------------------------------ bad inputs
from tb.bad_inputs import BadInput  # noqa: E402

BAD_INPUTS = (
    BadInput(cls="tlp", input="PRG Response for a PRG index the device has not outstanding",
             outcome="PRI Status.UPRGI set, nothing else: no TLP, the next BOF descriptor works",
             test="test_pri_bad_inputs"),
    BadInput(cls="tlp", input="PRG Response with the outstanding PRG index but another PASID",
             outcome="UPRGI set, the request stays outstanding; the right response then completes the descriptor",
             test="test_pri_bad_inputs"),
    BadInput(cls="tlp", input="PRG Response without a PASID prefix for a request made with one (PASID Required = 1)",
             outcome="matched on the PRG index: Success makes the device translate again and send a new Page Request "
                     "(PRG index + 2); the stale answer to the first then sets UPRGI",
             test="test_pri_bad_inputs"),
    BadInput(cls="tlp", input="PRG Response with an unused response code (0x5) or Response Failure (0xF)",
             outcome="RF set; the descriptor ends as without BOF: DSA_COMP_PAGE_FAULT_NOBOF (0x03, 0x83 on the write "
                     "side); a record page answered so gets no record, the engine goes on",
             test="test_pri_bad_inputs"),
    BadInput(cls="tlp", input="PRG Response after an FLR for a request made before it",
             outcome="UPRGI set (Status 0x8103 with PRI Enable 0), no TLP after the FLR",
             test="test_flr_mid_pri"),
    BadInput(cls="descriptor", input="BOF descriptor on a page the process does not own (Invalid Request)",
             outcome="DSA_COMP_PAGE_FAULT_IR 0x04 (0x84 for the destination), bytes completed and fault address "
                     "exact, also mid-buffer",
             test="test_fault_bof_pri"),
    BadInput(cls="descriptor", input="BOF descriptor whose page stays non-resident after 4 Success responses",
             outcome="4 Page Requests, then DSA_COMP_PAGE_FAULT_NOBOF 0x03 (read side) / 0x83 (write side), bytes 0",
             test="test_fault_bof_pri"),
    BadInput(cls="command", input="BOF descriptor with allocation 0, PRI Enable 0, WQCFG2.BOF_EN 0 or PRS_DISABLE 1",
             outcome="no Page Request; the no-BOF record (0x03 / 0x83, bytes 0)",
             test="test_pri_limits"),
    BadInput(cls="config", input="PRI disabled while a Page Request is outstanding and another side waits for a "
                                 "credit",
             outcome="Stopped 0 and pci_enable_pri refused (-EBUSY) until the response; the waiting side ends with "
                     "0x03; then Stopped 1",
             test="test_pri_limits"),
)
