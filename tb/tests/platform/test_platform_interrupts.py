"""The device's interrupts end to end through an emulated host platform (IMSDEV_PLATFORM=x86 or arm).

What a driver does: allocate interrupts from the platform's irq domain (x86: IRTEs through VT-d interrupt
remapping; ARM: ITS events/LPIs behind the SMMU MSI window), program the composed messages into the
device in Linux's order, and let the device fire. Every test checks exact counts with the platform
scoreboard (tb/platform_bench.py): each requested interrupt lands exactly once on the expected
(CPU, vector) / (redistributor, LPI), nothing lost, duplicated, misrouted or spurious, and every platform
fault is one the test expected (with the device's requester ID).

Interrupt sources are reached through an *interrupt store* (`MsixStore`): program an entry with a
message, mask/unmask it, read it back and fire it. Per-queue IMS entries are another such store (an
(address, data) pair with a mask bit) and can be added to `STORES` when the IMS RTL is available; the
tests do not depend on which store they drive.

Vectors are fired with the MSIX_TRIGGER self-test register. The tests for one platform's fault paths are
only defined when that platform is the one under test, so the same module runs clean on both.
"""
from __future__ import annotations

import json
from pathlib import Path

import cocotb
from cocotb.triggers import ClockCycles

from imsdev import regs
from imsdev.platform import MsiMsg
from imsdev.platform.arm_its import GITS_CMD_DISCARD, GITS_CMD_INV, GITS_CMD_INVALL, encode_its_command
from tb.env import PAUSE_MODES, Bench
from tb.platform.gic_its import E_ITS_INT_UNMAPPED_INTERRUPT, ItsErrorReason
from tb.platform.smmu import EVT_ID_TRANSLATION_FAULT
from tb.platform.vtd_ir import (FRCD_F, FRCD_REG_BASE, FSTS_PPF, FSTS_REG, GSTS_CFIS, GSTS_IRES,
                                GSTS_REG, VtdFaultReason)
from tb.platform_bench import platform_name

PLATFORM = platform_name()
BOUNDARY_VECTORS = (0, 1, 31, 32, 63, 64, 100)
REPORT_FILE = "platform_report.jsonl"     # in the run directory (sim/results/<config>-<module>-<platform>/)
_report_written = False                   # the first test of a run starts the file afresh


# ------------------------------------------------------------------------------------ interrupt stores
class MsixStore:
    """MSI-X entries as Linux's PCI/MSI code drives them (drivers/pci/msi/msi.c, facts section 1)."""

    name = "msix"

    def __init__(self, bench: Bench):
        self.b = bench
        self.ctrl: dict[int, int] = {}          # Linux's cached desc->pci.msix_ctrl

    @property
    def size(self) -> int:
        return self.b.params.msix_vectors

    def slots_under_test(self) -> list[int]:
        n = self.size
        return sorted({v for v in BOUNDARY_VECTORS if v < n} | {n - 1})

    async def enable(self, slots) -> None:
        """msix_capability_init: Enable|MaskAll, mask the entries (Linux masks the whole table; the
        bench masks the entries it uses, the others reset masked), clear MaskAll."""
        await self.b.msix_enable(enable=True, fn_mask=True)
        for v in slots:
            await self.b.wr32(self.b.msix.entry(v) + regs.MSIX_TABLE_VECTOR_CTRL, 1)
            self.ctrl[v] = 1
        await self.b.msix_enable(enable=True, fn_mask=False)

    async def write_msg(self, v: int, msg) -> None:
        """__pci_write_msi_msg: mask if unmasked, write address and data, restore ctrl, flush."""
        e = self.b.msix.entry(v)
        ctrl = self.ctrl.get(v, 1)
        if not ctrl & 1:
            await self.b.wr32(e + regs.MSIX_TABLE_VECTOR_CTRL, ctrl | 1)
        await self.b.wr32(e + regs.MSIX_TABLE_ADDR_LO, msg.address_lo)
        await self.b.wr32(e + regs.MSIX_TABLE_ADDR_HI, msg.address_hi)
        await self.b.wr32(e + regs.MSIX_TABLE_DATA, msg.data)
        if not ctrl & 1:
            await self.b.wr32(e + regs.MSIX_TABLE_VECTOR_CTRL, ctrl)
        await self.b.rd32(e + regs.MSIX_TABLE_DATA)

    async def mask(self, v: int) -> None:
        self.ctrl[v] = self.ctrl.get(v, 1) | 1
        await self.b.msix.mask(v)               # write + flush read (pci_msix_mask)

    async def unmask(self, v: int) -> None:
        self.ctrl[v] = self.ctrl.get(v, 1) & ~1
        await self.b.msix.unmask(v)             # write, no flush (pci_msix_unmask)

    async def read(self, v: int) -> tuple[int, ...]:
        return await self.b.msix.read_entry(v)

    async def pending(self, v: int) -> bool:
        return await self.b.msix.pending(v)

    async def fire(self, v: int) -> None:
        await self.b.msix.trigger(v)


