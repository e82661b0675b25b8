"""The bench's PCIe link: PASID/DMWr TLPs, the cocotbext-pcie hook, root complex, device shim, streams."""
from .tlp import RRS, CompletionTimeout, PasidTlp, ProtocolError, StreamFields, TlpFormatError
from .root_complex import HostRootComplex, UpstreamRecord
from .shim import LinkShim
from .stream import TlpStreamSink, TlpStreamSource, pattern_pauses, random_pauses

__all__ = [
    "RRS", "CompletionTimeout", "PasidTlp", "ProtocolError", "StreamFields", "TlpFormatError",
    "HostRootComplex", "UpstreamRecord", "LinkShim",
    "TlpStreamSink", "TlpStreamSource", "pattern_pauses", "random_pauses",
]
