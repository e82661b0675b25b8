"""DeviceOps over the cocotb bench, so the driver model (fw/imsdev/driver) and the C library (fw/lib) run
against the RTL.

The driver is blocking code, like a kernel driver: it runs in a cocotb bridge thread
(`await cocotb.task.bridge(fn)(...)`) and every operation here resumes the simulation
(`cocotb.task.resume`) until that access is done. The bridge runs one side at a time, so the thread
may also touch host memory and the platform models synchronously (as the platform's irq domain does).

Interrupts come from the platform Bench.start attached (IMSDEV_PLATFORM=x86|arm, tb/platform_bench.py):
its kernel irq domain (fw/imsdev/platform) composes the messages, every interrupt it hands out is
tracked by the platform scoreboard (so a delivery nobody expected is reported as spurious), and each
delivery is queued as its (target, vector) for wait_irq.
"""
from __future__ import annotations

import sys
import traceback
import weakref
from collections import Counter, deque
from typing import Sequence

from cocotb.task import resume
from cocotb.triggers import Event, Timer, with_timeout
from cocotb.utils import get_sim_time

from imsdev.driver.ops import DeviceOps, DmwrStatus
from imsdev.platform import Irq, IrqDomain

# Driver sleeps (msleep) are compressed: 1 ms of driver time is 20 ns of simulation, so pcie_flr's 100 ms
# is the same 2 us Bench.function_level_reset allows. The RTL needs no settling time; the point is the
# order of operations, which is unchanged.
MSLEEP_SIM_NS = 20


class TrackedDomain(IrqDomain):
    """The platform's irq domain, with every allocated interrupt registered on the platform scoreboard."""

    def __init__(self, plat):
        self.plat = plat

    @property
    def cpu_count(self) -> int:
        return self.plat.cpu_count

    def alloc_irqs(self, requester_id: int, nvecs: int, hwsize: int | None = None) -> list[Irq]:
        irqs = self.plat.alloc_irqs(requester_id, nvecs, hwsize)
        self.plat.track(*irqs)
        return irqs

    def set_affinity(self, irq: Irq, cpu: int) -> None:
        self.plat.set_affinity(irq, cpu)

    def free_irqs(self, irqs: Sequence[Irq]) -> None:
        self.plat.free_irqs(irqs)


_LIVE: "weakref.WeakSet[BenchOps]" = weakref.WeakSet()


def flush_all() -> None:
    """Issue every BenchOps's queued posted writes (run_blocking calls it when the driver code returns)."""
    for ops in list(_LIVE):
        ops.flush()


def _frames(where) -> list[traceback.FrameSummary]:
    """The (file, line, function) triples BenchOps._post keeps, as traceback's frame summaries."""
    return [traceback.FrameSummary(filename, lineno, name) for filename, lineno, name in where]


