"""Students in, grades out, through a learning-management system (Canvas, Moodle): the roster, the submissions
with their time stamps, due dates and a late policy, and the gradebook in the column layout the LMS imports.

- :func:`import_roster`   the LMS's own export (Canvas gradebook CSV, Moodle gradebook "plain text" CSV) or
  nbgrader's roster CSV into nbgrader's gradebook, every student with the ids the LMS matches on;
- :func:`collect`         a Canvas or Moodle "download all submissions" archive into
  ``submitted/<student>/<assignment>/`` with each file's time stamp in ``timestamp.txt`` (so lateness is seen);
- :func:`set_due_date`    the assignment's due date in the gradebook;
- :class:`LatePolicy`     nbgrader's late-submission plugin with the instructor's policy (nbgrader_config.py);
- :func:`export`          one row per rostered student — students who never submitted included — in the layout the
  LMS imports.

The layouts, as documented (cited where they are used): Canvas's gradebook CSV and its submissions download,
Moodle's gradebook export/import and its "download all submissions" archive and grading worksheet.

Grader-side only (the standard library, nbgrader): nbgrader_config.py imports :class:`LatePolicy`.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import math
import os
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float

LMS = ("canvas", "moodle")

# --- the documented layouts ---------------------------------------------------------------------------------------

# Canvas gradebook CSV (Grades → Export; the same layout imports, Grades → Import): identity columns
# "Student,ID,SIS User ID,SIS Login ID,Section", one column per assignment named "<name> (<assignment id>)", and a
# second row "    Points Possible" with each assignment's points. Canvas matches a row on ID / SIS User ID / SIS Login
# ID; a blank cell is left ungraded, so a missing submission must be entered as 0 to count (Canvas Community guide
# "How do I import grades in the Gradebook?"; Ohio State's "Import CSV File for Carmen Grades": "Student Name OR
# Student ID OR Student SIS User ID ... SIS Login ID ... Section ... Assignment Name").
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS = "    Points Possible"
# Canvas "Download Submissions" zip: one file per submitted file, named
# "<sortable name lower-cased, no spaces>_<Canvas user id>_<submission id>_<file name as uploaded>", with "LATE_"
# after the name when Canvas saw it late ("smithbob_340934_208490284_BobsWork.zip"); a re-submitted file keeps its
# name with "-1", "-2" added before the extension.
CANVAS_FILE = re.compile(r"^(?P<name>[^_/\\]+)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$")

# Moodle gradebook export, "Plain text file" (grade/export/txt): "First name,Last name,ID number,Institution,
# Department,Email address", then one column per grade item "<module>: <name> (Real)", then "Last downloaded from
# this course" (a Unix time). Moodle's CSV import takes the same layout ("The import file format is the same as the
# corresponding export format", MoodleDocs "Grade import"), the user mapped by "Email address" → useremail or
# "ID number" → useridnumber; "" or "-" imports as no grade (grade/import/csv/classes/load_data.php).
MOODLE_IDENTITY = ["First name", "Last name", "ID number", "Institution", "Department", "Email address"]
MOODLE_TIME = "Last downloaded from this course"
# Moodle "Download all submissions": a folder per participant, "<Full name>_<participant id>_assignsubmission_file_/"
# (or, without folders, that prefix on each file name); the participant id is the assignment's own, resolved through
# the grading worksheet ("Identifier" = "Participant <id>", "Full name", "Email address", "Status", "Grade",
# "Maximum Grade", "Grade can be changed", "Last modified (submission)", "Last modified (grade)", "Feedback comments").
MOODLE_FILE = re.compile(r"^(?P<name>.+?)_(?P<participant>\d+)_assignsubmission_file_(?:/|_?)(?P<file>[^/]+)$")
MOODLE_WORKSHEET_TIME = ("%A, %d %B %Y, %I:%M %p", "%A, %B %d, %Y, %I:%M %p", "%d %B %Y, %I:%M %p")


class LMSError(ValueError):
    """Bad input for an LMS step (one line naming what is wrong)."""


# --- late work ----------------------------------------------------------------------------------------------------

class LatePolicy(LateSubmissionPlugin):
    """Late penalty: ``per_day`` of the notebook's points for each started day late after ``grace_minutes``; the
    whole score after ``zero_after_days``. nbgrader applies it when autograding (AssignLatePenalties) and caps it
    at the score then; written parts graded later are not penalised again."""

    per_day = Float(0.0, help="fraction of the notebook's points lost per started day late").tag(config=True)
    grace_minutes = Float(0.0, help="minutes after the due date that still count as on time").tag(config=True)
    zero_after_days = Float(math.inf, help="days late after which the submission scores 0").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float):
        return late_penalty(score, self.max_score_hint(), total_seconds_late, self.per_day, self.grace_minutes,
                            self.zero_after_days)

    def max_score_hint(self) -> float | None:
        """The notebook's max score, from the preprocessor that calls the plugin (None when unknown)."""
        parent = self.parent
        try:
            from nbgrader.api import Gradebook

            with Gradebook(parent.db_url) as gb:
                return float(gb.find_notebook(parent.notebook_id, parent.assignment_id).max_score)
        except Exception:
            return None


