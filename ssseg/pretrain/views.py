"""Two augmented views of each image, rendered on device, with their exact geometry.

A view is an axis-aligned box of the source crop (continuous pixel coordinates,
random area and aspect ratio) resampled bilinearly to `size`×`size`, optionally
flipped, then photometrically jittered. Because the map view→source is known
per image (`ViewGeometry`), any view pixel or feature cell has an exact source
position: the dense objective uses it to find corresponding cells of two views.

Resampling is separable (rows then columns), done with two small interpolation
matrices: exact bilinear weights, differentiable, no gather.
"""

from __future__ import annotations

import dataclasses

import flax.struct
import jax
import jax.numpy as jnp

from ssseg.augment.photometric import strong_photometric
from ssseg.data.normalize import to_unit


@flax.struct.dataclass
class ViewGeometry:
    """Per image: box = (y0, x0, h, w) in source pixels; flips as bools."""

    box: jax.Array  # [B, 4] float32
    hflip: jax.Array  # [B] bool
    vflip: jax.Array  # [B] bool
    size: int = flax.struct.field(pytree_node=False)


@dataclasses.dataclass(frozen=True)
class ViewConfig:
    """Read from `config.method` (see `view_defaults`)."""

    size: int
    scale: tuple[float, float]  # box area as a fraction of the source crop
    ratio: tuple[float, float]  # box aspect ratio w/h
    hflip: bool
    vflip: bool
    jitter: tuple[float, float, float, float]  # brightness, contrast, saturation, hue
    p_jitter: float
    p_grayscale: float
    blur_prob: float
    blur_sigma: tuple[float, float]  # in view pixels

    @classmethod
    def from_method_cfg(cls, m, crop_size: int) -> "ViewConfig":
        return cls(
            size=int(m.view_size) or int(crop_size),
            scale=tuple(m.view_scale),
            ratio=tuple(m.view_ratio),
            hflip=bool(m.view_hflip),
            vflip=bool(m.view_vflip),
            jitter=tuple(m.color_jitter),
            p_jitter=float(m.p_jitter),
            p_grayscale=float(m.p_grayscale),
            blur_prob=float(m.blur_prob),
            blur_sigma=tuple(m.blur_sigma),
        )


def sample_geometry(rng, batch: int, src_hw: tuple[int, int], vc: ViewConfig) -> ViewGeometry:
    """Random boxes (RandomResizedCrop-style: area and log-uniform aspect ratio) and flips."""
    k_area, k_ratio, k_y, k_x, k_h, k_v = jax.random.split(rng, 6)
    src_h, src_w = float(src_hw[0]), float(src_hw[1])
    area = jax.random.uniform(k_area, (batch,), minval=vc.scale[0], maxval=vc.scale[1]) * src_h * src_w
    log_ratio = jax.random.uniform(k_ratio, (batch,), minval=jnp.log(vc.ratio[0]), maxval=jnp.log(vc.ratio[1]))
    ratio = jnp.exp(log_ratio)
    h = jnp.clip(jnp.sqrt(area / ratio), 1.0, src_h)
    w = jnp.clip(jnp.sqrt(area * ratio), 1.0, src_w)
    y0 = jax.random.uniform(k_y, (batch,)) * (src_h - h)
    x0 = jax.random.uniform(k_x, (batch,)) * (src_w - w)
    hflip = jax.random.bernoulli(k_h, 0.5, (batch,)) & vc.hflip
    vflip = jax.random.bernoulli(k_v, 0.5, (batch,)) & vc.vflip
    return ViewGeometry(box=jnp.stack([y0, x0, h, w], axis=-1), hflip=hflip, vflip=vflip, size=vc.size)


def _axis_to_source(start, length, flip, positions, size: int):
    """View coordinates (pixel centres at 0..size-1, fractional allowed) -> source coordinates."""
    pos = jnp.where(flip[:, None], (size - 1) - positions[None, :], positions[None, :])
    return start[:, None] + (pos + 0.5) * (length[:, None] / size) - 0.5


def grid_to_source(geom: ViewGeometry, grid_hw: tuple[int, int]) -> jax.Array:
    """Source (y, x) of the centres of a `grid_hw` grid laid over the view: [B, gh*gw, 2].

    A feature map of `grid_hw` cells covers the view evenly, cell (u, v) centred
    at view pixel ((u + 0.5)·size/gh − 0.5, ...)."""
    gh, gw = grid_hw
    s = geom.size
    ys = (jnp.arange(gh, dtype=jnp.float32) + 0.5) * (s / gh) - 0.5
    xs = (jnp.arange(gw, dtype=jnp.float32) + 0.5) * (s / gw) - 0.5
    src_y = _axis_to_source(geom.box[:, 0], geom.box[:, 2], geom.vflip, ys, s)  # [B, gh]
    src_x = _axis_to_source(geom.box[:, 1], geom.box[:, 3], geom.hflip, xs, s)  # [B, gw]
    yy = jnp.broadcast_to(src_y[:, :, None], (src_y.shape[0], gh, gw))
    xx = jnp.broadcast_to(src_x[:, None, :], (src_x.shape[0], gh, gw))
    return jnp.stack([yy, xx], axis=-1).reshape(src_y.shape[0], gh * gw, 2)


