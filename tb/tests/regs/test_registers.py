"""The register contract a driver relies on (regs/imsdev.rdl, docs/registers.md).

Expected values come from the register description (fw/imsdev/regs.py, generated from the one source)
and from the build configuration (sim/configs.py), never from reading the RTL back.
"""
import random
import re
from pathlib import Path

import cocotb
from cocotb.triggers import FallingEdge
from cocotbext.pcie.core.tlp import CplStatus

from imsdev import regs
from tb.bad_inputs import BadInput
from tb.clock import start_clock
from tb.env import CLOCK_NS, Bench, PAUSE_MODES
from tb.pcie.tlp import PasidTlp

# Registers whose writes have side effects beyond their own value; they have their own tests below.
SIDE_EFFECTS = {"INT_TEST", "MSIX_TRIGGER", "CMD"}


def expected_reset(bench, reg):
    """Reset value of a register: the description's, with capability fields from the build parameters.
    Other hardware-driven status fields (device and WQ state, command status) are 0 after reset: the
    device and every WQ start disabled and no command has run."""
    value = reg.reset & reg.reset_mask
    caps = bench.params.capability_fields()
    for f in reg.fields:
        if f.reset is None:
            value |= caps.get((reg.name, f.name), 0) << f.lsb
    return value


def writable_mask(reg):
    return sum(f.mask for f in reg.fields if f.access == "RW")


# Clock edges before the first reset in test_clock_before_the_first_reset: enough for the random power-up
# state to move through every pipeline a check looks at (the deepest reference pipelines are a few stages).
POWER_UP_CYCLES = 64


def top_inputs() -> list[str]:
    """The top level's input ports other than clk and rst, from its port list (rtl/top/imsdev_top.sv)."""
    src = (Path(__file__).resolve().parents[3] / "rtl" / "top" / "imsdev_top.sv").read_text()
    names = re.findall(r"^\s*input\s+wire\s+logic\s*(?:\[[^\]]*\])?\s*(\w+)", src, re.M)
    if "rx_req_valid" not in names or "tx_req_ready" not in names:
        raise RuntimeError(f"rtl/top/imsdev_top.sv: port list not recognised (found {names})")
    return [n for n in names if n not in ("clk", "rst")]


# First in this module on purpose: cocotb runs a module's tests in one simulator, and only the first sees the
# registers' power-up state.
@cocotb.test()
async def test_clock_before_the_first_reset(dut):
    """Power-up: the clock runs before the first reset. The registers start random (+verilator+rand+reset+2,
    a different state per seed); the link is idle (no rx beat, no FLR) and every other input is random at every
    edge: readies, configuration, the rx payload fields. No simulation check in rtl/ may fire before the first
    reset (each is armed by it: the state before a reset is not the design's), and after the reset the device
    enumerates and every CSR reads its reset value.

    The link stays idle because Verilator's first evaluation can take a rising edge at time 0 with the power-up
    value of rst, which may be 1: a reset, after which a beat with random framing would be the bench's protocol
    error, rightly reported by the rx stream checks (an FLR likewise resets the function)."""
    names = top_inputs()
    idle = [n for n in names if re.fullmatch(r"rx_[a-z]+_valid", n)] + ["flr"]
    if len(idle) < 4:
        raise RuntimeError(f"top_inputs(): expected the rx stream valids and flr, found {idle}")
    for n in idle:
        getattr(dut, n).value = 0
    inputs = [getattr(dut, n) for n in names if n not in idle]
    dut.rst.value = 0
    clock = start_clock(dut.clk, CLOCK_NS)
    for _ in range(POWER_UP_CYCLES):
        await FallingEdge(dut.clk)
        for h in inputs:
            h.value = random.getrandbits(len(h))
    await FallingEdge(dut.clk)
    clock.stop()
    bench = await Bench.start(dut)
    await check_reset_values(bench)


