"""GICv3 ITS and redistributor model against platform-facts.md section 5.

Commands are assembled here as raw 32-byte little-endian records from the documented field positions
(DW0[7:0] opcode, DW0[63:32] DeviceID, DW1[31:0] EventID, DW1[63:32] pINTID, DW1[4:0] Size,
DW2[51:8] ITT address, DW2[63] V, DW2[15:0] ICID, DW2[51:16] RDbase, DW3[51:16] RDbase2) and
programmed through the register offsets of arm-gic-v3.h; nothing is borrowed from the model.
"""

import pytest

from tb.bad_inputs import BadInput
from tb.platform.cpu import Cpus
from tb.platform.gic_its import GicIts, GicRedistributors, ItsErrorReason
from tb.platform.memory import SparseMemory

ITS_BASE = 0x0808_0000
TRANSLATER = ITS_BASE + 0x10040
DEVICE_TABLE = 0x0020_0000
COLLECTION_TABLE = 0x0030_0000
QUEUE = 0x0040_0000
CONFIG_TABLE = 0x0050_0000
ITT = 0x0060_0000
DEV = 0x0010

CTLR, TYPER, CBASER, CWRITER, CREADR, BASER0, BASER1 = 0x0, 0x8, 0x80, 0x88, 0x90, 0x100, 0x108
VALID = 1 << 63
GICR_CTLR, GICR_PROPBASER = 0x0, 0x70

E_MOVI_UNMAPPED_INTERRUPT = 0x010107
E_MOVI_UNMAPPED_COLLECTION = 0x010109
E_INT_UNMAPPED_INTERRUPT = 0x010307
E_CLEAR_UNMAPPED_INTERRUPT = 0x010507
E_MAPD_DEVICE_OOR = 0x010801
E_MAPD_ITTSIZE_OOR = 0x010802
E_MAPC_PROCNUM_OOR = 0x010902
E_MAPC_COLLECTION_OOR = 0x010903
E_MAPTI_UNMAPPED_DEVICE = 0x010A04
E_MAPTI_ID_OOR = 0x010A05
E_MAPTI_PHYSICALID_OOR = 0x010A06
E_INV_UNMAPPED_INTERRUPT = 0x010C07
E_INVALL_UNMAPPED_COLLECTION = 0x010D09
E_MOVALL_PROCNUM_OOR = 0x010E01
E_DISCARD_UNMAPPED_INTERRUPT = 0x010F07


def command(opcode, device_id=0, dw1=0, dw2=0, dw3=0) -> bytes:
    words = (opcode | device_id << 32, dw1, dw2, dw3)
    return b"".join(w.to_bytes(8, "little") for w in words)


def mapd(dev, size, itt, valid=1):
    return command(0x08, dev, size, itt | valid << 63)


def mapc(icid, rdbase, valid=1):
    return command(0x09, 0, 0, icid | rdbase << 16 | valid << 63)


def mapti(dev, event, intid, icid):
    return command(0x0A, dev, event | intid << 32, icid)


def mapi(dev, event, icid):
    return command(0x0B, dev, event, icid)


def int_(dev, event):
    return command(0x03, dev, event)


def clear(dev, event):
    return command(0x04, dev, event)


def inv(dev, event):
    return command(0x0C, dev, event)


def discard(dev, event):
    return command(0x0F, dev, event)


def movi(dev, event, icid):
    return command(0x01, dev, event, icid)


def invall(icid):
    return command(0x0D, 0, 0, icid)


def movall(rdbase1, rdbase2):
    return command(0x0E, 0, 0, rdbase1 << 16, rdbase2 << 16)


def sync(rdbase=0):
    return command(0x05, 0, 0, rdbase << 16)