def cell_diagonal(geom: ViewGeometry, grid_hw: tuple[int, int]) -> jax.Array:
    """Diagonal of one grid cell in source pixels, per image: [B]."""
    return jnp.sqrt((geom.box[:, 2] / grid_hw[0]) ** 2 + (geom.box[:, 3] / grid_hw[1]) ** 2)


def _interp_matrix(src_positions, src_len: int):
    """[B, n, src_len] bilinear weights (edge-clamped) for sampling at `src_positions` [B, n]."""
    pos = jnp.clip(src_positions, 0.0, src_len - 1.0)
    grid = jnp.arange(src_len, dtype=jnp.float32)
    return jnp.maximum(0.0, 1.0 - jnp.abs(pos[..., None] - grid))


def render(images01, valid, geom: ViewGeometry):
    """Resample [B,H,W,C] images and [B,H,W] valid masks into the views: ([B,S,S,C], [B,S,S])."""
    _, h, w, _ = images01.shape
    s = geom.size
    centres = jnp.arange(s, dtype=jnp.float32)
    rows = _interp_matrix(_axis_to_source(geom.box[:, 0], geom.box[:, 2], geom.vflip, centres, s), h)
    cols = _interp_matrix(_axis_to_source(geom.box[:, 1], geom.box[:, 3], geom.hflip, centres, s), w)
    view = jnp.einsum("bih,bhwc,bjw->bijc", rows, images01, cols)
    view_valid = jnp.einsum("bih,bhw,bjw->bij", rows, valid.astype(jnp.float32), cols) > 0.5
    return view, view_valid


def jitter(rng, views01, vc: ViewConfig):
    """Per-image colour jitter, grayscale and Gaussian blur on [0,1] views (ssseg.augment's strong view)."""
    return strong_photometric(rng, views01, jitter=vc.jitter, p_jitter=vc.p_jitter, p_grayscale=vc.p_grayscale,
                              p_blur=vc.blur_prob, blur_sigma=vc.blur_sigma)


def two_views(rng, images_uint8, valid, vc: ViewConfig):
    """(views01 [2, B, S, S, C], valid [2, B, S, S], (geom_a, geom_b)) from one unlabeled batch."""
    images01 = to_unit(images_uint8)
    batch, h, w, _ = images01.shape
    outs, masks, geoms = [], [], []
    for i in range(2):
        k_geom, k_jit = jax.random.split(jax.random.fold_in(rng, i))
        geom = sample_geometry(k_geom, batch, (h, w), vc)
        view, view_valid = render(images01, valid, geom)
        outs.append(jitter(k_jit, view, vc))
        masks.append(view_valid)
        geoms.append(geom)
    return jnp.stack(outs), jnp.stack(masks), tuple(geoms)


def view_defaults(m) -> None:
    """Add the view keys to a method's ConfigDict `m`.

    Crops: BYOL/PixPro take RandomResizedCrop(scale=(0.08, 1), ratio=(3/4, 4/3))
    of a whole ImageNet image. Here the host already cut a random `crop_size`
    crop at a random scale, and defects are a few pixels wide, so the views are
    milder sub-crops (area 0.35-1 of that crop) that keep defects visible and
    make overlapping views (PixPro's positives) the rule. Photometric: BYOL's
    (Grill et al. 2020, appendix B) colour jitter (0.4, 0.4, 0.2, 0.1) with
    p = 0.8, grayscale p = 0.2 and Gaussian blur with p = 0.5 (the mean of its
    two views' 1.0 and 0.1), sigma scaled from 0.1-2.0 px at 224 px to
    0.1-1.2 px at 128 px; no solarisation. Grayscale images get brightness
    and contrast only (ssseg.augment.photometric)."""
    m.view_size = 0  # 0: the host crop size
    m.view_scale = (0.35, 1.0)
    m.view_ratio = (3 / 4, 4 / 3)
    m.view_hflip = True
    m.view_vflip = False  # True suits top-down imagery (tiles, wafers); off for street scenes
    m.color_jitter = (0.4, 0.4, 0.2, 0.1)
    m.p_jitter = 0.8
    m.p_grayscale = 0.2
    m.blur_prob = 0.5
    m.blur_sigma = (0.1, 1.2)
