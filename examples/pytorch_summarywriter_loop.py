"""A plain PyTorch loop with a TensorBoard ``SummaryWriter``, autologged with no trainer.

Recorded: the optimizer's params, ``train_loss`` (mean over every 10 optimizer steps),
``learning_rate`` as the scheduler changes it, every ``add_scalar``/``add_scalars`` under its
tag, ``add_hparams`` as params and metrics. The run starts at the first event and ends when the
script exits::

    python examples/pytorch_summarywriter_loop.py
"""

from __future__ import annotations

import tempfile

import torch

import autolog

autolog.pytorch.autolog(log_every_n_steps=10)

from torch.utils.tensorboard import SummaryWriter  # noqa: E402


def main() -> None:
    torch.manual_seed(0)
    x = torch.randn(512, 8)
    y = x @ torch.randn(8, 1) + 0.1 * torch.randn(512, 1)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    writer = SummaryWriter(tempfile.mkdtemp(prefix="tb-"))
    step = 0
    for epoch in range(4):
        for i in range(0, len(x), 32):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x[i:i + 32]), y[i:i + 32])
            loss.backward()
            optimizer.step()
            step += 1
            writer.add_scalar("batch/loss", loss, step)
        with torch.no_grad():
            val = torch.nn.functional.mse_loss(model(x), y).item()
        writer.add_scalars("epoch", {"val_loss": val, "lr": scheduler.get_last_lr()[0]}, epoch)
        scheduler.step()
    writer.add_hparams({"hidden": 16, "batch_size": 32}, {"hparam/final_val_loss": val})
    writer.close()
    print(f"run {autolog.active_run().info.run_id}: final val_loss {val:.4f}")


if __name__ == "__main__":
    main()
