"""Audits beyond one machine's memory: streaming and Dask reductions to merged statistics.

Every path reduces rows to :class:`~fairaudit.metrics.stats.AuditStats` and finalises the
merged statistics with :func:`fairaudit.metrics.merged.audit_stats` (the in-memory engine's
finaliser):

- ``memory``: a validated :class:`~fairaudit.data.AuditDataset` reduced in one go;
- ``stream``: the partitions of a Parquet dataset read batch by batch in this process, so memory
  holds one batch and the statistics;
- ``dask``: one task per partition on a ``dask.distributed`` cluster (a ``LocalCluster`` when no
  scheduler address is given), merged by a tree of ``merge`` tasks; failed tasks are retried.

Library code: no printing; progress goes through callbacks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fairaudit.data.dataset import MAX_NUMERIC_GROUPS, MAX_UNIQUE_SHARE, missing_group
from fairaudit.data.stream import (
    FilePart,
    key_hash,
    parquet_files,
    plan_partitions,
    read_batches,
    row_keys,
)
from fairaudit.errors import ConfigError, InputError
from fairaudit.metrics import AuditConfig
from fairaudit.metrics.merged import BOOTSTRAP_METHODS, MERGED_PVALUE_NOTE, MergedAudit, audit_stats
from fairaudit.metrics.poisson import N_BUCKETS
from fairaudit.metrics.stats import MISSING, SCORE_LEVELS, AuditStats, merge, merge_all, reduce_rows
from fairaudit.models.progress import Progress, track
from fairaudit.result import AuditResult, DatasetInfo

ENGINES = ("memory", "stream", "dask")



@dataclass(frozen=True)
class ReduceOptions:
    """What every partition needs to reduce its rows (sent to Dask workers as is)."""

    label: str
    score: str
    sensitive: tuple[str, ...]
    cut_points: tuple[float, ...]
    key_column: str | None = None
    seed: int = 0
    n_buckets: int = 0
    levels: int = SCORE_LEVELS
    batch_rows: int = 1 << 20
    count_keys: bool = False  # count the distinct keys (patients with ``cluster``, not row ids)


def _reduce_batch(b, opts: ReduceOptions) -> AuditStats:
    return reduce_rows(b.labels, b.scores, b.codes, b.names, attributes=opts.sensitive,
                       numeric=b.numeric, cut_points=np.array(opts.cut_points), levels=opts.levels,
                       keys=b.keys, seed=opts.seed, n_buckets=opts.n_buckets,
                       count_keys=opts.count_keys)


def reduce_part(part: FilePart, opts: ReduceOptions,
                progress: Callable[[int], None] | None = None,
                into: AuditStats | None = None) -> AuditStats:
    """The statistics of one partition (added to ``into`` if given), read batch by batch.

    Each batch is merged into the running total at once, so memory holds one batch and one
    total: keys of both are sorted, and the stable sort of a merge finds the two runs.
    """
    total = into
    rows = 0
    for b in read_batches(part, label=opts.label, score=opts.score, sensitive=opts.sensitive,
                          key_column=opts.key_column, batch_rows=opts.batch_rows):
        stats = _reduce_batch(b, opts)
        n = int(b.labels.shape[0])
        rows += n
        del b
        total = stats if total is None else merge(total, stats)
        del stats
        if progress is not None:
            progress(n)
    if rows == 0 or total is None:
        raise InputError(f"predictions file '{part.path}' has no data rows.")
    return total


def stream_stats(parts: list[FilePart], opts: ReduceOptions,
                 progress: Callable[[int], None] | None = None) -> AuditStats:
    """Reduce every partition in this process, one batch in memory at a time."""
    total = None
    for p in parts:
        total = reduce_part(p, opts, progress, into=total)
    if total is None:
        raise InputError("no predictions files to read.")
    return total


def dask_stats(parts: list[FilePart], opts: ReduceOptions, *, scheduler: str | None = None,
               n_workers: int = 2, processes: bool = True, retries: int = 2,
               reduce: Callable[..., AuditStats] = reduce_part,
               progress: Callable[[int], None] | None = None) -> AuditStats:
    """Reduce partitions as Dask tasks and merge them by a tree of tasks.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``); else a ``LocalCluster`` of
        ``n_workers`` single-threaded workers (``processes=False``: threads in this process).
    retries : int
        Times a failed task (an exception, or a worker lost mid-task) is run again.
    progress : callable, optional
        Called with the rows of each partition as it finishes.
    """
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - dask is an optional extra
        raise ConfigError("the dask engine needs dask.distributed: pip install 'fairaudit[dask]'.") from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at '{scheduler}' (`scheduler`): {exc}.") from None
    try:
        leaves = client.map(reduce, parts, opts=opts, retries=retries, pure=False)
        rows = {f.key: p.n_rows for f, p in zip(leaves, parts, strict=True)}
        level = list(leaves)
        if progress is not None:
            for f in as_completed(leaves):
                progress(rows[f.key])
        while len(level) > 1:
            nxt = [client.submit(_merge_pair, level[i], level[i + 1], retries=retries, pure=False)
                   for i in range(0, len(level) - 1, 2)]
            level = nxt + ([level[-1]] if len(level) % 2 else [])
        return level[0].result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _merge_pair(a: AuditStats, b: AuditStats) -> AuditStats:
    return merge_all([a, b])


def memory_stats(dataset: Any, opts: ReduceOptions, file_name: str) -> AuditStats:
    """The statistics of a validated in-memory dataset (rows keyed as in ``file_name``)."""
    names = []
    for j, attr in enumerate(dataset.attributes):
        nm = dataset.group_names[j]
        miss = missing_group(nm) if dataset.unknown_counts.get(attr, 0) else None
        names.append(tuple(MISSING if x == miss else x for x in nm))
    numeric = tuple(_is_numeric(dataset.frame[a]) for a in dataset.attributes)
    if opts.key_column is not None:
        keys = key_hash(dataset.frame[opts.key_column].to_numpy())
    else:
        keys = row_keys(file_name, 0, dataset.n_rows)
    return reduce_rows(dataset.labels, dataset.scores, dataset.group_codes, tuple(names),
                       attributes=dataset.attributes, numeric=numeric,
                       cut_points=np.array(opts.cut_points), levels=opts.levels, keys=keys,
                       seed=opts.seed, n_buckets=opts.n_buckets, count_keys=opts.count_keys)


def _is_numeric(series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
                and not isinstance(series.dtype, pd.CategoricalDtype))


def _check_groups(stats: AuditStats, allow_many_groups: bool) -> None:
    """The refusal of identifier-like sensitive columns, on merged statistics."""
    if allow_many_groups:
        return
    for attr, names, numeric in zip(stats.attributes, stats.names, stats.numeric, strict=True):
        k = sum(1 for x in names if x != MISSING)
        if k > MAX_NUMERIC_GROUPS and (numeric or k > MAX_UNIQUE_SHARE * stats.n_rows):
            raise InputError(
                f"sensitive column '{attr}' has {k} distinct values; a protected attribute needs "
                "a few groups: bin it first or pass `allow_many_groups`.")


def dataset_sha256(files: list[Path], root: Path) -> str:
    """SHA-256 of the files' relative names and bytes (of one file: its bytes)."""
    from fairaudit.data.tables import file_sha256

    if len(files) == 1:
        return file_sha256(files[0])
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(root).as_posix().encode("utf-8") + b"\0")
        h.update(bytes.fromhex(file_sha256(f)))
    return h.hexdigest()


