/*
 * Deliberately wrong (sim/test_fw_run.py): rewrites the DATA word of a live (unmasked) IMS slot directly,
 * breaking the mask-before-update rule of fw/README.md section 4. The device drops the write and logs
 * SWERR IMS_UNMASKED_WRITE; this program notices that its write did not take effect and returns 1, so
 *   make fw-run PROG=sim/fw_run_fixtures/ims_unmasked_write.c PLATFORM=x86
 * exits non-zero and prints the SWERR record (and the error interrupt the program never took).
 */
#include <stdio.h>

#include "imsdev.h"

int imsdev_main(const struct imsdev_ops *ops)
{
	static struct imsdev_dev dev;
	struct imsdev_ims_slot slot;
	uint32_t wrote, got;

	if (imsdev_probe(&dev, ops) || imsdev_msix_enable(&dev, 1, 1))
		return 2;
	imsdev_msix_unmask(&dev, 0);
	ops->mmio_write32(ops->ctx, dev.bar0 + IMSDEV_CSR_INT_ENABLE, IMSDEV_CSR_INT_ENABLE_ERR_LOG_MASK);
	if (imsdev_ims_alloc(&dev, 0, 3, false, 0, &slot))
		return 3;
	imsdev_ims_unmask(&dev, &slot);

	/* the bug: a new message written straight into the unmasked slot (no mask, no bus lock) */
	wrote = slot.irq.msg.data ^ 0x1u;
	ops->mmio_write32(ops->ctx, slot.base + IMSDEV_IMS_ENTRY_DATA, wrote);
	got = ops->mmio_read32(ops->ctx, slot.base + IMSDEV_IMS_ENTRY_DATA);
	printf("ims_unmasked_write: wrote DATA 0x%x to unmasked IMS slot 3 of WQ 0, read back 0x%x\n", wrote, got);
	if (got != wrote) {
		printf("ims_unmasked_write: the write did not take effect\n");
		return 1;
	}
	return 0;
}
