"""The class report: what a class got wrong, in one self-contained page (and a CSV beside it).

    coursekit grade report ddpm            # → reports/ddpm.html and reports/ddpm.csv in the course root

From the gradebook and the graded notebooks (nothing is executed again):

- the score distribution and, per part, the share of full, partial and zero scores;
- per part, the **diagnosed mistakes, counted**: failing submissions grouped by the hint their failing test printed
  (:mod:`coursekit.grading.diagnosis`), so a lecturer sees what to explain again; failures no hint explains are
  listed with the first line of their error;
- failures by kind (wrong answer, exception, timeout, kernel died, missing cell, output on stderr) and the grading
  time of each submission (its cells' execution time, the kernel's start not included);
- the manually graded parts' state: graded, or waiting in Formgrader (an export now counts those as 0);
- late submissions and their penalties; rostered students who never submitted;
- similarity: pairs of submissions that share most of their own code, and answers that copy coursekit's source
  (:mod:`coursekit.grading.similarity`).

The page has no external resource (inline SVG plots, inline CSS and a few lines of script to switch between 中文,
English and both); without script both languages show.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import os
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import diagnosis, similarity
from .diagnosis import KINDS, Part

STATUS = {"graded": ("已评分", "graded"), "failed": ("评分失败（内核崩溃）", "grading failed (kernel died)"),
          "not graded": ("已提交，未评分", "submitted, not graded yet"),
          "not submitted": ("未提交", "never submitted")}
SOLUTION = "(instructor's solution)"
WRITTEN = {"graded": ("已评分", "graded"), "waiting": ("待人工评分", "waiting in Formgrader"),
           "blank": ("未作答（0 分）", "blank (0)")}


@dataclass
class StudentRow:
    student: str
    status: str
    total: float | None = None
    late_penalty: float = 0.0
    seconds_late: float = 0.0
    parts: dict[str, Part] = field(default_factory=dict)
    written: dict[str, tuple[float | None, float, str]] = field(default_factory=dict)
    seconds: float | None = None
    failure: str = ""


@dataclass
class ClassData:
    assignment: str
    max_score: float
    parts: dict[str, float]                  # autograded test cells in notebook order: points
    written: dict[str, float]                # manually graded cells: points
    rows: list[StudentRow]
    pairs: list[similarity.Pair]
    copies: list[similarity.Copy]
    solution_copies: list[similarity.Pair]   # b is SOLUTION: a student's code is the instructor's solution
    threshold: float
    generated: str


# --- collecting ---------------------------------------------------------------------------------------------------

def _config(root: Path) -> tuple[str, str]:
    from .execution import _config_value

    return _config_value(root, "source_directory", "source"), _config_value(root, "release_directory", "release")


def _order(root: Path, source_dir: str, assignment: str) -> tuple[dict[str, float], dict[str, float], list[str],
                                                                   dict[str, str]]:
    """(autograded tests, written parts, notebook names, the answer cell of each test) of the source, in notebook
    order, with their points."""
    tests, written, names, answer_for = {}, {}, [], {}
    for path in sorted((root / source_dir / assignment).glob("*.ipynb")):
        names.append(path.stem)
        source = nbformat.read(path, as_version=4)
        answer_for.update(diagnosis.answer_cells(source))
        for cell in source.cells:
            meta = cell.metadata.get("nbgrader", {})
            if diagnosis.is_test(cell):
                tests[meta["grade_id"]] = float(meta.get("points", 0))
            elif diagnosis.is_written(cell) and meta.get("grade_id"):
                written[meta["grade_id"]] = float(meta.get("points", 0))
    return tests, written, names, answer_for


def _submitted_ids(path: Path) -> set[str] | None:
    if not path.is_file():
        return None
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        return set()
    return {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells} - {None}


def _failure_text(root: Path, assignment: str, student: str) -> str:
    from .nbhooks import failure_record

    path = failure_record(root, assignment, student)
    if path.is_file():
        info = json.loads(path.read_text(encoding="utf-8"))
        return f"cell {info.get('cell') or '?'}: {info.get('error')}: {info.get('message')}"
    return "nbgrader kept no graded notebook (the kernel died)"


def collect_class(root: str | Path, assignment: str) -> ClassData:
    """Everything the report shows, read from the gradebook, autograded/ and submitted/."""
    from nbgrader.api import Gradebook, MissingEntry

    from .execution import _db_url
    from .nbhooks import written_state

    root = Path(root).resolve()
    source_dir, release_dir = _config(root)
    tests, written, names, answer_for = _order(root, source_dir, assignment)
    rows: dict[str, StudentRow] = {}
    answers: dict[str, dict[str, str]] = {}
    with Gradebook(_db_url(root)) as gb:
        try:
            max_score = float(gb.find_assignment(assignment).max_score)
        except MissingEntry:
            raise ValueError(f"assignment: {assignment!r} is not in the gradebook "
                             f"(nbgrader generate_assignment {assignment} first)") from None
        roster = [s.id for s in gb.students]
        for sub in gb.assignment_submissions(assignment):
            row = StudentRow(sub.student_id, "graded", float(sub.score),
                             float(sub.late_submission_penalty or 0), float(sub.total_seconds_late or 0))
            scores, points = {}, {}
            for nb in sub.notebooks:
                for grade in nb.grades:
                    scores[grade.name], points[grade.name] = grade.score, grade.max_score
                    if grade.cell.cell_type == "markdown":
                        row.written[grade.name] = (grade.score, float(grade.max_score), written_state(grade))
            for name in names:
                graded = root / "autograded" / sub.student_id / assignment / f"{name}.ipynb"
                submitted = root / "submitted" / sub.student_id / assignment / f"{name}.ipynb"
                if not graded.is_file():
                    row.status, row.failure = "failed", _failure_text(root, assignment, sub.student_id)
                    for gid, most in tests.items():
                        row.parts[gid] = Part(gid, 0.0, most, "kernel", None, row.failure)
                    continue
                nb = nbformat.read(graded, as_version=4)
                found = diagnosis.diagnose(nb, _submitted_ids(submitted), scores, points, answer_for)
                row.parts.update(found.parts)
                row.seconds = (row.seconds or 0.0) + found.seconds if found.seconds is not None else row.seconds
                answers.setdefault(sub.student_id, {}).update(similarity.answer_sources(
                    nbformat.read(submitted, as_version=4) if submitted.is_file() else nb))
            rows[sub.student_id] = row
    submitted_dir = root / "submitted"
    for student in sorted(p.name for p in submitted_dir.iterdir()) if submitted_dir.is_dir() else []:
        if student not in rows and (submitted_dir / student / assignment).is_dir():
            rows[student] = StudentRow(student, "not graded")
    for student in roster:
        rows.setdefault(student, StudentRow(student, "not submitted"))
    templates, solution = {}, {}
    for name in names:
        release = root / release_dir / assignment / f"{name}.ipynb"
        if release.is_file():
            templates.update(similarity.answer_sources(nbformat.read(release, as_version=4)))
        solution.update(similarity.answer_sources(nbformat.read(root / source_dir / assignment / f"{name}.ipynb",
                                                                as_version=4)))
    pairs = similarity.similar_pairs({**answers, SOLUTION: solution}, templates)
    return ClassData(assignment, max_score, tests, written, sorted(rows.values(), key=lambda r: r.student),
                     [p for p in pairs if SOLUTION not in (p.a, p.b)],
                     similarity.copies_of_package(answers, templates),
                     [similarity.Pair(p.b if p.a == SOLUTION else p.a, SOLUTION, p.score, p.parts)
                      for p in pairs if SOLUTION in (p.a, p.b)],
                     similarity.THRESHOLD, dt.datetime.now().strftime("%Y-%m-%d %H:%M"))


# --- summaries ----------------------------------------------------------------------------------------------------

def part_shares(data: ClassData) -> dict[str, dict[str, int]]:
    """{part: {"full": n, "partial": n, "zero": n}} over graded and failed submissions."""
    out = {p: {"full": 0, "partial": 0, "zero": 0} for p in data.parts}
    for row in data.rows:
        for gid, part in row.parts.items():
            if gid not in out:
                continue
            score = part.score or 0.0
            out[gid]["full" if score >= part.points else "zero" if score <= 0 else "partial"] += 1
    return out


@dataclass
class Mistake:
    hint: str
    students: list[str]


def mistakes(data: ClassData) -> tuple[dict[str, list[Mistake]], list[tuple[str, str, str, str]]]:
    """({part: diagnosed mistakes, most frequent first}, [(part, student, kind, first line)] of unexplained ones).

    Failing submissions are grouped by their hint (numbers aside); a kernel that died or a deleted cell is not a
    mistake of that part and is counted under failures by kind only."""
    grouped: dict[str, dict[str, Mistake]] = {p: {} for p in data.parts}
    unexplained = []
    for row in data.rows:
        for gid, part in row.parts.items():
            if not part.failed or gid not in grouped:
                continue
            if part.hint:
                key = diagnosis.hint_key(part.hint)
                grouped[gid].setdefault(key, Mistake(part.hint, [])).students.append(row.student)
            elif part.kind not in ("kernel",):
                unexplained.append((gid, row.student, part.kind or "", part.detail))
    ordered = {p: sorted(g.values(), key=lambda m: (-len(m.students), m.hint)) for p, g in grouped.items()}
    return ordered, unexplained


def kind_counts(data: ClassData) -> dict[str, int]:
    """Failed parts per kind (a dead kernel counts once per submission)."""
    counts = Counter()
    for row in data.rows:
        if row.status == "failed":
            counts["kernel"] += 1
            continue
        counts.update(part.kind for part in row.parts.values() if part.failed)
    return {k: counts.get(k, 0) for k in KINDS}


def written_counts(data: ClassData) -> dict[str, dict[str, list[str]]]:
    out = {gid: {"graded": [], "waiting": [], "blank": []} for gid in data.written}
    for row in data.rows:
        for gid, (_, _, state) in row.written.items():
            out.setdefault(gid, {"graded": [], "waiting": [], "blank": []})[state].append(row.student)
    return out


# --- SVG ---------------------------------------------------------------------------------------------------------

COLOURS = {"full": "#2e7d32", "partial": "#f9a825", "zero": "#c62828", "bar": "#1565c0", "time": "#6a1b9a"}


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def svg_bars(labels: list[str], values: list[float], title: str, colour: str = COLOURS["bar"],
             width: int = 640, height: int = 240, y_label: str = "") -> str:
    """A vertical bar chart as inline SVG (labels under the bars, the value above each)."""
    left, bottom, top = 48, 44, 28
    n = max(1, len(values))
    most = max([v for v in values if v] + [1])
    step = (width - left - 10) / n
    parts = [f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><title>{_esc(title)}</title>',
             f'<text x="{left}" y="16" class="t">{_esc(title)}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 6}" y2="{height - bottom}" stroke="#444"/>',
             f'<text x="8" y="{top + 8}" class="s">{_esc(y_label)}</text>']
    for i, (label, value) in enumerate(zip(labels, values)):
        h = (height - bottom - top) * (value / most if most else 0)
        x = left + i * step + step * 0.1
        parts.append(f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{step * 0.8:.1f}" height="{h:.1f}" '
                     f'fill="{colour}"><title>{_esc(label)}: {value:g}</title></rect>')
        parts.append(f'<text x="{x + step * 0.4:.1f}" y="{height - bottom - h - 4:.1f}" class="v">{value:g}</text>')
        parts.append(f'<text x="{x + step * 0.4:.1f}" y="{height - bottom + 14}" class="l">{_esc(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_stacked(rows: dict[str, dict[str, int]], title: str, width: int = 640) -> str:
    """Horizontal 100 % bars: per part the share of full, partial and zero scores."""
    left, bar, gap = 150, 18, 8
    height = 40 + len(rows) * (bar + gap) + 24
    out = [f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}"><title>{_esc(title)}</title>',
           f'<text x="8" y="16" class="t">{_esc(title)}</text>']
    for i, (name, counts) in enumerate(rows.items()):
        y = 30 + i * (bar + gap)
        total = sum(counts.values()) or 1
        x = float(left)
        out.append(f'<text x="{left - 6}" y="{y + 13}" class="r">{_esc(name)}</text>')
        for key in ("full", "partial", "zero"):
            w = (width - left - 10) * counts[key] / total
            if w > 0:
                out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" fill="{COLOURS[key]}">'
                           f'<title>{_esc(name)} {key}: {counts[key]}</title></rect>')
                if w > 22:
                    out.append(f'<text x="{x + w / 2:.1f}" y="{y + 13}" class="w">{counts[key]}</text>')
            x += w
    y = height - 10
    legend = {"full": "满分 / full", "partial": "部分 / partial", "zero": "0 分 / zero"}
    for j, (key, zh_en) in enumerate(legend.items()):
        out.append(f'<rect x="{left + j * 130}" y="{y - 10}" width="12" height="12" fill="{COLOURS[key]}"/>'
                   f'<text x="{left + j * 130 + 16}" y="{y}" class="s">{zh_en}</text>')
    out.append("</svg>")
    return "".join(out)


def histogram(values: list[float], most: float, bins: int = 12) -> tuple[list[str], list[int]]:
    """Counts of ``values`` in ``bins`` equal bins over [0, most] (the last bin holds ``most``)."""
    if most <= 0:
        return ["0"], [len(values)]
    if most == int(most) and most <= 40:                   # one bin per whole point
        bins = int(most) + 1
        counts = [0] * bins
        for v in values:
            counts[min(bins - 1, max(0, int(v)))] += 1          # [k, k + 1)
        return [str(i) for i in range(bins)], counts
    width = most / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int(v / width)))] += 1
    return [f"{i * width:.3g}–{(i + 1) * width:.3g}" for i in range(bins)], counts


# --- HTML ---------------------------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,"Noto Sans CJK SC","Noto Sans SC","Microsoft YaHei",sans-serif;margin:1.5em auto;
max-width:1000px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;vertical-align:top;
text-align:left}th{background:#f3f3f3}td.n{text-align:right}
nav{position:sticky;top:0;background:#fff;padding:.4em 0;border-bottom:1px solid #ddd}
nav button{margin-right:.4em;padding:.2em .8em}nav button.on{font-weight:bold;background:#1565c0;color:#fff}
html.zh [lang=en],html.en [lang=zh]{display:none}
html.both span[lang=en]::before{content:" / "}
svg.chart{display:block;margin:.5em 0;font-size:11px}svg .t{font-size:13px;font-weight:bold}
svg .l,svg .v{text-anchor:middle}svg .r{text-anchor:end}svg .w{text-anchor:middle;fill:#fff}
.muted{color:#666}.hint{font-family:inherit}
"""
SCRIPT = """
(function(){var h=document.documentElement;
function set(l){h.className=l;document.querySelectorAll('nav button').forEach(function(b){
b.classList.toggle('on',b.dataset.lang===l)});}
document.querySelectorAll('nav button').forEach(function(b){
b.addEventListener('click',function(){set(b.dataset.lang)})});
var want=(location.hash||'').slice(1);set(['zh','en','both'].indexOf(want)>=0?want:
((navigator.language||'zh').toLowerCase().indexOf('zh')===0?'zh':'en'));})();
"""


