"""Testplan: which cocotb test module checks which feature, on which configurations and platforms.

`make sim` runs every entry on every configuration and platform it names. Add a module here when you
add one under tb/tests/; docs/testplan.md is written from this list by sim/run.py.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    module: str
    configs: tuple
    features: tuple
    platforms: tuple = (None,)


BOTH = ("default", "small")

TESTPLAN = (
    Entry("tb.tests.link.test_enumeration", BOTH, (
        "enumeration through the root complex: IDs, BAR sizing, capability walk (PCIe, MSI-X, PASID)",
    )),
    Entry("tb.tests.regs.test_registers", BOTH, (
        "every CSR: reset value, access type (RO/RW/W1C/W1S), reserved bits",
        "unmapped BAR0 offsets read 0; bad sizes answered with CA / dropped and logged",
        "QWORD and DWORD access; read-after-posted-write ordering",
    )),
    Entry("tb.tests.msix.test_msix", BOTH, (
        "MSI-X table/PBA reset values (also after FLR following use)",
        "vectors 0, 1, 31, 32, 63, 64, 100, last: alone and all together",
        "function mask, enable=0 pends, per-vector mask/pending/replay exactly once",
        "a masked pending vector never delays the replay of an unmasked one",
        "3DW and 4DW message writes; idle/backpressure on every stream",
    )),
    Entry("tb.tests.platform.test_platform_interrupts", BOTH, (
        "MSI-X vectors 0, 1, 31, 32, 63, 64, 100, last end to end through the platform: irq-domain allocation, "
        "Linux-order programming, each delivered exactly once to the expected (CPU, vector) / (redistributor, LPI)",
        "masked + pending + unmask replay through the platform (also after an affinity change while masked)",
        "affinity change under traffic: old target before, new after, no loss/duplicate, MSI-X entry unchanged",
        "x86 faults with the device's SID: IRTE of another requester (0x26), IRTE not present (0x22), "
        "compatibility format blocked (0x25)",
        "ARM drops recorded: unmapped and out-of-range EventID, DISCARD (also of a pending LPI), "
        "IOVA the SMMU has not mapped (SMMU translation fault)",
        "interrupt scoreboard: lost/duplicate/misrouted/spurious/stray all zero, every fault expected",
    ), platforms=("x86", "arm")),
)
