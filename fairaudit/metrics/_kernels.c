/*
 * Compiled kernels of the audit: the cells' row pass, group sums, the bootstrap's resamplers and
 * replicate metrics, permutation tables, and beta quantiles (fairaudit.metrics.kernels loads
 * them with ctypes).
 *
 * Plain C over caller-owned arrays: no Python objects are touched, so ctypes calls them with
 * the GIL released and the audit's threads run them side by side. Each replicate is computed
 * on its own, in a fixed order, so a replicate's numbers do not depend on the chunk or the
 * thread that computes it. The Python side (kernels.py, replicates.py) documents the layouts
 * and keeps a NumPy (for beta quantiles, SciPy) version of every kernel that gives the same
 * numbers (counts, group sums and AUC numerators exactly; Brier and ECE sums up to rounding;
 * beta quantiles to about 1e-12).
 *
 * setuptools builds the file as an extension module (so the loader finds it by the import
 * system's rules), but it needs no Python headers: it is loaded with ctypes, never imported.
 * PyInit__kernels exists only for linkers that require a module's entry point; it returns
 * NULL, so an `import` of the file fails cleanly instead of running anything.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(_WIN32)
#define FA_EXPORT __declspec(dllexport)
#else
#define FA_EXPORT __attribute__((visibility("default")))
#endif

#define FA_LINEAR 15 /* tn, fp, fn, tp, Brier numerator, ECE differences in 10 bins */

/* Version of the kernels' calling conventions; kernels.py refuses another one. */
FA_EXPORT int64_t fa_abi_version(void) { return 14; }

/*
 * Row bootstrap from raw random bits: each 32-bit value becomes a uniform row in [0, n) by
 * Lemire's multiply-shift, and that row's cell is counted (out is zeroed by the caller). A value
 * whose low product falls below 2^32 mod n is rejected (that keeps the rows exactly uniform;
 * probability below n / 2^32): the return value is the number rejected, for the caller to
 * redraw.
 */
FA_EXPORT int64_t fa_count_uniform32(int64_t n_bits, const uint32_t *bits, uint32_t n,
                                     const int32_t *cell, double *out)
{
    const uint32_t reject_below = (uint32_t)(0u - n) % n;
    int64_t rejected = 0;
    for (int64_t i = 0; i < n_bits; ++i) {
        const uint64_t m = (uint64_t)bits[i] * n;
        if ((uint32_t)m < reject_below) {
            ++rejected;
            continue;
        }
        out[cell[m >> 32]] += 1.0;
    }
    return rejected;
}

/*
 * Exact multinomial cell counts by Poissonisation (fairaudit.metrics.multinomial documents the
 * method and keeps the NumPy twin, which gives the same counts).
 *
 * Replicate j: with key = sm(keys[j] ^ round), cell i draws a Poisson variate from the uniforms
 * sm(key + ((i << 20) + t) * GAMMA), t = 0, 1, ...; the counts are written to
 * out[j * ldo + at[i]]. Row i of params (6 values) describes cell i's Poisson law:
 *   mean below PTRS_FROM: (mean, mode, P(mode), CDF(mode), -, -), drawn by inversion of one
 *     uniform walking the CDF from the mode;
 *   otherwise: (mean, b, a, v_r, log mean, log(1 / alpha)), the constants of Hoermann's
 *     transformed rejection (PTRS), two uniforms an attempt; log k! from logfact[k] below
 *     n_logfact, else from Stirling's series.
 * If the counts add up to more than n, the replicate is drawn again with the next round
 * (returned: how many rounds were redrawn). The n - sum missing rows are then drawn uniformly
 * from the n rows (cell i holds rows cum[i] .. cum[i + 1] - 1): candidate t is the top nbits bits
 * of sm(key2 + t * GAMMA), key2 = sm(key ^ SALT), rejected when not below n; its cell is found
 * from guide[v >> guide_shift] (the cell of row (v >> guide_shift) << guide_shift) by a forward
 * scan.
 *
 * sm is splitmix64's output function of (x + GAMMA), so sm(key + c * GAMMA) is the c-th output
 * of splitmix64 seeded with key: a counter-based stream, which the NumPy twin evaluates for all
 * cells at once.
 */
#define FA_GAMMA 0x9E3779B97F4A7C15ull
#define FA_SHORT_SALT 0xD1B54A32D192ED03ull
#define FA_PTRS_FROM 10.0
#define FA_ATTEMPT_BITS 20

