"""Functional coverage of the device bench: the hooks the bench's monitors call, one call per event.

The covergroups are in :mod:`tb.coverage.model`. The hooks turn bench events into covergroup samples:

* the link shim reports every host request it forwards (:func:`host_request`), every final completion
  of one (:func:`host_completion`), configuration-space changes (:func:`link_config`) and FLR
  (:func:`function_reset`); the device->host stream sinks report every TLP (:func:`device_tlp`);
* the interrupt monitors report messages (:func:`raw_message`, :func:`platform_message`);
* the work-queue scoreboard reports completion records (:func:`completion_record`) and checked
  descriptors (:func:`descriptor_checked`); WqEnv reports commands (:func:`command`) and SWERR reads
  (:func:`swerr`).

Some coverpoints need state no single event carries (is the entry masked, was it already pending, is the
WQ enabled): :class:`DeviceShadow` keeps it, from the MMIO writes and configuration changes the link
shim reports, the way the spec says the device must keep it. Tests check the device against the spec;
coverage counts which of the spec's situations they created.

Hooks are cheap (a dictionary update, a few comparisons): none runs per clock cycle. Before
:func:`start` (e.g. in unit tests without a bench) every hook does nothing.

At interpreter exit (cocotb finalizes Python when the simulator ends) the hits are written to
``coverage.json`` next to the run's results.xml, i.e. ``sim/results/<run>/coverage.json``;
sim/coverage_report.py merges those files.
"""
from __future__ import annotations

import atexit
import json
import os
from pathlib import Path

import cocotb

from imsdev import regs
from tb.coverage import model
from tb.simtime import now_ns

FOUR_GIB = 1 << 32
PAGE = 4096
_CMD_NAMES = {v: k for k, v in regs.ENUMS["CMD"].items()}
_CMD_ERR_NAMES = {v: k for k, v in regs.ENUMS["CMD_ERR"].items()}
_SWERR_NAMES = {v: k for k, v in regs.ENUMS["SWERR"].items()}
_WQ_COMMAND_CODES = {regs.ENUMS["CMD"][name] for name in model.WQ_COMMANDS}
_FLAG_BITS = {"FENCE": 0x1, "BOF": 0x2, "CRAV": 0x4, "RCR": 0x8, "RCI": 0x10, "CC": 0x100, "STORD": 0x2000}
_FLAGS_ACCEPTED = sum(_FLAG_BITS.values())
_OPCODE_NAMES = {0x00: "NOOP", 0x02: "DRAIN", 0x03: "MEMMOVE", 0x04: "MEMFILL"}
_HANDLE_IMS = 0x8000
_MSIX_TABLE_END = regs.MSIX_TABLE_BASE + regs.MSIX_TABLE_SIZE
_IMS_END = regs.IMS_BASE + regs.IMS_SIZE


class _Entry:
    """What the spec says an MSI-X vector or IMS entry holds; reset: masked, no binding, address/data 0."""
    __slots__ = ("masked", "pasid_en", "pasid", "addr_lo", "addr_hi", "data", "pending")

    def __init__(self):
        self.masked = True
        self.pasid_en = False
        self.pasid = 0
        self.addr_lo = self.addr_hi = self.data = 0
        self.pending = False

    @property
    def message(self) -> tuple[int, int]:
        return (self.addr_hi << 32) | self.addr_lo, self.data


