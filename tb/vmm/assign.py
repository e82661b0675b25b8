"""The whole device assigned to one guest (vfio-pci device assignment) with everything a driver that uses
PASIDs and IMS needs from the VMM, on x86: the setting in which the device's own test programs (the C
library's scenario, a developer's `make fw-run GUEST=...` program) run unchanged inside a VM.

On top of :func:`~.bench.x86_guest` (guest RAM behind the RID_PASID second level, the MSI-X table and PBA
trapped as vfio-pci does, BAR2 portals mapped through):

* **IMS trapped** (design (c), :class:`~.trap.TrappedIms`): every WQ's IMS window is emulated, so the
  guest's compatibility-format messages become host IRTEs (posted or remapped, as for MSI-X) and the
  guest's PASID binding of a slot is written to the device as the host PASID.
* **PASIDs of an assigned device**: VT-d PASID tables hang off the device's context entry, so an assigned
  device's PASID space is its own and the VMM lets the guest's PASID values through unchanged (iommufd
  attaches a HWPT to the device at the guest's PASID). :meth:`AssignedX86Guest.attach_pasid` is what the
  VMM does when the guest kernel attaches its DMA domain at a PASID (through its virtual IOMMU): the
  PASID's entry becomes second-level only over the guest's RAM (PGTT 010b), and the VM's
  PASID-translation table (tb/vmm/pasid.py) maps that PASID to itself so the vCPU's ENQCMDS sends it.
  A PASID the guest never attached faults at the CPU (VM exit 72/73 + #GP) before anything reaches
  the link, and an IMS slot bound to it stays masked (``rejected``).
* **Host interrupts accounted** on the platform scoreboard: :meth:`AssignedX86Guest.expect_consumed`
  turns a guest interrupt the guest took into the expectation of its host interrupt (remapped), or
  counts it as one posted-interrupt notification (posted: those carry no host driver's vector).

ARM is not covered here: an SSID-tagged request of a stage-2-only stream has no stage 1 to walk (it needs
the guest's CD table, SMMUv3 nested), so PASID-using code cannot run in an ARM guest without it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .bench import BenchGuest, BenchX86Host, x86_guest
from .device import OpsDevice
from .guest_sva import GuestSharedWq
from .pasid import PasidTranslationTable, VmxEnqcmd
from .trap import TrappedIms

KINDS = ("x86-posted", "x86-remapped")


@dataclass
class AssignedX86Guest:
    """One VM owning the whole device (see the module doc)."""
    vm: BenchGuest
    host: BenchX86Host
    table: PasidTranslationTable
    cpu: VmxEnqcmd
    ims: list[TrappedIms]
    did: int
    requester_id: int
    sva: object
    kind: str = "x86-posted"
    pasids: list[int] = field(default_factory=list)
    posted_taken: int = 0              # guest interrupts that were posted (one notification each)
    host_expected: int = 0             # guest interrupts that were remapped host interrupts

    @property
    def ops(self):
        return self.vm.ops

    @property
    def exits(self):
        return self.vm.exits

    def attach_pasid(self, pasid: int) -> None:
        """The guest kernel attached its DMA domain (identity over its RAM) at ``pasid``."""
        if pasid in self.pasids:
            return
        self.sva.attach_pasid_second_level(self.requester_id, pasid, self.vm.guest.iommu_tables, self.did)
        self.table.map(pasid, pasid)
        self.pasids.append(pasid)

    def detach_all(self) -> None:
        for pasid in self.pasids:
            self.table.unmap(pasid)
            self.sva.detach_pasid(self.requester_id, pasid, self.did)
        self.pasids.clear()

    def _live_routes(self):
        for table in [self.vm.msix, *self.ims]:
            for entry in table.entries.values():
                if entry.route is not None:
                    yield entry

    def route_of(self, irq):
        """The live trapped entry (MSI-X vector or IMS slot) whose guest message is ``irq``'s."""
        msg = (irq.msg.address_hi << 32 | irq.msg.address_lo, irq.msg.data)
        found = [e.route for e in self._live_routes() if e.routed_message == msg]
        if len(found) != 1:
            raise AssertionError(f"guest interrupt {irq.msg} is routed by {len(found)} trapped entries, not 1")
        return found[0]

    def expect_consumed(self, platform, irq) -> None:
        """Scoreboard hook (OpsAdapter.on_irq_consumed): the guest took ``irq`` once."""
        route = self.route_of(irq)
        if route.posted:
            self.posted_taken += 1
        else:
            platform.expect(route.host_irq)
            self.host_expected += 1

    def release(self) -> None:
        """The VM's shutdown after its driver removed the device (entries masked, memory decoding off):
        the VMM frees its host interrupts and PASID attachments without touching the device."""
        for table in [self.vm.msix, *self.ims]:
            table.unroute_all()
        self.detach_all()


def assigned_x86_guest(bench, host_ops, kind: str, *, name: str = "A", pcpus: Sequence[int] = (0, 1),
                       did: int = 1, pasids: Sequence[int] = ()) -> AssignedX86Guest:
    """``kind``: x86-posted or x86-remapped (how the VMM's IRTEs deliver). ``pasids``: attached now."""
    if kind not in KINDS:
        raise ValueError(f"assigned guest kind {kind!r}: one of {', '.join(KINDS)}")
    plat = bench.platform
    host = BenchX86Host(plat.model)
    g = x86_guest(bench, host, host_ops, name, pcpus=pcpus, posted=kind == "x86-posted", did=did)
    table = PasidTranslationTable(plat.model.memory, plat.model.allocator)
    cpu = VmxEnqcmd(table, g.exits)
    device = OpsDevice(host_ops, bench.bar0_addr)
    ims = []
    for wq in range(bench.params.num_wq):
        trapped = TrappedIms(device, g.routing, wq, pasid_map=table.host_pasid)
        trapped.install(g.bar)
        ims.append(trapped)
    g.ops.enqcmds = cpu
    route_message = g.routing.route_message

    def route_and_track(requester_id: int, address: int, data: int):
        """Every remapped host interrupt the VMM allocates is tracked by the platform scoreboard from
        its allocation on (a delivery before the guest took it is then not spurious)."""
        route = route_message(requester_id, address, data)
        if not route.posted:
            plat.track(route.host_irq)
        return route

    g.routing.route_message = route_and_track
    a = AssignedX86Guest(g, host, table, cpu, ims, did, bench.requester_id, plat.sva, kind)
    for pasid in pasids:
        a.attach_pasid(pasid)
    return a


class GuestDedicatedWq(GuestSharedWq):
    """The guest's view of dedicated WQ ``wq_id`` that the host driver gave it (a Scalable-IOV style
    assignable interface: the WQ's portal, a range of its IMS window, a descriptor pool in guest RAM).
    Submission is MOVDIR64B (posted), the descriptor's PASID is ignored: the device tags the WQ's DMA with
    the PASID the host driver wrote into WQCFG2, which the VMM attached to this guest's RAM."""

    def __init__(self, ops, **kwargs):
        super().__init__(ops, **kwargs)
        self.wq.dedicated = True


__all__ = ["AssignedX86Guest", "GuestDedicatedWq", "KINDS", "assigned_x86_guest"]
