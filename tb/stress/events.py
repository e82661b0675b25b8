"""Control events of the stress test, drawn at random times while the submitters run.

Each event either leaves the device as it found it (enabled WQs, unmasked entries) before it releases the
WQ locks, or (mask cycles) runs as its own task that the epoch waits for. Exact outcomes:
* drain/disable: every descriptor accepted before the command has its record (awaited, with a timeout);
* abort/reset (WQ, all, device) under load: CMDSTS.RESULT equals the number of descriptors that never
  complete, and those are the youngest of each WQ (a marker per WQ tells when the others are done);
* FLR under load: nothing upstream after it, every unfinished descriptor dropped, full re-bring-up;
* mask/unmask (MSI-X and IMS, with an address/data rewrite under mask), MSI-X Function Mask: see
  tb/stress/harness.py;
* bus master off: a completion interrupt pends (PENDING reads 1, nothing sent) and is sent exactly once
  when bus mastering returns;
* PASID capability off: ENQCMD answered UR with SWERR PORTAL_PASID_OFF; on again afterwards.
"""
from __future__ import annotations

import os

import cocotb
from cocotb.utils import get_sim_time

from imsdev import regs
from tb.pcie.tlp import CplStatus
from tb.wq import FLAG_RCI, GUARD, OP_NOOP, WQ_STATE_DISABLED, err_name, ims_handle, msix_handle

from .harness import FLR_IRQ_GRACE_NS, Stress
from .traffic import entry_of

PCI_COMMAND = 0x04
PCI_COMMAND_MASTER = 0x4

STORM_WEIGHTS = {
    "affinity": 5, "burst": 3, "mask_ims": 3, "mask_msix": 2, "drain_wq": 1, "drain_all": 0.7,
    "disable_wq": 1, "abort_wq": 1.5, "reset_wq": 1, "abort_all": 0.8, "reset_device": 0.5, "flr": 0.6,
    "pasid_off": 0.4, "bus_master": 0.6, "msix_fnmask": 0.8,
}
CALM_WEIGHTS = {"affinity": 5, "burst": 3, "mask_ims": 3, "mask_msix": 2, "drain_wq": 1, "drain_all": 0.5,
                "disable_wq": 1, "msix_fnmask": 0.8}
MAX_MASK_TASKS = 3
GONE = ("rejected", "dropped", "aborted", "retried")     # a descriptor still "submitted" (ENQCMD in flight) is not gone


def st_debug(st) -> bool:
    return st.debug


