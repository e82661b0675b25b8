"""TLPs with an optional PASID TLP prefix, and DMWr, on top of cocotbext-pcie's `Tlp`.

cocotbext-pcie 0.2.16 knows neither TLP prefixes nor Deferrable Memory Writes (toolchain.md). `PasidTlp`
adds both without touching the base class:

* PASID prefix (PCIe r6.3 §6.20.2.1, non-flit): byte 0 = 0x91 (Fmt 100, E2E, type 0001), byte 1 b7 = PMR
  (privileged), b6 = ER (execute), PASID[19:0] = byte1[3:0]..byte3. At most one per TLP, and only on
  memory requests.
* DMWr: Fmt 010/011, Type 1_1011 (byte 0 0x5B / 0x7B); non-posted with data; its header is laid out like
  a memory write's. Completed with SC, RRS (= the CRS encoding 010), UR or CA.

cocotbext-pcie routes on `fmt_type`, which cannot name DMWr. A DMWr therefore answers `fmt_type` with the
memory-write type of its address size, so routing treats it as a memory request, while its raw
`fmt`/`type` numbers keep the DMWr code: use `is_dmwr()` to tell them apart. It reports itself as
non-posted so that flow control charges the right credits. Both only work if every TLP object in flight
is a `PasidTlp`; tb/pcie/hooks.py makes cocotbext-pcie's ports build this class at every hop.

* AT (Address Type, header DW0 bits 11:10, packed by the base class): 01b only on an MRd (Translation
  Request: Length even and >= 2, untranslated address bits 11:0 = 0), 11b reserved (docs/ats_pri.md 1.3).
* Messages routed by ID or to the Root Complex (Fmt/Type 0x30/0x32/0x72): message code in byte 7, bytes 8-15
  as `msg_b8_11` / `msg_b12_15`; for ID-routed messages bytes 8-9 are the destination ID, kept in
  `completer_id` (cocotbext-pcie routes on it). Constructors and decoders for the ATS Invalidate Request /
  Completion (tb/pcie/ats.py has the payload formats).

`to_stream_fields()` / `from_stream_fields()` convert to and from the hdr/prfx/data layout of the device's
TLP streams (docs/tlp_interface.md).
"""
from __future__ import annotations

from typing import NamedTuple

from cocotbext.pcie.core.dllp import FcType
from cocotbext.pcie.core.tlp import CplStatus, Tlp, TlpAt, TlpAttr, TlpFmt, TlpTc, TlpType, tlp_type_fc_type_mapping
from cocotbext.pcie.core.utils import PcieId

from . import ats as _ats
from . import pri as _pri

PASID_PREFIX_BYTE0 = 0x91
DMWR_TYPE = 0x1B
PASID_BITS = 20
PASID_MAX = (1 << PASID_BITS) - 1

# Request Retry Status shares the Configuration Retry Status encoding (010); CplStatus has only the name CRS.
RRS = CplStatus.CRS

_PREFIX_FMT = TlpFmt.TLP_PREFIX
_DATA_FMTS = (TlpFmt.THREE_DW_DATA, TlpFmt.FOUR_DW_DATA)
# Request types that may carry a PASID prefix (DMWr answers fmt_type with a memory-write type).
_PASID_CARRIERS = frozenset({
    TlpType.MEM_READ, TlpType.MEM_READ_64, TlpType.MEM_WRITE, TlpType.MEM_WRITE_64,
    TlpType.FETCH_ADD, TlpType.FETCH_ADD_64, TlpType.SWAP, TlpType.SWAP_64, TlpType.CAS, TlpType.CAS_64,
})
_MEM_READS = frozenset({TlpType.MEM_READ, TlpType.MEM_READ_64})
_MEM_WRITES = frozenset({TlpType.MEM_WRITE, TlpType.MEM_WRITE_64})
# (fmt, type) -> TlpType without the Enum call (fmt_type is read dozens of times per TLP by cocotbext-pcie).
_PLAIN_FMT_TYPES = {t.value: t for t in TlpType}             # what the package's Tlp.fmt_type answers
_FMT_TYPES = dict(_PLAIN_FMT_TYPES)
# ... and what fmt_type answers for a DMWr (the memory write of its address size; see the module docstring).
_FMT_TYPES[(TlpFmt.THREE_DW_DATA, DMWR_TYPE)] = TlpType.MEM_WRITE
_FMT_TYPES[(TlpFmt.FOUR_DW_DATA, DMWR_TYPE)] = TlpType.MEM_WRITE_64
# Messages this bench packs: routed to the Root Complex or by ID, with and without data (4DW headers).
_MSG_TYPES = frozenset({TlpType.MSG_TO_RC, TlpType.MSG_ID, TlpType.MSG_DATA_TO_RC, TlpType.MSG_DATA_ID})
_MSG_ID_ROUTED = frozenset({TlpType.MSG_ID, TlpType.MSG_DATA_ID})
_MSG_FMT_TYPES = frozenset(t.value for t in _MSG_TYPES)      # (fmt, type) codes of _MSG_TYPES
# The type classes of Tlp.pack_header()/unpack_header() (cocotbext-pcie 0.2.16), as constants.
_HDR_REQUESTS = frozenset({
    TlpType.CFG_READ_0, TlpType.CFG_WRITE_0, TlpType.CFG_READ_1, TlpType.CFG_WRITE_1, TlpType.MEM_READ,
    TlpType.MEM_READ_64, TlpType.MEM_READ_LOCKED, TlpType.MEM_READ_LOCKED_64, TlpType.MEM_WRITE, TlpType.MEM_WRITE_64,
    TlpType.IO_READ, TlpType.IO_WRITE, TlpType.FETCH_ADD, TlpType.FETCH_ADD_64, TlpType.SWAP, TlpType.SWAP_64,
    TlpType.CAS, TlpType.CAS_64})
