"""x86 interrupt-remapping irq domain: what Linux's intel irq_remapping.c does for a device's MSIs.

Follows platform-facts.md section 4 and Linux's order:
  * setup (intel_setup_irq_remapping / iommu_set_irq_remapping / iommu_enable_irq_remapping): allocate
    and zero a size-aligned IRTE table, enable queued invalidation (IQT=0, IQA, GCMD.QIE, wait QIES),
    write IRTA (base | EIME | S), GCMD.SIRTP and wait for GSTS.IRTPS, invalidate the whole interrupt
    entry cache, set GCMD.IRE and wait for GSTS.IRES, and block compatibility-format interrupts
    (clear GCMD.CFI) if the hardware reports them allowed. GCMD is written from a shadow of the
    persistent command bits, one change at a time, as Linux keeps iommu->gcmd.
  * allocation (alloc_irte): a naturally aligned power-of-two block of IRTE indices per request;
    every vector of the block is addressed with handle = block base and data = sub-handle (SHV=1).
  * IRTE contents (prepare_irte, set_msi_sid): P=1, physical destination mode, fixed delivery, edge,
    RH=1, vector, destination (APIC ID << 8 in xAPIC mode, full 32 bits in x2APIC mode),
    SVT=1 / SQ=0 / SID = requester ID.
  * every IRTE write (modify_irte, clear_entries) is followed by an index-selective IEC invalidation
    through the invalidation queue and a wait descriptor whose status write is polled (qi_submit_sync).
  * set_affinity allocates a vector on the new CPU, rewrites only the IRTE, invalidates, and frees the
    old vector: the device's message does not change.
"""

from __future__ import annotations

from typing import Sequence

from ..fields import check, put
from .msi import (HostAllocator, HostMemory, Irq, IrqDomain, MsiMsg, RegisterAccess, wait_for,
                  write_u64, zero_fill)

# Register offsets and bits (Linux include/linux/intel-iommu.h / drivers/iommu/intel/iommu.h).
DMAR_ECAP_REG = 0x10
DMAR_GCMD_REG = 0x18
DMAR_GSTS_REG = 0x1C
DMAR_FSTS_REG = 0x34
DMAR_IQH_REG = 0x80
DMAR_IQT_REG = 0x88
DMAR_IQA_REG = 0x90
DMAR_IRTA_REG = 0xB8

DMA_GCMD_QIE = 1 << 26
DMA_GCMD_IRE = 1 << 25
DMA_GCMD_SIRTP = 1 << 24
DMA_GCMD_CFI = 1 << 23
DMA_GSTS_QIES = 1 << 26
DMA_GSTS_IRES = 1 << 25
DMA_GSTS_IRTPS = 1 << 24
DMA_GSTS_CFIS = 1 << 23
DMA_FSTS_IQE = 1 << 4

ECAP_QI = 1 << 1
ECAP_IR = 1 << 3
ECAP_EIM = 1 << 4
IR_X2APIC_MODE = 1 << 11

QI_IEC_TYPE = 0x4
QI_IEC_SELECTIVE = 1 << 4
QI_IWD_TYPE = 0x5
QI_IWD_STATUS_WRITE = 1 << 5
QI_DESCRIPTOR_BYTES = 16
QI_IN_USE = 1
QI_DONE = 2

MSI_ADDR_BASE = 0xFEE0_0000
MSI_ADDR_IR_EXT_INT = 1 << 4   # remappable format
MSI_ADDR_IR_SHV = 1 << 3
MSI_ADDR_IR_INDEX2_SHIFT = 2   # handle[15]
MSI_ADDR_IR_INDEX1_SHIFT = 5   # handle[14:0]

IRTE_BYTES = 16
SVT_VERIFY_SID_SQ = 1
SQ_ALL_16 = 0

# Device vectors Linux hands out lie between the ISA/system vectors; any range works for the model.
FIRST_DEVICE_VECTOR = 0x30
LAST_DEVICE_VECTOR = 0xEB


