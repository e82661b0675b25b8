"""`now_ns()`: `cocotb.utils.get_sim_time("ns")`, the same float, without cocotb's argument and unit dispatch.

cocotb's get_sim_time checks a deprecated keyword, joins the simulator's two 32-bit halves and converts the
steps with `_ldexp10(steps, time_precision - log10 scale of the unit)`, three Python calls deep; the stream
sinks, the link shim and the root complex stamp every TLP with it (about 3 calls per TLP). This is that
arithmetic for "ns" (scale -9) inline: steps * 10**e for e > 0, else steps / 10**-e, as `_ldexp10` does.
"""
from __future__ import annotations

import cocotb
from cocotb import simtime as _simtime


def now_ns() -> float:
    high, low = cocotb.simulator.get_sim_time()
    steps = high << 32 | low
    e = _simtime.time_precision + 9
    return steps * (10 ** e) if e > 0 else steps / (10 ** -e)
