"""ARM guest shared virtual addressing on the bench (issue 10 item 6 on ARM): SMMUv3 nested translation with the
guest's own context-descriptor table.

On ARM there is no CPU PASID translation. The physical STE of the device's StreamID is built by the host from
the VMM's stage 2 (S2TTB, S2VMID) and the guest's *virtual* STE words 0/1 (S1ContextPtr, S1CDMax, S1DSS: Linux
``arm_smmu_make_nested_cd_table_ste`` copies ``nested_domain->ste[0]`` / ``[1]`` over the S2 STE), so the CD
table is the guest's, in guest RAM, addressed by IPA (IHI 0070 STE.S1ContextPtr: "If STE.Config == 0b11x ...
this pointer is an IPA translated by stage 2"), and it is indexed directly by the SubstreamID of each
transaction. The SubstreamID the guest kernel chose for a process's CD is therefore the value the device must
send: the guest's SSID *is* the SSID on the link. (On x86 the PASID table is the host's and the CPU translates
the guest PASID; tb/vmm/pasid.py.) The price: the STE and its stage 2 are per StreamID, so every SSID of the
function belongs to the one VM whose vSTE is installed, and two VMs cannot share a function by SSID with
separate stage 2s.

* :class:`GuestCdTable`: the guest kernel's linear CD table (arm-smmu-v3 running on the guest's vSMMU) in
  guest RAM; its CDs point at guest processes' stage-1 tables (``Process(arch="arm")`` on guest memory: IPAs).
* :class:`VirtualSmmu`: what the VMM does for the guest's vSMMU commands. The guest's vSTE (pointing at its CD
  table) becomes the physical nested STE (``SmmuNested.attach_nested``: Config 111b over the VM's stage 2); a
  guest CFGI_CD is forwarded to the physical command queue (iommufd's vIOMMU cache invalidation). Each guest
  command-queue doorbell is one trapped access (EPT_VIOLATION, detail "vSMMU": QEMU emulates the vSMMU's
  queue; a hardware-accelerated command queue would avoid it).
* :class:`GuestArmSvaOps`: a guest process's ``DeviceOps`` (virtual addresses as in
  :class:`~.guest_sva.GuestSvaOps`); its ``dmwr`` is the guest CPU's 64-byte store with the process's
  ACCDATA_EL1 (ST64BV0 replaces the first word with it; the guest kernel loads it per process, no exit): the
  DMWr carries the guest's SSID unchanged.

Two VMs on one function (the alternative to nesting, :func:`host_stage1_vm`): the STE stays the host's (Config
101b, the host's CD table) and the host gives each VM one SSID whose *stage-1* table maps that VM's GPAs to
its host pages (a host-owned "stage 2 in stage 1"). Each VM then has its own address space on the shared
function, but its SSID is the host's choice and the guest has no SVA of its own (its descriptors carry GPAs);
the VMM must make the VM's portal writes carry that SSID, here by trapping them
(:class:`TrappedPortalOps`: one exit per submission, DWORD 0 replaced with the VM's SSID).
"""
from __future__ import annotations

from imsdev.platform.iommu_sva import Process, cmd_cfgi_cd, encode_cd

from .bench import BenchGuest, GuestOps
from .exits import ExitReason
from .guest_sva import GUEST_VA_BASE, GuestSvaOps

CD_BYTES = 64


class GuestCdTable:
    """A linear table of 2^s1cdmax CDs in guest RAM (aligned to its size: IHI 0070 S1Fmt 0b00)."""

    def __init__(self, guest, s1cdmax: int):
        self.guest = guest
        self.s1cdmax = s1cdmax
        size = CD_BYTES << s1cdmax
        self.ipa = guest.allocator.alloc(size, size)
        guest.memory.write(self.ipa, bytes(size))
        self.cds: dict[int, Process] = {}

    def write_cd(self, ssid: int, process: Process, asid: int) -> None:
        """The guest kernel's arm_smmu_write_cd_entry: words 7..1 first, word 0 (V) last."""
        if not 0 < ssid < 1 << self.s1cdmax:
            raise ValueError(f"SSID {ssid:#x} outside the guest's CD table (S1CDMax {self.s1cdmax})")
        words = encode_cd(process.pgd, asid)
        slot = self.ipa + CD_BYTES * ssid
        for n in range(7, -1, -1):
            self.guest.memory.write(slot + 8 * n, words[n].to_bytes(8, "little"))
        self.cds[ssid] = process


