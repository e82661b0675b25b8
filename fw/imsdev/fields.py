"""Checked bit-field packing for every encoder of the firmware kit (and the bench, which imports it).

An encoder that masks a value into its field silently turns a wrong value into another valid one, and
one that does not mask spills it into the neighbouring field. ``put`` does neither: a value that does
not fit raises ``FieldError`` naming the field, its width and the value.
"""
from __future__ import annotations


class FieldError(ValueError):
    """A value does not fit the field it is encoded into."""


def check(name: str, value, width: int, *, align: int = 1) -> int:
    """Return int(value) if it is an integer in [0, 2**width) and a multiple of `align`; else FieldError."""
    if isinstance(value, bool) and width != 1:
        raise FieldError(f"{name}: a boolean given for a {width}-bit field")
    if not isinstance(value, int):
        raise FieldError(f"{name}: {value!r} is not an integer")
    if not 0 <= value < 1 << width:
        raise FieldError(f"{name}: {value:#x} does not fit in {width} bits (0..{(1 << width) - 1:#x})")
    if value % align:
        raise FieldError(f"{name}: {value:#x} is not aligned to {align:#x}")
    return int(value)


def put(name: str, value, width: int, shift: int = 0, *, align: int = 1) -> int:
    """The field `value` of `width` bits placed at bit `shift`, checked (see check())."""
    return check(name, value, width, align=align) << shift


def flag(name: str, value) -> int:
    """A one-bit flag: True/False or 0/1, nothing else."""
    if value not in (0, 1) or not isinstance(value, (bool, int)):
        raise FieldError(f"{name}: {value!r} is not a boolean")
    return int(value)
