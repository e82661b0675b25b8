"""The root complex's MMIO region with a one-TLP read done in the caller's task.

Software's reads of the device's BARs (`Bench.rd32`, the driver model, the C library's bench calls) end in
cocotbext-pcie's `MemoryTlpRegion.read` on the RC's downstream memory region. The package splits the read
into TLPs (Max_Read_Request_Size, 4 KiB) and starts each one's non-posted operation as a task of its own
(`cocotb.start_soon`), then joins them in order, so that a long read's TLPs are outstanding together. A
read of the BARs' registers needs one TLP, and for it the task, its start, its completion callback and
the join (a deprecated call in cocotb 2, with its warning machinery) cost about 9% of an MMIO read
(callgrind: 1.24 -> 1.13 M instructions per `Bench.rd32`, the seven simulated cycles included).

`InlineReadRegion.read` restates `MemoryTlpRegion.read` for a read that fits one TLP: the same request
(fmt_type by address, the function's requester ID, Attr, TC, address and byte enables), sent from the
caller's task after one yield, and the same checks of each completion (status SC, Byte Count, the bytes
taken from Lower Address). The package's task ran after every task already scheduled; the caller resumes
after them too, so a posted write started just before (`Bench.wr32_nowait`) still goes first, in the same
simulator step, and `perform_nonposted_operation` allocates the tag and gathers the completions as before.
A zero-length read, one of several TLPs and one without Bus Master Enable take the package's own method.
`check_package()` (run by make unit) refuses a package whose method is not the one restated here (the same
token digest as tb/pcie/rc_switch.py); test_enumeration's `test_mmio_read_of_one_tlp_in_the_callers_task`
compares both paths.
"""
from __future__ import annotations

import functools
import inspect

from cocotb.triggers import NullTrigger
from cocotbext.pcie.core import region as _region
from cocotbext.pcie.core.region import MemoryTlpRegion
from cocotbext.pcie.core.tlp import CplStatus, TlpAttr, TlpTc, TlpType

from .rc_switch import RcSwitchError, check_source

_READ_SHA256 = "0883ac1fd3e88015ef3196b1a85b4e5e6b5e7a8a2bcc2f105f585e3aa095eca5"


@functools.cache
def check_package(src: str | None = None) -> None:
    """Raise RcSwitchError unless `MemoryTlpRegion.read` (or `src`, for a test) is the restated one."""
    check_source(inspect.getsource(MemoryTlpRegion.read) if src is None else src, _READ_SHA256,
                 "MemoryTlpRegion.read", "tb/pcie/mmio_region.py")


def fits_one_tlp(region, addr: int, length: int) -> bool:
    """MemoryTlpRegion.read would build exactly one TLP for this read (and no zero-length one)."""
    return 0 < length <= (128 << region.cfg.max_read_request_size) - addr % 4 and (addr & 0xFFF) + length <= 0x1000


class InlineReadRegion(MemoryTlpRegion):
    """MemoryTlpRegion whose one-TLP reads run in the caller's task (module docstring)."""

    inline_reads = 0

    @classmethod
    def adopt(cls, region: MemoryTlpRegion) -> MemoryTlpRegion:
        """Make the package's region (already registered in the RC's address space) this class."""
        # check_package() is left to tests/unit/test_mmio_region.py (make unit): at run time the version pin
        # (tb/pcie/hooks.py check_version) already refuses another package
        if type(region) is not MemoryTlpRegion:
            raise TypeError(f"expected cocotbext-pcie's MemoryTlpRegion, got {type(region).__name__}")
        region.__class__ = cls
        return region

    async def read(self, addr, length, timeout=0, timeout_unit='ns', attr=TlpAttr(0), tc=TlpTc.TC0):
        if not self.func.bus_master_enable or not fits_one_tlp(self, addr, length):
            return await super().read(addr, length, timeout, timeout_unit, attr, tc)
        req = _region.Tlp()          # PasidTlp once tb/pcie/hooks.py is installed, as in the package's method
        req.fmt_type = TlpType.MEM_READ_64 if addr > 0xffffffff else TlpType.MEM_READ
        req.requester_id = self.func.pcie_id
        req.attr = attr
        req.tc = tc
        req.set_addr_be(addr, length)
        self.inline_reads += 1
        # The package's task would run after every task already scheduled (a posted write that software issued
        # just before, Bench.wr32_nowait, is such a task): yield once, so each of them hands its TLP over
        # first and the read cannot pass it (PCIe ordering; tb/pcie/direct.py does the same for configuration
        # requests).
        await NullTrigger()
        cpl_list = await self.func.perform_nonposted_operation(req, timeout, timeout_unit)
        data = bytearray()
        m = 0
        while m < length:
            if not cpl_list:
                raise Exception("Timeout")
            cpl = cpl_list.pop(0)
            if cpl.status != CplStatus.SC:
                raise Exception("Unsuccessful completion")
            assert cpl.byte_count + 3 + (cpl.lower_address & 3) >= cpl.length * 4
            assert cpl.byte_count == max(length - m, 1)
            d = cpl.get_data()
            offset = cpl.lower_address & 3
            data.extend(d[offset:offset + cpl.byte_count])
            m += len(d) - offset
        return bytes(data[:length])