_HDR_CFG = frozenset({TlpType.CFG_READ_0, TlpType.CFG_WRITE_0, TlpType.CFG_READ_1, TlpType.CFG_WRITE_1})
_HDR_CPL = frozenset({TlpType.CPL, TlpType.CPL_DATA, TlpType.CPL_LOCKED, TlpType.CPL_LOCKED_DATA})
_HDR_LENGTH_0_IS_0 = frozenset({TlpType.CPL, TlpType.CPL_LOCKED, TlpType.MSG_TO_RC, TlpType.MSG_ADDR, TlpType.MSG_ID,
                                TlpType.MSG_BCAST, TlpType.MSG_LOCAL, TlpType.MSG_GATHER})
_FOUR_DW_FMTS = (TlpFmt.FOUR_DW, TlpFmt.FOUR_DW_DATA)
# Header field codes -> the package's enum members, looked up instead of calling the Enum (a code the
# Enum does not define is left to it: the same ValueError as the package's unpack_header).
_AT_OF = {int(m): m for m in TlpAt}
_ATTR_OF = {v: TlpAttr(v) for v in range(8)}
_TC_OF = {int(m): m for m in TlpTc}
_STATUS_OF = {int(m): m for m in CplStatus}
_PCIE_IDS: dict[int, PcieId] = {}
_DATA_FMT_CODES = frozenset(int(f) for f in _DATA_FMTS)
_FOUR_DW_FMT_CODES = frozenset(int(f) for f in _FOUR_DW_FMTS)
# Flow-control class per (Fmt, Type) code: the package's tlp_type_fc_type_mapping, and a DMWr is non-posted.
_FC_OF = {t.value: fc for t, fc in tlp_type_fc_type_mapping.items()}
_FC_OF.update({(int(f), DMWR_TYPE): FcType.NP for f in _DATA_FMTS})


def _pcie_id(v: int) -> PcieId:
    """PcieId.from_int(v), one object per value (PcieId is an immutable tuple)."""
    pid = _PCIE_IDS.get(v)
    if pid is None:
        pid = _PCIE_IDS[v] = PcieId.from_int(v)
    return pid
# The type classes of Tlp.check() (cocotbext-pcie 0.2.16 builds these sets from enums on every call: a set
# literal of Enum members is not a constant, and hashing each member is a Python call).
_CHECK_4K = frozenset({TlpType.MEM_READ, TlpType.MEM_READ_64, TlpType.MEM_READ_LOCKED, TlpType.MEM_READ_LOCKED_64,
                       TlpType.MEM_WRITE, TlpType.MEM_WRITE_64})
_CHECK_CFG_IO = frozenset({TlpType.CFG_READ_0, TlpType.CFG_WRITE_0, TlpType.CFG_READ_1, TlpType.CFG_WRITE_1,
                           TlpType.IO_READ, TlpType.IO_WRITE})
_CHECK_CPL_DATA = frozenset({TlpType.CPL_DATA, TlpType.CPL_LOCKED_DATA})
_CHECK_NO_LENGTH = frozenset({TlpType.CPL, TlpType.CPL_LOCKED, TlpType.MSG_TO_RC, TlpType.MSG_ADDR, TlpType.MSG_ID,
                              TlpType.MSG_BCAST, TlpType.MSG_LOCAL, TlpType.MSG_GATHER})
# The same classes by (Fmt, Type) code, for membership tests without the TlpType (whose hash is a Python call):
# `code in _codes(S)` is `fmt_type in S` for every code fmt_type answers (a DMWr's as its memory write's).
def _codes(types, table=None) -> frozenset:
    return frozenset(code for code, t in (_FMT_TYPES if table is None else table).items() if t in types)


_CHECK_4K_CODES = _codes(_CHECK_4K)
_CHECK_CFG_IO_CODES = _codes(_CHECK_CFG_IO)
_CHECK_CPL_DATA_CODES = _codes(_CHECK_CPL_DATA)
_CHECK_NO_LENGTH_CODES = _codes(_CHECK_NO_LENGTH)
_MEM_READ_CODES = _codes(_MEM_READS)
_MEM_WRITE_CODES = _codes(_MEM_WRITES)
_MSG_TYPE_CODES = _codes(_MSG_TYPES)
_HDR_REQUEST_CODES = _codes(_HDR_REQUESTS)
_HDR_CFG_CODES = _codes(_HDR_CFG)
_HDR_CPL_CODES = _codes(_HDR_CPL)
_HDR_LENGTH_0_IS_0_CODES = _codes(_HDR_LENGTH_0_IS_0)
# Message codes that may carry a PASID prefix (Invalidate Request, Page Request: PCIe §10.3, §10.4).
_PASID_MSG_CODES = frozenset({_ats.MSG_CODE_INV_REQ, _ats.MSG_CODE_PAGE_REQ, _ats.MSG_CODE_PRG_RESP})


class TlpFormatError(ValueError):
    """A TLP (bytes or stream fields) that is malformed, or one this bench does not support."""


def _prefix_bit(name, val):
    if isinstance(val, bool) or (isinstance(val, int) and val in (0, 1)):
        return bool(val)
    raise TlpFormatError(f"PASID prefix {name} must be a boolean (or 0/1), got {val!r}")


_FIRST_BE_CONTIGUOUS = frozenset({0b1111, 0b1110, 0b1100, 0b1000})
_LAST_BE_CONTIGUOUS = frozenset({0b0001, 0b0011, 0b0111, 0b1111})
DMWR_MAX_DW = 32     # DMWr completers support 64 or 128 bytes (Device Capabilities 2); never more


