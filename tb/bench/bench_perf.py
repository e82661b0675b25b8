"""Performance measurements (`make bench`): numbers, not pass/fail. Each test records what it measured in
the JSON file named by IMSDEV_BENCH_OUT; sim/bench.py collects and reports them.

Cycle counts come from a clock-edge counter and stream monitors on the DUT's TLP interfaces (and, for the
MSI-X request point, the engine's request handshake), so they measure the RTL, not the bench's Python.
"""
import json
import os
import time

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge

from imsdev import regs
from tb.env import Bench

FT_MWR32, FT_MWR64, FT_DMWR32, FT_DMWR64 = 0x40, 0x60, 0x5B, 0x7B
PASID = 0x1234


def record(name, **values):
    path = os.environ.get("IMSDEV_BENCH_OUT")
    if not path:
        return
    data = json.loads(open(path).read()) if os.path.exists(path) else {}
    data[name] = values
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


class Monitor:
    """Cycle-stamped log of TLP beats on the device's streams and of MSI-X requests accepted."""

    def __init__(self, dut):
        self.dut = dut
        self.cycle = 0
        self.tx_req = []     # (cycle, sop, eop, fmt_type, addr_lo, accepted)
        self.rx_req = []     # (cycle, sop, eop, fmt_type)
        self.irq = []        # cycle of each MSI-X request accepted
        cocotb.start_soon(self._run())

    async def _run(self):
        d = self.dut
        while True:
            await RisingEdge(d.clk)
            self.cycle += 1
            if d.tx_req_valid.value == 1:
                hdr = int(d.tx_req_hdr.value)
                ft = hdr >> 120
                addr = (hdr & 0xFFFF_FFFF) if ft & 0x20 else (hdr >> 32) & 0xFFFF_FFFF
                self.tx_req.append((self.cycle, int(d.tx_req_sop.value), int(d.tx_req_eop.value), ft,
                                    addr & ~3, int(d.tx_req_ready.value)))
            if d.rx_req_valid.value == 1 and d.rx_req_ready.value == 1:
                self.rx_req.append((self.cycle, int(d.rx_req_sop.value), int(d.rx_req_eop.value),
                                    int(d.rx_req_hdr.value) >> 120))
            if d.u_msix.irq_valid.value == 1 and d.u_msix.irq_ready.value == 1:
                self.irq.append(self.cycle)

    def first_msg(self, addr, after):
        for c, sop, _, ft, a, _ in self.tx_req:
            if c > after and sop and ft in (FT_MWR32, FT_MWR64) and a == addr & ~3:
                return c
        return None


async def enable_pasid(bench):
    cap = await bench.find_ext_cap(0x1B)
    await bench.dev.config_write_word(cap + 6, 0x7)


async def command(bench, code, operand=0):
    await bench.wr32(regs.CSR_CMD, (code << regs.CSR_CMD_CMD_SHIFT) | operand)
    for _ in range(1000):
        sts = await bench.rd32(regs.CSR_CMDSTS)
        if not sts & regs.CSR_CMDSTS_ACTIVE_MASK:
            assert sts & regs.CSR_CMDSTS_ERR_MASK == 0, f"command {code} failed: {sts:#x}"
            return
    raise AssertionError(f"command {code} never finished")


async def shared_wq(bench, wq=0, size=None):
    await enable_pasid(bench)
    await command(bench, regs.CMD_ENABLE_DEVICE)
    base = regs.CSR_WQCFG_BASE + wq * regs.CSR_WQCFG_STRIDE
    await bench.wr32(base + regs.CSR_WQCFG_WQCFG0, size or bench.params.wq_depth)
    await bench.wr32(base + regs.CSR_WQCFG_WQCFG2, regs.CSR_WQCFG_WQCFG2_PASID_EN_MASK)
    await command(bench, regs.CMD_ENABLE_WQ, wq)
    return bench.dev.bar_addr[2] + wq * 0x1000


def descriptor(opcode=0, flags=0, cr=0, handle=0):
    d = bytearray(64)
    d[4:8] = ((opcode << 24) | flags).to_bytes(4, "little")
    d[8:16] = cr.to_bytes(8, "little")
    d[36:38] = handle.to_bytes(2, "little")
    return bytes(d)


