"""FPGA flow (sim/synth.py): parsing of yosys `stat` output, nextpnr's Fmax and critical path, the storage-RAM
mapping rule. Captured text samples (Yosys 0.70, nextpnr 0.11 from yowasp), shortened; no synthesis runs."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sim"))

import pytest  # noqa: E402
import synth  # noqa: E402

# `tee -o ... stat` after synth_ecp5 of the flat imsdev_top (Yosys 0.70 table format).
STAT_ECP5 = """
5. Printing statistics.

=== imsdev_top ===

        +----------Local Count, excluding submodules.
        | 
    13409 wires
    32638 wire bits
    13409 public wires
    32638 public wire bits
       45 ports
     1206 port bits
    18437 cells
      941   CCU2C
       16   DP16KD
       10   L6MUX21
    10013   LUT4
      753   PFUMX
      486   TRELLIS_DPR16X4
     6218   TRELLIS_FF
"""

# The stat inside synth_ecp5's log: two stats, the last one with a design hierarchy (library cells counted as
# submodules); only the last block counts.
STAT_LOG_HIER = """
4.10. Printing statistics.

=== imsdev_top ===
    99999 cells
    99999   $_AND_

4.51. Printing statistics.

=== imsdev_top ===

        +----------Local Count, excluding submodules.
        | 
       16 cells
       16   DP16KD
    18421 submodules
    10013   LUT4
     6218   TRELLIS_FF

=== design hierarchy ===

        +----------Count including submodules.
        | 
       16 imsdev_top

        +----------Count including submodules.
        | 
    13409 wires
        - memories
       16 cells
       16   DP16KD
    18421 submodules
      941   CCU2C
    10013   LUT4
      486   TRELLIS_DPR16X4
     6218   TRELLIS_FF

4.52. Executing CHECK pass (checking for obvious problems).
"""

# Older Yosys (name before count).
STAT_OLD = """
=== imsdev_fifo ===

   Number of wires:                 40
   Number of cells:                 61
     FDRE                           36
     LUT3                            2
     LUT6                            9
     RAM32M                          6
     RAMB18E1                        1
"""

STAT_XC7 = """
3. Printing statistics.

=== imsdev_msix ===

        +----------Local Count, excluding submodules.
        | 
     1633 cells
        1   BUFG
       11   CARRY4
      573   FDRE
        2   FDSE
       71   IBUF
        6   INV
      177   LUT2
      141   LUT6
       10   MUXF7
      144   OBUF
       16   RAM32M
       80   RAM64M
        3   RAMB18E1
        2   RAMB36E1
        4   SRLC32E
"""

# nextpnr-ecp5 --log: the placer's estimate first, the routed result last (as a Warning when it fails).
PNR_LOG = """Info: Device utilisation:
Info: \t          TRELLIS_IO:       0/    197     0%
Info: \t              DP16KD:       7/     56    12%
Info: \t          TRELLIS_FF:     547/  24288     2%
Info: SA placement time 3.62s

Info: Max frequency for clock 'clk': 58.69 MHz (FAIL at 125.00 MHz)

Info: Routing complete.
Info: Critical path report for clock 'clk' (posedge -> posedge):
Info:       type curr  total name
Info:   clk-to-q  5.61  5.61 Source u_table.mem.0.3.DOA0
Info:    routing  1.74  7.35 Net cfg_msix_en_LUT4_B_Z[0] (22,25) -> (24,9)
Info:                          Sink cfg_msix_en_LUT4_B_Z_LUT4_D.C
Info:                          Defined in:
Info:                               sim/build/synth/rtl/imsdev_msix.sv:24.35
Info:      logic  0.24  7.59 Source cfg_msix_en_LUT4_B_Z_LUT4_D.F
Info:    routing  0.62  8.21 Net pba_nonzero_q_TRELLIS_FF_Q_DI (23,9) -> (24,9)
Info:                          Sink pba_nonzero_q_TRELLIS_FF_Q.M
Info:                          Defined in:
Info:                               rtl/common/imsdev_ram_sdp.sv:24.35
Info:                               /share/lattice/cells_map_trellis.v:108.23-108.24
Info:      setup  0.00  8.21 Source pba_nonzero_q_TRELLIS_FF_Q.M
Info: 5.85 ns logic, 2.36 ns routing