async def check_reset_values(bench):
    """Every CSR, and every implemented WQ's WQCFG copy, reads its documented reset value as a DWORD; DEV_ID/VERSION
    as one QWORD."""
    for reg in regs.REGISTERS:
        got = await bench.rd32(reg.offset)
        assert got == expected_reset(bench, reg), f"{reg.name}@{reg.offset:#x}: {got:#010x} != {expected_reset(bench, reg):#010x}"
    # Per-WQ configuration registers (an array, described once in LAYOUTS): every implemented WQ's copy.
    for w in range(bench.params.num_wq):
        for reg in regs.LAYOUTS["CSR_WQCFG"]:
            off = regs.csr_wqcfg_at(w) + reg.offset
            got = await bench.rd32(off)
            assert got == expected_reset(bench, reg), \
                f"WQCFG[{w}].{reg.name}@{off:#x}: {got:#010x} != {expected_reset(bench, reg):#010x}"
    magic = await bench.rd64(regs.CSR_DEV_ID)
    assert magic == (regs.CSR_VERSION_RESET << 32) | regs.CSR_DEV_ID_RESET, f"QWORD read of DEV_ID/VERSION: {magic:#x}"


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_reset_values(dut, pauses):
    """Every CSR reads its documented reset value, as a DWORD and inside a QWORD."""
    bench = await Bench.start(dut, pauses=pauses)
    await check_reset_values(bench)


@cocotb.test()
async def test_access_types(dut):
    """RW fields keep what is written, RO fields and reserved bits ignore writes, WO fields read 0."""
    bench = await Bench.start(dut, pauses="both")
    for reg in regs.REGISTERS:
        if reg.name in SIDE_EFFECTS:
            continue
        before = await bench.rd32(reg.offset)
        rw = writable_mask(reg)
        w1c = sum(f.mask for f in reg.fields if f.access == "W1C")
        for pattern in (0xFFFF_FFFF, 0x0000_0000, 0xA5A5_5A5A, bench.rng.getrandbits(32)):
            # Writing ones to W1C bits would clear them; these registers start at 0 so it is a no-op.
            await bench.wr32(reg.offset, pattern)
            got = await bench.rd32(reg.offset)
            want = (before & ~rw & ~w1c) | (pattern & rw)
            assert got == want, f"{reg.name}: wrote {pattern:#010x}, read {got:#010x}, expected {want:#010x}"
        await bench.wr32(reg.offset, before & rw)
    for name in SIDE_EFFECTS:
        off = getattr(regs, f"CSR_{name}")
        assert await bench.rd32(off) == 0, f"{name} is write-only and must read 0"


@cocotb.test()
async def test_scratch_qword_and_ordering(dut):
    """QWORD writes land in two DWORDs; a read returns only after every earlier posted write took effect."""
    bench = await Bench.start(dut, pauses="both")
    for i in range(16):
        value = bench.rng.getrandbits(32)
        bench.wr32_nowait(regs.CSR_SCRATCH, value)     # posted: no wait for it to land
        got = await bench.rd32(regs.CSR_SCRATCH)
        assert got == value, f"read overtook posted write {i}: {got:#x} != {value:#x}"
    await bench.wr64(regs.CSR_SCRATCH, 0x1122_3344_5566_7788)
    assert await bench.rd32(regs.CSR_SCRATCH) == 0x5566_7788
    assert await bench.rd32(regs.CSR_SCRATCH + 4) == 0, "the DWORD after SCRATCH is reserved and reads 0"
    await bench.wr32(regs.CSR_SCRATCH, 0xFFFF_FFFF, byte_enables=0b0010)
    assert await bench.rd32(regs.CSR_SCRATCH) == 0x5566_FF88, "a byte-enable write changes only that byte"


