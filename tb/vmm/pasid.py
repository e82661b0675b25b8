"""Guest PASIDs: the CPU's PASID translation for ENQCMD / ENQCMDS in VMX non-root operation (issue 10 item 6).

A guest runs its own PASID space: its kernel gives each of its processes a *guest* PASID and puts it in
IA32_PASID (MSR 0xD93: PASID[19:0], valid b31) at context switch. The device, shared with other guests and
the host, must only ever see *host* PASIDs, each bound in the IOMMU to that guest process's tables (VT-d
nested, PGTT 011b: the guest's first level over the VM's second level). With the "PASID translation"
VM-execution control set, the CPU translates the guest PASID of every ENQCMD / ENQCMDS through a table the
VMM fills (KVM's per-VM table; in the iommufd-era proposals the VMM learns each guest->host pair when it
binds the guest's PASID), and the DMWr carries the host PASID in its PASID prefix and in bits 19:0 of its
first DWORD. A guest PASID that is not in the table is a VM exit and the instruction does nothing.

:class:`PasidTranslationTable` is the VMM's side (encoder, host memory); :func:`translate_pasid` is the
CPU's walk (decoder, reads host memory only, so a table the VMM encodes wrongly fails here);
:class:`VmxEnqcmd` is the instruction with the guest's IA32_PASID per vCPU.

Sources and what was checked:

* checked with the search tool: the VMCS 64-bit control fields "Low PASID directory address" 0x2038 and
  "High PASID directory address" 0x203A (SDM vol. 3C appendix B field list, as VMCS dump tools print it);
  VMX basic exit reasons 72 "ENQCMD PASID translation failure" and 73 "ENQCMDS PASID translation
  failure", whose SDM description is "the present bit was clear in a PASID-directory entry, the valid bit
  was clear in a PASID-table entry, or one of the entries set a reserved bit"; the secondary
  processor-based control "PASID translation" between "enable XSAVES/XRSTORS" (bit 20) and "mode-based
  execute control for EPT" (bit 22), i.e. bit 21 (VirtualBox's VMX_PROC_CTLS2_PASID_TRANSLATE order);
* recalled from the SDM (ENQCMD/ENQCMDS operation, "PASID translation"), not checked here: guest PASID
  bit 19 selects the low (0) or high (1) directory; a directory is 4 KiB of 512 8-byte entries indexed by
  guest PASID bits 18:10, entry = P b0, reserved 11:1, PASID-table address [MAXPHYADDR-1:12]; a PASID
  table is 4 KiB of 1024 4-byte entries indexed by bits 9:0, entry = host PASID 19:0, reserved 30:20,
  valid b31. ENQCMD takes the PASID from IA32_PASID (#GP if its valid bit is 0) and writes DW0 = PASID
  with bit 31 (privilege) 0; ENQCMDS takes PASID and privilege from its source's DW0 (SDM vol. 2).
* not modelled: how KVM answers exits 72/73 (no upstream code); here the VMM injects #GP, which the
  guest sees as :class:`GuestPasidFault`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .exits import ExitCounter, ExitReason

IA32_PASID_MSR = 0xD93
IA32_PASID_VALID = 1 << 31
SECONDARY_EXEC_PASID_TRANSLATION = 1 << 21
VMCS_LOW_PASID_DIRECTORY_ADDRESS = 0x2038
VMCS_HIGH_PASID_DIRECTORY_ADDRESS = 0x203A

PASID_BITS = 20
PAGE = 4096
DIR_P = 1
DIR_RESERVED = 0xFFE                       # bits 11:1
PTE_VALID = 1 << 31
PTE_RESERVED = 0x7FF << 20                 # bits 30:20
MAXPHYADDR = 52


class PasidTranslationFailure(Exception):
    """The CPU's walk failed: the VM exit (72 / 73) is taken, with ``detail`` naming the entry."""


class GuestPasidFault(Exception):
    """What the guest sees when its ENQCMD cannot be executed: #GP (invalid IA32_PASID), or the #GP the
    VMM injects after a PASID-translation exit."""


