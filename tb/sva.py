"""Shared virtual addressing on the bench: user processes whose address spaces the device works in.

Needs a platform attached with ``dma_translation=True`` (tb/platform_bench.py; e.g.
``WqEnv.start(dut, platform_options={"dma_translation": True})``), so that the device's DMA goes through
the platform's IOMMU (x86: VT-d scalable mode, first-level tables; ARM: SMMUv3 stage 1).

What a driver and a user program do, reduced to what the tests need:

* :class:`SvaHost` owns a pool of host memory pages (a region of the RC's host memory, handed out one
  4 KiB page at a time in a seeded random order, so a buffer that is contiguous in a process is not
  contiguous in physical memory) and creates processes.
* :class:`SvaProcess` is one process: its page tables (``imsdev.platform.Process``, in the platform's CPU
  format, built in host memory), ``map(va, size, writable=True)`` backs each page with a fresh physical
  page filled with seeded random bytes, ``unmap``; ``bind()`` is ``iommu_sva_bind_device`` (allocates
  the PASID, installs the page tables in the IOMMU: VtdSva / SmmuSva) and returns the PASID the process
  submits with (ENQCMD's PASID prefix, or a dedicated WQ's WQCFG); ``unbind()`` tears it down (the
  PASID is freed).
* It is also the address space the work-queue scoreboard checks descriptors in (``Scoreboard.add_space``):
  ``read``/``write``/``contains`` are the process's own (CPU) view, through the bench's record of its
  mappings, not through the IOMMU (so checking never records a fault). ``dma_readable(va, n)`` and
  ``dma_writable(va)`` say what the IOMMU lets the device do: mapped (and writable) while bound; nothing
  once unbound. Completion records are therefore written and checked at the process's virtual address,
  like the buffers.

* The same host is the platform side of the C library's ``imsdev_sva_bind`` (fw/imsdev/clib.py OpsAdapter's
  ``sva``): ``mm_handle(process)`` is the opaque ``mm`` the C code passes, ``sva_bind(mm)`` /
  ``sva_unbind(pasid)`` are the ``struct imsdev_ops`` callbacks. Like iommu_sva_bind_device, binding a bound
  process again takes another reference to the same PASID and the binding goes with the last unbind. An
  unknown handle is refused with EINVAL, a PASID the IOMMU cannot take with ENOSPC; ``sva_calls`` records
  every call for the tests.

* PRI (docs/ats_pri.md 3.4): ``map(va, size, lazy=True)`` backs the pages at once (the process's own view
  reads and writes them) but writes no page-table entry: the page becomes resident for the device only when
  the kernel's page request handler calls ``fault`` for it (handle_mm_fault). ``forbid(va, size)`` marks
  addresses the process owns no mapping for: ``fault`` answers Invalid Request. ``pri_bof`` (set by the test
  when Block-on-Fault is effective) makes ``dma_readable``/``dma_writable(..., bof=True)`` count lazy pages as
  accessible, which is what the scoreboard predicts for a BOF descriptor.

Mappings are 4 KiB pages, user, readable; ``writable`` per call. The bench's record of a mapping is
independent of the page tables the IOMMU walks: a wrong walk is caught by the byte checks.
"""
from __future__ import annotations

import errno
from typing import Optional

PAGE = 0x1000


