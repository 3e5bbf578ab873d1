"""The store contract as a test suite: subclass :class:`StoreContract` and provide a ``store``
fixture returning a fresh, empty store. Every backend (SQLite, PostgreSQL, the batching
wrapper, a REST client later) runs these same tests.

Example::

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(...)
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

import pytest

from autolog.entities import Dataset, Metric, Param, RunStatus, RunTag, ViewType
from autolog.errors import (
    FilterSyntaxError,
    InvalidInputError,
    NotFoundError,
    ParamConflictError,
    RunStateError,
)
from autolog.store.base import DEFAULT_EXPERIMENT_ID


def _now() -> int:
    return int(time.time() * 1000)


class StoreContract:
    """Behaviour every :class:`~autolog.store.base.AbstractStore` implementation keeps."""

    @pytest.fixture
    def store(self) -> Any:  # pragma: no cover - provided by the backend's test class
        raise NotImplementedError

    def _run(self, store: Any, experiment_id: str = DEFAULT_EXPERIMENT_ID, **kwargs: Any) -> str:
        run = store.create_run(experiment_id, kwargs.pop("name", "r"), kwargs.pop("start", _now()),
                               **kwargs)
        return run.info.run_id  # type: ignore[no-any-return]

    # -- experiments --------------------------------------------------------------------------
    def test_default_experiment_exists(self, store: Any) -> None:
        assert store.get_experiment(DEFAULT_EXPERIMENT_ID).name == "Default"

    def test_create_get_experiment(self, store: Any) -> None:
        eid = store.create_experiment("exp", tags={"team": "a"})
        exp = store.get_experiment(eid)
        assert (exp.name, dict(exp.tags), exp.lifecycle_stage) == ("exp", {"team": "a"}, "active")
        assert store.get_experiment_by_name("exp") == exp
        assert store.get_experiment_by_name("nope") is None

    def test_duplicate_experiment_name_rejected(self, store: Any) -> None:
        store.create_experiment("dup")
        with pytest.raises(InvalidInputError, match="already exists"):
            store.create_experiment("dup")

    def test_missing_experiment(self, store: Any) -> None:
        with pytest.raises(NotFoundError):
            store.get_experiment("12345")
        with pytest.raises(NotFoundError):
            store.create_run("12345", "r", _now())

    def test_experiment_delete_restore_and_search(self, store: Any) -> None:
        a = store.create_experiment("alpha", tags={"k": "v"})
        b = store.create_experiment("beta")
        store.set_experiment_lifecycle(b, "deleted")
        active = {e.name for e in store.search_experiments()}
        assert "alpha" in active and "beta" not in active
        assert {e.name for e in store.search_experiments(ViewType.DELETED_ONLY)} == {"beta"}
        assert [e.experiment_id for e in store.search_experiments(
            filter_string="name LIKE 'al%'")] == [a]
        assert [e.experiment_id for e in store.search_experiments(
            filter_string="tags.k = 'v'")] == [a]
        with pytest.raises(RunStateError):
            store.create_run(b, "r", _now())
        store.set_experiment_lifecycle(b, "active")
        assert store.get_experiment(b).lifecycle_stage == "active"

    # -- runs ---------------------------------------------------------------------------------
    def test_run_ids_unique_and_hex(self, store: Any) -> None:
        ids = {self._run(store) for _ in range(20)}
        assert len(ids) == 20 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)

    def test_create_and_update_run(self, store: Any) -> None:
        created = store.create_run(DEFAULT_EXPERIMENT_ID, "first", _now(), tags=[RunTag("a", "1")],
                                   user_id="ana")
        rid = created.info.run_id
        run = store.get_run(rid)
        assert created == run  # what create_run returns is what is stored
        assert (run.info.status, run.info.run_name, run.data.tags["a"]) == ("RUNNING", "first", "1")
        info = store.update_run_info(rid, status=RunStatus.FINISHED, end_time=123, run_name="second")
        assert (info.status, info.end_time, info.run_name) == ("FINISHED", 123, "second")
        assert info == store.get_run(rid).info
        with pytest.raises(InvalidInputError):
            store.update_run_info(rid, status="DONE")
        with pytest.raises(NotFoundError):
            store.get_run("0" * 32)

    def test_entities_are_immutable(self, store: Any) -> None:
        run = store.get_run(self._run(store))
        with pytest.raises((AttributeError, TypeError)):
            run.info.status = "FAILED"  # type: ignore[misc]
        with pytest.raises(AttributeError):
            run.data.params = {}  # type: ignore[misc]
        # params/metrics/tags are plain dicts, as MLflow's are: copies, so changing one
        # changes nothing in the entity, and they serialise as they are.
        tags = run.data.tags
        assert type(tags) is dict and type(run.data.params) is dict and type(run.data.metrics) is dict
        tags["x"] = "y"
        assert "x" not in run.data.tags
        assert json.loads(json.dumps(run.data.tags)) == run.data.tags
        assert json.loads(json.dumps({"p": run.data.params, "m": run.data.metrics})) is not None

    def test_params_write_once(self, store: Any) -> None:
        rid = self._run(store)
        store.log_batch(rid, params=[Param("lr", "0.1")])
        store.log_batch(rid, params=[Param("lr", "0.1")])  # same value: no-op
        with pytest.raises(ParamConflictError, match="lr"):
            store.log_batch(rid, metrics=[Metric("m", 1.0, _now(), 0)], params=[Param("lr", "0.2")])
        store.flush() if hasattr(store, "flush") else None
        run = store.get_run(rid)
        assert run.data.params == {"lr": "0.1"}
        assert "m" not in run.data.metrics  # the conflicting batch stored nothing

    def test_tags_last_write_wins_and_delete(self, store: Any) -> None:
        rid = self._run(store)
        store.log_batch(rid, tags=[RunTag("t", "1")])
        store.log_batch(rid, tags=[RunTag("t", "2")])
        assert store.get_run(rid).data.tags["t"] == "2"
        store.delete_tag(rid, "t")
        assert "t" not in store.get_run(rid).data.tags
        with pytest.raises(NotFoundError):
            store.delete_tag(rid, "t")

    def test_metric_history_and_latest(self, store: Any) -> None:
        rid = self._run(store)
        store.log_batch(rid, metrics=[Metric("loss", 3.0, 10, 2), Metric("loss", 1.0, 11, 0),
                                      Metric("loss", 2.0, 12, 2), Metric("loss", float("nan"), 13, 1),
                                      Metric("inf", float("inf"), 14, 0)])
        history = store.get_metric_history(rid, "loss")
        assert [(m.step, m.timestamp) for m in history] == [(0, 11), (1, 13), (2, 10), (2, 12)]
        assert math.isnan(history[1].value)
        run = store.get_run(rid)
        assert run.data.metrics["loss"] == 2.0  # highest step, then newest
        assert run.data.metrics["inf"] == float("inf")
        store.log_batch(rid, metrics=[Metric("loss", 9.0, 5, 1)])  # older step: latest unchanged
        assert store.get_run(rid).data.metrics["loss"] == 2.0

    def test_unknown_run_rejected_on_log(self, store: Any) -> None:
        with pytest.raises(NotFoundError):
            store.inner.log_batch("f" * 32, params=[Param("a", "b")]) if hasattr(store, "inner") \
                else store.log_batch("f" * 32, params=[Param("a", "b")])

    def test_run_name_tag_renames(self, store: Any) -> None:
        rid = self._run(store, name="old")
        store.log_batch(rid, tags=[RunTag("mlflow.runName", "new")])
        assert store.get_run(rid).info.run_name == "new"

    def test_inputs_deduplicated(self, store: Any) -> None:
        rid = self._run(store)
        ds = Dataset("train", "abc123", "train", (10, 2), ("a", "b"), ("float64", "int64"))
        store.log_inputs(rid, [ds])
        store.log_inputs(rid, [ds])
        assert store.get_run(rid).inputs == (ds,)

    def test_a_tag_given_twice_at_creation_keeps_the_last_value(self, store: Any) -> None:
        rid = self._run(store, tags=[RunTag("k", "1"), RunTag("k", "2")])
        assert store.get_run(rid).data.tags["k"] == "2"

    def test_input_tags_are_stored(self, store: Any) -> None:
        rid = self._run(store)
        ds = Dataset("eval", "def456", "eval", (3,), None, ("int64",), "memory",
                     tags={"mlflow.data.context": "eval", "split": "holdout"})
        store.log_inputs(rid, [ds])
        [got] = store.get_run(rid).inputs
        assert got == ds and dict(got.tags) == {"mlflow.data.context": "eval", "split": "holdout"}

    def test_delete_restore_run(self, store: Any) -> None:
        rid = self._run(store)
        store.set_run_lifecycle(rid, "deleted")
        assert store.search_runs([DEFAULT_EXPERIMENT_ID]) == []
        assert len(store.search_runs([DEFAULT_EXPERIMENT_ID], run_view_type=ViewType.ALL)) == 1
        store.set_run_lifecycle(rid, "active")
        assert len(store.search_runs([DEFAULT_EXPERIMENT_ID])) == 1

    def test_stale_runs_marked_killed(self, store: Any) -> None:
        rid = store.create_run(DEFAULT_EXPERIMENT_ID, "r", _now(), owner="ghost:1").info.run_id
        live = store.create_run(DEFAULT_EXPERIMENT_ID, "r", _now(), owner="me:2").info.run_id
        assert store.mark_stale_runs(lambda owner: owner != "ghost:1") == 1
        assert store.get_run(rid).info.status == "KILLED"
        assert store.get_run(live).info.status == "RUNNING"

    # -- search -------------------------------------------------------------------------------
    @pytest.fixture
    def populated(self, store: Any) -> tuple[Any, list[str]]:
        ids = []
        for i, (model, acc, phase) in enumerate(
                [("rf", 0.9, "Tuning"), ("lr", 0.7, "baseline"), ("rf", 0.95, "tuning"), ("svm", None, "x")]):
            rid = self._run(store, name=f"run{i}", start=1000 + i)
            metrics = [Metric("acc", acc, 1, 0)] if acc is not None else []
            store.log_batch(rid, metrics=metrics, params=[Param("model", model)],
                            tags=[RunTag("phase", phase), RunTag("my key", str(i))])
            ids.append(rid)
        return store, ids

    def _ids(self, store: Any, flt: str, **kw: Any) -> list[str]:
        return [r.info.run_id for r in store.search_runs([DEFAULT_EXPERIMENT_ID], flt, **kw)]

    def test_search_filters(self, populated: Any) -> None:
        store, ids = populated
        assert set(self._ids(store, "metrics.acc > 0.8")) == {ids[0], ids[2]}
        assert set(self._ids(store, "params.model = 'rf' AND metrics.acc >= 0.95")) == {ids[2]}
        assert set(self._ids(store, "params.model IN ('lr', 'svm')")) == {ids[1], ids[3]}
        assert set(self._ids(store, "params.model NOT IN ('rf')")) == {ids[1], ids[3]}
        assert set(self._ids(store, "tags.phase LIKE 'tun%'")) == {ids[2]}  # case-sensitive
        assert set(self._ids(store, "tags.phase ILIKE 'tun%'")) == {ids[0], ids[2]}
        assert set(self._ids(store, "metrics.acc IS NULL")) == {ids[3]}
        assert set(self._ids(store, "tags.`my key` = '1'")) == {ids[1]}
        assert set(self._ids(store, 'tags."my key" != \'1\'')) == {ids[0], ids[2], ids[3]}
        assert set(self._ids(store, "attributes.run_name = 'run3'")) == {ids[3]}
        assert set(self._ids(store, "attributes.start_time >= 1002")) == {ids[2], ids[3]}
        assert set(self._ids(store, f"attributes.run_id = '{ids[1]}'")) == {ids[1]}

    def test_search_or_and_parentheses(self, populated: Any) -> None:
        store, ids = populated
        flt = "(params.model = 'lr' or params.model = 'svm') and tags.phase != 'x'"
        assert self._ids(store, flt) == [ids[1]]
        assert set(self._ids(store, "metrics.acc < 0.8 OR tags.phase = 'x'")) == {ids[1], ids[3]}

    def test_search_order_by(self, populated: Any) -> None:
        store, ids = populated
        assert self._ids(store, "") == ids[::-1]  # newest first by default
        assert self._ids(store, "", order_by=["metrics.acc DESC"]) == [ids[2], ids[0], ids[1], ids[3]]
        assert self._ids(store, "", order_by=["metrics.acc"]) == [ids[1], ids[0], ids[2], ids[3]]
        assert self._ids(store, "", order_by=["params.model ASC", "attributes.start_time DESC"]) == \
            [ids[1], ids[2], ids[0], ids[3]]
        assert self._ids(store, "", max_results=2) == [ids[3], ids[2]]

    def test_search_order_by_a_filtered_key(self, populated: Any) -> None:
        """Ordered by a key that the filter compares (every match has a value): the same order
        and pages as without the filter, ties newest first."""
        store, ids = populated
        acc = "metrics.acc > 0.5"
        assert self._ids(store, acc, order_by=["metrics.acc DESC"]) == [ids[2], ids[0], ids[1]]
        assert self._ids(store, acc, order_by=["metrics.acc"]) == [ids[1], ids[0], ids[2]]
        assert self._ids(store, "params.model != 'lr'", order_by=["params.model"]) == \
            [ids[2], ids[0], ids[3]]
        assert self._ids(store, "tags.phase ILIKE 'tun%'", order_by=["tags.phase DESC"]) == \
            [ids[2], ids[0]]
        # An OR does not promise the key: the run without acc comes too, last.
        assert self._ids(store, "metrics.acc > 0.8 OR tags.phase = 'x'",
                         order_by=["metrics.acc DESC"]) == [ids[2], ids[0], ids[3]]
        first = store.search_runs([DEFAULT_EXPERIMENT_ID], acc, max_results=2,
                                  order_by=["metrics.acc DESC"])
        rest = store.search_runs([DEFAULT_EXPERIMENT_ID], acc, max_results=2,
                                 order_by=["metrics.acc DESC"], page_token=first.token)
        assert [r.info.run_id for r in first] == [ids[2], ids[0]] and first.token
        assert [r.info.run_id for r in rest] == [ids[1]] and rest.token is None

    def test_search_pages_ordered_by_a_key_some_runs_lack(self, populated: Any) -> None:
        """Pages of every size agree with the whole order, across the boundary between the runs
        with a value and those without (a NaN counts as without)."""
        store, ids = populated
        nan = self._run(store, name="nan", start=999)
        store.log_batch(nan, metrics=[Metric("acc", float("nan"), 1, 0)])
        for order, secondary in ((["metrics.acc DESC"], ""), (["metrics.acc"], ""),
                                 (["tags.phase", "metrics.acc DESC"], "tags.phase")):
            whole = self._ids(store, "", order_by=order)
            assert len(whole) == 5, order
            for size in (1, 2, 3, 4):
                pages, token = [], None
                while True:
                    got = store.search_runs([DEFAULT_EXPERIMENT_ID], "", max_results=size,
                                            order_by=order, page_token=token)
                    pages += [r.info.run_id for r in got]
                    token = got.token
                    if token is None:
                        break
                assert pages == whole, (order, size)
            if not secondary:
                assert whole[3:] == [ids[3], nan]  # no value, then NaN: newest first
        assert self._ids(store, "", order_by=["metrics.acc DESC"]) == \
            [ids[2], ids[0], ids[1], ids[3], nan]

    def test_search_pages(self, store: Any) -> None:
        ids = [self._run(store, name=f"p{i}", start=2000 + i) for i in range(7)]
        pages, token = [], None
        while True:
            page = store.search_runs([DEFAULT_EXPERIMENT_ID], "", max_results=3, page_token=token)
            pages.append([r.info.run_id for r in page])
            token = page.token
            if token is None:
                break
        assert pages == [ids[6:3:-1], ids[3:0:-1], ids[0:1]]
        ordered = store.search_runs([DEFAULT_EXPERIMENT_ID], "attributes.run_name != 'p0'",
                                    max_results=6, order_by=["attributes.start_time ASC"])
        assert [r.info.run_id for r in ordered] == ids[1:] and ordered.token is None
        with pytest.raises(InvalidInputError):
            store.search_runs([DEFAULT_EXPERIMENT_ID], "", page_token="not-a-token")

    @pytest.mark.parametrize("flt, position", [
        ("metrics.acc >", 13),
        ("metrics.acc > 0.5 AND", 21),
        ("foo = 1", 0),
        ("params.a = 'x' AND metrics.b ~ 2", 29),
        ("metrics.a > 1)", 13),
        ("params.a = 'x' OR (tags.b = 'y'", 31),
        ("metrics.a = 'text'", 12),
        ("attributes.colour = 'red'", 0),
    ])
    def test_search_syntax_errors_have_positions(self, store: Any, flt: str, position: int) -> None:
        with pytest.raises(FilterSyntaxError) as err:
            store.search_runs([DEFAULT_EXPERIMENT_ID], flt)
        assert err.value.position == position
        assert f"at position {position}" in str(err.value)

    def test_bad_order_by(self, store: Any) -> None:
        with pytest.raises(FilterSyntaxError):
            store.search_runs([DEFAULT_EXPERIMENT_ID], "", order_by=["metrics.acc SIDEWAYS"])

    # -- concurrency --------------------------------------------------------------------------
    def test_threads_write_concurrently(self, store: Any) -> None:
        rid = self._run(store)
        errors: list[BaseException] = []

        def work(t: int) -> None:
            try:
                for i in range(50):
                    store.log_batch(rid, metrics=[Metric(f"m{t}", float(i), _now(), i)],
                                    params=[Param(f"p{t}_{i}", str(i))])
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        run = store.get_run(rid)
        assert len(run.data.params) == 200
        assert all(len(store.get_metric_history(rid, f"m{t}")) == 50 for t in range(4))
