"""SMMUv3 stage 2: the STE's stage-2 fields and the VMSAv8-64 stage-2 walk (4 KiB granule), used by
:mod:`.smmu_dma` when the SMMU is built with ``stage2=True`` (IDR0.S2P = 1) for STE.Config 110b
(stage 2 only) and 111b (nested: stage 1 then stage 2).

Formats (Arm IHI 0070 §5.2 STE, §7.3 event records; Arm ARM D8 stage-2 descriptors; positions checked
against Linux arm-smmu-v3.h ``STRTAB_STE_0_CFG_S2_TRANS``, ``STRTAB_STE_2_*`` (VTCR subfields
``STRTAB_STE_2_VTCR_S2*``), ``STRTAB_STE_3_S2TTB_MASK``, ``EVTQ_1_S2``, ``EVTQ_3_IPA``; the stage-2
descriptor bits and the S2SL0 encoding are from the Arm ARM as recalled, not checked against a
source here):

=====================  ==============================================================================
STE word 2 (b191:128)  S2VMID[15:0]; VTCR[50:32]: S2T0SZ[5:0], S2SL0[7:6], S2IR0[9:8], S2OR0[11:10],
                       S2SH0[13:12], S2TG[15:14] (00 = 4 KiB), S2PS[18:16]; S2AA64 b51, S2ENDI b52,
                       S2AFFD b53, S2PTW b54, S2S b57, S2R b58
STE word 3 (b255:192)  S2TTB[51:4]
descriptors            bits[1:0] 11 table (levels 0-2) / page (level 3), 01 block (level 1: 1 GiB,
                       level 2: 2 MiB); S2AP[7:6] (bit 6 read, bit 7 write), AF b10, OA[47:12]
event record           S2 b103 (dw1 b39), CLASS[105:104], InputAddr[191:128], IPA[243:204]
                       (dw3 b51:12)
=====================  ==============================================================================

Model decisions: the start level comes from S2SL0 with the 4 KiB granule (0 -> level 2, 1 -> level
1, 2 -> level 0) and must cover exactly the 64 - S2T0SZ input bits without concatenated tables
(else C_BAD_STE); S2AA64 = 0, S2ENDI = 1, S2TG other than 4 KiB, S2T0SZ outside 16..39 or S2PS
beyond the model's 48-bit OAS are C_BAD_STE. Stage-2 faults are recorded only when STE.S2R = 1 (the
transaction is terminated either way), as CD.R governs stage-1 faults. AF = 0 is F_ACCESS (no HTTU,
S2AFFD ignored). Memory attributes, S2PTW and XN are not interpreted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .memory import bit_field, bit_mask

STE_CONFIG_S2 = 0b110
STE_CONFIG_NESTED = 0b111
IDR0_S2P = 1 << 0
START_LEVEL_4K = {0: 2, 1: 1, 2: 0}
PS_BITS = {0: 32, 1: 36, 2: 40, 3: 42, 4: 44, 5: 48}
S2AP_READ, S2AP_WRITE = 1 << 6, 1 << 7


class Stage2ConfigError(Exception):
    """The STE's stage-2 fields are not valid for this SMMU: C_BAD_STE."""


class Stage2Fault(Exception):
    """A stage-2 walk terminated: ``kind`` is the SmmuEventId name (F_TRANSLATION, F_ADDR_SIZE,
    F_ACCESS, F_PERMISSION, F_WALK_EABT); ``ipa`` the input address of the stage-2 lookup."""

    def __init__(self, kind: str, detail: str, ipa: int, fetch_address: int | None = None):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.ipa = ipa
        self.fetch_address = fetch_address


