"""``nbgrader autograde`` across the CPU cores, with scores identical to the sequential command."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import preflight, sandbox
from .execution import _config_value, _nbgrader, _students, scores


def _grade_batch(root: str, assignment: str, students: list[str], work: str,
                 unsafe: bool = False, preflight_done: str = "") -> list[tuple[str, Path | None]]:
    """Worker: autograde a few students in a private copy of the course (own gradebook, one nbgrader process,
    a kernel per student as nbgrader does, each in its sandbox: the copy is no more visible to it than the
    course). Returns (student, executed folder or None when nbgrader failed it)."""
    root_p, work_p = Path(root), Path(work)
    work_p.mkdir(parents=True)
    shutil.copy2(root_p / "nbgrader_config.py", work_p / "nbgrader_config.py")
    shutil.copy2(root_p / "gradebook.db", work_p / "gradebook.db")
    source_dir = _config_value(root_p, "source_directory", "source")
    shutil.copytree(root_p / source_dir / assignment, work_p / source_dir / assignment)
    for student in students:
        shutil.copytree(root_p / "submitted" / student / assignment, work_p / "submitted" / student / assignment)
    env = _env(unsafe, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("COURSEKIT_RECORD_EXECUTED", None)
    if preflight_done:                        # the copy's digest equals the course's: no second preflight
        env["COURSEKIT_PREFLIGHT_DONE"] = preflight_done
    _nbgrader(["autograde", assignment, "--force"], cwd=work_p, env=env, check=False)
    executed = [(s, work_p / "autograded" / s / assignment) for s in students]
    return [(s, path if path.is_dir() else None) for s, path in executed]


def _env(unsafe: bool, **extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    if unsafe:
        env[sandbox.UNSAFE_ENV] = "1"
    return env


def autograde_parallel(root: str | Path, assignment: str, students: list[str] | None = None,
                       workers: int | None = None, unsafe: bool = False,
                       preflight_done: str = "") -> dict[str, dict[str, float]]:
    """Autograde every submitted student of ``assignment`` across ``workers`` processes.

    Students are executed in small batches by the real ``nbgrader autograde``, each batch in a private
    course copy (its own gradebook copy; a kernel per student). The executed notebooks then go through one
    ``nbgrader autograde`` pass in the main course that skips execution, so the main gradebook is written by
    nbgrader itself with the same preprocessors (identical scores, nothing lost). A student whose private run
    fails (a kernel nbgrader could not recover) is autograded sequentially in the main course, exactly as
    ``nbgrader autograde`` would.
    Every kernel runs in the sandbox (:mod:`coursekit.grading.sandbox`); where it cannot work this raises
    :class:`~coursekit.grading.sandbox.SandboxUnavailable` before grading anyone, unless ``unsafe``.
    The preflight (:mod:`coursekit.grading.preflight`) runs once first, in the course (cached there), unless
    ``preflight_done`` names the digest that already passed; PreflightFailed (one line) before anyone is graded.
    Returns :func:`scores`.
    """
    root = Path(root).resolve()
    if not (root / "gradebook.db").exists():
        raise ValueError(f"root has no gradebook.db; run `nbgrader generate_assignment {assignment}` first")
    students = sorted(students) if students is not None else _students(root, assignment)
    if not students:
        raise ValueError(f"no submissions of {assignment!r} under {root / 'submitted'}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    workers = workers or max(1, os.cpu_count() or 1)
    sandbox.require(unsafe)                   # one line and nothing graded when student code would run unsandboxed
    if not preflight_done and not preflight.skipped():
        # once here (cached in the course), not once per batch: every batch's copy then skips it
        preflight_done = preflight.run_subprocess(root, assignment, unsafe)
    staged = root / ".parallel_executed"
    shutil.rmtree(staged, ignore_errors=True)
    failed: list[str] = []
    # a few students per nbgrader process (its start-up is paid once per batch), several batches per worker
    # so that a slow submission does not hold up the others
    size = max(1, math.ceil(len(students) / (4 * workers)))
    batches = [students[i:i + size] for i in range(0, len(students), size)]
    with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp:
        with ThreadPoolExecutor(max_workers=workers) as pool:      # each worker waits on an nbgrader process
            futures = [pool.submit(_grade_batch, str(root), assignment, batch, str(Path(tmp) / f"batch{i}"), unsafe,
                                   preflight_done) for i, batch in enumerate(batches)]
            results = [row for f in futures for row in f.result()]
        for student, executed in results:
            if executed is None:
                failed.append(student)
                continue
            dest = staged / student / assignment
            shutil.copytree(executed, dest)
            stamp = root / "submitted" / student / assignment / "timestamp.txt"
            if stamp.exists():
                shutil.copy2(stamp, dest / "timestamp.txt")
    try:
        done = [s for s in students if s not in failed]
        if done:
            # Record the executed notebooks with nbgrader's own pipeline minus ClearOutput and Execute
            # (nbgrader_config.py reads COURSEKIT_RECORD_EXECUTED): every staged student, one nbgrader process.
            env = _env(unsafe, COURSEKIT_RECORD_EXECUTED="1")
            _nbgrader(["autograde", assignment, "--force", "--CourseDirectory.submitted_directory=.parallel_executed"],
                      cwd=root, env=env, check=False)
        for s in failed:                      # the same path the sequential command takes
            env = _env(unsafe)
            if preflight_done:
                env["COURSEKIT_PREFLIGHT_DONE"] = preflight_done
            _nbgrader(["autograde", assignment, "--student", s, "--force"], cwd=root, env=env, check=False)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return scores(root, assignment)
