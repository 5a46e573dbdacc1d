"""Grading helpers, only where nbgrader has no command of its own.

Inside a graded notebook (hidden tests import these; they hold no solution):

- :func:`assert_close`   compare with float32 tolerances in plain Python (a submission that rebinds
  ``numpy.allclose`` / ``torch.allclose`` / ``torch.testing.assert_close`` cannot change the verdict)
- :func:`private_copy`   this module loaded afresh from its file (what hidden tests compare with)
- :func:`reference`      ``coursekit.<module>.<name>`` from a fresh private copy of the package, so a
  submission that rebinds ``coursekit.<module>.*`` cannot change the expected values
- :func:`no_reference`   fails a part when the reference ``coursekit.<module>.<name>`` runs during the block,
  however it was imported (judged by what runs, never by which names appear)
- :class:`CallRecorder`, :func:`check_countdown`   structure checks (which t the model saw, on which inputs)
- :func:`time_limit`     per-cell guard for training cells (SIGALRM; the kernel survives)

For the instructor (``coursekit grade ...`` or ``python -m coursekit.grading ...``):

- :func:`autograde_parallel`  autograde a class across cores; scores identical to ``nbgrader autograde``
- ``preflight.preflight``     grade the instructor's own solution in the sandbox first; refuse unless full marks
- :func:`feedback`            ``nbgrader generate_feedback`` (hidden tests removed by nbgrader_config.py) with
                              the per-part diagnosis at the top
- :func:`scores`              the gradebook as {student: {grade_id: score}}
- :func:`class_report`        the class report (HTML + CSV): scores, diagnosed mistakes, failure kinds, similarity
- ``lms``                     roster import, Canvas / Moodle collectors, due dates and late penalties, LMS export

Parts: ``checks`` (in the kernel; imports torch), ``diagnosis`` (what a failed part shows), ``execution``
(running nbgrader, the gradebook), ``sandbox``, ``preflight``, ``nbhooks`` (the preprocessors nbgrader_config.py
installs), ``parallel``, ``feedback``, ``report``, ``similarity``, ``lms``, ``commands`` (the command line).

Names are loaded on first use (PEP 562): ``nbgrader_config.py`` imports ``coursekit.grading.sandbox`` and the
other grader-side modules in every nbgrader process without importing torch.
"""

from __future__ import annotations

import importlib

# A submodule and a function share the name "feedback": the function is bound here, after its module is loaded, so
# ``coursekit.grading.feedback`` is the function whatever imports the module later (feedback.py is stdlib only).
from .feedback import feedback  # noqa: E402,F401

# public name -> the submodule that defines it
_EXPORTS = {
    "checks": ("CallRecorder", "assert_close", "cell_seconds", "check_countdown", "check_untampered", "expect_close",
               "max_abs_error", "no_reference", "private_copy", "reaches_reference", "reference", "reference_codes",
               "reference_module", "replaced", "time_limit"),
    "commands": ("main", "print_table", "run"),
    "execution": ("_db_url", "scores"),
    "feedback": ("HIDDEN_BEGIN", "HIDDEN_END", "block_lines", "feedback", "hide_tests", "strip_hidden"),
    "parallel": ("autograde_parallel",),
    "preflight": ("PreflightFailed",),
    "report": ("class_report",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'coursekit.grading' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value              # later lookups (and a submission rebinding it) see a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
