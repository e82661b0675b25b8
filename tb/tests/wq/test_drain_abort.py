"""Drain, abort and reset against docs/work_queues.md 'Drain, abort, reset' and the CMD table of
docs/registers.md.

The DMA is held (tb.wq.DmaHold) so that the descriptor executing cannot finish; what is queued behind it
is then exactly WQCFG6.OCCUPANCY, which makes each outcome exact: ABORT_* must report that number in
CMDSTS.RESULT, the discarded descriptors must be the youngest ones, and after the DMA is released the
others complete normally while the discarded ones never write a record, data or an interrupt.
"""
import cocotb
from cocotb.triggers import Event
from cocotb.utils import get_sim_time

from imsdev import regs
from tb.env import PAUSE_MODES
from tb.pcie.tlp import RRS
from tb.wq import (FLAG_CRAV, FLAG_FENCE, FLAG_RCI, FLAG_RCR, OP_MEMFILL, OP_MEMMOVE, OP_NOOP,
                   WQ_STATE_DISABLED, WQ_STATE_DRAINING, WQ_STATE_ENABLED, WqConfig, WqEnv, cmd_name, err_name, ims_handle,
                   ims_msg, msix_handle, msix_msg)
PASID = 0x1F00D
DWQ_PASID = 0x2345          # the dedicated WQ's PASID; also PASID "A" of the PASID commands' tests
RCI = FLAG_CRAV | FLAG_RCR | FLAG_RCI


def cfgs_for(env):
    """A shared WQ, plus a dedicated one on builds with more than one WQ."""
    size = min(env.p.wq_depth, 6)
    c = {0: WqConfig(size=size)}
    if env.p.num_wq > 1:
        c[env.p.num_wq - 1] = WqConfig(size=min(env.p.wq_depth, 4), dedicated=True, pasid=DWQ_PASID, pasid_en=True)
    return c


async def program_irqs(env):
    v = min(1, env.p.msix_vectors - 1)
    await env.msix_program(v, *msix_msg(v), masked=False)
    for wq in env.latched:
        await env.ims_program(wq, 0, *ims_msg(wq, 0), masked=False)
    return v


def queued_desc(env, vec):
    """A descriptor that would leave every trace if it ran: data, record and an interrupt."""
    r = env.rng.random()
    if r < 0.4:
        return env.new_desc(OP_MEMFILL, env.rng.randint(1, 200), flags=RCI, handle=ims_handle(0))
    if r < 0.7:
        return env.new_desc(OP_MEMMOVE, env.rng.randint(1, 200), flags=RCI, handle=msix_handle(vec))
    return env.new_desc(OP_NOOP, flags=FLAG_CRAV | FLAG_RCR)


async def stall_and_queue(env, vec, wqs, per_wq=None):
    """Stall the engine on the first WQ, then queue descriptors on every WQ in `wqs`. Returns the queued ones."""
    first = wqs[0]
    await env.stall_engine(first, pasid=PASID)
    out = []
    for wq in wqs:
        cfg = env.latched[wq]
        n = per_wq or cfg.size
        if cfg.dedicated:
            # Posted: stay below SIZE so that no MOVDIR64B can find the queue full (whether the descriptor
            # executing still holds a slot is not said by the document).
            n = min(n, cfg.size - 1)
        for _ in range(n):
            t = await env.sb.submit(wq, queued_desc(env, vec), pasid=PASID)
            if not cfg.dedicated and t.cpl_status == RRS:
                break       # full (the engine prefetched less than expected): fine, OCCUPANCY says what is queued
            out.append(t)
        if cfg.dedicated:
            await env.b.settle(100)
            assert await env.occupancy(wq) <= cfg.size
    await env.b.settle(200)
    return out


