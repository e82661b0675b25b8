"""The driver model (fw/imsdev/driver) end to end against the RTL, through the platform's interrupt
remapping (IMSDEV_PLATFORM=x86: VT-d IR; arm: SMMU MSI window + GICv3 ITS). Each test runs without and
with idle/backpressure on every link stream (the driver's waits must not depend on link timing).

The driver code is the same blocking code a kernel driver would be; it runs in a cocotb bridge thread
(tb/driver_ops.py) and every register access, DMWr and interrupt wait resumes the simulation. What the
driver expects of the hardware is checked from the driver's side (command status, completion records,
data, the error log, interrupt handlers), and every interrupt by the platform scoreboard: each expected
one delivered exactly once to the target in force when it arrived; nothing lost, duplicated, misrouted
or spurious; the completion record in host memory when its interrupt is handled.

* test_driver_lifecycle: probe -> MSI-X (Linux order) and per-WQ IMS -> shared (ENQCMD) and dedicated
  (MOVDIR64B) WQs -> completions by IMS, MSI-X and polling -> injected errors (bad opcode with and
  without a record, ENQCMD to a dedicated WQ) handled from the error interrupt -> FLR + re-probe ->
  remove.
* test_driver_interrupt_management: disable/enable (masked IMS slot pends, one message on enable),
  IMS PASID binding (match fires, mismatch is logged and does not), affinity changes of IMS and MSI-X
  interrupts (platform entry only, device entry untouched), a live message rewrite through the IMS bus
  lock, and ENQCMD's bounded retry against a full shared queue.
"""
from __future__ import annotations

import errno

import cocotb

from imsdev import regs
from imsdev.driver import imsdev_probe, imsdev_remove, imsdev_reset
from imsdev.driver.init import wq_alloc_ims_irq
from imsdev.driver.irq import idxd_wq_thread
from imsdev.driver.msi import PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL
from imsdev.driver.pci import PCI_PASID_CTRL, PCI_PASID_CTRL_ENABLE, PCI_PASID_CTRL_PRIV
from imsdev.driver.registers import FIELD_GET
from imsdev.driver.submit import (DescPool, enqcmds, idxd_alloc_desc, idxd_free_desc, idxd_submit_desc, prep_desc,
                                  read_completion, wait_for_completion)
from imsdev.driver.uapi import (DSA_COMP_BAD_OPCODE, DSA_COMP_SUCCESS, DSA_OPCODE_MEMFILL, DSA_OPCODE_MEMMOVE,
                                DSA_OPCODE_NOOP, IDXD_OP_FLAG_RCR)
from tb.bad_inputs import BadInput
from tb.tests.fw.common import HostBuffers, finish, run_blocking, start
from tb.wq import DmaHold

PASID_A = 0x1234          # the ENQCMD submitter
PASID_B = 0x0ABC          # another submitter
PASID_DED = 0x4321        # bound to the dedicated WQ
PASID_DED2 = 0x5678       # ... and after rebinding it
BAD_OPCODE = 0x7F
IRQ_WAIT_NS = 100_000
QUIET_NS = 2_000


