"""The driver's interrupt handlers (drivers/dma/idxd/irq.c).

* idxd_misc_thread (MSI-X vector 0): read INT_CAUSE, acknowledge it (W1C), and for ERR_LOG copy the
  SWERR record, decode it with the generated names, log it and acknowledge it (W1C VALID|OVERFLOW, the
  IDXD_SWERR_ACK of Linux) so the next error is captured; for MMIO_ERR the same with ERR / ERR_ADDR.
* idxd_wq_thread (a WQ's MSI-X vector or IMS slot): irq_process_pending_llist - every pending
  descriptor of the entry whose completion record is written is completed. The device writes the record
  before the interrupt on the same ordered path (docs/work_queues.md), so an interrupt that completes
  nothing is unhandled (IRQ_NONE, as Linux) either because an earlier handler already took its descriptor
  (counted in IrqEntry.reaped_early) or because it came before its record: tests check
  unhandled <= reaped_early (zero with one descriptor in flight per entry).
"""

from __future__ import annotations

import logging

from imsdev import regs

from .device import ImsdevDevice
from .irqdesc import IrqReturn
from .registers import FIELD_GET, enum_name
from .submit import IrqEntry, read_completion

log = logging.getLogger("imsdev.driver")


def idxd_misc_thread(irq: int, idxd: ImsdevDevice) -> IrqReturn:
    cause = idxd.ioread32(regs.CSR_INT_CAUSE)
    if not cause:
        return IrqReturn.IRQ_NONE
    idxd.iowrite32(regs.CSR_INT_CAUSE, cause)
    idxd.stats["misc_interrupts"] += 1
    if cause & regs.CSR_INT_CAUSE_ERR_LOG_MASK:
        err = idxd.read_swerr()
        if err.valid:
            idxd.sw_errors.append(err)
            log.warning("imsdev: %s", err)
            idxd.clear_swerr()
    if cause & regs.CSR_INT_CAUSE_MMIO_ERR_MASK:
        v = idxd.ioread32(regs.CSR_ERR)
        if FIELD_GET("CSR_ERR_VALID", v):
            idxd.mmio_errors.append((enum_name("MMIO_ERR", FIELD_GET("CSR_ERR_CODE", v)),
                                     idxd.ioread32(regs.CSR_ERR_ADDR)))
            idxd.iowrite32(regs.CSR_ERR, regs.CSR_ERR_VALID_MASK | regs.CSR_ERR_OVERFLOW_MASK)
    return IrqReturn.IRQ_HANDLED


def idxd_wq_thread(irq: int, ie: IrqEntry) -> IrqReturn:
    ops = ie.idxd.ops
    done = 0
    for d in list(ie.pending):
        rec = read_completion(ops, d)
        if rec is not None:
            d.completion = rec
            ie.pending.remove(d)
            done += 1
    ie.completed += done
    ie.reaped_early += max(done - 1, 0)
    return IrqReturn.IRQ_HANDLED if done else IrqReturn.IRQ_NONE
