"""Code coverage report (sim/code_coverage.py): coverage.dat parsing and merging, items by source location,
waivers, the summary's figures and the lcov file. Pure Python, no simulator."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sim"))

import code_coverage as cc  # noqa: E402
from code_coverage import Item, WaiverError  # noqa: E402


def key(**kv) -> str:
    return cc.format_point(kv)


def pt(f, l, t, o, page, n="1", h="imsdev_top.u", S=None) -> str:
    kv = {"f": f, "l": str(l), "n": n, "t": t, "page": page, "o": o}
    if S is not None:
        kv["S"] = S
    kv["h"] = h
    return key(**kv)


FIFO = "/repo/rtl/common/fifo.sv"
CSR = "/repo/rtl/regs/imsdev_csr.sv"


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "rtl" / "common").mkdir(parents=True)
    (root / "rtl" / "regs").mkdir(parents=True)
    (root / "rtl" / "common" / "fifo.sv").write_text(
        "module fifo;\n"                      # 1
        "  logic [1:0] cnt;\n"                # 2
        "  always_ff @(posedge clk) begin\n"  # 3
        "    if (rst) cnt <= 0;\n"            # 4
        "    else begin\n"                    # 5
        "      cnt <= cnt + 1;  // unreachable in this bench\n"  # 6
        "    end\n"                           # 7
        "  end\n"                             # 8
        "endmodule\n")
    (root / "rtl" / "regs" / "imsdev_csr.sv").write_text("module imsdev_csr;\n  assign a = b;\nendmodule\n")
    return root


def dat_text(points: dict) -> str:
    return "# SystemC::Coverage-3\n" + "".join(f"C '{k}' {n}\n" for k, n in points.items())


# ---- coverage.dat ---------------------------------------------------------------------------------
def test_parse_point_splits_the_key_value_pairs():
    k = pt(FIFO, 4, "branch", "if", "v_branch/fifo__W8", S="4")
    assert cc.parse_point(k) == {"f": FIFO, "l": "4", "n": "1", "t": "branch", "page": "v_branch/fifo__W8",
                                 "o": "if", "S": "4", "h": "imsdev_top.u"}
    assert cc.format_point(cc.parse_point(k)) == k


def test_read_dat_reads_counts_and_ignores_comments(tmp_path):
    a = pt(FIFO, 4, "branch", "if", "v_branch/fifo")
    # a comment may contain "' " (an expression term): the count is after the last one
    b = pt(FIFO, 4, "expr", "(a == 2'b01) => 1", "v_expr/fifo")
    p = tmp_path / "c.dat"
    p.write_text(dat_text({a: 3, b: 0}) + "garbage line\n")
    assert cc.read_dat(p) == {a: 3, b: 0}


def test_merge_sums_identical_points_and_keeps_the_others():
    a, b, c = (pt(FIFO, n, "line", "block", "v_line/fifo") for n in (3, 4, 5))
    assert cc.merge([{a: 1, b: 0}, {a: 2, c: 5}, {}]) == {a: 3, b: 0, c: 5}


def test_write_then_read_round_trips(tmp_path):
    pts = {pt(FIFO, 4, "branch", "else", "v_branch/fifo"): 7, pt(FIFO, 2, "toggle", "cnt[0]:0->1", "v_toggle/fifo"): 0}
    cc.write_dat(pts, tmp_path / "m.dat")
    text = (tmp_path / "m.dat").read_text()
    assert text.startswith("# SystemC::Coverage-3\n")
    assert cc.read_dat(tmp_path / "m.dat") == pts


def test_merge_files_without_verilator_coverage(tmp_path, monkeypatch):
    monkeypatch.setattr(cc, "find_verilator_coverage", lambda: None)
    a = pt(FIFO, 4, "branch", "if", "v_branch/fifo")
    (tmp_path / "1.dat").write_text(dat_text({a: 1}))
    (tmp_path / "2.dat").write_text(dat_text({a: 2}))
    points, how = cc.merge_files([tmp_path / "1.dat", tmp_path / "2.dat"], tmp_path / "out.dat")
    assert points == {a: 3} and cc.read_dat(tmp_path / "out.dat") == {a: 3}
    assert "code_coverage.py" in how


# ---- items ----------------------------------------------------------------------------------------
def test_module_of_strips_the_parameter_suffix():
    assert cc.module_of("v_line/imsdev_fifo__W150") == "imsdev_fifo"
    assert cc.module_of("v_toggle/imsdev_top") == "imsdev_top"
    assert cc.module_of("") == ""


def test_lines_of_reads_the_S_ranges():
    assert cc.lines_of(4, "") == {4}
    assert cc.lines_of(4, "5-7,9") == {4, 5, 6, 7, 9}
    assert cc.lines_of(0, "") == set()


def test_items_combine_parameterisations_instances_and_configurations(repo):
    points = {
        pt(str(repo / "rtl/common/fifo.sv"), 4, "branch", "if", "v_branch/fifo__W8", h="top.a", S="4"): 0,
        pt(str(repo / "rtl/common/fifo.sv"), 4, "branch", "if", "v_branch/fifo__W16", h="top.b", S="4"): 2,
        pt(str(repo / "rtl/common/fifo.sv"), 2, "toggle", "cnt[1]:0->1", "v_toggle/fifo__W8", h="top.a"): 0,
        pt(str(repo / "rtl/common/fifo.sv"), 2, "toggle", "cnt[1]:0->1", "v_toggle/fifo__W16", h="top.b"): 0,
        pt("/elsewhere/verilated_std.sv", 1, "line", "block", "v_line/std"): 0,
    }
    items = cc.items_of(points, root=repo)
    assert items[Item("branch", "rtl/common/fifo.sv", 4, "if @col 1", "fifo")] == 2
    assert items[Item("toggle", "rtl/common/fifo.sv", 2, "cnt[1]:0->1", "fifo")] == 0
    assert items[Item("line", "rtl/common/fifo.sv", 4, "", "fifo")] == 2
    assert not any(i.file.endswith("verilated_std.sv") for i in items)     # only rtl/


def test_a_line_is_hit_when_any_point_covering_it_was(repo):
    f = str(repo / "rtl/common/fifo.sv")
    points = {
        pt(f, 3, "line", "block", "v_line/fifo", S="3"): 5,
        pt(f, 4, "branch", "if", "v_branch/fifo", S="4"): 5,
        pt(f, 4, "branch", "else", "v_branch/fifo", n="2", S="5-7"): 0,   # the else arm: lines 5..7
        pt(f, 2, "user", "cover", "v_user/fifo"): 1,                       # user points are not reported
    }
    items = cc.items_of(points, root=repo)
    lines = {i.line: n for i, n in items.items() if i.kind == "line"}
    assert lines == {3: 5, 4: 5, 5: 0, 6: 0, 7: 0}     # line 4 also holds the never-taken else: still hit
    assert sorted(i.detail for i in items if i.kind == "branch") == ["else @col 2", "if @col 1"]
    assert not any(i.kind == "user" for i in items)


def test_toggle_signal_name():
    assert Item("toggle", "f", 1, "data[31]:1->0").signal == "data"
    assert Item("toggle", "f", 1, "clk:0->1").signal == "clk"
    assert Item("toggle", "f", 1, "s.field[2]:0->1").signal == "s.field"


# ---- waivers --------------------------------------------------------------------------------------
def test_a_waiver_needs_a_reason_a_file_and_a_selector():
    with pytest.raises(WaiverError, match="reason"):
        cc.parse_waivers({"waiver": [{"file": "rtl/a.sv", "line": 3}]})
    with pytest.raises(WaiverError, match="reason"):
        cc.parse_waivers({"waiver": [{"file": "rtl/a.sv", "line": 3, "reason": "  "}]})
    with pytest.raises(WaiverError, match="no file"):
        cc.parse_waivers({"waiver": [{"line": 3, "reason": "x"}]})
    with pytest.raises(WaiverError, match="needs `line`, `match` or `signal`"):
        cc.parse_waivers({"waiver": [{"file": "rtl/a.sv", "reason": "x"}]})


def test_malformed_waivers_are_rejected():
    for bad, msg in (({"line": "7-3"}, "empty"), ({"line": "x"}, "not a number"), ({"match": "("}, "bad regex"),
                     ({"line": 1, "kind": ["lines"]}, "unknown kind"), ({"line": 1, "typo": 1}, "unknown keys"),
                     ({"signal": "a", "kind": "line"}, "kind excludes toggle")):
        with pytest.raises(WaiverError, match=msg):
            cc.parse_waivers({"waiver": [{"file": "rtl/a.sv", "reason": "r", **bad}]})


def test_waiver_lines_ranges_and_lists():
    (w,) = cc.parse_waivers({"waiver": [{"file": "rtl/a.sv", "line": ["3-5", 9], "reason": "r"}]})
    assert w.lines == {3, 4, 5, 9}
    assert w.applies(Item("line", "rtl/a.sv", 4), "")
    assert not w.applies(Item("line", "rtl/a.sv", 6), "")
    assert not w.applies(Item("line", "rtl/b.sv", 4), "")


def test_waiver_by_source_regex_kind_and_glob():
    (w,) = cc.parse_waivers({"waiver": [{"file": "rtl/*/fifo.sv", "match": r"unreachable", "kind": ["line", "branch"],
                                         "reason": "r"}]})
    assert w.applies(Item("line", "rtl/common/fifo.sv", 6), "cnt <= cnt + 1;  // unreachable")
    assert w.applies(Item("branch", "rtl/common/fifo.sv", 6, "else @col 2"), "// unreachable")
    assert not w.applies(Item("toggle", "rtl/common/fifo.sv", 6, "cnt[0]:0->1"), "// unreachable")
    assert not w.applies(Item("line", "rtl/common/fifo.sv", 7), "end")


def test_waiver_by_toggle_signal():
    (w,) = cc.parse_waivers({"waiver": [{"file": "rtl/a.sv", "signal": "^rsvd$", "reason": "tied to 0"}]})
    assert w.kinds == cc.KINDS
    assert w.applies(Item("toggle", "rtl/a.sv", 2, "rsvd[3]:0->1"), "logic [7:0] rsvd;")
    assert not w.applies(Item("toggle", "rtl/a.sv", 2, "rsvd_q[3]:0->1"), "")
    assert not w.applies(Item("line", "rtl/a.sv", 2), "")


def test_load_waivers_of_the_project_parses():
    assert isinstance(cc.load_waivers(cc.WAIVERS), list)
    assert cc.load_waivers(Path("/nonexistent.toml")) == []


# ---- summary --------------------------------------------------------------------------------------
def _items(repo):
    f, g = str(repo / "rtl/common/fifo.sv"), str(repo / "rtl/regs/imsdev_csr.sv")
    points = {
        pt(f, 3, "line", "block", "v_line/fifo", S="3"): 5,
        pt(f, 4, "branch", "if", "v_branch/fifo", S="4"): 5,
        pt(f, 5, "branch", "else", "v_branch/fifo", n="2", S="6"): 0,
        pt(f, 2, "toggle", "cnt[0]:0->1", "v_toggle/fifo"): 1,
        pt(f, 2, "toggle", "cnt[0]:1->0", "v_toggle/fifo"): 1,
        pt(f, 2, "toggle", "cnt[1]:0->1", "v_toggle/fifo"): 0,
        pt(f, 2, "toggle", "cnt[1]:1->0", "v_toggle/fifo"): 0,
        pt(f, 4, "expr", "(rst==1) => 1", "v_expr/fifo"): 3,
        pt(g, 2, "line", "block", "v_line/imsdev_csr", S="2"): 1,
    }
    return cc.items_of(points, root=repo)


def test_summary_figures_per_file_group_and_total(repo):
    s = cc.summarize(_items(repo), [], cc.Sources(repo))
    # lines: 3, 4 hit; 5, 6 not (else arm) -> 2/4 hand-written; the CSR line 1/1
    assert s["line"]["counts"]["hand_written"] == {"points": 4, "covered": 2, "waived": 0}
    assert s["line"]["hand_written"] == 50.0 and s["line"]["generated"] == 100.0 and s["line"]["total"] == 60.0
    assert s["branch"]["per_file"]["rtl/common/fifo.sv"]["percent"] == 50.0
    assert s["toggle"]["per_file"]["rtl/common/fifo.sv"]["percent"] == 50.0
    assert s["toggle"]["per_module"]["fifo"]["points"] == 4
    assert s["line"]["per_block"]["common"]["percent"] == 50.0 and s["line"]["per_block"]["regs"]["percent"] == 100.0
    assert cc.block_of("rtl/dma/imsdev_dma.sv") == "dma"
    assert s["expression"]["total"] == 100.0
    assert s["branch"]["generated"] is None                  # no branch in the generated file: no figure
    assert s["line"]["per_file"]["rtl/regs/imsdev_csr.sv"]["generated"] is True
    assert s["line"]["per_file"]["rtl/common/fifo.sv"]["modules"] == ["fifo"]
    assert s["targets"]["line"] == {"target": 95.0, "hand_written": 50.0, "met": False}
    unc = {(u["kind"], u["line"]) for u in s["uncovered"]}
    assert unc == {("line", 5), ("line", 6), ("branch", 5), ("toggle", 2)}
    six = next(u for u in s["uncovered"] if u["kind"] == "line" and u["line"] == 6)
    assert six["source"] == "cnt <= cnt + 1;  // unreachable in this bench"


def test_waived_points_leave_the_denominator_and_are_counted(repo):
    waivers = cc.parse_waivers({"waiver": [
        {"file": "rtl/common/fifo.sv", "line": "5-6", "kind": ["line", "branch"], "reason": "unreachable"},
        {"file": "rtl/common/fifo.sv", "signal": "cnt", "reason": "counter MSB", "match": "cnt"},
        {"file": "rtl/other.sv", "line": 1, "reason": "stale"}]})
    s = cc.summarize(_items(repo), waivers, cc.Sources(repo))
    assert s["line"]["counts"]["hand_written"] == {"points": 2, "covered": 2, "waived": 2}
    assert s["line"]["hand_written"] == 100.0
    assert s["branch"]["per_file"]["rtl/common/fifo.sv"] == {
        "percent": 100.0, "points": 1, "covered": 1, "waived": 1, "generated": False, "modules": ["fifo"]}
    assert s["toggle"]["counts"]["total"] == {"points": 0, "covered": 0, "waived": 4}
    assert s["toggle"]["total"] is None
    assert [(w["points"], w["hit"]) for w in s["waivers"]] == [(3, 0), (4, 2), (0, 0)]
    assert s["uncovered"] == []


def test_lcov_file(repo, tmp_path):
    items = _items(repo)
    waivers = cc.parse_waivers({"waiver": [{"file": "rtl/common/fifo.sv", "line": 6, "kind": ["line"],
                                            "reason": "r"}]})
    cc.write_lcov(items, waivers, cc.Sources(repo), tmp_path / "c.info", root=repo)
    recs = (tmp_path / "c.info").read_text().split("end_of_record\n")
    assert recs[0].startswith("TN:verilator_coverage\nSF:")
    fifo = next(r for r in recs if r.strip().endswith("LH:2") or "fifo.sv" in r)
    lines = fifo.splitlines()
    assert f"SF:{repo}/rtl/common/fifo.sv" in lines
    assert [x for x in lines if x.startswith("DA:")] == ["DA:3,5", "DA:4,5", "DA:5,0"]     # 6 waived
    assert [x for x in lines if x.startswith("BRDA:")] == ["BRDA:4,0,0,5", "BRDA:5,0,0,0"]
    assert "LF:3" in lines and "LH:2" in lines and "BRF:2" in lines and "BRH:1" in lines


def test_markdown_lists_uncovered_lines_with_source(repo, tmp_path):
    s = cc.summarize(_items(repo), [], cc.Sources(repo))
    unc = s.pop("uncovered")
    doc = {**s, "functional": None, "configs": ["small"], "runs": [{"name": "r", "passed": True}],
           "merged_by": "test", "notes": cc.NOTES, "uncovered_items": unc}
    cc.write_markdown(doc, tmp_path / "s.md")
    md = (tmp_path / "s.md").read_text()
    assert "`rtl/common/fifo.sv:6` `cnt <= cnt + 1;  // unreachable in this bench`" in md
    assert "| line | 50.0 | 95 | NO |" in md
    assert "rtl/regs/imsdev_csr.sv (generated)" in md
    assert "`cnt` 2 edges" in md
    json.dumps(doc)   # the summary is JSON-serialisable


def test_functional_is_none_without_the_report_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "coverage_report", None)     # import fails
    f, note = cc.functional()
    assert f is None and "not available" in note


def test_regression_items_follow_the_testplan(monkeypatch):
    for var in ("CONFIG", "PLATFORM", "RESEED"):
        monkeypatch.delenv(var, raising=False)
    items = cc.regression_items(["small"], ["test_enumeration"])
    assert items == [("tb.tests.link.test_enumeration", "small", None, "")]
    plats = {it[2] for it in cc.regression_items(["small"], ["test_platform_interrupts"])}
    assert plats == {"x86", "arm"}


def test_rtl_snapshot_and_change_detection(repo, tmp_path, monkeypatch):
    monkeypatch.setattr(cc, "ROOT", repo)
    cc.snapshot_rtl(tmp_path / "src")
    assert (tmp_path / "src/rtl/common/fifo.sv").read_text() == (repo / "rtl/common/fifo.sv").read_text()
    assert cc.rtl_changes(tmp_path / "src") == []
    (repo / "rtl/common/fifo.sv").write_text("module fifo; endmodule\n")
    (repo / "rtl/common/new.sv").write_text("module n; endmodule\n")
    assert cc.rtl_changes(tmp_path / "src") == ["rtl/common/fifo.sv", "rtl/common/new.sv"]
    # the report quotes the snapshot, not the edited file
    assert cc.Sources(tmp_path / "src").line("rtl/common/fifo.sv", 6).strip().startswith("cnt <= cnt + 1;")
