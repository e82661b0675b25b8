"""SMMU MSI window model against platform-facts.md section 6.

The window is IOVA 0x0800_0000 + 1 MiB with 4 KiB pages; a mapped page forwards the write to the
target at the physical page, keeping the offset (iommu_dma_compose_msi_msg); an unmapped page is a
translation fault (SMMUv3 F_TRANSLATION, event 0x10) with the StreamID and the IOVA.
"""

import pytest

from tb.bad_inputs import BadInput
from tb.platform.memory import SparseMemory
from tb.platform.smmu import SmmuMsiWindow

WINDOW = 0x0800_0000
WINDOW_END = 0x0810_0000
DOORBELL_PAGE = 0x0809_0000
STREAM = 0x0208


class RecordingTarget:
    def __init__(self, claims=True):
        self.claims = claims
        self.writes = []

    def handle_write(self, addr, data, requester_id):
        self.writes.append((addr, bytes(data), requester_id))
        return self.claims


@pytest.fixture
def smmu():
    return SmmuMsiWindow(memory=SparseMemory(), now=iter(range(100, 200)).__next__)


def test_only_the_msi_window_is_claimed(smmu):
    assert not smmu.handle_write(WINDOW - 4, b"\0" * 4, STREAM)
    assert not smmu.handle_write(WINDOW_END, b"\0" * 4, STREAM)
    assert smmu.handle_write(WINDOW_END - 4, b"\0" * 4, STREAM)
    assert smmu.events[-1].iova == WINDOW_END - 4


def test_unmapped_iova_is_a_translation_fault_and_is_dropped(smmu):
    target = RecordingTarget()
    smmu.attach(DOORBELL_PAGE, 0x1000, target)
    assert smmu.handle_write(WINDOW + 0x40, (7).to_bytes(4, "little"), STREAM)
    (event,) = smmu.events
    assert (event.event_id, event.stream_id, event.iova) == (0x10, STREAM, WINDOW + 0x40)
    assert event.data == (7).to_bytes(4, "little") and event.time == 100
    assert target.writes == [] and smmu.translated_writes == 0


def test_mapped_page_forwards_to_the_target_with_the_page_offset(smmu):
    target = RecordingTarget()
    smmu.attach(DOORBELL_PAGE - 0x1_0000, 0x2_0000, target)
    smmu.map(WINDOW, DOORBELL_PAGE)
    assert smmu.handle_write(WINDOW + 0x040, b"\x05\0\0\0", STREAM)
    assert target.writes == [(DOORBELL_PAGE + 0x040, b"\x05\0\0\0", STREAM)]
    assert smmu.events == [] and smmu.translate(WINDOW + 0x040) == DOORBELL_PAGE + 0x40


def test_unmap_makes_the_page_fault_again(smmu):
    target = RecordingTarget()
    smmu.attach(DOORBELL_PAGE, 0x1000, target)
    smmu.map(WINDOW + 0x1000, DOORBELL_PAGE)
    assert smmu.unmap(WINDOW + 0x1000)
    assert not smmu.unmap(WINDOW + 0x1000)
    smmu.handle_write(WINDOW + 0x1040, b"\0" * 4, STREAM)
    assert target.writes == [] and [e.iova for e in smmu.events] == [WINDOW + 0x1040]


def test_write_to_a_physical_address_no_target_claims_reaches_memory(smmu):
    declining = RecordingTarget(claims=False)
    smmu.attach(0x2000_0000, 0x1000, declining)
    smmu.map(WINDOW + 0x2000, 0x2000_0000)
    smmu.handle_write(WINDOW + 0x2010, b"\xAA\xBB\xCC\xDD", STREAM)
    assert declining.writes and smmu.unclaimed_writes == 1
    assert smmu.memory.read(0x2000_0010, 4) == b"\xAA\xBB\xCC\xDD"


@pytest.mark.parametrize("iova, pa", [(WINDOW + 0x10, DOORBELL_PAGE), (WINDOW, DOORBELL_PAGE + 4),
                                      (WINDOW_END, DOORBELL_PAGE), (WINDOW - 0x1000, DOORBELL_PAGE)],
                         ids=["iova-unaligned", "pa-unaligned", "above-window", "below-window"])
def test_map_rejects_unaligned_or_out_of_window_pages(smmu, iova, pa):
    with pytest.raises(ValueError):
        smmu.map(iova, pa)


def test_remapping_a_page_to_another_address_is_rejected_but_repeating_is_not(smmu):
    smmu.map(WINDOW, DOORBELL_PAGE)
    smmu.map(WINDOW, DOORBELL_PAGE)
    with pytest.raises(ValueError):
        smmu.map(WINDOW, DOORBELL_PAGE + 0x1000)
    assert smmu.mappings == {WINDOW: DOORBELL_PAGE}


# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
BAD_INPUTS = (
    BadInput(cls="platform", input="SMMU model: write to an IOVA in the MSI window with no mapping",
             outcome="claimed and dropped: translation fault event 0x10 with StreamID, IOVA and data; the target sees "
                     "nothing",
             test="test_unmapped_iova_is_a_translation_fault_and_is_dropped"),
    BadInput(cls="platform", input="SMMU model: write to a page after unmap",
             outcome="translation fault again, the target sees nothing; a second unmap returns False",
             test="test_unmap_makes_the_page_fault_again"),
    BadInput(cls="platform", input="SMMU model: map of an unaligned IOVA or PA, or of an IOVA above or below the MSI "
                                   "window",
             outcome="map raises ValueError",
             test="test_map_rejects_unaligned_or_out_of_window_pages"),
    BadInput(cls="platform", input="SMMU model: remapping a mapped page to another address",
             outcome="map raises ValueError; the mapping is unchanged (repeating the same mapping is allowed)",
             test="test_remapping_a_page_to_another_address_is_rejected_but_repeating_is_not"),
)
