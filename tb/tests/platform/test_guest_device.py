"""The device's own test programs inside a guest (issue 10 items 1 and 7, docs/vmm.md "The device in a guest").

* test_c_scenario_in_guest (x86, posted and remapped): the C library's scenario (fw/lib/imsdev_scenario.c, the
  program tb/tests/fw/test_c_library.py runs on the host) runs unchanged in a VM that owns the whole device
  (tb/vmm/assign.py): MSI-X table trapped as vfio-pci does (PBA mapped through), every IMS window trapped (design (c)),
  guest RAM behind the RID_PASID second level, the scenario's two PASIDs attached by the guest kernel
  (second level over guest RAM), its ENQCMDS translated by the vCPU. Every access of the C code goes through
  the guest's mappings; every interrupt is a real message of the RTL through the VMM's IRTEs to the guest's
  vCPUs. ARM: the same VM behind its vITS and vSMMU (guest CD table, SSIDs attached). Checked: the
  scenario's own checks (0 = every one passed) and the same statistics as on the host, less on x86 the
  affinity step (the guest's vIOMMU has no interrupt remapping: scenario flag NO_IRQ_REMAP); the PBA is
  mapped through as QEMU leaves it, so the PBA-write error reaches the device as on the host; every interrupt the C code waited for
  arrived exactly once at its vCPU and nothing else arrived; every trapped access was one VM exit; remapped:
  one EXTERNAL_INTERRUPT exit per interrupt taken, posted: none and one notification each; no DMA fault
  (every DMA, PASID-tagged or not, reached guest RAM by GPA).
* test_driver_flr_in_guest (x86 posted and remapped, ARM): the unchanged driver model owns the device from inside
  the assigned guest: probe, a dedicated WQ bound to an attached PASID, its MSI-X completion interrupt and an IMS
  slot, then the driver's FLR and re-probe (imsdev_reset: quiesce, save, FLR through the guest's config space,
  restore, probe again, WQ and IMS restored). Checked: SCRATCH reads 0 after the FLR (the device really reset);
  completions by MSI-X and IMS before and after, each interrupt exactly once at its vCPU and nowhere else; every
  physical MSI-X entry and IMS slot in use holds the VMM's host message for the guest's current one (no stale
  route), the VMM refused nothing, no DMA fault.
* test_two_guests_separate_wqs (x86, builds with 3+ WQs): the host driver owns the device and gives WQ 1 to VM A
  and WQ 2 to VM B as dedicated WQs bound to a host PASID each (a Scalable-IOV style assignable interface: the
  WQ's portal, four slots of its IMS window trapped, the PASID attached second level over that VM's RAM). Each
  guest runs the unchanged driver model's submission and IMS code (idxd_submit_desc, wq_alloc_ims_irq,
  wait_for_completion) on its view, with the same guest-physical addresses in both. Checked: every record
  success and data exact; each guest's whole RAM byte-exact against its own image plus its own jobs' writes,
  the host's record pool untouched (zero cross-DMA); every DMA TLP carries the submitting WQ's host PASID,
  one record write per job; each guest's IMS vector exactly once per job at its one vCPU, posted, nothing at
  any other vCPU of either VM, no VM exit (zero cross-delivery).
"""
from __future__ import annotations

import cocotb

from imsdev import regs
from imsdev.clib import CLibrary, OpsAdapter, ScenarioParams
from imsdev.driver import imsdev_probe, imsdev_remove, imsdev_reset
from imsdev.driver.init import wq_alloc_ims_irq
from imsdev.driver.submit import idxd_alloc_desc, idxd_free_desc, idxd_submit_desc, prep_desc, wait_for_completion
from imsdev.driver.uapi import DSA_COMP_SUCCESS, DSA_OPCODE_MEMFILL, DSA_OPCODE_MEMMOVE, DSA_OPCODE_NOOP
from tb.driver_ops import BenchOps
from tb.env import Bench
from tb.params import DeviceParams
from tb.platform.vtd_ir import INTERRUPT_WINDOW_BASE, INTERRUPT_WINDOW_MASK
from tb.platform_bench import platform_name
from tb.tests.fw.common import (C_SCENARIO_AFFINITY_INTERRUPTS, C_SCENARIO_AFFINITY_RECORDS, C_SCENARIO_INTERRUPTS,
                                 C_SCENARIO_RECORDS, run_blocking)
