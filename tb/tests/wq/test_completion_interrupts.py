"""Completion interrupts against docs/work_queues.md 'Completion interrupts' and the IMS entry of
docs/registers.md: MSI-X and per-queue IMS handles, per-WQ isolation of IMS, PASID binding, mask/pending,
the torn-message rule, out-of-range handles, and the record being in host memory when the interrupt
arrives (checked for every interrupt by the scoreboard's observer).

Messages are raw writes into the bench's message windows (tb.msglog); every test ends with an exact
count of what arrived: nothing lost, duplicated or spurious.
"""
from collections import Counter

import cocotb
from cocotb.triggers import Combine, RisingEdge, with_timeout

from imsdev import regs
from tb.bad_inputs import BadInput
from tb.env import CLOCK_NS, DEV_IDLE_LAG_CYCLES, DevIdleTrace, PAUSE_MODES, PAUSE_PROBABILITY
from tb.msglog import WINDOW_32, WINDOW_64
from tb.pcie.stream import random_pauses
from tb.wq import (ENQCMD_RETRIES, FLAG_CRAV, FLAG_RCI, FLAG_RCR, OP_MEMFILL, OP_MEMMOVE, OP_NOOP, ST_INT_HANDLE,
                   WqConfig, WqEnv, ims_handle, ims_msg, msix_handle, msix_msg)

RCI = FLAG_CRAV | FLAG_RCR | FLAG_RCI
PASID_A, PASID_B = 0x00A0A, 0x00B0B


def pick_wqs(env, k):
    """k distinct WQs, preferring 2 and 3 (the example of the brief), within the build."""
    n = env.p.num_wq
    pref = [w for w in (2, 3, 0, 1, n - 1) if w < n]
    out = []
    for w in pref + list(range(n)):
        if w not in out:
            out.append(w)
    return out[:k]


async def desc_with_irq(env, wq, handle, *, op=None, pasid=PASID_A, retries=ENQCMD_RETRIES * 20, flags=RCI, **kw):
    op = env.rng.choice((OP_NOOP, OP_MEMFILL, OP_MEMMOVE)) if op is None else op
    size = 0 if op == OP_NOOP else env.rng.randint(1, 300)
    d = env.new_desc(op, size, flags=flags, handle=handle, **kw)
    cfg = env.latched[wq]
    if cfg.dedicated:
        await env.sb.wait_below(wq, cfg.size)
        return await env.sb.submit(wq, d)
    t = await env.sb.submit(wq, d, pasid=pasid, retries=retries, backoff_cycles=10)
    assert t.accepted, f"{t}: {t.cpl_status.name}"
    return t


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_msix_handles(dut, pauses):
    """MSI-X handles: vectors 1, 32/64 where they exist, the last, 3DW and 4DW messages; a masked vector
    collects completions in its PBA bit and sends once on unmask."""
    env = await WqEnv.start(dut, pauses)
    nv = env.p.msix_vectors
    vecs = sorted({v for v in (1, 32, 64, nv - 1) if 0 < v < nv})
    wq = 0
    await env.setup({wq: WqConfig(size=min(env.p.wq_depth, 8))})
    for i, v in enumerate(vecs):
        await env.msix_program(v, *msix_msg(v, high=bool(i % 2)), masked=False)
    for v in vecs:
        for _ in range(2):
            await desc_with_irq(env, wq, msix_handle(v))
    await env.sb.wait_complete()
    await env.sb.check()
    await env.sb.check_messages()

    # Masked: completions pend in the PBA, one message on unmask.
    v = vecs[-1]
    await env.msix_set_mask(v, True)
    pend = [await desc_with_irq(env, wq, msix_handle(v)) for _ in range(3)]
    await env.sb.wait_complete(pend)
    await env.b.settle()
    assert await env.b.msix.pending(v), f"vector {v} masked: completions left no PBA bit"
    assert all(t.irq[0] == "pending" for t in pend)
    await env.sb.check()
    await env.sb.check_messages()
    key = (env.msix_shadow[v].addr, env.msix_shadow[v].data)
    await env.msix_set_mask(v, False)
    want = env.sb.expected_messages() + Counter({key: 1})
    await env.b.msgs.wait_for(want)
    await env.b.settle()
    env.b.msgs.assert_exactly(want)
    assert not await env.b.msix.pending(v), f"vector {v}: PBA bit still set after the replay"
    env.b.log.info(env.sb.report())


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_ims_per_wq(dut, pauses):
    """IMS handle n from WQ w uses entry n of WQ w's own IMS: the same index is programmed with different
    messages in several WQs (a shared and a dedicated one) and each completion sends its own WQ's; the
    first and last entry of every other WQ's window likewise. Handles past CAP1.IMS_PER_WQ complete with
    0x19 and send nothing."""
    env = await WqEnv.start(dut, pauses)
    wqs = pick_wqs(env, 2)
    cfgs = {wqs[0]: WqConfig(size=min(env.p.wq_depth, 8))}
    if len(wqs) > 1:
        cfgs[wqs[1]] = WqConfig(size=min(env.p.wq_depth, 4), dedicated=True, pasid=PASID_B, pasid_en=True)
    others = [w for w in range(env.p.num_wq) if w not in wqs]
    cfgs.update({w: WqConfig(size=2) for w in others})
    await env.setup(cfgs)
    m = env.p.ims_per_wq
    idxs = sorted({0, 1, m - 1, env.rng.randrange(m)})
    for wq in wqs:
        for i in idxs:
            await env.ims_program(wq, i, *ims_msg(wq, i, high=(i + wq) % 2 == 1), masked=False)
    for wq in others:
        for i in (0, m - 1):
            await env.ims_program(wq, i, *ims_msg(wq, i, high=(i + wq) % 2 == 1), masked=False)
    for _ in range(2):
        for wq in wqs:
            for i in idxs:
                await desc_with_irq(env, wq, ims_handle(i))
    for wq in others:
        for i in (0, m - 1):
            await desc_with_irq(env, wq, ims_handle(i))
    bad = []
    for wq in wqs:
        for i in (m, m + 1, 0x7FFF):
            t = await desc_with_irq(env, wq, ims_handle(i))
            assert t.status == ST_INT_HANDLE
            bad.append(t)
    await env.sb.wait_complete()
    await env.sb.check()
    await env.sb.check_messages()
    # An entry of another WQ that is not programmed in the submitting WQ must not be used either.
    if len(wqs) > 1:
        other, mine = wqs[0], wqs[1]
        spare = next(i for i in range(m) if i not in idxs)
        await env.ims_program(other, spare, *ims_msg(other, spare), masked=False)
        t = await desc_with_irq(env, mine, ims_handle(spare))   # WQ `mine`'s entry `spare`: reset, masked
        t.irq = ("pending", None)
        await env.sb.wait_complete([t])
        await env.sb.check()
        await env.sb.check_messages()
        assert await env.ims_pending(mine, spare), "a masked (reset) entry must latch PENDING"
        assert not await env.ims_pending(other, spare), "the other WQ's entry must not be touched"
    env.b.log.info(env.sb.report())


