"""ARM GICv3 ITS irq domain: what Linux's irq-gic-v3-its.c and dma-iommu's MSI cookie do.

Follows platform-facts.md sections 5 and 6 and Linux's order:
  * probe (its_probe_one, its_alloc_tables): read GITS_TYPER (ITT entry size, ID bits, Devbits,
    PTA), give each implemented GITS_BASER a zeroed flat table (device table large enough for every
    DeviceID, collection table for every CPU), allocate the command queue (CBASER, CWRITER=0) and set
    GITS_CTLR.Enabled.
  * redistributors (its_cpu_init_lpis): one LPI configuration table shared by all, filled with
    priority 0xa0 | group1 and disabled, a pending table each, PROPBASER/PENDBASER, EnableLPIs;
    processor numbers come from GICR_TYPER.
  * collections (its_cpu_init_collection): MAPC(ICID = logical CPU, RDbase = processor number, PTA=0)
    and INVALL for every CPU.
  * every command is followed by a SYNC to the affected redistributor; CWRITER is written once and
    CREADR polled until it reaches it (a stalled queue is an error).
  * devices (its_create_device): nr_ites = max(2, pow2(nvecs or hwsize)), ITT = nr_ites * ITT entry
    size, at least 256 bytes and 256-byte aligned, zeroed; a contiguous LPI range from 8192;
    MAPD(Size = log2(nr_ites) - 1).
  * vectors: MAPTI(EventID, LPI = lpi_base + EventID, ICID = target CPU), then enable the LPI's
    configuration byte and INV (the unmask path: lpi_update_config + its_send_inv).
  * the message (iommu_dma_prepare_msi / iommu_dma_compose_msi_msg): the 4 KiB page holding
    GITS_TRANSLATER is mapped once at the next free page of the MSI IOVA window; address =
    page IOVA | (PA & 0xfff), data = EventID.
  * set_affinity: MOVI to the new CPU's collection; free: DISCARD, disable the LPI, and MAPD V=0 once
    the device has no events left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

from ..fields import FieldError, flag, put
from .msi import HostAllocator, HostMemory, Irq, IrqDomain, MsiMsg, RegisterAccess, wait_for, zero_fill

GITS_CTLR = 0x0000
GITS_TYPER = 0x0008
GITS_CBASER = 0x0080
GITS_CWRITER = 0x0088
GITS_CREADR = 0x0090
GITS_BASER = 0x0100
GITS_BASER_NR_REGS = 8
GITS_TRANSLATER = 0x10040

GITS_CTLR_ENABLE = 1 << 0
GITS_CTLR_QUIESCENT = 1 << 31
GITS_CREADR_STALLED = 1 << 0
GITS_CBASER_VALID = 1 << 63
GITS_BASER_VALID = 1 << 63
GITS_BASER_TYPE_DEVICE = 1
GITS_BASER_TYPE_COLLECTION = 4
GITS_BASER_MAX_PAGES = 256

GICR_CTLR = 0x0000
GICR_TYPER = 0x0008
GICR_PROPBASER = 0x0070
GICR_PENDBASER = 0x0078
GICR_CTLR_ENABLE_LPIS = 1 << 0

GITS_CMD_MOVI = 0x01
GITS_CMD_INT = 0x03
GITS_CMD_CLEAR = 0x04
GITS_CMD_SYNC = 0x05
GITS_CMD_MAPD = 0x08
GITS_CMD_MAPC = 0x09
GITS_CMD_MAPTI = 0x0A
GITS_CMD_INV = 0x0C
GITS_CMD_INVALL = 0x0D
GITS_CMD_DISCARD = 0x0F
ITS_CMD_BYTES = 32
ITS_ITT_ALIGN = 256

LPI_BASE = 8192
LPI_PROP_DEFAULT_PRIO = 0xA0
LPI_PROP_GROUP1 = 1 << 1
LPI_PROP_ENABLED = 1 << 0

MSI_IOVA_BASE = 0x0800_0000
MSI_IOVA_LENGTH = 0x10_0000
IOMMU_GRANULE = 0x1000


class IommuDomain(Protocol):
    def map(self, iova: int, pa: int) -> None: ...


def encode_its_command(opcode: int, *, device_id: int = 0, event_id: int = 0,
                       physical_id: int = 0, size: int = 0, itt_address: int = 0,
                       valid: bool = False, collection_id: int = 0, rdbase: int = 0) -> bytes:
    """A 32-byte command laid out as Linux's its_encode_* helpers do (facts section 5): DW0[7:0] opcode,
    DW0[63:32] DeviceID; DW1[31:0] EventID, DW1[63:32] pINTID (MAPD: DW1[4:0] Size); DW2[15:0] ICID,
    DW2[51:16] RDbase, DW2[51:8] ITT address (256-byte aligned), DW2[63] V. Every field is checked
    (fields.FieldError); a field the opcode does not have must be left 0."""
    dw0 = put("ITS command opcode", opcode, 8) | put("ITS DeviceID", device_id, 32, 32)
    if opcode == GITS_CMD_MAPD:
        if event_id or physical_id:
            raise FieldError("ITS MAPD has no EventID/pINTID (DW1 holds Size)")
        dw1 = put("ITS MAPD Size", size, 5)
    else:
        if size:
            raise FieldError(f"ITS command {opcode:#04x}: Size is a MAPD field")
        dw1 = put("ITS EventID", event_id, 32) | put("ITS pINTID", physical_id, 32, 32)
    if itt_address and rdbase:
        raise FieldError("ITS command: ITT address (MAPD) and RDbase (MAPC/SYNC) share DW2[51:16]")
    dw2 = (put("ITS ICID", collection_id, 16) | put("ITS RDbase", rdbase, 36, 16)
           | put("ITS ITT address", itt_address, 52, align=ITS_ITT_ALIGN))
    if opcode in (GITS_CMD_MAPD, GITS_CMD_MAPC):
        dw2 |= flag("ITS V", valid) << 63
    elif valid:
        raise FieldError(f"ITS command {opcode:#04x}: V is a MAPD/MAPC field")
    return b"".join(word.to_bytes(8, "little") for word in (dw0, dw1, dw2, 0))


def _pow2_at_least(n: int) -> int:
    return 1 << (max(n, 1) - 1).bit_length()


@dataclass
class _ItsDevice:
    device_id: int
    nr_ites: int
    itt_address: int
    lpi_base: int
    events: set[int] = field(default_factory=set)


class _LpiRanges:
    """Contiguous LPI ranges from 8192, like Linux's lpi_range list."""

    def __init__(self, id_bits: int):
        self._free = [(LPI_BASE, 1 << id_bits)]

    def alloc(self, count: int) -> int:
        for n, (start, end) in enumerate(self._free):
            if end - start >= count:
                self._free[n] = (start + count, end)
                return start
        raise RuntimeError(f"no {count} contiguous LPIs left")

    def free(self, start: int, count: int) -> None:
        self._free = sorted(self._free + [(start, start + count)])


