"""Every way the host platform refuses a device's interrupt message, with an MSI-X vector and with an IMS
entry as the source, under every link pause mode (IMSDEV_PLATFORM=x86 or arm).

x86, VT-d interrupt remapping (platform-facts.md section 4): each fault reason 0x20-0x26 is recorded in a
primary fault record with the reason, the device's SID and the interrupt index the request computed
(handle + subhandle; none for a compatibility-format request), and the interrupt reaches no CPU:
  0x20 SHV=1 with data[31:16] != 0      0x21 index >= the IRTA table size   0x22 IRTE not present
  0x23 the IRTE read fails (memory)     0x24 reserved IRTE bits set        0x25 compatibility format
  blocked (IRE=1, CFIS=0)               0x26 source-ID check fails
ARM, SMMU MSI window + GICv3 ITS (sections 5 and 6): the write is dropped and recorded with the device's
DeviceID and the EventID it wrote (KVM's code E_ITS_INT_UNMAPPED_INTERRUPT for the translation-table
failures): DeviceID beyond GITS_TYPER.Devbits, device unmapped (MAPD V=0), EventID unmapped or beyond the
ITT, collection unmapped, ITS disabled, a write to the ITS frame that is not GITS_TRANSLATER, a table read
that fails; an IOVA the SMMU has not mapped is an SMMU translation fault with the StreamID and the IOVA.

Each test then shows the platform keeps working: a good interrupt fired with (or after) the bad one is
delivered exactly once to its (CPU, vector) / (redistributor, LPI), the bad one faults again each time it
fires, and nothing else reaches any CPU (tests/platform/common.py finish). Conditions that refuse every
message of the device (unmapped device, disabled ITS) are repaired the way a kernel would before the good
interrupt. The tests for one platform are only defined when it is the one under test.

The kernel side is fw/imsdev/platform; where a test plays a buggy or hostile kernel (rewriting an IRTE with
reserved bits, remapping an event to an unmapped collection) it does so through the same host memory,
registers and command queue.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cocotb

from imsdev.platform import MsiMsg
from imsdev.platform.arm_its import (GITS_CMD_DISCARD, GITS_CMD_INT, GITS_CMD_INV, GITS_CMD_INVALL,
                                     GITS_CMD_MAPTI, GITS_CREADR, GITS_CREADR_STALLED, GITS_CTLR,
                                     GITS_CTLR_ENABLE, GITS_CTLR_QUIESCENT, GITS_TYPER, encode_its_command)
from imsdev.platform.x86_ir import IRTE_BYTES, remappable_msi_message
from tb.bad_inputs import BadInput
from tb.env import PAUSE_MODES
from tb.platform.gic_its import E_ITS_INT_UNMAPPED_INTERRUPT, ItsError, ItsErrorReason
from tb.platform.smmu import EVT_ID_TRANSLATION_FAULT, SmmuEvent
from tb.platform.vtd_ir import (FRCD_F, FRCD_REG_BASE, FSTS_PPF, FSTS_REG, GSTS_CFIS, GSTS_IRES, GSTS_REG,
                                VtdFault, VtdFaultReason)
from tb.tests.platform.common import PLATFORM, STORES, finish, other_rid, setup, start

STORE_NAMES = tuple(STORES)        # "msix", "ims": every test runs with both as the interrupt source


# ------------------------------------------------------------------------------------ shared
@dataclass
class BadMessage:
    """A message the platform must refuse, and exactly what it must record for it."""
    msg: MsiMsg
    fault: tuple                           # fault_fields() of the recorded fault
    irqs: tuple = ()                       # platform interrupts it involves: tracked, so a delivery fails
    frcd: tuple | None = None              # x86: the primary fault record (reason, SID, interrupt index)
    check: Callable[[int], None] | None = None    # extra check after round n (1, 2)


def fault_fields(fault) -> tuple:
    """A recorded fault as a comparable tuple: VT-d (reason, SID, interrupt index, address, data); ITS
    (source, reason, code, DeviceID, EventID); SMMU ("smmu", event, StreamID, IOVA)."""
    if isinstance(fault, VtdFault):
        return (fault.reason, fault.requester_id, fault.index, fault.address, fault.data)
    if isinstance(fault, SmmuEvent):
        return ("smmu", fault.event_id, fault.stream_id, fault.iova)
    assert isinstance(fault, ItsError), f"unknown fault {fault!r}"
    return (fault.source, fault.reason, fault.code, fault.device_id, fault.event_id)


def assert_faults(plat, want: tuple, n: int) -> None:
    got = [fault_fields(f) for f in plat.faults]
    assert got == [want] * n, f"recorded faults {got}, expected {n} x {want}"


async def fault_case(dut, test: str, pauses: str, store_name: str, reason, make_bad):
    """A good interrupt on the store's first slot, the bad message (make_bad(bench, plat, store, good_irq))
    on its last. Fire the bad one then the good one, twice: each time the bad one is refused with exactly
    the recorded fault make_bad describes (and, on x86, the primary fault record software reads) and the
    good one is delivered; at the end nothing else has reached any CPU."""
    bench, plat, store = await start(dut, pauses, store_name)
    slots = store.slots_under_test()
    good, bad = slots[0], slots[-1]
    by_slot = await setup(bench, plat, store, [good], spare=[bad])
    b = make_bad(bench, plat, store, by_slot[good])
    plat.track(*b.irqs)
    await store.write_msg(bad, b.msg)
    await store.unmask(bad)
    for n in (1, 2):
        plat.expect_fault(reason, requester_id=bench.requester_id)
        plat.expect(by_slot[good])
        await store.fire(bad)
        await store.fire(good)
        await plat.wait_all()
        assert_faults(plat, b.fault, n)
        if b.frcd is not None:
            records = vtd_fault_records(plat)
            assert records == [b.frcd], f"round {n}: primary fault records {records}, expected {[b.frcd]}"
        if PLATFORM == "arm":
            assert not plat.model.its.read_reg(GITS_CREADR) & GITS_CREADR_STALLED, "ITS command queue stalled"
        if b.check is not None:
            b.check(n)
    assert [d.key for d in plat.deliveries_for(by_slot[good])] == [plat.expected_target(by_slot[good])] * 2
    await finish(bench, plat, test, store)


# ------------------------------------------------------------------------------------ x86 fault paths
def vtd_fault_records(plat) -> list[tuple[int, int, int]]:
    """Read and clear the primary fault records as Linux's dmar_fault() does: (reason, SID, IRTE index)."""
    iommu = plat.model.iommu
    out = []
    if not iommu.read_reg(FSTS_REG) & FSTS_PPF:
        return out
    for n in range(8):
        reg = FRCD_REG_BASE + 16 * n
        hi = iommu.read_reg(reg + 8)
        if hi & FRCD_F:
            out.append((hi >> 32 & 0xFF, hi & 0xFFFF, iommu.read_reg(reg) >> 48 & 0xFFFF))
            iommu.write_reg(reg + 12, FRCD_F >> 32, 4)
    return out


