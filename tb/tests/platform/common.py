"""What the platform test modules share: interrupt stores, bring-up through the platform's irq domain, and
the final scoreboard check.

Interrupt sources are reached through an *interrupt store*: program an entry with a message, mask/unmask
it, read it back and fire it. Two stores (`STORES`), and the tests do not depend on which one they drive:

* `MsixStore`: MSI-X table entries as Linux's PCI/MSI code drives them, fired with the MSIX_TRIGGER
  self-test register;
* `ImsStore`: the per-WQ IMS entries of one work queue (docs/registers.md IMS_ENTRY) as the IDXD IMS
  irqchip drives them, fired the only way the device raises them: a completion interrupt (a NOOP
  descriptor with RCI and an IMS handle, submitted with MOVDIR64B to a dedicated WQ). The work-queue
  scoreboard (tb.wq) checks every such descriptor's record and that its message follows the record.
"""
from __future__ import annotations

import json
from pathlib import Path

from imsdev import regs
from tb.env import Bench
from tb.platform_bench import platform_name
from tb.wq import FLAG_CRAV, FLAG_RCI, FLAG_RCR, OP_NOOP, WqConfig, WqEnv, ims_handle

PLATFORM = platform_name()
BOUNDARY_VECTORS = (0, 1, 31, 32, 63, 64, 100)
REPORT_FILE = "platform_report.jsonl"     # in the run directory (sim/results/<config>-<module>-<platform>/)
_report_written = False                   # the first test of a run starts the file afresh


# ------------------------------------------------------------------------------------ interrupt stores
class MsixStore:
    """MSI-X entries as Linux's PCI/MSI code drives them (drivers/pci/msi/msi.c, facts section 1)."""

    name = "msix"

    def __init__(self, bench: Bench):
        self.b = bench
        self.ctrl: dict[int, int] = {}          # Linux's cached desc->pci.msix_ctrl

    @property
    def size(self) -> int:
        return self.b.params.msix_vectors

    def slots_under_test(self) -> list[int]:
        n = self.size
        return sorted({v for v in BOUNDARY_VECTORS if v < n} | {n - 1})

    async def enable(self, slots) -> None:
        """msix_capability_init: Enable|MaskAll, mask the entries (Linux masks the whole table; the
        bench masks the entries it uses, the others reset masked), clear MaskAll."""
        await self.b.msix_enable(enable=True, fn_mask=True)
        for v in slots:
            await self.b.wr32(self.b.msix.entry(v) + regs.MSIX_TABLE_VECTOR_CTRL, 1)
            self.ctrl[v] = 1
        await self.b.msix_enable(enable=True, fn_mask=False)

    async def write_msg(self, v: int, msg) -> None:
        """__pci_write_msi_msg: mask if unmasked, write address and data, restore ctrl, flush."""
        e = self.b.msix.entry(v)
        ctrl = self.ctrl.get(v, 1)
        if not ctrl & 1:
            await self.b.wr32(e + regs.MSIX_TABLE_VECTOR_CTRL, ctrl | 1)
        await self.b.wr32(e + regs.MSIX_TABLE_ADDR_LO, msg.address_lo)
        await self.b.wr32(e + regs.MSIX_TABLE_ADDR_HI, msg.address_hi)
        await self.b.wr32(e + regs.MSIX_TABLE_DATA, msg.data)
        if not ctrl & 1:
            await self.b.wr32(e + regs.MSIX_TABLE_VECTOR_CTRL, ctrl)
        await self.b.rd32(e + regs.MSIX_TABLE_DATA)

    async def mask(self, v: int) -> None:
        self.ctrl[v] = self.ctrl.get(v, 1) | 1
        await self.b.msix.mask(v)               # write + flush read (pci_msix_mask)

    async def unmask(self, v: int) -> None:
        self.ctrl[v] = self.ctrl.get(v, 1) & ~1
        await self.b.msix.unmask(v)             # write, no flush (pci_msix_unmask)

    async def read(self, v: int) -> tuple[int, ...]:
        return await self.b.msix.read_entry(v)

    async def pending(self, v: int) -> bool:
        return await self.b.msix.pending(v)

    async def fire(self, v: int) -> None:
        await self.b.msix.trigger(v)

    async def check(self) -> None:
        """Nothing to check on the device side: the trigger register has no completion."""


