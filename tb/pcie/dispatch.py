"""cocotbext-pcie's `handle_tlp` (the same method in `Function` and `RootComplex`), restated without its enum sets.

The package's method asks `tlp.fmt_type in {TlpType.CPL, TlpType.CPL_DATA, ...}`: a set literal of Enum members
is built on every call, hashing each member with a Python call, and `fmt_type` is read three times. Every TLP
the device takes from the host and every TLP the host takes from the device passes through it once
(`LinkShim.handle_tlp`, `HostRootComplex.handle_tlp`). `handle_tlp` below does the same by the TLP's
(Fmt, Type) code: a completion goes to its tag's queue and wakes the tag's event, any other type to the
handler registered for it (flow-control credit released first), an unregistered type raises the package's
"Unhandled TLP", and an unknown code raises the Enum's ValueError where the package's first `fmt_type` read
did. `check_package()` (run by make unit, tests/unit/test_dispatch.py) refuses a package whose methods are
not the one restated here (the token digest of tb/pcie/rc_switch.py).
"""
from __future__ import annotations

import functools
import inspect

from cocotbext.pcie.core.function import Function
from cocotbext.pcie.core.rc import RootComplex
from cocotbext.pcie.core.tlp import TlpType

from .rc_switch import RcSwitchError, check_source  # noqa: F401  (RcSwitchError: what check_package raises)
from .tlp import _PLAIN_FMT_TYPES, fmt_type_of

_HANDLE_TLP_SHA256 = "b47c4d245a89e6ae425d98b34c26d4ebe1efd66437f9d1a7d003c5f18b4de326"
# (Fmt, Type) codes of the four completion types: the same for the package's Tlp and a PasidTlp (a DMWr's
# code is a request's).
_CPL_CODES = frozenset(code for code, t in _PLAIN_FMT_TYPES.items()
                       if t in (TlpType.CPL, TlpType.CPL_DATA, TlpType.CPL_LOCKED, TlpType.CPL_LOCKED_DATA))


@functools.cache
def check_package(fn_src: str | None = None, rc_src: str | None = None) -> None:
    """Raise RcSwitchError unless Function.handle_tlp and RootComplex.handle_tlp (or the given sources, for a
    test) are the restated method."""
    check_source(inspect.getsource(Function.handle_tlp) if fn_src is None else fn_src, _HANDLE_TLP_SHA256,
                 "Function.handle_tlp", "tb/pcie/dispatch.py")
    check_source(inspect.getsource(RootComplex.handle_tlp) if rc_src is None else rc_src, _HANDLE_TLP_SHA256,
                 "RootComplex.handle_tlp", "tb/pcie/dispatch.py")


async def handle_tlp(owner, tlp) -> None:
    """`Function.handle_tlp(owner, tlp)` / `RootComplex.handle_tlp(owner, tlp)` (module docstring)."""
    if (tlp.fmt, tlp.type) in _CPL_CODES:
        owner.rx_cpl_queues[tlp.tag].put_nowait(tlp)
        owner.rx_cpl_sync[tlp.tag].set()
        return
    handler = owner.rx_tlp_handler.get(fmt_type_of(tlp))     # an unknown code: the Enum's ValueError
    tlp.release_fc()
    if handler is None:
        raise Exception("Unhandled TLP")
    await handler(tlp)
