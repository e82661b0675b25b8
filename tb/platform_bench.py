"""Attach an emulated host platform (x86 VT-d remapping, or ARM SMMU + GICv3 ITS) to a running bench,
and score every interrupt it delivers.

``attach_platform(bench, name)`` is called by ``Bench.start`` before enumeration when IMSDEV_PLATFORM is
set. It

* builds the platform model (tb/platform) and the kernel's irq domain (fw/imsdev/platform) over the root
  complex's host memory: the tables and queues the kernel allocates (IRTE table and invalidation queue;
  ITS device/collection tables, command queue, LPI configuration and pending tables, ITTs) live in a
  block of real RC host memory at ``TABLES_BASE`` (reserved in the RC's host pool, clear of the SMMU MSI
  window and of the x86 interrupt window), read and written through the RC's synchronous adapter;
* registers the platform's interrupt window as an RC write interceptor (x86: 0xFEE0_0000 + 1 MiB, the
  remappable/compatibility interrupt window; ARM: the SMMU MSI window 0x0800_0000 + 1 MiB, behind which
  the ITS's GITS_TRANSLATER sits). Before enumeration, so the ARM window is reserved in the host pool
  before anything can be allocated there. The bench's raw message log (``bench.msgs``) gives up the
  windows the platform owns; anything it still catches while a platform is attached is a stray message
  and fails ``assert_clean``;
* timestamps every delivery and fault with simulation time (ns);
* with ``dma_translation=True`` among the options (off by default: every other test runs on flat host
  memory), builds the platform's DMA-translating IOMMU (x86: VtdDmarUnit with VtdSva; ARM: SmmuV3 with
  SmmuSva, beside the MSI window) and makes it the RC's DMA translator: every upstream memory read and
  every write outside the interrupt windows is translated per 4 KiB page with the TLP's requester ID,
  PASID and PMR (a faulting read gets UR, a faulting write is dropped; the IOMMU records the fault). The
  device is attached to its default domain at enumeration (``device_enumerated``), so DMA without a
  PASID stays untranslated. tb/sva.py binds processes to it.

The returned :class:`PlatformHandle` forwards the platform's irq-domain API (``alloc_irqs``,
``set_affinity``, ``free_irqs``, ``expected_target``) and is the interrupt scoreboard:

* ``expect(irq, n=1)``: n more deliveries of ``irq`` are due (``n=0`` just tracks it: any delivery of it
  is then an error). ``expect_fault(reason, n=1, requester_id=None)`` does the same for platform faults.
* ``await wait_all(timeout_ns)``: until every expected delivery and fault has arrived; on timeout an
  AssertionError that lists what is lost (and anything wrong seen so far), never a hang.
* ``assert_clean()``: fails on any lost, duplicate, misrouted or spurious delivery, any fault not
  expected (or expected and missing), any stray message, any message with a foreign requester ID.
* ``report()``: counts for the regression summary.

How a delivery is classified. The platform says which remapping entry it used (x86: the IRTE index and
the message's requester ID; ARM: DeviceID and EventID), which names the source interrupt. A delivery
whose source is a tracked interrupt and whose (target, vector) is that interrupt's expected target *at
the moment of delivery* counts as delivered (beyond the expected count: duplicate); with any other
(target, vector) it is misrouted (right vector/wrong target, or wrong vector/right target, or both). A
delivery from an untracked source (another entry, a compatibility-format message, an ITS INT nobody
expected) is spurious. Because the expected target is taken when the platform delivers, an affinity
change is checked exactly: every delivery before ``set_affinity`` must reach the old target, every one
after it the new one.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from cocotb.triggers import Event, with_timeout
from cocotb.utils import get_sim_time

from tb import coverage
from tb.msglog import check_interrupt_tlp
from tb.platform import HostPlatform, make_platform
from tb.platform.cpu import Delivery
from tb.platform.smmu import MSI_IOVA_BASE, MSI_IOVA_LENGTH
from tb.platform.vtd_ir import INTERRUPT_WINDOW_BASE

X86_WINDOW = (INTERRUPT_WINDOW_BASE, 0x10_0000)
ARM_WINDOW = (MSI_IOVA_BASE, MSI_IOVA_LENGTH)
WINDOWS = {"x86": X86_WINDOW, "arm": ARM_WINDOW}

# Host memory for the kernel's interrupt tables and queues (the ARM device table alone is 512 KiB for
# 16-bit DeviceIDs). A naturally aligned power of two, so the RC's buddy allocator can reserve it.
TABLES_BASE = 0x1000_0000
TABLES_SIZE = 0x40_0000

DEFAULT_WAIT_NS = 50_000


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[0] + b[1] and b[0] < a[0] + a[1]


@dataclass(frozen=True)
class PlatformMessage:
    """One device write that reached the platform's window."""
    time_ns: float
    address: int
    data: int | None          # None unless the write carried exactly one DWORD
    length: int
    requester_id: int
    header_dw: int
    consumed: bool

    def __str__(self) -> str:
        data = f"{self.data:#x}" if self.data is not None else f"{self.length} bytes"
        return (f"write {data} to {self.address:#x} from {self.requester_id:#06x} ({self.header_dw}DW) "
                f"at {self.time_ns} ns")