@cocotb.test()
@cocotb.parametrize(pauses=("none", "both"))
async def test_ims_pasid_and_mask(dut, pauses):
    """PASID_EN: fires only for descriptors of its PASID; another PASID gives SWERR IMS_PASID (WQ, PASID,
    entry index), no message and no PENDING. MASK: completions latch PENDING and one message is sent on
    unmask; PENDING then reads 0."""
    env = await WqEnv.start(dut, pauses)
    wq = pick_wqs(env, 1)[0]
    await env.setup({wq: WqConfig(size=min(env.p.wq_depth, 8))})
    e_bound, e_mask = 3 % env.p.ims_per_wq, 5 % env.p.ims_per_wq
    if e_mask == e_bound:
        e_mask = (e_bound + 1) % env.p.ims_per_wq
    await env.ims_program(wq, e_bound, *ims_msg(wq, e_bound), masked=False, pasid=PASID_A)
    await desc_with_irq(env, wq, ims_handle(e_bound), pasid=PASID_A)
    await env.sb.wait_complete()
    await env.sb.check_messages()
    t = await desc_with_irq(env, wq, ims_handle(e_bound), pasid=PASID_B)
    assert t.irq[0] == "pasid_error"
    await env.sb.wait_complete()
    await env.b.settle()
    await env.sb.check()
    await env.sb.check_messages()
    await env.expect_swerr(regs.SWERR_IMS_PASID, "IMS entry bound to another PASID", wq=wq, pasid=PASID_B,
                           addr=e_bound)
    assert not await env.ims_pending(wq, e_bound), "a PASID mismatch must not latch PENDING"

    key = ims_msg(wq, e_mask, high=True)
    await env.ims_program(wq, e_mask, *key, masked=True)
    pend = [await desc_with_irq(env, wq, ims_handle(e_mask)) for _ in range(3)]
    await env.sb.wait_complete(pend)
    await env.b.settle()
    assert all(p.irq[0] == "pending" for p in pend)
    await env.sb.check()
    await env.sb.check_messages()
    assert await env.ims_pending(wq, e_mask), "masked entry: completions left PENDING at 0"
    await env.ims_write_ctrl(wq, e_mask, masked=False)
    want = env.sb.expected_messages() + Counter({key: 1})
    await env.b.msgs.wait_for(want)
    await env.b.settle()
    env.b.msgs.assert_exactly(want)
    assert not await env.ims_pending(wq, e_mask), "PENDING still set after the unmask sent the message"
    await env.expect_no_swerr("mask/unmask")
    env.b.log.info(env.sb.report())


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_ims_torn_update(dut, pauses):
    """Writes to ADDR_LO/ADDR_HI/DATA of an unmasked entry are dropped with SWERR IMS_UNMASKED_WRITE. Then,
    while completions stream to one entry, the driver repeatedly masks it, rewrites address and data (below
    and above 4 GiB, so a torn address lands outside every window) and unmasks it: every message is a
    complete (address, data) pair the entry held, and each completion sends at most one message."""
    env = await WqEnv.start(dut, pauses)
    wq = pick_wqs(env, 1)[0]
    await env.setup({wq: WqConfig(size=min(env.p.wq_depth, 8))})
    e = 2 % env.p.ims_per_wq
    base = env.ims_entry(wq, e)

    def pair(g):
        win = WINDOW_64 if g % 2 else WINDOW_32
        return win[0] + 0xC_0000 + g * 0x40, 0x7000_0000 | g

    await env.ims_program(wq, e, *pair(0), masked=False)
    for off, val in ((regs.IMS_ENTRY_ADDR_LO, 0xDEAD_0000), (regs.IMS_ENTRY_ADDR_HI, 0x1), (regs.IMS_ENTRY_DATA, 0x5555)):
        await env.b.wr32(base + off, val)
        await env.expect_swerr(regs.SWERR_IMS_UNMASKED_WRITE, f"IMS write at +{off:#x} while unmasked", wq=wq,
                               addr=e)
        got = await env.ims_read(wq, e)
        a, d = pair(0)
        assert got[:3] == (a & 0xFFFF_FFFF, a >> 32, d), f"unmasked write at +{off:#x} changed the entry: {got}"

    gens = 16
    n_desc = 40
    done = []

    async def submitter():
        for _ in range(n_desc):
            t = await desc_with_irq(env, wq, ims_handle(e), op=OP_NOOP)
            t.irq = ("torn", None)      # checked below against the programmed pairs, not per descriptor
            done.append(t)
            await env.b.cycles(env.rng.randint(0, 40))

    async def rewriter():
        for g in range(1, gens):
            await env.ims_program(wq, e, *pair(g), masked=False)   # mask, ADDR_LO, ADDR_HI, DATA, unmask
            await env.b.cycles(env.rng.randint(0, 120))

    await Combine(cocotb.start_soon(submitter()), cocotb.start_soon(rewriter()))
    await env.sb.wait_complete()
    await env.b.settle()
    await env.sb.check()
    pairs = {pair(g) for g in range(gens)}
    got = [(m.addr, m.data) for m in env.b.msgs.messages]
    torn = [f"{a:#x}/{d:#x}" for a, d in got if (a, d) not in pairs]
    assert not torn, f"torn messages: {torn[:5]}"
    assert 1 <= len(got) <= n_desc, f"{len(got)} messages for {n_desc} completions"
    assert not await env.ims_pending(wq, e), "entry left PENDING after its final unmask"
    await env.expect_no_swerr("rewrites while masked only")
    env.b.log.info("torn-update: %d completions, %d rewrites, %d messages (pending ones coalesce)",
                   n_desc, gens - 1, len(got))
    env.b.log.info(env.sb.report())


