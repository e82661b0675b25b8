"""ARM guest with a shadowing virtual ITS on the RTL (issue 10 item 5, docs/vmm.md): the guest owns the device and
runs the unchanged driver model; its kernel's ITS code maps the device under a *virtual* DeviceID on its virtual
ITS (tb/vmm/vits.py), and the VMM mirrors each guest MAPTI onto the physical ITS for the physical DeviceID (the
device's requester ID) with the same EventID. The guest's own MSI-X messages (its doorbell IOVA in the MSI
window, data = EventID) go into the physical table unchanged (vits.ShadowRouting); the MSI-X table stays trapped
as vfio-pci does.

* test_guest_vits/mapped=True: the VMM set virtual -> physical (set_dev_id): every guest event is shadowed on the
  physical ITS; each completion interrupt is one real message of the RTL, one host LPI, one injection exit, and
  arrives exactly once at the guest's redistributor; no command dropped.
* test_guest_vits/mapped=False: the VMM never set the virtual DeviceID: the vITS drops every guest command naming
  it (MAPD, MAPTI, ...) and records it; nothing is shadowed; each completion interrupt is still a real message
  of the RTL (the record is written first), and the physical ITS drops it as DEVICE_UNMAPPED for the physical
  DeviceID and the guest's EventID: no host LPI, no injection, nothing reaches the guest.
"""
from __future__ import annotations

from collections import Counter

import cocotb

from imsdev import regs
from imsdev.driver import imsdev_probe, imsdev_remove
from imsdev.driver.submit import idxd_alloc_desc, idxd_free_desc, idxd_submit_desc, prep_desc, wait_for_completion
from imsdev.driver.uapi import DSA_COMP_SUCCESS, DSA_OPCODE_NOOP, IDXD_OP_FLAG_RCI
from tb.driver_ops import BenchOps
from tb.env import Bench
from tb.platform.gic_its import ItsErrorReason
from tb.platform_bench import platform_name
from tb.tests.fw.common import run_blocking
from tb.vmm.bench import GUEST_PLATFORM_OPTIONS, arm_guest, finish_guests, wait_until
from tb.vmm.exits import ExitReason

PLATFORM = platform_name()
PAUSES = ("none", "both")
VRID = 0x0010                        # the device's DeviceID in the guest (virtual)
IRQ_WAIT_NS = 100_000
QUIET_NS = 2_000
INTERRUPTS = 4


async def start(dut, pauses: str):
    bench = await Bench.start(dut, pauses=pauses, platform_options=GUEST_PLATFORM_OPTIONS[PLATFORM])
    assert bench.platform is not None and bench.platform.name == PLATFORM
    bench.log.info("test_guest_vits: seed %d (replay with SEED=%d)", bench.seed, bench.seed)
    return bench, BenchOps(bench)


def physical_entry(host_ops, bench, vector: int) -> list[int]:
    base = bench.bar0_addr + regs.MSIX_TABLE_BASE + vector * regs.MSIX_TABLE_STRIDE
    return [host_ops.mmio_read32(base + o) for o in (0, 4, 8, 12)]


