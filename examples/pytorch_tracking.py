"""The tracking tutorial's "Integrating with PyTorch" scenario, with autolog instead of MLflow.

Manual tracking: params, per-epoch metrics and the model are logged explicitly (the model with
``autolog.pytorch.log_model``), one run per configuration. Kept small so that it runs in seconds::

    python examples/pytorch_tracking.py
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset

import autolog
import autolog.pytorch

autolog.set_experiment("pytorch_classification")


class SimpleNet(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, num_classes: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu(self.fc1(x)))


def train_model(hidden_size: int, learning_rate: float, epochs: int, batch_size: int) -> float:
    """Train one configuration in its own run; return the final validation accuracy."""
    with autolog.start_run(run_name=f"pytorch_hs{hidden_size}_lr{learning_rate}"):
        autolog.log_params({"hidden_size": hidden_size, "learning_rate": learning_rate,
                            "epochs": epochs, "batch_size": batch_size, "optimizer": "Adam"})
        rng = np.random.default_rng(42)
        X = rng.standard_normal((400, 20)).astype(np.float32)
        y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
        dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
        train_dataset, val_dataset = torch.utils.data.random_split(
            dataset, [320, 80], generator=torch.Generator().manual_seed(0))
        train_loader = DataLoader(train_dataset, batch_size=batch_size, shuffle=True)
        val_loader = DataLoader(val_dataset, batch_size=batch_size)

        torch.manual_seed(0)
        model = SimpleNet(input_size=20, hidden_size=hidden_size, num_classes=2)
        criterion = nn.CrossEntropyLoss()
        optimizer = optim.Adam(model.parameters(), lr=learning_rate)
        for epoch in range(epochs):
            model.train()
            train_loss, train_correct, train_total = 0.0, 0, 0
            for batch_X, batch_y in train_loader:
                optimizer.zero_grad()
                outputs = model(batch_X)
                loss = criterion(outputs, batch_y)
                loss.backward()
                optimizer.step()
                train_loss += loss.item()
                train_total += batch_y.size(0)
                train_correct += (outputs.argmax(1) == batch_y).sum().item()
            model.eval()
            val_loss, val_correct, val_total = 0.0, 0, 0
            with torch.no_grad():
                for batch_X, batch_y in val_loader:
                    outputs = model(batch_X)
                    val_loss += criterion(outputs, batch_y).item()
                    val_total += batch_y.size(0)
                    val_correct += (outputs.argmax(1) == batch_y).sum().item()
            autolog.log_metrics({"train_loss": train_loss / len(train_loader),
                                 "train_accuracy": train_correct / train_total,
                                 "val_loss": val_loss / len(val_loader),
                                 "val_accuracy": val_correct / val_total}, step=epoch)
        final_val_accuracy = val_correct / val_total
        autolog.log_metric("final_val_accuracy", final_val_accuracy)
        autolog.pytorch.log_model(model, "pytorch_model", input_example=torch.from_numpy(X[:3]),
                                  init_kwargs={"input_size": 20, "hidden_size": hidden_size,
                                               "num_classes": 2})
        return final_val_accuracy


if __name__ == "__main__":
    for hidden_size in [16, 32]:
        accuracy = train_model(hidden_size=hidden_size, learning_rate=0.01, epochs=5, batch_size=32)
        print(f"hidden_size={hidden_size}: final val accuracy {accuracy:.3f}")