def late_penalty(score: float, max_score: float | None, seconds_late: float, per_day: float,
                 grace_minutes: float = 0.0, zero_after_days: float = math.inf) -> float | None:
    """Points lost: ``per_day`` × max_score (score when unknown) per started day after the grace; all of
    ``score`` past ``zero_after_days``; None when on time."""
    late = max(0.0, seconds_late - 60 * grace_minutes)
    if late <= 0:
        return None
    days = math.ceil(late / 86400)
    if days > zero_after_days:
        return score
    basis = max_score if max_score else score
    return min(score, per_day * days * basis)


def set_due_date(root: Path, assignment: str, due: str) -> dt.datetime:
    """Set ``assignment``'s due date in the gradebook (creating the assignment entry if needed); returns it in
    UTC. ``due``: ISO 8601 with a UTC offset, e.g. "2026-03-01 23:59 +08:00" (a date without an offset is
    refused: lateness would depend on the grader's clock)."""
    when = parse_time(due, "due")
    with gradebook(root) as gb:
        gb.update_or_create_assignment(assignment, duedate=when.replace(tzinfo=None))
    return when


def parse_time(text: str, what: str = "time") -> dt.datetime:
    """An aware datetime in UTC from ISO 8601 with an offset ("2026-03-01 23:59 +08:00", "...Z")."""
    raw = text.strip().replace("Z", "+00:00")
    raw = re.sub(r"\s+([+-]\d{2}:?\d{2})$", r"\1", raw)
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise LMSError(f"{what}: expected a date and time with its UTC offset, e.g. '2026-03-01 23:59 +08:00', "
                       f"got {text!r}") from None
    if when.tzinfo is None:
        raise LMSError(f"{what}: give the UTC offset too (e.g. '{text} +08:00'): the grader's clock must not decide")
    return when.astimezone(dt.timezone.utc)


# --- the roster ---------------------------------------------------------------------------------------------------

@dataclass
class Student:
    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""
    lms: dict[str, str] = field(default_factory=dict)   # the LMS's identity columns, as it wrote them


def _db(root: Path) -> str:
    return f"sqlite:///{(Path(root) / 'gradebook.db').resolve()}"


@contextlib.contextmanager
def gradebook(root: Path):
    """nbgrader's Gradebook of the course (created when missing, as ``nbgrader db`` does: nbgrader runs
    ``alembic`` by name then, so this interpreter's bin folder goes on PATH for the while)."""
    from nbgrader.api import Gradebook

    bindir = str(Path(sys.executable).parent)
    saved = os.environ.get("PATH", "")
    if bindir not in saved.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bindir, saved])
    try:
        with Gradebook(_db(root)) as gb:
            yield gb
    finally:
        os.environ["PATH"] = saved


