"""The firmware kit's encoders are strict (issue 12): a value outside its field raises FieldError naming the
field and never spills into a neighbour or is silently masked. Layouts from ../shared/reference facts:
IRTE (VT-d §9.10), remappable MSI (VT-d §5.1.2.2), ITS commands (Linux its_encode_*), dsa_hw_desc."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fw"))

from imsdev.driver.uapi import DsaHwDesc, ims_int_handle, msix_int_handle  # noqa: E402
from tb.bad_inputs import BadInput  # noqa: E402
from imsdev.fields import FieldError, check, flag, put  # noqa: E402
from imsdev.platform import arm_its  # noqa: E402
from imsdev.platform.arm_its import encode_its_command  # noqa: E402
from imsdev.platform.x86_ir import encode_irte, remappable_msi_message  # noqa: E402


def test_fields_helpers():
    assert put("f", 0xF, 4, 8) == 0xF00 and check("f", 0, 1) == 0 and flag("f", True) == 1
    for bad, msg in ((16, "does not fit in 4 bits"), (-1, "does not fit"), (True, "boolean"), (1.0, "not an integer")):
        with pytest.raises(FieldError, match=f"^f: .*{msg}"):
            put("f", bad, 4)
    with pytest.raises(FieldError, match="not aligned to 0x100"):
        put("f", 0x180, 12, align=0x100)
    with pytest.raises(FieldError, match="not a boolean"):
        flag("f", 2)


def test_irte_fields():
    low, high = encode_irte(0xEB, 0xFF, 0x0100, x2apic=False)
    assert low == 1 | 1 << 3 | 0xEB << 16 | 0xFF << 40 and high == 0x0100 | 1 << 18
    low, _ = encode_irte(0x30, 0x1_2345, 0x0100, x2apic=True)
    assert low >> 32 == 0x1_2345
    for kwargs, field in (({"vector": 0x100}, "IRTE vector"), ({"apic_id": 0x100}, "IRTE destination \\(xAPIC"),
                          ({"source_id": 0x1_0000}, "IRTE source-id"), ({"vector": -1}, "IRTE vector")):
        args = {"vector": 0x30, "apic_id": 1, "source_id": 0x100, "x2apic": False} | kwargs
        with pytest.raises(FieldError, match=field):
            encode_irte(**args)
    with pytest.raises(FieldError, match="x2APIC"):
        encode_irte(0x30, 1 << 32, 0x100, x2apic=True)


def test_remappable_msi_message_fields():
    msg = remappable_msi_message(0xFFFF, 0xFFFF)
    assert msg.address_lo == 0xFEE0_0000 | 0x7FFF << 5 | 1 << 4 | 1 << 3 | 1 << 2 and msg.data == 0xFFFF
    with pytest.raises(FieldError, match="MSI handle"):
        remappable_msi_message(0x1_0000, 0)        # would have set address bit 20 (inside 0xFEE)
    with pytest.raises(FieldError, match="MSI subhandle"):
        remappable_msi_message(0, 0x1_0000)        # data[31:16] must stay 0


def test_its_command_fields():
    cmd = encode_its_command(arm_its.GITS_CMD_MAPTI, device_id=0xFFFF_FFFF, event_id=0xFFFF_FFFF,
                             physical_id=0x2000, collection_id=0xFFFF)
    words = [int.from_bytes(cmd[i:i + 8], "little") for i in range(0, 32, 8)]
    assert words == [0x0A | 0xFFFF_FFFF << 32, 0xFFFF_FFFF | 0x2000 << 32, 0xFFFF, 0]
    mapd = encode_its_command(arm_its.GITS_CMD_MAPD, device_id=1, size=31, itt_address=(1 << 52) - 256, valid=True)
    assert int.from_bytes(mapd[16:24], "little") == ((1 << 52) - 256) | 1 << 63
    mapc = encode_its_command(arm_its.GITS_CMD_MAPC, collection_id=3, rdbase=(1 << 36) - 1, valid=True)
    assert int.from_bytes(mapc[16:24], "little") == 3 | ((1 << 36) - 1) << 16 | 1 << 63
    bad = [
        ({"opcode": 0x100}, "opcode"),
        ({"opcode": arm_its.GITS_CMD_MAPTI, "device_id": 1 << 32}, "DeviceID"),
        ({"opcode": arm_its.GITS_CMD_MAPTI, "event_id": 1 << 32}, "EventID"),
        ({"opcode": arm_its.GITS_CMD_MAPTI, "physical_id": 1 << 32}, "pINTID"),
        ({"opcode": arm_its.GITS_CMD_MAPTI, "collection_id": 1 << 16}, "ICID"),
        ({"opcode": arm_its.GITS_CMD_MAPC, "rdbase": 1 << 36}, "RDbase"),
        ({"opcode": arm_its.GITS_CMD_MAPD, "size": 32}, "Size"),
        ({"opcode": arm_its.GITS_CMD_MAPD, "itt_address": 1 << 52}, "ITT address"),
        ({"opcode": arm_its.GITS_CMD_MAPD, "itt_address": 0x1080}, "not aligned to 0x100"),
        ({"opcode": arm_its.GITS_CMD_MAPD, "event_id": 1}, "MAPD has no EventID"),
        ({"opcode": arm_its.GITS_CMD_MAPTI, "size": 1}, "Size is a MAPD field"),
        ({"opcode": arm_its.GITS_CMD_INV, "valid": True}, "V is a MAPD/MAPC field"),
        ({"opcode": arm_its.GITS_CMD_MAPC, "valid": 2}, "ITS V"),
    ]
    for kwargs, field in bad:
        opcode = kwargs.pop("opcode")
        with pytest.raises(FieldError, match=field):
            encode_its_command(opcode, **kwargs)


def test_interrupt_handles():
    assert ims_int_handle(0x7FFF) == 0xFFFF and msix_int_handle(2047) == 0x7FF
    with pytest.raises(FieldError, match="IMS interrupt handle index"):
        ims_int_handle(0x8000)
    with pytest.raises(FieldError, match="MSI-X interrupt handle vector"):
        msix_int_handle(2048)                      # bits 14:11 must be 0


def test_descriptor_fields_round_trip_and_reject():
    d = DsaHwDesc(opcode=0xFF, flags=0xFF_FFFF, pasid=0xF_FFFF, priv=True, completion_addr=(1 << 64) - 32,
                  src_addr=1, dst_addr=2, xfer_size=(1 << 32) - 1, int_handle=0xFFFF, rsvd_dw0=0x7FF,
                  rsvd_tail=bytes(range(26)))
    raw = d.pack()
    assert len(raw) == 64 and raw[:8] == bytes.fromhex("ffffffff ffffffff") and DsaHwDesc.unpack(raw) == d
    for name, value, field in (("pasid", 1 << 20, "PASID"), ("flags", 1 << 24, "flags"), ("opcode", 256, "opcode"),
                               ("rsvd_dw0", 1 << 11, "DW0 reserved"), ("priv", 2, "priv"),
                               ("xfer_size", 1 << 32, "xfer_size"), ("int_handle", 1 << 16, "int_handle"),
                               ("completion_addr", -1, "completion_addr"), ("rsvd_tail", bytes(25), "rsvd_tail")):
        with pytest.raises(FieldError, match=f"descriptor {field}"):
            DsaHwDesc(**{name: value}).pack()
    with pytest.raises(FieldError, match="64 bytes"):
        DsaHwDesc.unpack(bytes(63))


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="encoder", input="fields.put/check: 16 into a 4-bit field, -1, a bool for a 4-bit field, 1.0",
             outcome="FieldError starting with the field name: 'does not fit in 4 bits' / 'does not fit' / 'boolean' "
                     "/ 'not an integer'",
             test="test_fields_helpers"),
    BadInput(cls="encoder", input="fields.put with align=0x100 given 0x180",
             outcome="FieldError ('not aligned to 0x100')",
             test="test_fields_helpers"),
    BadInput(cls="encoder", input="fields.flag given 2",
             outcome="FieldError ('not a boolean')",
             test="test_fields_helpers"),
    BadInput(cls="encoder", input="encode_irte: vector 0x100 or -1, xAPIC destination 0x100, source-id 0x10000",
             outcome="FieldError naming 'IRTE vector' / 'IRTE destination (xAPIC' / 'IRTE source-id'",
             test="test_irte_fields"),
    BadInput(cls="encoder", input="encode_irte: x2APIC destination 1 << 32",
             outcome="FieldError naming 'x2APIC'",
             test="test_irte_fields"),
    BadInput(cls="encoder", input="remappable_msi_message: handle 0x10000 (would set address bit 20), subhandle "
                                  "0x10000",
             outcome="FieldError naming 'MSI handle' / 'MSI subhandle'",
             test="test_remappable_msi_message_fields"),
    BadInput(cls="encoder", input="encode_its_command: opcode 0x100; MAPTI DeviceID, EventID or pINTID of 1 << 32, "
                                  "ICID 1 << 16",
             outcome="FieldError naming 'opcode' / 'DeviceID' / 'EventID' / 'pINTID' / 'ICID'",
             test="test_its_command_fields"),
    BadInput(cls="encoder", input="encode_its_command: MAPC RDbase 1 << 36; MAPD Size 32, ITT address 1 << 52 or "
                                  "0x1080 (not 256-byte aligned)",
             outcome="FieldError naming 'RDbase' / 'Size' / 'ITT address' / 'not aligned to 0x100'",
             test="test_its_command_fields"),
    BadInput(cls="encoder", input="encode_its_command: a field the command does not have (MAPD EventID, MAPTI Size, "
                                  "INV V) or V = 2",
             outcome="FieldError ('MAPD has no EventID' / 'Size is a MAPD field' / 'V is a MAPD/MAPC field' / 'ITS "
                     "V')",
             test="test_its_command_fields"),
    BadInput(cls="encoder", input="ims_int_handle(0x8000), msix_int_handle(2048)",
             outcome="FieldError naming 'IMS interrupt handle index' / 'MSI-X interrupt handle vector'",
             test="test_interrupt_handles"),
    BadInput(cls="encoder", input="DsaHwDesc.pack with PASID 1 << 20, flags 1 << 24, opcode 256, DW0 reserved 1 << "
                                  "11, priv 2, xfer_size 1 << 32, int_handle 1 << 16, completion_addr -1, a 25-byte "
                                  "reserved tail",
             outcome="FieldError naming the descriptor field ('descriptor PASID', ... 'descriptor rsvd_tail')",
             test="test_descriptor_fields_round_trip_and_reject"),
    BadInput(cls="encoder", input="DsaHwDesc.unpack of 63 bytes",
             outcome="FieldError ('64 bytes')",
             test="test_descriptor_fields_round_trip_and_reject"),
)