# Interrupt stores the tests can drive; IMS joins here (and the tests gain a `store` parameter).
STORES = {"msix": MsixStore}


# ------------------------------------------------------------------------------------ helpers
async def start(dut, pauses: str = "none", store: str = "msix"):
    """Bench with the platform attached, and the interrupt store the test drives (STORES)."""
    bench = await Bench.start(dut, pauses=pauses)
    plat = getattr(bench, "platform", None)
    assert plat is not None, ("no platform attached: run this module with IMSDEV_PLATFORM=x86|arm (sim/testplan.py "
                              "platforms) and the attach_platform line in Bench.start")
    assert plat.name == PLATFORM
    return bench, plat, STORES[store](bench)


def other_rid(bench) -> int:
    """Another function of the same device: only the function number differs from the device's requester
    ID, so the platform must compare all 16 bits (Linux programs SVT=1, SQ=0)."""
    return bench.requester_id ^ 0x0001


async def setup(bench, plat, store, slots, *, unmask: bool = True, spare=()):
    """Allocate one interrupt per slot from the platform domain, program, enable and (optionally) unmask,
    as a driver's probe + request_irq would. `spare` slots are only masked (for a test's own messages).
    Returns {slot: irq}."""
    irqs = plat.alloc_irqs(bench.requester_id, len(slots), hwsize=store.size)
    by_slot = dict(zip(slots, irqs))
    plat.track(*irqs)
    await store.enable(list(slots) + list(spare))
    for v, irq in by_slot.items():
        await store.write_msg(v, irq.msg)
    if unmask:
        for v in slots:
            await store.unmask(v)
    return by_slot


async def finish(bench, plat, test: str):
    """Let anything late arrive, check the scoreboard, and keep its counts next to the test's log
    (platform_report.jsonl in the run directory, one line per test)."""
    await bench.settle()
    report = plat.report()
    report.update(test=test, pauses=bench.pauses, config=bench.params.name, seed=bench.seed)
    bench.log.info("platform scoreboard: %s", json.dumps(report))
    global _report_written
    try:    # the counts are a by-product: losing the file (results wiped by another run) fails nothing
        with (Path.cwd() / REPORT_FILE).open("a" if _report_written else "w") as f:
            f.write(json.dumps(report) + "\n")
        _report_written = True
    except OSError as exc:
        bench.log.warning("platform scoreboard: could not write %s: %s", REPORT_FILE, exc)
    plat.assert_clean()
    assert report["lost"] == report["duplicate"] == report["misrouted"] == report["spurious"] == 0


def other_cpu(plat, irq) -> int:
    return (irq.cpu + 1) % plat.cpu_count


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
    await finish(bench, plat, "test_vectors_end_to_end")


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
    await finish(bench, plat, "test_masked_pending_replay")


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
    await finish(bench, plat, "test_affinity_change_under_traffic")


# ------------------------------------------------------------------------------------ x86 fault paths
def vtd_fault_records(plat) -> list[tuple[int, int, int]]:
    """Read and clear the primary fault records as Linux's dmar_fault() does: (reason, SID, IRTE index)."""
    iommu = plat.model.iommu
    out = []
    if not iommu.read_reg(FSTS_REG) & FSTS_PPF:
        return out
    for n in range(8):
        reg = FRCD_REG_BASE + 16 * n
        hi = iommu.read_reg(reg + 8)
        if hi & FRCD_F:
            out.append((hi >> 32 & 0xFF, hi & 0xFFFF, iommu.read_reg(reg) >> 48 & 0xFFFF))
            iommu.write_reg(reg + 12, FRCD_F >> 32, 4)
    return out


