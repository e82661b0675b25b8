"""Enumeration and configuration space as a driver sees them through the root complex."""
import struct

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge, Timer
from cocotb.utils import get_sim_time
from cocotbext.pcie.core.caps import PciCapId, PciExtCapId
from cocotbext.pcie.core.rc import RootComplex
from cocotbext.pcie.core.region import MemoryTlpRegion
from cocotbext.pcie.core.tlp import CplStatus
from cocotbext.pcie.core.utils import PcieId

from imsdev import regs
from tb.bad_inputs import BadInput
from tb.pcie import direct, mmio_region
from tb.env import DEVICE_ID, VENDOR_ID, Bench
from tb.params import DeviceParams
from tb.wq import OP_MEMFILL, OP_NOOP, PORTAL_STRIDE, SwErr, WqConfig, WqEnv, ims_handle, ims_msg, msix_msg

PASID_EXT_CAP_ID = 0x1B

# The direct link (tb/pcie/direct.py) routes memory, completion and configuration TLPs by its own copy of
# cocotbext-pcie's bridge rules; in this module (enumeration, BARs moved above 4 GiB, config requests to
# absent devices) every TLP's route is also computed by the package's functions and compared.
direct.CHECK_ROUTING = True


async def bar_size(bench, index):
    """Size a 64-bit BAR the way a BIOS does: write all ones, read back, restore."""
    off = 0x10 + 4 * index
    lo0 = await bench.dev.config_read_dword(off)
    hi0 = await bench.dev.config_read_dword(off + 4)
    cmd = await bench.dev.config_read_word(0x04)
    await bench.dev.config_write_word(0x04, cmd & ~0x2)          # memory decode off while sizing
    await bench.dev.config_write_dword(off, 0xFFFF_FFFF)
    await bench.dev.config_write_dword(off + 4, 0xFFFF_FFFF)
    lo = await bench.dev.config_read_dword(off)
    hi = await bench.dev.config_read_dword(off + 4)
    await bench.dev.config_write_dword(off, lo0)
    await bench.dev.config_write_dword(off + 4, hi0)
    await bench.dev.config_write_word(0x04, cmd)
    assert lo & 0x1 == 0, "memory BAR expected"
    assert (lo >> 1) & 0x3 == 0x2, "64-bit BAR expected"
    assert lo & 0x8 == 0, "non-prefetchable BAR expected"
    mask = (hi << 32) | (lo & ~0xF)
    return (~mask & 0xFFFF_FFFF_FFFF_FFFF) + 1


@cocotb.test()
async def test_ids_bars_capabilities(dut):
    bench = await Bench.start(dut)
    assert await bench.dev.config_read_word(0x00) == VENDOR_ID
    assert await bench.dev.config_read_word(0x02) == DEVICE_ID
    assert (await bench.dev.config_read_byte(0x0E)) & 0x7F == 0, "type-0 header expected"
    assert await bar_size(bench, 0) == regs.BAR0_SIZE
    portal_bytes = await bar_size(bench, 2)
    assert portal_bytes >= 4096 * bench.params.num_wq and portal_bytes & (portal_bytes - 1) == 0

    exp = await bench.find_cap(PciCapId.EXP)
    assert exp, "PCI Express capability not found by the capability walk"
    devcap = await bench.dev.config_read_dword(exp + 4)
    assert devcap & (1 << 28), "Function Level Reset capability not advertised"

    msix = await bench.find_cap(PciCapId.MSIX)
    assert msix, "MSI-X capability not found"
    ctl = await bench.dev.config_read_word(msix + 2)
    assert ctl & 0x7FF == bench.params.msix_vectors - 1, f"Table Size {ctl & 0x7FF}"
    assert ctl & 0xC000 == 0, "Enable and Function Mask reset to 0"
    table = await bench.dev.config_read_dword(msix + 4)
    pba = await bench.dev.config_read_dword(msix + 8)
    assert (table & 7, table & ~7) == (0, regs.MSIX_TABLE_BASE)
    assert (pba & 7, pba & ~7) == (0, regs.MSIX_PBA_BASE)

    pasid = await bench.find_ext_cap(PASID_EXT_CAP_ID)
    assert pasid, "PASID extended capability not found by the extended capability walk"
    cap = await bench.dev.config_read_word(pasid + 4)
    assert cap & 0x6 == 0x6, "Execute and Privileged Mode supported"
    assert (cap >> 8) & 0x1F == 20, "Max PASID Width 20"

    # BAR0 really is this device.
    assert await bench.rd32(regs.CSR_DEV_ID) == regs.CSR_DEV_ID_RESET
    assert await bench.rd32(regs.CSR_CAP2) & regs.CSR_CAP2_MSIX_VECTORS_MASK == bench.params.msix_vectors


