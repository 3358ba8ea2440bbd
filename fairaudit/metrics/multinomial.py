"""Exact multinomial counts by Poissonisation, at a cost in cells rather than in binomials.

The row bootstrap redraws ``n`` rows with replacement: the counts of the K cells are
Multinomial(n, m / n), where ``m`` holds the cells' row counts. NumPy draws that as K
conditional binomials, each with its own set-up (about 80 ns a cell for 5,000 cells of 1M rows,
``benchmarks/bench_kernels.py``). Here the cells' set-up is
done once for all replicates:

1. Each cell draws Poisson(s m_i) with ``s = 1 - 3 / sqrt(n)`` (at least 1/2), independently.
   Given their sum S, Poisson counts are Multinomial(S, m / n).
2. If S > n (probability about 0.13 %), the replicate is drawn again. Rejecting on S alone
   leaves the counts given S multinomial, so this is exact.
3. The n - S missing rows (about 3 sqrt(n)) are drawn uniformly from the n rows and counted in
   their cells: Multinomial(S, p) + Multinomial(n - S, p) = Multinomial(n, p).

A cell whose mean is below 10 inverts one uniform, walking the CDF from the mode (the mode,
its probability and CDF computed once per cell), with no transcendental function per draw.
From 10 up, Hoermann's transformed rejection with squeeze (PTRS, "The transformed rejection
method for generating Poisson random variables", 1993; what NumPy uses too) takes two uniforms
an attempt, about 1.2 attempts a draw, and a logarithm in about a third of them; its constants
are computed once per cell. The inversion is exact up to floating-point rounding of the CDF
(below 1e-13), as NumPy's own samplers are.

Randomness is counter-based: the uniform of cell i in a replicate is splitmix64's i-th output
from the replicate's key (mixed with the round), and the missing rows' candidates come from a
second key; a candidate row is the top bits of an output, rejected when not below n (exactly
uniform). So the twin evaluates all cells at once, and a replicate's counts depend on its key
only. The twin's arithmetic is the kernel's, step by step, so the counts are the same, with
one caveat: NumPy's vectorised logarithm and the C library's differ in the last bit for about
0.2 % of arguments, which changes a PTRS acceptance only if its two sides agree to that bit
(probability about 1e-16 per test).
"""

from __future__ import annotations

import math

import numpy as np

from fairaudit.metrics.poisson import splitmix64

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_SALT = np.uint64(0xD1B54A32D192ED03)
_ATTEMPT_BITS = np.uint64(20)
MARGIN_SD = 3.0
"""The Poisson means are scaled this many standard deviations of S below n (step 1)."""
PTRS_FROM = 10.0
"""Means from which a cell's variate is drawn by PTRS rather than by inversion."""
N_LOGFACT = 256
"""log k! is read from a table below this k, from Stirling's series above."""


