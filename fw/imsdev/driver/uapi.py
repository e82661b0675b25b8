"""Descriptor and completion record (include/uapi/linux/idxd.h: struct dsa_hw_desc, dsa_completion_record),
for the device contract of docs/work_queues.md. Names follow Linux where the meaning is the same; the
values are the document's. fw/lib/imsdev.h defines the same constants for C (tests/unit checks they
agree).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..fields import FieldError, check, flag, put

# Opcodes (enum dsa_opcode)
DSA_OPCODE_NOOP = 0x00
DSA_OPCODE_BATCH = 0x01
DSA_OPCODE_DRAIN = 0x02
DSA_OPCODE_MEMMOVE = 0x03
DSA_OPCODE_MEMFILL = 0x04

# Descriptor flags (IDXD_OP_FLAG_*)
IDXD_OP_FLAG_FENCE = 0x0001
IDXD_OP_FLAG_BOF = 0x0002
IDXD_OP_FLAG_CRAV = 0x0004     # completion record address valid
IDXD_OP_FLAG_RCR = 0x0008      # request a completion record
IDXD_OP_FLAG_RCI = 0x0010      # request a completion interrupt
IDXD_OP_FLAG_CC = 0x0100
IDXD_OP_FLAG_STORD = 0x2000

# Completion status (enum dsa_completion_status); bits 6:0, bit 7 = the fault was on a write.
DSA_COMP_NONE = 0x00
DSA_COMP_SUCCESS = 0x01
DSA_COMP_PAGE_FAULT_NOBOF = 0x03     # source read answered UR/CA (no translation): fault address, bytes done
DSA_COMP_PAGE_FAULT_IR = 0x04        # Block-on-Fault: the page request was answered Invalid Request (bit 7 for a write)
DSA_COMP_BATCH_FAIL = 0x05           # batch: a member did not succeed (bytes_completed = members processed)
DSA_COMP_BATCH_PAGE_FAULT = 0x06     # batch: a read of the descriptor list answered UR/CA (fault address)
DSA_COMP_BAD_OPCODE = 0x10
DSA_COMP_INVALID_FLAGS = 0x11
DSA_COMP_NOZERO_RESERVE = 0x12
DSA_COMP_XFER_ERR = 0x13
DSA_COMP_DESC_CNT_ERANGE = 0x14      # batch: desc_count < 2 or above the WQ's maximum batch size
DSA_COMP_DESCLIST_ALIGN = 0x18       # batch: desc_list_addr not 64-byte aligned
DSA_COMP_INT_HANDLE_INVAL = 0x19
DSA_COMP_HW_ERR1 = 0x20              # source read poisoned or timed out
DSA_COMP_STATUS_MASK = 0x7F
DSA_COMP_STATUS_WRITE = 0x80
DSA_COMP_STATUS_MASK = 0x7F

COMP_STATUS_NAMES = {
    DSA_COMP_SUCCESS: "success", DSA_COMP_BAD_OPCODE: "invalid opcode", DSA_COMP_INVALID_FLAGS: "invalid flags",
    DSA_COMP_NOZERO_RESERVE: "non-zero reserved field", DSA_COMP_XFER_ERR: "transfer size",
    DSA_COMP_INT_HANDLE_INVAL: "invalid interrupt handle", DSA_COMP_PAGE_FAULT_NOBOF: "page fault",
    DSA_COMP_PAGE_FAULT_IR: "page fault, page request invalid", DSA_COMP_HW_ERR1: "hardware error",
    DSA_COMP_BATCH_FAIL: "batch member failed", DSA_COMP_BATCH_PAGE_FAULT: "batch list page fault",
    DSA_COMP_DESC_CNT_ERANGE: "descriptor count out of range", DSA_COMP_DESCLIST_ALIGN: "descriptor list alignment",
}

# Interrupt handle (descriptor bytes 36-37): bit 15 selects the submitting WQ's own IMS slot.
IMSDEV_INT_HANDLE_IMS = 0x8000
IMSDEV_INT_HANDLE_IMS_INDEX = 0x7FFF
IMSDEV_INT_HANDLE_MSIX_VECTOR = 0x07FF
# REQUEST/RELEASE_INT_HANDLE operand (CMD.OPERAND): bit 16 = IMS (idxd's CMD_INT_HANDLE_IMS); for IMS the entry's
# position in the IMS region: WQ in bits 15:11, entry in bits 10:0 (rtl/engine/imsdev_int_handles.sv).
IMSDEV_INT_HANDLE_OP_IMS = 0x10000
IMSDEV_INT_HANDLE_OP_WQ_SHIFT = 11
IMSDEV_INT_HANDLE_OP_ENTRY = 0x07FF

DSA_DESC_SIZE = 64
DSA_COMP_SIZE = 32
DSA_COMP_ALIGN = 32
DSA_DESC_LIST_ALIGN = 64             # a batch's descriptor list: 64-byte aligned, 64 bytes per descriptor
DSA_BATCH_MIN = 2                    # desc_count of a batch: 2 .. the WQ's maximum batch size


def ims_int_handle(index: int) -> int:
    """Handle of the submitting WQ's IMS slot `index` (15 bits); FieldError if it does not fit."""
    return IMSDEV_INT_HANDLE_IMS | check("IMS interrupt handle index", index, 15)


def msix_int_handle(vector: int) -> int:
    """Handle of MSI-X vector `vector` (bits 10:0; bits 14:11 must be 0); FieldError if it does not fit."""
    return check("MSI-X interrupt handle vector", vector, 11)


