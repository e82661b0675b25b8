"""The covergroups of the functional coverage model (issue 8, "Functional coverage"), on cocotb-coverage.

Each ``sample_*`` function is one covergroup: calling it with the values of one event counts that event
in every coverpoint and cross the function is decorated with. Bins are named by strings (crosses by
tuples of strings), so an exported bin reads the same in the report and in the waiver file.

Nothing here touches the simulator: sim/coverage_report.py imports this module to learn the current bin
set, which is the universe the merged exports are measured against.

Crosses only combine items whose combinations are meant to occur; a combination that cannot happen
inside a kept cross is waived in sim/coverage_waivers.toml with the reason.
"""
from __future__ import annotations

from cocotb_coverage.coverage import CoverCross, CoverPoint, coverage_db

from tb.params import _load_configs   # the build configurations decide how many WQ IMS windows exist

ROOT = "imsdev"

# ---- shared vocabularies ----------------------------------------------------------------------------
LINK_MODES = ("none", "idle", "backpressure", "both")   # tb.env.PAUSE_MODES
PLATFORMS = ("none", "x86", "arm")
SOURCES = ("msix", "ims")
ENTRY_STATES = ("unmasked", "masked", "function_masked", "msix_disabled", "bus_master_off")
PENDING_BEFORE = ("0", "1")
BINDINGS = ("none", "match", "mismatch")
# What the device does with a raised interrupt: sent now, latched pending, dropped by the IMS PASID check,
# sent later from pending when the entry is unmasked / enabled, or held while bus mastering is off.
DEVICE_OUTCOMES = ("sent", "pended", "dropped_pasid", "replayed", "held")
X86_OUTCOMES = ("delivered", "fault_0x20", "fault_0x21", "fault_0x22", "fault_0x23", "fault_0x24",
                "fault_0x25", "fault_0x26")
# ITS reasons a device write can be dropped for at translation time, and the SMMU's translation fault.
ARM_OUTCOMES = ("delivered", "device_unmapped", "device_id_out_of_range", "event_unmapped",
                "event_id_out_of_range", "collection_unmapped", "its_disabled", "bad_access",
                "table_memory_error", "translation_fault")
PLATFORM_OUTCOMES = tuple(f"x86:{o}" for o in X86_OUTCOMES) + tuple(f"arm:{o}" for o in ARM_OUTCOMES)
HEADER_FORMATS = ("3DW", "4DW")

MSIX_VECTOR_ROLES = ("first", "second", "31", "32", "63", "64", "last")
MAX_WQS = max(c.params["NUM_WQ"] for c in _load_configs().values())
IMS_ENTRY_ROLES = ("first", "last")
IMS_WINDOWS = tuple(f"wq{w}:{role}" for w in range(MAX_WQS) for role in IMS_ENTRY_ROLES)

OPCODES = ("NOOP", "DRAIN", "MEMMOVE", "MEMFILL", "invalid")
DATA_OPCODES = ("MEMMOVE", "MEMFILL")
FLAGS = ("FENCE", "BOF", "CRAV", "RCR", "RCI", "CC", "STORD", "invalid")
SIZE_CLASSES = ("0", "1", "2..63", "64", "65..4095", "4096", "4097+")
ALIGNMENTS = ("64B", "8B", "4B", "odd")
ADDRESS_CLASSES = ("below_4G", "at_4G", "above_4G")
STATUSES = ("success", "0x03", "0x10", "0x11", "0x12", "0x13", "0x19", "0x20")
DESCRIPTOR_FATES = ("completed", "completed_no_record", "no_cr_swerr", "rejected", "dropped", "aborted")
SUBMISSIONS = ("enqcmd_shared", "movdir64b_dedicated", "raw")
PASID_MODES = ("no_pasid", "user", "priv", "user_pasid_19_16", "priv_pasid_19_16")
# Batch descriptors (opcode 0x01): their own outcome, count class, how they were submitted, the link; their
# members (a member's own checks are the descriptor covergroup's: members are sampled there too).
BATCH_STATUSES = ("success", "0x05", "0x06", "0x11", "0x12", "0x14", "0x18", "0x19", "0x20")
BATCH_COUNTS = ("0..1", "2", "3..max-1", "max", "above_max")
BATCH_MEMBER_STATUSES = ("success", "0x03", "0x10")
BATCH_MEMBER_FLAGS = ("CRAV", "RCR", "RCI", "FENCE")