class PoissonisedMultinomial:
    """Multinomial(n, m / n) counts of the K cells with row counts ``m`` (whole numbers > 0).

    Attributes read by the compiled kernel: ``params`` (K, 6), each cell's Poisson law (mean,
    mode, P(mode), CDF(mode), -, -) below ``PTRS_FROM``, else (mean, b, a, v_r, log mean,
    log(1/alpha)); ``logfact``; ``cum`` (K + 1,) the first row of each cell; ``guide`` and
    ``guide_shift``: the cell of row ``b << guide_shift`` for every ``b``; ``nbits`` the bits
    of a candidate row; ``n`` the rows.
    """

    def __init__(self, m: np.ndarray) -> None:
        m = np.asarray(m, dtype=np.int64)
        if m.ndim != 1 or m.size == 0 or (m <= 0).any():
            raise ValueError("cell counts must be a non-empty vector of positive whole numbers")
        self.n = int(m.sum())
        self.params = poisson_params(m * max(0.5, 1.0 - MARGIN_SD / np.sqrt(self.n)))
        self.logfact = np.array([math.lgamma(k + 1.0) for k in range(N_LOGFACT)])
        self.cum = np.concatenate([[0], np.cumsum(m)]).astype(np.int64)
        self.nbits = max(1, (self.n - 1).bit_length())
        g = max(1, int(m.size).bit_length())  # at least K guide entries
        self.guide_shift = max(0, self.nbits - g)
        starts = np.arange(((self.n - 1) >> self.guide_shift) + 1, dtype=np.int64) << self.guide_shift
        self.guide = np.searchsorted(self.cum[1:], starts, side="right").astype(np.int32)

    def draw(self, keys: np.ndarray, out: np.ndarray, at: np.ndarray) -> int:
        """Write replicate ``j``'s counts (from ``keys[j]``, uint64) to ``out[j, at]``; ``out``
        is (len(keys), columns) float64. Returns how many replicates were redrawn (step 2)."""
        from fairaudit.metrics import kernels

        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        at = np.ascontiguousarray(at, dtype=np.int64)
        if self.params.shape[0] == 1:  # one cell holds every row
            out[:, at] = self.n
            return 0
        if kernels.available():
            return kernels.multinomial_poisson(keys, self, out, at)
        counts, redrawn = self._draw_numpy(keys)
        out[:, at] = counts
        return redrawn

    def _draw_numpy(self, keys: np.ndarray) -> tuple[np.ndarray, int]:
        """The NumPy twin of the compiled kernel: (len(keys), K) counts."""
        r, k = keys.size, self.params.shape[0]
        counts = np.empty((r, k))
        key = np.empty(r, dtype=np.uint64)
        rounds = np.zeros(r, dtype=np.uint64)
        todo = np.arange(r)
        redrawn = 0
        small = self.params[:, 0] < PTRS_FROM
        first = np.arange(k, dtype=np.uint64) << _ATTEMPT_BITS  # each cell's first counter
        with np.errstate(over="ignore"):
            while todo.size:
                key[todo] = splitmix64(keys[todo] ^ rounds[todo])
                c = np.empty((todo.size, k))
                u = _unit(splitmix64(key[todo, None] + first[None, small] * _GAMMA))
                c[:, small] = poisson_inverse(u, self.params[small])
                c[:, ~small] = poisson_ptrs(key[todo], first[~small], self.params[~small], self.logfact)
                counts[todo] = c
                over = c.sum(axis=1) > self.n  # whole numbers: exact in any order
                redrawn += int(over.sum())
                rounds[todo[over]] += np.uint64(1)
                todo = todo[over]
            need = self.n - counts.sum(axis=1).astype(np.int64)
            for j in np.flatnonzero(need > 0):
                rows = self._missing_rows(splitmix64(key[j] ^ _SALT), int(need[j]))
                counts[j] += np.bincount(np.searchsorted(self.cum[1:], rows, side="right"), minlength=k)
        return counts, redrawn

    def _missing_rows(self, key2: np.ndarray, need: int) -> np.ndarray:
        """The first ``need`` accepted candidate rows of the stream from ``key2``."""
        shift = np.uint64(64 - self.nbits)
        found: list[np.ndarray] = []
        have, t = 0, 0
        with np.errstate(over="ignore"):
            while have < need:
                batch = max(64, 2 * (need - have))
                v = splitmix64(key2 + np.arange(t, t + batch, dtype=np.uint64) * _GAMMA) >> shift
                ok = v[v < np.uint64(self.n)].astype(np.int64)
                found.append(ok[: need - have])
                have += found[-1].size
                t += batch
        return np.concatenate(found)


def poisson_params(lam: np.ndarray) -> np.ndarray:
    """Each Poisson mean's row of (K, 6) parameters as the kernel reads them (see
    :class:`PoissonisedMultinomial`): for inversion below ``PTRS_FROM``, for PTRS from there."""
    lam = np.asarray(lam, dtype=np.float64)
    params = np.zeros((lam.size, 6))
    params[:, 0] = lam
    small = lam < PTRS_FROM
    params[small, 1:4] = np.stack(_mode_pmf_cdf(lam[small]), axis=1)
    big = lam[~small]
    b = 0.931 + 2.53 * np.sqrt(big)
    a = -0.059 + 0.02483 * b
    params[~small, 1:] = np.stack(
        [b, a, 0.9277 - 3.6224 / (b - 2.0), np.log(big), np.log(1.1239 + 1.1328 / (b - 3.4))], axis=1)
    return params


