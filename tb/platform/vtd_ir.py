"""VT-d interrupt-remapping unit: the x86 platform's path from a device's message write to a CPU.

Follows platform-facts.md section 4 (VT-d IR: remappable address format, 128-bit IRTE, source-id
checks, fault reasons 0x20-0x26, FRCD layout) and the register offsets of the VT-d specification as
Linux (drivers/iommu/intel) and QEMU (hw/i386/intel_iommu.c) use them:

========  ======  ===================================================================
offset    width   model
========  ======  ===================================================================
0x00      4       VER_REG (1.0)
0x08      8       CAP_REG: MGAW[21:16], FRO[33:24] (offset/16), NFR[47:40] (count-1)
0x10      8       ECAP_REG: QI b1, IR b3, EIM b4 (posted interrupts are CAP.PI b59: vtd_posted.py)
0x18      4       GCMD_REG (write-only, reads 0): QIE b26, IRE b25, SIRTP b24, CFI b23
0x1C      4       GSTS_REG: QIES b26, IRES b25, IRTPS b24, CFIS b23
0x34      4       FSTS_REG: PFO b0 (RW1C), PPF b1, IQE b4 (RW1C), FRI[15:8]
0x80      8       IQH_REG  (head, bits [18:4])
0x88      8       IQT_REG  (tail, bits [18:4]); writing it runs the invalidation queue
0x90      8       IQA_REG: base[63:12], DW b11 (256-bit descriptors: unsupported), QS[2:0]
0x9C      4       ICS_REG: IWC b0 (RW1C)
0xB8      8       IRTA_REG: base[63:12], EIME b11, S[3:0] (2^(S+1) entries)
0x200+16n 8+8     FRCD n: lo[63:48] IR index; hi SID[15:0], FR[39:32], F b63 (RW1C)
========  ======  ===================================================================

IRTA takes effect only when software sets GCMD.SIRTP, as on hardware. IRTEs are read from host memory
(IRTA base + 16 * index) and, like the hardware's interrupt entry cache (IEC), kept in a cache until
software invalidates them through the queued-invalidation interface (IEC descriptor type 4, global or
index-selective with IM; wait descriptor type 5 with status write). A kernel that rewrites an IRTE and
forgets the invalidation therefore sees the old routing, as on real hardware. ``cache_irtes=False``
turns the cache off. SIRTP does not flush the cache: the VT-d spec leaves the global IEC invalidation
after SIRTP to software (Linux does it).

Decisions where the sources differ or are silent (see the module's unit tests):

* SVT=2 (bus range): SID[15:8] is the start bus and SID[7:0] the end bus, as the VT-d spec and Linux's
  set_irte_verify_bus() (``start_bus << 8 | end_bus``) say. QEMU reads the upper byte as the maximum,
  the reverse; a Linux-programmed range start < end would always fail there.
* FPD suppresses only the *qualified* faults (0x22 not present, 0x24 reserved IRTE bits, 0x26 SID);
  the request-decode faults 0x20/0x21/0x23/0x25 are reported regardless. The interrupt is dropped
  either way.
* interrupt_index = handle + subhandle is 16-bit arithmetic and wraps (QEMU's uint16_t index); the
  fault record of a 0x20 on a remappable-format request carries that index (FRCD.FI[63:48]), as for
  every other interrupt-remapping fault; a compatibility-format request has no index (0).
* SHV=1 with data[31:16] != 0 is a request-decode fault (0x20) checked before the IRTE is read;
  QEMU checks it after the read, which only changes which fault wins when both apply.
* Reserved IRTE content (0x24): bits 14:12, 31:24, 127:84; bit 15 (IM: posted format, not supported
  by this class, CAP.PI = 0; :mod:`.vtd_posted` adds it through the ``_posted_request`` hook);
  destination bits 39:32 and 63:48 when EIME=0 (xAPIC); reserved delivery-mode encodings
  011b/110b; SVT=11b. QEMU checks only the first three and treats SVT=11b as a SID failure.
* 0x25: with IRE=1 a compatibility-format request is blocked when EIME=1 or GSTS.CFIS=0 (VT-d 5.1.4).
  With CFIS=1 and EIME=0 it passes through: vector data[7:0], destination addr[19:12].
* With IRE=0 every window write is a compatibility-format interrupt, and writes whose address has
  nonzero bits 63:32 are not interrupt requests (the method returns False). With IRE=1 such a write
  whose low half is in the window faults 0x20, as QEMU does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from .cpu import Cpus
from .memory import (HostMemory, MemoryAccessError, RegisterFile, bit_field, bit_mask,
                     read_le, write_le)

INTERRUPT_WINDOW_BASE = 0xFEE0_0000
INTERRUPT_WINDOW_MASK = 0xFFF0_0000

VER_REG = 0x00
CAP_REG = 0x08
ECAP_REG = 0x10
GCMD_REG = 0x18
GSTS_REG = 0x1C
FSTS_REG = 0x34
IQH_REG = 0x80
IQT_REG = 0x88
IQA_REG = 0x90
ICS_REG = 0x9C
IRTA_REG = 0xB8
FRCD_REG_BASE = 0x200

GCMD_QIE = 1 << 26
GCMD_IRE = 1 << 25
GCMD_SIRTP = 1 << 24
GCMD_CFI = 1 << 23
GSTS_QIES = 1 << 26
GSTS_IRES = 1 << 25
GSTS_IRTPS = 1 << 24
GSTS_CFIS = 1 << 23

FSTS_PFO = 1 << 0
FSTS_PPF = 1 << 1
FSTS_IQE = 1 << 4
ICS_IWC = 1 << 0
FRCD_F = 1 << 63

IRTA_EIME = 1 << 11
IQA_DW = 1 << 11

ECAP_QI = 1 << 1
ECAP_IR = 1 << 3
ECAP_EIM = 1 << 4

QI_TYPE_IEC = 0x4
QI_TYPE_WAIT = 0x5
# Context-cache, IOTLB, device-TLB, PASID-IOTLB and PASID-cache invalidations: accepted and ignored,
# since this model does no DMA remapping.
QI_TYPES_WITHOUT_EFFECT = frozenset({0x1, 0x2, 0x3, 0x6, 0x7})

# Source-id qualifier masks for SVT=1, indexed by SQ (facts section 4; QEMU vtd_svt_mask).
SQ_MASKS = (0xFFFF, 0xFFFB, 0xFFF9, 0xFFF8)



def _interrupt_index(address_low: int, value: int | None) -> int:
    """interrupt_index of a remappable-format request (VT-d §5.1.2.2): handle = address[19:5] with
    handle[15] = address[2], plus data[15:0] when SHV = 1. The sum is a 16-bit index and wraps, as the
    hardware's (and QEMU's uint16_t) arithmetic does; the table-size check (0x21) sees the wrapped value."""
    handle = bit_field(address_low, 19, 5) | bit_field(address_low, 2, 2) << 15
    if bit_field(address_low, 3, 3) and value is not None:
        handle += value & 0xFFFF
    return handle & 0xFFFF

class VtdFaultReason(IntEnum):
    REQUEST_RESERVED = 0x20
    INDEX_OUT_OF_RANGE = 0x21
    NOT_PRESENT = 0x22
    TABLE_READ_ERROR = 0x23
    IRTE_RESERVED = 0x24
    COMPAT_BLOCKED = 0x25
    SOURCE_ID_MISMATCH = 0x26


QUALIFIED_FAULTS = frozenset({VtdFaultReason.NOT_PRESENT, VtdFaultReason.IRTE_RESERVED,
                              VtdFaultReason.SOURCE_ID_MISMATCH})

_IRTE_RESERVED_ALWAYS = (bit_mask(14, 12) | bit_mask(15, 15) | bit_mask(31, 24)
                         | bit_mask(127, 84))
_IRTE_RESERVED_XAPIC_DEST = bit_mask(39, 32) | bit_mask(63, 48)
_RESERVED_DELIVERY_MODES = frozenset({0b011, 0b110})


@dataclass(frozen=True)
class VtdFault:
    reason: VtdFaultReason
    requester_id: int
    index: int | None
    address: int
    data: int | None
    time: Any
    in_fault_register: bool  # False when the FRCD at FRI was still full (FSTS.PFO set instead)


@dataclass(frozen=True)
class Irte:
    """A remapped-format IRTE decoded per struct irte (facts section 4)."""

    raw: int

    present = property(lambda self: bit_field(self.raw, 0, 0))
    fault_processing_disable = property(lambda self: bit_field(self.raw, 1, 1))
    destination_mode = property(lambda self: bit_field(self.raw, 2, 2))
    redirection_hint = property(lambda self: bit_field(self.raw, 3, 3))
    trigger_mode = property(lambda self: bit_field(self.raw, 4, 4))
    delivery_mode = property(lambda self: bit_field(self.raw, 7, 5))
    posted = property(lambda self: bit_field(self.raw, 15, 15))
    vector = property(lambda self: bit_field(self.raw, 23, 16))
    destination_field = property(lambda self: bit_field(self.raw, 63, 32))
    source_id = property(lambda self: bit_field(self.raw, 79, 64))
    source_qualifier = property(lambda self: bit_field(self.raw, 81, 80))
    source_validation = property(lambda self: bit_field(self.raw, 83, 82))

    def has_reserved_content(self, x2apic_mode: bool) -> bool:
        reserved = _IRTE_RESERVED_ALWAYS | (0 if x2apic_mode else _IRTE_RESERVED_XAPIC_DEST)
        return bool(self.raw & reserved) or self.delivery_mode in _RESERVED_DELIVERY_MODES \
            or self.source_validation == 0b11

    def destination(self, x2apic_mode: bool) -> int:
        # xAPIC keeps the 8-bit APIC ID at IRTE bits 47:40 (Linux IRTE_DEST: dest << 8).
        return self.destination_field if x2apic_mode else bit_field(self.destination_field, 15, 8)

    def source_matches(self, requester_id: int) -> bool:
        if self.source_validation == 0b01:
            mask = SQ_MASKS[self.source_qualifier]
            return (requester_id & mask) == (self.source_id & mask)
        if self.source_validation == 0b10:
            start_bus, end_bus = self.source_id >> 8, self.source_id & 0xFF
            return start_bus <= (requester_id >> 8) <= end_bus
        return True


class _Fault(Exception):
    def __init__(self, reason: VtdFaultReason, index: int | None, fault_processing_disable=False):
        super().__init__(reason)
        self.reason = reason
        self.index = index
        self.suppressible = fault_processing_disable and reason in QUALIFIED_FAULTS


class VtdInterruptRemapping(RegisterFile):
    """One DMAR unit's interrupt-remapping half, with its fault recording and invalidation queue."""

    REGISTER_WIDTHS = {VER_REG: 4, CAP_REG: 8, ECAP_REG: 8, GCMD_REG: 4, GSTS_REG: 4,
                       FSTS_REG: 4, IQH_REG: 8, IQT_REG: 8, IQA_REG: 8, ICS_REG: 4, IRTA_REG: 8}

    def __init__(self, memory: HostMemory, cpus: Cpus, *, host_address_width: int = 39,
                 fault_recording_registers: int = 8, x2apic_capable: bool = True,
                 cache_irtes: bool = True):
        self.memory = memory
        self.cpus = cpus
        self.host_address_width = host_address_width
        self.x2apic_capable = x2apic_capable
        self.cache_irtes = cache_irtes
        self._frcd = [[0, 0] for _ in range(fault_recording_registers)]
        self.reset()

    def reset(self) -> None:
        self._irta = 0
        self._active_irta = 0  # IRTA as latched by the last SIRTP
        self._status = 0       # GSTS
        self._fsts_sticky = 0  # PFO, IQE
        self._fault_index = 0  # FSTS.FRI
        for record in self._frcd:
            record[0] = record[1] = 0
        self._iqa = self._iqh = self._iqt = 0
        self._ics = 0
        self._irte_cache: dict[int, int] = {}
        self.fault_log: list[VtdFault] = []
        self.suppressed_faults: list[VtdFault] = []
        self.invalidations: list[tuple[str, int | None, int | None]] = []
        self.delivered = 0
        self.faults = 0
        self.ignored_writes = 0

    # ----------------------------------------------------------------- configuration views
    @property
    def remapping_enabled(self) -> bool:
        return bool(self._status & GSTS_IRES)

    @property
    def x2apic_mode(self) -> bool:
        return bool(self._active_irta & IRTA_EIME)

    @property
    def table_base(self) -> int:
        return self._active_irta & ~0xFFF & ((1 << 64) - 1)

    @property
    def table_entries(self) -> int:
        return 1 << (bit_field(self._active_irta, 3, 0) + 1)

    # ----------------------------------------------------------------- registers
    def _register_width(self, offset: int) -> int | None:
        frcd_end = FRCD_REG_BASE + 16 * len(self._frcd)
        if FRCD_REG_BASE <= offset < frcd_end:
            return 8 if offset % 8 == 0 else None  # each record: low and high quadword
        return self.REGISTER_WIDTHS.get(offset)

    def _read_register(self, offset: int) -> int:
        if offset == VER_REG:
            return 0x10
        if offset == CAP_REG:
            return ((len(self._frcd) - 1) << 40 | (FRCD_REG_BASE // 16) << 24
                    | (self.host_address_width - 1) << 16)
        if offset == ECAP_REG:
            return ECAP_QI | ECAP_IR | (ECAP_EIM if self.x2apic_capable else 0)
        if offset == GSTS_REG:
            return self._status
        if offset == FSTS_REG:
            pending = FSTS_PPF if any(hi & FRCD_F for _, hi in self._frcd) else 0
            return self._fsts_sticky | pending | self._fault_index << 8
        if offset == IQH_REG:
            return self._iqh
        if offset == IQT_REG:
            return self._iqt
        if offset == IQA_REG:
            return self._iqa
        if offset == ICS_REG:
            return self._ics
        if offset == IRTA_REG:
            return self._irta
        if offset >= FRCD_REG_BASE:
            record, half = divmod(offset - FRCD_REG_BASE, 16)
            return self._frcd[record][half // 8]
        return 0  # GCMD is write-only

    def _write_register(self, offset: int, value: int, written_mask: int) -> None:
        if offset == GCMD_REG:
            self._global_command(value)
        elif offset == FSTS_REG:
            self._fsts_sticky &= ~(value & written_mask & (FSTS_PFO | FSTS_IQE))
        elif offset == IQT_REG:
            self._iqt = value & bit_mask(18, 4)
            self._run_invalidation_queue()
        elif offset == IQA_REG:
            self._iqa = value & (~bit_mask(10, 3) & ((1 << 64) - 1))
        elif offset == ICS_REG:
            self._ics &= ~(value & written_mask & ICS_IWC)
        elif offset == IRTA_REG:
            self._irta = value & ~bit_mask(10, 4) & ((1 << 64) - 1)
        elif offset >= FRCD_REG_BASE:
            record, half = divmod(offset - FRCD_REG_BASE, 16)
            if half == 8 and value & written_mask & FRCD_F:
                self._frcd[record][1] &= ~FRCD_F

    def _global_command(self, command: int) -> None:
        if command & GCMD_SIRTP:
            self._active_irta = self._irta
            self._status |= GSTS_IRTPS
        if command & GCMD_QIE and not self._status & GSTS_QIES:
            self._iqh = 0
        for command_bit, status_bit in ((GCMD_QIE, GSTS_QIES), (GCMD_IRE, GSTS_IRES),
                                        (GCMD_CFI, GSTS_CFIS)):
            if command & command_bit:
                self._status |= status_bit
            else:
                self._status &= ~status_bit

    # ----------------------------------------------------------------- invalidation queue
    def _run_invalidation_queue(self) -> None:
        if not self._status & GSTS_QIES or self._fsts_sticky & FSTS_IQE:
            return
        queue_bytes = 4096 << bit_field(self._iqa, 2, 0)
        base = self._iqa & ~0xFFF
        if self._iqa & IQA_DW or self._iqt >= queue_bytes:
            self._fsts_sticky |= FSTS_IQE
            return
        while self._iqh != self._iqt:
            try:
                descriptor = read_le(self.memory, base + self._iqh, 16)
                if not self._execute_descriptor(descriptor):
                    self._fsts_sticky |= FSTS_IQE
                    return
            except MemoryAccessError:
                self._fsts_sticky |= FSTS_IQE
                return
            self._iqh = (self._iqh + 16) % queue_bytes

    def _execute_descriptor(self, descriptor: int) -> bool:
        kind = bit_field(descriptor, 3, 0) | bit_field(descriptor, 11, 9) << 4
        if kind == QI_TYPE_IEC:
            if bit_field(descriptor, 4, 4):
                mask_bits = bit_field(descriptor, 31, 27)
                first = bit_field(descriptor, 47, 32) & ~((1 << mask_bits) - 1)
                for index in range(first, first + (1 << mask_bits)):
                    self._irte_cache.pop(index, None)
                self.invalidations.append(("index", first, mask_bits))
            else:
                self._irte_cache.clear()
                self.invalidations.append(("global", None, None))
            return True
        if kind == QI_TYPE_WAIT:
            if bit_field(descriptor, 5, 5):
                status_address = bit_field(descriptor, 127, 66) << 2
                write_le(self.memory, status_address, bit_field(descriptor, 63, 32), 4)
            if bit_field(descriptor, 4, 4):
                self._ics |= ICS_IWC
            return True
        return kind in QI_TYPES_WITHOUT_EFFECT

    # ----------------------------------------------------------------- message path
    def handle_write(self, addr: int, data: bytes, requester_id: int) -> bool:
        """Consume a device's memory write if it is an interrupt request; False otherwise."""
        address_low, address_high = addr & 0xFFFF_FFFF, addr >> 32
        if address_low & INTERRUPT_WINDOW_MASK != INTERRUPT_WINDOW_BASE:
            return False
        enabled = self.remapping_enabled
        if address_high and not enabled:
            return False
        value = int.from_bytes(data, "little") if len(data) == 4 else None
        if value is None and not enabled:
            self.ignored_writes += 1  # not a valid interrupt, and nothing to report it to
            return True
        try:
            if address_high or value is None:
                # The fault record carries the interrupt_index computed for the request (VT-d §7.1.3
                # FRCD.FI[63:48]); a compatibility-format request has none.
                index = _interrupt_index(address_low, value) if address_low & (1 << 4) else None
                raise _Fault(VtdFaultReason.REQUEST_RESERVED, index)
            if not enabled or not address_low & (1 << 4):
                self._compatibility_request(address_low, value, requester_id, enabled)
            else:
                self._remappable_request(address_low, value, requester_id)
        except _Fault as fault:
            self._record_fault(fault, requester_id, addr, value)
        return True

    def _compatibility_request(self, address: int, value: int, requester_id: int,
                               enabled: bool) -> None:
        if enabled and (self.x2apic_mode or not self._status & GSTS_CFIS):
            raise _Fault(VtdFaultReason.COMPAT_BLOCKED, None)
        self._deliver(bit_field(address, 19, 12), bit_field(value, 7, 0), requester_id,
                      format="compatibility", destination_mode=bit_field(address, 2, 2),
                      redirection_hint=bit_field(address, 3, 3),
                      delivery_mode=bit_field(value, 10, 8), trigger_mode=bit_field(value, 15, 15))

    def _remappable_request(self, address: int, value: int, requester_id: int) -> None:
        subhandle_valid = bit_field(address, 3, 3)
        index = _interrupt_index(address, value)
        if subhandle_valid and value >> 16:
            raise _Fault(VtdFaultReason.REQUEST_RESERVED, index)
        if index >= self.table_entries:
            raise _Fault(VtdFaultReason.INDEX_OUT_OF_RANGE, index)
        irte = self._fetch_irte(index)
        fpd = bool(irte.fault_processing_disable)
        if not irte.present:
            raise _Fault(VtdFaultReason.NOT_PRESENT, index, fpd)
        if irte.posted:
            self._posted_request(index, irte, requester_id)
            return
        if irte.has_reserved_content(self.x2apic_mode):
            raise _Fault(VtdFaultReason.IRTE_RESERVED, index, fpd)
        if not irte.source_matches(requester_id):
            raise _Fault(VtdFaultReason.SOURCE_ID_MISMATCH, index, fpd)
        self._deliver(irte.destination(self.x2apic_mode), irte.vector, requester_id,
                      format="remappable", index=index,
                      destination_mode=irte.destination_mode,
                      redirection_hint=irte.redirection_hint,
                      delivery_mode=irte.delivery_mode, trigger_mode=irte.trigger_mode)

    def _posted_request(self, index: int, irte: Irte, requester_id: int) -> None:
        """A present IRTE with IM = 1. Without posted-interrupt support (CAP.PI = 0) bit 15 is a
        reserved bit: fault 0x24, suppressible by FPD. vtd_posted.PostedInterruptsMixin overrides this."""
        raise _Fault(VtdFaultReason.IRTE_RESERVED, index, bool(irte.fault_processing_disable))

    def _fetch_irte(self, index: int) -> Irte:
        cached = self._irte_cache.get(index) if self.cache_irtes else None
        if cached is not None:
            return Irte(cached)
        address = self.table_base + 16 * index
        try:
            if address + 16 > 1 << self.host_address_width:
                raise MemoryAccessError(f"IRTE at {address:#x} beyond the host address width")
            raw = read_le(self.memory, address, 16)
        except MemoryAccessError:
            raise _Fault(VtdFaultReason.TABLE_READ_ERROR, index) from None
        if self.cache_irtes:
            self._irte_cache[index] = raw
        return Irte(raw)

    def _deliver(self, destination: int, vector: int, requester_id: int, **details: Any) -> None:
        self.cpus.deliver(destination, vector, requester_id, **details)
        if destination in self.cpus.ids:
            self.delivered += 1

    def _record_fault(self, fault: _Fault, requester_id: int, address: int,
                      data: int | None) -> None:
        if fault.suppressible:
            self.suppressed_faults.append(VtdFault(fault.reason, requester_id, fault.index, address,
                                                   data, self.cpus.now(), False))
            return
        logged = self._write_fault_record(((fault.index or 0) & 0xFFFF) << 48,
                                          int(fault.reason) << 32 | (requester_id & 0xFFFF))
        self.fault_log.append(VtdFault(fault.reason, requester_id, fault.index, address, data,
                                       self.cpus.now(), logged))

    def _write_fault_record(self, low: int, high: int) -> bool:
        """Put one primary fault record (low/high quadwords, F added here) in the FRCD at FSTS.FRI;
        if that record is still full (F=1), set FSTS.PFO instead. Returns whether it was recorded.
        Shared by interrupt-remapping faults and the DMA-remapping faults of vtd_dma.py."""
        record = self._frcd[self._fault_index]
        logged = not record[1] & FRCD_F
        if logged:
            record[0] = low
            record[1] = FRCD_F | high
            self._fault_index = (self._fault_index + 1) % len(self._frcd)
        else:
            self._fsts_sticky |= FSTS_PFO
        self.faults += 1
        return logged
