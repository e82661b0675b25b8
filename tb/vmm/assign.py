"""The whole device assigned to one guest (vfio-pci device assignment) with everything a driver that uses
PASIDs and IMS needs from the VMM, on x86: the setting in which the device's own test programs (the C
library's scenario, a developer's `make fw-run GUEST=...` program) run unchanged inside a VM.

On top of :func:`~.bench.x86_guest` (guest RAM behind the RID_PASID second level, the MSI-X table
trapped as vfio-pci does (the PBA mapped through, as QEMU leaves it), BAR2 portals mapped through):

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
* **The guest's FLR** (Initiate Function Level Reset in its config space) is intercepted as vfio-pci does
  (the function is reset on the guest's behalf and QEMU resets its emulated MSI-X, a device composition
  module its emulated IMS): before the reset goes to the device, the VMM frees every host interrupt behind
  a trapped entry and returns the guest's view of every entry to its reset state (masked, zero). Without it
  a guest that re-creates the same message after the reset (an ITS EventID is reused) would find the VMM's
  route still in place and the physical entry, cleared by the FLR, never rewritten.
* **Host interrupts accounted** on the platform scoreboard: :meth:`AssignedX86Guest.expect_consumed`
  turns a guest interrupt the guest took into the expectation of its host interrupt (remapped), or
  counts it as one posted-interrupt notification (posted: those carry no host driver's vector).

On ARM (:func:`assigned_arm_guest`) the same VM owns the device behind its virtual ITS (virtual DeviceID,
KVM's plain vgic-its: each trapped MSI-X vector / IMS slot is backed by a host ITS event whose handler injects)
and its virtual SMMU: the guest kernel's CD table lives in guest RAM and the VMM installs the nested STE (Config
111b over the VM's stage 2, tb/vmm/arm_sva.py). Attaching the guest kernel's DMA domain at a SubstreamID writes
that CD with a stage-1 table mapping guest RAM one to one (IOVA = GPA) and forwards CFGI_CD; there is no CPU
PASID translation on ARM, so the SSID the guest chose is the one on the link. Requests without SSID use S1DSS
bypass: stage 2 only, as before.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from imsdev.driver.pci import PCI_CAP_ID_EXP, PCI_CAPABILITY_LIST, PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR
from imsdev.platform.iommu_sva import Process

from .arm_sva import GuestCdTable, VirtualSmmu
from .bench import BenchGuest, BenchX86Host, arm_guest, x86_guest
from .device import OpsDevice
from .guest_sva import GuestSharedWq
from .pasid import PasidTranslationTable, VmxEnqcmd
from .trap import TrappedIms

KINDS = ("x86-posted", "x86-remapped", "arm-vits")
ARM_VIRTUAL_DEVICE_ID = 0x10       # the device's DeviceID in the ARM guest (virtual; the vITS maps it)
ARM_VMID = 1
ARM_S1CDMAX = 13                   # the guest's linear CD table: SSIDs 1..8191 (512 KiB of guest RAM)
ARM_RAM = 0x10_0000                # 1 MiB of guest RAM (half of it that table; the platform's table memory
                                   # holds the guests' RAM)


@dataclass
class AssignedGuest:
    """One VM owning the whole device (see the module doc)."""
    vm: BenchGuest
    ims: list[TrappedIms]
    requester_id: int
    sva: object
    kind: str
    pasids: list[int] = field(default_factory=list)
    flrs: int = 0                      # FLRs the guest initiated (intercepted, guest_flr)
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
        raise NotImplementedError

    def detach_all(self) -> None:
        raise NotImplementedError

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

    def guest_flr(self) -> None:
        """vfio-pci's reset of the function for the guest: host interrupts freed, emulated entries reset."""
        for table in [self.vm.msix, *self.ims]:
            table.unroute_all()
            table.entries.clear()
        self.flrs += 1

    def release(self) -> None:
        """After the guest's driver removed the device (entries masked, memory decoding off): the VMM frees
        its host interrupts and the PASID attachments it made, without touching the device. The VM's RAM
        stays attached for the device's requests without PASID (RID_PASID second level / the nested STE)
        until the VM is destroyed: the bench's platform goes with the test."""
        for table in [self.vm.msix, *self.ims]:
            table.unroute_all()
        self.detach_all()


