"""Strong photometric views on device: colour jitter, random grayscale, Gaussian blur.

The recipe is UniMatch's strong view (LiheYoung/UniMatch, dataset/semi.py):
ColorJitter(0.5, 0.5, 0.5, 0.25) with p=0.8, RandomGrayscale p=0.2, Gaussian
blur σ∈[0.1, 2.0] with p=0.5 — see /work/shared/PEERS.md. Grayscale data
(C=1) gets the intensity subset: brightness and contrast jitter and blur.

Images are [0,1] floats [B,H,W,C], before `ctx.standardize`. Each example
draws its own parameters from its own key, so the output is a pure function of
(key, images) and two keys give two different views of the same image.

Departures, and why: brightness is multiplicative as in torchvision
(dm-pix's `adjust_brightness` is additive), the rest use dm-pix, whose
contrast uses per-channel means and whose saturation/hue work in HSV
(TensorFlow semantics) — identical to torchvision for grayscale data; blur
pads by reflection (PIL extends the border; zero padding would darken it).
"""

from __future__ import annotations

import functools

import dm_pix as pix
import jax
import jax.numpy as jnp

COLOR_JITTER = (0.5, 0.5, 0.5, 0.25)  # brightness, contrast, saturation, hue (UniMatch)
P_JITTER = 0.8
P_GRAYSCALE = 0.2
P_BLUR = 0.5
BLUR_SIGMA = (0.1, 2.0)
BLUR_RADIUS = 6  # ceil(3 · σ_max): the kernel spans ±3σ at the largest σ


def strong_photometric(key: jax.Array, images01_bhwc: jax.Array, *, jitter=COLOR_JITTER,
                       p_jitter: float = P_JITTER, p_grayscale: float = P_GRAYSCALE,
                       p_blur: float = P_BLUR, blur_sigma=BLUR_SIGMA) -> jax.Array:
    """A strong photometric view of every image of the batch, each with its own draw."""
    keys = jax.random.split(key, images01_bhwc.shape[0])
    one = functools.partial(_strong_one, jitter=tuple(jitter), p_jitter=p_jitter, p_grayscale=p_grayscale,
                            p_blur=p_blur, blur_sigma=tuple(blur_sigma))
    return jax.vmap(one)(keys, images01_bhwc.astype(jnp.float32))


def _strong_one(key, image_hwc, *, jitter, p_jitter, p_grayscale, p_blur, blur_sigma):
    k_jitter, k_jitter_on, k_gray_on, k_blur, k_blur_on = jax.random.split(key, 5)
    rgb = image_hwc.shape[-1] == 3
    jittered = color_jitter(k_jitter, image_hwc, jitter, rgb=rgb)
    image = jnp.where(jax.random.uniform(k_jitter_on) < p_jitter, jittered, image_hwc)
    if rgb:
        gray = jnp.broadcast_to(pix.rgb_to_grayscale(image, keep_dims=True), image.shape)
        image = jnp.where(jax.random.uniform(k_gray_on) < p_grayscale, gray, image)
    sigma = jax.random.uniform(k_blur, (), minval=blur_sigma[0], maxval=blur_sigma[1])
    image = jnp.where(jax.random.uniform(k_blur_on) < p_blur, gaussian_blur(image, sigma), image)
    return jnp.clip(image, 0.0, 1.0)


def color_jitter(key: jax.Array, image_hwc: jax.Array, strengths, *, rgb: bool) -> jax.Array:
    """torchvision-style ColorJitter on one image: factors drawn from [1-s, 1+s] (hue shift
    from [-s, s]), the ops applied in a random order, clipped to [0,1] after each."""
    brightness, contrast, saturation, hue = strengths
    k_order, k_b, k_c, k_s, k_h = jax.random.split(key, 5)

    def factor(k, s):
        return jax.random.uniform(k, (), minval=max(0.0, 1.0 - s), maxval=1.0 + s)

    f_b, f_c, f_s = factor(k_b, brightness), factor(k_c, contrast), factor(k_s, saturation)
    delta_h = jax.random.uniform(k_h, (), minval=-hue, maxval=hue)
    ops = [lambda x: x * f_b, lambda x: pix.adjust_contrast(x, f_c)]
    if rgb:
        ops += [lambda x: pix.adjust_saturation(x, f_s), lambda x: pix.adjust_hue(x, delta_h)]
    ops = [lambda x, op=op: jnp.clip(op(x), 0.0, 1.0) for op in ops]
    order = jax.random.permutation(k_order, len(ops))
    for i in range(len(ops)):
        image_hwc = jax.lax.switch(order[i], ops, image_hwc)
    return image_hwc


def gaussian_blur(image_hwc: jax.Array, sigma: jax.Array, radius: int = BLUR_RADIUS) -> jax.Array:
    """dm-pix's separable Gaussian blur with a fixed (2·radius+1) kernel, reflect-padded."""
    padded = jnp.pad(image_hwc, ((radius, radius), (radius, radius), (0, 0)), mode="reflect")
    return pix.gaussian_blur(padded, sigma, kernel_size=2 * radius + 1, padding="VALID")