def vtd_bad(reason: VtdFaultReason, bench, msg: MsiMsg, index: int | None, irqs=()) -> BadMessage:
    """What VT-d must record for this message: the reason, the device's SID, the interrupt index (FRCD
    index 0 when the request has none), the address and data written."""
    rid = bench.requester_id
    return BadMessage(msg, (reason, rid, index, msg.address, msg.data), tuple(irqs),
                      (int(reason), rid, 0 if index is None else index))


if PLATFORM == "x86":
    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_x86_request_reserved(dut, store, pauses):
        """0x20: a remappable message with SHV=1 and data bit 16 set (data[31:16] is reserved), to an IRTE
        that is otherwise fine: faulted with the index handle + subhandle, nothing delivered."""
        def bad(bench, plat, store, good):
            first, second = plat.alloc_irqs(bench.requester_id, 2)      # one block: subhandles 0 and 1
            assert second.msg.data == 1 and second.index == first.index + 1
            msg = MsiMsg(second.msg.address_lo, second.msg.address_hi, second.msg.data | 1 << 16)
            return vtd_bad(VtdFaultReason.REQUEST_RESERVED, bench, msg, second.index, (first, second))
        await fault_case(dut, "test_x86_request_reserved", pauses, store, VtdFaultReason.REQUEST_RESERVED, bad)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_x86_index_out_of_range(dut, store, pauses):
        """0x21: handle = last IRTE of the table, subhandle 1: the index equals the table size (IRTA.S) and
        is out of range; the fault names that index."""
        def bad(bench, plat, store, good):
            entries = plat.model.domain.table_entries        # what the kernel programmed into IRTA
            msg = remappable_msi_message(entries - 1, 1)
            return vtd_bad(VtdFaultReason.INDEX_OUT_OF_RANGE, bench, msg, entries)
        await fault_case(dut, "test_x86_index_out_of_range", pauses, store, VtdFaultReason.INDEX_OUT_OF_RANGE,
                             bad)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_x86_irte_not_present(dut, store, pauses):
        """0x22: an entry whose IRTE was freed (cleared and invalidated): nothing delivered."""
        def bad(bench, plat, store, good):
            (irq,) = plat.alloc_irqs(bench.requester_id, 1)
            plat.free_irqs([irq])
            return vtd_bad(VtdFaultReason.NOT_PRESENT, bench, irq.msg, irq.index, (irq,))
        await fault_case(dut, "test_x86_irte_not_present", pauses, store, VtdFaultReason.NOT_PRESENT, bad)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_x86_table_read_error(dut, store, pauses):
        """0x23: a valid IRTE whose 16 bytes of host memory cannot be read (an uncorrectable memory error
        under the remapping table): the read faults with that index, every time (nothing cached)."""
        def bad(bench, plat, store, good):
            (irq,) = plat.alloc_irqs(bench.requester_id, 1)
            plat.model.memory.add_error_range(plat.model.domain.irte_address(irq.index), IRTE_BYTES)
            return vtd_bad(VtdFaultReason.TABLE_READ_ERROR, bench, irq.msg, irq.index, (irq,))
        await fault_case(dut, "test_x86_table_read_error", pauses, store, VtdFaultReason.TABLE_READ_ERROR, bad)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_x86_irte_reserved(dut, store, pauses):
        """0x24: the kernel rewrites a valid IRTE with reserved bit 84 set (rsvd[127:84], FPD=0) and
        invalidates it: faulted with that index, nothing delivered."""
        def bad(bench, plat, store, good):
            (irq,) = plat.alloc_irqs(bench.requester_id, 1)
            domain, memory = plat.model.domain, plat.model.memory
            raw = int.from_bytes(memory.read(domain.irte_address(irq.index), IRTE_BYTES), "little")
            assert raw & 0b11 == 0b01, f"IRTE {raw:#x}: present, FPD=0"
            raw |= 1 << 84
            domain._write_irte(irq.index, raw & (1 << 64) - 1, raw >> 64)      # write + IEC invalidation
            return vtd_bad(VtdFaultReason.IRTE_RESERVED, bench, irq.msg, irq.index, (irq,))
        await fault_case(dut, "test_x86_irte_reserved", pauses, store, VtdFaultReason.IRTE_RESERVED, bad)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_x86_compat_format_blocked(dut, store, pauses):
        """0x25: a compatibility-format message (no remapping) while the kernel blocks them (IRE=1,
        CFIS=0): faulted without an index, and the CPU/vector the message names receives nothing."""
        def bad(bench, plat, store, good):
            status = plat.model.iommu.read_reg(GSTS_REG)
            assert status & GSTS_IRES and not status & GSTS_CFIS, f"GSTS {status:#x}: IR on, compat blocked"
            apic = plat.model.cpus.ids[1]
            return vtd_bad(VtdFaultReason.COMPAT_BLOCKED, bench, MsiMsg(0xFEE0_0000 | apic << 12, 0, 0x41), None)
        await fault_case(dut, "test_x86_compat_format_blocked", pauses, store, VtdFaultReason.COMPAT_BLOCKED,
                             bad)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_x86_sid_mismatch(dut, store, pauses):
        """0x26: an entry programmed with an IRTE allocated for another requester ID (only the function
        number differs): the source-ID check fails, nothing delivered (not even to that IRTE's CPU)."""
        def bad(bench, plat, store, good):
            (irq,) = plat.alloc_irqs(other_rid(bench), 1)
            return vtd_bad(VtdFaultReason.SOURCE_ID_MISMATCH, bench, irq.msg, irq.index, (irq,))
        await fault_case(dut, "test_x86_sid_mismatch", pauses, store, VtdFaultReason.SOURCE_ID_MISMATCH, bad)