from tb.vmm.assign import GuestDedicatedWq, assigned_guest
from tb.vmm.bench import (BenchX86Host, GUEST_PLATFORM_OPTIONS, finish_guests, posted_notifications, wait_until,
                          x86_guest)
from tb.vmm.device import OpsDevice
from tb.vmm.exits import ExitReason
from tb.vmm.guest_sva import prepare_job
from tb.vmm.trap import TrappedIms

PLATFORM = platform_name()
NUM_WQ = DeviceParams.from_env().num_wq
PAUSES = ("none", "both")
IRQ_WAIT_NS = 100_000
GUEST_WQS = (1, 2)                  # WQ0 stays the host driver's
GUEST_DIDS = (0x101, 0x102)         # VT-d domain IDs of the guests' PASID entries (clear of the host's)
IMS_SLOTS = range(0, 4)             # of each guest's own WQ window
PASID_SHARED = 0x1234               # the host test's values: the scenario is the same program
PASID_DEDICATED = 0x4321
ARM_SSIDS = (0x1234, 0x0321)        # inside the ARM guest's linear CD table (S1CDMax 13)
KINDS = {"x86": ("x86-posted", "x86-remapped"), "arm": ("arm-vits",)}.get(PLATFORM, ())


async def start(dut, pauses: str):
    bench = await Bench.start(dut, pauses=pauses, platform_options=GUEST_PLATFORM_OPTIONS[PLATFORM])
    assert bench.platform is not None and bench.platform.name == PLATFORM
    bench.log.info("test_guest_device: platform %s, seed %d (replay with SEED=%d)", PLATFORM, bench.seed,
                   bench.seed)
    return bench, BenchOps(bench)


def c_scenario_in_guest(bench, host_ops, kind: str) -> dict:
    lib = CLibrary()
    plat = bench.platform
    pasids = ARM_SSIDS if kind == "arm-vits" else (PASID_SHARED, PASID_DEDICATED)
    a = assigned_guest(bench, host_ops, kind, pasids=pasids)
    notes_before = len(posted_notifications(plat.model.deliveries))
    adapter = OpsAdapter(a.ops, on_irq_consumed=lambda irq: a.expect_consumed(plat, irq))
    # What the x86 guest cannot do that the host run does: affinity changes that leave the device's entry
    # alone (its virtual IOMMU has no interrupt remapping, QEMU's intremap=off: retargeting rewrites the
    # message, so the scenario skips that step). On ARM the guest's ITS is the remapping: MOVI retargets
    # without touching the device and the step runs.
    flags = 0 if kind == "arm-vits" else ScenarioParams.FLAG_NO_IRQ_REMAP
    params = ScenarioParams(pasids[0], pasids[1], 100_000, 2_000, flags)
    try:
        rc, stats = lib.run_scenario(adapter, params)
    finally:
        a.release()
    st = stats.as_dict()
    bench.log.info("C scenario in guest (%s): rc %d (%s), %s", kind, rc, lib.strerror(rc), st)
    return {"rc": rc, "name": lib.strerror(rc), "stats": st, "adapter": adapter, "guest": a,
            "notes": len(posted_notifications(plat.model.deliveries)) - notes_before}


