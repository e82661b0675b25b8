"""Portals (BAR2) against every row of the table in docs/work_queues.md 'Portals'.

Each rejected request carries a real descriptor (with a watched completion record and destination) and
is made while the engine is stalled with descriptors queued, so "nothing half-accepted" is observable:
OCCUPANCY must not move, and after the queue drains no record or data of the rejected descriptor may
appear. Each rejection's SWERR record is checked (code, WQ, PASID where the request carries one, BAR2
offset) and cleared; rejections that must log nothing (RRS) are checked to log nothing.
"""
import itertools

import cocotb
from cocotb.triggers import RisingEdge
from cocotbext.pcie.core.tlp import CplStatus

from imsdev import regs
from tb.bad_inputs import BadInput
from tb.env import PAUSE_MODES
from tb.pcie.tlp import RRS
from tb.wq import (ENQCMD_RETRIES, OP_MEMMOVE, OP_NOOP, PORTAL_STRIDE, WQ_STATE_DRAINING, WQ_STATE_ENABLED,
                   WqConfig, WqEnv, msix_msg)

PASID = 0x5A5A5
POSTED_SETTLE = 60   # cycles: a posted portal write and a later BAR0 read take separate paths in the device


async def rejected(env, wq, what, send, *, status=None, code, pasid=None, priv=None, offset=0, posted=False):
    """Make one bad request carrying a fresh descriptor; check its answer, the SWERR record and that the
    queue did not change. Returns the tracked descriptor (checked again at the end of the test)."""
    occ0 = await env.occupancy(wq)
    t = env.sb.track(wq, env.new_desc(OP_MEMMOVE, 64), via="raw", pasid=pasid, priv=bool(priv))
    got = await send(t.desc.pack())
    if posted:
        env.sb.dropped(t)
        await env.b.cycles(POSTED_SETTLE)
    else:
        assert got == status, f"{what}: answered {got.name}, expected {status.name}"
        env.sb.rejected(t, got)
    await env.expect_swerr(code, what, wq=wq, pasid=pasid, priv=priv,
                           addr=wq * PORTAL_STRIDE + offset)
    occ = await env.occupancy(wq)
    assert occ == occ0, f"{what}: OCCUPANCY {occ0} -> {occ}: the request was (half-)accepted"
    return t