@cocotb.test()
async def bench_msix_latency(dut):
    """Cycles from an MSI-X request accepted by the engine to the first beat of its message on tx_req."""
    bench = await Bench.start(dut)
    mon = Monitor(dut)
    await bench.msix_enable()
    lat = []
    for v in sorted({0, 1, bench.params.msix_vectors - 1}):
        addr = 0xFEE0_0000 + 0x10 * v
        await bench.msix.program(v, addr, v, masked=False)
        start = len(mon.irq)
        await bench.msix.trigger(v)
        await bench.msgs.wait_for({(addr, v): 1})
        req = mon.irq[start]
        lat.append(mon.first_msg(addr, req - 1) - req)
    record("msix_latency", cycles=lat)


@cocotb.test()
async def bench_msix_replay_throughput(dut):
    """Messages per cycle when a burst of pending vectors replays on Function Mask clear, against the number
    of vectors pending (1 up to 128, or every vector of a smaller table)."""
    bench = await Bench.start(dut)
    mon = Monitor(dut)
    top = min(bench.params.msix_vectors, 128)
    sweep = []
    for n in sorted({k for k in (1, 2, 4, 8, 16, 32, 64, 128) if k <= top} | {top}):
        await bench.msix_enable(fn_mask=True)
        gen = len(sweep) << 12          # a fresh data value per round: earlier rounds' messages never match
        for v in range(n):
            await bench.msix.program(v, 0xFEE0_0000 + 4 * v, gen | v, masked=False)
            await bench.msix.trigger(v)
        # Posted writes may still be queued in the link: a read returns only after all of them landed, so
        # the burst measured below is the replay alone.
        await bench.rd32(regs.CSR_SCRATCH)
        await bench.settle()
        assert not any(m.data >> 12 == len(sweep) for m in bench.msgs.messages), \
            "a vector was sent while the function was masked"
        start = mon.cycle
        await bench.msix_enable(fn_mask=False)
        await bench.msgs.wait_for({(0xFEE0_0000 + 4 * v, gen | v): 1 for v in range(n)}, timeout_ns=200_000)
        beats = [c for c, sop, _, ft, a, acc in mon.tx_req if c > start and acc and ft in (FT_MWR32, FT_MWR64)]
        span = beats[n - 1] - beats[0] + 1
        sweep.append(dict(pending=n, cycles=span, messages_per_cycle=round(n / span, 3)))
    record("msix_replay", messages=top, cycles=sweep[-1]["cycles"], messages_per_cycle=sweep[-1]["messages_per_cycle"],
           sweep=sweep)