def check_c_scenario_in_guest(bench, out: dict, kind: str) -> dict:
    a, adapter, st = out["guest"], out["adapter"], out["stats"]
    p = bench.params
    assert out["rc"] == 0, f"C scenario in the guest failed at check {out['rc']}: {out['name']} ({st})"
    assert (st["num_wq"], st["msix_vectors"], st["ims_per_wq"]) == (p.num_wq, p.msix_vectors, p.ims_per_wq)
    assert st["dedicated_wq"] == (1 if p.num_wq > 1 else 0)
    assert (st["swerr_code"], st["swerr_status"]) == (regs.SWERR_NO_CR, 0x10), st
    # the PBA is mapped through (QEMU's PBA emulation is off): the guest's PBA write reaches the device
    assert (st["mmio_err_code"], st["mmio_err_offset"]) == (regs.MMIO_ERR_RO_WRITE, regs.MSIX_PBA_BASE), st
    if kind == "arm-vits":
        assert (st["descriptors"], st["interrupts"]) == (C_SCENARIO_RECORDS, C_SCENARIO_INTERRUPTS), st  # as on the host
        moved = [m for m in adapter.affinity_moves if m[0] != m[1]]
        assert len(adapter.affinity_moves) == 2 and moved, adapter.affinity_moves
    else:
        # the host run's records and interrupts less the affinity step's 2 NOOPs and their interrupts
        assert (st["descriptors"], st["interrupts"]) == (C_SCENARIO_RECORDS - C_SCENARIO_AFFINITY_RECORDS,
                                                         C_SCENARIO_INTERRUPTS - C_SCENARIO_AFFINITY_INTERRUPTS), st
    assert not adapter.unclaimed and not adapter.unconsumed(), (adapter.unclaimed, adapter.unconsumed())
    taken = sum(adapter.consumed.values())
    assert taken == st["interrupts"], (taken, st)
    exits = dict(a.exits.counts)
    trapped = a.ops.counts["trapped"]
    its = a.vm.exits_for("GITS", "GICR", "vSMMU")
    assert exits.get(ExitReason.EPT_VIOLATION, 0) == trapped + its > 0, (exits, trapped, its)
    if kind == "x86-posted":
        assert a.posted_taken == taken and a.host_expected == 0 and out["notes"] == taken, out
        assert set(exits) == {ExitReason.EPT_VIOLATION}, exits
    else:
        # remapped IRTE or host ITS event: one host interrupt and one EXTERNAL_INTERRUPT exit each
        assert a.host_expected == taken and a.posted_taken == 0 and out["notes"] == 0, out
        assert exits.get(ExitReason.EXTERNAL_INTERRUPT, 0) == taken, exits
        assert set(exits) == {ExitReason.EPT_VIOLATION, ExitReason.EXTERNAL_INTERRUPT}, exits
    assert not a.vm.msix.rejected and not any(t.rejected for t in a.ims), "the VMM refused a message"
    assert not bench.platform.dma_faults, bench.platform.dma_faults
    return {"rc": out["rc"], "stats": st, "exits": {r.name: n for r, n in exits.items()}}


@cocotb.test()
@cocotb.parametrize(pauses=PAUSES, kind=KINDS)
async def test_c_scenario_in_guest(dut, pauses, kind):
    bench, host_ops = await start(dut, pauses)
    out = await run_blocking(c_scenario_in_guest, bench, host_ops, kind)
    checked = check_c_scenario_in_guest(bench, out, kind)
    await finish_guests(bench, checked, out["notes"])


# ============================================================================ the driver's FLR in a guest
def complete_one(idxd, wq, ie, ops, rng, size: int = 700) -> None:
    d = idxd_alloc_desc(wq)
    data = rng.randbytes(size)
    src, dst = ops.mem_alloc(size, 64), ops.mem_alloc(size, 64)
    ops.mem_write(src, data)
    prep_desc(d, DSA_OPCODE_MEMMOVE, src=src, dst=dst, size=size, ie=ie)
    assert idxd_submit_desc(idxd, wq, d) == 0
    rec = wait_for_completion(idxd, d, IRQ_WAIT_NS)
    assert rec.status == DSA_COMP_SUCCESS and ops.mem_read(dst, size) == data, f"{d}: {rec.status_name}"
    idxd_free_desc(wq, d)


