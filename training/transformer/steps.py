"""The optimizer loop shared by pre-training and fine-tuning: AdamW, a linear warm-up then
linear decay, gradients clipped at norm 1, and a progress bar showing the mean of the last
50 losses."""

from __future__ import annotations

import time
from typing import Any

import torch

from training.transformer.batches import progress_bar, warmup_linear
from training.transformer.config import TransformerConfig


class Steps:
    def __init__(self, model: torch.nn.Module, total: int, lr: float, cfg: TransformerConfig, desc: str,
                 progress: bool) -> None:
        self.model, self.total = model, total
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
        warmup = int(total * cfg.warmup_share)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: warmup_linear(s, total, warmup))
        self.bar = progress_bar(total, desc, progress)
        self.done = 0
        self.recent: list[float] = []
        self.started = time.perf_counter()

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    @property
    def mean_loss(self) -> float:
        return sum(self.recent) / max(1, len(self.recent))

    def take(self, loss: torch.Tensor) -> None:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.recent = (self.recent + [loss.item()])[-50:]
        self.done += 1
        self.bar.update(1)
        # refresh=False: the loss alone must not force a redraw (a log gets a line per 30 s).
        self.bar.set_postfix(loss=f"{self.mean_loss:.3f}", refresh=False)

    def close(self) -> dict[str, Any]:
        """The run's figures: steps, seconds, mean loss of the last 50 steps."""
        self.bar.close()
        return {"steps": self.done, "seconds": round(time.perf_counter() - self.started, 1),
                "loss_last_50_steps": round(self.mean_loss, 4)}
