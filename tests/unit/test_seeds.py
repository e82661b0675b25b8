"""Run seeds (sim/simlib.py new_seed): random without SEED_BASE; with it, derived from SEED_BASE and the run's
name, so `make test` on one commit runs the same seeds on every machine (Makefile: test sets SEED_BASE to the
commit), and each run of a regression still gets its own seed."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "sim"))

import simlib  # noqa: E402


def test_derived_seed_is_a_function_of_base_and_name(monkeypatch):
    monkeypatch.setenv("SEED_BASE", "671e71923c3625c415903a2a4f7cdfdf83ed176e")
    a = simlib.new_seed("default-test_traffic")
    assert a == simlib.new_seed("default-test_traffic")
    # the value this derivation gave when it was written (sha256 of "<base>/<name>", low 8 bytes little-endian,
    # mod 2**31-1, plus 1): it must not change silently, or a CI log's printed seeds stop replaying with SEED_BASE
    assert a == 1359014313
    assert simlib.parse_seed(str(a)) == a          # a valid SEED to replay with


def test_each_run_and_each_base_gets_its_own_seed(monkeypatch):
    monkeypatch.setenv("SEED_BASE", "abc")
    names = [f"default-test_traffic-s{k}" for k in range(1, 40)] + ["small-test_traffic", "default-test_msix"]
    seeds = [simlib.new_seed(n) for n in names]
    assert len(set(seeds)) == len(seeds)            # reseeds of one module differ from each other
    assert all(1 <= s < 2**31 for s in seeds)
    monkeypatch.setenv("SEED_BASE", "abd")
    assert all(simlib.new_seed(n) != s for n, s in zip(names, seeds))


def test_without_base_seeds_are_random(monkeypatch):
    monkeypatch.delenv("SEED_BASE", raising=False)
    seeds = {simlib.new_seed("default-test_traffic") for _ in range(20)}
    assert len(seeds) > 15 and all(1 <= s < 2**31 for s in seeds)
    monkeypatch.setenv("SEED_BASE", "")              # empty is unset (`make test SEED_BASE=`)
    assert len({simlib.new_seed("x") for _ in range(20)}) > 15


def _make_var(*args: str, env: dict | None = None) -> str:
    """SEED_BASE as the recipes of `make test`'s prerequisites see it (every prerequisite marked as done)."""
    done = [f"-o{t}" for t in ("lint", "check-regen", "unit", "blocks", "waves-smoke", "sim", "fw-run-check",
                               "formal-sample", "coverage-sample", "mutate-sample", "synth-smoke", ".venv/.installed")]
    out = subprocess.run(["make", "-s", "-C", str(ROOT), *done, "--eval", "test: zz_seed_base",
                          "--eval", 'zz_seed_base: ; @echo "[$$SEED_BASE]"', *args, "test"],
                         capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_make_test_seeds_from_the_commit():
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout: make test draws random seeds")
    # run as a prerequisite of an outer make (make unit inside make test), the outer make's flags and
    # command-line variables would reach this one through MAKEFLAGS
    env = {k: v for k, v in os.environ.items()
           if k not in ("SEED_BASE", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    assert _make_var(env=env) == f"[{head.stdout.strip()}]"
    assert _make_var(env={**env, "SEED_BASE": "mine"}) == "[mine]"
    assert _make_var("SEED_BASE=", env=env) == "[]"          # on the command line: random seeds again
