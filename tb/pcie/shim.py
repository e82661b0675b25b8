"""The device side of the bench's PCIe link: a cocotbext-pcie endpoint whose BARs are the RTL.

`LinkShim` plays the hard IP of docs/tlp_interface.md. It owns configuration space (in Python, like a hard
IP owns it in silicon) and moves TLPs between a cocotbext-pcie RootComplex port and the device's streams:

    RC --MRd/MWr/DMWr to BAR0/BAR2--> rx_req_*  (with `bar`)      RTL
    RC <--------- Cpl/CplD ---------- tx_cpl_*                     RTL
    RC <--- MRd/MWr (PASID prefix) -- tx_req_*  (DMA, interrupts)  RTL
    RC ---- Cpl/CplD for those -----> rx_cpl_*                     RTL

and drives the configuration sideband `cfg_*` and the one-cycle `flr` pulse.

Configuration space: type-0 header; BAR0 64-bit non-prefetchable, regs/imsdev.rdl's size (1 MiB); BAR2 64-bit non-prefetchable
4 KiB per work queue (rounded up to a power of two, as BAR sizes must be); capability chain from 0x34:
PM (cocotbext-pcie's), PCI Express (endpoint, FLR capable), MSI-X (table and PBA in BAR0); extended
chain from 0x100: PASID (exec and privileged supported, 20-bit PASIDs).

What the shim checks, and raises on (each fails the test): a host request the RTL never completes within
`completion_timeout_ns` (CompletionTimeout); a completion that matches no outstanding request, has the
wrong completer ID, TC, byte count, lower address, status/data combination or exceeds MPS; an upstream
request while Bus Master Enable is clear, with a requester ID other than cfg_bdf, with a PASID prefix
(or PMR/ER) the PASID control does not enable, over MPS/MRRS, across 4 KiB, with a 4DW header for a
32-bit address, with bad byte enables, or reusing an outstanding read tag (ProtocolError). Streams check
their own protocol (tb/pcie/stream.py).
"""
from __future__ import annotations

import logging
import math
import os
from collections import Counter, OrderedDict
from types import SimpleNamespace
from typing import Callable, NamedTuple

import cocotb
from cocotb.triggers import FallingEdge, Event, RisingEdge, Timer
from cocotb.utils import get_sim_time
from cocotbext.pcie.core import Device, Endpoint
from cocotbext.pcie.core.caps import MsixCapability, PcieCapability, PciExtCap, PciExtCapId
from cocotbext.pcie.core.tlp import CplStatus, TlpType

from imsdev import regs
from tb import coverage
from tb.simtime import now_ns

from .direct import DirectLink
from .dispatch import handle_tlp
from .ats_link import AtsExtCapability, AtsLinkState
from .pri_link import PriExtCapability, PriLinkState
from .root_complex import quiet_per_tlp_log
from .hooks import install
from .ordering import EgressOrderChecker
from .stream import TlpStreamSink, TlpStreamSource
from .tlp import CompletionTimeout, Lazy, PasidTlp, ProtocolError, TlpFormatError

BAR0_SIZE = regs.BAR0_SIZE     # the register map's size (regs/imsdev.rdl), never a copy
WQ_PORTAL_SIZE = 4096
CFG_SIGNALS = ("cfg_bdf", "cfg_bus_master_en", "cfg_msix_en", "cfg_msix_fn_mask", "cfg_pasid_en",
               "cfg_pasid_exec_en", "cfg_pasid_priv_en", "cfg_max_payload", "cfg_max_read_req")
_BAR_REQUESTS = (TlpType.MEM_READ, TlpType.MEM_READ_64, TlpType.MEM_WRITE, TlpType.MEM_WRITE_64)

# Device Control / Link fields that an FLR leaves alone (PCIe Base §6.6.2: values tied to the Link, and
# Max_Payload_Size); everything else in the PCIe capability returns to its reset value.
_FLR_KEEPS = frozenset({
    "offset", "next_cap", "parent", "max_payload_size", "captured_slot_power_limit_value",
    "captured_slot_power_limit_scale", "aspm_control", "read_completion_boundary", "common_clock_configuration",
    "extended_synch", "enable_clock_power_management", "hardware_autonomous_width_disable",
    "hardware_autonomous_speed_disable", "link_equalization_8gt_request",
})


class PasidExtCapability(PciExtCap):
    """PASID extended capability (ID 0x1B): +4 capability [1] exec, [2] priv, [12:8] max width;
    +6 control [0] enable, [1] exec enable, [2] priv enable (RW, reset 0)."""

    def __init__(self, max_pasid_width=20, exec_supported=True, priv_supported=True):
        super().__init__()
        self.cap_id = PciExtCapId.PASID
        self.cap_ver = 1
        self.length = 2
        self.max_pasid_width = max_pasid_width
        self.exec_supported = exec_supported
        self.priv_supported = priv_supported
        self.reset()

    def reset(self):
        self.pasid_enable = False
        self.exec_enable = False
        self.priv_enable = False

    async def _read_register(self, reg):
        if reg != 1:
            return 0
        val = (self.exec_supported << 1) | (self.priv_supported << 2) | ((self.max_pasid_width & 0x1F) << 8)
        return val | (self.pasid_enable << 16) | (self.exec_enable << 17) | (self.priv_enable << 18)

    async def _write_register(self, reg, data, mask):
        if reg == 1 and mask & 0x4:
            self.pasid_enable = bool(data & 1 << 16)
            self.exec_enable = bool(data & 1 << 17) and self.exec_supported
            self.priv_enable = bool(data & 1 << 18) and self.priv_supported


