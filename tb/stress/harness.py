"""The stress environment: a tb.wq.WqEnv whose completion interrupts go through the attached platform
(x86 VT-d remapping or ARM SMMU + ITS), with exact accounting of every descriptor and interrupt.

Accounting model
* Descriptors: tb.wq.Scoreboard (records, data, guards, PASID/PMR of every DMA TLP, record before
  interrupt). A fresh scoreboard per epoch (`new_epoch`): at a checkpoint everything is finished, so the
  next epoch starts clean and the host arenas can be rewound (long runs stay O(n)).
* Interrupts: every device write into the platform's window is matched here first:
  - to a descriptor whose completion predicted that message (`irq == ("msg", key)`, not seen yet), or
  - to a replay this harness predicted when it unmasked an entry with PENDING set (`replay[key]`);
  each match adds one expected delivery of that irq to the platform scoreboard, which then checks the
  (CPU, vector) / (redistributor, LPI) at delivery time (affinity changes included). A message that
  matches nothing is a duplicate (known message) or spurious (unknown message).
* Masking is exact (no "at least once"): an entry is only masked after every user predicted to send
  has sent, and only unmasked after every user predicted to pend has completed and PENDING reads 1;
  no descriptor picks an entry while it is in transition (`busy`).
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Optional

import cocotb
from cocotb.triggers import Event, First, Lock, Timer, with_timeout
from cocotb.utils import get_sim_time

from imsdev import regs
from tb.env import PAUSE_MODES
from tb.pcie.root_complex import write_span
from tb.pcie.stream import Gate
from tb.wq import (DMA_READ_FAILURES, FLAG_CRAV, FLAG_RCR, OP_NOOP, HostArena, Scoreboard,
                   WqConfig, WqEnv, swerr_name)

COUNTS_FILE = "stress_counts.json"       # in the cocotb run's directory (its cwd)
RECHECK_NS = 500                        # wait_until's re-check period for conditions no request signals
FLR_IRQ_GRACE_NS = 4_000                 # an interrupt due at most this long before an FLR may be cut by it
# Host memory starting at exactly 4 GiB (the RC's BAR window owns [0xC000_0000, 4 GiB), so nothing can
# straddle the boundary): operands whose address is exactly 0x1_0000_0000 (low DWORD 0, 4DW header).
BOUNDARY_BASE = 1 << 32
BOUNDARY_SIZE = 0x1_0000
FOUR_GIB = 1 << 32


class StressScoreboard(Scoreboard):
    """tb.wq.Scoreboard that hands writes into the platform's interrupt window to the harness."""

    def __init__(self, env: WqEnv, harness: "Stress"):
        self.harness = harness
        super().__init__(env)

    def _observe(self, rec, tlp):
        if self._active and rec.kind == "MWr":
            addr, data = write_span(tlp)
            if self.harness.in_window(addr):
                self.harness.on_message(self, addr, data, rec.time_ns)
                return
        super()._observe(rec, tlp)
        if self._active:
            self.harness.changed.set()


