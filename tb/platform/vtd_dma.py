"""VT-d scalable-mode DMA remapping (first-level translation), on the same DMAR unit as vtd_ir.py.

:class:`VtdDmarUnit` is :class:`~.vtd_ir.VtdInterruptRemapping` plus the DMA-remapping half: the Root
Table Address register, GCMD.TE/SRTP, and ``translate()``, a walk of the scalable-mode tables in host
memory. Fault records go to the same fault-recording registers (FRCD) and FSTS as the
interrupt-remapping faults (the unit has one set). Formats (VT-d spec rev 3.x-5.0, chapters 9 and 11;
bit positions checked against Linux drivers/iommu/intel/{iommu.h,pasid.h,dmar.c} and QEMU
hw/i386/intel_iommu_internal.h, see docs/iommu.md):

=====================  ==============================================================================
RTADDR_REG 0x20 (8)    RTA[63:12], TTM[11:10] (00 legacy, 01 scalable); latched by GCMD.SRTP (b30)
GCMD/GSTS              TE/TES b31 (translation enable), SRTP/RTPS b30
root entry (128b)      lo: LP b0, LCTP[63:12] (devfn 0-127); hi: UP b0, UCTP[63:12] (devfn 128-255);
                       bits 11:1 of each half reserved
context entry (256b)   P b0, FPD b1, DTE b2, PASIDE b3, PRE b4, PDTS[11:9] (2^(PDTS+7) directory
                       entries), PASIDDIRPTR[63:12]; RID_PASID[83:64], RID_PRIV b84; index devfn[6:0]
PASID dir entry (64b)  P b0, FPD b1, SMPTBLPTR[63:12]; index PASID[19:6]
PASID entry (512b)     P b0, FPD b1, AW[4:2], PGTT[8:6] (001 first-level, 100 pass-through), SLADE b9,
                       DID[79:64], PWSNP b87, PGSNP b88, SRE b128, ERE b129, FLPM[131:130] (00 4-level),
                       WPE b132, EAFE b135, FLPTPTR[191:140]; index PASID[5:0]
first-level entries    IA-32e: P b0, R/W b1, U/S b2, PWT b3, PCD b4, A b5, D b6, PS b7 (PDPE: 1 GiB,
                       PDE: 2 MiB), address [HAW-1:12], XD b63
FRCD (128b)            FI[63:12]; SID[79:64], PRIV b93, PP b95, FR[103:96], PV[123:104], T1 b126
                       (1 read, 0 write), F b127
=====================  ==============================================================================

Fault reasons are the scalable-mode codes of the VT-d spec's non-recoverable fault table, named after
Linux dmar.c's dma_remap_sm_fault_reasons[] (index + 0x30) and QEMU's VTDFaultReason
(:class:`VtdDmaFaultReason`). Model decisions:

* No IOTLB, context or PASID cache: every request walks host memory. Invalidation descriptors (context
  cache 1, IOTLB 2, PASID-based IOTLB 6, PASID cache 7) are accepted, decoded and appended to
  ``invalidations`` so a test can check that the kernel issued them; they are not needed for
  correctness here (the kernel side must still issue them, the tests check it).
* Accessed/Dirty: A is set in every first-level entry a successful walk uses, D in the leaf of a
  successful write (the hardware's A/D update, always on for first-level tables).
* Supervisor requests (priv) need PASID-entry SRE (else 0x5D); they may access user pages and write
  read-only pages unless WPE=1 (as CR0.WP). User requests need U/S=1 and, for writes, R/W=1 at every
  level. XD and execute requests are not modelled (ECAP.ERS=0).
* A request without PASID uses the context entry's RID_PASID and RID_PRIV (the ``priv`` argument is
  ignored); its fault record has PP=0 and PV=0.
* FPD in the context entry, PASID-directory entry or PASID entry suppresses the faults found at or
  after that entry (including that entry's own not-present fault, which is how Linux's
  pasid_clear_entry_with_fpd silences a torn-down PASID); the request is still blocked and the fault
  is kept in ``suppressed_dma_faults``.
* Reserved-bit checks: root entry bits 11:1 of each half; context entry bits 8:5, 127:85, 255:128;
  PASID-directory entry bits 11:2; PASID entry bits 511:256; table pointers at or above the host
  address width (HAW, CAP.MGAW+1); first-level entries: address bits 51:HAW, PS in a PML4E, bits 29:13
  of a 1 GiB and 20:13 of a 2 MiB leaf.
* PGTT second-level (010b) and nested (011b) are *invalid programming* for a unit built without
  ``second_level=True`` (ECAP.SLTS=0, ECAP.NEST=0): fault 0x5B with a ``detail`` naming the field, as
  FLPM=01b (5-level, CAP.FL5LP=0) is. With it (ECAP.SLTS=NEST=1, CAP.SAGAW 39/48-bit, CAP.SLLPS
  2 MiB/1 GiB) they are translated as :mod:`.vtd_nested` describes: SLPTPTR/AW select the
  second-level table; nested walks the first level with FLPTPTR and every table address as GPAs.
  Pass-through (100b) returns the input address (checked against HAW: 0x83 beyond it). Legacy mode
  (RTADDR.TTM=00b) for a request without PASID raises NotImplementedError; a request with PASID in
  legacy mode is fault 0x31, as the spec defines.
* GSTS.TES=0: DMA is not remapped (the input address is the output address).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from .cpu import Cpus
from .memory import (HostMemory, MemoryAccessError, bit_field, bit_mask, read_le, write_le)
from .vtd_ir import VtdInterruptRemapping
from .vtd_nested import (CAP_SAGAW_39_48, CAP_SLLPS_2M_1G, ECAP_NEST, ECAP_SLTS, SecondLevelFault,
                         SecondLevelTables, pasid_entry_second_level)

CAP_REG_OFFSET = 0x08
ECAP_REG_OFFSET = 0x10
RTADDR_REG = 0x20
GCMD_TE = 1 << 31
GCMD_SRTP = 1 << 30
GSTS_TES = 1 << 31
GSTS_RTPS = 1 << 30

TTM_LEGACY = 0b00
TTM_SCALABLE = 0b01

# ECAP / CAP bits this unit adds (Linux iommu.h ecap_* / cap_* accessors).
ECAP_SRS = 1 << 31        # supervisor requests
ECAP_PSS_SHIFT = 35       # PASID size supported - 1, bits 39:35
ECAP_PASID = 1 << 40
ECAP_SMTS = 1 << 43       # scalable mode
ECAP_FLTS = 1 << 47       # first-level translation
ECAP_SMPWC = 1 << 48      # scalable-mode page-walk coherency
CAP_FL1GP = 1 << 56       # first-level 1 GiB pages

PGTT_FIRST_LEVEL = 0b001
PGTT_SECOND_LEVEL = 0b010
PGTT_NESTED = 0b011
PGTT_PASS_THROUGH = 0b100

QI_TYPE_CONTEXT_CACHE = 0x1
QI_TYPE_IOTLB = 0x2
QI_TYPE_PASID_IOTLB = 0x6
QI_TYPE_PASID_CACHE = 0x7

PAGE_4K, PAGE_2M, PAGE_1G = 1 << 12, 1 << 21, 1 << 30


class VtdDmaFaultReason(IntEnum):
    """Scalable-mode non-recoverable fault reasons (Linux dmar.c dma_remap_sm_fault_reasons[], QEMU
    VTDFaultReason); the names follow the Linux strings."""

    SM_INVALID_ROOT_TABLE_ADDRESS = 0x30
    SM_TTM0_REQUEST_WITH_PASID = 0x31
    SM_ROOT_ENTRY_ACCESS = 0x38
    SM_ROOT_ENTRY_NOT_PRESENT = 0x39
    SM_ROOT_ENTRY_RESERVED = 0x3A
    SM_CONTEXT_ENTRY_ACCESS = 0x40
    SM_CONTEXT_ENTRY_NOT_PRESENT = 0x41
    SM_CONTEXT_ENTRY_RESERVED = 0x42
    SM_CONTEXT_ENTRY_INVALID = 0x43
    SM_CONTEXT_PASIDE_CLEAR = 0x45
    SM_PASID_BEYOND_DIRECTORY = 0x46       # "PASID is larger than the max in Context Entry"
    SM_RID_PASID_ERROR = 0x48
    SM_PASID_DIR_ACCESS = 0x50
    SM_PASID_DIR_NOT_PRESENT = 0x51
    SM_PASID_DIR_RESERVED = 0x52
    SM_PASID_ENTRY_ACCESS = 0x58
    SM_PASID_ENTRY_NOT_PRESENT = 0x59
    SM_PASID_ENTRY_RESERVED = 0x5A
    SM_PASID_ENTRY_INVALID = 0x5B
    SM_PASID_ENTRY_SRE_CLEAR = 0x5D
    SM_FL_ENTRY_ACCESS = 0x70
    SM_FL_ENTRY_NOT_PRESENT = 0x71
    SM_FL_ENTRY_RESERVED = 0x72
    SM_FL_PML4_ACCESS = 0x73               # QEMU: invalid FSPTPTR in the PASID entry
    # Nested and second-level translation (vtd_nested.py; only with second_level=True).
    SM_NESTED_FL_ADDRESS_BEYOND = 0x74     # first-level entry address beyond MGAW in nested
    SM_NESTED_FL_PML4_READ = 0x75          # read permission error in FL-PML4 entry in nested
    SM_NESTED_FL_READ = 0x76               # read permission error in FL entry in nested
    SM_NESTED_FL_WRITE = 0x77              # write permission error in FL entry in nested
    SM_SL_ENTRY_ACCESS = 0x78
    SM_SL_ENTRY_RW_ERROR = 0x79            # R = W = 0: second level's "not present"
    SM_SL_ENTRY_RESERVED = 0x7A
    SM_SL_INVALID_POINTER = 0x7B
    SM_FL_NON_CANONICAL = 0x80
    SM_FL_USER_PRIVILEGE = 0x81            # U/S=0 for a user request
    SM_ADDRESS_BEYOND_HAW = 0x83
    SM_NO_WRITE_PERMISSION = 0x85
    SM_NO_READ_PERMISSION = 0x86


@dataclass(frozen=True)
class VtdDmaFault:
    """One blocked DMA request; ``in_fault_register`` False when FRCD was full (FSTS.PFO) or the
    fault was suppressed by FPD (then it is in ``suppressed_dma_faults`` only)."""

    reason: VtdDmaFaultReason
    requester_id: int
    pasid: int | None
    priv: bool
    address: int
    is_write: bool
    time: Any
    in_fault_register: bool
    detail: str = ""


class _DmaFault(Exception):
    def __init__(self, reason: VtdDmaFaultReason, detail: str = ""):
        super().__init__(f"{reason.name}: {detail}" if detail else reason.name)
        self.reason = reason
        self.detail = detail


class VtdDmarUnit(VtdInterruptRemapping):
    """A DMAR unit with interrupt remapping (inherited) and scalable-mode first-level DMA remapping."""

    REGISTER_WIDTHS = {**VtdInterruptRemapping.REGISTER_WIDTHS, RTADDR_REG: 8}

    def __init__(self, memory: HostMemory, cpus: Cpus | None = None, *, pasid_bits: int = 20,
                 update_accessed_dirty: bool = True, second_level: bool = False, **options: Any):
        self.pasid_bits = pasid_bits
        # ECAP.SLTS / ECAP.NEST: PGTT second-level and nested (vtd_nested.py). Off by default, so
        # such PASID entries stay invalid programming (0x5B) for the first-level-only unit.
        self.second_level = second_level
        self.update_accessed_dirty = update_accessed_dirty
        super().__init__(memory, cpus if cpus is not None else Cpus((0,)), **options)

    def reset(self) -> None:
        super().reset()
        self._rtaddr = 0
        self._active_rtaddr = 0
        self.dma_fault_log: list[VtdDmaFault] = []
        self.suppressed_dma_faults: list[VtdDmaFault] = []
        self.translations = 0

    # ----------------------------------------------------------------- registers
    def _read_register(self, offset: int) -> int:
        if offset == RTADDR_REG:
            return self._rtaddr
        value = super()._read_register(offset)
        if offset == CAP_REG_OFFSET:
            value |= CAP_FL1GP | (CAP_SAGAW_39_48 | CAP_SLLPS_2M_1G if self.second_level else 0)
        elif offset == ECAP_REG_OFFSET:
            value |= (ECAP_SRS | (self.pasid_bits - 1) << ECAP_PSS_SHIFT | ECAP_PASID | ECAP_SMTS
                      | ECAP_FLTS | ECAP_SMPWC | (ECAP_SLTS | ECAP_NEST if self.second_level else 0))
        return value

    def _write_register(self, offset: int, value: int, written_mask: int) -> None:
        if offset == RTADDR_REG:
            self._rtaddr = value & ~bit_mask(9, 0) & ((1 << 64) - 1)
        else:
            super()._write_register(offset, value, written_mask)

    def _global_command(self, command: int) -> None:
        super()._global_command(command)
        if command & GCMD_SRTP:
            self._active_rtaddr = self._rtaddr
            self._status |= GSTS_RTPS
        if command & GCMD_TE:
            self._status |= GSTS_TES
        else:
            self._status &= ~GSTS_TES

    @property
    def translation_enabled(self) -> bool:
        return bool(self._status & GSTS_TES)

    @property
    def translation_table_mode(self) -> int:
        return bit_field(self._active_rtaddr, 11, 10)

    # ----------------------------------------------------------------- invalidations
    def _execute_descriptor(self, descriptor: int) -> bool:
        kind = bit_field(descriptor, 3, 0) | bit_field(descriptor, 11, 9) << 4
        granularity = bit_field(descriptor, 5, 4)
        if kind == QI_TYPE_CONTEXT_CACHE:
            self.invalidations.append(("context-cache", granularity, bit_field(descriptor, 31, 16)))
        elif kind == QI_TYPE_IOTLB:
            self.invalidations.append(("iotlb", granularity, bit_field(descriptor, 31, 16)))
        elif kind == QI_TYPE_PASID_CACHE:
            self.invalidations.append(("pasid-cache", granularity, bit_field(descriptor, 31, 16),
                                       bit_field(descriptor, 51, 32)))
        elif kind == QI_TYPE_PASID_IOTLB:
            address = bit_field(descriptor, 127, 76) << 12 if granularity == 3 else None
            self.invalidations.append(("pasid-iotlb", granularity, bit_field(descriptor, 31, 16),
                                       bit_field(descriptor, 51, 32), address,
                                       bit_field(descriptor, 69, 64)))
        return super()._execute_descriptor(descriptor)

    # ----------------------------------------------------------------- translation
    def translate(self, requester_id: int, pasid: int | None, priv: bool, address: int,
                  is_write: bool) -> int | VtdDmaFault:
        """The physical address for one DMA access, or the VtdDmaFault recorded for it."""
        if not self.translation_enabled:
            return address
        walk = _Walk(self, requester_id, pasid, bool(priv), address, bool(is_write))
        try:
            result = walk.run()
        except _DmaFault as fault:
            return self._record_dma_fault(walk, fault)
        self.translations += 1
        return result

    def _record_dma_fault(self, walk: "_Walk", fault: _DmaFault) -> VtdDmaFault:
        pasid_present = walk.pasid is not None
        if walk.fault_processing_disabled:
            entry = VtdDmaFault(fault.reason, walk.requester_id, walk.pasid, walk.priv, walk.address,
                                walk.is_write, self.cpus.now(), False, fault.detail)
            self.suppressed_dma_faults.append(entry)
            return entry
        high = ((walk.requester_id & 0xFFFF)
                | (int(walk.priv) << 29)
                | (int(pasid_present) << 31)
                | int(fault.reason) << 32
                | ((walk.pasid or 0) & 0xFFFFF) << 40
                | (0 if walk.is_write else 1) << 62)
        logged = self._write_fault_record(walk.address & ~0xFFF & ((1 << 64) - 1), high)
        entry = VtdDmaFault(fault.reason, walk.requester_id, walk.pasid, walk.priv, walk.address,
                            walk.is_write, self.cpus.now(), logged, fault.detail)
        self.dma_fault_log.append(entry)
        return entry

    @property
    def host_address_limit(self) -> int:
        return 1 << self.host_address_width


F = VtdDmaFaultReason


class _Walk:
    """One request's walk: root -> context -> PASID directory -> PASID entry -> first level."""

    def __init__(self, unit: VtdDmarUnit, requester_id: int, pasid: int | None, priv: bool,
                 address: int, is_write: bool):
        self.unit = unit
        self.requester_id = requester_id
        self.pasid = pasid
        self.priv = priv if pasid is not None else False  # a request without PASID carries no priv
        self.address = address
        self.is_write = is_write
        self.fault_processing_disabled = False
        self.second_level: SecondLevelTables | None = None   # set for PGTT nested
        self.leaf_shift = 12     # log2 bytes of the first-level leaf that translated (ATS: the entry's size)

    def _read(self, address: int, size: int, reason: VtdDmaFaultReason, what: str) -> int:
        try:
            if address + size > self.unit.host_address_limit:
                raise MemoryAccessError("beyond the host address width")
            return read_le(self.unit.memory, address, size)
        except MemoryAccessError as error:
            raise _DmaFault(reason, f"{what} at {address:#x}: {error}") from None

    def _pointer(self, value: int, reason: VtdDmaFaultReason, what: str) -> int:
        pointer = value & ~0xFFF & ((1 << 64) - 1)
        if pointer >= self.unit.host_address_limit:
            raise _DmaFault(reason, f"{what} {pointer:#x} beyond the host address width")
        return pointer

    def run(self) -> int:
        unit = self.unit
        if self.pasid is not None and not 0 <= self.pasid < 1 << unit.pasid_bits:
            raise ValueError(f"PASID {self.pasid:#x} does not fit {unit.pasid_bits} bits")
        ttm = unit.translation_table_mode
        if ttm != TTM_SCALABLE:
            if ttm == TTM_LEGACY and self.pasid is not None:
                raise _DmaFault(F.SM_TTM0_REQUEST_WITH_PASID)
            raise NotImplementedError(f"RTADDR.TTM={ttm:02b}b: only scalable mode (01b) is modelled")
        root_table = unit._active_rtaddr & ~0xFFF & ((1 << 64) - 1)
        if root_table >= unit.host_address_limit:
            raise _DmaFault(F.SM_INVALID_ROOT_TABLE_ADDRESS, f"RTA {root_table:#x}")
        bus, devfn = self.requester_id >> 8 & 0xFF, self.requester_id & 0xFF

        root = self._read(root_table + 16 * bus, 16, F.SM_ROOT_ENTRY_ACCESS, "root entry")
        half = root >> 64 if devfn >= 0x80 else root & ((1 << 64) - 1)
        if not half & 1:
            raise _DmaFault(F.SM_ROOT_ENTRY_NOT_PRESENT,
                            f"bus {bus:#x} {'UP' if devfn >= 0x80 else 'LP'}=0")
        if half & bit_mask(11, 1):
            raise _DmaFault(F.SM_ROOT_ENTRY_RESERVED)
        context_table = self._pointer(half, F.SM_ROOT_ENTRY_RESERVED, "context-table pointer")

        context = self._read(context_table + 32 * (devfn & 0x7F), 32, F.SM_CONTEXT_ENTRY_ACCESS,
                             "context entry")
        self.fault_processing_disabled |= bool(context >> 1 & 1)
        if not context & 1:
            raise _DmaFault(F.SM_CONTEXT_ENTRY_NOT_PRESENT)
        if context & (bit_mask(8, 5) | bit_mask(255, 85)):
            raise _DmaFault(F.SM_CONTEXT_ENTRY_RESERVED)
        directory = self._pointer(context, F.SM_CONTEXT_ENTRY_RESERVED, "PASID-directory pointer")
        directory_entries = 1 << (bit_field(context, 11, 9) + 7)
        if self.pasid is None:
            pasid, priv = bit_field(context, 83, 64), bool(bit_field(context, 84, 84))
            if pasid >> 6 >= directory_entries:
                raise _DmaFault(F.SM_RID_PASID_ERROR, f"RID_PASID {pasid:#x} beyond the directory")
        else:
            pasid, priv = self.pasid, self.priv
            if not context >> 3 & 1:
                raise _DmaFault(F.SM_CONTEXT_PASIDE_CLEAR)
            if pasid >> 6 >= directory_entries:
                raise _DmaFault(F.SM_PASID_BEYOND_DIRECTORY,
                                f"PASID {pasid:#x}: directory has {directory_entries} entries")
        self.effective_priv = priv

        directory_entry = self._read(directory + 8 * (pasid >> 6), 8, F.SM_PASID_DIR_ACCESS,
                                     "PASID-directory entry")
        self.fault_processing_disabled |= bool(directory_entry >> 1 & 1)
        if not directory_entry & 1:
            raise _DmaFault(F.SM_PASID_DIR_NOT_PRESENT, f"directory index {pasid >> 6:#x}")
        if directory_entry & bit_mask(11, 2):
            raise _DmaFault(F.SM_PASID_DIR_RESERVED)
        pasid_table = self._pointer(directory_entry, F.SM_PASID_DIR_RESERVED, "PASID-table pointer")

        entry = self._read(pasid_table + 64 * (pasid & 0x3F), 64, F.SM_PASID_ENTRY_ACCESS,
                           "PASID-table entry")
        self.fault_processing_disabled |= bool(entry >> 1 & 1)
        if not entry & 1:
            raise _DmaFault(F.SM_PASID_ENTRY_NOT_PRESENT, f"PASID {pasid:#x}")
        if entry & bit_mask(511, 256):
            raise _DmaFault(F.SM_PASID_ENTRY_RESERVED)
        pgtt = bit_field(entry, 8, 6)
        if pgtt == PGTT_PASS_THROUGH:
            if self.address >= self.unit.host_address_limit:
                raise _DmaFault(F.SM_ADDRESS_BEYOND_HAW, "pass-through")
            return self.address
        if pgtt in (PGTT_SECOND_LEVEL, PGTT_NESTED) and self.unit.second_level:
            tables = self._second_level_tables(entry)
            if pgtt == PGTT_SECOND_LEVEL:
                result = self._sl_translate(tables, self.address, final=True)
                return result.address
            self.second_level = tables
        elif pgtt in (PGTT_SECOND_LEVEL, PGTT_NESTED):
            name = "second-level" if pgtt == PGTT_SECOND_LEVEL else "nested"
            raise _DmaFault(F.SM_PASID_ENTRY_INVALID,
                            f"PASID entry PGTT={pgtt:03b}b ({name}) not supported "
                            f"(ECAP.SLTS=0, ECAP.NEST=0)")
        if pgtt not in (PGTT_FIRST_LEVEL, PGTT_NESTED):
            raise _DmaFault(F.SM_PASID_ENTRY_INVALID, f"PASID entry PGTT={pgtt:03b}b reserved")
        if bit_field(entry, 131, 130) != 0:
            raise _DmaFault(F.SM_PASID_ENTRY_INVALID,
                            f"PASID entry FLPM={bit_field(entry, 131, 130):02b}b: only 4-level "
                            f"paging (00b) is supported (CAP.FL5LP=0)")
        if priv and not bit_field(entry, 128, 128):
            raise _DmaFault(F.SM_PASID_ENTRY_SRE_CLEAR)
        self.write_protect = bool(bit_field(entry, 132, 132))
        flptptr = bit_field(entry, 191, 140) << 12
        if self.second_level is None and flptptr >= self.unit.host_address_limit:
            raise _DmaFault(F.SM_FL_PML4_ACCESS, f"FLPTPTR {flptptr:#x} beyond the host address width")
        return self._first_level(flptptr, priv)

    def _first_level(self, table: int, priv: bool) -> int:
        address = self.address
        upper = address >> 47
        if upper not in (0, (1 << 17) - 1):
            raise _DmaFault(F.SM_FL_NON_CANONICAL, f"{address:#x}")
        haw = self.unit.host_address_width
        address_mask = bit_mask(haw - 1, 12)
        reserved_address = bit_mask(51, haw) if haw < 52 else 0
        if self.second_level is not None:
            # Nested: first-level addresses are GPAs, bounded by the second level's input width
            # (0x74 where they are used), not by the host address width.
            address_mask, reserved_address = bit_mask(51, 12), 0
        used: list[tuple[int, int]] = []  # (entry address, value)
        writable = user = True
        for level in (4, 3, 2, 1):  # PML4, PDPT, PD, PT
            shift = 12 + 9 * (level - 1)
            slot = table + 8 * (address >> shift & 0x1FF)
            reason = F.SM_FL_PML4_ACCESS if level == 4 else F.SM_FL_ENTRY_ACCESS
            slot, table_writable = self._fl_table_slot(slot, level)
            value = self._read(slot, 8, reason, f"first-level entry (level {level})")
            if not value & 1:
                raise _DmaFault(F.SM_FL_ENTRY_NOT_PRESENT, f"level {level} entry at {slot:#x}")
            large = bool(value >> 7 & 1) and level in (2, 3)
            if value & reserved_address or (level == 4 and value >> 7 & 1):
                raise _DmaFault(F.SM_FL_ENTRY_RESERVED, f"level {level} entry {value:#x}")
            if large and value & bit_mask(shift - 1, 13):
                raise _DmaFault(F.SM_FL_ENTRY_RESERVED, f"level {level} large page {value:#x}")
            used.append((slot, value, table_writable))
            writable &= bool(value >> 1 & 1)
            user &= bool(value >> 2 & 1)
            if large or level == 1:
                self.leaf_shift = shift
                page_base = value & address_mask & ~((1 << shift) - 1)
                physical = page_base | address & ((1 << shift) - 1)
                break
            table = value & address_mask
        if not priv and not user:
            raise _DmaFault(F.SM_FL_USER_PRIVILEGE)
        if self.is_write and not writable and (not priv or self.write_protect):
            raise _DmaFault(F.SM_NO_WRITE_PERMISSION)
        if self.second_level is not None:
            if physical >> self.second_level.input_width:
                raise _DmaFault(F.SM_NESTED_FL_ADDRESS_BEYOND, f"page GPA {physical:#x}")
            physical = self._sl_translate(self.second_level, physical, final=True).address
        if self.unit.update_accessed_dirty:
            updates = []
            for n, (slot, value, table_writable) in enumerate(used):
                new = value | 1 << 5
                if self.is_write and n == len(used) - 1:
                    new |= 1 << 6
                if new != value:
                    if not table_writable:
                        raise _DmaFault(F.SM_NESTED_FL_WRITE,
                                        f"A/D update of the entry at {slot:#x}: second level has W=0")
                    updates.append((slot, new))
            for slot, new in updates:
                write_le(self.unit.memory, slot, new, 8)
        return physical

    # ----------------------------------------------------------------- second level (vtd_nested)
    def _second_level_tables(self, entry: int) -> SecondLevelTables:
        pointer, aw = pasid_entry_second_level(entry)

        def read_entry(address: int) -> int:
            try:
                if address + 8 > self.unit.host_address_limit:
                    raise MemoryAccessError("beyond the host address width")
                return read_le(self.unit.memory, address, 8)
            except MemoryAccessError as error:
                raise SecondLevelFault(F.SM_SL_ENTRY_ACCESS, f"entry at {address:#x}: {error}") \
                    from None

        try:
            return SecondLevelTables(read_entry, pointer, aw, self.unit.host_address_width)
        except SecondLevelFault as fault:
            raise _DmaFault(F(fault.code), fault.detail) from None

    def _sl_translate(self, tables: SecondLevelTables, gpa: int, *, final: bool,
                      fl_level: int | None = None):
        """Second-level translation of the final address (``final``) or of a first-level table
        page at ``fl_level`` (nested), with the permission faults of each case."""
        try:
            result = tables.translate(gpa)
        except SecondLevelFault as fault:
            code = fault.code
            if code == F.SM_ADDRESS_BEYOND_HAW and self.second_level is not None:
                code = F.SM_NESTED_FL_ADDRESS_BEYOND
            raise _DmaFault(F(code), fault.detail) from None
        if final:
            if self.is_write and not result.writable:
                raise _DmaFault(F.SM_NO_WRITE_PERMISSION, f"second level, GPA {gpa:#x}")
            if not self.is_write and not result.readable:
                raise _DmaFault(F.SM_NO_READ_PERMISSION, f"second level, GPA {gpa:#x}")
        elif not result.readable:
            reason = F.SM_NESTED_FL_PML4_READ if fl_level == 4 else F.SM_NESTED_FL_READ
            raise _DmaFault(reason, f"level {fl_level} table at GPA {gpa:#x}: second level R=0")
        return result

    def _fl_table_slot(self, slot: int, level: int) -> tuple[int, bool]:
        """Where a first-level entry really is: itself, or (nested) its GPA through second level.
        Also whether hardware may write it (A/D updates)."""
        if self.second_level is None:
            return slot, True
        if slot >> self.second_level.input_width:
            raise _DmaFault(F.SM_NESTED_FL_ADDRESS_BEYOND, f"level {level} table GPA {slot:#x}")
        result = self._sl_translate(self.second_level, slot, final=False, fl_level=level)
        return result.address, result.writable


__all__ = ["GCMD_SRTP", "GCMD_TE", "GSTS_RTPS", "GSTS_TES", "PGTT_FIRST_LEVEL", "PGTT_NESTED",
           "PGTT_SECOND_LEVEL",
           "PGTT_PASS_THROUGH", "RTADDR_REG", "TTM_SCALABLE", "VtdDmaFault", "VtdDmaFaultReason",
           "VtdDmarUnit"]