def _rows(path: Path) -> list[dict[str, str]]:
    text = Path(path).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def read_roster(path: Path, lms: str) -> list[Student]:
    """Students from an LMS export (``canvas``: the gradebook CSV; ``moodle``: the gradebook "plain text" export)
    or nbgrader's roster CSV (``nbgrader``: id, first_name, last_name, email, lms_user_id)."""
    rows = _rows(path)
    if not rows:
        raise LMSError(f"roster: {path} has no rows")
    header = set(rows[0])
    need = {"canvas": {"Student", "ID"}, "moodle": {"First name", "Last name", "Email address"},
            "nbgrader": {"id"}}[lms]
    if not need <= header:
        raise LMSError(f"roster: {path} is not a {lms} roster (needs the columns {sorted(need)}, has "
                       f"{sorted(header)[:8]})")
    out = []
    for row in rows:
        if lms == "canvas":
            name = row["Student"].strip()
            if not name or name == "Points Possible" or name.startswith("Student, Test"):
                continue                                # Canvas's points row and its test student
            last, _, first = name.partition(",")
            sid = row.get("SIS User ID") or row.get("SIS Login ID") or row["ID"]
            login = row.get("SIS Login ID", "")
            out.append(Student(sid.strip(), first.strip(), last.strip(), login if "@" in login else "",
                               row["ID"].strip(), {k: row.get(k, "") for k in CANVAS_IDENTITY}))
        elif lms == "moodle":
            sid = row.get("ID number") or row["Email address"]
            out.append(Student(sid.strip(), row["First name"].strip(), row["Last name"].strip(),
                               row["Email address"].strip(), "", {k: row.get(k, "") for k in MOODLE_IDENTITY}))
        else:
            out.append(Student(row["id"].strip(), row.get("first_name", ""), row.get("last_name", ""),
                               row.get("email", ""), row.get("lms_user_id", "")))
    bad = [s.id for s in out if not s.id or "/" in s.id or "\\" in s.id or s.id in (".", "..")]
    if bad:
        raise LMSError(f"roster: student ids must be non-empty and contain no '/' (got {bad[:3]})")
    return out


def _roster_file(root: Path) -> Path:
    return Path(root) / ".coursekit" / "roster.json"


def import_roster(root: Path, path: Path, lms: str) -> list[Student]:
    """Add or update every student of the roster in the gradebook (as ``nbgrader db student import`` does) and
    keep the LMS's identity columns for the export. Returns the students."""
    students = read_roster(path, lms)
    with gradebook(root) as gb:
        for s in students:
            gb.update_or_create_student(s.id, first_name=s.first_name, last_name=s.last_name, email=s.email or None,
                                        lms_user_id=s.lms_user_id or None)
    saved = _load_identities(root)
    for s in students:
        if s.lms:
            saved.setdefault(lms, {})[s.id] = s.lms
    target = _roster_file(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, json.dumps(saved, ensure_ascii=False, indent=1))
    return students


def _load_identities(root: Path) -> dict[str, dict[str, dict[str, str]]]:
    path = _roster_file(root)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def roster(root: Path) -> list[Student]:
    """Every student in the gradebook, with the LMS identity columns imported for them."""
    saved = _load_identities(root)
    with gradebook(root) as gb:
        return [Student(s.id, s.first_name or "", s.last_name or "", s.email or "", s.lms_user_id or "",
                        {**saved.get("canvas", {}).get(s.id, {}), **saved.get("moodle", {}).get(s.id, {})})
                for s in gb.students]


# --- collecting an LMS download ------------------------------------------------------------------------------------

@dataclass
class Collected:
    student: str
    file: str
    timestamp: dt.datetime
    late_marked: bool = False


@dataclass
class Collection:
    collected: list[Collected]
    unmatched: list[str]                 # entries of the archive that name no rostered student
    missing: list[str]                   # rostered students with no file in the archive


def _zip_time(info: zipfile.ZipInfo, tz: dt.tzinfo) -> dt.datetime:
    """A zip entry's time stamp (stored as local time without a zone) in UTC, read in the LMS's zone ``tz``."""
    return dt.datetime(*info.date_time, tzinfo=tz).astimezone(dt.timezone.utc)


