"""The comparison of the three IMS designs (issue 10 item 3), measured on the models and written as the
markdown table in docs/vmm.md (``python -m tb.vmm.report`` prints it; tests/unit/test_vmm_ims.py checks
that the document holds exactly this output).

Scenario, per design and per x86 delivery mode (posted, remapped), one device (one requester ID) shared
by two guests: guest A owns work queue 0's IMS window, guest B work queue 1's; each guest has two vCPUs
running on their own physical CPUs.

1. setup: guest A sets up IMS slot (WQ0, 0) for vector 0x41 on its vCPU 1 (exits counted);
2. interrupt: the device fires the slot once (exits counted; correct = exactly one 0x41 at A's vCPU 1,
   nothing anywhere else);
3. mask and unmask (their exits counted), then mask, fire while masked (nothing may arrive) and unmask
   (the pending interrupt must arrive, once);
4. forgery: guest B copies what is in A's physical slot (the message A's design put there, which B could
   also guess) into its own slot (WQ1, 0) and fires it: "isolated" when nothing reaches guest A.

ARM (:func:`measure_arm`, tb/vmm/ims_arm.py), the same four steps on an ARM host (GICv3 ITS behind the SMMU's
MSI window, no host driver mapping the device): each guest has a virtual ITS on which its kernel maps the
device under virtual DeviceID 0x10 (both guests use the same virtual ID: it is per VM); before step 1 guest A's
kernel allocates its interrupt on its vITS (EventID 0, vCPU 0; those GITS exits are the same in every design
and not counted). Delivery "vITS" is KVM's plain vgic-its (the VMM backs a guest interrupt with a host event
of its own and injects), "shadowing vITS" mirrors each guest MAPTI onto the physical DeviceID with the same
EventID (tb/vmm/vits.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from imsdev.platform import MsiMsg

from ..platform import ArmPlatform
from .device import InterruptStorageDevice
from .host import X86Host, X86Routing, X86Vm
from .ims import DirectIms, GuestImsDriver, HypercallIms, TrappedImsDesign
from .ims_arm import ArmVm, arm_design
from .trap import GuestBar

RID = 0x0300
VECTOR, VCPU = 0x41, 1
DESIGNS = ("a", "b", "c")
VIRTUAL_DEVICE_ID = 0x10
ARM_CASES = (("a", False), ("a", True), ("b", False), ("c", False))     # (design, shadowing vITS)


@dataclass(frozen=True)
class DesignResult:
    design: str
    mode: str
    delivered: bool
    faults: tuple[str, ...]
    isolated: bool
    exits_setup: dict
    exits_mask_unmask: dict
    exits_interrupt: dict
    platform: str = "x86"


def _design(key: str, vm: X86Vm, bar: GuestBar, routing: X86Routing, wq: int):
    if key == "a":
        return DirectIms(vm, bar)
    if key == "b":
        return HypercallIms(vm, bar, routing, RID)
    return TrappedImsDesign(vm, bar, routing, wq)


def measure(key: str, posted: bool) -> DesignResult:
    host = X86Host()
    vms = [X86Vm(host, name, vcpus=2) for name in ("A", "B")]
    for n, vcpu in enumerate(vcpu for vm in vms for vcpu in vm.vcpus):
        vcpu.load(n)
    device = InterruptStorageDevice(RID, host.handle_write, num_wq=2)
    bars = [GuestBar(device, vm.exits) for vm in vms]
    designs = [_design(key, vm, bar, X86Routing(host, vm, posted=posted), wq)
               for wq, (vm, bar) in enumerate(zip(vms, bars))]
    a, b = vms
    target = a.vcpus[VCPU]

    def others_quiet() -> bool:
        return all(not v.received for vm in vms for v in vm.vcpus if v is not target)

    mark = a.exits.mark()
    designs[0].setup(0, 0, VCPU, VECTOR)
    exits_setup = a.exits.since(mark)

    mark = a.exits.mark()
    device.fire_ims(0, 0)
    exits_interrupt = a.exits.since(mark)
    delivered = target.counts == Counter({VECTOR: 1}) and others_quiet()

    driver = GuestImsDriver(bars[0])
    mark = a.exits.mark()
    driver.mask(0, 0)
    driver.unmask(0, 0)
    exits_mask_unmask = a.exits.since(mark)
    driver.mask(0, 0)
    device.fire_ims(0, 0)
    quiet_while_masked = target.count(VECTOR) == (1 if delivered else 0)
    driver.unmask(0, 0)                      # the pending interrupt is sent now, once
    delivered = delivered and quiet_while_masked and target.counts == Counter({VECTOR: 2}) \
        and others_quiet()

    before = target.count(VECTOR)
    slot = device.ims[0][0]
    GuestImsDriver(bars[1]).write_message(1, 0, MsiMsg(slot.address_lo, slot.address_hi, slot.data))
    GuestImsDriver(bars[1]).unmask(1, 0)
    device.fire_ims(1, 0)
    isolated = target.count(VECTOR) == before

    faults = tuple(f"{int(f.reason):#04x} {f.reason.name}" for f in host.faults)
    return DesignResult(designs[0].name, "posted" if posted else "remapped", delivered,
                        tuple(dict.fromkeys(faults)), isolated, dict(exits_setup),
                        dict(exits_mask_unmask), dict(exits_interrupt))


def _arm_fault_name(fault) -> str:
    """An ITS error's reason (ItsErrorReason name) or an SMMU MSI-window event's reason string."""
    return getattr(fault.reason, "name", fault.reason)


def measure_arm(key: str, shadow: bool) -> DesignResult:
    """The scenario of the module doc on an ARM host; ``shadow``: the guests' vITSes mirror their MAPTIs."""
    host = ArmPlatform()
    vms = [ArmVm(host, name, requester_id=RID, virtual_device_id=VIRTUAL_DEVICE_ID, shadow=shadow)
           for name in ("A", "B")]
    device = InterruptStorageDevice(RID, host.handle_write, num_wq=2)
    bars = [GuestBar(device, vm.exits) for vm in vms]
    designs = [arm_design(key, vm, bar, RID, wq) for wq, (vm, bar) in enumerate(zip(vms, bars))]
    a, b = vms
    irq = a.guest_event()

    def others_quiet() -> bool:
        return not b.cpus.deliveries and all(d.key == irq.expected for d in a.cpus.deliveries)

    mark = a.exits.mark()
    designs[0].setup(0, 0, irq)
    exits_setup = a.exits.since(mark)

    mark = a.exits.mark()
    device.fire_ims(0, 0)
    exits_interrupt = a.exits.since(mark)
    delivered = a.received(irq) == 1 and others_quiet()

    driver = GuestImsDriver(bars[0])
    mark = a.exits.mark()
    driver.mask(0, 0)
    driver.unmask(0, 0)
    exits_mask_unmask = a.exits.since(mark)
    driver.mask(0, 0)
    device.fire_ims(0, 0)
    quiet_while_masked = a.received(irq) == (1 if delivered else 0)
    driver.unmask(0, 0)
    delivered = delivered and quiet_while_masked and a.received(irq) == 2 and others_quiet()

    before = a.received(irq)
    slot = device.ims[0][0]
    GuestImsDriver(bars[1]).write_message(1, 0, MsiMsg(slot.address_lo, slot.address_hi, slot.data))
    GuestImsDriver(bars[1]).unmask(1, 0)
    device.fire_ims(1, 0)
    isolated = a.received(irq) == before

    faults = tuple(_arm_fault_name(f) for f in host.faults)
    return DesignResult(designs[0].name, "shadowing vITS" if shadow else "vITS", delivered,
                        tuple(dict.fromkeys(faults)), isolated, dict(exits_setup), dict(exits_mask_unmask),
                        dict(exits_interrupt), platform="ARM")


def _exits(counts: dict) -> str:
    if not counts:
        return "0"
    return ", ".join(f"{n} {reason.name}" for reason, n in sorted(counts.items()))


def results() -> list[DesignResult]:
    return [measure(key, posted) for key in DESIGNS for posted in (True, False)] + \
        [measure_arm(key, shadow) for key, shadow in ARM_CASES]


def table() -> str:
    lines = ["| design | platform | delivery | guest interrupt arrives (exactly once, also after mask/unmask) "
             "| host faults | guest B's copy of A's message reaches A | exits per setup "
             "| exits per mask + unmask | exits per interrupt |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results():
        lines.append(f"| {r.design} | {r.platform} | {r.mode} | {'yes' if r.delivered else 'no'} "
                     f"| {'; '.join(r.faults) or 'none'} | {'no' if r.isolated else 'YES'} "
                     f"| {_exits(r.exits_setup)} | {_exits(r.exits_mask_unmask)} "
                     f"| {_exits(r.exits_interrupt)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    print(table(), end="")


if __name__ == "__main__":
    main()

__all__ = ["ARM_CASES", "DesignResult", "measure", "measure_arm", "results", "table"]
