"""DMA reads at the device level: read tags and the completion timeout (docs/dma.md 'Timeout', 'Parameters'
TAGS; docs/work_queues.md statuses 0x03 and 0x20).

Tags: with Max_Read_Request_Size 128 B and every completion held back, a 4 KiB MEMMOVE needs 32 reads but
may have at most TAGS = 16 outstanding; no tag is used twice while its read is outstanding (the shim raises
on that), and once the completions flow the copy completes byte-exact.

Timeout:
A MEMMOVE whose source read is never answered ends with status 0x20 (hardware error) once CPL_TIMEOUT (131072) cycles have
passed since its MRd was accepted on tx_req - not before, and not much later: the record write is the awaited
event, with a deadline. Fault address = source + bytes completed (0: nothing could be copied). The late
completions released afterwards are dropped (the tag was freed), and the next descriptors - which reuse
the tags - complete byte-exact.

Link faults (docs/registers.md LINK_ERR, docs/dma.md 'Errors'): completions that answer no outstanding read
(unsolicited, duplicate, wrong Requester ID / Byte Count / Lower Address / Length, SC without data, a tag
beyond the device's) are dropped whole and counted in LINK_ERR, and the reads they imitate complete
byte-exact from their real completions; a poisoned completion fails its MEMMOVE with 0x20 (hardware error). Backpressure of
more than 10,000 cycles on each of the four streams in turn loses and hangs nothing.
"""
import cocotb
from cocotb.triggers import with_timeout
from cocotbext.pcie.core.tlp import CplStatus, TlpType
from cocotbext.pcie.core.utils import PcieId

from imsdev import regs
from tb.bad_inputs import BadInput
from tb.env import CLOCK_NS
from tb.pcie.stream import Gate
from tb.pcie.tlp import PasidTlp
from tb.wq import OP_MEMFILL, OP_MEMMOVE, OP_NOOP, ST_HW_ERR, ST_SUCCESS, WqConfig, WqEnv

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
    t.status = ST_HW_ERR                       # its source is never answered in time
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
    assert r.status == ST_HW_ERR and r.bytes_completed == 0 and r.fault_addr == d.src, \
        f"{t}: {r}: expected status 0x20, 0 bytes completed, fault address = source {d.src:#x}"
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


# ---- link faults on the completions of the device's reads ----------------------------------------------
LINK_ERR_CLEAR = regs.CSR_LINK_ERR_UNEXPECTED_CPL_MASK | regs.CSR_LINK_ERR_UNEXPECTED_COUNT_MASK


async def link_err(env) -> tuple[bool, int]:
    v = await env.b.rd32(regs.CSR_LINK_ERR)
    return (bool(v & regs.CSR_LINK_ERR_UNEXPECTED_CPL_MASK),
            (v & regs.CSR_LINK_ERR_UNEXPECTED_COUNT_MASK) >> regs.CSR_LINK_ERR_UNEXPECTED_COUNT_SHIFT)


async def expect_unexpected(env, n: int, what: str):
    """LINK_ERR holds exactly n dropped completions; then clear it (W1C both fields)."""
    await env.b.shim.rx_cpl.wait_idle()      # every completion (good or bad) has entered the device ...
    await env.b.cycles(16)                   # ... and passed its three-stage completion pipeline
    got = await link_err(env)
    assert got == (n > 0, n), f"{what}: LINK_ERR (UNEXPECTED_CPL, COUNT) = {got}, expected {(n > 0, n)}"
    await env.b.wr32(regs.CSR_LINK_ERR, LINK_ERR_CLEAR)
    assert await link_err(env) == (False, 0), f"{what}: LINK_ERR not cleared by writing 1s"


def final_cpl(tlp) -> bool:
    return tlp.status != CplStatus.SC or not tlp.has_data() or \
        tlp.byte_count <= tlp.length * 4 - (tlp.lower_address & 3)


