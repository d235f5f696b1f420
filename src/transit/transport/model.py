"""Mass-conditioned networks of TRANSIT: E, G and D (arXiv:2503.04342, sec. 4).

Every module takes the mass as an (n,) or (n, cond_dim) tensor next to its input.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn import functional as F


def _as_column(m: torch.Tensor) -> torch.Tensor:
    """Turn an (n,) mass tensor into (n, 1); leave (n, k) alone."""
    return m.unsqueeze(-1) if m.dim() == 1 else m


class ConditionedResidualBlock(nn.Module):
    """h <- h + s * SiLU(L2(SiLU(L1([h ; m])))), s a learnable per-channel scale.

    With s = 0 the block is exactly the identity on h (arXiv:2503.04342, sec. 4).
    """

    def __init__(self, width: int, cond_dim: int, zero_init_scale: bool) -> None:
        super().__init__()
        self.inner = nn.Linear(width + cond_dim, width)
        self.outer = nn.Linear(width, width)
        init = torch.zeros(width) if zero_init_scale else torch.ones(width)
        self.scale = nn.Parameter(init)

    def forward(self, h: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        update = F.silu(self.outer(F.silu(self.inner(torch.cat([h, m], dim=-1)))))
        return h + self.scale * update


class ConditionedResidualMLP(nn.Module):
    """Linear([x ; m]) -> n_blocks conditioned residual blocks -> Linear; used for E and G.

    Encoder E(x, m) -> z and decoder G(z, m_hat) -> x_hat of arXiv:2503.04342, sec. 4.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        cond_dim: int = 1,
        width: int = 128,
        n_blocks: int = 2,
        zero_init_scales: bool = True,
    ) -> None:
        super().__init__()
        self.input = nn.Linear(in_dim + cond_dim, width)
        self.blocks = nn.ModuleList(
            ConditionedResidualBlock(width, cond_dim, zero_init_scales) for _ in range(n_blocks)
        )
        self.output = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        m = _as_column(m)
        h = self.input(torch.cat([x, m], dim=-1))
        for block in self.blocks:
            h = block(h, m)
        return self.output(h)


class Discriminator(nn.Module):
    """MLP D(x, m) with SiLU hidden layers and m concatenated at every layer's input.

    Returns a logit; the probability sigmoid(logit) enters the loss through BCEWithLogits
    (arXiv:2503.04342, sec. 4).
    """

    def __init__(self, in_dim: int, cond_dim: int = 1, width: int = 64, n_layers: int = 4) -> None:
        super().__init__()
        sizes = [in_dim] + [width] * n_layers
        self.hidden = nn.ModuleList(
            nn.Linear(n_in + cond_dim, n_out) for n_in, n_out in itertools.pairwise(sizes)
        )
        self.output = nn.Linear(sizes[-1] + cond_dim, 1)

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        m = _as_column(m)
        h = x
        for layer in self.hidden:
            h = F.silu(layer(torch.cat([h, m], dim=-1)))
        return self.output(torch.cat([h, m], dim=-1)).squeeze(-1)
