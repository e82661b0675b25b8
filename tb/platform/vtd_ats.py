"""VT-d as ATS translation agent (docs/ats_pri.md 3.4), stage 1 of issue 9: the answer to a Translation Request.

`vtd_ats_translate(unit, rid, pasid, priv, exe, addr, nw)` walks the scalable-mode tables as a DMA would
(tb/platform/vtd_dma.py's `_Walk`) without recording a fault:
* translation enabled off: identity, R = W = 1 (no remapping: the untranslated address is the physical one);
* a first-level not-present entry, a non-canonical address, a user request to a supervisor page: Success with
  R = W = 0 (no translation; the device reports the page fault). Assumed VT-d behaviour, unverified (VT-d spec
  chapter 4 not read);
* a write-permission fault: R = 1, W = 0;
* any other fault (context/PASID structures, reserved bits): UR (unverified choice, docs/ats_pri.md 1.6).
One entry covers the first-level leaf that translated (T3): 4 KiB, or 2 MiB / 1 GiB (S = 1, the size
encoded in the address) under a large leaf; under nested translation 4 KiB (the second level may be smaller). The NW bit asks for read-only: W is then not probed.
Not modelled yet: ECAP.DT, the context entry's DTE bit, QI device-TLB invalidation descriptors (types 3/8) and
the wait descriptor; tb/ats_bench.py issues the Invalidate Requests directly in the kernel's order.
"""
from __future__ import annotations

from cocotbext.pcie.core.tlp import CplStatus

from tb.pcie.ats import PAGE_SHIFT, TranslationEntry, size_mask
from tb.platform.vtd_dma import VtdDmaFaultReason as F
from tb.platform.vtd_dma import _DmaFault, _Walk

NO_TRANSLATION = frozenset({F.SM_FL_ENTRY_NOT_PRESENT, F.SM_FL_NON_CANONICAL, F.SM_FL_USER_PRIVILEGE})


def _walk(unit, rid, pasid, priv, addr, is_write, leaf=None):
    walk = _Walk(unit, rid, pasid, bool(priv), addr, is_write)
    try:
        pa = walk.run()
    except _DmaFault as fault:
        return None, fault.reason
    if leaf is not None:    # the first-level leaf's size; nested (a second level behind it): 4 KiB
        leaf.append(walk.leaf_shift if walk.second_level is None else PAGE_SHIFT)
    return pa, None


def vtd_ats_translate(unit, rid: int, pasid, priv: bool, exe: bool, addr: int, nw: bool):
    if not unit.translation_enabled:
        return TranslationEntry(page=addr >> PAGE_SHIFT, r=True, w=True, priv=bool(priv and pasid is not None))
    leaf = []
    pa, why = _walk(unit, rid, pasid, priv, addr, False, leaf)
    if pa is None:
        if why in NO_TRANSLATION:
            return TranslationEntry()
        return CplStatus.UR
    w = False
    if not nw:
        wpa, wwhy = _walk(unit, rid, pasid, priv, addr, True)
        w = wpa is not None
        if wpa is None and wwhy != F.SM_NO_WRITE_PERMISSION:
            return CplStatus.UR
    size = (leaf[0] if leaf else PAGE_SHIFT) - PAGE_SHIFT
    return TranslationEntry(page=(pa >> PAGE_SHIFT) & ~size_mask(size), size=size, r=True, w=w,
                            priv=bool(priv and pasid is not None))


# ---- device-TLB invalidation descriptors (QI types 3 and 8) -----------------------------------------------
QI_DIOTLB_TYPE, QI_DEIOTLB_TYPE = 0x3, 0x8


def decode_devtlb(lo: int, hi: int):
    """(SID, PASID or None, base page, log2 pages) of a type 3 / type 8 descriptor, or None for other types."""
    from tb.pcie.ats import s_decode
    kind = (lo & 0xF) | ((lo >> 9) & 0x7) << 4
    if kind == QI_DEIOTLB_TYPE:
        size, page = s_decode((hi >> 11) & 1, hi >> 12)
        return (lo >> 16) & 0xFFFF, (lo >> 32) & 0xFFFFF, page, size
    if kind == QI_DIOTLB_TYPE:
        size, page = s_decode(hi & 1, hi >> 12)
        return (lo >> 32) & 0xFFFF, None, page, size
    return None


def attach_devtlb(unit, agent) -> None:
    """The unit's queued invalidation executes types 3 and 8 by sending an Invalidate Request (the TA's ITag
    allocator); everything else as before. The wait descriptor is not held for the Invalidate Completion (the
    kernel code is synchronous): tb/ats_bench.py waits for it after the submission."""
    execute = unit._execute_descriptor

    def _execute_descriptor(descriptor: int) -> bool:
        fields = decode_devtlb(descriptor & ((1 << 64) - 1), descriptor >> 64)
        if fields is None:
            return execute(descriptor)
        sid, pasid, page, size = fields
        unit.invalidations.append(("dev-iotlb", sid, pasid, page, size))
        agent.send_invalidate_request(pasid, page, size)
        return True
    unit._execute_descriptor = _execute_descriptor
