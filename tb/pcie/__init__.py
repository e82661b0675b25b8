"""The bench's PCIe link (see each module): tlp (PASID prefix, DMWr), hooks (the one cocotbext-pcie hook),
root_complex (HostRootComplex), shim (LinkShim, the device's hard-IP stand-in), stream (TLP stream drivers).

Kept import-free so that `tb.pcie.tlp` can be used without the simulator-side modules and their
dependencies (root_complex needs tb.platform, hence fw/ on the path)."""
