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


class BenchOps(DeviceOps):
    """Blocking DeviceOps over a started tb.env.Bench; call only from a cocotb bridge thread."""

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
        self._wr32 = resume(rc.mem_write_dword)
        self._rd64 = resume(rc.mem_read_qword)
        self._wr64 = resume(rc.mem_write_qword)
        self._cfg_rd = {1: resume(dev.config_read_byte), 2: resume(dev.config_read_word),
                        4: resume(dev.config_read_dword)}
        self._cfg_wr = {1: resume(dev.config_write_byte), 2: resume(dev.config_write_word),
                        4: resume(dev.config_write_dword)}
        self._dmwr = resume(rc.dmwr)
        self._posted64 = resume(rc.mem_write_pasid)
        self._wait = resume(self._wait_irq)
        self._sleep = resume(self._sleep_ns)
        self._now = resume(self._now_ns)

    def _on_deliver(self, delivery) -> None:
        self._delivered.append(delivery.key)
        self._arrived.set()

    # ---- MMIO and config space ---------------------------------------------------------------
    def mmio_read32(self, addr: int) -> int:
        self.counts["mmio_read"] += 1
        return self._rd32(addr)

    def mmio_write32(self, addr: int, value: int) -> None:
        self.counts["mmio_write"] += 1
        self._wr32(addr, value & 0xFFFF_FFFF)

    def mmio_read64(self, addr: int) -> int:
        self.counts["mmio_read"] += 1
        return self._rd64(addr)

    def mmio_write64(self, addr: int, value: int) -> None:
        self.counts["mmio_write"] += 1
        self._wr64(addr, value)

    def cfg_read(self, offset: int, size: int) -> int:
        self.counts["cfg_read"] += 1
        return self._cfg_rd[size](offset)

    def cfg_write(self, offset: int, size: int, value: int) -> None:
        self.counts["cfg_write"] += 1
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
        st = DmwrStatus(int(self._dmwr(addr, bytes(data), pasid, priv)))
        self.counts[f"dmwr_{st.name}"] += 1
        return st

    def movdir64b(self, addr: int, data: bytes) -> None:
        self.counts["movdir64b"] += 1
        self._posted64(addr, bytes(data), None)

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
        keys = self._wait(int(timeout_ns))
        self.counts["irqs_taken"] += len(keys)
        return keys

    async def _sleep_ns(self, ns: int) -> None:
        await Timer(max(int(ns), 1), "ns")

    def delay_ns(self, ns: int) -> None:
        self._sleep(ns)

    def msleep(self, ms: int) -> None:
        self._sleep(ms * MSLEEP_SIM_NS)

    async def _now_ns(self) -> int:
        return int(get_sim_time("ns"))

    def ktime_get_ns(self) -> int:
        return self._now()