PORTAL_OUTCOMES = ("SC", "RRS", "UR", "CA", "dropped")
# "none": nothing logged (SC, RRS); otherwise the SWERR code the rejection logged.
PORTAL_REASONS = ("none", "PORTAL_SIZE", "PORTAL_NO_PASID", "PORTAL_PASID_OFF", "PORTAL_PRIV",
                  "PORTAL_MODE", "DWQ_FULL", "DWQ_DISABLED", "PORTAL_READ", "PORTAL_NO_WQ")

# "invalid": a CMD code the device does not define (answered INVAL_CMD).
DEVICE_COMMANDS = ("ENABLE_DEVICE", "DISABLE_DEVICE", "DRAIN_ALL", "ABORT_ALL", "RESET_DEVICE", "DRAIN_PASID",
                   "ABORT_PASID", "REQUEST_INT_HANDLE", "RELEASE_INT_HANDLE", "invalid")
WQ_COMMANDS = ("ENABLE_WQ", "DISABLE_WQ", "DRAIN_WQ", "ABORT_WQ", "RESET_WQ")
DEVICE_STATES = ("disabled", "enabled")
WQ_STATES = ("disabled", "enabled", "invalid_wq")
DEVICE_CMD_ERRORS = ("OK", "INVAL_CMD", "DEV_ENABLED", "DEV_NOT_ENABLED", "INVAL_INT_IDX", "INVAL_INT_IDX_RELEASE")
WQ_CMD_ERRORS = ("OK", "DEV_NOT_ENABLED", "WQ_INVAL", "WQ_ENABLED", "WQ_NOT_ENABLED", "WQ_SIZE", "WQ_MODE",
                 "WQ_PASID_EN")

DEVICE_TO_HOST_STREAMS = ("tx_req", "tx_cpl")
GAP_CLASSES = ("back_to_back", "1", "2..7", "8..63", "64+")
BACKPRESSURE_CLASSES = ("0", "1", "2..3", "4..15", "16+")
REQUEST_STREAMS = ("rx_req", "tx_req")      # the streams whose requests may use either header format


def _name(group: str, item: str) -> str:
    return f"{ROOT}.{group}.{item}"


def _point(group: str, item: str, arg: str, bins) -> CoverPoint:
    return CoverPoint(_name(group, item), vname=arg, bins=list(bins))


def _flag_point(group: str, item: str, arg: str, bins) -> CoverPoint:
    """A coverpoint whose argument is a set of bin names: every named bin counts (several per sample)."""
    return CoverPoint(_name(group, item), vname=arg, bins=list(bins), rel=lambda names, b: b in names, inj=False)


def _cross(group: str, item: str, *points: str) -> CoverCross:
    return CoverCross(_name(group, item), items=[_name(group, p) for p in points])


# ---- interrupts -------------------------------------------------------------------------------------
@_point("interrupts", "source", "source", SOURCES)
@_point("interrupts", "entry_state", "entry_state", ENTRY_STATES)
@_point("interrupts", "pending_before", "pending_before", PENDING_BEFORE)
@_point("interrupts", "binding", "binding", BINDINGS)
@_point("interrupts", "outcome", "outcome", DEVICE_OUTCOMES)
@_point("interrupts", "platform", "platform", PLATFORMS)
@_point("interrupts", "link", "link", LINK_MODES)
@_cross("interrupts", "source_x_state_x_pending", "source", "entry_state", "pending_before")
@_cross("interrupts", "source_x_binding_x_outcome", "source", "binding", "outcome")
@_cross("interrupts", "source_x_outcome_x_link", "source", "outcome", "link")
@_cross("interrupts", "source_x_platform", "source", "platform")
def sample_interrupt(source, entry_state, pending_before, binding, outcome, platform, link):
    """The device raised an interrupt (MSI-X trigger, completion, replay): what it did with it."""


@_point("platform", "outcome", "outcome", PLATFORM_OUTCOMES)
@_point("platform", "source", "source", SOURCES)
@_point("platform", "link", "link", LINK_MODES)
@_cross("platform", "outcome_x_source", "outcome", "source")
@_cross("platform", "outcome_x_link", "outcome", "link")
def sample_platform_message(outcome, source, link):
    """A device write reached the platform's interrupt window: delivered, or which fault/drop. A message
    no MSI-X/IMS entry was programmed with (source "unknown") counts in no source bin."""


