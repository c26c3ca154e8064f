"""``python -m benchmarks``: run every benchmark and print its table."""
from . import layers

layers.main()
