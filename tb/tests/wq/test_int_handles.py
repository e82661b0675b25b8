"""Interrupt handles: REQUEST_INT_HANDLE / RELEASE_INT_HANDLE and INTHDL_CTL.REQUIRED, against
docs/work_queues.md "Interrupt handles" and the CMD, CMDCAP and INTHDL_CTL rows of docs/registers.md.

Linux idxd requests a handle for every completion interrupt it hands out when CMDCAP lists
REQUEST_INT_HANDLE (code 13), and requests them again after a reset. Operand: bit 16 = IMS (idxd's
CMD_INT_HANDLE_IMS); MSI-X vector in bits 15:0; IMS: WQ in bits 15:11, entry in bits 10:0. The handle
granted is the descriptor encoding of the entry. While INTHDL_CTL.REQUIRED = 1 a completion interrupt
whose handle is not granted (never requested, released, or revoked by RESET_DEVICE / FLR) makes the
descriptor complete with DSA_COMP_INT_HANDLE_INVAL (0x19) and no interrupt; the scoreboard (tb/wq.py)
predicts that from the grants the bench recorded.
"""
import cocotb
from cocotb.utils import get_sim_time

from imsdev import regs
from tb.bad_inputs import BadInput
from tb.env import CLOCK_NS, DEV_IDLE_LAG_CYCLES, DevIdleTrace, PAUSE_MODES, SETTLE_QUIET_CYCLES
from tb.wq import (FLAG_CRAV, FLAG_RCI, FLAG_RCR, OP_MEMFILL, OP_NOOP, ST_INT_HANDLE, ST_SUCCESS, WqConfig, WqEnv,
                   err_name, ims_handle, ims_msg, msix_handle, msix_msg)

PASID = 0x4ABC
RCI = FLAG_CRAV | FLAG_RCR | FLAG_RCI


async def expect(env, code, operand, err, result=None, why=""):
    st = await env.cmd(code, operand)
    assert st.err == err, f"cmd {code} operand {operand:#x} {why}: ERR {err_name(st.err)}, expected {err_name(err)}"
    if result is not None:
        assert st.result == result, f"cmd {code} operand {operand:#x} {why}: RESULT {st.result:#x}, expected {result:#x}"


@cocotb.test()
async def test_cmdcap_and_handle_commands(dut):
    """CMDCAP lists exactly the commands the register map defines. REQUEST_INT_HANDLE returns the entry's
    descriptor handle for the first and last MSI-X vector and IMS entry of every WQ, with the device
    disabled and enabled; an operand naming no entry (vector or entry one past the last, WQ past CAP0.NUM_WQ,
    bits 19:17 set) fails with INVAL_INT_IDX, and RELEASE_INT_HANDLE likewise with INVAL_INT_IDX_RELEASE."""
    env = await WqEnv.start(dut)
    p = env.p
    want_cap = sum(1 << code for code in regs.ENUMS["CMD"].values())
    cap = await env.b.rd32(regs.CSR_CMDCAP)
    assert cap == want_cap, f"CMDCAP {cap:#x}, expected {want_cap:#x}"
    assert await env.b.rd32(regs.CSR_INTHDL_CTL) == 0, "INTHDL_CTL after reset"
    req, rel = regs.CMD_REQUEST_INT_HANDLE, regs.CMD_RELEASE_INT_HANDLE
    op = env.handle_operand
    for state in ("disabled", "enabled"):
        if state == "enabled":
            await env.enable_device()
        for v in {0, p.msix_vectors - 1}:
            await expect(env, req, op("msix", v), regs.CMD_ERR_OK, msix_handle(v), f"vector {v}, device {state}")
            await expect(env, rel, op("msix", v), regs.CMD_ERR_OK, 0, f"vector {v}, device {state}")
        for wq in range(p.num_wq):
            for i in {0, p.ims_per_wq - 1}:
                await expect(env, req, op("ims", i, wq), regs.CMD_ERR_OK, ims_handle(i), f"IMS {wq}/{i}")
                await expect(env, rel, op("ims", i, wq), regs.CMD_ERR_OK, 0, f"IMS {wq}/{i}")
        bad = [op("msix", p.msix_vectors), op("msix", 0xFFFF), op("ims", p.ims_per_wq, 0),
               op("ims", 0, p.num_wq) if p.num_wq < 32 else None, 1 << 17 | 0, 1 << 19 | op("ims", 0, 0)]
        for operand in [b for b in bad if b is not None]:
            await expect(env, req, operand, regs.CMD_ERR_INVAL_INT_IDX, why=f"device {state}")
            await expect(env, rel, operand, regs.CMD_ERR_INVAL_INT_IDX_RELEASE, why=f"device {state}")


