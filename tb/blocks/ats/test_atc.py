"""cocotb tests of imsdev_ats_atc and the ATS package functions (run by test_block_ats.py).

Each cycle the bench drives both lookup ports, an optional insert, invalidate and clear, compares the RTL's
combinational lookup answers with AtcModel (atc_model.py) before the edge, and the model steps with the edge.
The ATC takes the next cycle's insert key and size a cycle ahead (pre_*), so the bench runs one operation
behind the test's calls: cycle() clocks the previous call's operation with this call's insert as pre_*, and
flush() clocks the last one.
Seeds: COCOTB_RANDOM_SEED (printed by the runner) xor the test name.
"""
from __future__ import annotations

import os
import random
import zlib

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from tb.clock import start_clock

from .atc_model import ALL, PAGE_MASK, AtcModel, entry_from_payload, s_decode, s_encode

ENTRIES = int(os.environ.get("ATC_ENTRIES", "8"))
SIZES = [0, 0, 0, 1, 2, 9, 9, 18, 5]     # 4 KiB mostly, 2 MiB, 1 GiB and other powers of two


class AtcBench:
    def __init__(self, dut, name: str):
        self.dut = dut
        self.seed = (cocotb.RANDOM_SEED ^ zlib.crc32(name.encode())) & 0x7FFF_FFFF
        self.rng = random.Random(self.seed)
        dut._log.info("%s: ENTRIES=%d seed %d", name, ENTRIES, self.seed)
        self.model = AtcModel(ENTRIES)
        self.stats = {"hit": 0, "miss": 0, "ins": 0, "inv": 0, "inv_nopasid": 0, "clear": 0}
        self.pending = None                  # the operation cycle() was last given, not yet clocked
        # A small world so that keys collide: 3 PASIDs, both privilege levels, pages around a few bases.
        self.pasids = [self.rng.randrange(1 << 20) for _ in range(3)]
        self.bases = [self.rng.randrange(1 << 40) << 12 & PAGE_MASK for _ in range(3)] + [0, PAGE_MASK & ~0x3FFFF]

    async def start(self):
        d = self.dut
        start_clock(d.clk, 10)
        for s in ("clear", "ins_valid", "inv_valid", "lk0_pasid", "lk1_pasid", "lk0_priv", "lk1_priv", "lk0_page",
                  "lk1_page", "ins_pasid", "ins_priv", "ins_page", "ins_pa", "ins_size", "ins_r", "ins_w",
                  "inv_has_pasid", "inv_pasid", "inv_page", "inv_size", "dec_s", "dec_page", "pl_bytes",
                  "pre_pasid", "pre_priv", "pre_page", "pre_size"):
            getattr(d, s).value = 0
        d.rst.value = 1
        for _ in range(3):
            await RisingEdge(d.clk)
        d.rst.value = 0
        await FallingEdge(d.clk)

    def rand_page(self) -> int:
        r = self.rng
        base = r.choice(self.bases)
        return (base + r.choice([0, 1, 2, 3, r.randrange(512), r.randrange(1 << 18), r.randrange(1 << 20)])) & PAGE_MASK

    def rand_key(self):
        return self.rng.choice(self.pasids), self.rng.randrange(2), self.rand_page()

    async def cycle(self, lk, ins=None, inv=None, clear=False):
        """lk: two (pasid, priv, page). Clocks the previous call's operation (its lookups checked, then the edge
        into RTL and model), giving the ATC this call's insert as the next one (pre_*)."""
        if self.pending is not None:
            await self._clock(*self.pending, nxt=ins)
        elif ins is not None:                # the first operation inserts: one idle cycle to give pre_*
            await self._clock([(0, 0, 0), (0, 0, 0)], None, None, False, nxt=ins)
        self.pending = (lk, ins, inv, clear)

    async def flush(self):
        """Clocks the operation still held by cycle()."""
        if self.pending is not None:
            await self._clock(*self.pending, nxt=None)
        self.pending = None

    async def _clock(self, lk, ins, inv, clear, nxt):
        d = self.dut
        if nxt is not None:                  # (otherwise pre_* keep their last value: no insert follows)
            d.pre_pasid.value, d.pre_priv.value, d.pre_page.value, d.pre_size.value = nxt[0], nxt[1], nxt[2], nxt[4]
        for p, (pasid, priv, page) in enumerate(lk):
            getattr(d, f"lk{p}_pasid").value = pasid
            getattr(d, f"lk{p}_priv").value = priv
            getattr(d, f"lk{p}_page").value = page
        d.ins_valid.value = ins is not None
        if ins is not None:
            pasid, priv, page, pa, size, r, w = ins
            d.ins_pasid.value, d.ins_priv.value, d.ins_page.value, d.ins_pa.value = pasid, priv, page, pa
            d.ins_size.value, d.ins_r.value, d.ins_w.value = size, r, w
            self.stats["ins"] += 1
        d.inv_valid.value = inv is not None
        if inv is not None:
            has_pasid, pasid, page, size = inv
            d.inv_has_pasid.value, d.inv_pasid.value, d.inv_page.value, d.inv_size.value = has_pasid, pasid, page, size
            self.stats["inv" if has_pasid else "inv_nopasid"] += 1
        d.clear.value = clear
        self.stats["clear"] += clear
        await ReadOnly()
        for p, key in enumerate(lk):
            want = self.model.lookup(*key)
            got = (int(getattr(d, f"lk{p}_hit").value), int(getattr(d, f"lk{p}_r").value),
                   int(getattr(d, f"lk{p}_w").value), int(getattr(d, f"lk{p}_pa").value))
            if not want[0]:
                got = (got[0], 0, 0, 0)        # the value outputs are don't-care on a miss
            assert got == want, (f"seed {self.seed}: port {p} lookup pasid={key[0]:#x} priv={key[1]} "
                                 f"page={key[2]:#x}: RTL {got} model {want}")
            self.stats["hit" if want[0] else "miss"] += 1
        assert int(d.valid_o.value) == self.model.valid_bits(), \
            f"seed {self.seed}: entries in use RTL {int(d.valid_o.value):#x} model {self.model.valid_bits():#x}"
        await RisingEdge(d.clk)
        self.model.step(clear=clear, ins=ins, inv=inv)
        await FallingEdge(d.clk)


