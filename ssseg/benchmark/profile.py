"""Where a compiled step's time goes: a jax.profiler trace summed by op class.

XLA:CPU runs a compiled program as a sequence of thunks, one per instruction
of the optimized HLO (`compiled.as_text()`), and the profiler records each
one with its `hlo_op` name. `op_class_times` reads the trace (perfetto JSON),
sums the thunk durations by instruction, and `classify` puts every
instruction in one class: convolution forward / backward-input /
backward-filter (dilated ones, layer4's and ASPP's at output stride 16, apart),
batch norm, bilinear resizes, max pool and its backward, losses, on-device
augmentation, optimizer, copies/transposes, other (1×1 convs that the model
runs as matmuls are one class of their own, its im2col 3×3 convs another, its Winograd 3×3 convs a
third). A class is read from the
instruction itself (opcode, window, fused opcodes) and from the Python stack
that XLA keeps in its metadata (the function and file that emitted it).

Times are summed over devices and threads, so they are core-time: with two
simulated devices on two cores a step's classes add up to about twice its
wall time. Read the shares, not the absolute sum.
"""

from __future__ import annotations

import collections
import glob
import gzip
import json
import os
import re

_COMPUTATION = re.compile(r"^(?:ENTRY )?%(\S+) .*\{$")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%(\S+) = (.*)$")
_TABLE_ROW = re.compile(r"^(\d+) (.*)$")

IM2COL = "conv k×k as im2col matmul (fwd + both grads)"
WINOGRAD = "conv 3×3 as Winograd matmuls (fwd + both grads)"

# Python functions/files whose ops form a class, checked innermost frame first.
_STACK_CLASSES = (
    ("_max_pool_bwd", "max pool backward"),
    ("_pool_windows", "max pool forward"),
    ("conv2d_nhwc", "conv 1×1 as matmul (fwd + both grads)"),
    ("resize_bilinear_align_corners", "bilinear resize"),
    ("normalization.py", "batch norm"),
    ("ssseg/models/batch_norm.py", "batch norm"),   # the fused BN + residual add + ReLU
    ("ssseg/train/losses.py", "losses"),
    ("ssseg/augment/", "augmentation"),
    ("optax/losses", "losses"),
    ("optax/", "optimizer"),
)


# Opcodes that only move data: a fusion of these alone is a copy/transpose (a reversed kernel, a layout change).
_DATA_MOVEMENT = {"copy", "transpose", "bitcast", "parameter", "reverse", "slice", "pad", "constant", "broadcast",
                  "reshape", "concatenate", "fusion"}


def _split_type(rest: str) -> tuple[str, str]:
    """'(f32[2], s32[2]) fusion(...)' -> ('(f32[2], s32[2])', 'fusion(...)'): a tuple type holds spaces."""
    if not rest.startswith("("):
        head, _, tail = rest.partition(" ")
        return head, tail
    depth = 0
    for i, ch in enumerate(rest):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return rest[: i + 1], rest[i + 2:]
    return rest, ""


def _stack_tables(lines: list[str]) -> dict[int, list[str]]:
    """stack_frame_id -> ['file:function', ...] innermost first, from the module's frame tables."""
    tables: dict[str, dict[int, str]] = {}
    section = None
    for line in lines:
        if line in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
            section, tables[line] = line, {}
        elif section and (m := _TABLE_ROW.match(line)):
            tables[section][int(m.group(1))] = m.group(2)
        elif section and not line.strip():
            continue
        else:
            section = None
    files, functions = tables.get("FileNames", {}), tables.get("FunctionNames", {})
    locations = {}
    for key, value in tables.get("FileLocations", {}).items():
        fields = dict(re.findall(r"(\w+)=(\S+)", value))
        locations[key] = (f"{files.get(int(fields.get('file_name_id', 0)), '').strip(chr(34))}:"
                          f"{functions.get(int(fields.get('function_name_id', 0)), '').strip(chr(34))}")
    frames = {}
    for key, value in tables.get("StackFrames", {}).items():
        fields = dict(re.findall(r"(\w+)=(\d+)", value))
        frames[key] = (locations.get(int(fields["file_location_id"]), ""), int(fields.get("parent_frame_id", 0)))
    stacks = {}
    for key in frames:
        chain, seen, current = [], set(), key
        while current in frames and current not in seen:
            seen.add(current)
            location, parent = frames[current]
            chain.append(location)
            current = parent
        stacks[key] = chain
    return stacks


def parse_hlo(hlo_text: str) -> dict[str, dict]:
    """Instruction name -> {opcode, text, computation, stack, fused (opcodes of a fusion's body)}."""
    lines = hlo_text.splitlines()
    stacks = _stack_tables(lines)
    instructions, bodies = {}, collections.defaultdict(list)
    computation = ""
    for line in lines:
        if m := _COMPUTATION.match(line):
            computation = m.group(1)
            continue
        if not (m := _INSTRUCTION.match(line)):
            continue
        name, rest = m.group(1), m.group(2)
        shape, call = _split_type(rest)
        opcode = call.partition("(")[0]
        frame = re.search(r"stack_frame_id=(\d+)", rest)
        op_name = re.search(r'op_name="([^"]*)"', rest)
        info = {"opcode": opcode, "shape": shape, "text": rest, "computation": computation,
                "op_name": op_name.group(1) if op_name else "",
                "stack": stacks.get(int(frame.group(1)), []) if frame else []}
        instructions[name] = info
        bodies[computation].append(info)
    for info in instructions.values():
        called = re.search(r"calls=%([\w.\-]+)", info["text"])
        body = bodies.get(called.group(1), []) if called else []
        info["fused"] = {b["opcode"] for b in body}
        if body and not info["stack"]:  # a fusion without its own metadata: its body's first stack
            info["stack"] = next((b["stack"] for b in body if b["stack"]), [])
            info["op_name"] = info["op_name"] or next((b["op_name"] for b in body if b["op_name"]), "")
        info["body"] = body
    return instructions


