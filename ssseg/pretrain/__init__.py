"""Self-supervised pretraining pieces shared by the `pretrain_*` methods:
two-view generation with exact pixel correspondence (views), projection heads
(heads), the BYOL/PixPro objectives (objectives), the train-state layout with
an EMA target (layout) and the linear probe that reports progress (probe)."""