class BenchOps(DeviceOps):
    """Blocking DeviceOps over a started tb.env.Bench; call only from a cocotb bridge thread.

    Posted writes to the device's BARs (MMIO writes, MOVDIR64B) are queued and issued, in program order, by
    the next operation that resumes the simulation (a read, a configuration access, a DMWr, a wait, a
    sleep, the clock) or when the driver code returns (tb/tests/fw/common.py run_blocking). No simulated
    time passes while the driver thread runs, and a write to the device takes none to reach the link, so
    the RTL sees the same accesses in the same cycles; what is saved is a round trip between the driver
    thread and the simulator per write, most of a driver test's CPU. A queued write that fails raises
    where it is issued, naming the driver line that made it."""

    def __init__(self, bench):
        plat = getattr(bench, "platform", None)
        if plat is None:
            raise RuntimeError("the driver model needs a platform irq domain: run with IMSDEV_PLATFORM=x86|arm "
                               "(sim/testplan.py platforms)")
        self.bench = bench
        self.plat = plat
        self.requester_id = bench.requester_id
        self.irq_domain = TrackedDomain(plat)
        self.counts: Counter = Counter()
        self._delivered: deque = deque()
        self._arrived = Event()
        plat.model.on_deliver.append(self._on_deliver)
        rc, dev = bench.rc, bench.dev
        self._rd32 = resume(rc.mem_read_dword)
        self._rd64 = resume(rc.mem_read_qword)
        self._cfg_rd = {1: resume(dev.config_read_byte), 2: resume(dev.config_read_word),
                        4: resume(dev.config_read_dword)}
        self._cfg_wr = {1: resume(dev.config_write_byte), 2: resume(dev.config_write_word),
                        4: resume(dev.config_write_dword)}
        self._dmwr = resume(rc.dmwr)
        self._posted: list = []         # (coroutine function, args, where): posted writes not yet issued
        self._issue = resume(self._issue_posted)
        self._bars = [(a, a + n) for a, n in zip(dev.bar_addr, dev.bar_size) if a is not None and n]
        _LIVE.add(self)
        self._wait = resume(self._wait_irq)
        self._sleep = resume(self._sleep_ns)
        self._now = resume(self._now_ns)

    def _on_deliver(self, delivery) -> None:
        self._delivered.append(delivery.key)
        self._arrived.set()

    # ---- posted writes to the device ----------------------------------------------------------
    def _to_device(self, addr: int, length: int) -> bool:
        return any(lo <= addr and addr + length <= hi for lo, hi in self._bars)

    def _post(self, fn, addr: int, length: int, *args) -> None:
        """Queue a posted write; one outside the device's BARs (host memory or a platform model's registers,
        which act at once) is issued now, with the ones queued before it."""
        # where: the driver's two frames above mmio_write32/mmio_write64/movdir64b, as (file, line, function),
        # outermost first: what traceback.extract_stack(limit=4)[:-2] gave, without its per-call stat() of
        # each file and source-line reads (read only if the write fails)
        f = sys._getframe(2)
        where = []
        while f is not None and len(where) < 2:
            code = f.f_code
            where.append((code.co_filename, f.f_lineno, code.co_name))
            f = f.f_back
        where.reverse()
        self._posted.append((fn, (addr, *args), where))
        if not self._to_device(addr, length):
            self.flush()

    async def _issue_posted(self, writes) -> None:
        for fn, args, where in writes:
            try:
                await fn(*args)
            except Exception as exc:
                raise type(exc)(f"{exc} (a posted write to {args[0]:#x} queued at "
                                f"{''.join(traceback.format_list(_frames(where))).strip()})") from exc

    def flush(self) -> None:
        """Issue the queued posted writes, in program order, in one resume of the simulation."""
        if self._posted:
            writes, self._posted = self._posted, []
            self._issue(writes)

    @property
    def pending_writes(self) -> int:
        return len(self._posted)

    # ---- MMIO and config space ---------------------------------------------------------------
    def mmio_read32(self, addr: int) -> int:
        self.counts["mmio_read"] += 1
        self.flush()
        return self._rd32(addr)

    def mmio_write32(self, addr: int, value: int) -> None:
        self.counts["mmio_write"] += 1
        self._post(self.bench.rc.mem_write_dword, addr, 4, value & 0xFFFF_FFFF)

    def mmio_read64(self, addr: int) -> int:
        self.counts["mmio_read"] += 1
        self.flush()
        return self._rd64(addr)

    def mmio_write64(self, addr: int, value: int) -> None:
        self.counts["mmio_write"] += 1
        self._post(self.bench.rc.mem_write_qword, addr, 8, value)

    def cfg_read(self, offset: int, size: int) -> int:
        self.counts["cfg_read"] += 1
        self.flush()
        return self._cfg_rd[size](offset)

    def cfg_write(self, offset: int, size: int, value: int) -> None:
        self.counts["cfg_write"] += 1
        self.flush()
        self._cfg_wr[size](offset, value)

    # ---- host memory ----------------------------------------------------------------------------
    def mem_alloc(self, size: int, align: int = 64) -> int:
        # The RC's pool is a buddy allocator: a power-of-two block is aligned to its size.
        block = max(4096, align, 1 << (max(size, 1) - 1).bit_length())
        region = self.bench.rc.mem_pool.alloc_region(block)
        self.counts["mem_alloc"] += 1
        return region.get_absolute_address(0)

    def mem_read(self, addr: int, length: int) -> bytes:
        return self.bench.rc.host_memory.read(addr, length)

    def mem_write(self, addr: int, data: bytes) -> None:
        self.bench.rc.host_memory.write(addr, bytes(data))

    # ---- submission -----------------------------------------------------------------------------
    def dmwr(self, addr: int, data: bytes, pasid: int, priv: bool = False) -> DmwrStatus:
        self.flush()
        st = DmwrStatus(int(self._dmwr(addr, bytes(data), pasid, priv)))
        self.counts[f"dmwr_{st.name}"] += 1
        return st

    def movdir64b(self, addr: int, data: bytes) -> None:
        self.counts["movdir64b"] += 1
        self._post(self.bench.rc.mem_write_pasid, addr, len(data), bytes(data), None)

    # ---- interrupts and time ----------------------------------------------------------------------
    async def _wait_irq(self, timeout_ns: int) -> list[tuple[int, int]]:
        if not self._delivered and timeout_ns > 0:
            self._arrived.clear()
            try:
                await with_timeout(self._arrived.wait(), timeout_ns, "ns")
            except TimeoutError:
                pass
        out = list(self._delivered)
        self._delivered.clear()
        return out

    def wait_irq(self, timeout_ns: int) -> list[tuple[int, int]]:
        self.flush()
        keys = self._wait(int(timeout_ns))
        self.counts["irqs_taken"] += len(keys)
        return keys

    async def _sleep_ns(self, ns: int) -> None:
        await Timer(max(int(ns), 1), "ns")

    def delay_ns(self, ns: int) -> None:
        self.flush()
        self._sleep(ns)

    def msleep(self, ms: int) -> None:
        self.flush()
        self._sleep(ms * MSLEEP_SIM_NS)

    async def _now_ns(self) -> int:
        return int(get_sim_time("ns"))

    def ktime_get_ns(self) -> int:
        self.flush()
        return self._now()
