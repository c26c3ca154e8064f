"""``python -m benchmarks``: run every benchmark and print its tables."""
from . import layers, overhead, sequence, training

layers.main([])
print()
sequence.main([])
print()
training.main([])
print()
overhead.main([])
