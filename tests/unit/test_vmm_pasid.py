"""Guest PASIDs (tb/vmm/pasid.py): the VMM's PASID-translation table, the CPU's walk for ENQCMD/ENQCMDS in VMX
non-root, and trapped IMS slots bound to the host PASID (tb/vmm/trap.py TrappedIms pasid_map)."""

import pytest

from imsdev import regs
from imsdev.platform import HostAllocator
from imsdev.platform.x86_ir import compatibility_msi_message
from tb.platform.memory import SparseMemory
from tb.vmm.device import InterruptStorageDevice
from tb.vmm.exits import ExitCounter, ExitReason
from tb.vmm.host import X86Host, X86Routing, X86Vm
from tb.vmm.ims import GuestImsDriver
from tb.vmm.pasid import (IA32_PASID_VALID, VMCS_HIGH_PASID_DIRECTORY_ADDRESS, VMCS_LOW_PASID_DIRECTORY_ADDRESS,
                          GuestPasidFault, PasidTranslationFailure, PasidTranslationTable, VmxEnqcmd,
                          translate_pasid)
from tb.vmm.trap import GuestBar, TrappedIms

RID = 0x0300


def table():
    mem = SparseMemory()
    return mem, PasidTranslationTable(mem, HostAllocator(0x10_0000, 0x10_0000))


def walk(mem, t, gpasid):
    return translate_pasid(mem, t.low, t.high, gpasid)


def test_both_directories_and_the_entry_formats():
    mem, t = table()
    t.map(0x0_0405, 0x11)                    # low directory, index 1, entry 5
    t.map(0x8_0405, 0x22)                    # high directory, same indices
    assert walk(mem, t, 0x0_0405) == 0x11 and walk(mem, t, 0x8_0405) == 0x22
    assert t.vmcs_fields == {VMCS_LOW_PASID_DIRECTORY_ADDRESS: t.low, VMCS_HIGH_PASID_DIRECTORY_ADDRESS: t.high}
    pde = int.from_bytes(mem.read(t.low + 8 * 1, 8), "little")
    assert pde & 1 and pde & 0xFFE == 0
    pte = int.from_bytes(mem.read((pde & ~0xFFF) + 4 * 5, 4), "little")
    assert pte == 1 << 31 | 0x11


@pytest.mark.parametrize("gpasid, why", [(0x0_0406, "not valid"), (0x0_0805, "not present"),
                                         (0x8_0000, "not present")])
def test_unmapped_guest_pasids_fail_the_walk(gpasid, why):
    mem, t = table()
    t.map(0x0_0405, 0x11)
    with pytest.raises(PasidTranslationFailure, match=why):
        walk(mem, t, gpasid)


def test_reserved_bits_fail_the_walk_and_unmap_clears_valid():
    mem, t = table()
    t.map(0x405, 0x11)
    slot = t.low + 8
    pde = int.from_bytes(mem.read(slot, 8), "little")
    mem.write(slot, (pde | 0x10).to_bytes(8, "little"))
    with pytest.raises(PasidTranslationFailure, match="reserved bits in PASID-directory"):
        walk(mem, t, 0x405)
    mem.write(slot, pde.to_bytes(8, "little"))
    pte_slot = (pde & ~0xFFF) + 4 * 5
    mem.write(pte_slot, (1 << 31 | 1 << 25 | 0x11).to_bytes(4, "little"))
    with pytest.raises(PasidTranslationFailure, match="reserved bits in PASID-table"):
        walk(mem, t, 0x405)
    mem.write(pte_slot, (1 << 31 | 0x11).to_bytes(4, "little"))
    t.unmap(0x405)
    with pytest.raises(PasidTranslationFailure, match="not valid"):
        walk(mem, t, 0x405)
    assert t.host_pasid(0x405) is None


def test_map_checks():
    _, t = table()
    t.map(7, 9)
    with pytest.raises(ValueError, match="already"):
        t.map(7, 10)
    with pytest.raises(ValueError, match="host PASID"):
        t.map(8, 0)
    with pytest.raises(ValueError, match="20 bits"):
        t.map(1 << 20, 5)


def desc(pasid=0, priv=False, fill=0xA5):
    return (pasid | priv << 31).to_bytes(4, "little") + bytes([fill]) * 60


def test_enqcmd_takes_ia32_pasid_and_puts_the_host_pasid_in_dword0():
    mem, t = table()
    t.map(0x1234, 0x42)
    exits = ExitCounter()
    cpu = VmxEnqcmd(t, exits)
    with pytest.raises(GuestPasidFault, match="not valid"):   # IA32_PASID never loaded: #GP, no exit
        cpu.enqcmd(0, desc())
    cpu.write_ia32_pasid(0, IA32_PASID_VALID | 0x1234)
    w = cpu.enqcmd(0, desc(pasid=0x999, priv=True))          # the descriptor's PASID/priv are ignored
    assert (w.pasid, w.priv, w.guest_pasid) == (0x42, False, 0x1234)
    assert w.data == desc(pasid=0x42) and exits.count() == 0 and cpu.executed == 1


