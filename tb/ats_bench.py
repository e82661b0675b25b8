"""Kernel-style ATS on the bench (docs/ats_pri.md 3.3, 3.4; stage 1 of issue 9): the root complex as
translation agent over the platform's IOMMU, `pci_enable_ats`, and unmap in the kernel's order.

`AtsHost(bench)` needs a bench started with `ats=True` and a platform with dma_translation=True:
* `enable(stu=0)` / `disable()`: ATS Control written as Linux's pci_enable_ats does (E | STU in one word);
* `unmap(proc, va, size)`: the page tables and the IOMMU's own TLB first (the SVA code's unmap), then the
  device TLB through the kernel's queue (fw/imsdev/platform/ats_inv.py): VT-d QI type 8 (type 3 without
  PASID), SMMU CMD_ATC_INV + CMD_SYNC, in that order after the TLB invalidation (SMMU §3.9.1). The models
  turn the command into an Invalidate Request (tb/platform/vtd_ats.attach_devtlb, smmu_ats.attach_atc_inv).
  Deviation: the kernel code is synchronous, so the QI wait descriptor / CMD_SYNC completes at once; the
  wait for the Invalidate Completion is `await` here, after the submission.
"""
from __future__ import annotations

from cocotbext.pcie.core.caps import PciExtCapId

from imsdev.platform.ats_inv import cmd_atc_inv, qi_dev_iotlb, qi_dev_iotlb_pasid

from tb.pcie import ats
from tb.pcie.ats_agent import AtsAgent
from tb.platform.smmu_ats import attach_atc_inv, attach_ats_checks, smmu_check_translated, smmu_ats_translate
from tb.platform.vtd_ats import attach_devtlb, vtd_ats_translate

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
            check = None
        else:
            def translate(rid, pasid, priv, exe, addr, nw):
                return smmu_ats_translate(model.dma, rid, pasid, priv, exe, addr, nw)

            def check(rid, pasid, addr, is_write):
                return smmu_check_translated(model.dma, rid, pasid, False, addr, is_write)
            attach_ats_checks(model.dma)
        self.agent = AtsAgent(bench.rc, bench.shim, translate, check)
        self.model = model
        self.x86 = plat.name == "x86"
        if self.x86:
            attach_devtlb(model.iommu, self.agent)
        else:
            attach_atc_inv(model.dma, self.agent)

    async def enable(self, stu: int = 0) -> None:
        """arm_smmu_enable_ats on ARM (STE.EATS = TRANS for the device's stream, CR0.ATSCHK), then
        pci_enable_ats(dev, ps = 12 + stu)."""
        if not self.x86:
            self.model.sva.attach_device(self.b.requester_id)
            self.model.sva.set_eats(self.b.requester_id, True)
        await self.b.dev.capability_write_word(PciExtCapId.ATS, ATS_CTRL_OFFSET, ATS_CTRL_ENABLE | stu)

    async def disable(self) -> None:
        """pci_disable_ats (the STE keeps EATS: Linux rewrites it only when the domain changes)."""
        await self.b.dev.capability_write_word(PciExtCapId.ATS, ATS_CTRL_OFFSET, 0)

    async def control(self) -> int:
        return await self.b.dev.capability_read_word(PciExtCapId.ATS, ATS_CTRL_OFFSET)

    async def invalidate(self, pasid, va: int, size: int, timeout_ns: int = 200_000) -> int:
        """Device-TLB invalidation of [va, va+size) for `pasid` (None: every PASID), waited for; its ITag."""
        page = va >> ats.PAGE_SHIFT
        npages = -(-((va & 0xFFF) + size) // 4096)
        log2 = ats.smallest_cover(page, npages)
        rid = self.b.requester_id
        before = set(self.agent.inflight)
        if self.x86:
            cmd = qi_dev_iotlb_pasid(rid, pasid, 0, va, log2) if pasid is not None else qi_dev_iotlb(rid, 0, va, log2)
            self.model.sva.qi.submit_invalidation(*cmd)
        else:
            self.model.sva._submit([cmd_atc_inv(rid, pasid, va, log2)])
        new = sorted(set(self.agent.inflight) - before)
        assert len(new) == 1, f"the device-TLB invalidation sent {len(new)} Invalidate Requests"
        await self.agent.wait_invalidations(new, timeout_ns)
        return new[0]

    async def unmap(self, proc, va: int, size: int) -> int:
        proc.unmap(va, size)
        return await self.invalidate(proc.pasid, va, size)
