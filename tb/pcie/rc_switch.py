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

Root bus configuration without TLPs (`RootBusConfig`, used by tb.pcie.root_complex.HostRootComplex's
config_read/config_write): even routed in the sender's task, each of those requests built a TLP, took a tag,
went through the host bridge's Type 1 -> Type 0 conversion, the root port's function and back as a
completion: about 40% of a test's set-up CPU (callgrind: 69 -> 41 M instructions per Bench.start; 75 of
its 128 configuration requests are for the root bus). None of it reaches the device under test. When the
direct link's downstream FIFO is idle (so nothing handed over earlier is still to be delivered, and the
package's path would also have answered at once, in the caller's task, without a simulator step), a request
for the root bus is answered the way the package's path answers it: the host bridge's routing condition
(`Bridge.upstream_recv` with `match_tlp_secondary` for Type 1, the conversion on its secondary bus), the
switch's choice of the first root port whose function number matches (`Function.match_tlp` for Type 0, in
`tx_queues` order), that function's `handle_config_0_read_tlp` / `_write_tlp` (bus number capture, the
register access with the request's byte enables), all ones for a read nobody claims (the UR the
RC core turns into 0xFFFFFFFF), nothing for such a write; `RootComplex.config_read` / `config_write`'s
DWORD split. Anything else (a device below a root port, 00:00.0, the FIFO busy, IMSDEV_DIRECT_LINK=0)
takes the package's path. The functions restated are checked like the routing loop (`_RESTATED`), by
tests/unit/test_rc_switch.py.
test_enumeration's `test_root_bus_configuration` reads the root port's whole configuration space both
ways and writes through each, reading back through the other.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import io
import struct
import tokenize

from cocotbext.pcie.core.bridge import Bridge
from cocotbext.pcie.core.function import Function
from cocotbext.pcie.core.rc import RootComplex
from cocotbext.pcie.core.switch import Switch
from cocotbext.pcie.core.tlp import TlpType
from cocotbext.pcie.core.utils import PcieId

from .tlp import PasidTlp

# `Switch._run_routing` of cocotbext-pcie 0.2.16, whose loop and unclaimed-TLP answers `_route_now` and the two
# senders restate: its tokens without comments or blank lines (indentation kept). A package that changes it
# is refused, naming this module, instead of routing differently from the switch it stands in for.
_RUN_ROUTING_SHA256 = "db13d1b9e5b6ad17c87d2936ee6b7aabf1babff6831ae72ac6e52016d8bf5353"
# The functions `RootBusConfig` restates, by the same digest.
_RESTATED = {
    RootComplex.config_read: "90c83849b0aae9c330e3616d601e4eecad981f6db01a34643fcc12c95cecc898",
    RootComplex.config_write: "3d6b60b144ece6e162d55f72d4c7dff5d3b97c2f9eec420fab3921c01e9427d1",
    Bridge.upstream_recv: "d07a50656fcd5340cf845551bd9bbe40d3e09d64bd93c4ed47e57fa146476ca8",
    Bridge.match_tlp_secondary: "f0f9fc858b5d98e8d02fefa98238afdec807d9b95bb834ca1409b3282d53a0c7",
    Function.match_tlp: "ed0962ae9fa2094a8df6351ab83de376d483bdd0e8c8bb399d54dc2d69444afd",
    Function.handle_config_0_read_tlp: "b9b5f6e8b5c16e00db1a3ad43919dc58bf1f04a8bc0c6bd094ef60b6e206d4bd",
    Function.handle_config_0_write_tlp: "39b82a024a446cef2d43f631cf6e572af59ea5ba57018d1c39045f23902104a6",
}


class RcSwitchError(RuntimeError):
    """cocotbext-pcie's Switch routing is not the one this module restates."""


def routing_digest(src: str) -> str:
    """sha256 of Python source `src`'s tokens: comments and line breaks dropped, indentation kept."""
    skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)
    toks = [tokenize.tok_name[t.type] if t.type in (tokenize.INDENT, tokenize.DEDENT) else t.string
            for t in tokenize.generate_tokens(io.StringIO(src).readline) if t.type not in skip]
    return hashlib.sha256("\x00".join(toks).encode()).hexdigest()


