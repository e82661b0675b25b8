/*
 * The C library's end-to-end scenario, run by the regression against the RTL
 * (tb/tests/fw/test_c_library.py): bring-up, a shared and a dedicated WQ, IMS and MSI-X, ENQCMD with
 * bounded retry and MOVDIR64B, interrupts, completion records, batches, an injected error. Returns 0 or the
 * first failed check (enum imsdev_scenario_result), so a failure names itself.
 */
#include "imsdev.h"

#include <errno.h>
#include <string.h>

#define CHECK(cond, code) do { if (!(cond)) return (code); } while (0)

#define SHARED_WQ          0u
#define MOVE_SIZE          1000u
#define FILL_SIZE          777u
#define FILL_PATTERN       0x0123456789ABCDEFull
#define BAD_OPCODE         0x7Fu
#define BUF_SIZE           0x4000u
#define BUF_SRC            0x1000u
#define BUF_DST            0x2000u
#define BUF_FILL           0x3000u
#define BUF_LIST           0x0800u   /* batch descriptor lists (the records use 0x000-0x7FF) */
#define BATCH_MOVE_SIZE    300u
#define BATCH_SRC          (BUF_SRC + 0x400u)
#define BATCH_DST          (BUF_DST + 0x600u + 5u)

struct ctx {
	struct imsdev_dev dev;
	const struct imsdev_scenario_params *p;
	struct imsdev_scenario_stats *st;
	uint64_t buf;
	uint32_t next_cr;
};

static uint64_t next_cr(struct ctx *c)
{
	return c->buf + (uint64_t)(c->next_cr++ % 64u) * IMSDEV_COMP_SIZE;
}

static const struct imsdev_ops *ops_of(struct ctx *c)
{
	return c->dev.ops;
}

static int wait_irq(struct ctx *c, uint32_t cookie, uint64_t timeout_ns)
{
	int rc = ops_of(c)->wait_irq(ops_of(c)->ctx, cookie, timeout_ns);

	if (rc == 0)
		c->st->interrupts++;
	return rc;
}

/* The record must already be in host memory when its interrupt is taken (written first, same path). */
static int record_now(struct ctx *c, uint64_t cr, struct imsdev_completion *comp)
{
	int rc = imsdev_wait_completion(&c->dev, cr, 0, comp);

	if (rc == 0)
		c->st->descriptors++;
	return rc;
}

static int poll_record(struct ctx *c, uint64_t cr, struct imsdev_completion *comp)
{
	int rc = imsdev_wait_completion(&c->dev, cr, c->p->irq_timeout_ns, comp);

	if (rc == 0)
		c->st->descriptors++;
	return rc;
}

static struct imsdev_desc desc_noop(uint64_t cr, uint32_t extra_flags, uint16_t handle)
{
	struct imsdev_desc d;

	memset(&d, 0, sizeof(d));
	d.opcode = IMSDEV_OPCODE_NOOP;
	d.flags = IMSDEV_FLAG_CRAV | IMSDEV_FLAG_RCR | extra_flags;
	d.completion_addr = cr;
	d.int_handle = handle;
	return d;
}

static bool slot_matches(struct ctx *c, const struct imsdev_ims_slot *s, uint32_t words[4])
{
	const struct imsdev_ops *o = ops_of(c);

	words[0] = o->mmio_read32(o->ctx, s->base + IMSDEV_IMS_ENTRY_ADDR_LO);
	words[1] = o->mmio_read32(o->ctx, s->base + IMSDEV_IMS_ENTRY_ADDR_HI);
	words[2] = o->mmio_read32(o->ctx, s->base + IMSDEV_IMS_ENTRY_DATA);
	words[3] = o->mmio_read32(o->ctx, s->base + IMSDEV_IMS_ENTRY_CTRL);
	return words[0] == s->irq.msg.address_lo && words[1] == s->irq.msg.address_hi &&
	       words[2] == s->irq.msg.data &&
	       IMSDEV_FIELD_GET(IMS_ENTRY_CTRL_PASID_EN, words[3]) == (s->pasid_en ? 1u : 0u) &&
	       IMSDEV_FIELD_GET(IMS_ENTRY_CTRL_PASID, words[3]) == s->pasid;
}

