"""ctypes binding of the C driver library (fw/lib -> fw/build/libimsdev.so).

``OpsAdapter`` implements the library's ``struct imsdev_ops`` over the same ``DeviceOps`` object the
Python driver model uses (imsdev.driver.ops): the bench's (tb/driver_ops.py) to run the C code against
the RTL, or a recording fake (tests/unit) to check its access order without a simulator.

Interrupts: the library names interrupts by cookies. ``irq_alloc`` takes interrupts from the ops'
platform irq domain and hands the C code their composed messages; ``wait_irq(cookie)`` consumes one
delivery of that interrupt (deliveries arrive as (target, vector) keys and are matched to the
interrupt that currently points there, so affinity changes are followed). ``on_irq_consumed(irq)`` lets
a scoreboard count each delivery the C code consumed as expected; anything delivered that the C code
never consumed is left in ``unconsumed()`` / ``unclaimed`` for the caller to fail on.

Shared virtual addressing: ``sva`` (optional) is the platform's SVA code for this device, any object with
``sva_bind(mm) -> pasid`` and ``sva_unbind(pasid)`` (the bench's: tb/sva.py SvaHost, with ``mm`` the
handle ``SvaHost.mm_handle(process)`` gives); a refusal is an ``OSError`` whose errno the callback returns
negated. Without it the two callbacks are NULL, so imsdev_sva_bind answers -EOPNOTSUPP.

A Python exception inside a callback cannot cross the C code: it is kept (``error``), the callback
returns a harmless value, and ``raise_if_failed()`` re-raises it after the C call returns.
"""
from __future__ import annotations

import ctypes as C
import errno
from collections import Counter
from pathlib import Path
from typing import Callable, Optional

from imsdev.driver.ops import DeviceOps

LIB_PATH = Path(__file__).resolve().parents[1] / "build" / "libimsdev.so"
HEADER = Path(__file__).resolve().parents[1] / "lib" / "imsdev.h"


def header_define(name: str) -> int:
    """An integer ``#define`` of fw/lib/imsdev.h, read from the header (never copied into Python)."""
    for line in HEADER.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "#define" and parts[1] == name:
            return int(parts[2].rstrip("uUlL"), 0)
    raise KeyError(f"{name} is not defined in {HEADER}")

_ctx = C.c_void_p
MMIO_RD32 = C.CFUNCTYPE(C.c_uint32, _ctx, C.c_uint64)
MMIO_WR32 = C.CFUNCTYPE(None, _ctx, C.c_uint64, C.c_uint32)
MMIO_RD64 = C.CFUNCTYPE(C.c_uint64, _ctx, C.c_uint64)
MMIO_WR64 = C.CFUNCTYPE(None, _ctx, C.c_uint64, C.c_uint64)
CFG_RD = C.CFUNCTYPE(C.c_uint32, _ctx, C.c_uint32, C.c_uint32)
CFG_WR = C.CFUNCTYPE(None, _ctx, C.c_uint32, C.c_uint32, C.c_uint32)
MEM_ALLOC = C.CFUNCTYPE(C.c_uint64, _ctx, C.c_uint64, C.c_uint64)
MEM_RD = C.CFUNCTYPE(None, _ctx, C.c_uint64, C.c_void_p, C.c_uint64)
MEM_WR = C.CFUNCTYPE(None, _ctx, C.c_uint64, C.c_void_p, C.c_uint64)
DMWR = C.CFUNCTYPE(C.c_int, _ctx, C.c_uint64, C.POINTER(C.c_uint8), C.c_uint32, C.c_int)
MOVDIR = C.CFUNCTYPE(None, _ctx, C.c_uint64, C.POINTER(C.c_uint8))


class MsiMsgC(C.Structure):
    _fields_ = [("address_lo", C.c_uint32), ("address_hi", C.c_uint32), ("data", C.c_uint32)]


IRQ_ALLOC = C.CFUNCTYPE(C.c_int, _ctx, C.c_uint32, C.c_uint32, C.POINTER(C.c_uint32), C.POINTER(MsiMsgC))
IRQ_FREE = C.CFUNCTYPE(None, _ctx, C.c_uint32)
IRQ_AFFINITY = C.CFUNCTYPE(C.c_int, _ctx, C.c_uint32, C.c_uint32)
WAIT_IRQ = C.CFUNCTYPE(C.c_int, _ctx, C.c_uint32, C.c_uint64)
DELAY = C.CFUNCTYPE(None, _ctx, C.c_uint64)
SVA_BIND = C.CFUNCTYPE(C.c_int, _ctx, C.c_uint64, C.POINTER(C.c_uint32))
SVA_UNBIND = C.CFUNCTYPE(None, _ctx, C.c_uint32)


