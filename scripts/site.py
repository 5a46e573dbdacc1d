"""Build the course site (zh/en) into ``_build/site/`` from the same notebooks, docs and docstrings.

    python scripts/site.py                 # stage _build/site-src, then sphinx-build → _build/site
    python scripts/site.py --no-execute    # notebooks without outputs where no executed copy is cached
    python scripts/site.py --jobs 2        # how many stale notebooks execute at once (default: CPUs, at most 4)

Notebook outputs come from ``notebooks/execute.py``'s cache (``_build/executed``): a notebook whose executed copy
is current is not run again, so a rebuild without changes does not retrain; the stale ones are executed first,
``--jobs`` at a time (each notebook trains on one thread). The cache is keyed by the notebook and every coursekit
source, so a fresh clone, or any change to coursekit, executes all 22 of them: about 15 CPU-minutes (both editions),
so some 8 minutes on 2 cores; a build from current copies takes about 35 CPU-seconds.

What it stages: the bilingual home page and each edition's front page (the course map, how to run, the
assignments), written from the notebook sources (a new unit, notebooks/src/07_*.md, appears by itself); every
lecture notebook, with a note under each widget's static picture pointing to Colab; the public docs; the API
reference of coursekit's own public names (site/_ext/api_reference.py). Instructor material is never published:
not the grading guide (docs/instructor.md), not the exercise answers (docs/answers/), nothing of solutions/.
"""

from __future__ import annotations

import argparse
import ast
import html
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "notebooks"))
import build  # noqa: E402
import execute  # noqa: E402

from coursekit.cli import positive_int  # noqa: E402  (the CLI's "--jobs: expected a positive integer" message)

SITE_CONF = ROOT / "site"
STAGE = ROOT / "_build" / "site-src"
OUT = ROOT / "_build" / "site"
sys.path.insert(0, str(SITE_CONF / "_ext"))
import api_reference  # noqa: E402  (what the API reference documents: coursekit's own public names)

# instructor-only material is never published: the answers (docs/answers/), the grading guide, solutions/
PRIVATE_DOCS = {"instructor.md"}

# slides section → (Chinese title, English title, assignment); a unit not in the slides (07) is listed after them
SECTIONS = {
    "01": ("生成式模型概论", "Overview of generative models", None),
    "02": ("自回归生成模型（PixelRNN / PixelCNN）", "Autoregressive models (PixelRNN / PixelCNN)", "pixelcnn"),
    "03": ("变分自编码器", "Variational autoencoders", "vae"),
    "04": ("扩散模型", "Diffusion models", "ddpm"),
    "05": ("生成对抗网络", "Generative adversarial networks", "gan"),
    "06": ("条件生成式模型", "Conditional generative models", "conditional"),
}
BEYOND = {"zh": "讲义之外", "en": "Beyond the slides"}
BEYOND_ASSIGNMENTS = {"07": "flow"}           # a unit beyond the slides → its assignment
PLUMBING = {"i18n", "viz", "data", "train"}   # every unit uses them (labels, plots, data, loops): no unit's subject
CHAPTER = re.compile(r"^(第\s*7\s*章|Chapter\s*7)\s*[·:：]\s*")


@dataclass
class Notebook:
    """One lecture notebook in both editions."""

    section: str                           # "04" (from the source's name "04a_…")
    paths: dict[str, Path]                 # {"zh": notebooks/zh/….ipynb, "en": …}
    titles: dict[str, str]                 # the first heading, without "第 7 章 · " / "Chapter 7 · "
    colab: dict[str, str]                  # the notebook's own "Open in Colab" link
    modules: list[str]                     # the coursekit modules its code imports, in order

    def stem(self, lang: str) -> str:
        return self.paths[lang].stem


