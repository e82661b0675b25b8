"""Batch descriptors (opcode 0x01, DSA_OPCODE_BATCH) against docs/work_queues.md "Batch".

A batch names a list of 64-byte descriptors in host memory (list address in the source slot, count in the
transfer-size slot, as struct dsa_hw_desc). The scoreboard (tb/wq.py Scoreboard.submit_batch) tracks every
member like a submitted descriptor with the batch's PASID and privilege: its data byte-exact, its record
and interrupt exact, every DMA request (the list reads included) tagged with the batch's PASID/PMR; the
batch's own record: SUCCESS / BATCH_FAIL (0x05) / BATCH_PAGE_FAULT (0x06, fault address = the unreadable
entry) with bytes_completed = members processed, written after every member's record and interrupt.
The descriptors are built with the firmware kit's codec (fw/imsdev/driver/uapi.py), as the rest of the bench.
Seeds: printed by WqEnv.start; `make sim TEST=test_batch CONFIG=... SEED=... TESTCASE=...` replays.
"""
import cocotb
from cocotb.triggers import Timer
from cocotb.utils import get_sim_time

from imsdev import regs
from imsdev.driver import uapi
from tb.bad_inputs import BadInput
from tb.env import PAUSE_MODES
from tb.wq import (DESC_BYTES, ENQCMD_RETRIES, FLAG_CRAV, FLAG_FENCE, FLAG_RCI, FLAG_RCR, OP_BATCH, OP_DRAIN,
                   OP_MEMFILL, OP_MEMMOVE, OP_NOOP, ST_BAD_FLAGS, ST_BAD_OPCODE, ST_BATCH_FAIL, ST_BATCH_PAGE_FAULT,
                   ST_DESC_CNT, ST_HW_ERR, ST_INT_HANDLE, ST_LIST_ALIGN, ST_PAGE_FAULT, ST_RESERVED, ST_SUCCESS,
                   Descriptor, PoisonedReads, WqConfig, WqEnv, ims_handle, ims_msg, msix_handle, msix_msg)

PASIDS = (0x3, 0x4A5A5, 0xFFFFF)
DWQ_PASID = 0x5BA7C


def configs(env, batch_shift: int = 15):
    """WQ 0 shared (privileged allowed); on a multi-WQ build the last WQ dedicated with a PASID."""
    size = min(env.p.wq_depth, 8)
    cfgs = {0: WqConfig(size=size, priv=True, max_batch_shift=batch_shift)}
    if env.p.num_wq > 1:
        cfgs[env.p.num_wq - 1] = WqConfig(size=min(env.p.wq_depth, 4), dedicated=True, pasid=DWQ_PASID,
                                          pasid_en=True, priv=True, max_batch_shift=batch_shift)
    return cfgs


async def irqs(env, wqs):
    """Each WQ its own MSI-X vector (1, 2) and IMS entries 0 and 1: every message names one WQ, so the
    scoreboard attributes it to the right descriptor while WQs run side by side."""
    vecs = {}
    for k, wq in enumerate(wqs):
        vec = vecs[wq] = min(1 + k, env.p.msix_vectors - 1)
        await env.msix_program(vec, *msix_msg(vec), masked=False)
        for i in range(min(2, env.p.ims_per_wq)):
            await env.ims_program(wq, i, *ims_msg(wq, i), masked=False)
    return vecs


def member(env, vec, op=None):
    """A random MEMMOVE / MEMFILL / NOOP member (fresh buffers), with or without a record request (CRAV
    always) and an interrupt (MSI-X or the WQ's IMS entry 0/1)."""
    r = env.rng
    op = r.choice((OP_MEMMOVE, OP_MEMMOVE, OP_MEMFILL, OP_NOOP)) if op is None else op
    flags = FLAG_CRAV | (FLAG_RCR if r.random() < 0.7 else 0)
    handle = 0
    if r.random() < 0.4:
        flags |= FLAG_RCI
        handle = msix_handle(vec) if r.random() < 0.5 else ims_handle(r.randrange(min(2, env.p.ims_per_wq)))
    size = 0 if op == OP_NOOP else r.choice((1, 7, 64, 100, r.randint(1, 600), r.randint(1, 600),
                                             r.randint(600, 2500)))
    return env.new_desc(op, size, flags=flags, handle=handle, src_off=r.randrange(64), dst_off=r.randrange(64))


