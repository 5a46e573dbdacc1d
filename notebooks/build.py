"""Build the Chinese and English editions of every lecture notebook from one source.

    python notebooks/build.py            # (re)write notebooks/zh/*.ipynb and notebooks/en/*.ipynb
    python notebooks/build.py --check    # exit 1 if a committed notebook differs from its source

A source is ``notebooks/src/NN_name.md`` (NN the slide section; ``NNa_``/``NNb_`` for a section in parts):

    ---
    zh: 04_扩散模型.ipynb                   # output names, one per edition
    en: 04_diffusion.ipynb
    ---
    ::: zh
    Chinese markdown (one cell)
    :::
    ::: en
    the same cell in English
    :::
    ```python
    code shared by both editions (one cell)
    ```

A comment in a code block may differ per edition: ``x = f(y)  # {zh} 中文说明 {en} English note`` becomes
``# 中文说明`` in the Chinese edition and ``# English note`` in the English one (whole-line comments too).
Nothing else in a code cell may differ.

Every ``::: zh`` block must be followed by its ``::: en`` twin, so both editions have the same cells in the
same order and their code cells are identical by construction. Text outside blocks is a comment for
maintainers. The first cell of each edition is generated: an "Open in Colab" badge and a code cell that installs
coursekit (with the ``zh`` extra: a CJK font for plot labels) only on Colab, both from the one Colab setting in
pyproject.toml (``[tool.coursekit.colab]``). Outputs are never stored.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
LANGS = ("zh", "en")
PYPROJECT = HERE.parent / "pyproject.toml"


def colab_setting(pyproject: Path = PYPROJECT) -> dict[str, str]:
    """The course's one Colab setting, ``[tool.coursekit.colab]`` in pyproject.toml: ``repository`` (GitHub
    owner/name) and ``branch``; plus the package ``version``. Maintainers change it there, then rebuild."""
    try:
        import tomllib
    except ModuleNotFoundError:                                   # Python 3.10: the few keys by hand
        text = pyproject.read_text(encoding="utf-8")
        get = lambda key: re.search(rf'^{key}\s*=\s*"([^"]+)"', text, re.M).group(1)  # noqa: E731
        return {"repository": get("repository"), "branch": get("branch"), "version": get("version")}
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    colab = data["tool"]["coursekit"]["colab"]
    return {"repository": colab["repository"], "branch": colab["branch"], "version": data["project"]["version"]}


SETTING = colab_setting()
REPO = SETTING["repository"]
BRANCH = SETTING["branch"]

BADGE = {
    "zh": "[![在 Colab 中打开](https://colab.research.google.com/assets/colab-badge.svg)]({url})\n\n"
          "> 本 notebook 由 `notebooks/src/{src}` 生成（`python notebooks/build.py`），请修改源文件而不是本文件。"
          "英文版：[`{other}`](../en/{other_q})。",
    "en": "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})\n\n"
          "> Generated from `notebooks/src/{src}` by `python notebooks/build.py`: edit the source, not this file. "
          "Chinese edition: [`{other}`](../zh/{other_q}).",
}
INSTALL = '''import sys

if "google.colab" in sys.modules:  # {comment}
    %pip install -q "coursekit[zh] @ git+https://github.com/{repo}@{branch}"'''
INSTALL_COMMENT = {"zh": "只在 Colab 上：从课程仓库安装 coursekit",
                   "en": "on Colab only: install coursekit from the course repository"}


class SourceError(ValueError):
    pass


def parse(path: Path) -> tuple[dict[str, str], list[tuple[str, object]]]:
    """(front matter, cells) where a cell is ("code", text) or ("markdown", {"zh": text, "en": text})."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].strip() != "---":
        raise SourceError(f"{path.name}: must start with a '---' front matter block")
    end = lines.index("---", 1)
    meta = {}
    for line in lines[1:end]:
        if line.strip():
            key, _, value = line.partition(":")
            meta[key.strip()] = value.split("#")[0].strip()
    for lang in LANGS:
        if not meta.get(lang, "").endswith(".ipynb"):
            raise SourceError(f"{path.name}: front matter needs '{lang}: <name>.ipynb'")
    cells: list[tuple[str, object]] = []
    pending: dict[str, str] = {}
    i = end + 1
    while i < len(lines):
        line = lines[i]
        block = re.fullmatch(r":::\s*(zh|en)\s*", line)
        if block or line.startswith("```python"):
            closing = ":::" if block else "```"
            j = i + 1
            while j < len(lines) and lines[j].rstrip() != closing:
                j += 1
            if j == len(lines):
                raise SourceError(f"{path.name}:{i + 1}: block not closed by '{closing}'")
            text = "\n".join(lines[i + 1:j]).strip("\n")
            if block:
                lang = block.group(1)
                if (lang == "zh") == bool(pending):
                    raise SourceError(f"{path.name}:{i + 1}: each '::: zh' block must be followed by '::: en'")
                pending[lang] = text
                if lang == "en":
                    cells.append(("markdown", pending))
                    pending = {}
            else:
                if pending:
                    raise SourceError(f"{path.name}:{i + 1}: code between '::: zh' and its '::: en'")
                cells.append(("code", text))
            i = j + 1
            continue
        i += 1
    if pending:
        raise SourceError(f"{path.name}: the last '::: zh' block has no '::: en' twin")
    return meta, cells


