"""The clock every bench drives: cocotb's C++ (GPI) clock, writing without delay.

cocotb's default clock without COCOTB_TRUST_INERTIAL_WRITES is a Python task: at every edge a Timer wakes it,
its write waits for the ReadWrite phase, and Verilator applies it as an inertial write after an evaluation of
the model that had nothing new to evaluate. That is a Python task resume and two model evaluations per edge.
The GPI clock toggles from a C++ timer callback and an immediate write (vpiNoDelay) changes the signal at
once: one evaluation per edge and no Python.

What the bench sees is the same: the edge's value-change callbacks (RisingEdge) still run after the clock
changed and before the model evaluates the edge, so a task woken by RisingEdge reads the values from before
the edge, and what it writes takes effect after the edge (it is applied in the ReadWrite phase that follows).
One difference: a Timer that expires at a rising edge's time and was started less than half a period
before runs after the clock's callback of that time step (callbacks due at the same time run in the order
they were registered), so it reads clk as 1 and a RisingEdge it then awaits is the next edge. Before, the
clock's write waited for the ReadWrite phase and such a Timer always saw clk at 0. The bench's waits are
edge-based; Bench.cycles reads clk itself.
"""
from __future__ import annotations

from cocotb.clock import Clock
from cocotb.handle import Immediate


def start_clock(clk, period_ns: float) -> Clock:
    """Start a 50% duty-cycle clock on `clk` (high for the first half period) and return it."""
    clock = Clock(clk, period_ns, "ns", impl="gpi", set_action=Immediate)
    clock.start()
    return clock
