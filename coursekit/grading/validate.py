"""``coursekit grade validate NOTEBOOK``: ``nbgrader validate`` for a student's notebook, in the grading sandbox.

``nbgrader validate submitted/alice/ddpm/ddpm.ipynb`` — a natural step for a regrade — runs the student's code
with the instructor's rights, outside the sandbox (nbgrader_config.py prints a warning when it sees that). This
runs the notebook exactly as autograde would (the sandboxed Execute nbgrader_config.py configures, then
IgnorePattern), in a temporary copy of its folder, and prints each test cell's verdict with the diagnosed hint.
Exit status: 0 when every test passes, 1 otherwise (``nbgrader validate`` exits 0 either way).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from . import diagnosis, preflight, sandbox


def validate(root: Path, notebook: Path) -> int:
    root, notebook = Path(root).resolve(), Path(notebook).resolve()
    saved = dict(os.environ)
    cwd = os.getcwd()
    try:
        os.chdir(root)
        config = preflight.load_config(root)      # sets the grader's environment (quiet, CPU, grading mode)
        sandbox.require()
        with tempfile.TemporaryDirectory(prefix="ck-validate-") as tmp:
            work = Path(tmp) / "autograded" / "validate" / notebook.parent.name
            shutil.copytree(notebook.parent, work)
            run = preflight._execute(work / notebook.name, work, config)
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)
    found = diagnosis.diagnose(run["nb"])
    failed = 0
    for gid, part in found.parts.items():
        if part.failed:
            failed += 1
            zh, en = diagnosis.student_message(part)
            text = en if zh == en else f"{en} / {zh}"
            print(f"FAIL {gid} ({diagnosis.KINDS[part.kind][1]}): {text}" + (f" [{part.detail}]" if part.detail
                                                                              and not part.hint else ""))
        else:
            print(f"ok   {gid}")
    if run["crash"]:
        print(f"the kernel failed: {run['crash']}")
        failed += 1
    print(f"{len(found.parts) - failed if not run['crash'] else 0} of {len(found.parts)} tests pass "
          "(run in the grading sandbox)")
    return 1 if failed else 0