static inline uint64_t fa_sm(uint64_t x)
{
    uint64_t z = x + FA_GAMMA;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline double fa_unit(uint64_t h) { return (double)(int64_t)(h >> 11) * 0x1.0p-53; }

/* The smallest k with u < CDF(k), walking from the mode: down while u lies below CDF(k - 1),
 * up while u is not below CDF(k) (stopping if the CDF no longer grows in floating point). */
static inline double fa_poisson_inverse(double u, const double *q)
{
    const double lam = q[0];
    double k = q[1], p = q[2], F = q[3];
    if (u < F) {
        while (k > 0.0) {
            const double below = F - p;
            if (u >= below)
                break;
            F = below;
            p = p * (k / lam);
            k -= 1.0;
        }
    } else {
        while (u >= F) {
            k += 1.0;
            p = p * (lam / k);
            const double next = F + p;
            if (next == F)
                break;
            F = next;
        }
    }
    return k;
}

/* log k! (k >= 0, whole): the table, or Stirling's series from there (error below 1e-17). */
static inline double fa_logfact(double k, const double *logfact, int64_t n_logfact)
{
    if (k < (double)n_logfact)
        return logfact[(int64_t)k];
    const double x = k + 1.0, x2 = x * x;
    return (x - 0.5) * log(x) - x + 0.91893853320467274178
           + (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / (1260.0 * x2)) / x2) / x;
}

/* PTRS (Hoermann 1993): transformed rejection with a squeeze, valid for means from 10. */
static inline double fa_poisson_ptrs(uint64_t key, uint64_t c, const double *q,
                                     const double *logfact, int64_t n_logfact)
{
    const double lam = q[0], b = q[1], a = q[2], vr = q[3], loglam = q[4], lia = q[5];
    for (;;) {
        const double U = fa_unit(fa_sm(key + c * FA_GAMMA)) - 0.5;
        const double V = fa_unit(fa_sm(key + (c + 1) * FA_GAMMA));
        c += 2;
        const double us = 0.5 - fabs(U);
        const double k = floor((2.0 * a / us + b) * U + lam + 0.43);
        if (us >= 0.07 && V <= vr)
            return k;
        if (k < 0.0 || (us < 0.013 && V > us))
            continue;
        if (log(V) + lia - log(a / (us * us) + b) <= -lam + k * loglam - fa_logfact(k, logfact, n_logfact))
            return k;
    }
}

FA_EXPORT int64_t fa_multinomial_poisson(
    int64_t r, int64_t K, const uint64_t *keys, int64_t n, const double *params,
    const double *logfact, int64_t n_logfact, const int64_t *cum, const int32_t *guide,
    int64_t guide_shift, int64_t nbits, const int64_t *at, double *out, int64_t ldo)
{
    int64_t redrawn = 0;
    for (int64_t j = 0; j < r; ++j) {
        double *o = out + j * ldo;
        uint64_t key = 0;
        double total = 0.0;
        for (uint64_t round = 0;; ++round) {
            key = fa_sm(keys[j] ^ round);
            total = 0.0;
            for (int64_t i = 0; i < K; ++i) {
                const double *q = params + 6 * i;
                const uint64_t c = (uint64_t)i << FA_ATTEMPT_BITS;
                const double x = q[0] < FA_PTRS_FROM
                                     ? fa_poisson_inverse(fa_unit(fa_sm(key + c * FA_GAMMA)), q)
                                     : fa_poisson_ptrs(key, c, q, logfact, n_logfact);
                o[at[i]] = x;
                total += x;
            }
            if (total <= (double)n)
                break;
            ++redrawn;
        }
        int64_t need = n - (int64_t)total;
        const uint64_t key2 = fa_sm(key ^ FA_SHORT_SALT);
        for (uint64_t t = 0; need > 0; ++t) {
            const uint64_t v = fa_sm(key2 + t * FA_GAMMA) >> (64 - nbits);
            if (v >= (uint64_t)n)
                continue;
            int64_t i = guide[v >> guide_shift];
            while (cum[i + 1] <= (int64_t)v)
                ++i;
            o[at[i]] += 1.0;
            --need;
        }
    }
    return redrawn;
}

/*
 * Cross-group Mann-Whitney counts, exact with ties counted 1/2 (rates.pairwise_wins documents
 * them and keeps the NumPy twin). Rows are visited in score order (order[i]; fine[r] is row r's
 * fine group, labels[r] its label), a run of tied scores at a time. wins (F x F) is written:
 * wins[f1 * F + f2] = pairs (positive of f1, negative of f2) where the positive scores higher,
 * plus half the tied ones. Every value is a whole or half count, exact in double, so the order
 * of the additions does not matter.
 * scratch: 3 F doubles (negatives below the run, and the run's negatives and positives, by
 * group); touched: F int64 (the groups present in the run).
 */
