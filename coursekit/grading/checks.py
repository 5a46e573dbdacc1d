"""Grading helpers that run inside a graded notebook (hidden tests import these; they hold no solution).

- :func:`assert_close`   compare with float32 tolerances in plain Python (a submission that rebinds
  ``numpy.allclose`` / ``torch.allclose`` / ``torch.testing.assert_close`` cannot change the verdict)
- :func:`private_copy`   this module loaded afresh from its file (what hidden tests compare with)
- :func:`reference`      a coursekit.diffusion function from a fresh private copy of the package, so a
  submission that rebinds ``coursekit.diffusion.*`` cannot change the expected values
- :func:`no_reference`   fails a part whose function only calls the coursekit reference for itself
  (static: names the code reaches; dynamic: the reference is swapped for a counting stub during the call)
- :func:`time_limit`     per-cell guard for training cells (SIGALRM; the kernel survives)

This file imports only the standard library and torch, so :func:`private_copy` can load it on its own.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import math
import os
import signal
import sys
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
                 rtol: float = 1e-4) -> None:
    """AssertionError unless |actual − expected| ≤ atol + rtol·|expected| everywhere (float32 tolerances)."""
    shape_a, a = _flat(actual, name)
    shape_e, e = _flat(expected, "expected")
    if shape_a != shape_e:
        raise AssertionError(f"{name} has shape {shape_a}, expected {shape_e}")
    bad = sum(1 for x, y in zip(a, e) if not abs(x - y) <= atol + rtol * abs(y))   # NaN counts as bad
    if bad:
        raise AssertionError(f"{name}: {bad} of {len(e)} values differ from the expected ones "
                             f"(max error {max_abs_error(actual, expected, name):.3g})")


def check_untampered() -> None:
    """AssertionError unless :func:`assert_close` still tells different tensors apart (a tripwire for
    submissions that patch what it is built on, e.g. ``torch.Tensor.tolist``)."""
    try:
        assert_close(torch.zeros(3), torch.ones(3), name="self-check")
    except AssertionError:
        return
    raise AssertionError("the comparison was tampered with")


def reference(name: str) -> Callable:
    """``coursekit.diffusion.<name>`` loaded from a fresh, private copy of the package source."""
    prefix = "_coursekit_reference"
    for key in [k for k in sys.modules if k == prefix or k.startswith(prefix + ".")]:
        del sys.modules[key]
    root_spec = importlib.util.spec_from_file_location(prefix, PACKAGE_DIR / "__init__.py",
                                                       submodule_search_locations=[str(PACKAGE_DIR)])
    root = importlib.util.module_from_spec(root_spec)
    sys.modules[prefix] = root
    root_spec.loader.exec_module(root)
    module = importlib.import_module(prefix + ".diffusion")
    return getattr(module, name)


def private_copy() -> types.ModuleType:
    """A fresh copy of this module, loaded from its file: hidden tests compare with it, so a submission that
    rebinds ``coursekit.grading.assert_close`` (or anything else here) does not change the verdict."""
    spec = importlib.util.spec_from_file_location("_coursekit_grading_private", Path(__file__).resolve())
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference_objects(names: Iterable[str]) -> dict[str, list[tuple[types.ModuleType, object]]]:
    """Every (module, object) binding of coursekit.diffusion.<name> in the loaded coursekit modules."""
    import coursekit.diffusion as D

    found: dict[str, list[tuple[types.ModuleType, object]]] = {}
    for name in names:
        target = getattr(D, name)
        bindings = [(mod, target) for key, mod in list(sys.modules.items())
                    if key.startswith("coursekit.diffusion") and getattr(mod, name, None) is target]
        found[name] = bindings
    return found


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def reaches_reference(fn: Callable, names: Iterable[str], _seen: set[int] | None = None,
                      _home: dict | None = None) -> str | None:
    """A description of how ``fn`` reaches coursekit.diffusion.<name> for a name in ``names``, else None.

    Follows the globals its code names (and the helper functions defined beside it), its default
    arguments and its closure; a coursekit module reached together with one of the names counts.
    """
    import coursekit.diffusion as D

    names = set(names)
    targets = {id(getattr(D, n)): n for n in names}
    seen = _seen if _seen is not None else set()
    fn = getattr(fn, "func", fn)                                 # functools.partial
    if id(fn) in seen:
        return None
    seen.add(id(fn))
    if id(fn) in targets:
        return f"it is coursekit.diffusion.{targets[id(fn)]}"
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    home = fn.__globals__ if _home is None else _home
    if fn.__globals__ is not home:                               # library code: not the submission's
        return None
    values = [getattr(fn, "__globals__", {}).get(n) for n in _code_names(code)]
    values += list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
    values += [c.cell_contents for c in (fn.__closure__ or ()) if _cell_filled(c)]
    used = _code_names(code)
    for value in values:
        if id(value) in targets:
            return f"it calls coursekit.diffusion.{targets[id(value)]}"
        if isinstance(value, types.ModuleType) and value.__name__.split(".")[0] == "coursekit" and used & names:
            return f"it uses {value.__name__}.{sorted(used & names)[0]}"
        if isinstance(value, (types.FunctionType, functools.partial)):
            why = reaches_reference(value, names, seen, home)
            if why:
                return why
    return None


def _cell_filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


@contextlib.contextmanager
def no_reference(fn: Callable, *names: str) -> Iterator[None]:
    """Fail (AssertionError) when ``fn`` only calls coursekit.diffusion.<name> for the part it should write.

    Checked twice: statically (:func:`reaches_reference`) before the block, and dynamically: inside the
    block each reference is replaced, wherever coursekit binds it, by a stub that counts calls and then
    defers to the original (so an ``except`` in the submission cannot hide the call).
    """
    why = reaches_reference(fn, names)
    if why:
        raise AssertionError(f"{getattr(fn, '__name__', fn)} must be written, not borrowed from coursekit: {why}")
    calls: list[str] = []
    bindings = _reference_objects(names)

    def stub_for(name: str, original: Callable) -> Callable:
        @functools.wraps(original)
        def stub(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)
        return stub

    for name, pairs in bindings.items():
        for mod, original in pairs:
            setattr(mod, name, stub_for(name, original))
    try:
        yield
    finally:
        for name, pairs in bindings.items():
            for mod, original in pairs:
                setattr(mod, name, original)
    if calls:
        raise AssertionError(f"{getattr(fn, '__name__', fn)} called coursekit.diffusion.{calls[0]}: "
                             "write it yourself")


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
        raise TimeoutError(f"this cell ran longer than its {seconds:.0f} s limit")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _is_main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def cell_seconds(base: float) -> float:
    """A cell's time budget: ``base`` seconds times COURSEKIT_TIMEOUT_SCALE (the grader sets it; default 1)."""
    return base * float(os.environ.get("COURSEKIT_TIMEOUT_SCALE", "1") or 1)
