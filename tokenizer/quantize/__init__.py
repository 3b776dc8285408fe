"""Quantizers, one module each, one return convention: ``Quantized(quantized, indices, loss)``.

indices are [B, G, h, w]: G = 2 for VQCT's dual quantizer (adjective ids, noun ids), 0 for the
continuous reference (no quantizer), else 1.
"""

from .clustered import ClusteredVectorQuantizer
from .dual import DualQuantizer
from .gumbel import GumbelQuantizer
from .identity import PassThrough
from .library import LIBRARY_KINDS, LibraryQuantizer
from .nearest import nearest_code
from .regularized import RegularizedQuantizer
from .single import SingleQuantizer
from .split import SplitVectorQuantizer
from .vector import LearnedVectorQuantizer, Quantized

__all__ = [
    "ClusteredVectorQuantizer",
    "DualQuantizer",
    "GumbelQuantizer",
    "LIBRARY_KINDS",
    "LearnedVectorQuantizer",
    "LibraryQuantizer",
    "PassThrough",
    "RegularizedQuantizer",
    "Quantized",
    "SingleQuantizer",
    "SplitVectorQuantizer",
    "nearest_code",
]
