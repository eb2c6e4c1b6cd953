"""Reference outputs of the official UniMatch code, for tests/test_peer_parity.py (no torch there).

Run once beside the peer, in a torch venv outside the project (`python3 -m venv /work/peer/venv &&
/work/peer/venv/bin/pip install torch numpy`; the peer's code from `git archive HEAD model util`):

    /work/peer/venv/bin/python benchmarks/peer_reference.py --src /work/peer --out tests/fixtures/peer_reference.npz

--src holds the peer's model/ and util/ (git archive of LiheYoung/UniMatch). Writes:
1. its DeepLabV3+ R50 (deep stem, OS16, ASPP 6/12/18, 4 classes) filled with
   ssseg.benchmark.parity.seeded_state_dict(seed 0): the key shapes, the logits of
   a 1x3x65x65 input in eval mode and of a 2x3x65x65 input in train mode;
2. UniMatch's loss (unimatch.py's formula, copied into `official_unimatch_loss`
   below as the formula, not as code of ours) on fixed random logits, labels,
   ignore masks and CutMix boxes, with the mix partner = the weak batch rolled by one.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ssseg.benchmark.parity import seeded_state_dict  # noqa: E402

NUM_CLASSES, CONF_THRESH = 4, 0.95


def official_unimatch_loss(torch, pred_x, mask_x, pred_u_w, pred_u_w_fp, pred_u_s1, pred_u_s2, pred_u_w_mix,
                           ignore_mask, ignore_mask_mix, box1, box2):
    """unimatch.py, lines 'conf_u_w_mix = ...' to 'loss = (loss_x + ...) / 2.0', on NCHW logits."""
    ce_l = torch.nn.CrossEntropyLoss(ignore_index=255)
    ce_u = torch.nn.CrossEntropyLoss(reduction="none")
    conf_u_w_mix, mask_u_w_mix = pred_u_w_mix.softmax(dim=1).max(dim=1)
    conf_u_w, mask_u_w = pred_u_w.softmax(dim=1).max(dim=1)
    terms = []
    for pred_s, box in ((pred_u_s1, box1), (pred_u_s2, box2)):
        mask_c, conf_c, ignore_c = mask_u_w.clone(), conf_u_w.clone(), ignore_mask.clone()
        mask_c[box == 1] = mask_u_w_mix[box == 1]
        conf_c[box == 1] = conf_u_w_mix[box == 1]
        ignore_c[box == 1] = ignore_mask_mix[box == 1]
        loss_s = ce_u(pred_s, mask_c) * ((conf_c >= CONF_THRESH) & (ignore_c != 255))
        terms.append(loss_s.sum() / (ignore_c != 255).sum().item())
    loss_fp = ce_u(pred_u_w_fp, mask_u_w) * ((conf_u_w >= CONF_THRESH) & (ignore_mask != 255))
    loss_fp = loss_fp.sum() / (ignore_mask != 255).sum().item()
    loss_x = ce_l(pred_x, mask_x)
    loss = (loss_x + terms[0] * 0.25 + terms[1] * 0.25 + loss_fp * 0.5) / 2.0
    return {"loss": loss, "loss_x": loss_x, "loss_s1": terms[0], "loss_s2": terms[1], "loss_fp": loss_fp}


def loss_case(torch, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    b, h, w, k = 3, 9, 11, NUM_CLASSES
    # Sharp logits (scale 6) so that some pixels pass the 0.95 threshold and some do not.
    arrays = {name: (6.0 * rng.normal(size=(b, k, h, w))).astype(np.float32)
              for name in ("pred_x", "pred_u_w", "pred_u_w_fp", "pred_u_s1", "pred_u_s2")}
    arrays["mask_x"] = rng.integers(0, k, (b, h, w)).astype(np.int64)
    arrays["mask_x"][:, 0, :3] = 255
    ignore = np.zeros((b, h, w), np.int64)
    ignore[:, -2:, :] = 255  # padding rows
    ignore[1, :, -3:] = 255
    arrays["ignore_mask"] = ignore
    for name in ("box1", "box2"):
        box = np.zeros((b, h, w), np.int64)
        for i in range(b):
            y, x = rng.integers(0, h - 3), rng.integers(0, w - 3)
            box[i, y:y + rng.integers(2, 5), x:x + rng.integers(2, 6)] = 1
        arrays[name] = box
    t = {n: torch.from_numpy(a) for n, a in arrays.items()}
    # ssseg's CutMix partner is the batch rolled by one (methods/unimatch.py): the mix stream is that.
    losses = official_unimatch_loss(
        torch, t["pred_x"], t["mask_x"], t["pred_u_w"], t["pred_u_w_fp"], t["pred_u_s1"], t["pred_u_s2"],
        torch.roll(t["pred_u_w"], 1, 0), t["ignore_mask"], torch.roll(t["ignore_mask"], 1, 0), t["box1"], t["box2"])
    return {**{f"loss_in_{n}": a for n, a in arrays.items()}, **{f"loss_out_{n}": np.float32(v.item())
                                                                   for n, v in losses.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True)
    parser.add_argument("--out", default="tests/fixtures/peer_reference.npz")
    args = parser.parse_args()
    sys.path.insert(0, args.src)
    import torch

    import model.backbone.resnet as resnet

    real = resnet.resnet50
    resnet.resnet50 = lambda pretrained=True, **kw: real(pretrained=False, **kw)  # no download
    from model.semseg.deeplabv3plus import DeepLabV3Plus

    torch.manual_seed(0)
    net = DeepLabV3Plus({"backbone": "resnet50", "replace_stride_with_dilation": [False, False, True],
                         "dilations": [6, 12, 18], "nclass": NUM_CLASSES})
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    weights = seeded_state_dict(shapes, seed=0)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=False)
    rng = np.random.default_rng(0)
    x_eval = rng.normal(size=(1, 3, 65, 65)).astype(np.float32)
    x_train = rng.normal(size=(2, 3, 65, 65)).astype(np.float32)
    with torch.no_grad():
        net.eval()
        logits_eval = net(torch.from_numpy(x_eval)).numpy()
        net.train()  # batch statistics; the running averages it updates are not recorded
        logits_train = net(torch.from_numpy(x_train)).numpy()
    keys = sorted(shapes)
    np.savez_compressed(
        args.out, keys=np.array(keys), shapes=np.array([",".join(map(str, shapes[k])) for k in keys]),
        x_eval=x_eval, logits_eval=logits_eval, x_train=x_train, logits_train=logits_train,
        torch_version=np.array(torch.__version__), **loss_case(torch))
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes), torch {torch.__version__}")


if __name__ == "__main__":
    main()
