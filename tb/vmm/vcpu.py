"""vCPUs with a virtual APIC and VT-d posted interrupts, shaped like KVM's VMX code.

Sources: Linux arch/x86/kvm/vmx/posted_intr.c (vmx_vcpu_pi_load, vmx_vcpu_pi_put,
pi_enable_wakeup_handler, pi_wakeup_handler), vmx.c (vmx_sync_pir_to_irr), and the CPU's
posted-interrupt processing (Intel SDM vol. 3C 29.6). The descriptor accessors are those of
``imsdev.platform.x86_posted`` (struct pi_desc).

A :class:`Vcpu` is in one of three states:

* RUNNING on a physical CPU (guest mode). Its descriptor has SN = 0, NV = POSTED_INTR_VECTOR,
  NDST = that CPU. A notification with NV arriving at that CPU is handled by the CPU itself without a
  VM exit: ON cleared, PIR moved into the virtual APIC's IRR, the guest takes the vectors.
* PREEMPTED (runnable, not on a CPU): vmx_vcpu_pi_put set SN = 1, so posting sets PIR bits without a
  notification. vmx_vcpu_pi_load clears SN, sets ON if PIR is not empty, and the VM entry
  (vmx_sync_pir_to_irr) moves PIR into IRR.
* BLOCKED (the guest executed HLT: one HLT exit): pi_enable_wakeup_handler put it on its CPU's wakeup
  list and set NV = POSTED_INTR_WAKEUP_VECTOR with SN = 0, so the next posted interrupt notifies the
  CPU with the wake-up vector; pi_wakeup_handler wakes every listed vCPU whose ON is set (it becomes
  PREEMPTED, i.e. runnable) and the scheduler's next load delivers the vectors.

A notification that reaches a CPU in host mode, or a CPU running another vCPU, is only acknowledged
(KVM's kvm_posted_intr_ipi does nothing else): the interrupt waits in PIR with ON = 1 until the
target vCPU's next VM entry. The guest's view is ``received``: the vectors it took, in order.
Interrupts for the VMM itself (remapped, not posted) go to handlers registered per (CPU, vector);
if a vCPU is running on that CPU it takes an EXTERNAL_INTERRUPT exit first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable

from imsdev.platform.x86_posted import (POSTED_INTR_VECTOR, POSTED_INTR_WAKEUP_VECTOR, PiControl,
                                        PiDesc, ndst_for_apic_id)

from ..platform.cpu import Cpus, Delivery
from .exits import ExitCounter, ExitReason


class VcpuState(Enum):
    RUNNING = "running"
    PREEMPTED = "preempted"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class GuestInterrupt:
    vector: int
    how: str       # "posted" (CPU posted-interrupt processing in guest mode), "entry-sync" (taken
    #                at VM entry: PIR synced, or an earlier injection waiting in IRR), "injected"
    #                (the VMM injected it into the running vCPU)
    time: Any


class Vcpu:
    """One vCPU: virtual APIC IRR, the interrupts the guest took, and its posted-interrupt descriptor."""

    def __init__(self, index: int, pi_desc: PiDesc, exits: ExitCounter, pcpus: "PhysicalCpus"):
        self.index = index
        self.pi_desc = pi_desc
        self.exits = exits
        self.pcpus = pcpus
        self.state = VcpuState.PREEMPTED
        self.cpu: int | None = None       # APIC ID of the physical CPU it runs / last ran on
        self.irr: set[int] = set()
        self.received: list[GuestInterrupt] = []
        self.on_receive: list[Callable[["Vcpu", GuestInterrupt], None]] = []   # e.g. the bench's guest ops
        self.wakeups = 0
        pi_desc.init(nv=POSTED_INTR_VECTOR, ndst=0, sn=True)  # SN until first loaded

    # --------------------------------------------------------------- guest view
    def count(self, vector: int) -> int:
        return sum(1 for taken in self.received if taken.vector == vector)

    @property
    def counts(self) -> Counter[int]:
        return Counter(taken.vector for taken in self.received)

    def _accept(self, vectors, how: str) -> None:
        """The vectors enter IRR; a running guest takes them at once (virtual interrupt delivery,
        highest vector first as the APIC's priority order), others keep them in IRR."""
        self.irr.update(vectors)
        if self.state is VcpuState.RUNNING:
            taken = [GuestInterrupt(vector, how, self.pcpus.now()) for vector in sorted(self.irr, reverse=True)]
            self.irr.clear()
            self.received.extend(taken)
            for interrupt in taken:
                for listener in self.on_receive:
                    listener(self, interrupt)

    def inject(self, vector: int) -> None:
        """The VMM injects a vector (the non-posted path: after a host interrupt or emulation). A
        halted vCPU is woken (kvm_vcpu_kick); it takes the vector when next loaded."""
        self._accept([vector], "injected")
        self.wake()

    # --------------------------------------------------------------- scheduling (KVM)
    def load(self, cpu: int) -> None:
        """vmx_vcpu_pi_load + VM entry on physical CPU ``cpu``."""
        if self.state is VcpuState.RUNNING:
            raise RuntimeError(f"vCPU {self.index} is already running on CPU {self.cpu}")
        self.pcpus.enter(self, cpu)
        self.pcpus.remove_from_wakeup_list(self)
        control = self.pi_desc.control
        self.pi_desc.set_control(PiControl(control.on, False, POSTED_INTR_VECTOR,
                                           ndst_for_apic_id(cpu, self.pcpus.x2apic)))
        # Clear SN before reading PIR: an interrupt posted while SN was set left ON clear.
        if not self.pi_desc.is_pir_empty():
            self.pi_desc.set_on()
        self.cpu = cpu
        self.state = VcpuState.RUNNING
        self._sync_pir_to_irr("entry-sync")

    def _sync_pir_to_irr(self, how: str) -> None:
        """vmx_sync_pir_to_irr / the CPU's posted-interrupt processing: if ON, clear it and move PIR."""
        if self.pi_desc.test_on():
            self.pi_desc.clear_on()
            self._accept(self.pi_desc.take_pir(), how)
        else:
            self._accept([], how)

    def preempt(self) -> None:
        """The host scheduler takes the CPU (a host timer interrupt: EXTERNAL_INTERRUPT exit), then
        vmx_vcpu_pi_put with vcpu->preempted: SN = 1."""
        self._require(VcpuState.RUNNING)
        self.exits.exit(ExitReason.EXTERNAL_INTERRUPT, self.index, "preempted by the host scheduler")
        self.pcpus.leave(self)
        self.pi_desc.set_sn()
        self.state = VcpuState.PREEMPTED

    def halt(self) -> None:
        """The guest executes HLT: HLT exit, then pi_enable_wakeup_handler (NV = wake-up vector,
        SN = 0, on the CPU's wakeup list). A vector already in PIR wakes it at once (Linux sends
        itself the wake-up IPI in that case)."""
        self._require(VcpuState.RUNNING)
        self.exits.exit(ExitReason.HLT, self.index, "guest HLT")
        self.pcpus.leave(self)
        self.state = VcpuState.BLOCKED
        control = self.pi_desc.control
        self.pi_desc.set_control(PiControl(control.on, False, POSTED_INTR_WAKEUP_VECTOR,
                                           control.ndst))
        self.pcpus.add_to_wakeup_list(self)
        if not self.pi_desc.is_pir_empty():
            self.pi_desc.set_on()
            self.wake()

    def wake(self) -> None:
        """kvm_vcpu_wake_up: a blocked vCPU becomes runnable (it stays off the CPU until loaded)."""
        if self.state is VcpuState.BLOCKED:
            self.state = VcpuState.PREEMPTED
            self.wakeups += 1

    def _require(self, state: VcpuState) -> None:
        if self.state is not state:
            raise RuntimeError(f"vCPU {self.index} is {self.state.value}, not {state.value}")


HostHandler = Callable[[Delivery], None]


class PhysicalCpus:
    """The host's CPUs as KVM and the processor see them: which vCPU runs where, the per-CPU wakeup
    lists, and the handling of every interrupt the platform delivers to a CPU (``Cpus.on_deliver``)."""

    def __init__(self, cpus: Cpus, *, x2apic: bool = False):
        self.cpus = cpus
        self.x2apic = x2apic
        self.running: dict[int, Vcpu] = {}
        self.wakeup_lists: dict[int, list[Vcpu]] = {cpu: [] for cpu in cpus.ids}
        self.host_handlers: dict[tuple[int, int], HostHandler] = {}
        self.unhandled: list[Delivery] = []
        self.spurious_notifications: list[Delivery] = []  # notification with nothing to do on that CPU
        cpus.on_deliver.append(self._interrupt)

    def now(self) -> Any:
        return self.cpus.now()

    def enter(self, vcpu: Vcpu, cpu: int) -> None:
        if cpu not in self.wakeup_lists:
            raise ValueError(f"no physical CPU {cpu}")
        if cpu in self.running:
            raise RuntimeError(f"CPU {cpu} already runs vCPU {self.running[cpu].index}")
        self.running[cpu] = vcpu

    def leave(self, vcpu: Vcpu) -> None:
        if self.running.get(vcpu.cpu) is vcpu:
            del self.running[vcpu.cpu]

    def add_to_wakeup_list(self, vcpu: Vcpu) -> None:
        self.wakeup_lists[vcpu.cpu].append(vcpu)

    def remove_from_wakeup_list(self, vcpu: Vcpu) -> None:
        for waiting in self.wakeup_lists.values():
            if vcpu in waiting:
                waiting.remove(vcpu)

    def register_host_vector(self, cpu: int, vector: int, handler: HostHandler) -> None:
        """A host interrupt handler (the VMM's: vfio_msihandler -> irqfd -> injection)."""
        self.host_handlers[(cpu, vector)] = handler

    def unregister_host_vector(self, cpu: int, vector: int) -> None:
        self.host_handlers.pop((cpu, vector), None)

    def _interrupt(self, delivery: Delivery) -> None:
        cpu, vector = delivery.target, delivery.vector
        vcpu = self.running.get(cpu)
        if vector == POSTED_INTR_VECTOR:
            # Posted-interrupt processing happens only in guest mode, on the running vCPU's own
            # descriptor; in host mode (or for another vCPU) the interrupt waits in PIR.
            if vcpu is not None and vcpu.pi_desc.test_on():
                vcpu._sync_pir_to_irr("posted")
            else:
                self.spurious_notifications.append(delivery)
            return
        if vector == POSTED_INTR_WAKEUP_VECTOR:
            if vcpu is not None:
                vcpu.exits.exit(ExitReason.EXTERNAL_INTERRUPT, vcpu.index, "wake-up vector")
            woke = False
            for waiting in list(self.wakeup_lists[cpu]):
                if waiting.pi_desc.test_on():
                    waiting.wake()
                    woke = True
            if not woke:
                self.spurious_notifications.append(delivery)
            return
        if vcpu is not None:
            vcpu.exits.exit(ExitReason.EXTERNAL_INTERRUPT, vcpu.index, f"host vector {vector:#x}")
        handler = self.host_handlers.get((cpu, vector))
        if handler is None:
            self.unhandled.append(delivery)
        else:
            handler(delivery)


__all__ = ["GuestInterrupt", "PhysicalCpus", "Vcpu", "VcpuState"]
