"""Host memory as the platform models see it, and the byte/register helpers they share.

Every model (VT-d remapping, GIC ITS and redistributors, SMMU) reaches host memory only through an
object with two synchronous methods, ``read(addr, length) -> bytes`` and ``write(addr, data)``. In unit
tests that object is :class:`SparseMemory`; in the cocotb bench it is an adapter over the root
complex's host memory. An adapter must raise :class:`MemoryAccessError` for an address it cannot serve,
because that is how the models tell a table read error (VT-d fault 0x23, a stalled ITS) from data.

All table and register layouts in the facts (VT-d IRTE, ITS commands, MSI-X) are little-endian, hence
:func:`read_le` / :func:`write_le`. :class:`RegisterFile` gives every model the same register access
rules: each register has a natural width (4 or 8 bytes), and a 4-byte access may target either half of
an 8-byte register, as Linux does with ``readl``/``writel`` on 64-bit ITS and VT-d registers.
"""

from __future__ import annotations

from typing import Protocol


class MemoryAccessError(Exception):
    """The address cannot be read or written (outside memory, or an injected error range)."""


class HostMemory(Protocol):
    def read(self, addr: int, length: int) -> bytes: ...

    def write(self, addr: int, data: bytes) -> None: ...


class SparseMemory:
    """Byte-addressable memory that stores only the pages written; unwritten bytes read as 0.

    ``size`` bounds the address space (None: unbounded 64-bit). Error ranges let a test make part of
    memory fail, to provoke the models' table-read-error paths.
    """

    PAGE_SIZE = 4096

    def __init__(self, size: int | None = None):
        self.size = size
        self._pages: dict[int, bytearray] = {}
        self._error_ranges: list[tuple[int, int]] = []

    def add_error_range(self, start: int, length: int) -> None:
        self._error_ranges.append((start, start + length))

    def clear_error_ranges(self) -> None:
        self._error_ranges.clear()

    def _check(self, addr: int, length: int) -> None:
        end = addr + length
        if addr < 0 or length < 0 or end > (self.size if self.size is not None else 1 << 64):
            raise MemoryAccessError(f"access [{addr:#x}, {end:#x}) outside memory")
        for start, stop in self._error_ranges:
            if addr < stop and start < end:
                raise MemoryAccessError(f"access [{addr:#x}, {end:#x}) hits error range "
                                        f"[{start:#x}, {stop:#x})")

    def read(self, addr: int, length: int) -> bytes:
        self._check(addr, length)
        out = bytearray()
        while length:
            page, offset = divmod(addr, self.PAGE_SIZE)
            chunk = min(length, self.PAGE_SIZE - offset)
            stored = self._pages.get(page)
            out += stored[offset:offset + chunk] if stored is not None else bytes(chunk)
            addr += chunk
            length -= chunk
        return bytes(out)

    def write(self, addr: int, data: bytes) -> None:
        self._check(addr, len(data))
        view = memoryview(bytes(data))
        while view:
            page, offset = divmod(addr, self.PAGE_SIZE)
            chunk = min(len(view), self.PAGE_SIZE - offset)
            stored = self._pages.setdefault(page, bytearray(self.PAGE_SIZE))
            stored[offset:offset + chunk] = view[:chunk]
            addr += chunk
            view = view[chunk:]


def read_le(memory: HostMemory, addr: int, size: int) -> int:
    return int.from_bytes(memory.read(addr, size), "little")


def write_le(memory: HostMemory, addr: int, value: int, size: int) -> None:
    memory.write(addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))


def bit_field(value: int, high: int, low: int) -> int:
    """Bits [high:low] of value, as the facts write them."""
    return (value >> low) & ((1 << (high - low + 1)) - 1)


def bit_mask(high: int, low: int) -> int:
    return ((1 << (high - low + 1)) - 1) << low


class RegisterFile:
    """Register access rules shared by the models' MMIO frames.

    A subclass lists its registers in ``REGISTER_WIDTHS`` (offset -> 4 or 8) and implements
    ``_read_register(offset)`` and ``_write_register(offset, value, written_mask)``. ``written_mask``
    has ones for the bits the access actually wrote, so write-1-to-clear bits in the other half of a
    64-bit register are not cleared by a 4-byte write. Unlisted offsets read as zero and ignore writes
    (RAZ/WI), like reserved register space.
    """

    REGISTER_WIDTHS: dict[int, int] = {}

    def _register_width(self, offset: int) -> int | None:
        return self.REGISTER_WIDTHS.get(offset)

    def _locate(self, offset: int, size: int | None) -> tuple[int, int, int] | None:
        width = self._register_width(offset)
        if width is not None:
            base = offset
        elif self._register_width(offset - 4) == 8:
            base, width = offset - 4, 8
        else:
            return None
        size = width if size is None else size
        if size not in (4, 8) or offset - base + size > width:
            raise ValueError(f"{type(self).__name__}: {size}-byte access at {offset:#x} "
                             f"does not fit the {width}-byte register at {base:#x}")
        return base, (offset - base) * 8, size

    def read_reg(self, offset: int, size: int | None = None) -> int:
        located = self._locate(offset, size)
        if located is None:
            return 0
        base, shift, size = located
        return (self._read_register(base) >> shift) & ((1 << (8 * size)) - 1)

    def write_reg(self, offset: int, value: int, size: int | None = None) -> None:
        located = self._locate(offset, size)
        if located is None:
            return
        base, shift, size = located
        written_mask = ((1 << (8 * size)) - 1) << shift
        merged = (self._read_register(base) & ~written_mask) | ((value << shift) & written_mask)
        self._write_register(base, merged, written_mask)

    def _read_register(self, offset: int) -> int:
        raise NotImplementedError

    def _write_register(self, offset: int, value: int, written_mask: int) -> None:
        raise NotImplementedError
