"""nbgrader for a student on the course's hub (shown read-only in every student's view at
/etc/coursekit-hub/jupyter, which JUPYTER_CONFIG_PATH names): the course, the exchange, and a submit that keeps
each submission private to its student and the instructors (scripts/hub/hub_exchange.py)."""

import sys

c = get_config()  # noqa: F821  (provided by nbgrader)
if "/opt/coursekit-hub" not in sys.path:          # scripts/hub, where hub_exchange.py lives, inside the view
    sys.path.append("/opt/coursekit-hub")
c.CourseDirectory.course_id = "coursekit"
c.Exchange.root = "/srv/nbgrader/exchange"
c.ExchangeFactory.submit = "hub_exchange.PrivateSubmit"