async def x86_fault_case(dut, test, make_bad, reason, check_index):
    """Program the last vector with a bad message, fire it and a good vector; the bad one faults with the
    device's SID and delivers nothing, the good one is delivered; the fault record says who and why."""
    bench, plat, store = await start(dut, "both")
    slots = store.slots_under_test()
    good, bad = slots[0], slots[-1]
    by_slot = await setup(bench, plat, store, [good], spare=[bad])
    msg, index, bad_irq = make_bad(bench, plat)
    if bad_irq is not None:
        plat.track(bad_irq)
    await store.write_msg(bad, msg)
    await store.unmask(bad)
    plat.expect_fault(reason, requester_id=bench.requester_id)
    plat.expect(by_slot[good])
    await store.fire(bad)
    await store.fire(good)
    await plat.wait_all()
    await bench.settle()
    (fault,) = plat.faults
    assert fault.requester_id == bench.requester_id and fault.address == msg.address_lo
    if check_index:
        assert fault.index == index, f"fault index {fault.index}, expected {index}"
    assert vtd_fault_records(plat) == [(int(reason), bench.requester_id, index if check_index else 0)]
    # The platform keeps working after the fault, and the bad entry faults again each time.
    plat.expect_fault(reason, requester_id=bench.requester_id)
    plat.expect(by_slot[good])
    await store.fire(bad)
    await store.fire(good)
    await plat.wait_all()
    await finish(bench, plat, test)


if PLATFORM == "x86":
    @cocotb.test()
    async def test_x86_sid_mismatch(dut):
        """An entry programmed with an IRTE allocated for another requester ID: source-ID check fails,
        fault 0x26 recorded with the device's SID, nothing delivered (not even to that IRTE's CPU)."""
        def bad(bench, plat):
            (irq,) = plat.alloc_irqs(other_rid(bench), 1)
            return irq.msg, irq.index, irq
        await x86_fault_case(dut, "test_x86_sid_mismatch", bad, VtdFaultReason.SOURCE_ID_MISMATCH, True)

    @cocotb.test()
    async def test_x86_irte_not_present(dut):
        """An entry whose IRTE was freed (cleared and invalidated): fault 0x22, nothing delivered."""
        def bad(bench, plat):
            (irq,) = plat.alloc_irqs(bench.requester_id, 1)
            plat.free_irqs([irq])
            return irq.msg, irq.index, irq
        await x86_fault_case(dut, "test_x86_irte_not_present", bad, VtdFaultReason.NOT_PRESENT, True)

    @cocotb.test()
    async def test_x86_compat_format_blocked(dut):
        """A compatibility-format message (no remapping) while the kernel blocks them (IRE=1, CFIS=0):
        fault 0x25, and the CPU/vector the message names receives nothing."""
        def bad(bench, plat):
            status = plat.model.iommu.read_reg(GSTS_REG)
            assert status & GSTS_IRES and not status & GSTS_CFIS, f"GSTS {status:#x}: IR on, compat blocked"
            apic = plat.model.cpus.ids[1]
            return MsiMsg(0xFEE0_0000 | apic << 12, 0, 0x41), 0, None
        await x86_fault_case(dut, "test_x86_compat_format_blocked", bad, VtdFaultReason.COMPAT_BLOCKED, False)


# ------------------------------------------------------------------------------------ ARM fault paths
def its_command(plat, opcode: int, cpu: int = 0, **fields) -> None:
    """Queue one ITS command (+ SYNC) through the kernel domain's command queue and wait for it."""
    plat.model.domain._send(encode_its_command(opcode, **fields), cpu)


def nr_ites(store) -> int:
    """Events the ITS maps for the device (its_create_device: max(2, pow2(hwsize)))."""
    return max(2, 1 << (store.size - 1).bit_length())


async def arm_drop_case(bench, plat, store, by_slot, bad_slot, msg, expect):
    """Fire a bad entry and a good one: the bad write is dropped and recorded, the good one delivered."""
    good = next(v for v in by_slot if v != bad_slot)
    await store.write_msg(bad_slot, msg)
    await store.unmask(bad_slot)
    expect()
    plat.expect(by_slot[good])
    await store.fire(bad_slot)
    await store.fire(good)
    await plat.wait_all()


