"""Formula-API OLS under autolog: one run with the formula, fit settings, metrics, the
summary, a coefficient table and the fitted model, which loads back and predicts.

Run it with ``python examples/statsmodels_formula_ols.py``; runs go to ``$AUTOLOG_TRACKING_URI``
(default ``./autolog-runs``). List them with ``autolog runs list``, or read them back with
``autolog.search_runs()``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import autolog


def make_data(n: int = 300, seed: int = 42) -> pd.DataFrame:
    """Synthetic house prices: size in m², rooms, and a district effect."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "size": rng.uniform(40, 200, n),
        "rooms": rng.integers(1, 6, n),
        "district": rng.choice(["north", "south", "centre"], n),
    })
    effect = df["district"].map({"north": 0.0, "south": -150.0, "centre": 400.0})
    df["price"] = 900 + 11.5 * df["size"] + 120 * df["rooms"] + effect + rng.normal(0, 80, n)
    return df


def main() -> None:
    autolog.autolog()  # enables every installed integration; statsmodels is patched on import
    import statsmodels.formula.api as smf

    df = make_data()
    results = smf.ols("price ~ size + rooms + C(district)", data=df).fit(cov_type="HC3")

    run = autolog.last_active_run()
    assert run is not None
    print(f"run {run.info.run_id}: R² = {results.rsquared:.3f}")

    # The logged model is statsmodels' own results object: it predicts from raw rows.
    loaded = autolog.load_model(f"runs:/{run.info.run_id}/model")
    new_rows = df.drop(columns="price").head(3)
    print("predictions:", np.round(np.asarray(loaded.predict(new_rows)), 1))
    assert np.array_equal(np.asarray(loaded.predict(new_rows)), np.asarray(results.predict(new_rows)))


if __name__ == "__main__":
    main()
