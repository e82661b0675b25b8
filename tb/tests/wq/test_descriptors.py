"""Descriptors and completion records against docs/work_queues.md 'Descriptor', 'Completion record'.

Data operations are checked byte-exact (destination, and the guard bytes just outside it), with sizes
from 1 B to several KiB, every source/destination alignment class, 4 KiB page crossings, host memory below,
at and above 4 GiB, on shared and dedicated WQs. Every completion status of the document is provoked, one
error per descriptor, and a few descriptors with two errors check the document's order of checks (the
first failure is reported). Every DMA request of every descriptor is checked for its PASID/PMR by the
scoreboard's upstream observer.
"""
import itertools

import cocotb

from imsdev import regs
from tb.bad_inputs import BadInput
from tb.env import PAUSE_MODES
from tb.wq import (ENQCMD_RETRIES, HostArena, FLAG_BOF, FLAG_CC, FLAG_CRAV, FLAG_FENCE, FLAG_RCI, FLAG_RCR, FLAG_STORD,
                   HANDLE_IMS_INDEX_MASK, OP_DRAIN, OP_MEMFILL, OP_MEMMOVE, OP_NOOP, ST_BAD_FLAGS, ST_BAD_OPCODE,
                   ST_CR_ALIGN, ST_HW_ERR, ST_INT_HANDLE, ST_PAGE_FAULT, ST_RESERVED, ST_SUCCESS, ST_XFER_SIZE, WqConfig, WqEnv,
                   PoisonedReads, ims_handle, ims_msg, msix_handle, msix_msg)

PASIDS = (0x1, 0x2BEEF, 0xFFFFF)
# A buffer offset from a 64-byte boundary in each alignment class: 64-byte, 8-byte, 4-byte, none.
ALIGN_CLASSES = ((0,), tuple(range(8, 64, 8)), tuple(range(4, 64, 8)), tuple(o for o in range(64) if o % 4))
EDGE_SIZES = (1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 4095, 4096, 4097, 6000)


def phases(env, shared: WqConfig, *dedicated: WqConfig):
    """(wq, config) pairs: a shared WQ and dedicated ones side by side (WQ 0, then the last WQs), or one after the
    other on a build with too few WQs."""
    cfgs = (shared,) + dedicated
    if env.p.num_wq >= len(cfgs):
        return [[(0, shared)] + [(env.p.num_wq - 1 - i, c) for i, c in enumerate(dedicated)]]
    return [[(0, c)] for c in cfgs]


async def enable_phase(env, phase):
    for wq, cfg in phase:
        if wq in env.latched:
            await env.cmd_ok(regs.CMD_DISABLE_WQ, wq)
        await env.enable_wq(wq, cfg)


