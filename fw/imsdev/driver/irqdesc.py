"""The generic irq layer (kernel/irq/irqdesc.c, manage.c, chip.c), as much of it as the device needs.

An ``IrqDesc`` is one Linux interrupt: a chip that programs the device side (MSI-X entry or IMS slot),
the platform interrupt (``fw/imsdev/platform`` Irq: IRTE or ITS event) that composed its message, and
a handler. As in Linux:

* every chip operation runs between ``chip.irq_bus_lock`` and ``chip.irq_bus_sync_unlock``
  (chip_bus_lock / chip_bus_sync_unlock). Chips on a slow bus (IMS in device memory) only record the
  change in the callbacks and write the device at unlock; MSI-X writes at once and ignores the lock.
* the message is written when the interrupt is activated (at allocation: MSI_FLAG_ACTIVATE_EARLY, and
  again by a request_irq after a free_irq); request_irq unmasks; free_irq masks (irq_shutdown) and
  deactivates (msi_domain_deactivate writes a zero message); disable_irq / enable_irq nest.
* ``irq_set_affinity`` goes to the parent domain only. The remapping domains (VT-d IR, ITS) retarget in
  their own tables and report IRQ_SET_MASK_OK_DONE, so msi_domain_set_affinity does not rewrite the
  device entry; the message is rewritten only if the domain composed a different one.

Interrupts are delivered as (target, vector) keys by ``DeviceOps.wait_irq``; ``handle_pending`` finds
the descriptor whose platform interrupt currently points there (after an affinity change, the new
target) and runs its handler, like the arch's common_interrupt -> generic_handle_irq.
"""

from __future__ import annotations

import contextlib
import enum
import errno
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from imsdev.platform import Irq, MsiMsg

from .ops import DeviceOps


class IrqReturn(enum.IntEnum):
    IRQ_NONE = 0
    IRQ_HANDLED = 1


Handler = Callable[[int, Any], IrqReturn]


class IrqChip:
    """struct irq_chip. Subclasses implement the device side of one interrupt source."""
    name = "none"

    def irq_mask(self, desc: "IrqDesc") -> None:
        raise NotImplementedError

    def irq_unmask(self, desc: "IrqDesc") -> None:
        raise NotImplementedError

    def irq_write_msi_msg(self, desc: "IrqDesc", msg: MsiMsg) -> None:
        raise NotImplementedError

    def irq_bus_lock(self, desc: "IrqDesc") -> None:
        """Slow-bus chips: start collecting updates (default: nothing to do)."""

    def irq_bus_sync_unlock(self, desc: "IrqDesc") -> None:
        """Slow-bus chips: apply the collected updates to the device (default: nothing to do)."""

    def irq_shutdown(self, desc: "IrqDesc") -> None:
        self.irq_mask(desc)


@dataclass(eq=False)
class IrqDesc:
    irq: int                     # Linux irq number
    chip: IrqChip
    hwirq: int                   # MSI-X vector / IMS slot
    parent: Irq                  # platform interrupt (IRTE / ITS event) behind the message
    chip_data: Any = None
    msg: Optional[MsiMsg] = None
    handler: Optional[Handler] = None
    dev_id: Any = None
    name: str = ""
    depth: int = 1               # disable depth: 1 = masked until request_irq starts it
    activated: bool = False      # the device entry holds the parent's message
    count: int = 0               # kstat_irqs
    unhandled: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def masked(self) -> bool:
        return self.depth > 0


