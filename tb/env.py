"""The device bench: clock and reset, a root complex with the device behind the link shim, and the
helpers every test uses (MMIO, raw TLPs for bad-input tests, config space, FLR, MSI-X, interrupt log).

`await Bench.start(dut, pauses=...)` returns a bench with the device enumerated, memory space and bus
mastering enabled, and interrupt-message windows claimed by `bench.msgs`. `pauses` crosses the test with
idle cycles on the host->device streams ("idle"), backpressure on the device->host streams
("backpressure"), both, or neither; the pause pattern comes from the test's seed.
"""
from __future__ import annotations

import atexit
import gc
import os
import random

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, Timer
from cocotb.utils import get_sim_steps, get_sim_time
from cocotbext.pcie.core.caps import PciCapId
from cocotbext.pcie.core.tlp import Tlp, TlpType

from imsdev import regs
from tb import coverage, speedprobe
from tb.clock import start_clock
from tb.triggers import FirstOf
from tb.msglog import MessageLog
from tb.params import DeviceParams
from tb.pcie.root_complex import HostRootComplex
from tb.pcie.shim import LinkShim
from tb.pcie.stream import random_pauses
from tb.platform_bench import attach_platform

CLOCK_NS = 4                      # 250 MHz
VENDOR_ID = 0x1234                # a test vendor ID (no real product uses it for this device)
DEVICE_ID = 0x1D5A
PAUSE_MODES = ("none", "idle", "backpressure", "both")
PAUSE_PROBABILITY = 0.3
PCI_EXP_DEVCTL = 0x08
PCI_EXP_DEVCTL_BCR_FLR = 0x8000
PCI_MSIX_FLAGS = 0x02
PCI_MSIX_FLAGS_ENABLE = 0x8000
PCI_MSIX_FLAGS_MASKALL = 0x4000
# Bench.settle(): the quiet window and the most it waits. The longest gap measured between a TLP the device
# sends by itself and the link event before it, with nothing owed across the link, was 21 cycles (make sim,
# small and default, 2026-12-07), apart from one descriptor held 3,861 cycles behind the interrupt-handle
# table's reset sweep on default, which dev_idle covers (the descriptor is counted in its WQ); 64 is three
# times the 21. The fixed 400-cycle settle before returned in the middle of that wait. The longest sweep is
# max's 2,048 + 16 x 256 = 6,144 cycles; past SETTLE_MAX_CYCLES settle() gives up (a test holding a stream or
# withholding an answer) and the caller's checks judge what is there.
SETTLE_QUIET_CYCLES = 64
SETTLE_MAX_CYCLES = 16_384
# Cycles from a sideband change (cfg_*) to dev_idle showing its effect: the sideband's register, the
# interrupt engine's registered state, dev_idle's own register, and one of margin (tests of dev_idle).
DEV_IDLE_LAG_CYCLES = 5


_GC_TUNED = []


def _tune_gc() -> None:
    """Once per simulator process, before the first test's bench: what exists now (modules, the test
    database, the Verilated model's handles) stays for the whole run, so the cyclic collector no longer scans
    it (gc.freeze), and young collections run every 200,000 allocations instead of 700 (a TLP allocates a few
    hundred objects, nearly all freed by reference counting, so a collection finds little whenever it runs;
    at 20,000 they were still 2% of an MSI-X module's samples in py-spy, none at 200,000; peak memory of the
    run unchanged at 80 MB, GNU time). Measured by tb/speedprobe.py's gc_cpu_s."""
    if not _GC_TUNED:
        _GC_TUNED.append(True)
        gc.freeze()
        gc.set_threshold(200_000, 20, 20)
        # At exit, Python's finalization collects every generation, tracing all that the tests left alive:
        # about 0.5 s of CPU per simulator launch (a tenth of a test module's run, py-spy). Frozen first, the
        # objects are not traced; the process ends right after, so nothing is left uncollected that matters.
        atexit.register(gc.freeze)