@cocotb.test()
async def test_s_decode_and_entry_order(dut):
    """S decode of every run length 0..52 with random bits above the run, S = 0, all-ones; the completion entry
    wire order (docs/ats_pri.md 1.3) on random payloads."""
    tb = AtcBench(dut, "s_decode")
    await tb.start()
    rng = tb.rng
    cases = [(0, rng.randrange(1 << 52)) for _ in range(20)]
    for run in range(0, 53):
        for _ in range(3):
            above = rng.randrange(1 << 52) << (run + 1) & PAGE_MASK
            cases.append((1, above | ((1 << run) - 1)))
    cases += [(1, PAGE_MASK), (1, PAGE_MASK >> 1), (1, 0)]
    for size in (0, 1, 9, 18, 30, 51):
        cases.append(s_encode(size, rng.randrange(1 << 52)))
    for s, page in cases:
        dut.dec_s.value = s
        dut.dec_page.value = page
        payload = bytes(rng.randrange(256) for _ in range(8))
        dut.pl_bytes.value = int.from_bytes(payload, "little")
        await ReadOnly()
        assert int(dut.dec_size.value) == s_decode(s, page), f"S={s} page={page:#x}: {int(dut.dec_size.value)}"
        assert int(dut.pl_entry.value) == entry_from_payload(payload), payload.hex()
        await FallingEdge(dut.clk)
    # The encoder and decoder agree on every size (the bench's helper is the same code).
    for size in range(0, 52):
        assert s_decode(*s_encode(size, 0x123456789)) == size
    assert s_decode(1, (1 << 51) - 1) == ALL


