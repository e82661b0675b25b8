"""ARM guests: a virtual ITS with virtual DeviceIDs, shadowed onto the physical ITS.

The guest runs the unchanged kernel ITS code (``imsdev.platform.ItsIrqDomain``) against
:class:`VirtualIts`, a :class:`~tb.platform.gic_its.GicIts` whose command queue, device table, ITTs
and collection table live in *guest* memory and whose redistributors are the guest's vCPUs (KVM's
vgic-its keeps them there too). Its register frame is reached through
:class:`~tb.vmm.guest.TrappedRegisters`, so every guest ITS register access is one exit.

What the VMM adds (the issue's "VIOMMU_SET_DEV_ID": the iommufd vIOMMU series' per-vIOMMU virtual
device IDs, set_vdev_id / IOMMU_VIOMMU_SET_VDEV_ID in its 2024 postings, upstream as
IOMMU_VDEVICE_ALLOC with a virt_id; the VMM tells the host which physical device a guest-visible ID
stands for):

* ``set_dev_id(virtual, physical)``: the virtual-to-physical DeviceID table. A guest MAPD (and every
  command naming a DeviceID) whose virtual DeviceID is not in the table is *dropped* before the
  virtual ITS executes it, and recorded in ``dropped`` (:class:`DroppedCommand`); the guest's ITS
  tables are left unchanged, so later commands for that device fail in the guest ITS as unmapped.
* Shadowing: a guest MAPD(V=1) of a mapped virtual DeviceID makes the physical DeviceID's ITT cover
  the same EventID space on the physical ITS (host kernel code, ``ItsIrqDomain.alloc_event``); a
  guest MAPTI/MAPI(vDevID, EventID) maps the same EventID of the physical DeviceID to a host LPI; a
  DISCARD or MAPD(V=0) frees them. The device writes the guest's EventID, so the two ITTs must agree.
* Delivery: the guest's MSI address is the guest IOVA its kernel chose in the MSI window
  (0x0800_0000 + page offset of GITS_TRANSLATER), data = EventID. :class:`GuestMsiMapper` stands for
  the guest's stage-1 mapping of that IOVA onto its virtual ITS doorbell and the host's stage-2
  mapping of the virtual ITS doorbell onto the physical GITS_TRANSLATER page, flattened into the
  host's SMMU MSI window (tb/platform/smmu.py has a single translation domain). The physical ITS sees
  the physical DeviceID (the StreamID) and the guest's EventID, raises the host LPI on a host CPU, and
  the VMM injects it through the virtual ITS with the virtual DeviceID (KVM's irqfd ->
  vgic_its_inject_msi): one EXTERNAL_INTERRUPT exit per interrupt, counted on the guest. GICv4
  direct injection (VMAPTI/vPE) is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imsdev.platform import Irq, ItsIrqDomain, MsiMsg

from ..platform.cpu import Cpus, Delivery
from ..platform.gic_its import (GITS_TRANSLATER, GicIts, GicRedistributors, ItsCommand,
                                ItsCommandFields)
from ..platform.smmu import SmmuMsiWindow
from .exits import ExitCounter, ExitReason

_COMMANDS_WITH_DEVICE_ID = frozenset({ItsCommand.MAPD, ItsCommand.MAPTI, ItsCommand.MAPI,
                                      ItsCommand.INT, ItsCommand.CLEAR, ItsCommand.INV,
                                      ItsCommand.DISCARD, ItsCommand.MOVI})


@dataclass(frozen=True)
class DroppedCommand:
    opcode: int
    name: str
    virtual_device_id: int
    event_id: int
    queue_offset: int
    time: Any


@dataclass(frozen=True)
class DroppedInjection:
    physical_device_id: int
    event_id: int
    reason: str
    time: Any


class VirtualIts(GicIts):
    """The guest's ITS (tables in guest memory) plus the VMM's DeviceID table and shadowing."""

    def __init__(self, guest_memory, guest_redistributors: GicRedistributors, host_domain: ItsIrqDomain,
                 host_cpus: Cpus, exits: ExitCounter, *, gpa_base: int, device_id_bits: int = 16,
                 event_id_bits: int = 16, shadow: bool = True):
        self.host_domain = host_domain
        # shadow=False: KVM's plain vgic-its, for the vfio-pci path where the VMM traps the MSI-X
        # table and backs each guest vector with a host event of its own choice (host.ArmRouting).
        self.shadow_enabled = shadow
        self.exits = exits
        self.virtual_to_physical: dict[int, int] = {}
        self.shadow: dict[tuple[int, int], Irq] = {}          # (vDevID, EventID) -> host Irq
        self.shadow_size: dict[int, int] = {}                 # vDevID -> events its ITT covers
        self._by_host_lpi: dict[tuple[int, int], tuple[int, int]] = {}
        super().__init__(guest_memory, guest_redistributors, phys_base=gpa_base,
                         device_id_bits=device_id_bits, event_id_bits=event_id_bits)
        host_cpus.on_deliver.append(self._host_interrupt)

    def reset(self) -> None:
        super().reset()
        self.dropped: list[DroppedCommand] = []
        self.dropped_injections: list[DroppedInjection] = []
        self.injected = 0

    # ----------------------------------------------------------------- the VMM's table
    def set_dev_id(self, virtual: int, physical: int) -> None:
        """Guest-visible DeviceID ``virtual`` is physical ``physical`` (set_vdev_id / vDEVICE virt_id)."""
        current = self.virtual_to_physical.get(virtual)
        if current is not None and current != physical:
            raise ValueError(f"virtual DeviceID {virtual:#x} is already {current:#x}")
        if current is None and physical in self.virtual_to_physical.values():
            raise ValueError(f"physical DeviceID {physical:#x} already has a virtual ID")
        self.virtual_to_physical[virtual] = physical

    def unset_dev_id(self, virtual: int) -> None:
        self.virtual_to_physical.pop(virtual, None)

    # ----------------------------------------------------------------- commands
    def _execute(self, command: ItsCommandFields):
        if command.opcode in _COMMANDS_WITH_DEVICE_ID and command.device_id not in self.virtual_to_physical:
            self.dropped.append(DroppedCommand(command.opcode, command.name, command.device_id,
                                               command.event_id, self._creadr, self.cpus.now()))
            return None
        return super()._execute(command)

    def _cmd_mapd(self, command: ItsCommandFields) -> None:
        super()._cmd_mapd(command)
        if not self.shadow_enabled:
            return
        virtual = command.device_id
        for key in [k for k in self.shadow if k[0] == virtual]:
            self._unshadow(*key)
        if command.valid:
            self.shadow_size[virtual] = 1 << (command.size + 1)
        else:
            self.shadow_size.pop(virtual, None)

    def _cmd_mapti(self, command: ItsCommandFields) -> None:
        super()._cmd_mapti(command)
        if not self.shadow_enabled:
            return
        key = (command.device_id, command.event_id)
        if key in self.shadow:
            self._unshadow(*key)
        physical = self.virtual_to_physical[command.device_id]
        irq = self.host_domain.alloc_event(physical, command.event_id,
                                           self.shadow_size[command.device_id])
        self.shadow[key] = irq
        self._by_host_lpi[irq.expected] = key

    def _cmd_discard(self, command: ItsCommandFields) -> None:
        super()._cmd_discard(command)
        self._unshadow(command.device_id, command.event_id)

    def _unshadow(self, virtual: int, event_id: int) -> None:
        irq = self.shadow.pop((virtual, event_id), None)
        if irq is not None:
            self._by_host_lpi.pop(irq.expected, None)
            self.host_domain.free_irqs([irq])

    # ----------------------------------------------------------------- delivery
    def _host_interrupt(self, delivery: Delivery) -> None:
        key = self._by_host_lpi.get(delivery.key)
        if key is None:
            return
        virtual, event_id = key
        self.exits.exit(ExitReason.EXTERNAL_INTERRUPT, 0,
                        f"host LPI {delivery.vector} for vDevID {virtual:#x} event {event_id}")
        self.inject(virtual, event_id)

    def inject(self, virtual: int, event_id: int) -> None:
        """vgic_its_inject_msi: translate (virtual DeviceID, EventID) through the guest's tables."""
        if virtual not in self.virtual_to_physical:
            self.dropped_injections.append(DroppedInjection(-1, event_id, "virtual DeviceID unmapped",
                                                            self.cpus.now()))
            return
        self.injected += 1
        self.handle_write(self.doorbell_address, event_id.to_bytes(4, "little"), virtual)