@_point("messages", "source", "source", SOURCES)
@_point("messages", "header", "header", HEADER_FORMATS)
@_point("messages", "link", "link", LINK_MODES)
@_cross("messages", "source_x_header_x_link", "source", "header", "link")
def sample_raw_message(source, header, link):
    """An interrupt message reached the bench's raw message log (no platform attached)."""


# ---- vectors and entries ------------------------------------------------------------------------------
@_point("vectors", "msix_vector", "role", MSIX_VECTOR_ROLES)
def sample_msix_vector(role):
    """An interrupt was raised on an MSI-X vector with a boundary role (first, PBA word edges, last)."""


@_point("vectors", "ims_window", "window", IMS_WINDOWS)
def sample_ims_window(window):
    """An interrupt was raised on the first or last IMS entry of a WQ's window."""


# ---- descriptors --------------------------------------------------------------------------------------
@_point("descriptors", "opcode", "opcode", OPCODES)
@_flag_point("descriptors", "flags", "flags", FLAGS)
@_point("descriptors", "status", "status", STATUSES)
@_point("descriptors", "submission", "submission", SUBMISSIONS)
@_point("descriptors", "pasid", "pasid_mode", PASID_MODES)
@_cross("descriptors", "opcode_x_flags", "opcode", "flags")
@_cross("descriptors", "opcode_x_status", "opcode", "status")
@_cross("descriptors", "status_x_submission_x_pasid", "status", "submission", "pasid")
def sample_descriptor(opcode, flags, status, submission, pasid_mode):
    """A descriptor the device executed and the scoreboard checked: what it was, how it went in, its status."""


@_point("batch", "status", "status", BATCH_STATUSES)
@_point("batch", "count", "count", BATCH_COUNTS)
@_point("batch", "submission", "submission", SUBMISSIONS[:2])
@_point("batch", "link", "link", LINK_MODES)
@_cross("batch", "status_x_submission", "status", "submission")
def sample_batch(status, count, submission, link):
    """A batch descriptor the device executed and the scoreboard checked (its own record)."""


@_point("batch", "member_opcode", "opcode", OPCODES)
@_point("batch", "member_status", "status", BATCH_MEMBER_STATUSES)
@_flag_point("batch", "member_flags", "flags", BATCH_MEMBER_FLAGS)
def sample_batch_member(opcode, flags, status):
    """A descriptor run as a member of a batch."""


@_point("descriptors", "fate", "fate", DESCRIPTOR_FATES)
@_point("descriptors", "fate_submission", "submission", SUBMISSIONS)
@_cross("descriptors", "fate_x_submission", "fate", "fate_submission")
def sample_descriptor_fate(fate, submission):
    """Any descriptor the scoreboard checked, executed or not: how it ended."""


@_point("data", "opcode", "opcode", DATA_OPCODES)
@_point("data", "size", "size", SIZE_CLASSES)
@_point("data", "page_crossing", "page_crossing", ("no", "yes"))
@_point("data", "src_alignment", "src_alignment", ALIGNMENTS + ("n/a",))
@_point("data", "dst_alignment", "dst_alignment", ALIGNMENTS)
@_point("data", "address", "address", ADDRESS_CLASSES)
@_cross("data", "opcode_x_size", "opcode", "size")
@_cross("data", "opcode_x_page_crossing", "opcode", "page_crossing")
@_cross("data", "opcode_x_src_x_dst_alignment", "opcode", "src_alignment", "dst_alignment")
@_cross("data", "opcode_x_address", "opcode", "address")
def sample_data_operation(opcode, size, page_crossing, src_alignment, dst_alignment, address):
    """A MEMMOVE/MEMFILL the scoreboard checked: its buffers."""


# ---- portals ------------------------------------------------------------------------------------------
@_point("portals", "outcome", "outcome", PORTAL_OUTCOMES)
@_point("portals", "reason", "reason", PORTAL_REASONS)
@_cross("portals", "outcome_x_reason", "outcome", "reason")
def sample_portal(outcome, reason):
    """A portal request was answered (SC/RRS/UR/CA) or dropped, with the SWERR code it logged."""


