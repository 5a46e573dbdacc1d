"""Students in and grades out through an LMS (coursekit/grading/lms.py), on fixture files laid out as Canvas and
Moodle lay them out (built here): the roster exports, the "download all submissions" archives with their time
stamps (ids with "-" and "."; a late re-submission; files of nobody on the roster), due dates and the late policy,
and the command line's one-line errors. No grading (the export of a graded class: tests/test_grading_report.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from nbgrader.utils import parse_utc

from coursekit.cli import main
from coursekit.grading import lms

REPO = Path(__file__).resolve().parent.parent
UTC = dt.timezone.utc


def _write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f).writerows(rows)
    return path


def _canvas_roster(path: Path) -> Path:
    return _write_csv(path, [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "DDPM (4242)"],
        ["    Points Possible", "", "", "", "", "14"],
        ["Smith, Jane", "1001", "jane.smith", "jsmith@uni.example", "CS 101-01", ""],
        ["Lee, Bo", "1002", "bo-lee", "blee@uni.example", "CS 101-01", ""],
        ["Wu, Kai", "1003", "", "kwu", "CS 101-02", ""],                    # no SIS User ID: the login is the id
        ["Student, Test", "1999", "", "", "CS 101-01", ""]])


def _moodle_roster(path: Path) -> Path:
    return _write_csv(path, [
        ["First name", "Last name", "ID number", "Institution", "Department", "Email address",
         "Assignment: DDPM (Real)", "Last downloaded from this course"],
        ["Jane", "Smith", "jane.smith", "USTC", "CS", "jsmith@uni.example", "-", "1767225600"],
        ["Bo", "Lee", "bo-lee", "USTC", "CS", "blee@uni.example", "-", "1767225600"],
        ["Kai", "Wu", "", "USTC", "CS", "kwu@uni.example", "-", "1767225600"]])


@pytest.fixture(scope="module")
def empty_gradebook(tmp_path_factory) -> Path:
    """A gradebook with the assignment registered, made once (nbgrader runs alembic for a new one: seconds)."""
    folder = tmp_path_factory.mktemp("gradebook")
    with lms.gradebook(folder) as gb:
        gb.update_or_create_assignment("ddpm")
    return folder / "gradebook.db"


@pytest.fixture
def root(tmp_path, empty_gradebook) -> Path:
    shutil.copy2(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    shutil.copy2(empty_gradebook, tmp_path / "gradebook.db")
    return tmp_path


def test_canvas_roster(root):
    students = lms.import_roster(root, _canvas_roster(root / "canvas.csv"), "canvas")
    assert [s.id for s in students] == ["jane.smith", "bo-lee", "kwu"]         # no points row, no test student
    by = {s.id: s for s in lms.roster(root)}
    assert (by["jane.smith"].first_name, by["jane.smith"].last_name, by["jane.smith"].lms_user_id) == \
        ("Jane", "Smith", "1001")
    assert by["jane.smith"].email == "jsmith@uni.example" and by["kwu"].email == ""
    assert by["bo-lee"].lms["Section"] == "CS 101-01"


def test_moodle_and_nbgrader_rosters(root, tmp_path):
    students = lms.read_roster(_moodle_roster(tmp_path / "moodle.csv"), "moodle")
    assert [(s.id, s.email) for s in students] == [("jane.smith", "jsmith@uni.example"),
                                                   ("bo-lee", "blee@uni.example"),
                                                   ("kwu@uni.example", "kwu@uni.example")]
    plain = _write_csv(tmp_path / "plain.csv", [["id", "first_name", "last_name", "email"], ["a-1", "A", "B", ""]])
    assert lms.import_roster(root, plain, "nbgrader")[0].id == "a-1"
    with pytest.raises(lms.LMSError, match="is not a canvas roster"):
        lms.read_roster(plain, "canvas")


def _zip(path: Path, entries: list[tuple[str, tuple, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, when, data in entries:
            zf.writestr(zipfile.ZipInfo(name, date_time=when), data)
    return path


NB = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def test_canvas_download_is_collected_with_time_stamps(root):
    """Canvas names files <name>_<user id>_<submission id>_<file> (LATE_ after the name when late; a re-submitted
    file gets -1): collected by the roster's Canvas id, the latest file per student, time stamps read in the LMS's
    zone; nbgrader then sees the late one late."""
    lms.import_roster(root, _canvas_roster(root / "canvas.csv"), "canvas")
    archive = _zip(root / "submissions.zip", [
        ("smithjane_1001_5550001_ddpm.ipynb", (2026, 3, 1, 23, 50, 0), NB),
        ("smithjane_1001_5550001_notes.txt", (2026, 3, 1, 23, 50, 0), b"not a notebook"),
        ("leebo_LATE_1002_5550002_ddpm.ipynb", (2026, 3, 2, 9, 0, 0), b"older"),
        ("leebo_LATE_1002_5550002_ddpm-1.ipynb", (2026, 3, 3, 10, 30, 0), NB),
        ("ghost_1777_5550009_ddpm.ipynb", (2026, 3, 1, 12, 0, 0), NB)])
    got = lms.collect(root, "ddpm", archive, "canvas", timezone="+08:00")
    assert [(c.student, c.late_marked) for c in got.collected] == [("bo-lee", True), ("jane.smith", False)]
    assert got.unmatched == ["ghost_1777_5550009_ddpm.ipynb", "smithjane_1001_5550001_notes.txt"]
    assert got.missing == ["kwu"]
    bo = root / "submitted" / "bo-lee" / "ddpm"
    assert (bo / "ddpm.ipynb").read_bytes() == NB                              # the re-submission won
    stamps = {s: parse_utc((root / "submitted" / s / "ddpm" / "timestamp.txt").read_text())
              for s in ("bo-lee", "jane.smith")}
    assert stamps["jane.smith"].replace(tzinfo=UTC) == dt.datetime(2026, 3, 1, 15, 50, tzinfo=UTC)
    assert stamps["bo-lee"].replace(tzinfo=UTC) == dt.datetime(2026, 3, 3, 2, 30, tzinfo=UTC)
    due = lms.set_due_date(root, "ddpm", "2026-03-01 23:59 +08:00")
    assert due == dt.datetime(2026, 3, 1, 15, 59, tzinfo=UTC)
    with lms.gradebook(root) as gb:                                         # nbgrader's own lateness
        for student, late in (("jane.smith", 0), ("bo-lee", (stamps["bo-lee"].replace(tzinfo=UTC) - due).seconds +
                                                  86400)):
            sub = gb.update_or_create_submission("ddpm", student, timestamp=stamps[student])
            assert sub.total_seconds_late == pytest.approx(late, abs=1), student


def test_moodle_download_is_collected_through_the_worksheet(root, tmp_path):
    """Moodle gives a folder per participant, '<Full name>_<participant id>_assignsubmission_file_/' (or that
    prefix on flat files); the grading worksheet maps the participant id to an e-mail and a submission time."""
    lms.import_roster(root, _moodle_roster(tmp_path / "moodle.csv"), "moodle")
    archive = _zip(root / "moodle.zip", [
        ("Jane Smith_301_assignsubmission_file_/ddpm.ipynb", (2026, 3, 1, 20, 0, 0), NB),
        ("Bo Lee_302_assignsubmission_file_ddpm.ipynb", (2026, 3, 1, 20, 0, 0), NB),
        ("Kai Wu_303_assignsubmission_onlinetext_/onlinetext.html", (2026, 3, 1, 20, 0, 0), b"<p>hi</p>")])
    sheet = _write_csv(tmp_path / "worksheet.csv", [
        ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
         "Last modified (submission)", "Last modified (grade)", "Feedback comments"],
        ["Participant 301", "Jane Smith", "jsmith@uni.example", "Submitted for grading", "", "14.00", "Yes",
         "Sunday, 1 March 2026, 11:58 PM", "-", ""],
        ["Participant 302", "Bo Lee", "blee@uni.example", "Submitted for grading - 1 day late", "", "14.00", "Yes",
         "Monday, 2 March 2026, 11:58 PM", "-", ""]])
    got = lms.collect(root, "ddpm", archive, "moodle", timezone="+08:00", worksheet=sheet)
    assert [c.student for c in got.collected] == ["bo-lee", "jane.smith"] and got.missing == ["kwu@uni.example"]
    assert got.unmatched == ["Kai Wu_303_assignsubmission_onlinetext_/onlinetext.html"]
    bo = parse_utc((root / "submitted" / "bo-lee" / "ddpm" / "timestamp.txt").read_text())
    assert bo.replace(tzinfo=UTC) == dt.datetime(2026, 3, 2, 15, 58, tzinfo=UTC)     # the worksheet's time
    shutil.rmtree(root / "submitted")
    got = lms.collect(root, "ddpm", archive, "moodle", timezone="+08:00")       # no worksheet: by full name
    assert [c.student for c in got.collected] == ["bo-lee", "jane.smith"]
    jane = parse_utc((root / "submitted" / "jane.smith" / "ddpm" / "timestamp.txt").read_text())
    assert jane.replace(tzinfo=UTC) == dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)    # the zip's time


def test_late_policy():
    day = 86400
    assert lms.late_penalty(10, 14, 0, 0.1, 15) is None
    assert lms.late_penalty(10, 14, 14 * 60, 0.1, 15) is None                  # within the grace
    assert lms.late_penalty(10, 14, 16 * 60, 0.1, 15) == pytest.approx(1.4)     # one started day
    assert lms.late_penalty(10, 14, 2 * day + 3600, 0.1, 15) == pytest.approx(4.2)
    assert lms.late_penalty(10, 14, 8 * day, 0.1, 15, zero_after_days=7) == 10
    assert lms.late_penalty(3, 14, 6 * day, 0.1, 15) == 3                       # never below zero
    assert lms.late_penalty(10, None, 1, 0.1) == pytest.approx(1.0)             # no max known: of the score
    config = (REPO / "nbgrader_config.py").read_text()
    assert "c.AssignLatePenalties.plugin_class = lms.LatePolicy" in config and "c.LatePolicy.per_day = 0.10" in config


def test_zip_collect_takes_ids_with_dashes_and_dots():
    text = (REPO / "nbgrader_config.py").read_text()
    pattern = re.search(r'c\.FileNameCollectorPlugin\.named_regexp = r"(.+)"', text).group(1)
    for path, student in (("downloaded/ddpm/archive/jane.smith-ddpm.ipynb", "jane.smith"),
                          ("downloaded/ddpm/archive/bo-lee-ddpm.ipynb", "bo-lee"),
                          ("downloaded/ddpm/archive/PB21000001-ddpm.ipynb", "PB21000001")):
        m = re.match(pattern, path)
        assert m and m.group("student_id") == student and m.group("file_id") == "ddpm.ipynb", path


@pytest.mark.parametrize("argv,message", [
    (["grade", "due", "ddpm", "2026-03-01 23:59"], "give the UTC offset too"),
    (["grade", "due", "ddpm", "March"], "expected a date and time with its UTC offset"),
    (["grade", "export", "ddpm"], "--lms: expected one of canvas, moodle, got None"),
    (["grade", "export", "ddpm", "--lms", "blackboard"], "--lms: expected one of canvas, moodle"),
    (["grade", "roster", "{root}/missing.csv", "--lms", "canvas"], "file: expected an existing file"),
    (["grade", "collect", "ddpm", "{root}/nbgrader_config.py", "--lms", "canvas", "--timezone", "CET"],
     "--timezone: expected a UTC offset"),
])
def test_bad_input_is_one_line(root, capsys, argv, message):
    argv = [a.replace("{root}", str(root)) for a in argv] + ["--root", str(root)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("coursekit grade: error: ") and message in err[0], err


def test_roster_and_due_on_the_command_line(root, capsys):
    _canvas_roster(root / "canvas.csv")
    assert main(["grade", "roster", str(root / "canvas.csv"), "--lms", "canvas", "--root", str(root)]) == 0
    assert main(["grade", "due", "ddpm", "2026-03-01 23:59 +08:00", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "3 students in the gradebook" in out and "due 2026-03-01 15:59 UTC" in out
    with lms.gradebook(root) as gb:
        assert gb.find_assignment("ddpm").duedate == dt.datetime(2026, 3, 1, 15, 59)