def physical_matches_routes(a, host_ops, bench) -> int:
    """Every live trapped entry's physical entry holds its route's host message; returns how many."""
    n = 0
    for table in [a.vm.msix, *a.ims]:
        for key, entry in table.entries.items():
            if entry.route is None:
                continue
            base = bench.bar0_addr + table._physical(key)
            words = [host_ops.mmio_read32(base + o) for o in (0, 4, 8)]
            msg = entry.route.host_msg
            assert words == [msg.address_lo, msg.address_hi, msg.data], (key, words, msg)
            n += 1
    return n


def driver_flr_in_guest(bench, host_ops, kind: str) -> dict:
    rng, p = bench.rng, bench.params
    pasid = ARM_SSIDS[1] if kind == "arm-vits" else PASID_DEDICATED
    a = assigned_guest(bench, host_ops, kind, pasids=(pasid,))
    plat = bench.platform
    notes_before = len(posted_notifications(plat.model.deliveries))
    idxd = imsdev_probe(a.ops)
    wq = idxd.wqs[0]
    idxd.wq_configure(wq, size=min(4, p.wq_depth), dedicated=True, pasid=pasid)
    idxd.wq_enable(wq)
    ie_ims = wq_alloc_ims_irq(idxd, wq, pasid, 0)
    expected = {}

    def run_both(dev, w, ims_ie):
        for ie in (w.msix_ie, ims_ie):
            complete_one(dev, w, ie, a.ops, rng)
            expected[ie.desc.parent.expected] = expected.get(ie.desc.parent.expected, 0) + 1
            a.expect_consumed(plat, ie.desc.parent)

    run_both(idxd, wq, ie_ims)
    before = physical_matches_routes(a, host_ops, bench)
    idxd.iowrite32(regs.CSR_SCRATCH, 0x5A5A_A5A5)
    new = imsdev_reset(idxd)
    assert new.ioread32(regs.CSR_SCRATCH) == 0, "the guest's FLR did not reset the device"
    assert a.flrs == 1, "the VMM did not see the guest's FLR"
    wq2 = new.wqs[0]
    (ie2,) = wq2.ims_ies
    assert (ie2.desc.hwirq, ie2.desc.chip_data.pasid) == (0, pasid)
    run_both(new, wq2, ie2)
    after = physical_matches_routes(a, host_ops, bench)
    # every guest interrupt the driver took, exactly as many times as completions asked for it
    got = {}
    if kind == "arm-vits":
        for d in a.vm.guest_cpus.deliveries:
            got[d.key] = got.get(d.key, 0) + 1
    else:
        for v in a.vm.vcpus:
            for vector, n in v.counts.items():
                got[(v.index, vector)] = n
    imsdev_remove(new)
    a.release()
    assert not a.vm.msix.rejected and not any(t.rejected for t in a.ims), "the VMM refused a message"
    assert not plat.dma_faults, plat.dma_faults
    return {"expected": expected, "got": got, "routes": (before, after),
            "notes": len(posted_notifications(plat.model.deliveries)) - notes_before}


@cocotb.test()
@cocotb.parametrize(pauses=PAUSES, kind=KINDS)
async def test_driver_flr_in_guest(dut, pauses, kind):
    bench, host_ops = await start(dut, pauses)
    out = await run_blocking(driver_flr_in_guest, bench, host_ops, kind)
    assert out["got"] == out["expected"], f"guest interrupts {out['got']}, expected {out['expected']}"
    # two vectors in use (error, WQ) and one IMS slot, before and after the reset; nothing stale
    assert out["routes"][0] >= 3 and out["routes"][1] >= 3, out["routes"]
    await finish_guests(bench, {"routes": out["routes"]}, out["notes"])


