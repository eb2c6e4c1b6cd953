"""Host transforms (exact values on tiny arrays) and the grain pipeline built from them."""

import numpy as np
import pytest

from conftest import data_config
from ssseg.data import pipeline, transforms


def test_long_side_size_keeps_aspect():
    assert transforms.long_side_size((20, 10), 8) == (8, 4)
    assert transforms.long_side_size((3, 7), 5) == (2, 5)
    assert transforms.long_side_size((100, 1), 10) == (10, 1)


def test_resize_is_bilinear_for_images_and_nearest_for_labels():
    image = np.array([[0, 100], [100, 200]], np.uint8)[..., None]
    label = np.array([[1, 2], [3, 4]], np.uint8)
    big_image, big_label = transforms.resize(image, label, (4, 4))
    assert big_label.tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert big_image.shape == (4, 4, 1) and big_image[0, 0, 0] == 0 and big_image[3, 3, 0] == 200
    assert 0 < big_image[1, 1, 0] < 100  # interpolated, not copied


def test_pad_crop_flip_exact():
    image = np.arange(6, dtype=np.uint8).reshape(2, 3, 1) + 1
    label = np.arange(6, dtype=np.uint8).reshape(2, 3)
    valid = np.ones((2, 3), bool)
    image, label, valid = transforms.pad_to(image, label, valid, (3, 3))
    assert image[..., 0].tolist() == [[1, 2, 3], [4, 5, 6], [0, 0, 0]]
    assert label.tolist() == [[0, 1, 2], [3, 4, 5], [255, 255, 255]]
    assert valid.tolist() == [[True] * 3, [True] * 3, [False] * 3]
    image, label, valid = transforms.crop(image, label, valid, (1, 1), 2)
    assert label.tolist() == [[4, 5], [255, 255]]
    image, label, valid = transforms.flip(image, label, valid, hflip=True, vflip=True)
    assert label.tolist() == [[255, 255], [5, 4]]
    assert image[..., 0].tolist() == [[0, 0], [6, 5]]
    assert valid.tolist() == [[False, False], [True, True]]


