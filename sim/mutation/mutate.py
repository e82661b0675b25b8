#!/usr/bin/env python3
"""`make mutate`: the mutation campaign. Every mutant of sim/mutation/catalogue/*.toml must be killed by the
regression (a cocotb test fails, the simulator crashes, or it hangs past its timeout).

  mutate.py check                 every pattern applies (catalogue syntax, unique matches, no overlaps)
  mutate.py list                  the catalogue, one line per mutant
  mutate.py hints                 record, from the last campaign's summary, which run killed each mutant
                                  (sim/mutation/killers.json, committed like sim/durations.json)
  mutate.py run [options]         instrument, build once per configuration, run the campaign
      --only ID[,ID]              just these mutants
      --block B[,B]               just the mutants of these blocks (rtl/<block>, platform)
      --sample N                  a rotating sample of N mutants (what `make test` runs)
      --rotation K                which sample (default: the number of commits, so each commit rotates)
      --configs small[,default]   configurations to build and run on (default: both)
      --jobs J                    mutants run in parallel (default 2)
      --seed S                    one seed for the whole campaign (default: random, printed)
      --confirm N                 rerun each kill's run with N other seeds (confirm_seed): a run that passes
                                  on one of them killed the mutant by chance, and the remaining runs are
                                  tried; no kill on every seed is reported (chance_kills, exit status 1)
      --tree NAME                 instrumented copy and builds under sim/build/NAME (default: mutation)

For each mutant only the test modules whose testplan entry names its block run (sim/testplan.py `blocks`),
cheapest first, stopping at the first kill; mutants of the Python host models run the unit tests first; the
block benches that compile the mutated RTL file (tb/blocks/<dir>, `make blocks`) run last, on the instrumented
copy (their baseline the first time one is needed).
A run recorded in sim/mutation/killers.json as having killed the mutant before goes first of all: a
surviving or changed mutant still tries everything, so the hint changes the cost, never the verdict.
Before the mutants, every module the campaign may use runs once on the instrumented build with no mutant
active (it must pass: a kill is then the mutant's doing) and its time sets that module's timeout.

Writes sim/results/mutation/summary.json ({"mutants", "killed", "survived": [ids], "equivalent":
[{"id", "reason"}], "chance_kills": [...], ...}) and summary.md. Exit status: non-zero when a mutant not
recorded as a known survivor survives, when --confirm finds a kill that depends on the seed, or when the
instrumented build fails its baseline.

Why --confirm: a random test may kill a mutant under one seed and miss it under another (a campaign found
`ats.inv_ready_before_snapshot` killed by chance for two waves: the block bench's random traffic reached the
mutated case only in its first cycles). Unit tests of the host models draw no seed and are not rerun.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import shard  # noqa: E402
import simlib  # noqa: E402
from catalogue import CatalogueError, Mutant, instrument, load  # noqa: E402
from testplan import TESTPLAN  # noqa: E402

# --tree NAME moves these (a second campaign beside the first): sim/build/NAME, sim/results/NAME.
OUT = simlib.BUILD_ROOT / simlib.DEFAULT_MUTANT_TREE
RESULTS = simlib.RESULTS_ROOT / simlib.DEFAULT_MUTANT_TREE
TREE = simlib.DEFAULT_MUTANT_TREE
TARGET_KILL_RATIO = 0.95
UNIT_TESTS_OF_MODELS = "tests/unit"
BLOCK_BENCHES = "tb/blocks"      # one bench per directory, test_block_*.py (`make blocks`)
UNIT_PRELOAD = "import sys, tb.platform, pytest; sys.exit(pytest.main(sys.argv[1:]))"
KILLERS = HERE / "killers.json"
# A run's cost beyond its tests' own time (simulator launch, cocotb start-up, import), for ordering and
# timeouts taken from sim/durations.json, which records test time only.
RUN_OVERHEAD_S = 5.0


def unit_test_files(mutated_file: str) -> list[str]:
    """The unit test files, those that name the mutated model's module first: pytest -x stops at the first
    failure, so the tests written for that model (by file name, then by mention) run before the rest (all still run if none fails)."""
    stem = Path(mutated_file).stem
    files = sorted((simlib.ROOT / UNIT_TESTS_OF_MODELS).glob("test_*.py"))
    named = [f for f in files if stem in f.stem]
    word = re.compile(rf"\b{re.escape(stem)}\b")
    first = named + [f for f in files if f not in named and word.search(f.read_text(errors="replace"))]
    return [str(f) for f in first + [f for f in files if f not in first]]


@dataclass(frozen=True)
class Item:
    """One way to try to kill a mutant: a regression module on a configuration/platform, or the unit tests."""
    module: str
    config: str = ""
    platform: str | None = None

    @property
    def name(self) -> str:
        if self.module == UNIT_TESTS_OF_MODELS:
            return "unit"
        if self.module == BLOCK_BENCHES:
            return f"blocks-{self.config}"
        return f"{self.module.rsplit('.', 1)[-1]}-{self.config}" + (f"-{self.platform}" if self.platform else "")


@dataclass
class Outcome:
    id: str
    number: int
    block: str
    status: str                  # killed | survived | equivalent | known-survivor
    killed_by: str = ""
    message: str = ""
    tried: list = field(default_factory=list)
    wall_s: float = 0.0
    reason: str = ""
    confirmed: str = ""          # --confirm: "k/N" reseeded runs of killed_by that also killed it
    missed_seeds: list = field(default_factory=list)    # --confirm: seeds under which killed_by passed


def confirm_seed(seed: int, k: int) -> int:
    """The k-th (1-based) other seed a kill is confirmed with: fixed by the campaign's seed, so a replay of
    the campaign (--seed) replays its confirmations too."""
    digest = hashlib.sha256(f"mutation-confirm/{seed}/{k}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % (2**31 - 1) + 1


def block_benches_of(rtl_file: str) -> list[str]:
    """The block benches (tb/blocks/<dir>) that compile an RTL file: their runner names it, or globs its
    directory (`RTL / "dma").glob`)."""
    path = Path(rtl_file)
    if path.parts[:1] != ("rtl",) or len(path.parts) < 3:
        return []
    out = []
    for bench in sorted((simlib.ROOT / BLOCK_BENCHES).glob("*/test_block_*.py")):
        text = bench.read_text()
        if f'"{path.name}"' in text or f'RTL / "{path.parts[1]}").glob' in text:
            out.append(bench.parent.name)
    return sorted(set(out))


def items_for(m: Mutant, configs: list[str]) -> list[Item]:
    out = []
    if m.block == "platform":
        out.append(Item(UNIT_TESTS_OF_MODELS))
    # The block benches are part of the regression (`make blocks` in `make test`); as they run on their
    # own builds, not on a configuration, they are tried after the system runs unless a hint says otherwise.
    out += [Item(BLOCK_BENCHES, bench) for bench in block_benches_of(m.file)]
    for e in TESTPLAN:
        if m.block not in e.blocks:
            continue
        for cfg in e.configs:
            if cfg not in configs or cfg not in m.configs:
                continue
            for plat in e.platforms:
                if m.block == "platform" and plat is None:
                    continue    # the host models only run on platform runs
                out.append(Item(e.module, cfg, plat))
    return out


class Campaign:
    def __init__(self, seed: int, configs: list[str], jobs: int, confirm: int = 0):
        self.seed = seed
        self.confirm = confirm
        self.configs = configs
        self.jobs = jobs
        self.baseline_s: dict[Item, float] = {}
        self.durations = shard.load_durations()
        self.killers = load_killers()
        self.lock = threading.Lock()
        self.done = 0
        self._use_python_copy()

    # The instrumented Python copy goes first on the path of every run: with another mutant (or none)
    # active its code behaves as the original.
    def _use_python_copy(self):
        for p in (str(OUT / "py"), str(OUT / "py" / "fw")):
            if p in sys.path:
                sys.path.remove(p)
            sys.path.insert(0, p)

    def run_item(self, item: Item, number: int, timeout_s: int,
                 mutated_file: str = "", seed: int | None = None) -> tuple[bool, str, float]:
        """(passed, failure message, wall seconds). `seed`: another seed than the campaign's (--confirm)."""
        seed = self.seed if seed is None else seed
        t0 = time.monotonic()
        if item.module == UNIT_TESTS_OF_MODELS:
            env = {**os.environ, "IMSDEV_MUTANT": str(number),
                   "PYTHONPATH": os.pathsep.join([str(OUT / "py"), str(OUT / "py" / "fw")])}
            try:
                # Import the models from the copy before any test module runs: a test module that puts the
                # repo root on sys.path (tests/unit/test_coverage_report.py via sim/coverage_report.py) would
                # otherwise import the unmutated tb.platform and no platform mutant could be killed.
                targets = (unit_test_files(mutated_file) if mutated_file
                           else [str(simlib.ROOT / UNIT_TESTS_OF_MODELS)])
                res = subprocess.run([sys.executable, "-c", UNIT_PRELOAD, "-x", "-q", "-p", "no:cacheprovider",
                                      *targets], cwd=str(OUT), env=env,
                                     capture_output=True, text=True, timeout=timeout_s)
            except subprocess.TimeoutExpired:
                return False, f"unit tests timed out after {timeout_s} s", time.monotonic() - t0
            lines = [ln for ln in res.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))]
            return res.returncode == 0, "; ".join(lines)[:300] or res.stdout[-300:], time.monotonic() - t0
        if item.module == BLOCK_BENCHES:
            return self.run_block_bench(item, number, timeout_s, seed)
        _, cases, log_dir = simlib.run(item.module, simlib.config(item.config), seed=seed,
                                       platform=item.platform, tag=f"-{TREE}{number}", mutant=number,
                                       mutant_tree=TREE,
                                       timeout_s=timeout_s)
        failed = [c for c in cases if not c.passed]
        msg = "; ".join(f"{c.name}: {c.message[:200]}" for c in failed[:2])
        if not failed:
            _remove_tree(log_dir)     # keep the logs of kills only (they say what caught the mutant)
        return bool(cases) and not failed, msg, time.monotonic() - t0

    def run_block_bench(self, item: Item, number: int, timeout_s: int,
                        seed: int | None = None) -> tuple[bool, str, float]:
        """A block bench on the instrumented copy (tb/blocks/runner.py IMSDEV_BLOCK_RTL). Its baseline (no mutant
        active: it must pass) runs the first time a mutant needs the bench, so a campaign or sample whose
        mutants are all killed by system runs never builds the block benches' instrumented variants."""
        with self.lock:
            first = item not in self.baseline_s and number != 0
            if first:
                self.baseline_s[item] = -1.0          # claimed: one thread runs the baseline
        if first:
            ok, msg, secs = self.run_block_bench(item, 0, simlib.DEFAULT_RUN_TIMEOUT_S)
            print(f"  baseline {'pass' if ok else 'FAIL'} {item.name:<32} {secs:6.1f} s {msg[:200]}", flush=True)
            if not ok:
                raise SystemExit(f"block bench {item.config} fails on the instrumented copy with no mutant "
                                 f"active (seed {self.seed}): {msg}")
            with self.lock:
                self.baseline_s[item] = secs
        while number != 0 and self.baseline_s.get(item, 0.0) < 0:     # another thread is running its baseline
            time.sleep(1)
        t0 = time.monotonic()
        env = {**os.environ, "IMSDEV_BLOCK_RTL": str(OUT / "rtl"), "IMSDEV_MUTANT": str(number),
               "SEED": str(self.seed if seed is None else seed)}
        try:
            res = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                                  f"{BLOCK_BENCHES}/{item.config}"], cwd=str(simlib.ROOT), env=env,
                                 capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False, f"block bench timed out after {timeout_s} s", time.monotonic() - t0
        lines = [ln for ln in res.stdout.splitlines() if ln.startswith(("FAILED", "ERROR", "E "))]
        return res.returncode == 0, "; ".join(lines)[:300] or res.stdout[-300:], time.monotonic() - t0

    def baseline(self, items: list[Item]):
        """Every item once with no mutant active: it must pass, and its time sets its timeout."""
        print(f"baseline: {len(items)} runs on the instrumented build, no mutant active")

        def one(item):
            ok, msg, secs = self.run_item(item, 0, simlib.DEFAULT_RUN_TIMEOUT_S)
            print(f"  {'pass' if ok else 'FAIL'} {item.name:<40} {secs:6.1f} s {msg[:200]}", flush=True)
            return item, ok, msg, secs
        with ThreadPoolExecutor(self.jobs) as pool:
            results = list(pool.map(one, items))
        bad = [(i.name, msg) for i, ok, msg, _ in results if not ok]
        if bad:
            raise SystemExit(f"the instrumented build fails with no mutant active: {bad} (seed {self.seed})")
        self.baseline_s = {i: secs for i, ok, _, secs in results}

    def expected_s(self, item: Item) -> float | None:
        """The item's time on this machine (baseline run), else the regression's measurement
        (sim/durations.json) plus the launch overhead; None when neither knows it."""
        if item in self.baseline_s:
            return self.baseline_s[item] if self.baseline_s[item] >= 0 else None
        if item.module != UNIT_TESTS_OF_MODELS and item.name in self.durations:
            return self.durations[item.name] + RUN_OVERHEAD_S
        return None

    def timeout_for(self, item: Item) -> int:
        base = self.expected_s(item)
        return int(max(120, 4 * base)) if base else 600

    def order(self, items: list[Item], mutant_id: str = "") -> list[Item]:
        """Cheapest first. The sample measures one baseline only, so without the durations file every other
        module would sort by name, and a mutant caught by a cheap module could first sit through costly ones."""
        def cost(i: Item) -> float:
            e = self.expected_s(i)
            return 1e9 if e is None else e
        hint = self.killers.get(mutant_id)
        # the hinted run's module on another configuration / platform next (a hint recorded on small is
        # test_x-small; on default the same module is the likeliest killer too). A block bench runs on no
        # configuration ("blocks-<bench>"), so its hint names the bench itself and promotes no other one.
        hint_module = hint.split("-")[0] if hint and not hint.startswith("blocks-") else None
        return sorted(items, key=lambda i: (i.name != hint, i.name.split("-")[0] != hint_module,
                                            i.module != UNIT_TESTS_OF_MODELS, cost(i), i.name))

    def kill(self, m: Mutant, total: int) -> Outcome:
        out = Outcome(m.id, m.number, m.block, "survived")
        t0 = time.monotonic()
        for item in self.order(items_for(m, self.configs), m.id):
            passed, msg, _ = self.run_item(item, m.number, self.timeout_for(item), m.file)
            out.tried.append(item.name)
            if not passed:
                # a kill that another seed does not repeat is kept only if no later run kills it on every seed
                chance = (out.killed_by, out.message, out.confirmed, out.missed_seeds) if out.missed_seeds else None
                out.status, out.killed_by, out.message = "killed", item.name, msg
                out.confirmed, out.missed_seeds = "", []
                self._confirm(m, item, out)
                if not out.missed_seeds:
                    break
                if chance is None:
                    continue
                out.killed_by, out.message, out.confirmed, out.missed_seeds = chance
        if out.status == "survived" and m.known_survivor:
            out.status, out.reason = "known-survivor", m.known_survivor
        out.wall_s = round(time.monotonic() - t0, 1)
        conf = ""
        if out.confirmed:
            conf = (f", confirmed {out.confirmed}" if not out.missed_seeds
                    else f", BY CHANCE: confirmed {out.confirmed}, passed with seed {out.missed_seeds[0]}")
        with self.lock:
            self.done += 1
            print(f"[{self.done:3}/{total}] {out.status.upper():<14} {m.id:<44} #{m.number} "
                  f"{('by ' + out.killed_by) if out.killed_by else 'tried ' + ', '.join(out.tried)} "
                  f"({out.wall_s} s{conf})", flush=True)
        return out

    def _confirm(self, m: Mutant, item: Item, out: Outcome) -> None:
        """Rerun the killing run with --confirm other seeds; each must kill the mutant too."""
        if not self.confirm or item.module == UNIT_TESTS_OF_MODELS:
            return
        kills = 0
        for k in range(1, self.confirm + 1):
            seed = confirm_seed(self.seed, k)
            passed, _, _ = self.run_item(item, m.number, self.timeout_for(item), m.file, seed=seed)
            kills += not passed
            if passed:
                out.missed_seeds.append(seed)
        out.confirmed = f"{kills}/{self.confirm}"


