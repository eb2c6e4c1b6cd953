"""Where the peer's train step spends its time: torch.profiler self CPU time summed into ssseg's op classes.

    $PEER/venv/bin/python benchmarks/peer_profile.py --src $PEER --method supervised --batch 4 --crop 129
    $PEER/venv/bin/python benchmarks/peer_profile.py --src $PEER --method unimatch --batch 4 --crop 129

Runs with the PEER's python (a PyTorch venv outside this repo, see ../shared/peers/README.md): torch, numpy
and the standard library only, no ssseg, no jax. The step itself is the shared timing script's
(../shared/peers/unimatch_step_cpu.py, not part of ssseg; `--peer-script`), imported from its path and run
unchanged: it times each iteration between two `time.perf_counter()` calls, and a stand-in for its `time`
module starts the profiler and steps it at those calls, one trace per whole iteration (`--warmup`
unprofiled, then `--iters` profiled). Each class is its least time over the profiled iterations. "other"
holds ReLU, residual adds and the profiler's step span (Python time between ops).

Why: docs/performance.md breaks ssseg's step down with `ssseg bench --profile` (ssseg/benchmark/profile.py);
this puts the peer in the same class names so the two tables say which class ssseg loses on.
Differences to keep in mind when comparing:
* PyTorch's `convolution_backward` computes the input and the filter gradient in one op (oneDNN), so the
  peer has one combined class "conv backward (input + filter)"; set it beside the sum of ssseg's two.
* The profiler records ops on the calling thread; its two intra-op threads work inside them. So the
  times are wall-ms per iteration (the classes add up to about the step), while ssseg's are core-ms
  summed over two devices (about twice the step). Compare shares.
* Dilated convs go by their dilation argument (2: layer4, >= 6: ASPP), 1×1 convs by their kernel
  (all directions, beside ssseg's "conv 1×1 as matmul" class), as ssseg's classifier does.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib.util
import io
import json
import os
import statistics
import sys
import time
import types
import warnings

import torch

_DEFAULT_PEER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "peers",
                                    "unimatch_step_cpu.py")
# Ops that carry a conv's arguments: (names, index of the weight among input shapes, index of dilation among args).
_CONV_OPS = (({"aten::conv2d", "aten::convolution", "aten::_convolution", "aten::mkldnn_convolution"}, 1, 5),
             ({"aten::convolution_backward"}, 2, 6))
# Name fragments that put an op (or an op it runs inside) in a class; the innermost match wins.
_NAME_CLASSES = (
    ("Optimizer.", "optimizer"),
    ("batch_norm", "batch norm"), ("BatchNorm", "batch norm"),
    ("upsample_bilinear", "bilinear resize"), ("UpsampleBilinear", "bilinear resize"),
    ("max_pool2d_with_indices_backward", "max pool backward"), ("MaxPool2DWithIndicesBackward", "max pool backward"),
    ("max_pool2d", "max pool forward"),
    ("nll_loss", "losses"), ("NllLoss", "losses"), ("log_softmax", "losses"), ("LogSoftmax", "losses"),
    ("cross_entropy", "losses"),
    ("aten::randn", "random inputs (made inside the peer's step)"),
    ("aten::randint", "random inputs (made inside the peer's step)"),
)
# Ops that only move data; counted as copies only when no op around them has a class (a resize's copy is the resize's).
_COPIES = {"aten::copy_", "aten::clone", "aten::contiguous", "aten::cat", "aten::_to_copy", "aten::to"}


def conv_class(backward: bool, kernel_hw: tuple[int, int], dilation: int) -> str:
    """ssseg's conv class names: 1×1 and dilated convs with all their directions in one class."""
    if tuple(kernel_hw) == (1, 1):
        return "conv 1×1 (fwd + both grads)"
    if dilation >= 6:
        return f"conv, ASPP dilation {dilation}, all directions"
    if dilation > 1:
        return f"conv, layer4 dilation {dilation}, all directions"
    return "conv backward (input + filter)" if backward else "conv forward"


def op_class(chain: list[tuple[str, list, list]]) -> str:
    """The class of an op's self time, from (name, input shapes, concrete args) of it and its parents, innermost
    first: the innermost conv or named op decides; failing that, a copy anywhere in the chain; else "other"."""
    for name, shapes, args in chain:
        for backward, (names, weight_at, dilation_at) in enumerate(_CONV_OPS):
            if name in names:
                dilation = args[dilation_at] if len(args) > dilation_at and args[dilation_at] else [1]
                return conv_class(bool(backward), tuple(shapes[weight_at][-2:]), max(dilation))
        for fragment, cls in _NAME_CLASSES:
            if fragment in name:
                return cls
    if any(name in _COPIES for name, _, _ in chain):
        return "copies / transposes"
    return "other"


def _chain(event) -> list[tuple[str, list, list]]:
    chain = []
    while event is not None:
        chain.append((event.name, event.input_shapes or [], list(getattr(event, "concrete_inputs", None) or [])))
        event = event.cpu_parent
    return chain


class _ProfiledClock:
    """Stands in for the peer script's `time` module: its timed loop calls perf_counter() before and after
    each iteration; the profiler starts at the start of iteration `first` and steps at each iteration's end."""

    def __init__(self, first: int, profiler):
        self.first, self.profiler = first, profiler
        self.calls, self.stamps = 0, []

    def perf_counter(self) -> float:
        if self.calls == 2 * self.first:
            self.profiler.start()
        now = time.perf_counter()
        if self.calls >= 2 * self.first and self.calls % 2:
            self.profiler.step()  # one trace per iteration (the schedule's cycles), so each gets its own classes
        self.calls += 1
        self.stamps.append(now)
        return now


