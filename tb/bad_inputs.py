"""Rows of docs/bad_inputs.md: an input the device, a bench model or the firmware kit must refuse (or treat in
a defined way), the outcome a test observes, and that test.

A test module declares its rows once, at module level, after its tests:

    from tb.bad_inputs import BadInput

    BAD_INPUTS = (
        BadInput(cls="portal", input="DMWr of 32 B to a shared WQ",
                 outcome="CA; SWERR PORTAL_SIZE (WQ, PASID, BAR2 offset)", test="test_shared_portal"),
    )

`test` names a test function of the same module: an `async def` decorated with `cocotb.test` in a cocotb
module, a `def test_...` in a pytest module. `outcome` states what that test asserts, and nothing it does not
(completion status, SWERR/ERR code name, record status with its uapi name, exception class and message...).

`sim/run.py bad-inputs` (`make regen`) reads the rows without importing the test modules (an AST parse: every
field must be a plain string literal), checks them and writes docs/bad_inputs.md; `make check-regen` fails
when the document is stale. Kept free of imports so that any module, cocotb or not, can use it.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

# The input classes, in the document's order: name -> title.
CLASSES = {
    "portal": "Portal requests (BAR2): ENQCMD/DMWr, MOVDIR64B/MWr and reads of every size, alignment and type",
    "descriptor": "Descriptor fields, completion records and DMA commands",
    "pasid": "PASID and privilege combinations",
    "register": "BAR0 register accesses: widths, alignment, poisoned, reserved offsets and bits",
    "interrupt": "MSI-X table/PBA and IMS entry accesses, interrupt handles",
    "command": "Commands (CMD/CMDSTS) and WQ configuration",
    "config": "Configuration space: BARs, Memory Space / Bus Master Enable, MPS/MRRS, FLR",
    "tlp": "Malformed TLPs and link protocol (decoder, link shim, root complex)",
    "completion": "Completions for the device's reads: error, unexpected, late, duplicate, timeout",
    "platform": "Host platform faults: VT-d interrupt remapping, SMMU MSI window, GICv3 ITS",
    "encoder": "Strict encoders and codecs, driver argument and error handling (fw/, tb/)",
}


@dataclass(frozen=True)
class BadInput:
    """One row: input class (a key of CLASSES), the input, its observable outcome, the checking test."""
    cls: str
    input: str
    outcome: str
    test: str

    def __post_init__(self):
        if self.cls not in CLASSES:
            raise ValueError(f"BadInput class {self.cls!r} is not one of {', '.join(CLASSES)}")
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"BadInput {f.name} must be a non-empty string, got {value!r}")