async def submit(env, wq, members, rng, **kw):
    cfg = env.latched[wq]
    if cfg.dedicated:
        await env.sb.wait_below(wq, cfg.size)
        return await env.sb.submit_batch(wq, members, **kw)
    t = await env.sb.submit_batch(wq, members, pasid=rng.choice(PASIDS), priv=rng.random() < 0.5,
                                  retries=ENQCMD_RETRIES * 20, backoff_cycles=10, **kw)
    assert t.accepted, f"{t}: {t.cpl_status.name}"
    return t


async def finish(env, items, what):
    await env.sb.wait_complete(items)
    await env.b.settle()
    await env.sb.check(items)
    await env.sb.check_messages()
    await env.expect_no_swerr(what)


def expect(t, status, count=None):
    assert t.status == status, f"bench model predicts {t.status:#x} for {t}, test expects {status:#x}"
    if count is not None:
        assert t.batch_count == count, f"{t}: model counts {t.batch_count} members, test expects {count}"


def recorded(t, status, count):
    """The batch's record as the device wrote it (the scoreboard already compared it with the model)."""
    assert t.record is not None, f"{t}: no record"
    assert (t.record.status, t.record.bytes_completed) == (status, count), f"{t}: {t.record}"


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_batch_members(dut, pauses):
    """Batches of every size 2..max (max = the device's MAX_BATCH on small, the WQ's WQCFG3.MAX_BATCH_SHIFT
    limit elsewhere) of mixed MEMMOVE / MEMFILL / NOOP members, each with or without record and interrupt
    (MSI-X or the WQ's IMS); the batch itself with and without record and interrupt; on a shared WQ with
    ENQCMD PASIDs (user and privileged) and a dedicated WQ: every member's data and record exact, every DMA
    request with the batch's PASID, the batch record SUCCESS with the member count, written after every
    member's record and interrupt. Crossed with the link modes."""
    env = await WqEnv.start(dut, pauses)
    r = env.rng
    # small: the device limit (8) is the batch limit; elsewhere the WQ limit 2^4 = 16 keeps batches short.
    shift = 15 if env.p.max_batch <= 16 else 4
    cfgs = configs(env, shift)
    await env.setup(cfgs)
    vecs = await irqs(env, cfgs)
    items = []
    for wq in cfgs:
        vec = vecs[wq]
        top = env.sb.batch_limit(wq)
        assert top == min(env.p.max_batch, 1 << shift)
        for n in range(2, top + 1):
            flags = FLAG_CRAV | FLAG_RCR | (FLAG_RCI if n % 3 == 0 else 0)
            handle = msix_handle(vec) if n % 2 else ims_handle(0)
            t = await submit(env, wq, [member(env, vec) for _ in range(n)], r, flags=flags, handle=handle)
            expect(t, ST_SUCCESS, n)
            items += [t] + t.members
        # An interrupt burst: members that only interrupt (NOOP, CRAV+RCI, no record) back to back fill the
        # MSI-X/IMS message queues under backpressure; the batch's record must still come after all of them.
        for handle in (msix_handle(vec), ims_handle(1 % env.p.ims_per_wq)):
            burst = [env.new_desc(OP_NOOP, flags=FLAG_CRAV | FLAG_RCI, handle=handle) for _ in range(top)]
            t = await submit(env, wq, burst, r, flags=FLAG_CRAV | FLAG_RCR)
            expect(t, ST_SUCCESS, top)
            items += [t] + t.members
        # A batch without a record request (CRAV only): its success writes no record.
        t = await submit(env, wq, [member(env, vec, OP_MEMFILL) for _ in range(2)], r, flags=FLAG_CRAV)
        assert not t.writes_cr
        items += [t] + t.members
    await finish(env, items, "batches")
    for t in items:
        if t.batch_limit is not None and t.writes_cr:
            recorded(t, ST_SUCCESS, t.desc.size)
    n_members = sum(len(t.members) for t in items if t.batch_limit is not None)
    env.b.log.info("batches: %d members in %d batches; %s", n_members,
                   sum(t.batch_limit is not None for t in items), env.sb.report())


