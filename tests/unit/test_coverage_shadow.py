"""The coverage shadow (tb/coverage DeviceShadow) classifies interrupts the way the device handles them:
Bus Master Enable = 0 holds (pends) a request, an unmask or a Function Mask change while it is 0 replays
nothing, setting it replays every pending unmasked MSI-X vector and IMS entry once, and an IMS PASID mismatch
is dropped before anything else."""
from types import SimpleNamespace

from tb.coverage import DeviceShadow, _Entry, model

IRQ = "imsdev.interrupts.source_x_state_x_pending"
OUTCOME = "imsdev.interrupts.source_x_binding_x_outcome"


def shadow():
    params = SimpleNamespace(msix_vectors=9, ims_per_wq=16, num_wq=1)
    return DeviceShadow(SimpleNamespace(params=params, pauses="none", platform=None))


def hits(item):
    return dict(model.hits()[item])


def delta(item, before):
    return {k: v - before.get(k, 0) for k, v in hits(item).items() if v != before.get(k, 0)}


def unmasked(s, table, key):
    table[key] = e = _Entry()
    e.masked = False
    return e


def test_bus_master_off_holds_and_its_return_replays_msix_once():
    s = shadow()
    unmasked(s, s.msix, 3)
    unmasked(s, s.msix, 4)
    s.config(msix_enabled=True, function_masked=True, bus_master=True)
    s.raise_msix(3)                                   # pended under Function Mask
    s.config(msix_enabled=True, function_masked=True, bus_master=False)
    b_irq, b_out = hits(IRQ), hits(OUTCOME)
    s.raise_msix(3)                                   # already pending, held
    s.raise_msix(4)                                   # not pending, held
    s.raise_msix(4)                                   # now pending
    assert delta(IRQ, b_irq) == {"msix x bus_master_off x 1": 2, "msix x bus_master_off x 0": 1}
    assert delta(OUTCOME, b_out) == {"msix x none x held": 3}
    b_out = hits(OUTCOME)
    s.config(msix_enabled=True, function_masked=False, bus_master=False)   # still held: no replay
    assert delta(OUTCOME, b_out) == {}
    s.config(msix_enabled=True, function_masked=False, bus_master=True)
    assert delta(OUTCOME, b_out) == {"msix x none x replayed": 2}
    assert not s.msix[3].pending and not s.msix[4].pending


def test_ims_held_until_bus_master_enable_and_mismatch_dropped_first():
    s = shadow()
    s.config(msix_enabled=False, function_masked=False, bus_master=True)
    e = unmasked(s, s.ims, (0, 2))
    e.pasid_en, e.pasid = True, 0x5
    s.config(msix_enabled=False, function_masked=False, bus_master=False)
    b_irq, b_out = hits(IRQ), hits(OUTCOME)
    s.raise_ims(0, 2, 0x6)                            # mismatch: dropped, even with Bus Master Enable = 0
    s.raise_ims(0, 2, 0x5)                            # match: held
    s.raise_ims(0, 2, 0x5)                            # held again, already pending
    assert delta(OUTCOME, b_out) == {"ims x mismatch x dropped_pasid": 1, "ims x match x held": 2}
    assert delta(IRQ, b_irq) == {"ims x bus_master_off x 0": 2, "ims x bus_master_off x 1": 1}
    b_out = hits(OUTCOME)
    s.config(msix_enabled=False, function_masked=False, bus_master=True)
    assert delta(OUTCOME, b_out) == {"ims x match x replayed": 1}
    assert not e.pending