# ---- commands -----------------------------------------------------------------------------------------
@_point("commands", "device_command", "command", DEVICE_COMMANDS)
@_point("commands", "device_state", "device_state", DEVICE_STATES)
@_point("commands", "device_error", "error", DEVICE_CMD_ERRORS)
@_cross("commands", "device_command_x_state", "device_command", "device_state")
def sample_device_command(command, device_state, error):
    """A device-wide command finished, issued in this device state."""


@_point("commands", "wq_command", "command", WQ_COMMANDS)
@_point("commands", "wq_state", "wq_state", WQ_STATES)
@_point("commands", "wq_device_state", "device_state", DEVICE_STATES)
@_point("commands", "wq_error", "error", WQ_CMD_ERRORS)
@_cross("commands", "wq_command_x_wq_state_x_device_state", "wq_command", "wq_state", "wq_device_state")
def sample_wq_command(command, wq_state, device_state, error):
    """A WQ command finished, issued with its WQ and the device in these states."""


# ---- TLP streams --------------------------------------------------------------------------------------
@_point("streams", "stream", "stream", DEVICE_TO_HOST_STREAMS)
@_point("streams", "gap", "gap", GAP_CLASSES)
@_point("streams", "backpressure", "backpressure", BACKPRESSURE_CLASSES)
@_cross("streams", "stream_x_gap", "stream", "gap")
@_cross("streams", "stream_x_backpressure", "stream", "backpressure")
def sample_device_tlp(stream, gap, backpressure):
    """The device finished sending a TLP: idle cycles since its previous one, cycles it was held."""


@_point("streams", "request_stream", "stream", REQUEST_STREAMS)
@_point("streams", "header", "header", HEADER_FORMATS)
@_cross("streams", "request_stream_x_header", "request_stream", "header")
def sample_request_header(stream, header):
    """A memory request crossed the link with a 3DW or a 4DW header."""


# ---- ATS (issue 9 stage 1, docs/ats_pri.md 5) ----------------------------------------------------------
# What the translation agent answered a Translation Request with, by the side that asked (the device sets NW on
# its read side), and the Invalidate Requests it sent: range scope by PASID.
ATS_OUTCOMES = ("granted_rw", "granted_r", "no_translation", "ur", "ca")
ATS_SIDES = ("read", "write")
ATS_INV_SCOPES = ("page", "range", "all")
ATS_INV_PASID = ("pasid", "no_pasid")
ATS_INV_INFLIGHT = ("idle", "reads_outstanding")


@_point("ats", "outcome", "outcome", ATS_OUTCOMES)
@_point("ats", "side", "side", ATS_SIDES)
@_point("ats", "platform", "platform", PLATFORMS)
@_cross("ats", "outcome_x_side", "outcome", "side")
@_cross("ats", "outcome_x_platform", "outcome", "platform")
def sample_ats_translation(outcome, side, platform):
    """The root complex answered one Translation Request of the device."""


ATS_ENTRY_SIZES = ("4K", "2M", "1G")      # the size of a granted translation (log2 pages 0, 9, 18)


@_point("ats", "entry_size", "size", ATS_ENTRY_SIZES)
@_point("ats", "entry_size_platform", "platform", PLATFORMS)
@_cross("ats", "entry_size_x_platform", "entry_size", "entry_size_platform")
def sample_ats_entry_size(size, platform):
    """The root complex granted a translation of this size (docs/ats_pri.md T3)."""


@_point("ats", "inv_scope", "scope", ATS_INV_SCOPES)
@_point("ats", "inv_pasid", "pasid", ATS_INV_PASID)
@_point("ats", "inv_inflight", "inflight", ATS_INV_INFLIGHT)
@_cross("ats", "inv_scope_x_pasid", "inv_scope", "inv_pasid")
@_cross("ats", "inv_pasid_x_inflight", "inv_pasid", "inv_inflight")
def sample_ats_invalidation(scope, pasid, inflight):
    """The device answered an Invalidate Request (sampled at its Invalidate Completion). `inflight`: whether
    translated reads of the device were waiting for their completions when the request was sent (the
    completion must wait for them, PCIe 10.3.1; tb/pcie/ats_agent.py checks that it did)."""


# ---- PRI and Block-on-Fault (issue 9 stage 2, docs/ats_pri.md 5) ----------------------------------------
# The PRG Responses the host sent, by the class of the response and the side whose Page Request it answers
# ("unexpected": a PRGI the device has not outstanding, so no side); the Outstanding Page Request Allocation
# software enabled PRI with; and how many Page Requests one page needed before it resolved.
PRI_RESPONSES = ("success", "invalid", "failure", "unused", "unexpected")
PRI_SIDES = ("read", "write", "record", "none")
PRI_ALLOCATIONS = ("0", "1", "2")
PRI_RETRIES = ("0", "1", ">1")


