"""Shared virtual addressing end to end: the device's DMA translated by the platform's IOMMU per PASID.

Run with IMSDEV_PLATFORM=x86 (VT-d scalable mode, first-level tables) or arm (SMMUv3 stage 1). The bench
opts in with ``platform_options={"dma_translation": True}`` (tb/platform_bench.py): every upstream read
and write of the device, interrupt messages excepted, is translated per 4 KiB page with the TLP's
requester ID, PASID and PMR; a faulting read is answered UR, a faulting write dropped, and the IOMMU
records the fault. Processes are built, mapped and bound with tb/sva.py (kernel side:
fw/imsdev/platform/iommu_sva.py), and the work-queue scoreboard (tb/wq.py) checks each descriptor in its
process's virtual address space: the records, the destination bytes and the guard bytes around them are
read through the process's mappings, and it predicts what the IOMMU blocks.

What the device reports today (docs/work_queues.md, docs/dma.md), which issue 9 item 2 will change:

* a source read that faults: the host answers UR, the record has status 0x03 (DSA_COMP_PAGE_FAULT_NOBOF) with
  fault address = source + bytes completed;
* a destination write that faults: "writes are posted and cannot fail", so the record says success
  (0x01) with every byte completed, while the IOMMU dropped the write and recorded the fault. Only the
  IOMMU's fault record shows it.
"""
from __future__ import annotations

import ctypes as C
import errno
from dataclasses import replace

import cocotb
from cocotb.utils import get_sim_time
from cocotbext.pcie.core.tlp import CplStatus, TlpType
from cocotbext.pcie.core.utils import PcieId

from imsdev import regs
from imsdev.clib import CLibrary, DescC, OpsAdapter, SvaC

from tb.bad_inputs import BadInput
from tb.driver_ops import BenchOps
from tb.env import PAUSE_MODES
from tb.pcie.tlp import PasidTlp
from tb.sva import PAGE, SvaHost, read_fault_records
from tb.tests.fw.common import run_blocking
from tb.tests.platform.common import PLATFORM, assert_nothing_else_delivered, finish
from tb.wq import (CR_BYTES, ENQCMD_RETRIES, FLAG_CRAV, FLAG_RCI, FLAG_RCR, GUARD, OP_MEMFILL, OP_MEMMOVE,
                   ST_PAGE_FAULT, ST_SUCCESS, Descriptor, WqConfig, WqEnv, ims_handle)

# One virtual layout, used by every process: the same addresses name different physical pages.
VA_BASE = 0x0000_7F5A_0000_0000
VA_SRC = VA_BASE                    # 4 pages of sources
VA_DST = VA_BASE + 0x10_0000        # 4 pages of destinations
VA_CR = VA_BASE + 0x20_0000         # 1 page of completion records
VA_HOLE = VA_BASE + 0x30_0000       # never mapped
BUF_PAGES = 4
SLOT = 0xA00                        # per-job buffer slot: jobs 1, 3, 4 cross a page boundary
JOBS = 6
SHARED_WQ = 0

# Fault reasons per platform: (unmapped, write to a read-only page, PASID not bound).
if PLATFORM == "x86":
    from tb.platform.vtd_dma import VtdDmaFaultReason as _R
    NOT_MAPPED, READ_ONLY, UNBOUND = _R.SM_FL_ENTRY_NOT_PRESENT, _R.SM_NO_WRITE_PERMISSION, _R.SM_PASID_ENTRY_NOT_PRESENT
else:
    from tb.platform.smmu_dma import SmmuEventId as _E
    NOT_MAPPED, READ_ONLY, UNBOUND = _E.F_TRANSLATION, _E.F_PERMISSION, _E.C_BAD_CD


async def start(dut, pauses: str):
    env = await WqEnv.start(dut, pauses, platform_options={"dma_translation": True})
    plat = env.b.platform
    assert plat is not None and plat.name == PLATFORM and plat.dma_translation
    host = SvaHost(env.b)
    await env.setup({SHARED_WQ: WqConfig(size=min(env.p.wq_depth, 8))})
    return env, plat, host


def new_process(env, host, name: str, *, dst_read_only_pages=(), src_pages=BUF_PAGES, bind=True):
    """A process with the standard layout mapped and (unless bind=False) bound; its PASID names its space in
    the scoreboard."""
    proc = host.process(name)
    proc.map(VA_SRC, src_pages * PAGE)
    for n in range(BUF_PAGES):
        proc.map(VA_DST + n * PAGE, PAGE, writable=n not in dst_read_only_pages)
    proc.map(VA_CR, PAGE)
    if bind:
        env.sb.add_space(proc.bind(), proc)
    return proc


async def submit(env, proc, d: Descriptor, pasid=None):
    """ENQCMD with the process's PASID (user, PMR=0) on the shared WQ, retried like idxd."""
    t = await env.sb.submit(SHARED_WQ, d, pasid=proc.pasid if pasid is None else pasid, priv=False,
                            retries=ENQCMD_RETRIES * 20, backoff_cycles=10)
    assert t.accepted, f"{t}: {t.cpl_status.name} after {t.retries} retries"
    return t


def record(j: int) -> int:
    """Completion record slot j: 64 bytes apart (the scoreboard watches 32 bytes past each record)."""
    return VA_CR + 2 * CR_BYTES * j


def job(j: int, op: int, size: int, pattern: int = 0, src=None) -> Descriptor:
    return Descriptor(opcode=op, flags=FLAG_CRAV | FLAG_RCR, cr_addr=record(j),
                      src=(VA_SRC + 0x80 + j * SLOT) if op == OP_MEMMOVE and src is None else
                      (src if src is not None else pattern),
                      dst=VA_DST + 0x100 + j * SLOT, size=size)


