"""Guest PASIDs on the RTL (issue 10 item 6, docs/vmm.md): two VMs share one shared WQ of a device the host driver
owns; in each, a guest process uses the *same* guest PASID value and the same virtual addresses.

The VMM (tb/vmm/guest_sva.py) gives each guest process a host PASID, binds it nested in VT-d (PGTT 011b: the
process's first-level tables in guest RAM over the VM's second level), puts guest -> host in the VM's
PASID-translation table (tb/vmm/pasid.py: what the CPU walks for ENQCMD in VMX non-root) and traps the guest's
IMS slots, binding the physical slot to the host PASID. The guest runs the unchanged driver model's submission
and IMS code (idxd_submit_desc, wq_alloc_ims_irq, wait_for_completion) on its view of the WQ.

* test_guest_pasid_shared_wq (x86): every DMWr on the link carries the submitting guest's host PASID in its
  prefix and DWORD 0 (never the guest PASID), exactly one per ENQCMD executed; every DMA TLP of the device
  carries one of the two host PASIDs; each guest's IMS slot is bound to its host PASID on the device (its own
  view shows the guest PASID); each completion interrupt arrives exactly once at its own vCPU, posted; each
  guest's whole RAM is byte-exact against its own expected image (zero cross-DMA) and the other guest's
  vCPUs took nothing (zero cross-delivery); an ENQCMD with a guest PASID that is not in the table is a VM exit
  72 and puts nothing on the link; guest B's descriptor naming A's IMS entry (A's granted handle) sends no
  interrupt, leaves A's entry not pending, and the host driver's error interrupt reports SWERR IMS_PASID with
  B's host PASID.
"""
from __future__ import annotations

import cocotb

from imsdev import regs
from imsdev.driver import imsdev_probe, imsdev_remove
from imsdev.driver.submit import idxd_free_desc, idxd_submit_desc, wait_for_completion
from imsdev.driver.uapi import (DSA_COMP_SUCCESS, DSA_OPCODE_MEMFILL, DSA_OPCODE_MEMMOVE, DSA_OPCODE_NOOP,
                                IDXD_OP_FLAG_RCI)
from imsdev.platform.x86_posted import POSTED_INTR_VECTOR
from tb.driver_ops import BenchOps
from tb.env import Bench
from tb.platform.vtd_ir import INTERRUPT_WINDOW_BASE, INTERRUPT_WINDOW_MASK
from tb.platform_bench import platform_name
from tb.tests.fw.common import run_blocking
from tb.vmm.bench import (GUEST_PLATFORM_OPTIONS, BenchX86Host, finish_guests, posted_notifications, wait_until,
                          x86_guest)
from tb.vmm.exits import ExitReason
from tb.vmm.guest_sva import DmwrLog, prepare_job, release_sva_guest, sva_guest
from tb.vmm.pasid import IA32_PASID_VALID, GuestPasidFault

PLATFORM = platform_name()
PAUSES = ("none", "both")
IRQ_WAIT_NS = 100_000
QUIET_NS = 2_000
ROUNDS, PER_ROUND = 2, 2            # per guest; a round's 2 x 2 descriptors fit the small build's 4-deep WQ
GUEST_DIDS = (0x101, 0x102)         # VT-d domain IDs of the guests' nested entries (clear of the host's)


async def start(dut, pauses: str):
    bench = await Bench.start(dut, pauses=pauses, platform_options=GUEST_PLATFORM_OPTIONS[PLATFORM])
    assert bench.platform is not None and bench.platform.name == PLATFORM
    bench.log.info("test_guest_pasid: seed %d (replay with SEED=%d)", bench.seed, bench.seed)
    return bench, BenchOps(bench)


def ims_ctrl(host_ops, bench, slot: int) -> int:
    return host_ops.mmio_read32(bench.bar0_addr + regs.ims_at(0) + slot * regs.IMS_ENTRY_STRIDE
                                + regs.IMS_ENTRY_CTRL)


