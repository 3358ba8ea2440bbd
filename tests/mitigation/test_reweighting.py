"""Reweighting agrees with aif360 (both its APIs) to 1e-12 and balances group and label."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fairaudit.errors import InputError
from fairaudit.mitigation import Reweighing, reweighting_weights
from fairaudit.mitigation.reweighting import group_codes, group_labels

logging.getLogger().setLevel(logging.ERROR)  # aif360 warns about optional extras on import


def _aif360_sklearn(frame: pd.DataFrame, y: np.ndarray, attrs: list[str]) -> np.ndarray:
    from aif360.sklearn.preprocessing import Reweighing as AifReweighing

    X = frame.set_index(attrs, drop=False)
    _, w = AifReweighing(prot_attr=attrs).fit_transform(X, pd.Series(y, index=X.index))
    return np.asarray(w, dtype=np.float64)


@pytest.mark.parametrize("attrs", [["race"], ["sex"], ["sex", "race"], ["race", "site", "age"]])
def test_weights_equal_aif360_sklearn_reweighing(predictions: pd.DataFrame, attrs: list[str]) -> None:
    frame = predictions.copy()
    frame["age"] = frame["age"].astype(str)
    ours = reweighting_weights(frame["y"].to_numpy(), frame[attrs])
    theirs = _aif360_sklearn(frame, frame["y"].to_numpy(), attrs)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_weights_equal_aif360_binary_label_dataset_transformer(predictions: pd.DataFrame) -> None:
    from aif360.algorithms.preprocessing import Reweighing as AifTransformer
    from aif360.datasets import BinaryLabelDataset

    df = pd.DataFrame({"y": predictions["y"], "female": (predictions["sex"] == "F").astype(int)})
    bld = BinaryLabelDataset(df=df, label_names=["y"], protected_attribute_names=["female"],
                             favorable_label=1, unfavorable_label=0)
    out = AifTransformer(unprivileged_groups=[{"female": 1}], privileged_groups=[{"female": 0}]).fit_transform(bld)
    ours = reweighting_weights(df["y"].to_numpy(), predictions["sex"])
    np.testing.assert_allclose(ours, out.instance_weights, rtol=0, atol=1e-12)


def test_existing_sample_weights_are_multiplied_as_in_aif360(predictions: pd.DataFrame) -> None:
    from aif360.sklearn.preprocessing import Reweighing as AifReweighing

    rng = np.random.default_rng(3)
    base = rng.uniform(0.2, 3.0, len(predictions))
    X = predictions.set_index(["race"], drop=False)
    _, theirs = AifReweighing(prot_attr="race").fit_transform(
        X, pd.Series(predictions["y"].to_numpy(), index=X.index), sample_weight=base
    )
    ours = reweighting_weights(predictions["y"], predictions["race"], sample_weight=base)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 1)), min_size=4, max_size=60),
)
def test_weighted_data_makes_group_and_label_independent(rows: list[tuple[str, int]]) -> None:
    g = np.array([r[0] for r in rows], dtype=object)
    y = np.array([r[1] for r in rows])
    # With an empty (group, label) cell there is nothing to reweight towards independence.
    assume(all(((g == a) & (y == lab)).any() for a in np.unique(g) for lab in np.unique(y)))
    w = reweighting_weights(y, g)
    total = w.sum()
    assert total == pytest.approx(len(rows))  # weights have mean 1
    for a in np.unique(g):
        for lab in np.unique(y):
            joint = w[(g == a) & (y == lab)].sum() / total
            assert joint == pytest.approx(w[g == a].sum() / total * w[y == lab].sum() / total)
            # and the weighted marginals equal the unweighted ones
            assert w[g == a].sum() / total == pytest.approx((g == a).mean())


def test_estimator_fit_transform_and_unseen_cell() -> None:
    y = np.array([1, 0, 0, 0, 1, 1, 0, 0])
    sex = pd.Series(["F", "F", "F", "F", "M", "M", "M", None], name="sex")
    rw = Reweighing()
    assert not hasattr(rw, "factors_")
    w = rw.fit_transform(y, sensitive_features=sex)
    assert rw.attribute_ == "sex"
    assert rw.groups_ == ("F", "M", "unknown")  # missing values are the group "unknown"
    # P(F)=4/8, P(y=1)=3/8, P(F, y=1)=1/8 -> 1.5
    assert rw.factors_[("F", 1)] == pytest.approx(1.5)
    np.testing.assert_allclose(w, reweighting_weights(y, sex))
    with pytest.raises(InputError, match="not seen"):
        rw.transform(np.array([1]), sensitive_features=pd.Series(["unknown"], name="sex"))


def test_intersection_names_and_bad_inputs() -> None:
    frame = pd.DataFrame({"sex": ["F", "M", "F", "M"], "race": ["A", "A", "B", None]})
    rw = Reweighing().fit(np.array([0, 1, 1, 0]), sensitive_features=frame)
    assert rw.attribute_ == "sex & race"
    assert set(rw.groups_) == {"F & A", "M & A", "F & B", "M & unknown"}
    with pytest.raises(InputError, match="labels"):
        reweighting_weights(np.array([0, 1]), frame)
    with pytest.raises(InputError, match="sample_weight"):
        reweighting_weights(np.array([0, 1, 1, 0]), frame, sample_weight=[1, 1, -1, 1])


_VALUES = st.one_of(
    st.sampled_from(["F", "M", " F ", "", "   ", "Black", "a&b", "<x>"]),
    st.none(),
    st.just(float("nan")),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_VALUES, st.sampled_from([1.0, 2.0, 3.5, float("nan")])), min_size=1, max_size=40))
def test_group_names_are_spelt_as_the_audit_spells_them(rows: list[tuple]) -> None:
    from fairaudit.data.dataset import encode_groups

    frame = pd.DataFrame({"a": [r[0] for r in rows], "site": [r[1] for r in rows]})
    names, attribute = group_labels(frame)
    codes, codes_names, _ = group_codes(frame)
    assert attribute == "a & site"
    assert list(codes_names) == sorted(set(names)) and list(np.asarray(codes_names, dtype=object)[codes]) == list(names)
    from fairaudit.naming import group_label

    spelt = []
    for col in frame.columns:
        c, n, _ = encode_groups(frame[col])
        spelt.append(np.asarray(n, dtype=object)[c])
    assert list(names) == [group_label(t) for t in zip(*spelt, strict=True)]
