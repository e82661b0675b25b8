"""RTL build configurations of the device (parameter sets of `imsdev_top`).

Each configuration is built once by Verilator and every test that runs on it reuses that build.
`default` looks like real hardware (8 WQs, 2048 IMS entries in total, a full-size MSI-X table);
`small` is the other corner (one WQ, few IMS entries, the 9 MSI-X vectors of a DSA-class device,
a narrower data path) so that nothing works only at one size. `wide` has the 512-bit data path of Gen4/Gen5
x16 hard IPs, where a 64-byte descriptor is a single beat (portal paths that are reachable only there), and
an MSI-X table that just crosses a PBA QWORD (65 vectors). `max` is the register map's upper corner
(16 WQs, 4096 IMS entries, 2048 MSI-X vectors): it shows that no fixed-width field caps a parameter, and
`make bench` / `make synth` measure scaling from small (1 WQ, 16 IMS) through wide and default to it; the
regression runs a subset of the modules on it (sim/testplan.py).
ATS (ATS_ENTRIES > 0: an Address Translation Cache, docs/ats_pri.md) is built into default and small; wide and
max keep ATS_ENTRIES = 0, so the build without any ATS logic is regressed too.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Config:
    name: str
    params: dict = field(default_factory=dict)

    @property
    def num_wq(self) -> int:
        return self.params["NUM_WQ"]

    @property
    def msix_vectors(self) -> int:
        return self.params["MSIX_VECTORS"]

    @property
    def ims_per_wq(self) -> int:
        return self.params["IMS_PER_WQ"]

    @property
    def data_w(self) -> int:
        return self.params["DATA_W"]

    @property
    def max_batch(self) -> int:
        return self.params["MAX_BATCH"]

    @property
    def ats_entries(self) -> int:
        """Address Translation Cache entries (0 = no ATS logic, CAP3.ATS = 0)."""
        return self.params["ATS_ENTRIES"]


CONFIGS = {
    c.name: c
    for c in (
        Config("default", dict(NUM_WQ=8, WQ_DEPTH=32, IMS_PER_WQ=256, MSIX_VECTORS=2048, DATA_W=256, MAX_BATCH=1024,
                                ATS_ENTRIES=8)),
        Config("small", dict(NUM_WQ=1, WQ_DEPTH=4, IMS_PER_WQ=16, MSIX_VECTORS=9, DATA_W=128, MAX_BATCH=8,
                              ATS_ENTRIES=8)),
        Config("wide", dict(NUM_WQ=4, WQ_DEPTH=16, IMS_PER_WQ=64, MSIX_VECTORS=65, DATA_W=512, MAX_BATCH=32,
                             ATS_ENTRIES=0)),
        Config("max", dict(NUM_WQ=16, WQ_DEPTH=32, IMS_PER_WQ=256, MSIX_VECTORS=2048, DATA_W=256, MAX_BATCH=1024,
                            ATS_ENTRIES=0)),
    )
}
