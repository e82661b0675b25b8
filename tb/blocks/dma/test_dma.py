"""cocotb tests of the imsdev_dma block (run inside the simulator by test_block_dma.py).

Every test builds a DmaTb (dma_tb.py), whose host model checks every TLP, every response and the host
memory after every command; a test fails on the first problem the bench recorded (tb.check()).
"""
from __future__ import annotations

import json
import os

import cocotb
from cocotb.triggers import RisingEdge

from tb.bad_inputs import BadInput

from .dma_tb import (FETCH_MAX_BYTES, OP_COPY, OP_FETCH, OP_FILL, OP_WRITE, ST_CA, ST_INVALID, ST_OK,
                     ST_POISONED, ST_TIMEOUT, ST_UR, ST_XL_FAIL_RD, ST_XL_FAIL_WR, ST_XL_READ_FAULT,
                     ST_XL_READ_FAULT_IR, ST_XL_WRITE_FAULT, ST_XL_WRITE_FAULT_IR, PRI_RETRIES, DmaCmd, DmaTb,
                     cpl_hdr, split)

EDGE_LENGTHS = [1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513,
                1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097, 6000, 8191, 8192]


def rand_len(rng, max_len: int = 8192) -> int:
    r = rng.random()
    if r < 0.3:
        return rng.randint(1, 16)
    if r < 0.55:
        return rng.randint(17, 300)
    if r < 0.85 or max_len <= 4096:
        return rng.randint(301, min(4096, max_len))
    return rng.randint(4097, max_len)


# The ATS tests exist only on a build with an Address Translation Cache (test_block_dma.py's ATS parameter
# set): on the others they are not registered at all, rather than passing without checking anything.
ATS_BUILD = int(os.environ.get("DMA_ATS_ENTRIES", "0")) > 0


def ats_test(f):
    return cocotb.test()(f) if ATS_BUILD else f


async def start_ats(dut, name: str, **knobs) -> DmaTb:
    """A DmaTb with ATS Enable set (and any of its knobs, e.g. no_ats_prob), started."""
    tb = DmaTb(dut, name)
    assert tb.ats_entries > 0, "an ATS test on a build without ATS"
    tb.ats = True
    for k, v in knobs.items():
        if not hasattr(tb, k):
            raise AttributeError(f"DmaTb has no knob {k!r}")
        setattr(tb, k, v)
    await tb.start()
    return tb


async def run_batches(tb: DmaTb, make, lengths, batch: int = 6, vary_cfg: bool = True):
    rng = tb.rng
    for k in range(0, len(lengths), batch):
        if vary_cfg:
            tb.set_cfg(mps=rng.randrange(0, 6), mrrs=rng.randrange(0, 6))
        cmds = [tb.submit(make(n)) for n in lengths[k:k + batch]]
        await tb.wait_done(cmds)
        await tb.quiesce()


@cocotb.test()
async def test_copy_random(dut):
    """COPY of 1 B .. 8 KiB, random src/dst alignment, page crossings, 3DW/4DW, PASID, random MPS/MRRS."""
    tb = DmaTb(dut, "copy_random")
    await tb.start()
    rng = tb.rng
    lengths = EDGE_LENGTHS + [rand_len(rng) for _ in range(100)]
    rng.shuffle(lengths)
    await run_batches(tb, lambda n: tb.make_copy(n, pasid=tb.random_pasid()), lengths)
    tb.log.info("copy_random: %d commands, %s", tb.stats["cmds"], tb.stats)


@cocotb.test()
async def test_fill_random(dut):
    """FILL of 1 B .. 8 KiB with DSA pattern semantics at every alignment."""
    tb = DmaTb(dut, "fill_random")
    await tb.start()
    rng = tb.rng
    lengths = EDGE_LENGTHS + [rand_len(rng) for _ in range(45)]
    rng.shuffle(lengths)
    await run_batches(tb, lambda n: tb.make_fill(n, pasid=tb.random_pasid()), lengths)
    tb.log.info("fill_random: %d commands, %s", tb.stats["cmds"], tb.stats)


@cocotb.test()
async def test_write(dut):
    """WRITE of 32 bytes (completion records) and 1..32 bytes: every alignment, 4 KiB and 4 GiB crossings."""
    tb = DmaTb(dut, "write")
    await tb.start()
    rng = tb.rng
    cmds = []
    for k in range(32):        # every dst offset mod 32 for a 32-byte record, low and high memory
        dst = tb.alloc(32, high=bool(k & 1), align=k)
        cmds.append(tb.submit(tb.make_write(32, dst=dst, pasid=tb.random_pasid())))
    for n in range(1, 33):
        cmds.append(tb.submit(tb.make_write(n, pasid=tb.random_pasid())))
    for _ in range(12):        # crossing a 4 KiB boundary
        n = rng.randint(2, 32)
        dst = tb.alloc(n, near_page_end=True)
        cmds.append(tb.submit(tb.make_write(n, dst=dst)))
    # straddling 4 GiB: first TLP 3DW, second 4DW
    cmds.append(tb.submit(tb.make_write(32, dst=(1 << 32) - 12)))
    await tb.wait_done(cmds)
    await tb.quiesce()
    tb.log.info("write: %d commands, %s, cycles %d", len(cmds), tb.stats, tb.cycle)


@cocotb.test()
async def test_mixed_back_to_back(dut):
    """Mixed COPY/FILL/WRITE submitted back to back with several in flight; responses in order; a copy
    straddling 4 GiB; heavy response backpressure for a while."""
    tb = DmaTb(dut, "mixed")
    await tb.start()
    rng = tb.rng
    tb.cmd_idle = 0.0
    for rnd in range(6):
        tb.set_cfg(mps=rng.randrange(0, 4), mrrs=rng.randrange(0, 4))
        tb.rsp_backpressure = 0.8 if rnd == 1 else 0.2
        cmds = []
        for _ in range(16):
            op = rng.choice([OP_COPY, OP_COPY, OP_FILL, OP_WRITE])
            if op == OP_COPY:
                c = tb.make_copy(rand_len(rng, 3000), pasid=tb.random_pasid())
            elif op == OP_FILL:
                c = tb.make_fill(rand_len(rng, 3000), pasid=tb.random_pasid())
            else:
                c = tb.make_write(rng.randint(1, 32), pasid=tb.random_pasid())
            cmds.append(tb.submit(c))
        if rnd == 2:    # destination straddles 4 GiB
            cmds.append(tb.submit(tb.make_copy(3000, src=tb.alloc(3000), dst=(1 << 32) - 1000)))
        if rnd == 3:    # source straddles 4 GiB
            cmds.append(tb.submit(tb.make_copy(2500, src=(1 << 32) - 700, dst=tb.alloc(2500))))
        await tb.wait_done(cmds)
        await tb.quiesce()