FA_EXPORT void fa_pairwise_wins(int64_t n, const int64_t *order, const double *scores,
                                const int64_t *labels, const int64_t *fine, int64_t F,
                                double *wins, double *scratch, int64_t *touched)
{
    double *below = scratch, *run_neg = scratch + F, *run_pos = scratch + 2 * F;
    memset(wins, 0, sizeof(double) * (size_t)(F * F));
    memset(scratch, 0, sizeof(double) * (size_t)(3 * F));
    int64_t i = 0;
    while (i < n) {
        const double s = scores[order[i]];
        int64_t e = i + 1;
        while (e < n && scores[order[e]] == s)
            ++e;
        if (e == i + 1) { /* a score of its own: the usual case */
            const int64_t r = order[i], g = fine[r];
            if (labels[r]) {
                double *w = wins + g * F;
                for (int64_t f = 0; f < F; ++f)
                    w[f] += below[f];
            } else {
                below[g] += 1.0;
            }
            i = e;
            continue;
        }
        int64_t nt = 0;
        for (int64_t k = i; k < e; ++k) {
            const int64_t r = order[k], g = fine[r];
            if (run_pos[g] == 0.0 && run_neg[g] == 0.0)
                touched[nt++] = g;
            if (labels[r])
                run_pos[g] += 1.0;
            else
                run_neg[g] += 1.0;
        }
        for (int64_t a = 0; a < nt; ++a) {
            const int64_t g = touched[a];
            const double p = run_pos[g];
            if (p == 0.0)
                continue;
            double *w = wins + g * F;
            for (int64_t f = 0; f < F; ++f)
                w[f] += p * below[f];
            for (int64_t b = 0; b < nt; ++b)
                w[touched[b]] += 0.5 * p * run_neg[touched[b]];
        }
        for (int64_t a = 0; a < nt; ++a) {
            const int64_t g = touched[a];
            below[g] += run_neg[g];
            run_neg[g] = run_pos[g] = 0.0;
        }
        i = e;
    }
}

/*
 * The table pass of the patient bootstrap's Poisson type counts (bootstrap.TypeCounts.draw
 * documents the method and keeps the NumPy code, which gives the same numbers). For replicate
 * i and each run q of types run_a[q] .. run_b[q] - 1, type t's count is the run's lookup
 * table (65,536 entries, int16 when run_wide[q] is 0, else int64, at address run_lut[q]) at the
 * type's 16-bit cell cells[i * ldc + t], written to k[i * T + t] as a double; an entry of -1
 * marks a cell that holds a CDF value, whose (replicate, type, run) is listed in amb_rows,
 * amb_cols and amb_runs in (replicate, type) order while there is room (capacity). Returns how
 * many were found (more than capacity: call again with room for them all).
 */
FA_EXPORT int64_t fa_type_lookup(int64_t r, int64_t T, const uint16_t *cells, int64_t ldc,
                                 int64_t n_runs, const int64_t *run_a, const int64_t *run_b,
                                 const int64_t *run_lut, const int8_t *run_wide, double *k,
                                 int64_t *amb_rows, int64_t *amb_cols, int64_t *amb_runs,
                                 int64_t capacity)
{
    int64_t found = 0;
    for (int64_t i = 0; i < r; ++i) {
        const uint16_t *c = cells + i * ldc;
        double *ki = k + i * T;
        for (int64_t q = 0; q < n_runs; ++q) {
            const void *lut = (const void *)(intptr_t)run_lut[q];
            const int wide = run_wide[q] != 0; /* the same for the whole run: hoisted */
            for (int64_t t = run_a[q]; t < run_b[q]; ++t) {
                const int64_t v = wide ? ((const int64_t *)lut)[c[t]]
                                       : (int64_t)((const int16_t *)lut)[c[t]];
                ki[t] = (double)v;
                if (v < 0) {
                    if (found < capacity) {
                        amb_rows[found] = i;
                        amb_cols[found] = t;
                        amb_runs[found] = q;
                    }
                    ++found;
                }
            }
        }
    }
    return found;
}

/*
 * Random tables of the AUC permutation test, table by table (significance._tables_by_rows
 * documents them and keeps the NumPy loop, which gives the same tables): group g's row of table
 * t is a multivariate hypergeometric draw of rows[g] items from the counts the earlier groups
 * left (pool, B bins), drawn by NumPy's own C function (mvhg: numpy.random's exported
 * random_multivariate_hypergeometric_marginals, called as Generator.multivariate_hypergeometric
 * calls it) on the caller's generator (bitgen); the last group takes what is left. out is
 * (G, r, B), written. pool: B int64 of scratch.
 */
typedef void (*fa_mvhg_t)(void *bitgen, int64_t total, size_t num_colors, int64_t *colors,
                          int64_t nsample, size_t num_variates, int64_t *variates);