async def partly_filled(env, wq, pasid=None):
    """Stall the engine and queue a few NOOPs so that an accepted request would show in OCCUPANCY."""
    await env.stall_engine(wq, pasid=pasid)
    for _ in range(max(1, env.latched[wq].size // 2)):
        t = await env.sb.submit(wq, env.new_desc(OP_NOOP), pasid=pasid)
        assert t.accepted, f"{t}: {t.cpl_status}"
    await env.b.settle(100)


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_shared_portal(dut, pauses):
    """Shared WQ: SC at any 64-byte offset of the page; CA for other sizes/alignments; UR when poisoned
    (PCIe: a poisoned DMWr gets UR; SWERR PORTAL_SIZE); UR without prefix,
    with PMR to a non-privileged WQ, with PASID or privileged mode disabled; posted write dropped
    (PORTAL_MODE); read UR (PORTAL_READ); RRS when disabled, nothing logged; SWERR first-error/overflow and
    its MSI-X vector 0 interrupt."""
    env = await WqEnv.start(dut, pauses)
    wq = env.p.num_wq - 1
    size = min(env.p.wq_depth, 8)
    await env.setup({wq: WqConfig(size=size, priv=False)})
    portal = env.portal(wq)

    for off in (0x0, 0x40, 0xFC0):
        t = await env.sb.submit(wq, env.new_desc(OP_MEMMOVE, 100, src_off=1, dst_off=2), pasid=PASID, offset=off)
        assert t.cpl_status == CplStatus.SC, f"DMWr at portal offset {off:#x}: {t.cpl_status.name}"
    await env.sb.wait_complete()
    await env.sb.check()

    await partly_filled(env, wq, pasid=PASID)
    bad = []
    for nbytes, off in ((32, 0), (128, 0), (4, 0x4), (64, 0x20), (64, 0xF84)):
        async def send(data, nbytes=nbytes, off=off):
            return await env.dmwr_raw(portal + off, (data * 2)[:nbytes], PASID)
        bad.append(await rejected(env, wq, f"DMWr of {nbytes} B at offset {off:#x}", send, status=CplStatus.CA,
                                  code=regs.SWERR_PORTAL_SIZE, pasid=PASID, offset=off))
    for first_be, last_be in ((0xE, 0xF), (0xF, 0x7)):
        bad.append(await rejected(env, wq, f"DMWr of 64 B with First/Last DW BE {first_be:#06b}/{last_be:#06b}",
                                  lambda d, f=first_be, la=last_be: env.dmwr_raw(portal, d, PASID, first_be=f,
                                                                                 last_be=la),
                                  status=CplStatus.CA, code=regs.SWERR_PORTAL_SIZE, pasid=PASID))
    bad.append(await rejected(env, wq, "DMWr without PASID prefix", lambda d: env.dmwr_raw(portal, d, None),
                              status=CplStatus.UR, code=regs.SWERR_PORTAL_NO_PASID))
    bad.append(await rejected(env, wq, "poisoned DMWr (EP=1)",
                              lambda d: env.dmwr_raw(portal, d, PASID, poisoned=True),
                              status=CplStatus.UR, code=regs.SWERR_PORTAL_SIZE, pasid=PASID))
    bad.append(await rejected(env, wq, "DMWr with PMR to a WQ with PRIV=0",
                              lambda d: env.dmwr_raw(portal, d, PASID, priv=True),
                              status=CplStatus.UR, code=regs.SWERR_PORTAL_PRIV, pasid=PASID, priv=True))
    bad.append(await rejected(env, wq, "posted 64-byte write to a shared WQ", lambda d: env.mwr_raw(portal, d),
                              code=regs.SWERR_PORTAL_MODE, posted=True))
    bad.append(await rejected(env, wq, "read of a portal", lambda d: env.mrd_raw(portal, 4),
                              status=CplStatus.UR, code=regs.SWERR_PORTAL_READ))
    await env.set_pasid_control(True, priv=False)
    bad.append(await rejected(env, wq, "DMWr with PMR while privileged mode is disabled",
                              lambda d: env.dmwr_raw(portal, d, PASID, priv=True),
                              status=CplStatus.UR, code=regs.SWERR_PORTAL_PASID_OFF, pasid=PASID, priv=True))
    await env.set_pasid_control(False)
    bad.append(await rejected(env, wq, "DMWr while the PASID capability is disabled",
                              lambda d: env.dmwr_raw(portal, d, PASID),
                              status=CplStatus.UR, code=regs.SWERR_PORTAL_PASID_OFF, pasid=PASID))
    await env.set_pasid_control(True, priv=True)

    # SWERR keeps the first error and sets OVERFLOW for the next one.
    t1 = await rejected_nocheck(env, wq, lambda d: env.dmwr_raw(portal + 0x20, d, PASID), CplStatus.CA)
    t2 = await rejected_nocheck(env, wq, lambda d: env.dmwr_raw(portal, d, None), CplStatus.UR)
    await env.expect_swerr(regs.SWERR_PORTAL_SIZE, "first of two errors", wq=wq, pasid=PASID,
                           addr=wq * PORTAL_STRIDE + 0x20, overflow=True)
    await env.expect_no_swerr("after clearing VALID and OVERFLOW")
    bad += [t1, t2]

    env.hold.release()
    await env.cmd_ok(regs.CMD_DRAIN_WQ, wq)
    await env.sb.wait_complete()
    await env.b.settle()
    await env.sb.check()                   # rejected ones: no record, destination untouched
    assert all(t.state == "rejected" or t.state == "dropped" for t in bad)

    # RRS when disabled: nothing queued, nothing logged.
    await env.cmd_ok(regs.CMD_DISABLE_WQ, wq)
    t = await env.sb.submit(wq, env.new_desc(OP_NOOP), pasid=PASID)
    assert t.cpl_status == RRS, f"DMWr to a disabled shared WQ: {t.cpl_status.name}, expected RRS"
    await env.expect_no_swerr("RRS to a disabled WQ")

    # A portal error raises INT_CAUSE.ERR_LOG and, enabled, MSI-X vector 0.
    await env.msix_program(0, *msix_msg(0), masked=False)
    await env.b.wr32(regs.CSR_INT_ENABLE, regs.CSR_INT_ENABLE_ERR_LOG_MASK)
    bad.append(await rejected(env, wq, "read of a portal (error interrupt)", lambda d: env.mrd_raw(portal, 4),
                              status=CplStatus.UR, code=regs.SWERR_PORTAL_READ))
    await env.b.msgs.wait_for({msix_msg(0): 1})
    await env.b.settle()
    await env.sb.check()
    await env.sb.check_messages(extra={msix_msg(0): 1})
    env.b.log.info(env.sb.report())


async def rejected_nocheck(env, wq, send, status):
    t = env.sb.track(wq, env.new_desc(OP_NOOP), via="raw", pasid=PASID)
    got = await send(t.desc.pack())
    assert got == status, f"answered {got.name}, expected {status.name}"
    env.sb.rejected(t, got)
    return t


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_shared_full_retry(dut, pauses):
    """A full shared WQ answers RRS (nothing queued, nothing logged); a bounded ENQCMD retry gives up;
    once the queue drains, submissions are accepted again; a draining WQ answers RRS."""
    env = await WqEnv.start(dut, pauses)
    wq = 0
    size = min(env.p.wq_depth, 8)
    await env.setup({wq: WqConfig(size=size)})
    await env.stall_engine(wq, pasid=PASID)            # its last MEMMOVE takes one slot
    filled = await env.fill_wq(wq, pasid=PASID)
    assert len(filled) == size - 1, f"{len(filled)} accepted before RRS behind 1 queued, SIZE {size}"
    for _ in range(3):
        t = await env.sb.submit(wq, env.new_desc(OP_MEMMOVE, 32), pasid=PASID)
        assert t.cpl_status == RRS, f"full WQ: {t.cpl_status.name}"
    t = await env.sb.submit(wq, env.new_desc(OP_NOOP), pasid=PASID, retries=3)
    assert (t.cpl_status, t.retries) == (RRS, 3), \
        f"bounded retry on a full WQ returned {t.cpl_status.name} after {t.retries} retries"
    assert await env.occupancy(wq) == size
    await env.expect_no_swerr("RRS on a full WQ")

    env.hold.release()
    t = await env.sb.submit(wq, env.new_desc(OP_MEMMOVE, 200), pasid=PASID, retries=10_000, backoff_cycles=8)
    assert t.cpl_status == CplStatus.SC, f"no recovery after the queue drained: {t.cpl_status.name} " \
                                         f"after {t.retries} retries"
    burst = [await env.sb.submit(wq, env.new_desc(OP_NOOP), pasid=PASID, retries=ENQCMD_RETRIES * 10,
                                 backoff_cycles=4) for _ in range(2 * size)]
    assert all(b.accepted for b in burst), [b.cpl_status.name for b in burst if not b.accepted]
    await env.sb.wait_complete()
    await env.sb.check()

    # Draining: RRS, and accepted again once DRAIN_WQ has finished.
    await env.stall_engine(wq, pasid=PASID)
    await env.cmd_write(regs.CMD_DRAIN_WQ, wq)
    await env.b.settle(100)
    assert (await env.wq_state(wq))[0] == WQ_STATE_DRAINING
    t = await env.sb.submit(wq, env.new_desc(OP_NOOP), pasid=PASID)
    assert t.cpl_status == RRS, f"draining WQ: {t.cpl_status.name}, expected RRS"
    env.hold.release()
    assert (await env.cmd_wait("DRAIN_WQ")).err == 0
    assert (await env.wq_state(wq))[0] == WQ_STATE_ENABLED
    t = await env.sb.submit(wq, env.new_desc(OP_NOOP), pasid=PASID)
    assert t.cpl_status == CplStatus.SC
    await env.sb.wait_complete()
    await env.b.settle()
    await env.sb.check()
    await env.expect_no_swerr("full/retry")
    env.b.log.info(env.sb.report())


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_dedicated_portal(dut, pauses):
    """Dedicated WQ: MOVDIR64B accepted (DMA with the WQCFG2 PASID/priv); dropped when full (DWQ_FULL),
    disabled or draining (DWQ_DISABLED), of another size/alignment (PORTAL_SIZE); DMWr UR (PORTAL_MODE);
    read UR (PORTAL_READ); the page of a WQ the build lacks (PORTAL_NO_WQ) when BAR2 has one."""
    env = await WqEnv.start(dut, pauses)
    wq = env.p.num_wq - 1
    dpasid = 0x4321
    cfg = WqConfig(size=min(env.p.wq_depth, 4), dedicated=True, pasid=dpasid, pasid_en=True, priv=True)
    await env.setup({wq: cfg})
    portal = env.portal(wq)
    for off in (0x0, 0x7C0):
        await env.sb.submit(wq, env.new_desc(OP_MEMMOVE, 300, src_off=7, dst_off=60), offset=off)
    await env.sb.wait_complete()
    await env.sb.check()

    await env.stall_engine(wq)
    await env.fill_wq(wq)
    # PASID of a dropped MOVDIR64B: the request has none; the document does not say whether SWERR1 then
    # holds WQCFG2.PASID or 0, so it is not checked (see the report).
    full = await rejected(env, wq, "MOVDIR64B to a full dedicated WQ", lambda d: env.movdir64b_raw(wq, d),
                          code=regs.SWERR_DWQ_FULL, posted=True)
    bad = [full]
    for nbytes, off in ((32, 0), (128, 0), (64, 0x20), (4, 0x40)):
        async def send(data, nbytes=nbytes, off=off):
            await env.mwr_raw(portal + off, (data * 2)[:nbytes])
        bad.append(await rejected(env, wq, f"posted write of {nbytes} B at offset {off:#x}", send,
                                  code=regs.SWERR_PORTAL_SIZE, offset=off, posted=True))
    for first_be, last_be in ((0xC, 0xF), (0xF, 0x1)):
        bad.append(await rejected(env, wq, f"MOVDIR64B with First/Last DW BE {first_be:#06b}/{last_be:#06b}",
                                  lambda d, f=first_be, la=last_be: env.mwr_raw(portal, d, first_be=f, last_be=la),
                                  code=regs.SWERR_PORTAL_SIZE, posted=True))
    bad.append(await rejected(env, wq, "DMWr to a dedicated WQ", lambda d: env.dmwr_raw(portal, d, PASID),
                              status=CplStatus.UR, code=regs.SWERR_PORTAL_MODE, pasid=PASID))
    bad.append(await rejected(env, wq, "read of a dedicated portal", lambda d: env.mrd_raw(portal + 0x40, 8),
                              status=CplStatus.UR, code=regs.SWERR_PORTAL_READ, offset=0x40))

    # Draining: dropped with DWQ_DISABLED.
    await env.cmd_write(regs.CMD_DRAIN_WQ, wq)
    await env.b.settle(100)
    assert (await env.wq_state(wq))[0] == WQ_STATE_DRAINING
    bad.append(await rejected(env, wq, "MOVDIR64B to a draining WQ", lambda d: env.movdir64b_raw(wq, d),
                              code=regs.SWERR_DWQ_DISABLED, posted=True))
    env.hold.release()
    assert (await env.cmd_wait("DRAIN_WQ")).err == 0
    await env.sb.wait_complete()
    await env.b.settle()
    await env.sb.check()

    await env.cmd_ok(regs.CMD_DISABLE_WQ, wq)
    bad.append(await rejected(env, wq, "MOVDIR64B to a disabled WQ", lambda d: env.movdir64b_raw(wq, d),
                              code=regs.SWERR_DWQ_DISABLED, posted=True))

    # The page of a WQ this build does not have exists only when BAR2 (a power of two) has spare pages.
    spare = env.bar2_size // PORTAL_STRIDE - env.p.num_wq
    if spare > 0:
        nowq = env.p.num_wq
        st = await env.dmwr_raw(env.portal(nowq), bytes(64), PASID)
        assert st == CplStatus.UR, f"DMWr to the page of WQ {nowq} (absent): {st.name}"
        await env.expect_swerr(regs.SWERR_PORTAL_NO_WQ, "DMWr to a missing WQ page", addr=nowq * PORTAL_STRIDE)
        await env.mwr_raw(env.portal(nowq), bytes(64))
        await env.b.cycles(POSTED_SETTLE)
        await env.expect_swerr(regs.SWERR_PORTAL_NO_WQ, "MWr to a missing WQ page", addr=nowq * PORTAL_STRIDE)
    else:
        env.b.log.info("PORTAL_NO_WQ not reachable: BAR2 (%d bytes) has no page past WQ %d",
                       env.bar2_size, env.p.num_wq - 1)
    await env.b.settle()
    await env.sb.check()
    assert all(t.state in ("dropped", "rejected") for t in bad)
    await env.expect_no_swerr("end")
    env.b.log.info(env.sb.report())


# Idle cycles asked for between the two TLPs of test_swerr_overflow_at_any_spacing, in each order.
SPACINGS = range(0, 13)


async def sop_cycles(dut, n, limit=5_000):
    """The cycles (counted from the call) at which the next `n` TLPs' first beats are taken on rx_req, with
    their BARs: what reached the device, whatever the source asked for and rx_req_ready allowed."""
    out = []
    for cycle in range(limit):
        await RisingEdge(dut.clk)
        if dut.rx_req_valid.value and dut.rx_req_ready.value and dut.rx_req_sop.value:
            out.append((cycle, int(dut.rx_req_bar.value)))
            if len(out) == n:
                return out
    raise AssertionError(f"{len(out)} of {n} TLPs taken on rx_req in {limit} cycles")


@cocotb.test()
async def test_swerr_overflow_at_any_spacing(dut):
    """SWERR keeps one error and sets OVERFLOW for the other however close together the two come
    (regs/imsdev.rdl SWERR0.OVERFLOW): an IMS data write while the entry is unmasked (IMS_UNMASKED_WRITE,
    BAR0) and a 32-byte MOVDIR64B to WQ 0's portal (PORTAL_SIZE in any WQ state, BAR2) sent back to back on
    rx_req with 0..12 idle cycles asked for between them, in both orders: two paths into the log with
    different latencies. The order and spacing the device took are measured on rx_req (its ready may stretch
    a gap) and logged. Every time SWERR holds one of the two with OVERFLOW set; the wait ends when OVERFLOW
    is read set."""
    env = await WqEnv.start(dut, "none")
    b = env.b
    index = env.p.ims_per_wq - 1
    await env.ims_program(0, index, 0xFEE0_0000, 0x41, masked=False)
    ims_data = env.ims_entry(0, index) + regs.IMS_ENTRY_DATA
    nb = env.p.data_w // 8
    beats = {"ims": 1, "portal": -(-32 // nb)}
    bar = {"ims": 0, "portal": 2}
    send = {"ims": lambda: b.wr32_nowait(ims_data, 0x42),
            "portal": lambda: cocotb.start_soon(env.movdir64b_raw(0, bytes(range(32))))}
    codes = {regs.SWERR_IMS_UNMASKED_WRITE, regs.SWERR_PORTAL_SIZE}
    taken_gaps = {}
    for first, second in (("ims", "portal"), ("portal", "ims")):
        for gap in SPACINGS:
            await env.clear_swerr()
            await b.shim.rx_req.wait_idle()      # the clearing writes are taken: the pattern is the pair's
            # Idle until both TLPs are queued in the source, then the first, `gap` idle cycles, the second.
            b.shim.rx_req.set_pause_generator(itertools.chain(
                [True] * 20, [False] * beats[first], [True] * gap, itertools.repeat(False)))
            taken = cocotb.start_soon(sop_cycles(dut, 2))
            send[first]()
            send[second]()
            (c1, bar1), (c2, bar2) = await taken
            b.shim.rx_req.set_pause_generator(None)
            assert (bar1, bar2) == (bar[first], bar[second]), f"{first} then {second}: taken as BARs {bar1}, {bar2}"
            idle = c2 - c1 - beats[first]
            assert idle >= gap, f"{first} then {second}: {idle} idle cycles between them, {gap} asked for"
            taken_gaps.setdefault((first, second), set()).add(idle)
            for _ in range(50):
                e = await env.read_swerr()
                if e.overflow:
                    break
            assert e.valid and e.overflow, \
                f"{first} then {second}, {idle} idle cycles apart: SWERR {e}, expected VALID and OVERFLOW"
            assert e.code in codes, f"{first} then {second}, {idle} idle cycles apart: SWERR code {e.code:#x}"
    b.log.info("idle cycles between the two TLPs as taken: %s",
               {k: sorted(v) for k, v in taken_gaps.items()})
    await env.clear_swerr()
    await env.expect_no_swerr("after the last pair")
    assert (await b.rd32(ims_data)) == 0x41, "an IMS data write while unmasked must be dropped"


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------

BAD_INPUTS = (
    BadInput(cls="portal", input="DMWr (ENQCMD) of 32 B at portal offset 0x0 of an enabled shared WQ",
             outcome="CA; SWERR PORTAL_SIZE (WQ, PASID, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY unchanged, "
                     "the carried descriptor never writes its record or destination",
             test="test_shared_portal"),
    BadInput(cls="portal", input="DMWr of 128 B at portal offset 0x0 of a shared WQ",
             outcome="CA; SWERR PORTAL_SIZE (WQ, PASID, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY unchanged, "
                     "the carried descriptor never writes its record or destination",
             test="test_shared_portal"),
    BadInput(cls="portal", input="DMWr of 4 B at portal offset 0x4 of a shared WQ",
             outcome="CA; SWERR PORTAL_SIZE (WQ, PASID, BAR2 offset 0x4), INT_CAUSE.ERR_LOG set; OCCUPANCY "
                     "unchanged, the carried descriptor never writes its record or destination",
             test="test_shared_portal"),
    BadInput(cls="portal", input="DMWr of 64 B at portal offset 0x20 (not 64-byte aligned) of a shared WQ",
             outcome="CA; SWERR PORTAL_SIZE (WQ, PASID, BAR2 offset 0x20), INT_CAUSE.ERR_LOG set; OCCUPANCY "
                     "unchanged, the carried descriptor never writes its record or destination",
             test="test_shared_portal"),
    BadInput(cls="portal", input="DMWr of 64 B at portal offset 0xF84 (misaligned, near the page end) of a shared WQ",
             outcome="CA; SWERR PORTAL_SIZE (WQ, PASID, BAR2 offset 0xF84), INT_CAUSE.ERR_LOG set; OCCUPANCY "
                     "unchanged, the carried descriptor never writes its record or destination",
             test="test_shared_portal"),
    BadInput(cls="portal", input="DMWr of 64 B, aligned, to a shared WQ with bytes disabled: First DW BE 1110b, or "
                                 "Last DW BE 0111b (a DMWr writes whole DWs; a faulty requester's)",
             outcome="CA; SWERR PORTAL_SIZE (WQ, PASID, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY unchanged, "
                     "the carried descriptor never writes its record or destination",
             test="test_shared_portal"),
    BadInput(cls="portal", input="Poisoned DMWr (EP = 1), 64 B aligned, to a shared WQ",
             outcome="UR; SWERR PORTAL_SIZE (WQ, PASID, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY unchanged, "
                     "the carried descriptor never writes its record or destination",
             test="test_shared_portal"),
    BadInput(cls="portal", input="Posted 64-byte MWr (MOVDIR64B) to a shared WQ",
             outcome="dropped; SWERR PORTAL_MODE (WQ, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY unchanged, "
                     "the descriptor never writes its record or destination",
             test="test_shared_portal"),
    BadInput(cls="portal", input="MRd of 4 B from a shared WQ's portal",
             outcome="UR; SWERR PORTAL_READ (WQ, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY unchanged",
             test="test_shared_portal"),
    BadInput(cls="portal", input="A second bad portal request (DMWr without prefix) while SWERR holds a first one "
                                 "(DMWr of 64 B at offset 0x20)",
             outcome="first answered CA, second UR; SWERR keeps the first record (PORTAL_SIZE, offset 0x20) with "
                     "OVERFLOW = 1; after W1C of VALID and OVERFLOW, SWERR reads empty",
             test="test_shared_portal"),
    BadInput(cls="portal", input="DMWr to a disabled shared WQ",
             outcome="RRS; nothing logged (SWERR VALID and OVERFLOW 0)",
             test="test_shared_portal"),
    BadInput(cls="portal", input="Portal read with INT_ENABLE.ERR_LOG = 1 and MSI-X vector 0 unmasked",
             outcome="UR, SWERR PORTAL_READ; exactly one MSI-X vector 0 message and no other message",
             test="test_shared_portal"),
    BadInput(cls="portal", input="DMWr to a full shared WQ (engine stalled, OCCUPANCY = SIZE)",
             outcome="RRS every time, OCCUPANCY stays SIZE, nothing logged; a bounded retry of 3 ends RRS after "
                     "3 retries; once the queue drains the same retry loop gets SC",
             test="test_shared_full_retry"),
    BadInput(cls="portal", input="DMWr to a draining shared WQ (DRAIN_WQ waiting on a stalled descriptor)",
             outcome="RRS while WQCFG6.STATE = draining; SC again once DRAIN_WQ ends (ERR 0, STATE enabled); "
                     "nothing logged",
             test="test_shared_full_retry"),
    BadInput(cls="portal", input="MOVDIR64B to a full dedicated WQ",
             outcome="dropped; SWERR DWQ_FULL (WQ, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY unchanged, the "
                     "descriptor never writes its record or destination",
             test="test_dedicated_portal"),
    BadInput(cls="portal", input="Posted write of 32 B at offset 0x0 of a dedicated portal",
             outcome="dropped; SWERR PORTAL_SIZE (WQ, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY unchanged, "
                     "no record or destination write",
             test="test_dedicated_portal"),
    BadInput(cls="portal", input="Posted write of 128 B at offset 0x0 of a dedicated portal",
             outcome="dropped; SWERR PORTAL_SIZE (WQ, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY unchanged, "
                     "no record or destination write",
             test="test_dedicated_portal"),
    BadInput(cls="portal", input="Posted write of 64 B at offset 0x20 (not 64-byte aligned) of a dedicated portal",
             outcome="dropped; SWERR PORTAL_SIZE (WQ, BAR2 offset 0x20), INT_CAUSE.ERR_LOG set; OCCUPANCY "
                     "unchanged, no record or destination write",
             test="test_dedicated_portal"),
    BadInput(cls="portal", input="Posted write of 4 B at offset 0x40 of a dedicated portal",
             outcome="dropped; SWERR PORTAL_SIZE (WQ, BAR2 offset 0x40), INT_CAUSE.ERR_LOG set; OCCUPANCY "
                     "unchanged, no record or destination write",
             test="test_dedicated_portal"),
    BadInput(cls="portal", input="64-byte MOVDIR64B to a dedicated portal with bytes disabled (First DW BE 1100b, "
                                 "or Last DW BE 0001b): a legal PCIe write, not a whole descriptor",
             outcome="dropped; SWERR PORTAL_SIZE (WQ, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY unchanged",
             test="test_dedicated_portal"),
    BadInput(cls="portal", input="DMWr (ENQCMD) to a dedicated WQ",
             outcome="UR; SWERR PORTAL_MODE (WQ, PASID, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY unchanged, "
                     "no record or destination write",
             test="test_dedicated_portal"),
    BadInput(cls="portal", input="MRd of 8 B at offset 0x40 of a dedicated portal",
             outcome="UR; SWERR PORTAL_READ (WQ, BAR2 offset 0x40), INT_CAUSE.ERR_LOG set",
             test="test_dedicated_portal"),
    BadInput(cls="portal", input="MOVDIR64B to a draining dedicated WQ",
             outcome="dropped; SWERR DWQ_DISABLED (WQ, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY unchanged, "
                     "no record or destination write",
             test="test_dedicated_portal"),
    BadInput(cls="portal", input="MOVDIR64B to a disabled dedicated WQ",
             outcome="dropped; SWERR DWQ_DISABLED (WQ, BAR2 offset), INT_CAUSE.ERR_LOG set; no record or "
                     "destination write",
             test="test_dedicated_portal"),
    BadInput(cls="pasid", input="DMWr without a PASID prefix to a shared WQ",
             outcome="UR; SWERR PORTAL_NO_PASID (WQ, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY unchanged, "
                     "the carried descriptor never writes its record or destination",
             test="test_shared_portal"),
    BadInput(cls="pasid", input="DMWr with PMR = 1 to a shared WQ whose WQCFG2.PRIV = 0",
             outcome="UR; SWERR PORTAL_PRIV (WQ, PASID, PRIV = 1, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY "
                     "unchanged, no record or destination write",
             test="test_shared_portal"),
    BadInput(cls="pasid", input="DMWr with PMR = 1 while PASID Control Privileged Mode Enable = 0 (PASID Enable = 1)",
             outcome="UR; SWERR PORTAL_PASID_OFF (WQ, PASID, PRIV = 1, BAR2 offset), INT_CAUSE.ERR_LOG set; "
                     "OCCUPANCY unchanged, no record or destination write",
             test="test_shared_portal"),
    BadInput(cls="pasid", input="DMWr with a PASID prefix while PASID Control PASID Enable = 0",
             outcome="UR; SWERR PORTAL_PASID_OFF (WQ, PASID, BAR2 offset), INT_CAUSE.ERR_LOG set; OCCUPANCY "
                     "unchanged, no record or destination write",
             test="test_shared_portal"),
)