def encode_irte(vector: int, apic_id: int, source_id: int, x2apic: bool) -> tuple[int, int]:
    """(low, high) 64-bit halves of a remapped-format IRTE, as Linux's prepare_irte/set_msi_sid. Every field
    is checked (fields.FieldError): an xAPIC destination is the 8-bit APIC ID at bits 47:40, x2APIC the 32-bit
    ID at bits 63:32."""
    destination = put("IRTE destination (x2APIC ID)", apic_id, 32) if x2apic else \
        put("IRTE destination (xAPIC ID)", apic_id, 8, 8)
    low = (1                      # P
           | 1 << 3               # RH, as Linux sets redir_hint
           | put("IRTE vector", vector, 8, 16)
           | destination << 32)
    high = put("IRTE source-id", source_id, 16) | SQ_ALL_16 << 16 | SVT_VERIFY_SID_SQ << 18
    return low, high


def remappable_msi_message(handle: int, subhandle: int) -> MsiMsg:
    """The remappable-format message for IRTE index handle (+ subhandle, SHV=1): handle is 16 bits (address
    bits 19:5 and 2), subhandle the 16-bit data[15:0] (data[31:16] must be 0)."""
    handle = check("MSI handle", handle, 16)
    address = (MSI_ADDR_BASE
               | (handle & 0x7FFF) << MSI_ADDR_IR_INDEX1_SHIFT
               | MSI_ADDR_IR_EXT_INT
               | MSI_ADDR_IR_SHV
               | (handle >> 15 & 1) << MSI_ADDR_IR_INDEX2_SHIFT)
    return MsiMsg(address_lo=address, address_hi=0, data=check("MSI subhandle", subhandle, 16))


MSI_ADDR_DEST_ID_SHIFT = 12   # compatibility format: destination APIC ID in address[19:12]


def compatibility_msi_message(apic_id: int, vector: int) -> MsiMsg:
    """The compatibility-format message a kernel without interrupt remapping composes (Linux
    x86_msi_addr_lo destid_0_7, x86_msi_data vector; physical destination, fixed delivery, edge):
    what a guest writes when it knows nothing of the host's remapping."""
    address = MSI_ADDR_BASE | put("MSI destination APIC ID", apic_id, 8, MSI_ADDR_DEST_ID_SHIFT)
    return MsiMsg(address_lo=address, address_hi=0, data=check("MSI vector", vector, 8))