FA_EXPORT void fa_random_tables(int64_t r, int64_t G, int64_t B, const int64_t *rows,
                                const int64_t *cols, int64_t mvhg_address, int64_t bitgen_address,
                                int64_t *out, int64_t *pool)
{
    const fa_mvhg_t mvhg = (fa_mvhg_t)(intptr_t)mvhg_address;
    void *bitgen = (void *)(intptr_t)bitgen_address;
    for (int64_t t = 0; t < r; ++t) {
        int64_t total = 0;
        for (int64_t b = 0; b < B; ++b) {
            pool[b] = cols[b];
            total += cols[b];
        }
        for (int64_t g = 0; g + 1 < G; ++g) {
            int64_t *x = out + (g * r + t) * B;
            memset(x, 0, sizeof(int64_t) * (size_t)B);
            mvhg(bitgen, total, (size_t)B, pool, rows[g], 1, x);
            for (int64_t b = 0; b < B; ++b)
                pool[b] -= x[b];
            total -= rows[g];
        }
        if (G > 0)
            memcpy(out + ((G - 1) * r + t) * B, pool, sizeof(int64_t) * (size_t)B);
    }
}

/*
 * Linear sums and AUC numerators of every stacked group, replicate by replicate.
 *
 * x        (r, K), row stride ldx: counts of each replicate on the K input cells.
 * Input cell k has confusion entry cell_conf[k] = 2 * label + above, ECE bin cell_ece[k],
 * Brier and ECE coefficients coef_brier[k] and coef_ece[k] (per counted row) and label
 * cell_label[k].
 *
 * Input cells are sorted by (fine group, label, bin): fine group f's negatives are cells
 * fine_start[f] .. fine_pos[f] - 1 and its positives fine_pos[f] .. fine_start[f + 1] - 1, each
 * run in bin order. For a positive cell k, cell_lt[k] and cell_le[k] count the negative cells
 * of its group in lower bins, and in lower or equal bins.
 *
 * Partitions are visited in order[0..n_parts-1], every one after its source: source[p] is -1
 * (built from the input cells and the fine groups), -2 (the same, for a partition whose groups
 * are the fine groups themselves: its AUC numerators are read from each fine group's runs by a
 * merge, without slots) or an earlier partition whose groups and (group, bin) slots merge into
 * p's.
 *   group_map[gmap_start[p] + i]: p's group of fine group i (source -1) or of the source's
 *   group i; slot_map[smap_start[p] + i]: p's slot of input cell i (source -1) or of the
 *   source's slot i. Slots of p (slot_start[p] .. slot_start[p + 1]) are p's occupied
 *   (group, bin) pairs, sorted by group then bin; slot_group gives each one's group.
 *   Groups of p are columns group_offset[p] .. group_offset[p + 1] of the stacked output.
 *
 * lin_out  (15, r, G) and wins_out (r, G), G = group_offset[n_parts]: written, not added to
 *          (both may be NULL). Plane t of lin_out is sum t (tn, fp, fn, tp, Brier numerator,
 *          ECE bins 0-9).
 * Metrics: n_metrics of them, each written to row out_row0 + j of the (rows, G) array at
 *          address metric_out[m] (may be 0: not written). metric_kind[m] is
 *            0  a rate: the sum of the confusion cells in bit mask metric_a[m] (bit 0 tn,
 *               1 fp, 2 fn, 3 tp) over those in mask metric_b[m], NaN where that is not > 0;
 *            1  the mean of metrics metric_a[m] and metric_b[m] (computed before it);
 *            2  AUC: numerator / (positives x negatives), NaN where that is 0;
 *            3  Brier: its numerator / rows; 4  ECE: sum over bins of |difference| / rows
 *               (bins added in order), both NaN without rows.
 *          The same operations in the same order as the NumPy computation
 *          (replicates._metrics on lin_out and wins_out), so the same bits.
 * scratch  2 * slot_start[n_parts] + 16 * G + 15 * n_fine + (largest fine_pos[f] -
 *          fine_start[f]) + 1 doubles (the caller's, per call).
 *
 * The AUC numerator of a group is the sum over its slots, in bin order, of
 * positives x (negatives in earlier bins + negatives in the same bin / 2): integer-valued
 * sums and halves, exact in double. Every sum runs in a fixed order, without branches on the
 * data (a zero count adds zero).
 */
