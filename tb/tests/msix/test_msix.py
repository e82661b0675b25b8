"""MSI-X table, PBA and message engine against PCIe Base r6.3 §6.1.4 / §7.7.2 (reference/platform-facts §1).

Every test checks delivered messages exactly (per (address, data) counts: nothing lost, duplicated or
spurious) and is crossed with idle/backpressure insertion on the TLP streams. Vectors are fired with
the MSIX_TRIGGER self-test register, the way a driver's interrupt self-test does.
"""
import cocotb
from cocotb.triggers import FallingEdge

from imsdev import regs
from tb.bad_inputs import BadInput
from tb.env import CLOCK_NS, DEV_IDLE_LAG_CYCLES, Bench, DevIdleTrace, PAUSE_MODES, PAUSE_PROBABILITY
from tb.msglog import WINDOW_32, WINDOW_64, MessageLog
from tb.pcie.stream import Gate, random_pauses

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
        return log.on_write(addr, data, requester_id, tlp.get_header_size_dw(), tlp)

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
    gate = Gate(after=random_pauses(bench.rng, PAUSE_PROBABILITY) if pauses == "backpressure" else None)
    bench.shim.streams["tx_req"].set_pause_generator(gate)
    await bench.msix_enable(fn_mask=False)          # the scanner replays every vector while tx_req is stalled
    await bench.cycles(300)
    # The sink's ready was already high when the first message appeared: that one is taken, the rest wait.
    assert len(bench.msgs.messages) <= 1, f"{len(bench.msgs.messages)} messages taken while tx_req was held"
    gate.release()
    expected = {msg_for(v, high=v % 3 == 0): 1 for v in vecs}
    await bench.msgs.wait_for(expected)
    await bench.settle()
    bench.msgs.assert_exactly(expected)
    for v in vecs:
        assert not await bench.msix.pending(v), f"vector {v} still pending after the replay"


# Two pairs whose address halves mix into addresses the message log still claims: (lo of one, hi of the
# other) lands in WINDOW_32 or WINDOW_64 too, so a torn message would be seen, never written to memory unseen.
PAIR_A = (WINDOW_32[0] + 0x100, 0xA0A0_0001)
PAIR_B = (WINDOW_64[0] + 0x200, 0xB0B0_0002)
# Rewrite orders of an entry's Address/Data DWs (offsets inside the entry; 0 with 8 bytes is a QWORD write).
REWRITE_ORDERS = {
    "lo, hi, data (Linux's order)": ((0, 4), (4, 4), (8, 4)),
    "data, hi, lo": ((8, 4), (4, 4), (0, 4)),
    "hi, data, lo": ((4, 4), (8, 4), (0, 4)),
    "QWORD address, data": ((0, 8), (8, 4)),
    "data, QWORD address": ((8, 4), (0, 8)),
}


async def write_pair(bench, v, pair, order):
    """Write `pair` into entry v's Address/Data DWs in the given order; returns the first offset written."""
    addr, data = pair
    e = bench.msix.entry(v)
    for off, size in order:
        if size == 8:
            await bench.wr64(e + off, addr)
        else:
            await bench.wr32(e + off, {0: addr & 0xFFFF_FFFF, 4: addr >> 32, 8: data}[off])
    return e + order[0][0]


async def err_flags(bench):
    """ERR's VALID and OVERFLOW bits (CODE keeps the last record's code after VALID is cleared)."""
    return await bench.rd32(regs.CSR_ERR) & (regs.CSR_ERR_VALID_MASK | regs.CSR_ERR_OVERFLOW_MASK)


async def expect_err(bench, code, addr, overflow):
    err = await bench.rd32(regs.CSR_ERR)
    got = (bool(err & regs.CSR_ERR_VALID_MASK), (err & regs.CSR_ERR_CODE_MASK) >> regs.CSR_ERR_CODE_SHIFT,
           bool(err & regs.CSR_ERR_OVERFLOW_MASK))
    assert got == (True, code, overflow), f"ERR={err:#x}: expected VALID, code {code:#x}, OVERFLOW={overflow}"
    got_addr = await bench.rd32(regs.CSR_ERR_ADDR)
    assert got_addr == addr, f"ERR_ADDR {got_addr:#x}, expected {addr:#x}"
    await bench.wr32(regs.CSR_ERR, regs.CSR_ERR_VALID_MASK | regs.CSR_ERR_OVERFLOW_MASK)


