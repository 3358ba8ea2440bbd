"""fairaudit.models.tensors: a dataset as model-input tensors, and row selection."""

from __future__ import annotations

import numpy as np
import torch

from fairaudit.models.tensors import encode_dataset, eval_logits, n_rows, take_rows


def test_encode_dataset_has_one_row_per_study_and_the_labels(trained, test_set) -> None:
    table = encode_dataset(test_set, trained.preprocessing, batch_size=7)
    assert n_rows(table) == test_set.n_rows
    assert all(v.shape[0] == test_set.n_rows for v in table.values())
    np.testing.assert_array_equal(table["label"].numpy(), test_set.labels.astype(np.float32))
    again = encode_dataset(test_set, trained.preprocessing, batch_size=512)
    assert all(torch.equal(table[k], again[k]) for k in table)  # batch size changes nothing


def test_take_rows_and_logits(trained, test_set) -> None:
    table = encode_dataset(test_set, trained.preprocessing)
    sub = take_rows(table, [2, 0], torch.device("cpu"))
    assert n_rows(sub) == 2 and torch.equal(sub["label"], table["label"][[2, 0]])
    logits = eval_logits(trained.network, table, batch_size=5)
    assert logits.shape == (test_set.n_rows,) and logits.dtype == np.float64
    np.testing.assert_allclose(eval_logits(trained.network, sub), logits[[2, 0]], rtol=0, atol=1e-5)