async def submit(env, wq, d, rng):
    """Shared: ENQCMD with a random PASID (and PMR on a privileged WQ), bounded retry. Dedicated: MOVDIR64B
    under flow control."""
    cfg = env.latched[wq]
    if cfg.dedicated:
        # A dedicated WQ takes PASID and privilege from WQCFG2 (docs/work_queues.md portal table): the
        # descriptor's own PASID field and priv bit, set here to something else, must not matter.
        if d.pasid == 0 and not d.priv:
            d.pasid, d.priv = cfg.pasid ^ rng.randrange(1, 1 << 20), rng.random() < 0.5
        await env.sb.wait_below(wq, cfg.size)
        return await env.sb.submit(wq, d)
    t = await env.sb.submit(wq, d, pasid=rng.choice(PASIDS), priv=cfg.priv and rng.random() < 0.5,
                            retries=ENQCMD_RETRIES * 20, backoff_cycles=10)
    assert t.accepted, f"{t}: {t.cpl_status.name} after {t.retries} retries"
    return t


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_data_operations(dut, pauses):
    """NOOP/MEMFILL/MEMMOVE: edge sizes on odd alignments and page crossings, then seeded random ones;
    DRAIN descriptors in between complete after everything before them."""
    env = await WqEnv.start(dut, pauses)
    rng = env.rng
    size = min(env.p.wq_depth, 8)
    await env.enable_device()
    for phase in phases(env, WqConfig(size=size, priv=True),
                        WqConfig(size=size, dedicated=True, pasid=0x777, pasid_en=True, priv=True)):
        await enable_phase(env, phase)
        for wq, _ in phase:
            for i, n in enumerate(EDGE_SIZES):
                op = OP_MEMMOVE if i % 3 else OP_MEMFILL
                cross = i % 2 == 1
                d = env.new_desc(op, n, src_align=4096 if cross else 64, src_off=(4096 - min(n, 17)) if cross else 1 + i % 63,
                                 dst_align=4096 if cross else 64, dst_off=(4096 - min(n, 29)) if cross else 63 - i % 61)
                await submit(env, wq, d, rng)
            # Every source x destination alignment class of a MEMMOVE, every destination class of a MEMFILL.
            for src_offs, dst_offs in itertools.product(ALIGN_CLASSES, ALIGN_CLASSES):
                d = env.new_desc(OP_MEMMOVE, rng.randint(1, 200), src_off=rng.choice(src_offs),
                                 dst_off=rng.choice(dst_offs))
                await submit(env, wq, d, rng)
            for dst_offs in ALIGN_CLASSES:
                await submit(env, wq, env.new_desc(OP_MEMFILL, rng.randint(1, 200), dst_off=rng.choice(dst_offs)), rng)
            for _ in range(18):
                await submit(env, wq, env.random_data_desc(), rng)
                if rng.random() < 0.15:
                    await submit(env, wq, env.new_desc(OP_DRAIN), rng)
            await submit(env, wq, env.new_desc(OP_DRAIN), rng)
        await env.sb.wait_complete()
        await env.sb.check()
    await env.cmd_ok(regs.CMD_DRAIN_ALL)
    await env.b.settle()
    await env.sb.check()
    await env.expect_no_swerr("data operations")
    assert env.sb.stats["dma_tlps_checked"] > 0 and env.sb.stats["data_bytes_checked"] > 0
    env.b.log.info(env.sb.report())


# The dedicated WQs of test_status_codes: (WQCFG2.PASID, PRIV), None = PASID_EN 0 (DMA without a PASID).
# Over both runs every status is seen by a dedicated WQ without a PASID and with one that is user or
# privileged, with PASID[19:16] zero or not.
DEDICATED_MODES = {"none": ((0x00099, False), (0xF0099, True), (None, False)),
                   "both": ((0x00099, True), (0x50099, False))}


