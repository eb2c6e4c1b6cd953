"""Command-line options of uncertainty, review and calibration, shared by `ssseg predict` and `ssseg eval`.

Imports nothing heavy (numpy at most): the parsers are built before any command runs.
"""

from __future__ import annotations

from ssseg.review.uncertainty import AGGREGATIONS, MEASURES


def add_scoring_arguments(parser) -> None:
    parser.add_argument("--temperature", default=None, metavar="fit|T",
                        help="temperature scaling: 'fit' fits T on the val split and stores it with the run; "
                             "a number uses that T; default: the stored T, else 1")
    parser.add_argument("--uncertainty", default="entropy", choices=MEASURES,
                        help="the map that is scored and drawn (disagreement: teacher vs student, runs with both)")
    parser.add_argument("--aggregation", default="defect_mean", choices=AGGREGATIONS,
                        help="image score from the uncertainty map: mean over candidate defect pixels, "
                             "1 - p(background) >= 0.5 (default), max, or share of pixels >= --uncertain-threshold")
    parser.add_argument("--uncertain-threshold", type=float, default=0.5,
                        help="a pixel counts as uncertain at this value (for --aggregation share)")


def add_predict_arguments(parser) -> None:
    add_scoring_arguments(parser)
    parser.add_argument("--tta", default="none", choices=("none", "flips"),
                        help="flips: mean probabilities over the four h/v flips")
    parser.add_argument("--review-quota", type=int, default=None, metavar="N",
                        help="write OUT/review/ (queue.csv, index.html) with the N most uncertain images")
    parser.add_argument("--review-threshold", type=float, default=None, metavar="T",
                        help="write OUT/review/ with every image whose score is >= T (with a quota: at most N)")


def add_eval_arguments(parser) -> None:
    add_scoring_arguments(parser)
    parser.add_argument("--bad-iou", type=float, default=0.5,
                        help="an image whose mIoU is below this is a bad prediction the review should catch")
    parser.add_argument("--no-review", action="store_true",
                        help="skip the per-image pass (review AUC, calibration, reliability plot)")
