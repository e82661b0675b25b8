"""Kernel-side PRI, as Linux does it (docs/ats_pri.md 1.2, 1.6), reduced to what the bench needs.

* `pci_reset_pri(cfg)` / `pci_enable_pri(cfg, reqs)` (drivers/pci/ats.c): reset writes Control = R (E = 0);
  enable refuses with -EBUSY if E = 1 or Status.Stopped = 0, writes min(capacity, reqs) to the allocation, then
  Control = E. `cfg` is the PCI config access of the PRI capability: async read_word/write_word/read_dword/
  write_dword at offsets relative to it (the bench's PriHost gives one).
* `VtdPrq` (drivers/iommu/intel/prq.c): `enable()` allocates the page request queue (4 KiB << order, Linux
  uses PRQ_ORDER) and writes PQH = PQT = 0 and PQA = base | order. `event_thread(fault)` is
  prq_event_thread: clear PRS.PPR, read PQH/PQT (masked with the ring mask), for each 32-byte
  `struct page_req_dsc`: a request without PASID, a privileged request with R or W, an execute request with R,
  or a non-canonical address is a bad request (answered Invalid Request if it is the last of its group); a Stop
  Marker (L = 1, R = W = 0) is dropped; otherwise `fault(pasid, addr, write, priv, exe)` (the iopf path,
  handle_mm_fault) returns the response code, sent (when L = 1) as a page group response (QI type 9:
  intel_iommu_page_response) through the unit's queued invalidation; then PQH = PQT and PRS.PRO cleared if set.
* `SmmuPriq` (arm-smmu-v3.c): `enable()` allocates the PRI queue (16 bytes x 2^log2), writes PRIQ_BASE,
  PROD = CONS = 0 and sets CR0.PRIQEN. `event_thread(fault)` is arm_smmu_priq_thread + arm_smmu_handle_ppr:
  every entry between CONS and PROD; if PRG_LAST, CMD_PRI_RESP with SUCC (fault returned Success), DENY
  (Invalid Request) or FAIL (Response Failure) and CMD_SYNC; then CONS = PROD (with OVACKFLG = OVFLG).
Like the rest of fw/imsdev/platform it imports nothing from the bench (tb/pcie/pri.py has the bench's copy of
the formats; tests/unit/test_pri_formats.py holds both to Linux's field positions).
"""
from __future__ import annotations

import errno
from typing import Callable

from .msi import HostAllocator, HostMemory, RegisterAccess, zero_fill

# ---- drivers/pci/ats.c (include/uapi/linux/pci_regs.h) ------------------------------------------------------
PCI_PRI_CTRL = 0x04
PCI_PRI_CTRL_ENABLE = 0x01
PCI_PRI_CTRL_RESET = 0x02
PCI_PRI_STATUS = 0x06
PCI_PRI_STATUS_RF = 0x001
PCI_PRI_STATUS_UPRGI = 0x002
PCI_PRI_STATUS_STOPPED = 0x100
PCI_PRI_STATUS_PASID = 0x8000
PCI_PRI_MAX_REQ = 0x08
PCI_PRI_ALLOC_REQ = 0x0C

RESP_SUCCESS, RESP_INVALID, RESP_FAILURE = 0x0, 0x1, 0xF


async def pci_reset_pri(cfg) -> int:
    control = await cfg.read_word(PCI_PRI_CTRL)
    if control & PCI_PRI_CTRL_ENABLE:
        return -errno.EBUSY                     # WARN_ON(pdev->pri_enabled)
    await cfg.write_word(PCI_PRI_CTRL, PCI_PRI_CTRL_RESET)
    return 0


async def pci_enable_pri(cfg, reqs: int) -> int:
    """Returns 0, or -EBUSY; the allocation written is min(capacity, reqs)."""
    if await cfg.read_word(PCI_PRI_CTRL) & PCI_PRI_CTRL_ENABLE:
        return -errno.EBUSY
    status = await cfg.read_word(PCI_PRI_STATUS)
    if not status & PCI_PRI_STATUS_STOPPED:
        return -errno.EBUSY
    max_requests = await cfg.read_dword(PCI_PRI_MAX_REQ)
    await cfg.write_dword(PCI_PRI_ALLOC_REQ, min(max_requests, reqs))
    await cfg.write_word(PCI_PRI_CTRL, PCI_PRI_CTRL_ENABLE)
    return 0


