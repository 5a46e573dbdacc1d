"""Diffusion models as the slides build them (扩散模型): schedules, the forward process, Algorithm 1.2,
DDPM's Algorithm 1 (L_simple) and Algorithm 2, and conditional diffusion with classifier-free guidance.

    from coursekit import diffusion as D
    s = D.make_schedule("linear", T=1000)
    x_t = D.q_sample(s, x0, t, noise)          # t in 1..T
    model, s = D.pretrained("digits-eps")      # the ε-model of notebook 04b, shipped with the package
    x0 = D.ddim_sample(model, s, (16, 1, 8, 8), steps=25)   # DDIM (notebook 07): 25 network calls, η = 0
"""

from .ddim import ddim_inversion_step, ddim_invert, ddim_sample, ddim_sigma, ddim_step, ddim_timesteps
from .forward import forward_chain, forward_step, predict_x0, q_posterior, q_sample
from .likelihood import VariationalBound, discretized_gaussian_log_likelihood, variational_bound
from .pretrained import (
    ASSETS,
    PRETRAINED,
    PretrainedSpec,
    digits_schedule,
    load_pretrained,
    loss_function,
    new_denoiser,
    pretrained,
    pretrained_info,
    save_pretrained,
    train_pretrained,
)
from .sampling import PREDICTIONS, VARIANCES, Trajectory, p_sample_step, sample
from .schedule import SCHEDULES, Schedule, make_schedule, schedule_from_betas
from .training import (
    NULL_LABEL,
    T_SAMPLINGS,
    WEIGHTINGS,
    ddpm_loss,
    drop_labels,
    loss_weights,
    sequence_loss,
    vlb_weights,
)

__all__ = [
    "SCHEDULES", "Schedule", "make_schedule", "schedule_from_betas",
    "forward_step", "q_sample", "q_posterior", "predict_x0", "forward_chain",
    "ddpm_loss", "sequence_loss", "drop_labels", "NULL_LABEL",
    "vlb_weights", "WEIGHTINGS", "loss_weights", "T_SAMPLINGS",
    "p_sample_step", "sample", "Trajectory", "VARIANCES", "PREDICTIONS",
    "variational_bound", "VariationalBound", "discretized_gaussian_log_likelihood",
    "pretrained", "pretrained_info", "PRETRAINED", "PretrainedSpec", "digits_schedule", "train_pretrained",
    "save_pretrained", "load_pretrained", "new_denoiser", "loss_function", "ASSETS",
    "ddim_timesteps", "ddim_sigma", "ddim_step", "ddim_sample", "ddim_inversion_step", "ddim_invert",
]
