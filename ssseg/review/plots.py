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
