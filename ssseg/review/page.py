"""A static review page: one folder (index.html + thumbs/) that an inspector opens in any browser.

One row per queued image, most uncertain first: the image with its predicted mask overlaid,
the uncertainty map, the predicted defect classes with their areas, and the score. Clicking
the score header sorts by score (toggling the direction), clicking # restores the queue order.
No external URL, font or script: the page works offline from file://.
"""

from __future__ import annotations

import html
import os
from typing import Sequence

from PIL import Image

from ssseg.review.queue import ReviewItem

THUMB_SIZE = 256

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin-bottom: 0.2em; }
p.about { color: #555; margin-top: 0; max-width: 60em; }
table { border-collapse: collapse; }
th, td { padding: 6px 10px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: middle; }
th button { font: inherit; font-weight: bold; background: none; border: none; cursor: pointer; padding: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { display: block; image-rendering: pixelated; max-width: 256px; max-height: 256px; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em; vertical-align: -0.1em; }
ul.classes { list-style: none; margin: 0; padding: 0; }
.legend > span { margin-right: 1em; white-space: nowrap; }
.scale { display: inline-block; width: 8em; height: 0.9em; vertical-align: -0.1em;
  margin: 0 0.4em; background: linear-gradient(to right, #000004, #3b0f70, #8c2981, #de4968, #fe9f6d, #fcfdbf); }
"""

_SCRIPT = """
function sortQueue(key) {
  const body = document.querySelector('#queue tbody');
  const button = document.getElementById('sort-' + key);
  const descending = key === 'score' && button.dataset.order !== 'desc';
  const rows = Array.from(body.rows);
  rows.sort(function (a, b) {
    const x = parseFloat(a.dataset[key]), y = parseFloat(b.dataset[key]);
    return descending ? y - x : x - y;
  });
  rows.forEach(function (r) { body.appendChild(r); });
  const scoreButton = document.getElementById('sort-score');
  scoreButton.dataset.order = key === 'score' && !descending ? 'asc' : 'desc';
  scoreButton.textContent = 'score ' + (scoreButton.dataset.order === 'desc' ? '\\u25BC' : '\\u25B2');
}
document.getElementById('sort-score').addEventListener('click', function () { sortQueue('score'); });
document.getElementById('sort-rank').addEventListener('click', function () { sortQueue('rank'); });
"""


def _thumbnail(source: str, target: str) -> None:
    """Fit into THUMB_SIZE square: small images enlarged pixel for pixel, large ones filtered down."""
    image = Image.open(source)
    scale = THUMB_SIZE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    image.resize(size, Image.NEAREST if scale >= 1 else Image.LANCZOS).save(target)


def _classes_cell(item: ReviewItem, colours: dict) -> str:
    if not item.class_areas:
        return "<em>no defect predicted</em>"
    lines = [f'<li><span class="swatch" style="background:{colours.get(name, "#000")}"></span>'
             f"{html.escape(name)}: {area} px</li>" for name, area in item.class_areas.items()]
    return '<ul class="classes">' + "".join(lines) + "</ul>"


def write_page(review_dir: str, items: Sequence[ReviewItem], overlay_paths: dict, uncertainty_paths: dict, *,
               colours: dict, about: str, total_images: int) -> str:
    """Writes review_dir/index.html and review_dir/thumbs/; returns the page's path.

    `overlay_paths`/`uncertainty_paths` map each item's stem to its full-size PNG;
    `colours` maps defect class names to CSS colours; `about` says what the score is."""
    thumbs = os.path.join(review_dir, "thumbs")
    os.makedirs(thumbs, exist_ok=True)
    rows = []
    for rank, item in enumerate(items, 1):
        cells = []
        for kind, paths in (("overlay", overlay_paths), ("uncertainty", uncertainty_paths)):
            name = f"{item.stem}_{kind}.png"
            _thumbnail(paths[item.stem], os.path.join(thumbs, name))
            cells.append(f'<td><img src="thumbs/{html.escape(name)}" alt="{kind} of {html.escape(item.image)}"></td>')
        rows.append(
            f'<tr data-rank="{rank}" data-score="{item.score:.6f}" data-image="{html.escape(item.image)}">'
            f'<td class="num">{rank}</td><td>{html.escape(item.image)}</td>'
            f'<td class="num">{item.score:.4f}</td>{"".join(cells)}'
            f"<td>{_classes_cell(item, colours)}</td><td class=\"num\">{item.defect_area}</td></tr>")
    legend = "".join(f'<span><span class="swatch" style="background:{c}"></span>{html.escape(n)}</span>'
                     for n, c in colours.items())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ssseg review queue</title>
<style>{_STYLE}</style></head>
<body>
<h1>Review queue: {len(items)} of {total_images} images</h1>
<p class="about">{html.escape(about)}</p>
<p class="legend">{legend}<span>uncertainty: certain <span class="scale"></span> uncertain</span></p>
<table id="queue">
<thead><tr><th><button id="sort-rank" type="button">#</button></th><th>image</th>
<th><button id="sort-score" type="button" data-order="desc">score &#9660;</button></th>
<th>prediction</th><th>uncertainty</th><th>defect classes</th><th>defect area (px)</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<script>{_SCRIPT}</script>
</body></html>
"""
    path = os.path.join(review_dir, "index.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path