@cocotb.test()
@cocotb.parametrize(pauses=("none", "both"))
async def test_no_torn_message_under_rewrite(dut, pauses):
    """No torn MSI-X message (docs/registers.md, MSI-X: "no torn messages"): while a vector is triggered back
    to back, its entry is rewritten in every DW order (DWORD and QWORD writes).
    - Unmasked (undefined by PCIe §6.1.4.2): every message carries the old pair until software writes Vector
      Control with Mask=0, then the new one; never a mix; the table reads back the new pair at once; ERR
      records MSIX_UNMASKED_WRITE at the first DW written, with OVERFLOW when more than one was written.
    - Masked (Linux's mask, rewrite, unmask) and under Function Mask: triggers pend, the replay and every later
      message carry the new pair, nothing is logged.
    One message per trigger while deliverable: nothing lost, nothing invented."""
    bench = await Bench.start(dut, pauses=pauses)
    v = bench.params.msix_vectors - 1
    e = bench.msix.entry(v)
    await bench.msix_enable()
    await bench.msix.program(v, *PAIR_A, masked=False)
    assert await bench.rd32(regs.CSR_ERR) == 0, "programming a masked entry logged an error"
    state = {"run": True, "sent": 0}

    async def stream():
        while state["run"]:
            await bench.msix.trigger(v)
            state["sent"] += 1
            await bench.cycles(bench.rng.randint(1, 8))    # a posted write returns at once: let time pass

    def check_sequence(msgs, old, new, what):
        """Messages of one phase: some old ones, then only new ones; nothing else."""
        pairs = [(m.addr, m.data) for m in msgs]
        torn = [f"{a:#x}/{d:#x}" for a, d in pairs if (a, d) not in (old, new)]
        assert not torn, f"{what}: torn message(s) {torn[:4]} (old {old[0]:#x}/{old[1]:#x}, new {new[0]:#x}/{new[1]:#x})"
        first_new = pairs.index(new) if new in pairs else len(pairs)
        assert all(p == new for p in pairs[first_new:]), f"{what}: an old message after a new one: {pairs}"
        return first_new

    old, new = PAIR_A, PAIR_B
    for name, order in REWRITE_ORDERS.items():
        # ---- unmasked rewrite under streaming triggers
        bench.msgs.clear()
        state.update(run=True, sent=0)
        task = cocotb.start_soon(stream())
        await bench.cycles(40)
        first = await write_pair(bench, v, new, order)
        got = await bench.msix.read_entry(v)
        assert (got[0], got[1], got[2]) == (new[0] & 0xFFFF_FFFF, new[0] >> 32, new[1]), \
            f"{name}: the table does not read back the unmasked rewrite: {got}"
        before_publish = len(bench.msgs.messages)
        await bench.cycles(40)
        await bench.msix.unmask(v)                  # Vector Control with Mask=0: publishes the new pair
        await bench.cycles(40)
        state["run"] = False
        await task
        await bench.msgs.wait_total(state["sent"])
        await bench.settle()
        msgs = list(bench.msgs.messages)
        assert len(msgs) == state["sent"], f"{name}: {state['sent']} triggers, {len(msgs)} messages"
        first_new = check_sequence(msgs, old, new, f"unmasked rewrite ({name}, pauses={pauses})")
        assert first_new >= before_publish, \
            f"{name}: the new pair was sent before Vector Control was written ({first_new} < {before_publish})"
        assert first_new < len(msgs), f"{name}: the new pair was never sent after Vector Control Mask=0"
        await expect_err(bench, regs.MMIO_ERR_MSIX_UNMASKED_WRITE, first, overflow=len(order) > 1)
        old, new = new, old

        # ---- masked rewrite (Linux's order of operations) under streaming triggers
        bench.msgs.clear()
        state.update(run=True, sent=0)
        task = cocotb.start_soon(stream())
        await bench.cycles(40)
        await bench.msix.mask(v)
        await write_pair(bench, v, new, order)
        await bench.cycles(40)
        assert await bench.msix.pending(v), f"{name}: triggers while masked left no pending bit"
        await bench.msix.unmask(v)
        await bench.cycles(40)
        state["run"] = False
        await task
        await bench.settle()
        msgs = list(bench.msgs.messages)
        first_new = check_sequence(msgs, old, new, f"masked rewrite ({name}, pauses={pauses})")
        assert first_new < len(msgs), f"{name}: no message after the unmask"
        assert await err_flags(bench) == 0, f"{name}: a masked rewrite logged an error"
        assert not await bench.msix.pending(v)
        old, new = new, old

    # ---- Function Mask: the entry stays unmasked, the function is masked while it is rewritten
    bench.msgs.clear()
    await bench.msix_enable(fn_mask=True)
    await bench.msix.trigger(v)
    await write_pair(bench, v, new, REWRITE_ORDERS["data, hi, lo"])
    await bench.msix.trigger(v)
    await bench.settle()
    bench.msgs.assert_exactly({})
    await bench.msix_enable(fn_mask=False)
    await bench.msgs.wait_for({new: 1})
    await bench.msix.trigger(v)
    await bench.msgs.wait_for({new: 2})
    await bench.settle()
    bench.msgs.assert_exactly({new: 2})
    assert await err_flags(bench) == 0, "a rewrite under Function Mask logged an error"



