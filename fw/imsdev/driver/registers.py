"""Register helpers (drivers/dma/idxd/registers.h): FIELD_GET / FIELD_PREP over the generated
imsdev.regs constants, WQCFG / IMS control composition, and the SWERR record decoded with the generated
enum names. Nothing here types an offset or a bit position: they all come from regs/imsdev.rdl.
"""

from __future__ import annotations

from dataclasses import dataclass

from imsdev import regs


def FIELD_GET(field: str, value: int) -> int:      # noqa: N802 - the kernel's name
    """FIELD_GET(CSR_CMDSTS_ERR, v), with the field named as in imsdev_regs.h without IMSDEV_."""
    return (value & getattr(regs, field + "_MASK")) >> getattr(regs, field + "_SHIFT")


def FIELD_PREP(field: str, x: int) -> int:         # noqa: N802
    mask, shift = getattr(regs, field + "_MASK"), getattr(regs, field + "_SHIFT")
    if (x << shift) & ~mask:
        raise ValueError(f"{x:#x} does not fit in {field}")
    return x << shift


def enum_name(enum: str, value: int) -> str:
    """Generated name of an encoded value (regs.ENUMS), e.g. enum_name('SWERR', 0x0A) == 'NO_CR'."""
    for name, v in regs.ENUMS[enum].items():
        if v == value:
            return name
    return f"UNKNOWN_{value:#x}"


def cmd_word(cmd: int, operand: int = 0) -> int:
    return FIELD_PREP("CSR_CMD_CMD", cmd) | FIELD_PREP("CSR_CMD_OPERAND", operand)


def wqcfg2(dedicated: bool, pasid: int, pasid_en: bool, priv: bool, prio: int) -> int:
    return (FIELD_PREP("CSR_WQCFG_WQCFG2_MODE", int(dedicated)) | FIELD_PREP("CSR_WQCFG_WQCFG2_PRIO", prio)
            | FIELD_PREP("CSR_WQCFG_WQCFG2_PASID", pasid) | FIELD_PREP("CSR_WQCFG_WQCFG2_PASID_EN", int(pasid_en))
            | FIELD_PREP("CSR_WQCFG_WQCFG2_PRIV", int(priv)))


def ims_ctrl(masked: bool, pasid: int | None) -> int:
    """IMS_ENTRY_CTRL as the IDXD IMS chip writes it: always the whole word (mask, PASID_EN, PASID)."""
    v = FIELD_PREP("IMS_ENTRY_CTRL_MASK", int(masked))
    if pasid is not None:
        v |= FIELD_PREP("IMS_ENTRY_CTRL_PASID_EN", 1) | FIELD_PREP("IMS_ENTRY_CTRL_PASID", pasid)
    return v


@dataclass(frozen=True)
class SwErr:
    """SWERR0..3, decoded (docs/registers.md CSR_SWERR0..3)."""
    valid: bool
    overflow: bool
    wq_valid: bool
    code: int
    wq: int
    code_status: int
    priv: bool
    pasid: int
    opcode: int
    addr: int

    @classmethod
    def decode(cls, w0: int, w1: int, w2: int, w3: int) -> "SwErr":
        return cls(bool(FIELD_GET("CSR_SWERR0_VALID", w0)), bool(FIELD_GET("CSR_SWERR0_OVERFLOW", w0)),
                   bool(FIELD_GET("CSR_SWERR0_WQ_VALID", w0)), FIELD_GET("CSR_SWERR0_CODE", w0),
                   FIELD_GET("CSR_SWERR0_WQ", w0), FIELD_GET("CSR_SWERR0_CODE_STATUS", w0),
                   bool(FIELD_GET("CSR_SWERR0_PRIV", w0)), FIELD_GET("CSR_SWERR1_PASID", w1),
                   FIELD_GET("CSR_SWERR1_OPCODE", w1), w3 << 32 | w2)

    @property
    def code_name(self) -> str:
        return enum_name("SWERR", self.code)

    def __str__(self) -> str:
        where = f" wq {self.wq} pasid {self.pasid:#x}" if self.wq_valid else ""
        extra = f" status {self.code_status:#x} opcode {self.opcode:#x}" if self.code == regs.SWERR_NO_CR else ""
        return (f"SWERR {self.code_name}{where}{extra} addr {self.addr:#x}"
                + (" (+overflow)" if self.overflow else ""))
