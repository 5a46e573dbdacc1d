"""Build the course site (zh/en) into ``_build/site/`` from the same notebooks, docs and docstrings.

    python scripts/site.py                 # stage _build/site-src, then sphinx-build → _build/site
    python scripts/site.py --no-execute    # notebooks without outputs where no executed copy is cached
    python scripts/site.py --jobs 2        # how many stale notebooks execute at once (default: CPUs, at most 4)

Notebook outputs come from ``notebooks/execute.py``'s cache (``_build/executed``): a notebook whose executed copy
is current is not run again, so a rebuild without changes does not retrain; the stale ones are executed first,
``--jobs`` at a time (each notebook trains on one thread). The cache is keyed by the notebook and every coursekit
source, so a fresh clone, or any change to coursekit, executes all 22 of them: about 15 CPU-minutes (both editions),
so some 8 minutes on 2 cores; a build from current copies takes about 20 CPU-seconds.
The instructors' exercise answers (``docs/answers/``) are not published.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
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

# slides section → (Chinese title, English title, assignment, coursekit modules)
SECTIONS = {
    "01": ("生成式模型概论", "Overview of generative models", None, "density, compare, metrics"),
    "02": ("自回归生成模型（PixelRNN / PixelCNN）", "Autoregressive models (PixelRNN / PixelCNN)", "pixelcnn",
           "autoregressive"),
    "03": ("变分自编码器", "Variational autoencoders", "vae", "vae"),
    "04": ("扩散模型", "Diffusion models", "ddpm", "diffusion, nets, recipes"),
    "05": ("生成对抗网络", "Generative adversarial networks", "gan", "gan"),
    "06": ("条件生成式模型", "Conditional generative models", "conditional",
           "gan (pix2pix, CycleGAN), vae.CVAE, diffusion (guidance), autoregressive (class-conditional)"),
}
API_MODULES = ["data", "nets", "diffusion", "autoregressive", "vae", "gan", "train", "recipes", "metrics",
               "compare", "viz", "widgets", "i18n", "grading"]
TEXT = {
    "zh": {"title": "深度生成模型（中文）", "switch": "English", "other": "en",
           "intro": "中国科学技术大学《第 7 章：概率图模型和深度生成模型》讲义的交互式配套课程。每个 notebook 都可以在 "
                    "2 核 CPU 上离线几分钟内从头运行到尾，也可以在 Colab 中打开（页面中的图来自一次真实运行）。",
           "map": "课程地图", "cols": "| 讲义章节 | notebook | 作业 | `coursekit` 模块 |",
           "more": "更多", "docs": "文档（教师指南、命令行、比较表）", "glossary": "中英术语表", "api": "API 参考",
           "colab": "在 Colab 中打开"},
    "en": {"title": "Deep generative models (English)", "switch": "中文", "other": "zh",
           "intro": "An interactive companion to the USTC lecture slides *Chapter 7: probabilistic graphical models "
                    "and deep generative models*. Every notebook runs top to bottom offline on a 2-core CPU in "
                    "minutes, or in Colab (the figures on these pages come from a real run).",
           "map": "Course map", "cols": "| slides section | notebooks | assignment | `coursekit` modules |",
           "more": "More", "docs": "Docs (instructor guide, commands, comparison table)", "glossary":
           "zh/en glossary", "api": "API reference", "colab": "Open in Colab"},
}


def notebooks() -> list[tuple[str, dict[str, Path]]]:
    """(section, {lang: notebook path}) for every source, in course order."""
    out = []
    for src in build.sources():
        meta, _ = build.parse(src)
        out.append((src.name[:2], {lang: ROOT / "notebooks" / lang / meta[lang] for lang in build.LANGS}))
    return out


BADGE_IMAGE = re.compile(r"\[!\[([^\]]*)\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]")


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


def stage_notebook(path: Path, executed: Path | None = None) -> Path:
    """Copy the executed notebook (``executed``, else its current cached copy, else the plain one) into the site;
    the Colab badge becomes a text link (its image lives on Google's server, and the site must not load anything
    from the network)."""
    nb = json.loads((executed or execute.cached(path) or path).read_text(encoding="utf-8"))
    badge, install = nb["cells"][0], nb["cells"][1]
    # the site keeps the Colab link, not the maintainers' note under it, and hides the Colab-only install cell
    badge["source"] = BADGE_IMAGE.sub(r"[\1]", "".join(badge["source"]).split("\n\n")[0])
    install.setdefault("metadata", {})["tags"] = ["remove-cell"]
    dest = STAGE / path.parent.name / path.name
    dest.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    return dest


def landing(lang: str, nbs: list[tuple[str, dict[str, Path]]]) -> str:
    t = TEXT[lang]
    setting = build.colab_setting()
    rows = []
    for section, (zh, en, assignment, modules) in SECTIONS.items():
        pages = [paths[lang] for sec, paths in nbs if sec == section]
        links = ", ".join(f"[{p.stem}](<{p.stem}.ipynb>)" for p in pages) or "—"
        if assignment and (ROOT / "assignments" / assignment).is_dir():
            url = (f"https://colab.research.google.com/github/{setting['repository']}/blob/{setting['branch']}/"
                   f"assignments/{assignment}/{assignment}.ipynb")
            task = f"`{assignment}` ([{t['colab']}]({url}))"
        else:
            task = "—"
        rows.append(f"| {zh if lang == 'zh' else en} | {links} | {task} | `{modules}` |")
    toc = "\n".join(paths[lang].stem for _, paths in nbs)
    return (f"# {t['title']}\n\n{t['intro']}\n\n## {t['map']}\n\n{t['cols']}\n|---|---|---|---|\n"
            + "\n".join(rows) + f"\n\n## {t['more']}\n\n- [{t['docs']}](../docs/index.md)\n"
            f"- [{t['glossary']}](../docs/glossary.md)\n- [{t['api']}](../api/index.md)\n\n"
            f"```{{toctree}}\n:hidden:\n:maxdepth: 1\n\n{toc}\n```\n")


def api_page() -> str:
    parts = ["# API 参考 / API reference\n\n`coursekit`'s public functions and classes, generated from their "
             "docstrings (each cites the slide formula it computes).\n"
             "/ 由 docstring 生成，每个函数注明它计算的讲义公式。\n"]
    for name in API_MODULES:
        parts.append(f"## `coursekit.{name}`\n\n```{{eval-rst}}\n.. automodule:: coursekit.{name}\n   :members:\n"
                     f"   :imported-members:\n   :no-index:\n```\n")
    return "\n".join(parts)


def docs_pages() -> list[str]:
    dest = STAGE / "docs"
    dest.mkdir()
    names = []
    for path in sorted((ROOT / "docs").glob("*.md")):           # docs/answers/ (instructors only) is left out
        shutil.copy(path, dest / path.name)
        names.append(path.stem)
    glossary = ROOT.parent / "shared" / "glossary.md"
    if "glossary" not in names and glossary.exists():
        shutil.copy(glossary, dest / "glossary.md")
        names.append("glossary")
    index = ("# 文档 / Docs\n\n```{toctree}\n:maxdepth: 1\n\n" + "\n".join(n for n in names) + "\n```\n")
    (dest / "index.md").write_text(index, encoding="utf-8")
    return names


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
    executed = execute_stale([path for _, paths in nbs for path in paths.values()], jobs) if run else {}
    twins: dict[str, dict[str, str]] = {}
    for lang in build.LANGS:
        (STAGE / lang).mkdir()
        (STAGE / lang / "index.md").write_text(landing(lang, nbs), encoding="utf-8")
    for _, paths in nbs:
        for lang, path in paths.items():
            stage_notebook(path, executed.get(path))
            other = TEXT[lang]["other"]
            twins[f"{lang}/{path.stem}"] = {"page": f"{other}/{paths[other].stem}", "lang": other,
                                            "text": TEXT[lang]["switch"]}
    for lang in build.LANGS:
        other = TEXT[lang]["other"]
        twins[f"{lang}/index"] = {"page": f"{other}/index", "lang": other, "text": TEXT[lang]["switch"]}
    docs_pages()
    (STAGE / "api").mkdir()
    (STAGE / "api" / "index.md").write_text(api_page(), encoding="utf-8")
    (STAGE / "index.md").write_text(
        "# 深度生成模型 · Deep Generative Models\n\n"
        "- **[中文版课程](zh/index.md)**：讲义、交互式 notebook、作业与术语表。\n"
        "- **[English course](en/index.md)**: lectures, interactive notebooks, assignments and the glossary.\n\n"
        "```{toctree}\n:hidden:\n:maxdepth: 1\n\nzh/index\nen/index\ndocs/index\napi/index\n```\n", encoding="utf-8")
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
