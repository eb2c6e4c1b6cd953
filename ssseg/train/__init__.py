"""Training: state pytree, pure train step, optimizer, loop, checkpoints."""