class VirtualSmmu:
    """The VMM's side of one VM's vSMMU for the assigned function (StreamID ``stream_id``)."""

    def __init__(self, bench, vm: BenchGuest, *, vmid: int):
        self.sva = bench.platform.sva
        self.stream_id = bench.requester_id
        self.vm = vm
        self.vmid = vmid
        self.cd_table: GuestCdTable | None = None
        self.forwarded: list[tuple] = []

    def _doorbell(self, what: str) -> None:
        self.vm.exits.exit(ExitReason.EPT_VIOLATION, 0, f"vSMMU CMDQ {what}")

    def install_vste(self, cd_table: GuestCdTable) -> None:
        """The guest's vSTE names its CD table (CFGI_STE on the vSMMU): the host installs the nested STE."""
        self._doorbell("CFGI_STE")
        self.cd_table = cd_table
        self.sva.attach_nested(self.stream_id, cd_table.ipa, cd_table.s1cdmax, self.vm.guest.iommu_tables,
                               self.vmid)
        self.forwarded.append(("cfgi-ste", self.stream_id))

    def invalidate_cd(self, ssid: int) -> None:
        """The guest's CFGI_CD(SSID) + CMD_SYNC, forwarded with the physical StreamID and the same SSID."""
        self._doorbell(f"CFGI_CD {ssid:#x}")
        self.sva._submit([cmd_cfgi_cd(self.stream_id, ssid)])
        self.forwarded.append(("cfgi-cd", self.stream_id, ssid))

    def ssid_map(self, ssid: int) -> int | None:
        """For trapped IMS: an SSID with a CD in the guest's table is the guest's own and is bound unchanged;
        any other (no CD: the device's DMA with it would be C_BAD_CD) is refused."""
        table = self.cd_table
        return ssid if table is not None and ssid in table.cds else None


class GuestArmSvaOps(GuestSvaOps):
    """DeviceOps of one guest process (see the module doc). Call only from a bridge thread. Interrupts reach
    its ``wait_irq`` only for the keys in ``irq_keys`` (the process's own IMS interrupts)."""

    def __init__(self, g: BenchGuest, process: Process, ssid: int, *, va_base: int = GUEST_VA_BASE):
        base = g.ops
        GuestOps.__init__(self, base.host, g.guest, g.bar, base.irq_domain, base.requester_id, base.bar0,
                          base.bar0_end - base.bar0)
        self.process = process
        self.accdata = ssid                  # ACCDATA_EL1 for this process: DW0 = PASID[19:0], privilege 0
        self.cpu = None
        self.vcpu = 0
        self.instruction = "st64bv0"
        self.pages: dict[int, int] = {}
        self._next_va = va_base
        self.irq_keys: set = set()
        g.guest_cpus.on_deliver.append(lambda d: self.take(d.key) if d.key in self.irq_keys else None)

    def dmwr(self, addr: int, data: bytes, pasid: int, priv: bool = False):
        """ST64BV0: the first 32 bits of the store are ACCDATA_EL1, whatever the descriptor held."""
        data = self.accdata.to_bytes(4, "little") + bytes(data)[4:]
        self.counts["st64bv0"] += 1
        return self.host.dmwr(addr, data, self.accdata & 0xFFFFF, bool(self.accdata >> 31))


class TrappedPortalOps(GuestOps):
    """A guest kernel's DeviceOps whose portal writes the VMM traps (one EPT_VIOLATION each) and re-issues with
    the VM's host-assigned SSID in the PASID prefix and DWORD 0; interrupts are what the VM's vCPUs took."""

    def __init__(self, host_ops, vm, bar, requester_id: int, bar0: int, bar0_size: int, *, ssid: int):
        super().__init__(host_ops, vm.guest, bar, vm.kernel, requester_id, bar0, bar0_size)
        self.exits = vm.exits
        self.ssid = ssid
        vm.cpus.on_deliver.append(lambda d: self.take(d.key))

    def dmwr(self, addr: int, data: bytes, pasid: int, priv: bool = False):
        self.exits.exit(ExitReason.EPT_VIOLATION, 0, f"portal {addr:#x}")
        self.counts["trapped_portal"] += 1
        return self.host.dmwr(addr, self.ssid.to_bytes(4, "little") + bytes(data)[4:], self.ssid, False)


def host_stage1_vm(sva, stream_id: int, host_memory, host_allocator, vm) -> tuple[Process, int]:
    """The host binds a stage-1 address space mapping all of ``vm``'s RAM GPA -> HPA (user, writable) to a new
    SSID of the function's host CD table; returns it and the SSID (the host's PASID for it)."""
    space = Process(f"{vm.name}:gpa", host_memory, host_allocator, "arm")
    for gpa in sorted(vm.guest.memory.pages):
        space.map(gpa, vm.guest.memory.hpa(gpa), 4096, writable=True, user=True, page_size=4096)
    handle = sva.bind(stream_id, space)
    return space, handle.pasid


__all__ = ["GuestArmSvaOps", "GuestCdTable", "TrappedPortalOps", "VirtualSmmu", "host_stage1_vm"]