# longer sentences of the page, (中文, English)
TEXTS = {
    "source": ("来自成绩簿与已评分的笔记本，不重新运行任何代码",
               "from the gradebook and the graded notebooks; nothing is run again"),
    "grouped": ("未通过的提交按其测试打印的提示分组；同一提示只是数字不同的归为一组。",
                "Failing submissions grouped by the hint their failing test printed; hints that differ only in "
                "numbers count together."),
    "cell_time": ("单元格执行时间之和（不含内核启动）",
                  "sum of the cells' execution times (kernel start not included)"),
    "waiting": ("{n} 份书面答案尚待人工评分：现在导出成绩，它们按 0 分计。",
                "{n} written answers still wait for hand grading: an export now counts them as 0."),
    "method": ("规范化词元的 {k}-gram 指纹（改名、注释与排版不影响），去掉发放给所有人的模板代码；"
               "两份提交共享的自有指纹占较小一方的比例 ≥ {x:g} 时列出。阈值依据公平性测试中独立写成的正确提交确定。",
               "{k}-grams of normalised tokens (renaming, comments and layout change nothing), the code handed out "
               "to everyone removed; listed when the fingerprints two submissions share reach {x:g} of the smaller "
               "one. The threshold is set on the fairness classes' independently written correct submissions."),
}