def _remove_tree(path: Path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)


def rotation_default() -> int:
    try:
        return int(subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=simlib.ROOT, capture_output=True,
                                  text=True, check=True).stdout.strip())
    except (subprocess.CalledProcessError, FileNotFoundError, ValueError):
        return 0


def choose_sample(mutants: list[Mutant], n: int, rotation: int, configs: list[str]) -> list[Mutant]:
    """N mutants spread over the catalogue, shifted by `rotation`: every mutant comes round in turn."""
    eligible = [m for m in mutants if not m.equivalent and not m.known_survivor
                and any(c in configs for c in m.configs)]
    if not eligible:
        return []
    n = min(n, len(eligible))
    stride = len(eligible) / n
    return [eligible[(int(i * stride) + rotation) % len(eligible)] for i in range(n)]


def write_summary(outcomes: list[Outcome], mutants: list[Mutant], seed: int, sample: bool, cpu_s: float,
                  wall_s: float, confirm: int = 0) -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    run = [o for o in outcomes if o.status != "equivalent"]
    killed = [o for o in run if o.status == "killed"]
    survived = [o for o in run if o.status in ("survived", "known-survivor")]
    chance = [o for o in killed if o.missed_seeds]
    per_block: dict[str, dict] = {}
    for o in run:
        b = per_block.setdefault(o.block, {"mutants": 0, "killed": 0, "survived": []})
        b["mutants"] += 1
        b["killed"] += o.status == "killed"
        if o.status != "killed":
            b["survived"].append(o.id)
    summary = {
        "mutants": len(run),
        "killed": len(killed),
        "survived": [o.id for o in survived],
        "equivalent": [{"id": m.id, "reason": m.equivalent} for m in mutants if m.equivalent],
        "kill_ratio": round(len(killed) / len(run), 4) if run else None,
        "target": TARGET_KILL_RATIO,
        "sample": sample,
        "seed": seed,
        "cpu_s": round(cpu_s, 1),
        "wall_s": round(wall_s, 1),
        "per_block": per_block,
        "confirm": confirm,
        "chance_kills": [{"id": o.id, "killed_by": o.killed_by, "confirmed": o.confirmed,
                          "missed_seeds": o.missed_seeds} for o in chance],
        "details": [o.__dict__ for o in outcomes],
    }
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=1))
    rows = ["| mutant | block | kind | result | killed by / tried | what it models |", "|---|---|---|---|---|---|"]
    by_id = {m.id: m for m in mutants}
    for o in outcomes:
        m = by_id[o.id]
        where = o.killed_by or o.reason or ", ".join(o.tried)
        if o.confirmed:
            where += f" (confirmed {o.confirmed}" + (f"; passed with seed {', '.join(map(str, o.missed_seeds))})"
                                                     if o.missed_seeds else ")")
        rows.append(f"| `{o.id}` | {o.block} | {m.kind} | {o.status} | {where} | {m.description} |")
    ratio = f"{summary['kill_ratio']:.1%}" if run else "n/a"
    md = [f"# Mutation campaign{' (sample)' if sample else ''}", "",
          f"{len(killed)} of {len(run)} non-equivalent mutants killed ({ratio}, target {TARGET_KILL_RATIO:.0%}); "
          f"{len(summary['equivalent'])} documented equivalent; seed {seed}; {cpu_s:.0f} CPU-s, {wall_s:.0f} s wall.",
          "", "| block | mutants | killed | survivors |", "|---|---|---|---|"]
    md += [f"| {b} | {v['mutants']} | {v['killed']} | {', '.join(v['survived']) or '-'} |"
           for b, v in sorted(per_block.items())]
    if confirm:
        confirmed = [o for o in killed if o.confirmed]
        md += ["", f"Kills confirmed with {confirm} other seed(s) each: {len(confirmed) - len(chance)} of "
                   f"{len(confirmed)} held on every seed (unit-test kills draw no seed and are not rerun)"
                   + (f"; killed by chance: {', '.join(o.id for o in chance)}." if chance else ".")]
    md += ["", *rows, ""]
    (RESULTS / "summary.md").write_text("\n".join(md))
    return summary