class IrqCore:
    """The irq subsystem of one host: descriptors, the domain that backs them, delivery."""

    def __init__(self, ops: DeviceOps):
        self.ops = ops
        self.domain = ops.irq_domain
        self.descs: dict[int, IrqDesc] = {}
        self._next_irq = 32           # Linux numbers start above the legacy range
        self.spurious: list[tuple[int, int]] = []

    # ---- allocation (msi_domain_alloc_irqs + activation) ----------------------------------------
    def alloc_descs(self, chip: IrqChip, hwirqs: list[int], chip_data: list, *,
                    hwsize: Optional[int] = None) -> list[IrqDesc]:
        """Allocate one platform interrupt per hwirq from the parent domain and activate each: the chip
        gets the composed message while the source is still masked. chip_data[i] goes with hwirqs[i]."""
        parents = self.domain.alloc_irqs(self.ops.requester_id, len(hwirqs), hwsize)
        out = []
        for hwirq, parent, data in zip(hwirqs, parents, chip_data):
            desc = IrqDesc(self._next_irq, chip, hwirq, parent, data)
            self._next_irq += 1
            self.descs[desc.irq] = desc
            out.append(desc)
        for desc in out:
            self._bus_locked(desc, self._activate)
        return out

    def free_descs(self, descs: list[IrqDesc]) -> None:
        """msi_domain_free_irqs: the platform entries go after the device side is shut down."""
        for desc in descs:
            if desc.handler is not None:
                raise RuntimeError(f"irq {desc.irq} ({desc.name}) freed while requested")
            self.descs.pop(desc.irq, None)
        self.domain.free_irqs([d.parent for d in descs])

    # ---- request / free / enable / disable (kernel/irq/manage.c) --------------------------------
    def request_irq(self, irq: int, handler: Handler, name: str, dev_id: Any = None) -> int:
        desc = self.descs.get(irq)
        if desc is None:
            return -errno.EINVAL
        if desc.handler is not None:
            return -errno.EBUSY
        desc.handler, desc.name, desc.dev_id = handler, name, dev_id
        self._bus_locked(desc, self._startup)
        return 0

    def free_irq(self, irq: int) -> None:
        desc = self.descs[irq]
        self._bus_locked(desc, self._shutdown)
        desc.handler = None

    def disable_irq(self, irq: int) -> None:
        desc = self.descs[irq]
        desc.depth += 1
        if desc.depth == 1:
            self._bus_locked(desc, lambda d: d.chip.irq_mask(d))

    def enable_irq(self, irq: int) -> None:
        desc = self.descs[irq]
        if desc.depth == 0:
            raise RuntimeError(f"unbalanced enable for irq {irq}")
        desc.depth -= 1
        if desc.depth == 0:
            self._bus_locked(desc, lambda d: d.chip.irq_unmask(d))

    def irq_set_affinity(self, irq: int, cpu: int) -> None:
        """The parent domain retargets (IRTE rewrite + invalidation / ITS MOVI); the device entry is
        rewritten only if the composed message changed (msi_domain_set_affinity)."""
        desc = self.descs[irq]
        self.domain.set_affinity(desc.parent, cpu)
        if desc.activated and desc.parent.msg != desc.msg:
            self._bus_locked(desc, self._activate)

    def _activate(self, desc: IrqDesc) -> None:
        self._write_msg(desc, desc.parent.msg)
        desc.activated = True

    def _startup(self, desc: IrqDesc) -> None:
        if not desc.activated:
            self._activate(desc)
        desc.depth = 0
        desc.chip.irq_unmask(desc)

    def _shutdown(self, desc: IrqDesc) -> None:
        desc.chip.irq_shutdown(desc)
        desc.depth = 1
        self._write_msg(desc, MsiMsg(0, 0, 0))
        desc.activated = False

    @staticmethod
    def _write_msg(desc: IrqDesc, msg: MsiMsg) -> None:
        desc.msg = msg
        desc.chip.irq_write_msi_msg(desc, msg)

    @staticmethod
    @contextlib.contextmanager
    def bus_lock(desc: IrqDesc):
        """chip_bus_lock / chip_bus_sync_unlock around a block of chip operations: a slow-bus chip
        applies everything done inside as one ordered update when the block ends."""
        desc.chip.irq_bus_lock(desc)
        try:
            yield desc
        finally:
            desc.chip.irq_bus_sync_unlock(desc)

    def _bus_locked(self, desc: IrqDesc, fn) -> None:
        with self.bus_lock(desc):
            fn(desc)

    # ---- delivery (common_interrupt -> generic_handle_irq) --------------------------------------
    def find_by_target(self, key: tuple[int, int]) -> Optional[IrqDesc]:
        for desc in self.descs.values():
            if desc.parent.active and desc.parent.expected == key:
                return desc
        return None

    def handle(self, key: tuple[int, int]) -> None:
        desc = self.find_by_target(key)
        if desc is None:
            self.spurious.append(key)         # ack_bad_irq: counted, never silently ignored
            return
        desc.count += 1
        if desc.handler is None or desc.handler(desc.irq, desc.dev_id) != IrqReturn.IRQ_HANDLED:
            desc.unhandled += 1

    def handle_pending(self, timeout_ns: int) -> int:
        """Take the interrupts the CPUs received (waiting up to timeout_ns for one) and handle them."""
        keys = self.ops.wait_irq(timeout_ns)
        for key in keys:
            self.handle(key)
        return len(keys)