async def pci_disable_pri(cfg) -> None:
    control = await cfg.read_word(PCI_PRI_CTRL)
    await cfg.write_word(PCI_PRI_CTRL, control & ~PCI_PRI_CTRL_ENABLE)


async def pci_prg_resp_pasid_required(cfg) -> bool:
    return bool(await cfg.read_word(PCI_PRI_STATUS) & PCI_PRI_STATUS_PASID)


# fault(pasid, addr, write, priv, exe) -> response code (RESP_*)
FaultHandler = Callable[[int, int, bool, bool, bool], int]


# ---- VT-d (drivers/iommu/intel/prq.c, iommu.h) ------------------------------------------------------------------
DMAR_PQH_REG, DMAR_PQT_REG, DMAR_PQA_REG, DMAR_PRS_REG = 0xC0, 0xC8, 0xD0, 0xDC
DMA_PRS_PPR, DMA_PRS_PRO = 0x1, 0x2
PRQ_DESC_BYTES = 0x20
QI_PGRP_RESP_TYPE = 0x9
DMAR_ECAP_REG = 0x10
ECAP_PRS = 1 << 29


def qi_page_group_response(rid: int, pasid: int | None, code: int, prgi: int, lpig: bool) -> tuple[int, int]:
    """intel_iommu_page_response's descriptor: QI_PGRP_PASID | QI_PGRP_DID(rid) | QI_PGRP_PASID_P |
    QI_PGRP_RESP_CODE | QI_PGRP_RESP_TYPE; qw1 = QI_PGRP_IDX(prgi) | QI_PGRP_LPIG(lpig)."""
    lo = ((pasid or 0) & 0xFFFFF) << 32 | (rid & 0xFFFF) << 16 | (pasid is not None) << 4 | (code & 0xF) << 12 | \
        QI_PGRP_RESP_TYPE
    return lo, (prgi & 0x1FF) << 3 | int(lpig) << 2


def decode_page_req_dsc(raw: bytes) -> dict:
    """struct page_req_dsc: qw0 type 7:0, pasid_present 8, rid 31:16, pasid 51:32, exe_req 52, pm_req 53;
    qw1 rd_req 0, wr_req 1, lpig 2, prg_index 11:3, addr 63:12."""
    qw0 = int.from_bytes(raw[0:8], "little")
    qw1 = int.from_bytes(raw[8:16], "little")
    return {"type": qw0 & 0xFF, "pasid_present": bool(qw0 >> 8 & 1), "rid": qw0 >> 16 & 0xFFFF,
            "pasid": qw0 >> 32 & 0xFFFFF, "exe_req": bool(qw0 >> 52 & 1), "pm_req": bool(qw0 >> 53 & 1),
            "rd_req": bool(qw1 & 1), "wr_req": bool(qw1 >> 1 & 1), "lpig": bool(qw1 >> 2 & 1),
            "prg_index": qw1 >> 3 & 0x1FF, "addr": qw1 & ~0xFFF & ((1 << 64) - 1)}


def _canonical(addr: int, bits: int = 48) -> bool:
    top = addr >> (bits - 1)
    return top == 0 or top == (1 << (64 - bits + 1)) - 1