class Rig:
    """An ITS and four redistributors, programmed through registers the way a kernel would."""

    def __init__(self, *, queue_pages=1, device_table_pages=1, enable=True, **its_options):
        self.memory = SparseMemory()
        self.cpus = Cpus(range(4))
        self.redistributors = GicRedistributors(self.memory, self.cpus)
        self.its = GicIts(self.memory, self.redistributors, phys_base=ITS_BASE, **its_options)
        self.queue_bytes = queue_pages * 4096
        self.tail = 0
        for offset, base, pages in ((BASER0, DEVICE_TABLE, device_table_pages),
                                    (BASER1, COLLECTION_TABLE, 1)):
            self.its.write_reg(offset, VALID | base | (pages - 1))
        self.its.write_reg(CBASER, VALID | QUEUE | (queue_pages - 1))
        self.its.write_reg(CWRITER, 0)
        for frame in self.redistributors.frames.values():
            frame.write_reg(GICR_PROPBASER, CONFIG_TABLE | 15)  # 16 INTID bits
            frame.write_reg(GICR_CTLR, 1)
        if enable:
            self.its.write_reg(CTLR, 1)

    def enqueue(self, *commands: bytes):
        for raw in commands:
            self.memory.write(QUEUE + self.tail, raw)
            self.tail = (self.tail + 32) % self.queue_bytes

    def submit(self, *commands: bytes):
        self.enqueue(*commands)
        self.its.write_reg(CWRITER, self.tail)

    def set_lpi_config(self, intid, enabled=True):
        self.memory.write(CONFIG_TABLE + intid - 8192, bytes([0xA2 | int(enabled)]))

    def doorbell(self, event, rid=DEV, width=4):
        return self.its.handle_write(TRANSLATER, event.to_bytes(width, "little"), rid)

    def map_standard_device(self):
        """DEV with 4 events (Size=1); events 0-2 to LPIs 8192-8194 on collections 0-2."""
        self.submit(*(mapc(icid, icid) for icid in range(4)), mapd(DEV, 1, ITT))
        for event in range(3):
            self.set_lpi_config(8192 + event)
            self.submit(mapti(DEV, event, 8192 + event, event), sync(event))

    @property
    def keys(self):
        return [d.key for d in self.cpus.deliveries]

    @property
    def errors(self):
        return [(e.reason, e.code) for e in self.its.errors]


@pytest.fixture
def rig():
    r = Rig()
    r.map_standard_device()
    return r


# ------------------------------------------------------------------------------------- registers
def test_typer_advertises_entry_size_id_bits_devbits_and_pta():
    typer = Rig(device_id_bits=8, event_id_bits=12).its.read_reg(TYPER)
    assert typer & 1  # physical LPIs
    assert (typer >> 4 & 0xF) + 1 == 8
    assert (typer >> 8 & 0x1F) + 1 == 12
    assert (typer >> 13 & 0x1F) + 1 == 8
    assert not typer >> 19 & 1  # PTA=0: collections name processor numbers


def test_baser_type_and_entry_size_are_read_only_and_unimplemented_ones_raz():
    its = Rig().its
    its.write_reg(BASER0, 1 << 62 | 0x7 << 56 | 0x1F << 48)
    its.write_reg(0x110, VALID | DEVICE_TABLE)
    baser0 = its.read_reg(BASER0)
    assert baser0 >> 56 & 0x7 == 1 and (baser0 >> 48 & 0x1F) + 1 == 8
    assert not baser0 >> 62 & 1  # flat tables only
    assert its.read_reg(BASER1) >> 56 & 0x7 == 4
    assert its.read_reg(0x110) == 0
    assert its.read_reg(BASER0 + 4, size=4) == baser0 >> 32


def test_ctlr_quiescent_while_disabled_and_commands_wait_for_enable():
    r = Rig(enable=False)
    assert r.its.read_reg(CTLR) == 1 << 31
    r.submit(mapc(0, 0))
    assert r.its.read_reg(CREADR) == 0 and r.its.command_log == []
    r.its.write_reg(CTLR, 1)
    assert r.its.read_reg(CTLR) == 1
    assert r.its.read_reg(CREADR) == 32 and [c.name for c in r.its.command_log] == ["MAPC"]


