"""VT-d posted interrupts: the IOMMU half (IRTE in posted format -> PIR bit -> notification event).

:class:`PostedInterruptsMixin` plugs into the ``_posted_request`` hook of
:class:`~.vtd_ir.VtdInterruptRemapping` (which without it faults IM = 1 as reserved, 0x24) and adds
CAP.PI (CAP_REG bit 59, Linux ``cap_pi_support``). :class:`VtdPostedInterruptRemapping` and
:class:`VtdPostedDmarUnit` are the two units with it. The descriptor and posted-IRTE formats are
those of ``imsdev.platform.x86_posted`` (struct pi_desc, struct irte posted members; see that module),
imported rather than restated.

A remappable-format request whose IRTE is present with IM = 1 is processed as the VT-d spec's
interrupt-posting operation (ch. 5.2.3 as Linux's KVM comments quote it: "the VT-d firmware writes
the bitmap and reads SN atomically"):

1. the same checks as a remapped IRTE, on the posted layout: reserved bits 7:2, 13:12, 37:24,
   95:84 or SVT = 11b are fault 0x24; the source-id check gives 0x26; both suppressible by FPD;
2. read the posted-interrupt descriptor at the IRTE's PDA, set PIR[vector] (the IRTE's vector is
   the guest vector);
3. if ON was 0 and (URG = 1 or SN = 0): set ON and send the notification event, vector NV, to the
   CPU named by NDST (x2APIC ID when IRTA.EIME = 1, else NDST[15:8]). Otherwise no notification:
   ON already set means one is outstanding, SN = 1 suppresses it (the vCPU is not running and its
   scheduler will look at PIR when it is loaded).

Model decisions: the descriptor is read and written in host memory at each request (nothing cached);
a descriptor that cannot be accessed (outside memory or beyond the host address width) drops the
interrupt and is recorded in ``posted_errors`` without a fault record: the fault reason the spec gives
for it could not be confirmed from the public sources used (docs/vmm.md). NDST reserved bits in xAPIC
mode are not checked. Posting is counted in ``posted`` (one :class:`PostedEvent` per request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imsdev.platform.x86_posted import CAP_PI_SUPPORT, PiDesc, PostedIrte, apic_id_from_ndst

from .memory import MemoryAccessError
from .vtd_dma import VtdDmarUnit
from .vtd_ir import CAP_REG, Irte, VtdFaultReason, VtdInterruptRemapping, _Fault

_LOW64 = (1 << 64) - 1


@dataclass(frozen=True)
class PostedEvent:
    """One interrupt posted into a descriptor. ``notified``: a notification event was sent;
    ``suppressed``: none because SN was set (and URG clear); neither: ON was already set."""

    index: int
    requester_id: int
    vector: int
    pi_desc_addr: int
    urgent: bool
    notified: bool
    suppressed: bool
    already_pending: bool   # PIR[vector] was already set (the two requests merge)
    time: Any


@dataclass(frozen=True)
class PostedError:
    index: int
    requester_id: int
    pi_desc_addr: int
    detail: str
    time: Any


class PostedInterruptsMixin:
    """Interrupt posting for a VT-d unit class (first base in the MRO, before the unit)."""

    def reset(self) -> None:
        super().reset()  # type: ignore[misc]
        self.posted: list[PostedEvent] = []
        self.posted_errors: list[PostedError] = []
        self.notifications = 0

    def _read_register(self, offset: int) -> int:
        value = super()._read_register(offset)  # type: ignore[misc]
        return value | CAP_PI_SUPPORT if offset == CAP_REG else value

    def _posted_request(self, index: int, irte: Irte, requester_id: int) -> None:
        posted = PostedIrte.decode(irte.raw & _LOW64, irte.raw >> 64)
        if posted.reserved or posted.source_validation == 0b11:
            raise _Fault(VtdFaultReason.IRTE_RESERVED, index, posted.fpd)
        if not irte.source_matches(requester_id):
            raise _Fault(VtdFaultReason.SOURCE_ID_MISMATCH, index, posted.fpd)
        self._post(index, posted, requester_id)

    def _post(self, index: int, posted: PostedIrte, requester_id: int) -> None:
        now = self.cpus.now()  # type: ignore[attr-defined]
        address = posted.pi_desc_addr
        descriptor = PiDesc(self.memory, address)  # type: ignore[attr-defined]
        try:
            if address + 64 > 1 << self.host_address_width:  # type: ignore[attr-defined]
                raise MemoryAccessError("beyond the host address width")
            already = descriptor.test_and_set_pir(posted.vector)
            control = descriptor.control
            notify = not control.on and (posted.urgent or not control.sn)
            if notify:
                descriptor.set_on()
        except MemoryAccessError as error:
            self.posted_errors.append(PostedError(index, requester_id, address, str(error), now))
            return
        self.posted.append(PostedEvent(index, requester_id, posted.vector, address, posted.urgent,
                                       notify, not notify and not control.on, already, now))
        if notify:
            self.notifications += 1
            destination = apic_id_from_ndst(control.ndst, self.x2apic_mode)  # type: ignore[attr-defined]
            self.cpus.deliver(destination, control.nv, requester_id,  # type: ignore[attr-defined]
                              format="posted-notification", index=index, pi_desc=address,
                              posted_vector=posted.vector)


class VtdPostedInterruptRemapping(PostedInterruptsMixin, VtdInterruptRemapping):
    """Interrupt remapping with posting (CAP.PI = 1)."""


class VtdPostedDmarUnit(PostedInterruptsMixin, VtdDmarUnit):
    """A DMAR unit with DMA remapping and interrupt posting."""


__all__ = ["PostedError", "PostedEvent", "PostedInterruptsMixin", "VtdPostedDmarUnit",
           "VtdPostedInterruptRemapping"]