class SvaProcess:
    def __init__(self, host: "SvaHost", name: str):
        self.host = host
        self.name = name
        self.mm = host.plat.model.process(name)
        self.pages: dict[int, tuple[int, bool]] = {}     # virtual page -> (physical page, writable)
        self.handle = None
        self.unbound_pasid: Optional[int] = None
        self.c_refs = 0                      # bindings the C library holds (SvaHost.sva_bind)
        self.stale_pages: dict[int, tuple[int, bool]] = {}   # unmapped virtual page -> its old (physical, writable)
        self.lazy: set[int] = set()          # virtual pages backed but not yet in the page tables (PRI)
        self.forbidden: set[int] = set()     # virtual pages the process owns no mapping for (PRI: Invalid)
        self.faults: list[tuple[int, bool, str]] = []    # (page, write, outcome) per fault() call
        self.pri_bof = False
        self.large: dict[int, tuple[int, int, bool]] = {}   # large-page VA -> (physical base, bytes, writable)

    def __repr__(self) -> str:
        return f"process {self.name} (PASID {self.pasid})"

    # ---- mappings ------------------------------------------------------------------------------
    def map(self, va: int, size: int, writable: bool = True, lazy: bool = False) -> list[int]:
        """Back [va, va+size) (page aligned) with fresh physical pages; returns them in VA order. `lazy`: no
        page-table entry until `fault` (PRI)."""
        if va % PAGE or size % PAGE or size <= 0:
            raise ValueError(f"map {va:#x} +{size:#x}: page aligned, whole pages")
        out = []
        for off in range(0, size, PAGE):
            pa = self.host.alloc_page()
            if lazy:
                self.lazy.add(va + off)
            else:
                self.mm.map(va + off, pa, PAGE, writable=writable, user=True, page_size=PAGE)
            self.forbidden.discard(va + off)
            self.pages[va + off] = (pa, writable)
            out.append(pa)
        return out

    def forbid(self, va: int, size: int) -> None:
        """[va, va+size) is not the process's: a page request for it is answered Invalid Request."""
        for off in range(0, size, PAGE):
            self.forbidden.add((va + off) & ~(PAGE - 1))

    def fault(self, va: int, write: bool) -> str:
        """handle_mm_fault for a page request: 'success' (made resident, or already there), 'invalid'
        (forbidden, unmapped, or a write to a read-only page)."""
        page = va & ~(PAGE - 1)
        if page in self.lazy:
            pa, writable = self.pages[page]
            if write and not writable:
                out = "invalid"
            else:
                self.mm.map(page, pa, PAGE, writable=writable, user=True, page_size=PAGE)
                self.lazy.discard(page)
                out = "success"
        elif page in self.pages and page not in self.forbidden:
            out = "invalid" if write and not self.pages[page][1] else "success"
        else:
            out = "invalid"
        self.faults.append((page, write, out))
        return out

    def map_large(self, va: int, page_size: int, pa: int, writable: bool = True) -> None:
        """Map one 2 MiB or 1 GiB page (a single large leaf) at va onto the caller's physical block pa (both
        aligned to page_size); the bench's view of it is `large`, not `pages`."""
        if va % page_size or pa % page_size:
            raise ValueError(f"map_large {va:#x} -> {pa:#x}: not aligned to {page_size:#x}")
        self.mm.map(va, pa, page_size, writable=writable, user=True, page_size=page_size)
        self.large[va] = (pa, page_size, writable)

    def _large_page(self, va: int):
        for base, (pa, size, writable) in self.large.items():
            if base <= va < base + size:
                return pa + (va - base), writable
        return None

    def unmap(self, va: int, size: int) -> None:
        """Clear the mappings (the kernel side invalidates the IOMMU's TLBs for them)."""
        self.mm.unmap(va, size)
        for off in range(0, size, PAGE):
            self.lazy.discard(va + off)
            old = self.pages.pop(va + off, None)
            if old is not None:
                # a device with an ATC may still use the old translation until its Invalidate Completion
                self.stale_pages[va + off] = old

    def physical(self, va: int) -> Optional[int]:
        page = self.pages.get(va & ~(PAGE - 1))
        if page is None and self.large:
            big = self._large_page(va)
            return None if big is None else big[0]
        return None if page is None else page[0] | va & (PAGE - 1)

    # ---- binding -------------------------------------------------------------------------------
    def bind(self) -> int:
        """iommu_sva_bind_device for the bench's device; the PASID to submit with."""
        assert self.handle is None, f"{self} is already bound"
        self.handle = self.host.plat.sva.bind(self.host.requester_id, self.mm)
        self.unbound_pasid = None
        return self.handle.pasid

    def unbind(self) -> None:
        """iommu_sva_unbind_device: the PASID's IOMMU entry is torn down (and invalidated) and freed."""
        assert self.handle is not None, f"{self} is not bound"
        self.unbound_pasid = self.handle.pasid
        self.handle.unbind()
        self.handle = None

    @property
    def pasid(self) -> Optional[int]:
        return self.handle.pasid if self.handle is not None else None

    @property
    def bound(self) -> bool:
        return self.handle is not None

    # ---- the process's own view (scoreboard memory protocol) -----------------------------------
    def _pieces(self, va: int, n: int):
        off = 0
        while off < n:
            a = va + off
            k = min(n - off, PAGE - (a & (PAGE - 1)))
            yield off, k, self.physical(a)
            off += k

    def contains(self, va: int, n: int = 1) -> bool:
        return all(pa is not None for _, _, pa in self._pieces(va, max(n, 1)))

    def read(self, va: int, n: int) -> bytes:
        mem = self.host.mem
        out = bytearray()
        for _, k, pa in self._pieces(va, n):
            if pa is None:
                raise ValueError(f"{self}: {va:#x} +{n} is not mapped")
            out += mem.read(pa, k)
        return bytes(out)

    def write(self, va: int, data: bytes) -> None:
        mem = self.host.mem
        for off, k, pa in self._pieces(va, len(data)):
            if pa is None:
                raise ValueError(f"{self}: {va:#x} +{len(data)} is not mapped")
            mem.write(pa, data[off:off + k])

    # ---- what the IOMMU lets the device do ------------------------------------------------------
    def _resident(self, va: int, n: int, bof: bool) -> bool:
        if bof and self.pri_bof:
            return True
        return not any(p in self.lazy for p in range(va & ~(PAGE - 1), va + max(n, 1), PAGE))

    def dma_readable(self, va: int, n: int, bof: bool = False) -> bool:
        return self.bound and self.contains(va, n) and self._resident(va, n, bof)

    def dma_writable(self, va: int, bof: bool = False) -> bool:
        page = self.pages.get(va & ~(PAGE - 1))
        if page is None and self.large:
            big = self._large_page(va)
            return self.bound and big is not None and big[1]
        return self.bound and page is not None and page[1] and self._resident(va, 1, bof)

    def image(self) -> dict[int, bytes]:
        """Every mapped page's bytes, by virtual page (for whole-space comparisons)."""
        return {va: self.host.mem.read(pa, PAGE) for va, (pa, _) in sorted(self.pages.items())}