class Chaos:
    def __init__(self, st: Stress, storm: bool):
        self.st = st
        self.env = st.env
        self.r = st.rng
        self.weights = STORM_WEIGHTS if storm else CALM_WEIGHTS
        if os.environ.get("IMSDEV_STRESS_FLR", "1") in ("", "0"):
            self.weights = {n: w for n, w in self.weights.items() if n != "flr"}    # IMSDEV_STRESS_FLR=0: no FLR
        only = os.environ.get("IMSDEV_STRESS_EVENTS")      # e.g. "flr,burst": only these (debugging, replays)
        if only:
            keep = {n.strip() for n in only.split(",")}
            self.weights = {n: w for n, w in STORM_WEIGHTS.items() if n in keep} or {"affinity": 1}
        self.stop = False
        self.one_device_event = False       # at most one FLR / device reset per epoch (keeps epochs useful)

    async def run(self):
        r = self.r
        names, weights = zip(*self.weights.items())
        while not self.stop:
            await self.st.b.cycles(r.randint(40, 700))      # spacing between events
            if self.stop:
                break
            name = r.choices(names, weights)[0]
            if name in ("flr", "reset_device"):
                if self.one_device_event:
                    continue
                self.one_device_event = True
            if st_debug(self.st):
                self.st.log.info("stress dbg: event %s", name)
            if await getattr(self, "ev_" + name)() is not False:
                self.st.events[name] += 1

    async def wait_masks(self):
        tasks, self.st.mask_tasks = self.st.mask_tasks, []
        for t in tasks:
            await t

    # ---- locks --------------------------------------------------------------------------------------
    async def lock(self, wqs):
        for wq in sorted(wqs):
            await self.st.locks[wq].acquire()

    def unlock(self, wqs):
        for wq in sorted(wqs):
            self.st.locks[wq].release()

    def queued(self, wqs) -> dict:
        """Accepted descriptors of each WQ that have no record yet (queued or executing), oldest first. A
        batch is one descriptor here (its members are never in the queue: the engine reads them from the
        list after it has taken the batch, and a batch's record comes after all of its members')."""
        return {wq: [t for t in self.st.sb.items if t.wq == wq and t.state == "accepted" and t.writes_cr
                     and not t.cr_writes and t.batch is None] for wq in wqs}

    # ---- cheap events -------------------------------------------------------------------------------
    async def ev_affinity(self):
        plat = self.st.plat
        irq = self.r.choice(self.st.all_irqs)
        plat.set_affinity(irq, self.r.randrange(plat.cpu_count))

    async def ev_burst(self):
        """Backpressure/idle burst: the chosen streams (all four half the time) stop for up to 2000 cycles."""
        names = list(self.st.gates)
        if self.r.random() >= 0.5:
            names = self.r.sample(names, self.r.randint(1, 3))
        n = self.r.randint(64, 2000)
        for s in names:
            self.st.gates[s].hold()
        await self.st.b.cycles(n)
        for s in names:
            self.st.gates[s].release()
        self.st.counts["burst_cycles"] += n

    # ---- mask / unmask ------------------------------------------------------------------------------
    async def ev_mask_ims(self):
        return self._spawn_mask([("ims", w, i) for (w, i) in self.st.ims_entries])

    async def ev_mask_msix(self):
        return self._spawn_mask([("msix", v) for v in self.st.msix_vectors])

    def _spawn_mask(self, candidates):
        st = self.st
        st.mask_tasks = [t for t in st.mask_tasks if not t.done()]
        free = [e for e in candidates if e not in st.busy and e not in st.masked]
        if st.no_masks or len(st.mask_tasks) >= MAX_MASK_TASKS or not free:
            return False
        st.mask_tasks.append(cocotb.start_soon(self.mask_cycle(self.r.choice(free))))

    async def _set_mask(self, entry, masked: bool):
        env = self.env
        if entry[0] == "msix":
            await env.msix_set_mask(entry[1], masked)
        else:
            e = env.ims_shadow[(entry[1], entry[2])]
            await env.ims_write_ctrl(entry[1], entry[2], masked, e.pasid_en, e.pasid)
            await env.b.rd32(env.ims_entry(entry[1], entry[2]) + regs.IMS_ENTRY_CTRL)    # flush

    async def _pending(self, entry) -> bool:
        if entry[0] == "msix":
            return await self.env.b.msix.pending(entry[1])
        return await self.env.ims_pending(entry[1], entry[2])

    async def _rewrite(self, entry):
        """Rewrite a masked entry's address/data to a spare interrupt (Linux's order: masked, lo, hi, data, flush)."""
        st, env = self.st, self.env
        new = st.spares.pop(self.r.randrange(len(st.spares)))
        old = st.entry_irq[entry]
        if entry[0] == "msix":
            base, shadow = env.b.msix.entry(entry[1]), env.msix_shadow[entry[1]]
            offs = (regs.MSIX_TABLE_ADDR_LO, regs.MSIX_TABLE_ADDR_HI, regs.MSIX_TABLE_DATA)
        else:
            base, shadow = env.ims_entry(entry[1], entry[2]), env.ims_shadow[(entry[1], entry[2])]
            offs = (regs.IMS_ENTRY_ADDR_LO, regs.IMS_ENTRY_ADDR_HI, regs.IMS_ENTRY_DATA)
        for off, val in zip(offs, (new.msg.address_lo, new.msg.address_hi, new.msg.data)):
            await env.b.wr32(base + off, val)
        await env.b.rd32(base + offs[2])
        shadow.addr, shadow.data = new.msg.address, new.msg.data
        st.entry_irq[entry] = new
        st.spares.append(old)
        st.counts["rewrites_under_mask"] += 1
        if st.debug:
            st.log.info("stress dbg: rewrite %s: %#x/%#x -> %#x/%#x", entry, old.msg.address, old.msg.data,
                        new.msg.address, new.msg.data)

    async def mask_cycle(self, entry):
        st = self.st
        users = lambda: [t for t in st.sb.items if entry_of(t) == entry]   # noqa: E731
        st.busy.add(entry)
        # Every user predicted to send has sent (or was discarded): only then mask.
        # ... and a replay predicted at an earlier unmask (or Function Mask clear) has arrived.
        await st.wait_until(lambda: all(t.irq[0] != "msg" or t.irq_seen or t.state in GONE for t in users())
                            and not st.replay[st.entry_key(entry)],
                            lambda: f"{entry}: users/replay still due to send before mask")
        await self._set_mask(entry, True)
        if st.debug:
            st.log.info("stress dbg: masked %s (users %s)", entry, [(t.n, t.irq[0], t.irq_seen) for t in users()])
        st.masked.add(entry)
        st.busy.discard(entry)
        hold = self.r.randint(200, 4000)
        for _ in range(hold // 50):
            if self.stop:
                break
            await st.b.cycles(50)
        if self.r.random() < 0.4 and st.spares:
            await self._rewrite(entry)
        st.busy.add(entry)
        # Every user predicted to pend has completed (or was discarded): then PENDING says exactly whether.
        await st.wait_until(lambda: all(t.irq[0] != "pending" or t.cr_writes or t.state in GONE for t in users()),
                            lambda: f"{entry}: users still running before unmask")
        pend = [t for t in users() if t.irq[0] == "pending" and t.state not in GONE
                and not getattr(t, "replay_counted", False)]
        deadline = get_sim_time("ns") + 20_000
        while pend and not await self._pending(entry):
            assert get_sim_time("ns") < deadline, f"{entry}: {len(pend)} completion(s) while masked, PENDING never set"
            await st.b.cycles(16)
        if not pend:
            assert not await self._pending(entry), f"{entry}: PENDING set, but no completion used it while masked"
        if st.debug:
            st.log.info("stress dbg: unmask %s pend %s (users %s)", entry, [t.n for t in pend],
                        [(t.n, t.irq[0], t.irq_seen, t.state) for t in users()])
        if pend:                            # predicted before the unmask: the replay may beat its return
            st.replay[st.entry_key(entry)] += 1
            for t in pend:
                t.replay_counted = True
            st.counts["coalesced_while_masked"] += len(pend)
        await self._set_mask(entry, False)
        st.masked.discard(entry)
        st.busy.discard(entry)
        st.events["unmask"] += 1

    async def ev_msix_fnmask(self):
        """MSI-X Function Mask under traffic: every vector pends while it is set; clearing it sends one
        message per vector that had completions meanwhile (PBA read first), none for the others."""
        st = self.st
        entries = [("msix", v) for v in st.msix_vectors]
        st.mask_tasks = [t for t in st.mask_tasks if not t.done()]
        if st.no_masks or len(st.mask_tasks) >= MAX_MASK_TASKS or any(e in st.busy or e in st.masked for e in entries):
            return False
        st.busy.update(entries)
        st.mask_tasks.append(cocotb.start_soon(self.fnmask_cycle(entries)))

    async def fnmask_cycle(self, entries):
        st, env, b = self.st, self.env, self.st.b
        vecs = [e[1] for e in entries]
        users = lambda: [t for t in st.sb.items if entry_of(t) in entries]   # noqa: E731
        try:
            await st.wait_until(lambda: all(t.irq[0] != "msg" or t.irq_seen or t.state in GONE for t in users())
                                and not any(st.replay[st.entry_key(e)] for e in entries),
                                lambda: "MSI-X users/replays still due to send before Function Mask: "
                                f"users {[(str(t), t.irq, t.irq_seen, t.state) for t in users() if t.irq[0] == 'msg' and not t.irq_seen and t.state not in GONE]}, "
                                f"replays {[(e, st.replay[st.entry_key(e)]) for e in entries if st.replay[st.entry_key(e)]]}")
            await b.msix_enable(True, fn_mask=True)
            for v in vecs:
                env.msix_shadow[v].masked = True      # what the completions predict from now on: pending
            st.masked.update(entries)
            st.busy.difference_update(entries)
            for _ in range(self.r.randint(200, 4000) // 50):
                if self.stop:
                    break
                await b.cycles(50)
            st.busy.update(entries)
            await st.wait_until(lambda: all(t.irq[0] != "pending" or t.cr_writes or t.state in GONE for t in users()),
                                "MSI-X users still running before Function Mask is cleared")
            pend = {v: [t for t in users() if entry_of(t) == ("msix", v) and t.irq[0] == "pending"
                        and t.state not in GONE and not getattr(t, "replay_counted", False)] for v in vecs}
            for v in vecs:
                deadline = get_sim_time("ns") + 20_000
                while pend[v] and not await b.msix.pending(v):
                    assert get_sim_time("ns") < deadline, f"Function Mask: vector {v} used, PBA bit never set"
                    await b.cycles(16)
                if not pend[v]:
                    assert not await b.msix.pending(v), f"Function Mask: vector {v} pending without a completion"
                else:
                    st.replay[st.entry_key(("msix", v))] += 1
                    for t in pend[v]:
                        t.replay_counted = True
            await b.msix_enable(True, fn_mask=False)
            for v in vecs:
                env.msix_shadow[v].masked = False
            st.masked.difference_update(entries)
            st.counts["fnmask_replays"] += sum(1 for v in vecs if pend[v])
            st.events["fnmask_clear"] += 1
        finally:
            st.busy.difference_update(entries)

    # ---- commands -----------------------------------------------------------------------------------
    async def ev_drain_wq(self):
        return await self._drain([self.r.choice(sorted(self.st.cfgs))], regs.CMD_DRAIN_WQ)

    async def ev_drain_all(self):
        return await self._drain(sorted(self.st.cfgs), regs.CMD_DRAIN_ALL)

    async def ev_disable_wq(self):
        return await self._drain([self.r.choice(sorted(self.st.cfgs))], regs.CMD_DISABLE_WQ)

    async def _drain(self, wqs, cmd):
        env, st = self.env, self.st
        await self.lock(wqs)
        try:
            if any(st.cfgs[w].dedicated for w in wqs):
                await env.b.cycles(64)          # a posted MOVDIR64B still on its way to the portal
            before = [t for ts in self.queued(wqs).values() for t in ts]
            await env.cmd_ok(cmd, wqs[0] if cmd != regs.CMD_DRAIN_ALL else 0)
            # Records travel on tx_req, CMDSTS on tx_cpl: allow the records a short, bounded time.
            await st.sb.wait_complete(before, timeout_ns=3_000)
            if cmd == regs.CMD_DISABLE_WQ:
                state = await env.wq_state(wqs[0])
                assert state == (WQ_STATE_DISABLED, 0), f"after DISABLE_WQ {wqs[0]}: WQCFG6 {state}"
                await env.enable_wq(wqs[0])
            st.counts["drained_descriptors"] += len(before)
        finally:
            self.unlock(wqs)

    async def ev_abort_wq(self):
        return await self._discard(regs.CMD_ABORT_WQ, [self.r.choice(sorted(self.st.cfgs))])

    async def ev_reset_wq(self):
        return await self._discard(regs.CMD_RESET_WQ, [self.r.choice(sorted(self.st.cfgs))])

    async def ev_abort_all(self):
        return await self._discard(regs.CMD_ABORT_ALL, sorted(self.st.cfgs))

    async def ev_reset_device(self):
        return await self._discard(regs.CMD_RESET_DEVICE, sorted(self.st.cfgs))

    async def _discard(self, cmd, wqs):
        env, st = self.env, self.st
        await self.lock(wqs)
        try:
            if any(st.cfgs[w].dedicated for w in wqs):
                await env.b.cycles(64)
            before = self.queued(wqs)
            if st.debug:
                st.log.info("stress dbg: cmd %#x on %s, queued %s", cmd, wqs, {w: [t.n for t in v] for w, v in before.items()})
            res = await env.cmd(cmd, wqs[0] if len(wqs) == 1 else 0)
            if st.debug:
                st.log.info("stress dbg: cmd %#x done: %s", cmd, res)
            assert res.err == regs.CMD_ERR_OK, f"cmd {cmd:#x}: CMDSTS.ERR {err_name(res.err)}"
            if cmd == regs.CMD_RESET_WQ:
                state = await env.wq_state(wqs[0])
                assert state[0] == WQ_STATE_DISABLED, f"after RESET_WQ {wqs[0]}: WQCFG6 {state}"
                await env.enable_wq(wqs[0])
            elif cmd == regs.CMD_RESET_DEVICE:
                assert not await env.device_enabled(), "RESET_DEVICE left the device enabled"
                for wq in wqs:
                    state = await env.wq_state(wq)
                    assert state[0] == WQ_STATE_DISABLED, f"after RESET_DEVICE: WQ {wq} WQCFG6 {state}"
                await env.setup(st.cfgs)
            await st.markers(wqs)
            discarded = []
            for wq, items in before.items():
                left = [t for t in items if not t.cr_writes]
                if left:
                    first = items.index(left[0])
                    done_after = [t for t in items[first:] if t.cr_writes]
                    assert not done_after, (f"cmd {cmd:#x} WQ {wq}: discarded {left[0]} but the younger "
                                            f"{done_after[0]} completed (abort must discard the youngest)")
                discarded += left
            assert res.result == len(discarded), (f"cmd {cmd:#x} on WQs {wqs}: CMDSTS.RESULT {res.result}, but "
                                                  f"{len(discarded)} descriptors never completed")
            # a discarded batch was never taken by the engine: none of its members ran
            st.sb.mark_aborted(discarded + [m for t in discarded for m in t.members])
            st.counts["aborted_descriptors"] += len(discarded)
        finally:
            self.unlock(wqs)

    # ---- FLR ----------------------------------------------------------------------------------------
    async def ev_flr(self):
        env, st, b = self.env, self.st, self.st.b
        wqs = sorted(st.cfgs)
        await self.lock(wqs)
        try:
            st.no_masks = True
            self.stop_masks = True
            await self.wait_masks()
            n_before = len(b.shim.tx_req_log)
            flr0 = b.shim.flr_count
            task = cocotb.start_soon(b.function_level_reset())
            while b.shim.flr_count == flr0:
                await b.cycles(1)
            t_flr = get_sim_time("ns")
            await task
            await b.settle(2000)           # nothing may come out of the device after an FLR
            # A TLP started before the FLR is finished after it; nothing may start after it.
            after = [r for r in b.shim.tx_req_log[n_before:] if r.start_ns >= t_flr]
            assert not after, f"{len(after)} upstream request(s) after FLR, first: {after[0]}"
            unfinished = [t for t in st.sb.items if t.state == "accepted" and t.writes_cr and not t.cr_writes]
            mem = b.rc.host_memory
            for t in unfinished:
                if t.dst_writes and "dst" in t.before:
                    # It was executing: part of its destination went out before the FLR. From now on nothing
                    # of it may change (the check compares against this snapshot).
                    d = t.desc
                    t.before["dst"] = mem.read(d.dst - GUARD, d.size + 2 * GUARD)
                    t.dst_writes = 0
                    st.counts["flr_cut_executing"] += 1
            st.sb.mark_aborted(unfinished)
            st.counts["flr_discarded"] += len(unfinished)
            for t in st.sb.items:
                if t.irq[0] == "msg" and t.cr_writes and not t.irq_seen and t.state in ("accepted", "completed"):
                    late = t.cr_writes[0][1]
                    assert late >= t_flr - FLR_IRQ_GRACE_NS, \
                        f"{t}: record at {late} ns, interrupt still missing at the FLR ({t_flr} ns)"
                    t.irq = ("none", None)
                    st.counts["flr_cut_interrupts"] += 1
                if t.irq[0] in ("pasid_error",) or t.no_cr_swerr:
                    t.swerr_counted = True           # FLR clears SWERR
            st.counts["flr_cut_replays"] += sum((+st.replay).values())
            st.replay.clear()
            st.swerr_extra.clear()
            env.after_flr()
            await st.bring_up()
        finally:
            st.no_masks = False
            self.unlock(wqs)

    # ---- PASID capability off / on -----------------------------------------------------------------
    async def ev_pasid_off(self):
        env, st = self.env, self.st
        shared = [w for w, c in st.cfgs.items() if not c.dedicated]
        if not shared:
            return False
        wqs = sorted(st.cfgs)
        await self.lock(wqs)
        try:
            await st.sb.wait_complete()
            await st.markers(wqs)          # idle: no DMA may carry a PASID prefix while the capability is off
            await env.set_pasid_control(False)
            wq = self.r.choice(shared)
            t = await st.sb.submit(wq, env.new_desc(OP_NOOP), pasid=st.pasids[wq][0],
                                   expect_reject=CplStatus.UR)
            st.swerr_extra.append(regs.SWERR_PORTAL_PASID_OFF)
            await env.set_pasid_control(True, priv=True)
            st.counts["pasid_off_rejects"] += 1
            return t is not None
        finally:
            self.unlock(wqs)

    # ---- bus master off / on ------------------------------------------------------------------------
    async def ev_bus_master(self):
        """With bus mastering off, a NOOP that asks only for an interrupt completes without DMA; its interrupt
        must pend (nothing sent) and go out exactly once when bus mastering is back."""
        env, st, b = self.env, self.st, self.st.b
        wqs = sorted(st.cfgs)
        wq = self.r.choice(wqs)
        cfg = st.cfgs[wq]
        pasid = cfg.dma_pasid if cfg.dedicated else st.pasids[wq][0]
        entry = st.choose_entry(wq, pasid)
        if entry is None or entry in st.masked:
            return False
        st.busy.add(entry)
        await self.lock(wqs)
        try:
            await st.sb.wait_complete()
            await st.markers(wqs)          # idle: nothing else can send or need the bus meanwhile
            await st.wait_until(lambda: not st.lost_interrupts() and not +st.replay,
                                "interrupts/replays before bus master off", 50_000)
            cmd = await b.dev.config_read_word(PCI_COMMAND)
            await b.dev.config_write_word(PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER)
            d = env.new_desc(OP_NOOP, flags=FLAG_RCI, high=False)
            d.int_handle = ims_handle(entry[2]) if entry[0] == "ims" else msix_handle(entry[1])
            t = await st.sb.submit(wq, d, pasid=None if cfg.dedicated else pasid)
            assert t.irq[0] == "msg", f"{t}: {t.irq}"
            deadline = get_sim_time("ns") + 20_000
            while not await self._pending(entry):
                assert get_sim_time("ns") < deadline, f"bus master off: {t} completed, {entry} PENDING never set"
                await b.cycles(16)
            assert not t.irq_seen, f"{t}: interrupt sent while bus mastering was off"
            await b.dev.config_write_word(PCI_COMMAND, cmd)
            await st.wait_until(lambda: t.irq_seen == 1, f"{t}: interrupt not sent after bus master on", 20_000)
            st.counts["bus_master_replays"] += 1
        finally:
            st.busy.discard(entry)
            self.unlock(wqs)