async def settle_aborted(env, wqs, discarded: dict, what: str):
    """After the release: the youngest `discarded[wq]` accepted-but-unfinished descriptors of each WQ are the
    aborted ones; every other one completes. Nothing of the aborted ones may appear afterwards."""
    for wq in wqs:
        pending = env.sb.unfinished(wq)
        k = discarded[wq]
        assert k <= len(pending), f"{what}: WQ {wq} reports {k} discarded but only {len(pending)} are unfinished"
        env.sb.mark_aborted(pending[len(pending) - k:])
    await env.sb.wait_complete()
    await env.b.settle(600)
    await env.sb.check()
    env.sb.stats["aborted_counted"] += sum(discarded.values())


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_abort_wq_and_reset_wq(dut, pauses):
    """ABORT_WQ: RESULT = OCCUPANCY, the youngest are discarded, the executing one completes, the WQ stays
    enabled and usable. RESET_WQ: the same, and the WQ ends disabled (RRS / dropped afterwards)."""
    env = await WqEnv.start(dut, pauses)
    await env.setup(cfgs_for(env))
    vec = await program_irqs(env)
    wqs = sorted(env.latched)
    for cmd in (regs.CMD_ABORT_WQ, regs.CMD_RESET_WQ):
        for wq in wqs:
            await stall_and_queue(env, vec, [wq])
            occ = await env.occupancy(wq)
            assert occ > 0, f"WQ {wq}: nothing queued behind the stalled descriptor"
            await env.cmd_write(cmd, wq)
            if cmd == regs.CMD_ABORT_WQ:
                st = await env.cmd_wait(f"ABORT_WQ {wq}")
                env.hold.release()
            else:
                await env.b.settle(100)
                env.hold.release()        # RESET_WQ disables: it may wait for the executing descriptor
                st = await env.cmd_wait(f"RESET_WQ {wq}")
            assert st.err == regs.CMD_ERR_OK, f"cmd {cmd:#x} WQ {wq}: ERR {err_name(st.err)}"
            if cmd == regs.CMD_ABORT_WQ:
                assert st.result == occ, f"ABORT_WQ {wq}: RESULT {st.result}, {occ} were queued (OCCUPANCY)"
            elif st.result not in (0, occ):
                raise AssertionError(f"RESET_WQ {wq}: RESULT {st.result}, {occ} were queued")
            await settle_aborted(env, [wq], {wq: occ}, f"cmd {cmd:#x}")
            state = await env.wq_state(wq)
            if cmd == regs.CMD_ABORT_WQ:
                assert state == (WQ_STATE_ENABLED, 0), f"after ABORT_WQ {wq}: WQCFG6 {state}"
                t = await env.sb.submit(wq, env.new_desc(OP_MEMMOVE, 100), pasid=PASID)
                assert t.accepted
                await env.sb.wait_complete()
            else:
                assert state == (WQ_STATE_DISABLED, 0), f"after RESET_WQ {wq}: WQCFG6 {state}"
                if env.latched[wq].dedicated:
                    t = await env.sb.submit(wq, env.new_desc(OP_NOOP), expect_reject=regs.SWERR_DWQ_DISABLED)
                    await env.b.cycles(60)
                    await env.expect_swerr(regs.SWERR_DWQ_DISABLED, "MOVDIR64B after RESET_WQ", wq=wq)
                else:
                    t = await env.sb.submit(wq, env.new_desc(OP_NOOP), pasid=PASID)
                    assert t.cpl_status == RRS, f"ENQCMD after RESET_WQ: {t.cpl_status.name}"
                await env.enable_wq(wq)
    await env.b.settle()
    await env.sb.check()
    await env.sb.check_messages()
    await env.expect_no_swerr("abort/reset WQ")
    env.b.log.info(env.sb.report())


