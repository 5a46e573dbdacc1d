"""nbgrader configuration: this repository is the course (root = the directory nbgrader runs in).

solutions/<assignment>/   source: solutions, hidden tests and rubrics (instructors only)
assignments/<assignment>/ release: what `nbgrader generate_assignment` writes (committed; students get it)
submitted/, autograded/, feedback/, reports/, gradebook.db, .coursekit/   made by the instructor workflow (git-ignored)

Defences against nbgrader's known traps (see docs/instructor.md): deleted graded cells come back, stderr noise
from libraries is dropped before scoring, every cell has a bounded timeout, outputs are capped while they arrive,
and every kernel that runs student code lives in a bubblewrap sandbox (coursekit/grading/sandbox.py) that cannot
see the course folder, other submissions, the gradebook or the network, and sees exactly the coursekit its
interpreter imports. Where bubblewrap cannot work, `nbgrader autograde` refuses to start unless
COURSEKIT_UNSAFE_GRADING=1 says so explicitly. Grading cannot fail silently: before an assignment is graded, the
instructor's solution is graded in the same sandbox and grading stops with one line unless it gets full autograded
marks (coursekit/grading/preflight.py). Feedback never shows the hidden tests, by any route (GenerateFeedback below).
Late work is penalised by the policy below; due dates live in the gradebook.

nbgrader ignores an exception raised while it reads this file and then runs *without it* (no sandbox, no timeouts,
another source folder): every failure here therefore exits with one line instead.
"""

import os
import sys

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

c = get_config()  # noqa: F821  (provided by nbgrader)

# The grader-side parts of coursekit (no torch: coursekit.grading loads its submodules lazily). nbgrader logs an
# exception raised in this file and goes on *without the configuration* (no sandbox, no timeouts, another source
# folder): every failure here therefore stops the process with one line (SystemExit is not caught).
try:
    from coursekit.grading import lms, nbhooks, preflight, sandbox
    from coursekit.grading.nbhooks import CUT, MAX_CELL_CHARS, MAX_OUTPUT_CHARS, CappedExecute, cap_output  # noqa: F401
except Exception as err:
    sys.exit(f"nbgrader: nbgrader_config.py cannot load coursekit's grading code (bash scripts/setup.sh installs "
             f"it): {type(err).__name__}: {err}")

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.course_id = "coursekit"

# A graded cell the student deleted is added back (edited locked cells are restored by checksum anyway).
c.OverwriteCells.add_missing_cells = True

# The kernel inherits the grader's environment: quiet and on the CPU even if the set-up cell were lost.
os.environ["COURSEKIT_PROGRESS"] = "0"
os.environ["COURSEKIT_DEVICE"] = "cpu"
os.environ["COURSEKIT_GRADING"] = "1"            # the visible training run is skipped (a hidden one runs)
os.environ.setdefault("PYTHONWARNINGS", "ignore")
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Any stderr output in a test cell scores it zero; drop the harmless kinds (library warnings, progress bars).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(Warning:|warnings\.warn|\d+it/s\]|s/it\]|\d+%\|)"

# Per-cell timeouts (seconds), sized for the cell and all bounded. COURSEKIT_TIMEOUT_SCALE (grader side) scales them.
# Every assignment follows one naming rule: a test cell that trains is named test_train_* or test_experiment_*.
SCALE = float(os.environ.get("COURSEKIT_TIMEOUT_SCALE", "1") or 1)
CELL_TIMEOUTS = {"setup": 90}
SLOW_PREFIXES = ("test_train", "test_experiment")
SLOW_TIMEOUT = 180
DEFAULT_TIMEOUT = 30


def cell_timeout(cell) -> int:
    """Timeout of one cell: training test cells get longer than unit tests; never unbounded."""
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
    seconds = CELL_TIMEOUTS.get(grade_id, SLOW_TIMEOUT if grade_id.startswith(SLOW_PREFIXES) else DEFAULT_TIMEOUT)
    return max(1, int(seconds * SCALE))


c.Execute.timeout = max(1, int(DEFAULT_TIMEOUT * SCALE))
c.Execute.timeout_func = cell_timeout
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 120
# Once the last cell has replied, every output is in the notebook: the kernel is killed at once (its sandbox dies with
# it: bwrap --die-with-parent) rather than asked to exit, which waited 0.8-1.6 s per submission for torch to tear
# down (bench/bench_grading.py --shutdown). The student's atexit hooks do not run, as they must not.
c.Execute.shutdown_kernel = "immediate"

# A huge output is cut while it arrives (nbgrader's LimitOutput counts lines only: one 20 MB line passes it):
# CappedExecute (coursekit/grading/nbhooks.py) keeps at most MAX_OUTPUT_CHARS per output and MAX_CELL_CHARS per cell,
# and starts every kernel in the sandbox.
c.LimitOutput.max_lines = 200      # and at most 200 lines per cell, 100 traceback lines

# nbgrader's autograde pipeline with the capped Execute. COURSEKIT_RECORD_EXECUTED=1 (set by
# coursekit.grading.autograde_parallel) records notebooks executed already by parallel workers: the same
# pipeline without clearing and executing, so the gradebook is written by nbgrader itself.
RECORD_ONLY = os.environ.get("COURSEKIT_RECORD_EXECUTED") == "1"

