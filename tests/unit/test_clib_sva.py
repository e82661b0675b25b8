"""The C library's iommu_sva_bind_device-like flow (imsdev_sva_bind / imsdev_sva_unbind, fw/lib/imsdev.h) against
the recording fake device, through imsdev.clib's OpsAdapter with a fake platform SVA: what it checks before
calling the platform, the PASID range check against the PASID capability (and the binding handed back when
it fails), DRAIN_PASID before the unbind and the unbind even when the drain fails (idxd_file_dev_release),
and every bad input's defined outcome. On the RTL: tb/tests/platform/test_sva.py test_c_sva_*.
"""
import ctypes
import errno

import pytest

from fake_device import PASID_CAP, FakeDevice, build_clib
from imsdev import regs
from imsdev.clib import OpsAdapter, OpsC, SvaC

MM = 0x7F00_1234_5000
PASID_CTRL = PASID_CAP + 6


@pytest.fixture(scope="module")
def clib(tmp_path_factory):
    return build_clib(tmp_path_factory.mktemp("fw"))


class FakeSva:
    """The platform's SVA code: hands out `pasid` (or refuses with `refuse`), logging each call into the
    device's access log so the order against MMIO is visible."""

    def __init__(self, dev: FakeDevice, pasid: int = 5, refuse: int = 0):
        self.dev, self.pasid, self.refuse = dev, pasid, refuse
        self.bound: list[int] = []

    def sva_bind(self, mm):
        self.dev.log.append(("sva_bind", mm))
        if self.refuse:
            raise OSError(self.refuse, "refused")
        self.bound.append(self.pasid)
        return self.pasid

    def sva_unbind(self, pasid):
        self.dev.log.append(("sva_unbind", pasid))
        self.bound.remove(pasid)


def setup(clib, *, sva=True, enable_pasid=True, width=None, **kw):
    dev = FakeDevice()
    if width is not None:                                   # PASID capability: Max PASID Width [12:8]
        dev.cfg[PASID_CAP + 5] = width
    fake = FakeSva(dev, **kw) if sva else None
    ad = OpsAdapter(dev, sva=fake)
    cdev = clib.new_dev()
    assert clib.probe(cdev, ctypes.byref(ad.struct)) == 0
    if enable_pasid:
        assert clib.pci_enable_pasid(cdev, False) == 0
    return dev, fake, ad, cdev


def commands(dev, mark):
    return [e[2] for e in dev.since(mark) if e[0] == "w32" and e[1] == regs.CSR_CMD]


def drain(pasid):
    return regs.CMD_DRAIN_PASID << regs.CSR_CMD_CMD_SHIFT | pasid


def test_ops_struct_appends_the_sva_callbacks():
    """struct imsdev_ops keeps every earlier field where it was; the two callbacks come last."""
    names = [n for n, _ in OpsC._fields_]
    assert names[-2:] == ["sva_bind", "sva_unbind"] and names.index("delay_ns") == 16
    ptr = ctypes.sizeof(ctypes.c_void_p)
    assert OpsC.delay_ns.offset == 16 * ptr and OpsC.sva_bind.offset == 17 * ptr
    assert ctypes.sizeof(OpsC) == 19 * ptr


def test_bind_then_unbind_drains_first(clib):
    dev, fake, ad, cdev = setup(clib, pasid=0x1234)
    h = SvaC()
    m = dev.mark()
    assert clib.sva_bind(cdev, MM, ctypes.byref(h)) == 0
    ad.raise_if_failed()
    assert (h.mm, h.pasid, h.bound) == (MM, 0x1234, True) and fake.bound == [0x1234]
    assert commands(dev, m) == [], "bind touches no device register"
    m = dev.mark()
    assert clib.sva_unbind(cdev, ctypes.byref(h)) == 0
    ad.raise_if_failed()
    seq = [e for e in dev.log[m:] if e[0] == "sva_unbind" or (e[0] == "w32" and e[1] - 0xF000_0000 == regs.CSR_CMD)]
    assert [e[0] for e in seq] == ["w32", "sva_unbind"] and seq[0][2] == drain(0x1234) and seq[1][1] == 0x1234
    assert not h.bound and h.pasid == 0x1234 and fake.bound == []


@pytest.mark.parametrize("failure", ["cmd_error", "timeout"])
def test_unbind_happens_even_when_the_drain_fails(clib, failure):
    """idxd_file_dev_release: the drain's failure is reported, the PASID is unbound all the same."""
    dev, fake, ad, cdev = setup(clib, pasid=7)
    h = SvaC()
    assert clib.sva_bind(cdev, MM, ctypes.byref(h)) == 0
    if failure == "cmd_error":
        dev.cmd_errors[regs.CMD_DRAIN_PASID] = regs.CMD_ERR_DEV_NOT_ENABLED
        want = regs.CMD_ERR_DEV_NOT_ENABLED
    else:
        dev.cmd_busy_reads = 10**9
        want = -errno.ETIMEDOUT
    assert clib.sva_unbind(cdev, ctypes.byref(h)) == want
    ad.raise_if_failed()
    assert not h.bound and fake.bound == [] and dev.log[-1] == ("sva_unbind", 7)


