"""VMM model: KVM- and QEMU-shaped guests for the virtualization scenarios of issue 10 (docs/vmm.md).

Pure Python and synchronous, like tb/platform, so every piece is unit-tested without a simulator:

* :mod:`.exits` - VM-exit accounting by reason;
* :mod:`.vcpu` - vCPUs with a virtual APIC and VT-d posted interrupts (KVM vmx/posted_intr.c);
* :mod:`.guest` - guest RAM backed by host pages, its IOMMU tables, trapped register frames;
* :mod:`.host` - x86 host with posting, VMs, and the VMM's host-interrupt routing (x86 / ARM);
* :mod:`.device` - the "device MMIO" interface and a behavioural model of the interrupt storage;
* :mod:`.trap` - the guest's BAR view, MSI-X trapping (vfio-pci + QEMU) and trapped IMS pages;
* :mod:`.ims` - the three IMS designs; :mod:`.report` - their measured comparison (docs/vmm.md);
* :mod:`.vits` - ARM virtual ITS with virtual DeviceIDs, shadowed onto the physical ITS;
* :mod:`.pasid` - guest PASIDs: the VMM's PASID-translation table and the CPU's ENQCMD/ENQCMDS in a guest;
* on the cocotb bench (not imported here: they need cocotb): :mod:`.bench` (guests on the RTL) and
  :mod:`.guest_sva` (guest processes on a shared WQ with host PASIDs).
"""

from .device import DeviceMmio, InterruptStorageDevice
from .exits import ExitCounter, ExitReason
from .guest import Guest, GuestMemory, TrappedRegisters
from .host import ArmRouting, GuestMessageError, Route, X86Host, X86Routing, X86Vm
from .ims import DirectIms, HypercallIms, TrappedImsDesign
from .trap import GuestBar, TrappedIms, VfioMsix
from .vcpu import PhysicalCpus, Vcpu, VcpuState
from .vits import GuestMsiMapper, VirtualIts

__all__ = ["ArmRouting", "DeviceMmio", "DirectIms", "ExitCounter", "ExitReason", "Guest", "GuestBar",
           "GuestMemory", "GuestMessageError", "GuestMsiMapper", "HypercallIms", "InterruptStorageDevice",
           "PhysicalCpus", "Route", "TrappedIms", "TrappedImsDesign", "TrappedRegisters", "VfioMsix",
           "Vcpu", "VcpuState", "VirtualIts", "X86Host", "X86Routing", "X86Vm"]
