"""PNG plots of `make bench`'s report (sim/results/bench.json), one file per question a reader asks:

  latency.png          completion record -> interrupt message (IMS and MSI-X), every sample, per configuration
  descriptor_rate.png  sustained MEMMOVE rate (with record and interrupt) against transfer size, per number of
                       busy WQs, beside the link limit each run derived from its own beats
  interrupt_rate.png   MSI-X replay rate on Function Mask clear against the number of vectors pending
  scaling.png          clean build time (with and without ccache) and simulated cycles per CPU-second of the
                       bench and of a bare Verilator C++ loop (the ceiling) against the configuration's size
                       (WQs, IMS entries), small -> wide -> default -> max
  speed_classes.png    bench speed per test class (WQ traffic, MSI-X, driver model): simulated cycles per
                       CPU-second now and, with SPEED_BEFORE=1, before issue 11 item 2; targets; the ceiling

Usage: python sim/bench_plots.py [bench.json] [out_dir]   (defaults: sim/results/bench.json, sim/results/bench/)
sim/bench.py calls `plot_all` after each run. A measurement missing from the report (a bench test failed, or an
older report) leaves its plot out and says so; it never draws an empty or made-up axis.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")          # files only: no display on CI machines
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REPORT = ROOT / "sim" / "results" / "bench.json"
DEFAULT_OUT = ROOT / "sim" / "results" / "bench"


def _size_key(cfg: dict) -> tuple:
    return (cfg.get("NUM_WQ", 0) * cfg.get("IMS_PER_WQ", 0), cfg.get("NUM_WQ", 0))


def _ordered(report: dict) -> list[str]:
    """Configurations from the smallest IMS store to the largest (the scaling axis)."""
    return sorted(report, key=lambda n: _size_key(report[n].get("config", {})))


def _label(name: str, r: dict) -> str:
    c = r.get("config", {})
    if "NUM_WQ" in c and "IMS_PER_WQ" in c:
        return f"{name}\n{c['NUM_WQ']} WQ, {c['NUM_WQ'] * c['IMS_PER_WQ']} IMS"
    return name


def _load_note(report: dict) -> str:
    loads = [r["load"] for r in report.values() if isinstance(r.get("load"), dict)]
    if not loads:
        return ""
    avg = [l.get("loadavg_1m") for l in loads if l.get("loadavg_1m") is not None]
    return f"load average during the runs: {min(avg):.1f}-{max(avg):.1f} on {loads[0].get('cpus', '?')} CPUs" if avg else ""


def plot_latency(report: dict, path: Path) -> str | None:
    names = [n for n in _ordered(report) if report[n].get("completion_to_interrupt")]
    if not names:
        return "no completion_to_interrupt measurement"
    fig, ax = plt.subplots(figsize=(1.8 * len(names) + 3, 4.5))
    data, labels, pos = [], [], []
    for i, n in enumerate(names):
        m = report[n]["completion_to_interrupt"]
        for j, (kind, key) in enumerate((("IMS", "ims_cycles"), ("MSI-X", "msix_cycles"))):
            data.append(m[key])
            labels.append(f"{n}\n{kind}")
            pos.append(3 * i + j)
    ax.boxplot(data, positions=pos, widths=0.6, showfliers=False)
    for p, d in zip(pos, data):     # every sample, not only the summary
        ax.scatter([p] * len(d), d, s=12, alpha=0.7, zorder=3)
    ax.set_xticks(pos, labels, fontsize=8)
    ax.set_ylabel("cycles: last beat of the completion record -> interrupt message")
    ax.set_title("Completion-to-interrupt latency")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def _rate_points(rate: dict) -> dict[int, list[tuple[int, dict]]]:
    """{busy WQs: [(size, entry), ...]} from keys like '4096B_2wq'."""
    out: dict[int, list] = {}
    for key, entry in rate.items():
        size, wqs = key.split("B_")
        out.setdefault(int(wqs[:-2]), []).append((int(size), entry))
    return {w: sorted(v) for w, v in sorted(out.items())}


def plot_descriptor_rate(report: dict, path: Path) -> str | None:
    names = [n for n in _ordered(report) if report[n].get("descriptor_rate")]
    if not names:
        return "no descriptor_rate measurement"
    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 7), squeeze=False, sharey="row")
    for col, n in enumerate(names):
        ax, share = axes[0][col], axes[1][col]
        for wqs, pts in _rate_points(report[n]["descriptor_rate"]).items():
            sizes = [s for s, _ in pts]
            line, = ax.plot(sizes, [e["desc_per_cycle"] for _, e in pts], marker="o", label=f"{wqs} WQ busy")
            ax.plot(sizes, [e["link_limit"] for _, e in pts], linestyle="--", color=line.get_color(), alpha=0.6)
            share.plot(sizes, [100 * e["ratio"] for _, e in pts], marker="o", color=line.get_color())
        for a in (ax, share):
            a.set_xscale("log", base=2)
            a.grid(alpha=0.3, which="both")
        ax.set_yscale("log")
        ax.set_title(_label(n, report[n]).replace("\n", ": "), fontsize=9)
        ax.legend(fontsize=7, title="solid: measured, dashed: link limit", title_fontsize=7)
        share.axhline(90, color="grey", linestyle=":", linewidth=1)    # issue 11's target
        share.set_ylim(0, 105)          # the whole scale: a 90% run must not look like a collapse
        share.set_xlabel("MEMMOVE bytes (with record and MSI-X)")
    axes[0][0].set_ylabel("descriptors per cycle")
    axes[1][0].set_ylabel("% of the link limit (dotted: 90%)")
    fig.suptitle("Sustained descriptor rate against transfer size")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def plot_batch_rate(report: dict, path: Path) -> str | None:
    """bench_batch_rate's sweep: share of the link limit against members per batch, one line per configuration,
    beside the same configuration's 64 B MEMMOVE submitted one by one (bench_descriptor_rate 64B_1wq)."""
    names = [n for n in _ordered(report) if report[n].get("batch_rate", {}).get("sweep")]
    if not names:
        return "no batch_rate sweep"
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for n in names:
        pts = sorted(report[n]["batch_rate"]["sweep"], key=lambda pt: pt["members_per_batch"])
        line, = ax.plot([pt["members_per_batch"] for pt in pts], [100 * pt["ratio"] for pt in pts], marker="o",
                        label=_label(n, report[n]).replace("\n", ": "))
        single = report[n].get("descriptor_rate", {}).get("64B_1wq")
        if single:
            ax.axhline(100 * single["ratio"], color=line.get_color(), linestyle="--", linewidth=1, alpha=0.6)
    ax.axhline(90, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3, which="both")
    ax.set_xlabel("64 B MEMMOVE members per batch (each with a record; batch record + MSI-X)")
    ax.set_ylabel("% of the link limit (dotted: 90%)")
    ax.legend(fontsize=7, title="solid: batches, dashed: the same MEMMOVE one by one", title_fontsize=7)
    ax.set_title("Batch throughput against batch size, one WQ (simulated cycles: independent of load)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def plot_interrupt_rate(report: dict, path: Path) -> str | None:
    names = [n for n in _ordered(report) if report[n].get("msix_replay", {}).get("sweep")]
    if not names:
        return "no msix_replay sweep"
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for n in names:
        sw = report[n]["msix_replay"]["sweep"]
        ax.plot([p["pending"] for p in sw], [p["messages_per_cycle"] for p in sw], marker="o",
                label=_label(n, report[n]).replace("\n", ": "))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("MSI-X vectors pending when Function Mask clears")
    ax.set_ylabel("messages per cycle on tx_req")
    ax.set_title("Interrupt replay rate against the number pending")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def plot_scaling(report: dict, path: Path) -> str | None:
    names = [n for n in _ordered(report) if report[n].get("build") or report[n].get("sim_speed")]
    if not names:
        return "no build or sim_speed measurement"
    labels = [_label(n, report[n]) for n in names]
    x = range(len(names))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    builds = [report[n].get("build", {}) for n in names]
    a1.bar([i - 0.2 for i in x], [b.get("clean_build_s") or 0 for b in builds], width=0.4, label="without ccache")
    if any(b.get("ccache_build_s") is not None for b in builds):
        a1.bar([i + 0.2 for i in x], [b.get("ccache_build_s") or 0 for b in builds], width=0.4,
               label="with a warm ccache")
    a1.set_xticks(list(x), labels, fontsize=8)
    a1.set_ylabel("seconds (Verilator + C++ compile)")
    a1.set_title("Clean build time")
    a1.set_ylim(top=a1.get_ylim()[1] * 1.2)
    a1.legend(fontsize=8)
    speed = [report[n].get("sim_speed", {}) for n in names]
    a2.bar([i - 0.2 for i in x], [sp.get("cycles_per_cpu_s") or sp.get("cycles_per_s") or 0 for sp in speed],
           width=0.4, label="cocotb bench (completion-interrupt test)")
    if any(report[n].get("ceiling") for n in names):
        a2.bar([i + 0.2 for i in x], [report[n].get("ceiling", {}).get("cycles_per_cpu_s") or 0 for n in names],
               width=0.4, label="ceiling: bare Verilator C++ loop, idle link")
    a2.set_yscale("log")
    a2.set_ylim(top=a2.get_ylim()[1] * 10)     # headroom: the legend sits above the bars, not on them
    a2.set_xticks(list(x), labels, fontsize=8)
    a2.set_ylabel("simulated cycles per CPU-second")
    a2.set_title("Bench speed against the ceiling")
    a2.legend(fontsize=8)
    for a in (a1, a2):
        a.grid(axis="y", alpha=0.3)
    note = _load_note(report)
    if note:
        fig.text(0.01, 0.01, note, fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def plot_speed_classes(report: dict, path: Path) -> str | None:
    """Per configuration and test class: simulated cycles per CPU-second now (and before issue 11 item 2 where
    the report has it), the class's target, and the ceiling (bare Verilator C++ loop) as a line."""
    names = [n for n in _ordered(report) if report[n].get("speed_classes")]
    if not names:
        return "no speed_classes measurement"
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names) + 1, 4.6), squeeze=False)
    for ax, n in zip(axes[0], names):
        r = report[n]
        classes = list(r["speed_classes"])
        x = range(len(classes))
        before = r.get("speed_classes_before", {})
        width = 0.38 if before else 0.6
        if before:
            ax.bar([i - width / 2 for i in x], [before.get(c, {}).get("cycles_per_cpu_s") or 0 for c in classes],
                   width=width, label="before (all signals public, simulated link)", color="0.65")
        now = [r["speed_classes"][c].get("cycles_per_cpu_s") or 0 for c in classes]
        bars = ax.bar([i + (width / 2 if before else 0) for i in x], now, width=width, label="now")
        for b, c in zip(bars, classes):
            m = r["speed_classes"][c]
            if m.get("cpu_ms_per_tlp") is not None:
                ax.annotate(f"{m['cpu_ms_per_tlp']} ms/TLP", (b.get_x() + b.get_width() / 2, b.get_height()),
                            ha="center", va="bottom", fontsize=7)
        for i, c in enumerate(classes):
            t = r["speed_classes"][c].get("target_cycles_per_cpu_s")
            if t:
                ax.hlines(t, i - 0.45, i + 0.45, colors="tab:red", linestyles="--",
                          label="target (issue 11)" if i == 0 else None)
        ceil = r.get("ceiling", {}).get("cycles_per_cpu_s")
        if ceil:
            ax.axhline(ceil, color="tab:green", linestyle=":", label=f"ceiling {ceil:,.0f}")
        ax.set_yscale("log")
        ax.set_ylim(bottom=300, top=(ceil or max(now) or 1) * 8)
        ax.set_xticks(list(x), classes, fontsize=8)
        ax.set_title(f"{n}: bench speed per test class", fontsize=9)
        ax.set_ylabel("simulated cycles per CPU-second")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    note = _load_note(report)
    if note:
        fig.text(0.01, 0.01, note, fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


PLOTS = {"latency.png": plot_latency, "descriptor_rate.png": plot_descriptor_rate,
         "batch_rate.png": plot_batch_rate, "interrupt_rate.png": plot_interrupt_rate, "scaling.png": plot_scaling,
         "speed_classes.png": plot_speed_classes}


def plot_all(report: dict, out_dir: Path) -> dict[str, str]:
    """Write every plot the report has data for; returns {file: "written" | why it was left out}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {}
    for name, fn in PLOTS.items():
        path = out_dir / name
        path.unlink(missing_ok=True)     # a stale plot from an earlier run must not pass for this one
        why = fn(report, path)
        result[name] = "written" if why is None else f"left out: {why}"
    return result


def main(argv: list[str]) -> int:
    src = Path(argv[0]) if argv else DEFAULT_REPORT
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    if not src.exists():
        print(f"bench_plots: {src} does not exist: run `make bench` first", file=sys.stderr)
        return 2
    for name, what in plot_all(json.loads(src.read_text()), out).items():
        print(f"{out / name}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
