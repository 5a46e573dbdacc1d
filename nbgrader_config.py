"""nbgrader configuration: this repository is the course (root = the directory nbgrader runs in).

solutions/<assignment>/   source: solutions and hidden tests (instructors only)
assignments/<assignment>/ release: what `nbgrader generate_assignment` writes (committed; students get it)
submitted/, autograded/, feedback/, gradebook.db   created by the instructor workflow (git-ignored)

Defences against nbgrader's known traps (see docs/instructor.md): deleted graded cells come back, stderr noise
from libraries is dropped before scoring, every cell has a bounded timeout, outputs are capped.
"""

import os

c = get_config()  # noqa: F821  (provided by nbgrader)

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.course_id = "coursekit"

# A graded cell the student deleted is added back (edited locked cells are restored by checksum anyway).
c.OverwriteCells.add_missing_cells = True

# The kernel inherits the grader's environment: quiet and on the CPU even if the set-up cell were lost.
os.environ["COURSEKIT_PROGRESS"] = "0"
os.environ["COURSEKIT_DEVICE"] = "cpu"
os.environ.setdefault("PYTHONWARNINGS", "ignore")
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Any stderr output in a test cell scores it zero; drop the harmless kinds (library warnings, progress bars).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(Warning:|warnings\.warn|\d+it/s\]|s/it\]|\d+%\|)"

# Per-cell timeouts (seconds), sized for the cell and all bounded. COURSEKIT_TIMEOUT_SCALE (grader side) scales them.
SCALE = float(os.environ.get("COURSEKIT_TIMEOUT_SCALE", "1") or 1)
CELL_TIMEOUTS = {"test_train_sample": 180, "setup": 90}
DEFAULT_TIMEOUT = 30


def cell_timeout(cell) -> int:
    """Timeout of one cell: training test cells get longer than unit tests; never unbounded."""
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
    return max(1, int(CELL_TIMEOUTS.get(grade_id, DEFAULT_TIMEOUT) * SCALE))


c.Execute.timeout = max(1, int(DEFAULT_TIMEOUT * SCALE))
c.Execute.timeout_func = cell_timeout
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 120

# A huge output is cut before it reaches the gradebook or the feedback.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_length = 20000

# Release: strip outputs, keep the notebooks' metadata minimal.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
