"""Work-queue side of the bench, written against docs/work_queues.md (not against the RTL).

What is here, and why it is not in the tests:
* the encodings of the document (opcodes, flags, statuses, handles, WQ states) in ONE place;
* `Descriptor` (dataclass -> the 64-byte little-endian layout) and `CompletionRecord` (32-byte parser);
* `WqEnv`: a `tb.env.Bench` plus what a driver does to the work-queue side: CMD/CMDSTS commands (with
  timeouts), WQCFG programming (and the values the device latched at ENABLE_WQ), the PASID capability
  control, portal submissions (ENQCMD = DMWr with a PASID prefix, bounded retry like Linux's idxd;
  MOVDIR64B = one posted 64-byte write without prefix), raw portal requests for the bad-input tests, the
  SWERR log, IMS/MSI-X programming with a shadow the scoreboard predicts interrupts from, host buffers;
* `DmaHold`: holds the device's DMA read completions (rx_cpl) so that a MEMMOVE in execution stalls and
  the queues behind it stay put: this is what makes "queue full", "abort discards N", "drain waits" and
  "command ignored while ACTIVE" deterministic instead of racy;
* `Scoreboard`: every descriptor is accounted for exactly once (completed with the expected record and
  data, rejected at submission, dropped with its SWERR, or aborted), every DMA request of a descriptor
  carries its PASID/PMR, completion records are never written twice, interrupts follow their record.
  By default descriptor addresses are host physical addresses. With DMA translation on (tb/sva.py),
  `Scoreboard.add_space(pasid, space)` makes that PASID's descriptors use the process's virtual address
  space: their buffers are read and watched there (two processes may use the same virtual addresses),
  and the space says what the device may really read and write (`dma_readable`, `dma_writable`), so a
  translation fault is predicted (a read: status 0x03, page fault; a write: dropped, memory unchanged).

Conventions: helpers raise AssertionError with a message naming the descriptor/command; every wait has a
timeout. Seeds come from bench.rng (the test's cocotb seed, printed by Bench.start).
"""
from __future__ import annotations

import itertools
import os
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field, replace
from typing import Iterable, NamedTuple, Optional

from cocotb.triggers import Event, Timer, with_timeout
from cocotb.utils import get_sim_time
from cocotbext.pcie.core.caps import PciExtCapId
from cocotbext.pcie.core.tlp import CplStatus

from imsdev import regs
from imsdev.driver import uapi
from imsdev.driver.uapi import DsaHwDesc
from tb import coverage
from tb.env import PAUSE_PROBABILITY, Bench
from tb.msglog import WINDOW_32, WINDOW_64
from tb.pcie.root_complex import write_span
from tb.pcie.stream import Gate, random_pauses
from tb.pcie.tlp import RRS, PasidTlp

# ---- encodings of docs/work_queues.md ------------------------------------------------------------------
OP_NOOP = 0x00
OP_BATCH = 0x01         # DSA_OPCODE_BATCH: list address in the source slot, count in the size slot
OP_DRAIN = 0x02
OP_MEMMOVE = 0x03
OP_MEMFILL = 0x04
OPCODES = {OP_NOOP: "NOOP", OP_DRAIN: "DRAIN", OP_MEMMOVE: "MEMMOVE", OP_MEMFILL: "MEMFILL"}

FLAG_FENCE = 0x1
FLAG_BOF = 0x2
FLAG_CRAV = 0x4         # completion record address valid
FLAG_RCR = 0x8          # request a completion record
FLAG_RCI = 0x10         # request a completion interrupt
FLAG_CC = 0x100
FLAG_STORD = 0x2000
FLAGS_ACCEPTED = FLAG_FENCE | FLAG_BOF | FLAG_CRAV | FLAG_RCR | FLAG_RCI | FLAG_CC | FLAG_STORD
FLAGS_MASK = 0xFF_FFFF  # flags[23:0]

ST_SUCCESS = 0x01
ST_BAD_OPCODE = 0x10
ST_BAD_FLAGS = 0x11
ST_RESERVED = 0x12
ST_XFER_SIZE = 0x13
ST_INT_HANDLE = 0x19
ST_CR_ALIGN = 0x1B      # completion record address not 32-byte aligned: never in a record, only in SWERR NO_CR
ST_PAGE_FAULT = 0x03    # DSA_COMP_PAGE_FAULT_NOBOF: a source read answered UR/CA
ST_HW_ERR = 0x20        # DSA_COMP_HW_ERR1: a source read poisoned or timed out
ST_PAGE_FAULT_IR = 0x04  # DSA_COMP_PAGE_FAULT_IR: Block-on-Fault, the page request was answered Invalid Request
DMA_READ_FAILURES = (ST_PAGE_FAULT, ST_HW_ERR, ST_PAGE_FAULT_IR)  # the record carries bytes completed and fault address
ST_BATCH_FAIL = 0x05        # DSA_COMP_BATCH_FAIL: a member did not succeed
ST_BATCH_PAGE_FAULT = 0x06  # DSA_COMP_BATCH_PAGE_FAULT: a read of the descriptor list answered UR/CA
ST_DESC_CNT = 0x14          # DSA_COMP_DESC_CNT_ERANGE: count < 2 or above the WQ's limit
ST_LIST_ALIGN = 0x18        # DSA_COMP_DESCLIST_ALIGN: list address not 64-byte aligned
STATUS_NAMES = {ST_SUCCESS: "success", ST_BAD_OPCODE: "invalid opcode", ST_BAD_FLAGS: "invalid flags",
                ST_RESERVED: "reserved field", ST_XFER_SIZE: "transfer size", ST_INT_HANDLE: "interrupt handle",
                ST_CR_ALIGN: "record address not aligned", ST_PAGE_FAULT: "page fault", ST_HW_ERR: "hardware error",
                ST_PAGE_FAULT_IR: "page fault, page request invalid",
                ST_BATCH_FAIL: "batch member failed", ST_BATCH_PAGE_FAULT: "batch list page fault",
                ST_DESC_CNT: "descriptor count", ST_LIST_ALIGN: "descriptor list alignment"}

HANDLE_IMS = 0x8000     # interrupt handle bit 15: IMS entry handle[14:0] of the submitting WQ
HANDLE_IMS_INDEX_MASK = 0x7FFF
HANDLE_MSIX_MASK = 0x7FF


def ims_handle(index: int) -> int:
    return HANDLE_IMS | (index & HANDLE_IMS_INDEX_MASK)


def msix_handle(vector: int) -> int:
    return vector & HANDLE_MSIX_MASK


WQ_STATE_DISABLED = 0
WQ_STATE_ENABLED = 1
WQ_STATE_DRAINING = 2

DESC_BYTES = 64
CR_BYTES = 32
CR_ALIGN = 32
PORTAL_STRIDE = 0x1000
RSVD_DW0_MASK = 0x7FF << 20          # descriptor DW0 bits [30:20]
ENQCMD_RETRIES = 32                  # Linux idxd's default wq->enqcmds_retries (IDXD_ENQCMDS_RETRIES)
DEFAULT_CMD_TIMEOUT_NS = 200_000
GUARD = 64                           # bytes checked untouched on each side of a destination buffer

# Addresses the RC answers reads with UR (nothing registered there) and CA (inside the host memory pool but
# not allocated: cocotbext-pcie's pool read raises, the RC turns that into Completer Abort). Checked at
# run time by WqEnv.unbacked_address().
UR_ADDRESS = 0x0000_0020_0000_0000
HIGH_ARENA_BASE = 0x0000_0002_0000_0000   # host memory above 4 GiB (4DW DMA headers)


def _get(value: int, prefix: str) -> int:
    return (value & getattr(regs, prefix + "_MASK")) >> getattr(regs, prefix + "_SHIFT")


def _prep(prefix: str, x: int) -> int:
    mask, shift = getattr(regs, prefix + "_MASK"), getattr(regs, prefix + "_SHIFT")
    if (x << shift) & ~mask:
        raise ValueError(f"{x:#x} does not fit in {prefix}")
    return x << shift


# ---- descriptor and completion record -----------------------------------------------------------------
@dataclass
class Descriptor:
    """docs/work_queues.md 'Descriptor (64 bytes, little endian, DSA-like)'."""
    opcode: int = OP_NOOP
    flags: int = FLAG_CRAV | FLAG_RCR
    pasid: int = 0                  # DW0[19:0]; a shared WQ uses the DMWr prefix instead
    priv: bool = False              # DW0[31]
    cr_addr: int = 0
    src: int = 0                    # MEMMOVE source address; MEMFILL 8-byte pattern
    dst: int = 0
    size: int = 0
    int_handle: int = 0
    rsvd_dw0: int = 0               # value of DW0[30:20] (must be 0)
    rsvd_tail: bytes = bytes(26)    # bytes 38..63 (must be 0)

    # The byte layout is the firmware kit's (fw/imsdev/driver/uapi.py DsaHwDesc): one codec, which checks
    # every field (a value that does not fit raises FieldError naming the field).
    def to_hw(self) -> DsaHwDesc:
        return DsaHwDesc(opcode=self.opcode, flags=self.flags, pasid=self.pasid, priv=self.priv,
                         completion_addr=self.cr_addr, src_addr=self.src, dst_addr=self.dst, xfer_size=self.size,
                         int_handle=self.int_handle, rsvd_dw0=self.rsvd_dw0, rsvd_tail=bytes(self.rsvd_tail))

    def pack(self) -> bytes:
        return self.to_hw().pack()

    @classmethod
    def unpack(cls, raw: bytes) -> "Descriptor":
        h = DsaHwDesc.unpack(raw)
        return cls(opcode=h.opcode, flags=h.flags, pasid=h.pasid, priv=h.priv, cr_addr=h.completion_addr,
                   src=h.src_addr, dst=h.dst_addr, size=h.xfer_size, int_handle=h.int_handle,
                   rsvd_dw0=h.rsvd_dw0, rsvd_tail=h.rsvd_tail)

    @property
    def pattern(self) -> bytes:
        return self.src.to_bytes(8, "little")

    def describe(self) -> str:
        if self.opcode == OP_BATCH:
            return f"BATCH flags={self.flags:#x} list={self.src:#x} count={self.size} cr={self.cr_addr:#x}"
        op = OPCODES.get(self.opcode, f"op{self.opcode:#04x}")
        s = f"{op} flags={self.flags:#x} size={self.size} cr={self.cr_addr:#x}"
        if self.opcode == OP_MEMMOVE:
            s += f" src={self.src:#x}"
        if self.opcode in (OP_MEMMOVE, OP_MEMFILL):
            s += f" dst={self.dst:#x}"
        if self.flags & FLAG_RCI:
            s += f" handle={self.int_handle:#06x}"
        return s