@cocotb.test()
async def test_publish_with_request_right_behind(dut):
    """An unmasked rewrite published by Vector Control Mask=0 while an interrupt request for the same vector
    waits right behind the publishing write: that request is decided after the publication, so it carries the
    new pair (the engine forwards the just-armed pair to it; see the header of rtl/msix/imsdev_msix.sv).
    tx_req is held so that the message FIFO fills with K messages of another vector and the request waits;
    K sweeps past the device's buffering so that one round puts the request exactly behind the publication.
    Every round: the vector's pending replay and any later message carry the new pair, never the old one."""
    bench = await Bench.start(dut)
    n = bench.params.msix_vectors
    v, w = n - 1, 0
    await bench.msix_enable()
    await bench.msix.program(w, *msg_for(w), masked=False)
    old, new = PAIR_A, PAIR_B
    await bench.msix.program(v, *old, masked=False)
    tx_req = bench.shim.streams["tx_req"]
    for k in range(0, 14):
        bench.msgs.clear()
        await write_pair(bench, v, new, REWRITE_ORDERS["lo, hi, data (Linux's order)"])   # unmasked: not armed
        await bench.msix.mask(v)
        await bench.msix.trigger(v)                 # decided while masked: pends
        gate = Gate()
        tx_req.set_pause_generator(gate)

        async def burst():
            for _ in range(k):
                await bench.msix.trigger(w)
            await bench.msix.trigger(v)
            await bench.msix.unmask(v)              # publishes `new`; the CHECK waits for room in the FIFO

        task = cocotb.start_soon(burst())
        await bench.cycles(300)
        gate.release()
        tx_req.clear_pause_generator()
        await task
        await bench.msgs.wait_for({new: 1, msg_for(w): k})
        await bench.settle()
        got_v = [(m.addr, m.data) for m in bench.msgs.messages if (m.addr, m.data) in (old, new)]
        assert old not in got_v, f"K={k}: the old pair was sent after the rewrite was published: {got_v}"
        assert bench.msgs.count(*msg_for(w)) == k, f"K={k}: {bench.msgs.count(*msg_for(w))} messages of vector {w}"
        assert 1 <= len(got_v) <= 2, f"K={k}: {len(got_v)} messages of vector {v} (pending replay, maybe the request)"
        await expect_err(bench, regs.MMIO_ERR_MSIX_UNMASKED_WRITE, bench.msix.entry(v), overflow=True)
        old, new = new, old