# ------------------------------------------------------------------------------------ ARM fault paths
def its_command(plat, opcode: int, cpu: int = 0, **fields) -> None:
    """Queue one ITS command (+ SYNC) through the kernel domain's command queue and wait for it."""
    plat.model.domain._send(encode_its_command(opcode, **fields), cpu)


def nr_ites(store) -> int:
    """Events the ITS maps for the device (its_create_device: max(2, pow2(hwsize)))."""
    return max(2, 1 << (store.size - 1).bit_length())


def its_bad(reason: ItsErrorReason, bench, msg: MsiMsg, irqs=(), code=E_ITS_INT_UNMAPPED_INTERRUPT) -> BadMessage:
    """What the ITS must record for a dropped write: a translation error with the reason, KVM's code where
    there is one, the device's DeviceID and the EventID written (the message data)."""
    return BadMessage(msg, ("translation", reason, code, bench.requester_id, msg.data), tuple(irqs))


if PLATFORM == "arm":
    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_arm_event_unmapped(dut, store, pauses):
        """The last EventID inside the device's ITT, never mapped: dropped and recorded."""
        def bad(bench, plat, store, good):
            event = nr_ites(store) - 1
            assert event not in plat.model.domain._devices[bench.requester_id].events
            return its_bad(ItsErrorReason.EVENT_UNMAPPED, bench,
                           MsiMsg(good.msg.address_lo, good.msg.address_hi, event))
        await fault_case(dut, "test_arm_event_unmapped", pauses, store, ItsErrorReason.EVENT_UNMAPPED, bad)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_arm_event_id_out_of_range(dut, store, pauses):
        """The first EventID beyond the device's ITT (2^(MAPD Size + 1)): dropped and recorded."""
        def bad(bench, plat, store, good):
            return its_bad(ItsErrorReason.EVENT_OUT_OF_RANGE, bench,
                           MsiMsg(good.msg.address_lo, good.msg.address_hi, nr_ites(store)))
        await fault_case(dut, "test_arm_event_id_out_of_range", pauses, store, ItsErrorReason.EVENT_OUT_OF_RANGE, bad)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_arm_collection_unmapped(dut, store, pauses):
        """An event the kernel re-mapped (DISCARD, MAPTI) to a collection no MAPC ever mapped (ICID = the
        CPU count, inside the collection table): the write is dropped and recorded, the LPI stays idle."""
        def bad(bench, plat, store, good):
            rid = bench.requester_id
            (irq,) = plat.alloc_irqs(rid, 1, hwsize=store.size)
            its_command(plat, GITS_CMD_DISCARD, irq.cpu, device_id=rid, event_id=irq.index)
            its_command(plat, GITS_CMD_MAPTI, irq.cpu, device_id=rid, event_id=irq.index, physical_id=irq.vector,
                        collection_id=plat.cpu_count)
            return its_bad(ItsErrorReason.COLLECTION_UNMAPPED, bench, irq.msg, (irq,))
        await fault_case(dut, "test_arm_collection_unmapped", pauses, store, ItsErrorReason.COLLECTION_UNMAPPED, bad)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_arm_bad_access(dut, store, pauses):
        """A mapped EventID written 4 bytes past GITS_TRANSLATER (same SMMU page, so it reaches the ITS
        frame): not a translation request, dropped and recorded without a code."""
        def bad(bench, plat, store, good):
            (irq,) = plat.alloc_irqs(bench.requester_id, 1, hwsize=store.size)
            assert (irq.msg.address_lo & 0xFFF) + 4 < 0x1000
            msg = MsiMsg(irq.msg.address_lo + 4, irq.msg.address_hi, irq.msg.data)
            return its_bad(ItsErrorReason.BAD_ACCESS, bench, msg, (irq,), code=None)
        await fault_case(dut, "test_arm_bad_access", pauses, store, ItsErrorReason.BAD_ACCESS, bad)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_arm_table_memory_error(dut, store, pauses):
        """A mapped event whose ITT entry in host memory cannot be read (an uncorrectable memory error):
        the translation is dropped and recorded without a code; the device's other events still work."""
        def bad(bench, plat, store, good):
            rid = bench.requester_id
            (irq,) = plat.alloc_irqs(rid, 1, hwsize=store.size)
            domain = plat.model.domain
            ite = domain._devices[rid].itt_address + irq.index * domain.ite_size
            plat.model.memory.add_error_range(ite, domain.ite_size)
            return its_bad(ItsErrorReason.TABLE_MEMORY_ERROR, bench, irq.msg, (irq,), code=None)
        await fault_case(dut, "test_arm_table_memory_error", pauses, store, ItsErrorReason.TABLE_MEMORY_ERROR, bad)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_arm_unmapped_iova(dut, store, pauses):
        """A message address in the MSI window that the SMMU has not mapped: an SMMU translation fault with
        the device's StreamID and the IOVA; the ITS sees nothing of it."""
        def bad(bench, plat, store, good):
            smmu, its = plat.model.smmu, plat.model.its
            iova = plat.window[0] + plat.window[1] // 2 + (good.msg.address_lo & 0xFFF)
            assert smmu.translate(iova) is None and smmu.translate(good.msg.address_lo) is not None
            translated = its.translated

            def only_good_reached_the_its(n):
                assert its.translated == translated + n, f"round {n}: {its.translated - translated} ITS translations"
            return BadMessage(MsiMsg(iova, 0, good.index),
                              ("smmu", EVT_ID_TRANSLATION_FAULT, bench.requester_id, iova),
                              check=only_good_reached_the_its)
        await fault_case(dut, "test_arm_unmapped_iova", pauses, store, "translation_fault", bad)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_arm_device_unmapped(dut, store, pauses):
        """The driver frees every interrupt of the device (DISCARD each, then MAPD V=0) while an entry still
        holds its old message: each write is dropped as from an unmapped device. The driver then requests
        an interrupt again (MAPD V=1 with a new ITT, MAPTI): the reprogrammed entry is delivered."""
        bench, plat, store = await start(dut, pauses, store)
        rid = bench.requester_id
        slots = store.slots_under_test()
        good, bad = slots[0], slots[-1]
        by_slot = await setup(bench, plat, store, [good, bad])
        old = by_slot[bad]
        plat.free_irqs(list(by_slot.values()))
        assert rid not in plat.model.domain._devices
        for n in (1, 2):
            plat.expect_fault(ItsErrorReason.DEVICE_UNMAPPED, requester_id=rid)
            await store.fire(bad)
            await plat.wait_all()
            assert_faults(plat, ("translation", ItsErrorReason.DEVICE_UNMAPPED, E_ITS_INT_UNMAPPED_INTERRUPT, rid,
                                 old.index), n)
        (new,) = plat.alloc_irqs(rid, 1, hwsize=store.size)
        plat.expect(new)
        await store.write_msg(good, new.msg)
        await store.fire(good)
        await plat.wait_all()
        await finish(bench, plat, "test_arm_device_unmapped", store)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_arm_its_disabled(dut, store, pauses):
        """The kernel disables the ITS (GITS_CTLR.Enabled=0, as its_save_disable does; it reports
        Quiescent): a write to GITS_TRANSLATER is dropped and recorded, not held. Re-enabled, the same
        entry and another one are each delivered once."""
        bench, plat, store = await start(dut, pauses, store)
        rid = bench.requester_id
        slots = store.slots_under_test()
        good, bad = slots[0], slots[-1]
        by_slot = await setup(bench, plat, store, [good, bad])
        its = plat.model.its
        ctlr = its.read_reg(GITS_CTLR)
        assert ctlr & GITS_CTLR_ENABLE
        its.write_reg(GITS_CTLR, ctlr & ~GITS_CTLR_ENABLE)
        assert its.read_reg(GITS_CTLR) & GITS_CTLR_QUIESCENT
        for n in (1, 2):
            plat.expect_fault(ItsErrorReason.ITS_DISABLED, requester_id=rid)
            await store.fire(bad)
            await plat.wait_all()
            assert_faults(plat, ("translation", ItsErrorReason.ITS_DISABLED, None, rid, by_slot[bad].index), n)
        its.write_reg(GITS_CTLR, ctlr)
        for v in (good, bad):
            plat.expect(by_slot[v])
            await store.fire(v)
        await plat.wait_all()
        await finish(bench, plat, "test_arm_its_disabled", store)

    DEVICE_ID_BITS = 8       # an ITS with 256 DeviceIDs; the device sits on bus 1 (requester ID >= 0x100)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES, pauses=PAUSE_MODES)
    async def test_arm_device_id_out_of_range(dut, store, pauses):
        """An ITS whose GITS_TYPER.Devbits cannot name the device's requester ID: the kernel refuses to
        map the device; a message composed for the doorbell anyway is dropped and recorded each time with
        the DeviceID and EventID. The ITS keeps working for the DeviceIDs it implements (an interrupt of the
        last one, injected with INT, is delivered)."""
        bench, plat, store = await start(dut, pauses, store, platform_options={"device_id_bits": DEVICE_ID_BITS})
        rid = bench.requester_id
        assert rid >> DEVICE_ID_BITS, f"requester ID {rid:#06x} fits {DEVICE_ID_BITS} DeviceID bits"
        its, domain = plat.model.its, plat.model.domain
        assert (its.read_reg(GITS_TYPER) >> 13 & 0x1F) + 1 == DEVICE_ID_BITS
        try:
            plat.alloc_irqs(rid, 1, hwsize=store.size)
        except ValueError:
            pass
        else:
            raise AssertionError(f"the ITS domain mapped DeviceID {rid:#x} beyond {DEVICE_ID_BITS} bits")
        bad = store.slots_under_test()[-1]
        await store.enable([bad])
        msg = MsiMsg(domain._doorbell_msg_address(), 0, 1)
        await store.write_msg(bad, msg)
        await store.unmask(bad)
        for n in (1, 2):
            plat.expect_fault(ItsErrorReason.DEVICE_OUT_OF_RANGE, requester_id=rid)
            await store.fire(bad)
            await plat.wait_all()
            assert_faults(plat, ("translation", ItsErrorReason.DEVICE_OUT_OF_RANGE, E_ITS_INT_UNMAPPED_INTERRUPT, rid,
                                 1), n)
        assert not its.read_reg(GITS_CREADR) & GITS_CREADR_STALLED
        other = (1 << DEVICE_ID_BITS) - 1
        (irq,) = plat.alloc_irqs(other, 1)
        plat.expect(irq)
        its_command(plat, GITS_CMD_INT, irq.cpu, device_id=other, event_id=irq.index)
        await plat.wait_all()
        assert [d.key for d in plat.deliveries_for(irq)] == [plat.expected_target(irq)]
        await finish(bench, plat, "test_arm_device_id_out_of_range", store)

    @cocotb.test()
    @cocotb.parametrize(store=STORE_NAMES)
    async def test_arm_discard(dut, store):
        """DISCARD then fire: the ITS no longer translates the event (dropped, recorded, nothing
        delivered). DISCARD of an LPI held pending (its configuration disabled) drops the pending state:
        re-enabling and INVALL deliver nothing. A newly mapped event still works afterwards."""
        bench, plat, store = await start(dut, "both", store)
        slots = store.slots_under_test()
        by_slot = await setup(bench, plat, store, slots)
        rid = bench.requester_id
        a, b = by_slot[slots[0]], by_slot[slots[-1]]

        its_command(plat, GITS_CMD_DISCARD, a.cpu, device_id=rid, event_id=a.index)
        plat.expect_fault(ItsErrorReason.EVENT_UNMAPPED, requester_id=rid)
        await store.fire(slots[0])
        await plat.wait_all()

        # Hold b's LPI pending in its redistributor (configuration byte disabled + INV), then DISCARD.
        domain = plat.model.domain
        domain._write_lpi_config(b.vector, enabled=False)
        its_command(plat, GITS_CMD_INV, b.cpu, device_id=rid, event_id=b.index)
        await store.fire(slots[-1])
        await plat.wait_messages(2)
        assert plat.model.redistributors.is_pending(b.target, b.vector), "LPI not held pending"
        its_command(plat, GITS_CMD_DISCARD, b.cpu, device_id=rid, event_id=b.index)
        assert not plat.model.redistributors.is_pending(b.target, b.vector), "DISCARD left the LPI pending"
        domain._write_lpi_config(b.vector, enabled=True)
        its_command(plat, GITS_CMD_INVALL, b.cpu, collection_id=b.cpu)
        plat.expect_fault(ItsErrorReason.EVENT_UNMAPPED, requester_id=rid)
        await store.fire(slots[-1])
        await plat.wait_all()
        await bench.settle()
        plat.assert_clean()

        # A fresh event on the same device is mapped and delivered (the ITS and the device carry on).
        (c,) = plat.alloc_irqs(rid, 1)
        plat.expect(c)
        await store.write_msg(slots[0], c.msg)
        await store.fire(slots[0])
        await plat.wait_all()
        assert [e.event_id for e in plat.faults] == [a.index, b.index]
        await finish(bench, plat, "test_arm_discard", store)