def spare(used, n, k=1):
    """k indices below n not in `used`."""
    out = [i for i in range(n) if i not in set(used)][:k]
    assert len(out) == k, f"no {k} spare indices below {n} besides {sorted(used)}"
    return out


class TxReqGate:
    """Holds the device's next request TLP presented on tx_req (ready low) until released, then gives tx_req
    back to the test's pause mode. The sink only changes ready in cycles where something is offered, so the
    gate closes in the cycle a primer TLP is taken (`arm`), and the TLP after it waits with valid high."""

    def __init__(self, env, pauses):
        self.sink = env.b.shim.tx_req
        self.after = random_pauses(env.rng, PAUSE_PROBABILITY) if pauses in ("backpressure", "both") else None
        self.closed = False
        self.armed = False
        self.sink.observers.append(self._taken)
        self.sink.set_pause_generator(self._gen())

    def _taken(self, _rx):
        if self.armed:
            self.armed, self.closed = False, True

    def _gen(self):
        while True:
            if self.closed:
                yield True
            elif self.after is not None:
                yield next(self.after)
            else:
                yield False

    def arm(self):
        self.armed = True

    async def wait_held(self, env, what, timeout_cycles=2000):
        for _ in range(timeout_cycles):
            if self.closed and self.sink.valid.value and not self.sink.ready.value:
                return
            await env.b.cycles(1)
        raise AssertionError(f"{what}: no TLP held on tx_req within {timeout_cycles} cycles")

    def release(self):
        self.closed = False

    def remove(self):
        self.sink.observers.remove(self._taken)
        self.sink.set_pause_generator(self.after)


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_bus_master_replay_msix_and_ims(dut, pauses):
    """Bus Master Enable = 0 holds both MSI-X and IMS messages (PCIe: no memory writes without it): an
    unmask while it is 0 sends nothing and keeps PENDING. Completions while it is 0 are held the same way:
    NOOPs with RCI and no record (nothing to DMA) leave their IMS entries and MSI-X vectors pending, an
    entry or vector already pending still sends once, and a PASID mismatch is dropped even then (SWERR
    IMS_PASID, nothing pends). Setting it again replays every pending IMS entry and MSI-X vector exactly
    once, both engines at the same time through the shared message writer (a burst well over three
    messages). Last, per IMS binding (none, matching PASID, entry already pending) and for MSI-X: a
    completion whose record write was already presented on tx_req when Bus Master Enable cleared writes its
    record, its interrupt is held (PENDING) and sent exactly once, after the record, when it is set again."""
    env = await WqEnv.start(dut, pauses)
    wq = pick_wqs(env, 1)[0]
    await env.setup({wq: WqConfig(size=min(env.p.wq_depth, 8))})
    m = env.p.ims_per_wq
    entries = sorted({i for i in (0, 1, 2, 3, 63, 64, m - 1) if i < m})
    for i in entries:
        await env.ims_program(wq, i, *ims_msg(wq, i, high=i % 2 == 1), masked=True)
    pend = [await desc_with_irq(env, wq, ims_handle(i), op=OP_NOOP) for i in entries]
    await env.sb.wait_complete(pend)
    await env.sb.check()
    assert all(t.irq[0] == "pending" for t in pend)
    for i in entries:
        assert await env.ims_pending(wq, i), f"IMS entry {i}: masked completion left no PENDING"

    nv = env.p.msix_vectors
    vecs = sorted({v for v in (0, 1, 2, 31, 32, 63, 64, 100, nv - 1) if v < nv})
    for v in vecs:
        await env.msix_program(v, *msix_msg(v, high=v % 2 == 0), masked=False)
    await env.b.msix_enable(fn_mask=True)
    for v in vecs:
        await env.b.msix.trigger(v)
    await env.b.settle()
    for v in vecs:
        assert await env.b.msix.pending(v), f"MSI-X vector {v}: request under Function Mask left no pending bit"
    before = env.sb.expected_messages()
    env.b.msgs.assert_exactly(before)

    await env.b.dev.set_master(False)
    await env.b.msix_enable(fn_mask=False)          # MSI-X deliverable but for Bus Master Enable
    for i in entries:
        await env.ims_write_ctrl(wq, i, masked=False)
    await env.b.settle()
    env.b.msgs.assert_exactly(before)               # nothing sent while Bus Master Enable = 0
    for i in entries:
        assert await env.ims_pending(wq, i), f"IMS entry {i}: unmask with Bus Master Enable = 0 lost PENDING"
    for v in vecs:
        assert await env.b.msix.pending(v), f"MSI-X vector {v}: lost its pending bit with Bus Master Enable = 0"

    # Completions while Bus Master Enable = 0: CRAV without RCR, success, so no record and no DMA at all.
    e_new, e_bound = spare(entries, m, 2)
    await env.ims_program(wq, e_new, *ims_msg(wq, e_new), masked=False)
    await env.ims_program(wq, e_bound, *ims_msg(wq, e_bound, high=True), masked=False, pasid=PASID_A)
    (v_new,) = spare(vecs, nv) if nv > len(vecs) else (None,)
    if v_new is not None:
        await env.msix_program(v_new, *msix_msg(v_new), masked=False)
    now = [(ims_handle(e_new), PASID_B), (ims_handle(e_bound), PASID_A), (ims_handle(entries[0]), PASID_B),
           (msix_handle(vecs[0]), PASID_B)] + ([(msix_handle(v_new), PASID_A)] if v_new is not None else [])
    held = [await desc_with_irq(env, wq, h, op=OP_NOOP, pasid=p, flags=FLAG_CRAV | FLAG_RCI) for h, p in now]
    bad = await desc_with_irq(env, wq, ims_handle(e_bound), op=OP_NOOP, pasid=PASID_B, flags=FLAG_CRAV | FLAG_RCI)
    assert bad.irq[0] == "pasid_error"
    for t in held:
        t.irq = ("held", t.irq[1])                  # counted below, once per entry / vector
    await env.cmd_ok(regs.CMD_DRAIN_WQ, wq)          # every descriptor before it completed, interrupts raised
    await env.b.settle()
    env.b.msgs.assert_exactly(before)
    for i in (e_new, e_bound, entries[0]):
        assert await env.ims_pending(wq, i), f"IMS entry {i}: completion with Bus Master Enable = 0 left no PENDING"
    for v in [vecs[0]] + ([v_new] if v_new is not None else []):
        assert await env.b.msix.pending(v), f"MSI-X vector {v}: completion with Bus Master Enable = 0 left no PBA bit"
    await env.expect_swerr(regs.SWERR_IMS_PASID, "IMS entry bound to another PASID, Bus Master Enable = 0", wq=wq,
                           pasid=PASID_B, addr=e_bound)
    await env.sb.check()

    await env.b.dev.set_master(True)
    replay = {ims_msg(wq, i, high=i % 2 == 1) for i in entries} | {msix_msg(v, high=v % 2 == 0) for v in vecs}
    replay |= {ims_msg(wq, e_new), ims_msg(wq, e_bound, high=True)}
    if v_new is not None:
        replay.add(msix_msg(v_new))
    want = before + Counter(replay)
    await env.b.msgs.wait_for(want)
    await env.b.settle()
    env.b.msgs.assert_exactly(want)
    for i in entries + [e_new, e_bound]:
        assert not await env.ims_pending(wq, i), f"IMS entry {i}: PENDING still set after its replay"
    for v in vecs + ([v_new] if v_new is not None else []):
        assert not await env.b.msix.pending(v), f"MSI-X vector {v}: pending bit still set after its replay"

    # A completion whose record write is on tx_req (presented, held by the link) when Bus Master Enable clears.
    e_pend, = spare(entries + [e_new, e_bound], m)
    await env.ims_program(wq, e_pend, *ims_msg(wq, e_pend), masked=True)
    t = await desc_with_irq(env, wq, ims_handle(e_pend), op=OP_NOOP)
    await env.sb.wait_complete([t])
    await env.b.settle()
    assert await env.ims_pending(wq, e_pend), f"IMS entry {e_pend}: masked completion left no PENDING"
    primer = vecs[-1]                               # a message that closes the gate once the link took it
    cases = [("IMS entry, no binding", ims_handle(e_new), PASID_B, ims_msg(wq, e_new), None),
             ("IMS entry bound to the descriptor's PASID", ims_handle(e_bound), PASID_A,
              ims_msg(wq, e_bound, high=True), None),
             ("IMS entry already pending, unmasked with Bus Master Enable = 0", ims_handle(e_pend), PASID_B,
              ims_msg(wq, e_pend), e_pend),
             ("MSI-X vector", msix_handle(vecs[0]), PASID_A, msix_msg(vecs[0], high=True), None)]
    for what, handle, pasid, key, unmask in cases:
        gate = TxReqGate(env, pauses)
        gate.arm()
        await env.b.msix.trigger(primer)
        want[msix_msg(primer, high=primer % 2 == 0)] += 1
        await env.b.msgs.wait_for(want)             # the primer was taken: the gate is closed
        t = await desc_with_irq(env, wq, handle, op=OP_NOOP, pasid=pasid)
        await gate.wait_held(env, what)
        await env.b.dev.set_master(False)
        if unmask is not None:
            await env.ims_write_ctrl(wq, unmask, masked=False)
        gate.release()
        await env.sb.wait_complete([t])             # the record lands: it was presented before BME cleared
        await env.b.settle()
        gate.remove()
        t.irq = ("held", key)
        env.b.msgs.assert_exactly(want)             # the primer, nothing else
        if handle & 0x8000:
            assert await env.ims_pending(wq, handle & 0x7FFF), f"{what}: interrupt after BME cleared left no PENDING"
        else:
            assert await env.b.msix.pending(handle & 0x7FF), f"{what}: interrupt after BME cleared left no PBA bit"
        await env.b.dev.set_master(True)
        want[key] += 1
        await env.b.msgs.wait_for(want)
        await env.b.settle()
        env.b.msgs.assert_exactly(want)
        await env.sb.check()
        if handle & 0x8000:
            assert not await env.ims_pending(wq, handle & 0x7FFF), f"{what}: PENDING still set after the replay"
        else:
            assert not await env.b.msix.pending(handle & 0x7FF), f"{what}: PBA bit still set after the replay"
    await env.expect_no_swerr("Bus Master Enable replay")