def bound(pasid: int) -> int:
    return regs.IMS_ENTRY_CTRL_PASID_EN_MASK | pasid << regs.IMS_ENTRY_CTRL_PASID_SHIFT


def in_interrupt_window(addr: int) -> bool:
    return addr & INTERRUPT_WINDOW_MASK == INTERRUPT_WINDOW_BASE


def check_ram(sg, before: bytes, jobs) -> None:
    """The guest's whole RAM equals its image before the jobs with exactly its own jobs' writes applied."""
    want = bytearray(before)
    for job in jobs:
        for va, data in job.writes(sg.ops):
            for off in range(0, len(data)):
                want[sg.ops.gpa(va + off)] = data[off]
    got = sg.vm.guest.memory.read(0, len(want))
    if got != bytes(want):
        bad = next(i for i in range(len(got)) if got[i] != want[i])
        tables = bad - bad % 4096 in sg.process.page_tables.tables
        raise AssertionError(f"guest {sg.vm.name}: RAM differs from its own expected image at GPA {bad:#x}"
                             f"{' (a page-table page)' if tables else ''}: {got[bad]:#04x} != {want[bad]:#04x}")


def shared_wq_guests(bench, host_ops) -> dict:
    plat, p, rng = bench.platform, bench.params, bench.rng
    model = plat.model
    host = BenchX86Host(model)
    dmwrs = DmwrLog(bench.shim)
    host_idxd = imsdev_probe(host_ops)
    hwq = host_idxd.wqs[0]
    host_idxd.wq_configure(hwq, size=p.wq_depth, dedicated=False)
    host_idxd.wq_enable(hwq)

    gpasid = rng.randrange(0x400, 1 << 20)             # the same guest PASID value in both guests
    half = p.ims_per_wq // 2
    guests = []
    for n, (name, cpus) in enumerate((("A", (0, 1)), ("B", (2, 3)))):
        vm = x86_guest(bench, host, host_ops, name, pcpus=cpus, posted=True, did=0, attach_dma=False)
        guests.append(sva_guest(bench, host_ops, host_idxd, vm, gpasid=gpasid, did=GUEST_DIDS[n], wq_id=0,
                                ims_slots=range(n * half, (n + 1) * half), size=ROUNDS * PER_ROUND))
    a, b = guests
    assert a.hpasid != b.hpasid and gpasid not in (a.hpasid, b.hpasid), (gpasid, a.hpasid, b.hpasid)
    assert a.table.low != b.table.low, "each VM has its own PASID-translation table"

    # IMS: each guest binds its slot to its guest PASID; the device's slot holds the host PASID
    ies = [sg.view.alloc_ims(pasid=gpasid) for sg in guests]
    for sg, ie in zip(guests, ies):
        slot = ie.desc.hwirq
        assert ims_ctrl(host_ops, bench, slot) == bound(sg.hpasid), f"{sg.vm.name}: physical IMS CTRL"
        assert sg.ops.mmio_read32(ie.desc.chip_data.base + regs.IMS_ENTRY_CTRL) == bound(gpasid)
        assert not sg.ims.rejected, sg.ims.rejected

    # The same jobs in both guests (same sizes, same virtual addresses), data from the bench rng
    plan = [(DSA_OPCODE_MEMMOVE, rng.randint(1, 1500)), (DSA_OPCODE_MEMFILL, rng.randint(1, 900)),
            (DSA_OPCODE_NOOP, 0), (DSA_OPCODE_MEMMOVE, rng.randint(1, 300))]
    jobs = {sg.vm.name: [prepare_job(sg.view, ie, op, size, rng) for op, size in plan]
            for sg, ie in zip(guests, ies)}
    assert [j.dst for j in jobs["A"]] == [j.dst for j in jobs["B"]], "the two processes use the same GVAs"
    before = {sg.vm.name: sg.vm.guest.memory.read(0, sg.vm.guest.memory.size) for sg in guests}
    host_pool = host_ops.mem_read(hwq.pool.compls, hwq.pool.size * 32)
    log_mark, dmwr_mark = len(bench.rc.upstream_log), len(dmwrs.records)
    exits_mark = [sg.exits.mark() for sg in guests]
    posted_mark = len(model.iommu.posted)
    notes_mark = len(posted_notifications(model.deliveries))

    for r in range(ROUNDS):                             # interleaved on the shared WQ: A, B, A, B
        batch = [(sg, jobs[sg.vm.name][r * PER_ROUND + k]) for k in range(PER_ROUND) for sg in guests]
        for sg, job in batch:
            assert idxd_submit_desc(sg.view.idxd, sg.view.wq, job.desc, pasid=gpasid) == 0
        for sg, job in batch:
            rec = wait_for_completion(sg.view.idxd, job.desc, IRQ_WAIT_NS)
            assert rec.status == DSA_COMP_SUCCESS, f"{sg.vm.name} {job.desc}: {rec.status_name}"
            if job.want:
                assert sg.ops.mem_read(job.dst, len(job.want)) == job.want, f"{sg.vm.name} {job.desc}: data"
    n = len(plan)

    # Zero cross-DMA: each guest's RAM is its own image plus its own writes; the host's pool is untouched
    for sg in guests:
        check_ram(sg, before[sg.vm.name], jobs[sg.vm.name])
    assert host_ops.mem_read(hwq.pool.compls, hwq.pool.size * 32) == host_pool

    # Zero cross-delivery: each guest's interrupts exactly once at its own vCPU, posted, nothing else anywhere.
    # A handler can reap a record before that record's own interrupt arrives: wait for the interrupts
    # themselves at the vCPU, then let the guest kernel handle the late ones.
    for sg, ie in zip(guests, ies):
        target, vector = ie.desc.parent.target, ie.desc.parent.vector
        vcpus = sg.vm.vcpus
        wait_until(host_ops, lambda: vcpus[target].count(vector) >= n, f"{sg.vm.name}'s {n} interrupts")
        sg.view.idxd.core.handle_pending(0)
        assert ie.desc.count == n and ie.desc.unhandled <= ie.reaped_early and not sg.view.idxd.core.spurious
        assert vcpus[target].counts == {vector: n}, (sg.vm.name, vcpus[target].counts)
        assert {i.how for i in vcpus[target].received} == {"posted"}
        assert all(not v.received for v in vcpus if v is not vcpus[target]), sg.vm.name
        assert sg.exits.since(exits_mark[guests.index(sg)]) == {}, sg.exits.since(exits_mark[guests.index(sg)])
    assert len(model.iommu.posted) - posted_mark == 2 * n and not model.iommu.posted_errors
    assert len(posted_notifications(model.deliveries)) - notes_mark == 2 * n

    # On the link: DMWrs with the host PASID (prefix and DWORD 0, user), one per ENQCMD; DMA only host PASIDs
    sent = dmwrs.records[dmwr_mark:]
    for sg in guests:
        mine = [d for d in sent if d.pasid == sg.hpasid]
        assert len(mine) == sg.cpu.executed == sg.ops.counts["enqcmd"] >= n, (sg.vm.name, len(mine), sg.cpu.executed)
    assert all(d.pasid in (a.hpasid, b.hpasid) and d.dw0 & 0xFFFFF == d.pasid and not d.dw0 >> 31 and not d.pmr
               for d in sent), [d for d in sent if d.pasid not in (a.hpasid, b.hpasid)][:4]
    dma = [r for r in list(bench.rc.upstream_log)[log_mark:] if r.kind in ("MRd", "MWr")
           and not in_interrupt_window(r.address)]
    assert {r.pasid for r in dma} == {a.hpasid, b.hpasid}, {r.pasid for r in dma}
    for sg in guests:
        records = {j.desc.compl_addr for j in jobs[sg.vm.name]}
        writes = [r for r in dma if r.kind == "MWr" and r.pasid == sg.hpasid and r.address in records]
        assert len(writes) == n, f"{sg.vm.name}: {len(writes)} record writes with its host PASID, {n} jobs"
    assert not plat.dma_faults, plat.dma_faults[:4]
    for sg in guests:
        for job in jobs[sg.vm.name]:
            idxd_free_desc(sg.view.wq, job.desc)

    # A guest PASID the VMM never mapped: VM exit 72 (directory entry not present / table entry not valid),
    # #GP in the guest, nothing on the link
    for stray in (gpasid ^ 1 << 19, gpasid ^ 1):
        a.cpu.write_ia32_pasid(a.ops.vcpu, IA32_PASID_VALID | stray)
        job = prepare_job(a.view, None, DSA_OPCODE_NOOP, 0, rng)
        mark, dmwr_mark = a.exits.mark(), len(dmwrs.records)
        try:
            idxd_submit_desc(a.view.idxd, a.view.wq, job.desc, pasid=stray)
            raise AssertionError(f"ENQCMD with unmapped guest PASID {stray:#x} was executed")
        except GuestPasidFault:
            pass
        assert a.exits.since(mark) == {ExitReason.ENQCMD_PASID_TRANSLATION_FAILURE: 1}, a.exits.since(mark)
        assert len(dmwrs.records) == dmwr_mark, dmwrs.records[dmwr_mark:]
        idxd_free_desc(a.view.wq, job.desc)
    a.cpu.write_ia32_pasid(a.ops.vcpu, IA32_PASID_VALID | gpasid)

    # B names A's IMS entry with A's granted handle: B's record, no interrupt, SWERR IMS_PASID with B's host PASID
    misc = host_idxd.misc_irq.parent
    plat.expect(misc)
    counts = [dict(v.counts) for sg in guests for v in sg.vm.vcpus]
    job = prepare_job(b.view, None, DSA_OPCODE_NOOP, 0, rng)
    job.desc.hw.flags |= IDXD_OP_FLAG_RCI
    job.desc.hw.int_handle = ies[0].int_handle
    assert idxd_submit_desc(b.view.idxd, b.view.wq, job.desc, pasid=gpasid) == 0
    assert wait_for_completion(b.view.idxd, job.desc, IRQ_WAIT_NS).status == DSA_COMP_SUCCESS
    deadline = host_ops.ktime_get_ns() + IRQ_WAIT_NS
    while not host_idxd.sw_errors:
        assert host_ops.ktime_get_ns() < deadline, "no error interrupt for B's descriptor naming A's IMS entry"
        host_idxd.core.handle_pending(1_000)
    err, = host_idxd.sw_errors
    assert (err.code, err.wq_valid, err.wq, err.pasid) == (regs.SWERR_IMS_PASID, True, 0, b.hpasid), str(err)
    host_ops.delay_ns(QUIET_NS)
    assert not ims_ctrl(host_ops, bench, ies[0].desc.hwirq) & regs.IMS_ENTRY_CTRL_PENDING_MASK
    assert [dict(v.counts) for sg in guests for v in sg.vm.vcpus] == counts, "B's descriptor reached a vCPU"
    assert {key[1] for key in host_idxd.core.spurious} <= {POSTED_INTR_VECTOR}, host_idxd.core.spurious
    idxd_free_desc(b.view.wq, job.desc)

    for sg, ie in zip(guests, ies):
        release_sva_guest(sg, host_idxd)
        assert ims_ctrl(host_ops, bench, ie.desc.hwirq) == regs.IMS_ENTRY_CTRL_MASK_MASK, "slot left bound"
    imsdev_remove(host_idxd)
    return {"gpasid": gpasid, "hpasids": [a.hpasid, b.hpasid], "jobs": 2 * n, "dmwr": len(sent),
            "notifications": len(posted_notifications(model.deliveries))}


if PLATFORM == "x86":
    @cocotb.test()
    @cocotb.parametrize(pauses=PAUSES)
    async def test_guest_pasid_shared_wq(dut, pauses):
        bench, host_ops = await start(dut, pauses)
        checked = await run_blocking(shared_wq_guests, bench, host_ops)
        await finish_guests(bench, checked, checked["notifications"])
