"""A firmware developer's own program against the RTL: the cocotb side of `make fw-run` (sim/fw_run.py).

Not a regression module (it is not in sim/testplan.py): sim/fw_run.py compiles or checks the program and
runs this module through sim/simlib.run with

  IMSDEV_FW_PROG     the program: a C source (already compiled) or a Python script
  IMSDEV_FW_SO       for C: the shared object sim/fw_run.py built (the source + fw/lib)
  IMSDEV_FW_PAUSES   link idle/backpressure: none (default), idle, backpressure, both (tb/env.py)
  IMSDEV_FW_TRACE    1: keep the link models' per-access log lines (config, MMIO) in sim.log
  IMSDEV_FW_GUEST    none (default), posted or remapped (x86), vits (ARM): run the program in a VM that owns
                     the device (tb/vmm/assign.py); ops are then the guest's (GuestOps), interrupts arrive
                     at its vCPUs
  IMSDEV_FW_GUEST_PASIDS  comma-separated PASIDs the guest kernel attached (second level over guest RAM)

The bench comes up on the platform IMSDEV_PLATFORM names (x86 VT-d IR, or ARM SMMU + GICv3 ITS) and the
program runs in a bridge thread, as the driver-model and C-library tests do (tb/tests/fw/common.py):

* C: ``int imsdev_main(const struct imsdev_ops *ops)`` (fw/lib/imsdev.h) over imsdev.clib.OpsAdapter;
* Python: ``main(ops)`` with ops the bench's DeviceOps (tb/driver_ops.py), what
  ``imsdev.driver.imsdev_probe(ops)`` takes. None or 0 is success, like ``sys.exit`` (which works too).

Every ops call blocks while the simulation performs it; delays and timeouts are simulated nanoseconds.
The program's output (printf / print) lands in sim.log between two marker lines. After it returns, this
module prints the device's and the platform's view of the run: the SWERR records the program
acknowledged (or an FLR was about to clear) and the one still in the log, MMIO errors, the platform's
fault records (VT-d IR faults, SMMU events, ITS errors), interrupts delivered that the program never
took, misrouted/spurious/stray messages. The run fails if the program returns non-zero, raises, or an
ops callback raised; the rest is reported, not judged (the program decides what it expects).
"""
from __future__ import annotations

import ctypes as C
import faulthandler
import importlib.util
import json
import logging
import os
import sys
import traceback
import warnings
from collections import Counter
from pathlib import Path

import cocotb
from cocotb.utils import get_sim_time
from cocotbext.pcie.core.caps import PciCapId

from imsdev import regs
from imsdev.clib import OpsAdapter, OpsC
from imsdev.driver.registers import FIELD_GET, SwErr, enum_name
from tb.driver_ops import BenchOps
from tb.env import PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR, Bench
from tb.tests.fw.common import run_blocking

ENV_PROG, ENV_SO, ENV_PAUSES, ENV_TRACE = "IMSDEV_FW_PROG", "IMSDEV_FW_SO", "IMSDEV_FW_PAUSES", "IMSDEV_FW_TRACE"
ENV_GUEST, ENV_GUEST_PASIDS = "IMSDEV_FW_GUEST", "IMSDEV_FW_GUEST_PASIDS"
OUTPUT_BEGIN = "==== fw-run: program output begin ===="
OUTPUT_END = "==== fw-run: program output end ===="
REPORT_BEGIN = "==== fw-run: device and platform report ===="
REPORT_END = "==== fw-run: end of report ===="
RESULT_FILE = "fw_run.json"          # in the run directory, for sim/fw_run.py

# cocotbext-pcie's own use of cocotb 2's Task.join(): noise in the program's output, nothing it did
warnings.filterwarnings("ignore", message="Using `task` directly", category=DeprecationWarning)

PCI_COMMAND = 0x04
PCI_COMMAND_MEMORY = 0x0002
_ACK = regs.CSR_SWERR0_VALID_MASK | regs.CSR_SWERR0_OVERFLOW_MASK
_ERR_ACK = regs.CSR_ERR_VALID_MASK | regs.CSR_ERR_OVERFLOW_MASK