def test_cbaser_write_resets_creadr():
    r = Rig()
    r.submit(sync(), sync())
    assert r.its.read_reg(CREADR) == 64
    r.its.write_reg(CBASER, VALID | QUEUE)
    assert r.its.read_reg(CREADR) == 0


# ------------------------------------------------------------------------------------- translation
def test_translation_delivers_the_mapped_lpi_to_the_collections_target(rig):
    assert rig.doorbell(2)
    (delivery,) = rig.cpus.deliveries
    assert delivery.key == (2, 8194)
    assert delivery.requester_id == DEV
    assert (delivery.details["device_id"], delivery.details["event_id"]) == (DEV, 2)
    assert rig.its.errors == [] and rig.its.translated == 1


def test_sixteen_bit_translater_write_is_an_event_id(rig):
    rig.doorbell(1, width=2)
    assert rig.keys == [(1, 8193)]


def test_tables_live_in_host_memory(rig):
    dte = int.from_bytes(rig.memory.read(DEVICE_TABLE + DEV * 8, 8), "little")
    ite = int.from_bytes(rig.memory.read(ITT + 2 * 8, 8), "little")
    cte = int.from_bytes(rig.memory.read(COLLECTION_TABLE + 2 * 8, 8), "little")
    assert dte == 1 | 1 << 1 | ITT            # V, Size=1, ITT address[51:8]
    assert ite == 1 | 2 << 1 | 8194 << 32      # V, ICID, pINTID
    assert cte == 1 | 2 << 16                  # V, RDbase = processor 2
    rig.memory.write(DEVICE_TABLE + DEV * 8, bytes(8))  # a kernel scribbling over its table
    rig.doorbell(2)
    assert rig.keys == [] and rig.errors == [(ItsErrorReason.DEVICE_UNMAPPED,
                                              E_INT_UNMAPPED_INTERRUPT)]


def test_mapi_uses_the_event_id_as_lpi():
    r = Rig()
    r.submit(mapc(1, 1), mapd(DEV, 13, ITT), mapi(DEV, 8200, 1))  # 14 EventID bits
    r.set_lpi_config(8200)
    r.doorbell(8200)
    assert r.keys == [(1, 8200)]


def test_int_command_injects_like_a_device_write(rig):
    rig.submit(int_(DEV, 0), sync())
    assert rig.keys == [(0, 8192)]
    assert rig.cpus.deliveries[0].details["injected_by"] == "INT"


def test_write_outside_the_its_frames_is_not_claimed(rig):
    assert not rig.its.handle_write(ITS_BASE - 4, b"\0\0\0\0", DEV)
    assert not rig.its.handle_write(ITS_BASE + 0x20000, b"\0\0\0\0", DEV)


@pytest.mark.parametrize("address, data", [(TRANSLATER, b"\x01"), (ITS_BASE + 0x40, b"\0\0\0\0")],
                         ids=["one-byte", "not-translater"])
def test_bad_doorbell_access_is_claimed_and_dropped(rig, address, data):
    assert rig.its.handle_write(address, data, DEV)
    assert rig.keys == [] and rig.errors == [(ItsErrorReason.BAD_ACCESS, None)]


def test_translation_while_its_disabled_is_dropped(rig):
    rig.its.write_reg(CTLR, 0)
    rig.doorbell(0)
    assert rig.keys == [] and rig.errors == [(ItsErrorReason.ITS_DISABLED, None)]


# ------------------------------------------------------------------------------------- translation faults
def test_device_id_beyond_devbits_is_dropped():
    r = Rig(device_id_bits=8, device_table_pages=2)
    r.map_standard_device()
    r.doorbell(0, rid=0x100)
    assert r.keys == [] and r.errors == [(ItsErrorReason.DEVICE_OUT_OF_RANGE,
                                          E_INT_UNMAPPED_INTERRUPT)]


