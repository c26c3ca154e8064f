"""``tinydl.models``: complete models built only from ``tinydl.nn``."""
from .vae import VAE
