"""sim/bench_plots.py: every plot is drawn from a report shaped like `make bench`'s, and a measurement missing
from the report leaves its plot out with the reason instead of drawing an empty axis. The keys come from
tb/bench/bench_perf.py's record() calls and sim/bench.py, so a renamed key fails here, not after a 20-minute
`make bench`."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sim"))

import bench_plots  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


# sim/bench.py speed_classes(): name, cycles per CPU-second, target
SPEED = (("wq_traffic", 9000, 15000), ("msix", 24000, 25000), ("driver", 16000, 15000))


def speed_class(cps, target):
    return {"module": "tb.tests.x", "platform": None, "tests": 4, "cycles": 30000, "cpu_s": round(30000 / cps, 3),
            "tlps": 10000, "tlps_by_stream": {"rx_req": 4000, "tx_cpl": 2000, "tx_req": 3000, "rx_cpl": 1000},
            "cycles_per_cpu_s": cps, "cpu_ms_per_tlp": round(3000 / cps, 3), "target_cycles_per_cpu_s": target,
            "target_cpu_ms_per_tlp": 0.2, "loadavg_1m": 2.0, "failed": [], "of_ceiling": 0.02}


def batch_rate(sizes):
    """tb/bench/bench_perf.py bench_batch_rate: the headline point (32 members) and the sweep it is part of."""
    sweep = [{"batches": 16, "members_per_batch": n, "members": 16 * n, "cycles": 100 * n, "members_per_cycle": 0.15,
              "link_limit": 0.19, "ratio": round(0.6 + n / 400, 3)} for n in sizes]
    return dict(sweep[-1], sweep=sweep)


def config_report(num_wq, ims_per_wq, scale):
    rate = {}
    for size in (64, 256, 1024, 4096):
        for wqs in sorted({1, min(2, num_wq), num_wq}):
            limit = 1 / max(3, size / 32)
            rate[f"{size}B_{wqs}wq"] = dict(descriptors=64, cycles=100, desc_per_cycle=round(0.98 * limit, 4),
                                            link_limit=round(limit, 4), ratio=0.98)
    return {
        "config": dict(NUM_WQ=num_wq, WQ_DEPTH=16, IMS_PER_WQ=ims_per_wq, MSIX_VECTORS=9, DATA_W=256),
        "build": {"clean_build_s": 40.0 * scale, "ccache_build_s": 4.0 * scale},
        "load": {"loadavg_1m": 1.5, "cpus": 2, "bench_cpu_s": 30.0},
        "completion_to_interrupt": {"ims_cycles": [20, 21, 22, 20], "msix_cycles": [18, 18, 19, 25]},
        "descriptor_rate": rate,
        "batch_rate": batch_rate((4, 8, 32)),
        "msix_replay": {"messages": 8, "cycles": 9, "messages_per_cycle": 0.889,
                        "sweep": [{"pending": n, "cycles": n + 1, "messages_per_cycle": round(n / (n + 1), 3)}
                                  for n in (1, 2, 4, 8)]},
        "sim_speed": {"cycles": 10000, "wall_s": 1.0, "cycles_per_s": 10000 // scale, "cpu_s": 0.9,
                      "cycles_per_cpu_s": 11000 // scale},
        "ceiling": {"cycles": 2000000, "cpu_s": 5.0, "wall_s": 5.1, "cycles_per_cpu_s": 400000 // scale},
        "speed_classes": {name: speed_class(cps // scale, target) for name, cps, target in SPEED},
        "speed_classes_before": {name: speed_class(cps // (4 * scale), target) for name, cps, target in SPEED},
        "failed": [],
    }


def test_every_plot_written_from_a_full_report(tmp_path):
    report = {"default": config_report(8, 256, 3), "small": config_report(1, 16, 1)}
    result = bench_plots.plot_all(report, tmp_path)
    assert result == {name: "written" for name in bench_plots.PLOTS}
    for name in bench_plots.PLOTS:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 5000, f"{name}: not a drawn PNG ({len(data)} bytes)"


def test_configurations_ordered_by_ims_store_size():
    report = {"default": config_report(8, 256, 3), "max": config_report(16, 256, 4), "small": config_report(1, 16, 1),
              "wide": config_report(4, 64, 2)}
    assert bench_plots._ordered(report) == ["small", "wide", "default", "max"]


@pytest.mark.parametrize("missing, plot", [("completion_to_interrupt", "latency.png"),
                                           ("descriptor_rate", "descriptor_rate.png"),
                                           ("msix_replay", "interrupt_rate.png"),
                                           ("batch_rate", "batch_rate.png"),
                                           ("speed_classes", "speed_classes.png")])
def test_missing_measurement_leaves_its_plot_out_and_removes_a_stale_one(tmp_path, missing, plot):
    (tmp_path / plot).write_bytes(PNG + b"stale")
    r = config_report(1, 16, 1)
    del r[missing]
    result = bench_plots.plot_all({"small": r}, tmp_path)
    assert result[plot].startswith("left out: no "), result
    assert not (tmp_path / plot).exists(), "a stale plot from an earlier run survived"
    assert all(v == "written" for k, v in result.items() if k != plot), result


def test_cli_without_a_report_says_what_to_run(tmp_path, capsys):
    assert bench_plots.main([str(tmp_path / "bench.json"), str(tmp_path)]) == 2
    assert "make bench" in capsys.readouterr().err


def test_cli_writes_from_a_report_file(tmp_path):
    src = tmp_path / "bench.json"
    src.write_text(json.dumps({"small": config_report(1, 16, 1)}))
    assert bench_plots.main([str(src), str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(bench_plots.PLOTS)