def _zone(offset: str) -> dt.tzinfo:
    m = re.fullmatch(r"(?:UTC)?([+-])(\d{1,2}):?(\d{2})?", offset.strip())
    if offset.strip().upper() in ("UTC", "Z", "+00:00"):
        return dt.timezone.utc
    if not m:
        raise LMSError(f"--timezone: expected a UTC offset such as +08:00, got {offset!r}")
    sign = 1 if m.group(1) == "+" else -1
    return dt.timezone(sign * dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0)))


def _notebook_name(file: str, assignment: str) -> str | None:
    """The assignment notebook a submitted file is: "ddpm.ipynb", "ddpm-1.ipynb" (Canvas's re-submission),
    "ddpm (1).ipynb"; None for other files."""
    base = Path(file).name
    m = re.fullmatch(rf"{re.escape(assignment)}(?:-\d+| ?\(\d+\))?\.ipynb", base, re.I)
    return f"{assignment}.ipynb" if m else None


def _moodle_worksheet(path: Path | None, tz: dt.tzinfo) -> dict[str, tuple[str, dt.datetime | None]]:
    """{participant id: (email, submission time)} from Moodle's grading worksheet."""
    if path is None:
        return {}
    out = {}
    for row in _rows(path):
        ident = row.get("Identifier", "")
        m = re.search(r"(\d+)\s*$", ident)
        if not m:
            continue
        when = None
        raw = (row.get("Last modified (submission)") or "").strip()
        for pattern in MOODLE_WORKSHEET_TIME:
            try:
                when = dt.datetime.strptime(raw, pattern).replace(tzinfo=tz).astimezone(dt.timezone.utc)
                break
            except ValueError:
                continue
        out[m.group(1)] = (row.get("Email address", "").strip(), when)
    return out