Warning: Max frequency for clock 'clk': 67.91 MHz (FAIL at 125.00 MHz)
"""


def test_stat_new_format():
    cells = synth.parse_stat(STAT_ECP5)
    assert cells == {"CCU2C": 941, "DP16KD": 16, "L6MUX21": 10, "LUT4": 10013, "PFUMX": 753,
                     "TRELLIS_DPR16X4": 486, "TRELLIS_FF": 6218}
    c = synth.classify_cells(cells, "ecp5")
    assert (c["lut"], c["ff"], c["bram"], c["lutram"], c["carry"]) == (10013, 6218, 16, 486, 941)


def test_stat_last_block_and_hierarchy_totals():
    cells = synth.parse_stat(STAT_LOG_HIER)
    assert "$_AND_" not in cells and "imsdev_top" not in cells
    assert cells == {"DP16KD": 16, "CCU2C": 941, "LUT4": 10013, "TRELLIS_DPR16X4": 486, "TRELLIS_FF": 6218}


def test_stat_old_format():
    cells = synth.parse_stat(STAT_OLD, top="imsdev_fifo")
    assert cells == {"FDRE": 36, "LUT3": 2, "LUT6": 9, "RAM32M": 6, "RAMB18E1": 1}


def test_xc7_classes():
    c = synth.classify_cells(synth.parse_stat(STAT_XC7, top="imsdev_msix"), "xc7")
    assert c["lut"] == 6 + 177 + 141            # INV is a LUT1
    assert c["ff"] == 575
    assert (c["ramb36"], c["ramb18"], c["bram"]) == (2, 3, 3.5)
    assert c["lutram_cells"] == 96 and c["lutram"] == 16 * 4 + 80 * 4
    assert c["srl"] == 4 and c["carry"] == 11


def test_nextpnr_fmax_last_report_wins():
    r = synth.parse_nextpnr(PNR_LOG)
    assert r["fmax_mhz"] == {"clk": 67.91}
    assert r["target_mhz"] == {"clk": 125.0}
    assert r["pass"] is False
    assert r["utilisation"]["DP16KD"] == [7, 56] and r["utilisation"]["TRELLIS_IO"] == [0, 197]


def test_nextpnr_critical_path():
    (cp,) = synth.parse_nextpnr(PNR_LOG)["critical_path"]
    assert cp["clock"] == "clk" and cp["edges"] == "posedge -> posedge"
    assert cp["from"] == "u_table.mem.0.3.DOA0" and cp["to"] == "pba_nonzero_q_TRELLIS_FF_Q.M"
    assert cp["from_signal"] == "u_table.mem" and cp["to_signal"] == "pba_nonzero_q"
    assert cp["through_memories"] == ["u_table.mem"]
    assert (cp["logic_ns"], cp["routing_ns"], cp["total_ns"]) == (5.85, 2.36, 8.21)
    assert cp["routing_segments"] == 2
    assert cp["rtl_files"] == ["sim/build/synth/rtl/imsdev_msix.sv", "rtl/common/imsdev_ram_sdp.sv"]


def test_nextpnr_pass_and_several_clocks():
    text = ("Info: Max frequency for clock 'a': 130.10 MHz (PASS at 125.00 MHz)\n"
            "Info: Max frequency for clock 'b': 90.00 MHz (FAIL at 125.00 MHz)\n"
            "Info: Max frequency for clock 'a': 131.00 MHz (PASS at 125.00 MHz)\n"
            "Info: Max frequency for clock 'b': 126.50 MHz (PASS at 125.00 MHz)\n")
    r = synth.parse_nextpnr(text)
    assert r["fmax_mhz"] == {"a": 131.0, "b": 126.5} and r["pass"] is True
    assert synth.parse_nextpnr("Info: Routing complete.\n") == dict(fmax_mhz={}, target_mhz={}, **{"pass": None},
                                                                     critical_path=[], utilisation={})


def test_storage_mapping_and_rule():
    bram = "imsdev_top/u_ims.u_entries.mem.0.0\nimsdev_top/u_ims.u_entries.mem.1.0\nimsdev_top/u_dma.x.mem.0.0\n"
    lut = "imsdev_top/u_msix.u_table.mem.0.12\nimsdev_top/u_wq_mgr.u_queue.mem.0.0\n"
    m = synth.storage_mapping(bram, lut, synth.STORAGE)
    assert m["u_ims.u_entries"] == "block"
    assert m["u_msix.u_table"] == "distributed" and m["u_wq_mgr.u_queue"] == "distributed"
    assert m["u_msix.u_pba"] == "registers"
    params = dict(NUM_WQ=1, WQ_DEPTH=4, IMS_PER_WQ=64, MSIX_VECTORS=2048, DATA_W=128)
    sizes = synth.storage_sizes(synth.STORAGE, params)
    assert sizes["u_msix.u_pba"] == ("MSI-X PBA", 32, 64) and sizes["u_wq_mgr.u_queue"][1:] == (4, 534)
    bad = synth.check_mapping(m, sizes, "ecp5")
    # MSI-X table 2048 deep in LUTs, armed copy 2048 deep in registers, PBA (32 words) in registers: violations;
    # IMS entries (64) in block RAM, its pending bits (one word) in registers, a 4-deep queue in LUTs: fine.
    assert any(b.startswith("u_msix.u_table ") and "not block RAM" in b for b in bad)
    assert any(b.startswith("u_msix.u_armed ") for b in bad)
    assert any(b.startswith("u_msix.u_pba ") and "registers, not RAM" in b for b in bad)
    assert not any(b.startswith(("u_ims.", "u_wq_mgr.")) for b in bad)


def _run(seed, mhz, **kw):
    return dict(step="pnr-ecp5", seed=seed, fmax_mhz={"clk": mhz}, critical_path=[{"clock": "clk", "seed": seed}],
                cpu_s=10.0, wall_s=12.0, load_start=1.0, load_mean=2.0, load_end=3.0, cmd="nextpnr", **kw)


def test_seeds_median_run_stands_for_the_configuration():
    p = synth.combine_seeds([_run(1, 50.0), _run(2, 55.5), _run(3, 48.25)])
    assert p["seed"] == 1 and p["fmax_mhz"] == {"clk": 50.0} and p["critical_path"][0]["seed"] == 1
    assert p["seeds"] == {"1": 50.0, "2": 55.5, "3": 48.25} and p["fmax_spread_mhz"] == [48.25, 55.5]
    assert p["cpu_s"] == 30.0 and p["wall_s"] == 36.0 and p["load_start"] == 1.0 and p["load_end"] == 3.0
    # an even count takes the lower middle run; a run with two clocks counts by its slowest
    two = _run(4, 60.0)
    two["fmax_mhz"] = {"clk": 60.0, "aux": 45.0}
    p = synth.combine_seeds([_run(1, 50.0), two])
    assert p["seed"] == 4 and p["seeds"] == {"1": 50.0, "4": 45.0}


def test_seeds_single_and_failed_runs():
    one = _run(1, 52.78)
    p = synth.combine_seeds([one])
    assert p["fmax_mhz"] == {"clk": 52.78} and p["seeds"] == {"1": 52.78} and p["cpu_s"] == 10.0
    failed = dict(step="pnr-ecp5", seed=2, rc=1, error="nextpnr failed (rc 1)")
    p = synth.combine_seeds([one, failed])
    assert p["seeds"] == {"1": 52.78} and p["seed"] == 1 and "error" not in p
    assert p["failed_seeds"] == ["seed 2: nextpnr failed (rc 1)"]
    assert synth.combine_seeds([failed])["error"].startswith("nextpnr failed")
    both = synth.combine_seeds([dict(failed, seed=1), failed])
    assert both["error"] == "seed 1: nextpnr failed (rc 1); seed 2: nextpnr failed (rc 1)"


def test_seeds_argument_checked():
    with pytest.raises(SystemExit):
        synth.main(["--seeds", "0"])


# `ls` of imsdev_top read with `read_slang --keep-hierarchy` (Yosys 0.70, shortened): one module per instance.
LS_KEEP_HIERARCHY = """
80 modules:
  imsdev_ats_atc$imsdev_top.u_dma.g_ats.u_atc
  imsdev_dma$imsdev_top.u_dma
  imsdev_ram_sdp$imsdev_top.u_dma.u_buf.g_bank[10].u_ram
  imsdev_msix$imsdev_top.u_msix
  imsdev_top