@cocotb.test()
async def test_config_controls_reach_the_device(dut):
    """MSI-X Enable/Function Mask, PASID controls, Bus Master Enable and the captured BDF drive cfg_*."""
    bench = await Bench.start(dut)
    d = bench.dut
    assert int(d.cfg_bdf.value) == int(bench.shim.pcie_id), "requester ID not captured"
    assert int(d.cfg_bus_master_en.value) == 1
    await bench.msix_enable(enable=True, fn_mask=True)
    await bench.cycles(2)
    assert (int(d.cfg_msix_en.value), int(d.cfg_msix_fn_mask.value)) == (1, 1)
    await bench.msix_enable(enable=True, fn_mask=False)
    await bench.cycles(2)
    assert (int(d.cfg_msix_en.value), int(d.cfg_msix_fn_mask.value)) == (1, 0)
    pasid = await bench.find_ext_cap(PASID_EXT_CAP_ID)
    await bench.dev.config_write_word(pasid + 6, 0x7)            # PASID Enable, Execute, Privileged
    await bench.cycles(2)
    assert (int(d.cfg_pasid_en.value), int(d.cfg_pasid_exec_en.value), int(d.cfg_pasid_priv_en.value)) == (1, 1, 1)
    await bench.dev.set_master(False)
    await bench.cycles(2)
    assert int(d.cfg_bus_master_en.value) == 0