def corrupt(tlp, kind: str):
    """A copy of a real completion broken in one field so that it answers no read of the device's; None if
    that kind cannot apply to this completion (a longer Length is only invalid on the last completion: an
    earlier one may legally end anywhere)."""
    bad = PasidTlp(tlp)
    if kind == "requester id":
        bad.requester_id = PcieId.from_int(int(tlp.requester_id) ^ 0x100)
    elif kind == "byte count":
        bad.byte_count = tlp.byte_count - 4 if tlp.byte_count > 4 else tlp.byte_count + 4
    elif kind == "lower address":
        bad.lower_address = tlp.lower_address ^ 0x4
    elif kind == "length":
        if not final_cpl(tlp):
            return None
        bad.set_data(bytes(tlp.data) + b"\xEE" * 4)
    elif kind == "no data":
        bad.fmt_type = TlpType.CPL
        bad.set_data(b"")
        bad.byte_count, bad.lower_address = 4, 0
    elif kind == "tag":
        bad.tag = TAGS + (tlp.tag % TAGS)       # beyond the device's tags: must not alias tag % TAGS
    else:
        raise ValueError(kind)
    if bad.has_data():
        bad.set_data(bytes(0xEE for _ in bad.data))     # poison the bytes too: an accepted copy shows in the data
    return bad


CORRUPTIONS = ("requester id", "byte count", "lower address", "length", "no data", "tag")


def unsolicited(env, tag: int, *, status=CplStatus.SC, size: int = 64) -> PasidTlp:
    cpl = PasidTlp()
    cpl.fmt_type = TlpType.CPL_DATA if status == CplStatus.SC else TlpType.CPL
    cpl.requester_id = PcieId.from_int(env.b.requester_id)
    cpl.completer_id = PcieId(0, 0, 0)
    cpl.tag, cpl.status = tag, status
    if status == CplStatus.SC:
        cpl.set_data(bytes(0xEE for _ in range(size)))
        cpl.byte_count = size
    else:
        cpl.byte_count = 4
    return cpl


async def copies(env, wq, sizes):
    items = [await env.sb.submit(wq, env.new_desc(OP_MEMMOVE, n, src_off=n % 7, dst_off=n % 5), pasid=PASID)
             for n in sizes]
    assert all(t.accepted for t in items)
    await env.sb.wait_complete(items)
    await env.sb.check(items)
    bad = [t for t in items if not t.record or t.record.status != ST_SUCCESS]
    assert not bad, f"copies failed: {bad}"
    return items


@cocotb.test()
@cocotb.parametrize(pauses=("none", "both"))
async def test_unexpected_completions(dut, pauses):
    """PCIe Unexpected Completions: unsolicited ones (idle device; a live-looking tag, a tag beyond the
    device's 16, an error status), a broken copy of every completion ahead of the real one (each field
    in turn), and a duplicate behind every completion: each is dropped whole and counted in LINK_ERR (no
    byte of a broken copy reaches memory: the copies carry 0xEE), and every MEMMOVE completes byte-exact."""
    env = await WqEnv.start(dut, pauses)
    wq = 0
    await env.setup({wq: WqConfig(size=min(env.p.wq_depth, 4), priv=True)})
    assert await link_err(env) == (False, 0), "LINK_ERR not 0 after reset"

    # Unsolicited, with nothing outstanding.
    for cpl in (unsolicited(env, 0), unsolicited(env, TAGS - 1, size=128), unsolicited(env, TAGS + 1),
                unsolicited(env, 0xFF), unsolicited(env, 3, status=CplStatus.UR), unsolicited(env, 4, status=CplStatus.CA)):
        env.b.shim.inject_completion(cpl)
    await expect_unexpected(env, 6, "unsolicited completions")
    await copies(env, wq, (64, 300))
    await expect_unexpected(env, 0, "clean copies after unsolicited completions")

    # A broken copy ahead of each real completion, the field broken in rotation.
    rotation = [0]
    sent_bad = []

    def broken_first(tlp, _req):
        for _ in CORRUPTIONS:
            kind = CORRUPTIONS[rotation[0] % len(CORRUPTIONS)]
            rotation[0] += 1
            bad = corrupt(tlp, kind)
            if bad is not None:
                sent_bad.append(kind)
                return [bad, tlp]
        return [tlp]

    env.b.shim.cpl_fault = broken_first
    await copies(env, wq, (64, 300, 1000, 4096, 129))
    env.b.shim.cpl_fault = None
    assert set(sent_bad) == set(CORRUPTIONS), f"not every field was broken: {sorted(set(sent_bad))}"
    await expect_unexpected(env, len(sent_bad), f"broken copies ahead of real completions ({len(sent_bad)})")

    # A duplicate behind each real completion.
    dups = []

    def duplicated(tlp, _req):
        dups.append(tlp.tag)
        return [tlp, PasidTlp(tlp)]

    env.b.shim.cpl_fault = duplicated
    await copies(env, wq, (64, 700, 2048))
    env.b.shim.cpl_fault = None
    await expect_unexpected(env, len(dups), "duplicate completions")
    await env.expect_no_swerr("unexpected completions")


