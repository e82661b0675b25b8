"""Guest shared virtual addressing on the bench (issue 10 item 6): a guest process submits ENQCMD on a shared
WQ of a device the host owns, with its *guest* PASID; the CPU translates it (tb/vmm/pasid.py), the device
sees only the host PASID, and the device's DMA is translated through that host PASID's nested VT-d entry
(PGTT 011b: the guest process's first-level tables in guest RAM over the VM's second level).

* :class:`SvaGuest` is what the VMM sets up for one guest process: a host PASID from the host's global
  PASID space (``iommu_alloc_global_pasid``), the nested bind (iommufd nested HWPT attach to that PASID:
  ``VtdNestedSva.bind_nested`` with the process's page-table root, a GPA), the guest -> host pair in the
  VM's PASID-translation table, the guest's IMS slots trapped with PASID translation
  (:class:`~.trap.TrappedIms` ``pasid_map``) and the guest's view of the WQ.
* :class:`GuestSvaOps` is the driver model's ``DeviceOps`` of that guest process: its memory is the
  process's virtual addresses (each allocation gets fresh guest RAM pages mapped into the process's page
  tables, in the order of the calls from one fixed base, so two guests that allocate alike use the same
  virtual addresses), and its ``dmwr`` is the guest CPU's ENQCMD (PASID from IA32_PASID) or ENQCMDS,
  translated; a translation failure is a VM exit and the #GP the VMM injects (:class:`~.pasid.GuestPasidFault`).
* :class:`GuestSharedWq` is the guest's view of one shared WQ, built from the driver model's own objects
  (``ImsdevWq``, ``DescPool``, ``ImsDomain``) the way a virtual device composition module exposes a WQ:
  the portal mapped through, a range of IMS slots, interrupt handles granted by the host driver
  (REQUEST_INT_HANDLE on the guest's behalf). The unchanged ``idxd_submit_desc`` / ``wq_alloc_ims_irq``
  / ``wait_for_completion`` run on it.
* :class:`DmwrLog` records every DMWr the RTL receives on the link (its PASID prefix and DWORD 0).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Callable, NamedTuple

from cocotb.utils import get_sim_time

from imsdev import regs
from imsdev.driver.device import ImsdevDevice, ImsdevWq
from imsdev.driver.ims import ImsDomain
from imsdev.driver.init import wq_alloc_ims_irq, wq_free_ims_irq
from imsdev.driver.irqdesc import IrqCore
from imsdev.driver.submit import DescPool, ImsdevDesc, IrqEntry, idxd_alloc_desc, prep_desc
from imsdev.driver.uapi import DSA_COMP_SIZE, DSA_OPCODE_MEMFILL, DSA_OPCODE_MEMMOVE, DSA_OPCODE_NOOP, ims_int_handle
from imsdev.platform.iommu_sva import Process

from .bench import BenchGuest, GuestOps
from .device import OpsDevice
from .pasid import PasidTranslationTable, VmxEnqcmd
from .trap import TrappedIms

PAGE = 4096
GUEST_VA_BASE = 0x0000_7F5A_0000_0000    # one layout for every guest process: same GVAs, other pages


class DmwrRecord(NamedTuple):
    time_ns: float
    address: int
    pasid: int | None
    pmr: bool
    dw0: int


class DmwrLog:
    """Every DMWr that reaches the link shim for the device, as it went on the link (the shim's
    ``rx_req_observers`` hook, tb/pcie/shim.py)."""

    def __init__(self, shim):
        self.records: list[DmwrRecord] = []
        shim.rx_req_observers.append(self._observe)

    def _observe(self, tlp) -> None:
        if tlp.is_dmwr():
            data = bytes(tlp.get_data())
            self.records.append(DmwrRecord(get_sim_time("ns"), tlp.address, tlp.pasid, bool(tlp.pmr),
                                           int.from_bytes(data[:4], "little")))


class GuestSvaOps(GuestOps):
    """DeviceOps of a guest user process (see the module doc). Call only from a bridge thread."""

    def __init__(self, g: BenchGuest, process: Process, cpu: VmxEnqcmd, *, vcpu: int = 0,
                 instruction: str = "enqcmd", va_base: int = GUEST_VA_BASE):
        base = g.ops
        super().__init__(base.host, g.guest, g.bar, base.irq_domain, base.requester_id, base.bar0,
                         base.bar0_end - base.bar0)
        if instruction not in ("enqcmd", "enqcmds"):
            raise ValueError(f"instruction {instruction!r}: enqcmd or enqcmds")
        self.process = process
        self.cpu = cpu
        self.vcpu = vcpu
        self.instruction = instruction
        self.pages: dict[int, int] = {}           # GVA page -> GPA page (the guest kernel's record)
        self._next_va = va_base
        for v in g.vcpus:                         # the guest's interrupts now reach this ops' wait_irq
            v.on_receive.append(lambda v_, taken: self.take((v_.index, taken.vector)))

    # ---- the process's memory (GVAs) ---------------------------------------------------------------
    def mem_alloc(self, size: int, align: int = 64) -> int:
        step = max(align, PAGE)
        va = -(-self._next_va // step) * step
        npages = -(-max(size, 1) // PAGE)
        for n in range(npages):
            gpa = self.guest.allocator.alloc(PAGE, PAGE)
            self.guest.memory.write(gpa, bytes(PAGE))
            self.process.map(va + n * PAGE, gpa, PAGE, writable=True, user=True, page_size=PAGE)
            self.pages[va + n * PAGE] = gpa
        self._next_va = va + npages * PAGE
        self.counts["mem_alloc"] += 1
        return va

    def gpa(self, va: int) -> int:
        page = self.pages.get(va & ~(PAGE - 1))
        if page is None:
            raise ValueError(f"{self.process.name}: GVA {va:#x} is not mapped")
        return page | va & (PAGE - 1)

    def _pieces(self, va: int, n: int):
        while n:
            k = min(n, PAGE - va % PAGE)
            yield va, k
            va, n = va + k, n - k

    def mem_read(self, addr: int, length: int) -> bytes:
        return b"".join(self.guest.memory.read(self.gpa(va), k) for va, k in self._pieces(addr, length))

    def mem_write(self, addr: int, data: bytes) -> None:
        data, off = bytes(data), 0
        for va, k in self._pieces(addr, len(data)):
            self.guest.memory.write(self.gpa(va), data[off:off + k])
            off += k

    # ---- submission: the guest CPU's ENQCMD(S), PASID translated ------------------------------------
    def dmwr(self, addr: int, data: bytes, pasid: int, priv: bool = False):
        """ENQCMD ignores the descriptor's PASID (IA32_PASID is used); ENQCMDS takes it from DW0, which
        ``idxd_submit_desc`` filled with ``pasid``/``priv``. Either way the bus gets the host PASID."""
        run = self.cpu.enqcmd if self.instruction == "enqcmd" else self.cpu.enqcmds
        write = run(self.vcpu, bytes(data))
        self.counts["enqcmd"] += 1
        return self.host.dmwr(addr, write.data, write.pasid, write.priv)


class GuestSharedWq:
    """The guest's view of shared WQ ``wq_id``: portal, ``ims_slots`` of its IMS window, a descriptor pool."""

    def __init__(self, ops: GuestOps, *, wq_id: int, portal: int, size: int, ims_slots: range,
                 grant_handle: Callable[[int], int]):
        self.ops = ops
        self.idxd = ImsdevDevice(SimpleNamespace(ops=ops), IrqCore(ops))   # no probe: the host owns the device
        self.idxd.reg_base = ops.bar0
        self.wq = ImsdevWq(wq_id, portal, size=size, dedicated=False, enabled=True)
        self.wq.pool = DescPool(ops, size)
        self.wq.ims = ImsDomain(self.idxd.core, ops.bar0 + regs.ims_at(wq_id), ims_slots.stop)
        self.idxd.wqs = [self.wq]
        self.slots = ims_slots
        self.grant_handle = grant_handle

    def alloc_ims(self, pasid: int | None) -> IrqEntry:
        """wq_alloc_ims_irq on the lowest free slot of the guest's range, bound to the guest's ``pasid``;
        its handle is the one the host granted for that slot."""
        index = next(i for i in self.slots if i not in self.wq.ims.used)
        ie = wq_alloc_ims_irq(self.idxd, self.wq, pasid, index)
        ie.int_handle = self.grant_handle(index)
        return ie

    def free_ims(self, ie: IrqEntry) -> None:
        wq_free_ims_irq(self.idxd, ie)


