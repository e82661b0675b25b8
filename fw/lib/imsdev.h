/*
 * imsdev: portable C driver library for the IMS-capable multi-queue device.
 *
 * The same flows as the Python driver model (fw/imsdev/driver): PCI bring-up, MSI-X in Linux's order,
 * per-queue IMS with queued updates, WQ configuration, ENQCMD with bounded retry and MOVDIR64B,
 * completion records, the software error log. Register offsets and fields come only from the generated
 * imsdev_regs.h. Everything the library does to hardware goes through struct imsdev_ops, so it runs in
 * firmware, in user space over VFIO, or (as in the regression) against the RTL in simulation.
 *
 * Not thread-safe: one caller per struct imsdev_dev.
 */
#ifndef IMSDEV_H
#define IMSDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imsdev_regs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- descriptor and completion record (docs/work_queues.md; Linux include/uapi/linux/idxd.h) ---- */
#define IMSDEV_DESC_SIZE             64u
#define IMSDEV_COMP_SIZE             32u
#define IMSDEV_COMP_ALIGN            32u

#define IMSDEV_OPCODE_NOOP           0x00u
#define IMSDEV_OPCODE_BATCH          0x01u    /* list address in src_addr, count in xfer_size */
#define IMSDEV_OPCODE_DRAIN          0x02u
#define IMSDEV_OPCODE_MEMMOVE        0x03u
#define IMSDEV_OPCODE_MEMFILL        0x04u

#define IMSDEV_FLAG_FENCE            0x0001u
#define IMSDEV_FLAG_BOF              0x0002u
#define IMSDEV_FLAG_CRAV             0x0004u  /* completion record address valid */
#define IMSDEV_FLAG_RCR              0x0008u  /* request a completion record */
#define IMSDEV_FLAG_RCI              0x0010u  /* request a completion interrupt */
#define IMSDEV_FLAG_CC               0x0100u
#define IMSDEV_FLAG_STORD            0x2000u

#define IMSDEV_COMP_NONE             0x00u    /* record not written yet */
#define IMSDEV_COMP_SUCCESS          0x01u
#define IMSDEV_COMP_PAGE_FAULT_NOBOF 0x03u    /* source read answered UR/CA: fault address, bytes done */
#define IMSDEV_COMP_PAGE_FAULT_IR    0x04u    /* Block-on-Fault: the page request was answered Invalid Request */
#define IMSDEV_COMP_BATCH_FAIL       0x05u    /* batch: a member failed; bytes_completed = members processed */
#define IMSDEV_COMP_BATCH_PAGE_FAULT 0x06u    /* batch: the descriptor list read answered UR/CA */
#define IMSDEV_COMP_BAD_OPCODE       0x10u
#define IMSDEV_COMP_INVALID_FLAGS    0x11u
#define IMSDEV_COMP_NOZERO_RESERVE   0x12u
#define IMSDEV_COMP_XFER_ERR         0x13u
#define IMSDEV_COMP_DESC_CNT_ERANGE  0x14u    /* batch: count < 2 or above the WQ's maximum */
#define IMSDEV_COMP_DESCLIST_ALIGN   0x18u    /* batch: list address not 64-byte aligned */
#define IMSDEV_COMP_INT_HANDLE_INVAL 0x19u
#define IMSDEV_COMP_HW_ERR1          0x20u    /* source read poisoned or timed out */
#define IMSDEV_COMP_STATUS_MASK      0x7Fu
#define IMSDEV_COMP_STATUS_WRITE     0x80u    /* bit 7: the page fault was on a write (never set: no ATS) */

/* Interrupt handle: bit 15 selects entry [14:0] of the submitting WQ's own IMS window, else MSI-X. */
#define IMSDEV_INT_HANDLE_IMS            0x8000u
#define IMSDEV_INT_HANDLE_IMS_INDEX      0x7FFFu
#define IMSDEV_INT_HANDLE_MSIX_VECTOR    0x07FFu
/* REQUEST/RELEASE_INT_HANDLE operand: bit 16 = IMS (idxd's CMD_INT_HANDLE_IMS); IMS: WQ [15:11], entry [10:0] */
#define IMSDEV_INT_HANDLE_OP_IMS         0x10000u
#define IMSDEV_INT_HANDLE_OP_WQ_SHIFT    11u
#define IMSDEV_INT_HANDLE_OP_ENTRY       0x07FFu

