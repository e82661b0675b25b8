"""Driver model pieces that need no simulator: descriptor packing (Python, C and the bench's encoder agree
byte for byte), constants (Python uapi == C header == the bench's), ENQCMD bounded retry, MOVDIR64B for
dedicated WQs, descriptor-pool flow control, command errors and timeouts, the error interrupt handler,
completion by interrupt (and the record-before-interrupt check), PCI capability walk, FLR + re-probe.
"""
import ctypes
import errno
import random
import re

import pytest

from fake_device import BAR0, BAR2, FW, PCIE_CAP, FakeDevice, build_clib
from imsdev import regs
from imsdev.clib import DescC, OpsAdapter
from imsdev.driver import DmwrStatus, imsdev_probe, imsdev_reset, uapi
from imsdev.driver.device import ImsdevCmdError, ImsdevTimeout
from imsdev.driver.init import wq_alloc_ims_irq
from imsdev.driver.irq import idxd_misc_thread
from imsdev.driver.pci import PCI_PASID_CTRL_EXEC, PciDev, PciError
from imsdev.driver.submit import (idxd_alloc_desc, idxd_free_desc, idxd_submit_desc, prep_desc,
                                  wait_for_completion)
from imsdev.driver.uapi import DsaHwDesc
from tb.bad_inputs import BadInput


@pytest.fixture(scope="module")
def clib(tmp_path_factory):
    return build_clib(tmp_path_factory.mktemp("fw"))


def setup_wqs(dev=None, *, shared_size=2):
    dev = dev or FakeDevice(num_wq=2)
    idxd = imsdev_probe(dev)
    shared, ded = idxd.wqs
    idxd.wq_configure(shared, size=shared_size, dedicated=False)
    idxd.wq_enable(shared)
    idxd.wq_configure(ded, size=2, dedicated=True, pasid=0x77)
    idxd.wq_enable(ded)
    return dev, idxd, shared, ded


# ---- descriptor layout ----------------------------------------------------------------------------------
def random_desc(rng) -> DsaHwDesc:
    return DsaHwDesc(opcode=rng.choice((0, 2, 3, 4, 0x7F)), flags=rng.getrandbits(24), pasid=rng.getrandbits(20),
                     priv=rng.random() < 0.5, completion_addr=rng.getrandbits(64), src_addr=rng.getrandbits(64),
                     dst_addr=rng.getrandbits(64), xfer_size=rng.getrandbits(32), int_handle=rng.getrandbits(16))


def test_descriptor_layout():
    d = DsaHwDesc(opcode=0x03, flags=0x1C, pasid=0x12345, priv=True, completion_addr=0x1122334455667788,
                  src_addr=0x10, dst_addr=0x20, xfer_size=300, int_handle=0x8005)
    raw = d.pack()
    assert len(raw) == 64
    assert raw[0:4] == (0x8001_2345).to_bytes(4, "little") and raw[4:8] == (0x0300_001C).to_bytes(4, "little")
    assert raw[8:16] == (0x1122334455667788).to_bytes(8, "little") and raw[32:36] == (300).to_bytes(4, "little")
    assert raw[36:38] == b"\x05\x80" and raw[38:] == bytes(26)
    assert DsaHwDesc.unpack(raw) == d


def test_descriptor_packing_agrees_with_c_and_bench(clib):
    from tb.wq import Descriptor               # the bench's descriptor, encoded by fw's DsaHwDesc
    rng = random.Random(7)
    for _ in range(50):
        d = random_desc(rng)
        c = DescC(d.opcode, d.flags, d.pasid, d.priv, d.completion_addr, d.src_addr, d.dst_addr, d.xfer_size,
                  d.int_handle)
        out = ctypes.create_string_buffer(64)
        clib.desc_pack(ctypes.byref(c), out)
        assert out.raw == d.pack()
        assert Descriptor(opcode=d.opcode, flags=d.flags, pasid=d.pasid, priv=d.priv, cr_addr=d.completion_addr,
                          src=d.src_addr, dst=d.dst_addr, size=d.xfer_size, int_handle=d.int_handle).pack() == d.pack()


