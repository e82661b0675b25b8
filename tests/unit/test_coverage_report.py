"""Functional coverage report (sim/coverage_report.py): merging exports, waivers, holes."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sim"))

import coverage_report  # noqa: E402
from coverage_report import Waiver, WaiverError, merge, parse_waivers, summarize  # noqa: E402

ITEM = "imsdev.portals.outcome_x_reason"
UNIVERSE = {ITEM: ["SC x none", "UR x PORTAL_READ", "CA x none"], "imsdev.portals.outcome": ["SC", "UR", "CA"]}


def export(hits: dict) -> dict:
    return {"run": "r", "config": "small", "platform": None, "items": hits}


def test_a_waiver_without_reason_is_rejected():
    with pytest.raises(WaiverError, match="reason"):
        parse_waivers({"waiver": [{"bin": f"{ITEM}:CA x none"}]})
    with pytest.raises(WaiverError, match="reason"):
        parse_waivers({"waiver": [{"bin": f"{ITEM}:CA x none", "reason": "  "}]})


def test_a_waiver_without_bin_is_rejected():
    with pytest.raises(WaiverError, match="no bin"):
        parse_waivers({"waiver": [{"reason": "because"}]})


def test_merging_two_exports_adds_hits():
    a = export({ITEM: {"SC x none": 2, "UR x PORTAL_READ": 0}})
    b = export({ITEM: {"SC x none": 3, "UR x PORTAL_READ": 1}, "imsdev.portals.outcome": {"UR": 1}})
    merged = merge([a, b])
    assert merged[ITEM] == {"SC x none": 5, "UR x PORTAL_READ": 1}
    assert merged["imsdev.portals.outcome"] == {"UR": 1}


def test_summary_counts_hits_waivers_and_holes():
    hits = merge([export({ITEM: {"SC x none": 1}, "imsdev.portals.outcome": {"SC": 4, "UR": 0}})])
    waivers = [Waiver(f"{ITEM}:CA x *", "CA always logs PORTAL_SIZE")]
    s = summarize(UNIVERSE, hits, waivers)
    assert (s["bins"], s["hit"], s["waived"]) == (6, 2, 1)
    assert s["per_group"] == {"portals": {"bins": 6, "hit": 2, "waived": 1}}
    assert {(h["item"], h["bin"]) for h in s["holes"]} == {
        (ITEM, "UR x PORTAL_READ"), ("imsdev.portals.outcome", "UR"), ("imsdev.portals.outcome", "CA")}
    assert s["waived_bins"] == [{"item": ITEM, "bin": "CA x none", "reason": "CA always logs PORTAL_SIZE"}]


def test_a_hit_bin_is_hit_even_if_waived_and_unknown_bins_are_stale():
    hits = merge([export({ITEM: {"CA x none": 1, "RRS x none": 2}})])
    s = summarize(UNIVERSE, hits, [Waiver(f"{ITEM}:CA x none", "r"), Waiver("imsdev.nothing:*", "r")])
    assert (s["hit"], s["waived"]) == (1, 0)
    assert s["contradicted_waivers"] == [{"item": ITEM, "bin": "CA x none", "hits": 1, "reason": "r"}]
    assert s["stale_bins"] == [{"item": ITEM, "bin": "RRS x none"}]
    assert s["unused_waivers"] == ["imsdev.nothing:*"]


def test_report_merges_every_run_folder_and_writes_the_summary(tmp_path):
    for run, n in (("small-test_a", 1), ("default-test_a", 2)):
        (tmp_path / run).mkdir()
        (tmp_path / run / "coverage.json").write_text(json.dumps(export({"imsdev.portals.outcome": {"SC": n}})))
    waivers = tmp_path / "waivers.toml"
    waivers.write_text('[[waiver]]\nbin = "imsdev.portals.outcome:RRS"\nreason = "test"\n')
    s = coverage_report.report(tmp_path, waivers)
    assert s["runs"] == ["default-test_a", "small-test_a"]
    assert s["waived"] == 1 and s["hit"] >= 1
    assert "imsdev.portals.outcome" in {h["item"] for h in s["holes"]}
    assert coverage_report.functional_summary(tmp_path, waivers) == {k: s[k] for k in ("bins", "hit", "waived")}


def test_the_project_waiver_file_parses_and_every_waiver_matches_a_bin():
    s = coverage_report.report(Path("/nonexistent"), coverage_report.WAIVERS)
    assert s["runs"] == [] and s["hit"] == 0
    assert s["unused_waivers"] == []
