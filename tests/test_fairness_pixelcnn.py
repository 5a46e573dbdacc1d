"""Fairness of the PixelCNN assignment, graded by the real nbgrader pipeline (one course, one `nbgrader autograde`
call for every submission): the reference scores full marks on every autograded part, the blank release 0,
correct submissions written independently in other styles lose nothing, and each subtly wrong submission loses
exactly the part its bug breaks; so do submissions that call the reference for the part itself or replace a test
cell (nbgrader restores it).

Parts (2 points each): test_mask, test_masked_conv, test_bpd, test_sampling, test_experiment; the written answer
(grade_id "written", 2 points) is graded by hand in formgrader and scores 0 until then.
"""

from __future__ import annotations

import re
import time

import course
import pytest

NAME = "pixelcnn"
PARTS = ("test_mask", "test_masked_conv", "test_bpd", "test_sampling", "test_experiment")
pytestmark = pytest.mark.slow

# --------------------------------------------------------------------------------------------------------------
# Correct submissions, written independently of the reference in other styles
# --------------------------------------------------------------------------------------------------------------

NUMPY = {   # numpy mask (float64), own nn.Module layer, log-sum-exp by hand, inverse-CDF sampling, own network
    "mask": '''
import numpy as np

def causal_mask(k, mask_type):
    m = np.zeros((k, k))
    m[: k // 2, :] = 1
    m[k // 2, : k // 2 + (1 if mask_type == "B" else 0)] = 1
    return torch.from_numpy(m)
''',
    "masked_conv": '''
class MaskedConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, mask_type):
        super().__init__()
        bound = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.k = kernel_size
        self.register_buffer("m", causal_mask(kernel_size, mask_type).float())

    def forward(self, x):
        return F.conv2d(x, self.weight * self.m, self.bias, padding=self.k // 2)
''',
    "bpd": '''
def bits_per_dim(logits, x):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    picked = torch.gather(log_probs, 1, x)
    D = x.shape[-1] * x.shape[-2]
    return -(picked.sum(dim=(1, 2, 3))) / math.log(2) / D
''',
    "sampling": '''
@torch.no_grad()
def sample(model, n, size=8, levels=17, generator=None):
    img = -torch.ones(n, 1, size, size)
    for i in range(size * size):
        r, c = divmod(i, size)
        p = torch.softmax(model(img)[:, :, r, c], dim=1)
        u = torch.rand(n, 1, generator=generator)
        k = (p.cumsum(dim=1) < u).sum(dim=1).clamp(max=levels - 1)      # inverse CDF
        img[:, 0, r, c] = k.float() * 2 / (levels - 1) - 1
    return img
''',
    "experiment": '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = MaskedConv2d(1, 32, 7, "A")
        self.mid = nn.ModuleList([MaskedConv2d(32, 32, 3, "B") for _ in range(2)])
        self.head = nn.Conv2d(32, 17, 1)

    def forward(self, x):
        h = torch.relu(self.first(x))
        for layer in self.mid:
            h = torch.relu(layer(h))
        return self.head(h)


def train_pixelcnn(x_train, seed=0, steps=200):
    torch.manual_seed(seed)
    net = Net()
    return fit(net, lambda m, x: bits_per_dim(m(x), AR.to_levels(x)).mean(), x_train, steps=steps,
               batch_size=32, lr=1e-2, ema_decay=None, seed=seed).model
''',
}

FLOAT64 = {   # float64 throughout the first four parts, an nn.Conv2d subclass casting its mask
    "mask": '''
def causal_mask(k, mask_type):
    c = k // 2
    rows = torch.arange(k, dtype=torch.float64)[:, None]
    cols = torch.arange(k, dtype=torch.float64)[None, :]
    before = (rows < c) | ((rows == c) & (cols < c))
    if mask_type == "B":
        before = before | ((rows == c) & (cols == c))
    return before.to(torch.float64)
''',
    "masked_conv": '''
class MaskedConv2d(nn.Conv2d):
    def __init__(self, in_channels, out_channels, kernel_size, mask_type):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.register_buffer("mask64", causal_mask(kernel_size, mask_type))

    def forward(self, x):
        w = self.weight * self.mask64.to(self.weight.dtype)
        return self._conv_forward(x, w, self.bias)
''',
    "bpd": '''
def bits_per_dim(logits, x):
    lp = torch.log_softmax(logits.double(), dim=1)
    nll = -lp.gather(1, x.long()).reshape(x.shape[0], -1).sum(dim=1)
    return nll / (math.log(2.0) * x[0, 0].numel())
''',
    "sampling": '''
@torch.no_grad()
def sample(model, n, size=8, levels=17, generator=None):
    x = torch.zeros(n, 1, size, size, dtype=torch.float64)
    for r in range(size):
        for c in range(size):
            logits = model(x.float())[:, :, r, c].double()
            k = torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)
            x[:, 0, r, c] = 2.0 * k.double() / (levels - 1) - 1.0
    return x
