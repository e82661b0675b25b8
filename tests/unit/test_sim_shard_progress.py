"""`make sim`'s progress lines (sim/progress.py): ETA from the durations, throttling in CI and in a terminal."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sim"))

from progress import Progress, fmt_secs  # noqa: E402


def test_fmt_secs():
    assert [fmt_secs(s) for s in (0, 59.4, 60, 754, 3600 + 61)] == ["0s", "59s", "1m00s", "12m34s", "1h01m01s"]
    assert fmt_secs(None) == "?" and fmt_secs(-3) == "0s"


def test_eta_from_durations_workers_and_speed():
    p = Progress({"a": 100.0, "b": 50.0, "c": 50.0}, jobs=2, start=0.0)
    assert p.eta() == 100.0                              # 200 s of work on 2 workers
    p.finish("a", 200.0, now=200.0)                      # ran twice as slow as estimated
    assert p.eta() == 100.0                              # 100 s left x 2 / 2 workers
    assert p.line(200.0) == "progress: 1/3 runs, elapsed 3m20s, ETA 1m40s"
    q = Progress({"a": 10.0}, jobs=1)
    q.finish("a", 1000.0, now=5.0)
    assert q.eta() == 0.0 and q.line(5.0).endswith("ETA 0s")


def test_ci_lines_every_tenth_or_30_seconds_and_the_last():
    p = Progress({f"i{k}": 1.0 for k in range(100)}, jobs=1, start=0.0, tty=False)
    printed = [k for k in range(100) if p.finish(f"i{k}", 1.0, now=k * 0.1)]
    assert printed == [9, 19, 29, 39, 49, 59, 69, 79, 89, 99]           # every 10%, the last one too
    p = Progress({f"i{k}": 1.0 for k in range(1000)}, jobs=1, start=0.0, tty=False)
    times = [k * 3.0 for k in range(50)]                                  # 50 items over 150 s: < 10%
    printed = [t for k, t in enumerate(times) if p.finish(f"i{k}", 3.0, now=t)]
    assert printed == [30.0, 60.0, 90.0, 120.0]                         # every 30 s (5% done: no 10% line)


def test_terminal_throttle_and_repeats_ignored():
    p = Progress({f"i{k}": 1.0 for k in range(10)}, jobs=1, start=0.0, tty=True, tty_every=5.0)
    out = [k for k in range(10) if p.finish(f"i{k}", 1.0, now=float(k))]
    assert out == [5, 9]                                  # every 5 s in a terminal, and the last
    assert p.finish("i9", 1.0, now=100.0) is None         # an item reported twice counts once
    assert p.finish("unknown", 1.0, now=100.0) is None    # not one of the plan's items
    assert len(p.done) == 10
