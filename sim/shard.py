#!/usr/bin/env python3
"""Sharding of the regression (`make sim SHARD=k/N`) by measured durations (sim/durations.json).

The items `make sim` selects (module x configuration x platform [x reseed], sim/run.py select()) are split
into N shards by a greedy longest-processing-time partition over their expected seconds: items sorted by
(seconds descending, id), each given to the shard with the least load so far (ties: the lowest shard
number). It depends only on the item ids and the durations file, so every shard, on any machine, computes
the same split without talking to the others; together the N shards run exactly the items of one
unsharded run. Shard k writes sim/results/junit-shard-k-of-N.xml (and its manifest shard-k-of-N.json);
`make merge-shards` (sim/merge.py) checks and merges them.

sim/durations.json: {"provenance": {...}, "items": {"<item id>": seconds}}. Item ids are those of
`make sim` without a reseed tag (`test_msix-small`, `test_stress-wide-arm`); a reseeded item
(`...-s3`) takes its base item's time; an item the file does not name gets the median of the file.

    shard.py durations [--junit FILE]   refresh sim/durations.json from a run's JUnit (`make durations`)
    shard.py plan N                     items and expected seconds per shard for the current filters
    shard.py estimate                   write sim/durations.json estimated from the testplan (no run needed)
"""
from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import re
import statistics
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SIM = Path(__file__).resolve().parent
ROOT = SIM.parent
DURATIONS = SIM / "durations.json"
RESULTS = SIM / "results"
FALLBACK_S = 10.0           # an item's estimate when the durations file is empty or missing
_RESEED_TAG = re.compile(r"-s\d+$")


# ---- SHARD=k/N ------------------------------------------------------------------------------------
def parse_shard(raw: str | None) -> tuple[int, int] | None:
    """SHARD=k/N -> (k, N) with 1 <= k <= N; None when unset or empty; ValueError saying what is wrong."""
    raw = (raw or "").strip()
    if not raw:
        return None
    m = re.fullmatch(r"(\d+)\s*/\s*(\d+)", raw)
    if not m:
        raise ValueError(f"SHARD={raw!r} is not k/N (the k-th of N shards, two integers, e.g. SHARD=2/4)")
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1:
        raise ValueError(f"SHARD={raw!r}: N must be at least 1")
    if not 1 <= k <= n:
        raise ValueError(f"SHARD={raw!r}: k must be in 1..{n} (shards are numbered from 1)")
    return k, n


def tag(k: int, n: int) -> str:
    return f"shard-{k}-of-{n}"


def junit_name(k: int, n: int) -> str:
    return f"junit-{tag(k, n)}.xml"


def manifest_name(k: int, n: int) -> str:
    return f"{tag(k, n)}.json"


# ---- durations -------------------------------------------------------------------------------------
def base_id(item_id: str) -> str:
    """The item without its reseed tag: test_msix-small-s2 -> test_msix-small."""
    return _RESEED_TAG.sub("", item_id)


def load_durations(path: Path = DURATIONS) -> dict[str, float]:
    if not path.exists():
        return {}
    return {k: float(v) for k, v in json.loads(path.read_text()).get("items", {}).items()}


def estimates(ids: list[str], durations: dict[str, float]) -> dict[str, float]:
    """Expected seconds per item: its own entry, its base item's, else the median of the file."""
    default = statistics.median(durations.values()) if durations else FALLBACK_S
    return {i: durations.get(i, durations.get(base_id(i), default)) for i in ids}


def partition(est: dict[str, float], n: int) -> list[list[str]]:
    """Greedy longest-processing-time partition of the items into n shards (deterministic: the order of
    `est` does not matter). Each shard's list is in the order the items were placed."""
    loads = [0.0] * n
    shards: list[list[str]] = [[] for _ in range(n)]
    for item in sorted(est, key=lambda i: (-est[i], i)):
        s = min(range(n), key=lambda j: (loads[j], j))
        shards[s].append(item)
        loads[s] += est[item]
    return shards