def check_source(src: str, digest: str, name: str, restater: str) -> None:
    """Raise RcSwitchError unless the package function `name`, whose source is `src`, has the token digest
    `digest` it had when `restater` (a module of this bench) restated it."""
    if routing_digest(src) != digest:
        raise RcSwitchError(f"cocotbext-pcie's {name} is not the one {restater} restates (cocotbext-pcie 0.2.16); "
                            f"review it against the new function and update its digest")


@functools.cache
def check_package(src: str | None = None) -> None:
    """Raise RcSwitchError unless `Switch._run_routing` (or `src`, for a test) is the restated one."""
    check_source(inspect.getsource(Switch._run_routing) if src is None else src, _RUN_ROUTING_SHA256,
                 "Switch._run_routing", "tb/pcie/rc_switch.py")


@functools.cache
def check_restated() -> None:
    """Raise RcSwitchError unless every function `RootBusConfig` restates is the one it was written from."""
    for fn, digest in _RESTATED.items():
        check_source(inspect.getsource(fn), digest, fn.__qualname__, "tb/pcie/rc_switch.py's RootBusConfig")


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


_ROOT_ID = PcieId(0, 0, 0)
_ALL_ONES = b"\xff\xff\xff\xff"


class RootBusConfig:
    """The RC core's configuration requests for its own root bus, answered without TLPs (module docstring).
    `links` is the RC's list of direct links, whose downstream FIFOs must be idle."""

    def __init__(self, switch, links: list):
        # check_restated() is left to tests/unit/test_rc_switch.py (make unit): at run time the version pin
        # (tb/pcie/hooks.py check_version) already refuses another package, and tokenizing seven functions
        # cost 18 ms of every simulator start
        self.switch = switch
        self.links = links
        self.answered = 0        # requests (DWORDs) answered here: tests see the path was taken

    def target(self, dev):
        """(True, root port function or None for UR) for a request to `dev` this class answers now; (False,
        None) for one the package's path must take."""
        if not all(link.downstream_idle for link in self.links):
            return False, None
        hb = self.switch.upstream_bridge
        # Bridge.upstream_recv: not the host bridge's own function (match_tlp is False for Type 1), routed to
        # its secondary side (match_tlp_secondary), converted to Type 0 only for the secondary bus itself
        if dev == _ROOT_ID or not hb.sec_bus_num <= dev.bus <= hb.sub_bus_num or dev.bus != hb.sec_bus_num:
            return False, None
        # Switch._run_routing from the upstream port: the first other port whose bridge claims a Type 0
        # request (Function.match_tlp; match_tlp_secondary is False for Type 0, and no other port is upstream)
        for other, _ in self.switch.upstream_port.tx_queues:
            fn = other.bridge
            if fn.device_num == dev.device and fn.function_num == dev.function:
                return True, fn
        return True, None

    @staticmethod
    def _capture_bus(fn, dev) -> None:
        # Function.handle_config_0_*_tlp: a Type 0 request teaches the function its bus number
        if fn.bus_num != dev.bus:
            fn.log.info("Capture bus number %d", dev.bus)
            fn.pcie_id = fn.pcie_id._replace(bus=dev.bus)

    async def read(self, fn, dev, addr: int, length: int) -> bytearray:
        """RootComplex.config_read's DWORD loop, each DWORD answered by `fn` (None: UR, all ones)."""
        n = 0
        data = bytearray()
        while n < length:
            first_pad = addr % 4
            byte_length = min(length - n, 4 - first_pad)
            if fn is None:
                d = _ALL_ONES
            else:
                self._capture_bus(fn, dev)
                d = struct.pack("<L", await fn.read_config_register(addr >> 2))
            self.answered += 1
            data.extend(d[first_pad:])
            n += byte_length
            addr += byte_length
        return data[:length]

    async def write(self, fn, dev, addr: int, data) -> None:
        """RootComplex.config_write's DWORD loop: each piece written with its byte enables (Tlp.set_addr_be_data
        puts the bytes in their lanes of the DWORD); nothing for a write nobody claims (UR)."""
        n = 0
        while n < len(data):
            first_pad = addr % 4
            byte_length = min(len(data) - n, 4 - first_pad)
            if fn is not None:
                self._capture_bus(fn, dev)
                lanes = bytes(first_pad) + bytes(data[n:n + byte_length]) + bytes(4 - first_pad - byte_length)
                be = ((1 << byte_length) - 1) << first_pad
                await fn.write_config_register(addr >> 2, struct.unpack("<L", lanes)[0], be)
            self.answered += 1
            n += byte_length
            addr += byte_length
