"""Model adapters: a model fairaudit has never seen, exported by the test's own code to
TorchScript and ONNX and audited through a ``model.toml``; config validation; entry points;
the rules that nothing is unpickled and no user code runs unless it is named."""

from __future__ import annotations

import hashlib
import pickle
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn
from typer.testing import CliRunner

import fairaudit
from fairaudit.cli.app import app
from fairaudit.data.manifest import load_manifest
from fairaudit.errors import ConfigError, InputError, ModelError
from fairaudit.models.adapters import load_predictor, model_kind
from fairaudit.models.adapters.config import load_model_config

N = 48
SIZE = 8


class TinyNet(nn.Module):
    """The user's own model: image + two tabular features -> two-class logits."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.fc = nn.Linear(4, 2)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)

    def forward(self, image: torch.Tensor, tab: torch.Tensor) -> torch.Tensor:
        f = self.conv(image).mean(dim=(2, 3))
        return self.fc(torch.cat([f, tab], dim=1))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A manifest of N studies with 8x8 PNG images, two numeric features, sex and a label."""
    root = tmp_path_factory.mktemp("cohort")
    (root / "img").mkdir()
    rng = np.random.default_rng(3)
    rows = []
    for i in range(N):
        Image.fromarray(rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8)).save(root / "img" / f"{i}.png")
        rows.append({"study": f"s{i}", "scan": f"img/{i}.png", "x1": rng.normal(), "x2": rng.normal(),
                     "sex": "F" if i % 2 else "M", "y": int(rng.random() < 0.4)})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root


def _expected(cohort: Path, model: nn.Module) -> np.ndarray:
    """The positive-class probability computed by hand, outside fairaudit."""
    frame = pd.read_csv(cohort / "manifest.csv")
    imgs = np.stack([np.asarray(Image.open(cohort / p), dtype=np.float32) / 255.0 for p in frame["scan"]])
    image = torch.from_numpy((imgs[:, None] - 0.5) / 0.25)
    tab = torch.tensor(frame[["x1", "x2"]].to_numpy(), dtype=torch.float32)
    with torch.no_grad():
        return torch.softmax(model(image, tab).double(), dim=1)[:, 1].numpy()


CONFIG = """
[model]
batch_size = 10

[[inputs]]
name = "image"
kind = "image"
column = "scan"
size = [8, 8]
mean = [0.5]
std = [0.25]

[[inputs]]
name = "tab"
kind = "tabular"
columns = {columns}

[output]
kind = "softmax"
index = 1
threshold = 0.4
"""