def cmd_run(args) -> int:
    mutants = load()
    configs = args.configs.split(",")
    for c in configs:
        simlib.config(c)
    selected = mutants
    if args.only:
        ids = set(args.only.split(","))
        unknown = ids - {m.id for m in mutants}
        if unknown:
            raise SystemExit(f"unknown mutant ids: {sorted(unknown)}")
        selected = [m for m in mutants if m.id in ids]
    if args.block:
        blocks = set(args.block.split(","))
        selected = [m for m in selected if m.block in blocks]
    # A mutant that names only other configurations cannot be tried here: leave it out rather than
    # report it as a survivor (e.g. the multi-WQ arbitration mutants under --configs small).
    skipped = [m.id for m in selected if not any(c in m.configs for c in configs)]
    if skipped:
        print(f"not applicable to {configs}: {', '.join(skipped)}")
        selected = [m for m in selected if m.id not in skipped]
    sample = args.sample is not None
    if sample:
        rotation = rotation_default() if args.rotation is None else args.rotation
        selected = choose_sample(selected, args.sample, rotation, configs)
        print(f"sample of {len(selected)} (rotation {rotation}): {', '.join(m.id for m in selected)}")
    seed = args.seed or simlib.new_seed(f"mutation/{','.join(configs)}/{','.join(m.id for m in selected)}")
    print(f"mutation campaign: {len(selected)} mutants, configurations {configs}, seed {seed} "
          f"(replay: make mutate SEED={seed} ONLY=<id>)")
    t_wall = time.monotonic()
    cpu0 = _cpu_s()
    instrument(mutants, OUT)
    for c in configs:
        secs = simlib.build(simlib.config(c), mutant_tree=TREE)
        print(f"build {c} (every mutant, selectable at run time): {secs:.1f} s")
    campaign = Campaign(seed, configs, args.jobs, args.confirm)
    to_run = [m for m in selected if not m.equivalent]
    needed = sorted({i for m in to_run for i in items_for(m, configs)}, key=lambda i: i.name)
    if sample:
        # Time budget: the sample checks that the instrumentation is neutral on one cheap module only.
        sims = [i for i in needed if i.module not in (UNIT_TESTS_OF_MODELS, BLOCK_BENCHES)]
        needed = [min(sims, key=lambda i: ("enumeration" not in i.module, i.name))] if sims else []
    campaign.baseline(needed)
    outcomes: list[Outcome] = [Outcome(m.id, m.number, m.block, "equivalent", reason=m.equivalent)
                               for m in selected if m.equivalent]
    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes += list(pool.map(lambda m: campaign.kill(m, len(to_run)), to_run))
    outcomes.sort(key=lambda o: o.number)
    summary = write_summary(outcomes, mutants, seed, sample, _cpu_s() - cpu0, time.monotonic() - t_wall,
                            args.confirm)
    print((RESULTS / "summary.md").read_text().split("\n\n")[1])
    print(f"written: {RESULTS / 'summary.json'}, {RESULTS / 'summary.md'}")
    unexpected = [o.id for o in outcomes if o.status == "survived"]
    if unexpected:
        print(f"SURVIVED (no test failed): {', '.join(unexpected)}")
    if summary["chance_kills"]:
        print("KILLED BY CHANCE (the killing run passed with another seed): "
              + ", ".join(f"{c['id']} ({c['killed_by']}, seed {c['missed_seeds'][0]})"
                          for c in summary["chance_kills"]))
    return 1 if unexpected or summary["chance_kills"] else 0


