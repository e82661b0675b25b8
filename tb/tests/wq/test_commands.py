"""Commands (CMD/CMDSTS) and WQ configuration against docs/work_queues.md 'Bring-up' and 'Drain, abort,
reset', and docs/registers.md (CMD, CMD_ERR, GENSTS, WQCFG0..6).

Every error code of CMD_ERR is provoked; WQCFG6 STATE/OCCUPANCY are read at each step; the configuration
is shown to be latched by ENABLE_WQ (PASID used for DMA, MAX_XFER_SHIFT); a command written while
CMDSTS.ACTIVE is 1 is shown to be ignored, made observable by holding the DMA so that a DRAIN_WQ stays
active for as long as the test wants.
"""
import cocotb
from cocotbext.pcie.core.tlp import CplStatus

from imsdev import regs
from tb.bad_inputs import BadInput
from tb.env import PAUSE_MODES
from tb.pcie.tlp import RRS
from tb.wq import (OP_MEMMOVE, OP_NOOP, ST_XFER_SIZE, WQ_STATE_DISABLED, WQ_STATE_DRAINING, WQ_STATE_ENABLED,
                   WqConfig, WqEnv, cmd_name, err_name)

E = regs  # CMD_*/CMD_ERR_* constants


WQ_COMMANDS = (E.CMD_ENABLE_WQ, E.CMD_DISABLE_WQ, E.CMD_DRAIN_WQ, E.CMD_ABORT_WQ, E.CMD_RESET_WQ)


async def expect_err(env, code, operand, err, why, result=None):
    st = await env.cmd(code, operand)
    assert st.err == err, f"{cmd_name(code)} {operand:#x} ({why}): CMDSTS.ERR {err_name(st.err)}, " \
                          f"expected {err_name(err)}"
    if result is not None:
        assert st.result == result, f"{cmd_name(code)} {operand:#x} ({why}): CMDSTS.RESULT {st.result}, " \
                                    f"expected {result}"


async def wq_commands_on_missing_and_disabled_wqs(env, why):
    """Every WQ command on WQs the build lacks: WQ_INVAL (registers.md: ENABLE_WQ on them fails with WQ_INVAL,
    whatever the device state). On a disabled WQ: DISABLE_WQ / DRAIN_WQ fail with WQ_NOT_ENABLED; ABORT_WQ and
    RESET_WQ have no error of their own (CMD_ERR): they succeed, discard nothing (RESULT 0) and leave the WQ
    disabled."""
    n = env.p.num_wq
    for code in WQ_COMMANDS:
        for op in sorted({n, regs.CSR_WQCFG_COUNT, 0xFFFFF}):   # first missing WQ, past the map, far
            await expect_err(env, code, op, E.CMD_ERR_WQ_INVAL, f"{why}, build has {n} WQs", result=0)
    disabled = [w for w in range(n) if (await env.wq_state(w))[0] == WQ_STATE_DISABLED]
    assert disabled, f"{why}: no disabled WQ to command"
    wq = disabled[-1]
    for code in (E.CMD_DISABLE_WQ, E.CMD_DRAIN_WQ):
        await expect_err(env, code, wq, E.CMD_ERR_WQ_NOT_ENABLED, f"{why}, WQ {wq} disabled", result=0)
    for code in (E.CMD_ABORT_WQ, E.CMD_RESET_WQ):
        await expect_err(env, code, wq, E.CMD_ERR_OK, f"{why}, WQ {wq} disabled", result=0)
        assert await env.wq_state(wq) == (WQ_STATE_DISABLED, 0), f"{cmd_name(code)} {wq} ({why}): WQCFG6"


