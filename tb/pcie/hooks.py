"""The two runtime hooks this bench places into cocotbext-pcie (every TLP it builds is a PasidTlp; per-tag
completion queues made at their first use), and the version pin they depend on.

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

The second hook, per-tag completion queues made at their first use: every `Function` (each root port,
switch port and bridge of the RootComplex's tree, and the device's functions) and the `RootComplex` itself
build, in their constructors, a `Queue` and an `Event` for each of the 256 tags (`rx_cpl_queues`,
`rx_cpl_sync`). A test's bench builds about a dozen of them, so about 6,000 cocotb objects, most never used
(the RC allocates 32 tags; a port never requests), and the allocations trigger cyclic collections: py-spy
put the two list comprehensions and their collections at about 9% of an MSI-X test module's CPU.
`install()` wraps both constructors so that the two lists are `PerTag` lists, whose entry for a tag is made
on its first use. The package reads them only by index (`rx_cpl_queues[tag]`), which `PerTag` serves; its
`len`, iteration and slices give the made objects as a list would. While the original constructor runs, the
module's names `Queue` and `Event` are bound to stand-ins (the first `Event()`, `tag_release`, is still a
real one) so that the 512 throw-away objects are not built; `install()` checks the constructors' source has
exactly these three lines first, and the stand-ins are put back whatever the constructor does.
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
# The per-tag hook's sites: the classes whose constructor builds the per-tag lists, and the lines it relies on.
PER_TAG_CLASSES = (_function.Function, _rc.RootComplex)
_PER_TAG_LINES = ("self.tag_release = Event()",
                  "self.rx_cpl_queues = [Queue() for k in range(256)]",
                  "self.rx_cpl_sync = [Event() for k in range(256)]")


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


class PerTag(list):
    """A per-tag list (index = tag) whose entry is made by `make()` on its first use."""
    __slots__ = ("_make",)

    def __init__(self, make, n: int = 256):
        super().__init__((None,) * n)
        self._make = make

    def __getitem__(self, tag):
        if isinstance(tag, slice):
            return [self[i] for i in range(*tag.indices(len(self)))]
        entry = list.__getitem__(self, tag)
        if entry is None:
            entry = self._make()
            list.__setitem__(self, tag, entry)
        return entry

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def _per_tag_constructor(cls):
    """`cls.__init__` wrapped so that its per-tag lists are `PerTag` lists (see the module's docstring)."""
    module = inspect.getmodule(cls)
    original = cls.__init__
    real_queue, real_event = module.Queue, module.Event

    def __init__(self, *args, **kwargs):
        made_release = []

        def event_stand_in():
            # the constructor's first Event() is tag_release (checked at install); the others are per tag
            if made_release:
                return None
            made_release.append(True)
            return real_event()

        module.Queue, module.Event = (lambda: None), event_stand_in
        try:
            original(self, *args, **kwargs)
        finally:
            module.Queue, module.Event = real_queue, real_event
        self.rx_cpl_queues = PerTag(real_queue, len(self.rx_cpl_queues))
        self.rx_cpl_sync = PerTag(real_event, len(self.rx_cpl_sync))

    __init__.__wrapped__ = original
    __init__.__qualname__ = original.__qualname__
    __init__.__doc__ = original.__doc__
    return __init__


def _check_per_tag_site(cls) -> None:
    src = inspect.getsource(cls.__init__)
    module = inspect.getmodule(cls)
    where = f"{module.__name__}.{cls.__name__}.__init__"
    for line in _PER_TAG_LINES:
        if src.count(line) != 1:
            raise HookError(f"{where} no longer holds {line!r} exactly once; the per-tag hook would build "
                            f"wrong lists")
    if src.count("Event(") != 2 or src.count("Queue(") != 1 or src.index(_PER_TAG_LINES[0]) > src.index(
            _PER_TAG_LINES[1]):
        raise HookError(f"{where} builds Queue/Event objects other than the per-tag lists and tag_release "
                        f"(first); the per-tag hook's stand-ins would hand it None")
    for name in ("Queue", "Event"):
        if not callable(getattr(module, name, None)):
            raise HookError(f"{module.__name__} has no {name} to stand in for")


def is_installed() -> bool:
    return all(m.Tlp is PasidTlp for m in BUILDERS) and all(
        hasattr(c.__init__, "__wrapped__") for c in PER_TAG_CLASSES)


def install() -> None:
    """Make cocotbext-pcie's ports rebuild received TLPs as `PasidTlp`, and its per-tag completion queues
    made at first use. Idempotent."""
    if is_installed():
        return
    check_version()
    for m in BUILDERS:
        if m.Tlp is not Tlp:
            raise HookError(f"{m.__name__}.Tlp is already replaced by {m.Tlp!r}")
    if _REBUILD_SITE not in inspect.getsource(_port.Port.ext_recv):
        raise HookError(f"cocotbext.pcie.core.port.Port.ext_recv no longer contains {_REBUILD_SITE!r}; "
                        f"the PASID/DMWr hook would not take effect")
    for c in PER_TAG_CLASSES:
        _check_per_tag_site(c)
    for m in BUILDERS:
        m.Tlp = PasidTlp
    for c in PER_TAG_CLASSES:
        c.__init__ = _per_tag_constructor(c)
