"""The root complex's own switch without its tasks, for the TLPs that stay inside the root complex.

cocotbext-pcie's RootComplex is a Switch: the host bridge and each root port sit on switch ports, and every
TLP between them goes through an ingress queue, a routing task per port, a queue per port pair and an
arbitration task per port (core/switch.py). Two kinds of TLP only ever cross that switch, never a link:

* Type 0 configuration requests from the host bridge to its own secondary bus (bus 0): enumeration's
  Vendor ID probe of every device number there (one root port exists; the other 30 or 31 are answered UR
  by the switch) and the configuration of the root port itself (bus numbers, windows, command);
* the completions a root port's own function sends for them.

They were about a third of a test's set-up CPU (py-spy: 77 requests and their completions per
enumeration, each waking two tasks on each side). `shortcut(rc)` routes these two kinds in the sender's task,
with the package's own routing rules (the same loop as `Switch._run_routing`, over the same ports in the same
order, with the bridges' own `match_tlp` / `match_tlp_secondary`), and hands each to the port's `tx_handler`
at once instead of through the per-pair queue and the arbitration task. A TLP no port claims gets the same
UR completion from the ingress port's bridge, with the same warning. Everything else (memory requests that
do not go direct, messages, anything from a device below a root port) keeps the package's tasks.

Ordering: the RC core sends these requests from inside the direct link's downstream FIFO (tb/pcie/direct.py,
the path a TLP not carried direct takes), so they still follow every TLP handed over before them. A root
port's completion is for a request of the RC core; no other TLP shares that source, and the switch does not
order TLPs of different ingress ports.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import io
import tokenize

from cocotbext.pcie.core.switch import Switch
from cocotbext.pcie.core.tlp import TlpType

from .tlp import PasidTlp

# `Switch._run_routing` of cocotbext-pcie 0.2.16, whose loop and unclaimed-TLP answers `_route_now` and the two
# senders restate: its tokens without comments or blank lines (indentation kept). A package that changes it
# is refused, naming this module, instead of routing differently from the switch it stands in for.
_RUN_ROUTING_SHA256 = "db13d1b9e5b6ad17c87d2936ee6b7aabf1babff6831ae72ac6e52016d8bf5353"


class RcSwitchError(RuntimeError):
    """cocotbext-pcie's Switch routing is not the one this module restates."""


def routing_digest(src: str) -> str:
    """sha256 of Python source `src`'s tokens: comments and line breaks dropped, indentation kept."""
    skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)
    toks = [tokenize.tok_name[t.type] if t.type in (tokenize.INDENT, tokenize.DEDENT) else t.string
            for t in tokenize.generate_tokens(io.StringIO(src).readline) if t.type not in skip]
    return hashlib.sha256("\x00".join(toks).encode()).hexdigest()


@functools.cache
def check_package(src: str | None = None) -> None:
    """Raise RcSwitchError unless `Switch._run_routing` (or `src`, for a test) is the restated one."""
    if src is None:
        src = inspect.getsource(Switch._run_routing)
    if routing_digest(src) != _RUN_ROUTING_SHA256:
        raise RcSwitchError("cocotbext.pcie.core.switch.Switch._run_routing is not the routing loop "
                            "tb/pcie/rc_switch.py restates (cocotbext-pcie 0.2.16); review the module against "
                            "the new loop and update its digest")


_CFG0 = frozenset({TlpType.CFG_READ_0, TlpType.CFG_WRITE_0})
_COMPLETIONS = frozenset({TlpType.CPL, TlpType.CPL_DATA, TlpType.CPL_LOCKED, TlpType.CPL_LOCKED_DATA})


def _route_now(port, tlp):
    """The port `Switch._run_routing` hands `tlp` (from `port`) to, or None when no port claims it."""
    tlp.ingress_port = port.bridge
    for other, _ in port.tx_queues:
        if other.bridge.match_tlp(tlp):
            return other
        if other.upstream:
            if not other.bridge.match_tlp_secondary(tlp):
                return other
        elif other.bridge.match_tlp_secondary(tlp):
            return other
    return None


async def _from_host_bridge(switch, port, queue_put, tlp) -> None:
    if tlp.fmt_type not in _CFG0:
        await queue_put(tlp)               # the package's path
        return
    other = _route_now(port, tlp)
    if other is not None:
        await other.tx_handler(tlp)
        return
    # Switch._run_routing's answer to a configuration request no port claims
    tlp.release_fc()
    switch.log.warning("Failed to route config type 0 TLP: %r", tlp)
    await port.tx_handler(PasidTlp.create_ur_completion_for_tlp(tlp, port.bridge.pcie_id))


async def _from_root_port(switch, port, queue_put, tlp) -> None:
    if tlp.fmt_type not in _COMPLETIONS or tlp.completer_id != port.bridge.pcie_id:
        await queue_put(tlp)               # not the root port's own completion: the package's path
        return
    other = _route_now(port, tlp)
    if other is None:
        tlp.release_fc()
        switch.log.warning("Unexpected completion: failed to route completion: %r", tlp)
        return
    await other.tx_handler(tlp)


def shortcut(switch) -> None:
    """Route the host bridge's Type 0 configuration requests in the sender's task (ports added later: see
    `shortcut_port`)."""
    check_package()
    port = switch.upstream_port
    switch.upstream_bridge.downstream_tx_handler = functools.partial(
        _from_host_bridge, switch, port, port.ingress_queue.put)


def shortcut_port(switch, port) -> None:
    """A root port (downstream switch port) just added: its own completions routed in the sender's task."""
    if not port.upstream:
        port.bridge.upstream_tx_handler = functools.partial(
            _from_root_port, switch, port, port.ingress_queue.put)
