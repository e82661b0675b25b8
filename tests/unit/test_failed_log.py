"""sim/simlib.py keeps a failing run's sim.log aside (sim.failed-seed<N>.log), so a failure that does not come
back on a rerun still has its log: the next run of the same test directory overwrites sim.log."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "sim"))

import simlib  # noqa: E402


def case(passed: bool) -> simlib.CaseResult:
    return simlib.CaseResult("t", passed, 0.0, 0.0, "" if passed else "boom")


def test_failing_run_keeps_log_and_results(tmp_path):
    (tmp_path / "sim.log").write_text("the failing run\n")
    (tmp_path / "results.xml").write_text("<testsuites/>")
    kept = simlib.keep_failed_log(tmp_path, 1234)
    assert kept == tmp_path / "sim.failed-seed1234.log" == simlib.failed_log(tmp_path, 1234)
    assert kept.read_text() == "the failing run\n"
    assert (tmp_path / "sim.failed-seed1234.xml").read_text() == "<testsuites/>"
    # the next run overwrites sim.log; the kept copy stays
    (tmp_path / "sim.log").write_text("a passing rerun\n")
    assert kept.read_text() == "the failing run\n"


def test_nothing_to_keep_without_a_log(tmp_path):
    assert simlib.keep_failed_log(tmp_path, 1) is None
    assert list(tmp_path.iterdir()) == []


def test_which_runs_keep_their_log():
    assert simlib.keeps_failed_log([case(True), case(False)])
    assert not simlib.keeps_failed_log([case(True), case(True)])
    # a mutant run is meant to fail: nothing kept
    assert not simlib.keeps_failed_log([case(False)], ("+IMSDEV_MUTANT=7",))
    assert simlib.keeps_failed_log([case(False)], ("+verilator+seed+1",))
