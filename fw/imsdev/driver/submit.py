"""Descriptor submission and completion (drivers/dma/idxd/submit.c; the completion side of dma.c/irq.c).

* Descriptors and completion records come from a per-WQ pool of WQCFG0.SIZE entries (wq->descs,
  wq->compls; idxd_alloc_desc / idxd_free_desc). For a dedicated WQ that pool *is* the flow control:
  MOVDIR64B is posted and a full queue drops the descriptor (SWERR DWQ_FULL), so the driver never has
  more outstanding than the queue holds. A record is zeroed before its slot is reused.
* Shared WQ: ENQCMDS, the descriptor's PASID/priv go in the DMWr's PASID prefix. RRS (the CPU's ZF=1)
  is retried at most wq->enqcmds_retries more times (idxd_enqcmds), then -EAGAIN goes to the caller;
  UR/CA mean the device refused it and logged SWERR: -EIO, no retry.
* Dedicated WQ: MOVDIR64B (iosubmit_cmds512) of the 64 bytes; PASID/priv come from WQCFG2.
* A descriptor that asks for an interrupt is put on its interrupt entry's pending list *before* it is
  submitted (llist_add in idxd_submit_desc), so a fast completion cannot be missed.
* Completion: by polling the record's status byte, or by interrupt (the entry's handler in irq.py
  reads the records of its pending descriptors). Both have timeouts that raise with the descriptor.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from .ops import DeviceOps, DmwrStatus
from .uapi import (batch_desc, DSA_COMP_ALIGN, DSA_COMP_SIZE, IDXD_OP_FLAG_CRAV, IDXD_OP_FLAG_RCI, IDXD_OP_FLAG_RCR,
                   DsaCompletionRecord, DsaHwDesc)

if TYPE_CHECKING:
    from .device import ImsdevDevice, ImsdevWq
    from .irqdesc import IrqDesc

IDXD_POLL_NS = 200
IDXD_COMPLETION_TIMEOUT_NS = 200_000


@dataclass(eq=False)
class IrqEntry:
    """struct idxd_irq_entry: one completion interrupt of a WQ (an MSI-X vector or one of its IMS slots),
    the handle descriptors name it by, and the descriptors waiting on it."""
    idxd: "ImsdevDevice"
    wq: "ImsdevWq"
    desc: "IrqDesc"
    int_handle: int
    kind: str                          # "msix" | "ims"
    pending: list = field(default_factory=list)
    completed: int = 0
    # Descriptors a handler completed beyond the first: their own interrupts may then find nothing to do
    # (the engine keeps several descriptors in flight, so a later record can be in memory before an earlier
    # interrupt is handled). unhandled <= reaped_early holds unless an interrupt came before its record.
    reaped_early: int = 0

    @property
    def irq(self) -> int:
        return self.desc.irq


@dataclass(eq=False)
class ImsdevDesc:
    """struct idxd_desc."""
    id: int
    compl_addr: int
    hw: DsaHwDesc = field(default_factory=DsaHwDesc)
    ie: Optional[IrqEntry] = None
    completion: Optional[DsaCompletionRecord] = None
    pool: Optional["DescPool"] = None

    def __str__(self) -> str:
        return (f"desc {self.id} (opcode {self.hw.opcode:#x}, flags {self.hw.flags:#x}, "
                f"record at {self.compl_addr:#x})")


class DescPool:
    """Descriptors with their completion record slots. The kernel's is per WQ (WQCFG0.SIZE entries); a
    shared WQ also serves other submitters (user space ENQCMD) with pools of their own."""

    def __init__(self, ops: DeviceOps, size: int):
        self.ops = ops
        self.size = size
        self.compls = ops.mem_alloc(size * DSA_COMP_SIZE, align=4096)
        self.descs = [ImsdevDesc(i, self.compls + i * DSA_COMP_SIZE, pool=self) for i in range(size)]
        self.free_ids = list(range(size))

    def alloc(self) -> ImsdevDesc:
        if not self.free_ids:
            raise OSError(errno.EAGAIN, "no free descriptor: the WQ is full of outstanding work")
        d = self.descs[self.free_ids.pop(0)]
        d.hw, d.ie, d.completion = DsaHwDesc(completion_addr=d.compl_addr), None, None
        return d

    def free(self, d: ImsdevDesc) -> None:
        self.ops.mem_write(d.compl_addr, bytes(DSA_COMP_SIZE))
        self.free_ids.append(d.id)


def idxd_alloc_desc(wq: "ImsdevWq") -> ImsdevDesc:
    if wq.pool is None:
        raise OSError(errno.EIO, f"WQ {wq.id} is not enabled")
    return wq.pool.alloc()


def idxd_free_desc(wq: "ImsdevWq", d: ImsdevDesc) -> None:
    d.pool.free(d)


def prep_desc(d: ImsdevDesc, opcode: int, *, src: int = 0, dst: int = 0, size: int = 0,
              ie: Optional[IrqEntry] = None, flags: int = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR) -> ImsdevDesc:
    """Fill a descriptor; with `ie` it asks for a completion interrupt through that entry."""
    assert d.compl_addr % DSA_COMP_ALIGN == 0
    d.hw.opcode, d.hw.src_addr, d.hw.dst_addr, d.hw.xfer_size = opcode, src, dst, size
    d.hw.flags = flags
    d.ie = ie
    if ie is not None:
        d.hw.flags |= IDXD_OP_FLAG_RCI
        d.hw.int_handle = ie.int_handle
    return d


def prep_batch(idxd: "ImsdevDevice", wq: "ImsdevWq", d: ImsdevDesc, desc_list_addr: int, desc_count: int, *,
               ie: Optional[IrqEntry] = None, flags: int = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR) -> ImsdevDesc:
    """Fill `d` as a batch (DSA_OPCODE_BATCH) of the `desc_count` descriptors packed at `desc_list_addr`
    (uapi.batch_list); the list alignment and the count against the WQ's limit are checked (FieldError)."""
    assert d.compl_addr % DSA_COMP_ALIGN == 0
    hw = batch_desc(desc_list_addr, desc_count, flags=flags, completion_addr=d.compl_addr,
                    max_batch=idxd.max_batch(wq))
    d.hw.opcode, d.hw.src_addr, d.hw.dst_addr, d.hw.xfer_size, d.hw.flags = \
        hw.opcode, hw.src_addr, 0, hw.xfer_size, hw.flags
    d.ie = ie
    if ie is not None:
        d.hw.flags |= IDXD_OP_FLAG_RCI
        d.hw.int_handle = ie.int_handle
    return d


