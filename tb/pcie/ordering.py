"""Link-level ordering checker of the device's egress: a completion may not pass a posted request.

The device has two egress streams, tx_cpl (completions) and tx_req (its own requests), which a hard IP puts
on one link in the order their TLPs are taken (docs/tlp_interface.md, "Egress ordering"). PCIe's ordering
rules forbid a completion to pass a posted request: once the device has shown a posted TLP (a memory write:
DMA data, a completion record, an interrupt message) on tx_req, no completion it shows on tx_cpl later may be
taken before that write.

`EgressOrderChecker` sees every TLP of both streams in the cycle its last beat is taken, with the time its
first beat was first shown, and raises `ProtocolError` on a completion that was shown after a posted TLP and
taken before it. Ties (both taken in the same cycle) count as posted first. The shim installs one in every
bench, so every test checks the rule. What the device committed internally before a completion (an
interrupt message still in an engine's queue) cannot be seen at the link; tests check those end to end
(tb/tests/link/test_ordering.py).
"""
from __future__ import annotations

from collections import deque

from .stream import ReceivedTlp
from .tlp import ProtocolError

FT_MWR32, FT_MWR64 = 0x40, 0x60
FT_MSG_TO_RC, FT_MSG_ID = 0x30, 0x32     # posted messages (ATS Invalidate Completion, Page Request)


class EgressOrderChecker:
    def __init__(self):
        # Completions taken so far that a posted TLP still being shown could have been passed by.
        self._completions: deque[tuple[float, float, int]] = deque()
        self.completions = 0
        self.posted = 0

    def completion(self, rx: ReceivedTlp):
        self.completions += 1
        self._completions.append((rx.start_ns, rx.end_ns, rx.fields.hdr))

    def request(self, rx: ReceivedTlp):
        fmt_type = rx.fields.hdr >> 120
        if fmt_type not in (FT_MWR32, FT_MWR64, FT_MSG_ID, FT_MSG_TO_RC):
            return      # a completion may pass a non-posted request (MRd): that is what keeps reads deadlock-free
        self.posted += 1
        for c_start, c_end, c_hdr in self._completions:
            if c_start > rx.start_ns and c_end < rx.end_ns:
                raise ProtocolError(
                    f"egress ordering: completion (header {c_hdr:#034x}) shown at {c_start:.1f} ns and taken at "
                    f"{c_end:.1f} ns passed a posted request (header {rx.fields.hdr:#034x}) shown earlier, at "
                    f"{rx.start_ns:.1f} ns, and taken only at {rx.end_ns:.1f} ns")
        # The next posted TLP is first shown after this one was taken: completions taken before now cannot
        # have passed it.
        while self._completions and self._completions[0][1] < rx.end_ns:
            self._completions.popleft()

    def reset(self):
        """FLR: the link drops what it had queued; nothing before it is compared with anything after."""
        self._completions.clear()
