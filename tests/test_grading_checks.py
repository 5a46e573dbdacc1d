"""The in-kernel grading helpers every assignment's hidden tests use: ``reference(name, module=...)``,
``no_reference(fn, *names, module=...)`` (reference use judged by what runs, never by which names appear),
``CallRecorder`` and ``check_countdown`` (structure checks).

Both directions are tested: every way of running the reference fails the part; allowed coursekit use, in the
import styles the README shows, costs nothing.
"""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

from coursekit import diffusion as D
from coursekit import grading
from coursekit import vae as V


def _namespace(code: str) -> dict:
    """Run ``code`` as a notebook would (module ``__main__``) and return its globals."""
    ns: dict = {"__name__": "__main__"}
    exec(textwrap.dedent(code), ns)
    return ns


S = D.make_schedule("linear", 10)
X, E, T = torch.randn(4, 2), torch.randn(4, 2), torch.tensor([1, 2, 3, 10])

# --- reference ---------------------------------------------------------------------------------------------


def test_reference_defaults_to_diffusion_and_takes_any_module(monkeypatch):
    mu, logvar = torch.randn(3, 4), torch.randn(3, 4)
    expected = V.gaussian_kl(mu, logvar)
    monkeypatch.setattr(V, "gaussian_kl", lambda *a, **k: "tampered")      # a submission rebinds the module
    kl = grading.reference("gaussian_kl", module="vae")
    assert torch.equal(kl(mu, logvar), expected) and kl.__module__ == "_coursekit_reference.vae"
    assert grading.reference("q_sample").__module__ == "_coursekit_reference.diffusion.forward"
    assert grading.reference("MLPDenoiser.forward", module="nets").__qualname__ == "MLPDenoiser.forward"
    assert grading.reference("discriminator_loss", module="gan.losses").__module__ == "_coursekit_reference.gan.losses"


@pytest.mark.parametrize("name, module", [("no_such", "diffusion"), ("q_sample", "no such"), ("x", "")])
def test_reference_rejects_bad_names(name, module):
    with pytest.raises((ValueError, ModuleNotFoundError)):
        grading.reference(name, module=module)


# --- no_reference: what runs counts ------------------------------------------------------------------------

BORROWED = {
    "direct": """
        from coursekit import diffusion as D
        def f(s, x, t, e):
            return D.q_sample(s, x, t, e)
    """,
    "alias": """
        from coursekit.diffusion import q_sample as r
        def f(s, x, t, e):
            return r(s, x, t, e)
    """,
    "submodule": """
        import coursekit.diffusion.forward as F
        def f(s, x, t, e):
            return F.q_sample(s, x, t, e)
    """,
    "helper_and_lambda": """
        import coursekit.diffusion as K
        g = lambda *a: K.q_sample(*a)
        def helper(*a):
            return g(*a)
        def f(s, x, t, e):
            return helper(s, x, t, e)
    """,
    "class_method": """
        import coursekit
        import coursekit.diffusion
        class Noiser:
            @staticmethod
            def go(*a):
                return coursekit.diffusion.q_sample(*a)
        def f(s, x, t, e):
            return Noiser().go(s, x, t, e)
    """,
    "swallowed": """
        import importlib
        def f(s, x, t, e):
            mod = importlib.import_module("coursekit." + "diffusion")
            try:
                return getattr(mod, "q_" + "sample")(s, x, t, e)
            except Exception:
                return x
    """,
    "own_copy_of_the_package": """
        import importlib.util, pathlib, sys, coursekit
        def f(s, x, t, e):
            root = pathlib.Path(coursekit.__file__).parent
            spec = importlib.util.spec_from_file_location("mine", root / "__init__.py",
                                                          submodule_search_locations=[str(root)])
            mod = importlib.util.module_from_spec(spec); sys.modules["mine"] = mod; spec.loader.exec_module(mod)
            return importlib.import_module("mine.diffusion").q_sample(s, x, t, e)
    """,
    "in_a_thread": """
        import threading
        from coursekit import diffusion
        def f(s, x, t, e):
            out = []
            th = threading.Thread(target=lambda: out.append(diffusion.q_sample(s, x, t, e)))
            th.start(); th.join()
            return out[0]
    """,
    "through_another_reference": """
        from coursekit import diffusion as D
        def f(s, x, t, e):
            return D.ddpm_loss(lambda xt, tt: xt, s, x, t=t, noise=e)
    """,
}