def test_enqcmds_translates_the_source_pasid_and_keeps_priv():
    mem, t = table()
    t.map(0x1234, 0x42)
    cpu = VmxEnqcmd(t, ExitCounter())
    w = cpu.enqcmds(1, desc(pasid=0x1234, priv=True))
    assert (w.pasid, w.priv) == (0x42, True) and w.data == desc(pasid=0x42, priv=True)


@pytest.mark.parametrize("instruction, reason", [("enqcmd", ExitReason.ENQCMD_PASID_TRANSLATION_FAILURE),
                                                 ("enqcmds", ExitReason.ENQCMDS_PASID_TRANSLATION_FAILURE)])
def test_an_unmapped_guest_pasid_is_a_vm_exit_and_no_write(instruction, reason):
    mem, t = table()
    t.map(0x1234, 0x42)
    exits = ExitCounter()
    cpu = VmxEnqcmd(t, exits)
    cpu.write_ia32_pasid(0, IA32_PASID_VALID | 0x1235)
    with pytest.raises(GuestPasidFault, match=reason.name):
        getattr(cpu, instruction)(0, desc(pasid=0x1235))
    assert exits.counts == {reason: 1} and cpu.executed == 0


def test_without_the_control_the_guest_pasid_goes_out_as_is():
    _, t = table()
    cpu = VmxEnqcmd(t, ExitCounter(), translate=False)
    assert cpu.enqcmds(0, desc(pasid=0x1234)).pasid == 0x1234


# ---------------------------------------------------------------------- trapped IMS with PASID translation
class ImsRig:
    def __init__(self):
        self.host = X86Host()
        self.vm = X86Vm(self.host, "A", vcpus=2)
        for n, vcpu in enumerate(self.vm.vcpus):
            vcpu.load(n)
        self.device = InterruptStorageDevice(RID, self.host.handle_write, num_wq=1)
        self.bar = GuestBar(self.device, self.vm.exits)
        self.table = PasidTranslationTable(self.host.memory, self.host.allocator)
        self.table.map(0x1234, 0x42)
        self.ims = TrappedIms(self.device, X86Routing(self.host, self.vm), 0, range(0, 4),
                              pasid_map=self.table.host_pasid)
        self.ims.install(self.bar)
        self.driver = GuestImsDriver(self.bar)
        self.ctrl = regs.IMS_BASE + regs.IMS_ENTRY_CTRL

    def bind(self, slot, gpasid, masked):
        return (regs.IMS_ENTRY_CTRL_PASID_EN_MASK | gpasid << regs.IMS_ENTRY_CTRL_PASID_SHIFT
                | (regs.IMS_ENTRY_CTRL_MASK_MASK if masked else 0))


def test_trapped_ims_binds_the_physical_slot_to_the_host_pasid():
    rig = ImsRig()
    rig.bar.write32(rig.ctrl, rig.bind(0, 0x1234, True))                 # prepare: masked, guest PASID
    rig.driver.write_message(0, 0, compatibility_msi_message(1, 0x41))
    rig.bar.write32(rig.ctrl, rig.bind(0, 0x1234, False))                # unmask
    assert rig.device.ims[0][0].ctrl == rig.bind(0, 0x42, False)          # the device: host PASID
    assert rig.bar.read32(rig.ctrl) == rig.bind(0, 0x1234, False)         # the guest: its own
    rig.device.fire_ims(0, 0)
    assert rig.vm.vcpus[1].counts == {0x41: 1} and not rig.ims.rejected
    rig.bar.write32(rig.ctrl, rig.bind(0, 0x1234, True))                 # mask keeps the binding
    assert rig.device.ims[0][0].ctrl == rig.bind(0, 0x42, True)


def test_trapped_ims_refuses_a_guest_pasid_the_vmm_does_not_know():
    rig = ImsRig()
    rig.bar.write32(rig.ctrl, rig.bind(0, 0x1235, True))
    rig.driver.write_message(0, 0, compatibility_msi_message(1, 0x41))
    rig.bar.write32(rig.ctrl, rig.bind(0, 0x1235, False))
    assert rig.device.ims[0][0].ctrl == regs.IMS_ENTRY_CTRL_MASK_MASK     # masked, unbound
    rejected, = rig.ims.rejected
    assert rejected.key == (0, 0) and "guest PASID" in rejected.reason


def test_trapped_ims_rebinds_a_live_slot_and_unbinds():
    rig = ImsRig()
    rig.table.map(0x777, 0x43)
    rig.bar.write32(rig.ctrl, rig.bind(0, 0x1234, True))
    rig.driver.write_message(0, 0, compatibility_msi_message(1, 0x41))
    rig.bar.write32(rig.ctrl, rig.bind(0, 0x1234, False))
    rig.bar.write32(rig.ctrl, rig.bind(0, 0x777, False))                 # PASID changed while unmasked
    assert rig.device.ims[0][0].ctrl == rig.bind(0, 0x43, False)
    rig.bar.write32(rig.ctrl, 0)                                          # unbound, unmasked
    assert rig.device.ims[0][0].ctrl == 0