@cocotb.test()
@cocotb.parametrize(path=("msix", "ims"), n=(2, 3))
async def test_batch_record_behind_queued_member_interrupts(dut, path, n):
    """The batch's record waits for its members' interrupt messages to leave, also when they queue behind
    other messages of the same engine: two masked MSI-X vectors (not the WQ's) or two masked IMS entries of the
    WQ are left pending, the device's read of the batch list is answered late (rx_cpl held) and, once that
    read has left, tx_req is stalled and the two unmasked, so their replays take the message writer and the
    engine's message FIFO's head. The list's answer then arrives and the n members (NOOP, CRAV + RCI through
    the same engine, no record) hand their interrupts over; they queue behind the replays. While tx_req stays
    stalled the batch's record must not be started (a record started once the members were notified reaches
    the request arbiter beside the queued messages and goes out ahead of them); after the stall every
    member's message precedes the batch's record on the link (the scoreboard's batch order) and every message
    arrives once. n = 2: the last member's interrupt is taken into the FIFO behind the replay (MSI-X:
    `engine.batch_record_before_members_finish` fails here); n = 3: the FIFO (4 entries) fills, so the last
    member's interrupt waits for credit until the link runs again."""
    env = await WqEnv.start(dut, "none")
    r = env.rng
    wq = 0
    cfgs = {wq: WqConfig(size=min(env.p.wq_depth, 8), priv=True)}
    await env.setup(cfgs)
    vec = (await irqs(env, cfgs))[wq]
    extra = {}
    if path == "msix":
        handle = msix_handle(vec)
        fillers = [v for v in range(env.p.msix_vectors - 1, 0, -1) if v != vec][:2]
        assert len(fillers) == 2, f"needs two MSI-X vectors besides 0 and the WQ's {vec}"
        for v in fillers:
            await env.msix_program(v, *msix_msg(v), masked=True)
            await env.b.msix.trigger(v)
            extra[msix_msg(v)] = 1
        for v in fillers:
            assert await env.b.msix.pending(v), f"filler vector {v} not pending while masked"
    else:
        handle = ims_handle(0)
        fillers = [2, 3]                    # irqs() programs entries 0 and 1 unmasked
        assert env.p.ims_per_wq > max(fillers), f"needs IMS entries {fillers} on WQ {wq}"
        pend = []
        for e in fillers:
            await env.ims_program(wq, e, *ims_msg(wq, e), masked=True)
            d = env.new_desc(OP_NOOP, flags=FLAG_CRAV | FLAG_RCR | FLAG_RCI, handle=ims_handle(e))
            t = await env.sb.submit(wq, d, pasid=r.choice(PASIDS), retries=ENQCMD_RETRIES * 20, backoff_cycles=10)
            assert t.accepted, f"{t}: {t.cpl_status.name}"
            pend.append(t)
            extra[ims_msg(wq, e)] = 1
        await env.sb.wait_complete(pend)
        for e in fillers:
            assert await env.ims_pending(wq, e), f"filler IMS entry {e} not pending while masked"
    burst = [env.new_desc(OP_NOOP, flags=FLAG_CRAV | FLAG_RCI, handle=handle) for _ in range(n)]
    log = env.b.shim.tx_req_log
    n0 = len(log)
    env.hold.hold()
    t = await submit(env, wq, burst, r, flags=FLAG_CRAV | FLAG_RCR)
    expect(t, ST_SUCCESS, n)
    list_addr = t.desc.src

    def list_read_sent() -> bool:
        return any(s.tlp.is_mem_read() and s.tlp.address == list_addr for s in log[n0:])

    for _ in range(2000):
        if list_read_sent():
            break
        await env.b.cycles(1)
    assert list_read_sent(), "the device did not read the batch list within 2,000 cycles"
    gate = await env.b.shim.streams["tx_req"].hold()
    n_stalled = len(log)
    for f in fillers:
        if path == "msix":
            await env.msix_set_mask(f, False)
        else:
            await env.ims_write_ctrl(wq, f, masked=False)
    # The first replay shows on the stalled tx_req; the second follows it into the MSI-X engine's pipe within
    # 8 cycles of its unmask (formal: a pending message is sent within 8 quiet cycles). The PBA / IMS pending
    # bits cannot be read here: a read's completion waits behind the queued posted messages (egress order).
    for _ in range(200):
        if env.b.dut.tx_req_valid.value:
            break
        await env.b.cycles(1)
    assert env.b.dut.tx_req_valid.value, "no replay shown on tx_req within 200 cycles of the unmask writes"
    await env.b.cycles(16)
    env.hold.release()
    # The stall window: the list's completion, the members' interrupts handed over, and (the defect this test
    # looks for) a batch record started at once would reach the request arbiter well inside it.
    await env.b.cycles(400)
    assert len(log) == n_stalled, "a request left while tx_req was stalled"
    gate.release()
    items = [t] + t.members
    await env.sb.wait_complete(items)
    await env.b.settle()
    await env.sb.check(items)
    await env.sb.check_messages(extra=extra)
    assert t.record is not None and t.members[-1].irq_seqs, f"{t}: record or last member's interrupt missing"
    await env.expect_no_swerr("batch behind queued interrupts")
    env.b.log.info(env.sb.report())


