"""Grading that cannot fail silently: before a class is graded, the instructor's own solution is graded in the same
sandbox, by the same preprocessors; grading stops with one line naming the cause unless it gets full autograded
marks.

Why: copy the course folder to a grading directory (coursekit installed editable from the original clone) and
``nbgrader autograde`` used to exit 0 with every part of every submission — the reference solution's included —
scored 0: the sandbox showed the copy's ``coursekit/`` while the kernel's interpreter imports the editable
install's, so every kernel failed its set-up cell. The sandbox now asks the kernel's interpreter what it imports
(:func:`coursekit.grading.sandbox.kernel_imports`); the preflight catches whatever else makes a correct
submission lose marks (a missing package in the kernel's environment, limits too tight for the machine, a cell
timeout too short for a slow grader, a solution that no longer passes its own tests).

The solution notebook (``<source_directory>/<assignment>/*.ipynb``, hidden tests included) is executed as a
submission would be: in a copy of its folder, by the Execute preprocessor nbgrader_config.py configures (the
sandboxed kernel, the per-cell timeouts), then IgnorePattern; each autograded test cell is scored by nbgrader's
own rule (:func:`nbgrader.utils.determine_grade`). A pass is cached in ``.coursekit/preflight/<assignment>.json``
under a digest of everything it depends on (the source folder, nbgrader_config.py, the effective configuration of
execution and scoring, the kernel's interpreter and what it imports, the coursekit files it would load, the timeout
scale), so re-grading one student costs nothing extra; any change runs it again.

``COURSEKIT_PREFLIGHT=0`` skips it (said on stderr each time).

    python -m coursekit.grading.preflight [ROOT] ASSIGNMENT     # what `coursekit grade autograde` runs first
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import diagnosis, sandbox

ENV = "COURSEKIT_PREFLIGHT"
DONE_ENV = "COURSEKIT_PREFLIGHT_DONE"        # digests that passed in a parent process (parallel workers)
_PASSED: set[str] = set()                    # digests that passed in this process


class PreflightFailed(RuntimeError):
    """The instructor's solution does not get full autograded marks in the grading sandbox (one line)."""


@dataclass
class Result:
    assignment: str
    score: float
    max_score: float
    digest: str
    cached: bool


def skipped() -> bool:
    """True when the instructor switched the preflight off (COURSEKIT_PREFLIGHT=0); says so on stderr."""
    if os.environ.get(ENV, "") == "0":
        print(f"coursekit: preflight skipped ({ENV}=0): a broken grading set-up would score every part 0",
              file=sys.stderr)
        return True
    return False


def _config_section(config, name: str):
    try:
        return config[name] if name in config else None
    except TypeError:                          # a plain namespace in tests
        return getattr(config, name, None)


def execute_class(config):
    """The Execute preprocessor nbgrader_config.py puts in Autograde (the sandboxed one); nbgrader's otherwise."""
    from nbgrader.preprocessors import Execute

    section = _config_section(config, "Autograde") if config is not None else None
    for p in (section.get("autograde_preprocessors", []) if section is not None else []):
        if isinstance(p, type) and issubclass(p, Execute):
            return p
    return Execute


def _files_digest(h, folder: Path, suffixes: tuple[str, ...] | None = None) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and (suffixes is None or path.suffix in suffixes):
            h.update(str(path.relative_to(folder)).encode())
            h.update(path.read_bytes())


def kernel_python(notebook: dict) -> str:
    """The interpreter of the notebook's kernel (its kernelspec's argv[0]; this interpreter for python3)."""
    name = notebook.get("metadata", {}).get("kernelspec", {}).get("name", "python3")
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        argv = KernelSpecManager().get_kernel_spec(name).argv
        python = argv[0]
        return sys.executable if python in ("python", "python3", "{python}") else python
    except Exception:
        return sys.executable


# the configuration sections that decide how a notebook is executed and scored (not which student, not --force)
SECTIONS = ("Execute", "CappedExecute", "ExecutePreprocessor", "NotebookClient", "SandboxKernelManager",
            "KernelManager", "AsyncKernelManager", "IgnorePattern", "LimitOutput", "ClearOutput")


def _stable(value) -> str:
    """A representation without memory addresses (functions and classes by module and name)."""
    if isinstance(value, type) or callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__name__)}"
    return re.sub(r" at 0x[0-9a-f]+", "", repr(value))


def config_fingerprint(config) -> str:
    """The effective settings of the sections in SECTIONS and Autograde's preprocessor lists, as text."""
    if config is None:
        return ""
    out = {}
    for name in SECTIONS:
        section = _config_section(config, name)
        if section:
            out[name] = {k: _stable(v) for k, v in sorted(section.items())}
    autograde = _config_section(config, "Autograde")
    if autograde:
        out["Autograde"] = {k: [_stable(p) for p in autograde.get(k, [])]
                            for k in ("sanitize_preprocessors", "autograde_preprocessors")}
    return json.dumps(out, sort_keys=True)