def _config(tmp_path: Path, columns: str = '["x1", "x2"]', text: str | None = None) -> Path:
    p = tmp_path / "model.toml"
    p.write_text(text if text is not None else CONFIG.format(columns=columns), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("exported")
    net = TinyNet().eval()
    torch.jit.save(torch.jit.script(net), str(out / "tiny.pt"))
    example = (torch.zeros(2, 1, SIZE, SIZE), torch.zeros(2, 2))
    batch = torch.export.Dim("batch", min=1)
    program = torch.onnx.export(net, example, input_names=["image", "tab"], output_names=["logits"],
                                dynamo=True, verbose=False, dynamic_shapes=({0: batch}, {0: batch}))
    program.save(str(out / "tiny.onnx"))
    # Exported without a dynamic batch dimension, as torch.onnx.export does by default.
    fixed = (torch.zeros(4, 1, SIZE, SIZE), torch.zeros(4, 2))
    torch.onnx.export(net, fixed, input_names=["image", "tab"], output_names=["logits"],
                      dynamo=True, verbose=False).save(str(out / "fixed.onnx"))
    return {"torchscript": out / "tiny.pt", "onnx": out / "tiny.onnx", "fixed": out / "fixed.onnx"}


@pytest.mark.parametrize("kind", ["torchscript", "onnx"])
def test_own_model_scores_match_hand_computation_and_run_record(
        kind: str, cohort: Path, exported: dict[str, Path], tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    result = fairaudit.audit(data=cohort, model=exported[kind], model_config=cfg, label="y",
                             sensitive="sex", n_bootstrap=0, n_permutations=0, min_group_size=1,
                             min_group_events=1)
    ds = load_manifest(cohort, label="y", sensitive="sex", check_inputs=False)
    scores = load_predictor(exported[kind], config=cfg).predict_proba(ds)
    np.testing.assert_allclose(scores, _expected(cohort, TinyNet().eval()), atol=1e-6)
    run = result.run
    assert run.model_adapter == kind
    assert run.model_sha256 == hashlib.sha256(exported[kind].read_bytes()).hexdigest()
    assert run.model_config_sha256 == hashlib.sha256(cfg.read_bytes()).hexdigest()
    assert result.threshold.value == 0.4 and result.threshold.source.startswith("model config")


def test_onnx_model_with_a_fixed_batch_size(cohort: Path, exported: dict[str, Path], tmp_path: Path) -> None:
    predictor = load_predictor(exported["fixed"], config=_config(tmp_path))
    assert predictor.runner.fixed_batch == 4
    ds = load_manifest(cohort, label="y", sensitive="sex", check_inputs=False)
    np.testing.assert_allclose(predictor.predict_proba(ds), _expected(cohort, TinyNet().eval()), atol=1e-6)


def test_image_channels_resize_and_missing_images(cohort: Path, tmp_path: Path) -> None:
    from fairaudit.models.adapters.inputs import InputBuilder

    frame = pd.read_csv(cohort / "manifest.csv")
    frame.loc[1, "scan"] = ""
    frame["scan"] = [str(cohort / p) if p == p and p else "" for p in frame["scan"].fillna("")]
    frame.to_csv(tmp_path / "m.csv", index=False)
    text = CONFIG.format(columns='["x1", "x2"]').replace(
        "size = [8, 8]\nmean = [0.5]\nstd = [0.25]",
        "size = [4, 4]\nchannels = 3\nresize = true\nfill = -9.0\nmean = [0.1, 0.2, 0.3]\nstd = [1.0, 2.0, 4.0]")
    config = load_model_config(_config(tmp_path, text=text))
    ds = load_manifest(tmp_path / "m.csv", label="y", sensitive="sex", check_inputs=False)
    image = InputBuilder(config).build(ds, np.arange(3))["image"]
    assert image.shape == (3, 3, 4, 4) and image.dtype == np.float32
    assert (image[1] == -9.0).all()  # no image: the fill value
    raw = np.asarray(Image.open(cohort / "img" / "0.png"), dtype=np.float32) / 255.0
    small = torch.nn.functional.interpolate(torch.from_numpy(raw)[None, None], size=(4, 4),
                                            mode="bilinear", antialias=True)[0, 0].numpy()
    for c, (m, sd) in enumerate(((0.1, 1.0), (0.2, 2.0), (0.3, 4.0))):
        np.testing.assert_allclose(image[0, c], (small - m) / sd, rtol=1e-6)
    # A colour image keeps its three channels.
    rgb = np.random.default_rng(1).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "colour.png")
    frame.loc[2, "scan"] = str(tmp_path / "colour.png")
    frame.to_csv(tmp_path / "m.csv", index=False)
    ds = load_manifest(tmp_path / "m.csv", label="y", sensitive="sex", check_inputs=False)
    image = InputBuilder(config).build(ds, np.arange(3))["image"]
    for c, (m, sd) in enumerate(((0.1, 1.0), (0.2, 2.0), (0.3, 4.0))):
        np.testing.assert_allclose(image[2, c], (rgb[..., c] / np.float32(255.0) - m) / sd, rtol=1e-6)


@pytest.mark.parametrize(("edit", "needle"), [
    (('column = "scan"', 'colum = "scan"'), "unknown key 'inputs[0].colum'"),
    (("size = [8, 8]", 'size = "8x8"'), "'inputs[0].size' must be an array"),
    (("size = [8, 8]", "size = [8, 0]"), "'inputs[0].size' must be greater than 0"),
    (('kind = "softmax"', 'kind = "odds"'), "'output.kind' must be one of"),
    (("batch_size = 10", "batch_size = 0"), "'model.batch_size' must be at least 1"),
    (('column = "scan"\n', ""), "'inputs[0].column' is required"),
    (("index = 1", "index = 1\ncolour = 2"), "unknown key 'output.colour'"),
])
def test_bad_config_names_the_key(tmp_path: Path, edit: tuple[str, str], needle: str) -> None:
    text = CONFIG.format(columns='["x1", "x2"]').replace(*edit)
    with pytest.raises(ConfigError) as info:
        load_model_config(_config(tmp_path, text=text))
    assert needle in str(info.value)


def test_missing_column_names_the_config_key(cohort: Path, exported: dict[str, Path], tmp_path: Path) -> None:
    cfg = _config(tmp_path, columns='["x1", "x3"]')
    ds = load_manifest(cohort, label="y", sensitive="sex", check_inputs=False)
    with pytest.raises(InputError, match=r"column 'x3' \(given by inputs\[1\].columns of model config"):
        load_predictor(exported["torchscript"], config=cfg).predict_proba(ds)


def test_shape_mismatch_names_the_tensor_and_shapes(cohort: Path, exported: dict[str, Path],
                                                    tmp_path: Path) -> None:
    cohort_frame = pd.read_csv(cohort / "manifest.csv").assign(x3=1.0)
    cohort_frame.to_csv(tmp_path / "m.csv", index=False)
    (tmp_path / "img").symlink_to(cohort / "img")
    cfg = _config(tmp_path, columns='["x1", "x2", "x3"]')
    with pytest.raises(ConfigError, match=r"input 'tab'.*expects shape \['batch', 2\].*gives \['batch', 3\]"):
        load_predictor(exported["onnx"], config=cfg)
    res = CliRunner().invoke(app, ["audit", "--model", str(exported["onnx"]), "--model-config", str(cfg),
                                   "--data", str(tmp_path / "m.csv"), "--label", "y", "--sensitive",
                                   "sex", "-o", str(tmp_path / "out.json")])
    assert res.exit_code == 2 and "input 'tab'" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out.json").exists()
    ds = load_manifest(tmp_path / "m.csv", label="y", sensitive="sex", check_inputs=False)
    with pytest.raises(ConfigError, match=r"rejected the inputs .*tab \[1, 3\] float32"):
        load_predictor(exported["torchscript"], config=cfg).predict_proba(ds)
    # A (n, 2) output without output.index: the output's shape is named.
    no_index = _config(tmp_path, text=CONFIG.format(columns='["x1", "x2"]').replace(
        'kind = "softmax"\nindex = 1', 'kind = "logit"'))
    with pytest.raises(ConfigError, match=r"has shape \[1, 2\]; set output.index"):
        load_predictor(exported["torchscript"], config=no_index).predict_proba(ds)


def test_missing_onnxruntime_is_exit_2_with_the_install_command(
        cohort: Path, exported: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    res = CliRunner().invoke(app, ["audit", "--model", str(exported["onnx"]), "--model-config",
                                   str(_config(tmp_path)), "--data", str(cohort), "--label", "y",
                                   "--sensitive", "sex", "-q"])
    assert res.exit_code == 2
    assert 'pip install "fairaudit-med[onnx]"' in res.output


def _write_module(tmp_path: Path, name: str, marker: Path) -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(f"""
        from pathlib import Path
        import numpy as np
        Path({str(marker)!r}).write_text("imported")

        class Scorer:
            threshold = 0.3
            def predict_proba(self, dataset):
                x = dataset.frame["x1"].to_numpy(dtype=float)
                return 1.0 / (1.0 + np.exp(-x))

        def make():
            return Scorer()

        def make_from(config_path):
            scorer = Scorer()
            scorer.threshold = float(Path(config_path).read_text())
            return scorer

        def broken():
            return object()
    """), encoding="utf-8")


def test_entry_point_factory(cohort: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "imported.txt"
    _write_module(tmp_path, "userscorer_ok", marker)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = fairaudit.audit(data=cohort, model="userscorer_ok:make", label="y", sensitive="sex",
                             n_bootstrap=0, n_permutations=0, min_group_size=1, min_group_events=1)
    assert marker.exists()
    assert result.run.model_adapter == "entry-point"
    assert result.run.model_sha256 == hashlib.sha256((tmp_path / "userscorer_ok.py").read_bytes()).hexdigest()
    assert result.threshold.value == 0.3
    cfg = tmp_path / "threshold.txt"
    cfg.write_text("0.7")
    assert load_predictor("userscorer_ok:make_from", config=cfg).threshold == 0.7
    with pytest.raises(ModelError, match="has no predict_proba"):
        load_predictor("userscorer_ok:broken")
    with pytest.raises(ModelError, match="has no attribute 'nothing'"):
        load_predictor("userscorer_ok:nothing")


def test_entry_point_is_not_imported_unless_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "imported.txt"
    _write_module(tmp_path, "userscorer_quiet", marker)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    # A file whose name looks like an entry point is a path, never an import.
    lookalike = tmp_path / "userscorer_quiet:make"
    lookalike.write_bytes(b"not a model")
    assert model_kind(str(lookalike)) == "torchscript"
    with pytest.raises(ModelError, match="not a TorchScript archive"):
        load_predictor(str(lookalike), config=_config(tmp_path))
    # A module name without ':factory' is not an entry point either.
    with pytest.raises(ModelError, match="does not exist"):
        load_predictor("userscorer_quiet")
    assert not marker.exists()


class _Planted:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_pickle_is_never_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled.txt"
    model = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(2), "payload": _Planted(str(marker))}, model)
    with pytest.raises(ModelError, match="torch.save\\(\\) file, not TorchScript; fairaudit never unpickles"):
        load_predictor(model, config=_config(tmp_path))
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(_Planted(str(marker))))
    with pytest.raises(ModelError, match="not a TorchScript archive"):
        load_predictor(plain, config=_config(tmp_path))
    assert not marker.exists()


