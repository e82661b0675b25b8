"""tb/pcie/mmio_region.py restates cocotbext-pcie's MemoryTlpRegion.read for one-TLP reads: it refuses a package
whose method is not the one it restates, and decides "one TLP" as the package's split does."""
from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest
from cocotbext.pcie.core.region import MemoryTlpRegion

from tb.pcie import mmio_region

SRC = inspect.getsource(MemoryTlpRegion.read)


def test_installed_package_is_the_restated_one():
    mmio_region.check_package()


@pytest.mark.parametrize("old, new", [
    ("op_list.append((byte_length, cocotb.start_soon(", "op_list.insert(0, (byte_length, cocotb.start_soon("),
    ("byte_length = min(byte_length, 0x1000 - (addr & 0xfff))", "pass"),
    ("if cpl.status != CplStatus.SC:", "if cpl.status == CplStatus.CA:"),
])
def test_a_changed_method_is_refused(old, new):
    assert SRC.count(old) == 1
    with pytest.raises(mmio_region.RcSwitchError, match="mmio_region.py restates"):
        mmio_region.check_package(SRC.replace(old, new))


def _tlps(mrrs_code: int, addr: int, length: int) -> int:
    """How many TLPs MemoryTlpRegion.read's loop builds (its split, restated as arithmetic)."""
    n = 0
    while length > 0:
        first_pad = addr % 4
        byte_length = length
        if byte_length > (128 << mrrs_code) - first_pad:
            byte_length = min(byte_length, (128 << mrrs_code) - (addr & 0x7F))
        byte_length = min(byte_length, 0x1000 - (addr & 0xFFF))
        n += 1
        addr += byte_length
        length -= byte_length
    return n


@pytest.mark.parametrize("mrrs_code", [0, 2, 5])
def test_one_tlp_is_the_packages_split(mrrs_code):
    region = SimpleNamespace(cfg=SimpleNamespace(max_read_request_size=mrrs_code))
    mrrs = 128 << mrrs_code
    for addr in (0, 1, 3, 0x7C, 0x7F, 0xFF8, 0xFFD, 0x1_0000_0FFC):
        for length in (1, 2, 4, 5, 8, 64, mrrs - 3, mrrs - 1, mrrs, mrrs + 1):
            assert mmio_region.fits_one_tlp(region, addr, length) == (_tlps(mrrs_code, addr, length) == 1), \
                (hex(addr), length)
    assert not mmio_region.fits_one_tlp(region, 0, 0), "a zero-length read keeps the package's method"
