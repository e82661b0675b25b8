"""Guests on the RTL (issue 10, docs/vmm.md): the unchanged driver model (fw/imsdev/driver) inside a VM whose
device accesses go through the VMM models of tb/vmm, wired to the bench by tb/vmm/bench.py.

The guest's BAR0 has the MSI-X table trapped (vfio-pci + QEMU: tb/vmm/trap.py VfioMsix; the PBA is mapped through), the rest of
BAR0 and the BAR2 portals mapped straight through; its memory is guest RAM on scattered host pages, reached by
the device through the IOMMU's second level (x86, PGTT 010b) / stage 2 (ARM, STE Config 110b). Interrupts are
real messages of the RTL through the platform models: on x86 the VMM's IRTE is posted to the vCPU's
posted-interrupt descriptor or remapped to a host vector that injects; on ARM a host ITS event whose handler
injects through the guest's virtual ITS (virtual DeviceID). Every count is exact: per guest vector, per vCPU,
per VM exit reason, per platform delivery and fault.

* test_guest_msix (x86 posted / remapped, ARM): probe in the guest, dedicated WQ, NOOP/MEMMOVE/MEMFILL with
  completion interrupts on the WQ's MSI-X vector; the physical table holds only host messages, the guest reads
  its own; each completion interrupt arrives exactly once at the guest's vCPU.
* test_posted_interrupts (x86): the same device interrupt posted to a running vCPU (no exit), suppressed while
  the vCPU is preempted (SN = 1: PIR set, ON clear, no notification) and delivered at its next entry, and while
  it is halted notified with the wake-up vector, which wakes it; delivered on entry.
* test_ims_designs (x86 posted / remapped, designs a/b/c of tb/vmm/ims.py): two VMs share the device (A: IMS
  slot 0, B: slot 1 of WQ0), slots fired by real completion interrupts; exact exits per setup / mask+unmask /
  interrupt (remapped: one EXTERNAL_INTERRUPT per interrupt), the fault of (a) (0x25, three times), delivery
  exactly once (also the masked-pending replay) for (b)/(c), and B's copy of A's message: reaches A under (b),
  rejected by B's VMM under (c).
"""
from __future__ import annotations

import cocotb

from imsdev import regs
from imsdev.driver import imsdev_probe, imsdev_remove
from imsdev.driver.submit import idxd_alloc_desc, idxd_free_desc, idxd_submit_desc, prep_desc, read_completion
from imsdev.driver.submit import wait_for_completion
from imsdev.driver.uapi import DSA_COMP_SUCCESS, DSA_OPCODE_MEMFILL, DSA_OPCODE_MEMMOVE, DSA_OPCODE_NOOP
from imsdev.platform.x86_posted import POSTED_INTR_VECTOR, POSTED_INTR_WAKEUP_VECTOR
from tb.driver_ops import BenchOps
from tb.env import Bench
from tb.platform.smmu import MSI_IOVA_BASE
from tb.platform.gic_its import GITS_TRANSLATER
from tb.platform_bench import platform_name
from tb.tests.fw.common import run_blocking
from tb.vmm.bench import (GUEST_PLATFORM_OPTIONS, BenchX86Host, arm_guest, finish_guests, posted_notifications,
                           wait_until, x86_guest)
from tb.vmm.exits import ExitReason
from tb.vmm.vcpu import VcpuState

PLATFORM = platform_name()
PAUSES = ("none", "both")            # as the driver-model tests: without and with link pauses
VRID = 0x0010                         # the device's DeviceID in the ARM guest (virtual)
IRQ_WAIT_NS = 100_000
QUIET_NS = 2_000


async def start(dut, pauses: str):
    bench = await Bench.start(dut, pauses=pauses, platform_options=GUEST_PLATFORM_OPTIONS[PLATFORM])
    assert bench.platform is not None and bench.platform.name == PLATFORM
    bench.log.info("test_guests: platform %s, seed %d (replay with SEED=%d)", PLATFORM, bench.seed, bench.seed)
    return bench, BenchOps(bench)


