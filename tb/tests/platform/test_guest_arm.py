"""ARM guests on the RTL (issue 10 items 3, 6, 7 on ARM; docs/vmm.md): guest SubstreamIDs through SMMUv3 nested
translation, and the three IMS designs on a GICv3 ITS with virtual ITSes.

* test_guest_arm_pasid: the host driver owns the device (WQ0 shared). One VM whose kernel owns a CD table in its
  RAM (IPAs); the VMM installs the nested STE (Config 111b: the guest's CD table over the VM's stage 2,
  tb/vmm/arm_sva.py) and forwards the guest's CFGI_CDs. Two guest processes with the *same* virtual addresses
  get CDs at SSIDs the guest kernel chose (bench rng); they submit through the unchanged driver-model
  submission code on the guest's view of the WQ, each with its own IMS slot bound to its SSID (trapped IMS,
  design (c)). There is no PASID translation on ARM: the SSID on the link is the guest's. Checked: every DMWr
  and every DMA TLP carries one of the two guest SSIDs, one record write per job with its process's SSID,
  data and records exact in each process's address space, the guest's whole RAM byte-exact (zero cross-DMA),
  each completion interrupt one host LPI, one injection through the vITS, exactly once at its own vCPU (zero
  cross-delivery), the physical IMS slot bound to the guest's SSID (the guest's view shows the same value); an
  SSID without a CD in the guest's table is C_BAD_CD for that SSID and its record write is dropped.
* test_two_vms_host_stage1: the nested STE gives a StreamID's every SSID and its one stage 2 to one VM, so two
  VMs share the function the other way: the host's CD table gets, per VM, an SSID whose stage 1 maps the VM's
  GPAs; the VMM traps the VMs' portal writes to put that SSID on them. Zero cross-DMA, zero cross-delivery.
* test_ims_designs_arm (designs a/b/c): tb/vmm/report.py's ARM scenario on the RTL's IMS: the host driver owns
  the device, two VMs A/B (vITS each, virtual DeviceID 0x10) on IMS slots 0/1 of WQ0; exits per setup /
  mask+unmask / interrupt, delivery exactly once (also the masked-pending replay), and B's copy of A's message.
"""
from __future__ import annotations

from collections import Counter

import cocotb

from imsdev import regs
from imsdev.driver import imsdev_probe, imsdev_remove
from imsdev.driver.submit import idxd_alloc_desc, idxd_free_desc, idxd_submit_desc, prep_desc, read_completion
from imsdev.driver.submit import wait_for_completion
from imsdev.driver.uapi import (DSA_COMP_SUCCESS, DSA_OPCODE_MEMFILL, DSA_OPCODE_MEMMOVE, DSA_OPCODE_NOOP,
                                IDXD_OP_FLAG_RCI, ims_int_handle)
from imsdev.platform import MsiMsg
from imsdev.platform.iommu_sva import Process
from tb.driver_ops import BenchOps
from tb.env import Bench
from tb.platform.smmu import MSI_IOVA_BASE, MSI_IOVA_LENGTH
from tb.platform.smmu_dma import SmmuEventId
from tb.platform_bench import platform_name
from tb.tests.fw.common import run_blocking
from tb.vmm.arm_sva import GuestArmSvaOps, GuestCdTable, TrappedPortalOps, VirtualSmmu, host_stage1_vm
from tb.vmm.bench import GUEST_PLATFORM_OPTIONS, arm_guest, finish_guests, wait_until
from tb.vmm.device import OpsDevice
from tb.vmm.exits import ExitReason
from tb.vmm.guest_sva import DmwrLog, GuestSharedWq, prepare_job
from tb.vmm.ims import GuestImsDriver
from tb.vmm.ims_arm import ArmVm, arm_design
from tb.vmm.trap import GuestBar, TrappedIms

PLATFORM = platform_name()
PAUSES = ("none", "both")
VRID = 0x0010                  # the device's DeviceID in each guest (virtual, per VM)
IRQ_WAIT_NS = 100_000
QUIET_NS = 2_000
ROUNDS, PER_ROUND = 2, 2       # per process; a round's 2 x 2 descriptors fit the small build's 4-deep WQ
S1CDMAX = 10                   # the guest's linear CD table: 1024 SSIDs (64 KiB in guest RAM)
VMID = 1


