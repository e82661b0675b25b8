"""Parameters of the RTL build a test runs on, from the build configuration (sim/configs.py).

The simulation flow names the configuration in IMSDEV_CONFIG. Tests compare the device against these
values, so a capability register that reported the wrong number would fail rather than be believed.
"""
from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

_CONFIGS = Path(__file__).resolve().parent.parent / "sim" / "configs.py"


# Once per process: every test's Bench asks, and executing sim/configs.py again cost each test about 14 ms of CPU.
@functools.cache
def _load_configs():
    spec = importlib.util.spec_from_file_location("imsdev_sim_configs", _CONFIGS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.CONFIGS


@dataclass(frozen=True)
class DeviceParams:
    name: str
    num_wq: int
    wq_depth: int
    ims_per_wq: int
    msix_vectors: int
    data_w: int
    max_batch: int
    ats_entries: int = 0

    @classmethod
    def from_env(cls) -> "DeviceParams":
        name = os.environ.get("IMSDEV_CONFIG")
        if not name:
            raise RuntimeError("IMSDEV_CONFIG is not set: run tests through `make sim` (sim/simlib.py sets it)")
        p = _load_configs()[name].params
        return cls(name, p["NUM_WQ"], p["WQ_DEPTH"], p["IMS_PER_WQ"], p["MSIX_VECTORS"], p["DATA_W"],
                   p["MAX_BATCH"], p.get("ATS_ENTRIES", 0))

    @property
    def pri_capacity(self) -> int:
        """Outstanding Page Request Capacity: imsdev_top's PRI_SLOTS (one per DMA side) when it has ATS."""
        return 2 if self.ats_entries > 0 else 0

    def capability_fields(self) -> dict:
        """Values of the capability register fields the RTL drives, keyed (register, field)."""
        return {
            ("CAP0", "NUM_WQ"): self.num_wq,
            ("CAP0", "WQ_DEPTH"): self.wq_depth,
            ("CAP1", "IMS_PER_WQ"): self.ims_per_wq,
            ("CAP2", "MSIX_VECTORS"): self.msix_vectors,
            ("CAP2", "DATA_BYTES"): self.data_w // 8,
            ("CAP2", "MAX_BATCH_SHIFT"): self.max_batch.bit_length() - 1,
            ("CAP3", "ATS"): int(self.ats_entries > 0),
            ("CAP3", "BOF"): int(self.ats_entries > 0),
            ("CAP3", "PRS"): int(self.ats_entries > 0),
            ("CAP3", "PRI_CAPACITY"): self.pri_capacity,
        }