static int bring_up(struct ctx *c, const struct imsdev_ops *ops)
{
	struct imsdev_dev *dev = &c->dev;
	const struct imsdev_ops *o;

	CHECK(imsdev_probe(dev, ops) == 0, IMSDEV_SCN_PROBE);
	o = ops_of(c);
	c->st->num_wq = dev->num_wq;
	c->st->msix_vectors = dev->msix_vectors;
	c->st->ims_per_wq = dev->ims_per_wq;
	CHECK(dev->num_wq >= 1 && dev->num_wq <= IMSDEV_MAX_WQ && dev->wq_depth >= 1 &&
	      dev->ims_per_wq >= 1 && dev->msix_vectors >= 2, IMSDEV_SCN_CAPS);
	CHECK(imsdev_pci_enable_pasid(dev, true) == 0, IMSDEV_SCN_PASID);

	/* vector 0: device errors; vector 1: dedicated WQ completions. IMS takes two more interrupts (the
	 * slot's first message and the one it is rewritten to): hwsize covers them, for the ARM ITT. */
	CHECK(imsdev_msix_enable(dev, 2, 2) == 0, IMSDEV_SCN_MSIX_SETUP);
	for (uint32_t v = 0; v < 2; v++) {
		uint64_t e = dev->msix_table + (uint64_t)v * IMSDEV_MSIX_TABLE_STRIDE;

		CHECK(o->mmio_read32(o->ctx, e + IMSDEV_MSIX_TABLE_ADDR_LO) == dev->msix_irq[v].msg.address_lo &&
		      o->mmio_read32(o->ctx, e + IMSDEV_MSIX_TABLE_ADDR_HI) == dev->msix_irq[v].msg.address_hi &&
		      o->mmio_read32(o->ctx, e + IMSDEV_MSIX_TABLE_DATA) == dev->msix_irq[v].msg.data &&
		      o->mmio_read32(o->ctx, e + IMSDEV_MSIX_TABLE_VECTOR_CTRL) == IMSDEV_MSIX_TABLE_VECTOR_CTRL_MASK_MASK,
		      IMSDEV_SCN_MSIX_READBACK);
		imsdev_msix_unmask(dev, v);
	}
	o->mmio_write32(o->ctx, dev->bar0 + IMSDEV_CSR_INT_ENABLE,
			IMSDEV_CSR_INT_ENABLE_ERR_LOG_MASK | IMSDEV_CSR_INT_ENABLE_MMIO_ERR_MASK);
	CHECK(imsdev_device_enable(dev) == IMSDEV_CMD_ERR_OK, IMSDEV_SCN_DEVICE_ENABLE);

	c->buf = o->mem_alloc(o->ctx, BUF_SIZE, 4096);
	CHECK(c->buf != 0, IMSDEV_SCN_HOST_MEMORY);
	return IMSDEV_SCN_OK;
}

static int configure_dedicated(struct ctx *c, uint32_t wq)
{
	struct imsdev_wq_config cfg = {
		.size = c->dev.wq_depth < 4 ? c->dev.wq_depth : 4, .dedicated = true, .pasid_en = true,
		.pasid = c->p->pasid_dedicated, .max_xfer_shift = 16,
	};

	CHECK(imsdev_wq_configure(&c->dev, wq, &cfg) == 0, IMSDEV_SCN_WQ_DEDICATED);
	CHECK(imsdev_wq_enable(&c->dev, wq) == IMSDEV_CMD_ERR_OK, IMSDEV_SCN_WQ_DEDICATED);
	c->st->dedicated_wq = wq;
	return IMSDEV_SCN_OK;
}

