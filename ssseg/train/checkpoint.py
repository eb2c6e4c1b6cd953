"""Orbax checkpoints of the whole TrainState: periodic saves, keep-last-k, resume.

Saves are atomic (orbax writes to a temporary folder and renames), so a run
killed with -9 mid-save resumes from the previous complete step. The data
position needs no saving: batches are a pure function of (seed, step).

A checkpoint damaged after it was written (a truncated array file after a disk
or copy failure) is skipped on restore with a one-line warning: the newest
intact one is used. A trainer (writable manager) moves the damaged step folder
to <workdir>/damaged_checkpoints/<step>, so it is kept, yet keep-last-k cannot
garbage-collect it and a new save of the same step is not blocked by it;
eval/predict (read-only) leave it in place. Damage is found before orbax reads
anything, from the file sizes and CRC32s each save records in its step folder
(MANIFEST): orbax's concurrent TensorStore reads of a damaged folder print a
traceback per pending array, so they are kept for folders that check out.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zlib

import jax
import orbax.checkpoint as ocp

from ssseg.errors import CheckpointError


def checkpoint_dir(workdir: str) -> str:
    return os.path.join(os.path.abspath(workdir), "checkpoints")


def make_manager(workdir: str, keep: int = 2, read_only: bool = False) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep, create=not read_only, enable_async_checkpointing=False, read_only=read_only
    )
    return ocp.CheckpointManager(checkpoint_dir(workdir), options=options)


def save(manager: ocp.CheckpointManager, state) -> None:
    step = int(jax.device_get(state.step))
    if manager.latest_step() == step:
        return
    manager.save(step, args=ocp.args.StandardSave(state))  # every process: orbax writes collectively
    manager.wait_until_finished()
    if jax.process_index() == 0:  # the save is complete on all processes once orbax returns
        _write_manifest(os.path.join(str(manager.directory), str(step)))


MANIFEST = "ssseg_files.json"


def _file_crc32(path: str) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            crc = zlib.crc32(chunk, crc)
    return crc


def _step_files(folder: str) -> list[str]:
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, _, names in os.walk(folder) for name in names if name != MANIFEST)


def _write_manifest(folder: str) -> None:
    files = {rel: [os.path.getsize(os.path.join(folder, rel)), _file_crc32(os.path.join(folder, rel))]
             for rel in _step_files(folder)}
    with open(os.path.join(folder, MANIFEST + ".tmp"), "w") as f:
        json.dump(files, f)
    os.replace(os.path.join(folder, MANIFEST + ".tmp"), os.path.join(folder, MANIFEST))


def _check_manifest(folder: str) -> None:
    """CheckpointError naming the first file that is missing, of another size or CRC32 than saved.
    A folder saved before manifests existed is not checked (orbax's read is the check)."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.exists(path):
        return
    with open(path) as f:
        files = json.load(f)
    for rel, (size, crc) in sorted(files.items()):
        full = os.path.join(folder, rel)
        if not os.path.exists(full):
            raise CheckpointError(f"checkpoint {folder} is damaged: {rel} is missing")
        if os.path.getsize(full) != size:
            raise CheckpointError(f"checkpoint {folder} is damaged: {rel} has {os.path.getsize(full)} bytes, saved {size}")
        if _file_crc32(full) != crc:
            raise CheckpointError(f"checkpoint {folder} is damaged: {rel} has another CRC32 than saved")


def restore(manager: ocp.CheckpointManager, target_state, step: int | None = None, *, set_aside: bool = False):
    """Restore into the structure (and shardings) of `target_state`: the given step, or the
    newest intact one (damaged newer ones are reported; with `set_aside`, a trainer's, moved
    out of the manager's folder, never deleted)."""
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target_state)
    if step is not None:
        return _restore_step(manager, abstract, step)
    steps = sorted(manager.all_steps(), reverse=True)
    if not steps:
        raise CheckpointError(f"no checkpoint in {manager.directory}")
    damaged = []
    for candidate in steps:
        try:
            state = _restore_step(manager, abstract, candidate)
        except CheckpointError as e:
            damaged.append((candidate, e))
            continue
        for bad, error in damaged:
            _report_damaged(manager, bad, error, candidate, set_aside)
        return state
    if len(damaged) == 1 or len({str(e) for _, e in damaged}) == 1:
        raise damaged[0][1]  # one failure (or the same for all, e.g. another config): say it as it is
    raise CheckpointError(f"no intact checkpoint in {manager.directory} (steps {', '.join(str(s) for s, _ in damaged)}); "
                          f"newest: {damaged[0][1]}")


def _restore_step(manager, abstract, step: int):
    _check_manifest(os.path.join(str(manager.directory), str(step)))
    try:
        return manager.restore(step, args=ocp.args.StandardRestore(abstract))
    except (ValueError, KeyError) as e:
        raise CheckpointError(
            f"checkpoint {manager.directory}/{step} does not match this model/config: {_first_line(e)}"
        ) from None
    except Exception as e:  # TensorStore/OCDBT read errors of a damaged folder
        raise CheckpointError(f"checkpoint {manager.directory}/{step} is damaged: {_first_line(e)}") from None


def _report_damaged(manager, step: int, error: CheckpointError, used: int, set_aside: bool) -> None:
    where = os.path.join(str(manager.directory), str(step))
    if set_aside:
        aside = os.path.join(os.path.dirname(str(manager.directory)), "damaged_checkpoints", str(step))
        while os.path.exists(aside):  # the same step damaged again after a re-run: keep both
            aside += "+"
        os.makedirs(os.path.dirname(aside), exist_ok=True)
        shutil.move(where, aside)
        manager.reload()
        where = f"{where} (moved to {aside})"
    print(f"warning: skipped damaged checkpoint {where}; using step {used} ({error})", file=sys.stderr)


def _first_line(e: Exception) -> str:
    line = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return line.split(" See full TensorStore details")[0]  # the rest is a repr of the store