class OpsC(C.Structure):
    """struct imsdev_ops (fw/lib/imsdev.h), field for field."""
    _fields_ = [("ctx", C.c_void_p), ("mmio_read32", MMIO_RD32), ("mmio_write32", MMIO_WR32),
                ("mmio_read64", MMIO_RD64), ("mmio_write64", MMIO_WR64), ("cfg_read", CFG_RD),
                ("cfg_write", CFG_WR), ("mem_alloc", MEM_ALLOC), ("mem_read", MEM_RD), ("mem_write", MEM_WR),
                ("dmwr", DMWR), ("movdir64b", MOVDIR), ("irq_alloc", IRQ_ALLOC), ("irq_free", IRQ_FREE),
                ("irq_set_affinity", IRQ_AFFINITY), ("wait_irq", WAIT_IRQ), ("delay_ns", DELAY),
                ("sva_bind", SVA_BIND), ("sva_unbind", SVA_UNBIND)]


class DescC(C.Structure):
    """struct imsdev_desc."""
    _fields_ = [("opcode", C.c_uint8), ("flags", C.c_uint32), ("pasid", C.c_uint32), ("priv", C.c_bool),
                ("completion_addr", C.c_uint64), ("src", C.c_uint64), ("dst", C.c_uint64),
                ("xfer_size", C.c_uint32), ("int_handle", C.c_uint16)]


class SvaC(C.Structure):
    """struct imsdev_sva: one address space bound to the device (imsdev_sva_bind)."""
    _fields_ = [("mm", C.c_uint64), ("pasid", C.c_uint32), ("bound", C.c_bool)]


class ScenarioParams(C.Structure):
    _fields_ = [("pasid_shared", C.c_uint32), ("pasid_dedicated", C.c_uint32), ("irq_timeout_ns", C.c_uint64),
                ("quiet_ns", C.c_uint64), ("flags", C.c_uint32)]
    FLAG_NO_IRQ_REMAP = header_define("IMSDEV_SCN_FLAG_NO_IRQ_REMAP")


class ScenarioStats(C.Structure):
    _fields_ = [(n, C.c_uint32) for n in ("num_wq", "msix_vectors", "ims_per_wq", "descriptors", "interrupts",
                                          "enqcmd_attempts", "swerr_code", "swerr_wq", "swerr_status",
                                          "mmio_err_code", "mmio_err_offset", "dedicated_wq")]

    def as_dict(self) -> dict:
        return {n: getattr(self, n) for n, _ in self._fields_}


