"""The `conditional` assignment through the real nbgrader pipeline, and its fairness class: the reference scores
full marks and the blank release zero; six correct submissions written independently of the reference (numpy,
float64, one batched model call, other loss spellings, other import styles, allowed coursekit helpers, own sampling
loops and accuracy measurements for the experiment, digit by digit included, W_CHOICE from 1 to 4, the natural
F.l1_loss inside the CycleGAN objective) score full marks part by part; each subtly wrong one (one bug) loses
exactly the part it breaks, and the failing test's message names the mistake. ONE course copy and ONE
`nbgrader autograde` call for every case (module-scoped fixture), which also checks the committed release against
its generation and `nbgrader validate --invert`; scores come from the gradebook."""

from __future__ import annotations

import os

import course
import pytest

ASSIGNMENT = "conditional"
PARTS = {"test_guidance": 2.0, "test_experiment_guidance": 2.0, "test_pix2pix": 2.0, "test_receptive": 2.0,
         "test_outsize": 2.0, "test_cyclegan": 2.0}
MANUAL = {"blur_answer": 0.0}                    # graded by hand in formgrader
pytestmark = pytest.mark.slow

WRITTEN = "L1 gives the per-pixel median of p(y | x) and L2 the mean: with several modes both fall between them."

# ------------------------------------------------------------------------------------------------------------
# Correct submissions, each part written differently from the reference
# ------------------------------------------------------------------------------------------------------------

