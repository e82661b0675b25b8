"""tb/pcie/dispatch.py restates cocotbext-pcie's handle_tlp (Function and RootComplex): it refuses a package whose
method is not the one it restates, and dispatches every TLP type as the package's method does."""
from __future__ import annotations

import asyncio
import inspect

import pytest
from cocotbext.pcie.core.function import Function
from cocotbext.pcie.core.tlp import Tlp, TlpType

from tb.pcie import dispatch
from tb.pcie.tlp import DMWR_TYPE, PasidTlp

SRC = inspect.getsource(Function.handle_tlp)


def test_installed_package_is_the_restated_one():
    dispatch.check_package()


@pytest.mark.parametrize("old, new", [
    ("TlpType.CPL_LOCKED, TlpType.CPL_LOCKED_DATA}", "TlpType.CPL_LOCKED}"),
    ("tlp.release_fc()\n            await", "await"),
    ('raise Exception("Unhandled TLP")', "pass"),
])
def test_a_changed_method_is_refused(old, new):
    assert SRC.count(old) == 1
    with pytest.raises(dispatch.RcSwitchError, match="dispatch.py restates"):
        dispatch.check_package(SRC.replace(old, new), None)
    with pytest.raises(dispatch.RcSwitchError, match="dispatch.py restates"):
        dispatch.check_package(None, SRC.replace(old, new))


class _Owner:
    """What handle_tlp touches of a Function / RootComplex: per-tag queues and events, the handlers."""

    def __init__(self):
        self.got = []
        self.rx_cpl_queues = {t: _Box() for t in range(4)}
        self.rx_cpl_sync = {t: _Box() for t in range(4)}
        self.rx_tlp_handler = {}

    def register(self, ft):
        async def handler(tlp, ft=ft):
            self.got.append((ft, tlp))
        self.rx_tlp_handler[ft] = handler


class _Box:
    def __init__(self):
        self.items, self.sets = [], 0

    def put_nowait(self, x):
        self.items.append(x)

    def set(self):
        self.sets += 1


def _run(fn, owner, tlp):
    """Run one handle_tlp; returns the exception it raised (None if none)."""
    try:
        asyncio.run(fn(owner, tlp))
    except Exception as exc:     # noqa: BLE001 - compared between the two implementations
        return exc
    return None


@pytest.mark.parametrize("ft", list(TlpType) + ["dmwr", "unknown"], ids=str)
@pytest.mark.parametrize("registered", [False, True])
@pytest.mark.parametrize("cls", [Tlp, PasidTlp])
def test_same_dispatch_as_the_package(ft, registered, cls):
    outcomes = []
    for fn in (Function.handle_tlp, dispatch.handle_tlp):
        tlp = cls()
        if ft == "dmwr":
            if cls is Tlp:
                pytest.skip("only a PasidTlp is a DMWr")
            tlp.fmt_type = TlpType.MEM_WRITE
            tlp.type = DMWR_TYPE
        elif ft == "unknown":
            tlp.fmt, tlp.type = 0, 0x1F
        else:
            tlp.fmt_type = ft
        tlp.tag = 2
        released = []
        tlp.release_fc = lambda: released.append(1)
        owner = _Owner()
        if registered:
            for t in TlpType:
                owner.register(t)
        exc = _run(fn, owner, tlp)
        outcomes.append((type(exc), str(exc), [(f, t is tlp) for f, t in owner.got], len(released),
                         [(t, len(b.items), b.sets) for t, b in owner.rx_cpl_queues.items()],
                         [(t, b.sets) for t, b in owner.rx_cpl_sync.items()]))
    assert outcomes[0] == outcomes[1]