@_point("pri", "response", "response", PRI_RESPONSES)
@_point("pri", "side", "side", PRI_SIDES)
@_point("pri", "platform", "platform", PLATFORMS)
@_cross("pri", "response_x_side", "response", "side")
@_cross("pri", "response_x_platform", "response", "platform")
def sample_pri_response(response, side, platform):
    """The host sent one PRG Response to the device."""


@_point("pri", "allocation", "allocation", PRI_ALLOCATIONS)
def sample_pri_enable(allocation):
    """Software enabled PRI (pci_enable_pri) with this allocation."""


PRI_BOF = ("effective", "no_allocation", "pri_off", "wq_bof_en_0", "prs_disable", "rf")


@_point("pri", "bof", "bof", PRI_BOF)
def sample_pri_bof(bof):
    """A BOF descriptor met a page it could not translate and ended as the reason predicts: Block-on-Fault was
    effective (a Page Request), or not, and why (docs/ats_pri.md 2.1)."""


@_point("pri", "retries", "retries", PRI_RETRIES)
def sample_pri_retries(retries):
    """One faulting page resolved after 1 + retries Page Requests (sampled per page when the test ends)."""


def bin_label(b) -> str:
    """A bin as the report and the waiver file name it: cross bins joined with ' x '."""
    return " x ".join(str(part) for part in b) if isinstance(b, tuple) else str(b)


def items() -> dict:
    """Every coverpoint and cross of the model: name -> the cocotb-coverage item."""
    return {name: item for name, item in coverage_db.items()
            if name.startswith(ROOT + ".") and isinstance(item, (CoverPoint, CoverCross))}


def hits() -> dict:
    """name -> {bin label: hits} for every item of the model (what a run exports)."""
    return {name: {bin_label(b): n for b, n in item.detailed_coverage.items()} for name, item in items().items()}


# ---- sampling speed -------------------------------------------------------------------------------------
# cocotb-coverage runs every decorator of a covergroup on each sample (argument binding, a scan of every bin,
# each item's coverage computed twice): a large share of a TLP's CPU, for events that repeat the same few
# argument tuples thousands of times. A sample's effect is a pure function of its arguments here (equality
# or set-membership bins, crosses of those, no callbacks, at_least = 1), so the first sample of a tuple
# runs cocotb-coverage and records which bins it counted, and a repeat adds 1 to the same bins. The hit
# counts (what a run exports) are exactly cocotb-coverage's; the items' coverage levels only change on a
# bin's first hit, which the first sample makes.
def _items_of(sample) -> list:
    """The coverpoints and crosses a decorated sample function feeds: each cocotb-coverage decorator's wrapper
    holds its item in its closure, and functools.wraps chains the wrappers by __wrapped__."""
    out, f = [], sample
    while f is not None:
        for cell in f.__closure__ or ():
            v = cell.cell_contents
            if isinstance(v, (CoverPoint, CoverCross)) and v not in out:
                out.append(v)
        f = getattr(f, "__wrapped__", None)
    return out


def _memoised(sample):
    seen: dict[tuple, list[tuple[dict, object]]] = {}
    own = _items_of(sample)
    if not own:
        raise RuntimeError(f"{sample.__name__}: no cocotb-coverage item found behind it")

    def run(*args):
        key = args
        try:
            bins = seen.get(key)
        except TypeError:         # a set argument: the same key as its frozenset
            key = tuple(frozenset(a) if isinstance(a, set) else a for a in args)
            bins = seen.get(key)
        if bins is None:
            before = [(item._hits, b, n) for item in own for b, n in item._hits.items()]
            sample(*args)
            bins = [(hits, b) for hits, b, n in before for _ in range(hits[b] - n)]
            seen[key] = bins
            return
        for hits, b in bins:
            hits[b] += 1
    run.__name__, run.__doc__, run.__wrapped__ = sample.__name__, sample.__doc__, sample
    return run


for _name_, _sample_ in list(globals().items()):
    if _name_.startswith("sample_") and callable(_sample_):
        globals()[_name_] = _memoised(_sample_)
del _name_, _sample_