@cocotb.test()
async def test_settle_waits_for_the_replay_scan(dut):
    """Clearing Function Mask starts the replay scan over the PBA: one cycle per QWORD with no bit set, one per
    vector of a QWORD with a bit set (a QWORD whose last pending vector was just sent reads empty). Pending:
    vector 1 and the last vector (unmasked), and, with 192 vectors or more, vector 64 masked. The scan sends
    vector 1's message, checks QWORD 1 vector by vector (64 stays pending), skips the empty QWORDs and checks
    the last QWORD vector by vector: on default the last message comes about 160 cycles after the first.
    Bench.settle() begun as the first message arrives must return after the last one: its first quiet
    window ends while the scan skips empty QWORDs, which the MSI-X engine counts as busy (dev_idle low).
    Both unmasked vectors arrive exactly once and vector 64 stays pending."""
    bench = await Bench.start(dut)
    n = bench.params.msix_vectors
    first, last = 1, n - 1
    held = {64} if n >= 192 else set()
    await bench.msix_enable(True, fn_mask=True)
    for v in (first, *held, last):
        await bench.msix.program(v, *msg_for(v), masked=v in held)
        await bench.msix.trigger(v)
    await check_pba_exact(bench, {first, last} | held)
    bench.msgs.assert_exactly({})
    await bench.settle()
    assert dut.dev_idle.value == 1, "dev_idle low with only pending vectors under Function Mask (nothing can send)"

    trace = DevIdleTrace(bench, start=FallingEdge(dut.cfg_msix_fn_mask))
    await bench.msix_enable(True, fn_mask=False)
    await bench.msgs.wait_for({msg_for(first): 1})
    await bench.settle()
    trace.stop()
    bench.msgs.assert_exactly({msg_for(first): 1, msg_for(last): 1})
    await check_pba_exact(bench, held)
    # dev_idle low through the whole scan: from a few cycles after the pin falls (sideband, blocked and scan
    # registers, dev_idle's own) until the last message is on its way
    last_ns = max(m.time_ns for m in bench.msgs.messages)
    lag = DEV_IDLE_LAG_CYCLES * CLOCK_NS
    high = trace.high_between(trace.first_ns + lag, last_ns - lag)
    assert not high, f"dev_idle high at {high[:4]} ns while the replay scan ran (pin fell at {trace.first_ns} ns, " \
                     f"last message at {last_ns} ns)"


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="interrupt", input="Vector Control written 0xFFFFFFFF; QWORD Message Address with bits 1:0 set; "
                                    "QWORD of all ones written to the PBA",
             outcome="Vector Control reads 1 (bits 31:1 reserved); address bits 1:0 read 0; the PBA reads 0 "
                     "(read-only)",
             test="test_table_access_widths"),
    BadInput(cls="interrupt", input="Message Address/Data of an unmasked vector rewritten (undefined by PCIe "
                                    "§6.1.4.2) in every DWORD/QWORD order while the vector is triggered back to back",
             outcome="the table reads back the new pair at once; every message carries the old pair until Vector "
                     "Control is written with Mask=0, then the new one, never a mix; one message per trigger; ERR "
                     "MMIO_ERR_MSIX_UNMASKED_WRITE at the first DW written, OVERFLOW when more than one",
             test="test_no_torn_message_under_rewrite"),
    BadInput(cls="interrupt", input="The same rewrite while the vector is masked, or while Function Mask is set",
             outcome="triggers pend; the replay and every later message carry the new pair; ERR stays clear",
             test="test_no_torn_message_under_rewrite"),
    BadInput(cls="interrupt", input="Interrupt requests while Function Mask is set",
             outcome="no message; Pending set, per-vector Mask bits unchanged, PBA exact; clearing Function Mask "
                     "sends each vector once",
             test="test_function_mask"),
    BadInput(cls="interrupt", input="Interrupt requests (two per vector) while MSI-X Enable is 0",
             outcome="nothing sent, PBA exact; setting Enable sends each vector once",
             test="test_enable_zero_sends_nothing"),
    BadInput(cls="config", input="Interrupt requests while Bus Master Enable is 0, including unmasking a vector "
                                 "already pending",
             outcome="nothing sent, PBA exact, masks untouched; setting Bus Master Enable replays each vector once",
             test="test_bus_master_enable_pends"),
)