@dataclass(frozen=True)
class Misroute:
    delivery: Delivery
    irq: Any
    expected: tuple[int, int]

    def __str__(self) -> str:
        got, exp = self.delivery.key, self.expected
        what = ("wrong target" if got[1] == exp[1] else
                "wrong vector" if got[0] == exp[0] else "wrong target and vector")
        return (f"{_irq_name(self.irq)} delivered to (target {got[0]}, vector {got[1]:#x}), expected "
                f"(target {exp[0]}, vector {exp[1]:#x}): {what} at {self.delivery.time} ns")


class _Record:
    def __init__(self, irq):
        self.irq = irq
        self.expected = 0
        self.delivered: list[Delivery] = []


class _FaultExpectation:
    def __init__(self, reason, requester_id: int | None, n: int):
        self.reason = reason
        self.requester_id = requester_id
        self.n = n

    def matches(self, fault) -> bool:
        return _fault_reason(fault) == self.reason and (
            self.requester_id is None or getattr(fault, "requester_id", None) == self.requester_id)

    def __str__(self) -> str:
        reason = f"{int(self.reason):#x}" if isinstance(self.reason, int) else str(getattr(self.reason, "value", self.reason))
        return reason + (f" from {self.requester_id:#06x}" if self.requester_id is not None else "")


def _fault_reason(fault):
    """A fault's reason: VT-d / ITS / MSI-window faults have ``reason``, SMMUv3 DMA events ``event_id``."""
    reason = getattr(fault, "reason", None)
    return getattr(fault, "event_id", None) if reason is None else reason


def _irq_name(irq) -> str:
    return f"irq(rid {irq.requester_id:#06x}, index {irq.index})"


def _source_key(delivery: Delivery) -> tuple[int, int] | None:
    """(requester ID, remapping index) the platform used for this delivery, if it says."""
    details = delivery.details
    if "event_id" in details and "device_id" in details:        # ARM: DeviceID, EventID
        return details["device_id"], details["event_id"]
    if "index" in details and delivery.requester_id is not None:  # x86: SID, IRTE index
        return delivery.requester_id, details["index"]
    return None