class CompletionRecord(NamedTuple):
    """docs/work_queues.md 'Completion record (32 bytes at the completion record address)'."""
    status: int          # byte 0 bits 6:0
    status_bit7: int     # byte 0 bit 7 (not defined by the document: expected 0)
    result: int          # byte 1
    bytes_completed: int
    fault_addr: int
    invalid_flags: int
    raw: bytes

    @classmethod
    def parse(cls, raw: bytes) -> "CompletionRecord":
        raw = bytes(raw)
        if len(raw) != CR_BYTES:
            raise ValueError(f"a completion record is {CR_BYTES} bytes, got {len(raw)}")
        return cls(raw[0] & 0x7F, raw[0] >> 7, raw[1], int.from_bytes(raw[4:8], "little"),
                   int.from_bytes(raw[8:16], "little"), int.from_bytes(raw[16:20], "little"), raw)

    def __str__(self):
        return (f"CR(status={self.status:#04x} [{STATUS_NAMES.get(self.status, '?')}], result={self.result}, "
                f"bytes={self.bytes_completed}, fault={self.fault_addr:#x}, invalid_flags={self.invalid_flags:#x})")


class SwErr(NamedTuple):
    """SWERR0..3 decoded (docs/registers.md)."""
    valid: bool
    overflow: bool
    wq_valid: bool
    code: int
    wq: int
    code_status: int
    priv: bool
    pasid: int
    opcode: int
    addr: int
    fault_rw: bool = False

    @classmethod
    def decode(cls, w0: int, w1: int, w2: int, w3: int) -> "SwErr":
        return cls(bool(_get(w0, "CSR_SWERR0_VALID")), bool(_get(w0, "CSR_SWERR0_OVERFLOW")),
                   bool(_get(w0, "CSR_SWERR0_WQ_VALID")), _get(w0, "CSR_SWERR0_CODE"), _get(w0, "CSR_SWERR0_WQ"),
                   _get(w0, "CSR_SWERR0_CODE_STATUS"), bool(_get(w0, "CSR_SWERR0_PRIV")),
                   _get(w1, "CSR_SWERR1_PASID"), _get(w1, "CSR_SWERR1_OPCODE"), (w3 << 32) | w2,
                   bool(_get(w0, "CSR_SWERR0_FAULT_RW")))

    def __str__(self):
        return (f"SWERR(valid={int(self.valid)} overflow={int(self.overflow)} code={self.code:#x} "
                f"[{_enum('SWERR', self.code)}] wq_valid={int(self.wq_valid)} wq={self.wq} pasid={self.pasid:#x} "
                f"priv={int(self.priv)} code_status={self.code_status:#x} fault_rw={int(self.fault_rw)} "
                f"opcode={self.opcode:#x} addr={self.addr:#x})")


class CmdStatus(NamedTuple):
    err: int
    result: int


@dataclass(frozen=True)
class WqConfig:
    """What a driver writes to WQCFG[n] before ENABLE_WQ."""
    size: int
    dedicated: bool = False
    pasid: int = 0
    pasid_en: bool = True
    priv: bool = False
    prio: int = 0
    max_xfer_shift: int = 16
    max_batch_shift: int = 15       # WQCFG3.MAX_BATCH_SHIFT (the reset value: the device's limit applies)
    bof_en: bool = False            # WQCFG2.BOF_EN (Block-on-Fault allowed; docs/ats_pri.md 2.1)
    prs_disable: bool = False       # WQCFG2.PRS_DISABLE

    def wqcfg2(self) -> int:
        return (_prep("CSR_WQCFG_WQCFG2_MODE", int(self.dedicated)) | _prep("CSR_WQCFG_WQCFG2_PRIO", self.prio)
                | _prep("CSR_WQCFG_WQCFG2_PASID", self.pasid) | _prep("CSR_WQCFG_WQCFG2_PASID_EN", int(self.pasid_en))
                | _prep("CSR_WQCFG_WQCFG2_PRIV", int(self.priv)) | _prep("CSR_WQCFG_WQCFG2_BOF_EN", int(self.bof_en))
                | _prep("CSR_WQCFG_WQCFG2_PRS_DISABLE", int(self.prs_disable)))

    @property
    def dma_pasid(self) -> Optional[int]:
        """PASID a dedicated WQ's DMA carries (None: no prefix)."""
        return self.pasid if self.pasid_en else None


@dataclass
class IrqEntry:
    """Shadow of one MSI-X vector or IMS entry, as the driver programmed it."""
    addr: int
    data: int
    masked: bool
    pasid_en: bool = False
    pasid: int = 0


def msix_msg(v: int, high: bool = False) -> tuple[int, int]:
    """A distinct (address, data) per MSI-X vector in the bench's raw message windows."""
    base = WINDOW_64[0] if high else WINDOW_32[0]
    return base + 0x10 * v, 0xC000_0000 | v


def ims_msg(wq: int, index: int, high: bool = False, gen: int = 0) -> tuple[int, int]:
    """A distinct (address, data) per (WQ, IMS entry, generation), away from the MSI-X messages: the upper half
    of the 1 MiB message window holds 16 WQs x 4 generations x 2048 entries (32 KiB per WQ)."""
    if not (0 <= wq < 16 and 0 <= index < 2048):
        raise ValueError(f"ims_msg: wq {wq} (0..15) or index {index} (0..2047) outside the message window's layout")
    base = (WINDOW_64[0] if high else WINDOW_32[0]) + 0x8_0000
    return base + wq * 0x8000 + (gen & 0x3) * 0x2000 + index * 4, 0xA000_0000 | (gen & 0xFF) << 20 | wq << 16 | index


# ---- host memory -----------------------------------------------------------------------------------------
class HostArena:
    """A bump allocator over one host memory region of the RC, with chosen alignment. Every allocation is
    filled with seeded random bytes, so a missing or stale DMA write cannot match by accident."""

    def __init__(self, bench: Bench, size: int, base: Optional[int] = None):
        rc = bench.rc
        if base is None:
            self.base, _ = rc.alloc_region(size)
        else:
            rc.map_host_memory(base, size)
            self.base = base
        self.size = size
        self.next = self.base
        self.mem = rc.host_memory
        self.rng = bench.rng

    def alloc(self, size: int, align: int = 64, offset: int = 0, guard: int = GUARD) -> int:
        """Address A with A % align == offset % align, and `guard` spare bytes on both sides."""
        start = self.next + guard
        a = start + ((offset - start) % align)
        end = a + max(size, 1) + guard
        if end > self.base + self.size:
            raise MemoryError(f"host arena at {self.base:#x} ({self.size} bytes) exhausted")
        self.next = end
        self.mem.write(a - guard, self.rng.randbytes(end - (a - guard)))
        return a

    def tail(self, n: int) -> int:
        """Take the last n bytes of the region (never handed out by alloc): a source there that runs past the
        end reads unbacked memory partway through."""
        self.size -= n
        assert self.next <= self.base + self.size, "host arena: tail() after the arena reached its end"
        return self.base + self.size

    def alloc_cr(self, misalign: int = 0) -> int:
        """A completion record slot (32-byte aligned, or `misalign` bytes past alignment)."""
        return self.alloc(CR_BYTES, CR_ALIGN, misalign)

    def read(self, addr: int, n: int) -> bytes:
        return self.mem.read(addr, n)

    def write(self, addr: int, data: bytes):
        self.mem.write(addr, data)


# ---- holding the device's DMA reads ----------------------------------------------------------------------
class DmaHold:
    """While held, no completion for the device's DMA reads gets through rx_cpl, so the MEMMOVE executing
    stalls and everything queued behind it stays queued. Keeps the bench's idle insertion when released.
    Holds must stay far below the DMA completion timeout (status 0x20) - a few microseconds."""

    def __init__(self, bench: Bench):
        base = random_pauses(bench.rng, PAUSE_PROBABILITY) if bench.pauses in ("idle", "both") else None
        self.gen = Gate(after=base, held=False)
        bench.shim.streams["rx_cpl"].set_pause_generator(self.gen)

    def hold(self):
        self.gen.hold()

    def release(self):
        self.gen.release()

    @property
    def held(self) -> bool:
        return self.gen.held


# ---- poisoning the device's DMA reads ---------------------------------------------------------------------
class PoisonedReads:
    """Completions of the device's DMA reads whose request address falls in one of `ranges` ([lo, hi)) leave
    the link poisoned (EP=1); everything else passes untouched. Installed as the shim's completion hook."""

    def __init__(self, bench: Bench):
        self.ranges: list[tuple[int, int]] = []
        bench.shim.cpl_fault = self

    def add(self, lo: int, hi: int):
        self.ranges.append((lo, hi))

    def __call__(self, tlp: PasidTlp, req: PasidTlp) -> list[PasidTlp]:
        if any(lo <= req.address < hi for lo, hi in self.ranges):
            tlp = PasidTlp(tlp)
            tlp.ep = True
        return [tlp]


