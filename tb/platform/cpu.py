"""Modelled CPUs: where remapped interrupts finally land.

One class serves both platforms. On x86 a target is a local APIC ID and the vector is the IDT vector
the VT-d model took from the IRTE (facts section 4). On ARM a target is the processor number that a GIC
collection names (GITS_TYPER.PTA = 0, facts section 5) and the vector is the LPI INTID.

Every accepted interrupt becomes a :class:`Delivery` with a timestamp from the caller's ``now()``
(in the bench: simulation time), is counted per (target, vector), and is passed to each callback in
``on_deliver`` so the bench can wake a waiting coroutine. A message naming a CPU that does not exist is
lost on real hardware; here it is kept in ``undeliverable`` so a scoreboard can report it at once
instead of timing out.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable


@dataclass(frozen=True)
class Delivery:
    target: int
    vector: int
    time: Any
    requester_id: int | None = None
    details: dict = field(default_factory=dict, compare=False)

    @property
    def key(self) -> tuple[int, int]:
        return (self.target, self.vector)


DeliveryCallback = Callable[[Delivery], None]


class Cpus:
    """A set of interrupt targets (APIC IDs on x86, processor numbers on ARM)."""

    def __init__(self, ids: Iterable[int] = range(4), now: Callable[[], Any] | None = None):
        self.ids: tuple[int, ...] = tuple(ids)
        if len(set(self.ids)) != len(self.ids):
            raise ValueError(f"duplicate CPU ids in {self.ids}")
        self._now = now if now is not None else itertools.count().__next__
        self.deliveries: list[Delivery] = []
        self.undeliverable: list[Delivery] = []
        self.on_deliver: list[DeliveryCallback] = []
        self.on_undeliverable: list[DeliveryCallback] = []
        self._counts: Counter[tuple[int, int]] = Counter()

    def now(self) -> Any:
        return self._now()

    def deliver(self, target: int, vector: int, requester_id: int | None = None,
                **details: Any) -> Delivery:
        record = Delivery(target, vector, self._now(), requester_id, details)
        if target not in self.ids:
            self.undeliverable.append(record)
            for callback in list(self.on_undeliverable):
                callback(record)
            return record
        self.deliveries.append(record)
        self._counts[record.key] += 1
        for callback in list(self.on_deliver):
            callback(record)
        return record

    def count(self, target: int, vector: int) -> int:
        return self._counts[(target, vector)]

    @property
    def counts(self) -> dict[tuple[int, int], int]:
        return dict(self._counts)

    def clear(self) -> None:
        self.deliveries.clear()
        self.undeliverable.clear()
        self._counts.clear()