CORRECT: dict[str, dict[str, str]] = {
    "numpy_batched": {                   # numpy coefficients, one model call on the doubled batch, mse/l1 helpers
        "guidance": '''
import numpy as np
NULL_LABEL = -1

def guided_step(model, x_t, t, y, w, betas, alpha_bars, z):
    b = x_t.shape[0]
    both = model(torch.cat([x_t, x_t]), torch.full((2 * b,), t, dtype=torch.long),
                 torch.cat([y, torch.full_like(y, NULL_LABEL)]))
    e_c, e_u = both[:b], both[b:]
    eps = (1 - w) * e_u + w * e_c
    beta = np.float64(betas.numpy()[t - 1]); abar = np.float64(alpha_bars.numpy()[t - 1])
    coef = (1 - (1 - beta)) / np.sqrt(1 - abar)
    out = (x_t - float(coef) * eps) / float(np.sqrt(1 - beta))
    if t > 1:
        out = out + float(np.sqrt(beta)) * z
    return out
''',
        "experiment": '''
import numpy as np
from coursekit.metrics import digit_report

def sample_digits(model, labels, w, schedule, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(labels.shape[0], 1, 8, 8, generator=gen)
    for t in np.arange(schedule.T, 0, -1):
        noise = torch.randn(x.shape, generator=gen) if t > 1 else torch.zeros(x.shape)
        x = guided_step(model, x, int(t), labels, w, schedule.betas, schedule.alpha_bars, noise)
    return x.clamp(-1.0, 1.0)

def accuracy_by_w(model, ws, seed, n_per_digit=20):
    labels = torch.from_numpy(np.repeat(np.arange(10), n_per_digit)).long()
    out = {}
    for w in ws:
        out[w] = digit_report(sample_digits(model, labels, w, SCHEDULE, seed), labels)["accuracy"]
    return out

W_CHOICE = 1.0
''',
        "pix2pix": '''
import torch.nn.functional as nnf

def pix2pix_generator_objective(G, D, x, y, lambda_l1=100.0):
    out = G(x)
    score = D(torch.cat((x, out), 1))
    return nnf.softplus(-score).mean() + lambda_l1 * nnf.l1_loss(out, y)
''',
        "receptive": '''
import numpy as np

def patchgan_layers(n_layers):
    return [(4, 2, 1) for _ in range(n_layers)] + [(4, 1, 1) for _ in range(2)]

def receptive_field(layers):
    ks = np.array([l[0] for l in layers]); ss = np.array([l[1] for l in layers])
    jumps = np.concatenate([[1], np.cumprod(ss)[:-1]])
    return int(1 + np.sum((ks - 1) * jumps))
''',
        "outsize": '''
import math

def output_size(size, layers):
    for k, s, p in layers:
        size = math.floor((size + 2 * p - k) / s) + 1
    return int(size)
''',
        "cyclegan": '''
import torch.nn.functional as nnf

def cyclegan_generator_objective(G, F, D_X, D_Y, x, y, lambda_cycle=10.0, lambda_identity=0.5):
    gx, fy = G(x), F(y)
    dy, dx = D_Y(gx), D_X(fy)
    adv = nnf.mse_loss(dy, torch.ones_like(dy)) + nnf.mse_loss(dx, torch.ones_like(dx))
    cyc = nnf.l1_loss(F(gx), x) + nnf.l1_loss(G(fy), y)
    idt = nnf.l1_loss(G(y), y) + nnf.l1_loss(F(x), x)
    return adv + lambda_cycle * (cyc + lambda_identity * idt)
''',
    },
    "float64_loops": {                   # float64 arithmetic, own loops, loss modules
        "guidance": '''
NULL_LABEL = -1

def guided_step(model, x_t, t, y, w, betas, alpha_bars, z):
    tt = torch.tensor([t] * len(y))
    e_u = model(x_t, tt, y * 0 - 1).double()
    e_c = model(x_t, tt, y).double()
    eps = e_u + w * (e_c - e_u)
    a = 1.0 - betas.double()[t - 1]
    ab = alpha_bars.double()[t - 1]
    x = (x_t.double() - (1 - a) / torch.sqrt(1 - ab) * eps) / torch.sqrt(a)
    sigma = torch.sqrt(betas.double()[t - 1]) if t != 1 else 0.0
    return (x + sigma * z.double()).float()
''',
        "experiment": '''
def sample_digits(model, labels, w, schedule, seed):
    rng = torch.Generator()
    rng.manual_seed(seed)
    x = torch.randn((len(labels), 1, 8, 8), generator=rng)
    t = schedule.T
    while t >= 1:
        z = torch.randn(x.shape, generator=rng)
        if t == 1:
            z = z * 0
        with torch.no_grad():
            x = guided_step(model, x, t, labels, w, schedule.betas, schedule.alpha_bars, z)
        t -= 1
    return x

def accuracy_by_w(model, ws, seed, n_per_digit=20):
    labels = torch.arange(10).repeat(n_per_digit)
    result = {}
    for w in ws:
        images = sample_digits(model, labels, w, SCHEDULE, seed)
        result[w] = class_accuracy(images, labels)[0]
    return result

W_CHOICE = 2.5
''',
        "pix2pix": '''
def pix2pix_generator_objective(G, D, x, y, lambda_l1=100.0):
    fake = G(x)
    logits = D(torch.cat([x, fake], dim=1)).double()
    adv = -torch.nn.functional.logsigmoid(logits).mean()
    l1 = torch.nn.L1Loss()(fake.double(), y.double())
    return (adv + lambda_l1 * l1).float()
''',
        "receptive": '''
def patchgan_layers(n_layers):
    layers = []
    for _ in range(n_layers):
        layers.append((4, 2, 1))
    layers += [(4, 1, 1), (4, 1, 1)]
    return layers

def receptive_field(layers):
    r, i = 1, len(layers) - 1
    while i >= 0:
        k, s, _ = layers[i]
        r = r * s + (k - s)
        i -= 1
    return r
''',
        "outsize": '''
def output_size(size, layers):
    h = size
    for layer in layers:
        k, s, p = layer
        h = (h - k + 2 * p) // s + 1
    return h
''',
        "cyclegan": '''
def cyclegan_generator_objective(G, F, D_X, D_Y, x, y, lambda_cycle=10.0, lambda_identity=0.5):
    mse, l1 = torch.nn.MSELoss(), torch.nn.L1Loss()
    fake_y, fake_x = G(x), F(y)
    p_y, p_x = D_Y(fake_y), D_X(fake_x)
    total = mse(p_y, torch.ones_like(p_y)) + mse(p_x, torch.ones_like(p_x))
    total = total + lambda_cycle * l1(F(fake_y), x) + lambda_cycle * l1(G(fake_x), y)
    if lambda_identity:
        total = total + lambda_cycle * lambda_identity * (l1(G(y), y) + l1(F(x), x))
    return total
''',
    },
    "other_imports": {                   # from-imports, torch.lerp, coursekit helpers the part allows
        "guidance": '''
from torch import lerp
from coursekit.diffusion import NULL_LABEL

def guided_step(model, x_t, t, y, w, betas, alpha_bars, z):
    steps = x_t.new_full((x_t.shape[0],), t).long()
    eps = lerp(model(x_t, steps, torch.full_like(y, NULL_LABEL)), model(x_t, steps, y), w)
    beta, abar = betas[t - 1].item(), alpha_bars[t - 1].item()
    mean = (x_t - beta / (1 - abar) ** 0.5 * eps) * (1 - beta) ** -0.5
    return mean + (z * beta ** 0.5 if t > 1 else torch.zeros_like(z))
''',
        "experiment": '''
import coursekit.metrics as M

def sample_digits(model, labels, w, schedule, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(labels), 1, 8, 8, generator=g)
    for t in reversed(range(1, schedule.T + 1)):
        z = torch.randn(x.shape, generator=g)
        x = guided_step(model, x, t, labels, w, schedule.betas, schedule.alpha_bars, z if t > 1 else 0 * z)
    return x.detach().clamp(-1, 1)

def accuracy_by_w(model, ws, seed, n_per_digit=20):
    labels = torch.arange(10).repeat_interleave(n_per_digit)
    return {w: M.class_accuracy(sample_digits(model, labels, w, SCHEDULE, seed), labels)[0] for w in ws}

W_CHOICE = 3
''',
        "pix2pix": '''
from torch.nn.functional import binary_cross_entropy_with_logits as bce
from coursekit import gan

def pix2pix_generator_objective(G, D, x, y, lambda_l1=100.0):
    y_hat = G(x)
    logit = D(gan.conditional_pair(x, y_hat))
    return bce(logit, torch.ones_like(logit)) + lambda_l1 * torch.mean(torch.abs(y_hat - y))
''',
        "receptive": '''
from functools import reduce

def patchgan_layers(n_layers):
    return [*([(4, 2, 1)] * n_layers), (4, 1, 1), (4, 1, 1)]

def receptive_field(layers):
    return reduce(lambda r, layer: (r - 1) * layer[1] + layer[0], reversed(layers), 1)
''',
        "outsize": '''
from functools import reduce

def output_size(size, layers):
    return reduce(lambda h, l: (h + 2 * l[2] - l[0]) // l[1] + 1, layers, size)
''',
        "cyclegan": '''
from torch import abs as tabs, mean as tmean

def cyclegan_generator_objective(G, F, D_X, D_Y, x, y, lambda_cycle=10.0, lambda_identity=0.5):
    def l1(a, b):
        return tmean(tabs(a - b))
    fy_, fx_ = G(x), F(y)
    adv = tmean((D_Y(fy_) - 1).pow(2)) + tmean((D_X(fx_) - 1).pow(2))
    return (adv + lambda_cycle * (l1(F(fy_), x) + l1(G(fx_), y))
            + lambda_cycle * lambda_identity * (l1(G(y), y) + l1(F(x), x)))
''',
    },
    "sigmoid_spelled_out": {             # probabilities instead of logits, explicit formulas
        "guidance": '''
NULL_LABEL = -1

def guided_step(model, x_t, t, y, w, betas, alpha_bars, z):
    n = x_t.shape[0]
    t_in = torch.ones(n, dtype=torch.long) * t
    e_null = model(x_t, t_in, -torch.ones_like(y))
    e_y = model(x_t, t_in, y)
    e = e_null + w * e_y - w * e_null
    beta = betas[t - 1]
    alpha = 1 - beta
    alpha_bar = torch.prod(1 - betas[:t])
    x_prev = 1 / alpha.sqrt() * (x_t - (1 - alpha) / (1 - alpha_bar).sqrt() * e)
    return x_prev + (t > 1) * beta.sqrt() * z
''',
        "experiment": '''
from coursekit import metrics

def sample_digits(model, labels, w, schedule, seed):
    g = torch.Generator().manual_seed(seed)
    n = labels.numel()
    x = torch.randn(n, 1, 8, 8, generator=g)
    zs = torch.randn(schedule.T, n, 1, 8, 8, generator=g)       # z for every step drawn up front
    zs[0] = 0.0                                                   # t = 1: no noise
    for t in range(schedule.T, 0, -1):
        x = guided_step(model, x, t, labels, w, schedule.betas, schedule.alpha_bars, zs[t - 1])
    return x

def accuracy_by_w(model, ws, seed, n_per_digit=20):
    labels = torch.tensor([d for d in range(10) for _ in range(n_per_digit)])
    acc = {}
    for w in ws:
        predicted, _ = metrics.classify(sample_digits(model, labels, w, SCHEDULE, seed))
        acc[w] = (predicted == labels).float().mean().item()
    return acc

W_CHOICE = 3.0
''',
        "pix2pix": '''
def pix2pix_generator_objective(G, D, x, y, lambda_l1=100.0):
    g = G(x)
    d = torch.sigmoid(D(torch.cat([x, g], 1)))
    n = (g - y).numel()
    return -torch.log(d).mean() + lambda_l1 * (g - y).abs().sum() / n
''',
        "receptive": '''
def patchgan_layers(n_layers):
    return [(4, 2, 1)] * n_layers + [(4, 1, 1)] * 2

def receptive_field(layers):
    r, jump = 1, 1
    for k, s, p in layers:                 # forward: each layer adds (k − 1) input-pixel jumps
        r += (k - 1) * jump
        jump *= s
    return r
''',
        "outsize": '''
def output_size(size, layers):
    for k, s, p in layers:
        size = int((size + 2 * p - k) / s) + 1
    return size
''',
        "cyclegan": '''
def cyclegan_generator_objective(G, F, D_X, D_Y, x, y, lambda_cycle=10.0, lambda_identity=0.5):
    losses = {}
    losses["gan_G"] = ((D_Y(G(x)) - 1) ** 2).mean()
    losses["gan_F"] = ((D_X(F(y)) - 1) ** 2).mean()
    losses["cyc_x"] = lambda_cycle * (x - F(G(x))).abs().mean()
    losses["cyc_y"] = lambda_cycle * (y - G(F(y))).abs().mean()
    losses["idt_G"] = lambda_cycle * lambda_identity * (y - G(y)).abs().mean()
    losses["idt_F"] = lambda_cycle * lambda_identity * (x - F(x)).abs().mean()
    return sum(losses.values())
''',
    },
    "float32_inplace": {                 # float32 tensors throughout, in-place updates, index_select
        "guidance": '''
NULL_LABEL = -1

def guided_step(model, x_t, t, y, w, betas, alpha_bars, z):
    idx = torch.tensor([t - 1])
    beta = betas.float().index_select(0, idx)
    abar = alpha_bars.float().index_select(0, idx)
    tb = torch.full((x_t.shape[0],), t, dtype=torch.long)
    e_c = model(x_t, tb, y)
    eps = model(x_t, tb, torch.full_like(y, NULL_LABEL))
    eps = eps.mul(1 - w).add(e_c, alpha=w)
    out = x_t.clone()
    out.sub_(eps * (beta / torch.sqrt(1 - abar)))
    out.div_(torch.sqrt(1 - beta))
    if t > 1:
        out.add_(z * torch.sqrt(beta))
    return out
''',
        "experiment": '''
def sample_digits(model, labels, w, schedule, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.empty(labels.shape[0], 1, 8, 8).normal_(generator=g)
    for i in range(schedule.T):
        t = schedule.T - i
        z = torch.zeros_like(x)
        if t > 1:
            z.normal_(generator=g)
        x = guided_step(model, x, t, labels, float(w), schedule.betas.float(), schedule.alpha_bars.float(), z)
    return x.clamp_(-1, 1)

def accuracy_by_w(model, ws, seed, n_per_digit=20):
    labels = torch.cat([torch.full((n_per_digit,), k, dtype=torch.long) for k in range(10)])
    return {float(w): float(class_accuracy(sample_digits(model, labels, w, SCHEDULE, seed), labels)[0]) for w in ws}

W_CHOICE = 4.0
''',
        "pix2pix": '''
def pix2pix_generator_objective(G, D, x, y, lambda_l1=100.0):
    fake = G(x)
    logits = D(torch.cat([x, fake], dim=1)).flatten()
    adv = torch.nn.functional.binary_cross_entropy(torch.sigmoid(logits), torch.ones_like(logits))
    return adv + lambda_l1 * (fake - y).abs().flatten().mean()
''',
        "receptive": '''
def patchgan_layers(n_layers):
    return [(4, 2, 1)] * n_layers + [(4, 1, 1), (4, 1, 1)]

def receptive_field(layers):              # recursion from the input side: k_1 + (RF(rest) − 1)·s_1
    if len(layers) == 0:
        return 1
    k, s, _ = layers[0]
    return k + (receptive_field(layers[1:]) - 1) * s
''',
        "outsize": '''
def output_size(size, layers):
    import torch
    h = torch.tensor(size)
    for k, s, p in layers:
        h = torch.div(h + 2 * p - k, s, rounding_mode="floor") + 1
    return int(h)
''',
        "cyclegan": '''
import torch.nn.functional as Fn

def cyclegan_generator_objective(G, F, D_X, D_Y, x, y, lambda_cycle=10.0, lambda_identity=0.5):
    fake_y, fake_x = G(x), F(y)
    rec_x, rec_y = F(fake_y), G(fake_x)
    same_y, same_x = G(y), F(x)
    a = D_Y(fake_y)
    b = D_X(fake_x)
    adv = Fn.mse_loss(a, torch.full_like(a, 1.0)) + Fn.mse_loss(b, torch.full_like(b, 1.0))
    cyc = Fn.l1_loss(rec_x, x) + Fn.l1_loss(rec_y, y)
    idt = Fn.l1_loss(same_y, y) + Fn.l1_loss(same_x, x)
    return adv + lambda_cycle * cyc + lambda_cycle * lambda_identity * idt
''',
    },
    "digit_by_digit": {                  # one run of Algorithm 2 per digit, the stub's argument names, F.l1_loss inside
        "guidance": '''
NULL_LABEL = -1

def guided_step(model, x_t, t, y, w, betas, alpha_bars, z):
    tb = torch.full((len(y),), t, dtype=torch.long)
    e_c, e_u = model(x_t, tb, y), model(x_t, tb, torch.full_like(y, NULL_LABEL))
    eps = (1 - w) * e_u + w * e_c
    a_t = 1 - betas[t - 1]
    x = (x_t - (1 - a_t) / torch.sqrt(1 - alpha_bars[t - 1]) * eps) / torch.sqrt(a_t)
    return x + torch.sqrt(betas[t - 1]) * z * float(t > 1)
''',
        "experiment": '''
from coursekit.metrics import classify

def sample_digits(model, labels, w, schedule, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(len(labels), 1, 8, 8, generator=gen)
    for t in range(schedule.T, 0, -1):
        z = torch.randn(x.shape, generator=gen) if t > 1 else torch.zeros_like(x)
        x = guided_step(model, x, t, labels, w, schedule.betas, schedule.alpha_bars, z)
    return x

def accuracy_by_w(model, ws, seed, n_per_digit=20):
    out = {}
    for w in ws:
        hits = 0
        for digit in range(10):                 # one run of Algorithm 2 per digit, each on its own seed
            labels = torch.full((n_per_digit,), digit)
            predicted, _ = classify(sample_digits(model, labels, w, SCHEDULE, seed + digit))
            hits += int((predicted == labels).sum())
        out[w] = hits / (10 * n_per_digit)
    return out

W_CHOICE = 1.5
''',
        "pix2pix": '''
def pix2pix_generator_objective(G, D, x, y, lambda_l1=100.0):
    g_x = G(x)
    d = D(torch.cat((x, g_x), dim=1))
    return F.binary_cross_entropy_with_logits(d, torch.ones_like(d)) + lambda_l1 * F.l1_loss(g_x, y)
''',
        "receptive": '''
def patchgan_layers(n_layers):
    strides = [2] * n_layers + [1, 1]
    return [(4, s, 1) for s in strides]

def receptive_field(layers):
    field = 1
    for kernel, stride, _padding in layers[::-1]:
        field = stride * (field - 1) + kernel
    return field
''',
        "outsize": '''
def output_size(size, layers):
    for kernel, stride, padding in layers:
        size = math.floor((size + 2 * padding - kernel) / stride) + 1
    return size
''',
        "cyclegan": '''
def cyclegan_generator_objective(G_XY, F_YX, D_X, D_Y, x, y, lambda_cycle=10.0, lambda_identity=0.5):
    fake_y, fake_x = G_XY(x), F_YX(y)
    p_y, p_x = D_Y(fake_y), D_X(fake_x)
    adversarial = F.mse_loss(p_y, torch.ones_like(p_y)) + F.mse_loss(p_x, torch.ones_like(p_x))
    cycle = F.l1_loss(F_YX(fake_y), x) + F.l1_loss(G_XY(fake_x), y)
    identity = F.l1_loss(G_XY(y), y) + F.l1_loss(F_YX(x), x)
    return adversarial + lambda_cycle * (cycle + lambda_identity * identity)
''',
    },
}

