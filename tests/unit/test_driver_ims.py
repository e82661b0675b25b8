"""Per-queue IMS programming of the driver model and of the C library, against the recording fake: the
IDXD IMS chip's order (prepare masks and binds, message + read-back, whole-CTRL writes + read-back),
queued updates applied only at irq_bus_sync_unlock with the mask before a message change (the device
drops writes to an unmasked slot), nested disable/enable, shutdown, and affinity without device writes.
"""
import ctypes
import errno

import pytest

from fake_device import BAR0, FakeDevice, build_clib
from imsdev import regs
from imsdev.clib import MsiMsgC, OpsAdapter
from imsdev.driver import imsdev_probe
from imsdev.driver.init import wq_alloc_ims_irq, wq_free_ims_irq
from imsdev.driver.irq import idxd_wq_thread
from imsdev.driver.registers import ims_ctrl
from imsdev.platform import MsiMsg

LO, HI, DATA, CTRL = regs.IMS_ENTRY_ADDR_LO, regs.IMS_ENTRY_ADDR_HI, regs.IMS_ENTRY_DATA, regs.IMS_ENTRY_CTRL
PASID = 0x42


def slot(wq: int, index: int) -> int:
    return regs.ims_entry_at(wq, index)


def program(e: int, msg: MsiMsg) -> list:
    return [("w32", e + LO, msg.address_lo), ("w32", e + HI, msg.address_hi), ("w32", e + DATA, msg.data),
            ("r32", e + DATA)]


def ctrl(e: int, masked: bool, pasid=PASID) -> list:
    return [("w32", e + CTRL, ims_ctrl(masked, pasid)), ("r32", e + CTRL)]


@pytest.fixture
def probed():
    dev = FakeDevice(num_wq=2)
    return dev, imsdev_probe(dev)


def test_alloc_and_request_order(probed):
    dev, idxd = probed
    m = dev.mark()
    ie = wq_alloc_ims_irq(idxd, idxd.wqs[1], pasid=PASID)
    e = slot(1, 0)
    assert ie.int_handle == 0x8000 and ie.desc.hwirq == 0
    assert dev.since(m) == ctrl(e, True) + program(e, ie.desc.parent.msg) + ctrl(e, False)
    assert not dev.violations


def test_queued_update_applies_at_unlock_mask_first(probed):
    dev, idxd = probed
    ie = wq_alloc_ims_irq(idxd, idxd.wqs[0], pasid=PASID)
    desc, e = ie.desc, slot(0, 0)
    new = MsiMsg(0xFEE0_4018, 0, 3)
    m = dev.mark()
    with idxd.core.bus_lock(desc):
        desc.chip.irq_write_msi_msg(desc, new)          # on a live (unmasked) slot
        assert dev.since(m) == [], "IMS updates must wait for irq_bus_sync_unlock"
    assert dev.since(m) == ctrl(e, True) + program(e, new) + ctrl(e, False)
    assert not dev.violations
    # several changes under one lock become one ordered update; an unchanged slot writes nothing
    m = dev.mark()
    with idxd.core.bus_lock(desc):
        desc.chip.irq_mask(desc)
        desc.chip.irq_write_msi_msg(desc, ie.desc.parent.msg)
        desc.chip.irq_unmask(desc)
    assert dev.since(m) == ctrl(e, True) + program(e, ie.desc.parent.msg) + ctrl(e, False)
    m = dev.mark()
    with idxd.core.bus_lock(desc):
        desc.chip.irq_mask(desc)
        desc.chip.irq_unmask(desc)
    assert dev.since(m) == []


def test_disable_enable_nest(probed):
    dev, idxd = probed
    ie = wq_alloc_ims_irq(idxd, idxd.wqs[0])
    e = slot(0, 0)
    m = dev.mark()
    idxd.core.disable_irq(ie.irq)
    idxd.core.disable_irq(ie.irq)
    idxd.core.enable_irq(ie.irq)
    assert dev.since(m) == ctrl(e, True, None)
    m = dev.mark()
    idxd.core.enable_irq(ie.irq)
    assert dev.since(m) == ctrl(e, False, None)


