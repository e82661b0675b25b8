"""Shared virtual addressing, kernel side: process page tables and iommu_sva_bind_device() for VT-d and SMMUv3.

What Linux does for a device that works in a process's address space (drivers/iommu/iommu-sva.c,
intel/svm.c + intel/pasid.c, arm/arm-smmu-v3/arm-smmu-v3-sva.c), reduced to what the bench needs:

* :class:`Process` owns CPU page tables in the platform's format (x86 IA-32e 4-level, or AArch64 4 KiB
  granule, 48-bit VA) built in host memory; ``map(va, pa, size, writable, user)`` picks 1 GiB / 2 MiB /
  4 KiB pages by alignment (or ``page_size=``), ``unmap`` clears them and tells every IOMMU the process
  is bound to (the mmu-notifier's invalidate_range), so two processes may map the same virtual address
  to different physical pages.
* :class:`PasidAllocator` is the global IOASID space: one PASID per process (mm->pasid), PASID 0 kept
  for requests without PASID (IOMMU_NO_PASID / RID_PASID, SubstreamID-less traffic).
* :class:`VtdSva`: scalable-mode root/context tables, per-device PASID directory with a pass-through
  RID_PASID entry (so DMA without PASID stays untranslated, like an identity default domain), and
  first-level PASID entries (PGTT=001b, FLPTPTR = the process's PML4, FLPM 4-level, DID, SRE/WPE for
  supervisor binds) installed present-bit last; unbind clears P, invalidates the PASID cache and the
  PASID's IOTLB (queued invalidation, wait descriptor), then zeroes the entry.
* :class:`SmmuSva`: linear stream table (unused streams abort), per-device linear CD table
  (S1CDMax <= 10, as Linux's CTXDESC_LINEAR_CDMAX) with S1DSS=bypass for SubstreamID-less traffic, one
  CD per PASID (TTB0 = the process's level-0 table, T0SZ 16, TG0 4 KiB, EPD1, AA64, R, A, ASET, ASID)
  written word 0 (V) last, CFGI_CD + CMD_SYNC; unbind clears V, CFGI_CD, TLBI_NH_ASID, CMD_SYNC.

Like the rest of fw/imsdev/platform it imports nothing from the bench's models (tb/platform), which decode
these tables with their own code, and every encoder checks its fields with imsdev.fields (FieldError).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..fields import FieldError, check, flag, put
from .msi import HostAllocator, HostMemory, RegisterAccess, wait_for, write_u64, zero_fill

PAGE_4K, PAGE_2M, PAGE_1G = 1 << 12, 1 << 21, 1 << 30
PAGE_SIZES = (PAGE_1G, PAGE_2M, PAGE_4K)
PASID_BITS = 20
IOMMU_NO_PASID = 0


def _read_u64(memory: HostMemory, addr: int) -> int:
    return int.from_bytes(memory.read(addr, 8), "little")


# ===================================================================== page-table entry encoders
# x86 IA-32e paging entries (Intel SDM vol. 3 4.5; VT-d first-level tables use the same format).
X86_P, X86_RW, X86_US, X86_A, X86_D, X86_PS = 1, 1 << 1, 1 << 2, 1 << 5, 1 << 6, 1 << 7


def encode_x86_table_entry(table: int) -> int:
    """A non-leaf entry pointing at a 4 KiB table: P, R/W, U/S set so the leaf decides (as Linux's
    _PAGE_TABLE), A set."""
    return put("x86 table address", table, 52, align=PAGE_4K) | X86_P | X86_RW | X86_US | X86_A


def encode_x86_leaf(pa: int, page_size: int, *, writable: bool, user: bool) -> int:
    """A leaf: 4 KiB PTE, 2 MiB PDE (PS) or 1 GiB PDPTE (PS); A and D set like a CPU-touched page."""
    if page_size not in PAGE_SIZES:
        raise FieldError(f"x86 page size {page_size:#x} is not 4K, 2M or 1G")
    entry = put("x86 page address", pa, 52, align=page_size) | X86_P | X86_A | X86_D
    entry |= flag("x86 R/W", writable) << 1 | flag("x86 U/S", user) << 2
    return entry | (X86_PS if page_size != PAGE_4K else 0)


# AArch64 VMSAv8-64 stage-1 descriptors, 4 KiB granule (Arm ARM D8.3).
ARM_VALID, ARM_TABLE, ARM_AF, ARM_NG = 1, 1 << 1, 1 << 10, 1 << 11
ARM_SH_INNER = 0b11 << 8
ARM_AP_EL0 = 1 << 6      # AP[1]
ARM_AP_RDONLY = 1 << 7   # AP[2]


def encode_arm_table_descriptor(table: int) -> int:
    return put("AArch64 next-level table address", table, 48, align=PAGE_4K) | ARM_VALID | ARM_TABLE


def encode_arm_leaf(pa: int, page_size: int, *, writable: bool, user: bool,
                    attr_index: int = 0) -> int:
    """A level-3 page (bits[1:0]=11) or a level-1/2 block (01): AF, inner shareable, AttrIndx,
    AP[2] = !writable, AP[1] = user, nG for user pages (ASID-tagged, as Linux's PTE_NG)."""
    if page_size not in PAGE_SIZES:
        raise FieldError(f"AArch64 page size {page_size:#x} is not 4K, 2M or 1G")
    entry = put("AArch64 output address", pa, 48, align=page_size) | ARM_VALID | ARM_AF
    entry |= ARM_TABLE if page_size == PAGE_4K else 0
    entry |= put("AArch64 AttrIndx", attr_index, 3, 2) | ARM_SH_INNER
    entry |= (1 - flag("AArch64 writable", writable)) << 7 | flag("AArch64 user", user) << 6
    return entry | (ARM_NG if user else 0)


# ===================================================================== processes
class PageTables:
    """A 4-level radix tree of 4 KiB tables in host memory (x86 PML4 or AArch64 level 0 at the root)."""

    LEVELS = 4

    def __init__(self, memory: HostMemory, allocator: HostAllocator):
        self.memory = memory
        self.allocator = allocator
        self.root = self._new_table()
        self.tables = [self.root]

    def _new_table(self) -> int:
        table = self.allocator.alloc(PAGE_4K, PAGE_4K)
        zero_fill(self.memory, table, PAGE_4K)
        return table

    # format hooks
    def _is_present(self, entry: int) -> bool:
        raise NotImplementedError

    def _is_leaf(self, entry: int, level: int) -> bool:
        raise NotImplementedError

    def _table_entry(self, table: int) -> int:
        raise NotImplementedError

    def _leaf(self, pa: int, page_size: int, writable: bool, user: bool) -> int:
        raise NotImplementedError

    def _address(self, entry: int) -> int:
        return entry & ((1 << 48) - 1) & ~0xFFF

    @staticmethod
    def _check_va(va: int, size: int) -> None:
        check("virtual address", va, 47, align=PAGE_4K)
        if size <= 0 or size % PAGE_4K or va + size > 1 << 47:
            raise FieldError(f"size {size:#x} at {va:#x}: not a positive multiple of 4 KiB in the "
                             f"47-bit user half")

    def _slot(self, va: int, page_size: int, create: bool) -> int | None:
        """Address of the entry that maps va with page_size (level 1 = 4 KiB ... level 3 = 1 GiB)."""
        table = self.root
        leaf_level = {PAGE_4K: 1, PAGE_2M: 2, PAGE_1G: 3}[page_size]
        for level in range(self.LEVELS, leaf_level, -1):
            slot = table + 8 * (va >> (12 + 9 * (level - 1)) & 0x1FF)
            entry = _read_u64(self.memory, slot)
            if not self._is_present(entry):
                if not create:
                    return None
                table_addr = self._new_table()
                self.tables.append(table_addr)
                write_u64(self.memory, slot, self._table_entry(table_addr))
                entry = _read_u64(self.memory, slot)
            elif self._is_leaf(entry, level):
                raise ValueError(f"{va:#x} lies in a larger page already mapped at level {level}")
            table = self._address(entry)
        return table + 8 * (va >> (12 + 9 * (leaf_level - 1)) & 0x1FF)

    def map(self, va: int, pa: int, size: int, *, writable: bool = True, user: bool = True,
            page_size: int | None = None) -> list[tuple[int, int, int]]:
        self._check_va(va, size)
        check("physical address", pa, 48, align=PAGE_4K)
        done: list[tuple[int, int, int]] = []
        offset = 0
        while offset < size:
            v, p, left = va + offset, pa + offset, size - offset
            chunk = page_size or next(s for s in PAGE_SIZES
                                      if v % s == 0 and p % s == 0 and left >= s)
            if v % chunk or p % chunk or left < chunk:
                raise FieldError(f"map {v:#x}->{p:#x}: not {chunk:#x}-aligned or shorter")
            slot = self._slot(v, chunk, create=True)
            if self._is_present(_read_u64(self.memory, slot)):
                raise ValueError(f"{v:#x} is already mapped")
            write_u64(self.memory, slot, self._leaf(p, chunk, writable, user))
            done.append((v, p, chunk))
            offset += chunk
        return done

    def find(self, va: int) -> tuple[int, int] | None:
        """(slot, page_size) of the leaf mapping va, or None."""
        for size in PAGE_SIZES[::-1]:
            try:
                slot = self._slot(va - va % size, size, create=False)
            except ValueError:
                continue
            if slot is not None and self._is_present(_read_u64(self.memory, slot)):
                level = {PAGE_4K: 1, PAGE_2M: 2, PAGE_1G: 3}[size]
                if self._is_leaf(_read_u64(self.memory, slot), level):
                    return slot, size
        return None

    def unmap(self, va: int, size: int) -> list[tuple[int, int]]:
        """Clear every leaf in [va, va+size); each must lie entirely inside the range."""
        self._check_va(va, size)
        cleared: list[tuple[int, int]] = []
        offset = 0
        while offset < size:
            found = self.find(va + offset)
            if found is None:
                offset += PAGE_4K
                continue
            slot, page_size = found
            if (va + offset) % page_size or offset + page_size > size:
                raise ValueError(f"unmap would split the {page_size:#x} page at {va + offset:#x}")
            write_u64(self.memory, slot, 0)
            cleared.append((va + offset, page_size))
            offset += page_size
        return cleared


class X86PageTables(PageTables):
    arch = "x86"

    def _is_present(self, entry: int) -> bool:
        return bool(entry & X86_P)

    def _is_leaf(self, entry: int, level: int) -> bool:
        return level == 1 or bool(entry & X86_PS)

    def _table_entry(self, table: int) -> int:
        return encode_x86_table_entry(table)

    def _leaf(self, pa: int, page_size: int, writable: bool, user: bool) -> int:
        return encode_x86_leaf(pa, page_size, writable=writable, user=user)

    def _address(self, entry: int) -> int:
        return entry & ((1 << 52) - 1) & ~0xFFF


class ArmPageTables(PageTables):
    arch = "arm"

    def _is_present(self, entry: int) -> bool:
        return bool(entry & ARM_VALID)

    def _is_leaf(self, entry: int, level: int) -> bool:
        return level == 1 or not entry & ARM_TABLE

    def _table_entry(self, table: int) -> int:
        return encode_arm_table_descriptor(table)

    def _leaf(self, pa: int, page_size: int, writable: bool, user: bool) -> int:
        return encode_arm_leaf(pa, page_size, writable=writable, user=user)


class Process:
    """A user process's address space (mm): page tables in the CPU format of ``arch`` ("x86"/"arm")."""

    def __init__(self, name: str, memory: HostMemory, allocator: HostAllocator, arch: str):
        tables = {"x86": X86PageTables, "arm": ArmPageTables}
        if arch not in tables:
            raise ValueError(f"arch {arch!r}: x86 or arm")
        self.name = name
        self.arch = arch
        self.page_tables: PageTables = tables[arch](memory, allocator)
        self.pasid: int | None = None
        self.invalidate_listeners: list[Callable[[int, int], None]] = []

    @property
    def pgd(self) -> int:
        return self.page_tables.root

    def map(self, va: int, pa: int, size: int, writable: bool = True, user: bool = True, *,
            page_size: int | None = None) -> list[tuple[int, int, int]]:
        return self.page_tables.map(va, pa, size, writable=writable, user=user, page_size=page_size)

    def unmap(self, va: int, size: int) -> list[tuple[int, int]]:
        cleared = self.page_tables.unmap(va, size)
        for page_va, page_size in cleared:
            for listener in list(self.invalidate_listeners):
                listener(page_va, page_size)
        return cleared


class PasidAllocator:
    """Global PASID space (iommu_alloc_global_pasid / mm->pasid): lowest free, 0 reserved."""

    def __init__(self, bits: int = PASID_BITS, first: int = 1):
        self.limit = 1 << bits
        self.first = first
        self._used: set[int] = set()

    def alloc(self) -> int:
        for pasid in range(self.first, self.limit):
            if pasid not in self._used:
                self._used.add(pasid)
                return pasid
        raise RuntimeError("no free PASID")

    def free(self, pasid: int) -> None:
        self._used.remove(pasid)


@dataclass
class SvaHandle:
    """What iommu_sva_bind_device returns: the PASID to program into the device for this process."""

    pasid: int
    device_id: int
    process: Process
    _unbind: Callable[["SvaHandle"], None] = field(repr=False)
    active: bool = True
    listener: Callable[[int, int], None] | None = field(default=None, repr=False)

    def unbind(self) -> None:
        if self.active:
            self._unbind(self)
            self.active = False


class _SvaBase:
    def __init__(self, pasids: PasidAllocator | None):
        self.pasids = pasids if pasids is not None else PasidAllocator()
        self._process_refs: dict[int, int] = {}  # PASID -> live bindings

    def _get_pasid(self, process: Process) -> int:
        if process.pasid is None:
            process.pasid = self.pasids.alloc()
        self._process_refs[process.pasid] = self._process_refs.get(process.pasid, 0) + 1
        return process.pasid

    def _put_pasid(self, process: Process) -> None:
        pasid = process.pasid
        self._process_refs[pasid] -= 1
        if not self._process_refs[pasid]:
            del self._process_refs[pasid]
            self.pasids.free(pasid)
            process.pasid = None


# ===================================================================== VT-d
DMAR_ECAP_REG = 0x10
DMAR_GCMD_REG = 0x18
DMAR_GSTS_REG = 0x1C
DMAR_RTADDR_REG = 0x20
DMA_GCMD_TE = 1 << 31
DMA_GCMD_SRTP = 1 << 30
DMA_GSTS_TES = 1 << 31
DMA_GSTS_RTPS = 1 << 30
PERSISTENT_GCMD_BITS = DMA_GCMD_TE | 1 << 26 | 1 << 25 | 1 << 23  # TE, QIE, IRE, CFI
DMA_RTADDR_SMT = 1 << 10                 # TTM = 01b, scalable mode
ECAP_PASID, ECAP_SMTS, ECAP_FLTS, ECAP_SRS = 1 << 40, 1 << 43, 1 << 47, 1 << 31

PASID_PDE_SHIFT = 6
PASID_ENTRY_BYTES = 64
PGTT_FL_ONLY, PGTT_PT = 1, 4
FLPT_DEFAULT_DID = 1
AGAW_48BIT = 2

QI_CC_TYPE, QI_IOTLB_TYPE, QI_EIOTLB_TYPE, QI_PC_TYPE = 0x1, 0x2, 0x6, 0x7
QI_IOTLB_GRAN_DOMAIN = 2                                  # Linux DMA_TLB_DSI_FLUSH >> 60 (QI_IOTLB_GRAN)
QI_IOTLB_DW, QI_IOTLB_DR = 1 << 6, 1 << 7                 # Linux QI_IOTLB_DW / QI_IOTLB_DR
QI_GRAN_GLOBAL, QI_GRAN_DEVICE = 1, 3
QI_PC_GRAN_ALL, QI_PC_GRAN_PASID = 0b11, 0b01
QI_GRAN_NONG_PASID, QI_GRAN_PSI_PASID = 2, 3


def encode_sm_root_entry(context_table: int) -> int:
    """One 64-bit half of a scalable-mode root entry: present | context-table pointer."""
    return put("context-table pointer", context_table, 64, align=PAGE_4K) | 1


def encode_sm_context_entry(pasid_dir: int, pdts: int, *, rid_pasid: int = IOMMU_NO_PASID,
                            pasid_enable: bool = True, fpd: bool = False) -> tuple[int, int]:
    """(low, high) of a scalable-mode context entry; the upper 128 bits are zero."""
    low = (1 | flag("context FPD", fpd) << 1 | flag("context PASIDE", pasid_enable) << 3
           | put("context PDTS", pdts, 3, 9) | put("PASID directory pointer", pasid_dir, 64,
                                                   align=PAGE_4K))
    return low, put("RID_PASID", rid_pasid, PASID_BITS)


def encode_pasid_dir_entry(pasid_table: int) -> int:
    return put("PASID-table pointer", pasid_table, 64, align=PAGE_4K) | 1


def encode_pasid_entry(*, pgtt: int, did: int, flptptr: int = 0, sre: bool = False,
                       wpe: bool = False, fpd: bool = False, aw: int = AGAW_48BIT,
                       page_walk_snoop: bool = True, present: bool = True) -> list[int]:
    """The eight quadwords of a scalable-mode PASID-table entry (Linux pasid.h field positions)."""
    if pgtt not in (PGTT_FL_ONLY, PGTT_PT):
        raise FieldError(f"PASID entry PGTT {pgtt}: the kernel model sets first-level (1) or "
                         f"pass-through (4)")
    q0 = (flag("PASID P", present) | flag("PASID FPD", fpd) << 1 | put("PASID AW", aw, 3, 2)
          | put("PASID PGTT", pgtt, 3, 6))
    q1 = put("PASID DID", did, 16) | flag("PASID PWSNP", page_walk_snoop) << 23
    q2 = (flag("PASID SRE", sre) | flag("PASID WPE", wpe) << 4
          | put("PASID FLPTPTR", flptptr, 64, align=PAGE_4K))
    return [q0, q1, q2, 0, 0, 0, 0, 0]


def qi_pasid_cache(did: int, pasid: int) -> int:
    return (QI_PC_TYPE | QI_PC_GRAN_PASID << 4 | put("QI DID", did, 16, 16)
            | put("QI PASID", pasid, PASID_BITS, 32))


def qi_iotlb_domain(did: int) -> int:
    """Domain-selective IOTLB invalidation (type 2, granularity 2, drain reads and writes): what Linux issues
    for a PASID entry whose translation is second level, whose IOTLB entries are tagged by domain, not by
    PASID (intel_pasid_tear_down_entry)."""
    return QI_IOTLB_TYPE | QI_IOTLB_GRAN_DOMAIN << 4 | QI_IOTLB_DR | QI_IOTLB_DW | put("QI DID", did, 16, 16)


def qi_piotlb(did: int, pasid: int, addr: int | None = None, pages: int = 1) -> tuple[int, int]:
    """PASID-based IOTLB invalidation: all of the PASID (addr None) or a page-selective range."""
    low = QI_EIOTLB_TYPE | put("QI DID", did, 16, 16) | put("QI PASID", pasid, PASID_BITS, 32)
    if addr is None:
        return low | QI_GRAN_NONG_PASID << 4, 0
    mask = max(pages - 1, 0).bit_length()
    return (low | QI_GRAN_PSI_PASID << 4,
            put("QI address", addr, 64, align=PAGE_4K << mask) | put("QI AM", mask, 6))


@dataclass
class _VtdDevice:
    requester_id: int
    pasid_dir: int
    dir_entries: int
    pasid_tables: dict[int, int] = field(default_factory=dict)  # directory index -> table


class VtdSva(_SvaBase):
    """Scalable-mode DMA remapping on a DMAR unit whose queued invalidation ``qi`` (the unit's
    VtdIrqDomain: submit_invalidation, global_command) is already running."""

    def __init__(self, regs: RegisterAccess, memory: HostMemory, allocator: HostAllocator, qi, *,
                 pasids: PasidAllocator | None = None):
        super().__init__(pasids)
        self.regs, self.memory, self.allocator, self.qi = regs, memory, allocator, qi
        ecap = regs.read_reg(DMAR_ECAP_REG)
        missing = [name for name, bit in (("SMTS", ECAP_SMTS), ("FLTS", ECAP_FLTS),
                                          ("PASID", ECAP_PASID)) if not ecap & bit]
        if missing:
            raise RuntimeError(f"IOMMU lacks {', '.join(missing)} for scalable-mode SVA")
        self.supervisor_capable = bool(ecap & ECAP_SRS)
        self.devices: dict[int, _VtdDevice] = {}
        self._context_tables: dict[tuple[int, int], int] = {}
        self._next_did = FLPT_DEFAULT_DID + 1
        self._dids: dict[int, int] = {}  # PASID -> domain id
        self.root = allocator.alloc(PAGE_4K, PAGE_4K)
        zero_fill(memory, self.root, PAGE_4K)
        # iommu_set_root_entry: RTADDR with TTM=scalable, SRTP, wait RTPS, then global invalidations.
        regs.write_reg(DMAR_RTADDR_REG, self.root | DMA_RTADDR_SMT)
        persistent = regs.read_reg(DMAR_GSTS_REG) & PERSISTENT_GCMD_BITS
        regs.write_reg(DMAR_GCMD_REG, persistent | DMA_GCMD_SRTP)
        wait_for(lambda: regs.read_reg(DMAR_GSTS_REG), lambda s: bool(s & DMA_GSTS_RTPS),
                 "GSTS.RTPS")
        qi.submit_invalidation(QI_CC_TYPE | QI_GRAN_GLOBAL << 4)
        qi.submit_invalidation(QI_PC_TYPE | QI_PC_GRAN_ALL << 4)
        qi.submit_invalidation(QI_IOTLB_TYPE | QI_GRAN_GLOBAL << 4)
        qi.global_command(DMA_GCMD_TE, DMA_GSTS_TES, True)

    # ------------------------------------------------------------------ devices
    def attach_device(self, requester_id: int, *, pasid_bits: int = PASID_BITS) -> None:
        """Context entry with a PASID directory for 2^pasid_bits PASIDs (at least 2^13: PDTS 0 is
        128 directory entries) and a pass-through RID_PASID entry."""
        check("requester ID", requester_id, 16)
        check("device PASID bits", pasid_bits, 5)
        if requester_id in self.devices:
            return
        pdts = max(pasid_bits - PASID_PDE_SHIFT - 7, 0)
        dir_entries = 1 << (pdts + 7)
        pasid_dir = self.allocator.alloc(8 * dir_entries, PAGE_4K)
        zero_fill(self.memory, pasid_dir, 8 * dir_entries)
        device = _VtdDevice(requester_id, pasid_dir, dir_entries)
        self.devices[requester_id] = device
        self._write_pasid_entry(device, IOMMU_NO_PASID,
                                encode_pasid_entry(pgtt=PGTT_PT, did=FLPT_DEFAULT_DID))
        bus, devfn = requester_id >> 8, requester_id & 0xFF
        half = devfn >> 7
        table = self._context_tables.get((bus, half))
        if table is None:
            table = self.allocator.alloc(PAGE_4K, PAGE_4K)
            zero_fill(self.memory, table, PAGE_4K)
            self._context_tables[(bus, half)] = table
            write_u64(self.memory, self.root + 16 * bus + 8 * half, encode_sm_root_entry(table))
        low, high = encode_sm_context_entry(pasid_dir, pdts)
        slot = table + 32 * (devfn & 0x7F)
        write_u64(self.memory, slot + 8, high)
        write_u64(self.memory, slot, low)
        self.qi.submit_invalidation(QI_CC_TYPE | QI_GRAN_DEVICE << 4 | requester_id << 32)

    def _pasid_slot(self, device: _VtdDevice, pasid: int) -> int:
        index = pasid >> PASID_PDE_SHIFT
        if index >= device.dir_entries:
            raise ValueError(f"PASID {pasid:#x} beyond the device's PASID directory")
        table = device.pasid_tables.get(index)
        if table is None:
            table = self.allocator.alloc(PAGE_4K, PAGE_4K)
            zero_fill(self.memory, table, PAGE_4K)
            device.pasid_tables[index] = table
            write_u64(self.memory, device.pasid_dir + 8 * index, encode_pasid_dir_entry(table))
        return table + PASID_ENTRY_BYTES * (pasid & ((1 << PASID_PDE_SHIFT) - 1))

    def _write_pasid_entry(self, device: _VtdDevice, pasid: int, quadwords: list[int]) -> None:
        slot = self._pasid_slot(device, pasid)
        for n in range(7, -1, -1):  # word 0 (P) last
            write_u64(self.memory, slot + 8 * n, quadwords[n])

    # ------------------------------------------------------------------ bind / unbind
    def bind(self, requester_id: int, process: Process, *, supervisor: bool = False) -> SvaHandle:
        """iommu_sva_bind_device: the process's PASID gets a first-level entry on this device."""
        if process.arch != "x86":
            raise ValueError("VT-d first-level tables need an x86 process")
        if supervisor and not self.supervisor_capable:
            raise RuntimeError("ECAP.SRS=0: no supervisor requests")
        self.attach_device(requester_id)
        device = self.devices[requester_id]
        pasid = self._get_pasid(process)
        try:
            self._pasid_slot(device, pasid)
        except ValueError:
            self._put_pasid(process)
            raise
        did = self._dids.setdefault(pasid, self._next_did)
        if did == self._next_did:
            self._next_did += 1
        self._write_pasid_entry(device, pasid, encode_pasid_entry(
            pgtt=PGTT_FL_ONLY, did=did, flptptr=process.pgd, sre=supervisor, wpe=supervisor))
        handle = SvaHandle(pasid, requester_id, process, self._unbind)

        def invalidate(va: int, size: int) -> None:
            self.qi.submit_invalidation(*qi_piotlb(did, pasid, va, size // PAGE_4K))

        handle.listener = invalidate
        process.invalidate_listeners.append(invalidate)
        return handle

    def _unbind(self, handle: SvaHandle, *, fault_ignore: bool = False) -> None:
        """intel_pasid_tear_down_entry: clear P, PASID-cache and PASID-IOTLB invalidation, zero."""
        device = self.devices[handle.device_id]
        slot = self._pasid_slot(device, handle.pasid)
        did = self._dids[handle.pasid]
        write_u64(self.memory, slot, _read_u64(self.memory, slot) & ~1)
        self.qi.submit_invalidation(qi_pasid_cache(did, handle.pasid))
        self.qi.submit_invalidation(*qi_piotlb(did, handle.pasid))
        for n in range(8):
            write_u64(self.memory, slot + 8 * n, (2 if fault_ignore and n == 0 else 0))
        handle.process.invalidate_listeners.remove(handle.listener)
        self._put_pasid(handle.process)
        if handle.process.pasid is None:
            self._dids.pop(handle.pasid, None)


# ===================================================================== SMMUv3
SMMU_IDR0, SMMU_IDR1, SMMU_IDR5 = 0x00, 0x04, 0x14
SMMU_CR0, SMMU_CR0ACK = 0x20, 0x24
SMMU_STRTAB_BASE, SMMU_STRTAB_BASE_CFG = 0x80, 0x88
SMMU_CMDQ_BASE, SMMU_CMDQ_PROD, SMMU_CMDQ_CONS = 0x90, 0x98, 0x9C
SMMU_EVTQ_BASE, SMMU_EVTQ_PROD, SMMU_EVTQ_CONS = 0xA0, 0x100A8, 0x100AC
CR0_SMMUEN, CR0_EVTQEN, CR0_CMDQEN, CR0_ATSCHK = 1, 1 << 2, 1 << 3, 1 << 4
IDR0_S1P, IDR5_GRAN4K, IDR0_ATS = 1 << 1, 1 << 4, 1 << 10
STRTAB_STE_1_EATS_SHIFT, STRTAB_STE_1_EATS_TRANS = 28, 1      # STE dword 1 bits 29:28 (Linux STRTAB_STE_1_EATS)

STE_V, STE_CFG_ABORT, STE_CFG_S1_TRANS = 1, 0, 5
S1DSS_BYPASS = 1
CACHE_WBRA, SH_ISH = 1, 3
CTXDESC_LINEAR_CDMAX = 10
CD_T0SZ_48BIT, CD_IPS_48BIT = 16, 5
CD_EPD1, CD_V, CD_AA64, CD_R, CD_A, CD_ASET = 1 << 30, 1 << 31, 1 << 41, 1 << 45, 1 << 46, 1 << 47
# MAIR0: AttrIndx 0 normal write-back (0xFF), 1 normal non-cacheable (0x44), 2 device nGnRE (0x04).
# The SMMU model does not interpret memory attributes.
MAIR_DEFAULT = 0x04_44_FF

CMDQ_OP_CFGI_STE, CMDQ_OP_CFGI_CD, CMDQ_OP_CFGI_ALL = 0x03, 0x05, 0x04
CMDQ_OP_TLBI_NH_ASID, CMDQ_OP_TLBI_NH_VA, CMDQ_OP_TLBI_NSNH_ALL = 0x11, 0x12, 0x30
CMDQ_OP_CMD_SYNC = 0x46
CMDQ_SYNC_CS_SEV = 2


def encode_ste_s1(cd_table: int, s1cdmax: int, *, s1dss: int = S1DSS_BYPASS) -> list[int]:
    """The eight words of an STE with Config = S1 translate, linear CD table (S1Fmt 0)."""
    w0 = (STE_V | STE_CFG_S1_TRANS << 1 | put("STE S1ContextPtr", cd_table, 52, align=64)
          | put("STE S1CDMax", s1cdmax, 5, 59))
    w1 = (put("STE S1DSS", s1dss, 2) | CACHE_WBRA << 2 | CACHE_WBRA << 4 | SH_ISH << 6)
    return [w0, w1, 0, 0, 0, 0, 0, 0]


def encode_ste_abort() -> list[int]:
    return [STE_V | STE_CFG_ABORT << 1, 0, 0, 0, 0, 0, 0, 0]


def encode_cd(ttb0: int, asid: int, *, t0sz: int = CD_T0SZ_48BIT, ips: int = CD_IPS_48BIT,
              mair: int = MAIR_DEFAULT) -> list[int]:
    """The eight words of a stage-1 context descriptor (Linux arm_smmu_make_s1_cd fields)."""
    w0 = (put("CD T0SZ", t0sz, 6) | 0 << 6  # TG0 = 4 KiB
          | CACHE_WBRA << 8 | CACHE_WBRA << 10 | SH_ISH << 12 | CD_EPD1 | CD_V
          | put("CD IPS", ips, 3, 32) | CD_AA64 | CD_R | CD_A | CD_ASET | put("CD ASID", asid, 16, 48))
    w1 = put("CD TTB0", ttb0, 52, align=16)
    return [w0, w1, 0, put("CD MAIR0", mair, 64), 0, 0, 0, 0]


def cmd_cfgi_ste(sid: int) -> tuple[int, int]:
    return CMDQ_OP_CFGI_STE | put("CMD SID", sid, 32, 32), 1


def cmd_cfgi_cd(sid: int, ssid: int) -> tuple[int, int]:
    return CMDQ_OP_CFGI_CD | put("CMD SSID", ssid, 20, 12) | put("CMD SID", sid, 32, 32), 1


def cmd_tlbi_nh_asid(asid: int) -> tuple[int, int]:
    return CMDQ_OP_TLBI_NH_ASID | put("CMD ASID", asid, 16, 48), 0


def cmd_tlbi_nh_va(asid: int, va: int) -> tuple[int, int]:
    return (CMDQ_OP_TLBI_NH_VA | put("CMD ASID", asid, 16, 48),
            1 | put("CMD VA", va, 64, align=PAGE_4K))


def cmd_sync() -> tuple[int, int]:
    return CMDQ_OP_CMD_SYNC | CMDQ_SYNC_CS_SEV << 12, 0


@dataclass
class _SmmuDevice:
    stream_id: int
    cd_table: int
    s1cdmax: int


class SmmuSva(_SvaBase):
    """arm-smmu-v3 probe/reset, per-device CD tables and SVA binds on an SMMUv3 model."""

    def __init__(self, regs: RegisterAccess, memory: HostMemory, allocator: HostAllocator, *,
                 sid_bits: int = 16, queue_log2: int = 8, pasids: PasidAllocator | None = None):
        super().__init__(pasids)
        self.regs, self.memory, self.allocator = regs, memory, allocator
        idr0, idr1, idr5 = (regs.read_reg(o) for o in (SMMU_IDR0, SMMU_IDR1, SMMU_IDR5))
        if not idr0 & IDR0_S1P or (idr0 >> 2 & 3) not in (2, 3) or not idr5 & IDR5_GRAN4K:
            raise RuntimeError("SMMU lacks stage 1, AArch64 tables or the 4 KiB granule")
        self.sid_bits = min(check("SMMU StreamID bits", sid_bits, 6), idr1 & 0x3F)
        self.ssid_bits = idr1 >> 6 & 0x1F
        self.devices: dict[int, _SmmuDevice] = {}
        self._asids: dict[int, int] = {}  # PASID -> ASID
        self._bindings: dict[tuple[int, int], int] = {}
        self.queue_log2 = queue_log2
        self.cmdq = self._alloc_zeroed(16 << queue_log2, 16 << queue_log2)
        self.evtq = self._alloc_zeroed(32 << queue_log2, 32 << queue_log2)
        self._cmdq_prod = 0
        # Linear stream table; every stream aborts until attached (disable_bypass).
        self.strtab = self._alloc_zeroed(64 << self.sid_bits, 64 << self.sid_bits)
        abort = b"".join(w.to_bytes(8, "little") for w in encode_ste_abort())
        memory.write(self.strtab, abort * (1 << self.sid_bits))
        regs.write_reg(SMMU_CR0, 0)
        regs.write_reg(SMMU_STRTAB_BASE, self.strtab)
        regs.write_reg(SMMU_STRTAB_BASE_CFG, self.sid_bits)  # FMT linear, LOG2SIZE
        regs.write_reg(SMMU_CMDQ_BASE, self.cmdq | queue_log2)
        regs.write_reg(SMMU_CMDQ_PROD, 0)
        regs.write_reg(SMMU_CMDQ_CONS, 0)
        regs.write_reg(SMMU_EVTQ_BASE, self.evtq | queue_log2)
        regs.write_reg(SMMU_EVTQ_PROD, 0)
        regs.write_reg(SMMU_EVTQ_CONS, 0)
        self._enable(CR0_CMDQEN)
        self._submit([(CMDQ_OP_CFGI_ALL, 31), (CMDQ_OP_TLBI_NSNH_ALL, 0)])
        self._enable(CR0_CMDQEN | CR0_EVTQEN)
        self._enable(CR0_CMDQEN | CR0_EVTQEN | CR0_SMMUEN)
        self._evtq_cons = 0

    def _alloc_zeroed(self, size: int, align: int) -> int:
        addr = self.allocator.alloc(size, max(align, 64))
        zero_fill(self.memory, addr, size)
        return addr

    def _enable(self, value: int) -> None:
        self.regs.write_reg(SMMU_CR0, value)
        wait_for(lambda: self.regs.read_reg(SMMU_CR0ACK), lambda ack: ack == value, "CR0ACK")

    def _submit(self, commands: list[tuple[int, int]]) -> None:
        """Write commands and a CMD_SYNC, publish PROD, wait until CONS reaches it."""
        span = 2 << self.queue_log2
        for low, high in commands + [cmd_sync()]:
            index = self._cmdq_prod & ((1 << self.queue_log2) - 1)
            write_u64(self.memory, self.cmdq + 16 * index, low)
            write_u64(self.memory, self.cmdq + 16 * index + 8, high)
            self._cmdq_prod = (self._cmdq_prod + 1) % span
        self.regs.write_reg(SMMU_CMDQ_PROD, self._cmdq_prod)

        def consumed() -> int:
            cons = self.regs.read_reg(SMMU_CMDQ_CONS)
            if cons >> 24 & 0x7F:
                raise RuntimeError(f"SMMU command queue error CONS.ERR={cons >> 24 & 0x7F}")
            return cons

        wait_for(consumed, lambda cons: cons % span == self._cmdq_prod, "CMDQ_CONS")

    def read_events(self) -> list[bytes]:
        """arm_smmu_evtq_thread: the records between CONS and PROD, then CONS = PROD."""
        span = 2 << self.queue_log2
        prod = self.regs.read_reg(SMMU_EVTQ_PROD)
        records = []
        while self._evtq_cons != prod % span:
            index = self._evtq_cons & ((1 << self.queue_log2) - 1)
            records.append(self.memory.read(self.evtq + 32 * index, 32))
            self._evtq_cons = (self._evtq_cons + 1) % span
        self.regs.write_reg(SMMU_EVTQ_CONS, self._evtq_cons | (prod & 1 << 31))
        return records

    # ------------------------------------------------------------------ devices
    def attach_device(self, stream_id: int, *, ssid_bits: int = CTXDESC_LINEAR_CDMAX) -> None:
        check("StreamID", stream_id, self.sid_bits)
        check("CD table SubstreamID bits", ssid_bits, 5)
        if stream_id in self.devices:
            return
        s1cdmax = min(ssid_bits, CTXDESC_LINEAR_CDMAX, self.ssid_bits)
        cd_table = self._alloc_zeroed(64 << s1cdmax, PAGE_4K)
        self.devices[stream_id] = _SmmuDevice(stream_id, cd_table, s1cdmax)
        words = encode_ste_s1(cd_table, s1cdmax)
        slot = self.strtab + 64 * stream_id
        for n in range(7, -1, -1):
            write_u64(self.memory, slot + 8 * n, words[n])
        self._submit([cmd_cfgi_ste(stream_id)])

    # ------------------------------------------------------------------ ATS (docs/ats_pri.md 3.4)
    def set_eats(self, stream_id: int, enable: bool) -> None:
        """STE.EATS of an attached stream: TRANS when the master's ATS is enabled, 00b otherwise (Linux
        arm_smmu_make_cdtable_ste), then CFGI_STE + CMD_SYNC. With ATS at all on this SMMU, CR0.ATSCHK is
        set first: Linux does that in arm_smmu_device_reset when IDR0.ATS = 1; here the IDR0.ATS bit appears
        only once the bench attaches ATS, so the kernel sets it at the first use instead."""
        if stream_id not in self.devices:
            raise ValueError(f"StreamID {stream_id:#x} is not attached")
        cr0 = self.regs.read_reg(SMMU_CR0)
        if self.regs.read_reg(SMMU_IDR0) & IDR0_ATS and not cr0 & CR0_ATSCHK:
            self._enable(cr0 | CR0_ATSCHK)
        slot = self.strtab + 64 * stream_id + 8
        w1 = int.from_bytes(self.memory.read(slot, 8), "little")
        w1 &= ~(0b11 << STRTAB_STE_1_EATS_SHIFT)
        w1 |= (STRTAB_STE_1_EATS_TRANS if enable else 0) << STRTAB_STE_1_EATS_SHIFT
        write_u64(self.memory, slot, w1)
        self._submit([cmd_cfgi_ste(stream_id)])

    def _write_cd(self, device: _SmmuDevice, ssid: int, words: list[int]) -> None:
        if ssid >= 1 << device.s1cdmax:
            raise ValueError(f"SubstreamID {ssid:#x} beyond the linear CD table "
                             f"(S1CDMax {device.s1cdmax})")
        slot = device.cd_table + 64 * ssid
        for n in range(7, -1, -1):  # word 0 (V) last
            write_u64(self.memory, slot + 8 * n, words[n])
        self._submit([cmd_cfgi_cd(device.stream_id, ssid)])

    def bind(self, stream_id: int, process: Process) -> SvaHandle:
        if process.arch != "arm":
            raise ValueError("SMMU stage-1 tables need an arm process")
        self.attach_device(stream_id)
        device = self.devices[stream_id]
        pasid = self._get_pasid(process)
        if pasid >= 1 << device.s1cdmax:
            self._put_pasid(process)
            raise ValueError(f"PASID {pasid:#x} beyond the linear CD table (S1CDMax "
                             f"{device.s1cdmax})")
        asid = self._asids.get(pasid)
        if asid is None:
            asid = next(a for a in range(1, 1 << 16) if a not in self._asids.values())
            self._asids[pasid] = asid
        self._write_cd(device, pasid, encode_cd(process.pgd, asid))
        handle = SvaHandle(pasid, stream_id, process, self._unbind)

        def invalidate(va: int, size: int) -> None:
            self._submit([cmd_tlbi_nh_va(asid, va + offset) for offset in range(0, size, PAGE_4K)]
                         if size <= 16 * PAGE_4K else [cmd_tlbi_nh_asid(asid)])

        handle.listener = invalidate
        process.invalidate_listeners.append(invalidate)
        return handle

    def _unbind(self, handle: SvaHandle) -> None:
        device = self.devices[handle.device_id]
        asid = self._asids[handle.pasid]
        slot = device.cd_table + 64 * handle.pasid
        write_u64(self.memory, slot, 0)  # V=0 first, then the rest
        for n in range(1, 8):
            write_u64(self.memory, slot + 8 * n, 0)
        self._submit([cmd_cfgi_cd(device.stream_id, handle.pasid)])
        self._submit([cmd_tlbi_nh_asid(asid)])
        handle.process.invalidate_listeners.remove(handle.listener)
        self._put_pasid(handle.process)
        if handle.process.pasid is None:
            del self._asids[handle.pasid]


__all__ = ["ArmPageTables", "PAGE_1G", "PAGE_2M", "PAGE_4K", "PasidAllocator", "Process",
           "SmmuSva", "SvaHandle", "VtdSva", "X86PageTables", "encode_arm_leaf", "encode_cd",
           "encode_pasid_entry", "encode_sm_context_entry", "encode_ste_s1", "encode_x86_leaf"]