def sweep_cycles(p) -> int:
    """The handle table's sweep after a reset or RESET_DEVICE: one slot per cycle, MSI-X vectors then IMS entries."""
    return p.msix_vectors + p.num_wq * p.ims_per_wq


def rci_desc(env, handle, op=OP_NOOP):
    return env.new_desc(op, 64 if op == OP_MEMFILL else 0, flags=RCI, handle=handle)


async def submit(env, wq, handle, want_status, op=OP_NOOP):
    """One RCI descriptor, run to completion before the grants change (the handle is checked when the engine
    takes the descriptor, not when the WQ accepts it); the scoreboard predicts its status from the grants,
    and so does the test."""
    t = await env.sb.submit(wq, rci_desc(env, handle, op), pasid=PASID)
    assert t.accepted, f"{t}: {t.cpl_status}"
    assert t.status == want_status, f"{t}: scoreboard predicts {t.status:#x}, the test expects {want_status:#x}"
    await env.sb.wait_complete([t])
    return t


def shared_wqs(env):
    """Two shared WQs on builds that have them (an IMS grant is per WQ), one otherwise."""
    size = min(env.p.wq_depth, 4)
    return {wq: WqConfig(size=size) for wq in sorted({0, env.p.num_wq - 1})}


async def program(env, vec, index):
    await env.msix_program(vec, *msix_msg(vec), masked=False)
    for wq in env.latched:
        await env.ims_program(wq, index, *ims_msg(wq, index), masked=False)


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_required_handles(dut, pauses):
    """REQUIRED = 0: a handle in range needs no request. REQUIRED = 1: an ungranted MSI-X or IMS handle gives
    status 0x19, a record and no interrupt; once requested it interrupts; an IMS grant is for one WQ's entry
    (the same handle on another WQ is still invalid); after RELEASE it is invalid again."""
    env = await WqEnv.start(dut, pauses)
    await env.setup(shared_wqs(env))
    wqs = sorted(env.latched)
    vec, index = min(3, env.p.msix_vectors - 1), min(5, env.p.ims_per_wq - 1)
    await program(env, vec, index)

    await submit(env, wqs[0], msix_handle(vec), ST_SUCCESS)
    await env.set_handles_required(True)
    assert await env.b.rd32(regs.CSR_INTHDL_CTL) == 1
    await submit(env, wqs[0], msix_handle(vec), ST_INT_HANDLE)
    await submit(env, wqs[0], ims_handle(index), ST_INT_HANDLE, op=OP_MEMFILL)
    assert await env.request_handle("msix", vec) == msix_handle(vec)
    assert await env.request_handle("ims", index, wq=wqs[0]) == ims_handle(index)
    await submit(env, wqs[0], msix_handle(vec), ST_SUCCESS, op=OP_MEMFILL)
    await submit(env, wqs[0], ims_handle(index), ST_SUCCESS)
    if len(wqs) > 1:
        await submit(env, wqs[1], ims_handle(index), ST_INT_HANDLE)     # granted for WQ wqs[0]'s entry only
        await submit(env, wqs[1], msix_handle(vec), ST_SUCCESS)          # MSI-X handles are device-wide
        await env.request_handle("ims", index, wq=wqs[1])
        await submit(env, wqs[1], ims_handle(index), ST_SUCCESS)
    await env.release_handle("msix", vec)
    await submit(env, wqs[0], msix_handle(vec), ST_INT_HANDLE)
    await submit(env, wqs[0], ims_handle(index), ST_SUCCESS)
    await env.sb.wait_complete()
    await env.sb.check()
    await env.sb.check_messages()
    await env.expect_no_swerr("interrupt handles")
    env.b.log.info(env.sb.report())