@cocotb.test()
async def bench_swq_acceptance(dut):
    """ENQCMD acceptance on one shared WQ: burst rate at the device's rx_req against the link limit."""
    bench = await Bench.start(dut)
    mon = Monitor(dut)
    portal = await shared_wq(bench)
    n = bench.params.wq_depth
    desc = descriptor(opcode=0x00)           # NOOP, no record, no interrupt: the queue is the limit
    start = mon.cycle
    results = await cocotb.triggers.gather(*[bench.rc.dmwr(portal, desc, pasid=PASID) for _ in range(n)])
    dmwr = [(c, sop, eop) for c, sop, eop, ft in mon.rx_req if c > start and ft in (FT_DMWR32, FT_DMWR64)]
    first = next(c for c, sop, _ in dmwr if sop)
    last = [c for c, _, eop in dmwr if eop][-1]
    accepted = sum(1 for r in results if int(r) == 0)
    beats_per_desc = max(1, 64 // (bench.params.data_w // 8))
    rate = len([1 for _, _, eop in dmwr if eop]) / (last - first + 1)
    link = 1 / beats_per_desc
    record("swq_acceptance", submitted=n, accepted=accepted, cycles=last - first + 1,
           desc_per_cycle=round(rate, 3), link_limit=round(link, 3), ratio=round(rate / link, 3))


@cocotb.test()
async def bench_completion_to_interrupt(dut):
    """Cycles from the completion record's last beat on tx_req to the first beat of the completion
    interrupt (IMS entry and MSI-X vector), and simulation speed."""
    bench = await Bench.start(dut)
    mon = Monitor(dut)
    portal = await shared_wq(bench)
    await bench.msix_enable()
    region = bench.rc.mem_pool.alloc_region(0x1000)
    cr = region.get_absolute_address(0)
    ims_addr, msix_addr = 0xFEE0_1000, 0xFEE0_2000
    e = regs.IMS_BASE + 0 * regs.IMS_STRIDE + 0 * regs.IMS_ENTRY_STRIDE
    await bench.wr32(e + regs.IMS_ENTRY_ADDR_LO, ims_addr)
    await bench.wr32(e + regs.IMS_ENTRY_DATA, 0x77)
    await bench.wr32(e + regs.IMS_ENTRY_CTRL, 0)
    await bench.msix.program(1, msix_addr, 0x11, masked=False)
    out = {}
    t0, cpu0, c0 = time.perf_counter(), time.process_time(), mon.cycle
    for name, handle, addr, data in (("ims", 0x8000, ims_addr, 0x77), ("msix", 1, msix_addr, 0x11)):
        lat = []
        for i in range(8):
            start = mon.cycle
            st = await bench.rc.dmwr(portal, descriptor(0x00, 0x4 | 0x8 | 0x10, cr, handle), pasid=PASID)
            assert int(st) == 0
            await bench.msgs.wait_for({(addr, data): i + 1})
            cr_end = [c for c, _, eop, ft, a, acc in mon.tx_req if c > start and eop and acc and a == cr][0]
            lat.append(mon.first_msg(addr, cr_end) - cr_end)
        out[name] = lat
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0    # the simulator runs in this process
    record("completion_to_interrupt", ims_cycles=out["ims"], msix_cycles=out["msix"])
    record("sim_speed", cycles=mon.cycle - c0, wall_s=round(wall, 3), cycles_per_s=round((mon.cycle - c0) / wall),
           cpu_s=round(cpu, 3), cycles_per_cpu_s=round((mon.cycle - c0) / cpu))


async def _rx_cpl_beats(dut, out: list):
    """Cycle of every beat accepted on rx_cpl (completions for the device's reads)."""
    cycle = 0
    while True:
        await RisingEdge(dut.clk)
        cycle += 1
        if dut.rx_cpl_valid.value == 1 and dut.rx_cpl_ready.value == 1:
            out.append(cycle)


async def _rate_setup(dut):
    """A started bench for a rate measurement: beat monitors on tx_req and rx_cpl, the DMA read-completion
    hold (tb.wq.DmaHold), MSI-X enabled. Returns (bench, monitor, rx_cpl beat cycles, hold)."""
    from tb.wq import DmaHold
    bench = await Bench.start(dut)
    mon = Monitor(dut)
    rx = []
    cocotb.start_soon(_rx_cpl_beats(dut, rx))
    hold = DmaHold(bench)
    await bench.msix_enable()
    return bench, mon, rx, hold


@cocotb.test()
async def bench_descriptor_rate(dut):
    """Sustained descriptor rate of the engine: MEMMOVE of 64, 256, 1024 and 4096 bytes, each with a completion record
    and an MSI-X interrupt, with 1, 2 and all WQs busy (shared WQs, ENQCMD). The DMA's read completions are
    held while the WQs fill to WQ_DEPTH; on release the submitters keep every queue topped up (each ENQCMD
    answered RRS is retried), so the engine never waits for work. The rate is the descriptors completed per
    cycle from the release to the last completion interrupt. That includes filling and draining the pipeline
    once, so each WQ runs enough descriptors to keep it small: 4 x WQ_DEPTH and at least 64 up to 256 bytes,
    WQ_DEPTH and at least 16 above (with 16 64-byte descriptors, small's 4 x WQ_DEPTH, one cycle more of
    latency from release to the first completion moved the ratio by 0.6%).

    Link limit, derived from the beats the run itself put on each stream: a descriptor costs B_tx beats on
    tx_req (its MRd(s), its data MWr(s), its record, its interrupt) and B_rx beats on rx_cpl (the read data);
    one beat per cycle per stream, so no design can exceed 1 / max(B_tx, B_rx) descriptors per cycle. The
    ratio measured / limit is what the engine achieves of it."""
    bench, mon, rx, hold = await _rate_setup(dut)
    p = bench.params
    portals = [await shared_wq(bench, 0)]
    for wq in range(1, p.num_wq):
        base = regs.CSR_WQCFG_BASE + wq * regs.CSR_WQCFG_STRIDE
        await bench.wr32(base + regs.CSR_WQCFG_WQCFG0, p.wq_depth)
        await bench.wr32(base + regs.CSR_WQCFG_WQCFG2, regs.CSR_WQCFG_WQCFG2_PASID_EN_MASK)
        await command(bench, regs.CMD_ENABLE_WQ, wq)
        portals.append(bench.dev.bar_addr[2] + wq * 0x1000)
    vec = min(1, p.msix_vectors - 1)
    msi_addr = 0xFEE0_3000
    await bench.msix.program(vec, msi_addr, 0x5A, masked=False)
    src = bench.rc.mem_pool.alloc_region(0x2000).get_absolute_address(0)
    dst = bench.rc.mem_pool.alloc_region(0x2000).get_absolute_address(0)
    crs = bench.rc.mem_pool.alloc_region(0x4000).get_absolute_address(0)

    def memmove(i, size):
        d = bytearray(descriptor(0x03, 0x4 | 0x8 | 0x10, crs + 32 * (i % 512), vec))
        d[16:24] = src.to_bytes(8, "little")
        d[24:32] = dst.to_bytes(8, "little")
        d[32:36] = size.to_bytes(4, "little")
        return bytes(d)

    async def submitter(portal, descs):
        for d in descs:
            for _ in range(100_000):                                          # RRS: full, retry
                if int(await bench.rc.dmwr(portal, d, pasid=PASID)) == 0:
                    break
                await ClockCycles(dut.clk, 2)
            else:
                raise AssertionError(f"ENQCMD to {portal:#x} answered RRS 100,000 times")

    async def occupancy(wq):
        v = await bench.rd32(regs.CSR_WQCFG_BASE + wq * regs.CSR_WQCFG_STRIDE + regs.CSR_WQCFG_WQCFG6)
        return (v & regs.CSR_WQCFG_WQCFG6_OCCUPANCY_MASK) >> regs.CSR_WQCFG_WQCFG6_OCCUPANCY_SHIFT

    out = {}
    total = 0
    for size in (64, 256, 1024, 4096):
        for nwq in sorted({1, min(2, p.num_wq), p.num_wq}):
            per_wq = max(p.wq_depth * 4, 64) if size <= 256 else max(p.wq_depth, 16)
            n = nwq * per_wq
            hold.hold()
            tasks = [cocotb.start_soon(submitter(portals[w], [memmove(w * per_wq + i, size) for i in range(per_wq)]))
                     for w in range(nwq)]
            for w in range(nwq):      # full, or everything submitted (the engine holds some meanwhile)
                for _ in range(10_000):
                    if tasks[w].done() or await occupancy(w) >= p.wq_depth:
                        break
                    await ClockCycles(dut.clk, 16)
                else:
                    raise AssertionError(f"WQ {w} never filled to {p.wq_depth} with its DMA reads held")
            start, tx0, rx0 = mon.cycle, len(mon.tx_req), len(rx)
            hold.release()
            total += n
            await bench.msgs.wait_for({(msi_addr, 0x5A): total}, timeout_ns=4_000_000)
            for t in tasks:
                await t
            msgs = [c for c, sop, _, ft, a, acc in mon.tx_req[tx0:] if sop and acc and a == msi_addr]
            assert len(msgs) == n, f"{len(msgs)} interrupt messages for {n} descriptors"
            end = msgs[-1]
            cycles = end - start
            tx_beats = sum(1 for c, _, _, _, _, acc in mon.tx_req[tx0:] if acc and c <= end)
            rx_beats = sum(1 for c in rx[rx0:] if c <= end)
            limit = 1 / max(tx_beats / n, rx_beats / n, 1)
            rate = n / cycles
            key = f"{size}B_{nwq}wq"
            out[key] = dict(descriptors=n, cycles=cycles, desc_per_cycle=round(rate, 4),
                            tx_req_beats_per_desc=round(tx_beats / n, 2), rx_cpl_beats_per_desc=round(rx_beats / n, 2),
                            link_limit=round(limit, 4), ratio=round(rate / limit, 3))
            bench.log.info("descriptor rate %s: %s", key, out[key])
    record("descriptor_rate", **out)


# Members per batch in bench_batch_rate's sweep (those up to the build's MAX_BATCH); the headline is 32 (or
# MAX_BATCH if smaller), the figure reported since the batch engine landed.
BATCH_SWEEP = (4, 8, 32, 128)


@cocotb.test()
async def bench_batch_rate(dut):
    """Batch throughput (DSA opcode 0x01): batches of N 64-byte MEMMOVE members, each member with a completion
    record, the batch with its own record and an MSI-X interrupt, on one shared WQ (ENQCMD). As in
    bench_descriptor_rate, the DMA's read completions are held while WQ_DEPTH batches queue, and the rate is
    the members completed per cycle from the release to the last batch's interrupt. Link limit from the run's
    own beats, the same derivation: per member B_tx beats on tx_req (its list fetch's share, its MRd, MWr and
    record, and its share of the batch record and interrupt) and B_rx on rx_cpl (its 64 list bytes and its
    data); no design exceeds 1 / max(B_tx, B_rx) members per cycle. Reported beside the 64 B rate of single
    descriptors (bench_descriptor_rate 64B_1wq): what batching buys or costs. N runs over BATCH_SWEEP: what a
    batch costs on its own (its record after its members', the next batch's list read after its last member)
    is spread over its members."""
    bench, mon, rx, hold = await _rate_setup(dut)
    p = bench.params
    portal = await shared_wq(bench, 0)
    vec = min(1, p.msix_vectors - 1)
    msi_addr = 0xFEE0_4000
    await bench.msix.program(vec, msi_addr, 0x5B, masked=False)
    headline = min(32, p.max_batch)
    sweep = []
    for n_members in sorted({n for n in BATCH_SWEEP if n <= p.max_batch} | {headline}):
        point = await _batch_rate_point(bench, mon, rx, hold, portal, vec, msi_addr, n_members)
        bench.log.info("batch rate, %d members per batch: %s", n_members, point)
        sweep.append(point)
    out = dict(next(pt for pt in sweep if pt["members_per_batch"] == headline), sweep=sweep)
    record("batch_rate", **out)


async def _batch_rate_point(bench, mon, rx, hold, portal, vec, msi_addr, n_members):
    """One bench_batch_rate measurement: WQ_DEPTH batches of n_members, queued while the DMA's reads are held."""
    from imsdev.driver import uapi
    p = bench.params
    n_batches = p.wq_depth
    mem = bench.rc.host_memory
    src, _ = bench.rc.alloc_region(0x1000)
    dst, _ = bench.rc.alloc_region(0x1000)
    crs, _ = bench.rc.alloc_region(32 * (n_members + 1) * n_batches)
    lists, _ = bench.rc.alloc_region(64 * n_members * n_batches)
    flags = uapi.IDXD_OP_FLAG_CRAV | uapi.IDXD_OP_FLAG_RCR
    batches = []
    for b in range(n_batches):
        cr = crs + 32 * (n_members + 1) * b
        members = [uapi.DsaHwDesc(opcode=uapi.DSA_OPCODE_MEMMOVE, flags=flags, completion_addr=cr + 32 * (i + 1),
                                  src_addr=src + 64 * (i % 32), dst_addr=dst + 64 * (i % 32), xfer_size=64)
                   for i in range(n_members)]
        list_addr = lists + 64 * n_members * b
        mem.write(list_addr, uapi.batch_list(members))
        batches.append(uapi.batch_desc(list_addr, n_members, flags=flags | uapi.IDXD_OP_FLAG_RCI,
                                       completion_addr=cr, int_handle=uapi.msix_int_handle(vec),
                                       max_batch=p.max_batch).pack())
    hold.hold()
    for d in batches:                 # WQ_DEPTH batches fit the WQ: each ENQCMD is accepted (SC)
        st = await bench.rc.dmwr(portal, d, pasid=PASID)
        assert int(st) == 0, f"ENQCMD of a batch answered {st!r} with {n_batches} slots"
    start, tx0, rx0 = mon.cycle, len(mon.tx_req), len(rx)
    earlier = bench.msgs.counts[(msi_addr, 0x5B)]     # the sweep's earlier points' interrupts
    hold.release()
    await bench.msgs.wait_for({(msi_addr, 0x5B): earlier + n_batches},
                              timeout_ns=4_000_000 * max(1, n_members // 32))
    msgs = [c for c, sop, _, ft, a, acc in mon.tx_req[tx0:] if sop and acc and a == msi_addr]
    assert len(msgs) == n_batches, f"{len(msgs)} interrupt messages for {n_batches} batches of {n_members}"
    for b in range(n_batches):        # every record: the members' and the batch's (count N, success)
        cr = crs + 32 * (n_members + 1) * b
        for i in range(n_members):
            rec = uapi.DsaCompletionRecord.unpack(mem.read(cr + 32 * (i + 1), 32))
            assert rec.status == uapi.DSA_COMP_SUCCESS, f"batch {b} of {n_members}, member {i}: {rec}"
        rec = uapi.DsaCompletionRecord.unpack(mem.read(cr, 32))
        assert (rec.status, rec.bytes_completed) == (uapi.DSA_COMP_SUCCESS, n_members), \
            f"batch {b} of {n_members}: {rec}"
    end = msgs[-1]
    n = n_batches * n_members
    tx_beats = sum(1 for c, _, _, _, _, acc in mon.tx_req[tx0:] if acc and c <= end)
    rx_beats = sum(1 for c in rx[rx0:] if c <= end)
    limit = 1 / max(tx_beats / n, rx_beats / n, 1)
    rate = n / (end - start)
    return dict(batches=n_batches, members_per_batch=n_members, members=n, cycles=end - start,
                members_per_cycle=round(rate, 4), tx_req_beats_per_member=round(tx_beats / n, 2),
                rx_cpl_beats_per_member=round(rx_beats / n, 2), link_limit=round(limit, 4),
                ratio=round(rate / limit, 3))