# ------------------------------------------------------------------------------------------------------------
# Subtly wrong submissions: the reference with one bug; each must lose exactly the part it breaks, and the failing
# test's message must name the mistake (a visible test's hint, or a hidden test's bilingual hint)
# ------------------------------------------------------------------------------------------------------------

REF_ADV = "adversarial = ((D_Y(fake_y) - 1) ** 2).mean() + ((D_X(fake_x) - 1) ** 2).mean()"
REF_CYCLE = "cycle = F.l1_loss(F_YX(fake_y), x) + F.l1_loss(G_XY(fake_x), y)"
REF_IDENTITY = "identity = F.l1_loss(G_XY(y), y) + F.l1_loss(F_YX(x), x)"
REF_PIX = "return adversarial + lambda_l1 * (fake - y).abs().mean()"

WRONG: dict[str, tuple[str, tuple[str, str], tuple[str, ...], str]] = {
    # name: (grade_id of the answer cell, (old, new) applied to the reference cell, parts that must score 0,
    #        text the failing test's message must contain)
    "guidance_swapped": ("guidance", ("eps = eps_null + w * (eps_cond - eps_null)",
                                      "eps = (1 + w) * eps_null - w * eps_cond"), ("test_guidance",),
                         "wrong way round"),
    "guidance_one_plus_w": ("guidance", ("eps = eps_null + w * (eps_cond - eps_null)",
                                         "eps = (1 + w) * eps_cond - w * eps_null"), ("test_guidance",),
                            "(1 + w) ε_y − w ε_∅"),
    "guidance_beta_tilde": ("guidance", ("return mean + math.sqrt(beta) * z if t > 1 else mean",
                                         "ab_prev = float(alpha_bars[t - 2]) if t > 1 else 1.0\n"
                                         "    beta_tilde = (1 - ab_prev) / (1 - alpha_bar) * beta\n"
                                         "    return mean + math.sqrt(beta_tilde) * z if t > 1 else mean"),
                            ("test_guidance",), "β̃_t"),
    "guidance_noise_at_1": ("guidance", ("return mean + math.sqrt(beta) * z if t > 1 else mean",
                                         "return mean + math.sqrt(beta) * z"), ("test_guidance",),
                            "noise added at t = 1"),
    # betas[t] for β_t: wrong values at t < T and an IndexError at t = T; part 2 (graded with the reference step)
    # must not pay for it
    "guidance_beta_index": ("guidance", ("beta = float(betas[t - 1])", "beta = float(betas[t])"), ("test_guidance",),
                            "[t − 1]"),
    # The experiment's hidden test runs the student's loop with the reference step in place of guided_step, so a
    # bug in guided_step costs part 1 only (the guidance entries above); these break the loop or the measurement.
    "loop_skips_t1": ("experiment", ("for t in range(schedule.T, 0, -1):", "for t in range(schedule.T, 1, -1):"),
                      ("test_experiment_guidance",), "t = 1"),
    "samples_with_reference": ("experiment", (
        "    g = torch.Generator().manual_seed(seed)\n",
        "    from coursekit.diffusion import sample as _s\n"
        "    return _s(model, schedule, (len(labels), 1, 8, 8), generator=torch.Generator().manual_seed(seed),\n"
        "              y=labels, guidance_scale=w).clamp(-1, 1)\n"
        "    g = torch.Generator().manual_seed(seed)\n"), ("test_experiment_guidance",), "never called guided_step"),
    "returns_confidence": ("experiment", ("class_accuracy(sample_digits(model, labels, w, SCHEDULE, seed), labels)[0]",
                                          "class_accuracy(sample_digits(model, labels, w, SCHEDULE, seed), labels)[1]"),
                           ("test_experiment_guidance",), "mean confidence"),
    "l1_without_lambda": ("pix2pix", (REF_PIX, "return adversarial + (fake - y).abs().mean()"), ("test_pix2pix",),
                          "λ is missing"),
    "lambda_on_cgan": ("pix2pix", (REF_PIX, "return lambda_l1 * adversarial + (fake - y).abs().mean()"),
                       ("test_pix2pix",), "λ weighs the cGAN term"),
    "l1_wrong_dims": ("pix2pix", (REF_PIX, "return adversarial + lambda_l1 * (fake - y).abs().sum((1, 2, 3)).mean()"),
                      ("test_pix2pix",), "average over every element"),
    "patch_mean_before_log": ("pix2pix", (
        "adversarial = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))",
        "adversarial = F.binary_cross_entropy_with_logits(logits.mean(), torch.tensor(1.0))"), ("test_pix2pix",),
        "averaged before the log"),
    "pix2pix_detached_fake": ("pix2pix", ("logits = D(torch.cat([x, fake], dim=1))",
                                          "logits = D(torch.cat([x, fake.detach()], dim=1))"), ("test_pix2pix",),
                              "detached"),
    "pix2pix_calls_reference": ("pix2pix", (
        "    fake = G(x)\n",
        "    from coursekit.gan.losses import pix2pix_generator_loss as _p\n"
        "    _f = G(x)\n"
        "    return _p(D(torch.cat([x, _f], 1)), _f, y, lambda_l1)\n"
        "    fake = G(x)\n"), ("test_pix2pix",), "coursekit.gan"),
    "receptive_off_by_one": ("receptive", ("r = (r - 1) * stride + kernel", "r = r * stride + kernel - 1"),
                             ("test_receptive",), "off by one per layer"),
    "receptive_forward": ("receptive", ("for kernel, stride, _ in reversed(layers):",
                                        "for kernel, stride, _ in layers:"), ("test_receptive",), "walked forward"),
    "receptive_hardcoded": ("receptive", (
        "    r = 1\n",
        "    known = {3: 16, 4: 34, 5: 70}\n"
        "    if layers and all(l[0] == 4 for l in layers) and len(layers) in known:\n"
        "        return known[len(layers)]\n"
        "    if len(layers) == 2 and layers[0][1] == 2:\n"
        "        return 11\n"
        "    return 2 * len(layers) + 1\n"
        "    r = 1\n"), ("test_receptive",), "hidden test"),
    "outsize_no_padding": ("outsize", ("size = (size + 2 * padding - kernel) // stride + 1",
                                       "size = (size - kernel) // stride + 1"), ("test_outsize",),
                           "padding is missing"),
    "cycle_wrong_domain": ("cyclegan", (REF_CYCLE, "cycle = F.l1_loss(F_YX(fake_y), y) + F.l1_loss(G_XY(fake_x), x)"),
                           ("test_cyclegan",), "wrong domain"),
    "cycle_one_direction": ("cyclegan", (REF_CYCLE, "cycle = F.l1_loss(F_YX(fake_y), x)"), ("test_cyclegan",),
                            "only one direction of the cycle"),
    "identity_wrong_generator": ("cyclegan", (REF_IDENTITY, "identity = F.l1_loss(F_YX(y), y) + F.l1_loss(G_XY(x), x)"),
                                 ("test_cyclegan",), "wrong generator"),
    "identity_missing": ("cyclegan", (REF_IDENTITY, "identity = 0.0"), ("test_cyclegan",), "identity term is missing"),
    # detached fakes: the value is right and the cycle and identity terms still send gradients to G and F
    "cyclegan_detached_adversarial": ("cyclegan", (REF_ADV, "adversarial = ((D_Y(fake_y.detach()) - 1) ** 2).mean() + "
                                                            "((D_X(fake_x.detach()) - 1) ** 2).mean()"),
                                      ("test_cyclegan",), "detached"),
}


