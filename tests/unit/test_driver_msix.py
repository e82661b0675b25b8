"""MSI-X programming order of the driver model and of the C library, against a recording fake device
(no simulator): Linux's msix_capability_init order, mask before rewriting an unmasked entry, flushing
reads where __pci_write_msi_msg / pci_msix_mask have them, none where pci_msix_unmask has none, shutdown,
and affinity changes that never touch the device entry. Both implementations go through the same checks.
"""
import ctypes

import pytest

from fake_device import MSIX_CAP, FakeDevice, build_clib
from imsdev import regs
from imsdev.clib import MsiMsgC, OpsAdapter
from imsdev.driver import imsdev_probe
from imsdev.driver.msi import PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL
from imsdev.driver.pci import PCI_COMMAND, PCI_COMMAND_INTX_DISABLE
from imsdev.platform import MsiMsg

FLAGS = MSIX_CAP + PCI_MSIX_FLAGS
LO, HI, DATA, CTRL = (regs.MSIX_TABLE_ADDR_LO, regs.MSIX_TABLE_ADDR_HI, regs.MSIX_TABLE_DATA,
                      regs.MSIX_TABLE_VECTOR_CTRL)


def entry(v: int) -> int:
    return regs.msix_table_at(v)


def table_vector(off: int):
    if regs.MSIX_TABLE_BASE <= off < regs.MSIX_TABLE_BASE + regs.MSIX_TABLE_SIZE:
        return (off - regs.MSIX_TABLE_BASE) // regs.MSIX_TABLE_STRIDE, off % regs.MSIX_TABLE_STRIDE
    return None


def check_msix_init(dev: FakeDevice, nvec: int, unmasked: set[int]):
    """The Linux order, as properties of the recorded access sequence (the two implementations may
    interleave the per-vector reads differently)."""
    tsize = dev.msix_vectors
    log = dev.since(0, kinds=("cfg_w", "w32", "r32"))
    flag_writes = [i for i, e in enumerate(log) if e[0] == "cfg_w" and e[1] == FLAGS]
    assert len(flag_writes) == 2, f"expected two Message Control writes, got {[log[i] for i in flag_writes]}"
    first, last = flag_writes
    assert log[first][3] & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) == \
        PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, "MSI-X must be enabled with the function masked"
    assert log[last][3] & PCI_MSIX_FLAGS_ENABLE and not log[last][3] & PCI_MSIX_FLAGS_MASKALL
    table = [(i, e) for i, e in enumerate(log) if e[0] in ("w32", "r32") and table_vector(e[1])]
    assert table and table[0][0] > first, "MSI-X table touched before ENABLE|MASKALL"
    # messages: every used vector gets lo, hi, data and then a DATA read-back, all while function-masked
    for v in range(nvec):
        writes = [(i, e) for i, e in table if e[0] == "w32" and table_vector(e[1]) == (v, LO)]
        assert len(writes) == 1, f"vector {v}: {len(writes)} address writes during setup"
        i = writes[0][0]
        assert [e[:2] for e in log[i:i + 4]] == [("w32", entry(v) + LO), ("w32", entry(v) + HI),
                                                ("w32", entry(v) + DATA), ("r32", entry(v) + DATA)], \
            f"vector {v}: message writes not followed by the flushing DATA read: {log[i:i + 4]}"
        assert first < i < last
    # INTx off, then msix_mask_all over the whole table, then MASKALL cleared
    intx = [i for i, e in enumerate(log) if e[0] == "cfg_w" and e[1] == PCI_COMMAND and e[3] & PCI_COMMAND_INTX_DISABLE]
    assert intx and first < intx[0] < last
    masks = [(i, table_vector(e[1])[0]) for i, e in table if e[0] == "w32" and table_vector(e[1])[1] == CTRL
             and e[2] == 1 and i < last]
    assert [v for _, v in masks] == list(range(tsize)), "msix_mask_all must mask every table entry in order"
    last_msg = max(i for i, e in table if e[0] == "w32" and table_vector(e[1])[1] == DATA)
    assert masks[0][0] > last_msg and masks[-1][0] < last
    # request_irq: pci_msix_unmask writes ctrl = 0 after MASKALL is cleared, with no flushing read
    for v in unmasked:
        idx = [i for i, e in enumerate(log) if e[0] == "w32" and e[1] == entry(v) + CTRL and e[2] == 0]
        assert len(idx) == 1 and idx[0] > last, f"vector {v}: unmask {idx}"
        nxt = log[idx[0] + 1] if idx[0] + 1 < len(log) else None
        assert nxt != ("r32", entry(v) + CTRL), "pci_msix_unmask does not flush"
    assert not dev.violations


def test_python_probe_follows_linux_msix_order():
    dev = FakeDevice(num_wq=2, msix_vectors=9)
    idxd = imsdev_probe(dev)
    nvec = 1 + idxd.num_wq
    assert [d.hwirq for d in idxd.msix.descs] == list(range(nvec))
    check_msix_init(dev, nvec, unmasked=set(range(nvec)))
    # the ITS sizes the device's ITT once: MSI-X table plus every IMS slot it may ever hand out
    assert dev.irq_domain.calls[0] == ("alloc", nvec, 9 + idxd.num_wq * idxd.ims_per_wq)