static int shared_wq_phase(struct ctx *c, struct imsdev_ims_slot *slot)
{
	struct imsdev_dev *dev = &c->dev;
	const struct imsdev_ops *o = ops_of(c);
	struct imsdev_wq_config cfg = { .size = dev->wq_depth < 4 ? dev->wq_depth : 4, .max_xfer_shift = 16 };
	struct imsdev_completion comp;
	struct imsdev_desc d;
	uint8_t src[MOVE_SIZE + 8], dst[MOVE_SIZE];
	uint32_t words[4];
	uint64_t cr;
	uint16_t ims_handle;

	CHECK(imsdev_wq_configure(dev, SHARED_WQ, &cfg) == 0, IMSDEV_SCN_WQ_SHARED);
	CHECK(imsdev_wq_enable(dev, SHARED_WQ) == IMSDEV_CMD_ERR_OK, IMSDEV_SCN_WQ_SHARED);

	/* IMS slot 0 of the shared WQ, bound to the submitter's PASID */
	CHECK(imsdev_ims_alloc(dev, SHARED_WQ, 0, true, c->p->pasid_shared, slot) == 0, IMSDEV_SCN_IMS_SETUP);
	ims_handle = slot->int_handle;       /* requested from the device when it grants handles */
	imsdev_ims_unmask(dev, slot);
	CHECK(slot_matches(c, slot, words) && !IMSDEV_FIELD_GET(IMS_ENTRY_CTRL_MASK, words[3]),
	      IMSDEV_SCN_IMS_READBACK);

	/* MEMMOVE through ENQCMD, completion interrupt through the IMS slot */
	for (uint32_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7u + 1u);
	o->mem_write(o->ctx, c->buf + BUF_SRC, src, sizeof(src));
	cr = next_cr(c);
	memset(&d, 0, sizeof(d));
	d.opcode = IMSDEV_OPCODE_MEMMOVE;
	d.flags = IMSDEV_FLAG_CRAV | IMSDEV_FLAG_RCR | IMSDEV_FLAG_RCI;
	d.pasid = c->p->pasid_shared;
	d.completion_addr = cr;
	d.src = c->buf + BUF_SRC + 3;
	d.dst = c->buf + BUF_DST + 5;
	d.xfer_size = MOVE_SIZE;
	d.int_handle = ims_handle;
	CHECK(imsdev_enqcmd(dev, SHARED_WQ, &d, IMSDEV_ENQCMDS_RETRIES) == 0, IMSDEV_SCN_ENQCMD);
	CHECK(wait_irq(c, slot->irq.cookie, c->p->irq_timeout_ns) == 0, IMSDEV_SCN_IMS_IRQ);
	CHECK(record_now(c, cr, &comp) == 0 && comp.status == IMSDEV_COMP_SUCCESS &&
	      comp.bytes_completed == MOVE_SIZE, IMSDEV_SCN_SHARED_CR);
	o->mem_read(o->ctx, c->buf + BUF_DST + 5, dst, sizeof(dst));
	CHECK(memcmp(dst, src + 3, MOVE_SIZE) == 0, IMSDEV_SCN_SHARED_DATA);

	/* bounded retry: a disabled shared WQ answers RRS (retry), logs nothing; 1 + 3 attempts, -EAGAIN */
	CHECK(imsdev_wq_disable(dev, SHARED_WQ) == IMSDEV_CMD_ERR_OK, IMSDEV_SCN_RETRY);
	{
		struct imsdev_swerr e;
		uint32_t before = dev->enqcmd_attempts;

		d = desc_noop(next_cr(c), 0, 0);
		d.pasid = c->p->pasid_shared;
		CHECK(imsdev_enqcmd(dev, SHARED_WQ, &d, 3) == -EAGAIN, IMSDEV_SCN_RETRY);
		CHECK(dev->enqcmd_attempts - before == 4, IMSDEV_SCN_RETRY);
		imsdev_swerr_read(dev, &e);
		CHECK(!e.valid, IMSDEV_SCN_RETRY);
	}
	CHECK(imsdev_wq_enable(dev, SHARED_WQ) == IMSDEV_CMD_ERR_OK, IMSDEV_SCN_RETRY);
	CHECK(imsdev_enqcmd(dev, SHARED_WQ, &d, IMSDEV_ENQCMDS_RETRIES) == 0, IMSDEV_SCN_RETRY);
	CHECK(poll_record(c, d.completion_addr, &comp) == 0 && comp.status == IMSDEV_COMP_SUCCESS, IMSDEV_SCN_RETRY);

	/* masked slot: the record comes, the interrupt does not; PENDING; one message on unmask */
	imsdev_ims_mask(dev, slot);
	d = desc_noop(next_cr(c), IMSDEV_FLAG_RCI, ims_handle);
	d.pasid = c->p->pasid_shared;
	CHECK(imsdev_enqcmd(dev, SHARED_WQ, &d, IMSDEV_ENQCMDS_RETRIES) == 0, IMSDEV_SCN_ENQCMD);
	CHECK(poll_record(c, d.completion_addr, &comp) == 0 && comp.status == IMSDEV_COMP_SUCCESS,
	      IMSDEV_SCN_SHARED_CR);
	CHECK(wait_irq(c, slot->irq.cookie, c->p->quiet_ns) == -ETIMEDOUT, IMSDEV_SCN_MASKED_FIRED);
	CHECK(imsdev_ims_pending(dev, slot), IMSDEV_SCN_PENDING);
	imsdev_ims_unmask(dev, slot);
	CHECK(wait_irq(c, slot->irq.cookie, c->p->irq_timeout_ns) == 0, IMSDEV_SCN_PENDING);
	CHECK(!imsdev_ims_pending(dev, slot), IMSDEV_SCN_PENDING);
	CHECK(wait_irq(c, slot->irq.cookie, c->p->quiet_ns) == -ETIMEDOUT, IMSDEV_SCN_PENDING);

	/* affinity: the platform retargets its entry; the device's slot is not touched */
	for (uint32_t cpu = 1; cpu <= 2 && !(c->p->flags & IMSDEV_SCN_FLAG_NO_IRQ_REMAP); cpu++) {
		uint32_t before[4], after[4];

		(void)slot_matches(c, slot, before);
		CHECK(o->irq_set_affinity(o->ctx, slot->irq.cookie, cpu) == 0, IMSDEV_SCN_AFFINITY);
		(void)slot_matches(c, slot, after);
		CHECK(memcmp(before, after, sizeof(before)) == 0, IMSDEV_SCN_AFFINITY);
		d = desc_noop(next_cr(c), IMSDEV_FLAG_RCI, ims_handle);
		d.pasid = c->p->pasid_shared;
		CHECK(imsdev_enqcmd(dev, SHARED_WQ, &d, IMSDEV_ENQCMDS_RETRIES) == 0, IMSDEV_SCN_ENQCMD);
		CHECK(wait_irq(c, slot->irq.cookie, c->p->irq_timeout_ns) == 0, IMSDEV_SCN_AFFINITY);
		CHECK(record_now(c, d.completion_addr, &comp) == 0 && comp.status == IMSDEV_COMP_SUCCESS,
		      IMSDEV_SCN_SHARED_CR);
	}

	/* a live slot gets a new message (a new platform interrupt): queued under the bus lock, applied at
	 * unlock behind a mask; the device must neither refuse it (SWERR) nor send the old message */
	{
		struct imsdev_irq old = slot->irq, fresh;
		struct imsdev_swerr e;

		CHECK(o->irq_alloc(o->ctx, 1, 0, &fresh.cookie, &fresh.msg) == 0, IMSDEV_SCN_IMS_REWRITE);
		imsdev_ims_bus_lock(slot);
		imsdev_ims_write_msg(dev, slot, &fresh.msg);
		imsdev_ims_bus_sync_unlock(dev, slot);
		slot->irq = fresh;
		o->irq_free(o->ctx, old.cookie);
		CHECK(slot_matches(c, slot, words) && !IMSDEV_FIELD_GET(IMS_ENTRY_CTRL_MASK, words[3]),
		      IMSDEV_SCN_IMS_REWRITE);
		d = desc_noop(next_cr(c), IMSDEV_FLAG_RCI, ims_handle);
		d.pasid = c->p->pasid_shared;
		CHECK(imsdev_enqcmd(dev, SHARED_WQ, &d, IMSDEV_ENQCMDS_RETRIES) == 0, IMSDEV_SCN_ENQCMD);
		CHECK(wait_irq(c, slot->irq.cookie, c->p->irq_timeout_ns) == 0, IMSDEV_SCN_IMS_REWRITE);
		CHECK(record_now(c, d.completion_addr, &comp) == 0 && comp.status == IMSDEV_COMP_SUCCESS,
		      IMSDEV_SCN_SHARED_CR);
		imsdev_swerr_read(dev, &e);
		CHECK(!e.valid, IMSDEV_SCN_IMS_REWRITE);
	}

	/* process exit (idxd_cdev release): a descriptor still in flight, DRAIN_PASID, then nothing of the
	 * PASID is left to abort; a PASID wider than 20 bits is refused before the device sees it */
	{
		uint32_t discarded = ~0u;

		d = desc_noop(next_cr(c), 0, 0);
		d.pasid = c->p->pasid_shared;
		CHECK(imsdev_enqcmd(dev, SHARED_WQ, &d, IMSDEV_ENQCMDS_RETRIES) == 0, IMSDEV_SCN_ENQCMD);
		CHECK(imsdev_drain_pasid(dev, c->p->pasid_shared) == IMSDEV_CMD_ERR_OK, IMSDEV_SCN_DRAIN_PASID);
		CHECK(poll_record(c, d.completion_addr, &comp) == 0 && comp.status == IMSDEV_COMP_SUCCESS,
		      IMSDEV_SCN_DRAIN_PASID);
		CHECK(imsdev_abort_pasid(dev, c->p->pasid_shared, &discarded) == IMSDEV_CMD_ERR_OK && discarded == 0,
		      IMSDEV_SCN_DRAIN_PASID);
		CHECK(imsdev_drain_pasid(dev, 1u << 20) == -EINVAL, IMSDEV_SCN_DRAIN_PASID);
	}
	return IMSDEV_SCN_OK;
}