@dataclass
class AssignedX86Guest(AssignedGuest):
    host: BenchX86Host = None
    table: PasidTranslationTable = None
    cpu: VmxEnqcmd = None
    did: int = 1

    def attach_pasid(self, pasid: int) -> None:
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


@dataclass
class AssignedArmGuest(AssignedGuest):
    vsmmu: VirtualSmmu = None
    cd_table: GuestCdTable = None
    dma_space: Process = None          # the guest kernel's identity stage 1 (IOVA = GPA) shared by its SSIDs

    def attach_pasid(self, pasid: int) -> None:
        if pasid in self.pasids:
            return
        self.cd_table.write_cd(pasid, self.dma_space, asid=1)
        self.vsmmu.invalidate_cd(pasid)
        self.pasids.append(pasid)

    def detach_all(self) -> None:
        """The CDs are the guest's, in its RAM, under its own STE: nothing of the host's to free."""
        self.pasids.clear()


def assigned_x86_guest(bench, host_ops, kind: str, *, name: str = "A", pcpus: Sequence[int] = (0, 1),
                       did: int = 1, pasids: Sequence[int] = ()) -> AssignedX86Guest:
    """``kind``: x86-posted or x86-remapped (how the VMM's IRTEs deliver). ``pasids``: attached now."""
    if kind not in ("x86-posted", "x86-remapped"):
        raise ValueError(f"assigned x86 guest kind {kind!r}: x86-posted or x86-remapped")
    plat = bench.platform
    host = BenchX86Host(plat.model)
    g = x86_guest(bench, host, host_ops, name, pcpus=pcpus, posted=kind == "x86-posted", did=did)
    table = PasidTranslationTable(plat.model.memory, plat.model.allocator)
    cpu = VmxEnqcmd(table, g.exits)
    ims = _trap_ims(bench, host_ops, g, table.host_pasid)
    g.ops.enqcmds = cpu
    _track_host_interrupts(plat, g.routing)
    a = AssignedX86Guest(g, ims, bench.requester_id, plat.sva, kind, host=host, table=table, cpu=cpu, did=did)
    _intercept_flr(a, host_ops)
    for pasid in pasids:
        a.attach_pasid(pasid)
    return a


def _intercept_flr(a: AssignedGuest, host_ops) -> None:
    """Hook the guest's config writes: a write of Initiate FLR in the PCI Express capability's Device
    Control resets the VMM's emulation first (AssignedGuest.guest_flr). The capability is found on the
    first config write (a walk of the list through the host, as vfio-pci knows it from its own probe)."""
    exp = []

    def find_exp_cap() -> int:
        ptr = host_ops.cfg_read(PCI_CAPABILITY_LIST, 1) & ~3
        while ptr:
            if host_ops.cfg_read(ptr, 1) == PCI_CAP_ID_EXP:
                return ptr
            ptr = host_ops.cfg_read(ptr + 1, 1) & ~3
        raise RuntimeError("the device has no PCI Express capability")

    def hook(offset: int, size: int, value: int) -> None:
        if not exp:
            exp.append(find_exp_cap())
        # Initiate FLR is bit 15 of Device Control: bit 7 of its high byte, whatever the write's width
        flr_byte = exp[0] + PCI_EXP_DEVCTL + 1
        if offset <= flr_byte < offset + size and (value >> 8 * (flr_byte - offset)) & (PCI_EXP_DEVCTL_BCR_FLR >> 8):
            a.guest_flr()

    a.ops.cfg_write_hooks.append(hook)