# ---- bad inputs checked above (docs/bad_inputs.md, written by `sim/run.py bad-inputs`) -------------------------
# Every test runs with an MSI-X vector and with an IMS entry as the source (parametrized `store`).
BAD_INPUTS = (
    BadInput(cls="platform", input="Remappable message with SHV = 1 and data bit 16 set (data[31:16] reserved) to a "
                                   "valid IRTE (from an MSI-X vector and from an IMS entry)",
             outcome="VT-d fault 0x20 (REQUEST_RESERVED) recorded with the device's SID, interrupt index handle + "
                     "subhandle, the address and data, on each of two fires, and in the primary fault record (reason, "
                     "SID, index); nothing delivered; a good interrupt fired after it is delivered exactly once each "
                     "time",
             test="test_x86_request_reserved"),
    BadInput(cls="platform", input="Remappable message whose handle (the table's last IRTE) + subhandle 1 equals the "
                                   "table size (IRTA.S) (from an MSI-X vector and from an IMS entry)",
             outcome="VT-d fault 0x21 (INDEX_OUT_OF_RANGE) recorded with the device's SID, interrupt index = the "
                     "table size, the address and data, on each of two fires, and in the primary fault record "
                     "(reason, SID, index); nothing delivered; a good interrupt fired after it is delivered exactly "
                     "once each time",
             test="test_x86_index_out_of_range"),
    BadInput(cls="platform", input="Message of an IRTE the kernel freed (cleared and invalidated) (from an MSI-X "
                                   "vector and from an IMS entry)",
             outcome="VT-d fault 0x22 (NOT_PRESENT) recorded with the device's SID, interrupt index of that IRTE, the "
                     "address and data, on each of two fires, and in the primary fault record (reason, SID, index); "
                     "nothing delivered; a good interrupt fired after it is delivered exactly once each time",
             test="test_x86_irte_not_present"),
    BadInput(cls="platform", input="Message of a valid IRTE whose 16 bytes of host memory cannot be read (from an "
                                   "MSI-X vector and from an IMS entry)",
             outcome="VT-d fault 0x23 (TABLE_READ_ERROR) recorded with the device's SID, interrupt index of that IRTE "
                     "(every fire: nothing cached), the address and data, on each of two fires, and in the primary "
                     "fault record (reason, SID, index); nothing delivered; a good interrupt fired after it is "
                     "delivered exactly once each time",
             test="test_x86_table_read_error"),
    BadInput(cls="platform", input="Message of an IRTE the kernel rewrote with reserved bit 84 set (FPD = 0) and "
                                   "invalidated (from an MSI-X vector and from an IMS entry)",
             outcome="VT-d fault 0x24 (IRTE_RESERVED) recorded with the device's SID, interrupt index of that IRTE, "
                     "the address and data, on each of two fires, and in the primary fault record (reason, SID, "
                     "index); nothing delivered; a good interrupt fired after it is delivered exactly once each time",
             test="test_x86_irte_reserved"),
    BadInput(cls="platform", input="Compatibility-format message (no remapping) while IRE = 1 and CFIS = 0 (from an "
                                   "MSI-X vector and from an IMS entry)",
             outcome="VT-d fault 0x25 (COMPAT_BLOCKED) recorded with the device's SID, no interrupt index (0 in the "
                     "primary fault record), the address and data, on each of two fires; the CPU the message names "
                     "receives nothing; a good interrupt fired after it is delivered exactly once each time",
             test="test_x86_compat_format_blocked"),
    BadInput(cls="platform", input="Message of an IRTE allocated for another requester ID (only the function number "
                                   "differs) (from an MSI-X vector and from an IMS entry)",
             outcome="VT-d fault 0x26 (SOURCE_ID_MISMATCH) recorded with the device's SID, interrupt index of that "
                     "IRTE, the address and data, on each of two fires, and in the primary fault record (reason, SID, "
                     "index); nothing delivered (not even to that IRTE's CPU); a good interrupt fired after it is "
                     "delivered exactly once each time",
             test="test_x86_sid_mismatch"),
    BadInput(cls="platform", input="EventID inside the device's ITT that was never mapped (the last one) (from an "
                                   "MSI-X vector and from an IMS entry)",
             outcome="dropped; ITS translation error EVENT_UNMAPPED with code E_ITS_INT_UNMAPPED_INTERRUPT, the "
                     "device's DeviceID and the EventID written, on each of two fires; nothing delivered or left "
                     "pending; a good interrupt fired after it is delivered exactly once each time",
             test="test_arm_event_unmapped"),
    BadInput(cls="platform", input="EventID just beyond the device's ITT (2^(MAPD Size + 1)) (from an MSI-X vector "
                                   "and from an IMS entry)",
             outcome="dropped; ITS translation error EVENT_OUT_OF_RANGE with code E_ITS_INT_UNMAPPED_INTERRUPT, the "
                     "device's DeviceID and the EventID written, on each of two fires; nothing delivered or left "
                     "pending; a good interrupt fired after it is delivered exactly once each time",
             test="test_arm_event_id_out_of_range"),
    BadInput(cls="platform", input="Event the kernel re-mapped (DISCARD, MAPTI) to a collection no MAPC mapped (from "
                                   "an MSI-X vector and from an IMS entry)",
             outcome="dropped; ITS translation error COLLECTION_UNMAPPED with code E_ITS_INT_UNMAPPED_INTERRUPT, the "
                     "device's DeviceID and the EventID written, on each of two fires; nothing delivered or left "
                     "pending; a good interrupt fired after it is delivered exactly once each time",
             test="test_arm_collection_unmapped"),
    BadInput(cls="platform", input="Mapped EventID written 4 bytes past GITS_TRANSLATER (same SMMU page) (from an "
                                   "MSI-X vector and from an IMS entry)",
             outcome="dropped; ITS translation error BAD_ACCESS without a code, the device's DeviceID and the EventID "
                     "written, on each of two fires; nothing delivered or left pending; a good interrupt fired after "
                     "it is delivered exactly once each time",
             test="test_arm_bad_access"),
    BadInput(cls="platform", input="Mapped event whose ITT entry in host memory cannot be read (from an MSI-X vector "
                                   "and from an IMS entry)",
             outcome="dropped; ITS translation error TABLE_MEMORY_ERROR without a code, the device's DeviceID and the "
                     "EventID written, on each of two fires; nothing delivered or left pending; a good interrupt "
                     "fired after it is delivered exactly once each time",
             test="test_arm_table_memory_error"),
    BadInput(cls="platform", input="Message address in the SMMU MSI window that the SMMU has not mapped (from an "
                                   "MSI-X vector and from an IMS entry)",
             outcome="SMMU translation fault event 0x10 with the device's StreamID and the IOVA, on each of two "
                     "fires; the ITS translates only the good interrupt, which is delivered exactly once each time",
             test="test_arm_unmapped_iova"),
    BadInput(cls="platform", input="Entry still holding its old message after the driver freed every interrupt "
                                   "(DISCARD each, then MAPD V = 0) (from an MSI-X vector and from an IMS entry)",
             outcome="dropped; ITS translation error DEVICE_UNMAPPED with code E_ITS_INT_UNMAPPED_INTERRUPT, DeviceID "
                     "and the old EventID, on each of two fires; after MAPD V = 1 and MAPTI the reprogrammed entry is "
                     "delivered",
             test="test_arm_device_unmapped"),
    BadInput(cls="platform", input="Write to GITS_TRANSLATER while the kernel has disabled the ITS (GITS_CTLR.Enabled "
                                   "= 0, Quiescent) (from an MSI-X vector and from an IMS entry)",
             outcome="dropped, not held; ITS translation error ITS_DISABLED without a code, DeviceID and EventID, on "
                     "each of two fires; re-enabled, this entry and another are each delivered once",
             test="test_arm_its_disabled"),
    BadInput(cls="platform", input="Requester ID beyond GITS_TYPER.Devbits (8 DeviceID bits, the device on bus 1) "
                                   "(from an MSI-X vector and from an IMS entry)",
             outcome="the kernel domain refuses to map the device (alloc_irqs raises ValueError); a doorbell message "
                     "written anyway is dropped with ITS translation error DEVICE_OUT_OF_RANGE, code "
                     "E_ITS_INT_UNMAPPED_INTERRUPT, DeviceID and EventID 1, each fire; the command queue does not "
                     "stall; an INT for the last implemented DeviceID is delivered",
             test="test_arm_device_id_out_of_range"),
    BadInput(cls="platform", input="Fire after DISCARD of its event; DISCARD of an LPI held pending (configuration "
                                   "disabled) (from an MSI-X vector and from an IMS entry)",
             outcome="each dropped with EVENT_UNMAPPED (the two EventIDs in order), nothing delivered; DISCARD clears "
                     "the held LPI's pending state, re-enabling it with INVALL delivers nothing; a newly mapped event "
                     "is delivered",
             test="test_arm_discard"),
)