def check_image(proc, before: dict, items) -> None:
    """Whole-space check: the process's pages equal their image `before`, with exactly its own descriptors'
    destinations and records applied. Another process's identical virtual addresses changed nothing."""
    want = bytearray(b"".join(before.values()))
    pages = sorted(proc.pages)

    def put(va, data):
        off = pages.index(va & ~(PAGE - 1)) * PAGE + (va & (PAGE - 1))
        want[off:off + len(data)] = data

    for t in items:
        d = t.desc
        put(d.dst, t.before["src"] if d.opcode == OP_MEMMOVE else (d.pattern * (d.size // 8 + 1))[:d.size])
        put(d.cr_addr, t.record.raw)
    got = b"".join(proc.image().values())
    if got != want:
        bad = next(i for i in range(len(got)) if got[i] != want[i])
        raise AssertionError(f"{proc}: memory differs from its expected image at virtual "
                             f"{pages[bad // PAGE] + bad % PAGE:#x}")


def check_interleaved(env, pasids, log_start: int, jobs: int = JOBS) -> int:
    """The processes' DMA ran at once: enough TLPs with their PASIDs, and the PASID switches on the link.
    Returns how many DMA TLPs carried those PASIDs."""
    tlps = [r for r in list(env.b.rc.upstream_log)[log_start:] if r.pasid in pasids and r.kind in ("MRd", "MWr")]
    assert len(tlps) >= len(pasids) * jobs * 2, f"only {len(tlps)} DMA TLPs tagged with the PASIDs {pasids}"
    switches = sum(1 for x, y in zip(tlps, tlps[1:]) if x.pasid != y.pasid)
    assert switches >= 2, f"the processes' DMA did not interleave on the link ({switches} PASID switches)"
    return len(tlps)


def dma_tlps(env, pasid: int, since: int = 0, kind: str | None = None):
    return [r for r in list(env.b.rc.upstream_log)[since:]
            if r.pasid == pasid and r.kind in ("MRd", "MWr") and (kind is None or r.kind == kind)]


def new_faults(plat, before: int):
    return plat.dma_faults[before:]


def check_fault_objects(plat, faults, *, reason, pasid, is_write, lo, hi, rid):
    """The IOMMU model's fault objects: reason, requester/stream ID, PASID, R/W, address inside [lo, hi)."""
    for f in faults:
        got = getattr(f, "reason", getattr(f, "event_id", None))
        pasid_of = getattr(f, "pasid", getattr(f, "substream_id", None))
        assert (got, f.requester_id, pasid_of, f.is_write, f.priv) == (reason, rid, pasid, is_write, False), \
            f"{plat.name} fault {f}: expected {reason!r} from {rid:#06x} PASID {pasid} write={is_write} user"
        assert lo <= f.address < hi, f"fault address {f.address:#x} outside [{lo:#x}, {hi:#x})"


def check_records(plat, records, faults):
    """The hardware records the kernel reads (FRCD / event queue) match the faults one for one. VT-d's FI
    holds the page address; an SMMU configuration event (C_BAD_CD) carries no access fields (RnW, PnU,
    InputAddr), only the translation faults do."""
    assert len(records) == len(faults), f"{len(records)} fault records for {len(faults)} faults: {records}"
    for rec, f in zip(records, faults):
        reason = getattr(f, "reason", getattr(f, "event_id", None))
        pasid = getattr(f, "pasid", getattr(f, "substream_id", None))
        want = dict(reason=int(reason), requester_id=f.requester_id, pasid=pasid)
        if plat.name == "x86":
            want.update(priv=False, address=f.address & ~(PAGE - 1), is_write=f.is_write)
        elif reason != UNBOUND:
            want.update(priv=False, address=f.address, is_write=f.is_write)
        got = {k: rec[k] for k in want}
        assert got == want, f"{plat.name} fault record {got}, expected {want}"


# ------------------------------------------------------------------------------------------------ tests
@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_two_processes_same_virtual_addresses(dut, pauses):
    """Two processes map the same virtual addresses (sources, destinations, completion records) to
    different physical pages and submit MEMMOVE/MEMFILL at once on one shared WQ with their own PASIDs:
    every descriptor reads and writes only its own process's pages (each process's whole mapped memory is
    byte-exact against its own expected image), and the IOMMU records no fault."""
    env, plat, host = await start(dut, pauses)
    rng = env.rng
    procs = [new_process(env, host, name) for name in ("A", "B")]
    a, b = procs
    assert a.pasid != b.pasid
    assert not {pa for pa, _ in a.pages.values()} & {pa for pa, _ in b.pages.values()}
    assert set(a.pages) == set(b.pages)
    before = {p.name: p.image() for p in procs}
    sizes = [rng.randint(1, SLOT - 2 * GUARD) for _ in range(JOBS)]
    log_start = len(env.b.rc.upstream_log)

    async def run(proc, k):
        out = []
        for j in range(JOBS):
            op = OP_MEMMOVE if (j + k) % 3 else OP_MEMFILL
            out.append(await submit(env, proc, job(j, op, sizes[j], rng.getrandbits(64))))
            await env.b.cycles(rng.randint(0, 20))
        return out

    tasks = [cocotb.start_soon(run(p, k)) for k, p in enumerate(procs)]
    items = {p.name: await task for p, task in zip(procs, tasks)}
    await env.sb.wait_complete()
    await env.sb.check()
    assert all(t.record.status == ST_SUCCESS for ts in items.values() for t in ts)

    for proc in procs:
        check_image(proc, before[proc.name], items[proc.name])
    assert env.b.rc.translated_requests >= check_interleaved(env, (a.pasid, b.pasid), log_start)
    assert not plat.dma_faults, f"unexpected DMA faults: {plat.dma_faults[:4]}"
    assert not read_fault_records(host)
    env.b.log.info("%s", env.sb.report())
    await finish(env.b, plat, "test_two_processes_same_virtual_addresses")


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_translation_faults(dut, pauses):
    """Unmapped source (wholly, and from the middle of a buffer) and a read-only destination page (wholly,
    and from the middle): the read gets UR and the record 0x03 (page fault) with fault address = source + bytes
    completed; the write is dropped and the record says success (writes are posted: the device cannot
    know). The IOMMU's fault record names the exact reason, requester/stream ID, PASID/SubstreamID and
    address; one record per faulting TLP. A good descriptor afterwards completes normally."""
    env, plat, host = await start(dut, pauses)
    rid = env.b.requester_id
    # Sources: page 0 mapped, pages 1.. unmapped. Destinations: page 2 read-only.
    proc = new_process(env, host, "P", src_pages=1, dst_read_only_pages=(2,))
    pasid = proc.pasid
    ro_page = VA_DST + 2 * PAGE
    cases = [
        # (name, descriptor, kind, reason, faulting range)
        ("unmapped source", job(0, OP_MEMMOVE, 64, src=VA_HOLE + 0x40), "MRd", NOT_MAPPED,
         (VA_HOLE, VA_HOLE + PAGE)),
        ("source runs into an unmapped page", job(1, OP_MEMMOVE, 1024, src=VA_SRC + PAGE - 256), "MRd", NOT_MAPPED,
         (VA_SRC + PAGE, VA_SRC + 2 * PAGE)),
        ("read-only destination", Descriptor(opcode=OP_MEMFILL, flags=FLAG_CRAV | FLAG_RCR, cr_addr=record(2),
                                             src=0x0123_4567_89AB_CDEF, dst=ro_page + 0x300, size=200),
         "MWr", READ_ONLY, (ro_page, ro_page + PAGE)),
        ("destination runs into a read-only page", Descriptor(
            opcode=OP_MEMMOVE, flags=FLAG_CRAV | FLAG_RCR, cr_addr=record(3), src=VA_SRC + 0x200,
            dst=ro_page - 100, size=300), "MWr", READ_ONLY, (ro_page, ro_page + PAGE)),
    ]
    for name, d, kind, reason, (lo, hi) in cases:
        faults_before = len(plat.dma_faults)
        log_start = len(env.b.rc.upstream_log)
        t = await submit(env, proc, d)
        await env.sb.wait_complete([t])
        await env.b.settle()
        await env.sb.check([t])
        rec = t.record
        faults = new_faults(plat, faults_before)
        # One fault per TLP of this PASID into the faulting page, and none anywhere else.
        hits = [r for r in dma_tlps(env, pasid, log_start, kind) if lo <= r.address < hi]
        assert len(faults) == len(hits) >= 1, f"{name}: {len(faults)} IOMMU faults for {len(hits)} {kind} TLPs"
        check_fault_objects(plat, faults, reason=reason, pasid=pasid, is_write=kind == "MWr", lo=lo, hi=hi,
                            rid=rid)
        check_records(plat, read_fault_records(host), faults)
        first = min(f.address for f in faults)
        if kind == "MRd":
            assert rec.status == ST_PAGE_FAULT, f"{name}: {rec}"
            assert rec.fault_addr == d.src + rec.bytes_completed, f"{name}: {rec}"
            assert first == max(d.src, lo), f"{name}: first faulting read at {first:#x}"
            assert rec.bytes_completed <= max(0, lo - d.src), f"{name}: {rec} completed past the mapped part"
        else:
            assert (rec.status, rec.bytes_completed) == (ST_SUCCESS, d.size), \
                f"{name}: the device reports {rec} (today: success, all bytes: writes are posted)"
            assert first == max(d.dst, lo), f"{name}: first dropped write at {first:#x}"
        plat.expect_fault(reason, n=len(faults), requester_id=rid)
        env.b.log.info("%s: record %s, %d IOMMU fault(s), first at %#x", name, rec, len(faults), first)

    faults_before = len(plat.dma_faults)
    good = await submit(env, proc, job(5, OP_MEMMOVE, 700, src=VA_SRC + 0x10))
    await env.sb.wait_complete([good])
    await env.sb.check()
    assert good.record.status == ST_SUCCESS and not new_faults(plat, faults_before)
    await finish(env.b, plat, "test_translation_faults")


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_unbind_while_idle(dut, pauses):
    """A process is unbound while the device is idle: a later descriptor with its old PASID faults on every
    access (the read gets UR, the record write is dropped), touches none of its old pages, and the IOMMU
    records 'PASID not bound' (VT-d: PASID entry not present; SMMU: C_BAD_CD) for the read and the write.
    The other process, still bound, keeps working."""
    env, plat, host = await start(dut, pauses)
    rid = env.b.requester_id
    a, b = new_process(env, host, "A"), new_process(env, host, "B")
    first = [await submit(env, p, job(0, OP_MEMMOVE, 500)) for p in (a, b)]
    await env.sb.wait_complete(first)
    await env.sb.check()

    old = a.pasid
    a.unbind()
    assert not a.bound
    image = a.image()
    log_start = len(env.b.rc.upstream_log)
    faults_before = len(plat.dma_faults)
    t = await submit(env, a, job(1, OP_MEMMOVE, 64), pasid=old)
    assert t.cr_blocked and t.status == ST_PAGE_FAULT
    await env.sb.wait_complete([t])
    await env.b.settle()
    await env.sb.check([t])
    assert a.image() == image, "a descriptor of the unbound PASID changed the process's memory"
    tlps = dma_tlps(env, old, log_start)
    faults = new_faults(plat, faults_before)
    assert [r.kind for r in tlps] == ["MRd", "MWr"], f"DMA with the old PASID: {tlps}"
    assert len(faults) == 2, f"every access of the unbound PASID faults: {faults}"
    d = t.desc
    check_fault_objects(plat, faults[:1], reason=UNBOUND, pasid=old, is_write=False, lo=d.src, hi=d.src + 1,
                        rid=rid)
    check_fault_objects(plat, faults[1:], reason=UNBOUND, pasid=old, is_write=True, lo=d.cr_addr,
                        hi=d.cr_addr + 1, rid=rid)
    check_records(plat, read_fault_records(host), faults)
    plat.expect_fault(UNBOUND, n=2, requester_id=rid)

    t2 = await submit(env, b, job(1, OP_MEMFILL, 333, env.rng.getrandbits(64)))
    await env.sb.wait_complete([t2])
    await env.sb.check()
    assert t2.record.status == ST_SUCCESS
    b.unbind()
    await finish(env.b, plat, "test_unbind_while_idle")


EXIT_VA = VA_BASE + 0x40_0000      # test_process_exit_under_traffic's own layout: a fresh slot per descriptor
EXIT_JOBS = 48                     # per process: 48 x 1 KiB of sources and of destinations, 48 records


def exit_job(n: int, op: int, size: int, pattern: int) -> Descriptor:
    return Descriptor(opcode=op, flags=FLAG_CRAV | FLAG_RCR, cr_addr=EXIT_VA + 0x20_0000 + 2 * CR_BYTES * n,
                      src=(EXIT_VA + 0x400 * n) if op == OP_MEMMOVE else pattern,
                      dst=EXIT_VA + 0x10_0000 + 0x400 * n, size=size)


@cocotb.test()
@cocotb.parametrize(pauses=("none", "both"))
async def test_process_exit_under_traffic(dut, pauses):
    """Process exit the way idxd and the kernel do it, while another process keeps the shared WQ busy: A stops
    submitting, DRAIN_PASID(A) completes, then A is unbound. No TLP with A's PASID starts on the link after
    the completion that reported the drain done, every A descriptor completed before it (record and data in
    A's pages), the unbind leaves no fault behind, and B's traffic is untouched throughout."""
    env, plat, host = await start(dut, pauses)
    rng = env.rng
    a, b = new_process(env, host, "A"), new_process(env, host, "B")
    for p in (a, b):
        p.map(EXIT_VA, EXIT_JOBS * 0x400)
        p.map(EXIT_VA + 0x10_0000, EXIT_JOBS * 0x400)
        p.map(EXIT_VA + 0x20_0000, PAGE)
    jobs: dict = {a: [], b: []}
    stop = {a: False, b: False}

    async def run(proc):
        while not stop[proc] and len(jobs[proc]) < EXIT_JOBS:
            op = OP_MEMFILL if rng.random() < 0.5 else OP_MEMMOVE
            t = await submit(env, proc, exit_job(len(jobs[proc]), op, rng.randint(1, 700), rng.getrandbits(64)))
            jobs[proc].append(t)
            await env.b.cycles(rng.randint(0, 60))

    tasks = {p: cocotb.start_soon(run(p)) for p in (a, b)}
    await env.b.cycles(rng.randint(300, 2000))
    stop[a] = True
    await tasks[a]                                  # A has exited: nothing more from it
    old = a.pasid
    faults_before = len(plat.dma_faults)
    in_flight = [t for t in jobs[a] if not t.cr_writes]
    assert await env.cmd_ok(regs.CMD_DRAIN_PASID, old) == 0
    t_done = env.b.shim.tx_cpl_log[-1].start_ns    # the CMDSTS read that reported ACTIVE = 0
    a.unbind()
    await env.b.cycles(rng.randint(300, 1000))      # B goes on after A is gone
    stop[b] = True
    await tasks[b]
    await env.sb.wait_complete()
    await env.sb.check()
    late = [r for r in env.b.shim.tx_req_log if r.tlp.pasid == old and r.start_ns >= t_done]
    assert not late, f"{len(late)} TLP(s) with A's PASID {old} after DRAIN_PASID finished at {t_done} ns: {late[:3]}"
    # (a record seen by the host only after the drain's completion travelled the bench's separate stream;
    # `late` above is the device-side check)
    assert jobs[a] and all(t.state == "completed" and t.record.status == ST_SUCCESS for t in jobs[a])
    assert jobs[b] and all(t.state == "completed" and t.record.status == ST_SUCCESS for t in jobs[b])
    assert not new_faults(plat, faults_before), f"faults after A's exit: {new_faults(plat, faults_before)}"
    env.b.log.info(f"process exit: A ran {len(jobs[a])} descriptors ({len(in_flight)} without a record when the "
                   f"drain was issued), B {len(jobs[b])}")
    b.unbind()
    await finish(env.b, plat, "test_process_exit_under_traffic")


@cocotb.test()
async def test_ims_entries_bound_to_processes(dut):
    """Per-process IMS entries with translation on: entry 0 of the shared WQ bound to A's PASID, entry 1 to B's,
    each programmed with an interrupt of the platform's irq domain. Each process's completion interrupt is
    delivered once on its own entry's interrupt; B naming A's entry gets no interrupt (its record is still
    written, through B's tables) and SWERR IMS_PASID with B's PASID, and A's entry neither fires nor pends."""
    env, plat, host = await start(dut, "none")
    a, b = new_process(env, host, "A"), new_process(env, host, "B")
    p = env.p
    irqs = plat.alloc_irqs(env.b.requester_id, 2, hwsize=p.msix_vectors + p.num_wq * p.ims_per_wq)
    plat.track(*irqs)
    for idx, (proc, irq) in enumerate(zip((a, b), irqs)):
        await env.ims_program(SHARED_WQ, idx, irq.msg.address, irq.msg.data, masked=False, pasid=proc.pasid)
    rci = FLAG_CRAV | FLAG_RCR | FLAG_RCI
    own = []
    for j, (proc, idx) in enumerate(((a, 0), (b, 1))):
        d = job(j, OP_MEMFILL, 100, env.rng.getrandbits(64))
        d.flags, d.int_handle = rci, ims_handle(idx)
        plat.expect(irqs[idx])
        own.append(await submit(env, proc, d))
    await env.sb.wait_complete(own)
    await plat.wait_all()
    d = job(2, OP_MEMFILL, 64, env.rng.getrandbits(64))
    d.flags, d.int_handle = rci, ims_handle(0)
    stolen = await submit(env, b, d)
    assert stolen.irq[0] == "pasid_error", f"the scoreboard expects {stolen.irq}"
    await env.sb.wait_complete([stolen])
    await env.b.settle()
    await env.sb.check()
    await env.expect_swerr(regs.SWERR_IMS_PASID, "B's descriptor naming A's IMS entry", wq=SHARED_WQ, pasid=b.pasid)
    assert not await env.ims_pending(SHARED_WQ, 0), "A's entry pends B's event"
    assert_nothing_else_delivered(plat)
    for proc in (a, b):
        proc.unbind()
    await finish(env.b, plat, "test_ims_entries_bound_to_processes")


@cocotb.test()
async def test_root_complex_translates_each_page(dut):
    """The host side of the translation on its own (PCIe forbids a request that crosses 4 KiB, so the
    device never sends one and the RC is driven directly with TLPs carrying the device's requester ID and
    a process's PASID): a read across two mapped, physically discontiguous pages returns both pages' bytes;
    a read that runs into an unmapped page gets one UR and the IOMMU records the second page; a write that
    runs into a read-only page writes the first page only and the IOMMU records the second."""
    env, plat, host = await start(dut, "none")
    rc, rid = env.b.rc, env.b.requester_id
    proc = new_process(env, host, "P", src_pages=2, dst_read_only_pages=(1,))
    while proc.physical(VA_SRC + PAGE) == proc.physical(VA_SRC) + PAGE:     # make them discontiguous
        proc.unmap(VA_SRC + PAGE, PAGE)
        proc.map(VA_SRC + PAGE, PAGE)
    requester = PcieId.from_int(rid)

    async def read(va, n):
        tlp = PasidTlp.create_mem_read(va & ~(PAGE - 1), n, requester_id=requester, pasid=proc.pasid, tag=5)
        tlp.set_addr_be(va, n)                  # now it crosses 4 KiB
        sent, real = [], rc.send

        async def capture(cpl):
            sent.append(cpl)
        rc.send = capture
        try:
            await rc._translated_read(tlp)
        finally:
            rc.send = real
        return sent

    faults_before = len(plat.dma_faults)
    cpls = await read(VA_SRC + PAGE - 64, 128)
    assert all(c.status == CplStatus.SC for c in cpls) and cpls
    assert b"".join(bytes(c.get_data()) for c in cpls)[:128] == proc.read(VA_SRC + PAGE - 64, 128)
    assert not new_faults(plat, faults_before)

    cpls = await read(VA_SRC + 2 * PAGE - 64, 128)
    assert [c.status for c in cpls] == [CplStatus.UR], cpls
    faults = new_faults(plat, faults_before)
    check_fault_objects(plat, faults, reason=NOT_MAPPED, pasid=proc.pasid, is_write=False,
                        lo=VA_SRC + 2 * PAGE, hi=VA_SRC + 2 * PAGE + 1, rid=rid)
    assert len(faults) == 1
    check_records(plat, read_fault_records(host), faults)
    plat.expect_fault(NOT_MAPPED, n=1, requester_id=rid)

    va = VA_DST + PAGE - 40
    before = proc.read(va, 80)
    data = env.rng.randbytes(80)
    tlp = PasidTlp.create_mem_write(VA_DST, data, requester_id=requester, pasid=proc.pasid)
    tlp.set_addr_be_data(va, data)
    faults_before = len(plat.dma_faults)
    assert await rc._translated_write(tlp) is None
    assert proc.read(va, 80) == data[:40] + before[40:], "write across pages: first page only"
    faults = new_faults(plat, faults_before)
    check_fault_objects(plat, faults, reason=READ_ONLY, pasid=proc.pasid, is_write=True, lo=VA_DST + PAGE,
                        hi=VA_DST + PAGE + 1, rid=rid)
    assert len(faults) == 1
    check_records(plat, read_fault_records(host), faults)
    plat.expect_fault(READ_ONLY, n=1, requester_id=rid)
    await finish(env.b, plat, "test_root_complex_translates_each_page")


# ---- the C library's iommu_sva_bind_device-like flow (fw/lib/imsdev.h imsdev_sva_bind / imsdev_sva_unbind) ----
class CDriver:
    """The C library over the bench (tb/driver_ops.py BenchOps through imsdev.clib.OpsAdapter), with the test's
    SvaHost as the platform's SVA code behind ops->sva_bind / sva_unbind (sva=False: those callbacks NULL).
    Every call runs in a bridge thread. Each struct imsdev_dev is probed before the device is enabled:
    "drv" is the driver's (binds, unbinds, DRAIN_PASID), and each process submits its ENQCMDs through its own
    instance (its portal mapping), so a process's traffic goes on while the driver unbinds another."""

    def __init__(self, env, host, sva: bool = True):
        self.env, self.host = env, host
        self.lib = CLibrary()
        self.adapter = OpsAdapter(BenchOps(env.b), sva=host if sva else None)
        self.devs: dict = {}

    async def call(self, fn, *args):
        rc = await run_blocking(fn, *args)
        self.adapter.raise_if_failed()
        return rc

    async def probe(self, name: str = "drv", enable_pasid: bool = True):
        dev = self.devs[name] = self.lib.new_dev()
        assert await self.call(self.lib.probe, dev, C.byref(self.adapter.struct)) == 0, f"imsdev_probe ({name})"
        if enable_pasid:
            assert await self.call(self.lib.pci_enable_pasid, dev, True) == 0
        return dev

    async def bind(self, proc, expect: int = 0, mm=None) -> SvaC:
        """imsdev_sva_bind of the process's address space; on success its PASID names its scoreboard space."""
        h = SvaC()
        mm = self.host.mm_handle(proc) if mm is None else mm
        rc = await self.call(self.lib.sva_bind, self.devs["drv"], mm, C.byref(h))
        assert rc == expect, f"imsdev_sva_bind({proc.name}): {rc}, expected {expect}"
        assert h.mm == mm and h.bound == (rc == 0)
        if rc == 0:
            assert proc.bound and h.pasid == proc.pasid, f"C handle PASID {h.pasid}, platform {proc}"
            self.env.sb.add_space(h.pasid, proc)
        return h

    async def unbind(self, h: SvaC) -> int:
        return await self.call(self.lib.sva_unbind, self.devs["drv"], C.byref(h))

    async def submit(self, proc, h: SvaC, d: Descriptor):
        """imsdev_enqcmd from the process's instance with its PASID (idxd's bounded retry); a WQ still full
        after the retries (-EAGAIN) is tried again after a pause, as a user program would."""
        d = replace(d, pasid=h.pasid, priv=False)
        t = self.env.sb.track(SHARED_WQ, d, via="enqcmd", pasid=h.pasid, priv=False)
        c = DescC(d.opcode, d.flags, d.pasid, False, d.cr_addr, d.src, d.dst, d.size, d.int_handle)
        for _ in range(50):
            rc = await self.call(self.lib.enqcmd, self.devs[proc.name], SHARED_WQ, C.byref(c), ENQCMD_RETRIES)
            if rc == 0:
                self.env.sb.accepted(t)
                return t
            assert rc == -errno.EAGAIN, f"{t}: imsdev_enqcmd returned {rc}"
            await self.env.b.cycles(20)
        raise AssertionError(f"{t}: the shared WQ never accepted it")


async def c_start(dut, pauses: str, names=("A", "B"), sva: bool = True):
    """WqEnv with translation, the C library probed (driver and one instance per process) before the shared WQ
    is enabled, the processes mapped but not bound."""
    env = await WqEnv.start(dut, pauses, platform_options={"dma_translation": True})
    plat = env.b.platform
    assert plat is not None and plat.name == PLATFORM and plat.dma_translation
    host = SvaHost(env.b)
    cd = CDriver(env, host, sva=sva)
    for name in ("drv", *names):
        await cd.probe(name)
    # probe() sets INTHDL_CTL.REQUIRED when CMDCAP lists REQUEST_INT_HANDLE: the scoreboard follows the device
    env.handles_required = bool(await env.b.rd32(regs.CSR_INTHDL_CTL) & regs.CSR_INTHDL_CTL_REQUIRED_MASK)
    await env.setup({SHARED_WQ: WqConfig(size=min(env.p.wq_depth, 8))})
    procs = [new_process(env, host, name, bind=False) for name in names]
    return env, plat, host, cd, procs


def drain_done_ns(env, since: int, until_ns: float) -> float:
    """When the device sent the completion of the CMDSTS read that found DRAIN_PASID finished: the last
    completion with data for a CMDSTS read among the device's completions from index `since` on, started
    before `until_ns` (the C unbind had returned by then; it reads nothing after the drain)."""
    reads = [r for r in env.b.shim.tx_cpl_log[since:] if r.tlp.fmt_type == TlpType.CPL_DATA
             and r.tlp.lower_address == regs.CSR_CMDSTS & 0x7F and r.start_ns <= until_ns]
    assert reads, "no CMDSTS read completed during the C unbind"
    return reads[-1].start_ns


@cocotb.test()
@cocotb.parametrize(pauses=("none", "both"))
async def test_c_sva_bind(dut, pauses):
    """The C library binds two processes with the same virtual layout (imsdev_sva_bind: the platform's
    VT-d first-level / SMMUv3 CD binding, PASID checked against the device's PASID capability) and each
    submits MEMMOVE/MEMFILL through imsdev_enqcmd with its returned PASID on one shared WQ: every descriptor
    reads and writes only its own process's physical pages (both whole spaces byte-exact). Then, under B's
    continuing C submissions, A stops and the C library unbinds it (imsdev_sva_unbind: DRAIN_PASID, then the
    platform unbind): every A descriptor finished, no TLP with A's PASID leaves the device after the drain's
    completion (so none after the unbind returned), A's memory is unchanged from then on, A's PASID is gone
    from the IOMMU, B's descriptors all succeed and no IOMMU fault is recorded."""
    env, plat, host, cd, (a, b) = await c_start(dut, pauses)
    rng = env.rng
    ha, hb = await cd.bind(a), await cd.bind(b)
    assert ha.pasid != hb.pasid and 0 < max(ha.pasid, hb.pasid) < 1 << await cd.call(cd.lib.pasid_width,
                                                                                     cd.devs["drv"])
    assert host.sva_calls == [("bind", 1, ha.pasid), ("bind", 2, hb.pasid)]
    handle = {a: ha, b: hb}

    # ---- phase 1: both processes at once, same virtual addresses, different physical pages -------------------
    before = {p: p.image() for p in (a, b)}
    sizes = [rng.randint(1, SLOT - 2 * GUARD) for _ in range(JOBS)]
    log_start = len(env.b.rc.upstream_log)

    async def run(proc, k):
        out = []
        for j in range(JOBS):
            op = OP_MEMMOVE if (j + k) % 3 else OP_MEMFILL
            out.append(await cd.submit(proc, handle[proc], job(j, op, sizes[j], rng.getrandbits(64))))
            await env.b.cycles(rng.randint(0, 20))
        return out

    tasks = {p: cocotb.start_soon(run(p, k)) for k, p in enumerate((a, b))}
    items = {p: await task for p, task in tasks.items()}
    await env.sb.wait_complete()
    await env.sb.check()
    assert all(t.record.status == ST_SUCCESS for ts in items.values() for t in ts)
    for p in (a, b):
        check_image(p, before[p], items[p])
    assert env.b.rc.translated_requests >= check_interleaved(env, (ha.pasid, hb.pasid), log_start)

    # ---- phase 2: A exits (C unbind) while B keeps submitting through the C library ---------------------------
    for p in (a, b):
        p.map(EXIT_VA, EXIT_JOBS * 0x400)
        p.map(EXIT_VA + 0x10_0000, EXIT_JOBS * 0x400)
        p.map(EXIT_VA + 0x20_0000, PAGE)
    before = {p: p.image() for p in (a, b)}
    jobs: dict = {a: [], b: []}
    stop = False

    async def run_b():
        while not stop and len(jobs[b]) < EXIT_JOBS:
            op = OP_MEMFILL if rng.random() < 0.5 else OP_MEMMOVE
            jobs[b].append(await cd.submit(b, hb, exit_job(len(jobs[b]), op, rng.randint(1, 700),
                                                          rng.getrandbits(64))))
            await env.b.cycles(rng.randint(0, 60))

    task_b = cocotb.start_soon(run_b())
    for n in range(rng.randint(4, 10)):               # A's last descriptors, not waited for
        op = OP_MEMFILL if rng.random() < 0.5 else OP_MEMMOVE
        jobs[a].append(await cd.submit(a, ha, exit_job(n, op, rng.randint(1, 700), rng.getrandbits(64))))
    old = ha.pasid
    in_flight = [t for t in jobs[a] if not t.cr_writes]
    faults_before = len(plat.dma_faults)
    cpl_mark = len(env.b.shim.tx_cpl_log)
    b_before_unbind = len(jobs[b])
    rc = await cd.unbind(ha)
    t_return = get_sim_time("ns")
    assert rc == 0, f"imsdev_sva_unbind: {rc} ({cd.lib.cmd_err_name(rc).decode() if rc > 0 else rc})"
    assert not ha.bound and ha.pasid == old and not a.bound and a.unbound_pasid == old
    assert host.sva_calls[-1] == ("unbind", old)
    t_done = drain_done_ns(env, cpl_mark, t_return)
    image_a = a.image()
    await env.b.cycles(rng.randint(300, 1000))        # B goes on after A is gone
    stop = True
    await task_b
    await env.sb.wait_complete()
    await env.sb.check()

    late = [r for r in env.b.shim.tx_req_log if r.tlp.pasid == old and r.start_ns >= t_done]
    assert not late, f"{len(late)} TLP(s) with A's PASID {old} after DRAIN_PASID finished at {t_done} ns: {late[:3]}"
    assert jobs[a] and all(t.state == "completed" and t.record.status == ST_SUCCESS for t in jobs[a])
    assert all(w[1] < t_done for t in jobs[a] for w in t.cr_writes), "an A record arrived after the drain"
    assert jobs[b] and all(t.state == "completed" and t.record.status == ST_SUCCESS for t in jobs[b])
    assert len(jobs[b]) > b_before_unbind, "B submitted nothing after A's unbind"
    for p in (a, b):
        check_image(p, before[p], jobs[p])
    assert a.image() == image_a, "A's memory changed after its unbind returned"
    assert not new_faults(plat, faults_before) and not plat.dma_faults, f"faults: {plat.dma_faults[:4]}"
    assert not read_fault_records(host)
    env.b.log.info(f"C unbind: A ran {len(jobs[a])} descriptors after phase 1 ({len(in_flight)} without a record "
                   f"when imsdev_sva_unbind was called), B {len(jobs[b])} ({len(jobs[b]) - b_before_unbind} after "
                   f"the unbind started); drain done at {t_done} ns, unbind returned at {t_return} ns")
    assert await cd.unbind(hb) == 0 and not b.bound
    await finish(env.b, plat, "test_c_sva_bind")


@cocotb.test()
async def test_c_sva_bind_refused(dut):
    """imsdev_sva_bind's refusals on the RTL, each with nothing left bound: a platform without SVA callbacks
    (-EOPNOTSUPP); the PASID capability not enabled by the library, or its Enable bit cleared in config space
    behind the library's back (-EOPNOTSUPP, the platform not asked); an address-space handle the platform
    does not know (its -EINVAL); a device whose PASID capability reports 6 bits while the IOMMU hands out
    PASID 64 (-EINVAL, the binding handed back to the platform, no TLP ever carries 64, and 64 binds and
    works once the width allows it). Binding a bound process again takes a second reference to the same
    PASID: the first unbind drains and keeps the binding (the process still works), the second removes it.
    Unbinding a handle that is not bound is -EINVAL with nothing done."""
    env, plat, host, cd, (p,) = await c_start(dut, "none", names=("P",))
    drv = cd.devs["drv"]
    mm = host.mm_handle(p)

    # no SVA in the platform: NULL callbacks
    nosva = CDriver(env, host, sva=False)
    await nosva.probe("drv")
    await nosva.bind(p, expect=-errno.EOPNOTSUPP)
    # PASID capability: never enabled in this instance, then enabled and cleared in config space
    off = CDriver(env, host)
    await off.probe("drv", enable_pasid=False)
    await off.bind(p, expect=-errno.EOPNOTSUPP)
    await env.set_pasid_control(False)
    await cd.bind(p, expect=-errno.EOPNOTSUPP)
    await env.set_pasid_control(True, priv=True)
    assert host.sva_calls == [] and not p.bound, host.sva_calls
    # an address space the platform does not know
    await cd.bind(p, expect=-errno.EINVAL, mm=0xDEAD)
    assert host.sva_calls == [("bind", 0xDEAD, -errno.EINVAL)]

    # a PASID wider than the device's PASID capability
    cap, pasids = env.b.shim.pasid_cap, plat.sva.pasids
    width, first = cap.max_pasid_width, pasids.first
    req_mark, up_mark = len(env.b.shim.tx_req_log), len(env.b.rc.upstream_log)
    try:
        cap.max_pasid_width, pasids.first = 6, 64
        assert await cd.call(cd.lib.pasid_width, drv) == 6
        await cd.bind(p, expect=-errno.EINVAL)
        assert host.sva_calls[-2:] == [("bind", mm, 64), ("unbind", 64)] and not p.bound
        assert not [r for r in env.b.shim.tx_req_log[req_mark:] if r.tlp.pasid == 64]
        assert not [r for r in list(env.b.rc.upstream_log)[up_mark:] if r.pasid == 64]
        cap.max_pasid_width = width
        h = await cd.bind(p)                          # PASID 64 was freed: allocated again, now in range
        assert h.pasid == 64
        t = await cd.submit(p, h, job(0, OP_MEMMOVE, 300))
        await env.sb.wait_complete([t])
        assert await cd.unbind(h) == 0 and not p.bound
    finally:
        cap.max_pasid_width, pasids.first = width, first

    # a second bind of the same address space: another reference to the same PASID
    h1 = await cd.bind(p)
    h2 = await cd.bind(p)
    assert h1.pasid == h2.pasid and p.c_refs == 2
    assert await cd.unbind(h1) == 0 and p.bound and p.pasid == h2.pasid
    t = await cd.submit(p, h2, job(1, OP_MEMFILL, 200, env.rng.getrandbits(64)))
    await env.sb.wait_complete([t])
    assert await cd.unbind(h2) == 0 and not p.bound
    # unbinding what is not bound
    calls, writes = len(host.sva_calls), cd.adapter.ops.counts["mmio_write"]
    assert await cd.unbind(h2) == -errno.EINVAL and await cd.unbind(SvaC()) == -errno.EINVAL
    assert len(host.sva_calls) == calls and cd.adapter.ops.counts["mmio_write"] == writes, "no DRAIN_PASID"
    await env.sb.check()
    assert all(t.record.status == ST_SUCCESS for t in env.sb.items)
    assert not plat.dma_faults, f"unexpected DMA faults: {plat.dma_faults[:4]}"
    await finish(env.b, plat, "test_c_sva_bind_refused")


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="encoder", input="C library imsdev_sva_bind on a platform without SVA (ops->sva_bind/sva_unbind NULL)",
             outcome="-EOPNOTSUPP, handle not bound", test="test_c_sva_bind_refused"),
    BadInput(cls="encoder", input="C library imsdev_sva_bind with the PASID capability not enabled (never, or "
             "Enable cleared in config space)", outcome="-EOPNOTSUPP; the platform's sva_bind is not called",
             test="test_c_sva_bind_refused"),
    BadInput(cls="encoder", input="C library imsdev_sva_bind: the platform hands out a PASID at or above 2^(Max PASID "
             "Width) of the device's PASID capability",
             outcome="-EINVAL; the binding is handed back (sva_unbind of that PASID); no TLP carries it",
             test="test_c_sva_bind_refused"),
    BadInput(cls="encoder", input="C library imsdev_sva_unbind of a handle that is not bound (never bound, or "
             "unbound already)", outcome="-EINVAL; no DRAIN_PASID, no platform call", test="test_c_sva_bind_refused"),
)
