"""bench/bench_course.py: discovers the notebooks of each edition, runs each in a fresh kernel in its own folder with
the student's environment, prints wall and CPU time per notebook and per edition, and exits 1 when one fails.
Runs on two tiny notebooks (the real course is timed by running the bench, not in the suite)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

CHECK_ENV = ("import os\n"
             "assert os.environ.get('COURSEKIT_PROGRESS') == '0' and 'COURSEKIT_BIG' not in os.environ\n"
             "assert os.path.basename(os.getcwd()) in ('zh', 'en'), os.getcwd()\n"
             "s = sum(range(200_000))")


@pytest.mark.slow
def test_bench_course_times_every_notebook_and_reports_failures(tmp_path, repo):
    for edition in ("zh", "en"):
        (tmp_path / edition).mkdir()
        nbformat.write(new_notebook(cells=[new_code_cell(CHECK_ENV)]), tmp_path / edition / "01_ok.ipynb")
    nbformat.write(new_notebook(cells=[new_code_cell("raise ValueError('broken on purpose')")]),
                   tmp_path / "en" / "02_bad.ipynb")
    out_json = tmp_path / "rows.json"
    done = subprocess.run([sys.executable, str(repo / "bench" / "bench_course.py"), "--root", str(tmp_path),
                           "--json", str(out_json)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COURSEKIT_BIG": "1"})     # the bench removes it
    assert done.returncode == 1, done.stdout + done.stderr               # one notebook fails
    rows = json.loads(out_json.read_text())
    assert [(r["edition"], r["notebook"]) for r in rows] == [("zh", "01_ok.ipynb"), ("en", "01_ok.ipynb"),
                                                            ("en", "02_bad.ipynb")]      # zh first, then en
    assert [r["error"] for r in rows[:2]] == [None, None]
    assert "ValueError: broken on purpose" in rows[2]["error"]
    assert all(r["wall_s"] > 0 and r["cpu_s"] > 0 for r in rows)
    assert "zh  total (1 notebooks)" in done.stdout and "en  total (2 notebooks)" in done.stdout
    assert "whole edition ≤ 10 min" in done.stdout


def test_bench_course_finds_the_course_notebooks(repo):
    sys.path.insert(0, str(repo / "bench"))
    try:
        import bench_course
    finally:
        sys.path.pop(0)
    found = bench_course.discover(repo / "notebooks", ("zh", "en"))
    assert len(found) >= 4 and [e for e, _ in found] == sorted((e for e, _ in found), key=("zh", "en").index)
    assert {p.name for _, p in found} >= {"04a_diffusion_forward_and_ddpm.ipynb"}