@dataclass
class GuestJob:
    """One descriptor a guest process prepared: where the device must write, and what."""
    desc: ImsdevDesc
    op: int
    dst: int
    want: bytes

    def writes(self, ops: GuestOps) -> list[tuple[int, bytes]]:
        """(GVA, bytes) the device wrote for this job: the destination and the record as it now is."""
        out = [(self.dst, self.want)] if self.want else []
        return out + [(self.desc.compl_addr, ops.mem_read(self.desc.compl_addr, DSA_COMP_SIZE))]


def prepare_job(view: "GuestSharedWq", ie: IrqEntry | None, op: int, size: int, rng) -> GuestJob:
    """A MEMMOVE (random source), MEMFILL (random pattern) or NOOP in the view's process memory, with a
    completion interrupt through ``ie``; sources are written now, nothing is submitted."""
    ops = view.ops
    d = idxd_alloc_desc(view.wq)
    src = dst = 0
    want = b""
    if op == DSA_OPCODE_MEMMOVE:
        want = rng.randbytes(size)
        src = ops.mem_alloc(size)
        ops.mem_write(src, want)
        dst = ops.mem_alloc(size)
    elif op == DSA_OPCODE_MEMFILL:
        src = rng.getrandbits(64)
        want = (src.to_bytes(8, "little") * (size // 8 + 1))[:size]
        dst = ops.mem_alloc(size)
    prep_desc(d, op, src=src, dst=dst, size=size if op != DSA_OPCODE_NOOP else 0, ie=ie)
    return GuestJob(d, op, dst, want)


@dataclass
class SvaGuest:
    """One guest process doing SVA on a shared WQ, and everything the VMM set up for it."""
    vm: BenchGuest
    process: Process
    table: PasidTranslationTable
    cpu: VmxEnqcmd
    ims: TrappedIms
    ops: GuestSvaOps
    view: GuestSharedWq
    gpasid: int
    hpasid: int
    granted: list = field(default_factory=list)

    @property
    def exits(self):
        return self.vm.exits


def sva_guest(bench, host_ops, host_idxd, vm: BenchGuest, *, gpasid: int, did: int, wq_id: int,
              ims_slots: range, size: int, translate: bool = True) -> SvaGuest:
    """The VMM's setup of guest process ``gpasid`` in ``vm`` (x86_guest(..., attach_dma=False): the
    device's requests without PASID stay the host's) on the host driver's shared WQ ``wq_id``."""
    plat = bench.platform
    model = plat.model
    rid = bench.requester_id
    guest = vm.guest
    process = Process(f"{guest.name}:{gpasid:#x}", guest.memory, guest.allocator, "x86")
    hpasid = plat.sva.pasids.alloc()
    plat.sva.bind_nested(rid, hpasid, process.pgd, guest.iommu_tables, did)
    table = PasidTranslationTable(model.memory, model.allocator)
    table.map(gpasid, hpasid)
    cpu = VmxEnqcmd(table, guest.exits, translate=translate)
    trapped = TrappedIms(OpsDevice(host_ops, bench.bar0_addr), vm.routing, wq_id, ims_slots,
                         pasid_map=table.host_pasid)
    trapped.install(vm.bar)
    ops = GuestSvaOps(vm, process, cpu)
    cpu.write_ia32_pasid(ops.vcpu, 1 << 31 | gpasid)       # the guest kernel's context switch to the process
    granted: list = []

    def grant(index: int) -> int:
        """The host driver requests the handle for the guest's slot (a VDCM's emulated REQUEST_INT_HANDLE)."""
        granted.append(index)
        if host_idxd.request_int_handles:
            return host_idxd.request_int_handle("ims", index, wq_id)
        return ims_int_handle(index)

    view = GuestSharedWq(ops, wq_id=wq_id, portal=host_idxd.wqs[wq_id].portal, size=size, ims_slots=ims_slots,
                         grant_handle=grant)
    return SvaGuest(vm, process, table, cpu, trapped, ops, view, gpasid, hpasid, granted)


def release_sva_guest(sg: SvaGuest, host_idxd) -> None:
    """Teardown in the kernel's order: the guest frees its IMS interrupts (the VMM masks the physical
    slots), the VMM frees its host interrupts, the host driver releases the handles it granted."""
    for ie in list(sg.view.wq.ims_ies):
        sg.view.free_ims(ie)
    sg.ims.release_all()
    if host_idxd.request_int_handles:
        for index in sg.granted:
            host_idxd.release_int_handle("ims", index, sg.view.wq.id)


__all__ = ["DmwrLog", "DmwrRecord", "GUEST_VA_BASE", "GuestJob", "GuestSharedWq", "GuestSvaOps", "SvaGuest",
           "prepare_job",
           "release_sva_guest", "sva_guest"]
