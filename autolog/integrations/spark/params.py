"""Naming a ``pyspark.ml`` estimator's params, nested stages included, as MLflow does.

Every stage in the tree (a Pipeline's stages, a tuner's estimator and evaluator, OneVsRest's
classifier: any param whose value is itself a ``Params``) gets a name: its class name, or
``<Class>_<n>`` in depth-first order when the class occurs more than once. The fitted estimator's
own params keep their names (``maxIter``); a nested stage's are prefixed with the stage's name
(``LogisticRegression.maxIter``); a param holding stages is logged as their names (``stages``:
``['VectorAssembler', 'LogisticRegression']``). A tuner's ``estimatorParamMaps`` is not a param
to log: its maps go to ``search_results.csv`` and the child runs.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterator

SKIPPED = frozenset({"estimatorParamMaps"})


def _is_params(value: Any) -> bool:
    from pyspark.ml.param import Params

    return isinstance(value, Params)


def defined(instance: Any) -> Iterator[tuple[Any, Any]]:
    """(param, value) for each param that has a value (set or default); Python-side only."""
    for param in instance.params:
        if instance.isDefined(param):
            yield param, instance.getOrDefault(param)


def _children(instance: Any) -> Iterator[Any]:
    for param, value in defined(instance):
        if param.name in SKIPPED:
            continue
        if isinstance(value, (list, tuple)):
            yield from (v for v in value if _is_params(v))
        elif _is_params(value):
            yield value
    stages = getattr(instance, "stages", None)  # a PipelineModel keeps them as an attribute
    if isinstance(stages, list):
        yield from (s for s in stages if _is_params(s))


def stage_names(root: Any) -> dict[str, str]:
    """uid -> name for ``root`` and every stage nested in it."""
    order: list[Any] = []
    seen: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.uid in seen:
            continue
        seen.add(node.uid)
        order.append(node)
        stack.extend(reversed(list(_children(node))))
    counts = Counter(type(node).__name__ for node in order)
    index: Counter[str] = Counter()
    names = {}
    for node in order:
        cls = type(node).__name__
        if counts[cls] > 1:
            index[cls] += 1
            names[node.uid] = f"{cls}_{index[cls]}"
        else:
            names[node.uid] = cls
    return names


def flatten(instance: Any, names: dict[str, str], top: bool = True) -> dict[str, Any]:
    """The params of ``instance`` and of every stage nested in it, named as described above."""
    prefix = "" if top else f"{names.get(instance.uid, type(instance).__name__)}."
    out: dict[str, Any] = {}
    for param, value in defined(instance):
        if param.name in SKIPPED:
            continue
        key = prefix + param.name
        if isinstance(value, (list, tuple)) and value and all(_is_params(v) for v in value):
            out[key] = [names.get(v.uid, type(v).__name__) for v in value]
            for stage in value:
                out.update(flatten(stage, names, top=False))
        elif _is_params(value):
            out[key] = names.get(value.uid, type(value).__name__)
            out.update(flatten(value, names, top=False))
        else:
            out[key] = value
    return out


def map_key(param: Any, names: dict[str, str], top_uid: str | None = None) -> str:
    """The name of a param of a param map: unprefixed when it belongs to ``top_uid``."""
    if param.parent == top_uid:
        return str(param.name)
    return f"{names.get(param.parent, param.parent)}.{param.name}"
