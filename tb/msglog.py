"""Interrupt-message scoreboard for tests that watch raw message writes (no platform model).

Claims upstream memory writes that fall in its windows, counts them per (address, data), and lets tests
wait for an exact count with a timeout (a lost interrupt fails with a message, never hangs) and assert
that nothing else arrived (nothing spurious, nothing duplicated).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cocotb.triggers import Event, with_timeout

from tb import coverage
from tb.pcie.tlp import ProtocolError
from tb.simtime import now_ns


@dataclass(frozen=True)
class Message:
    addr: int
    data: int
    requester_id: int
    header_dw: int      # 3 or 4: the header format the device chose
    time_ns: float


def check_interrupt_tlp(tlp) -> None:
    """The device's interrupt messages (MSI-X and IMS) are memory writes without a PASID prefix
    (rtl/link/imsdev_msg_tx.sv): a prefix would make the host's IOMMU treat the message as a write of that
    process's address space. Raises ProtocolError for one that carries a prefix."""
    if getattr(tlp, "has_prefix", False):
        raise ProtocolError(f"interrupt message {tlp!r} carries a PASID prefix (PASID {tlp.pasid:#x}, PMR "
                            f"{int(tlp.pmr)}): the device's interrupt messages have none")


# Windows that raw-message tests use: one below 4 GiB (3DW writes), one above (4DW writes).
WINDOW_32 = (0xFEE0_0000, 0x10_0000)
WINDOW_64 = (0x0000_0010_FEE0_0000, 0x10_0000)


class MessageLog:
    def __init__(self, windows=(WINDOW_32, WINDOW_64)):
        self.windows = tuple(windows)
        self.messages: list[Message] = []
        self.counts: Counter = Counter()
        self._changed = Event()

    def claims(self, addr: int) -> bool:
        return any(base <= addr < base + size for base, size in self.windows)

    def on_write(self, addr: int, data: bytes, requester_id: int, header_dw: int, tlp=None) -> bool:
        """Count a write to one of the windows (`tlp`: the write itself, checked by check_interrupt_tlp)."""
        if not self.claims(addr):
            return False
        if tlp is not None:
            check_interrupt_tlp(tlp)
        if len(data) != 4:
            raise AssertionError(f"interrupt message at {addr:#x} carries {len(data)} bytes, expected one DWORD")
        msg = Message(addr, int.from_bytes(data, "little"), requester_id, header_dw, now_ns())
        self.messages.append(msg)
        self.counts[(msg.addr, msg.data)] += 1
        coverage.raw_message(msg.addr, msg.data, header_dw)
        self._changed.set()
        return True

    def clear(self):
        self.messages.clear()
        self.counts.clear()

    def count(self, addr: int, data: int) -> int:
        return self.counts[(addr, data)]

    async def wait_for(self, expected: Counter | dict, timeout_ns: float = 20_000):
        """Wait until every (addr, data) in `expected` has arrived at least that many times."""
        expected = Counter(expected)

        async def _wait():
            while any(self.counts[k] < n for k, n in expected.items()):
                self._changed.clear()
                await self._changed.wait()

        try:
            await with_timeout(_wait(), timeout_ns, "ns")
        except TimeoutError:
            missing = {f"{a:#x}/{d:#x}": n - self.counts[(a, d)] for (a, d), n in expected.items()
                       if self.counts[(a, d)] < n}
            raise AssertionError(f"interrupt(s) lost: still missing {missing} after {timeout_ns} ns; "
                                 f"received {self._summary()}") from None

    async def wait_total(self, n: int, timeout_ns: float = 20_000):
        """Wait until at least n messages have arrived, whatever their (addr, data)."""
        async def _wait():
            while len(self.messages) < n:
                self._changed.clear()
                await self._changed.wait()

        try:
            await with_timeout(_wait(), timeout_ns, "ns")
        except TimeoutError:
            raise AssertionError(f"interrupt(s) lost: {len(self.messages)} of {n} arrived after {timeout_ns} ns; "
                                 f"received {self._summary()}") from None

    def assert_exactly(self, expected: Counter | dict):
        """Everything received equals `expected`: nothing lost, duplicated or spurious."""
        expected = Counter({k: n for k, n in Counter(expected).items() if n})
        got = Counter({k: n for k, n in self.counts.items() if n})
        if got != expected:
            extra = got - expected
            lost = expected - got
            raise AssertionError("interrupt mismatch: "
                                 + (f"lost {self._fmt(lost)} " if lost else "")
                                 + (f"unexpected/duplicate {self._fmt(extra)}" if extra else ""))

    @staticmethod
    def _fmt(c: Counter) -> str:
        return "{" + ", ".join(f"{a:#x}/{d:#x}x{n}" for (a, d), n in sorted(c.items())) + "}"

    def _summary(self) -> str:
        return self._fmt(self.counts)
