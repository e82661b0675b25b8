"""The bench's root complex: cocotbext-pcie's RootComplex plus what the device needs of a host.

Adds to `RootComplex`:
* `dmwr()`: an ENQCMD-style submission, a non-posted 64-byte DMWr with a PASID prefix, returning the
  completion status (SC accepted, RRS = `tb.pcie.tlp.RRS` retry, UR, CA). No completion within the
  timeout raises `CompletionTimeout` (cocotbext-pcie drops a DMWr that no BAR claims without a UR).
* `mem_write_pasid()`: posted memory writes carrying a PASID prefix (or none), e.g. MOVDIR64B-style.
* `add_write_interceptor(fn, window)`: platform models (VT-d interrupt remapping at 0xFEE0_0000, the
  SMMU MSI window at 0x0800_0000 in front of a GIC ITS) claim upstream writes before host memory sees
  them. A window inside host memory is reserved in the host allocator, and a window that overlaps the
  BAR space assigned at enumeration is refused (writes there never leave the root port).
* `upstream_log`: one `UpstreamRecord` per upstream request (requester ID, PASID, PMR, ER, ...), so tests
  can check DMA tagging; `add_upstream_observer()` for scoreboards that want the TLPs themselves.
* `host_memory`: synchronous `read(addr, length)` / `write(addr, data)` over the RC's host memory for the
  platform models (tb/platform/memory.py's contract: unserved addresses raise `MemoryAccessError`).
* strict upstream writes: a device write that nothing claims and no host memory backs raises
  `ProtocolError` instead of the package's silent drop (an interrupt address without its model, or a
  write into the RC's downstream window).
* `set_dma_translator(fn)`: an IOMMU in front of host memory (off unless a platform opts in, see
  tb/platform_bench.py). Every upstream memory read, and every write no interceptor claimed (interrupt
  messages keep their windows), is translated per 4 KiB page by `fn(requester_id, pasid, priv, addr,
  is_write)`, which returns the physical address or a fault object (recorded by the IOMMU model). A read
  with any faulting page is answered with UR; a write's faulting pages are dropped, its others written.
  Observers and `upstream_log` see the request as the device sent it (untranslated addresses).
"""
from __future__ import annotations

import bisect
import inspect
import logging
import os
from collections import deque
from typing import Callable, NamedTuple

from cocotb.utils import get_sim_steps
from cocotbext.axi.address_space import AddressSpace, MemoryRegion
from cocotbext.pcie.core import RootComplex
from cocotbext.pcie.core.tlp import CplStatus, TlpAttr, TlpTc, TlpType
from cocotbext.pcie.core.utils import PcieId

from tb.platform.memory import MemoryAccessError
from tb.simtime import now_ns

from .deadlines import Deadlines
from .dispatch import handle_tlp
from .hooks import install
from . import rc_switch
from .mmio_region import InlineReadRegion
from .tlp import RRS, CompletionTimeout, PasidTlp, ProtocolError

DEFAULT_NP_TIMEOUT_NS = 100_000
DMWR_STATUSES = (CplStatus.SC, RRS, CplStatus.UR, CplStatus.CA)
_WRITES = (TlpType.MEM_WRITE, TlpType.MEM_WRITE_64)
_READS = (TlpType.MEM_READ, TlpType.MEM_READ_64)


class UpstreamRecord(NamedTuple):
    time_ns: float
    kind: str               # "MRd", "MWr", "DMWr" or the TlpType name
    address: int
    length_dw: int
    requester_id: int
    tag: int
    pasid: int | None       # None: no PASID prefix
    pmr: bool
    er: bool
    header_dw: int          # 3 or 4


def _kind(tlp) -> str:
    if tlp.is_dmwr():
        return "DMWr"
    if tlp.is_mem_write():
        return "MWr"
    if tlp.is_mem_read():
        return "MRd"
    return tlp.fmt_type.name


def write_span(tlp) -> tuple[int, bytes]:
    """(first enabled byte address, enabled bytes) of a memory write; a zero-length write gives b''."""
    if tlp.length == 1 and tlp.first_be == 0:
        return tlp.address, b""
    first = tlp.get_first_be_offset()
    return tlp.address + first, bytes(tlp.data[first:first + tlp.get_be_byte_count()])


