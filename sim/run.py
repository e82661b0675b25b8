#!/usr/bin/env python3
"""Command line for the simulation flow (called by the Makefile).

  run.py sim                               `make sim`: check the filters (TEST, CONFIG, PLATFORM, TESTCASE,
                                           SEED, SHARD; sim/selection.py), build the configurations the selected
                                           items use, run them (pytest test_regression.py); SHARD=k/N runs
                                           the k-th of N duration-balanced shards (sim/shard.py)
  run.py build [--config NAME] [--waves]   build RTL configurations (all used by the testplan by default)
  run.py lint                              Verilator --lint-only -Wall over all RTL, every configuration
  run.py testplan                          write docs/testplan.md from sim/testplan.py
  run.py bad-inputs [--check]              write (--check: fail if stale) docs/bad_inputs.md from the BAD_INPUTS
                                           rows of the test modules (sim/tools/bad_inputs_doc.py)
  run.py report                            sim/results/testplan.md: per testplan entry its last results,
                                           functional coverage of its covergroups, mutants of its blocks
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import selection
import shard
import simlib
from junit import junit_xml
from configs import CONFIGS
from testplan import TESTPLAN


def cmd_build(args) -> int:
    names = [args.config] if args.config else sorted({c for e in TESTPLAN for c in e.configs})
    for name in names:
        secs = simlib.build(simlib.config(name), waves=args.waves)
        print(f"build {name}{' (waves)' if args.waves else ''}: {secs:.1f} s -> {simlib.build_dir(simlib.config(name), args.waves)}")
    return 0


def _collect(test: str) -> set[str]:
    """Item ids pytest selects with -k TEST (pytest's own expression semantics)."""
    env = {k: v for k, v in os.environ.items() if k != "TESTCASE"}    # TESTCASE is checked on its own
    res = subprocess.run([sys.executable, "-m", "pytest", "test_regression.py", "--collect-only", "-q",
                          "-p", "no:cacheprovider", "-p", "no:xdist", "-k", test],
                         cwd=simlib.ROOT / "sim", capture_output=True, text=True, env=env)
    if res.returncode not in (0, 5):       # 5: nothing selected
        sys.stderr.write(res.stdout + res.stderr)
        raise selection.SelectionError(f"TEST={test!r}: pytest could not use it as a -k expression")
    return {line.split("[", 1)[1].rstrip("]") for line in res.stdout.splitlines() if "::test_sim[" in line}


def select(env=os.environ) -> list[selection.Item]:
    """The items `make sim` runs for the filters in `env` (TEST, CONFIG, PLATFORM, TESTCASE, SEED, RESEED;
    SHARD is only checked here), nothing built; SelectionError for a bad filter or an empty selection."""
    selection.check_env(env)
    test, testcase = env.get("TEST", ""), env.get("TESTCASE") or None
    items = selection.all_items(env.get("CONFIG") or None, env.get("PLATFORM") or None,
                                env.get("RESEED", "0") not in ("", "0"))
    if test:
        ids = _collect(test)
        chosen = [i for i in items if i.id in ids]
        if not chosen:
            raise selection.SelectionError(selection.explain_empty(test, items))
    else:
        chosen = items
    selection.check_testcase(chosen, testcase)
    names = selection.testcase_names(testcase)
    if names:
        defining = {i.module for i in selection.all_items(testcase=testcase)}
        chosen = [i for i in chosen if i.module in defining]
    return chosen


def filters(env=os.environ) -> dict:
    """The filters that decide the selection (recorded in a shard's manifest, compared by the merge)."""
    out = {k: env.get(k, "") for k in ("TEST", "CONFIG", "PLATFORM", "TESTCASE")}
    out["RESEED"] = "1" if env.get("RESEED", "0") not in ("", "0") else ""      # make's default is 0
    return out


def cmd_sim(args) -> int:
    env = os.environ
    chosen = select(env)
    test, testcase = env.get("TEST", ""), env.get("TESTCASE") or None
    sharding = shard.parse_shard(env.get("SHARD"))
    durations = shard.load_durations()
    junit_name, pytest_junit = "junit.xml", "pytest-junit.xml"
    where = ""
    if sharding:
        k, n = sharding
        selected = chosen
        chosen = shard.shard_items(selected, k, n, durations)
        junit_name, pytest_junit = shard.junit_name(k, n), f"pytest-junit-{shard.tag(k, n)}.xml"
        simlib.RESULTS_ROOT.mkdir(parents=True, exist_ok=True)
        for stale in (junit_name, pytest_junit):      # a shard that dies must not leave an old file to merge
            (simlib.RESULTS_ROOT / stale).unlink(missing_ok=True)
        (simlib.RESULTS_ROOT / shard.manifest_name(k, n)).write_text(json.dumps({
            "shard": [k, n], "filters": filters(env), "selection": len(selected),
            "items": [i.id for i in chosen]}, indent=1) + "\n")
        where = f" (shard {k}/{n} of {len(selected)})"
    est = shard.estimates([i.id for i in chosen], durations)
    waves = simlib.env_flag("WAVES")
    configs = sorted({i.config for i in chosen})
    print(f"make sim: {len(chosen)} item(s){where} on {', '.join(configs) or 'nothing'}"
          + (f" (TEST={test})" if test else "") + (f" (TESTCASE={testcase})" if testcase else "")
          + (f", about {sum(est.values()):.0f} CPU-s of simulation (sim/durations.json)" if chosen else ""))
    base = os.environ.get(simlib.SEED_BASE_ENV, "")
    if chosen and not simlib.seed_from_env():
        print(f"make sim: seeds derived from SEED_BASE={base} (the same on every machine)" if base else
              "make sim: a random seed per item (printed; SEED_BASE=<any text> derives them instead)")
    if not chosen:
        # More shards than items: this one has nothing to run; its (empty) JUnit tells the merge it ran.
        out = simlib.RESULTS_ROOT / junit_name
        ET.ElementTree(junit_xml([], {"shard": "%d/%d" % sharding})).write(out, encoding="utf-8", xml_declaration=True)
        print(f"nothing to run in this shard; JUnit XML: {out}")
        return 0
    for name in configs:
        secs = simlib.build(simlib.config(name), waves=waves)
        print(f"build {name}{' (waves)' if waves else ''}: {secs:.1f} s -> {simlib.build_dir(simlib.config(name), waves)}")
    # One item runs in this process (no worker start-up); failures print their output, passes do not
    # (the per-test summary lists them with seeds).
    jobs = min(args.jobs, len(chosen))
    cmd = [sys.executable, "-m", "pytest", "test_regression.py", "-n", str(jobs if jobs > 1 else 0),
           "-p", "no:cacheprovider", "-q", "-rfE", f"--junitxml=results/{pytest_junit}"]
    if test:
        cmd += ["-k", test]
    # The plan: which items this run is (a shard: conftest deselects the others) and their expected
    # seconds (progress lines with an ETA); where the JUnit goes.
    with tempfile.NamedTemporaryFile("w", prefix="imsdev-plan-", suffix=".json", delete=False) as f:
        json.dump({"items": est, "jobs": max(jobs, 1), "shard": list(sharding) if sharding else None}, f)
    run_env = dict(env, IMSDEV_SIM_PLAN=f.name, IMSDEV_SIM_JUNIT=junit_name)
    sys.stdout.flush()
    try:
        return subprocess.run(cmd, cwd=simlib.ROOT / "sim", env=run_env).returncode
    finally:
        os.unlink(f.name)


def cmd_lint(_args) -> int:
    rc = 0
    for cfg in CONFIGS.values():
        cmd = (["verilator", "--lint-only", "-Wall", "--top-module", simlib.TOPLEVEL]
               + [f"-G{k}={v}" for k, v in cfg.params.items()]
               + [str(p) for p in simlib.lint_configs()] + [str(p) for p in simlib.rtl_sources()])
        t0 = time.monotonic()
        res = subprocess.run(cmd, cwd=simlib.ROOT)
        print(f"lint {cfg.name}: {'clean' if res.returncode == 0 else 'FAILED'} ({time.monotonic() - t0:.1f} s)")
        rc |= res.returncode
    return rc


def cmd_testplan(_args) -> int:
    lines = ["# Testplan", "", "Generated from sim/testplan.py by `sim/run.py testplan`; do not edit.", "",
             "Stages: V1 basic, V2 complete (every feature and its corner cases), V3 stress. Reseeds: runs per "
             "configuration/platform in a reseeded regression (`make sim RESEED=1`). Blocks: what the mutation "
             "campaign (`make mutate`) tries to kill with the module. Covergroups: tb/coverage/model.py. After a "
             "regression, `make report` writes sim/results/testplan.md with each entry's last results, coverage "
             "and mutants.", "",
             "| test module | stage | reseeds | configurations | platforms | blocks | covergroups | features checked |",
             "|---|---|---|---|---|---|---|---|"]
    for e in TESTPLAN:
        plats = ", ".join(p for p in e.platforms if p) or "-"
        lines.append(f"| `{e.module}` | {e.stage} | {e.reseeds} | {', '.join(e.configs)} | {plats} | "
                     f"{', '.join(e.blocks)} | {', '.join(e.covergroups)} | " + "<br>".join(e.features) + " |")
    (simlib.ROOT / "docs" / "testplan.md").write_text("\n".join(lines) + "\n")
    return 0


def cmd_bad_inputs(args) -> int:
    sys.path.insert(0, str(simlib.ROOT / "sim" / "tools"))
    import bad_inputs_doc
    return bad_inputs_doc.main(["--check"] if args.check else [])


def cmd_report(_args) -> int:
    """The testplan with what the last runs found (results are read from sim/results, nothing is run)."""
    import json
    # A run's summary sits beside its sim.log (coverage, stress and mutation reports have summaries too).
    runs = [json.loads(p.read_text()) for p in sorted(simlib.RESULTS_ROOT.glob("*/summary.json"))
            if (p.parent / "sim.log").exists()]
    functional = {}
    try:
        import coverage_report
        functional = coverage_report.report()["per_group"]
    except Exception as e:      # noqa: BLE001 - the report shows what exists; a missing part is named
        print(f"functional coverage unavailable: {type(e).__name__}: {e}")
    mutation_path = simlib.RESULTS_ROOT / "mutation" / "summary.json"
    mutation = json.loads(mutation_path.read_text()) if mutation_path.exists() else {}
    per_block = mutation.get("per_block", {})
    lines = ["# Testplan with results", "",
             "From the runs under sim/results (`make sim`, `make fcov`, `make mutate`), written by `make report`.", "",
             "| test module | stage | runs (passed/all cocotb tests) | functional coverage of its covergroups | "
             "mutants of its blocks killed |", "|---|---|---|---|---|"]
    for e in TESTPLAN:
        mine = [r for r in runs if r.get("module") == e.module]
        cases = [c for r in mine for c in r["cases"]]
        passed = sum(c["passed"] for c in cases)
        result = f"{len(mine)} runs, {passed}/{len(cases)}" if mine else "not run"
        cov = []
        for g in e.covergroups:
            v = functional.get(g)
            if v:
                cov.append(f"{g} {v['hit']}/{v['bins'] - v['waived']}")
        killed = sum(per_block.get(b, {}).get("killed", 0) for b in e.blocks)
        total = sum(per_block.get(b, {}).get("mutants", 0) for b in e.blocks)
        survivors = [s for b in e.blocks for s in per_block.get(b, {}).get("survived", [])]
        mut = f"{killed}/{total}" + (f" (survived: {', '.join(survivors)})" if survivors else "") if total else "-"
        lines.append(f"| `{e.module.rsplit('.', 1)[-1]}` | {e.stage} | {result} | {'; '.join(cov) or '-'} | {mut} |")
    out = simlib.RESULTS_ROOT / "testplan.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"written: {out}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sm = sub.add_parser("sim")
    sm.add_argument("--jobs", type=int, default=2)
    b = sub.add_parser("build")
    b.add_argument("--config")
    b.add_argument("--waves", action="store_true")
    sub.add_parser("lint")
    sub.add_parser("testplan")
    sub.add_parser("bad-inputs").add_argument("--check", action="store_true")
    sub.add_parser("report")
    args = ap.parse_args()
    if args.cmd == "sim":
        try:
            return cmd_sim(args)
        except selection.SelectionError as exc:
            print(f"make sim: {exc}", file=sys.stderr)
            return 2
    return {"sim": cmd_sim, "build": cmd_build, "lint": cmd_lint, "testplan": cmd_testplan,
            "bad-inputs": cmd_bad_inputs, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
