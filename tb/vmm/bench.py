"""Guests on the cocotb bench: the VMM models of this package wired to the RTL and the bench's platform.

``Bench.start(dut, platform_options=GUEST_PLATFORM_OPTIONS[name])`` builds the platform with what guests
need (x86: VT-d with interrupt posting and second-level translation; ARM: SMMUv3 with stage 2), then

* :func:`x86_guest` / :func:`arm_guest` build one VM on it: guest RAM on host pages of the platform's
  table memory, mapped GPA -> HPA for the device's DMA without PASID (VT-d RID_PASID second level, PGTT
  010b / SMMUv3 STE Config 110b: the VFIO map of guest RAM); the guest's BAR0 (:class:`~.trap.GuestBar`)
  with the MSI-X table trapped (:class:`~.trap.VfioMsix`), everything else (the PBA, IMS pages, CSRs)
  and the BAR2 portals mapped straight through; and the guest's own interrupt controller (x86: vCPUs
  with posted-interrupt descriptors, a kernel that composes compatibility-format messages; ARM: vCPUs
  with redistributors in guest memory, a virtual ITS with a virtual DeviceID);
* :class:`GuestOps` is the driver model's ``DeviceOps`` inside that guest: the unchanged
  fw/imsdev/driver runs on it in a cocotb bridge thread. Its MMIO goes through the guest's BAR view,
  its memory is guest RAM (addresses are GPAs), its irq domain is the guest kernel's, and ``wait_irq``
  returns what the guest's vCPUs took: ``(vCPU, vector)`` on x86, ``(redistributor, LPI)`` on ARM.

Every physical access the guest or the VMM makes is a real TLP through the bench (``BenchOps``), and
every interrupt is a real message of the RTL through the platform models.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from cocotb.task import resume
from cocotb.triggers import Event, with_timeout

from imsdev import regs
from imsdev.driver.ops import DeviceOps, DmwrStatus
from imsdev.platform import Irq, IrqDomain, ItsIrqDomain
from imsdev.platform.x86_ir import compatibility_msi_message

from ..platform.cpu import Cpus, Delivery
from ..platform.gic_its import GicRedistributors
from .device import OpsDevice
from .exits import ExitCounter
from .guest import Guest, TrappedRegisters
from .host import ArmRouting, X86Routing, X86Vm
from .trap import GuestBar, VfioMsix
from .vcpu import PhysicalCpus, Vcpu
from .vits import GuestMsiMapper, ShadowRouting, VirtualIts

GUEST_PLATFORM_OPTIONS = {
    "x86": dict(dma_translation=True, posted=True, second_level=True),
    "arm": dict(dma_translation=True, stage2=True),
}
FIRST_GUEST_VECTOR = 0x30          # Linux's FIRST_EXTERNAL_VECTOR + the ISA range
VITS_GPA = 0x0808_0000             # the guest's ITS frame (GPA; not RAM)
X86_RAM, ARM_RAM = 0x8_0000, 0x10_0000


def posted_notifications(deliveries: Sequence[Delivery]) -> list[Delivery]:
    """The posted-interrupt notifications among platform deliveries (vtd_posted: format detail)."""
    return [d for d in deliveries if d.details.get("format") == "posted-notification"]


class BenchX86Host:
    """The bench's x86 platform model seen as tb.vmm's X86Host (memory, CPUs, VT-d with posting, the
    host kernel's remapping domain, KVM's per-CPU state)."""

    def __init__(self, model):
        if not hasattr(model.iommu, "posted"):
            raise RuntimeError("the x86 platform has no interrupt posting: start the bench with "
                               "platform_options=GUEST_PLATFORM_OPTIONS['x86']")
        self.model = model
        self.memory = model.memory
        self.cpus = model.cpus
        self.iommu = model.iommu
        self.domain = model.domain
        self.allocator = model.allocator
        self.pcpus = PhysicalCpus(model.cpus)

    def handle_write(self, addr: int, data: bytes, requester_id: int) -> bool:
        return self.model.handle_write(addr, data, requester_id)


class GuestApicDomain(IrqDomain):
    """An x86 guest kernel without a virtual IOMMU: vectors on its vCPUs (APIC ID = vCPU index), each
    interrupt a compatibility-format message (what the VMM's MSI-X trap decodes). Vectors are handed
    out from FIRST_GUEST_VECTOR; CPUs round robin, as the kernel spreads managed interrupts."""

    def __init__(self, vcpus: int):
        self.vcpus = vcpus
        self._next_vector = FIRST_GUEST_VECTOR
        self._next_cpu = 0

    @property
    def cpu_count(self) -> int:
        return self.vcpus

    def alloc_irqs(self, requester_id: int, nvecs: int, hwsize: int | None = None) -> list[Irq]:
        out = []
        for _ in range(nvecs):
            cpu, vector = self._next_cpu, self._next_vector
            self._next_cpu = (cpu + 1) % self.vcpus
            self._next_vector += 1
            out.append(Irq(requester_id, vector, compatibility_msi_message(cpu, vector), cpu, cpu, vector))
        return out

    def set_affinity(self, irq: Irq, cpu: int) -> None:
        """Without remapping the message itself names the CPU: the driver's entry is rewritten."""
        irq.cpu = irq.target = cpu
        irq.msg = compatibility_msi_message(cpu, irq.vector)

    def free_irqs(self, irqs: Sequence[Irq]) -> None:
        for irq in irqs:
            irq.active = False


class GuestOps(DeviceOps):
    """The driver model's DeviceOps inside a guest (see the module doc). Call only from a bridge thread."""

    def __init__(self, host_ops, guest: Guest, bar: GuestBar, irq_domain: IrqDomain, requester_id: int,
                 bar0: int, bar0_size: int):
        self.host = host_ops
        self.guest = guest
        self.bar = bar
        self.irq_domain = irq_domain
        self.requester_id = requester_id
        self.bar0, self.bar0_end = bar0, bar0 + bar0_size
        self.counts = host_ops.counts.__class__()
        self.received: deque[tuple[int, int]] = deque()
        # x86: the vCPU's ENQCMDS when the VMM runs the guest with PASID translation (tb/vmm/assign.py);
        # None: the descriptor's PASID goes to the portal as the driver passed it
        self.enqcmds: Any = None
        # the VMM's config-space intercepts (vfio-pci virtualizes some registers): called with (offset,
        # size, value) before a guest config write is forwarded (tb/vmm/assign.py: the guest's FLR)
        self.cfg_write_hooks: list[Callable[[int, int, int], None]] = []
        self._arrived = Event()
        self._wait = resume(self._wait_irq)

    def take(self, key: tuple[int, int]) -> None:
        """A vCPU took an interrupt (called by the guest's interrupt controller)."""
        self.received.append(key)
        self._arrived.set()

    # ---- MMIO: the guest's BAR0 view; BAR2 portals straight through ----------------------------
    def _in_bar0(self, addr: int) -> bool:
        inside = self.bar0 <= addr < self.bar0_end
        if inside and self.bar.is_trapped(addr - self.bar0):
            self.counts["trapped"] += 1          # counted here, independently of the trap's exits
        return inside

    def mmio_read32(self, addr: int) -> int:
        self.counts["mmio_read"] += 1
        return self.bar.read32(addr - self.bar0) if self._in_bar0(addr) else self.host.mmio_read32(addr)

    def mmio_write32(self, addr: int, value: int) -> None:
        self.counts["mmio_write"] += 1
        if self._in_bar0(addr):
            self.bar.write32(addr - self.bar0, value & 0xFFFF_FFFF)
        else:
            self.host.mmio_write32(addr, value)

    def mmio_read64(self, addr: int) -> int:
        self.counts["mmio_read"] += 1
        return self.bar.read64(addr - self.bar0) if self._in_bar0(addr) else self.host.mmio_read64(addr)

    def mmio_write64(self, addr: int, value: int) -> None:
        self.counts["mmio_write"] += 1
        if self.bar0 <= addr < self.bar0_end and self.bar.is_trapped(addr - self.bar0):
            self.mmio_write32(addr, value & 0xFFFF_FFFF)
            self.mmio_write32(addr + 4, value >> 32)
        else:
            self.host.mmio_write64(addr, value)

    # ---- configuration space: vfio-pci passes it through (MSI-X Enable/Mask All forwarded) ------
    def cfg_read(self, offset: int, size: int) -> int:
        self.counts["cfg_read"] += 1
        return self.host.cfg_read(offset, size)

    def cfg_write(self, offset: int, size: int, value: int) -> None:
        self.counts["cfg_write"] += 1
        for hook in self.cfg_write_hooks:
            hook(offset, size, value)
        self.host.cfg_write(offset, size, value)

    # ---- guest RAM (GPAs) ------------------------------------------------------------------------
    def mem_alloc(self, size: int, align: int = 64) -> int:
        gpa = self.guest.allocator.alloc(max(size, 1), max(align, 64))
        self.guest.memory.write(gpa, bytes(max(size, 1)))
        self.counts["mem_alloc"] += 1
        return gpa

    def mem_read(self, addr: int, length: int) -> bytes:
        return self.guest.memory.read(addr, length)

    def mem_write(self, addr: int, data: bytes) -> None:
        self.guest.memory.write(addr, bytes(data))

    # ---- portals: mapped straight through --------------------------------------------------------
    def dmwr(self, addr: int, data: bytes, pasid: int, priv: bool = False) -> DmwrStatus:
        if self.enqcmds is not None:
            # ENQCMDS (a kernel driver's submission): PASID and privilege from the descriptor's DW0,
            # translated by the CPU through the VMM's PASID-translation table (exit + #GP if unmapped)
            write = self.enqcmds.enqcmds(0, bytes(data))
            self.counts["enqcmds"] += 1
            return self.host.dmwr(addr, write.data, write.pasid, write.priv)
        return self.host.dmwr(addr, data, pasid, priv)

    def movdir64b(self, addr: int, data: bytes) -> None:
        self.host.movdir64b(addr, data)

    # ---- interrupts and time ----------------------------------------------------------------------
    async def _wait_irq(self, timeout_ns: int) -> list[tuple[int, int]]:
        if not self.received and timeout_ns > 0:
            self._arrived.clear()
            try:
                await with_timeout(self._arrived.wait(), timeout_ns, "ns")
            except TimeoutError:
                pass
        out = list(self.received)
        self.received.clear()
        return out

    def wait_irq(self, timeout_ns: int) -> list[tuple[int, int]]:
        self.flush()
        keys = self._wait(int(timeout_ns))
        self.counts["irqs_taken"] += len(keys)
        return keys

    def flush(self) -> None:
        self.host.flush()          # the host ops' queued posted writes (tb/driver_ops.py BenchOps)

    def delay_ns(self, ns: int) -> None:
        self.host.delay_ns(ns)

    def msleep(self, ms: int) -> None:
        self.host.msleep(ms)

    def ktime_get_ns(self) -> int:
        return self.host.ktime_get_ns()


@dataclass
class BenchGuest:
    """One VM on the bench: its RAM, exits, BAR view, MSI-X trap, routing, vCPUs and DeviceOps."""
    name: str
    arch: str
    guest: Guest
    bar: GuestBar
    msix: VfioMsix
    routing: Any
    ops: GuestOps
    vcpus: list = field(default_factory=list)      # x86: tb.vmm.Vcpu; ARM: the guest's Cpus ids
    vm: X86Vm | None = None                         # x86
    vits: VirtualIts | None = None                  # ARM
    guest_cpus: Cpus | None = None                  # ARM: where the guest's LPIs land
    kernel_domain: Any = None                       # ARM: the guest kernel's ItsIrqDomain

    @property
    def exits(self) -> ExitCounter:
        return self.guest.exits

    def host_irq(self, vector: int):
        """The host interrupt (IRTE / ITS event) the VMM allocated for guest MSI-X vector `vector`."""
        return self.msix.entries[(vector,)].route.host_irq

    def route(self, vector: int):
        return self.msix.entries[(vector,)].route

    def exits_for(self, *prefixes: str, since: int = 0) -> int:
        """Exits whose detail names one of these trapped regions ("MSI-X", "IMS", "GITS", "GICR", "vSMMU")."""
        return sum(1 for e in self.exits.log[since:] if e.detail.startswith(prefixes))


def _bar0(bench) -> tuple[int, int]:
    return bench.bar0_addr, regs.BAR0_SIZE


def x86_guest(bench, host: BenchX86Host, host_ops, name: str, *, pcpus: Sequence[int], posted: bool,
              did: int, attach_dma: bool = True, ram_size: int = X86_RAM) -> BenchGuest:
    """An x86 VM with len(pcpus) vCPUs, vCPU n running on physical CPU pcpus[n]."""
    vm = X86Vm(host, name, vcpus=len(pcpus), ram_size=ram_size)
    for vcpu, cpu in zip(vm.vcpus, pcpus):
        vcpu.load(cpu)
    rid = bench.requester_id
    if attach_dma:
        bench.platform.sva.attach_second_level(rid, vm.guest.iommu_tables, did)
    device = OpsDevice(host_ops, bench.bar0_addr)
    bar = GuestBar(device, vm.exits)
    routing = X86Routing(host, vm, posted=posted, affine=True)
    msix = VfioMsix(device, routing)
    msix.install(bar)
    ops = GuestOps(host_ops, vm.guest, bar, GuestApicDomain(len(pcpus)), rid, *_bar0(bench))
    for vcpu in vm.vcpus:
        vcpu.on_receive.append(lambda v, taken: ops.take((v.index, taken.vector)))
    return BenchGuest(name, "x86", vm.guest, bar, msix, routing, ops, list(vm.vcpus), vm=vm)


def arm_guest(bench, host_ops, name: str, *, virtual_device_id: int, vmid: int, vcpus: int = 2,
              shadow: bool = False, set_dev_id: bool = True, ram_size: int = ARM_RAM) -> BenchGuest:
    """An ARM VM: guest kernel ITS domain on a virtual ITS (vDeviceID -> the device's RID), the MSI
    doorbell IOVA mapped onto the physical ITS page, guest RAM behind stage 2."""
    model = bench.platform.model
    rid = bench.requester_id
    guest = Guest(name, "arm", model.memory, model.allocator, ram_size=ram_size)
    bench.platform.sva.attach_stage2(rid, guest.iommu_tables, vmid)
    guest_cpus = Cpus(range(vcpus), model.cpus.now)
    redists = GicRedistributors(guest.memory, guest_cpus)
    vits = VirtualIts(guest.memory, redists, model.domain, model.cpus, guest.exits, gpa_base=VITS_GPA,
                      device_id_bits=8, shadow=shadow)
    if set_dev_id:
        vits.set_dev_id(virtual_device_id, rid)
    mapper = GuestMsiMapper(vits, model.smmu, model.its.phys_base)
    kernel = ItsIrqDomain(TrappedRegisters(vits, guest.exits, "GITS"),
                          [TrappedRegisters(redists.frames[p], guest.exits, f"GICR{p}") for p in guest_cpus.ids],
                          guest.memory, guest.allocator, mapper, its_phys_base=VITS_GPA)
    device = OpsDevice(host_ops, bench.bar0_addr)
    bar = GuestBar(device, guest.exits)
    # shadow: the guest's own messages go to the device as they are (vits.ShadowRouting); otherwise the VMM
    # backs each trapped vector with a host event of its own (host.ArmRouting, KVM's plain vgic-its)
    routing = (ShadowRouting(vits, virtual_device_id, mapper.guest_mappings) if shadow else
               ArmRouting(model, vits, virtual_device_id, mapper.guest_mappings))
    msix = VfioMsix(device, routing)
    msix.install(bar)
    ops = GuestOps(host_ops, guest, bar, kernel, virtual_device_id, *_bar0(bench))
    guest_cpus.on_deliver.append(lambda d: ops.take(d.key))
    return BenchGuest(name, "arm", guest, bar, msix, routing, ops, list(guest_cpus.ids), vits=vits,
                      guest_cpus=guest_cpus, kernel_domain=kernel)


def wait_until(ops, cond: Callable[[], bool], what: str, timeout_ns: int = 100_000, step_ns: int = 100) -> None:
    """Poll ``cond`` in simulation time from a bridge thread; AssertionError naming ``what`` on timeout."""
    deadline = ops.ktime_get_ns() + timeout_ns
    while not cond():
        assert ops.ktime_get_ns() < deadline, f"{what}: not within {timeout_ns} ns"
        ops.delay_ns(step_ns)


async def finish_guests(bench, checked: dict, notifications: int = 0) -> None:
    """The platform scoreboard after a guest scenario: host interrupts expected exactly, faults exactly as
    expected; the only deliveries it cannot attribute are the posted-interrupt notifications (they carry
    the IRTE index of a posted entry, which no host driver owns)."""
    plat = bench.platform
    await plat.wait_all()
    await bench.settle()
    report = plat.report()
    bench.log.info("guest scoreboard: %s %s", report, checked)
    assert report["lost"] == report["duplicate"] == report["misrouted"] == 0, report
    assert report["spurious"] == notifications, report
    assert report["faults"] == report["faults_expected"] and report["faults_unexpected"] == 0 \
        and report["faults_missing"] == 0, [str(f) for f in plat.faults]


__all__ = ["BenchGuest", "BenchX86Host", "GUEST_PLATFORM_OPTIONS", "GuestApicDomain", "GuestOps",
           "arm_guest", "finish_guests", "posted_notifications", "wait_until", "x86_guest"]