def guest_vits(bench, host_ops, mapped: bool) -> dict:
    plat, p = bench.platform, bench.params
    rid = bench.requester_id
    g = arm_guest(bench, host_ops, "A", virtual_device_id=VRID, vmid=1, shadow=True, set_dev_id=mapped)
    vits = g.vits
    idxd = imsdev_probe(g.ops)
    events = sorted(d.parent.index for d in idxd.msix.descs)
    assert events == list(range(len(events))), events
    assert all(d.parent.requester_id == VRID for d in idxd.msix.descs), "the guest kernel maps its virtual DeviceID"

    # The guest's messages are in the physical table as they are (MSI window IOVA, EventID), unmasked
    for d in idxd.msix.descs:
        assert physical_entry(host_ops, bench, d.hwirq) == [d.msg.address_lo, d.msg.address_hi, d.msg.data, 0]
    assert not g.msix.rejected, g.msix.rejected
    if mapped:
        assert not vits.dropped, vits.dropped
        assert sorted(vits.shadow) == [(VRID, e) for e in events]
        assert {(i.requester_id, i.index) for i in vits.shadow.values()} == {(rid, e) for e in events}
    else:
        assert not vits.shadow
        names = Counter(c.name for c in vits.dropped)
        assert {c.virtual_device_id for c in vits.dropped} == {VRID}
        assert names["MAPD"] == 1 and names["MAPTI"] == len(events), names

    wq = idxd.wqs[0]
    idxd.wq_configure(wq, size=min(4, p.wq_depth), dedicated=True)
    idxd.wq_enable(wq)
    ie = wq.msix_ie
    event = ie.desc.parent.index
    mark = g.exits.mark()
    messages, faults = len(plat.messages), len(plat.faults)
    if mapped:
        plat.expect(vits.shadow[(VRID, event)], INTERRUPTS)
        for _ in range(INTERRUPTS):
            d = prep_desc(idxd_alloc_desc(wq), DSA_OPCODE_NOOP, ie=ie)
            assert idxd_submit_desc(idxd, wq, d) == 0
            assert wait_for_completion(idxd, d, IRQ_WAIT_NS).status == DSA_COMP_SUCCESS
            idxd_free_desc(wq, d)
        assert ie.desc.count == INTERRUPTS and ie.desc.unhandled <= ie.reaped_early and not idxd.core.spurious
        assert [dl.key for dl in g.guest_cpus.deliveries] == [ie.desc.parent.expected] * INTERRUPTS
        assert g.exits.since(mark) == {ExitReason.EXTERNAL_INTERRUPT: INTERRUPTS}, g.exits.since(mark)
        assert vits.injected == INTERRUPTS and not vits.dropped_injections and plat.faults[faults:] == []
    else:
        for k in range(INTERRUPTS):
            d = prep_desc(idxd_alloc_desc(wq), DSA_OPCODE_NOOP)          # polled: no interrupt will come
            d.hw.flags |= IDXD_OP_FLAG_RCI
            d.hw.int_handle = ie.int_handle
            assert idxd_submit_desc(idxd, wq, d) == 0
            assert wait_for_completion(idxd, d, IRQ_WAIT_NS).status == DSA_COMP_SUCCESS
            wait_until(g.ops, lambda: len(plat.faults) == faults + k + 1, "the physical ITS's drop")
            idxd_free_desc(wq, d)
        g.ops.delay_ns(QUIET_NS)
        dropped = plat.faults[faults:]
        assert [(f.source, f.reason, f.device_id, f.event_id) for f in dropped] == \
            [("translation", ItsErrorReason.DEVICE_UNMAPPED, rid, event)] * INTERRUPTS, dropped
        plat.expect_fault(ItsErrorReason.DEVICE_UNMAPPED, n=INTERRUPTS)
        assert g.guest_cpus.deliveries == [] and g.exits.since(mark) == {} and vits.injected == 0
        assert g.ops.received == type(g.ops.received)()
    sent = plat.messages[messages:]
    assert [(m.address, m.data, m.requester_id) for m in sent] == \
        [(ie.desc.msg.address, event, rid)] * INTERRUPTS, [str(m) for m in sent]
    g.msix.release_all()
    imsdev_remove(idxd)
    return {"mapped": mapped, "dropped_commands": len(vits.dropped), "shadowed": len(vits.shadow)}


if PLATFORM == "arm":
    @cocotb.test()
    @cocotb.parametrize(pauses=PAUSES, mapped=(True, False))
    async def test_guest_vits(dut, pauses, mapped):
        bench, host_ops = await start(dut, pauses)
        checked = await run_blocking(guest_vits, bench, host_ops, mapped)
        await finish_guests(bench, checked)