FA_EXPORT void fa_replicate_sums(
    int64_t r, int64_t K, const double *x, int64_t ldx,
    int64_t n_fine, const int8_t *cell_conf, const int8_t *cell_ece, const int8_t *cell_label,
    const double *coef_brier, const double *coef_ece,
    const int64_t *fine_start, const int64_t *fine_pos, const int32_t *cell_lt,
    const int32_t *cell_le,
    int64_t n_parts, const int32_t *order, const int32_t *source, const int64_t *group_offset,
    const int64_t *slot_start, const int32_t *slot_group, const int64_t *gmap_start,
    const int32_t *group_map, const int64_t *smap_start, const int32_t *slot_map,
    double *lin_out, double *wins_out, int64_t n_metrics, const int8_t *metric_kind,
    const int8_t *metric_a, const int8_t *metric_b, const int64_t *metric_out, int64_t out_row0,
    double *scratch)
{
    const int64_t G = group_offset[n_parts];
    const int64_t n_slots = slot_start[n_parts];
    const int64_t F = n_fine;
    double *slots = scratch;                /* (n_slots, 2): negatives, positives */
    double *fine = scratch + 2 * n_slots;   /* (15, F) */
    double *lin = fine + FA_LINEAR * F;     /* (15, G) */
    double *wins = lin + FA_LINEAR * G;     /* (G,) */
    double *prefix = wins + G;              /* (negatives of the largest fine group + 1) */

    for (int64_t j = 0; j < r; ++j) {
        const double *xj = x + j * ldx;
        memset(scratch, 0, sizeof(double) * (size_t)(2 * n_slots + FA_LINEAR * (F + G) + G));

        /* Fine groups' linear sums, each over its own run of cells. Two interleaved partial
         * sums (even and odd cells) keep consecutive additions off one dependency chain. */
        for (int64_t f = 0; f < F; ++f) {
            double acc[2][FA_LINEAR] = {{0.0}};
            for (int64_t k = fine_start[f]; k < fine_start[f + 1]; ++k) {
                const double c = xj[k];
                double *a = acc[k & 1];
                a[cell_conf[k]] += c;
                a[4] += c * coef_brier[k];
                a[5 + cell_ece[k]] += c * coef_ece[k];
            }
            for (int t = 0; t < FA_LINEAR; ++t)
                fine[t * F + f] = acc[0][t] + acc[1][t];
        }

        for (int64_t q = 0; q < n_parts; ++q) {
            const int64_t p = order[q];
            const int64_t src = source[p];
            const int32_t *gm = group_map + gmap_start[p];
            const int32_t *sm = slot_map + smap_start[p];
            double *sl = slots + 2 * slot_start[p];
            double *gl = lin + group_offset[p];
            double *w = wins + group_offset[p];
            /* Groups' linear sums from the fine groups or the source's groups. */
            const double *from = src < 0 ? fine : lin + group_offset[src];
            const int64_t n_from = src < 0 ? F : group_offset[src + 1] - group_offset[src];
            const int64_t stride = src < 0 ? F : G;
            for (int t = 0; t < FA_LINEAR; ++t) {
                const double *a = from + t * stride;
                double *b = gl + t * G;
                for (int64_t i = 0; i < n_from; ++i)
                    b[gm[i]] += a[i];
            }
            if (src == -2) {
                /* AUC numerators of the fine groups from each one's runs: prefix sums of its
                 * negatives, then for each positive cell the negatives in earlier bins plus
                 * those in its bin, halved at the end (cell_lt, cell_le: how many of the
                 * group's negatives lie below, and at or below, the cell's bin). */
                for (int64_t f = 0; f < F; ++f) {
                    const int64_t a = fine_start[f], m = fine_pos[f], e = fine_start[f + 1];
                    prefix[0] = 0.0;
                    for (int64_t i = a; i < m; ++i)
                        prefix[i - a + 1] = prefix[i - a] + xj[i];
                    double acc = 0.0;
                    for (int64_t k = m; k < e; ++k)
                        acc += xj[k] * (prefix[cell_lt[k]] + prefix[cell_le[k]]);
                    w[gm[f]] = 0.5 * acc;
                }
                continue;
            }
            /* Slots from the input cells or the source's slots. */
            if (src < 0) {
                for (int64_t k = 0; k < K; ++k)
                    sl[2 * (int64_t)sm[k] + cell_label[k]] += xj[k];
            } else {
                const int64_t ns = slot_start[src + 1] - slot_start[src];
                const double *ss = slots + 2 * slot_start[src];
                for (int64_t i = 0; i < ns; ++i) {
                    double *d = sl + 2 * (int64_t)sm[i];
                    d[0] += ss[2 * i];
                    d[1] += ss[2 * i + 1];
                }
            }
            /* AUC numerators: one pass over p's slots in (group, bin) order. */
            const int64_t s0 = slot_start[p], s1 = slot_start[p + 1];
            int32_t current = -1;
            double below = 0.0;
            for (int64_t s = s0; s < s1; ++s) {
                const int32_t g = slot_group[s];
                if (g != current) {
                    current = g;
                    below = 0.0;
                }
                const double neg = slots[2 * s], pos = slots[2 * s + 1];
                w[g] += pos * (below + 0.5 * neg);
                below += neg;
            }
        }
        if (lin_out != NULL)
            for (int t = 0; t < FA_LINEAR; ++t)
                memcpy(lin_out + (t * r + j) * G, lin + t * G, sizeof(double) * (size_t)G);
        if (wins_out != NULL)
            memcpy(wins_out + j * G, wins, sizeof(double) * (size_t)G);
        for (int64_t m = 0; m < n_metrics; ++m) {
            if (metric_out[m] == 0)
                continue;
            double *o = (double *)(intptr_t)metric_out[m] + (out_row0 + j) * G;
            const int kind = metric_kind[m];
            for (int64_t g = 0; g < G; ++g) {
                const double tn = lin[g], fp = lin[G + g], fn = lin[2 * G + g],
                             tp = lin[3 * G + g];
                const double neg = tn + fp, pos = fn + tp, n = neg + pos;
                double v;
                if (kind == 0) {
                    /* Whole counts: any order of these sums gives the same bits. */
                    const double c[4] = {tn, fp, fn, tp};
                    double a = 0.0, b = 0.0;
                    for (int i = 0; i < 4; ++i) {
                        a += (metric_a[m] >> i & 1) ? c[i] : 0.0;
                        b += (metric_b[m] >> i & 1) ? c[i] : 0.0;
                    }
                    v = b > 0.0 ? a / b : NAN;
                } else if (kind == 1) {
                    const double *u = (const double *)(intptr_t)metric_out[metric_a[m]];
                    const double *w = (const double *)(intptr_t)metric_out[metric_b[m]];
                    v = (u[(out_row0 + j) * G + g] + w[(out_row0 + j) * G + g]) / 2.0;
                } else if (kind == 2) {
                    v = pos * neg > 0.0 ? wins[g] / (pos * neg) : NAN;
                } else if (kind == 3) {
                    v = n > 0.0 ? lin[4 * G + g] / n : NAN;
                } else {
                    double gaps = fabs(lin[5 * G + g]);
                    for (int t = 6; t < FA_LINEAR; ++t)
                        gaps += fabs(lin[t * G + g]);
                    v = n > 0.0 ? gaps / n : NAN;
                }
                o[g] = v;
            }
        }
    }
}

