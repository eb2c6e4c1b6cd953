"""`ssseg bench`: what a config's train step costs on this machine, and why.

measure.py: XLA's cost and memory analysis of a compiled function, the
machine's f32 matmul peak, median timing, peak host memory.
loader.py: the host input pipeline alone. step.py: the whole train step (or
the network alone, `model_only`) of a config, fed by random or real batches,
as one JSON-ready dict and a readable table.
"""