def _mode_pmf_cdf(lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mode, probability and CDF at the mode of Poisson(lam) for means below ``PTRS_FROM``:
    the probabilities by their recurrence from exp(-lam), summed (at most ten positive terms,
    so no cancellation; without SciPy, whose import would hold up a cold start)."""
    mode = np.floor(lam)
    p = np.exp(-lam)
    cdf = p.copy()
    pm = p.copy()
    for j in range(1, int(PTRS_FROM)):
        p = p * lam / j
        inside = j <= mode
        cdf = np.where(inside, cdf + p, cdf)
        pm = np.where(j == mode, p, pm)
    return mode, pm, cdf


def _unit(h: np.ndarray) -> np.ndarray:
    """Uniforms in [0, 1) from the top 53 bits of uint64 hashes."""
    return (h >> np.uint64(11)).astype(np.int64) * 2.0**-53


def poisson_inverse(u: np.ndarray, params: np.ndarray) -> np.ndarray:
    """The smallest k with ``u < CDF(k)``, walking from the mode, for uniforms ``u`` (r, K)
    and the cells' (K, 6) parameters: the compiled kernel's steps, element by element."""
    shape = u.shape
    u = u.ravel()
    lam, k, p, f = (np.broadcast_to(params[:, i], shape).ravel().copy() for i in range(4))
    down = u < f
    idx = np.flatnonzero(down & (k > 0))
    while idx.size:  # down while u lies below CDF(k - 1)
        below = f[idx] - p[idx]
        go = u[idx] < below
        idx, below = idx[go], below[go]
        f[idx] = below
        p[idx] = p[idx] * (k[idx] / lam[idx])
        k[idx] -= 1.0
        idx = idx[k[idx] > 0]
    idx = np.flatnonzero(~down)
    while idx.size:  # up while u is not below CDF(k), unless the CDF stops growing
        k[idx] += 1.0
        p[idx] = p[idx] * (lam[idx] / k[idx])
        nxt = f[idx] + p[idx]
        grows = nxt != f[idx]
        f[idx] = nxt
        idx = idx[grows & (u[idx] >= nxt)]
    return k.reshape(shape)


def log_factorial(k: np.ndarray, logfact: np.ndarray) -> np.ndarray:
    """log k! from the table below its size, from Stirling's series above (the kernel's
    formula)."""
    x = k + 1.0
    x2 = x * x
    with np.errstate(divide="ignore", invalid="ignore"):
        series = (x - 0.5) * np.log(x) - x + 0.91893853320467274178 + (
            1.0 / 12.0 - (1.0 / 360.0 - 1.0 / (1260.0 * x2)) / x2) / x
    inside = k < logfact.size
    return np.where(inside, logfact[np.where(inside, k, 0).astype(np.int64)], series)


def poisson_ptrs(key: np.ndarray, first: np.ndarray, params: np.ndarray,
                 logfact: np.ndarray) -> np.ndarray:
    """PTRS variates (len(key), K) for replicate keys ``key`` and cells whose first counters
    are ``first`` (K,): every cell's attempts in turn, as the compiled kernel makes them."""
    r, k = key.size, first.size
    lam, b, a, vr, loglam, lia = (np.broadcast_to(params[:, i], (r, k)).ravel() for i in range(6))
    key_all = np.repeat(key, k)
    counter = np.tile(first, r)
    out = np.empty(r * k)
    idx = np.arange(r * k)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        while idx.size:
            cnt = counter[idx]
            uu = _unit(splitmix64(key_all[idx] + cnt * _GAMMA)) - 0.5
            v = _unit(splitmix64(key_all[idx] + (cnt + np.uint64(1)) * _GAMMA))
            counter[idx] = cnt + np.uint64(2)
            us = 0.5 - np.abs(uu)
            kk = np.floor((2.0 * a[idx] / us + b[idx]) * uu + lam[idx] + 0.43)
            fast = (us >= 0.07) & (v <= vr[idx])
            retry = ~fast & ((kk < 0.0) | ((us < 0.013) & (v > us)))
            test = np.flatnonzero(~fast & ~retry)
            ok = fast.copy()
            ok[test] = (np.log(v[test]) + lia[idx[test]] - np.log(a[idx[test]] / (us[test] * us[test]) + b[idx[test]])
                        <= -lam[idx[test]] + kk[test] * loglam[idx[test]] - log_factorial(kk[test], logfact))
            out[idx[ok]] = kk[ok]
            idx = idx[~ok]
    return out.reshape(r, k)
