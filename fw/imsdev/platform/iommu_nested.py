"""Second-level / stage-2 and nested translation, kernel side: what iommufd/VFIO and the VT-d and SMMUv3
drivers program for a guest's assigned device.

* A guest's physical address space (GPA -> HPA) is a :class:`VtdSecondLevelTables` (VT-d second-level
  format) or an :class:`ArmStage2Tables` (VMSAv8-64 stage 2, 4 KiB granule), built in host memory like
  the type1/iommufd IOAS mappings of the VMM's guest RAM.
* VT-d (Linux drivers/iommu/intel/pasid.c intel_pasid_setup_second_level / intel_pasid_setup_nested,
  pasid.h field positions): :func:`encode_pasid_entry_second_level` (PGTT=010b, SLPTPTR[63:12],
  AW[4:2]) and :func:`encode_pasid_entry_nested` (PGTT=011b, FLPTPTR = the guest's first-level root as
  a GPA, SLPTPTR = the guest's GPA space). :class:`VtdNestedSva` installs them on a device and issues
  the PASID-cache and PASID-IOTLB invalidations, as for first-level binds.
* SMMUv3 (Linux arm-smmu-v3.c arm_smmu_make_s2_domain_ste / arm_smmu_make_nested_domain_ste,
  arm-smmu-v3.h ``STRTAB_STE_2_*``): :func:`encode_ste_s2` (Config 110b, S2VMID, VTCR, S2AA64, S2R,
  S2TTB) and :func:`encode_ste_nested` (Config 111b: the guest's S1ContextPtr as an IPA plus the stage-2
  fields). :class:`SmmuNested` writes them with CFGI_STE + CMD_SYNC.

Entry formats: VT-d second level R b0, W b1, PS b7, address [51:12] (Linux DMA_PTE_READ/WRITE,
DMA_PTE_LARGE_PAGE); stage 2 bits[1:0] 11 table/page, 01 block, S2AP[7:6] (6 read, 7 write), AF b10,
SH[9:8], MemAttr[5:2] (1111b normal write-back). Every encoder checks its fields (FieldError).
"""

from __future__ import annotations

from ..fields import FieldError, check, flag, put
from .iommu_sva import (AGAW_48BIT, PAGE_4K, PAGE_SIZES, PageTables, SmmuSva, VtdSva, cmd_cfgi_ste,
                        qi_iotlb_domain, qi_pasid_cache, qi_piotlb, write_u64)

# ===================================================================== VT-d second level
PGTT_SL_ONLY, PGTT_NESTED = 2, 3
AGAW_39BIT = 1
DMA_PTE_READ, DMA_PTE_WRITE, DMA_PTE_LARGE_PAGE = 1, 1 << 1, 1 << 7


def encode_sl_table_entry(table: int) -> int:
    """A non-leaf second-level entry: R and W so the leaf decides (Linux sets both)."""
    return put("SL table address", table, 52, align=PAGE_4K) | DMA_PTE_READ | DMA_PTE_WRITE


def encode_sl_leaf(pa: int, page_size: int, *, writable: bool = True, readable: bool = True) -> int:
    if page_size not in PAGE_SIZES:
        raise FieldError(f"second-level page size {page_size:#x} is not 4K, 2M or 1G")
    if not (readable or writable):
        raise FieldError("second-level leaf with R=W=0 is not a mapping")
    return (put("SL page address", pa, 52, align=page_size) | flag("SL R", readable)
            | flag("SL W", writable) << 1 | (DMA_PTE_LARGE_PAGE if page_size != PAGE_4K else 0))


class VtdSecondLevelTables(PageTables):
    """A 4-level (48-bit, AW=010b) second-level table: GPA -> HPA."""

    arch = "vtd-sl"

    def _is_present(self, entry: int) -> bool:
        return bool(entry & (DMA_PTE_READ | DMA_PTE_WRITE))

    def _is_leaf(self, entry: int, level: int) -> bool:
        return level == 1 or bool(entry & DMA_PTE_LARGE_PAGE)

    def _table_entry(self, table: int) -> int:
        return encode_sl_table_entry(table)

    def _leaf(self, pa: int, page_size: int, writable: bool, user: bool) -> int:
        return encode_sl_leaf(pa, page_size, writable=writable)

    def _address(self, entry: int) -> int:
        return entry & ((1 << 52) - 1) & ~0xFFF


