"""The mutation campaign's run order (sim/mutation/mutate.py): a recorded killer first, the host models'
unit tests next for their mutants, then cheapest first by the measured durations; the order changes what a
campaign costs, never which runs it may try."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sim" / "mutation"))

import mutate  # noqa: E402
from mutate import Item  # noqa: E402


def campaign(durations, killers=None, baseline=None):
    c = mutate.Campaign.__new__(mutate.Campaign)
    c.baseline_s = baseline or {}
    c.durations = durations
    c.killers = killers or {}
    return c


ITEMS = [Item("tb.tests.wq.test_portals", "small"), Item("tb.tests.wq.test_arbitration", "small"),
         Item("tb.tests.fw.test_c_library", "small", "x86"), Item("tb.tests.wq.test_unmeasured", "small")]


def test_cheapest_first_from_the_durations_file_and_unmeasured_runs_last():
    c = campaign({"test_portals-small": 30.0, "test_arbitration-small": 0.4, "test_c_library-small-x86": 2.0})
    assert [i.name for i in c.order(ITEMS)] == ["test_arbitration-small", "test_c_library-small-x86",
                                                "test_portals-small", "test_unmeasured-small"]


def test_a_baseline_measured_here_overrides_the_durations_file():
    c = campaign({"test_portals-small": 30.0, "test_arbitration-small": 0.4},
                 baseline={ITEMS[0]: 0.1})
    assert c.order(ITEMS)[0].name == "test_portals-small"


def test_the_recorded_killer_goes_first_and_the_rest_keep_their_order():
    c = campaign({"test_portals-small": 30.0, "test_arbitration-small": 0.4, "test_c_library-small-x86": 2.0},
                 killers={"wq.some_mutant": "test_portals-small"})
    order = [i.name for i in c.order(ITEMS, "wq.some_mutant")]
    assert order == ["test_portals-small", "test_arbitration-small", "test_c_library-small-x86",
                     "test_unmeasured-small"]
    assert sorted(order) == sorted(i.name for i in ITEMS)      # nothing dropped: a hint is only an order
    assert [i.name for i in c.order(ITEMS, "wq.other")][0] == "test_arbitration-small"


def test_unit_tests_go_first_for_host_model_mutants_and_timeouts_follow_the_expected_time():
    unit = Item(mutate.UNIT_TESTS_OF_MODELS)
    c = campaign({"test_arbitration-small": 40.0})
    assert c.order([ITEMS[1], unit])[0] == unit
    assert c.timeout_for(ITEMS[1]) == int(4 * (40.0 + mutate.RUN_OVERHEAD_S))
    assert c.timeout_for(ITEMS[3]) == 600                       # unknown: the generous default
    assert campaign({"test_arbitration-small": 1.0}).timeout_for(ITEMS[1]) == 120   # the floor


def test_unit_test_files_of_the_mutated_model_run_first_and_all_still_run():
    files = mutate.unit_test_files("tb/platform/vtd_ir.py")
    names = [Path(f).name for f in files]
    assert names[0] == "test_vtd_ir.py"
    assert len(names) == len(set(names)) == len(list((mutate.simlib.ROOT / "tests/unit").glob("test_*.py")))


def test_block_benches_that_compile_the_mutated_file_are_tried_last_unless_hinted():
    # tb/blocks/ats names its files, tb/blocks/dma globs rtl/dma and rtl/ats, tb/blocks/ims globs rtl/ims
    assert mutate.block_benches_of("rtl/ats/imsdev_ats_inv.sv") == ["ats", "dma"]
    assert mutate.block_benches_of("rtl/ats/imsdev_ats_xlate.sv") == ["dma"]
    assert mutate.block_benches_of("rtl/dma/imsdev_dma_wr.sv") == ["dma"]
    assert mutate.block_benches_of("rtl/ims/imsdev_ims.sv") == ["ims"]
    assert mutate.block_benches_of("rtl/wq/imsdev_wq_mgr.sv") == []
    assert mutate.block_benches_of("tb/platform/vtd_ir.py") == []
    blocks = Item(mutate.BLOCK_BENCHES, "ats")
    assert blocks.name == "blocks-ats"
    c = campaign({"test_arbitration-small": 40.0})
    assert [i.name for i in c.order([blocks, ITEMS[1]])] == ["test_arbitration-small", "blocks-ats"]
    c = campaign({"test_arbitration-small": 40.0}, killers={"ats.m": "blocks-ats"})
    assert c.order([ITEMS[1], blocks], "ats.m")[0] == blocks
    c = campaign({}, baseline={blocks: -1.0})                   # its baseline is running in another thread
    assert c.expected_s(blocks) is None


def test_a_block_bench_baseline_runs_once_on_first_use(monkeypatch):
    """The first mutant that needs a block bench runs its baseline (no mutant active) first, then itself; the
    baseline must not wait for its own claim (a sample once hung there)."""
    import subprocess
    import threading
    calls = []

    def fake_run(cmd, cwd=None, env=None, capture_output=None, text=None, timeout=None):
        calls.append(env["IMSDEV_MUTANT"])
        return subprocess.CompletedProcess(cmd, 0 if env["IMSDEV_MUTANT"] == "0" else 1, "FAILED x", "")
    monkeypatch.setattr(mutate.subprocess, "run", fake_run)
    c = campaign({})
    c.seed, c.lock = 1, threading.Lock()
    item = Item(mutate.BLOCK_BENCHES, "ats")
    out = []
    th = threading.Thread(target=lambda: out.append(c.run_block_bench(item, 7, 60)), daemon=True)
    th.start()
    th.join(10)
    assert not th.is_alive(), "run_block_bench hung on its own baseline"
    assert calls == ["0", "7"] and out[0][0] is False and c.baseline_s[item] >= 0
    c.run_block_bench(item, 8, 60)
    assert calls == ["0", "7", "8"]                              # the baseline ran once


def test_hints_record_kills_and_forget_survivors(tmp_path, monkeypatch):
    ids = [m.id for m in mutate.load()][:3]
    results = tmp_path / "results"
    results.mkdir()
    (results / "summary.json").write_text(json.dumps({"details": [
        {"id": ids[0], "status": "killed", "killed_by": "test_a-small"},
        {"id": ids[1], "status": "survived", "killed_by": ""}]}))
    killers = tmp_path / "killers.json"
    killers.write_text(json.dumps({"killers": {ids[1]: "test_old-small", ids[2]: "test_b-small",
                                               "gone.from_catalogue": "test_c-small"}}))
    monkeypatch.setattr(mutate, "RESULTS", results)
    monkeypatch.setattr(mutate, "KILLERS", killers)
    assert mutate.cmd_hints(None) == 0
    assert json.loads(killers.read_text())["killers"] == {ids[0]: "test_a-small", ids[2]: "test_b-small"}


def test_hints_without_a_campaign_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(mutate, "RESULTS", tmp_path)
    assert mutate.cmd_hints(None) == 2


def _confirming_campaign(monkeypatch, confirm, fails_with):
    """A campaign whose runs fail (kill) exactly under the seeds in `fails_with`; records each run's seed."""
    import threading
    c = campaign({"test_arbitration-small": 1.0})
    c.seed, c.lock, c.done, c.confirm, c.configs = 11, threading.Lock(), 0, confirm, ["small"]
    seeds = []

    def fake_run_item(item, number, timeout_s, mutated_file="", seed=None):
        seed = c.seed if seed is None else seed
        seeds.append((item.name, seed))
        return seed not in fails_with, "failed", 0.1
    monkeypatch.setattr(c, "run_item", fake_run_item)
    monkeypatch.setattr(mutate, "items_for", lambda m, configs: [ITEMS[1]])
    return c, seeds