@cocotb.test()
@cocotb.parametrize(pauses=("none", "both"))
async def test_status_codes(dut, pauses):
    """0x10 (opcodes), 0x11 (each undefined flag bit, reported in 'invalid flags'), 0x12 (reserved DW0 bits and
    bytes 38..63), 0x13 (size above 2^MAX_XFER_SHIFT, and exactly 2^MAX_XFER_SHIFT accepted), 0x19 (IMS and
    MSI-X handles past the implemented ones), 0x03 (page fault: source answered with UR / CA; fault address),
    0x20 (hardware error: source data poisoned on the link), and an
    error with RCI to a valid handle still interrupts after its record. Every accepted flag on every opcode;
    DRAIN's own errors (flags, reserved, handle); the documented check order (opcode, flags, reserved,
    transfer size, handle: the first failure is reported). On a shared WQ and on dedicated WQs whose
    WQCFG2 PASID is user/privileged with and without PASID[19:16]: every DMA request, the record included,
    carries the WQ's PASID and PRIV whatever the descriptor's PASID field says."""
    env = await WqEnv.start(dut, pauses)
    rng = env.rng
    shift = 10
    await env.enable_device()
    sh = WqConfig(size=min(env.p.wq_depth, 8), priv=True, max_xfer_shift=shift)
    dds = [WqConfig(size=min(env.p.wq_depth, 4), dedicated=True, pasid=pasid or 0, pasid_en=pasid is not None,
                    priv=priv, max_xfer_shift=shift) for pasid, priv in DEDICATED_MODES[pauses]]
    vec = min(1, env.p.msix_vectors - 1)
    await env.msix_program(vec, *msix_msg(vec), masked=False)
    ends = [env.low, env.high]
    poisoned = PoisonedReads(env.b)     # source ranges whose reads the link answers with poisoned data (EP=1)
    for phase in phases(env, sh, *dds):
        await enable_phase(env, phase)
        for wq, cfg in phase:
            await env.ims_program(wq, 0, *ims_msg(wq, 0), masked=False)
            items = []

            async def go(d, expect):
                t = await submit(env, wq, d, rng)
                assert t.status == expect, f"bench model predicts {t.status:#x} for {t}, test expects {expect:#x}"
                items.append(t)
                return t

            for op in (0x05, 0x09, 0x7F, 0xFF):
                d = env.new_desc(OP_MEMMOVE, 64)
                d.opcode = op
                await go(d, ST_BAD_OPCODE)
            for bit in (0x20, 0x40, 0x80, 0x200, 0x400, 0x800, 0x1000, 0x4000, 0x8000, 0x10000, 0x800000):
                await go(env.new_desc(OP_MEMMOVE, 32, flags=FLAG_CRAV | FLAG_RCR | bit), ST_BAD_FLAGS)
            await go(env.new_desc(OP_NOOP, flags=FLAG_CRAV | 0x40 | 0x100000), ST_BAD_FLAGS)
            for k in (0, 13, 25):
                d = env.new_desc(OP_MEMFILL, 16)
                tail = bytearray(26)
                tail[k] = 1 << rng.randrange(8)
                d.rsvd_tail = bytes(tail)
                await go(d, ST_RESERVED)
            for bit in (0, 10):
                d = env.new_desc(OP_MEMMOVE, 16)
                d.rsvd_dw0 = 1 << bit
                await go(d, ST_RESERVED)
            await go(env.new_desc(OP_MEMMOVE, (1 << shift) + 1), ST_XFER_SIZE)
            await go(env.new_desc(OP_MEMFILL, 1 << (shift + 1)), ST_XFER_SIZE)
            await go(env.new_desc(OP_MEMMOVE, 1 << shift, src_off=5, dst_off=3), ST_SUCCESS)
            every_flag = FLAG_CRAV | FLAG_RCR | FLAG_FENCE | FLAG_BOF | FLAG_CC | FLAG_STORD
            await go(env.new_desc(OP_MEMMOVE, 100, flags=every_flag, src_off=2), ST_SUCCESS)
            await go(env.new_desc(OP_MEMFILL, 1 << shift, dst_off=1), ST_SUCCESS)
            rci = FLAG_CRAV | FLAG_RCR | FLAG_RCI
            for idx in (env.p.ims_per_wq, HANDLE_IMS_INDEX_MASK):
                await go(env.new_desc(OP_NOOP, flags=rci, handle=ims_handle(idx)), ST_INT_HANDLE)
            # Every accepted flag on every opcode: NOOP, DRAIN and MEMFILL succeed, an unknown opcode is 0x10.
            for op in (OP_NOOP, OP_DRAIN):
                await go(env.new_desc(op, flags=every_flag), ST_SUCCESS)
            await go(env.new_desc(OP_MEMFILL, 70, flags=every_flag, dst_off=3), ST_SUCCESS)
            d = env.new_desc(OP_NOOP, flags=every_flag)
            d.opcode = 0x7E
            await go(d, ST_BAD_OPCODE)
            # DRAIN's own errors: an undefined flag, a reserved field, a handle past the implemented entries.
            await go(env.new_desc(OP_DRAIN, flags=FLAG_CRAV | FLAG_RCR | 0x400), ST_BAD_FLAGS)
            d = env.new_desc(OP_DRAIN)
            d.rsvd_tail = bytes(25) + b"\x80"
            await go(d, ST_RESERVED)
            await go(env.new_desc(OP_DRAIN, flags=rci, handle=ims_handle(env.p.ims_per_wq)), ST_INT_HANDLE)
            # Two errors at once: the first in the documented order is reported.
            d = env.new_desc(OP_NOOP, flags=FLAG_CRAV | FLAG_RCR | 0x40)          # opcode before flags
            d.opcode = 0x09
            await go(d, ST_BAD_OPCODE)
            d = env.new_desc(OP_MEMFILL, 16, flags=FLAG_CRAV | FLAG_RCR | 0x20)   # flags before reserved
            d.rsvd_dw0 = 0x400
            await go(d, ST_BAD_FLAGS)
            d = env.new_desc(OP_MEMMOVE, (1 << shift) + 1, flags=rci, handle=ims_handle(env.p.ims_per_wq))
            d.rsvd_tail = b"\x01" + bytes(25)                                   # reserved before size, handle
            await go(d, ST_RESERVED)
            await go(env.new_desc(OP_MEMFILL, (1 << shift) + 8, flags=rci, handle=ims_handle(HANDLE_IMS_INDEX_MASK)),
                     ST_XFER_SIZE)                                               # size before handle
            if env.p.msix_vectors < 2048:   # handle[10:0] can name a missing vector only below 2048 vectors
                await go(env.new_desc(OP_NOOP, flags=rci, handle=msix_handle(env.p.msix_vectors)), ST_INT_HANDLE)
                await go(env.new_desc(OP_NOOP, flags=rci, handle=msix_handle(2047)), ST_INT_HANDLE)
            for bit in (11, 14):     # an MSI-X handle (bit 15 = 0) with any of bits 14:11 set names no vector
                await go(env.new_desc(OP_NOOP, flags=rci, handle=1 << bit | min(1, env.p.msix_vectors - 1)),
                         ST_INT_HANDLE)
            t_ur = await go(env.new_desc(OP_MEMMOVE, 128, src=env.unbacked_address("ur")), ST_PAGE_FAULT)
            t_ca = await go(env.new_desc(OP_MEMMOVE, 64, src=env.unbacked_address("ca")), ST_PAGE_FAULT)
            await go(env.new_desc(OP_MEMMOVE, 300, src=env.unbacked_address("ur") + 3, dst_off=9), ST_PAGE_FAULT)
            # Source data poisoned on the link (the memory is readable, so the bench predicts success): 0x20.
            # On the shared WQ once per PASID kind and privilege, so every submission x PASID bin sees it.
            modes = [(None, None)] if cfg.dedicated else \
                [(pasid, priv) for pasid in PASIDS for priv in ((False, True) if cfg.priv else (False,))]
            for pasid, priv in modes:
                d = env.new_desc(OP_MEMMOVE, 200, src_off=6, dst_off=2)
                poisoned.add(d.src & ~3, d.src + d.size)     # reads start at the DW holding the first byte
                if pasid is None:
                    t_poison = await go(d, ST_SUCCESS)
                else:
                    t_poison = await env.sb.submit(wq, d, pasid=pasid, priv=priv, retries=ENQCMD_RETRIES * 20,
                                                   backoff_cycles=10)
                    assert t_poison.accepted, f"{t_poison}: {t_poison.cpl_status.name}"
                    items.append(t_poison)
                t_poison.status = ST_HW_ERR
            # A source that runs off the end of host memory (the end of the high region: UR past it; the end of
            # the low one: CA past it, unallocated pool): the first part reads, the rest fails.
            t_part = None
            if ends:            # one such source per host region: its end is used up
                arena = ends.pop()
                end_src = arena.tail(0x2000) + 0x2000 - 700
                t_part = await go(env.new_desc(OP_MEMMOVE, 1000, src=end_src, dst_off=1), ST_PAGE_FAULT)
                readable = env.b.rc.host_memory.read(end_src, 700)
            # CRAV=1, RCR=0: a failure still writes its record (written when CRAV and (RCR or not success)).
            d = env.new_desc(OP_MEMFILL, 64, flags=FLAG_CRAV)
            d.opcode = 0x06
            await go(d, ST_BAD_OPCODE)
            await go(env.new_desc(OP_MEMMOVE, 1 << (shift + 2), flags=FLAG_CRAV), ST_XFER_SIZE)
            await go(env.new_desc(OP_MEMMOVE, 96, src=env.unbacked_address("ca") + 1, flags=FLAG_CRAV), ST_PAGE_FAULT)
            # Errors with RCI and a valid handle: record first, then the interrupt.
            d = env.new_desc(OP_MEMMOVE, 64, flags=rci, handle=msix_handle(vec))
            d.opcode = 0x05
            await go(d, ST_BAD_OPCODE)
            await go(env.new_desc(OP_MEMMOVE, 64, src=env.unbacked_address("ur"), flags=rci, handle=ims_handle(0)),
                     ST_PAGE_FAULT)
            await go(env.new_desc(OP_MEMMOVE, 77, flags=rci, handle=ims_handle(0), src_off=1), ST_SUCCESS)

            await env.sb.wait_complete(items)
            await env.sb.check(items)
            for t in (t_ur, t_ca):
                assert t.record.fault_addr == t.desc.src and t.record.bytes_completed == 0, \
                    f"{t}: {t.record}: fault address must be the source, 0 bytes completed"
            # Partly readable source: the failing read starts at or before the end of memory and no later
            # than it, "bytes completed" stay within the readable part and are really in the destination.
            if t_part is not None:
                r = t_part.record
                end = end_src + 700
                assert end - 4096 < r.fault_addr <= end and r.bytes_completed <= 700, f"{t_part}: {r}"
                landed = env.b.rc.host_memory.read(t_part.desc.dst, r.bytes_completed)
                assert landed == readable[:r.bytes_completed], f"{t_part}: {r}: completed bytes not in the destination"
                env.b.log.info("source running off memory: %s", r)
    await env.sb.check_messages()
    await env.expect_no_swerr("status codes")
    env.b.log.info(env.sb.report())


