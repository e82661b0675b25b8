"""Timeouts kept by one task: a callback at a simulated deadline unless cancelled first.

A completion timeout is armed for every non-posted request the host sends and almost never fires. The
package's way, `First(event.wait(), Timer(t))` per wait, starts two tasks and primes a Timer each time
(cocotb 2.1 `First` runs every awaitable in a task of its own), several percent of the bench's CPU per TLP.
`Deadlines` keeps the armed deadlines in a heap and one task that sleeps until the earliest one still
armed; arming a later deadline costs a heap push, cancelling one a flag. The callback runs at exactly its
deadline: a deadline earlier than the one the task sleeps until restarts the task.
"""
from __future__ import annotations

import heapq
import itertools
from typing import Callable

import cocotb
from cocotb.triggers import Timer
from cocotb.utils import get_sim_time


class Deadline:
    """One armed deadline; `cancel()` before it passes and its callback never runs."""
    __slots__ = ("fire", "armed")

    def __init__(self, fire: Callable[[], None]):
        self.fire = fire
        self.armed = True

    def cancel(self) -> None:
        self.armed = False


class Deadlines:
    def __init__(self):
        self._heap: list[tuple[int, int, Deadline]] = []
        self._order = itertools.count()      # equal deadlines fire in the order they were armed
        self._task = None
        self._sleeping_until: int | None = None
        self.fired = 0

    def arm(self, delay_steps: int, fire: Callable[[], None]) -> Deadline:
        """Call `fire()` `delay_steps` simulator steps from now unless the returned Deadline is cancelled."""
        if delay_steps < 0:
            raise ValueError(f"a deadline {delay_steps} steps in the past")
        when = get_sim_time("step") + delay_steps
        d = Deadline(fire)
        heapq.heappush(self._heap, (when, next(self._order), d))
        task = self._task
        if task is None or task.done():        # a test's tasks end with the test: start one on first use
            self._task = cocotb.start_soon(self._run())
        elif self._sleeping_until is not None and when < self._sleeping_until:
            task.cancel()
            self._task = cocotb.start_soon(self._run())
        return d

    @property
    def armed(self) -> int:
        return sum(1 for _, _, d in self._heap if d.armed)

    async def _run(self) -> None:
        heap = self._heap
        while heap:
            when, _, d = heap[0]
            if not d.armed:
                heapq.heappop(heap)
                continue
            now = get_sim_time("step")
            if when <= now:
                heapq.heappop(heap)
                d.armed = False
                self.fired += 1
                d.fire()
                continue
            self._sleeping_until = when
            await Timer(when - now, "step")
            self._sleeping_until = None
