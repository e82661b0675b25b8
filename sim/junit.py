"""The regression's JUnit XML (sim/results/junit.xml), written by sim/conftest.py from the runs' summaries.

A CI dashboard reads this file, so it must never look green when it is not: suites and the root carry
tests/failures/errors/time, every failure says how to replay it and where its log is, and a run in which
no cocotb test ran is a failure.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET


def replay_command(run: dict, case: str | None = None) -> str:
    return (f"make sim TEST={run['module'].rsplit('.', 1)[-1]} CONFIG={run['config']} SEED={run['seed']}"
            + (f" PLATFORM={run['platform']}" if run["platform"] else "")
            + (f" TESTCASE={case}" if case else ""))


def item_id(run: dict) -> str:
    """The `make sim` item id of a run (<module>-<config>[-<platform>][-s<k>]); the run's name is
    <config>-<module>[-<platform>][-s<k>]."""
    short = run["module"].rsplit(".", 1)[-1]
    head = f"{run['config']}-{short}" + (f"-{run['platform']}" if run["platform"] else "")
    tag = run["name"][len(head):] if run["name"].startswith(head) else ""
    return f"{short}-{run['config']}" + (f"-{run['platform']}" if run["platform"] else "") + tag


def suite_item(suite: ET.Element) -> str:
    """The item id of a <testsuite> of junit_xml(): its "item" property (files written before it existed:
    rebuilt from the suite's name and its config/platform properties)."""
    props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    if props.get("item"):
        return props["item"]
    cfg, plat, name = props.get("config", ""), props.get("platform", ""), suite.get("name", "")
    rest = name[len(cfg) + 1:] if name.startswith(cfg + "-") else name
    short, tag = re.fullmatch(r"(.*?)(-s\d+)?", rest).groups()
    if plat and short.endswith("-" + plat):
        short = short[:-len(plat) - 1]
    return f"{short}-{cfg}" + (f"-{plat}" if plat else "") + (tag or "")


def junit_xml(runs: list[dict], meta: dict | None = None) -> ET.Element:
    """One <testsuite> per run (module x configuration x platform) with tests/failures/errors/time; each
    <testcase> carries its seed, configuration, platform and log; a <failure> has the message as its
    attribute and, as text, the whole message, the replay command and the log path. A run in which no
    cocotb test ran is a failure, never an empty green suite. `meta` (timestamp, cpus, jobs, loadavg, shard)
    become attributes of the root: the provenance `make durations` records."""
    suites = ET.Element("testsuites")
    for k, v in (meta or {}).items():
        suites.set(k, str(v))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for run in runs:
        cases = run["cases"] or [{"name": "<no test ran>", "passed": False, "wall_s": 0.0, "sim_time_ns": 0.0,
                                  "message": f"no cocotb test ran (TESTCASE={run.get('testcase')!r})"}]
        fails = sum(not c["passed"] for c in cases)
        secs = sum(c["wall_s"] for c in cases)
        ts = ET.SubElement(suites, "testsuite", name=run["name"], tests=str(len(cases)), failures=str(fails),
                           errors="0", skipped="0", time=f"{secs:.3f}")
        props = ET.SubElement(ts, "properties")
        ET.SubElement(props, "property", name="item", value=item_id(run))
        for k in ("seed", "config", "platform", "log_dir"):
            ET.SubElement(props, "property", name=k, value=str(run.get(k) or ""))
        for case in cases:
            tc = ET.SubElement(ts, "testcase", classname=run["name"], name=case["name"], time=f"{case['wall_s']:.3f}")
            tprops = ET.SubElement(tc, "properties")
            ET.SubElement(tprops, "property", name="seed", value=str(run["seed"]))
            ET.SubElement(tprops, "property", name="sim_time_ns", value=f"{case['sim_time_ns']:.0f}")
            if not case["passed"]:
                fail = ET.SubElement(tc, "failure", message=case["message"][:500], type="cocotb")
                fail.text = (f"{case['message']}\n\nreplay: {replay_command(run, case['name'] if run['cases'] else None)}"
                             f"\nlog: {run['log_dir']}/sim.log\n")
        totals["tests"] += len(cases)
        totals["failures"] += fails
        totals["time"] += secs
    for k, v in totals.items():
        suites.set(k, f"{v:.3f}" if k == "time" else str(v))
    return suites
