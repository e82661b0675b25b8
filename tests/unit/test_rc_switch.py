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
