"""VT-d posted interrupts, kernel side: the posted-interrupt descriptor and the posted-format IRTE.

Formats (the bench's hardware model, tb/platform/vtd_posted.py, imports them from here, so the layout
is written down once):

* **Posted-interrupt descriptor** (Linux arch/x86/include/asm/posted_intr.h ``struct pi_desc``; VT-d
  spec 9.11), 64 bytes, 64-byte aligned, in host memory:

  ==========  ==================================================================
  bits        field
  ==========  ==================================================================
  255:0       PIR: one bit per vector (u32 pir[8] / u64 pir64[4], little-endian)
  256         ON, outstanding notification (``POSTED_INTR_ON`` = bit 0 of ``control``)
  257         SN, suppress notification (``POSTED_INTR_SN`` = bit 1 of ``control``)
  279:272     NV, notification vector
  319:288     NDST, notification destination: x2APIC ID, or in xAPIC mode the APIC ID in
              bits 15:8 (KVM vmx_vcpu_pi_load: ``(dest << 8) & 0xFF00``)
  511:320     reserved
  ==========  ==================================================================

  ``control`` is the 64-bit word at byte offset 32 (bits 319:256).

* **Posted-format IRTE** (Linux include/linux/dmar.h ``struct irte``, posted-mode members): P b0,
  FPD b1, reserved 7:2, avail 11:8, reserved 13:12, URG b14, IM/PST b15 = 1, vector 23:16 (the
  *virtual* vector posted into PIR, KVM's ``vcpu_info.vector = irq.vector``; the notification
  vector comes from the descriptor's NV), reserved 37:24, PDA[31:6] at 63:38 (``pda_l``,
  ``PDA_LOW_BIT`` 26); SID 79:64, SQ 81:80, SVT 83:82, reserved 95:84, PDA[63:32] at 127:96
  (``pda_h``, ``PDA_HIGH_BIT`` 32).

* **Capability**: CAP_REG bit 59 (Linux iommu.h ``cap_pi_support``), not ECAP.

The kernel code here follows Linux intel_ir_set_vcpu_affinity (drivers/iommu/intel/irq_remapping.c):
a posted IRTE copies the shared fields (P, FPD, avail, SID/SQ/SVT) of the interrupt's remapped IRTE
and sets IM=1, URG=0, the guest vector and the descriptor address; it is written as one 16-byte
store (Linux uses cmpxchg16b for IRTEs that are or become posted) and invalidated in the IEC.
Passing no vCPU restores the remapped IRTE. KVM's vector numbers: POSTED_INTR_VECTOR 0xF2 and
POSTED_INTR_WAKEUP_VECTOR 0xF1 (arch/x86/include/asm/irq_vectors.h).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..fields import FieldError, check, flag, put
from .msi import HostMemory, Irq
from .x86_ir import VtdIrqDomain, encode_irte

DMAR_CAP_REG = 0x08
CAP_PI_SUPPORT = 1 << 59

POSTED_INTR_VECTOR = 0xF2
POSTED_INTR_WAKEUP_VECTOR = 0xF1

PI_DESC_BYTES = 64
PI_DESC_ALIGN = 64
PI_CONTROL_OFFSET = 32         # byte offset of the control word (descriptor bits 319:256)
POSTED_INTR_ON = 0             # bit numbers in the control word
POSTED_INTR_SN = 1
PI_NV_SHIFT = 16
PI_NDST_SHIFT = 32
PIR_BITS = 256

IRTE_URGENT = 1 << 14
IRTE_PST = 1 << 15
PDA_LOW_BIT = 26
PDA_HIGH_BIT = 32
# Bits of a posted-format IRTE that must be zero (struct irte p_res0..p_res3).
POSTED_IRTE_RESERVED_LOW = (0x3F << 2) | (0b11 << 12) | (((1 << 14) - 1) << 24)
POSTED_IRTE_RESERVED_HIGH = ((1 << 12) - 1) << 20


def ndst_for_apic_id(apic_id: int, x2apic: bool) -> int:
    """The NDST value for a physical APIC ID: the 32-bit x2APIC ID, or the xAPIC ID in bits 15:8."""
    if x2apic:
        return check("PID NDST (x2APIC ID)", apic_id, 32)
    return put("PID NDST (xAPIC ID)", apic_id, 8, 8)


def apic_id_from_ndst(ndst: int, x2apic: bool) -> int:
    return ndst if x2apic else (ndst >> 8) & 0xFF


@dataclass(frozen=True)
class PiControl:
    """The descriptor's control word (bits 319:256) decoded."""

    on: bool
    sn: bool
    nv: int
    ndst: int

    def pack(self) -> int:
        return (flag("PID ON", self.on) << POSTED_INTR_ON | flag("PID SN", self.sn) << POSTED_INTR_SN
                | put("PID NV", self.nv, 8, PI_NV_SHIFT) | put("PID NDST", self.ndst, 32, PI_NDST_SHIFT))

    @classmethod
    def unpack(cls, word: int) -> "PiControl":
        return cls(bool(word >> POSTED_INTR_ON & 1), bool(word >> POSTED_INTR_SN & 1),
                   word >> PI_NV_SHIFT & 0xFF, word >> PI_NDST_SHIFT & 0xFFFF_FFFF)