def _trap_ims(bench, host_ops, g: BenchGuest, pasid_map) -> list[TrappedIms]:
    device = OpsDevice(host_ops, bench.bar0_addr)
    out = []
    for wq in range(bench.params.num_wq):
        trapped = TrappedIms(device, g.routing, wq, pasid_map=pasid_map)
        trapped.install(g.bar)
        out.append(trapped)
    return out


def _track_host_interrupts(plat, routing) -> None:
    """Every host interrupt the VMM allocates that is not posted (a remapped IRTE, a host ITS event) is
    tracked by the platform scoreboard from its allocation on: a delivery before the guest took it is then
    not spurious, and :meth:`AssignedGuest.expect_consumed` adds the expectation."""
    route_message = routing.route_message

    def route_and_track(requester_id: int, address: int, data: int):
        route = route_message(requester_id, address, data)
        if not route.posted:
            plat.track(route.host_irq)
        return route

    routing.route_message = route_and_track


def assigned_arm_guest(bench, host_ops, *, name: str = "A", pasids: Sequence[int] = ()) -> AssignedArmGuest:
    """An ARM VM owning the device (see the module doc); ``pasids``: SubstreamIDs attached now (1..8191)."""
    plat = bench.platform
    # 4 vCPUs: the C scenario moves an interrupt to CPUs 1 and 2
    g = arm_guest(bench, host_ops, name, virtual_device_id=ARM_VIRTUAL_DEVICE_ID, vmid=ARM_VMID, vcpus=4,
                  ram_size=ARM_RAM)
    vsmmu = VirtualSmmu(bench, g, vmid=ARM_VMID)
    cd_table = GuestCdTable(g.guest, ARM_S1CDMAX)
    space = Process(f"{name}:dma", g.guest.memory, g.guest.allocator, "arm")
    for gpa in sorted(g.guest.memory.pages):
        space.map(gpa, gpa, 4096, writable=True, user=True, page_size=4096)
    vsmmu.install_vste(cd_table)
    p = bench.params
    g.routing.hwsize = p.msix_vectors + p.num_wq * p.ims_per_wq
    ims = _trap_ims(bench, host_ops, g, vsmmu.ssid_map)
    _track_host_interrupts(plat, g.routing)
    a = AssignedArmGuest(g, ims, bench.requester_id, plat.sva, "arm-vits", vsmmu=vsmmu, cd_table=cd_table,
                         dma_space=space)
    _intercept_flr(a, host_ops)
    for pasid in pasids:
        a.attach_pasid(pasid)
    return a


def assigned_guest(bench, host_ops, kind: str, *, pasids: Sequence[int] = ()) -> AssignedGuest:
    """The assigned guest of ``kind`` (KINDS) on the bench's platform."""
    if kind not in KINDS:
        raise ValueError(f"assigned guest kind {kind!r}: one of {', '.join(KINDS)}")
    if kind.split("-")[0] != bench.platform.name:
        raise ValueError(f"assigned guest kind {kind!r} does not run on the {bench.platform.name} platform")
    if kind == "arm-vits":
        return assigned_arm_guest(bench, host_ops, pasids=pasids)
    return assigned_x86_guest(bench, host_ops, kind, pasids=pasids)


class GuestDedicatedWq(GuestSharedWq):
    """The guest's view of dedicated WQ ``wq_id`` that the host driver gave it (a Scalable-IOV style
    assignable interface: the WQ's portal, a range of its IMS window, a descriptor pool in guest RAM).
    Submission is MOVDIR64B (posted), the descriptor's PASID is ignored: the device tags the WQ's DMA with
    the PASID the host driver wrote into WQCFG2, which the VMM attached to this guest's RAM."""

    def __init__(self, ops, **kwargs):
        super().__init__(ops, **kwargs)
        self.wq.dedicated = True


__all__ = ["AssignedArmGuest", "AssignedGuest", "AssignedX86Guest", "GuestDedicatedWq", "KINDS", "assigned_arm_guest",
           "assigned_guest", "assigned_x86_guest"]
