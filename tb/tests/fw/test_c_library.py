"""The C driver library (fw/lib, built by `make -C fw` into fw/build/libimsdev.so) against the RTL.

imsdev_scenario() runs in a bridge thread; its struct imsdev_ops callbacks (imsdev.clib.OpsAdapter over
tb/driver_ops.py) block while the simulation performs each access. Interrupt messages come from the
platform's irq domain (x86 VT-d IR / ARM ITS). The scenario returns 0 or the number of the first failed
check (fw/lib/imsdev.h enum imsdev_scenario_result); this test reports its name.

Interrupts: the C code consumes a delivery per wait_irq; each consumed delivery becomes an expectation of
the platform scoreboard, so any delivery it did not wait for (a duplicate, a masked slot firing, a
message after shutdown) is left unexpected and fails the scoreboard, as do misroutes after the affinity
changes the scenario makes.
"""
from __future__ import annotations

import cocotb

from imsdev import regs
from imsdev.clib import CLibrary, OpsAdapter, ScenarioParams
from tb.bad_inputs import BadInput
from tb.tests.fw.common import C_SCENARIO_INTERRUPTS, C_SCENARIO_RECORDS, finish, run_blocking, start

PASID_SHARED = 0x1234
PASID_DEDICATED = 0x4321


@cocotb.test()
@cocotb.parametrize(pauses=("none", "both"))
async def test_c_scenario(dut, pauses):
    lib = CLibrary()                       # fails with "build it with make -C fw" if it is missing
    bench, ops = await start(dut, pauses)
    plat, p = bench.platform, bench.params
    adapter = OpsAdapter(ops, on_irq_consumed=plat.expect)
    params = ScenarioParams(PASID_SHARED, PASID_DEDICATED, 100_000, 2_000)
    rc, stats = await run_blocking(lib.run_scenario, adapter, params)
    st = stats.as_dict()
    bench.log.info("C scenario: rc %d (%s), %s", rc, lib.strerror(rc), st)
    assert rc == 0, f"C scenario failed at check {rc}: {lib.strerror(rc)} (stats {st})"
    assert (st["num_wq"], st["msix_vectors"], st["ims_per_wq"]) == (p.num_wq, p.msix_vectors, p.ims_per_wq)
    assert st["dedicated_wq"] == (1 if p.num_wq > 1 else 0)
    assert (st["swerr_code"], st["swerr_status"]) == (regs.SWERR_NO_CR, 0x10)
    assert (st["mmio_err_code"], st["mmio_err_offset"]) == (regs.MMIO_ERR_RO_WRITE, regs.MSIX_PBA_BASE), st
    assert (st["descriptors"], st["interrupts"]) == (C_SCENARIO_RECORDS, C_SCENARIO_INTERRUPTS), st
    assert st["enqcmd_attempts"] >= 10, st
    assert not adapter.unclaimed and not adapter.unconsumed(), \
        f"deliveries the C code did not take: {adapter.unclaimed} {adapter.unconsumed()}"
    moved = [m for m in adapter.affinity_moves if m[0] != m[1]]
    assert len(adapter.affinity_moves) == 2 and moved, f"affinity moves {adapter.affinity_moves}"
    await finish(bench, ops, "test_c_scenario", {"c_stats": st})


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="descriptor", input="C library scenario: a descriptor with an undefined opcode and no record address",
             outcome="the scenario's error handling reads SWERR NO_CR with CODE_STATUS 0x10 (reported in its stats)",
             test="test_c_scenario"),
)
