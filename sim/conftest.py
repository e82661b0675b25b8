"""pytest glue for the simulation regression: per-test summary with seeds and one JUnit XML.

Each pytest item runs one cocotb module on one configuration/platform (see test_regression.py) and
leaves a summary.json next to its log; the controlling process collects them at the end, so the summary
also works under pytest-xdist. With the plan run.py sim hands over (IMSDEV_SIM_PLAN: the items and their
expected seconds), a shard deselects the other items and the controller prints progress lines with an ETA
(sim/progress.py); the JUnit file is named by IMSDEV_SIM_JUNIT (a shard's own file).
"""
import datetime
import json
import os
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import simlib  # noqa: E402
from junit import junit_xml, replay_command  # noqa: E402
from progress import Progress  # noqa: E402


def _plan() -> dict | None:
    """What run.py sim decided (IMSDEV_SIM_PLAN): {"items": {id: expected seconds}, "jobs", "shard"}."""
    path = os.environ.get("IMSDEV_SIM_PLAN")
    if not path or not os.path.exists(path):
        return None
    return json.loads(open(path).read())


def _item_id(nodeid: str) -> str:
    return nodeid.rsplit("[", 1)[-1].rstrip("]") if "[" in nodeid else nodeid


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config):
    # Every run of this session writes the session's id into its summary.json; the report below lists only
    # those, so two regressions sharing sim/results never lose or mix each other's summaries. (Set before
    # pytest-xdist starts its workers, which inherit it.)
    if _is_controller(config):
        os.environ.setdefault("IMSDEV_SIM_SESSION", uuid.uuid4().hex)
        plan = _plan()
        if plan:
            _PROGRESS.update(config=config, plan=plan)


def pytest_sessionstart(session):
    simlib.RESULTS_ROOT.mkdir(parents=True, exist_ok=True)
    plan = _PROGRESS.get("plan")
    if plan and _is_controller(session.config):
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        _PROGRESS.update(tr=tr, progress=Progress(plan["items"], plan.get("jobs", 1), time.monotonic(),
                                                  tty=bool(tr and tr.isatty)))


def pytest_collection_modifyitems(config, items):
    """A shard (SHARD=k/N) runs only its items of the selection: the plan names them."""
    plan = _plan()
    if not plan or not plan.get("shard"):
        return
    keep = [i for i in items if _item_id(i.nodeid) in plan["items"]]
    dropped = [i for i in items if _item_id(i.nodeid) not in plan["items"]]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


_PROGRESS: dict = {}      # controller only: "plan", "progress" (progress.Progress), "tr", per-item seconds so far


def pytest_runtest_logreport(report):
    """Progress lines (the controller sees every item's reports, also under pytest-xdist)."""
    prog = _PROGRESS.get("progress")
    if prog is None:
        return
    secs = _PROGRESS.setdefault("secs", {})
    secs[report.nodeid] = secs.get(report.nodeid, 0.0) + (report.duration or 0.0)
    if report.when != "teardown":
        return
    line = prog.finish(_item_id(report.nodeid), secs.pop(report.nodeid), time.monotonic())
    tr = _PROGRESS.get("tr")
    if line and tr:
        if getattr(tr, "_width_of_current_line", 0):     # after pytest's dots: a line of its own
            tr.write("\n")
        tr.write_line(line)


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
    # A shard (SHARD=k/N) writes junit-shard-k-of-N.xml (run.py names it): shards never overwrite each other.
    out = simlib.RESULTS_ROOT / os.environ.get("IMSDEV_SIM_JUNIT", "junit.xml")
    plan = _plan() or {}
    meta = {"timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(), "jobs": plan.get("jobs", ""),
            "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    if plan.get("shard"):
        meta["shard"] = "%d/%d" % tuple(plan["shard"])
    ET.ElementTree(junit_xml(runs, meta)).write(out, encoding="utf-8", xml_declaration=True)
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