@cocotb.test()
async def test_settle_waits_behind_the_sweep(dut):
    """After a reset the handle table's sweep clears one slot per cycle (MSIX_VECTORS + NUM_WQ x IMS_PER_WQ
    cycles), and while INTHDL_CTL.REQUIRED = 1 it holds every descriptor: the device has work in progress
    (dev_idle low, the descriptor counted in its WQ) and nothing moves on the link. Bench.settle() must not
    return before that descriptor completes, and dev_idle is high when it does. Where the sweep outlasts the
    set-up (default and larger: 4,096 cycles and more) the descriptor is submitted mid-sweep and waits longer
    than settle's quiet window, which a settle judged by the link alone ended early (2026-12-07: 3,861 quiet
    cycles on default, past the fixed 400-cycle settle of the time)."""
    env = await WqEnv.start(dut)
    p = env.p
    sweep_end_ns = env.b.reset_released_ns + sweep_cycles(p) * CLOCK_NS
    await env.setup({0: WqConfig(size=min(env.p.wq_depth, 4), dedicated=True)})
    await env.set_handles_required(True)
    # read back: REQUIRED in force before the descriptor arrives (the portal's path to the WQ is a cycle
    # shorter than the register write's)
    assert await env.b.rd32(regs.CSR_INTHDL_CTL) == 1
    d = env.new_desc(OP_NOOP, 0, flags=FLAG_CRAV | FLAG_RCR)
    t = await env.sb.submit(0, d)
    submitted_ns = get_sim_time("ns")
    held_cycles = int(sweep_end_ns - submitted_ns) // CLOCK_NS
    if sweep_cycles(p) >= 4096:
        assert held_cycles > 2 * SETTLE_QUIET_CYCLES, \
            f"the set-up outlasted the sweep ({held_cycles} cycles left at the submission): nothing is tested here"
    env.b.log.info("descriptor submitted %d cycles before the sweep ends", held_cycles)
    await env.b.settle()
    record = env.b.rc.host_memory.read(d.cr_addr, 1)[0]
    assert record == ST_SUCCESS, \
        f"settle() returned at {get_sim_time('ns'):.0f} ns with the descriptor's record {record:#x} unwritten " \
        f"(sweep ends at {sweep_end_ns:.0f} ns)"
    assert dut.dev_idle.value == 1, "dev_idle low after the descriptor completed and nothing else was given"
    await env.sb.wait_complete([t])
    await env.sb.check()