@cocotb.test()
async def test_unmapped_offsets_read_zero(dut):
    """Holes in BAR0 (in the CSR page, between regions, past the MSI-X table, the IMS region before WQs exist) read 0 and ignore writes."""
    bench = await Bench.start(dut)
    known = {r.offset for r in regs.REGISTERS}
    holes = [o for o in (0x008, 0x00C, 0x01C, 0x04C, 0x0FC, 0xFFC) if o not in known]
    holes += [0x1000, 0x1_FFFC, regs.MSIX_PBA_BASE + regs.MSIX_PBA_SIZE, 0x3_0000, regs.BAR0_SIZE - 4]
    n = bench.params.msix_vectors
    if n < regs.MSIX_TABLE_COUNT:
        holes.append(regs.MSIX_TABLE_BASE + n * regs.MSIX_TABLE_STRIDE + regs.MSIX_TABLE_VECTOR_CTRL)
    for off in holes:
        await bench.wr32(off, 0xDEAD_BEEF)
        got = await bench.rd32(off)
        assert got == 0, f"hole at {off:#x} read {got:#x}"
    assert await bench.rd32(regs.CSR_ERR) == 0, "writes to holes are not errors"


def first_byte(be: int) -> int:
    """Offset of the first enabled byte of a DWORD's byte enables."""
    return (be & -be).bit_length() - 1


