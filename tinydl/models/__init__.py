"""``tinydl.models``: complete models built only from ``tinydl.nn``."""
from .policy import PolicyNetwork
from .vae import VAE
