#!/usr/bin/env bash
# The course on a local JupyterHub: one instructor and three students, each with JupyterLab 4, nbgrader's
# Assignments / Courses / Formgrader and the course's kernel, nbgrader's exchange in $HUB_ROOT/exchange.
#
#   bash scripts/hub.sh start     # as root, after bash scripts/setup.sh --hub; then open http://127.0.0.1:8000
#   bash scripts/hub.sh status    # is it running, whose servers run
#   bash scripts/hub.sh stop      # stops every server, the proxy and the hub; checks that no process is left
#   bash scripts/hub.sh run ck-instructor -- bash    # a command as that user, in that user's view
#   bash scripts/hub.sh clean     # stop, then remove the demo's users (only those hub.sh made) and $HUB_ROOT
#
# The users are system users with locked passwords (no login to the machine); each logs in to the hub with a
# random password of their own, listed in $HUB_ROOT/state/passwords.txt (root only). Every server runs as its
# Unix user inside a bubblewrap view that shows the system, the course's Python environment and coursekit
# read-only, the user's home and the exchange, and nothing else (scripts/hub/coursehub.py). docs/hub.md walks
# an instructor through it and through a real deployment (the university's login, Kubernetes, 300 students).
#
# Settings (environment): HUB_ROOT (/srv/coursekit-hub), HUB_PORT (8000), HUB_INSTRUCTOR (ck-instructor),
# HUB_STUDENTS ("ck-alice ck-bob ck-carol").
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=$REPO/.venv/bin/python
HUB_ROOT=${HUB_ROOT:-/srv/coursekit-hub}
HUB_PORT=${HUB_PORT:-8000}
INSTRUCTOR=${HUB_INSTRUCTOR:-ck-instructor}
read -r -a STUDENTS <<< "${HUB_STUDENTS:-ck-alice ck-bob ck-carol}"
STATE=$HUB_ROOT/state
EXCHANGE=$HUB_ROOT/exchange
MARK="coursekit hub demo"           # the comment of every user hub.sh creates (clean removes only those)

die() { echo "hub.sh: $1" >&2; exit "${2:-1}"; }
usage() { die "usage: bash scripts/hub.sh start|stop|status|clean|run USER -- CMD..." 2; }
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$s" ] && [ "${s:0:1}" != Z ]; }   # not a zombie
hub_pid() { [ -f "$STATE/hub.pid" ] && alive "$(cat "$STATE/hub.pid")" && cat "$STATE/hub.pid"; }
need_root() { [ "$(id -u)" = 0 ] || die "$1 needs root: it creates the demo's Unix users and runs their servers as them"; }
# the REST API with the hub.sh service's token: api GET /users
api() {
    "$PY" - "$1" "http://127.0.0.1:$(cat "$STATE/port")/hub/api$2" "$STATE/api_token" <<'PY'
import json, sys, urllib.request
method, url, token = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().strip()
req = urllib.request.Request(url, method=method, headers={"Authorization": f"token {token}"})
with urllib.request.urlopen(req, timeout=30) as r:
    print(r.read().decode() or "{}")
PY
}

make_user() {     # a system user with a locked password and a private home
    local user=$1
    if id -u "$user" >/dev/null 2>&1; then
        [ "$(getent passwd "$user" | cut -d: -f5)" = "$MARK" ] || \
            die "user $user exists and was not made by hub.sh: choose other names (HUB_INSTRUCTOR, HUB_STUDENTS)"
    else
        useradd --create-home --shell /bin/bash --comment "$MARK" "$user"
    fi
    chmod 700 "$(getent passwd "$user" | cut -d: -f6)"
}

give_font_cache() {   # matplotlib's font list, built once by setup.sh: a kernel that rebuilds it warns on stderr
    local user=$1 home src
    home=$(getent passwd "$user" | cut -d: -f6)
    compgen -G "$home/.cache/matplotlib/fontlist-*.json" >/dev/null && return 0
    src=$("$PY" -c "import matplotlib; print(matplotlib.get_cachedir())" 2>/dev/null) || return 0
    compgen -G "$src/fontlist-*.json" >/dev/null || return 0
    install -d -o "$user" -g "$(id -gn "$user")" -m 700 "$home/.cache" "$home/.cache/matplotlib"
    install -o "$user" -g "$(id -gn "$user")" -m 600 "$src"/fontlist-*.json "$home/.cache/matplotlib/"
}

make_course() {   # the instructor's course folder: the course's nbgrader_config.py and every assignment's source
    local home course
    home=$(getent passwd "$INSTRUCTOR" | cut -d: -f6)
    course=$home/course
    if [ ! -d "$course" ]; then
        mkdir -p "$course"
        cp nbgrader_config.py "$course/"
        cp -R solutions "$course/solutions"
        chown -R "$INSTRUCTOR:$(id -gn "$INSTRUCTOR")" "$course"
        echo "hub.sh: the course is in $course (copied from $REPO: nbgrader_config.py, solutions/)"
    fi
}

