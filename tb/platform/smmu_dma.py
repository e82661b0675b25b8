"""SMMUv3 stage-1 DMA translation: stream table, context descriptors by SubstreamID, AArch64 4 KiB walk.

The ARM platform's per-PASID translation (issue 9), next to the MSI-window model of smmu.py (which stays
as it is: it models the kernel's MSI IOVA mapping, not a walk). The kernel reaches this model only
through host memory and ``read_reg``/``write_reg``. Formats (Arm SMMUv3 architecture spec IHI 0070,
chapters 3, 5, 6 and 7; field positions checked against Linux
drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h and QEMU hw/arm/smmuv3-internal.h, see docs/iommu.md):

==================  ================================================================================
IDR0 0x00           S2P b0 (only with stage2=True), S1P b1, TTF[3:2]=10 (AArch64), COHACC b4,
                    ST_LVL[28:27]=0 (linear only),
                    no CD2L, no HTTU, no ATS/PRI
IDR1 0x04           SIDSIZE[5:0], SSIDSIZE[10:6], EVTQS[20:16], CMDQS[25:21]
IDR5 0x14           OAS[2:0]=101 (48 bits), GRAN4K b4 (no 16K/64K)
CR0 0x20/CR0ACK     SMMUEN b0, EVTQEN b2, CMDQEN b3
GBPA 0x44           ABORT b20 (used while SMMUEN=0)
STRTAB_BASE 0x80    ADDR[51:6]; STRTAB_BASE_CFG 0x88: LOG2SIZE[5:0], FMT[17:16] (00 linear)
CMDQ 0x90/98/9C     BASE (ADDR[51:5], LOG2SIZE[4:0]), PROD, CONS (CONS.ERR[30:24])
EVENTQ_BASE 0xA0    ADDR[51:5], LOG2SIZE[4:0]; EVENTQ_PROD 0x100A8 / EVENTQ_CONS 0x100AC (page 1):
                    index + wrap bit, PROD.OVFLG b31 / CONS.OVACKFLG b31
STE (64 B)          V b0, Config[3:1] (000 abort, 100 bypass, 101 S1 translate), S1Fmt[5:4],
                    S1ContextPtr[51:6], S1CDMax[63:59]; S1DSS[65:64]
CD (64 B)           T0SZ[5:0], TG0[7:6] (00 = 4 KiB), IRGN0/ORGN0/SH0, EPD0 b14, ENDI b15, T1SZ[21:16],
                    EPD1 b30, V b31, IPS[34:32], AA64 b41, HD b42, HA b43, S b44, R b45, A b46,
                    ASET b47, ASID[63:48]; TTB0[115:68] (word 1 bits 51:4); MAIR0 word 3
descriptors         bits[1:0] 11 table (L0-L2) / page (L3), 01 block (L1: 1 GiB, L2: 2 MiB);
                    AP[2:1] bits 7:6 (AP[1] EL0 access, AP[2] read-only), AF b10, OA[47:12];
                    table APTable[62:61] (61: no EL0, 62: no write)
event record (32 B) EventID[7:0], SSV b11, SubstreamID[31:12], StreamID[63:32]; PnU b97, InD b98,
                    RnW b99, S2 b103, CLASS[105:104]; InputAddr[191:128]; FetchAddr / IPA [243:195]
==================  ================================================================================

Events (Linux ARM_SMMU_EVT_*, QEMU SMMUEventType): see :class:`SmmuEventId`. Model decisions:

* No TLB or configuration cache: every transaction reads STE, CD and tables from memory. Commands
  (CFGI_STE/CD/ALL, TLBI_NH_ASID/VA, TLBI_NSNH_ALL, CMD_SYNC, ...) are executed when CMDQ_PROD is
  written and appended to ``invalidations``; an unknown opcode stops the queue with CONS.ERR =
  CERROR_ILL (1) and GERROR.CMDQ_ERR toggled.
* Faults F_TRANSLATION, F_ADDR_SIZE, F_ACCESS and F_PERMISSION are recorded only when CD.R=1 (the
  transaction is terminated either way; unrecorded ones are kept in ``suppressed_events``).
  Configuration errors (C_BAD_*), fetch aborts and F_STREAM_DISABLED are always recorded.
* Priority in the walk: translation, address size, access flag (AF=0; no HTTU), permission.
* CLASS: IN (10b) for a fault on the input address, TT (01b) for F_WALK_EABT; S2 = 0 for stage-1
  faults.
* Stage 2 (smmu_s2.py) only with ``stage2=True`` (IDR0.S2P=1): Config 110b translates the input
  address as an IPA; Config 111b (nested) translates S1ContextPtr, every stage-1 table address and
  the stage-1 output through stage 2. Stage-2 faults have S2 = 1, the IPA in dw3[51:12], and CLASS
  CD / TT / IN for a CD fetch / stage-1 table fetch / the final access.
* Without ``stage2``, Config 110b/111b are C_BAD_STE (IDR0.S2P=0), as are reserved Config values, S1Fmt other
  than linear with S1CDMax > 0 (no CD2L), and S1CDMax beyond IDR1.SSIDSIZE. CD.AA64=0, TG0 other than
  4 KiB, ENDI=1, T0SZ outside 16..39 are C_BAD_CD. An address in the TTB1 range with EPD1=0 raises
  NotImplementedError (Linux always sets EPD1); TBI is not modelled (top byte must be zero).
* A transaction without SubstreamID on a stream with S1CDMax > 0 follows S1DSS: 00 terminate
  (F_STREAM_DISABLED), 01 bypass, 10 use CD 0 (then SubstreamID 0 is C_BAD_SUBSTREAMID).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Callable

from .memory import HostMemory, MemoryAccessError, RegisterFile, bit_field, bit_mask, read_le
from .smmu_s2 import (IDR0_S2P, STE_CONFIG_NESTED, STE_CONFIG_S2, Stage2Config, Stage2ConfigError,
                      Stage2Fault, stage2_walk)

IDR0, IDR1, IDR5 = 0x00, 0x04, 0x14
CR0, CR0ACK, GBPA = 0x20, 0x24, 0x44
GERROR, GERRORN = 0x60, 0x64
STRTAB_BASE, STRTAB_BASE_CFG = 0x80, 0x88
CMDQ_BASE, CMDQ_PROD, CMDQ_CONS = 0x90, 0x98, 0x9C
EVENTQ_BASE = 0xA0
EVENTQ_PROD, EVENTQ_CONS = 0x100A8, 0x100AC

CR0_SMMUEN, CR0_EVTQEN, CR0_CMDQEN = 1 << 0, 1 << 2, 1 << 3
GBPA_ABORT = 1 << 20
GERROR_CMDQ_ERR = 1 << 0
Q_OVERFLOW = 1 << 31

STE_CONFIG_ABORT, STE_CONFIG_BYPASS, STE_CONFIG_S1 = 0b000, 0b100, 0b101
S1DSS_TERMINATE, S1DSS_BYPASS, S1DSS_SSID0 = 0b00, 0b01, 0b10

CMD_CFGI_STE, CMD_CFGI_ALL, CMD_CFGI_CD, CMD_CFGI_CD_ALL = 0x03, 0x04, 0x05, 0x06
CMD_TLBI_NH_ALL, CMD_TLBI_NH_ASID, CMD_TLBI_NH_VA = 0x10, 0x11, 0x12
CMD_TLBI_EL2_ALL, CMD_TLBI_NSNH_ALL, CMD_PREFETCH_CFG, CMD_SYNC = 0x20, 0x30, 0x01, 0x46
CERROR_ILL = 1


class SmmuEventId(IntEnum):
    F_UUT = 0x01
    C_BAD_STREAMID = 0x02
    F_STE_FETCH = 0x03
    C_BAD_STE = 0x04
    F_BAD_ATS_TREQ = 0x05        # ATS: a Translation Request the SMMU may not answer (tb/platform/smmu_ats.py)
    F_STREAM_DISABLED = 0x06
    F_TRANSL_FORBIDDEN = 0x07    # ATS: a Translated transaction with CR0.ATSCHK = 1 and STE.EATS = 00b
    C_BAD_SUBSTREAMID = 0x08
    F_CD_FETCH = 0x09
    C_BAD_CD = 0x0A
    F_WALK_EABT = 0x0B
    F_TRANSLATION = 0x10
    F_ADDR_SIZE = 0x11
    F_ACCESS = 0x12
    F_PERMISSION = 0x13


RECORDED_ONLY_WITH_CD_R = frozenset({SmmuEventId.F_TRANSLATION, SmmuEventId.F_ADDR_SIZE,
                                     SmmuEventId.F_ACCESS, SmmuEventId.F_PERMISSION})
CLASS_CD, CLASS_TT, CLASS_IN = 0b00, 0b01, 0b10
EVENT_BYTES = 32
OAS_BITS = {0: 32, 1: 36, 2: 40, 3: 42, 4: 44, 5: 48}


@dataclass(frozen=True)
class SmmuDmaEvent:
    """A terminated transaction. ``event_id`` None: terminated without an event (STE Config abort,
    GBPA.ABORT). ``queued`` False when not written to the event queue (not recorded, queue disabled
    or full)."""

    event_id: SmmuEventId | None
    stream_id: int
    substream_id: int | None
    address: int
    is_write: bool
    priv: bool
    fetch_address: int | None
    record: bytes
    time: Any
    queued: bool
    detail: str = ""

    @property
    def requester_id(self) -> int:
        return self.stream_id


class _Event(Exception):
    def __init__(self, event_id: SmmuEventId | None, detail: str = "", *,
                 fetch_address: int | None = None, klass: int = CLASS_IN, record: bool = True,
                 s2: bool = False, ipa: int | None = None):
        super().__init__(f"{event_id.name if event_id else 'abort'}: {detail}")
        self.event_id = event_id
        self.detail = detail
        self.fetch_address = fetch_address
        self.klass = klass
        self.record = record
        self.s2 = s2
        self.ipa = ipa


class _Bypass(Exception):
    pass


def encode_event(event_id: int, stream_id: int, substream_id: int | None, *, priv: bool = False,
                 is_write: bool = False, address: int = 0, fetch_address: int | None = None,
                 klass: int = CLASS_IN, with_access: bool = True, s2: bool = False,
                 ipa: int | None = None) -> bytes:
    """The 32-byte event record. The access fields (PnU, RnW, S2, CLASS, InputAddr) are filled only
    for events about a transaction's access (with_access). A stage-2 fault (s2) carries its IPA in
    dw3[51:12] (EVTQ_3_IPA) unless it is a walk abort, which carries the fetch address."""
    dw0 = event_id | (substream_id is not None) << 11 | (substream_id or 0) << 12 | stream_id << 32
    dw1 = dw2 = dw3 = 0
    if with_access:
        dw1 = int(priv) << 1 | int(not is_write) << 3 | int(s2) << 7 | klass << 8
        dw2 = address
    if fetch_address is not None:
        dw3 = fetch_address & bit_mask(51, 3)
    elif ipa is not None:
        dw3 = ipa & bit_mask(51, 12)
    return b"".join(v.to_bytes(8, "little") for v in (dw0, dw1 << 32, dw2, dw3))


class SmmuV3(RegisterFile):
    """One SMMUv3 with stage 1 only, a linear stream table, linear CD tables and an event queue."""

    REGISTER_WIDTHS = {IDR0: 4, IDR1: 4, IDR5: 4, CR0: 4, CR0ACK: 4, GBPA: 4, GERROR: 4,
                       GERRORN: 4, STRTAB_BASE: 8, STRTAB_BASE_CFG: 4, CMDQ_BASE: 8, CMDQ_PROD: 4,
                       CMDQ_CONS: 4, EVENTQ_BASE: 8, EVENTQ_PROD: 4, EVENTQ_CONS: 4}

    def __init__(self, memory: HostMemory, *, sid_bits: int = 16, ssid_bits: int = 20,
                 queue_bits: int = 8, now: Callable[[], Any] | None = None, stage2: bool = False):
        self.memory = memory
        # IDR0.S2P: Config 110b / 111b are translated (smmu_s2.py); without it they are C_BAD_STE.
        self.stage2 = stage2
        self.sid_bits = sid_bits
        self.ssid_bits = ssid_bits
        self.queue_bits = queue_bits
        self._now = now if now is not None else (lambda: None)
        self.reset()

    def reset(self) -> None:
        self._cr0 = 0
        self._gbpa = 0
        self._gerror = self._gerrorn = 0
        self._strtab_base = self._strtab_cfg = 0
        self._cmdq_base = self._cmdq_prod = self._cmdq_cons = 0
        self._evtq_base = self._evtq_prod = self._evtq_cons = 0
        self.events: list[SmmuDmaEvent] = []
        self.suppressed_events: list[SmmuDmaEvent] = []
        self.invalidations: list[tuple] = []
        self.translations = 0

    # ----------------------------------------------------------------- registers
    def _read_register(self, offset: int) -> int:
        return {
            IDR0: 1 << 1 | 0b10 << 2 | 1 << 4 | (IDR0_S2P if self.stage2 else 0),
            IDR1: self.sid_bits | self.ssid_bits << 6 | 19 << 16 | 19 << 21,
            IDR5: 0b101 | 1 << 4,
            CR0: self._cr0, CR0ACK: self._cr0, GBPA: self._gbpa,
            GERROR: self._gerror, GERRORN: self._gerrorn,
            STRTAB_BASE: self._strtab_base, STRTAB_BASE_CFG: self._strtab_cfg,
            CMDQ_BASE: self._cmdq_base, CMDQ_PROD: self._cmdq_prod, CMDQ_CONS: self._cmdq_cons,
            EVENTQ_BASE: self._evtq_base, EVENTQ_PROD: self._evtq_prod,
            EVENTQ_CONS: self._evtq_cons,
        }.get(offset, 0)

    def _write_register(self, offset: int, value: int, written_mask: int) -> None:
        if offset == CR0:
            self._cr0 = value & (CR0_SMMUEN | CR0_EVTQEN | CR0_CMDQEN)
        elif offset == GBPA:
            self._gbpa = value & GBPA_ABORT  # the Update handshake completes at once
        elif offset == GERRORN:
            self._gerrorn = value & GERROR_CMDQ_ERR
        elif offset == STRTAB_BASE:
            self._strtab_base = value & bit_mask(51, 6)
        elif offset == STRTAB_BASE_CFG:
            self._strtab_cfg = value & (bit_mask(17, 16) | bit_mask(5, 0))
        elif offset == CMDQ_BASE:
            self._cmdq_base = value & (bit_mask(51, 5) | bit_mask(4, 0))
        elif offset == CMDQ_PROD:
            self._cmdq_prod = value & ((2 << self._log2(self._cmdq_base)) - 1)
            self._run_commands()
        elif offset == CMDQ_CONS:
            self._cmdq_cons = value & 0x7FFF_FFFF
        elif offset == EVENTQ_BASE:
            self._evtq_base = value & (bit_mask(51, 5) | bit_mask(4, 0))
        elif offset == EVENTQ_PROD:
            self._evtq_prod = value & (Q_OVERFLOW | ((2 << self._log2(self._evtq_base)) - 1))
        elif offset == EVENTQ_CONS:
            self._evtq_cons = value & (Q_OVERFLOW | ((2 << self._log2(self._evtq_base)) - 1))

    def _log2(self, base: int) -> int:
        return min(bit_field(base, 4, 0), self.queue_bits)

    # ----------------------------------------------------------------- command queue
    def _run_commands(self) -> None:
        if not self._cr0 & CR0_CMDQEN or bit_field(self._cmdq_cons, 30, 24):
            return
        log2 = self._log2(self._cmdq_base)
        base = self._cmdq_base & bit_mask(51, 5)
        span = 2 << log2
        while self._cmdq_cons % span != self._cmdq_prod % span:
            slot = base + 16 * (self._cmdq_cons & ((1 << log2) - 1))
            command = read_le(self.memory, slot, 16)
            if not self._execute(command):
                self._cmdq_cons |= CERROR_ILL << 24
                # GERROR.CMDQ_ERR is active while it differs from GERRORN.CMDQ_ERR.
                self._gerror = (self._gerror & ~GERROR_CMDQ_ERR) | (~self._gerrorn & GERROR_CMDQ_ERR)
                return
            self._cmdq_cons = (self._cmdq_cons + 1) % span

    def _execute(self, command: int) -> bool:
        opcode = bit_field(command, 7, 0)
        sid, ssid = bit_field(command, 63, 32), bit_field(command, 31, 12)
        if opcode == CMD_CFGI_STE:
            self.invalidations.append(("cfgi-ste", sid, bit_field(command, 64, 64)))
        elif opcode == CMD_CFGI_CD:
            self.invalidations.append(("cfgi-cd", sid, ssid, bit_field(command, 64, 64)))
        elif opcode in (CMD_CFGI_ALL, CMD_CFGI_CD_ALL):
            self.invalidations.append(("cfgi-all" if opcode == CMD_CFGI_ALL else "cfgi-cd-all", sid))
        elif opcode == CMD_TLBI_NH_ASID:
            self.invalidations.append(("tlbi-nh-asid", bit_field(command, 63, 48)))
        elif opcode == CMD_TLBI_NH_VA:
            self.invalidations.append(("tlbi-nh-va", bit_field(command, 63, 48),
                                       command >> 64 & bit_mask(63, 12), bit_field(command, 64, 64)))
        elif opcode in (CMD_TLBI_NH_ALL, CMD_TLBI_EL2_ALL, CMD_TLBI_NSNH_ALL):
            self.invalidations.append(("tlbi-all", opcode))
        elif opcode == CMD_SYNC:
            self.invalidations.append(("sync",))
        elif opcode != CMD_PREFETCH_CFG:
            return False
        return True

    # ----------------------------------------------------------------- events
    def _queue_event(self, record: bytes) -> bool:
        if not self._cr0 & CR0_EVTQEN:
            return False
        log2 = self._log2(self._evtq_base)
        mask = (1 << log2) - 1
        prod, cons = self._evtq_prod, self._evtq_cons
        if (prod & mask) == (cons & mask) and (prod >> log2 & 1) != (cons >> log2 & 1):
            # Full: the event is lost and PROD.OVFLG is made to differ from CONS.OVACKFLG.
            self._evtq_prod = (prod & ~Q_OVERFLOW) | (~cons & Q_OVERFLOW)
            return False
        self.memory.write((self._evtq_base & bit_mask(51, 5)) + EVENT_BYTES * (prod & mask), record)
        index = ((prod & ((2 << log2) - 1)) + 1) & ((2 << log2) - 1)
        self._evtq_prod = (prod & Q_OVERFLOW) | index
        return True

    # ----------------------------------------------------------------- translation
    def translate(self, stream_id: int, substream_id: int | None, priv: bool, address: int,
                  is_write: bool) -> int | SmmuDmaEvent:
        """The physical address for one transaction, or the SmmuDmaEvent it terminated with."""
        try:
            result = self._translate(stream_id, substream_id, bool(priv), address)
            if isinstance(result, Stage2Config):
                result = self._stage2(result, address, klass=CLASS_IN, is_write=bool(is_write))
            elif isinstance(result, tuple):
                result = self._walk(*result, substream_id, bool(priv), address, bool(is_write))
        except _Bypass:
            return address
        except _Event as event:
            return self._record(event, stream_id, substream_id, bool(priv), address, bool(is_write))
        self.translations += 1
        return result

    def _record(self, event: _Event, stream_id: int, substream_id: int | None, priv: bool,
                address: int, is_write: bool) -> SmmuDmaEvent:
        if event.event_id is None:
            entry = SmmuDmaEvent(None, stream_id, substream_id, address, is_write, priv, None, b"",
                                 self._now(), False, event.detail)
            self.suppressed_events.append(entry)
            return entry
        with_access = event.event_id in RECORDED_ONLY_WITH_CD_R or event.event_id in (
            SmmuEventId.F_WALK_EABT, SmmuEventId.F_UUT)
        record = encode_event(event.event_id, stream_id, substream_id, priv=priv, is_write=is_write,
                              address=address, fetch_address=event.fetch_address,
                              klass=event.klass, with_access=with_access, s2=event.s2,
                              ipa=event.ipa)
        queued = event.record and self._queue_event(record)
        entry = SmmuDmaEvent(event.event_id, stream_id, substream_id, address, is_write, priv,
                             event.fetch_address, record, self._now(), queued, event.detail)
        (self.events if event.record else self.suppressed_events).append(entry)
        return entry

    def _fetch(self, address: int, size: int, event_id: SmmuEventId, what: str,
               klass: int = CLASS_IN) -> int:
        try:
            return read_le(self.memory, address, size)
        except MemoryAccessError as error:
            raise _Event(event_id, f"{what} at {address:#x}: {error}", fetch_address=address,
                         klass=klass) from None

    def _translate(self, sid: int, ssid: int | None, priv: bool, address: int):
        if ssid is not None and not 0 <= ssid < 1 << 20:
            raise ValueError(f"SubstreamID {ssid:#x} does not fit 20 bits")
        if not self._cr0 & CR0_SMMUEN:
            if self._gbpa & GBPA_ABORT:
                raise _Event(None, "SMMUEN=0 and GBPA.ABORT=1")
            raise _Bypass()
        if bit_field(self._strtab_cfg, 17, 16) != 0:
            raise NotImplementedError("STRTAB_BASE_CFG.FMT=2-level: only the linear stream table "
                                      "is modelled (IDR0.ST_LVL=0)")
        if sid >= 1 << min(bit_field(self._strtab_cfg, 5, 0), self.sid_bits):
            raise _Event(SmmuEventId.C_BAD_STREAMID, f"StreamID {sid:#x}")
        ste_address = (self._strtab_base & bit_mask(51, 6)) + 64 * sid
        ste = self._fetch(ste_address, 64, SmmuEventId.F_STE_FETCH, "STE")
        if not ste & 1:
            raise _Event(SmmuEventId.C_BAD_STE, "STE.V=0")
        config = bit_field(ste, 3, 1)
        if config == STE_CONFIG_ABORT:
            raise _Event(None, "STE.Config=abort")
        if config == STE_CONFIG_BYPASS:
            raise _Bypass()
        s2: Stage2Config | None = None
        if config in (STE_CONFIG_S2, STE_CONFIG_NESTED) and self.stage2:
            try:
                s2 = Stage2Config.from_ste(ste)
            except Stage2ConfigError as error:
                raise _Event(SmmuEventId.C_BAD_STE, f"STE.Config={config:03b}b: {error}") from None
            if config == STE_CONFIG_S2:
                return s2
        elif config != STE_CONFIG_S1:
            what = "stage 2 (IDR0.S2P=0)" if config & 0b110 == 0b110 else "reserved"
            raise _Event(SmmuEventId.C_BAD_STE, f"STE.Config={config:03b}b: {what}")
        cd_max = bit_field(ste, 63, 59)
        if cd_max > self.ssid_bits:
            raise _Event(SmmuEventId.C_BAD_STE, f"S1CDMax={cd_max} beyond IDR1.SSIDSIZE")
        if cd_max and bit_field(ste, 5, 4) != 0:
            raise _Event(SmmuEventId.C_BAD_STE, "S1Fmt: only linear CD tables (IDR0.CD2L=0)")
        s1dss = bit_field(ste, 65, 64)
        if ssid is not None:
            if cd_max == 0:
                raise _Event(SmmuEventId.C_BAD_SUBSTREAMID, "substreams disabled (S1CDMax=0)")
            if ssid >= 1 << cd_max:
                raise _Event(SmmuEventId.C_BAD_SUBSTREAMID, f"SubstreamID beyond 2^{cd_max}")
            if ssid == 0 and s1dss == S1DSS_SSID0:
                raise _Event(SmmuEventId.C_BAD_SUBSTREAMID, "SubstreamID 0 with S1DSS=SSID0")
            index = ssid
        elif cd_max == 0:
            index = 0
        elif s1dss == S1DSS_TERMINATE:
            raise _Event(SmmuEventId.F_STREAM_DISABLED, "no SubstreamID and S1DSS=terminate")
        elif s1dss == S1DSS_BYPASS:
            # "Bypass stage 1 as though STE.Config == 0b1x0": with stage 2 enabled (nested) the
            # address is still translated as an IPA (IHI 0070, STE.S1DSS 0b01).
            if s2 is not None:
                return s2
            raise _Bypass()
        elif s1dss == S1DSS_SSID0:
            index = 0
        else:
            raise _Event(SmmuEventId.C_BAD_STE, "S1DSS=11b reserved")
        cd_address = (ste & bit_mask(51, 6)) + 64 * index
        if s2 is not None:  # nested: S1ContextPtr is an IPA
            cd_address = self._stage2(s2, cd_address, klass=CLASS_CD)
        cd = self._fetch(cd_address, 64, SmmuEventId.F_CD_FETCH, "CD", CLASS_CD)
        return (cd, sid, s2)

    def _stage2(self, s2: Stage2Config, ipa: int, *, klass: int, is_write: bool | None = None) -> int:
        """Stage-2 translation of an IPA: the transaction's own address (``is_write`` given, CLASS
        IN) or a stage-1 structure read in nested mode (a CD: CLASS CD, a table: CLASS TT)."""
        def fetch(address: int) -> int | None:
            try:
                return read_le(self.memory, address, 8)
            except MemoryAccessError:
                return None

        try:
            result = stage2_walk(fetch, s2, ipa)
        except Stage2Fault as fault:
            event_id = SmmuEventId[fault.kind]
            record = s2.record_faults if event_id in RECORDED_ONLY_WITH_CD_R else True
            raise _Event(event_id, f"stage 2: {fault.detail}", fetch_address=fault.fetch_address,
                         klass=klass, record=record, s2=True, ipa=ipa) from None
        needs_write = bool(is_write)
        if (needs_write and not result.writable) or (not needs_write and not result.readable):
            raise _Event(SmmuEventId.F_PERMISSION,
                         f"stage 2: {'write' if needs_write else 'read'} of IPA {ipa:#x} not "
                         f"allowed by S2AP", klass=klass, record=s2.record_faults, s2=True, ipa=ipa)
        return result.address

    def _walk(self, cd: int, sid: int, s2: Stage2Config | None, ssid: int | None, priv: bool,
              address: int, is_write: bool) -> int:
        record_faults = bool(bit_field(cd, 45, 45))

        def fault(event_id: SmmuEventId, detail: str) -> _Event:
            return _Event(event_id, detail, record=record_faults)

        if not bit_field(cd, 31, 31):
            raise _Event(SmmuEventId.C_BAD_CD, "CD.V=0")
        if not bit_field(cd, 41, 41):
            raise _Event(SmmuEventId.C_BAD_CD, "CD.AA64=0: AArch32 tables not modelled")
        if bit_field(cd, 15, 15):
            raise _Event(SmmuEventId.C_BAD_CD, "CD.ENDI=1: big-endian tables not supported")
        t0sz = bit_field(cd, 5, 0)
        if not bit_field(cd, 14, 14):
            if bit_field(cd, 7, 6) != 0b00:
                raise _Event(SmmuEventId.C_BAD_CD,
                             f"CD.TG0={bit_field(cd, 7, 6):02b}b: only the 4 KiB granule (IDR5)")
            if not 16 <= t0sz <= 39:
                raise _Event(SmmuEventId.C_BAD_CD, f"CD.T0SZ={t0sz} outside 16..39")
        ias = 64 - t0sz
        oas = OAS_BITS.get(bit_field(cd, 34, 32), 48)
        if address >> ias:
            t1sz = bit_field(cd, 21, 16)
            if address >> (64 - t1sz) == (1 << t1sz) - 1 and t1sz:
                if bit_field(cd, 30, 30):
                    raise fault(SmmuEventId.F_TRANSLATION, "TTB1 range with CD.EPD1=1")
                raise NotImplementedError("CD.EPD1=0: walks of TTB1 are not modelled")
            raise fault(SmmuEventId.F_TRANSLATION, f"address beyond the {ias}-bit input range")
        if bit_field(cd, 14, 14):
            raise fault(SmmuEventId.F_TRANSLATION, "TTB0 range with CD.EPD0=1")
        table = (cd >> 64) & bit_mask(51, 4)
        if table >> oas:
            raise fault(SmmuEventId.F_ADDR_SIZE, f"TTB0 {table:#x} beyond the {oas}-bit OAS")
        level = 4 - -(-(ias - 12) // 9)
        no_el0 = read_only = False
        while True:
            shift = 12 + 9 * (3 - level)
            index_bits = min(9, ias - shift)
            slot = (table & ~0x7) + 8 * (address >> shift & ((1 << index_bits) - 1))
            if s2 is not None:  # nested: every stage-1 table address is an IPA
                slot = self._stage2(s2, slot, klass=CLASS_TT)
            descriptor = self._fetch(slot, 8, SmmuEventId.F_WALK_EABT, f"level {level} descriptor",
                                     CLASS_TT)
            kind = descriptor & 0b11
            if kind in (0b00, 0b10) or (kind == 0b01 and level in (0, 3)):
                raise fault(SmmuEventId.F_TRANSLATION, f"level {level} descriptor {descriptor:#x}")
            output = descriptor & bit_mask(47, 12)
            if descriptor & bit_mask(51, 48) or output >> oas:
                raise fault(SmmuEventId.F_ADDR_SIZE, f"level {level} address {output:#x}")
            if kind == 0b11 and level < 3:
                no_el0 |= bool(descriptor >> 61 & 1)
                read_only |= bool(descriptor >> 62 & 1)
                table = output
                level += 1
                continue
            break
        if not descriptor >> 10 & 1:
            raise fault(SmmuEventId.F_ACCESS, f"level {level} AF=0")
        el0 = bool(descriptor >> 6 & 1) and not no_el0
        read_only |= bool(descriptor >> 7 & 1)
        if not priv and not el0:
            raise fault(SmmuEventId.F_PERMISSION, "unprivileged access, AP[1]=0")
        if is_write and read_only:
            raise fault(SmmuEventId.F_PERMISSION, "write to a read-only page (AP[2]=1)")
        size_shift = 12 + 9 * (3 - level)
        output = (output & ~((1 << size_shift) - 1)) | (address & ((1 << size_shift) - 1))
        # the stage-1 leaf's size (ATS: one Translation Completion entry covers it; nested: 4 KiB)
        self.last_leaf_shift = size_shift if s2 is None else 12
        if s2 is not None:  # nested: the stage-1 output is an IPA
            output = self._stage2(s2, output, klass=CLASS_IN, is_write=is_write)
        return output


__all__ = ["SmmuDmaEvent", "SmmuEventId", "SmmuV3", "encode_event"]
