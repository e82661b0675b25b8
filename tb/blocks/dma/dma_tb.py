"""Block-level bench of imsdev_dma: drives cmd/rsp and emulates the host side of tx_req/rx_cpl.

One clocked coroutine serves every port. Right after each rising edge it drives the inputs for the cycle
(next command, rsp_ready and tx_req_ready with seeded random backpressure, the next rx_cpl beat or an idle
cycle); in the ReadOnly phase it samples the handshakes that complete at the next edge and applies them:

* tx_req beats are assembled into TLPs and every TLP is checked field by field: Fmt/Type (3DW below 4 GiB,
  4DW above, MRd or MWr only), reserved/TC/attr bits, Length and First/Last BE (contiguous, consistent
  with a 1-DW request), requester ID = cfg_bdf, no 4 KiB crossing, size against MPS/MRRS, the PASID
  prefix of the owning command (0x91, PMR, PASID) or none, beat count and eop, header constant on every
  beat, valid never withdrawn and every field stable while ready is low, no TLP newly presented while
  Bus Master Enable is 0. Each TLP must belong to exactly one active command
  (by address range) and be the next piece of that command's exact expected split (reads at multiples of
  min(MRRS, BUF_BYTES/4), writes at multiples of min(MPS, BUF_BYTES/2), both capped at 4 KiB).
* MWr payload is written into a sparse host memory (only enabled bytes).
* MRd: tag must be < TAGS and not outstanding; the data is read from host memory and answered by CplDs split
  at random 64-byte RCB boundaries, sent after random delays, interleaved across tags in random order, in
  address order within a tag, with random idle cycles on rx_cpl (also inside a TLP). Faults can be injected
  per read (UR, CA, poisoned, dropped) and bogus completions queued.
* FETCH (the batch-list read) issues reads like a COPY and no write; its response carries the bytes in
  rsp_data, compared with host memory when the response is taken. Several FETCHes may be outstanding (the
  engine prefetches batch members): with rsp_ready backpressure, rsp_data must still hold each FETCH's bytes
  when its response is taken.
* ATS builds: a Translation Request must name a page its side is about to access for an active command
  (or repeat the side's previous one, asked again after a stale answer); the bench's translation agent can
  hold an answer back, or send a misrouted completion (another requester ID) ahead of it. The invalidation's
  snapshot counters are checked every cycle against tx_req: wr_sent_count is exactly the translated MWr
  TLPs that left, wr_planned_count leads it (by one at least while a translated MWr is shown), and at every
  quiesce each pair is equal (rd_alloc_count = rd_retire_count = the MRd sent).
* Responses must come in command order with the expected id/status; when rsp_valid first shows a response
  every write TLP of its bytes must have been accepted in an earlier cycle. Then host memory is compared
  byte-exact: destination bytes [0, rsp_bytes) hold the expected data, the rest of the destination and
  64 guard bytes on each side are untouched. For failed commands rsp_bytes must end on a write-TLP
  boundary and not pass the first byte whose read failed.

Problems are collected in `failures` and raised by `check()`; waits have cycle limits, so a lost response
fails with a message instead of hanging.
"""
from __future__ import annotations

import os
import random
import re
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cocotb
from cocotb.triggers import Event, ReadOnly, RisingEdge

from tb.blocks.ats.atc_model import s_encode
from tb.clock import start_clock


class SparseMemory:
    """Byte-addressable 64-bit host memory that stores only the 4 KiB pages written (others read as 0).
    (Kept local so the block bench does not depend on the platform models.)"""

    def __init__(self):
        self._pages: dict[int, bytearray] = {}

    def read(self, addr: int, length: int) -> bytes:
        out = bytearray()
        while length:
            page, off = divmod(addr, 4096)
            n = min(length, 4096 - off)
            p = self._pages.get(page)
            out += p[off:off + n] if p is not None else bytes(n)
            addr += n
            length -= n
        return bytes(out)

    def write(self, addr: int, data: bytes) -> None:
        view = memoryview(bytes(data))
        while view:
            page, off = divmod(addr, 4096)
            n = min(len(view), 4096 - off)
            self._pages.setdefault(page, bytearray(4096))[off:off + n] = view[:n]
            addr += n
            view = view[n:]


def _dma_pkg() -> dict[str, int]:
    """The command/response codes and limits of rtl/dma/imsdev_dma_pkg.sv, read from the package itself so
    the bench and the RTL cannot disagree on a copied number."""
    text = (Path(__file__).resolve().parents[3] / "rtl" / "dma" / "imsdev_dma_pkg.sv").read_text()
    out = {m[0]: int(m[1]) for m in re.findall(r"localparam\s+logic\s*\[\d+:0\]\s*(DMA_\w+)\s*=\s*\d+'d(\d+)", text)}
    out |= {m[0]: int(m[1]) for m in re.findall(r"localparam\s+int\s+((?:DMA|PRI)_\w+)\s*=\s*(\d+)", text)}
    return out


_PKG = _dma_pkg()
OP_COPY, OP_FILL, OP_WRITE, OP_FETCH = (_PKG[f"DMA_OP_{n}"] for n in ("COPY", "FILL", "WRITE", "FETCH"))
ST_OK, ST_UR, ST_CA, ST_POISONED, ST_TIMEOUT, ST_INVALID = (
    _PKG[f"DMA_{n}"] for n in ("OK", "READ_UR", "READ_CA", "READ_POISONED", "READ_TIMEOUT", "INVALID"))
WRITE_MAX_BYTES, FETCH_MAX_BYTES = _PKG["DMA_WRITE_MAX_BYTES"], _PKG["DMA_FETCH_MAX_BYTES"]
ST_XL_READ_FAULT, ST_XL_WRITE_FAULT, ST_XL_FAIL_RD, ST_XL_FAIL_WR = (
    _PKG[f"DMA_XL_{n}"] for n in ("READ_FAULT", "WRITE_FAULT", "FAIL_RD", "FAIL_WR"))
ST_XL_READ_FAULT_IR, ST_XL_WRITE_FAULT_IR = _PKG["DMA_XL_READ_FAULT_IR"], _PKG["DMA_XL_WRITE_FAULT_IR"]
PRI_RETRIES = _PKG["PRI_RETRIES"]
# outcomes of a page request (imsdev_ats_pkg::PR_*)
PR_SUCCESS, PR_INVALID, PR_FAIL = 0, 1, 2
STATUS_NAMES = {ST_OK: "OK", ST_UR: "READ_UR", ST_CA: "READ_CA", ST_POISONED: "READ_POISONED",
                ST_TIMEOUT: "READ_TIMEOUT", ST_INVALID: "INVALID"}
STATUS_NAMES |= {_PKG[n]: n[4:] for n in _PKG if n.startswith("DMA_XL_")}
OP_NAMES = {OP_COPY: "COPY", OP_FILL: "FILL", OP_WRITE: "WRITE", OP_FETCH: "FETCH"}
OP_NAMES |= {n: f"OP{n}" for n in range(8) if n not in OP_NAMES}

FT_MRD32, FT_MRD64, FT_MWR32, FT_MWR64 = 0x00, 0x20, 0x40, 0x60
FT_CPL, FT_CPLD = 0x0A, 0x4A
CPL_SC, CPL_UR, CPL_CA = 0, 1, 4
RCB = 64
GUARD = 64


def split(addr: int, length: int, size: int) -> list[tuple[int, int]]:
    """Pieces (address, bytes) of [addr, addr+length) cut at multiples of size."""
    out, a, end = [], addr, addr + length
    while a < end:
        n = min(end - a, size - a % size)
        out.append((a, n))
        a += n
    return out


