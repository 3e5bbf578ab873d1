"""Keras autologging: a small classifier trained with ``validation_split`` and early stopping.

One call, ``autolog.keras.autolog()``, and the run gets the fit arguments and optimizer settings
as params, ``loss``/``accuracy``/``val_loss``/``val_accuracy`` per epoch, the early-stopping
outcome, ``model_summary.txt`` and the model; ``evaluate()`` afterwards adds ``eval_loss`` and
``eval_accuracy`` to the same run. Runs on the torch backend by default, no TensorFlow needed.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # must be set before keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402

import autolog  # noqa: E402


def main() -> None:
    autolog.keras.autolog()

    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 10)).astype("float32")
    y = (x @ rng.normal(size=10) > 0).astype("float32")
    x_train, x_test, y_train, y_test = x[:800], x[800:], y[:800], y[800:]

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(10,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                  loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train, y_train, epochs=8, batch_size=32, validation_split=0.2, verbose=0,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=2,
                                                 restore_best_weights=True)],
    )
    results = model.evaluate(x_test, y_test, return_dict=True, verbose=0)

    run = autolog.last_active_run()
    assert run is not None
    print(f"run {run.info.run_id}: {len(history.epoch)} epochs, "
          f"val_loss {history.history['val_loss'][-1]:.4f}, test accuracy {results['accuracy']:.3f}")
    autolog.flush()
    model_again = autolog.load_model(f"runs:/{run.info.run_id}/model")
    same = np.allclose(model_again.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
    print(f"reloaded model gives the same predictions: {same}")


if __name__ == "__main__":
    main()