# PASIDs that differ from each other only in PASID[19:16] (and one only in its low bits).
PASID_HI_A, PASID_HI_B, PASID_HI_C = 0x5_0A0A, 0xD_0A0A, 0xD_0A0B


@cocotb.test()
@cocotb.parametrize(pauses=("idle", "backpressure"))     # test_ims_pasid_and_mask has none and both
async def test_ims_pasid_high_bits_and_rebinding(dut, pauses):
    """The PASID binding compares all 20 bits: a descriptor whose PASID differs from the entry's only in
    PASID[19:16] gets SWERR IMS_PASID, no message and no PENDING. An event pended under one binding is not
    delivered to another: rebinding a masked, pending entry to a PASID differing only in bits 19:16, or only
    in bits 15:0, clears PENDING (its unmask sends nothing), while rewriting the same binding (what Linux
    does on every mask/unmask) keeps it and the unmask sends exactly once."""
    env = await WqEnv.start(dut, pauses)
    wq = pick_wqs(env, 1)[0]
    await env.setup({wq: WqConfig(size=min(env.p.wq_depth, 8))})
    m = env.p.ims_per_wq
    e_bound, e_rebind = 4 % m, 6 % m
    if e_rebind == e_bound:
        e_rebind = (e_bound + 1) % m

    await env.ims_program(wq, e_bound, *ims_msg(wq, e_bound, high=True), masked=False, pasid=PASID_HI_A)
    await desc_with_irq(env, wq, ims_handle(e_bound), pasid=PASID_HI_A, op=OP_NOOP)
    await env.sb.wait_complete()
    await env.sb.check_messages()
    t = await desc_with_irq(env, wq, ims_handle(e_bound), pasid=PASID_HI_B, op=OP_NOOP)
    assert t.irq[0] == "pasid_error"
    await env.sb.wait_complete()
    await env.b.settle()
    await env.sb.check()
    await env.sb.check_messages()
    await env.expect_swerr(regs.SWERR_IMS_PASID, "IMS entry bound to a PASID differing in bits 19:16", wq=wq,
                           pasid=PASID_HI_B, addr=e_bound)
    assert not await env.ims_pending(wq, e_bound), "a PASID mismatch must not latch PENDING"

    key = ims_msg(wq, e_rebind)
    for old, new in ((PASID_HI_A, PASID_HI_B), (PASID_HI_B, PASID_HI_C)):
        await env.ims_program(wq, e_rebind, *key, masked=True, pasid=old)
        pend = [await desc_with_irq(env, wq, ims_handle(e_rebind), pasid=old, op=OP_NOOP) for _ in range(2)]
        await env.sb.wait_complete(pend)
        await env.b.settle()
        assert all(p.irq[0] == "pending" for p in pend)
        assert await env.ims_pending(wq, e_rebind), f"PASID {old:#x}: masked completions left no PENDING"
        await env.ims_write_ctrl(wq, e_rebind, masked=True, pasid_en=True, pasid=new)
        assert not await env.ims_pending(wq, e_rebind), \
            f"rebinding PASID {old:#x} -> {new:#x} kept the old binding's PENDING"
        await env.ims_write_ctrl(wq, e_rebind, masked=False, pasid_en=True, pasid=new)
        await env.b.settle()
        await env.sb.check_messages()               # the old binding's event is not delivered
        await env.ims_write_ctrl(wq, e_rebind, masked=True, pasid_en=True, pasid=new)

    # Same binding rewritten while masked: PENDING kept, one message on unmask.
    pend = [await desc_with_irq(env, wq, ims_handle(e_rebind), pasid=PASID_HI_C, op=OP_NOOP) for _ in range(2)]
    await env.sb.wait_complete(pend)
    await env.b.settle()
    await env.ims_write_ctrl(wq, e_rebind, masked=True, pasid_en=True, pasid=PASID_HI_C)
    assert await env.ims_pending(wq, e_rebind), "rewriting the same PASID binding cleared PENDING"
    await env.ims_write_ctrl(wq, e_rebind, masked=False, pasid_en=True, pasid=PASID_HI_C)
    await env.sb.check_messages(extra={key: 1})
    assert not await env.ims_pending(wq, e_rebind)
    await env.expect_no_swerr("rebinding")


