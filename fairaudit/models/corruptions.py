"""Image corruptions at five severities (numpy, scipy and Pillow only).

The corruption set and its severity parameters follow MedMNIST-C's chest-radiograph
(``chestmnist``) set: Di Salvo, Doerrich, Ledig, "MedMNIST-C: Comprehensive benchmark and
improved classifier robustness by simulating realistic image corruptions", arXiv:2406.17536
(2024), parameters from its ``medmnistc/corruptions/registry.py``. Where this module differs
(see ``docs/stress.md``): the corruptions are re-implemented here, not imported; images are
taken as floats in [0, 1] and the result is rounded to 8-bit codes (MedMNIST-C truncates);
Gaussian blur takes the standard deviation that torchvision derives from MedMNIST-C's kernel
sizes 3-11 and applies it to our 64x64 images (MedMNIST-C blurs at 224x224, so relative to
the image our blur is stronger); noise is drawn per image from a generator seeded by
``(seed, corruption, severity, key)`` so a corrupted image does not depend on batching or
row order.

Each corruption is ``f(images, parameter, rngs) -> images`` on an (N, H, W) float array.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fairaudit.errors import ConfigError

SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Corruption:
    """One corruption: its parameter at each severity, their meaning, and the reference."""

    name: str
    parameters: tuple[float, ...]
    parameter: str
    """What the parameter is (units)."""
    reference: str
    """MedMNIST-C chestmnist corruption and parameters this follows, and any difference."""
    apply: Callable[[np.ndarray, float, Sequence[np.random.Generator]], np.ndarray]
    random: bool = False


def _gaussian_noise(x: np.ndarray, sd: float, rngs: Sequence[np.random.Generator]) -> np.ndarray:
    noise = np.stack([r.normal(0.0, sd, x.shape[1:]) for r in rngs])
    return x + noise


def _shot_noise(x: np.ndarray, photons: float, rngs: Sequence[np.random.Generator]) -> np.ndarray:
    lam = np.clip(x, 0.0, 1.0) * photons
    return np.stack([r.poisson(lam[i]) for i, r in enumerate(rngs)]) / photons


def _gaussian_blur(x: np.ndarray, sigma: float, rngs: Sequence[np.random.Generator]) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(x, sigma=(0.0, sigma, sigma), mode="reflect", truncate=3.0)


def _contrast(x: np.ndarray, factor: float, rngs: Sequence[np.random.Generator]) -> np.ndarray:
    # Pillow's ImageEnhance.Contrast: blend with the image's mean grey level.
    mean = x.mean(axis=(1, 2), keepdims=True)
    return mean + factor * (x - mean)


def _brightness(x: np.ndarray, factor: float, rngs: Sequence[np.random.Generator]) -> np.ndarray:
    # Pillow's ImageEnhance.Brightness: blend with black.
    return x * factor


def _gamma(x: np.ndarray, gamma: float, rngs: Sequence[np.random.Generator]) -> np.ndarray:
    # torchvision's adjust_gamma with gain 1.
    return np.clip(x, 0.0, 1.0) ** gamma


def _to_pil(img: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.rint(np.clip(img, 0.0, 1.0) * 255).astype(np.uint8), mode="L")


def _jpeg(x: np.ndarray, quality: float, rngs: Sequence[np.random.Generator]) -> np.ndarray:
    from PIL import Image

    out = np.empty_like(x)
    for i, img in enumerate(x):
        buf = io.BytesIO()
        _to_pil(img).save(buf, format="JPEG", quality=int(quality))
        buf.seek(0)
        with Image.open(buf) as im:
            out[i] = np.asarray(im, dtype=np.float32) / 255.0
    return out


def _pixelate(x: np.ndarray, factor: float, rngs: Sequence[np.random.Generator]) -> np.ndarray:
    from PIL import Image

    h, w = x.shape[1:]
    small = (max(1, int(w * factor)), max(1, int(h * factor)))
    out = np.empty_like(x)
    for i, img in enumerate(x):
        im = _to_pil(img).resize(small, Image.Resampling.BOX).resize((w, h), Image.Resampling.BOX)
        out[i] = np.asarray(im, dtype=np.float32) / 255.0
    return out


_REF = "MedMNIST-C chestmnist"
CORRUPTIONS: dict[str, Corruption] = {c.name: c for c in (
    Corruption("gaussian_noise", (0.04, 0.08, 0.12, 0.18, 0.26), "noise SD (intensity in [0, 1])",
               f"{_REF} gaussian_noise, same parameters", _gaussian_noise, random=True),
    Corruption("shot_noise", (60.0, 25.0, 18.0, 10.0, 5.0), "photons per unit intensity (Poisson)",
               f"{_REF} shot_noise, same parameters", _shot_noise, random=True),
    Corruption("gaussian_blur", (0.8, 1.1, 1.4, 1.7, 2.0), "Gaussian SD in pixels",
               f"{_REF} gaussian_blur kernels 3-11 (torchvision's SD for each), applied at 64 px "
               "instead of 224 px", _gaussian_blur),
    Corruption("contrast", (0.9, 0.8, 0.7, 0.6, 0.4), "contrast factor (blend with mean grey)",
               f"{_REF} contrast_down, same parameters", _contrast),
    Corruption("brightness", (0.9, 0.8, 0.7, 0.6, 0.5), "brightness factor (blend with black)",
               f"{_REF} brightness_down, same parameters", _brightness),
    Corruption("gamma", (1.1, 1.2, 1.3, 1.4, 1.6), "gamma exponent (gain 1)",
               f"{_REF} gamma_corr_up, same parameters", _gamma),
    Corruption("jpeg", (50.0, 30.0, 15.0, 10.0, 7.0), "JPEG quality (Pillow)",
               f"{_REF} jpeg_compression, same parameters", _jpeg),
    Corruption("pixelate", (0.30, 0.25, 0.20, 0.15, 0.10), "down-sampling factor (Pillow box)",
               f"{_REF} pixelate, same factors (at 64 px: 19 to 6 pixels across)", _pixelate),
)}
CORRUPTION_NAMES: tuple[str, ...] = tuple(CORRUPTIONS)


def check_corruption(name: str, severity: int) -> Corruption:
    """The corruption called ``name``; ConfigError naming the allowed values otherwise."""
    if name not in CORRUPTIONS:
        raise ConfigError(f"corruption must be one of {', '.join(CORRUPTION_NAMES)}; got {name!r}.")
    if severity not in SEVERITIES:
        raise ConfigError(f"severity must be an integer from 1 to 5; got {severity!r}.")
    return CORRUPTIONS[name]


def corrupt(images: np.ndarray, name: str, severity: int, *, seed: int = 0,
            keys: np.ndarray | None = None) -> np.ndarray:
    """Corrupt a batch of grayscale images.

    Parameters
    ----------
    images : ndarray, shape (N, H, W) or (H, W)
        Intensities in [0, 1].
    name : str
        One of :data:`CORRUPTION_NAMES`.
    severity : int
        1 (mildest) to 5.
    seed : int
        Seed of the noise corruptions.
    keys : ndarray of int, shape (N,), optional
        One key per image (e.g. its row in the data); image ``i``'s noise comes from a
        generator seeded by ``(seed, corruption, severity, keys[i])``, so it is the same in any
        batch. Defaults to ``0..N-1``.

    Returns
    -------
    ndarray of float32, same shape, values on the 8-bit grid in [0, 1]
    """
    c = check_corruption(name, severity)
    x = np.asarray(images, dtype=np.float32)
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3:
        raise ConfigError(f"images must have shape (N, H, W); got {tuple(np.shape(images))}.")
    keys = np.arange(len(x)) if keys is None else np.asarray(keys, dtype=np.int64)
    if keys.shape != (len(x),):
        raise ConfigError(f"keys must have one entry per image ({len(x)}); got {keys.shape}.")
    code = CORRUPTION_NAMES.index(name)
    rngs = ([np.random.default_rng([int(seed), code, int(severity), int(k)]) for k in keys]
            if c.random else [])
    out = c.apply(x.astype(np.float64), c.parameters[severity - 1], rngs)
    out = (np.rint(np.clip(out, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)
    return out[0] if single else out


def parameter_table() -> list[dict[str, object]]:
    """One row per corruption: name, parameter meaning, the five parameters, the reference."""
    return [{"name": c.name, "parameter": c.parameter, "severities": list(c.parameters),
             "reference": c.reference} for c in CORRUPTIONS.values()]
