"""Concurrent traffic on every WQ: shared and dedicated WQs side by side, several PASIDs per shared WQ
(privileged and not), random descriptors (data operations of random size and alignment, DRAIN, no-record
successes, injected errors), completion interrupts through MSI-X and each WQ's own IMS (some entries bound
to the PASID that uses them), crossed with idle/backpressure. The scoreboard accounts for every descriptor
and interrupt; its counts are logged at the end (lost and duplicate must be 0).
"""
import cocotb
from cocotb.triggers import Combine

from imsdev import regs
from tb.env import PAUSE_MODES
from tb.wq import (ENQCMD_RETRIES, FLAG_CRAV, FLAG_RCI, OP_DRAIN, WqConfig, WqEnv, ims_handle, ims_msg,
                   msix_handle, msix_msg)


def plan(env):
    """WQ configurations: on a multi-WQ build about a third dedicated; one shared WQ is privileged."""
    r, n, depth = env.rng, env.p.num_wq, env.p.wq_depth
    cfgs = {}
    for wq in range(n):
        size = r.randint(2, min(depth, 16))
        if n > 1 and wq % 3 == 2:
            cfgs[wq] = WqConfig(size=size, dedicated=True, pasid=0x100 + wq, pasid_en=r.random() < 0.7,
                                priv=r.random() < 0.5, prio=r.randrange(16))
        else:
            cfgs[wq] = WqConfig(size=size, priv=(wq == 0), prio=r.randrange(16))
    return cfgs


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_random_traffic(dut, pauses):
    env = await WqEnv.start(dut, pauses)
    r = env.rng
    cfgs = plan(env)
    await env.setup(cfgs)
    nv = min(env.p.msix_vectors, 17)
    for v in range(1, nv):
        await env.msix_program(v, *msix_msg(v, high=v % 2 == 0), masked=False)
    pasids = {wq: [0x1000 * (wq + 1) + k for k in range(3)] for wq in cfgs}
    ims = {}                      # wq -> [(index, pasid bound or None)]
    for wq, cfg in cfgs.items():
        entries = []
        for i in r.sample(range(env.p.ims_per_wq), min(4, env.p.ims_per_wq)):
            bound = None
            if r.random() < 0.4:
                bound = cfg.dma_pasid if cfg.dedicated else r.choice(pasids[wq])
            if cfg.dedicated and bound is None and r.random() < 0.5:
                bound = None
            if cfg.dedicated and not cfg.pasid_en:
                bound = None          # a descriptor without PASID never matches a binding: not this test's subject
            await env.ims_program(wq, i, *ims_msg(wq, i, high=r.random() < 0.5), masked=False, pasid=bound)
            entries.append((i, bound))
        ims[wq] = entries
    per_wq = max(20, 160 // len(cfgs))

    def make(wq, pasid):
        cfg = cfgs[wq]
        x = r.random()
        if x < 0.06:
            return env.new_desc(OP_DRAIN)
        if x < 0.12:                                      # an error that reports through its record
            d = env.random_data_desc(max_size=512)
            kind = r.randrange(3)
            if kind == 0:
                d.opcode = r.choice((0x05, 0x07, 0x40))
            elif kind == 1:
                d.flags |= r.choice((0x40, 0x80, 0x1000, 0x400000))
            else:
                tail = bytearray(26)
                tail[r.randrange(26)] = 0x80
                d.rsvd_tail = bytes(tail)
            return d
        d = env.random_data_desc(max_size=3000)
        if not cfg.dedicated and r.random() < 0.1:
            d.flags = FLAG_CRAV                           # success without a record: checked after the drain
        if r.random() < 0.35:
            d.flags |= FLAG_RCI
            choices = [i for i, b in ims[wq] if b is None or b == pasid]
            if choices and r.random() < 0.6:
                d.int_handle = ims_handle(r.choice(choices))
            else:
                d.int_handle = msix_handle(r.randrange(1, nv)) if nv > 1 else ims_handle(choices[0])
        return d

    async def submitter(wq):
        cfg = cfgs[wq]
        for _ in range(per_wq):
            if cfg.dedicated:
                await env.sb.wait_below(wq, cfg.size)
                await env.sb.submit(wq, make(wq, cfg.dma_pasid))
            else:
                pasid = r.choice(pasids[wq])
                priv = cfg.priv and r.random() < 0.5
                t = await env.sb.submit(wq, make(wq, pasid), pasid=pasid, priv=priv,
                                        retries=ENQCMD_RETRIES * 50, backoff_cycles=r.randint(4, 30))
                assert t.accepted, f"{t}: {t.cpl_status.name} after {t.retries} retries"
                env.sb.stats["enqcmd_retries"] += t.retries
            if r.random() < 0.3:
                await env.b.cycles(r.randint(1, 200))

    await Combine(*[cocotb.start_soon(submitter(wq)) for wq in cfgs])
    await env.sb.wait_complete()
    await env.cmd_ok(regs.CMD_DRAIN_ALL)
    await env.b.settle()
    await env.sb.check()
    await env.sb.check_messages()
    await env.expect_no_swerr("traffic")
    for wq in cfgs:
        assert await env.occupancy(wq) == 0
    lost = env.sb.unfinished()
    assert not lost and not env.sb.errors
    env.b.log.info("traffic on %d WQs (%s), %s", len(cfgs),
                   ", ".join(f"{w}:{'D' if c.dedicated else 'S'}{c.size}" for w, c in cfgs.items()), env.sb.report())
    env.b.log.info("ENQCMD retries: %d", env.sb.stats["enqcmd_retries"])