class DeviceShadow:
    """Device state the coverpoints classify events by, kept from host requests and config changes."""

    def __init__(self, bench):
        self.bench = bench
        self.params = bench.params
        self.msix: dict[int, _Entry] = {}
        self.ims: dict[tuple[int, int], _Entry] = {}
        self.msix_enabled = self.function_masked = self.bus_master = False
        self.device_enabled = False
        self.wq_enabled: set[int] = set()
        self.message_sources: dict[tuple[int, int], str] = {}   # (address, data) -> "msix" / "ims"
        self.portal_awaiting_reason: str | None = None          # outcome of the last portal request
        self.last_tlp_end_ns: dict[str, float] = {}

    # ---- context ---------------------------------------------------------------------------------
    @property
    def link(self) -> str:
        return self.bench.pauses

    @property
    def platform(self) -> str:
        return self.bench.platform.name if self.bench.platform is not None else "none"

    # ---- interrupts ------------------------------------------------------------------------------
    def _msix_state(self, entry: _Entry) -> str:
        if not self.bus_master:
            return "bus_master_off"
        if not self.msix_enabled:
            return "msix_disabled"
        if self.function_masked:
            return "function_masked"
        return "masked" if entry.masked else "unmasked"

    def raise_msix(self, vector: int):
        entry = self.msix.setdefault(vector, _Entry())
        state = self._msix_state(entry)
        outcome = {"bus_master_off": "held", "unmasked": "sent"}.get(state, "pended")
        model.sample_interrupt("msix", state, str(int(entry.pending)), "none", outcome, self.platform, self.link)
        entry.pending |= outcome in ("pended", "held")     # held = pending until Bus Master Enable is set
        n = self.params.msix_vectors
        roles = {0: "first", 1: "second", 31: "31", 32: "32", 63: "63", 64: "64", n - 1: "last"}
        if vector in roles:
            model.sample_msix_vector(roles[vector])
        if vector == n - 1 and roles[vector] != "last":
            model.sample_msix_vector("last")

    def raise_ims(self, wq: int, index: int, pasid: int | None):
        entry = self.ims.setdefault((wq, index), _Entry())
        binding = "none" if not entry.pasid_en else "match" if entry.pasid == pasid else "mismatch"
        if not self.bus_master:
            state = "bus_master_off"
        else:
            state = "masked" if entry.masked else "unmasked"
        # The PASID check comes first: a mismatch is dropped (never pended or held), whatever the state.
        outcome = ("dropped_pasid" if binding == "mismatch" else "held" if not self.bus_master
                   else "pended" if entry.masked else "sent")
        model.sample_interrupt("ims", state, str(int(entry.pending)), binding, outcome, self.platform, self.link)
        entry.pending |= outcome in ("pended", "held")     # held = pending until Bus Master Enable is set
        if index == 0:
            model.sample_ims_window(f"wq{wq}:first")
        if index == self.params.ims_per_wq - 1:
            model.sample_ims_window(f"wq{wq}:last")

    def _replay(self, source: str, entry: _Entry):
        """A pending entry became deliverable: the device sends its message once and clears pending."""
        binding = "none" if not entry.pasid_en else "match"
        model.sample_interrupt(source, "unmasked", "1", binding, "replayed", self.platform, self.link)
        entry.pending = False

    def _msix_open(self) -> bool:
        """The function may send MSI-X messages: Bus Master Enable, MSI-X Enable, no Function Mask."""
        return self.bus_master and self.msix_enabled and not self.function_masked

    def _msix_deliverable(self, entry: _Entry) -> bool:
        return self._msix_open() and not entry.masked

    # ---- MMIO decode -----------------------------------------------------------------------------
    def bar0_write(self, offset: int, value: int):
        """One DWORD the host wrote to BAR0."""
        if regs.MSIX_TABLE_BASE <= offset < _MSIX_TABLE_END:
            rel = offset - regs.MSIX_TABLE_BASE
            self._entry_write("msix", self.msix.setdefault(rel // regs.MSIX_TABLE_STRIDE, _Entry()),
                              rel % regs.MSIX_TABLE_STRIDE, value)
        elif regs.IMS_BASE <= offset < _IMS_END:
            rel = offset - regs.IMS_BASE
            key = (rel // regs.IMS_STRIDE, rel % regs.IMS_STRIDE // regs.IMS_ENTRY_STRIDE)
            self._entry_write("ims", self.ims.setdefault(key, _Entry()), rel % regs.IMS_ENTRY_STRIDE, value)
        elif offset == regs.CSR_MSIX_TRIGGER:
            self.raise_msix(value & regs.CSR_MSIX_TRIGGER_VECTOR_MASK)

    def _entry_write(self, source: str, entry: _Entry, field: int, value: int):
        if field == regs.MSIX_TABLE_VECTOR_CTRL:          # same offset as IMS_ENTRY_CTRL
            entry.masked = bool(value & regs.MSIX_TABLE_VECTOR_CTRL_MASK_MASK)
            if source == "ims":
                entry.pasid_en = bool(value & regs.IMS_ENTRY_CTRL_PASID_EN_MASK)
                entry.pasid = (value & regs.IMS_ENTRY_CTRL_PASID_MASK) >> regs.IMS_ENTRY_CTRL_PASID_SHIFT
                deliverable = not entry.masked and self.bus_master
            else:
                deliverable = self._msix_deliverable(entry)
            if entry.pending and deliverable:
                self._replay(source, entry)
            return
        if source == "ims" and not entry.masked:
            return          # torn-message rule: address/data writes to an unmasked IMS entry are dropped
        if field == regs.MSIX_TABLE_ADDR_LO:
            entry.addr_lo = value
        elif field == regs.MSIX_TABLE_ADDR_HI:
            entry.addr_hi = value
        else:
            entry.data = value
        self.message_sources[entry.message] = source

    def config(self, msix_enabled: bool, function_masked: bool, bus_master: bool):
        """A configuration change: when MSI-X becomes deliverable (Enable, Function Mask, Bus Master Enable)
        every pending unmasked vector is sent once; when Bus Master Enable is set, every pending unmasked IMS
        entry (IMS does not depend on the MSI-X capability)."""
        msix_was_open, ims_was_open = self._msix_open(), self.bus_master
        self.msix_enabled, self.function_masked, self.bus_master = msix_enabled, function_masked, bus_master
        if self._msix_open() and not msix_was_open:
            for entry in self.msix.values():
                if entry.pending and not entry.masked:
                    self._replay("msix", entry)
        if bus_master and not ims_was_open:
            for entry in self.ims.values():
                if entry.pending and not entry.masked:
                    self._replay("ims", entry)

    def reset(self):
        """FLR: every entry, enable and queue back to its reset value."""
        self.msix.clear()
        self.ims.clear()
        self.device_enabled = False
        self.wq_enabled.clear()

    # ---- commands --------------------------------------------------------------------------------
    def command(self, code: int, operand: int, err: int):
        device_state = "enabled" if self.device_enabled else "disabled"
        error = _CMD_ERR_NAMES.get(err, "?")
        ok = err == regs.CMD_ERR_OK
        if code in _WQ_COMMAND_CODES:
            wq_state = ("invalid_wq" if operand >= self.params.num_wq else
                        "enabled" if operand in self.wq_enabled else "disabled")
            model.sample_wq_command(_CMD_NAMES[code], wq_state, device_state, error)
            if ok and code == regs.CMD_ENABLE_WQ:
                self.wq_enabled.add(operand)
            elif ok and code in (regs.CMD_DISABLE_WQ, regs.CMD_RESET_WQ):
                self.wq_enabled.discard(operand)
            return
        model.sample_device_command(_CMD_NAMES.get(code, "invalid"), device_state, error)
        if ok and code == regs.CMD_ENABLE_DEVICE:
            self.device_enabled = True
        elif ok and code in (regs.CMD_DISABLE_DEVICE, regs.CMD_RESET_DEVICE):
            self.device_enabled = False
            self.wq_enabled.clear()


_shadow: DeviceShadow | None = None
_run: dict = {}


# ---- lifecycle ------------------------------------------------------------------------------------------
def start(bench):
    """A test's bench came up (device reset): classify from reset state on, export when the run ends."""
    global _shadow
    _shadow = DeviceShadow(bench)
    if not _run:
        results = os.environ.get("COCOTB_RESULTS_FILE")
        # A mutation-campaign run (sim/mutation) simulates a broken design: its hits are not the regression's.
        measured = results and "IMSDEV_MUTANT" not in cocotb.plusargs
        _run.update(path=Path(results).parent / "coverage.json" if measured else None, config=bench.params.name)
        atexit.register(export)


def export(path: Path | None = None):
    """Write every coverpoint's hits (the whole run: all tests of the module) as JSON."""
    path = path or _run.get("path")
    if path is None:
        return
    path.write_text(json.dumps({"run": path.parent.name, "config": _run.get("config"),
                                "platform": os.environ.get("IMSDEV_PLATFORM") or None,
                                "items": model.hits()}, indent=1))


# ---- link hooks (tb/pcie) -------------------------------------------------------------------------------
def host_request(tlp, bar: int, offset: int):
    """The link shim forwards a host request to the device (BAR `bar`, `offset` into it)."""
    if _shadow is None:
        return
    model.sample_request_header("rx_req", f"{tlp.get_header_size_dw()}DW")
    if bar == 2:
        # A posted portal write is dropped if a SWERR follows; a non-posted one waits for its completion.
        _shadow.portal_awaiting_reason = "dropped" if tlp.is_mem_write() else None
    elif bar == 0 and tlp.is_mem_write():
        data = bytes(tlp.data)
        first = offset + (tlp.get_first_be_offset() if tlp.first_be else 0)
        for i in range(0, len(data) - len(data) % 4, 4):
            _shadow.bar0_write((first & ~3) + i, int.from_bytes(data[i:i + 4], "little"))


def host_completion(bar: int, status):
    """The device answered a host request (its last completion): portal outcomes."""
    if _shadow is None or bar != 2:
        return
    outcome = "RRS" if status.name == "CRS" else status.name
    if outcome in ("SC", "RRS"):
        model.sample_portal(outcome, "none")
        _shadow.portal_awaiting_reason = None
    else:
        _shadow.portal_awaiting_reason = outcome


def link_config(msix_enabled: bool, function_masked: bool, bus_master: bool):
    if _shadow is not None:
        _shadow.config(msix_enabled, function_masked, bus_master)


def ats_translation(outcome: str, side: str):
    """tb/pcie/ats_agent.py answered a Translation Request (outcome per model.ATS_OUTCOMES)."""
    if _shadow is not None:
        model.sample_ats_translation(outcome, side, _shadow.platform)


def ats_entry_size(log2_pages: int):
    """A granted translation's size; sizes other than 4K/2M/1G are not sampled."""
    size = {0: "4K", 9: "2M", 18: "1G"}.get(log2_pages)
    if _shadow is not None and size is not None:
        model.sample_ats_entry_size(size, _shadow.platform)


def ats_invalidation(scope: str, pasid: bool, reads_outstanding: bool):
    """An Invalidate Request got its Invalidate Completion; `reads_outstanding`: translated reads were
    outstanding when it was sent."""
    if _shadow is not None:
        model.sample_ats_invalidation(scope, "pasid" if pasid else "no_pasid",
                                      "reads_outstanding" if reads_outstanding else "idle")


def pri_response(response: str, side: str):
    """The host sent a PRG Response (model.PRI_RESPONSES x model.PRI_SIDES)."""
    if _shadow is not None:
        model.sample_pri_response(response, side, _shadow.platform)


def pri_enable(allocation: int):
    if _shadow is not None:
        model.sample_pri_enable(str(allocation) if allocation < 2 else "2")


def pri_bof(reason: str):
    """A BOF descriptor's fault ended as effective BOF or as no-BOF for `reason` (model.PRI_BOF)."""
    if _shadow is not None:
        model.sample_pri_bof(reason)


def pri_retries(retries: int):
    if _shadow is not None:
        model.sample_pri_retries(str(retries) if retries < 2 else ">1")


def function_reset():
    if _shadow is not None:
        _shadow.reset()


def device_tlp(stream: str, hdr: int, start_ns: float, stalled_cycles: int):
    """A device->host stream sink received a whole TLP: `start_ns` when its first beat was offered,
    `stalled_cycles` how long the sink's backpressure held it."""
    if _shadow is None:
        return
    now = now_ns()
    last = _shadow.last_tlp_end_ns.get(stream)
    _shadow.last_tlp_end_ns[stream] = now
    gap = None if last is None else round((start_ns - last) / _clock_ns()) - 1
    model.sample_device_tlp(stream, _gap_class(gap), _backpressure_class(stalled_cycles))
    if stream == "tx_req":
        model.sample_request_header("tx_req", "4DW" if hdr >> 125 & 1 else "3DW")


_CLOCK_NS: list[float] = []


def _clock_ns() -> float:
    if not _CLOCK_NS:
        from tb.env import CLOCK_NS    # tb.env imports this package: import at first use, not at load
        _CLOCK_NS.append(CLOCK_NS)
    return _CLOCK_NS[0]


def _gap_class(gap: int | None) -> str:
    if gap is None or gap >= 64:
        return "64+"         # the first TLP of a test: the stream was idle since reset
    if gap <= 0:
        return "back_to_back"
    return "1" if gap == 1 else "2..7" if gap < 8 else "8..63"


def _backpressure_class(cycles: int) -> str:
    if cycles <= 1:
        return str(cycles)
    return "2..3" if cycles < 4 else "4..15" if cycles < 16 else "16+"


# ---- interrupt monitors (tb/msglog.py, tb/platform_bench.py) --------------------------------------------
def raw_message(addr: int, data: int, header_dw: int):
    if _shadow is not None:
        model.sample_raw_message(_shadow.message_sources.get((addr, data), "unknown"), f"{header_dw}DW", _shadow.link)


def platform_message(addr: int, data: bytes, deliveries: list, faults: list):
    """The platform consumed a device write: `deliveries` and `faults` are what it produced for it."""
    if _shadow is None:
        return
    if deliveries:
        outcome = "delivered"
    elif faults:
        reason = faults[0].reason
        outcome = f"fault_{int(reason):#04x}" if _shadow.platform == "x86" else getattr(reason, "value", reason)
    else:
        return      # consumed without a result yet (an LPI held pending): nothing to classify
    source = _shadow.message_sources.get((addr, int.from_bytes(data, "little")), "unknown")
    model.sample_platform_message(f"{_shadow.platform}:{outcome}", source, _shadow.link)


# ---- work-queue side (tb/wq.py) -------------------------------------------------------------------------
def command(code: int, operand: int, err: int):
    if _shadow is not None:
        _shadow.command(code, operand, err)


def swerr(code: int):
    """Software read a valid SWERR record of one error (no OVERFLOW): the reason of the portal rejection
    it is waiting for."""
    if _shadow is None or _shadow.portal_awaiting_reason is None:
        return
    name = _SWERR_NAMES.get(code)
    if name in model.PORTAL_REASONS:
        model.sample_portal(_shadow.portal_awaiting_reason, name)
        _shadow.portal_awaiting_reason = None


def completion_record(t):
    """The first completion record write of scoreboard descriptor `t`: its completion interrupt follows."""
    d = t.desc
    if _shadow is None or not d.flags & _FLAG_BITS["RCI"] or t.status == 0x19:
        return
    # A descriptor that failed an earlier check (e.g. 0x13) with a bad handle raises nothing either.
    if d.int_handle & _HANDLE_IMS:
        if d.int_handle & 0x7FFF < _shadow.params.ims_per_wq:
            _shadow.raise_ims(t.wq, d.int_handle & 0x7FFF, t.pasid)
    elif d.int_handle & 0x7FF < _shadow.params.msix_vectors and not d.int_handle & 0x7800:
        _shadow.raise_msix(d.int_handle & 0x7FF)


def descriptor_checked(t):
    """The scoreboard checked descriptor `t` for the first time (its fate is final)."""
    if _shadow is None:
        return
    d = t.desc
    submission = {"enqcmd": "enqcmd_shared", "movdir64b": "movdir64b_dedicated"}.get(t.via, "raw")
    executed = t.state == "completed" or t.state == "accepted"
    fate = t.state if not executed else (
        "no_cr_swerr" if t.no_cr_swerr else "completed" if t.writes_cr else "completed_no_record")
    model.sample_descriptor_fate(fate, submission)
    if not executed:
        return
    opcode = _OPCODE_NAMES.get(d.opcode, "invalid")
    flags = {name for name, bit in _FLAG_BITS.items() if d.flags & bit}
    if d.flags & ~_FLAGS_ACCEPTED:
        flags.add("invalid")
    status = "success" if t.status == 0x01 else f"{t.status:#04x}"
    if getattr(t, "batch", None) is not None:          # a batch member
        model.sample_batch_member(opcode, flags, status)
    if d.opcode == 0x01 and getattr(t, "batch_limit", None) is not None:   # a batch descriptor itself
        n, top = d.size, t.batch_limit
        count = ("0..1" if n < 2 else "2" if n == 2 else "max" if n == top else "above_max" if n > top
                 else "3..max-1")
        model.sample_batch(status, count, submission, _shadow.link)
        return
    if t.pasid is None:
        pasid_mode = "no_pasid"
    else:
        pasid_mode = ("priv" if t.priv else "user") + ("_pasid_19_16" if t.pasid >> 16 else "")
    model.sample_descriptor(opcode, flags, status, submission, pasid_mode)
    if opcode in model.DATA_OPCODES:
        model.sample_data_operation(opcode, _size_class(d.size),
                                    "yes" if _crosses_page(d.dst, d.size) or
                                    (opcode == "MEMMOVE" and _crosses_page(d.src, d.size)) else "no",
                                    _alignment(d.src) if opcode == "MEMMOVE" else "n/a", _alignment(d.dst),
                                    _address_class(d.dst, d.size))


def _size_class(size: int) -> str:
    if size in (0, 1, 64, 4096):
        return str(size)
    return "2..63" if size < 64 else "65..4095" if size < 4096 else "4097+"


def _crosses_page(addr: int, size: int) -> bool:
    return size > 0 and addr // PAGE != (addr + size - 1) // PAGE


def _alignment(addr: int) -> str:
    return "64B" if addr % 64 == 0 else "8B" if addr % 8 == 0 else "4B" if addr % 4 == 0 else "odd"


def _address_class(addr: int, size: int) -> str:
    """Where a buffer lies against 4 GiB (the 3DW/4DW header boundary): at = starts at or spans it."""
    if addr + max(size, 1) <= FOUR_GIB:
        return "below_4G"
    return "at_4G" if addr <= FOUR_GIB else "above_4G"
