"""PRI formats shared by the bench (docs/ats_pri.md 1.2, 1.5, 1.6): the one Python module for them.

* Page Request Extended Capability (ID 0x0013, version 1, 16 bytes): Control E b0 / R b1, Status RF b0,
  UPRGI b1, Stopped b8, PRG Response PASID Required b15 (Linux pci_regs.h PCI_PRI_*), capacity at +8,
  allocation at +0xC.
* Page Request (Msg to the Root Complex, Fmt/Type 0x30, code 0x04, TC 0): bytes 8-11 = page address 63:32;
  bytes 12-15 = page address 31:12, PRG index 11:3, L 2, W 1, R 0 ([RV], [Simics]). R = W = 0 with L = 1 is a
  Stop Marker. PASID prefix optional (PMR/ER = the access wanted).
* PRG Response (Msg routed by ID, Fmt/Type 0x32, code 0x05): bytes 8-9 destination ID; bytes 10-11 = response
  code 15:12, PRG index 8:0. Codes (PCIe T10-8): 0 Success, 1 Invalid Request, 0xF Response Failure,
  2..0xE unused (the device handles them as Response Failure).
* Host-side formats (docs/ats_pri.md 1.6): the VT-d page request descriptor (Linux `struct page_req_dsc`,
  32 bytes), the VT-d page group response (QI type 9), the SMMUv3 PRI queue entry (16 bytes, `PRIQ_*`) and
  CMD_PRI_RESP (0x41, `CMDQ_PRI_*`, RESP 0 DENY / 1 FAIL / 2 SUCC). The kernel-side code
  (fw/imsdev/platform/iommu_pri.py) has its own copy as Linux has; tests/unit/test_pri_formats.py holds both
  to the Linux positions.
"""
from __future__ import annotations

from dataclasses import dataclass

from .ats import FT_MSG_ID, FT_MSG_TO_RC, MSG_CODE_PAGE_REQ, MSG_CODE_PRG_RESP, PAGE_SHIFT  # noqa: F401

PRI_EXT_CAP_ID = 0x0013
PRI_CAP_VERSION = 1
PRI_CTRL = 0x04
PRI_STATUS = 0x06
PRI_MAX_REQ = 0x08
PRI_ALLOC_REQ = 0x0C
PRI_CTRL_ENABLE = 0x01
PRI_CTRL_RESET = 0x02
PRI_STATUS_RF = 0x0001
PRI_STATUS_UPRGI = 0x0002
PRI_STATUS_STOPPED = 0x0100
PRI_STATUS_PASID = 0x8000
PRI_CAPACITY = 2            # docs/ats_pri.md 2.6: two slots (read side, write side)
PRGI_BITS = 9
PRGI_COUNT = 1 << PRGI_BITS

RESP_SUCCESS = 0x0
RESP_INVALID = 0x1
RESP_FAILURE = 0xF
RESP_NAMES = {RESP_SUCCESS: "success", RESP_INVALID: "invalid", RESP_FAILURE: "failure"}


def response_class(code: int) -> str:
    """The bin a response code falls in: success, invalid, failure, or unused (2..0xE: a Response Failure)."""
    return RESP_NAMES.get(code & 0xF, "unused")


class PriFormatError(ValueError):
    """A PRI field combination the formats cannot express."""


@dataclass(frozen=True)
class PageRequest:
    """One Page Request's bytes 8-15: page (address >> 12), PRG index, L/W/R."""
    page: int
    prgi: int
    r: bool = False
    w: bool = False
    last: bool = True

    def pack(self) -> tuple[int, int]:
        """(bytes 8-11, bytes 12-15) as big-endian DWs."""
        if not 0 <= self.prgi < PRGI_COUNT:
            raise PriFormatError(f"PRG index {self.prgi} outside 9 bits")
        if not 0 <= self.page < 1 << 52:
            raise PriFormatError(f"page {self.page:#x} outside address bits 63:12")
        addr = self.page << PAGE_SHIFT
        return (addr >> 32) & 0xFFFF_FFFF, (addr & 0xFFFF_F000) | self.prgi << 3 | int(self.last) << 2 | \
            int(self.w) << 1 | int(self.r)

    @classmethod
    def unpack(cls, b8_11: int, b12_15: int) -> "PageRequest":
        return cls(page=((b8_11 & 0xFFFF_FFFF) << 20) | (b12_15 >> 12 & 0xF_FFFF), prgi=(b12_15 >> 3) & 0x1FF,
                   r=bool(b12_15 & 1), w=bool(b12_15 & 2), last=bool(b12_15 & 4))

    @property
    def stop_marker(self) -> bool:
        return self.last and not self.r and not self.w

    @property
    def address(self) -> int:
        return self.page << PAGE_SHIFT


def prg_response_word(code: int, prgi: int) -> int:
    """Bytes 10-11 of a PRG Response: code 15:12, PRG index 8:0."""
    if not 0 <= code <= 0xF or not 0 <= prgi < PRGI_COUNT:
        raise PriFormatError(f"response code {code} / PRG index {prgi} out of range")
    return code << 12 | prgi


def prg_response_fields(word: int) -> tuple[int, int]:
    """(code, PRG index) of bytes 10-11."""
    return (word >> 12) & 0xF, word & 0x1FF


# ---- VT-d (Linux drivers/iommu/intel/prq.c struct page_req_dsc; iommu.h QI_PGRP_*) -------------------------
VTD_PRQ_DESC_BYTES = 0x20
VTD_PRD_TYPE = 1                    # QEMU VTD_PRD_TYPE
QI_PGRP_RESP_TYPE = 0x9