@cocotb.test()
@cocotb.parametrize(pauses=("none", "both"))
async def test_abort_all_and_reset_device(dut, pauses):
    """ABORT_ALL: RESULT = the sum of OCCUPANCY over the WQs, WQs stay enabled. RESET_DEVICE: queued
    descriptors discarded, every WQ and the device disabled."""
    env = await WqEnv.start(dut, pauses)
    await env.setup(cfgs_for(env))
    vec = await program_irqs(env)
    wqs = sorted(env.latched)
    for cmd in (regs.CMD_ABORT_ALL, regs.CMD_RESET_DEVICE):
        await stall_and_queue(env, vec, wqs)
        occ = {wq: await env.occupancy(wq) for wq in wqs}
        await env.cmd_write(cmd)
        await env.b.settle(100)
        env.hold.release()
        st = await env.cmd_wait(f"cmd {cmd:#x}")
        assert st.err == regs.CMD_ERR_OK, f"cmd {cmd:#x}: ERR {err_name(st.err)}"
        total = sum(occ.values())
        if cmd == regs.CMD_ABORT_ALL:
            assert st.result == total, f"ABORT_ALL: RESULT {st.result}, OCCUPANCY was {occ}"
        elif st.result not in (0, total):
            raise AssertionError(f"RESET_DEVICE: RESULT {st.result}, OCCUPANCY was {occ}")
        await settle_aborted(env, wqs, occ, f"cmd {cmd:#x}")
        for wq in wqs:
            want = WQ_STATE_ENABLED if cmd == regs.CMD_ABORT_ALL else WQ_STATE_DISABLED
            assert await env.wq_state(wq) == (want, 0), f"WQ {wq} after cmd {cmd:#x}"
    assert not await env.device_enabled(), "RESET_DEVICE left the device enabled"
    await env.sb.check_messages()
    await env.expect_no_swerr("abort all / reset device")
    env.b.log.info(env.sb.report())


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_disable_and_drain(dut, pauses):
    """DISABLE_WQ: RRS/dropped from then on, queued descriptors complete normally, then STATE = disabled.
    DRAIN_WQ: finishes only when every descriptor accepted before it has completed; another WQ keeps
    accepting meanwhile. DRAIN_ALL and DISABLE_DEVICE likewise for every WQ."""
    env = await WqEnv.start(dut, pauses)
    await env.setup(cfgs_for(env))
    vec = await program_irqs(env)
    wqs = sorted(env.latched)
    sw = wqs[0]

    for cmd in (regs.CMD_DISABLE_WQ, regs.CMD_DRAIN_WQ):
        before = await stall_and_queue(env, vec, [sw], per_wq=3)
        await env.cmd_write(cmd, sw)
        await env.b.settle(200)
        assert (await env.cmdsts())[0], f"cmd {cmd:#x} finished while descriptors cannot complete"
        assert (await env.wq_state(sw))[0] == WQ_STATE_DRAINING
        t = await env.sb.submit(sw, env.new_desc(OP_NOOP), pasid=PASID)
        assert t.cpl_status == RRS, f"submission while cmd {cmd:#x} runs: {t.cpl_status.name}"
        others = []
        for wq in wqs[1:]:                 # other WQs are not draining: they still accept
            others.append(await env.sb.submit(wq, env.new_desc(OP_NOOP)))
        env.hold.release()
        st = await env.cmd_wait(f"cmd {cmd:#x} {sw}")
        t_done = get_sim_time("ns")
        assert st.err == regs.CMD_ERR_OK
        await env.b.settle(100)   # the bench carries completions and posted writes on separate streams
        late = [u for u in before if u.state == "accepted" and not u.cr_writes]
        assert not late, f"cmd {cmd:#x} finished at {t_done} ns before: {', '.join(map(str, late))}"
        want = WQ_STATE_DISABLED if cmd == regs.CMD_DISABLE_WQ else WQ_STATE_ENABLED
        assert await env.wq_state(sw) == (want, 0)
        await env.sb.wait_complete()
        await env.sb.check()
        if cmd == regs.CMD_DISABLE_WQ:
            await env.enable_wq(sw)

    for cmd in (regs.CMD_DRAIN_ALL, regs.CMD_DISABLE_DEVICE):
        before = await stall_and_queue(env, vec, wqs, per_wq=2)
        await env.cmd_write(cmd)
        await env.b.settle(200)
        assert (await env.cmdsts())[0], f"cmd {cmd:#x} finished while descriptors cannot complete"
        t = await env.sb.submit(sw, env.new_desc(OP_NOOP), pasid=PASID)
        assert t.cpl_status == RRS, f"shared WQ during cmd {cmd:#x}: {t.cpl_status.name}, expected RRS"
        env.hold.release()
        st = await env.cmd_wait(f"cmd {cmd:#x}")
        assert st.err == regs.CMD_ERR_OK
        await env.b.settle(100)
        late = [u for u in before if u.state == "accepted" and not u.cr_writes]
        assert not late, f"cmd {cmd:#x} finished before: {', '.join(map(str, late))}"
        await env.sb.check()
    for wq in wqs:
        assert await env.wq_state(wq) == (WQ_STATE_DISABLED, 0), f"WQ {wq} after DISABLE_DEVICE"
    assert not await env.device_enabled()
    await env.sb.check_messages()
    await env.expect_no_swerr("disable/drain")
    env.b.log.info(env.sb.report())


