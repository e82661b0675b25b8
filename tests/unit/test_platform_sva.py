"""The platform bundles' opt-in DMA translation (tb/platform/__init__.py, dma_translation=True): the IOMMU
models with the kernel's SVA code on them, the interrupt paths alongside, and the default left untouched."""

import pytest

from tb.platform import ArmPlatform, X86Platform, make_platform
from tb.platform.smmu_dma import SmmuEventId
from tb.platform.vtd_dma import VtdDmaFaultReason
from tb.platform.vtd_ir import VtdInterruptRemapping

RID = 0x0100
VA, PA_A, PA_B = 0x7F00_0000_0000, 0x2000_0000, 0x2100_0000
NOT_MAPPED = {"x86": VtdDmaFaultReason.SM_FL_ENTRY_NOT_PRESENT, "arm": SmmuEventId.F_TRANSLATION}
UNBOUND = {"x86": VtdDmaFaultReason.SM_PASID_ENTRY_NOT_PRESENT, "arm": SmmuEventId.C_BAD_CD}


def reason(fault):
    return getattr(fault, "reason", None) or getattr(fault, "event_id", None)


@pytest.mark.parametrize("name", ["x86", "arm"])
def test_default_platform_translates_nothing(name):
    plat = make_platform(name)
    assert plat.sva is None and not plat.dma_translation
    with pytest.raises(NotImplementedError):
        plat.translate(RID, None, False, 0x1000, False)
    if name == "x86":
        assert type(plat.iommu) is VtdInterruptRemapping
    else:
        assert plat.dma is None


@pytest.mark.parametrize("name", ["x86", "arm"])
def test_two_processes_same_va_then_unbind(name):
    plat = make_platform(name, dma_translation=True)
    plat.attach_dma_device(RID)
    assert plat.translate(RID, None, False, 0x5000, True) == 0x5000      # no PASID: untranslated
    a, b = plat.process("a"), plat.process("b")
    a.map(VA, PA_A, 0x1000)
    b.map(VA, PA_B, 0x1000, writable=False)
    ha, hb = plat.sva.bind(RID, a), plat.sva.bind(RID, b)
    assert ha.pasid != hb.pasid
    assert plat.translate(RID, ha.pasid, False, VA + 0x10, True) == PA_A + 0x10
    assert plat.translate(RID, hb.pasid, False, VA + 0x10, False) == PA_B + 0x10
    assert not plat.faults
    fault = plat.translate(RID, ha.pasid, False, VA + 0x1000, False)
    assert reason(fault) == NOT_MAPPED[name] and plat.faults == [fault]
    ha.unbind()
    fault = plat.translate(RID, ha.pasid, False, VA, False)
    assert reason(fault) == UNBOUND[name] and plat.faults[-1] == fault
    assert plat.translate(RID, hb.pasid, False, VA, False) == PA_B


def test_interrupt_paths_keep_working_with_translation_on():
    for plat in (X86Platform(dma_translation=True), ArmPlatform(dma_translation=True)):
        irq, = plat.alloc_irqs(RID, 1)
        msg = irq.msg
        assert plat.handle_write(msg.address, msg.data.to_bytes(4, "little"), RID)
        assert [d.key for d in plat.deliveries] == [plat.expected_target(irq)]
