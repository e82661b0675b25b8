"""PCIe ordering at the device's boundary (PCIe Base r6.3 §2.4.1: a completion may not pass a posted request;
posted requests stay in order), checked end to end from the host's side.

The link-level rule (no completion taken before a posted TLP shown earlier) is checked in every test by
tb/pcie/ordering.py. These tests check what the link cannot see: posted TLPs the device committed
internally before a completion (an interrupt message queued behind backpressure), and that the bench's own
link keeps configuration writes behind earlier posted MMIO writes.
"""
import cocotb
from cocotb.triggers import FallingEdge, RisingEdge
from cocotb.utils import get_sim_time

from imsdev import regs
from tb.env import Bench
from tb.msglog import WINDOW_32
from tb.pcie.stream import pattern_pauses
from tb.wq import OP_MEMMOVE, WqConfig, WqEnv

# tx_req takes one beat in eight: messages and DMA writes queue inside the device.
SLOW_TX_REQ = [1, 1, 1, 1, 1, 1, 1, 0]
# rx_req delivers one beat in six: posted MMIO writes queue in the link.
SLOW_RX_REQ = [1, 1, 1, 1, 1, 0]
BURST = 6


def msg_for(v):
    return WINDOW_32[0] + 0x10 * v, 0xA000_0000 | v


async def program_all_unmasked(bench, vectors):
    await bench.msix_enable(True)
    for v in vectors:
        await bench.msix.program(v, *msg_for(v), masked=False)


@cocotb.test()
async def test_mask_then_read_back_sees_no_later_message(dut):
    """Burst of triggers on vector v under tx_req backpressure, then mask v and read its Vector Control back
    (what pci_msix_mask() does): every message of v the device decided before the mask must reach the host
    before the read's completion, and none after it. Triggers the mask overtook inside the device are pended
    (PBA), never lost."""
    bench = await Bench.start(dut)
    n = bench.params.msix_vectors
    v, marker = n - 1, 0
    await program_all_unmasked(bench, (v, marker))
    bench.shim.tx_req.set_pause_generator(pattern_pauses(SLOW_TX_REQ))
    for _ in range(BURST):
        bench.wr32_nowait(regs.CSR_MSIX_TRIGGER, v)
    entry = bench.msix.entry(v) + regs.MSIX_TABLE_VECTOR_CTRL
    bench.wr32_nowait(entry, 1)
    ctrl = await bench.rd32(entry)
    read_done_ns = get_sim_time("ns")
    assert ctrl & 1, f"Vector Control read back {ctrl:#x} after masking"
    addr, data = msg_for(v)
    before = [m for m in bench.msgs.messages if (m.addr, m.data) == (addr, data)]
    # End on an event, not a delay: a message of the marker vector fired now leaves the MSI-X engine behind
    # anything it decided before.
    bench.wr32_nowait(regs.CSR_MSIX_TRIGGER, marker)
    await bench.msgs.wait_for({msg_for(marker): 1})
    after = [m for m in bench.msgs.messages if (m.addr, m.data) == (addr, data) and m.time_ns > read_done_ns]
    assert not after, (f"{len(after)} message(s) of masked vector {v} arrived after the read completion "
                       f"({read_done_ns:.1f} ns): {[m.time_ns for m in after]}")
    bench.shim.tx_req.set_pause_generator(None)
    pending = await bench.msix.pending(v)
    assert len(before) <= BURST, f"{len(before)} messages for {BURST} triggers"
    assert len(before) == BURST or pending, \
        f"{BURST - len(before)} trigger(s) neither sent before the mask nor left pending"
    bench.log.info("vector %d: %d messages before the read completion, pending=%s", v, len(before), pending)