@cocotb.test()
async def test_record_rules(dut):
    """CRAV=0 or a misaligned record address: a failing descriptor goes to SWERR NO_CR (CODE_STATUS, WQ,
    PASID, PRIV, opcode, address) and nothing is written; RCR=0 success writes no record (data still lands);
    CRAV=0 with RCR=1 writes none; a misaligned address on a descriptor that would succeed is status 0x1B:
    not run, no record, SWERR NO_CR; record alignment is checked after the reserved fields and before the
    transfer size. On a shared WQ (PASID/PRIV of the ENQCMD) and a dedicated one (WQCFG2's PASID, with
    PASID[19:16] set, and PRIV, whatever the descriptor's PASID field holds)."""
    env = await WqEnv.start(dut, "both")
    await env.enable_device()
    P = 0x3C3C3
    shared = WqConfig(size=min(env.p.wq_depth, 8), priv=True, max_xfer_shift=12)
    dedicated = WqConfig(size=min(env.p.wq_depth, 4), dedicated=True, pasid=0xB3C3C, pasid_en=True, priv=True,
                         max_xfer_shift=12)
    for phase in phases(env, shared, dedicated):
        await enable_phase(env, phase)
        for wq, cfg in phase:
            await record_rules_on(env, wq, cfg, P)
    env.b.log.info(env.sb.report())


