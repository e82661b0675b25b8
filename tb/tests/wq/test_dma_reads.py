"""DMA reads at the device level: read tags and the completion timeout (docs/dma.md 'Timeout', 'Parameters'
TAGS; docs/work_queues.md status 0x30).

Tags: with Max_Read_Request_Size 128 B and every completion held back, a 4 KiB MEMMOVE needs 32 reads but
may have at most TAGS = 16 outstanding; no tag is used twice while its read is outstanding (the shim raises
on that), and once the completions flow the copy completes byte-exact.

Timeout:
A MEMMOVE whose source read is never answered ends with status 0x30 once CPL_TIMEOUT (131072) cycles have
passed since its MRd was accepted on tx_req - not before, and not much later: the record write is the awaited
event, with a deadline. Fault address = source + bytes completed (0: nothing could be copied). The late
completions released afterwards are dropped (the tag was freed), and the next descriptors - which reuse
the tags - complete byte-exact.
"""
import cocotb
from cocotb.triggers import with_timeout

from tb.env import CLOCK_NS
from tb.wq import OP_MEMFILL, OP_MEMMOVE, OP_NOOP, ST_DMA_READ, WqConfig, WqEnv

CPL_TIMEOUT = 131072          # docs/dma.md: cycles from a MRd's acceptance on tx_req to its last completion
SLACK = 400                   # cycles from the timeout to the record write on tx_req (pipeline, arbitration)
PASID = 0xA5F01               # PASID[19:16] != 0


@cocotb.test()
async def test_completion_timeout(dut):
    env = await WqEnv.start(dut, "none")
    wq = 0
    await env.setup({wq: WqConfig(size=min(env.p.wq_depth, 4), priv=True)})
    env.hold.hold()
    start = len(env.b.rc.upstream_log)
    d = env.new_desc(OP_MEMMOVE, 200, src_off=3, dst_off=5, high=False)
    t = await env.sb.submit(wq, d, pasid=PASID, priv=True)
    assert t.accepted, f"{t}: {t.cpl_status}"
    t.status = ST_DMA_READ                       # its source is never answered in time
    # The MRd's acceptance on tx_req: the RC logs it when it arrives.
    for _ in range(200):
        mrds = [r for r in list(env.b.rc.upstream_log)[start:] if r.kind == "MRd"]
        if mrds:
            break
        await env.b.cycles(5)
    assert mrds, "the MEMMOVE sent no read request"
    sent_ns = mrds[0].time_ns
    # Nothing may complete before the timeout ...
    early_ns = sent_ns + (CPL_TIMEOUT - SLACK) * CLOCK_NS
    try:
        await with_timeout(t.event.wait(), int(early_ns - cocotb.utils.get_sim_time("ns")), "ns")
        raise AssertionError(f"{t}: record written {(t.cr_writes[0][1] - sent_ns) / CLOCK_NS:.0f} cycles after "
                             f"the MRd, before the completion timeout ({CPL_TIMEOUT} cycles)")
    except TimeoutError:
        pass
    # ... and the record comes right after it.
    late_ns = sent_ns + (CPL_TIMEOUT + SLACK) * CLOCK_NS
    try:
        await with_timeout(t.event.wait(), int(late_ns - cocotb.utils.get_sim_time("ns")) + 1, "ns")
    except TimeoutError:
        raise AssertionError(f"{t}: no record within {CPL_TIMEOUT + SLACK} cycles of the MRd "
                             f"(completion timeout {CPL_TIMEOUT})") from None
    await env.sb.check([t])
    r = t.record
    assert r.status == ST_DMA_READ and r.bytes_completed == 0 and r.fault_addr == d.src, \
        f"{t}: {r}: expected status 0x30, 0 bytes completed, fault address = source {d.src:#x}"
    # Late completions arrive now: dropped, nothing written. Later descriptors reuse the tags.
    env.hold.release()
    await env.b.settle(2000)
    await env.sb.check([t])
    later = [await env.sb.submit(wq, env.new_desc(OP_MEMMOVE, n, src_off=n % 7, dst_off=n % 5), pasid=PASID)
             for n in (64, 300, 1000, 4096)]
    later.append(await env.sb.submit(wq, env.new_desc(OP_NOOP), pasid=PASID))
    await env.sb.wait_complete()
    await env.sb.check()
    await env.expect_no_swerr("completion timeout")
    env.b.log.info(env.sb.report())