@cocotb.test()
async def test_command_errors_and_states(dut):
    """Every CMD_ERR code, GENSTS.ENABLED and WQCFG6.STATE through enable/disable of device and WQs."""
    env = await WqEnv.start(dut, "none", pasid=False)      # PASID capability off: needed for WQ_MODE
    b, n, depth = env.b, env.p.num_wq, env.p.wq_depth
    last = n - 1
    assert await env.cmdsts() == (False, 0, 0), "CMDSTS after reset"
    assert not await env.device_enabled(), "GENSTS.ENABLED after reset"
    for wq in range(n):
        assert await env.wq_state(wq) == (WQ_STATE_DISABLED, 0), f"WQ {wq} WQCFG6 after reset"

    # WQCFG fields are RW; the WQCFG of WQs this build lacks is plain storage (registers.md), and
    # ENABLE_WQ on them fails with WQ_INVAL (below).
    cfg = WqConfig(size=depth, dedicated=True, pasid=0xABCDE, pasid_en=True, priv=True, prio=0xA, max_xfer_shift=0x1F)
    for wq in range(regs.CSR_WQCFG_COUNT):
        await env.write_wqcfg(wq, cfg)
        base = regs.csr_wqcfg_at(wq)
        got = [await b.rd32(base + off) for off in (regs.CSR_WQCFG_WQCFG0, regs.CSR_WQCFG_WQCFG2, regs.CSR_WQCFG_WQCFG3)]
        want = [depth, cfg.wqcfg2(), 0x1F | cfg.max_batch_shift << regs.CSR_WQCFG_WQCFG3_MAX_BATCH_SHIFT_SHIFT]
        assert got == want, f"WQCFG[{wq}] read back {[hex(x) for x in got]}, expected {[hex(x) for x in want]}"

    for code in (0x00, 0x0F, 0x1F):
        await expect_err(env, code, 0, E.CMD_ERR_INVAL_CMD, "unknown command code, device disabled")
    await env.write_wqcfg(0, WqConfig(size=1, dedicated=True))
    await expect_err(env, E.CMD_ENABLE_WQ, 0, E.CMD_ERR_DEV_NOT_ENABLED, "device disabled")
    assert await env.wq_state(0) == (WQ_STATE_DISABLED, 0)
    # Device-wide commands on a disabled device: CMD_ERR defines no error for them (DEV_NOT_ENABLED is
    # ENABLE_WQ's), there is nothing to drain or discard: OK, RESULT 0, and the device stays disabled.
    for code in (E.CMD_DISABLE_DEVICE, E.CMD_DRAIN_ALL, E.CMD_ABORT_ALL, E.CMD_RESET_DEVICE):
        await expect_err(env, code, 0, E.CMD_ERR_OK, "device disabled", result=0)
        assert not await env.device_enabled(), f"{cmd_name(code)} on a disabled device set GENSTS.ENABLED"
    # DRAIN_PASID / ABORT_PASID: any 20-bit PASID is an operand (none is invalid); nothing queued: OK, 0.
    for code in (E.CMD_DRAIN_PASID, E.CMD_ABORT_PASID):
        for pasid in (0, 0xFFFFF):
            await expect_err(env, code, pasid, E.CMD_ERR_OK, f"PASID {pasid:#x}, device disabled", result=0)
    await wq_commands_on_missing_and_disabled_wqs(env, "device disabled")

    await env.enable_device()
    assert await env.device_enabled(), "ENABLE_DEVICE succeeded but GENSTS.ENABLED is 0"
    await expect_err(env, E.CMD_ENABLE_DEVICE, 0, E.CMD_ERR_DEV_ENABLED, "device already enabled")
    for code in (0x00, 0x0F, 0x1F):
        await expect_err(env, code, 0, E.CMD_ERR_INVAL_CMD, "unknown command code, device enabled")
    assert await env.device_enabled(), "an unknown command changed GENSTS.ENABLED"
    for code in (E.CMD_DRAIN_PASID, E.CMD_ABORT_PASID):
        await expect_err(env, code, 0x12345, E.CMD_ERR_OK, "PASID 0x12345, nothing queued", result=0)
    await wq_commands_on_missing_and_disabled_wqs(env, "device enabled")

    await env.write_wqcfg(last, WqConfig(size=0, dedicated=True))
    await expect_err(env, E.CMD_ENABLE_WQ, last, E.CMD_ERR_WQ_SIZE, "SIZE 0")
    await env.write_wqcfg(last, WqConfig(size=depth + 1, dedicated=True))
    await expect_err(env, E.CMD_ENABLE_WQ, last, E.CMD_ERR_WQ_SIZE, f"SIZE {depth + 1} > WQ_DEPTH {depth}")
    await env.write_wqcfg(last, WqConfig(size=depth, dedicated=False, pasid_en=True))
    await expect_err(env, E.CMD_ENABLE_WQ, last, E.CMD_ERR_WQ_MODE, "shared WQ, PASID capability disabled")
    # A dedicated WQ does not need the PASID capability (it carries no PASID unless PASID_EN).
    await env.enable_wq(last, WqConfig(size=depth, dedicated=True, pasid_en=False))
    assert await env.wq_state(last) == (WQ_STATE_ENABLED, 0)
    await expect_err(env, E.CMD_ENABLE_WQ, last, E.CMD_ERR_WQ_ENABLED, "WQ already enabled")
    await env.cmd_ok(E.CMD_DISABLE_WQ, last)
    assert await env.wq_state(last) == (WQ_STATE_DISABLED, 0), "DISABLE_WQ of an idle WQ"
    for code in (E.CMD_DISABLE_WQ, E.CMD_DRAIN_WQ):
        await expect_err(env, code, last, E.CMD_ERR_WQ_NOT_ENABLED, "WQ disabled")

    await env.set_pasid_control(True)
    await env.write_wqcfg(last, WqConfig(size=depth, dedicated=False, pasid_en=False))
    await expect_err(env, E.CMD_ENABLE_WQ, last, E.CMD_ERR_WQ_PASID_EN, "shared WQ with PASID_EN=0")
    # WQCFG2.BOF_EN: accepted with CAP3.BOF (builds with ATS), WQ_BOF_EN (0x25) without (docs/ats_pri.md 2.1).
    if env.p.ats_entries == 0:
        await env.write_wqcfg(last, WqConfig(size=depth, dedicated=False, pasid_en=True, bof_en=True))
        await expect_err(env, E.CMD_ENABLE_WQ, last, E.CMD_ERR_WQ_BOF_EN, "BOF_EN on a build without CAP3.BOF")
        assert await env.wq_state(last) == (WQ_STATE_DISABLED, 0), "ENABLE_WQ failed with WQ_BOF_EN: WQCFG6"
        await env.enable_wq(last, WqConfig(size=depth, dedicated=False, pasid_en=True, prs_disable=True))
    else:
        await env.enable_wq(last, WqConfig(size=depth, dedicated=False, pasid_en=True, bof_en=True))
    assert await env.wq_state(last) == (WQ_STATE_ENABLED, 0)
    if n > 1:
        await env.enable_wq(0, WqConfig(size=1, dedicated=True))
        assert await env.wq_state(0) == (WQ_STATE_ENABLED, 0)

    # The shared WQ works (a no-op completes), DISABLE_DEVICE then disables every WQ and the device.
    t = await env.sb.submit(last, env.new_desc(OP_NOOP), pasid=0x42)
    assert t.accepted, f"{t}: {t.cpl_status}"
    await env.sb.wait_complete()
    await env.cmd_ok(E.CMD_DISABLE_DEVICE)
    assert not await env.device_enabled(), "DISABLE_DEVICE left GENSTS.ENABLED at 1"
    for wq in range(n):
        assert await env.wq_state(wq) == (WQ_STATE_DISABLED, 0), f"WQ {wq} after DISABLE_DEVICE"
    assert await env.enqcmd(last, env.new_desc(OP_NOOP), pasid=0x42) == RRS, "submission after DISABLE_DEVICE"
    await expect_err(env, E.CMD_ENABLE_WQ, last, E.CMD_ERR_DEV_NOT_ENABLED, "after DISABLE_DEVICE")

    # RESET_DEVICE on an enabled device with enabled WQs.
    await env.enable_device()
    await env.enable_wq(last)
    await env.cmd_ok(E.CMD_RESET_DEVICE)
    assert not await env.device_enabled(), "RESET_DEVICE left GENSTS.ENABLED at 1"
    assert await env.wq_state(last) == (WQ_STATE_DISABLED, 0)
    await env.sb.check()
    await env.expect_no_swerr("command sequence")
    b.log.info(env.sb.report())


