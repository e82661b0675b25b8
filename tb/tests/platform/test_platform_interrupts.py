"""The device's interrupts end to end through an emulated host platform (IMSDEV_PLATFORM=x86 or arm).

What a driver does: allocate interrupts from the platform's irq domain (x86: IRTEs through VT-d interrupt
remapping; ARM: ITS events/LPIs behind the SMMU MSI window), program the composed messages into the
device in Linux's order, and let the device fire. Every test checks exact counts with the platform
scoreboard (tb/platform_bench.py): each requested interrupt lands exactly once on the expected
(CPU, vector) / (redistributor, LPI), nothing lost, duplicated, misrouted or spurious, and every platform
fault is one the test expected (with the device's requester ID).

Interrupt sources are reached through an interrupt store (tests/platform/common.py: MSI-X entries fired
with the MSIX_TRIGGER self-test register, or per-WQ IMS entries fired by completion interrupts); these
tests drive MSI-X vectors. The platforms' fault and drop paths are in test_platform_faults.py.
"""
from __future__ import annotations

import cocotb
from cocotb.triggers import ClockCycles

from tb.env import PAUSE_MODES
from tb.tests.platform.common import finish, other_cpu, setup, start


# ------------------------------------------------------------------------------------ both platforms
@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_vectors_end_to_end(dut, pauses):
    """Vectors 0, 1, 31, 32, 63, 64, 100 and the last: each alone, then all together, land exactly once on
    the (CPU, vector) / (redistributor, LPI) the platform domain chose."""
    bench, plat, store = await start(dut, pauses)
    slots = store.slots_under_test()
    by_slot = await setup(bench, plat, store, slots)
    targets = {plat.expected_target(irq) for irq in by_slot.values()}
    assert len(targets) == len(slots), f"two vectors share a (target, vector): {targets}"
    assert len({t for t, _ in targets}) == min(len(slots), plat.cpu_count), "interrupts not spread over CPUs"

    for v, irq in by_slot.items():
        plat.expect(irq)
        await store.fire(v)
        await plat.wait_all()
        got = plat.deliveries_for(irq)
        assert [d.key for d in got] == [plat.expected_target(irq)], f"vector {v}: {got}"
    await bench.settle()
    plat.assert_clean()

    for v, irq in by_slot.items():
        plat.expect(irq)
        await store.fire(v)
    await plat.wait_all()
    for v, irq in by_slot.items():
        assert len(plat.deliveries_for(irq)) == 2, f"vector {v}"
    assert all(m.requester_id == bench.requester_id and m.consumed and m.header_dw == 3 for m in plat.messages)
    assert plat.report()["messages"] == 2 * len(slots)
    await finish(bench, plat, "test_vectors_end_to_end", store)


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_masked_pending_replay(dut, pauses):
    """Masked entries deliver nothing however often they fire, latch Pending, and deliver exactly once on
    unmask; an entry whose affinity changed while masked replays to the new target."""
    bench, plat, store = await start(dut, pauses)
    slots = store.slots_under_test()
    by_slot = await setup(bench, plat, store, slots, unmask=False)
    for v in slots:
        for _ in range(3):
            await store.fire(v)
    await bench.settle()
    plat.assert_clean()                       # every irq tracked with 0 expected: nothing may arrive
    assert not plat.messages, f"masked entries sent {len(plat.messages)} message(s)"
    for v in slots:
        assert await store.pending(v), f"vector {v}: masked fire left no pending bit"

    moved = {}
    for v, irq in list(by_slot.items())[::2]:
        old = plat.expected_target(irq)
        plat.set_affinity(irq, other_cpu(plat, irq))
        moved[v] = (old, plat.expected_target(irq))
        assert moved[v][0] != moved[v][1]
    for v, irq in by_slot.items():
        plat.expect(irq)
        await store.unmask(v)
    await plat.wait_all()
    for v, (old, new) in moved.items():
        assert [d.key for d in plat.deliveries_for(by_slot[v])] == [new], f"vector {v} replayed to the old target"
    for v in slots:
        assert not await store.pending(v), f"vector {v} still pending after replay"
    await finish(bench, plat, "test_masked_pending_replay", store)


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_affinity_change_under_traffic(dut, pauses):
    """Vectors fire continuously while the kernel retargets them (IRTE rewrite + invalidation / ITS MOVI):
    every interrupt arrives exactly once, at the old target before each change and at the new one after,
    and the device's MSI-X entries are never rewritten."""
    bench, plat, store = await start(dut, pauses)
    slots = store.slots_under_test()
    busy = sorted({slots[0], slots[len(slots) // 2], slots[-1]})
    by_slot = await setup(bench, plat, store, slots)
    table_before = {v: await store.read(v) for v in slots}
    messages_before = {v: irq.msg for v, irq in by_slot.items()}
    rng = bench.rng
    fires = 16 * len(busy)

    async def traffic():
        for _ in range(fires):
            v = rng.choice(busy)
            plat.expect(by_slot[v])
            await store.fire(v)
            await ClockCycles(bench.dut.clk, rng.randint(0, 24))

    task = cocotb.start_soon(traffic())
    changes = []                              # (irq, delivery count before the change, old key, new key)
    while not task.done():
        await ClockCycles(bench.dut.clk, rng.randint(30, 90))
        irq = by_slot[rng.choice(busy)]
        old = plat.expected_target(irq)
        before = len(plat.deliveries_for(irq))
        plat.set_affinity(irq, other_cpu(plat, irq))
        changes.append((irq, before, old, plat.expected_target(irq)))
    await task
    await plat.wait_all()

    assert len(changes) >= 3, f"only {len(changes)} affinity changes happened during the traffic"
    # The scoreboard already checked every delivery against the target in force when it arrived; here,
    # explicitly, per interrupt: its changes cut its deliveries into epochs, and every delivery of an
    # epoch went to the target set by the change that opened it (the first epoch: the original target).
    spanned = 0
    for v in busy:
        irq = by_slot[v]
        mine = [(before, old, new) for i, before, old, new in changes if i is irq]
        got = plat.deliveries_for(irq)
        if not mine:
            continue
        cuts = [b for b, _, _ in mine] + [len(got)]
        keys = [mine[0][1]] + [new for _, _, new in mine]
        first = 0
        for n, (cut, key) in enumerate(zip(cuts, keys)):
            assert all(d.key == key for d in got[first:cut]), \
                f"vector {v}, epoch {n} (target {key}): {[d.key for d in got[first:cut]]}"
            if n and first > 0 and cut > first:
                spanned += 1            # deliveries on both sides of this change
            first = cut
        for (_, old, new), (_, next_old, _) in zip(mine, mine[1:]):
            assert old != new and new == next_old
    assert spanned, "no affinity change fell between two deliveries of the same interrupt"
    for v, irq in by_slot.items():
        assert irq.msg == messages_before[v], f"vector {v}: the domain changed the message"
        assert await store.read(v) == table_before[v], f"vector {v}: the MSI-X entry changed"
    await finish(bench, plat, "test_affinity_change_under_traffic", store)