def test_geometry_is_joint_on_image_and_label():
    # Without resizing, the label must stay exactly image // 10 wherever it is not padding.
    image = (np.arange(30 * 20).reshape(30, 20) % 25 * 10).astype(np.uint8)[..., None]
    label = (image[..., 0] // 10).astype(np.uint8)
    geometry = transforms.Geometry(resized_hw=(30, 20), crop_yx=(5, 0), hflip=True, vflip=True)
    out = transforms.apply_geometry(image, label, geometry, crop_size=24)
    assert out["label"].dtype == np.int32 and out["image"].shape == (24, 24, 1)
    inside = out["valid"]
    assert inside.sum() == 24 * 20 and not inside[:, :4].any()  # width 20 padded to 24, then h-flipped
    np.testing.assert_array_equal(out["label"][inside], out["image"][..., 0][inside] // 10)
    assert (out["label"][~inside] == 255).all() and (out["image"][~inside] == 0).all()
    np.testing.assert_array_equal(out["label"][:, 4:], label[5:29][::-1, ::-1])


def test_sampled_geometry_is_a_pure_function_of_the_keys():
    kwargs = dict(base_size=96, crop_size=64, scale_range=(0.5, 2.0), hflip=True, vflip=False)
    first = transforms.sample_geometry(transforms.example_rng(3, 10, 2), (96, 96), **kwargs)
    again = transforms.sample_geometry(transforms.example_rng(3, 10, 2), (96, 96), **kwargs)
    other = transforms.sample_geometry(transforms.example_rng(3, 10, 3), (96, 96), **kwargs)
    assert first == again and first != other
    assert not first.vflip and 48 <= first.resized_hw[0] <= 192
    assert all(0 <= c <= max(first.resized_hw[0], 64) - 64 for c in first.crop_yx)


def test_eval_transform_canvas():
    record = {"image": np.full((10, 20, 3), 7, np.uint8), "label": np.ones((10, 20), np.uint8)}
    out = transforms.eval_transform(record, canvas=8)
    assert out["image"].shape == (8, 8, 3) and out["label"].shape == (8, 8)
    assert (out["label"][:4] == 1).all() and (out["label"][4:] == 255).all()
    assert (out["image"][:4] == 7).all() and (out["image"][4:] == 0).all()


CFG = data_config(crop_size=64, batch_size=4, unlabeled_batch_size=3, eval_batch_size=8, vflip=True)


@pytest.fixture(scope="module")
def ten_ids(synthetic_sources):
    return synthetic_sources.ids("train")[:10]


def test_id_stream_reshuffles_every_epoch(ten_ids):
    stream = pipeline.id_stream(ten_ids, seed=0, stream=0)
    epochs = [[stream[e * 10 + k] for k in range(10)] for e in range(3)]
    assert all(sorted(epoch) == list(ten_ids) for epoch in epochs)
    assert epochs[0] != epochs[1] != epochs[2]
    assert [pipeline.id_stream(ten_ids, seed=1, stream=0)[k] for k in range(10)] != epochs[0]


def test_pipeline_batches_equal_the_eager_transform(synthetic_sources, ten_ids):
    batches = pipeline.labeled_batches(synthetic_sources, ten_ids, CFG, seed=5)
    stream = pipeline.id_stream(ten_ids, seed=5, stream=transforms.LABELED_STREAM)
    for step in range(3):  # crosses an epoch boundary (10 ids, 4 per batch)
        batch = next(batches)
        assert batch["image"].shape == (4, 64, 64, 1) and batch["image"].dtype == np.uint8
        assert batch["label"].shape == (4, 64, 64) and batch["label"].dtype == np.int32
        for slot in range(4):
            record = synthetic_sources.record(stream[step * 4 + slot])
            eager = transforms.train_transform(record, transforms.example_rng(5, step, slot), CFG)
            np.testing.assert_array_equal(batch["image"][slot], eager["image"])
            np.testing.assert_array_equal(batch["label"][slot], eager["label"])


def test_resuming_at_a_step_reproduces_its_batches(synthetic_sources, ten_ids):
    from_start = pipeline.labeled_batches(synthetic_sources, ten_ids, CFG, seed=1)
    expected = [next(from_start) for _ in range(6)][4:]
    resumed = pipeline.labeled_batches(synthetic_sources, ten_ids, CFG, seed=1, start_step=4)
    for want in expected:
        got = next(resumed)
        for key in ("image", "label"):
            np.testing.assert_array_equal(got[key], want[key])


def test_unlabeled_batches_mark_padding_and_use_their_own_draws(synthetic_sources, ten_ids):
    cfg = data_config(crop_size=96, base_size=96, scale_range=(0.5, 0.6), unlabeled_batch_size=3)
    batch = next(pipeline.unlabeled_batches(synthetic_sources, ten_ids, cfg, seed=0))
    assert batch["image"].shape == (3, 96, 96, 1) and batch["valid"].dtype == bool
    # Scale <= 0.6 of 96 px leaves padding in every crop; the hidden label is 255 exactly there.
    assert (~batch["valid"]).any(axis=(1, 2)).all()
    np.testing.assert_array_equal(batch["label"] == 255, ~batch["valid"])
    labeled = next(pipeline.labeled_batches(synthetic_sources, ten_ids, data_config(batch_size=3), seed=0))
    assert not np.array_equal(labeled["image"], batch["image"][:, :64, :64])


def test_eval_batches_cover_the_split_once_with_fixed_shapes(synthetic_sources):
    source = synthetic_sources.source("val")
    batches = list(pipeline.eval_batches(source, data_config(base_size=48, eval_batch_size=8)))
    assert len(batches) == pipeline.num_eval_batches(source, data_config(eval_batch_size=8)) == 13
    assert all(b["image"].shape == (8, 48, 48, 1) and b["label"].shape == (8, 48, 48) for b, _ in batches)
    ids = [i for _, batch_ids in batches for i in batch_ids]
    assert ids[:100] == [source[k]["id"] for k in range(100)] and ids[100:] == [""] * 4
    last, _ = batches[-1]
    assert (last["label"][4:] == 255).all() and (last["image"][4:] == 0).all()
    np.testing.assert_array_equal(last["label"][0], transforms.eval_transform(source[96], 48)["label"])


def test_empty_id_list_is_refused(synthetic_sources):
    from ssseg.errors import DataError

    with pytest.raises(DataError, match="empty id list"):
        pipeline.labeled_batches(synthetic_sources, [], CFG, seed=0)


def test_loader_bench_reports_rates(synthetic_sources):
    from ssseg.benchmark.loader import measure_loader

    for kind in ("labeled", "unlabeled", "eval"):
        result = measure_loader(CFG, kind=kind, num_batches=3, warmup_batches=1, sources=synthetic_sources)
        assert result["batches_per_s"] > 0 and result["ms_per_batch"] > 0
        assert result["image_shape"][0] == {"labeled": 4, "unlabeled": 3, "eval": 8}[kind]
    with pytest.raises(ValueError, match="expected 'labeled', 'unlabeled' or 'eval'"):
        measure_loader(CFG, kind="nope", sources=synthetic_sources)


@pytest.mark.slow
def test_worker_processes_give_the_same_batches(synthetic_sources, ten_ids):
    in_process = pipeline.labeled_batches(synthetic_sources, ten_ids, CFG, seed=2, start_step=1)
    workers_cfg = data_config(crop_size=64, batch_size=4, vflip=True, worker_count=2)
    with_workers = pipeline.labeled_batches(synthetic_sources, ten_ids, workers_cfg, seed=2, start_step=1)
    for _ in range(4):
        want, got = next(in_process), next(with_workers)
        for key in ("image", "label"):
            np.testing.assert_array_equal(got[key], want[key])