class HostMemoryAdapter:
    """Synchronous access to the RC's host memory: every memory region registered in its address space
    (the host pool's allocations, and any `MemoryRegion`/`SparseMemoryRegion` a test registers).

    Error ranges (`add_error_range`, as tb/platform/memory.py's SparseMemory has them) make part of that
    memory fail for the platform models, like an uncorrectable memory error: a table read there is how
    VT-d fault 0x23 or an ITS table memory error happens. They apply to this adapter only, not to the
    device's DMA."""

    def __init__(self, rc: RootComplex):
        self._space = rc.mem_address_space
        self._key = None
        self._bases: list[int] = []
        self._spans: list[tuple[int, int, object]] = []
        self._error_ranges: list[tuple[int, int]] = []

    def add_error_range(self, start: int, length: int) -> None:
        self._error_ranges.append((start, start + length))

    def clear_error_ranges(self) -> None:
        self._error_ranges.clear()

    def _refresh(self):
        key = (len(self._space.regions),) + tuple(len(r.regions) for _, _, _, r in self._space.regions
                                                  if isinstance(r, AddressSpace))
        if key == self._key:
            return
        spans = []

        def walk(space, base0):
            for base, size, offset, region in space.regions:
                if isinstance(region, AddressSpace):
                    walk(region, base0 + base)
                elif offset == 0 and hasattr(region, "mem"):
                    spans.append((base0 + base, size, region.mem))
        walk(self._space, 0)
        spans.sort(key=lambda s: s[0])
        self._spans = spans
        self._bases = [s[0] for s in spans]
        self._key = key

    def _find(self, addr: int, length: int):
        for start, stop in self._error_ranges:
            if addr < stop and start < addr + max(length, 1):
                raise MemoryAccessError(f"host memory access [{addr:#x}, +{length}) hits error range "
                                        f"[{start:#x}, {stop:#x})")
        self._refresh()
        i = bisect.bisect_right(self._bases, addr) - 1
        if i >= 0:
            base, size, mem = self._spans[i]
            if addr + max(length, 1) <= base + size:
                return mem, addr - base
        raise MemoryAccessError(f"host memory access [{addr:#x}, +{length}) is not inside one allocated region")

    def contains(self, addr: int, length: int = 1) -> bool:
        try:
            self._find(addr, length)
            return True
        except MemoryAccessError:
            return False

    def read(self, addr: int, length: int) -> bytes:
        mem, off = self._find(addr, length)
        return bytes(mem[off:off + length])

    def write(self, addr: int, data: bytes) -> None:
        mem, off = self._find(addr, len(data))
        mem[off:off + len(data)] = bytes(data)


PCIE_LOG = os.environ.get("IMSDEV_PCIE_LOG", "0") not in ("", "0")


def quiet_per_tlp_log(obj) -> None:
    """cocotbext-pcie logs at INFO every host memory access (the RC) and every configuration read and write
    a function answers (root ports, the device's function: about 110 lines per test's enumeration, each
    with a caller lookup and a formatted line). Their warnings stay on; IMSDEV_PCIE_LOG=1 keeps INFO."""
    if not PCIE_LOG:
        obj.log.setLevel(logging.WARNING)


class EmptyRootSlotProbeFilter(logging.Filter):
    """Drops the package's warning for enumeration's probe of an empty device number on the root bus.

    Enumeration reads the vendor ID of device numbers 1-31 on the host bridge's secondary bus; with one
    root port, 30 or 31 of them are empty, the package's switch answers each with a UR completion (what
    enumeration expects) and logs "Failed to route config type 0 TLP" with the TLP's repr, in every test.
    Only that case is dropped, before the record is formatted: a Type 0 configuration read of function 0
    on the root bus. Any other routing failure keeps its warning."""

    MSG = "Failed to route config type 0 TLP: %r"

    def __init__(self, rc):
        super().__init__()
        self._rc = rc

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != self.MSG or len(record.args) != 1:
            return True
        tlp = record.args[0]
        cid = tlp.completer_id
        return not (tlp.fmt_type == TlpType.CFG_READ_0 and cid.bus == self._rc.upstream_bridge.sec_bus_num
                    and cid.function == 0)


