"""The network: an encoder (BERT-style, from scratch or a local checkpoint), mean pooling
over the real tokens, and one linear layer per label set.

Linear heads over a mean make the evidence exact and free: a head's logit is the mean
over tokens of (weights · token state), so each token's term is its share of the chosen
label's score (class activation mapping), read off the forward pass with no backward.
"""

from __future__ import annotations

import torch
from torch import nn


class MultiHeadClassifier(nn.Module):
    def __init__(self, encoder: nn.Module, head_sizes: dict[str, int], dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        # ModuleDict keys cannot hold dots: "flags.safety" is stored as "flags__safety".
        self.heads = nn.ModuleDict({_key(name): nn.Linear(hidden, size) for name, size in head_sizes.items()})
        self.names = list(head_sizes)

    def token_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        states = self.token_states(input_ids, attention_mask)
        pooled = self.dropout(mean_pool(states, attention_mask))
        return {name: self.heads[_key(name)](pooled) for name in self.names}

    def logits_and_contributions(self, input_ids: torch.Tensor, attention_mask: torch.Tensor
                                 ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Logits per head (rows, classes) and each token's term of every class's logit
        (rows, tokens, classes); padding tokens get 0."""
        states = self.token_states(input_ids, attention_mask)
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        share = states * mask / mask.sum(dim=1, keepdim=True).clamp(min=1.0)
        logits, terms = {}, {}
        for name in self.names:
            layer = self.heads[_key(name)]
            terms[name] = share @ layer.weight.T  # sums over tokens to the logit minus the bias
            logits[name] = terms[name].sum(dim=1) + layer.bias
        return logits, terms


def mean_pool(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def _key(name: str) -> str:
    return name.replace(".", "__")