def request_format_error(tlp) -> str | None:
    """Why a memory request (MRd, MWr, DMWr) breaks the TLP formation rules of PCIe Base §2.2, or None.

    Checked: a 4DW header only for an address at or above 4 GiB (§2.2.4.1); no 4 KiB crossing
    (§2.2.7); Byte Enables (§2.2.5): Last DW BE 0000b for a 1-DW request and nonzero First/Last DW BE
    otherwise, contiguous except for a QW-aligned 2-DW request; DMWr (§2.2.7.x): whole DWs, all bytes
    enabled, at most 128 bytes."""
    ft = tlp.fmt_type
    at = int(getattr(tlp, "at", 0))
    if ft not in _MEM_READS and ft not in _MEM_WRITES:
        if at:
            return f"AT {at:#04b} on {ft.name}: only memory requests carry an Address Type"
        return None
    length = tlp.length or 1024
    if at == _ats.AT_RESERVED:
        return "AT 11b is reserved"
    if at == _ats.AT_TRANSLATION_REQUEST:
        if ft not in _MEM_READS or tlp.is_dmwr():
            return "AT 01b (Translation Request) is only allowed on a Memory Read"
        if length < 2 or length % 2:
            return f"Translation Request Length {length} DW: must be even and >= 2 (2 DW per translation)"
        if tlp.address & 0xFFF:
            return f"Translation Request address {tlp.address:#x}: untranslated address bits 11:0 must be 0"
    if at == _ats.AT_TRANSLATED and tlp.is_dmwr():
        return "AT 10b on a DMWr: only the device's own MRd/MWr are translated here"
    if tlp.get_header_size_dw() == 4 and tlp.address <= 0xFFFF_FFFF:
        return f"4DW header for address {tlp.address:#x} below 4 GiB (must use 3DW)"
    if (tlp.address & 0xFFF) + 4 * length > 0x1000:
        return f"[{tlp.address:#x}, +{4 * length} bytes) crosses a 4 KiB boundary"
    first, last = tlp.first_be, tlp.last_be
    if length == 1:
        if last:
            return f"Last DW BE {last:#06b} must be 0000b for a 1-DW request"
    else:
        if not first or not last:
            return f"First/Last DW BE {first:#06b}/{last:#06b} must be nonzero for a {length}-DW request"
        qw_aligned_2dw = length == 2 and not tlp.address & 0x4
        if not qw_aligned_2dw and (first not in _FIRST_BE_CONTIGUOUS or last not in _LAST_BE_CONTIGUOUS):
            return f"non-contiguous Byte Enables {first:#06b}/{last:#06b} for a {length}-DW request"
    if tlp.is_dmwr():
        if length > DMWR_MAX_DW:
            return f"DMWr of {length} DW: at most {DMWR_MAX_DW} DW (128 bytes)"
        if first != 0xF or last != (0xF if length > 1 else 0):
            return f"DMWr Byte Enables {first:#06b}/{last:#06b}: a DMWr writes whole DWs (1111b)"
    return None


class ProtocolError(AssertionError):
    """The RTL (or a model) broke a rule of the TLP streams or of PCIe: fails the test."""


class Lazy:
    """A message part built only when a check fails (a TLP's repr costs more than the checks themselves)."""
    __slots__ = ("make",)

    def __init__(self, make):
        self.make = make

    def __format__(self, spec):
        return format(self.make(), spec)

    def __str__(self):
        return self.make()


class CompletionTimeout(AssertionError):
    """A non-posted request got no completion in time: reported, never waited on forever."""


class StreamFields(NamedTuple):
    """One TLP as the device's streams carry it (docs/tlp_interface.md)."""
    hdr: int            # 128 bits, hdr[127:120] = header byte 0; a 3DW header leaves hdr[31:0] = 0
    prfx_valid: bool
    prfx: int           # 32 bits, prfx[31:24] = 0x91 when prfx_valid
    data: bytes         # exactly Length*4 payload bytes (empty without payload)


_BLANKS: dict[type, dict] = {}


def fmt_type_of(tlp) -> TlpType:
    """`tlp.fmt_type` of a PasidTlp or of the package's own Tlp (the RC builds its completions as those),
    whose property calls the Enum each time; an unknown code raises the Enum's error as the property does."""
    if isinstance(tlp, PasidTlp):
        return tlp.fmt_type
    ft = _PLAIN_FMT_TYPES.get((tlp.fmt, tlp.type))
    return tlp.fmt_type if ft is None else ft


