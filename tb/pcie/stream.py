"""cocotb drivers for one of the device's TLP streams (docs/tlp_interface.md).

`TlpStreamSource` drives `<s>_valid/sop/eop/hdr/prfx_valid/prfx/data[/bar]` and watches `<s>_ready`;
`TlpStreamSink` drives `<s>_ready` and checks what the RTL presents. Both take a pause generator
(`set_pause_generator(iterable)`, as in cocotbext-axi): a true value inserts an idle cycle on a source
(valid low before the next beat) or a backpressure cycle on a sink (ready low). `random_pauses()` and
`pattern_pauses()` make the usual ones.

Speed: tests run millions of cycles, so neither side does Python work on a clock edge while its stream is
idle. A source sleeps on an event until something is queued; a sink sleeps until valid rises. The pause
generator is only advanced on cycles where the stream is active, so an idle bench costs nothing.

With a `reset` handle (active high), a sink ignores and forgets whatever the RTL shows while reset is
asserted (the simulator is shared between tests, so the RTL may still hold a previous test's TLP), and a
source starts no TLP during reset.

Sink checks (each raises `ProtocolError`, which fails the test):
* while valid && !ready, valid stays high and sop/eop/hdr/prfx/data/bar stay unchanged;
* sop on the first beat of a TLP only, no beat outside a TLP, hdr/prfx_valid/prfx/bar constant within it;
* the number of beats matches the header's Length (one beat for a TLP without payload), eop on the last.
"""
from __future__ import annotations

import itertools
import random
from collections import deque
from typing import Iterable, Iterator, NamedTuple

import cocotb
import cocotb.handle
from cocotb.queue import Queue
from cocotb.triggers import Event, FallingEdge, RisingEdge
from cocotb.utils import get_sim_time

from tb import coverage
from tb.simtime import now_ns
from tb.triggers import Then

from .tlp import ProtocolError, StreamFields



class Gate:
    """A pause generator that holds a stream (pauses every cycle) until `release()`, then lets it run (or
    follows `after`, another pause iterator). For tests that stall one stream for a long stretch."""

    def __init__(self, after: Iterator[bool] | None = None, held: bool = True):
        self.held = held
        self.after = after

    def __iter__(self):
        return self

    def __next__(self) -> bool:
        if self.held:
            return True
        return next(self.after) if self.after is not None else False

    def hold(self) -> None:
        self.held = True

    def release(self) -> None:
        self.held = False

class ReceivedTlp(NamedTuple):
    fields: StreamFields
    bar: int
    start_ns: float      # when valid first showed the sop beat (before any backpressure)
    end_ns: float = 0.0  # when the eop beat was taken


def _raw(handle):
    """The simulator's bit-string reader of a signal (cocotb's GPI handle, what `handle.value` reads before it
    builds a Logic/LogicArray): cheap enough to call on every beat."""
    return handle._handle.get_signal_val_binstr


def _writer(handle):
    """A deposit function for `handle` taking a non-negative int: the simulator's own setter, the call cocotb
    makes after its type and range checks when it trusts the simulator's inertial writes (its Verilator
    runner's default), with the range check kept; else the handle's `value` setter (cocotb then schedules
    the write itself)."""
    if not getattr(cocotb.handle, "_trust_inertial", False):
        def write(v, h=handle):
            h.value = v
        return write
    raw, width = handle._handle, len(handle)
    deposit = cocotb.handle._GPISetAction.DEPOSIT.value
    name = handle._name

    def too_wide(v):
        raise ValueError(f"{v:#x} does not fit the {width}-bit signal {name}")
    if 1 < width <= 32:          # as cocotb: an int for a vector up to 32 bits, a bit string otherwise
        set_int = raw.set_signal_val_int
        return lambda v: set_int(deposit, v) if v >= 0 and not v >> width else too_wide(v)
    set_str = raw.set_signal_val_binstr
    fmt = f"0{width}b"
    return lambda v: set_str(deposit, format(v, fmt)) if v >= 0 and not v >> width else too_wide(v)


def _bit(v: str, what: str, stream) -> bool:
    if v == "1":
        return True
    if v == "0":
        return False
    raise ProtocolError(f"{stream.name}_{what} is {v!r} at {get_sim_time('ns'):.1f} ns")


def random_pauses(rng: random.Random, probability: float) -> Iterator[bool]:
    """Pause each active cycle with the given probability, from a seeded generator."""
    rand = rng.random
    while True:
        yield rand() < probability


