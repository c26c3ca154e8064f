"""``python -m benchmarks``: run every benchmark and print its tables."""
from . import layers, overhead, sequence

layers.main([])
print()
sequence.main([])
print()
overhead.main([])
