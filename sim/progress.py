"""Progress of a running regression: "progress: done/total runs, elapsed, ETA" lines (sim/conftest.py); a run is
one item of the selection (module x configuration x platform [x reseed]).

The ETA is the expected seconds of the items not yet finished (sim/durations.json, through the plan
run.py hands to pytest), corrected by how fast the finished items ran against their estimates, divided
by the number of workers. Lines are throttled: in a terminal at most every `tty_every` seconds, elsewhere
(CI logs) when `every` seconds have passed or another 10% of the items finished; the last item always
prints.
"""
from __future__ import annotations


def fmt_secs(s: float | None) -> str:
    if s is None:
        return "?"
    s = max(0, int(round(s)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")


class Progress:
    def __init__(self, estimates: dict[str, float], jobs: int = 1, start: float = 0.0, tty: bool = False,
                 every: float = 30.0, tty_every: float = 5.0):
        self.est = dict(estimates)
        self.jobs = max(1, jobs)
        self.start = start
        self.tty = tty
        self.every = tty_every if tty else every
        self.done: dict[str, float] = {}
        self._last_time = start
        self._last_decile = 0

    @property
    def total(self) -> int:
        return len(self.est)

    def eta(self) -> float:
        """Seconds until the last item ends (estimate)."""
        remaining = sum(v for k, v in self.est.items() if k not in self.done)
        expected_done = sum(self.est[k] for k in self.done if k in self.est)
        speed = 1.0
        if expected_done > 0:
            speed = min(5.0, max(0.2, sum(self.done.values()) / expected_done))
        return remaining * speed / self.jobs

    def line(self, now: float) -> str:
        return (f"progress: {len(self.done)}/{self.total} runs, elapsed {fmt_secs(now - self.start)}, "
                f"ETA {fmt_secs(self.eta()) if len(self.done) < self.total else '0s'}")

    def finish(self, item: str, secs: float, now: float) -> str | None:
        """Record an item's end; the line to print, or None while throttled."""
        if item in self.done or (self.est and item not in self.est):
            return None
        self.done[item] = secs
        decile = (10 * len(self.done)) // max(1, self.total)
        due = (len(self.done) == self.total or now - self._last_time >= self.every
               or (not self.tty and decile > self._last_decile))
        if not due:
            return None
        self._last_time, self._last_decile = now, decile
        return self.line(now)