# Student code runs only in the sandbox: `nbgrader autograde` where bubblewrap cannot work stops here with one
# line, unless the instructor opts out explicitly (COURSEKIT_UNSAFE_GRADING=1; `coursekit grade autograde
# --unsafe` sets it). The kernel manager refuses as well (formgrader, other entry points).
if sys.argv[1:2] == ["autograde"] and not RECORD_ONLY and sandbox.check() and not sandbox.unsafe_requested():
    try:
        sandbox.require()
    except sandbox.SandboxUnavailable as err:
        sys.exit(f"nbgrader autograde: {err}")
# Limits of each sandboxed kernel (see coursekit/grading/sandbox.py): allocated memory, processes + threads,
# CPU seconds per process, wall seconds for the whole kernel, largest file, in-memory /tmp and working copy.
c.SandboxKernelManager.memory_mb = 4096
c.SandboxKernelManager.max_processes = 64
c.SandboxKernelManager.cpu_seconds = max(60, int(1800 * SCALE))
c.SandboxKernelManager.wall_seconds = max(60, int(3600 * SCALE))
c.SandboxKernelManager.file_mb = 256
c.SandboxKernelManager.tmp_mb = 512
# Preflight (first sanitising step; coursekit/grading/preflight.py): before an assignment is graded, the instructor's
# own solution is graded in the same sandbox and grading stops unless it gets full autograded marks.
c.Autograde.sanitize_preprocessors = [p for p in (nbhooks.Preflight, ClearOutput, DeduplicateIds, OverwriteKernelspec,
                                                  OverwriteCells, CheckCellMetadata)
                                      if not (RECORD_ONLY and p in (ClearOutput, nbhooks.Preflight))]
c.Autograde.autograde_preprocessors = [p for p in (CappedExecute, IgnorePattern, ClearMetadataPreprocessor,
                                                   LimitOutput, SaveAutoGrades, AssignLatePenalties,
                                                   CheckCellMetadata) if not (RECORD_ONLY and p is CappedExecute)]

# Feedback never shows the hidden tests, by any route: `nbgrader generate_feedback`, Formgrader's "Generate Feedback"
# buttons (nbgrader's API runs this same converter) and `coursekit grade feedback`. HideHiddenTests removes their code
# and every output of a hidden-test cell that could carry their inputs, and puts each part's score and diagnosed
# mistake (both languages) on top.
c.GenerateFeedback.preprocessors = [GetGrades, nbhooks.HideHiddenTests, CSSHTMLHeaderPreprocessor]

# Late work: due dates live in the gradebook (`coursekit grade due ddpm "2026-03-01 23:59 +08:00"` or
# `nbgrader db assignment add ddpm --duedate=...`); the submission time is each submission's timestamp.txt (nbgrader
# collect, zip_collect, `coursekit grade collect` from Canvas / Moodle downloads). The course's policy, applied by
# `nbgrader autograde` (AssignLatePenalties): a tenth of the notebook's points per started day late after a 15-minute
# grace, and no points after 7 days. Set per_day = 0 for no penalty. Penalties are fixed when autograding.
c.AssignLatePenalties.plugin_class = lms.LatePolicy
c.LatePolicy.per_day = 0.10
c.LatePolicy.grace_minutes = 15
c.LatePolicy.zero_after_days = 7

# Release: the stub students replace.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# zip_collect: files downloaded from a learning-management system as <student_id>-<notebook>.ipynb, loose or in
# zip archives, under downloaded/<assignment>/archive/; student ids may contain "-" and "." (the notebook name may
# not contain "-"). Canvas and Moodle downloads name files otherwise: `coursekit grade collect ddpm ARCHIVE
# --lms canvas|moodle` reads them as they are, with their time stamps (docs/instructor.md).
c.FileNameCollectorPlugin.named_regexp = r".*[/\\](?P<student_id>[^/\\]+)-(?P<file_id>[^/\\-]+\.ipynb)$"

# `nbgrader validate` runs a notebook with your rights, outside the sandbox: fine for solutions/ and assignments/,
# not for a student's submission (use `coursekit grade validate PATH`, which runs it in the sandbox).
if sys.argv[1:2] == ["validate"] and any(part in ("submitted", "autograded", "downloaded")
                                         for arg in sys.argv[2:] for part in os.path.abspath(arg).split(os.sep)):
    print("nbgrader validate: warning: this runs a student's notebook unsandboxed, with your rights; "
          "`coursekit grade validate PATH` runs it in the grading sandbox", file=sys.stderr)

# `nbgrader autograde` grades the solution first (the preflight), when nbgrader starts grading with its complete
# configuration, and stops with one line naming the cause unless it gets full autograded marks (Formgrader's
# button and other callers of nbgrader's Autograde: the nbhooks.Preflight step above). COURSEKIT_PREFLIGHT=0 skips
# it (said each time).
if sys.argv[1:2] == ["autograde"] and not RECORD_ONLY:
    preflight.before_autograde()
