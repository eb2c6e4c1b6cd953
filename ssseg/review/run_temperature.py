"""The temperature a command uses: fitted on the run's val split now, given, or the one stored with the run.

A stored temperature belongs to one checkpoint step and one eval model; a command on another
step or model ignores it (and says so) rather than apply a temperature fitted elsewhere.
"""

from __future__ import annotations

import numpy as np

from ssseg.inspection.per_image import split_probabilities
from ssseg.review import calibration

FIT_SPLIT = "val"
FIT_PIXELS_PER_IMAGE = 2000  # a random subsample per image: T is one number, a few 10^4 pixels pin it down
FIT_SEED = 0


def fit_run_temperature(predictor, workdir: str, sources=None, max_pixels: int = FIT_PIXELS_PER_IMAGE) -> dict:
    """Fits T on the val split's pixels (a seeded subsample per image), stores and returns its record."""
    rng = np.random.default_rng(FIT_SEED)
    log_probs, labels = [], []
    for record, probs in split_probabilities(predictor, FIT_SPLIT, sources=sources):
        lp, lab = calibration.sample_log_probs(probs, record["label"], max_pixels, rng)
        log_probs.append(lp)
        labels.append(lab)
    log_probs, labels = np.concatenate(log_probs), np.concatenate(labels)
    temperature = calibration.fit_temperature(log_probs, labels)
    record = {
        "temperature": temperature,
        "step": int(predictor.run.state.step),
        "model": predictor.model_name,
        "fitted_on": FIT_SPLIT,
        "num_pixels": int(labels.size),
        "nll_before": calibration.nll(log_probs, labels, 1.0),
        "nll_after": calibration.nll(log_probs, labels, temperature),
    }
    calibration.save_temperature(workdir, record)
    return record


def resolve_temperature(predictor, workdir: str, value, sources=None) -> tuple[float, str]:
    """(T, a line saying where it came from) for --temperature `value` (see calibration.parse_temperature)."""
    value = calibration.parse_temperature(value)
    if value == "fit":
        record = fit_run_temperature(predictor, workdir, sources)
        note = (f"temperature {record['temperature']:.4f} fitted on {FIT_SPLIT} ({record['num_pixels']} pixels, "
                f"NLL {record['nll_before']:.4f} -> {record['nll_after']:.4f}), "
                f"stored in {calibration.TEMPERATURE_FILE}")
        if any(abs(np.log(record["temperature"] / bound)) < 1e-3 for bound in calibration.FIT_BOUNDS):
            note += f"; at the search bound {calibration.FIT_BOUNDS}: the model is far from calibrated"
        return record["temperature"], note
    if value is not None:
        return float(value), f"temperature {value:g} (given)"
    record = calibration.stored_temperature(workdir)
    if record is None:
        return 1.0, "temperature 1 (none stored; --temperature fit fits one on val)"
    step, model = int(predictor.run.state.step), predictor.model_name
    if record.get("step") != step or record.get("model") != model:
        return 1.0, (f"temperature 1: the stored one was fitted for step {record.get('step')} model "
                     f"{record.get('model')!r}, not step {step} model {model!r}")
    return float(record["temperature"]), f"temperature {record['temperature']:.4f} (stored, fitted on {FIT_SPLIT})"
