"""A seasonal ARIMA (SARIMAX) forecast under autolog: one run with the model's order and
seasonal order, information criteria, the summary and the fitted model, which forecasts the
same values after loading.

Run it with ``python examples/statsmodels_sarimax_forecast.py``; runs go to
``$AUTOLOG_TRACKING_URI`` (default ``./autolog-runs``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import autolog


def make_series(months: int = 96, seed: int = 7) -> pd.Series:
    """Monthly demand: a level, a yearly cycle and AR(1) noise."""
    rng = np.random.default_rng(seed)
    noise = np.zeros(months)
    for t in range(1, months):
        noise[t] = 0.5 * noise[t - 1] + rng.normal(0, 1.0)
    season = 5 * np.sin(2 * np.pi * np.arange(months) / 12)
    index = pd.date_range("2017-01-01", periods=months, freq="MS")
    return pd.Series(100 + season + noise, index=index, name="demand")


def main() -> None:
    autolog.statsmodels.autolog()  # only the statsmodels integration
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    series = make_series()
    model = SARIMAX(series, order=(1, 0, 0), seasonal_order=(0, 1, 1, 12))
    results = model.fit(disp=False)
    forecast = results.forecast(steps=12)

    run = autolog.last_active_run()
    assert run is not None
    print(f"run {run.info.run_id}: AIC = {results.aic:.1f}")
    print(forecast.round(1).to_string())

    loaded = autolog.load_model(f"runs:/{run.info.run_id}/model")
    assert np.array_equal(loaded.forecast(steps=12).to_numpy(), forecast.to_numpy())


if __name__ == "__main__":
    main()
