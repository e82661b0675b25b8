"""cocotb tests of tb/pcie (root complex, hook, shim, streams) against link_loopback.sv.

Every test that moves TLPs through the RTL is crossed with idle/backpressure insertion (PAUSE_MODES) on
all four streams. Run through test_link_shim.py (pytest), which builds the loopback and prints the seed.
"""
from __future__ import annotations

import logging
import random

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, Timer, with_timeout
from cocotb.utils import get_sim_time
from cocotbext.axi.address_space import MemoryRegion
from cocotbext.pcie.core import Device, Endpoint, Switch
from cocotbext.pcie.core.caps import PciCapId, PciExtCapId
from cocotbext.pcie.core.tlp import CplStatus, TlpType

import tb.pcie.hooks as hooks
from tb.bad_inputs import BadInput
from tb.clock import start_clock
from tb.pcie.deadlines import Deadlines
from tb.pcie.root_complex import HostRootComplex
from tb.pcie.shim import BAR0_SIZE, LinkShim
from tb.pcie.stream import pattern_pauses, random_pauses
from tb.pcie.tlp import RRS, CompletionTimeout, PasidTlp, ProtocolError

VENDOR_ID, DEVICE_ID = 0x8086, 0x0B25
NUM_WQS = 4
MSIX_VECTORS, MSIX_TABLE, MSIX_PBA = 9, 0x2000, 0x3000
CLK_NS = 4

PAUSE_MODES = ("none", "idle", "backpressure", "both", "pattern")

# cocotbext-pcie logs every config access at INFO: too slow and too loud for long runs.
logging.getLogger("cocotb.pcie").setLevel(logging.WARNING)

# link_loopback.sv map
RAM_SIZE, RAM_UP_RD, RAM_DMWR = 0x400, 0x200, 0x300
REG = 0x1000
REG_UP_ADDR_LO, REG_UP_ADDR_HI, REG_UP_PASID, REG_UP_CTRL, REG_UP_GO = (REG + 4 * i for i in range(5))
REG_COUNTS, REG_DMWR_INFO, REG_CFG, REG_FLR_COUNT, REG_ERR, REG_UR_COUNT = (REG + 4 * i for i in range(5, 11))

PCIE_DEVCTL, PCIE_DEVSTA = 0x08, 0x0A
DEVSTA_TP = 1 << 5        # Device Status.Transactions Pending
CMD_MEM, CMD_BME = 1 << 1, 1 << 2


class LinkEnv:
    """Clock, reset, RootComplex + LinkShim on link_loopback, enumerated and enabled."""

    @classmethod
    async def start(cls, dut, pauses="none", shim_kwargs=None):
        self = cls()
        self.dut = dut
        self.rng = random.Random(f"{cocotb.RANDOM_SEED}:{pauses}")
        start_clock(dut.clk, CLK_NS)
        dut.rst.value = 1
        for sig in (dut.dmwr_full, dut.rtl_bp_en, dut.cpl_hold, dut.break_valid_hold):
            sig.value = 0
        # The simulator is shared by all tests, so the RTL may still show what a previous test left in flight
        # (test_missing_completion_is_reported leaves a completion pending): the shim is built while reset is
        # held, and its streams must ignore the RTL until reset is released.
        self.rc = HostRootComplex()
        self.shim = LinkShim(dut, dut.clk, vendor_id=VENDOR_ID, device_id=DEVICE_ID, num_wqs=NUM_WQS,
                             msix_table_size=MSIX_VECTORS, msix_table_offset=MSIX_TABLE,
                             msix_pba_offset=MSIX_PBA,
                             # The loopback replays host-scripted traffic; it is not the device and makes no
                             # ordering promise between its two egress streams.
                             check_egress_order=False, **(shim_kwargs or {}))
        self.shim.connect(self.rc)
        await ClockCycles(dut.clk, 4)
        dut.rst.value = 0
        await ClockCycles(dut.clk, 2)
        self.set_pauses(pauses)
        await self.rc.enumerate()
        self.dev = self.rc.find_device(self.shim.pcie_id)
        await self.dev.enable_device()
        await self.dev.set_master()
        self.bar0 = self.dev.bar_window[0]
        self.bar2_addr = self.dev.bar_addr[2]
        return self

    def set_pauses(self, mode):
        s = self.shim
        sources, sinks = (s.rx_req, s.rx_cpl), (s.tx_cpl, s.tx_req)
        if mode in ("idle", "both"):
            for src in sources:
                src.set_pause_generator(random_pauses(self.rng, 0.3))
        if mode in ("backpressure", "both"):
            for snk in sinks:
                snk.set_pause_generator(random_pauses(self.rng, 0.3))
            self.dut.rtl_bp_en.value = 1
        if mode == "pattern":
            for src in sources:
                src.set_pause_generator(pattern_pauses([0, 1, 1, 0]))
            for snk in sinks:
                snk.set_pause_generator(pattern_pauses([1, 0, 0, 1, 1]))
            self.dut.rtl_bp_en.value = 1

    async def reg(self, off):
        return await self.bar0.read_dword(off)

    async def wait_up_idle(self, timeout_us=50):
        async def poll():
            while (await self.reg(REG_UP_GO)) & 1:
                await Timer(100, "ns")
        await with_timeout(poll(), timeout_us, "us")

    async def upstream(self, addr, length_dw, *, read=False, pasid=None, pmr=False, er=False, tag=0):
        """Make the loopback send one MWr (payload = RAM DW 0..) or MRd (data -> RAM 0x200) upstream."""
        await self.bar0.write_dword(REG_UP_ADDR_LO, addr & 0xFFFF_FFFF)
        await self.bar0.write_dword(REG_UP_ADDR_HI, addr >> 32)
        p = 0 if pasid is None else (1 << 31) | (pmr << 30) | (er << 29) | pasid
        await self.bar0.write_dword(REG_UP_PASID, p)
        await self.bar0.write_dword(REG_UP_CTRL, length_dw | (int(read) << 8) | (tag << 16))
        await self.bar0.write_dword(REG_UP_GO, 1)
        await self.wait_up_idle()

    async def enable_pasid(self, exec_=True, priv=True):
        await self.dev.capability_write_word(PciExtCapId.PASID, 6, 1 | (exec_ << 1) | (priv << 2))

    async def restore_after_flr(self):
        """What pci_restore_state does for this test: BARs, then memory decode and bus mastering."""
        for bar in (0, 2):
            raw = self.dev.bar[bar]
            await self.dev.config_write_dword(0x10 + 4 * bar, raw & 0xFFFF_FFFF)
            await self.dev.config_write_dword(0x14 + 4 * bar, raw >> 32)
        await self.dev.config_write_word(0x04, CMD_MEM | CMD_BME)


