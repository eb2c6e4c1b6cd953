"""What a trained model would teach about fray if it made the pseudo-labels.

Over the unlabeled images of a run's budget that contain fray (hidden truth),
eval mode, whole images, confidence >= 0.95: the share of each class's pixels
confidently labelled background and confidently labelled right.

    python experiments/studies/semi/fray_as_labeller.py runs/mt_semi/supervised__b1_8__s1 \\
        runs/mt_semi/fixmatch__b1_8__s1:teacher
"""

import sys

import numpy as np

from ssseg.inspection import per_image as inspection
from ssseg.data.sources import load_sources

FRAY, BACKGROUND, CONF = 4, 0, 0.95


def main(args):
    for arg in args:
        workdir, _, model = arg.partition(":")
        predictor = inspection.load_predictor(workdir, model=model or None)
        names = predictor.class_names
        sources = load_sources(predictor.run.cfg.data)
        ids = [i for i in inspection.unlabeled_ids(predictor.run.cfg) if (sources.record(i)["label"] == FRAY).any()]
        totals = np.zeros((len(names), 3))
        for example_id in ids:
            record = sources.record(example_id)
            pred, conf = predictor.predict(record["image"])
            sure = conf >= CONF
            for c in range(len(names)):
                truth = record["label"] == c
                totals[c] += [truth.sum(), (truth & sure & (pred == BACKGROUND)).sum(), (truth & sure & (pred == c)).sum()]
        print(f"{workdir} {model or ''}: {len(ids)} unlabeled images with fray")
        for c, (n, as_bg, right) in enumerate(totals):
            if n:
                print(f"  {names[c]:10s} {int(n):8d} px  confidently background {100 * as_bg / n:5.1f}%  "
                      f"confidently right {100 * right / n:5.1f}%")


if __name__ == "__main__":
    main(sys.argv[1:])
