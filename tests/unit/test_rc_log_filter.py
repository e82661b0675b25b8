"""EmptyRootSlotProbeFilter (tb/pcie/root_complex.py) drops only enumeration's probes of empty root-bus slots."""
import logging
from types import SimpleNamespace

import pytest
from cocotbext.pcie.core.tlp import TlpType
from cocotbext.pcie.core.utils import PcieId

from tb.pcie.root_complex import EmptyRootSlotProbeFilter
from tb.pcie.tlp import PasidTlp

ROOT_BUS = 0
RC = SimpleNamespace(upstream_bridge=SimpleNamespace(sec_bus_num=ROOT_BUS))


def _cfg(fmt_type, bus, dev, fn):
    tlp = PasidTlp()
    tlp.fmt_type = fmt_type
    tlp.completer_id = PcieId(bus, dev, fn)
    return tlp


def _record(msg, *args):
    return logging.LogRecord("cocotb.pcie.HostRootComplex", logging.WARNING, __file__, 1, msg, args, None)


def test_empty_root_slot_probe_dropped():
    f = EmptyRootSlotProbeFilter(RC)
    for dev in (1, 9, 31):
        assert not f.filter(_record(EmptyRootSlotProbeFilter.MSG, _cfg(TlpType.CFG_READ_0, ROOT_BUS, dev, 0)))


@pytest.mark.parametrize("fmt_type,bus,fn", [
    (TlpType.CFG_WRITE_0, ROOT_BUS, 0),     # a write is software's, not enumeration's probe
    (TlpType.CFG_READ_0, ROOT_BUS + 1, 0),  # another bus: nothing probes an empty slot there
    (TlpType.CFG_READ_0, ROOT_BUS, 1),      # a function other than 0: enumeration only probes function 0
])
def test_other_routing_failures_keep_their_warning(fmt_type, bus, fn):
    f = EmptyRootSlotProbeFilter(RC)
    assert f.filter(_record(EmptyRootSlotProbeFilter.MSG, _cfg(fmt_type, bus, 3, fn)))


def test_other_messages_pass():
    f = EmptyRootSlotProbeFilter(RC)
    tlp = _cfg(TlpType.CFG_READ_0, ROOT_BUS, 5, 0)
    assert f.filter(_record("Failed to route config type 1 TLP: %r", tlp))
    assert f.filter(_record("No address match: memory read request could not be routed: %r", tlp))