class CLibrary:
    """The shared library with its prototypes."""

    def __init__(self, path: Path | str = LIB_PATH):
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: build it with `make -C fw` (the top-level "
                                    f"`make sim` / `make build` do)")
        lib = self.lib = C.CDLL(str(path))
        ops_p, dev_p, slot_p = C.POINTER(OpsC), C.c_void_p, C.c_void_p
        proto = {
            "imsdev_sizeof_dev": (C.c_size_t, []),
            "imsdev_sizeof_ims_slot": (C.c_size_t, []),
            "imsdev_probe": (C.c_int, [dev_p, ops_p]),
            "imsdev_pci_enable_pasid": (C.c_int, [dev_p, C.c_bool]),
            "imsdev_msix_enable": (C.c_int, [dev_p, C.c_uint32, C.c_uint32]),
            "imsdev_msix_write_msg": (None, [dev_p, C.c_uint32, C.POINTER(MsiMsgC)]),
            "imsdev_msix_mask": (None, [dev_p, C.c_uint32]),
            "imsdev_msix_unmask": (None, [dev_p, C.c_uint32]),
            "imsdev_msix_disable": (None, [dev_p]),
            "imsdev_ims_alloc": (C.c_int, [dev_p, C.c_uint32, C.c_uint32, C.c_bool, C.c_uint32, slot_p]),
            "imsdev_ims_free": (None, [dev_p, slot_p]),
            "imsdev_ims_bus_lock": (None, [slot_p]),
            "imsdev_ims_bus_sync_unlock": (None, [dev_p, slot_p]),
            "imsdev_ims_write_msg": (None, [dev_p, slot_p, C.POINTER(MsiMsgC)]),
            "imsdev_ims_mask": (None, [dev_p, slot_p]),
            "imsdev_ims_unmask": (None, [dev_p, slot_p]),
            "imsdev_cmd": (C.c_int, [dev_p, C.c_uint32, C.c_uint32, C.POINTER(C.c_uint32)]),
            "imsdev_drain_pasid": (C.c_int, [dev_p, C.c_uint32]),
            "imsdev_abort_pasid": (C.c_int, [dev_p, C.c_uint32, C.POINTER(C.c_uint32)]),
            "imsdev_pci_disable_pasid": (None, [dev_p]),
            "imsdev_pasid_width": (C.c_uint32, [dev_p]),
            "imsdev_sva_bind": (C.c_int, [dev_p, C.c_uint64, C.POINTER(SvaC)]),
            "imsdev_sva_unbind": (C.c_int, [dev_p, C.POINTER(SvaC)]),
            "imsdev_desc_pack": (C.c_int, [C.POINTER(DescC), C.c_char_p]),
            "imsdev_ims_handle": (C.c_int, [C.c_uint32, C.POINTER(C.c_uint16)]),
            "imsdev_batch_desc": (C.c_int, [C.POINTER(DescC), C.c_uint64, C.c_uint32, C.c_uint32, C.c_uint32,
                                            C.c_uint64, C.c_uint16]),
            "imsdev_enqcmd": (C.c_int, [dev_p, C.c_uint32, C.POINTER(DescC), C.c_uint]),
            "imsdev_movdir64b": (C.c_int, [dev_p, C.c_uint32, C.POINTER(DescC)]),
            "imsdev_swerr_name": (C.c_char_p, [C.c_uint32]),
            "imsdev_cmd_err_name": (C.c_char_p, [C.c_uint32]),
            "imsdev_scenario": (C.c_int, [ops_p, C.POINTER(ScenarioParams), C.POINTER(ScenarioStats)]),
            "imsdev_scenario_strerror": (C.c_char_p, [C.c_int]),
        }
        for name, (res, args) in proto.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args

    def __getattr__(self, name):
        return getattr(self.lib, "imsdev_" + name)

    def new_dev(self):
        return C.create_string_buffer(self.lib.imsdev_sizeof_dev())

    def new_ims_slot(self):
        return C.create_string_buffer(self.lib.imsdev_sizeof_ims_slot())

    def run_scenario(self, adapter: "OpsAdapter", params: ScenarioParams) -> tuple[int, ScenarioStats]:
        stats = ScenarioStats()
        rc = self.lib.imsdev_scenario(C.byref(adapter.struct), C.byref(params), C.byref(stats))
        adapter.raise_if_failed()
        return rc, stats

    def strerror(self, code: int) -> str:
        return self.lib.imsdev_scenario_strerror(code).decode()


