"""On-device augmentations for the strong views of semi-supervised methods.

They run inside the jitted train step, per example, from the step key, so a
step is a pure function of (state, batch, key): `photometric` (colour jitter,
grayscale, blur on [0,1] images), `cutmix` (boxes pasted from a partner
image of the same batch, identically into images and per-pixel targets) and
`copy_paste` (labeled rare-class pixels, with their labels, pasted onto other
images).
"""