@cocotb.test()
async def test_ims_window_bounds(dut):
    """Entries past CAP1.IMS_PER_WQ in a WQ's window read 0 and ignore writes (docs/registers.md CAP1):
    writing the slot right after the last entry changes no implemented entry, of this WQ or the next."""
    env = await WqEnv.start(dut)
    m = env.p.ims_per_wq
    wqs = [w for w in (0, 1, env.p.num_wq - 1) if w < env.p.num_wq]
    for w in wqs:
        for i in (0, m - 1):
            await env.ims_program(w, i, *ims_msg(w, i), masked=True)
    reference = {(w, i): await env.ims_read(w, i) for w in wqs for i in (0, m - 1)}
    for w in wqs:
        if m >= 2048:
            break
        for i in sorted({m, m + 1, min(2047, 2 * m)}):
            base = env.ims_entry(w, i)
            for off, val in ((regs.IMS_ENTRY_ADDR_LO, 0xDEAD_BEE0), (regs.IMS_ENTRY_ADDR_HI, 0x7),
                             (regs.IMS_ENTRY_DATA, 0x5A5A_5A5A), (regs.IMS_ENTRY_CTRL, 0xFFFF_F008)):
                await env.b.wr32(base + off, val)
            got = [await env.b.rd32(base + off) for off in (0, 4, 8, 12)]
            assert got == [0, 0, 0, 0], f"WQ {w} IMS slot {i} (past IMS_PER_WQ={m}) reads {got}"
    for (w, i), want in reference.items():
        got = await env.ims_read(w, i)
        assert got == want, f"WQ {w} IMS entry {i} changed by writes past the implemented entries: {got} != {want}"
    await env.expect_no_swerr("writes past the implemented IMS entries")


