"""Drain, abort and reset against docs/work_queues.md 'Drain, abort, reset' and the CMD table of
docs/registers.md.

The DMA is held (tb.wq.DmaHold) so that the descriptor executing cannot finish; what is queued behind it
is then exactly WQCFG6.OCCUPANCY, which makes each outcome exact: ABORT_* must report that number in
CMDSTS.RESULT, the discarded descriptors must be the youngest ones, and after the DMA is released the
others complete normally while the discarded ones never write a record, data or an interrupt.
"""
import cocotb
from cocotb.utils import get_sim_time

from imsdev import regs
from tb.env import PAUSE_MODES
from tb.pcie.tlp import RRS
from tb.wq import (FLAG_CRAV, FLAG_RCI, FLAG_RCR, OP_MEMFILL, OP_MEMMOVE, OP_NOOP,
                   WQ_STATE_DISABLED, WQ_STATE_DRAINING, WQ_STATE_ENABLED, WqConfig, WqEnv, err_name, ims_handle,
                   ims_msg, msix_handle, msix_msg)
PASID = 0x1F00D
RCI = FLAG_CRAV | FLAG_RCR | FLAG_RCI


def cfgs_for(env):
    """A shared WQ, plus a dedicated one on builds with more than one WQ."""
    size = min(env.p.wq_depth, 6)
    c = {0: WqConfig(size=size)}
    if env.p.num_wq > 1:
        c[env.p.num_wq - 1] = WqConfig(size=min(env.p.wq_depth, 4), dedicated=True, pasid=0x2345, pasid_en=True)
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
