"""The behavioural interrupt storage behind DeviceMmio (tb/vmm/device.py), against the register map's offsets
(MSI-X table 0x20000, 16-byte entries; PBA 0x28000, bit k of QWORD k/64; IMS 0x40000, 0x8000 per WQ,
16-byte slots, CTRL mask b0, pending b1, PASID_EN b3, PASID[31:12]) and the PCIe MSI-X masking rules."""

from tb.vmm.device import InterruptStorageDevice, ims_slot_offset, msix_entry_offset

RID = 0x0300


def rig(**options):
    sent = []
    device = InterruptStorageDevice(RID, lambda a, d, r: sent.append((a, d, r)) or True, **options)
    return device, sent


def test_offsets_follow_the_register_map():
    assert msix_entry_offset(3) == 0x20030
    assert ims_slot_offset(1, 2) == 0x48020


def test_msix_entry_resets_masked_and_a_masked_vector_pends_then_replays_once():
    device, sent = rig(msix_vectors=70)
    base = msix_entry_offset(65)
    assert device.read32(base + 0xC) == 1
    device.write32(base, 0xFEE0_0018)
    device.write32(base + 0x8, 0x1234)
    device.fire_msix(65)
    assert sent == [] and device.read64(0x28008) == 1 << 1 and device.read32(0x2800C) == 0
    device.write32(base + 0xC, 0)
    assert sent == [(0xFEE0_0018, (0x1234).to_bytes(4, "little"), RID)]
    assert device.read64(0x28008) == 0
    device.write32(base + 0xC, 0)                                   # no second replay
    assert len(sent) == 1


def test_msix_write_while_unmasked_is_recorded_but_ims_write_is_dropped():
    device, _ = rig()
    device.write32(msix_entry_offset(0) + 0xC, 0)
    device.write32(msix_entry_offset(0) + 0x8, 7)
    assert device.read32(msix_entry_offset(0) + 0x8) == 7
    slot = ims_slot_offset(0, 0)
    device.write32(slot + 0xC, 0)
    device.write32(slot + 0x8, 7)
    assert device.read32(slot + 0x8) == 0
    assert device.violations == ["msix (0,): address/data written while unmasked",
                                 "ims (0, 0): address/data written while unmasked"]


def test_ims_ctrl_keeps_pasid_bits_and_shows_pending():
    device, sent = rig()
    slot = ims_slot_offset(1, 3)
    device.write32(slot + 0xC, 0x0001_2000 | 1 << 3 | 1 | 1 << 2)   # PASID 0x12, PASID_EN, mask, b2
    assert device.read32(slot + 0xC) == 0x0001_2000 | 1 << 3 | 1
    device.fire_ims(1, 3)
    assert device.read32(slot + 0xC) & 0b10
    device.write32(slot + 0xC, 0x0001_2000 | 1 << 3)
    assert len(sent) == 1 and not device.read32(slot + 0xC) & 0b10
