"""The device side of PRI on the bench's link (docs/ats_pri.md 1.2, 3.2; the interface in the PRI branch notes):
the Page Request Extended Capability the shim registers after ATS, and the shim's checks on Page Requests.

`PriExtCapability` (ID 0x0013, version 1, 16 bytes):
* +4 Control: E b0 (RW), R b1 (reads 0; written with E = 0 in the same write it asks the shim for a one-cycle
  `cfg_pri_reset` pulse); E 0 -> 1 clears RF and UPRGI (docs/ats_pri.md 1.2);
* +6 Status: RF b0 and UPRGI b1 (RW1C, set by the device's `pri_rf_set` / `pri_uprgi_set` pulses), Stopped b8
  (RO: while E = 0 the device's `pri_stopped` level, 0 while E = 1), PRG Response PASID Required b15 = 1;
* +8 Outstanding Page Request Capacity (RO, 2), +0xC Outstanding Page Request Allocation (RW, reset 0).
Reset on FLR. Writing the allocation while E = 1 or above the capacity is undefined (PCIe): recorded in
`errors`, which the next check raises.

`PriLinkState` judges every Page Request the device sends on tx_req: PRI E must be 1, outstanding requests
(sent minus answered by a PRG Response with that PRGI and, if the response has a PASID, the request's;
reset by R and FLR) below the allocation, TC 0, L = 1
(one page per PRG), not a Stop Marker, a PRGI not outstanding, the requester ID = cfg_bdf, a PASID prefix
only as PASID Control allows. Responses to PRGIs that are not outstanding are allowed (the device sets UPRGI).
"""
from __future__ import annotations

import copy

from cocotbext.pcie.core.caps import PciExtCap

from . import pri
from .tlp import Lazy, ProtocolError


class PriExtCapability(PciExtCap):
    def __init__(self, capacity: int = pri.PRI_CAPACITY, stopped=lambda: True):
        super().__init__()
        self.cap_id = pri.PRI_EXT_CAP_ID
        self.cap_ver = pri.PRI_CAP_VERSION
        self.length = 4
        self.capacity = capacity
        self.stopped_source = stopped       # the device's pri_stopped level
        self.errors: list[str] = []
        self.reset_requested = False
        self.reset()

    def reset(self):
        self.enable = False
        self.rf = False
        self.uprgi = False
        self.allocation = 0

    @property
    def status(self) -> int:
        stopped = (not self.enable) and bool(self.stopped_source())
        return int(self.rf) | int(self.uprgi) << 1 | int(stopped) << 8 | pri.PRI_STATUS_PASID

    async def _read_register(self, reg):
        if reg == 1:
            return int(self.enable) | self.status << 16
        if reg == 2:
            return self.capacity
        if reg == 3:
            return self.allocation
        return 0

    async def _write_register(self, reg, data, mask):
        if reg == 1:
            if mask & 0x1:
                enable = bool(data & pri.PRI_CTRL_ENABLE)
                if enable and not self.enable:
                    self.rf = self.uprgi = False
                if data & pri.PRI_CTRL_RESET and not enable:
                    self.reset_requested = True
                self.enable = enable
            if mask & 0x4:
                if data >> 16 & pri.PRI_STATUS_RF:
                    self.rf = False
                if data >> 16 & pri.PRI_STATUS_UPRGI:
                    self.uprgi = False
        elif reg == 3:
            val = data & 0xFFFF_FFFF
            if self.enable:
                self.errors.append(f"PRI allocation written ({val}) while PRI E = 1 (undefined, PCIe §10.5.2)")
            if val > self.capacity:
                self.errors.append(f"PRI allocation {val} above the capacity {self.capacity} (undefined)")
            self.allocation = val