class Bench:
    def __init__(self, dut, pauses: str, ats: bool = False):
        _tune_gc()
        if pauses not in PAUSE_MODES:
            raise ValueError(f"pauses must be one of {PAUSE_MODES}")
        self.dut = dut
        self.log = dut._log
        self.params = DeviceParams.from_env()
        self._period_steps = get_sim_steps(CLOCK_NS, "ns")
        if self._period_steps % 2:
            raise ValueError(f"CLOCK_NS = {CLOCK_NS} is an odd number of simulator steps: no mid-cycle for cycles()")
        self._edge_step0 = None
        self.seed = cocotb.RANDOM_SEED
        self.rng = random.Random(self.seed)
        self.pauses = pauses
        coverage.start(self)          # before the link shim, which reports config changes from its start
        self.rc = HostRootComplex()
        self.shim = LinkShim(dut, dut.clk, vendor_id=VENDOR_ID, device_id=DEVICE_ID, num_wqs=self.params.num_wq,
                             msix_table_size=self.params.msix_vectors,
                             msix_table_offset=regs.MSIX_TABLE_BASE, msix_pba_offset=regs.MSIX_PBA_BASE, ats=ats)
        self.shim.connect(self.rc)
        self.msgs = MessageLog()
        for window in self.msgs.windows:
            self.rc.add_write_interceptor(self._claim_message, window)
        self.platform = None          # set in start() when IMSDEV_PLATFORM names one
        self.dev = None
        self.bar0 = None
        self.bar0_addr = 0
        self.msix = MsixTable(self)
        self._dev_idle = dut.dev_idle._handle.get_signal_val_binstr
        self._idle_rise, self._idle_fall = RisingEdge(dut.dev_idle), FallingEdge(dut.dev_idle)
        self.shim.tx_req.start_observers.append(self._check_dev_idle)

    def _check_dev_idle(self):
        """A request the device starts by itself comes from work in progress the cycle before, so dev_idle is
        low in the cycle it first shows on tx_req (rtl/top/imsdev_top.sv): settle() may trust it."""
        if self._dev_idle() == "1":
            raise AssertionError(f"dev_idle high at {get_sim_time('ns'):.1f} ns, the cycle a request first showed "
                                 f"on tx_req: it claimed nothing was in progress")

    def _claim_message(self, addr, data, requester_id, tlp):
        return self.msgs.on_write(addr, data, requester_id, tlp.get_header_size_dw(), tlp)

    @classmethod
    async def start(cls, dut, pauses: str = "none", platform_options: dict | None = None,
                    ats: bool = False) -> "Bench":
        """`platform_options` go to the platform model IMSDEV_PLATFORM names (tb/platform_bench.attach_platform),
        e.g. a GIC ITS with fewer DeviceID bits."""
        self = cls(dut, pauses, ats=ats)
        self.log.info("bench: config %s, seed %d, pauses %s", self.params.name, self.seed, pauses)
        # Reset is applied before the first clock edge: registers power up random (+verilator+rand+reset+2), and
        # a block out of reset at that edge could act on, or assert about, its random state.
        dut.rst.value = 1
        dut.clk.value = 0
        await Timer(CLOCK_NS, "ns")
        start_clock(dut.clk, CLOCK_NS)
        await ClockCycles(dut.clk, 10)
        self._edge_step0 = get_sim_time("step")      # a rising edge: the clock's phase, for cycles()
        self.reset_released_ns = get_sim_time("ns")
        dut.rst.value = 0
        await ClockCycles(dut.clk, 2)
        if os.environ.get("IMSDEV_PLATFORM"):
            self.platform = attach_platform(self, os.environ["IMSDEV_PLATFORM"], **(platform_options or {}))
        await self.rc.enumerate()
        self.dev = self.rc.find_device(self.shim.pcie_id)
        if self.platform is not None:
            self.platform.device_enumerated(self.requester_id)
        await self.dev.enable_device()
        await self.dev.set_master()
        self.bar0 = self.dev.bar_window[0]
        self.bar0_addr = self.dev.bar_addr[0]
        self.apply_pauses(pauses)
        speedprobe.note_bench(self)
        return self

    def apply_pauses(self, pauses: str):
        streams = self.shim.streams
        for name in ("rx_req", "rx_cpl"):
            streams[name].set_pause_generator(
                random_pauses(self.rng, PAUSE_PROBABILITY) if pauses in ("idle", "both") else None)
        for name in ("tx_cpl", "tx_req"):
            streams[name].set_pause_generator(
                random_pauses(self.rng, PAUSE_PROBABILITY) if pauses in ("backpressure", "both") else None)

    @property
    def requester_id(self) -> int:
        return self.shim.requester_id

    async def cycles(self, n: int):
        """Wait for n rising edges of the clock, like ClockCycles. Called at a rising edge (the usual case: the
        caller was woken by one), the first n - 1 edges are skipped with one Timer to the middle of the cycle
        before the n-th, then the n-th edge is awaited itself: two wake-ups instead of n, same edge. Called
        between edges, the next edge is awaited first (it is the first of the n), then the same."""
        if n > 3 and not self._at_rising_edge():
            await RisingEdge(self.dut.clk)      # off an edge (after a Timer, a ReadOnly, a thread's return)
            n -= 1
        if n > 2 and self._at_rising_edge():
            await Timer(n * self._period_steps - self._period_steps // 2, "step")
            await RisingEdge(self.dut.clk)
        else:
            await ClockCycles(self.dut.clk, n)

    def _at_rising_edge(self) -> bool:
        """Now is a rising edge's time step, after the edge (clk already 1)."""
        return (self._edge_step0 is not None
                and (get_sim_time("step") - self._edge_step0) % self._period_steps == 0
                and self.dut.clk.value == 1)

    async def settle(self, n: int | None = None):
        """Before asserting that nothing (more) arrived: wait until nothing can still come out.

        With `n`, exactly n cycles (the tests that wait out a device timer, e.g. a completion timeout, say how
        long). Without, until the device is quiescent: SETTLE_QUIET_CYCLES in a row with the RTL's dev_idle
        high (nothing in progress inside) and nothing crossing the link, after which nothing is owed or moving
        across it (LinkShim.owed); at most SETTLE_MAX_CYCLES (a test that holds a stream or withholds an
        answer ends there). Waits on dev_idle's edges and one timer per window, not cycle by cycle (FirstOf:
        cocotb's First without its two tasks per wait)."""
        if n is not None:
            await self.cycles(n)
            return
        idle, period = self._dev_idle, self._period_steps
        start = get_sim_time("step")
        end = start + SETTLE_MAX_CYCLES * period
        why = None
        while True:
            now = get_sim_time("step")
            if now >= end:
                break
            if idle() != "1":
                why = "dev_idle low"
                await FirstOf(self._idle_rise, Timer(end - now, "step"))
                continue
            mark = self.shim.activity()
            window = min(SETTLE_QUIET_CYCLES * period, end - now)
            first = FirstOf(self._idle_fall, Timer(window, "step"))
            await first
            if first.fired is self._idle_fall:
                why = "dev_idle low"
                continue
            if window < SETTLE_QUIET_CYCLES * period:
                why = why or "the last window was short"
                break
            if self.shim.activity() != mark:
                why = "TLPs still crossing"
                continue
            why = self.shim.owed()
            if why is None:
                break
        if not self._at_rising_edge():
            await RisingEdge(self.dut.clk)        # callers continue at a clock edge, as after cycles()
        if why is not None and get_sim_time("step") >= end:
            self.log.debug("settle: not quiescent after %d cycles (%s)", SETTLE_MAX_CYCLES, why)

    # ---- MMIO ----------------------------------------------------------------------------------
    # rd32 / rd64 / wr32 are cocotbext-axi's Window.read_dword / read_qword / write_dword (what they did until
    # 2026-12-08) without their four wrapper coroutines: the window's range check, the parent address space's
    # read or write at the window's offset, the same bytes little-endian.
    async def _bar0_read(self, off: int, length: int) -> int:
        bar0 = self.bar0
        bar0.check_range(off, length)
        data = bytes(await bar0.parent.read(bar0.get_parent_address(off), length))
        return int.from_bytes(data[0:length], "little")

    async def rd32(self, off: int) -> int:
        return await self._bar0_read(off, 4)

    async def rd64(self, off: int) -> int:
        return await self._bar0_read(off, 8)

    async def wr32(self, off: int, value: int, byte_enables: int = 0xF):
        if byte_enables == 0xF:
            data = bytearray(value.to_bytes(4, "little"))
            bar0 = self.bar0
            bar0.check_range(off, 4)
            await bar0.parent.write(bar0.get_parent_address(off), data)
        else:
            tlp = self._mem_tlp(off, write=True)
            tlp.set_addr_be_data(self.bar0_addr + off, (value & 0xFFFF_FFFF).to_bytes(4, "little"))
            tlp.first_be = byte_enables
            await self.rc.perform_posted_operation(tlp)

    def wr32_nowait(self, off: int, value: int):
        cocotb.start_soon(self.bar0.write_dword(off, value))

    async def wr64(self, off: int, value: int):
        await self.bar0.write_qword(off, value)

    def _mem_tlp(self, off: int, write: bool) -> Tlp:
        addr = self.bar0_addr + off
        tlp = Tlp()
        if write:
            tlp.fmt_type = TlpType.MEM_WRITE_64 if addr > 0xFFFF_FFFF else TlpType.MEM_WRITE
        else:
            tlp.fmt_type = TlpType.MEM_READ_64 if addr > 0xFFFF_FFFF else TlpType.MEM_READ
        tlp.requester_id = self.rc.pcie_id if hasattr(self.rc, "pcie_id") else tlp.requester_id
        return tlp

    async def raw_read(self, off: int, length_dw: int, first_be: int = 0xF, last_be: int | None = None):
        """One MRd of exactly `length_dw` DWORDs; returns its completion (any status)."""
        tlp = self._mem_tlp(off, write=False)
        tlp.set_addr_be(self.bar0_addr + off, length_dw * 4)
        tlp.first_be = first_be
        if length_dw > 1:
            tlp.last_be = 0xF if last_be is None else last_be
        return await self.rc.send_nonposted(tlp)

    async def raw_write(self, off: int, data: bytes, poisoned: bool = False, first_be: int | None = None,
                        last_be: int | None = None):
        """One MWr carrying `data` (any size) to BAR0, optionally poisoned or with other First / Last DW BE (First
        DW BE 0 with one DW: a zero-length write); posted, so this returns once it is sent."""
        tlp = self._mem_tlp(off, write=True)
        tlp.set_addr_be_data(self.bar0_addr + off, data)
        tlp.ep = poisoned
        if first_be is not None:
            tlp.first_be = first_be
        if last_be is not None:
            tlp.last_be = last_be
        await self.rc.perform_posted_operation(tlp)

    # ---- configuration space -------------------------------------------------------------------
    async def find_cap(self, cap_id: int) -> int:
        """Walk the capability list from 0x34 the way a driver does; 0 if absent."""
        ptr = await self.dev.config_read_byte(0x34) & 0xFC
        seen = 0
        while ptr and seen < 48:
            hdr = await self.dev.config_read_word(ptr)
            if hdr & 0xFF == cap_id:
                return ptr
            ptr = (hdr >> 8) & 0xFC
            seen += 1
        return 0

    async def find_ext_cap(self, cap_id: int) -> int:
        """Walk the extended capability list from 0x100; 0 if absent."""
        ptr = 0x100
        seen = 0
        while ptr and seen < 480:
            hdr = await self.dev.config_read_dword(ptr)
            if hdr == 0 or hdr == 0xFFFF_FFFF:
                return 0
            if hdr & 0xFFFF == cap_id:
                return ptr
            ptr = (hdr >> 20) & 0xFFC
            seen += 1
        return 0

    async def msix_control(self) -> tuple[bool, bool]:
        """(Enable, Function Mask) from the MSI-X capability's Message Control."""
        cap = await self.find_cap(PciCapId.MSIX)
        ctl = await self.dev.config_read_word(cap + PCI_MSIX_FLAGS)
        return bool(ctl & PCI_MSIX_FLAGS_ENABLE), bool(ctl & PCI_MSIX_FLAGS_MASKALL)

    async def msix_enable(self, enable: bool = True, fn_mask: bool = False):
        cap = await self.find_cap(PciCapId.MSIX)
        ctl = await self.dev.config_read_word(cap + PCI_MSIX_FLAGS)
        ctl &= ~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)
        ctl |= (PCI_MSIX_FLAGS_ENABLE if enable else 0) | (PCI_MSIX_FLAGS_MASKALL if fn_mask else 0)
        await self.dev.config_write_word(cap + PCI_MSIX_FLAGS, ctl)

    async def function_level_reset(self):
        """FLR the way Linux's pcie_flr does it: save config, Initiate FLR, wait, restore BARs and Command."""
        saved = [await self.dev.config_read_dword(off) for off in range(0x04, 0x28, 4)]
        exp = await self.find_cap(PciCapId.EXP)
        devctl = await self.dev.config_read_word(exp + PCI_EXP_DEVCTL)
        await self.dev.config_write_word(exp + PCI_EXP_DEVCTL, devctl | PCI_EXP_DEVCTL_BCR_FLR)
        await Timer(2, "us")          # stands for the 100 ms the spec gives the function
        for i, off in enumerate(range(0x10, 0x28, 4)):
            await self.dev.config_write_dword(off, saved[(off - 0x04) // 4])
        await self.dev.config_write_dword(0x04, saved[0] & 0xFFFF)

    async def wait_msix_ready(self):
        """The MSI-X table initialises itself after reset (one entry per cycle); MMIO waits for it anyway."""
        await self.rd32(regs.MSIX_TABLE_BASE + regs.MSIX_TABLE_VECTOR_CTRL)


class DevIdleTrace:
    """dev_idle sampled at every rising edge, from `start` (a trigger awaited first, e.g. a sideband pin's
    edge) until stop(): for tests of the status itself (settle() waits on its edges instead)."""

    def __init__(self, bench: Bench, start=None):
        self.samples: list[tuple[float, str]] = []          # (ns, "0" / "1")
        self._task = cocotb.start_soon(self._run(bench, start))

    async def _run(self, bench: Bench, start):
        if start is not None:
            await start
        read = bench._dev_idle
        edge = RisingEdge(bench.dut.clk)
        while True:
            await edge
            self.samples.append((get_sim_time("ns"), read()))

    def stop(self) -> None:
        self._task.cancel()

    @property
    def first_ns(self) -> float:
        assert self.samples, "dev_idle trace: nothing sampled (its start never came)"
        return self.samples[0][0]

    def high_between(self, t0: float, t1: float) -> list[float]:
        """Times in [t0, t1] at which dev_idle was not 0."""
        return [t for t, v in self.samples if t0 <= t <= t1 and v != "0"]


class MsixTable:
    """Direct access to the MSI-X table and PBA through BAR0 (what a driver's MSI-X code touches)."""

    def __init__(self, bench: Bench):
        self.b = bench

    @staticmethod
    def entry(v: int) -> int:
        return regs.MSIX_TABLE_BASE + v * regs.MSIX_TABLE_STRIDE

    async def program(self, v: int, addr: int, data: int, masked: bool):
        """Mask, write address and data, then set the requested mask state (Linux's order)."""
        e = self.entry(v)
        await self.b.wr32(e + regs.MSIX_TABLE_VECTOR_CTRL, 1)
        await self.b.wr32(e + regs.MSIX_TABLE_ADDR_LO, addr & 0xFFFF_FFFF)
        await self.b.wr32(e + regs.MSIX_TABLE_ADDR_HI, addr >> 32)
        await self.b.wr32(e + regs.MSIX_TABLE_DATA, data)
        if not masked:
            await self.b.wr32(e + regs.MSIX_TABLE_VECTOR_CTRL, 0)

    async def mask(self, v: int):
        await self.b.wr32(self.entry(v) + regs.MSIX_TABLE_VECTOR_CTRL, 1)
        await self.b.rd32(self.entry(v) + regs.MSIX_TABLE_VECTOR_CTRL)     # flush, as pci_msix_mask does

    async def unmask(self, v: int):
        await self.b.wr32(self.entry(v) + regs.MSIX_TABLE_VECTOR_CTRL, 0)

    async def read_entry(self, v: int) -> tuple[int, int, int, int]:
        e = self.entry(v)
        return tuple([await self.b.rd32(e + off) for off in (0, 4, 8, 12)])

    async def pending(self, v: int) -> bool:
        word = await self.b.rd64(regs.MSIX_PBA_BASE + (v // 64) * regs.MSIX_PBA_STRIDE)
        return bool((word >> (v % 64)) & 1)

    async def trigger(self, v: int):
        await self.b.wr32(regs.CSR_MSIX_TRIGGER, v)

    async def check_reset_state(self, every_vector: bool = True):
        """Mask=1, address/data 0 for every vector (QWORD reads), and an all-zero PBA."""
        n = self.b.params.msix_vectors
        vecs = range(n) if every_vector else sorted({0, 1, 31, 32, 63, 64, 100, n - 1} & set(range(n)))
        for v in vecs:
            e = self.entry(v)
            lo = await self.b.rd64(e)
            hi = await self.b.rd64(e + 8)
            assert lo == 0 and hi == 1 << 32, f"vector {v} after reset: addr {lo:#x}, data/ctrl {hi:#x}"
        for w in range(-(-n // 64)):
            word = await self.b.rd64(regs.MSIX_PBA_BASE + w * regs.MSIX_PBA_STRIDE)
            assert word == 0, f"PBA word {w} after reset: {word:#x}"