@dataclass(frozen=True)
class ScaledAudit:
    """An audit of merged statistics and how it was computed."""

    result: AuditResult
    merged: MergedAudit
    engine: str
    n_partitions: int


def audit_scaled(
    predictions: str | Path,
    *,
    label: str,
    sensitive: str | list[str] | tuple[str, ...],
    score: str | None = None,
    cluster: str | None = None,
    row_id: str | None = None,
    engine: str = "stream",
    scheduler: str | None = None,
    n_workers: int = 2,
    n_partitions: int | None = None,
    bootstrap_method: str = "multinomial",
    threshold: float | None = None,
    config: AuditConfig | None = None,
    allow_many_groups: bool = False,
    policy: Any = None,
    command: str | None = None,
    batch_rows: int = 1 << 20,
    progress: Progress | None = None,
    processes: bool = True,
) -> ScaledAudit:
    """Audit a Parquet file, directory or glob from merged statistics.

    Parameters
    ----------
    engine : {"memory", "stream", "dask"}
        ``memory`` reads a single file whole (:func:`fairaudit.api.load_audit_data`);
        ``stream`` reads partitions batch by batch; ``dask`` reduces partitions on a cluster.
    cluster, row_id : str, optional
        Patient id column (patients resampled; needs ``bootstrap_method="poisson"``) or a row
        id column: the keys of the Poisson bootstrap. Without either, rows are keyed by (file,
        row number in the file).
    n_partitions : int, optional
        Partitions (whole row groups; default one per file).
    config : AuditConfig, optional
        Bootstrap, permutations, seed, group sizes; ``threshold`` overrides its threshold.
    progress : Progress, optional
        Told of the rows read (every batch, or every partition on Dask), then of the bootstrap
        replicates.
    """
    from fairaudit.api import DEFAULT_THRESHOLD, DEFAULT_THRESHOLD_WARNING
    from fairaudit.data.dataset import parse_columns

    if engine not in ENGINES:
        raise ConfigError(f"`engine` must be one of {', '.join(ENGINES)}; got '{engine}'.")
    if bootstrap_method not in BOOTSTRAP_METHODS:
        raise ConfigError(f"`bootstrap_method` must be one of {', '.join(BOOTSTRAP_METHODS)}; got "
                          f"'{bootstrap_method}'.")
    if cluster is not None and bootstrap_method != "poisson":
        raise ConfigError("resampling patients (`cluster`) from merged statistics needs "
                          "`bootstrap_method` poisson.")
    if cluster is not None and row_id is not None:
        raise ConfigError("give `cluster` or `row_id`, not both (`cluster` keys whole patients).")
    config = config or AuditConfig()
    if config.jobs < 0:
        raise ConfigError(f"`jobs` must be 0 (every core) or a number of threads; got {config.jobs}.")
    warnings: list[str] = []
    source = "given"
    if threshold is None:
        threshold, source = DEFAULT_THRESHOLD, "default (not chosen on validation data)"
        warnings.append(DEFAULT_THRESHOLD_WARNING)
    import dataclasses

    config = dataclasses.replace(config, threshold=float(threshold))
    attributes = tuple(parse_columns(sensitive))
    score = score or "score"
    opts = ReduceOptions(label=label, score=score, sensitive=attributes,
                         cut_points=(float(threshold),), key_column=cluster or row_id,
                         seed=config.seed, n_buckets=N_BUCKETS if bootstrap_method == "poisson" else 0,
                         batch_rows=batch_rows, count_keys=cluster is not None)
    files, root = parquet_files(predictions)
    parts = plan_partitions(files, root, n_partitions)
    total = sum(p.n_rows for p in parts)
    with track(progress, total, "rows") as bar:
        if engine == "memory":
            stats = _memory(files, opts, cluster, allow_many_groups)
            bar.advance(total)
        elif engine == "stream":
            stats = stream_stats(parts, opts, bar.advance)
        else:
            stats = dask_stats(parts, opts, scheduler=scheduler, n_workers=n_workers, retries=2,
                               processes=processes, progress=bar.advance)
    _check_groups(stats, allow_many_groups)
    result, merged = finalise(
        stats, config, bootstrap_method=bootstrap_method, cluster=cluster, label=label,
        score=score, source=f"predictions '{predictions}' ({len(files)} files)",
        data_sha256=dataset_sha256(files, root), threshold_source=source, warnings=warnings,
        policy=policy, command=command, progress=progress)
    return ScaledAudit(result, merged, engine, len(parts) if engine != "memory" else 1)


