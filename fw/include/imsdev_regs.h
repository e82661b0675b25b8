/* generated from regs/imsdev.rdl by sim/tools/regen.py; do not edit */
/*
 * BAR0 register map of the IMS multi-queue device.
 * Naming: IMSDEV_<BLOCK>_BASE/_SIZE/_STRIDE/_COUNT for regions (BASE = BAR0 offset),
 * IMSDEV_<BLOCK>_<REG> for register offsets (BAR0 offset, or offset inside one array element),
 * IMSDEV_<BLOCK>_<REG>_<FIELD>_SHIFT/_WIDTH/_MASK/_RESET for fields, IMSDEV_<ENUM>_<MEMBER> for
 * encoded values. IMSDEV_<BLOCK>_AT(i, ...) gives the BAR0 offset of one array element.
 * Only DWORD (and, where docs/registers.md says so, aligned QWORD) accesses are defined.
 */
#ifndef IMSDEV_REGS_H
#define IMSDEV_REGS_H

/* Field helpers: f is a field name without the prefix, e.g. IMSDEV_FIELD_GET(CSR_ERR_CODE, v). */
#define IMSDEV_FIELD_GET(f, v) \
    (((unsigned long long)(v) & IMSDEV_##f##_MASK) >> IMSDEV_##f##_SHIFT)
#define IMSDEV_FIELD_PREP(f, x) \
    (((unsigned long long)(x) << IMSDEV_##f##_SHIFT) & IMSDEV_##f##_MASK)

#define IMSDEV_BAR0_SIZE                         0x80000u
#define IMSDEV_BAR0_ADDR_W                       19u

/* CSR: Control and status registers */
#define IMSDEV_CSR_BASE                          0x00000u
#define IMSDEV_CSR_SIZE                          0x1000u
#define IMSDEV_CSR_ADDR_W                        12u
#define IMSDEV_CSR_GEN_CFG_BASE                  0x00100u
#define IMSDEV_CSR_GEN_CFG_SIZE                  256u
#define IMSDEV_CSR_SWERR_BASE                    0x00200u
#define IMSDEV_CSR_SWERR_SIZE                    512u
#define IMSDEV_CSR_WQCFG_BASE                    0x00400u
#define IMSDEV_CSR_WQCFG_SIZE                    3072u
#define IMSDEV_CSR_WQCFG_STRIDE                  32u
#define IMSDEV_CSR_DEV_ID                        0x00000u
#define IMSDEV_CSR_DEV_ID_RESET                  0x1D5A0001u
#define IMSDEV_CSR_DEV_ID_RESET_MASK             0xFFFFFFFFu
#define IMSDEV_CSR_DEV_ID_DEVICE_SHIFT           0u
#define IMSDEV_CSR_DEV_ID_DEVICE_WIDTH           16u
#define IMSDEV_CSR_DEV_ID_DEVICE_MASK            0x0000FFFFu
#define IMSDEV_CSR_DEV_ID_DEVICE_RESET           0x0001u
#define IMSDEV_CSR_DEV_ID_MAGIC_SHIFT            16u
#define IMSDEV_CSR_DEV_ID_MAGIC_WIDTH            16u
#define IMSDEV_CSR_DEV_ID_MAGIC_MASK             0xFFFF0000u
#define IMSDEV_CSR_DEV_ID_MAGIC_RESET            0x1D5Au
#define IMSDEV_CSR_VERSION                       0x00004u
#define IMSDEV_CSR_VERSION_RESET                 0x00000001u
#define IMSDEV_CSR_VERSION_RESET_MASK            0xFFFFFFFFu
#define IMSDEV_CSR_VERSION_MINOR_SHIFT           0u
#define IMSDEV_CSR_VERSION_MINOR_WIDTH           16u
#define IMSDEV_CSR_VERSION_MINOR_MASK            0x0000FFFFu
#define IMSDEV_CSR_VERSION_MINOR_RESET           0x0001u
#define IMSDEV_CSR_VERSION_MAJOR_SHIFT           16u
#define IMSDEV_CSR_VERSION_MAJOR_WIDTH           16u
#define IMSDEV_CSR_VERSION_MAJOR_MASK            0xFFFF0000u
#define IMSDEV_CSR_VERSION_MAJOR_RESET           0x0000u
#define IMSDEV_CSR_CAP0                          0x00010u
#define IMSDEV_CSR_CAP0_RESET                    0x00000000u
#define IMSDEV_CSR_CAP0_RESET_MASK               0x00000000u
#define IMSDEV_CSR_CAP0_NUM_WQ_SHIFT             0u
#define IMSDEV_CSR_CAP0_NUM_WQ_WIDTH             8u
#define IMSDEV_CSR_CAP0_NUM_WQ_MASK              0x000000FFu
#define IMSDEV_CSR_CAP0_WQ_DEPTH_SHIFT           8u
#define IMSDEV_CSR_CAP0_WQ_DEPTH_WIDTH           16u
#define IMSDEV_CSR_CAP0_WQ_DEPTH_MASK            0x00FFFF00u
#define IMSDEV_CSR_CAP1                          0x00014u
#define IMSDEV_CSR_CAP1_RESET                    0x00000000u
#define IMSDEV_CSR_CAP1_RESET_MASK               0x00000000u
#define IMSDEV_CSR_CAP1_IMS_PER_WQ_SHIFT         0u
#define IMSDEV_CSR_CAP1_IMS_PER_WQ_WIDTH         16u
#define IMSDEV_CSR_CAP1_IMS_PER_WQ_MASK          0x0000FFFFu
#define IMSDEV_CSR_CAP2                          0x00018u
#define IMSDEV_CSR_CAP2_RESET                    0x00000000u
#define IMSDEV_CSR_CAP2_RESET_MASK               0x00000000u
#define IMSDEV_CSR_CAP2_MSIX_VECTORS_SHIFT       0u
#define IMSDEV_CSR_CAP2_MSIX_VECTORS_WIDTH       12u
#define IMSDEV_CSR_CAP2_MSIX_VECTORS_MASK        0x00000FFFu
#define IMSDEV_CSR_CAP2_DATA_BYTES_SHIFT         16u
#define IMSDEV_CSR_CAP2_DATA_BYTES_WIDTH         8u
#define IMSDEV_CSR_CAP2_DATA_BYTES_MASK          0x00FF0000u
#define IMSDEV_CSR_SCRATCH                       0x00020u
#define IMSDEV_CSR_SCRATCH_RESET                 0x00000000u
#define IMSDEV_CSR_SCRATCH_RESET_MASK            0xFFFFFFFFu
#define IMSDEV_CSR_SCRATCH_VALUE_SHIFT           0u
#define IMSDEV_CSR_SCRATCH_VALUE_WIDTH           32u
#define IMSDEV_CSR_SCRATCH_VALUE_MASK            0xFFFFFFFFu
#define IMSDEV_CSR_SCRATCH_VALUE_RESET           0x00000000u
#define IMSDEV_CSR_INT_CAUSE                     0x00030u
#define IMSDEV_CSR_INT_CAUSE_RESET               0x00000000u
#define IMSDEV_CSR_INT_CAUSE_RESET_MASK          0x00000007u
#define IMSDEV_CSR_INT_CAUSE_SW_TEST_SHIFT       0u
#define IMSDEV_CSR_INT_CAUSE_SW_TEST_WIDTH       1u
#define IMSDEV_CSR_INT_CAUSE_SW_TEST_MASK        0x00000001u
#define IMSDEV_CSR_INT_CAUSE_SW_TEST_RESET       0x0u
#define IMSDEV_CSR_INT_CAUSE_ERR_LOG_SHIFT       1u
#define IMSDEV_CSR_INT_CAUSE_ERR_LOG_WIDTH       1u
#define IMSDEV_CSR_INT_CAUSE_ERR_LOG_MASK        0x00000002u
#define IMSDEV_CSR_INT_CAUSE_ERR_LOG_RESET       0x0u
#define IMSDEV_CSR_INT_CAUSE_MMIO_ERR_SHIFT      2u
#define IMSDEV_CSR_INT_CAUSE_MMIO_ERR_WIDTH      1u
#define IMSDEV_CSR_INT_CAUSE_MMIO_ERR_MASK       0x00000004u
#define IMSDEV_CSR_INT_CAUSE_MMIO_ERR_RESET      0x0u
#define IMSDEV_CSR_INT_ENABLE                    0x00034u
#define IMSDEV_CSR_INT_ENABLE_RESET              0x00000000u
#define IMSDEV_CSR_INT_ENABLE_RESET_MASK         0x00000007u
#define IMSDEV_CSR_INT_ENABLE_SW_TEST_SHIFT      0u
#define IMSDEV_CSR_INT_ENABLE_SW_TEST_WIDTH      1u
#define IMSDEV_CSR_INT_ENABLE_SW_TEST_MASK       0x00000001u
#define IMSDEV_CSR_INT_ENABLE_SW_TEST_RESET      0x0u
#define IMSDEV_CSR_INT_ENABLE_ERR_LOG_SHIFT      1u
#define IMSDEV_CSR_INT_ENABLE_ERR_LOG_WIDTH      1u
#define IMSDEV_CSR_INT_ENABLE_ERR_LOG_MASK       0x00000002u
#define IMSDEV_CSR_INT_ENABLE_ERR_LOG_RESET      0x0u
#define IMSDEV_CSR_INT_ENABLE_MMIO_ERR_SHIFT     2u
#define IMSDEV_CSR_INT_ENABLE_MMIO_ERR_WIDTH     1u
#define IMSDEV_CSR_INT_ENABLE_MMIO_ERR_MASK      0x00000004u
#define IMSDEV_CSR_INT_ENABLE_MMIO_ERR_RESET     0x0u
#define IMSDEV_CSR_INT_TEST                      0x00038u
#define IMSDEV_CSR_INT_TEST_RESET                0x00000000u
#define IMSDEV_CSR_INT_TEST_RESET_MASK           0x00000007u
#define IMSDEV_CSR_INT_TEST_SW_TEST_SHIFT        0u
#define IMSDEV_CSR_INT_TEST_SW_TEST_WIDTH        1u
#define IMSDEV_CSR_INT_TEST_SW_TEST_MASK         0x00000001u
#define IMSDEV_CSR_INT_TEST_SW_TEST_RESET        0x0u
#define IMSDEV_CSR_INT_TEST_ERR_LOG_SHIFT        1u
#define IMSDEV_CSR_INT_TEST_ERR_LOG_WIDTH        1u
#define IMSDEV_CSR_INT_TEST_ERR_LOG_MASK         0x00000002u
#define IMSDEV_CSR_INT_TEST_ERR_LOG_RESET        0x0u
#define IMSDEV_CSR_INT_TEST_MMIO_ERR_SHIFT       2u
#define IMSDEV_CSR_INT_TEST_MMIO_ERR_WIDTH       1u
#define IMSDEV_CSR_INT_TEST_MMIO_ERR_MASK        0x00000004u
#define IMSDEV_CSR_INT_TEST_MMIO_ERR_RESET       0x0u
#define IMSDEV_CSR_ERR                           0x00040u
#define IMSDEV_CSR_ERR_RESET                     0x00000000u
#define IMSDEV_CSR_ERR_RESET_MASK                0x0000FF03u
#define IMSDEV_CSR_ERR_VALID_SHIFT               0u
#define IMSDEV_CSR_ERR_VALID_WIDTH               1u
#define IMSDEV_CSR_ERR_VALID_MASK                0x00000001u
#define IMSDEV_CSR_ERR_VALID_RESET               0x0u
#define IMSDEV_CSR_ERR_OVERFLOW_SHIFT            1u
#define IMSDEV_CSR_ERR_OVERFLOW_WIDTH            1u
#define IMSDEV_CSR_ERR_OVERFLOW_MASK             0x00000002u
#define IMSDEV_CSR_ERR_OVERFLOW_RESET            0x0u
#define IMSDEV_CSR_ERR_CODE_SHIFT                8u
#define IMSDEV_CSR_ERR_CODE_WIDTH                8u
#define IMSDEV_CSR_ERR_CODE_MASK                 0x0000FF00u
#define IMSDEV_CSR_ERR_CODE_RESET                0x00u
#define IMSDEV_CSR_ERR_ADDR                      0x00044u
#define IMSDEV_CSR_ERR_ADDR_RESET                0x00000000u
#define IMSDEV_CSR_ERR_ADDR_RESET_MASK           0xFFFFFFFFu
#define IMSDEV_CSR_ERR_ADDR_OFFSET_SHIFT         0u
#define IMSDEV_CSR_ERR_ADDR_OFFSET_WIDTH         32u
#define IMSDEV_CSR_ERR_ADDR_OFFSET_MASK          0xFFFFFFFFu
#define IMSDEV_CSR_ERR_ADDR_OFFSET_RESET         0x00000000u
#define IMSDEV_CSR_MSIX_TRIGGER                  0x00048u
#define IMSDEV_CSR_MSIX_TRIGGER_RESET            0x00000000u
#define IMSDEV_CSR_MSIX_TRIGGER_RESET_MASK       0x00000FFFu
#define IMSDEV_CSR_MSIX_TRIGGER_VECTOR_SHIFT     0u
#define IMSDEV_CSR_MSIX_TRIGGER_VECTOR_WIDTH     12u
#define IMSDEV_CSR_MSIX_TRIGGER_VECTOR_MASK      0x00000FFFu
#define IMSDEV_CSR_MSIX_TRIGGER_VECTOR_RESET     0x000u
#define IMSDEV_CSR_WQCFG_AT(i) \
    (IMSDEV_CSR_WQCFG_BASE + (i) * IMSDEV_CSR_WQCFG_STRIDE)

/* MSIX_TABLE: MSI-X table entry (hand-written RAM block) */
#define IMSDEV_MSIX_TABLE_BASE                   0x20000u
#define IMSDEV_MSIX_TABLE_SIZE                   0x8000u
#define IMSDEV_MSIX_TABLE_STRIDE                 16u
#define IMSDEV_MSIX_TABLE_COUNT                  2048u
#define IMSDEV_MSIX_TABLE_ADDR_LO                0x0u
#define IMSDEV_MSIX_TABLE_ADDR_LO_RESET          0x00000000u
#define IMSDEV_MSIX_TABLE_ADDR_LO_RESET_MASK     0xFFFFFFFCu
#define IMSDEV_MSIX_TABLE_ADDR_LO_ADDR_SHIFT     2u
#define IMSDEV_MSIX_TABLE_ADDR_LO_ADDR_WIDTH     30u
#define IMSDEV_MSIX_TABLE_ADDR_LO_ADDR_MASK      0xFFFFFFFCu
#define IMSDEV_MSIX_TABLE_ADDR_LO_ADDR_RESET     0x00000000u
#define IMSDEV_MSIX_TABLE_ADDR_HI                0x4u
#define IMSDEV_MSIX_TABLE_ADDR_HI_RESET          0x00000000u
#define IMSDEV_MSIX_TABLE_ADDR_HI_RESET_MASK     0xFFFFFFFFu
#define IMSDEV_MSIX_TABLE_ADDR_HI_ADDR_SHIFT     0u
#define IMSDEV_MSIX_TABLE_ADDR_HI_ADDR_WIDTH     32u
#define IMSDEV_MSIX_TABLE_ADDR_HI_ADDR_MASK      0xFFFFFFFFu
#define IMSDEV_MSIX_TABLE_ADDR_HI_ADDR_RESET     0x00000000u
#define IMSDEV_MSIX_TABLE_DATA                   0x8u
#define IMSDEV_MSIX_TABLE_DATA_RESET             0x00000000u
#define IMSDEV_MSIX_TABLE_DATA_RESET_MASK        0xFFFFFFFFu
#define IMSDEV_MSIX_TABLE_DATA_DATA_SHIFT        0u
#define IMSDEV_MSIX_TABLE_DATA_DATA_WIDTH        32u
#define IMSDEV_MSIX_TABLE_DATA_DATA_MASK         0xFFFFFFFFu
#define IMSDEV_MSIX_TABLE_DATA_DATA_RESET        0x00000000u
#define IMSDEV_MSIX_TABLE_VECTOR_CTRL            0xCu
#define IMSDEV_MSIX_TABLE_VECTOR_CTRL_RESET      0x00000001u
#define IMSDEV_MSIX_TABLE_VECTOR_CTRL_RESET_MASK 0x00000001u
#define IMSDEV_MSIX_TABLE_VECTOR_CTRL_MASK_SHIFT 0u
#define IMSDEV_MSIX_TABLE_VECTOR_CTRL_MASK_WIDTH 1u
#define IMSDEV_MSIX_TABLE_VECTOR_CTRL_MASK_MASK  0x00000001u
#define IMSDEV_MSIX_TABLE_VECTOR_CTRL_MASK_RESET 0x1u
#define IMSDEV_MSIX_TABLE_AT(msix_table) \
    (IMSDEV_MSIX_TABLE_BASE + (msix_table) * IMSDEV_MSIX_TABLE_STRIDE)

/* MSIX_PBA: MSI-X pending bits (hand-written RAM block) */
#define IMSDEV_MSIX_PBA_BASE                     0x28000u
#define IMSDEV_MSIX_PBA_SIZE                     256u
#define IMSDEV_MSIX_PBA_STRIDE                   8u
#define IMSDEV_MSIX_PBA_COUNT                    32u
#define IMSDEV_MSIX_PBA_RESET                    0x0000000000000000ull
#define IMSDEV_MSIX_PBA_RESET_MASK               0xFFFFFFFFFFFFFFFFull
#define IMSDEV_MSIX_PBA_PENDING_SHIFT            0u
#define IMSDEV_MSIX_PBA_PENDING_WIDTH            64u
#define IMSDEV_MSIX_PBA_PENDING_MASK             0xFFFFFFFFFFFFFFFFull
#define IMSDEV_MSIX_PBA_PENDING_RESET            0x0000000000000000ull
#define IMSDEV_MSIX_PBA_AT(msix_pba) \
    (IMSDEV_MSIX_PBA_BASE + (msix_pba) * IMSDEV_MSIX_PBA_STRIDE)

/* IMS: IMS window of one work queue (hand-written RAM block) */
#define IMSDEV_IMS_BASE                          0x40000u
#define IMSDEV_IMS_SIZE                          0x40000u
#define IMSDEV_IMS_STRIDE                        0x8000u
#define IMSDEV_IMS_COUNT                         8u
#define IMSDEV_IMS_AT(ims) \
    (IMSDEV_IMS_BASE + (ims) * IMSDEV_IMS_STRIDE)

/* IMS_ENTRY: IMS entry (hand-written RAM block) */
#define IMSDEV_IMS_ENTRY_OFFSET                  0u
#define IMSDEV_IMS_ENTRY_SIZE                    0x8000u
#define IMSDEV_IMS_ENTRY_STRIDE                  16u
#define IMSDEV_IMS_ENTRY_COUNT                   2048u
#define IMSDEV_IMS_ENTRY_ADDR_LO                 0x0u
#define IMSDEV_IMS_ENTRY_ADDR_LO_RESET           0x00000000u
#define IMSDEV_IMS_ENTRY_ADDR_LO_RESET_MASK      0xFFFFFFFCu
#define IMSDEV_IMS_ENTRY_ADDR_LO_ADDR_SHIFT      2u
#define IMSDEV_IMS_ENTRY_ADDR_LO_ADDR_WIDTH      30u
#define IMSDEV_IMS_ENTRY_ADDR_LO_ADDR_MASK       0xFFFFFFFCu
#define IMSDEV_IMS_ENTRY_ADDR_LO_ADDR_RESET      0x00000000u
#define IMSDEV_IMS_ENTRY_ADDR_HI                 0x4u
#define IMSDEV_IMS_ENTRY_ADDR_HI_RESET           0x00000000u
#define IMSDEV_IMS_ENTRY_ADDR_HI_RESET_MASK      0xFFFFFFFFu
#define IMSDEV_IMS_ENTRY_ADDR_HI_ADDR_SHIFT      0u
#define IMSDEV_IMS_ENTRY_ADDR_HI_ADDR_WIDTH      32u
#define IMSDEV_IMS_ENTRY_ADDR_HI_ADDR_MASK       0xFFFFFFFFu
#define IMSDEV_IMS_ENTRY_ADDR_HI_ADDR_RESET      0x00000000u
#define IMSDEV_IMS_ENTRY_DATA                    0x8u
#define IMSDEV_IMS_ENTRY_DATA_RESET              0x00000000u
#define IMSDEV_IMS_ENTRY_DATA_RESET_MASK         0xFFFFFFFFu
#define IMSDEV_IMS_ENTRY_DATA_DATA_SHIFT         0u
#define IMSDEV_IMS_ENTRY_DATA_DATA_WIDTH         32u
#define IMSDEV_IMS_ENTRY_DATA_DATA_MASK          0xFFFFFFFFu
#define IMSDEV_IMS_ENTRY_DATA_DATA_RESET         0x00000000u
#define IMSDEV_IMS_ENTRY_CTRL                    0xCu
#define IMSDEV_IMS_ENTRY_CTRL_RESET              0x00000001u
#define IMSDEV_IMS_ENTRY_CTRL_RESET_MASK         0xFFFFF00Bu
#define IMSDEV_IMS_ENTRY_CTRL_MASK_SHIFT         0u
#define IMSDEV_IMS_ENTRY_CTRL_MASK_WIDTH         1u
#define IMSDEV_IMS_ENTRY_CTRL_MASK_MASK          0x00000001u
#define IMSDEV_IMS_ENTRY_CTRL_MASK_RESET         0x1u
#define IMSDEV_IMS_ENTRY_CTRL_PENDING_SHIFT      1u
#define IMSDEV_IMS_ENTRY_CTRL_PENDING_WIDTH      1u
#define IMSDEV_IMS_ENTRY_CTRL_PENDING_MASK       0x00000002u
#define IMSDEV_IMS_ENTRY_CTRL_PENDING_RESET      0x0u
#define IMSDEV_IMS_ENTRY_CTRL_PASID_EN_SHIFT     3u
#define IMSDEV_IMS_ENTRY_CTRL_PASID_EN_WIDTH     1u
#define IMSDEV_IMS_ENTRY_CTRL_PASID_EN_MASK      0x00000008u
#define IMSDEV_IMS_ENTRY_CTRL_PASID_EN_RESET     0x0u
#define IMSDEV_IMS_ENTRY_CTRL_PASID_SHIFT        12u
#define IMSDEV_IMS_ENTRY_CTRL_PASID_WIDTH        20u
#define IMSDEV_IMS_ENTRY_CTRL_PASID_MASK         0xFFFFF000u
#define IMSDEV_IMS_ENTRY_CTRL_PASID_RESET        0x00000u
#define IMSDEV_IMS_ENTRY_AT(ims, entry) \
    (IMSDEV_IMS_BASE + (ims) * IMSDEV_IMS_STRIDE + IMSDEV_IMS_ENTRY_OFFSET + (entry) * IMSDEV_IMS_ENTRY_STRIDE)

/* Encoded field values */
#define IMSDEV_MMIO_ERR_NONE                     0x00u
#define IMSDEV_MMIO_ERR_WR_TOO_BIG               0x01u
#define IMSDEV_MMIO_ERR_RD_TOO_BIG               0x02u
#define IMSDEV_MMIO_ERR_UNALIGNED                0x03u
#define IMSDEV_MMIO_ERR_PARTIAL                  0x04u
#define IMSDEV_MMIO_ERR_UNSUPPORTED              0x05u
#define IMSDEV_MMIO_ERR_RO_WRITE                 0x06u
#define IMSDEV_MMIO_ERR_POISONED                 0x07u

#endif /* IMSDEV_REGS_H */
