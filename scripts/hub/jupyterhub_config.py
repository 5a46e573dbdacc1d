"""JupyterHub configuration of the course's local hub (`bash scripts/hub.sh start` runs
``jupyterhub -f scripts/hub/jupyterhub_config.py`` as root with COURSEKIT_HUB_STATE naming its state folder).

state/hub.json (written by hub.sh) says the port, the instructors, the students, the exchange folder and the
course's interpreter; everything the hub keeps (database, cookie secret, passwords, the service token, the log)
lives in that state folder (0700, root). See coursehub.py for the login and the view each server runs in, and
docs/hub.md for a real deployment (the university's login, Kubernetes).
"""

import json
import os
import socket
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from coursehub import CourseSpawner, PasswordFileAuthenticator  # noqa: E402

c = get_config()  # noqa: F821  (provided by jupyterhub)

STATE = Path(os.environ["COURSEKIT_HUB_STATE"])
SETTINGS = json.loads((STATE / "hub.json").read_text())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Only on this machine: the public port (the proxy), the hub's API and the proxy's API all on 127.0.0.1.
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(SETTINGS["port"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = free_port()
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{free_port()}"
# The proxy: PyPI's configurable-http-proxy (a Python port of the npm package, same command line), installed by
# the `hub` extra; npm's works too: c.ConfigurableHTTPProxy.command = ["configurable-http-proxy"].
c.ConfigurableHTTPProxy.command = [str(Path(sys.executable).parent / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.should_start = True
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")

c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True          # stopping the hub stops every user's server
c.JupyterHub.cleanup_proxy = True

# Login: one password per user (state/passwords.txt). Real courses: docs/hub.md (LDAP, OAuth / CAS).
c.JupyterHub.authenticator_class = PasswordFileAuthenticator
c.PasswordFileAuthenticator.password_file = str(STATE / "passwords.json")
c.Authenticator.allowed_users = set(SETTINGS["instructors"]) | set(SETTINGS["students"])
c.Authenticator.admin_users = set()          # nobody may open another user's server

# Servers: one JupyterLab per user, as that Unix user, inside the user's view (coursehub.CourseSpawner).
c.JupyterHub.spawner_class = CourseSpawner
c.CourseSpawner.instructors = set(SETTINGS["instructors"])
c.CourseSpawner.exchange = SETTINGS["exchange"]
c.CourseSpawner.python = SETTINGS["python"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180                # a loaded 2-core machine starts JupyterLab slowly
c.Spawner.http_timeout = 180

# hub.sh and the tests talk to the REST API with this service's token (state/api_token, root only): start and
# stop servers, list users, issue a user a token of their own.
c.JupyterHub.services = [{"name": "coursekit-admin", "api_token": (STATE / "api_token").read_text().strip()}]
c.JupyterHub.load_roles = [{"name": "coursekit-admin", "services": ["coursekit-admin"],
                            "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users"]}]