class _ShimPcieCapability(PcieCapability):
    async def initiate_function_level_reset(self):
        await self.parent.function_level_reset()


class ShimDevice(Device):
    """Device container for the shim: answers UR to a DMWr that no function claims. (The package treats a
    DMWr like the memory write its fmt_type says it is, and drops an unclaimed write silently.) With a
    `direct` link (tb/pcie/direct.py), memory TLPs and completions bypass the simulated link."""

    direct: DirectLink | None = None
    # (requester ID, tag) of configuration writes being answered: their completions leave a time step later.
    config_requests: frozenset | set = frozenset()     # a set of its own once a direct link is attached

    async def upstream_send(self, tlp):
        if self.direct is None:
            await super().upstream_send(tlp)
            return
        if self.config_requests and tlp.is_completion():
            key = (int(tlp.requester_id), tlp.tag)
            if key in self.config_requests:
                self.config_requests.discard(key)
                # A configuration write's completion leaves one simulator time step after the write changed
                # the cfg_* inputs (written at the end of that step), so software never sees the write
                # complete before the RTL's inputs hold its effect. The simulated link gave the same order
                # (its delivery is a few ps later, no clock edge in between) for dozens of tasks and DLLPs
                # per completion: about half of a test's set-up CPU (enumeration writes 20 or so).
                await Timer(1, "step")
        await self.direct.send_up(tlp)     # Function.upstream_send has checked the TLP

    async def upstream_recv(self, tlp):
        if self.direct is not None:
            # Device.upstream_recv (cocotbext-pcie 0.2.16) for a memory request or completion: check it, hand it
            # to the function that claims it. The claim is computed once (the package's match_tlp builds
            # sets of enums per call, and a DMWr asked it twice); unclaimed TLPs take the path below.
            f = self.direct.function_for(tlp)
            if f is not None:
                assert tlp.check()
                await f.upstream_recv(tlp)
                return
        if isinstance(tlp, PasidTlp) and tlp.is_dmwr() and not any(f.match_tlp(tlp) for f in self.functions):
            tlp.release_fc()
            self.log.warning("DMWr to %#x matches no BAR: UR", tlp.address)
            await self.upstream_send(PasidTlp.create_ur_completion_for_tlp(tlp, self.functions[0].pcie_id))
            return
        await super().upstream_recv(tlp)


def _decode(stream: str, rx) -> PasidTlp:
    """A TLP the RTL sent; a malformed one (tb/pcie/tlp.py names the rule it breaks) fails the test."""
    try:
        return PasidTlp.from_stream_fields(*rx.fields)
    except TlpFormatError as exc:
        raise ProtocolError(f"{stream}: malformed TLP from the RTL: {exc}") from exc


class SentTlp(NamedTuple):
    """A TLP the device sent on tx_req: when its first beat was first shown, when its last beat was taken."""
    start_ns: float
    end_ns: float
    tlp: PasidTlp


class _Pending:
    """A host request forwarded on rx_req, waiting for its completion(s) on tx_cpl."""
    __slots__ = ("tlp", "deadline", "remaining", "next_addr")

    def __init__(self, tlp, deadline):
        self.tlp = tlp
        self.deadline = deadline
        self.remaining = tlp.get_be_byte_count()
        self.next_addr = tlp.address + (tlp.get_first_be_offset() if tlp.first_be else 0)


