# generated from regs/imsdev.rdl by sim/tools/regen.py; do not edit
"""BAR0 register map of the IMS multi-queue device, for the bench and the driver model.

Naming (same names as fw/include/imsdev_regs.h without its IMSDEV_ prefix):
  <BLOCK>_BASE/_SIZE/_STRIDE/_COUNT  regions; _BASE is a BAR0 offset
  <BLOCK>_OFFSET                     a nested array, relative to one element of its parent
  <BLOCK>_<REG>                      register offset: BAR0 offset, or inside one array element
  <BLOCK>_<REG>_<FIELD>_SHIFT/_WIDTH/_MASK/_RESET, <BLOCK>_<REG>_RESET/_RESET_MASK
  <ENUM>_<MEMBER>                    encoded field values
REGISTERS lists every csr register (BAR0 offsets); LAYOUTS the registers of one element of each
array region (offsets inside the element). Field.reset is None where the RTL drives the value
(capabilities); Field.volatile means hardware may change the field.
"""
from typing import Dict, NamedTuple, Optional, Tuple


class Field(NamedTuple):
    name: str
    lsb: int
    width: int
    mask: int  # in-register mask
    reset: Optional[int]  # field value after reset (unshifted); None = driven by the RTL
    access: str  # software: "RO", "RW", "W1C", "W1S", "WO" (reads 0), "RC"
    hw: str  # hardware: "r", "w", "rw", "na"
    volatile: bool  # hardware may change it
    enum: Optional[str]  # key into ENUMS for encoded fields
    desc: str

    @property
    def msb(self) -> int:
        return self.lsb + self.width - 1


class Register(NamedTuple):
    name: str
    const: str  # prefix of its constants; also the offset constant unless it is an array element
    offset: int
    width: int
    access: str  # field access kinds joined by "/", e.g. "RO/W1C"
    reset: int
    reset_mask: int  # bits whose reset value is defined
    title: str
    desc: str
    fields: Tuple[Field, ...]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name}")


class Region(NamedTuple):
    name: str
    base: int  # BAR0 offset if parent is None, else offset inside one element of parent
    size: int
    stride: Optional[int]  # array regions only
    count: Optional[int]
    parent: Optional[str]
    external: bool  # implemented by a hand-written RAM block, not the generated regblock
    title: str


class Window(NamedTuple):
    name: str
    base: int
    size: int
    stride: int  # 0 = not an array
    desc: str


def field_get(value: int, f: Field) -> int:
    return (value & f.mask) >> f.lsb


def field_prep(f: Field, x: int) -> int:
    if x >> f.width:
        raise ValueError(f"{x:#x} does not fit in {f.name} ({f.width} bits)")
    return x << f.lsb


