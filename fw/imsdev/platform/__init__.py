"""Platform irq domains of the driver model: x86 interrupt remapping and the ARM GICv3 ITS.

See msi.py for the shared interface (MsiMsg, Irq, IrqDomain, HostAllocator), iommu_sva.py for
process address spaces and iommu_sva_bind_device-like binds (VT-d scalable mode, SMMUv3 stage 1),
x86_posted.py for VT-d posted interrupts (descriptor, posted IRTE, intel_ir_set_vcpu_affinity) and
iommu_nested.py for guests' second-level / stage-2 and nested translation (docs/vmm.md).
"""

from .arm_its import ItsIrqDomain
from .iommu_sva import PasidAllocator, Process, SmmuSva, SvaHandle, VtdSva
from .msi import HostAllocator, Irq, IrqDomain, MsiMsg
from .x86_ir import VtdIrqDomain

__all__ = ["HostAllocator", "Irq", "IrqDomain", "ItsIrqDomain", "MsiMsg", "PasidAllocator",
           "Process", "SmmuSva", "SvaHandle", "VtdIrqDomain", "VtdSva"]
