"""Direct delivery of memory TLPs and completions between the link shim and the root complex's core.

cocotbext-pcie moves every TLP between a device and its RootComplex over a simulated link: about six port
hops per TLP, each with a serialisation Timer, a link-delay Timer, a new Task, sequence numbers and ACK/FC
DLLPs, and a switch's routing and arbitration tasks. That pacing models no part of the device under test,
and it was most of the bench's CPU per TLP (../shared/reference/toolchain.md "Where the bench's time goes").

`DirectLink` hands memory requests (MRd, MWr, DMWr), completions and configuration requests (Type 1, as the
RC core sends them) straight from the shim's device container to `RootComplex.downstream_recv` (upstream)
and from `RootComplex.downstream_send` to the device container's `upstream_recv` (downstream): no DLLP, no
Timer, no task per hop. The rest of cocotbext-pcie stays as it is: enumeration, host memory, tag
allocation and the RC's memory, configuration and completion handlers. What goes direct is decided by the
bridges' own routing rules (`match_tlp`, `match_tlp_secondary` of the host bridge and the root port), so a
TLP goes direct only where the package would have delivered it to the same place; everything else
(messages, a TLP another root port or a bridge itself would take) keeps the simulated link. A Type 1
configuration request for the root port's secondary bus becomes Type 0 on the way, as the root port makes
it (bridge.py `upstream_recv`).

Checks kept: `Tlp.check()` on each side (the sender's device or RC core, and the receiver's), the bridges'
poisoned-TLP status bits the routing would have set, and everything the shim, the streams, the ordering
checker and the RC already check (they sit outside this path).

Ordering: each direction is one FIFO. A TLP handed over while an earlier one of the same direction is
still being delivered (its handler awaits) is queued and delivered after it by the task delivering the
earlier one, so no TLP overtakes another in the same direction (PCIe: a completion never passes a posted
write, a configuration write never passes an earlier posted write, and the bench never reorders what the
device sent). A TLP that keeps the simulated link waits until the direct FIFO of its direction is empty,
so a direct TLP handed over before it is delivered first. The simulated link delivers a TLP some tens of ns
later than the direct path, so a direct TLP handed over *after* a slow one may arrive before it; only
messages and misrouted TLPs take the slow path (PCIe lets posted writes pass completions, and completions
of other transactions pass a completion). A configuration write's completion goes direct one simulator time
step after the write, so the write's effect on the device's cfg_* inputs is on the RTL's inputs before
software sees the write complete, as over the simulated link (ShimDevice).

Each delivered TLP is a copy (`_copy`: what `PasidTlp(tlp)` makes, as each port hop of the package made
one): sender and receiver never share a mutable object.
"""
from __future__ import annotations

import os
from collections import Counter, deque

from cocotb.triggers import NullTrigger
from cocotbext.pcie.core.tlp import TlpType
from cocotbext.pcie.core.utils import PcieId

from .tlp import _FMT_TYPES, _PLAIN_FMT_TYPES, PasidTlp, fmt_type_of

_MEM_REQUESTS = frozenset({TlpType.MEM_READ, TlpType.MEM_READ_64, TlpType.MEM_WRITE, TlpType.MEM_WRITE_64})
_COMPLETIONS = frozenset({TlpType.CPL, TlpType.CPL_DATA, TlpType.CPL_LOCKED, TlpType.CPL_LOCKED_DATA})
_CARRIED = _MEM_REQUESTS | _COMPLETIONS
_CFG1 = frozenset({TlpType.CFG_READ_1, TlpType.CFG_WRITE_1})
_CFG1_TO_0 = {TlpType.CFG_READ_1: TlpType.CFG_READ_0, TlpType.CFG_WRITE_1: TlpType.CFG_WRITE_0}
_ROOT_ID = PcieId(0, 0, 0)
CHECK_ROUTING = os.environ.get("IMSDEV_DIRECT_CHECK", "0") not in ("", "0")


# _carried by (Fmt, Type) code, for a PasidTlp (a DMWr's code as its memory write's) and for the package's
# own Tlp: a dictionary of codes instead of hashing the TlpType (a Python call) against two sets.
_CARRIED_PASID = {code: t in _COMPLETIONS for code, t in _FMT_TYPES.items() if t in _CARRIED}
_CARRIED_PLAIN = {code: t in _COMPLETIONS for code, t in _PLAIN_FMT_TYPES.items() if t in _CARRIED}
_CFG1_CODES = frozenset(t.value for t in _CFG1)


def _carried(tlp) -> bool | None:
    """None: not carried by the direct link; else whether it is a completion (else a memory request)."""
    code = (tlp.fmt, tlp.type)
    out = (_CARRIED_PASID if isinstance(tlp, PasidTlp) else _CARRIED_PLAIN).get(code)
    if out is None:
        fmt_type_of(tlp)        # an unknown code raises the Enum's error, as fmt_type did
    return out


