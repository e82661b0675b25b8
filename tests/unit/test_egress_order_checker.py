"""tb/pcie/ordering.py: a completion taken before a posted TLP that was shown earlier is a violation;
ties, non-posted requests and completions shown first are not."""
import pytest

from tb.pcie.ordering import EgressOrderChecker
from tb.pcie.stream import ReceivedTlp
from tb.pcie.tlp import ProtocolError, StreamFields

MWR32, MRD32, CPLD = 0x40, 0x00, 0x4A


def tlp(fmt_type, start, end):
    return ReceivedTlp(StreamFields(fmt_type << 120, False, 0, b""), 0, start, end)


def test_completion_shown_after_a_posted_write_and_taken_before_it_is_a_violation():
    c = EgressOrderChecker()
    c.completion(tlp(CPLD, start=20, end=24))
    with pytest.raises(ProtocolError, match="passed a posted request"):
        c.request(tlp(MWR32, start=10, end=40))


@pytest.mark.parametrize("cpl_start,cpl_end", [(8, 12), (10, 24), (20, 40), (20, 48)])
def test_allowed_orders(cpl_start, cpl_end):
    """Completion shown first or at the same time; taken in the same cycle as the write (tie) or after it."""
    c = EgressOrderChecker()
    c.completion(tlp(CPLD, cpl_start, cpl_end))
    c.request(tlp(MWR32, start=10, end=40))


def test_a_completion_may_pass_a_read_request():
    c = EgressOrderChecker()
    c.completion(tlp(CPLD, start=20, end=24))
    c.request(tlp(MRD32, start=10, end=40))
    assert c.posted == 0


def test_reset_forgets_what_was_before():
    c = EgressOrderChecker()
    c.completion(tlp(CPLD, start=20, end=24))
    c.reset()
    c.request(tlp(MWR32, start=10, end=40))