async def record_rules_on(env, wq, cfg, P):
    async def one(d, priv=False):
        """Submit, drain, check: no record anywhere. Returns the descriptor and the (PASID, PRIV) SWERR must
        show (the ENQCMD's on a shared WQ, WQCFG2's on a dedicated one)."""
        if cfg.dedicated:
            d.pasid, d.priv = P, not cfg.priv          # the descriptor's own PASID field: ignored
            t = await env.sb.submit(wq, d)
            who = (cfg.pasid, cfg.priv)
        else:
            t = await env.sb.submit(wq, d, pasid=P, priv=priv)
            who = (P, priv)
        assert t.accepted
        assert (t.pasid, t.priv) == who, f"{t}: bench expects PASID {t.pasid}/{t.priv}, test {who}"
        await env.cmd_ok(regs.CMD_DRAIN_WQ, wq)
        await env.b.settle(100)
        await env.sb.check([t])
        assert not t.cr_writes, f"{t}: a record was written"
        return t, who

    async def no_cr(d, status, what, priv=False):
        t, (pasid, priv) = await one(d, priv)
        assert t.status == status and t.no_cr_swerr, f"bench model predicts {t.status:#x} for {t}, test {status:#x}"
        await env.expect_swerr(regs.SWERR_NO_CR, f"WQ {wq}: {what}", wq=wq, pasid=pasid, priv=priv,
                               code_status=status, opcode=d.opcode, addr=d.cr_addr)

    d = env.new_desc(OP_MEMMOVE, 64, flags=0)
    d.opcode = 0x0F
    await no_cr(d, ST_BAD_OPCODE, "CRAV=0, invalid opcode", priv=True)
    await no_cr(env.new_desc(OP_MEMFILL, 64, flags=FLAG_CRAV | FLAG_RCR | 0x80, cr_misalign=8), ST_BAD_FLAGS,
                "record address not 32-byte aligned, invalid flags")
    d = env.new_desc(OP_MEMFILL, 64, flags=FLAG_CRAV | FLAG_RCR, cr_misalign=4)
    d.rsvd_dw0 = 0x1
    await no_cr(d, ST_RESERVED, "record address not 32-byte aligned, reserved field", priv=True)
    await no_cr(env.new_desc(OP_MEMMOVE, 333, src_off=1, cr_misalign=16), ST_CR_ALIGN,
                "record address not 32-byte aligned, otherwise good (not run)", priv=True)
    await no_cr(env.new_desc(OP_MEMFILL, (1 << cfg.max_xfer_shift) + 1, flags=FLAG_CRAV, cr_misalign=24),
                ST_CR_ALIGN, "record address not 32-byte aligned, transfer too large")
    await one(env.new_desc(OP_MEMMOVE, 4000, flags=FLAG_CRAV, src_off=11, dst_off=13))   # RCR=0 success: data only
    await one(env.new_desc(OP_MEMFILL, 100, flags=FLAG_RCR))          # CRAV=0: RCR alone writes nothing
    await one(env.new_desc(OP_NOOP, flags=FLAG_RCR))
    await env.expect_no_swerr(f"WQ {wq}: successful descriptors without a record")


