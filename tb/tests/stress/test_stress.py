"""Constrained-random stress: every traffic kind with control events at random times (tb/stress/).

Traffic: ENQCMD to shared WQs (several PASIDs, PASID[19:16] != 0, privileged and not) and MOVDIR64B to
dedicated WQs; NOOP / MEMMOVE / MEMFILL / DRAIN of random size classes (0, 1, 63..65, 4095..4097, up to
6 KiB), BATCH of 2-5 such members (some with an undefined opcode: 0x05, each with or without its own
interrupt; discarded, drained and cut by FLR as one descriptor), alignments and 4 KiB page crossings, buffers below and above 4 GiB and a source or record at
exactly 4 GiB; completion interrupts through MSI-X and each WQ's IMS (some entries bound to a PASID), delivered
through the platform (x86 VT-d IR / ARM SMMU + ITS); injected errors (opcode, flags, reserved fields,
transfer size, invalid handle, IMS PASID mismatch, DMA read UR/CA, CRAV=0 -> SWERR NO_CR).
Control events (tb/stress/events.py): affinity changes, backpressure bursts on the four streams, MSI-X and
IMS mask/unmask with rewrite under mask, MSI-X Function Mask, DRAIN/DISABLE/ABORT/RESET of WQs, ABORT_ALL,
RESET_DEVICE, bus master off/on, PASID capability off/on, and FLR under load (IMSDEV_STRESS_FLR=0 leaves it
out).
IMSDEV_STRESS_EVENTS=flr,burst (a comma list) restricts the events, for debugging a replay.

The run is a sequence of epochs; each ends in a checkpoint where everything is accounted exactly
(tb/stress/harness.py). Counts go to stress_counts.json in the run directory (sim/stress.py sums them).
Size: IMSDEV_STRESS_ITEMS descriptors per run (default 300, the `make test` version).
"""
import os

import cocotb
from cocotb.triggers import gather

from tb.stress.events import Chaos
from tb.stress.harness import Stress
from tb.stress.traffic import submitter

DEFAULT_ITEMS = 300
EPOCH_ITEMS_PER_WQ = (75, 20)      # per epoch: at least 75, else 20 per WQ (longer epochs when WQs run in parallel)


@cocotb.test(timeout_time=100, timeout_unit="ms")
async def test_stress(dut):
    total = int(os.environ.get("IMSDEV_STRESS_ITEMS", DEFAULT_ITEMS))
    st = await Stress.start(dut)
    r = st.rng
    st.log.info("stress: %d descriptors, pauses %s, WQs %s", total, st.pauses,
                ", ".join(f"{w}:{'D' if c.dedicated else 'S'}{c.size}/2^{c.max_xfer_shift}" for w, c in st.cfgs.items()))
    passed, message = False, ""
    try:
        done, epoch = 0, 0
        while done < total:
            n = min(max(EPOCH_ITEMS_PER_WQ[0], EPOCH_ITEMS_PER_WQ[1] * len(st.cfgs)), total - done)
            storm = epoch % 3 != 0 or r.random() < 0.3
            wqs = sorted(st.cfgs)
            share = {wq: 0 for wq in wqs}
            for _ in range(n):
                share[r.choice(wqs)] += 1
            lucky = r.choice(wqs)
            chaos = Chaos(st, storm)
            chaos_task = cocotb.start_soon(chaos.run())
            await gather(*[submitter(st, wq, k, not storm, wq == lucky) for wq, k in share.items() if k])
            chaos.stop = True
            await chaos_task
            await chaos.wait_masks()
            await st.checkpoint(f"epoch {epoch} ({'storm' if storm else 'calm'})")
            done += n
            epoch += 1
        passed = True
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        s = st.write_summary(passed, message)
        st.log.info("stress events: %s; counts: %s", dict(st.events), dict(st.counts))
    assert s["lost"] == s["duplicated"] == s["misrouted"] == s["spurious"] == 0, s