def test_batch_descriptor_builders_agree_and_refuse(clib):
    """The batch builders (Python uapi.batch_desc, C imsdev_batch_desc): struct dsa_hw_desc's layout (list
    address in the source slot, count in the transfer-size slot), and the same refusals: a list that is not
    64-byte aligned, a count below 2 or above the WQ's maximum (FieldError naming the field / -EINVAL)."""
    from imsdev.fields import FieldError
    flags = uapi.IDXD_OP_FLAG_CRAV | uapi.IDXD_OP_FLAG_RCR | uapi.IDXD_OP_FLAG_RCI
    d = uapi.batch_desc(0x1234_5640, 7, flags=flags, completion_addr=0x8000_0020, int_handle=0x8003, max_batch=8)
    raw = d.pack()
    assert raw[7] == uapi.DSA_OPCODE_BATCH and raw[16:24] == (0x1234_5640).to_bytes(8, "little")
    assert raw[32:36] == (7).to_bytes(4, "little") and raw[24:32] == bytes(8) and raw[36:38] == b"\x03\x80"
    c = DescC()
    assert clib.batch_desc(ctypes.byref(c), 0x1234_5640, 7, 8, flags, 0x8000_0020, 0x8003) == 0
    out = ctypes.create_string_buffer(64)
    assert clib.desc_pack(ctypes.byref(c), out) == 0 and out.raw == raw
    einval = -errno.EINVAL
    for addr, count, field in ((0x1234_5660, 4, "desc_list_addr"), (0x1000, 1, "desc_count"),
                               (0x1000, 0, "desc_count"), (0x1000, 9, "desc_count"), (1 << 64, 2, "desc_list_addr")):
        with pytest.raises(FieldError, match=field):
            uapi.batch_desc(addr, count, max_batch=8)
        if addr < 1 << 64:
            c = DescC(uapi.DSA_OPCODE_NOOP, 0, 0, False, 0x1000, 0, 0, 0, 0)
            assert clib.batch_desc(ctypes.byref(c), addr, count, 8, 0, 0, 0) == einval
            assert c.opcode == uapi.DSA_OPCODE_NOOP and c.completion_addr == 0x1000, "refused: left unchanged"
    assert uapi.batch_desc(0x40, 1 << 15).xfer_size == 1 << 15        # no limit given: only the minimum
    assert uapi.batch_list([uapi.DsaHwDesc(), d]) == uapi.DsaHwDesc().pack() + raw


def test_c_encoders_refuse_values_that_do_not_fit(clib):
    """The C encoders never mask a value into range: -EINVAL and nothing written (issue 12, strict encoders)."""
    einval = -errno.EINVAL
    for pasid, flags in ((1 << 20, 0), (0, 1 << 24), (0xFFFF_FFFF, 0xFFFF_FFFF)):
        c = DescC(uapi.DSA_OPCODE_NOOP, flags, pasid, False, 0x1000, 0, 0, 0, 0)
        out = ctypes.create_string_buffer(b"\xa5" * 64, 64)
        assert clib.desc_pack(ctypes.byref(c), out) == einval
        assert out.raw == b"\xa5" * 64, "a refused descriptor must leave the buffer untouched"
    c = DescC(uapi.DSA_OPCODE_NOOP, 0xFF_FFFF, 0xF_FFFF, True, 0x1000, 0, 0, 0, 0)
    assert clib.desc_pack(ctypes.byref(c), ctypes.create_string_buffer(64)) == 0
    handle = ctypes.c_uint16(0x1234)
    assert clib.ims_handle(0x7FFF, ctypes.byref(handle)) == 0 and handle.value == 0xFFFF
    assert clib.ims_handle(0x8000, ctypes.byref(handle)) == einval and handle.value == 0xFFFF