class VtdPrq:
    def __init__(self, regs: RegisterAccess, memory: HostMemory, allocator: HostAllocator, qi, *, order: int = 0):
        if not regs.read_reg(DMAR_ECAP_REG) & ECAP_PRS:
            raise RuntimeError("IOMMU lacks ECAP.PRS (page requests)")
        self.regs, self.memory, self.allocator, self.qi, self.order = regs, memory, allocator, qi, order
        self.size = 0x1000 << order
        self.base = 0
        self.handled: list[dict] = []       # every descriptor read, with the response code sent (or None)

    def enable(self) -> None:
        """intel_iommu_enable_prq: the queue, PQH = PQT = 0, PQA = base | order."""
        self.base = self.allocator.alloc(self.size, self.size)
        zero_fill(self.memory, self.base, self.size)
        self.regs.write_reg(DMAR_PQH_REG, 0)
        self.regs.write_reg(DMAR_PQT_REG, 0)
        self.regs.write_reg(DMAR_PQA_REG, self.base | self.order)

    def respond(self, rid: int, pasid: int | None, prgi: int, code: int) -> None:
        self.qi.submit_invalidation(*qi_page_group_response(rid, pasid, code, prgi, True))

    def event_thread(self, fault: FaultHandler) -> int:
        """One run of prq_event_thread; returns the number of descriptors handled."""
        self.regs.write_reg(DMAR_PRS_REG, DMA_PRS_PPR)
        mask = self.size - PRQ_DESC_BYTES
        tail = self.regs.read_reg(DMAR_PQT_REG) & mask
        head = self.regs.read_reg(DMAR_PQH_REG) & mask
        n = 0
        while head != tail:
            req = decode_page_req_dsc(self.memory.read(self.base + head, PRQ_DESC_BYTES))
            head = (head + PRQ_DESC_BYTES) & mask
            n += 1
            code = None
            pasid = req["pasid"] if req["pasid_present"] else None
            if not req["pasid_present"] or (req["pm_req"] and (req["rd_req"] or req["wr_req"])) or \
                    (req["exe_req"] and req["rd_req"]) or not _canonical(req["addr"]):
                code = RESP_INVALID if req["lpig"] else None            # handle_bad_prq_event
            elif req["lpig"] and not req["rd_req"] and not req["wr_req"]:
                code = None                                             # Stop Marker: dropped
            else:
                result = fault(pasid, req["addr"], req["wr_req"], req["pm_req"], req["exe_req"])
                code = result if req["lpig"] else None
            req["response"] = code
            self.handled.append(req)
            if code is not None:
                self.respond(req["rid"], pasid, req["prg_index"], code)
        self.regs.write_reg(DMAR_PQH_REG, tail)
        if self.regs.read_reg(DMAR_PRS_REG) & DMA_PRS_PRO:
            self.regs.write_reg(DMAR_PRS_REG, DMA_PRS_PRO)
        return n

    def drain_pasid(self, pasid: int, fault: FaultHandler) -> int:
        """intel_iommu_drain_pasid_prq, reduced: before a PASID goes, every queued request of it is handled (the
        thread runs until PQH = PQT); returns how many of the PASID's requests that handled. (The QI wait with
        QI_IWD_PRQ_DRAIN is not modelled: the model's queue is written synchronously.)"""
        before = len(self.handled)
        mask = self.size - PRQ_DESC_BYTES
        while self.regs.read_reg(DMAR_PQH_REG) & mask != self.regs.read_reg(DMAR_PQT_REG) & mask:
            self.event_thread(fault)
        return sum(1 for r in self.handled[before:] if r["pasid_present"] and r["pasid"] == pasid)


# ---- SMMUv3 (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.{h,c}) --------------------------------------------------
ARM_SMMU_IDR0, ARM_SMMU_CR0, ARM_SMMU_CR0ACK = 0x00, 0x20, 0x24
IDR0_PRI = 1 << 16
CR0_PRIQEN = 1 << 1
ARM_SMMU_PRIQ_BASE, ARM_SMMU_PRIQ_PROD, ARM_SMMU_PRIQ_CONS = 0xC0, 0x100C8, 0x100CC
PRIQ_ENT_BYTES = 16
CMDQ_OP_PRI_RESP = 0x41
PRI_RESP_DENY, PRI_RESP_FAIL, PRI_RESP_SUCC = 0, 1, 2
Q_OVERFLOW = 1 << 31
_TO_SMMU = {RESP_SUCCESS: PRI_RESP_SUCC, RESP_INVALID: PRI_RESP_DENY}


def cmd_pri_resp(sid: int, ssid: int | None, grpid: int, resp: int) -> tuple[int, int]:
    """CMDQ_0_OP | CMDQ_PRI_0_SSV | CMDQ_PRI_0_SSID 31:12 | CMDQ_PRI_0_SID 63:32; CMDQ_PRI_1_GRPID 8:0,
    CMDQ_PRI_1_RESP 13:12."""
    lo = CMDQ_OP_PRI_RESP | (sid & 0xFFFF_FFFF) << 32
    if ssid is not None:
        lo |= 1 << 11 | (ssid & 0xFFFFF) << 12
    return lo, (grpid & 0x1FF) | (resp & 3) << 12