def pattern_pauses(pattern: Iterable) -> Iterator[bool]:
    """Repeat a fixed pause pattern, e.g. [0, 1, 1] = one cycle in three active."""
    return itertools.cycle([bool(p) for p in pattern])


def payload_beats(length_dw: int, has_data: bool, bytes_per_beat: int) -> int:
    return -(-length_dw * 4 // bytes_per_beat) if has_data else 1


def header_length(hdr: int) -> tuple[int, bool]:
    """(Length in DW, has payload) from a stream hdr value; Length 0 means 1024 DW."""
    has_data = bool((hdr >> 126) & 1)
    length = (hdr >> 96) & 0x3FF
    return (length or 1024) if has_data else length, has_data


class _Stream:
    def __init__(self, dut, prefix: str, clock, reset=None):
        self.name = prefix
        self.clock = clock
        self.reset = reset
        self.valid = getattr(dut, f"{prefix}_valid")
        self.ready = getattr(dut, f"{prefix}_ready")
        self.sop = getattr(dut, f"{prefix}_sop")
        self.eop = getattr(dut, f"{prefix}_eop")
        self.hdr = getattr(dut, f"{prefix}_hdr")
        self.prfx_valid = getattr(dut, f"{prefix}_prfx_valid")
        self.prfx = getattr(dut, f"{prefix}_prfx")
        self.data = getattr(dut, f"{prefix}_data")
        self.bar = getattr(dut, f"{prefix}_bar", None)
        if len(self.data) % 64:
            raise ValueError(f"{prefix}_data is {len(self.data)} bits; DATA_W must be a multiple of 64")
        self.bytes_per_beat = len(self.data) // 8
        self._pauses: Iterator[bool] | None = None
        self.tlp_count = 0
        self.beat_count = 0

    @property
    def showing(self) -> bool:
        """Valid is high now (a beat is offered, taken or not)."""
        return _raw(self.valid)() == "1"

    def set_pause_generator(self, generator: Iterable | None = None) -> None:
        self._pauses = None if generator is None else iter(generator)

    def clear_pause_generator(self) -> None:
        self._pauses = None


class TlpStreamSource(_Stream):
    """Drives a host->device stream (rx_req with its `bar` sideband, or rx_cpl)."""

    def __init__(self, dut, prefix: str, clock, reset=None):
        super().__init__(dut, prefix, clock, reset)
        self._queue: deque[tuple[StreamFields, int]] = deque()
        self._wake = Event()
        self._idle = Event()
        self._idle.set()
        for sig in (self.valid, self.sop, self.eop, self.hdr, self.prfx_valid, self.prfx, self.data):
            sig.value = 0
        if self.bar is not None:
            self.bar.value = 0
        self.task = cocotb.start_soon(self._run())

    def send_nowait(self, fields: StreamFields, bar: int = 0) -> None:
        if bar and self.bar is None:
            raise ValueError(f"{self.name} has no bar sideband")
        self._queue.append((fields, bar))
        self._idle.clear()
        self._wake.set()

    async def send(self, fields: StreamFields, bar: int = 0) -> None:
        self.send_nowait(fields, bar)

    def flush(self) -> int:
        """Drop TLPs queued but not started (a TLP already on the wire finishes). Returns the count."""
        n = len(self._queue)
        self._queue.clear()
        return n

    @property
    def idle(self) -> bool:
        return self._idle.is_set()

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def _run(self):
        edge = RisingEdge(self.clock)
        ready_rise = RisingEdge(self.ready)
        ready_r = _raw(self.ready)
        w_valid, w_sop, w_eop, w_data = (_writer(h) for h in (self.valid, self.sop, self.eop, self.data))
        w_hdr, w_prfx_valid, w_prfx = (_writer(h) for h in (self.hdr, self.prfx_valid, self.prfx))
        w_bar = _writer(self.bar) if self.bar is not None else None
        reset_r = _raw(self.reset) if self.reset is not None else None
        valid_on = False
        # last driven values, to skip redundant writes (each wide one a bit string through VPI): the source
        # is these signals' only driver, and its constructor set them all to 0
        sop_v = eop_v = -1
        hdr_v = pv_v = prfx_v = data_v = bar_v = 0
        bpb = self.bytes_per_beat
        while True:
            if not self._queue:
                if valid_on:
                    w_valid(0)
                    valid_on = False
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                await edge   # drive right after an edge, like the RTL would
                if not self._queue:   # flushed while asleep
                    continue
            if reset_r is not None and _bit(reset_r(), "reset", self):
                await FallingEdge(self.reset)
                await edge
            fields, bar = self._queue.popleft()
            length, has_data = header_length(fields.hdr)
            n = payload_beats(length, has_data, self.bytes_per_beat)
            if has_data and len(fields.data) != length * 4:
                raise ValueError(f"{self.name}: {len(fields.data)} payload bytes for Length {length}")
            payload = fields.data if has_data else b""
            if fields.hdr != hdr_v:
                w_hdr(fields.hdr)
                hdr_v = fields.hdr
            v = int(fields.prfx_valid)
            if v != pv_v:
                w_prfx_valid(v)
                pv_v = v
            if fields.prfx != prfx_v:
                w_prfx(fields.prfx)
                prfx_v = fields.prfx
            if w_bar is not None and bar != bar_v:
                w_bar(bar)
                bar_v = bar
            for i in range(n):
                pauses = self._pauses
                if pauses is not None:
                    while next(pauses):
                        if valid_on:
                            w_valid(0)
                            valid_on = False
                        await edge
                # beat i: payload bytes [i * bpb, (i + 1) * bpb), little-endian (the last beat zero-padded), the
                # same value as shifting the whole payload read as one integer, without the shift per beat
                v = int.from_bytes(payload[i * bpb:(i + 1) * bpb], "little")
                if v != data_v:
                    w_data(v)
                    data_v = v
                s, e = int(i == 0), int(i == n - 1)
                if s != sop_v:
                    sop_v = s
                    w_sop(s)
                if e != eop_v:
                    eop_v = e
                    w_eop(e)
                if not valid_on:
                    w_valid(1)
                    valid_on = True
                await edge
                if not _bit(ready_r(), "ready", self):
                    # Backpressure: sleep until ready rises (it can rise in the eval that follows this edge),
                    # then take the beat at the first edge that still sees it high. The RTL may hold ready
                    # low for thousands of cycles (an MMIO read behind a stalled tx_cpl): no per-cycle work.
                    while True:
                        await ready_rise
                        await edge
                        if _bit(ready_r(), "ready", self):
                            break
                self.beat_count += 1
            self.tlp_count += 1


class TlpStreamSink(_Stream):
    """Receives a device->host stream (tx_req or tx_cpl) and checks its protocol."""

    def __init__(self, dut, prefix: str, clock, reset=None):
        super().__init__(dut, prefix, clock, reset)
        self.queue: Queue[ReceivedTlp] = Queue()
        # Called with each TLP in the cycle its last beat is taken (link-level checks that compare streams).
        self.observers: list = []
        # Called with no argument in the cycle a TLP's first beat is first shown (taken or not).
        self.start_observers: list = []
        self._ready_forced_low = False     # hold() lowered ready between two edges
        self.ready.value = 1
        self.task = cocotb.start_soon(self._run())

    async def recv(self) -> ReceivedTlp:
        return await self.queue.get()

    async def hold(self) -> Gate:
        """Backpressure from the next rising edge on, whatever the stream is doing (a pause generator only
        acts on active cycles, so an idle sink keeps ready high and would take the first beat shown), until
        the returned Gate is released. Ready is lowered at a falling edge, where nothing samples it, so the
        RTL and this sink agree on it at the next rising edge."""
        gate = Gate()
        self._pauses = gate
        await FallingEdge(self.clock)
        self.ready.value = 0
        self._ready_forced_low = True
        return gate

    def _fail(self, msg: str):
        raise ProtocolError(f"{self.name} at {get_sim_time('ns'):.1f} ns: {msg}")

    async def _run(self):
        edge = RisingEdge(self.clock)
        valid_rise_then_edge = Then(RisingEdge(self.valid), edge)    # no resumption between the two
        at_edge = False        # woken by valid_rise_then_edge: already at the edge the loop waits for
        ready_on = 1
        held = None            # beat sampled with valid && !ready: it must be presented unchanged
        held_since = 0.0
        in_tlp = False
        first = None           # (hdr, prfx_valid, prfx, bar) of the current TLP, as read
        start_ns = 0.0
        chunks: list[int] = []
        beats = length = 0
        stalled = 0            # cycles the current TLP was offered but held by backpressure (coverage)
        has_data = False
        bpb = self.bytes_per_beat
        # Values are read as the simulator's bit strings (_raw): a beat costs seven reads, and building a
        # LogicArray for each was a large part of a TLP's CPU. Comparisons are exact (X and Z included); an
        # X or Z where a 0/1 is needed fails the test, as converting the LogicArray did.
        valid_r = _raw(self.valid)
        sop_r, eop_r, hdr_r, pv_r, prfx_r, data_r = (_raw(h) for h in (self.sop, self.eop, self.hdr,
                                                                        self.prfx_valid, self.prfx, self.data))
        bar_r = _raw(self.bar) if self.bar is not None else None
        reset_r = _raw(self.reset) if self.reset is not None else None
        w_ready = _writer(self.ready)
        while True:
            if not at_edge:
                await edge
            at_edge = False
            if reset_r is not None and _bit(reset_r(), "reset", self) :
                held, in_tlp = None, False
                await FallingEdge(self.reset)
                continue
            if self._ready_forced_low:
                ready_on, self._ready_forced_low = 0, False
            valid = _bit(valid_r(), "valid", self)
            if valid:
                sample = (sop_r(), eop_r(), hdr_r(), pv_r(), prfx_r(), data_r()) if bar_r is None else \
                    (sop_r(), eop_r(), hdr_r(), pv_r(), prfx_r(), data_r(), bar_r())
                if held is not None and sample != held:
                    self._fail(f"signals changed while valid && !ready (held since {held_since:.1f} ns)")
                sop = _bit(sample[0], "sop", self)
                if held is None and sop and not in_tlp:
                    start_ns = now_ns()
                    for observe in self.start_observers:
                        observe()
                stalled += not ready_on
                if ready_on:
                    held = None
                    eop = _bit(sample[1], "eop", self)
                    hdr, prfx_valid, prfx, data = sample[2:6]
                    bar = sample[6] if len(sample) > 6 else None
                    if sop:
                        if in_tlp:
                            self._fail(f"sop while a TLP is open (beat {len(chunks)} of {beats}, no eop)")
                        in_tlp = True
                        first = (hdr, prfx_valid, prfx, bar)
                        length, has_data = header_length(int(hdr, 2))
                        beats = payload_beats(length, has_data, bpb)
                        chunks = []
                    elif not in_tlp:
                        self._fail("beat without sop outside a TLP")
                    elif (hdr, prfx_valid, prfx, bar) != first:
                        self._fail(f"hdr/prfx/bar changed within a TLP at beat {len(chunks)}")
                    chunks.append(int(data, 2) if has_data else 0)
                    self.beat_count += 1
                    if eop:
                        if len(chunks) != beats:
                            self._fail(f"eop after {len(chunks)} beats, Length {length} DW needs {beats}")
                        payload = b"".join(c.to_bytes(bpb, "little") for c in chunks)[:length * 4] \
                            if has_data else b""
                        in_tlp = False
                        self.tlp_count += 1
                        hdr_v = int(first[0], 2)
                        coverage.device_tlp(self.name, hdr_v, start_ns, stalled)
                        stalled = 0
                        rx = ReceivedTlp(StreamFields(hdr_v, _bit(first[1], "prfx_valid", self), int(first[2], 2),
                                                      payload),
                                         int(first[3], 2) if first[3] is not None else 0, start_ns,
                                         now_ns())
                        for observe in self.observers:
                            observe(rx)
                        self.queue.put_nowait(rx)
                    elif len(chunks) >= beats:
                        self._fail(f"no eop on beat {len(chunks)}, Length {length} DW needs {beats} beats")
                elif held is None:
                    held = sample
                    held_since = now_ns()
                active = True
            else:
                if held is not None:
                    self._fail(f"valid dropped before ready (beat presented since {held_since:.1f} ns)")
                active = in_tlp
            pauses = self._pauses
            if pauses is None:
                want = 1
            else:
                want = (0 if next(pauses) else 1) if active else ready_on
            if want != ready_on:
                ready_on = want
                w_ready(want)
            if held is None and not valid:     # (as read above: nothing evaluates the RTL in between)
                # Nothing offered at this edge: sleep until the RTL raises valid (no per-cycle work), then the
                # edge after it.
                await valid_rise_then_edge
                at_edge = True