def test_bind_refused_without_pasid_capability_enabled(clib):
    """PASID capability never enabled, disabled again, or its Enable bit cleared in config space without the
    library knowing: -EOPNOTSUPP, the platform is not asked."""
    dev, fake, ad, cdev = setup(clib, enable_pasid=False)
    h = SvaC(1, 99, True)
    assert clib.sva_bind(cdev, MM, ctypes.byref(h)) == -errno.EOPNOTSUPP
    assert (h.mm, h.pasid, h.bound) == (MM, 0, False)
    assert clib.pci_enable_pasid(cdev, False) == 0
    clib.pci_disable_pasid(cdev)
    assert dev.cfg_word(PASID_CTRL) == 0
    assert clib.sva_bind(cdev, MM, ctypes.byref(h)) == -errno.EOPNOTSUPP
    assert clib.pci_enable_pasid(cdev, False) == 0
    dev.cfg_write(PASID_CTRL, 2, 0)                          # cleared behind the library's back (an FLR)
    assert clib.sva_bind(cdev, MM, ctypes.byref(h)) == -errno.EOPNOTSUPP
    assert not any(e[0] == "sva_bind" for e in dev.log) and not h.bound


def test_bind_without_platform_callbacks_is_not_supported(clib):
    """NULL sva_bind / sva_unbind (a platform without SVA): -EOPNOTSUPP, nothing bound."""
    dev, _, ad, cdev = setup(clib, sva=False)
    assert not ad.struct.sva_bind and not ad.struct.sva_unbind
    h = SvaC()
    m = dev.mark()
    assert clib.sva_bind(cdev, MM, ctypes.byref(h)) == -errno.EOPNOTSUPP
    assert not h.bound and commands(dev, m) == []


FIELD = regs.CSR_CMD_OPERAND_WIDTH        # the device's PASID fields (20 bits, PCIe's PASID width)


@pytest.mark.parametrize("width, pasid, rc", [
    (8, 0xFF, 0), (8, 0x100, -errno.EINVAL), (FIELD, (1 << FIELD) - 1, 0), (FIELD, 1 << FIELD, -errno.EINVAL),
    (31, 1 << FIELD, -errno.EINVAL),      # a capability claiming more bits than the device's fields hold
    (8, 0, -errno.EINVAL),                # PASID 0 is the no-PASID traffic's (RID_PASID / SSID 0)
])
def test_bind_checks_the_pasid_against_the_device_width(clib, width, pasid, rc):
    """A PASID the device cannot carry is handed back to the platform (sva_unbind) and refused with -EINVAL."""
    dev, fake, ad, cdev = setup(clib, width=width, pasid=pasid)
    assert clib.pasid_width(cdev) == min(width, FIELD)
    h = SvaC()
    assert clib.sva_bind(cdev, MM, ctypes.byref(h)) == rc
    ad.raise_if_failed()
    if rc:
        assert not h.bound and fake.bound == [] and dev.log[-1] == ("sva_unbind", pasid)
        m = dev.mark()
        assert clib.sva_unbind(cdev, ctypes.byref(h)) == -errno.EINVAL and dev.log[m:] == []
    else:
        assert h.bound and h.pasid == pasid and fake.bound == [pasid]


def test_platform_refusal_is_returned(clib):
    dev, fake, ad, cdev = setup(clib, refuse=errno.ENOSPC)
    h = SvaC()
    assert clib.sva_bind(cdev, MM, ctypes.byref(h)) == -errno.ENOSPC
    ad.raise_if_failed()
    assert not h.bound and not any(e[0] == "sva_unbind" for e in dev.log)


def test_bad_handles(clib):
    """NULL handle, a handle never bound, a second unbind: -EINVAL and nothing sent to device or platform."""
    dev, fake, ad, cdev = setup(clib)
    assert clib.sva_bind(cdev, MM, None) == -errno.EINVAL
    assert clib.sva_unbind(cdev, None) == -errno.EINVAL
    h = SvaC()
    m = dev.mark()
    assert clib.sva_unbind(cdev, ctypes.byref(h)) == -errno.EINVAL and dev.log[m:] == []
    assert clib.sva_bind(cdev, MM, ctypes.byref(h)) == 0
    assert clib.sva_unbind(cdev, ctypes.byref(h)) == 0
    m = dev.mark()
    assert clib.sva_unbind(cdev, ctypes.byref(h)) == -errno.EINVAL and dev.log[m:] == []
    assert fake.bound == []
