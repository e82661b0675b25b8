"""The device side of ATS on the bench's link (docs/ats_pri.md 3.2): the ATS Extended Capability the shim
registers, and the shim's checks on ATS traffic.

`AtsExtCapability` (ID 0x000F, version 1): +4 ATS Capability = Invalidate Queue Depth 0 (= 32), Page Aligned
Request 1, Global Invalidate Supported 0; +6 ATS Control = STU 4:0 (RW), Enable 15 (RW, reset 0); AMA hardwired
0. Reset on FLR (PCIe §10.5.1).

`AtsLinkState` keeps what the shim needs to judge the device's ATS TLPs:
* an upstream request with AT != 00b while ATS Control.E = 0 (or without the capability);
* an Invalidate Completion whose ITag is not outstanding for that TA, whose Device ID is not the TA's
  Requester ID, or whose CC is not 1 (single-TC device);
* it records every Invalidate Request delivered on rx_msg (outstanding ITags per TA), dropped by FLR.
Translation Requests that are not MRd, have an odd Length or a non-page address are rejected where every TLP
from the RTL is decoded (tb/pcie/tlp.py request_format_error).
"""
from __future__ import annotations

from cocotbext.pcie.core.caps import PciExtCap

from . import ats
from .tlp import Lazy, ProtocolError


class AtsExtCapability(PciExtCap):
    def __init__(self, queue_depth: int = 0, page_aligned: bool = True):
        super().__init__()
        self.cap_id = ats.ATS_EXT_CAP_ID
        self.cap_ver = 1
        self.length = 2
        self.queue_depth = queue_depth & 0x1F
        self.page_aligned = page_aligned
        self.reset()

    def reset(self):
        self.enable = False
        self.stu = 0

    async def _read_register(self, reg):
        if reg != 1:
            return 0
        cap = self.queue_depth | (int(self.page_aligned) << 5)
        ctrl = (self.stu & 0x1F) | (int(self.enable) << 15)
        return cap | ctrl << 16

    async def _write_register(self, reg, data, mask):
        if reg != 1:
            return
        if mask & 0x4:
            self.stu = (data >> 16) & 0x1F
        if mask & 0x8:
            self.enable = bool(data >> 31 & 1)


class AtsLinkState:
    """The shim's view of ATS: capability, outstanding Invalidate Requests, counters."""

    def __init__(self, cap: AtsExtCapability | None):
        self.cap = cap
        self.outstanding: dict[int, dict[int, ats.InvalidatePayload]] = {}   # TA rid -> itag -> range
        self.stats = {"inv_req": 0, "inv_cpl": 0, "treq": 0, "translated": 0}
        self.flr_callbacks: list = []       # the translation agent's view of the ATC ends with an FLR too

    @property
    def enabled(self) -> bool:
        return self.cap is not None and self.cap.enable

    def flr(self):
        self.outstanding.clear()
        for cb in self.flr_callbacks:
            cb()

    def invalidate_sent(self, tlp) -> None:
        itag, body = tlp.inv_request_fields()
        ta = int(tlp.requester_id)
        if itag in self.outstanding.setdefault(ta, {}):
            raise ProtocolError(f"the TA {ta:#06x} reused ITag {itag} before its Invalidate Completion: {tlp!r}")
        self.outstanding[ta][itag] = body
        self.stats["inv_req"] += 1

    def check_upstream(self, tlp, requester_id: int, enabled: bool | None = None) -> None:
        """Check one TLP the RTL sent (raises ProtocolError). `enabled`: ATS Control.E to judge the AT field by
        instead of the current one (a request started before an FLR: tb/pcie/shim.py)."""
        what = Lazy(lambda: f"tx_req {tlp!r}")
        if tlp.is_message():
            if not tlp.is_inv_completion():
                raise ProtocolError(f"{what}: the device sends no message but Invalidate Completion in stage 1")
            if self.cap is None:
                raise ProtocolError(f"{what}: Invalidate Completion without an ATS capability")
            if int(tlp.requester_id) != requester_id:
                raise ProtocolError(f"{what}: requester ID {int(tlp.requester_id):#06x}, cfg_bdf is "
                                    f"{requester_id:#06x}")
            cc, vector = tlp.inv_completion_fields()
            ta = int(tlp.completer_id)
            pending = self.outstanding.get(ta, {})
            if ta not in self.outstanding:
                raise ProtocolError(f"{what}: Device ID {ta:#06x} is not a TA with Invalidate Requests "
                                    f"outstanding ({sorted(self.outstanding)})")
            if cc != 1:
                raise ProtocolError(f"{what}: CC {cc}, a single-TC device sends one completion per request (CC 1)")
            if not vector:
                raise ProtocolError(f"{what}: empty ITag vector")
            for itag in range(ats.ITAGS):
                if vector >> itag & 1 and itag not in pending:
                    raise ProtocolError(f"{what}: ITag {itag} is not outstanding (outstanding: {sorted(pending)})")
            for itag in range(ats.ITAGS):
                if vector >> itag & 1:
                    del pending[itag]
            self.stats["inv_cpl"] += 1
            return
        at = int(tlp.at)
        if at and not (self.enabled if enabled is None else enabled):
            raise ProtocolError(f"{what}: AT {at:#04b} while ATS Control.E = 0"
                                f"{'' if self.cap else ' (no ATS capability)'}")
        if at == ats.AT_TRANSLATION_REQUEST:
            self.stats["treq"] += 1
        elif at == ats.AT_TRANSLATED:
            self.stats["translated"] += 1