def test_constants_agree_with_c_header_and_bench():
    """One contract, three encodings: the Python uapi, fw/lib/imsdev.h and tb/wq.py must not drift."""
    import tb.wq as bench
    header = (FW / "lib" / "imsdev.h").read_text()
    c = {m[1]: int(m[2], 0) for m in re.finditer(r"#define\s+IMSDEV_(\w+)\s+(0x[0-9A-Fa-f]+|\d+)u", header)}
    pairs = {"DSA_OPCODE_": "OPCODE_", "IDXD_OP_FLAG_": "FLAG_", "DSA_COMP_": "COMP_", "IMSDEV_COMP_": "COMP_",
             "IMSDEV_INT_HANDLE_": "INT_HANDLE_"}
    checked = 0
    for name in dir(uapi):
        for py_prefix, c_prefix in pairs.items():
            if name.startswith(py_prefix):
                c_name = c_prefix + name[len(py_prefix):]
                assert c_name in c, f"{name} has no IMSDEV_{c_name} in imsdev.h"
                assert c[c_name] == getattr(uapi, name), name
                checked += 1
    assert checked >= 20
    assert (uapi.DSA_OPCODE_MEMMOVE, uapi.DSA_OPCODE_MEMFILL, uapi.DSA_OPCODE_DRAIN) == \
        (bench.OP_MEMMOVE, bench.OP_MEMFILL, bench.OP_DRAIN)
    assert (uapi.IDXD_OP_FLAG_CRAV, uapi.IDXD_OP_FLAG_RCR, uapi.IDXD_OP_FLAG_RCI) == \
        (bench.FLAG_CRAV, bench.FLAG_RCR, bench.FLAG_RCI)
    assert (uapi.DSA_COMP_BAD_OPCODE, uapi.DSA_COMP_INT_HANDLE_INVAL, uapi.DSA_COMP_PAGE_FAULT_NOBOF, uapi.DSA_COMP_HW_ERR1) == \
        (bench.ST_BAD_OPCODE, bench.ST_INT_HANDLE, bench.ST_PAGE_FAULT, bench.ST_HW_ERR)
    assert uapi.IMSDEV_INT_HANDLE_IMS == bench.HANDLE_IMS


# ---- submission ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rrs,expect_rc,attempts", [(0, 0, 1), (3, 0, 4), (4, -errno.EAGAIN, 4), (9, -errno.EAGAIN, 4)])
def test_enqcmd_retry_is_bounded(rrs, expect_rc, attempts):
    dev, idxd, shared, _ = setup_wqs()
    shared.enqcmds_retries = 3
    dev.dmwr_script.extend([DmwrStatus.RRS] * rrs)
    d = prep_desc(idxd_alloc_desc(shared), uapi.DSA_OPCODE_NOOP)
    m = dev.mark()
    assert idxd_submit_desc(idxd, shared, d, pasid=0x55, priv=True) == expect_rc
    sent = dev.since(m, kinds=("dmwr",))
    assert len(sent) == attempts
    assert all(s[1] == shared.portal == BAR2 and s[2] == 0x55 and s[3] is True for s in sent)
    assert DsaHwDesc.unpack(sent[0][4]).pasid == 0x55      # ENQCMDS sends the descriptor's PASID


@pytest.mark.parametrize("status", [DmwrStatus.UR, DmwrStatus.CA])
def test_enqcmd_refused_is_not_retried(status):
    dev, idxd, shared, _ = setup_wqs()
    dev.dmwr_script.append(status)
    m = dev.mark()
    assert idxd_submit_desc(idxd, shared, prep_desc(idxd_alloc_desc(shared), 0), pasid=1) == -errno.EIO
    assert len(dev.since(m, kinds=("dmwr",))) == 1 and shared.stats["eio"] == 1


def test_c_library_enqcmd_retry_is_bounded(clib):
    dev = FakeDevice()
    ad = OpsAdapter(dev)
    cdev = clib.new_dev()
    assert clib.probe(cdev, ctypes.byref(ad.struct)) == 0
    desc = DescC(0, uapi.IDXD_OP_FLAG_CRAV, 0x55, False, 0x1000_0000, 0, 0, 0, 0)
    for rrs, rc, n in ((3, 0, 4), (4, -errno.EAGAIN, 4)):
        dev.dmwr_script.extend([DmwrStatus.RRS] * rrs)
        m = dev.mark()
        assert clib.enqcmd(cdev, 0, ctypes.byref(desc), 3) == rc
        assert len(dev.since(m, kinds=("dmwr",))) == n
        dev.dmwr_script.clear()
    dev.dmwr_script.append(DmwrStatus.UR)
    assert clib.enqcmd(cdev, 0, ctypes.byref(desc), 3) == -errno.EIO
    ad.raise_if_failed()