#define IMSDEV_WQ_PORTAL_STRIDE      0x1000u  /* WQ n owns the 4 KiB page BAR2 + n * 0x1000 */
#define IMSDEV_ENQCMDS_RETRIES       32u      /* Linux idxd's default wq->enqcmds_retries */

/* Library limits (fixed storage, no allocation). */
#define IMSDEV_MAX_WQ                IMSDEV_IMS_COUNT
#define IMSDEV_MAX_MSIX_USED         64u

struct imsdev_desc {
	uint8_t opcode;
	uint32_t flags;           /* [23:0] */
	uint32_t pasid;           /* [19:0]; ENQCMDS sends it in the PASID prefix */
	bool priv;
	uint64_t completion_addr;
	uint64_t src;             /* MEMFILL: the 8-byte pattern */
	uint64_t dst;
	uint32_t xfer_size;
	uint16_t int_handle;
};

struct imsdev_completion {
	uint8_t status;           /* bits 6:0 of byte 0 */
	uint8_t result;
	uint32_t bytes_completed;
	uint64_t fault_addr;
	uint32_t invalid_flags;
};

struct imsdev_swerr {
	bool valid, overflow, wq_valid, priv;
	uint8_t code;             /* IMSDEV_SWERR_* */
	uint8_t wq;
	uint8_t code_status;
	uint8_t opcode;
	uint32_t pasid;
	uint64_t addr;
};

/* ERR / ERR_ADDR: the first bad BAR0 access since ERR was acknowledged. */
struct imsdev_mmio_err {
	bool valid, overflow;
	uint8_t code;             /* IMSDEV_MMIO_ERR_* */
	uint32_t offset;          /* BAR0 byte offset of the access */
};

/* What imsdev_handle_misc_irq found (and acknowledged). */
struct imsdev_misc_irq {
	uint32_t cause;           /* IMSDEV_CSR_INT_CAUSE bits that were set */
	struct imsdev_swerr swerr;     /* valid when cause has ERR_LOG */
	struct imsdev_mmio_err mmio;   /* valid when cause has MMIO_ERR */
	uint32_t unexpected_cpl;  /* LINK_ERR COUNT (completions dropped since last acknowledged), then cleared */
};

struct imsdev_msi_msg {
	uint32_t address_lo;
	uint32_t address_hi;
	uint32_t data;
};

/* Completion status of a DMWr (ENQCMD): PCIe Cpl Status encoding. */
enum imsdev_dmwr_status {
	IMSDEV_DMWR_SC = 0,       /* accepted */
	IMSDEV_DMWR_UR = 1,       /* refused, SWERR logged */
	IMSDEV_DMWR_RRS = 2,      /* retry: queue full, disabled or draining; nothing logged */
	IMSDEV_DMWR_CA = 4,       /* bad size/alignment, SWERR logged */
};

/*
 * What the library needs from its environment. MMIO addresses are bus addresses inside the BARs the
 * library reads from config space (ioremap is the caller's business). Interrupts are named by cookies
 * the environment hands out with their composed messages (the platform's irq domain: VT-d interrupt
 * remapping on x86, the ITS behind the SMMU MSI window on ARM).
 */