class PlatformHandle:
    """The attached platform, its interrupt window, and the interrupt scoreboard (see module doc)."""

    def __init__(self, bench, name: str, model: HostPlatform, window: tuple[int, int],
                 tables: tuple[int, int]):
        self.bench = bench
        self.name = name
        self.model = model
        self.window = window
        self.tables = tables
        self.messages: list[PlatformMessage] = []
        self._records: dict[tuple[int, int], _Record] = {}
        self._retired: list[_Record] = []
        self._misrouted: list[Misroute] = []
        self._spurious: list[Delivery] = []
        self._fault_expectations: list[_FaultExpectation] = []
        self._faults_before = len(model.faults)
        self._msgs_before = len(bench.msgs.messages) if getattr(bench, "msgs", None) is not None else 0
        self._changed = Event()
        self.delivery_seq = 0
        model.on_deliver.append(self._on_deliver)
        model.cpus.on_undeliverable.append(self._on_deliver)

    # ---- the platform's irq-domain API ----------------------------------------------------------
    def alloc_irqs(self, requester_id: int, nvecs: int, hwsize: int | None = None) -> list:
        return self.model.alloc_irqs(requester_id, nvecs, hwsize)

    def set_affinity(self, irq, cpu: int) -> None:
        self.model.set_affinity(irq, cpu)

    def free_irqs(self, irqs: Sequence) -> None:
        self.model.free_irqs(irqs)

    def expected_target(self, irq) -> tuple[int, int]:
        return self.model.expected_target(irq)

    @property
    def cpu_count(self) -> int:
        return self.model.cpu_count

    @property
    def faults(self) -> list:
        """Platform faults recorded since the platform was attached."""
        return self.model.faults[self._faults_before:]

    # ---- DMA translation (dma_translation=True) ----------------------------------------------------
    @property
    def dma_translation(self) -> bool:
        return self.model.dma_translation

    @property
    def sva(self):
        """The kernel's SVA code on this platform's IOMMU (VtdSva / SmmuSva), or None."""
        return self.model.sva

    def device_enumerated(self, requester_id: int) -> None:
        """Bench.start after enumeration: the kernel attaches the device to its default domain."""
        if self.dma_translation:
            self.model.attach_dma_device(requester_id)

    def _translate(self, requester_id: int, pasid, priv: bool, addr: int, is_write: bool):
        result = self.model.translate(requester_id, pasid, priv, addr, is_write)
        if not isinstance(result, int):
            self._changed.set()
        return result

    @property
    def dma_faults(self) -> list:
        """The DMA translation faults recorded since attach (VtdDmaFault / SmmuDmaEvent), oldest first."""
        return [f for f in self.faults if hasattr(f, "is_write")]

    # ---- write path -----------------------------------------------------------------------------
    def _intercept(self, addr: int, data: bytes, requester_id: int, tlp) -> bool:
        if tlp is not None:
            check_interrupt_tlp(tlp)
        deliveries, faults = len(self.model.deliveries), len(self.model.faults)
        consumed = self.model.handle_write(addr, data, requester_id)
        coverage.platform_message(addr, data, self.model.deliveries[deliveries:], self.model.faults[faults:])
        self.messages.append(PlatformMessage(
            get_sim_time("ns"), addr, int.from_bytes(data, "little") if len(data) == 4 else None, len(data),
            requester_id, tlp.get_header_size_dw() if tlp is not None else 0, consumed))
        self._changed.set()
        return consumed

    def _on_deliver(self, delivery: Delivery) -> None:
        self.delivery_seq += 1
        key = _source_key(delivery)
        record = self._records.get(key) if key is not None else None
        if record is None:
            self._spurious.append(delivery)
        else:
            expected = self.model.expected_target(record.irq)
            if delivery.key == expected and delivery.target in self.model.cpus.ids:
                record.delivered.append(delivery)
            else:
                self._misrouted.append(Misroute(delivery, record.irq, expected))
        self._changed.set()

    # ---- expectations ---------------------------------------------------------------------------
    def _record(self, irq) -> _Record:
        key = (irq.requester_id, irq.index)
        record = self._records.get(key)
        if record is not None and record.irq is not irq:
            if record.irq.active:
                raise ValueError(f"{_irq_name(irq)} is already tracked as another live interrupt")
            self._retired.append(record)   # a freed interrupt's index was handed out again
            record = None
        if record is None:
            record = self._records[key] = _Record(irq)
        return record

    def expect(self, irq, n: int = 1) -> None:
        """n more deliveries of irq are due; n=0 only tracks it."""
        if n < 0:
            raise ValueError("n must be >= 0")
        self._record(irq).expected += n

    def track(self, *irqs) -> None:
        for irq in irqs:
            self.expect(irq, 0)

    def expect_fault(self, reason, n: int = 1, requester_id: int | None = None) -> None:
        """n platform faults with this reason (x86: VtdFaultReason or its code; ARM: ItsErrorReason or
        "translation_fault" for an SMMU event), optionally from this requester ID."""
        self._fault_expectations.append(_FaultExpectation(reason, requester_id, n))

    def deliveries_for(self, irq) -> list[Delivery]:
        record = self._records.get((irq.requester_id, irq.index))
        return list(record.delivered) if record is not None and record.irq is irq else []

    # ---- checking -------------------------------------------------------------------------------
    def _all_records(self) -> list[_Record]:
        return self._retired + list(self._records.values())

    def _lost(self) -> list[tuple[Any, int]]:
        return [(r.irq, r.expected - len(r.delivered)) for r in self._all_records()
                if len(r.delivered) < r.expected]

    def _duplicates(self) -> list[tuple[Any, int]]:
        return [(r.irq, len(r.delivered) - r.expected) for r in self._all_records()
                if len(r.delivered) > r.expected]

    def _match_faults(self) -> tuple[list[tuple[_FaultExpectation, int]], list]:
        """(expectations still missing faults, faults nobody expected)."""
        remaining = [[e, e.n] for e in self._fault_expectations]
        unexpected = []
        for fault in self.faults:
            slot = next((s for s in remaining if s[1] > 0 and s[0].matches(fault)), None)
            if slot is None:
                unexpected.append(fault)
            else:
                slot[1] -= 1
        return [(e, left) for e, left in remaining if left > 0], unexpected

    def _stray(self) -> list:
        msgs = getattr(self.bench, "msgs", None)
        return list(msgs.messages[self._msgs_before:]) if msgs is not None else []

    def _foreign_rid(self) -> list[PlatformMessage]:
        try:
            rid = self.bench.requester_id
        except KeyError:        # cfg_bdf not driven yet: nothing enumerated, no requester ID to compare
            return []
        return [m for m in self.messages if m.requester_id != rid]

    def _complete(self) -> bool:
        return not self._lost() and not self._match_faults()[0]

    async def wait_all(self, timeout_ns: float = DEFAULT_WAIT_NS) -> None:
        """Wait until every expected delivery and fault has arrived; AssertionError after timeout_ns."""
        async def _wait():
            while not self._complete():
                self._changed.clear()
                await self._changed.wait()

        try:
            await with_timeout(_wait(), timeout_ns, "ns")
        except TimeoutError:
            raise AssertionError(f"{self.name} platform: after {timeout_ns} ns still waiting: "
                                 + "; ".join(self._problems(include_lost=True))) from None

    async def wait_messages(self, count: int, timeout_ns: float = DEFAULT_WAIT_NS) -> None:
        """Wait until the platform has seen `count` device writes in its window in total (for writes that
        deliver nothing, e.g. to an LPI held pending); AssertionError after timeout_ns."""
        async def _wait():
            while len(self.messages) < count:
                self._changed.clear()
                await self._changed.wait()

        try:
            await with_timeout(_wait(), timeout_ns, "ns")
        except TimeoutError:
            raise AssertionError(f"{self.name} platform: {len(self.messages)} message(s) after {timeout_ns} ns, "
                                 f"expected {count}") from None

    def _problems(self, include_lost: bool = True) -> list[str]:
        out = []
        if include_lost:
            for irq, n in self._lost():
                out.append(f"lost {n} of {_irq_name(irq)} (expected at {self._fmt_key(irq)})")
        for irq, n in self._duplicates():
            out.append(f"{n} duplicate(s) of {_irq_name(irq)}")
        out += [f"misrouted: {m}" for m in self._misrouted]
        out += [f"spurious delivery to (target {d.target}, vector {d.vector:#x}) from rid "
                f"{d.requester_id if d.requester_id is None else hex(d.requester_id)} {d.details}"
                for d in self._spurious]
        missing, unexpected = self._match_faults()
        out += [f"missing {left} fault(s) {e}" for e, left in missing]
        out += [f"unexpected fault {f}" for f in unexpected]
        out += [f"stray interrupt message outside the {self.name} window: {m}" for m in self._stray()]
        out += [f"message with a foreign requester ID (device is {self.bench.requester_id:#06x}): {m}"
                for m in self._foreign_rid()]
        return out

    def _fmt_key(self, irq) -> str:
        target, vector = self.model.expected_target(irq)
        return f"(target {target}, vector {vector:#x})"

    def assert_clean(self) -> None:
        """Fail on anything lost, duplicated, misrouted, spurious, stray, or an unexpected/missing fault.
        Call after ``wait_all`` and a settle time, so late duplicates have had time to arrive."""
        problems = self._problems()
        if problems:
            raise AssertionError(f"{self.name} platform interrupt scoreboard: " + "; ".join(problems))

    def report(self) -> dict:
        """Counts for the regression summary."""
        records = self._all_records()
        missing, unexpected = self._match_faults()
        return {
            "platform": self.name,
            "expected": sum(r.expected for r in records),
            "delivered": sum(min(len(r.delivered), r.expected) for r in records),
            "lost": sum(n for _, n in self._lost()),
            "duplicate": sum(n for _, n in self._duplicates()),
            "misrouted": len(self._misrouted),
            "spurious": len(self._spurious) + len(self._stray()),
            "faults": len(self.faults),
            "faults_expected": sum(e.n for e in self._fault_expectations),
            "faults_unexpected": len(unexpected),
            "faults_missing": sum(left for _, left in missing),
            "messages": len(self.messages),
        }

    def fault_reasons(self) -> Counter:
        return Counter(_fault_reason(f) for f in self.faults)


