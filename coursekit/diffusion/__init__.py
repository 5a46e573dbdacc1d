"""Diffusion models as the slides build them (扩散模型): schedules, the forward process, Algorithm 1.2,
DDPM's Algorithm 1 (L_simple) and Algorithm 2, and conditional diffusion with classifier-free guidance.

    from coursekit import diffusion as D
    s = D.make_schedule("linear", T=1000)
    x_t = D.q_sample(s, x0, t, noise)          # t in 1..T
"""

from .forward import forward_chain, forward_step, predict_x0, q_posterior, q_sample
from .likelihood import VariationalBound, discretized_gaussian_log_likelihood, variational_bound
from .sampling import PREDICTIONS, VARIANCES, Trajectory, p_sample_step, sample
from .schedule import SCHEDULES, Schedule, make_schedule, schedule_from_betas
from .training import NULL_LABEL, ddpm_loss, drop_labels, sequence_loss

__all__ = [
    "SCHEDULES", "Schedule", "make_schedule", "schedule_from_betas",
    "forward_step", "q_sample", "q_posterior", "predict_x0", "forward_chain",
    "ddpm_loss", "sequence_loss", "drop_labels", "NULL_LABEL",
    "p_sample_step", "sample", "Trajectory", "VARIANCES", "PREDICTIONS",
    "variational_bound", "VariationalBound", "discretized_gaussian_log_likelihood",
]
