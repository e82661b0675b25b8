"""What `make sim` will run, decided and checked before anything is built.

The regression's filters (TEST, CONFIG, PLATFORM, TESTCASE, SEED) come from the environment. Each one is
checked here with an error that says what exists, so a typo fails in a second instead of after a build, or
worse, "passes" with nothing run:

* CONFIG must name a configuration (sim/configs.py), PLATFORM one of the platforms the testplan uses, SEED
  an integer in 1 .. 2**32-1, SHARD k/N with 1 <= k <= N (sim/shard.py);
* TEST is a pytest -k expression over the regression's item ids (``<module>-<config>[-<platform>]``); it
  must select at least one item;
* TESTCASE (a comma-separated list) names cocotb tests of the selected modules: ``test_x`` selects
  ``test_x`` and every parametrisation ``test_x/...``; a name that no selected module defines is an error
  listing the tests that exist.

Only the configurations of the selected items are built.
"""
from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

import shard
import simlib
from configs import CONFIGS
from testplan import TESTPLAN


class SelectionError(Exception):
    """A filter selects nothing or names something that does not exist (run.py exits with status 2)."""


@dataclass(frozen=True)
class Item:
    module: str
    config: str
    platform: str | None
    tag: str

    @property
    def short(self) -> str:
        return self.module.rsplit(".", 1)[-1]

    @property
    def id(self) -> str:
        return f"{self.short}-{self.config}" + (f"-{self.platform}" if self.platform else "") + self.tag


def platforms() -> list[str]:
    return sorted({p for e in TESTPLAN for p in e.platforms if p})


def all_items(config: str | None = None, platform: str | None = None, reseed: bool = False,
              testcase: str | None = None) -> list[Item]:
    """Every regression item the CONFIG/PLATFORM/TESTCASE filters keep (a module without platforms runs
    under any platform; with TESTCASE, only modules that define one of the named tests)."""
    names = testcase_names(testcase)
    out = []
    for entry in TESTPLAN:
        if names and not any(matches(n, cocotb_tests(entry.module)) for n in names):
            continue
        for cfg in entry.configs:
            if config and cfg != config:
                continue
            for plat in entry.platforms:
                if platform and plat and plat != platform:
                    continue
                for k in range(entry.reseeds if reseed else 1):
                    out.append(Item(entry.module, cfg, plat, f"-s{k}" if k else ""))
    return out


def cocotb_tests(module: str) -> list[str]:
    """The cocotb tests a module defines (functions decorated with cocotb.test), read from its source; also
    those defined under a module-level `if` (tests defined only for one platform: `if PLATFORM == "x86":`)."""
    path = simlib.ROOT / Path(*module.split(".")).with_suffix(".py")
    tree = ast.parse(path.read_text(), str(path))

    def statements(body):
        for node in body:
            if isinstance(node, ast.If):
                yield from statements(node.body)
                yield from statements(node.orelse)
            else:
                yield node

    names = []
    for node in statements(tree.body):
        if isinstance(node, (ast.AsyncFunctionDef, ast.FunctionDef)):
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                if ast.unparse(target) in ("cocotb.test", "test"):
                    names.append(node.name)
                    break
    return names


def testcase_names(testcase: str | None) -> list[str]:
    return [n.strip() for n in (testcase or "").split(",") if n.strip()]


def testcase_filter(testcase: str | None) -> str | None:
    """COCOTB_TEST_FILTER for TESTCASE: each name exactly, or any of its parametrisations (name/...)."""
    names = testcase_names(testcase)
    if not names:
        return None
    return r"\.(" + "|".join(re.escape(n) for n in names) + r")(/[^.]*)?$"


def matches(name: str, tests: list[str]) -> bool:
    """TESTCASE entry `name` (test or test/parametrisation) names one of `tests`."""
    base = name.split("/", 1)[0]
    return base in tests


def check_env(env=os.environ) -> None:
    """CONFIG, PLATFORM, SEED, SHARD: known values only."""
    cfg = env.get("CONFIG") or ""
    if cfg and cfg not in CONFIGS:
        raise SelectionError(f"CONFIG={cfg!r} is not a configuration; known: {', '.join(CONFIGS)}")
    plat = env.get("PLATFORM") or ""
    if plat and plat not in platforms():
        raise SelectionError(f"PLATFORM={plat!r} is not a platform; known: {', '.join(platforms())}")
    raw = env.get("SEED", "")
    if raw:
        try:
            simlib.parse_seed(raw)
        except ValueError as exc:
            raise SelectionError(str(exc)) from None
    try:
        shard.parse_shard(env.get("SHARD"))
    except ValueError as exc:
        raise SelectionError(str(exc)) from None


def check_testcase(items: list[Item], testcase: str | None) -> None:
    names = testcase_names(testcase)
    if not names:
        return
    modules = sorted({i.module for i in items})
    tests = {m: cocotb_tests(m) for m in modules}
    every = sorted({t for ts in tests.values() for t in ts})
    missing = [n for n in names if not matches(n, every)]
    if missing:
        listing = "; ".join(f"{m.rsplit('.', 1)[-1]}: {', '.join(ts)}" for m, ts in tests.items())
        raise SelectionError(f"TESTCASE {', '.join(missing)} is not a cocotb test of the selected module(s) "
                             f"(a parametrised test is selected by its name, e.g. TESTCASE=test_x runs every "
                             f"test_x/...). Tests: {listing}")


def explain_empty(test: str, items: list[Item]) -> str:
    modules = sorted({i.short for i in items})
    return (f"TEST={test!r} selects no regression item. Items are named <module>-<config>[-<platform>] "
            f"(e.g. {items[0].id if items else 'test_msix-default'}); TEST is a pytest -k expression over "
            f"them. Modules: {', '.join(modules)}")
