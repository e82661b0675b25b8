"""`make sim SHARD=k/N`, `make merge-shards`, `make durations` (sim/shard.py, sim/merge.py), without a simulator.

The N shards of a selection are disjoint and together exactly the unsharded selection (items as run.py sim
selects them, filters included); the split is the same whatever order the items come in; a bad SHARD fails
before anything is built; the merge refuses a missing shard, an item run twice or an item not run, and sums
the totals; the CI workflow is valid YAML that runs and merges the shards it declares."""
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[2] / "sim"
sys.path.insert(0, str(SIM))

import merge  # noqa: E402
import run  # noqa: E402
import selection  # noqa: E402
import shard  # noqa: E402
from junit import item_id, junit_xml, suite_item  # noqa: E402

FILTERS = ("TEST", "CONFIG", "PLATFORM", "TESTCASE", "SEED", "SHARD", "RESEED")


def _env(**kw):
    return {k: v for k, v in os.environ.items() if k not in FILTERS} | kw


@pytest.mark.parametrize("raw, message", [
    ("x", "SHARD='x' is not k/N"),
    ("1/2/3", "is not k/N"),
    ("-1/2", "is not k/N"),
    ("3/2", "SHARD='3/2': k must be in 1..2"),
    ("0/2", "k must be in 1..2"),
    ("1/0", "SHARD='1/0': N must be at least 1"),
])
def test_bad_shard_is_named(raw, message):
    with pytest.raises(selection.SelectionError, match=re.escape(message)):
        selection.check_env({"SHARD": raw})


def test_good_shard_values():
    assert shard.parse_shard("2/4") == (2, 4) and shard.parse_shard(" 1 / 1 ") == (1, 1)
    assert shard.parse_shard("") is None and shard.parse_shard(None) is None
    selection.check_env({"SHARD": "4/4", "CONFIG": "small"})