@cocotb.test()
async def test_payload_settings(dut):
    """Every MPS x MRRS setting (and the reserved encodings 6/7): exact read/write splits, 4 KiB rule."""
    tb = DmaTb(dut, "payload_settings")
    await tb.start()
    rng = tb.rng
    settings = [(mps, mrrs) for mps in range(6) for mrrs in range(6)] + [(7, 6), (6, 7)]
    for mps, mrrs in settings:
        tb.set_cfg(mps=mps, mrrs=mrrs)
        cmds = [tb.submit(tb.make_copy(rng.randint(1500, 5000), pasid=tb.random_pasid())),
                tb.submit(tb.make_fill(rng.randint(1500, 5000)))]
        await tb.wait_done(cmds)
        await tb.quiesce()


@cocotb.test()
async def test_zero_length_and_invalid(dut):
    """Length 0 completes at once with no TLP; unknown opcode and WRITE > 32 bytes answer INVALID; all in
    order with normal commands around them."""
    tb = DmaTb(dut, "zero_invalid")
    await tb.start()
    cmds = [tb.submit(tb.make_copy(100)),
            tb.submit(tb.make_copy(0)),
            tb.submit(tb.make_fill(0)),
            tb.submit(tb.make_write(0)),
            tb.submit(DmaCmd(op=3, dst=tb.alloc(64), length=64)),
            tb.submit(tb.make_write(33)),
            tb.submit(tb.make_fill(77)),
            tb.submit(tb.make_copy(0, pasid=(5, 1)))]
    tlps_before = tb.tx_tlps
    await tb.wait_done(cmds)
    await tb.quiesce()
    for c in cmds[1:6] + cmds[7:]:
        assert c.rsp_bytes == 0
    assert cmds[4].rsp_status == ST_INVALID and cmds[5].rsp_status == ST_INVALID
    # only the 100-byte copy and the 77-byte fill made TLPs
    assert tb.tx_tlps - tlps_before == len(cmds[0].mrd_plan) + len(cmds[0].mwr_plan) + len(cmds[6].mwr_plan)


@cocotb.test()
async def test_zero_length_behind_full_buffer(dut):
    """A zero-length COPY held at the write side (no credit: tx_req never ready) while the read buffer fills
    completely with the next COPY's bytes; then everything completes once tx_req is ready.

    The write engine's registered buffer check is exact only where it is used, a COPY with bytes to write
    (there n >= 1, so have - n stays below BUF_BYTES): a command with nothing to write and a full buffer
    gives have = BUF_BYTES, n = 0 (test_stress-x86 on small, seed 139956554, found its check covering that
    case). The number of one-beat WRITEs in front of the zero-length COPY is swept, so that in some round it
    is the command the write side holds when credit runs out; the test checks that some round reached a
    full buffer behind it (the write side's current command with nothing to write, avail_pos - plan_q =
    BUF_BYTES).
    """
    tb = DmaTb(dut, "zero_behind_full")
    await tb.start()
    tb.tx_backpressure = tb.rx_idle = tb.cmd_idle = 0.0
    tb.cpl_delay = (2, 8)
    tb.set_cfg(mps=1, mrrs=2)                             # 256-byte writes, 512-byte reads
    wr, tags = dut.u_wr, dut.u_tags
    mask = 2 * tb.buf_bytes - 1                           # buffer positions: log2(BUF_BYTES) + 1 bits
    reached = []
    for k in range(1, 13):
        tb.rsp_backpressure = 1.0
        # (each WRITE one TLP of one beat: 4 bytes at a DW-aligned destination never cross a page)
        cmds = [tb.submit(tb.make_write(4, dst=tb.alloc(4, align=0))) for _ in range(k)]
        z = tb.submit(tb.make_copy(0))
        # (source on a read-size boundary: whole 512-byte reads fill the buffer exactly)
        src = (tb.alloc(tb.buf_bytes + 1024) + 511) // 512 * 512
        b = tb.submit(tb.make_copy(tb.buf_bytes + 512, src=src))
        for _ in range(3000):
            await RisingEdge(dut.clk)
            if (int(wr.cur_valid_q.value) and int(wr.cur_nothing_q.value)
                    and (int(tags.avail_pos.value) - int(wr.plan_q.value)) & mask == tb.buf_bytes):
                reached.append(k)
                break
        tb.rsp_backpressure = 0.0
        await tb.wait_done(cmds + [z, b])
        await tb.quiesce()
        assert z.rsp_status == ST_OK and z.rsp_bytes == 0, z.describe()
    assert reached, "no round held the zero-length COPY with a full buffer behind it"
    tb.log.info("zero_behind_full: reached with %s WRITEs in front, seed %d", reached, tb.seed)


@cocotb.test()
async def test_fetch(dut):
    """FETCH, the descriptor engine's batch-list read: 64 bytes (and shorter) at a 64-byte aligned source,
    below and above 4 GiB, with and without PASID, completions split at the RCB, interleaved with COPY, FILL
    and WRITE: rsp_data holds exactly the host's bytes, rsp_bytes the length, and no FETCH writes anything."""
    tb = DmaTb(dut, "fetch")
    await tb.start()
    rng = tb.rng
    for rnd in range(8):
        tb.set_cfg(mps=rng.randrange(0, 6), mrrs=rng.randrange(0, 6))
        cmds = []
        for _ in range(10):
            op = rng.choice([OP_FETCH, OP_FETCH, OP_FETCH, OP_COPY, OP_FILL, OP_WRITE])
            if op == OP_FETCH:
                n = FETCH_MAX_BYTES if rng.random() < 0.7 else rng.randint(1, FETCH_MAX_BYTES)
                c = tb.make_fetch(n, pasid=tb.random_pasid(), src_high=rng.random() < 0.5)
            elif op == OP_COPY:
                c = tb.make_copy(rand_len(rng, 3000), pasid=tb.random_pasid())
            elif op == OP_FILL:
                c = tb.make_fill(rand_len(rng, 3000))
            else:
                c = tb.make_write(rng.randint(1, 32))
            cmds.append(tb.submit(c))
        mwr_before = tb.stats["mwr"]
        await tb.wait_done(cmds)
        await tb.quiesce()
        fetches = [c for c in cmds if c.op == OP_FETCH]
        assert all(c.rsp_status == ST_OK and c.rsp_bytes == c.length and c.rsp_data == c.expect_data
                   for c in fetches), [(c.describe(), c.rsp_status, c.rsp_bytes) for c in fetches]
        assert tb.stats["mwr"] - mwr_before == sum(len(c.mwr_plan) for c in cmds if c.op != OP_FETCH)
    tb.log.info("fetch: %d commands, %s", tb.stats["cmds"], tb.stats)