def _is_cfg1(tlp) -> bool:
    """fmt_type_of(tlp) in _CFG1, by code (configuration codes are the same for both classes)."""
    return (tlp.fmt, tlp.type) in _CFG1_CODES


def _copy(tlp):
    """What each port hop of cocotbext-pcie made (`Tlp(pkt)`, hooks.py: a PasidTlp), without its property
    setters: every field, the payload in a new buffer, no flow-control callback or ingress port."""
    new = object.__new__(PasidTlp)
    d = new.__dict__
    d.update(tlp.__dict__)
    if not isinstance(tlp, PasidTlp):     # a plain Tlp (the package's RC builds its completions so)
        d["_pasid"], d["_pmr"], d["_er"] = None, False, False
        d["msg_code"], d["msg_b8_11"], d["msg_b12_15"] = 0, 0, 0
    new.data = bytearray(tlp.data)
    new.release_fc_cb = None
    new.ingress_port = None
    return new


def _claims(bridge, tlp, cpl: bool) -> bool:
    """Function.match_tlp for a memory request or a completion: the bridge function itself is the target."""
    if cpl:
        return bridge.pcie_id == tlp.requester_id
    return bool(bridge.match_bar(tlp.address))


def _below(bridge, tlp, cpl: bool) -> bool:
    """Bridge.match_tlp_secondary for a memory request or a completion: routed to the secondary side."""
    if cpl:
        rid = tlp.requester_id
        return bridge.sec_bus_num <= rid.bus <= bridge.sub_bus_num and rid != _ROOT_ID
    a = tlp.address
    return (bridge.mem_base <= a <= bridge.mem_limit
            or bridge.prefetchable_mem_base <= a <= bridge.prefetchable_mem_limit)


class _Fifo:
    """One direction: hands TLPs on in order, in the caller's task (no task of its own)."""
    __slots__ = ("queue", "busy")

    def __init__(self):
        self.queue: deque = deque()
        self.busy = False

    async def put(self, deliver, tlp) -> None:
        self.queue.append((deliver, tlp))
        if self.busy:
            return          # the task handing on the earlier TLP hands on this one after it
        self.busy = True
        try:
            while self.queue:
                deliver, tlp = self.queue.popleft()
                await deliver(tlp)
        finally:
            self.busy = False