def shard_items(items: list, k: int, n: int, durations: dict[str, float]) -> list:
    """The items (selection.Item) of shard k of n, in the selection's order."""
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise ValueError("the selection names an item twice")
    mine = set(partition(estimates(ids, durations), n)[k - 1])
    return [i for i in items if i.id in mine]


# ---- refresh from a run's JUnit --------------------------------------------------------------------
def measured(root: ET.Element) -> tuple[dict[str, float], list[str]]:
    """(base item id -> seconds, mean over its reseeds) of the passing suites of a JUnit file written by
    sim/junit.py; and the ids of failing suites (their time says little: a crash, a timeout)."""
    from junit import suite_item
    times: dict[str, list[float]] = {}
    failed = []
    for suite in root.iter("testsuite"):
        item = suite_item(suite)
        if int(suite.get("failures", 0)) or int(suite.get("errors", 0)):
            failed.append(item)
            continue
        times.setdefault(base_id(item), []).append(float(suite.get("time", 0)))
    return {k: round(sum(v) / len(v), 1) for k, v in times.items()}, failed


def refresh(junit: Path, out: Path = DURATIONS) -> dict:
    """sim/durations.json from a JUnit file: measured items replace their entries, the others are kept (and
    counted as such in the provenance); items no longer in the testplan are dropped."""
    import selection
    root = ET.parse(junit).getroot()
    new, failed = measured(root)
    if not new:
        raise SystemExit(f"{junit}: no passing suite with a time; nothing to refresh")
    known = {i.id for i in selection.all_items()}
    old = load_durations(out)
    items = {k: v for k, v in old.items() if k in known}
    kept = sorted(set(items) - set(new))
    items.update({k: v for k, v in new.items() if k in known})
    stamp = datetime.datetime.fromtimestamp(junit.stat().st_mtime, datetime.timezone.utc)
    doc = {
        "provenance": {
            "source": f"measured: {os.path.relpath(junit, ROOT)} (per item: the sum of its cocotb tests' wall "
                      f"time, without simulator start-up; reseeds averaged)",
            "run_date": root.get("timestamp") or stamp.isoformat(timespec="seconds"),
            "refreshed": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": {k: root.get(k) for k in ("cpus", "jobs", "loadavg") if root.get(k)}
                       or "not recorded in the JUnit file",
            "measured_items": len(new), "kept_from_previous_file": kept,
            "failing_items_not_measured": sorted(set(failed)),
            "command": "make durations (sim/shard.py durations)",
        },
        "items": dict(sorted(items.items())),
    }
    out.write_text(json.dumps(doc, indent=1) + "\n")
    return doc


# ---- estimate without a run --------------------------------------------------------------------------
def _variants(module: str, platform: str | None, names: dict[str, int]) -> int:
    """cocotb tests of a module on a platform, each parametrisation counted (cocotb.parametrize argument
    lengths: literal tuples, or the bench's PAUSE_MODES/STORE_NAMES); tests under `if PLATFORM == "p":`
    only on p."""
    path = ROOT / Path(*module.split(".")).with_suffix(".py")
    tree = ast.parse(path.read_text())

    def statements(body):
        for node in body:
            if isinstance(node, ast.If):
                src = ast.unparse(node.test)
                m = re.fullmatch(r"PLATFORM == ['\"](\w+)['\"]", src)
                if m and platform and m.group(1) != platform:
                    yield from statements(node.orelse)
                    continue
                yield from statements(node.body)
                yield from statements(node.orelse)
            else:
                yield node

    count = 0
    for node in statements(tree.body):
        if not isinstance(node, (ast.AsyncFunctionDef, ast.FunctionDef)):
            continue
        decs = [ast.unparse(d.func if isinstance(d, ast.Call) else d) for d in node.decorator_list]
        if not any(d in ("cocotb.test", "test") for d in decs):
            continue
        n = 1
        for d in node.decorator_list:
            if isinstance(d, ast.Call) and ast.unparse(d.func).endswith("parametrize"):
                for kw in d.keywords:
                    v = kw.value
                    n *= len(v.elts) if isinstance(v, (ast.Tuple, ast.List)) else names.get(ast.unparse(v), 2)
        count += n
    return count


