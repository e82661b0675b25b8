"""What the firmware/driver contract tests share: running blocking driver code against the bench, host
buffers, and the platform scoreboard's final check."""
from __future__ import annotations

import json
from pathlib import Path

from cocotb.task import bridge

from tb.driver_ops import BenchOps, flush_all
from tb.env import Bench


# What fw/lib/imsdev_scenario.c checks on a host with interrupt remapping (its stats' `descriptors` and
# `interrupts`). Records: MEMMOVE, retried NOOP, masked NOOP, 2 affinity NOOPs, rewritten-slot NOOP, the NOOP
# drained by DRAIN_PASID, MEMFILL, two batches of 3 members (4 records each), bad opcode. Interrupts: IMS,
# IMS replay on unmask, 2 after affinity changes, rewritten slot, MSI-X completion, the first batch's
# MSI-X completion, 2 errors (SWERR, then ERR).
C_SCENARIO_RECORDS, C_SCENARIO_INTERRUPTS = 17, 9
# The affinity step (skipped without interrupt remapping, IMSDEV_SCN_FLAG_NO_IRQ_REMAP): 2 records, 2 interrupts.
C_SCENARIO_AFFINITY_RECORDS, C_SCENARIO_AFFINITY_INTERRUPTS = 2, 2


async def start(dut, pauses: str = "none") -> tuple[Bench, BenchOps]:
    bench = await Bench.start(dut, pauses=pauses)
    return bench, BenchOps(bench)


async def run_blocking(fn, *args):
    """Run blocking driver code (Python model or C library) in a bridge thread; it resumes the simulation
    for every hardware access but posted writes to the device, which are issued in order with the next
    access that needs the simulation and, at the latest, when the code returns (BenchOps)."""
    def driver_code():
        try:
            return fn(*args)
        finally:
            flush_all()
    return await bridge(driver_code)()


async def finish(bench: Bench, ops: BenchOps, test: str, extra: dict | None = None) -> dict:
    """Every expected interrupt delivered exactly once, nothing lost/duplicated/misrouted/spurious/stray,
    every platform fault expected; the counts go to the log and to platform_report.jsonl."""
    assert not ops.pending_writes, f"{ops.pending_writes} posted writes never issued (driver code not run by run_blocking)"
    plat = bench.platform
    await plat.wait_all()
    await bench.settle()
    report = plat.report()
    report.update(test=test, config=bench.params.name, pauses=bench.pauses, seed=bench.seed,
                  accesses=dict(ops.counts), **(extra or {}))
    bench.log.info("driver contract: %s", json.dumps(report))
    with (Path.cwd() / "platform_report.jsonl").open("a") as f:
        f.write(json.dumps(report) + "\n")
    plat.assert_clean()
    assert report["lost"] == report["duplicate"] == report["misrouted"] == report["spurious"] == 0
    return report


class HostBuffers:
    """One block of host memory from the ops allocator with a bump pointer; sources get a seeded pattern
    so a wrong or missing copy cannot match by accident."""

    def __init__(self, ops: BenchOps, rng, size: int = 0x4_0000):
        self.ops = ops
        self.rng = rng
        self.base = ops.mem_alloc(size, 4096)
        self.end = self.base + size
        self.next = self.base

    def alloc(self, size: int, align: int = 64, offset: int = 0) -> int:
        a = (self.next + align - 1) // align * align + offset
        self.next = a + max(size, 1)
        assert self.next <= self.end, "host buffers exhausted"
        return a

    def source(self, size: int, offset: int = 0) -> tuple[int, bytes]:
        a = self.alloc(size, 64, offset)
        data = self.rng.randbytes(size)
        self.ops.mem_write(a, data)
        return a, data