@dataclass
class DsaHwDesc:
    """struct dsa_hw_desc (64 bytes, little endian)."""
    opcode: int = DSA_OPCODE_NOOP
    flags: int = 0
    pasid: int = 0                # DW0[19:0]; ENQCMD(S) overwrites it with the submitter's PASID
    priv: bool = False            # DW0[31]
    completion_addr: int = 0
    src_addr: int = 0             # MEMMOVE source; MEMFILL: the 8-byte pattern
    dst_addr: int = 0
    xfer_size: int = 0
    int_handle: int = 0

    # Reserved fields, zero in every descriptor software builds; bad-input tests set them to check the
    # device's 0x12 (non-zero reserved field) status.
    rsvd_dw0: int = 0             # DW0[30:20]
    rsvd_tail: bytes = bytes(26)  # bytes 38..63

    def pack(self) -> bytes:
        """The 64 bytes; every field is checked (fields.FieldError names the one that does not fit)."""
        if len(self.rsvd_tail) != 26:
            raise FieldError(f"descriptor rsvd_tail: bytes 38..63 are 26 bytes, got {len(self.rsvd_tail)}")
        dw0 = put("descriptor PASID", self.pasid, 20) | put("descriptor DW0 reserved", self.rsvd_dw0, 11, 20) \
            | flag("descriptor priv", self.priv) << 31
        dw1 = put("descriptor flags", self.flags, 24) | put("descriptor opcode", self.opcode, 8, 24)
        return (dw0.to_bytes(4, "little") + dw1.to_bytes(4, "little")
                + check("descriptor completion_addr", self.completion_addr, 64).to_bytes(8, "little")
                + check("descriptor src_addr", self.src_addr, 64).to_bytes(8, "little")
                + check("descriptor dst_addr", self.dst_addr, 64).to_bytes(8, "little")
                + check("descriptor xfer_size", self.xfer_size, 32).to_bytes(4, "little")
                + check("descriptor int_handle", self.int_handle, 16).to_bytes(2, "little") + bytes(self.rsvd_tail))

    @classmethod
    def unpack(cls, raw: bytes) -> "DsaHwDesc":
        dw0 = int.from_bytes(raw[0:4], "little")
        dw1 = int.from_bytes(raw[4:8], "little")
        if len(raw) != DSA_DESC_SIZE:
            raise FieldError(f"a descriptor is {DSA_DESC_SIZE} bytes, got {len(raw)}")
        return cls(dw1 >> 24, dw1 & 0xFF_FFFF, dw0 & 0xF_FFFF, bool(dw0 >> 31),
                   int.from_bytes(raw[8:16], "little"), int.from_bytes(raw[16:24], "little"),
                   int.from_bytes(raw[24:32], "little"), int.from_bytes(raw[32:36], "little"),
                   int.from_bytes(raw[36:38], "little"), dw0 >> 20 & 0x7FF, bytes(raw[38:64]))


@dataclass(frozen=True)
class DsaCompletionRecord:
    """struct dsa_completion_record (32 bytes)."""
    status: int                   # bits 6:0 of byte 0; 0 = not written yet
    result: int
    bytes_completed: int
    fault_addr: int
    invalid_flags: int

    @classmethod
    def unpack(cls, raw: bytes) -> "DsaCompletionRecord":
        return cls(raw[0] & DSA_COMP_STATUS_MASK, raw[1], int.from_bytes(raw[4:8], "little"),
                   int.from_bytes(raw[8:16], "little"), int.from_bytes(raw[16:20], "little") & 0xFF_FFFF)

    @property
    def status_name(self) -> str:
        return COMP_STATUS_NAMES.get(self.status, f"status {self.status:#x}")


def batch_desc(desc_list_addr: int, desc_count: int, *, flags: int = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR,
               completion_addr: int = 0, int_handle: int = 0, max_batch: int | None = None) -> DsaHwDesc:
    """A batch descriptor (DSA_OPCODE_BATCH): desc_list_addr in the source slot, desc_count in the transfer
    size slot (struct dsa_hw_desc). Every field is range-checked: the list must be DSA_DESC_LIST_ALIGN
    aligned and desc_count within DSA_BATCH_MIN .. max_batch (the WQ's limit, 2^min(WQCFG3.MAX_BATCH_SHIFT,
    CAP2.MAX_BATCH_SHIFT), when given); FieldError names the field that does not fit. Descriptors that test
    the device's own checks are built with DsaHwDesc directly."""
    check("batch desc_list_addr", desc_list_addr, 64)
    if desc_list_addr % DSA_DESC_LIST_ALIGN:
        raise FieldError(f"batch desc_list_addr: {desc_list_addr:#x} is not {DSA_DESC_LIST_ALIGN}-byte aligned")
    check("batch desc_count", desc_count, 32)
    if desc_count < DSA_BATCH_MIN or (max_batch is not None and desc_count > max_batch):
        top = "" if max_batch is None else f"..{max_batch}"
        raise FieldError(f"batch desc_count: {desc_count} outside {DSA_BATCH_MIN}{top}")
    return DsaHwDesc(opcode=DSA_OPCODE_BATCH, flags=flags, completion_addr=completion_addr,
                     src_addr=desc_list_addr, xfer_size=desc_count, int_handle=int_handle)


def batch_list(descs) -> bytes:
    """The descriptor list of a batch: each DsaHwDesc packed (and so checked), back to back."""
    return b"".join(d.pack() for d in descs)