def test_device_id_beyond_device_table_is_dropped(rig):
    rig.doorbell(0, rid=4096 // 8)  # one 4 KiB page of 8-byte DTEs
    assert rig.errors == [(ItsErrorReason.DEVICE_OUT_OF_RANGE, E_INT_UNMAPPED_INTERRUPT)]


def test_unmapped_device_is_dropped(rig):
    rig.doorbell(0, rid=DEV + 1)
    assert rig.keys == [] and rig.errors == [(ItsErrorReason.DEVICE_UNMAPPED,
                                              E_INT_UNMAPPED_INTERRUPT)]


def test_event_id_beyond_device_size_is_dropped(rig):
    rig.doorbell(4)  # Size=1: EventIDs 0-3
    assert rig.keys == [] and rig.errors == [(ItsErrorReason.EVENT_OUT_OF_RANGE,
                                              E_INT_UNMAPPED_INTERRUPT)]


def test_unmapped_event_is_dropped(rig):
    rig.doorbell(3)
    assert rig.keys == [] and rig.errors == [(ItsErrorReason.EVENT_UNMAPPED,
                                              E_INT_UNMAPPED_INTERRUPT)]


def test_event_on_an_unmapped_collection_is_dropped(rig):
    rig.set_lpi_config(8195)
    rig.submit(mapti(DEV, 3, 8195, 7))  # collection 7 was never mapped
    rig.doorbell(3)
    assert rig.keys == [] and rig.errors == [(ItsErrorReason.COLLECTION_UNMAPPED,
                                              E_INT_UNMAPPED_INTERRUPT)]


def test_device_table_memory_error_drops_the_translation(rig):
    rig.memory.add_error_range(DEVICE_TABLE + DEV * 8, 8)
    rig.doorbell(0)
    assert rig.keys == [] and rig.errors == [(ItsErrorReason.TABLE_MEMORY_ERROR, None)]


# ------------------------------------------------------------------------------------- LPI state
def test_disabled_lpi_is_held_pending_and_needs_inv_after_enabling(rig):
    rig.set_lpi_config(8192, enabled=False)
    rig.submit(inv(DEV, 0))
    rig.doorbell(0)
    assert rig.keys == []
    assert [(h.target, h.intid, h.reason) for h in rig.redistributors.held] == \
        [(0, 8192, "lpi_disabled")]
    assert rig.redistributors.is_pending(0, 8192)
    rig.set_lpi_config(8192, enabled=True)  # the redistributor still has the old byte cached
    rig.doorbell(0)
    assert rig.keys == []
    rig.submit(inv(DEV, 0))
    assert rig.keys == [(0, 8192)]  # one delivery for the two merged messages
    assert not rig.redistributors.is_pending(0, 8192)


def test_invall_reloads_configuration_for_a_collection(rig):
    rig.set_lpi_config(8193, enabled=False)
    rig.submit(inv(DEV, 1))
    rig.doorbell(1)
    rig.set_lpi_config(8193, enabled=True)
    rig.submit(invall(1))
    assert rig.keys == [(1, 8193)]


def test_lpis_wait_for_redistributor_enable(rig):
    rig.redistributors.frames[1].write_reg(GICR_CTLR, 0)
    rig.doorbell(1)
    assert rig.keys == [] and rig.redistributors.held[-1].reason == \
        "lpis_disabled_in_redistributor"
    rig.redistributors.frames[1].write_reg(GICR_CTLR, 1)
    assert rig.keys == [(1, 8193)]


def test_lpi_beyond_propbaser_id_bits_is_dropped_by_the_redistributor(rig):
    rig.redistributors.frames[3].write_reg(GICR_PROPBASER, CONFIG_TABLE | 13)  # INTIDs < 2^14
    rig.submit(mapti(DEV, 3, 1 << 14, 3))
    rig.set_lpi_config(1 << 14)
    rig.doorbell(3)
    assert rig.keys == [] and [(d.target, d.intid) for d in rig.redistributors.dropped] == \
        [(3, 1 << 14)]


def test_clear_removes_pending_state(rig):
    rig.set_lpi_config(8192, enabled=False)
    rig.submit(inv(DEV, 0))
    rig.doorbell(0)
    rig.submit(clear(DEV, 0))
    rig.set_lpi_config(8192, enabled=True)
    rig.submit(inv(DEV, 0))
    assert rig.keys == [] and not rig.redistributors.is_pending(0, 8192)


def test_discard_then_write_is_an_unmapped_event(rig):
    rig.set_lpi_config(8193, enabled=False)
    rig.submit(inv(DEV, 1))
    rig.doorbell(1)
    rig.submit(discard(DEV, 1), sync(1))
    assert not rig.redistributors.is_pending(1, 8193)
    assert rig.memory.read(ITT + 8, 8) == bytes(8)
    rig.doorbell(1)
    assert rig.keys == [] and rig.errors == [(ItsErrorReason.EVENT_UNMAPPED,
                                              E_INT_UNMAPPED_INTERRUPT)]


def test_movi_then_write_goes_to_the_new_collection(rig):
    rig.submit(movi(DEV, 0, 3), sync(3))
    rig.doorbell(0)
    assert rig.keys == [(3, 8192)]
    ite = int.from_bytes(rig.memory.read(ITT, 8), "little")
    assert ite == 1 | 3 << 1 | 8192 << 32


def test_movi_carries_pending_state_to_the_new_target(rig):
    rig.set_lpi_config(8192, enabled=False)
    rig.submit(inv(DEV, 0))
    rig.doorbell(0)
    rig.submit(movi(DEV, 0, 2))
    assert rig.redistributors.is_pending(2, 8192) and not rig.redistributors.is_pending(0, 8192)
    rig.set_lpi_config(8192, enabled=True)
    rig.submit(inv(DEV, 0))
    assert rig.keys == [(2, 8192)]


def test_movall_moves_pending_lpis_between_redistributors(rig):
    rig.set_lpi_config(8192, enabled=False)
    rig.submit(inv(DEV, 0))
    rig.doorbell(0)
    rig.submit(movall(0, 3))
    assert rig.redistributors.is_pending(3, 8192)


# ------------------------------------------------------------------------------------- command errors
@pytest.mark.parametrize("bad_command, reason, code", [
    pytest.param(mapd(0x100, 1, ITT), ItsErrorReason.DEVICE_OUT_OF_RANGE, E_MAPD_DEVICE_OOR,
                 id="mapd-device-oor"),
    pytest.param(mapd(DEV, 16, ITT), ItsErrorReason.ITT_SIZE_OUT_OF_RANGE, E_MAPD_ITTSIZE_OOR,
                 id="mapd-size-oor"),
    pytest.param(mapc(512, 0), ItsErrorReason.COLLECTION_OUT_OF_RANGE, E_MAPC_COLLECTION_OOR,
                 id="mapc-icid-oor"),
    pytest.param(mapc(5, 9), ItsErrorReason.PROCESSOR_OUT_OF_RANGE, E_MAPC_PROCNUM_OOR,
                 id="mapc-procnum-oor"),
    pytest.param(mapti(DEV + 1, 0, 8200, 0), ItsErrorReason.DEVICE_UNMAPPED,
                 E_MAPTI_UNMAPPED_DEVICE, id="mapti-unmapped-device"),
    pytest.param(mapti(DEV, 4, 8200, 0), ItsErrorReason.EVENT_OUT_OF_RANGE, E_MAPTI_ID_OOR,
                 id="mapti-event-oor"),
    pytest.param(mapti(DEV, 3, 8191, 0), ItsErrorReason.INTID_OUT_OF_RANGE,
                 E_MAPTI_PHYSICALID_OOR, id="mapti-intid-below-lpis"),
    pytest.param(mapti(DEV, 3, 1 << 16, 0), ItsErrorReason.INTID_OUT_OF_RANGE,
                 E_MAPTI_PHYSICALID_OOR, id="mapti-intid-above-idbits"),
    pytest.param(mapti(DEV, 3, 8200, 512), ItsErrorReason.COLLECTION_OUT_OF_RANGE,
                 E_MAPC_COLLECTION_OOR, id="mapti-icid-oor"),
    pytest.param(int_(DEV, 3), ItsErrorReason.EVENT_UNMAPPED, E_INT_UNMAPPED_INTERRUPT,
                 id="int-unmapped"),
    pytest.param(clear(DEV + 1, 0), ItsErrorReason.DEVICE_UNMAPPED, E_CLEAR_UNMAPPED_INTERRUPT,
                 id="clear-unmapped"),
    pytest.param(inv(DEV, 3), ItsErrorReason.EVENT_UNMAPPED, E_INV_UNMAPPED_INTERRUPT,
                 id="inv-unmapped"),
    pytest.param(invall(9), ItsErrorReason.COLLECTION_UNMAPPED, E_INVALL_UNMAPPED_COLLECTION,
                 id="invall-unmapped-collection"),
    pytest.param(discard(DEV, 3), ItsErrorReason.EVENT_UNMAPPED, E_DISCARD_UNMAPPED_INTERRUPT,
                 id="discard-unmapped"),
    pytest.param(movi(DEV, 3, 1), ItsErrorReason.EVENT_UNMAPPED, E_MOVI_UNMAPPED_INTERRUPT,
                 id="movi-unmapped-event"),
    pytest.param(movi(DEV, 0, 9), ItsErrorReason.COLLECTION_UNMAPPED,
                 E_MOVI_UNMAPPED_COLLECTION, id="movi-unmapped-collection"),
    pytest.param(movall(0, 7), ItsErrorReason.PROCESSOR_OUT_OF_RANGE, E_MOVALL_PROCNUM_OOR,
                 id="movall-procnum-oor"),
    pytest.param(command(0x00), ItsErrorReason.UNSUPPORTED_COMMAND, None, id="opcode-0x00"),
    pytest.param(command(0x2A), ItsErrorReason.UNSUPPORTED_COMMAND, None, id="gicv4-vmapti"),
])
def test_bad_command_is_recorded_and_processing_continues(bad_command, reason, code):
    r = Rig(device_id_bits=8)
    r.map_standard_device()
    r.submit(bad_command, int_(DEV, 1))
    assert r.errors == [(reason, code)]
    error = r.its.errors[0]
    assert error.source == "command" and error.opcode == bad_command[0]
    assert r.its.read_reg(CREADR) == r.tail  # not stalled
    assert r.keys == [(1, 8193)]  # the next command ran


def test_stall_mode_stops_at_a_bad_command_until_software_retries():
    r = Rig(stall_on_command_error=True)
    r.submit(mapc(0, 0))
    bad_offset = r.tail
    r.submit(command(0x00), mapc(1, 1))
    assert r.its.read_reg(CREADR) == bad_offset | 1  # Stalled, pointing at the bad command
    assert [c.name for c in r.its.command_log] == ["MAPC", "UNKNOWN_0x00"]
    r.memory.write(QUEUE + bad_offset, sync())
    r.its.write_reg(CWRITER, r.tail | 1)  # Retry
    assert r.its.read_reg(CREADR) == r.tail
    assert [c.name for c in r.its.command_log][-2:] == ["SYNC", "MAPC"]


def test_command_queue_memory_error_stalls_until_retry():
    r = Rig()
    r.enqueue(mapc(0, 0), mapc(1, 1), mapc(2, 2))
    r.memory.add_error_range(QUEUE + 32, 32)
    r.its.write_reg(CWRITER, r.tail)
    assert r.its.read_reg(CREADR) == 32 | 1
    assert r.errors == [(ItsErrorReason.COMMAND_QUEUE_MEMORY_ERROR, None)]
    r.memory.clear_error_ranges()
    r.its.write_reg(CWRITER, r.tail | 1)
    assert r.its.read_reg(CREADR) == 96
    assert [c.name for c in r.its.command_log] == ["MAPC"] * 3


def test_table_memory_error_in_a_command_stalls():
    r = Rig()
    r.memory.add_error_range(COLLECTION_TABLE, 8)
    r.submit(mapc(0, 0), sync())
    assert r.its.stalled and r.its.read_reg(CREADR) == 1
    assert r.errors == [(ItsErrorReason.TABLE_MEMORY_ERROR, None)]


def test_cwriter_beyond_the_queue_stalls():
    r = Rig()
    r.its.write_reg(CWRITER, 4096)
    assert r.its.stalled
    assert r.errors == [(ItsErrorReason.CWRITER_OUT_OF_RANGE, None)]


def test_command_queue_wraps():
    r = Rig(queue_pages=1)  # 128 command slots
    r.submit(*(mapc(i, i) for i in range(4)))
    for batch in range(7):
        r.submit(*(inv(DEV + 1, 0) if n == 0 else sync(n % 4) for n in range(40)))
    assert len(r.its.command_log) == 4 + 7 * 40
    assert r.its.read_reg(CREADR) == r.tail == (4 + 7 * 40) * 32 % 4096
    assert len(r.its.errors) == 7


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="platform", input="ITS model: 1-byte write to GITS_TRANSLATER, or a write to another ITS frame "
                                   "offset (0x40)",
             outcome="claimed and dropped; error BAD_ACCESS without a code; nothing delivered",
             test="test_bad_doorbell_access_is_claimed_and_dropped"),
    BadInput(cls="platform", input="ITS model: translation request while GITS_CTLR.Enabled = 0",
             outcome="dropped; error ITS_DISABLED without a code",
             test="test_translation_while_its_disabled_is_dropped"),
    BadInput(cls="platform", input="ITS model: DeviceID 0x100 with Devbits = 8",
             outcome="dropped; DEVICE_OUT_OF_RANGE, code E_ITS_INT_UNMAPPED_INTERRUPT",
             test="test_device_id_beyond_devbits_is_dropped"),
    BadInput(cls="platform", input="ITS model: DeviceID beyond the device table (one 4 KiB page of 8-byte entries)",
             outcome="dropped; DEVICE_OUT_OF_RANGE, code E_ITS_INT_UNMAPPED_INTERRUPT",
             test="test_device_id_beyond_device_table_is_dropped"),
    BadInput(cls="platform", input="ITS model: DeviceID never mapped (MAPD)",
             outcome="dropped; DEVICE_UNMAPPED, code E_ITS_INT_UNMAPPED_INTERRUPT",
             test="test_unmapped_device_is_dropped"),
    BadInput(cls="platform", input="ITS model: EventID 4 for a device of Size 1 (EventIDs 0-3)",
             outcome="dropped; EVENT_OUT_OF_RANGE, code E_ITS_INT_UNMAPPED_INTERRUPT",
             test="test_event_id_beyond_device_size_is_dropped"),
    BadInput(cls="platform", input="ITS model: EventID inside the ITT never mapped",
             outcome="dropped; EVENT_UNMAPPED, code E_ITS_INT_UNMAPPED_INTERRUPT",
             test="test_unmapped_event_is_dropped"),
    BadInput(cls="platform", input="ITS model: event mapped (MAPTI) to a collection never mapped (MAPC)",
             outcome="dropped; COLLECTION_UNMAPPED, code E_ITS_INT_UNMAPPED_INTERRUPT",
             test="test_event_on_an_unmapped_collection_is_dropped"),
    BadInput(cls="platform", input="ITS model: device table entry whose memory read fails",
             outcome="dropped; TABLE_MEMORY_ERROR without a code",
             test="test_device_table_memory_error_drops_the_translation"),
    BadInput(cls="platform", input="ITS model: LPI INTID beyond GICR_PROPBASER.IDbits (2^14 with IDbits 13)",
             outcome="dropped by the redistributor (recorded with target and INTID), nothing delivered",
             test="test_lpi_beyond_propbaser_id_bits_is_dropped_by_the_redistributor"),
    BadInput(cls="platform", input="ITS model: write to an event after DISCARD",
             outcome="dropped; EVENT_UNMAPPED, code E_ITS_INT_UNMAPPED_INTERRUPT; DISCARD cleared the held LPI's "
                     "pending state and the ITT entry",
             test="test_discard_then_write_is_an_unmapped_event"),
    BadInput(cls="platform", input="ITS model: MAPD with DeviceID beyond Devbits, or ITT Size 16 (too large)",
             outcome="command error DEVICE_OUT_OF_RANGE (E_ITS_MAPD_DEVICE_OOR) / ITT_SIZE_OUT_OF_RANGE "
                     "(E_ITS_MAPD_ITTSIZE_OOR); the queue does not stall and the next command (INT) runs",
             test="test_bad_command_is_recorded_and_processing_continues"),
    BadInput(cls="platform", input="ITS model: MAPC with ICID 512 (beyond the collection table), or processor 9 (no "
                                   "such redistributor)",
             outcome="command error COLLECTION_OUT_OF_RANGE (E_ITS_MAPC_COLLECTION_OOR) / PROCESSOR_OUT_OF_RANGE "
                     "(E_ITS_MAPC_PROCNUM_OOR); processing continues",
             test="test_bad_command_is_recorded_and_processing_continues"),
    BadInput(cls="platform", input="ITS model: MAPTI for an unmapped device, an EventID beyond the ITT, an INTID "
                                   "below 8192 or above IDbits, ICID 512",
             outcome="command error DEVICE_UNMAPPED (E_ITS_MAPTI_UNMAPPED_DEVICE) / EVENT_OUT_OF_RANGE "
                     "(E_ITS_MAPTI_ID_OOR) / INTID_OUT_OF_RANGE (E_ITS_MAPTI_PHYSICALID_OOR) / "
                     "COLLECTION_OUT_OF_RANGE (E_ITS_MAPC_COLLECTION_OOR); processing continues",
             test="test_bad_command_is_recorded_and_processing_continues"),
    BadInput(cls="platform", input="ITS model: INT, INV, DISCARD or MOVI of an unmapped event; CLEAR on an unmapped "
                                   "device",
             outcome="command error EVENT_UNMAPPED (E_ITS_INT/INV/DISCARD/MOVI_UNMAPPED_INTERRUPT) / DEVICE_UNMAPPED "
                     "(E_ITS_CLEAR_UNMAPPED_INTERRUPT); processing continues",
             test="test_bad_command_is_recorded_and_processing_continues"),
    BadInput(cls="platform", input="ITS model: INVALL or MOVI naming an unmapped collection; MOVALL to processor 7",
             outcome="command error COLLECTION_UNMAPPED (E_ITS_INVALL_UNMAPPED_COLLECTION / "
                     "E_ITS_MOVI_UNMAPPED_COLLECTION) / PROCESSOR_OUT_OF_RANGE (E_ITS_MOVALL_PROCNUM_OOR); processing "
                     "continues",
             test="test_bad_command_is_recorded_and_processing_continues"),
    BadInput(cls="platform", input="ITS model: command opcode 0x00, or GICv4 VMAPTI (0x2A)",
             outcome="command error UNSUPPORTED_COMMAND without a code; processing continues",
             test="test_bad_command_is_recorded_and_processing_continues"),
    BadInput(cls="platform", input="ITS model: bad command with stall-on-error configured",
             outcome="CREADR stops at the bad command with Stalled set; after software replaces it and retries "
                     "(CWRITER.Retry) the queue continues",
             test="test_stall_mode_stops_at_a_bad_command_until_software_retries"),
    BadInput(cls="platform", input="ITS model: command queue memory that cannot be read",
             outcome="COMMAND_QUEUE_MEMORY_ERROR, CREADR stalled at that command until the error is cleared and "
                     "software retries",
             test="test_command_queue_memory_error_stalls_until_retry"),
    BadInput(cls="platform", input="ITS model: MAPC while the collection table's memory has an error range",
             outcome="TABLE_MEMORY_ERROR; the ITS stalls (CREADR Stalled)",
             test="test_table_memory_error_in_a_command_stalls"),
    BadInput(cls="platform", input="ITS model: GITS_CWRITER beyond the command queue (4096 for one page)",
             outcome="CWRITER_OUT_OF_RANGE; the ITS stalls",
             test="test_cwriter_beyond_the_queue_stalls"),
)