def _say(line: str = "") -> None:
    print(line, flush=True)


def _ns() -> int:
    return int(get_sim_time("ns"))


# What each SWERR code means for the program (fw/README.md section 7).
SWERR_HINTS = {
    "NO_CR": "a descriptor failed without a usable completion record address (its status and opcode are shown)",
    "PORTAL_MODE": "ENQCMD to a dedicated WQ or MOVDIR64B to a shared one",
    "PORTAL_NO_PASID": "ENQCMD without a PASID prefix",
    "PORTAL_PASID_OFF": "ENQCMD while the PASID capability is disabled",
    "PORTAL_PRIV": "privileged ENQCMD to a WQ without WQCFG2.PRIV (or PASID privileged mode off)",
    "DWQ_FULL": "MOVDIR64B to a full dedicated WQ: the descriptor was dropped",
    "DWQ_DISABLED": "MOVDIR64B to a disabled dedicated WQ: the descriptor was dropped",
    "PORTAL_SIZE": "portal write that is not 64 bytes", "PORTAL_READ": "portal read",
    "PORTAL_NO_WQ": "portal of a WQ the build does not have",
    "IMS_PASID": "IMS slot bound to another PASID: no interrupt (addr = slot index)",
    "IMS_UNMASKED_WRITE": "address/data write to an unmasked IMS slot, dropped: mask first (addr = slot index)",
}


def _swerr(e: SwErr) -> str:
    hint = SWERR_HINTS.get(e.code_name)
    return f"{e}" + (f"  <- {hint}" if hint else "")


def _mmio_err(err: int, addr: int) -> str:
    name = enum_name("MMIO_ERR", FIELD_GET("CSR_ERR_CODE", err))
    return f"MMIO error {name} at BAR0 offset {addr:#x}" + (" (+overflow)" if err & regs.CSR_ERR_OVERFLOW_MASK else "")


class WatchedOps(BenchOps):
    """BenchOps that keeps the error records the program's own accesses would erase: before a write
    that acknowledges SWERR0 or ERR (W1C VALID/OVERFLOW) and before an FLR, the record is read and kept."""

    def __init__(self, bench: Bench, exp_cap: int):
        super().__init__(bench)
        self.bar0 = bench.bar0_addr
        self.exp_cap = exp_cap
        self.swerrs: list[tuple[int, str, SwErr]] = []        # (time ns, how it went, record)
        self.mmio_errors: list[tuple[int, str, str]] = []

    def _memory_enabled(self) -> bool:
        return bool(self._cfg_rd[2](PCI_COMMAND) & PCI_COMMAND_MEMORY)

    def _keep_swerr(self, how: str) -> None:
        e = SwErr.decode(*(self._rd32(self.bar0 + o) for o in
                           (regs.CSR_SWERR0, regs.CSR_SWERR1, regs.CSR_SWERR2, regs.CSR_SWERR3)))
        if e.valid or e.overflow:
            self.swerrs.append((self._now(), how, e))

    def _keep_mmio_error(self, how: str) -> None:
        err = self._rd32(self.bar0 + regs.CSR_ERR)
        if err & _ERR_ACK:
            self.mmio_errors.append((self._now(), how, _mmio_err(err, self._rd32(self.bar0 + regs.CSR_ERR_ADDR))))

    def mmio_write32(self, addr: int, value: int) -> None:
        if addr == self.bar0 + regs.CSR_SWERR0 and value & _ACK:
            self._keep_swerr("acknowledged by the program")
        elif addr == self.bar0 + regs.CSR_ERR and value & _ERR_ACK:
            self._keep_mmio_error("acknowledged by the program")
        super().mmio_write32(addr, value)

    def cfg_write(self, offset: int, size: int, value: int) -> None:
        if offset == self.exp_cap + PCI_EXP_DEVCTL and size >= 2 and value & PCI_EXP_DEVCTL_BCR_FLR \
                and self._memory_enabled():
            self._keep_swerr("in the log when the program started an FLR")
            self._keep_mmio_error("in the log when the program started an FLR")
        super().cfg_write(offset, size, value)