class ShadowRouting:
    """The VMM's MSI-X routing for a guest whose virtual ITS shadows (``VirtualIts(shadow=True)``): the guest's
    own message (its doorbell IOVA, EventID) is already what the physical ITS must receive, because the
    guest's MAPTI was mirrored with the same EventID on the physical DeviceID and the IOVA maps onto the
    physical GITS_TRANSLATER page (:class:`GuestMsiMapper`); so the VMM writes it into the physical entry
    unchanged and no host handler is involved until the host LPI (one injection exit). A message whose
    (virtual DeviceID, EventID) has no shadow - the DeviceID was never given a physical one, so the vITS
    dropped the guest's MAPD/MAPTI - is still written: the device's real message then reaches the physical
    ITS for a DeviceID/EventID it has no mapping for, and is dropped there (what a guest without
    ``set_dev_id`` gets). ``route_message`` rejects only addresses that are not the guest's doorbell."""

    def __init__(self, vits: VirtualIts, virtual_device_id: int, guest_doorbells: dict[int, int]):
        self.vits = vits
        self.virtual_device_id = virtual_device_id
        self.guest_doorbells = guest_doorbells       # IOVA page -> GPA page, the guest's MSI mappings

    def route_message(self, requester_id: int, address: int, data: int):
        from .host import GuestMessageError, Route          # host imports this module
        if self.guest_doorbells.get(address & ~0xFFF) != self.vits.doorbell_address & ~0xFFF \
                or address & 0xFFF != self.vits.doorbell_address & 0xFFF:
            raise GuestMessageError(f"address {address:#x} is not the guest's ITS doorbell")
        shadow = self.vits.shadow.get((self.virtual_device_id, data))
        msg = MsiMsg(address & 0xFFFF_FFFF, address >> 32, data)
        cpu = shadow.cpu if shadow is not None else 0
        irq = Irq(requester_id, data, msg, cpu, shadow.target if shadow else -1, shadow.vector if shadow else -1)
        return Route(irq, 0, data)

    def unroute(self, route) -> None:
        """Nothing to free: the shadow's host event belongs to the vITS (freed by the guest's DISCARD/MAPD)."""


class GuestMsiMapper:
    """The ``iommu`` the guest kernel's ITS domain maps its doorbell with: guest IOVA -> virtual ITS
    doorbell page (guest stage 1), resolved by the VMM to the physical ITS page in the host's SMMU
    MSI window (stage 2 of the virtual ITS doorbell onto GITS_TRANSLATER)."""

    def __init__(self, vits: VirtualIts, host_window: SmmuMsiWindow, physical_its_base: int):
        self.vits = vits
        self.host_window = host_window
        self.physical_doorbell_page = (physical_its_base + GITS_TRANSLATER) & ~0xFFF
        self.guest_mappings: dict[int, int] = {}

    def map(self, iova: int, gpa: int) -> None:
        if gpa != self.vits.doorbell_address & ~0xFFF:
            raise ValueError(f"guest maps IOVA {iova:#x} to {gpa:#x}, not its ITS doorbell page")
        self.guest_mappings[iova] = gpa
        self.host_window.map(iova, self.physical_doorbell_page)


__all__ = ["DroppedCommand", "DroppedInjection", "GuestMsiMapper", "ShadowRouting", "VirtualIts"]