''',
    "experiment": '''
def train_pixelcnn(x_train, seed=0, steps=200):
    torch.manual_seed(seed)
    model = nn.Sequential(MaskedConv2d(1, 32, 7, "A"), nn.ReLU(),
                          MaskedConv2d(32, 32, 3, "B"), nn.ReLU(),
                          MaskedConv2d(32, 32, 3, "B"), nn.ReLU(),
                          nn.Conv2d(32, 17, 1))
    loss = lambda m, x: bits_per_dim(m(x), AR.to_levels(x)).mean().float()
    return fit(model, loss, x_train, steps=steps, batch_size=32, lr=1e-2, ema_decay=None, seed=seed).model
''',
}

OTHER_IMPORTS = {   # `import coursekit.autoregressive as …` for allowed helpers, F.cross_entropy, in-place masking
    "mask": '''
def causal_mask(k, mask_type):
    flat = torch.ones(k * k)
    flat[k * k // 2 + (1 if mask_type == "B" else 0):] = 0     # raster order inside the kernel
    return flat.view(k, k)
''',
    "masked_conv": '''
class MaskedConv2d(nn.Conv2d):
    def __init__(self, in_channels, out_channels, kernel_size, mask_type):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=True)
        self.mask = causal_mask(kernel_size, mask_type).float()

    def forward(self, x):
        with torch.no_grad():
            self.weight.mul_(self.mask.to(self.weight.device))     # zero the masked taps before every call
        return super().forward(x)
''',
    "bpd": '''
import torch.nn.functional as functional

def bits_per_dim(logits, x):
    ce = functional.cross_entropy(logits, x[:, 0], reduction="none")   # (B, H, W) nats
    return ce.mean(dim=(1, 2)) / math.log(2)
''',
    "sampling": '''
import coursekit.autoregressive as autoreg
from coursekit.autoregressive import from_levels

@torch.no_grad()
def sample(model, n, size=8, levels=17, generator=None):
    x = autoreg.from_levels(torch.zeros(n, 1, size, size, dtype=torch.long), levels)
    i = 0
    while i < size * size:
        row, col = i // size, i % size
        out = model(x)
        k = torch.multinomial(F.softmax(out[..., row, col], dim=1), num_samples=1, generator=generator)
        x[:, 0, row, col] = from_levels(k[:, 0], levels)
        i += 1
    return x
''',
    "experiment": '''
import coursekit.train as T

def train_pixelcnn(x_train, seed=0, steps=200):
    torch.manual_seed(seed)
    net = nn.Sequential(MaskedConv2d(1, 32, 5, "A"), nn.ReLU(), MaskedConv2d(32, 32, 3, "B"), nn.ReLU(),
                        MaskedConv2d(32, 32, 3, "B"), nn.ReLU(), nn.Conv2d(32, 32, 1), nn.ReLU(),
                        nn.Conv2d(32, 17, 1))
    result = T.fit(net, lambda m, x: bits_per_dim(m(x), AR.to_levels(x)).mean(), x_train, steps=steps,
                   batch_size=32, lr=1e-2, ema_decay=None, seed=seed)
    return result.model
''',
}

OWN_LOOP = {   # own training loop (Adam, no fit), residual network, torch.distributions for sampling
    "mask": '''
def causal_mask(k, mask_type):
    m = torch.ones(k, k)
    c = k // 2
    m[c + 1:] = 0
    m[c, c + 1:] = 0
    if mask_type == "A":
        m[c, c] = 0
    return m
''',
    "masked_conv": '''
class MaskedConv2d(nn.Conv2d):
    def __init__(self, in_channels, out_channels, kernel_size, mask_type):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.register_buffer("mask", causal_mask(kernel_size, mask_type).reshape(1, 1, kernel_size, kernel_size))

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, stride=1, padding=self.kernel_size[0] // 2)
''',
    "bpd": '''
def bits_per_dim(logits, x):
    B, L, H, W = logits.shape
    flat = logits.permute(0, 2, 3, 1).reshape(B, H * W, L)
    idx = x.reshape(B, H * W)
    logp = torch.distributions.Categorical(logits=flat).log_prob(idx)     # (B, D) nats
    return -logp.mean(dim=1) / math.log(2)
''',
    "sampling": '''
@torch.no_grad()
def sample(model, n, size=8, levels=17, generator=None):
    x = torch.zeros(n, 1, size, size)
    for r in range(size):
        for c in range(size):
            dist = torch.distributions.Categorical(logits=model(x)[:, :, r, c])
            x[:, 0, r, c] = dist.sample().float() / (levels - 1) * 2 - 1
    return x