def digest(root: Path, assignment: str, source_directory: str, python: str,
           packages: tuple[str, ...] = ("coursekit",), config=None) -> str:
    """What a preflight result depends on, hashed: the source folder, nbgrader_config.py (the code of its
    functions too), the effective configuration of execution and scoring, the timeout scale, whether it is
    sandboxed, the kernel's interpreter and what it imports, and the files of the coursekit it imports."""
    h = hashlib.sha256()
    _files_digest(h, root / source_directory / assignment)
    config_file = root / "nbgrader_config.py"
    h.update(config_file.read_bytes() if config_file.is_file() else b"")
    h.update(config_fingerprint(config).encode())
    for key in ("COURSEKIT_TIMEOUT_SCALE", sandbox.UNSAFE_ENV):
        h.update(f"{key}={os.environ.get(key, '')}".encode())
    h.update(sandbox.check().encode())          # sandboxed or not
    seen = sandbox.kernel_imports(python, os.environ.get("PYTHONPATH", ""), packages, os.environ.get("PATH", ""))
    h.update(python.encode())
    h.update(json.dumps({k: seen[k] for k in ("prefixes", "packages", "dists") if k in seen}).encode())
    for places in seen["packages"].values():
        for place in places:
            if Path(place).is_dir():
                _files_digest(h, Path(place), (".py", ".pt", ".json", ".npz"))
    return h.hexdigest()


def _cache_file(root: Path, assignment: str) -> Path:
    return root / ".coursekit" / "preflight" / f"{assignment}.json"


def _execute(path: Path, work: Path, config) -> dict:
    """Run one solution notebook in ``work`` as nbgrader's Autograde would: (executed notebook, error or None)."""
    import nbformat
    from nbgrader.preprocessors import ClearOutput, IgnorePattern

    nb = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(work)}}
    nb, resources = ClearOutput().preprocess(nb, resources)
    execute = execute_class(config)(config=config) if config is not None else execute_class(config)()
    crash = None
    try:
        nb, resources = execute.preprocess(nb, resources)
    except Exception as err:                    # the kernel died or could not start: the cause is the message
        crash = f"{getattr(execute, '_running', None) or 'start'}: {type(err).__name__}: " \
                f"{diagnosis.first_line(str(err))}"
    ignore = IgnorePattern(config=config) if config is not None else IgnorePattern()
    nb, resources = ignore.preprocess(nb, resources)
    return {"nb": nb, "crash": crash}


def _score(nb) -> tuple[float, float, list[str]]:
    """(score, max, failures) of the autograded test cells, by nbgrader's rule."""
    from nbgrader import utils

    score = total = 0.0
    failures = []
    for cell in nb.cells:
        if not diagnosis.is_test(cell):
            continue
        got, most = utils.determine_grade(cell)
        got = 0.0 if got is None else float(got)
        score, total = score + got, total + float(most)
        if got < float(most):
            failures.append(cell.metadata["nbgrader"]["grade_id"])
    return score, total, failures


def _cause(nb, crash: str | None) -> str:
    """One phrase naming why the solution lost marks: the first cell that failed, in notebook order."""
    if crash:
        return f"the kernel failed in cell {crash}"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        gid = cell.metadata.get("nbgrader", {}).get("grade_id") or f"#{index}"
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                text = f"cell {gid}: {out.get('ename')}: {diagnosis.first_line(out.get('evalue', ''))}".rstrip(": ")
                said = str(out.get("evalue")) + "".join(out.get("traceback", []))
                if out.get("ename") in ("ModuleNotFoundError", "ImportError"):
                    missing = "coursekit" if "coursekit" in said else "a package"
                    text += f" (the kernel cannot import {missing} inside the grading sandbox)"
                if out.get("ename") in diagnosis.TIMEOUT_ERRORS:
                    text += " (a cell timeout too short for this machine? COURSEKIT_TIMEOUT_SCALE scales them)"
                return text
            if out.get("output_type") == "stream" and out.get("name") == "stderr" and diagnosis.is_test(cell):
                return f"cell {gid} wrote to stderr: {diagnosis.first_line(out.get('text', ''))}"
    return "no cell shows an error"