def profile_peer(peer_script: str, src: str, method: str, batch: int, crop: int, warmup: int, iters: int):
    """Run the peer script's step under torch.profiler.

    Returns the events of each profiled iteration, the wall seconds of the unprofiled and of the profiled
    iterations, and the peer script's own JSON."""
    if not os.path.isfile(peer_script):
        sys.exit(f"peer_profile: --peer-script {peer_script} is not a file (expected unimatch_step_cpu.py)")
    spec = importlib.util.spec_from_file_location("peer_step", peer_script)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    iterations = []
    # One cycle per iteration, no profiler warm-up (the unprofiled iterations warm up): silence both notices.
    warnings.filterwarnings("ignore", message="Profiler won't be using warmup")
    warnings.filterwarnings("ignore", message="Warning: Profiler clears events")
    profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True,
                                      schedule=torch.profiler.schedule(wait=0, warmup=0, active=1, repeat=iters),
                                      on_trace_ready=lambda p: iterations.append(p.events()))
    # The script runs one untimed warm-up iteration itself, then `--steps` timed ones.
    clock = _ProfiledClock(first=warmup - 1, profiler=profiler)
    peer.time = types.SimpleNamespace(perf_counter=clock.perf_counter)
    sys.argv = [peer_script, "--src", src, "--method", method, "--batch", str(batch), "--crop", str(crop),
                "--steps", str(warmup - 1 + iters)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        peer.main()
    profiler.stop()
    walls = [b - a for a, b in zip(clock.stamps[::2], clock.stamps[1::2])]
    return iterations, walls[: warmup - 1], walls[warmup - 1:], json.loads(out.getvalue().strip().splitlines()[-1])


def class_times(iterations: list) -> tuple[dict[str, float], list[float], dict[str, dict[str, float]]]:
    """Class -> its least self-CPU ms over the profiled iterations (largest first), each iteration's summed ms,
    and per class its five largest ops (mean ms). The least, because on a shared CPU other jobs only ever
    add time, and in bursts: an iteration with two OpenMP threads slows 3x when one core is taken."""
    per_iteration = []
    ops = collections.defaultdict(lambda: collections.defaultdict(float))
    for events in iterations:
        classes = collections.defaultdict(float)
        for event in events:
            cls = op_class(_chain(event))
            classes[cls] += event.self_cpu_time_total / 1000.0
            ops[cls][event.name] += event.self_cpu_time_total / 1000.0 / len(iterations)
        per_iteration.append(classes)
    least = {cls: min(it.get(cls, 0.0) for it in per_iteration) for cls in ops}
    top = {cls: dict(sorted(v.items(), key=lambda kv: -kv[1])[:5]) for cls, v in ops.items()}
    return dict(sorted(least.items(), key=lambda kv: -kv[1])), [sum(it.values()) for it in per_iteration], top


def markdown(classes_ms: dict[str, float]) -> str:
    total = sum(classes_ms.values()) or 1.0
    rows = ["| op class | ms / iteration | share |", "|---|---|---|"]
    rows += [f"| {cls} | {ms:.0f} | {ms / total:.1%} |" for cls, ms in classes_ms.items()]
    rows.append(f"| total (sum of the classes' least) | {total:.0f} | |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", required=True, help="the peer's code: a folder with UniMatch's model/ and util/")
    ap.add_argument("--peer-script", default=_DEFAULT_PEER_SCRIPT, help="the shared peer timing script")
    ap.add_argument("--method", default="supervised", choices=["supervised", "unimatch"])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=129)
    ap.add_argument("--warmup", type=int, default=2, help="unprofiled iterations first (>= 1)")
    ap.add_argument("--iters", type=int, default=6, help="profiled iterations")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (the timing script's default here)")
    a = ap.parse_args()
    if a.warmup < 1 or a.iters < 1:
        sys.exit(f"peer_profile: --warmup {a.warmup} / --iters {a.iters}: both must be >= 1")
    torch.set_num_threads(a.threads)
    iterations, warm_s, profiled_s, peer_json = profile_peer(a.peer_script, a.src, a.method, a.batch, a.crop,
                                                         a.warmup, a.iters)
    classes, iteration_ms, top_ops = class_times(iterations)
    total = sum(classes.values())
    print(markdown(classes))
    warm = f"{statistics.median(warm_s):.2f} s unprofiled (median of {len(warm_s)}), " if warm_s else ""
    print(f"\nwall per iteration: {warm}{statistics.median(profiled_s):.2f} s profiled (median of {len(profiled_s)}, "
          f"least {min(profiled_s):.2f}); "
          f"load average {os.getloadavg()[0]:.1f}")
    print(json.dumps({"method": a.method, "batch": a.batch, "crop": a.crop, "threads": torch.get_num_threads(),
                      "torch": torch.__version__, "warmup_wall_s": [round(s, 3) for s in warm_s],
                      "profiled_wall_s": [round(s, 3) for s in profiled_s], "ms_per_iter": round(total, 1),
                      "iteration_ms": [round(ms) for ms in iteration_ms],
                      "classes_ms": {k: round(v, 1) for k, v in classes.items()},
                      "shares": {k: round(v / total, 4) for k, v in classes.items()},
                      "top_ops_ms": {k: {o: round(ms, 1) for o, ms in v.items()} for k, v in top_ops.items()},
                      "peer_script": peer_json, "loadavg": os.getloadavg()}))


if __name__ == "__main__":
    main()