# ============================================================================ two guests, separate WQs
def in_interrupt_window(addr: int) -> bool:
    return addr & INTERRUPT_WINDOW_MASK == INTERRUPT_WINDOW_BASE


def two_guests_separate_wqs(bench, host_ops) -> dict:
    plat, p = bench.platform, bench.params
    rid = bench.requester_id
    host = BenchX86Host(plat.model)
    host_idxd = imsdev_probe(host_ops)
    guests = []
    for n, (name, cpus) in enumerate((("A", (0, 1)), ("B", (2, 3)))):
        wq_id = GUEST_WQS[n]
        vm = x86_guest(bench, host, host_ops, name, pcpus=cpus, posted=True, did=0, attach_dma=False)
        hpasid = plat.sva.pasids.alloc()
        plat.sva.attach_pasid_second_level(rid, hpasid, vm.guest.iommu_tables, GUEST_DIDS[n])
        wq = host_idxd.wqs[wq_id]
        host_idxd.wq_configure(wq, size=p.wq_depth, dedicated=True, pasid=hpasid)
        host_idxd.wq_enable(wq)
        trapped = TrappedIms(OpsDevice(host_ops, bench.bar0_addr), vm.routing, wq_id, IMS_SLOTS)
        trapped.install(vm.bar)

        def grant(index: int, wq_id=wq_id) -> int:
            return host_idxd.request_int_handle("ims", index, wq_id)

        view = GuestDedicatedWq(vm.ops, wq_id=wq_id, portal=wq.portal, size=p.wq_depth, ims_slots=IMS_SLOTS,
                                grant_handle=grant)
        guests.append((vm, view, trapped, hpasid))
    hpasids = [g[3] for g in guests]
    assert len(set(hpasids)) == 2
    try:
        return _two_guests_traffic(bench, host_ops, host_idxd, guests, hpasids)
    finally:
        for _, _, _, hpasid in guests:
            plat.sva.pasids.free(hpasid)


