"""Block-level bench of imsdev_msg_tx, the device's message writer: every message taken on msg_* must leave on
tx_* once, in order, as the TLP it stands for, at one message per cycle when nothing stalls.

Expected TLPs come from the bench's TLP codec (tb/pcie/tlp.py), not from the RTL's encoder: an interrupt
message (addr, data) is a one-DW memory write, 3DW below 4 GiB and 4DW above (PCIe §6.1.4: Message Upper
Address 0 means a 32-bit write), Requester ID = cfg_bdf, tag 0, First DW BE 1111b, no PASID prefix, the data
in payload bytes 0-3; a raw message (Page Request, Invalidate Completion) is its header as given, with its
PASID prefix when it has one. One clocked coroutine drives msg_* (seeded idle cycles, a message held until
taken) and tx_ready (seeded backpressure, or long stalls), and in the ReadOnly phase checks the stream rules
(a shown beat stays shown and unchanged until taken) and every TLP taken against the next expected one.
"""
from __future__ import annotations

import os
import random
import zlib
from collections import deque

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge
from cocotbext.pcie.core.utils import PcieId

from tb.clock import start_clock
from tb.pcie.tlp import PasidTlp


class MsgTxTb:
    def __init__(self, dut, name: str, idle: float, backpressure: float, raw_share: float = 0.5):
        self.dut = dut
        self.log = dut._log
        self.data_w = int(os.environ.get("MSGTX_DATA_W", len(dut.tx_data)))
        self.seed = (cocotb.RANDOM_SEED ^ zlib.crc32(name.encode())) & 0x7FFF_FFFF
        self.rng = random.Random(self.seed)
        self.log.info("%s: DATA_W=%d, test seed %d (COCOTB_RANDOM_SEED=%d)", name, self.data_w, self.seed,
                      cocotb.RANDOM_SEED)
        self.idle = idle
        self.backpressure = backpressure
        self.raw_share = raw_share
        self.stall = False                # tx_ready held low while set
        self.bdf = self.rng.randrange(1, 1 << 16)
        self.to_send = 0
        self.cur = None                   # the message driven on msg_*, until taken
        self.expected: deque = deque()    # taken, not yet out: (hdr, prfx_valid, prfx or None, data or None)
        self.held = None                  # tx fields shown without ready last cycle
        self.sent = self.out = 0
        self.raw_sent = self.prefixed_sent = 0
        self.cycle = 0
        self.first_take = self.last_out = None
        self.failures: list[str] = []

    def fail(self, msg: str) -> None:
        if len(self.failures) < 20:
            self.failures.append(f"cycle {self.cycle}: {msg}")

    def check(self) -> None:
        assert not self.failures, f"seed {self.seed}: " + "; ".join(self.failures)

    async def start(self) -> None:
        d = self.dut
        start_clock(d.clk, 10)
        d.rst.value = 1
        d.cfg_bdf.value = self.bdf
        d.msg_valid.value = 0
        d.msg_raw.value = 0
        d.msg_addr.value = 0
        d.msg_data.value = 0
        d.msg_raw_hdr.value = 0
        d.msg_raw_prfx_valid.value = 0
        d.msg_raw_prfx.value = 0
        d.tx_ready.value = 0
        for _ in range(5):
            await RisingEdge(d.clk)
        d.rst.value = 0
        await RisingEdge(d.clk)
        cocotb.start_soon(self._loop())

    def _new_message(self):
        """A random message and the TLP fields it must leave as."""
        rng = self.rng
        if rng.random() < self.raw_share:
            hdr = rng.getrandbits(128)
            pv = rng.random() < 0.5
            prfx = (0x91 << 24 | rng.getrandbits(24)) if pv else rng.getrandbits(32)
            self.raw_sent += 1
            self.prefixed_sent += pv
            return ("raw", hdr, pv, prfx), (hdr, pv, prfx if pv else None, None)
        addr = rng.getrandbits(32 if rng.random() < 0.5 else 64) & ~3
        data = rng.getrandbits(32)
        tlp = PasidTlp.create_mem_write(addr, data.to_bytes(4, "little"), requester_id=PcieId.from_int(self.bdf))
        f = tlp.to_stream_fields()
        return ("irq", addr, data), (f.hdr, False, None, int.from_bytes(f.data, "little"))

    def _drive(self, msg) -> None:
        d = self.dut
        d.msg_valid.value = 1
        if msg[0] == "raw":
            _, hdr, pv, prfx = msg
            d.msg_raw.value = 1
            d.msg_raw_hdr.value = hdr
            d.msg_raw_prfx_valid.value = int(pv)
            d.msg_raw_prfx.value = prfx
            # what an interrupt message would carry is on the other inputs: it must not leak into the TLP
            d.msg_addr.value = self.rng.getrandbits(64)
            d.msg_data.value = self.rng.getrandbits(32)
        else:
            _, addr, data = msg
            d.msg_raw.value = 0
            d.msg_addr.value = addr
            d.msg_data.value = data
            d.msg_raw_hdr.value = self.rng.getrandbits(128)
            d.msg_raw_prfx_valid.value = self.rng.getrandbits(1)
            d.msg_raw_prfx.value = self.rng.getrandbits(32)

    def _shown(self) -> tuple:
        d = self.dut
        return (int(d.tx_sop.value), int(d.tx_eop.value), int(d.tx_hdr.value), int(d.tx_prfx_valid.value),
                int(d.tx_prfx.value), int(d.tx_data.value))

    async def _loop(self) -> None:
        d = self.dut
        rng = self.rng
        taken = False
        while True:
            await RisingEdge(d.clk)
            self.cycle += 1
            if taken:
                self.cur = None
            if self.cur is None and self.to_send and rng.random() >= self.idle:
                self.cur = self._new_message()
                self.to_send -= 1
                self._drive(self.cur[0])
            elif self.cur is None:
                d.msg_valid.value = 0
            d.tx_ready.value = int(not self.stall and rng.random() >= self.backpressure)
            await ReadOnly()
            taken = bool(d.msg_valid.value) and bool(d.msg_ready.value)
            if taken:
                self.expected.append(self.cur[1])
                self.sent += 1
                if self.first_take is None:
                    self.first_take = self.cycle
            if d.tx_valid.value:
                shown = self._shown()
                if self.held is not None and shown != self.held:
                    self.fail("tx_* changed while valid and not ready")
                if d.tx_ready.value:
                    self.held = None
                    self._on_out(shown)
                else:
                    self.held = shown
            elif self.held is not None:
                self.fail("tx_valid withdrawn before ready")
                self.held = None

    def _on_out(self, shown: tuple) -> None:
        sop, eop, hdr, pv, prfx, data = shown
        self.out += 1
        self.last_out = self.cycle
        if not (sop and eop):
            self.fail(f"message {self.out}: sop {sop} eop {eop}; every message is one beat")
        if not self.expected:
            self.fail(f"a TLP left with no message taken before it: hdr {hdr:#034x}")
            return
        want_hdr, want_pv, want_prfx, want_data = self.expected.popleft()
        what = f"message {self.out}"
        if hdr != want_hdr:
            self.fail(f"{what}: hdr {hdr:#034x}, expected {want_hdr:#034x}")
        if bool(pv) != want_pv:
            self.fail(f"{what}: prfx_valid {pv}, expected {int(want_pv)}")
        if want_prfx is not None and prfx != want_prfx:
            self.fail(f"{what}: prefix {prfx:#010x}, expected {want_prfx:#010x}")
        if want_data is not None and data & 0xFFFF_FFFF != want_data:
            self.fail(f"{what}: payload DW {data & 0xFFFF_FFFF:#010x}, expected {want_data:#010x}")

    async def run(self, n: int, max_cycles: int = 100_000) -> None:
        self.to_send += n
        start = self.cycle
        while self.to_send or self.cur is not None or self.expected:
            if self.cycle - start > max_cycles or len(self.failures) >= 20:
                self.fail(f"{self.to_send} to send, {len(self.expected)} taken but not out after "
                          f"{self.cycle - start} cycles")
                break
            await RisingEdge(self.dut.clk)
        await RisingEdge(self.dut.clk)
        self.check()


