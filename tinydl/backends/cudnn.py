"""torch.backends.cudnn's switches; tinydl has no cuDNN, so they are recorded and change nothing."""
enabled = True  # PyTorch's defaults
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    return False


def version():
    return None