@cocotb.test()
async def test_root_bus_configuration(dut):
    """Configuration requests inside the root complex: the root port answers its own registers, an empty
    device number on the root bus answers UR (all ones to software), and a root port register written reads
    back. While nothing waits downstream they are answered without TLPs (tb/pcie/rc_switch.py RootBusConfig);
    the package's own path (TLPs through the host bridge and the switch) must give the same answers, for
    every DWORD of the root port's configuration space and for reads of 1-3 bytes at every offset of its
    header, and a write through either path reads back through the other."""
    bench = await Bench.start(dut)
    rc = bench.rc
    rbc = rc.root_bus_config
    assert rbc is not None, "the bench's root complex answers root bus configuration without TLPs"
    port = next(p.bridge for p in rc.switch_ports if not p.upstream)
    rp_id = port.pcie_id
    assert rp_id.bus == 0 and rp_id.device != 0

    async def by_tlp(dev, addr, length):        # the package's path: a Type 1 request through the host bridge
        return bytes(await RootComplex.config_read(rc, dev, addr, length))

    answered = rbc.answered
    assert await rc.config_read_dword(rp_id, 0x00) == port.vendor_id | port.device_id << 16
    assert rbc.answered == answered + 1, "the read was not answered by RootBusConfig"
    bus_reg = await rc.config_read_dword(rp_id, 0x18)
    assert (bus_reg >> 8) & 0xFF == port.sec_bus_num == bench.shim.pcie_id.bus
    for addr in range(0, 0x1000, 4):
        fast = bytes(await rc.config_read(rp_id, addr, 4))
        assert fast == await by_tlp(rp_id, addr, 4), f"root port register {addr:#05x}: {fast.hex()} without TLPs"
    for addr in range(0, 0x40):
        for length in (1, 2, 3):
            fast = bytes(await rc.config_read(rp_id, addr, length))
            assert fast == await by_tlp(rp_id, addr, length), f"{length} bytes at {addr:#04x}"
    empty = next(d for d in range(1, 32) if d != rp_id.device)
    assert await rc.config_read_dword(PcieId(0, empty, 0), 0x00) == 0xFFFF_FFFF, "an empty slot answers UR"
    assert await by_tlp(PcieId(0, empty, 0), 0x00, 4) == b"\xff" * 4
    answered = rbc.answered
    assert await rc.config_read_dword(PcieId(0, 0, 0), 0x00) == 0xFFFF_FFFF, "00:00.0 is not routed: UR"
    assert rbc.answered == answered, "00:00.0 takes the package's path"
    # writes: Interrupt Line without TLPs, read back by TLP; the prefetchable base's upper half by TLP (Type 1
    # config write through the host bridge), read back without; a 2-byte write over Interrupt Line and Pin (RO)
    await rc.config_write_dword(rp_id, 0x3C, 0x0000_005A)
    assert (await by_tlp(rp_id, 0x3C, 1))[0] == 0x5A and port.interrupt_line == 0x5A
    pf_upper = await rc.config_read_dword(rp_id, 0x28)
    await RootComplex.config_write(rc, rp_id, 0x28, struct.pack("<L", 0x0000_0012))
    assert await rc.config_read_dword(rp_id, 0x28) == 0x12
    await rc.config_write(rp_id, 0x28, struct.pack("<L", pf_upper))
    assert await by_tlp(rp_id, 0x28, 4) == struct.pack("<L", pf_upper)
    # ... and its byte enables leave Bridge Control alone; a byte written at 0x3E (Parity Error Response
    # Enable) lands in its own lane
    pin = (await by_tlp(rp_id, 0x3D, 1))[0]
    await rc.config_write(rp_id, 0x3E, b"\x01")
    assert await by_tlp(rp_id, 0x3C, 4) == bytes([0x5A, pin, 0x01, 0x00])
    await rc.config_write(rp_id, 0x3C, b"\xa5\x00")
    assert await by_tlp(rp_id, 0x3C, 4) == bytes([0xA5, pin, 0x01, 0x00]), "Interrupt Pin read-only, Bridge Control kept"
    await RootComplex.config_write(rc, rp_id, 0x3E, b"\x00")
    assert await rc.config_read(rp_id, 0x3E, 2) == b"\x00\x00"
    # the device below still answers through the root port
    assert await bench.dev.config_read_dword(0) == VENDOR_ID | DEVICE_ID << 16


@cocotb.test()
async def test_config_write_completes_after_its_inputs_change(dut):
    """Software sees a configuration write complete only once its effect is on the RTL's cfg_* inputs (the
    completion leaves a simulator time step after the write): read at the completion, without a wait."""
    bench = await Bench.start(dut)
    d = bench.dut
    for en, mask in ((1, 1), (1, 0), (0, 0), (1, 1), (0, 1)):
        await bench.msix_enable(enable=bool(en), fn_mask=bool(mask))
        assert (int(d.cfg_msix_en.value), int(d.cfg_msix_fn_mask.value)) == (en, mask), (en, mask)
    for master in (False, True, False):
        await bench.dev.set_master(master)
        assert int(d.cfg_bus_master_en.value) == int(master), master


@cocotb.test()
async def test_function_level_reset(dut):
    """FLR returns the device to reset: registers, MSI-X control and the PASID controls; config restored after."""
    bench = await Bench.start(dut)
    await bench.wr32(regs.CSR_SCRATCH, 0xFEED_F00D)
    await bench.msix_enable(enable=True, fn_mask=True)
    pasid = await bench.find_ext_cap(PASID_EXT_CAP_ID)
    await bench.dev.config_write_word(pasid + 6, 0x1)
    flr_before = bench.shim.flr_count
    await bench.function_level_reset()
    assert bench.shim.flr_count == flr_before + 1, "the flr pulse was not sent"
    assert await bench.rd32(regs.CSR_SCRATCH) == 0, "SCRATCH survived FLR"
    assert await bench.msix_control() == (False, False)
    assert await bench.dev.config_read_word(pasid + 6) == 0, "PASID control survived FLR"
    assert await bench.rd32(regs.CSR_DEV_ID) == regs.CSR_DEV_ID_RESET, "BAR0 unusable after FLR + restore"


