"""`ssseg predict --workdir DIR --images IN_DIR --out OUT_DIR`"""

from __future__ import annotations

import os

from ssseg.measure import cli as measure_cli
from ssseg.review.options import add_predict_arguments

HELP = ("Write a PNG class-id mask, a colour overlay and uncertainty maps for every image in a folder, using a "
        "saved run; optionally a review queue and page of the most uncertain images, post-processing and a "
        "per-defect report.")


def add_arguments(parser) -> None:
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--images", required=True, help="folder of images (png, jpg, bmp, tif)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default=None, help="which eval model (student/teacher); default: the reported one")
    measure_cli.add_predict_arguments(parser)
    add_predict_arguments(parser)


def run(args) -> int:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from ssseg.errors import DataError
    from ssseg.inference.predict import IMAGE_SUFFIXES, Predictor, overlay
    from ssseg.review.predict_outputs import review_outputs

    if not os.path.isdir(args.images):
        raise DataError(f"--images {args.images!r} is not a folder")
    names = sorted(n for n in os.listdir(args.images) if n.lower().endswith(IMAGE_SUFFIXES))
    if not names:
        raise DataError(f"--images {args.images!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    predictor = Predictor(args.workdir, args.model)
    os.makedirs(args.out, exist_ok=True)
    review = review_outputs(predictor, args)
    k = len(predictor.class_names)
    measurer = measure_cli.PredictMeasurer(args, predictor.run.spec)
    for name in names:
        path = os.path.join(args.images, name)
        try:
            image = np.asarray(Image.open(path))
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"{path}: not a readable image ({e.__class__.__name__})") from None
        probs = review.probabilities(image)
        stem = os.path.splitext(name)[0]
        pred = measurer.mask(stem, probs)
        Image.fromarray(pred).save(os.path.join(args.out, f"{stem}_mask.png"))
        Image.fromarray(overlay(image, pred, k)).save(os.path.join(args.out, f"{stem}_overlay.png"))
        review.add(name, stem, probs, pred, os.path.join(args.out, f"{stem}_overlay.png"))
    measurer.finish(args.out)
    print(f"wrote {len(names)} masks and overlays to {args.out} (classes: {', '.join(predictor.class_names)})")
    print("\n".join(review.finish()))
    return 0