BAR0_SIZE = 0x100000
BAR0_ADDR_W = 20
CSR_BASE = 0x00000
CSR_SIZE = 0x1000
CSR_ADDR_W = 12
CSR_DEV_ID = 0x00000
CSR_DEV_ID_RESET = 0x1D5A0001
CSR_DEV_ID_RESET_MASK = 0xFFFFFFFF
CSR_DEV_ID_DEVICE_SHIFT = 0
CSR_DEV_ID_DEVICE_WIDTH = 16
CSR_DEV_ID_DEVICE_MASK = 0x0000FFFF
CSR_DEV_ID_DEVICE_RESET = 0x0001
CSR_DEV_ID_MAGIC_SHIFT = 16
CSR_DEV_ID_MAGIC_WIDTH = 16
CSR_DEV_ID_MAGIC_MASK = 0xFFFF0000
CSR_DEV_ID_MAGIC_RESET = 0x1D5A
CSR_VERSION = 0x00004
CSR_VERSION_RESET = 0x00000004
CSR_VERSION_RESET_MASK = 0xFFFFFFFF
CSR_VERSION_MINOR_SHIFT = 0
CSR_VERSION_MINOR_WIDTH = 16
CSR_VERSION_MINOR_MASK = 0x0000FFFF
CSR_VERSION_MINOR_RESET = 0x0004
CSR_VERSION_MAJOR_SHIFT = 16
CSR_VERSION_MAJOR_WIDTH = 16
CSR_VERSION_MAJOR_MASK = 0xFFFF0000
CSR_VERSION_MAJOR_RESET = 0x0000
CSR_CAP0 = 0x00010
CSR_CAP0_RESET = 0x00000000
CSR_CAP0_RESET_MASK = 0x00000000
CSR_CAP0_NUM_WQ_SHIFT = 0
CSR_CAP0_NUM_WQ_WIDTH = 8
CSR_CAP0_NUM_WQ_MASK = 0x000000FF
CSR_CAP0_WQ_DEPTH_SHIFT = 8
CSR_CAP0_WQ_DEPTH_WIDTH = 16
CSR_CAP0_WQ_DEPTH_MASK = 0x00FFFF00
CSR_CAP1 = 0x00014
CSR_CAP1_RESET = 0x00000000
CSR_CAP1_RESET_MASK = 0x00000000
CSR_CAP1_IMS_PER_WQ_SHIFT = 0
CSR_CAP1_IMS_PER_WQ_WIDTH = 16
CSR_CAP1_IMS_PER_WQ_MASK = 0x0000FFFF
CSR_CAP2 = 0x00018
CSR_CAP2_RESET = 0x00000000
CSR_CAP2_RESET_MASK = 0x00000000
CSR_CAP2_MSIX_VECTORS_SHIFT = 0
CSR_CAP2_MSIX_VECTORS_WIDTH = 12
CSR_CAP2_MSIX_VECTORS_MASK = 0x00000FFF
CSR_CAP2_DATA_BYTES_SHIFT = 16
CSR_CAP2_DATA_BYTES_WIDTH = 8
CSR_CAP2_DATA_BYTES_MASK = 0x00FF0000
CSR_CAP2_MAX_BATCH_SHIFT_SHIFT = 24
CSR_CAP2_MAX_BATCH_SHIFT_WIDTH = 4
CSR_CAP2_MAX_BATCH_SHIFT_MASK = 0x0F000000
CSR_CAP3 = 0x0001C
CSR_CAP3_RESET = 0x00000000
CSR_CAP3_RESET_MASK = 0x00000000
CSR_CAP3_BOF_SHIFT = 0
CSR_CAP3_BOF_WIDTH = 1
CSR_CAP3_BOF_MASK = 0x00000001
CSR_CAP3_ATS_SHIFT = 1
CSR_CAP3_ATS_WIDTH = 1
CSR_CAP3_ATS_MASK = 0x00000002
CSR_CAP3_PRS_SHIFT = 2
CSR_CAP3_PRS_WIDTH = 1
CSR_CAP3_PRS_MASK = 0x00000004
CSR_CAP3_PRI_CAPACITY_SHIFT = 8
CSR_CAP3_PRI_CAPACITY_WIDTH = 8
CSR_CAP3_PRI_CAPACITY_MASK = 0x0000FF00
CSR_SCRATCH = 0x00020
CSR_SCRATCH_RESET = 0x00000000
CSR_SCRATCH_RESET_MASK = 0xFFFFFFFF
CSR_SCRATCH_VALUE_SHIFT = 0
CSR_SCRATCH_VALUE_WIDTH = 32
CSR_SCRATCH_VALUE_MASK = 0xFFFFFFFF
CSR_SCRATCH_VALUE_RESET = 0x00000000
CSR_INT_CAUSE = 0x00030
CSR_INT_CAUSE_RESET = 0x00000000
CSR_INT_CAUSE_RESET_MASK = 0x00000007
CSR_INT_CAUSE_SW_TEST_SHIFT = 0
CSR_INT_CAUSE_SW_TEST_WIDTH = 1
CSR_INT_CAUSE_SW_TEST_MASK = 0x00000001
CSR_INT_CAUSE_SW_TEST_RESET = 0x0
CSR_INT_CAUSE_ERR_LOG_SHIFT = 1
CSR_INT_CAUSE_ERR_LOG_WIDTH = 1
CSR_INT_CAUSE_ERR_LOG_MASK = 0x00000002
CSR_INT_CAUSE_ERR_LOG_RESET = 0x0
CSR_INT_CAUSE_MMIO_ERR_SHIFT = 2
CSR_INT_CAUSE_MMIO_ERR_WIDTH = 1
CSR_INT_CAUSE_MMIO_ERR_MASK = 0x00000004
CSR_INT_CAUSE_MMIO_ERR_RESET = 0x0
CSR_INT_ENABLE = 0x00034
CSR_INT_ENABLE_RESET = 0x00000000
CSR_INT_ENABLE_RESET_MASK = 0x00000007
CSR_INT_ENABLE_SW_TEST_SHIFT = 0
CSR_INT_ENABLE_SW_TEST_WIDTH = 1
CSR_INT_ENABLE_SW_TEST_MASK = 0x00000001
CSR_INT_ENABLE_SW_TEST_RESET = 0x0
CSR_INT_ENABLE_ERR_LOG_SHIFT = 1
CSR_INT_ENABLE_ERR_LOG_WIDTH = 1
CSR_INT_ENABLE_ERR_LOG_MASK = 0x00000002
CSR_INT_ENABLE_ERR_LOG_RESET = 0x0
CSR_INT_ENABLE_MMIO_ERR_SHIFT = 2
CSR_INT_ENABLE_MMIO_ERR_WIDTH = 1
CSR_INT_ENABLE_MMIO_ERR_MASK = 0x00000004
CSR_INT_ENABLE_MMIO_ERR_RESET = 0x0
CSR_INT_TEST = 0x00038
CSR_INT_TEST_RESET = 0x00000000
CSR_INT_TEST_RESET_MASK = 0x00000007
CSR_INT_TEST_SW_TEST_SHIFT = 0
CSR_INT_TEST_SW_TEST_WIDTH = 1
CSR_INT_TEST_SW_TEST_MASK = 0x00000001
CSR_INT_TEST_SW_TEST_RESET = 0x0
CSR_INT_TEST_ERR_LOG_SHIFT = 1
CSR_INT_TEST_ERR_LOG_WIDTH = 1
CSR_INT_TEST_ERR_LOG_MASK = 0x00000002
CSR_INT_TEST_ERR_LOG_RESET = 0x0
CSR_INT_TEST_MMIO_ERR_SHIFT = 2
CSR_INT_TEST_MMIO_ERR_WIDTH = 1
CSR_INT_TEST_MMIO_ERR_MASK = 0x00000004
CSR_INT_TEST_MMIO_ERR_RESET = 0x0
CSR_ERR = 0x00040
CSR_ERR_RESET = 0x00000000
CSR_ERR_RESET_MASK = 0x0000FF03
CSR_ERR_VALID_SHIFT = 0
CSR_ERR_VALID_WIDTH = 1
CSR_ERR_VALID_MASK = 0x00000001
CSR_ERR_VALID_RESET = 0x0
CSR_ERR_OVERFLOW_SHIFT = 1
CSR_ERR_OVERFLOW_WIDTH = 1
CSR_ERR_OVERFLOW_MASK = 0x00000002
CSR_ERR_OVERFLOW_RESET = 0x0
CSR_ERR_CODE_SHIFT = 8
CSR_ERR_CODE_WIDTH = 8
CSR_ERR_CODE_MASK = 0x0000FF00
CSR_ERR_CODE_RESET = 0x00
CSR_ERR_ADDR = 0x00044
CSR_ERR_ADDR_RESET = 0x00000000
CSR_ERR_ADDR_RESET_MASK = 0xFFFFFFFF
CSR_ERR_ADDR_OFFSET_SHIFT = 0
CSR_ERR_ADDR_OFFSET_WIDTH = 32
CSR_ERR_ADDR_OFFSET_MASK = 0xFFFFFFFF
CSR_ERR_ADDR_OFFSET_RESET = 0x00000000
CSR_MSIX_TRIGGER = 0x00048
CSR_MSIX_TRIGGER_RESET = 0x00000000
CSR_MSIX_TRIGGER_RESET_MASK = 0x00000FFF
CSR_MSIX_TRIGGER_VECTOR_SHIFT = 0
CSR_MSIX_TRIGGER_VECTOR_WIDTH = 12
CSR_MSIX_TRIGGER_VECTOR_MASK = 0x00000FFF
CSR_MSIX_TRIGGER_VECTOR_RESET = 0x000
CSR_LINK_ERR = 0x00050
CSR_LINK_ERR_RESET = 0x00000000
CSR_LINK_ERR_RESET_MASK = 0xFFFF0001
CSR_LINK_ERR_UNEXPECTED_CPL_SHIFT = 0
CSR_LINK_ERR_UNEXPECTED_CPL_WIDTH = 1
CSR_LINK_ERR_UNEXPECTED_CPL_MASK = 0x00000001
CSR_LINK_ERR_UNEXPECTED_CPL_RESET = 0x0
CSR_LINK_ERR_UNEXPECTED_COUNT_SHIFT = 16
CSR_LINK_ERR_UNEXPECTED_COUNT_WIDTH = 16
CSR_LINK_ERR_UNEXPECTED_COUNT_MASK = 0xFFFF0000
CSR_LINK_ERR_UNEXPECTED_COUNT_RESET = 0x0000
CSR_GENSTS = 0x00100
CSR_GENSTS_RESET = 0x00000000
CSR_GENSTS_RESET_MASK = 0x00000000
CSR_GENSTS_ENABLED_SHIFT = 0
CSR_GENSTS_ENABLED_WIDTH = 1
CSR_GENSTS_ENABLED_MASK = 0x00000001
CSR_CMD = 0x00110
CSR_CMD_RESET = 0x00000000
CSR_CMD_RESET_MASK = 0x01FFFFFF
CSR_CMD_OPERAND_SHIFT = 0
CSR_CMD_OPERAND_WIDTH = 20
CSR_CMD_OPERAND_MASK = 0x000FFFFF
CSR_CMD_OPERAND_RESET = 0x00000
CSR_CMD_CMD_SHIFT = 20
CSR_CMD_CMD_WIDTH = 5
CSR_CMD_CMD_MASK = 0x01F00000
CSR_CMD_CMD_RESET = 0x00
CSR_CMDSTS = 0x00114
CSR_CMDSTS_RESET = 0x00000000
CSR_CMDSTS_RESET_MASK = 0x00000000
CSR_CMDSTS_ERR_SHIFT = 0
CSR_CMDSTS_ERR_WIDTH = 8
CSR_CMDSTS_ERR_MASK = 0x000000FF
CSR_CMDSTS_RESULT_SHIFT = 8
CSR_CMDSTS_RESULT_WIDTH = 16
CSR_CMDSTS_RESULT_MASK = 0x00FFFF00
CSR_CMDSTS_ACTIVE_SHIFT = 31
CSR_CMDSTS_ACTIVE_WIDTH = 1
CSR_CMDSTS_ACTIVE_MASK = 0x80000000
CSR_CMDCAP = 0x00118
CSR_CMDCAP_RESET = 0x00007FFE
CSR_CMDCAP_RESET_MASK = 0xFFFFFFFF
CSR_CMDCAP_CMDS_SHIFT = 0
CSR_CMDCAP_CMDS_WIDTH = 32
CSR_CMDCAP_CMDS_MASK = 0xFFFFFFFF
CSR_CMDCAP_CMDS_RESET = 0x00007FFE
CSR_INTHDL_CTL = 0x0011C
CSR_INTHDL_CTL_RESET = 0x00000000
CSR_INTHDL_CTL_RESET_MASK = 0x00000001
CSR_INTHDL_CTL_REQUIRED_SHIFT = 0
CSR_INTHDL_CTL_REQUIRED_WIDTH = 1
CSR_INTHDL_CTL_REQUIRED_MASK = 0x00000001
CSR_INTHDL_CTL_REQUIRED_RESET = 0x0
CSR_SWERR0 = 0x00200
CSR_SWERR0_RESET = 0x00000000
CSR_SWERR0_RESET_MASK = 0xFFFFFF27
CSR_SWERR0_VALID_SHIFT = 0
CSR_SWERR0_VALID_WIDTH = 1
CSR_SWERR0_VALID_MASK = 0x00000001
CSR_SWERR0_VALID_RESET = 0x0
CSR_SWERR0_OVERFLOW_SHIFT = 1
CSR_SWERR0_OVERFLOW_WIDTH = 1
CSR_SWERR0_OVERFLOW_MASK = 0x00000002
CSR_SWERR0_OVERFLOW_RESET = 0x0
CSR_SWERR0_WQ_VALID_SHIFT = 2
CSR_SWERR0_WQ_VALID_WIDTH = 1
CSR_SWERR0_WQ_VALID_MASK = 0x00000004
CSR_SWERR0_WQ_VALID_RESET = 0x0
CSR_SWERR0_FAULT_RW_SHIFT = 5
CSR_SWERR0_FAULT_RW_WIDTH = 1
CSR_SWERR0_FAULT_RW_MASK = 0x00000020
CSR_SWERR0_FAULT_RW_RESET = 0x0
CSR_SWERR0_CODE_SHIFT = 8
CSR_SWERR0_CODE_WIDTH = 8
CSR_SWERR0_CODE_MASK = 0x0000FF00
CSR_SWERR0_CODE_RESET = 0x00
CSR_SWERR0_WQ_SHIFT = 16
CSR_SWERR0_WQ_WIDTH = 8
CSR_SWERR0_WQ_MASK = 0x00FF0000
CSR_SWERR0_WQ_RESET = 0x00
CSR_SWERR0_CODE_STATUS_SHIFT = 24
CSR_SWERR0_CODE_STATUS_WIDTH = 7
CSR_SWERR0_CODE_STATUS_MASK = 0x7F000000
CSR_SWERR0_CODE_STATUS_RESET = 0x00
CSR_SWERR0_PRIV_SHIFT = 31
CSR_SWERR0_PRIV_WIDTH = 1
CSR_SWERR0_PRIV_MASK = 0x80000000
CSR_SWERR0_PRIV_RESET = 0x0
CSR_SWERR1 = 0x00204
CSR_SWERR1_RESET = 0x00000000
CSR_SWERR1_RESET_MASK = 0xFF0FFFFF
CSR_SWERR1_PASID_SHIFT = 0
CSR_SWERR1_PASID_WIDTH = 20
CSR_SWERR1_PASID_MASK = 0x000FFFFF
CSR_SWERR1_PASID_RESET = 0x00000
CSR_SWERR1_OPCODE_SHIFT = 24
CSR_SWERR1_OPCODE_WIDTH = 8
CSR_SWERR1_OPCODE_MASK = 0xFF000000
CSR_SWERR1_OPCODE_RESET = 0x00
CSR_SWERR2 = 0x00208
CSR_SWERR2_RESET = 0x00000000
CSR_SWERR2_RESET_MASK = 0xFFFFFFFF
CSR_SWERR2_ADDR_LO_SHIFT = 0
CSR_SWERR2_ADDR_LO_WIDTH = 32
CSR_SWERR2_ADDR_LO_MASK = 0xFFFFFFFF
CSR_SWERR2_ADDR_LO_RESET = 0x00000000
CSR_SWERR3 = 0x0020C
CSR_SWERR3_RESET = 0x00000000
CSR_SWERR3_RESET_MASK = 0xFFFFFFFF
CSR_SWERR3_ADDR_HI_SHIFT = 0
CSR_SWERR3_ADDR_HI_WIDTH = 32
CSR_SWERR3_ADDR_HI_MASK = 0xFFFFFFFF
CSR_SWERR3_ADDR_HI_RESET = 0x00000000
CSR_WQCFG_BASE = 0x00400
CSR_WQCFG_SIZE = 512
CSR_WQCFG_STRIDE = 32
CSR_WQCFG_COUNT = 16
CSR_WQCFG_WQCFG0 = 0x00
CSR_WQCFG_WQCFG0_RESET = 0x00000000
CSR_WQCFG_WQCFG0_RESET_MASK = 0x0000FFFF
CSR_WQCFG_WQCFG0_SIZE_SHIFT = 0
CSR_WQCFG_WQCFG0_SIZE_WIDTH = 16
CSR_WQCFG_WQCFG0_SIZE_MASK = 0x0000FFFF
CSR_WQCFG_WQCFG0_SIZE_RESET = 0x0000
CSR_WQCFG_WQCFG2 = 0x08
CSR_WQCFG_WQCFG2_RESET = 0x00000000
CSR_WQCFG_WQCFG2_RESET_MASK = 0x3FFFFFFF
CSR_WQCFG_WQCFG2_MODE_SHIFT = 0
CSR_WQCFG_WQCFG2_MODE_WIDTH = 1
CSR_WQCFG_WQCFG2_MODE_MASK = 0x00000001
CSR_WQCFG_WQCFG2_MODE_RESET = 0x0
CSR_WQCFG_WQCFG2_BOF_EN_SHIFT = 1
CSR_WQCFG_WQCFG2_BOF_EN_WIDTH = 1
CSR_WQCFG_WQCFG2_BOF_EN_MASK = 0x00000002
CSR_WQCFG_WQCFG2_BOF_EN_RESET = 0x0
CSR_WQCFG_WQCFG2_ATS_DISABLE_SHIFT = 2
CSR_WQCFG_WQCFG2_ATS_DISABLE_WIDTH = 1
CSR_WQCFG_WQCFG2_ATS_DISABLE_MASK = 0x00000004
CSR_WQCFG_WQCFG2_ATS_DISABLE_RESET = 0x0
CSR_WQCFG_WQCFG2_PRS_DISABLE_SHIFT = 3
CSR_WQCFG_WQCFG2_PRS_DISABLE_WIDTH = 1
CSR_WQCFG_WQCFG2_PRS_DISABLE_MASK = 0x00000008
CSR_WQCFG_WQCFG2_PRS_DISABLE_RESET = 0x0
CSR_WQCFG_WQCFG2_PRIO_SHIFT = 4
CSR_WQCFG_WQCFG2_PRIO_WIDTH = 4
CSR_WQCFG_WQCFG2_PRIO_MASK = 0x000000F0
CSR_WQCFG_WQCFG2_PRIO_RESET = 0x0
CSR_WQCFG_WQCFG2_PASID_SHIFT = 8
CSR_WQCFG_WQCFG2_PASID_WIDTH = 20
CSR_WQCFG_WQCFG2_PASID_MASK = 0x0FFFFF00
CSR_WQCFG_WQCFG2_PASID_RESET = 0x00000
CSR_WQCFG_WQCFG2_PASID_EN_SHIFT = 28
CSR_WQCFG_WQCFG2_PASID_EN_WIDTH = 1
CSR_WQCFG_WQCFG2_PASID_EN_MASK = 0x10000000
CSR_WQCFG_WQCFG2_PASID_EN_RESET = 0x0
CSR_WQCFG_WQCFG2_PRIV_SHIFT = 29
CSR_WQCFG_WQCFG2_PRIV_WIDTH = 1
CSR_WQCFG_WQCFG2_PRIV_MASK = 0x20000000
CSR_WQCFG_WQCFG2_PRIV_RESET = 0x0
CSR_WQCFG_WQCFG3 = 0x0C
CSR_WQCFG_WQCFG3_RESET = 0x000001F0
CSR_WQCFG_WQCFG3_RESET_MASK = 0x000001FF
CSR_WQCFG_WQCFG3_MAX_XFER_SHIFT_SHIFT = 0
CSR_WQCFG_WQCFG3_MAX_XFER_SHIFT_WIDTH = 5
CSR_WQCFG_WQCFG3_MAX_XFER_SHIFT_MASK = 0x0000001F
CSR_WQCFG_WQCFG3_MAX_XFER_SHIFT_RESET = 0x10
CSR_WQCFG_WQCFG3_MAX_BATCH_SHIFT_SHIFT = 5
CSR_WQCFG_WQCFG3_MAX_BATCH_SHIFT_WIDTH = 4
CSR_WQCFG_WQCFG3_MAX_BATCH_SHIFT_MASK = 0x000001E0
CSR_WQCFG_WQCFG3_MAX_BATCH_SHIFT_RESET = 0xF
CSR_WQCFG_WQCFG6 = 0x18
CSR_WQCFG_WQCFG6_RESET = 0x00000000
CSR_WQCFG_WQCFG6_RESET_MASK = 0x00000000
CSR_WQCFG_WQCFG6_OCCUPANCY_SHIFT = 0
CSR_WQCFG_WQCFG6_OCCUPANCY_WIDTH = 16
CSR_WQCFG_WQCFG6_OCCUPANCY_MASK = 0x0000FFFF
CSR_WQCFG_WQCFG6_STATE_SHIFT = 30
CSR_WQCFG_WQCFG6_STATE_WIDTH = 2
CSR_WQCFG_WQCFG6_STATE_MASK = 0xC0000000
MSIX_TABLE_BASE = 0x20000
MSIX_TABLE_SIZE = 0x8000
MSIX_TABLE_STRIDE = 16
MSIX_TABLE_COUNT = 2048
MSIX_TABLE_ADDR_LO = 0x0
MSIX_TABLE_ADDR_LO_RESET = 0x00000000
MSIX_TABLE_ADDR_LO_RESET_MASK = 0xFFFFFFFC
MSIX_TABLE_ADDR_LO_ADDR_SHIFT = 2
MSIX_TABLE_ADDR_LO_ADDR_WIDTH = 30
MSIX_TABLE_ADDR_LO_ADDR_MASK = 0xFFFFFFFC
MSIX_TABLE_ADDR_LO_ADDR_RESET = 0x00000000
MSIX_TABLE_ADDR_HI = 0x4
MSIX_TABLE_ADDR_HI_RESET = 0x00000000
MSIX_TABLE_ADDR_HI_RESET_MASK = 0xFFFFFFFF
MSIX_TABLE_ADDR_HI_ADDR_SHIFT = 0
MSIX_TABLE_ADDR_HI_ADDR_WIDTH = 32
MSIX_TABLE_ADDR_HI_ADDR_MASK = 0xFFFFFFFF
MSIX_TABLE_ADDR_HI_ADDR_RESET = 0x00000000
MSIX_TABLE_DATA = 0x8
MSIX_TABLE_DATA_RESET = 0x00000000
MSIX_TABLE_DATA_RESET_MASK = 0xFFFFFFFF
MSIX_TABLE_DATA_DATA_SHIFT = 0
MSIX_TABLE_DATA_DATA_WIDTH = 32
MSIX_TABLE_DATA_DATA_MASK = 0xFFFFFFFF
MSIX_TABLE_DATA_DATA_RESET = 0x00000000
MSIX_TABLE_VECTOR_CTRL = 0xC
MSIX_TABLE_VECTOR_CTRL_RESET = 0x00000001
MSIX_TABLE_VECTOR_CTRL_RESET_MASK = 0x00000001
MSIX_TABLE_VECTOR_CTRL_MASK_SHIFT = 0
MSIX_TABLE_VECTOR_CTRL_MASK_WIDTH = 1
MSIX_TABLE_VECTOR_CTRL_MASK_MASK = 0x00000001
MSIX_TABLE_VECTOR_CTRL_MASK_RESET = 0x1
MSIX_PBA_BASE = 0x28000
MSIX_PBA_SIZE = 256
MSIX_PBA_STRIDE = 8
MSIX_PBA_COUNT = 32
MSIX_PBA_RESET = 0x0000000000000000
MSIX_PBA_RESET_MASK = 0xFFFFFFFFFFFFFFFF
MSIX_PBA_PENDING_SHIFT = 0
MSIX_PBA_PENDING_WIDTH = 64
MSIX_PBA_PENDING_MASK = 0xFFFFFFFFFFFFFFFF
MSIX_PBA_PENDING_RESET = 0x0000000000000000
IMS_BASE = 0x40000
IMS_SIZE = 0x80000
IMS_STRIDE = 0x8000
IMS_COUNT = 16
IMS_ENTRY_OFFSET = 0
IMS_ENTRY_SIZE = 0x8000
IMS_ENTRY_STRIDE = 16
IMS_ENTRY_COUNT = 2048
IMS_ENTRY_ADDR_LO = 0x0
IMS_ENTRY_ADDR_LO_RESET = 0x00000000
IMS_ENTRY_ADDR_LO_RESET_MASK = 0xFFFFFFFC
IMS_ENTRY_ADDR_LO_ADDR_SHIFT = 2
IMS_ENTRY_ADDR_LO_ADDR_WIDTH = 30
IMS_ENTRY_ADDR_LO_ADDR_MASK = 0xFFFFFFFC
IMS_ENTRY_ADDR_LO_ADDR_RESET = 0x00000000
IMS_ENTRY_ADDR_HI = 0x4
IMS_ENTRY_ADDR_HI_RESET = 0x00000000
IMS_ENTRY_ADDR_HI_RESET_MASK = 0xFFFFFFFF
IMS_ENTRY_ADDR_HI_ADDR_SHIFT = 0
IMS_ENTRY_ADDR_HI_ADDR_WIDTH = 32
IMS_ENTRY_ADDR_HI_ADDR_MASK = 0xFFFFFFFF
IMS_ENTRY_ADDR_HI_ADDR_RESET = 0x00000000
IMS_ENTRY_DATA = 0x8
IMS_ENTRY_DATA_RESET = 0x00000000
IMS_ENTRY_DATA_RESET_MASK = 0xFFFFFFFF
IMS_ENTRY_DATA_DATA_SHIFT = 0
IMS_ENTRY_DATA_DATA_WIDTH = 32
IMS_ENTRY_DATA_DATA_MASK = 0xFFFFFFFF
IMS_ENTRY_DATA_DATA_RESET = 0x00000000
IMS_ENTRY_CTRL = 0xC
IMS_ENTRY_CTRL_RESET = 0x00000001
IMS_ENTRY_CTRL_RESET_MASK = 0xFFFFF00B
IMS_ENTRY_CTRL_MASK_SHIFT = 0
IMS_ENTRY_CTRL_MASK_WIDTH = 1
IMS_ENTRY_CTRL_MASK_MASK = 0x00000001
IMS_ENTRY_CTRL_MASK_RESET = 0x1
IMS_ENTRY_CTRL_PENDING_SHIFT = 1
IMS_ENTRY_CTRL_PENDING_WIDTH = 1
IMS_ENTRY_CTRL_PENDING_MASK = 0x00000002
IMS_ENTRY_CTRL_PENDING_RESET = 0x0
IMS_ENTRY_CTRL_PASID_EN_SHIFT = 3
IMS_ENTRY_CTRL_PASID_EN_WIDTH = 1
IMS_ENTRY_CTRL_PASID_EN_MASK = 0x00000008
IMS_ENTRY_CTRL_PASID_EN_RESET = 0x0
IMS_ENTRY_CTRL_PASID_SHIFT = 12
IMS_ENTRY_CTRL_PASID_WIDTH = 20
IMS_ENTRY_CTRL_PASID_MASK = 0xFFFFF000
IMS_ENTRY_CTRL_PASID_RESET = 0x00000
MMIO_ERR_NONE = 0x00
MMIO_ERR_WR_TOO_BIG = 0x01
MMIO_ERR_RD_TOO_BIG = 0x02
MMIO_ERR_UNALIGNED = 0x03
MMIO_ERR_PARTIAL = 0x04
MMIO_ERR_UNSUPPORTED = 0x05
MMIO_ERR_RO_WRITE = 0x06
MMIO_ERR_POISONED = 0x07
MMIO_ERR_MSIX_UNMASKED_WRITE = 0x08
CMD_ENABLE_DEVICE = 0x01
CMD_DISABLE_DEVICE = 0x02
CMD_DRAIN_ALL = 0x03
CMD_ABORT_ALL = 0x04
CMD_RESET_DEVICE = 0x05
CMD_ENABLE_WQ = 0x06
CMD_DISABLE_WQ = 0x07
CMD_DRAIN_WQ = 0x08
CMD_ABORT_WQ = 0x09
CMD_RESET_WQ = 0x0A
CMD_DRAIN_PASID = 0x0B
CMD_REQUEST_INT_HANDLE = 0x0D
CMD_RELEASE_INT_HANDLE = 0x0E
CMD_ABORT_PASID = 0x0C
CMD_ERR_OK = 0x00
CMD_ERR_INVAL_CMD = 0x01
CMD_ERR_DEV_ENABLED = 0x11
CMD_ERR_DEV_NOT_ENABLED = 0x12
CMD_ERR_WQ_INVAL = 0x20
CMD_ERR_WQ_ENABLED = 0x21
CMD_ERR_WQ_NOT_ENABLED = 0x22
CMD_ERR_WQ_SIZE = 0x23
CMD_ERR_WQ_MODE = 0x24
CMD_ERR_WQ_BOF_EN = 0x25
CMD_ERR_WQ_PASID_EN = 0x26
CMD_ERR_INVAL_INT_IDX = 0x41
CMD_ERR_INVAL_INT_IDX_RELEASE = 0x43
SWERR_NONE = 0x00
SWERR_PORTAL_SIZE = 0x01
SWERR_PORTAL_NO_PASID = 0x02
SWERR_PORTAL_PASID_OFF = 0x03
SWERR_PORTAL_PRIV = 0x04
SWERR_PORTAL_MODE = 0x05
SWERR_DWQ_FULL = 0x06
SWERR_DWQ_DISABLED = 0x07
SWERR_PORTAL_READ = 0x08
SWERR_PORTAL_NO_WQ = 0x09
SWERR_NO_CR = 0x0A
SWERR_CR_XLAT = 0x0B
SWERR_IMS_PASID = 0x10
SWERR_IMS_UNMASKED_WRITE = 0x11


