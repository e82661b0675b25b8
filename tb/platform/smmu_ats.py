"""SMMUv3 as ATS translation agent (docs/ats_pri.md 1.6, 3.4), stage 1 of issue 9.

`smmu_ats_translate(smmu, sid, ssid, priv, exe, addr, nw)` follows the responses of SMMUv3 §3.9.1.2 (text read,
docs/ats_pri.md 1.6) without writing any event:
* SMMUEN = 0 or STE.Config = bypass: UR (F_BAD_ATS_TREQ is not written: the model has no such event yet);
  STE.Config = abort: UR;
* translation, access-flag or address-size fault: Success with R = W = 0, no event;
* permission fault: Success granting what is permitted (read-only page: R = 1, W = 0);
* configuration errors (C_BAD_STE, C_BAD_SUBSTREAMID, C_BAD_CD, F_CD_FETCH, F_WALK_EABT, ...): CA.
One entry covers the stage-1 leaf (T3): 4 KiB, or 2 MiB / 1 GiB with S = 1; nested (stage 2 behind it):
4 KiB. Not modelled yet: IDR0.ATS, CR0.ATSCHK, STE.EATS (translated requests are let
through), CMD_ATC_INV / CMD_SYNC (tb/ats_bench.py issues the Invalidate Requests directly, TLB first).
"""
from __future__ import annotations

from cocotbext.pcie.core.tlp import CplStatus

from tb.pcie.ats import PAGE_SHIFT, TranslationEntry, size_mask
from tb.platform.smmu_dma import SmmuEventId as E
from tb.platform.smmu_dma import Stage2Config, _Bypass, _Event

NO_TRANSLATION = frozenset({E.F_TRANSLATION, E.F_ACCESS, E.F_ADDR_SIZE})


def _access(smmu, sid, ssid, priv, addr, is_write):
    """(physical address, None) or (None, event id / 'bypass' / 'abort')."""
    try:
        result = smmu._translate(sid, ssid, bool(priv), addr)
        if isinstance(result, Stage2Config):
            result = smmu._stage2(result, addr, klass=0b10, is_write=is_write)
        elif isinstance(result, tuple):
            result = smmu._walk(*result, ssid, bool(priv), addr, is_write)
        return result, None
    except _Bypass:
        return None, "bypass"
    except _Event as event:
        return None, event.event_id if event.event_id is not None else "abort"


def smmu_ats_translate(smmu, sid: int, ssid, priv: bool, exe: bool, addr: int, nw: bool):
    smmu.last_leaf_shift = PAGE_SHIFT
    pa, why = _access(smmu, sid, ssid, priv, addr, False)
    leaf = smmu.last_leaf_shift if pa is not None else PAGE_SHIFT
    if pa is None:
        if why in ("bypass", "abort"):
            return CplStatus.UR
        if why in NO_TRANSLATION:
            return TranslationEntry()
        if why == E.F_PERMISSION:
            r = False
        else:
            return CplStatus.CA
    else:
        r = True
    w = False
    wpa = None
    if not nw:
        wpa, wwhy = _access(smmu, sid, ssid, priv, addr, True)
        w = wpa is not None
    if not r and not w:
        return TranslationEntry()
    if pa is None:
        leaf = smmu.last_leaf_shift
    size = leaf - PAGE_SHIFT
    page = ((pa if pa is not None else wpa) >> PAGE_SHIFT) & ~size_mask(size)
    return TranslationEntry(page=page, size=size, r=r, w=w, priv=bool(priv and ssid is not None))


# ---- CMD_ATC_INV ----------------------------------------------------------------------------------------
CMD_ATC_INV = 0x40


def decode_atc_inv(lo: int, hi: int):
    """(SID, SSID or None, base page, log2 pages) of a CMD_ATC_INV, or None for another command."""
    if lo & 0xFF != CMD_ATC_INV:
        return None
    size = hi & 0x3F
    page = 0 if size >= 52 else (hi >> 12) & ~((1 << size) - 1)
    return (lo >> 32) & 0xFFFF_FFFF, ((lo >> 12) & 0xFFFFF) if lo >> 11 & 1 else None, page, min(size, 52)


def attach_atc_inv(smmu, agent) -> None:
    """The SMMU's command queue executes CMD_ATC_INV by sending an Invalidate Request; CMD_SYNC is not held for
    its completion (the kernel code is synchronous): tb/ats_bench.py waits for it after the submission."""
    execute = smmu._execute

    def _execute(command: int) -> bool:
        fields = decode_atc_inv(command & ((1 << 64) - 1), command >> 64)
        if fields is None:
            return execute(command)
        sid, ssid, page, size = fields
        smmu.invalidations.append(("atc-inv", sid, ssid, page, size))
        agent.send_invalidate_request(ssid, page, size)
        return True
    smmu._execute = _execute
