"""GICv3 ITS and LPI redistributors: the ARM platform's path from a doorbell write to a CPU.

Follows platform-facts.md section 5 (register offsets and fields from Linux arm-gic-v3.h, 32-byte
little-endian commands as Linux its_encode_* builds them, sizing rules, LPI range, error codes) and the
GICv3 architecture where the facts are silent.

ITS frame (``GicIts.read_reg/write_reg``, offsets from the ITS base; the frame is 128 KiB):
  GITS_CTLR 0x0 (Enabled b0, Quiescent b31 RO), GITS_TYPER 0x8, GITS_CBASER 0x80 (Valid b63,
  PA[51:12], Size[7:0] = 4 KiB pages - 1), GITS_CWRITER 0x88 (Offset[19:5], Retry b0),
  GITS_CREADR 0x90 (Offset[19:5], Stalled b0), GITS_BASER0..7 0x100..0x138, and GITS_TRANSLATER at
  0x10040, reached by a device's write through :meth:`GicIts.handle_write` (DeviceID = requester ID,
  EventID = the 16- or 32-bit data).

GITS_TYPER: PLPIS=1, ITT_entry_size[7:4] = 8-1, ID_bits[12:8] = event_id_bits-1,
  Devbits[17:13] = device_id_bits-1, PTA=0 (a collection names a processor number), HCC=0 (every
  collection lives in memory), CIL=0 (16-bit ICIDs).

Tables (flat only: BASER.Indirect is RAZ/WI; Type and Entry_Size are read-only; Page_Size 4/16/64 KiB):
  BASER0 Type=1 device table, BASER1 Type=4 collection table, BASER2-7 unimplemented (RAZ/WI).
  Entries are implementation-defined on real hardware; this model's 8-byte little-endian layouts:
    DTE (device table, index DeviceID): V b0, Size[5:1] (EventID bits - 1), ITT address[51:8].
    ITE (ITT, index EventID):           V b0, ICID[16:1], pINTID[63:32].
    CTE (collection table, index ICID): V b0, RDbase[51:16] (processor number, as in MAPC).
  The ITS keeps no copy of them: MAPD/MAPC/MAPTI/MAPI/MOVI/DISCARD write them to host memory and every
  translation reads them back, so a kernel that corrupts or frees a table live sees it fail.

Command errors (unknown opcodes including the GICv4 ones, out-of-range or unmapped IDs) are recorded
in ``errors`` with the KVM/Linux E_ITS_* code where one exists, and processing *continues* with the next
command, as QEMU does (CMD_CONTINUE). With ``stall_on_command_error=True`` the ITS instead stalls on the
failing command (CREADR.Stalled=1, CREADR left pointing at it), the other behaviour the architecture
allows. A memory error while reading the queue or a table always stalls, as in QEMU. Writing CWRITER with
Retry=1 restarts a stalled queue at CREADR; writing CBASER resets CREADR to 0.

Translation failures (DeviceID outside Devbits or the device table, invalid DTE, EventID >= 2^(Size+1),
invalid ITE, unmapped collection) drop the write and record an error with reason and code
E_ITS_INT_UNMAPPED_INTERRUPT, the code KVM returns for all of them.

Facts conflate two limits; this model keeps them apart: GITS_TYPER.ID_bits bounds EventIDs
(``event_id_bits``), while a pINTID must be an LPI, 8192 <= INTID < 2^intid_bits (the GIC's
GICD_TYPER.IDbits + 1; QEMU uses 16 for both), and a redistributor drops LPIs at or above
2^(GICR_PROPBASER.IDbits + 1).

Redistributors (``GicRedistributors``, one frame per processor, ``frames[p].read_reg/write_reg``):
  GICR_CTLR 0x0 (EnableLPIs b0), GICR_TYPER 0x8 (PLPIS b0, Last b4, Processor_Number[23:8]),
  GICR_PROPBASER 0x70 (PA[51:12], IDbits[4:0]), GICR_PENDBASER 0x78 (stored; pending state is kept
  inside the model rather than in the pending table). The LPI configuration byte for INTID n is at
  PROPBASER.PA + (n - 8192): bit0 enable, bits[7:2] priority. Like hardware, a redistributor caches
  configuration bytes; software must issue INV/INVALL after changing one (``cache_lpi_config=False``
  disables the cache). An LPI that is disabled, or arrives while EnableLPIs=0, stays pending (``held``)
  and is delivered once when an INV/INVALL or EnableLPIs finds it enabled; CLEAR and DISCARD drop the
  pending state and MOVI/MOVALL move it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any, Callable

from .cpu import Cpus
from .memory import HostMemory, MemoryAccessError, RegisterFile, bit_field, bit_mask, read_le, write_le

GITS_CTLR = 0x0000
GITS_IIDR = 0x0004
GITS_TYPER = 0x0008
GITS_CBASER = 0x0080
GITS_CWRITER = 0x0088
GITS_CREADR = 0x0090
GITS_BASER = 0x0100
GITS_BASER_COUNT = 8
GITS_TRANSLATER = 0x10040
ITS_FRAME_BYTES = 0x20000

GITS_CTLR_ENABLED = 1 << 0
GITS_CTLR_QUIESCENT = 1 << 31
GITS_CREADR_STALLED = 1 << 0
GITS_CWRITER_RETRY = 1 << 0
GITS_CBASER_VALID = 1 << 63
GITS_BASER_VALID = 1 << 63
GITS_BASER_TYPE_NONE = 0
GITS_BASER_TYPE_DEVICE = 1
GITS_BASER_TYPE_COLLECTION = 4
BASER_PAGE_BYTES = {0: 4096, 1: 16384, 2: 65536}

GICR_CTLR = 0x0000
GICR_TYPER = 0x0008
GICR_PROPBASER = 0x0070
GICR_PENDBASER = 0x0078
GICR_CTLR_ENABLE_LPIS = 1 << 0

LPI_INTID_BASE = 8192
LPI_CONFIG_ENABLE = 1 << 0

COMMAND_BYTES = 32
DTE_BYTES = ITE_BYTES = CTE_BYTES = 8


class ItsCommand(IntEnum):
    MOVI = 0x01
    INT = 0x03
    CLEAR = 0x04
    SYNC = 0x05
    MAPD = 0x08
    MAPC = 0x09
    MAPTI = 0x0A
    MAPI = 0x0B
    INV = 0x0C
    INVALL = 0x0D
    MOVALL = 0x0E
    DISCARD = 0x0F


# Error numbers from Linux include/linux/irqchip/arm-gic-v3.h (as used by KVM's vgic-its).
E_ITS_MOVI_UNMAPPED_INTERRUPT = 0x010107
E_ITS_MOVI_UNMAPPED_COLLECTION = 0x010109
E_ITS_INT_UNMAPPED_INTERRUPT = 0x010307
E_ITS_CLEAR_UNMAPPED_INTERRUPT = 0x010507
E_ITS_MAPD_DEVICE_OOR = 0x010801
E_ITS_MAPD_ITTSIZE_OOR = 0x010802
E_ITS_MAPC_PROCNUM_OOR = 0x010902
E_ITS_MAPC_COLLECTION_OOR = 0x010903
E_ITS_MAPTI_UNMAPPED_DEVICE = 0x010A04
E_ITS_MAPTI_ID_OOR = 0x010A05
E_ITS_MAPTI_PHYSICALID_OOR = 0x010A06
E_ITS_INV_UNMAPPED_INTERRUPT = 0x010C07
E_ITS_INVALL_UNMAPPED_COLLECTION = 0x010D09
E_ITS_MOVALL_PROCNUM_OOR = 0x010E01
E_ITS_DISCARD_UNMAPPED_INTERRUPT = 0x010F07


class ItsErrorReason(str, Enum):
    DEVICE_OUT_OF_RANGE = "device_id_out_of_range"
    DEVICE_UNMAPPED = "device_unmapped"
    EVENT_OUT_OF_RANGE = "event_id_out_of_range"
    EVENT_UNMAPPED = "event_unmapped"
    COLLECTION_OUT_OF_RANGE = "collection_id_out_of_range"
    COLLECTION_UNMAPPED = "collection_unmapped"
    ITT_SIZE_OUT_OF_RANGE = "itt_size_out_of_range"
    PROCESSOR_OUT_OF_RANGE = "processor_out_of_range"
    INTID_OUT_OF_RANGE = "intid_out_of_range"
    UNSUPPORTED_COMMAND = "unsupported_command"
    TABLE_MEMORY_ERROR = "table_memory_error"
    COMMAND_QUEUE_MEMORY_ERROR = "command_queue_memory_error"
    CWRITER_OUT_OF_RANGE = "cwriter_out_of_range"
    ITS_DISABLED = "its_disabled"
    BAD_ACCESS = "bad_access"


@dataclass(frozen=True)
class ItsError:
    source: str  # "translation" (a device write) or "command"
    reason: ItsErrorReason
    code: int | None
    device_id: int | None
    event_id: int | None
    opcode: int | None
    queue_offset: int | None
    time: Any

    @property
    def requester_id(self) -> int | None:
        return self.device_id if self.source == "translation" else None


@dataclass(frozen=True)
class ItsCommandFields:
    """A 32-byte command split per facts section 5 (DW = 64-bit little-endian word)."""

    raw: bytes

    def _dw(self, n: int) -> int:
        return int.from_bytes(self.raw[8 * n:8 * n + 8], "little")

    opcode = property(lambda self: bit_field(self._dw(0), 7, 0))
    device_id = property(lambda self: bit_field(self._dw(0), 63, 32))
    event_id = property(lambda self: bit_field(self._dw(1), 31, 0))
    physical_id = property(lambda self: bit_field(self._dw(1), 63, 32))
    size = property(lambda self: bit_field(self._dw(1), 4, 0))
    itt_address = property(lambda self: self._dw(2) & bit_mask(51, 8))
    valid = property(lambda self: bit_field(self._dw(2), 63, 63))
    collection_id = property(lambda self: bit_field(self._dw(2), 15, 0))
    rdbase = property(lambda self: bit_field(self._dw(2), 51, 16))
    rdbase2 = property(lambda self: bit_field(self._dw(3), 51, 16))

    @property
    def name(self) -> str:
        try:
            return ItsCommand(self.opcode).name
        except ValueError:
            return f"UNKNOWN_{self.opcode:#04x}"


@dataclass(frozen=True)
class ItsCommandRecord:
    queue_offset: int
    command: ItsCommandFields
    error: ItsError | None

    opcode = property(lambda self: self.command.opcode)
    name = property(lambda self: self.command.name)


@dataclass(frozen=True)
class HeldLpi:
    target: int
    intid: int
    reason: str  # "lpi_disabled", "lpis_disabled_in_redistributor", "config_read_error", ...
    time: Any


class _ItsFailure(Exception):
    def __init__(self, reason: ItsErrorReason, code: int | None):
        super().__init__(reason.value)
        self.reason = reason
        self.code = code


# ---------------------------------------------------------------------------------- redistributors
class RedistributorFrame(RegisterFile):
    """The LPI-related registers of one GICR_* frame."""

    REGISTER_WIDTHS = {GICR_CTLR: 4, GICR_TYPER: 8, GICR_PROPBASER: 8, GICR_PENDBASER: 8}

    def __init__(self, owner: "GicRedistributors", processor_number: int, last: bool):
        self._owner = owner
        self.processor_number = processor_number
        self._last = last
        self.enable_lpis = False
        self.propbaser = 0
        self.pendbaser = 0
        self.config_cache: dict[int, int] = {}
        self.pending: dict[int, dict] = {}  # INTID -> details of the message that made it pending

    @property
    def lpi_limit(self) -> int:
        table_bits = bit_field(self.propbaser, 4, 0) + 1
        return min(1 << table_bits, 1 << self._owner.intid_bits)

    @property
    def config_table_base(self) -> int:
        return self.propbaser & bit_mask(51, 12)

    def _read_register(self, offset: int) -> int:
        if offset == GICR_CTLR:
            return GICR_CTLR_ENABLE_LPIS if self.enable_lpis else 0
        if offset == GICR_TYPER:
            return 1 | (1 << 4 if self._last else 0) | (self.processor_number & 0xFFFF) << 8
        if offset == GICR_PROPBASER:
            return self.propbaser
        return self.pendbaser

    def _write_register(self, offset: int, value: int, written_mask: int) -> None:
        if offset == GICR_CTLR:
            was_enabled, self.enable_lpis = self.enable_lpis, bool(value & GICR_CTLR_ENABLE_LPIS)
            if self.enable_lpis and not was_enabled:
                self._owner.replay_pending(self)
        elif offset == GICR_PROPBASER:
            self.propbaser = value
            self.config_cache.clear()
        elif offset == GICR_PENDBASER:
            self.pendbaser = value


class GicRedistributors:
    """LPI configuration and pending state per processor, delivering to :class:`Cpus`."""

    def __init__(self, memory: HostMemory, cpus: Cpus, *, intid_bits: int = 16,
                 cache_lpi_config: bool = True):
        self.memory = memory
        self.cpus = cpus
        self.intid_bits = intid_bits
        self.cache_lpi_config = cache_lpi_config
        ids = cpus.ids
        self.frames = {p: RedistributorFrame(self, p, i == len(ids) - 1) for i, p in enumerate(ids)}
        self.held: list[HeldLpi] = []
        self.dropped: list[HeldLpi] = []

    def has_processor(self, processor_number: int) -> bool:
        return processor_number in self.frames

    def is_pending(self, target: int, intid: int) -> bool:
        frame = self.frames.get(target)
        return frame is not None and intid in frame.pending

    def set_pending(self, target: int, intid: int, **details: Any) -> str:
        """Make an LPI pending on a redistributor; returns "delivered", "held" or "dropped"."""
        frame = self.frames.get(target)
        if frame is None:
            requester_id = details.pop("requester_id", None)
            self.cpus.deliver(target, intid, requester_id, **details)
            return "dropped"
        if not LPI_INTID_BASE <= intid < frame.lpi_limit:
            self.dropped.append(HeldLpi(target, intid, "intid_out_of_range", self.cpus.now()))
            return "dropped"
        frame.pending[intid] = details
        return "delivered" if self._try_deliver(frame, intid, record_hold=True) else "held"

    def clear_pending(self, target: int, intid: int) -> None:
        frame = self.frames.get(target)
        if frame is not None:
            frame.pending.pop(intid, None)

    def move_pending(self, intid: int, old_target: int, new_target: int) -> None:
        old, new = self.frames.get(old_target), self.frames.get(new_target)
        if old is None or new is None or intid not in old.pending:
            return
        new.pending[intid] = old.pending.pop(intid)
        self._try_deliver(new, intid, record_hold=False)

    def move_all_pending(self, old_target: int, new_target: int) -> None:
        for intid in list(self.frames[old_target].pending):
            self.move_pending(intid, old_target, new_target)

    def invalidate(self, target: int, intid: int) -> None:
        frame = self.frames.get(target)
        if frame is None:
            return
        frame.config_cache.pop(intid, None)
        if intid in frame.pending:
            self._try_deliver(frame, intid, record_hold=False)

    def invalidate_all(self, target: int) -> None:
        frame = self.frames.get(target)
        if frame is not None:
            frame.config_cache.clear()
            self.replay_pending(frame)

    def replay_pending(self, frame: RedistributorFrame) -> None:
        for intid in sorted(frame.pending):
            self._try_deliver(frame, intid, record_hold=False)

    def _config_byte(self, frame: RedistributorFrame, intid: int) -> int | None:
        cached = frame.config_cache.get(intid)
        if cached is not None:
            return cached
        try:
            value = self.memory.read(frame.config_table_base + intid - LPI_INTID_BASE, 1)[0]
        except MemoryAccessError:
            return None
        if self.cache_lpi_config:
            frame.config_cache[intid] = value
        return value

    def _try_deliver(self, frame: RedistributorFrame, intid: int, record_hold: bool) -> bool:
        if not frame.enable_lpis:
            reason = "lpis_disabled_in_redistributor"
        else:
            config = self._config_byte(frame, intid)
            if config is None:
                reason = "config_read_error"
            elif not config & LPI_CONFIG_ENABLE:
                reason = "lpi_disabled"
            else:
                details = frame.pending.pop(intid)
                self.cpus.deliver(frame.processor_number, intid, details.pop("requester_id", None),
                                  **details)
                return True
        if record_hold:
            self.held.append(HeldLpi(frame.processor_number, intid, reason, self.cpus.now()))
        return False


# ---------------------------------------------------------------------------------- ITS
@dataclass(frozen=True)
class _EventMapping:
    ite_address: int
    collection_id: int
    intid: int


class GicIts(RegisterFile):
    """A GICv3 ITS whose tables and command queue live in host memory."""

    REGISTER_WIDTHS = {GITS_CTLR: 4, GITS_IIDR: 4, GITS_TYPER: 8, GITS_CBASER: 8,
                       GITS_CWRITER: 8, GITS_CREADR: 8,
                       **{GITS_BASER + 8 * n: 8 for n in range(GITS_BASER_COUNT)}}
    TABLE_TYPES = (GITS_BASER_TYPE_DEVICE, GITS_BASER_TYPE_COLLECTION)

    def __init__(self, memory: HostMemory, redistributors: GicRedistributors, *,
                 phys_base: int = 0x0808_0000, device_id_bits: int = 16, event_id_bits: int = 16,
                 stall_on_command_error: bool = False):
        self.memory = memory
        self.redistributors = redistributors
        self.phys_base = phys_base
        self.device_id_bits = device_id_bits
        self.event_id_bits = event_id_bits
        self.stall_on_command_error = stall_on_command_error
        self._handlers: dict[int, Callable[[ItsCommandFields], None]] = {
            ItsCommand.MAPD: self._cmd_mapd, ItsCommand.MAPC: self._cmd_mapc,
            ItsCommand.MAPTI: self._cmd_mapti, ItsCommand.MAPI: self._cmd_mapti,
            ItsCommand.INT: self._cmd_int, ItsCommand.CLEAR: self._cmd_clear,
            ItsCommand.INV: self._cmd_inv, ItsCommand.INVALL: self._cmd_invall,
            ItsCommand.DISCARD: self._cmd_discard, ItsCommand.MOVI: self._cmd_movi,
            ItsCommand.MOVALL: self._cmd_movall, ItsCommand.SYNC: lambda command: None,
        }
        self.reset()

    def reset(self) -> None:
        self._enabled = False
        self._cbaser = 0
        self._cwriter = 0
        self._creadr = 0
        self._stalled = False
        self._baser = [self._baser_read_only_bits(n) for n in range(GITS_BASER_COUNT)]
        self.errors: list[ItsError] = []
        self.command_log: list[ItsCommandRecord] = []
        self.translated = 0

    @property
    def doorbell_address(self) -> int:
        return self.phys_base + GITS_TRANSLATER

    @property
    def cpus(self) -> Cpus:
        return self.redistributors.cpus

    # ----------------------------------------------------------------- registers
    @property
    def typer(self) -> int:
        return (1 | (ITE_BYTES - 1) << 4 | (self.event_id_bits - 1) << 8
                | (self.device_id_bits - 1) << 13)

    def _baser_read_only_bits(self, n: int) -> int:
        if n >= len(self.TABLE_TYPES):
            return 0
        entry_bytes = DTE_BYTES if self.TABLE_TYPES[n] == GITS_BASER_TYPE_DEVICE else CTE_BYTES
        return self.TABLE_TYPES[n] << 56 | (entry_bytes - 1) << 48

    def _read_register(self, offset: int) -> int:
        if offset == GITS_CTLR:
            return GITS_CTLR_ENABLED if self._enabled else GITS_CTLR_QUIESCENT
        if offset == GITS_TYPER:
            return self.typer
        if offset == GITS_CBASER:
            return self._cbaser
        if offset == GITS_CWRITER:
            return self._cwriter
        if offset == GITS_CREADR:
            return self._creadr | (GITS_CREADR_STALLED if self._stalled else 0)
        if GITS_BASER <= offset < GITS_BASER + 8 * GITS_BASER_COUNT:
            return self._baser[(offset - GITS_BASER) // 8]
        return 0

    def _write_register(self, offset: int, value: int, written_mask: int) -> None:
        if offset == GITS_CTLR:
            was_enabled, self._enabled = self._enabled, bool(value & GITS_CTLR_ENABLED)
            if self._enabled and not was_enabled:
                self._process_command_queue()
        elif offset == GITS_CBASER:
            self._cbaser = value & (GITS_CBASER_VALID | bit_mask(51, 12) | bit_mask(7, 0))
            self._creadr = 0
            self._stalled = False
        elif offset == GITS_CWRITER:
            self._cwriter = value & bit_mask(19, 5)
            if value & written_mask & GITS_CWRITER_RETRY:
                self._stalled = False
            self._process_command_queue()
        elif GITS_BASER <= offset < GITS_BASER + 8 * GITS_BASER_COUNT:
            n = (offset - GITS_BASER) // 8
            read_only = self._baser_read_only_bits(n)
            if not read_only:
                return
            page_size = min(bit_field(value, 9, 8), 2)
            writable = GITS_BASER_VALID | bit_mask(47, 12) | bit_mask(11, 10) | bit_mask(7, 0)
            self._baser[n] = read_only | (value & writable & ~bit_mask(9, 8)) | page_size << 8

    def _table(self, table_type: int) -> tuple[int, int] | None:
        """(base, entry count) of a valid table of that type."""
        for baser in self._baser:
            if bit_field(baser, 58, 56) == table_type and baser & GITS_BASER_VALID:
                page_bytes = BASER_PAGE_BYTES[bit_field(baser, 9, 8)]
                base = baser & bit_mask(47, 12)
                if page_bytes == 65536:
                    base = (base & ~0xFFFF) | bit_field(baser, 15, 12) << 48
                entry_bytes = bit_field(baser, 52, 48) + 1
                return base, (bit_field(baser, 7, 0) + 1) * page_bytes // entry_bytes
        return None

    # ----------------------------------------------------------------- table access
    def _device_entry_address(self, device_id: int, code: int | None) -> int:
        table = self._table(GITS_BASER_TYPE_DEVICE)
        if table is None or device_id >= min(1 << self.device_id_bits, table[1]):
            raise _ItsFailure(ItsErrorReason.DEVICE_OUT_OF_RANGE, code)
        return table[0] + device_id * DTE_BYTES

    def _collection_entry_address(self, collection_id: int, code: int | None) -> int:
        table = self._table(GITS_BASER_TYPE_COLLECTION)
        if table is None or collection_id >= table[1]:
            raise _ItsFailure(ItsErrorReason.COLLECTION_OUT_OF_RANGE, code)
        return table[0] + collection_id * CTE_BYTES

    def _lookup_device(self, device_id: int, code: int | None) -> tuple[int, int]:
        """(event-ID bits, ITT address) of a mapped device."""
        dte = read_le(self.memory, self._device_entry_address(device_id, code), DTE_BYTES)
        if not dte & 1:
            raise _ItsFailure(ItsErrorReason.DEVICE_UNMAPPED, code)
        return bit_field(dte, 5, 1) + 1, dte & bit_mask(51, 8)

    def _lookup_event(self, device_id: int, event_id: int, code: int | None) -> _EventMapping:
        event_bits, itt_address = self._lookup_device(device_id, code)
        if event_id >= 1 << event_bits:
            raise _ItsFailure(ItsErrorReason.EVENT_OUT_OF_RANGE, code)
        ite_address = itt_address + event_id * ITE_BYTES
        ite = read_le(self.memory, ite_address, ITE_BYTES)
        if not ite & 1:
            raise _ItsFailure(ItsErrorReason.EVENT_UNMAPPED, code)
        return _EventMapping(ite_address, bit_field(ite, 16, 1), bit_field(ite, 63, 32))

    def _collection_target(self, collection_id: int, code: int | None) -> int:
        cte = read_le(self.memory, self._collection_entry_address(collection_id, code), CTE_BYTES)
        if not cte & 1:
            raise _ItsFailure(ItsErrorReason.COLLECTION_UNMAPPED, code)
        return bit_field(cte, 51, 16)

    def _write_ite(self, address: int, valid: bool, collection_id: int = 0, intid: int = 0) -> None:
        write_le(self.memory, address,
                 (1 if valid else 0) | collection_id << 1 | intid << 32, ITE_BYTES)

    # ----------------------------------------------------------------- device writes
    def handle_write(self, addr: int, data: bytes, requester_id: int) -> bool:
        """Consume a write to this ITS's frames (physical address); False if not ours."""
        if not self.phys_base <= addr < self.phys_base + ITS_FRAME_BYTES:
            return False
        event_id = int.from_bytes(data, "little")
        try:
            if addr != self.doorbell_address or len(data) not in (2, 4):
                raise _ItsFailure(ItsErrorReason.BAD_ACCESS, None)
            if not self._enabled:
                raise _ItsFailure(ItsErrorReason.ITS_DISABLED, None)
            mapping = self._lookup_event(requester_id, event_id, E_ITS_INT_UNMAPPED_INTERRUPT)
            target = self._collection_target(mapping.collection_id, E_ITS_INT_UNMAPPED_INTERRUPT)
        except _ItsFailure as failure:
            self._record_error("translation", failure.reason, failure.code, requester_id, event_id)
        except MemoryAccessError:
            self._record_error("translation", ItsErrorReason.TABLE_MEMORY_ERROR, None,
                               requester_id, event_id)
        else:
            self.translated += 1
            self.redistributors.set_pending(target, mapping.intid, requester_id=requester_id,
                                            device_id=requester_id, event_id=event_id)
        return True

    def _record_error(self, source: str, reason: ItsErrorReason, code: int | None,
                      device_id: int | None, event_id: int | None, opcode: int | None = None,
                      queue_offset: int | None = None) -> ItsError:
        error = ItsError(source, reason, code, device_id, event_id, opcode, queue_offset,
                         self.cpus.now())
        self.errors.append(error)
        return error

    # ----------------------------------------------------------------- command queue
    @property
    def stalled(self) -> bool:
        return self._stalled

    def _process_command_queue(self) -> None:
        if not self._enabled or not self._cbaser & GITS_CBASER_VALID or self._stalled:
            return
        queue_bytes = (bit_field(self._cbaser, 7, 0) + 1) * 4096
        base = self._cbaser & bit_mask(51, 12)
        if self._cwriter >= queue_bytes:
            self._stall(ItsErrorReason.CWRITER_OUT_OF_RANGE, None)
            return
        while self._creadr != self._cwriter:
            try:
                raw = self.memory.read(base + self._creadr, COMMAND_BYTES)
            except MemoryAccessError:
                self._stall(ItsErrorReason.COMMAND_QUEUE_MEMORY_ERROR, None)
                return
            command = ItsCommandFields(raw)
            try:
                error = self._execute(command)
            except MemoryAccessError:
                self._stall(ItsErrorReason.TABLE_MEMORY_ERROR, command)
                return
            if error is not None and self.stall_on_command_error:
                self._stalled = True
                return
            self._creadr = (self._creadr + COMMAND_BYTES) % queue_bytes

    def _stall(self, reason: ItsErrorReason, command: ItsCommandFields | None) -> None:
        self._stalled = True
        error = self._record_error("command", reason, None,
                                   command.device_id if command else None,
                                   command.event_id if command else None,
                                   command.opcode if command else None, self._creadr)
        if command is not None:
            self.command_log.append(ItsCommandRecord(self._creadr, command, error))

    def _execute(self, command: ItsCommandFields) -> ItsError | None:
        error = None
        try:
            handler = self._handlers.get(command.opcode)
            if handler is None:
                raise _ItsFailure(ItsErrorReason.UNSUPPORTED_COMMAND, None)
            handler(command)
        except _ItsFailure as failure:
            error = self._record_error("command", failure.reason, failure.code, command.device_id,
                                       command.event_id, command.opcode, self._creadr)
        self.command_log.append(ItsCommandRecord(self._creadr, command, error))
        return error

    def _cmd_mapd(self, command: ItsCommandFields) -> None:
        address = self._device_entry_address(command.device_id, E_ITS_MAPD_DEVICE_OOR)
        if command.valid and command.size + 1 > self.event_id_bits:
            raise _ItsFailure(ItsErrorReason.ITT_SIZE_OUT_OF_RANGE, E_ITS_MAPD_ITTSIZE_OOR)
        dte = (1 | command.size << 1 | command.itt_address) if command.valid else 0
        write_le(self.memory, address, dte, DTE_BYTES)

    def _cmd_mapc(self, command: ItsCommandFields) -> None:
        address = self._collection_entry_address(command.collection_id, E_ITS_MAPC_COLLECTION_OOR)
        if command.valid and not self.redistributors.has_processor(command.rdbase):
            raise _ItsFailure(ItsErrorReason.PROCESSOR_OUT_OF_RANGE, E_ITS_MAPC_PROCNUM_OOR)
        write_le(self.memory, address, (1 | command.rdbase << 16) if command.valid else 0,
                 CTE_BYTES)

    def _cmd_mapti(self, command: ItsCommandFields) -> None:
        event_bits, itt_address = self._lookup_device(command.device_id,
                                                      E_ITS_MAPTI_UNMAPPED_DEVICE)
        if command.event_id >= 1 << event_bits:
            raise _ItsFailure(ItsErrorReason.EVENT_OUT_OF_RANGE, E_ITS_MAPTI_ID_OOR)
        intid = command.physical_id if command.opcode == ItsCommand.MAPTI else command.event_id
        if not LPI_INTID_BASE <= intid < 1 << self.redistributors.intid_bits:
            raise _ItsFailure(ItsErrorReason.INTID_OUT_OF_RANGE, E_ITS_MAPTI_PHYSICALID_OOR)
        self._collection_entry_address(command.collection_id, E_ITS_MAPC_COLLECTION_OOR)
        self._write_ite(itt_address + command.event_id * ITE_BYTES, True,
                        command.collection_id, intid)

    def _event_and_target(self, command: ItsCommandFields, code: int) -> tuple[_EventMapping, int]:
        mapping = self._lookup_event(command.device_id, command.event_id, code)
        return mapping, self._collection_target(mapping.collection_id, code)

    def _cmd_int(self, command: ItsCommandFields) -> None:
        mapping, target = self._event_and_target(command, E_ITS_INT_UNMAPPED_INTERRUPT)
        self.redistributors.set_pending(target, mapping.intid, device_id=command.device_id,
                                        event_id=command.event_id, injected_by="INT")

    def _cmd_clear(self, command: ItsCommandFields) -> None:
        mapping, target = self._event_and_target(command, E_ITS_CLEAR_UNMAPPED_INTERRUPT)
        self.redistributors.clear_pending(target, mapping.intid)

    def _cmd_inv(self, command: ItsCommandFields) -> None:
        mapping, target = self._event_and_target(command, E_ITS_INV_UNMAPPED_INTERRUPT)
        self.redistributors.invalidate(target, mapping.intid)

    def _cmd_invall(self, command: ItsCommandFields) -> None:
        target = self._collection_target(command.collection_id, E_ITS_INVALL_UNMAPPED_COLLECTION)
        self.redistributors.invalidate_all(target)

    def _cmd_discard(self, command: ItsCommandFields) -> None:
        mapping, target = self._event_and_target(command, E_ITS_DISCARD_UNMAPPED_INTERRUPT)
        self.redistributors.clear_pending(target, mapping.intid)
        self._write_ite(mapping.ite_address, False)

    def _cmd_movi(self, command: ItsCommandFields) -> None:
        mapping = self._lookup_event(command.device_id, command.event_id,
                                     E_ITS_MOVI_UNMAPPED_INTERRUPT)
        old_target = self._collection_target(mapping.collection_id, E_ITS_MOVI_UNMAPPED_COLLECTION)
        new_target = self._collection_target(command.collection_id, E_ITS_MOVI_UNMAPPED_COLLECTION)
        self._write_ite(mapping.ite_address, True, command.collection_id, mapping.intid)
        self.redistributors.move_pending(mapping.intid, old_target, new_target)

    def _cmd_movall(self, command: ItsCommandFields) -> None:
        for rdbase in (command.rdbase, command.rdbase2):
            if not self.redistributors.has_processor(rdbase):
                raise _ItsFailure(ItsErrorReason.PROCESSOR_OUT_OF_RANGE, E_ITS_MOVALL_PROCNUM_OOR)
        self.redistributors.move_all_pending(command.rdbase, command.rdbase2)