struct imsdev_ops {
	void *ctx;
	uint32_t (*mmio_read32)(void *ctx, uint64_t addr);
	void (*mmio_write32)(void *ctx, uint64_t addr, uint32_t val);
	uint64_t (*mmio_read64)(void *ctx, uint64_t addr);
	void (*mmio_write64)(void *ctx, uint64_t addr, uint64_t val);
	uint32_t (*cfg_read)(void *ctx, uint32_t off, uint32_t size);
	void (*cfg_write)(void *ctx, uint32_t off, uint32_t size, uint32_t val);
	uint64_t (*mem_alloc)(void *ctx, uint64_t size, uint64_t align);   /* zeroed; 0 = failure */
	void (*mem_read)(void *ctx, uint64_t addr, void *buf, uint64_t len);
	void (*mem_write)(void *ctx, uint64_t addr, const void *buf, uint64_t len);
	int (*dmwr)(void *ctx, uint64_t addr, const uint8_t *desc64, uint32_t pasid, int priv);
	void (*movdir64b)(void *ctx, uint64_t addr, const uint8_t *desc64);
	/* n interrupts from the platform domain: cookies[i] and msgs[i]; hwsize sizes per-device tables */
	int (*irq_alloc)(void *ctx, uint32_t n, uint32_t hwsize, uint32_t *cookies, struct imsdev_msi_msg *msgs);
	void (*irq_free)(void *ctx, uint32_t cookie);
	int (*irq_set_affinity)(void *ctx, uint32_t cookie, uint32_t cpu);
	int (*wait_irq)(void *ctx, uint32_t cookie, uint64_t timeout_ns);  /* 0 delivered, -ETIMEDOUT */
	void (*delay_ns)(void *ctx, uint64_t ns);
	/*
	 * Shared virtual addressing (appended: the fields above keep their offsets). The platform's
	 * iommu_sva_bind_device / iommu_sva_unbind_device for this device. `mm` is an opaque handle of a
	 * process address space the platform owns (Linux: the struct mm_struct *). sva_bind allocates the
	 * process's PASID (or reuses the one it has), installs its page tables in the IOMMU for this device,
	 * stores the PASID and returns 0, or returns -errno with nothing bound. sva_unbind tears that binding
	 * down (IOMMU entry cleared and invalidated, PASID freed when its last binding goes). Either left
	 * NULL: the platform has no SVA and imsdev_sva_bind returns -EOPNOTSUPP.
	 */
	int (*sva_bind)(void *ctx, uint64_t mm, uint32_t *pasid);
	void (*sva_unbind)(void *ctx, uint32_t pasid);
};

/*
 * Entry point of a developer's own program run against the RTL:
 *   make fw-run PROG=my_test.c PLATFORM=x86|arm [CONFIG=small|default|wide] [SEED=n]
 * (sim/fw_run.py; fw/README.md "Running your own code against the RTL"). The program defines it; the
 * library never calls it. The bench calls it once, after enumeration (BARs assigned, memory decoding and
 * bus mastering on, nothing else touched), with ops over the simulated device and platform: every
 * callback blocks while the simulation performs the access, delays and timeouts are simulated
 * nanoseconds, irq_alloc takes interrupts from the platform's irq domain (x86 VT-d IR / ARM ITS).
 * printf output goes to the run's sim.log, which fw-run prints. Return 0 for success; anything else
 * fails the run.
 */
int imsdev_main(const struct imsdev_ops *ops);

struct imsdev_irq {
	uint32_t cookie;
	struct imsdev_msi_msg msg;
};

/* One IMS slot, with the queued (wanted) state and what the device holds. */
struct imsdev_ims_slot {
	uint64_t base;            /* bus address of the slot */
	struct imsdev_irq irq;
	bool pasid_en;
	uint32_t pasid;
	struct imsdev_msi_msg want_msg;
	bool want_masked;
	struct imsdev_msi_msg hw_msg;
	bool hw_msg_valid;        /* false until the library wrote the slot's address/data */
	uint32_t hw_ctrl;
	unsigned lock_depth;
	uint32_t wq, index;       /* the entry */
	uint16_t int_handle;      /* what descriptors carry: granted by the device when it grants handles */
};

struct imsdev_wq_config {
	uint32_t size;            /* 1..CAP0.WQ_DEPTH */
	bool dedicated;           /* MOVDIR64B; else shared (ENQCMD) */
	bool pasid_en;            /* dedicated: tag DMA with pasid; shared: forced on */
	uint32_t pasid;
	bool priv;
	uint32_t prio;
	uint32_t max_xfer_shift;
};

struct imsdev_dev {
	const struct imsdev_ops *ops;
	uint64_t bar0, bar2;
	uint16_t pcie_cap, msix_cap, pasid_cap;
	uint32_t num_wq, wq_depth, ims_per_wq, msix_vectors;
	bool pasid_enabled;
	/* MSI-X */
	uint64_t msix_table;
	uint32_t msix_tsize;
	uint32_t msix_nvec;
	uint32_t msix_ctrl[IMSDEV_MAX_MSIX_USED];  /* cached Vector Control (Linux's desc->pci.msix_ctrl) */
	struct imsdev_irq msix_irq[IMSDEV_MAX_MSIX_USED];
	uint16_t msix_handle[IMSDEV_MAX_MSIX_USED]; /* interrupt handle per vector in use (vector 0: none) */
	bool request_int_handles;                   /* CMDCAP lists REQUEST_INT_HANDLE (idxd->request_int_handles) */
	uint32_t enqcmd_attempts;                   /* statistics */
	uint32_t max_batch_shift;                   /* CAP2.MAX_BATCH_SHIFT: batches up to 2^this descriptors */
};