class PriLinkState:
    """The shim's view of PRI: capability, outstanding Page Requests, counters."""

    def __init__(self, cap: PriExtCapability | None):
        self.cap = cap
        self.outstanding: dict[int, object] = {}        # PRGI -> the Page Request TLP
        # the most Page Requests outstanding at once lives in the shared counters, so that one judged against a
        # snapshot (the FLR window) counts in the live figure too
        self.stats = {"page_req": 0, "prg_resp": 0, "prg_resp_unexpected": 0, "rf_set": 0, "uprgi_set": 0,
                      "pri_reset": 0, "max_outstanding": 0}
        self.requests: list = []                         # every Page Request, in order

    @property
    def max_outstanding(self) -> int:
        return self.stats["max_outstanding"]

    def flr(self):
        self.outstanding.clear()
        if self.cap is not None:
            self.cap.reset()

    def snapshot(self) -> "PriLinkState":
        """PRI as it is now, for the Page Requests the device started before an FLR that resets it: a copy of
        the capability's controls and of the outstanding PRGs; the counters and the request log are shared."""
        snap = copy.copy(self)
        snap.cap = copy.copy(self.cap)
        if snap.cap is not None:
            snap.cap.errors = list(self.cap.errors)
        snap.outstanding = dict(self.outstanding)
        return snap

    def pri_reset(self):
        """R written with E = 0: the device's credits and pending state are cleared."""
        self.stats["pri_reset"] += 1
        self.outstanding.clear()

    def rf_set(self):
        self.stats["rf_set"] += 1
        if self.cap is not None:
            self.cap.rf = True

    def uprgi_set(self):
        self.stats["uprgi_set"] += 1
        if self.cap is not None:
            self.cap.uprgi = True

    def response_sent(self, tlp) -> bool:
        """A PRG Response goes down to the device; True if its PRGI was outstanding."""
        _, prgi = tlp.prg_response_fields()
        self.stats["prg_resp"] += 1
        req = self.outstanding.get(prgi)
        if req is None or (tlp.pasid is not None and req.pasid != tlp.pasid):
            # not outstanding, or another PASID: the device sets UPRGI. A response without a PASID prefix is
            # matched on the PRG index alone (docs/ats_pri.md 2.6 "match PRGI (and PASID when it has one)")
            self.stats["prg_resp_unexpected"] += 1
            return False
        del self.outstanding[prgi]
        return True

    def check_page_request(self, tlp, requester_id: int, pasid_cap) -> None:
        what = Lazy(lambda: f"tx_req {tlp!r}")
        if self.cap is not None and self.cap.errors:
            raise ProtocolError("PRI configuration: " + "; ".join(self.cap.errors))
        if self.cap is None:
            raise ProtocolError(f"{what}: Page Request without a PRI capability")
        if not self.cap.enable:
            raise ProtocolError(f"{what}: Page Request while PRI Control.E = 0")
        if int(tlp.requester_id) != requester_id:
            raise ProtocolError(f"{what}: requester ID {int(tlp.requester_id):#06x}, cfg_bdf is {requester_id:#06x}")
        if int(tlp.tc) != 0:
            raise ProtocolError(f"{what}: TC {int(tlp.tc)}, a Page Request must use TC 0 (PCIe §10.4.1)")
        if tlp.length:
            raise ProtocolError(f"{what}: a Page Request carries no data (Length {tlp.length})")
        req = tlp.page_request_fields()
        if req.stop_marker:
            raise ProtocolError(f"{what}: a Stop Marker; the device never sends one (docs/ats_pri.md 2.6)")
        if not req.last:
            raise ProtocolError(f"{what}: L = 0, but every PRG of this device is one page")
        if req.prgi in self.outstanding:
            raise ProtocolError(f"{what}: PRG index {req.prgi} is still outstanding ({self.outstanding[req.prgi]!r})")
        if len(self.outstanding) >= self.cap.allocation:
            raise ProtocolError(f"{what}: {len(self.outstanding)} Page Requests outstanding, allocation "
                                f"{self.cap.allocation}")
        if tlp.has_prefix:
            if not pasid_cap.pasid_enable or (tlp.pmr and not pasid_cap.priv_enable) or \
                    (tlp.er and not pasid_cap.exec_enable):
                raise ProtocolError(f"{what}: PASID prefix (PMR={tlp.pmr}, ER={tlp.er}) not enabled by PASID control")
        self.outstanding[req.prgi] = tlp
        self.stats["max_outstanding"] = max(self.stats["max_outstanding"], len(self.outstanding))
        self.requests.append(tlp)
        self.stats["page_req"] += 1
