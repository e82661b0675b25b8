"""tb/pcie/rc_switch.py stands in for cocotbext-pcie's Switch routing for the root complex's own traffic: it
refuses a package whose routing loop is not the one it restates."""
from __future__ import annotations

import inspect

import pytest
from cocotbext.pcie.core.switch import Switch

from tb.pcie import rc_switch

SRC = inspect.getsource(Switch._run_routing)


def test_installed_package_is_the_restated_one():
    rc_switch.check_package()


def test_comments_and_blank_lines_do_not_count():
    changed = SRC.replace("# TLP directed to bridge", "# a comment of another release") + "\n\n"
    assert changed != SRC
    rc_switch.check_package(changed)


@pytest.mark.parametrize("old, new", [
    ("if other.bridge.match_tlp(tlp):", "if other.bridge.match_tlp_secondary(tlp):"),  # another predicate
    ("elif other.upstream:", "elif not other.upstream:"),                              # branches swapped
    ("continue  # no UR response for completion", "pass"),                             # UR for a completion
])
def test_a_changed_loop_is_refused(old, new):
    assert SRC.count(old) == 1
    with pytest.raises(rc_switch.RcSwitchError, match="rc_switch.py restates"):
        rc_switch.check_package(SRC.replace(old, new))


def test_indentation_counts():
    # the UR answer moved into the loop: same tokens, other structure
    lines = SRC.splitlines()
    i = next(n for n, line in enumerate(lines) if "cpl = Tlp.create_ur_completion_for_tlp" in line)
    lines[i] = "    " + lines[i]
    lines[i + 1] = "    " + lines[i + 1]
    lines[i + 2] = "    " + lines[i + 2]
    with pytest.raises(rc_switch.RcSwitchError):
        rc_switch.check_package("\n".join(lines) + "\n")


def test_restated_config_functions_are_the_installed_ones():
    rc_switch.check_restated()


def _root_bus(links, ports=((1, 0),), sec=0, sub=4):
    """A RootBusConfig over a stand-in switch: root ports at (device, function) on bus `sec`."""
    from types import SimpleNamespace as NS
    tx = [(NS(bridge=NS(device_num=d, function_num=f)), None) for d, f in ports]
    switch = NS(upstream_bridge=NS(sec_bus_num=sec, sub_bus_num=sub), upstream_port=NS(tx_queues=tx))
    return rc_switch.RootBusConfig(switch, links), tx


def _link(busy=False, queued=()):
    """A DirectLink whose downstream FIFO is delivering (`busy`) and/or holds `queued` TLPs."""
    from tb.pcie.direct import DirectLink, _Fifo
    link = DirectLink(rc=None, root_port=None, device=None)
    link.down.busy = busy
    link.down.queue.extend(queued)
    assert isinstance(link.down, _Fifo)
    return link


def test_root_bus_target_claims_like_the_switch():
    from cocotbext.pcie.core.utils import PcieId
    rbc, tx = _root_bus([_link()], ports=((1, 0), (2, 0), (1, 0)))
    assert rbc.target(PcieId(0, 2, 0)) == (True, tx[1][0].bridge)
    assert rbc.target(PcieId(0, 1, 0)) == (True, tx[0][0].bridge), "the first claiming port, in tx_queues order"
    assert rbc.target(PcieId(0, 3, 0)) == (True, None), "nobody claims: UR"
    assert rbc.target(PcieId(0, 1, 1)) == (True, None)


@pytest.mark.parametrize("dev", [(0, 0, 0), (1, 0, 0), (5, 0, 0)])
def test_root_bus_target_leaves_other_requests_to_the_package(dev):
    # 00:00.0 (the host bridge does not route it), a bus below a root port, a bus beyond the subordinate one
    from cocotbext.pcie.core.utils import PcieId
    rbc, _ = _root_bus([_link()])
    assert rbc.target(PcieId(*dev)) == (False, None)


@pytest.mark.parametrize("link", [_link(busy=True), _link(queued=[("deliver", "tlp")])])
def test_root_bus_target_waits_for_the_downstream_fifo(link):
    # a TLP handed over earlier is still to be delivered: the request takes the package's path, behind it
    from cocotbext.pcie.core.utils import PcieId
    rbc, _ = _root_bus([_link(), link])
    assert rbc.target(PcieId(0, 1, 0)) == (False, None)


def test_a_changed_restated_function_is_refused_by_name():
    src = inspect.getsource(Switch._run_routing)
    with pytest.raises(rc_switch.RcSwitchError, match=r"Bridge\.upstream_recv is not the one .*RootBusConfig restates"):
        rc_switch.check_source(src, "0" * 64, "Bridge.upstream_recv", "tb/pcie/rc_switch.py's RootBusConfig")
    rc_switch.check_source(src, rc_switch.routing_digest(src), "Switch._run_routing", "tb/pcie/rc_switch.py")