@cocotb.test()
async def test_random_messages(dut):
    """Interrupt and raw messages (with and without PASID prefix) at random, with idle cycles on msg_* and
    backpressure on tx_*: each leaves once, in order, exactly as the codec builds it; the other message
    kind's inputs never leak into a TLP."""
    tb = MsgTxTb(dut, "random", 0.3, 0.4)
    await tb.start()
    for idle, bp in ((0.3, 0.4), (0.0, 0.6), (0.6, 0.1), (0.0, 0.0)):
        tb.idle, tb.backpressure = idle, bp
        await tb.run(2000)
    assert tb.out == tb.sent == 8000 and tb.prefixed_sent > 1000, (tb.out, tb.sent, tb.prefixed_sent)
    tb.log.info("%d messages (%d raw, %d with a prefix), %d cycles", tb.out, tb.raw_sent, tb.prefixed_sent, tb.cycle)


@cocotb.test()
async def test_one_message_per_cycle(dut):
    """With no idle cycle and tx_ready always high, N messages leave in N cycles after the first (the skid
    entry keeps msg_ready from depending on tx_ready, at full rate)."""
    tb = MsgTxTb(dut, "full-rate", 0.0, 0.0)
    await tb.start()
    await tb.run(500)
    span = tb.last_out - tb.first_take
    assert tb.out == 500 and span <= 500 + 2, f"500 messages from the first take to the last out in {span} cycles"


@cocotb.test()
async def test_long_stalls(dut):
    """tx_ready held low for 20-200 cycles at a time while messages keep coming: msg_ready falls once the
    output and skid entries are full, nothing is lost or reordered, and the shown TLP stays unchanged."""
    tb = MsgTxTb(dut, "stalls", 0.1, 0.2)
    await tb.start()
    tb.to_send = 1500
    stalls = 0
    while tb.to_send or tb.expected or tb.cur is not None:
        tb.stall = True
        for _ in range(tb.rng.randint(20, 200)):
            await RisingEdge(dut.clk)
        tb.stall = False
        stalls += 1
        for _ in range(tb.rng.randint(5, 60)):
            await RisingEdge(dut.clk)
        assert tb.cycle < 200_000, f"seed {tb.seed}: not done after {tb.cycle} cycles"
    await tb.run(0)
    assert tb.out == tb.sent == 1500, (tb.out, tb.sent)
    tb.log.info("%d messages through %d stalls", tb.out, stalls)
