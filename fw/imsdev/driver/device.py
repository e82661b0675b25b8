"""Device and work-queue control (drivers/dma/idxd/device.c; struct idxd_device / idxd_wq in idxd.h).

Commands go through CMD/CMDSTS like idxd_cmd_exec: wait until no command is active (a CMD written while
CMDSTS.ACTIVE is 1 is ignored), write CMD, poll CMDSTS until ACTIVE clears, then read ERR/RESULT; a
command that never finishes is an error with its name, never a hang. WQ configuration follows
docs/work_queues.md: WQCFG0/2/3 are written while the WQ is disabled and latched by ENABLE_WQ; changing a
dedicated WQ's PASID means disable, rewrite, enable (idxd_wq_set_pasid).
"""

from __future__ import annotations

import errno
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from imsdev import regs

from .registers import FIELD_GET, FIELD_PREP, SwErr, cmd_word, enum_name, wqcfg2
from .submit import DescPool
from .uapi import IMSDEV_INT_HANDLE_OP_ENTRY, IMSDEV_INT_HANDLE_OP_IMS, IMSDEV_INT_HANDLE_OP_WQ_SHIFT

if TYPE_CHECKING:
    from .ims import ImsDomain
    from .irqdesc import IrqCore, IrqDesc
    from .msi import PciMsix
    from .ops import DeviceOps
    from .pci import PciDev
    from .submit import IrqEntry

IDXD_CMD_POLL_NS = 64
IDXD_CMD_TIMEOUT_NS = 400_000
IDXD_ENQCMDS_RETRIES = 32          # Linux's default wq->enqcmds_retries
WQ_PORTAL_STRIDE = 0x1000          # docs/work_queues.md: WQ n owns BAR2 + n * 4 KiB
WQ_STATE_DISABLED = 0
WQ_STATE_ENABLED = 1


class ImsdevCmdError(Exception):
    def __init__(self, cmd: int, operand: int, err: int):
        self.cmd, self.operand, self.err = cmd, operand, err
        self.err_name = enum_name("CMD_ERR", err)
        super().__init__(f"{enum_name('CMD', cmd)} {operand}: CMDSTS.ERR {err:#04x} ({self.err_name})")


class ImsdevTimeout(Exception):
    pass


@dataclass(eq=False)
class ImsdevWq:
    """struct idxd_wq: configuration the driver owns, its portal, its interrupt entries, its descriptors."""
    id: int
    portal: int
    size: int = 0
    dedicated: bool = False
    pasid: Optional[int] = None      # dedicated WQ: WQCFG2.PASID with PASID_EN; shared: unused (from ENQCMD)
    priv: bool = False
    prio: int = 0
    max_xfer_shift: int = regs.CSR_WQCFG_WQCFG3_MAX_XFER_SHIFT_RESET
    # WQCFG3.MAX_BATCH_SHIFT; the reset value leaves the device's limit (CAP2.MAX_BATCH_SHIFT) in force
    max_batch_shift: int = regs.CSR_WQCFG_WQCFG3_MAX_BATCH_SHIFT_RESET
    enqcmds_retries: int = IDXD_ENQCMDS_RETRIES
    enabled: bool = False
    ims: Optional["ImsDomain"] = None
    msix_ie: Optional["IrqEntry"] = None
    ims_ies: list = field(default_factory=list)
    pool: Optional["DescPool"] = None
    stats: Counter = field(default_factory=Counter)

    @property
    def shared(self) -> bool:
        return not self.dedicated