def cpl_hdr(with_data: bool, status: int, cpl_id: int, req_id: int, tag: int, len_dw: int, byte_count: int,
            lower_addr: int, poisoned: bool = False) -> int:
    h = (FT_CPLD if with_data else FT_CPL) << 120
    if poisoned:
        h |= 1 << 110
    if with_data:
        h |= (len_dw & 0x3FF) << 96
    h |= (cpl_id & 0xFFFF) << 80 | (status & 7) << 77 | (byte_count & 0xFFF) << 64
    h |= (req_id & 0xFFFF) << 48 | (tag & 0xFF) << 40 | (lower_addr & 0x7F) << 32
    return h


def be_range(first_be: int, last_be: int, len_dw: int) -> tuple[int, int] | None:
    """(offset of the first enabled byte, offset past the last) from the DW-aligned address, or None when
    the enables are not one contiguous run as a memory request needs them."""
    if len_dw == 1:
        if last_be != 0 or first_be == 0:
            return None
        bits = [b for b in range(4) if first_be >> b & 1]
        if bits != list(range(bits[0], bits[-1] + 1)):
            return None
        return bits[0], bits[-1] + 1
    if first_be not in (0xF, 0xE, 0xC, 0x8) or last_be not in (0xF, 0x7, 0x3, 0x1):
        return None
    lo = {0xF: 0, 0xE: 1, 0xC: 2, 0x8: 3}[first_be]
    hi = {0xF: 4, 0x7: 3, 0x3: 2, 0x1: 1}[last_be]
    return lo, 4 * (len_dw - 1) + hi


@dataclass
class DmaCmd:
    op: int
    dst: int
    length: int
    src: int = 0
    pattern: int = 0
    wdata: bytes = b""
    pasid: tuple[int, int] | None = None      # (pasid, priv)
    cmd_id: int = 0
    expect_status: int = ST_OK
    max_bytes: int | None = None              # failed commands: rsp_bytes may not exceed this
    plan_limit: int | None = None             # ATS source fault: the writes stop exactly here (last one cut)
    bof: bool = False                         # cmd_bof: a denied page asks for a page request (PRI model)
    check_memory: bool = True
    # filled in by the bench
    expect_data: bytes = b""
    orig: bytes = b""                         # destination and guards before the command
    mrd_plan: list = field(default_factory=list)
    mwr_plan: list = field(default_factory=list)
    mrd_seen: int = 0
    mwr_seen: int = 0
    mwr_done_cycle: list = field(default_factory=list)   # cycle of each MWr's last beat
    accept_cycle: int | None = None
    first_tx_cycle: int | None = None
    rsp_valid_cycle: int | None = None
    rsp_cycle: int | None = None
    rsp_status: int | None = None
    rsp_bytes: int | None = None
    rsp_data: bytes | None = None             # FETCH: rsp_data's first `length` bytes when the response was taken
    done: Event = field(default_factory=Event)

    def describe(self) -> str:
        s = f"#{self.cmd_id} {OP_NAMES[self.op]} len={self.length} dst={self.dst:#x}"
        if self.op in (OP_COPY, OP_FETCH):
            s += f" src={self.src:#x}"
        if self.pasid:
            s += f" pasid={self.pasid[0]:#x}/{self.pasid[1]}"
        return s


@dataclass
class ReadReq:
    tag: int
    addr: int
    nbytes: int
    req_id: int
    cmd: DmaCmd
    index: int
    base: int                     # addr & ~3
    data: bytes                   # memory from base to the end of the last DW
    pieces: deque
    ready: int                    # earliest cycle of the next completion
    fault: str | None = None      # 'UR', 'CA', 'POISON', 'DROP'
    fault_at: int = 0             # completion index the fault applies to
    sent: int = 0                 # completions sent


