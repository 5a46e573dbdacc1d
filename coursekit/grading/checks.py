"""Grading helpers that run inside a graded notebook (hidden tests import these; they hold no solution).

- :func:`assert_close`   compare with float32 tolerances in plain Python (a submission that rebinds
  ``numpy.allclose`` / ``torch.allclose`` / ``torch.testing.assert_close`` cannot change the verdict)
- :func:`expect_close`   a visible test's comparison that names the likely mistake in both languages
- :func:`private_copy`   this module loaded afresh from its file (what hidden tests compare with)
- :func:`reference`      ``coursekit.<module>.<name>`` from a fresh private copy of the package, so a
  submission that rebinds ``coursekit.<module>.*`` cannot change the expected values
- :func:`no_reference`   fails a part when the reference ``coursekit.<module>.<name>`` *runs* during the block,
  however it was imported (judged by code object, through a profiler hook; names in the code do not matter)
- :class:`CallRecorder`  wraps a model and records each call's inputs (structure checks: t = T, …, 1 once each,
  the model fed x_t); :func:`check_countdown` turns the recorded steps into a diagnosis
- :func:`time_limit`     per-cell guard for training cells (SIGALRM; the kernel survives)
- :func:`replaced`       bind names in a notebook's globals inside a block, then restore them (tests leave a
  student's names alone)

This file imports only the standard library and torch, so :func:`private_copy` can load it on its own.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import inspect
import math
import os
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch

PACKAGE_DIR = Path(__file__).resolve().parent.parent      # the coursekit package folder


def _flat(value: object, name: str) -> tuple[tuple[int, ...], list[float]]:
    if not isinstance(value, torch.Tensor):
        raise AssertionError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    data = value.detach().to("cpu", torch.float64)
    return tuple(data.shape), data.reshape(-1).tolist()


def max_abs_error(actual: object, expected: torch.Tensor, name: str = "result") -> float:
    """max |actual − expected| computed in plain Python floats; AssertionError on a type or shape mismatch."""
    shape_a, a = _flat(actual, name)
    shape_e, e = _flat(expected, "expected")
    if shape_a != shape_e:
        raise AssertionError(f"{name} has shape {shape_a}, expected {shape_e}")
    worst = 0.0
    for x, y in zip(a, e):
        if x != x or y != y:                        # NaN never matches (NaN != NaN in plain Python)
            return math.inf
        worst = max(worst, abs(x - y))
    return worst


def assert_close(actual: object, expected: torch.Tensor, name: str = "result", atol: float = 1e-5,
                 rtol: float = 1e-4, hint: str = "") -> None:
    """AssertionError unless |actual − expected| ≤ atol + rtol·|expected| everywhere (float32 tolerances).
    ``hint`` (a likely cause, in both languages) ends the message: a hidden test's message reaches the student."""
    shape_a, a = _flat(actual, name)
    shape_e, e = _flat(expected, "expected")
    tail = f". {hint}" if hint else ""
    if shape_a != shape_e:
        raise AssertionError(f"{name} has shape {shape_a}, expected {shape_e} / {name} 的形状不对{tail}")
    bad = sum(1 for x, y in zip(a, e) if not abs(x - y) <= atol + rtol * abs(y))   # NaN counts as bad
    if bad:
        raise AssertionError(f"{name}: {bad} of {len(e)} values differ from the expected ones "
                             f"(max error {max_abs_error(actual, expected, name):.3g}){tail}")