/* Writes the members as a descriptor list at BUF_LIST and submits a batch of them on a dedicated WQ. */
static int submit_batch(struct ctx *c, uint32_t wq, const struct imsdev_desc *members, uint32_t n,
			uint32_t flags, uint16_t handle, struct imsdev_desc *batch)
{
	const struct imsdev_ops *o = ops_of(c);
	uint8_t raw[IMSDEV_DESC_SIZE];

	for (uint32_t i = 0; i < n; i++) {
		if (imsdev_desc_pack(&members[i], raw) != 0)
			return -EINVAL;
		o->mem_write(o->ctx, c->buf + BUF_LIST + (uint64_t)i * IMSDEV_DESC_SIZE, raw, sizeof(raw));
	}
	if (imsdev_batch_desc(batch, c->buf + BUF_LIST, n, 1u << c->dev.max_batch_shift, flags, next_cr(c),
			      handle) != 0)
		return -EINVAL;
	return imsdev_movdir64b(&c->dev, wq, batch);
}

/* Batches (opcode 0x01) on the dedicated WQ: a MEMMOVE, a NOOP and a MEMFILL in one batch, whose record
 * and MSI-X interrupt come after every member's record; then a batch with an undefined opcode among its
 * members: that member fails alone (0x10), the others run, the batch ends BATCH_FAIL with all counted. */
