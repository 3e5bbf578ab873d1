"""Metrics over epochs: a simulated training loop logging learning curves with ``step``.

The tutorial's second scenario with ``import mlflow`` replaced by ``import autolog``: one run per
learning rate, four metrics per epoch, and two summary metrics logged without a step.
"""

from __future__ import annotations

import numpy as np

import autolog

autolog.set_experiment("neural_network_training")


def train_neural_network(epochs: int, learning_rate: float) -> None:
    """Simulated neural network training with epoch-level metric logging."""
    with autolog.start_run(run_name=f"nn_lr_{learning_rate}"):
        autolog.log_param("epochs", epochs)
        autolog.log_param("learning_rate", learning_rate)
        autolog.log_param("optimizer", "adam")
        autolog.log_param("batch_size", 32)

        for epoch in range(epochs):
            # Simulate decreasing loss and increasing accuracy
            train_loss = 1.0 / (epoch + 1) + np.random.normal(0, 0.05)
            val_loss = 1.2 / (epoch + 1) + np.random.normal(0, 0.08)
            train_acc = 1.0 - train_loss + np.random.normal(0, 0.02)
            val_acc = 1.0 - val_loss + np.random.normal(0, 0.03)

            # Each call only queues the value: the disk is written by a background thread.
            autolog.log_metric("train_loss", train_loss, step=epoch)
            autolog.log_metric("val_loss", val_loss, step=epoch)
            autolog.log_metric("train_accuracy", train_acc, step=epoch)
            autolog.log_metric("val_accuracy", val_acc, step=epoch)

        # Final metrics (no step: these are the summary values)
        autolog.log_metric("final_train_loss", train_loss)
        autolog.log_metric("final_val_accuracy", val_acc)


for lr in [0.001, 0.01, 0.1]:
    train_neural_network(epochs=50, learning_rate=lr)

print(f"Logged 3 runs into experiment 'neural_network_training' at {autolog.get_tracking_uri()}")
