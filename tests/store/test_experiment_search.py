"""search_experiments orders and limits in the database, as search_runs does."""

from __future__ import annotations

import sqlalchemy as sa

from autolog.store.sql import SqlStore


def test_search_experiments_orders_and_limits_in_sql(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'e.db'}", str(tmp_path / "art"))
    ids = [store.create_experiment(f"exp-{i:02d}") for i in range(30)]
    statements: list[str] = []
    sa.event.listen(store._engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *rest: statements.append(statement))
    page = store.search_experiments(max_results=5, order_by=["name DESC"])
    assert [e.name for e in page] == [f"exp-{i:02d}" for i in range(29, 24, -1)]
    select = next(s for s in statements if "FROM experiments" in s and "experiment_tags" not in s)
    assert "ORDER BY" in select and "LIMIT" in select
    # Without order_by: newest first, then by id; ties on creation time keep id order.
    default = store.search_experiments(max_results=3)
    assert len(default) == 3
    created = [e.creation_time for e in store.search_experiments()]
    assert created == sorted(created, reverse=True)
    by_id = store.search_experiments(order_by=["experiment_id ASC"], max_results=31)
    assert [e.experiment_id for e in by_id] == ["0", *ids]
    store.close()
