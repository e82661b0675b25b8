"""A recording fake of the device and host, implementing imsdev.driver.ops.DeviceOps, for unit tests of
the driver model and of the C library (through imsdev.clib) without a simulator.

It is only as much device as the order checks need: a config space with the real capability chain
(PCI Express with FLR, MSI-X pointing into BAR0, PASID), BAR0 registers that answer the bring-up (DEV_ID,
VERSION, CAPs, CMD/CMDSTS, GENSTS, W1C INT_CAUSE/SWERR0), MSI-X and IMS entries that reset masked, and
the two update rules the driver must respect, recorded as violations: address/data written to an
unmasked MSI-X vector (PCIe: undefined) or IMS slot (the device drops it). Every access is logged in
order, so tests can check sequences (mask before update, flush reads, Linux's MSI-X order).
"""
from __future__ import annotations

from collections import deque

from imsdev import regs
from imsdev.driver.ops import DeviceOps, DmwrStatus
from imsdev.platform import Irq, IrqDomain, MsiMsg

BAR0 = 0xF000_0000
BAR2 = 0xF100_0000
RID = 0x0300
MEM_BASE = 0x1000_0000
MEM_SIZE = 0x10_0000
PCIE_CAP, MSIX_CAP, PASID_CAP = 0x40, 0x70, 0x100


class FakeDomain(IrqDomain):
    """A platform domain that hands out distinct remappable-looking messages and retargets without
    changing them (what both real domains do)."""

    def __init__(self, cpus: int = 4):
        self.cpus = cpus
        self.next_index = 0
        self.calls: list[tuple] = []

    @property
    def cpu_count(self) -> int:
        return self.cpus

    def alloc_irqs(self, requester_id, nvecs, hwsize=None):
        self.calls.append(("alloc", nvecs, hwsize))
        out = []
        for _ in range(nvecs):
            i = self.next_index
            self.next_index += 1
            cpu = i % self.cpus
            out.append(Irq(requester_id, i, MsiMsg(0xFEE0_0000 | (i << 5) | 0x18, 0, 0), cpu, cpu, 0x30 + i))
        return out

    def set_affinity(self, irq, cpu):
        self.calls.append(("affinity", irq.index, cpu))
        irq.cpu, irq.target, irq.vector = cpu, cpu, irq.vector + 0x40

    def free_irqs(self, irqs):
        self.calls.append(("free", [i.index for i in irqs]))
        for irq in irqs:
            irq.active = False


def _off(addr: int) -> int:
    return addr - BAR0


def is_msix_entry(off: int) -> bool:
    return regs.MSIX_TABLE_BASE <= off < regs.MSIX_TABLE_BASE + regs.MSIX_TABLE_SIZE


def is_ims_entry(off: int) -> bool:
    return regs.IMS_BASE <= off < regs.IMS_BASE + regs.IMS_SIZE