/* Sizes for callers that allocate these opaquely (other languages, FFI). */
size_t imsdev_sizeof_dev(void);
size_t imsdev_sizeof_ims_slot(void);

/* ---- bring-up ---- */
int imsdev_probe(struct imsdev_dev *dev, const struct imsdev_ops *ops);
int imsdev_pci_enable_pasid(struct imsdev_dev *dev, bool priv);
void imsdev_pci_disable_pasid(struct imsdev_dev *dev);
int imsdev_cmd(struct imsdev_dev *dev, uint32_t cmd, uint32_t operand, uint32_t *result);
int imsdev_device_enable(struct imsdev_dev *dev);
int imsdev_device_disable(struct imsdev_dev *dev);
/* PASID lifecycle, as idxd on process exit before the PASID is unbound: returns IMSDEV_CMD_ERR_* or -errno
 * (-EINVAL: pasid wider than CMD.OPERAND). abort_pasid stores how many descriptors it discarded. */
int imsdev_drain_pasid(struct imsdev_dev *dev, uint32_t pasid);
int imsdev_abort_pasid(struct imsdev_dev *dev, uint32_t pasid, uint32_t *discarded);
/* Interrupt handles (idxd_device_request_int_handle): MSI-X vector `index`, or IMS entry `index` of WQ `wq`.
 * Returns IMSDEV_CMD_ERR_* or -EINVAL for an entry this device lacks. probe() sets INTHDL_CTL.REQUIRED when
 * CMDCAP lists REQUEST_INT_HANDLE; msix_enable() and ims_alloc() then request the handles they hand out
 * (dev->msix_handle[], slot->int_handle) and msix_disable() / ims_free() release them. */
int imsdev_request_int_handle(struct imsdev_dev *dev, bool ims, uint32_t wq, uint32_t index, uint16_t *handle);
int imsdev_release_int_handle(struct imsdev_dev *dev, bool ims, uint32_t wq, uint32_t index);
void imsdev_remove(struct imsdev_dev *dev);

/* ---- shared virtual addressing (idxd_cdev_open / idxd_file_dev_release) ---- */
/* One process address space bound to the device: what iommu_sva_bind_device returned. */
struct imsdev_sva {
	uint64_t mm;              /* the platform's handle of the address space */
	uint32_t pasid;           /* what ENQCMD submits with (desc.pasid) and IMS entries bind to */
	bool bound;               /* false: never bound, refused, or unbound (pasid keeps the old value) */
};
/*
 * imsdev_sva_bind: bind address space `mm` (ops->sva_bind) and check the PASID fits the device's PASID
 * capability. *h is output only. 0: h->pasid is the process's PASID. Errors (h->bound false, nothing left
 * bound): -EINVAL for NULL dev/h; -EOPNOTSUPP if ops->sva_bind / sva_unbind is NULL, or the PASID
 * capability is not enabled (imsdev_pci_enable_pasid not called, or PASID Control.Enable found clear in config
 * space, e.g. after an FLR); the platform's -errno (the platform was asked); -EINVAL for a
 * PASID the device cannot carry (0, which is RID_PASID / no PASID, or >= 2^Max PASID Width), after
 * handing it back with ops->sva_unbind.
 * imsdev_sva_unbind: DRAIN_PASID (imsdev_drain_pasid: every descriptor of that PASID finished, no more
 * DMA with it), then ops->sva_unbind, then h->bound = false. Like idxd, the unbind happens even if the
 * drain failed; the drain's IMSDEV_CMD_ERR_* / -errno is returned (0: both done). -EINVAL, nothing done,
 * for NULL dev/h or a handle that is not bound. The caller stops the process's submissions first.
 */
int imsdev_sva_bind(struct imsdev_dev *dev, uint64_t mm, struct imsdev_sva *h);
int imsdev_sva_unbind(struct imsdev_dev *dev, struct imsdev_sva *h);
uint32_t imsdev_pasid_width(struct imsdev_dev *dev);   /* Max PASID Width of the PASID capability, <= 20 */

