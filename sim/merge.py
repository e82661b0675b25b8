#!/usr/bin/env python3
"""`make merge-shards [SHARDS=N]`: merge the JUnit of the N shards of a regression into sim/results/junit.xml.

Shard k of N (`make sim SHARD=k/N`, sim/shard.py) wrote sim/results/junit-shard-k-of-N.xml and its
manifest shard-k-of-N.json (CI copies every shard's sim/results into one). The merge fails, writing
nothing, when
* a shard's JUnit is missing (N from SHARDS, else from the files present, which must agree on one N);
* a shard's manifest says it ran with other filters (TEST, CONFIG, PLATFORM, TESTCASE, RESEED) than the
  merge is given (the same variables as `make sim`);
* the shards' items are not exactly the items of one unsharded run of those filters: an item in two
  shards (or twice), an item in none, an item that is not in the selection.
Otherwise it writes junit.xml with every shard's suites and the totals (tests, failures, errors, skipped,
time) summed, and exits 1 if a test failed, 0 if all passed.

Functional coverage needs no merge step: every run leaves sim/results/<run>/coverage.json and `make fcov`
merges all of them, the shards' included once they are copied into sim/results.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import shard  # noqa: E402
from junit import suite_item  # noqa: E402

TOTALS = ("tests", "failures", "errors", "skipped")


class MergeError(Exception):
    """The shards do not add up to one regression (missing file, item twice or missing, other filters)."""


def shard_counts(results: Path) -> set[int]:
    """The N of every junit-shard-k-of-N.xml under `results`."""
    return {int(m.group(1)) for p in results.glob("junit-shard-*-of-*.xml")
            if (m := re.fullmatch(r"junit-shard-\d+-of-(\d+)\.xml", p.name))}


def _norm(filters: dict) -> dict:
    """RESEED is a flag: unset, "" and "0" (make's default) are the same."""
    out = dict(filters)
    if "RESEED" in out:
        out["RESEED"] = "1" if str(out["RESEED"]) not in ("", "0") else ""
    return out


def merge(results: Path, n: int, expected: list[str], filters: dict | None = None) -> ET.Element:
    """The merged <testsuites> of shards 1..n under `results`; MergeError unless they ran exactly `expected`."""
    problems = []
    roots = []
    for k in range(1, n + 1):
        path = results / shard.junit_name(k, n)
        if not path.exists():
            problems.append(f"shard {k}/{n}: {path} is missing (the shard did not run, or died before its "
                            f"summary)")
            continue
        try:
            roots.append((k, ET.parse(path).getroot()))
        except ET.ParseError as exc:
            problems.append(f"shard {k}/{n}: {path} is not valid XML ({exc})")
        manifest = results / shard.manifest_name(k, n)
        if filters is not None and manifest.exists():
            ran = _norm(json.loads(manifest.read_text()).get("filters", {}))
            want = _norm(filters)
            differ = {key: (ran.get(key, ""), val) for key, val in want.items() if ran.get(key, "") != val}
            if differ:
                problems.append(f"shard {k}/{n} ran with other filters than this merge: "
                                + ", ".join(f"{key}={a!r} (merge: {b!r})" for key, (a, b) in differ.items()))
    if problems:
        raise MergeError("\n".join(problems))
    where: dict[str, list[int]] = {}
    for k, root in roots:
        for suite in root.iter("testsuite"):
            where.setdefault(suite_item(suite), []).append(k)
    twice = {i: ks for i, ks in where.items() if len(ks) > 1}
    missing = sorted(set(expected) - set(where))
    extra = sorted(set(where) - set(expected))
    if twice:
        problems.append(f"{len(twice)} item(s) ran more than once: "
                        + ", ".join(f"{i} (shards {', '.join(map(str, ks))})" for i, ks in sorted(twice.items())))
    if missing:
        problems.append(f"{len(missing)} item(s) of the selection have no result in any shard: {', '.join(missing)}")
    if extra:
        problems.append(f"{len(extra)} item(s) are not in the selection of these filters: {', '.join(extra)}")
    if problems:
        raise MergeError("\n".join(problems))
    out = ET.Element("testsuites", shards=str(n))
    totals = Counter()
    secs = 0.0
    for _k, root in roots:
        for suite in root.findall("testsuite"):
            out.append(suite)
            for key in TOTALS:
                totals[key] += int(suite.get(key, 0) or 0)
            secs += float(suite.get("time", 0) or 0)
    for key in TOTALS:
        out.set(key, str(totals[key]))
    out.set("time", f"{secs:.3f}")
    stamps = [r.get("timestamp") for _k, r in roots if r.get("timestamp")]
    if stamps:
        out.set("timestamp", max(stamps))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", type=int, help="N (default: from the junit-shard-*-of-N.xml files present)")
    ap.add_argument("--results", type=Path, default=shard.RESULTS)
    ap.add_argument("--out", type=Path, help="default: <results>/junit.xml")
    args = ap.parse_args(argv)
    n = args.shards
    if n is None:
        found = shard_counts(args.results)
        if len(found) != 1:
            print(f"make merge-shards: {'no' if not found else 'several kinds of'} shard JUnit files in "
                  f"{args.results} ({', '.join(f'N={x}' for x in sorted(found)) or 'junit-shard-k-of-N.xml'}); "
                  f"say which with SHARDS=N", file=sys.stderr)
            return 2
        n = found.pop()
    if n < 1:
        print(f"make merge-shards: SHARDS={n}: N must be at least 1", file=sys.stderr)
        return 2
    import run
    import selection
    try:
        expected = [i.id for i in run.select(os.environ)]
        root = merge(args.results, n, expected, run.filters(os.environ))
    except (selection.SelectionError, MergeError) as exc:
        print(f"make merge-shards: {exc}", file=sys.stderr)
        return 2
    out = args.out or args.results / "junit.xml"
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
    t = {k: root.get(k) for k in (*TOTALS, "time")}
    print(f"merged {n} shard(s), {len(expected)} items: {t['tests']} cocotb tests, {t['failures']} failures, "
          f"{t['errors']} errors, {t['skipped']} skipped, {float(t['time']):.0f} s -> {out}")
    try:
        import coverage_report
        s = coverage_report.functional_summary(args.results)
        print(f"functional coverage: {s['hit']}/{s['bins']} bins hit, {s['waived']} waived over every run in "
              f"{args.results} (`make fcov` for the report)")
    except Exception as e:      # noqa: BLE001 - informative only
        print(f"functional coverage: not available ({type(e).__name__}: {e})")
    return 1 if int(t["failures"]) or int(t["errors"]) else 0


if __name__ == "__main__":
    sys.exit(main())
