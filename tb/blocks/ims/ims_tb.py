"""Block-level bench of imsdev_ims: one clocked coroutine drives every port and checks every output
against the reference model (ims_model.py).

Each cycle, right after the rising edge, the loop drives the MMIO request, the interrupt request stream
(with seeded random idle cycles between requests), the message-output ready (seeded random
backpressure) and `blocked`; in the ReadOnly phase it samples the handshakes that complete at the next
edge and applies them to the model in that order (the block processes events in acceptance order):
- interrupt request accepted -> model.fire() at the start of the next cycle, after `blocked` for that
  cycle is applied (the block decides a request one cycle after accepting it, with that cycle's
  `blocked`); expected messages and errors are queued;
- MMIO request accepted -> model.write() / model.read();
- MMIO response -> read data must equal the model's value at acceptance;
- message taken -> must be an expected (address, data) pair and one that some entry held while unmasked;
- error pulse -> must be the next expected error, field by field.
`blocked` is applied to the model in the cycle it is driven. An unmasking CTRL write is modelled at its
acceptance although the block's replay CHECK decides 3 cycles later, so tests keep `blocked` steady
around unmasks (a reported difference there would be a bench timing artefact, not a lost interrupt).
Problems are collected in `failures` and raised by `check()` / `quiesce()`, so a test never hangs on a
lost message: quiesce() times out with the list of what is still outstanding.
"""
from __future__ import annotations

import os
import random
import zlib
from collections import Counter, deque
from dataclasses import dataclass, field

import cocotb
from cocotb.triggers import ClockCycles, Event, ReadOnly, RisingEdge

from tb.clock import start_clock

from .ims_model import CTRL_RW, Err, ImsModel, ims_off


@dataclass
class MmioOp:
    off: int
    write: bool
    wdata: int = 0
    be: int = 0xF
    check: bool = True
    expect: int | None = None
    rdata: int | None = None
    accept_cycle: int | None = None
    rsp_cycle: int | None = None
    done: Event = field(default_factory=Event)