@cocotb.test()
async def test_fetch_errors(dut):
    """A FETCH whose read is answered UR, CA or poisoned, or never (timeout), ends with that status and 0
    bytes; a FETCH longer than 64 bytes or from a source that is not 64-byte aligned is INVALID with no TLP;
    a zero-length FETCH completes at once with no TLP; the commands after each are unaffected."""
    tb = DmaTb(dut, "fetch_errors")
    await tb.start()
    rng = tb.rng
    for kind, st in (("UR", ST_UR), ("CA", ST_CA), ("POISON", ST_POISONED), ("DROP", ST_TIMEOUT)):
        tb.set_cfg(mps=rng.randrange(0, 3), mrrs=rng.randrange(0, 3))
        c = tb.make_fetch(pasid=tb.random_pasid(), expect_status=st)
        tb.submit(c)
        tb.faults[(c.cmd_id, 0)] = (kind, 0)
        after = [tb.submit(tb.make_fetch()), tb.submit(tb.make_copy(rng.randint(1, 2000)))]
        await tb.wait_done([c, *after])
        if kind == "DROP":
            tb.send_late()
        await tb.quiesce()
        assert (c.rsp_status, c.rsp_bytes) == (st, 0), (kind, c.rsp_status, c.rsp_bytes)
        assert after[0].rsp_data == after[0].expect_data
    tlps_before = tb.tx_tlps
    bad = [tb.submit(tb.make_fetch(FETCH_MAX_BYTES + 1)),
           tb.submit(tb.make_fetch(src=((tb.alloc(192) + 63) & ~63) + rng.choice([4, 8, 32]))),
           tb.submit(tb.make_fetch(0))]
    await tb.wait_done(bad)
    await tb.quiesce()
    assert [(c.rsp_status, c.rsp_bytes) for c in bad] == [(ST_INVALID, 0), (ST_INVALID, 0), (ST_OK, 0)]
    assert tb.tx_tlps == tlps_before, f"{tb.tx_tlps - tlps_before} TLPs for FETCHes that read nothing"


async def _error_case(tb: DmaTb, kind: str, status: int):
    rng = tb.rng
    length = rng.randint(600, 8192)
    c = tb.make_copy(length, pasid=tb.random_pasid(), expect_status=status)
    c.max_bytes = length
    tb.submit(c)
    nreads = len(split(c.src, length, min(128 << min(tb.mrrs, 5), tb.rd_cap)))
    idx = rng.randrange(nreads)
    tb.faults[(c.cmd_id, idx)] = (kind, rng.randrange(0, 8))
    after = tb.submit(tb.make_copy(rng.randint(1, 3000)))   # must not be disturbed
    tb.error_cpl_cycle = None
    await tb.wait_done([c, after])
    await tb.quiesce()
    if tb.error_cpl_cycle is not None:
        # A UR/CA completion ends its request (PCIe r6.3 2.3.2) and frees its tag: both commands end and every
        # tag retires well inside the completion timeout (about 500 cycles here), not at it.
        took = tb.cycle - tb.error_cpl_cycle
        assert took < tb.cpl_timeout // 2, \
            f"{kind}: idle {took} cycles after the error completion (completion timeout {tb.cpl_timeout})"
    tb.log.info("%s on read %d of %s: status %d, %d of %d bytes written (limit %d)", kind, idx, c.describe(),
                c.rsp_status, c.rsp_bytes, length, c.max_bytes)


@cocotb.test()
async def test_cpl_errors(dut):
    """UR / CA / poisoned completions end the command with the error and the bytes written before it;
    late completions of the failed command's other reads are absorbed; the next command is unaffected."""
    tb = DmaTb(dut, "cpl_errors")
    await tb.start()
    for rnd in range(6):
        tb.set_cfg(mps=tb.rng.randrange(0, 3), mrrs=tb.rng.randrange(0, 4))
        for kind, st in (("UR", ST_UR), ("CA", ST_CA), ("POISON", ST_POISONED)):
            await _error_case(tb, kind, st)
    assert tb.unexpected_pulses == 0, f"{tb.unexpected_pulses} unexpected-completion pulses"


@cocotb.test()
async def test_error_stress(dut):
    """Mixed commands back to back where a third of the copies hit a UR, CA, poisoned or lost completion, so
    failing and healthy commands overlap in the engine; every command must end with its own status."""
    tb = DmaTb(dut, "error_stress")
    await tb.start()
    rng = tb.rng
    tb.cmd_idle = 0.05
    kinds = [("UR", ST_UR), ("CA", ST_CA), ("POISON", ST_POISONED), ("UR", ST_UR), ("CA", ST_CA),
             ("POISON", ST_POISONED), ("DROP", ST_TIMEOUT)]
    for rnd in range(5):
        tb.set_cfg(mps=rng.randrange(0, 3), mrrs=rng.randrange(0, 3))
        cmds = []
        for _ in range(12):
            op = rng.choice([OP_COPY, OP_COPY, OP_COPY, OP_FILL, OP_WRITE])
            if op == OP_COPY:
                c = tb.make_copy(rand_len(rng, 4000), pasid=tb.random_pasid())
                if rng.random() < 0.35:
                    kind, st = rng.choice(kinds)
                    c.expect_status = st
                    tb.submit(c)
                    nreads = len(split(c.src, c.length, min(128 << min(tb.mrrs, 5), tb.rd_cap)))
                    tb.faults[(c.cmd_id, rng.randrange(nreads))] = (kind, rng.randrange(0, 8))
                    cmds.append(c)
                    continue
            elif op == OP_FILL:
                c = tb.make_fill(rand_len(rng, 4000))
            else:
                c = tb.make_write(rng.randint(1, 32))
            cmds.append(tb.submit(c))
        await tb.wait_done(cmds)
        await tb.quiesce()
        tb.log.info("round %d: %s", rnd, [(c.cmd_id, c.rsp_status, c.rsp_bytes) for c in cmds])


