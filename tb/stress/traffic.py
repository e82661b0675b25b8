"""Descriptor generation and the per-WQ submitters of the stress test.

Every choice comes from bench.rng (the test's seed). A submitter takes its WQ's lock around each
submission, so a control event that holds the lock knows exactly which descriptors were accepted before
it; the interrupt entry is picked inside the lock, right before the scoreboard predicts the descriptor,
so an entry in a mask transition is never picked.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from tb.pcie.tlp import RRS
from tb.wq import (DESC_BYTES, FLAG_CRAV, FLAG_RCI, FLAG_RCR, HANDLE_IMS, OP_BATCH, OP_DRAIN, OP_MEMFILL,
                   OP_MEMMOVE, OP_NOOP, Descriptor, ims_handle, msix_handle)

from .harness import FOUR_GIB, Stress

RECORD = FLAG_CRAV | FLAG_RCR


@dataclass
class BatchPlan:
    """A batch (opcode 0x01) to submit: the batch descriptor (list address, count, record, its own interrupt
    kind) and its members with theirs. The list is written at submission, in the batch PASID's memory."""
    batch: Descriptor
    members: list
    member_irq: list


def entry_of(t) -> Optional[tuple]:
    """The interrupt entry a tracked descriptor's RCI selects (None without RCI)."""
    d = t.desc
    if not d.flags & FLAG_RCI:
        return None
    if d.int_handle & HANDLE_IMS:
        return ("ims", t.wq, d.int_handle & 0x7FFF)
    return ("msix", d.int_handle & 0x7FF)


def _size_class(r, limit: int) -> int:
    x = r.random()
    if x < 0.15:
        return r.choice([s for s in (0, 1, 63, 64, 65, 4095, 4096, 4097) if s <= limit])
    if x < 0.45:
        return r.randint(1, min(64, limit))
    if x < 0.8:
        return r.randint(1, min(1024, limit))
    return r.randint(1, min(6144, limit))


def data_desc(st: Stress, limit: int) -> Descriptor:
    """NOOP/MEMFILL/MEMMOVE of a random size class, alignment, page crossing, below/above 4 GiB."""
    env, r = st.env, st.rng
    op = r.choice((OP_NOOP, OP_MEMFILL, OP_MEMMOVE, OP_MEMMOVE, OP_MEMMOVE))
    if op == OP_NOOP:
        return env.new_desc(op, 0, flags=RECORD)
    size = _size_class(r, limit)
    cross = size > 1 and r.random() < 0.35
    return env.new_desc(op, size, flags=RECORD,
                        src_align=4096 if cross else 64,
                        src_off=(4096 - r.randint(1, min(size - 1, 255))) if cross else r.randrange(64),
                        dst_align=4096 if cross else 64,
                        dst_off=(4096 - r.randint(1, min(size - 1, 255))) if cross else r.randrange(64))


def boundary_desc(st: Stress) -> Optional[Descriptor]:
    """One descriptor per epoch with an operand at exactly 4 GiB: the source or the completion record (a
    destination there would put the scoreboard's lower guard bytes in the unbacked BAR window)."""
    ar = st.boundary
    if ar is None:
        return None
    env, r = st.env, st.rng
    kind = r.choice(("src_at", "cr_at"))
    size = r.randint(1, 600)
    ar.mem.write(FOUR_GIB, r.randbytes(size + 64))
    if kind == "cr_at":
        d = env.new_desc(r.choice((OP_MEMFILL, OP_MEMMOVE, OP_NOOP)), size, flags=RECORD, high=False)
        d.cr_addr = FOUR_GIB
        return d
    d = env.new_desc(OP_MEMMOVE, size, flags=RECORD, high=r.random() < 0.5)
    d.src = FOUR_GIB
    return d