def load_killers(path: Path | None = None) -> dict[str, str]:
    path = path or KILLERS
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text()).get("killers", {}))


def cmd_hints(_args) -> int:
    """Merge the kills of the last campaign (sim/results/<tree>/summary.json) into sim/mutation/killers.json;
    mutants that survived lose their hint, hints of mutants no longer in the catalogue are dropped."""
    summary_path = RESULTS / "summary.json"
    if not summary_path.exists():
        print(f"no campaign summary at {summary_path}: run `make mutate` (or the sample) first", file=sys.stderr)
        return 2
    details = json.loads(summary_path.read_text())["details"]
    ids = {m.id for m in load()}
    killers = {k: v for k, v in load_killers().items() if k in ids}
    for d in details:
        if d["status"] == "killed":
            killers[d["id"]] = d["killed_by"]
        elif d["status"] in ("survived", "known-survivor"):
            killers.pop(d["id"], None)
    KILLERS.write_text(json.dumps({
        "about": "the regression run that killed each mutant in the last campaign that ran it; `make mutate` "
                 "and `make mutate-sample` try it first (sim/mutation/mutate.py hints refreshes this file)",
        "killers": dict(sorted(killers.items()))}, indent=1) + "\n")
    print(f"{KILLERS}: {len(killers)} of {len(ids)} mutants have a recorded killer")
    return 0


