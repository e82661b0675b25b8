/*
 * imsdev: portable C driver library (see imsdev.h). The programming guide (fw/README.md) quotes
 * functions of this file verbatim; tests/unit/test_fw_guide.py keeps the quotes and the code in step.
 */
#include "imsdev.h"

#include <errno.h>
#include <string.h>

/* ---- PCI config space (PCI spec; names of Linux include/uapi/linux/pci_regs.h) ---- */
#define PCI_COMMAND                0x04u
#define PCI_COMMAND_MEMORY         0x0002u
#define PCI_COMMAND_MASTER         0x0004u
#define PCI_COMMAND_INTX_DISABLE   0x0400u
#define PCI_STATUS                 0x06u
#define PCI_STATUS_CAP_LIST        0x0010u
#define PCI_BASE_ADDRESS_0         0x10u
#define PCI_BASE_ADDRESS_SPACE_IO  0x1u
#define PCI_BASE_ADDRESS_MEM_TYPE_64 0x4u
#define PCI_CAPABILITY_LIST        0x34u
#define PCI_CAP_ID_EXP             0x10u
#define PCI_CAP_ID_MSIX            0x11u
#define PCI_EXT_CAP_ID_PASID       0x1Bu
#define PCI_FIND_CAP_TTL           48u
#define PCI_MSIX_FLAGS             2u
#define PCI_MSIX_FLAGS_QSIZE       0x07FFu
#define PCI_MSIX_FLAGS_MASKALL     0x4000u
#define PCI_MSIX_FLAGS_ENABLE      0x8000u
#define PCI_MSIX_TABLE             4u
#define PCI_MSIX_PBA               8u
#define PCI_MSIX_TABLE_BIR         0x7u
#define PCI_MSIX_TABLE_OFFSET      0xFFFFFFF8u
#define PCI_PASID_CAP              4u
#define PCI_PASID_CAP_PRIV         0x04u
#define PCI_PASID_CAP_WIDTH        0x1F00u
#define PCI_PASID_CAP_WIDTH_SHIFT  8u
#define PCI_PASID_CTRL             6u
#define PCI_PASID_CTRL_ENABLE      0x01u
#define PCI_PASID_CTRL_PRIV        0x04u

#define CMD_POLL_NS                64u
#define CMD_TIMEOUT_NS             400000u
#define COMP_POLL_NS               200u

/* ---- accessors ---- */
static uint32_t rd32(const struct imsdev_dev *dev, uint64_t off)
{
	return dev->ops->mmio_read32(dev->ops->ctx, dev->bar0 + off);
}

static void wr32(const struct imsdev_dev *dev, uint64_t off, uint32_t val)
{
	dev->ops->mmio_write32(dev->ops->ctx, dev->bar0 + off, val);
}

static uint32_t cfg_rd(const struct imsdev_dev *dev, uint32_t off, uint32_t size)
{
	return dev->ops->cfg_read(dev->ops->ctx, off, size);
}

static void cfg_wr(const struct imsdev_dev *dev, uint32_t off, uint32_t size, uint32_t val)
{
	dev->ops->cfg_write(dev->ops->ctx, off, size, val);
}