def t(zh: str, en: str) -> str:
    """Text in both languages (the page's switch shows one, or both)."""
    return f'<span lang="zh">{_esc(zh)}</span><span lang="en">{_esc(en)}</span>'


def _table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def render_html(data: ClassData) -> str:
    graded = [r for r in data.rows if r.status in ("graded", "failed")]
    totals = [r.total or 0.0 for r in graded]
    status = Counter(r.status for r in data.rows)
    found, unexplained = mistakes(data)
    kinds = kind_counts(data)
    shares = part_shares(data)
    written = written_counts(data)
    times = sorted(((r.seconds, r.student) for r in data.rows if r.seconds is not None), reverse=True)
    waiting = sum(len(w["waiting"]) for w in written.values())
    out = [f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><meta name="viewport" '
           f'content="width=device-width"><title>{_esc(data.assignment)} — 班级报告 / class report</title>'
           f"<style>{CSS}</style></head><body>",
           '<nav><button data-lang="zh">中文</button><button data-lang="en">English</button>'
           '<button data-lang="both">中文 + English</button></nav>',
           f"<h1>{t(f'作业 {data.assignment}：班级报告', f'Assignment {data.assignment}: class report')}</h1>",
           f'<p class="muted">{t("生成于", "generated")} {_esc(data.generated)} · '
           f'{t(*TEXTS["source"])}</p>']
    # summary
    rows = [[t(*STATUS[k]), str(status.get(k, 0))] for k in STATUS]
    out.append(f"<h2 id='summary'>{t('概况', 'Summary')}</h2>")
    out.append(_table([t("学生", "students"), t("人数", "count")], rows, {1}))
    if totals:
        out.append(f"<p>{t('总分', 'Total')}: {t('中位数', 'median')} {statistics.median(totals):g} / "
                   f"{data.max_score:g} · {t('平均', 'mean')} {statistics.mean(totals):.2f} · "
                   f"{t('最低', 'min')} {min(totals):g} · {t('最高', 'max')} {max(totals):g}</p>")
    if waiting:
        zh, en = TEXTS["waiting"]
        out.append(f"<p><b>{t(zh.format(n=waiting), en.format(n=waiting))}</b></p>")
    # distribution
    labels, counts = histogram(totals, data.max_score)
    out.append(f"<h2 id='scores'>{t('分数分布', 'Score distribution')}</h2>")
    out.append(svg_bars(labels, counts, "总分 / total score", y_label="人数 / n"))
    out.append(svg_stacked({p: shares[p] for p in data.parts}, "各部分：满分 / 部分得分 / 0 分 — per part"))
    out.append(_table([t("部分", "part"), t("分值", "points"), t("满分", "full"), t("部分得分", "partial"),
                       t("0 分", "zero")],
                      [[_esc(p), _fmt(data.parts[p]), str(shares[p]["full"]), str(shares[p]["partial"]),
                        str(shares[p]["zero"])] for p in data.parts], {1, 2, 3, 4}))
    # diagnosed mistakes
    out.append(f"<h2 id='mistakes'>{t('诊断出的错误（按提示计数）', 'Diagnosed mistakes, counted by hint')}</h2>")
    out.append(f"<p class='muted'>{t(*TEXTS['grouped'])}</p>")
    for part in data.parts:
        if not found[part]:
            continue
        out.append(f"<h3>{_esc(part)}</h3>")
        out.append(_table([t("提示", "hint"), t("人数", "students"), t("学生", "who")],
                          [[f'<span class="hint">{_esc(m.hint)}</span>', str(len(m.students)),
                            _esc(", ".join(m.students))] for m in found[part]], {1}))
    out.append(f"<h3>{t('没有提示能解释的失败', 'Failures no hint explains')}</h3>")
    if unexplained:
        out.append(_table([t("部分", "part"), t("学生", "student"), t("类型", "kind"), t("错误首行", "first line")],
                          [[_esc(p), _esc(s), t(*KINDS.get(k, (k, k))), f"<code>{_esc(d)}</code>"]
                           for p, s, k, d in unexplained]))
    else:
        out.append(f"<p>{t('无', 'none')}</p>")
    # kinds and time
    out.append(f"<h2 id='kinds'>{t('失败类型', 'Failures by kind')}</h2>")
    out.append(svg_bars([KINDS[k][1] for k in kinds], list(kinds.values()), "失败的部分 / failed parts",
                        colour=COLOURS["zero"], y_label="次数 / n"))
    out.append(_table([t("类型", "kind"), t("次数", "count")], [[t(*KINDS[k]), str(v)] for k, v in kinds.items()],
                      {1}))
    out.append(f"<h2 id='time'>{t('每份提交的评分时间', 'Grading time per submission')}</h2>")
    if times:
        secs = [s for s, _ in times]
        out.append(f"<p>{t(*TEXTS['cell_time'])}: "
                   f"{t('中位数', 'median')} {statistics.median(secs):.1f} s · "
                   f"{t('最长', 'longest')} {max(secs):.1f} s "
                   f"({_esc(times[0][1])})</p>")
        out.append(svg_bars([s for _, s in times[:40]], [round(v, 1) for v, _ in times[:40]],
                            "秒 / seconds (最慢的 40 份 / slowest 40)", colour=COLOURS["time"], y_label="s"))
    # written
    out.append(f"<h2 id='written'>{t('人工评分部分', 'Manually graded parts')}</h2>")
    out.append(_table([t("部分", "part"), t("分值", "points"), t("已评分", "graded"), t("待评", "waiting"),
                       t("未作答", "blank"), t("待评的学生", "waiting for")],
                      [[_esc(g), _fmt(data.written.get(g)), str(len(s["graded"])), str(len(s["waiting"])),
                        str(len(s["blank"])), _esc(", ".join(s["waiting"]))] for g, s in written.items()],
                      {1, 2, 3, 4}))
    # late, not submitted, failed
    late = [r for r in data.rows if r.seconds_late > 0]
    out.append(f"<h2 id='late'>{t('迟交与缺交', 'Late and missing work')}</h2>")
    out.append(_table([t("学生", "student"), t("迟交", "late by"), t("扣分", "penalty")],
                      [[_esc(r.student), f"{r.seconds_late / 3600:.1f} h", _fmt(r.late_penalty)] for r in late], {2})
               if late else f"<p>{t('没有迟交', 'no late submission')}</p>")
    missing = [r.student for r in data.rows if r.status == "not submitted"]
    out.append(f"<p>{t('未提交（名单中）', 'never submitted (rostered)')}: {_esc(', '.join(missing)) or '–'}</p>")
    failed = [r for r in data.rows if r.status == "failed"]
    if failed:
        out.append(_table([t("学生", "student"), t("评分失败", "grading failed")],
                          [[_esc(r.student), f"<code>{_esc(r.failure)}</code>"] for r in failed]))
    # similarity
    out.append(f"<h2 id='similarity'>{t('相似度', 'Similarity')}</h2>")
    zh, en = TEXTS["method"]
    values = {"k": similarity.K, "x": data.threshold}
    out.append(f"<p class='muted'>{t(zh.format(**values), en.format(**values))}</p>")
    out.append(f"<h3>{t('彼此相似的提交', 'Submissions similar to each other')}</h3>")
    out.append(_table([t("学生 A", "student A"), t("学生 B", "student B"), t("相似度", "similarity"),
                       t("各部分", "per part")],
                      [[_esc(p.a), _esc(p.b), f"{p.score:.2f}",
                        _esc(", ".join(f"{k} {v:.2f}" for k, v in p.parts.items()))] for p in data.pairs], {2})
               if data.pairs else f"<p>{t('无', 'none')}</p>")
    out.append(f"<h3>{t('与教师参考答案相同的提交', 'Submissions that match the instructor solution')}</h3>")
    out.append(_table([t("学生", "student"), t("相似度", "similarity"), t("各部分", "per part")],
                      [[_esc(p.a), f"{p.score:.2f}", _esc(", ".join(f"{k} {v:.2f}" for k, v in p.parts.items()))]
                       for p in data.solution_copies], {1})
               if data.solution_copies else f"<p>{t('无', 'none')}</p>")
    out.append(f"<h3>{t('抄写 coursekit 源码的答案', 'Answers that copy coursekit source')}</h3>")
    out.append(_table([t("学生", "student"), t("部分", "part"), t("函数", "function"), t("与之相同", "matches"),
                       t("相似度", "similarity")],
                      [[_esc(c.student), _esc(c.part), _esc(c.function), f"<code>{_esc(c.source)}</code>",
                        f"{c.score:.2f}"] for c in data.copies], {4})
               if data.copies else f"<p>{t('无', 'none')}</p>")
    out.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(out)


