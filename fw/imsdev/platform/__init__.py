"""Platform irq domains of the driver model: x86 interrupt remapping and the ARM GICv3 ITS.

See msi.py for the shared interface (MsiMsg, Irq, IrqDomain, HostAllocator).
"""

from .arm_its import ItsIrqDomain
from .msi import HostAllocator, Irq, IrqDomain, MsiMsg
from .x86_ir import VtdIrqDomain

__all__ = ["HostAllocator", "Irq", "IrqDomain", "ItsIrqDomain", "MsiMsg", "VtdIrqDomain"]