def test_python_write_msg_masks_unmasked_entry_and_flushes():
    dev = FakeDevice()
    idxd = imsdev_probe(dev)
    desc = idxd.msix.descs[1]
    new = MsiMsg(0xFEE0_1238, 0, 7)
    m = dev.mark()
    desc.chip.irq_write_msi_msg(desc, new)
    e = entry(1)
    assert dev.since(m) == [("w32", e + CTRL, 1), ("w32", e + LO, new.address_lo), ("w32", e + HI, 0),
                            ("w32", e + DATA, 7), ("w32", e + CTRL, 0), ("r32", e + DATA)]
    m = dev.mark()
    idxd.core.disable_irq(desc.irq)
    assert dev.since(m) == [("w32", e + CTRL, 1), ("r32", e + CTRL)]          # pci_msix_mask: flush
    m = dev.mark()
    desc.chip.irq_write_msi_msg(desc, MsiMsg(0xFEE0_1000, 0, 8))            # masked: no mask dance
    assert [a[:2] for a in dev.since(m)] == [("w32", e + LO), ("w32", e + HI), ("w32", e + DATA), ("r32", e + DATA)]
    m = dev.mark()
    idxd.core.enable_irq(desc.irq)
    assert dev.since(m) == [("w32", e + CTRL, 0)]                            # pci_msix_unmask: no flush
    assert not dev.violations


def test_python_affinity_never_touches_the_device_entry():
    dev = FakeDevice()
    idxd = imsdev_probe(dev)
    desc = idxd.msix.descs[2]
    old_key = desc.parent.expected
    m = dev.mark()
    idxd.core.irq_set_affinity(desc.irq, (desc.parent.cpu + 1) % 4)
    assert dev.since(m, kinds=("w32", "r32", "cfg_w")) == []
    assert desc.parent.expected != old_key and ("affinity", desc.parent.index, desc.parent.cpu) in dev.irq_domain.calls
    # deliveries follow the new target
    assert idxd.core.find_by_target(desc.parent.expected) is desc and idxd.core.find_by_target(old_key) is None


def test_python_shutdown_masks_then_disables():
    dev = FakeDevice()
    idxd = imsdev_probe(dev)
    for d in idxd.msix.descs:
        idxd.core.free_irq(d.irq)
    m = dev.mark()
    descs = list(idxd.msix.descs)
    idxd.msix.free_irq_vectors()
    seq = dev.since(m, kinds=("w32", "r32", "cfg_w"))
    # free_irq already masked every vector (with its flush); shutdown masks again, then clears ENABLE
    masks = [e for e in seq if e[0] == "w32"]
    assert masks == [("w32", entry(d.hwirq) + CTRL, 1) for d in descs]
    flags = [e for e in seq if e[0] == "cfg_w" and e[1] == FLAGS]
    assert flags and not flags[-1][3] & PCI_MSIX_FLAGS_ENABLE
    assert seq.index(flags[-1]) > seq.index(masks[-1])
    assert all(not d.parent.active for d in descs)


# ---- the C library, same checks ------------------------------------------------------------------
@pytest.fixture(scope="module")
def clib(tmp_path_factory):
    return build_clib(tmp_path_factory.mktemp("fw"))


def c_probe(clib, dev: FakeDevice):
    ad = OpsAdapter(dev)
    cdev = clib.new_dev()
    assert clib.probe(cdev, ctypes.byref(ad.struct)) == 0
    ad.raise_if_failed()
    return ad, cdev


def test_c_library_msix_enable_follows_linux_order(clib):
    dev = FakeDevice(num_wq=2, msix_vectors=9)
    ad, cdev = c_probe(clib, dev)
    assert clib.msix_enable(cdev, 3, 32) == 0
    for v in range(3):
        clib.msix_unmask(cdev, v)
    ad.raise_if_failed()
    check_msix_init(dev, 3, unmasked={0, 1, 2})
    assert dev.irq_domain.calls[0] == ("alloc", 3, 9 + 32)


def test_c_library_write_msg_mask_unmask_and_disable(clib):
    dev = FakeDevice()
    ad, cdev = c_probe(clib, dev)
    assert clib.msix_enable(cdev, 2, 0) == 0
    clib.msix_unmask(cdev, 1)
    e = entry(1)
    m = dev.mark()
    clib.msix_write_msg(cdev, 1, ctypes.byref(MsiMsgC(0xFEE0_1238, 0, 7)))
    assert dev.since(m) == [("w32", e + CTRL, 1), ("w32", e + LO, 0xFEE0_1238), ("w32", e + HI, 0),
                            ("w32", e + DATA, 7), ("w32", e + CTRL, 0), ("r32", e + DATA)]
    m = dev.mark()
    clib.msix_mask(cdev, 1)
    assert dev.since(m) == [("w32", e + CTRL, 1), ("r32", e + CTRL)]
    m = dev.mark()
    clib.msix_disable(cdev)
    seq = dev.since(m, kinds=("w32", "r32", "cfg_w"))
    assert [x for x in seq if x[0] == "w32"] == [("w32", entry(0) + CTRL, 1), ("w32", entry(1) + CTRL, 1)]
    assert any(x[0] == "cfg_w" and x[1] == FLAGS and not x[3] & PCI_MSIX_FLAGS_ENABLE for x in seq)
    assert [c for c in dev.irq_domain.calls if c[0] == "free"] == [("free", [0]), ("free", [1])]
    ad.raise_if_failed()
    assert not dev.violations


def test_fake_device_catches_an_unmasked_msix_rewrite():
    """The order checks above can fail: writing a live vector's address is recorded as a violation."""
    dev = FakeDevice()
    idxd = imsdev_probe(dev)
    dev.mmio_write32(0xF000_0000 + entry(idxd.msix.descs[0].hwirq) + LO, 0)
    assert dev.violations
