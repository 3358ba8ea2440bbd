"""Image corruptions: documented parameters (MedMNIST-C chest set), determinism, severity order."""

from __future__ import annotations

import numpy as np
import pytest

from fairaudit.errors import ConfigError
from fairaudit.models.corruptions import CORRUPTION_NAMES, CORRUPTIONS, corrupt, parameter_table
from fairaudit.stress_result import STRESS_CORRUPTIONS

# MedMNIST-C (Di Salvo et al. 2024), medmnistc/corruptions/registry.py, 'chestmnist'.
MEDMNIST_C_CHEST = {
    "gaussian_noise": (0.04, 0.08, 0.12, 0.18, 0.26),
    "shot_noise": (60, 25, 18, 10, 5),
    "contrast": (0.9, 0.8, 0.7, 0.6, 0.4),  # contrast_down
    "brightness": (0.9, 0.8, 0.7, 0.6, 0.5),  # brightness_down
    "gamma": (1.1, 1.2, 1.3, 1.4, 1.6),  # gamma_corr_up
    "jpeg": (50, 30, 15, 10, 7),
    "pixelate": (0.30, 0.25, 0.20, 0.15, 0.10),
}


def _images(n: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    base = 0.2 + 0.5 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.05)
    return np.clip(base[None] + 0.05 * rng.standard_normal((n, 64, 64)), 0, 1).astype(np.float32)


def test_parameters_are_the_documented_medmnist_c_ones() -> None:
    for name, params in MEDMNIST_C_CHEST.items():
        assert CORRUPTIONS[name].parameters == pytest.approx(params), name
    # gaussian_blur: torchvision's sigma for MedMNIST-C's kernels 3..11: 0.3 * ((k - 1) / 2 - 1) + 0.8
    sigmas = [0.3 * ((k - 1) * 0.5 - 1) + 0.8 for k in (3, 5, 7, 9, 11)]
    assert CORRUPTIONS["gaussian_blur"].parameters == pytest.approx(sigmas)
    assert [r["name"] for r in parameter_table()] == list(CORRUPTION_NAMES)
    assert CORRUPTION_NAMES == STRESS_CORRUPTIONS  # the layer-0 list the gate validates against


@pytest.mark.parametrize("name", CORRUPTION_NAMES)
def test_deterministic_on_the_8_bit_grid_and_independent_of_batching(name: str) -> None:
    x = _images()
    a = corrupt(x, name, 3, seed=5, keys=np.arange(10, 16))
    b = corrupt(x, name, 3, seed=5, keys=np.arange(10, 16))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == x.shape
    assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_allclose(a * 255, np.rint(a * 255), atol=1e-4)
    # Image i's corruption depends on its key, not on the other images in the batch.
    one = corrupt(x[2:3], name, 3, seed=5, keys=np.array([12]))
    np.testing.assert_array_equal(one[0], a[2])
    assert not np.array_equal(a, np.rint(x * 255) / 255)  # it does change the images


@pytest.mark.parametrize("name", ["gaussian_noise", "shot_noise"])
def test_noise_depends_on_seed(name: str) -> None:
    x = _images()
    assert not np.array_equal(corrupt(x, name, 2, seed=0), corrupt(x, name, 2, seed=1))


def test_severity_orders_the_damage() -> None:
    x = _images(4)
    clean = np.rint(x * 255) / 255
    for name in CORRUPTION_NAMES:
        err = [float(np.abs(corrupt(x, name, s, seed=0) - clean).mean()) for s in (1, 3, 5)]
        assert err[0] < err[1] < err[2], (name, err)


def test_known_values() -> None:
    x = np.full((1, 64, 64), 0.5, np.float32)
    assert corrupt(x, "brightness", 5)[0, 0, 0] == pytest.approx(np.rint(0.25 * 255) / 255)
    assert corrupt(x, "gamma", 5)[0, 0, 0] == pytest.approx(np.rint(0.5 ** 1.6 * 255) / 255)
    noisy = corrupt(np.full((1, 256, 256), 0.5, np.float32), "gaussian_noise", 4)
    assert noisy.std() == pytest.approx(0.18, rel=0.05)


def test_bad_requests_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="corruption must be one of"):
        corrupt(_images(1), "fog", 1)
    with pytest.raises(ConfigError, match="severity must be"):
        corrupt(_images(1), "jpeg", 6)
    with pytest.raises(ConfigError, match="keys must have"):
        corrupt(_images(2), "jpeg", 1, keys=np.arange(3))
