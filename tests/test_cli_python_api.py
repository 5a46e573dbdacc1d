"""The Python side of the one convention: a bad argument to a public function is a ValueError that names the
argument (never a TypeError from three calls deeper, never a silent NaN). One row per case found by trying the
API as a new user would; a new public function adds rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from coursekit import autoregressive as AR
from coursekit import diffusion as D
from coursekit import vae as V
from coursekit.gan import losses


class Eps(nn.Module):
    """A tiny denoiser ε_θ(x_t, t[, y]) for the sampling checks."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.5))

    def forward(self, x, t, y=None):
        return self.a * x


S = D.make_schedule("linear", T=5)
X = torch.zeros(4, 1, 8, 8)
OUTSIDE = torch.full((2, 1, 8, 8), 1.5)            # pixels outside [-1, 1]: not scaled like the data
VAE = V.VAE(latent_dim=2, hidden=8)
PIXELCNN = AR.PixelCNN(hidden=8, n_blocks=1)

CASES = [
    ("q_sample without noise", lambda: D.q_sample(S, X, 3, None), "noise"),
    ("forward_step without noise", lambda: D.forward_step(S, X, 3, None), "noise"),
    ("predict_x0 without eps", lambda: D.predict_x0(S, X, 3, None), "eps"),
    ("sample with an int shape", lambda: D.sample(Eps(), S, 4), "shape"),
    ("sample with float sizes", lambda: D.sample(Eps(), S, (2.5, 2)), "shape"),
    ("sample with guidance nan", lambda: D.sample(Eps(), S, (2, 2), y=torch.tensor([0, 1]),
                                                  guidance_scale=float("nan")), "guidance_scale"),
    ("sample with guidance inf", lambda: D.sample(Eps(), S, (2, 2), guidance_scale=float("inf")), "guidance_scale"),
    ("sample with guidance but no labels", lambda: D.sample(Eps(), S, (2, 2), guidance_scale=2.0), "guidance_scale"),
    ("make_schedule with an int dtype", lambda: D.make_schedule(dtype=torch.int64), "dtype"),
    ("schedule_from_betas with an int dtype", lambda: D.schedule_from_betas(torch.full((3,), 0.1),
                                                                           dtype=torch.int32), "dtype"),
    ("pix2pix loss with λ nan", lambda: losses.pix2pix_generator_loss(torch.zeros(2, 1), X[:2], X[:2],
                                                                      lambda_l1=float("nan")), "lambda_l1"),
    ("pix2pix loss with λ < 0", lambda: losses.pix2pix_generator_loss(torch.zeros(2, 1), X[:2], X[:2],
                                                                      lambda_l1=-1.0), "lambda_l1"),
    ("VAE loss on pixels outside [-1, 1]", lambda: VAE.loss(OUTSIDE), "x must lie in"),
    ("VAE encode on pixels outside [-1, 1]", lambda: VAE.encode(OUTSIDE), "x must lie in"),
    ("categorical_log_prob outside [-1, 1]", lambda: V.categorical_log_prob(torch.zeros(2, 17, 1, 8, 8), OUTSIDE),
     "x must lie in"),
    ("PixelCNN nll on pixels outside [-1, 1]", lambda: PIXELCNN.nll(OUTSIDE), "x must lie in"),
    ("PixelCNN loss on pixels outside [-1, 1]", lambda: PIXELCNN.loss(-OUTSIDE), "x must lie in"),
    ("VAE bits_per_dim with batch_size 0", lambda: VAE.bits_per_dim(X, batch_size=0), "batch_size"),
    ("PixelCNN bits_per_dim with batch_size 0", lambda: PIXELCNN.bits_per_dim(X, batch_size=0), "batch_size"),
    ("bits_per_dim with dims 0", lambda: AR.bits_per_dim(torch.ones(2), 0), "dims"),
    ("causal_mask with an even kernel", lambda: AR.causal_mask(4), "kernel_size"),
    ("causal_mask with kernel 0", lambda: AR.causal_mask(0), "kernel_size"),
]


@pytest.mark.parametrize("call,argument", [(c, a) for _, c, a in CASES], ids=[n for n, _, _ in CASES])
def test_a_bad_argument_is_a_value_error_naming_it(call, argument):
    with pytest.raises(ValueError, match=argument.replace("[", r"\[")):
        call()


def test_the_checks_leave_good_calls_alone():
    assert D.make_schedule(dtype=torch.float64).betas.dtype == torch.float64
    assert D.sample(Eps(), S, [3, 2], guidance_scale=1).shape == (3, 2)          # a list and an int w are fine
    assert D.sample(Eps(), S, torch.Size([3, 2])).shape == (3, 2)
    assert D.sample(Eps(), S, (np.int64(3), 2)).shape == (3, 2)                   # NumPy ints are ints
    assert AR.causal_mask(3, "B").tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    edge = torch.tensor([-1.0, 1.0]).repeat(32).reshape(1, 1, 8, 8)              # the extremes are in range
    assert torch.isfinite(PIXELCNN.nll(edge)).all() and torch.isfinite(VAE.loss(edge))
    assert float(losses.pix2pix_generator_loss(torch.zeros(2, 1), X[:2], X[:2], lambda_l1=0)) > 0