@cocotb.test()
@cocotb.parametrize(pauses=("none", "both"))
async def test_batch_errors(dut, pauses):
    """The batch's own checks (list not 64-byte aligned 0x18; count 0, 1, WQ limit + 1 and device limit + 1
    0x14; destination slot not 0 0x12; list before count in the check order) run nothing; failing members
    (undefined opcode, a nested BATCH, a DRAIN: 0x10; a source page fault 0x03) fail alone and make the batch
    0x05 with every member counted; a list entry the host answers with UR or CA ends the batch with 0x06,
    the entry's address and the members before it counted; a failed batch without a record address goes to
    SWERR NO_CR."""
    env = await WqEnv.start(dut, pauses)
    r = env.rng
    cfgs = configs(env, 2)                       # WQ limit 4 on every configuration
    await env.setup(cfgs)
    vecs = await irqs(env, cfgs)
    ends = [env.low, env.high]
    poisoned = PoisonedReads(env.b)     # list ranges whose reads the link answers with poisoned data (EP=1)
    for wq in cfgs:
        vec = vecs[wq]
        items = []

        async def go(members, status, n_done, **kw):
            t = await submit(env, wq, members, r, **kw)
            expect(t, status, n_done)
            items.extend([t] + t.members)
            return t

        ok = [member(env, vec, OP_MEMFILL), member(env, vec, OP_NOOP)]
        top = env.sb.batch_limit(wq)
        assert top == 4
        # The batch's own checks: nothing of the list is read (the scoreboard flags a list read).
        checks = [
            (dict(list_addr=env.low.alloc(128, 64, 8)), ST_LIST_ALIGN),
            (dict(list_addr=env.low.alloc(128, 64, 32)), ST_LIST_ALIGN),
            (dict(count=0), ST_DESC_CNT), (dict(count=1), ST_DESC_CNT), (dict(count=top + 1), ST_DESC_CNT),
            (dict(count=env.p.max_batch + 1), ST_DESC_CNT),
            (dict(list_addr=env.low.alloc(128, 64, 16), count=1), ST_LIST_ALIGN),     # list before count
        ]
        for kw, status in checks:
            t = await go(ok, status, 0, **kw)
            assert not t.members
        d = Descriptor(opcode=OP_BATCH, flags=FLAG_CRAV | FLAG_RCR, cr_addr=env.low.alloc_cr(),
                       src=env.low.alloc(128, 64), size=2, dst=0x1000)
        await go(ok, ST_RESERVED, 0, batch=d)
        # Failing members: each fails on its own, the batch continues and reports 0x05 with every member.
        nested = uapi.batch_desc(env.low.alloc(128, 64), 2, completion_addr=env.low.alloc_cr())
        nested_m = Descriptor.unpack(nested.pack())
        bad_op = member(env, vec, OP_MEMFILL)
        bad_op.opcode = 0x09
        fault = env.new_desc(OP_MEMMOVE, 300, src=env.unbacked_address("ur"), dst_off=3)
        drain = env.new_desc(OP_DRAIN)
        for bad, want in ((bad_op, ST_BAD_OPCODE), (nested_m, ST_BAD_OPCODE), (drain, ST_BAD_OPCODE),
                          (fault, ST_PAGE_FAULT)):
            ms = [member(env, vec, OP_MEMMOVE), bad, member(env, vec)]
            ms.insert(r.randrange(4), member(env, vec, OP_NOOP))
            t = await go(ms[:top], ST_BATCH_FAIL, min(len(ms), top), flags=FLAG_CRAV | FLAG_RCI,
                         handle=msix_handle(vec))
            assert [m.status for m in t.members].count(want) == 1
        # The list runs off readable memory: entry k is answered UR (past the high region's end) or CA (past the
        # low region's end, unallocated pool); a region's end serves one WQ only, later WQs use a CA address.
        for k, region in ((0, None), (1, ends.pop() if ends else None), (3, ends.pop() if ends else None)):
            if region is None:
                k, list_addr = 0, env.unbacked_address("ca")
            else:
                list_addr = region.tail(0x1000) + 0x1000 - DESC_BYTES * k
            ms = [member(env, vec) for _ in range(top)]
            t = await go(ms, ST_BATCH_PAGE_FAULT, k, list_addr=list_addr, flags=FLAG_CRAV | FLAG_RCR | FLAG_RCI,
                         handle=ims_handle(0))
            assert t.list_fault == list_addr + DESC_BYTES * k
        # The batch's own flags and handle are checked like any descriptor's.
        await go(ok, ST_BAD_FLAGS, 0, flags=FLAG_CRAV | FLAG_RCR | 0x40)
        await go(ok, ST_INT_HANDLE, 0, flags=FLAG_CRAV | FLAG_RCR | FLAG_RCI, handle=ims_handle(env.p.ims_per_wq))
        # List entry 2 comes back poisoned: 0x20 (hardware error) at that entry, members 0 and 1 counted.
        ms = [member(env, vec) for _ in range(top)]
        list_addr = env.low.alloc(DESC_BYTES * top, DESC_BYTES)
        poisoned.add(list_addr + 2 * DESC_BYTES, list_addr + 3 * DESC_BYTES)
        await env.sb.wait_complete(items)   # the WQ empty: the submission is taken while reads are held
        env.hold.hold()                     # the model is told before the device reads the list
        t = await go(ms, ST_SUCCESS, top, list_addr=list_addr)
        env.sb.batch_list_poisoned(t, 2)
        env.hold.release()
        # After failed batches a good one succeeds again (the failure does not carry over).
        t = await go([member(env, vec, OP_MEMFILL), member(env, vec, OP_MEMMOVE)], ST_SUCCESS, 2)
        await env.sb.wait_complete(items)
        await env.b.settle()
        await env.sb.check(items)
        recorded(t, ST_SUCCESS, 2)
        for t in items:
            if t.batch_limit is not None and t.status in (ST_BATCH_PAGE_FAULT, ST_HW_ERR):
                assert t.record.fault_addr == t.list_fault, f"{t}: {t.record}"
        # A failing batch without a record address: SWERR NO_CR with the batch's status and opcode.
        bad_op = member(env, vec, OP_MEMFILL)
        bad_op.opcode = 0x7E
        t = await go([member(env, vec, OP_NOOP), bad_op], ST_BATCH_FAIL, 2, flags=0)
        assert t.no_cr_swerr
        await env.sb.wait_complete(items)
        await env.b.settle()
        pasid = t.pasid
        await env.expect_swerr(regs.SWERR_NO_CR, f"WQ {wq}: batch without record", wq=wq, pasid=pasid,
                               code_status=ST_BATCH_FAIL, opcode=OP_BATCH, addr=t.desc.cr_addr)
        await env.sb.check(items)
    await env.sb.check_messages()
    await env.expect_no_swerr("batch errors")
    env.b.log.info(env.sb.report())