async def start(dut, pauses: str, name: str):
    bench = await Bench.start(dut, pauses=pauses, platform_options=GUEST_PLATFORM_OPTIONS[PLATFORM])
    assert bench.platform is not None and bench.platform.name == PLATFORM
    bench.log.info("%s: seed %d (replay with SEED=%d)", name, bench.seed, bench.seed)
    return bench, BenchOps(bench)


def bound(pasid: int) -> int:
    return regs.IMS_ENTRY_CTRL_PASID_EN_MASK | pasid << regs.IMS_ENTRY_CTRL_PASID_SHIFT


def ims_ctrl(host_ops, bench, slot: int) -> int:
    return host_ops.mmio_read32(bench.bar0_addr + regs.ims_at(0) + slot * regs.IMS_ENTRY_STRIDE
                                + regs.IMS_ENTRY_CTRL)


def in_msi_window(addr: int) -> bool:
    return MSI_IOVA_BASE <= addr < MSI_IOVA_BASE + MSI_IOVA_LENGTH


def bits(value: int, hi: int, lo: int) -> int:
    return value >> lo & ((1 << (hi - lo + 1)) - 1)


# ============================================================================ guest SSIDs, SMMUv3 nested
def arm_guest_pasid(bench, host_ops) -> dict:
    plat, p, rng = bench.platform, bench.params, bench.rng
    model, rid = plat.model, bench.requester_id
    dmwrs = DmwrLog(bench.shim)
    host_idxd = imsdev_probe(host_ops)
    hwq = host_idxd.wqs[0]
    host_idxd.wq_configure(hwq, size=p.wq_depth, dedicated=False)
    host_idxd.wq_enable(hwq)

    g = arm_guest(bench, host_ops, "A", virtual_device_id=VRID, vmid=VMID)
    vsmmu = VirtualSmmu(bench, g, vmid=VMID)
    mark = g.exits.mark()
    cd_table = GuestCdTable(g.guest, S1CDMAX)
    vsmmu.install_vste(cd_table)
    ssids = rng.sample(range(1, 1 << S1CDMAX), 2)          # the guest kernel's choice
    procs = []
    for n, ssid in enumerate(ssids):
        process = Process(f"A:{ssid:#x}", g.guest.memory, g.guest.allocator, "arm")
        cd_table.write_cd(ssid, process, asid=n + 1)
        vsmmu.invalidate_cd(ssid)
        procs.append(GuestArmSvaOps(g, process, ssid))
    assert g.exits.since(mark) == {ExitReason.EPT_VIOLATION: 3}, g.exits.since(mark)   # vSTE + 2 CFGI_CD
    assert vsmmu.forwarded == [("cfgi-ste", rid)] + [("cfgi-cd", rid, s) for s in ssids]

    # The physical STE: Config 111b, S1ContextPtr = the guest's CD table (an IPA), S1CDMax the guest's, over the
    # VM's stage 2 (S2TTB, S2VMID): one per StreamID
    ste = int.from_bytes(model.memory.read(plat.sva.strtab + 64 * rid, 64), "little")
    assert (bits(ste, 0, 0), bits(ste, 3, 1), bits(ste, 51, 6) << 6, bits(ste, 63, 59)) == \
        (1, 0b111, cd_table.ipa, S1CDMAX)
    assert (bits(ste, 143, 128), bits(ste, 243, 196) << 4) == (VMID, g.guest.iommu_tables.root)

    # The guest's IMS slots (A's process: 0..half-1, B's: half..) trapped, bound to the guest's own SSIDs
    trapped = TrappedIms(OpsDevice(host_ops, bench.bar0_addr), g.routing, 0, range(0, p.ims_per_wq),
                         pasid_map=vsmmu.ssid_map)
    trapped.install(g.bar)
    granted: list[int] = []

    def grant(index: int) -> int:
        granted.append(index)
        return (host_idxd.request_int_handle("ims", index, 0) if host_idxd.request_int_handles
                else ims_int_handle(index))

    half = p.ims_per_wq // 2
    views = [GuestSharedWq(ops, wq_id=0, portal=hwq.portal, size=ROUNDS * PER_ROUND,
                           ims_slots=range(n * half, (n + 1) * half), grant_handle=grant)
             for n, ops in enumerate(procs)]
    ies = []
    for ops, view in zip(procs, views):
        ie = view.alloc_ims(pasid=ops.accdata)
        ops.irq_keys.add(ie.desc.parent.expected)
        ies.append(ie)
        slot = ie.desc.hwirq
        assert ims_ctrl(host_ops, bench, slot) == bound(ops.accdata), "physical IMS CTRL: the guest's SSID"
        assert ops.mmio_read32(ie.desc.chip_data.base + regs.IMS_ENTRY_CTRL) == bound(ops.accdata)
    assert not trapped.rejected and not g.vits.dropped, (trapped.rejected, g.vits.dropped)
    keys = [ie.desc.parent.expected for ie in ies]
    assert keys[0] != keys[1] and keys[0][0] != keys[1][0], keys      # two LPIs, on the two vCPUs
    routes = [trapped.entries[(0, ie.desc.hwirq)].route for ie in ies]

    plan = [(DSA_OPCODE_MEMMOVE, rng.randint(1, 1500)), (DSA_OPCODE_MEMFILL, rng.randint(1, 900)),
            (DSA_OPCODE_NOOP, 0), (DSA_OPCODE_MEMMOVE, rng.randint(1, 300))]
    n = len(plan)
    jobs = [[prepare_job(view, ie, op, size, rng) for op, size in plan] for view, ie in zip(views, ies)]
    assert [j.dst for j in jobs[0]] == [j.dst for j in jobs[1]], "the two processes use the same GVAs"
    assert not {procs[0].gpa(j.dst) for j in jobs[0] if j.want} & {procs[1].gpa(j.dst) for j in jobs[1] if j.want}
    for route in routes:
        plat.expect(route.host_irq, n)
    before = g.guest.memory.read(0, g.guest.memory.size)
    log_mark, dmwr_mark, exits_mark = len(bench.rc.upstream_log), len(dmwrs.records), g.exits.mark()

    for r in range(ROUNDS):                               # interleaved on the shared WQ: A, B, A, B
        batch = [(k, jobs[k][r * PER_ROUND + i]) for i in range(PER_ROUND) for k in (0, 1)]
        for k, job in batch:
            assert idxd_submit_desc(views[k].idxd, views[k].wq, job.desc, pasid=procs[k].accdata) == 0
        for k, job in batch:
            rec = wait_for_completion(views[k].idxd, job.desc, IRQ_WAIT_NS)
            assert rec.status == DSA_COMP_SUCCESS, f"process {k} {job.desc}: {rec.status_name}"
            if job.want:
                assert procs[k].mem_read(job.dst, len(job.want)) == job.want, f"process {k} {job.desc}: data"

    # Zero cross-DMA: the guest's whole RAM is its image plus exactly each process's own writes
    want = bytearray(before)
    for ops, mine in zip(procs, jobs):
        for job in mine:
            for va, data in job.writes(ops):
                for off, byte in enumerate(data):
                    want[ops.gpa(va + off)] = byte
    got = g.guest.memory.read(0, len(want))
    if got != bytes(want):
        bad = next(i for i in range(len(got)) if got[i] != want[i])
        raise AssertionError(f"guest RAM differs from its expected image at GPA {bad:#x}")

    # Zero cross-delivery: each process's interrupt exactly n times, at its own vCPU, one injection each. A
    # handler may reap a later completion before that completion's own interrupt arrives: wait for the
    # interrupts themselves, then let each process's kernel handle what is pending
    wait_until(procs[0], lambda: len(g.guest_cpus.deliveries) >= 2 * n, "all completion interrupts", IRQ_WAIT_NS)
    for view in views:
        view.idxd.core.handle_pending(0)
    for ie in ies:
        assert ie.desc.count == n and ie.desc.unhandled <= ie.reaped_early, (ie.desc.count, ie.desc.unhandled)
    assert not any(v.idxd.core.spurious for v in views)
    assert Counter(d.key for d in g.guest_cpus.deliveries) == Counter({keys[0]: n, keys[1]: n})
    assert g.exits.since(exits_mark) == {ExitReason.EXTERNAL_INTERRUPT: 2 * n}, g.exits.since(exits_mark)
    assert g.vits.injected == 2 * n and not g.vits.dropped_injections and not g.vits.errors

    # On the link: the guest's SSIDs, untranslated; DMWr DW0 = ACCDATA_EL1 (user); DMA only these SSIDs
    sent = dmwrs.records[dmwr_mark:]
    for ops in procs:
        mine = [d for d in sent if d.pasid == ops.accdata]
        assert len(mine) == ops.counts["st64bv0"] >= n, (ops.accdata, len(mine), ops.counts["st64bv0"])
    assert all(d.pasid in ssids and d.dw0 == d.pasid and not d.pmr for d in sent), sent[:4]
    dma = [t for t in list(bench.rc.upstream_log)[log_mark:] if t.kind in ("MRd", "MWr")
           and not in_msi_window(t.address)]
    assert {t.pasid for t in dma} == set(ssids), {t.pasid for t in dma}
    for ops, mine in zip(procs, jobs):
        records = {j.desc.compl_addr for j in mine}
        writes = [t for t in dma if t.kind == "MWr" and t.pasid == ops.accdata and t.address in records]
        assert len(writes) == n, f"SSID {ops.accdata:#x}: {len(writes)} record writes, {n} jobs"
    assert not plat.dma_faults, plat.dma_faults[:4]
    for view, mine in zip(views, jobs):
        for job in mine:
            idxd_free_desc(view.wq, job.desc)

    # An SSID the guest kernel wrote no CD for (ACCDATA_EL1 loaded with it): the device sends it as it is, the
    # SMMU indexes the *guest's* CD table with it and finds V = 0: C_BAD_CD for that SSID, the record dropped
    stray = rng.choice([s for s in range(1, 1 << S1CDMAX) if s not in ssids])
    ops = procs[0]
    ops.accdata = stray
    job = prepare_job(views[0], None, DSA_OPCODE_NOOP, 0, rng)
    plat.expect_fault(SmmuEventId.C_BAD_CD, requester_id=rid)
    assert idxd_submit_desc(views[0].idxd, views[0].wq, job.desc, pasid=stray) == 0
    wait_until(ops, lambda: len(plat.dma_faults) == 1, "the SMMU's C_BAD_CD")
    ops.delay_ns(QUIET_NS)
    fault, = plat.dma_faults
    assert (fault.event_id, fault.stream_id, fault.substream_id, fault.is_write) == \
        (SmmuEventId.C_BAD_CD, rid, stray, True), fault
    assert ops.mem_read(job.desc.compl_addr, 32) == bytes(32), "a record written for an SSID without a CD"
    assert [d.pasid for d in dmwrs.records[len(sent) + dmwr_mark:]] == [stray]
    ops.accdata = ssids[0]
    idxd_free_desc(views[0].wq, job.desc)

    for view in views:
        for ie in list(view.wq.ims_ies):
            view.free_ims(ie)
    trapped.release_all()
    for index in granted if host_idxd.request_int_handles else ():
        host_idxd.release_int_handle("ims", index, 0)
    for ie in ies:
        assert ims_ctrl(host_ops, bench, ie.desc.hwirq) == regs.IMS_ENTRY_CTRL_MASK_MASK, "slot left bound"
    imsdev_remove(host_idxd)
    return {"ssids": ssids, "jobs": 2 * n, "dmwr": len(sent), "dma": len(dma)}


