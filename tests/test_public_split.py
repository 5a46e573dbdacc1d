"""The public student tree (scripts/publish_student.py) holds no solution text, hidden test or answer file, and its
notebooks point at the repository named in [tool.coursekit.colab]; a leak planted in an allowed file stops it.
No grading: about a second."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent


def _publisher():
    spec = importlib.util.spec_from_file_location("publish_student", REPO / "scripts" / "publish_student.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["publish_student"] = module
    spec.loader.exec_module(module)
    return module


P = _publisher()


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("public") / "tree"
    P.publish(out)
    return out


def test_no_private_path_is_published(published):
    names = {str(p.relative_to(published)) for p in published.rglob("*") if p.is_file()}
    assert names, "nothing written"
    for private in ("solutions/", "docs/answers/", "tests/", "bench/"):
        assert not [n for n in names if n.startswith(private)], private
    assert "docs/instructor.md" not in names and "nbgrader_config.py" not in names
    assert not [n for n in names if n.startswith("tests/test_fairness")]
    # what students need is there: the package, both editions, every release, the set-up
    assert "coursekit/__init__.py" in names and "scripts/setup.sh" in names and "pyproject.toml" in names
    for name in ("pixelcnn", "vae", "ddpm", "gan", "conditional", "flow"):
        assert f"assignments/{name}/{name}.ipynb" in names
    lectures = len(list((REPO / "notebooks/zh").glob("*.ipynb")))
    assert len([n for n in names if n.startswith("notebooks/zh/")]) == lectures


def test_no_solution_hidden_test_or_answer_line_is_published(published):
    secrets = P.secret_lines()
    # the secrets are real material from every private source: every solution, every answer file, every class
    for name in ("pixelcnn", "vae", "ddpm", "gan", "conditional", "flow"):
        assert len([s for s in secrets.values() if s == f"solutions/{name}/{name}.ipynb"]) > 30, name
        assert [s for s in secrets.values() if s == f"tests/test_fairness_{name}.py"], name
    assert len([s for s in secrets.values() if s.startswith("tests/test_fairness_")]) > 200
    assert len([s for s in secrets.values() if s.startswith("docs/answers/")]) > 300
    files = [str(p.relative_to(published)) for p in published.rglob("*") if p.is_file()]
    assert P.leaks(published, files, secrets) == []
    # and the hidden-test and solution markers never appear in a notebook
    for path in published.rglob("*.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text, path


def test_notebooks_point_at_the_configured_public_repository(published):
    repository, branch = P.colab_repository()
    first = json.loads((published / "notebooks" / "en" / sorted(p.name for p in (published / "notebooks/en")
                                                                  .glob("*.ipynb"))[0]).read_text(encoding="utf-8"))
    text = "".join("".join(c["source"]) for c in first["cells"][:2])
    assert f"github.com/{repository}" in text and f"github/{repository}/blob/{branch}" in text
    files = [str(p.relative_to(published)) for p in published.rglob("*.ipynb")]
    assert P.wrong_colab_links(published, files, repository) == []
    assert P.wrong_colab_links(published, files, "someone/else") != []      # the check can fail


def _repo_copy(tmp_path: Path) -> Path:
    """The files the publisher reads, in a scratch copy (not a git checkout: every file counts)."""
    copy = tmp_path / "repo"
    for name in P.tracked_files(REPO):
        if P._match(name, P.INCLUDE) or name.startswith(("solutions/", "docs/answers/", "tests/test_fairness_")):
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    shutil.copy2(REPO / "scripts" / "publish_student.py", copy / "scripts" / "publish_student.py")
    return copy


def test_a_planted_leak_stops_publishing(tmp_path):
    """An answer pasted into a public guide, a solution line in a lecture notebook's markdown: refused, one line,
    nothing written."""
    copy = _repo_copy(tmp_path)
    solution = nbformat.read(copy / "solutions/ddpm/ddpm.ipynb", as_version=4)
    secrets = P.secret_lines(copy)
    secret = next(line for c in solution.cells for line in P._blocks(c.source, "### BEGIN HIDDEN TESTS",
                                                                     "### END HIDDEN TESTS")
                  if secrets.get(line.strip()) == "solutions/ddpm/ddpm.ipynb")
    guide = sorted(p for p in (copy / "docs").glob("*.md"))[0]
    guide.write_text(guide.read_text(encoding="utf-8") + "\n    " + secret + "\n", encoding="utf-8")
    with pytest.raises(P.PublishError, match="holds a line of solutions/ddpm/ddpm.ipynb"):
        P.publish(tmp_path / "out", repo=copy)
    assert not (tmp_path / "out").exists()
    proc = subprocess.run([sys.executable, str(copy / "scripts" / "publish_student.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_it_refuses_to_overwrite_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(P.PublishError, match="not a tree this script wrote"):
        P.publish(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