def _window(text: str, key: str) -> int:
    m = re.search(rf"{key}=(\d+)x(\d+)", text)
    return max(int(m.group(1)), int(m.group(2))) if m else 1


def _conv_class(conv: dict) -> str:
    """Forward / backward-input / backward-filter, and the dilation of the forward conv it belongs to.

    jax's filter gradient is a conv whose window spans the activation (wider than any kernel here)
    and strides by the forward dilation; forward and input-gradient convs keep the kernel's window
    and its rhs dilation."""
    text, op_name = conv["text"], conv["op_name"]
    if _window(text, "size") > 7 or not op_name:
        kind, dilation = "backward-filter", _window(text, "stride")
    else:
        kind = "backward-input" if "transpose(" in op_name else "forward"
        dilation = _window(text, "rhs_dilate")
    if dilation >= 6:
        return f"conv {kind}, ASPP dilation {dilation}"
    if dilation > 1:
        return f"conv {kind}, dilated {dilation} (layer3/4)"
    return f"conv {kind}"


def classify(info: dict) -> str:
    """The op class of one parsed instruction (see the module docstring)."""
    ops = {info["opcode"]} | info["fused"]
    convs = [b for b in info["body"] if b["opcode"] == "convolution"] or ([info] if "convolution" in ops else [])
    if convs:
        return _conv_class(convs[0])
    if "select-and-scatter" in ops or "scatter" in ops and "reduce-window" not in ops and (
            "select_and_scatter" in info["op_name"]):
        return "max pool backward"
    if "reduce-window" in ops:
        return "max pool backward" if info["shape"].startswith("(") else "max pool forward"
    if "all-reduce" in ops or "reduce-scatter" in ops or "all-gather" in ops:
        return "cross-device reductions"
    if ops & {"copy", "transpose"} and ops <= _DATA_MOVEMENT:
        return "copies / transposes"
    if "conv2d_im2col" in info["op_name"]:   # its named scope: the backward's stack is JAX's, not the model's
        return IM2COL
    if "conv2d_winograd" in info["op_name"]:   # likewise (the transforms, the matmuls, both gradients)
        return WINOGRAD
    if "batch_norm_bwd" in info["op_name"]:
        return "batch norm"
    for needle, name in _STACK_CLASSES:
        if any(needle in frame for frame in info["stack"]):
            return name
    if "dot" in ops:
        return "other matmuls"
    return "other"


def trace_files(trace_dir: str) -> list[str]:
    return sorted(glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"), recursive=True))


def thunk_times_us(trace_path: str) -> dict[str, float]:
    """hlo_op name -> summed thunk microseconds in one perfetto trace (all devices, all threads)."""
    with gzip.open(trace_path, "rt") as f:
        trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    totals: dict[str, float] = collections.defaultdict(float)
    for event in events:
        hlo_op = (event.get("args") or {}).get("hlo_op")
        if event.get("ph") == "X" and hlo_op:
            totals[hlo_op] += float(event.get("dur", 0.0))
    return dict(totals)


def instruction_times(hlo_text: str, times_us: dict[str, float], steps: int) -> list[dict]:
    """One row per traced instruction, slowest first: name, class, core-ms per step, opcode, shape, source."""
    instructions = parse_hlo(hlo_text)
    rows = []
    for name, us in times_us.items():
        info = instructions.get(name)
        rows.append({"name": name, "class": classify({**info, "name": name}) if info else "other (not in HLO)",
                     "ms": us / 1000.0 / steps, "opcode": info["opcode"] if info else "",
                     "shape": info["shape"] if info else "",
                     "source": (info["stack"] or [""])[0] if info else ""})
    return sorted(rows, key=lambda row: -row["ms"])


def op_class_times(hlo_text: str, times_us: dict[str, float], steps: int) -> dict[str, float]:
    """Op class -> core-milliseconds per step, largest first."""
    classes: dict[str, float] = collections.defaultdict(float)
    for row in instruction_times(hlo_text, times_us, steps):
        classes[row["class"]] += row["ms"]
    return dict(sorted(classes.items(), key=lambda kv: -kv[1]))


def profile_calls(call, *, steps: int, trace_dir: str) -> str:
    """Run `call()` `steps` times under jax.profiler.trace; the path of the perfetto trace it wrote."""
    import jax

    before = set(trace_files(trace_dir))
    with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
        for _ in range(steps):
            jax.block_until_ready(call())
    new = [path for path in trace_files(trace_dir) if path not in before]
    if not new:
        raise RuntimeError(f"jax.profiler wrote no *.trace.json.gz under {trace_dir}")
    return new[-1]


def table(classes_ms: dict[str, float], step_s: float | None = None) -> str:
    """Classes as rows: core-ms per step and share of the summed thunk time."""
    total = sum(classes_ms.values()) or 1.0
    width = max([len(k) for k in classes_ms] + [8])
    rows = [f"{'op class':<{width}}  {'core-ms/step':>12}  {'share':>6}"]
    rows += [f"{k:<{width}}  {v:>12.1f}  {v / total:>6.1%}" for k, v in classes_ms.items()]
    rows.append(f"{'total':<{width}}  {total:>12.1f}" + (f"  (wall step {1000 * step_s:.0f} ms)" if step_s else ""))
    return "\n".join(rows)
