"""Kernel-style ATS on the bench (docs/ats_pri.md 3.3, 3.4; stage 1 of issue 9): the root complex as
translation agent over the platform's IOMMU, `pci_enable_ats`, and unmap in the kernel's order.

`AtsHost(bench)` needs a bench started with `ats=True` and a platform with dma_translation=True:
* `enable(stu=0)` / `disable()`: ATS Control written as Linux's pci_enable_ats does (E | STU in one word);
* `unmap(proc, va, size)`: the page tables and the IOMMU's own TLB first (the SVA code's unmap), then the
  device TLB: one Invalidate Request for the smallest naturally aligned range covering [va, va+size) with the
  process's PASID, and the wait for its Invalidate Completion (VT-d QI type 8 + wait; SMMU CMD_ATC_INV +
  CMD_SYNC, in that order after the TLB invalidation, SMMU §3.9.1). The QI / command-queue descriptors
  themselves are not modelled yet: the invalidation is sent by the TA directly.
"""
from __future__ import annotations

from cocotbext.pcie.core.caps import PciExtCapId

from tb.pcie import ats
from tb.pcie.ats_agent import AtsAgent
from tb.platform.smmu_ats import smmu_ats_translate
from tb.platform.vtd_ats import vtd_ats_translate

ATS_CTRL_ENABLE = 0x8000        # Linux PCI_ATS_CTRL_ENABLE
ATS_CTRL_OFFSET = 6


class AtsHost:
    def __init__(self, bench):
        plat = bench.platform
        if plat is None or not plat.dma_translation:
            raise RuntimeError("ATS needs a platform with dma_translation=True")
        if bench.shim.ats_cap is None:
            raise RuntimeError("ATS needs Bench.start(..., ats=True)")
        self.b = bench
        model = plat.model
        if plat.name == "x86":
            def translate(rid, pasid, priv, exe, addr, nw):
                return vtd_ats_translate(model.iommu, rid, pasid, priv, exe, addr, nw)
        else:
            def translate(rid, pasid, priv, exe, addr, nw):
                return smmu_ats_translate(model.dma, rid, pasid, priv, exe, addr, nw)
        self.agent = AtsAgent(bench.rc, bench.shim, translate)

    async def enable(self, stu: int = 0) -> None:
        """pci_enable_ats(dev, ps = 12 + stu)."""
        await self.b.dev.capability_write_word(PciExtCapId.ATS, ATS_CTRL_OFFSET, ATS_CTRL_ENABLE | stu)

    async def disable(self) -> None:
        await self.b.dev.capability_write_word(PciExtCapId.ATS, ATS_CTRL_OFFSET, 0)

    async def control(self) -> int:
        return await self.b.dev.capability_read_word(PciExtCapId.ATS, ATS_CTRL_OFFSET)

    async def invalidate(self, pasid, va: int, size: int, timeout_ns: int = 200_000) -> int:
        """Device-TLB invalidation of [va, va+size) for `pasid` (None: every PASID), waited for; its ITag."""
        page = va >> ats.PAGE_SHIFT
        npages = -(-((va & 0xFFF) + size) // 4096)
        log2 = ats.smallest_cover(page, npages)
        itag = self.agent.send_invalidate_request(pasid, page, log2)
        await self.agent.wait_invalidations([itag], timeout_ns)
        return itag

    async def unmap(self, proc, va: int, size: int) -> int:
        proc.unmap(va, size)
        return await self.invalidate(proc.pasid, va, size)