class ImsStore:
    """The IMS entries of one WQ (the last one of the build), fired by completion interrupts."""

    name = "ims"

    def __init__(self, bench: Bench):
        self.b = bench
        self.env = WqEnv(bench)
        self.wq = bench.params.num_wq - 1
        # Dedicated, no PASID: MOVDIR64B submission, DMA without a prefix, IMS entries unbound.
        self.cfg = WqConfig(size=min(bench.params.wq_depth, 4), dedicated=True, pasid_en=False)
        self.fired: list = []                  # tb.wq.Tracked descriptors, one per fire

    @property
    def size(self) -> int:
        return self.b.params.ims_per_wq

    def slots_under_test(self) -> list[int]:
        n = self.size
        return sorted({0, 1, n - 1})

    async def enable(self, slots) -> None:
        """Device and WQ enabled (the driver's probe), the entries masked before they are programmed."""
        await self.env.setup({self.wq: self.cfg})
        for i in slots:
            await self.env.ims_write_ctrl(self.wq, i, masked=True)

    def _masked(self, i: int) -> bool:
        e = self.env.ims_shadow.get((self.wq, i))
        return True if e is None else e.masked

    async def write_msg(self, i: int, msg) -> None:
        """The IDXD IMS irqchip's order: mask, address, data, flush, restore the mask (an unmasked entry
        ignores address/data writes: docs/registers.md, torn-message rule)."""
        await self.env.ims_program(self.wq, i, msg.address, msg.data, masked=self._masked(i))

    async def mask(self, i: int) -> None:
        await self.env.ims_write_ctrl(self.wq, i, masked=True)
        await self.b.rd32(self.env.ims_entry(self.wq, i) + regs.IMS_ENTRY_CTRL)      # flush

    async def unmask(self, i: int) -> None:
        await self.env.ims_write_ctrl(self.wq, i, masked=False)

    async def read(self, i: int) -> tuple[int, ...]:
        return await self.env.ims_read(self.wq, i)

    async def pending(self, i: int) -> bool:
        return await self.env.ims_pending(self.wq, i)

    async def fire(self, i: int) -> None:
        """One NOOP with RCI and IMS handle i; returns once it is submitted (like a trigger write)."""
        env = self.env
        await env.sb.wait_below(self.wq, self.cfg.size)
        d = env.new_desc(OP_NOOP, 0, flags=FLAG_CRAV | FLAG_RCR | FLAG_RCI, handle=ims_handle(i))
        self.fired.append(await env.sb.submit(self.wq, d))

    async def check(self) -> None:
        """Every fired descriptor completed with its record, and each one whose entry was unmasked sent
        its entry's message exactly once, after the record (tb.wq.Scoreboard)."""
        sb = self.env.sb
        await sb.wait_complete(self.fired)
        await sb.check(self.fired)
        unseen = [t for t in self.fired if t.irq[0] == "msg" and t.irq_seen != 1]
        assert not unseen, f"IMS completion interrupts not seen exactly once: {', '.join(map(str, unseen[:4]))}"


STORES = {"msix": MsixStore, "ims": ImsStore}


# ------------------------------------------------------------------------------------ helpers
async def start(dut, pauses: str = "none", store: str = "msix", platform_options: dict | None = None):
    """Bench with the platform attached, and the interrupt store the test drives (STORES)."""
    bench = await Bench.start(dut, pauses=pauses, platform_options=platform_options)
    plat = getattr(bench, "platform", None)
    assert plat is not None, ("no platform attached: run this module with IMSDEV_PLATFORM=x86|arm (sim/testplan.py "
                              "platforms) and the attach_platform line in Bench.start")
    assert plat.name == PLATFORM
    return bench, plat, STORES[store](bench)


def other_rid(bench) -> int:
    """Another function of the same device: only the function number differs from the device's requester
    ID, so the platform must compare all 16 bits (Linux programs SVT=1, SQ=0)."""
    return bench.requester_id ^ 0x0001


async def setup(bench, plat, store, slots, *, unmask: bool = True, spare=()):
    """Allocate one interrupt per slot from the platform domain, program, enable and (optionally) unmask,
    as a driver's probe + request_irq would. `spare` slots are only masked (for a test's own messages).
    Returns {slot: irq}."""
    irqs = plat.alloc_irqs(bench.requester_id, len(slots), hwsize=store.size)
    by_slot = dict(zip(slots, irqs))
    plat.track(*irqs)
    await store.enable(list(slots) + list(spare))
    for v, irq in by_slot.items():
        await store.write_msg(v, irq.msg)
    if unmask:
        for v in slots:
            await store.unmask(v)
    return by_slot


def assert_nothing_else_delivered(plat) -> None:
    """Every interrupt that reached a CPU is one the test expected (the scoreboard matched it), none was
    addressed to a CPU that does not exist, and on ARM no LPI is left pending in a redistributor."""
    report = plat.report()
    model = plat.model
    assert len(model.deliveries) == report["delivered"] == report["expected"], \
        f"{len(model.deliveries)} deliveries to CPUs, {report['expected']} expected: {model.deliveries}"
    assert not model.cpus.undeliverable, f"messages to CPUs that do not exist: {model.cpus.undeliverable}"
    if plat.name == "arm":
        pending = {p: dict(f.pending) for p, f in model.redistributors.frames.items() if f.pending}
        assert not pending, f"LPIs left pending in redistributors: {pending}"


async def finish(bench, plat, test: str, store=None):
    """Let anything late arrive, check the device side of the store and the scoreboard, and keep its counts
    next to the test's log (platform_report.jsonl in the run directory, one line per test)."""
    await bench.settle()
    if store is not None:
        await store.check()
    report = plat.report()
    report.update(test=test, store=getattr(store, "name", None), pauses=bench.pauses, config=bench.params.name,
                  seed=bench.seed)
    bench.log.info("platform scoreboard: %s", json.dumps(report))
    global _report_written
    try:    # the counts are a by-product: losing the file (results wiped by another run) fails nothing
        with (Path.cwd() / REPORT_FILE).open("a" if _report_written else "w") as f:
            f.write(json.dumps(report) + "\n")
        _report_written = True
    except OSError as exc:
        bench.log.warning("platform scoreboard: could not write %s: %s", REPORT_FILE, exc)
    plat.assert_clean()
    assert report["lost"] == report["duplicate"] == report["misrouted"] == report["spurious"] == 0
    assert_nothing_else_delivered(plat)


def other_cpu(plat, irq) -> int:
    return (irq.cpu + 1) % plat.cpu_count