# ---- the work-queue environment ----------------------------------------------------------------------
class WqEnv:
    """Bench + driver-level access to the work-queue side (commands, WQCFG, portals, IMS, SWERR)."""

    def __init__(self, bench: Bench):
        self.b = bench
        self.p = bench.params
        self.rng = bench.rng
        self.log = bench.log
        self.latched: dict[int, WqConfig] = {}      # config the device latched at ENABLE_WQ
        self.written: dict[int, WqConfig] = {}      # config last written to WQCFG
        self.msix_shadow: dict[int, IrqEntry] = {}
        self.ims_shadow: dict[tuple[int, int], IrqEntry] = {}
        self.pasid_enabled = False
        self.priv_enabled = False
        self.msix_enabled = False
        self.low = HostArena(bench, 8 << 20)
        self.high = HostArena(bench, 4 << 20, base=HIGH_ARENA_BASE)
        self.hold = DmaHold(bench)
        self._unbacked = 0
        # Interrupt handles (docs/work_queues.md "Interrupt handles"): INTHDL_CTL.REQUIRED as written, and
        # the entries granted since the last RESET_DEVICE / FLR: ("msix", vector) or ("ims", wq, entry).
        self.handles_required = False
        self.granted: set[tuple] = set()
        self._cmd_issued: Optional[tuple[int, int]] = None     # (code, operand) written, not yet seen finished
        self.sb = Scoreboard(self)

    @classmethod
    async def start(cls, dut, pauses: str = "none", *, pasid: bool = True, priv: bool = True,
                    msix: bool = True, platform_options: Optional[dict] = None, ats: bool = False) -> "WqEnv":
        """`platform_options` go to the platform IMSDEV_PLATFORM names (e.g. dma_translation=True)."""
        bench = await Bench.start(dut, pauses=pauses, platform_options=platform_options, ats=ats)
        # cocotb derives each test's seed (bench.seed) from COCOTB_RANDOM_SEED and the test's name, so the
        # regression seed plus TESTCASE replays this test exactly.
        bench.log.info("wq bench: replay with `make sim SEED=%s TESTCASE=<this test>` (bench seed %d)",
                       os.environ.get("COCOTB_RANDOM_SEED", "?"), bench.seed)
        env = cls(bench)
        await env.set_pasid_control(pasid, priv)
        if msix:
            await env.msix_enable()
        return env

    # ---- config space ------------------------------------------------------------------------------
    async def set_pasid_control(self, enable: bool, priv: bool = True, exec_: bool = False):
        """PASID capability control (+6): [0] enable, [1] execute, [2] privileged mode."""
        await self.b.dev.capability_write_word(PciExtCapId.PASID, 6,
                                               int(enable) | (int(exec_) << 1) | (int(priv) << 2))
        self.pasid_enabled, self.priv_enabled = enable, enable and priv

    async def msix_enable(self, enable: bool = True):
        await self.b.msix_enable(enable)
        self.msix_enabled = enable

    def after_flr(self):
        """FLR returned the device (WQ configuration, IMS, MSI-X table and enables, PASID control) to reset:
        forget what the driver had programmed."""
        self.latched.clear()
        self.written.clear()
        self.msix_shadow.clear()
        self.ims_shadow.clear()
        self.pasid_enabled = self.priv_enabled = self.msix_enabled = False
        self.handles_required = False
        self.granted.clear()
        self._cmd_issued = None              # a command the FLR cut short reports nothing

    # ---- commands ----------------------------------------------------------------------------------
    async def cmdsts(self) -> tuple[bool, int, int]:
        v = await self.b.rd32(regs.CSR_CMDSTS)
        return bool(_get(v, "CSR_CMDSTS_ACTIVE")), _get(v, "CSR_CMDSTS_ERR"), _get(v, "CSR_CMDSTS_RESULT")

    async def cmd_write(self, code: int, operand: int = 0):
        """Write CMD; the next cmd_wait() that sees it finish does its bookkeeping (coverage, handle grants)."""
        await self.b.wr32(regs.CSR_CMD, _prep("CSR_CMD_CMD", code) | _prep("CSR_CMD_OPERAND", operand))
        self._cmd_issued = (code, operand)

    async def cmd_wait(self, what: str = "command", timeout_ns: float = DEFAULT_CMD_TIMEOUT_NS,
                       active_polls: Optional[list] = None) -> CmdStatus:
        """Poll CMDSTS until ACTIVE is 0; a command that never finishes fails with its name. `active_polls`
        collects the times (ns) at which each poll that still read ACTIVE = 1 was issued."""
        deadline = get_sim_time("ns") + timeout_ns
        while True:
            polled_ns = get_sim_time("ns")
            active, err, result = await self.cmdsts()
            if active and active_polls is not None:
                active_polls.append(polled_ns)
            if not active:
                st = CmdStatus(err, result)
                self._command_finished(st)
                return st
            if get_sim_time("ns") > deadline:
                raise AssertionError(f"{what}: CMDSTS.ACTIVE still 1 after {timeout_ns} ns")
            await self.b.cycles(16)

    def _command_finished(self, st: CmdStatus) -> None:
        """The command cmd_write() issued has finished with `st`: functional coverage samples it (and tracks the
        device's enable state through it), and a RESET_DEVICE revokes every handle the bench recorded. Done
        here rather than in cmd() so that a command issued with cmd_write() and waited for later (a test
        that does something while it runs) is counted and tracked too."""
        if self._cmd_issued is None:
            return
        code, operand = self._cmd_issued
        self._cmd_issued = None
        coverage.command(code, operand, st.err)
        if code == regs.CMD_RESET_DEVICE and st.err == regs.CMD_ERR_OK:
            self.granted.clear()

    async def cmd(self, code: int, operand: int = 0, timeout_ns: float = DEFAULT_CMD_TIMEOUT_NS) -> CmdStatus:
        """Issue a command, wait for it, return (ERR, RESULT)."""
        await self.cmd_write(code, operand)
        return await self.cmd_wait(f"{cmd_name(code)} {operand}", timeout_ns)

    async def cmd_ok(self, code: int, operand: int = 0, timeout_ns: float = DEFAULT_CMD_TIMEOUT_NS) -> int:
        """Issue a command that must succeed; returns RESULT."""
        st = await self.cmd(code, operand, timeout_ns)
        assert st.err == regs.CMD_ERR_OK, f"{cmd_name(code)} {operand}: CMDSTS.ERR {err_name(st.err)}"
        return st.result

    async def enable_device(self):
        await self.cmd_ok(regs.CMD_ENABLE_DEVICE)

    async def write_wqcfg(self, wq: int, cfg: WqConfig):
        base = regs.csr_wqcfg_at(wq)
        await self.b.wr32(base + regs.CSR_WQCFG_WQCFG0, _prep("CSR_WQCFG_WQCFG0_SIZE", cfg.size))
        await self.b.wr32(base + regs.CSR_WQCFG_WQCFG2, cfg.wqcfg2())
        await self.b.wr32(base + regs.CSR_WQCFG_WQCFG3, _prep("CSR_WQCFG_WQCFG3_MAX_XFER_SHIFT", cfg.max_xfer_shift)
                          | _prep("CSR_WQCFG_WQCFG3_MAX_BATCH_SHIFT", cfg.max_batch_shift))
        self.written[wq] = cfg

    async def enable_wq(self, wq: int, cfg: Optional[WqConfig] = None, expect_err: int = regs.CMD_ERR_OK) -> CmdStatus:
        if cfg is not None:
            await self.write_wqcfg(wq, cfg)
        st = await self.cmd(regs.CMD_ENABLE_WQ, wq)
        assert st.err == expect_err, f"ENABLE_WQ {wq} ({self.written.get(wq)}): CMDSTS.ERR {err_name(st.err)}, " \
                                     f"expected {err_name(expect_err)}"
        if st.err == regs.CMD_ERR_OK:
            self.latched[wq] = self.written[wq]
        return st

    async def setup(self, cfgs: dict[int, WqConfig]):
        """Enable the device (if not enabled) and the given WQs."""
        if not await self.device_enabled():
            await self.enable_device()
        for wq, cfg in cfgs.items():
            await self.enable_wq(wq, cfg)

    async def device_enabled(self) -> bool:
        return bool(_get(await self.b.rd32(regs.CSR_GENSTS), "CSR_GENSTS_ENABLED"))

    async def wq_state(self, wq: int) -> tuple[int, int]:
        """(WQCFG6.STATE, WQCFG6.OCCUPANCY)."""
        v = await self.b.rd32(regs.csr_wqcfg_at(wq) + regs.CSR_WQCFG_WQCFG6)
        return _get(v, "CSR_WQCFG_WQCFG6_STATE"), _get(v, "CSR_WQCFG_WQCFG6_OCCUPANCY")

    async def occupancy(self, wq: int) -> int:
        return (await self.wq_state(wq))[1]

    async def wait_wq_state(self, wq: int, state: int, timeout_ns: float = 50_000):
        deadline = get_sim_time("ns") + timeout_ns
        while True:
            st, occ = await self.wq_state(wq)
            if st == state:
                return
            if get_sim_time("ns") > deadline:
                raise AssertionError(f"WQ {wq}: WQCFG6.STATE {st} (occupancy {occ}), expected {state} "
                                     f"within {timeout_ns} ns")
            await self.b.cycles(16)

    # ---- SWERR ---------------------------------------------------------------------------------------
    async def read_swerr(self) -> SwErr:
        e = SwErr.decode(*[await self.b.rd32(off) for off in
                           (regs.CSR_SWERR0, regs.CSR_SWERR1, regs.CSR_SWERR2, regs.CSR_SWERR3)])
        if e.valid and not e.overflow:     # with OVERFLOW the record is an earlier error's, not the last one's
            coverage.swerr(e.code)
        return e

    async def clear_swerr(self):
        """W1C VALID and OVERFLOW (re-arms capture) and the INT_CAUSE.ERR_LOG bit they raised."""
        await self.b.wr32(regs.CSR_SWERR0, regs.CSR_SWERR0_VALID_MASK | regs.CSR_SWERR0_OVERFLOW_MASK)
        await self.b.wr32(regs.CSR_INT_CAUSE, regs.CSR_INT_CAUSE_ERR_LOG_MASK)

    async def expect_swerr(self, code: int, what: str, *, wq: Optional[int] = None, pasid: Optional[int] = None,
                           addr: Optional[int] = None, priv: Optional[bool] = None, code_status: Optional[int] = None,
                           opcode: Optional[int] = None, overflow: bool = False, clear: bool = True,
                           fault_rw: Optional[bool] = None) -> SwErr:
        """The SWERR log holds exactly this record (fields given as None are not checked), then clear it."""
        e = await self.read_swerr()
        want = {"valid": True, "code": code, "overflow": overflow}
        if wq is not None:
            want.update(wq_valid=True, wq=wq)
        for k, v in (("pasid", pasid), ("addr", addr), ("priv", priv), ("code_status", code_status),
                     ("opcode", opcode), ("fault_rw", fault_rw)):
            if v is not None:
                want[k] = v
        bad = {k: (getattr(e, k), v) for k, v in want.items() if getattr(e, k) != v}
        assert not bad, f"{what}: expected SWERR {swerr_name(code)}; got {e}; mismatched (got, expected): " + \
            ", ".join(f"{k}={g!r}/{w!r}" for k, (g, w) in bad.items())
        cause = await self.b.rd32(regs.CSR_INT_CAUSE)
        assert cause & regs.CSR_INT_CAUSE_ERR_LOG_MASK, f"{what}: SWERR recorded but INT_CAUSE.ERR_LOG is 0"
        if clear:
            await self.clear_swerr()
        return e

    async def expect_no_swerr(self, what: str):
        e = await self.read_swerr()
        assert not e.valid and not e.overflow, f"{what}: no error expected, SWERR holds {e}"

    # ---- portals ----------------------------------------------------------------------------------------
    @property
    def bar2(self) -> int:
        return self.b.dev.bar_addr[2]

    @property
    def bar2_size(self) -> int:
        return self.b.dev.bar_size[2]

    def portal(self, wq: int, offset: int = 0) -> int:
        return self.bar2 + wq * PORTAL_STRIDE + offset

    async def enqcmd(self, wq: int, desc: Descriptor, pasid: Optional[int], priv: bool = False,
                     offset: int = 0) -> CplStatus:
        """ENQCMD(S): one 64-byte DMWr with a PASID prefix to the WQ's portal; SC / RRS / UR / CA."""
        return await self.b.rc.dmwr(self.portal(wq, offset), desc.pack(), pasid, priv)

    async def enqcmd_retry(self, wq: int, desc: Descriptor, pasid: Optional[int], priv: bool = False,
                           max_retries: int = ENQCMD_RETRIES, backoff_cycles: int = 0,
                           offset: int = 0) -> tuple[CplStatus, int]:
        """Like idxd_submit_desc on a shared WQ: retry on RRS at most max_retries times.
        Returns (last status, retries used)."""
        data = desc.pack()                     # packed once: a retry resends the same 64 bytes
        for attempt in itertools.count():
            st = await self.b.rc.dmwr(self.portal(wq, offset), data, pasid, priv)
            if st != RRS or attempt >= max_retries:
                return st, attempt
            if backoff_cycles:
                await self.b.cycles(backoff_cycles)

    async def movdir64b(self, wq: int, desc: Descriptor, offset: int = 0):
        """MOVDIR64B: one posted 64-byte write, no PASID prefix, to a dedicated WQ's portal."""
        await self.b.rc.mem_write_pasid(self.portal(wq, offset), desc.pack(), pasid=None)

    async def movdir64b_raw(self, wq: int, data: bytes, offset: int = 0):
        """MOVDIR64B of raw bytes (a descriptor the scoreboard tracks itself)."""
        await self.b.rc.mem_write_pasid(self.portal(wq, offset), data, pasid=None)

    async def dmwr_raw(self, addr: int, data: bytes, pasid: Optional[int], priv: bool = False,
                       poisoned: bool = False, first_be: Optional[int] = None,
                       last_be: Optional[int] = None) -> CplStatus:
        """A DMWr of any DW-aligned size/address, optionally poisoned (EP=1) or with bytes disabled in its byte
        enables (which no DMWr may have: a faulty requester's) (bad-input tests)."""
        tlp = PasidTlp.create_dmwr(addr, data, pasid=pasid, pmr=priv)
        tlp.ep = poisoned
        if first_be is not None:
            tlp.first_be = first_be
        if last_be is not None:
            tlp.last_be = last_be
        cpl = await self.b.rc.send_nonposted(tlp)
        return CplStatus(cpl.status)

    async def mwr_raw(self, addr: int, data: bytes, pasid: Optional[int] = None, priv: bool = False,
                      first_be: Optional[int] = None, last_be: Optional[int] = None):
        """One posted write of exactly `data` (no MPS split for <= 128 bytes), optionally with other First /
        Last DW BE (bytes of the payload left out of the write)."""
        tlp = PasidTlp.create_mem_write(addr, data, pasid=pasid, pmr=priv)
        if first_be is not None:
            tlp.first_be = first_be
        if last_be is not None:
            tlp.last_be = last_be
        await self.b.rc.perform_posted_operation(tlp)

    async def mrd_raw(self, addr: int, length: int = 4) -> CplStatus:
        cpl = await self.b.rc.send_nonposted(PasidTlp.create_mem_read(addr, length))
        return CplStatus(cpl.status)

    # ---- interrupts -------------------------------------------------------------------------------------
    async def msix_program(self, v: int, addr: int, data: int, masked: bool = False):
        await self.b.msix.program(v, addr, data, masked)
        self.msix_shadow[v] = IrqEntry(addr, data, masked)

    async def msix_set_mask(self, v: int, masked: bool):
        if masked:
            await self.b.msix.mask(v)
        else:
            await self.b.msix.unmask(v)
        self.msix_shadow[v].masked = masked

    @staticmethod
    def ims_entry(wq: int, index: int) -> int:
        return regs.ims_entry_at(wq, index)

    @staticmethod
    def ims_ctrl_value(masked: bool, pasid_en: bool = False, pasid: int = 0) -> int:
        return (_prep("IMS_ENTRY_CTRL_MASK", int(masked)) | _prep("IMS_ENTRY_CTRL_PASID_EN", int(pasid_en))
                | _prep("IMS_ENTRY_CTRL_PASID", pasid))

    async def ims_write_ctrl(self, wq: int, index: int, masked: bool, pasid_en: bool = False, pasid: int = 0):
        await self.b.wr32(self.ims_entry(wq, index) + regs.IMS_ENTRY_CTRL, self.ims_ctrl_value(masked, pasid_en, pasid))
        e = self.ims_shadow.get((wq, index))
        if e is not None:
            e.masked, e.pasid_en, e.pasid = masked, pasid_en, pasid

    async def ims_program(self, wq: int, index: int, addr: int, data: int, masked: bool = False,
                          pasid: Optional[int] = None):
        """The IDXD IMS irqchip's order: mask (CTRL), ADDR_LO, ADDR_HI, DATA + read-back flush, CTRL."""
        e = self.ims_entry(wq, index)
        pasid_en = pasid is not None
        await self.b.wr32(e + regs.IMS_ENTRY_CTRL, self.ims_ctrl_value(True, pasid_en, pasid or 0))
        await self.b.wr32(e + regs.IMS_ENTRY_ADDR_LO, addr & 0xFFFF_FFFF)
        await self.b.wr32(e + regs.IMS_ENTRY_ADDR_HI, addr >> 32)
        await self.b.wr32(e + regs.IMS_ENTRY_DATA, data)
        await self.b.rd32(e + regs.IMS_ENTRY_DATA)
        if not masked:
            await self.b.wr32(e + regs.IMS_ENTRY_CTRL, self.ims_ctrl_value(False, pasid_en, pasid or 0))
        self.ims_shadow[(wq, index)] = IrqEntry(addr, data, masked, pasid_en, pasid or 0)

    async def ims_read(self, wq: int, index: int) -> tuple[int, int, int, int]:
        e = self.ims_entry(wq, index)
        return tuple([await self.b.rd32(e + off) for off in (regs.IMS_ENTRY_ADDR_LO, regs.IMS_ENTRY_ADDR_HI,
                                                             regs.IMS_ENTRY_DATA, regs.IMS_ENTRY_CTRL)])

    async def ims_pending(self, wq: int, index: int) -> bool:
        ctrl = await self.b.rd32(self.ims_entry(wq, index) + regs.IMS_ENTRY_CTRL)
        return bool(_get(ctrl, "IMS_ENTRY_CTRL_PENDING"))

    def handle_valid(self, handle: int, wq: Optional[int] = None) -> bool:
        """In range for this build and, while INTHDL_CTL.REQUIRED = 1, granted for this WQ's entry."""
        if handle & HANDLE_IMS:
            ok = (handle & HANDLE_IMS_INDEX_MASK) < self.p.ims_per_wq
        else:
            # bit 15 = 0 selects MSI-X vector handle[10:0]; bits 14:11 must be 0.
            ok = (handle & HANDLE_MSIX_MASK) < self.p.msix_vectors and not handle & 0x7800
        return ok and (not self.handles_required or self.handle_key(handle, wq) in self.granted)

    @staticmethod
    def handle_key(handle: int, wq: Optional[int]) -> tuple:
        return ("ims", wq, handle & HANDLE_IMS_INDEX_MASK) if handle & HANDLE_IMS else ("msix", handle & HANDLE_MSIX_MASK)

    # ---- interrupt handles ---------------------------------------------------------------------------
    @staticmethod
    def handle_operand(kind: str, index: int, wq: int = 0) -> int:
        """REQUEST/RELEASE_INT_HANDLE operand: ("msix", vector) or ("ims", entry, wq): bit 16 = IMS,
        [15:11] = WQ, [10:0] = entry (the entry's position in the IMS region)."""
        if kind == "msix":
            return index
        return uapi.IMSDEV_INT_HANDLE_OP_IMS | wq << uapi.IMSDEV_INT_HANDLE_OP_WQ_SHIFT | index

    async def set_handles_required(self, required: bool):
        await self.b.wr32(regs.CSR_INTHDL_CTL, _prep("CSR_INTHDL_CTL_REQUIRED", int(required)))
        self.handles_required = required

    async def request_handle(self, kind: str, index: int, wq: int = 0) -> int:
        """REQUEST_INT_HANDLE that must succeed; returns the handle (and records the grant)."""
        handle = await self.cmd_ok(regs.CMD_REQUEST_INT_HANDLE, self.handle_operand(kind, index, wq))
        self.granted.add(("msix", index) if kind == "msix" else ("ims", wq, index))
        return handle

    async def release_handle(self, kind: str, index: int, wq: int = 0):
        await self.cmd_ok(regs.CMD_RELEASE_INT_HANDLE, self.handle_operand(kind, index, wq))
        self.granted.discard(("msix", index) if kind == "msix" else ("ims", wq, index))

    def irq_target(self, wq: int, handle: int, pasid: Optional[int]) -> tuple[str, Optional[tuple[int, int]]]:
        """What a completion with RCI and this (valid) handle should do:
        ("msg", (addr, data)) | ("pending", key) | ("pasid_error", None) | ("unknown", None)."""
        if handle & HANDLE_IMS:
            e = self.ims_shadow.get((wq, handle & HANDLE_IMS_INDEX_MASK))
            if e is None:
                return "unknown", None
            if e.pasid_en and e.pasid != pasid:
                return "pasid_error", None
        else:
            e = self.msix_shadow.get(handle & HANDLE_MSIX_MASK)
            if e is None or not self.msix_enabled:
                return "unknown", None
        return ("pending" if e.masked else "msg"), (e.addr, e.data)

    # ---- buffers and descriptors -----------------------------------------------------------------------
    def arena(self, high: bool = False) -> HostArena:
        return self.high if high else self.low

    def unbacked_address(self, kind: str = "ur", size: int = 0x1000) -> int:
        """A fresh source address (never handed out twice, so DMA reads are attributed to one descriptor)
        whose reads the RC answers with UR ("ur": no region there) or CA ("ca": inside the host memory pool
        but not allocated)."""
        rc = self.b.rc
        self._unbacked += 1
        if kind == "ur":
            addr = UR_ADDRESS + self._unbacked * 0x1_0000
            assert not rc.mem_address_space.find_regions(addr, size), f"{addr:#x} is backed: pick another UR address"
            return addr
        pool = rc.mem_pool
        addr = pool.base + pool.size - self._unbacked * 0x1_0000   # the buddy allocator hands out low blocks first
        assert rc.mem_address_space.find_regions(addr, size) and not rc.host_memory.contains(addr, size), \
            f"{addr:#x} is allocated: pick another CA address"
        return addr

    def new_desc(self, opcode: int = OP_NOOP, size: int = 0, *, flags: int = FLAG_CRAV | FLAG_RCR,
                 handle: int = 0, src_align: int = 64, src_off: int = 0, dst_align: int = 64, dst_off: int = 0,
                 high: Optional[bool] = None, pattern: Optional[int] = None, cr_misalign: int = 0,
                 src: Optional[int] = None) -> Descriptor:
        """A descriptor with fresh buffers: a CR slot always (watched even when CRAV=0), a destination for
        MEMMOVE/MEMFILL, a source for MEMMOVE (`src` overrides it, e.g. an unbacked address)."""
        high = self.rng.random() < 0.3 if high is None else high
        ar = self.arena(high)
        d = Descriptor(opcode=opcode, flags=flags, size=size, int_handle=handle, cr_addr=ar.alloc_cr(cr_misalign))
        if opcode == OP_MEMMOVE:
            d.src = src if src is not None else ar.alloc(size, src_align, src_off)
        if opcode == OP_MEMFILL:
            d.src = self.rng.getrandbits(64) if pattern is None else pattern
        if opcode in (OP_MEMMOVE, OP_MEMFILL):
            d.dst = ar.alloc(size, dst_align, dst_off)
        return d

    def random_data_desc(self, max_size: int = 6144, **kw) -> Descriptor:
        """NOOP/MEMFILL/MEMMOVE with a random size (1 B .. max_size, biased to small and to page crossings)
        and random source/destination alignment."""
        r = self.rng
        op = r.choice((OP_NOOP, OP_MEMFILL, OP_MEMMOVE, OP_MEMMOVE))
        if op == OP_NOOP:
            return self.new_desc(op, 0, **kw)
        pick = r.random()
        if pick < 0.3:
            size = r.randint(1, min(16, max_size))
        elif pick < 0.7 or max_size <= 512:
            size = r.randint(1, min(512, max_size))
        else:
            size = r.randint(513, max_size)
        cross = r.random() < 0.35       # start just below a 4 KiB page boundary so the buffer crosses it
        before = r.randint(1, min(size, 255)) if cross and size > 1 else 0
        return self.new_desc(op, size, src_align=4096 if cross else 64,
                             src_off=(4096 - before) if cross else r.randrange(64),
                             dst_align=4096 if cross else 64,
                             dst_off=(4096 - r.randint(1, min(size, 255))) if cross and size > 1 else r.randrange(64),
                             **kw)

    # ---- queue filling with the DMA held ------------------------------------------------------------
    async def stall_engine(self, wq: int, pasid: Optional[int] = None, priv: bool = False) -> list["Tracked"]:
        """Hold DMA reads and submit MEMMOVEs, which therefore cannot finish, until the engine takes no more:
        it holds several (docs/work_queues.md "Engine": INFLIGHT in its in-flight list, one being issued,
        as far as the DMA engine's command queue lets it). The last one stays queued (OCCUPANCY 1), so
        whatever is submitted next stays queued behind it. Returns them, oldest first."""
        if pasid is None and not self.latched[wq].dedicated:
            pasid = 1
        self.hold.hold()
        out = []
        for _ in range(64):
            d = self.new_desc(OP_MEMMOVE, 256, high=False)
            t = await self.sb.submit(wq, d, pasid=pasid, priv=priv)
            assert t.accepted, f"stall descriptor {t} not accepted ({t.cpl_status})"
            out.append(t)
            await self.b.settle(200)
            if await self.occupancy(wq) >= 1:
                return out
        raise AssertionError(f"the engine took {len(out)} MEMMOVEs from WQ {wq} with its DMA reads held")

    async def fill_wq(self, wq: int, make=None, pasid: Optional[int] = None, priv: bool = False,
                      limit: int = 4096) -> list["Tracked"]:
        """With the engine stalled, submit until WQCFG6.OCCUPANCY == SIZE (shared: until RRS; dedicated: by
        reading OCCUPANCY back, since posted writes report nothing). Returns the accepted descriptors."""
        cfg = self.latched[wq]
        make = make or (lambda: self.new_desc(OP_NOOP))
        if pasid is None and not cfg.dedicated:
            pasid = 1
        out = []
        if not cfg.dedicated:
            for _ in range(limit):
                t = await self.sb.submit(wq, make(), pasid=pasid, priv=priv, expect_reject=None)
                if not t.accepted:
                    assert t.cpl_status == RRS, f"filling WQ {wq}: {t} answered {t.cpl_status.name}, expected SC/RRS"
                    break
                out.append(t)
            else:
                raise AssertionError(f"WQ {wq} (SIZE {cfg.size}) accepted {limit} descriptors with the engine stalled")
        else:
            for _ in range(8):
                occ = await self.occupancy(wq)
                if occ >= cfg.size:
                    break
                for _ in range(cfg.size - occ):
                    out.append(await self.sb.submit(wq, make()))
                await self.b.settle(200)
        occ = await self.occupancy(wq)
        assert occ == cfg.size, f"WQ {wq} filled with the engine stalled: OCCUPANCY {occ}, SIZE {cfg.size}"
        return out