@cocotb.test()
async def test_flr_with_descriptors_in_flight(dut):
    """FLR with descriptors executing and queued: nothing is written upstream after it (no record, data or
    interrupt), every register returns to its reset value (WQCFG, WQCFG6, GENSTS, CMDSTS, SWERR, IMS), and
    the device comes up again from scratch."""
    env = await WqEnv.start(dut, "both")
    await env.setup(cfgs_for(env))
    vec = await program_irqs(env)
    wqs = sorted(env.latched)
    queued = await stall_and_queue(env, vec, wqs)
    assert queued
    n_before = len(env.b.shim.tx_req_log)
    msgs_before = len(env.b.msgs.messages)
    flr0 = env.b.shim.flr_count
    flr_task = cocotb.start_soon(env.b.function_level_reset())
    while env.b.shim.flr_count == flr0:            # the moment the device sees the FLR pulse
        await env.b.cycles(1)
    t_flr = get_sim_time("ns")
    await flr_task
    env.hold.release()
    await env.b.settle(2000)
    # A TLP started before the FLR is finished after it; nothing may start after it.
    after = [r for r in env.b.shim.tx_req_log[n_before:] if r.start_ns >= t_flr]
    assert not after, f"{len(after)} upstream request(s) after FLR, first: {after[0]}"
    assert len(env.b.msgs.messages) == msgs_before, "interrupt message after FLR"
    env.sb.mark_aborted(env.sb.unfinished())
    await env.sb.check()

    assert not await env.device_enabled()
    assert await env.cmdsts() == (False, 0, 0)
    assert not (await env.read_swerr()).valid
    for wq in range(env.p.num_wq):
        base = regs.csr_wqcfg_at(wq)
        got = [await env.b.rd32(base + off) for off in
               (regs.CSR_WQCFG_WQCFG0, regs.CSR_WQCFG_WQCFG2, regs.CSR_WQCFG_WQCFG3, regs.CSR_WQCFG_WQCFG6)]
        want = [regs.CSR_WQCFG_WQCFG0_RESET, regs.CSR_WQCFG_WQCFG2_RESET, regs.CSR_WQCFG_WQCFG3_RESET, 0]
        assert got == want, f"WQCFG[{wq}] after FLR: {[hex(x) for x in got]}"
        assert await env.ims_read(wq, 0) == (0, 0, 0, regs.IMS_ENTRY_CTRL_RESET), f"IMS entry 0 of WQ {wq} after FLR"

    # From scratch, as a driver after reset.
    env.after_flr()
    await env.set_pasid_control(True, priv=True)
    await env.msix_enable()
    await env.setup(cfgs_for(env))
    vec = await program_irqs(env)
    for wq in sorted(env.latched):
        t = await env.sb.submit(wq, queued_desc(env, vec), pasid=PASID)
        assert t.accepted
    await env.sb.wait_complete()
    await env.b.settle()
    await env.sb.check()
    await env.sb.check_messages()
    env.b.log.info(env.sb.report())


# ------------------------------------------------------------------------ DRAIN_PASID / ABORT_PASID
# Linux idxd drains a process's PASID when the process closes the WQ (idxd_cdev release) and before its
# PASID is unbound and freed. PASID "A" below is the dedicated WQ's PASID too, so on builds with one both
# kinds of WQ hold A's descriptors; "B" (PASID) is the other process on the shared WQ.
PASID_A = DWQ_PASID


def a_desc(env, vec_a):
    """A PASID-A descriptor that leaves every trace if it runs, its interrupt on A's own MSI-X vector."""
    op = OP_MEMFILL if env.rng.random() < 0.5 else OP_MEMMOVE
    return env.new_desc(op, env.rng.randint(1, 200), flags=RCI, handle=msix_handle(vec_a))