def make(st: Stress, wq: int, calm: bool) -> tuple[Descriptor, str]:
    """A descriptor and what its interrupt should be: "" (no RCI), "any" (a matching entry), "mismatch" (an
    IMS entry bound to another PASID: SWERR IMS_PASID, no interrupt), "bad" (an invalid handle: 0x19)."""
    env, r = st.env, st.rng
    cfg = st.cfgs[wq]
    limit = 1 << cfg.max_xfer_shift
    x = r.random()
    irq = "any" if r.random() < 0.45 else ""
    if x < 0.05:
        return env.new_desc(OP_DRAIN, flags=RECORD), irq
    if x < 0.10:                                   # invalid opcode / flags / reserved: reported in the record
        d = data_desc(st, min(limit, 512))
        k = r.randrange(4)
        if k == 0:
            d.opcode = r.choice((0x05, 0x07, 0x09, 0x40, 0xFF))
        elif k == 1:
            d.flags |= r.choice((0x20, 0x40, 0x80, 0x200, 0x1000, 0x4000, 0x80_0000))
        elif k == 2:
            tail = bytearray(26)
            tail[r.randrange(26)] = 1 << r.randrange(8)
            d.rsvd_tail = bytes(tail)
        else:
            d.rsvd_dw0 = 1 << r.randrange(11)
        return d, irq
    if x < 0.13 and limit <= 8192:                 # transfer size just above 2^MAX_XFER_SHIFT
        return env.new_desc(r.choice((OP_MEMMOVE, OP_MEMFILL)), limit + r.choice((1, 2, 64)), flags=RECORD), irq
    if x < 0.16:                                   # DMA read answered UR / CA by the host
        size = r.randint(1, min(limit, 2048))
        src = env.unbacked_address(r.choice(("ur", "ca")), size)
        return env.new_desc(OP_MEMMOVE, size, flags=RECORD, src=src), irq
    if x < 0.19:
        return data_desc(st, limit), "bad"
    if x < 0.22 and any(b is not None for (w, _), b in st.ims_entries.items() if w == wq):
        return data_desc(st, limit), "mismatch"
    if x < 0.26 and st.sb.batch_limit(wq) >= 2:
        return batch_plan(st, wq, limit), irq
    if calm and x < 0.31:
        d = data_desc(st, limit)
        if cfg.dedicated:
            return d, irq
        if r.random() < 0.5:
            d.flags = FLAG_CRAV                    # success without a record
            return d, ""
        d.flags = 0                                # CRAV = 0 and an error: SWERR NO_CR
        d.opcode = 0x07
        return d, ""
    return data_desc(st, limit), irq


def batch_plan(st: Stress, wq: int, limit: int) -> BatchPlan:
    """2..min(5, the WQ's batch limit) members: data descriptors, sometimes one with an undefined opcode (it
    fails alone and the batch ends 0x05), each with or without its own interrupt."""
    env, r = st.env, st.rng
    n = r.randint(2, min(5, st.sb.batch_limit(wq)))
    members, kinds = [], []
    for _ in range(n):
        m = data_desc(st, min(limit, 2048))
        if r.random() < 0.1:
            m.opcode = r.choice((0x07, 0x40))
        members.append(m)
        kinds.append("any" if r.random() < 0.4 else "")
    batch = Descriptor(opcode=OP_BATCH, flags=RECORD, cr_addr=env.low.alloc_cr(),
                       src=env.low.alloc(DESC_BYTES * n, DESC_BYTES), size=n)
    return BatchPlan(batch, members, kinds)


def attach_irq(st: Stress, wq: int, d: Descriptor, kind: str, pasid: Optional[int]):
    """Set RCI and a handle (inside the WQ lock, right before the submission is predicted)."""
    r, p = st.rng, st.env.p
    if not kind:
        return
    if kind == "bad":
        d.flags |= FLAG_RCI
        d.int_handle = ims_handle(p.ims_per_wq + r.randrange(4)) if r.random() < 0.5 or p.msix_vectors >= 2048 \
            else msix_handle(p.msix_vectors + r.randrange(min(4, 2048 - p.msix_vectors)))
        return
    entry = st.choose_entry(wq, pasid, allow_mismatch=(kind == "mismatch"))
    if entry is None:
        return
    d.flags |= FLAG_RCI
    d.int_handle = ims_handle(entry[2]) if entry[0] == "ims" else msix_handle(entry[1])