@cocotb.test()
async def test_status_read_never_overtakes_the_data(dut):
    """A descriptor's data and completion record go out before any completion that reports it done: poll
    CMDSTS after DRAIN_WQ under tx_req backpressure; when a read says the drain is finished, the destination
    and the record are already in host memory."""
    env = await WqEnv.start(dut, "none")
    wq = 0
    await env.setup({wq: WqConfig(size=min(env.p.wq_depth, 4), dedicated=True)})
    env.b.shim.tx_req.set_pause_generator(pattern_pauses(SLOW_TX_REQ))
    descs = [env.new_desc(OP_MEMMOVE, size) for size in (4096, 200, 64)]
    for d in descs:
        await env.sb.submit(wq, d)
    await env.cmd_write(regs.CMD_DRAIN_WQ, wq)
    mem = env.b.rc.host_memory
    polls = 0
    while (await env.b.rd32(regs.CSR_CMDSTS)) & regs.CSR_CMDSTS_ACTIVE_MASK:
        polls += 1
        assert polls < 2000, "DRAIN_WQ did not finish"
    for d in descs:
        record = mem.read(d.cr_addr, 1)[0]
        assert record != 0, f"{d}: CMDSTS said drained before its completion record reached memory"
        assert mem.read(d.dst, d.size) == mem.read(d.src, d.size), \
            f"{d}: CMDSTS said drained before its data reached memory"
    env.b.shim.tx_req.set_pause_generator(None)
    await env.sb.wait_complete()
    await env.sb.check()


@cocotb.test()
async def test_config_write_stays_behind_posted_mmio(dut):
    """Posted MMIO writes queued in the link reach the device before a later configuration write takes
    effect: with several posted writes held in the link's rx_req queue, a configuration write that disables
    MSI-X changes cfg_msix_en only once every one of them has been taken by the device."""
    bench = await Bench.start(dut)
    v = bench.params.msix_vectors - 1
    await bench.msix_enable(True)
    await bench.msix.program(v, *msg_for(v), masked=True)

    async def sideband_change():
        await FallingEdge(dut.cfg_msix_en)
        return bench.shim.rx_req.idle, get_sim_time("ns")

    watcher = cocotb.start_soon(sideband_change())
    bench.shim.rx_req.set_pause_generator(pattern_pauses(SLOW_RX_REQ))
    for _ in range(4):
        bench.wr32_nowait(bench.msix.entry(v) + regs.MSIX_TABLE_DATA, msg_for(v)[1])
    await bench.msix_enable(False)
    drained, when = await watcher
    assert drained, f"cfg_msix_en changed at {when:.1f} ns while posted MMIO writes were still queued in the link"
    bench.shim.rx_req.set_pause_generator(None)
    assert await bench.rd32(bench.msix.entry(v) + regs.MSIX_TABLE_DATA) == msg_for(v)[1]


@cocotb.test()
async def test_completion_shown_while_bus_master_off_stays_shown(dut):
    """While Bus Master Enable is 0 the device sends no posted request, so a completion does not wait behind
    the interrupt messages it committed before (docs/tlp_interface.md, "Egress ordering"). A completion shown
    on tx_cpl then must stay shown until taken (the stream rule), also when Bus Master Enable returns while
    those messages are still held: a message stuck behind a held tx_req, Bus Master Enable cleared, a read
    whose completion is shown and held on tx_cpl, Bus Master Enable set again; tx_cpl_valid stays high with
    the same header every cycle of the stall. The test then releases tx_req (the message arrives, once) and
    after it tx_cpl (the read returns the entry's data)."""
    bench = await Bench.start(dut)
    v = bench.params.msix_vectors - 1
    await program_all_unmasked(bench, (v,))
    req_gate = await bench.shim.tx_req.hold()
    bench.wr32_nowait(regs.CSR_MSIX_TRIGGER, v)
    await RisingEdge(dut.tx_req_valid)                   # the message is shown and held
    await bench.dev.set_master(False)
    cpl_gate = await bench.shim.tx_cpl.hold()
    entry = bench.msix.entry(v) + regs.MSIX_TABLE_DATA
    read = cocotb.start_soon(bench.rd32(entry))
    await RisingEdge(dut.tx_cpl_valid)                   # shown with Bus Master Enable 0: it need not wait
    hdr = dut.tx_cpl_hdr.value
    await bench.dev.set_master(True)
    assert dut.cfg_bus_master_en.value == 1
    for cycle in range(16):                              # the message is still held: the completion too
        await RisingEdge(dut.clk)
        assert dut.tx_cpl_valid.value == 1 and dut.tx_cpl_hdr.value == hdr, \
            f"cycle {cycle} after Bus Master Enable returned: the completion shown on tx_cpl was withdrawn"
    assert not read.done()
    req_gate.release()
    await bench.msgs.wait_for({msg_for(v): 1})
    cpl_gate.release()
    assert await read == msg_for(v)[1]
    bench.msgs.assert_exactly({msg_for(v): 1})