@cocotb.test()
async def test_first_error_wins(dut):
    """A command whose reads fail twice reports the first error in time (imsdev_dma_tags keeps a command's
    first error): a UR, CA or poisoned completion on one read and another read of the same command never
    answered end the command with the completion error, not READ_TIMEOUT, which only comes CPL_TIMEOUT cycles
    after the lost read was sent, whichever of the two reads comes first in the command. The two are
    neighbours among the first reads, so both are out before either fails (a later read could wait for a tag
    or buffer space that the lost read holds until its timeout)."""
    tb = DmaTb(dut, "first_error")
    await tb.start()
    rng = tb.rng
    read_size = min(128 << min(tb.mrrs, 5), tb.rd_cap)
    for kind, st in (("UR", ST_UR), ("CA", ST_CA), ("POISON", ST_POISONED)):
        for lost_first in (False, True):
            length = rng.randint(2 * read_size + 1, 4 * read_size)
            c = tb.make_copy(length, pasid=tb.random_pasid(), expect_status=st)
            c.max_bytes = length
            tb.submit(c)
            nreads = len(split(c.src, length, read_size))
            a = rng.randrange(min(2, nreads - 1))
            err_i, lost_i = (a + 1, a) if lost_first else (a, a + 1)
            tb.faults[(c.cmd_id, err_i)] = (kind, 0)
            tb.faults[(c.cmd_id, lost_i)] = ("DROP", 0)
            await tb.wait_done(c)
            await tb.quiesce()
            tb.log.info("%s on read %d, read %d lost: %s status %d, %d bytes", kind, err_i, lost_i, c.describe(),
                        c.rsp_status, c.rsp_bytes)
    # the lost reads' completions, sent now, are dropped as unexpected; the engine goes on
    n = tb.send_late()
    await tb.quiesce()
    await tb.cycles(10)
    assert tb.unexpected_pulses == n, f"{n} late completions, {tb.unexpected_pulses} pulses"
    ok = tb.submit(tb.make_copy(rng.randint(1, 5000)))
    await tb.wait_done(ok)
    await tb.quiesce()


@cocotb.test()
async def test_cpl_timeout(dut):
    """A read that is never answered ends its command with READ_TIMEOUT after CPL_TIMEOUT cycles and frees
    its tag; its completions arriving later are dropped and flagged; the engine keeps working."""
    tb = DmaTb(dut, "cpl_timeout")
    await tb.start()
    for rnd in range(3):
        await _error_case(tb, "DROP", ST_TIMEOUT)
        assert tb.unexpected_pulses == 0
        n = tb.send_late()
        await tb.quiesce()
        await tb.cycles(10)
        assert tb.unexpected_pulses == n, f"{n} late completions, {tb.unexpected_pulses} pulses"
        tb.unexpected_pulses = 0
        ok = tb.submit(tb.make_copy(tb.rng.randint(1, 5000)))
        await tb.wait_done(ok)
        await tb.quiesce()


@cocotb.test()
async def test_unexpected_cpl(dut):
    """Completions with an unknown tag, a foreign requester ID, a finished tag, bad fields, or that are not
    completions at all are dropped with one err_unexpected_cpl pulse each, idle and during a copy."""
    tb = DmaTb(dut, "unexpected_cpl")
    await tb.start()
    rng = tb.rng
    injected = 0

    def bogus_set(live: bool):
        out = []
        if tb.tags < 256:
            out.append((cpl_hdr(True, 0, 0, tb.bdf, rng.randrange(tb.tags, 256), 1, 4, 0), bytes(4)))
        out.append((cpl_hdr(True, 0, 0, tb.bdf ^ 0x0100, rng.randrange(tb.tags), 2, 8, 0), bytes(8)))
        out.append((0x40 << 120 | 1 << 96 | 0xF << 64 | 0x1000_0000, bytes(4)))      # a MWr on rx_cpl
        if not live:
            for t in range(tb.tags):                                                  # nothing outstanding
                out.append((cpl_hdr(True, 0, 0, tb.bdf, t, 16, 64, 0), bytes(64)))
            out.append((cpl_hdr(False, 1, 0, tb.bdf, 0, 0, 4, 0), None))             # UR for no request
        return out

    for h, p in bogus_set(live=False):
        tb.queue_bogus(h, p)
        injected += 1
    await tb.quiesce()
    await tb.cycles(10)
    assert tb.unexpected_pulses == injected, f"idle: {injected} injected, {tb.unexpected_pulses} flagged"

    # during a long copy, mixed with the real completions; some real completions are preceded by a copy
    # with a wrong requester ID, lower address or byte count, or as a Cpl without data (accepting one would
    # corrupt the data or make the real one unexpected)
    tb.set_cfg(mps=1, mrrs=0)
    tb.set_corruption(3)
    c = tb.submit(tb.make_copy(8192))
    for _ in range(3):
        await tb.cycles(rng.randint(20, 120))
        for h, p in bogus_set(live=True):
            tb.queue_bogus(h, p)
            injected += 1
    await tb.wait_done(c)
    await tb.quiesce()
    await tb.cycles(10)
    tb.set_corruption(0)
    injected += tb.corrupt_sent
    # 8 KiB in 128-byte reads: at least 64 completions, so at least 21 copies, each kind 5 times or more
    assert tb.corrupt_sent >= 21 and min(tb.corrupt_kinds) >= 5, (tb.corrupt_sent, tb.corrupt_kinds)
    assert tb.unexpected_pulses == injected, f"live: {injected} injected, {tb.unexpected_pulses} flagged"

    # a second copy of a completion that already ended its request (tag finished, engine idle)
    tb.split_prob = 0.0
    c = tb.submit(tb.make_copy(100))
    await tb.wait_done(c)
    await tb.quiesce()
    tag = rng.randrange(tb.tags)
    tb.queue_bogus(cpl_hdr(True, 0, 0, tb.bdf, tag, 26, 100, c.src & 0x7F), bytes(104))
    injected += 1
    await tb.quiesce()
    await tb.cycles(10)
    assert tb.unexpected_pulses == injected, f"duplicate: {injected} injected, {tb.unexpected_pulses} flagged"


@cocotb.test()
async def test_bus_master_enable(dut):
    """With Bus Master Enable 0 nothing is sent (commands wait); enabling releases them. Dropping it during
    a copy stops new TLPs at a TLP boundary until it is set again; a TLP already shown (valid without ready)
    stays shown and is sent."""
    tb = DmaTb(dut, "bus_master")
    await tb.start()
    tb.set_cfg(bme=0)
    cmds = [tb.submit(tb.make_copy(3000)), tb.submit(tb.make_fill(500)), tb.submit(tb.make_write(32))]
    await tb.cycles(400)
    assert tb.tx_beats == 0, "TLPs sent with Bus Master Enable 0"
    assert all(not c.done.is_set() for c in cmds), "a command completed with Bus Master Enable 0"
    tb.set_cfg(bme=1)
    await tb.wait_done(cmds)
    await tb.quiesce()

    tb.tx_backpressure = 0.5
    for k in range(6):
        cmds = [tb.submit(tb.make_copy(8192)), tb.submit(tb.make_fill(4000))]
        await tb.cycles(tb.rng.randint(10, 200))
        if k % 2 == 0:
            # drop it while a new TLP is shown and waiting for ready: it must stay shown and go out
            for _ in range(2000):
                if tb.tx_held is not None and tb.tx_cur is None:
                    break
                await tb.cycles(1)
            else:
                raise AssertionError("no TLP waited for ready in 2000 cycles")
        tb.set_cfg(bme=0)
        await tb.cycles(1)
        beats = tb.tx_beats
        await tb.cycles(300)
        # at most the rest of a TLP that had started (<= 4 KiB of payload)
        assert tb.tx_beats - beats <= 4096 // tb.nb, "tx_req kept going with Bus Master Enable 0"
        tb.set_cfg(bme=1)
        await tb.wait_done(cmds)
        await tb.quiesce()