static void cfg_clear_set16(const struct imsdev_dev *dev, uint32_t off, uint32_t clear, uint32_t set)
{
	cfg_wr(dev, off, 2, (cfg_rd(dev, off, 2) & ~clear) | set);
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

size_t imsdev_sizeof_dev(void)
{
	return sizeof(struct imsdev_dev);
}

size_t imsdev_sizeof_ims_slot(void)
{
	return sizeof(struct imsdev_ims_slot);
}

/* ---- PCI: capability walk, BARs, PASID ---- */
static uint16_t pci_find_capability(const struct imsdev_dev *dev, uint32_t cap)
{
	uint32_t pos;

	if (!(cfg_rd(dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	pos = cfg_rd(dev, PCI_CAPABILITY_LIST, 1);
	for (unsigned ttl = PCI_FIND_CAP_TTL; ttl && pos >= 0x40u; ttl--) {
		uint32_t ent;

		pos &= ~3u;
		ent = cfg_rd(dev, pos, 2);
		if ((ent & 0xFFu) == 0xFFu)
			break;
		if ((ent & 0xFFu) == cap)
			return (uint16_t)pos;
		pos = ent >> 8;
	}
	return 0;
}

static uint16_t pci_find_ext_capability(const struct imsdev_dev *dev, uint32_t cap)
{
	uint32_t pos = 0x100u, header;

	for (unsigned ttl = (0x1000u - 0x100u) / 8u; ttl; ttl--) {
		header = cfg_rd(dev, pos, 4);
		if (header == 0 || header == 0xFFFFFFFFu)
			return 0;
		if ((header & 0xFFFFu) == cap)
			return (uint16_t)pos;
		pos = (header >> 20) & 0xFFCu;
		if (pos < 0x100u)
			return 0;
	}
	return 0;
}

static uint64_t pci_bar_start(const struct imsdev_dev *dev, unsigned bar)
{
	uint32_t lo = cfg_rd(dev, PCI_BASE_ADDRESS_0 + 4u * bar, 4);
	uint64_t addr = lo & ~0xFull;

	if (lo & PCI_BASE_ADDRESS_SPACE_IO)
		return 0;
	if (lo & PCI_BASE_ADDRESS_MEM_TYPE_64)
		addr |= (uint64_t)cfg_rd(dev, PCI_BASE_ADDRESS_0 + 4u * (bar + 1u), 4) << 32;
	return addr;
}

/* Bring-up: memory decode, capabilities, BARs, bus master, then make sure BAR0 is this device. */
int imsdev_probe(struct imsdev_dev *dev, const struct imsdev_ops *ops)
{
	uint32_t id, cap0, cap1, cap2;

	memset(dev, 0, sizeof(*dev));
	dev->ops = ops;
	cfg_clear_set16(dev, PCI_COMMAND, 0, PCI_COMMAND_MEMORY);
	dev->pcie_cap = pci_find_capability(dev, PCI_CAP_ID_EXP);
	dev->msix_cap = pci_find_capability(dev, PCI_CAP_ID_MSIX);
	dev->pasid_cap = pci_find_ext_capability(dev, PCI_EXT_CAP_ID_PASID);
	dev->bar0 = pci_bar_start(dev, 0);
	dev->bar2 = pci_bar_start(dev, 2);
	if (!dev->pcie_cap || !dev->msix_cap || !dev->pasid_cap || !dev->bar0 || !dev->bar2)
		return -ENODEV;
	cfg_clear_set16(dev, PCI_COMMAND, 0, PCI_COMMAND_MASTER);

	id = rd32(dev, IMSDEV_CSR_DEV_ID);
	if (IMSDEV_FIELD_GET(CSR_DEV_ID_MAGIC, id) != IMSDEV_CSR_DEV_ID_MAGIC_RESET ||
	    IMSDEV_FIELD_GET(CSR_DEV_ID_DEVICE, id) != IMSDEV_CSR_DEV_ID_DEVICE_RESET)
		return -ENODEV;
	if (IMSDEV_FIELD_GET(CSR_VERSION_MAJOR, rd32(dev, IMSDEV_CSR_VERSION)) != IMSDEV_CSR_VERSION_MAJOR_RESET)
		return -ENODEV;
	cap0 = rd32(dev, IMSDEV_CSR_CAP0);
	cap1 = rd32(dev, IMSDEV_CSR_CAP1);
	cap2 = rd32(dev, IMSDEV_CSR_CAP2);
	dev->num_wq = (uint32_t)IMSDEV_FIELD_GET(CSR_CAP0_NUM_WQ, cap0);
	dev->wq_depth = (uint32_t)IMSDEV_FIELD_GET(CSR_CAP0_WQ_DEPTH, cap0);
	dev->ims_per_wq = (uint32_t)IMSDEV_FIELD_GET(CSR_CAP1_IMS_PER_WQ, cap1);
	dev->msix_vectors = (uint32_t)IMSDEV_FIELD_GET(CSR_CAP2_MSIX_VECTORS, cap2);
	dev->max_batch_shift = (uint32_t)IMSDEV_FIELD_GET(CSR_CAP2_MAX_BATCH_SHIFT, cap2);
	dev->request_int_handles = (rd32(dev, IMSDEV_CSR_CMDCAP) >> IMSDEV_CMD_REQUEST_INT_HANDLE) & 1u;
	if (dev->request_int_handles)
		wr32(dev, IMSDEV_CSR_INTHDL_CTL, (uint32_t)IMSDEV_FIELD_PREP(CSR_INTHDL_CTL_REQUIRED, 1u));
	return 0;
}

/* ENQCMD carries a PASID: the capability must be enabled before a shared WQ can be enabled. */
int imsdev_pci_enable_pasid(struct imsdev_dev *dev, bool priv)
{
	uint32_t supported = cfg_rd(dev, dev->pasid_cap + PCI_PASID_CAP, 2);
	uint32_t ctrl = PCI_PASID_CTRL_ENABLE;

	if (priv) {
		if (!(supported & PCI_PASID_CAP_PRIV))
			return -EINVAL;
		ctrl |= PCI_PASID_CTRL_PRIV;
	}
	cfg_wr(dev, dev->pasid_cap + PCI_PASID_CTRL, 2, ctrl);
	dev->pasid_enabled = true;
	return 0;
}

void imsdev_pci_disable_pasid(struct imsdev_dev *dev)
{
	cfg_wr(dev, dev->pasid_cap + PCI_PASID_CTRL, 2, 0);
	dev->pasid_enabled = false;
}

/* ---- commands ---- */
static int cmd_wait_idle(struct imsdev_dev *dev, uint32_t *sts)
{
	for (uint32_t waited = 0; waited < CMD_TIMEOUT_NS; waited += CMD_POLL_NS) {
		*sts = rd32(dev, IMSDEV_CSR_CMDSTS);
		if (!IMSDEV_FIELD_GET(CSR_CMDSTS_ACTIVE, *sts))
			return 0;
		dev->ops->delay_ns(dev->ops->ctx, CMD_POLL_NS);
	}
	return -ETIMEDOUT;
}

/* A CMD written while CMDSTS.ACTIVE is 1 is ignored: wait for idle before and after. */
int imsdev_cmd(struct imsdev_dev *dev, uint32_t cmd, uint32_t operand, uint32_t *result)
{
	uint32_t sts;

	if (cmd_wait_idle(dev, &sts))
		return -ETIMEDOUT;
	wr32(dev, IMSDEV_CSR_CMD, (uint32_t)(IMSDEV_FIELD_PREP(CSR_CMD_CMD, cmd) |
					     IMSDEV_FIELD_PREP(CSR_CMD_OPERAND, operand)));
	if (cmd_wait_idle(dev, &sts))
		return -ETIMEDOUT;
	if (result)
		*result = (uint32_t)IMSDEV_FIELD_GET(CSR_CMDSTS_RESULT, sts);
	return (int)IMSDEV_FIELD_GET(CSR_CMDSTS_ERR, sts);   /* IMSDEV_CMD_ERR_* */
}

int imsdev_device_enable(struct imsdev_dev *dev)
{
	return imsdev_cmd(dev, IMSDEV_CMD_ENABLE_DEVICE, 0, NULL);
}

int imsdev_device_disable(struct imsdev_dev *dev)
{
	return imsdev_cmd(dev, IMSDEV_CMD_DISABLE_DEVICE, 0, NULL);
}

static int int_handle_operand(const struct imsdev_dev *dev, bool ims, uint32_t wq, uint32_t index, uint32_t *op)
{
	if (ims) {
		if (wq >= dev->num_wq || index >= dev->ims_per_wq)
			return -EINVAL;
		*op = IMSDEV_INT_HANDLE_OP_IMS | wq << IMSDEV_INT_HANDLE_OP_WQ_SHIFT | (index & IMSDEV_INT_HANDLE_OP_ENTRY);
	} else {
		if (index >= dev->msix_vectors)
			return -EINVAL;
		*op = index;
	}
	return 0;
}

int imsdev_request_int_handle(struct imsdev_dev *dev, bool ims, uint32_t wq, uint32_t index, uint16_t *handle)
{
	uint32_t op, result = 0;
	int rc = int_handle_operand(dev, ims, wq, index, &op);

	if (rc)
		return rc;
	rc = imsdev_cmd(dev, IMSDEV_CMD_REQUEST_INT_HANDLE, op, &result);
	if (rc == IMSDEV_CMD_ERR_OK)
		*handle = (uint16_t)result;
	return rc;
}

int imsdev_release_int_handle(struct imsdev_dev *dev, bool ims, uint32_t wq, uint32_t index)
{
	uint32_t op;
	int rc = int_handle_operand(dev, ims, wq, index, &op);

	return rc ? rc : imsdev_cmd(dev, IMSDEV_CMD_RELEASE_INT_HANDLE, op, NULL);
}

static int pasid_cmd(struct imsdev_dev *dev, uint32_t cmd, uint32_t pasid, uint32_t *result)
{
	if (pasid > IMSDEV_CSR_CMD_OPERAND_MASK >> IMSDEV_CSR_CMD_OPERAND_SHIFT)
		return -EINVAL;
	return imsdev_cmd(dev, cmd, pasid, result);
}

int imsdev_drain_pasid(struct imsdev_dev *dev, uint32_t pasid)
{
	return pasid_cmd(dev, IMSDEV_CMD_DRAIN_PASID, pasid, NULL);
}

int imsdev_abort_pasid(struct imsdev_dev *dev, uint32_t pasid, uint32_t *discarded)
{
	return pasid_cmd(dev, IMSDEV_CMD_ABORT_PASID, pasid, discarded);
}

/* ---- shared virtual addressing: idxd_cdev_open / idxd_file_dev_release ---- */
#define IOMMU_NO_PASID             0u       /* Linux: requests without a PASID (VT-d RID_PASID, SMMU SSID 0) */
/* the device's PASID fields (descriptor, CMD.OPERAND of DRAIN/ABORT_PASID) are CMD.OPERAND's width */
#define IMSDEV_PASID_BITS          IMSDEV_CSR_CMD_OPERAND_WIDTH

/* pci_max_pasids, as a width: the capability's Max PASID Width, limited to what the device's fields hold. */
uint32_t imsdev_pasid_width(struct imsdev_dev *dev)
{
	uint32_t cap = cfg_rd(dev, dev->pasid_cap + PCI_PASID_CAP, 2);
	uint32_t width = (cap & PCI_PASID_CAP_WIDTH) >> PCI_PASID_CAP_WIDTH_SHIFT;

	return width < IMSDEV_PASID_BITS ? width : IMSDEV_PASID_BITS;
}

/* iommu_sva_bind_device + iommu_sva_get_pasid, refusing a PASID the device cannot carry (handed back). */
int imsdev_sva_bind(struct imsdev_dev *dev, uint64_t mm, struct imsdev_sva *h)
{
	uint32_t pasid = IOMMU_NO_PASID;
	int rc;

	if (!dev || !h)
		return -EINVAL;
	memset(h, 0, sizeof(*h));
	h->mm = mm;
	if (!dev->ops->sva_bind || !dev->ops->sva_unbind)
		return -EOPNOTSUPP;
	/* pdev->pasid_enabled, and the control register itself (an FLR or another agent may have cleared it) */
	if (!dev->pasid_enabled || !(cfg_rd(dev, dev->pasid_cap + PCI_PASID_CTRL, 2) & PCI_PASID_CTRL_ENABLE))
		return -EOPNOTSUPP;
	rc = dev->ops->sva_bind(dev->ops->ctx, mm, &pasid);
	if (rc)
		return rc < 0 ? rc : -EIO;
	if (pasid == IOMMU_NO_PASID || pasid >= 1u << imsdev_pasid_width(dev)) {
		dev->ops->sva_unbind(dev->ops->ctx, pasid);
		return -EINVAL;
	}
	h->pasid = pasid;
	h->bound = true;
	return 0;
}

/* Process exit: no descriptor of the PASID left in the device, then the IOMMU binding goes. */
int imsdev_sva_unbind(struct imsdev_dev *dev, struct imsdev_sva *h)
{
	int rc;

	if (!dev || !h || !h->bound)
		return -EINVAL;
	rc = imsdev_drain_pasid(dev, h->pasid);
	dev->ops->sva_unbind(dev->ops->ctx, h->pasid);
	h->bound = false;
	return rc;
}

/* ---- MSI-X, in Linux's order (drivers/pci/msi/msi.c) ---- */
static uint64_t msix_entry(const struct imsdev_dev *dev, uint32_t vec)
{
	return dev->msix_table + (uint64_t)vec * IMSDEV_MSIX_TABLE_STRIDE;
}

static void msix_write_ctrl(struct imsdev_dev *dev, uint32_t vec, uint32_t ctrl)
{
	dev->msix_ctrl[vec] = ctrl;
	dev->ops->mmio_write32(dev->ops->ctx, msix_entry(dev, vec) + IMSDEV_MSIX_TABLE_VECTOR_CTRL, ctrl);
}

/* __pci_write_msi_msg: never change address/data of an unmasked vector; flush with a read. */
void imsdev_msix_write_msg(struct imsdev_dev *dev, uint32_t vec, const struct imsdev_msi_msg *msg)
{
	uint64_t e = msix_entry(dev, vec);
	uint32_t ctrl = dev->msix_ctrl[vec];
	bool unmasked = !(ctrl & IMSDEV_MSIX_TABLE_VECTOR_CTRL_MASK_MASK);

	if (unmasked)
		msix_write_ctrl(dev, vec, ctrl | IMSDEV_MSIX_TABLE_VECTOR_CTRL_MASK_MASK);
	dev->ops->mmio_write32(dev->ops->ctx, e + IMSDEV_MSIX_TABLE_ADDR_LO, msg->address_lo);
	dev->ops->mmio_write32(dev->ops->ctx, e + IMSDEV_MSIX_TABLE_ADDR_HI, msg->address_hi);
	dev->ops->mmio_write32(dev->ops->ctx, e + IMSDEV_MSIX_TABLE_DATA, msg->data);
	if (unmasked)
		msix_write_ctrl(dev, vec, ctrl);
	(void)dev->ops->mmio_read32(dev->ops->ctx, e + IMSDEV_MSIX_TABLE_DATA);
}

/* pci_msix_mask: the read makes the mask effective before returning. */
void imsdev_msix_mask(struct imsdev_dev *dev, uint32_t vec)
{
	msix_write_ctrl(dev, vec, dev->msix_ctrl[vec] | IMSDEV_MSIX_TABLE_VECTOR_CTRL_MASK_MASK);
	(void)dev->ops->mmio_read32(dev->ops->ctx, msix_entry(dev, vec) + IMSDEV_MSIX_TABLE_VECTOR_CTRL);
}

/* pci_msix_unmask: no flush; a pending vector sends once when this lands. */
void imsdev_msix_unmask(struct imsdev_dev *dev, uint32_t vec)
{
	msix_write_ctrl(dev, vec, dev->msix_ctrl[vec] & ~IMSDEV_MSIX_TABLE_VECTOR_CTRL_MASK_MASK);
}

/* msix_capability_init: enable with the function masked, program, mask every entry, unmask the function. */
int imsdev_msix_enable(struct imsdev_dev *dev, uint32_t nvec, uint32_t hwsize_extra)
{
	uint32_t flags = cfg_rd(dev, dev->msix_cap + PCI_MSIX_FLAGS, 2);
	uint32_t table = cfg_rd(dev, dev->msix_cap + PCI_MSIX_TABLE, 4);
	uint32_t cookies[IMSDEV_MAX_MSIX_USED];
	struct imsdev_msi_msg msgs[IMSDEV_MAX_MSIX_USED];
	int rc;

	dev->msix_tsize = (flags & PCI_MSIX_FLAGS_QSIZE) + 1u;
	if (nvec == 0 || nvec > dev->msix_tsize || nvec > IMSDEV_MAX_MSIX_USED)
		return -EINVAL;
	cfg_clear_set16(dev, dev->msix_cap + PCI_MSIX_FLAGS, 0, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	dev->msix_table = pci_bar_start(dev, table & PCI_MSIX_TABLE_BIR) + (table & PCI_MSIX_TABLE_OFFSET);
	rc = dev->ops->irq_alloc(dev->ops->ctx, nvec, dev->msix_tsize + hwsize_extra, cookies, msgs);
	if (rc) {
		cfg_clear_set16(dev, dev->msix_cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 0);
		return rc;
	}
	dev->msix_nvec = nvec;
	for (uint32_t v = 0; v < nvec; v++) {
		dev->msix_ctrl[v] = dev->ops->mmio_read32(dev->ops->ctx,
							  msix_entry(dev, v) + IMSDEV_MSIX_TABLE_VECTOR_CTRL);
		dev->msix_irq[v].cookie = cookies[v];
		dev->msix_irq[v].msg = msgs[v];
		imsdev_msix_write_msg(dev, v, &msgs[v]);
	}
	cfg_clear_set16(dev, PCI_COMMAND, 0, PCI_COMMAND_INTX_DISABLE);
	for (uint32_t v = 0; v < dev->msix_tsize; v++)
		dev->ops->mmio_write32(dev->ops->ctx, msix_entry(dev, v) + IMSDEV_MSIX_TABLE_VECTOR_CTRL,
				       IMSDEV_MSIX_TABLE_VECTOR_CTRL_MASK_MASK);
	for (uint32_t v = 0; v < nvec; v++)
		dev->msix_ctrl[v] |= IMSDEV_MSIX_TABLE_VECTOR_CTRL_MASK_MASK;
	cfg_clear_set16(dev, dev->msix_cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_MASKALL, 0);
	/* completion vectors (1..): their handles, granted by the device when it grants them */
	for (uint32_t v = 1; v < nvec; v++) {
		dev->msix_handle[v] = (uint16_t)v;
		if (dev->request_int_handles &&
		    imsdev_request_int_handle(dev, false, 0, v, &dev->msix_handle[v]) != IMSDEV_CMD_ERR_OK)
			return -EIO;
	}
	return 0;
}

bool imsdev_msix_pending(struct imsdev_dev *dev, uint32_t vec)
{
	uint32_t pba = cfg_rd(dev, dev->msix_cap + PCI_MSIX_PBA, 4);
	uint64_t base = pci_bar_start(dev, pba & PCI_MSIX_TABLE_BIR) + (pba & PCI_MSIX_TABLE_OFFSET);
	uint64_t word = dev->ops->mmio_read64(dev->ops->ctx, base + (uint64_t)(vec / 64u) * IMSDEV_MSIX_PBA_STRIDE);

	return (word >> (vec % 64u)) & 1u;
}

/* pci_msix_shutdown: mask every vector in use, clear ENABLE, give the interrupts back. */
void imsdev_msix_disable(struct imsdev_dev *dev)
{
	for (uint32_t v = 1; v < dev->msix_nvec && dev->request_int_handles; v++)
		(void)imsdev_release_int_handle(dev, false, 0, v);
	for (uint32_t v = 0; v < dev->msix_nvec; v++)
		imsdev_msix_mask(dev, v);
	cfg_clear_set16(dev, dev->msix_cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 0);
	cfg_clear_set16(dev, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 0);
	for (uint32_t v = 0; v < dev->msix_nvec; v++)
		dev->ops->irq_free(dev->ops->ctx, dev->msix_irq[v].cookie);
	dev->msix_nvec = 0;
}

/* ---- per-queue IMS: updates are queued and applied at unlock ---- */
static uint32_t ims_ctrl(bool masked, bool pasid_en, uint32_t pasid)
{
	uint32_t v = (uint32_t)IMSDEV_FIELD_PREP(IMS_ENTRY_CTRL_MASK, masked ? 1u : 0u);

	if (pasid_en)
		v |= (uint32_t)(IMSDEV_FIELD_PREP(IMS_ENTRY_CTRL_PASID_EN, 1u) |
				IMSDEV_FIELD_PREP(IMS_ENTRY_CTRL_PASID, pasid));
	return v;
}

static void ims_write_ctrl(struct imsdev_dev *dev, struct imsdev_ims_slot *slot, uint32_t ctrl)
{
	dev->ops->mmio_write32(dev->ops->ctx, slot->base + IMSDEV_IMS_ENTRY_CTRL, ctrl);
	(void)dev->ops->mmio_read32(dev->ops->ctx, slot->base + IMSDEV_IMS_ENTRY_CTRL);
	slot->hw_ctrl = ctrl;
}

static bool msg_equal(const struct imsdev_msi_msg *a, const struct imsdev_msi_msg *b)
{
	return a->address_lo == b->address_lo && a->address_hi == b->address_hi && a->data == b->data;
}

/* Apply the queued state: the device drops address/data writes to an unmasked slot, so mask first. */
static void ims_sync(struct imsdev_dev *dev, struct imsdev_ims_slot *slot)
{
	const uint32_t sw_bits = IMSDEV_IMS_ENTRY_CTRL_MASK_MASK | IMSDEV_IMS_ENTRY_CTRL_PASID_EN_MASK |
				 IMSDEV_IMS_ENTRY_CTRL_PASID_MASK;
	uint32_t want = ims_ctrl(slot->want_masked, slot->pasid_en, slot->pasid);

	if (!slot->hw_msg_valid || !msg_equal(&slot->want_msg, &slot->hw_msg)) {
		if (!(slot->hw_ctrl & IMSDEV_IMS_ENTRY_CTRL_MASK_MASK))
			ims_write_ctrl(dev, slot, slot->hw_ctrl | IMSDEV_IMS_ENTRY_CTRL_MASK_MASK);
		dev->ops->mmio_write32(dev->ops->ctx, slot->base + IMSDEV_IMS_ENTRY_ADDR_LO, slot->want_msg.address_lo);
		dev->ops->mmio_write32(dev->ops->ctx, slot->base + IMSDEV_IMS_ENTRY_ADDR_HI, slot->want_msg.address_hi);
		dev->ops->mmio_write32(dev->ops->ctx, slot->base + IMSDEV_IMS_ENTRY_DATA, slot->want_msg.data);
		(void)dev->ops->mmio_read32(dev->ops->ctx, slot->base + IMSDEV_IMS_ENTRY_DATA);
		slot->hw_msg = slot->want_msg;
		slot->hw_msg_valid = true;
	}
	if (want != (slot->hw_ctrl & sw_bits))
		ims_write_ctrl(dev, slot, want);
}

void imsdev_ims_bus_lock(struct imsdev_ims_slot *slot)
{
	slot->lock_depth++;
}

void imsdev_ims_bus_sync_unlock(struct imsdev_dev *dev, struct imsdev_ims_slot *slot)
{
	if (slot->lock_depth && --slot->lock_depth == 0)
		ims_sync(dev, slot);
}

void imsdev_ims_write_msg(struct imsdev_dev *dev, struct imsdev_ims_slot *slot, const struct imsdev_msi_msg *msg)
{
	slot->want_msg = *msg;
	if (!slot->lock_depth)
		ims_sync(dev, slot);
}

void imsdev_ims_mask(struct imsdev_dev *dev, struct imsdev_ims_slot *slot)
{
	slot->want_masked = true;
	if (!slot->lock_depth)
		ims_sync(dev, slot);
}

void imsdev_ims_unmask(struct imsdev_dev *dev, struct imsdev_ims_slot *slot)
{
	slot->want_masked = false;
	if (!slot->lock_depth)
		ims_sync(dev, slot);
}

bool imsdev_ims_pending(struct imsdev_dev *dev, const struct imsdev_ims_slot *slot)
{
	uint32_t ctrl = dev->ops->mmio_read32(dev->ops->ctx, slot->base + IMSDEV_IMS_ENTRY_CTRL);

	return IMSDEV_FIELD_GET(IMS_ENTRY_CTRL_PENDING, ctrl) != 0;
}

/* Handle of the submitting WQ's IMS slot `index`; -EINVAL if the index does not fit its 15 bits. */
int imsdev_ims_handle(uint32_t index, uint16_t *handle)
{
	if (index > IMSDEV_INT_HANDLE_IMS_INDEX)
		return -EINVAL;
	*handle = (uint16_t)(IMSDEV_INT_HANDLE_IMS | index);
	return 0;
}

/* Slot `index` of WQ `wq`'s IMS window: masked and bound, then its message, all in one locked update. */
int imsdev_ims_alloc(struct imsdev_dev *dev, uint32_t wq, uint32_t index, bool pasid_en, uint32_t pasid,
		     struct imsdev_ims_slot *slot)
{
	int rc;

	if (wq >= dev->num_wq || index >= dev->ims_per_wq)
		return -EINVAL;
	memset(slot, 0, sizeof(*slot));
	slot->base = dev->bar0 + IMSDEV_IMS_ENTRY_AT(wq, index);
	slot->pasid_en = pasid_en;
	slot->pasid = pasid;
	slot->wq = wq;
	slot->index = index;
	slot->int_handle = (uint16_t)(IMSDEV_INT_HANDLE_IMS | index);
	if (dev->request_int_handles) {
		rc = imsdev_request_int_handle(dev, true, wq, index, &slot->int_handle);
		if (rc)
			return rc < 0 ? rc : -EIO;
	}
	rc = dev->ops->irq_alloc(dev->ops->ctx, 1, 0, &slot->irq.cookie, &slot->irq.msg);
	if (rc) {
		if (dev->request_int_handles)
			(void)imsdev_release_int_handle(dev, true, wq, index);
		return rc;
	}
	slot->want_masked = true;
	ims_write_ctrl(dev, slot, ims_ctrl(true, pasid_en, pasid));   /* prepare: masked, bound */
	imsdev_ims_bus_lock(slot);
	imsdev_ims_write_msg(dev, slot, &slot->irq.msg);
	imsdev_ims_bus_sync_unlock(dev, slot);
	return 0;
}

/* Shutdown: masked, address and data zeroed, then the platform entry goes. */
void imsdev_ims_free(struct imsdev_dev *dev, struct imsdev_ims_slot *slot)
{
	static const struct imsdev_msi_msg zero = { 0, 0, 0 };

	imsdev_ims_bus_lock(slot);
	imsdev_ims_mask(dev, slot);
	imsdev_ims_write_msg(dev, slot, &zero);
	slot->pasid_en = false;
	slot->pasid = 0;
	imsdev_ims_bus_sync_unlock(dev, slot);
	if (dev->request_int_handles)
		(void)imsdev_release_int_handle(dev, true, slot->wq, slot->index);
	dev->ops->irq_free(dev->ops->ctx, slot->irq.cookie);
}

/* ---- work queues ---- */
uint64_t imsdev_wq_portal(const struct imsdev_dev *dev, uint32_t wq)
{
	return dev->bar2 + (uint64_t)wq * IMSDEV_WQ_PORTAL_STRIDE;
}

/* WQCFG is latched by ENABLE_WQ: write it while the WQ is disabled. A shared WQ needs PASID_EN. */
int imsdev_wq_configure(struct imsdev_dev *dev, uint32_t wq, const struct imsdev_wq_config *cfg)
{
	uint32_t base = IMSDEV_CSR_WQCFG_AT(wq);
	bool pasid_en = cfg->dedicated ? cfg->pasid_en : true;

	if (wq >= dev->num_wq || cfg->size == 0 || cfg->size > dev->wq_depth)
		return -EINVAL;
	if (!cfg->dedicated && !dev->pasid_enabled)
		return -EOPNOTSUPP;
	wr32(dev, base + IMSDEV_CSR_WQCFG_WQCFG0, (uint32_t)IMSDEV_FIELD_PREP(CSR_WQCFG_WQCFG0_SIZE, cfg->size));
	wr32(dev, base + IMSDEV_CSR_WQCFG_WQCFG2, (uint32_t)(
		IMSDEV_FIELD_PREP(CSR_WQCFG_WQCFG2_MODE, cfg->dedicated ? 1u : 0u) |
		IMSDEV_FIELD_PREP(CSR_WQCFG_WQCFG2_PRIO, cfg->prio) |
		IMSDEV_FIELD_PREP(CSR_WQCFG_WQCFG2_PASID, cfg->pasid) |
		IMSDEV_FIELD_PREP(CSR_WQCFG_WQCFG2_PASID_EN, pasid_en ? 1u : 0u) |
		IMSDEV_FIELD_PREP(CSR_WQCFG_WQCFG2_PRIV, cfg->priv ? 1u : 0u)));
	wr32(dev, base + IMSDEV_CSR_WQCFG_WQCFG3,
	     (uint32_t)(IMSDEV_FIELD_PREP(CSR_WQCFG_WQCFG3_MAX_XFER_SHIFT, cfg->max_xfer_shift) |
			/* every WQ gets the device's batch limit, as idxd's default wq->max_batch_size */
			IMSDEV_FIELD_PREP(CSR_WQCFG_WQCFG3_MAX_BATCH_SHIFT, dev->max_batch_shift)));
	return 0;
}

int imsdev_wq_enable(struct imsdev_dev *dev, uint32_t wq)
{
	return imsdev_cmd(dev, IMSDEV_CMD_ENABLE_WQ, wq, NULL);
}

int imsdev_wq_disable(struct imsdev_dev *dev, uint32_t wq)
{
	return imsdev_cmd(dev, IMSDEV_CMD_DISABLE_WQ, wq, NULL);
}

/* ---- submission and completion ---- */
/* The 64 bytes of a descriptor; -EINVAL (nothing written) if PASID or flags do not fit their fields:
 * masking would turn a wrong value into another valid one. */
int imsdev_desc_pack(const struct imsdev_desc *d, uint8_t out[IMSDEV_DESC_SIZE])
{
	if (d->pasid > 0xFFFFFu || d->flags > 0xFFFFFFu)
		return -EINVAL;
	memset(out, 0, IMSDEV_DESC_SIZE);
	put_le(out + 0, d->pasid | (d->priv ? 0x80000000u : 0u), 4);
	put_le(out + 4, d->flags | ((uint32_t)d->opcode << 24), 4);
	put_le(out + 8, d->completion_addr, 8);
	put_le(out + 16, d->src, 8);
	put_le(out + 24, d->dst, 8);
	put_le(out + 32, d->xfer_size, 4);
	put_le(out + 36, d->int_handle, 2);
	return 0;
}

int imsdev_batch_desc(struct imsdev_desc *d, uint64_t desc_list_addr, uint32_t desc_count, uint32_t max_batch,
		      uint32_t flags, uint64_t completion_addr, uint16_t int_handle)
{
	if (desc_list_addr % IMSDEV_DESC_SIZE || desc_count < 2u || desc_count > max_batch || flags > 0xFFFFFFu)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	d->opcode = IMSDEV_OPCODE_BATCH;
	d->flags = flags;
	d->completion_addr = completion_addr;
	d->src = desc_list_addr;
	d->xfer_size = desc_count;
	d->int_handle = int_handle;
	return 0;
}

void imsdev_completion_unpack(const uint8_t raw[IMSDEV_COMP_SIZE], struct imsdev_completion *c)
{
	c->status = raw[0] & IMSDEV_COMP_STATUS_MASK;
	c->result = raw[1];
	c->bytes_completed = (uint32_t)get_le(raw + 4, 4);
	c->fault_addr = get_le(raw + 8, 8);
	c->invalid_flags = (uint32_t)get_le(raw + 16, 4) & 0xFFFFFFu;
}

/* ENQCMDS with Linux idxd's bounded retry: RRS is retried at most `retries` more times. */
int imsdev_enqcmd(struct imsdev_dev *dev, uint32_t wq, const struct imsdev_desc *d, unsigned retries)
{
	uint8_t raw[IMSDEV_DESC_SIZE];
	int st;

	if (imsdev_desc_pack(d, raw))
		return -EINVAL;
	do {
		dev->enqcmd_attempts++;
		st = dev->ops->dmwr(dev->ops->ctx, imsdev_wq_portal(dev, wq), raw, d->pasid, d->priv);
		if (st == IMSDEV_DMWR_SC)
			return 0;
		if (st != IMSDEV_DMWR_RRS)
			return -EIO;          /* UR/CA: refused and logged in SWERR; retrying cannot help */
	} while (retries--);
	return -EAGAIN;
}

/* MOVDIR64B to a dedicated WQ: posted, so the caller must not have more outstanding than WQCFG0.SIZE.
 * -EINVAL (nothing sent) for a descriptor that cannot be encoded. */
int imsdev_movdir64b(struct imsdev_dev *dev, uint32_t wq, const struct imsdev_desc *d)
{
	uint8_t raw[IMSDEV_DESC_SIZE];

	if (imsdev_desc_pack(d, raw))
		return -EINVAL;
	dev->ops->movdir64b(dev->ops->ctx, imsdev_wq_portal(dev, wq), raw);
	return 0;
}

int imsdev_wait_completion(struct imsdev_dev *dev, uint64_t comp_addr, uint64_t timeout_ns,
			   struct imsdev_completion *c)
{
	uint8_t raw[IMSDEV_COMP_SIZE];

	for (uint64_t waited = 0;; waited += COMP_POLL_NS) {
		dev->ops->mem_read(dev->ops->ctx, comp_addr, raw, sizeof(raw));
		if (raw[0] & IMSDEV_COMP_STATUS_MASK) {
			imsdev_completion_unpack(raw, c);
			return 0;
		}
		if (waited >= timeout_ns)
			return -ETIMEDOUT;
		dev->ops->delay_ns(dev->ops->ctx, COMP_POLL_NS);
	}
}

/* ---- errors ---- */
void imsdev_swerr_read(struct imsdev_dev *dev, struct imsdev_swerr *e)
{
	uint32_t w0 = rd32(dev, IMSDEV_CSR_SWERR0), w1 = rd32(dev, IMSDEV_CSR_SWERR1);
	uint32_t lo, hi;

	e->valid = IMSDEV_FIELD_GET(CSR_SWERR0_VALID, w0);
	e->overflow = IMSDEV_FIELD_GET(CSR_SWERR0_OVERFLOW, w0);
	e->wq_valid = IMSDEV_FIELD_GET(CSR_SWERR0_WQ_VALID, w0);
	e->priv = IMSDEV_FIELD_GET(CSR_SWERR0_PRIV, w0);
	e->code = (uint8_t)IMSDEV_FIELD_GET(CSR_SWERR0_CODE, w0);
	e->wq = (uint8_t)IMSDEV_FIELD_GET(CSR_SWERR0_WQ, w0);
	e->code_status = (uint8_t)IMSDEV_FIELD_GET(CSR_SWERR0_CODE_STATUS, w0);
	e->pasid = (uint32_t)IMSDEV_FIELD_GET(CSR_SWERR1_PASID, w1);
	e->opcode = (uint8_t)IMSDEV_FIELD_GET(CSR_SWERR1_OPCODE, w1);
	/* Two statements: the bus sees SWERR2 then SWERR3 (the operands of one '|' are unsequenced). */
	lo = rd32(dev, IMSDEV_CSR_SWERR2);
	hi = rd32(dev, IMSDEV_CSR_SWERR3);
	e->addr = ((uint64_t)hi << 32) | lo;
}

void imsdev_swerr_clear(struct imsdev_dev *dev)
{
	wr32(dev, IMSDEV_CSR_SWERR0, IMSDEV_CSR_SWERR0_VALID_MASK | IMSDEV_CSR_SWERR0_OVERFLOW_MASK);
}

void imsdev_mmio_err_read(struct imsdev_dev *dev, struct imsdev_mmio_err *m)
{
	uint32_t err = rd32(dev, IMSDEV_CSR_ERR);

	m->valid = err & IMSDEV_CSR_ERR_VALID_MASK;
	m->overflow = err & IMSDEV_CSR_ERR_OVERFLOW_MASK;
	m->code = (uint8_t)IMSDEV_FIELD_GET(CSR_ERR_CODE, err);
	m->offset = rd32(dev, IMSDEV_CSR_ERR_ADDR);
}

/* MSI-X vector 0: acknowledge the cause, then copy and acknowledge the error records (re-arms capture). */
uint32_t imsdev_handle_misc_irq(struct imsdev_dev *dev, struct imsdev_misc_irq *m)
{
	uint32_t cause = rd32(dev, IMSDEV_CSR_INT_CAUSE);
	uint32_t link;

	memset(m, 0, sizeof(*m));
	if (!cause)
		return 0;
	m->cause = cause;
	wr32(dev, IMSDEV_CSR_INT_CAUSE, cause);
	if (cause & IMSDEV_CSR_INT_CAUSE_ERR_LOG_MASK) {
		imsdev_swerr_read(dev, &m->swerr);
		if (m->swerr.valid)
			imsdev_swerr_clear(dev);
	}
	if (cause & IMSDEV_CSR_INT_CAUSE_MMIO_ERR_MASK) {
		imsdev_mmio_err_read(dev, &m->mmio);
		wr32(dev, IMSDEV_CSR_ERR, IMSDEV_CSR_ERR_VALID_MASK | IMSDEV_CSR_ERR_OVERFLOW_MASK);
	}
	/* LINK_ERR raises no interrupt of its own: report what accumulated since the last call. */
	link = rd32(dev, IMSDEV_CSR_LINK_ERR);
	if (link & IMSDEV_CSR_LINK_ERR_UNEXPECTED_CPL_MASK) {
		m->unexpected_cpl = (uint32_t)IMSDEV_FIELD_GET(CSR_LINK_ERR_UNEXPECTED_COUNT, link);
		wr32(dev, IMSDEV_CSR_LINK_ERR,
		     IMSDEV_CSR_LINK_ERR_UNEXPECTED_CPL_MASK | IMSDEV_CSR_LINK_ERR_UNEXPECTED_COUNT_MASK);
	}
	return cause;
}

const char *imsdev_mmio_err_name(uint32_t code)
{
	switch (code) {
	case IMSDEV_MMIO_ERR_NONE: return "NONE";
	case IMSDEV_MMIO_ERR_WR_TOO_BIG: return "WR_TOO_BIG";
	case IMSDEV_MMIO_ERR_RD_TOO_BIG: return "RD_TOO_BIG";
	case IMSDEV_MMIO_ERR_UNALIGNED: return "UNALIGNED";
	case IMSDEV_MMIO_ERR_PARTIAL: return "PARTIAL";
	case IMSDEV_MMIO_ERR_UNSUPPORTED: return "UNSUPPORTED";
	case IMSDEV_MMIO_ERR_RO_WRITE: return "RO_WRITE";
	case IMSDEV_MMIO_ERR_POISONED: return "POISONED";
	case IMSDEV_MMIO_ERR_MSIX_UNMASKED_WRITE: return "MSIX_UNMASKED_WRITE";
	default: return "?";
	}
}

const char *imsdev_swerr_name(uint32_t code)
{
	switch (code) {
	case IMSDEV_SWERR_NONE: return "NONE";
	case IMSDEV_SWERR_PORTAL_SIZE: return "PORTAL_SIZE";
	case IMSDEV_SWERR_PORTAL_NO_PASID: return "PORTAL_NO_PASID";
	case IMSDEV_SWERR_PORTAL_PASID_OFF: return "PORTAL_PASID_OFF";
	case IMSDEV_SWERR_PORTAL_PRIV: return "PORTAL_PRIV";
	case IMSDEV_SWERR_PORTAL_MODE: return "PORTAL_MODE";
	case IMSDEV_SWERR_DWQ_FULL: return "DWQ_FULL";
	case IMSDEV_SWERR_DWQ_DISABLED: return "DWQ_DISABLED";
	case IMSDEV_SWERR_PORTAL_READ: return "PORTAL_READ";
	case IMSDEV_SWERR_PORTAL_NO_WQ: return "PORTAL_NO_WQ";
	case IMSDEV_SWERR_NO_CR: return "NO_CR";
	case IMSDEV_SWERR_CR_XLAT: return "CR_XLAT";
	case IMSDEV_SWERR_IMS_PASID: return "IMS_PASID";
	case IMSDEV_SWERR_IMS_UNMASKED_WRITE: return "IMS_UNMASKED_WRITE";
	default: return "UNKNOWN";
	}
}

const char *imsdev_cmd_err_name(uint32_t err)
{
	switch (err) {
	case IMSDEV_CMD_ERR_OK: return "OK";
	case IMSDEV_CMD_ERR_INVAL_CMD: return "INVAL_CMD";
	case IMSDEV_CMD_ERR_DEV_ENABLED: return "DEV_ENABLED";
	case IMSDEV_CMD_ERR_DEV_NOT_ENABLED: return "DEV_NOT_ENABLED";
	case IMSDEV_CMD_ERR_WQ_INVAL: return "WQ_INVAL";
	case IMSDEV_CMD_ERR_WQ_ENABLED: return "WQ_ENABLED";
	case IMSDEV_CMD_ERR_WQ_NOT_ENABLED: return "WQ_NOT_ENABLED";
	case IMSDEV_CMD_ERR_WQ_SIZE: return "WQ_SIZE";
	case IMSDEV_CMD_ERR_WQ_MODE: return "WQ_MODE";
	case IMSDEV_CMD_ERR_WQ_PASID_EN: return "WQ_PASID_EN";
	default: return "UNKNOWN";
	}
}

void imsdev_remove(struct imsdev_dev *dev)
{
	if (IMSDEV_FIELD_GET(CSR_GENSTS_ENABLED, rd32(dev, IMSDEV_CSR_GENSTS)))
		(void)imsdev_device_disable(dev);
	wr32(dev, IMSDEV_CSR_INT_ENABLE, 0);
	if (dev->msix_nvec)
		imsdev_msix_disable(dev);
	if (dev->pasid_enabled)
		imsdev_pci_disable_pasid(dev);
	cfg_clear_set16(dev, PCI_COMMAND, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 0);
}