async def port_outcome(dut):
    """The next request at the MSI-X engine's request port: "taken" (valid with ready) or "waiting" (valid, not
    ready, 3 edges running)."""
    valid, ready = dut.u_msix.irq_valid, dut.u_msix.irq_ready
    streak = 0
    for _ in range(5_000):
        await RisingEdge(dut.clk)
        if valid.value and ready.value:
            return "taken"
        streak = streak + 1 if valid.value else 0
        if streak == 3:
            return "waiting"
    raise AssertionError("no request reached the MSI-X engine's request port")


async def port_shows(dut, vector, what):
    """Until the MSI-X engine's request port shows `vector` waiting (valid, not ready) 3 edges running."""
    valid, ready, shown = dut.u_msix.irq_valid, dut.u_msix.irq_ready, dut.u_msix.irq_vector
    streak = 0
    for _ in range(5_000):
        await RisingEdge(dut.clk)
        waiting = valid.value and not ready.value and int(shown.value) == vector
        streak = streak + 1 if waiting else 0
        if streak == 3:
            return
    raise AssertionError(f"{what}: port valid={valid.value} ready={ready.value} vector={int(shown.value)}; "
                         f"vector {vector} never waited at the MSI-X engine's request port")


@cocotb.test()
async def test_vector0_beside_a_completion_interrupt(dut):
    """Vector 0 (raised on INT_CAUSE & INT_ENABLE's edge) and a completion interrupt waiting at the MSI-X
    engine together are both sent, once each, in the order regs/imsdev.rdl gives (INT_CAUSE, MSIX_TRIGGER):
    vector 0 before a completion interrupt, a completion interrupt before an MSIX_TRIGGER request; one
    request port, so the other is taken after vector 0, not with it. Directed: tx_req held; MSI-X self-test
    triggers of vector t fill the engine until its request port waits; a record-less NOOP with RCI on vector
    v (dedicated WQ: nothing waits on tx_cpl) waits there in front of the trigger; INT_TEST.SW_TEST raises
    vector 0, which waits in front of it. Released, the messages arrive in the order taken, each once."""
    env = await WqEnv.start(dut, "none")
    n = env.p.msix_vectors
    assert n >= 3, f"the test needs vectors 0, t and v apart; this build has {n}"
    t, v = 1, 2
    wq = pick_wqs(env, 1)[0]
    await env.setup({wq: WqConfig(size=min(env.p.wq_depth, 4), dedicated=True, pasid=PASID_A, pasid_en=True)})
    for vec in {0, t, v}:
        await env.msix_program(vec, *msix_msg(vec), masked=False)
    await env.b.wr32(regs.CSR_INT_ENABLE, regs.CSR_INT_ENABLE_SW_TEST_MASK)
    before = len(env.b.msgs.messages)
    gate = await env.b.shim.tx_req.hold()
    triggers, outcome = 0, "taken"
    while outcome == "taken":                           # one at a time, until one is left waiting at the port
        await env.b.msix.trigger(t)                     # posted; the MSI-X FIFO and message writer fill up
        triggers += 1
        assert triggers <= 32, "the MSI-X engine kept taking requests with tx_req held"
        outcome = await port_outcome(dut)
    held = await desc_with_irq(env, wq, msix_handle(v), op=OP_NOOP, flags=FLAG_CRAV | FLAG_RCI)
    await port_shows(dut, v, "completion interrupt")
    await env.b.wr32(regs.CSR_INT_TEST, regs.CSR_INT_TEST_SW_TEST_MASK)
    await port_shows(dut, 0, "vector 0")
    gate.release()
    want = Counter({msix_msg(t): triggers, msix_msg(0): 1, msix_msg(v): 1})
    await env.b.msgs.wait_for(want)
    await env.sb.wait_complete([held])
    await env.b.settle()
    env.b.msgs.assert_exactly(want)
    # the triggers taken before the port waited, then vector 0, the completion interrupt, the waiting trigger
    order = [(m.addr, m.data) for m in env.b.msgs.messages[before:]]
    expect = [msix_msg(t)] * (triggers - 1) + [msix_msg(0), msix_msg(v), msix_msg(t)]
    assert order == expect, f"MSI-X messages out of priority order: {order} != {expect}"
    await env.b.wr32(regs.CSR_INT_CAUSE, regs.CSR_INT_CAUSE_SW_TEST_MASK)
    await env.sb.check()