MUTANT = mutate.Mutant("wq.m", "rtl/wq/imsdev_wq_mgr.sv", "a", "b", "condition", "d", number=5)


def test_confirm_reruns_the_killing_run_with_other_seeds_and_reports_a_kill_by_chance(monkeypatch, tmp_path):
    s1, s2 = mutate.confirm_seed(11, 1), mutate.confirm_seed(11, 2)
    assert len({11, s1, s2}) == 3 and s1 == mutate.confirm_seed(11, 1)      # fixed by the campaign's seed
    c, seeds = _confirming_campaign(monkeypatch, 2, fails_with={11, s1, s2})
    out = c.kill(MUTANT, 1)
    assert (out.status, out.confirmed, out.missed_seeds) == ("killed", "2/2", [])
    assert seeds == [("test_arbitration-small", 11), ("test_arbitration-small", s1), ("test_arbitration-small", s2)]
    c, seeds = _confirming_campaign(monkeypatch, 2, fails_with={11, s2})
    out = c.kill(MUTANT, 1)
    assert (out.status, out.confirmed, out.missed_seeds) == ("killed", "1/2", [s1])
    monkeypatch.setattr(mutate, "RESULTS", tmp_path)
    summary = mutate.write_summary([out], [MUTANT], 11, False, 1.0, 1.0, confirm=2)
    assert summary["chance_kills"] == [{"id": "wq.m", "killed_by": "test_arbitration-small", "confirmed": "1/2",
                                        "missed_seeds": [s1]}]
    assert "killed by chance: wq.m" in (tmp_path / "summary.md").read_text()