def finalise(stats: AuditStats, config: AuditConfig, *, bootstrap_method: str, label: str,
             score: str, source: str, data_sha256: str, threshold_source: str,
             cluster: str | None = None, warnings: list[str] | None = None, policy: Any = None,
             command: str | None = None,
             progress: Progress | None = None) -> tuple[AuditResult, MergedAudit]:
    """The gated :class:`AuditResult` of merged statistics (the run record names the methods).

    With ``cluster``, ``dataset.n_clusters`` is the patients counted in ``stats.distinct_keys``
    (exact up to 65,536, else a HyperLogLog estimate and ``n_clusters_estimated``).
    """
    from fairaudit.api import result_from_parts

    warnings = list(warnings or [])
    with track(progress, config.n_bootstrap, "bootstrap") as bar:
        merged = audit_stats(stats, config, method=bootstrap_method,
                             unit="patient" if cluster else "row", missing_name=missing_group,
                             progress=bar.advance)
    for j, (attr, n_unknown) in enumerate(merged.unknown_counts.items()):
        if n_unknown:
            warnings.append(f"{n_unknown} rows have no value for '{attr}'; they form the group "
                            f"'{missing_group(merged.group_names[j])}'.")
    n_clusters, estimated = _patients(stats, cluster, warnings)
    p_method = None
    if config.n_permutations:
        from fairaudit.metrics.significance import PERMUTATION_METHOD, permutation_rule

        p_method = (f"{PERMUTATION_METHOD}; {permutation_rule(config.n_permutations)}; "
                    f"{MERGED_PVALUE_NOTE}")
    i_method = None
    if config.n_bootstrap:
        from fairaudit.metrics.simultaneous import INTERVAL_METHOD

        i_method = f"{INTERVAL_METHOD} ({config.n_bootstrap} replicates, {bootstrap_method} bootstrap)"
    info = DatasetInfo(n_rows=merged.n_rows, n_used=merged.n_rows, n_excluded=0, label=label,
                       attributes=stats.attributes, intersections=merged.parts.intersections,
                       source=source, unknown_counts=merged.unknown_counts, n_clusters=n_clusters,
                       score=score, n_clusters_estimated=estimated)
    result = result_from_parts(merged.parts, config, dataset=info, data_sha256=data_sha256,
                               threshold_source=threshold_source,
                               bootstrap_unit=f"patient ({cluster})" if cluster else "row",
                               p_value_method=p_method, interval_method=i_method,
                               command=command, warnings=tuple(warnings), policy=policy)
    return result, merged


