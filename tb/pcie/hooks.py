"""The one runtime hook this bench places into cocotbext-pcie (every TLP it builds is a PasidTlp), and the
version pin it depends on.

Why a hook at all (toolchain.md): between the RootComplex, its switch/root ports and a device, TLPs
travel as Python objects, and every receiving `Port.ext_recv` rebuilds the packet as a plain `Tlp`
(core/port.py, `pkt = Tlp(pkt)`). That drops our subclass, and with it the PASID prefix and the DMWr
behaviour, at every hop.

What the hook does: it rebinds the name `Tlp` inside cocotbext.pcie.core.port to `PasidTlp`, so each hop
copies into a `PasidTlp` (whose copy constructor keeps the prefix), and inside the other modules that
build TLPs (the RC's and functions' requests and completions, region.py's memory requests, bridges,
switch, device, endpoint), so that every TLP object in the simulation is a `PasidTlp` from the start and
the package's checks and routing run `PasidTlp`'s constant-set methods (the package's own `Tlp` builds
sets of enums on every `check()`, `fmt_type` and `has_data()`: a large part of an MMIO access's CPU).
Nothing else in the package is touched. The other two problems toolchain.md lists are solved by
subclassing, because once every TLP object is a `PasidTlp` its own methods are the ones the package calls:

* DMWr routing: `PasidTlp.fmt_type` answers MEM_WRITE / MEM_WRITE_64 for a DMWr, so the routing code in
  function.py, bridge.py, switch.py and device.py treats it as a memory request while `tlp.type` keeps
  the DMWr code. (No alias is added to `TlpType`.)
* Flow control: `PasidTlp.get_fc_type()` reports a DMWr as non-posted.

Risks:
* The hook depends on the text of cocotbext-pcie 0.2.16's port.py. `install()` refuses any other
  version and checks that the rebuild site still reads `pkt = Tlp(pkt)`, so a changed package fails
  loudly at bench start instead of silently losing prefixes.
* It is process-wide: every cocotbext-pcie module in the simulation builds `PasidTlp`. That is harmless for
  plain TLPs (`PasidTlp` without a prefix behaves like `Tlp`; its `check()` also applies the package's
  configuration/IO Length rule, which the package's own requests meet), but a third-party `Tlp` subclass
  sent through a port would also come out as a `PasidTlp`.
* A DMWr created as a plain `Tlp` (raw fmt/type set by hand) is not covered: its `fmt_type` raises
  ValueError at the first routing decision, which is loud, not silent. Build DMWr with
  `PasidTlp.create_dmwr`.
* Code that asks `tlp.fmt_type == TlpType.MEM_WRITE` also matches a DMWr; use `is_dmwr()` /
  `is_mem_write()` where the difference matters.
"""
from __future__ import annotations

import importlib.metadata
import inspect

from cocotbext.pcie.core import bridge as _bridge
from cocotbext.pcie.core import device as _device
from cocotbext.pcie.core import endpoint as _endpoint
from cocotbext.pcie.core import function as _function
from cocotbext.pcie.core import port as _port
from cocotbext.pcie.core import rc as _rc
from cocotbext.pcie.core import region as _region
from cocotbext.pcie.core import switch as _switch
from cocotbext.pcie.core.tlp import Tlp

from .tlp import PasidTlp

SUPPORTED_VERSION = "0.2.16"
_REBUILD_SITE = "pkt = Tlp(pkt)"


class HookError(RuntimeError):
    """cocotbext-pcie is not the version/shape the hook was written for."""


def installed_version() -> str:
    return importlib.metadata.version("cocotbext-pcie")


def check_version(version: str | None = None) -> None:
    version = installed_version() if version is None else version
    if version != SUPPORTED_VERSION:
        raise HookError(f"tb/pcie/hooks.py supports cocotbext-pcie {SUPPORTED_VERSION} only, found {version}: "
                        f"re-check core/port.py's TLP rebuild (Port.ext_recv) and the routing code before "
                        f"changing the pin in requirements.txt")


# The modules that build TLPs (`Tlp()`, `Tlp(other)` or `Tlp.create_*`), port first.
BUILDERS = (_port, _bridge, _device, _endpoint, _function, _rc, _region, _switch)


def is_installed() -> bool:
    return all(m.Tlp is PasidTlp for m in BUILDERS)


def install() -> None:
    """Make cocotbext-pcie's ports rebuild received TLPs as `PasidTlp`. Idempotent."""
    if is_installed():
        return
    check_version()
    for m in BUILDERS:
        if m.Tlp is not Tlp:
            raise HookError(f"{m.__name__}.Tlp is already replaced by {m.Tlp!r}")
    if _REBUILD_SITE not in inspect.getsource(_port.Port.ext_recv):
        raise HookError(f"cocotbext.pcie.core.port.Port.ext_recv no longer contains {_REBUILD_SITE!r}; "
                        f"the PASID/DMWr hook would not take effect")
    for m in BUILDERS:
        m.Tlp = PasidTlp