def enqcmds(ops: DeviceOps, portal: int, desc: bytes, pasid: int, priv: bool) -> int:
    """One ENQCMDS: 0 accepted, -EAGAIN retry (RRS), -EIO refused (UR/CA, SWERR logged)."""
    st = ops.dmwr(portal, desc, pasid, priv)
    if st == DmwrStatus.SC:
        return 0
    if st == DmwrStatus.RRS:
        return -errno.EAGAIN
    return -errno.EIO


def idxd_enqcmds(wq: "ImsdevWq", portal: int, desc: DsaHwDesc, ops: DeviceOps) -> int:
    """Bounded retry on RRS: at most wq.enqcmds_retries retries after the first attempt."""
    data = desc.pack()
    retries = wq.enqcmds_retries
    while True:
        rc = enqcmds(ops, portal, data, desc.pasid, desc.priv)
        if rc != -errno.EAGAIN or retries == 0:
            break
        retries -= 1
        wq.stats["enqcmds_retries"] += 1
    return rc


def idxd_submit_desc(idxd: "ImsdevDevice", wq: "ImsdevWq", d: ImsdevDesc, *, pasid: int = 0,
                     priv: bool = False) -> int:
    """Submit through the WQ's portal the way its mode wants. `pasid`/`priv` are the submitter's (what
    ENQCMDS puts in the prefix); a dedicated WQ ignores them and uses WQCFG2."""
    if not wq.enabled:
        return -errno.EIO
    if d.ie is not None:
        d.ie.pending.append(d)
    if wq.dedicated:
        idxd.ops.movdir64b(wq.portal, d.hw.pack())
        rc = 0
    else:
        d.hw.pasid, d.hw.priv = pasid, priv
        rc = idxd_enqcmds(wq, wq.portal, d.hw, idxd.ops)
    if rc:
        if d.ie is not None:
            d.ie.pending.remove(d)
        wq.stats["eagain" if rc == -errno.EAGAIN else "eio"] += 1
    else:
        wq.stats["submitted"] += 1
    return rc


def read_completion(ops: DeviceOps, d: ImsdevDesc) -> Optional[DsaCompletionRecord]:
    rec = DsaCompletionRecord.unpack(ops.mem_read(d.compl_addr, DSA_COMP_SIZE))
    return rec if rec.status else None


def wait_for_completion(idxd: "ImsdevDevice", d: ImsdevDesc,
                        timeout_ns: int = IDXD_COMPLETION_TIMEOUT_NS) -> DsaCompletionRecord:
    """Interrupt-driven if the descriptor asked for an interrupt (the entry's handler fills
    d.completion), else by polling the completion record."""
    waited = 0
    while d.completion is None:
        if waited >= timeout_ns:
            raise TimeoutError(f"{d}: no completion after {timeout_ns} ns "
                               + ("(interrupt never came)" if d.ie is not None else "(record never written)"))
        if d.ie is not None:
            idxd.core.handle_pending(min(IDXD_POLL_NS * 16, timeout_ns - waited))
            waited += IDXD_POLL_NS * 16
        else:
            d.completion = read_completion(idxd.ops, d)
            if d.completion is None:
                idxd.ops.delay_ns(IDXD_POLL_NS)
                waited += IDXD_POLL_NS
    return d.completion