if PLATFORM == "arm":
    @cocotb.test()
    @cocotb.parametrize(pauses=PAUSES)
    async def test_guest_arm_pasid(dut, pauses):
        bench, host_ops = await start(dut, pauses, "test_guest_arm_pasid")
        checked = await run_blocking(arm_guest_pasid, bench, host_ops)
        await finish_guests(bench, checked)


# ============================================================================ two VMs, host stage 1 per SSID
def two_vms_host_stage1(bench, host_ops) -> dict:
    """The ARM limit and its alternative: the nested STE of test_guest_arm_pasid gives the whole StreamID (every
    SSID, one stage 2) to one VM. Two VMs share the function here instead through the host's CD table: the host
    binds, per VM, an SSID whose stage-1 table maps that VM's GPAs onto its host pages, traps each VM's portal
    writes to put that SSID on them, and traps its IMS slots (bound to the VM's SSID on the device)."""
    plat, p, rng = bench.platform, bench.params, bench.rng
    model, rid = plat.model, bench.requester_id
    dmwrs = DmwrLog(bench.shim)
    host_idxd = imsdev_probe(host_ops)
    hwq = host_idxd.wqs[0]
    host_idxd.wq_configure(hwq, size=p.wq_depth, dedicated=False)
    host_idxd.wq_enable(hwq)
    ste_before = model.memory.read(plat.sva.strtab + 64 * rid, 64)
    nominal = rng.randrange(1 << S1CDMAX, 1 << 20)   # the PASID both guest kernels use (their view only)
    half = p.ims_per_wq // 2
    vms, ssids, views, traps, ies = [], [], [], [], []
    for n, name in enumerate(("A", "B")):
        vm = ArmVm(model, name, requester_id=rid, virtual_device_id=VRID)
        _, ssid = host_stage1_vm(plat.sva, rid, model.memory, model.allocator, vm)
        bar = GuestBar(OpsDevice(host_ops, bench.bar0_addr), vm.exits)
        trap = TrappedIms(bar.device, vm.routing, 0, range(n * half, (n + 1) * half),
                          pasid_map=lambda g, s=ssid: s if g == nominal else None)
        trap.install(bar)
        ops = TrappedPortalOps(host_ops, vm, bar, VRID, bench.bar0_addr, regs.BAR0_SIZE, ssid=ssid)
        view = GuestSharedWq(ops, wq_id=0, portal=hwq.portal, size=ROUNDS * PER_ROUND,
                             ims_slots=range(n * half, (n + 1) * half),
                             grant_handle=lambda i: (host_idxd.request_int_handle("ims", i, 0)
                                                     if host_idxd.request_int_handles else ims_int_handle(i)))
        ie = view.alloc_ims(pasid=nominal)
        assert ims_ctrl(host_ops, bench, ie.desc.hwirq) == bound(ssid), f"{name}: physical IMS CTRL"
        assert ops.mmio_read32(ie.desc.chip_data.base + regs.IMS_ENTRY_CTRL) == bound(nominal)
        vms.append(vm), ssids.append(ssid), views.append(view), traps.append(trap), ies.append(ie)
    assert model.memory.read(plat.sva.strtab + 64 * rid, 64) == ste_before, "the STE stays the host's"
    assert len(set(ssids)) == 2 and not any(t.rejected for t in traps)
    routes = [t.entries[(0, ie.desc.hwirq)].route for t, ie in zip(traps, ies)]

    plan = [(DSA_OPCODE_MEMMOVE, rng.randint(1, 1500)), (DSA_OPCODE_MEMFILL, rng.randint(1, 900)),
            (DSA_OPCODE_NOOP, 0), (DSA_OPCODE_MEMMOVE, rng.randint(1, 300))]
    n = len(plan)
    jobs = [[prepare_job(view, ie, op, size, rng) for op, size in plan] for view, ie in zip(views, ies)]
    for route in routes:
        plat.expect(route.host_irq, n)
    before = [vm.guest.memory.read(0, vm.guest.memory.size) for vm in vms]
    log_mark, dmwr_mark = len(bench.rc.upstream_log), len(dmwrs.records)
    marks = [vm.exits.mark() for vm in vms]
    for r in range(ROUNDS):
        batch = [(k, jobs[k][r * PER_ROUND + i]) for i in range(PER_ROUND) for k in (0, 1)]
        for k, job in batch:
            assert idxd_submit_desc(views[k].idxd, views[k].wq, job.desc, pasid=nominal) == 0
        for k, job in batch:
            rec = wait_for_completion(views[k].idxd, job.desc, IRQ_WAIT_NS)
            assert rec.status == DSA_COMP_SUCCESS, f"VM {k} {job.desc}: {rec.status_name}"
            if job.want:
                assert views[k].ops.mem_read(job.dst, len(job.want)) == job.want, f"VM {k} {job.desc}: data"
    assert [j.dst for j in jobs[0]] == [j.dst for j in jobs[1]], "both VMs use the same GPAs"

    for view, vm in zip(views, vms):                   # the interrupts themselves (a handler may reap early)
        wait_until(view.ops, lambda: len(vm.cpus.deliveries) >= n, f"VM {vm.name}'s interrupts", IRQ_WAIT_NS)
        view.idxd.core.handle_pending(0)
    for k, vm in enumerate(vms):                       # zero cross-DMA: each VM's RAM is its own image + writes
        want = bytearray(before[k])
        for job in jobs[k]:
            for gpa, data in job.writes(views[k].ops):
                want[gpa:gpa + len(data)] = data
        assert vm.guest.memory.read(0, len(want)) == bytes(want), f"VM {vm.name}: RAM differs"
        ie = ies[k]
        assert ie.desc.count == n and ie.desc.unhandled <= ie.reaped_early and not views[k].idxd.core.spurious
        assert [d.key for d in vm.cpus.deliveries] == [ie.desc.parent.expected] * n, vm.cpus.deliveries
        submitted = views[k].ops.counts["trapped_portal"]
        assert submitted >= n and vm.exits.since(marks[k]) == \
            {ExitReason.EPT_VIOLATION: submitted, ExitReason.EXTERNAL_INTERRUPT: n}, vm.exits.since(marks[k])
    sent = dmwrs.records[dmwr_mark:]
    assert Counter(d.pasid for d in sent) == Counter({s: v.ops.counts["trapped_portal"] for s, v in
                                                      zip(ssids, views)})
    assert all(d.dw0 == d.pasid and not d.pmr for d in sent)
    dma = [t for t in list(bench.rc.upstream_log)[log_mark:] if t.kind in ("MRd", "MWr")
           and not in_msi_window(t.address)]
    assert {t.pasid for t in dma} == set(ssids), {t.pasid for t in dma}
    for k, ssid in enumerate(ssids):
        records = {j.desc.compl_addr for j in jobs[k]}
        assert len([t for t in dma if t.kind == "MWr" and t.pasid == ssid and t.address in records]) == n
    assert not plat.dma_faults, plat.dma_faults[:4]
    for view, trap, mine in zip(views, traps, jobs):
        for job in mine:
            idxd_free_desc(view.wq, job.desc)
        for ie in list(view.wq.ims_ies):
            view.free_ims(ie)
        trap.release_all()
    imsdev_remove(host_idxd)
    return {"ssids": ssids, "jobs": 2 * n, "dmwr": len(sent)}