async def program_vec_a(env):
    vec_a = min(2, env.p.msix_vectors - 1)
    await env.msix_program(vec_a, *msix_msg(vec_a), masked=False)
    return vec_a


async def queue_two_pasids(env, vec, vec_a):
    """Stall the engine on PASID-B MEMMOVEs of the shared WQ (the last one stays queued), then queue a random
    mix of A and B descriptors behind them (one slot stays free for a submission during the command) and A
    descriptors on the dedicated WQ. The first and the youngest queued descriptor of every WQ are A's, so a
    command that misses either end of the queue (an off-by-one mark) changes RESULT on every configuration,
    the one-WQ small one included; the second on the shared WQ is B's when there are three or more.
    Returns (stalled B descriptors, [(descriptor, is_a)])."""
    stall = await env.stall_engine(0, pasid=PASID)
    queued = []
    for wq in sorted(env.latched):
        cfg = env.latched[wq]
        n = cfg.size - (1 if cfg.dedicated else 2)
        for i in range(n):
            is_a = cfg.dedicated or i in (0, n - 1) or (i > 1 and env.rng.random() < 0.5)
            t = await env.sb.submit(wq, a_desc(env, vec_a) if is_a else queued_desc(env, vec),
                                    pasid=PASID_A if is_a else PASID)
            assert t.accepted, f"{t} not accepted with the WQ not full: {t.cpl_status}"
            queued.append((t, is_a))
    await env.b.settle(200)
    occ = {wq: await env.occupancy(wq) for wq in env.latched}
    assert sum(occ.values()) == 1 + len(queued), f"OCCUPANCY {occ} with 1 + {len(queued)} queued behind the stall"
    return stall, queued


async def pasid_cmd_wait(env, what):
    """cmd_wait, plus the moment the command had finished at the latest: when the device started sending the
    completion of the CMDSTS read that returned ACTIVE = 0 (no other host read is outstanding here)."""
    st = await env.cmd_wait(what)
    return st, env.b.shim.tx_cpl_log[-1].start_ns