def attach_platform(bench, name: str, **options: Any) -> PlatformHandle:
    """Build platform `name` ("x86" or "arm") over bench.rc's host memory and claim its interrupt window.
    Call before enumeration. `options` go to the platform model (e.g. apic_ids, cpu_count)."""
    if name not in WINDOWS:
        raise ValueError(f"IMSDEV_PLATFORM={name!r}: known platforms are {', '.join(WINDOWS)}")
    rc = bench.rc
    window = WINDOWS[name]
    tables = (TABLES_BASE, TABLES_SIZE)
    for other in WINDOWS.values():
        assert not _overlaps(tables, other), "platform tables overlap an interrupt window"

    # The bench's raw message log keeps only the windows the platform does not own: a message it still
    # catches is stray (the device wrote an interrupt somewhere this platform would never see it).
    msgs = getattr(bench, "msgs", None)
    if msgs is not None:
        msgs.windows = tuple(w for w in msgs.windows if not _overlaps(w, window))

    holder: dict[str, PlatformHandle] = {}

    def intercept(addr, data, requester_id, tlp):
        return holder["handle"]._intercept(addr, data, requester_id, tlp)

    rc.add_write_interceptor(intercept, window)     # reserves the ARM window in the host pool first
    rc.map_host_memory(*tables)
    model = make_platform(name, memory=rc.host_memory, alloc_base=tables[0], alloc_size=tables[1],
                          now=lambda: get_sim_time("ns"), **options)
    handle = holder["handle"] = PlatformHandle(bench, name, model, window, tables)
    if model.dma_translation:
        rc.set_dma_translator(handle._translate)
    bench.log.info("platform %s attached: window [%#x, +%#x), kernel tables in host memory [%#x, +%#x)",
                   name, window[0], window[1], tables[0], tables[1])
    return handle


def platform_name() -> str:
    """The platform this run uses (IMSDEV_PLATFORM), or '' for none."""
    return os.environ.get("IMSDEV_PLATFORM", "")