def test_confirm_off_and_unit_test_kills_run_nothing_more(monkeypatch):
    c, seeds = _confirming_campaign(monkeypatch, 0, fails_with={11})
    out = c.kill(MUTANT, 1)
    assert (out.confirmed, len(seeds)) == ("", 1)
    c, seeds = _confirming_campaign(monkeypatch, 3, fails_with={11})
    monkeypatch.setattr(mutate, "items_for", lambda m, configs: [Item(mutate.UNIT_TESTS_OF_MODELS)])
    out = c.kill(MUTANT, 1)
    assert (out.status, out.confirmed, len(seeds)) == ("killed", "", 1)       # the unit tests draw no seed


def test_a_kill_by_chance_goes_on_to_the_next_runs_and_a_robust_kill_there_replaces_it(monkeypatch):
    c, seeds = _confirming_campaign(monkeypatch, 1, fails_with=set())
    s1 = mutate.confirm_seed(11, 1)
    kills = {"test_stress-small": {11}, "test_portals-small": {11, s1}}     # stress: only the campaign's seed

    def fake_run_item(item, number, timeout_s, mutated_file="", seed=None):
        seed = c.seed if seed is None else seed
        seeds.append((item.name, seed))
        return seed not in kills.get(item.name, set()), "failed", 0.1
    monkeypatch.setattr(c, "run_item", fake_run_item)
    stress, portals = Item("tb.tests.stress.test_stress", "small"), Item("tb.tests.wq.test_portals", "small")
    monkeypatch.setattr(mutate, "items_for", lambda m, configs: [stress, portals])
    c.durations = {"test_stress-small": 1.0, "test_portals-small": 2.0}
    out = c.kill(MUTANT, 1)
    assert (out.killed_by, out.confirmed, out.missed_seeds) == ("test_portals-small", "1/1", [])
    kills["test_portals-small"] = {11}                                     # both by chance: the first is kept
    out = c.kill(MUTANT, 1)
    assert (out.killed_by, out.confirmed, out.missed_seeds) == ("test_stress-small", "0/1", [s1])


def test_the_hinted_module_goes_first_on_another_configuration_too():
    c = campaign({"test_portals-default": 30.0, "test_arbitration-default": 0.4},
                 killers={"wq.some_mutant": "test_portals-small"})
    items = [Item("tb.tests.wq.test_arbitration", "default"), Item("tb.tests.wq.test_portals", "default")]
    assert [i.name for i in c.order(items, "wq.some_mutant")] == ["test_portals-default", "test_arbitration-default"]


def test_a_block_bench_hint_promotes_no_other_block_bench():
    c = campaign({"blocks-ims": 5.0, "test_arbitration-small": 0.4, "blocks-dma": 60.0},
                 killers={"wq.some_mutant": "blocks-dma"})
    items = [Item(mutate.BLOCK_BENCHES, "ims"), Item("tb.tests.wq.test_arbitration", "small"),
             Item(mutate.BLOCK_BENCHES, "dma")]
    assert [i.name for i in c.order(items, "wq.some_mutant")] == ["blocks-dma", "test_arbitration-small",
                                                                  "blocks-ims"]