class SvaHost:
    """The pool of physical pages and the processes made from it (see the module docstring)."""

    def __init__(self, bench, pool_bytes: int = 1 << 20):
        plat = getattr(bench, "platform", None)
        if plat is None or not plat.dma_translation:
            raise RuntimeError("SVA needs a platform attached with dma_translation=True "
                               "(IMSDEV_PLATFORM=x86|arm, platform_options={'dma_translation': True})")
        self.bench = bench
        self.plat = plat
        self.mem = bench.rc.host_memory
        self.rng = bench.rng
        self.pool_base, _ = bench.rc.alloc_region(pool_bytes)
        self.pool_bytes = pool_bytes
        self._free = list(range(self.pool_base, self.pool_base + pool_bytes, PAGE))
        self.rng.shuffle(self._free)
        self.processes: list[SvaProcess] = []
        self.sva_calls: list[tuple] = []    # ("bind", mm, pasid or -errno) / ("unbind", pasid), in order

    @property
    def requester_id(self) -> int:
        return self.bench.requester_id

    def alloc_page(self) -> int:
        if not self._free:
            raise MemoryError(f"SVA page pool ({self.pool_bytes} bytes) exhausted")
        pa = self._free.pop()
        self.mem.write(pa, self.rng.randbytes(PAGE))
        return pa

    def process(self, name: str) -> SvaProcess:
        proc = SvaProcess(self, name)
        self.processes.append(proc)
        return proc

    # ---- the platform side of the C library's imsdev_sva_bind (struct imsdev_ops) ------------------
    def mm_handle(self, proc: SvaProcess) -> int:
        """The opaque `mm` the C code names this process's address space with (never 0)."""
        return self.processes.index(proc) + 1

    def sva_bind(self, mm: int) -> int:
        """ops->sva_bind: iommu_sva_bind_device for the process `mm` names; its PASID."""
        if not 1 <= mm <= len(self.processes):
            self.sva_calls.append(("bind", mm, -errno.EINVAL))
            raise OSError(errno.EINVAL, f"no process with mm handle {mm:#x}")
        proc = self.processes[mm - 1]
        if not proc.bound:
            try:
                proc.bind()
            except (ValueError, RuntimeError) as exc:       # the IOMMU cannot take the PASID it allocated
                self.sva_calls.append(("bind", mm, -errno.ENOSPC))
                raise OSError(errno.ENOSPC, f"{proc.name}: {exc}") from exc
        proc.c_refs += 1
        self.sva_calls.append(("bind", mm, proc.pasid))
        return proc.pasid

    def sva_unbind(self, pasid: int) -> None:
        """ops->sva_unbind: drop one binding of the process that has `pasid`; the last one unbinds it."""
        self.sva_calls.append(("unbind", pasid))
        proc = next((p for p in self.processes if p.bound and p.pasid == pasid and p.c_refs), None)
        if proc is None:
            raise AssertionError(f"sva_unbind({pasid:#x}): no process holds a C binding of that PASID")
        proc.c_refs -= 1
        if not proc.c_refs:
            proc.unbind()

    def owner_of(self, pa: int) -> Optional[tuple[SvaProcess, int]]:
        """(process, virtual page) whose page holds physical address pa, if any."""
        for proc in self.processes:
            for va, (page, _) in proc.pages.items():
                if page == pa & ~(PAGE - 1):
                    return proc, va
        return None