def preflight(root: str | Path, assignment: str, config=None, source_directory: str = "solutions",
              use_cache: bool = True) -> Result:
    """Grade the solution of ``assignment`` in the sandbox; :class:`PreflightFailed` unless full autograded marks.

    ``config``: nbgrader's configuration (traitlets Config) — the one nbgrader_config.py builds — whose Execute
    preprocessor, timeouts and sandbox limits are used. Returns the result (``cached`` when an earlier pass with
    the same digest made running it again unnecessary)."""
    root = Path(root).resolve()
    folder = root / source_directory / assignment
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise PreflightFailed(f"refusing to grade {assignment}: no solution notebook in {folder} to check the "
                              "grading set-up with")
    import nbformat

    python = kernel_python(nbformat.read(notebooks[0], as_version=4))
    try:
        key = digest(root, assignment, source_directory, python, config=config)
    except sandbox.KernelProbeError as err:
        raise PreflightFailed(f"refusing to grade {assignment}: {err}") from err
    cache = _cache_file(root, assignment)
    if use_cache and (key in _PASSED or key in os.environ.get(DONE_ENV, "").split(",")):
        return Result(assignment, -1, -1, key, True)
    if use_cache and cache.is_file():
        try:
            saved = json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = {}
        if saved.get("digest") == key:
            _PASSED.add(key)
            return Result(assignment, saved["score"], saved["max_score"], key, True)
    score = total = 0.0
    with tempfile.TemporaryDirectory(prefix="ck-preflight-") as tmp:
        work = Path(tmp) / "autograded" / "instructor" / assignment       # the shape of a student's folder
        shutil.copytree(folder, work)
        for path in notebooks:
            run = _execute(work / path.name, work, config)
            got, most, failures = _score(run["nb"])
            score, total = score + got, total + most
            if failures or run["crash"]:
                raise PreflightFailed(
                    f"refusing to grade {assignment}: the instructor's solution "
                    f"({path.relative_to(root)}) scores {got:g} of {most:g} autograded points in the grading "
                    f"sandbox; first failure: {_cause(run['nb'], run['crash'])}")
    _PASSED.add(key)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp_cache = cache.with_suffix(".tmp")
    tmp_cache.write_text(json.dumps({"digest": key, "score": score, "max_score": total}), encoding="utf-8")
    os.replace(tmp_cache, cache)
    return Result(assignment, score, total, key, False)


def before_autograde() -> None:
    """Called by nbgrader_config.py in a ``nbgrader autograde`` process: the preflight runs when nbgrader's
    AutogradeApp starts, with its complete configuration (this file, other config files, the command line), and
    exits with ``nbgrader autograde: <the one line>`` before anyone is graded. (Run while the file is read, it
    would miss whatever is configured after that point.) Idempotent: nbgrader reads the file more than once."""
    from nbgrader.apps.autogradeapp import AutogradeApp

    if getattr(AutogradeApp.start, "_coursekit_preflight", False):
        return
    original = AutogradeApp.start

    def start(app) -> None:
        _app_hook(app)
        original(app)

    start._coursekit_preflight = True
    AutogradeApp.start = start


def _app_hook(app) -> None:
    if skipped():
        return
    coursedir = app.coursedir
    root = Path(coursedir.root)
    assignments = [app.extra_args[0]] if app.extra_args else [coursedir.assignment_id] if coursedir.assignment_id \
        else []
    for assignment in assignments:
        if not (root / coursedir.source_directory / assignment).is_dir():
            continue                              # nbgrader says what is wrong with the name itself
        try:
            preflight(root, assignment, config=app.config, source_directory=coursedir.source_directory)
        except PreflightFailed as err:
            sys.exit(f"nbgrader autograde: {err}")
        except Exception as err:                 # the check itself broke: say so rather than grade unchecked
            sys.exit(f"nbgrader autograde: the preflight could not run: {type(err).__name__}: {err}")


def load_config(root: Path):
    """nbgrader's configuration as nbgrader builds it in ``root`` (Jupyter's config folders, then
    ``root``/nbgrader_config.py), as the Formgrader extension loads it."""
    from nbgrader.apps.baseapp import NbGrader

    cwd = os.getcwd()
    sys.path.insert(0, str(root))             # as nbgrader has it while it reads the file
    try:
        os.chdir(root)
        app = NbGrader()
        app.load_config_file()
        return app.config
    finally:
        os.chdir(cwd)
        sys.path.remove(str(root))


def run_subprocess(root: str | Path, assignment: str, unsafe: bool = False) -> str:
    """The preflight in its own process (it reads nbgrader_config.py as nbgrader does, environment and all);
    returns the digest that passed (cached on disk after the first pass). PreflightFailed (one line) otherwise."""
    import subprocess

    env = dict(os.environ)
    if unsafe:
        env[sandbox.UNSAFE_ENV] = "1"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.run([sys.executable, "-m", "coursekit.grading.preflight", str(root), assignment],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        raise PreflightFailed(lines[-1] if lines else f"the preflight failed ({proc.returncode})")
    return proc.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    """``python -m coursekit.grading.preflight [ROOT] ASSIGNMENT``: 0 and the digest on stdout when the solution
    gets full marks; 1 and the one-line cause on stderr otherwise."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m coursekit.grading.preflight [ROOT] ASSIGNMENT", file=sys.stderr)
        return 2
    root, assignment = (Path(args[0]), args[1]) if len(args) == 2 else (Path("."), args[0])
    root = root.resolve()
    os.chdir(root)
    config = load_config(root)
    section = _config_section(config, "CourseDirectory")
    source_directory = (section.get("source_directory") if section is not None else None) or "source"
    try:
        result = preflight(root, assignment, config=config, source_directory=source_directory)
    except PreflightFailed as err:
        print(err, file=sys.stderr)
        return 1
    print(result.digest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
