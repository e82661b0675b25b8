"""VM-exit accounting: every exit the VMM model takes, counted by reason.

The reasons are the VMX basic exit reasons that the modelled paths produce (Intel SDM vol. 3C
appendix C, Linux arch/x86/include/uapi/asm/vmx.h ``EXIT_REASON_*``;
72/73 checked against hypervisors' copies of the SDM's exit-reason table), plus the hypercall exit of
the IMS design (b). ARM guests use the same names for the equivalent traps (a data abort on an MMIO
page is EPT_VIOLATION's counterpart; HVC is VMCALL's); ``arch`` on the counter says which is meant.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class ExitReason(IntEnum):
    """VMX basic exit reason numbers (uapi/asm/vmx.h)."""

    EXTERNAL_INTERRUPT = 1      # a host interrupt arrived while the vCPU ran (non-posted delivery)
    HLT = 12                    # the guest halted; KVM blocks the vCPU
    VMCALL = 18                 # a hypercall (IMS design (b))
    EPT_VIOLATION = 48          # a guest access to a page the VMM traps (MSI-X table, IMS pages in (c))
    ENQCMD_PASID_TRANSLATION_FAILURE = 72    # guest PASID not in the VMM's PASID-translation table (pasid.py)
    ENQCMDS_PASID_TRANSLATION_FAILURE = 73


@dataclass(frozen=True)
class VmExit:
    reason: ExitReason
    vcpu: int
    detail: str
    time: Any


class ExitCounter:
    """Every exit of one guest, in order, and the counts by reason."""

    def __init__(self, now=None):
        self._now = now if now is not None else (lambda: None)
        self.log: list[VmExit] = []
        self._counts: Counter[ExitReason] = Counter()

    def exit(self, reason: ExitReason, vcpu: int = 0, detail: str = "") -> VmExit:
        record = VmExit(reason, vcpu, detail, self._now())
        self.log.append(record)
        self._counts[reason] += 1
        return record

    def count(self, reason: ExitReason | None = None) -> int:
        return sum(self._counts.values()) if reason is None else self._counts[reason]

    @property
    def counts(self) -> dict[ExitReason, int]:
        return dict(self._counts)

    def mark(self) -> int:
        return len(self.log)

    def since(self, mark: int) -> Counter[ExitReason]:
        """Counts by reason of the exits after ``mark`` (for per-operation accounting)."""
        return Counter(record.reason for record in self.log[mark:])


__all__ = ["ExitCounter", "ExitReason", "VmExit"]