/*
 * Cell statistics of rows: cell = (row_fine * 2 + label) * n_bins + row_bin; count[cell] += 1,
 * ssum[cell] += score, ssq[cell] += score * score, row by row in order (the three bincounts of
 * fairaudit.metrics.cells.build_cells, its NumPy twin, in one pass and with the same sums).
 */
FA_EXPORT void fa_cell_sums(int64_t n, const int64_t *row_fine, const int64_t *label,
                            const int64_t *row_bin, const double *score, int64_t n_bins,
                            double *count, double *ssum, double *ssq)
{
    for (int64_t i = 0; i < n; ++i) {
        const int64_t c = (row_fine[i] * 2 + label[i]) * n_bins + row_bin[i];
        const double s = score[i];
        count[c] += 1.0;
        ssum[c] += s;
        ssq[c] += s * s;
    }
}

/*
 * out[member[f]] += x[f] (rows of k values) for f = 0 .. F - 1 in order, skipping member[f] < 0:
 * fine groups summed into groups (fairaudit.metrics.rates.GroupSum), each group's sum in
 * fine-group order, as np.add.at (the NumPy twin) and SciPy's CSR product add them.
 */
FA_EXPORT void fa_group_sums(int64_t F, int64_t k, const double *x, const int64_t *member,
                             int64_t G, double *out)
{
    for (int64_t f = 0; f < F; ++f) {
        const int64_t g = member[f];
        if (g < 0 || g >= G)
            continue;
        double *o = out + g * k;
        const double *xf = x + f * k;
        for (int64_t j = 0; j < k; ++j)
            o[j] += xf[j];
    }
}

/*
 * Quantiles of the beta distribution (the Clopper-Pearson bounds of a proportion), so that an
 * audit does not import SciPy's special functions (about 0.1 s in a cold process) for one
 * function. kernels.beta_quantile documents the contract; scipy.special.betaincinv is its twin
 * and the oracle of the tests (agreement to about 1e-13 relative).
 *
 * The regularised incomplete beta I_z(a, b) is prefactor x continued fraction (DLMF 8.17.22,
 * evaluated by the modified Lentz method), where the prefactor z^a w^b / (a B(a, b)), w = 1 - z,
 * is computed in Loader's saddle-point form (Loader 2000, "Fast and accurate computation of
 * binomial probabilities"): the Stirling-series remainders and the deviance terms bd0 carry
 * no cancellation, so it stays accurate to a few ulps for a and b in the millions, where
 * lgamma-based forms lose eight digits.
 */