class OpsAdapter:
    """struct imsdev_ops over a DeviceOps (see the module docstring)."""

    def __init__(self, ops: DeviceOps, on_irq_consumed: Optional[Callable] = None, sva=None):
        self.ops = ops
        self.sva = sva
        self.on_irq_consumed = on_irq_consumed
        self.error: Optional[BaseException] = None
        self.irqs: dict[int, object] = {}
        self.delivered: Counter = Counter()     # cookie -> deliveries not yet consumed
        self.consumed: Counter = Counter()
        self.unclaimed: list[tuple[int, int]] = []
        self.affinity_moves: list[tuple[tuple[int, int], tuple[int, int]]] = []
        self._next_cookie = 1
        self._cbs = [
            MMIO_RD32(self._guard(lambda _c, a: ops.mmio_read32(a), 0xFFFF_FFFF)),
            MMIO_WR32(self._guard(lambda _c, a, v: ops.mmio_write32(a, v))),
            MMIO_RD64(self._guard(lambda _c, a: ops.mmio_read64(a), (1 << 64) - 1)),
            MMIO_WR64(self._guard(lambda _c, a, v: ops.mmio_write64(a, v))),
            CFG_RD(self._guard(lambda _c, o, s: ops.cfg_read(o, s), 0xFFFF_FFFF)),
            CFG_WR(self._guard(lambda _c, o, s, v: ops.cfg_write(o, s, v))),
            MEM_ALLOC(self._guard(lambda _c, s, a: ops.mem_alloc(s, a), 0)),
            MEM_RD(self._guard(self._mem_read)),
            MEM_WR(self._guard(lambda _c, a, b, n: ops.mem_write(a, C.string_at(b, n)))),
            DMWR(self._guard(lambda _c, a, d, p, pr: int(ops.dmwr(a, C.string_at(d, 64), p, bool(pr))), 1)),
            MOVDIR(self._guard(lambda _c, a, d: ops.movdir64b(a, C.string_at(d, 64)))),
            IRQ_ALLOC(self._guard(self._irq_alloc, -errno.EIO)),
            IRQ_FREE(self._guard(self._irq_free)),
            IRQ_AFFINITY(self._guard(self._irq_set_affinity, -errno.EIO)),
            WAIT_IRQ(self._guard(self._wait_irq, -errno.EIO)),
            DELAY(self._guard(lambda _c, ns: ops.delay_ns(ns))),
        ]
        if sva is not None:
            self._cbs += [SVA_BIND(self._guard(self._sva_bind, -errno.EIO)),
                          SVA_UNBIND(self._guard(lambda _c, pasid: sva.sva_unbind(pasid)))]
        self.struct = OpsC(None, *self._cbs)

    def _guard(self, fn, default=None):
        def call(*args):
            if self.error is not None:
                return default
            try:
                r = fn(*args)
                return default if r is None and default is not None else r
            except BaseException as exc:          # noqa: BLE001 - re-raised by raise_if_failed
                self.error = exc
                return default
        return call

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"exception in a C library callback: {self.error!r}") from self.error

    # ---- callbacks ------------------------------------------------------------------------------
    def _mem_read(self, _c, addr, buf, n):
        data = self.ops.mem_read(addr, n)
        C.memmove(buf, data, n)

    def _sva_bind(self, _c, mm, pasid) -> int:
        try:
            pasid[0] = self.sva.sva_bind(mm)
        except OSError as exc:
            return -(exc.errno or errno.EIO)
        return 0

    def _irq_alloc(self, _c, n, hwsize, cookies, msgs) -> int:
        irqs = self.ops.irq_domain.alloc_irqs(self.ops.requester_id, n, hwsize or None)
        for i, irq in enumerate(irqs):
            cookie = self._next_cookie
            self._next_cookie += 1
            self.irqs[cookie] = irq
            cookies[i] = cookie
            msgs[i] = MsiMsgC(irq.msg.address_lo, irq.msg.address_hi, irq.msg.data)
        return 0

    def _irq_free(self, _c, cookie) -> None:
        irq = self.irqs.get(cookie)
        if irq is not None:
            self.ops.irq_domain.free_irqs([irq])

    def _irq_set_affinity(self, _c, cookie, cpu) -> int:
        irq = self.irqs.get(cookie)
        if irq is None or not irq.active or cpu >= self.ops.irq_domain.cpu_count:
            return -errno.EINVAL
        old = irq.expected
        self.ops.irq_domain.set_affinity(irq, cpu)
        self.affinity_moves.append((old, irq.expected))
        return 0

    def _route(self, keys) -> None:
        for key in keys:
            cookie = next((c for c, irq in self.irqs.items() if irq.active and irq.expected == key), None)
            if cookie is None:
                self.unclaimed.append(key)
            else:
                self.delivered[cookie] += 1

    def _wait_irq(self, _c, cookie, timeout_ns) -> int:
        irq = self.irqs.get(cookie)
        if irq is None:
            return -errno.EINVAL
        deadline = self.ops.ktime_get_ns() + timeout_ns
        while True:
            self._route(self.ops.wait_irq(0))
            if self.delivered[cookie]:
                self.delivered[cookie] -= 1
                self.consumed[cookie] += 1
                if self.on_irq_consumed is not None:
                    self.on_irq_consumed(irq)
                return 0
            left = deadline - self.ops.ktime_get_ns()
            if left <= 0:
                return -errno.ETIMEDOUT
            self._route(self.ops.wait_irq(left))

    def unconsumed(self) -> dict[int, int]:
        return {c: n for c, n in self.delivered.items() if n}