if PLATFORM == "arm":
    @cocotb.test()
    @cocotb.parametrize(pauses=PAUSES)
    async def test_two_vms_host_stage1(dut, pauses):
        bench, host_ops = await start(dut, pauses, "test_two_vms_host_stage1")
        checked = await run_blocking(two_vms_host_stage1, bench, host_ops)
        await finish_guests(bench, checked)


# ============================================================================ IMS designs (a)/(b)/(c) on ARM
def ims_designs_arm(bench, host_ops, design: str) -> dict:
    """tb/vmm/report.py's ARM scenario (plain vITS: the VMM backs guest interrupts with host events) on the RTL's
    IMS. The host driver owns the device (probe: its MSI-X vectors are EventIDs 0.. of the physical DeviceID;
    WQ0 dedicated, its DMA untranslated) and fires a slot the only way the RTL does: a NOOP whose completion
    interrupt names that IMS entry. A owns IMS slot (WQ0, 0), B slot (WQ0, 1)."""
    from tb.platform.gic_its import ItsErrorReason

    plat, p = bench.platform, bench.params
    model, rid = plat.model, bench.requester_id
    idxd = imsdev_probe(host_ops)
    wq = idxd.wqs[0]
    idxd.wq_configure(wq, size=min(4, p.wq_depth), dedicated=True)
    idxd.wq_enable(wq)
    vms = [ArmVm(model, name, requester_id=rid, virtual_device_id=VRID) for name in ("A", "B")]
    a, b = vms
    bars = [GuestBar(OpsDevice(host_ops, bench.bar0_addr), vm.exits) for vm in vms]
    designs = [arm_design(design, vm, bar, rid, 0, range(slot, slot + 1))
               for slot, (vm, bar) in enumerate(zip(vms, bars))]
    irq = a.guest_event()                     # the guest kernel's vITS MAPD/MAPTI: EventID 0 on vCPU 0
    assert (irq.requester_id, irq.index) == (VRID, 0)

    def fire(slot: int) -> None:
        d = prep_desc(idxd_alloc_desc(wq), DSA_OPCODE_NOOP)
        d.hw.flags |= IDXD_OP_FLAG_RCI
        d.hw.int_handle = (idxd.request_int_handle("ims", slot, wq.id) if idxd.request_int_handles
                           else ims_int_handle(slot))
        messages = len(plat.messages)
        assert idxd_submit_desc(idxd, wq, d) == 0
        wait_until(host_ops, lambda: read_completion(host_ops, d) is not None, f"record of slot {slot}'s NOOP")
        assert read_completion(host_ops, d).status == DSA_COMP_SUCCESS
        idxd_free_desc(wq, d)
        if not ims_ctrl(host_ops, bench, slot) & regs.IMS_ENTRY_CTRL_MASK_MASK:
            wait_until(host_ops, lambda: len(plat.messages) == messages + 1, f"slot {slot}'s message")
        host_ops.delay_ns(QUIET_NS)

    def others_quiet() -> bool:
        return not b.cpus.deliveries and all(d.key == irq.expected for d in a.cpus.deliveries)

    # (a): the physical ITS looks the guest's EventID 0 up in the host driver's ITT of the physical DeviceID:
    # it is the host's MSI-X vector 0 (the misc interrupt); A's two and B's copy land there
    host_vector0 = idxd.msix.descs[0].parent
    if design == "a":
        assert host_vector0.index == irq.index == 0
        plat.expect(host_vector0, 3)

    mark = a.exits.mark()
    designs[0].setup(0, 0, irq)
    exits_setup = a.exits.since(mark)
    route = None
    if design != "a":
        # the VMM's host event behind A's interrupt: A's two deliveries, and under (b) B's forged one
        route = (next(iter(designs[0].routes.values())) if design == "b"
                 else designs[0].emulation.entries[(0, 0)].route)
        plat.expect(route.host_irq, 3 if design == "b" else 2)
    mark = a.exits.mark()
    fire(0)
    exits_interrupt = a.exits.since(mark)
    delivered = design != "a"
    assert a.received(irq) == (1 if delivered else 0) and others_quiet(), a.cpus.deliveries

    driver = GuestImsDriver(bars[0])
    mark = a.exits.mark()
    driver.mask(0, 0)
    driver.unmask(0, 0)
    exits_mask_unmask = a.exits.since(mark)
    driver.mask(0, 0)
    fire(0)                                           # masked: pends, nothing sent
    assert a.received(irq) == (1 if delivered else 0)
    messages = len(plat.messages)
    driver.unmask(0, 0)                               # the pending interrupt is sent now, once
    wait_until(host_ops, lambda: len(plat.messages) == messages + 1, "replay on unmask")
    host_ops.delay_ns(QUIET_NS)
    assert a.received(irq) == (2 if delivered else 0) and others_quiet(), a.cpus.deliveries

    # Forgery: B writes what is in A's physical slot into its own slot and fires it
    slot0 = bench.bar0_addr + regs.ims_at(0)
    forged = MsiMsg(*[host_ops.mmio_read32(slot0 + o) for o in (0, 4, 8)])
    GuestImsDriver(bars[1]).write_message(0, 1, forged)
    GuestImsDriver(bars[1]).unmask(0, 1)
    fire(1)
    isolated = a.received(irq) == (2 if delivered else 0)
    assert others_quiet()

    exits = {"setup": exits_setup, "mask_unmask": exits_mask_unmask, "interrupt": exits_interrupt}
    ext = {ExitReason.EXTERNAL_INTERRUPT: 1}
    want = {"a": ({}, {}, {}), "b": ({ExitReason.VMCALL: 1}, {}, ext),
            "c": ({ExitReason.EPT_VIOLATION: 8}, {ExitReason.EPT_VIOLATION: 4}, ext)}[design]
    assert (exits_setup, exits_mask_unmask, exits_interrupt) == want, exits
    assert isolated == (design != "b"), f"design {design}: B's copy of A's message reached A: {not isolated}"
    assert plat.faults == [] and not model.its.errors, [str(f) for f in plat.faults]
    if design == "a":
        # nothing was injected; the host's vector 0 took all three (checked exactly by the scoreboard)
        assert a.vits.injected == 0 and forged == irq.msg
    else:
        assert route.host_irq.requester_id == rid and route.vector == irq.index
        assert (forged.address, forged.data) == (route.host_msg.address, route.host_msg.data)
        assert route.host_irq.index not in {d.parent.index for d in idxd.msix.descs}
        assert a.vits.injected == (3 if design == "b" else 2)
    if design == "c":
        assert [r.key for r in designs[1].emulation.rejected] == [(0, 1)], designs[1].emulation.rejected
        assert b.vits.injected == 0
    imsdev_remove(idxd)
    return {"design": design, "isolated": isolated,
            "exits": {k: {r.name: n for r, n in v.items()} for k, v in exits.items()}}


if PLATFORM == "arm":
    @cocotb.test()
    @cocotb.parametrize(pauses=PAUSES, design=("a", "b", "c"))
    async def test_ims_designs_arm(dut, pauses, design):
        bench, host_ops = await start(dut, pauses, "test_ims_designs_arm")
        checked = await run_blocking(ims_designs_arm, bench, host_ops, design)
        await finish_guests(bench, checked)