def test_affinity_goes_to_the_platform_only(probed):
    dev, idxd = probed
    ie = wq_alloc_ims_irq(idxd, idxd.wqs[0], pasid=PASID)
    m = dev.mark()
    idxd.core.irq_set_affinity(ie.irq, (ie.desc.parent.cpu + 1) % 4)
    assert dev.since(m) == []
    assert dev.irq_domain.calls[-1][0] == "affinity"


def test_free_masks_zeroes_and_unbinds(probed):
    dev, idxd = probed
    ie = wq_alloc_ims_irq(idxd, idxd.wqs[0], pasid=PASID)
    e = slot(0, 0)
    m = dev.mark()
    wq_free_ims_irq(idxd, ie)
    assert dev.since(m) == ctrl(e, True) + program(e, MsiMsg(0, 0, 0)) + ctrl(e, True, None)
    assert dev.irq_domain.calls[-1] == ("free", [ie.desc.parent.index])
    assert not ie.desc.parent.active and not idxd.wqs[0].ims_ies
    again = wq_alloc_ims_irq(idxd, idxd.wqs[0])          # the slot is free again
    assert again.desc.hwirq == 0


def test_free_irq_deactivates_and_request_irq_reactivates(probed):
    """free_irq masks and writes a zero message (msi_domain_deactivate); a later request_irq writes the
    parent's message again before unmasking."""
    dev, idxd = probed
    ie = wq_alloc_ims_irq(idxd, idxd.wqs[0])
    e, msg = slot(0, 0), ie.desc.parent.msg
    m = dev.mark()
    idxd.core.free_irq(ie.irq)
    assert dev.since(m) == ctrl(e, True, None) + program(e, MsiMsg(0, 0, 0))
    m = dev.mark()
    assert idxd.core.request_irq(ie.irq, idxd_wq_thread, "again", ie) == 0
    assert dev.since(m) == program(e, msg) + ctrl(e, False, None)
    assert idxd.core.request_irq(ie.irq, idxd_wq_thread, "twice", ie) == -errno.EBUSY
    assert not dev.violations


def test_fake_device_drops_an_unmasked_ims_write(probed):
    """The checks above can fail: the fake records (and drops) an address write to a live slot."""
    dev, idxd = probed
    wq_alloc_ims_irq(idxd, idxd.wqs[0])
    dev.mmio_write32(BAR0 + slot(0, 0) + DATA, 5)
    assert dev.violations


# ---- the C library, same sequences -----------------------------------------------------------------
@pytest.fixture(scope="module")
def clib(tmp_path_factory):
    return build_clib(tmp_path_factory.mktemp("fw"))


def test_c_library_ims_order(clib):
    dev = FakeDevice(num_wq=2)
    ad = OpsAdapter(dev)
    cdev, s = clib.new_dev(), clib.new_ims_slot()
    assert clib.probe(cdev, ctypes.byref(ad.struct)) == 0
    e = slot(1, 3)
    m = dev.mark()
    assert clib.ims_alloc(cdev, 1, 3, True, PASID, s) == 0
    clib.ims_unmask(cdev, s)
    msg = next(iter(ad.irqs.values())).msg
    assert dev.since(m) == ctrl(e, True) + program(e, msg) + ctrl(e, False)

    new = MsiMsgC(0xFEE0_4018, 0, 3)
    m = dev.mark()
    clib.ims_bus_lock(s)
    clib.ims_write_msg(cdev, s, ctypes.byref(new))
    assert dev.since(m) == []
    clib.ims_bus_sync_unlock(cdev, s)
    assert dev.since(m) == ctrl(e, True) + program(e, MsiMsg(0xFEE0_4018, 0, 3)) + ctrl(e, False)

    m = dev.mark()
    clib.ims_free(cdev, s)
    assert dev.since(m) == ctrl(e, True) + program(e, MsiMsg(0, 0, 0)) + ctrl(e, True, None)
    assert dev.irq_domain.calls[-1][0] == "free"
    assert clib.ims_alloc(cdev, 2, 0, False, 0, s) != 0, "WQ 2 does not exist on a 2-WQ device"
    ad.raise_if_failed()
    assert not dev.violations