@cocotb.test()
async def test_settle_waits_for_the_ims_replay_scan(dut):
    """Bus Master Enable 0 -> 1 starts the IMS replay scan over the pending words (all WQs' entries in a row,
    64 per word): one cycle per word with no bit set, one per entry of a word with a bit set. Pending and
    unmasked while Bus Master Enable = 0: entry 1 of the first WQ and the last entry of the last WQ; with 192
    entries or more, also the entry in word 1's first slot, left masked (it stays pending, so the scan checks
    that word entry by entry). On default the last message comes about 160 cycles after the first: dev_idle
    stays low from a few cycles after Bus Master Enable rises until then, and Bench.settle() begun as the
    first message arrives returns after the last. Both arrive exactly once; the masked entry stays pending."""
    env = await WqEnv.start(dut)
    p = env.p
    m, total = p.ims_per_wq, p.num_wq * p.ims_per_wq
    first, last = (0, 1), (p.num_wq - 1, m - 1)
    held = [divmod(64, m)] if total >= 192 else []
    entries = [first, last] + held
    await env.setup({w: WqConfig(size=min(p.wq_depth, 4)) for w in sorted({w for w, _ in entries})})
    for w, i in entries:
        await env.ims_program(w, i, *ims_msg(w, i), masked=True)
    pend = [await desc_with_irq(env, w, ims_handle(i), op=OP_NOOP) for w, i in entries]
    await env.sb.wait_complete(pend)
    await env.sb.check()
    before = env.sb.expected_messages()
    await env.b.dev.set_master(False)
    for w, i in (first, last):
        await env.ims_write_ctrl(w, i, masked=False)
    for w, i in entries:
        assert await env.ims_pending(w, i), f"IMS entry {i} of WQ {w}: no PENDING before the replay"
    await env.b.settle()
    env.b.msgs.assert_exactly(before)
    assert dut.dev_idle.value == 1, "dev_idle low with only pending entries under Bus Master Enable = 0"

    trace = DevIdleTrace(env.b, start=RisingEdge(dut.cfg_bus_master_en))
    await env.b.dev.set_master(True)
    await env.b.msgs.wait_for(before + Counter({ims_msg(*first): 1}))
    await env.b.settle()
    trace.stop()
    want = before + Counter({ims_msg(*first): 1, ims_msg(*last): 1})
    env.b.msgs.assert_exactly(want)
    for w, i in held:
        assert await env.ims_pending(w, i), f"IMS entry {i} of WQ {w} (masked): PENDING lost in the replay"
    last_ns = max(msg.time_ns for msg in env.b.msgs.messages if (msg.addr, msg.data) == ims_msg(*last))
    lag = DEV_IDLE_LAG_CYCLES * CLOCK_NS
    high = trace.high_between(trace.first_ns + lag, last_ns - lag)
    assert not high, f"dev_idle high at {high[:4]} ns while the replay scan ran (Bus Master Enable rose at " \
                     f"{trace.first_ns} ns, last message at {last_ns} ns)"


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------

BAD_INPUTS = (
    BadInput(cls="interrupt", input="RCI with IMS handle CAP1.IMS_PER_WQ, CAP1.IMS_PER_WQ + 1 or 0x7FFF, from a "
                                    "shared WQ and (builds with 2 or more WQs) a dedicated one",
             outcome="record status 0x19 (DSA_COMP_INT_HANDLE_INVAL); no message (exact message count)",
             test="test_ims_per_wq"),
    BadInput(cls="interrupt", input="IMS handle naming an entry programmed only in another WQ's window (its own "
                                    "entry still at reset; builds with 2 or more WQs: default, wide)",
             outcome="the submitting WQ's own (reset, masked) entry latches PENDING; no message; the other WQ's "
                     "entry is not touched (PENDING 0)",
             test="test_ims_per_wq"),
    BadInput(cls="interrupt", input="MWr to ADDR_LO of an unmasked IMS entry",
             outcome="dropped (entry unchanged); SWERR IMS_UNMASKED_WRITE (WQ, entry index in SWERR2), "
                     "INT_CAUSE.ERR_LOG set",
             test="test_ims_torn_update"),
    BadInput(cls="interrupt", input="MWr to ADDR_HI of an unmasked IMS entry",
             outcome="dropped (entry unchanged); SWERR IMS_UNMASKED_WRITE (WQ, entry index in SWERR2), "
                     "INT_CAUSE.ERR_LOG set",
             test="test_ims_torn_update"),
    BadInput(cls="interrupt", input="MWr to DATA of an unmasked IMS entry",
             outcome="dropped (entry unchanged); SWERR IMS_UNMASKED_WRITE (WQ, entry index in SWERR2), "
                     "INT_CAUSE.ERR_LOG set",
             test="test_ims_torn_update"),
    BadInput(cls="interrupt", input="Writes of ADDR_LO, ADDR_HI, DATA and CTRL (0xFFFFF008) to IMS slots past "
                                    "CAP1.IMS_PER_WQ (IMS_PER_WQ, +1, 2*IMS_PER_WQ) of WQ 0, 1 and the last",
             outcome="the slots read 0; the first and last implemented entries of every WQ are unchanged; "
                     "nothing logged in SWERR",
             test="test_ims_window_bounds"),
    BadInput(cls="pasid", input="Completion with RCI to an IMS entry bound (PASID_EN) to another PASID",
             outcome="no message, PENDING stays 0; SWERR IMS_PASID (WQ, descriptor PASID, entry index in SWERR2), "
                     "INT_CAUSE.ERR_LOG set; the record is written",
             test="test_ims_pasid_and_mask"),
    BadInput(cls="pasid", input="Completion to an IMS entry bound to a PASID differing from the descriptor's only "
                                "in PASID[19:16]",
             outcome="no message, PENDING stays 0; SWERR IMS_PASID (WQ, descriptor PASID, entry index)",
             test="test_ims_pasid_high_bits_and_rebinding"),
    BadInput(cls="pasid", input="Rebinding a masked, pending IMS entry to a PASID differing only in PASID[19:16], "
                                "or only in PASID[15:0]",
             outcome="PENDING cleared; the unmask sends nothing (the old binding's event is not delivered); "
                     "rewriting the same binding keeps PENDING and the unmask sends exactly once",
             test="test_ims_pasid_high_bits_and_rebinding"),
    BadInput(cls="pasid", input="Completion to an IMS entry bound to another PASID while Bus Master Enable = 0",
             outcome="SWERR IMS_PASID (WQ, descriptor PASID, entry index); no message while Bus Master Enable = 0, "
                     "and after it is set only the entry's one held message",
             test="test_bus_master_replay_msix_and_ims"),
    BadInput(cls="config", input="Bus Master Enable = 0, then unmask of pending IMS entries and clearing MSI-X "
                                 "Function Mask with pending vectors",
             outcome="nothing sent; every IMS PENDING and MSI-X pending bit kept; setting Bus Master Enable "
                     "replays each entry and vector exactly once",
             test="test_bus_master_replay_msix_and_ims"),
    BadInput(cls="config", input="Completions with RCI (no record) to unmasked IMS entries (unbound, bound to the "
                                 "descriptor's PASID, already pending) and MSI-X vectors while Bus Master Enable = 0",
             outcome="no message; each entry's PENDING and each vector's PBA bit set; one message each after "
                     "Bus Master Enable is set, none left pending",
             test="test_bus_master_replay_msix_and_ims"),
    BadInput(cls="config", input="Bus Master Enable cleared while a completion's record write is already presented "
                                 "on tx_req (IMS entry unbound / bound to the PASID / already pending; MSI-X vector)",
             outcome="the record lands; the interrupt is held (PENDING / PBA bit) and sent exactly once, after "
                     "the record, when Bus Master Enable is set again",
             test="test_bus_master_replay_msix_and_ims"),
)