# ---- the program ------------------------------------------------------------------------------------
class Outcome:
    def __init__(self, entry: str):
        self.entry = entry          # "imsdev_main" / "main()"
        self.rc = None              # the program's exit status, None if it raised
        self.error = ""             # traceback of an exception (program or ops callback)
        self.adapter = None         # C: the OpsAdapter (interrupt accounting)

    @property
    def ok(self) -> bool:
        return not self.error and self.rc == 0

    def __str__(self) -> str:
        if self.rc is None:
            return f"{self.entry} raised " + (self.error.strip().splitlines()[-1] if self.error else "an exception")
        return f"{self.entry} returned {self.rc}" + (f"; {self.error.strip().splitlines()[-1]}" if self.error else "")


def _line_buffered_stdout():
    """C stdio to a file is block-buffered: line-buffer it so printf lines land in sim.log in step with the
    bench's (and survive a crash of the program)."""
    libc = C.CDLL(None)
    libc.fflush(None)
    libc.setvbuf.argtypes = [C.c_void_p, C.c_char_p, C.c_int, C.c_size_t]
    libc.setvbuf(C.c_void_p.in_dll(libc, "stdout"), None, 1, 0)     # _IOLBF
    return libc


def load_c(so: Path, on_irq_consumed=None):
    lib = C.CDLL(str(so))
    main = lib.imsdev_main          # sim/fw_run.py's link step already guarantees it exists
    main.restype, main.argtypes = C.c_int, [C.POINTER(OpsC)]
    libc = _line_buffered_stdout()
    faulthandler.enable(all_threads=False)   # a crash in the C code names itself in sim.log (then the simulator dies)

    def run(ops: WatchedOps) -> Outcome:
        out = Outcome("imsdev_main")
        out.adapter = adapter = OpsAdapter(ops, on_irq_consumed=on_irq_consumed)
        out.rc = int(main(C.byref(adapter.struct)))
        libc.fflush(None)
        if adapter.error is not None:
            out.error = "an ops callback raised (the C code got a dummy value and went on):\n" + "".join(
                traceback.format_exception(adapter.error))
        return out
    return run


def load_python(path: Path):
    sys.path.insert(0, str(path.parent))            # helpers next to the script can be imported
    spec = importlib.util.spec_from_file_location(f"fw_run_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    main = getattr(mod, "main", None)
    if not callable(main):
        raise AssertionError(f"{path} defines no main(ops)")

    def run(ops: WatchedOps) -> Outcome:
        out = Outcome("main()")
        try:
            rv = main(ops)
        except SystemExit as exc:           # sys.exit(n) / sys.exit("message") work as in a script
            rv = exc.code
            if isinstance(rv, str):
                print(rv)
                rv = 1
        except Exception as exc:            # noqa: BLE001 - reported as the program's failure
            # the traceback from the program's main() down (this module's frame left out)
            out.error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next))
            return out
        if rv is None or isinstance(rv, int):
            out.rc = int(rv or 0)
        else:
            out.rc, out.error = 1, f"main() returned {rv!r}, expected None or an int exit status"
        return out
    return run


def _guarded(run, ops) -> Outcome:
    try:
        return run(ops)
    finally:
        sys.stdout.flush()