@cocotb.test()
async def test_flr_finishes_a_shown_completion(dut):
    """A completion shown on tx_cpl when an FLR arrives is finished before the function resets
    (docs/tlp_interface.md: a shown beat stays shown, a started TLP is completed): tx_cpl held, a read of
    SCRATCH shown, FLR; tx_cpl_valid stays high with the same header every cycle until the host takes it (the
    bench's host has dropped the read at the FLR and discards the completion, as a root port would), and
    SCRATCH reads its reset value after the FLR."""
    bench = await Bench.start(dut)
    await bench.wr32(regs.CSR_SCRATCH, 0xFEED_F00D)
    gate = await bench.shim.tx_cpl.hold()
    read = cocotb.start_soon(bench.rd32(regs.CSR_SCRATCH))
    await RisingEdge(dut.tx_cpl_valid)
    hdr = dut.tx_cpl_hdr.value
    flr_before = bench.shim.flr_count
    flr = cocotb.start_soon(bench.function_level_reset())
    for _ in range(100_000):                            # until the device sees the FLR pulse
        if bench.shim.flr_count != flr_before:
            break
        await RisingEdge(dut.clk)
    else:
        raise AssertionError("the FLR pulse never reached the device")
    for cycle in range(32):
        await RisingEdge(dut.clk)
        assert dut.tx_cpl_valid.value == 1 and dut.tx_cpl_hdr.value == hdr, \
            f"cycle {cycle} after the FLR: the completion shown on tx_cpl was withdrawn before it was taken"
    gate.release()
    for _ in range(1000):                               # until the host takes it (the edge sees the handshake)
        await RisingEdge(dut.clk)
        if dut.tx_cpl_valid.value and dut.tx_cpl_ready.value:
            break
    else:
        raise AssertionError("the completion shown before the FLR was never taken")
    assert dut.tx_cpl_hdr.value == hdr
    read.cancel()              # the host dropped the request at the FLR (the shim discards its completion)
    await flr
    assert await bench.rd32(regs.CSR_SCRATCH) == regs.CSR_SCRATCH_RESET, "SCRATCH survived FLR"