"""


def test_block_modules_from_keep_hierarchy_listing():
    import synth_blocks
    mods = synth_blocks.parse_modules(LS_KEEP_HIERARCHY)
    assert mods == {"u_dma.g_ats.u_atc": "imsdev_ats_atc$imsdev_top.u_dma.g_ats.u_atc",
                    "u_dma": "imsdev_dma$imsdev_top.u_dma",
                    "u_dma.u_buf.g_bank[10].u_ram": "imsdev_ram_sdp$imsdev_top.u_dma.u_buf.g_bank[10].u_ram",
                    "u_msix": "imsdev_msix$imsdev_top.u_msix"}     # the top itself is not a block


def test_pnr_rejects_an_unknown_placer(tmp_path):
    with pytest.raises(ValueError, match="placer must be one of static, heap, got 'sa2'"):
        synth.pnr(tmp_path / "x.json", tmp_path, 125, 10, placer="sa2")


def test_read_slang_line_top_and_keep_hierarchy():
    line = synth.read_slang("imsdev_top", {"NUM_WQ": 1, "DATA_W": 128}, ["a_pkg.sv", "b.sv"])
    assert line == "read_slang -j 1 --allow-use-before-declare a_pkg.sv b.sv --top imsdev_top -G NUM_WQ=1 -G DATA_W=128"
    keep = synth.read_slang("imsdev_msix", {}, ["m.sv"], keep_hierarchy=True)
    assert keep == "read_slang -j 1 --allow-use-before-declare --keep-hierarchy m.sv --top imsdev_msix"
