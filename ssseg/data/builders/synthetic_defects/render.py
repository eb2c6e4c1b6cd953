"""Procedural surface-defect images: textured grey surfaces with thin scratches, pits and stains.

Every example is a pure function of (seed, split, index). The task is built so
that a global intensity threshold cannot solve it: uneven lighting and mottled
texture are as strong as the defects, stains are both darker and brighter than
their surroundings, and pits and stains differ mainly in size and shape.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage import draw

SIZE = 96
BACKGROUND, SCRATCH, PIT, STAIN = 0, 1, 2, 3
CLASS_NAMES = ("background", "scratch", "pit", "stain")
SPLIT_SIZES = {"train": 400, "val": 100, "test": 100}
# Industrial data is mostly clean: most images carry no defect at all.
P_DEFECT_FREE = 0.45
DEFECT_CLASS_PROBS = {SCRATCH: 0.4, PIT: 0.35, STAIN: 0.25}
_SPLIT_STREAM = {"train": 0, "val": 1, "test": 2}


def _unit_noise(rng: np.random.Generator, sigma, shape=(SIZE, SIZE)) -> np.ndarray:
    """Gaussian-filtered white noise rescaled to unit standard deviation."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return field / (field.std() + 1e-8)


def _smooth_noise(rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Unit-std noise of correlation length ~`sigma` px, made at 1/8 resolution (cheap)."""
    coarse = _unit_noise(rng, sigma / 8.0, shape=(SIZE // 8, SIZE // 8))
    field = ndimage.zoom(coarse, 8, order=3, mode="grid-wrap", grid_mode=True)
    return field / (field.std() + 1e-8)


def _streaks(rng: np.random.Generator) -> np.ndarray:
    """Brushed/machined streaks: a 1-D noise profile across a random direction, fading along it."""
    angle = rng.uniform(0.0, np.pi)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    across = np.cos(angle) * xx + np.sin(angle) * yy
    along = -np.sin(angle) * xx + np.cos(angle) * yy
    span = np.arange(-2 * SIZE, 2 * SIZE, dtype=np.float64)
    profile = _unit_noise(rng, 0.6, shape=(span.size,))
    fade = 0.6 + 0.4 * _unit_noise(rng, rng.uniform(8.0, 16.0), shape=(span.size,))
    field = np.interp(across, span, profile) * np.interp(along, span, fade)
    return field / (field.std() + 1e-8)


def _surface(rng: np.random.Generator) -> np.ndarray:
    """Defect-free surface: grey level, grain, mottling, brushed streaks, uneven light."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1) - 0.5
    surface = np.full((SIZE, SIZE), rng.uniform(85.0, 170.0))
    surface += rng.uniform(4.0, 8.0) * _unit_noise(rng, rng.uniform(0.7, 1.4))
    surface += rng.uniform(4.0, 9.0) * _smooth_noise(rng, rng.uniform(14.0, 20.0))
    surface += rng.uniform(2.0, 7.0) * _streaks(rng)
    angle = rng.uniform(0.0, 2 * np.pi)
    surface += rng.uniform(10.0, 35.0) * (np.cos(angle) * xx + np.sin(angle) * yy) * 2.0
    cy, cx = rng.uniform(-0.5, 0.5, size=2)
    surface -= rng.uniform(0.0, 30.0) * ((yy - cy) ** 2 + (xx - cx) ** 2)
    return surface


def _add_stain(rng, image, label):
    """Large soft blob with an irregular edge, darker or brighter than the surface."""
    cy, cx = rng.uniform(12, SIZE - 12, size=2)
    ry, rx = rng.uniform(6.0, 16.0, size=2)
    theta = rng.uniform(0.0, np.pi)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    dy, dx = yy - cy, xx - cx
    u = (np.cos(theta) * dx + np.sin(theta) * dy) / rx
    v = (-np.sin(theta) * dx + np.cos(theta) * dy) / ry
    radius = np.sqrt(u**2 + v**2) + 0.25 * _smooth_noise(rng, 4.0)
    softness = rng.uniform(0.05, 0.12)
    alpha = 1.0 / (1.0 + np.exp((radius - 1.0) / softness))
    contrast = rng.uniform(25.0, 45.0) * rng.choice([-1.0, 1.0])
    image += contrast * alpha
    label[alpha > 0.5] = STAIN


def _add_pit(rng, image, label):
    """Small round dark pit with a bright rim on the lit side."""
    cy, cx = rng.uniform(4, SIZE - 4, size=2)
    r = rng.uniform(1.6, 3.4)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    dist = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    image -= rng.uniform(50.0, 80.0) * np.clip(1.3 - dist / r, 0.0, 1.0)
    rim_dir = rng.uniform(0.0, 2 * np.pi)
    ry, rx = cy + np.sin(rim_dir) * r, cx + np.cos(rim_dir) * r
    image += rng.uniform(10.0, 25.0) * np.exp(-((yy - ry) ** 2 + (xx - rx) ** 2) / (0.5 * r**2))
    label[dist <= r] = PIT


def _add_scratch(rng, image, label):
    """Thin (1-2 px) curved scratch, darker or brighter than the surface."""
    length = rng.uniform(20.0, 65.0)
    y0, x0 = rng.uniform(8, SIZE - 8, size=2)
    angle = rng.uniform(0.0, 2 * np.pi)
    y2 = np.clip(y0 + np.sin(angle) * length, 0, SIZE - 1)
    x2 = np.clip(x0 + np.cos(angle) * length, 0, SIZE - 1)
    bend = rng.uniform(-0.3, 0.3) * length
    y1 = (y0 + y2) / 2 + np.cos(angle) * bend
    x1 = (x0 + x2) / 2 - np.sin(angle) * bend
    rr, cc = draw.bezier_curve(int(y0), int(x0), int(y1), int(x1), int(y2), int(x2), 1.0, shape=(SIZE, SIZE))
    line = np.zeros((SIZE, SIZE), bool)
    line[rr, cc] = True
    if rng.random() < 0.5:
        line = ndimage.binary_dilation(line, structure=np.ones((2, 2), bool))
    profile = ndimage.gaussian_filter(line.astype(np.float64), 0.5)
    profile /= profile.max() + 1e-8
    contrast = rng.uniform(35.0, 60.0) * (-1.0 if rng.random() < 0.7 else 1.0)
    image += contrast * profile
    label[line] = SCRATCH


_PAINTERS = {STAIN: _add_stain, PIT: _add_pit, SCRATCH: _add_scratch}


def _add_dust(rng, image):
    """Unlabelled bright specks: small round marks that are NOT defects."""
    for _ in range(rng.integers(0, 4)):
        cy, cx = rng.uniform(0, SIZE, size=2)
        yy, xx = np.ogrid[0:SIZE, 0:SIZE]
        image += rng.uniform(15.0, 35.0) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(0.6, 1.5) ** 2))


def render_example(seed: int, split: str, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Image (uint8 [96,96]) and label (uint8 [96,96], class ids) of one example."""
    rng = np.random.default_rng([seed, _SPLIT_STREAM[split], index])
    image = _surface(rng)
    label = np.zeros((SIZE, SIZE), np.uint8)
    if rng.random() >= P_DEFECT_FREE:
        classes = list(DEFECT_CLASS_PROBS)
        drawn = rng.choice(classes, size=rng.integers(1, 4), p=list(DEFECT_CLASS_PROBS.values()))
        # Paint large to small so thin defects stay visible on top of stains.
        for cls in sorted(drawn, key=lambda c: (c != STAIN, c != PIT)):
            _PAINTERS[int(cls)](rng, image, label)
    _add_dust(rng, image)
    image += rng.uniform(2.0, 5.0) * rng.standard_normal(image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), label


def example_id(split: str, index: int) -> str:
    return f"{split}_{index:04d}"