def collect(root: Path, assignment: str, archive: Path, lms: str, timezone: str = "+00:00",
            worksheet: Path | None = None) -> Collection:
    """Put a Canvas / Moodle "download all submissions" zip into ``submitted/<student>/<assignment>/`` as nbgrader
    collects: ``<assignment>.ipynb`` and ``timestamp.txt`` (UTC). Students are matched through the roster
    (:func:`import_roster` first): Canvas by its user id (the roster's ``lms_user_id``); Moodle by the grading
    worksheet's e-mail for the participant id (``worksheet``), else by full name. The time stamp is the worksheet's
    "Last modified (submission)" (Moodle) or the zip entry's time, read in ``timezone``, the LMS's zone. Of several
    files of one student, the latest wins. Nothing is written for entries that match no rostered student: they
    are returned (and the command prints them)."""
    if lms not in LMS:
        raise LMSError(f"--lms: expected one of {', '.join(LMS)}, got {lms!r}")
    archive = Path(archive)
    if not zipfile.is_zipfile(archive):
        raise LMSError(f"archive: expected the LMS's zip download, got {str(archive)!r} (not a zip file)")
    tz = _zone(timezone)
    students = roster(root)
    if not students:
        raise LMSError("no students in the gradebook: import the roster first (coursekit grade roster FILE --lms ...)")
    by_lms_id = {s.lms_user_id: s for s in students if s.lms_user_id}
    by_email = {s.email.lower(): s for s in students if s.email}
    by_name = {f"{s.first_name} {s.last_name}".strip().lower(): s for s in students}
    by_sortable = {re.sub(r"[^a-z0-9]", "", f"{s.last_name}{s.first_name}".lower()): s for s in students}
    sheet = _moodle_worksheet(worksheet, tz) if lms == "moodle" else {}
    chosen: dict[str, tuple[Collected, bytes]] = {}
    unmatched = []
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.is_dir() or "__MACOSX" in info.filename:
                continue
            entry = info.filename
            m = (CANVAS_FILE if lms == "canvas" else MOODLE_FILE).match(entry if lms == "moodle" else
                                                                         Path(entry).name)
            if not m or _notebook_name(m.group("file"), assignment) is None:
                unmatched.append(entry)
                continue
            when = _zip_time(info, tz)
            late = False
            if lms == "canvas":
                student = by_lms_id.get(m.group("user")) or by_sortable.get(m.group("name"))
                late = bool(m.group("late"))
            else:
                email, sheet_time = sheet.get(m.group("participant"), ("", None))
                student = by_email.get(email.lower()) if email else None
                student = student or by_name.get(m.group("name").strip().lower())
                when = sheet_time or when
            if student is None:
                unmatched.append(entry)
                continue
            item = Collected(student.id, entry, when, late)
            previous = chosen.get(student.id)
            if previous is None or (item.timestamp, item.file) > (previous[0].timestamp, previous[0].file):
                chosen[student.id] = (item, zf.read(info))
    for sid, (item, data) in chosen.items():
        dest = Path(root) / "submitted" / sid / assignment
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        (dest / f"{assignment}.ipynb").write_bytes(data)
        (dest / "timestamp.txt").write_text(item.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    missing = sorted(s.id for s in students if s.id not in chosen)
    return Collection(sorted((c for c, _ in chosen.values()), key=lambda c: c.student), sorted(unmatched), missing)


# --- the export ---------------------------------------------------------------------------------------------------

def _grades(root: Path, assignment: str) -> tuple[dict[str, float], float, dict[str, bool]]:
    """({student: total after late penalty}, max score, {student: written parts still waiting})."""
    from nbgrader.api import MissingEntry

    with gradebook(root) as gb:
        try:
            max_score = float(gb.find_assignment(assignment).max_score)
        except MissingEntry:
            raise LMSError(f"assignment: {assignment!r} is not in the gradebook (generate it first)") from None
        totals, waiting = {}, {}
        for sub in gb.assignment_submissions(assignment):
            penalty = float(sub.late_submission_penalty or 0)
            totals[sub.student_id] = max(0.0, float(sub.score) - penalty)
            waiting[sub.student_id] = bool(sub.needs_manual_grade)
    return totals, max_score, waiting


def export_rows(root: Path, assignment: str, lms: str, missing: str = "zero",
                column: str | None = None) -> list[list[str]]:
    """The LMS's import layout as rows (header first): one row per rostered student, students who never submitted
    included (0 with ``missing="zero"``; blank for Canvas / "-" for Moodle with ``missing="blank"``: no grade)."""
    if lms not in LMS:
        raise LMSError(f"--lms: expected one of {', '.join(LMS)}, got {lms!r}")
    if missing not in ("zero", "blank"):
        raise LMSError(f"--missing: expected zero or blank, got {missing!r}")
    totals, max_score, _ = _grades(root, assignment)
    students = sorted(roster(root), key=lambda s: (s.last_name.lower(), s.first_name.lower(), s.id))
    no_grade = "" if lms == "canvas" else "-"

    def grade(sid: str) -> str:
        if sid in totals:
            return f"{totals[sid]:g}"
        return "0" if missing == "zero" else no_grade

    if lms == "canvas":
        rows = [CANVAS_IDENTITY + [column or assignment], [CANVAS_POINTS, "", "", "", "", f"{max_score:g}"]]
        for s in students:
            got = s.lms if "Student" in s.lms else {
                "Student": f"{s.last_name}, {s.first_name}".strip(", "), "ID": s.lms_user_id, "SIS User ID": s.id,
                "SIS Login ID": s.email, "Section": ""}
            rows.append([got.get(k, "") for k in CANVAS_IDENTITY] + [grade(s.id)])
        return rows
    now = str(int(dt.datetime.now(dt.timezone.utc).timestamp()))
    rows = [MOODLE_IDENTITY + [column or f"Assignment: {assignment} (Real)", MOODLE_TIME]]
    for s in students:
        got = s.lms if "Email address" in s.lms else {
            "First name": s.first_name, "Last name": s.last_name, "ID number": s.id, "Institution": "",
            "Department": "", "Email address": s.email}
        rows.append([got.get(k, "") for k in MOODLE_IDENTITY] + [grade(s.id), now])
    return rows


def export(root: Path, assignment: str, lms: str, out: Path, missing: str = "zero", column: str | None = None) -> Path:
    """Write :func:`export_rows` as CSV (UTF-8; Excel-safe with a BOM) to ``out``, atomically."""
    rows = export_rows(root, assignment, lms, missing, column)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    _atomic_write(Path(out), "\ufeff" + buf.getvalue())
    return Path(out)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