/* ---- MSI-X ---- */
int imsdev_msix_enable(struct imsdev_dev *dev, uint32_t nvec, uint32_t hwsize_extra);
void imsdev_msix_write_msg(struct imsdev_dev *dev, uint32_t vec, const struct imsdev_msi_msg *msg);
void imsdev_msix_mask(struct imsdev_dev *dev, uint32_t vec);
void imsdev_msix_unmask(struct imsdev_dev *dev, uint32_t vec);
bool imsdev_msix_pending(struct imsdev_dev *dev, uint32_t vec);
void imsdev_msix_disable(struct imsdev_dev *dev);

/* ---- IMS ---- */
int imsdev_ims_alloc(struct imsdev_dev *dev, uint32_t wq, uint32_t index, bool pasid_en, uint32_t pasid,
		     struct imsdev_ims_slot *slot);
void imsdev_ims_free(struct imsdev_dev *dev, struct imsdev_ims_slot *slot);
void imsdev_ims_bus_lock(struct imsdev_ims_slot *slot);
void imsdev_ims_bus_sync_unlock(struct imsdev_dev *dev, struct imsdev_ims_slot *slot);
void imsdev_ims_write_msg(struct imsdev_dev *dev, struct imsdev_ims_slot *slot, const struct imsdev_msi_msg *msg);
void imsdev_ims_mask(struct imsdev_dev *dev, struct imsdev_ims_slot *slot);
void imsdev_ims_unmask(struct imsdev_dev *dev, struct imsdev_ims_slot *slot);
bool imsdev_ims_pending(struct imsdev_dev *dev, const struct imsdev_ims_slot *slot);
int imsdev_ims_handle(uint32_t index, uint16_t *handle);

/* ---- work queues ---- */
int imsdev_wq_configure(struct imsdev_dev *dev, uint32_t wq, const struct imsdev_wq_config *cfg);
int imsdev_wq_enable(struct imsdev_dev *dev, uint32_t wq);
int imsdev_wq_disable(struct imsdev_dev *dev, uint32_t wq);
uint64_t imsdev_wq_portal(const struct imsdev_dev *dev, uint32_t wq);

/* ---- submission and completion ---- */
int imsdev_desc_pack(const struct imsdev_desc *d, uint8_t out[IMSDEV_DESC_SIZE]);
/* A batch descriptor (IMSDEV_OPCODE_BATCH): desc_list_addr 64-byte aligned, desc_count 2..max_batch (the
 * WQ's limit: 2^min(WQCFG3.MAX_BATCH_SHIFT, CAP2.MAX_BATCH_SHIFT)); -EINVAL otherwise, *d unchanged. The
 * list holds desc_count descriptors packed by imsdev_desc_pack, back to back. */
int imsdev_batch_desc(struct imsdev_desc *d, uint64_t desc_list_addr, uint32_t desc_count, uint32_t max_batch,
		      uint32_t flags, uint64_t completion_addr, uint16_t int_handle);
void imsdev_completion_unpack(const uint8_t raw[IMSDEV_COMP_SIZE], struct imsdev_completion *c);
int imsdev_enqcmd(struct imsdev_dev *dev, uint32_t wq, const struct imsdev_desc *d, unsigned retries);
int imsdev_movdir64b(struct imsdev_dev *dev, uint32_t wq, const struct imsdev_desc *d);
int imsdev_wait_completion(struct imsdev_dev *dev, uint64_t comp_addr, uint64_t timeout_ns,
			   struct imsdev_completion *c);

/* ---- errors ---- */
void imsdev_swerr_read(struct imsdev_dev *dev, struct imsdev_swerr *e);
void imsdev_swerr_clear(struct imsdev_dev *dev);
void imsdev_mmio_err_read(struct imsdev_dev *dev, struct imsdev_mmio_err *m);
/* MSI-X vector 0: acknowledges INT_CAUSE, copies and acknowledges SWERR and ERR (re-arming their capture)
 * and reads and clears LINK_ERR; returns the cause bits (0: not this device's interrupt). */
uint32_t imsdev_handle_misc_irq(struct imsdev_dev *dev, struct imsdev_misc_irq *m);
const char *imsdev_swerr_name(uint32_t code);
const char *imsdev_mmio_err_name(uint32_t code);
const char *imsdev_cmd_err_name(uint32_t err);