@cocotb.test()
async def test_poisoned_completion(dut):
    """A poisoned CplD (EP=1) for a MEMMOVE's source: status 0x20 (DSA_COMP_HW_ERR1), fault address = source + bytes completed,
    the poisoned data never reaches the destination (the scoreboard checks the bytes really completed and
    the guard bytes), the rest of that read's completions are absorbed (nothing counted in LINK_ERR), and the
    next MEMMOVEs complete byte-exact. Poisoning the first and a later completion of a split read."""
    env = await WqEnv.start(dut, "none")
    wq = 0
    await env.setup({wq: WqConfig(size=min(env.p.wq_depth, 4), priv=True)})
    for which, size in ((0, 200), (1, 1000), (3, 3000)):
        seen = [0]

        def poison(tlp, _req):
            if seen[0] == which:
                tlp = PasidTlp(tlp)
                tlp.ep = True
            seen[0] += 1
            return [tlp]

        env.b.shim.cpl_fault = poison
        d = env.new_desc(OP_MEMMOVE, size, src_off=5, dst_off=3)
        t = await env.sb.submit(wq, d, pasid=PASID)
        assert t.accepted
        t.status = ST_HW_ERR
        await env.sb.wait_complete([t])
        env.b.shim.cpl_fault = None
        await env.sb.check([t])
        r = t.record
        assert r.status == ST_HW_ERR and r.bytes_completed < size, \
            f"completion {which} of a {size}-byte MEMMOVE poisoned: {r}"
        await expect_unexpected(env, 0, f"poisoned completion {which}")
        await copies(env, wq, (64, size))
    await env.expect_no_swerr("poisoned completions")


LONG_HOLD = 10_500      # cycles: above 10,000, below the host's 50 us MMIO completion watchdog (12,500 cycles)