async def expect_err(bench, code, offset):
    err = await bench.rd32(regs.CSR_ERR)
    valid = err & regs.CSR_ERR_VALID_MASK
    got_code = (err & regs.CSR_ERR_CODE_MASK) >> regs.CSR_ERR_CODE_SHIFT
    assert valid and got_code == code, f"ERR={err:#x}: expected VALID with code {code:#x}"
    got_off = await bench.rd32(regs.CSR_ERR_ADDR)
    assert got_off == offset, f"ERR_ADDR={got_off:#x}, expected {offset:#x}"
    assert await bench.rd32(regs.CSR_INT_CAUSE) & regs.CSR_INT_CAUSE_MMIO_ERR_MASK
    await bench.wr32(regs.CSR_ERR, regs.CSR_ERR_VALID_MASK | regs.CSR_ERR_OVERFLOW_MASK)
    await bench.wr32(regs.CSR_INT_CAUSE, regs.CSR_INT_CAUSE_MMIO_ERR_MASK)
    assert await bench.rd32(regs.CSR_ERR) & regs.CSR_ERR_VALID_MASK == 0


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_bad_accesses(dut, pauses):
    """Bad MMIO requests get a defined outcome (CA/UR completion or a dropped write) and an ERR record; nothing hangs."""
    bench = await Bench.start(dut, pauses=pauses)
    scratch = regs.CSR_SCRATCH
    await bench.wr32(scratch, 0x1234_5678)

    # Reads larger than a QWORD, or QWORDs not 8-byte aligned: Completer Abort.
    cpl = await bench.raw_read(scratch, length_dw=3)
    assert cpl.status == CplStatus.CA, f"12-byte read: {cpl.status}"
    await expect_err(bench, regs.MMIO_ERR_RD_TOO_BIG, scratch)
    cpl = await bench.raw_read(regs.CSR_DEV_ID + 4, length_dw=2)
    assert cpl.status == CplStatus.CA, f"unaligned QWORD read: {cpl.status}"
    await expect_err(bench, regs.MMIO_ERR_UNALIGNED, regs.CSR_DEV_ID + 4)

    # Writes of those shapes are dropped.
    await bench.raw_write(scratch, bytes(16))
    await expect_err(bench, regs.MMIO_ERR_WR_TOO_BIG, scratch)
    await bench.raw_write(scratch + 4, bytes(8))
    await expect_err(bench, regs.MMIO_ERR_UNALIGNED, scratch + 4)
    await bench.raw_write(scratch, bytes(4), poisoned=True)
    await expect_err(bench, regs.MMIO_ERR_POISONED, scratch)
    # ERR_ADDR is the access's first enabled byte, not its DWORD (regs/imsdev.rdl)
    await bench.raw_write(scratch, bytes(4), poisoned=True, first_be=0b1100)
    await expect_err(bench, regs.MMIO_ERR_POISONED, scratch + 2)
    # A write of several beats on every data width (128 bytes) is dropped whole: the completer drains the
    # beats after the first and logs one record.
    await bench.raw_write(scratch, bytes(128))
    await expect_err(bench, regs.MMIO_ERR_WR_TOO_BIG, scratch)
    assert await bench.rd32(scratch) == 0x1234_5678, "a rejected write changed SCRATCH"
    # A zero-length write (one DW, First DW BE 0000b) writes nothing and is no error (PCIe: it is legal).
    await bench.raw_write(scratch, b"\xff" * 4, first_be=0)
    assert await bench.rd32(scratch) == 0x1234_5678, "a zero-length write changed SCRATCH"
    assert await bench.rd32(regs.CSR_ERR) & regs.CSR_ERR_VALID_MASK == 0, "a zero-length write logged an error"

    # Partial-DWORD writes to the MSI-X table and writes to the PBA are dropped.
    ctrl = regs.MSIX_TABLE_BASE + regs.MSIX_TABLE_VECTOR_CTRL
    await bench.wr32(ctrl, 0, byte_enables=0b0001)
    await expect_err(bench, regs.MMIO_ERR_PARTIAL, ctrl)
    assert await bench.rd32(ctrl) == 1, "a partial write unmasked vector 0"
    await bench.wr32(ctrl, 0, byte_enables=0b0100)
    await expect_err(bench, regs.MMIO_ERR_PARTIAL, ctrl + 2)
    assert await bench.rd32(ctrl) == 1, "a partial write unmasked vector 0"
    await bench.wr32(regs.MSIX_PBA_BASE, 0xFFFF_FFFF)
    await expect_err(bench, regs.MMIO_ERR_RO_WRITE, regs.MSIX_PBA_BASE)

    # An out-of-range self-test vector is reported, not sent.
    await bench.wr32(regs.CSR_MSIX_TRIGGER, bench.params.msix_vectors)
    await expect_err(bench, regs.MMIO_ERR_UNSUPPORTED, regs.CSR_MSIX_TRIGGER)

    # A request type BAR0 does not accept (a DMWr, e.g. a stray ENQCMD) is Unsupported: UR, not CA, and
    # it is not performed.
    cpl = await bench.rc.send_nonposted(PasidTlp.create_dmwr(bench.bar0_addr + scratch, bytes(4)))
    assert cpl.status == CplStatus.UR, f"DMWr to BAR0: {cpl.status}"
    await expect_err(bench, regs.MMIO_ERR_UNSUPPORTED, scratch)
    assert await bench.rd32(scratch) == 0x1234_5678, "a DMWr to BAR0 changed SCRATCH"

    # A zero-length read returns one DWORD of zeros without reading the register (imsdev_mmio_completer).
    cpl = await bench.raw_read(scratch, length_dw=1, first_be=0)
    assert cpl.status == CplStatus.SC and cpl.byte_count == 1
    assert cpl.get_data()[:4] == bytes(4), \
        f"a zero-length read of SCRATCH (0x12345678) returned {cpl.get_data()[:4].hex()}: it must not read the register"
    # A 1-DW read of bytes 1..2: Byte Count spans the first to the last enabled byte (2), Lower Address is
    # the first enabled byte's address (PCIe Base §2.3.1.1), the data is the whole DW.
    cpl = await bench.raw_read(scratch, length_dw=1, first_be=0b0110)
    assert cpl.status == CplStatus.SC and cpl.byte_count == 2, f"byte count {cpl.byte_count}"
    assert cpl.lower_address == (bench.bar0_addr + scratch + 1) & 0x7F, f"lower address {cpl.lower_address:#x}"
    assert int.from_bytes(cpl.get_data()[:4], "little") & 0x00FF_FF00 == 0x1234_5678 & 0x00FF_FF00

    # The registers still work.
    assert await bench.rd32(scratch) == 0x1234_5678