def _enum(enum: str, value: int) -> str:
    for name, v in regs.ENUMS[enum].items():
        if v == value:
            return name
    return "?"


def cmd_name(code: int) -> str:
    return _enum("CMD", code) if _enum("CMD", code) != "?" else f"CMD {code:#x}"


def err_name(err: int) -> str:
    return f"{err:#04x} ({_enum('CMD_ERR', err)})"


def swerr_name(code: int) -> str:
    return f"{code:#04x} ({_enum('SWERR', code)})"


# ---- scoreboard ------------------------------------------------------------------------------------------
@dataclass
class Tracked:
    """One submitted descriptor and everything the scoreboard expects and saw of it."""
    n: int
    wq: int
    desc: Descriptor
    via: str                        # "enqcmd" | "movdir64b" | "raw"
    pasid: Optional[int]            # PASID the device must tag this descriptor's DMA with (None: no prefix)
    priv: bool
    status: int                     # expected completion status
    invalid_flags: int
    writes_cr: bool                 # a completion record is expected
    no_cr_swerr: bool               # a failing descriptor without a usable CR address: SWERR NO_CR
    irq: tuple[str, Optional[tuple[int, int]]]   # see WqEnv.irq_target; ("none", None) without RCI
    state: str = "submitted"        # submitted | accepted | rejected | dropped | completed | aborted
    cpl_status: Optional[CplStatus] = None
    retries: int = 0
    submit_ns: float = 0.0
    before: dict = field(default_factory=dict)   # snapshots: "src", "dst" (with guards), "cr"
    cr_writes: list = field(default_factory=list)  # (seq, time_ns, addr, data)
    dst_writes: int = 0
    irq_seen: int = 0
    record: Optional[CompletionRecord] = None
    checked: bool = False
    dst_blocked: bytes = b""        # per destination byte: 1 = the IOMMU drops the write there
    cr_blocked: bool = False        # the completion record write is dropped by the IOMMU
    event: Event = field(default_factory=Event)
    irq_seqs: list = field(default_factory=list)   # observation sequence numbers of its interrupt messages
    # Batches: a member names its batch; a batch lists its members (those the device fetches), its WQ's
    # limit, the members processed (its record's bytes_completed) and the list address whose read fails.
    batch: Optional["Tracked"] = None
    members: list = field(default_factory=list)
    batch_limit: Optional[int] = None
    batch_count: int = 0
    list_fault: Optional[int] = None

    @property
    def accepted(self) -> bool:
        return self.state in ("accepted", "completed", "aborted")

    def __str__(self):
        return f"descriptor #{self.n} (WQ {self.wq}, {self.via}, pasid={self.pasid}, {self.desc.describe()})"