def encode_pasid_entry_second_level(slptptr: int, did: int, *, aw: int = AGAW_48BIT,
                                    fpd: bool = False) -> list[int]:
    """PGTT=010b: SLPTPTR in qword 0 bits 63:12 with P, FPD, AW, PGTT; DID and PWSNP in qword 1."""
    if aw not in (AGAW_39BIT, AGAW_48BIT):
        raise FieldError(f"PASID AW {aw}: 1 (39-bit) or 2 (48-bit)")
    q0 = (1 | flag("PASID FPD", fpd) << 1 | aw << 2 | PGTT_SL_ONLY << 6
          | put("PASID SLPTPTR", slptptr, 64, align=PAGE_4K))
    return [q0, put("PASID DID", did, 16) | 1 << 23, 0, 0, 0, 0, 0, 0]


def encode_pasid_entry_nested(flptptr: int, slptptr: int, did: int, *, aw: int = AGAW_48BIT,
                              sre: bool = False, wpe: bool = False) -> list[int]:
    """PGTT=011b: the second-level fields of :func:`encode_pasid_entry_second_level` plus the
    first-level root (a GPA: FLPTPTR[191:140]), 4-level first level (FLPM 00b), SRE/WPE."""
    words = encode_pasid_entry_second_level(slptptr, did, aw=aw)
    words[0] = words[0] & ~(0b111 << 6) | PGTT_NESTED << 6
    words[2] = (flag("PASID SRE", sre) | flag("PASID WPE", wpe) << 4
                | put("PASID FLPTPTR", flptptr, 64, align=PAGE_4K))
    return words


class VtdNestedSva(VtdSva):
    """VtdSva plus guest attachments: a device's requests without PASID through a guest's second-level
    table (an assigned device DMAs to GPAs), and nested PASID entries for guest SVA."""

    def attach_second_level(self, requester_id: int, tables: VtdSecondLevelTables, did: int) -> None:
        """The RID_PASID entry becomes second-level only (replacing the pass-through default)."""
        self.attach_device(requester_id)
        device = self.devices[requester_id]
        self._write_pasid_entry(device, 0, encode_pasid_entry_second_level(tables.root, did))
        self.qi.submit_invalidation(qi_pasid_cache(did, 0))
        self.qi.submit_invalidation(*qi_piotlb(did, 0))

    def attach_pasid_second_level(self, requester_id: int, pasid: int, tables: VtdSecondLevelTables,
                                  did: int) -> None:
        """iommufd's PASID attach of a guest's GPA space (an S2 HWPT) to one PASID of an assigned device:
        PGTT=010b in that PASID's entry, so the device's requests with ``pasid`` reach guest RAM by GPA
        (a guest kernel's DMA domain attached at a PASID, or a Scalable-IOV WQ given to a VM)."""
        check("PASID", pasid, 20)
        self.attach_device(requester_id)
        device = self.devices[requester_id]
        self._write_pasid_entry(device, pasid, encode_pasid_entry_second_level(tables.root, did))
        self.qi.submit_invalidation(qi_pasid_cache(did, pasid))
        self.qi.submit_invalidation(qi_iotlb_domain(did))    # second-level IOTLB entries carry no PASID tag

    def detach_pasid(self, requester_id: int, pasid: int, did: int) -> None:
        """Clear the PASID's second-level entry (P = 0) and invalidate as Linux's
        intel_pasid_tear_down_entry does for it (PASID cache, then domain-selective IOTLB): later requests
        with it fault."""
        check("PASID", pasid, 20)
        device = self.devices[requester_id]
        self._write_pasid_entry(device, pasid, [0] * 8)
        self.qi.submit_invalidation(qi_pasid_cache(did, pasid))
        self.qi.submit_invalidation(qi_iotlb_domain(did))

    def bind_nested(self, requester_id: int, pasid: int, guest_flptptr: int,
                    tables: VtdSecondLevelTables, did: int) -> None:
        """iommufd nested HWPT attach for one PASID: the guest's first-level root (GPA) over the
        guest's second-level table. ``pasid`` is the host PASID the device's requests carry."""
        check("PASID", pasid, 20)
        self.attach_device(requester_id)
        device = self.devices[requester_id]
        self._write_pasid_entry(device, pasid,
                                encode_pasid_entry_nested(guest_flptptr, tables.root, did))
        self.qi.submit_invalidation(qi_pasid_cache(did, pasid))
        self.qi.submit_invalidation(*qi_piotlb(did, pasid))


# ===================================================================== SMMUv3 stage 2
STE_CFG_S2_TRANS, STE_CFG_NESTED = 6, 7
S2_T0SZ_48BIT, S2_SL0_LEVEL0, S2_PS_48BIT = 16, 2, 5
STE_2_S2AA64, STE_2_S2PTW, STE_2_S2R = 1 << 51, 1 << 54, 1 << 58
S2_AP_READ, S2_AP_WRITE, S2_AF = 1 << 6, 1 << 7, 1 << 10
S2_MEMATTR_NORMAL_WB = 0b1111 << 2
S2_SH_INNER = 0b11 << 8


