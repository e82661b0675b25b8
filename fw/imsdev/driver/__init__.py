"""Driver model of the IMS multi-queue device: the host driver, laid out the way Linux lays it out.

Module          stands for (Linux)                                    concern
ops.py          readl/writel, pci_{read,write}_config_*,               what the driver needs from the machine;
                dma_alloc_coherent, ENQCMDS / MOVDIR64B, the CPU's      tb/driver_ops.py implements it over the
                interrupt entry, the platform's MSI parent domain      cocotb bench (the RTL), tests/unit fake it
pci.py          drivers/pci/{pci.c,access.c,ats.c}                     enable, bus master, BARs, capability walk,
                                                                       PASID enable, FLR (save/reset/restore)
msi.py          drivers/pci/msi/msi.c                                  MSI-X in Linux's order
irqdesc.py      kernel/irq/{irqdesc,manage,chip}.c                     irq descriptors, request_irq / free_irq,
                                                                       disable/enable, affinity, bus lock
ims.py          drivers/irqchip/irq-pci-intel-idxd.c + pci_ims_*()     per-queue IMS chip, queued updates
registers.py    drivers/dma/idxd/registers.h                           field helpers over the generated regs.py
uapi.py         include/uapi/linux/idxd.h                              descriptor, completion record
device.py       drivers/dma/idxd/device.c                              commands, WQ config, PASID, SWERR
submit.py       drivers/dma/idxd/submit.c                              ENQCMDS retry / MOVDIR64B, completions
irq.py          drivers/dma/idxd/irq.c                                 misc (error) and completion interrupts
init.py         drivers/dma/idxd/init.c                                probe / remove / FLR + re-probe

The driver is synchronous, like kernel code: every hardware access is a blocking call on the ops
object. In the bench those calls run in a cocotb bridge thread and resume the simulation until the
access is done (tb/driver_ops.py); the C library (fw/lib) is driven through the same ops object.
Register offsets and fields come only from the generated imsdev.regs.
"""

from .init import imsdev_probe, imsdev_remove, imsdev_reset
from .ops import DeviceOps, DmwrStatus

__all__ = ["DeviceOps", "DmwrStatus", "imsdev_probe", "imsdev_remove", "imsdev_reset"]