/* ---- the regression's end-to-end scenario ---- */
struct imsdev_scenario_params {
	uint32_t pasid_shared;    /* PASID of the ENQCMD submitter (and of the IMS slot bound to it) */
	uint32_t pasid_dedicated; /* PASID bound to the dedicated WQ */
	uint64_t irq_timeout_ns;
	uint64_t quiet_ns;        /* how long "no interrupt" is watched for */
	uint32_t flags;           /* IMSDEV_SCN_FLAG_*: what the platform the scenario runs on cannot do */
};
/* The platform's interrupts are not remapped (an x86 guest whose virtual IOMMU has no interrupt remapping,
 * QEMU's intremap=off): retargeting one rewrites its message, so the step that checks an affinity change
 * leaves the device's slot alone is skipped. */
#define IMSDEV_SCN_FLAG_NO_IRQ_REMAP 0x1u

struct imsdev_scenario_stats {
	uint32_t num_wq, msix_vectors, ims_per_wq;
	uint32_t descriptors;     /* completions checked */
	uint32_t interrupts;      /* interrupts waited for and taken */
	uint32_t enqcmd_attempts;
	uint32_t swerr_code, swerr_wq, swerr_status;
	uint32_t mmio_err_code, mmio_err_offset;
	uint32_t dedicated_wq;
};

/* Return codes of imsdev_scenario: 0, or the first check that failed. */
enum imsdev_scenario_result {
	IMSDEV_SCN_OK = 0,
	IMSDEV_SCN_PROBE,          /* no device, wrong DEV_ID/VERSION, missing capability or BAR */
	IMSDEV_SCN_CAPS,           /* capabilities out of range */
	IMSDEV_SCN_PASID,          /* PASID capability could not be enabled */
	IMSDEV_SCN_MSIX_SETUP,     /* MSI-X enable / interrupt allocation failed */
	IMSDEV_SCN_MSIX_READBACK,  /* table entry differs from what was programmed */
	IMSDEV_SCN_DEVICE_ENABLE,
	IMSDEV_SCN_WQ_SHARED,      /* shared WQ configure/enable */
	IMSDEV_SCN_WQ_DEDICATED,   /* dedicated WQ configure/enable */
	IMSDEV_SCN_IMS_SETUP,
	IMSDEV_SCN_IMS_READBACK,   /* IMS slot differs from what was programmed */
	IMSDEV_SCN_HOST_MEMORY,
	IMSDEV_SCN_ENQCMD,         /* ENQCMD not accepted within the retries */
	IMSDEV_SCN_IMS_IRQ,        /* IMS completion interrupt missing */
	IMSDEV_SCN_SHARED_CR,      /* shared WQ completion record wrong */
	IMSDEV_SCN_SHARED_DATA,    /* MEMMOVE destination wrong */
	IMSDEV_SCN_RETRY,          /* bounded retry: no -EAGAIN / wrong attempt count / something logged */
	IMSDEV_SCN_MASKED_FIRED,   /* a masked IMS slot delivered */
	IMSDEV_SCN_PENDING,        /* masked slot: no PENDING, or no single replay on unmask */
	IMSDEV_SCN_AFFINITY,       /* affinity rewrote the slot, or the interrupt was lost after it */
	IMSDEV_SCN_IMS_REWRITE,    /* live slot rewrite (bus lock) refused, not applied, or its interrupt lost */
	IMSDEV_SCN_MSIX_IRQ,       /* MSI-X completion interrupt missing */
	IMSDEV_SCN_DEDICATED_CR,
	IMSDEV_SCN_DEDICATED_DATA, /* MEMFILL destination wrong */
	IMSDEV_SCN_ERR_CR,         /* bad opcode: wrong status in the record */
	IMSDEV_SCN_ERR_IRQ,        /* error interrupt (MSI-X vector 0) missing */
	IMSDEV_SCN_ERR_SWERR,      /* SWERR record wrong */
	IMSDEV_SCN_ERR_CLEAR,      /* SWERR / INT_CAUSE still set after handling */
	IMSDEV_SCN_ERR_MMIO,       /* a write to the PBA: no error interrupt, or ERR code/offset wrong */
	IMSDEV_SCN_TEARDOWN,
	IMSDEV_SCN_DRAIN_PASID,    /* process exit: DRAIN_PASID failed or left the descriptor unfinished */
	IMSDEV_SCN_BATCH,          /* batch: record, member records, interrupt or data wrong */
	IMSDEV_SCN_COUNT
};

int imsdev_scenario(const struct imsdev_ops *ops, const struct imsdev_scenario_params *p,
		    struct imsdev_scenario_stats *st);
const char *imsdev_scenario_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* IMSDEV_H */