def _two_guests_traffic(bench, host_ops, host_idxd, guests, hpasids) -> dict:
    plat, p, rng = bench.platform, bench.params, bench.rng
    model, rid = plat.model, bench.requester_id
    hwq = host_idxd.wqs[0]

    ies = [view.alloc_ims(pasid=None) for _, view, _, _ in guests]
    plan = [(DSA_OPCODE_MEMMOVE, rng.randint(1, 1500)), (DSA_OPCODE_MEMFILL, rng.randint(1, 900)),
            (DSA_OPCODE_NOOP, 0), (DSA_OPCODE_MEMMOVE, rng.randint(1, 300))]
    jobs = {vm.name: [prepare_job(view, ie, op, size, rng) for op, size in plan]
            for (vm, view, _, _), ie in zip(guests, ies)}
    assert [j.dst for j in jobs["A"]] == [j.dst for j in jobs["B"]], "both guests use the same GPAs"
    before = {vm.name: vm.guest.memory.read(0, vm.guest.memory.size) for vm, _, _, _ in guests}
    host_pool = host_ops.mem_read(hwq.pool.compls, hwq.pool.size * 32) if hwq.pool else b""
    log_mark = len(bench.rc.upstream_log)
    exits_mark = [vm.exits.mark() for vm, _, _, _ in guests]
    notes_mark = len(posted_notifications(model.deliveries))

    for k in range(len(plan)):                       # interleaved: A, B, A, B on their own WQs
        for vm, view, _, _ in guests:
            assert idxd_submit_desc(view.idxd, view.wq, jobs[vm.name][k].desc) == 0
    for vm, view, _, _ in guests:
        for job in jobs[vm.name]:
            rec = wait_for_completion(view.idxd, job.desc, IRQ_WAIT_NS)
            assert rec.status == DSA_COMP_SUCCESS, f"{vm.name} {job.desc}: {rec.status_name}"
            if job.want:
                assert view.ops.mem_read(job.dst, len(job.want)) == job.want, f"{vm.name} {job.desc}: data"
    n = len(plan)

    # Zero cross-DMA: each guest's whole RAM is its own image plus exactly its own jobs' writes
    for vm, view, _, _ in guests:
        want = bytearray(before[vm.name])
        for job in jobs[vm.name]:
            for gpa, data in job.writes(view.ops):
                want[gpa:gpa + len(data)] = data
        got = vm.guest.memory.read(0, len(want))
        if got != bytes(want):
            bad = next(i for i in range(len(got)) if got[i] != want[i])
            raise AssertionError(f"guest {vm.name}: RAM differs from its own image at GPA {bad:#x}")
    if hwq.pool:
        assert host_ops.mem_read(hwq.pool.compls, hwq.pool.size * 32) == host_pool

    # On the link: every DMA TLP carries its WQ's host PASID; one record write per job
    dma = [r for r in list(bench.rc.upstream_log)[log_mark:] if r.kind in ("MRd", "MWr")
           and not in_interrupt_window(r.address)]
    assert {r.pasid for r in dma} == set(hpasids), {r.pasid for r in dma}
    for vm, _, _, hpasid in guests:
        records = {j.desc.compl_addr for j in jobs[vm.name]}
        writes = [r for r in dma if r.kind == "MWr" and r.pasid == hpasid and r.address in records]
        assert len(writes) == n, f"{vm.name}: {len(writes)} record writes with its host PASID, {n} jobs"
    assert not plat.dma_faults, plat.dma_faults[:4]

    # Zero cross-delivery: each guest's IMS vector exactly n times at its own vCPU, posted, no exit. A record
    # can be reaped before its interrupt arrives: the guest kernel handles those interrupts as they come.
    for (vm, view, trapped, _), ie, mark in zip(guests, ies, exits_mark):
        target, vector = ie.desc.parent.target, ie.desc.parent.vector
        vcpus = vm.vcpus
        wait_until(host_ops, lambda: vcpus[target].count(vector) >= n, f"{vm.name}'s {n} interrupts")
        view.idxd.core.handle_pending(0)
        assert ie.desc.count == n and ie.desc.unhandled <= ie.reaped_early and not view.idxd.core.spurious
        assert vcpus[target].counts == {vector: n}, (vm.name, vcpus[target].counts)
        assert {i.how for i in vcpus[target].received} == {"posted"}
        assert all(not v.received for v in vcpus if v is not vcpus[target]), vm.name
        assert vm.exits.since(mark) == {}, vm.exits.since(mark)
        assert not trapped.rejected, trapped.rejected
    notes = len(posted_notifications(model.deliveries)) - notes_mark
    assert notes == 2 * n and not model.iommu.posted_errors, notes

    for (vm, view, trapped, hpasid), ie, did in zip(guests, ies, GUEST_DIDS):
        for job in jobs[vm.name]:
            idxd_free_desc(view.wq, job.desc)
        view.free_ims(ie)
        trapped.release_all()
        host_idxd.release_int_handle("ims", ie.desc.hwirq, view.wq.id)
        host_idxd.wq_disable(host_idxd.wqs[view.wq.id])
        plat.sva.detach_pasid(rid, hpasid, did)
    imsdev_remove(host_idxd)
    return {"hpasids": hpasids, "jobs": 2 * n, "notifications": len(posted_notifications(model.deliveries))}


if PLATFORM == "x86" and NUM_WQ > max(GUEST_WQS):
    @cocotb.test()
    @cocotb.parametrize(pauses=PAUSES)
    async def test_two_guests_separate_wqs(dut, pauses):
        bench, host_ops = await start(dut, pauses)
        checked = await run_blocking(two_guests_separate_wqs, bench, host_ops)
        await finish_guests(bench, checked, checked["notifications"])