class Run:
    """State and checks of one scenario, used from the bridge thread."""

    def __init__(self, bench, ops):
        self.bench, self.ops, self.plat, self.p = bench, ops, bench.platform, bench.params
        self.bufs = HostBuffers(ops, bench.rng)
        self.checked = {"descriptors": 0, "interrupts": 0, "errors_handled": 0}

    # ---- interrupts ---------------------------------------------------------------------------
    def expect(self, desc, n: int = 1):
        """The platform scoreboard must see n more deliveries of this Linux irq's platform interrupt."""
        self.plat.expect(desc.parent, n)
        self.checked["interrupts"] += n

    def wait_until(self, idxd, cond, what: str, timeout_ns: int = IRQ_WAIT_NS):
        deadline = self.ops.ktime_get_ns() + timeout_ns
        while not cond():
            left = deadline - self.ops.ktime_get_ns()
            assert left > 0, f"{what}: not within {timeout_ns} ns"
            idxd.core.handle_pending(min(left, 1_000))

    # ---- descriptors ----------------------------------------------------------------------------
    def submit(self, idxd, wq, op, size=0, ie=None, pasid=PASID_A, flags=None, pool=None):
        """Allocate (from the WQ's pool or a submitter's own), fill and submit one descriptor; returns
        (desc, expected destination bytes)."""
        d = pool.alloc() if pool is not None else idxd_alloc_desc(wq)
        src = dst = 0
        want = None
        if op == DSA_OPCODE_MEMMOVE:
            src, data = self.bufs.source(size, offset=self.bench.rng.randrange(64))
            dst = self.bufs.alloc(size, 64, self.bench.rng.randrange(64))
            want = data
        elif op == DSA_OPCODE_MEMFILL:
            src = self.bench.rng.getrandbits(64)
            dst = self.bufs.alloc(size, 64, self.bench.rng.randrange(64))
            want = (src.to_bytes(8, "little") * (size // 8 + 1))[:size]
        kw = {} if flags is None else {"flags": flags}
        prep_desc(d, op, src=src, dst=dst, size=size, ie=ie, **kw)
        if ie is not None:
            self.expect(ie.desc)
        rc = idxd_submit_desc(idxd, wq, d, pasid=pasid)
        assert rc == 0, f"WQ {wq.id}: submit {d} failed: {errno.errorcode.get(-rc, rc)}"
        return d, want

    def complete(self, idxd, wq, d, want, status=DSA_COMP_SUCCESS, dma_pasid=None):
        rec = wait_for_completion(idxd, d, IRQ_WAIT_NS)
        assert rec.status == status, f"{d}: {rec.status_name}, expected status {status:#x}"
        if want is not None:
            assert rec.bytes_completed == len(want), f"{d}: {rec.bytes_completed} bytes completed of {len(want)}"
            got = self.ops.mem_read(d.hw.dst_addr, len(want))
            assert got == want, f"{d}: destination differs"
        if dma_pasid is not None:
            # the PASID binding seen on the wire: every write to the destination carries it
            lo, hi = d.hw.dst_addr, d.hw.dst_addr + d.hw.xfer_size
            tags = {(u.pasid, u.pmr) for u in self.bench.rc.upstream_log
                    if u.kind == "MWr" and lo - 3 <= u.address < hi}
            assert tags == {(dma_pasid, False)}, f"{d}: DMA writes tagged {tags}, expected PASID {dma_pasid:#x}"
        if d.ie is not None:
            # These tests keep at most one descriptor in flight per interrupt entry, so an interrupt whose
            # handler completed nothing means the record was not in host memory yet.
            assert d.ie.desc.unhandled == 0, f"{d}: an interrupt came before its completion record"
        idxd_free_desc(wq, d)
        self.checked["descriptors"] += 1
        return rec

    def error_interrupt(self, idxd, what: str, code: str, **fields):
        """The error log raised MSI-X vector 0; the driver's handler decoded and acknowledged it."""
        n = len(idxd.sw_errors)
        self.wait_until(idxd, lambda: len(idxd.sw_errors) > n, f"{what}: error interrupt")
        err = idxd.sw_errors[-1]
        assert err.code_name == code, f"{what}: {err}, expected {code}"
        for k, v in fields.items():
            assert getattr(err, k) == v, f"{what}: {err}: {k} = {getattr(err, k)!r}, expected {v!r}"
        again = idxd.read_swerr()
        assert not again.valid and not again.overflow, f"{what}: SWERR not acknowledged: {again}"
        assert idxd.ioread32(regs.CSR_INT_CAUSE) == 0, f"{what}: INT_CAUSE not acknowledged"
        self.checked["errors_handled"] += 1
        return err

    # ---- device state seen through config space and MMIO -------------------------------------------
    def check_interrupt_setup(self, idxd):
        flags = self.ops.cfg_read(idxd.pdev.msix_cap + PCI_MSIX_FLAGS, 2)
        assert flags & PCI_MSIX_FLAGS_ENABLE and not flags & PCI_MSIX_FLAGS_MASKALL, f"MSI-X control {flags:#x}"
        for d in idxd.msix.descs:
            e = d.chip_data.base
            words = [self.ops.mmio_read32(e + o) for o in (0, 4, 8, 12)]
            assert words == [d.msg.address_lo, d.msg.address_hi, d.msg.data, 0], f"MSI-X vector {d.hwirq}: {words}"
        if len(idxd.msix.descs) < idxd.msix.tsize:
            spare = idxd.msix.table + len(idxd.msix.descs) * 16
            assert self.ops.mmio_read32(spare + 12) & 1, "an unused MSI-X vector is not masked"
        ctrl = self.ops.cfg_read(idxd.pdev.pasid_cap + PCI_PASID_CTRL, 2)
        assert ctrl == PCI_PASID_CTRL_ENABLE | PCI_PASID_CTRL_PRIV, f"PASID control {ctrl:#x}"
        # CMDCAP lists REQUEST_INT_HANDLE: the driver makes the device check handles and requested one per
        # WQ vector (the descriptor encoding of the vector), as idxd_wq_request_irq does.
        assert idxd.request_int_handles and idxd.ioread32(regs.CSR_INTHDL_CTL) == 1, "interrupt handles not required"
        for wq in idxd.wqs:
            if wq.msix_ie is not None:
                assert wq.msix_ie.int_handle == wq.msix_ie.desc.hwirq, f"WQ {wq.id} vector handle {wq.msix_ie.int_handle}"
        assert idxd.stats["int_handles_requested"] >= sum(w.msix_ie is not None for w in idxd.wqs)

    def ims_words(self, ie):
        return [self.ops.mmio_read32(ie.desc.chip_data.base + o) for o in (0, 4, 8, 12)]

    def check_ims_slot(self, ie, masked=False):
        slot = ie.desc.chip_data
        lo, hi, data, ctrl = self.ims_words(ie)
        assert (lo, hi, data) == (slot.msg.address_lo, slot.msg.address_hi, slot.msg.data), \
            f"IMS slot {ie.desc.hwirq} of WQ {ie.wq.id}: message {lo:#x}/{hi:#x}/{data:#x}"
        assert FIELD_GET("IMS_ENTRY_CTRL_MASK", ctrl) == int(masked)
        assert FIELD_GET("IMS_ENTRY_CTRL_PASID_EN", ctrl) == int(slot.pasid is not None)
        assert FIELD_GET("IMS_ENTRY_CTRL_PASID", ctrl) == (slot.pasid or 0)


def wq_size(p) -> int:
    return min(4, p.wq_depth)


def setup_dedicated(idxd, wq, p):
    idxd.wq_configure(wq, size=wq_size(p), dedicated=True, pasid=PASID_DED)
    idxd.wq_enable(wq)


# ============================================================================ lifecycle
def lifecycle(bench, ops) -> dict:
    r, p = Run(bench, ops), bench.params
    idxd = imsdev_probe(ops)
    assert (idxd.num_wq, idxd.wq_depth, idxd.ims_per_wq, idxd.msix_vectors) == \
        (p.num_wq, p.wq_depth, p.ims_per_wq, p.msix_vectors), "capabilities differ from the build"
    assert len(idxd.msix.descs) == min(p.msix_vectors, 1 + p.num_wq)
    r.check_interrupt_setup(idxd)

    shared = idxd.wqs[0]
    idxd.wq_configure(shared, size=wq_size(p), dedicated=False)
    idxd.wq_enable(shared)
    ded = idxd.wqs[1] if p.num_wq > 1 else None
    if ded is not None:
        setup_dedicated(idxd, ded, p)
    ie = wq_alloc_ims_irq(idxd, shared, pasid=PASID_A)
    r.check_ims_slot(ie)

    # shared WQ: ENQCMD; completions by IMS, by the WQ's MSI-X vector and by polling, several in flight
    d, want = r.submit(idxd, shared, DSA_OPCODE_MEMMOVE, 3000, ie=ie)
    r.complete(idxd, shared, d, want, dma_pasid=PASID_A)
    batch = [r.submit(idxd, shared, DSA_OPCODE_MEMFILL, 777, ie=shared.msix_ie),
             r.submit(idxd, shared, DSA_OPCODE_MEMMOVE, 1500, ie=ie),
             r.submit(idxd, shared, DSA_OPCODE_NOOP)]
    if ded is not None:
        batch_ded = [r.submit(idxd, ded, DSA_OPCODE_MEMMOVE, 2000, ie=ded.msix_ie),
                     r.submit(idxd, ded, DSA_OPCODE_MEMFILL, 100)]
        for d, want in batch_ded:
            r.complete(idxd, ded, d, want)
    for d, want in batch:
        r.complete(idxd, shared, d, want)

    # a one-WQ build turns its WQ into the dedicated one (the configuration is latched at ENABLE_WQ)
    if ded is None:
        idxd.wq_disable(shared)
        setup_dedicated(idxd, shared, p)
        ded = shared
    d, want = r.submit(idxd, ded, DSA_OPCODE_MEMMOVE, 4096, ie=ded.msix_ie)
    r.complete(idxd, ded, d, want, dma_pasid=PASID_DED)

    # injected errors, handled the way the driver handles them
    d, _ = r.submit(idxd, ded, BAD_OPCODE)
    r.complete(idxd, ded, d, None, status=DSA_COMP_BAD_OPCODE)
    assert not idxd.read_swerr().valid, "a failure with a completion record must not be logged"
    r.expect(idxd.misc_irq)
    d, _ = r.submit(idxd, ded, BAD_OPCODE, flags=IDXD_OP_FLAG_RCR)          # no record address
    r.error_interrupt(idxd, "bad opcode without a record", "NO_CR", wq=ded.id, wq_valid=True, pasid=PASID_DED,
                      code_status=DSA_COMP_BAD_OPCODE, opcode=BAD_OPCODE)
    idxd_free_desc(ded, d)
    r.expect(idxd.misc_irq)
    d = prep_desc(idxd_alloc_desc(ded), DSA_OPCODE_NOOP)      # a submitter that ENQCMDs a dedicated portal
    rc = enqcmds(ops, ded.portal, d.hw.pack(), PASID_A, False)
    assert rc == -errno.EIO, f"ENQCMD to a dedicated WQ: {rc}, expected -EIO (UR)"
    r.error_interrupt(idxd, "ENQCMD to a dedicated WQ", "PORTAL_MODE", wq=ded.id, pasid=PASID_A)
    idxd_free_desc(ded, d)
    assert not idxd.core.spurious, f"spurious interrupts: {idxd.core.spurious}"

    # rebinding the dedicated WQ to another address space: disable, rewrite WQCFG2, enable
    idxd.wq_set_pasid(ded, PASID_DED2)
    d, want = r.submit(idxd, ded, DSA_OPCODE_MEMFILL, 512)
    r.complete(idxd, ded, d, want, dma_pasid=PASID_DED2)

    # FLR + re-probe: the device really resets, the driver restores WQs and its IMS interrupt
    idxd.iowrite32(regs.CSR_SCRATCH, 0x5A5A_A5A5)
    new = imsdev_reset(idxd)
    assert new.ioread32(regs.CSR_SCRATCH) == 0, "FLR did not reset the device"
    r.check_interrupt_setup(new)
    for wq in new.wqs:
        state, occupancy = new.wq_state(wq)
        assert state == int(wq.enabled) and occupancy == 0, f"WQ {wq.id} after FLR: state {state}"
    (ie2,) = [i for w in new.wqs for i in w.ims_ies]
    assert (ie2.wq.id, ie2.desc.hwirq, ie2.desc.chip_data.pasid) == (ie.wq.id, ie.desc.hwirq, PASID_A)
    r.check_ims_slot(ie2)
    # (a one-WQ build's WQ 0 came back dedicated with PASID_DED: the slot bound to PASID_A would not fire)
    wq = new.wqs[0]
    d, want = r.submit(new, wq, DSA_OPCODE_MEMMOVE, 999, ie=ie2 if wq.shared else wq.msix_ie)
    r.complete(new, wq, d, want)

    imsdev_remove(new)
    flags = ops.cfg_read(new.pdev.msix_cap + PCI_MSIX_FLAGS, 2)
    assert not flags & PCI_MSIX_FLAGS_ENABLE and ops.cfg_read(new.pdev.pasid_cap + PCI_PASID_CTRL, 2) == 0
    return dict(r.checked, retries=sum(w.stats["enqcmds_retries"] for w in new.wqs))


@cocotb.test()
@cocotb.parametrize(pauses=("none", "both"))
async def test_driver_lifecycle(dut, pauses):
    bench, ops = await start(dut, pauses)
    checked = await run_blocking(lifecycle, bench, ops)
    await finish(bench, ops, "test_driver_lifecycle", checked)


# ============================================================================ interrupt management
def interrupt_management(bench, ops) -> dict:
    r, p, plat = Run(bench, ops), bench.params, bench.platform
    idxd = imsdev_probe(ops)
    shared = idxd.wqs[0]
    idxd.wq_configure(shared, size=wq_size(p), dedicated=False)
    idxd.wq_enable(shared)
    ie_a = wq_alloc_ims_irq(idxd, shared, pasid=PASID_A)
    ie_any = wq_alloc_ims_irq(idxd, shared)
    ie_b = wq_alloc_ims_irq(idxd, shared, pasid=PASID_B)

    # disable_irq: the slot is masked, the completion record comes, the interrupt pends; one on enable
    idxd.core.disable_irq(ie_any.irq)
    r.check_ims_slot(ie_any, masked=True)
    d = prep_desc(idxd_alloc_desc(shared), DSA_OPCODE_NOOP, ie=ie_any)
    assert idxd_submit_desc(idxd, shared, d, pasid=PASID_A) == 0
    deadline = ops.ktime_get_ns() + IRQ_WAIT_NS
    while read_completion(ops, d) is None:
        assert ops.ktime_get_ns() < deadline, "record of the masked-slot descriptor never written"
        ops.delay_ns(200)
    idxd.core.handle_pending(QUIET_NS)
    assert ie_any.desc.count == 0 and not plat.deliveries_for(ie_any.desc.parent), "masked IMS slot delivered"
    assert ie_any.wq.ims.pending(ie_any.desc), "masked IMS slot did not latch PENDING"
    r.expect(ie_any.desc)
    idxd.core.enable_irq(ie_any.irq)
    r.complete(idxd, shared, d, None)
    assert not ie_any.wq.ims.pending(ie_any.desc) and ie_any.desc.count == 1

    # PASID binding: a slot bound to B fires for B; the slot bound to A ignores B (SWERR IMS_PASID)
    d, _ = r.submit(idxd, shared, DSA_OPCODE_NOOP, ie=ie_b, pasid=PASID_B)
    r.complete(idxd, shared, d, None)
    r.expect(idxd.misc_irq)
    d = prep_desc(idxd_alloc_desc(shared), DSA_OPCODE_NOOP, ie=ie_a)
    assert idxd_submit_desc(idxd, shared, d, pasid=PASID_B) == 0
    r.error_interrupt(idxd, "IMS slot bound to another PASID", "IMS_PASID", wq=shared.id, pasid=PASID_B,
                      addr=ie_a.desc.hwirq)
    assert ie_a.desc.count == 0 and not ie_a.wq.ims.pending(ie_a.desc)
    idxd_wq_thread(ie_a.irq, ie_a)                 # reap by polling the entry: the record was written
    assert d.completion is not None and d.completion.status == DSA_COMP_SUCCESS
    idxd_free_desc(shared, d)

    # affinity: the platform retargets; the device entry is neither written nor changed
    for ie in [ie_a] + ([shared.msix_ie] if shared.msix_ie else []):
        desc = ie.desc
        before_words = [ops.mmio_read32(desc.chip_data.base + o) for o in (0, 4, 8, 12)]
        before_target, writes = desc.parent.expected, ops.counts["mmio_write"]
        idxd.core.irq_set_affinity(desc.irq, (desc.parent.cpu + 1) % plat.cpu_count)
        assert ops.counts["mmio_write"] == writes, "affinity change wrote to the device"
        assert [ops.mmio_read32(desc.chip_data.base + o) for o in (0, 4, 8, 12)] == before_words
        assert desc.parent.expected != before_target
        d, _ = r.submit(idxd, shared, DSA_OPCODE_NOOP, ie=ie)
        r.complete(idxd, shared, d, None)
        assert plat.deliveries_for(desc.parent)[-1].key == desc.parent.expected

    # a live message rewrite through the IMS bus lock (what msi_domain_set_affinity does when the parent
    # composes a new message): nothing reaches the device until unlock, then mask -> message -> unmask,
    # and the device never sees an address/data write to an unmasked slot (no IMS_UNMASKED_WRITE)
    desc = ie_any.desc
    (new_parent,) = ops.irq_domain.alloc_irqs(ops.requester_id, 1)
    old_parent, writes = desc.parent, ops.counts["mmio_write"]
    with idxd.core.bus_lock(desc):
        desc.parent = new_parent
        desc.msg = new_parent.msg
        desc.chip.irq_write_msi_msg(desc, new_parent.msg)
        assert ops.counts["mmio_write"] == writes, "IMS update written before irq_bus_sync_unlock"
    ops.irq_domain.free_irqs([old_parent])
    r.check_ims_slot(ie_any)
    d, _ = r.submit(idxd, shared, DSA_OPCODE_NOOP, ie=ie_any)
    r.complete(idxd, shared, d, None)
    assert not idxd.read_swerr().valid, f"the live rewrite was refused: {idxd.read_swerr()}"

    # ENQCMD bounded retry against a full queue: hold DMA so MEMMOVEs stall in the engine until it takes no
    # more and the last one fills the size-1 queue (WQCFG6.OCCUPANCY 1); then every ENQCMD gets RRS:
    # 1 + enqcmds_retries attempts, -EAGAIN, nothing logged. After the stall clears the same submission goes
    # through. The submitters of the shared WQ bring their own descriptors (a user-space client's pool), as
    # ENQCMD users do.
    idxd.wq_disable(shared)
    idxd.wq_configure(shared, size=1, dedicated=False)
    idxd.wq_enable(shared)
    client = DescPool(ops, 24)
    hold = DmaHold(bench)
    hold.hold()
    stalled = []
    for _ in range(16):
        stalled.append(r.submit(idxd, shared, DSA_OPCODE_MEMMOVE, 2048, pool=client))
        ops.delay_ns(400)                          # the engine takes it, unless it holds all it can
        if idxd.wq_state(shared)[1] == 1:
            break
    assert idxd.wq_state(shared) == (1, 1), f"the engine kept taking MEMMOVEs: {idxd.wq_state(shared)}"
    c = prep_desc(client.alloc(), DSA_OPCODE_NOOP)
    shared.enqcmds_retries, rrs_before = 3, ops.counts["dmwr_RRS"]
    rc = idxd_submit_desc(idxd, shared, c, pasid=PASID_A)
    rrs = ops.counts["dmwr_RRS"] - rrs_before
    hold.release()
    assert rc == -errno.EAGAIN and rrs == 4, f"full queue: rc {rc}, {rrs} RRS (expected -EAGAIN after 4)"
    assert not idxd.read_swerr().valid, "RRS must not be logged"
    for d, want in stalled:
        r.complete(idxd, shared, d, want)
    shared.enqcmds_retries = 32
    assert idxd_submit_desc(idxd, shared, c, pasid=PASID_A) == 0
    r.complete(idxd, shared, c, None)
    assert not idxd.core.spurious, f"spurious interrupts: {idxd.core.spurious}"

    imsdev_remove(idxd)
    return dict(r.checked, retries=shared.stats["enqcmds_retries"])


@cocotb.test()
@cocotb.parametrize(pauses=("none", "both"))
async def test_driver_interrupt_management(dut, pauses):
    bench, ops = await start(dut, pauses)
    checked = await run_blocking(interrupt_management, bench, ops)
    await finish(bench, ops, "test_driver_interrupt_management", checked)


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="descriptor", input="Driver model: opcode 0x7F with a record address, on a dedicated WQ",
             outcome="record status 0x10 (DSA_COMP_BAD_OPCODE); SWERR stays empty (a failure with a record is not "
                     "logged)",
             test="test_driver_lifecycle"),
    BadInput(cls="descriptor", input="Driver model: opcode 0x7F with RCR but no record address (CRAV = 0), on a "
                                     "dedicated WQ",
             outcome="error interrupt; the driver's handler decodes SWERR NO_CR (WQ, PASID, CODE_STATUS 0x10, opcode "
                     "0x7F) and acknowledges it: SWERR VALID/OVERFLOW and INT_CAUSE read 0",
             test="test_driver_lifecycle"),
    BadInput(cls="portal", input="Driver model: ENQCMD of a NOOP to a dedicated WQ's portal",
             outcome="enqcmds returns -EIO (UR); error interrupt, SWERR PORTAL_MODE (WQ, PASID) decoded and "
                     "acknowledged; no spurious interrupt",
             test="test_driver_lifecycle"),
    BadInput(cls="portal", input="Driver model: ENQCMD to a full shared WQ (SIZE 1, engine stalled) with "
                                 "enqcmds_retries = 3",
             outcome="-EAGAIN after exactly 4 RRS; nothing logged in SWERR; the same descriptor is accepted once the "
                     "stall clears",
             test="test_driver_interrupt_management"),
    BadInput(cls="pasid", input="Driver model: completion to an IMS slot bound to PASID A from a descriptor of PASID "
                                "B",
             outcome="error interrupt, SWERR IMS_PASID (WQ, PASID B, slot index) decoded and acknowledged; the slot "
                     "neither fires nor pends; the record (reaped by polling) says success",
             test="test_driver_interrupt_management"),
)


