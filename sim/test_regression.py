"""The simulation regression as pytest items: one per (testplan entry, configuration, platform).

Filters: -k / TEST (module name part), CONFIG, PLATFORM, TESTCASE (one cocotb test), SEED (replay).
RESEED=1 runs each item as many times as its stage's reseed count (sim/testplan.py), each with a new seed.
The RTL must already be built (`make sim` builds before it runs this file).
"""
import json
import os

import pytest

import simlib
from testplan import TESTPLAN


def _items():
    only_cfg = os.environ.get("CONFIG") or None
    only_plat = os.environ.get("PLATFORM") or None
    for entry in TESTPLAN:
        for cfg in entry.configs:
            if only_cfg and cfg != only_cfg:
                continue
            for plat in entry.platforms:
                if only_plat and plat and plat != only_plat:
                    continue
                short = entry.module.rsplit(".", 1)[-1]
                name = f"{short}-{cfg}" + (f"-{plat}" if plat else "")
                for k in range(entry.reseeds if simlib.env_flag("RESEED") else 1):
                    tag = f"-s{k}" if k else ""
                    yield pytest.param(entry.module, cfg, plat, tag, id=name + tag)


@pytest.mark.parametrize("module,cfg_name,platform,tag", list(_items()))
def test_sim(module, cfg_name, platform, tag):
    seed = simlib.seed_from_env()
    waves = simlib.env_flag("WAVES")
    cfg = simlib.config(cfg_name)
    seed, cases, log_dir = simlib.run(module, cfg, seed=seed, testcase=os.environ.get("TESTCASE") or None,
                                      platform=platform, waves=waves, tag=tag)
    (log_dir / "summary.json").write_text(json.dumps({
        "name": log_dir.name, "module": module, "config": cfg_name, "platform": platform, "seed": seed,
        "log_dir": str(log_dir.relative_to(simlib.ROOT)),
        "cases": [c.__dict__ for c in cases],
    }))
    print(f"{module} on {cfg_name}{'/' + platform if platform else ''}: seed {seed}, log {log_dir}/sim.log")
    assert cases, f"{module}: no cocotb test ran (seed {seed})"
    failed = [c for c in cases if not c.passed]
    assert not failed, f"{module} seed {seed}: " + "; ".join(f"{c.name}: {c.message[:200]}" for c in failed)