def decode_priq_entry(raw: bytes) -> dict:
    """PRIQ_0_SID 31:0, PRIQ_0_SSID 51:32, PRIQ_0_PERM_PRIV 58, _EXEC 59, _READ 60, _WRITE 61, PRIQ_0_PRG_LAST 62,
    PRIQ_0_SSID_V 63; PRIQ_1_PRG_IDX 8:0, PRIQ_1_ADDR 63:12."""
    dw0 = int.from_bytes(raw[0:8], "little")
    dw1 = int.from_bytes(raw[8:16], "little")
    return {"sid": dw0 & 0xFFFF_FFFF, "ssid": dw0 >> 32 & 0xFFFFF, "priv": bool(dw0 >> 58 & 1),
            "exec": bool(dw0 >> 59 & 1), "read": bool(dw0 >> 60 & 1), "write": bool(dw0 >> 61 & 1),
            "last": bool(dw0 >> 62 & 1), "ssv": bool(dw0 >> 63 & 1), "grpid": dw1 & 0x1FF,
            "addr": dw1 & ~0xFFF & ((1 << 64) - 1)}


class SmmuPriq:
    def __init__(self, sva, *, log2: int = 6):
        """`sva` is the SmmuSva (its registers, memory, allocator and command submission)."""
        if not sva.regs.read_reg(ARM_SMMU_IDR0) & IDR0_PRI:
            raise RuntimeError("SMMU lacks IDR0.PRI")
        self.sva, self.regs, self.memory = sva, sva.regs, sva.memory
        self.log2 = log2
        self.base = 0
        self.cons = 0
        self.handled: list[dict] = []

    def enable(self) -> None:
        """arm_smmu_device_reset's PRIQ part: base, PROD = CONS = 0, then CR0.PRIQEN (acknowledged)."""
        size = PRIQ_ENT_BYTES << self.log2
        self.base = self.sva._alloc_zeroed(size, size)
        self.regs.write_reg(ARM_SMMU_PRIQ_BASE, self.base | self.log2)
        self.regs.write_reg(ARM_SMMU_PRIQ_PROD, 0)
        self.regs.write_reg(ARM_SMMU_PRIQ_CONS, 0)
        self.cons = 0
        self.sva._enable(self.regs.read_reg(ARM_SMMU_CR0) | CR0_PRIQEN)

    def respond(self, sid: int, ssid: int | None, grpid: int, code: int) -> None:
        self.sva._submit([cmd_pri_resp(sid, ssid, grpid, _TO_SMMU.get(code, PRI_RESP_FAIL))])

    def event_thread(self, fault: FaultHandler) -> int:
        """One run of arm_smmu_priq_thread; returns the number of entries handled."""
        span = 2 << self.log2
        mask = (1 << self.log2) - 1
        prod = self.regs.read_reg(ARM_SMMU_PRIQ_PROD)
        n = 0
        while (self.cons & (span - 1)) != (prod & (span - 1)):
            ent = decode_priq_entry(self.memory.read(self.base + PRIQ_ENT_BYTES * (self.cons & mask),
                                                     PRIQ_ENT_BYTES))
            self.cons = (self.cons + 1) & (span - 1)
            n += 1
            ssid = ent["ssid"] if ent["ssv"] else None
            code = None
            if ent["last"]:
                if ssid is None:
                    code = RESP_INVALID
                else:
                    code = fault(ssid, ent["addr"], ent["write"], ent["priv"], ent["exec"])
            ent["response"] = code
            self.handled.append(ent)
            if code is not None:
                self.respond(ent["sid"], ssid, ent["grpid"], code)
        # CONS = PROD, acknowledging an overflow (OVACKFLG = OVFLG)
        self.regs.write_reg(ARM_SMMU_PRIQ_CONS, (prod & Q_OVERFLOW) | self.cons)
        return n

    def drain_pasid(self, pasid: int, fault: FaultHandler) -> int:
        """The PRIQ part of the SVA unbind (iopf_queue_flush_dev after arm_smmu_flush_priq): the thread runs until
        CONS = PROD; returns how many of the PASID's requests that handled."""
        before = len(self.handled)
        span = 2 << self.log2
        while (self.regs.read_reg(ARM_SMMU_PRIQ_PROD) & (span - 1)) != (self.cons & (span - 1)):
            self.event_thread(fault)
        return sum(1 for e in self.handled[before:] if e["ssv"] and e["ssid"] == pasid)