REGISTERS: Tuple[Register, ...] = (
    Register(
        name='DEV_ID', const='CSR_DEV_ID', offset=0x0, width=32,
        access='RO', reset=0x1D5A0001, reset_mask=0xFFFFFFFF,
        title='Device identification',
        desc='Constant. Lets software and the bench check that BAR0 really is this device before touching anything else. It is not the PCI vendor/device ID (config space has those).',
        fields=(
            Field('DEVICE', 0, 16, 0xFFFF, 0x1, 'RO', 'na', False, None,
                  'Device flavour: 1 = IMS-capable multi-queue device.'),
            Field('MAGIC', 16, 16, 0xFFFF0000, 0x1D5A, 'RO', 'na', False, None,
                  "Fixed magic 0x1D5A (reads like 'IDSA': IMS, DSA-like)."),
        ),
    ),
    Register(
        name='VERSION', const='CSR_VERSION', offset=0x4, width=32,
        access='RO', reset=0x4, reset_mask=0xFFFFFFFF,
        title='Register map version',
        desc='MAJOR changes when a register moves or changes meaning; MINOR when registers or fields are added. A driver accepts any MINOR of the MAJOR it knows.',
        fields=(
            Field('MINOR', 0, 16, 0xFFFF, 0x4, 'RO', 'na', False, None,
                  'Minor version.'),
            Field('MAJOR', 16, 16, 0xFFFF0000, 0x0, 'RO', 'na', False, None,
                  'Major version.'),
        ),
    ),
    Register(
        name='CAP0', const='CSR_CAP0', offset=0x10, width=32,
        access='RO', reset=0x0, reset_mask=0x0,
        title='Capabilities 0: work queues',
        desc='Values come from the RTL parameters of this build.',
        fields=(
            Field('NUM_WQ', 0, 8, 0xFF, None, 'RO', 'w', True, None,
                  'Number of work queues (1..16: one WQCFG entry and one IMS window each).'),
            Field('WQ_DEPTH', 8, 16, 0xFFFF00, None, 'RO', 'w', True, None,
                  'Descriptor slots per work queue.'),
        ),
    ),
    Register(
        name='CAP1', const='CSR_CAP1', offset=0x14, width=32,
        access='RO', reset=0x0, reset_mask=0x0,
        title='Capabilities 1: interrupt message store',
        desc='Values come from the RTL parameters of this build.',
        fields=(
            Field('IMS_PER_WQ', 0, 16, 0xFFFF, None, 'RO', 'w', True, None,
                  "IMS entries implemented in each work queue's IMS window (at most 2048). Entries past this read 0 and ignore writes."),
        ),
    ),
    Register(
        name='CAP2', const='CSR_CAP2', offset=0x18, width=32,
        access='RO', reset=0x0, reset_mask=0x0,
        title='Capabilities 2: MSI-X and data path',
        desc='Values come from the RTL parameters of this build.',
        fields=(
            Field('MSIX_VECTORS', 0, 12, 0xFFF, None, 'RO', 'w', True, None,
                  "MSI-X vectors implemented (1..2048); the MSI-X capability's Table Size is this minus 1."),
            Field('DATA_BYTES', 16, 8, 0xFF0000, None, 'RO', 'w', True, None,
                  'TLP stream data path width in bytes (DATA_W/8).'),
            Field('MAX_BATCH_SHIFT', 24, 4, 0xF000000, None, 'RO', 'w', True, None,
                  "Largest batch the device runs: 2^MAX_BATCH_SHIFT descriptors (DSA's GENCAP max batch shift). A batch descriptor whose count is above its WQ's limit (this, or WQCFG3.MAX_BATCH_SHIFT if smaller) completes with DSA_COMP_DESC_CNT_ERANGE (0x14)."),
        ),
    ),
    Register(
        name='CAP3', const='CSR_CAP3', offset=0x1C, width=32,
        access='RO', reset=0x0, reset_mask=0x0,
        title='Capabilities 3: address translation',
        desc='Values come from the RTL parameters of this build (docs/ats_pri.md 2.1).',
        fields=(
            Field('BOF', 0, 1, 0x1, None, 'RO', 'w', True, None,
                  "1 = Block-on-Fault (idxd's GENCAP.block_on_fault): a descriptor with flag BOF on a WQ with WQCFG2.BOF_EN = 1 and PRI enabled waits for a Page Request Group Response when a translation is denied, instead of completing with a page fault (docs/ats_pri.md 2.6). Same as PRS in this device."),
            Field('ATS', 1, 1, 0x2, None, 'RO', 'w', True, None,
                  "1 = the device has an Address Translation Cache (RTL parameter ATS_ENTRIES > 0): with the ATS capability's Enable set it translates PASID-tagged DMA through ATS (Translation Requests, translated requests with AT = 10b) and answers Invalidate Requests. 0 = no ATS logic: every DMA is untranslated."),
            Field('PRS', 2, 1, 0x4, None, 'RO', 'w', True, None,
                  '1 = the device issues Page Requests (PCIe PRI; the Page Request Extended Capability is present in configuration space when the link enables it). Set when ATS is (RTL parameter ATS_ENTRIES > 0).'),
            Field('PRI_CAPACITY', 8, 8, 0xFF00, None, 'RO', 'w', True, None,
                  'Outstanding Page Request Capacity of the PRI capability (one per DMA side: 2); 0 in builds without ATS.'),
        ),
    ),
    Register(
        name='SCRATCH', const='CSR_SCRATCH', offset=0x20, width=32,
        access='RW', reset=0x0, reset_mask=0xFFFFFFFF,
        title='Scratch',
        desc='Free for software; the bench uses it to check MMIO read/write paths.',
        fields=(
            Field('VALUE', 0, 32, 0xFFFFFFFF, 0x0, 'RW', 'na', False, None,
                  'Any value; no effect on the device.'),
        ),
    ),
    Register(
        name='INT_CAUSE', const='CSR_INT_CAUSE', offset=0x30, width=32,
        access='W1C', reset=0x0, reset_mask=0x7,
        title='Interrupt cause',
        desc='Write 1 to clear. When (INT_CAUSE & INT_ENABLE) goes from 0 to non-zero the device sends MSI-X vector 0 (or pends it while masked). The request waits until the MSI-X engine takes it, so an edge is never lost, and it goes before any completion interrupt or MSIX_TRIGGER request waiting at the same time.',
        fields=(
            Field('SW_TEST', 0, 1, 0x1, 0x0, 'W1C', 'r', True, None,
                  'Set by writing 1 to INT_TEST.SW_TEST.'),
            Field('ERR_LOG', 1, 1, 0x2, 0x0, 'W1C', 'r', True, None,
                  'The work-queue software error log got an entry.'),
            Field('MMIO_ERR', 2, 1, 0x4, 0x0, 'W1C', 'r', True, None,
                  'ERR recorded a bad MMIO access (ERR.VALID or ERR.OVERFLOW was set).'),
        ),
    ),
    Register(
        name='INT_ENABLE', const='CSR_INT_ENABLE', offset=0x34, width=32,
        access='RW', reset=0x0, reset_mask=0x7,
        title='Interrupt enable',
        desc='A cause bit raises MSI-X vector 0 only while its enable bit is 1.',
        fields=(
            Field('SW_TEST', 0, 1, 0x1, 0x0, 'RW', 'r', False, None,
                  'Enable for INT_CAUSE.SW_TEST.'),
            Field('ERR_LOG', 1, 1, 0x2, 0x0, 'RW', 'r', False, None,
                  'Enable for INT_CAUSE.ERR_LOG.'),
            Field('MMIO_ERR', 2, 1, 0x4, 0x0, 'RW', 'r', False, None,
                  'Enable for INT_CAUSE.MMIO_ERR.'),
        ),
    ),
    Register(
        name='INT_TEST', const='CSR_INT_TEST', offset=0x38, width=32,
        access='WO', reset=0x0, reset_mask=0x7,
        title='Interrupt test',
        desc='Write 1 to a bit to set the same bit of INT_CAUSE (as if the event had happened). Reads 0.',
        fields=(
            Field('SW_TEST', 0, 1, 0x1, 0x0, 'WO', 'r', True, None,
                  'Write 1 to set INT_CAUSE.SW_TEST.'),
            Field('ERR_LOG', 1, 1, 0x2, 0x0, 'WO', 'r', True, None,
                  'Write 1 to set INT_CAUSE.ERR_LOG (tests the interrupt path without an error-log entry).'),
            Field('MMIO_ERR', 2, 1, 0x4, 0x0, 'WO', 'r', True, None,
                  'Write 1 to set INT_CAUSE.MMIO_ERR (ERR is not changed).'),
        ),
    ),
    Register(
        name='ERR', const='CSR_ERR', offset=0x40, width=32,
        access='RO/W1C', reset=0x0, reset_mask=0xFF03,
        title='MMIO error status',
        desc='Records the first bad MMIO access to BAR0 since VALID was last cleared: hardware loads CODE and ERR_ADDR and sets VALID only while VALID=0; a bad access while VALID=1 sets OVERFLOW instead and changes nothing else. Portal (BAR2) errors go to the work-queue software error log, not here.',
        fields=(
            Field('VALID', 0, 1, 0x1, 0x0, 'W1C', 'r', True, None,
                  'CODE and ERR_ADDR hold a recorded error. Write 1 to clear (also re-arms capture).'),
            Field('OVERFLOW', 1, 1, 0x2, 0x0, 'W1C', 'r', True, None,
                  'Another bad access happened while VALID was 1. Write 1 to clear.'),
            Field('CODE', 8, 8, 0xFF00, 0x0, 'RO', 'w', True, 'MMIO_ERR',
                  'What was wrong with the recorded access.'),
        ),
    ),
    Register(
        name='ERR_ADDR', const='CSR_ERR_ADDR', offset=0x44, width=32,
        access='RO', reset=0x0, reset_mask=0xFFFFFFFF,
        title='MMIO error address',
        desc="BAR0 byte offset of the access recorded in ERR: its first enabled byte. For a request refused whole (size, alignment, poison, type) the request's first byte, i.e. its address with First DW BE applied; for one DWORD of a QWORD dropped on its own (PARTIAL, RO_WRITE) that DWORD's first enabled byte.",
        fields=(
            Field('OFFSET', 0, 32, 0xFFFFFFFF, 0x0, 'RO', 'w', True, None,
                  'BAR0 byte offset.'),
        ),
    ),
    Register(
        name='MSIX_TRIGGER', const='CSR_MSIX_TRIGGER', offset=0x48, width=32,
        access='WO', reset=0x0, reset_mask=0xFFF,
        title='MSI-X self-test trigger',
        desc="Writing VECTOR requests that MSI-X vector, exactly as a device event would (it is sent, or pends while masked). For a driver's interrupt self-test, like the interrupt-cause-set registers of NICs. A vector number >= CAP2.MSIX_VECTORS is ignored and recorded in ERR with CODE=UNSUPPORTED. Requests wait in order behind vector 0 and completion interrupts waiting at the same time; when four are waiting, the write is held (not dropped) until one is taken. Reads 0.",
        fields=(
            Field('VECTOR', 0, 12, 0xFFF, 0x0, 'WO', 'r', False, None,
                  'MSI-X vector to request.'),
        ),
    ),
    Register(
        name='LINK_ERR', const='CSR_LINK_ERR', offset=0x50, width=32,
        access='W1C', reset=0x0, reset_mask=0xFFFF0001,
        title='Link error log',
        desc="Completions received for the DMA engine that match no read it has outstanding (PCIe's Unexpected Completion): an unknown or finished tag (a late, duplicate or unsolicited completion, or one arriving after the completion timeout), another Requester ID, a Byte Count, Lower Address or Length that does not fit the bytes still due, or a successful completion without data. Each is dropped whole (no data written, the read it names is unchanged) and counted here. A read whose right completion never comes ends with the completion timeout (record status 0x20, DSA_COMP_HW_ERR1). The device has no AER capability, so nothing is logged in configuration space.",
        fields=(
            Field('UNEXPECTED_CPL', 0, 1, 0x1, 0x0, 'W1C', 'r', True, None,
                  'An unexpected completion was dropped since this bit was last cleared. W1C.'),
            Field('UNEXPECTED_COUNT', 16, 16, 0xFFFF0000, 0x0, 'W1C', 'rw', True, None,
                  'Unexpected completions dropped, saturating at 0xFFFF. Write 1s to clear (0xFFFF clears it).'),
        ),
    ),
    Register(
        name='GENSTS', const='CSR_GENSTS', offset=0x100, width=32,
        access='RO', reset=0x0, reset_mask=0x0,
        title='General status',
        desc='',
        fields=(
            Field('ENABLED', 0, 1, 0x1, None, 'RO', 'w', True, None,
                  '1 = device enabled.'),
        ),
    ),
    Register(
        name='CMD', const='CSR_CMD', offset=0x110, width=32,
        access='WO', reset=0x0, reset_mask=0x1FFFFFF,
        title='Command',
        desc='Writing starts a command unless CMDSTS.ACTIVE is 1 (then the write is ignored). Commands: imsdev_cmd_e.',
        fields=(
            Field('OPERAND', 0, 20, 0xFFFFF, 0x0, 'WO', 'r', False, None,
                  'Command operand: a WQ number for the WQ commands, a PASID for DRAIN_PASID / ABORT_PASID.'),
            Field('CMD', 20, 5, 0x1F00000, 0x0, 'WO', 'r', False, 'CMD',
                  'Command code.'),
        ),
    ),
    Register(
        name='CMDSTS', const='CSR_CMDSTS', offset=0x114, width=32,
        access='RO', reset=0x0, reset_mask=0x0,
        title='Command status',
        desc='Result of the last command. ACTIVE is 1 from the CMD write until the command finished.',
        fields=(
            Field('ERR', 0, 8, 0xFF, None, 'RO', 'w', True, 'CMD_ERR',
                  '0 = success, else the error.'),
            Field('RESULT', 8, 16, 0xFFFF00, None, 'RO', 'w', True, None,
                  'Command result (ABORT_*: number of descriptors discarded).'),
            Field('ACTIVE', 31, 1, 0x80000000, None, 'RO', 'w', True, None,
                  'A command is running.'),
        ),
    ),
    Register(
        name='CMDCAP', const='CSR_CMDCAP', offset=0x118, width=32,
        access='RO', reset=0x7FFE, reset_mask=0xFFFFFFFF,
        title='Command capability',
        desc="Bit n = 1: command code n is implemented (DSA's CMDCAP). Drivers request interrupt handles when bit 13 (REQUEST_INT_HANDLE) is set, as Linux idxd does.",
        fields=(
            Field('CMDS', 0, 32, 0xFFFFFFFF, 0x7FFE, 'RO', 'na', False, None,
                  'Commands 1..14.'),
        ),
    ),
    Register(
        name='INTHDL_CTL', const='CSR_INTHDL_CTL', offset=0x11C, width=32,
        access='RW', reset=0x0, reset_mask=0x1,
        title='Interrupt handle control',
        desc="Whether completion interrupts need handles granted by REQUEST_INT_HANDLE. Reset (power-on, FLR) 0: a handle is then the entry's encoding and needs no request (a host driver that predates handles keeps working). A driver that requests handles sets REQUIRED; a VMM that hands handles to guests depends on it.",
        fields=(
            Field('REQUIRED', 0, 1, 0x1, 0x0, 'RW', 'r', False, None,
                  '1 = a descriptor with RCI whose handle is not granted (never requested, released, or revoked by RESET_DEVICE / FLR) completes with DSA_COMP_INT_HANDLE_INVAL (0x19) and sends no interrupt.'),
        ),
    ),
    Register(
        name='SWERR0', const='CSR_SWERR0', offset=0x200, width=32,
        access='RO/W1C', reset=0x0, reset_mask=0xFFFFFF27,
        title='Software error 0',
        desc='The first error since VALID was cleared; further errors set OVERFLOW. Raises INT_CAUSE.ERR_LOG.',
        fields=(
            Field('VALID', 0, 1, 0x1, 0x0, 'W1C', 'r', True, None,
                  'A record is held. W1C.'),
            Field('OVERFLOW', 1, 1, 0x2, 0x0, 'W1C', 'r', True, None,
                  'Another error came while VALID. W1C.'),
            Field('WQ_VALID', 2, 1, 0x4, 0x0, 'RO', 'w', True, None,
                  'WQ and PASID fields are meaningful.'),
            Field('FAULT_RW', 5, 1, 0x20, 0x0, 'RO', 'w', True, None,
                  "The fault was on a write: always for CR_XLAT (the record write); for NO_CR the write bit (DSA_COMP_STATUS_WRITE, bit 7) of the status it would have reported (idxd's fault_rw position)."),
            Field('CODE', 8, 8, 0xFF00, 0x0, 'RO', 'w', True, 'SWERR',
                  'What went wrong.'),
            Field('WQ', 16, 8, 0xFF0000, 0x0, 'RO', 'w', True, None,
                  'Work queue.'),
            Field('CODE_STATUS', 24, 7, 0x7F000000, 0x0, 'RO', 'w', True, None,
                  'Completion status the descriptor would have reported (CODE = NO_CR or CR_XLAT; bits 6:0, bit 7 is FAULT_RW).'),
            Field('PRIV', 31, 1, 0x80000000, 0x0, 'RO', 'w', True, None,
                  'Privileged request.'),
        ),
    ),
    Register(
        name='SWERR1', const='CSR_SWERR1', offset=0x204, width=32,
        access='RO', reset=0x0, reset_mask=0xFF0FFFFF,
        title='Software error 1',
        desc='',
        fields=(
            Field('PASID', 0, 20, 0xFFFFF, 0x0, 'RO', 'w', True, None,
                  'PASID of the request or descriptor.'),
            Field('OPCODE', 24, 8, 0xFF000000, 0x0, 'RO', 'w', True, None,
                  'Descriptor opcode (descriptor errors).'),
        ),
    ),
    Register(
        name='SWERR2', const='CSR_SWERR2', offset=0x208, width=32,
        access='RO', reset=0x0, reset_mask=0xFFFFFFFF,
        title='Software error 2',
        desc='Portal errors: byte offset in BAR2 of the write. Descriptor errors: completion record address bits [31:0]. IMS errors: IMS entry index.',
        fields=(
            Field('ADDR_LO', 0, 32, 0xFFFFFFFF, 0x0, 'RO', 'w', True, None,
                  ''),
        ),
    ),
    Register(
        name='SWERR3', const='CSR_SWERR3', offset=0x20C, width=32,
        access='RO', reset=0x0, reset_mask=0xFFFFFFFF,
        title='Software error 3',
        desc='',
        fields=(
            Field('ADDR_HI', 0, 32, 0xFFFFFFFF, 0x0, 'RO', 'w', True, None,
                  'Address bits [63:32].'),
        ),
    ),
)
REGISTERS_BY_NAME: Dict[str, Register] = {r.name: r for r in REGISTERS}