@cocotb.test()
async def test_posted_writes_in_program_order(dut):
    """BenchOps queues the driver's posted writes to the device's BARs and issues them, in program order,
    with the next access that needs the simulation (tb/driver_ops.py): none reaches the link before that
    access, all reach it before it, and the last one wins; a write outside the BARs (host memory) takes
    effect at once; writes still queued when the driver code returns are issued then."""
    bench, ops = await start(dut)
    scratch = bench.bar0_addr + regs.CSR_SCRATCH
    host = ops.mem_alloc(64)
    shim = bench.shim

    def driver():
        sent = shim.stats["rx_req"]
        ops.mmio_write32(scratch, 0x1111_1111)
        ops.mmio_write32(scratch, 0x2222_2222)
        assert ops.pending_writes == 2 and shim.stats["rx_req"] == sent, "posted writes went out before a read"
        assert ops.mmio_read32(scratch) == 0x2222_2222, "the read passed a posted write or the writes reordered"
        assert ops.pending_writes == 0 and shim.stats["rx_req"] == sent + 3, shim.stats["rx_req"] - sent
        ops.mmio_write32(host, 0xA5A5_5A5A)          # host memory, not the device: at once, ahead of nothing
        assert ops.mem_read(host, 4) == (0xA5A5_5A5A).to_bytes(4, "little") and ops.pending_writes == 0
        ops.mmio_write32(scratch, 0x3333_3333)        # still queued when the driver code returns
        assert ops.pending_writes == 1
        return sent

    sent = await run_blocking(driver)
    assert ops.pending_writes == 0, "a write queued when the driver code returned was not issued"
    # Issued is not yet arrived: over cocotbext-pcie's simulated link (IMSDEV_DIRECT_LINK=0, make bench
    # SPEED_BEFORE=1) the write is still on its way here. The read behind it may not pass it (PCIe ordering),
    # so its value and the count after it show the write arrived, once, before the read.
    assert await bench.rd32(regs.CSR_SCRATCH) == 0x3333_3333
    assert shim.stats["rx_req"] == sent + 5, shim.stats["rx_req"] - sent