def cfg_word(dut):
    return {name: int(getattr(dut, name).value) for name in (
        "cfg_bdf", "cfg_bus_master_en", "cfg_msix_en", "cfg_msix_fn_mask", "cfg_pasid_en", "cfg_pasid_exec_en",
        "cfg_pasid_priv_en", "cfg_max_payload", "cfg_max_read_req")}


def rtl_cfg(word):
    """REG_CFG of the loopback: what the RTL sees on cfg_*."""
    return {"cfg_bus_master_en": word & 1, "cfg_msix_en": word >> 1 & 1, "cfg_msix_fn_mask": word >> 2 & 1,
            "cfg_pasid_en": word >> 3 & 1, "cfg_pasid_exec_en": word >> 4 & 1, "cfg_pasid_priv_en": word >> 5 & 1,
            "cfg_max_payload": word >> 6 & 7, "cfg_max_read_req": word >> 9 & 7, "cfg_bdf": word >> 16}


# ------------------------------------------------------------------------------------------------------
@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_enumeration(dut, pauses):
    """IDs, BAR types and sizes, capability chains found by a driver-style walk, config -> cfg_* signals."""
    env = await LinkEnv.start(dut, pauses)
    dev = env.dev
    assert (dev.vendor_id, dev.device_id) == (VENDOR_ID, DEVICE_ID)
    assert dev.class_code == 0x088000 and dev.header_type == 0
    assert dev.bar_size[0] == BAR0_SIZE and dev.bar_size[2] == NUM_WQS * 4096   # BAR0: the register map's size
    for bar in (0, 2):
        assert dev.bar[bar] & 0xF == 0x4, f"BAR{bar} must be 64-bit non-prefetchable memory"
    assert dev.bar_size[4] == 0 and dev.bar_size[5] == 0

    caps = dict(dev.capabilities)
    assert {PciCapId.PM, PciCapId.EXP, PciCapId.MSIX} <= set(caps), dev.capabilities
    assert dict(dev.ext_capabilities) == {PciExtCapId.PASID: 0x100}, dev.ext_capabilities
    ctrl, table, pba = await dev.capability_read_dwords(PciCapId.MSIX, 0, 3)
    assert (ctrl >> 16) & 0x7FF == MSIX_VECTORS - 1 and not ctrl >> 30
    assert (table, pba) == (MSIX_TABLE | 0, MSIX_PBA | 0)
    assert await dev.capability_read_dword(PciExtCapId.PASID, 4) == (20 << 8) | 0x6
    devcap = await dev.capability_read_dword(PciCapId.EXP, 4)
    assert devcap & (1 << 28), "DevCap must advertise FLR"
    assert (await dev.capability_read_word(PciCapId.EXP, 2) >> 4) & 0xF == 0, "PCIe endpoint"

    cfg = cfg_word(dut)
    assert cfg["cfg_bdf"] == int(env.shim.pcie_id) == 0x0100 and cfg["cfg_bus_master_en"] == 1
    assert rtl_cfg(await env.reg(REG_CFG)) == cfg
    assert not env.rc.upstream_log, "the device must not have sent anything yet"


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_mmio(dut, pauses):
    """Random MMIO to the BAR0 RAM (1..32 DW, byte enables, QWORD), register access, UR and CA paths."""
    env = await LinkEnv.start(dut, pauses)
    model = bytearray(RAM_SIZE)
    await env.bar0.write(0, bytes(model))
    for _ in range(30):
        off = env.rng.randrange(RAM_SIZE)
        data = bytes(env.rng.getrandbits(8) for _ in range(env.rng.randint(1, min(128, RAM_SIZE - off))))
        await env.bar0.write(off, data)
        model[off:off + len(data)] = data
        off = env.rng.randrange(RAM_SIZE)
        length = env.rng.randint(1, min(128 - (off & 3), RAM_SIZE - off))   # the loopback reads <= 32 DW
        assert await env.bar0.read(off, length) == bytes(model[off:off + length]), (off, length)
    await env.bar0.write_qword(0x18, 0x0123_4567_89AB_CDEF)
    assert await env.bar0.read_qword(0x18) == 0x0123_4567_89AB_CDEF
    assert await env.bar0.read_dword(0x1C) == 0x0123_4567
    await env.bar0.write_dword(REG_UP_ADDR_HI, 0xCAFE_F00D)
    assert await env.reg(REG_UP_ADDR_HI) == 0xCAFE_F00D

    ur_before = env.shim.stats["ur_sent"]
    for what, coro in (("MRd > 32 DW (CA)", env.bar0.read(0, 256)),
                       ("MRd to BAR2 (UR)", env.rc.mem_read(env.bar2_addr, 4))):
        try:
            await coro
        except Exception as exc:
            assert "Unsuccessful completion" in str(exc), exc
        else:
            raise AssertionError(f"{what} succeeded")
    assert await env.reg(REG_UR_COUNT) == 1

    await env.dev.config_write_word(0x04, CMD_BME)      # memory decode off: the link answers UR itself
    try:
        await env.bar0.read_dword(0)
    except Exception as exc:
        assert "Unsuccessful completion" in str(exc), exc
    else:
        raise AssertionError("MRd with Memory Space Enable clear succeeded")
    assert env.shim.stats["ur_sent"] == ur_before + 1
    await env.dev.config_write_word(0x04, CMD_MEM | CMD_BME)
    assert await env.bar0.read(0, 8) == bytes(model[:8])


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_dmwr(dut, pauses):
    """ENQCMD-style DMWr: SC stores the descriptor, RRS while full, UR for malformed ones; nothing hangs."""
    env = await LinkEnv.start(dut, pauses)
    rc, rng = env.rc, env.rng
    accepted = 0
    for i in range(6):
        portal = env.bar2_addr + 0x1000 * rng.randrange(NUM_WQS)
        desc = bytes(rng.getrandbits(8) for _ in range(64))
        pasid, priv = rng.getrandbits(20), bool(i & 1)
        assert await rc.dmwr(portal, desc, pasid=pasid, priv=priv) == CplStatus.SC
        accepted += 1
        assert await env.bar0.read(RAM_DMWR, 64) == desc
        assert await env.reg(REG_DMWR_INFO) == (priv << 21) | (1 << 20) | pasid
    assert await env.reg(REG_COUNTS) & 0xFFFF == accepted

    dut.dmwr_full.value = 1
    assert await rc.dmwr(env.bar2_addr, bytes(64), pasid=7) == RRS
    dut.dmwr_full.value = 0

    malformed = {
        "no PASID prefix": PasidTlp.create_dmwr(env.bar2_addr, bytes(64)),
        "32 bytes": PasidTlp.create_dmwr(env.bar2_addr, bytes(32), pasid=1),
        "not 64-byte aligned": PasidTlp.create_dmwr(env.bar2_addr + 0x40 - 4, bytes(4) * 16, pasid=1),
        "to BAR0": PasidTlp.create_dmwr(env.dev.bar_addr[0], bytes(64), pasid=1),
    }
    partial = PasidTlp.create_dmwr(env.bar2_addr, bytes(64), pasid=1)
    partial.first_be = 0x3
    malformed["partial byte enables"] = partial
    for what, tlp in malformed.items():
        cpl = await rc.send_nonposted(tlp)
        assert cpl.status == CplStatus.UR and not cpl.has_data(), f"{what}: {cpl!r}"
    assert await env.reg(REG_UR_COUNT) == len(malformed)

    # Inside the root port's window but outside every BAR: the shim's device answers UR (no silent drop).
    assert await rc.dmwr(env.bar2_addr + 0x10000, bytes(64), pasid=1) == CplStatus.UR
    # Routed nowhere: cocotbext-pcie drops it, and dmwr() reports the timeout instead of hanging.
    t0 = get_sim_time("ns")
    try:
        await rc.dmwr(0xD000_0000, bytes(64), pasid=1, timeout_ns=2000)
    except CompletionTimeout as exc:
        assert "no completion" in str(exc)
        assert get_sim_time("ns") == t0 + 2000, f"timed out at {get_sim_time('ns') - t0} ns, not 2000"
    else:
        raise AssertionError("DMWr to an unrouted address returned")

    # Several submissions in flight at once, each answered once and in the right place.
    tasks = [cocotb.start_soon(rc.dmwr(env.bar2_addr + 0x1000 * (k % NUM_WQS), bytes([k]) * 64, pasid=k))
             for k in range(8)]
    assert [await t for t in tasks] == [CplStatus.SC] * 8
    assert await env.reg(REG_COUNTS) & 0xFFFF == accepted + 8
    assert env.shim.outstanding == 0

    # Posted 64-byte writes with and without PASID (MOVDIR64B style) pass too.
    await rc.mem_write_pasid(env.dev.bar_addr[0] + 0x40, bytes(range(64)), pasid=0x42, priv=True)
    await rc.mem_write_pasid(env.bar2_addr, bytes(64), pasid=None)
    assert await env.bar0.read(0x40, 64) == bytes(range(64))


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_upstream_dma(dut, pauses):
    """Device MWr/MRd with PASID prefix reach host memory, tagged with requester ID and PASID; BME gates."""
    env = await LinkEnv.start(dut, pauses)
    rc, rng, shim = env.rc, env.rng, env.shim
    await env.enable_pasid()
    assert (int(dut.cfg_pasid_en.value), int(dut.cfg_pasid_exec_en.value), int(dut.cfg_pasid_priv_en.value)) == \
        (1, 1, 1)
    low, _ = rc.alloc_region(0x4000)
    high = 0x1_0000_0000
    rc.mem_address_space.register_region(MemoryRegion(0x1000), high)
    fixed = 0x1000_0000            # where a platform model would place its own tables
    rc.map_host_memory(fixed, 0x1000)
    for i in range(8):
        base = (low, fixed, low, high)[i % 4]
        length = rng.randint(1, 16)
        addr = base + 4 * rng.randrange((0x1000 - 4 * length) // 4)
        pasid = None if i == 2 else rng.getrandbits(20)
        pmr = pasid is not None and bool(rng.getrandbits(1))
        payload = bytes(rng.getrandbits(8) for _ in range(4 * length))
        await env.bar0.write(0, payload)
        await env.upstream(addr, length, pasid=pasid, pmr=pmr)
        assert rc.host_memory.read(addr, 4 * length) == payload
        rec = rc.upstream_log[-1]
        assert (rec.kind, rec.address, rec.length_dw) == ("MWr", addr, length)
        assert rec.requester_id == shim.requester_id == 0x0100
        assert (rec.pasid, rec.pmr, rec.er) == (pasid, pmr, False)
        assert rec.header_dw == (4 if addr >> 32 else 3)

        host = bytes(rng.getrandbits(8) for _ in range(4 * length))
        rc.host_memory.write(addr, host)
        er = pasid is not None and bool(rng.getrandbits(1))
        await env.upstream(addr, length, read=True, pasid=pasid, pmr=pmr, er=er, tag=rng.randrange(32))
        assert await env.bar0.read(RAM_UP_RD, 4 * length) == host
        rec = rc.upstream_log[-1]
        assert (rec.kind, rec.pasid, rec.pmr, rec.er) == ("MRd", pasid, pmr, er)
        assert (await env.reg(REG_ERR)) & 7 == 0

    await env.dev.clear_master()
    n = len(rc.upstream_log)
    await env.bar0.write_dword(REG_UP_GO, 1)
    assert (await env.reg(REG_ERR)) >> 8 & 1, "GO with BME clear must be refused by the RTL"
    await ClockCycles(dut.clk, 50)
    assert len(rc.upstream_log) == n


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_interceptors(dut, pauses):
    """Interrupt-window writes are claimed (x86 0xFEE0_0000, SMMU MSI window) before host memory."""
    env = await LinkEnv.start(dut, pauses)
    rc = env.rc
    seen = []

    def vtd(addr, data, rid, tlp):
        seen.append(("x86", addr, data, rid, tlp.get_header_size_dw()))
        return True

    async def smmu(addr, data, rid, tlp):      # async interceptors are awaited
        seen.append(("arm", addr, data, rid, tlp.pasid))
        return True

    rc.add_write_interceptor(vtd, window=(0xFEE0_0000, 0x10_0000))
    rc.add_write_interceptor(smmu, window=(0x0800_0000, 0x10_0000))
    for _ in range(40):      # the SMMU window is reserved: host allocations never land in it
        addr, _ = rc.alloc_region(0x10_0000)
        assert not (addr < 0x0810_0000 and 0x0800_0000 < addr + 0x10_0000), hex(addr)
    try:
        rc.add_write_interceptor(vtd, window=(env.dev.bar_addr[0], 0x1000))
    except ValueError as exc:
        assert "BAR space" in str(exc)
    else:
        raise AssertionError("a window over the BARs was accepted")

    await env.bar0.write_dword(0, 0x0000_4041)
    await env.upstream(0xFEE0_1004, 1)
    await env.enable_pasid()
    await env.upstream(0x0800_0040, 1, pasid=0x33)
    assert seen == [("x86", 0xFEE0_1004, bytes.fromhex("41400000"), 0x0100, 3),
                    ("arm", 0x0800_0040, bytes.fromhex("41400000"), 0x0100, 0x33)]
    assert rc.intercepted_writes == 2

    rc.remove_write_interceptor(vtd)
    stray = PasidTlp.create_mem_write(0xFEE0_2000, bytes(4), requester_id=env.shim.pcie_id)
    try:
        await rc.handle_tlp(stray)
    except ProtocolError as exc:
        assert "claimed by nothing" in str(exc)
    else:
        raise AssertionError("an unclaimed interrupt-address write was dropped silently")


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_flr(dut, pauses):
    """Initiate FLR: one-cycle flr pulse, config state back to reset (MPS kept), device usable after restore."""
    env = await LinkEnv.start(dut, pauses)
    dev = env.dev
    await dev.capability_write_word(PciCapId.MSIX, 2, 0xC000)
    await env.enable_pasid()
    await dev.set_readrq(4)
    mps = int(dut.cfg_max_payload.value)
    await env.bar0.write_dword(REG_UP_ADDR_LO, 0x1234_5678)
    assert cfg_word(dut)["cfg_max_read_req"] == 4 and cfg_word(dut)["cfg_msix_en"] == 1

    high_cycles = 0

    async def count_flr():
        nonlocal high_cycles
        while True:
            await RisingEdge(dut.clk)
            high_cycles += int(dut.flr.value)
    mon = cocotb.start_soon(count_flr())
    devctl = await dev.capability_read_word(PciCapId.EXP, PCIE_DEVCTL)
    await dev.capability_write_word(PciCapId.EXP, PCIE_DEVCTL, devctl | 0x8000)
    await ClockCycles(dut.clk, 20)
    mon.cancel()
    assert high_cycles == 1 and env.shim.flr_count == 1
    assert not (await dev.capability_read_word(PciCapId.EXP, PCIE_DEVCTL)) & 0x8000, "Initiate FLR reads 0"

    assert await dev.config_read_word(0x04) == 0
    assert await dev.config_read_dword(0x10) == 0x4 and await dev.config_read_dword(0x14) == 0
    assert await dev.capability_read_word(PciCapId.MSIX, 2) == MSIX_VECTORS - 1
    assert await dev.capability_read_word(PciExtCapId.PASID, 6) == 0
    assert cfg_word(dut) == {"cfg_bdf": 0x0100, "cfg_bus_master_en": 0, "cfg_msix_en": 0, "cfg_msix_fn_mask": 0,
                             "cfg_pasid_en": 0, "cfg_pasid_exec_en": 0, "cfg_pasid_priv_en": 0,
                             "cfg_max_payload": mps, "cfg_max_read_req": 2}

    await env.restore_after_flr()
    assert await env.reg(REG_FLR_COUNT) == 1
    assert await env.reg(REG_UP_ADDR_LO) == 0, "the RTL must have reset on the flr pulse"


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_flr_discards_stale_completions(dut, pauses):
    """A device read outstanding at an FLR: Transactions Pending is set while it waits and clear after the FLR;
    its completion arriving after the FLR is discarded by the link (PCIe Base §6.6.2), never handed to the
    reset RTL; the same tag works again after restore."""
    env = await LinkEnv.start(dut, pauses)
    rc, dev, shim = env.rc, env.dev, env.shim
    addr, _ = rc.alloc_region(0x1000)
    host = bytes(env.rng.getrandbits(8) for _ in range(16))
    rc.host_memory.write(addr, host)
    tag = env.rng.randrange(32)

    # A slow completer: the host holds the completions of the read until the FLR has happened.
    held, hold = [], True
    send = rc.send

    async def slow_send(tlp):
        if hold and tlp.is_completion() and tlp.tag == tag:
            held.append(tlp)
            return
        await send(tlp)
    rc.send = slow_send

    await env.bar0.write_dword(REG_UP_ADDR_LO, addr & 0xFFFF_FFFF)
    await env.bar0.write_dword(REG_UP_ADDR_HI, addr >> 32)
    await env.bar0.write_dword(REG_UP_CTRL, 4 | 1 << 8 | tag << 16)
    await env.bar0.write_dword(REG_UP_GO, 1)
    async def until(cond):
        while not cond():
            await RisingEdge(dut.clk)

    await with_timeout(until(lambda: held), 20, "us")       # the read reached the host
    devsta = await dev.capability_read_word(PciCapId.EXP, PCIE_DEVSTA)
    assert devsta & DEVSTA_TP, f"Device Status {devsta:#06x}: Transactions Pending must be set while a read waits"

    devctl = await dev.capability_read_word(PciCapId.EXP, PCIE_DEVCTL)
    await dev.capability_write_word(PciCapId.EXP, PCIE_DEVCTL, devctl | 0x8000)
    devsta = await dev.capability_read_word(PciCapId.EXP, PCIE_DEVSTA)
    assert not devsta & DEVSTA_TP, f"Device Status {devsta:#06x}: Transactions Pending must be clear after FLR"

    hold = False
    for tlp in held:
        await send(tlp)
    await with_timeout(until(lambda: shim.stats["stale_cpl"] == len(held)), 20, "us")
    await env.restore_after_flr()
    assert await env.reg(REG_COUNTS) >> 16 == 0, "the RTL received a completion made for a read before the FLR"

    host2 = bytes(env.rng.getrandbits(8) for _ in range(16))
    rc.host_memory.write(addr, host2)
    await env.upstream(addr, 4, read=True, tag=tag)
    assert await env.bar0.read(RAM_UP_RD, 16) == host2
    assert await env.reg(REG_COUNTS) >> 16 == 1


@cocotb.test()
@cocotb.parametrize(read=(False, True))
async def test_flr_window_request_judged_before_it(dut, read):
    """A request the RTL starts after Initiate FLR was written but before the edge that samples the flr pulse
    was decided before the FLR (the RTL cannot know of it earlier): the link judges it by the controls in force
    before the FLR's write reset them (PASID Enable and Privileged Mode Enable here), and a read's completion
    is discarded like those of the reads outstanding at the FLR. A request started at that edge or later is
    judged by the reset controls. No pauses: the GO write's beat must be taken at the edge after the FLR write
    for the request to start inside the window."""
    env = await LinkEnv.start(dut)
    rc, shim = env.rc, env.shim
    await env.enable_pasid()
    addr, _ = rc.alloc_region(0x1000)
    payload = env.rng.getrandbits(32)
    await env.bar0.write_dword(0, payload)
    await env.bar0.write_dword(REG_UP_ADDR_LO, addr & 0xFFFF_FFFF)
    await env.bar0.write_dword(REG_UP_ADDR_HI, addr >> 32)
    await env.bar0.write_dword(REG_UP_PASID, (1 << 31) | (1 << 30) | 0x4_2A5C)   # PASID with PMR
    await env.bar0.write_dword(REG_UP_CTRL, 1 | (int(read) << 8))
    await env.reg(REG_UP_CTRL)       # the posted writes have reached the RTL: GO is the only request left
    sent = len(shim.tx_req_log)
    go = cocotb.start_soon(env.bar0.write_dword(REG_UP_GO, 1))

    async def go_beat_shown():
        while True:
            await FallingEdge(dut.clk)
            if int(dut.rx_req_valid.value) and int(dut.rx_req_ready.value):
                return
    await with_timeout(go_beat_shown(), 10, "us")
    # The FLR is written now: the GO beat is taken at the next rising edge (E1), where the loopback still
    # has the BME from before the write; the request it starts is first shown at E2, the edge that samples
    # the flr pulse (driven from E1 on).
    flr_written = get_sim_time("ns")
    await shim.function_level_reset()
    e2 = get_sim_time("ns")
    assert e2 - flr_written < 2 * CLK_NS
    await go

    async def sent_one():
        while len(shim.tx_req_log) == sent:
            await RisingEdge(dut.clk)
    await with_timeout(sent_one(), 10, "us")
    start_ns, _, tlp = shim.tx_req_log[sent]
    assert start_ns == e2, f"the request was first shown at {start_ns} ns, not at the FLR's edge ({e2} ns)"
    assert tlp.pasid == 0x4_2A5C and tlp.pmr and tlp.is_mem_read() == read
    assert not shim.tasks["tx_req"].done(), "the link flagged a request the RTL started before it saw the FLR"
    if read:
        async def discarded():
            while shim.stats["stale_cpl"] == 0:
                await RisingEdge(dut.clk)
        await with_timeout(discarded(), 10, "us")
    else:
        async def written():
            while rc.host_memory.read(addr, 4) != payload.to_bytes(4, "little"):
                await RisingEdge(dut.clk)
        await with_timeout(written(), 10, "us")
    # The same request first shown an edge later was decided after the device saw the FLR: it is judged by
    # the reset PASID control.
    try:
        shim._check_upstream(tlp, e2 + CLK_NS)
    except ProtocolError as exc:
        assert "not enabled by PASID control" in str(exc), exc
    else:
        raise AssertionError("a request started after the device saw the FLR was judged by the old controls")

    await env.restore_after_flr()
    assert await env.reg(REG_COUNTS) >> 16 == 0, "the RTL received the completion of a read made before the FLR"


@cocotb.test()
@cocotb.parametrize(pauses=PAUSE_MODES)
async def test_cfg_sideband(dut, pauses):
    """MSI-X Enable/Function Mask, PASID control bits, MPS/MRRS and BME reach cfg_* and the RTL."""
    env = await LinkEnv.start(dut, pauses)
    dev = env.dev

    async def check(**expect):
        cfg = cfg_word(dut)
        for k, v in expect.items():
            assert cfg[k] == v, (k, cfg)
        assert rtl_cfg(await env.reg(REG_CFG)) == cfg

    for ctrl, en, mask in ((0x8000, 1, 0), (0xC000, 1, 1), (0x4000, 0, 1), (0x0000, 0, 0)):
        await dev.capability_write_word(PciCapId.MSIX, 2, ctrl)
        await check(cfg_msix_en=en, cfg_msix_fn_mask=mask)
    for bits in range(8):
        await dev.capability_write_word(PciExtCapId.PASID, 6, bits)
        await check(cfg_pasid_en=bits & 1, cfg_pasid_exec_en=bits >> 1 & 1, cfg_pasid_priv_en=bits >> 2 & 1)
    for rq in (0, 3, 5, 2):
        await dev.set_readrq(rq)
        await check(cfg_max_read_req=rq)
    devctl = await dev.capability_read_word(PciCapId.EXP, PCIE_DEVCTL)
    for mps in (1, 0):
        await dev.capability_write_word(PciCapId.EXP, PCIE_DEVCTL, (devctl & ~0xE0) | mps << 5)
        await check(cfg_max_payload=mps)
    await dev.clear_master()
    assert int(dut.cfg_bus_master_en.value) == 0
    await dev.set_master()
    await check(cfg_bus_master_en=1, cfg_bdf=0x0100)


@cocotb.test()
async def test_deadlines(dut):
    """tb.pcie.deadlines (the root complex's completion timeouts): each armed deadline fires once at exactly
    its time, in deadline order (equal ones in arming order), a cancelled one never, one armed earlier than
    the deadline being slept on still fires on time, and arming in the past is refused."""
    rng = random.Random(f"{cocotb.RANDOM_SEED}:deadlines")
    dl = Deadlines()
    fired = []
    due = {}                    # key -> step it must fire at
    handles = {}
    for k in range(60):
        if rng.random() < 0.3:
            await Timer(rng.randrange(1, 50), "step")
        delay = rng.choice((rng.randrange(1, 5000), 2500, 1))      # equal deadlines, and earlier ones
        due[k] = get_sim_time("step") + delay
        handles[k] = dl.arm(delay, lambda k=k: fired.append((k, get_sim_time("step"))))
    cancelled = set(rng.sample(sorted(due), len(due) // 3))
    # Cancel in a step where no deadline is due: one due in this very step fires when the Deadlines task runs in
    # it, which may be before or after this task (both are woken by a Timer ending now), so whether a cancel
    # here comes first is the scheduler's order, not the class's contract (seed 388712727 cancelled one due at
    # 459 ns at 459 ns, before it fired).
    while get_sim_time("step") in due.values():
        await Timer(1, "step")
    cancel_at = get_sim_time("step")
    for k in cancelled:
        handles[k].cancel()
    remaining = max(due.values()) + 1 - get_sim_time("step")
    if remaining > 0:
        await Timer(remaining, "step")      # the last deadline has passed
    assert dl.armed == 0, f"{dl.armed} deadlines still armed after the last one's time"
    got = dict(fired)
    assert len(got) == len(fired), f"a deadline fired twice: {fired}"
    for k, t in due.items():
        if k in cancelled and t > cancel_at:
            assert k not in got, f"deadline {k} fired at {got[k]} though cancelled at {cancel_at}"
        else:          # cancelled after its time had come, it has fired already
            assert got.get(k) == t, f"deadline {k}: fired at {got.get(k)}, due at {t}"
    assert [k for k, _ in fired] == sorted(got, key=lambda k: (got[k], k)), f"out of order: {fired}"
    assert dl.fired == len(fired)
    try:
        dl.arm(-1, lambda: None)
    except ValueError:
        pass
    else:
        raise AssertionError("a deadline in the past was accepted")


async def expect_failure(task, exc_type, message, timeout_us=50):
    """Await a checker task of the shim (which keeps its failure from ending the test) and check it fails."""
    try:
        await with_timeout(task, timeout_us, "us")
    except exc_type as exc:
        assert message in str(exc), exc
        return
    raise AssertionError(f"{task} did not raise {exc_type.__name__}")


@cocotb.test()
async def test_missing_completion_is_reported(dut):
    """A host read the RTL never completes is reported as CompletionTimeout instead of hanging."""
    env = await LinkEnv.start(dut, shim_kwargs={"completion_timeout_ns": 5_000})
    dut.cpl_hold.value = 1
    read = cocotb.start_soon(env.bar0.read_dword(0))
    await expect_failure(env.shim.tasks["watchdog"], CompletionTimeout, "did not complete")
    assert not read.done()
    read.cancel()


@cocotb.test()
async def test_unenabled_pasid_is_flagged(dut):
    """An upstream request with a PASID prefix while PASID Enable is clear is a ProtocolError."""
    env = await LinkEnv.start(dut)
    low, _ = env.rc.alloc_region(0x1000)
    stim = cocotb.start_soon(env.upstream(low, 1, pasid=5))
    await expect_failure(env.shim.tasks["tx_req"], ProtocolError, "not enabled by PASID control")
    await stim   # the RTL has sent its request: the poll ends by itself


@cocotb.test()
async def test_valid_drop_is_flagged(dut):
    """The sink catches an RTL source that drops valid before ready (tx_cpl with break_valid_hold)."""
    env = await LinkEnv.start(dut)
    env.shim.tx_cpl.set_pause_generator(pattern_pauses([1, 1, 0]))
    dut.break_valid_hold.value = 1

    async def reads():
        while True:
            await env.bar0.read_dword(0)
    stim = cocotb.start_soon(reads())
    await expect_failure(env.shim.tx_cpl.task, ProtocolError, "valid dropped before ready")
    stim.cancel()


# ------------------------------------------------------------------------------------------------------
class DmwrTarget(Endpoint):
    """A pure-Python function with one 64-bit BAR that records DMWr/MWr and completes DMWr with `status`."""

    def __init__(self):
        super().__init__()
        self.vendor_id, self.device_id = 0x1234, 0x5678
        self.configure_bar(0, 0x1000, ext=True)
        self.received = []
        self.status = CplStatus.SC
        self.register_rx_tlp_handler(TlpType.MEM_WRITE, self._write)
        self.register_rx_tlp_handler(TlpType.MEM_WRITE_64, self._write)

    async def _write(self, tlp):
        self.received.append(tlp)
        if tlp.is_dmwr():
            await self.send(PasidTlp.create_completion_for_tlp(tlp, self.pcie_id, status=self.status))


@cocotb.test()
async def test_hooks_end_to_end(dut):
    """DMWr + PASID through RootComplex -> switch -> port -> Python function keeps type code and PASID, is
    charged to non-posted credits, and its SC/RRS completion comes back; device PASID writes go upstream."""
    start_clock(dut.clk, CLK_NS)
    rc = HostRootComplex()
    assert hooks.is_installed()
    hooks.install()   # idempotent
    switch = Switch()
    rc.make_port().connect(switch)
    target = DmwrTarget()
    device = Device(target)
    switch.make_port().connect(device)
    await rc.enumerate()
    pci = rc.find_device(target.pcie_id)
    await pci.enable_device()
    await pci.set_master()
    addr = pci.bar_addr[0] + 0x40

    fc = device.upstream_port.fc_state[0]
    np_before, p_before = fc.nph.rx_credits_received, fc.ph.rx_credits_received
    assert await rc.dmwr(addr, bytes(range(64)), pasid=0xBEEF1, priv=True) == CplStatus.SC
    got = target.received[-1]
    assert type(got) is PasidTlp and got.is_dmwr() and (got.fmt, got.type) == (0b010, 0x1B)
    assert (got.pasid, got.pmr, got.er, bytes(got.data)) == (0xBEEF1, True, False, bytes(range(64)))
    assert got.pack()[:5] == bytes.fromhex("918beef15b")
    assert (fc.nph.rx_credits_received - np_before, fc.ph.rx_credits_received - p_before) == (1, 0)

    target.status = RRS
    assert await rc.dmwr(addr, bytes(64), pasid=3) == RRS
    await rc.mem_write_pasid(addr, b"\x11\x22\x33\x44", pasid=0x99)
    await Timer(1, "us")
    got = target.received[-1]
    assert got.is_mem_write() and got.pasid == 0x99 and not got.is_dmwr()

    host, _ = rc.alloc_region(0x1000)
    await target.send(PasidTlp.create_mem_write(host + 8, b"\xA5" * 8, requester_id=target.pcie_id, pasid=0x777,
                                                er=False, pmr=True))
    await Timer(1, "us")
    rec = rc.upstream_log[-1]
    assert (rec.kind, rec.address, rec.pasid, rec.pmr, rec.requester_id) == \
        ("MWr", host + 8, 0x777, True, int(target.pcie_id))
    assert rc.host_memory.read(host + 8, 8) == b"\xA5" * 8


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="tlp", input="Malformed DMWr to link_loopback.sv (the link bench's stand-in RTL): no PASID prefix; "
                              "32 bytes; 64 bytes 4 bytes off 64-byte alignment; to BAR0; First DW BE 0011b",
             outcome="UR without data for each; the loopback counts exactly 5 URs",
             test="test_dmwr"),
    BadInput(cls="tlp", input="DMWr to an address no switch or port routes (0xD000_0000)",
             outcome="HostRootComplex.dmwr raises CompletionTimeout ('no completion') after its timeout instead of "
                     "hanging",
             test="test_dmwr"),
    BadInput(cls="tlp", input="MRd of 256 B (more than the loopback's 32 DW) from BAR0, and MRd of BAR2, of "
                              "link_loopback.sv (the link bench's stand-in RTL)",
             outcome="both reads fail with an unsuccessful completion; the loopback counts exactly one UR",
             test="test_mmio"),
    BadInput(cls="tlp", input="Host read that the RTL never completes (tx_cpl held)",
             outcome="the link shim's watchdog raises CompletionTimeout ('did not complete'); the read stays pending "
                     "instead of hanging the test",
             test="test_missing_completion_is_reported"),
    BadInput(cls="tlp", input="Upstream request with a PASID prefix from the RTL while PASID Control PASID Enable = 0",
             outcome="ProtocolError ('not enabled by PASID control') from the shim's tx_req checker",
             test="test_unenabled_pasid_is_flagged"),
    BadInput(cls="tlp", input="RTL withdrawing tx_cpl valid before ready",
             outcome="ProtocolError ('valid dropped before ready') from the tx_cpl sink",
             test="test_valid_drop_is_flagged"),
    BadInput(cls="tlp", input="Upstream MWr to an interrupt address (0xFEE0_2000) that no interceptor claims",
             outcome="ProtocolError ('claimed by nothing') from the root complex, not a silent drop",
             test="test_interceptors"),
    BadInput(cls="tlp", input="A write-interceptor window over the device's BARs",
             outcome="add_write_interceptor raises ValueError ('BAR space')",
             test="test_interceptors"),
    BadInput(cls="config", input="DMWr inside the root port's window but outside every BAR",
             outcome="UR from the link shim's device (no silent drop)",
             test="test_dmwr"),
    BadInput(cls="config", input="MRd of BAR0 with Memory Space Enable clear",
             outcome="the link shim answers UR itself (ur_sent + 1): the read fails with an unsuccessful completion; "
                     "reads work again once it is set",
             test="test_mmio"),
    BadInput(cls="config", input="Upstream request started (GO) in link_loopback.sv (the link bench's stand-in RTL) "
                                 "with Bus Master Enable clear",
             outcome="refused by the loopback (REG_ERR bit 8); nothing reaches the host",
             test="test_upstream_dma"),
    BadInput(cls="completion", input="Completion of a device read issued before an FLR, arriving after it",
             outcome="discarded by the link shim (stale_cpl counts it), never handed to the reset RTL (its completion "
                     "count stays 0); Transactions Pending set while the read waits and clear after the FLR; the same "
                     "tag works after restore",
             test="test_flr_discards_stale_completions"),
)