async def move_bars_above_4gib(bench, base, bar2_offset=regs.BAR0_SIZE):
    """Place BAR0 at `base` and BAR2 `bar2_offset` after it (both 64-bit BARs) inside a window of the root
    port's 64-bit prefetchable range (whole MiB, the bridge window's granularity, holding both BARs), the way system software may map a 64-bit non-prefetchable BAR on
    a PCIe-only path (PCIe Base r6.3 §7.5.1.2.1, implementation note on the Prefetchable bit). Memory decode
    is off while the BARs move. Returns the old (BAR0, BAR2) addresses."""
    rc, dev = bench.rc, bench.dev
    rp = dev.upstream_bridge()
    mib = 1 << 20
    limit = base + -(-(bar2_offset + dev.bar_size[2]) // mib) * mib - 1
    for bridge in (rc.upstream_bridge, rp):
        bridge.prefetchable_mem_base, bridge.prefetchable_mem_limit = base, limit
    await rp.config_write(0x024, struct.pack("<HH", (base >> 16) & 0xFFF0 | 1, (limit >> 16) & 0xFFF0 | 1))
    await rp.config_write(0x028, struct.pack("<L", base >> 32))
    await rp.config_write(0x02C, struct.pack("<L", limit >> 32))
    old = (dev.bar_addr[0], dev.bar_addr[2])
    cmd = await dev.config_read_word(0x04)
    await dev.config_write_word(0x04, cmd & ~0x2)
    addrs = {0: base, 2: base + bar2_offset}
    for bar, addr in addrs.items():
        flags = await dev.config_read_dword(0x10 + 4 * bar) & 0xF
        await dev.config_write_dword(0x10 + 4 * bar, (addr & 0xFFFF_FFF0) | flags)
        await dev.config_write_dword(0x14 + 4 * bar, addr >> 32)
        got = (await dev.config_read_dword(0x14 + 4 * bar) << 32) | (await dev.config_read_dword(0x10 + 4 * bar) & ~0xF)
        assert got == addr, f"BAR{bar} reads back {got:#x} after writing {addr:#x}"
        dev.bar_addr[bar] = addr
        dev.bar_window[bar] = rc.mem_address_space.create_window(addr, dev.bar_size[bar])
    await dev.config_write_word(0x04, cmd)
    bench.bar0, bench.bar0_addr = dev.bar_window[0], addrs[0]
    return old


@cocotb.test()
async def test_bars_above_4gib(dut):
    """BAR0 and BAR2 are 64-bit BARs: moved above 4 GiB, every host request to them has a 4DW header (PCIe:
    3DW below 4 GiB, 4DW above) and the device decodes its offset from the header's low address DW: CSR
    read/write, QWORD MSI-X table access and a message, an IMS entry and a completion interrupt through it,
    a bad MMIO access recorded with its exact BAR0 offset, ENQCMD (DMWr) accepted at a portal, MOVDIR64B
    (MWr) to a dedicated WQ, a portal read answered UR with its exact BAR2 offset in SWERR. The old
    addresses are no longer the device's: UR from the link."""
    env = await WqEnv.start(dut, "both")
    b = env.b
    base = b.rc.prefetchable_mem_base
    assert base >= 1 << 32, f"the root complex's 64-bit window starts at {base:#x}"
    old0, old2 = await move_bars_above_4gib(b, base)
    headers = []                    # (BAR, header DWs) of every request the link hands to the device from now
    forward = b.shim.rx_req.send_nowait

    def spy(fields, bar=0):
        headers.append((bar, 4 if fields.hdr >> 125 & 1 else 3))
        forward(fields, bar)

    b.shim.rx_req.send_nowait = spy
    assert await b.rd32(regs.CSR_DEV_ID) == regs.CSR_DEV_ID_RESET, "BAR0 above 4 GiB does not read DEV_ID"
    await b.wr32(regs.CSR_SCRATCH, 0x4D57_0004)
    assert await b.rd32(regs.CSR_SCRATCH) == 0x4D57_0004
    for old in (old0 + regs.CSR_DEV_ID, old2):
        st = await env.mrd_raw(old, 4)
        assert st == CplStatus.UR, f"read of the old BAR address {old:#x}: {st.name}, expected UR (no BAR there)"

    # MSI-X table by QWORD, then a message from it.
    last = b.params.msix_vectors - 1
    e = b.msix.entry(last)
    addr, data = msix_msg(last)
    await b.wr64(e + regs.MSIX_TABLE_ADDR_LO, addr)
    await b.wr64(e + regs.MSIX_TABLE_DATA, data | 1 << 32)          # Data and Vector Control (still masked)
    assert await b.rd64(e + regs.MSIX_TABLE_ADDR_LO) == addr and await b.rd64(e + regs.MSIX_TABLE_DATA) == data | 1 << 32
    await b.msix.unmask(last)
    await b.msix.trigger(last)
    await b.msgs.wait_for({(addr, data): 1})

    # A bad access (QWORD read across two registers) is recorded with its BAR0 offset.
    cpl = await b.raw_read(regs.CSR_SCRATCH + 4, 2)
    assert cpl.status == CplStatus.CA, f"unaligned QWORD read: {cpl.status.name}, expected CA"
    err = await b.rd32(regs.CSR_ERR)
    assert err & regs.CSR_ERR_VALID_MASK and (err & regs.CSR_ERR_CODE_MASK) >> regs.CSR_ERR_CODE_SHIFT == \
        regs.MMIO_ERR_UNALIGNED, f"ERR {err:#x} after an unaligned QWORD read"
    assert await b.rd32(regs.CSR_ERR_ADDR) == regs.CSR_SCRATCH + 4, "ERR_ADDR is not the BAR0 offset"
    await b.wr32(regs.CSR_ERR, regs.CSR_ERR_VALID_MASK | regs.CSR_ERR_OVERFLOW_MASK)
    await b.wr32(regs.CSR_INT_CAUSE, regs.CSR_INT_CAUSE_MMIO_ERR_MASK)

    # Portals: ENQCMD to a shared WQ (with an IMS completion interrupt), MOVDIR64B to a dedicated one.
    n = b.params.num_wq
    dwq = n - 1 if n > 1 else None
    cfgs = {0: WqConfig(size=min(b.params.wq_depth, 4))}
    if dwq is not None:
        cfgs[dwq] = WqConfig(size=2, dedicated=True, pasid=0x1234, pasid_en=True)
    await env.setup(cfgs)
    m = b.params.ims_per_wq - 1
    await env.ims_program(0, m, *ims_msg(0, m), masked=False)
    items = [await env.sb.submit(0, env.new_desc(OP_MEMFILL, 100, flags=0x1C, handle=ims_handle(m)), pasid=0x77)]
    if dwq is not None:
        items.append(await env.sb.submit(dwq, env.new_desc(OP_NOOP)))
    assert all(t.accepted for t in items), [str(t.cpl_status) for t in items]
    await env.sb.wait_complete(items)
    await env.sb.check(items)
    await env.sb.check_messages(extra={(addr, data): 1})
    wq = dwq if dwq is not None else 0
    st = await env.mrd_raw(env.portal(wq, 0x40), 4)
    assert st == CplStatus.UR, f"portal read: {st.name}"
    await env.expect_swerr(regs.SWERR_PORTAL_READ, "portal read above 4 GiB", addr=wq * PORTAL_STRIDE + 0x40)
    b.shim.rx_req.send_nowait = forward
    assert {bar for bar, _ in headers} == {0, 2}, f"requests seen per BAR: {headers}"
    assert all(dw == 4 for _, dw in headers), f"a request to a BAR above 4 GiB without a 4DW header: {headers}"
    env.b.log.info(env.sb.report())


# BAR2 is 4 KiB per WQ, NUM_WQ rounded up to a power of two (docs/tlp_interface.md).
_BAR2_BYTES = 0x1000 << (DeviceParams.from_env().num_wq - 1).bit_length()


@cocotb.test()
async def test_bar2_at_any_size_aligned_address(dut):
    """A BAR may sit at any address aligned to its size: BAR2 placed where the address bit just above its
    size is set (the first such address after BAR0) still has WQ n's portal at BAR2 + n*0x1000: an ENQCMD
    to every WQ is accepted and completes, and a portal read logs its offset in BAR2 (SWERR PORTAL_READ)."""
    env = await WqEnv.start(dut, "none")
    b = env.b
    size2 = b.dev.bar_size[2]
    assert size2 == _BAR2_BYTES, f"BAR2 is {size2:#x} bytes"
    await move_bars_above_4gib(b, b.rc.prefetchable_mem_base, regs.BAR0_SIZE + size2)
    n = b.params.num_wq
    await env.setup({w: WqConfig(size=2) for w in range(n)})
    items = [await env.sb.submit(w, env.new_desc(OP_NOOP), pasid=0x50 + w) for w in range(n)]
    bad = [f"WQ {t.wq}: {t.cpl_status.name}" for t in items if not t.accepted]
    if bad:     # the SWERR record, read without counting it in functional coverage (a defect, not a bin)
        swerr = SwErr.decode(*[await b.rd32(regs.CSR_SWERR0 + 4 * k) for k in range(4)])
        raise AssertionError(f"BAR2 at {env.bar2:#x} ({size2:#x} bytes): ENQCMD refused: {bad}; {swerr}")
    await env.sb.wait_complete(items)
    await env.sb.check(items)
    st = await env.mrd_raw(env.portal(n - 1, 0x80), 4)
    assert st == CplStatus.UR, f"portal read: {st.name}"
    await env.expect_swerr(regs.SWERR_PORTAL_READ, "portal read", addr=(n - 1) * PORTAL_STRIDE + 0x80)




# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="config", input="MRd of the old BAR0 and BAR2 addresses after both BARs moved above 4 GiB",
             outcome="UR (no BAR there any more)",
             test="test_bars_above_4gib"),
    BadInput(cls="register", input="QWORD MRd at SCRATCH + 4 (across two registers) with BAR0 above 4 GiB (4DW "
                                   "header)",
             outcome="CA; ERR.VALID with CODE MMIO_ERR_UNALIGNED and ERR_ADDR = 0x024, the BAR0 offset",
             test="test_bars_above_4gib"),
    BadInput(cls="portal", input="MRd of 4 B at portal offset 0x40 with BAR2 above 4 GiB (4DW header)",
             outcome="UR; SWERR PORTAL_READ with the exact BAR2 offset (WQ * 0x1000 + 0x40)",
             test="test_bars_above_4gib"),
    BadInput(cls="portal", input="MRd of 4 B at offset 0x80 of the last WQ's portal, BAR2 at an address aligned "
                                 "only to its own size",
             outcome="UR; SWERR PORTAL_READ with the offset inside BAR2 ((NUM_WQ - 1) * 0x1000 + 0x80)",
             test="test_bar2_at_any_size_aligned_address"),
)