class DmaTb:
    def __init__(self, dut, name: str):
        self.dut = dut
        self.log = dut._log
        self.name = name
        self.data_w = int(os.environ.get("DMA_DATA_W", len(dut.tx_req_data)))
        self.nb = self.data_w // 8
        self.tags = int(os.environ.get("DMA_TAGS", "16"))
        self.buf_bytes = int(os.environ.get("DMA_BUF_BYTES", "4096"))
        self.cpl_timeout = int(os.environ.get("DMA_CPL_TIMEOUT", "131072"))
        assert len(dut.tx_req_data) == self.data_w, "DMA_DATA_W does not match the build"
        self.rd_cap = min(self.buf_bytes // 4, 4096)
        self.wr_cap = min(self.buf_bytes // 2, 4096)
        self.seed = (cocotb.RANDOM_SEED ^ zlib.crc32(name.encode())) & 0x7FFF_FFFF
        self.rng = random.Random(self.seed)
        self.log.info("%s: DATA_W=%d TAGS=%d BUF_BYTES=%d CPL_TIMEOUT=%d, test seed %d (COCOTB_RANDOM_SEED=%d)",
                      name, self.data_w, self.tags, self.buf_bytes, self.cpl_timeout, self.seed,
                      cocotb.RANDOM_SEED)

        self.mem = SparseMemory()
        self.failures: list[str] = []
        self.cycle = 0

        # knobs
        self.tx_backpressure = 0.3
        self.rsp_backpressure = 0.2
        self.rx_idle = 0.2
        self.cmd_idle = 0.2
        self.cpl_delay = (0, 40)          # cycles from MRd to its first completion
        self.cpl_gap = (0, 8)             # between completions of one request
        self.split_prob = 0.5             # each RCB boundary inside a request splits with this probability
        self.in_order = False             # answer requests strictly in arrival order
        self.cpl_id = 0x0000
        # Every `corrupt_every`-th completion without a planned fault is preceded by a corrupted copy (must be
        # dropped), from a random phase, the wrong field rotating (set_corruption). A count, not a probability:
        # a test that needs N corrupted copies gets them on every seed (a probability of 0.25 gave 10 on one).
        self.corrupt_every = 0
        self._corrupt_seen = 0
        # copies sent with a foreign requester ID, lower address, byte count, or as a Cpl without data and
        # status SC (for a memory read only a CplD may succeed: PCIe r6.3 2.2.9)
        self.corrupt_kinds = [0, 0, 0, 0]
        self._error_cpls = {CPL_UR: 0, CPL_CA: 0}   # sent, per status (every other one: odd Byte Count / LA)
        self.error_cpl_cycle: int | None = None     # when the last UR/CA completion was queued

        # configuration sideband
        self.bdf = self.rng.randrange(1, 0x10000)
        self.bme = 1
        self.mps = 1
        self.mrrs = 2

        # state
        self.cmd_queue: deque[DmaCmd] = deque()
        self.active: list[DmaCmd] = []            # accepted, no response yet (command order)
        self.next_id = 0
        self.cmd_driving: DmaCmd | None = None
        self.tx_cur: dict | None = None
        self.reads: dict[int, ReadReq] = {}       # outstanding on the host side, by tag
        self.dead_tags: set[int] = set()          # dropped reads: the DUT may reuse their tags after a timeout
        self.pending: list[ReadReq] = []          # reads with completions still to send
        self.bogus: deque[list[tuple[int, int, bool, bool]]] = deque()   # queued raw TLPs (beats)
        self.rx_beats: deque = deque()            # beats of the TLP being sent: (hdr, data, sop, eop)
        self.cpl_cycles: list[tuple[int, int]] = []   # (first, last beat taken) of each completion (tests clear it)
        self._cpl_first = 0
        self.faults: dict[tuple[int, int], tuple[str, int]] = {}   # (cmd_id, mrd index) -> (kind, cpl index)
        self.hold: dict[tuple[int, int], int] = {}    # (cmd_id, mrd index) -> extra cycles before its first completion
        self.late: list[ReadReq] = []             # dropped reads, kept to answer late on request
        self.unexpected_pulses = 0
        self.tx_tlps = 0
        self.tx_beats = 0
        self.tx_first_cycle: int | None = None
        self.tx_valid_while_bme_off = 0
        self.tx_held: tuple | None = None         # fields of a beat shown without ready
        self.stats = {"mrd": 0, "mwr": 0, "cpl": 0, "cmds": 0, "xreq": 0, "xlated": 0, "inv": 0}
        # The invalidation's snapshot counters (imsdev_ats_inv reads them; docs/ats_pri.md 2.5), as seen on
        # tx_req: translated MWr TLPs whose last beat was accepted, and data MRd TLPs sent.
        self.xl_wr_sent = 0
        self.mrd_sent = 0

        # ATS (builds with ATS_ENTRIES > 0, docs/ats_pri.md): a test sets self.ats before start(). The host then
        # answers Translation Requests with PA page = VA page ^ ATS_KEY (a constant above 1 GiB, so 2 MiB and
        # 1 GiB entries map whole ranges), R = W = 1, a random size of 4 KiB / 2 MiB / 1 GiB; translated TLPs
        # (AT = 10b) are mapped back to VA before the usual checks. inv_prob pulses an invalidation without PASID.
        self.ats_entries = int(os.environ.get("DMA_ATS_ENTRIES", "0"))
        self.ats = False
        self.ats_key = 0x2A5A5 << 18
        self.no_ats_prob = 0.0
        self.xreq_foreign_every = 0       # every n-th Translation Request: a foreign completion first (0: never)
        # Translation Completions held back: keys (PASID, priv, page, write side) whose next answer is computed
        # when the request arrives (the mapping of that moment) but kept in xreq_held until release_xreq()
        self.xreq_hold: set = set()
        self.xreq_held: dict = {}
        self.last_xreq = [None, None]     # per side (read, write): the last Translation Request's key and page
        self.xlate_sizes = [0, 0, 0, 9, 18]   # translation sizes drawn from (log2 pages: 4 KiB, 2 MiB, 1 GiB)
        self.xreq_foreign_sent = 0
        self.inv_prob = 0.0
        # (pasid, priv, page) -> "R" (grant W only) / "W" (grant R only) / "UR" (Translation Completion UR);
        # PASIDs in deny_pasids get 4 KiB entries only, so a larger entry never covers a denied page
        self.deny: dict[tuple[int, int, int], str] = {}
        self.deny_pasids: set[tuple[int, int]] = set()
        # PRI (the role of imsdev_pri, docs/ats_pri.md 2.6): per (pasid, priv, page) the outcomes of its page
        # requests in order: "fix" (Success, the page is then granted), "keep" (Success, still denied), "IR"
        # (Invalid Request), "RF" (Response Failure). A page request for a key without outcomes left fails.
        self.pri_plan: dict[tuple[int, int, int], list[str]] = {}
        self.pri_wait: list = [None, None]       # per side: (key, due cycle, outcome)
        self.pri_done_last = [False, False]      # done was given last cycle: the request must be gone now
        self.pri_log: list = []                  # (side, key, outcome)

    # ------------------------------------------------------------------ setup
    async def start(self):
        d = self.dut
        start_clock(d.clk, 10)
        d.rst.value = 1
        d.cmd_valid.value = 0
        d.rsp_ready.value = 0
        d.tx_req_ready.value = 0
        d.rx_cpl_valid.value = 0
        d.rx_cpl_sop.value = 0
        d.rx_cpl_eop.value = 0
        d.rx_cpl_hdr.value = 0
        d.rx_cpl_prfx_valid.value = 0
        d.rx_cpl_prfx.value = 0
        d.rx_cpl_data.value = 0
        d.cfg_ats_en.value = int(self.ats)
        d.cfg_ats_stu.value = 0
        d.cmd_no_ats.value = 0
        d.cmd_bof.value = 0
        d.pr_done.value = 0
        d.pr_res.value = 0
        d.inv_valid.value = 0
        d.inv_has_pasid.value = 0
        d.inv_pasid.value = 0
        d.inv_page.value = 0
        d.inv_size.value = 0
        self._drive_cfg()
        for _ in range(5):
            await RisingEdge(d.clk)
        d.rst.value = 0
        await RisingEdge(d.clk)
        cocotb.start_soon(self._loop())

    def _drive_cfg(self):
        d = self.dut
        d.cfg_bdf.value = self.bdf
        d.cfg_bus_master_en.value = self.bme
        d.cfg_max_payload.value = self.mps
        d.cfg_max_read_req.value = self.mrrs

    def set_cfg(self, mps: int | None = None, mrrs: int | None = None, bme: int | None = None):
        """Change the sideband. MPS/MRRS only while idle (the expected split is planned at acceptance)."""
        if (mps is not None or mrrs is not None) and (self.active or self.cmd_queue):
            raise RuntimeError("MPS/MRRS change while commands are active")
        if mps is not None:
            self.mps = mps
        if mrrs is not None:
            self.mrrs = mrrs
        if bme is not None:
            self.bme = bme
        self._drive_cfg()

    def set_prompt(self, split_prob: float) -> None:
        """No backpressure or idle cycles anywhere; completions in request order with no gap between those of
        one request, each RCB boundary inside a request splitting with `split_prob`."""
        self.tx_backpressure = self.rsp_backpressure = self.rx_idle = self.cmd_idle = 0.0
        self.split_prob = split_prob
        self.in_order = True
        self.cpl_gap = (0, 0)

    def fail(self, msg: str):
        if len(self.failures) < 50:
            self.log.error("cycle %d: %s", self.cycle, msg)
        self.failures.append(msg)

    def check(self):
        if self.failures:
            raise AssertionError(f"{len(self.failures)} problem(s), first: {self.failures[0]} (seed {self.seed})")

    # ------------------------------------------------------------------ memory and address helpers
    def alloc(self, length: int, high: bool | None = None, align: int | None = None,
              near_page_end: bool = False) -> int:
        """A fresh address range of `length` bytes (plus guards) that no other range overlaps."""
        rng = self.rng
        if high is None:
            high = rng.random() < 0.3
        if not hasattr(self, "_next_lo"):
            self._next_lo = 0x1000_0000 + rng.randrange(0, 0x100) * 0x1000
            self._next_hi = 0x1_2340_0000 + rng.randrange(0, 0x100) * 0x1000
        base = self._next_hi if high else self._next_lo
        base += GUARD + rng.randrange(0, 4) * 0x1000
        if near_page_end:
            base = (base | 0xFFF) + 1 - rng.randrange(1, 64)
        elif align is not None:
            base += align
        else:
            base += rng.randrange(0, 4096)
        end = base + length + GUARD
        end = (end + 0xFFF) & ~0xFFF
        if high:
            self._next_hi = end
        else:
            self._next_lo = end
        return base

    def fill_random(self, addr: int, length: int):
        self.mem.write(addr, self.rng.randbytes(length))

    # ------------------------------------------------------------------ commands
    def make_copy(self, length: int, **kw) -> DmaCmd:
        src = kw.pop("src", None)
        dst = kw.pop("dst", None)
        if src is None:
            src = self.alloc(length, high=kw.pop("src_high", None))
        if dst is None:
            dst = self.alloc(length, high=kw.pop("dst_high", None))
        self.fill_random(src - GUARD, length + 2 * GUARD)
        return DmaCmd(op=OP_COPY, src=src, dst=dst, length=length, **kw)

    def make_fill(self, length: int, **kw) -> DmaCmd:
        dst = kw.pop("dst", None)
        if dst is None:
            dst = self.alloc(length, high=kw.pop("dst_high", None))
        pattern = kw.pop("pattern", self.rng.getrandbits(64))
        return DmaCmd(op=OP_FILL, dst=dst, length=length, pattern=pattern, **kw)

    def make_write(self, length: int, **kw) -> DmaCmd:
        dst = kw.pop("dst", None)
        if dst is None:
            dst = self.alloc(max(length, 1), high=kw.pop("dst_high", None))
        wdata = kw.pop("wdata", self.rng.randbytes(32))
        return DmaCmd(op=OP_WRITE, dst=dst, length=length, wdata=wdata, **kw)

    def make_fetch(self, length: int = FETCH_MAX_BYTES, **kw) -> DmaCmd:
        """A FETCH (the descriptor engine's batch-list read): `length` bytes at a 64-byte aligned src go to
        rsp_data, nothing is written; a descriptor is one 64-byte read."""
        src = kw.pop("src", None)
        if src is None:
            src = (self.alloc(max(length, FETCH_MAX_BYTES) + 63, high=kw.pop("src_high", None)) + 63) & ~63
        self.fill_random(src - GUARD, max(length, 1) + 2 * GUARD)
        return DmaCmd(op=OP_FETCH, src=src, dst=0, length=length, check_memory=False, **kw)

    def random_pasid(self):
        return None if self.rng.random() < 0.4 else (self.rng.getrandbits(20), self.rng.getrandbits(1))

    def submit(self, cmd: DmaCmd) -> DmaCmd:
        cmd.cmd_id = self.next_id
        self.next_id = (self.next_id + 1) & 0xFF
        if cmd.check_memory and cmd.length < (1 << 20):
            self.fill_random(cmd.dst - GUARD, cmd.length + 2 * GUARD)
            cmd.orig = self.mem.read(cmd.dst - GUARD, cmd.length + 2 * GUARD)
        valid_op = (cmd.op in (OP_COPY, OP_FILL) or (cmd.op == OP_WRITE and cmd.length <= WRITE_MAX_BYTES)
                    or (cmd.op == OP_FETCH and cmd.length <= FETCH_MAX_BYTES and cmd.src % 64 == 0))
        if not valid_op:
            cmd.expect_status = ST_INVALID
        if cmd.op in (OP_COPY, OP_FETCH):
            cmd.expect_data = self.mem.read(cmd.src, cmd.length) if cmd.length < (1 << 20) else b""
        elif cmd.op == OP_FILL:
            pat = cmd.pattern.to_bytes(8, "little")
            cmd.expect_data = bytes(pat[i % 8] for i in range(cmd.length))
        elif cmd.op == OP_WRITE:
            cmd.expect_data = cmd.wdata[:cmd.length]
        self.cmd_queue.append(cmd)
        return cmd

    def _plan(self, cmd: DmaCmd):
        if cmd.expect_status == ST_INVALID or cmd.length == 0:
            return
        wr_size = min(128 << min(self.mps, 5), self.wr_cap)
        # a FETCH's bytes go to rsp_data, never to tx_req
        cmd.mwr_plan = [] if cmd.op == OP_FETCH else \
            split(cmd.dst, cmd.length if cmd.plan_limit is None else cmd.plan_limit, wr_size)
        if cmd.op in (OP_COPY, OP_FETCH):
            rd_size = min(128 << min(self.mrrs, 5), self.rd_cap)
            cmd.mrd_plan = split(cmd.src, cmd.length, rd_size)

    async def wait_done(self, cmds, max_cycles: int = 200_000):
        """Wait for the responses of cmds (a command or a list), failing after max_cycles."""
        if isinstance(cmds, DmaCmd):
            cmds = [cmds]
        start = self.cycle
        for c in cmds:
            while not c.done.is_set():
                if self.failures:
                    self.check()
                if self.cycle - start > max_cycles:
                    self.fail(f"no response for {c.describe()} after {max_cycles} cycles "
                              f"(active: {[a.cmd_id for a in self.active]}, host reads: {sorted(self.reads)})")
                    self.check()
                await RisingEdge(self.dut.clk)
        self.check()

    async def cycles(self, n: int):
        for _ in range(n):
            await RisingEdge(self.dut.clk)

    async def quiesce(self, max_cycles: int = 20_000):
        """Wait until no command is queued or active and the host has nothing left to send."""
        start = self.cycle
        while self.cmd_queue or self.active or self.pending or self.rx_beats or self.bogus:
            if self.cycle - start > max_cycles:
                self.fail(f"not idle after {max_cycles} cycles: queued {len(self.cmd_queue)}, "
                          f"active {[c.cmd_id for c in self.active]}, pending reads {len(self.pending)}")
                self.check()
            await RisingEdge(self.dut.clk)
        await self.cycles(4)
        await ReadOnly()
        self._check_counters_idle()
        await RisingEdge(self.dut.clk)
        self.check()

    # ------------------------------------------------------------------ the clocked loop
    async def _loop(self):
        d = self.dut
        rng = self.rng
        cmd_taken = rsp_taken = rx_taken = False
        while True:
            await RisingEdge(d.clk)
            self.cycle += 1
            # -------- drive
            if cmd_taken:
                self.cmd_driving = None
            if self.cmd_driving is None and self.cmd_queue and rng.random() >= self.cmd_idle:
                self.cmd_driving = self.cmd_queue.popleft()
                self._drive_cmd(self.cmd_driving)
            elif self.cmd_driving is None:
                d.cmd_valid.value = 0
            d.rsp_ready.value = int(rng.random() >= self.rsp_backpressure)
            inv = self.ats and rng.random() < self.inv_prob
            d.inv_valid.value = int(inv)
            self.stats["inv"] += inv
            d.tx_req_ready.value = int(rng.random() >= self.tx_backpressure)
            if rx_taken or not self.rx_showing:
                self._drive_rx()
            pr_done = pr_res = 0
            for s in range(2):
                w = self.pri_wait[s]
                if w is not None and self.cycle >= w[1]:
                    key, _, outcome = w
                    pr_done |= 1 << s
                    pr_res |= {"fix": PR_SUCCESS, "keep": PR_SUCCESS, "IR": PR_INVALID, "RF": PR_FAIL}[outcome] << (2 * s)
                    if outcome == "fix":
                        self.deny.pop(key, None)
                    self.pri_wait[s] = None
            d.pr_done.value = pr_done
            d.pr_res.value = pr_res

            # -------- sample
            await ReadOnly()
            cmd_taken = bool(d.cmd_valid.value) and bool(d.cmd_ready.value)
            if cmd_taken:
                self._on_cmd_accept(self.cmd_driving)
            if d.rsp_valid.value:
                self._on_rsp_valid(rsp_ready=bool(d.rsp_ready.value))
            rsp_taken = False
            tx_valid = bool(d.tx_req_valid.value)
            self._check_snapshot_counters(tx_valid)
            held = self.tx_held
            if held is not None:
                # valid && !ready last cycle: the same beat must still be shown
                if not tx_valid:
                    self.fail("tx_req_valid withdrawn before the beat was accepted")
                elif held != self._tx_fields():
                    self.fail("tx_req sop/eop/hdr/prefix/data changed while waiting for ready")
            if tx_valid:
                if self.tx_first_cycle is None:
                    self.tx_first_cycle = self.cycle
                if not self.bme and self.tx_cur is None and held is None:
                    self.tx_valid_while_bme_off += 1
                    self.fail("tx_req presents a new TLP with Bus Master Enable 0")
                if d.tx_req_ready.value:
                    self.tx_held = None
                    self._on_tx_beat()
                else:
                    self.tx_held = self._tx_fields()
            else:
                self.tx_held = None
            rx_taken = self.rx_showing and bool(d.rx_cpl_ready.value)
            if rx_taken and self.rx_beats[0][2]:
                self._cpl_first = self.cycle
            if rx_taken and self.rx_beats[0][3]:
                self.cpl_cycles.append((self._cpl_first, self.cycle))
            self._on_pri(pr_done)
            if d.err_unexpected_cpl.value:
                self.unexpected_pulses += 1

    # Translated MWr TLPs the write side can hold between planning one and its last beat leaving: its output FIFO
    # (4 entries), the stage before it and the TLP on tx_req. The bound only has to be far above that and far
    # below the counters' 16-bit range, so that a planned count that lags the sent one (a wrapped difference)
    # cannot pass for a lead.
    PLANNED_LEAD_MAX = 64

    def _check_snapshot_counters(self, tx_valid: bool) -> None:
        """The counters imsdev_ats_inv takes its snapshots from (docs/ats_pri.md 2.5), against tx_req, every
        cycle (ReadOnly: they hold every edge up to this cycle's): wr_sent_count is exactly the translated MWr
        TLPs whose last beat was accepted; wr_planned_count leads it, by at least one while a translated MWr is
        on tx_req (its header holds a PA, so it was planned); rd_alloc_count - rd_retire_count never exceeds
        TAGS. (quiesce() checks that each pair meets when everything is done.) A write snapshot that missed a
        translated write would let the Invalidate Completion overtake it; one counting other writes would end
        the wait early."""
        d = self.dut
        sent, planned = int(d.wr_sent_count.value), int(d.wr_planned_count.value)
        if sent != self.xl_wr_sent & 0xFFFF:
            self.fail(f"wr_sent_count {sent}, but {self.xl_wr_sent} translated MWr TLPs have left on tx_req")
        lead = (planned - sent) & 0xFFFF
        if lead > self.PLANNED_LEAD_MAX:
            self.fail(f"wr_planned_count {planned} against wr_sent_count {sent}: a lead of {lead} (planned behind sent?)")
        if tx_valid and int(d.tx_req_mwr.value) and (int(d.tx_req_hdr.value) >> 106) & 3 == 2 and lead == 0:
            self.fail(f"a translated MWr is on tx_req but wr_planned_count {planned} does not lead "
                      f"wr_sent_count {sent}: it was not counted as planned")
        outstanding = (int(d.rd_alloc_count.value) - int(d.rd_retire_count.value)) & 0xFFFF
        if outstanding > self.tags:
            self.fail(f"rd_alloc_count - rd_retire_count = {outstanding}, more than TAGS {self.tags}")

    def _check_counters_idle(self) -> None:
        """With nothing in flight every planned translated write has left and every allocated MRd is retired."""
        d = self.dut
        planned, sent = int(d.wr_planned_count.value), int(d.wr_sent_count.value)
        alloc, retire = int(d.rd_alloc_count.value), int(d.rd_retire_count.value)
        if planned != sent:       # (sent against the TLPs seen: every cycle, _check_snapshot_counters)
            self.fail(f"idle: wr_planned_count {planned}, wr_sent_count {sent}: every planned translated write "
                      f"must have left")
        if alloc != retire or alloc != self.mrd_sent & 0xFFFF:
            self.fail(f"idle: rd_alloc_count {alloc}, rd_retire_count {retire}, MRd sent {self.mrd_sent}")

    # ------------------------------------------------------------------ cmd / rsp
    def _drive_cmd(self, c: DmaCmd):
        d = self.dut
        d.cmd_valid.value = 1
        d.cmd_op.value = c.op
        d.cmd_pasid_valid.value = int(c.pasid is not None)
        d.cmd_pasid.value = c.pasid[0] if c.pasid else self.rng.getrandbits(20)
        d.cmd_priv.value = c.pasid[1] if c.pasid else self.rng.getrandbits(1)
        d.cmd_src.value = c.src if c.op in (OP_COPY, OP_FETCH) else self.rng.getrandbits(64)
        d.cmd_dst.value = c.dst
        d.cmd_len.value = c.length
        d.cmd_pattern.value = c.pattern if c.op == OP_FILL else self.rng.getrandbits(64)
        d.cmd_wdata.value = int.from_bytes(c.wdata.ljust(32, b"\0"), "little") if c.op == OP_WRITE \
            else self.rng.getrandbits(256)
        d.cmd_id.value = c.cmd_id
        c.no_ats = self.rng.random() < self.no_ats_prob
        d.cmd_no_ats.value = int(c.no_ats)
        d.cmd_bof.value = int(c.bof)

    def _on_cmd_accept(self, c: DmaCmd):
        c.accept_cycle = self.cycle
        self._plan(c)
        self.active.append(c)
        self.stats["cmds"] += 1

    def _on_rsp_valid(self, rsp_ready: bool):
        d = self.dut
        if not self.active:
            self.fail("rsp_valid with no command active")
            return
        c = self.active[0]
        rid = int(d.rsp_id.value)
        if rid != c.cmd_id:
            self.fail(f"response id {rid} but the oldest active command is {c.describe()}")
            self.active.pop(0)
            c.done.set()
            return
        status = int(d.rsp_status.value)
        nbytes = int(d.rsp_bytes.value)
        if c.rsp_valid_cycle is None:
            c.rsp_valid_cycle = self.cycle
            # every write TLP that makes up rsp_bytes must have been accepted in an earlier cycle
            covered = 0
            for i, (a, n) in enumerate(c.mwr_plan):
                if covered >= nbytes:
                    break
                if i >= len(c.mwr_done_cycle):
                    self.fail(f"{c.describe()}: response ({nbytes} bytes) before write TLP {i} "
                              f"({a:#x}+{n}) was sent")
                    break
                if c.mwr_done_cycle[i] >= self.cycle:
                    self.fail(f"{c.describe()}: response in cycle {self.cycle}, write TLP {i} ended in "
                              f"cycle {c.mwr_done_cycle[i]}")
                covered += n
        if not rsp_ready:
            return
        self.active.pop(0)
        c.rsp_cycle = self.cycle
        c.rsp_status = status
        c.rsp_bytes = nbytes
        if c.op == OP_FETCH:
            c.rsp_data = int(d.rsp_data.value).to_bytes(FETCH_MAX_BYTES, "little")[:c.length]
        self._check_rsp(c)
        c.done.set()

    def _check_rsp(self, c: DmaCmd):
        st, nbytes = c.rsp_status, c.rsp_bytes
        if st != c.expect_status:
            self.fail(f"{c.describe()}: status {STATUS_NAMES.get(st, st)}, expected "
                      f"{STATUS_NAMES.get(c.expect_status)} (bytes {nbytes})")
        if c.expect_status in (ST_OK,):
            if nbytes != c.length:
                self.fail(f"{c.describe()}: rsp_bytes {nbytes}, expected {c.length}")
        elif c.expect_status == ST_INVALID:
            if nbytes != 0:
                self.fail(f"{c.describe()}: invalid command reports {nbytes} bytes")
        else:
            if c.max_bytes is not None and nbytes > c.max_bytes:
                self.fail(f"{c.describe()}: rsp_bytes {nbytes} passes the failed read at offset {c.max_bytes}")
            ends = {0}
            acc = 0
            for _, n in c.mwr_plan:
                acc += n
                ends.add(acc)
            if nbytes not in ends:
                self.fail(f"{c.describe()}: rsp_bytes {nbytes} is not on a write TLP boundary")
        if c.op == OP_FETCH:
            if c.expect_status == ST_OK and c.rsp_data != c.expect_data:
                bad = next(i for i in range(c.length) if c.rsp_data[i] != c.expect_data[i])
                self.fail(f"{c.describe()}: rsp_data byte {bad} is {c.rsp_data[bad]:#04x}, host memory has "
                          f"{c.expect_data[bad]:#04x}")
            if c.expect_status == ST_OK and c.mrd_seen != len(c.mrd_plan):
                self.fail(f"{c.describe()}: {c.mrd_seen} of {len(c.mrd_plan)} reads seen")
            return
        written = sum(n for _, n in c.mwr_plan[:c.mwr_seen])
        if written != min(nbytes, c.length) and c.expect_status != ST_INVALID:
            self.fail(f"{c.describe()}: {written} bytes written but rsp_bytes {nbytes}")
        if c.op == OP_COPY and c.expect_status == ST_OK and c.mrd_seen != len(c.mrd_plan):
            self.fail(f"{c.describe()}: {c.mrd_seen} of {len(c.mrd_plan)} reads seen")
        if c.check_memory and c.orig:
            got = self.mem.read(c.dst - GUARD, c.length + 2 * GUARD)
            exp = bytearray(c.orig)
            n = min(nbytes, c.length)
            exp[GUARD:GUARD + n] = c.expect_data[:n]
            if got != bytes(exp):
                bad = [i for i in range(len(exp)) if got[i] != exp[i]]
                i = bad[0]
                where = "below dst" if i < GUARD else ("past dst" if i >= GUARD + c.length else "in dst")
                self.fail(f"{c.describe()}: memory differs at {len(bad)} byte(s), first at dst{i - GUARD:+d} "
                          f"({where}): got {got[i]:#04x} expected {exp[i]:#04x}")

    # ------------------------------------------------------------------ tx_req
    def _tx_fields(self) -> tuple:
        d = self.dut
        return (int(d.tx_req_sop.value), int(d.tx_req_eop.value), int(d.tx_req_hdr.value),
                int(d.tx_req_prfx_valid.value), int(d.tx_req_prfx.value), int(d.tx_req_data.value))

    def _on_tx_beat(self):
        d = self.dut
        sop = int(d.tx_req_sop.value)
        eop = int(d.tx_req_eop.value)
        hdr = int(d.tx_req_hdr.value)
        pv = int(d.tx_req_prfx_valid.value)
        prfx = int(d.tx_req_prfx.value)
        self.tx_beats += 1
        cur = self.tx_cur
        if cur is None:
            if not sop:
                self.fail(f"tx_req beat without sop outside a TLP (hdr {hdr:#034x})")
                return
            ft = hdr >> 120
            len_dw = ((hdr >> 96) & 0x3FF) or 1024
            has_data = bool(ft & 0x40)
            cur = dict(hdr=hdr, pv=pv, prfx=prfx, beats=-(-len_dw * 4 // self.nb) if has_data else 1,
                       data=[], start=self.cycle)
            self.tx_cur = cur
        else:
            if sop:
                self.fail("sop inside a TLP")
            if hdr != cur["hdr"] or pv != cur["pv"] or (pv and prfx != cur["prfx"]):
                self.fail("tx_req hdr/prefix changed inside a TLP")
        if cur["hdr"] >> 126 & 1:
            cur["data"].append(int(d.tx_req_data.value))
        last = len(cur["data"]) >= cur["beats"] or not (cur["hdr"] >> 126 & 1)
        if bool(eop) != last:
            self.fail(f"tx_req eop={eop} on beat {len(cur['data'])} of {cur['beats']} (hdr {cur['hdr']:#034x})")
        if eop or last:
            self.tx_cur = None
            self.tx_tlps += 1
            self._on_tx_tlp(cur)

    def _on_tx_tlp(self, t: dict):
        hdr = t["hdr"]
        ft = hdr >> 120
        if ft not in (FT_MRD32, FT_MRD64, FT_MWR32, FT_MWR64):
            self.fail(f"unexpected TLP type {ft:#04x} on tx_req")
            return
        is_wr = bool(ft & 0x40)
        is_4dw = bool(ft & 0x20)
        at = (hdr >> 106) & 3
        if (hdr >> 108) & ((1 << 12) - 1) or (at and not self.ats):
            self.fail(f"TC/attr/TH/TD/EP/AT bits set in {hdr:#034x}")
        if at == 1:
            self._on_xreq(t)
            return
        if is_wr and at == 2:
            self.xl_wr_sent += 1
        elif not is_wr:
            self.mrd_sent += 1
        len_dw = ((hdr >> 96) & 0x3FF) or 1024
        req_id = (hdr >> 80) & 0xFFFF
        tag = (hdr >> 72) & 0xFF
        last_be = (hdr >> 68) & 0xF
        first_be = (hdr >> 64) & 0xF
        if is_4dw:
            addr = ((hdr >> 32) & 0xFFFF_FFFF) << 32 | (hdr & 0xFFFF_FFFC)
            if hdr & 3:
                self.fail("4DW header address bits [1:0] not 0")
            if addr < (1 << 32):
                self.fail(f"4DW header for address {addr:#x} below 4 GiB")
        else:
            addr = (hdr >> 32) & 0xFFFF_FFFC
            if (hdr >> 32) & 3 or hdr & 0xFFFF_FFFF:
                self.fail(f"3DW header with nonzero reserved / DW3 bits: {hdr:#034x}")
        if at == 2:                       # translated: back to the untranslated address for the checks below
            addr ^= self.ats_key << 12
            self.stats["xlated"] += 1
        if req_id != self.bdf:
            self.fail(f"requester ID {req_id:#06x}, cfg_bdf is {self.bdf:#06x}")
        r = be_range(first_be, last_be, len_dw)
        if r is None:
            self.fail(f"bad byte enables first {first_be:#x} last {last_be:#x} for length {len_dw}")
            return
        start, end = addr + r[0], addr + r[1]
        nbytes = end - start
        if addr // 4096 != (addr + 4 * len_dw - 1) // 4096:
            self.fail(f"TLP {addr:#x}+{4 * len_dw} crosses a 4 KiB boundary")
        # owning command
        owners = [c for c in self.active
                  if (c.op in (OP_COPY, OP_FETCH) and not is_wr and c.src <= start and end <= c.src + c.length)
                  or (is_wr and c.op != OP_FETCH and c.dst <= start and end <= c.dst + c.length)]
        if len(owners) != 1:
            self.fail(f"{'MWr' if is_wr else 'MRd'} {start:#x}+{nbytes}: {len(owners)} owning commands "
                      f"(active {[c.describe() for c in self.active]})")
            return
        c = owners[0]
        want_at = 2 if (self.ats and c.pasid is not None and not getattr(c, "no_ats", False)) else 0
        if at != want_at:
            self.fail(f"{c.describe()}: {'MWr' if is_wr else 'MRd'} {start:#x} with AT={at}, expected {want_at}")
        if c.first_tx_cycle is None:
            c.first_tx_cycle = t["start"]
        # PASID prefix
        if c.pasid is None:
            if t["pv"]:
                self.fail(f"{c.describe()}: PASID prefix {t['prfx']:#010x} on a command without PASID")
        else:
            exp = 0x91 << 24 | c.pasid[1] << 23 | c.pasid[0]
            if not t["pv"]:
                self.fail(f"{c.describe()}: TLP without PASID prefix")
            elif t["prfx"] != exp:
                self.fail(f"{c.describe()}: PASID prefix {t['prfx']:#010x}, expected {exp:#010x}")
        if is_wr:
            self.stats["mwr"] += 1
            if 4 * len_dw > (128 << min(self.mps, 5)):
                self.fail(f"MWr of {len_dw} DW exceeds MPS {128 << self.mps}")
            if tag != 0:
                self.fail(f"MWr with tag {tag}")
            i = c.mwr_seen
            if i >= len(c.mwr_plan) or c.mwr_plan[i] != (start, nbytes):
                self.fail(f"{c.describe()}: MWr {start:#x}+{nbytes} is not write {i} of the plan "
                          f"{c.mwr_plan[i] if i < len(c.mwr_plan) else 'past the end'}")
                return
            c.mwr_seen += 1
            c.mwr_done_cycle.append(self.cycle)
            payload = b"".join(x.to_bytes(self.nb, "little") for x in t["data"])
            self.mem.write(start, payload[r[0]:r[1]])
        else:
            self.stats["mrd"] += 1
            if nbytes > (128 << min(self.mrrs, 5)):
                self.fail(f"MRd of {nbytes} bytes exceeds MRRS {128 << self.mrrs}")
            i = c.mrd_seen
            if i >= len(c.mrd_plan) or c.mrd_plan[i] != (start, nbytes):
                self.fail(f"{c.describe()}: MRd {start:#x}+{nbytes} is not read {i} of the plan "
                          f"{c.mrd_plan[i] if i < len(c.mrd_plan) else 'past the end'}")
                return
            c.mrd_seen += 1
            if tag >= self.tags:
                self.fail(f"MRd tag {tag} >= TAGS {self.tags}")
            if tag in self.reads:
                self.fail(f"MRd tag {tag} reused while outstanding")
            self.dead_tags.discard(tag)
            self._new_read(tag, start, nbytes, req_id, c, i)

    # ------------------------------------------------------------------ PRI (imsdev_pri's role)
    def _on_pri(self, done_now: int):
        d = self.dut
        req = int(d.pr_req.value)
        for s in range(2):
            if not req >> s & 1:
                self.pri_done_last[s] = False
                continue
            if self.pri_done_last[s]:
                self.fail(f"side {s}: pr_req still set the cycle after its done")
            self.pri_done_last[s] = bool(done_now >> s & 1)
            if self.pri_wait[s] is not None or done_now >> s & 1:
                continue
            key = ((int(d.pr_pasid.value) >> (20 * s)) & 0xFFFFF, (int(d.pr_priv.value) >> s) & 1,
                   (int(d.pr_page.value) >> (52 * s)) & ((1 << 52) - 1))
            plan = self.pri_plan.get(key)
            self.stats["preq"] = self.stats.get("preq", 0) + 1
            if not plan:
                self.fail(f"side {s}: unexpected page request for PASID {key[0]:#x}/{key[1]} page {key[2]:#x}")
                self.pri_wait[s] = (key, self.cycle + 1, "RF")
                continue
            deny = self.deny.get(key)
            if deny != ("R" if s == 0 else "W"):
                self.fail(f"side {s}: page request for page {key[2]:#x} whose translation was {deny}")
            outcome = plan.pop(0)
            self.pri_log.append((s, key, outcome))
            self.pri_wait[s] = (key, self.cycle + self.rng.randint(1, 40), outcome)

    # ------------------------------------------------------------------ ATS translation agent
    def _on_xreq(self, t: dict):
        hdr = t["hdr"]
        ft = hdr >> 120
        tag = (hdr >> 72) & 0xFF
        is_4dw = bool(ft & 0x20)
        addr = (((hdr >> 32) & 0xFFFF_FFFF) << 32 | (hdr & 0xFFFF_F000)) if is_4dw else (hdr >> 32) & 0xFFFF_F000
        nw = (hdr & 1) if is_4dw else (hdr >> 32) & 1
        len_dw = (hdr >> 96) & 0x3FF
        self.stats["xreq"] += 1
        if ft not in (FT_MRD32, FT_MRD64) or len_dw != 2 or not t["pv"]:
            self.fail(f"Translation Request must be an MRd of 2 DW with a PASID prefix: {hdr:#034x} pv={t['pv']}")
            return
        if tag not in (self.tags, self.tags + 1):
            self.fail(f"Translation Request tag {tag} (translation tags {self.tags}, {self.tags + 1})")
        if nw != (tag == self.tags):
            self.fail(f"Translation Request tag {tag} with NW={nw} (read side asks NW=1, write side 0)")
        page = addr >> 12
        key = (t["prfx"] & 0xFFFFF, (t["prfx"] >> 23) & 1)
        # The page is one the asking side is about to access for an active command under ATS: the read side
        # (tag TAGS) a page of a COPY's or FETCH's source, the write side a page of a COPY's, FILL's or WRITE's
        # destination (a FETCH writes nothing: its bytes go to the caller). Or it repeats the side's previous
        # request: after a stale answer (an invalidation or an ATS re-enable while it was out) the device asks
        # again whether or not a command still waits for it (PCIe 10.3.6).
        write_side = tag == self.tags + 1
        repeat = self.last_xreq[write_side] == key + (page,)
        self.last_xreq[write_side] = key + (page,)
        owners = [c for c in self.active
                  if c.pasid is not None and tuple(c.pasid) == key and not getattr(c, "no_ats", False) and c.length
                  and ((not write_side and c.op in (OP_COPY, OP_FETCH)
                        and c.src >> 12 <= page <= (c.src + c.length - 1) >> 12)
                       or (write_side and c.op != OP_FETCH
                           and c.dst >> 12 <= page <= (c.dst + c.length - 1) >> 12))]
        if not owners and not repeat:
            self.fail(f"Translation Request ({'write' if write_side else 'read'} side) for page {page:#x} of PASID "
                      f"{key}: no active command {'writes' if write_side else 'reads'} it under ATS")
        deny = self.deny.get(key + (page,))
        size = 0 if key in self.deny_pasids else self.rng.choice(self.xlate_sizes)
        if deny == "UR":
            self.queue_bogus(cpl_hdr(False, CPL_UR, self.cpl_id, (hdr >> 80) & 0xFFFF, tag, 0, 8, 0), None)
            self.stats["xdeny"] = self.stats.get("xdeny", 0) + 1
            return
        perm = {"R": 0b10, "W": 0b01}.get(deny, 0b11)
        self.stats["xdeny"] = self.stats.get("xdeny", 0) + (deny is not None)
        s_bit, field_ = s_encode(size, page ^ self.ats_key)
        entry = field_ << 12 | s_bit << 11 | perm
        req_id = (hdr >> 80) & 0xFFFF
        if self.xreq_foreign_every and self.stats["xreq"] % self.xreq_foreign_every == 0:
            # first a completion with the translation tag for another requester (a misrouted one): it denies
            # the page (R = W = 0) at another address, so taking it would fail the command or move its data;
            # the device must drop it (one err_unexpected_cpl pulse) and take the real one behind it
            bad = cpl_hdr(True, CPL_SC, self.cpl_id, req_id ^ 0x0100, tag, 2, 8, RCB - 8)
            self.queue_bogus(bad, ((field_ ^ 0x5A5) << 12 | s_bit << 11).to_bytes(8, "big"))
            self.xreq_foreign_sent += 1
        cpl = cpl_hdr(True, CPL_SC, self.cpl_id, req_id, tag, 2, 8, RCB - 8)
        hold = key + (page, write_side)
        if hold in self.xreq_hold:
            self.xreq_hold.discard(hold)
            self.xreq_held[hold] = (cpl, entry.to_bytes(8, "big"))
            return
        self.queue_bogus(cpl, entry.to_bytes(8, "big"))

    def release_xreq(self, hold) -> None:
        """Send a held Translation Completion now."""
        self.queue_bogus(*self.xreq_held.pop(hold))

    def set_ats_enable(self, on: bool) -> None:
        """ATS Enable (cfg_ats_en). Only while no TLP of a translated command is on its way: the bench expects
        AT = 10b on a command's TLPs by the enable it sees when the TLP leaves."""
        self.ats = on
        self.dut.cfg_ats_en.value = int(on)

    # ------------------------------------------------------------------ host completer
    def _new_read(self, tag, start, nbytes, req_id, cmd, index):
        base = start & ~3
        end_dw = (start + nbytes + 3) & ~3
        data = self.mem.read(base, end_dw - base)
        cuts = [start]
        b = (start // RCB + 1) * RCB
        while b < start + nbytes:
            if self.rng.random() < self.split_prob:
                cuts.append(b)
            b += RCB
        cuts.append(start + nbytes)
        pieces = deque((cuts[k], cuts[k + 1]) for k in range(len(cuts) - 1))
        rr = ReadReq(tag=tag, addr=start, nbytes=nbytes, req_id=req_id, cmd=cmd, index=index, base=base,
                     data=data, pieces=pieces, ready=self.cycle + self.rng.randint(*self.cpl_delay)
                     + self.hold.pop((cmd.cmd_id, index), 0))
        fault = self.faults.pop((cmd.cmd_id, index), None)
        if fault:
            rr.fault, at = fault
            rr.fault_at = min(at, len(pieces) - 1)
        self.reads[tag] = rr
        self.pending.append(rr)

    @property
    def rx_showing(self) -> bool:
        return bool(self.rx_beats) and self.rx_beats[0][4]

    def _drive_rx(self):
        """Pop the beat just taken, then show the next beat or an idle cycle."""
        d = self.dut
        if self.rx_beats and self.rx_beats[0][4]:
            self.rx_beats.popleft()
        if not self.rx_beats:
            self._next_cpl()
        if self.rx_beats and self.rng.random() >= self.rx_idle:
            hdr, data, sop, eop, _ = self.rx_beats[0]
            self.rx_beats[0] = (hdr, data, sop, eop, True)
            d.rx_cpl_valid.value = 1
            d.rx_cpl_sop.value = sop
            d.rx_cpl_eop.value = eop
            d.rx_cpl_hdr.value = hdr
            d.rx_cpl_data.value = data
        else:
            d.rx_cpl_valid.value = 0

    def _queue_tlp(self, hdr: int, payload: bytes | None):
        if payload is None:
            self.rx_beats.append((hdr, 0, 1, 1, False))
            return
        chunks = [payload[k:k + self.nb] for k in range(0, len(payload), self.nb)]
        for k, ch in enumerate(chunks):
            self.rx_beats.append((hdr, int.from_bytes(ch, "little"), int(k == 0), int(k == len(chunks) - 1), False))

    def _next_cpl(self):
        if self.bogus:
            for beat in self.bogus.popleft():
                self.rx_beats.append(beat + (False,))
            return
        ready = [r for r in self.pending if r.ready <= self.cycle]
        if not ready:
            return
        rr = ready[0] if self.in_order else self.rng.choice(ready)
        s, e = rr.pieces[0]
        k = rr.sent
        remaining = rr.addr + rr.nbytes - s
        la = s & 0x7F
        if rr.fault == "DROP" or (rr.fault and k == rr.fault_at):
            # nothing from s on can be written: the command must stop before it
            lim = s - rr.cmd.src
            rr.cmd.max_bytes = lim if rr.cmd.max_bytes is None else min(rr.cmd.max_bytes, lim)
        if rr.fault == "DROP":
            self.pending.remove(rr)
            del self.reads[rr.tag]
            self.dead_tags.add(rr.tag)
            self.late.append(rr)
            return
        if rr.fault in ("UR", "CA") and k == rr.fault_at:
            st = CPL_UR if rr.fault == "UR" else CPL_CA
            # A completion with a status other than SC ends its request whatever its Byte Count and Lower
            # Address say (PCIe r6.3 2.3.2): every other one carries Byte Count 0 (4096 bytes) and an
            # unaligned Lower Address (counted per status), which no successful completion of these requests
            # could carry.
            self._error_cpls[st] += 1
            bc, la_e = (0, la | 3) if self._error_cpls[st] % 2 else (remaining & 0xFFF, la)
            self.error_cpl_cycle = self.cycle
            self._queue_tlp(cpl_hdr(False, st, self.cpl_id, rr.req_id, rr.tag, 0, bc, la_e), None)
            self.pending.remove(rr)
            del self.reads[rr.tag]
            self.stats["cpl"] += 1
            return
        dws, dwe = s & ~3, (e + 3) & ~3
        payload = rr.data[dws - rr.base:dwe - rr.base]
        poisoned = rr.fault == "POISON" and k == rr.fault_at
        corrupt = False
        if not rr.fault and self.corrupt_every:
            self._corrupt_seen += 1
            corrupt = self._corrupt_seen % self.corrupt_every == 0
        if corrupt:
            # the same completion with one thing wrong: foreign requester ID, lower address, byte count, or
            # sent as a Cpl without data (status SC)
            kind = self.corrupt_sent % 4
            self.corrupt_kinds[kind] += 1
            bogus = cpl_hdr(True, CPL_SC, self.cpl_id, rr.req_id ^ (0x0100 if kind == 0 else 0), rr.tag,
                            (dwe - dws) // 4, (remaining + (4 if kind == 2 else 0)) & 0xFFF,
                            la ^ (4 if kind == 1 else 0))
            if kind == 3:       # Fmt/Type of a Cpl; the Length field (reserved there) still holds the CplD's
                bogus = bogus & ~(0xFF << 120) | FT_CPL << 120
            self._queue_tlp(bogus, self.rng.randbytes(len(payload)) if kind != 3 else None)
        self._queue_tlp(cpl_hdr(True, CPL_SC, self.cpl_id, rr.req_id, rr.tag, (dwe - dws) // 4,
                                remaining & 0xFFF, la, poisoned), payload)
        self.stats["cpl"] += 1
        rr.pieces.popleft()
        rr.sent = k + 1
        rr.ready = self.cycle + self.rng.randint(*self.cpl_gap)
        if not rr.pieces:
            self.pending.remove(rr)
            del self.reads[rr.tag]

    @property
    def corrupt_sent(self) -> int:
        return sum(self.corrupt_kinds)

    def set_corruption(self, every: int) -> None:
        """Precede every `every`-th fault-free completion by a corrupted copy (0: none), from a random phase."""
        if every < 0:
            raise ValueError(f"set_corruption: every = {every} (0 for none, else a period)")
        self.corrupt_every = every
        self._corrupt_seen = self.rng.randrange(every) if every else 0

    def send_late(self):
        """Answer the dropped reads now (complete, in order): each completion is unexpected by now."""
        n = 0
        for rr in self.late:
            for s, e in rr.pieces:
                dws, dwe = s & ~3, (e + 3) & ~3
                remaining = rr.addr + rr.nbytes - s
                hdr = cpl_hdr(True, CPL_SC, self.cpl_id, rr.req_id, rr.tag, (dwe - dws) // 4, remaining & 0xFFF,
                              s & 0x7F)
                payload = rr.data[dws - rr.base:dwe - rr.base]
                chunks = [payload[k:k + self.nb] for k in range(0, len(payload), self.nb)]
                self.bogus.append([(hdr, int.from_bytes(ch, "little"), int(k == 0), int(k == len(chunks) - 1))
                                   for k, ch in enumerate(chunks)])
                n += 1
        self.late.clear()
        return n

    def queue_bogus(self, hdr: int, payload: bytes | None):
        if payload is None:
            self.bogus.append([(hdr, 0, 1, 1)])
            return
        chunks = [payload[k:k + self.nb] for k in range(0, len(payload), self.nb)] or [b""]
        self.bogus.append([(hdr, int.from_bytes(ch, "little"), int(k == 0), int(k == len(chunks) - 1))
                           for k, ch in enumerate(chunks)])