static int batch_phase(struct ctx *c, uint32_t wq)
{
	struct imsdev_dev *dev = &c->dev;
	const struct imsdev_ops *o = ops_of(c);
	struct imsdev_completion comp;
	struct imsdev_desc m[3], b;
	uint8_t src[BATCH_MOVE_SIZE], dst[BATCH_MOVE_SIZE];

	for (uint32_t i = 0; i < BATCH_MOVE_SIZE; i++)
		src[i] = (uint8_t)(0xA5u ^ (i * 7u));
	o->mem_write(o->ctx, c->buf + BATCH_SRC, src, sizeof(src));
	memset(m, 0, sizeof(m));
	m[0].opcode = IMSDEV_OPCODE_MEMMOVE;
	m[0].flags = IMSDEV_FLAG_CRAV | IMSDEV_FLAG_RCR;
	m[0].completion_addr = next_cr(c);
	m[0].src = c->buf + BATCH_SRC;
	m[0].dst = c->buf + BATCH_DST;
	m[0].xfer_size = BATCH_MOVE_SIZE;
	m[1] = desc_noop(next_cr(c), 0, 0);
	m[2].opcode = IMSDEV_OPCODE_MEMFILL;
	m[2].flags = IMSDEV_FLAG_CRAV | IMSDEV_FLAG_RCR;
	m[2].completion_addr = next_cr(c);
	m[2].src = FILL_PATTERN;
	m[2].dst = c->buf + BUF_FILL + 0x800u;
	m[2].xfer_size = 64u;
	CHECK(submit_batch(c, wq, m, 3, IMSDEV_FLAG_CRAV | IMSDEV_FLAG_RCR | IMSDEV_FLAG_RCI, dev->msix_handle[1],
			   &b) == 0, IMSDEV_SCN_BATCH);
	CHECK(wait_irq(c, dev->msix_irq[1].cookie, c->p->irq_timeout_ns) == 0, IMSDEV_SCN_BATCH);
	/* the batch's record and every member's are in memory when the batch's interrupt is taken */
	CHECK(record_now(c, b.completion_addr, &comp) == 0 && comp.status == IMSDEV_COMP_SUCCESS &&
	      comp.bytes_completed == 3u, IMSDEV_SCN_BATCH);
	for (uint32_t i = 0; i < 3; i++)
		CHECK(record_now(c, m[i].completion_addr, &comp) == 0 && comp.status == IMSDEV_COMP_SUCCESS &&
		      comp.bytes_completed == m[i].xfer_size, IMSDEV_SCN_BATCH);
	o->mem_read(o->ctx, c->buf + BATCH_DST, dst, sizeof(dst));
	CHECK(memcmp(src, dst, sizeof(dst)) == 0, IMSDEV_SCN_BATCH);

	m[0] = desc_noop(next_cr(c), 0, 0);
	m[1] = desc_noop(next_cr(c), 0, 0);
	m[1].opcode = BAD_OPCODE;
	m[2] = desc_noop(next_cr(c), 0, 0);
	CHECK(submit_batch(c, wq, m, 3, IMSDEV_FLAG_CRAV | IMSDEV_FLAG_RCR, 0, &b) == 0, IMSDEV_SCN_BATCH);
	CHECK(poll_record(c, b.completion_addr, &comp) == 0 && comp.status == IMSDEV_COMP_BATCH_FAIL &&
	      comp.bytes_completed == 3u, IMSDEV_SCN_BATCH);
	for (uint32_t i = 0; i < 3; i++)
		CHECK(record_now(c, m[i].completion_addr, &comp) == 0 &&
		      comp.status == (i == 1 ? IMSDEV_COMP_BAD_OPCODE : IMSDEV_COMP_SUCCESS), IMSDEV_SCN_BATCH);
	return IMSDEV_SCN_OK;
}