class ImsdevDevice:
    """struct idxd_device: one probed function."""

    def __init__(self, pdev: "PciDev", core: "IrqCore"):
        self.pdev = pdev
        self.ops: "DeviceOps" = pdev.ops
        self.core = core
        self.msix: Optional["PciMsix"] = None
        self.reg_base = 0
        self.portal_base = 0
        self.num_wq = self.wq_depth = self.ims_per_wq = self.msix_vectors = self.max_batch_shift = 0
        # idxd->request_int_handles: CMDCAP lists REQUEST_INT_HANDLE, so completion interrupts use handles
        # the device grants (and INTHDL_CTL.REQUIRED makes it check them).
        self.request_int_handles = False
        self.wqs: list[ImsdevWq] = []
        self.misc_irq: Optional["IrqDesc"] = None
        self.sw_errors: list[SwErr] = []
        self.mmio_errors: list[tuple[str, int]] = []
        self.stats: Counter = Counter()

    # ---- register access -------------------------------------------------------------------------
    def ioread32(self, off: int) -> int:
        return self.ops.mmio_read32(self.reg_base + off)

    def iowrite32(self, off: int, value: int) -> None:
        self.ops.mmio_write32(self.reg_base + off, value)

    def read_caps(self) -> None:
        """idxd_read_caps: the numbers this build of the device has."""
        cap0, cap1, cap2 = (self.ioread32(o) for o in (regs.CSR_CAP0, regs.CSR_CAP1, regs.CSR_CAP2))
        self.num_wq = FIELD_GET("CSR_CAP0_NUM_WQ", cap0)
        self.wq_depth = FIELD_GET("CSR_CAP0_WQ_DEPTH", cap0)
        self.ims_per_wq = FIELD_GET("CSR_CAP1_IMS_PER_WQ", cap1)
        self.msix_vectors = FIELD_GET("CSR_CAP2_MSIX_VECTORS", cap2)
        self.max_batch_shift = FIELD_GET("CSR_CAP2_MAX_BATCH_SHIFT", cap2)
        cmdcap = self.ioread32(regs.CSR_CMDCAP)
        self.request_int_handles = bool(cmdcap >> regs.CMD_REQUEST_INT_HANDLE & 1)

    # ---- interrupt handles (idxd_device_request_int_handle / idxd_device_release_int_handle) ------------
    def _int_handle_operand(self, kind: str, index: int, wq: int) -> int:
        if kind == "msix":
            if not 0 <= index < self.msix_vectors:
                raise OSError(errno.EINVAL, f"MSI-X vector {index} not in 0..{self.msix_vectors - 1}")
            return index
        if kind != "ims":
            raise ValueError(f"interrupt kind {kind!r}: 'msix' or 'ims'")
        if not 0 <= index < self.ims_per_wq or not 0 <= wq < self.num_wq:
            raise OSError(errno.EINVAL, f"IMS entry {index} of WQ {wq} not in this device")
        return IMSDEV_INT_HANDLE_OP_IMS | wq << IMSDEV_INT_HANDLE_OP_WQ_SHIFT | (index & IMSDEV_INT_HANDLE_OP_ENTRY)

    def request_int_handle(self, kind: str, index: int, wq: int = 0) -> int:
        """REQUEST_INT_HANDLE for MSI-X vector `index` or IMS entry `index` of WQ `wq`; returns the handle
        descriptors must carry."""
        handle = self.cmd_exec(regs.CMD_REQUEST_INT_HANDLE, self._int_handle_operand(kind, index, wq))
        self.stats["int_handles_requested"] += 1
        return handle

    def release_int_handle(self, kind: str, index: int, wq: int = 0) -> None:
        self.cmd_exec(regs.CMD_RELEASE_INT_HANDLE, self._int_handle_operand(kind, index, wq))
        self.stats["int_handles_released"] += 1

    def require_int_handles(self) -> None:
        """Make the device check the handles it grants (this device's INTHDL_CTL; idxd-era devices that
        advertise REQUEST_INT_HANDLE check them always)."""
        self.iowrite32(regs.CSR_INTHDL_CTL, FIELD_PREP("CSR_INTHDL_CTL_REQUIRED", 1))

    # ---- commands (idxd_cmd_exec) -----------------------------------------------------------------
    def _wait_cmd_idle(self, what: str) -> int:
        for _ in range(IDXD_CMD_TIMEOUT_NS // IDXD_CMD_POLL_NS):
            sts = self.ioread32(regs.CSR_CMDSTS)
            if not FIELD_GET("CSR_CMDSTS_ACTIVE", sts):
                return sts
            self.ops.delay_ns(IDXD_CMD_POLL_NS)
        raise ImsdevTimeout(f"{what}: CMDSTS.ACTIVE still set after {IDXD_CMD_TIMEOUT_NS} ns")

    def cmd_exec(self, cmd: int, operand: int = 0) -> int:
        """Run one command; returns CMDSTS.RESULT, raises ImsdevCmdError on CMDSTS.ERR."""
        name = f"{enum_name('CMD', cmd)} {operand}"
        self._wait_cmd_idle(f"before {name}")
        self.iowrite32(regs.CSR_CMD, cmd_word(cmd, operand))
        sts = self._wait_cmd_idle(name)
        self.stats["commands"] += 1
        err = FIELD_GET("CSR_CMDSTS_ERR", sts)
        if err != regs.CMD_ERR_OK:
            raise ImsdevCmdError(cmd, operand, err)
        return FIELD_GET("CSR_CMDSTS_RESULT", sts)

    def device_enable(self) -> None:
        if FIELD_GET("CSR_GENSTS_ENABLED", self.ioread32(regs.CSR_GENSTS)):
            raise ImsdevCmdError(regs.CMD_ENABLE_DEVICE, 0, regs.CMD_ERR_DEV_ENABLED)
        self.cmd_exec(regs.CMD_ENABLE_DEVICE)

    def device_disable(self) -> None:
        """DISABLE_DEVICE drains every enabled WQ first (docs/registers.md CMD)."""
        self.cmd_exec(regs.CMD_DISABLE_DEVICE)
        for wq in self.wqs:
            wq.enabled = False

    def device_reset(self) -> int:
        """RESET_DEVICE: abort everything queued; returns how many descriptors were discarded."""
        result = self.cmd_exec(regs.CMD_RESET_DEVICE)
        for wq in self.wqs:
            wq.enabled = False
        return result

    # ---- WQ configuration (idxd_wq_config_write / idxd_wq_enable) ---------------------------------
    def wq_config_write(self, wq: ImsdevWq) -> None:
        base = regs.csr_wqcfg_at(wq.id)
        self.iowrite32(base + regs.CSR_WQCFG_WQCFG0, FIELD_PREP("CSR_WQCFG_WQCFG0_SIZE", wq.size))
        self.iowrite32(base + regs.CSR_WQCFG_WQCFG2,
                       wqcfg2(wq.dedicated, wq.pasid or 0, wq.shared or wq.pasid is not None,
                              wq.priv, wq.prio))
        self.iowrite32(base + regs.CSR_WQCFG_WQCFG3,
                       FIELD_PREP("CSR_WQCFG_WQCFG3_MAX_XFER_SHIFT", wq.max_xfer_shift)
                       | FIELD_PREP("CSR_WQCFG_WQCFG3_MAX_BATCH_SHIFT", wq.max_batch_shift))

    def max_batch(self, wq: ImsdevWq) -> int:
        """The WQ's largest batch (idxd's wq->max_batch_size): 2^min(WQCFG3, CAP2 MAX_BATCH_SHIFT)."""
        return 1 << min(wq.max_batch_shift, self.max_batch_shift)

    def wq_configure(self, wq: ImsdevWq, *, size: int, dedicated: bool, pasid: Optional[int] = None,
                     priv: bool = False, prio: int = 0, max_xfer_shift: Optional[int] = None,
                     max_batch_shift: Optional[int] = None) -> None:
        """Set up a disabled WQ (what `accel-config config-wq` + idxd_wq_config_write do). A shared WQ
        takes its PASIDs from ENQCMD and always has PASID_EN; a dedicated one is bound to `pasid` (None:
        untagged DMA)."""
        if wq.enabled:
            raise OSError(errno.EBUSY, f"WQ {wq.id} is enabled")
        if not 1 <= size <= self.wq_depth:
            raise OSError(errno.EINVAL, f"WQ {wq.id}: size {size} not in 1..{self.wq_depth}")
        if not dedicated and not self.pdev.pasid_enabled:
            raise OSError(errno.EOPNOTSUPP, f"WQ {wq.id}: a shared WQ needs PASID enabled")
        wq.size, wq.dedicated, wq.pasid, wq.priv, wq.prio = size, dedicated, pasid if dedicated else None, priv, prio
        if max_xfer_shift is not None:
            wq.max_xfer_shift = max_xfer_shift
        if max_batch_shift is not None:
            wq.max_batch_shift = max_batch_shift
        self.wq_config_write(wq)

    def wq_enable(self, wq: ImsdevWq) -> None:
        self.cmd_exec(regs.CMD_ENABLE_WQ, wq.id)
        wq.enabled = True
        if wq.pool is None or wq.pool.size != wq.size:
            wq.pool = DescPool(self.ops, wq.size)

    def wq_disable(self, wq: ImsdevWq) -> None:
        """DISABLE_WQ: queued descriptors complete, then the WQ is disabled."""
        self.cmd_exec(regs.CMD_DISABLE_WQ, wq.id)
        wq.enabled = False

    def wq_drain(self, wq: ImsdevWq) -> None:
        self.cmd_exec(regs.CMD_DRAIN_WQ, wq.id)

    def wq_abort(self, wq: ImsdevWq) -> int:
        return self.cmd_exec(regs.CMD_ABORT_WQ, wq.id)

    # ---- PASID lifecycle (idxd_device_drain_pasid; idxd_cdev release before the PASID is unbound) ------
    def device_drain_pasid(self, pasid: int) -> None:
        """DRAIN_PASID: returns once every descriptor submitted so far with `pasid`, on any WQ, has completed
        (data, record and interrupt sent). The WQs keep accepting meanwhile."""
        self.cmd_exec(regs.CMD_DRAIN_PASID, self._pasid_operand(pasid))

    def device_abort_pasid(self, pasid: int) -> int:
        """ABORT_PASID: discards the queued descriptors of `pasid` (no record, no interrupt), waits for the
        earlier ones of other PASIDs like DRAIN_PASID; returns how many were discarded."""
        return self.cmd_exec(regs.CMD_ABORT_PASID, self._pasid_operand(pasid))

    @staticmethod
    def _pasid_operand(pasid: int) -> int:
        width = regs.CSR_CMD_OPERAND_WIDTH
        if not isinstance(pasid, int) or not 0 <= pasid < (1 << width):
            raise OSError(errno.EINVAL, f"pasid {pasid!r} is not a {width}-bit PASID")
        return pasid

    def wq_state(self, wq: ImsdevWq) -> tuple[int, int]:
        """(WQCFG6.STATE, WQCFG6.OCCUPANCY)."""
        v = self.ioread32(regs.csr_wqcfg_at(wq.id) + regs.CSR_WQCFG_WQCFG6)
        return FIELD_GET("CSR_WQCFG_WQCFG6_STATE", v), FIELD_GET("CSR_WQCFG_WQCFG6_OCCUPANCY", v)

    def wq_set_pasid(self, wq: ImsdevWq, pasid: Optional[int]) -> None:
        """idxd_wq_set_pasid for a dedicated WQ: the PASID is latched at ENABLE_WQ, so disable (its
        descriptors complete first), rewrite WQCFG2, enable again."""
        if not wq.dedicated:
            raise OSError(errno.EINVAL, f"WQ {wq.id} is shared: its PASIDs come with each ENQCMD")
        was_enabled = wq.enabled
        if was_enabled:
            self.wq_disable(wq)
        wq.pasid = pasid
        self.wq_config_write(wq)
        if was_enabled:
            self.wq_enable(wq)

    # ---- errors -----------------------------------------------------------------------------------
    def read_swerr(self) -> SwErr:
        return SwErr.decode(*(self.ioread32(o) for o in
                              (regs.CSR_SWERR0, regs.CSR_SWERR1, regs.CSR_SWERR2, regs.CSR_SWERR3)))

    def clear_swerr(self) -> None:
        """W1C VALID and OVERFLOW: re-arms capture of the next error."""
        self.iowrite32(regs.CSR_SWERR0, regs.CSR_SWERR0_VALID_MASK | regs.CSR_SWERR0_OVERFLOW_MASK)

    def unmask_error_interrupts(self) -> None:
        """idxd_unmask_error_interrupt: software-error log and bad-MMIO causes raise MSI-X vector 0."""
        self.iowrite32(regs.CSR_INT_ENABLE, regs.CSR_INT_ENABLE_ERR_LOG_MASK | regs.CSR_INT_ENABLE_MMIO_ERR_MASK)

    def mask_error_interrupts(self) -> None:
        self.iowrite32(regs.CSR_INT_ENABLE, 0)
