"""The simulation regression as pytest items: one per (testplan entry, configuration, platform).

Filters: -k / TEST (a -k expression over the item ids), CONFIG, PLATFORM, TESTCASE (cocotb tests, comma
separated; a parametrised test by its name), SEED (replay); sim/selection.py checks them. RESEED=1 runs each
item as many times as its stage's reseed count (sim/testplan.py), each with a new seed.
The RTL must already be built: `make sim` (run.py sim) checks the filters, builds the selected
configurations and then runs this file.
"""
import json
import os

import pytest

import selection
import simlib


def _items():
    for item in selection.all_items(os.environ.get("CONFIG") or None, os.environ.get("PLATFORM") or None,
                                    simlib.env_flag("RESEED"), os.environ.get("TESTCASE") or None):
        yield pytest.param(item.module, item.config, item.platform, item.tag, id=item.id)


@pytest.mark.parametrize("module,cfg_name,platform,tag", list(_items()))
def test_sim(module, cfg_name, platform, tag):
    seed = simlib.seed_from_env()
    waves = simlib.env_flag("WAVES")
    cfg = simlib.config(cfg_name)
    testcase = os.environ.get("TESTCASE") or None
    seed, cases, log_dir = simlib.run(module, cfg, seed=seed, test_filter=selection.testcase_filter(testcase),
                                      platform=platform, waves=waves, tag=tag)
    (log_dir / "summary.json").write_text(json.dumps({
        "name": log_dir.name, "module": module, "config": cfg_name, "platform": platform, "seed": seed,
        "log_dir": str(log_dir.relative_to(simlib.ROOT)), "testcase": testcase,
        "session": os.environ.get("IMSDEV_SIM_SESSION", ""),
        "cases": [c.__dict__ for c in cases],
    }))
    print(f"{module} on {cfg_name}{'/' + platform if platform else ''}: seed {seed}, log {log_dir}/sim.log")
    assert cases, f"{module}: no cocotb test ran (seed {seed})"
    failed = [c for c in cases if not c.passed]
    assert not failed, (f"{module} seed {seed}: " + "; ".join(f"{c.name}: {c.message[:200]}" for c in failed)
                        + f" (log kept as {simlib.failed_log(log_dir, seed)})")