async def _submit(st: Stress, wq: int, d, irq_kind: str, pasid: Optional[int] = None, priv: bool = False,
                  retries: int = 0, backoff_cycles: int = 0):
    """One submission (inside the WQ's lock): a descriptor, or a batch with its members' interrupts. `pasid`
    picks the interrupt entries; a dedicated WQ's MOVDIR64B carries none (the WQ's PASID applies)."""
    sub_pasid = None if st.cfgs[wq].dedicated else pasid
    if isinstance(d, BatchPlan):
        for m, k in zip(d.members, d.member_irq):
            m.flags &= ~FLAG_RCI
            attach_irq(st, wq, m, k, pasid)
        d.batch.flags &= ~FLAG_RCI
        attach_irq(st, wq, d.batch, irq_kind, pasid)
        st.counts["batches"] += 1
        st.counts["batch_members"] += len(d.members)
        return await st.sb.submit_batch(wq, d.members, batch=d.batch, pasid=sub_pasid, priv=priv, retries=retries,
                                        backoff_cycles=backoff_cycles)
    d.flags &= ~FLAG_RCI
    attach_irq(st, wq, d, irq_kind, pasid)
    return await st.sb.submit(wq, d, pasid=sub_pasid, priv=priv, retries=retries, backoff_cycles=backoff_cycles)


async def submit_one(st: Stress, wq: int, d, irq_kind: str):
    """Submit under the WQ's lock. Shared WQs: mostly after waiting for room, sometimes straight into a
    possibly full queue with a few ENQCMD retries; an attempt that still gets RRS is a rejected descriptor
    (the scoreboard checks nothing of it ever appears) and the lock is released before the next one, so
    control events are never starved by a full queue."""
    cfg = st.cfgs[wq]
    r = st.rng
    while True:
        if cfg.dedicated or r.random() < 0.7:
            await st.sb.wait_below(wq, cfg.size)
        async with st.locks[wq]:
            if cfg.dedicated:
                return await _submit(st, wq, d, irq_kind, cfg.dma_pasid)
            pasid = r.choice(st.pasids[wq])
            priv = cfg.priv and r.random() < 0.5
            t = await _submit(st, wq, d, irq_kind, pasid, priv, retries=r.randint(0, 8),
                              backoff_cycles=r.randint(4, 30))
            st.counts["enqcmd_retries"] += t.retries
        if t.accepted:
            return t
        assert t.cpl_status == RRS, f"{t}: answered {t.cpl_status.name}, expected SC or RRS"
        retried(st.sb, t)
        st.counts["rrs_rejected"] += 1
        await st.b.cycles(r.randint(8, 200))     # back off outside the lock


def retried(sb, t):
    """An ENQCMD attempt answered RRS whose descriptor (same buffers) is submitted again: the retry accounts
    for its record and data (a batch's: also its list and its members'), so this attempt stops owning them."""
    gone = [t, *t.members]
    for u in gone:
        u.state = "retried"
        u.before = {}
    for page in list(sb._pages):
        entries = sb._pages[page]
        if any(e[3] in gone for e in entries):
            sb._pages[page] = [e for e in entries if e[3] not in gone]


async def submitter(st: Stress, wq: int, n: int, calm: bool, boundary: bool):
    r = st.rng
    for i in range(n):
        d, kind = make(st, wq, calm)
        if boundary and i == n // 2:
            b = boundary_desc(st)
            if b is not None:
                d = b
                st.counts["boundary_operands"] += 1
        await submit_one(st, wq, d, kind)
        if r.random() < 0.25:
            await st.b.cycles(r.randint(1, 300))     # a gap in the submission stream (not a wait for an event)