def test_probability_output_out_of_range_suggests_logit(cohort: Path, tmp_path: Path) -> None:
    class Raw(nn.Module):
        def forward(self, image: torch.Tensor, tab: torch.Tensor) -> torch.Tensor:
            return tab[:, 0] * 10.0

    path = tmp_path / "raw.pt"
    torch.jit.save(torch.jit.script(Raw()), str(path))
    text = CONFIG.format(columns='["x1", "x2"]').replace('kind = "softmax"\nindex = 1', 'kind = "probability"')
    ds = load_manifest(cohort, label="y", sensitive="sex", check_inputs=False)
    with pytest.raises(ConfigError, match='outside \\[0, 1\\].*output.kind = "logit"'):
        load_predictor(path, config=_config(tmp_path, text=text)).predict_proba(ds)
    logit = _config(tmp_path, text=text.replace('kind = "probability"', 'kind = "logit"'))
    got = load_predictor(path, config=logit).predict_proba(ds)
    x1 = pd.read_csv(cohort / "manifest.csv")["x1"].to_numpy()
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-np.float32(x1) * 10.0)), rtol=1e-5)


def test_config_errors_with_the_built_in_model_and_without_config(tmp_path: Path, exported: dict[str, Path]) -> None:
    root = Path(__file__).resolve().parents[2]
    with pytest.raises(ConfigError, match="carries its own preprocessing"):
        load_predictor(root / "sample_data" / "model", config=_config(tmp_path))
    with pytest.raises(ConfigError, match="needs a model config"):
        load_predictor(exported["onnx"])