TAGS = 16                     # docs/dma.md: outstanding MRd (imsdev_top uses the default)
PCI_EXP_DEVCTL = 8
PCI_EXP_DEVCTL_READRQ = 0x7000


@cocotb.test()
async def test_read_tags_with_small_mrrs(dut):
    env = await WqEnv.start(dut, "none")
    wq = 0
    await env.setup({wq: WqConfig(size=min(env.p.wq_depth, 4), priv=True)})
    cap = await env.b.find_cap(0x10)                  # PCI Express capability
    ctl = await env.b.dev.config_read_word(cap + PCI_EXP_DEVCTL)
    await env.b.dev.config_write_word(cap + PCI_EXP_DEVCTL, ctl & ~PCI_EXP_DEVCTL_READRQ)   # MRRS = 128 B
    env.hold.hold()
    start = len(env.b.rc.upstream_log)
    d = env.new_desc(OP_MEMMOVE, 4096, src_align=4096, dst_off=8, high=False)
    t = await env.sb.submit(wq, d, pasid=PASID)
    assert t.accepted
    await env.b.settle(3000)
    mrds = [r for r in list(env.b.rc.upstream_log)[start:] if r.kind == "MRd"]
    tags = [r.tag for r in mrds]
    assert 2 <= len(mrds) <= TAGS and len(set(tags)) == len(tags), \
        f"with every completion held: {len(mrds)} reads outstanding with tags {tags} (at most {TAGS}, distinct)"
    assert all(r.length_dw * 4 <= 128 for r in mrds), f"a read above MRRS 128 B: {mrds}"
    env.hold.release()
    more = [await env.sb.submit(wq, env.new_desc(OP_MEMMOVE, n, src_off=n % 13, dst_off=n % 11), pasid=PASID)
            for n in (3000, 4097, 129)]
    await env.sb.wait_complete([t] + more)
    await env.sb.check([t] + more)
    assert all(x.record and x.record.status == 0x01 for x in [t] + more)
    await env.b.dev.config_write_word(cap + PCI_EXP_DEVCTL, ctl)
    await env.expect_no_swerr("small MRRS")


PCI_COMMAND = 0x04
PCI_COMMAND_MASTER = 0x4


@cocotb.test()
async def test_bus_master_enable_gates_dma(dut):
    """docs/dma.md: no TLP is newly presented on tx_req while Bus Master Enable is 0. A MEMMOVE and a MEMFILL
    submitted with bus mastering off send nothing upstream (no read, no data, no record) however long they
    wait; with it back on they complete byte-exact."""
    env = await WqEnv.start(dut, "none")
    wq = 0
    await env.setup({wq: WqConfig(size=min(env.p.wq_depth, 4), priv=True)})
    cmd = await env.b.dev.config_read_word(PCI_COMMAND)
    await env.b.dev.config_write_word(PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER)
    start = len(env.b.rc.upstream_log)
    items = [await env.sb.submit(wq, env.new_desc(OP_MEMMOVE, 700, src_off=1, dst_off=2), pasid=PASID),
             await env.sb.submit(wq, env.new_desc(OP_MEMFILL, 300, dst_off=3), pasid=PASID)]
    assert all(t.accepted for t in items)
    await env.b.settle(4000)
    sent = [r for r in list(env.b.rc.upstream_log)[start:] if r.requester_id == env.b.requester_id]
    assert not sent, f"bus mastering off, yet the device sent {len(sent)} request(s): {sent[:3]}"
    assert not any(t.cr_writes for t in items)
    await env.b.dev.config_write_word(PCI_COMMAND, cmd)
    await env.sb.wait_complete(items)
    await env.sb.check(items)
    assert all(t.record and t.record.status == 0x01 for t in items)
    await env.expect_no_swerr("bus master enable")