#define FA_LN_SQRT_2PI 0.918938533204672741780329736406 /* log(sqrt(2 pi)) */

/* log Gamma(s + 1) - ((s + 1/2) log s - s + log sqrt(2 pi)): the Stirling-series remainder. */
static double fa_stirlerr(double s)
{
    if (s >= 15.0) {
        /* Stirling's series, B_2k / (2k (2k - 1) s^(2k-1)); the next term is below 2e-16 here. */
        const double s2 = s * s;
        return (1.0 / 12 - (1.0 / 360 - (1.0 / 1260 - (1.0 / 1680 - (1.0 / 1188) / s2) / s2) / s2) / s2) / s;
    }
    /* Below, from t = s + k >= 15 by Gamma(s + 1) = Gamma(t + 1) / ((s + 1) ... (s + k)) (not
     * lgamma, which sets a global, signgam, that the audit's threads would share). */
    const int k = (int)(16.0 - s);
    const double t = s + k;
    double prod = 1.0;
    for (int j = 1; j <= k; ++j)
        prod *= s + j;
    return fa_stirlerr(t) + (t + 0.5) * log(t) - t - log(prod) - (s + 0.5) * log(s) + s;
}

/* x log(x / m) + m - x >= 0 without cancellation, given d = x - m (a series where x is near m). */
static double fa_bd0(double x, double m, double d)
{
    if (fabs(d) < 0.1 * (x + m)) {
        const double v = d / (x + m), v2 = v * v;
        double s = d * v, ej = 2.0 * x * v;
        for (int j = 1; j < 1000; ++j) {
            ej *= v2;
            const double s1 = s + ej / (2 * j + 1);
            if (s1 == s)
                return s1;
            s = s1;
        }
        return s;
    }
    return x * log(x / m) - d;
}

/*
 * log(z^a w^b / (a B(a, b))) for z + w = 1, given d = a - (a + b) z: the deviances of a from
 * (a + b) z and of b from (a + b) w = b + d take the difference as given, so the caller computes
 * it from whichever of z and w it holds exactly (with one rounding, by fma).
 */
static double fa_beta_log_prefactor(double a, double b, double z, double w, double d)
{
    const double n = a + b;
    return -fa_bd0(a, n * z, d) - fa_bd0(b, n * w, -d)
           - (fa_stirlerr(a) + fa_stirlerr(b) - fa_stirlerr(n))
           + 0.5 * log(b / (a * n)) - FA_LN_SQRT_2PI;
}

/*
 * The continued fraction of I_z(a, b) / prefactor (fast for z below (a + 1) / (a + b + 2)),
 * given d = a - (a + b) z: its first term, 1 - (a + b) z / (a + 1) = (1 + d) / (a + 1), cancels
 * when z is near 1 and a large (the complement of a tiny tail), so it is computed from d.
 */
static double fa_beta_cf(double a, double b, double z, double dz)
{
    const double tiny = 1e-300;
    double c = 1.0, d = (1.0 + dz) / (a + 1.0);
    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m < 1000000; ++m) {
        const double m2 = 2.0 * m;
        for (int odd = 0; odd < 2; ++odd) {
            const double t = odd ? -(a + m) * (a + b + m) * z / ((a + m2) * (a + m2 + 1.0))
                                 : m * (b - m) * z / ((a + m2 - 1.0) * (a + m2));
            d = 1.0 + t * d;
            if (fabs(d) < tiny)
                d = tiny;
            c = 1.0 + t / c;
            if (fabs(c) < tiny)
                c = tiny;
            d = 1.0 / d;
            h *= d * c;
            if (odd && fabs(d * c - 1.0) < 1e-16)
                return h;
        }
    }
    return h;
}

/*
 * The power series of I_z(a, b) / prefactor, sum_k (a + b)_k / (a + 1)_k z^k (DLMF 8.17.8):
 * positive terms, rising to their peak near k = (a + b) z - a, then falling at least
 * geometrically. Used above (a + 1) / (a + b + 2) for small z where the continued fraction of
 * the complement, in w near 1, cancels in every step (it loses about log10(b / ((a + b) z - a))
 * digits); the complement of the series loses log10(1 / tail) instead, fewer there.
 */
static double fa_beta_series(double a, double b, double z)
{
    double term = 1.0, sum = 1.0;
    for (int64_t k = 0; k < 10000000; ++k) {
        term *= (a + b + (double)k) * z / (a + 1.0 + (double)k);
        sum += term;
        if (term < 1e-17 * sum && (a + b + (double)k) * z < a + 1.0 + (double)k)
            break;
    }
    return sum;
}