class PasidTlp(Tlp):
    """cocotbext-pcie `Tlp` plus an optional PASID prefix and the DMWr request type."""

    def __init__(self, tlp=None):
        if tlp is None:
            # A blank TLP is every field at its default: copied from the first one this class built (the
            # defaults are immutable values; only the payload buffer is new each time).
            blank = _BLANKS.get(type(self))
            if blank is not None:
                d = self.__dict__
                d.update(blank)
                d["data"] = bytearray()
                return
        super().__init__(tlp)
        self._pasid = None
        self._pmr = False
        self._er = False
        self.msg_code = 0
        self.msg_b8_11 = 0
        self.msg_b12_15 = 0
        if isinstance(tlp, Tlp):
            self.th = tlp.th  # the base copy constructor drops TH
        if isinstance(tlp, PasidTlp):
            self._pasid = tlp._pasid
            self.pmr = tlp.pmr
            self.er = tlp.er
            self.msg_code = tlp.msg_code
            self.msg_b8_11 = tlp.msg_b8_11
            self.msg_b12_15 = tlp.msg_b12_15
        if tlp is None:
            _BLANKS[type(self)] = dict(self.__dict__)

    # ---- PASID prefix -------------------------------------------------------------------------
    @property
    def pasid(self):
        """PASID[19:0] of the prefix, or None when the TLP has no PASID prefix."""
        return self._pasid

    @pasid.setter
    def pasid(self, val):
        if val is not None and not (0 <= int(val) <= PASID_MAX):
            raise TlpFormatError(f"PASID {val:#x} does not fit in {PASID_BITS} bits")
        self._pasid = None if val is None else int(val)

    @property
    def pmr(self):
        """Privileged Mode Requested (PASID prefix byte 1 bit 7)."""
        return self._pmr

    @pmr.setter
    def pmr(self, val):
        self._pmr = _prefix_bit("PMR", val)

    @property
    def er(self):
        """Execute Requested (PASID prefix byte 1 bit 6)."""
        return self._er

    @er.setter
    def er(self, val):
        self._er = _prefix_bit("ER", val)

    @property
    def has_prefix(self):
        return self._pasid is not None

    def set_pasid(self, pasid, pmr=False, er=False):
        self.pasid = pasid
        self.pmr = pmr
        self.er = er

    def clear_pasid(self):
        self.set_pasid(None)

    def pack_prefix(self):
        self._check_prefix()
        return bytes((PASID_PREFIX_BYTE0,
                      (self.pmr << 7) | (self.er << 6) | (self._pasid >> 16),
                      (self._pasid >> 8) & 0xFF,
                      self._pasid & 0xFF))

    def _check_prefix(self):
        if self._pasid is None:
            if self.pmr or self.er:
                raise TlpFormatError("PMR/ER set on a TLP without a PASID prefix")
            return
        if not (0 <= self._pasid <= PASID_MAX):
            raise TlpFormatError(f"PASID {self._pasid:#x} does not fit in {PASID_BITS} bits")
        if self.is_message():
            if self.msg_code not in _PASID_MSG_CODES:
                raise TlpFormatError(f"a PASID prefix is not allowed on message code {self.msg_code:#04x}")
        elif self.fmt_type not in _PASID_CARRIERS:
            raise TlpFormatError(f"a PASID prefix is not allowed on {self.fmt_type.name}")

    # ---- DMWr ---------------------------------------------------------------------------------
    def is_dmwr(self):
        return self.type == DMWR_TYPE and self.fmt in _DATA_FMTS

    @property
    def fmt_type(self):
        ft = _FMT_TYPES.get((self.fmt, self.type))       # a DMWr answers its memory-write type
        return TlpType((self.fmt, self.type)) if ft is None else ft     # the Enum's error for a bad code

    @fmt_type.setter
    def fmt_type(self, val):
        Tlp.fmt_type.fset(self, val)

    def get_fc_type(self):
        """The package's mapping looked up by the (Fmt, Type) codes instead of hashing the TlpType (a DMWr is
        non-posted); an unknown code raises the Enum's ValueError, as the package's does."""
        fc = _FC_OF.get((self.fmt, self.type))
        return super().get_fc_type() if fc is None else fc

    def has_data(self):
        return self.fmt in _DATA_FMT_CODES

    def get_header_size(self):
        return 16 if self.fmt in _FOUR_DW_FMT_CODES else 12

    def get_header_size_dw(self):
        return 4 if self.fmt in _FOUR_DW_FMT_CODES else 3

    def check(self):
        """Tlp.check() (cocotbext-pcie 0.2.16, which every Function, Device and RC asserts on each TLP they send
        or receive): the same rules and messages, with the type classes as constant sets and `fmt_type` read
        once. One difference, on purpose: the package compares fmt_type *equal to* the set of configuration
        and I/O types (so never checks them); here the Length = 1 / Last BE = 0 rule applies to them."""
        ret = True
        code = (self.fmt, self.type)
        if code not in _FMT_TYPES:
            self.fmt_type           # the Enum's ValueError, as the package's fmt_type read raises it
        if self.fmt in _DATA_FMTS:
            if self.length * 4 != len(self.data):
                print(f"TLP validation failed, length field does not match data: {self!r}")
                ret = False
            if 0 > self.length > 1024:      # the package's (vacuous) range test, kept as it is
                print(f"TLP validation failed, length out of range: {self!r}")
                ret = False
        if code in _CHECK_4K_CODES:
            if self.length * 4 > 0x1000 - (self.address & 0xfff):
                print(f"TLP validation failed, request crosses 4K boundary: {self!r}")
                ret = False
        elif code in _CHECK_CFG_IO_CODES:
            if self.length != 1:
                print(f"TLP validation failed, invalid length for IO or configuration request: {self!r}")
                ret = False
            if self.last_be != 0:
                print(f"TLP validation failed, invalid last BE for IO or configuration request: {self!r}")
                ret = False
        elif code in _CHECK_CPL_DATA_CODES:
            if (self.byte_count + (self.lower_address & 3) + 3) < self.length * 4:
                print(f"TLP validation failed, completion byte count too small: {self!r}")
                ret = False
        elif code in _CHECK_NO_LENGTH_CODES:
            if self.length != 0:
                print(f"TLP validation failed, length field is reserved: {self!r}")
                ret = False
        return ret

    def is_posted(self):
        return self.get_fc_type() == FcType.P

    def is_nonposted(self):
        return self.get_fc_type() == FcType.NP

    def is_completion(self):
        return self.get_fc_type() == FcType.CPL

    def is_mem_read(self):
        code = (self.fmt, self.type)
        if code in _MEM_READ_CODES:
            return True
        if code not in _FMT_TYPES:
            self.fmt_type           # the Enum's ValueError for an unknown code, as before
        return False

    def is_mem_write(self):
        """A posted memory write (not a DMWr)."""
        if self.is_dmwr():
            return False
        code = (self.fmt, self.type)
        if code in _MEM_WRITE_CODES:
            return True
        if code not in _FMT_TYPES:
            self.fmt_type
        return False

    # ---- sizes (the prefix DW travels on the wire) --------------------------------------------
    def get_size(self):
        return super().get_size() + (4 if self.has_prefix else 0)

    def get_size_dw(self):
        return super().get_size_dw() + (1 if self.has_prefix else 0)

    # ---- builders -----------------------------------------------------------------------------
    @classmethod
    def _new_request(cls, addr, fmt_type_32, fmt_type_64, requester_id, tag, pasid, pmr, er, force_64):
        tlp = cls()
        tlp.fmt_type = fmt_type_64 if (force_64 or addr > 0xFFFF_FFFF) else fmt_type_32
        tlp.requester_id = requester_id
        tlp.tag = tag
        tlp.set_pasid(pasid, pmr, er)
        return tlp

    @staticmethod
    def _check_4k(addr, length):
        if length and (addr & 0xFFF) + length > 0x1000:
            raise ValueError(f"request [{addr:#x}, +{length}) crosses a 4 KiB boundary")

    @classmethod
    def create_mem_read(cls, addr, length, *, requester_id=PcieId(0, 0, 0), tag=0, pasid=None, pmr=False,
                        er=False, force_64=False):
        cls._check_4k(addr, length)
        tlp = cls._new_request(addr, TlpType.MEM_READ, TlpType.MEM_READ_64, requester_id, tag, pasid, pmr, er,
                               force_64)
        tlp.set_addr_be(addr, length)
        return tlp

    @classmethod
    def create_mem_write(cls, addr, data, *, requester_id=PcieId(0, 0, 0), tag=0, pasid=None, pmr=False,
                         er=False, force_64=False):
        cls._check_4k(addr, len(data))
        tlp = cls._new_request(addr, TlpType.MEM_WRITE, TlpType.MEM_WRITE_64, requester_id, tag, pasid, pmr, er,
                               force_64)
        tlp.set_addr_be_data(addr, data)
        return tlp

    @classmethod
    def create_dmwr(cls, addr, data, *, pasid=None, pmr=False, er=False, requester_id=PcieId(0, 0, 0), tag=0,
                    force_64=False):
        """A DMWr of whole DWs (DWORD-aligned, 4..128 bytes: the sizes DMWr completers may support)."""
        if addr % 4 or len(data) % 4 or not 4 <= len(data) <= 128:
            raise ValueError(f"DMWr needs DWORD-aligned address and 4..128 bytes in whole DWs, "
                             f"got addr {addr:#x}, {len(data)} bytes")
        tlp = cls.create_mem_write(addr, data, requester_id=requester_id, tag=tag, pasid=pasid, pmr=pmr, er=er,
                                   force_64=force_64)
        tlp.type = DMWR_TYPE
        return tlp

    @classmethod
    def create_completion_for_tlp(cls, tlp, completer_id, has_data=False, status=CplStatus.SC):
        """The base's completion, plus the Byte Count the completion rules give a completion without data
        (docs/tlp_interface.md: 4, with Lower Address 0, for DMWr, UR and CA completions; the base leaves 0)."""
        cpl = super().create_completion_for_tlp(tlp, completer_id, has_data, status)
        if not has_data:
            cpl.byte_count = 4
            cpl.lower_address = 0
        return cpl

    # ---- messages (ATS) -----------------------------------------------------------------------
    def is_message(self):
        return (self.fmt, self.type) in _MSG_TYPE_CODES     # an unknown code: not a message

    def is_inv_request(self):
        return self.is_message() and self.fmt_type == TlpType.MSG_DATA_ID and self.msg_code == _ats.MSG_CODE_INV_REQ

    def is_inv_completion(self):
        return self.is_message() and self.fmt_type == TlpType.MSG_ID and self.msg_code == _ats.MSG_CODE_INV_CPL

    @classmethod
    def create_message(cls, fmt_type, code, *, requester_id=PcieId(0, 0, 0), dest_id=PcieId(0, 0, 0), tag=0,
                       b8_11=0, b12_15=0, data=b""):
        if fmt_type not in _MSG_TYPES:
            raise ValueError(f"{fmt_type!r} is not a message type this bench packs")
        tlp = cls()
        tlp.fmt_type = fmt_type
        tlp.requester_id = PcieId.from_int(int(requester_id))
        tlp.completer_id = PcieId.from_int(int(dest_id))
        tlp.tag = tag
        tlp.msg_code = code
        tlp.msg_b8_11 = b8_11
        tlp.msg_b12_15 = b12_15
        tlp.data = bytearray(data)
        tlp.length = len(data) // 4
        return tlp

    @classmethod
    def create_invalidate_request(cls, *, requester_id, dest_id, itag, page, size, glob=False, pasid=None,
                                  dw0_high=_ats.ENTRY_DW0_HIGH):
        """ATS Invalidate Request (MsgD routed by ID, code 0x01): TA `requester_id` -> function `dest_id`,
        ITag in byte 6 bits 4:0, 2-DW payload = the untranslated range (tb/pcie/ats.py)."""
        if not 0 <= itag < _ats.ITAGS:
            raise ValueError(f"ITag {itag} outside 0..31")
        body = _ats.InvalidatePayload(page, size, glob).to_payload(dw0_high)
        tlp = cls.create_message(TlpType.MSG_DATA_ID, _ats.MSG_CODE_INV_REQ, requester_id=requester_id,
                                 dest_id=dest_id, tag=itag, data=body)
        tlp.set_pasid(pasid)
        return tlp

    def inv_request_fields(self, dw0_high=_ats.ENTRY_DW0_HIGH):
        """(ITag, InvalidatePayload) of an Invalidate Request."""
        if not self.is_inv_request() or len(self.data) != 8:
            raise TlpFormatError(f"not an Invalidate Request with a 2-DW payload: {self!r}")
        return self.tag & 0x1F, _ats.InvalidatePayload.from_payload(bytes(self.data), dw0_high)

    @classmethod
    def create_invalidate_completion(cls, *, requester_id, dest_id, itag_vector, cc=1):
        """ATS Invalidate Completion (Msg routed by ID, code 0x02): function -> TA (`dest_id` = the TA's
        Requester ID), CC in byte 11 bits 2:0 (0 means 8), ITag Vector in bytes 12-15."""
        return cls.create_message(TlpType.MSG_ID, _ats.MSG_CODE_INV_CPL, requester_id=requester_id,
                                  dest_id=dest_id, b8_11=cc & 7, b12_15=itag_vector & 0xFFFF_FFFF)

    def inv_completion_fields(self):
        """(CC with 0 read as 8, ITag vector) of an Invalidate Completion."""
        if not self.is_inv_completion():
            raise TlpFormatError(f"not an Invalidate Completion: {self!r}")
        return (self.msg_b8_11 & 7) or 8, self.msg_b12_15

    # ---- messages (PRI, tb/pcie/pri.py) -------------------------------------------------------
    def is_page_request(self):
        return self.is_message() and self.fmt_type == TlpType.MSG_TO_RC and self.msg_code == _ats.MSG_CODE_PAGE_REQ

    def is_prg_response(self):
        return self.is_message() and self.fmt_type == TlpType.MSG_ID and self.msg_code == _ats.MSG_CODE_PRG_RESP

    @classmethod
    def create_page_request(cls, *, requester_id, page, prgi, r=False, w=False, last=True, pasid=None, pmr=False,
                            er=False):
        """Page Request (Msg to the RC, code 0x04): tb/pcie/pri.PageRequest in bytes 8-15."""
        b8, b12 = _pri.PageRequest(page, prgi, r, w, last).pack()
        tlp = cls.create_message(TlpType.MSG_TO_RC, _ats.MSG_CODE_PAGE_REQ, requester_id=requester_id,
                                 b8_11=b8, b12_15=b12)
        tlp.set_pasid(pasid, pmr, er)
        return tlp

    def page_request_fields(self):
        """tb/pcie/pri.PageRequest of a Page Request."""
        if not self.is_page_request():
            raise TlpFormatError(f"not a Page Request: {self!r}")
        return _pri.PageRequest.unpack(self.msg_b8_11, self.msg_b12_15)

    @classmethod
    def create_prg_response(cls, *, requester_id, dest_id, prgi, code, pasid=None):
        """PRG Response (Msg routed by ID, code 0x05): bytes 8-9 destination, 10-11 code 15:12 | PRG index 8:0."""
        tlp = cls.create_message(TlpType.MSG_ID, _ats.MSG_CODE_PRG_RESP, requester_id=requester_id,
                                 dest_id=dest_id, b8_11=_pri.prg_response_word(code, prgi))
        tlp.set_pasid(pasid)
        return tlp

    def prg_response_fields(self):
        """(code, PRG index) of a PRG Response."""
        if not self.is_prg_response():
            raise TlpFormatError(f"not a PRG Response: {self!r}")
        return _pri.prg_response_fields(self.msg_b8_11 & 0xFFFF)

    # ---- bytes --------------------------------------------------------------------------------
    def _pack_message_header(self):
        dw0 = (self.length & 0x3FF) | ((int(self.at) & 3) << 10) | ((int(self.attr) & 3) << 12) | \
            (bool(self.ep) << 14) | (bool(self.td) << 15) | (bool(self.th) << 16) | (bool(self.ln) << 17) | \
            ((int(self.attr) & 4) << 16) | ((self.tag & 0x100) << 11) | ((int(self.tc) & 7) << 20) | \
            ((self.tag & 0x200) << 14) | ((self.type & 0x1F) << 24) | ((self.fmt & 7) << 29)
        dw1 = (int(self.requester_id) << 16) | ((self.tag & 0xFF) << 8) | (self.msg_code & 0xFF)
        b8 = self.msg_b8_11 & 0xFFFF_FFFF
        if self.fmt_type in _MSG_ID_ROUTED:
            b8 = (int(self.completer_id) << 16) | (b8 & 0xFFFF)
        return bytearray(dw0.to_bytes(4, "big") + dw1.to_bytes(4, "big") + b8.to_bytes(4, "big")
                         + (self.msg_b12_15 & 0xFFFF_FFFF).to_bytes(4, "big"))

    @classmethod
    def unpack_header(cls, pkt):
        ft = (pkt[0] >> 5, pkt[0] & 0x1F)
        if ft not in _MSG_FMT_TYPES:
            return cls._unpack_request_cpl_header(pkt)
        dw0 = int.from_bytes(pkt[0:4], "big")
        tlp = cls()
        tlp.fmt, tlp.type = ft
        tlp.length = dw0 & 0x3FF
        if (dw0 >> 10) & 3:
            raise TlpFormatError(f"AT {(dw0 >> 10) & 3:#04b} on a message")
        tlp.ep = bool(dw0 & 1 << 14)
        tlp.td = bool(dw0 & 1 << 15)
        tlp.th = bool(dw0 & 1 << 16)
        tlp.ln = bool(dw0 & 1 << 17)
        tlp.attr = type(tlp.attr)(((dw0 >> 12) & 3) | ((dw0 >> 16) & 4))
        tlp.tc = type(tlp.tc)((dw0 >> 20) & 7)
        tlp.tag = ((dw0 >> 11) & 0x100) | ((dw0 >> 14) & 0x200) | pkt[6]
        tlp.requester_id = PcieId.from_int(int.from_bytes(pkt[4:6], "big"))
        tlp.msg_code = pkt[7]
        tlp.msg_b8_11 = int.from_bytes(pkt[8:12], "big")
        tlp.msg_b12_15 = int.from_bytes(pkt[12:16], "big")
        if tlp.fmt_type in _MSG_ID_ROUTED:
            tlp.completer_id = PcieId.from_int(tlp.msg_b8_11 >> 16)
            tlp.msg_b8_11 &= 0xFFFF
        return tlp

    @classmethod
    def _unpack_request_cpl_header(cls, pkt):
        """Tlp.unpack_header() of cocotbext-pcie 0.2.16 (every header but the messages this class packs), field
        for field, with its type classes as constants (the package builds sets of enums on every call; it
        ran for every TLP the device sent). Unit-tested against the package's for every type."""
        tlp = cls()
        dw = int.from_bytes(pkt[0:4], "big")
        tlp.length = dw & 0x3ff
        v = (dw >> 10) & 0x3
        tlp.at = _AT_OF[v] if v in _AT_OF else TlpAt(v)
        tlp.ep = bool(dw & 1 << 14)
        tlp.td = bool(dw & 1 << 15)
        tlp.th = bool(dw & 1 << 16)
        tlp.ln = bool(dw & 1 << 17)
        tlp.attr = _ATTR_OF[((dw >> 12) & 0x3) | (dw >> 16) & 0x4]
        tlp.tc = _TC_OF[(dw >> 20) & 0x7]
        tlp.tag = ((dw >> 11) & 0x100) | ((dw >> 14) & 0x200)
        tlp.type = (dw >> 24) & 0x1f
        tlp.fmt = (dw >> 29) & 0x7
        ft = (tlp.fmt, tlp.type)
        if ft not in _FMT_TYPES:
            tlp.fmt_type                          # as the package asks it (ValueError for an unknown code)
        if ft not in _HDR_LENGTH_0_IS_0_CODES and tlp.length == 0:
            tlp.length = 1024
        if ft in _HDR_REQUEST_CODES:
            dw = int.from_bytes(pkt[4:8], "big")
            tlp.first_be = dw & 0xf
            tlp.last_be = (dw >> 4) & 0xf
            tlp.tag |= (dw >> 8) & 0x0ff
            tlp._requester_id = _pcie_id(dw >> 16)
            if ft in _HDR_CFG_CODES:
                dw = int.from_bytes(pkt[8:12], "big")
                tlp.address = dw & 0xffc
                tlp._completer_id = _pcie_id(dw >> 16)
            elif tlp.fmt in _FOUR_DW_FMTS:
                val = int.from_bytes(pkt[8:16], "big")
                tlp.address = val & 0xfffffffffffffffc
                tlp.ph = val & 0x3
            else:
                dw = int.from_bytes(pkt[8:12], "big")
                tlp.address = dw & 0xfffffffc
                tlp.ph = dw & 0x3
        elif ft in _HDR_CPL_CODES:
            dw = int.from_bytes(pkt[4:8], "big")
            tlp.byte_count = dw & 0xfff
            tlp.bcm = bool(dw & 1 << 12)
            v = (dw >> 13) & 0x7
            tlp.status = _STATUS_OF[v] if v in _STATUS_OF else CplStatus(v)
            tlp._completer_id = _pcie_id(dw >> 16)
            dw = int.from_bytes(pkt[8:12], "big")
            tlp.lower_address = dw & 0x7f
            tlp.tag |= (dw >> 8) & 0x0ff
            tlp._requester_id = _pcie_id(dw >> 16)
            if tlp.byte_count == 0:
                tlp.byte_count = 4096
        else:
            raise Exception("Unknown TLP type")
        return tlp

    def _pack_request_cpl_header(self):
        """Tlp.pack_header() of cocotbext-pcie 0.2.16, with its type classes as constants (see above)."""
        ft = (self.fmt, self.type)
        if ft not in _FMT_TYPES:
            self.fmt_type                         # the Enum's ValueError for an unknown code
        attr = int(self.attr)       # TlpAttr is a Flag: `&` on it builds a new member
        dw = (self.length & 0x3ff) | (self.at & 0x3) << 10 | (attr & 0x3) << 12 | bool(self.ep) << 14 \
            | bool(self.td) << 15 | bool(self.th) << 16 | bool(self.ln) << 17 | (attr & 0x4) << 16 \
            | (self.tag & 0x100) << 11 | (self.tc & 0x7) << 20 | (self.tag & 0x200) << 14 | (self.type & 0x1f) << 24 \
            | (self.fmt & 0x7) << 29
        pkt = bytearray(dw.to_bytes(4, "big"))
        if ft in _HDR_REQUEST_CODES:
            dw = (self.first_be & 0xf) | (self.last_be & 0xf) << 4 | (self.tag & 0x0ff) << 8 | int(self.requester_id) << 16
            pkt += dw.to_bytes(4, "big")
            if ft in _HDR_CFG_CODES:
                pkt += ((self.address & 0xffc) | int(self.completer_id) << 16).to_bytes(4, "big")
            elif self.fmt in _FOUR_DW_FMTS:
                pkt += ((self.address & 0xfffffffffffffffc) | (self.ph & 0x3)).to_bytes(8, "big")
            else:
                pkt += ((self.address & 0xfffffffc) | (self.ph & 0x3)).to_bytes(4, "big")
        elif ft in _HDR_CPL_CODES:
            dw = (self.byte_count & 0xfff) | bool(self.bcm) << 12 | (self.status & 0x7) << 13 \
                | int(self.completer_id) << 16
            pkt += dw.to_bytes(4, "big")
            pkt += ((self.lower_address & 0x7f) | (self.tag & 0x0ff) << 8 | int(self.requester_id) << 16).to_bytes(4, "big")
        else:
            raise Exception("Unknown TLP type")
        return pkt

    def pack_header(self):
        if self.is_message():
            return self._pack_message_header()
        if not self.is_dmwr():
            return self._pack_request_cpl_header()
        # The DMWr header is a memory-write header with another type code: pack it as one, then patch.
        self.type = 0
        try:
            hdr = self._pack_request_cpl_header()
        finally:
            self.type = DMWR_TYPE
        hdr[0] = (hdr[0] & 0xE0) | DMWR_TYPE
        return hdr

    def pack(self):
        """Prefix (if any) + header + payload, in wire byte order."""
        try:
            self.fmt_type
        except ValueError as exc:
            raise TlpFormatError(f"unknown Fmt {self.fmt:#05b} / Type {self.type:#07b}") from exc
        self._check_prefix()
        if self.has_data():
            if len(self.data) != self.length * 4 or not 1 <= self.length <= 1024:
                raise TlpFormatError(f"Length field {self.length} DW does not match {len(self.data)} payload bytes")
        elif self.data:
            raise TlpFormatError(f"{self.fmt_type.name} has no payload but carries {len(self.data)} data bytes")
        try:
            hdr = self.pack_header()
        except Exception as exc:  # the base raises ValueError/Exception for types it cannot pack
            raise TlpFormatError(f"cannot pack Fmt {self.fmt:#05b} Type {self.type:#07b}: {exc}") from exc
        pkt = bytearray(self.pack_prefix() if self.has_prefix else b"")
        pkt += hdr
        if self.has_data():
            pkt += self.data
        return pkt

    @classmethod
    def unpack(cls, pkt):
        """Parse prefix + header + payload; raise TlpFormatError on anything malformed or unsupported."""
        pkt = bytes(pkt)
        off = 0
        prefix = None
        while True:
            if len(pkt) < off + 4:
                raise TlpFormatError(f"truncated TLP: {len(pkt)} bytes, no complete "
                                     f"{'header' if off else 'first'} DW at byte {off}")
            if pkt[off] >> 5 != _PREFIX_FMT:
                break
            if prefix is not None:
                raise TlpFormatError(f"more than one TLP prefix (second prefix byte 0 = {pkt[off]:#04x}); "
                                     f"at most one PASID prefix is allowed")
            if pkt[off] != PASID_PREFIX_BYTE0:
                raise TlpFormatError(f"unsupported TLP prefix type: byte 0 = {pkt[off]:#04x}, only the PASID "
                                     f"E2E prefix {PASID_PREFIX_BYTE0:#04x} is supported")
            prefix = pkt[off:off + 4]
            off += 4

        fmt = pkt[off] >> 5
        if fmt > TlpFmt.FOUR_DW_DATA:
            raise TlpFormatError(f"reserved Fmt {fmt:#05b} in header byte 0 {pkt[off]:#04x}")
        hdr_len = 16 if fmt & 1 else 12
        if len(pkt) < off + hdr_len:
            raise TlpFormatError(f"truncated TLP: {hdr_len}-byte header at byte {off} but only "
                                 f"{len(pkt) - off} bytes follow")
        hdr = bytearray(pkt[off:off + hdr_len])
        if (hdr[2] >> 2) & 3 == _ats.AT_RESERVED:
            raise TlpFormatError(f"reserved AT 11b in header {bytes(hdr[:4]).hex()}")
        dmwr = (hdr[0] & 0x1F) == DMWR_TYPE
        if dmwr:
            if fmt not in _DATA_FMTS:
                raise TlpFormatError(f"DMWr type with Fmt {fmt:#05b}: a DMWr always carries data")
            hdr[0] &= 0xE0  # parse as the memory write it is laid out like
        try:
            tlp = cls.unpack_header(hdr)
        except Exception as exc:  # the base raises ValueError/Exception for unknown types and statuses
            raise TlpFormatError(f"unsupported or malformed header {bytes(hdr[:4]).hex()}: {exc}") from exc
        if dmwr:
            tlp.type = DMWR_TYPE

        payload = pkt[off + hdr_len:]
        if tlp.has_data():
            if len(payload) != tlp.length * 4:
                raise TlpFormatError(f"Length field says {tlp.length} DW ({tlp.length * 4} bytes) but "
                                     f"{len(payload)} payload bytes follow")
        elif payload:
            raise TlpFormatError(f"{len(payload)} bytes after a {tlp.fmt_type.name} header, which has no payload")
        tlp.data = bytearray(payload)

        if prefix is not None:
            if prefix[1] & 0x30:
                raise TlpFormatError(f"reserved bits 5:4 of PASID prefix byte 1 set: {prefix.hex()}")
            tlp.pasid = ((prefix[1] & 0x0F) << 16) | (prefix[2] << 8) | prefix[3]
            tlp.pmr = bool(prefix[1] & 0x80)
            tlp.er = bool(prefix[1] & 0x40)
            tlp._check_prefix()
        why = request_format_error(tlp)
        if why:
            raise TlpFormatError(f"malformed {'DMWr' if tlp.is_dmwr() else tlp.fmt_type.name}: {why}")
        return tlp

    # ---- device stream layout (docs/tlp_interface.md) -----------------------------------------
    def to_stream_fields(self):
        raw = self.pack()
        off = 4 if self.has_prefix else 0
        hdr_len = self.get_header_size()
        hdr = int.from_bytes(bytes(raw[off:off + hdr_len]).ljust(16, b"\0"), "big")
        prfx = int.from_bytes(raw[:4], "big") if off else 0
        return StreamFields(hdr, bool(off), prfx, bytes(raw[off + hdr_len:]))

    @classmethod
    def from_stream_fields(cls, hdr, prfx_valid, prfx, data=b""):
        if not 0 <= hdr < 1 << 128:
            raise TlpFormatError(f"hdr {hdr:#x} is not a 128-bit value")
        fmt = hdr >> 125
        if fmt > TlpFmt.FOUR_DW_DATA:
            raise TlpFormatError(f"hdr Fmt {fmt:#05b}: prefixes travel on prfx, the header must start with "
                                 f"Fmt 000..011")
        hdr_bytes = hdr.to_bytes(16, "big")
        if not fmt & 1:
            if hdr & 0xFFFF_FFFF:
                raise TlpFormatError(f"3DW header with nonzero hdr[31:0] = {hdr & 0xFFFF_FFFF:#010x}")
            hdr_bytes = hdr_bytes[:12]
        pre = b""
        if prfx_valid:
            if prfx >> 24 != PASID_PREFIX_BYTE0 or not 0 <= prfx < 1 << 32:
                raise TlpFormatError(f"prfx_valid with prfx {prfx:#010x}: prfx[31:24] must be "
                                     f"{PASID_PREFIX_BYTE0:#04x}")
            pre = prfx.to_bytes(4, "big")
        return cls.unpack(pre + hdr_bytes + bytes(data))

    # ---- comparison and display ---------------------------------------------------------------
    def __eq__(self, other):
        if not isinstance(other, Tlp) or not super().__eq__(other):
            return False
        mine = (self._pasid, self.pmr, self.er, self.th, self.msg_code, self.msg_b8_11, self.msg_b12_15)
        theirs = (other._pasid, other.pmr, other.er, other.th, other.msg_code, other.msg_b8_11, other.msg_b12_15) \
            if isinstance(other, PasidTlp) else (None, False, False, other.th, 0, 0, 0)
        return mine == theirs

    __hash__ = None

    def __repr__(self):
        extra = f", dmwr={self.is_dmwr()}"
        if self.is_message():
            extra += f", msg_code={self.msg_code:#04x}, b8_11={self.msg_b8_11:#010x}, b12_15={self.msg_b12_15:#010x}"
        if self.has_prefix:
            extra += f", pasid={self._pasid:#07x}, pmr={self.pmr}, er={self.er}"
        return super().__repr__()[:-1] + extra + ")"
