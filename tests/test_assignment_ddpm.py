"""The DDPM assignment as released: equals what nbgrader generates from solutions/, leaks nothing, fails
every test when blank; and the grading helpers the hidden tests rely on."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import course
import nbformat
import pytest
import torch

from coursekit import diffusion as D
from coursekit import grading

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "solutions" / "ddpm" / "ddpm.ipynb"
RELEASE = REPO / "assignments" / "ddpm" / "ddpm.ipynb"


def _nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, capture_output=True, text=True,
                          env=env)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gen")
    shutil.copy2(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions", root / "solutions")
    proc = _nbgrader(root, "generate_assignment", "ddpm", "--force")
    assert proc.returncode == 0, proc.stderr
    return root


def test_release_equals_generation(generated):
    course.assert_release_is_generated(generated, "ddpm")


def test_release_leaks_nothing():
    source, _ = course.assert_release_hides_the_solution("ddpm", ("4101", "4105"), 6, written_task="posterior_answer")
    scheme = course.cell(source, "posterior_answer").source
    scheme = scheme[scheme.index("### BEGIN MARK SCHEME"):]         # the rubric and the model answer, instructors only
    assert "0.25" in scheme and "评分标准" in scheme and "Rubric" in scheme and "c_0(t)" in scheme
    assert scheme[200:260] not in RELEASE.read_text(encoding="utf-8")


def test_top_states_the_grading_rules():
    """Both languages state, at the top: the stderr rule, the cell time limits nbgrader_config.py sets, how part 5
    is graded (its seeds, the bar, the measured pass rate, with the student's own earlier parts) and the one name
    tests use."""
    course.assert_top_states_the_grading_rules(
        "ddpm", ("≤ 0.3", "至少覆盖 6 个", "至多三次", "你自己的", "_tests", "30 个种子"),
        ("≤ 0.3", "at least 6 of the 8 modes", "up to three runs", "your own", "_tests", "30 seeds"))


def test_release_is_bilingual_and_locked():
    release = nbformat.read(RELEASE, as_version=4)
    markdown = "\n".join(c.source for c in release.cells if c.cell_type == "markdown")
    assert re.search(r"[\u4e00-\u9fff]", markdown) and "Algorithm 2" in markdown and "算法 2" in markdown
    assert "前向过程的闭式解" in markdown and "Pass criterion" in markdown and "评分标准" in markdown
    for cell in release.cells:                      # instructions: a Chinese paragraph, then an English one
        if cell.cell_type != "markdown" or cell.source.strip() == "YOUR ANSWER HERE":
            continue
        paragraphs = [p for p in cell.source.split("\n\n") if p.strip() and not p.startswith(("#", "|"))]
        chinese = [bool(re.search(r"[\u4e00-\u9fff]", p)) for p in paragraphs]
        assert chinese.count(True) == chinese.count(False) > 0, cell.source[:80]
        assert all(a and not b for a, b in zip(chinese[::2], chinese[1::2])), cell.source[:80]
    setup = release.cells[1]
    meta = setup.metadata["nbgrader"]
    assert meta["grade_id"] == "setup" and meta["locked"] and not setup.metadata["editable"]
    assert "COURSEKIT_PROGRESS" in setup.source and "filterwarnings" in setup.source
    tests = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")
             or c.metadata.get("nbgrader", {}).get("task")]
    assert [c.metadata["nbgrader"]["points"] for c in tests] == [2] * 7
    assert all(c.metadata["nbgrader"]["locked"] for c in tests)
    written = [c for c in tests if c.cell_type == "markdown"]           # a task graded in formgrader, with its rubric
    assert len(written) == 1 and written[0].metadata["nbgrader"]["task"]


@pytest.mark.slow
def test_validate_invert_passes_on_release(generated):
    course.assert_blank_release_fails_every_test(generated, "ddpm")


def test_config_timeouts_are_bounded():
    spec = importlib.util.spec_from_file_location("cfg", REPO / "nbgrader_config.py")
    module = importlib.util.module_from_spec(spec)
    class Config(types.SimpleNamespace):           # c.AnySection is created on first use, as traitlets does
        def __getattr__(self, name):
            section = types.SimpleNamespace()
            setattr(self, name, section)
            return section

    module.get_config = Config
    saved = {k: os.environ.get(k) for k in ("COURSEKIT_GRADING", "COURSEKIT_DEVICE", "PYTHONWARNINGS",
                                            "OMP_NUM_THREADS")}
    try:
        spec.loader.exec_module(module)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    c = module.c
    assert c.OverwriteCells.add_missing_cells is True and c.IgnorePattern.enabled is True
    cell = lambda gid: {"metadata": {"nbgrader": {"grade_id": gid}}}  # noqa: E731
    train, unit, plain = (c.Execute.timeout_func(cell("test_train_sample")), c.Execute.timeout_func(cell("test_loss")),
                          c.Execute.timeout_func({"metadata": {}}))
    assert train > unit and 0 < unit <= 60 and 0 < train <= 600 and plain == unit
    pattern = re.compile(c.IgnorePattern.pattern)
    assert pattern.search("100%|##########| 50/50 [00:00<00:00, 999.99it/s]")
    assert pattern.search("/x/torch/nn.py:12: UserWarning: something")
    assert not pattern.search("Traceback (most recent call last)")
    out = {"output_type": "stream", "name": "stdout", "text": "x" * 1_000_000}
    assert module.cap_output(out) < 30_000 and out["text"].endswith(module.CUT)
    err = {"output_type": "error", "ename": "E", "evalue": "v" * 10**6, "traceback": ["t" * 10**5] * 500}
    module.cap_output(err)
    assert len(err["traceback"]) == 100 and len(err["evalue"]) < 30_000
    shown = {"output_type": "display_data", "data": {"image/png": "A" * 10**6, "text/plain": "<Figure>"}}
    module.cap_output(shown)
    assert shown["data"] == {"text/plain": "<Figure>"}
    assert module.CappedExecute in c.Autograde.autograde_preprocessors


# --- the helpers hidden tests use -------------------------------------------------------------------------

def test_assert_close_is_plain_python_and_strict(monkeypatch):
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    with pytest.raises(AssertionError, match="differ"):
        grading.assert_close(torch.zeros(3), torch.ones(3))
    with pytest.raises(AssertionError, match="shape"):
        grading.assert_close(torch.zeros(3), torch.zeros(4))
    with pytest.raises(AssertionError, match="torch.Tensor"):
        grading.assert_close([0.0], torch.zeros(1))
    with pytest.raises(AssertionError):
        grading.assert_close(torch.tensor([float("nan")]), torch.zeros(1))
    grading.assert_close(torch.ones(3) + 1e-7, torch.ones(3))       # float32 rounding is fine
    assert grading.max_abs_error(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 1.0])) == 2.0


def test_reference_is_a_private_copy(monkeypatch):
    monkeypatch.setattr(D, "q_sample", lambda *a, **k: "tampered")
    fresh = grading.reference("q_sample")
    s = D.make_schedule("linear", 10)
    x0, eps, t = torch.randn(4, 2), torch.randn(4, 2), torch.tensor([1, 2, 3, 10])
    assert torch.equal(fresh(s, x0, t, eps), sys.modules["coursekit.diffusion.forward"].q_sample(s, x0, t, eps))
    assert fresh.__module__.startswith("_coursekit_reference")


def _notebook_namespace(code: str) -> dict:
    ns: dict = {"__name__": "__main__"}
    exec(code, ns)
    return ns


def test_reaches_reference_static():
    ns = _notebook_namespace(
        "import torch\nfrom coursekit import diffusion as D\nfrom coursekit.diffusion import q_sample as r\n"
        "import coursekit.diffusion.forward as F\n"
        "def direct(s, x, t, e):\n    return D.q_sample(s, x, t, e)\n"
        "def alias(s, x, t, e):\n    return r(s, x, t, e)\n"
        "def deep(s, x, t, e):\n    return F.q_sample(s, x, t, e)\n"
        "def helper(s, x, t, e):\n    return alias(s, x, t, e)\n"
        "def default(s, x, t, e, f=D.q_sample):\n    return f(s, x, t, e)\n"
        "def own(a, x, t, e):\n    return a[t - 1].sqrt()[:, None] * x + e\n"
        "def uses_other(s, x):\n    return D.make_schedule('linear', 10).betas\n")
    for name in ("direct", "alias", "deep", "helper", "default"):
        assert grading.reaches_reference(ns[name], ["q_sample"]), name
    assert grading.reaches_reference(ns["own"], ["q_sample"]) is None
    assert grading.reaches_reference(ns["uses_other"], ["q_sample"]) is None


def test_no_reference_dynamic_catches_a_swallowed_call():
    ns = _notebook_namespace(
        "import importlib\n"
        "def sneaky(s, x, t, e):\n"
        "    mod = importlib.import_module('coursekit.' + 'diffusion')\n"
        "    try:\n        return getattr(mod, 'q_' + 'sample')(s, x, t, e)\n"
        "    except Exception:\n        return x\n")
    s = D.make_schedule("linear", 10)
    original = D.q_sample
    with pytest.raises(AssertionError, match="called coursekit.diffusion.q_sample"):
        with grading.no_reference(ns["sneaky"], "q_sample"):
            ns["sneaky"](s, torch.zeros(2, 2), torch.tensor([1, 2]), torch.zeros(2, 2))
    assert D.q_sample is original and sys.modules["coursekit.diffusion.forward"].q_sample is original
    with grading.no_reference(ns["sneaky"], "ddpm_loss"):            # another reference is allowed
        ns["sneaky"](s, torch.zeros(2, 2), torch.tensor([1, 2]), torch.zeros(2, 2))


def test_time_limit_stops_a_runaway_loop():
    start = time.perf_counter()
    with pytest.raises(TimeoutError):
        with grading.time_limit(0.3):
            while True:
                pass
    assert time.perf_counter() - start < 5
    with grading.time_limit(5):
        pass
    with pytest.raises(ValueError, match="seconds"):
        with grading.time_limit(0):
            pass


def test_hide_tests_strips_source_and_quoting_outputs():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(12345) == 12345, 'secret'\n"
                                     "### END HIDDEN TESTS\n")
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="secret",
                                           traceback=["line", "assert f(12345) == 12345, 'secret'"])]
    nb.cells.append(cell)
    assert grading.hide_tests(nb)
    text = json.dumps(nb)
    assert "12345" not in text and "assert f(1) == 1" in text and "AssertionError" in text


# --- the hidden tests accept any correct float32 implementation ---------------------------------------------

OTHER_CORRECT = '''
import torch.nn.functional as F

def linear_betas(T, beta_start=1e-4, beta_end=0.02):          # float32 throughout, arange instead of linspace
    return beta_start + (beta_end - beta_start) * torch.arange(T, dtype=torch.float32) / (T - 1)

def alpha_bars(betas):                                         # ᾱ_t = exp(Σ log(1 − β_i)), float32
    return torch.exp(torch.cumsum(torch.log1p(-betas.float()), dim=0))

def q_sample(alpha_bars, x0, t, noise):                        # gather + view instead of indexing + reshape
    a = alpha_bars.gather(0, t - 1).view(-1, *([1] * (x0.dim() - 1)))
    return torch.sqrt(a) * x0 + torch.sqrt(1 - a) * noise

def ddpm_loss(model, alpha_bars, x0, t, noise):
    return F.mse_loss(model(q_sample(alpha_bars, x0, t, noise), t), noise)

def p_sample_step(betas, alpha_bars, x_t, t, eps, z, variance="beta"):   # rsqrt, noise masked by multiplication
    view = (-1,) + (1,) * (x_t.dim() - 1)
    b, ab = betas[t - 1].view(view), alpha_bars[t - 1].view(view)
    ab_prev = torch.cat([torch.ones(1), alpha_bars])[t - 1].view(view)
    sigma = b.sqrt() if variance == "beta" else (b * (1 - ab_prev) / (1 - ab)).sqrt()
    return (x_t - b * torch.rsqrt(1 - ab) * eps) * torch.rsqrt(1 - b) + (t > 1).float().view(view) * sigma * z

def guided_eps(model, x_t, t, y, w):                           # one batched call instead of two
    out = model(torch.cat([x_t, x_t]), t.repeat(2), torch.cat([y, torch.full_like(y, -1)]))
    return out[len(x_t):] + w * (out[:len(x_t)] - out[len(x_t):])
'''


def test_hidden_tests_accept_other_correct_float32_answers(monkeypatch):
    """The graded unit cells (visible + hidden tests) run on answers written differently from the solutions."""
    source = nbformat.read(SOURCE, as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in source.cells}
    ns: dict = {"__name__": "__main__"}
    for key in ("COURSEKIT_PROGRESS", "COURSEKIT_DEVICE"):       # the set-up cell sets them; restored after
        monkeypatch.setenv(key, os.environ.get(key, ""))
    threads = torch.get_num_threads()                            # the set-up cell pins one thread
    try:
        exec(cells["setup"], ns)
        exec(OTHER_CORRECT, ns)
        for grade_id in ("test_schedule", "test_q_sample", "test_loss", "test_p_sample", "test_guidance"):
            exec(cells[grade_id], ns)                            # raises AssertionError on a failed test
    finally:
        torch.set_num_threads(threads)
    ns["alpha_bars"] = lambda betas: 1.0 - betas                 # and a wrong answer still fails
    with pytest.raises(AssertionError):
        exec(cells["test_schedule"], ns)


# --- the visible tests name the common mistakes (the fairness class's one-bug submissions) -------------------

VISIBLE_HINTS = {                       # student of the fairness class (ddpm_fairness.py) → words the visible test says
    "t_from_zero": "t = 0",
    "t_never_T": "never drew t = T",
    "skips_last_step": "t = 1 is missing",
    "abar_prev_for_abar": "ᾱ_{t−1} used where ᾱ_t is needed",
    "sigma_missing": "σ_t z missing",
    "noise_at_t1": "noise added at t = 1",
    "model_fed_x0": "fed x_0",
    "broadcast_2d_only": "",            # torch's own broadcast error is enough
    "guidance_convention": "another convention",
    "guidance_8x8_only": "no reshape to the digits' 8×8",   # on the visible 5×7 images
    "loss_summed_per_example": "summed over each example",
    "loss_passes_t_minus_1": "t − 1 passed to the model",
    "sampler_without_noise": "never adds noise",
}


ANSWER_CELLS = ("schedule", "q_sample", "loss", "p_sample", "train_sample", "guidance")


def _fairness_module():
    spec = importlib.util.spec_from_file_location("fairness_ddpm", REPO / "tests/fixtures/submissions/ddpm_fairness.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("student", sorted(VISIBLE_HINTS))
def test_visible_tests_name_the_common_mistakes(student, monkeypatch):
    """Each one-bug submission already fails a visible test, in the part its bug belongs to, with a hint."""
    fair = _fairness_module()
    (grade_id, old, new), zero, _ = fair.WRONG[student]
    source = nbformat.read(SOURCE, as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in source.cells}
    answers = {k: "\n".join(line for line in v.split("\n") if "### BEGIN SOLUTION" not in line
                             and "### END SOLUTION" not in line)
               for k, v in cells.items() if k in ANSWER_CELLS}
    answers[grade_id] = answers[grade_id].replace(old, new)
    monkeypatch.setenv("COURSEKIT_GRADING", "1")                     # the visible quality run is skipped
    monkeypatch.setenv("COURSEKIT_TIMEOUT_SCALE", "20")              # a busy machine: no guard fires mid-import
    for key in ("COURSEKIT_PROGRESS", "COURSEKIT_DEVICE"):
        monkeypatch.setenv(key, os.environ.get(key, ""))
    threads = torch.get_num_threads()
    ns: dict = {"__name__": "__main__"}
    failed = {}
    try:
        exec(cells["setup"], ns)
        for answer in answers.values():
            exec(answer, ns)
        for part in sorted(zero):
            visible = cells[part].split("### BEGIN HIDDEN TESTS")[0]
            try:
                exec(visible, ns)
            except Exception as err:                                 # noqa: BLE001  (any failure fails the part)
                failed[part] = str(err)
    finally:
        torch.set_num_threads(threads)
    first = sorted(zero)[0] if student != "abar_prev_for_abar" else "test_q_sample"
    assert first in failed, f"{student}: the visible test of {first} passed"
    assert VISIBLE_HINTS[student] in failed[first], failed[first]


def test_part_5_names_the_earlier_part_and_tests_leave_names_alone():
    """When part 5 fails because of an earlier part, its visible test says which one; a sampler that never adds
    noise is told so (not "not good enough yet"); and no test cell binds a name but _tests."""
    loss = ("loss", "model(x_t, t)", "model(x_t, t - 1)")
    cases = {   # edits → (the parts that fail, words part 5's message must hold)
        "t − 1 inside ddpm_loss": ([loss], {"test_loss", "test_train_sample"},
                                   ("t − 1", "fix part 3 first", "第 3 部分")),
        "no noise in the sampler": ([("train_sample", "z = torch.randn(n, 2, generator=g)", "z = torch.zeros(n, 2)")],
                                    {"test_train_sample"}, ("never adds noise", "z ~ N(0, I)", "从不加噪声")),
        "σ_t z missing in p_sample_step": ([("p_sample", "return mean + var.sqrt() * z", "return mean")],
                                           {"test_p_sample", "test_train_sample"}, ("ignores z", "fix part 4 first")),
    }
    for case, (edits, parts, words) in cases.items():
        verdicts = course.visible_verdicts("ddpm", edits)
        failed = {p: v for p, v in verdicts.items() if v != "ok"}
        assert set(failed) == parts, (case, failed)
        assert all(w in failed["test_train_sample"] for w in words), (case, failed["test_train_sample"])
    assert set(course.visible_verdicts("ddpm").values()) == {"ok"}