# ---- after the program ------------------------------------------------------------------------------
async def _final_device_errors(bench: Bench) -> dict:
    """SWERR, ERR and INT_CAUSE as the program left them (memory decoding is turned on for the reads if
    the program turned it off, and restored)."""
    cmd = await bench.dev.config_read_word(PCI_COMMAND)
    if not cmd & PCI_COMMAND_MEMORY:
        await bench.dev.config_write_word(PCI_COMMAND, cmd | PCI_COMMAND_MEMORY)
    try:
        swerr = SwErr.decode(*[await bench.rd32(o) for o in
                               (regs.CSR_SWERR0, regs.CSR_SWERR1, regs.CSR_SWERR2, regs.CSR_SWERR3)])
        err, err_addr = await bench.rd32(regs.CSR_ERR), await bench.rd32(regs.CSR_ERR_ADDR)
        cause = await bench.rd32(regs.CSR_INT_CAUSE)
        link_err = await bench.rd32(regs.CSR_LINK_ERR)
    finally:
        if not cmd & PCI_COMMAND_MEMORY:
            await bench.dev.config_write_word(PCI_COMMAND, cmd)
    unexpected = (link_err & regs.CSR_LINK_ERR_UNEXPECTED_COUNT_MASK) >> regs.CSR_LINK_ERR_UNEXPECTED_COUNT_SHIFT
    return {"swerr": swerr, "mmio": _mmio_err(err, err_addr) if err & _ERR_ACK else None, "cause": cause,
            "unexpected_cpl": unexpected if link_err & regs.CSR_LINK_ERR_UNEXPECTED_CPL_MASK else 0}


def fmt_fault(f) -> str:
    """One platform fault record in words (tb/platform: VtdFault, SmmuEvent, ItsError)."""
    kind = type(f).__name__
    at = f" at {f.time:.0f} ns" if isinstance(getattr(f, "time", None), (int, float)) else ""
    if kind == "VtdFault":
        data = "-" if f.data is None else f"{f.data:#x}"
        return (f"VT-d IR fault {int(f.reason):#04x} {f.reason.name}: requester {f.requester_id:#06x}, "
                f"IRTE index {f.index}, address {f.address:#x}, data {data}{at} (the interrupt was blocked)")
    if kind == "SmmuEvent":
        return (f"SMMU event {f.event_id:#x} ({f.reason}): StreamID {f.stream_id:#06x}, IOVA {f.iova:#x}, "
                f"data {bytes(f.data).hex()}{at} (the write was dropped)")
    if kind == "ItsError":
        what = (f"DeviceID {f.device_id:#06x}, EventID {f.event_id}" if f.source == "translation"
                else f"command opcode {f.opcode:#x} at queue offset {f.queue_offset:#x}")
        return f"ITS error {f.reason.value} ({f.source}): {what}{at}" + \
            (" (the interrupt was dropped)" if f.source == "translation" else "")
    return repr(f)


def _interrupts(ops: WatchedOps, out: Outcome, leftover: list) -> tuple[int, Counter]:
    """(deliveries the program took, deliveries it never took by (target, vector)). C: taken means consumed
    by a wait_irq(cookie); Python: handed to the driver by ops.wait_irq (its irq core dispatches them)."""
    if out.adapter is None:
        return ops.counts["irqs_taken"] - len(leftover), Counter(leftover)
    a = out.adapter
    a._route(leftover)                          # attribute the late ones to the C code's interrupts
    left = Counter(a.unclaimed)
    for cookie, n in a.unconsumed().items():
        left[a.irqs[cookie].expected] += n
    return sum(a.consumed.values()), left


