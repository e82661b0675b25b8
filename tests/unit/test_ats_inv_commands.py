"""Kernel device-TLB invalidation commands (fw/imsdev/platform/ats_inv.py) against the models' decoders
(tb/platform/vtd_ats.py decode_devtlb, tb/platform/smmu_ats.py decode_atc_inv), with the bit positions of
docs/ats_pri.md 1.6 checked by hand, and the range they name equal to the Invalidate Request's S encoding."""
import pytest

from imsdev.platform.ats_inv import cmd_atc_inv, qi_dev_iotlb, qi_dev_iotlb_pasid

from tb.pcie import ats
from tb.platform.smmu_ats import decode_atc_inv
from tb.platform.vtd_ats import decode_devtlb

SID, VA = 0x0100, 0x7F5A_0012_3000


def test_type8_bits():
    lo, hi = qi_dev_iotlb_pasid(SID, 0x12345, 0, VA, 0)
    assert lo == 0x8 | SID << 16 | 0x12345 << 32 and hi == VA
    lo, hi = qi_dev_iotlb_pasid(SID, 1, 0, VA, 2)       # 4 pages: bit 12 set, bit 13 clear, S
    assert hi == (VA & ~0x3FFF) | 1 << 12 | 1 << 11


def test_type3_and_atc_inv_bits():
    lo, hi = qi_dev_iotlb(SID, 0, VA, 0)
    assert lo == 0x3 | SID << 32 and hi == VA
    lo, hi = cmd_atc_inv(SID, 7, VA, 0)
    assert lo == 0x40 | 1 << 11 | 7 << 12 | SID << 32 and hi == VA
    lo, hi = cmd_atc_inv(SID, None, VA, 52)
    assert lo == 0x40 | SID << 32 and hi == 52


@pytest.mark.parametrize("order", [0, 1, 2, ats.SIZE_2M, ats.SIZE_1G])
def test_round_trips(order):
    page = (VA >> 12) & ~((1 << order) - 1)
    assert decode_devtlb(*qi_dev_iotlb_pasid(SID, 9, 0, VA, order)) == (SID, 9, page, order)
    assert decode_devtlb(*qi_dev_iotlb(SID, 0, VA, order)) == (SID, None, page, order)
    assert decode_atc_inv(*cmd_atc_inv(SID, 9, VA, order)) == (SID, 9, page, order)
    assert decode_atc_inv(*cmd_atc_inv(SID, None, VA, order)) == (SID, None, page, order)
    # the VT-d address field is exactly the Invalidate Request payload's S encoding
    lo, hi = qi_dev_iotlb_pasid(SID, 9, 0, VA, order)
    assert (hi & ~0xFFF) | (hi >> 11 & 1) << 11 == ats.InvalidatePayload(page, order).pack()


def test_other_commands_are_not_decoded():
    assert decode_devtlb(0x6, 0) is None and decode_atc_inv(0x46, 0) is None
    assert decode_atc_inv(*cmd_atc_inv(SID, None, 0, 52)) == (SID, None, 0, 52)
