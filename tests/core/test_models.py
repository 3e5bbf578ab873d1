"""Logged models: folder format, signature, metadata, flavors (pickle fallback; no framework)."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

import autolog
from autolog.errors import AutologWarning, InvalidInputError, NotFoundError
from autolog.models import get_model_info, infer_signature, save_model


class Doubler:
    def predict(self, X):
        return np.asarray(X) * 2


def test_log_and_load_plain_object():
    X = np.arange(12.0).reshape(6, 2)
    with autolog.start_run() as run:
        info = autolog.log_model(Doubler(), "doubler", input_example=X)
    assert info.model_uri == f"runs:/{run.info.run_id}/doubler"
    folder = os.path.join(run.info.artifact_uri, "doubler")
    assert sorted(os.listdir(folder)) == ["input_example.json", "model.json", "model.pkl",
                                          "requirements.txt"]
    with open(os.path.join(folder, "input_example.json")) as fh:
        assert json.load(fh) == X[:5].tolist()
    with open(os.path.join(folder, "requirements.txt")) as fh:
        reqs = fh.read().split()
    assert any(r.startswith("numpy==") for r in reqs) and any(r.startswith("cloudpickle==") for r in reqs)
    loaded = autolog.load_model(info.model_uri)
    assert np.array_equal(loaded.predict(X), X * 2)
    meta = get_model_info(info.model_uri)
    assert meta.flavor == "pickle" and meta.run_id == run.info.run_id
    assert meta.signature.inputs[0] == {"type": "tensor", "dtype": "float64", "shape": [-1, 2]}
    assert meta.signature.outputs[0]["shape"] == [-1, 2]


def test_infer_signature_pandas():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"age": [1, 2], "name": ["a", "b"]})
    sig = infer_signature(df, pd.Series([0.1, 0.2], name="score"))
    assert sig.inputs == ({"name": "age", "type": "int64"}, {"name": "name", "type": df.dtypes["name"].name})
    assert sig.outputs == ({"name": "score", "type": "float64"},)
    assert type(sig).from_dict(sig.to_dict()) == sig


def test_explicit_signature_and_errors(tmp_path):
    sig = infer_signature(np.zeros((3, 4), dtype=np.float32))
    with autolog.start_run():
        info = autolog.log_model(Doubler(), "m", signature=sig)
        with pytest.raises(InvalidInputError):
            autolog.log_model(Doubler(), "m")  # same name: the folder already holds a model
    assert get_model_info(info.model_uri).signature == sig
    with pytest.raises(NotFoundError):
        autolog.load_model(str(tmp_path / "no-model"))


def _saved_with(tmp_path, framework: str, version: str) -> str:
    """A model folder whose model.json claims it was saved with ``framework`` ``version``."""
    path = str(tmp_path / "model")
    save_model(Doubler(), path)
    meta_path = os.path.join(path, "model.json")
    with open(meta_path) as fh:
        meta = json.load(fh)
    meta["framework"], meta["framework_version"] = framework, version
    with open(meta_path, "w") as fh:
        json.dump(meta, fh)
    return path


def test_version_mismatch_warns(tmp_path):
    path = _saved_with(tmp_path, "numpy", "0.0.1")
    with pytest.warns(AutologWarning, match="numpy 0.0.1"):
        autolog.load_model(path)


def test_missing_framework_names_the_extra(tmp_path):
    path = _saved_with(tmp_path, "surely-not-installed-pkg", "1.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # The pickle flavor has no extra: the message names the package itself.
        with pytest.raises(ImportError, match=r'pip install "surely-not-installed-pkg"'):
            autolog.load_model(path)


def test_missing_framework_of_a_flavor_with_an_extra_names_the_extra(tmp_path):
    path = _saved_with(tmp_path, "surely-not-installed-pkg", "1.0")
    meta_path = os.path.join(path, "model.json")
    with open(meta_path) as fh:
        meta = json.load(fh)
    meta["flavor"] = "xgboost"
    with open(meta_path, "w") as fh:
        json.dump(meta, fh)
    with pytest.raises(ImportError, match=r'pip install "autolog\[xgboost\]"'):
        autolog.load_model(path)


def test_known_extras_are_the_ones_pyproject_declares():
    tomllib = pytest.importorskip("tomllib")
    from pathlib import Path

    from autolog import models

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    declared = set(pyproject["project"]["optional-dependencies"]) - {"all", "dev"}
    assert models._EXTRAS <= declared


def _load_elsewhere(data: bytes) -> str:
    """Unpickle ``data`` in a fresh interpreter (no test module, another ``__main__``)."""
    import subprocess
    import sys

    code = "import pickle, sys; m = pickle.loads(sys.stdin.buffer.read()); print(m.predict(3))"
    return subprocess.run([sys.executable, "-c", code], input=data, capture_output=True,
                          check=True, cwd=os.path.dirname(os.path.abspath(__file__)) + "/../..",
                          ).stdout.decode().strip()


def test_snapshot_takes_the_fast_pickler_only_where_cloudpickle_writes_the_same(monkeypatch):
    import pickle
    import sys

    import cloudpickle

    from autolog.models._pickle import snapshot

    plain = Doubler()
    assert bytes(snapshot(plain)) == cloudpickle.dumps(plain)
    assert _load_elsewhere(bytes(snapshot(plain))) == "6"
    # A class of __main__ (a notebook's, a script's) and a lambda are written by value.
    Local = type("Local", (), {"predict": lambda self, x: x + 1, "__module__": "__main__"})
    monkeypatch.setattr(sys.modules["__main__"], "Local", Local, raising=False)
    assert b"__main__" in pickle.dumps(Local(), protocol=5)  # by reference: useless elsewhere
    assert _load_elsewhere(bytes(snapshot(Local()))) == "4"
    holder = Doubler()
    holder.fn = lambda x: x  # plain pickle refuses it
    assert pickle.loads(bytes(snapshot(holder))).fn(5) == 5