@cocotb.test()
async def test_qword_write_byte_enables_per_dword(dut):
    """A QWORD write is two DWORD accesses, the low one with First DW BE and the high one with Last DW BE (PCIe
    Base §2.2.5). In the MSI-X table a partial DWORD is dropped with MMIO_ERR_PARTIAL at its own offset, so a
    QWORD write to an entry's address with one partial half writes the other half only. Every partial value of
    each half beside a full other half, and both halves partial (the low one is the record, the high one sets
    OVERFLOW)."""
    bench = await Bench.start(dut)
    rng = bench.rng
    lo_mask = regs.MSIX_TABLE_ADDR_LO_ADDR_MASK
    cases = [(0xF, b) for b in range(1, 15)] + [(b, 0xF) for b in range(1, 15)] + [(0x3, 0xC), (0x8, 0x1)]
    rng.shuffle(cases)
    for first_be, last_be in cases:
        vector = rng.randrange(bench.params.msix_vectors)
        lo = regs.MSIX_TABLE_BASE + vector * regs.MSIX_TABLE_STRIDE + regs.MSIX_TABLE_ADDR_LO
        hi = lo + 4
        old = rng.getrandbits(64) & ~3
        await bench.wr64(lo, old)
        new = rng.getrandbits(64)
        await bench.raw_write(lo, new.to_bytes(8, "little"), first_be=first_be, last_be=last_be)
        what = f"vector {vector}, QWORD write with First/Last DW BE {first_be:#06b}/{last_be:#06b}"
        want_lo = (new if first_be == 0xF else old) & lo_mask
        want_hi = (new if last_be == 0xF else old) >> 32
        assert await bench.rd32(lo) == want_lo, f"{what}: address low {await bench.rd32(lo):#x}, expected {want_lo:#x}"
        assert await bench.rd32(hi) == want_hi, f"{what}: address high {await bench.rd32(hi):#x}, expected {want_hi:#x}"
        # ERR_ADDR: the dropped DWORD's first enabled byte (regs/imsdev.rdl)
        if first_be != 0xF:
            await expect_err(bench, regs.MMIO_ERR_PARTIAL, lo + first_byte(first_be))
        elif last_be != 0xF:
            await expect_err(bench, regs.MMIO_ERR_PARTIAL, hi + first_byte(last_be))
        assert await bench.rd32(regs.CSR_ERR) & regs.CSR_ERR_VALID_MASK == 0, f"{what}: an error left logged"


@cocotb.test()
async def test_error_overflow(dut):
    """A second bad access while ERR.VALID is set keeps the first record and sets OVERFLOW; W1C re-arms capture."""
    bench = await Bench.start(dut)
    await bench.raw_write(regs.CSR_SCRATCH, bytes(16))
    await bench.raw_write(regs.CSR_SCRATCH + 4, bytes(8))
    err = await bench.rd32(regs.CSR_ERR)
    assert err & regs.CSR_ERR_OVERFLOW_MASK, "OVERFLOW not set"
    assert (err & regs.CSR_ERR_CODE_MASK) >> regs.CSR_ERR_CODE_SHIFT == regs.MMIO_ERR_WR_TOO_BIG, "first record overwritten"
    await bench.wr32(regs.CSR_ERR, regs.CSR_ERR_VALID_MASK | regs.CSR_ERR_OVERFLOW_MASK)
    assert await bench.rd32(regs.CSR_ERR) & (regs.CSR_ERR_VALID_MASK | regs.CSR_ERR_OVERFLOW_MASK) == 0
    await bench.raw_write(regs.CSR_SCRATCH + 4, bytes(8))
    await expect_err(bench, regs.MMIO_ERR_UNALIGNED, regs.CSR_SCRATCH + 4)


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_cause_raises_vector0(dut, pauses):
    """(INT_CAUSE & INT_ENABLE) going 0 -> non-zero sends MSI-X vector 0 once; W1C clears; disabled causes send nothing."""
    bench = await Bench.start(dut, pauses=pauses)
    await bench.msix_enable()
    addr, data = 0xFEE0_0040, 0x4242
    await bench.msix.program(0, addr, data, masked=False)

    await bench.wr32(regs.CSR_INT_TEST, regs.CSR_INT_TEST_SW_TEST_MASK)     # not enabled: no message
    await bench.settle()
    bench.msgs.assert_exactly({})
    assert await bench.rd32(regs.CSR_INT_CAUSE) == regs.CSR_INT_CAUSE_SW_TEST_MASK
    await bench.wr32(regs.CSR_INT_CAUSE, regs.CSR_INT_CAUSE_SW_TEST_MASK)
    assert await bench.rd32(regs.CSR_INT_CAUSE) == 0

    await bench.wr32(regs.CSR_INT_ENABLE, regs.CSR_INT_ENABLE_SW_TEST_MASK | regs.CSR_INT_ENABLE_MMIO_ERR_MASK)
    await bench.wr32(regs.CSR_INT_TEST, regs.CSR_INT_TEST_SW_TEST_MASK)
    await bench.msgs.wait_for({(addr, data): 1})
    await bench.wr32(regs.CSR_INT_TEST, regs.CSR_INT_TEST_SW_TEST_MASK)     # cause already set: no new edge
    await bench.settle()
    bench.msgs.assert_exactly({(addr, data): 1})

    await bench.wr32(regs.CSR_INT_CAUSE, regs.CSR_INT_CAUSE_SW_TEST_MASK)
    await bench.raw_write(regs.CSR_SCRATCH, bytes(16))                        # device error -> MMIO_ERR cause
    await bench.msgs.wait_for({(addr, data): 2})
    await bench.settle()
    bench.msgs.assert_exactly({(addr, data): 2})
    assert await bench.rd32(regs.CSR_INT_CAUSE) == regs.CSR_INT_CAUSE_MMIO_ERR_MASK


