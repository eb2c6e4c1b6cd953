"""The reliability plot of `ssseg eval`: accuracy against mean confidence per bin, before and after
temperature scaling, over the share of pixels in each bin."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

_PANELS = (("all_pixels", "all labelled pixels"), ("defect_pixels", "ground-truth defect pixels"))
_CURVES = (("uncalibrated", "T=1", "tab:blue"), ("calibrated", "T={t:.2f}", "tab:orange"))


def plot_reliability(calib: dict, title: str) -> Figure:
    """Two panels (all pixels, defect pixels) from eval_report's calibration record."""
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    num_bins = calib["num_bins"]
    width = 1.0 / num_bins
    centres = (np.arange(num_bins) + 0.5) * width
    for ax, (panel, panel_title) in zip(axes, _PANELS):
        ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfect calibration")
        for offset, (key, label, colour) in enumerate(_CURVES):
            if key not in calib:
                continue
            summary = calib[key][panel]
            bins = summary["bins"]
            filled = [i for i, n in enumerate(bins["count"]) if n > 0]
            ece = "–" if summary["ece"] is None else f"{summary['ece']:.4f}"
            # a point per non-empty bin at (mean confidence, accuracy): a bin of all-wrong pixels shows at 0
            ax.plot([bins["confidence"][i] for i in filled], [bins["accuracy"][i] for i in filled], "o-",
                    color=colour, ms=4, label=f"{label.format(t=calib['temperature'])}: ECE {ece}")
            share = np.asarray(bins["count"], np.float64) / max(1, sum(bins["count"]))
            ax.bar(centres - width / 4 + offset * width / 2, 0.15 * share, width=width / 2, color=colour, alpha=0.3)
        ax.set(xlim=(0, 1), ylim=(-0.02, 1.02), xlabel="confidence (max probability)",
               ylabel="accuracy (bars: share of pixels, x0.15)", title=panel_title)
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(f"reliability, {num_bins} bins: {title}")
    return fig


def plot_review_curves(quality, scores, bad_iou: float, title: str) -> Figure:
    """Retained mean image mIoU and share of bad images caught against the share sent to review:
    the score's order, random order (expected) and the oracle (worst first)."""
    from ssseg.review.screening import caught_curve, retained_curve

    quality, scores = np.asarray(quality, np.float64), np.asarray(scores, np.float64)
    n = quality.size
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    reviewed = np.arange(n) / n
    left.plot(reviewed, retained_curve(quality, scores), label="uncertainty score")
    left.plot(reviewed, np.full(n, quality.mean()), "--", color="grey", label="random order")
    left.plot(reviewed, retained_curve(quality, -quality), ":", color="black", label="oracle (worst first)")
    left.set(xlabel="share of images sent to review", ylabel="mean mIoU of the images kept", xlim=(0, 1))
    bad = quality < bad_iou
    reviewed = np.arange(1, n + 1) / n
    if bad.any():
        right.plot(reviewed, caught_curve(bad, scores), label="uncertainty score")
        right.plot(reviewed, reviewed, "--", color="grey", label="random order")
        right.plot(reviewed, caught_curve(bad, -quality), ":", color="black", label="oracle (worst first)")
    right.set(xlabel="share of images sent to review", ylabel=f"share of bad images (mIoU < {bad_iou:g}) caught",
              xlim=(0, 1), ylim=(0, 1.02))
    for ax in (left, right):
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"review curves: {title}")
    return fig