@cocotb.test()
async def test_bench_cycles_is_clock_cycles(dut):
    """Every test waits with Bench.cycles(n), which skips the edges in between with one Timer: it must end on
    the n-th rising edge after the call, as cocotb's ClockCycles(clk, n) does, whether it is called at a rising
    edge (after it), at a falling edge or between edges, for short and long waits. Expected edges are counted
    from the clock's own period, not from Bench.cycles' arithmetic."""
    bench = await Bench.start(dut)
    clk = dut.clk
    await RisingEdge(clk)
    edge0 = get_sim_time("step")
    await RisingEdge(clk)
    period = get_sim_time("step") - edge0
    assert period > 0
    for where in ("rising edge", "falling edge", "a quarter cycle after the edge"):
        for n in (1, 2, 3, 4, 5, 17, 400):
            await RisingEdge(clk)
            if where == "falling edge":
                await FallingEdge(clk)
            elif where != "rising edge":
                await Timer(period // 4, "step")
            t0 = get_sim_time("step")
            first = edge0 + ((t0 - edge0) // period + 1) * period      # the first rising edge after t0
            await bench.cycles(n)
            t1 = get_sim_time("step")
            assert (t1, int(clk.value)) == (first + (n - 1) * period, 1), \
                f"cycles({n}) called at a {where}: ended at step {t1}, the {n}th edge after {t0} is at " \
                f"{first + (n - 1) * period}"


@cocotb.test()
async def test_mmio_read_of_one_tlp_in_the_callers_task(dut):
    """A BAR read that fits one TLP runs in the caller's task (tb/pcie/mmio_region.py InlineReadRegion); the
    package's own MemoryTlpRegion.read, one task per TLP, must give the same outcome (the bytes, or the same
    error for a completion that is not SC) for reads of 1-8 bytes at every byte offset of a CSR pair (SCRATCH and the one before), of the
    MSI-X table and of a read across a 4 KiB boundary (two TLPs: the package's method itself)."""
    bench = await Bench.start(dut)
    region = bench.rc.mem_region
    assert isinstance(region, mmio_region.InlineReadRegion)
    await bench.wr32(regs.CSR_SCRATCH, 0xA1B2_C3D4)

    async def outcome(read, addr, length):
        try:
            return bytes(await read(addr, length))
        except Exception as exc:           # the package raises a bare Exception for a completion that is not SC
            return f"{type(exc).__name__}: {exc}"

    async def package(addr, length):
        return await MemoryTlpRegion.read(region, addr, length)

    checked = []
    for base in (regs.CSR_SCRATCH - 4, regs.MSIX_TABLE_BASE, 0x1000 - 4):
        for first in range(8):
            for length in range(1, 9):
                addr = bench.bar0_addr + base + first
                inline_before = region.inline_reads
                fast = await outcome(region.read, addr, length)
                one_tlp = mmio_region.fits_one_tlp(region, addr, length)
                assert region.inline_reads == inline_before + one_tlp, (hex(base + first), length)
                assert fast == await outcome(package, addr, length), \
                    f"{length} bytes at BAR0 + {base + first:#x}: {fast!r} in the caller's task"
                checked.append(fast)
    assert bytes([0xD4, 0xC3, 0xB2, 0xA1]) in checked, "SCRATCH was read back whole"
    assert any(isinstance(c, str) for c in checked) and any(isinstance(c, bytes) for c in checked)