static int dedicated_wq_phase(struct ctx *c, uint32_t wq)
{
	struct imsdev_dev *dev = &c->dev;
	const struct imsdev_ops *o = ops_of(c);
	struct imsdev_completion comp;
	struct imsdev_misc_irq m;
	struct imsdev_swerr e;
	struct imsdev_desc d;
	uint8_t dst[FILL_SIZE];
	uint32_t cause;

	/* MEMFILL through MOVDIR64B, completion interrupt on MSI-X vector 1 */
	memset(&d, 0, sizeof(d));
	d.opcode = IMSDEV_OPCODE_MEMFILL;
	d.flags = IMSDEV_FLAG_CRAV | IMSDEV_FLAG_RCR | IMSDEV_FLAG_RCI;
	d.completion_addr = next_cr(c);
	d.src = FILL_PATTERN;
	d.dst = c->buf + BUF_FILL + 1;
	d.xfer_size = FILL_SIZE;
	d.int_handle = dev->msix_handle[1];
	CHECK(imsdev_movdir64b(dev, wq, &d) == 0, IMSDEV_SCN_DEDICATED_CR);
	CHECK(wait_irq(c, dev->msix_irq[1].cookie, c->p->irq_timeout_ns) == 0, IMSDEV_SCN_MSIX_IRQ);
	CHECK(record_now(c, d.completion_addr, &comp) == 0 && comp.status == IMSDEV_COMP_SUCCESS &&
	      comp.bytes_completed == FILL_SIZE, IMSDEV_SCN_DEDICATED_CR);
	o->mem_read(o->ctx, d.dst, dst, sizeof(dst));
	for (uint32_t i = 0; i < FILL_SIZE; i++)
		CHECK(dst[i] == (uint8_t)(FILL_PATTERN >> (8u * (i % 8u))), IMSDEV_SCN_DEDICATED_DATA);
	if (batch_phase(c, wq) != IMSDEV_SCN_OK)
		return IMSDEV_SCN_BATCH;

	/* injected error 1: a bad opcode with a record -> status BAD_OPCODE, nothing logged */
	d = desc_noop(next_cr(c), 0, 0);
	d.opcode = BAD_OPCODE;
	CHECK(imsdev_movdir64b(dev, wq, &d) == 0, IMSDEV_SCN_ERR_CR);
	CHECK(poll_record(c, d.completion_addr, &comp) == 0 && comp.status == IMSDEV_COMP_BAD_OPCODE,
	      IMSDEV_SCN_ERR_CR);

	/* injected error 2: the same without a record address -> SWERR NO_CR -> MSI-X vector 0 */
	d = desc_noop(0, 0, 0);
	d.opcode = BAD_OPCODE;
	d.flags = IMSDEV_FLAG_RCR;
	CHECK(imsdev_movdir64b(dev, wq, &d) == 0, IMSDEV_SCN_ERR_IRQ);
	CHECK(wait_irq(c, dev->msix_irq[0].cookie, c->p->irq_timeout_ns) == 0, IMSDEV_SCN_ERR_IRQ);
	cause = imsdev_handle_misc_irq(dev, &m);
	e = m.swerr;
	c->st->swerr_code = e.code;
	c->st->swerr_wq = e.wq;
	c->st->swerr_status = e.code_status;
	CHECK((cause & IMSDEV_CSR_INT_CAUSE_ERR_LOG_MASK) && e.valid && !e.overflow && e.code == IMSDEV_SWERR_NO_CR &&
	      e.wq_valid && e.wq == wq && e.code_status == IMSDEV_COMP_BAD_OPCODE && e.opcode == BAD_OPCODE &&
	      e.pasid == c->p->pasid_dedicated, IMSDEV_SCN_ERR_SWERR);
	imsdev_swerr_read(dev, &e);
	CHECK(!e.valid && !e.overflow &&
	      o->mmio_read32(o->ctx, dev->bar0 + IMSDEV_CSR_INT_CAUSE) == 0, IMSDEV_SCN_ERR_CLEAR);

	/* injected error 3: a write to the read-only PBA -> ERR RO_WRITE at its offset -> MSI-X vector 0 */
	o->mmio_write32(o->ctx, dev->bar0 + IMSDEV_MSIX_PBA_BASE, 0xFFFFFFFFu);
	CHECK(wait_irq(c, dev->msix_irq[0].cookie, c->p->irq_timeout_ns) == 0, IMSDEV_SCN_ERR_MMIO);
	cause = imsdev_handle_misc_irq(dev, &m);
	c->st->mmio_err_code = m.mmio.code;
	c->st->mmio_err_offset = m.mmio.offset;
	CHECK(cause == IMSDEV_CSR_INT_CAUSE_MMIO_ERR_MASK && m.mmio.valid && !m.mmio.overflow &&
	      m.mmio.code == IMSDEV_MMIO_ERR_RO_WRITE && m.mmio.offset == IMSDEV_MSIX_PBA_BASE &&
	      !m.swerr.valid && m.unexpected_cpl == 0, IMSDEV_SCN_ERR_MMIO);
	imsdev_mmio_err_read(dev, &m.mmio);
	CHECK(!m.mmio.valid && !m.mmio.overflow, IMSDEV_SCN_ERR_CLEAR);
	return IMSDEV_SCN_OK;
}