def started(env, pasid=None, addr=None):
    """Start times (first beat shown on tx_req) of the device's TLPs with this PASID or to this address."""
    return [r.start_ns for r in env.b.shim.tx_req_log
            if (pasid is None or r.tlp.pasid == pasid) and (addr is None or r.tlp.address == addr)]


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_abort_pasid(dut, pauses):
    """ABORT_PASID A with the engine stalled on an earlier B descriptor: it stays ACTIVE until the earlier
    descriptors of other PASIDs have completed, RESULT = the number of A descriptors queued, exactly those
    never show anything (no data, record or interrupt), every B descriptor completes, the WQs keep accepting
    during the command, and an A descriptor submitted meanwhile runs. A second abort with nothing of A
    queued reports 0."""
    env = await WqEnv.start(dut, pauses)
    await env.setup(cfgs_for(env))
    vec = await program_irqs(env)
    vec_a = await program_vec_a(env)
    stall, queued = await queue_two_pasids(env, vec, vec_a)
    want = sum(is_a for _, is_a in queued)
    await env.cmd_write(regs.CMD_ABORT_PASID, PASID_A)
    await env.b.settle(200)
    assert (await env.cmdsts())[0], "ABORT_PASID finished while an earlier descriptor cannot complete"
    late_a = await env.sb.submit(0, a_desc(env, vec_a), pasid=PASID_A)
    assert late_a.accepted, f"shared WQ during ABORT_PASID: {late_a.cpl_status.name}, expected SC"
    env.hold.release()
    st, t_done = await pasid_cmd_wait(env, "ABORT_PASID")
    assert st.err == regs.CMD_ERR_OK, f"ABORT_PASID: ERR {err_name(st.err)}"
    assert st.result == want, f"ABORT_PASID: RESULT {st.result}, {want} PASID-A descriptors were queued"
    env.sb.mark_aborted([t for t, is_a in queued if is_a])
    # Every earlier descriptor of another PASID had written its record before ACTIVE fell.
    for t in stall + [t for t, is_a in queued if not is_a]:
        when = started(env, addr=t.desc.cr_addr)
        assert when and max(when) < t_done, f"{t}: record write at {when} ns, ABORT_PASID done at {t_done} ns"
    await env.sb.wait_complete()
    await env.b.settle(600)
    await env.sb.check()
    assert late_a.state == "completed", f"{late_a} (submitted during ABORT_PASID) ended {late_a.state}"

    assert await env.cmd_ok(regs.CMD_ABORT_PASID, PASID_A) == 0, "ABORT_PASID with nothing of A queued"
    for wq in env.latched:
        assert await env.wq_state(wq) == (WQ_STATE_ENABLED, 0), f"WQ {wq} after ABORT_PASID"
    await env.sb.check_messages()
    await env.expect_no_swerr("ABORT_PASID")
    env.b.log.info(env.sb.report())


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_drain_pasid(dut, pauses):
    """DRAIN_PASID A: ACTIVE while an earlier descriptor cannot complete, other PASIDs keep submitting (SC,
    where DRAIN_WQ answers RRS), and once ACTIVE falls every TLP of A (reads, writes, records: all carry A's
    PASID prefix) and every interrupt message of A's descriptors has already been sent on the link, none
    after. RESULT 0."""
    env = await WqEnv.start(dut, pauses)
    await env.setup(cfgs_for(env))
    vec = await program_irqs(env)
    vec_a = await program_vec_a(env)
    stall, queued = await queue_two_pasids(env, vec, vec_a)
    n_a = sum(is_a for _, is_a in queued)
    await env.cmd_write(regs.CMD_DRAIN_PASID, PASID_A)
    await env.b.settle(200)
    assert (await env.cmdsts())[0], "DRAIN_PASID finished while an earlier descriptor cannot complete"
    other = await env.sb.submit(0, queued_desc(env, vec), pasid=PASID)
    assert other.accepted, f"shared WQ during DRAIN_PASID: {other.cpl_status.name}, expected SC"
    env.hold.release()
    st, t_done = await pasid_cmd_wait(env, "DRAIN_PASID")
    assert (st.err, st.result) == (regs.CMD_ERR_OK, 0), f"DRAIN_PASID: ERR {err_name(st.err)} RESULT {st.result}"
    a_addr = msix_msg(vec_a)[0]
    sent_a = started(env, addr=a_addr)
    assert len(sent_a) == n_a, f"{len(sent_a)} interrupt messages of PASID A by DRAIN_PASID's end, {n_a} expected"
    await env.sb.wait_complete()
    await env.b.settle(600)
    await env.sb.check()
    await env.sb.check_messages()
    late = [t for t in started(env, pasid=PASID_A) + started(env, addr=a_addr) if t >= t_done]
    assert started(env, pasid=PASID_A) and not late, \
        f"{len(late)} TLP(s) of PASID A started after DRAIN_PASID finished at {t_done} ns: {late[:4]}"
    await env.expect_no_swerr("DRAIN_PASID")
    env.b.log.info(env.sb.report())


