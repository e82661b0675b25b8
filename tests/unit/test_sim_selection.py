"""`make sim`'s filters and JUnit output (sim/selection.py, sim/junit.py, run.py sim), without a simulator.

Every bad filter fails before anything is built, with a message naming what exists; TESTCASE selects a
parametrised test by its name; the JUnit XML never reads green when a run failed or ran nothing."""
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[2] / "sim"
sys.path.insert(0, str(SIM))

import selection  # noqa: E402
from junit import junit_xml, replay_command  # noqa: E402


@pytest.mark.parametrize("env, message", [
    ({"CONFIG": "huge"}, "CONFIG='huge' is not a configuration; known: default, small, wide"),
    ({"PLATFORM": "mips"}, "PLATFORM='mips' is not a platform; known: arm, x86"),
    ({"SEED": "abc"}, "SEED='abc' is not an integer"),
    ({"SEED": "0"}, "out of range"),
    ({"SEED": str(2**32)}, "out of range"),
])
def test_bad_filter_values_are_named(env, message):
    with pytest.raises(selection.SelectionError, match=re.escape(message)):
        selection.check_env(env)


def test_good_filter_values_pass():
    selection.check_env({"CONFIG": "small", "PLATFORM": "arm", "SEED": "0x1234"})
    selection.check_env({})


def test_testcase_filter_selects_a_test_and_its_parametrisations_only():
    f = re.compile(selection.testcase_filter("test_function_mask, test_reset_values"))
    mod = "tb.tests.msix.test_msix."
    for name in ("test_function_mask", "test_function_mask/pauses=3", "test_reset_values"):
        assert f.search(mod + name), name
    for name in ("test_function_mask_x", "xtest_function_mask", "test_reset_values2/pauses=1"):
        assert not f.search(mod + name), name
    assert selection.testcase_filter("") is None and selection.testcase_filter(None) is None


def test_cocotb_tests_are_read_from_the_module_source():
    tests = selection.cocotb_tests("tb.tests.msix.test_msix")
    assert "test_function_mask" in tests and "test_reset_values" in tests
    assert all(t.startswith("test_") for t in tests)
    # Tests a module defines only for one platform (under a module-level `if`) are tests too.
    faults = selection.cocotb_tests("tb.tests.platform.test_platform_faults")
    assert {"test_x86_sid_mismatch", "test_arm_device_unmapped", "test_arm_discard"} <= set(faults)


def test_testcase_narrows_the_items_and_a_missing_one_lists_the_tests():
    items = selection.all_items(testcase="test_function_mask")
    assert items and {i.short for i in items} == {"test_msix"}
    msix = [i for i in selection.all_items() if i.short == "test_msix"]
    with pytest.raises(selection.SelectionError, match="TESTCASE nope is not a cocotb test.*test_msix: .*"
                                                       "test_function_mask"):
        selection.check_testcase(msix, "nope")
    selection.check_testcase(msix, "test_function_mask/pauses=1")


def test_items_follow_config_and_platform():
    items = selection.all_items(config="small", platform="arm")
    assert items and all(i.config == "small" for i in items)
    assert all(i.platform in (None, "arm") for i in items)
    assert any(i.platform is None for i in items), "modules without a platform run under any PLATFORM"


@pytest.mark.parametrize("env, message", [
    ({"PLATFORM": "mips"}, "PLATFORM='mips' is not a platform"),
    ({"TEST": "nope"}, "TEST='nope' selects no regression item.*Modules: .*test_msix"),
    ({"TEST": "test_msix", "TESTCASE": "missing"}, "TESTCASE missing is not a cocotb test"),
    ({"TEST": "a or ("}, "could not use it as a -k expression"),
])
def test_run_sim_refuses_bad_filters_before_building(env, message, tmp_path):
    full = {k: v for k, v in __import__("os").environ.items() if k not in ("TEST", "TESTCASE", "CONFIG",
                                                                             "PLATFORM", "SEED")}
    res = subprocess.run([sys.executable, "run.py", "sim"], cwd=SIM, env=full | env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    assert re.search(message, res.stderr), res.stderr
    assert "build " not in res.stdout, "nothing may be built for a bad filter"


def _run(cases, **extra):
    return {"name": "small-test_msix", "module": "tb.tests.msix.test_msix", "config": "small", "platform": None,
            "seed": 42, "log_dir": "sim/results/small-test_msix", "testcase": None, "cases": cases, **extra}


def _case(name, passed, message=""):
    return {"name": name, "passed": passed, "sim_time_ns": 1000.0, "wall_s": 0.5, "message": message}


def test_junit_counts_failures_and_says_how_to_replay():
    root = junit_xml([_run([_case("test_a", True), _case("test_b", False, "assertion X failed")]),
                      _run([_case("test_c", True)], name="default-test_msix", config="default")])
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "0")
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("time")) == ("2", "1", "1.000")
    failed = [tc for tc in root.iter("testcase") if tc.find("failure") is not None]
    assert [tc.get("name") for tc in failed] == ["test_b"]
    text = failed[0].find("failure").text
    assert "assertion X failed" in text and "replay: make sim TEST=test_msix CONFIG=small SEED=42 TESTCASE=test_b" in text
    assert "log: sim/results/small-test_msix/sim.log" in text
    seeds = {p.get("value") for tc in root.iter("testcase") for p in tc.iter("property") if p.get("name") == "seed"}
    assert seeds == {"42"}
    ET.tostring(root)   # serialisable


def test_junit_run_with_no_test_is_a_failure():
    root = junit_xml([_run([], testcase="missing")])
    assert root.get("failures") == "1" and root.get("tests") == "1"
    (tc,) = root.iter("testcase")
    assert "no cocotb test ran" in tc.find("failure").get("message")


def test_replay_command_names_platform():
    assert replay_command(_run([], platform="arm"), "t") == \
        "make sim TEST=test_msix CONFIG=small SEED=42 PLATFORM=arm TESTCASE=t"