if PLATFORM == "arm":
    @cocotb.test()
    async def test_arm_unmapped_event(dut):
        """EventIDs the kernel never mapped (inside the device's ITT, and beyond it): each write is
        dropped and recorded by the ITS with the device's DeviceID and the EventID; nothing delivered."""
        bench, plat, store = await start(dut, "both")
        slots = store.slots_under_test()
        good, bad = slots[0], slots[-1]
        by_slot = await setup(bench, plat, store, [good], spare=[bad])
        doorbell = by_slot[good].msg
        cases = ((ItsErrorReason.EVENT_UNMAPPED, len(by_slot) + 1),
                 (ItsErrorReason.EVENT_OUT_OF_RANGE, nr_ites(store)))
        for reason, event in cases:
            msg = MsiMsg(doorbell.address_lo, doorbell.address_hi, event)
            await arm_drop_case(bench, plat, store, by_slot, bad, msg,
                                lambda: plat.expect_fault(reason, requester_id=bench.requester_id))
        await bench.settle()
        errors = plat.faults
        assert [(e.source, e.reason, e.code, e.device_id, e.event_id) for e in errors] == [
            ("translation", reason, E_ITS_INT_UNMAPPED_INTERRUPT, bench.requester_id, event)
            for reason, event in cases]
        await finish(bench, plat, "test_arm_unmapped_event")

    @cocotb.test()
    async def test_arm_discard(dut):
        """DISCARD then fire: the ITS no longer translates the event (dropped, recorded, nothing
        delivered). DISCARD of an LPI held pending (its configuration disabled) drops the pending state:
        re-enabling and INVALL deliver nothing. A newly mapped event still works afterwards."""
        bench, plat, store = await start(dut, "both")
        slots = store.slots_under_test()
        by_slot = await setup(bench, plat, store, slots)
        rid = bench.requester_id
        a, b = by_slot[slots[0]], by_slot[slots[-1]]

        its_command(plat, GITS_CMD_DISCARD, a.cpu, device_id=rid, event_id=a.index)
        plat.expect_fault(ItsErrorReason.EVENT_UNMAPPED, requester_id=rid)
        await store.fire(slots[0])
        await plat.wait_all()

        # Hold b's LPI pending in its redistributor (configuration byte disabled + INV), then DISCARD.
        domain = plat.model.domain
        domain._write_lpi_config(b.vector, enabled=False)
        its_command(plat, GITS_CMD_INV, b.cpu, device_id=rid, event_id=b.index)
        await store.fire(slots[-1])
        await plat.wait_messages(2)
        assert plat.model.redistributors.is_pending(b.target, b.vector), "LPI not held pending"
        its_command(plat, GITS_CMD_DISCARD, b.cpu, device_id=rid, event_id=b.index)
        assert not plat.model.redistributors.is_pending(b.target, b.vector), "DISCARD left the LPI pending"
        domain._write_lpi_config(b.vector, enabled=True)
        its_command(plat, GITS_CMD_INVALL, b.cpu, collection_id=b.cpu)
        plat.expect_fault(ItsErrorReason.EVENT_UNMAPPED, requester_id=rid)
        await store.fire(slots[-1])
        await plat.wait_all()
        await bench.settle()
        plat.assert_clean()

        # A fresh event on the same device is mapped and delivered (the ITS and the device carry on).
        (c,) = plat.alloc_irqs(rid, 1)
        plat.expect(c)
        await store.write_msg(slots[0], c.msg)
        await store.fire(slots[0])
        await plat.wait_all()
        assert [e.event_id for e in plat.faults] == [a.index, b.index]
        await finish(bench, plat, "test_arm_discard")

    @cocotb.test()
    async def test_arm_unmapped_iova(dut):
        """A message address in the MSI window that the SMMU has not mapped: an SMMU translation fault
        with the device's StreamID and the IOVA; the ITS sees nothing."""
        bench, plat, store = await start(dut, "both")
        slots = store.slots_under_test()
        good, bad = slots[0], slots[-1]
        by_slot = await setup(bench, plat, store, [good], spare=[bad])
        doorbell = by_slot[good].msg
        smmu = plat.model.smmu
        iova = plat.window[0] + plat.window[1] // 2 + (doorbell.address_lo & 0xFFF)
        assert smmu.translate(iova) is None and smmu.translate(doorbell.address_lo) is not None
        translated = plat.model.its.translated
        msg = MsiMsg(iova, 0, by_slot[good].index)
        await arm_drop_case(bench, plat, store, by_slot, bad, msg,
                            lambda: plat.expect_fault("translation_fault", requester_id=bench.requester_id))
        await bench.settle()
        (event,) = plat.faults
        assert (event.event_id, event.stream_id, event.iova) == (EVT_ID_TRANSLATION_FAULT, bench.requester_id, iova)
        assert plat.model.its.translated == translated + 1        # only the good vector reached the ITS
        await finish(bench, plat, "test_arm_unmapped_iova")