class HostRootComplex(RootComplex):
    """RootComplex with DMWr, PASID-tagged writes, upstream write interceptors and an upstream log."""

    def __init__(self, *args, np_timeout_ns: int = DEFAULT_NP_TIMEOUT_NS, upstream_log_limit: int | None = None,
                 strict_upstream: bool = True, **kwargs):
        install()
        super().__init__(*args, **kwargs)
        # cocotbext-pcie logs every host memory read and write at INFO: a log line per DMA TLP, a tenth of the
        # bench's CPU per TLP. Its warnings stay on; IMSDEV_PCIE_LOG=1 brings the per-TLP lines back. The
        # bench's own notes (translation faults) keep INFO on a child logger.
        quiet_per_tlp_log(self)
        self.log.addFilter(EmptyRootSlotProbeFilter(self))
        self.notes = logging.getLogger(f"{self.log.name}.host")
        self.notes.setLevel(logging.INFO)
        self.np_timeout_ns = np_timeout_ns
        self.strict_upstream = strict_upstream
        self.host_memory = HostMemoryAdapter(self)
        self.upstream_log: deque[UpstreamRecord] = deque(maxlen=upstream_log_limit)
        self.intercepted_writes = 0
        self._interceptors: list[tuple[Callable, tuple[int, int] | None]] = []
        self._observers: list[Callable] = []
        self._translator: Callable | None = None
        self._ats_agent = None          # tb/pcie/ats_agent.py: handles AT = 01b / 10b requests
        self.translated_requests = 0
        self.dma_faulted_reads = 0
        self.dma_dropped_writes = 0
        self._direct_links: list = []
        if os.environ.get("IMSDEV_DIRECT_LINK", "1") != "0":
            # the switch's Type 0 configuration traffic without its tasks (tb/pcie/rc_switch.py)
            self._switch_shortcut = True
            rc_switch.shortcut(self)
            for port in self.switch_ports:
                rc_switch.shortcut_port(self, port)
            # and the root bus's configuration requests without TLPs while nothing waits downstream
            self.root_bus_config = rc_switch.RootBusConfig(self, self._direct_links)
            # and a one-TLP MMIO read in the caller's task (tb/pcie/mmio_region.py)
            InlineReadRegion.adopt(self.mem_region)
        self._cpl_deadlines = Deadlines()
        self._cpl_deadline: list = [None] * len(self.rx_cpl_sync)     # per tag: its wait's armed timeout

    _switch_shortcut = False
    root_bus_config: rc_switch.RootBusConfig | None = None

    async def config_read(self, dev, addr, length, timeout=0, timeout_unit='ns'):
        rbc = self.root_bus_config
        if rbc is not None:
            now, fn = rbc.target(dev)
            if now:
                return await rbc.read(fn, dev, addr, length)
        return await super().config_read(dev, addr, length, timeout, timeout_unit)

    async def config_write(self, dev, addr, data, timeout=0, timeout_unit='ns'):
        rbc = self.root_bus_config
        if rbc is not None:
            now, fn = rbc.target(dev)
            if now:
                await rbc.write(fn, dev, addr, data)
                return
        await super().config_write(dev, addr, data, timeout, timeout_unit)

    def add_switch_port(self, port):
        super().add_switch_port(port)
        if self._switch_shortcut:
            rc_switch.shortcut_port(self, port)

    # ---- MMIO by address (the driver model's accesses, tb/driver_ops.py) ------------------------------------
    # RootComplex.mem_read_dword / mem_read_qword / mem_write_dword (cocotbext-pcie 0.2.16) go through three
    # wrapper coroutines each (..._dwords, ..._words, mem_read / mem_write) to the memory address space; these
    # do the same in one: the same bytes, byte order and arguments to mem_address_space.read / write.
    async def mem_read_dword(self, addr, byteorder='little', timeout=0, timeout_unit='ns', attr=TlpAttr(0),
                             tc=TlpTc.TC0):
        data = bytes(await self.mem_address_space.read(addr, 4, timeout=timeout, timeout_unit=timeout_unit,
                                                       attr=attr, tc=tc))
        return int.from_bytes(data[0:4], byteorder)

    async def mem_read_qword(self, addr, byteorder='little', timeout=0, timeout_unit='ns', attr=TlpAttr(0),
                             tc=TlpTc.TC0):
        data = bytes(await self.mem_address_space.read(addr, 8, timeout=timeout, timeout_unit=timeout_unit,
                                                       attr=attr, tc=tc))
        return int.from_bytes(data[0:8], byteorder)

    async def mem_write_dword(self, addr, data, byteorder='little', timeout=0, timeout_unit='ns', attr=TlpAttr(0),
                              tc=TlpTc.TC0):
        await self.mem_address_space.write(addr, bytearray(data.to_bytes(4, byteorder)), timeout=timeout,
                                           timeout_unit=timeout_unit, attr=attr, tc=tc)

    # ---- direct delivery (tb/pcie/direct.py) -------------------------------------------------------
    def add_direct_link(self, link) -> None:
        """Deliver memory TLPs and completions for `link`'s device without the simulated link."""
        self._direct_links.append(link)

    async def downstream_send(self, tlp):
        links = self._direct_links
        if not links:
            await super().downstream_send(tlp)
            return
        for link in links:    # the receiving device checks the TLP (Device/Function.upstream_recv)
            if link.goes_down_direct(tlp):
                await link.send_down(tlp, None, True)
                return
        await links[0].send_down(tlp, super().downstream_send, False)

    # ---- upstream hooks -----------------------------------------------------------------------
    def add_write_interceptor(self, fn: Callable, window: tuple[int, int] | None = None) -> None:
        """Offer upstream memory writes to `fn(addr, data, requester_id, tlp) -> bool` (may be async)
        before host memory; True claims the write. `addr`/`data` are the byte-enabled span, requester_id
        an int. With `window=(base, size)` only writes starting in it are offered."""
        if window is not None:
            self._check_window(*window)
            self.reserve_host_window(*window)
        self._interceptors.append((fn, window))

    def remove_write_interceptor(self, fn: Callable) -> None:
        self._interceptors = [(f, w) for f, w in self._interceptors if f is not fn]

    def set_dma_translator(self, fn: Callable | None) -> None:
        """Translate the device's DMA through `fn(requester_id, pasid, priv, addr, is_write) -> int | fault`
        (None: untranslated, the default). See the module docstring."""
        self._translator = fn

    def set_ats_agent(self, agent) -> None:
        """Answer the device's Translation Requests and route its translated requests through `agent`
        (tb/pcie/ats_agent.AtsAgent); None: AT != 00b is a protocol error."""
        self._ats_agent = agent

    def _translate_span(self, tlp, addr: int, length: int, is_write: bool) -> list[tuple[int, int, object]]:
        """[(offset in the span, length, physical address or fault)], one per 4 KiB page of the span."""
        out = []
        pasid = getattr(tlp, "pasid", None)
        priv = bool(getattr(tlp, "pmr", False)) if pasid is not None else False
        rid = int(tlp.requester_id)
        off = 0
        while off < max(length, 1):
            a = addr + off
            n = min(max(length, 1) - off, 0x1000 - (a & 0xFFF))
            out.append((off, n, self._translator(rid, pasid, priv, a, is_write)))
            off += n
        return out

    async def _translated_write(self, tlp):
        """The write at its physical address(es); returns a TLP for the normal path (one page, translated),
        or None when it was dropped (fault) or written here (several pages)."""
        self.translated_requests += 1
        length = tlp.length * 4
        pages = self._translate_span(tlp, tlp.address, length, True)
        if all(isinstance(pa, int) for _, _, pa in pages) and len(pages) == 1:
            out = PasidTlp(tlp)
            out.address = pages[0][2]
            tlp.release_fc()
            return out
        tlp.release_fc()
        first = tlp.get_first_be_offset() if length else 0
        span_lo, span_hi = first, first + tlp.get_be_byte_count()
        data = bytes(tlp.get_data())
        for off, n, pa in pages:
            if not isinstance(pa, int):
                self.dma_dropped_writes += 1
                self.notes.info("DMA write [%#x, +%d) from %s dropped: translation fault %s",
                              tlp.address + off, n, tlp.requester_id, pa)
                continue
            lo, hi = max(off, span_lo), min(off + n, span_hi)
            if lo < hi:
                await self.mem_address_space.write(pa + lo - off, data[lo:hi])
        return None

    async def _translated_read(self, tlp):
        """Answer a read through the translation: UR if any page faults, else the data of the physical pages
        (one page: the normal path at the physical address)."""
        self.translated_requests += 1
        length = tlp.length * 4
        pages = self._translate_span(tlp, tlp.address, length, False)
        faults = [pa for _, _, pa in pages if not isinstance(pa, int)]
        if faults:
            tlp.release_fc()
            self.dma_faulted_reads += 1
            self.notes.info("DMA read [%#x, +%d) from %s: translation fault %s, UR", tlp.address, length,
                          tlp.requester_id, faults[0])
            await self.send(PasidTlp.create_ur_completion_for_tlp(tlp, PcieId(0, 0, 0)))
            return
        if len(pages) == 1:
            out = PasidTlp(tlp)
            out.address = pages[0][2]
            tlp.release_fc()
            await super().handle_tlp(out)
            return
        tlp.release_fc()
        try:
            data = b"".join([await self.mem_address_space.read(pa, n) for _, n, pa in pages])
        except Exception:
            await self.send(PasidTlp.create_ca_completion_for_tlp(tlp, PcieId(0, 0, 0)))
            return
        await self._send_read_data(tlp, data)

    async def _send_read_data(self, tlp, data: bytes):
        """Completions for a read whose data is known (cocotbext-pcie's splitting: largest TLPs up to MPS)."""
        m = n = 0
        addr = tlp.address + tlp.get_first_be_offset()
        dw_length, byte_length = tlp.length, tlp.get_be_byte_count()
        max_payload_dw = 32 << self.max_payload_size
        rcb_mask = ((128 if self.read_completion_boundary else 64) - 1) & 0xFC
        while m < dw_length:
            cpl = PasidTlp.create_completion_data_for_tlp(tlp, PcieId(0, 0, 0))
            cpl_dw_length = dw_length - m
            cpl.byte_count = byte_length - n
            if cpl_dw_length > max_payload_dw:
                cpl_dw_length = max_payload_dw - ((addr & rcb_mask) >> 2)
            cpl.lower_address = addr & 0x7F
            cpl.set_data(data[m * 4:(m + cpl_dw_length) * 4])
            await self.send(cpl)
            m += cpl_dw_length
            n += cpl_dw_length * 4 - (addr & 3)
            addr += cpl_dw_length * 4 - (addr & 3)

    def add_upstream_observer(self, fn: Callable) -> None:
        """Call `fn(record, tlp)` for every upstream request (completions excluded)."""
        self._observers.append(fn)

    def clear_upstream_log(self) -> None:
        self.upstream_log.clear()

    def _bar_ranges(self):
        for lo, hi in ((self.mem_base, self.mem_limit), (self.prefetchable_mem_base, self.prefetchable_mem_limit)):
            if hi > lo:
                yield lo, hi

    def _check_window(self, base: int, size: int) -> None:
        for lo, hi in self._bar_ranges():
            if base <= hi and lo < base + size:
                raise ValueError(f"interrupt window [{base:#x}, +{size:#x}) overlaps BAR space [{lo:#x}, {hi:#x}] "
                                 f"assigned at enumeration: device writes there are dropped at the root port")

    def reserve_host_window(self, base: int, size: int) -> None:
        """Keep the host allocator away from [base, base+size) (a power of two, aligned), if that range is in
        the host memory pool. Must run before anything is allocated there."""
        pool = self.mem_pool
        rel = base - pool.base
        if rel + size <= 0 or rel >= pool.size:
            return
        if size & (size - 1) or base % size or rel < 0 or rel + size > pool.size:
            raise ValueError(f"window [{base:#x}, +{size:#x}) must be a naturally aligned power of two inside "
                             f"the host pool [{pool.base:#x}, +{pool.size:#x})")
        if pool.find_regions(rel, size):
            raise ValueError(f"window [{base:#x}, +{size:#x}) is already (partly) allocated as host memory")
        # The buddy allocator cannot reserve an address: take blocks of this size until it hands out ours.
        taken = []
        try:
            while True:
                try:
                    block = pool.allocator.alloc(size)
                except Exception as exc:
                    raise ValueError(f"window [{base:#x}, +{size:#x}) cannot be reserved: {exc}") from exc
                if block == rel:
                    break
                taken.append(block)
        finally:
            for block in taken:
                pool.allocator.free(block)

    def map_host_memory(self, base: int, size: int):
        """Back [base, base+size) with host memory at exactly that address (for tables a platform model
        places itself) and return its buffer; inside the host pool the range is reserved first."""
        region = MemoryRegion(size)
        pool = self.mem_pool
        if base + size > pool.base and base < pool.base + pool.size:
            self.reserve_host_window(base, size)
            pool.register_region(region, base - pool.base)
        else:
            self.mem_address_space.register_region(region, base)
        return region.mem

    async def enumerate(self, *args, **kwargs):
        await super().enumerate(*args, **kwargs)
        for _, window in self._interceptors:
            if window is not None:
                self._check_window(*window)

    def _unbacked(self, addr: int, length: int) -> str | None:
        regions = self.mem_address_space.find_regions(addr, max(length, 1))
        if not regions:
            return "no host memory or region there"
        for _, _, _, region in regions:
            if region is self.mem_region:
                return ("it lands in the RC's downstream (BAR) window, where cocotbext-pcie forwards it and it is "
                        "lost: an interrupt address whose platform model is not registered?")
            if region is self.mem_pool and not self.host_memory.contains(addr, length):
                return "that host memory is not allocated"
        return None

    async def handle_tlp(self, tlp):
        if tlp.is_completion():
            await handle_tlp(self, tlp)       # RootComplex.handle_tlp (tb/pcie/dispatch.py)
            return
        is_pasid_tlp = isinstance(tlp, PasidTlp)
        rec = UpstreamRecord(now_ns(), _kind(tlp) if is_pasid_tlp else tlp.fmt_type.name, tlp.address,
                             tlp.length, int(tlp.requester_id), tlp.tag, getattr(tlp, "pasid", None),
                             getattr(tlp, "pmr", False), getattr(tlp, "er", False), tlp.get_header_size_dw())
        self.upstream_log.append(rec)
        for obs in self._observers:
            obs(rec, tlp)
        if is_pasid_tlp and int(tlp.at) and not tlp.is_dmwr():
            if self._ats_agent is None:
                tlp.release_fc()
                raise ProtocolError(f"upstream request with AT {int(tlp.at):#04b} and no translation agent: {tlp!r}")
            tlp = await self._ats_agent.upstream(tlp)
            if tlp is not None:
                await RootComplex.handle_tlp(self, tlp)     # at the physical address, no IOMMU translation
            return
        if is_pasid_tlp and tlp.is_dmwr():
            tlp.release_fc()
            self.log.warning("DMWr from %s to the root complex: UR", tlp.requester_id)
            await self.send(PasidTlp.create_ur_completion_for_tlp(tlp, PcieId(0, 0, 0)))
            return
        if tlp.fmt_type in _WRITES:
            addr, data = write_span(tlp)
            rid = int(tlp.requester_id)
            for fn, window in self._interceptors:
                if window is not None and not window[0] <= addr < window[0] + window[1]:
                    continue
                claimed = fn(addr, data, rid, tlp)
                if inspect.isawaitable(claimed):
                    claimed = await claimed
                if claimed:
                    tlp.release_fc()
                    self.intercepted_writes += 1
                    return
            if self._translator is not None:
                tlp = await self._translated_write(tlp)
                if tlp is None:
                    return
            if self.strict_upstream:
                why = self._unbacked(tlp.address, tlp.length * 4)
                if why:
                    tlp.release_fc()
                    raise ProtocolError(f"upstream write from {tlp.requester_id} to {tlp.address:#x} "
                                        f"({len(data)} bytes) is claimed by nothing: {why}")
        elif self._translator is not None and tlp.fmt_type in _READS:
            await self._translated_read(tlp)
            return
        await handle_tlp(self, tlp)

    # ---- completions of the host's non-posted requests ----------------------------------------------
    async def recv_cpl(self, tag, timeout=0, timeout_unit="ns"):
        """RootComplex.recv_cpl (cocotbext-pcie 0.2.16: the next completion for `tag`, or None when none came
        within `timeout`), with the timeout kept by `Deadlines` (tb/pcie/deadlines.py) instead of a
        First(Event, Timer) per wait. A deadline only wakes the wait it was armed for: a new wait on a tag
        cancels the one an abandoned wait (its task ended with a test) left armed."""
        queue = self.rx_cpl_queues[tag]
        if queue.empty():
            sync = self.rx_cpl_sync[tag]
            sync.clear()
            if timeout:
                if self._cpl_deadline[tag] is not None:
                    self._cpl_deadline[tag].cancel()
                deadline = self._cpl_deadline[tag] = self._cpl_deadlines.arm(get_sim_steps(timeout, timeout_unit),
                                                                              sync.set)
                await sync.wait()
                deadline.cancel()
            else:
                await sync.wait()
            if queue.empty():
                return None
        cpl = queue.get_nowait()
        cpl.release_fc()
        return cpl

    # ---- downstream requests with PASID / DMWr ------------------------------------------------
    async def send_nonposted(self, tlp, timeout_ns: int | None = None):
        """Send a non-posted request and return its (first) completion; CompletionTimeout if none comes."""
        timeout_ns = self.np_timeout_ns if timeout_ns is None else timeout_ns
        cpls = await self.perform_nonposted_operation(tlp, timeout_ns, "ns")
        if not cpls:
            raise CompletionTimeout(f"{_kind(tlp)} to {tlp.address:#x} got no completion within {timeout_ns} ns: "
                                    f"no BAR claims the address (cocotbext-pcie drops unroutable writes without a "
                                    f"UR) or the device never answered")
        return cpls[0]

    async def dmwr(self, addr: int, data64: bytes, pasid: int | None, priv: bool = False,
                   timeout_ns: int | None = None, requester_id=PcieId(0, 0, 0)) -> CplStatus:
        """ENQCMD(S): a 64-byte DMWr with a PASID prefix (PMR = priv). Returns SC, RRS, UR or CA."""
        if len(data64) != 64 or addr % 64:
            raise ValueError(f"ENQCMD writes 64 bytes to a 64-byte aligned address, got {len(data64)} bytes "
                             f"at {addr:#x}")
        tlp = PasidTlp.create_dmwr(addr, data64, pasid=pasid, pmr=priv, requester_id=requester_id)
        cpl = await self.send_nonposted(tlp, timeout_ns)
        if cpl.has_data() or cpl.status not in DMWR_STATUSES:
            raise ProtocolError(f"DMWr to {addr:#x} answered with {cpl!r}")
        return CplStatus(cpl.status)

    async def mem_write_pasid(self, addr: int, data: bytes, pasid: int | None, priv: bool = False,
                              requester_id=PcieId(0, 0, 0)) -> None:
        """Posted memory write(s) with a PASID prefix (pasid None: without), split at MPS and 4 KiB."""
        mps = 128 << self.max_payload_size
        n = 0
        while n < len(data):
            chunk = min(len(data) - n, mps - (addr & 3), 0x1000 - (addr & 0xFFF))
            await self.perform_posted_operation(PasidTlp.create_mem_write(
                addr, data[n:n + chunk], pasid=pasid, pmr=priv, requester_id=requester_id))
            n += chunk
            addr += chunk