@dataclass(frozen=True)
class VtdPageRequest:
    rid: int
    pasid: int | None
    page: int
    prgi: int
    rd: bool
    wr: bool
    lpig: bool
    exe: bool = False
    pm: bool = False

    def pack(self) -> bytes:
        qw0 = VTD_PRD_TYPE | (self.pasid is not None) << 8 | (self.rid & 0xFFFF) << 16 | \
            ((self.pasid or 0) & 0xFFFFF) << 32 | int(self.exe) << 52 | int(self.pm) << 53
        qw1 = int(self.rd) | int(self.wr) << 1 | int(self.lpig) << 2 | (self.prgi & 0x1FF) << 3 | \
            (self.page & ((1 << 52) - 1)) << 12
        return qw0.to_bytes(8, "little") + qw1.to_bytes(8, "little") + bytes(16)

    @classmethod
    def unpack(cls, raw: bytes) -> "VtdPageRequest":
        qw0 = int.from_bytes(raw[0:8], "little")
        qw1 = int.from_bytes(raw[8:16], "little")
        return cls(rid=qw0 >> 16 & 0xFFFF, pasid=(qw0 >> 32 & 0xFFFFF) if qw0 >> 8 & 1 else None,
                   page=qw1 >> 12, prgi=qw1 >> 3 & 0x1FF, rd=bool(qw1 & 1), wr=bool(qw1 & 2),
                   lpig=bool(qw1 & 4), exe=bool(qw0 >> 52 & 1), pm=bool(qw0 >> 53 & 1))


def vtd_page_group_response(rid: int, pasid: int | None, code: int, prgi: int, lpig: bool = True) -> tuple[int, int]:
    """QI type 9 (qw0, qw1): type 3:0, PASID_P b4, response code 15:12, RID 31:16, PASID 51:32; LPIG b2,
    PRG index 11:3."""
    lo = QI_PGRP_RESP_TYPE | (pasid is not None) << 4 | (code & 0xF) << 12 | (rid & 0xFFFF) << 16 | \
        ((pasid or 0) & 0xFFFFF) << 32
    return lo, int(lpig) << 2 | (prgi & 0x1FF) << 3


def decode_vtd_page_group_response(lo: int, hi: int):
    """(rid, pasid or None, code, prgi, lpig) of a type 9 descriptor, or None for another type."""
    if (lo & 0xF) | ((lo >> 9) & 0x7) << 4 != QI_PGRP_RESP_TYPE:
        return None
    return lo >> 16 & 0xFFFF, (lo >> 32 & 0xFFFFF) if lo >> 4 & 1 else None, lo >> 12 & 0xF, hi >> 3 & 0x1FF, \
        bool(hi >> 2 & 1)


# ---- SMMUv3 (Linux arm-smmu-v3.h PRIQ_*, CMDQ_PRI_*) ---------------------------------------------------------
PRIQ_ENT_BYTES = 16
CMD_PRI_RESP = 0x41
PRI_RESP_DENY, PRI_RESP_FAIL, PRI_RESP_SUCC = 0, 1, 2
SMMU_TO_PCIE = {PRI_RESP_SUCC: RESP_SUCCESS, PRI_RESP_DENY: RESP_INVALID, PRI_RESP_FAIL: RESP_FAILURE}


@dataclass(frozen=True)
class PriqEntry:
    sid: int
    ssid: int | None
    page: int
    prgi: int
    read: bool
    write: bool
    last: bool
    priv: bool = False
    exe: bool = False

    def pack(self) -> bytes:
        dw0 = (self.sid & 0xFFFF_FFFF) | ((self.ssid or 0) & 0xFFFFF) << 32 | int(self.priv) << 58 | \
            int(self.exe) << 59 | int(self.read) << 60 | int(self.write) << 61 | int(self.last) << 62 | \
            (self.ssid is not None) << 63
        dw1 = (self.prgi & 0x1FF) | (self.page & ((1 << 52) - 1)) << 12
        return dw0.to_bytes(8, "little") + dw1.to_bytes(8, "little")

    @classmethod
    def unpack(cls, raw: bytes) -> "PriqEntry":
        dw0 = int.from_bytes(raw[0:8], "little")
        dw1 = int.from_bytes(raw[8:16], "little")
        return cls(sid=dw0 & 0xFFFF_FFFF, ssid=(dw0 >> 32 & 0xFFFFF) if dw0 >> 63 & 1 else None, page=dw1 >> 12,
                   prgi=dw1 & 0x1FF, read=bool(dw0 >> 60 & 1), write=bool(dw0 >> 61 & 1), last=bool(dw0 >> 62 & 1),
                   priv=bool(dw0 >> 58 & 1), exe=bool(dw0 >> 59 & 1))


def cmd_pri_resp(sid: int, ssid: int | None, prgi: int, resp: int) -> tuple[int, int]:
    lo = CMD_PRI_RESP | (sid & 0xFFFF_FFFF) << 32
    if ssid is not None:
        lo |= 1 << 11 | (ssid & 0xFFFFF) << 12
    return lo, (prgi & 0x1FF) | (resp & 3) << 12


def decode_cmd_pri_resp(lo: int, hi: int):
    """(sid, ssid or None, prgi, resp) of a CMD_PRI_RESP, or None for another command."""
    if lo & 0xFF != CMD_PRI_RESP:
        return None
    return lo >> 32 & 0xFFFF_FFFF, (lo >> 12 & 0xFFFFF) if lo >> 11 & 1 else None, hi & 0x1FF, hi >> 12 & 3