start() {
    need_root start
    "$PY" -c "import jupyterhub, configurable_http_proxy" 2>/dev/null || \
        die "JupyterHub is not installed in .venv: run bash scripts/setup.sh --hub (the hub extra)"
    for tool in bwrap setpriv useradd; do
        command -v "$tool" >/dev/null || die "$tool is missing (bash scripts/setup.sh as root installs bubblewrap)"
    done
    [[ "$HUB_PORT" =~ ^[0-9]+$ ]] && [ "$HUB_PORT" -ge 1 ] && [ "$HUB_PORT" -le 65535 ] || \
        die "HUB_PORT: expected a port number, got '$HUB_PORT'" 2
    if pid=$(hub_pid); then die "already running (pid $pid, http://127.0.0.1:$(cat "$STATE/port"))"; fi
    "$PY" -c "import socket as k, sys; s = k.socket(); s.setsockopt(k.SOL_SOCKET, k.SO_REUSEADDR, 1); s.bind(('127.0.0.1', int(sys.argv[1])))" "$HUB_PORT" \
        2>/dev/null || die "port $HUB_PORT on 127.0.0.1 is taken: choose another with HUB_PORT"
    install -d -m 700 "$HUB_ROOT/state"
    chmod 755 "$HUB_ROOT"
    install -d -m 1777 "$EXCHANGE"        # nbgrader wants its root writable by all (sticky: nobody renames another's)
    for user in "$INSTRUCTOR" "${STUDENTS[@]}"; do
        make_user "$user"
        give_font_cache "$user"
    done
    make_course
    "$PY" scripts/hub/coursehub.py passwords "$STATE" "$INSTRUCTOR" "${STUDENTS[@]}"
    [ -s "$STATE/api_token" ] || (umask 077 && "$PY" -c "import secrets; print(secrets.token_hex(32))" \
        > "$STATE/api_token")
    echo "$HUB_PORT" > "$STATE/port"
    "$PY" - "$STATE/hub.json" "$HUB_PORT" "$INSTRUCTOR" "$EXCHANGE" "$PY" "${STUDENTS[@]}" <<'PY'
import json, sys
path, port, instructor, exchange, python, *students = sys.argv[1:]
json.dump({"port": int(port), "instructors": [instructor], "students": students, "exchange": exchange,
           "python": python}, open(path, "w"), indent=1)
PY
    # the hub in its own session, its output in the log: it outlives this shell, and stop ends it
    cd "$STATE"
    COURSEKIT_HUB_STATE="$STATE" PATH="$REPO/.venv/bin:$PATH" \
        setsid "$PY" -m jupyterhub -f "$REPO/scripts/hub/jupyterhub_config.py" >>"$STATE/hub.log" 2>&1 < /dev/null &
    echo $! > "$STATE/hub.pid"
    cd "$REPO"
    local url="http://127.0.0.1:$HUB_PORT"
    for _ in $(seq 180); do
        if ! hub_pid >/dev/null; then tail -n 20 "$STATE/hub.log" >&2; die "the hub exited (log: $STATE/hub.log)"; fi
        "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url/hub/health" \
            2>/dev/null && break
        sleep 1
    done
    "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url/hub/health" \
        2>/dev/null || die "the hub does not answer at $url after 180 s (log: $STATE/hub.log)"
    echo "hub.sh: JupyterHub at $url (pid $(cat "$STATE/hub.pid"))"
    echo "hub.sh: instructor $INSTRUCTOR, students ${STUDENTS[*]}; passwords in $STATE/passwords.txt"
}

stop() {
    local pid left=""
    if ! pid=$(hub_pid); then echo "hub.sh: not running"; return 0; fi
    kill -TERM "$pid"                     # the hub stops every server and its proxy, then exits
    for _ in $(seq 120); do alive "$pid" || break; sleep 0.5; done
    alive "$pid" && die "the hub (pid $pid) did not stop within 60 s (log: $STATE/hub.log)"
    rm -f "$STATE/hub.pid"
    for user in "$INSTRUCTOR" "${STUDENTS[@]}"; do
        if id -u "$user" >/dev/null 2>&1 && procs=$(pgrep -u "$user" -d, 2>/dev/null); then left="$left $user:$procs"; fi
    done
    if [ -f "$STATE/proxy.pid" ] && alive "$(cat "$STATE/proxy.pid")"; then
        left="$left proxy:$(cat "$STATE/proxy.pid")"
    fi
    [ -z "$left" ] || die "stopped, but processes are left:$left"
    echo "hub.sh: stopped (no process left)"
}

status() {
    local pid
    if ! pid=$(hub_pid); then echo "hub.sh: not running"; return 3; fi
    echo "hub.sh: running (pid $pid) at http://127.0.0.1:$(cat "$STATE/port")"
    api GET /users | "$PY" -c "
import json, sys
for user in json.load(sys.stdin):
    running = [name or 'default' for name, s in user.get('servers', {}).items() if s.get('ready')]
    print(f\"  {user['name']:<16} {'server running' if running else 'no server'}\")"
}

clean() {
    need_root clean
    stop
    for user in "$INSTRUCTOR" "${STUDENTS[@]}"; do
        if id -u "$user" >/dev/null 2>&1 && [ "$(getent passwd "$user" | cut -d: -f5)" = "$MARK" ]; then
            userdel --remove "$user" 2>/dev/null || userdel "$user"
        fi
    done
    rm -rf "$HUB_ROOT"
    echo "hub.sh: removed the demo's users and $HUB_ROOT"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    clean) clean ;;
    run)
        need_root run
        [ $# -ge 4 ] && [ "$3" = "--" ] || usage
        hub_pid >/dev/null || die "not running: bash scripts/hub.sh start"
        exec "$PY" scripts/hub/coursehub.py run "$STATE" "$2" -- "${@:4}" ;;
    *) usage ;;
esac