@cocotb.test()
async def test_wqcfg_latched_at_enable(dut):
    """WQCFG written while a WQ is enabled changes nothing until the next ENABLE_WQ (PASID of a dedicated
    WQ's DMA, MAX_XFER_SHIFT)."""
    env = await WqEnv.start(dut, "both")
    wq = env.p.num_wq - 1
    old = WqConfig(size=2, dedicated=True, pasid=0x111, pasid_en=True, max_xfer_shift=12)
    new = WqConfig(size=2, dedicated=True, pasid=0x222, pasid_en=True, max_xfer_shift=8)
    await env.setup({wq: old})
    await env.write_wqcfg(wq, new)
    got = await env.b.rd32(regs.csr_wqcfg_at(wq) + regs.CSR_WQCFG_WQCFG2)
    assert got == new.wqcfg2(), "WQCFG2 written while enabled must read back (it is RW)"

    # Still the latched values: 4096 B = 2^12 is allowed and the DMA carries PASID 0x111.
    t1 = await env.sb.submit(wq, env.new_desc(OP_MEMMOVE, 4096, src_off=3, dst_off=5))
    await env.sb.wait_complete()
    await env.sb.check()
    assert env.sb.stats["dma_tlps_checked"] > 0

    # SIZE is latched too: rewritten to 1 while enabled, the WQ still holds the latched 2.
    await env.b.wr32(regs.csr_wqcfg_at(wq) + regs.CSR_WQCFG_WQCFG0, 1)
    await env.stall_engine(wq)
    await env.fill_wq(wq)               # asserts OCCUPANCY reaches the latched SIZE
    env.hold.release()
    await env.sb.wait_complete()
    await env.sb.check()
    await env.write_wqcfg(wq, new)

    await env.cmd_ok(regs.CMD_DISABLE_WQ, wq)
    await env.enable_wq(wq)              # latches `new`
    t2 = await env.sb.submit(wq, env.new_desc(OP_MEMMOVE, 4096))
    t3 = await env.sb.submit(wq, env.new_desc(OP_MEMMOVE, 256))
    assert t2.status == ST_XFER_SIZE and t3.pasid == 0x222
    await env.sb.wait_complete()
    await env.sb.check()
    await env.expect_no_swerr("latching")
    env.b.log.info(env.sb.report())


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_ignored_while_active(dut, pauses):
    """DRAIN_WQ stays ACTIVE while a descriptor before it cannot finish; STATE = draining, OCCUPANCY
    counts the queued ones (the last stalled MEMMOVE and the NOOPs behind it), submissions get RRS; commands written meanwhile (ABORT_WQ, an unknown code)
    are ignored: nothing is discarded and CMDSTS.ERR stays 0."""
    env = await WqEnv.start(dut, pauses)
    size = min(env.p.wq_depth, 8)
    await env.setup({0: WqConfig(size=size)})
    blocker = await env.stall_engine(0, pasid=7)
    queued = [await env.sb.submit(0, env.new_desc(OP_NOOP), pasid=7) for _ in range(min(3, size))]
    assert all(t.accepted for t in queued), [str(t.cpl_status) for t in queued]
    await env.b.settle(200)
    occ = await env.occupancy(0)
    assert occ == 1 + len(queued), f"OCCUPANCY {occ} with {len(queued)} NOOPs behind the queued MEMMOVE"

    await env.cmd_write(regs.CMD_DRAIN_WQ, 0)
    await env.b.settle(200)
    active, _, _ = await env.cmdsts()
    assert active, "DRAIN_WQ finished although a descriptor accepted before it cannot complete"
    assert await env.wq_state(0) == (WQ_STATE_DRAINING, occ), "WQCFG6 during DRAIN_WQ"
    late = await env.sb.submit(0, env.new_desc(OP_NOOP), pasid=7)
    assert late.cpl_status == RRS, f"submission to a draining WQ answered {late.cpl_status.name}, expected RRS"

    await env.cmd_write(regs.CMD_ABORT_WQ, 0)     # ignored: ACTIVE
    await env.cmd_write(0x1F, 0)                  # ignored: ACTIVE (would be INVAL_CMD)
    assert (await env.cmdsts())[0], "DRAIN_WQ no longer active"
    assert await env.occupancy(0) == occ, "a command written while ACTIVE changed the queue"
    env.hold.release()
    st = await env.cmd_wait("DRAIN_WQ 0")
    assert st.err == regs.CMD_ERR_OK, f"DRAIN_WQ: ERR {err_name(st.err)} (a command written while ACTIVE ran?)"
    await env.b.settle(100)      # device->host completions and posted writes travel separate bench streams
    lost = env.sb.unfinished(0)
    assert not lost, f"DRAIN_WQ finished before: {', '.join(map(str, lost))}"
    assert await env.wq_state(0) == (WQ_STATE_ENABLED, 0), "DRAIN_WQ must leave the WQ enabled"
    await env.sb.check()
    assert all(t.state == "completed" for t in blocker + queued)
    await env.expect_no_swerr("drain")
    t = await env.sb.submit(0, env.new_desc(OP_NOOP), pasid=7)
    assert t.cpl_status == CplStatus.SC
    await env.sb.wait_complete()
    await env.sb.check()
    env.b.log.info(env.sb.report())


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="command", input="ENABLE_WQ with WQCFG2.BOF_EN = 1 on a build without Block-on-Fault (CAP3.BOF = 0: "
                                  "no ATS)",
             outcome="CMDSTS.ERR WQ_BOF_EN (0x25), the WQ stays disabled; with CAP3.BOF = 1 the WQ is enabled",
             test="test_command_errors_and_states"),
    BadInput(cls="command", input="Unknown command codes 0x00, 0x0F, 0x1F with the device disabled",
             outcome="CMDSTS.ERR INVAL_CMD",
             test="test_command_errors_and_states"),
    BadInput(cls="command", input="Unknown command codes 0x00, 0x0F, 0x1F with the device enabled",
             outcome="CMDSTS.ERR INVAL_CMD; GENSTS.ENABLED stays 1",
             test="test_command_errors_and_states"),
    BadInput(cls="command", input="ENABLE_WQ while the device is disabled (after reset, and after DISABLE_DEVICE)",
             outcome="CMDSTS.ERR DEV_NOT_ENABLED; the WQ stays disabled (WQCFG6 STATE disabled, OCCUPANCY 0)",
             test="test_command_errors_and_states"),
    BadInput(cls="command", input="DISABLE_DEVICE, DRAIN_ALL, ABORT_ALL, RESET_DEVICE on a disabled device",
             outcome="CMDSTS.ERR OK, RESULT 0; GENSTS.ENABLED stays 0",
             test="test_command_errors_and_states"),
    BadInput(cls="command", input="Every WQ command (ENABLE/DISABLE/DRAIN/ABORT/RESET_WQ) with operand NUM_WQ, 8 "
                                  "or 0xFFFFF (a WQ the build lacks), device disabled and enabled",
             outcome="CMDSTS.ERR WQ_INVAL, RESULT 0",
             test="test_command_errors_and_states"),
    BadInput(cls="command", input="DISABLE_WQ or DRAIN_WQ of a disabled WQ, device disabled and enabled",
             outcome="CMDSTS.ERR WQ_NOT_ENABLED, RESULT 0",
             test="test_command_errors_and_states"),
    BadInput(cls="command", input="ABORT_WQ or RESET_WQ of a disabled WQ",
             outcome="CMDSTS.ERR OK, RESULT 0; the WQ stays disabled with OCCUPANCY 0",
             test="test_command_errors_and_states"),
    BadInput(cls="command", input="ENABLE_DEVICE while the device is enabled",
             outcome="CMDSTS.ERR DEV_ENABLED",
             test="test_command_errors_and_states"),
    BadInput(cls="command", input="ENABLE_WQ with WQCFG0.SIZE = 0",
             outcome="CMDSTS.ERR WQ_SIZE",
             test="test_command_errors_and_states"),
    BadInput(cls="command", input="ENABLE_WQ with WQCFG0.SIZE = CAP0.WQ_DEPTH + 1",
             outcome="CMDSTS.ERR WQ_SIZE",
             test="test_command_errors_and_states"),
    BadInput(cls="command", input="ENABLE_WQ of an enabled WQ",
             outcome="CMDSTS.ERR WQ_ENABLED",
             test="test_command_errors_and_states"),
    BadInput(cls="command", input="WQCFG0/2/3 rewritten while the WQ is enabled (SIZE 2 -> 1, PASID 0x111 -> 0x222, "
                                  "MAX_XFER_SHIFT 12 -> 8)",
             outcome="the registers read back the new values, but until the next ENABLE_WQ the WQ fills to the "
                     "latched SIZE 2, a 4096 B MEMMOVE succeeds and its DMA carries PASID 0x111",
             test="test_wqcfg_latched_at_enable"),
    BadInput(cls="command", input="ABORT_WQ and unknown code 0x1F written while DRAIN_WQ is ACTIVE (held by a "
                                  "stalled descriptor)",
             outcome="both ignored: CMDSTS.ACTIVE stays 1, OCCUPANCY unchanged, DRAIN_WQ then ends with ERR OK "
                     "and every queued descriptor completes",
             test="test_ignored_while_active"),
    BadInput(cls="portal", input="ENQCMD to a shared WQ after DISABLE_DEVICE",
             outcome="RRS",
             test="test_command_errors_and_states"),
    BadInput(cls="pasid", input="ENABLE_WQ of a shared WQ while the PASID capability is disabled",
             outcome="CMDSTS.ERR WQ_MODE (a dedicated WQ without PASID_EN enables)",
             test="test_command_errors_and_states"),
    BadInput(cls="pasid", input="ENABLE_WQ of a shared WQ with WQCFG2.PASID_EN = 0 (PASID capability enabled)",
             outcome="CMDSTS.ERR WQ_PASID_EN",
             test="test_command_errors_and_states"),
)