LAYOUTS: Dict[str, Tuple[Register, ...]] = {
    'CSR_WQCFG': (
        Register(
            name='WQCFG0', const='CSR_WQCFG_WQCFG0', offset=0x0, width=32,
            access='RW', reset=0x0, reset_mask=0xFFFF,
            title='WQCFG0',
            desc='',
            fields=(
                Field('SIZE', 0, 16, 0xFFFF, 0x0, 'RW', 'r', False, None,
                      'Descriptor slots this WQ may use (1..CAP0.WQ_DEPTH).'),
            ),
        ),
        Register(
            name='WQCFG2', const='CSR_WQCFG_WQCFG2', offset=0x8, width=32,
            access='RW', reset=0x0, reset_mask=0x3FFFFFFF,
            title='WQCFG2',
            desc='',
            fields=(
                Field('MODE', 0, 1, 0x1, 0x0, 'RW', 'r', False, None,
                      '1 = dedicated (MOVDIR64B, PASID from this register); 0 = shared (ENQCMD, PASID from the request).'),
                Field('BOF_EN', 1, 1, 0x2, 0x0, 'RW', 'r', False, None,
                      "1 = Block-on-Fault allowed on this WQ (idxd's WQCFG bof, same bit): a descriptor with flag BOF whose translation is denied sends a Page Request and waits for its response (docs/ats_pri.md 2.6). ENABLE_WQ with BOF_EN = 1 fails with WQ_BOF_EN (0x25) when CAP3.BOF = 0. A descriptor BOF flag on a WQ with BOF_EN = 0 is accepted and behaves as without BOF."),
                Field('ATS_DISABLE', 2, 1, 0x4, 0x0, 'RW', 'r', False, None,
                      "1 = this WQ's DMA is never translated through ATS (AT = 00b) even when ATS is enabled (idxd's wq_ats_disable, same bit). No effect in builds without ATS (CAP3.ATS = 0)."),
                Field('PRS_DISABLE', 3, 1, 0x8, 0x0, 'RW', 'r', False, None,
                      "1 = this WQ never sends Page Requests (idxd's wq_prs_disable, same bit): BOF descriptors behave as without BOF. No effect in builds without ATS."),
                Field('PRIO', 4, 4, 0xF0, 0x0, 'RW', 'r', False, None,
                      'Arbitration priority: higher wins; equal priorities take turns.'),
                Field('PASID', 8, 20, 0xFFFFF00, 0x0, 'RW', 'r', False, None,
                      'PASID of a dedicated WQ.'),
                Field('PASID_EN', 28, 1, 0x10000000, 0x0, 'RW', 'r', False, None,
                      'Dedicated WQ: tag DMA with PASID. Shared WQ: must be 1.'),
                Field('PRIV', 29, 1, 0x20000000, 0x0, 'RW', 'r', False, None,
                      'Privileged WQ: dedicated: its DMA is privileged; shared: privileged (PMR) submissions allowed.'),
            ),
        ),
        Register(
            name='WQCFG3', const='CSR_WQCFG_WQCFG3', offset=0xC, width=32,
            access='RW', reset=0x1F0, reset_mask=0x1FF,
            title='WQCFG3',
            desc='',
            fields=(
                Field('MAX_XFER_SHIFT', 0, 5, 0x1F, 0x10, 'RW', 'r', False, None,
                      'Largest transfer: 2^MAX_XFER_SHIFT bytes; larger descriptors complete with status 0x13.'),
                Field('MAX_BATCH_SHIFT', 5, 4, 0x1E0, 0xF, 'RW', 'r', False, None,
                      "Largest batch on this WQ: 2^min(MAX_BATCH_SHIFT, CAP2.MAX_BATCH_SHIFT) descriptors (idxd's wqcfg max_batch_shift); a batch descriptor with more, or with fewer than 2, completes with status 0x14. The reset value leaves the device's limit in force."),
            ),
        ),
        Register(
            name='WQCFG6', const='CSR_WQCFG_WQCFG6', offset=0x18, width=32,
            access='RO', reset=0x0, reset_mask=0x0,
            title='WQCFG6',
            desc='',
            fields=(
                Field('OCCUPANCY', 0, 16, 0xFFFF, None, 'RO', 'w', True, None,
                      'Descriptors queued (accepted, not yet started).'),
                Field('STATE', 30, 2, 0xC0000000, None, 'RO', 'w', True, None,
                      '0 disabled, 1 enabled, 2 draining (disable or drain in progress).'),
            ),
        ),
    ),
    'MSIX_TABLE': (
        Register(
            name='ADDR_LO', const='MSIX_TABLE_ADDR_LO', offset=0x0, width=32,
            access='RW', reset=0x0, reset_mask=0xFFFFFFFC,
            title='Message address low',
            desc='Message address, low DWORD. Bits [1:0] read 0.',
            fields=(
                Field('ADDR', 2, 30, 0xFFFFFFFC, 0x0, 'RW', 'r', False, None,
                      'Message address bits [31:2].'),
            ),
        ),
        Register(
            name='ADDR_HI', const='MSIX_TABLE_ADDR_HI', offset=0x4, width=32,
            access='RW', reset=0x0, reset_mask=0xFFFFFFFF,
            title='Message address high',
            desc='Message address, high DWORD. 0 selects a 3DW (32-bit address) memory write.',
            fields=(
                Field('ADDR', 0, 32, 0xFFFFFFFF, 0x0, 'RW', 'r', False, None,
                      'Message address bits [63:32].'),
            ),
        ),
        Register(
            name='DATA', const='MSIX_TABLE_DATA', offset=0x8, width=32,
            access='RW', reset=0x0, reset_mask=0xFFFFFFFF,
            title='Message data',
            desc='Message data, sent unmodified.',
            fields=(
                Field('DATA', 0, 32, 0xFFFFFFFF, 0x0, 'RW', 'r', False, None,
                      'Message data.'),
            ),
        ),
        Register(
            name='VECTOR_CTRL', const='MSIX_TABLE_VECTOR_CTRL', offset=0xC, width=32,
            access='RW', reset=0x1, reset_mask=0x1,
            title='Vector control',
            desc='Vector control. Bits [31:1] (TPH steering tag, reserved) read 0.',
            fields=(
                Field('MASK', 0, 1, 0x1, 0x1, 'RW', 'r', False, None,
                      '1 = masked: the vector sends nothing and latches its PBA bit instead; clearing it with the PBA bit set sends the message once.'),
            ),
        ),
    ),
    'MSIX_PBA': (
        Register(
            name='MSIX_PBA', const='MSIX_PBA', offset=0x0, width=64,
            access='RO', reset=0x0, reset_mask=0xFFFFFFFFFFFFFFFF,
            title='MSI-X pending bits',
            desc='Read-only. Vector k is bit k%64 of the QWORD at PBA + (k/64)*8. DWORD or QWORD reads.',
            fields=(
                Field('PENDING', 0, 64, 0xFFFFFFFFFFFFFFFF, 0x0, 'RO', 'w', True, None,
                      'Pending bit of vectors 64*n .. 64*n+63.'),
            ),
        ),
    ),
    'IMS_ENTRY': (
        Register(
            name='ADDR_LO', const='IMS_ENTRY_ADDR_LO', offset=0x0, width=32,
            access='RW', reset=0x0, reset_mask=0xFFFFFFFC,
            title='Message address low',
            desc='Message address, low DWORD. Bits [1:0] read 0.',
            fields=(
                Field('ADDR', 2, 30, 0xFFFFFFFC, 0x0, 'RW', 'r', False, None,
                      'Message address bits [31:2].'),
            ),
        ),
        Register(
            name='ADDR_HI', const='IMS_ENTRY_ADDR_HI', offset=0x4, width=32,
            access='RW', reset=0x0, reset_mask=0xFFFFFFFF,
            title='Message address high',
            desc='Message address, high DWORD. 0 selects a 3DW (32-bit address) memory write.',
            fields=(
                Field('ADDR', 0, 32, 0xFFFFFFFF, 0x0, 'RW', 'r', False, None,
                      'Message address bits [63:32].'),
            ),
        ),
        Register(
            name='DATA', const='IMS_ENTRY_DATA', offset=0x8, width=32,
            access='RW', reset=0x0, reset_mask=0xFFFFFFFF,
            title='Message data',
            desc='Message data.',
            fields=(
                Field('DATA', 0, 32, 0xFFFFFFFF, 0x0, 'RW', 'r', False, None,
                      'Message data.'),
            ),
        ),
        Register(
            name='CTRL', const='IMS_ENTRY_CTRL', offset=0xC, width=32,
            access='RO/RW', reset=0x1, reset_mask=0xFFFFF00B,
            title='Entry control',
            desc='Mask, pending and PASID binding. Bits [2] and [11:4] read 0.',
            fields=(
                Field('MASK', 0, 1, 0x1, 0x1, 'RW', 'r', False, None,
                      '1 = masked: a request for this entry latches PENDING instead of sending; clearing MASK with PENDING set sends once.'),
                Field('PENDING', 1, 1, 0x2, 0x0, 'RO', 'w', True, None,
                      'A message was requested while the entry was masked.'),
                Field('PASID_EN', 3, 1, 0x8, 0x0, 'RW', 'r', False, None,
                      '1 = the entry is bound to PASID: a completion whose descriptor PASID differs does not fire and is reported as an error.'),
                Field('PASID', 12, 20, 0xFFFFF000, 0x0, 'RW', 'r', False, None,
                      'PASID the entry is bound to (used when PASID_EN=1).'),
            ),
        ),
    ),
}