def test_dedicated_wq_uses_movdir64b_and_its_pool_limits_outstanding_work():
    dev, idxd, _, ded = setup_wqs()
    ds = [prep_desc(idxd_alloc_desc(ded), uapi.DSA_OPCODE_NOOP) for _ in range(ded.size)]
    with pytest.raises(OSError) as exc:
        idxd_alloc_desc(ded)                    # posted submissions: never more outstanding than SIZE
    assert exc.value.errno == errno.EAGAIN
    m = dev.mark()
    assert idxd_submit_desc(idxd, ded, ds[0], pasid=0x99) == 0
    sent = dev.since(m, kinds=("movdir64b", "dmwr"))
    assert [s[0] for s in sent] == ["movdir64b"] and sent[0][1] == ded.portal == BAR2 + 0x1000
    idxd_free_desc(ded, ds[0])
    assert idxd_alloc_desc(ded).id == ds[0].id
    # WQCFG2 of the dedicated WQ carries its PASID with PASID_EN; the shared one PASID_EN only
    wqcfg2 = {e[1] - BAR0: e[2] for e in dev.log if e[0] == "w32" and (e[1] - BAR0) % 0x20 == 8
              and regs.CSR_WQCFG_BASE <= e[1] - BAR0 < regs.CSR_WQCFG_BASE + 0x100}
    assert wqcfg2[regs.csr_wqcfg_at(1) + 8] == (1 | 0x77 << 8 | 1 << 28)
    assert wqcfg2[regs.csr_wqcfg_at(0) + 8] == 1 << 28


def test_wq_set_pasid_rebinds_a_dedicated_wq_between_disable_and_enable():
    dev, idxd, shared, ded = setup_wqs()
    m = dev.mark()
    idxd.wq_set_pasid(ded, 0x99)
    seq = [(e[1] - BAR0, e[2]) for e in dev.log[m:] if e[0] == "w32"]
    cmd = [i for i, (off, _) in enumerate(seq) if off == regs.CSR_CMD]
    assert [seq[i][1] >> regs.CSR_CMD_CMD_SHIFT for i in cmd] == [regs.CMD_DISABLE_WQ, regs.CMD_ENABLE_WQ]
    wqcfg2 = [i for i, (off, _) in enumerate(seq) if off == regs.csr_wqcfg_at(1) + regs.CSR_WQCFG_WQCFG2]
    assert len(wqcfg2) == 1 and cmd[0] < wqcfg2[0] < cmd[1]
    assert seq[wqcfg2[0]][1] == 1 | 0x99 << 8 | 1 << 28
    with pytest.raises(OSError):
        idxd.wq_set_pasid(shared, 1)            # a shared WQ's PASIDs come with each ENQCMD


def test_command_errors_and_timeouts_name_themselves():
    dev = FakeDevice()
    idxd = imsdev_probe(dev)
    dev.cmd_errors[regs.CMD_ENABLE_WQ] = regs.CMD_ERR_WQ_SIZE
    idxd.wq_configure(idxd.wqs[0], size=1, dedicated=True)
    with pytest.raises(ImsdevCmdError) as exc:
        idxd.wq_enable(idxd.wqs[0])
    assert exc.value.err_name == "WQ_SIZE" and "ENABLE_WQ 0" in str(exc.value)
    dev.cmd_errors.clear()
    dev.cmd_busy_reads = 5                        # ACTIVE for a while: polled, then succeeds
    idxd.wq_enable(idxd.wqs[0])
    dev.cmd_busy_reads = 10**9                    # never finishes: an error, never a hang
    with pytest.raises(ImsdevTimeout):
        idxd.wq_disable(idxd.wqs[0])
    with pytest.raises(OSError):
        idxd.wq_configure(idxd.wqs[1], size=99, dedicated=True)