/*
 * log I_z(a, b) if lower, else log(1 - I_z(a, b)) = log I_w(b, a), for z exact and w = 1 - z
 * rounded; *slope is the derivative of that logarithm with respect to z.
 */
static double fa_log_beta_tail(double a, double b, double z, double w, int lower, double *slope)
{
    const double n = a + b;
    const double d = fma(-n, z, a); /* a - (a + b) z from z, which the caller holds exactly */
    double lp = 0.0, small = 0.0; /* log prefactor and log I of the tail computed */
    int direct = 1, done = 0;
    double pa = a;
    if (z <= (a + 1.0) / (n + 2.0)) {
        lp = fa_beta_log_prefactor(a, b, z, w, d);
        small = lp + log(fa_beta_cf(a, b, z, d));
        done = 1;
    } else if (z < 0.1 && -d <= 1e5) {
        lp = fa_beta_log_prefactor(a, b, z, w, d);
        small = lp + log(fa_beta_series(a, b, z));
        /* The upper tail as the series' complement loses about log10(1 / tail) digits, the
         * complement's fraction about log10(b / ((a + b) z - a)): the fewer. */
        done = lower || -expm1(small) * b > fmax(-d, 1.0);
    }
    if (!done) {
        direct = 0;
        pa = b;
        lp = fa_beta_log_prefactor(b, a, w, z, -d);
        small = lp + log(fa_beta_cf(b, a, w, -d));
    }
    const double log_tail = (lower == direct) ? small : log1p(-exp(small));
    /* density / tail, from density = prefactor x pa / (z w) */
    const double ratio = exp(lp - log_tail) * pa / (z * w);
    *slope = lower ? ratio : -ratio;
    return log_tail;
}

/* An inverse-normal good to about 1e-3 (a starting point only). */
static double fa_rough_ndtri(double p)
{
    return 4.91 * (pow(p, 0.14) - pow(1.0 - p, 0.14));
}

static double fa_beta_quantile1(double a, double b, double p)
{
    if (!(a > 0.0) || !(b > 0.0) || !(p >= 0.0) || !(p <= 1.0) || isinf(a) || isinf(b))
        return NAN;
    if (p == 0.0)
        return 0.0;
    if (p == 1.0)
        return 1.0;
    /* Solve log(tail) = log(target) on the smaller tail: exact targets for both ends. The lower
     * tail I_z(a, b) increases with z, the upper one 1 - I_z(a, b) decreases. */
    const int lower = p <= 0.5;
    const double target = log(lower ? p : 1.0 - p);
    const double n = a + b, mean = a / n, sd = sqrt(a * b / (n * n * (n + 1.0)));
    double z = mean + fa_rough_ndtri(p) * sd;
    double lo = 0.0, hi = 1.0; /* the root's bracket */
    if (!(z > 0.0 && z < 1.0))
        z = mean > 0.0 && mean < 1.0 ? mean : 0.5;
    for (int it = 0; it < 400; ++it) {
        double slope;
        const double f = fa_log_beta_tail(a, b, z, 1.0 - z, lower, &slope) - target;
        if (f == 0.0)
            return z;
        /* Where the tail under- or overflows (f infinite; NaN in the logarithm of a 0 * inf),
         * only the side is known: the target lies toward the median. */
        const int below = isnan(f) ? z > mean : (f > 0.0) == lower;
        if (below)
            hi = z;
        else
            lo = z;
        const double step = f / slope;
        if (isfinite(step) && fabs(step) <= 2e-16 * z) /* converged: the step is below rounding */
            return z - step >= lo && z - step <= hi ? z - step : z;
        double next = z - step;
        if (!(next > lo && next < hi)) /* out of the bracket: bisect (geometrically near 0) */
            next = lo > 0.0 && hi > 4.0 * lo ? sqrt(lo * hi) : lo == 0.0 ? 0.125 * hi : 0.5 * (lo + hi);
        if (next == z || !(next > lo && next < hi)) /* the bracket is a rounding wide (or 0) */
            return below ? lo : hi;
        z = next;
    }
    return z;
}

/*
 * out[i] = the p[i] quantile of Beta(a[i], b[i]): z with I_z(a, b) = p (scipy's betaincinv).
 * NaN for a or b not positive and finite or p outside [0, 1].
 */
FA_EXPORT void fa_beta_quantile(int64_t n, const double *a, const double *b, const double *p,
                                double *out)
{
    for (int64_t i = 0; i < n; ++i)
        out[i] = fa_beta_quantile1(a[i], b[i], p[i]);
}

FA_EXPORT void *PyInit__kernels(void) { return NULL; }