static int scenario(struct ctx *c, const struct imsdev_ops *ops)
{
	struct imsdev_ims_slot slot;
	uint32_t ded_wq;
	int rc;

	rc = bring_up(c, ops);
	if (rc)
		return rc;
	/* two WQs when the build has them; a one-WQ build reconfigures WQ 0 as dedicated afterwards */
	ded_wq = c->dev.num_wq >= 2 ? 1u : SHARED_WQ;
	if (ded_wq != SHARED_WQ && (rc = configure_dedicated(c, ded_wq)) != 0)
		return rc;
	rc = shared_wq_phase(c, &slot);
	if (rc)
		return rc;
	if (ded_wq == SHARED_WQ) {
		CHECK(imsdev_wq_disable(&c->dev, SHARED_WQ) == IMSDEV_CMD_ERR_OK, IMSDEV_SCN_WQ_DEDICATED);
		rc = configure_dedicated(c, ded_wq);
		if (rc)
			return rc;
	}
	rc = dedicated_wq_phase(c, ded_wq);
	if (rc)
		return rc;

	imsdev_ims_free(&c->dev, &slot);
	CHECK(imsdev_device_disable(&c->dev) == IMSDEV_CMD_ERR_OK, IMSDEV_SCN_TEARDOWN);
	CHECK(!IMSDEV_FIELD_GET(CSR_GENSTS_ENABLED, c->dev.ops->mmio_read32(c->dev.ops->ctx,
									    c->dev.bar0 + IMSDEV_CSR_GENSTS)),
	      IMSDEV_SCN_TEARDOWN);
	imsdev_remove(&c->dev);
	return IMSDEV_SCN_OK;
}

