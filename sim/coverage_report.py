"""Functional coverage report: merge every run's export, apply the waivers, list the holes.

Each simulator run (one cocotb module on one configuration/platform) leaves
``sim/results/<run>/coverage.json`` (tb/coverage). This merges all of them, across tests, xdist workers,
configurations, platforms and shards copied into sim/results, by adding hits per bin. The bins counted
are those of the current model (tb/coverage/model.py): a bin an older export still names is reported as
stale and not counted.

Waivers (sim/coverage_waivers.toml): ``[[waiver]]`` tables with ``bin`` and ``reason``. ``bin`` is
``<item>:<bin label>`` with shell-style wildcards, e.g. ``imsdev.interrupts.source_x_state_x_pending:ims x
function_masked x *``; ``reason`` is required. A waived bin that is hit anyway counts as hit and is listed
as contradicting its waiver: either the waiver's reason or the bench's classification is wrong.

Writes sim/results/coverage/functional.json ({"bins", "hit", "waived", "per_group", "holes", ...}) and
functional.md. ``functional_summary()`` gives {"bins", "hit", "waived"} to other tools.

    python sim/coverage_report.py [--results DIR] [--waivers FILE]
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "sim" / "results"
WAIVERS = ROOT / "sim" / "coverage_waivers.toml"
EXPORT_NAME = "coverage.json"

for _p in (str(ROOT / "fw"), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)


class WaiverError(ValueError):
    """The waiver file is malformed: a waiver without a bin or without a reason."""


@dataclass(frozen=True)
class Waiver:
    bin: str
    reason: str

    def matches(self, item: str, label: str) -> bool:
        return fnmatch.fnmatchcase(f"{item}:{label}", self.bin)


def load_waivers(path: Path = WAIVERS) -> list[Waiver]:
    if not path.exists():
        return []
    return parse_waivers(tomllib.loads(path.read_text()))


def parse_waivers(doc: dict) -> list[Waiver]:
    out = []
    for i, w in enumerate(doc.get("waiver", [])):
        bin_ = str(w.get("bin", "")).strip()
        reason = str(w.get("reason", "")).strip()
        if not bin_:
            raise WaiverError(f"waiver #{i + 1}: no bin")
        if not reason:
            raise WaiverError(f"waiver #{i + 1} ({bin_}): a waiver needs a reason")
        out.append(Waiver(bin_, reason))
    return out


def model_bins() -> dict[str, list[str]]:
    """item -> bin labels of the current coverage model."""
    from tb.coverage import model
    return {name: list(bins) for name, bins in model.hits().items()}


def merge(exports: list[dict]) -> dict[str, dict[str, int]]:
    """item -> bin label -> hits, summed over exports."""
    total: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for doc in exports:
        for item, bins in doc["items"].items():
            for label, n in bins.items():
                total[item][label] += n
    return total


def find_exports(results: Path = RESULTS) -> list[Path]:
    return sorted(results.glob(f"*/{EXPORT_NAME}"))


def _group(item: str) -> str:
    return item.split(".")[1] if item.count(".") >= 2 else item


def summarize(universe: dict[str, list[str]], hits: dict[str, dict[str, int]], waivers: list[Waiver],
              runs: list[str] = ()) -> dict:
    """Measure merged hits against the model's bins: totals, per group, holes, waived and stale bins."""
    per_group: dict[str, dict[str, int]] = defaultdict(lambda: {"bins": 0, "hit": 0, "waived": 0})
    holes, waived, stale, contradicted = [], [], [], []
    for item, labels in universe.items():
        group = per_group[_group(item)]
        for label in labels:
            group["bins"] += 1
            n = hits.get(item, {}).get(label, 0)
            waiver = next((w for w in waivers if w.matches(item, label)), None)
            if n:
                group["hit"] += 1
                if waiver is not None:
                    contradicted.append({"item": item, "bin": label, "hits": n, "reason": waiver.reason})
                continue
            if waiver is not None:
                group["waived"] += 1
                waived.append({"item": item, "bin": label, "reason": waiver.reason})
            else:
                holes.append({"item": item, "bin": label})
    for item, bins in hits.items():
        known = set(universe.get(item, ()))
        stale += [{"item": item, "bin": label} for label in bins if label not in known]
    totals = {k: sum(g[k] for g in per_group.values()) for k in ("bins", "hit", "waived")}
    unused = [w.bin for w in waivers if not any(w.matches(i, b) for i, ls in universe.items() for b in ls)]
    return {**totals, "runs": list(runs), "per_group": dict(sorted(per_group.items())), "holes": holes,
            "waived_bins": waived, "contradicted_waivers": contradicted, "stale_bins": stale,
            "unused_waivers": unused}


def report(results: Path = RESULTS, waivers_path: Path = WAIVERS) -> dict:
    exports = find_exports(results)
    docs = [json.loads(p.read_text()) for p in exports]
    return summarize(model_bins(), merge(docs), load_waivers(waivers_path), [p.parent.name for p in exports])


def functional_summary(results: Path = RESULTS, waivers_path: Path = WAIVERS) -> dict:
    """{"bins", "hit", "waived"} over every export under `results` (for summary.json's "functional")."""
    s = report(results, waivers_path)
    return {k: s[k] for k in ("bins", "hit", "waived")}


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def write_markdown(s: dict, path: Path):
    lines = ["# Functional coverage", "",
             f"{s['hit']} of {s['bins']} bins hit, {s['waived']} waived, {len(s['holes'])} holes "
             f"({_percent(s['hit'] + s['waived'], s['bins'])} closed) over {len(s['runs'])} runs.", "",
             "| group | bins | hit | waived | holes |", "|---|---|---|---|---|"]
    for name, g in s["per_group"].items():
        lines.append(f"| {name} | {g['bins']} | {g['hit']} | {g['waived']} | {g['bins'] - g['hit'] - g['waived']} |")
    lines += ["", "## Holes", ""]
    by_item = defaultdict(list)
    for h in s["holes"]:
        by_item[h["item"]].append(h["bin"])
    for item, labels in by_item.items():
        lines.append(f"- `{item}`: " + ", ".join(f"`{b}`" for b in labels))
    if s["contradicted_waivers"]:
        lines += ["", "## Waived bins that were hit (waiver or classification wrong)", ""]
        lines += [f"- `{c['item']}:{c['bin']}` ({c['hits']} hits), waived because: {c['reason']}"
                  for c in s["contradicted_waivers"]]
    if s["unused_waivers"]:
        lines += ["", "## Waivers that match no bin", ""] + [f"- `{w}`" for w in s["unused_waivers"]]
    if s["stale_bins"]:
        lines += ["", "## Stale bins (in exports, not in the model)", ""]
        lines += [f"- `{h['item']}:{h['bin']}`" for h in s["stale_bins"]]
    lines += ["", "Runs: " + ", ".join(s["runs"]), ""]
    path.write_text("\n".join(lines))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--waivers", type=Path, default=WAIVERS)
    args = ap.parse_args(argv)
    s = report(args.results, args.waivers)
    out = args.results / "coverage"
    out.mkdir(parents=True, exist_ok=True)
    (out / "functional.json").write_text(json.dumps(s, indent=1))
    write_markdown(s, out / "functional.md")
    print(f"functional coverage: {s['hit']}/{s['bins']} bins hit, {s['waived']} waived, {len(s['holes'])} holes "
          f"over {len(s['runs'])} runs ({out / 'functional.md'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