@cocotb.test()
async def test_throughput(dut):
    """Copy/fill throughput and latency with no backpressure and prompt completions (64-byte CplDs)."""
    tb = DmaTb(dut, "throughput")
    await tb.start()
    tb.set_prompt(split_prob=1.0)
    tb.set_cfg(mps=1, mrrs=2)
    nb = tb.nb
    perf = {"DATA_W": tb.data_w, "TAGS": tb.tags, "BUF_BYTES": tb.buf_bytes, "link_bytes_per_cycle": nb,
            "mps": 256, "mrrs": 512, "cpl_bytes": 64}

    async def one(c: DmaCmd):
        tb.submit(c)
        await tb.wait_done(c)
        await tb.quiesce()
        return c.rsp_cycle - c.accept_cycle

    async def stream(make, count: int):
        cmds = [tb.submit(make()) for _ in range(count)]
        await tb.wait_done(cmds)
        cycles = cmds[-1].rsp_cycle - cmds[0].accept_cycle
        await tb.quiesce()
        return sum(c.length for c in cmds) / cycles

    for lat in (4, 32):
        tb.cpl_delay = (lat, lat)
        cyc = await one(tb.make_copy(4096, src=tb.alloc(4096, align=0), dst=tb.alloc(4096, align=0)))
        perf[f"copy4k_aligned_lat{lat}_cycles"] = cyc
        perf[f"copy4k_aligned_lat{lat}_Bpc"] = round(4096 / cyc, 2)
        cyc = await one(tb.make_copy(4096, src=tb.alloc(4096, align=5), dst=tb.alloc(4096, align=3)))
        perf[f"copy4k_unaligned_lat{lat}_cycles"] = cyc
        perf[f"copy4k_unaligned_lat{lat}_Bpc"] = round(4096 / cyc, 2)
        bpc = await stream(lambda: tb.make_copy(4096, src=tb.alloc(4096, align=0), dst=tb.alloc(4096, align=0)), 16)
        perf[f"copy4k_x16_lat{lat}_Bpc"] = round(bpc, 2)
    tb.cpl_delay = (4, 4)
    cyc = await one(tb.make_fill(4096, dst=tb.alloc(4096, align=0)))
    perf["fill4k_cycles"] = cyc
    perf["fill4k_Bpc"] = round(4096 / cyc, 2)
    perf["fill4k_x16_Bpc"] = round(await stream(lambda: tb.make_fill(4096, dst=tb.alloc(4096, align=0)), 16), 2)

    # latencies (cycles from command acceptance)
    w = tb.make_write(32, dst=tb.alloc(32, align=0))
    perf["write32_rsp_cycles"] = await one(w)
    perf["write32_first_tlp_cycles"] = w.first_tx_cycle - w.accept_cycle
    c = tb.make_copy(64, src=tb.alloc(64, align=0), dst=tb.alloc(64, align=0))
    perf["copy64_rsp_cycles_host_lat4"] = await one(c)
    perf["copy64_first_mrd_cycles"] = c.first_tx_cycle - c.accept_cycle

    for k, v in perf.items():
        tb.log.info("perf %-32s %s", k, v)
    out = os.environ.get("DMA_RESULTS_DIR")
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "perf.json"), "w") as f:
            json.dump(perf, f, indent=1)
    # Throughput bars: sustained copies and fills must come close to the link.
    assert perf["copy4k_x16_lat32_Bpc"] >= 0.75 * nb, perf
    assert perf["fill4k_x16_Bpc"] >= 0.85 * nb, perf


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
# Run by test_block_dma.py (`make blocks`) on each PARAM_SETS build; DmaTb checks every TLP, response and byte of host memory.
BAD_INPUTS = (
    BadInput(cls="completion", input="UR completion for one read of a COPY (600 B .. 8 KiB, random read, random "
                                     "piece; every other UR and every other CA completion with Byte Count 0 and "
                                     "Lower Address[1:0] = 3, fields a failed completion does not need)",
             outcome="the command ends with READ_UR; rsp_bytes on a write-TLP boundary, not past the failed read's "
                     "first byte, and exactly those bytes written (the rest of the destination and its guard bytes "
                     "untouched); the other reads' completions are absorbed (no err_unexpected_cpl pulse); the next "
                     "COPY completes byte-exact; both end and every tag retires within half the completion timeout",
             test="test_cpl_errors"),
    BadInput(cls="completion", input="CA completion for one read of a COPY",
             outcome="the command ends with READ_CA; rsp_bytes on a write-TLP boundary, not past the failed read's "
                     "first byte, and exactly those bytes written (the rest of the destination and its guard bytes "
                     "untouched); the other reads' completions are absorbed (no err_unexpected_cpl pulse); the next "
                     "COPY completes byte-exact",
             test="test_cpl_errors"),
    BadInput(cls="completion", input="Poisoned (EP = 1) CplD for one piece of a COPY's read",
             outcome="the command ends with READ_POISONED; rsp_bytes on a write-TLP boundary, not past the failed "
                     "read's first byte, and exactly those bytes written (the rest of the destination and its guard "
                     "bytes untouched); the other reads' completions are absorbed (no err_unexpected_cpl pulse); the "
                     "next COPY completes byte-exact",
             test="test_cpl_errors"),
    BadInput(cls="completion", input="UR, CA, poisoned and lost completions on a third of the COPYs, overlapping "
                                     "healthy COPY/FILL/WRITE commands back to back",
             outcome="every command ends with its own status and byte count, responses in command order; healthy "
                     "commands byte-exact",
             test="test_error_stress"),
    BadInput(cls="completion", input="A COPY read never answered (dropped)",
             outcome="the command ends with READ_TIMEOUT, rsp_bytes not past the lost read; no err_unexpected_cpl "
                     "pulse until the late completions come",
             test="test_cpl_timeout"),
    BadInput(cls="completion", input="Late completions of the timed-out read, sent after the command ended",
             outcome="dropped, one err_unexpected_cpl pulse each; a following COPY completes byte-exact",
             test="test_cpl_timeout"),
    BadInput(cls="completion", input="CplD with a tag >= TAGS (builds with TAGS < 256), idle and during a COPY",
             outcome="dropped, one err_unexpected_cpl pulse",
             test="test_unexpected_cpl"),
    BadInput(cls="completion", input="CplD with a foreign requester ID (bus differs), idle and during a COPY",
             outcome="dropped, one err_unexpected_cpl pulse",
             test="test_unexpected_cpl"),
    BadInput(cls="completion", input="A posted MWr TLP on rx_cpl",
             outcome="dropped, one err_unexpected_cpl pulse",
             test="test_unexpected_cpl"),
    BadInput(cls="completion", input="A 64-byte CplD for every tag while no read is outstanding",
             outcome="dropped, one err_unexpected_cpl pulse each",
             test="test_unexpected_cpl"),
    BadInput(cls="completion", input="A UR completion (no data) for no outstanding request",
             outcome="dropped, one err_unexpected_cpl pulse",
             test="test_unexpected_cpl"),
    BadInput(cls="completion", input="During an 8 KiB COPY, a copy of a real CplD with one thing wrong (requester ID, "
                                     "Lower Address or Byte Count, or sent as a Cpl without data with status SC) "
                                     "sent just before it",
             outcome="the wrong copy is dropped with one err_unexpected_cpl pulse (every 3rd completion: at least 21 "
                     "sent, each kind at least 5 times); the real "
                     "completion is taken and the COPY completes byte-exact",
             test="test_unexpected_cpl"),
    BadInput(cls="completion", input="ATS: a Translation Completion with a translation tag but another requester ID "
                                     "(misrouted; it denies the page at another address), just ahead of the real "
                                     "one, for every third Translation Request",
             outcome="dropped with one err_unexpected_cpl pulse each (pulses = misrouted completions sent); the real "
                     "answer is taken and every command completes byte-exact with its translated addresses",
             test="test_ats_translate"),
    BadInput(cls="completion", input="Duplicate: a second CplD for a tag whose read already completed (engine idle)",
             outcome="dropped, one err_unexpected_cpl pulse",
             test="test_unexpected_cpl"),
    BadInput(cls="descriptor", input="DMA command with an unknown opcode (3), and a WRITE of 33 bytes (above 32)",
             outcome="response status INVALID with 0 bytes and no TLP; the commands around them complete in order",
             test="test_zero_length_and_invalid"),
    BadInput(cls="descriptor", input="DMA COPY, FILL and WRITE of length 0",
             outcome="complete with 0 bytes and no TLP",
             test="test_zero_length_and_invalid"),
    BadInput(cls="config", input="Commands submitted to the DMA block while Bus Master Enable = 0",
             outcome="no TLP on tx_req and no command completes for 400 cycles; setting it releases them, all "
                     "complete byte-exact",
             test="test_bus_master_enable"),
    BadInput(cls="config", input="Bus Master Enable cleared in the middle of a COPY and a FILL (also while a TLP "
                                 "waits for ready)",
             outcome="at most the rest of a TLP already started goes out in the next 300 cycles; a TLP already shown "
                     "stays shown and is sent; no new TLP until it is set again, then the commands complete "
                     "byte-exact",
             test="test_bus_master_enable"),
    BadInput(cls="config", input="Reserved Max_Payload_Size / Max_Read_Request_Size encodings 6 and 7",
             outcome="treated as 4096 B: every read and write split exactly as for encoding 5, copies and fills "
                     "byte-exact",
             test="test_payload_settings"),
)