@cocotb.test()
@cocotb.parametrize(pauses=("none", "backpressure"))
async def test_batch_fence_and_pasid_commands(dut, pauses):
    """FENCE inside a batch: the fenced member's first DMA request comes after the earlier members' records,
    also with the entries after it read ahead into the member buffer while it waits.
    DRAIN_PASID and DRAIN_WQ issued while a batch runs (its list reads held) finish only after the batch's
    record, DRAIN_WQ also with nothing queued behind the batch; ABORT_PASID does not count or stop a batch
    the engine took (it completes); a descriptor queued behind the batch completes after it (per-WQ order)."""
    env = await WqEnv.start(dut, pauses)
    r = env.rng
    cfgs = configs(env)
    await env.setup(cfgs)
    vecs = await irqs(env, cfgs)
    first_dma = {}

    def observe(rec, tlp):
        if rec.kind in ("MRd", "MWr"):
            first_dma.setdefault(rec.address & ~0x3F, rec.time_ns)

    env.b.rc.add_upstream_observer(observe)
    wq = 0
    vec = vecs[wq]
    # FENCE: member 2 (a MEMFILL) waits for members 0 and 1 (large MEMMOVEs) to retire.
    big = [env.new_desc(OP_MEMMOVE, 3000, dst_off=1) for _ in range(2)]
    fenced = env.new_desc(OP_MEMFILL, 64, flags=FLAG_CRAV | FLAG_RCR | FLAG_FENCE)
    t = await submit(env, wq, big + [fenced, member(env, vec)], r)
    expect(t, ST_SUCCESS, 4)
    await finish(env, [t] + t.members, "fence")
    m0, m1, mf = t.members[:3]
    start = first_dma[fenced.dst & ~0x3F]
    for m in (m0, m1):
        assert m.cr_writes[0][1] <= start, \
            f"fenced member's first write at {start} ns before {m}'s record at {m.cr_writes[0][1]} ns"
    # FENCE with the member buffer full: member 1 waits behind a large member 0 while the engine reads the
    # entries after it ahead (it prefetches up to 4); every member runs exactly once, in list order.
    n = min(env.sb.batch_limit(wq), 8)
    fenced = env.new_desc(OP_MEMFILL, 64, flags=FLAG_CRAV | FLAG_RCR | FLAG_FENCE)
    ms = [env.new_desc(OP_MEMMOVE, 3000, dst_off=1), fenced] + [member(env, vec) for _ in range(n - 2)]
    t = await submit(env, wq, ms, r)
    expect(t, ST_SUCCESS, n)
    await finish(env, [t] + t.members, "fence with prefetch")
    recorded(t, ST_SUCCESS, n)

    # DRAIN_PASID / DRAIN_WQ with the batch's list reads held: the command waits for the batch record. Also
    # DRAIN_WQ with nothing queued behind the batch: then only the batch itself, taken from the WQ and still
    # in the engine's issue stage, keeps the WQ busy.
    for code, operand_of, with_behind in ((regs.CMD_DRAIN_PASID, lambda t: t.pasid, True),
                                          (regs.CMD_DRAIN_WQ, lambda t: wq, True),
                                          (regs.CMD_DRAIN_WQ, lambda t: wq, False)):
        env.hold.hold()
        t = await submit(env, wq, [member(env, vec) for _ in range(3)], r)
        behind = None if not with_behind else \
            await env.sb.submit(wq, env.new_desc(OP_MEMFILL, 40), pasid=PASIDS[0],
                                retries=ENQCMD_RETRIES * 20, backoff_cycles=10)
        await env.b.settle(300)
        await env.cmd_write(code, operand_of(t))
        await env.b.settle(300)
        active, _, _ = await env.cmdsts()
        assert active, f"{code}: finished while the batch's list reads are held"
        assert not t.cr_writes
        env.hold.release()
        st = await env.cmd_wait(f"command {code} during a batch")
        assert st.err == 0
        t_done = get_sim_time("ns")
        assert t.cr_writes and t.cr_writes[0][1] <= t_done, f"{code} finished before the batch's record"
        if behind is not None:
            assert behind.cr_writes and behind.cr_writes[0][0] > t.cr_writes[0][0], "per-WQ order: batch first"
        await finish(env, [t] + ([behind] if behind is not None else []) + t.members, f"command {code}")

    # ABORT_PASID of the batch's PASID while the engine runs it: the batch is not discarded.
    env.hold.hold()
    t = await env.sb.submit_batch(wq, [member(env, vec) for _ in range(3)], pasid=PASIDS[1],
                                  retries=ENQCMD_RETRIES * 20, backoff_cycles=10)
    await env.b.settle(300)
    await env.cmd_write(regs.CMD_ABORT_PASID, PASIDS[1])
    await env.b.settle(300)
    env.hold.release()
    st = await env.cmd_wait("ABORT_PASID during a batch")
    assert (st.err, st.result) == (0, 0), f"ABORT_PASID: {st} (the batch was taken, nothing queued)"
    expect(t, ST_SUCCESS, 3)
    await finish(env, [t] + t.members, "abort_pasid")
    env.b.log.info(env.sb.report())