@dataclass(frozen=True)
class Stage2Config:
    vmid: int
    t0sz: int
    start_level: int
    oas: int
    ttb: int
    record_faults: bool

    @property
    def ias(self) -> int:
        return 64 - self.t0sz

    @classmethod
    def from_ste(cls, ste: int, model_oas: int = 48) -> "Stage2Config":
        word2, word3 = ste >> 128 & (2**64 - 1), ste >> 192 & (2**64 - 1)
        vtcr = bit_field(word2, 50, 32)
        if not bit_field(word2, 51, 51):
            raise Stage2ConfigError("S2AA64=0: AArch32 stage-2 tables not modelled")
        if bit_field(word2, 52, 52):
            raise Stage2ConfigError("S2ENDI=1: big-endian tables not supported")
        if bit_field(vtcr, 15, 14) != 0b00:
            raise Stage2ConfigError(f"S2TG={bit_field(vtcr, 15, 14):02b}b: only the 4 KiB granule")
        t0sz = bit_field(vtcr, 5, 0)
        if not 16 <= t0sz <= 39:
            raise Stage2ConfigError(f"S2T0SZ={t0sz} outside 16..39")
        sl0 = bit_field(vtcr, 7, 6)
        if sl0 not in START_LEVEL_4K:
            raise Stage2ConfigError(f"S2SL0={sl0:02b}b reserved for the 4 KiB granule")
        start = START_LEVEL_4K[sl0]
        ias = 64 - t0sz
        # Levels start..3 resolve 12 + 9 * (4 - start) bits; the top level must be needed.
        if not 12 + 9 * (3 - start) < ias <= 12 + 9 * (4 - start):
            raise Stage2ConfigError(f"S2SL0 start level {start} does not match a {ias}-bit IPA "
                                    f"(concatenated tables not modelled)")
        ps = bit_field(vtcr, 18, 16)
        if PS_BITS.get(ps, 64) > model_oas:
            raise Stage2ConfigError(f"S2PS={ps:03b}b beyond the {model_oas}-bit OAS")
        return cls(bit_field(word2, 15, 0), t0sz, start, PS_BITS[ps], word3 & bit_mask(51, 4),
                   bool(bit_field(word2, 58, 58)))


@dataclass(frozen=True)
class Stage2Result:
    address: int
    readable: bool
    writable: bool


def stage2_walk(fetch: Callable[[int], int | None], config: Stage2Config, ipa: int) -> Stage2Result:
    """Translate one IPA. ``fetch(address)`` reads a descriptor or returns None on an external abort."""
    if ipa >> config.ias:
        raise Stage2Fault("F_TRANSLATION", f"IPA {ipa:#x} beyond the {config.ias}-bit S2 input", ipa)
    table = config.ttb
    if table >> config.oas:
        raise Stage2Fault("F_ADDR_SIZE", f"S2TTB {table:#x} beyond the {config.oas}-bit PS", ipa)
    level = config.start_level
    while True:
        shift = 12 + 9 * (3 - level)
        index_bits = min(9, config.ias - shift)
        slot = (table & ~0x7) + 8 * (ipa >> shift & ((1 << index_bits) - 1))
        descriptor = fetch(slot)
        if descriptor is None:
            raise Stage2Fault("F_WALK_EABT", f"level {level} descriptor at {slot:#x}", ipa, slot)
        kind = descriptor & 0b11
        if kind in (0b00, 0b10) or (kind == 0b01 and level in (0, 3)):
            raise Stage2Fault("F_TRANSLATION", f"level {level} descriptor {descriptor:#x}", ipa)
        output = descriptor & bit_mask(47, 12)
        if descriptor & bit_mask(51, 48) or output >> config.oas:
            raise Stage2Fault("F_ADDR_SIZE", f"level {level} address {output:#x}", ipa)
        if kind == 0b11 and level < 3:
            table = output
            level += 1
            continue
        break
    if not descriptor >> 10 & 1:
        raise Stage2Fault("F_ACCESS", f"level {level} AF=0", ipa)
    size_shift = 12 + 9 * (3 - level)
    address = (output & ~((1 << size_shift) - 1)) | (ipa & ((1 << size_shift) - 1))
    return Stage2Result(address, bool(descriptor & S2AP_READ), bool(descriptor & S2AP_WRITE))


__all__ = ["IDR0_S2P", "STE_CONFIG_NESTED", "STE_CONFIG_S2", "Stage2Config", "Stage2ConfigError",
           "Stage2Fault", "Stage2Result", "stage2_walk"]