class DirectLink:
    """Direct delivery between a device container (tb.pcie.shim.ShimDevice) on a root port of `rc`."""

    def __init__(self, rc, root_port, device):
        self.rc = rc
        self.root_port = root_port
        self.device = device
        self.stats: Counter = Counter()
        self.up = _Fifo()
        self.down = _Fifo()

    @property
    def downstream_idle(self) -> bool:
        """No TLP handed over downstream is still waiting or being delivered."""
        return not self.down.busy and not self.down.queue

    # ---- routing: where cocotbext-pcie's bridges and switch would send the TLP ---------------------
    # The bridges' own functions (Function.match_tlp, Bridge.match_tlp_secondary) build sets of enums on
    # every call, a large part of a TLP's CPU. `_claims`/`_below` compute the same for the two kinds of TLP
    # carried here (cocotbext-pcie 0.2.16, pinned by tb/pcie/hooks.py); IMSDEV_DIRECT_CHECK=1 compares them
    # with the package's functions on every TLP.
    def goes_up_direct(self, tlp) -> bool:
        """A TLP from the device that the root port and switch would hand to the RC core."""
        cpl = _carried(tlp)
        if cpl is None:
            return False
        rp, hb = self.root_port, self.rc.upstream_bridge
        if _claims(rp, tlp, cpl) or _below(rp, tlp, cpl):
            out = False       # for the root port itself, or back down its own link
        else:
            # The root port's first switch neighbour is the host bridge's port (cocotbext-pcie's Switch order).
            out = _claims(hb, tlp, cpl) or not _below(hb, tlp, cpl)
        if CHECK_ROUTING and out != self._goes_up_package(tlp):
            raise AssertionError(f"direct link: upstream routing of {tlp!r} differs from cocotbext-pcie's")
        return out

    def goes_down_direct(self, tlp) -> bool:
        """A TLP from the RC core that the host bridge and switch would hand to this device's root port."""
        cpl = _carried(tlp)
        if cpl is None:
            if _is_cfg1(tlp):
                out = self._cfg1_goes_down(tlp)
                if CHECK_ROUTING and out != self._goes_down_package(tlp):
                    raise AssertionError(f"direct link: downstream routing of {tlp!r} differs from cocotbext-pcie's")
                return out
            return False
        hb = self.rc.upstream_bridge
        out = False
        if not _claims(hb, tlp, cpl) and _below(hb, tlp, cpl):
            for port in self.rc.switch_ports:
                if port.upstream:
                    continue
                bridge = port.bridge
                if _claims(bridge, tlp, cpl):
                    break
                if _below(bridge, tlp, cpl):
                    out = bridge is self.root_port
                    break
        if CHECK_ROUTING and out != self._goes_down_package(tlp):
            raise AssertionError(f"direct link: downstream routing of {tlp!r} differs from cocotbext-pcie's")
        return out

    def _cfg1_goes_down(self, tlp) -> bool:
        """Bridge.match_tlp_secondary for a Type 1 configuration request (Function.match_tlp never claims
        one): below the host bridge but not for its own secondary bus (the host bridge would make it Type 0
        there), then the first downstream switch port whose bus range holds the target bus."""
        cid = tlp.completer_id
        if cid == _ROOT_ID:
            return False
        hb = self.rc.upstream_bridge
        if not hb.sec_bus_num <= cid.bus <= hb.sub_bus_num or cid.bus == hb.sec_bus_num:
            return False
        for port in self.rc.switch_ports:
            if port.upstream:
                continue
            bridge = port.bridge
            if bridge.sec_bus_num <= cid.bus <= bridge.sub_bus_num:
                return bridge is self.root_port
        return False

    def _goes_up_package(self, tlp) -> bool:
        """goes_up_direct with the package's own routing functions (the self-check's reference)."""
        if tlp.fmt_type not in _CARRIED:
            return False
        rp, hb = self.root_port, self.rc.upstream_bridge
        if rp.match_tlp(tlp) or rp.match_tlp_secondary(tlp):
            return False
        return hb.match_tlp(tlp) or not hb.match_tlp_secondary(tlp)

    def _goes_down_package(self, tlp) -> bool:
        if tlp.fmt_type not in _CARRIED and tlp.fmt_type not in _CFG1:
            return False
        hb = self.rc.upstream_bridge
        if hb.match_tlp(tlp) or not hb.match_tlp_secondary(tlp):
            return False
        if tlp.fmt_type in _CFG1 and tlp.completer_id.bus == hb.sec_bus_num:
            return False        # the host bridge hands it on as Type 0 on its own secondary bus
        for port in self.rc.switch_ports:
            if port.upstream:
                continue
            if port.bridge.match_tlp(tlp):
                return False
            if port.bridge.match_tlp_secondary(tlp):
                return port.bridge is self.root_port
        return False

    def function_for(self, tlp):
        """For a memory request or completion reaching the device: the first of its functions that claims
        it (Device.upstream_recv's loop over Function.match_tlp), or None when none does or the TLP is
        of another kind (the package's own path then handles it)."""
        cpl = _carried(tlp)
        if cpl is None:
            return None
        out = None
        for f in self.device.functions:
            if _claims(f, tlp, cpl):
                out = f
                break
        if CHECK_ROUTING and out is not next((f for f in self.device.functions if f.match_tlp(tlp)), None):
            raise AssertionError(f"direct link: the function claiming {tlp!r} differs from cocotbext-pcie's")
        return out

    # ---- delivery ----------------------------------------------------------------------------------
    async def send_up(self, tlp) -> None:
        """From the device: direct if the package would hand it to the RC core, else onto the simulated link
        (after every TLP handed over before it)."""
        if self.goes_up_direct(tlp):
            self.stats["up"] += 1
            await self.up.put(self._deliver_up, tlp)
        else:
            self.stats["up_link"] += 1
            await self.up.put(self.device.upstream_port.send, tlp)

    async def send_down(self, tlp, link_send, direct: bool | None = None) -> None:
        """From the RC core: direct if the package would hand it to this device (`direct`, when the caller
        has decided already), else `link_send` (the package's own path), after every TLP handed over before
        it."""
        if self.goes_down_direct(tlp) if direct is None else direct:
            self.stats["down"] += 1
            if _is_cfg1(tlp):
                # Software's posted MMIO writes issued just before (Bench.wr32_nowait starts each as a task)
                # reached the link first while configuration requests crossed the simulated link; a
                # configuration request yields once, so every task already started hands its TLP over first
                # (PCIe: a configuration write must not pass posted writes issued before it).
                await NullTrigger()
            await self.down.put(self._deliver_down, tlp)
        else:
            self.stats["down_link"] += 1
            await self.down.put(link_send, tlp)

    def _poisoned(self) -> None:
        # The status bits cocotbext-pcie's bridges set for a poisoned TLP they route (bridge.py
        # upstream_recv/upstream_send on the primary side, downstream_recv/downstream_send on the secondary).
        for bridge in (self.root_port, self.rc.upstream_bridge):
            if bridge.parity_error_response_enable:
                bridge.master_data_parity_error = True
            if bridge.bridge_parity_error_response_enable:
                bridge.sec_master_data_parity_error = True

    async def _deliver_up(self, tlp) -> None:
        if tlp.ep:
            self._poisoned()
        await self.rc.downstream_recv(_copy(tlp))

    async def _deliver_down(self, tlp) -> None:
        if tlp.ep:
            self._poisoned()
        tlp = _copy(tlp)
        if _is_cfg1(tlp) and tlp.completer_id.bus == self.root_port.sec_bus_num:
            tlp.fmt_type = _CFG1_TO_0[fmt_type_of(tlp)]     # the root port's Type 1 -> Type 0 conversion
        await self.device.upstream_recv(tlp)