def encode_s2_table_descriptor(table: int) -> int:
    return put("S2 next-level table address", table, 48, align=PAGE_4K) | 0b11


def encode_s2_leaf(pa: int, page_size: int, *, writable: bool = True, readable: bool = True) -> int:
    """A level-3 page (11) or level-1/2 block (01): AF, inner shareable, normal write-back, S2AP."""
    if page_size not in PAGE_SIZES:
        raise FieldError(f"stage-2 page size {page_size:#x} is not 4K, 2M or 1G")
    entry = put("S2 output address", pa, 48, align=page_size) | S2_AF | S2_SH_INNER | S2_MEMATTR_NORMAL_WB
    entry |= flag("S2AP read", readable) << 6 | flag("S2AP write", writable) << 7
    return entry | (0b11 if page_size == PAGE_4K else 0b01)


class ArmStage2Tables(PageTables):
    """A stage-2 table starting at level 0 (48-bit IPA, S2SL0 = 2): IPA -> PA."""

    arch = "arm-s2"

    def _is_present(self, entry: int) -> bool:
        return bool(entry & 1)

    def _is_leaf(self, entry: int, level: int) -> bool:
        return level == 1 or not entry & 0b10

    def _table_entry(self, table: int) -> int:
        return encode_s2_table_descriptor(table)

    def _leaf(self, pa: int, page_size: int, writable: bool, user: bool) -> int:
        return encode_s2_leaf(pa, page_size, writable=writable)


def _ste_s2_words(s2ttb: int, vmid: int) -> tuple[int, int]:
    vtcr = (S2_T0SZ_48BIT | S2_SL0_LEVEL0 << 6 | 1 << 8 | 1 << 10 | 0b11 << 12  # WBWA, inner sh.
            | 0b00 << 14 | S2_PS_48BIT << 16)                                     # 4 KiB, 48-bit PS
    word2 = put("STE S2VMID", vmid, 16) | vtcr << 32 | STE_2_S2AA64 | STE_2_S2PTW | STE_2_S2R
    return word2, put("STE S2TTB", s2ttb, 52, align=16)


def encode_ste_s2(s2ttb: int, vmid: int) -> list[int]:
    """Config 110b: the stream's input addresses are IPAs (an assigned device DMAs to GPAs)."""
    word2, word3 = _ste_s2_words(s2ttb, vmid)
    return [1 | STE_CFG_S2_TRANS << 1, 0, word2, word3, 0, 0, 0, 0]


def encode_ste_nested(cd_table_ipa: int, s1cdmax: int, s2ttb: int, vmid: int, *,
                      s1dss: int = 1) -> list[int]:
    """Config 111b: the guest's stage 1 (its CD table, an IPA, and its S1DSS) over stage 2."""
    word2, word3 = _ste_s2_words(s2ttb, vmid)
    w0 = (1 | STE_CFG_NESTED << 1 | put("STE S1ContextPtr", cd_table_ipa, 52, align=64)
          | put("STE S1CDMax", s1cdmax, 5, 59))
    return [w0, put("STE S1DSS", s1dss, 2), word2, word3, 0, 0, 0, 0]


class SmmuNested(SmmuSva):
    """SmmuSva plus guest attachments (iommufd S2 parent / nested HWPT on the physical SMMU)."""

    def _write_ste(self, stream_id: int, words: list[int]) -> None:
        check("StreamID", stream_id, self.sid_bits)
        slot = self.strtab + 64 * stream_id
        for n in range(7, -1, -1):  # word 0 (V, Config) last
            write_u64(self.memory, slot + 8 * n, words[n])
        self._submit([cmd_cfgi_ste(stream_id)])

    def attach_stage2(self, stream_id: int, tables: ArmStage2Tables, vmid: int) -> None:
        self._write_ste(stream_id, encode_ste_s2(tables.root, vmid))

    def attach_nested(self, stream_id: int, cd_table_ipa: int, s1cdmax: int,
                      tables: ArmStage2Tables, vmid: int) -> None:
        self._write_ste(stream_id, encode_ste_nested(cd_table_ipa, s1cdmax, tables.root, vmid))


__all__ = ["ArmStage2Tables", "PGTT_NESTED", "PGTT_SL_ONLY", "SmmuNested", "VtdNestedSva",
           "VtdSecondLevelTables", "encode_pasid_entry_nested", "encode_pasid_entry_second_level",
           "encode_s2_leaf", "encode_sl_leaf", "encode_ste_nested", "encode_ste_s2"]