def _cpu_s() -> float:
    ru_self, ru_kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru_self.ru_utime + ru_self.ru_stime + ru_kids.ru_utime + ru_kids.ru_stime


# `check` (run by make lint) instruments a copy of its own: written into a campaign's copy while that campaign
# runs, a catalogue edited meanwhile would renumber the mutants under it (its builds select them by number).
CHECK_OUT = simlib.BUILD_ROOT / "mutation-check"


def cmd_check(_args) -> int:
    mutants = load()
    OUT = CHECK_OUT
    instrument(mutants, OUT)
    blocks = sorted({m.block for m in mutants})
    # The instrumented copy must also compile: a pattern can apply and still make invalid SystemVerilog (a
    # statement mutant whose `find` leaves out its `;`, an expression mutant on part of a statement), which
    # only the campaign's build would otherwise show.
    from configs import CONFIGS
    rtl = OUT / "rtl"
    for cfg in CONFIGS.values():
        cmd = (["verilator", "--lint-only", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", simlib.TOPLEVEL]
               + [f"-G{k}={v}" for k, v in cfg.params.items()]
               + [str(p) for p in simlib.lint_configs(rtl)] + [str(p) for p in simlib.rtl_sources(rtl)])
        res = subprocess.run(cmd, cwd=simlib.ROOT, capture_output=True, text=True)
        if res.returncode != 0:
            errors = [ln for ln in res.stderr.splitlines() if ln.startswith("%Error")]
            print(f"mutation catalogue: the instrumented copy does not compile ({cfg.name}):\n  "
                  + "\n  ".join(errors[:8]), file=sys.stderr)
            return 2
    # The same for the Python host models: an expression mutant on an assignment is a SyntaxError at import.
    bad = []
    for path in sorted((OUT / "py").rglob("*.py")):
        try:
            compile(path.read_text(), str(path), "exec")
        except SyntaxError as exc:
            bad.append(f"{path.relative_to(OUT / 'py')}:{exc.lineno}: {exc.msg}")
    if bad:
        print("mutation catalogue: the instrumented Python copy does not compile:\n  " + "\n  ".join(bad[:8]),
              file=sys.stderr)
        return 2
    print(f"{len(mutants)} mutants in {len(blocks)} blocks ({', '.join(blocks)}): every pattern applies and the "
          f"instrumented copy compiles ({', '.join(CONFIGS)}, and its Python); instrumented copy in {OUT}")
    return 0


def cmd_list(_args) -> int:
    for m in load():
        flag = " [equivalent]" if m.equivalent else (" [known survivor]" if m.known_survivor else "")
        print(f"{m.id:<44} {m.block:<9} {m.kind:<18} {m.description}{flag}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check")
    sub.add_parser("list")
    sub.add_parser("hints")
    r = sub.add_parser("run")
    r.add_argument("--only")
    r.add_argument("--block")
    r.add_argument("--sample", type=int)
    r.add_argument("--rotation", type=int)
    r.add_argument("--configs", default="small,default")
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--seed", type=int)
    r.add_argument("--confirm", type=int, default=0, metavar="N",
                   help="rerun each kill's run with N other seeds; a pass on any is reported as a kill by chance")
    for p in sub.choices.values():
        p.add_argument("--tree", default=simlib.DEFAULT_MUTANT_TREE,
                       help="name of the instrumented copy and its builds (sim/build/<tree>, sim/results/<tree>)")
    args = ap.parse_args()
    global OUT, RESULTS, TREE
    TREE = args.tree
    OUT, RESULTS = simlib.BUILD_ROOT / TREE, simlib.RESULTS_ROOT / TREE
    try:
        return {"check": cmd_check, "list": cmd_list, "run": cmd_run, "hints": cmd_hints}[args.cmd](args)
    except CatalogueError as e:
        print(f"mutation catalogue: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
