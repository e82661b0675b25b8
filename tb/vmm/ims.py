"""IMS in a guest: the three designs of issue 10 item 3, side by side.

All three program the same pass-through or trapped IMS slots through the guest's BAR view
(:class:`~.trap.GuestBar`) in the order of the IDXD IMS irqchip (platform-facts section 2: mask,
ADDR_LO, ADDR_HI, DATA, read back, then unmask with a read back):

(a) :class:`DirectIms`: the guest writes the message it would compose without a host behind it (an
    x86 compatibility-format message to its vCPU's APIC ID and its vector) into its pass-through IMS
    slot. No exit. Under interrupt remapping the host blocks compatibility format (Linux clears
    GCMD.CFI): the device's write is fault 0x25 and reaches no CPU. A guest that instead guesses a
    remappable handle hits an IRTE it does not own (0x22 not present, 0x26 source-id mismatch) or,
    worse, one of another guest using the same requester ID.
(b) :class:`HypercallIms`: the guest asks the host for a host-valid (address, data) for (vCPU, vector)
    with a hypercall (one VMCALL exit; the host allocates an IRTE, posted to the vCPU or remapped with
    injection), then writes it into its pass-through IMS slot. Mask and unmask are direct: no exit.
    Nothing stops a guest from writing a message it was not given: the IRTE's source-id check sees
    only the device's requester ID, which every guest sharing the device has.
(c) :class:`TrappedImsDesign`: the VMM traps the guest's IMS pages and emulates them like the MSI-X
    table (:class:`~.trap.TrappedIms`): every IMS access is an exit, the guest's own
    compatibility-format messages are turned into host interrupts by the VMM, and the guest never
    writes the physical slot.
"""

from __future__ import annotations

from imsdev import regs
from imsdev.platform import MsiMsg
from imsdev.platform.x86_ir import compatibility_msi_message

from .device import ims_slot_offset
from .exits import ExitReason
from .host import Route, X86Routing, X86Vm
from .trap import GuestBar, TrappedIms

MASK = regs.IMS_ENTRY_CTRL_MASK_MASK


class GuestImsDriver:
    """The guest kernel's IMS slot programming through its BAR view."""

    def __init__(self, bar: GuestBar):
        self.bar = bar

    def write_message(self, wq: int, index: int, msg: MsiMsg) -> None:
        base = ims_slot_offset(wq, index)
        self.mask(wq, index)
        self.bar.write32(base + regs.IMS_ENTRY_ADDR_LO, msg.address_lo)
        self.bar.write32(base + regs.IMS_ENTRY_ADDR_HI, msg.address_hi)
        self.bar.write32(base + regs.IMS_ENTRY_DATA, msg.data)
        self.bar.read32(base + regs.IMS_ENTRY_DATA)

    def _ctrl(self, wq: int, index: int, masked: bool) -> None:
        offset = ims_slot_offset(wq, index) + regs.IMS_ENTRY_CTRL
        self.bar.write32(offset, MASK if masked else 0)
        self.bar.read32(offset)

    def mask(self, wq: int, index: int) -> None:
        self._ctrl(wq, index, True)

    def unmask(self, wq: int, index: int) -> None:
        self._ctrl(wq, index, False)


class DirectIms:
    """Design (a): the guest's own message, straight into the device."""

    name = "(a) guest writes its own message"

    def __init__(self, vm: X86Vm, bar: GuestBar):
        self.vm = vm
        self.driver = GuestImsDriver(bar)

    def setup(self, wq: int, index: int, vcpu: int, vector: int) -> MsiMsg:
        msg = compatibility_msi_message(vcpu, vector)
        self.driver.write_message(wq, index, msg)
        self.driver.unmask(wq, index)
        return msg


class HypercallIms:
    """Design (b): a hypercall returns the host-valid message the guest then writes."""

    name = "(b) hypercall for a host message"

    def __init__(self, vm: X86Vm, bar: GuestBar, routing: X86Routing, requester_id: int):
        self.vm = vm
        self.routing = routing
        self.requester_id = requester_id
        self.driver = GuestImsDriver(bar)
        self.routes: dict[tuple[int, int], Route] = {}

    def hypercall_get_msi(self, vcpu: int, vector: int, *, calling_vcpu: int = 0) -> MsiMsg:
        """The paravirtual interrupt-remapping call: host-valid (address, data) for (vCPU, vector)."""
        self.vm.exits.exit(ExitReason.VMCALL, calling_vcpu, f"get_msi vcpu {vcpu} vector {vector:#x}")
        route = self.routing.route(self.requester_id, vcpu, vector)
        self.routes[(route.host_msg.address, route.host_msg.data)] = route
        return route.host_msg

    def hypercall_free_msi(self, msg: MsiMsg, *, calling_vcpu: int = 0) -> None:
        self.vm.exits.exit(ExitReason.VMCALL, calling_vcpu, "free_msi")
        self.routing.unroute(self.routes.pop((msg.address, msg.data)))

    def setup(self, wq: int, index: int, vcpu: int, vector: int) -> MsiMsg:
        msg = self.hypercall_get_msi(vcpu, vector)
        self.driver.write_message(wq, index, msg)
        self.driver.unmask(wq, index)
        return msg


class TrappedImsDesign:
    """Design (c): the VMM traps and emulates the guest's IMS window."""

    name = "(c) VMM traps IMS pages"

    def __init__(self, vm: X86Vm, bar: GuestBar, routing: X86Routing, wq: int, slots: range | None = None):
        self.vm = vm
        self.emulation = TrappedIms(bar.device, routing, wq, slots)
        self.emulation.install(bar)
        self.driver = GuestImsDriver(bar)

    def setup(self, wq: int, index: int, vcpu: int, vector: int) -> MsiMsg:
        msg = compatibility_msi_message(vcpu, vector)
        self.driver.write_message(wq, index, msg)
        self.driver.unmask(wq, index)
        return msg


__all__ = ["DirectIms", "GuestImsDriver", "HypercallIms", "TrappedImsDesign"]