@cocotb.test()
@cocotb.parametrize(pauses=("none", "both"))
async def test_abort_pasid_under_traffic(dut, pauses):
    """ABORT_PASID A at a random moment while both processes keep submitting: every A descriptor either
    completes whole or leaves no trace, the ones left without a trace are exactly RESULT in number and were
    all submitted before the command finished, and no B descriptor is lost. Seeded: the moment and the mix
    replay."""
    env = await WqEnv.start(dut, pauses)
    await env.setup(cfgs_for(env))
    vec = await program_irqs(env)
    vec_a = await program_vec_a(env)
    stop = Event()
    subs = []

    async def submitter(wq, is_a):
        while not stop.is_set():
            d = a_desc(env, vec_a) if is_a else queued_desc(env, vec)
            t = await env.sb.submit(wq, d, pasid=PASID_A if is_a else PASID, expect_reject=None)
            if t.accepted:
                subs.append((t, is_a))
            await env.b.cycles(env.rng.randint(0, 40))

    tasks = [cocotb.start_soon(submitter(0, True)), cocotb.start_soon(submitter(0, False))]
    await env.b.cycles(env.rng.randint(200, 1500))
    await env.cmd_write(regs.CMD_ABORT_PASID, PASID_A)
    st = await env.cmd_wait("ABORT_PASID under traffic")
    t_done = get_sim_time("ns")
    await env.b.cycles(env.rng.randint(100, 600))
    stop.set()
    for t in tasks:
        await t
    assert st.err == regs.CMD_ERR_OK
    # DRAIN_ALL finishes once everything accepted has left the device; the bench then needs a few cycles
    # to carry the last posted writes to host memory.
    await env.cmd_ok(regs.CMD_DRAIN_ALL)
    await env.b.settle(200)
    unrun = [t for t, is_a in subs if is_a and t.state == "accepted" and not t.cr_writes and not t.dst_writes]
    assert len(unrun) == st.result, f"ABORT_PASID RESULT {st.result}, {len(unrun)} A descriptors never ran"
    assert all(t.submit_ns < t_done for t in unrun), "a descriptor submitted after ABORT_PASID was discarded"
    env.sb.mark_aborted(unrun)
    await env.sb.wait_complete()
    await env.sb.check()
    await env.sb.check_messages()
    env.b.log.info(f"ABORT_PASID under traffic: {st.result} discarded of "
                   f"{sum(a for _, a in subs)} A / {sum(not a for _, a in subs)} B submitted")


@cocotb.test()
@cocotb.parametrize(pauses=("none", "both"))
async def test_pasid_commands_wait_for_descriptors_in_flight(dut, pauses):
    """With nothing of the PASID queued but descriptors of it already taken by the engine (in flight, their
    reads held), DRAIN_PASID and ABORT_PASID stay ACTIVE until those descriptors have finished: each
    record was sent before the completion that reported ACTIVE = 0; ABORT_PASID discards nothing (RESULT 0).
    Then a FENCE descriptor: its operation starts only after the earlier descriptor of its WQ finished."""
    env = await WqEnv.start(dut, pauses)
    await env.setup({0: WqConfig(size=min(env.p.wq_depth, 4))})
    for cmd in (regs.CMD_DRAIN_PASID, regs.CMD_ABORT_PASID):
        env.hold.hold()
        inflight = [await env.sb.submit(0, env.new_desc(OP_MEMMOVE, env.rng.randint(64, 400)), pasid=PASID_A)
                    for _ in range(2)]
        assert all(t.accepted for t in inflight)
        await env.b.settle(200)
        assert await env.occupancy(0) == 0, "the engine did not take both descriptors"
        await env.cmd_write(cmd, PASID_A)
        await env.b.settle(300)
        assert (await env.cmdsts())[0], f"{cmd_name(cmd)} finished while descriptors of the PASID are in flight"
        env.hold.release()
        st, t_done = await pasid_cmd_wait(env, cmd_name(cmd))
        assert (st.err, st.result) == (regs.CMD_ERR_OK, 0), f"{cmd_name(cmd)}: ERR {err_name(st.err)} RESULT {st.result}"
        for t in inflight:
            when = started(env, addr=t.desc.cr_addr)
            assert when and max(when) < t_done, f"{t}: record at {when} ns, {cmd_name(cmd)} done at {t_done} ns"
        await env.sb.wait_complete()
        await env.sb.check()

    # FENCE: the second descriptor's source reads may not start before the first descriptor has finished
    env.hold.hold()
    first = await env.sb.submit(0, env.new_desc(OP_MEMMOVE, 300), pasid=PASID_A)
    fenced = await env.sb.submit(0, env.new_desc(OP_MEMMOVE, 200, flags=FLAG_CRAV | FLAG_RCR | FLAG_FENCE),
                                 pasid=PASID_A)
    await env.b.settle(300)
    assert not started(env, addr=fenced.desc.src), "the FENCE descriptor read its source while the earlier one ran"
    env.hold.release()
    await env.sb.wait_complete()
    await env.sb.check()
    cr_done = max(started(env, addr=first.desc.cr_addr))
    reads = started(env, addr=fenced.desc.src)
    assert reads and min(reads) > cr_done, f"FENCE: source read at {reads} ns, earlier record at {cr_done} ns"
