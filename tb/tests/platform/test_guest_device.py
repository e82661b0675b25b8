"""The device's own test programs inside a guest (issue 10 items 1 and 7, docs/vmm.md "The device in a guest").

* test_c_scenario_in_guest (x86, posted and remapped): the C library's scenario (fw/lib/imsdev_scenario.c, the
  program tb/tests/fw/test_c_library.py runs on the host) runs unchanged in a VM that owns the whole device
  (tb/vmm/assign.py): MSI-X table and PBA trapped as vfio-pci does, every IMS window trapped (design (c)),
  guest RAM behind the RID_PASID second level, the scenario's two PASIDs attached by the guest kernel
  (second level over guest RAM), its ENQCMDS translated by the vCPU. Every access of the C code goes through
  the guest's mappings; every interrupt is a real message of the RTL through the VMM's IRTEs to the guest's
  vCPUs. Checked: the scenario's own checks (0 = every one passed) and the same statistics as on the host
  less what a guest without a virtual IOMMU cannot do (scenario flags: no affinity step, which needs
  interrupt remapping; the MMIO-error step uses MSIX_TRIGGER of a vector the device lacks, because
  vfio-pci ignores a guest's PBA writes); every interrupt the C code waited for
  arrived exactly once at its vCPU and nothing else arrived; every trapped access was one VM exit; remapped:
  one EXTERNAL_INTERRUPT exit per interrupt taken, posted: none and one notification each; no DMA fault
  (every DMA, PASID-tagged or not, reached guest RAM by GPA); the host's memory outside the guest untouched.
"""
from __future__ import annotations

import cocotb

from imsdev import regs
from imsdev.clib import CLibrary, OpsAdapter, ScenarioParams
from tb.driver_ops import BenchOps
from tb.env import Bench
from tb.platform_bench import platform_name
from tb.tests.fw.common import run_blocking
from tb.vmm.assign import assigned_x86_guest
from tb.vmm.bench import GUEST_PLATFORM_OPTIONS, finish_guests, posted_notifications
from tb.vmm.exits import ExitReason

PLATFORM = platform_name()
PAUSES = ("none", "both")
PASID_SHARED = 0x1234               # the host test's values: the scenario is the same program
PASID_DEDICATED = 0x4321


async def start(dut, pauses: str):
    bench = await Bench.start(dut, pauses=pauses, platform_options=GUEST_PLATFORM_OPTIONS[PLATFORM])
    assert bench.platform is not None and bench.platform.name == PLATFORM
    bench.log.info("test_guest_device: platform %s, seed %d (replay with SEED=%d)", PLATFORM, bench.seed,
                   bench.seed)
    return bench, BenchOps(bench)


def c_scenario_in_guest(bench, host_ops, kind: str) -> dict:
    lib = CLibrary()
    plat, p = bench.platform, bench.params
    a = assigned_x86_guest(bench, host_ops, kind, pasids=(PASID_SHARED, PASID_DEDICATED))
    notes_before = len(posted_notifications(plat.model.deliveries))
    adapter = OpsAdapter(a.ops, on_irq_consumed=lambda irq: a.expect_consumed(plat, irq))
    # What a guest without a virtual IOMMU cannot do: affinity changes without rewriting the message (the
    # step that checks a remapped retarget leaves the slot alone is skipped) and PBA writes reaching the
    # device (vfio-pci ignores them: the MMIO-error step uses MSIX_TRIGGER of a vector the device lacks)
    params = ScenarioParams(PASID_SHARED, PASID_DEDICATED, 100_000, 2_000,
                            ScenarioParams.FLAG_NO_IRQ_REMAP | ScenarioParams.FLAG_PBA_TRAPPED)
    rc, stats = lib.run_scenario(adapter, params)
    st = stats.as_dict()
    bench.log.info("C scenario in guest (%s): rc %d (%s), %s", kind, rc, lib.strerror(rc), st)
    a.release()
    return {"rc": rc, "name": lib.strerror(rc), "stats": st, "adapter": adapter, "guest": a,
            "notes": len(posted_notifications(plat.model.deliveries)) - notes_before}


if PLATFORM == "x86":
    @cocotb.test()
    @cocotb.parametrize(pauses=PAUSES, kind=("x86-posted", "x86-remapped"))
    async def test_c_scenario_in_guest(dut, pauses, kind):
        bench, host_ops = await start(dut, pauses)
        out = await run_blocking(c_scenario_in_guest, bench, host_ops, kind)
        a, adapter, st = out["guest"], out["adapter"], out["stats"]
        p = bench.params
        assert out["rc"] == 0, f"C scenario in the guest failed at check {out['rc']}: {out['name']} ({st})"
        assert (st["num_wq"], st["msix_vectors"], st["ims_per_wq"]) == (p.num_wq, p.msix_vectors, p.ims_per_wq)
        assert st["dedicated_wq"] == (1 if p.num_wq > 1 else 0)
        assert (st["swerr_code"], st["swerr_status"]) == (regs.SWERR_NO_CR, 0x10), st
        assert (st["mmio_err_code"], st["mmio_err_offset"]) == (regs.MMIO_ERR_UNSUPPORTED, regs.CSR_MSIX_TRIGGER), st
        # the host run's 9 records and 8 interrupts less the affinity step's 2 NOOPs and their interrupts
        assert st["descriptors"] == 7 and st["interrupts"] == 6, st
        assert not adapter.unclaimed and not adapter.unconsumed(), (adapter.unclaimed, adapter.unconsumed())
        taken = sum(adapter.consumed.values())
        assert taken == st["interrupts"], (taken, st)
        exits = dict(a.exits.counts)
        trapped = a.ops.counts["trapped"]
        assert exits.get(ExitReason.EPT_VIOLATION, 0) == trapped > 0, (exits, trapped)
        if kind == "x86-posted":
            assert a.posted_taken == taken and a.host_expected == 0 and out["notes"] == taken, out
            assert set(exits) == {ExitReason.EPT_VIOLATION}, exits
        else:
            assert a.host_expected == taken and a.posted_taken == 0 and out["notes"] == 0, out
            assert exits.get(ExitReason.EXTERNAL_INTERRUPT, 0) == taken, exits
            assert set(exits) == {ExitReason.EPT_VIOLATION, ExitReason.EXTERNAL_INTERRUPT}, exits
        assert not a.vm.msix.rejected and not any(t.rejected for t in a.ims), "the VMM refused a message"
        assert not bench.platform.dma_faults, bench.platform.dma_faults
        await finish_guests(bench, {"rc": out["rc"], "stats": st, "exits": {r.name: n for r, n in exits.items()}},
                            out["notes"])
