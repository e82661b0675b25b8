"""pytest glue for the simulation regression: per-test summary with seeds and one JUnit XML.

Each pytest item runs one cocotb module on one configuration/platform (see test_regression.py) and
leaves a summary.json next to its log; the controlling process collects them at the end, so the summary
also works under pytest-xdist.
"""
import json
import os
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import simlib  # noqa: E402
from junit import junit_xml, replay_command  # noqa: E402


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config):
    # Every run of this session writes the session's id into its summary.json; the report below lists only
    # those, so two regressions sharing sim/results never lose or mix each other's summaries. (Set before
    # pytest-xdist starts its workers, which inherit it.)
    if _is_controller(config):
        os.environ.setdefault("IMSDEV_SIM_SESSION", uuid.uuid4().hex)


def pytest_sessionstart(session):
    simlib.RESULTS_ROOT.mkdir(parents=True, exist_ok=True)


def _is_run_summary(p: Path) -> bool:
    """A run's summary.json sits next to its sim.log; sim/results/{coverage,stress,mutation}/summary.json are
    campaign reports of other tools and are not listed here."""
    return (p.parent / "sim.log").exists()


def _summaries(session_id: str):
    for p in sorted(simlib.RESULTS_ROOT.glob("*/summary.json")):
        if _is_run_summary(p):
            run = json.loads(p.read_text())
            if run.get("session") == session_id:
                yield run


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _is_controller(config):
        return
    runs = list(_summaries(os.environ.get("IMSDEV_SIM_SESSION", "")))
    if not runs:
        return
    tr = terminalreporter
    tr.section("simulation summary (one line per cocotb test)")
    n_pass = n_fail = 0
    for run in runs:
        for case in run["cases"]:
            status = "PASS" if case["passed"] else "FAIL"
            n_pass += case["passed"]
            n_fail += not case["passed"]
            tr.write_line(f"{status}  {run['name']:<40} {case['name']:<48} seed={run['seed']:<11} "
                          f"sim={case['sim_time_ns'] / 1000:9.1f}us wall={case['wall_s']:6.1f}s")
            if not case["passed"]:
                tr.write_line(f"      {case['message'][:300]}")
                tr.write_line(f"      replay: {replay_command(run, case['name'])}  (log: {run['log_dir']}/sim.log)")
        if not run["cases"]:
            n_fail += 1
            tr.write_line(f"FAIL  {run['name']:<40} no cocotb test ran (TESTCASE={run.get('testcase')!r}); "
                          f"log: {run['log_dir']}/sim.log")
    out = simlib.RESULTS_ROOT / "junit.xml"
    ET.ElementTree(junit_xml(runs)).write(out, encoding="utf-8", xml_declaration=True)
    tr.write_line(f"cocotb tests: {n_pass} passed, {n_fail} failed; JUnit XML: {out}")
    tr.write_line(_functional_coverage_line())


def _functional_coverage_line() -> str:
    """One line of functional coverage over every run's export; a report problem never fails the run."""
    try:
        import coverage_report
        s = coverage_report.functional_summary()
    except Exception as e:      # noqa: BLE001 - coverage is informative here, the tests decide the result
        return f"functional coverage: not available ({type(e).__name__}: {e})"
    return (f"functional coverage: {s['hit']}/{s['bins']} bins hit, {s['waived']} waived "
            f"(all runs under sim/results; `make fcov` lists the holes)")
