"""`FirstOf`: cocotb's `First(trigger, ...)` for plain triggers, without a task per trigger.

cocotb 2.1's `First` wraps each of its triggers in a Task of its own, waits on them with an internal event
and cancels the losers: two task starts, four or five task resumptions and a cancellation for each wait of
`Bench.settle()` on "dev_idle's edge or the window's Timer" (about 3,000 waits in the MSI-X test module).
`FirstOf` is one Trigger: primed, it registers a callback on each of its triggers; the first to fire
deregisters the others (a GPI trigger's simulator callback is removed) and fires `FirstOf` in the same
callback, so the waiting task resumes in the same simulator step and evaluation as with `First`, and
`fired` names the trigger that fired (what `await First(...)` returns). A `FirstOf` whose waiter goes away
(its task cancelled at the end of a test) deregisters from every trigger. Only triggers: `First`'s other
awaitables (tasks, waitables) need its tasks.
"""
from __future__ import annotations

import cocotb
from cocotb.triggers import Trigger

# Both classes below use cocotb's Trigger internals (_register / _prime / _unprime / _react and a callback
# handle's _trigger and cancel), as in the cocotb that requirements.txt pins. Another cocotb fails here, at
# import, naming what is missing, instead of mis-scheduling a test.
_NEEDED = ("_register", "_prime", "_unprime", "_react")
_missing = [a for a in _NEEDED if not hasattr(Trigger, a)]
if _missing:
    raise ImportError(f"tb/triggers.py: cocotb {cocotb.__version__}'s Trigger has no {', '.join(_missing)}; "
                      f"FirstOf / Then were written against the cocotb pinned in requirements.txt")


class FirstOf(Trigger):
    """Fires with the first of `triggers` to fire; `fired` is that trigger (module docstring)."""

    def __init__(self, *triggers: Trigger):
        if not triggers:
            raise ValueError("FirstOf() requires at least one Trigger")
        for t in triggers:
            if not isinstance(t, Trigger):
                raise TypeError(f"FirstOf takes triggers only, got {type(t).__qualname__}")
        super().__init__()
        self._triggers = triggers
        self._handles: list = []
        self.fired: Trigger | None = None

    def _prime(self) -> None:
        self.fired = None
        self._handles = []
        for t in self._triggers:
            self._handles.append(t._register(lambda t=t: self._on(t)))
            if self.fired is not None:      # that trigger fired as it was primed (e.g. a set Event's wait)
                break

    def _on(self, trigger: Trigger) -> None:
        if self.fired is not None:
            return
        self.fired = trigger
        handles, self._handles = self._handles, []
        for h in handles:
            if h._trigger is not trigger:
                h.cancel()
        self._react()

    def _unprime(self) -> None:
        handles, self._handles = self._handles, []
        for h in handles:
            h.cancel()

    def __repr__(self) -> str:
        return f"FirstOf({', '.join(repr(t) for t in self._triggers)})"


class Then(Trigger):
    """Fires at the first firing of `second` after `first` fired: what `await first; await second` waits for,
    without resuming the waiting task in between (`second` is registered in `first`'s callback, where that task
    would have registered it). For the stream drivers: "valid rose, now the next clock edge", "something was
    queued, now the next clock edge"."""

    def __init__(self, first: Trigger, second: Trigger):
        super().__init__()
        self._first = first
        self._second = second
        self._handle = None
        self._stage = 0

    def _prime(self) -> None:
        self._stage = 1
        self._handle = None
        handle = self._first._register(self._on_first)
        if self._stage == 1:                # `first` did not fire as it was primed
            self._handle = handle

    def _on_first(self) -> None:
        self._stage = 2
        handle = self._second._register(self._on_second)
        if self._stage == 2:
            self._handle = handle

    def _on_second(self) -> None:
        self._stage = 0
        self._handle = None
        self._react()

    def _unprime(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()

    def __repr__(self) -> str:
        return f"Then({self._first!r}, {self._second!r})"