START_UNITS = 3.0                                   # simulator start-up and bring-up, in cocotb-test units
STAGE_W = {"V1": 1.0, "V2": 1.0, "V3": 10.0}         # V3 (traffic, stress) tests run long random mixes
CONFIG_W = {"small": 0.6, "wide": 1.0, "default": 1.6}


def estimate(total_s: float = 720.0) -> dict:
    """Durations estimated from the testplan, not measured: per item (start-up + its cocotb tests counting
    parametrisations x stage weight) x configuration weight, scaled so the regression sums to total_s."""
    import selection
    from testplan import TESTPLAN
    names = {"PAUSE_MODES": 4, "STORE_NAMES": 2}     # tb/env.py PAUSE_MODES, test_platform_faults STORE_NAMES
    stage = {e.module: e.stage for e in TESTPLAN}
    raw, tests = {}, 0
    for item in selection.all_items():
        v = _variants(item.module, item.platform, names)
        tests += v
        raw[item.id] = (START_UNITS + v * STAGE_W[stage[item.module]]) * CONFIG_W.get(item.config, 1.0)
    scale = total_s / sum(raw.values())
    return {
        "provenance": {
            "source": f"ESTIMATED, not measured (no full regression's JUnit existed). Per item: ({START_UNITS:g} "
                      f"start-up units + its cocotb tests counting parametrisations ({tests} in all) x stage "
                      f"weight {STAGE_W}) x configuration weight {CONFIG_W}, scaled so the {len(raw)} items sum "
                      f"to {total_s:.0f} s (README: the regression takes ~6 min on 2 cores). Replace it with "
                      f"`make durations` after the next full `make sim`.",
            "refreshed": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": "none (not measured)",
            "command": "sim/shard.py estimate",
        },
        "items": {k: round(v * scale, 1) for k, v in sorted(raw.items())},
    }


# ---- command line --------------------------------------------------------------------------------------
def plan(n: int, env=os.environ) -> list[tuple[list[str], float, list[str]]]:
    """(item ids, expected seconds, configurations to build) per shard for the current filters (no build)."""
    import run
    items = run.select(env)
    cfg = {i.id: i.config for i in items}
    est = estimates(list(cfg), load_durations())
    return [(ids, sum(est[i] for i in ids), sorted({cfg[i] for i in ids})) for ids in partition(est, n)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("durations")
    d.add_argument("--junit", type=Path, default=RESULTS / "junit.xml")
    d.add_argument("--out", type=Path, default=DURATIONS)
    p = sub.add_parser("plan")
    p.add_argument("n", type=int)
    e = sub.add_parser("estimate")
    e.add_argument("--out", type=Path, default=DURATIONS)
    args = ap.parse_args(argv)
    if args.cmd == "durations":
        if not args.junit.exists():
            print(f"make durations: {args.junit} does not exist; run a full `make sim` (or merge the shards "
                  f"with `make merge-shards`) first", file=sys.stderr)
            return 2
        doc = refresh(args.junit, args.out)
        prov = doc["provenance"]
        print(f"{args.out}: {prov['measured_items']} items measured from {args.junit}, "
              f"{len(prov['kept_from_previous_file'])} kept from the previous file, "
              f"{len(prov['failing_items_not_measured'])} failing not measured")
        return 0
    if args.cmd == "estimate":
        doc = estimate()
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{args.out}: {len(doc['items'])} items, estimated {sum(doc['items'].values()):.0f} s in all")
        return 0
    if args.n < 1:
        print("plan: N must be at least 1", file=sys.stderr)
        return 2
    import selection
    try:
        shards = plan(args.n)
    except selection.SelectionError as exc:
        print(f"plan: {exc}", file=sys.stderr)
        return 2
    for k, (ids, secs, configs) in enumerate(shards, 1):
        print(f"shard {k}/{args.n}: {len(ids)} items, {secs:.0f} s expected, builds {', '.join(configs) or 'nothing'}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(SIM))
    sys.exit(main())