def _split(gpasid: int) -> tuple[int, int, int]:
    """(directory: 0 low / 1 high, directory index = bits 18:10, table index = bits 9:0)."""
    if not 0 <= gpasid < 1 << PASID_BITS:
        raise ValueError(f"guest PASID {gpasid:#x} is not 20 bits")
    return gpasid >> 19 & 1, gpasid >> 10 & 0x1FF, gpasid & 0x3FF


def translate_pasid(memory, low_directory: int, high_directory: int, gpasid: int) -> int:
    """The CPU's PASID translation: guest PASID -> host PASID, reading the VMM's tables in host memory;
    PasidTranslationFailure for a non-present directory entry, an invalid table entry or reserved bits."""
    which, dir_index, pte_index = _split(gpasid)
    directory = (low_directory, high_directory)[which]
    slot = directory + 8 * dir_index
    pde = int.from_bytes(memory.read(slot, 8), "little")
    if not pde & DIR_P:
        raise PasidTranslationFailure(f"guest PASID {gpasid:#x}: PASID-directory entry at {slot:#x} not present")
    if pde & DIR_RESERVED or pde >> MAXPHYADDR:
        raise PasidTranslationFailure(f"guest PASID {gpasid:#x}: reserved bits in PASID-directory entry {pde:#x}")
    slot = (pde & ((1 << MAXPHYADDR) - 1) & ~(PAGE - 1)) + 4 * pte_index
    pte = int.from_bytes(memory.read(slot, 4), "little")
    if not pte & PTE_VALID:
        raise PasidTranslationFailure(f"guest PASID {gpasid:#x}: PASID-table entry at {slot:#x} not valid")
    if pte & PTE_RESERVED:
        raise PasidTranslationFailure(f"guest PASID {gpasid:#x}: reserved bits in PASID-table entry {pte:#x}")
    return pte & ((1 << PASID_BITS) - 1)


class PasidTranslationTable:
    """The VMM's PASID-translation structures of one VM, in host memory: two directories (their addresses
    go into the VMCS fields 0x2038 / 0x203A of every vCPU) and PASID tables allocated on first use."""

    def __init__(self, memory, allocator):
        self.memory = memory
        self.allocator = allocator
        self.low = self._page()
        self.high = self._page()
        self._tables: dict[tuple[int, int], int] = {}
        self.mappings: dict[int, int] = {}          # the VMM's own record: guest PASID -> host PASID

    def _page(self) -> int:
        addr = self.allocator.alloc(PAGE, PAGE)
        self.memory.write(addr, bytes(PAGE))
        return addr

    @property
    def vmcs_fields(self) -> dict[int, int]:
        return {VMCS_LOW_PASID_DIRECTORY_ADDRESS: self.low, VMCS_HIGH_PASID_DIRECTORY_ADDRESS: self.high}

    def _pte_slot(self, gpasid: int, create: bool) -> int | None:
        which, dir_index, pte_index = _split(gpasid)
        table = self._tables.get((which, dir_index))
        if table is None:
            if not create:
                return None
            table = self._tables[(which, dir_index)] = self._page()
            directory = (self.low, self.high)[which]
            self.memory.write(directory + 8 * dir_index, (table | DIR_P).to_bytes(8, "little"))
        return table + 4 * pte_index

    def map(self, gpasid: int, hpasid: int) -> None:
        """Guest PASID ``gpasid`` is host PASID ``hpasid`` (the VMM learnt it when it bound the guest's
        PASID in the IOMMU). A guest PASID maps to one host PASID; remapping needs ``unmap`` first."""
        if not 0 < hpasid < 1 << PASID_BITS:
            raise ValueError(f"host PASID {hpasid:#x}: 1..2^20-1 (0 is requests without PASID)")
        if gpasid in self.mappings:
            raise ValueError(f"guest PASID {gpasid:#x} is already host PASID {self.mappings[gpasid]:#x}")
        slot = self._pte_slot(gpasid, create=True)
        self.memory.write(slot, (PTE_VALID | hpasid).to_bytes(4, "little"))
        self.mappings[gpasid] = hpasid

    def unmap(self, gpasid: int) -> None:
        slot = self._pte_slot(gpasid, create=False)
        if slot is not None:
            self.memory.write(slot, bytes(4))
        self.mappings.pop(gpasid, None)

    def host_pasid(self, gpasid: int) -> int | None:
        """The VMM's lookup (used by its emulation of guest-programmed PASIDs, e.g. trapped IMS)."""
        return self.mappings.get(gpasid)