def test_pasid_commands_carry_the_pasid_and_refuse_wider_ones(clib):
    """DRAIN_PASID / ABORT_PASID put the PASID in CMD.OPERAND (Python model and C library alike); a PASID
    wider than the operand is refused before the device sees it (EINVAL naming the PASID)."""
    dev = FakeDevice()
    idxd = imsdev_probe(dev)
    m = dev.mark()
    idxd.device_drain_pasid(0xABCDE)
    assert idxd.device_abort_pasid(0x12345) == 0
    cmds = [e[2] for e in dev.since(m) if e[0] == "w32" and e[1] == regs.CSR_CMD]
    assert cmds == [regs.CMD_DRAIN_PASID << regs.CSR_CMD_CMD_SHIFT | 0xABCDE,
                    regs.CMD_ABORT_PASID << regs.CSR_CMD_CMD_SHIFT | 0x12345]
    for bad in (1 << 20, -1):
        with pytest.raises(OSError) as exc:
            idxd.device_drain_pasid(bad)
        assert exc.value.errno == errno.EINVAL and "pasid" in str(exc.value)
    ad = OpsAdapter(dev)
    cdev = clib.new_dev()
    assert clib.probe(cdev, ctypes.byref(ad.struct)) == 0
    m = dev.mark()
    discarded = ctypes.c_uint32(7)
    assert clib.drain_pasid(cdev, 0xFFFFF) == 0
    assert clib.abort_pasid(cdev, 1, ctypes.byref(discarded)) == 0 and discarded.value == 0
    assert clib.drain_pasid(cdev, 1 << 20) == -errno.EINVAL
    cmds = [e[2] for e in dev.since(m) if e[0] == "w32" and e[1] == regs.CSR_CMD]
    assert cmds[-2:] == [regs.CMD_DRAIN_PASID << regs.CSR_CMD_CMD_SHIFT | 0xFFFFF,
                         regs.CMD_ABORT_PASID << regs.CSR_CMD_CMD_SHIFT | 1]


def test_driver_requests_interrupt_handles_when_cmdcap_lists_them():
    """idxd's way: CMDCAP lists REQUEST_INT_HANDLE -> INTHDL_CTL.REQUIRED = 1 before any handle is handed out,
    a REQUEST per WQ vector and per IMS interrupt (operand: vector; IMS bit 16 | WQ << 11 | entry), the handle
    the device returns in the descriptors, a RELEASE when the interrupt is freed; an entry the device lacks is
    EINVAL before any command. Without the capability bit nothing is requested."""
    dev = FakeDevice()
    assert not imsdev_probe(dev).request_int_handles
    dev = FakeDevice()
    dev.mmio[regs.CSR_CMDCAP] = 1 << regs.CMD_REQUEST_INT_HANDLE
    m = dev.mark()
    idxd = imsdev_probe(dev)
    writes = [(e[1], e[2]) for e in dev.since(m) if e[0] == "w32" and e[1] in (regs.CSR_CMD, regs.CSR_INTHDL_CTL)]
    reqs = [v & regs.CSR_CMD_OPERAND_MASK for off, v in writes
            if off == regs.CSR_CMD and v >> regs.CSR_CMD_CMD_SHIFT == regs.CMD_REQUEST_INT_HANDLE]
    assert writes.index((regs.CSR_INTHDL_CTL, 1)) < writes.index((regs.CSR_CMD, regs.CMD_REQUEST_INT_HANDLE
                                                                  << regs.CSR_CMD_CMD_SHIFT | 1))
    assert reqs == [wq.msix_ie.desc.hwirq for wq in idxd.wqs] == list(range(1, 1 + idxd.num_wq))
    assert [wq.msix_ie.int_handle for wq in idxd.wqs] == reqs
    m = dev.mark()
    ie = wq_alloc_ims_irq(idxd, idxd.wqs[1], index=3)
    assert ie.int_handle == 0x8003
    from imsdev.driver.init import wq_free_ims_irq
    wq_free_ims_irq(idxd, ie)
    cmds = [e[2] for e in dev.since(m) if e[0] == "w32" and e[1] == regs.CSR_CMD]
    op = 0x10000 | 1 << 11 | 3
    assert cmds == [regs.CMD_REQUEST_INT_HANDLE << regs.CSR_CMD_CMD_SHIFT | op,
                    regs.CMD_RELEASE_INT_HANDLE << regs.CSR_CMD_CMD_SHIFT | op]
    for kind, index, wq in (("msix", idxd.msix_vectors, 0), ("ims", idxd.ims_per_wq, 0), ("ims", 0, idxd.num_wq)):
        with pytest.raises(OSError) as exc:
            idxd.request_int_handle(kind, index, wq)
        assert exc.value.errno == errno.EINVAL