def csv_rows(data: ClassData) -> list[list[str]]:
    """One row per student: status, scores, each part's failure kind and hint, written states, time, similarity."""
    partner: dict[str, tuple[str, float]] = {}
    for p in data.pairs:
        for a, b in ((p.a, p.b), (p.b, p.a)):
            if p.score > partner.get(a, ("", -1))[1]:
                partner[a] = (b, p.score)
    copied = Counter(c.student for c in data.copies)
    solution = {p.a: f"{p.score:.2f}" for p in data.solution_copies}
    header = ["student_id", "status", "total", "max_score", "late_penalty", "hours_late", "seconds"]
    for gid in data.parts:
        header += [gid, f"{gid}:kind", f"{gid}:hint", f"{gid}:detail"]
    for gid in data.written:
        header += [gid, f"{gid}:state"]
    header += ["similar_to", "similarity", "matches_solution", "copies_coursekit"]
    rows = [header]
    for r in data.rows:
        row = [r.student, r.status, _fmt(r.total) if r.total is not None else "", f"{data.max_score:g}",
               f"{r.late_penalty:g}", f"{r.seconds_late / 3600:.2f}", "" if r.seconds is None else f"{r.seconds:.1f}"]
        for gid in data.parts:
            part = r.parts.get(gid)
            row += ["", "", "", ""] if part is None else [_fmt(part.score), part.kind or "", part.hint or "",
                                                          part.detail]
        for gid in data.written:
            score, _, state = r.written.get(gid, (None, 0, ""))
            row += ["" if score is None else f"{score:g}", state]
        other, score = partner.get(r.student, ("", None))
        row += [other, "" if score is None else f"{score:.2f}", solution.get(r.student, ""),
                str(copied.get(r.student, 0))]
        rows.append(row)
    return rows


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def class_report(root: str | Path, assignment: str, out_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``<out_dir>/<assignment>.html`` and ``.csv`` (default out_dir: ``<root>/reports``); returns both."""
    root = Path(root).resolve()
    data = collect_class(root, assignment)
    out = Path(out_dir) if out_dir is not None else root / "reports"
    out.mkdir(parents=True, exist_ok=True)
    page, table = out / f"{assignment}.html", out / f"{assignment}.csv"
    _atomic(page, render_html(data))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(csv_rows(data))
    _atomic(table, buf.getvalue())
    return page, table