EDITION_COMMENT = re.compile(r"#\s*\{zh\}\s*(?P<zh>.*?)\s*\{en\}\s*(?P<en>.*?)\s*$")


def localize_code(text: str, lang: str) -> str:
    """A code block with each ``# {zh} … {en} …`` comment reduced to the edition's half."""
    def one(line: str) -> str:
        m = EDITION_COMMENT.search(line)
        return line if m is None else line[:m.start()] + "# " + m.group(lang)
    return "\n".join(one(line) for line in text.split("\n"))


def strip_comments(code: str) -> str:
    """Code without its comments (for comparing the editions), via the tokenizer so '#' in strings stays."""
    import io
    import tokenize

    try:
        tokens = [tok for tok in tokenize.generate_tokens(io.StringIO(code).readline) if tok.type != tokenize.COMMENT]
        code = tokenize.untokenize(tokens)
    except (tokenize.TokenError, SyntaxError, IndentationError):     # IPython magics etc.: cut at "  # "
        code = "\n".join(line.split("  # ")[0] for line in code.split("\n"))
    return "\n".join(line.rstrip() for line in code.split("\n") if line.strip())


def _cell(kind: str, text: str, cell_id: str) -> dict:
    cell = {"cell_type": kind, "id": cell_id, "metadata": {}, "source": text.splitlines(keepends=True)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def build(path: Path, lang: str) -> tuple[Path, dict]:
    """The notebook of one edition (not written)."""
    meta, cells = parse(path)
    other = "en" if lang == "zh" else "zh"
    name = meta[lang]
    url = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/notebooks/{lang}/{quote(name)}"
    stem = re.sub(r"[^A-Za-z0-9]+", "-", path.stem).strip("-")
    out = [_cell("markdown", BADGE[lang].format(url=url, src=path.name, other=meta[other],
                                                 other_q=quote(meta[other])), f"{stem}-badge"),
           _cell("code", INSTALL.format(comment=INSTALL_COMMENT[lang], repo=REPO, branch=BRANCH), f"{stem}-colab")]
    for i, (kind, value) in enumerate(cells):
        text = localize_code(value, lang) if kind == "code" else value[lang]
        out.append(_cell(kind, text, f"{stem}-{i:03d}"))
    nb = {"cells": out,
          "metadata": {"coursekit": {"edition": lang, "source": f"src/{path.name}"},
                       "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                       "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    return HERE / lang / name, nb


def dumps(nb: dict) -> str:
    return json.dumps(nb, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def sources() -> list[Path]:
    return sorted(SRC.glob("[0-9][0-9]*_*.md"))     # 04_…, 04a_…, 04b_…


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    args = parser.parse_args(argv)
    stale = []
    for src in sources():
        for lang in LANGS:
            target, nb = build(src, lang)
            text = dumps(nb)
            current = target.read_text(encoding="utf-8") if target.exists() else None
            if current == text:
                continue
            if args.check:
                stale.append(str(target.relative_to(HERE.parent)))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                print(f"wrote {target.relative_to(HERE.parent)}")
    if stale:
        print("out of date (run python notebooks/build.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