class FakeDevice(DeviceOps):
    def __init__(self, num_wq: int = 2, wq_depth: int = 4, ims_per_wq: int = 16, msix_vectors: int = 9):
        self.requester_id = RID
        self.irq_domain = FakeDomain()
        self.num_wq, self.wq_depth, self.ims_per_wq, self.msix_vectors = num_wq, wq_depth, ims_per_wq, msix_vectors
        self.log: list[tuple] = []
        self.violations: list[str] = []
        self.dmwr_script: deque = deque()        # statuses to answer, then SC
        self.deliveries: deque = deque()         # lists of keys wait_irq returns, one list per call
        self.cmd_errors: dict[int, int] = {}     # CMD code -> CMDSTS.ERR to answer
        self.cmd_busy_reads = 0                  # CMDSTS reads that report ACTIVE after each command
        self.time = 0
        self.mem = bytearray(MEM_SIZE)
        self.mem_next = MEM_BASE
        self.flrs = 0
        self._reset()

    # ---- state ------------------------------------------------------------------------------------
    def _reset(self):
        self.cfg = bytearray(0x1000)
        c = self.cfg

        def put(off, val, n):
            c[off:off + n] = val.to_bytes(n, "little")
        put(0x00, 0x1D5A_1234, 4)
        put(0x06, 0x0010, 2)                             # Status: capability list
        put(0x10, BAR0 | 0x4, 4)                         # BAR0: 64-bit memory
        put(0x18, BAR2 | 0x4, 4)                         # BAR2: 64-bit memory
        put(0x34, PCIE_CAP, 1)
        put(PCIE_CAP, MSIX_CAP << 8 | 0x10, 2)
        put(PCIE_CAP + 4, 1 << 28, 4)                    # DEVCAP: FLR
        put(MSIX_CAP, 0x11, 2)
        put(MSIX_CAP + 2, self.msix_vectors - 1, 2)
        put(MSIX_CAP + 4, regs.MSIX_TABLE_BASE, 4)       # BIR 0
        put(MSIX_CAP + 8, regs.MSIX_PBA_BASE, 4)
        put(PASID_CAP, 0x1B | 1 << 16, 4)
        put(PASID_CAP + 4, 0x6 | 20 << 8, 2)             # exec, priv, 20 bits
        self.mmio: dict[int, int] = {}
        self.gensts = 0
        self.cmdsts = 0
        self.busy_left = 0

    def cfg_word(self, off: int) -> int:
        return int.from_bytes(self.cfg[off:off + 2], "little")

    # ---- DeviceOps: config ------------------------------------------------------------------------
    def cfg_read(self, offset, size):
        self.log.append(("cfg_r", offset, size))
        return int.from_bytes(self.cfg[offset:offset + size], "little")

    def cfg_write(self, offset, size, value):
        self.log.append(("cfg_w", offset, size, value))
        if 0x10 <= offset < 0x28:
            return                                       # BARs keep their assignment
        self.cfg[offset:offset + size] = value.to_bytes(size, "little")
        if offset == PCIE_CAP + 8 and value & 0x8000:    # Initiate FLR
            self.flrs += 1
            self._reset()

    # ---- DeviceOps: MMIO ---------------------------------------------------------------------------
    def _default(self, off: int) -> int:
        if (is_msix_entry(off) and off % 16 == regs.MSIX_TABLE_VECTOR_CTRL) or \
                (is_ims_entry(off) and off % 16 == regs.IMS_ENTRY_CTRL):
            return 1
        return {regs.CSR_DEV_ID: regs.CSR_DEV_ID_RESET, regs.CSR_VERSION: regs.CSR_VERSION_RESET,
                regs.CSR_CAP0: self.num_wq | self.wq_depth << 8, regs.CSR_CAP1: self.ims_per_wq,
                regs.CSR_CAP2: self.msix_vectors | 32 << 16}.get(off, 0)

    def mmio_read32(self, addr):
        self.log.append(("r32", addr))
        off = _off(addr)
        if off == regs.CSR_CMDSTS:
            if self.busy_left:
                self.busy_left -= 1
                return self.cmdsts | regs.CSR_CMDSTS_ACTIVE_MASK
            return self.cmdsts
        if off == regs.CSR_GENSTS:
            return self.gensts
        return self.mmio.get(off, self._default(off))

    def mmio_write32(self, addr, value):
        self.log.append(("w32", addr, value))
        off = _off(addr)
        if is_msix_entry(off) and off % 16 != regs.MSIX_TABLE_VECTOR_CTRL:
            ctrl = self.mmio.get(off - off % 16 + regs.MSIX_TABLE_VECTOR_CTRL, 1)
            if not ctrl & 1:
                self.violations.append(f"MSI-X address/data written while unmasked at {off:#x}")
        if is_ims_entry(off) and off % 16 != regs.IMS_ENTRY_CTRL:
            ctrl = self.mmio.get(off - off % 16 + regs.IMS_ENTRY_CTRL, 1)
            if not ctrl & 1:
                self.violations.append(f"IMS address/data written while unmasked at {off:#x} (dropped)")
                return
        if off in (regs.CSR_INT_CAUSE, regs.CSR_SWERR0, regs.CSR_ERR):   # W1C
            self.mmio[off] = self.mmio.get(off, 0) & ~value
            return
        if off == regs.CSR_CMD:
            self._command(value)
            return
        self.mmio[off] = value

    def _command(self, value):
        cmd = (value & regs.CSR_CMD_CMD_MASK) >> regs.CSR_CMD_CMD_SHIFT
        err = self.cmd_errors.get(cmd, 0)
        self.cmdsts = err
        self.busy_left = self.cmd_busy_reads
        if not err:
            if cmd == regs.CMD_REQUEST_INT_HANDLE:     # the handle: the entry's descriptor encoding
                op = value & regs.CSR_CMD_OPERAND_MASK
                handle = (0x8000 | op & 0x7FF) if op & 0x10000 else op & 0xFFFF
                self.cmdsts = handle << regs.CSR_CMDSTS_RESULT_SHIFT
            if cmd == regs.CMD_ENABLE_DEVICE:
                self.gensts = 1
            elif cmd in (regs.CMD_DISABLE_DEVICE, regs.CMD_RESET_DEVICE):
                self.gensts = 0

    def mmio_read64(self, addr):
        self.log.append(("r64", addr))
        return self.mmio.get(_off(addr), 0) | self.mmio.get(_off(addr) + 4, 0) << 32

    def mmio_write64(self, addr, value):
        self.log.append(("w64", addr, value))
        self.mmio[_off(addr)] = value & 0xFFFF_FFFF
        self.mmio[_off(addr) + 4] = value >> 32

    # ---- DeviceOps: memory, submission, interrupts, time ------------------------------------------
    def mem_alloc(self, size, align=64):
        addr = (self.mem_next + align - 1) // align * align
        self.mem_next = addr + size
        assert self.mem_next <= MEM_BASE + MEM_SIZE
        return addr

    def mem_read(self, addr, length):
        return bytes(self.mem[addr - MEM_BASE:addr - MEM_BASE + length])

    def mem_write(self, addr, data):
        self.mem[addr - MEM_BASE:addr - MEM_BASE + len(data)] = data

    def dmwr(self, addr, data, pasid, priv=False):
        self.log.append(("dmwr", addr, pasid, priv, bytes(data)))
        return self.dmwr_script.popleft() if self.dmwr_script else DmwrStatus.SC

    def movdir64b(self, addr, data):
        self.log.append(("movdir64b", addr, bytes(data)))

    def wait_irq(self, timeout_ns):
        if self.deliveries:
            return list(self.deliveries.popleft())
        self.time += max(timeout_ns, 0)
        return []

    def delay_ns(self, ns):
        self.time += ns

    def ktime_get_ns(self):
        return self.time

    # ---- helpers for tests ----------------------------------------------------------------------
    def mark(self) -> int:
        return len(self.log)

    def since(self, mark: int, kinds=("w32", "r32")) -> list[tuple]:
        """Accesses after `mark`, as (kind, BAR0 offset[, value]) for MMIO, raw for the rest."""
        out = []
        for e in self.log[mark:]:
            if e[0] not in kinds:
                continue
            out.append((e[0], _off(e[1])) + tuple(e[2:]) if e[0] in ("w32", "r32", "w64", "r64") else e)
        return out


FW = __import__("pathlib").Path(__file__).resolve().parents[2] / "fw"


def build_clib(out_dir):
    """Build the C library with the project's strict flags into out_dir (never into fw/build, so a
    running regression's library is not replaced under it) and load it."""
    import subprocess

    from imsdev.clib import CLibrary
    res = subprocess.run(["make", "-C", str(FW), f"BUILD={out_dir}"], capture_output=True, text=True)
    assert res.returncode == 0, f"C library build failed:\n{res.stdout}\n{res.stderr}"
    return CLibrary(out_dir / "libimsdev.so")
