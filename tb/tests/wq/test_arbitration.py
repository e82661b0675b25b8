"""Arbitration between work queues (WQCFG2.PRIO, docs/registers.md): with descriptors waiting in several
WQs, a higher PRIO is always served first and equal priorities take turns; inside one WQ descriptors
start in submission order.

The DMA is held (tb.wq.DmaHold) so every WQ is filled before the engine may pick anything; the order in
which completion records are then written is the order the engine picked the descriptors.
"""
import cocotb

from tb.wq import OP_NOOP, WqConfig, WqEnv

PASID = 0x5A5A


async def fill_and_release(env, wqs):
    """Stall the engine on the first WQ, fill every WQ, release; returns the completion order as WQ numbers
    (the stalling descriptor excluded) and the tracked descriptors per WQ in submission order."""
    await env.stall_engine(wqs[0], pasid=PASID)
    queued = {wq: await env.fill_wq(wq, make=lambda: env.new_desc(OP_NOOP), pasid=PASID) for wq in wqs}
    owner = {t.desc.cr_addr: (wq, i) for wq, ts in queued.items() for i, t in enumerate(ts)}
    start = len(env.b.rc.upstream_log)
    env.hold.release()
    await env.sb.wait_complete()
    order = [owner[r.address] for r in list(env.b.rc.upstream_log)[start:]
             if r.kind == "MWr" and r.address in owner]
    assert len(order) == len(owner), f"{len(owner)} records expected after release, saw {len(order)}"
    return order, queued


@cocotb.test()
async def test_priority_and_round_robin(dut):
    env = await WqEnv.start(dut, "none")
    n = env.p.num_wq
    size = min(env.p.wq_depth, 4)
    if n == 1:
        await env.setup({0: WqConfig(size=size)})
        order, _ = await fill_and_release(env, [0])
        assert [i for _, i in order] == sorted(i for _, i in order), f"one WQ must run in FIFO order: {order}"
    else:
        # WQ 0 low priority (it also holds the stalling descriptor), WQs 1 and 2 high and equal.
        wqs = [0, 1, 2] if n >= 3 else [0, 1]
        prio = {0: 1, 1: 9, 2: 9}
        await env.setup({wq: WqConfig(size=size, prio=prio[wq]) for wq in wqs})
        order, queued = await fill_and_release(env, wqs)
        high = [wq for wq, _ in order if prio[wq] == 9]
        first_low = next(i for i, (wq, _) in enumerate(order) if prio[wq] == 1)
        assert all(prio[wq] == 9 for wq, _ in order[:first_low]) and len(high) == first_low, \
            f"a PRIO 1 descriptor ran while PRIO 9 ones waited: {order}"
        if len(wqs) == 3:
            assert all(a != b for a, b in zip(high, high[1:])), f"equal priorities must take turns: {high}"
        for wq in wqs:
            seq = [i for w, i in order if w == wq]
            assert seq == sorted(seq), f"WQ {wq} did not run in submission order: {seq}"
    await env.sb.check()