@dataclass(frozen=True)
class EnqcmdWrite:
    """What the CPU puts on the bus for one ENQCMD(S): the 64 bytes and the PASID prefix."""
    data: bytes
    pasid: int
    priv: bool
    guest_pasid: int


class VmxEnqcmd:
    """ENQCMD / ENQCMDS executed by a VM's vCPUs, with the "PASID translation" control set (``translate``)
    or clear (the guest's PASID goes out as is: what a VMM without it must never allow on a shared WQ)."""

    def __init__(self, table: PasidTranslationTable, exits: ExitCounter, *, translate: bool = True):
        self.table = table
        self.exits = exits
        self.translate = translate
        self.ia32_pasid: dict[int, int] = {}        # per vCPU
        self.executed = 0

    def write_ia32_pasid(self, vcpu: int, value: int) -> None:
        """The guest kernel loads IA32_PASID at context switch (XRSTORS of the PASID state component):
        not intercepted, no exit."""
        self.ia32_pasid[vcpu] = value & (IA32_PASID_VALID | ((1 << PASID_BITS) - 1))

    def _host(self, vcpu: int, gpasid: int, reason: ExitReason) -> int:
        if not self.translate:
            return gpasid
        try:
            return translate_pasid(self.table.memory, self.table.low, self.table.high, gpasid)
        except PasidTranslationFailure as failure:
            self.exits.exit(reason, vcpu, str(failure))
            raise GuestPasidFault(f"#GP injected after {reason.name}: {failure}") from failure

    def enqcmd(self, vcpu: int, data: bytes) -> EnqcmdWrite:
        """User ENQCMD: DW0 = IA32_PASID[19:0] (translated), privilege 0; the rest from the source."""
        if len(data) != 64:
            raise ValueError("ENQCMD writes 64 bytes")
        msr = self.ia32_pasid.get(vcpu, 0)
        if not msr & IA32_PASID_VALID:
            raise GuestPasidFault(f"#GP: IA32_PASID of vCPU {vcpu} is not valid ({msr:#x})")
        gpasid = msr & ((1 << PASID_BITS) - 1)
        hpasid = self._host(vcpu, gpasid, ExitReason.ENQCMD_PASID_TRANSLATION_FAILURE)
        self.executed += 1
        return EnqcmdWrite(hpasid.to_bytes(4, "little") + bytes(data[4:]), hpasid, False, gpasid)

    def enqcmds(self, vcpu: int, data: bytes) -> EnqcmdWrite:
        """Supervisor ENQCMDS: PASID and privilege from the source's DW0; the PASID translated in place."""
        if len(data) != 64:
            raise ValueError("ENQCMDS writes 64 bytes")
        dw0 = int.from_bytes(data[:4], "little")
        gpasid, priv = dw0 & ((1 << PASID_BITS) - 1), bool(dw0 >> 31)
        hpasid = self._host(vcpu, gpasid, ExitReason.ENQCMDS_PASID_TRANSLATION_FAILURE)
        self.executed += 1
        dw0 = dw0 & ~((1 << PASID_BITS) - 1) | hpasid
        return EnqcmdWrite(dw0.to_bytes(4, "little") + bytes(data[4:]), hpasid, priv, gpasid)


__all__ = ["EnqcmdWrite", "GuestPasidFault", "IA32_PASID_MSR", "IA32_PASID_VALID", "PasidTranslationFailure",
           "PasidTranslationTable", "SECONDARY_EXEC_PASID_TRANSLATION", "VMCS_HIGH_PASID_DIRECTORY_ADDRESS",
           "VMCS_LOW_PASID_DIRECTORY_ADDRESS", "VmxEnqcmd", "translate_pasid"]
