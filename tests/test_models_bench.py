"""The throughput benchmark runs end to end and reports positive figures."""

import pytest

from ssseg.models.bench import train_throughput


@pytest.mark.slow
def test_train_throughput_small_unet_reports_positive_rates(capsys):
    result = train_throughput({"arch": "unet", "width": 4}, image_size=32, batch_size=2, num_classes=3,
                              in_channels=1, steps=2, warmup=1)
    assert result["img_per_s"] > 0 and result["step_ms"] > 0 and result["cpu_s_per_step"] > 0
    assert result["params"] > 10_000
    assert "img/s train" in capsys.readouterr().out