def expect_close(actual: object, expected: torch.Tensor, name: str = "result",
                 mistakes: dict[str, torch.Tensor] | None = None, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """A visible test's comparison: AssertionError naming the likely mistake, in both languages.

    ``mistakes`` maps a hint (``"ᾱ_{t−1} used where ᾱ_t is needed? / 用成了 ᾱ_{t−1}？"``) to what that mistake
    would have returned; the first one ``actual`` matches is named in the message.
    """
    if not isinstance(actual, torch.Tensor):
        raise AssertionError(f"{name} must be a torch.Tensor, got {type(actual).__name__} / {name} 应是 torch.Tensor")
    if tuple(actual.shape) != tuple(expected.shape):
        raise AssertionError(f"{name} has shape {tuple(actual.shape)}, expected {tuple(expected.shape)}: a wrong "
                             f"broadcast over (B, 1, H, W)? / {name} 的形状不对：广播写错了吗？")
    try:
        assert_close(actual, expected, name, atol=atol, rtol=rtol)
        return
    except AssertionError as err:
        message = str(err)
    for hint, wrong in (mistakes or {}).items():
        if tuple(wrong.shape) == tuple(actual.shape) and max_abs_error(actual, wrong) <= atol + rtol * float(
                wrong.detach().abs().max()):
            raise AssertionError(f"{message}. Likely: {hint}")
    raise AssertionError(f"{message} / {name} 的数值不对")


def check_untampered() -> None:
    """AssertionError unless :func:`assert_close` still tells different tensors apart (a tripwire for
    submissions that patch what it is built on, e.g. ``torch.Tensor.tolist``)."""
    try:
        assert_close(torch.zeros(3), torch.ones(3), name="self-check")
    except AssertionError:
        return
    raise AssertionError("the comparison was tampered with")


def _fresh_package() -> str:
    """Load a fresh, private copy of the coursekit package source; returns its name in ``sys.modules``."""
    prefix = "_coursekit_reference"
    for key in [k for k in sys.modules if k == prefix or k.startswith(prefix + ".")]:
        del sys.modules[key]
    root_spec = importlib.util.spec_from_file_location(prefix, PACKAGE_DIR / "__init__.py",
                                                       submodule_search_locations=[str(PACKAGE_DIR)])
    root = importlib.util.module_from_spec(root_spec)
    sys.modules[prefix] = root
    root_spec.loader.exec_module(root)
    return prefix


def _check_module(module: str) -> str:
    if not isinstance(module, str) or not module or not all(p.isidentifier() for p in module.split(".")):
        raise ValueError(f"module must be a coursekit submodule name such as 'diffusion' or 'gan.losses', "
                         f"got {module!r}")
    return module


def reference_module(module: str = "diffusion") -> types.ModuleType:
    """``coursekit.<module>`` from a fresh, private copy of the package source."""
    return importlib.import_module(_fresh_package() + "." + _check_module(module))


def reference(name: str, module: str = "diffusion") -> Callable:
    """``coursekit.<module>.<name>`` from a fresh, private copy of the package source, so a submission that
    rebinds ``coursekit.<module>.*`` cannot change the expected values. ``name`` may be dotted
    (``"PixelCNN.forward"``); ``module`` may be dotted too (``"gan.losses"``)."""
    value: object = reference_module(module)
    for part in name.split("."):
        if not hasattr(value, part):
            raise ValueError(f"name: coursekit.{module} has no {name!r}")
        value = getattr(value, part)
    return value


def private_copy() -> types.ModuleType:
    """A fresh copy of this module, loaded from its file: hidden tests compare with it, so a submission that
    rebinds ``coursekit.grading.assert_close`` (or anything else here) does not change the verdict."""
    spec = importlib.util.spec_from_file_location("_coursekit_grading_private", Path(__file__).resolve())
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def replaced(namespace: dict, **values: object) -> Iterator[None]:
    """Bind ``values`` in ``namespace`` (a notebook's ``globals()``) inside the block, then put back exactly what
    was there (a name that did not exist is removed again). A test that grades one part with correct versions of
    the earlier parts swaps them in this way, and the student's own names come back afterwards."""
    missing = object()
    saved = {name: namespace.get(name, missing) for name in values}
    namespace.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


# --- reference use, judged by what runs ---------------------------------------------------------------------

def _codes_of(value: object) -> list[types.CodeType]:
    """The code objects that run when ``value`` (a function, a method or a class) is used."""
    value = getattr(value, "__func__", value)                   # bound and class methods
    try:
        value = inspect.unwrap(value)                           # @torch.no_grad(), functools.wraps
    except ValueError:
        pass
    if isinstance(value, types.FunctionType):
        return [value.__code__]
    if isinstance(value, type):
        codes = []
        for attr in vars(value).values():
            if isinstance(attr, property):
                attr = attr.fget
            if isinstance(attr, (staticmethod, classmethod)):
                attr = attr.__func__
            if isinstance(attr, types.FunctionType):
                codes += _codes_of(attr)
        return codes
    return []


def reference_codes(names: Iterable[str], module: str = "diffusion") -> dict[str, list[types.CodeType]]:
    """{name: code objects of coursekit.<module>.<name>}, from a private copy of the package.

    Code objects compare equal when compiled from the same source (the file name is not compared), so they
    identify the reference however it was imported, aliased or even re-loaded by a submission.
    """
    mod = reference_module(module)
    found = {}
    for name in names:
        value: object = mod
        for part in name.split("."):
            if not hasattr(value, part):
                raise ValueError(f"names: coursekit.{module} has no {name!r}")
            value = getattr(value, part)
        codes = _codes_of(value)
        if not codes:
            raise ValueError(f"names: coursekit.{module}.{name} is not a function, method or class")
        found[name] = codes
    return found


class _Watch:
    """A profiler hook (``sys.setprofile`` and ``threading.setprofile``) that records each call of a watched
    code object, whatever name or binding reached it."""

    def __init__(self, codes: dict[str, list[types.CodeType]], outer: Callable | None = None):
        self.outer = outer                                      # an enclosing no_reference block keeps watching
        self.by_name: dict[str, list[tuple[types.CodeType, str]]] = {}
        for label, code_list in codes.items():
            for code in code_list:
                self.by_name.setdefault(code.co_name, []).append((code, label))
        self.hits: list[str] = []

    def __call__(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            for ref, label in self.by_name.get(code.co_name, ()):
                if code == ref:
                    self.hits.append(label)
        if self.outer is not None:
            self.outer(frame, event, arg)
        return None


@contextlib.contextmanager
def no_reference(fn: Callable, *names: str, module: str = "diffusion") -> Iterator[None]:
    """Fail (AssertionError) when the reference ``coursekit.<module>.<name>`` runs inside the block.

    Judged by what runs, never by which names appear: every Python call in the block (and in threads it
    starts) is compared with the reference's code objects, so ``from coursekit.vae import gaussian_kl as g``,
    ``import coursekit.vae as V``, a helper, a lambda or a method all count, while allowed coursekit use
    (``nets.MLPDenoiser``, ``train.fit``, ``data.sample_2d``) costs nothing. ``fn`` names the part in the
    message. Compute expected values with :func:`reference` outside the block: inside, they would count.
    """
    if not names:
        raise ValueError("names: give at least one reference name")
    previous, previous_thread = sys.getprofile(), threading.getprofile()
    watch = _Watch(reference_codes(names, module), outer=previous)
    threading.setprofile(watch)
    sys.setprofile(watch)
    try:
        yield
        removed = sys.getprofile() is not watch
    finally:
        sys.setprofile(previous)
        threading.setprofile(previous_thread)
    label = getattr(fn, "__name__", repr(fn))
    if watch.hits:
        first = watch.hits[0]
        why = reaches_reference(fn, names, module=module)
        raise AssertionError(
            f"{label} called coursekit.{module}.{first} ({watch.hits.count(first)} time(s)): write it yourself"
            + (f" — {why}" if why else "") + f" / {label} 调用了参考实现 coursekit.{module}.{first}：请自己实现")
    if removed:
        raise AssertionError(f"{label} switched off the grader's call check (sys.setprofile) / "
                             f"{label} 关闭了评分器的调用检查")


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def reaches_reference(fn: Callable, names: Iterable[str], _seen: set[int] | None = None,
                      _home: dict | None = None, module: str = "diffusion") -> str | None:
    """A description of how ``fn`` reaches coursekit.<module>.<name> for a name in ``names``, else None.

    Static, and only an explanation: :func:`no_reference` fails a part on what runs, then adds this text to
    its message. Follows the globals its code names (and the helper functions defined beside it), its default
    arguments and its closure, looking for the reference object itself.
    """
    mod = importlib.import_module("coursekit." + _check_module(module))
    names = set(names)
    targets = {id(getattr(mod, n)): n for n in names if hasattr(mod, n)}
    seen = _seen if _seen is not None else set()
    fn = getattr(fn, "func", fn)                                 # functools.partial
    if id(fn) in seen:
        return None
    seen.add(id(fn))
    if id(fn) in targets:
        return f"it is coursekit.{module}.{targets[id(fn)]}"
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    home = fn.__globals__ if _home is None else _home
    if fn.__globals__ is not home:                               # library code: not the submission's
        return None
    used = _code_names(code)
    values = [fn.__globals__.get(n) for n in used]
    values += list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
    values += [c.cell_contents for c in (fn.__closure__ or ()) if _cell_filled(c)]
    for value in values:
        if id(value) in targets:
            return f"it calls coursekit.{module}.{targets[id(value)]}"
        if isinstance(value, types.ModuleType) and any(id(getattr(value, n, None)) in targets for n in used & names):
            return f"it uses {value.__name__}.{sorted(used & names)[0]}"
        if isinstance(value, (types.FunctionType, functools.partial)):
            why = reaches_reference(value, names, seen, home, module)
            if why:
                return why
    return None


def _cell_filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


# --- structure: which calls a sampler or a loss made ----------------------------------------------------------

def _snapshot(value: object) -> object:
    return value.detach().to("cpu").clone() if isinstance(value, torch.Tensor) else value


class CallRecorder(torch.nn.Module):
    """Wraps a model and records every call's inputs (detached CPU copies), then calls the model.

        rec = CallRecorder(model)
        x = sample_model(rec, betas, alpha_bars, n=100)
        assert rec.steps() == list(range(T, 0, -1))      # t = T, …, 1, each exactly once
        rec.inputs(0)[0]                                  # the x the first call received (x_T)
    """

    def __init__(self, model: Callable):
        super().__init__()
        self.model = model
        self.calls: list[tuple[tuple, dict]] = []

    def forward(self, *args, **kwargs):
        self.calls.append((tuple(_snapshot(a) for a in args), {k: _snapshot(v) for k, v in kwargs.items()}))
        return self.model(*args, **kwargs)

    def argument(self, index: int, position: int, keyword: str | None = None) -> object:
        """The argument at ``position`` (or named ``keyword``) of call number ``index``."""
        args, kwargs = self.calls[index]
        if keyword is not None and keyword in kwargs:
            return kwargs[keyword]
        if position >= len(args):
            raise AssertionError(f"call {index} of the model had {len(args)} positional argument(s), "
                                 f"expected at least {position + 1} / 模型第 {index} 次调用的参数个数不对")
        return args[position]

    def inputs(self, position: int = 0, keyword: str | None = "x") -> list[object]:
        """The argument at ``position`` of every call (e.g. x_t)."""
        return [self.argument(i, position, keyword) for i in range(len(self.calls))]

    def steps(self, position: int = 1, keyword: str | None = "t") -> list[int]:
        """The step t of every call (AssertionError if one call mixes several t in its batch)."""
        out = []
        for i, t in enumerate(self.inputs(position, keyword)):
            values = sorted({int(v) for v in torch.as_tensor(t).reshape(-1).tolist()})
            if len(values) != 1:
                raise AssertionError(f"call {i} of the model mixed the steps {values[:5]} in one batch / "
                                     f"模型第 {i} 次调用在同一批中混用了不同的 t")
            out.append(values[0])
        return out


def check_countdown(steps: list[int], T: int, name: str = "the sampler") -> None:
    """AssertionError unless ``steps`` is T, T−1, …, 1 (Algorithm 2's loop), naming the likely mistake."""
    expected = list(range(T, 0, -1))
    if steps == expected:
        return
    hints = []
    if steps and steps[0] == T - 1:
        hints.append("the loop starts at T−1: range(T−1, …) or t = i for i < T? / 循环从 T−1 开始？")
    if 0 in steps:
        hints.append("the model was called at t = 0: steps run 1..T, not 0..T−1 / 模型在 t = 0 被调用：t 的范围是 1..T")
    if steps and 1 not in steps:
        hints.append("the last step t = 1 is missing (range(T, 1, -1)?) / 缺少最后一步 t = 1")
    if len(set(steps)) != len(steps):
        hints.append("some t were used more than once / 有的 t 被调用了不止一次")
    if steps and steps == sorted(steps) and len(steps) > 1:
        hints.append("t must count down from T to 1 / t 应该从 T 递减到 1")
    shown = steps if len(steps) <= 8 else steps[:4] + ["…"] + steps[-3:]
    raise AssertionError(f"{name} called the model at t = {shown} ({len(steps)} calls); expected T, …, 1 with "
                         f"T = {T}, each once / 期望依次调用 t = T, …, 1 各一次. " + " ".join(hints))


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the block after ``seconds`` (main thread, POSIX; elsewhere a no-op)."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    usable = hasattr(signal, "setitimer") and _is_main_thread()
    if not usable:
        yield
        return

    def handler(signum, frame):
        raise TimeoutError(f"this cell ran longer than its {seconds:.0f} s limit / "
                           f"这个单元格的运行时间超过了 {seconds:.0f} 秒的上限")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _is_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def cell_seconds(base: float) -> float:
    """A cell's time budget: ``base`` seconds times COURSEKIT_TIMEOUT_SCALE (the grader sets it; default 1)."""
    return base * float(os.environ.get("COURSEKIT_TIMEOUT_SCALE", "1") or 1)
