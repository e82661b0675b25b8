"""Probe, remove and reset (drivers/dma/idxd/init.c: idxd_pci_probe, idxd_setup_interrupts, idxd_remove,
and the FLR path of idxd_reset_prepare/done with pci_reset_function).

Probe order: memory decode + capability walk, BAR0/BAR2 mapping, bus master, identify the device
(DEV_ID magic, VERSION major), read the capabilities, enable PASID (ENQCMD carries one), MSI-X with
vector 0 for device errors and one vector per WQ, error interrupts unmasked, a per-WQ IMS domain,
ENABLE_DEVICE. WQs are configured and enabled by the caller (what accel-config does).
"""

from __future__ import annotations

import errno
from typing import Optional

from imsdev import regs

from .device import WQ_PORTAL_STRIDE, ImsdevDevice, ImsdevWq
from .ims import ImsDomain
from .irq import idxd_misc_thread, idxd_wq_thread
from .irqdesc import IrqCore
from .msi import PciMsix
from .ops import DeviceOps
from .pci import PCI_PASID_CTRL_PRIV, PciDev, PciError
from .registers import FIELD_GET
from .submit import IrqEntry
from .uapi import ims_int_handle, msix_int_handle

IMSDEV_VERSION_MAJOR = regs.CSR_VERSION_MAJOR_RESET


def imsdev_probe(ops: DeviceOps, *, pasid_priv: bool = True) -> ImsdevDevice:
    pdev = PciDev(ops)
    pdev.enable_device()
    if not pdev.msix_cap or not pdev.pcie_cap:
        raise PciError(errno.ENODEV, "no MSI-X or PCI Express capability")
    idxd = ImsdevDevice(pdev, IrqCore(ops))
    idxd.reg_base = pdev.iomap(0)
    idxd.portal_base = pdev.iomap(2)
    pdev.set_master()

    dev_id = idxd.ioread32(regs.CSR_DEV_ID)
    if (FIELD_GET("CSR_DEV_ID_MAGIC", dev_id), FIELD_GET("CSR_DEV_ID_DEVICE", dev_id)) != \
            (regs.CSR_DEV_ID_MAGIC_RESET, regs.CSR_DEV_ID_DEVICE_RESET):
        raise PciError(errno.ENODEV, f"BAR0 is not this device (DEV_ID {dev_id:#010x})")
    major = FIELD_GET("CSR_VERSION_MAJOR", idxd.ioread32(regs.CSR_VERSION))
    if major != IMSDEV_VERSION_MAJOR:
        raise PciError(errno.ENODEV, f"register map major version {major}, driver knows {IMSDEV_VERSION_MAJOR}")
    idxd.read_caps()

    pdev.enable_pasid(PCI_PASID_CTRL_PRIV if pasid_priv else 0)
    idxd.wqs = [ImsdevWq(i, idxd.portal_base + i * WQ_PORTAL_STRIDE) for i in range(idxd.num_wq)]
    idxd_setup_interrupts(idxd)
    idxd.device_enable()
    return idxd


def idxd_setup_interrupts(idxd: ImsdevDevice) -> None:
    core = idxd.core
    idxd.msix = PciMsix(idxd.pdev, core)
    nvec = min(idxd.msix.table_size(), 1 + idxd.num_wq)
    descs = idxd.msix.alloc_irq_vectors(nvec, hwsize_extra=idxd.num_wq * idxd.ims_per_wq)
    idxd.misc_irq = descs[0]
    _check(core.request_irq(descs[0].irq, idxd_misc_thread, "imsdev-misc", idxd), "misc irq")
    idxd.unmask_error_interrupts()
    if idxd.request_int_handles:
        idxd.require_int_handles()
    for wq, desc in zip(idxd.wqs, descs[1:]):
        ie = IrqEntry(idxd, wq, desc, msix_int_handle(desc.hwirq), "msix")
        _check(core.request_irq(desc.irq, idxd_wq_thread, f"imsdev-wq{wq.id}", ie), f"WQ {wq.id} irq")
        if idxd.request_int_handles:         # idxd_wq_request_irq
            ie.int_handle = idxd.request_int_handle("msix", desc.hwirq)
        wq.msix_ie = ie
    for wq in idxd.wqs:
        wq.ims = ImsDomain(core, idxd.reg_base + regs.ims_at(wq.id), idxd.ims_per_wq)