@cocotb.test()
async def test_batch_flr_and_reset(dut):
    """FLR and RESET_DEVICE in the middle of a batch (its list reads and member reads held): no hang, nothing
    of the batch written after the FLR, and the device runs batches again afterwards."""
    env = await WqEnv.start(dut, "both")
    r = env.rng
    cfgs = configs(env)
    await env.setup(cfgs)
    vec = (await irqs(env, cfgs))[0]
    # RESET_DEVICE: the engine's batch completes (as taken descriptors do), the command waits for it.
    env.hold.hold()
    t = await submit(env, 0, [member(env, vec) for _ in range(3)], r)
    await env.b.settle(300)
    await env.cmd_write(regs.CMD_RESET_DEVICE)
    await env.b.settle(300)
    env.hold.release()
    st = await env.cmd_wait("RESET_DEVICE during a batch")
    assert st.err == 0
    env.latched.clear()
    await env.sb.wait_complete([t] + t.members)
    await env.b.settle()
    await env.sb.check([t] + t.members)
    # FLR with a batch half done.
    await env.setup(cfgs)
    env.hold.hold()
    t = await submit(env, 0, [env.new_desc(OP_MEMMOVE, 2000) for _ in range(4)], r)
    await env.b.settle(500)
    n_before = len(env.b.shim.tx_req_log)
    flr0 = env.b.shim.flr_count
    flr_task = cocotb.start_soon(env.b.function_level_reset())
    while env.b.shim.flr_count == flr0:
        await env.b.cycles(1)
    t_flr = get_sim_time("ns")
    await flr_task
    env.hold.release()
    await env.b.settle(2000)
    after = [x for x in env.b.shim.tx_req_log[n_before:] if x.start_ns >= t_flr]
    assert not after, f"{len(after)} upstream request(s) after FLR, first: {after[0]}"
    env.sb.mark_aborted(env.sb.unfinished())
    await env.sb.check()
    env.after_flr()
    await env.set_pasid_control(True, priv=True)
    await env.msix_enable()
    await env.setup(cfgs)
    vec = (await irqs(env, cfgs))[0]
    t = await submit(env, 0, [member(env, vec) for _ in range(3)], r)
    expect(t, ST_SUCCESS, 3)
    await env.sb.wait_complete([t] + t.members)
    await env.b.settle()
    await env.sb.check([t] + t.members)
    await Timer(1, "ns")
    env.b.log.info(env.sb.report())


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="descriptor", input="BATCH whose descriptor list address is not 64-byte aligned (+8, +32; also "
                                     "with a bad count: the list is checked first)",
             outcome="record status 0x18 (DSA_COMP_DESCLIST_ALIGN), 0 completed; the list is not read",
             test="test_batch_errors"),
    BadInput(cls="descriptor", input="BATCH with desc_count 0, 1, the WQ's limit + 1 (WQCFG3.MAX_BATCH_SHIFT) or "
                                     "the device's limit + 1 (CAP2.MAX_BATCH_SHIFT)",
             outcome="record status 0x14 (DSA_COMP_DESC_CNT_ERANGE), 0 completed; the list is not read",
             test="test_batch_errors"),
    BadInput(cls="descriptor", input="BATCH with a non-zero destination slot (reserved in a batch descriptor)",
             outcome="record status 0x12 (DSA_COMP_NOZERO_RESERVE); the list is not read", test="test_batch_errors"),
    BadInput(cls="descriptor", input="Batch member with an undefined opcode, a nested BATCH or a DRAIN",
             outcome="that member's record 0x10 (DSA_COMP_BAD_OPCODE); the other members run; the batch's record "
                     "0x05 (DSA_COMP_BATCH_FAIL) with every member counted", test="test_batch_errors"),
    BadInput(cls="descriptor", input="Batch member MEMMOVE whose source the host answers UR",
             outcome="member record 0x03 with its fault address; batch record 0x05, every member counted",
             test="test_batch_errors"),
    BadInput(cls="descriptor", input="Batch whose list entry k the host answers UR or CA (k = 0, 1, 3)",
             outcome="batch record 0x06 (DSA_COMP_BATCH_PAGE_FAULT), fault address = list + 64*k, k members "
                     "completed (run normally), none after", test="test_batch_errors"),
    BadInput(cls="descriptor", input="BATCH with an undefined flag (0x40) or RCI with an IMS handle past the WQ's "
                                     "entries",
             outcome="record status 0x11 with the invalid flag / 0x19; the list is not read", test="test_batch_errors"),
    BadInput(cls="descriptor", input="Batch whose list entry 2 comes back poisoned (CplD EP=1)",
             outcome="batch record 0x20 (DSA_COMP_HW_ERR1), fault address = list + 128, 2 members completed, none "
                     "after", test="test_batch_errors"),
    BadInput(cls="descriptor", input="Failing batch (a member failed) with CRAV = 0",
             outcome="SWERR NO_CR with CODE_STATUS 0x05, opcode 0x01, the WQ and the batch's PASID",
             test="test_batch_errors"),
)
