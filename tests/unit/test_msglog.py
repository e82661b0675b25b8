"""tb/msglog.py without a simulator: the interrupt-message scoreboard's claim and its check that the device's
interrupt messages carry no PASID prefix (rtl/link/imsdev_msg_tx.sv)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `tb`

from cocotbext.pcie.core.tlp import TlpType  # noqa: E402

from tb import msglog  # noqa: E402
from tb.msglog import WINDOW_32, MessageLog, check_interrupt_tlp  # noqa: E402
from tb.pcie.tlp import PasidTlp, ProtocolError  # noqa: E402


def _message(pasid=None, pmr=False):
    tlp = PasidTlp()
    tlp.fmt_type = TlpType.MEM_WRITE
    tlp.set_addr_be_data(WINDOW_32[0] + 0x40, (0xD000_0001).to_bytes(4, "little"))
    tlp.pasid = pasid
    tlp.pmr = pmr
    return tlp


def test_message_without_prefix_is_counted(monkeypatch):
    monkeypatch.setattr(msglog, "now_ns", lambda: 0.0)      # no simulator here
    log = MessageLog()
    tlp = _message()
    check_interrupt_tlp(tlp)
    assert log.on_write(tlp.address, tlp.get_data(), 0x0100, 3, tlp)
    assert log.count(WINDOW_32[0] + 0x40, 0xD000_0001) == 1


@pytest.mark.parametrize("pasid, pmr", [(0, False), (0x12345, False), (7, True)])
def test_message_with_prefix_is_refused(pasid, pmr):
    log = MessageLog()
    tlp = _message(pasid, pmr)
    with pytest.raises(ProtocolError, match="carries a PASID prefix"):
        check_interrupt_tlp(tlp)
    with pytest.raises(ProtocolError, match="carries a PASID prefix"):
        log.on_write(tlp.address, tlp.get_data(), 0x0100, 3, tlp)
    assert not log.messages, "a refused message is not counted"
