"""The Chinese edition is Chinese: no English-only prose comment, printed or plotted string in a zh notebook's code
cells or in an assignment's release (bilingual "中文 / English" is fine there), and nothing English-only on the
stdout of an executed zh notebook (coursekit's own messages included). The finder is notebooks/zh_check.py
(`python notebooks/zh_check.py` lists every finding); the two editions' code is compared in test_notebooks.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "notebooks"))
import execute  # noqa: E402  (notebooks/execute.py)
import zh_check as Z  # noqa: E402  (notebooks/zh_check.py)


def test_the_finder_tells_prose_from_code():
    code = ('x = f(y)  # the same x_T for every w\n# BIG = True\nz = 1  # 每个 w 用同一个 x_T\n'
            'print(say(f"第 {i} 步", f"step {i}"))\nprint(f"{n} samples drawn from the model")\n'
            'ax.set_title("loss of D")\nassert ok, "d_loss 应返回标量 / d_loss must return a scalar"\n'
            'u = 2  # (B, 1, 8, 8)\nv = 3  # PixelCNN, Adam, lr 1e-3\n')
    found = {(f.kind, f.text) for f in Z.check_code(code, "cell")}
    assert found == {("comment", "# the same x_T for every w"), ("string", " samples drawn from the model"),
                     ("string", "loss of D")}
    assert not Z.check_code('print(say("生成样本", "samples drawn"))\n', "cell")


@pytest.mark.parametrize("path", Z.zh_notebooks(), ids=lambda p: p.stem)
def test_zh_notebook_code_speaks_chinese(path):
    found = Z.check_notebook(path, skip_first=2)          # the badge and the Colab cell are generated
    assert not found, "English-only prose in the zh edition:\n" + "\n".join(map(str, found))


@pytest.mark.parametrize("path", Z.assignment_notebooks(), ids=lambda p: p.parent.name)
def test_assignment_release_speaks_chinese_too(path):
    found = Z.check_notebook(path)
    assert not found, "English-only prose in the release:\n" + "\n".join(map(str, found))


@pytest.mark.after_notebooks
@pytest.mark.parametrize("path", Z.zh_notebooks(), ids=lambda p: p.stem)
def test_executed_zh_notebook_prints_chinese(path):
    import os

    copy = execute.cached(path)
    if copy is None:
        if os.environ.get("CI"):
            pytest.fail(f"{path.name} has no current executed copy: the notebook tests did not run first")
        pytest.skip(f"{path.name} not executed yet")
    found = Z.check_output(copy)
    assert not found, "English-only lines printed by the zh edition:\n" + "\n".join(map(str, found))