@cocotb.test()
async def test_long_backpressure(dut):
    """Each of the four streams held for more than 10,000 cycles (rx_req, rx_cpl: the host does not send;
    tx_req, tx_cpl: the host does not take) while descriptors, their records and an MMIO read are in
    flight: nothing moves on the held stream meanwhile, and after it is released every descriptor completes
    byte-exact with its record, the MMIO read returns the right value, nothing is lost or duplicated."""
    env = await WqEnv.start(dut, "none")
    wq = 0
    await env.setup({wq: WqConfig(size=min(env.p.wq_depth, 8), priv=True)})
    streams = env.b.shim.streams
    for name in ("rx_req", "rx_cpl", "tx_req", "tx_cpl"):
        gate = Gate()
        stream = streams[name]
        before = {n: s.tlp_count for n, s in streams.items()}
        stream.set_pause_generator(gate)
        items = []

        async def submit_all():
            for n in (64, 700, 4096):
                items.append(await env.sb.submit(wq, env.new_desc(OP_MEMMOVE, n, src_off=n % 3, dst_off=n % 5),
                                                 pasid=PASID))
            items.append(await env.sb.submit(wq, env.new_desc(OP_MEMFILL, 500, dst_off=1), pasid=PASID))

        submitter = cocotb.start_soon(submit_all())
        reader = cocotb.start_soon(env.b.rd32(regs.CSR_CAP0))
        await env.b.cycles(LONG_HOLD)
        moved = streams[name].tlp_count - before[name]
        # The previous round is over (every item complete, the read answered): nothing is mid-TLP here. A sink
        # (tx_*) rests with ready high, so the first TLP shown after the gate closes may already be taken.
        allowed = 1 if name.startswith("tx_") else 0
        assert moved <= allowed, f"{name} held for {LONG_HOLD} cycles, yet {moved} TLPs passed"
        gate.release()
        stream.clear_pause_generator()
        await submitter
        cap0 = await reader
        assert (cap0 & regs.CSR_CAP0_NUM_WQ_MASK) >> regs.CSR_CAP0_NUM_WQ_SHIFT == env.p.num_wq, \
            f"CAP0 read across a held {name}: {cap0:#x}"
        await env.sb.wait_complete(items)
        await env.sb.check(items)
        assert all(t.record and t.record.status == ST_SUCCESS for t in items), f"after holding {name}: {items}"
        assert streams[name].tlp_count > before[name], f"nothing was waiting on {name}: the hold tested nothing"
    await expect_unexpected(env, 0, "long backpressure")
    await env.expect_no_swerr("long backpressure")


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="completion", input="No completion for a MEMMOVE's source read (completion timeout)",
             outcome="record status 0x20 (DSA_COMP_HW_ERR1) no earlier than CPL_TIMEOUT - 400 and no later than "
                     "CPL_TIMEOUT + 400 cycles after the MRd (CPL_TIMEOUT = 131072), 0 bytes completed, fault "
                     "address = source; no SWERR",
             test="test_completion_timeout"),
    BadInput(cls="completion", input="Late completions of the timed-out read, released afterwards",
             outcome="dropped: record and destination unchanged; later MEMMOVEs reusing the tags complete byte-exact",
             test="test_completion_timeout"),
    BadInput(cls="completion", input="Unsolicited completions with nothing outstanding: CplD for tag 0, tag 15, "
                                     "tag 17 (beyond the device's 16) and tag 255; Cpl with UR and with CA",
             outcome="each dropped whole; LINK_ERR UNEXPECTED_CPL = 1, COUNT = 6 (W1C clears both); the next "
                     "MEMMOVEs complete byte-exact",
             test="test_unexpected_completions"),
    BadInput(cls="completion", input="A broken copy (0xEE data) ahead of every real completion: wrong Requester ID, "
                                     "Byte Count +-4, Lower Address ^ 4, one DW too long on the last completion, "
                                     "SC without data, a tag beyond the device's",
             outcome="each copy dropped whole and counted in LINK_ERR (COUNT = copies sent); no 0xEE byte reaches "
                     "memory; every MEMMOVE completes byte-exact with status 0x01",
             test="test_unexpected_completions"),
    BadInput(cls="completion", input="A duplicate behind every real completion",
             outcome="each duplicate dropped and counted in LINK_ERR (COUNT = completions); every MEMMOVE "
                     "completes byte-exact",
             test="test_unexpected_completions"),
    BadInput(cls="completion", input="Poisoned CplD (EP=1): the first, the second or the fourth completion of a "
                                     "MEMMOVE's source read",
             outcome="record status 0x20 (DSA_COMP_HW_ERR1), fault address = source + bytes completed, only bytes before the fault "
                     "in the destination, guard bytes untouched; LINK_ERR stays 0; the next MEMMOVEs complete",
             test="test_poisoned_completion"),
    BadInput(cls="completion", input="Every completion held with MRRS 128 B on a 4 KiB MEMMOVE",
             outcome="2 to 16 reads outstanding with distinct tags, each at most 128 B; byte-exact once released",
             test="test_read_tags_with_small_mrrs"),
    BadInput(cls="tlp", input="Each stream (rx_req, rx_cpl, tx_req, tx_cpl) held for 10,500 cycles with "
                              "descriptors and an MMIO read in flight",
             outcome="nothing passes a held source, at most the first TLP a held sink; after release every descriptor "
                     "completes byte-exact with status 0x01 and the read returns CAP0; LINK_ERR and SWERR stay 0",
             test="test_long_backpressure"),
    BadInput(cls="config", input="MEMMOVE and MEMFILL submitted with Bus Master Enable = 0",
             outcome="nothing upstream (no read, data or record) for 4000 cycles; once set, both complete with "
                     "status 0x01, no SWERR",
             test="test_bus_master_enable_gates_dma"),
)