class VtdIrqDomain(IrqDomain):
    def __init__(self, regs: RegisterAccess, memory: HostMemory, allocator: HostAllocator,
                 apic_ids: Sequence[int], *, table_entries: int = 4096, x2apic: bool = False,
                 invalidation_queue_pages: int = 1):
        if table_entries < 2 or table_entries & (table_entries - 1) or table_entries > 65536:
            raise ValueError("table_entries must be a power of two between 2 and 65536")
        self.regs = regs
        self.memory = memory
        self.allocator = allocator
        self.apic_ids = tuple(apic_ids)
        self.table_entries = table_entries
        self.x2apic = x2apic
        self._used_indices: set[int] = set()
        self._blocks: dict[int, tuple[int, set[int]]] = {}  # base -> (block size, live indices)
        self._free_vectors = {cpu: set(range(FIRST_DEVICE_VECTOR, LAST_DEVICE_VECTOR + 1))
                              for cpu in range(len(self.apic_ids))}
        self._next_cpu = 0
        self._gcmd = 0
        self._setup_invalidation_queue(invalidation_queue_pages)
        self._setup_remapping_table()

    @property
    def cpu_count(self) -> int:
        return len(self.apic_ids)

    # ----------------------------------------------------------------- setup
    def _global_command(self, bit: int, status_bit: int, set_bit: bool) -> None:
        self._gcmd = self._gcmd | bit if set_bit else self._gcmd & ~bit
        self.regs.write_reg(DMAR_GCMD_REG, self._gcmd)
        wait_for(lambda: self.regs.read_reg(DMAR_GSTS_REG),
                 lambda status: bool(status & status_bit) == set_bit, f"GSTS bit {status_bit:#x}")

    def _setup_invalidation_queue(self, pages: int) -> None:
        ecap = self.regs.read_reg(DMAR_ECAP_REG)
        if not ecap & ECAP_IR or not ecap & ECAP_QI:
            raise RuntimeError("IOMMU lacks interrupt remapping or queued invalidation")
        if self.x2apic and not ecap & ECAP_EIM:
            raise RuntimeError("IOMMU lacks extended interrupt mode for x2APIC")
        if pages & (pages - 1):
            raise ValueError("invalidation queue pages must be a power of two")
        self._queue_bytes = 4096 * pages
        self._queue = self.allocator.alloc(self._queue_bytes, 4096)
        zero_fill(self.memory, self._queue, self._queue_bytes)
        self._wait_status = self.allocator.alloc(4, 4)
        self._queue_tail = 0
        self.regs.write_reg(DMAR_IQT_REG, 0)
        self.regs.write_reg(DMAR_IQA_REG, self._queue | (pages.bit_length() - 1))
        self._global_command(DMA_GCMD_QIE, DMA_GSTS_QIES, True)

    def _setup_remapping_table(self) -> None:
        table_bytes = self.table_entries * IRTE_BYTES
        self.table = self.allocator.alloc(table_bytes, max(table_bytes, 4096))
        zero_fill(self.memory, self.table, table_bytes)
        size_field = self.table_entries.bit_length() - 2  # 2^(S+1) entries
        self.regs.write_reg(DMAR_IRTA_REG,
                            self.table | (IR_X2APIC_MODE if self.x2apic else 0) | size_field)
        self.regs.write_reg(DMAR_GCMD_REG, self._gcmd | DMA_GCMD_SIRTP)
        wait_for(lambda: self.regs.read_reg(DMAR_GSTS_REG),
                 lambda status: bool(status & DMA_GSTS_IRTPS), "GSTS.IRTPS")
        self._invalidate_entry_cache(None)
        self._global_command(DMA_GCMD_IRE, DMA_GSTS_IRES, True)
        if self.regs.read_reg(DMAR_GSTS_REG) & DMA_GSTS_CFIS:
            self._global_command(DMA_GCMD_CFI, DMA_GSTS_CFIS, False)

    # ----------------------------------------------------------------- queued invalidation
    def _submit_and_wait(self, descriptor_low: int, descriptor_high: int) -> None:
        wait_low = QI_IWD_TYPE | QI_IWD_STATUS_WRITE | QI_DONE << 32
        self.memory.write(self._wait_status, QI_IN_USE.to_bytes(4, "little"))
        for low, high in ((descriptor_low, descriptor_high), (wait_low, self._wait_status)):
            wait_for(lambda: self.regs.read_reg(DMAR_IQH_REG),
                     lambda head: (self._queue_tail + QI_DESCRIPTOR_BYTES) % self._queue_bytes
                     != head, "invalidation queue space")
            write_u64(self.memory, self._queue + self._queue_tail, low)
            write_u64(self.memory, self._queue + self._queue_tail + 8, high)
            self._queue_tail = (self._queue_tail + QI_DESCRIPTOR_BYTES) % self._queue_bytes
        self.regs.write_reg(DMAR_IQT_REG, self._queue_tail)

        def status() -> int:
            if self.regs.read_reg(DMAR_FSTS_REG) & DMA_FSTS_IQE:
                raise RuntimeError("invalidation queue error (FSTS.IQE)")
            return int.from_bytes(self.memory.read(self._wait_status, 4), "little")

        wait_for(status, lambda value: value == QI_DONE, "invalidation wait descriptor")

    # The same DMAR unit's other users (iommu_sva.VtdSva) share the queue and the GCMD shadow, as
    # Linux's intel_iommu keeps one qi and one iommu->gcmd per unit.
    def submit_invalidation(self, descriptor_low: int, descriptor_high: int = 0) -> None:
        self._submit_and_wait(descriptor_low, descriptor_high)

    def global_command(self, bit: int, status_bit: int, set_bit: bool) -> None:
        self._global_command(bit, status_bit, set_bit)

    def _invalidate_entry_cache(self, index: int | None) -> None:
        if index is None:
            self._submit_and_wait(QI_IEC_TYPE, 0)
        else:
            self._submit_and_wait(QI_IEC_TYPE | QI_IEC_SELECTIVE | index << 32, 0)

    # ----------------------------------------------------------------- IRTEs
    def irte_address(self, index: int) -> int:
        return self.table + index * IRTE_BYTES

    def _write_irte(self, index: int, low: int, high: int) -> None:
        write_u64(self.memory, self.irte_address(index), low)
        write_u64(self.memory, self.irte_address(index) + 8, high)
        self._invalidate_entry_cache(index)

    def modify_irte(self, index: int, low: int, high: int) -> None:
        """Replace a whole IRTE in one 16-byte store, then invalidate it (modify_irte with the
        cmpxchg16b Linux uses when the old or new entry is posted, x86_posted.py)."""
        self.memory.write(self.irte_address(index),
                          (low | high << 64).to_bytes(IRTE_BYTES, "little"))
        self._invalidate_entry_cache(index)

    def _alloc_index_block(self, count: int) -> int:
        # Like bitmap_find_free_region: the whole power-of-two block stays reserved until its last
        # vector is freed, because the device may form any index base + subhandle inside it.
        block = 1 << (count - 1).bit_length()
        for base in range(0, self.table_entries, block):
            if not any(i in self._used_indices for i in range(base, base + block)):
                self._used_indices.update(range(base, base + block))
                self._blocks[base] = (block, set(range(base, base + count)))
                return base
        raise RuntimeError(f"no free block of {block} IRTEs")

    def _free_index(self, index: int) -> None:
        base = next(b for b, (size, _) in self._blocks.items() if b <= index < b + size)
        size, live = self._blocks[base]
        live.discard(index)
        if not live:
            del self._blocks[base]
            self._used_indices.difference_update(range(base, base + size))

    def _alloc_vector(self, cpu: int) -> int:
        free = self._free_vectors[cpu]
        if not free:
            raise RuntimeError(f"CPU {cpu} has no free vectors")
        vector = min(free)
        free.remove(vector)
        return vector

    # ----------------------------------------------------------------- domain operations
    def alloc_irqs(self, requester_id: int, nvecs: int, hwsize: int | None = None) -> list[Irq]:
        if nvecs < 1:
            raise ValueError("nvecs must be at least 1")
        base = self._alloc_index_block(nvecs)
        irqs = []
        for subhandle in range(nvecs):
            cpu = self._next_cpu
            self._next_cpu = (self._next_cpu + 1) % self.cpu_count
            vector = self._alloc_vector(cpu)
            index = base + subhandle
            self._write_irte(index, *encode_irte(vector, self.apic_ids[cpu], requester_id,
                                                 self.x2apic))
            irqs.append(Irq(requester_id, index, remappable_msi_message(base, subhandle), cpu,
                            self.apic_ids[cpu], vector))
        return irqs

    def set_affinity(self, irq: Irq, cpu: int) -> None:
        if not irq.active:
            raise ValueError("set_affinity on a freed interrupt")
        new_vector = self._alloc_vector(cpu)
        self._write_irte(irq.index, *encode_irte(new_vector, self.apic_ids[cpu], irq.requester_id,
                                                 self.x2apic))
        self._free_vectors[irq.cpu].add(irq.vector)
        irq.cpu, irq.target, irq.vector = cpu, self.apic_ids[cpu], new_vector

    def free_irqs(self, irqs: Sequence[Irq]) -> None:
        for irq in irqs:
            if not irq.active:
                continue
            self._write_irte(irq.index, 0, 0)
            self._free_index(irq.index)
            self._free_vectors[irq.cpu].add(irq.vector)
            irq.active = False