@pytest.mark.parametrize("case", sorted(BORROWED))
def test_no_reference_fails_whenever_the_reference_runs(case):
    f = _namespace(BORROWED[case])["f"]
    original = D.q_sample
    with pytest.raises(AssertionError, match=r"called coursekit\.diffusion\.q_sample.*请自己实现"):
        with grading.no_reference(f, "q_sample"):
            f(S, X, T, E)
    assert D.q_sample is original and sys.getprofile() is None          # nothing left patched or hooked


ALLOWED = {
    "readme_style": """
        import torch
        from coursekit import nets, train
        def q_sample(alpha_bars, x0, t, noise):
            a = alpha_bars[t - 1].reshape(-1, *([1] * (x0.ndim - 1)))
            return a.sqrt() * x0 + (1 - a).sqrt() * noise
        def ddpm_loss(model, alpha_bars, x0, t, noise):
            return ((noise - model(q_sample(alpha_bars, x0, t, noise), t)) ** 2).mean()
        def sample(model, n):                 # a function named like the reference
            return torch.distributions.Normal(0.0, 1.0).sample((n, 2))
        def f(s, x, t, e):
            train.seed_everything(0)
            model = nets.MLPDenoiser(2, hidden=8, depth=1, time_dim=8)
            return ddpm_loss(model, s.alpha_bars, x, t, e) + 0 * sample(model, 2).sum()
    """,
    "module_import_style": """
        import coursekit.nets as N
        import coursekit.diffusion as D
        from coursekit.data import sample_2d
        def f(s, x, t, e):
            sched = D.make_schedule("linear", 10)          # another reference is allowed here
            m = N.MLPDenoiser(2, hidden=8, depth=1, time_dim=8)
            a = sched.alpha_bars[t - 1][:, None]
            return m(a.sqrt() * sample_2d("ring8", len(t), seed=0) + (1 - a).sqrt() * e, t)
    """,
}


@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_no_reference_lets_allowed_coursekit_use_pass(case):
    f = _namespace(ALLOWED[case])["f"]
    with grading.no_reference(f, "q_sample", "ddpm_loss", "sample", "p_sample_step"):
        out = f(S, X, T, E)
    assert isinstance(out, torch.Tensor)


def test_no_reference_other_modules_and_classes():
    ns = _namespace("""
        import torch
        from coursekit.vae import gaussian_kl as g
        import coursekit.vae as VV
        import coursekit.autoregressive as AR
        def borrowed(mu, lv):
            return g(mu, lv)
        def also_borrowed(mu, lv):
            return VV.gaussian_kl(mu, lv)
        def own(mu, lv):
            z = VV.reparameterize(mu, lv)                      # allowed in this part
            return 0.5 * (mu ** 2 + lv.exp() - 1 - lv).sum(-1) + 0 * z.sum()
        def uses_class():
            return AR.MaskedConv2d(1, 4, 3, mask_type="A")
    """)
    mu, lv = torch.randn(3, 4), torch.randn(3, 4)
    for name in ("borrowed", "also_borrowed"):
        with pytest.raises(AssertionError, match=r"coursekit\.vae\.gaussian_kl"):
            with grading.no_reference(ns[name], "gaussian_kl", module="vae"):
                ns[name](mu, lv)
    with grading.no_reference(ns["own"], "gaussian_kl", module="vae"):
        ns["own"](mu, lv)
    with pytest.raises(AssertionError, match=r"coursekit\.autoregressive\.MaskedConv2d"):
        with grading.no_reference(ns["uses_class"], "MaskedConv2d", module="autoregressive"):
            ns["uses_class"]()
    with pytest.raises(ValueError, match="names"):
        grading.no_reference(ns["own"], "NO_SUCH", module="vae").__enter__()
    with pytest.raises(ValueError, match="names"):
        grading.no_reference(ns["own"]).__enter__()