# ---- interrupts and completions ---------------------------------------------------------------------
def test_misc_interrupt_decodes_and_acknowledges_swerr():
    dev = FakeDevice()
    idxd = imsdev_probe(dev)
    dev.mmio[regs.CSR_INT_CAUSE] = regs.CSR_INT_CAUSE_ERR_LOG_MASK
    dev.mmio[regs.CSR_SWERR0] = 1 | 1 << 2 | regs.SWERR_NO_CR << 8 | 1 << 16 | 0x10 << 24
    dev.mmio[regs.CSR_SWERR1] = 0x77 | 0x7F << 24
    m = dev.mark()
    assert idxd_misc_thread(idxd.misc_irq.irq, idxd) == 1
    (err,) = idxd.sw_errors
    assert (err.code_name, err.wq, err.pasid, err.code_status, err.opcode) == ("NO_CR", 1, 0x77, 0x10, 0x7F)
    assert "NO_CR" in str(err)
    seq = dev.since(m)
    assert seq[:2] == [("r32", regs.CSR_INT_CAUSE), ("w32", regs.CSR_INT_CAUSE, regs.CSR_INT_CAUSE_ERR_LOG_MASK)]
    assert ("w32", regs.CSR_SWERR0, regs.CSR_SWERR0_VALID_MASK | regs.CSR_SWERR0_OVERFLOW_MASK) in seq
    assert dev.mmio[regs.CSR_INT_CAUSE] == 0 and not dev.mmio[regs.CSR_SWERR0] & 1
    assert idxd_misc_thread(idxd.misc_irq.irq, idxd) == 0     # nothing pending: IRQ_NONE


def _write_record(dev, d, status=1):
    dev.mem_write(d.compl_addr, bytes([status]) + bytes(31))


def test_completion_by_interrupt_and_record_before_interrupt_check():
    dev, idxd, shared, _ = setup_wqs()
    ie = wq_alloc_ims_irq(idxd, shared, pasid=0x55)
    d = prep_desc(idxd_alloc_desc(shared), uapi.DSA_OPCODE_NOOP, ie=ie)
    assert d.hw.flags & uapi.IDXD_OP_FLAG_RCI and d.hw.int_handle == 0x8000
    assert idxd_submit_desc(idxd, shared, d, pasid=0x55) == 0
    assert ie.pending == [d]
    # the interrupt arrives before the record: the handler completes nothing and it is counted
    dev.deliveries.append([ie.desc.parent.expected])
    _write_record_later = d
    idxd.core.handle_pending(100)
    assert ie.desc.unhandled == 1 and d.completion is None
    _write_record(dev, _write_record_later)
    dev.deliveries.append([ie.desc.parent.expected])
    assert wait_for_completion(idxd, d).status == uapi.DSA_COMP_SUCCESS
    assert ie.desc.count == 2 and ie.completed == 1 and not ie.pending
    # a delivery nobody owns is spurious, never dropped silently
    dev.deliveries.append([(3, 0xEE)])
    idxd.core.handle_pending(100)
    assert idxd.core.spurious == [(3, 0xEE)]


def test_completion_timeouts_say_why():
    dev, idxd, shared, _ = setup_wqs()
    d = prep_desc(idxd_alloc_desc(shared), uapi.DSA_OPCODE_NOOP, ie=shared.msix_ie)
    idxd_submit_desc(idxd, shared, d, pasid=1)
    with pytest.raises(TimeoutError, match="interrupt never came"):
        wait_for_completion(idxd, d, timeout_ns=5_000)
    d2 = prep_desc(idxd_alloc_desc(shared), uapi.DSA_OPCODE_NOOP)
    idxd_submit_desc(idxd, shared, d2, pasid=1)
    with pytest.raises(TimeoutError, match="record never written"):
        wait_for_completion(idxd, d2, timeout_ns=5_000)
    _write_record(dev, d2)
    assert wait_for_completion(idxd, d2).status == 1


# ---- PCI and reset ----------------------------------------------------------------------------------
def test_capability_walk_and_pasid_features():
    dev = FakeDevice()
    pdev = PciDev(dev)
    pdev.enable_device()
    assert (pdev.pcie_cap, pdev.msix_cap, pdev.pasid_cap) == (0x40, 0x70, 0x100)
    assert pdev.find_capability(0x05) == 0
    dev.cfg[0x70 + 1] = 0x70                    # a looped list ends by TTL, not a hang
    assert pdev.find_capability(0x05) == 0
    dev.cfg[0x100 + 2] = 0                      # keep the PASID cap, stop the extended list
    with pytest.raises(PciError):
        dev.cfg[0x104] = 0x04                   # privileged only: exec is not offered any more
        pdev.enable_pasid(PCI_PASID_CTRL_EXEC)
    assert pdev.resource_start(0) == BAR0 and pdev.resource_start(2) == BAR2