class ImsTb:
    def __init__(self, dut, name: str, irq_idle: float = 0.3, backpressure: float = 0.3):
        self.dut = dut
        self.log = dut._log
        self.num_wq = int(os.environ.get("IMS_NUM_WQ", "8"))
        self.ims_per_wq = int(os.environ.get("IMS_PER_WQ", "256"))
        self.fifo_depth = int(os.environ.get("IMS_FIFO_DEPTH", "4"))
        self.entries = self.num_wq * self.ims_per_wq
        self.seed = (cocotb.RANDOM_SEED ^ zlib.crc32(name.encode())) & 0x7FFF_FFFF
        self.log.info("%s: NUM_WQ=%d IMS_PER_WQ=%d, test seed %d (COCOTB_RANDOM_SEED=%d)",
                      name, self.num_wq, self.ims_per_wq, self.seed, cocotb.RANDOM_SEED)
        self.rng = random.Random(self.seed)
        self.model = ImsModel(self.num_wq, self.ims_per_wq)
        self.irq_idle = irq_idle
        self.backpressure = backpressure

        self.irq_q: deque = deque()
        self.irq_cur = None
        self.mmio_q: deque = deque()
        self.mmio_cur: MmioOp | None = None
        self.mmio_wait_rsp = False
        self.blocked_next: bool | None = None
        self.fire_next = None                   # request accepted, applied to the model next cycle
        self.rst_cycles = 4                     # power-on reset; tests start with wait_init()
        self.in_reset = True

        self.expected: Counter = Counter()      # (addr, data) -> messages still due
        self.exp_errs: deque = deque()
        self.failures: list[str] = []
        self.cycle = 0
        self.irq_accepts: list[int] = []        # cycle of every accepted request
        self.msg_log: list[tuple[int, tuple[int, int]]] = []   # (cycle, (addr, data)) of every message
        self.err_log: list[tuple[int, Err]] = []
        self.init_cycles = 0                    # cycles init_busy was high after the last reset
        self.init_done_cycle = -1
        self.msg_valid_seen = False
        self._fresh = 0
        self.trace = os.environ.get("IMS_TRACE", "0") not in ("", "0")

        dut.rst.value = 1
        dut.blocked.value = 0
        dut.req_valid.value = 0
        dut.req_write.value = 0
        dut.req_off.value = 0
        dut.req_wdata.value = 0
        dut.req_be.value = 0
        dut.irq_valid.value = 0
        dut.irq_wq.value = 0
        dut.irq_index.value = 0
        dut.irq_pasid.value = 0
        dut.msg_ready.value = 1
        start_clock(dut.clk, 10)
        self._task = cocotb.start_soon(self._loop())

    # ------------------------------------------------------------------ the clocked loop
    def fail(self, msg: str) -> None:
        text = f"cycle {self.cycle}: {msg}"
        if len(self.failures) < 50:
            self.log.error(text)
        self.failures.append(text)

    async def _loop(self) -> None:
        d = self.dut
        clk = d.clk
        rng = self.rng
        irq_valid_drv = 0
        req_valid_drv = 0
        msg_ready_drv = 1
        while True:
            await RisingEdge(clk)
            self.cycle += 1
            # ---------------- drive
            if self.rst_cycles:
                if not self.in_reset:
                    self._lose_everything()
                d.rst.value = 1
                self.rst_cycles -= 1
                self.in_reset = True
                self.init_cycles = 0
                self.init_done_cycle = -1
            elif self.in_reset:
                d.rst.value = 0
                self.in_reset = False
            if self.blocked_next is not None:
                d.blocked.value = int(self.blocked_next)
                for pair in self.model.set_blocked(self.blocked_next):
                    self.expected[pair] += 1
                if self.trace:
                    self.log.info("c%d blocked=%d", self.cycle, self.blocked_next)
                self.blocked_next = None
            if self.fire_next is not None:
                # A request accepted last cycle is decided now, with this cycle's `blocked`.
                wq, index, pasid = self.fire_next
                self.fire_next = None
                msgs, errs = self.model.fire(wq, index, pasid)
                self._expect(msgs, errs)
                if self.trace:
                    self.log.info("c%d irq (%d,%d,%#x) -> %s %s", self.cycle - 1, wq, index, pasid, msgs, errs)
            if self.irq_cur is None and self.irq_q and not (self.irq_idle and rng.random() < self.irq_idle):
                self.irq_cur = self.irq_q.popleft()
                wq, index, pasid = self.irq_cur
                d.irq_wq.value = wq
                d.irq_index.value = index
                d.irq_pasid.value = pasid
            v = int(self.irq_cur is not None)
            if v != irq_valid_drv:
                d.irq_valid.value = v
                irq_valid_drv = v
            if self.mmio_cur is None and self.mmio_q:
                op = self.mmio_cur = self.mmio_q.popleft()
                d.req_write.value = int(op.write)
                d.req_off.value = op.off
                d.req_wdata.value = op.wdata
                d.req_be.value = op.be
            v = int(self.mmio_cur is not None and not self.mmio_wait_rsp)
            if v != req_valid_drv:
                d.req_valid.value = v
                req_valid_drv = v
            v = int(not (self.backpressure and rng.random() < self.backpressure))
            if v != msg_ready_drv:
                d.msg_ready.value = v
                msg_ready_drv = v

            # ---------------- sample (these handshakes complete at the next edge)
            await ReadOnly()
            if self.in_reset:
                continue
            if int(d.init_busy.value):
                self.init_cycles += 1
                if (irq_valid_drv and int(d.irq_ready.value)) or (req_valid_drv and int(d.req_ready.value)):
                    self.fail("request accepted while init_busy")
                continue
            if self.init_done_cycle < 0:
                self.init_done_cycle = self.cycle
            irq_hs = irq_valid_drv and int(d.irq_ready.value)
            req_hs = req_valid_drv and int(d.req_ready.value)
            if irq_hs and req_hs:
                self.fail("interrupt request and MMIO request accepted in the same cycle")
            if req_hs:
                op = self.mmio_cur
                op.accept_cycle = self.cycle
                if op.write:
                    msgs, errs = self.model.write(op.off, op.wdata, op.be)
                    self._expect(msgs, errs)
                    if self.trace:
                        self.log.info("c%d mmio wr off=%#x data=%#x be=%#x -> %s %s", self.cycle, op.off, op.wdata, op.be, msgs, errs)
                else:
                    op.expect = self.model.read(op.off)
                self.mmio_wait_rsp = True
            if irq_hs:
                self.irq_accepts.append(self.cycle)
                self.fire_next = self.irq_cur
                self.irq_cur = None
            if int(d.rsp_valid.value):
                op = self.mmio_cur
                if op is None or not self.mmio_wait_rsp or op.accept_cycle == self.cycle:
                    self.fail("MMIO response without an outstanding request")
                else:
                    op.rsp_cycle = self.cycle
                    if not op.write:
                        op.rdata = int(d.rsp_rdata.value)
                        if op.check and op.rdata != op.expect:
                            self.fail(f"MMIO read off={op.off:#x}: got {op.rdata:#010x}, model {op.expect:#010x}")
                    self.mmio_cur = None
                    self.mmio_wait_rsp = False
                    op.done.set()
            mv = int(d.msg_valid.value)
            self.msg_valid_seen = bool(mv)
            if mv and msg_ready_drv:
                pair = (int(d.msg_addr.value), int(d.msg_data.value))
                self.msg_log.append((self.cycle, pair))
                if self.trace:
                    self.log.info("c%d msg %#x %#x", self.cycle, *pair)
                if self.expected[pair] > 0:
                    self.expected[pair] -= 1
                    if not self.expected[pair]:
                        del self.expected[pair]
                else:
                    self.expected.pop(pair, None)
                    self.fail(f"unexpected message addr={pair[0]:#x} data={pair[1]:#x}")
                if pair not in self.model.held_unmasked:
                    self.fail(f"torn message addr={pair[0]:#x} data={pair[1]:#x}: no entry ever held this "
                              "(address, data) pair while unmasked")
            if int(d.err_valid.value):
                err = Err(int(d.err_code.value), int(d.err_wq.value), int(d.err_index.value), int(d.err_pasid.value))
                self.err_log.append((self.cycle, err))
                if not self.exp_errs:
                    self.fail(f"unexpected error {err}")
                else:
                    exp = self.exp_errs.popleft()
                    if exp != err:
                        self.fail(f"error {err}, expected {exp}")

    def _expect(self, msgs, errs) -> None:
        for pair in msgs:
            self.expected[pair] += 1
        self.exp_errs.extend(errs)

    # ------------------------------------------------------------------ control
    async def reset(self, cycles: int = 4, wait_init: bool = True) -> None:
        """Assert rst (power-on or FLR) from the next cycle: everything in flight is lost and the model
        restarts (done by the loop when it asserts rst, so this cycle's handshakes still count)."""
        self.rst_cycles = cycles
        await ClockCycles(self.dut.clk, cycles + 2)
        if wait_init:
            await self.wait_init()

    def _lose_everything(self) -> None:
        self.irq_q.clear()
        self.irq_cur = None
        self.fire_next = None
        self.mmio_q.clear()
        if self.mmio_cur is not None:
            self.mmio_cur.done.set()
        self.mmio_cur = None
        self.mmio_wait_rsp = False
        self.expected.clear()
        self.exp_errs.clear()
        blocked = self.model.blocked
        self.model.reset()
        self.model.blocked = blocked
        self.msg_valid_seen = False

    async def wait_init(self) -> None:
        for _ in range(self.entries + 100):
            await RisingEdge(self.dut.clk)
            if self.init_done_cycle >= 0:
                return
        raise AssertionError("init_busy did not fall")

    def set_blocked(self, blocked: bool) -> None:
        self.blocked_next = blocked

    def irq(self, wq: int, index: int, pasid: int = 0) -> None:
        self.irq_q.append((wq, index, pasid))

    def check(self) -> None:
        if self.failures:
            raise AssertionError(f"{len(self.failures)} failure(s), first: {self.failures[0]}")

    def busy(self) -> bool:
        return bool(self.irq_q or self.irq_cur is not None or self.fire_next is not None or self.mmio_q or self.mmio_cur is not None
                    or self.expected or self.exp_errs or self.msg_valid_seen)

    async def quiesce(self, settle: int = 8, timeout: int = 20000) -> None:
        """Wait until every request is taken, every expected message/error has arrived and the outputs
        stayed idle for `settle` cycles (so a late extra message is caught); fail on timeout."""
        quiet = 0
        for _ in range(timeout):
            await RisingEdge(self.dut.clk)
            quiet = 0 if self.busy() else quiet + 1
            if quiet >= settle:
                self.check()
                return
        self.check()
        missing = ", ".join(f"(addr={a:#x}, data={d:#x})x{n}" for (a, d), n in list(self.expected.items())[:8])
        errs = ", ".join(str(e) for e in list(self.exp_errs)[:8])
        raise AssertionError(f"quiesce timed out after {timeout} cycles: {len(self.irq_q)} requests queued, "
                             f"messages still due: [{missing}], errors still due: [{errs}]")

    # ------------------------------------------------------------------ MMIO
    async def mmio(self, op: MmioOp) -> MmioOp:
        self.mmio_q.append(op)
        await op.done.wait()
        return op

    async def write(self, wq: int, index: int, dw: int, wdata: int, be: int = 0xF) -> None:
        await self.mmio(MmioOp(ims_off(wq, index, dw), True, wdata & 0xFFFF_FFFF, be))

    async def read(self, wq: int, index: int, dw: int, check: bool = True) -> int:
        op = await self.mmio(MmioOp(ims_off(wq, index, dw), False, check=check))
        return op.rdata

    async def read_off(self, off: int) -> int:
        return (await self.mmio(MmioOp(off, False))).rdata

    async def write_off(self, off: int, wdata: int, be: int = 0xF) -> None:
        await self.mmio(MmioOp(off, True, wdata, be))

    # ------------------------------------------------------------------ driver-style helpers
    def fresh_pair(self) -> tuple[int, int]:
        """A message (address, data) no entry has used before: ADDR_LO and DATA are unique."""
        self._fresh += 1
        n = self._fresh
        hi = 0 if self.rng.random() < 0.5 else self.rng.getrandbits(32)
        lo = 0xFEE0_0000 ^ (n << 2) ^ (self.rng.getrandbits(6) << 26)
        return (hi << 32) | (lo & 0xFFFF_FFFC), (0x5A00_0000 ^ n ^ (self.rng.getrandbits(7) << 24)) & 0xFFFF_FFFF

    @staticmethod
    def ctrl(mask: int, pasid_en: int = 0, pasid: int = 0) -> int:
        return (mask | (pasid_en << 3) | (pasid << 12)) & CTRL_RW

    async def program(self, wq: int, index: int, pair: tuple[int, int] | None = None, pasid_en: int = 0,
                      pasid: int = 0, unmask: bool = True, gap: int = 0) -> tuple[int, int]:
        """Linux's order for a device-memory IMS entry: mask, ADDR_LO, ADDR_HI, DATA, flush read, CTRL."""
        if pair is None:
            pair = self.fresh_pair()
        addr, data = pair
        await self.write(wq, index, 3, self.ctrl(1, pasid_en, pasid))
        for dw, v in ((0, addr & 0xFFFF_FFFF), (1, addr >> 32), (2, data)):
            if gap:
                await ClockCycles(self.dut.clk, self.rng.randrange(gap + 1))
            await self.write(wq, index, dw, v)
        await self.read(wq, index, 2)
        if unmask:
            await self.write(wq, index, 3, self.ctrl(0, pasid_en, pasid))
        return pair

    async def mask(self, wq: int, index: int, masked: bool) -> None:
        e = self.model.entry(wq, index)
        await self.write(wq, index, 3, self.ctrl(int(masked), e.pasid_en, e.pasid))

    async def pending(self, wq: int, index: int) -> int:
        return (await self.read(wq, index, 3) >> 1) & 1
