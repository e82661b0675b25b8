"""ATS translation answers of the platform models (tb/platform/vtd_ats.py, tb/platform/smmu_ats.py) per fault
class, on the same SVA set-up as test_platform_sva.py: mapped read/write page, read-only page, unmapped page,
NW (read-only request), unbound PASID, and that no fault or event is recorded for any of them."""

import pytest
from cocotbext.pcie.core.tlp import CplStatus

from tb.pcie.ats import TranslationEntry
from tb.platform import make_platform
from tb.platform.smmu_ats import (CR0_ATSCHK, EATS_ABORT, EATS_TRANS, IDR0_ATS, attach_ats_checks, smmu_ats_translate,
                                  smmu_check_translated, ste_eats)
from tb.platform.smmu_dma import CR0, IDR0
from tb.platform.smmu_dma import SmmuEventId as E
from tb.platform.vtd_ats import vtd_ats_translate

RID = 0x0100
VA, PA_A, PA_RO = 0x7F00_0000_0000, 0x2000_0000, 0x2100_0000
# what a Translation Request for an unbound PASID gets: VT-d UR (PASID entry not present, our choice),
# SMMU CA (C_BAD_CD is a configuration error, SMMUv3 §3.9.1.2)
UNBOUND = {"x86": CplStatus.UR, "arm": CplStatus.CA}


def setup(name):
    plat = make_platform(name, dma_translation=True)
    plat.attach_dma_device(RID)
    proc = plat.process("a")
    proc.map(VA, PA_A, 0x1000)
    proc.map(VA + 0x1000, PA_RO, 0x1000, writable=False)
    handle = plat.sva.bind(RID, proc)
    if name == "x86":
        def tr(pasid, addr, nw=False, priv=False):
            return vtd_ats_translate(plat.iommu, RID, pasid, priv, False, addr, nw)
    else:
        attach_ats_checks(plat.dma)
        plat.sva.set_eats(RID, True)        # arm_smmu_enable_ats: STE.EATS = TRANS (and CR0.ATSCHK)

        def tr(pasid, addr, nw=False, priv=False):
            return smmu_ats_translate(plat.dma, RID, pasid, priv, False, addr, nw)
    return plat, handle, tr


@pytest.mark.parametrize("name", ["x86", "arm"])
def test_ats_translate_fault_classes(name):
    plat, h, tr = setup(name)
    assert tr(h.pasid, VA) == TranslationEntry(page=PA_A >> 12, r=True, w=True)
    assert tr(h.pasid, VA, nw=True) == TranslationEntry(page=PA_A >> 12, r=True, w=False)
    assert tr(h.pasid, VA + 0x1000) == TranslationEntry(page=PA_RO >> 12, r=True, w=False)
    assert tr(h.pasid, VA + 0x2000) == TranslationEntry()                 # unmapped: R = W = 0, success
    assert tr(h.pasid + 1, VA) == UNBOUND[name]
    h.unbind()
    assert tr(h.pasid, VA) == UNBOUND[name]
    assert not plat.faults, f"ATS translation recorded faults: {plat.faults}"


@pytest.mark.parametrize("name", ["x86", "arm"])
def test_entries_pack_for_the_wire(name):
    _, h, tr = setup(name)
    e = tr(h.pasid, VA + 0x1000)
    assert TranslationEntry.from_payload(e.to_payload()) == e and e.pack() & 3 == 1


def test_smmu_eats_and_atschk():
    """SMMUv3 §3.9.1 (docs/ats_pri.md 1.6): the kernel's ATS enable sets CR0.ATSCHK (IDR0.ATS = 1) and STE.EATS =
    TRANS; with EATS = 00b a Translation Request is UR with an F_BAD_ATS_TREQ event, and a Translated
    transaction is aborted with F_TRANSL_FORBIDDEN; with ATSCHK = 0 Translated transactions are not checked."""
    plat, h, tr = setup("arm")
    smmu = plat.dma
    assert smmu._read_register(IDR0) & IDR0_ATS and smmu._read_register(CR0) & CR0_ATSCHK
    assert ste_eats(smmu, RID) == EATS_TRANS and smmu_check_translated(smmu, RID, h.pasid, False, PA_A, True) is None
    plat.sva.set_eats(RID, False)
    assert ste_eats(smmu, RID) == EATS_ABORT
    assert tr(h.pasid, VA) == CplStatus.UR
    ev, = [e for e in smmu.events if e.event_id == E.F_BAD_ATS_TREQ]
    assert (ev.stream_id, ev.substream_id, ev.address, ev.queued) == (RID, h.pasid, VA, True)
    why = smmu_check_translated(smmu, RID, h.pasid, False, PA_A + 0x40, True)
    assert why and why.startswith("F_TRANSL_FORBIDDEN")
    ev, = [e for e in smmu.events if e.event_id == E.F_TRANSL_FORBIDDEN]
    assert (ev.stream_id, ev.substream_id, ev.address, ev.is_write) == (RID, h.pasid, PA_A + 0x40, True)
    cr0 = plat.sva.regs.read_reg(0x20)
    plat.sva._enable(cr0 & ~CR0_ATSCHK)
    assert smmu_check_translated(smmu, RID, h.pasid, False, PA_A, False) is None       # ATSCHK = 0: not checked
    assert len(smmu.events) == 2