''',
    "experiment": '''
class Block(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.conv = MaskedConv2d(h, h, 3, "B")

    def forward(self, x):
        return x + torch.relu(self.conv(x))


def train_pixelcnn(x_train, seed=0, steps=250):
    torch.manual_seed(seed)
    model = nn.Sequential(MaskedConv2d(1, 32, 7, "A"), nn.ReLU(), Block(32), Block(32),
                          nn.Conv2d(32, 17, 1))
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    g = torch.Generator().manual_seed(seed)
    for step in range(steps):
        batch = x_train[torch.randint(0, len(x_train), (32,), generator=g)]
        loss = bits_per_dim(model(batch), AR.to_levels(batch)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model
''',
}

CORRECT = {"numpy_style": NUMPY, "float64_style": FLOAT64, "other_imports": OTHER_IMPORTS, "own_loop": OWN_LOOP}

# --------------------------------------------------------------------------------------------------------------
# Subtly wrong submissions: the reference with one known bug, and the part(s) it must cost
# --------------------------------------------------------------------------------------------------------------

WRONG = {
    # name: (grade_id of the answer cell, old text, new text, the parts that must score 0)
    "mask_swapped": ("mask", 'if mask_type == "B":', 'if mask_type == "A":', {"test_mask"}),
    # the centre kept in type A: the model of part 5 would see its own pixel, but part 5 is graded with a correct
    # mask in place (its visible test tells the student), so only part 1 loses
    "centre_in_A": ("mask", '    if mask_type == "B":\n        mask[c, c] = 1.0',
                    '    mask[c, c] = 1.0', {"test_mask"}),
    "mask_row_off_by_one": ("mask", "mask[:c, :] = 1.0", "mask[:c - 1, :] = 1.0", {"test_mask"}),
    "bpd_in_nats": ("bpd", "(dims * math.log(2.0))", "dims", {"test_bpd"}),
    "bpd_not_per_dim": ("bpd", "(dims * math.log(2.0))", "math.log(2.0)", {"test_bpd"}),
    "column_major": ("sampling", "    for r in range(size):                                     # row by row …\n"
                     "        for c in range(size):                                 # … left to right",
                     "    for c in range(size):\n        for r in range(size):", {"test_sampling"}),
    "skips_last_pixel": ("sampling", "        for c in range(size):                                 # … left to right",
                         "        for c in range(size - 1 if r == size - 1 else size):", {"test_sampling"}),
    "resamples_pixels": ("sampling", "            x[:, 0, r, c] = 2.0 * k.float() / (levels - 1) - 1.0",
                         "            i = r * size + c\n"
                         "            flat = x.view(n, -1)\n"
                         "            flat[:, i:] = (2.0 * k.float() / (levels - 1) - 1.0)[:, None]",
                         {"test_sampling"}),
    # the mask applied once to the weights at construction, not in forward: the layer leaks once the weights move;
    # part 5 is graded with a correct MaskedConv2d in its place, so the bug costs part 2 only
    "mask_only_at_init": ("masked_conv",
                          "        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)",
                          "        if not getattr(self, '_masked', False):\n"
                          "            with torch.no_grad():\n"
                          "                self.weight.mul_(self.mask)\n"
                          "            self._masked = True\n"
                          "        return F.conv2d(x, self.weight, self.bias, padding=self.padding)",
                          {"test_masked_conv"}),
    # a bug that only a mask larger than 3×3 shows: just the pixel next to the centre is kept in the centre row
    "mask_adjacent_left_only": ("mask", "mask[c, :c] = 1.0", "mask[c, c - 1] = 1.0", {"test_mask"}),
    # sampling that reads another pixel's logits, or takes the most likely level instead of a draw
    "sample_transposed_logits": ("sampling", "model(x)[:, :, r, c]", "model(x)[:, :, c, r]", {"test_sampling"}),
    "sample_argmax": ("sampling", "k = torch.multinomial(probs, 1, generator=generator)[:, 0]",
                      "k = probs.argmax(dim=1)", {"test_sampling"}),
    # a model that sees its own pixel (type B first): about 1.1 bits/dim, not an autoregressive model
    "sees_its_own_pixel": ("experiment", 'MaskedConv2d(1, hidden, 7, "A")', 'MaskedConv2d(1, hidden, 7, "B")',
                           {"test_experiment"}),
}


# Submissions that try the grader: the reference called for the part itself (judged by what runs, whatever the
# import), and a test cell replaced by a print (nbgrader restores it from the source)
CALLS_REFERENCE_MASK = ("mask", "    mask = torch.zeros(k, k)",
                        "    import coursekit.autoregressive as ck\n    return ck.causal_mask(k, mask_type)\n"
                        "    mask = torch.zeros(k, k)")
CALLS_REFERENCE_BPD = ("bpd", "    return -log_p.flatten(1).sum(1) / (dims * math.log(2.0))",
                       "    from coursekit.autoregressive import bits_per_dim as to_bits\n"
                       "    return to_bits(-log_p.flatten(1).sum(1), dims)")
HOSTILE = {"calls_reference_mask": ([CALLS_REFERENCE_MASK], None, {"test_mask"}),
           "calls_reference_bpd": ([CALLS_REFERENCE_BPD], None, {"test_bpd"}),
           "edited_test": ([WRONG["column_major"][:3]], "test_sampling", {"test_sampling"})}


def _hostile(release, solution, edits, emptied: str | None):
    nb = course.answered(release, solution)
    for grade_id, old, new in edits:
        cell = course.cell(nb, grade_id)
        assert old in cell.source, (grade_id, old)
        cell.source = cell.source.replace(old, new)
    if emptied is not None:
        course.cell(nb, emptied).source = 'print("all tests passed")'
    return nb


def _fill(release, solution, answers: dict[str, str]):
    nb = course.answered(release, solution)
    return course.answer(nb, {gid: src.strip("\n") for gid, src in answers.items()})


def _wrong(release, solution, grade_id: str, old: str, new: str):
    nb = course.answered(release, solution)
    cell = course.cell(nb, grade_id)
    assert old in cell.source, (grade_id, old)
    cell.source = cell.source.replace(old, new)
    return nb


ROOT: list = []


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One course; the reference, the blank release, every correct and every wrong submission; one autograde."""
    root = course.make_course(tmp_path_factory.mktemp("fair"), NAME)
    ROOT[:] = [root]
    release, solution = course.release(root, NAME), course.solution(root, NAME)
    course.submit(root, "reference", NAME, course.answered(release, solution))
    course.submit(root, "blank", NAME, release)
    for student, answers in CORRECT.items():
        course.submit(root, student, NAME, _fill(release, solution, answers))
    for student, (grade_id, old, new, _) in WRONG.items():
        course.submit(root, student, NAME, _wrong(release, solution, grade_id, old, new))
    for student, (edits, emptied, _) in HOSTILE.items():
        course.submit(root, student, NAME, _hostile(release, solution, edits, emptied))
    start = time.perf_counter()
    proc = course.autograde(root, NAME)
    seconds = time.perf_counter() - start
    scores = course.scores(root, NAME)
    print(f"\nautograde: {len(scores)} submissions in {seconds:.0f} s ({seconds / max(len(scores), 1):.1f} s each)")
    return scores, proc


def test_every_submission_was_graded(graded):
    scores, proc = graded
    expected = {"reference", "blank", *CORRECT, *WRONG, *HOSTILE}
    assert set(scores) == expected, course.grading_output(proc)


def test_reference_full_marks_and_blank_zero(graded):
    scores, proc = graded
    course.assert_loses_exactly(scores["reference"], PARTS, proc=proc)
    assert scores["reference"]["written"] == 0.0              # graded by hand in formgrader
    assert scores["reference"]["total"] == 10.0
    assert all(v == 0 for v in scores["blank"].values()), scores["blank"]


def test_the_grader_sees_the_rubric(graded):
    """The written part is a task worth 2 points that waits for the instructor; the notebook Formgrader opens shows
    its bilingual rubric with partial credit, the release does not."""
    course.assert_rubric_for_the_grader(ROOT[0], NAME, "written", "reference", 2.0)


def test_failure_messages_are_bilingual_hints(graded):
    """What a failing test tells the student (feedback shows a hidden test's message, never its code): a hint in
    both languages, no hidden input."""
    for student, part in (("sample_argmax", "test_sampling"), ("sees_its_own_pixel", "test_experiment"),
                          ("mask_adjacent_left_only", "test_mask")):
        message = course.cell_errors(ROOT[0], student, NAME)[part]
        assert re.search(r"[\u4e00-\u9fff]", message) and re.search(r"[a-z]{4} [a-z]{4}", message), (student, message)
        assert "4204" not in message and "4206" not in message


@pytest.mark.parametrize("student", sorted(CORRECT))
def test_correct_submission_loses_nothing(graded, student):
    scores, proc = graded
    course.assert_loses_exactly(scores[student], PARTS, proc=proc)


@pytest.mark.parametrize("student", sorted(WRONG))
def test_wrong_submission_loses_exactly_its_part(graded, student):
    scores, proc = graded
    course.assert_loses_exactly(scores[student], PARTS, WRONG[student][3], proc)


@pytest.mark.parametrize("student", sorted(HOSTILE))
def test_hostile_submission_loses_exactly_its_part(graded, student):
    scores, proc = graded
    course.assert_loses_exactly(scores[student], PARTS, HOSTILE[student][2], proc)