class Stress:
    """Everything a stress run shares: env, platform, WQ plan, interrupts, locks, counts."""

    def __init__(self, env: WqEnv):
        self.env = env
        self.b = env.b
        self.rng = env.rng
        self.log = env.log
        self.plat = env.b.platform
        assert self.plat is not None, "the stress test needs IMSDEV_PLATFORM=x86|arm (sim/testplan.py, sim/stress.py)"
        self.changed = Event()
        self.counts: Counter = Counter()
        self.events: Counter = Counter()
        self.errors: list[str] = []
        self.replay: Counter = Counter()          # key -> replays predicted, not yet arrived
        self.dups: list = []
        self.unknown: list = []
        self.busy: set = set()                    # interrupt entries in a mask/unmask transition
        self.masked: set = set()                  # interrupt entries a mask cycle holds masked
        self.swerr_extra: list[int] = []          # SWERR codes expected from events (not descriptors)
        self.no_masks = False
        self.mask_tasks: list = []
        self.locks: dict[int, Lock] = {}
        self.sb: Optional[StressScoreboard] = None
        self.boundary: Optional[HostArena] = None
        self.epoch_totals: Counter = Counter()
        self.debug = bool(os.environ.get("IMSDEV_STRESS_DEBUG"))

    # ---- setup ------------------------------------------------------------------------------------
    @classmethod
    async def start(cls, dut) -> "Stress":
        pauses_rng = _seeded_choice()
        env = await WqEnv.start(dut, pauses_rng)
        self = cls(env)
        self.pauses = pauses_rng
        self._install_gates()
        env.sb._active = False                    # the stress scoreboard replaces the default one
        self.sb = env.sb = StressScoreboard(env, self)
        for name in ("cocotb.pcie", "cocotb.pcie.HostRootComplex"):
            if not os.environ.get("IMSDEV_STRESS_DEBUG"):
                logging.getLogger(name).setLevel(logging.WARNING)      # per-TLP INFO lines cost more than the run
        try:
            self.boundary = HostArena(self.b, BOUNDARY_SIZE, base=BOUNDARY_BASE)
        except Exception as exc:                  # noqa: BLE001 - the boundary arena is an extra
            self.log.warning("stress: no host memory across 4 GiB (%s): boundary operands skipped", exc)
        self.plan()
        self.alloc_irqs()
        await self.bring_up()
        return self

    def _install_gates(self):
        streams = self.b.shim.streams
        self.gates = {}
        # A backpressure burst holds a gate (every cycle paused); released, each stream keeps its base pattern.
        for name in ("rx_req", "tx_cpl", "tx_req"):
            self.gates[name] = Gate(after=getattr(streams[name], "_pauses", None), held=False)
            streams[name].set_pause_generator(self.gates[name])
        # rx_cpl already runs through the DMA hold's gate: the burst gate sits behind it.
        self.gates["rx_cpl"] = Gate(after=self.env.hold.gen.after, held=False)
        self.env.hold.gen.after = self.gates["rx_cpl"]

    def plan(self):
        """WQ configurations (about a third dedicated on multi-WQ builds), PASIDs with PASID[19:16] != 0,
        transfer limits, interrupt entries (some IMS entries bound to a PASID)."""
        r, p = self.rng, self.env.p
        self.cfgs: dict[int, WqConfig] = {}
        self.pasids: dict[int, list[int]] = {}
        for wq in range(p.num_wq):
            size = r.randint(2, min(p.wq_depth, 16))
            shift = r.choice((12, 13, 16))
            if p.num_wq > 1 and wq % 3 == 2:
                pasid = r.choice((r.randrange(1, 1 << 20), 0xF_FFFF, 0x1_0000 | r.randrange(1 << 16)))
                self.cfgs[wq] = WqConfig(size=size, dedicated=True, pasid=pasid, pasid_en=r.random() < 0.75,
                                         priv=r.random() < 0.5, prio=r.randrange(16), max_xfer_shift=shift)
                self.pasids[wq] = [pasid]
            else:
                self.cfgs[wq] = WqConfig(size=size, priv=r.random() < 0.6, prio=r.randrange(16),
                                         max_xfer_shift=shift)
                self.pasids[wq] = [r.randrange(1, 1 << 16), (r.randrange(1, 16) << 16) | r.randrange(1 << 16),
                                   0xF_FFFF if r.random() < 0.5 else r.randrange(1 << 20)]
            self.locks[wq] = Lock()
        nv = p.msix_vectors
        self.msix_vectors = sorted(set(r.sample(range(1, nv), min(nv - 1, 6))) | {nv - 1})
        self.ims_entries: dict[tuple[int, int], Optional[int]] = {}    # (wq, index) -> bound PASID or None
        for wq, cfg in self.cfgs.items():
            idx = set(r.sample(range(p.ims_per_wq), min(3, p.ims_per_wq))) | {p.ims_per_wq - 1}
            for i in sorted(idx):
                bound = None
                if r.random() < 0.3 and (not cfg.dedicated or cfg.pasid_en):
                    bound = cfg.pasid if cfg.dedicated else r.choice(self.pasids[wq])
                self.ims_entries[(wq, i)] = bound

    def alloc_irqs(self):
        """One platform interrupt per MSI-X vector and IMS entry used, plus spares for rewrites under mask."""
        entries = [("msix", v) for v in self.msix_vectors] + [("ims", wq, i) for wq, i in self.ims_entries]
        n = len(entries) + 4
        irqs = self.plat.alloc_irqs(self.b.requester_id, n, hwsize=max(64, n))
        self.plat.track(*irqs)
        self.irq_by_key = {(irq.msg.address, irq.msg.data): irq for irq in irqs}
        self.entry_irq = dict(zip(entries, irqs))
        self.spares = irqs[len(entries):]
        self.all_irqs = irqs

    async def bring_up(self):
        """What a driver does at probe (and after FLR): PASID control, MSI-X, device, WQs, interrupt entries."""
        env = self.env
        await env.set_pasid_control(True, priv=True)
        await env.msix_enable()
        await env.setup(self.cfgs)
        for entry, irq in self.entry_irq.items():
            if entry[0] == "msix":
                await env.msix_program(entry[1], irq.msg.address, irq.msg.data, masked=False)
            else:
                await env.ims_program(entry[1], entry[2], irq.msg.address, irq.msg.data, masked=False,
                                      pasid=self.ims_entries[(entry[1], entry[2])])

    # ---- message matching -----------------------------------------------------------------------
    def in_window(self, addr: int) -> bool:
        base, size = self.plat.window
        return base <= addr < base + size

    def on_message(self, sb: StressScoreboard, addr: int, data: bytes, time_ns: float):
        key = (addr, int.from_bytes(data, "little")) if len(data) == 4 else (addr, None)
        irq = self.irq_by_key.get(key)
        # "submitted" too: under tx_cpl backpressure the interrupt can beat the ENQCMD's SC completion.
        waiting = [t for t in sb.items if t.irq[0] == "msg" and t.irq[1] == key
                   and t.state in ("submitted", "accepted", "completed") and t.irq_seen == 0]
        if self.debug:
            self.log.info("stress dbg: message %#x/%s at %s: waiting %s, replay %d", addr, key[1], time_ns,
                          [t.n for t in waiting], self.replay[key])
        # A message that comes before any waiting descriptor's record can only be a replay this harness
        # predicted (a PENDING bit set by an earlier descriptor, sent when its entry or the function unmasks).
        records_out = any(not t.writes_cr or t.cr_writes for t in waiting)
        if waiting and irq is not None and (records_out or self.replay[key] == 0):
            self._match(sb, waiting, key)
            self.counts["interrupts"] += 1
            self.plat.expect(irq)
        elif self.replay[key] > 0 and irq is not None:
            self.replay[key] -= 1
            self.counts["interrupts"] += 1
            self.counts["replays"] += 1
            self.plat.expect(irq)
        elif irq is not None:
            self.dups.append((time_ns, key))
            self._error(f"duplicate interrupt {key[0]:#x}/{key[1]:#x} at {time_ns} ns: no completion or replay "
                        f"due on that message")
        else:
            self.unknown.append((time_ns, key))
            self._error(f"spurious interrupt write {key[0]:#x}/{key[1]} at {time_ns} ns: not a message of any "
                        f"allocated interrupt")
        self.changed.set()

    def _match(self, sb: StressScoreboard, waiting: list, key):
        """tb.wq.Scoreboard._on_message for the platform window: the oldest waiting descriptor whose record
        is out takes the message; the record must be in host memory when it arrives."""
        sb.stats["messages_seen"] += 1
        ready = [t for t in waiting if not t.writes_cr or t.cr_writes]
        if not ready:
            sb._error(f"interrupt {key[0]:#x}/{key[1]:#x} arrived before the completion record of {waiting[0]}")
            ready = waiting
        t = ready[0]
        t.irq_seen += 1
        if t.writes_cr:
            rec = self.b.rc.host_memory.read(t.desc.cr_addr, 32)
            if rec[0] & 0x7F != t.status:
                sb._error(f"{t}: at its interrupt the host sees completion record status {rec[0]:#x}, "
                          f"expected {t.status:#x}")

    def _error(self, msg: str):
        self.errors.append(msg)
        self.log.error("stress: %s", msg)

    # ---- waiting ------------------------------------------------------------------------------------
    async def wait_until(self, cond: Callable[[], bool], what: Callable[[], str] | str,
                         timeout_ns: float = 200_000):
        """Wait for a scoreboard condition (re-evaluated at every upstream request); AssertionError after
        timeout_ns naming what is still missing."""
        async def _wait():
            # Woken by every upstream request and message; conditions that change without one (a command
            # marks descriptors aborted, a replay count is settled) are re-checked every RECHECK_NS.
            while not cond():
                self.changed.clear()
                await First(self.changed.wait(), Timer(RECHECK_NS, "ns"))
        if cond():
            return
        try:
            await with_timeout(_wait(), int(timeout_ns), "ns")
        except TimeoutError:
            raise AssertionError(f"stress: after {timeout_ns} ns still waiting: "
                                 + (what() if callable(what) else what)) from None

    # ---- interrupt entries -------------------------------------------------------------------------
    def entry_key(self, entry) -> tuple[int, int]:
        irq = self.entry_irq[entry]
        return irq.msg.address, irq.msg.data

    def users(self, entry) -> list:
        """Descriptors of this epoch that picked this interrupt entry."""
        return [t for t in self.sb.items if getattr(t, "entry", None) == entry]

    def choose_entry(self, wq: int, pasid: Optional[int], allow_mismatch: bool = False):
        """An interrupt entry for a completion of `wq` with this PASID, avoiding entries in transition
        (None if there is none)."""
        r = self.rng
        ims = [("ims", w, i) for (w, i), bound in self.ims_entries.items()
               if w == wq and ("ims", w, i) not in self.busy
               and (bound is None or bound == pasid or allow_mismatch)]
        if allow_mismatch:
            ims = [e for e in ims if self.ims_entries[(e[1], e[2])] not in (None, pasid)]
            return r.choice(ims) if ims else None
        msix = [("msix", v) for v in self.msix_vectors if ("msix", v) not in self.busy]
        if ims and (r.random() < 0.6 or not msix):
            return r.choice(ims)
        return r.choice(msix) if msix else None

    # ---- checkpoints -------------------------------------------------------------------------------
    def new_epoch(self):
        """Fresh scoreboard and rewound host arenas (call only when every descriptor is finished)."""
        if self.sb is not None:
            self.sb._active = False
            for k, v in self.sb.stats.items():
                self.epoch_totals[k] += v
        env = self.env
        for arena in (env.low, env.high, self.boundary):
            if arena is not None:
                arena.next = arena.base
        env._unbacked = 0
        self.sb = env.sb = StressScoreboard(env, self)
        self.b.rc.clear_upstream_log()

    def lost_interrupts(self) -> list:
        return [t for t in self.sb.items if t.irq[0] == "msg" and t.state in ("accepted", "completed")
                and (t.cr_writes or not t.writes_cr) and not t.irq_seen]

    async def markers(self, wqs) -> list:
        """A NOOP with a record on each WQ: when its record arrives, every earlier descriptor of that WQ that
        will ever complete has completed (FIFO per WQ, one engine, one ordered write path)."""
        out = []
        for wq in wqs:
            d = self.env.new_desc(OP_NOOP, flags=FLAG_CRAV | FLAG_RCR, high=False)
            cfg = self.cfgs[wq]
            if cfg.dedicated:     # callers hold the WQ's lock with its queue drained or just aborted: room
                t = await self.sb.submit(wq, d)
            else:
                t = await self.sb.submit(wq, d, pasid=self.pasids[wq][0], retries=2000, backoff_cycles=16)
                assert t.accepted, f"marker {t}: {t.cpl_status.name}"
            out.append(t)
        await self.sb.wait_complete(out)
        return out

    def expected_swerr(self) -> list[int]:
        codes = list(self.swerr_extra)
        for t in self.sb.items:
            if getattr(t, "swerr_counted", False) or t.state not in ("accepted", "completed"):
                continue
            if t.irq[0] == "pasid_error" and (t.cr_writes or not t.writes_cr):
                codes.append(regs.SWERR_IMS_PASID)
                t.swerr_counted = True
            elif t.no_cr_swerr:
                codes.append(regs.SWERR_NO_CR)
                t.swerr_counted = True
        return codes

    async def check_swerr(self, codes: list[int], what: str):
        e = await self.env.read_swerr()
        if not codes:
            assert not e.valid and not e.overflow, f"{what}: no software error expected, SWERR holds {e}"
            return
        assert e.valid and e.code in codes, (f"{what}: expected SWERR {[swerr_name(c) for c in set(codes)]}, "
                                             f"got {e}")
        assert e.overflow == (len(codes) > 1), f"{what}: {len(codes)} errors expected, SWERR {e}"
        await self.env.clear_swerr()
        self.counts["swerr_checked"] += len(codes)

    async def checkpoint(self, what: str):
        """Everything finished and accounted: records, data, interrupts (exactly once, right target),
        replays, software errors; then a fresh epoch."""
        sb, env = self.sb, self.env
        await sb.wait_complete()
        await self.markers(sorted(self.cfgs))
        await self.wait_until(lambda: not self.lost_interrupts() and not +self.replay,
                              lambda: f"interrupts lost: {', '.join(map(str, self.lost_interrupts()[:6]))}; "
                                      f"replays lost: {dict(+self.replay)}", 50_000)
        await self.plat.wait_all(50_000)
        await self.b.settle(600)           # nothing more may arrive (late duplicates)
        await sb.check()
        for t in sb.items:                 # the document gives one fault address: source + bytes completed
            if t.status in DMA_READ_FAILURES and t.record is not None:
                want = t.desc.src + t.record.bytes_completed
                assert t.record.fault_addr == want, f"{t}: fault address {t.record.fault_addr:#x}, expected {want:#x}"
                self.counts["dma_errors_checked"] += 1
        await self.check_swerr(self.expected_swerr(), what)
        self.swerr_extra.clear()
        for wq in self.cfgs:
            st = await env.wq_state(wq)
            assert st == (1, 0), f"{what}: WQ {wq} WQCFG6 (STATE, OCCUPANCY) = {st}, expected (enabled, 0)"
        self.plat.assert_clean()
        assert not self.errors, f"{len(self.errors)} stress error(s): " + " | ".join(self.errors[:5])
        self.counts["descriptors"] += sb.stats["descriptors_checked"] - sb.stats.get("descriptors_retried", 0)
        self.counts["checkpoints"] += 1
        self.log.info("stress checkpoint %s: %s", what, sb.report())
        self.new_epoch()

    # ---- counts ---------------------------------------------------------------------------------------
    def summary(self) -> dict:
        rep = self.plat.report()
        lost = (len(self.lost_interrupts()) if self.sb else 0) + sum((+self.replay).values()) + rep["lost"]
        out = {
            "seed": self.b.seed, "cocotb_seed": os.environ.get("COCOTB_RANDOM_SEED"), "config": self.b.params.name, "platform": self.plat.name, "pauses": self.pauses,
            # every descriptor checked, minus ENQCMD attempts answered RRS and submitted again (retries)
            "descriptors": self.counts["descriptors"] + (self.sb.stats["descriptors_checked"]
                                                         - self.sb.stats.get("descriptors_retried", 0) if self.sb else 0),
            "interrupts": self.counts["interrupts"],
            "lost": lost,
            "duplicated": max(len(self.dups), rep["duplicate"]),
            "misrouted": rep["misrouted"],
            "spurious": max(len(self.unknown), rep["spurious"]),
            "events": dict(self.events),
            "counts": dict(self.counts),
            "scoreboard": dict(self.epoch_totals + (self.sb.stats if self.sb else Counter())),
            "platform_scoreboard": rep,
            "sim_time_ns": get_sim_time("ns"),
            "cpu_s": round(time.process_time(), 2),      # the simulator process: Verilator + Python
        }
        return out

    def write_summary(self, passed: bool, message: str = ""):
        s = self.summary()
        s.update(passed=passed, message=message[:500])
        path = Path(os.environ.get("IMSDEV_STRESS_COUNTS", Path.cwd() / COUNTS_FILE))
        try:
            path.write_text(json.dumps(s, indent=1, sort_keys=True))
        except OSError as exc:
            self.log.warning("stress: could not write %s: %s", path, exc)
        self.log.info("stress summary: %s", json.dumps({k: s[k] for k in ("descriptors", "interrupts", "lost",
                                                                         "duplicated", "misrouted", "spurious")}))
        return s


def _seeded_choice() -> str:
    """Pause mode from the test's seed (before the bench exists: same derivation as Bench's rng)."""
    import random
    return random.Random(cocotb.RANDOM_SEED ^ 0x5EED).choice(PAUSE_MODES)