def guest_report(guest, faults=()) -> tuple[list[str], dict]:
    """The VM's side of a run in a guest: exits by reason, what its vCPUs took, what the VMM refused."""
    from tb.vmm.exits import ExitReason
    exits = guest.exits.counts
    lines = [f"guest ({guest.kind}): PASIDs attached {', '.join(hex(p) for p in guest.pasids) or 'none'}; "
             "VM exits: " + (", ".join(f"{r.name} {n}" for r, n in sorted(exits.items(), key=lambda i: i[0].name))
                             or "none")]
    took = Counter()
    if guest.vm.guest_cpus is not None:            # ARM: LPIs at the guest's redistributors
        for d in guest.vm.guest_cpus.deliveries:
            took[d.key] += 1
        what = "LPI"
    else:
        for vcpu in guest.vm.vcpus:
            for vector, n in vcpu.counts.items():
                took[(vcpu.index, vector)] += n
        what = "vector"
    lines.append("guest interrupts taken at its vCPUs: " + (", ".join(
        f"{n} x (vCPU {c}, {what} {v:#x})" for (c, v), n in sorted(took.items())) or "none"))
    refused = [r for t in [guest.vm.msix, *guest.ims] for r in t.rejected]
    lines += [f"  the VMM refused {r.key}: {r.reason}" for r in refused]
    pasid_faults = [e for e in guest.exits.log if e.reason in (ExitReason.ENQCMD_PASID_TRANSLATION_FAILURE,
                                                                ExitReason.ENQCMDS_PASID_TRANSLATION_FAILURE)]
    lines += [f"  {e.reason.name}: {e.detail}  <- a PASID the guest kernel has not attached: add it to GUEST_PASIDS"
              for e in pasid_faults]
    # ARM: a SubstreamID with no CD in the guest's table (there is no CPU-side fault on ARM)
    unattached = sorted({f.substream_id for f in faults
                         if getattr(getattr(f, "event_id", None), "name", "") == "C_BAD_CD"
                         and f.substream_id is not None and f.substream_id not in guest.pasids})
    lines += [f"  C_BAD_CD for SubstreamID {ssid:#x}  <- a SubstreamID the guest kernel has not attached: add it "
              f"to GUEST_PASIDS" for ssid in unattached]
    regions = Counter(e.detail.split()[0] for e in guest.exits.log if e.reason is ExitReason.EPT_VIOLATION)
    lines.append("EPT_VIOLATION exits by trapped region: " + (", ".join(
        f"{r} {n}" for r, n in sorted(regions.items())) or "none"))
    lines.append("guest accesses (trapped ones exit to the VMM): " + ", ".join(
        f"{k} {v}" for k, v in sorted(guest.ops.counts.items()) if k != "irqs_taken"))
    return lines, {"kind": guest.kind, "pasids": list(guest.pasids),
                   "exits": {r.name: n for r, n in exits.items()},
                   "interrupts_taken": sum(took.values()), "refused": [r.reason for r in refused]}