def wq_alloc_ims_irq(idxd: ImsdevDevice, wq: ImsdevWq, pasid: Optional[int] = None,
                     index: Optional[int] = None) -> IrqEntry:
    """An IMS completion interrupt of `wq`, optionally bound to `pasid` (the slot then fires only for that
    PASID's descriptors), requested and unmasked."""
    desc = wq.ims.alloc_irq(pasid, index)
    ie = IrqEntry(idxd, wq, desc, ims_int_handle(desc.hwirq), "ims")
    _check(idxd.core.request_irq(desc.irq, idxd_wq_thread, f"imsdev-wq{wq.id}-ims{desc.hwirq}", ie), "IMS irq")
    if idxd.request_int_handles:
        ie.int_handle = idxd.request_int_handle("ims", desc.hwirq, wq.id)
    wq.ims_ies.append(ie)
    return ie


def wq_free_ims_irq(idxd: ImsdevDevice, ie: IrqEntry) -> None:
    if idxd.request_int_handles:
        idxd.release_int_handle("ims", ie.desc.hwirq, ie.wq.id)
    idxd.core.free_irq(ie.irq)
    ie.wq.ims.free_irq(ie.desc)
    ie.wq.ims_ies.remove(ie)


def _quiesce(idxd: ImsdevDevice) -> None:
    """Stop the device and give every interrupt back (device side first, then the platform's)."""
    if FIELD_GET("CSR_GENSTS_ENABLED", idxd.ioread32(regs.CSR_GENSTS)):
        idxd.device_disable()
    idxd.mask_error_interrupts()
    for wq in idxd.wqs:
        for ie in list(wq.ims_ies):
            wq_free_ims_irq(idxd, ie)
    if idxd.msix is not None:
        for wq in idxd.wqs:
            if idxd.request_int_handles and wq.msix_ie is not None:   # idxd_wq_free_irq
                idxd.release_int_handle("msix", wq.msix_ie.desc.hwirq)
        for desc in idxd.msix.descs:
            if desc.handler is not None:
                idxd.core.free_irq(desc.irq)
        idxd.msix.free_irq_vectors()


def imsdev_remove(idxd: ImsdevDevice) -> None:
    _quiesce(idxd)
    idxd.pdev.disable_pasid()
    idxd.pdev.clear_master()
    idxd.pdev.disable_device()


def imsdev_reset(idxd: ImsdevDevice) -> ImsdevDevice:
    """Function-level reset and re-probe: quiesce, pci_reset_function (save, FLR, restore), probe again,
    then restore what the driver had set up - WQ configurations and enables, and IMS interrupts (same
    slots, same PASID bindings, same handlers). Returns the new device; the old one is dead."""
    saved_wqs = [(wq.id, wq.size, wq.dedicated, wq.pasid, wq.priv, wq.prio, wq.max_xfer_shift, wq.max_batch_shift,
                  wq.enabled)
                 for wq in idxd.wqs if wq.size]
    saved_ims = [(ie.wq.id, ie.desc.hwirq, ie.desc.chip_data.pasid) for wq in idxd.wqs for ie in wq.ims_ies]
    pasid_priv = bool(idxd.pdev.pasid_features & PCI_PASID_CTRL_PRIV)
    _quiesce(idxd)
    idxd.pdev.reset_function()
    new = imsdev_probe(idxd.ops, pasid_priv=pasid_priv)
    new.stats["resets"] = idxd.stats["resets"] + 1
    for wq_id, size, dedicated, pasid, priv, prio, shift, bshift, enabled in saved_wqs:
        wq = new.wqs[wq_id]
        new.wq_configure(wq, size=size, dedicated=dedicated, pasid=pasid, priv=priv, prio=prio,
                         max_xfer_shift=shift, max_batch_shift=bshift)
        if enabled:
            new.wq_enable(wq)
    for wq_id, index, pasid in saved_ims:
        wq_alloc_ims_irq(new, new.wqs[wq_id], pasid, index)
    return new


def _check(rc: int, what: str) -> None:
    if rc:
        raise OSError(-rc, f"request_irq for {what}: {errno.errorcode.get(-rc, rc)}")
