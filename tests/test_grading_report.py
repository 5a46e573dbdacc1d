"""The instructor's view, end to end on one synthetic DDPM class graded by the real pipeline in the sandbox (one
`nbgrader autograde` through the shipped nbgrader_config.py): the class report counts exactly the known mistakes,
feedback names them without the hidden tests on every route (command line, Formgrader's API, coursekit), the
late policy and the LMS export see every rostered student, scores show the written parts that wait; the report
opens in Chromium with its plots in both languages. The similarity threshold is checked against the fairness
classes' independently written submissions without grading anything.

The class (CLASS below; every mistake a known edit of the reference answers, the DDPM fairness class's one-bug
edits where they exist, so each costs exactly the parts that class asserts): the reference; three students with
ᾱ_t computed as α_t (one of them late); two without σ_t z and one adding noise at t = 1 (who also deleted the
guidance answer cell); two with the other guidance convention; a blank release; an answer cell that sleeps past its
timeout; a kernel that dies; a debug print on stderr (with coursekit's p_sample_step pasted in, renamed); an
independent correct style and a disguised copy of it; two rostered students who never submitted. 16 submissions,
about 12 of which train a model in the hidden test.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import course
import fairness_answers
import nbformat
import pytest

from coursekit.grading import diagnosis, lms, similarity
from coursekit.grading import report as report_module

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = "ddpm"
PARTS = ("test_schedule", "test_q_sample", "test_loss", "test_p_sample", "test_train_sample", "test_guidance")
DUE = "2026-01-15 12:00:00 +00:00"                     # course.TIMESTAMP: everyone but LATE is on time
pytestmark = pytest.mark.slow


def _cases():
    spec = importlib.util.spec_from_file_location("submission_cases", REPO / "tests/fixtures/submissions/make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = _cases()
FAIR = fairness_answers._module(ASSIGNMENT)
WRONG = FAIR.WRONG                                     # student: ((grade_id, old, new), zero parts, loose parts)


def _edit(name: str):
    (grade_id, old, new), _, _ = WRONG[name]
    return lambda nb: CASES._replace(nb, grade_id, old, new)


def _alpha_t(nb):
    """ᾱ_t computed as α_t (1 − β_t): costs the schedule part only (make.py's edited_test without the edit)."""
    CASES._replace(nb, "schedule", "return torch.cumprod(1.0 - betas.double(), dim=0).float()", CASES.WRONG_ALPHA_BARS)


def _sleeps(nb):
    """The p_sample answer cell sleeps past its cell timeout: p_sample_step is never defined."""
    course.cell(nb, "p_sample").source = "import time\ntime.sleep(1000)\n\n" + course.cell(nb, "p_sample").source


def _no_guidance_cell(nb):
    nb.cells.remove(course.cell(nb, "guidance"))


def _stderr(nb):
    """guided_eps writes a debug line on stderr (no pattern the grader ignores): the guidance test scores 0."""
    CASES._replace(nb, "guidance", "    return eps_null + w * (eps_cond - eps_null)",
                   '    import sys\n    print("debug: w =", w, file=sys.stderr)\n'
                   "    return eps_null + w * (eps_cond - eps_null)")


def _crash(nb):
    course.cell(nb, "schedule").source += "\n\nimport os\nos._exit(1)\n"


def _renamed_copy_of(fn, new_name: str) -> str:
    """``fn``'s source pasted, renamed, docstring and comments removed (what a copier hands in)."""
    src = inspect.getsource(fn)
    src = re.sub(r'[ \t]*"""[\s\S]*?"""\n', "", src)
    src = re.sub(r"[ \t]*#.*", "", src)
    src = re.sub(rf"def {fn.__name__}\(", f"def {new_name}(", src)
    for old, new in (("schedule", "sched"), ("x0", "start"), ("noise", "z_")):
        src = re.sub(rf"\b{old}\b", new, src)
    return src


def _copier(nb):
    """Correct answers, plus coursekit's p_sample_step pasted (renamed) into the p_sample cell as a helper."""
    from coursekit.diffusion import sampling

    course.cell(nb, "p_sample").source += ("\n\nTensor, Schedule = torch.Tensor, object    # for its annotations\n\n\n"
                                           + _renamed_copy_of(sampling.p_sample_step, "_my_step"))


def _disguise(source: str) -> str:
    """The same code with comments gone and a few names changed: a copy of another student's answer."""
    source = "\n".join(re.sub(r"\s+#.*$", "", line) for line in source.splitlines())
    for old, new in (("step", "k"), ("g", "gen"), ("mean", "mu"), ("sigma2", "var_t"), ("keep", "mask")):
        source = re.sub(rf"\b{old}\b", new, source)
    return source


# student: (edit, start from the answered notebook?, {part: kind of failure}, bug label for grouping)
CLASS = {
    "ref": (None, True, {}, None),
    "alpha_t_1": (_alpha_t, True, {"test_schedule": "wrong"}, "alpha_t"),
    "alpha_t_2": (_alpha_t, True, {"test_schedule": "wrong"}, "alpha_t"),
    "alpha_t_3": (_alpha_t, True, {"test_schedule": "wrong"}, "alpha_t"),            # and late (LATE)
    "no_sigma_1": (_edit("sigma_missing"), True, {"test_p_sample": "wrong", "test_train_sample": "wrong"}, "sigma"),
    "no_sigma_2": (_edit("sigma_missing"), True, {"test_p_sample": "wrong", "test_train_sample": "wrong"}, "sigma"),
    "noise_at_t1": (lambda nb: (_edit("noise_at_t1")(nb), _no_guidance_cell(nb)), True,    # and a deleted cell
                    {"test_p_sample": "wrong", "test_train_sample": "wrong", "test_guidance": "missing"}, "t1"),
    "cfg_sign_1": (_edit("guidance_convention"), True, {"test_guidance": "wrong"}, "cfg"),
    "cfg_sign_2": (_edit("guidance_convention"), True, {"test_guidance": "wrong"}, "cfg"),
    "blank": (None, False, {p: "exception" for p in PARTS}, "blank"),
    "sleeps": (_sleeps, True, {"test_p_sample": "timeout", "test_train_sample": "timeout"}, None),
    "crash": (_crash, True, {p: "kernel" for p in PARTS}, None),
    "stderr": (lambda nb: (_stderr(nb), _copier(nb)), True, {"test_guidance": "stderr"}, None),   # and copies
    "twin_a": ("float64", True, {}, None),
    "twin_b": ("float64-disguised", True, {}, None),
}
ABSENT = ["zz.absent-1", "zz.absent-2"]               # rostered, never submitted (ids with '.' and '-')
LATE, LATE_BY = "alpha_t_3", dt.timedelta(days=2, hours=1)   # 3 started days after the 15-minute grace:
PENALTY = 0.1 * 3 * 14                               # a tenth of the notebook's 14 points per day (written part in)


def _float64_answers(solution) -> dict[str, str]:
    values = FAIR._template_values(solution)
    return {gid: FAIR._fill(src, values) for gid, src in FAIR.FLOAT64.items() if src}


def _canvas_roster(path: Path, students: list[str]) -> None:
    """A Canvas gradebook export as Canvas writes it: the points row and the test student included."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(lms.CANVAS_IDENTITY + ["Quiz 0 (9)"])
        w.writerow(["    Points Possible", "", "", "", "", "10"])
        for i, s in enumerate(students):
            w.writerow([f"Student{i}, Name{i}", str(1000 + i), s, f"{s}@uni.example", "Section A", ""])
        w.writerow(["Student, Test", "999", "", "", "Section A", ""])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = course.make_course(tmp_path_factory.mktemp("report"), ASSIGNMENT)
    release, solution = course.release(root, ASSIGNMENT), course.solution(root, ASSIGNMENT)
    full = course.answered(release, solution)
    twin = _float64_answers(solution)
    for student, (edit, answered, _, _) in CLASS.items():
        nb = copy.deepcopy(full if answered else release)
        if edit == "float64":
            nb = course.answer(nb, twin)
        elif edit == "float64-disguised":
            nb = course.answer(nb, {gid: _disguise(src) for gid, src in twin.items()})
        elif edit is not None:
            edit(nb)
        course.submit(root, student, ASSIGNMENT, nb)
    stamp = dt.datetime(2026, 1, 15, 12, tzinfo=dt.timezone.utc) + LATE_BY
    (root / "submitted" / LATE / ASSIGNMENT / "timestamp.txt").write_text(
        stamp.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    _canvas_roster(root / "canvas.csv", sorted(CLASS) + ABSENT)
    lms.import_roster(root, root / "canvas.csv", "canvas")
    lms.set_due_date(root, ASSIGNMENT, DUE)
    env = dict(os.environ, COURSEKIT_TIMEOUT_SCALE="1")
    env.pop("COURSEKIT_PREFLIGHT", None)
    proc = course.autograde(root, ASSIGNMENT, env=env)
    # the written part of one student graded by hand (as in Formgrader)
    from nbgrader.api import Gradebook
    with Gradebook(course.grading._db_url(root)) as gb:
        grade = gb.find_grade("posterior_answer", ASSIGNMENT, ASSIGNMENT, "ref")
        grade.manual_score = 1.5
        gb.db.commit()
    data = report_module.collect_class(root, ASSIGNMENT)
    return root, proc, data


def _row(data, student):
    return next(r for r in data.rows if r.student == student)


def test_every_submission_scores_as_its_known_mistake(graded):
    root, proc, data = graded
    assert (root / ".coursekit" / "preflight" / f"{ASSIGNMENT}.json").is_file(), proc.stderr[-2000:]
    for student, (_, _, failing, _) in CLASS.items():
        row = _row(data, student)
        got = {gid: part.kind for gid, part in row.parts.items() if part.failed}
        assert got == failing, (student, {g: row.parts[g].detail for g in got})
    assert _row(data, "crash").status == "failed" and "cell schedule" in _row(data, "crash").failure
    for student in ABSENT:
        assert _row(data, student).status == "not submitted"


def test_diagnosed_mistakes_are_counted_exactly(graded):
    """Per part the groups of failing students equal the known bugs: the same bug in one group, counted; two
    bugs never merged; failures a hint does not explain are listed with their error's first line."""
    _, _, data = graded
    found, unexplained = report_module.mistakes(data)
    label = {s: CLASS[s][3] for s in CLASS}
    for part in PARTS:
        known: dict[str, set[str]] = {}
        for student, (_, _, failing, bug) in CLASS.items():
            if failing.get(part) == "wrong":
                known.setdefault(bug, set()).add(student)
        groups = [set(m.students) for m in found[part]]
        listed = {s for p, s, _, _ in unexplained if p == part}
        for students in groups:                     # a hint names one bug
            assert len({label[s] for s in students}) == 1, (part, students)
        assert set().union(*groups, set()) | listed >= set().union(*known.values(), set()), part
        for m in found[part]:
            assert diagnosis.is_bilingual(m.hint) and len(m.students) == len(set(m.students))
    # the visible tests diagnose these: one group each, with its exact count
    expected = {"test_schedule": {"alpha_t": 3}, "test_p_sample": {"sigma": 2, "t1": 1}, "test_guidance": {"cfg": 2}}
    for part, bugs in expected.items():
        counts = {label[m.students[0]]: len(m.students) for m in found[part]}
        assert counts == bugs, (part, [(m.hint, m.students) for m in found[part]])
    blank = {p for p, s, k, d in unexplained if s == "blank"}
    assert blank == set(PARTS) and all("NotImplementedError" in d for p, s, k, d in unexplained if s == "blank")


def test_failure_kinds_time_and_shares(graded):
    _, _, data = graded
    kinds = report_module.kind_counts(data)
    expected = {k: 0 for k in diagnosis.KINDS}
    for student, (_, _, failing, _) in CLASS.items():
        if student == "crash":
            expected["kernel"] += 1
            continue
        for kind in failing.values():
            expected[kind] += 1
    assert kinds == expected
    shares = report_module.part_shares(data)
    graded_rows = [r for r in data.rows if r.status in ("graded", "failed")]
    for part in PARTS:
        assert sum(shares[part].values()) == len(graded_rows)
        zero = sum(1 for s, (_, _, f, _) in CLASS.items() if part in f)
        assert shares[part]["zero"] == zero and shares[part]["partial"] == 0
    times = [r.seconds for r in graded_rows if r.status == "graded"]
    assert all(t is not None and t > 0 for t in times)
    assert _row(data, "sleeps").parts["test_p_sample"].detail == \
        "answer cell 'p_sample': CellTimeoutError: the cell ran past its time limit"


def test_written_parts_late_work_and_similarity(graded):
    root, _, data = graded
    written = report_module.written_counts(data)["posterior_answer"]
    assert written["graded"] == ["ref"]                       # graded by hand above; the rest wait in Formgrader
    assert {"alpha_t_1", "blank", "twin_b"} <= set(written["waiting"]) and "ref" not in written["waiting"]
    late = _row(data, LATE)
    assert late.seconds_late == pytest.approx(LATE_BY.total_seconds(), abs=1)
    assert late.late_penalty == pytest.approx(PENALTY) and late.total == 10
    assert all(r.late_penalty == 0 for r in data.rows if r.student != LATE)
    # the disguised copy is found; the independent style is similar to no reference-based student
    pairs = {(p.a, p.b): p.score for p in data.pairs}
    assert pairs.get(("twin_a", "twin_b"), 0) >= similarity.THRESHOLD
    assert not [p for p in pairs if ("twin_a" in p or "twin_b" in p) and p != ("twin_a", "twin_b")]
    copied = {c.student for c in data.copies}
    assert copied == {"stderr"}, data.copies
    assert next(c for c in data.copies if c.student == "stderr").source.endswith("sampling.p_sample_step")
    matches = {p.a for p in data.solution_copies}
    assert "ref" in matches and "alpha_t_1" in matches and not matches & {"twin_a", "twin_b"}


def test_report_files_and_csv(graded):
    root, _, data = graded
    page, table = report_module.class_report(root, ASSIGNMENT)
    html = page.read_text(encoding="utf-8")
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    assert html.count("<svg") >= 4 and 'lang="zh"' in html and 'lang="en"' in html
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert {r["student_id"] for r in rows} == set(CLASS) | set(ABSENT)
    by = {r["student_id"]: r for r in rows}
    assert by["alpha_t_2"]["test_schedule:kind"] == "wrong" and by["alpha_t_2"]["test_schedule:hint"]
    assert by["zz.absent-1"]["status"] == "not submitted" and by["ref"]["posterior_answer:state"] == "graded"
    assert by["twin_a"]["similar_to"] == "twin_b" and by["stderr"]["copies_coursekit"] == "1"


def test_scores_show_which_written_parts_wait(graded, capsys):
    from coursekit.cli import main

    root, _, _ = graded
    assert main(["grade", "scores", ASSIGNMENT, "--root", str(root)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "waiting" in lines["alpha_t_1"] and "waiting" not in lines["ref"] and lines["ref"].split()[-1] == "13.5"
    assert "wait for hand grading" in out and "count as 0" in out


def test_lms_export_has_every_rostered_student(graded):
    root, _, data = graded
    canvas = lms.export_rows(root, ASSIGNMENT, "canvas")
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert canvas[1] == ["    Points Possible", "", "", "", "", "14"]
    rows = {r[2]: r for r in canvas[2:]}
    assert set(rows) == set(CLASS) | set(ABSENT) and "Student, Test" not in {r[0] for r in canvas}
    assert rows["ref"][5] == "13.5" and rows[LATE][5] == f"{10 - PENALTY:g}" and rows["crash"][5] == "0"
    assert rows["zz.absent-1"][5] == "0" and rows["zz.absent-1"][1] == str(1000 + len(CLASS))   # Canvas's ID kept
    blank = {r[2]: r for r in lms.export_rows(root, ASSIGNMENT, "canvas", missing="blank")[2:]}
    assert blank["zz.absent-1"][5] == "" and blank["ref"][5] == "13.5"
    moodle = lms.export_rows(root, ASSIGNMENT, "moodle", missing="blank")
    assert moodle[0] == ["First name", "Last name", "ID number", "Institution", "Department", "Email address",
                         f"Assignment: {ASSIGNMENT} (Real)", "Last downloaded from this course"]
    by_id = {r[2]: r for r in moodle[1:]}
    assert by_id["zz.absent-2"][6] == "-" and by_id["alpha_t_1"][6] == "10" and by_id["ref"][5] == "ref@uni.example"
    path = lms.export(root, ASSIGNMENT, "canvas", root / "out.csv")
    assert path.read_text(encoding="utf-8").startswith("\ufeffStudent,ID,SIS User ID")


# --- feedback on every route ---------------------------------------------------------------------------------------

def _hidden_lines(root: Path) -> list[str]:
    nb = nbformat.read(root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    return [line for c in nb.cells for line in course.grading.block_lines(c.source)]


def _check_page(html: str, hidden: list[str], answer_traceback: bool = False) -> None:
    """No hidden-test line, no traceback from a test cell (an answer cell's own traceback — the student's code —
    stays: ``answer_traceback``), the summary on top."""
    from coursekit.grading.feedback import leaked_lines

    assert not leaked_lines(html, hidden), leaked_lines(html, hidden)[:3]
    assert "BEGIN HIDDEN TESTS" not in html
    assert answer_traceback or "Traceback (most recent call last)" not in html
    assert "评分反馈 / Feedback" in html


def test_nbgrader_generate_feedback_shows_no_hidden_test(graded):
    """The command line the docs used to forbid: the shipped configuration removes the hidden tests."""
    root, _, _ = graded
    proc = course.nbgrader(root, "generate_feedback", ASSIGNMENT, "--force")
    assert proc.returncode == 0, proc.stderr[-2000:]
    hidden = _hidden_lines(root)
    assert len(hidden) > 50
    for student in [s for s in CLASS if s != "crash"]:
        _check_page((root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8"),
                    hidden, answer_traceback=student == "sleeps")
    page = (root / "feedback" / "alpha_t_1" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
    hint = next(m.hint for m in report_module.mistakes(graded[2])[0]["test_schedule"])
    import html as html_lib
    assert html_lib.escape(hint, quote=False) in page or hint in page      # the mistake, named
    sigma = (root / "feedback" / "no_sigma_1" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
    assert "0 / 2" in sigma and "待人工评分" in sigma


FORMGRADER = """
import json, sys
from nbgrader.apps.api import NbGraderAPI
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension
ext = FormgradeExtension()                        # the config Formgrader loads: nbgrader_config.py in the root
config = ext.load_config()
coursedir = CourseDirectory(config=config, root=sys.argv[1])
api = NbGraderAPI(coursedir, Authenticator(coursedir=coursedir), config=config)
print(json.dumps(api.generate_feedback(sys.argv[2], sys.argv[3])))
"""


def test_formgraders_generate_feedback_button_shows_no_hidden_test(graded):
    """Formgrader's "Generate Feedback" button calls NbGraderAPI.generate_feedback: the same converter, the same
    configuration (loaded as the Formgrader extension loads it)."""
    root, _, _ = graded
    page = root / "feedback" / "blank" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    page.unlink(missing_ok=True)
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    proc = subprocess.run([sys.executable, "-c", FORMGRADER, str(root), ASSIGNMENT, "blank"], cwd=root, env=env,
                          capture_output=True, text=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["success"], result.get("error", "")[-2000:]
    _check_page(page.read_text(encoding="utf-8"), _hidden_lines(root))
    assert "NotImplementedError" in page.read_text(encoding="utf-8")


def test_coursekit_feedback_refuses_a_configuration_that_leaks(graded, tmp_path):
    root, _, _ = graded
    from coursekit.grading import feedback

    pages = feedback(root, ASSIGNMENT, ["no_sigma_2"])
    assert [p.parent.parent.name for p in pages] == ["no_sigma_2"]
    config = (root / "nbgrader_config.py").read_text(encoding="utf-8")
    try:
        (root / "nbgrader_config.py").write_text(config.replace("c.GenerateFeedback.preprocessors",
                                                                "_no_preprocessors"), encoding="utf-8")
        with pytest.raises(RuntimeError, match="HideHiddenTests"):
            feedback(root, ASSIGNMENT, ["no_sigma_2"])
        assert not (root / "feedback" / "no_sigma_2" / ASSIGNMENT / f"{ASSIGNMENT}.html").exists()
    finally:
        (root / "nbgrader_config.py").write_text(config, encoding="utf-8")


def test_validate_runs_a_submission_in_the_sandbox(graded, capsys):
    from coursekit.cli import main

    root, _, _ = graded
    notebook = root / "submitted" / "no_sigma_1" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert main(["grade", "validate", str(notebook), "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "FAIL test_p_sample" in out and "ok   test_schedule" in out and "σ_t" in out
    proc = course.nbgrader(root, "validate", str(root / "submitted" / "nobody" / "x.ipynb"))
    assert "runs a student's notebook unsandboxed" in proc.stderr


# --- the similarity threshold, on the fairness classes (no grading) -----------------------------------------------

def test_similarity_threshold_separates_independent_work_from_copies():
    """Every pair of independently written correct submissions (tests/test_fairness_*.py, the reference solution
    included) stays well below the threshold, and so does each independent function against coursekit's source;
    renamed copies reach it."""
    import itertools

    package = similarity.package_functions()
    worst_pair = worst_pkg = 0.0
    for a in fairness_answers.ASSIGNMENTS:
        styles = fairness_answers.independent_answers(a)
        assert len(styles) >= 5, a
        templates = fairness_answers.release_templates(a)
        prints = {s: similarity.own_fingerprints(v, templates) for s, v in styles.items()}
        for x, y in itertools.combinations(sorted(prints), 2):
            worst_pair = max(worst_pair, similarity.pair_score(prints[x], prints[y])[0])
        for c in similarity.copies_of_package(styles, templates, threshold=0.0, package=package):
            worst_pkg = max(worst_pkg, c.score)
    assert worst_pair < similarity.THRESHOLD - 0.2 and worst_pkg < similarity.THRESHOLD - 0.1
    from coursekit import vae
    from coursekit.diffusion import forward, sampling

    for fn in (forward.q_sample, sampling.p_sample_step, vae.gaussian_kl):
        copies = similarity.copies_of_package({"s": {"p": _renamed_copy_of(fn, "mine")}}, {}, package=package)
        assert copies and copies[0].source.endswith(fn.__name__) and copies[0].score >= similarity.THRESHOLD
    ddpm = fairness_answers.independent_answers("ddpm")["float64"]
    disguised = {k: _disguise(v) for k, v in ddpm.items()}
    pairs = similarity.similar_pairs({"a": ddpm, "b": disguised}, fairness_answers.release_templates("ddpm"))
    assert pairs and pairs[0].score >= similarity.THRESHOLD


# --- the page in a browser -------------------------------------------------------------------------------------------

BROWSER = [pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's /usr/bin/chromium"),
           pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="needs playwright")]


@pytest.mark.notebooks
@BROWSER[0]
@BROWSER[1]
def test_report_renders_in_chromium_in_both_languages(graded, artifacts_dir):
    import browser

    root, _, _ = graded
    page_path, _ = report_module.class_report(root, ASSIGNMENT)
    with browser.browser_page(width=1100, height=900) as page:
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri() + "#zh")
        charts = page.locator("svg.chart")
        assert charts.count() >= 4
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box and box["width"] > 100 and box["height"] > 50
        assert page.locator("svg.chart rect").count() > 20
        heading_zh, heading_en = page.locator("h1 span[lang=zh]"), page.locator("h1 span[lang=en]")
        assert heading_zh.is_visible() and not heading_en.is_visible()
        assert "班级报告" in page.locator("h1").inner_text()
        page.screenshot(path=str(artifacts_dir / "class-report-zh.png"), full_page=False)    # docs/img/class-report.png
        page.click("nav button[data-lang=en]")
        assert heading_en.is_visible() and not heading_zh.is_visible()
        assert "class report" in page.locator("h1").inner_text() and "班级" not in page.locator("h1").inner_text()
        assert page.locator("text=Diagnosed mistakes").first.is_visible()
        # docs/img/class-report-mistakes.png is this picture (the diagnosed mistakes, English)
        page.locator("#mistakes").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "class-report-mistakes.png"), full_page=False)
        assert all(u.startswith("file://") for u in requests), requests       # nothing from the network
