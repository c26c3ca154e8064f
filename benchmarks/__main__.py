"""``python -m benchmarks``: run every benchmark and print its tables."""
from . import layers, sequence

layers.main([])
print()
sequence.main([])