@cocotb.test()
async def test_required_set_right_before_a_submission(dut):
    """An FLR revokes every handle by a sweep of the handle table (MSI-X vectors, then every WQ's IMS entries:
    MSIX_VECTORS + NUM_WQ x IMS_PER_WQ cycles) and returns INTHDL_CTL to 0, so descriptors flow during the
    sweep, their handles unchecked. Software then sets REQUIRED and submits an RCI descriptor carrying a
    handle granted before the FLR, the two posted writes back to back: the descriptor must complete with 0x19
    (not granted) and send no interrupt, in whichever cycle each write takes effect and wherever the sweep
    is. The handle is the last IMS entry of the last WQ, the sweep's last slot: on default the submission
    comes about 2,000 cycles before the sweep clears it."""
    env = await WqEnv.start(dut)
    p = env.p
    wq, index = p.num_wq - 1, p.ims_per_wq - 1
    cfgs = {wq: WqConfig(size=min(p.wq_depth, 4), dedicated=True)}
    await env.setup(cfgs)
    await env.ims_program(wq, index, *ims_msg(wq, index), masked=False)
    await env.set_handles_required(True)
    assert await env.request_handle("ims", index, wq=wq) == ims_handle(index)
    await submit(env, wq, ims_handle(index), ST_SUCCESS)
    await env.sb.check_messages()

    await env.b.function_level_reset()
    env.after_flr()
    sweep_end_ns = get_sim_time("ns") + sweep_cycles(p) * CLOCK_NS
    await env.set_pasid_control(True, priv=True)
    await env.setup(cfgs)
    await env.ims_program(wq, index, *ims_msg(wq, index), masked=False)
    await env.set_handles_required(True)               # posted, and no read-back before the submission
    t = await env.sb.submit(wq, rci_desc(env, ims_handle(index)))
    env.b.log.info("submitted about %d cycles before the sweep clears the handle",
                   (sweep_end_ns - get_sim_time("ns")) // CLOCK_NS)
    assert t.status == ST_INT_HANDLE, f"{t}: the scoreboard predicts {t.status:#x}"
    await env.sb.wait_complete([t])
    await env.sb.check()
    await env.sb.check_messages()


@cocotb.test()
async def test_dev_idle_while_a_command_runs(dut):
    """dev_idle counts a running command as work in progress: RESET_DEVICE stays ACTIVE until the handle
    table's sweep ends (MSIX_VECTORS + NUM_WQ x IMS_PER_WQ cycles) with no descriptor anywhere and nothing
    on the link but software's CMDSTS polls. dev_idle is high before the command, low in every cycle from a
    few cycles after the CMD write until the last poll that still reads ACTIVE = 1, and high again after."""
    env = await WqEnv.start(dut)
    await env.setup({0: WqConfig(size=min(env.p.wq_depth, 4))})
    await env.b.settle()
    assert dut.dev_idle.value == 1, "dev_idle low with the device enabled and nothing to do"
    trace = DevIdleTrace(env.b)
    await env.cmd_write(regs.CMD_RESET_DEVICE)
    written_ns = get_sim_time("ns")
    active_polls = []
    st = await env.cmd_wait("RESET_DEVICE", active_polls=active_polls)
    trace.stop()
    assert st.err == regs.CMD_ERR_OK, f"RESET_DEVICE: ERR {err_name(st.err)}"
    assert active_polls, "RESET_DEVICE finished before the first CMDSTS read: nothing was measured"
    last_active_ns = active_polls[-1]
    t0 = written_ns + 2 * DEV_IDLE_LAG_CYCLES * CLOCK_NS      # the write's way to the WQ manager, then dev_idle
    high = trace.high_between(t0, last_active_ns)
    assert not high, f"dev_idle high at {high[:4]} ns while RESET_DEVICE was ACTIVE (written at {written_ns} ns, " \
                     f"ACTIVE read at {last_active_ns} ns)"
    await env.b.settle()
    assert dut.dev_idle.value == 1, "dev_idle low after RESET_DEVICE finished"


def sweep_ends(env, cfgs):
    """Handles at both ends of each kind of slot the reset sweep clears (MSI-X vectors, then every WQ's IMS
    entries): vectors 1 and the last (vector 0 also carries the device's own interrupt), entry 0 of the first
    WQ and the last entry of the last WQ, the sweep's last slot. Returns (vectors, [(wq, index)])."""
    p = env.p
    return sorted({min(1, p.msix_vectors - 1), p.msix_vectors - 1}), [(min(cfgs), 0), (max(cfgs), p.ims_per_wq - 1)]


async def program_ends(env, vecs, ims):
    for vec in vecs:
        await env.msix_program(vec, *msix_msg(vec), masked=False)
    for wq, index in ims:
        await env.ims_program(wq, index, *ims_msg(wq, index), masked=False)


async def request_ends(env, vecs, ims):
    for vec in vecs:
        await env.request_handle("msix", vec)
    for wq, index in ims:
        await env.request_handle("ims", index, wq=wq)


async def revoked_until_requested(env, vecs, ims):
    """Every old MSI-X and IMS handle gives 0x19 and no interrupt; requested again, each interrupts."""
    for vec in vecs:
        await submit(env, ims[0][0], msix_handle(vec), ST_INT_HANDLE)
    for wq, index in ims:
        await submit(env, wq, ims_handle(index), ST_INT_HANDLE)
    await request_ends(env, vecs, ims)
    for vec in vecs:
        await submit(env, ims[0][0], msix_handle(vec), ST_SUCCESS)
    for wq, index in ims:
        await submit(env, wq, ims_handle(index), ST_SUCCESS)
    await env.sb.wait_complete()
    await env.sb.check()
    await env.sb.check_messages()


@cocotb.test()
async def test_handles_revoked_by_reset_and_flr(dut):
    """RESET_DEVICE revokes every handle (REQUIRED stays 1): the old handles give 0x19 and no interrupt until
    requested again. FLR revokes them too and returns INTHDL_CTL to 0; with REQUIRED set again the old
    handles are invalid until re-requested, as idxd re-requests them after a reset. The handles used sit at
    both ends of the reset sweep (sweep_ends: MSI-X vectors 1 and the last, entry 0 of the first WQ and the
    last entry of the last WQ)."""
    env = await WqEnv.start(dut, "both")
    cfgs = shared_wqs(env)
    await env.setup(cfgs)
    vecs, ims = sweep_ends(env, cfgs)
    await program_ends(env, vecs, ims)
    await env.set_handles_required(True)
    await request_ends(env, vecs, ims)
    for vec in vecs:
        await submit(env, ims[0][0], msix_handle(vec), ST_SUCCESS)
    for wq, index in ims:
        await submit(env, wq, ims_handle(index), ST_SUCCESS)
    await env.sb.wait_complete()

    assert await env.cmd_ok(regs.CMD_RESET_DEVICE) == 0
    assert await env.b.rd32(regs.CSR_INTHDL_CTL) == 1, "RESET_DEVICE changed INTHDL_CTL"
    await env.setup(cfgs)
    await revoked_until_requested(env, vecs, ims)

    await env.b.function_level_reset()
    env.after_flr()
    assert await env.b.rd32(regs.CSR_INTHDL_CTL) == 0, "INTHDL_CTL after FLR"
    await env.set_pasid_control(True, priv=True)
    await env.msix_enable()
    await env.setup(cfgs)
    await program_ends(env, vecs, ims)
    await env.set_handles_required(True)
    await revoked_until_requested(env, vecs, ims)
    await env.expect_no_swerr("handles after reset")
    env.b.log.info(env.sb.report())


BAD_INPUTS = (
    BadInput(cls="command", input="REQUEST_INT_HANDLE naming no entry: vector CAP2.MSIX_VECTORS or 0xFFFF, IMS entry "
                                  "CAP1.IMS_PER_WQ, WQ CAP0.NUM_WQ, operand bits 19:17 set (device disabled and enabled)",
             outcome="CMDSTS.ERR INVAL_INT_IDX (0x41); nothing granted", test="test_cmdcap_and_handle_commands"),
    BadInput(cls="command", input="RELEASE_INT_HANDLE with the same operands",
             outcome="CMDSTS.ERR INVAL_INT_IDX_RELEASE (0x43)", test="test_cmdcap_and_handle_commands"),
    BadInput(cls="interrupt", input="INTHDL_CTL.REQUIRED = 1 and an RCI descriptor whose handle was never requested, "
                                    "was released, or granted for another WQ's IMS entry",
             outcome="record status 0x19 (DSA_COMP_INT_HANDLE_INVAL); no interrupt message",
             test="test_required_handles"),
    BadInput(cls="interrupt", input="a handle granted before RESET_DEVICE or FLR, used after it",
             outcome="record status 0x19; no interrupt message until requested again",
             test="test_handles_revoked_by_reset_and_flr"),
)
