"""MSI-X table, PBA and message engine against PCIe Base r6.3 §6.1.4 / §7.7.2 (reference/platform-facts §1).

Every test checks delivered messages exactly (per (address, data) counts: nothing lost, duplicated or
spurious) and is crossed with idle/backpressure insertion on the TLP streams. Vectors are fired with
the MSIX_TRIGGER self-test register, the way a driver's interrupt self-test does.
"""
import cocotb

from imsdev import regs
from tb.env import Bench, PAUSE_MODES, PAUSE_PROBABILITY
from tb.msglog import WINDOW_32, WINDOW_64, MessageLog
from tb.pcie.stream import random_pauses

BOUNDARY_VECTORS = (0, 1, 31, 32, 63, 64, 100)


def vectors_under_test(bench):
    n = bench.params.msix_vectors
    return sorted({v for v in BOUNDARY_VECTORS if v < n} | {n - 1})


def msg_for(v, high=False):
    """A distinct (address, data) per vector; `high` puts the address above 4 GiB (4DW write)."""
    base = WINDOW_64[0] if high else WINDOW_32[0]
    return base + 0x10 * v, 0xD000_0000 | v


async def check_pba_exact(bench, pending_vectors):
    """Every PBA QWORD, and each of its DWORDs, holds exactly the bits of the pending vectors (bit k of QWORD
    k // 64; bits without a table entry are reserved and read 0)."""
    n = bench.params.msix_vectors
    for w in range(-(-n // 64)):
        want = sum(1 << (v % 64) for v in pending_vectors if v // 64 == w)
        off = regs.MSIX_PBA_BASE + w * regs.MSIX_PBA_STRIDE
        got = await bench.rd64(off)
        assert got == want, f"PBA QWORD {w}: {got:#018x}, expected {want:#018x}"
        lo, hi = await bench.rd32(off), await bench.rd32(off + 4)
        assert (lo, hi) == (want & 0xFFFF_FFFF, want >> 32), \
            f"PBA QWORD {w} as DWORDs: {hi:#010x}_{lo:#010x}, expected {want:#018x}"


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_reset_values(dut, pauses):
    """Every vector resets masked with address/data 0 and no pending bit; again after FLR following use."""
    bench = await Bench.start(dut, pauses=pauses)
    await bench.msix.check_reset_state(every_vector=True)

    # Use the table, leave pending bits behind, then reset the function.
    await bench.msix_enable()
    for v in vectors_under_test(bench):
        await bench.msix.program(v, *msg_for(v), masked=True)
        await bench.msix.trigger(v)
    await bench.settle()
    for v in vectors_under_test(bench):
        assert await bench.msix.pending(v), f"vector {v}: masked trigger left no pending bit"
    bench.msgs.assert_exactly({})

    await bench.function_level_reset()
    assert (await bench.msix_control()) == (False, False), "FLR must clear MSI-X Enable and Function Mask"
    await bench.msix.check_reset_state(every_vector=True)
    await bench.msix_enable()
    for v in vectors_under_test(bench):
        await bench.msix.unmask(v)          # pending was cleared by FLR: unmasking sends nothing
    await bench.settle()
    bench.msgs.assert_exactly({})


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_vectors_alone_and_together(dut, pauses):
    """Vectors 0, 1, 31, 32, 63, 64, 100 and the last: each alone, then all at once."""
    bench = await Bench.start(dut, pauses=pauses)
    await bench.msix_enable()
    vecs = vectors_under_test(bench)
    for v in vecs:
        await bench.msix.program(v, *msg_for(v), masked=False)
    for v in vecs:
        bench.msgs.clear()
        await bench.msix.trigger(v)
        await bench.msgs.wait_for({msg_for(v): 1})
        await bench.settle()
        bench.msgs.assert_exactly({msg_for(v): 1})
    bench.msgs.clear()
    for v in vecs:
        await bench.msix.trigger(v)
    expected = {msg_for(v): 1 for v in vecs}
    await bench.msgs.wait_for(expected)
    await bench.settle()
    bench.msgs.assert_exactly(expected)
    for m in bench.msgs.messages:
        assert m.requester_id == bench.requester_id, f"message requester ID {m.requester_id:#06x}"


@cocotb.test()
async def test_random_vectors(dut):
    """A seeded random set of vectors, each fired a random number of times, some while masked."""
    bench = await Bench.start(dut, pauses="both")
    n = bench.params.msix_vectors
    picks = bench.rng.sample(range(n), min(n, 24))
    await bench.msix_enable()
    expected = {}
    masked = set(bench.rng.sample(picks, len(picks) // 3))
    for v in picks:
        await bench.msix.program(v, *msg_for(v, high=bench.rng.random() < 0.5), masked=v in masked)
    for v in picks:
        hi = (await bench.msix.read_entry(v))[1] != 0
        fires = bench.rng.randint(1, 3)
        for _ in range(fires):
            await bench.msix.trigger(v)
        # A masked vector collapses any number of requests into one pending message.
        expected[msg_for(v, high=hi)] = 0 if v in masked else fires
    await bench.msgs.wait_for(expected)
    await bench.settle()
    bench.msgs.assert_exactly(expected)
    for v in masked:
        assert await bench.msix.pending(v)
        await bench.msix.unmask(v)
        hi = (await bench.msix.read_entry(v))[1] != 0
        expected[msg_for(v, high=hi)] = 1
    await bench.msgs.wait_for(expected)
    await bench.settle()
    bench.msgs.assert_exactly(expected)
    for v in picks:
        assert not await bench.msix.pending(v), f"vector {v} still pending after replay"


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_function_mask(dut, pauses):
    """Function Mask holds every vector (pending bits set, per-vector masks untouched); clearing it replays each once."""
    bench = await Bench.start(dut, pauses=pauses)
    vecs = vectors_under_test(bench)
    await bench.msix_enable(fn_mask=True)
    for v in vecs:
        await bench.msix.program(v, *msg_for(v), masked=False)
        await bench.msix.trigger(v)
        await bench.msix.trigger(v)
    await bench.settle()
    bench.msgs.assert_exactly({})
    for v in vecs:
        assert await bench.msix.pending(v), f"vector {v} not pending under Function Mask"
        assert (await bench.msix.read_entry(v))[3] & 1 == 0, "Function Mask must not change per-vector Mask bits"
    await check_pba_exact(bench, vecs)
    await bench.msix_enable(fn_mask=False)
    expected = {msg_for(v): 1 for v in vecs}
    await bench.msgs.wait_for(expected)
    await bench.settle()
    bench.msgs.assert_exactly(expected)
    for v in vecs:
        assert not await bench.msix.pending(v)


@cocotb.test()
async def test_enable_zero_sends_nothing(dut):
    """MSI-X Enable = 0: nothing is sent, requests pend (a second request to a pending vector changes
    nothing); Enable = 1 replays each pending vector once."""
    bench = await Bench.start(dut, pauses="both")
    vecs = vectors_under_test(bench)
    await bench.msix_enable(enable=False)
    for v in vecs:
        await bench.msix.program(v, *msg_for(v), masked=False)
        await bench.msix.trigger(v)
    await bench.settle()
    await check_pba_exact(bench, vecs)
    for v in vecs:
        await bench.msix.trigger(v)
    await bench.settle()
    bench.msgs.assert_exactly({})
    for v in vecs:
        assert await bench.msix.pending(v)
    await bench.msix_enable()
    expected = {msg_for(v): 1 for v in vecs}
    await bench.msgs.wait_for(expected)
    await bench.settle()
    bench.msgs.assert_exactly(expected)


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_mask_pending_replay(dut, pauses):
    """Per-vector mask: requests latch Pending; unmask sends exactly once, with the address/data written while masked."""
    bench = await Bench.start(dut, pauses=pauses)
    await bench.msix_enable()
    for v in vectors_under_test(bench):
        bench.msgs.clear()
        await bench.msix.program(v, *msg_for(v), masked=True)
        for _ in range(3):
            await bench.msix.trigger(v)
        await bench.settle()
        bench.msgs.assert_exactly({})
        assert await bench.msix.pending(v)
        # Linux rewrites a masked entry, then unmasks: the replay must use the new message.
        new_addr, new_data = msg_for(v, high=True)
        await bench.msix.program(v, new_addr, new_data ^ 0x55, masked=True)
        await bench.msix.unmask(v)
        await bench.msgs.wait_for({(new_addr, new_data ^ 0x55): 1})
        await bench.settle()
        bench.msgs.assert_exactly({(new_addr, new_data ^ 0x55): 1})
        assert not await bench.msix.pending(v)
        # Unmasking again (already unmasked, nothing pending) sends nothing.
        await bench.msix.unmask(v)
        await bench.settle()
        bench.msgs.assert_exactly({(new_addr, new_data ^ 0x55): 1})


@cocotb.test()
async def test_masked_pending_does_not_block_others(dut):
    """A vector that stays masked with Pending set must not delay the replay of any unmasked pending vector."""
    bench = await Bench.start(dut, pauses="both")
    n = bench.params.msix_vectors
    pairs = [(0, n - 1), (n - 1, 0)] + ([(64, 63), (32, 100), (100, 32)] if n > 100 else [(1, 2)])
    for stuck, live in pairs:
        bench.msgs.clear()
        await bench.msix_enable(fn_mask=True)
        await bench.msix.program(stuck, *msg_for(stuck), masked=False)
        await bench.msix.program(live, *msg_for(live), masked=False)
        await bench.msix.trigger(stuck)
        await bench.msix.trigger(live)
        await bench.settle()
        await bench.msix.mask(stuck)
        await bench.msix_enable(fn_mask=False)
        await bench.msgs.wait_for({msg_for(live): 1})
        await bench.settle()
        bench.msgs.assert_exactly({msg_for(live): 1})
        assert await bench.msix.pending(stuck), f"vector {stuck} lost its pending bit"
        await bench.msix.unmask(stuck)
        await bench.msgs.wait_for({msg_for(live): 1, msg_for(stuck): 1})
        await bench.settle()
        bench.msgs.assert_exactly({msg_for(live): 1, msg_for(stuck): 1})


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_3dw_and_4dw_messages(dut, pauses):
    """Message Upper Address 0 gives a 3DW memory write, non-zero a 4DW one, each with one DWORD of data."""
    bench = await Bench.start(dut, pauses=pauses)
    await bench.msix_enable()
    last = bench.params.msix_vectors - 1
    await bench.msix.program(0, *msg_for(0), masked=False)
    await bench.msix.program(last, *msg_for(last, high=True), masked=False)
    await bench.msix.trigger(0)
    await bench.msix.trigger(last)
    await bench.msgs.wait_for({msg_for(0): 1, msg_for(last, high=True): 1})
    by_addr = {m.addr: m for m in bench.msgs.messages}
    assert by_addr[msg_for(0)[0]].header_dw == 3, "a 32-bit message address needs a 3DW header"
    assert by_addr[msg_for(last, high=True)[0]].header_dw == 4, "a 64-bit message address needs a 4DW header"


@cocotb.test()
async def test_table_access_widths(dut):
    """DWORD and QWORD accesses to the table read back what was written; AddrLo[1:0] and VectorCtrl[31:1] read 0; the PBA ignores writes."""
    bench = await Bench.start(dut)
    last = bench.params.msix_vectors - 1
    for v in (0, last):
        base = regs.MSIX_TABLE_BASE + v * regs.MSIX_TABLE_STRIDE
        await bench.wr64(base + regs.MSIX_TABLE_ADDR_LO, 0x1234_5678_9ABC_DEF3)
        await bench.wr64(base + regs.MSIX_TABLE_DATA, 0xFFFF_FFFE_CAFE_F00D)
        assert await bench.rd32(base + regs.MSIX_TABLE_ADDR_LO) == 0x9ABC_DEF0
        assert await bench.rd32(base + regs.MSIX_TABLE_ADDR_HI) == 0x1234_5678
        assert await bench.rd64(base + regs.MSIX_TABLE_DATA) == 0x0000_0000_CAFE_F00D
        await bench.wr32(base + regs.MSIX_TABLE_VECTOR_CTRL, 0xFFFF_FFFF)
        assert await bench.rd32(base + regs.MSIX_TABLE_VECTOR_CTRL) == 1
    pba = regs.MSIX_PBA_BASE
    await bench.wr64(pba, 0xFFFF_FFFF_FFFF_FFFF)
    assert await bench.rd64(pba) == 0, "the PBA is read-only"


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_bus_master_enable_pends(dut, pauses):
    """Bus Master Enable = 0 forbids the function to send memory writes, so MSI-X messages (PCIe §6.1.4,
    platform-facts §1): requests pend in the PBA with the per-vector masks untouched (a second request to
    a pending vector changes nothing); a vector already pending from its mask and unmasked while Bus Master
    Enable = 0 sends nothing either; setting it again replays each pending vector exactly once, as a burst
    under backpressure."""
    bench = await Bench.start(dut, pauses=pauses)
    vecs = vectors_under_test(bench)
    await bench.msix_enable()
    masked = vecs[len(vecs) // 2]
    for v in vecs:
        await bench.msix.program(v, *msg_for(v, high=v % 2 == 1), masked=v == masked)
    await bench.msix.trigger(masked)
    await bench.settle()
    assert await bench.msix.pending(masked), f"vector {masked}: masked request left no pending bit"
    await bench.dev.set_master(False)
    for v in vecs:
        await bench.msix.trigger(v)
    await bench.settle()
    await check_pba_exact(bench, vecs)
    for v in vecs:
        await bench.msix.trigger(v)
    await bench.msix.unmask(masked)
    await bench.settle()
    bench.msgs.assert_exactly({})
    await check_pba_exact(bench, vecs)
    for v in vecs:
        assert (await bench.msix.read_entry(v))[3] & 1 == 0, "Bus Master Enable must not change per-vector Mask bits"
    await bench.dev.set_master(True)
    expected = {msg_for(v, high=v % 2 == 1): 1 for v in vecs}
    await bench.msgs.wait_for(expected)
    await bench.settle()
    bench.msgs.assert_exactly(expected)
    for v in vecs:
        assert not await bench.msix.pending(v), f"vector {v} still pending after the replay"
    # Enabled again: a new request is sent at once, once.
    bench.msgs.clear()
    await bench.msix.trigger(vecs[-1])
    await bench.msgs.wait_for({msg_for(vecs[-1], high=vecs[-1] % 2 == 1): 1})
    await bench.settle()
    bench.msgs.assert_exactly({msg_for(vecs[-1], high=vecs[-1] % 2 == 1): 1})


# Message addresses at the 3DW/4DW boundary: the last DWORD below 4 GiB and exactly 4 GiB.
BELOW_4G = 0xFFFF_FFFC
AT_4G = 0x1_0000_0000


@cocotb.test()
@cocotb.parametrize(pauses=("none", "backpressure"))
async def test_message_address_at_4gib(dut, pauses):
    """Message Upper Address = 0 means a 32-bit address (3DW write); any non-zero upper address, including
    exactly 4 GiB (upper = 1, lower = 0), needs a 4DW write carrying the whole address."""
    bench = await Bench.start(dut, pauses=pauses)
    log = MessageLog(windows=((BELOW_4G & ~0xFFF, 0x1000), (AT_4G, 0x1000)))

    def claim(addr, data, requester_id, tlp):
        return log.on_write(addr, data, requester_id, tlp.get_header_size_dw())

    for window in log.windows:
        bench.rc.add_write_interceptor(claim, window)
    await bench.msix_enable()
    last = bench.params.msix_vectors - 1
    cases = {0: (BELOW_4G, 0xB000_0000), last: (AT_4G, 0xA000_0000 | last)}
    if last > 1:
        cases[1] = (AT_4G + 0x40, 0xA000_0001)
    for v, (addr, data) in cases.items():
        await bench.msix.program(v, addr, data, masked=False)
    for v in cases:
        await bench.msix.trigger(v)
    expected = {c: 1 for c in cases.values()}
    await log.wait_for(expected)
    await bench.settle()
    log.assert_exactly(expected)
    bench.msgs.assert_exactly({})
    for m in log.messages:
        want = 3 if m.addr < AT_4G else 4
        assert m.header_dw == want, f"message to {m.addr:#x}: {m.header_dw}DW header, expected {want}DW"


@cocotb.test()
@cocotb.parametrize(pauses=("none", "backpressure"))
async def test_replay_burst_under_long_stall(dut, pauses):
    """A burst of replays (every vector at once when Function Mask clears) while the request stream is held
    not-ready for a long stretch: the device must keep every message it has taken from the table until the
    link takes it, so after the stall each vector arrives exactly once, with nothing lost or duplicated."""
    bench = await Bench.start(dut, pauses=pauses)
    n = bench.params.msix_vectors
    vecs = sorted(set(vectors_under_test(bench)) | set(range(min(n, 12))))   # far more than the device buffers
    await bench.msix_enable(fn_mask=True)
    for v in vecs:
        await bench.msix.program(v, *msg_for(v, high=v % 3 == 0), masked=False)
        await bench.msix.trigger(v)
    await bench.settle()
    bench.msgs.assert_exactly({})
    held = [True]

    def gate():
        while held[0]:
            yield True
        yield from random_pauses(bench.rng, PAUSE_PROBABILITY) if pauses == "backpressure" else iter(lambda: False, True)

    bench.shim.streams["tx_req"].set_pause_generator(gate())
    await bench.msix_enable(fn_mask=False)          # the scanner replays every vector while tx_req is stalled
    await bench.cycles(300)
    # The sink's ready was already high when the first message appeared: that one is taken, the rest wait.
    assert len(bench.msgs.messages) <= 1, f"{len(bench.msgs.messages)} messages taken while tx_req was held"
    held[0] = False
    expected = {msg_for(v, high=v % 3 == 0): 1 for v in vecs}
    await bench.msgs.wait_for(expected)
    await bench.settle()
    bench.msgs.assert_exactly(expected)
    for v in vecs:
        assert not await bench.msix.pending(v), f"vector {v} still pending after the replay"