class ItsIrqDomain(IrqDomain):
    def __init__(self, its_regs: RegisterAccess, redistributor_frames: Sequence[RegisterAccess],
                 memory: HostMemory, allocator: HostAllocator, iommu: IommuDomain, *,
                 its_phys_base: int, lpi_id_bits: int = 16, command_queue_pages: int = 16,
                 msi_iova_base: int = MSI_IOVA_BASE):
        self.regs = its_regs
        self.frames = tuple(redistributor_frames)
        self.memory = memory
        self.allocator = allocator
        self.iommu = iommu
        self.its_phys_base = its_phys_base
        self.lpi_id_bits = lpi_id_bits
        self._msi_iova_next = msi_iova_base
        self._msi_iova_end = msi_iova_base + MSI_IOVA_LENGTH
        self._doorbell_address: int | None = None
        self._devices: dict[int, _ItsDevice] = {}
        self._lpis = _LpiRanges(lpi_id_bits)
        self._next_cpu = 0
        self._probe_its(command_queue_pages)
        self._init_redistributors()
        for cpu in range(self.cpu_count):
            self._send(encode_its_command(GITS_CMD_MAPC, collection_id=cpu,
                                          rdbase=self.processor_numbers[cpu], valid=True), cpu)
            self._send(encode_its_command(GITS_CMD_INVALL, collection_id=cpu), cpu)

    @property
    def cpu_count(self) -> int:
        return len(self.frames)

    # ----------------------------------------------------------------- probe
    def _probe_its(self, command_queue_pages: int) -> None:
        typer = self.regs.read_reg(GITS_TYPER)
        if not typer & 1:
            raise RuntimeError("ITS without physical LPIs")
        if typer >> 19 & 1:
            raise RuntimeError("this domain targets processor numbers (GITS_TYPER.PTA=0)")
        self.ite_size = (typer >> 4 & 0xF) + 1
        self.event_id_bits = (typer >> 8 & 0x1F) + 1
        self.device_id_bits = (typer >> 13 & 0x1F) + 1
        if self.regs.read_reg(GITS_CTLR) & GITS_CTLR_ENABLE:
            self.regs.write_reg(GITS_CTLR, 0)
            wait_for(lambda: self.regs.read_reg(GITS_CTLR),
                     lambda ctlr: bool(ctlr & GITS_CTLR_QUIESCENT), "GITS_CTLR.Quiescent")
        for n in range(GITS_BASER_NR_REGS):
            self._alloc_table(GITS_BASER + 8 * n)
        self._queue_bytes = 4096 * command_queue_pages
        self._queue = self.allocator.alloc(self._queue_bytes, 65536)
        zero_fill(self.memory, self._queue, self._queue_bytes)
        self._queue_tail = 0
        self.regs.write_reg(GITS_CBASER,
                            GITS_CBASER_VALID | self._queue | (command_queue_pages - 1))
        self.regs.write_reg(GITS_CWRITER, 0)
        self.regs.write_reg(GITS_CTLR, GITS_CTLR_ENABLE)

    def _alloc_table(self, baser_offset: int) -> None:
        baser = self.regs.read_reg(baser_offset)
        table_type = baser >> 56 & 0x7
        entry_bytes = (baser >> 48 & 0x1F) + 1
        if table_type == GITS_BASER_TYPE_DEVICE:
            entries = 1 << self.device_id_bits
        elif table_type == GITS_BASER_TYPE_COLLECTION:
            entries = self.cpu_count
        else:
            return
        pages = min(max(1, -(-entries * entry_bytes // 4096)), GITS_BASER_MAX_PAGES)
        table = self.allocator.alloc(pages * 4096, 4096)
        zero_fill(self.memory, table, pages * 4096)
        read_only = baser & (0x7 << 56 | 0x1F << 48)
        self.regs.write_reg(baser_offset, GITS_BASER_VALID | read_only | table | (pages - 1))
        if not self.regs.read_reg(baser_offset) & GITS_BASER_VALID:
            raise RuntimeError(f"GITS_BASER at {baser_offset:#x} did not take the table")

    def _init_redistributors(self) -> None:
        config_bytes = (1 << self.lpi_id_bits) - LPI_BASE
        self.config_table = self.allocator.alloc(config_bytes, 65536)
        self.memory.write(self.config_table,
                          bytes([LPI_PROP_DEFAULT_PRIO | LPI_PROP_GROUP1]) * config_bytes)
        self.processor_numbers = []
        for frame in self.frames:
            self.processor_numbers.append(frame.read_reg(GICR_TYPER) >> 8 & 0xFFFF)
            pending_table = self.allocator.alloc((1 << self.lpi_id_bits) // 8, 65536)
            zero_fill(self.memory, pending_table, (1 << self.lpi_id_bits) // 8)
            frame.write_reg(GICR_PROPBASER, self.config_table | (self.lpi_id_bits - 1))
            frame.write_reg(GICR_PENDBASER, pending_table)
            frame.write_reg(GICR_CTLR, frame.read_reg(GICR_CTLR) | GICR_CTLR_ENABLE_LPIS)

    # ----------------------------------------------------------------- command queue
    def _send(self, command: bytes, sync_cpu: int) -> None:
        sync = encode_its_command(GITS_CMD_SYNC, rdbase=self.processor_numbers[sync_cpu])
        for raw in (command, sync):
            next_tail = (self._queue_tail + ITS_CMD_BYTES) % self._queue_bytes
            wait_for(lambda: self.regs.read_reg(GITS_CREADR),
                     lambda creadr: creadr & ~0x1F != next_tail, "ITS command queue space")
            self.memory.write(self._queue + self._queue_tail, raw)
            self._queue_tail = next_tail
        self.regs.write_reg(GITS_CWRITER, self._queue_tail)

        def progress() -> int:
            creadr = self.regs.read_reg(GITS_CREADR)
            if creadr & GITS_CREADR_STALLED:
                raise RuntimeError(f"ITS command queue stalled at offset {creadr & ~0x1F:#x}")
            return creadr

        wait_for(progress, lambda creadr: creadr == self._queue_tail, "ITS command completion")

    # ----------------------------------------------------------------- helpers
    def _doorbell_msg_address(self) -> int:
        if self._doorbell_address is None:
            doorbell = self.its_phys_base + GITS_TRANSLATER
            if self._msi_iova_next >= self._msi_iova_end:
                raise RuntimeError("MSI IOVA window exhausted")
            iova = self._msi_iova_next
            self.iommu.map(iova, doorbell & ~(IOMMU_GRANULE - 1))
            self._msi_iova_next += IOMMU_GRANULE
            self._doorbell_address = iova | (doorbell & (IOMMU_GRANULE - 1))
        return self._doorbell_address

    def _write_lpi_config(self, lpi: int, enabled: bool) -> None:
        value = LPI_PROP_DEFAULT_PRIO | LPI_PROP_GROUP1 | (LPI_PROP_ENABLED if enabled else 0)
        self.memory.write(self.config_table + lpi - LPI_BASE, bytes([value]))

    def _create_device(self, device_id: int, nvecs: int) -> _ItsDevice:
        if device_id >= 1 << self.device_id_bits:
            raise ValueError(f"DeviceID {device_id:#x} exceeds the ITS's {self.device_id_bits} bits")
        nr_ites = max(2, _pow2_at_least(nvecs))
        if nr_ites > 1 << self.event_id_bits:
            raise ValueError(f"{nvecs} vectors exceed the ITS's EventID space")
        itt_bytes = max(nr_ites * self.ite_size, ITS_ITT_ALIGN)
        itt = self.allocator.alloc(itt_bytes, ITS_ITT_ALIGN)
        zero_fill(self.memory, itt, itt_bytes)
        device = _ItsDevice(device_id, nr_ites, itt, self._lpis.alloc(nr_ites))
        self._send(encode_its_command(GITS_CMD_MAPD, device_id=device_id,
                                      size=nr_ites.bit_length() - 2, itt_address=itt,
                                      valid=True), 0)
        self._devices[device_id] = device
        return device

    def _free_device(self, device: _ItsDevice) -> None:
        self._send(encode_its_command(GITS_CMD_MAPD, device_id=device.device_id, valid=False), 0)
        self.allocator.free(device.itt_address)
        self._lpis.free(device.lpi_base, device.nr_ites)
        del self._devices[device.device_id]

    # ----------------------------------------------------------------- domain operations
    def alloc_irqs(self, requester_id: int, nvecs: int, hwsize: int | None = None) -> list[Irq]:
        if nvecs < 1:
            raise ValueError("nvecs must be at least 1")
        address = self._doorbell_msg_address()
        device = self._devices.get(requester_id) \
            or self._create_device(requester_id, max(nvecs, hwsize or 0))
        free_events = [e for e in range(device.nr_ites) if e not in device.events][:nvecs]
        if len(free_events) < nvecs:
            raise RuntimeError(f"device {requester_id:#x} has only {len(free_events)} free events")
        return [self._map_event(device, event, address) for event in free_events]

    def _map_event(self, device: _ItsDevice, event: int, address: int) -> Irq:
        cpu = self._next_cpu
        self._next_cpu = (self._next_cpu + 1) % self.cpu_count
        lpi = device.lpi_base + event
        device.events.add(event)
        self._send(encode_its_command(GITS_CMD_MAPTI, device_id=device.device_id, event_id=event,
                                      physical_id=lpi, collection_id=cpu), cpu)
        self._write_lpi_config(lpi, enabled=True)
        self._send(encode_its_command(GITS_CMD_INV, device_id=device.device_id, event_id=event), cpu)
        return Irq(device.device_id, event, MsiMsg(address, 0, event), cpu,
                   self.processor_numbers[cpu], lpi)

    def alloc_event(self, requester_id: int, event_id: int, hwsize: int) -> Irq:
        """Map one chosen EventID of a device whose ITT covers ``hwsize`` events: what a VMM
        needs to mirror a guest's MAPTI onto the physical ITS (the device writes the guest's
        EventID). Freed with free_irqs like any other."""
        address = self._doorbell_msg_address()
        device = self._devices.get(requester_id) or self._create_device(requester_id, hwsize)
        if not 0 <= event_id < device.nr_ites or event_id in device.events:
            raise ValueError(f"device {requester_id:#x}: EventID {event_id} is in use or beyond its "
                             f"{device.nr_ites} events")
        return self._map_event(device, event_id, address)

    def set_affinity(self, irq: Irq, cpu: int) -> None:
        if not irq.active:
            raise ValueError("set_affinity on a freed interrupt")
        self._send(encode_its_command(GITS_CMD_MOVI, device_id=irq.requester_id,
                                      event_id=irq.index, collection_id=cpu), cpu)
        irq.cpu, irq.target = cpu, self.processor_numbers[cpu]

    def free_irqs(self, irqs: Sequence[Irq]) -> None:
        for irq in irqs:
            if not irq.active:
                continue
            device = self._devices[irq.requester_id]
            self._send(encode_its_command(GITS_CMD_DISCARD, device_id=irq.requester_id,
                                          event_id=irq.index), irq.cpu)
            self._write_lpi_config(irq.vector, enabled=False)
            device.events.discard(irq.index)
            irq.active = False
            if not device.events:
                self._free_device(device)