@cocotb.test()
async def test_keys_and_sizes(dut):
    """Directed: PASID and privilege are part of the key; a 2 MiB / 1 GiB entry covers every page inside and
    translates the offset; permissions are returned as inserted; an overlapping insert replaces."""
    tb = AtcBench(dut, "keys")
    await tb.start()
    a, b = tb.pasids[0], tb.pasids[1]
    va2m = 0x4_0000 << 9 >> 9 << 9           # a 2 MiB aligned page number
    none = (0, 0, 0)
    await tb.cycle([none, none], ins=(a, 0, va2m + 5, 0xABC00, 9, 1, 0))
    await tb.cycle([(a, 0, va2m), (a, 0, va2m + 511)])
    await tb.cycle([(a, 1, va2m), (b, 0, va2m)])                       # other priv / PASID: miss
    await tb.cycle([(a, 0, va2m + 512), (a, 0, va2m - 1)])             # just outside: miss
    await tb.cycle([none, none], ins=(a, 1, va2m, 0x77, 0, 1, 1))      # the privileged page, 4 KiB
    await tb.cycle([(a, 1, va2m), (a, 1, va2m + 1)])
    await tb.cycle([none, none], ins=(a, 0, va2m + 7, 0x55, 0, 1, 1))  # overlaps the 2 MiB entry: replaces it
    await tb.cycle([(a, 0, va2m + 7), (a, 0, va2m + 8)])
    g = 0x3 << 18
    await tb.cycle([none, none], ins=(b, 0, g + 0x1234, 0x40000 + 0x999, 18, 0, 1))
    await tb.cycle([(b, 0, g + 0x3FFFF), (b, 0, g)])
    await tb.cycle([none, none], inv=(1, b, g + 0x2000, 0))            # one 4 KiB page inside drops the 1 GiB
    await tb.cycle([(b, 0, g), (a, 1, va2m)])
    await tb.cycle([none, none], inv=(0, 0, 0, 0))                     # without PASID: everything
    await tb.cycle([(a, 1, va2m), (a, 0, va2m + 7)])
    await tb.flush()


@cocotb.test()
async def test_eviction(dut):
    """ENTRIES + 3 distinct pages: the first ENTRIES fill free entries, then round robin evicts in order."""
    tb = AtcBench(dut, "eviction")
    await tb.start()
    p = tb.pasids[0]
    pages = [0x1000 + 2 * i for i in range(ENTRIES + 3)]
    for i, pg in enumerate(pages):
        await tb.cycle([(p, 0, pages[0]), (p, 0, pg)], ins=(p, 0, pg, 0x9000 + i, 0, 1, i & 1))
    for pg in pages:
        await tb.cycle([(p, 0, pg), (p, 0, pg + 1)])
    await tb.flush()
    assert tb.model.evictions == 3


@cocotb.test()
async def test_random(dut):
    """Random lookups, inserts (4 KiB .. 1 GiB, any R/W), invalidations by range / PASID / without PASID /
    all (S = all ones), inserts and invalidations in the same cycle, and clears."""
    tb = AtcBench(dut, "random")
    await tb.start()
    rng = tb.rng
    recent = [tb.rand_key()]
    for _ in range(6000):
        # half of the lookups aim at a recently inserted key (or a page next to it)
        lk = [tb.rand_key() if rng.random() < 0.5 else
              (lambda k: (k[0], k[1], (k[2] + rng.choice([0, 0, 1, -1])) & PAGE_MASK))(rng.choice(recent))
              for _ in range(2)]
        ins = inv = None
        if rng.random() < 0.35:
            pasid, priv, page = tb.rand_key()
            recent = (recent + [(pasid, priv, page)])[-2 * ENTRIES:]
            ins = (pasid, priv, page, rng.randrange(1 << 52), rng.choice(SIZES), rng.randrange(2), rng.randrange(2))
        if rng.random() < 0.12:
            pasid, _, page = tb.rand_key()
            r = rng.random()
            size = ALL if r < 0.1 else rng.choice(SIZES + [3, 12])
            inv = (int(rng.random() > 0.1), pasid, page, size)
        clear = rng.random() < 0.004
        await tb.cycle(lk, ins, inv, clear)
    await tb.flush()
    dut._log.info("random: %s, evictions %d", tb.stats, tb.model.evictions)
    assert tb.stats["hit"] > 1000 and tb.model.evictions > 10, tb.stats