@cocotb.test()
async def test_message_writer_keeps_shown_message(dut):
    """The two interrupt engines share one message writer (valid/ready). A message shown to it stays shown,
    unchanged, until the writer takes it, even when the other engine's message arrives meanwhile and the
    arbiter's turn is the other engine's (the rule every valid/ready interface keeps; a stress seed found the
    arbiter swapping them, fixed in cf789c3). Directed: after an IMS message (turn -> MSI-X), tx_req is held;
    record-less NOOPs with RCI on a dedicated WQ (MOVDIR64B: nothing waits on tx_cpl; no more than the WQ
    holds, as its engine stalls on the held interrupts) raise IMS entries until the writer's pipeline is
    full and an IMS message waits at the writer; then an MSI-X self-test trigger
    makes the MSI-X engine valid beside it. Released, the messages must arrive in the order they were
    shown: every IMS message up to the one that waited, then the MSI-X message, then the rest, each once
    (the RTL's handshake checker also stops the simulation if the waiting message changes)."""
    env = await WqEnv.start(dut, "none")
    wq = pick_wqs(env, 1)[0]
    size = min(env.p.wq_depth, 8)
    await env.setup({wq: WqConfig(size=size, dedicated=True, pasid=PASID_A, pasid_en=True)})
    vec = min(1, env.p.msix_vectors - 1)
    entries = list(range(min(size, env.p.ims_per_wq)))    # never more than the WQ holds: none is dropped
    for i in entries:
        await env.ims_program(wq, i, *ims_msg(wq, i), masked=False)
    await env.msix_program(vec, *msix_msg(vec), masked=False)
    first = await desc_with_irq(env, wq, ims_handle(0), op=OP_NOOP, flags=FLAG_CRAV | FLAG_RCI)
    await env.sb.wait_complete([first])
    await env.b.msgs.wait_for(Counter({ims_msg(wq, 0): 1}))         # the writer last took IMS: MSI-X's turn

    gate = await env.b.shim.tx_req.hold()
    shown_before = len(env.b.msgs.messages)
    im_valid, mx_valid = dut.u_ims.msg_valid, dut.u_msix.msg_valid
    held = [await desc_with_irq(env, wq, ims_handle(i), op=OP_NOOP, flags=FLAG_CRAV | FLAG_RCI) for i in entries]
    waiting, streak = None, 0
    for _ in range(5_000):                     # until an IMS message waits at the writer: shown 3 edges running
        await RisingEdge(dut.clk)
        streak = streak + 1 if im_valid.value else 0
        if streak == 3:
            waiting = (int(dut.u_ims.msg_addr.value), int(dut.u_ims.msg_data.value))
            break
    assert waiting is not None, f"no IMS message waited at the writer ({len(held)} raised, tx_req held)"
    await env.b.msix.trigger(vec)                                   # posted: nothing waits on tx_cpl
    if not mx_valid.value:
        await with_timeout(RisingEdge(mx_valid), 5_000, "ns")
    for _ in range(8):
        await RisingEdge(dut.clk)
        assert im_valid.value and mx_valid.value, "both engines valid while the writer waits"
    assert len(env.b.msgs.messages) == shown_before
    gate.release()
    raised = Counter(ims_msg(wq, i) for i in entries[:len(held)])
    await env.b.msgs.wait_for(raised + Counter({ims_msg(wq, 0): 1, msix_msg(vec): 1}))
    env.b.shim.tx_req.set_pause_generator(None)
    order = [(m.addr, m.data) for m in env.b.msgs.messages[shown_before:]]
    k = order.index(waiting)
    assert order[k + 1] == msix_msg(vec), f"messages arrived as {order}; {waiting} waited, MSI-X came beside it"
    await env.sb.wait_complete(held)
    await env.b.settle()
    env.b.msgs.assert_exactly(raised + Counter({ims_msg(wq, 0): 1, msix_msg(vec): 1}))
    await env.sb.check()
