/*
 * hello_device: the smallest complete use of the device from C, run against the RTL with
 *
 *   make fw-run PROG=fw/examples/hello_device.c PLATFORM=x86      (or PLATFORM=arm)
 *
 * Probe, MSI-X (vector 0: device errors), one shared WQ, one IMS slot bound to our PASID, one MEMMOVE
 * submitted with ENQCMD that asks for a completion record and an IMS interrupt; then check the record,
 * the data and the error log, and shut down. fw-run compiles this file with fw/lib (imsdev.h) and calls
 * imsdev_main() with the bench's ops; every ops call is performed by the simulation.
 */
#include <stdio.h>
#include <string.h>

#include "imsdev.h"

#define WQ             0u
#define PASID          0x1234u      /* the submitter's address space (ENQCMD sends it in the PASID prefix) */
#define SIZE           256u
#define IRQ_TIMEOUT_NS 100000u      /* simulated time */

#define FAIL(...) do { printf("hello_device: FAILED: " __VA_ARGS__); printf("\n"); return 1; } while (0)

int imsdev_main(const struct imsdev_ops *ops)
{
	static struct imsdev_dev dev;
	struct imsdev_wq_config wq_cfg = { .size = 1, .max_xfer_shift = 16 };   /* shared (ENQCMD) */
	struct imsdev_ims_slot slot;
	struct imsdev_completion comp;
	struct imsdev_swerr err;
	struct imsdev_desc d;
	uint8_t src[SIZE], dst[SIZE];
	uint64_t buf;
	uint16_t handle;
	int rc;

	/* 1. bring-up: config space, BARs, DEV_ID/VERSION check, capabilities */
	if ((rc = imsdev_probe(&dev, ops)) != 0)
		FAIL("probe: %d", rc);
	printf("hello_device: %u WQ(s) of depth %u, %u IMS slots per WQ, %u MSI-X vectors\n",
	       dev.num_wq, dev.wq_depth, dev.ims_per_wq, dev.msix_vectors);
	if (imsdev_pci_enable_pasid(&dev, false))          /* before any shared WQ */
		FAIL("PASID enable");

	/* 2. MSI-X vector 0 for device errors; hwsize_extra = 1 sizes the ARM ITT for the IMS slot below */
	if (imsdev_msix_enable(&dev, 1, 1))
		FAIL("MSI-X enable");
	imsdev_msix_unmask(&dev, 0);
	ops->mmio_write32(ops->ctx, dev.bar0 + IMSDEV_CSR_INT_ENABLE,
			  IMSDEV_CSR_INT_ENABLE_ERR_LOG_MASK | IMSDEV_CSR_INT_ENABLE_MMIO_ERR_MASK);
	if ((rc = imsdev_device_enable(&dev)) != IMSDEV_CMD_ERR_OK)
		FAIL("ENABLE_DEVICE: %s", rc < 0 ? "timeout" : imsdev_cmd_err_name((uint32_t)rc));

	/* 3. one shared WQ and slot 0 of its IMS window, bound to our PASID, unmasked */
	if (imsdev_wq_configure(&dev, WQ, &wq_cfg) || (rc = imsdev_wq_enable(&dev, WQ)) != IMSDEV_CMD_ERR_OK)
		FAIL("WQ %u configure/enable", WQ);
	if (imsdev_ims_alloc(&dev, WQ, 0, true, PASID, &slot) || imsdev_ims_handle(0, &handle))
		FAIL("IMS slot");
	imsdev_ims_unmask(&dev, &slot);

	/* 4. host memory: source, destination and the 32-byte aligned completion record */
	buf = ops->mem_alloc(ops->ctx, 4096, 4096);
	if (!buf)
		FAIL("host memory");
	for (unsigned i = 0; i < SIZE; i++)
		src[i] = (uint8_t)(i * 7u + 1u);
	ops->mem_write(ops->ctx, buf, src, SIZE);

	/* 5. MEMMOVE through ENQCMD (bounded retry on RRS), record + interrupt through the IMS slot */
	memset(&d, 0, sizeof(d));
	d.opcode = IMSDEV_OPCODE_MEMMOVE;
	d.flags = IMSDEV_FLAG_CRAV | IMSDEV_FLAG_RCR | IMSDEV_FLAG_RCI;
	d.pasid = PASID;
	d.completion_addr = buf + 2048;
	d.src = buf;
	d.dst = buf + 1024;
	d.xfer_size = SIZE;
	d.int_handle = handle;
	if ((rc = imsdev_enqcmd(&dev, WQ, &d, IMSDEV_ENQCMDS_RETRIES)) != 0)
		FAIL("ENQCMD: %d", rc);
	if (ops->wait_irq(ops->ctx, slot.irq.cookie, IRQ_TIMEOUT_NS))
		FAIL("no IMS interrupt within %u ns", IRQ_TIMEOUT_NS);

	/* 6. the record is in memory before the interrupt arrives: no polling needed */
	if (imsdev_wait_completion(&dev, d.completion_addr, 0, &comp))
		FAIL("interrupt came, but no completion record");
	if (comp.status != IMSDEV_COMP_SUCCESS || comp.bytes_completed != SIZE)
		FAIL("record: status 0x%02x, %u bytes", comp.status, comp.bytes_completed);
	ops->mem_read(ops->ctx, d.dst, dst, SIZE);
	if (memcmp(src, dst, SIZE))
		FAIL("destination differs from the source");
	imsdev_swerr_read(&dev, &err);
	if (err.valid)
		FAIL("SWERR %s", imsdev_swerr_name(err.code));
	printf("hello_device: MEMMOVE of %u bytes done: status 0x%02x, IMS interrupt taken, no SWERR\n",
	       SIZE, comp.status);

	/* 7. shutdown: the slot (masked, cleared), the device, MSI-X, PASID, bus master */
	imsdev_ims_free(&dev, &slot);
	imsdev_remove(&dev);
	return 0;
}