def _imported_modules(code: str) -> list[str]:
    """Top-level coursekit modules a code cell imports (``from coursekit import diffusion as D`` → diffusion)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:                     # a cell with %magic
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "coursekit":
            parts = node.module.split(".")
            found += [parts[1]] if len(parts) > 1 else [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name.split(".")[1] for a in node.names if a.name.startswith("coursekit.")]
    return found


def notebooks() -> list[Notebook]:
    """Every lecture notebook, in course order, from notebooks/src (a new unit appears when its source lands)."""
    out = []
    for src in build.sources():
        meta, cells = build.parse(src)
        paths = {lang: ROOT / "notebooks" / lang / meta[lang] for lang in build.LANGS}
        missing = [str(p.relative_to(ROOT)) for p in paths.values() if not p.exists()]
        if missing:
            raise SystemExit(f"site: {src.name} has no notebook {', '.join(missing)}: run python notebooks/build.py")
        first = next(text for kind, text in cells if kind == "markdown")
        titles = {lang: CHAPTER.sub("", next((line[2:].strip() for line in first[lang].splitlines()
                                              if line.startswith("# ")), paths[lang].stem)) for lang in build.LANGS}
        colab = {}
        for lang, path in paths.items():
            badge = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
            colab[lang] = m.group(1) if (m := COLAB_LINK.search(badge)) else ""
        modules: list[str] = []
        for kind, text in cells:
            if kind == "code":
                modules += [m for m in _imported_modules(text) if m not in modules and m not in PLUMBING]
        out.append(Notebook(src.name[:2], paths, titles, colab, modules))
    return out


BADGE_IMAGE = re.compile(r"\[!\[([^\]]*)\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]")
COLAB_LINK = re.compile(r"\)\]\((https://colab\.research\.google\.com/[^)\s]+)\)")   # [![badge](svg)](this)
WIDGET = "application/vnd.jupyter.widget-view+json"
STATIC_NOTE = {
    "zh": "网页上显示的是这个交互控件的静态图片；"
          '<a class="reference external" href="{url}">在 Colab 中打开本 notebook</a>'
          "（或在本机的 JupyterLab 中运行）即可拖动、输入，并看到图随之变化。",
    "en": "The site shows a static picture of this widget: "
          '<a class="reference external" href="{url}">open this notebook in Colab</a> '
          "(or run it in JupyterLab on your machine) to move its controls and watch the figure change.",
}
LANG_ATTRIBUTE = {"zh": "zh-CN", "en": "en"}


def execute_stale(paths: list[Path], jobs: int) -> dict[Path, Path]:
    """Execute, ``jobs`` at a time, the notebooks whose executed copy is missing or stale (notebooks/execute.py);
    {notebook: its executed copy} for those."""
    stale = [path for path in paths if execute.cached(path) is None]
    if not stale:
        return {}
    start = time.monotonic()
    print(f"site: executing {len(stale)} notebooks without a current executed copy, {jobs} at a time", flush=True)

    def run(path: Path) -> Path:
        began = time.monotonic()
        out = execute.execute(path)
        print(f"site: executed {path.relative_to(ROOT)} ({time.monotonic() - began:.0f} s)", flush=True)
        return out

    with ThreadPoolExecutor(max_workers=jobs) as pool:       # each job is a kernel process of its own
        futures = [pool.submit(run, path) for path in stale]
    failures = [str(future.exception()) for future in futures if future.exception() is not None]
    if failures:                                              # reported once every notebook has run
        raise SystemExit("site: a notebook failed, the site is not built:\n" + "\n".join(failures))
    print(f"site: executed {len(stale)} notebooks in {time.monotonic() - start:.0f} s", flush=True)
    return {path: future.result() for path, future in zip(stale, futures)}


def note_widgets(nb: dict, lang: str, colab_url: str) -> int:
    """Under every widget output, a note in the edition's language: the site shows its static picture, Colab runs
    it (an HTML output right after the widget's, so it sits under the picture). The number of widgets."""
    text = STATIC_NOTE[lang].format(url=html.escape(colab_url, quote=True))
    note = {"output_type": "display_data", "metadata": {},
            "data": {"text/html": f'<p class="static-widget-note" lang="{LANG_ATTRIBUTE[lang]}">{text}</p>'}}
    count = 0
    for cell in nb["cells"]:
        outputs = cell.get("outputs", [])
        for i in reversed(range(len(outputs))):
            if WIDGET in outputs[i].get("data", {}):
                outputs.insert(i + 1, json.loads(json.dumps(note)))
                count += 1
    return count


def stage_notebook(notebook: Notebook, lang: str, executed: Path | None = None) -> Path:
    """Copy the executed notebook (``executed``, else its current cached copy, else the plain one) into the site;
    the Colab badge becomes a text link (its image lives on Google's server, and the site must not load anything
    from the network), and every widget gets its static-picture note."""
    path = notebook.paths[lang]
    nb = json.loads((executed or execute.cached(path) or path).read_text(encoding="utf-8"))
    badge, install = nb["cells"][0], nb["cells"][1]
    # the site keeps the Colab link, not the maintainers' note under it, and hides the Colab-only install cell
    badge["source"] = BADGE_IMAGE.sub(r"[\1]", "".join(badge["source"]).split("\n\n")[0])
    install.setdefault("metadata", {})["tags"] = ["remove-cell"]
    note_widgets(nb, lang, notebook.colab[lang])
    dest = STAGE / path.parent.name / path.name
    dest.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    return dest


# ---- the home page and each edition's front page ------------------------------------------------------------

def units(nbs: list[Notebook]) -> list[tuple[str, dict[str, str], str | None, list[Notebook]]]:
    """(section, {lang: unit title}, assignment, notebooks) in course order."""
    out = []
    for section in dict.fromkeys(nb.section for nb in nbs):
        members = [nb for nb in nbs if nb.section == section]
        if section in SECTIONS:
            zh, en, assignment = SECTIONS[section]
            titles = {"zh": zh, "en": en}
        else:                                   # beyond the slides: the unit is named by its notebook
            titles = {lang: BEYOND[lang] + ("：" if lang == "zh" else ": ") + beyond_subject(members[0], lang)
                      for lang in build.LANGS}
            assignment = BEYOND_ASSIGNMENTS.get(section)
        out.append((section, titles, assignment, members))
    return out


def beyond_subject(nb: Notebook, lang: str) -> str:
    """A unit beyond the slides by its subject: its title without a leading "讲义之外：" / "Beyond the slides:"."""
    return re.sub(rf"^{re.escape(BEYOND[lang])}\s*[:：]\s*", "", nb.titles[lang], flags=re.I)


def assignment_title(name: str) -> dict[str, str]:
    """{lang: title} from the assignment notebook's first heading ("作业：… / Assignment: …")."""
    nb = json.loads((ROOT / "assignments" / name / f"{name}.ipynb").read_text(encoding="utf-8"))
    heading = next((line[2:] for line in "".join(nb["cells"][0]["source"]).splitlines() if line.startswith("# ")),
                   name)
    zh, _, en = heading.partition(" / ")
    return {"zh": zh.strip() or name, "en": (en or zh).strip() or name}


def assignment_colab(name: str) -> str:
    setting = build.colab_setting()
    return (f"https://colab.research.google.com/github/{setting['repository']}/blob/{setting['branch']}/"
            f"assignments/{name}/{name}.ipynb")


def assignments() -> list[str]:
    names = [a for _, (_, _, a) in SECTIONS.items() if a] + list(BEYOND_ASSIGNMENTS.values())
    return [a for a in names if (ROOT / "assignments" / a / f"{a}.ipynb").exists()]


TEXT = {
    "zh": {
        "title": "深度生成模型（中文版）", "switch": "English", "other": "en", "colab": "在 Colab 中打开",
        "intro": "中国科学技术大学《第 7 章：概率图模型和深度生成模型》讲义的交互式配套课程，中文版。"
                 "每个 notebook 讲一节讲义：公式旁边就是计算它的代码，图来自真实运行；"
                 "都能在 2 核 CPU 上离线几分钟内从头运行到尾，也可以在 Colab 中打开。"
                 "网页上的 notebook 是一次完整运行的结果，可以直接阅读。",
        "map": "课程地图", "cols": "| 单元与作业 | notebook | `coursekit` 模块 |", "task": "作业",
        "how": "怎样学",
        "how_text": "按单元顺序学：先读讲义的对应章节，再打开 notebook 从上到下运行（交互控件需要运行中的 Jupyter 或 "
                    "Colab），每个 notebook 末尾有 3–5 个可直接运行的练习并写明实测的预期结果；最后做这一单元的作业。"
                    "代码中用到的 `coursekit` 函数都链接到 [API 参考](../api/index.md)。",
        "run": "运行方式",
        "local": "**在本机**（Linux / macOS，Python 3.10+，不需要 GPU）：",
        "local_after": "打开任一 notebook，选择 Run → Run All Cells。默认设置面向 2 核 CPU；在 GPU 上设 `BIG = True` "
                       "训练更久。",
        "colab_text": "**在 Colab 中**：点击每个 notebook 顶部的“在 Colab 中打开”链接（也在上面的课程地图中）；"
                      "第一个代码单元格只在 Colab 中安装 `coursekit`（带中文字体）。",
        "hw": "作业",
        "hw_text": "作业都在课程仓库的 `assignments/<名称>/<名称>.ipynb`（nbgrader 格式，中英双语）。"
                   "可见测试可以在任何环境（包括 Colab）中自查，并用中英文提示可能的错误；"
                   "提交方式与截止日期由任课教师通知，评分用教师的隐藏测试。",
        "more": "更多", "docs": "文档（命令行、比较表、GAN 与文生图的实验记录）", "glossary": "中英术语表",
        "api": "API 参考（`coursekit` 的每个公开函数与类）", "home": "课程首页",
    },
    "en": {
        "title": "Deep generative models (English edition)", "switch": "中文", "other": "zh", "colab": "Open in Colab",
        "intro": "The English edition of an interactive companion to the USTC lecture slides *Chapter 7: probabilistic "
                 "graphical models and deep generative models*. Each notebook is one section of the slides: every "
                 "formula next to the code that computes it, figures from a real run; each runs top to bottom offline "
                 "on a 2-core CPU in minutes, or in Colab. The notebooks on this site are a complete run: read them "
                 "as they are.",
        "map": "Course map", "cols": "| unit and assignment | notebooks | `coursekit` modules |", "task": "assignment",
        "how": "How to study",
        "how_text": "Unit by unit: read the section of the slides, then open the notebook and run it top to bottom "
                    "(the widgets need a running Jupyter or Colab); each notebook ends with 3–5 exercises that run as "
                    "they are, each with a measured expected outcome; then do the unit's assignment. Every "
                    "`coursekit` function the code uses links to the [API reference](../api/index.md).",
        "run": "Running the notebooks",
        "local": "**On your machine** (Linux / macOS, Python 3.10+, no GPU needed):",
        "local_after": "Open a notebook, then Run → Run All Cells. The defaults are sized for a 2-core CPU; "
                       "`BIG = True` trains longer on a GPU.",
        "colab_text": "**In Colab**: follow the \"Open in Colab\" link at the top of each notebook (also in the course "
                      "map above); its first code cell installs `coursekit` (with a CJK font) on Colab only.",
        "hw": "Assignments",
        "hw_text": "The assignments are `assignments/<name>/<name>.ipynb` in the course repository (nbgrader, "
                   "bilingual). Their visible tests check your work anywhere, Colab included, and say in both "
                   "languages what is likely wrong; your instructor tells you how and when to hand in, and grades "
                   "with hidden tests.",
        "more": "More", "docs": "Docs (the command line, the comparison table, the GAN and text-to-image notes)",
        "glossary": "zh/en glossary", "api": "API reference (every public function and class of `coursekit`)",
        "home": "Course home",
    },
}


def local_commands(lang: str) -> str:
    repo = build.colab_setting()["repository"]
    return (f"```bash\ngit clone https://github.com/{repo}.git && cd {repo.split('/')[-1]}\n"
            f"bash scripts/setup.sh          # .venv: coursekit, PyTorch, JupyterLab\n"
            f".venv/bin/jupyter lab notebooks/{lang}\n```\n")


def landing(lang: str, nbs: list[Notebook]) -> str:
    """An edition's front page: the course map (every unit, its notebooks by title, assignment, modules), how to
    study, how to run, the assignments."""
    t = TEXT[lang]
    sep = "、" if lang == "zh" else ", "
    rows = []
    for section, titles, assignment, members in units(nbs):
        links = "<br>".join(f"[{nb.stem(lang).split('_')[0]} · {nb.titles[lang]}](<{nb.stem(lang)}.ipynb>)"
                            for nb in members)
        task = f"<br>{t['task']} {{ref}}`{assignment} <assignments-{lang}>`" if assignment in assignments() else ""
        modules = list(dict.fromkeys(m for nb in members for m in nb.modules))
        mods = sep.join(f"[{m}](../api/{m}.md)" if m in api_reference.groups() else f"`{m}`" for m in modules)
        rows.append(f"| **{section} {titles[lang]}**{task} | {links} | {mods or '—'} |")
    tasks = "\n".join(f"- **`{name}`** {assignment_title(name)[lang]}: `assignments/{name}/{name}.ipynb` · "
                      f"[{t['colab']}]({assignment_colab(name)})" for name in assignments())
    toc = "\n".join(nb.stem(lang) for nb in nbs)
    return (f"# {t['title']}\n\n{t['intro']}\n\n## {t['map']}\n\n{t['cols']}\n|---|---|---|\n"
            + "\n".join(rows) + f"\n\n## {t['how']}\n\n{t['how_text']}\n\n## {t['run']}\n\n{t['local']}\n\n"
            + local_commands(lang) + f"\n{t['local_after']}\n\n{t['colab_text']}\n\n"
            + f"(assignments-{lang})=\n## {t['hw']}\n\n{t['hw_text']}\n\n{tasks}\n\n"
            + f"## {t['more']}\n\n- [{t['docs']}](../docs/index.md)\n- [{t['glossary']}](../docs/glossary.md)\n"
            + f"- [{t['api']}](../api/index.md)\n- [{t['home']}](../index.md)\n\n"
            + f"```{{toctree}}\n:hidden:\n:maxdepth: 1\n\n{toc}\n```\n")


HOME = {
    "zh": {
        "what": "中国科学技术大学《第 7 章：概率图模型和深度生成模型》讲义的交互式配套课程。"
                "按讲义的顺序，从最大似然讲到自回归模型、变分自编码器、扩散模型、生成对抗网络与条件生成式模型{beyond}。"
                "每个公式旁边就是计算它的代码（小型 PyTorch 库 `coursekit`），"
                "每个结论都在手写数字或二维数据上实际跑出来；每个 notebook 都有中文版与英文版。",
        "units": "课程内容", "who": "适合谁",
        "who_text": "学习这一章的本科生与研究生，以及想从公式到代码弄懂生成式模型的读者。"
                    "需要 Python 与一点 PyTorch（张量、`nn.Module`、训练循环），"
                    "概率（期望、高斯分布、KL 散度、贝叶斯公式），以及微积分与线性代数的基础。"
                    "不需要 GPU：默认设置在 2 核笔记本 CPU 上几分钟跑完一个 notebook。",
        "run": "怎样运行",
        "run_text": "直接在本网站上阅读（每页都是一次完整运行的结果，交互控件显示为静态图片）；"
                    "在 Colab 中打开任一 notebook（每页顶部的链接）；或者在本机：",
        "hw": "作业",
        "hw_text": "{n} 个作业（nbgrader 格式，中英双语）在课程仓库的 `assignments/` 下：{list}。"
                   "每个作业的可见测试可在 Colab 中自查；链接与提交方式见[中文版首页](zh/index.md)。",
        "start": "从这里开始",
        "start_text": "**[中文版课程 → 课程地图](zh/index.md)** · [API 参考](api/index.md) · "
                      "[文档与术语表](docs/index.md)",
        "beyond": "，再走出讲义：", "sep": "、", "colon": "：",
    },
    "en": {
        "what": "An interactive companion to the USTC lecture slides *Chapter 7: probabilistic graphical models and "
                "deep generative models*. In the order of the slides it goes from maximum likelihood to autoregressive "
                "models, variational autoencoders, diffusion models, generative adversarial networks and conditional "
                "models{beyond}. Every formula sits next to the code that computes it (the small PyTorch package "
                "`coursekit`), every claim is run on handwritten digits or 2-D data, and every notebook comes in a "
                "Chinese and an English edition.",
        "units": "What the course covers", "who": "For whom",
        "who_text": "Students taking this chapter (undergraduate or graduate), and anyone who wants to understand "
                    "generative models from the formula to the code. You need Python and a little PyTorch (tensors, "
                    "`nn.Module`, a training loop), probability (expectations, Gaussians, the KL divergence, Bayes' "
                    "rule) and basic calculus and linear algebra. No GPU: the defaults run a notebook in minutes on "
                    "a 2-core laptop CPU.",
        "run": "How to run it",
        "run_text": "Read it here (every page is a complete run; widgets appear as static pictures); open any "
                    "notebook in Colab (the link at the top of each page); or on your machine:",
        "hw": "Assignments",
        "hw_text": "{n} assignments (nbgrader, bilingual) are under `assignments/` in the course repository: {list}. "
                   "Their visible tests check your work in Colab too; links and how to hand in: the "
                   "[English edition's front page](en/index.md).",
        "start": "Start here",
        "start_text": "**[English course → the course map](en/index.md)** · [API reference](api/index.md) · "
                      "[docs and glossary](docs/index.md)",
        "beyond": ", then beyond the slides: ", "sep": ", ", "colon": ": ",
    },
}


def home(nbs: list[Notebook]) -> str:
    """The site's front door, in both languages (sections 中文 / English under the bilingual switch)."""
    parts = ["# 深度生成模型 · Deep Generative Models\n"]
    for lang, heading in (("zh", "中文"), ("en", "English")):
        h = HOME[lang]
        lines = []
        for section, titles, _, members in units(nbs):
            pages = "; ".join(f"[{nb.titles[lang]}](<{lang}/{nb.stem(lang)}.ipynb>)" for nb in members)
            lines.append(f"- **{section} {titles[lang]}**{h['colon']}{pages}")
        beyond = [beyond_subject(nb, lang) for nb in nbs if nb.section not in SECTIONS]
        what = h["what"].format(beyond=h["beyond"] + h["sep"].join(beyond) if beyond else "")
        tasks = h["hw_text"].format(n=len(assignments()), list=h["sep"].join(f"`{a}`" for a in assignments()))
        parts.append(f"## {heading}\n\n{what}\n\n### {h['units']}\n\n" + "\n".join(lines)
                     + f"\n\n### {h['who']}\n\n{h['who_text']}\n\n### {h['run']}\n\n{h['run_text']}\n\n"
                     + local_commands(lang) + f"\n### {h['hw']}\n\n{tasks}\n\n### {h['start']}\n\n{h['start_text']}\n")
    parts.append("```{toctree}\n:hidden:\n:maxdepth: 1\n\nzh/index\nen/index\ndocs/index\napi/index\n```\n")
    return "\n".join(parts)


def docs_pages() -> list[str]:
    """The public docs (never docs/answers/ or the instructor guide: PRIVATE_DOCS), the glossary (docs/glossary.md,
    a copy of the team's shared glossary kept in the repository so a fresh clone has it) included."""
    dest = STAGE / "docs"
    dest.mkdir()
    names = []
    for path in sorted((ROOT / "docs").glob("*.md")):
        if path.name not in PRIVATE_DOCS:
            shutil.copy(path, dest / path.name)
            names.append(path.stem)
    index = ("# 文档 / Docs\n\n```{toctree}\n:maxdepth: 1\n\n" + "\n".join(n for n in names) + "\n```\n")
    (dest / "index.md").write_text(index, encoding="utf-8")
    return names


def api_pages() -> list[str]:
    """api/index.md and one page per top-level coursekit module (site/_ext/api_reference.py)."""
    (STAGE / "api").mkdir()
    written = api_reference.pages()
    for name, text in written.items():
        (STAGE / "api" / name).write_text(text, encoding="utf-8")
    return list(written)


def _favicon(path: Path) -> None:
    """A 32×32 icon drawn here (a noisy digit-like blob), so the repository carries no binary for it."""
    import numpy as np
    from PIL import Image

    yy, xx = np.mgrid[-1:1:32j, -1:1:32j]
    ring = np.exp(-((np.hypot(xx, yy) - 0.6) ** 2) / 0.02)
    rgb = np.stack([0.15 + 0.7 * ring, 0.3 + 0.5 * ring, 0.9 - 0.3 * ring], axis=-1)
    Image.fromarray((255 * np.clip(rgb, 0, 1)).astype(np.uint8)).save(path)


def stage(run: bool, jobs: int = 1) -> dict[str, dict[str, str]]:
    shutil.rmtree(STAGE, ignore_errors=True)
    shutil.copytree(SITE_CONF, STAGE, ignore=shutil.ignore_patterns("__pycache__"))
    _favicon(STAGE / "_static" / "favicon.png")
    mathjax = importlib.util.find_spec("sphinx-mathjax-offline")   # MathJax 3, packaged for offline Sphinx sites
    if mathjax is None or not mathjax.submodule_search_locations:
        raise SystemExit("site: MathJax is missing: pip install -e '.[site]' (bash scripts/site.sh does it)")
    shutil.copytree(Path(next(iter(mathjax.submodule_search_locations))) / "static" / "mathjax",
                    STAGE / "_static" / "mathjax")
    nbs = notebooks()
    executed = execute_stale([path for nb in nbs for path in nb.paths.values()], jobs) if run else {}
    twins: dict[str, dict[str, str]] = {}
    for lang in build.LANGS:
        (STAGE / lang).mkdir()
        (STAGE / lang / "index.md").write_text(landing(lang, nbs), encoding="utf-8")
    for nb in nbs:
        for lang, path in nb.paths.items():
            stage_notebook(nb, lang, executed.get(path))
            other = TEXT[lang]["other"]
            twins[f"{lang}/{path.stem}"] = {"page": f"{other}/{nb.stem(other)}", "lang": other,
                                            "text": TEXT[lang]["switch"]}
    for lang in build.LANGS:
        other = TEXT[lang]["other"]
        twins[f"{lang}/index"] = {"page": f"{other}/index", "lang": other, "text": TEXT[lang]["switch"]}
    docs_pages()
    api_pages()
    (STAGE / "index.md").write_text(home(nbs), encoding="utf-8")
    (STAGE / "twins.json").write_text(json.dumps(twins, ensure_ascii=False, indent=1), encoding="utf-8")
    return twins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-execute", action="store_true",
                        help="do not execute notebooks lacking a current executed copy (they appear without outputs)")
    parser.add_argument("--jobs", type=positive_int, default=min(os.cpu_count() or 1, 4),
                        help="stale notebooks executed at once (default: the CPUs, at most 4)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    start = time.monotonic()
    stage(run=not args.no_execute, jobs=args.jobs)
    staged_out = args.out.with_name(args.out.name + ".new")
    shutil.rmtree(staged_out, ignore_errors=True)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    done = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "1", str(STAGE), str(staged_out)],
                          env=env)
    if done.returncode != 0:
        print(f"site: sphinx-build failed ({done.returncode}); {args.out} left as it was", file=sys.stderr)
        return 1
    shutil.rmtree(args.out, ignore_errors=True)                    # replace only after a successful build
    os.replace(staged_out, args.out)
    pages = sorted(p.relative_to(args.out).as_posix() for p in args.out.rglob("*.html") if "_static" not in p.parts)
    print(f"site: {len(pages)} pages in {args.out} ({time.monotonic() - start:.0f} s); open "
          f"{quote(str(args.out / 'index.html'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
