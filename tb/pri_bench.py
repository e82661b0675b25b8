"""Kernel-style PRI on the bench (docs/ats_pri.md 3.4; stage 2 of issue 9): the platform's page request queue,
the kernel's handler thread, and PRI enable in Linux's order.

`PriHost(ats_host, sva_host)` needs an AtsHost (tb/ats_bench.py) on a bench whose RTL has the PRI interface
(`shim.pri_cap` is not None):
* the platform model gets its queue (x86: tb/platform/vtd_pri.attach_prq, VT-d PQA/PQH/PQT + QI type 9;
  arm: tb/platform/smmu_pri.attach_priq, PRIQ + CMD_PRI_RESP) and the kernel side its driver
  (fw/imsdev/platform/iommu_pri.VtdPrq / SmmuPriq), whose queue is enabled at once;
* `enable(reqs)` is `pci_reset_pri` then `pci_enable_pri(reqs)` (Linux order; the PRI enable follows
  pci_enable_ats, as intel_iommu_enable_iopf does);
* the kernel thread (a cocotb task) wakes on each queued request (instead of the PRQ/PRIQ interrupt) and runs
  the driver's event thread with the fault handler: the PASID's process `fault(va, write)` (tb/sva.py: a lazy
  page becomes resident -> Success; forbidden -> Invalid Request). `pause()` holds the thread (the requests
  wait in the queue), `resume()` lets it run; `script[(pasid, page)]` = a list of codes answered instead of the
  handler's (one per request, e.g. [RESP_SUCCESS] without mapping the page, RESP_FAILURE, 0x5 unused), and
  `respond_delay_ns` holds each answer.
* coverage: every PRG Response by class and side (read: the Page Request's W = 0; record: the page of a
  tracked descriptor's completion record; write: otherwise), unexpected ones; `finish()` samples per page how
  many requests it took.
"""
from __future__ import annotations

import cocotb
from cocotb.triggers import Event, Timer

from imsdev.platform import iommu_pri as kpri

from tb import coverage
from tb.pcie import pri
from tb.platform.smmu_pri import attach_priq
from tb.platform.vtd_pri import attach_prq


class _PriCfg:
    """PCI config access of the PRI capability, for fw/imsdev/platform/iommu_pri.py."""

    def __init__(self, bench, offset):
        self.dev = bench.dev
        self.off = offset

    async def read_word(self, reg):
        return await self.dev.config_read_word(self.off + reg)

    async def write_word(self, reg, val):
        await self.dev.config_write_word(self.off + reg, val)

    async def read_dword(self, reg):
        return await self.dev.config_read_dword(self.off + reg)

    async def write_dword(self, reg, val):
        await self.dev.config_write_dword(self.off + reg, val)


class PriHost:
    def __init__(self, ah, sva_host, *, queue_order: int = 0):
        b = ah.b
        if b.shim.pri_cap is None:
            raise RuntimeError("PRI needs an RTL with the PRI interface and Bench.start(..., ats=True)")
        self.ah, self.b, self.sva = ah, b, sva_host
        self.agent = ah.agent
        self.x86 = ah.x86
        self._wake = Event()
        self._run = Event()
        self._run.set()
        self.script: dict[tuple[int, int], list[int]] = {}
        self.respond_delay_ns = 0
        self.requests: list = []                    # (pasid, page, write, prgi) per Page Request handled
        self.per_page: dict[tuple, int] = {}        # (pasid, page, write) -> Page Requests seen
        self.cfg = None
        self.scoreboard = None                      # the test's work-queue scoreboard (record pages, coverage)
        model = ah.model
        if self.x86:
            attach_prq(model.iommu, self.agent, self._notify)
            self.kdrv = kpri.VtdPrq(model.iommu, model.iommu.memory, model.sva.allocator, model.sva.qi,
                                    order=queue_order)
        else:
            attach_priq(model.dma, self.agent, self._notify)
            self.kdrv = kpri.SmmuPriq(model.sva, log2=6 + queue_order)
        self.kdrv.enable()
        self._respond = self.kdrv.respond
        self.kdrv.respond = self._respond_hook
        self.task = cocotb.start_soon(self._thread())

    # ---- configuration ----------------------------------------------------------------------------
    async def cap(self):
        if self.cfg is None:
            self.cfg = _PriCfg(self.b, await self.b.find_ext_cap(pri.PRI_EXT_CAP_ID))
        return self.cfg

    async def enable(self, reqs: int = pri.PRI_CAPACITY) -> None:
        cfg = await self.cap()
        rc = await kpri.pci_reset_pri(cfg)
        assert rc == 0, f"pci_reset_pri: {rc}"
        rc = await kpri.pci_enable_pri(cfg, reqs)
        assert rc == 0, f"pci_enable_pri: {rc}"
        coverage.pri_enable(min(reqs, pri.PRI_CAPACITY))

    async def disable(self) -> None:
        await kpri.pci_disable_pri(await self.cap())

    async def status(self) -> int:
        return await (await self.cap()).read_word(pri.PRI_STATUS)

    async def control(self) -> int:
        return await (await self.cap()).read_word(pri.PRI_CTRL)

    # ---- the kernel thread ------------------------------------------------------------------------
    def _notify(self):
        self._wake.set()

    def pause(self):
        self._run.clear()

    def resume(self):
        self._run.set()

    def _fault(self, pasid, addr, write, priv, exe) -> int:
        page = addr >> 12
        key = (pasid, page, bool(write))
        self.per_page[key] = self.per_page.get(key, 0) + 1
        self.requests.append((pasid, page, bool(write)))
        scripted = self.script.get((pasid, page))
        if scripted:
            return scripted.pop(0)
        proc = next((p for p in self.sva.processes if p.bound and p.pasid == pasid), None)
        if proc is None:
            return kpri.RESP_INVALID
        return kpri.RESP_SUCCESS if proc.fault(addr, bool(write)) == "success" else kpri.RESP_INVALID

    def _side(self, pasid, page, write) -> str:
        if not write:
            return "read"
        sb = self.scoreboard
        if sb is not None:
            for t in sb.items:
                if t.pasid == pasid and t.desc.cr_addr >> 12 == page:
                    return "record"
        return "write"

    def _respond_hook(self, rid, pasid, prgi, code):
        self._cover(pasid, prgi, code)
        self._respond(rid, pasid, prgi, code)

    def _cover(self, pasid, prgi, code):
        req = self.b.shim.pri.outstanding.get(prgi)
        if req is None or (pasid is not None and req.pasid != pasid):
            coverage.pri_response("unexpected", "none")
        else:
            f = req.page_request_fields()
            coverage.pri_response(pri.response_class(code), self._side(pasid, f.page, f.w))

    async def _thread(self):
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._run.is_set():
                await self._run.wait()
            if self.respond_delay_ns:
                await Timer(self.respond_delay_ns, "ns")
            self.kdrv.event_thread(self._fault)

    def drain_pasid(self, pasid) -> int:
        """The kernel's PRQ/PRIQ drain before a PASID is unbound (fw/imsdev/platform/iommu_pri.py)."""
        return self.kdrv.drain_pasid(pasid, self._fault)

    def send_response(self, pasid, prgi, code):
        """A PRG Response straight from the TA (bad-input tests: a PRGI the device has not outstanding)."""
        self._cover(pasid, prgi, code)
        self.agent.send_prg_response(self.b.requester_id, pasid, prgi, code)

    def finish(self):
        for n in self.per_page.values():
            coverage.pri_retries(n - 1)
