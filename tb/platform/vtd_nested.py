"""VT-d second-level translation: the walk behind PASID-entry PGTT = 010b (second-level only) and
PGTT = 011b (nested: first-level GVA -> GPA, every first-level table access and the final GPA through
second level), used by :mod:`.vtd_dma` when the unit is built with ``second_level=True``.

Formats (VT-d spec rev 3.x-5.0 ch. 9.6 PASID entry, 9.8 second-level paging entries; positions
checked against Linux drivers/iommu/intel/pasid.h ``pasid_set_slptr`` / ``pasid_set_address_width`` /
``pasid_set_translation_type``, iommu.h ``DMA_PTE_READ``/``DMA_PTE_WRITE``/``DMA_PTE_LARGE_PAGE``,
``ecap_slts``/``ecap_nest``/``cap_sagaw``/``cap_super_page_val``):

=====================  ==============================================================================
PASID entry            SLPTPTR[63:12] (qword 0), AW[4:2] (001b 3-level / 39-bit, 010b 4-level /
                       48-bit), PGTT[8:6], SLADE b9 (A/D in second level: not modelled, ignored)
second-level entry     R b0, W b1, X b2 (execute requests are not modelled), EMT[5:3], IPAT b6,
                       PS b7 (PDPE: 1 GiB, PDE: 2 MiB), A b8, D b9, SNP b11, address [HAW-1:12]
ECAP / CAP             ECAP.NEST b26, ECAP.SLTS b46; CAP.SAGAW[12:8] (bit 1: 39-bit, bit 2: 48-bit),
                       CAP.SLLPS[37:34] (bit 0: 2 MiB, bit 1: 1 GiB)
=====================  ==============================================================================

Fault reasons (codes from Linux dmar.c dma_remap_sm_fault_reasons[], index + 0x30; the spec's table
itself was not available, so the mapping of conditions to codes follows those strings):

* 0x78 SM_SL_ENTRY_ACCESS: a second-level entry cannot be read;
* 0x79 SM_SL_ENTRY_RW_ERROR: an entry with R = W = 0 at any level (second level has no present bit;
  "Read/Write permission error in second-level paging entry");
* 0x7A SM_SL_ENTRY_RESERVED: address bits 51:HAW, PS in a PML4E, PS in a PDPE without 1 GiB support,
  a large page's address bits below its size;
* 0x7B SM_SL_INVALID_POINTER: SLPTPTR at or beyond the host address width;
* 0x83 SM_ADDRESS_BEYOND_HAW: a second-level-only input address beyond the AW width;
* 0x74 SM_NESTED_FL_ADDRESS_BEYOND: nested, a first-level table or page GPA beyond the AW width;
* 0x75 / 0x76 SM_NESTED_FL_PML4_READ / SM_NESTED_FL_READ: nested, the second-level mapping of the
  FL-PML4 table / of another first-level table has W but not R;
* 0x77 SM_NESTED_FL_WRITE: nested, the first-level A/D update needs W in the second-level mapping of
  that table page;
* 0x85 / 0x86: the final access lacks W / R in second level (the same codes as first level).

Access rights are the AND of R and W over every level. A first-level access in nested mode that is
blocked by second level is recorded with the request's input address (GVA) in FRCD.FI, as every
other fault of the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .memory import bit_field, bit_mask

ECAP_NEST = 1 << 26
ECAP_SLTS = 1 << 46
CAP_SAGAW_39_48 = 0b00110 << 8
CAP_SLLPS_2M_1G = 0b0011 << 34

AW_LEVELS = {0b001: 3, 0b010: 4}

SL_R, SL_W, SL_PS = 1 << 0, 1 << 1, 1 << 7


class SecondLevelFault(Exception):
    """A second-level walk failure, with the fault-reason code (an int; vtd_dma maps it)."""

    def __init__(self, code: int, detail: str):
        super().__init__(f"{code:#x}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class SlResult:
    address: int        # host-physical
    readable: bool
    writable: bool
    page_size: int


class SecondLevelTables:
    """One PASID entry's second-level table: ``translate(gpa)`` walks it in host memory."""

    def __init__(self, read_entry: Callable[[int], int], pointer: int, aw: int, host_address_width: int):
        """``read_entry(address)`` reads one 8-byte entry (raising SecondLevelFault 0x78 itself)."""
        if aw not in AW_LEVELS:
            raise SecondLevelFault(0x5B, f"PASID entry AW={aw:03b}b: SAGAW supports 001b and 010b")
        if pointer >= 1 << host_address_width:
            raise SecondLevelFault(0x7B, f"SLPTPTR {pointer:#x} beyond the host address width")
        self.read_entry = read_entry
        self.pointer = pointer
        self.levels = AW_LEVELS[aw]
        self.input_width = 12 + 9 * self.levels
        self.haw = host_address_width

    def translate(self, gpa: int) -> SlResult:
        if gpa >> self.input_width:
            raise SecondLevelFault(0x83, f"address {gpa:#x} beyond the {self.input_width}-bit AW")
        table = self.pointer
        readable = writable = True
        address_mask = bit_mask(self.haw - 1, 12)
        reserved_address = bit_mask(51, self.haw) if self.haw < 52 else 0
        for level in range(self.levels, 0, -1):
            shift = 12 + 9 * (level - 1)
            slot = table + 8 * (gpa >> shift & 0x1FF)
            value = self.read_entry(slot)
            if not value & (SL_R | SL_W):
                raise SecondLevelFault(0x79, f"level {level} entry at {slot:#x}: R=W=0")
            large = bool(value & SL_PS) and level in (2, 3)
            if value & reserved_address or (level == 4 and value & SL_PS):
                raise SecondLevelFault(0x7A, f"level {level} entry {value:#x}")
            if large and value & bit_mask(shift - 1, 12):
                raise SecondLevelFault(0x7A, f"level {level} large page {value:#x}")
            readable &= bool(value & SL_R)
            writable &= bool(value & SL_W)
            if large or level == 1:
                base = value & address_mask & ~((1 << shift) - 1)
                return SlResult(base | gpa & ((1 << shift) - 1), readable, writable, 1 << shift)
            table = value & address_mask
        raise AssertionError("unreachable")


def pasid_entry_second_level(entry: int) -> tuple[int, int]:
    """(SLPTPTR, AW) of a 512-bit PASID entry."""
    return entry & bit_mask(63, 12), bit_field(entry, 4, 2)


__all__ = ["CAP_SAGAW_39_48", "CAP_SLLPS_2M_1G", "ECAP_NEST", "ECAP_SLTS", "SecondLevelFault",
           "SecondLevelTables", "SlResult", "pasid_entry_second_level"]