# ---- the kernel's DMA fault handlers ------------------------------------------------------------------
FRCD_REG_BASE = 0x200
CAP_REG = 0x08


class DmaFaultRecord(dict):
    """One fault as the IOMMU reported it to the kernel, decoded from the hardware record:
    reason (VT-d FR / SMMU EventID), requester_id (SID / StreamID), pasid (None: no PASID / SSV=0),
    priv, address (VT-d: FI, the page address; SMMU: InputAddr, the full address), is_write, raw."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _vtd_records(unit, cursor: list[int]) -> list[DmaFaultRecord]:
    """dmar_fault: from the cursor, every FRCD with F=1, decoded, then cleared (W1C F)."""
    count = (unit.read_reg(CAP_REG) >> 40 & 0xFF) + 1
    out = []
    while True:
        n = cursor[0]
        lo = unit.read_reg(FRCD_REG_BASE + 16 * n)
        hi = unit.read_reg(FRCD_REG_BASE + 16 * n + 8)
        if not hi >> 63 & 1:
            return out
        pp = hi >> 31 & 1
        out.append(DmaFaultRecord(reason=hi >> 32 & 0xFF, requester_id=hi & 0xFFFF,
                                  pasid=(hi >> 40 & 0xFFFFF) if pp else None, priv=bool(hi >> 29 & 1),
                                  address=lo & ~0xFFF, is_write=not hi >> 62 & 1, raw=(lo, hi)))
        unit.write_reg(FRCD_REG_BASE + 16 * n + 8, 1 << 63)
        cursor[0] = (n + 1) % count


def _smmu_records(sva) -> list[DmaFaultRecord]:
    """arm_smmu_evtq_thread: the event records between CONS and PROD, decoded."""
    out = []
    for rec in sva.read_events():
        dw0, dw1, dw2 = (int.from_bytes(rec[8 * i:8 * i + 8], "little") for i in range(3))
        ssv = dw0 >> 11 & 1
        out.append(DmaFaultRecord(reason=dw0 & 0xFF, requester_id=dw0 >> 32,
                                  pasid=(dw0 >> 12 & 0xFFFFF) if ssv else None, priv=bool(dw1 >> 33 & 1),
                                  address=dw2, is_write=not dw1 >> 35 & 1, raw=rec))
    return out


def read_fault_records(host: SvaHost) -> list[DmaFaultRecord]:
    """The DMA fault records the platform's IOMMU wrote since the last call (x86: FRCD registers, cleared
    after reading; ARM: the SMMU event queue, consumed), oldest first."""
    plat = host.plat
    if plat.name == "x86":
        cursor = host.__dict__.setdefault("_frcd_cursor", [0])
        return _vtd_records(plat.model.iommu, cursor)
    return _smmu_records(plat.sva)