def test_the_readme_entry_point_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    predictor = load_predictor("examples.lab_score:make")
    ds = load_manifest(root / "sample_data" / "cohort" / "validation.csv", label="diagnosis",
                       sensitive="sex", check_inputs=False)
    scores = predictor.predict_proba(ds)
    assert scores.shape == (ds.n_rows,) and 0 < scores.min() < scores.max() < 1
    assert predictor.sha256 == hashlib.sha256((root / "examples" / "lab_score.py").read_bytes()).hexdigest()


def test_onnx_zipmap_output_of_a_scikit_learn_style_classifier(cohort: Path, tmp_path: Path) -> None:
    """skl2onnx classifiers return [{class: probability}, ...] (ZipMap); output.index picks."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("float_input", TensorProto.FLOAT, [None, 2])
    probs = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])
    seq = helper.make_value_info("output_probability", helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, []))))
    graph = helper.make_graph(
        [helper.make_node("Softmax", ["float_input"], ["probabilities"], axis=1),
         helper.make_node("ZipMap", ["probabilities"], ["output_probability"],
                          classlabels_int64s=[0, 1], domain="ai.onnx.ml")],
        "zipmap", [x], [seq, probs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 8
    path = tmp_path / "clf.onnx"
    onnx.save(model, str(path))
    cfg = tmp_path / "clf.toml"
    cfg.write_text('[[inputs]]\nname = "float_input"\nkind = "tabular"\ncolumns = ["x1", "x2"]\n\n'
                   '[output]\nname = "output_probability"\nindex = 1\n', encoding="utf-8")
    ds = load_manifest(cohort, label="y", sensitive="sex", check_inputs=False)
    got = load_predictor(path, config=cfg).predict_proba(ds)
    x12 = pd.read_csv(cohort / "manifest.csv")[["x1", "x2"]].to_numpy(dtype=np.float32)
    np.testing.assert_allclose(got, 1 / (1 + np.exp(x12[:, 0] - x12[:, 1])), rtol=1e-5)
