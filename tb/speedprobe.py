"""Bench-speed probe (`make bench`, sim/bench.py): CPU time and TLP count of a simulator run's tests.

With IMSDEV_SPEED_OUT set, the first `Bench.start` notes the process's CPU time (what the Verilated model's
construction and the Python imports cost is left out), every bench's link shim is kept, and at interpreter
exit one JSON object is written: CPU-seconds from the first test's start to the end, and the TLPs that
crossed the link (host requests, device completions, device requests, host completions). sim/bench.py adds
the simulated time from cocotb's results.xml. Off (nothing kept, nothing written) without the variable.
With IMSDEV_CPROFILE=<file> as well, cProfile runs over the same span and its stats are dumped to <file>
(pstats format; per-function call counts of the bench's Python, a figure that does not move with the load).
"""
from __future__ import annotations

import atexit
import gc
import json
import os
import time

_OUT = os.environ.get("IMSDEV_SPEED_OUT")
_state: dict | None = None


def note_bench(bench) -> None:
    """Called by tb.env.Bench.start for every test's bench."""
    global _state
    if not _OUT:
        return
    if _state is None:
        _state = {"cpu0": time.process_time(), "shims": [], "starts": [], "gc_s": 0.0, "gc_runs": [0, 0, 0]}
        if os.environ.get("IMSDEV_CPROFILE"):
            import cProfile
            _state["prof"] = cProfile.Profile()
            _state["prof"].enable()
        gc.callbacks.append(_gc_timer)
        atexit.register(_write)
    _state["shims"].append(bench.shim)
    _state["starts"].append(time.process_time())


_gc_start = [0.0]


def _gc_timer(phase: str, info: dict) -> None:
    """CPU time in Python's cyclic garbage collector (its share of the bench's CPU)."""
    if phase == "start":
        _gc_start[0] = time.process_time()
    else:
        _state["gc_s"] += time.process_time() - _gc_start[0]
        _state["gc_runs"][info["generation"]] += 1


def _write() -> None:
    if "prof" in _state:
        _state["prof"].disable()
        _state["prof"].dump_stats(os.environ["IMSDEV_CPROFILE"])
    cpu = time.process_time() - _state["cpu0"]
    tlps = {k: sum(s.stats[k] for s in _state["shims"]) for k in ("rx_req", "tx_cpl", "tx_req", "rx_cpl")}
    with open(_OUT, "w") as f:
        json.dump({"cpu_s": round(cpu, 3), "gc_cpu_s": round(_state["gc_s"], 3), "gc_runs": _state["gc_runs"],
                   "tests": len(_state["shims"]), "tlps": tlps,
                   "tlp_total": sum(tlps.values()),
                   # per test, in run order: CPU from its bench's start to the next one's (the next test's
                   # set-up before its bench is ready counts to this one), and its TLPs
                   "per_test": [{"cpu_s": round(t1 - t0, 4), "tlps": sum(s.stats[k] for k in tlps)}
                                for s, t0, t1 in zip(_state["shims"], _state["starts"],
                                                     _state["starts"][1:] + [cpu + _state["cpu0"]])]}, f)