def report(bench: Bench, ops: WatchedOps, out: Outcome, final: dict, taken: int, not_taken: Counter,
           guest=None) -> dict:
    plat = bench.platform
    faults = list(plat.faults)
    swerr, mmio = final["swerr"], final["mmio"]
    left_in_log = swerr.valid or swerr.overflow
    try:   # misroutes, spurious deliveries, stray messages and foreign requester IDs, as the scoreboard words them
        problems = [p for p in plat._problems(include_lost=False)
                    if p.startswith(("misrouted", "spurious", "stray", "message with a foreign"))
                    # a posted-interrupt notification carries no host driver's vector: not spurious in a guest
                    and not (guest is not None and "posted-notification" in p)]
    except Exception as exc:    # noqa: BLE001 - the report must not hide the program's result
        problems = [f"(scoreboard unavailable: {exc!r})"]

    lines = [REPORT_BEGIN, f"program: {out}"]
    lines.append(f"SWERR records acknowledged by the program (or cleared by its FLR): {len(ops.swerrs) or 'none'}")
    lines += [f"  {t} ns ({how}): {_swerr(e)}" for t, how, e in ops.swerrs]
    lines.append(f"SWERR in the log at the end: {_swerr(swerr) if left_in_log else 'none'}")
    if ops.mmio_errors or mmio:
        lines.append("MMIO errors (CSR_ERR):")
        lines += [f"  {t} ns ({how}): {m}" for t, how, m in ops.mmio_errors]
        if mmio:
            lines.append(f"  in the register at the end: {mmio}")
    if final["unexpected_cpl"]:
        lines.append(f"unexpected completions dropped by the device (LINK_ERR): {final['unexpected_cpl']}")
    if final["cause"]:
        lines.append(f"INT_CAUSE at the end: {final['cause']:#x} (not acknowledged)")
    lines.append(f"platform {plat.name}: {len(faults) or 'no'} fault record(s)")
    lines += [f"  {fmt_fault(f)}" for f in faults]
    lines.append(f"interrupts: {plat.delivery_seq} delivered by the platform, {taken} taken by the program")
    if not_taken:
        lines.append("  delivered but never taken by the program: " + ", ".join(
            f"{n} x (target {t}, vector {v:#x})" for (t, v), n in sorted(not_taken.items())))
    lines += [f"  {p}" for p in problems]
    guest_lines, guest_summary = guest_report(guest, faults) if guest is not None else ([], None)
    lines += guest_lines
    lines.append("accesses: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.counts.items()) if k != "irqs_taken"))
    lines.append(REPORT_END)
    for ln in lines:
        _say(ln)
    swerrs = [{"time_ns": t, "how": how, "code": e.code_name, "text": str(e)} for t, how, e in ops.swerrs]
    if left_in_log:
        swerrs.append({"time_ns": None, "how": "in the log at the end", "code": swerr.code_name, "text": str(swerr)})
    return {
        "result": str(out), "rc": out.rc, "ok": out.ok, "swerr": swerrs,
        "mmio_errors": [m for _, _, m in ops.mmio_errors] + ([mmio] if mmio else []),
        "int_cause": final["cause"], "unexpected_cpl": final["unexpected_cpl"], "platform": plat.name,
        "faults": [fmt_fault(f) for f in faults],
        "interrupts_delivered": plat.delivery_seq, "interrupts_taken": taken,
        "interrupts_not_taken": sum(not_taken.values()), "scoreboard_problems": problems,
        "guest": guest_summary,
    }


@cocotb.test()
async def user_program(dut):
    prog = Path(os.environ[ENV_PROG])
    if not os.environ.get("IMSDEV_PLATFORM"):
        raise AssertionError("IMSDEV_PLATFORM must name the platform (x86 or arm): run through `make fw-run`")
    guest_kind = os.environ.get(ENV_GUEST) or "none"
    options = {}
    if guest_kind != "none":
        from tb.vmm.bench import GUEST_PLATFORM_OPTIONS
        options = GUEST_PLATFORM_OPTIONS[os.environ["IMSDEV_PLATFORM"]]
    bench = await Bench.start(dut, pauses=os.environ.get(ENV_PAUSES) or "none", platform_options=options)
    host_ops = WatchedOps(bench, await bench.find_cap(PciCapId.EXP))
    ops, guest = host_ops, None
    if guest_kind != "none":
        from tb.vmm.assign import assigned_guest
        pasids = [int(t, 0) for t in (os.environ.get(ENV_GUEST_PASIDS) or "").split(",") if t]
        kind = "arm-vits" if guest_kind == "vits" else f"x86-{guest_kind}"
        guest = assigned_guest(bench, host_ops, kind, pasids=pasids)
        ops = guest.ops
    # in a guest, each interrupt the C code takes is its host interrupt's expectation (remapped IRTE / host
    # ITS event) on the platform scoreboard, as in tb/tests/platform/test_guest_device.py
    consumed = (lambda irq: guest.expect_consumed(bench.platform, irq)) if guest is not None else None
    run = load_c(Path(os.environ[ENV_SO]), consumed) if prog.suffix == ".c" else load_python(prog)
    if os.environ.get(ENV_TRACE, "0") in ("", "0"):
        # the link models log every config access and MMIO request at INFO: keep sim.log to the program
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("cocotb.pcie"):
                logging.getLogger(name).setLevel(logging.WARNING)
    bench.log.info("fw-run: %s on %s/%s", prog, bench.params.name, bench.platform.name)

    _say(OUTPUT_BEGIN)
    out = await run_blocking(_guarded, run, ops)
    if out.error:
        _say(out.error.rstrip())
    _say(OUTPUT_END)

    await bench.settle()                            # whatever the device still had in flight
    leftover = await run_blocking(ops.wait_irq, 0)
    taken, not_taken = _interrupts(ops, out, leftover)
    final = await _final_device_errors(bench)
    summary = report(bench, host_ops, out, final, taken, not_taken, guest)
    summary.update(program=str(prog), config=bench.params.name, sim_time_ns=_ns())
    (Path.cwd() / RESULT_FILE).write_text(json.dumps(summary, indent=1))
    assert out.ok, f"{prog.name}: {out}"