def _patients(stats: AuditStats, cluster: str | None,
              warnings: list[str]) -> tuple[int | None, bool | None]:
    """Patients counted (None without ``cluster``) and True when estimated (else None); warns,
    like the in-memory audit, below 20 patients (a range where the count is exact)."""
    from fairaudit.api import MIN_CLUSTERS, few_clusters_warning

    if cluster is None or stats.distinct_keys is None:
        return None, None
    n = stats.distinct_keys.count()
    if n < MIN_CLUSTERS:
        warnings.append(few_clusters_warning(cluster))
    return n, (True if stats.distinct_keys.estimated else None)


def audit_frame(dataset: Any, config: AuditConfig, *, bootstrap_method: str = "poisson",
                key_column: str | None = None) -> AuditResult:
    """Audit a validated in-memory dataset through merged statistics (rows keyed by their
    index, or by ``key_column``). ``config.threshold`` is the decision threshold."""
    opts = ReduceOptions(label=dataset.label_column, score=dataset.score_column or "score",
                         sensitive=dataset.attributes, cut_points=(config.threshold,),
                         key_column=key_column, seed=config.seed,
                         n_buckets=N_BUCKETS if bootstrap_method == "poisson" else 0)
    stats = memory_stats(dataset, opts, "")
    result, _ = finalise(stats, config, bootstrap_method=bootstrap_method,
                         label=dataset.label_column, score=opts.score, source=dataset.source,
                         data_sha256=dataset.sha256, threshold_source="given")
    return result


def _memory(files: list[Path], opts: ReduceOptions, cluster: str | None,
            allow_many_groups: bool) -> AuditStats:
    from fairaudit.data import load_table_dataset

    if len(files) != 1:
        raise ConfigError("the memory engine reads one file; for a directory or glob use "
                          "`engine` stream or dask.")
    ds = load_table_dataset(files[0], label=opts.label, sensitive=opts.sensitive, score=opts.score,
                            cluster=cluster, allow_many_groups=True)
    if opts.key_column is not None and opts.key_column not in ds.frame.columns:
        raise InputError(f"column '{opts.key_column}' (given by `row_id`) not found in "
                         f"predictions file '{files[0]}'.")
    return memory_stats(ds, opts, files[0].name)


def run_scaled_audit(
    predictions: Path,
    *,
    outputs: Any,
    policy: Path | None = None,
    names: dict[str, str] | None = None,
    **options: Any,
) -> Any:
    """``fairaudit audit`` of merged statistics: check paths, audit, render, write all or none.

    The counterpart of :func:`fairaudit.workflows.audit.run_audit` for :func:`audit_scaled`
    (``options`` are its keyword arguments); returns the same :class:`AuditRun`.
    """
    from fairaudit._io import check_outputs, write_files
    from fairaudit.workflows.audit import AuditRun, render_views

    named = dict(names or {})
    inputs = [(named.get("policy", "policy"), policy)]
    if not any(ch in str(predictions) for ch in "*?["):
        inputs.append((named.get("predictions", "predictions"), predictions))
    check_outputs([(named.get(k, k), getattr(outputs, k)) for k in ("output", "html", "junit")], inputs)
    pol = None
    if policy is not None:
        from fairaudit.gate import load_policy

        pol = load_policy(policy)
    scaled = audit_scaled(str(predictions), policy=pol, **options)
    payload, files = render_views(scaled.result, outputs, named)
    if outputs.output is not None:
        files.append((named.get("output", "output"), outputs.output, payload))
    if files:
        write_files(files, inputs)
    code = 0
    if pol is not None:
        from fairaudit.gate import exit_code

        code = exit_code(scaled.result.gate, no_fail=outputs.no_fail)
    return AuditRun(result=scaled.result, payload=payload,
                    written={label_: path for label_, path, _ in files}, exit_code=code)