REGIONS: Dict[str, Region] = {
    'CSR': Region('CSR', 0x0, 0x1000, None, None, None, False, 'Control and status registers'),
    'CSR_WQCFG': Region('CSR_WQCFG', 0x400, 0x200, 0x20, 16, None, False, 'WQ configuration'),
    'MSIX_TABLE': Region('MSIX_TABLE', 0x20000, 0x8000, 0x10, 2048, None, True, 'MSI-X table entry'),
    'MSIX_PBA': Region('MSIX_PBA', 0x28000, 0x100, 0x8, 32, None, True, 'MSI-X pending bits'),
    'IMS': Region('IMS', 0x40000, 0x80000, 0x8000, 16, None, True, 'IMS window of one work queue'),
    'IMS_ENTRY': Region('IMS_ENTRY', 0x0, 0x8000, 0x10, 2048, 'IMS', True, 'IMS entry'),
}

WINDOWS: Dict[str, Window] = {
}

ENUMS: Dict[str, Dict[str, int]] = {
    'MMIO_ERR': {
        'NONE': 0x00,
        'WR_TOO_BIG': 0x01,
        'RD_TOO_BIG': 0x02,
        'UNALIGNED': 0x03,
        'PARTIAL': 0x04,
        'UNSUPPORTED': 0x05,
        'RO_WRITE': 0x06,
        'POISONED': 0x07,
        'MSIX_UNMASKED_WRITE': 0x08,
    },
    'CMD': {
        'ENABLE_DEVICE': 0x01,
        'DISABLE_DEVICE': 0x02,
        'DRAIN_ALL': 0x03,
        'ABORT_ALL': 0x04,
        'RESET_DEVICE': 0x05,
        'ENABLE_WQ': 0x06,
        'DISABLE_WQ': 0x07,
        'DRAIN_WQ': 0x08,
        'ABORT_WQ': 0x09,
        'RESET_WQ': 0x0A,
        'DRAIN_PASID': 0x0B,
        'REQUEST_INT_HANDLE': 0x0D,
        'RELEASE_INT_HANDLE': 0x0E,
        'ABORT_PASID': 0x0C,
    },
    'CMD_ERR': {
        'OK': 0x00,
        'INVAL_CMD': 0x01,
        'DEV_ENABLED': 0x11,
        'DEV_NOT_ENABLED': 0x12,
        'WQ_INVAL': 0x20,
        'WQ_ENABLED': 0x21,
        'WQ_NOT_ENABLED': 0x22,
        'WQ_SIZE': 0x23,
        'WQ_MODE': 0x24,
        'WQ_BOF_EN': 0x25,
        'WQ_PASID_EN': 0x26,
        'INVAL_INT_IDX': 0x41,
        'INVAL_INT_IDX_RELEASE': 0x43,
    },
    'SWERR': {
        'NONE': 0x00,
        'PORTAL_SIZE': 0x01,
        'PORTAL_NO_PASID': 0x02,
        'PORTAL_PASID_OFF': 0x03,
        'PORTAL_PRIV': 0x04,
        'PORTAL_MODE': 0x05,
        'DWQ_FULL': 0x06,
        'DWQ_DISABLED': 0x07,
        'PORTAL_READ': 0x08,
        'PORTAL_NO_WQ': 0x09,
        'NO_CR': 0x0A,
        'CR_XLAT': 0x0B,
        'IMS_PASID': 0x10,
        'IMS_UNMASKED_WRITE': 0x11,
    },
}


