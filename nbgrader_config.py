"""nbgrader configuration: this repository is the course (root = the directory nbgrader runs in).

solutions/<assignment>/   source: solutions and hidden tests (instructors only)
assignments/<assignment>/ release: what `nbgrader generate_assignment` writes (committed; students get it)
submitted/, autograded/, feedback/, gradebook.db   created by the instructor workflow (git-ignored)

Defences against nbgrader's known traps (see docs/instructor.md): deleted graded cells come back, stderr noise
from libraries is dropped before scoring, every cell has a bounded timeout, outputs are capped while they arrive,
and every kernel that runs student code lives in a bubblewrap sandbox (coursekit/grading/sandbox.py) that cannot
see the course folder, other submissions, the gradebook or the network. Where bubblewrap cannot work,
`nbgrader autograde` refuses to start unless COURSEKIT_UNSAFE_GRADING=1 says so explicitly.
"""

import importlib.util
import os
import sys

import nbformat
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    Execute,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

c = get_config()  # noqa: F821  (provided by nbgrader)


def _load_sandbox():
    """coursekit/grading/sandbox.py loaded on its own (stdlib + jupyter_client): importing the coursekit.grading
    package would import torch in every nbgrader process."""
    name = "coursekit.grading.sandbox"
    if name not in sys.modules:
        package = importlib.util.find_spec("coursekit")
        if package is None or not package.submodule_search_locations:
            raise ImportError("nbgrader_config.py: the coursekit package is not installed (bash scripts/setup.sh)")
        path = os.path.join(list(package.submodule_search_locations)[0], "grading", "sandbox.py")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


sandbox = _load_sandbox()

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

# A huge output is cut while it arrives (nbgrader's LimitOutput counts lines only: one 20 MB line passes it).
MAX_OUTPUT_CHARS = 20_000          # one output (a stream chunk, a result, a traceback line)
MAX_CELL_CHARS = 100_000           # all the outputs of one cell
CUT = "\n... output cut by the grader ...\n"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + CUT


def cap_output(out) -> int:
    """Cut one output's text in place (streams, plain-text results, errors); returns its size in characters."""
    kind = out.get("output_type")
    if kind == "stream":
        out["text"] = _cut(out.get("text", ""))
        return len(out["text"])
    if kind == "error":
        out["evalue"] = _cut(str(out.get("evalue", "")))
        out["traceback"] = [_cut(line) for line in out.get("traceback", [])[:100]]
        return len(out["evalue"]) + sum(len(line) for line in out["traceback"])
    size = 0
    data = out.get("data", {})
    for mime, value in list(data.items()):
        text = value if isinstance(value, str) else "".join(value) if isinstance(value, list) else str(value)
        if len(text) > MAX_OUTPUT_CHARS:                 # an image or HTML that big is not kept at all
            data[mime] = _cut(text) if mime == "text/plain" else None
            if data[mime] is None:
                del data[mime]
        size += min(len(text), MAX_OUTPUT_CHARS)
    if not data:
        data["text/plain"] = CUT
    return size


class CappedExecute(Execute):
    """nbgrader's Execute keeping at most MAX_CELL_CHARS of output per cell, so a runaway print can neither
    fill the grader's memory nor the gradebook. Errors and the first stderr output are always kept (each still
    scores the cell zero, exactly as without the cap). Its kernels start in the sandbox (SandboxKernelManager;
    nbgrader's Execute passes its own kernel manager class as an argument, so config alone cannot change it)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", sandbox.SandboxKernelManager)
        super().__init__(*args, **kwargs)

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        if out is None or not outs or outs[-1] is not out:
            return out
        used = self.__dict__.setdefault("_cell_chars", {})           # characters kept so far, per cell
        size = cap_output(out)
        stderr_kept = any(o.get("name") == "stderr" for o in outs[:-1])
        essential = out.get("output_type") == "error" or (out.get("name") == "stderr" and not stderr_kept)
        if used.get(cell_index, 0) + size > MAX_CELL_CHARS and not essential:
            outs.pop()
            if not (outs and outs[-1].get("text") == CUT):
                outs.append(nbformat.v4.new_output("stream", name="stdout", text=CUT))
            return None
        used[cell_index] = used.get(cell_index, 0) + size
        return out


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
c.Autograde.sanitize_preprocessors = [p for p in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
                                                  CheckCellMetadata) if not (RECORD_ONLY and p is ClearOutput)]
c.Autograde.autograde_preprocessors = [p for p in (CappedExecute, IgnorePattern, ClearMetadataPreprocessor,
                                                   LimitOutput, SaveAutoGrades, AssignLatePenalties,
                                                   CheckCellMetadata) if not (RECORD_ONLY and p is CappedExecute)]

# Release: the stub students replace.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# zip_collect: files downloaded from a learning-management system as <student_id>-<notebook>.ipynb, loose or in
# zip archives, under downloaded/<assignment>/archive/ (see docs/instructor.md).
c.FileNameCollectorPlugin.named_regexp = r".*[/\\](?P<student_id>\w+)-(?P<file_id>\w+\.ipynb)$"
