"""Model signatures: input/output column names, dtypes and shapes, inferred from samples."""

from __future__ import annotations

from typing import Any

from autolog.entities import _Entity


class ModelSignature(_Entity):
    """What a model takes and returns; each side is a list of column/tensor specs (dicts with
    ``name``, ``type`` and, for tensors, ``shape``)."""

    __slots__ = ("inputs", "outputs")
    inputs: tuple[dict[str, Any], ...]
    outputs: tuple[dict[str, Any], ...]

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {"inputs": (), "outputs": ()}

    def _convert(self, name: str, value: Any) -> Any:
        return tuple(value)

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": [dict(s) for s in self.inputs], "outputs": [dict(s) for s in self.outputs]}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "ModelSignature | None":
        if not d:
            return None
        return cls(tuple(d.get("inputs") or ()), tuple(d.get("outputs") or ()))


def _spec(data: Any) -> tuple[dict[str, Any], ...]:
    if data is None:
        return ()
    module = type(data).__module__.split(".")[0]
    if module == "pandas" and hasattr(data, "columns"):
        return tuple({"name": str(c), "type": str(t)} for c, t in zip(data.columns, data.dtypes))
    if module == "pandas":
        return ({"name": str(data.name) if data.name is not None else None, "type": str(data.dtype)},)
    if isinstance(data, dict):
        return tuple({"name": str(k), **_spec(v)[0]} for k, v in data.items())
    if module == "torch" and hasattr(data, "detach"):
        return ({"type": "tensor", "dtype": str(data.dtype).replace("torch.", ""),
                 "shape": [-1, *[int(s) for s in data.shape[1:]]]},)
    if module == "scipy" and hasattr(data, "tocsr"):
        return ({"type": "tensor", "dtype": str(data.dtype), "shape": [-1, int(data.shape[1])],
                 "sparse": True},)
    import numpy as np

    arr = data if isinstance(data, np.ndarray) else np.asarray(data)
    return ({"type": "tensor", "dtype": str(arr.dtype), "shape": [-1, *[int(s) for s in arr.shape[1:]]]},)


def infer_signature(model_input: Any, model_output: Any = None, params: Any = None) -> ModelSignature:
    """Describe a model's input (and output) from example data.

    Supports numpy arrays, pandas DataFrames/Series, dicts of arrays, scipy sparse matrices,
    torch tensors and lists.
    """
    del params
    return ModelSignature(_spec(model_input), _spec(model_output))
