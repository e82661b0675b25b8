"""SMMUv3 as ATS translation agent (docs/ats_pri.md 1.6, 3.4), stage 1 of issue 9.

`smmu_ats_translate(smmu, sid, ssid, priv, exe, addr, nw)` follows the responses of SMMUv3 §3.9.1.2 (text read,
docs/ats_pri.md 1.6):
* SMMUEN = 0, STE.Config = bypass or STE.EATS = 00b: UR and an F_BAD_ATS_TREQ event; STE.Config = abort: UR,
  no event;
* translation, access-flag or address-size fault: Success with R = W = 0, no event;
* permission fault: Success granting what is permitted (read-only page: R = 1, W = 0);
* configuration errors (C_BAD_STE, C_BAD_SUBSTREAMID, C_BAD_CD, F_CD_FETCH, F_WALK_EABT, ...): CA.
One entry covers the stage-1 leaf (T3): 4 KiB, or 2 MiB / 1 GiB with S = 1; nested (stage 2 behind it):
4 KiB. Translation failures other than F_BAD_ATS_TREQ write no event (the endpoint reports them).
`attach_ats_checks(smmu)` adds IDR0.ATS (b10) and CR0.ATSCHK (b4, acknowledged in CR0ACK);
`smmu_check_translated(smmu, sid, ssid, priv, addr, is_write)` is the check on a Translated transaction: with
ATSCHK = 1 and STE.EATS = 00b it is aborted with an F_TRANSL_FORBIDDEN event (§3.9.1, docs/ats_pri.md 1.6).
STE.EATS is STE dword 1 bits 29:28 (0 abort, 1 translate, 2 split-stage; only 0 and 1 are modelled, as
IDR0.NS1ATS = 0). CMD_ATC_INV becomes an Invalidate Request (`attach_atc_inv`); CMD_SYNC is not held for its
Invalidate Completion (tb/ats_bench.py waits for it after the submission).
"""
from __future__ import annotations

from cocotbext.pcie.core.tlp import CplStatus

from tb.pcie.ats import PAGE_SHIFT, TranslationEntry, size_mask
from tb.platform.smmu_dma import CR0, CR0_SMMUEN, IDR0, STE_CONFIG_ABORT, STRTAB_BASE, STRTAB_BASE_CFG
from tb.platform.smmu_dma import SmmuEventId as E
from tb.platform.smmu_dma import Stage2Config, _Bypass, _Event

NO_TRANSLATION = frozenset({E.F_TRANSLATION, E.F_ACCESS, E.F_ADDR_SIZE})
CR0ACK = 0x24
IDR0_ATS = 1 << 10
CR0_ATSCHK = 1 << 4
STE_EATS_SHIFT = 64 + 28        # STE dword 1 bits 29:28
EATS_ABORT, EATS_TRANS = 0, 1


def attach_ats_checks(smmu) -> None:
    """IDR0.ATS and CR0.ATSCHK on an SmmuV3 (layered like tb/platform/smmu_pri.attach_priq)."""
    state = smmu.__dict__.setdefault("ats", {"atschk": False})
    read, write = smmu._read_register, smmu._write_register

    def _read_register(offset: int) -> int:
        value = read(offset)
        if offset == IDR0:
            value |= IDR0_ATS
        elif offset in (CR0, CR0ACK) and state["atschk"]:
            value |= CR0_ATSCHK
        return value

    def _write_register(offset: int, value: int, written_mask: int) -> None:
        if offset == CR0:
            state["atschk"] = bool(value & CR0_ATSCHK)
        write(offset, value, written_mask)

    smmu._read_register, smmu._write_register = _read_register, _write_register


def ste_eats(smmu, sid: int) -> int | None:
    """STE.EATS of a valid STE whose Config is not abort, read from memory as every transaction does; None
    when SMMUEN = 0, the StreamID is beyond the table, or the STE is invalid / abort (the ordinary path
    then decides)."""
    cr0 = smmu._read_register(CR0)
    if not cr0 & CR0_SMMUEN or sid >= 1 << min(smmu._read_register(STRTAB_BASE_CFG) & 0x3F, smmu.sid_bits):
        return None
    try:
        ste = smmu._fetch((smmu._read_register(STRTAB_BASE) & ((1 << 52) - 64)) + 64 * sid, 64, E.F_STE_FETCH,
                          "STE")
    except _Event:
        return None
    if not ste & 1 or (ste >> 1) & 0b111 == STE_CONFIG_ABORT:
        return None
    return (ste >> STE_EATS_SHIFT) & 0b11


def _bad_ats_treq(smmu, sid, ssid, priv, addr, why: str):
    smmu._record(_Event(E.F_BAD_ATS_TREQ, why), sid, ssid, bool(priv), addr, False)
    return CplStatus.UR


def smmu_check_translated(smmu, sid: int, ssid, priv: bool, addr: int, is_write: bool) -> str | None:
    """None if a Translated transaction may pass; else why it was aborted (F_TRANSL_FORBIDDEN recorded)."""
    if not smmu.__dict__.get("ats", {}).get("atschk"):
        return None
    if ste_eats(smmu, sid) != EATS_ABORT:
        return None
    why = "Translated transaction with CR0.ATSCHK = 1 and STE.EATS = 00b"
    smmu._record(_Event(E.F_TRANSL_FORBIDDEN, why), sid, ssid, bool(priv), addr, bool(is_write))
    return f"F_TRANSL_FORBIDDEN: {why}"


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
    if ste_eats(smmu, sid) == EATS_ABORT:
        return _bad_ats_treq(smmu, sid, ssid, priv, addr, "STE.EATS = 00b")
    smmu.last_leaf_shift = PAGE_SHIFT
    pa, why = _access(smmu, sid, ssid, priv, addr, False)
    leaf = smmu.last_leaf_shift if pa is not None else PAGE_SHIFT
    if pa is None:
        if why == "bypass":
            return _bad_ats_treq(smmu, sid, ssid, priv, addr, "SMMUEN = 0 or STE.Config = bypass")
        if why == "abort":
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