@cocotb.test()
async def test_start_right_after_one_beat_tlp(dut):
    """A COPY's first TLP of one beat, then a whole write TLP whose bytes are not all buffered yet.

    The write engine's buffer check is a flip-flop (imsdev_dma_wr data_q); after a COPY TLP's start it is
    loaded with "this TLP's bytes plus a whole write TLP are buffered", so that a TLP starting in the very
    next cycle (only possible after a one-beat TLP) never runs ahead of the read buffer. The case: the
    destination sits s bytes below a write-size boundary (first TLP: s bytes, one beat; second: a whole
    write TLP), the source starts on a write-size boundary and is read in requests of the write size; a
    FILL before the COPY keeps the write side busy while the COPY's first read returns, and the second read
    is held back, so the buffer holds exactly one write size when the first TLP starts. The second TLP must
    wait for the second read (checked, and the host memory check sees stale bytes otherwise). Every case
    checks that it reached that window.
    """
    tb = DmaTb(dut, "start_after_one_beat")
    await tb.start()
    tb.set_prompt(split_prob=0.0)
    tb.cpl_delay = (4, 12)
    cases = 0
    for code in range(3):
        size = 128 << code
        if size > min(tb.rd_cap, tb.wr_cap):
            continue
        tb.set_cfg(mps=code, mrrs=code)
        for s in sorted({1, 4, 5, tb.nb // 2, tb.nb - 4}):
            busy = tb.make_fill(4096, dst=tb.alloc(4096, align=0))   # the write side's work meanwhile
            length = s + 3 * size

            def aligned() -> int:   # a range of length bytes starting on a multiple of size
                return (tb.alloc(length + 2 * size) + size - 1) // size * size

            dst = aligned() + size - s                                # s bytes below a write-size boundary
            c = tb.make_copy(length, src=aligned(), dst=dst)
            tb.submit(busy)
            tb.submit(c)
            tb.hold[(c.cmd_id, 1)] = 4096 // tb.nb + 200             # the second read: after the FILL
            tb.cpl_cycles.clear()
            await tb.wait_done([busy, c])
            await tb.quiesce()
            assert len(c.mwr_done_cycle) == 4, (size, s, c.mwr_done_cycle)
            # completions: the first read's, the third and fourth reads', then the held second read's
            first, held = tb.cpl_cycles[0], tb.cpl_cycles[-1]
            tlp1, tlp2 = c.mwr_done_cycle[0], c.mwr_done_cycle[1]      # (TLP 1 is one beat: first = last)
            where = (f"write size {size}, first TLP {s} B (completions {tb.cpl_cycles}, writes "
                     f"{c.mwr_done_cycle}, the FILL's last write {busy.mwr_done_cycle[-1]})")
            assert first[1] < tlp1 < held[0], f"{where}: the first TLP did not start while the buffer held " \
                                              f"exactly the first read: the case was not reached"
            assert tlp2 > held[1], f"{where}: the second TLP left before its bytes arrived"
            cases += 1
    assert cases >= 10, cases
    tb.log.info("start_after_one_beat: %d cases, seed %d", cases, tb.seed)


@ats_test
async def test_ats_translate(dut):
    """ATS (builds with ATS_ENTRIES > 0): COPY/FILL/WRITE/FETCH with and without PASID, some with cmd_no_ats, under
    ATS Enable: every PASID-tagged MRd/MWr of a translated command carries AT = 10b and the host's physical
    address (4 KiB / 2 MiB / 1 GiB entries), the rest AT = 00b; Translation Requests are MRd Length 2 with
    the PASID prefix, tag TAGS (read side, NW = 1) or TAGS + 1 (write side), each for a page its side is about
    to access for an active command; every third one is answered first by a completion for another requester ID
    (misrouted: it denies the page), which must be dropped as unexpected; invalidations without PASID at random
    times force re-translation. Data and responses are checked as in every other test."""
    tb = await start_ats(dut, "ats_translate", no_ats_prob=0.1, inv_prob=0.002, xreq_foreign_every=3)
    rng = tb.rng
    # a few PASIDs so that ATC keys collide and entries are evicted
    pasids = [(rng.randrange(1 << 20), rng.randrange(2)) for _ in range(3)]

    def pick():
        return rng.choice(pasids) if rng.random() < 0.85 else None

    lengths = [rand_len(rng) for _ in range(60)] + [1, 4096, 4097, 8192]
    rng.shuffle(lengths)
    await run_batches(tb, lambda n: rng.choice([tb.make_copy, tb.make_copy, tb.make_fill])(n, pasid=pick()),
                      lengths)
    await run_batches(tb, lambda n: tb.make_write(min(n, 32), pasid=pick()), [rng.randint(1, 32) for _ in range(20)])
    # FETCHes (batch-list reads) with PASIDs: their source reads are translated; they write nothing, so the
    # write side must not ask for a translation on their behalf
    await run_batches(tb, lambda n: tb.make_fetch(n, pasid=pick()), [rng.choice([64, 64, 32, 8]) for _ in range(16)])
    tb.log.info("ats_translate: %s, %d foreign Translation Completions", tb.stats, tb.xreq_foreign_sent)
    assert tb.stats["xreq"] > 10 and tb.stats["xlated"] > 50 and tb.stats["inv"] > 0, tb.stats
    assert tb.unexpected_pulses == tb.xreq_foreign_sent == tb.stats["xreq"] // 3, \
        f"{tb.xreq_foreign_sent} foreign Translation Completions, {tb.unexpected_pulses} dropped as unexpected"
    tb.check()


@ats_test
async def test_ats_reenable_discards_old_answer(dut):
    """ATS Enable 0 -> 1 empties the ATC (PCIe 10.3.7), and a Translation Completion for a request made before
    it must not refill it: the host may have changed its mappings while ATS was off without telling the
    device. A write-side Translation Request is answered with the mapping of that moment but held back; ATS
    is disabled (the command goes on untranslated and completes), the host moves every page (a new
    untranslated -> translated map), ATS is enabled again and a second command writes the same page; then
    the held answer arrives. The device must discard it and ask again: the second command's writes carry the
    new translation (a write through the old one lands at an address no command owns: the TLP check fails)."""
    # 4 KiB translations only: a large one for the second command's source could cover its destination page,
    # and the second command would then not need the answer held back
    tb = await start_ats(dut, "ats_reenable", xlate_sizes=[0])
    rng = tb.rng
    for rnd in range(4):
        pasid = (rng.randrange(1 << 20), rng.randrange(2))
        dst = tb.alloc(64)
        first = tb.make_copy(rng.randint(1, 64), dst=dst, pasid=pasid)
        hold = pasid + (dst >> 12, True)
        tb.xreq_hold.add(hold)
        tb.submit(first)
        start = tb.cycle
        while hold not in tb.xreq_held or tb.reads:       # its source read done, its write waiting for the answer
            assert tb.cycle - start < 5_000, f"seed {tb.seed}: the write side never asked for page {dst >> 12:#x}"
            await RisingEdge(dut.clk)
        await tb.cycles(20)
        assert first.mwr_seen == 0, "a write left before its page was translated"
        tb.set_ats_enable(False)
        await tb.wait_done(first)                           # untranslated from here on
        await tb.quiesce()
        tb.ats_key ^= rng.randrange(1, 1 << 20) << 18       # the host moved every page meanwhile
        tb.set_ats_enable(True)
        await tb.cycles(4)
        second = tb.submit(tb.make_copy(rng.randint(1, 64), dst=dst, pasid=pasid))
        await tb.cycles(rng.randint(10, 40))                # its write side waits for the slot the old request holds
        assert second.mwr_seen == 0, f"{second.describe()} wrote before the slot answered its page"
        tb.release_xreq(hold)
        await tb.wait_done(second)
        await tb.quiesce()
        tb.log.info("round %d: PASID %s page %#x, %s / %s", rnd, pasid, dst >> 12, first.describe(), second.describe())
    tb.check()


@ats_test
async def test_ats_faults(dut):
    """ATS translation faults: per command (own PASID, 4 KiB entries) one page of the source is granted W only
    or answered UR, or one page of the destination granted R only or answered UR. Expected: DMA_XL_READ_FAULT /
    DMA_XL_FAIL_RD or DMA_XL_WRITE_FAULT / DMA_XL_FAIL_WR with rsp_bytes exactly the faulting page's offset
    from the source or destination (docs/ats_pri.md 2.6: every byte before it written, the last write TLP cut
    at a source fault, nothing beyond). Commands around them
    without faults still complete."""
    tb = await start_ats(dut, "ats_faults")
    rng = tb.rng
    checks = []
    cmds = []
    agains = []
    for k in range(40):
        if k % 4 == 0:             # (nothing in flight: the commands were waited for)
            tb.set_cfg(mps=rng.randrange(0, 6), mrrs=rng.randrange(0, 6))
        n = rng.choice([rng.randint(1, 300), rng.randint(301, 4096), rng.randint(4097, 8192)])
        pasid = (rng.randrange(1 << 20), rng.randrange(2))
        tb.deny_pasids.add(pasid)
        op = rng.choice(["copy", "copy", "fill"])
        c = tb.make_copy(n, pasid=pasid) if op == "copy" else tb.make_fill(n, pasid=pasid)
        side = "src" if op == "copy" and rng.random() < 0.5 else "dst"
        base = c.src if side == "src" else c.dst
        other = (c.dst, c.dst + n) if side == "src" else ((c.src, c.src + n) if op == "copy" else (0, 0))
        pages = [p for p in range(base >> 12, ((base + n - 1) >> 12) + 1)
                 if not (other[0] >> 12 <= p <= (other[1] - 1) >> 12)]
        if not pages:
            cmds.append(tb.submit(c))
            continue
        page = rng.choice(pages)
        ur = rng.random() < 0.3
        tb.deny[pasid + (page,)] = "UR" if ur else ("R" if side == "src" else "W")
        off = max(0, (page << 12) - base)
        c.expect_status = ({"src": ST_XL_FAIL_RD, "dst": ST_XL_FAIL_WR} if ur else
                           {"src": ST_XL_READ_FAULT, "dst": ST_XL_WRITE_FAULT})[side]
        c.max_bytes = off
        if side == "src":
            c.plan_limit = off        # every byte before the faulting source page is written, the last TLP cut
        cmds.append(tb.submit(c))
        checks.append((c, side, off))
        if side == "dst" and not ur:
            # the same destination again, same PASID: the read-only entry is now in the ATC; a write must not
            # use it (it asks again and faults at the same offset)
            # (submitted once this one has completed, so that each checks its own memory)
            again = tb.make_fill(n, pasid=pasid, dst=c.dst)
            again.expect_status, again.max_bytes = ST_XL_WRITE_FAULT, off
            agains.append(again)
            checks.append((again, side, off))
        if k % 4 == 3 or k == 39:
            await tb.wait_done(cmds)
            await tb.quiesce()
            cmds = [tb.submit(a) for a in agains]
            agains = []
            await tb.wait_done(cmds)
            await tb.quiesce()
    await tb.wait_done(cmds)
    await tb.quiesce()
    for c, side, off in checks:
        if c.rsp_bytes != off:
            tb.fail(f"{c.describe()}: {side} fault at offset {off}, rsp_bytes {c.rsp_bytes}")
    tb.log.info("ats_faults: %d faulting commands, %s", len(checks), tb.stats)
    assert len(checks) > 20 and tb.stats.get("xdeny", 0) >= len(checks), tb.stats
    tb.check()


# Block-on-Fault outcome plans for a denied page (docs/ats_pri.md 2.6) and what the command then ends with:
# "ok", "fault" (as without BOF), "ir" (Invalid Request).
BOF_PLANS = [
    (["fix"], "ok"), (["keep", "fix"], "ok"), (["keep"] * (PRI_RETRIES - 1) + ["fix"], "ok"),
    (["keep"] * PRI_RETRIES, "fault"), (["IR"], "ir"), (["keep", "IR"], "ir"), (["RF"], "fault"),
]


@ats_test
async def test_ats_bof(dut):
    """Block-on-Fault (cmd_bof) on the read and the write side: one page of the source (granted W only) or of
    the destination (granted R only) is denied; the bench plays imsdev_pri with a planned outcome per page
    request: Success after the page was made accessible -> the side translates again and the command completes
    with every byte; Success with the page still denied -> another page request, at most PRI_RETRIES, then the
    fault as without BOF (DMA_XL_*_FAULT, bytes = the page's offset); Invalid Request -> DMA_XL_*_FAULT_IR with
    the same bytes; Response Failure -> as without BOF. The side asks only for the denied page, holds pr_req
    until done and drops it right after; a Translation Completion UR (failed, not denied) asks for nothing.
    Without cmd_bof a denied page never asks."""
    tb = await start_ats(dut, "ats_bof")
    rng = tb.rng
    checks = []
    cmds = []
    for k in range(48):
        if k % 4 == 0:
            tb.set_cfg(mps=rng.randrange(0, 6), mrrs=rng.randrange(0, 6))
        n = rng.choice([rng.randint(1, 300), rng.randint(301, 4096), rng.randint(4097, 8192)])
        pasid = (rng.randrange(1 << 20), rng.randrange(2))
        tb.deny_pasids.add(pasid)
        op = rng.choice(["copy", "copy", "fill", "write"])
        c = (tb.make_copy(n, pasid=pasid) if op == "copy" else tb.make_fill(n, pasid=pasid) if op == "fill"
             else tb.make_write(min(n, 32), pasid=pasid))
        n = c.length
        c.bof = k % 8 != 7                      # every 8th: no BOF (must not ask)
        side = "src" if op == "copy" and rng.random() < 0.5 else "dst"
        base = c.src if side == "src" else c.dst
        other = (c.dst, c.dst + n) if side == "src" else ((c.src, c.src + n) if op == "copy" else (0, 0))
        pages = [p for p in range(base >> 12, ((base + n - 1) >> 12) + 1)
                 if not (other[0] >> 12 <= p <= (other[1] - 1) >> 12)]
        if not pages:
            cmds.append(tb.submit(c))
            continue
        page = rng.choice(pages)
        key = pasid + (page,)
        ur = rng.random() < 0.1
        tb.deny[key] = "UR" if ur else ("R" if side == "src" else "W")
        off = max(0, (page << 12) - base)
        plan, result = rng.choice(BOF_PLANS)
        if ur or not c.bof:
            plan, result = [], "fault"
        tb.pri_plan[key] = list(plan)
        if result == "ok":
            c.expect_status = ST_OK
        else:
            c.expect_status = ({"src": ST_XL_FAIL_RD, "dst": ST_XL_FAIL_WR} if ur else
                               {"src": ST_XL_READ_FAULT, "dst": ST_XL_WRITE_FAULT} if result == "fault" else
                               {"src": ST_XL_READ_FAULT_IR, "dst": ST_XL_WRITE_FAULT_IR})[side]
            c.max_bytes = off
            if side == "src":
                c.plan_limit = off
        cmds.append(tb.submit(c))
        checks.append((c, side, off, result, key, len(plan)))
        if k % 4 == 3:
            await tb.wait_done(cmds)
            await tb.quiesce()
            cmds = []
    await tb.wait_done(cmds)
    await tb.quiesce()
    for c, side, off, result, key, n_req in checks:
        if result != "ok" and c.rsp_bytes != off:
            tb.fail(f"{c.describe()}: {side} fault ({result}) at offset {off}, rsp_bytes {c.rsp_bytes}")
        left = tb.pri_plan.get(key)
        if left:
            tb.fail(f"{c.describe()}: page requests for page {key[2]:#x}: {n_req - len(left)} of {n_req} planned")
        tb.deny.pop(key, None)
    results = [r for *_, r, _k, _n in checks]
    tb.log.info("ats_bof: %d commands with a denied page (%s), %d page requests, %s", len(checks),
                {r: results.count(r) for r in set(results)}, len(tb.pri_log), tb.stats)
    assert len(checks) > 25 and len(tb.pri_log) > 20 and {"ok", "fault", "ir"} <= set(results), results
    tb.check()