class Scoreboard:
    """Accounts for every descriptor exactly once; see the module docstring."""

    def __init__(self, env: WqEnv):
        self.env = env
        self.b = env.b
        self.rc = env.b.rc
        self.items: list[Tracked] = []
        self._open_start: dict[int, int] = {}     # see _open_from
        self._by_msg: dict[tuple, deque] = {}     # (address, data) -> descriptors whose interrupt it is, in order
        self.stats: Counter = Counter()
        self.errors: list[str] = []
        self._pages: dict[tuple, list] = defaultdict(list)  # (space, 4 KiB page) -> [(lo, hi, kind, tracked)]
        self.spaces: dict[int, object] = {}                 # PASID -> the process address space it names
        self._seq = itertools.count()
        self._active = True
        self.rc.add_upstream_observer(self._observe)

    # ---- address spaces ---------------------------------------------------------------------------
    def add_space(self, pasid: int, space) -> None:
        """Descriptors with this PASID use `space`'s addresses (read/write/contains in the process's view,
        dma_readable(addr, n) and dma_writable(addr) for what the IOMMU lets the device do)."""
        self.spaces[pasid] = space

    def _space_key(self, pasid: Optional[int]):
        return pasid if pasid is not None and pasid in self.spaces else None

    def _mem(self, pasid: Optional[int]):
        key = self._space_key(pasid)
        return self.rc.host_memory if key is None else self.spaces[key]

    def _dma_readable(self, mem, addr: int, n: int, bof: bool = False) -> bool:
        check = getattr(mem, "dma_readable", None)
        if check is None:
            return mem.contains(addr, n)
        return check(addr, n, bof=True) if bof else check(addr, n)

    def _dma_writable(self, mem, addr: int, bof: bool = False) -> bool:
        check = getattr(mem, "dma_writable", None)
        if check is None:
            return True
        return check(addr, bof=True) if bof else check(addr)

    # ---- prediction (the document's rules) -------------------------------------------------------
    def batch_limit(self, wq: int) -> int:
        """The WQ's largest batch: 2^min(WQCFG3.MAX_BATCH_SHIFT, CAP2.MAX_BATCH_SHIFT)."""
        cfg = self.env.latched.get(wq) or self.env.written.get(wq)
        return min(1 << (cfg.max_batch_shift if cfg else 15), self.env.p.max_batch)

    def predict(self, wq: int, d: Descriptor, pasid: Optional[int], in_batch: bool = False) -> tuple[int, int]:
        """(status, invalid_flags) per docs/work_queues.md, whose checks run in this order and report the first
        failure: opcode, flags, reserved fields, completion record alignment (CRAV set), list alignment and
        count (batch), transfer size, interrupt handle; then the operation (a source DMA read can fail).
        A batch member may not be a batch or a drain (0x10). A batch that passes is predicted by submit_batch."""
        cfg = self.env.latched.get(wq) or self.env.written.get(wq)
        batch = d.opcode == OP_BATCH
        if (d.opcode not in OPCODES and not batch) or (in_batch and d.opcode in (OP_BATCH, OP_DRAIN)):
            return ST_BAD_OPCODE, 0
        bad = d.flags & ~FLAGS_ACCEPTED & FLAGS_MASK
        if bad:
            return ST_BAD_FLAGS, bad
        if d.rsvd_dw0 or any(d.rsvd_tail) or (batch and d.dst):
            return ST_RESERVED, 0
        if d.flags & FLAG_CRAV and d.cr_addr % CR_ALIGN:
            return ST_CR_ALIGN, 0
        if batch and d.src % DESC_BYTES:
            return ST_LIST_ALIGN, 0
        if batch and not 2 <= d.size <= self.batch_limit(wq):
            return ST_DESC_CNT, 0
        if d.opcode in (OP_MEMMOVE, OP_MEMFILL) and cfg is not None and d.size > (1 << cfg.max_xfer_shift):
            return ST_XFER_SIZE, 0
        if d.flags & FLAG_RCI and not self.env.handle_valid(d.int_handle, wq):
            return ST_INT_HANDLE, 0
        mem = self._mem(pasid)
        bof = bool(d.flags & FLAG_BOF)
        if d.opcode == OP_MEMMOVE and d.size and not self._dma_readable(mem, d.src, d.size, bof):
            # with Block-on-Fault in effect (the space says so: SvaProcess.pri_bof) the kernel answers the page
            # request for a page it cannot make resident with Invalid Request (docs/ats_pri.md 2.6)
            return (ST_PAGE_FAULT_IR if bof and getattr(mem, "pri_bof", False) else ST_PAGE_FAULT), 0
        return ST_SUCCESS, 0

    def _new(self, wq: int, d: Descriptor, via: str, pasid: Optional[int], priv: bool,
             batch: Optional[Tracked] = None) -> Tracked:
        status, invalid = self.predict(wq, d, pasid, in_batch=batch is not None)
        cr_ok = bool(d.flags & FLAG_CRAV) and d.cr_addr % CR_ALIGN == 0
        writes_cr = cr_ok and (bool(d.flags & FLAG_RCR) or status != ST_SUCCESS)
        no_cr = status != ST_SUCCESS and not cr_ok
        irq = ("none", None)
        if d.flags & FLAG_RCI and status != ST_INT_HANDLE:
            irq = self.env.irq_target(wq, d.int_handle, pasid)
        t = Tracked(len(self.items), wq, d, via, pasid, priv, status, invalid, writes_cr, no_cr, irq,
                    submit_ns=get_sim_time("ns"), batch=batch)
        if d.opcode == OP_BATCH and batch is None:
            t.batch_limit = self.batch_limit(wq)
        mem = self._mem(pasid)
        if d.opcode == OP_MEMMOVE and d.size:
            if mem.contains(d.src, d.size):
                t.before["src"] = mem.read(d.src, d.size)
            self._watch(d.src, d.size, "src", t)      # also an unbacked source: its reads must carry the PASID
        if d.opcode in (OP_MEMMOVE, OP_MEMFILL) and d.size:
            t.before["dst"] = self._dst_window(d, mem)
            self._watch(d.dst, d.size, "dst", t)
            if mem is not self.rc.host_memory:
                bof = bool(d.flags & FLAG_BOF)
                t.dst_blocked = bytes(int(not self._dma_writable(mem, d.dst + i, bof)) for i in range(d.size))
        if mem.contains(d.cr_addr, CR_BYTES):
            t.before["cr"] = mem.read(d.cr_addr, CR_BYTES)
            t.cr_blocked = not self._dma_writable(mem, d.cr_addr, bool(d.flags & FLAG_BOF))
        self._watch(d.cr_addr - d.cr_addr % CR_ALIGN, CR_BYTES + CR_ALIGN, "cr", t)
        self.items.append(t)
        if irq[0] == "msg":
            self._by_msg.setdefault(irq[1], deque()).append(t)
        return t

    def _dst_window(self, d: Descriptor, mem) -> bytes:
        """The destination with GUARD bytes on each side. A guard outside host memory (a destination at the
        start of a host region, e.g. at exactly 4 GiB with the RC's BAR window just below) reads as zeros."""
        lo, n = d.dst - GUARD, d.size + 2 * GUARD
        if mem.contains(lo, n):
            return mem.read(lo, n)
        head, tail = d.dst - GUARD, d.dst + d.size
        return b"".join(mem.read(a, k) if mem.contains(a, k) else bytes(k)
                        for a, k in ((head, GUARD), (d.dst, d.size), (tail, GUARD)))

    def track(self, wq: int, d: Descriptor, via: str = "raw", pasid: Optional[int] = None,
              priv: bool = False) -> Tracked:
        """Register a descriptor a test submits itself (bad-input tests); mark its outcome with
        rejected()/dropped()/accepted()."""
        return self._new(wq, d, via, pasid, priv)

    def _eff_pasid(self, wq: int, via: str, pasid: Optional[int], priv: bool) -> tuple[Optional[int], bool]:
        cfg = self.env.latched.get(wq)
        if via == "movdir64b":
            if cfg is None:
                return None, False
            return cfg.dma_pasid, cfg.priv and cfg.pasid_en
        return pasid, priv

    async def submit(self, wq: int, d: Descriptor, *, pasid: Optional[int] = None, priv: bool = False,
                     via: Optional[str] = None, retries: int = 0, backoff_cycles: int = 0, offset: int = 0,
                     expect_reject=None) -> Tracked:
        """Submit through the WQ's portal the way its (latched) mode wants, and record the outcome.
        Shared: ENQCMD with `retries` bounded retries on RRS; SC = accepted, RRS/UR/CA = rejected.
        Dedicated: MOVDIR64B; accepted unless `expect_reject` (a SWERR code) says it must be dropped.
        A shared WQ's DMA carries the submission's PASID; the descriptor's PASID field is filled the way
        ENQCMD fills it from IA32_PASID."""
        cfg = self.env.latched.get(wq) or self.env.written.get(wq)
        if via is None:
            via = "movdir64b" if cfg is not None and cfg.dedicated else "enqcmd"
        if via == "enqcmd":
            d = replace(d, pasid=pasid if pasid is not None else 0, priv=priv)
        eff_pasid, eff_priv = self._eff_pasid(wq, via, pasid, priv)
        t = self._new(wq, d, via, eff_pasid, eff_priv)
        await self._send(t, pasid, priv, retries, backoff_cycles, offset, expect_reject)
        return t

    async def _send(self, t: Tracked, pasid: Optional[int], priv: bool, retries: int, backoff_cycles: int,
                    offset: int, expect_reject) -> None:
        wq, d, via = t.wq, t.desc, t.via
        if via == "enqcmd":
            st, t.retries = await self.env.enqcmd_retry(wq, d, pasid, priv, max_retries=retries,
                                                        backoff_cycles=backoff_cycles, offset=offset)
            t.cpl_status = st
            if st == CplStatus.SC:
                self.accepted(t)
            else:
                self.rejected(t, st)
                if expect_reject is not None and expect_reject != st:
                    raise AssertionError(f"{t}: answered {st.name}, expected {expect_reject.name}")
            if expect_reject is not None and st == CplStatus.SC:
                raise AssertionError(f"{t}: answered SC, expected {expect_reject.name}")
        else:
            await self.env.movdir64b(wq, d, offset)
            if expect_reject is None:
                self.accepted(t)
            else:
                self.dropped(t)
        for m in t.members:         # a batch's members run only if the batch was taken
            m.state, m.cpl_status = (t.state, t.cpl_status) if t.state != "accepted" else ("accepted", None)

    def batch_list_poisoned(self, t: Tracked, k: int):
        """The test poisons the completion of batch `t`'s list entry k: the batch ends with 0x20 (hardware
        error) at that entry; its members from k on are never run (no record, data or interrupt)."""
        t.status, t.list_fault, t.batch_count = ST_HW_ERR, t.desc.src + DESC_BYTES * k, k
        for m in t.members[k:]:
            m.state = "aborted"
        t.members = t.members[:k]
        t.writes_cr = bool(t.desc.flags & FLAG_CRAV) and t.desc.cr_addr % CR_ALIGN == 0
        self._open_start.clear()

    async def submit_batch(self, wq: int, members: list[Descriptor], *, flags: int = FLAG_CRAV | FLAG_RCR,
                           handle: int = 0, count: Optional[int] = None, list_addr: Optional[int] = None,
                           batch: Optional[Descriptor] = None, pasid: Optional[int] = None, priv: bool = False,
                           via: Optional[str] = None, retries: int = 0, backoff_cycles: int = 0,
                           expect_reject=None) -> Tracked:
        """Submit a batch (opcode 0x01) of `members` like submit(): the list is written to host memory (in
        the batch PASID's address space) at `list_addr` (default: a fresh 64-byte aligned buffer), `count`
        (default len(members)) goes in the descriptor. `batch` overrides the whole batch descriptor (bad
        inputs). The prediction (docs/work_queues.md "Batch"): a batch failing its own checks runs nothing;
        otherwise each member whose list entry the device can read is tracked like a submitted descriptor
        (same WQ, the batch's PASID and privilege), and the batch's record is SUCCESS, BATCH_FAIL (a member
        failed) or BATCH_PAGE_FAULT (an entry unreadable: fault address = that entry, later ones not run),
        with bytes_completed = members processed."""
        cfg = self.env.latched.get(wq) or self.env.written.get(wq)
        if via is None:
            via = "movdir64b" if cfg is not None and cfg.dedicated else "enqcmd"
        n = len(members) if count is None else count
        eff_pasid, eff_priv = self._eff_pasid(wq, via, pasid, priv)
        mem = self._mem(eff_pasid)
        if batch is None:
            if list_addr is None:
                list_addr = self.env.low.alloc(DESC_BYTES * max(len(members), 1), DESC_BYTES)
            batch = Descriptor(opcode=OP_BATCH, flags=flags, cr_addr=self.env.low.alloc_cr(), src=list_addr,
                               size=n, int_handle=handle)
        list_addr = batch.src
        for i, m in enumerate(members):
            if mem.contains(list_addr + DESC_BYTES * i, DESC_BYTES):
                mem.write(list_addr + DESC_BYTES * i, m.pack())
        if via == "enqcmd":
            batch = replace(batch, pasid=pasid if pasid is not None else 0, priv=priv)
        t = self._new(wq, batch, via, eff_pasid, eff_priv)
        if t.status == ST_SUCCESS:
            failed = False
            for i in range(batch.size):
                entry = list_addr + DESC_BYTES * i
                if i >= len(members) or not self._dma_readable(mem, entry, DESC_BYTES):
                    t.status, t.list_fault = ST_BATCH_PAGE_FAULT, entry
                    break
                mt = self._new(wq, members[i], via, eff_pasid, eff_priv, batch=t)
                t.members.append(mt)
                failed |= mt.status != ST_SUCCESS
            t.batch_count = len(t.members)
            if t.status == ST_SUCCESS and failed:
                t.status = ST_BATCH_FAIL
            cr_ok = bool(batch.flags & FLAG_CRAV) and batch.cr_addr % CR_ALIGN == 0
            t.writes_cr = cr_ok and (bool(batch.flags & FLAG_RCR) or t.status != ST_SUCCESS)
            t.no_cr_swerr = t.status != ST_SUCCESS and not cr_ok
        # (the entries the test wrote: a count beyond them names memory the list does not own)
        self._watch(list_addr, DESC_BYTES * max(min(batch.size, len(members)), 1), "list", t)
        await self._send(t, pasid, priv, retries, backoff_cycles, 0, expect_reject)
        return t

    def accepted(self, t: Tracked):
        t.state = "accepted"
        self.stats["accepted"] += 1

    def rejected(self, t: Tracked, status: CplStatus):
        t.state = "rejected"
        t.cpl_status = status
        self.stats[f"rejected_{status.name}"] += 1

    def dropped(self, t: Tracked):
        t.state = "dropped"
        self.stats["dropped"] += 1

    # ---- upstream observation ------------------------------------------------------------------------
    def _watch(self, lo: int, size: int, kind: str, t: Tracked):
        hi = lo + max(size, 1)
        key = self._space_key(t.pasid)
        for page in range(lo >> 12, ((hi - 1) >> 12) + 1):
            self._pages[(key, page)].append((lo, hi, kind, t))

    def _owners(self, lo: int, hi: int, key=None):
        seen = set()
        for page in range(lo >> 12, ((hi - 1) >> 12) + 1):
            for w_lo, w_hi, kind, t in self._pages.get((key, page), ()):
                if w_lo < hi and lo < w_hi and (id(t), kind) not in seen:
                    seen.add((id(t), kind))
                    yield kind, t

    def _untranslate(self, pasid: Optional[int], addr: int) -> Optional[int]:
        """The virtual address of a translated (AT = 10b) TLP's physical address in its PASID's process."""
        space = self.spaces.get(pasid)
        # stale pages: unmapped, but the ATS checker (tb/pcie/ats_agent.py) judges whether the device may still
        # use them (until its Invalidate Completion)
        for pages in (getattr(space, "pages", None) or {}, getattr(space, "stale_pages", None) or {}):
            for va, (pa, _) in pages.items():
                if pa == addr & ~0xFFF:
                    return va | addr & 0xFFF
        for va, (pa, size, _) in (getattr(space, "large", None) or {}).items():    # 2 MiB / 1 GiB leaves
            if pa <= addr < pa + size:
                return va + (addr - pa)
        return None

    def _observe(self, rec, tlp):
        if not self._active or rec.kind not in ("MWr", "MRd"):
            return
        at = int(getattr(tlp, "at", 0))
        if at == 1:
            return      # an ATS Translation Request: no data moves (tb/pcie/ats_agent.py checks it)
        if rec.kind == "MWr":
            addr, data = write_span(tlp)
            if self.b.msgs.claims(addr) or self._in_platform_window(addr):
                self._on_message(addr, data)
                return
        else:
            addr, data = rec.address + (tlp.get_first_be_offset() if tlp.first_be else 0), None
        length = len(data) if data is not None else tlp.get_be_byte_count()
        if at == 2:
            va = self._untranslate(rec.pasid, addr)
            if va is None:
                self._error(f"translated upstream {rec.kind} to {addr:#x} at {rec.time_ns} ns: not a page of PASID "
                            f"{rec.pasid}'s process")
                return
            addr = va
        owners = list(self._owners(addr, addr + max(length, 1), self._space_key(rec.pasid)))
        if not owners:
            self._error(f"stray upstream {rec.kind} [{addr:#x}, +{length}) at {rec.time_ns} ns: no tracked "
                        f"descriptor owns that address")
            return
        for kind, t in owners:
            self.stats["dma_tlps_checked"] += 1
            if (rec.pasid, rec.pmr if rec.pasid is not None else False) != (t.pasid, t.priv if t.pasid is not None else False):
                self._error(f"{t}: {rec.kind} to {addr:#x} carries PASID {rec.pasid} PMR {int(rec.pmr)}, "
                            f"expected PASID {t.pasid} PMR {int(t.priv)}")
            if rec.kind == "MRd" and kind == "list" and not (t.members or t.list_fault is not None):
                self._error(f"{t}: device reads the list of a batch that fails its own checks")
            if rec.kind == "MRd" and kind not in ("src", "list"):
                self._error(f"{t}: device reads its {kind} buffer at {addr:#x}")
            if rec.kind == "MWr" and kind in ("src", "list"):
                self._error(f"{t}: device writes its source buffer at {addr:#x}")
            if rec.kind == "MWr" and kind == "dst":
                t.dst_writes += 1
            if rec.kind == "MWr" and kind == "cr":
                t.cr_writes.append((next(self._seq), rec.time_ns, addr, bytes(data)))
                if len(t.cr_writes) == 1:
                    coverage.completion_record(t)
                if len(t.cr_writes) > 1 and not self._same_record_write(t):
                    self._error(f"{t}: completion record written {len(t.cr_writes)} times")
                t.event.set()

    def _in_platform_window(self, addr: int) -> bool:
        """A write into the attached platform's interrupt window (tb/platform_bench.py) is an interrupt
        message, whatever the platform then does with it (deliver or fault)."""
        plat = getattr(self.b, "platform", None)
        return plat is not None and plat.window[0] <= addr < plat.window[0] + plat.window[1]

    @staticmethod
    def _same_record_write(t: Tracked) -> bool:
        # Several TLPs that together write the 32-byte record once (disjoint spans) count as one write.
        spans = sorted((a, a + len(d)) for _, _, a, d in t.cr_writes)
        return all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1)) and \
            sum(e - s for s, e in spans) <= CR_BYTES

    def _on_message(self, addr: int, data: bytes):
        key = (addr, int.from_bytes(data, "little"))
        self.stats["messages_seen"] += 1
        # Descriptors whose interrupt this message is (in submission order), without the ones that already had
        # theirs or ended without one (neither changes back): a scan of every descriptor per message was a
        # large part of a long test's CPU.
        cands = self._by_msg.get(key, ())
        while cands and (cands[0].irq_seen or cands[0].state in ("rejected", "dropped", "aborted")):
            cands.popleft()
        waiting = [t for t in cands if t.irq[0] == "msg" and t.irq[1] == key
                   and t.state in ("accepted", "completed") and t.irq_seen == 0]
        if not waiting:
            return            # not a completion interrupt the scoreboard predicted: the tests' exact counts catch it
        ready = [t for t in waiting if not t.writes_cr or t.cr_writes]
        if not ready:
            self._error(f"interrupt {key[0]:#x}/{key[1]:#x} arrived before the completion record of "
                        f"{waiting[0]} (records must be written first, on the same ordered path)")
            ready = waiting
        t = ready[0]
        t.irq_seen += 1
        t.irq_seqs.append(next(self._seq))
        if t.writes_cr:
            if t.cr_blocked:
                return
            rec = self._mem(t.pasid).read(t.desc.cr_addr, CR_BYTES)
            if rec[0] & 0x7F != t.status:
                self._error(f"{t}: at its interrupt the host sees completion record status {rec[0]:#x}, "
                            f"expected {t.status:#x}")

    def _error(self, msg: str):
        self.errors.append(msg)
        self.b.log.error("scoreboard: %s", msg)

    # ---- waiting and checking ------------------------------------------------------------------------
    def outstanding(self, items: Optional[Iterable[Tracked]] = None) -> list[Tracked]:
        items = self.items if items is None else items
        return [t for t in items if t.state == "accepted" and t.writes_cr and not t.cr_writes]

    async def wait_complete(self, items: Optional[Iterable[Tracked]] = None, timeout_ns: Optional[float] = None):
        """Wait until every given accepted descriptor that expects a record has one. A lost completion fails
        with the descriptors it names, never hangs."""
        items = list(self.items if items is None else items)
        todo = self.outstanding(items)
        if timeout_ns is None:
            timeout_ns = 100_000 + 4 * sum(t.desc.size for t in todo)
        deadline = get_sim_time("ns") + int(timeout_ns)
        for t in todo:
            if t.cr_writes:
                continue
            left = deadline - get_sim_time("ns")
            try:
                if left <= 0:
                    raise TimeoutError
                await with_timeout(t.event.wait(), int(left) + 1, "ns")   # whole ns: Timer precision
            except TimeoutError:
                lost = self.outstanding(items)
                raise AssertionError(f"{len(lost)} completion(s) lost after {timeout_ns} ns: "
                                     + "; ".join(str(x) for x in lost[:8])) from None

    async def check(self, items: Optional[Iterable[Tracked]] = None):
        """Check every given descriptor that is finished (completed, rejected, dropped, aborted): record
        contents, destination bytes and the guard bytes around them. Descriptors already checked are
        re-checked for late writes (a record written twice, data after an abort)."""
        await Timer(1, "ns")   # the RC applies a write to memory after the observer saw it
        items = list(self.items if items is None else items)
        for t in items:
            self._check_one(t)
        for t in items:
            if t.desc.opcode == OP_DRAIN and t.state == "completed" and t.status == ST_SUCCESS:
                self._check_drain_order(t)
            if t.batch_limit is not None and t.state == "completed" and t.cr_writes:
                self._check_batch_order(t)
        self.flush_errors()

    def _check_batch_order(self, t: Tracked):
        """docs/work_queues.md "Batch": data -> member records -> member interrupts -> batch record: every
        member's record and interrupt message reached the link before the batch's record; members'
        records in list order."""
        seq = t.cr_writes[0][0]
        last = -1
        for m in t.members:
            if m.writes_cr:
                if not m.cr_writes:
                    self._error(f"{t}: batch record written before member {m} has its record")
                    continue
                if m.cr_writes[0][0] > seq:
                    self._error(f"{t}: batch record written before the record of member {m}")
                if m.cr_writes[0][0] < last:
                    self._error(f"{t}: member {m}'s record came before an earlier member's")
                last = m.cr_writes[0][0]
            if m.irq[0] == "msg" and m.irq_seqs and m.irq_seqs[0] > seq:
                self._error(f"{t}: batch record written before the interrupt of member {m}")

    def _check_drain_order(self, t: Tracked):
        """DRAIN completes after every earlier descriptor of its WQ: their records come first."""
        seq = t.cr_writes[0][0]
        for u in self.items[:t.n]:
            if u.wq != t.wq or u.state not in ("accepted", "completed") or not u.writes_cr:
                continue
            if not u.cr_writes or u.cr_writes[0][0] > seq:
                self._error(f"{t} completed before the earlier {u}")

    async def wait_below(self, wq: int, limit: int, timeout_ns: float = 200_000):
        """Flow control of a dedicated WQ (posted submissions report nothing): wait until fewer than `limit`
        of its descriptors are unfinished, so the next MOVDIR64B cannot find the queue full."""
        deadline = get_sim_time("ns") + timeout_ns
        while len(self.unfinished(wq)) >= limit:
            if get_sim_time("ns") > deadline:
                raise AssertionError(f"WQ {wq}: {len(self.unfinished(wq))} descriptors unfinished after "
                                     f"{timeout_ns} ns: " + "; ".join(map(str, self.unfinished(wq)[:4])))
            await self.b.cycles(20)

    def flush_errors(self):
        if self.errors:
            msg = f"{len(self.errors)} scoreboard error(s): " + " | ".join(self.errors[:6])
            self.errors.clear()
            raise AssertionError(msg)

    def _check_one(self, t: Tracked):
        d = t.desc
        mem = self._mem(t.pasid)
        if t.state == "accepted" and t.writes_cr and t.cr_writes:
            t.state = "completed"
        if t.state == "submitted":
            self._error(f"{t}: never marked accepted/rejected")
            return
        first = not t.checked
        t.checked = True
        landed = t.state == "completed" or (t.state == "accepted" and not t.writes_cr)
        # --- completion record
        cr = None
        if t.writes_cr and t.state in ("completed", "accepted"):
            if not t.cr_writes:
                self._error(f"{t}: no completion record")
                return
            covered = set()
            for _, _, a, data in t.cr_writes:
                covered.update(range(a, a + len(data)))
            if covered != set(range(d.cr_addr, d.cr_addr + CR_BYTES)):
                self._error(f"{t}: completion record writes cover {len(covered)} bytes "
                            f"[{min(covered):#x}..{max(covered):#x}], expected exactly the 32 at {d.cr_addr:#x}")
            if t.cr_blocked:
                # The IOMMU drops the record write: the process's record memory must be as it was.
                if "cr" in t.before and mem.read(d.cr_addr, CR_BYTES) != t.before["cr"]:
                    self._error(f"{t}: completion record memory changed although the IOMMU blocks that write")
                cr = None
            else:
                cr = t.record = CompletionRecord.parse(mem.read(d.cr_addr, CR_BYTES))
        if t.writes_cr and t.state in ("completed", "accepted") and cr is not None:
            exp_bytes = d.size if t.status == ST_SUCCESS and d.opcode in (OP_MEMMOVE, OP_MEMFILL) else 0
            if t.batch_limit is not None:
                exp_bytes = t.batch_count       # a batch: the members processed
            problems = []
            if cr.status != t.status:
                problems.append(f"status {cr.status:#x}, expected {t.status:#x} ({STATUS_NAMES.get(t.status)})")
            if cr.status_bit7 or cr.result:
                problems.append(f"status bit 7 = {cr.status_bit7}, result = {cr.result} (expected 0, 0)")
            if t.batch_limit is not None and t.status in (ST_BATCH_PAGE_FAULT, ST_HW_ERR):
                if cr.fault_addr != t.list_fault:
                    problems.append(f"fault address {cr.fault_addr:#x}, expected the unreadable list entry "
                                    f"{t.list_fault:#x}")
                if cr.bytes_completed != exp_bytes:
                    problems.append(f"members processed {cr.bytes_completed}, expected {exp_bytes}")
            elif t.status in DMA_READ_FAILURES:
                if cr.bytes_completed > d.size:
                    problems.append(f"bytes completed {cr.bytes_completed} > size {d.size}")
                # docs/work_queues.md: fault address = source + bytes completed (the first source byte not copied)
                if cr.fault_addr != d.src + cr.bytes_completed:
                    problems.append(f"fault address {cr.fault_addr:#x}, expected source + bytes completed = "
                                    f"{d.src + cr.bytes_completed:#x}")
            elif cr.bytes_completed != exp_bytes:
                problems.append(f"bytes completed {cr.bytes_completed}, expected {exp_bytes}")
            if t.status == ST_BAD_FLAGS and cr.invalid_flags != t.invalid_flags:
                problems.append(f"invalid flags {cr.invalid_flags:#x}, expected {t.invalid_flags:#x}")
            if any(cr.raw[2:4]) or any(cr.raw[20:32]):
                problems.append(f"reserved bytes not 0: {cr.raw.hex()}")
            if problems:
                self._error(f"{t}: {cr}: " + "; ".join(problems))
            elif first:
                self.stats["completion_records_checked"] += 1
        elif t.writes_cr and t.state in ("completed", "accepted"):
            pass                        # written by the device, dropped by the IOMMU: checked above
        elif len(t.cr_writes):
            what = {"rejected": f"rejected at submission ({t.cpl_status.name if t.cpl_status else ''})",
                    "dropped": "dropped at submission", "aborted": "aborted"}.get(t.state, "expects no record")
            self._error(f"{t}: {what}, but the device wrote {len(t.cr_writes)} completion record write(s)")
        elif "cr" in t.before and mem.read(d.cr_addr, CR_BYTES) != t.before["cr"]:
            self._error(f"{t}: completion record memory changed although no record is expected")
        # --- data
        if "dst" in t.before:
            now = self._dst_window(d, mem)
            was = t.before["dst"]
            if now[:GUARD] != was[:GUARD] or now[GUARD + d.size:] != was[GUARD + d.size:]:
                self._error(f"{t}: bytes just outside the destination changed")
            body = now[GUARD:GUARD + d.size]
            if landed and t.status == ST_SUCCESS:
                want = t.before["src"] if d.opcode == OP_MEMMOVE else (d.pattern * (d.size // 8 + 1))[:d.size]
                if any(t.dst_blocked):      # bytes whose write the IOMMU drops keep their old value
                    old = was[GUARD:GUARD + d.size]
                    want = bytes(old[i] if t.dst_blocked[i] else want[i] for i in range(d.size))
                if body != want:
                    bad = next(i for i in range(d.size) if body[i] != want[i])
                    self._error(f"{t}: destination differs from the first at byte {bad} "
                                f"(got {body[bad:bad + 8].hex()}, expected {want[bad:bad + 8].hex()})")
                elif first:
                    self.stats["data_bytes_checked"] += d.size
            else:
                # Failed, rejected, dropped or aborted: nothing of the destination may change. (A failed DMA
                # read may have completed a prefix: only bytes past 'bytes completed' must be untouched.)
                done = t.record.bytes_completed if t.status in DMA_READ_FAILURES and t.record else 0
                if done and d.opcode == OP_MEMMOVE and "src" in t.before and body[:done] != t.before["src"][:done]:
                    self._error(f"{t}: the {done} bytes completed are not the source's first {done} bytes")
                if body[done:] != was[GUARD + done:GUARD + d.size] or (not done and t.dst_writes):
                    self._error(f"{t}: destination written although the descriptor {t.state} with status "
                                f"{t.status:#x} ({t.dst_writes} write TLPs)")
        if "src" in t.before and mem.read(d.src, d.size) != t.before["src"]:
            self._error(f"{t}: source buffer changed")
        # --- interrupts
        if t.state in ("rejected", "dropped", "aborted") and t.irq_seen:
            self._error(f"{t}: {t.state} but its interrupt was sent")
        if first:
            self.stats[f"descriptors_{t.state}"] += 1
            coverage.descriptor_checked(t)
            self.stats["descriptors_checked"] += 1

    def record_fault(self, t: Tracked):
        """ATS: the device could not write t's completion record (the record page's translation was denied or
        failed, docs/ats_pri.md 2.7): no record and no interrupt; the operation's effects stand, the record
        memory must stay as it was (SWERR CR_XLAT is the test's to check)."""
        assert t.state in ("accepted", "completed") and not t.cr_writes, f"{t}: {t.state}, record writes {t.cr_writes}"
        t.writes_cr, t.irq, t.state = False, ("none", None), "completed"

    def mark_aborted(self, items: Iterable[Tracked]):
        for t in items:
            assert t.state == "accepted" and not t.cr_writes, f"{t}: cannot be aborted, it is {t.state}"
            t.state = "aborted"

    def unfinished(self, wq: Optional[int] = None) -> list[Tracked]:
        """Accepted descriptors (with a record expected) that have none yet, oldest first."""
        if wq is None:
            return [t for t in self.items if t.state == "accepted" and t.writes_cr and not t.cr_writes]
        return [t for t in self.items[self._open_from(wq):]
                if t.wq == wq and t.state == "accepted" and t.writes_cr and not t.cr_writes]

    _SETTLED = frozenset({"rejected", "dropped", "completed", "aborted"})

    def _open_from(self, wq: int) -> int:
        """Index into `items` before which no descriptor of `wq` can be unfinished again: each has its record,
        expects none, or ended otherwise, and none of those changes back (batch_list_poisoned, which gives an
        accepted batch a record to wait for, starts the scan over). wait_below asks every few cycles; a
        scan of every descriptor of the test each time was a large part of a long test's CPU."""
        items, i = self.items, self._open_start.get(wq, 0)
        settled = self._SETTLED
        while i < len(items):
            t = items[i]
            if t.wq == wq and t.state not in settled and not (t.state == "accepted" and (t.cr_writes or not t.writes_cr)):
                break
            i += 1
        self._open_start[wq] = i
        return i

    def expected_messages(self) -> Counter:
        """Messages predicted by completed descriptors with RCI to an unmasked entry."""
        c = Counter()
        for t in self.items:
            if t.state in ("completed", "accepted") and t.irq[0] == "msg":
                c[t.irq[1]] += 1
        return c

    async def check_messages(self, extra: Optional[dict] = None, timeout_ns: float = 50_000):
        """Every predicted completion interrupt arrived exactly once and nothing else arrived (besides
        `extra`, which the test expects for its own reasons)."""
        want = self.expected_messages() + Counter(extra or {})
        await self.b.msgs.wait_for(want, timeout_ns)
        await self.b.settle()
        self.b.msgs.assert_exactly(want)
        lost_order = [t for t in self.items if t.irq[0] == "msg" and t.state == "completed" and not t.irq_seen]
        assert not lost_order, f"interrupts not matched to their descriptors: {', '.join(map(str, lost_order[:5]))}"
        self.stats["interrupts_checked"] += sum(want.values())

    def report(self) -> str:
        """Counts for the log (descriptors_accepted = completed without a record, checked after a drain)."""
        keys = ("descriptors_checked", "descriptors_completed", "descriptors_accepted", "descriptors_rejected",
                "descriptors_dropped",
                "descriptors_aborted", "completion_records_checked", "data_bytes_checked", "dma_tlps_checked",
                "interrupts_checked", "messages_seen")
        s = ", ".join(f"{k}={self.stats[k]}" for k in keys)
        lost = len(self.unfinished())
        return f"scoreboard: {s}, lost={lost}, duplicate/ordering/tagging errors={len(self.errors)}"