@cocotb.test()
@cocotb.parametrize(at=("src", "cr", "dst"))
async def test_four_gib_boundary(dut, at):
    """An operand at exactly 4 GiB (docs/dma.md 'Headers': 3DW below 4 GiB, 4DW at or above): a MEMMOVE source,
    a completion record, or the destination of a MEMFILL and then of a MEMMOVE at 0x1_0000_0000, and a source
    and destination crossing a 4 KiB page above it; every request to an address >= 4 GiB has a 4DW header
    and the exact address, every one below it 3DW; data and records byte-exact."""
    env = await WqEnv.start(dut, "both")
    wq = 0
    await env.setup({wq: WqConfig(size=min(env.p.wq_depth, 4), priv=True)})
    four_gib = 1 << 32
    ar = HostArena(env.b, 0x1_0000, base=four_gib)       # the RC's BAR window ends at 4 GiB: nothing below
    P = 0xF1234                                           # PASID[19:16] != 0
    items = []
    if at == "src":
        ar.write(four_gib, env.rng.randbytes(768))
        ar.next = four_gib + 768
        d = env.new_desc(OP_MEMMOVE, 700, src=four_gib, high=False, dst_off=5)
    elif at == "cr":
        ar.write(four_gib, bytes(32))
        ar.next = four_gib + 32
        d = env.new_desc(OP_MEMFILL, 100, high=False, dst_off=2)
        d.cr_addr = four_gib
    else:
        # The same destination twice, one after the other (each checked alone: the second overwrites it, and
        # its writes are also the first one's, so both have the same PASID and PMR).
        ar.next = four_gib + 520 + 64
        for op, n in ((OP_MEMFILL, 520), (OP_MEMMOVE, 333)):
            d = env.new_desc(op, n, high=False, src_off=7)
            d.dst = four_gib
            t = await env.sb.submit(wq, d, pasid=P, priv=True)
            await env.sb.wait_complete([t])
            await env.sb.check([t])
            assert t.record and t.record.status == ST_SUCCESS, f"{t}: {t.record}"
        d = env.new_desc(OP_NOOP)
    items.append(await env.sb.submit(wq, d, pasid=P, priv=True))
    src = ar.alloc(600, 4096, 4096 - 200)
    dst = ar.alloc(600, 4096, 4096 - 300)
    d = env.new_desc(OP_MEMMOVE, 600, src=src, high=False)
    d.dst = dst
    items.append(await env.sb.submit(wq, d, pasid=P))
    await env.sb.wait_complete(items)
    await env.sb.check(items)
    assert all(t.accepted and t.record and t.record.status == ST_SUCCESS for t in items), \
        "; ".join(str(t) for t in items if not (t.record and t.record.status == ST_SUCCESS))
    ups = [r for r in env.b.rc.upstream_log if r.kind in ("MRd", "MWr") and r.requester_id == env.b.requester_id]
    kind = "MRd" if at == "src" else "MWr"
    at_4g = [r for r in ups if r.kind == kind and r.address == four_gib]
    assert len(at_4g) == (2 if at == "dst" else 1), f"{kind}s at exactly 4 GiB: {at_4g} (all: {ups})"
    for r in ups:
        want = 4 if r.address >= four_gib else 3
        assert r.header_dw == want, f"{r.kind} to {r.address:#x} with a {r.header_dw}DW header, expected {want}DW"
    await env.expect_no_swerr("4 GiB boundary")


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
# test_status_codes runs each on a shared WQ and on dedicated WQs (WQCFG3.MAX_XFER_SHIFT = 10); its scoreboard
# checks every record (status, result 0, bytes completed, invalid flags, reserved bytes 0), the destination and
# its guard bytes, the exact set of interrupt messages, and at the end that SWERR holds nothing.
BAD_INPUTS = (
    BadInput(cls="descriptor", input="MEMMOVE whose source data comes back poisoned (CplD EP=1), on a shared WQ and on "
                                     "dedicated WQs with every PASID mode",
             outcome="record status 0x20 (DSA_COMP_HW_ERR1), fault address = source + bytes completed, only the bytes "
                     "completed in the destination; the WQ's other descriptors unaffected",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="Undefined opcode (0x05, 0x09, 0x7F, 0xFF; 0x01 is BATCH, tb/tests/wq/test_batch.py) with CRAV and RCR",
             outcome="record status 0x10 (DSA_COMP_BAD_OPCODE), 0 bytes completed; destination untouched; "
                     "not logged in SWERR",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="MEMMOVE with one undefined flag bit (each of 0x20, 0x40, 0x80, 0x200, 0x400, "
                                     "0x800, 0x1000, 0x4000, 0x8000, 0x10000, 0x800000)",
             outcome="record status 0x11 (DSA_COMP_INVALID_FLAGS), invalid-flags field = that bit, 0 bytes "
                     "completed; destination untouched",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="NOOP with two undefined flag bits (0x40 and 0x100000)",
             outcome="record status 0x11 (DSA_COMP_INVALID_FLAGS), invalid-flags field = 0x100040",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="MEMFILL with one bit set in reserved byte 38, 51 or 63",
             outcome="record status 0x12 (DSA_COMP_NOZERO_RESERVE), 0 bytes completed; destination untouched",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="MEMMOVE with reserved DW0 bit 20 or bit 30 set",
             outcome="record status 0x12 (DSA_COMP_NOZERO_RESERVE), 0 bytes completed; destination untouched",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="Transfer size above 2^MAX_XFER_SHIFT: MEMMOVE of 2^10 + 1 B, MEMFILL of 2^11 B "
                                     "(WQCFG3.MAX_XFER_SHIFT = 10)",
             outcome="record status 0x13 (DSA_COMP_XFER_ERR), 0 bytes completed; destination untouched (MEMMOVE "
                     "and MEMFILL of exactly 2^10 B succeed byte-exact)",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="RCI with an IMS handle naming entry CAP1.IMS_PER_WQ or 0x7FFF (past the "
                                     "implemented entries)",
             outcome="record status 0x19 (DSA_COMP_INT_HANDLE_INVAL); no interrupt message",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="RCI with an MSI-X handle naming vector CAP2.MSIX_VECTORS or 2047 (builds with "
                                     "fewer than 2048 vectors: small, wide)",
             outcome="record status 0x19 (DSA_COMP_INT_HANDLE_INVAL); no interrupt message",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="Unknown opcode 0x7E with every accepted flag (FENCE, BOF, CRAV, RCR, CC, STORD)",
             outcome="record status 0x10 (DSA_COMP_BAD_OPCODE); the same flags on NOOP, DRAIN, MEMMOVE and MEMFILL "
                     "succeed",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="DRAIN with undefined flag 0x400",
             outcome="record status 0x11 (DSA_COMP_INVALID_FLAGS), invalid-flags field 0x400",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="DRAIN with bit 7 of reserved byte 63 set",
             outcome="record status 0x12 (DSA_COMP_NOZERO_RESERVE)",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="DRAIN with RCI and an IMS handle naming entry CAP1.IMS_PER_WQ",
             outcome="record status 0x19 (DSA_COMP_INT_HANDLE_INVAL); no interrupt message",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="Two errors: undefined opcode 0x09 and undefined flag 0x40",
             outcome="record status 0x10 (DSA_COMP_BAD_OPCODE): the opcode is checked first",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="Two errors: undefined flag 0x20 and reserved DW0 bit 30",
             outcome="record status 0x11 (DSA_COMP_INVALID_FLAGS), invalid-flags field 0x20: flags before "
                     "reserved fields",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="Three errors: reserved byte 38, transfer size 2^10 + 1, IMS handle past the "
                                     "implemented entries",
             outcome="record status 0x12 (DSA_COMP_NOZERO_RESERVE): reserved fields before size and handle",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="Two errors: MEMFILL of 2^10 + 8 B and IMS handle 0x7FFF",
             outcome="record status 0x13 (DSA_COMP_XFER_ERR): size before handle; no interrupt message",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="MEMMOVE of 128 B whose source read the host answers UR",
             outcome="record status 0x03 (DSA_COMP_PAGE_FAULT_NOBOF, bit 7 = 0: a read), fault address = source, 0 bytes completed; "
                     "destination untouched",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="MEMMOVE of 64 B whose source read the host answers CA",
             outcome="record status 0x03 (DSA_COMP_PAGE_FAULT_NOBOF, bit 7 = 0: a read), fault address = source, 0 bytes completed; "
                     "destination untouched",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="MEMMOVE of 300 B from an unaligned (+3) source the host answers UR",
             outcome="record status 0x03 (DSA_COMP_PAGE_FAULT_NOBOF, bit 7 = 0: a read), fault address = source + bytes completed; the "
                     "destination past the bytes completed untouched",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="MEMMOVE of 1000 B whose source runs 300 B past the end of host memory (low "
                                     "region: CA past it; high region: UR)",
             outcome="record status 0x03 (DSA_COMP_PAGE_FAULT_NOBOF, bit 7 = 0: a read), fault address in the last 4 KiB up to the end "
                     "of memory, bytes completed <= 700 and those bytes are the source's in the destination",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="Failing descriptor with CRAV = 1 and RCR = 0 (opcode 0x06; transfer size "
                                     "2^12; source answered CA)",
             outcome="the record is written anyway with status 0x10 / 0x13 / 0x03",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="Failing descriptor with RCI to a valid handle (opcode 0x01 to an MSI-X "
                                     "vector; source answered UR to an IMS entry)",
             outcome="record status 0x10 / 0x03, then exactly one interrupt message, sent after the record",
             test="test_status_codes"),
    BadInput(cls="descriptor", input="CRAV = 0 and invalid opcode 0x0F (shared WQ: PASID and PRIV of the ENQCMD; "
                                     "dedicated WQ: WQCFG2's)",
             outcome="no record written; SWERR NO_CR with CODE_STATUS 0x10, WQ, PASID, PRIV, opcode and the "
                     "record address; INT_CAUSE.ERR_LOG set",
             test="test_record_rules"),
    BadInput(cls="descriptor", input="Record address 8 bytes off 32-byte alignment and an undefined flag (0x80)",
             outcome="no record written; SWERR NO_CR with CODE_STATUS 0x11, WQ, PASID, PRIV, opcode, address",
             test="test_record_rules"),
    BadInput(cls="descriptor", input="Record address 4 bytes off 32-byte alignment and reserved DW0 bit 20",
             outcome="no record written; SWERR NO_CR with CODE_STATUS 0x12, WQ, PASID, PRIV, opcode, address",
             test="test_record_rules"),
    BadInput(cls="descriptor", input="Otherwise good MEMMOVE of 333 B with the record address 16 bytes off 32-byte "
                                     "alignment",
             outcome="not run: destination untouched, no record; SWERR NO_CR with CODE_STATUS 0x1B (tb/wq.py "
                     "ST_CR_ALIGN), WQ, PASID, PRIV, opcode, address",
             test="test_record_rules"),
    BadInput(cls="descriptor", input="Misaligned record address (+24) and transfer size 2^12 + 1",
             outcome="SWERR NO_CR with CODE_STATUS 0x1B: record alignment is checked before the size; no record, "
                     "destination untouched",
             test="test_record_rules"),
    BadInput(cls="descriptor", input="RCR = 1 without CRAV on a successful MEMFILL or NOOP",
             outcome="no record written, the MEMFILL's data lands byte-exact; nothing logged in SWERR",
             test="test_record_rules"),
    BadInput(cls="pasid", input="Dedicated WQ: descriptor PASID field and priv bit differing from WQCFG2 (user and "
                                "privileged WQCFG2 PASIDs, with and without PASID[19:16], and PASID_EN = 0)",
             outcome="every DMA request of the descriptor, the record write included, carries WQCFG2's PASID and "
                     "PMR = WQCFG2.PRIV (none with PASID_EN = 0); the descriptor's fields are ignored",
             test="test_status_codes"),
)
