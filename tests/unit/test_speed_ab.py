"""sim/speed_ab.py: the summary of alternated runs, the report, callgrind's totals and the refusals. (The
runs themselves are simulations; `make speed-ab` is not part of make test.)"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "sim"))

import speed_ab  # noqa: E402


def _run(cpu, load=1.0, tlps=1000, cycles=50_000):
    return {"cpu_s": cpu, "tlps": tlps, "tests": 4, "cycles": cycles, "loadavg_1m": load}


def test_summary_medians_and_ratio():
    runs = {"msix": {"rev": [_run(3.0), _run(2.0, 2.0), _run(4.0)], "tree": [_run(1.5), _run(2.5), _run(1.0)]}}
    s = speed_ab.summarize(runs)["msix"]
    assert s["rev"]["median_cpu_s"] == 3.0 and s["tree"]["median_cpu_s"] == 1.5
    assert s["ratio"] == 0.5
    assert s["rev"]["cpu_ms_per_tlp"] == 3.0 and s["tree"]["cpu_ms_per_tlp"] == 1.5
    assert s["tree"]["cycles_per_cpu_s"] == round(50_000 / 1.5)
    assert s["rev"]["loadavg_1m"] == [1.0, 2.0, 1.0]


def test_render_names_both_sides_and_instructions():
    runs = {"wq_traffic": {"rev": [_run(2.0)], "tree": [_run(1.0)]}}
    md = speed_ab.render("HEAD~2", "0123456789abcdef", speed_ab.summarize(runs),
                         {"wq_traffic": {"rev": 2_000, "tree": 1_500}})
    assert "HEAD~2 (0123456789ab)" in md
    assert "| wq_traffic | 2.0 | 1.0 | 2.0 (2.0) | 1.0 (1.0) | 0.5 | 1.0-1.0 |" in md
    assert "| wq_traffic | 2,000 | 1,500 | 0.75 |" in md


def test_callgrind_total_sums_every_process(tmp_path):
    (tmp_path / "cls-rev.101").write_text("==101== Events    : Ir\n==101== Collected : 1234\n")
    (tmp_path / "cls-rev.102").write_text("==102== Collected : 66\n")
    (tmp_path / "cls-tree.103").write_text("==103== Collected : 5\n")
    assert speed_ab.callgrind_total(str(tmp_path / "cls-rev")) == 1300


def test_refusals(monkeypatch):
    with pytest.raises(speed_ab.SpeedAbError, match="not a commit"):
        speed_ab.worktree("no-such-revision-xyz")
    with pytest.raises(SystemExit):
        speed_ab.main([])                       # REV is required
    with pytest.raises(SystemExit):
        speed_ab.main(["HEAD", "--runs", "0"])
    assert speed_ab.main(["no-such-revision-xyz"]) == 2          # reported, not a traceback
    # child() enters the tree (cwd, sys.path): both restored after the test
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(speed_ab.SpeedAbError, match="no speed class 'no_such_class'"):
        speed_ab.child(ROOT, "no_such_class", None)


def test_instructions_refused_for_a_rev_without_the_wrapper(tmp_path, monkeypatch, capsys):
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "simlib.py").write_text("# an older simlib: no simulator wrapper\n")
    monkeypatch.setattr(speed_ab, "worktree", lambda rev: (tmp_path, "f" * 40))
    monkeypatch.setattr(speed_ab.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(speed_ab, "run_side", lambda *a, **k: pytest.fail("ran a class before refusing"))
    assert speed_ab.main(["old", "--instructions"]) == 2
    assert "does not honour IMSDEV_SIM_WRAPPER" in capsys.readouterr().err
