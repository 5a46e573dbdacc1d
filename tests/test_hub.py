"""The course on a real JupyterHub, end to end (issue 27): `bash scripts/hub.sh start` as root, one instructor
and two students (Unix users made by the script), nbgrader's exchange in the hub's folder, Chromium via
Playwright driving what a user does; the nbgrader command line and the hub's REST API, as the right user inside
that user's view (`hub.sh run`), do the set-up steps.

    in the browser (the steps that matter to a user)      as set-up (CLI / REST, as the right user)
    alice logs in, fetches ddpm in the Assignments tab    the instructor generates and releases ddpm
    alice submits there                                   alice's answers (the reference's) written by the
    the instructor sees both submissions in Formgrader      contents API with her own token
    the instructor grades the written part there          bob fetches and submits the blank notebook
    alice fetches her feedback there and reads her score  the instructor collects, autogrades (in the sandbox),
                                                            generates and releases feedback; bob fetches his

Scores are asserted from the gradebook and from what each student's feedback page shows; the feedback never
shows the hidden tests. Isolation: alice, through the hub (the other server, the contents API, her kernel, a terminal),
cannot read bob's home or submission, the instructor's course (solutions/, gradebook). Stopping leaves no
process. Runs only as root with bubblewrap, Chromium and the `hub` extra (scripts/setup.sh --hub); marker `hub`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser  # noqa: E402
import course  # noqa: E402

from coursekit import grading  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TEACHER, ALICE, BOB = "ckt-teacher", "ckt-alice", "ckt-bob"
ASSIGNMENT = "ddpm"
INBOUND_VIEW = "/srv/nbgrader/exchange/coursekit/inbound"       # the exchange as every view shows it

pytestmark = [
    pytest.mark.hub, pytest.mark.slow,
    pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0,
                       reason="needs root: hub.sh creates Unix users and runs each server as its user"),
    pytest.mark.skipif(shutil.which("bwrap") is None or shutil.which("setpriv") is None,
                       reason="needs bubblewrap and setpriv (scripts/setup.sh as root)"),
    pytest.mark.skipif(importlib.util.find_spec("jupyterhub") is None
                       or importlib.util.find_spec("configurable_http_proxy") is None,
                       reason="needs the hub extra (bash scripts/setup.sh --hub)"),
    *browser.needs_browser,
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Hub:
    def __init__(self, root: Path):
        self.root, self.port = root, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # the tests' own Jupyter/matplotlib folders (conftest) stay out of the hub and the users' views
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("JUPYTER", "IPYTHON", "MPL", "COURSEKIT_"))}
        self.env.update(HUB_ROOT=str(root), HUB_PORT=str(self.port), HUB_INSTRUCTOR=TEACHER,
                        HUB_STUDENTS=f"{ALICE} {BOB}")
        self.cpu_children = 0.0

    def sh(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        proc = subprocess.run(["bash", "scripts/hub.sh", *args], cwd=REPO, env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        return proc

    def run_as(self, user: str, command: str, timeout: float = 600) -> str:
        """``command`` (bash) as ``user`` inside that user's view, as their server runs it."""
        proc = self.sh("run", user, "--", "bash", "-c", command, timeout=timeout)
        assert proc.returncode == 0, f"{user}: {command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout + proc.stderr

    def password(self, user: str) -> str:
        lines = (self.root / "state" / "passwords.txt").read_text().splitlines()
        return dict(line.split(" ", 1) for line in lines)[user]

    def api(self, method: str, path: str, token: str | None = None, body=None) -> tuple[int, object]:
        """(status, JSON) of the hub's REST API (``/hub/api...``) or a user's server (``/user/...``)."""
        token = token or (self.root / "state" / "api_token").read_text().strip()
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Authorization": f"token {token}"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                text = response.read().decode()
                return response.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()[:500]

    def user_token(self, user: str) -> str:
        status, reply = self.api("POST", f"/hub/api/users/{user}/tokens", body={"note": "test_hub"})
        assert status in (200, 201), reply
        return reply["token"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = Hub(tmp_path_factory.mktemp("hub") / "root")
    proc = hub.sh("start", timeout=300)
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield hub
    finally:
        if hub.sh("status").returncode == 0:          # a test stopped early: the hub is still up
            print(hub.sh("stop").stdout)
        print((hub.root / "state" / "hub.log").read_text()[-3000:] if (hub.root / "state").exists() else "")
        hub.sh("clean")                                # the demo's users and the hub's folder


def _login(context, hub: Hub, user: str, landing: str | None = None):
    """A page of ``user`` logged in through the hub's login form. Without ``landing`` the hub spawns the server and
    opens JupyterLab, as for a student; with it (the server already running) it opens that page of the server, e.g.
    Formgrader (what JupyterLab's Formgrader tab shows, without JupyterLab around it)."""
    page = context.new_page()
    page.set_default_timeout(120_000)                    # a loaded 2-core machine answers slowly
    page.goto(f"{hub.url}/hub/login" + (f"?next=/user/{user}/{landing}" if landing else ""),
              wait_until="domcontentloaded")
    page.fill("#username_input", user)
    page.fill("#password_input", hub.password(user))
    page.click("#login_submit")
    # wait for the server's address, then for the page's content (a page's "load" event can wait minutes on a
    # loaded machine for resources nobody needs)
    page.wait_for_url(f"**/user/{user}/{landing or 'lab'}**", timeout=300_000, wait_until="commit")
    page.wait_for_selector("body" if landing else ".lm-MenuBar-itemLabel", timeout=300_000)
    return page


def _wait_ready(hub: Hub, user: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not hub.api("GET", f"/hub/api/users/{user}")[1]["servers"].get("", {}).get("ready"):
        assert time.monotonic() < deadline, f"{user}'s server is not ready after {timeout_s:.0f} s"
        time.sleep(1)


def _assignment_list(page):
    """Nbgrader → Assignment List, the students' Assignments tab."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Assignment List").first.click()
    page.wait_for_selector("#released_assignments_list", timeout=60_000)


def _wait_text(locator, text: str, timeout_s: float = 120) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        shown = locator.inner_text()
        if text in shown:
            return shown
        time.sleep(0.5)
    raise AssertionError(f"{text!r} never appeared; shown: {locator.inner_text()[:500]!r}")


def _gradebook(hub: Hub) -> dict[str, dict[str, float]]:
    """{student: {grade_id: score, "total": score}} read by the instructor in the instructor's view."""
    out = hub.run_as(TEACHER, "cd ~/course && python -c 'import json; from coursekit import grading; "
                     f"print(\"SCORES\", json.dumps(grading.scores(\".\", \"{ASSIGNMENT}\")))'")
    return json.loads(out.split("SCORES ", 1)[1].splitlines()[0])


def _feedback_text(hub: Hub, user: str, token: str) -> str:
    """The text of ``user``'s fetched feedback page (through their server's contents API)."""
    status, listing = hub.api("GET", f"/user/{user}/api/contents/{ASSIGNMENT}/feedback", token)
    assert status == 200, listing
    stamp = sorted(item["path"] for item in listing["content"])[-1]
    status, page = hub.api("GET", f"/user/{user}/api/contents/{quote(stamp)}/{ASSIGNMENT}.html?content=1", token)
    assert status == 200, page
    return page["content"]


def _hidden_test_lines() -> list[str]:
    source = nbformat.read(REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    return [line for c in source.cells for line in grading.block_lines(c.source, min_length=13)]


def test_a_term_on_the_hub(hub):
    started = time.monotonic()
    # set-up: the instructor generates and releases the assignment (nbgrader CLI in the instructor's view)
    hub.run_as(TEACHER, f"cd ~/course && nbgrader generate_assignment {ASSIGNMENT} --force "
                        f"&& nbgrader release_assignment {ASSIGNMENT}")
    alice_token = hub.user_token(ALICE)
    status, reply = hub.api("POST", f"/hub/api/users/{TEACHER}/server")     # set-up: starts while the class works
    assert status in (201, 202), reply
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(browser.CHROMIUM), args=browser.ARGS)
        try:
            alice = _login(chromium.new_context(viewport={"width": 1400, "height": 1000}), hub, ALICE)
            # alice fetches it in the Assignments tab (UI)
            _assignment_list(alice)
            released = alice.locator("#released_assignments_list")
            _wait_text(released, ASSIGNMENT)
            released.locator("button", has_text="Fetch").first.click()
            fetched = alice.locator("#fetched_assignments_list")
            _wait_text(fetched, ASSIGNMENT)
            # set-up: her answers (the reference's) written by the contents API with her own token
            path = f"/user/{ALICE}/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
            status, fetched_nb = hub.api("GET", path, alice_token)
            assert status == 200, fetched_nb
            release_nb = nbformat.from_dict(fetched_nb["content"])
            solution_nb = nbformat.read(REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
            answered = course.answered(release_nb, solution_nb)
            status, reply = hub.api("PUT", path, alice_token, {"type": "notebook", "format": "json",
                                                               "content": answered})
            assert status == 200, reply
            # alice submits in the Assignments tab (UI)
            fetched.locator("button", has_text="Submit").first.click()
            _wait_text(alice.locator("#submitted_assignments_list"), "UTC")

            # set-up: bob fetches and submits the blank notebook; the instructor collects and autogrades
            hub.run_as(BOB, f"nbgrader fetch_assignment {ASSIGNMENT} && nbgrader submit {ASSIGNMENT}")
            graded_at = time.monotonic()
            hub.run_as(TEACHER, f"cd ~/course && nbgrader collect {ASSIGNMENT} && nbgrader autograde {ASSIGNMENT}")
            autograde_s = time.monotonic() - graded_at
            scores = _gradebook(hub)
            assert set(scores) == {ALICE, BOB}, scores
            assert scores[BOB]["total"] == 0, scores[BOB]
            autograded = {k: v for k, v in scores[ALICE].items() if k not in ("total", "posterior_answer")}
            assert autograded and all(v > 0 for v in autograded.values()), scores[ALICE]

            # the instructor sees both in Formgrader and grades alice's written part there (UI)
            _wait_ready(hub, TEACHER)
            teacher = _login(chromium.new_context(viewport={"width": 1400, "height": 1000}), hub, TEACHER,
                             landing="formgrader")
            teacher.goto(f"{hub.url}/user/{TEACHER}/formgrader/manage_submissions/{ASSIGNMENT}",
                         wait_until="domcontentloaded")
            table = teacher.locator("table").first
            _wait_text(table, ALICE)
            _wait_text(table, BOB)
            teacher.goto(f"{hub.url}/user/{TEACHER}/formgrader/manage_students/{ALICE}/{ASSIGNMENT}",
                         wait_until="domcontentloaded")
            teacher.locator("a[href*='/formgrader/submissions/']").first.click()
            teacher.wait_for_load_state("load", timeout=180_000)      # its scripts save a score when it changes
            written = teacher.locator("#posterior_answer")
            for _attempt in range(3):
                written.fill("2")
                written.press("Tab")
                deadline = time.monotonic() + 30
                while (scores := _gradebook(hub))[ALICE].get("posterior_answer") != 2 and time.monotonic() < deadline:
                    time.sleep(2)
                if scores[ALICE].get("posterior_answer") == 2:
                    break
            assert scores[ALICE]["posterior_answer"] == 2, scores[ALICE]

            # set-up: feedback generated (hidden tests removed by the course's config) and released
            hub.run_as(TEACHER, f"cd ~/course && nbgrader generate_feedback {ASSIGNMENT} "
                                f"&& nbgrader release_feedback {ASSIGNMENT}")
            # alice fetches her feedback in the Assignments tab (UI) and opens it
            alice.reload(wait_until="commit")
            alice.wait_for_selector(".lm-MenuBar-itemLabel", timeout=300_000)
            _assignment_list(alice)
            submitted = alice.locator("#submitted_assignments_list")
            _wait_text(submitted, ASSIGNMENT)
            submitted.locator("button", has_text="Fetch Feedback").first.click()
            _wait_text(submitted, "view feedback")
            deadline = time.monotonic() + 120
            while hub.api("GET", f"/user/{ALICE}/api/contents/{ASSIGNMENT}/feedback", alice_token)[0] != 200:
                assert time.monotonic() < deadline, "alice's feedback never arrived"
                time.sleep(1)
            alice_text = _feedback_text(hub, ALICE, alice_token)
            feedback_dir = hub.api("GET", f"/user/{ALICE}/api/contents/{ASSIGNMENT}/feedback", alice_token)[1]
            stamp = sorted(item["path"] for item in feedback_dir["content"])[-1]
            alice.goto(f"{hub.url}/user/{ALICE}/files/{quote(stamp)}/{ASSIGNMENT}.html",
                       wait_until="domcontentloaded")
            alice_page = alice.locator("body").inner_text()
        finally:
            chromium.close()
    # bob never logged in (no server): he fetches and reads his feedback from the command line in his view
    bob_text = hub.run_as(BOB, f"nbgrader fetch_feedback {ASSIGNMENT} >/dev/null 2>&1 "
                               f"&& cat ~/{ASSIGNMENT}/feedback/*/{ASSIGNMENT}.html")

    total = scores[ALICE]["total"]
    assert f"Score: {total:.1f} / 14.0" in alice_page, alice_page[:600]     # what alice's page shows
    assert "Score: 0.0 / 14.0" in bob_text
    hidden = _hidden_test_lines()
    assert hidden, "the source has hidden tests"
    for text in (alice_text, bob_text):
        shown = [line for line in hidden if line in text or json.dumps(line)[1:-1] in text]
        assert not shown, f"feedback shows hidden tests: {shown[:3]}"
    print(f"\nhub term: {time.monotonic() - started:.0f} s wall, collect + autograde of 2: {autograde_s:.0f} s wall, "
          f"alice {total}/14, bob {scores[BOB]['total']}/14")


async def _execute(ws_url: str, token: str, code: str) -> str:
    """stdout of ``code`` run in a kernel through the server's kernel websocket (what a notebook does)."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
    msg_id, out = uuid.uuid4().hex, []
    conn.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "", "session": uuid.uuid4().hex,
                   "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    while True:
        msg = json.loads(await asyncio.wait_for(conn.read_message(), 180))
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    conn.close()
    return "".join(out)


async def _terminal(ws_url: str, token: str, command: str) -> str:
    """What a terminal prints for ``command`` (terminado's protocol: ["stdin", text] in, ["stdout", text] out)."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
    conn.write_message(json.dumps(["stdin", f"{command}; echo DONE-$((6*7))\r"]))
    out = ""
    while "DONE-42" not in out:                          # the echoed command line says DONE-$((6*7)), not DONE-42
        raw = await asyncio.wait_for(conn.read_message(), 120)
        assert raw is not None, f"the terminal closed: {out[-500:]}"
        message = json.loads(raw)
        if message[0] == "stdout":
            out += message[1]
    conn.close()
    return out


PROBE = """
import json, os
tried = {}
for path in PATHS:
    try:
        if os.path.isdir(path):
            tried[path] = "listed " + ",".join(sorted(os.listdir(path)))
        else:
            with open(path, "rb") as f:
                tried[path] = "read %d bytes" % len(f.read())
    except OSError as err:
        tried[path] = type(err).__name__
print("TRIED", json.dumps(tried))
"""


def test_a_student_cannot_read_others_through_the_hub(hub):
    submissions = sorted(p.name for p in (hub.root / "exchange" / "coursekit" / "inbound").iterdir())
    bob_submission = [name for name in submissions if name.startswith(BOB + "+")]
    assert bob_submission, f"run after test_a_term_on_the_hub (inbound: {submissions})"
    token = hub.user_token(ALICE)
    assert hub.api("GET", f"/user/{ALICE}/api/contents", token)[0] == 200
    # the other student's server: the hub refuses alice's token
    status, _ = hub.api("GET", f"/user/{BOB}/api/contents", token)
    assert status in (403, 404), status
    # the contents API stays inside her home
    for path in (f"../{BOB}", f"../{TEACHER}/course/gradebook.db", "../../srv/nbgrader/exchange"):
        status, reply = hub.api("GET", f"/user/{ALICE}/api/contents/{path}", token)
        assert status in (403, 404), (path, status, reply)
    # her kernel (a terminal runs in the same view as the same user): nothing of bob's or the instructor's
    status, kernel = hub.api("POST", f"/user/{ALICE}/api/kernels", token, {"name": "python3"})
    assert status == 201, kernel
    course_dir = f"/home/{TEACHER}/course"
    paths = [f"/home/{BOB}", f"/home/{BOB}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb", course_dir, f"{course_dir}/gradebook.db",
             f"{course_dir}/solutions/{ASSIGNMENT}/{ASSIGNMENT}.ipynb", str(REPO / "solutions"),
             str(REPO / "nbgrader_config.py"), INBOUND_VIEW, f"{INBOUND_VIEW}/{bob_submission[0]}",
             f"{INBOUND_VIEW}/{bob_submission[0]}/{ASSIGNMENT}.ipynb"]
    ws = hub.url.replace("http", "ws", 1) + f"/user/{ALICE}/api/kernels/{kernel['id']}/channels"
    out = asyncio.run(_execute(ws, token, f"PATHS = {paths!r}\n" + PROBE))
    assert "TRIED " in out, out
    tried = json.loads(out.split("TRIED ", 1)[1].splitlines()[0])
    readable = {p: what for p, what in tried.items() if what not in ("PermissionError", "FileNotFoundError")}
    assert not readable, f"alice can read: {readable}"
    own = asyncio.run(_execute(ws, token, f"PATHS = ['/home/{ALICE}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb']\n" + PROBE))
    assert "read " in own, own                           # the probe can succeed: her own work is readable
    hub.api("DELETE", f"/user/{ALICE}/api/kernels/{kernel['id']}", token)
    # a terminal (enabled: it runs as alice in the same view): the same files refused
    status, terminal = hub.api("POST", f"/user/{ALICE}/api/terminals", token)
    assert status == 200, terminal
    ws = hub.url.replace("http", "ws", 1) + f"/user/{ALICE}/terminals/websocket/{terminal['name']}"
    files = " ".join(shlex.quote(p) for p in paths if p.endswith((".ipynb", ".db", ".py")))
    shown = asyncio.run(_terminal(ws, token, f"cat {files} 2>&1 | cut -c1-300; id -un; ls --color=never /home"))
    assert "Permission denied" in shown and "No such file" in shown, shown
    assert "SQLite format" not in shown and '"cells"' not in shown, shown
    assert shown.split("DONE-42")[0].split()[-1] == ALICE, shown            # `ls /home` shows only hers
    hub.api("DELETE", f"/user/{ALICE}/api/terminals/{terminal['name']}", token)


def test_stop_leaves_no_process(hub):
    proc = hub.sh("stop", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no process left" in proc.stdout
    for user in (TEACHER, ALICE, BOB):
        assert subprocess.run(["pgrep", "-u", user], capture_output=True).returncode == 1, f"{user} has processes"
    assert hub.sh("status").returncode == 3