def submit_and_complete(bench, idxd, wq, ie, op, size=0):
    """One descriptor with a completion interrupt through `ie`, completed by that interrupt; data checked
    in guest RAM."""
    ops, rng = idxd.ops, bench.rng
    d = idxd_alloc_desc(wq)
    src = dst = 0
    want = None
    if op == DSA_OPCODE_MEMMOVE:
        data = rng.randbytes(size)
        src = ops.mem_alloc(size, 64)
        ops.mem_write(src, data)
        dst, want = ops.mem_alloc(size, 64), data
    elif op == DSA_OPCODE_MEMFILL:
        src = rng.getrandbits(64)
        dst = ops.mem_alloc(size, 64)
        want = (src.to_bytes(8, "little") * (size // 8 + 1))[:size]
    prep_desc(d, op, src=src, dst=dst, size=size, ie=ie)
    assert idxd_submit_desc(idxd, wq, d) == 0
    rec = wait_for_completion(idxd, d, IRQ_WAIT_NS)
    assert rec.status == DSA_COMP_SUCCESS, f"{d}: {rec.status_name}"
    if want is not None:
        assert ops.mem_read(dst, len(want)) == want, f"{d}: destination in guest RAM differs"
    idxd_free_desc(wq, d)


def physical_entry(host_ops, bench, vector: int) -> list[int]:
    base = bench.bar0_addr + regs.MSIX_TABLE_BASE + vector * regs.MSIX_TABLE_STRIDE
    return [host_ops.mmio_read32(base + o) for o in (0, 4, 8, 12)]


def make_guest(bench, host_ops, delivery: str):
    if PLATFORM == "x86":
        host = BenchX86Host(bench.platform.model)
        return host, x86_guest(bench, host, host_ops, "A", pcpus=(0, 1), posted=delivery == "posted", did=1)
    return None, arm_guest(bench, host_ops, "A", virtual_device_id=VRID, vmid=1)


# ============================================================================ MSI-X in a guest
def guest_msix(bench, host_ops, delivery: str) -> dict:
    plat, p = bench.platform, bench.params
    host, g = make_guest(bench, host_ops, delivery)
    table_ops = g.exits.mark()
    idxd = imsdev_probe(g.ops)
    nvec = min(p.msix_vectors, 1 + p.num_wq)
    assert len(idxd.msix.descs) == nvec
    # Every guest access to the MSI-X table exited, once (the guest ops count them independently of the
    # trap); the only other exits are the guest kernel's ITS/redistributor register accesses on ARM.
    probe_exits = g.exits.since(table_ops)
    msix_exits = g.exits_for("MSI-X", since=table_ops)
    its_exits = g.exits_for("GITS", "GICR", since=table_ops)
    assert set(probe_exits) == {ExitReason.EPT_VIOLATION}, probe_exits
    assert msix_exits == g.ops.counts["trapped"] > 0, (msix_exits, g.ops.counts)
    assert probe_exits[ExitReason.EPT_VIOLATION] == msix_exits + its_exits, probe_exits
    assert (its_exits > 0) == (PLATFORM == "arm"), its_exits
    assert not g.msix.rejected, g.msix.rejected

    # The guest reads its own messages; the physical table holds the VMM's host messages, unmasked.
    for desc in idxd.msix.descs:
        v = desc.hwirq
        base = desc.chip_data.base
        guest_view = [g.ops.mmio_read32(base + o) for o in (0, 4, 8, 12)]
        assert guest_view == [desc.msg.address_lo, desc.msg.address_hi, desc.msg.data, 0], guest_view
        host_msg = g.route(v).host_msg
        assert physical_entry(host_ops, bench, v) == [host_msg.address_lo, host_msg.address_hi, host_msg.data, 0]
        if PLATFORM == "x86":
            assert desc.msg.address_lo & 0x10 == 0 and host_msg.address_lo & 0x10, "compat guest / remappable host"
        else:
            assert desc.msg.address_lo == MSI_IOVA_BASE + (GITS_TRANSLATER & 0xFFF) and desc.msg.address_hi == 0
    for spare in range(nvec, p.msix_vectors):
        assert physical_entry(host_ops, bench, spare)[3] & 1, f"unused physical vector {spare} not masked"

    wq = idxd.wqs[0]
    idxd.wq_configure(wq, size=min(4, p.wq_depth), dedicated=True)
    idxd.wq_enable(wq)
    ie = wq.msix_ie
    route = g.route(ie.desc.hwirq)
    ops_plan = [(DSA_OPCODE_NOOP, 0)] * 3 + [(DSA_OPCODE_MEMMOVE, 1500), (DSA_OPCODE_MEMFILL, 777),
                                           (DSA_OPCODE_NOOP, 0)]
    n = len(ops_plan)
    if PLATFORM == "x86" and not route.posted:
        # the VMM steers a remapped host interrupt to the CPU running the target vCPU (X86Routing affine):
        # each interrupt is then one EXTERNAL_INTERRUPT exit of that vCPU
        assert route.host_irq.target == g.vcpus[ie.desc.parent.target].cpu
    if not route.posted:
        plat.expect(route.host_irq, n)
    notes_before = len(posted_notifications(plat.model.deliveries))
    mark = g.exits.mark()
    for op, size in ops_plan:
        submit_and_complete(bench, idxd, wq, ie, op, size)
    exits = g.exits.since(mark)

    target = ie.desc.parent.target
    assert ie.desc.count == n and ie.desc.unhandled <= ie.reaped_early, (ie.desc.count, ie.desc.unhandled, ie.reaped_early)
    assert not idxd.core.spurious, idxd.core.spurious
    if PLATFORM == "x86":
        vector = ie.desc.parent.vector
        assert g.vcpus[target].counts == {vector: n}, g.vcpus[target].counts
        assert all(not v.received for v in g.vcpus if v.index != target)
        how = "posted" if route.posted else "injected"
        assert {i.how for i in g.vcpus[target].received} == {how}
        notes = posted_notifications(plat.model.deliveries)[notes_before:]
        if route.posted:
            assert exits == {}, exits
            assert [(d.target, d.vector) for d in notes] == [(g.vcpus[target].cpu, POSTED_INTR_VECTOR)] * n
        else:
            assert exits == {ExitReason.EXTERNAL_INTERRUPT: n}, exits
            assert notes == []
    else:
        keys = [d.key for d in g.guest_cpus.deliveries]
        assert keys == [ie.desc.parent.expected] * n, keys
        assert exits == {ExitReason.EXTERNAL_INTERRUPT: n}, exits
        assert g.vits.injected == n and not g.vits.dropped and not g.vits.errors
    g.msix.release_all()         # the VMM frees its host interrupts (vfio-pci MSI-X disable), then the guest
    imsdev_remove(idxd)
    return {"completions": n, "exits": {r.name: c for r, c in g.exits.counts.items()},
            "notifications": len(posted_notifications(plat.model.deliveries)) - notes_before}


if PLATFORM == "x86":
    @cocotb.test()
    @cocotb.parametrize(pauses=PAUSES, delivery=("posted", "remapped"))
    async def test_guest_msix(dut, pauses, delivery):
        bench, host_ops = await start(dut, pauses)
        checked = await run_blocking(guest_msix, bench, host_ops, delivery)
        await finish_guests(bench, checked, checked["notifications"])
else:
    @cocotb.test()
    @cocotb.parametrize(pauses=PAUSES)
    async def test_guest_msix(dut, pauses):
        bench, host_ops = await start(dut, pauses)
        checked = await run_blocking(guest_msix, bench, host_ops, "its")
        await finish_guests(bench, checked)


# ============================================================================ VT-d posted interrupts
def posted_interrupts(bench, host_ops) -> dict:
    plat, p = bench.platform, bench.params
    host, g = make_guest(bench, host_ops, "posted")
    idxd = imsdev_probe(g.ops)
    wq = idxd.wqs[0]
    idxd.wq_configure(wq, size=min(4, p.wq_depth), dedicated=True)
    idxd.wq_enable(wq)
    ie = wq.msix_ie
    vcpu = g.vcpus[ie.desc.parent.target]
    vector, cpu = ie.desc.parent.vector, vcpu.cpu
    route = g.route(ie.desc.hwirq)
    assert route.posted and route.vector == vector
    posted = plat.model.iommu.posted
    first_note = len(posted_notifications(plat.model.deliveries))

    def notes():
        return [(d.target, d.vector) for d in posted_notifications(plat.model.deliveries)[first_note:]]

    # 1. running: posted, the CPU's posted-interrupt processing moves it to the guest, no exit
    mark = g.exits.mark()
    submit_and_complete(bench, idxd, wq, ie, DSA_OPCODE_NOOP)
    assert vcpu.counts == {vector: 1} and vcpu.received[-1].how == "posted"
    assert g.exits.since(mark) == {} and notes() == [(cpu, POSTED_INTR_VECTOR)]
    assert (posted[-1].vector, posted[-1].notified, posted[-1].suppressed) == (vector, True, False)

    def quiet_completion():
        """A completion while the vCPU is off its CPU: the record comes, the interrupt must not."""
        d = prep_desc(idxd_alloc_desc(wq), DSA_OPCODE_NOOP, ie=ie)
        events = len(posted)
        assert idxd_submit_desc(idxd, wq, d) == 0
        wait_until(g.ops, lambda: read_completion(g.ops, d) is not None, "completion record")
        wait_until(g.ops, lambda: len(posted) == events + 1, "the device's interrupt posted")
        return d

    # 2. preempted (SN = 1): PIR set, ON clear, no notification, nothing reaches the guest
    mark = g.exits.mark()
    vcpu.preempt()
    d = quiet_completion()
    g.ops.delay_ns(QUIET_NS)
    assert (posted[-1].notified, posted[-1].suppressed) == (False, True)
    control = vcpu.pi_desc.control
    assert vcpu.pi_desc.pir == 1 << vector and not control.on and control.sn, (hex(vcpu.pi_desc.pir), control)
    assert vcpu.counts == {vector: 1} and notes() == [(cpu, POSTED_INTR_VECTOR)]
    vcpu.load(cpu)                                   # next entry: PIR synced, taken once
    assert vcpu.counts == {vector: 2} and vcpu.received[-1].how == "entry-sync" and vcpu.pi_desc.pir == 0
    assert wait_for_completion(idxd, d, IRQ_WAIT_NS).status == DSA_COMP_SUCCESS
    idxd_free_desc(wq, d)
    assert g.exits.since(mark) == {ExitReason.EXTERNAL_INTERRUPT: 1}     # the preemption itself

    # 3. halted (blocked): the wake-up vector notifies the CPU, the vCPU becomes runnable, takes it on entry
    mark = g.exits.mark()
    vcpu.halt()
    assert vcpu.pi_desc.control.nv == POSTED_INTR_WAKEUP_VECTOR and not vcpu.pi_desc.control.sn
    d = quiet_completion()
    wait_until(g.ops, lambda: vcpu.wakeups == 1, "wake-up")
    assert vcpu.state is VcpuState.PREEMPTED and vcpu.counts == {vector: 2}
    assert (posted[-1].notified, posted[-1].suppressed) == (True, False)
    assert notes() == [(cpu, POSTED_INTR_VECTOR), (cpu, POSTED_INTR_WAKEUP_VECTOR)]
    vcpu.load(cpu)
    assert vcpu.counts == {vector: 3} and vcpu.received[-1].how == "entry-sync"
    assert wait_for_completion(idxd, d, IRQ_WAIT_NS).status == DSA_COMP_SUCCESS
    idxd_free_desc(wq, d)
    assert g.exits.since(mark) == {ExitReason.HLT: 1}
    assert ie.desc.count == 3 and ie.desc.unhandled <= ie.reaped_early and not idxd.core.spurious
    assert all(not v.received for v in g.vcpus if v is not vcpu)
    assert not plat.model.iommu.posted_errors and not host.pcpus.unhandled
    g.msix.release_all()         # the VMM frees its host interrupts (vfio-pci MSI-X disable), then the guest
    imsdev_remove(idxd)
    return {"posted": len(posted), "notifications": len(notes())}


if PLATFORM == "x86":
    @cocotb.test()
    @cocotb.parametrize(pauses=PAUSES)
    async def test_posted_interrupts(dut, pauses):
        bench, host_ops = await start(dut, pauses)
        checked = await run_blocking(posted_interrupts, bench, host_ops)
        await finish_guests(bench, checked, checked["notifications"])


# ============================================================================ IMS designs (a)/(b)/(c) on the RTL
IMS_VECTOR, IMS_VCPU = 0x41, 1


def ims_designs(bench, host_ops, design: str, delivery: str = "posted") -> dict:
    """tb/vmm/report.py's scenario on the RTL's IMS: two VMs share the device (one requester ID). A owns IMS
    slot (WQ0, 0), B slot (WQ0, 1) (a small build has one WQ: the slots split its window). The host driver
    owns the device (probe, WQ0 dedicated, no PASID; its DMA untranslated) and fires a slot the only way the
    RTL does: a NOOP whose completion interrupt names that IMS entry. ``delivery``: the VMM's IRTEs posted
    to A's vCPU, or remapped to a host vector on the CPU running it whose handler injects."""
    from imsdev.driver.uapi import IDXD_OP_FLAG_RCI, ims_int_handle
    from imsdev.platform import MsiMsg
    from tb.platform.vtd_ir import VtdFaultReason
    from tb.vmm.ims import DirectIms, GuestImsDriver, HypercallIms, TrappedImsDesign

    plat, p = bench.platform, bench.params
    model, rid = plat.model, bench.requester_id
    host = BenchX86Host(model)
    posted_mode = delivery == "posted"
    guests = [x86_guest(bench, host, host_ops, name, pcpus=cpus, posted=posted_mode, did=0, attach_dma=False)
              for name, cpus in (("A", (0, 1)), ("B", (2, 3)))]
    a, b = guests
    idxd = imsdev_probe(host_ops)
    wq = idxd.wqs[0]
    idxd.wq_configure(wq, size=min(4, p.wq_depth), dedicated=True)
    idxd.wq_enable(wq)

    def make(g, slot):
        if design == "a":
            return DirectIms(g.vm, g.bar)
        if design == "b":
            return HypercallIms(g.vm, g.bar, g.routing, rid)
        return TrappedImsDesign(g.vm, g.bar, g.routing, 0, slots=range(slot, slot + 1))

    designs = [make(a, 0), make(b, 1)]
    posted = model.iommu.posted

    def fire(slot: int) -> None:
        """One NOOP with RCI naming IMS entry `slot`; returns once the record is written and the slot's
        message (if any) has reached the platform."""
        d = prep_desc(idxd_alloc_desc(wq), DSA_OPCODE_NOOP)
        d.hw.flags |= IDXD_OP_FLAG_RCI
        d.hw.int_handle = (idxd.request_int_handle("ims", slot, wq.id) if idxd.request_int_handles
                           else ims_int_handle(slot))
        messages = len(plat.messages)
        assert idxd_submit_desc(idxd, wq, d) == 0
        wait_until(host_ops, lambda: read_completion(host_ops, d) is not None, f"record of slot {slot}'s NOOP")
        assert read_completion(host_ops, d).status == DSA_COMP_SUCCESS
        idxd_free_desc(wq, d)
        masked = host_ops.mmio_read32(bench.bar0_addr + regs.ims_at(0) + slot * regs.IMS_ENTRY_STRIDE
                                      + regs.IMS_ENTRY_CTRL) & regs.IMS_ENTRY_CTRL_MASK_MASK
        if not masked:
            wait_until(host_ops, lambda: len(plat.messages) == messages + 1, f"slot {slot}'s message")
        host_ops.delay_ns(QUIET_NS)

    target = a.vcpus[IMS_VCPU]

    def others_quiet() -> bool:
        return all(not v.received for g in guests for v in g.vcpus if v is not target)

    mark = a.exits.mark()
    designs[0].setup(0, 0, IMS_VCPU, IMS_VECTOR)
    exits_setup = a.exits.since(mark)
    route = None
    if design != "a":
        route = (next(iter(designs[0].routes.values())) if design == "b"
                 else designs[0].emulation.entries[(0, 0)].route)
        assert route.posted == posted_mode and route.vector == IMS_VECTOR
        if not posted_mode:
            # the host vector lands on the CPU running A's vCPU: A's two deliveries, and under (b) B's forged one
            assert route.host_irq.target == target.cpu
            plat.expect(route.host_irq, 3 if design == "b" else 2)
    mark = a.exits.mark()
    fire(0)
    exits_interrupt = a.exits.since(mark)
    delivered = design != "a"
    assert target.counts == ({IMS_VECTOR: 1} if delivered else {}) and others_quiet(), target.counts

    driver = GuestImsDriver(a.bar)
    mark = a.exits.mark()
    driver.mask(0, 0)
    driver.unmask(0, 0)
    exits_mask_unmask = a.exits.since(mark)
    driver.mask(0, 0)
    fire(0)                                          # masked: pends, nothing sent
    assert target.counts == ({IMS_VECTOR: 1} if delivered else {})
    messages = len(plat.messages)
    driver.unmask(0, 0)                              # the pending interrupt is sent now, once
    wait_until(host_ops, lambda: len(plat.messages) == messages + 1, "replay on unmask")
    host_ops.delay_ns(QUIET_NS)
    assert target.counts == ({IMS_VECTOR: 2} if delivered else {}) and others_quiet(), target.counts

    # Forgery: B writes what is in A's physical slot into its own slot and fires it
    slot0 = bench.bar0_addr + regs.ims_at(0)
    words = [host_ops.mmio_read32(slot0 + o) for o in (0, 4, 8)]
    forged = MsiMsg(*words)
    GuestImsDriver(b.bar).write_message(0, 1, forged)
    GuestImsDriver(b.bar).unmask(0, 1)
    fire(1)
    isolated = target.count(IMS_VECTOR) == (2 if delivered else 0)
    assert others_quiet()

    exits = {"setup": exits_setup, "mask_unmask": exits_mask_unmask, "interrupt": exits_interrupt}
    per_interrupt = {} if posted_mode else {ExitReason.EXTERNAL_INTERRUPT: 1}
    want = {"a": ({}, {}, {}), "b": ({ExitReason.VMCALL: 1}, {}, per_interrupt),
            "c": ({ExitReason.EPT_VIOLATION: 8}, {ExitReason.EPT_VIOLATION: 4}, per_interrupt)}[design]
    assert (exits_setup, exits_mask_unmask, exits_interrupt) == want, exits
    assert isolated == (design != "b"), f"design {design}: B's copy of A's message reached A: {not isolated}"
    faults = [f.reason for f in plat.faults]
    if design == "a":
        assert faults == [VtdFaultReason.COMPAT_BLOCKED] * 3, faults     # A twice, B's copy once
        for _ in range(3):
            plat.expect_fault(VtdFaultReason.COMPAT_BLOCKED, requester_id=rid)
        assert not posted
    else:
        assert faults == []
        # (b): A's two and B's forged one reach A's vCPU; (c): B's copy was rejected by B's VMM
        arrived = 3 if design == "b" else 2
        if posted_mode:
            assert [e.vector for e in posted] == [IMS_VECTOR] * arrived
        else:
            assert not posted and len(plat.deliveries_for(route.host_irq)) == arrived
        assert {i.how for i in target.received} == {"posted" if posted_mode else "injected"}
    if design == "c":
        assert [r.key for r in designs[1].emulation.rejected] == [(0, 1)], designs[1].emulation.rejected
    imsdev_remove(idxd)
    return {"design": design, "isolated": isolated, "notifications": len(posted_notifications(model.deliveries)),
            "exits": {k: {r.name: n for r, n in v.items()} for k, v in exits.items()}}


if PLATFORM == "x86":
    @cocotb.test()
    @cocotb.parametrize(pauses=PAUSES, design=("a", "b", "c"), delivery=("posted", "remapped"))
    async def test_ims_designs(dut, pauses, design, delivery):
        bench, host_ops = await start(dut, pauses)
        checked = await run_blocking(ims_designs, bench, host_ops, design, delivery)
        await finish_guests(bench, checked, checked["notifications"])
