"""Constrained-random stress of the whole device (tb/tests/stress/test_stress.py, `make stress`).

* harness.py: the stress environment over tb.wq.WqEnv: interrupts through the platform's irq domain,
  the per-epoch scoreboard (tb.wq.Scoreboard extended to platform messages and masked-entry replays),
  backpressure gates on the four streams, checkpoints and the run's counts (stress_counts.json);
* traffic.py: descriptor generation and the per-WQ submitters;
* events.py: the control events drawn at random times while traffic runs.
"""