def csr_wqcfg_at(wqcfg: int) -> int:
    """BAR0 offset of one CSR_WQCFG element."""
    if not 0 <= wqcfg < 16:
        raise IndexError(f"wqcfg={wqcfg} out of range 0..15")
    return CSR_WQCFG_BASE + wqcfg * CSR_WQCFG_STRIDE


def msix_table_at(msix_table: int) -> int:
    """BAR0 offset of one MSIX_TABLE element."""
    if not 0 <= msix_table < 2048:
        raise IndexError(f"msix_table={msix_table} out of range 0..2047")
    return MSIX_TABLE_BASE + msix_table * MSIX_TABLE_STRIDE


def msix_pba_at(msix_pba: int) -> int:
    """BAR0 offset of one MSIX_PBA element."""
    if not 0 <= msix_pba < 32:
        raise IndexError(f"msix_pba={msix_pba} out of range 0..31")
    return MSIX_PBA_BASE + msix_pba * MSIX_PBA_STRIDE


def ims_at(ims: int) -> int:
    """BAR0 offset of one IMS element."""
    if not 0 <= ims < 16:
        raise IndexError(f"ims={ims} out of range 0..15")
    return IMS_BASE + ims * IMS_STRIDE


def ims_entry_at(ims: int, entry: int) -> int:
    """BAR0 offset of one IMS_ENTRY element."""
    if not 0 <= ims < 16:
        raise IndexError(f"ims={ims} out of range 0..15")
    if not 0 <= entry < 2048:
        raise IndexError(f"entry={entry} out of range 0..2047")
    return IMS_BASE + ims * IMS_STRIDE + IMS_ENTRY_OFFSET + entry * IMS_ENTRY_STRIDE
