"""Kernel-side device-TLB (ATC) invalidation commands, as Linux builds them (docs/ats_pri.md 1.6):

* VT-d PASID-based device-TLB invalidate, QI type 8 (`qi_flush_dev_iotlb_pasid`): qw0 type 8 | QDEP 8:4 |
  SID 31:16 | PASID 51:32 (PFSID 0: the device is a physical function); qw1 address 63:12 with the S encoding
  (S bit 11; for 2^n pages the address bits 12..12+n-2 set, bit 12+n-1 clear).
* VT-d device-TLB invalidate without PASID, QI type 3: qw0 type 3 | QDEP 20:16 | SID 47:32; qw1 address 63:12
  with the same encoding, S at bit 0.
* SMMUv3 CMD_ATC_INV (0x40): dw0 SSV 11 | SSID 31:12 | SID 63:32; dw1 SIZE 5:0 (log2 of the span in 4 KiB
  pages, 52 = everything), ADDR 63:12 aligned to the span.
The S encoding is tb/pcie/ats.py's one (PCIe Table 10-5), kept here as the kernel computes it (no bench import).
"""
from __future__ import annotations

QI_DIOTLB_TYPE = 0x3
QI_DEIOTLB_TYPE = 0x8
CMD_ATC_INV = 0x40
ATC_INV_SIZE_ALL = 52
PAGE_SHIFT = 12


def _s_address(addr: int, size_order: int) -> tuple[int, bool]:
    """(address field with the S-encoding bits, S) for 2^size_order pages containing addr (Linux's way)."""
    addr &= ~((1 << (PAGE_SHIFT + size_order)) - 1)
    if not size_order:
        return addr, False
    addr |= ((1 << (size_order - 1)) - 1) << PAGE_SHIFT
    return addr, True


def qi_dev_iotlb_pasid(sid: int, pasid: int, qdep: int, addr: int, size_order: int) -> tuple[int, int]:
    lo = QI_DEIOTLB_TYPE | (qdep & 0x1F) << 4 | (sid & 0xFFFF) << 16 | (pasid & 0xFFFFF) << 32
    a, s = _s_address(addr, size_order)
    return lo, a | int(s) << 11


def qi_dev_iotlb(sid: int, qdep: int, addr: int, size_order: int) -> tuple[int, int]:
    lo = QI_DIOTLB_TYPE | (qdep & 0x1F) << 16 | (sid & 0xFFFF) << 32
    a, s = _s_address(addr, size_order)
    return lo, a | int(s)


def cmd_atc_inv(sid: int, ssid: int | None, addr: int, size_log2: int) -> tuple[int, int]:
    lo = CMD_ATC_INV | (sid & 0xFFFF_FFFF) << 32
    if ssid is not None:
        lo |= 1 << 11 | (ssid & 0xFFFFF) << 12
    if size_log2 >= ATC_INV_SIZE_ALL:
        return lo, ATC_INV_SIZE_ALL
    return lo, (addr & ~((1 << (PAGE_SHIFT + size_log2)) - 1)) | size_log2