@cocotb.test()
async def test_w1c_fields(dut):
    """Each W1C bit of INT_CAUSE (set through INT_TEST, docs/registers.md) and of ERR (set by a bad access)
    clears when 1 is written to exactly that bit, and only then: writing 0, or 1 to another bit, keeps it."""
    bench = await Bench.start(dut)
    cause_bits = [f.mask for f in regs.REGISTERS_BY_NAME["INT_CAUSE"].fields if f.access == "W1C"]
    assert cause_bits, "INT_CAUSE has no W1C field in the register description"
    all_cause = sum(cause_bits)
    await bench.wr32(regs.CSR_INT_TEST, all_cause)          # INT_TEST bits mirror INT_CAUSE bits
    assert await bench.rd32(regs.CSR_INT_CAUSE) == all_cause, "INT_TEST did not set every INT_CAUSE bit"
    await bench.wr32(regs.CSR_INT_CAUSE, 0)
    assert await bench.rd32(regs.CSR_INT_CAUSE) == all_cause, "writing 0 to INT_CAUSE cleared a bit"
    left = all_cause
    for bit in cause_bits:
        await bench.wr32(regs.CSR_INT_CAUSE, bit)
        left &= ~bit
        got = await bench.rd32(regs.CSR_INT_CAUSE)
        assert got == left, f"INT_CAUSE W1C of {bit:#x}: reads {got:#x}, expected {left:#x}"

    # ERR: a bad access sets VALID, a second one OVERFLOW; each clears only with its own bit.
    await bench.raw_write(regs.CSR_SCRATCH, bytes(16))
    await bench.raw_write(regs.CSR_SCRATCH, bytes(16))
    both = regs.CSR_ERR_VALID_MASK | regs.CSR_ERR_OVERFLOW_MASK
    assert await bench.rd32(regs.CSR_ERR) & both == both, "two bad accesses: VALID and OVERFLOW expected"
    await bench.wr32(regs.CSR_ERR, regs.CSR_ERR_OVERFLOW_MASK)
    got = await bench.rd32(regs.CSR_ERR)
    assert got & both == regs.CSR_ERR_VALID_MASK, f"W1C of ERR.OVERFLOW: ERR reads {got:#x}"
    await bench.wr32(regs.CSR_ERR, regs.CSR_ERR_VALID_MASK)
    got = await bench.rd32(regs.CSR_ERR)
    assert got & both == 0, f"W1C of ERR.VALID: ERR reads {got:#x}"
    await bench.wr32(regs.CSR_INT_CAUSE, all_cause)
    assert await bench.rd32(regs.CSR_INT_CAUSE) == 0


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
# expect_err(): ERR.VALID with the code, ERR_ADDR the BAR0 offset, INT_CAUSE.MMIO_ERR set; W1C re-arms.
BAD_INPUTS = (
    BadInput(cls="register", input="Writes of all ones, zeros, 0xA5A55A5A and a random value to every CSR "
                                   "(RO fields, reserved bits, W1C bits at 0)",
             outcome="RW fields take the value; RO fields and reserved bits keep theirs, W1C bits stay 0; "
                     "write-only INT_TEST, MSIX_TRIGGER and CMD read 0",
             test="test_access_types"),
    BadInput(cls="register", input="1-DW write to SCRATCH with First DW BE 0010b (a partial DWORD outside the MSI-X "
                                   "and IMS regions)",
             outcome="only byte 1 changes; no error",
             test="test_scratch_qword_and_ordering"),
    BadInput(cls="register", input="QWORD write at SCRATCH, whose upper DWORD (0x024) is a reserved offset",
             outcome="SCRATCH takes the low DWORD; 0x024 reads 0",
             test="test_scratch_qword_and_ordering"),
    BadInput(cls="register", input="QWORD write to an MSI-X entry's Message Address with one half partial (First "
                                   "or Last DW BE not 1111b: every value), or both",
             outcome="each half is its own DWORD access: a partial one is dropped with MMIO_ERR_PARTIAL at its "
                     "offset (a second one sets OVERFLOW), the full one is written",
             test="test_qword_write_byte_enables_per_dword"),
    BadInput(cls="register", input="Write of 0xDEADBEEF to unmapped BAR0 offsets (CSR page holes, 0x1000, 0x1FFFC, "
                                   "past the PBA, 0x30000, the last DWORD of BAR0; on builds with fewer than 2048 "
                                   "vectors (small, wide) Vector Control past the last MSI-X vector)",
             outcome="each reads 0 afterwards; ERR stays 0 (not an error)",
             test="test_unmapped_offsets_read_zero"),
    BadInput(cls="register", input="MRd of 3 DW (12 B) at SCRATCH",
             outcome="CA; ERR.VALID with CODE MMIO_ERR_RD_TOO_BIG, ERR_ADDR = 0x020, INT_CAUSE.MMIO_ERR set",
             test="test_bad_accesses"),
    BadInput(cls="register", input="QWORD (2-DW) read at DEV_ID + 4, not 8-byte aligned",
             outcome="CA; ERR.VALID with CODE MMIO_ERR_UNALIGNED, ERR_ADDR = 0x004, INT_CAUSE.MMIO_ERR set",
             test="test_bad_accesses"),
    BadInput(cls="register", input="16-byte MWr at SCRATCH",
             outcome="dropped; ERR.VALID with CODE MMIO_ERR_WR_TOO_BIG, ERR_ADDR = 0x020, INT_CAUSE.MMIO_ERR set",
             test="test_bad_accesses"),
    BadInput(cls="register", input="8-byte MWr at SCRATCH + 4, not 8-byte aligned",
             outcome="dropped; ERR.VALID with CODE MMIO_ERR_UNALIGNED, ERR_ADDR = 0x024, INT_CAUSE.MMIO_ERR set",
             test="test_bad_accesses"),
    BadInput(cls="register", input="Poisoned (EP = 1) 4-byte MWr at SCRATCH",
             outcome="dropped (SCRATCH unchanged); ERR.VALID with CODE MMIO_ERR_POISONED, ERR_ADDR = 0x020, "
                     "INT_CAUSE.MMIO_ERR set",
             test="test_bad_accesses"),
    BadInput(cls="register", input="Poisoned 1-DW MWr at SCRATCH with First DW BE 1100b",
             outcome="dropped; ERR.VALID with CODE MMIO_ERR_POISONED, ERR_ADDR = 0x022 (its first enabled byte)",
             test="test_bad_accesses"),
    BadInput(cls="register", input="128-byte MWr at SCRATCH (several beats on every data path width)",
             outcome="dropped whole (SCRATCH unchanged), one ERR record: CODE MMIO_ERR_WR_TOO_BIG, ERR_ADDR = "
                     "0x020, INT_CAUSE.MMIO_ERR set",
             test="test_bad_accesses"),
    BadInput(cls="register", input="Zero-length MWr (1 DW, First DW BE 0000b) at SCRATCH",
             outcome="nothing written (SCRATCH unchanged), ERR.VALID stays 0",
             test="test_bad_accesses"),
    BadInput(cls="register", input="MSIX_TRIGGER written with VECTOR = CAP2.MSIX_VECTORS (no such vector)",
             outcome="ERR.VALID with CODE MMIO_ERR_UNSUPPORTED, ERR_ADDR = MSIX_TRIGGER (0x048), "
                     "INT_CAUSE.MMIO_ERR set",
             test="test_bad_accesses"),
    BadInput(cls="register", input="DMWr (non-posted, as a stray ENQCMD) of 4 B to BAR0 SCRATCH",
             outcome="UR; not performed (SCRATCH unchanged); ERR.VALID with CODE MMIO_ERR_UNSUPPORTED, ERR_ADDR = "
                     "0x020, INT_CAUSE.MMIO_ERR set",
             test="test_bad_accesses"),
    BadInput(cls="register", input="Zero-length MRd (1 DW, First DW BE 0000b) at SCRATCH",
             outcome="SC with Byte Count 1 and one DWORD of zeros: the register is not read",
             test="test_bad_accesses"),
    BadInput(cls="register", input="1-DW MRd of bytes 1..2 (First DW BE 0110b) at SCRATCH",
             outcome="SC, Byte Count 2, Lower Address = address of byte 1 (low 7 bits), the whole DWORD as data "
                     "(bytes 1..2 = SCRATCH's)",
             test="test_bad_accesses"),
    BadInput(cls="register", input="A second bad access (8-byte MWr at SCRATCH + 4) while ERR holds a first one "
                                   "(16-byte MWr)",
             outcome="ERR keeps CODE MMIO_ERR_WR_TOO_BIG and sets OVERFLOW; after W1C of VALID and OVERFLOW the "
                     "next bad access is recorded (MMIO_ERR_UNALIGNED, ERR_ADDR 0x024)",
             test="test_error_overflow"),
    BadInput(cls="register", input="Bad access (16-byte MWr) with INT_ENABLE.MMIO_ERR = 1 and MSI-X vector 0 "
                                   "unmasked",
             outcome="exactly one more vector 0 message; INT_CAUSE reads MMIO_ERR only",
             test="test_cause_raises_vector0"),
    BadInput(cls="register", input="INT_TEST.SW_TEST while INT_ENABLE.SW_TEST = 0; with it enabled, INT_TEST.SW_TEST "
                                   "again while INT_CAUSE.SW_TEST is still set",
             outcome="no vector 0 message for either (INT_CAUSE reads SW_TEST; only the enabled 0 -> 1 edge sent "
                     "one)",
             test="test_cause_raises_vector0"),
    BadInput(cls="register", input="Write of 0, or of 1 to another bit only, to a set W1C bit of INT_CAUSE or ERR",
             outcome="the bit stays set; it clears only when 1 is written to exactly that bit",
             test="test_w1c_fields"),
    BadInput(cls="interrupt", input="Partial-DWORD MWr (First DW BE 0001b) to MSI-X vector 0 Vector Control",
             outcome="dropped (Vector Control still reads 1: masked); ERR.VALID with CODE MMIO_ERR_PARTIAL, "
                     "ERR_ADDR = the Vector Control offset, INT_CAUSE.MMIO_ERR set",
             test="test_bad_accesses"),
    BadInput(cls="interrupt", input="Partial-DWORD MWr (First DW BE 0100b) to MSI-X vector 0 Vector Control",
             outcome="dropped (still masked); ERR.VALID with CODE MMIO_ERR_PARTIAL, ERR_ADDR = the Vector Control "
                     "offset + 2 (its first enabled byte)",
             test="test_bad_accesses"),
    BadInput(cls="interrupt", input="MWr of 0xFFFFFFFF to the MSI-X PBA",
             outcome="dropped; ERR.VALID with CODE MMIO_ERR_RO_WRITE, ERR_ADDR = PBA base (0x28000), "
                     "INT_CAUSE.MMIO_ERR set",
             test="test_bad_accesses"),
)
