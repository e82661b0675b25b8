"""pytest glue for the simulation regression: per-test summary with seeds and one JUnit XML.

Each pytest item runs one cocotb module on one configuration/platform (see test_regression.py) and
leaves a summary.json next to its log; the controlling process collects them at the end, so the summary
also works under pytest-xdist.
"""
import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import simlib  # noqa: E402


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_sessionstart(session):
    # Forget the summaries of earlier sessions (logs stay: another regression may be writing them).
    if _is_controller(session.config) and simlib.RESULTS_ROOT.exists() and not os.environ.get("KEEP_RESULTS"):
        for old in simlib.RESULTS_ROOT.glob("*/summary.json"):
            if _is_run_summary(old):
                old.unlink(missing_ok=True)
    simlib.RESULTS_ROOT.mkdir(parents=True, exist_ok=True)


def _is_run_summary(p: Path) -> bool:
    """A run's summary.json sits next to its sim.log; sim/results/{coverage,stress,mutation}/summary.json are
    campaign reports of other tools and are neither removed nor listed here."""
    return (p.parent / "sim.log").exists()


def _summaries():
    for p in sorted(simlib.RESULTS_ROOT.glob("*/summary.json")):
        if _is_run_summary(p):
            yield json.loads(p.read_text())


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _is_controller(config):
        return
    runs = list(_summaries())
    if not runs:
        return
    tr = terminalreporter
    tr.section("simulation summary (one line per cocotb test)")
    suite = ET.Element("testsuites")
    n_pass = n_fail = 0
    for run in runs:
        ts = ET.SubElement(suite, "testsuite", name=run["name"], tests=str(len(run["cases"])))
        ET.SubElement(ET.SubElement(ts, "properties"), "property", name="seed", value=str(run["seed"]))
        for case in run["cases"]:
            status = "PASS" if case["passed"] else "FAIL"
            n_pass += case["passed"]
            n_fail += not case["passed"]
            tr.write_line(f"{status}  {run['name']:<40} {case['name']:<48} seed={run['seed']:<11} "
                          f"sim={case['sim_time_ns'] / 1000:9.1f}us wall={case['wall_s']:6.1f}s")
            tc = ET.SubElement(ts, "testcase", classname=run["name"], name=case["name"],
                               time=f"{case['wall_s']:.3f}")
            if not case["passed"]:
                ET.SubElement(tc, "failure", message=case["message"][:2000])
                tr.write_line(f"      {case['message'][:300]}")
                tr.write_line(f"      replay: make sim TEST={run['module'].rsplit('.', 1)[-1]} "
                              f"CONFIG={run['config']} SEED={run['seed']}"
                              + (f" PLATFORM={run['platform']}" if run["platform"] else "")
                              + f" TESTCASE={case['name']}  (log: {run['log_dir']}/sim.log)")
    out = simlib.RESULTS_ROOT / "junit.xml"
    ET.ElementTree(suite).write(out, encoding="utf-8", xml_declaration=True)
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