int imsdev_scenario(const struct imsdev_ops *ops, const struct imsdev_scenario_params *p,
		    struct imsdev_scenario_stats *st)
{
	struct ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	memset(st, 0, sizeof(*st));
	c.p = p;
	c.st = st;
	rc = scenario(&c, ops);
	st->enqcmd_attempts = c.dev.enqcmd_attempts;   /* also when a check failed: helps the diagnosis */
	return rc;
}

const char *imsdev_scenario_strerror(int code)
{
	static const char *const names[IMSDEV_SCN_COUNT] = {
		[IMSDEV_SCN_OK] = "ok",
		[IMSDEV_SCN_PROBE] = "probe: no device, wrong DEV_ID/VERSION, missing capability or BAR",
		[IMSDEV_SCN_CAPS] = "capabilities out of range",
		[IMSDEV_SCN_PASID] = "PASID capability could not be enabled",
		[IMSDEV_SCN_MSIX_SETUP] = "MSI-X enable / interrupt allocation failed",
		[IMSDEV_SCN_MSIX_READBACK] = "MSI-X table entry differs from what was programmed",
		[IMSDEV_SCN_DEVICE_ENABLE] = "ENABLE_DEVICE failed",
		[IMSDEV_SCN_WQ_SHARED] = "shared WQ configure/enable failed",
		[IMSDEV_SCN_WQ_DEDICATED] = "dedicated WQ configure/enable failed",
		[IMSDEV_SCN_IMS_SETUP] = "IMS slot allocation failed",
		[IMSDEV_SCN_IMS_READBACK] = "IMS slot differs from what was programmed",
		[IMSDEV_SCN_HOST_MEMORY] = "host memory allocation failed",
		[IMSDEV_SCN_ENQCMD] = "ENQCMD not accepted within the retries",
		[IMSDEV_SCN_IMS_IRQ] = "IMS completion interrupt missing",
		[IMSDEV_SCN_SHARED_CR] = "shared WQ completion record wrong or late",
		[IMSDEV_SCN_SHARED_DATA] = "MEMMOVE destination wrong",
		[IMSDEV_SCN_RETRY] = "bounded ENQCMD retry misbehaved",
		[IMSDEV_SCN_MASKED_FIRED] = "a masked IMS slot delivered",
		[IMSDEV_SCN_PENDING] = "masked IMS slot: PENDING / single replay on unmask wrong",
		[IMSDEV_SCN_AFFINITY] = "affinity change rewrote the slot or lost the interrupt",
		[IMSDEV_SCN_IMS_REWRITE] = "live IMS rewrite refused, not applied, or its interrupt lost",
		[IMSDEV_SCN_MSIX_IRQ] = "MSI-X completion interrupt missing",
		[IMSDEV_SCN_DEDICATED_CR] = "dedicated WQ completion record wrong or late",
		[IMSDEV_SCN_DEDICATED_DATA] = "MEMFILL destination wrong",
		[IMSDEV_SCN_ERR_CR] = "bad opcode: wrong status in the record",
		[IMSDEV_SCN_ERR_IRQ] = "error interrupt (MSI-X vector 0) missing",
		[IMSDEV_SCN_ERR_SWERR] = "SWERR record wrong",
		[IMSDEV_SCN_ERR_CLEAR] = "SWERR / ERR / INT_CAUSE still set after handling",
		[IMSDEV_SCN_ERR_MMIO] = "write to the PBA: no error interrupt, or ERR code/offset wrong",
		[IMSDEV_SCN_TEARDOWN] = "teardown failed",
		[IMSDEV_SCN_DRAIN_PASID] = "process exit: DRAIN_PASID / ABORT_PASID failed or left work behind",
		[IMSDEV_SCN_BATCH] = "batch: record, member records, interrupt or data wrong",
	};

	if (code < 0 || code >= IMSDEV_SCN_COUNT || !names[code])
		return "unknown";
	return names[code];
}
