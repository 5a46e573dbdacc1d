"""The Colab path: one setting for every badge and install cell, Chinese plot labels without a system CJK font,
a Colab-like environment without the development tools, and assignments that survive Colab's save.

(Every English notebook is executed in the Colab-like environment by tests/test_notebooks.py.)
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest

import coursekit

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))
import build  # noqa: E402

EDITIONS = sorted((NOTEBOOKS / "zh").glob("*.ipynb")) + sorted((NOTEBOOKS / "en").glob("*.ipynb"))
SETTING = build.colab_setting()


def test_the_setting_is_read_from_pyproject():
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", SETTING["repository"]), SETTING
    assert SETTING["branch"]
    assert SETTING["version"] == coursekit.__version__, "pyproject.toml and coursekit.__version__ disagree"


@pytest.mark.parametrize("path", EDITIONS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_badge_and_install_cell_use_the_setting(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    badge, install = "".join(nb["cells"][0]["source"]), "".join(nb["cells"][1]["source"])
    repo, branch = SETTING["repository"], SETTING["branch"]
    url = f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{path.parent.name}/{quote(path.name)}"
    assert url in badge, "the Colab badge does not open this notebook from the configured repository and branch"
    requirement = f'"coursekit[zh] @ git+https://github.com/{repo}@{branch}"'
    assert requirement in install and '"google.colab" in sys.modules' in install
    # every GitHub address in the notebook is the configured one (no stale placeholder left anywhere)
    text = path.read_text(encoding="utf-8")
    others = {m for m in re.findall(r"github(?:\.com)?/([\w.-]+/[\w.-]+?)(?:/blob|@|\.git|\")", text) if m != repo}
    assert not others, f"other repositories named: {others}"


def test_the_zh_extra_installs_the_cjk_font():
    meta = coursekit_metadata()
    extras = [r for r in meta.get_all("Requires-Dist") or [] if "extra ==" in r and "zh" in r]
    assert any("pylopdf-fonts-zh-cn" in r for r in extras), extras


def coursekit_metadata():
    import importlib.metadata as md

    return md.metadata("coursekit")


FONT_PROBE = r"""
import sys, warnings
import matplotlib
matplotlib.use("Agg")
from matplotlib import font_manager as fm
import matplotlib.pyplot as plt
# a machine with no CJK system font (Colab, a bare laptop): matplotlib sees only its own fonts
fm.fontManager.ttflist = [f for f in fm.fontManager.ttflist if "mpl-data" in f.fname]
from coursekit.viz import core
if sys.argv[1] == "without-extra":
    core.bundled_cjk_font = lambda: None
name = core.setup_fonts()
print("font:", name)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    fig, ax = plt.subplots()
    ax.set_title("前向扩散过程：噪声调度 β_t")
    fig.canvas.draw()
missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
print("missing:", len(missing))
"""


@pytest.mark.parametrize("case", ["with-extra", "without-extra"])
def test_chinese_titles_render_without_a_system_cjk_font(case, tmp_path):
    """With the zh extra (the Colab install cell's), a Chinese title's glyphs come from the bundled Noto Sans SC;
    without it they are missing (the check can fail)."""
    env = dict(os.environ, MPLCONFIGDIR=str(tmp_path / "mpl"))
    done = subprocess.run([sys.executable, "-c", FONT_PROBE, case], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    if case == "with-extra":
        assert "font: Noto Sans SC" in done.stdout and "missing: 0" in done.stdout, done.stdout
    else:
        assert "font: None" in done.stdout and "missing: 0" not in done.stdout, done.stdout


@pytest.mark.slow
def test_colab_like_environment_has_runtime_dependencies_only():
    from colab_env import colab_python, installed

    python = colab_python()
    have = installed(python)
    assert {"coursekit", "torch", "matplotlib", "ipywidgets", "scikit-learn", "pylopdf-fonts-zh-cn"} <= have
    assert not have & {"nbgrader", "diffusers", "pytest", "nbval", "playwright", "ruff", "jupyterlab"}, have
    where = subprocess.run([str(python), "-c", "import coursekit; print(coursekit.__file__)"], cwd="/",
                           capture_output=True, text=True, check=True).stdout
    assert "site-packages" in where and str(REPO / "coursekit") not in where, "coursekit must be installed, not linked"


def colab_save(nb):
    """What saving in Colab does to a notebook: nbformat write/read with Colab's metadata added."""
    nb = copy.deepcopy(nb)
    nb.metadata["colab"] = {"provenance": [], "name": "ddpm.ipynb", "toc_visible": True}
    nb.metadata["accelerator"] = "GPU"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    for i, cell in enumerate(nb.cells):
        cell.metadata["colab"] = {"base_uri": "https://localhost:8080/"}
        cell.metadata["outputId"] = f"{i:08x}-colab"
    path_text = nbformat.writes(nb, version=4)
    return nbformat.reads(path_text, as_version=4)


def test_nbgrader_metadata_survives_a_colab_save():
    for release in sorted((REPO / "assignments").glob("*/*.ipynb")):
        nb = nbformat.read(release, as_version=4)
        saved = colab_save(nb)
        before = [c.metadata.get("nbgrader") for c in nb.cells]
        after = [c.metadata.get("nbgrader") for c in saved.cells]
        assert before == after, release.name
        assert [c.source for c in nb.cells] == [c.source for c in saved.cells]
        assert [c.get("id") for c in nb.cells] == [c.get("id") for c in saved.cells]


@pytest.mark.slow
def test_a_submission_saved_in_colab_grades_like_the_original(tmp_path):
    """The reference answers, once as written and once after a Colab save, score the same full marks."""
    import course

    root = course.make_course(tmp_path / "course", "ddpm")
    full = course.answered(course.release(root, "ddpm"), course.solution(root, "ddpm"))
    course.submit(root, "plain", "ddpm", full)
    course.submit(root, "colab", "ddpm", colab_save(full))
    done = course.autograde(root, "ddpm")
    table = course.scores(root, "ddpm")
    assert set(table) == {"plain", "colab"}, done.stdout + done.stderr
    assert table["colab"] == table["plain"]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        auto_max = sum(c.max_score for nb in gb.find_assignment("ddpm").notebooks for c in nb.grade_cells
                       if c.cell_type == "code")
    assert table["colab"]["total"] == auto_max > 0
