"""nbgrader for the instructor on the course's hub (shown read-only in the instructor's view at
/etc/coursekit-hub/jupyter): the course folder ~/course (its own nbgrader_config.py, the repository's, holds the
rest: the sandbox, timeouts, the preflight, feedback without hidden tests) and the exchange."""

import os

c = get_config()  # noqa: F821  (provided by nbgrader)
c.CourseDirectory.root = os.path.expanduser("~/course")
c.CourseDirectory.course_id = "coursekit"
c.Exchange.root = "/srv/nbgrader/exchange"