def test_flr_reprobe_restores_config_wqs_and_ims():
    dev, idxd, shared, ded = setup_wqs()
    ie = wq_alloc_ims_irq(idxd, shared, pasid=0x55, index=5)
    old_parents = [d.parent for d in idxd.msix.descs] + [ie.desc.parent]
    new = imsdev_reset(idxd)
    assert dev.flrs == 1
    assert any(e[0] == "cfg_w" and e[1] == PCIE_CAP + 8 and e[3] & 0x8000 for e in dev.log)
    assert all(not p.active for p in old_parents), "old platform interrupts must be freed"
    assert new.wqs[0].enabled and new.wqs[1].enabled and new.wqs[1].pasid == 0x77
    (ie2,) = new.wqs[0].ims_ies
    assert ie2.desc.hwirq == 5 and ie2.desc.chip_data.pasid == 0x55 and ie2.desc.handler is not None
    assert new.pdev.pasid_enabled and dev.cfg_word(0x04) & 0x6 == 0x6     # memory + bus master back


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="encoder", input="C imsdev_desc_pack with PASID 1 << 20, flags 1 << 24, or both 0xFFFFFFFF",
             outcome="-EINVAL and the output buffer untouched (PASID 0xFFFFF with flags 0xFFFFFF packs)",
             test="test_c_encoders_refuse_values_that_do_not_fit"),
    BadInput(cls="encoder", input="C imsdev_ims_handle(0x8000)",
             outcome="-EINVAL, the handle left as it was (0x7FFF gives 0xFFFF)",
             test="test_c_encoders_refuse_values_that_do_not_fit"),
    BadInput(cls="encoder", input="ENQCMD answered RRS 4 or 9 times with enqcmds_retries = 3 (Python driver model)",
             outcome="idxd_submit_desc returns -EAGAIN after exactly 4 DMWr attempts (3 RRS then SC: 0 after 4)",
             test="test_enqcmd_retry_is_bounded"),
    BadInput(cls="encoder", input="ENQCMD answered UR or CA (Python driver model)",
             outcome="-EIO after one attempt, not retried; the WQ's eio count is 1",
             test="test_enqcmd_refused_is_not_retried"),
    BadInput(cls="encoder", input="C imsdev_enqcmd answered RRS 4 times (retries 3), or UR",
             outcome="-EAGAIN after 4 attempts (3 RRS: 0 after 4); UR: -EIO",
             test="test_c_library_enqcmd_retry_is_bounded"),
    BadInput(cls="encoder", input="More descriptors allocated for a dedicated WQ than its SIZE",
             outcome="idxd_alloc_desc raises OSError EAGAIN (posted submissions: never more outstanding than SIZE)",
             test="test_dedicated_wq_uses_movdir64b_and_its_pool_limits_outstanding_work"),
    BadInput(cls="encoder", input="wq_set_pasid on a shared WQ",
             outcome="OSError (a shared WQ's PASIDs come with each ENQCMD)",
             test="test_wq_set_pasid_rebinds_a_dedicated_wq_between_disable_and_enable"),
    BadInput(cls="encoder", input="Driver model: ENABLE_WQ answered CMD_ERR_WQ_SIZE; a command that never finishes; "
                                  "wq_configure with size 99",
             outcome="ImsdevCmdError with err_name 'WQ_SIZE' and 'ENABLE_WQ 0' in its message; ImsdevTimeout, never a "
                     "hang; OSError",
             test="test_command_errors_and_timeouts_name_themselves"),
    BadInput(cls="encoder", input="Completion interrupt delivered before the record is written; a delivery nobody "
                                  "owns",
             outcome="the handler completes nothing and counts it unhandled (the descriptor completes on the next "
                     "interrupt after the record); the stray delivery is recorded as spurious",
             test="test_completion_by_interrupt_and_record_before_interrupt_check"),
    BadInput(cls="encoder", input="wait_for_completion with no interrupt, or no record, before the deadline",
             outcome="TimeoutError saying 'interrupt never came' / 'record never written'",
             test="test_completion_timeouts_say_why"),
    BadInput(cls="encoder", input="Capability list that loops back on itself; PASID features the capability no longer "
                                  "offers",
             outcome="find_capability ends (returns 0) instead of hanging; enable_pasid raises PciError",
             test="test_capability_walk_and_pasid_features"),
)