def test_no_reference_blocks_nest_and_cannot_be_switched_off():
    ns = _namespace(BORROWED["direct"])
    with pytest.raises(AssertionError, match="q_sample"):            # the outer block still watches
        with grading.no_reference(ns["f"], "q_sample"), grading.no_reference(ns["f"], "ddpm_loss"):
            ns["f"](S, X, T, E)
    assert sys.getprofile() is None

    def off():
        sys.setprofile(None)
    with pytest.raises(AssertionError, match="switched off"):
        with grading.no_reference(off, "q_sample"):
            off()
    assert sys.getprofile() is None


def test_a_failing_block_keeps_its_own_error():
    def broken():
        raise ZeroDivisionError
    with pytest.raises(ZeroDivisionError):
        with grading.no_reference(broken, "q_sample"):
            broken()
    assert sys.getprofile() is None


# --- structure checks ---------------------------------------------------------------------------------------

def test_call_recorder_records_steps_and_inputs():
    rec = grading.CallRecorder(lambda x, t: torch.zeros_like(x))
    x = torch.randn(3, 2)
    for step in (3, 2, 1):
        x = x + rec(x, torch.full((3,), step))
    assert rec.steps() == [3, 2, 1] and len(rec.inputs()) == 3
    grading.check_countdown(rec.steps(), 3)
    x0 = torch.zeros(3, 2)
    rec(x0, torch.full((3,), 5))
    x0.add_(1.0)                                                        # copies, not views of the caller's x
    assert float(rec.inputs()[-1].abs().sum()) == 0.0
    rec(torch.zeros(2, 2), t=torch.tensor([1, 2]))
    with pytest.raises(AssertionError, match="mixed"):
        rec.steps()


@pytest.mark.parametrize("steps, hint", [
    ([4, 3, 2], "t = 1 is missing"),
    ([3, 2, 1, 0], "t = 0"),
    ([1, 2, 3, 4], "count down"),
    ([4, 4, 3, 2, 1], "more than once"),
])
def test_check_countdown_names_the_mistake(steps, hint):
    with pytest.raises(AssertionError, match=hint):
        grading.check_countdown(steps, 4, name="sample_model")


def test_expect_close_names_the_likely_mistake():
    want, wrong = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0])
    grading.expect_close(want + 1e-7, want, "x")
    with pytest.raises(AssertionError, match="Likely: off by one"):
        grading.expect_close(wrong, want, "x", {"off by one": wrong})
    with pytest.raises(AssertionError, match="数值不对"):
        grading.expect_close(wrong + 5, want, "x", {"off by one": wrong})
    with pytest.raises(AssertionError, match="broadcast"):
        grading.expect_close(torch.zeros(2, 1), want, "x")
    with pytest.raises(AssertionError, match="torch.Tensor"):
        grading.expect_close([1.0, 2.0], want, "x")


def test_assert_close_ends_with_the_hint():
    with pytest.raises(AssertionError, match=r"values differ .*\. t − 1 passed\? / 传了 t − 1？$"):
        grading.assert_close(torch.ones(2), torch.zeros(2), "x", hint="t − 1 passed? / 传了 t − 1？")
    with pytest.raises(AssertionError, match="形状不对. a hint"):
        grading.assert_close(torch.ones(3), torch.zeros(2), "x", hint="a hint")


def test_replaced_restores_the_students_names():
    from coursekit.grading.checks import replaced
    namespace = {"d_loss": "yours", "other": 1}
    with replaced(namespace, d_loss="reference", helper="added"):
        assert namespace == {"d_loss": "reference", "other": 1, "helper": "added"}
    assert namespace == {"d_loss": "yours", "other": 1}
    with pytest.raises(ZeroDivisionError), replaced(namespace, d_loss="reference"):
        raise ZeroDivisionError
    assert namespace == {"d_loss": "yours", "other": 1}