class PiDesc:
    """One posted-interrupt descriptor in host memory, with the accessors of posted_intr.h.

    Real hardware and KVM change it with locked bit operations; the models are synchronous, so a
    read-modify-write here is atomic with respect to the IOMMU model's posting.
    """

    def __init__(self, memory: HostMemory, addr: int):
        self.memory = memory
        self.addr = check("PID address", addr, 64, align=PI_DESC_ALIGN)

    # raw words
    def _read(self, offset: int, size: int) -> int:
        return int.from_bytes(self.memory.read(self.addr + offset, size), "little")

    def _write(self, offset: int, value: int, size: int) -> None:
        self.memory.write(self.addr + offset, value.to_bytes(size, "little"))

    @property
    def pir(self) -> int:
        """The 256-bit PIR as an integer: bit v = vector v requested."""
        return self._read(0, PIR_BITS // 8)

    @property
    def control(self) -> PiControl:
        return PiControl.unpack(self._read(PI_CONTROL_OFFSET, 8))

    def set_control(self, control: PiControl) -> None:
        self._write(PI_CONTROL_OFFSET, control.pack(), 8)

    def init(self, *, nv: int, ndst: int, sn: bool = False) -> None:
        """Zero the descriptor and set NV/NDST (KVM vmx_vcpu_reset / vmx_vcpu_pi_load)."""
        self.memory.write(self.addr, bytes(PI_DESC_BYTES))
        self.set_control(PiControl(False, sn, nv, ndst))

    # posted_intr.h helpers
    def _update(self, **changes) -> PiControl:
        old = self.control
        new = PiControl(**{**old.__dict__, **changes})
        self.set_control(new)
        return old

    def test_on(self) -> bool:
        return self.control.on

    def test_sn(self) -> bool:
        return self.control.sn

    def set_on(self) -> None:
        self._update(on=True)

    def clear_on(self) -> None:
        self._update(on=False)

    def test_and_set_on(self) -> bool:
        return self._update(on=True).on

    def set_sn(self) -> None:
        self._update(sn=True)

    def clear_sn(self) -> None:
        self._update(sn=False)

    def set_nv(self, nv: int) -> None:
        self._update(nv=check("PID NV", nv, 8))

    def set_ndst(self, ndst: int) -> None:
        self._update(ndst=check("PID NDST", ndst, 32))

    def test_and_set_pir(self, vector: int) -> bool:
        """Set PIR bit ``vector``; returns whether it was already set."""
        check("PIR vector", vector, 8)
        byte_offset, bit = divmod(vector, 8)
        old = self._read(byte_offset, 1)
        self._write(byte_offset, old | 1 << bit, 1)
        return bool(old >> bit & 1)

    def is_pir_empty(self) -> bool:
        return self.pir == 0

    def take_pir(self) -> list[int]:
        """Atomically fetch and clear PIR (KVM's xchg of each pir64 word in kvm_apic_update_irr):
        returns the vectors that were set, lowest first."""
        pir = self.pir
        self._write(0, 0, PIR_BITS // 8)
        return [v for v in range(PIR_BITS) if pir >> v & 1]


@dataclass(frozen=True)
class PostedIrte:
    """A posted-format IRTE decoded (struct irte, posted-mode members)."""

    present: bool
    fpd: bool
    urgent: bool
    vector: int
    pi_desc_addr: int
    source_id: int
    source_qualifier: int
    source_validation: int
    reserved: bool  # any of p_res0..p_res3 set

    @classmethod
    def decode(cls, low: int, high: int) -> "PostedIrte":
        if not low & IRTE_PST:
            raise ValueError(f"IRTE {high:#x}_{low:016x} is not in posted format (IM=0)")
        pda = ((low >> 38) & ((1 << PDA_LOW_BIT) - 1)) << 6 | (high >> 32) << 32
        return cls(bool(low & 1), bool(low >> 1 & 1), bool(low & IRTE_URGENT), low >> 16 & 0xFF,
                   pda, high & 0xFFFF, high >> 16 & 0b11, high >> 18 & 0b11,
                   bool(low & POSTED_IRTE_RESERVED_LOW or high & POSTED_IRTE_RESERVED_HIGH))


def encode_posted_irte(vector: int, pi_desc_addr: int, source_id: int, *, urgent: bool = False,
                       fpd: bool = False, svt: int = 1, sq: int = 0, avail: int = 0) -> tuple[int, int]:
    """(low, high) of a posted-format IRTE; every field checked (FieldError). SVT=1/SQ=0 verifies
    the full requester ID, as Linux's set_msi_sid does for the remapped entry it copies."""
    check("PID address", pi_desc_addr, 64, align=PI_DESC_ALIGN)
    if svt not in (0, 1, 2):
        raise FieldError(f"posted IRTE SVT: {svt} is reserved (0, 1 or 2)")
    low = (1 | flag("posted IRTE FPD", fpd) << 1 | put("posted IRTE avail", avail, 4, 8)
           | flag("posted IRTE URG", urgent) << 14 | IRTE_PST | put("posted IRTE vector", vector, 8, 16)
           | ((pi_desc_addr >> (32 - PDA_LOW_BIT)) & ((1 << PDA_LOW_BIT) - 1)) << 38)
    high = (put("posted IRTE source-id", source_id, 16) | put("posted IRTE SQ", sq, 2, 16)
            | svt << 18 | (pi_desc_addr >> 32) << 32)
    return low, high


@dataclass(frozen=True)
class VcpuPiData:
    """What KVM passes to irq_set_vcpu_affinity (struct intel_iommu_pi_data / vcpu_data): the
    descriptor's host-physical address and the guest vector to post."""

    pi_desc_addr: int
    vector: int


def posting_capable(domain: VtdIrqDomain) -> bool:
    """irq_remapping_cap(IRQ_POSTING_CAP): CAP.PI of the unit."""
    return bool(domain.regs.read_reg(DMAR_CAP_REG) & CAP_PI_SUPPORT)


def intel_ir_set_vcpu_affinity(domain: VtdIrqDomain, irq: Irq, pi_data: VcpuPiData | None) -> None:
    """Post ``irq`` to a vCPU (pi_data) or return it to remapped delivery (None), rewriting only its
    IRTE: the device's message stays the same, as for set_affinity."""
    if not irq.active:
        raise ValueError("set_vcpu_affinity on a freed interrupt")
    remapped = encode_irte(irq.vector, irq.target, irq.requester_id, domain.x2apic)
    if pi_data is None:
        domain.modify_irte(irq.index, *remapped)
        return
    if not posting_capable(domain):
        raise RuntimeError("IOMMU lacks posted interrupts (CAP.PI=0)")
    shared_low, shared_high = remapped
    low, high = encode_posted_irte(pi_data.vector, pi_data.pi_desc_addr, shared_high & 0xFFFF,
                                   fpd=bool(shared_low >> 1 & 1), avail=shared_low >> 8 & 0xF,
                                   svt=shared_high >> 18 & 0b11, sq=shared_high >> 16 & 0b11)
    domain.modify_irte(irq.index, low, high)


__all__ = ["CAP_PI_SUPPORT", "PI_DESC_ALIGN", "PI_DESC_BYTES", "POSTED_INTR_VECTOR",
           "POSTED_INTR_WAKEUP_VECTOR", "PiControl", "PiDesc", "PostedIrte", "VcpuPiData",
           "apic_id_from_ndst", "encode_posted_irte", "intel_ir_set_vcpu_affinity",
           "ndst_for_apic_id", "posting_capable"]