class LinkShim(Endpoint):
    """cocotbext-pcie endpoint function bridging a RootComplex port and the RTL's TLP streams."""

    def __init__(self, dut, clock, *, vendor_id: int, device_id: int, num_wqs: int, msix_table_size: int,
                 msix_table_offset: int, msix_pba_offset: int, class_code: int = 0x088000, revision_id: int = 0,
                 subsystem_vendor_id: int | None = None, subsystem_id: int = 0,
                 max_payload_size_supported: int = 2, completion_timeout_ns: int = 50_000,
                 check_egress_order: bool = True,
                 bme_grace_ns: float = 20.0, reset: str | None = "rst", ats: bool = False):
        install()
        if num_wqs < 1:
            raise ValueError("num_wqs must be >= 1")
        if not 1 <= msix_table_size <= 2048:
            raise ValueError(f"MSI-X table size {msix_table_size} outside 1..2048")
        for name, off, size in (("table", msix_table_offset, 16 * msix_table_size),
                                ("PBA", msix_pba_offset, 8 * -(-msix_table_size // 64))):
            if off % 8 or off + size > BAR0_SIZE:
                raise ValueError(f"MSI-X {name} offset {off:#x} must be QWORD aligned and fit in BAR0")
        super().__init__()
        quiet_per_tlp_log(self)       # the function's configuration-access lines
        self.dut = dut
        self.clock = clock
        self.completion_timeout_ns = completion_timeout_ns
        self.bme_grace_ns = bme_grace_ns
        self.stats: Counter = Counter()

        self.vendor_id = vendor_id
        self.device_id = device_id
        self.class_code = class_code
        self.revision_id = revision_id
        self.subsystem_vendor_id = vendor_id if subsystem_vendor_id is None else subsystem_vendor_id
        self.subsystem_id = subsystem_id

        self.num_wqs = num_wqs
        self.configure_bar(0, BAR0_SIZE, ext=True)
        self.configure_bar(2, WQ_PORTAL_SIZE * num_wqs, ext=True)
        self._bar_reset = list(self.bar)

        self.deregister_capability(self.pcie_cap)
        self.pcie_cap = _ShimPcieCapability()
        self.pcie_cap.function_level_reset_capability = True
        self.pcie_cap.max_payload_size_supported = max_payload_size_supported
        self.register_capability(self.pcie_cap)
        self._pcie_cap_reset = {k: v for k, v in vars(self.pcie_cap).items() if k not in _FLR_KEEPS}

        self.msix_cap = MsixCapability()
        self.msix_cap.msix_table_size = msix_table_size - 1
        self.msix_cap.msix_table_bar_indicator_register = 0
        self.msix_cap.msix_table_offset = msix_table_offset
        self.msix_cap.msix_pba_bar_indicator_register = 0
        self.msix_cap.msix_pba_offset = msix_pba_offset
        self.register_capability(self.msix_cap)

        self.pasid_cap = PasidExtCapability()
        self.register_extended_capability(self.pasid_cap)
        # ATS (docs/ats_pri.md 3.2, tb/pcie/ats_link.py): chained after PASID, only when a test asks for it.
        self.ats_cap = None
        if ats:
            if not hasattr(dut, "cfg_ats_en"):
                raise ValueError("ats=True needs an RTL with the ATS interface (cfg_ats_en, rx_msg)")
            self.ats_cap = AtsExtCapability()
            self.register_extended_capability(self.ats_cap)
        self.ats = AtsLinkState(self.ats_cap)
        # PRI (docs/ats_pri.md 3.2, tb/pcie/pri_link.py): after ATS, when the RTL has the PRI interface.
        self.pri_cap = None
        if ats and hasattr(dut, "cfg_pri_en"):
            # (Verilator drops a constant output from the VPI tree: an RTL with the PRI ports tied off has none)
            stopped = getattr(dut, "pri_stopped", None)
            self.pri_cap = PriExtCapability(stopped=(lambda: int(stopped.value)) if stopped is not None else (lambda: 1))
            self.register_extended_capability(self.pri_cap)
        self.pri = PriLinkState(self.pri_cap)
        # The translation agent's entry for the device's messages (Invalidate Completions), called in the
        # order the device sent them on tx_req, and observers of every TLP of tx_req in that order.
        self.message_handler: Callable | None = None
        self.tx_tlp_observers: list[Callable] = []

        for ft in _BAR_REQUESTS:
            self.register_rx_tlp_handler(ft, self._handle_bar_request)

        self.device = ShimDevice(self)

        # The RTL's active-high reset, if it has one by that name: the streams ignore the RTL while it is held.
        rst = getattr(dut, reset, None) if reset else None
        self.rx_req = TlpStreamSource(dut, "rx_req", clock, rst)
        self.rx_cpl = TlpStreamSource(dut, "rx_cpl", clock, rst)
        self.tx_cpl = TlpStreamSink(dut, "tx_cpl", clock, rst)
        self.tx_req = TlpStreamSink(dut, "tx_req", clock, rst)
        self.rx_msg = TlpStreamSource(dut, "rx_msg", clock, rst) if hasattr(dut, "rx_msg_valid") else None
        # PCIe ordering between the two egress streams, checked in every device test (tb/pcie/ordering.py).
        self.egress_order = EgressOrderChecker()
        if check_egress_order:
            self.tx_cpl.observers.append(self.egress_order.completion)
            self.tx_req.observers.append(self.egress_order.request)

        self._pending: OrderedDict[tuple[int, int], _Pending] = OrderedDict()
        self._flr_discarded: set[tuple[int, int]] = set()
        self._dev_reads: dict[int, PasidTlp] = {}
        # Reads the RTL had outstanding when an FLR started: their completions may still arrive ("stale
        # completions", PCIe Base §6.6.2) and are discarded here, since the reset RTL no longer expects them.
        self._stale_reads: dict[int, PasidTlp] = {}
        self._pending_added = Event()
        # Fault injection on the completions for the RTL's reads (link faults, not host behaviour): called with
        # each completion the host sends for a read of the RTL's and that read (the MRd), returns what reaches
        # rx_cpl instead, in order (nothing: lost on the link; corrupted copies; duplicates). The host's own
        # view of its answer (tags outstanding, Transactions Pending) follows the original.
        self.cpl_fault: Callable[[PasidTlp, PasidTlp], list[PasidTlp]] | None = None
        self._cfg: dict[str, int] = {}
        self._bme_history: list[tuple[float, bool]] = [(0.0, False)]
        # The last FLR: when it started and the PASID control before it (TLPs started before it finish after it).
        # Every TLP of tx_req with the time its first beat was first shown: "nothing after an FLR" means nothing
        # *started* after it (a TLP started before is finished, docs/tlp_interface.md).
        self.tx_req_log: list[SentTlp] = []
        # Every completion of tx_cpl likewise: when the device answered (e.g. the CMDSTS read that first
        # returned ACTIVE = 0 bounds the moment a command finished).
        self.tx_cpl_log: list[SentTlp] = []
        # Called with every host request that reaches the shim for a BAR (before it is checked or forwarded):
        # benches that record what went on the link (e.g. tb/vmm's DMWr log) observe here.
        self.rx_req_observers: list[Callable[[PasidTlp], None]] = []
        # The device sees an FLR at the rising edge that samples the `flr` pulse, the second edge after the
        # Initiate-FLR write reset the config space here. A TLP first shown at that edge or earlier (streams
        # read the values from before an edge) was decided before the device saw the FLR and is judged by
        # the controls in force before the write (_before_flr). From the write until that edge the boundary
        # is not known yet: +inf.
        self._flr_seen_ns = -math.inf
        self._before_flr = None
        self.flr_count = 0

        self.dut.flr.value = 0
        # ATS and PRI sideband and the ID-routed message stream of imsdev_top (docs/ats_pri.md 2.1): held at 0
        # (ATS and PRI disabled, no message) until the bench drives them; the RTL's inputs start random
        # (--x-initial unique).
        for name in ("cfg_ats_en", "cfg_ats_stu", "cfg_pri_en", "cfg_pri_reset", "cfg_pri_alloc", "rx_msg_valid",
                     "rx_msg_sop", "rx_msg_eop", "rx_msg_hdr", "rx_msg_prfx_valid", "rx_msg_prfx", "rx_msg_data"):
            if hasattr(dut, name):
                getattr(dut, name).value = 0
        self._drive_cfg()
        # Each raises on the first violation it sees, which fails the test (or, for a test that awaits the
        # task, hands it the exception).
        self.tasks = {"tx_cpl": cocotb.start_soon(self._run_tx_cpl()), "tx_req": cocotb.start_soon(self._run_tx_req()),
                      "watchdog": cocotb.start_soon(self._run_watchdog())}
        if self.pri_cap is not None:
            for name, on_set in (("pri_rf_set", self.pri.rf_set), ("pri_uprgi_set", self.pri.uprgi_set)):
                if hasattr(dut, name):
                    self.tasks[name] = cocotb.start_soon(self._run_pri_pulse(getattr(dut, name), on_set))

    # ---- wiring -------------------------------------------------------------------------------
    def connect(self, rc, direct: bool | None = None) -> None:
        """Place the device on a new root port of `rc`. `direct` (default: on unless IMSDEV_DIRECT_LINK=0)
        delivers memory TLPs and completions without the simulated link (tb/pcie/direct.py) when `rc` can
        (tb.pcie.root_complex.HostRootComplex)."""
        port = rc.make_port()
        quiet_per_tlp_log(port)          # the root port's configuration-access lines
        port.connect(self.device)
        if direct is None:
            direct = os.environ.get("IMSDEV_DIRECT_LINK", "1") != "0"
        if direct and hasattr(rc, "add_direct_link"):
            self.device.direct = DirectLink(rc, port, self.device)
            self.device.config_requests = set()
            rc.add_direct_link(self.device.direct)

    @property
    def notes(self) -> logging.Logger:
        """The shim's own INFO notes (FLR): a child of the function's logger, which quiet_per_tlp_log sets
        to WARNING (looked up by name, which follows the function's PCIe ID)."""
        return logging.getLogger(f"{self.log.name}.shim")

    @property
    def requester_id(self) -> int:
        """The BDF the RTL was told on cfg_bdf."""
        return self._cfg["cfg_bdf"]

    @property
    def streams(self):
        out = {"rx_req": self.rx_req, "rx_cpl": self.rx_cpl, "tx_cpl": self.tx_cpl, "tx_req": self.tx_req}
        if self.rx_msg is not None:
            out["rx_msg"] = self.rx_msg
        return out

    @property
    def outstanding(self) -> int:
        """Host requests forwarded to the RTL and not yet completed."""
        return len(self._pending)

    # ---- quiescence (tb/env.py Bench.settle) ----------------------------------------------------
    def activity(self) -> int:
        """Grows with every beat on the five streams and every TLP or message the shim handles: unchanged over
        a window means nothing crossed the link in it."""
        return sum(s.beat_count for s in self.streams.values()) + sum(self.stats.values())

    def owed(self) -> str | None:
        """What is still in flight across the link, or None: a request one side still owes an answer to, a
        TLP still being handed over or offered."""
        if self._pending:
            return f"{len(self._pending)} completion(s) the RTL owes the host"
        if self._dev_reads or self._stale_reads:
            return f"completions the host owes for {len(self._dev_reads) + len(self._stale_reads)} read(s) of the RTL"
        if self.pri.outstanding:
            return f"PRG Responses the host owes for {len(self.pri.outstanding)} page request group(s)"
        for name, s in self.streams.items():
            if s.showing or (isinstance(s, TlpStreamSource) and not s.idle):     # offered, or queued to send
                return f"{name} is moving a TLP"
        direct = self.device.direct
        if direct is not None and (direct.up.busy or direct.up.queue or not direct.downstream_idle):
            return "the direct link is handing a TLP over"
        return None

    # ---- configuration space ------------------------------------------------------------------
    def _drive_cfg(self):
        values = {
            "cfg_bdf": int(self.pcie_id),
            "cfg_bus_master_en": int(self.bus_master_enable),
            "cfg_msix_en": int(self.msix_cap.msix_enable),
            "cfg_msix_fn_mask": int(self.msix_cap.msix_function_mask),
            "cfg_pasid_en": int(self.pasid_cap.pasid_enable),
            "cfg_pasid_exec_en": int(self.pasid_cap.exec_enable),
            "cfg_pasid_priv_en": int(self.pasid_cap.priv_enable),
            "cfg_max_payload": self.pcie_cap.max_payload_size,
            "cfg_max_read_req": self.pcie_cap.max_read_request_size,
        }
        if getattr(self, "ats_cap", None) is not None:
            values["cfg_ats_en"] = int(self.ats_cap.enable)
            values["cfg_ats_stu"] = self.ats_cap.stu
        if getattr(self, "pri_cap", None) is not None:
            values["cfg_pri_en"] = int(self.pri_cap.enable)
            values["cfg_pri_alloc"] = self.pri_cap.allocation & 0xFFFF_FFFF
        coverage.link_config(bool(values["cfg_msix_en"]), bool(values["cfg_msix_fn_mask"]),
                             bool(values["cfg_bus_master_en"]))
        if values["cfg_bus_master_en"] != self._bme_history[-1][1]:
            self._bme_history = self._bme_history[-7:] + [(get_sim_time("ns"), bool(values["cfg_bus_master_en"]))]
        for name, val in values.items():
            if self._cfg.get(name) != val:
                getattr(self.dut, name).value = val
                self._cfg[name] = val

    def _bme_at(self, t_ns: float) -> bool:
        state = False
        for when, val in self._bme_history:
            if when > t_ns:
                break
            state = val
        return state

    # With the direct link, a configuration write's completion leaves a time step after the write (ShimDevice):
    # the cfg_* inputs it changed reach the RTL before software sees the write complete.
    async def handle_config_0_write_tlp(self, tlp):
        if self.device.direct is not None:
            self.device.config_requests.add((int(tlp.requester_id), tlp.tag))
        await super().handle_config_0_write_tlp(tlp)

    async def write_config_register(self, reg, data, mask):
        # PCIe: a configuration write (non-posted) may not pass posted MMIO writes received before it; they may
        # still be queued on rx_req, so the change waits until the RTL has taken every one of them.
        await self.rx_req.wait_idle()
        pri_en = self.pri_cap.enable if self.pri_cap is not None else None
        await super().write_config_register(reg, data, mask)
        self._drive_cfg()  # bus/device numbers are captured on config writes (the base does it before this)
        if self.pri_cap is not None and self.pri_cap.enable != pri_en:
            # the write completes once the device has sampled the new PRI Enable (its Stopped and slots follow
            # it a cycle later; a Status read right after the completion must see that)
            await RisingEdge(self.clock)
            await RisingEdge(self.clock)
        if self.pri_cap is not None and self.pri_cap.reset_requested:
            # PRI Control.R written with E = 0: one-cycle cfg_pri_reset, the credits/pending state are cleared
            self.pri_cap.reset_requested = False
            self.pri.pri_reset()
            await RisingEdge(self.clock)
            self.dut.cfg_pri_reset.value = 1
            await RisingEdge(self.clock)
            self.dut.cfg_pri_reset.value = 0

    async def _run_pri_pulse(self, signal, on_set):
        """pri_rf_set / pri_uprgi_set: one-cycle pulses from the device (combinational from rx_msg in the RTL),
        sampled in the middle of each clock cycle once the signal has risen: every cycle it is high sets the
        status bit once; a glitch that falls again before the sample does not count."""
        while True:
            await RisingEdge(signal)
            while True:
                await FallingEdge(self.clock)
                if not int(signal.value):
                    break
                on_set()

    async def function_level_reset(self):
        """Initiate FLR: discard outstanding work, return config state to reset values, pulse `flr`."""
        self.notes.info("Function Level Reset")
        self.stats["flr"] += 1
        self._flr_seen_ns = math.inf
        self._before_flr = self._upstream_controls()
        coverage.function_reset()
        self._flr_discarded.update(self._pending)
        self.egress_order.reset()
        self._pending.clear()
        self._stale_reads.update(self._dev_reads)
        self._dev_reads.clear()
        self._update_transactions_pending()
        dropped = self.rx_req.flush() + self.rx_cpl.flush() + (self.rx_msg.flush() if self.rx_msg else 0)
        if dropped:
            self.log.warning("FLR dropped %d TLPs not yet delivered to the RTL", dropped)

        self.io_space_enable = self.memory_space_enable = self.bus_master_enable = False
        self.parity_error_response_enable = self.serr_enable = self.interrupt_disable = False
        self.master_data_parity_error = self.signaled_target_abort = self.received_target_abort = False
        self.received_master_abort = self.signaled_system_error = self.detected_parity_error = False
        self.cache_line_size = 0
        self.interrupt_line = 0
        self.bar = list(self._bar_reset)
        self.expansion_rom_addr = 0
        self.expansion_rom_enable = 0
        vars(self.pcie_cap).update(self._pcie_cap_reset)
        self.msix_cap.msix_enable = False
        self.msix_cap.msix_function_mask = False
        self.pasid_cap.reset()
        if self.ats_cap is not None:
            self.ats_cap.reset()
        self.ats.flr()
        self.pri.flr()
        self._drive_cfg()

        await RisingEdge(self.clock)
        self.dut.flr.value = 1
        await RisingEdge(self.clock)
        self._flr_seen_ns = get_sim_time("ns")
        self.dut.flr.value = 0
        self.flr_count += 1

    # ---- host -> device requests --------------------------------------------------------------
    _MATCH_BAR_CACHE_MAX = 4096

    def match_bar(self, addr, io=False):
        """Function.match_bar, remembered per (address, io) while the BAR registers and masks stay as they were
        (a host request asked it three times: the direct link's claim, the BAR decode and the completion's
        coverage, each a Python loop over the six BARs); any change to `bar` or `bar_mask` starts afresh."""
        memo = self.__dict__.get("_match_bar_memo")
        if memo is None or memo[0] != self.bar or memo[1] != self.bar_mask:
            memo = self._match_bar_memo = (list(self.bar), list(self.bar_mask), {})
        found = memo[2]
        key = (addr, io)
        try:
            return found[key]
        except KeyError:
            pass
        if len(found) >= self._MATCH_BAR_CACHE_MAX:
            found.clear()
        hit = found[key] = super().match_bar(addr, io)      # (index, offset) or None: immutable
        return hit

    async def _handle_bar_request(self, tlp):
        for observe in self.rx_req_observers:
            observe(tlp)
        hit = self.match_bar(tlp.address)
        nonposted = tlp.is_nonposted()
        if hit is None or not self.memory_space_enable:
            why = "Memory Space Enable is clear" if hit else "no BAR matches"
            self.stats["ur_sent" if nonposted else "posted_dropped"] += 1
            self.log.warning("%s to %#x: %s; %s", "DMWr" if tlp.is_dmwr() else tlp.fmt_type.name, tlp.address,
                             why, "UR" if nonposted else "dropped")
            if nonposted:
                await self.send(PasidTlp.create_ur_completion_for_tlp(tlp, self.pcie_id))
            return
        if nonposted:
            key = (int(tlp.requester_id), tlp.tag)
            if key in self._pending:
                raise ProtocolError(f"host reused tag {key} while the RTL still owes its completion")
            self._flr_discarded.discard(key)
            self._pending[key] = _Pending(tlp, now_ns() + self.completion_timeout_ns)
            self._pending_added.set()
        self.stats["rx_req"] += 1
        coverage.host_request(tlp, *hit)
        self.rx_req.send_nowait(tlp.to_stream_fields(), bar=hit[0])

    async def _run_watchdog(self):
        while True:
            if not self._pending:
                self._pending_added.clear()
                await self._pending_added.wait()
                continue
            pend = next(iter(self._pending.values()))   # oldest first: deadlines grow with insertion
            now = get_sim_time("ns")
            if now >= pend.deadline:
                raise CompletionTimeout(f"the RTL did not complete {pend.tlp!r} within {self.completion_timeout_ns} "
                                        f"ns (forwarded on rx_req at {pend.deadline - self.completion_timeout_ns} ns)")
            await Timer(pend.deadline - now + 1, "ns", round_mode="ceil")

    def _check_completion(self, pend: _Pending, cpl) -> bool:
        """Validate a completion from tx_cpl against its request; True if it is the last one."""
        req = pend.tlp
        what = Lazy(lambda: f"completion {cpl!r} for {req!r}")
        if int(cpl.completer_id) != self.requester_id:
            raise ProtocolError(f"{what}: completer ID {int(cpl.completer_id):#06x}, "
                                f"cfg_bdf is {self.requester_id:#06x}")
        if cpl.tc != req.tc or (cpl.attr & 3) != (req.attr & 3):
            raise ProtocolError(f"{what}: TC/Attr differ from the request")
        # PCIe Base §2.2.9: BCM is set only by PCI-X completers; the device has no poisoned register data, the
        # stream carries no digest and a completion takes no TLP hint (docs/tlp_interface.md, Rules).
        if cpl.ep or cpl.td or cpl.th or cpl.bcm:
            raise ProtocolError(f"{what}: EP {int(cpl.ep)}, TD {int(cpl.td)}, TH {int(cpl.th)}, BCM {int(cpl.bcm)}: "
                                f"all 0 on the device's completions")
        if req.is_dmwr():
            if cpl.has_data():
                raise ProtocolError(f"{what}: a DMWr completes without data")
            return True
        if cpl.status != CplStatus.SC:
            if cpl.has_data():
                raise ProtocolError(f"{what}: unsuccessful completion with data")
            return True
        if not cpl.has_data():
            raise ProtocolError(f"{what}: successful read completion without data")
        if cpl.byte_count != pend.remaining:
            raise ProtocolError(f"{what}: Byte Count {cpl.byte_count}, {pend.remaining} bytes remain")
        if cpl.lower_address != pend.next_addr & 0x7F:
            raise ProtocolError(f"{what}: Lower Address {cpl.lower_address:#x}, expected {pend.next_addr & 0x7F:#x}")
        if len(cpl.data) > 128 << self.pcie_cap.max_payload_size:
            raise ProtocolError(f"{what}: {len(cpl.data)} payload bytes exceed Max_Payload_Size")
        carried = cpl.length * 4 - (cpl.lower_address & 3)
        if cpl.byte_count <= carried:
            return True
        pend.remaining -= carried
        pend.next_addr += carried
        return False

    async def _run_tx_cpl(self):
        while True:
            rx = await self.tx_cpl.recv()
            cpl = _decode("tx_cpl", rx)
            if not cpl.is_completion():
                raise ProtocolError(f"tx_cpl carried a request: {cpl!r}")
            self.tx_cpl_log.append(SentTlp(rx.start_ns, rx.end_ns, cpl))
            key = (int(cpl.requester_id), cpl.tag)
            pend = self._pending.get(key)
            if pend is None:
                if key in self._flr_discarded:
                    self._flr_discarded.discard(key)
                    self.log.warning("discarding completion for a request dropped by FLR: %r", cpl)
                    continue
                raise ProtocolError(f"tx_cpl: {cpl!r} matches no outstanding request")
            if self._check_completion(pend, cpl):
                del self._pending[key]
                coverage.host_completion(self.match_bar(pend.tlp.address)[0], cpl.status)
            self.stats["tx_cpl"] += 1
            await self.send(cpl)

    # ---- device -> host requests --------------------------------------------------------------
    def _upstream_controls(self) -> SimpleNamespace:
        """The controls a device request is judged by, under the names of the capability fields they copy
        (so the snapshot stands in for both pasid_cap and pcie_cap), with ATS Enable and a copy of PRI's
        state (tb/pcie/pri_link.py PriLinkState.snapshot)."""
        pc, ec = self.pasid_cap, self.pcie_cap
        return SimpleNamespace(pasid_enable=pc.pasid_enable, priv_enable=pc.priv_enable, exec_enable=pc.exec_enable,
                               max_payload_size=ec.max_payload_size,
                               max_read_request_size=ec.max_read_request_size,
                               extended_tag_field_enable=ec.extended_tag_field_enable,
                               ats_enable=self.ats.enabled, pri=self.pri.snapshot())

    def _check_upstream(self, tlp, start_ns: float):
        what = Lazy(lambda: f"tx_req {tlp!r}")
        # A TLP the device started before it saw an FLR is finished after it (docs/tlp_interface.md): it is
        # judged by the controls in force before the FLR's write reset them.
        before_flr = start_ns <= self._flr_seen_ns
        pc = self._before_flr if before_flr else self.pasid_cap
        ec = self._before_flr if before_flr else self.pcie_cap
        # docs/dma.md "Headers": every request of the device (DMA data, completion records, interrupt messages,
        # descriptor fetches, Translation Requests, Page Requests, Invalidate Completions) has TC 0 (the only TC
        # a single-VC link maps) and Attr 000b: a record or an interrupt may not carry Relaxed Ordering or
        # ID-Based Ordering past the data before it, and No Snoop would bypass the host's caches. No TLP hint
        # (TH), no digest (TD: the stream carries none), never poisoned (EP: the device has no poisoned data to
        # send, a poisoned read fails its command), and a memory write's Tag is 0 (reserved without TH).
        if int(tlp.tc) or int(tlp.attr) or tlp.th or tlp.td or tlp.ep or (tlp.is_mem_write() and tlp.tag):
            raise ProtocolError(f"{what}: TC {int(tlp.tc)}, Attr {int(tlp.attr):#05b}, TH {int(tlp.th)}, "
                                f"TD {int(tlp.td)}, EP {int(tlp.ep)}, tag {tlp.tag}: the device's requests use "
                                f"TC 0, Attr 000b, no TH/TD/EP and (memory writes) tag 0 (docs/dma.md Headers)")
        if tlp.is_message():
            if tlp.is_page_request():
                # a Page Request is a request like any other: only with Bus Master Enable (docs/ats_pri.md 3.2)
                if not self._bme_at(start_ns) and not self._bme_at(start_ns - self.bme_grace_ns):
                    raise ProtocolError(f"{what}: Page Request sent at {start_ns} ns while Bus Master Enable is clear")
                # One started before the FLR is checked against PRI as it was then (Enable, allocation, the PRGs
                # outstanding) and counted there: the FLR ended those PRGs, so it is not outstanding after it.
                (pc.pri if before_flr else self.pri).check_page_request(tlp, self.requester_id, pc)
                return
            # Invalidate Completions go out whatever Bus Master Enable is (PCIe §10.3.1).
            self.ats.check_upstream(tlp, self.requester_id)
            return
        if not (tlp.is_mem_read() or tlp.is_mem_write()):
            raise ProtocolError(f"{what}: only MRd/MWr may be sent upstream")
        if not self._bme_at(start_ns) and not self._bme_at(start_ns - self.bme_grace_ns):
            raise ProtocolError(f"{what}: sent at {start_ns} ns while Bus Master Enable is clear")
        self.ats.check_upstream(tlp, self.requester_id, enabled=pc.ats_enable if before_flr else None)
        if int(tlp.requester_id) != self.requester_id:
            raise ProtocolError(f"{what}: requester ID {int(tlp.requester_id):#06x}, "
                                f"cfg_bdf is {self.requester_id:#06x}")
        if tlp.has_prefix:
            if not pc.pasid_enable or (tlp.pmr and not pc.priv_enable) or (tlp.er and not pc.exec_enable):
                raise ProtocolError(f"{what}: PASID prefix (PMR={tlp.pmr}, ER={tlp.er}) not enabled by PASID control "
                                    f"(enable={pc.pasid_enable}, priv={pc.priv_enable}, exec={pc.exec_enable})")
        # Header format, 4 KiB crossing and Byte Enables were checked when the TLP was decoded
        # (tb/pcie/tlp.py request_format_error).
        nbytes = tlp.length * 4
        if tlp.is_mem_write():
            if nbytes > 128 << ec.max_payload_size:
                raise ProtocolError(f"{what}: {nbytes} bytes exceed Max_Payload_Size")
            return
        if nbytes > 128 << ec.max_read_request_size:
            raise ProtocolError(f"{what}: {nbytes} bytes exceed Max_Read_Request_Size")
        tags = 256 if ec.extended_tag_field_enable else 32
        if tlp.tag >= tags:
            raise ProtocolError(f"{what}: tag {tlp.tag} needs {'10-bit' if tags == 256 else 'extended'} tags")
        if tlp.tag in self._dev_reads:
            raise ProtocolError(f"{what}: tag {tlp.tag} is still outstanding")
        if tlp.tag in self._stale_reads:
            # A stale completion would be taken for this request's data. Software avoids this by waiting for
            # Transactions Pending to clear before an FLR (Linux pcie_flr()); the bench's host answers within
            # nanoseconds, so reaching here means a completion went missing.
            raise ProtocolError(f"{what}: tag {tlp.tag} reused while a completion for the read made before the "
                                f"FLR is still due ({self._stale_reads[tlp.tag]!r})")

    async def _run_tx_req(self):
        while True:
            rx = await self.tx_req.recv()
            tlp = _decode("tx_req", rx)
            self._check_upstream(tlp, rx.start_ns)
            self.tx_req_log.append(SentTlp(rx.start_ns, rx.end_ns, tlp))
            for observe in self.tx_tlp_observers:
                observe(tlp)
            if tlp.is_message():
                self.stats["tx_msg"] += 1
                if self.message_handler is None:
                    raise ProtocolError(f"tx_req: message {tlp!r} but no translation agent is attached")
                self.message_handler(tlp)
                continue
            if tlp.is_mem_read():
                if rx.start_ns <= self._flr_seen_ns:
                    # made before the device saw the FLR: its completion is discarded, like those of the reads
                    # outstanding when the FLR was written
                    self._stale_reads[tlp.tag] = tlp
                else:
                    self._dev_reads[tlp.tag] = tlp
                self._update_transactions_pending()
            self.stats["tx_req"] += 1
            await self.send(tlp)

    def _update_transactions_pending(self):
        # Device Status.Transactions Pending: a read of the RTL's still waits for its completion. It is clear
        # once an FLR completes (PCIe Base §7.5.3.5), whatever stale completions are still due.
        self.pcie_cap.transactions_pending = bool(self._dev_reads)

    async def handle_tlp(self, tlp):
        if not tlp.is_completion():
            await handle_tlp(self, tlp)       # Function.handle_tlp (tb/pcie/dispatch.py)
            return
        # Completions for the RTL's reads go to rx_cpl, not to cocotbext-pcie's own tag queues.
        tlp.release_fc()
        final = tlp.status != CplStatus.SC or not tlp.has_data() or \
            tlp.byte_count <= tlp.length * 4 - (tlp.lower_address & 3)
        req = self._dev_reads.get(tlp.tag)
        if req is None:
            if tlp.tag not in self._stale_reads:
                raise ProtocolError(f"completion {tlp!r} for tag {tlp.tag}, which the RTL has not requested")
            self.notes.info("discarding a completion for tag %d, requested before the FLR", tlp.tag)
            self.stats["stale_cpl"] += 1
            if final:
                del self._stale_reads[tlp.tag]
                self._update_transactions_pending()
            return
        if final:
            del self._dev_reads[tlp.tag]
            self._update_transactions_pending()
        for out in ([tlp] if self.cpl_fault is None else self.cpl_fault(tlp, req)):
            self.stats["rx_cpl"] += 1
            self.rx_cpl.send_nowait(out.to_stream_fields())

    def deliver_message(self, tlp: PasidTlp) -> None:
        """Put an ID-routed message for this function (an Invalidate Request from the TA) on rx_msg."""
        if self.rx_msg is None:
            raise ValueError("the RTL has no rx_msg stream")
        if tlp.is_inv_request():
            self.ats.invalidate_sent(tlp)
        elif tlp.is_prg_response():
            self.pri.response_sent(tlp)
        self.stats["rx_msg"] += 1
        self.rx_msg.send_nowait(tlp.to_stream_fields())

    def inject_completion(self, tlp: PasidTlp) -> None:
        """Put a completion on rx_cpl that answers no read of the host's: an unsolicited (unexpected)
        completion, as a faulty or confused completer would send. It must still be a well-formed TLP."""
        if not tlp.is_completion():
            raise ValueError(f"inject_completion: {tlp!r} is not a completion")
        self.stats["rx_cpl_injected"] += 1
        self.rx_cpl.send_nowait(tlp.to_stream_fields())

    def outstanding_tags(self) -> set[int]:
        """Tags of the RTL's reads the host has not finished answering."""
        return set(self._dev_reads)

    def outstanding_reads(self) -> dict[int, PasidTlp]:
        """The RTL's reads the host has not finished answering, by tag (the request TLPs themselves)."""
        return dict(self._dev_reads)
