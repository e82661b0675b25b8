"""Enumeration and configuration space as a driver sees them through the root complex."""
import cocotb
from cocotbext.pcie.core.caps import PciCapId, PciExtCapId

from imsdev import regs
from tb.env import DEVICE_ID, VENDOR_ID, Bench

PASID_EXT_CAP_ID = 0x1B


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