def _strip_solution(source: str) -> str:
    """The reference cell without the nbgrader markers (a student's filled-in cell)."""
    return "\n".join(line for line in source.splitlines() if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)


def _with_written(nb, text: str):
    """``nb`` with the written answer (the plain cell after the task cell blur_answer) filled in."""
    cells = nb.cells
    task = cells.index(course.cell(nb, "blur_answer"))
    assert cells[task + 1].source.strip() == "YOUR ANSWER HERE"
    cells[task + 1].source = text
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """ONE course copy (its release generated by nbgrader) and ONE `nbgrader autograde` call for every case."""
    os.environ["COURSEKIT_TIMEOUT_SCALE"] = "1"
    root = course.make_course(tmp_path_factory.mktemp("course"), ASSIGNMENT)
    release, solution = course.release(root, ASSIGNMENT), course.solution(root, ASSIGNMENT)
    reference = {c.metadata["nbgrader"]["grade_id"]: _strip_solution(c.source) for c in solution.cells
                 if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    course.submit(root, "reference", ASSIGNMENT, _with_written(course.answered(release, solution), WRITTEN))
    course.submit(root, "blank", ASSIGNMENT, release)
    for name, answers in CORRECT.items():
        course.submit(root, name, ASSIGNMENT, _with_written(course.answer(release, answers), WRITTEN))
    for name, (grade_id, (old, new), _, _) in WRONG.items():
        assert old in reference[grade_id], (name, old)
        answers = {**reference, grade_id: reference[grade_id].replace(old, new, 1)}
        course.submit(root, name, ASSIGNMENT, _with_written(course.answer(release, answers), WRITTEN))
    proc = course.autograde(root, ASSIGNMENT)
    return root, course.scores(root, ASSIGNMENT), proc


def _log(proc) -> str:
    return (proc.stdout[-3000:] + proc.stderr[-3000:]) if proc is not None else ""


def test_release_equals_generation(graded):
    """The committed release is what `nbgrader generate_assignment` wrote in this course copy."""
    course.assert_release_is_generated(graded[0], ASSIGNMENT)


def test_validate_invert_passes_on_release(graded):
    course.assert_blank_release_fails_every_test(graded[0], ASSIGNMENT)


def test_reference_full_marks_and_blank_zero(graded):
    _, scores, proc = graded
    assert scores["reference"] == {**PARTS, **MANUAL, "total": 12.0}, _log(proc)
    assert all(v == 0 for v in scores["blank"].values()), scores["blank"]


@pytest.mark.parametrize("name", list(CORRECT))
def test_independent_correct_submissions_lose_nothing(graded, name):
    _, scores, proc = graded
    assert scores[name] == {**PARTS, **MANUAL, "total": 12.0}, (scores[name], _log(proc))


@pytest.mark.parametrize("name", list(WRONG))
def test_each_bug_loses_exactly_its_part(graded, name):
    _, scores, proc = graded
    lost = WRONG[name][2]
    expected = {part: (0.0 if part in lost else points) for part, points in PARTS.items()}
    assert {k: scores[name][k] for k in PARTS} == expected, (scores[name], _log(proc))


@pytest.mark.parametrize("name", list(WRONG))
def test_each_bug_is_named_by_its_test(graded, name):
    """The failing test cell's error (what the student reads, in the notebook or the feedback) names the mistake."""
    root, _, _ = graded
    _, _, lost, hint = WRONG[name]
    errors = course.cell_errors(root, name, ASSIGNMENT)
    for part in lost:
        assert part in errors and hint in errors[part], (part, hint, errors.get(part, "")[-600:])


def test_the_written_part_waits_for_the_instructor_with_its_rubric(graded):
    """Part 7 is an nbgrader task: every submission waits for a hand grade, and the autograded notebook the grader
    opens in Formgrader shows the rubric the release does not contain."""
    root, _, _ = graded
    course.assert_rubric_for_the_grader(root, ASSIGNMENT, "blur_answer", "reference", 2)