@pytest.mark.parametrize("raw", ["5/4", "a/b"])
def test_run_sim_refuses_bad_shard_before_building(raw):
    res = subprocess.run([sys.executable, "run.py", "sim"], cwd=SIM, env=_env(SHARD=raw), capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "SHARD=" in res.stderr and "build " not in res.stdout


@pytest.mark.parametrize("env", [{}, {"CONFIG": "small"}, {"PLATFORM": "arm", "RESEED": "1"},
                                 {"TEST": "msix or platform_faults", "CONFIG": "wide"},
                                 {"TESTCASE": "test_function_mask"}])
def test_shards_are_disjoint_and_cover_the_selection(env):
    items = run.select(env)
    ids = [i.id for i in items]
    assert items and len(set(ids)) == len(ids)
    durations = shard.load_durations()
    for n in range(1, 6):
        shards = [[i.id for i in shard.shard_items(items, k, n, durations)] for k in range(1, n + 1)]
        flat = [i for s in shards for i in s]
        assert len(flat) == len(set(flat)), f"N={n}: an item in two shards"
        assert sorted(flat) == sorted(ids), f"N={n}: the shards are not the selection"
        # Order-independent: every shard computes the same split from the ids alone.
        rev = [[i.id for i in shard.shard_items(items[::-1], k, n, durations)] for k in range(1, n + 1)]
        assert [sorted(s) for s in rev] == [sorted(s) for s in shards]


def test_lpt_balance_and_default_estimate():
    est = shard.estimates(["a", "b", "c-s2", "new"], {"a": 10.0, "b": 4.0, "c": 2.0})
    assert est == {"a": 10.0, "b": 4.0, "c-s2": 2.0, "new": 4.0}    # reseed -> base item, unknown -> median
    items = {f"i{k}": float(k) for k in range(1, 30)}
    for n in range(1, 6):
        loads = [sum(items[i] for i in s) for s in shard.partition(items, n)]
        assert max(loads) - min(loads) <= max(items.values())
    assert shard.estimates(["x"], {}) == {"x": shard.FALLBACK_S}


def test_durations_file_names_every_item_and_its_provenance():
    doc = json.loads(shard.DURATIONS.read_text())
    assert {"source", "refreshed", "machine"} <= set(doc["provenance"])
    assert {i.id for i in selection.all_items()} <= set(doc["items"])
    assert all(v > 0 for v in doc["items"].values())


# ---- merge -------------------------------------------------------------------------------------------
def _run(item: selection.Item, passed=True, secs=2.0):
    name = f"{item.config}-{item.short}" + (f"-{item.platform}" if item.platform else "") + item.tag
    return {"name": name, "module": item.module, "config": item.config, "platform": item.platform, "seed": 7,
            "log_dir": f"sim/results/{name}", "testcase": None,
            "cases": [{"name": "test_a", "passed": passed, "sim_time_ns": 1.0, "wall_s": secs, "message": "x"},
                      {"name": "test_b", "passed": True, "sim_time_ns": 1.0, "wall_s": 1.0, "message": ""}]}


def _write_shards(tmp_path, items, n, move=None, drop=None, fail=None):
    durations = shard.load_durations()
    for k in range(1, n + 1):
        mine = shard.shard_items(items, k, n, durations)
        if move and k == move[1]:
            mine = mine + [move[0]]
        if drop:
            mine = [i for i in mine if i.id != drop]
        runs = [_run(i, passed=i.id != fail) for i in mine]
        ET.ElementTree(junit_xml(runs, {"shard": f"{k}/{n}"})).write(tmp_path / shard.junit_name(k, n))


def test_item_ids_round_trip_through_junit():
    items = selection.all_items(reseed=True)
    root = junit_xml([_run(i) for i in items])
    assert [suite_item(s) for s in root.iter("testsuite")] == [i.id for i in items]
    for s in root.iter("testsuite"):             # files without the item property (older runs)
        props = s.find("properties")
        props.remove(props.find("property[@name='item']"))
    assert [suite_item(s) for s in root.iter("testsuite")] == [i.id for i in items]
    assert item_id(_run(items[-1])) == items[-1].id


def test_merge_sums_the_shards(tmp_path):
    items = selection.all_items(config="small")
    _write_shards(tmp_path, items, 3, fail=items[0].id)
    root = merge.merge(tmp_path, 3, [i.id for i in items])
    assert root.get("tests") == str(2 * len(items)) and root.get("failures") == "1"
    assert root.get("errors") == "0" and root.get("skipped") == "0"
    assert float(root.get("time")) == pytest.approx(3.0 * len(items))
    assert sorted(suite_item(s) for s in root.iter("testsuite")) == sorted(i.id for i in items)


def test_merge_refuses_missing_shard_duplicate_and_missing_items(tmp_path):
    items = selection.all_items(config="small")
    ids = [i.id for i in items]
    _write_shards(tmp_path, items, 2)
    (tmp_path / shard.junit_name(2, 2)).unlink()
    with pytest.raises(merge.MergeError, match=r"shard 2/2: .*junit-shard-2-of-2.xml is missing"):
        merge.merge(tmp_path, 2, ids)
    twice = shard.shard_items(items, 1, 2, shard.load_durations())[0]
    _write_shards(tmp_path, items, 2, move=(twice, 2))
    with pytest.raises(merge.MergeError, match=rf"1 item\(s\) ran more than once: {twice.id} \(shards 1, 2\)"):
        merge.merge(tmp_path, 2, ids)
    _write_shards(tmp_path, items, 2, drop=ids[3])
    with pytest.raises(merge.MergeError, match=rf"have no result in any shard: {ids[3]}"):
        merge.merge(tmp_path, 2, ids)
    _write_shards(tmp_path, items, 2)
    with pytest.raises(merge.MergeError, match="not in the selection"):
        merge.merge(tmp_path, 2, ids[1:])


def test_merge_refuses_a_shard_run_with_other_filters(tmp_path):
    items = selection.all_items(config="small")
    _write_shards(tmp_path, items, 1)
    (tmp_path / shard.manifest_name(1, 1)).write_text(json.dumps({"filters": {"CONFIG": "wide"}}))
    with pytest.raises(merge.MergeError, match="other filters.*CONFIG='wide' \\(merge: 'small'\\)"):
        merge.merge(tmp_path, 1, [i.id for i in items], {"CONFIG": "small"})
    (tmp_path / shard.manifest_name(1, 1)).write_text(json.dumps({"filters": {"CONFIG": "small", "RESEED": "0"}}))
    merge.merge(tmp_path, 1, [i.id for i in items], run.filters({"CONFIG": "small"}))    # RESEED 0 == unset


def test_merge_command_line(tmp_path):
    items = selection.all_items(config="small")
    _write_shards(tmp_path, items, 2)
    cmd = [sys.executable, "merge.py", "--results", str(tmp_path)]
    res = subprocess.run(cmd, cwd=SIM, env=_env(CONFIG="small"), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"merged 2 shard(s), {len(items)} items" in res.stdout
    assert ET.parse(tmp_path / "junit.xml").getroot().get("tests") == str(2 * len(items))
    res = subprocess.run(cmd, cwd=SIM, env=_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "no result in any shard" in res.stderr      # the full selection


def test_durations_refresh_from_junit(tmp_path):
    items = selection.all_items(config="small", reseed=True)
    runs = [_run(i, secs=5.0 if i.tag == "-s1" else 3.0) for i in items]
    runs[0] = _run(items[0], passed=False)
    junit = tmp_path / "junit.xml"
    ET.ElementTree(junit_xml(runs, {"cpus": 2, "jobs": 2, "loadavg": "1.00 0.50 0.25"})).write(junit)
    out = tmp_path / "durations.json"
    out.write_text(json.dumps({"items": {items[0].id: 42.0, "test_gone-small": 1.0}}))
    doc = shard.refresh(junit, out)
    assert doc["items"][items[0].id] == 42.0                   # failing: the previous value is kept
    assert doc["provenance"]["failing_items_not_measured"] == [items[0].id]
    assert "test_gone-small" not in doc["items"]
    reseeded = next(i for i in items if i.tag == "-s1")
    assert doc["items"][shard.base_id(reseeded.id)] == pytest.approx((4.0 + 6.0 + 4.0) / 3, abs=0.1)
    assert doc["provenance"]["machine"] == {"cpus": "2", "jobs": "2", "loadavg": "1.00 0.50 0.25"}


# ---- CI ----------------------------------------------------------------------------------------------
def test_ci_workflow_runs_and_merges_every_shard():
    yaml = pytest.importorskip("yaml")
    wf = yaml.safe_load((SIM.parent / ".github" / "workflows" / "regression.yml").read_text())
    jobs = wf["jobs"]
    shards = jobs["shard"]["strategy"]["matrix"]["shard"]
    n = len(shards)
    assert shards == list(range(1, n + 1))
    steps = " ".join(str(s.get("run", "")) for s in jobs["shard"]["steps"])
    assert f"SHARD=${{{{ matrix.shard }}}}/{n}" in steps
    merge_steps = " ".join(str(s.get("run", "")) for s in jobs["merge"]["steps"])
    assert f"make merge-shards SHARDS={n}" in merge_steps
    assert "shard" in jobs["merge"]["needs"] and jobs["merge"]["if"].startswith("always()")
