"""The measurement, post-processing and shift options of `ssseg eval` and `ssseg predict`.

Kept apart from the command modules, which only call `add_*_arguments` and
`EvalExtras` / `PredictMeasurer`.
"""

from __future__ import annotations

import os

from ssseg.errors import ConfigError
from ssseg.measure.rules import DEFAULT_RULES

_POSTPROCESS_HELP = ("clean the predicted mask per defect class, e.g. min_area=20,min_area:crack=5,open=1,close=1,"
                     "fill_holes (disk radii and areas in pixels)")
_RULES_HELP = (f"pass/fail rules, an image fails when any holds (default {DEFAULT_RULES!r}: any defect), e.g. "
               "'any:crack; area>500; any:blowhole>=20; max_area:break>=1.5mm2' (see README)")


def _add_common(parser) -> None:
    parser.add_argument("--postprocess", default="", help=_POSTPROCESS_HELP)
    parser.add_argument("--rules", default=DEFAULT_RULES, help=_RULES_HELP)
    parser.add_argument("--pixel-size-mm", type=float, default=None,
                        help="side of one pixel of the stored image in mm: areas in mm² too")


def add_eval_arguments(parser) -> None:
    _add_common(parser)
    parser.add_argument("--instances", action="store_true",
                        help="instance precision/recall at IoU 0.5, pass/fail confusion, per-defect report")
    parser.add_argument("--corruptions", nargs="?", const="all", default=None,
                        help="mIoU under corruptions: all, or a list of brightness,contrast,gaussian_noise,"
                             "gaussian_blur,jpeg")
    parser.add_argument("--severities", default="all", help="corruption severities, e.g. 1,3,5 (default 1..5)")


def add_predict_arguments(parser) -> None:
    _add_common(parser)
    parser.add_argument("--defects", action="store_true",
                        help="also write the per-defect report (defects.csv, images.csv, defects.json)")


def _measurer(args, spec):
    from ssseg.measure.report import Measurer

    return Measurer(spec, args.postprocess, args.rules, args.pixel_size_mm)


class EvalExtras:
    """The options' work in `ssseg eval`; built (and every option checked) before the evaluation runs."""

    def __init__(self, args, spec):
        from ssseg.eval.corruptions import CORRUPTIONS, SEVERITIES
        from ssseg.eval.shift import parse_list

        self.args = args
        if not args.instances and (args.rules != DEFAULT_RULES or args.pixel_size_mm is not None):
            raise ConfigError("--rules and --pixel-size-mm apply to --instances, which was not given")
        self.measurer = _measurer(args, spec) if (args.postprocess or args.instances) else None
        if args.corruptions is not None:
            self.corruptions = parse_list(args.corruptions, CORRUPTIONS, "--corruptions")
            self.severities = parse_list(args.severities, SEVERITIES, "--severities", int)

    def run(self, run_, evaluator, state, clean_records) -> dict:
        """What the options add to eval_<split>.json (printing as it goes); {} when none was asked."""
        args, out = self.args, {}
        if self.measurer is not None:
            out["measurements"] = self._measure(run_, evaluator)
        if args.corruptions is not None:
            from ssseg.eval.shift import evaluate_shift, markdown_table, write_shift

            rows = evaluate_shift(evaluator, state, args.split, clean_records, self.corruptions, self.severities)
            out["corruptions"] = rows
            print(markdown_table(rows, rows[0]["model"]), end="")
            print(f"corruption table and plot: {', '.join(write_shift(rows, args.workdir, args.split))}")
        return out

    def _measure(self, run_, evaluator) -> dict:
        from ssseg.inference.predict import Predictor
        from ssseg.measure.postprocess import single_options
        from ssseg.measure.split_eval import evaluate_split, format_lines

        args, measurer = self.args, self.measurer
        variants = single_options(args.postprocess, run_.spec.class_names, measurer.classes)
        variants += [] if measurer.postprocess.is_identity else [measurer.postprocess]
        predictor = Predictor(args.workdir, run=run_)  # the run eval restored: no second restore
        result = evaluate_split(predictor, evaluator.sources.source(args.split), measurer, variants, args.instances)
        print("\n".join(format_lines(result)))
        if args.instances:
            paths = measurer.write(os.path.join(args.workdir, f"defects_{args.split}"))
            print(f"per-defect report: {', '.join(paths)}")
        return result


class PredictMeasurer:
    """For `ssseg predict`: post-processes each mask and, with --defects, measures it."""

    def __init__(self, args, spec):
        self.report = args.defects or args.rules != DEFAULT_RULES or args.pixel_size_mm is not None
        self.measurer = _measurer(args, spec) if (self.report or args.postprocess) else None

    def mask(self, name: str, probs):
        """Class ids uint8 [H,W] from probabilities [H,W,K], post-processed and measured."""
        pred = probs.argmax(-1).astype("uint8")
        if self.measurer is None:
            return pred
        pred = self.measurer.clean(pred)
        if self.report:
            self.measurer.measure(name, pred, probs)
        return pred

    def finish(self, out_dir: str) -> None:
        if self.report:
            print(f"per-defect report: {', '.join(self.measurer.write(out_dir))}")
