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
- :func:`feedback`            ``nbgrader generate_feedback`` without the hidden tests
- :func:`scores`              the gradebook as {student: {grade_id: score}}

Parts: ``checks`` (in the kernel), ``execution`` (running nbgrader, the gradebook), ``parallel``, ``feedback``,
``commands`` (the command line).
"""

from .checks import (
    CallRecorder,
    assert_close,
    cell_seconds,
    check_countdown,
    check_untampered,
    expect_close,
    max_abs_error,
    no_reference,
    private_copy,
    reaches_reference,
    reference,
    reference_codes,
    reference_module,
    time_limit,
)
from .commands import main, print_table, run
from .execution import _db_url, scores
from .feedback import HIDDEN_BEGIN, HIDDEN_END, block_lines, feedback, hide_tests, strip_hidden
from .parallel import autograde_parallel

__all__ = ["CallRecorder", "check_countdown", "expect_close", "reference_codes", "reference_module",
           "assert_close", "autograde_parallel", "block_lines", "cell_seconds", "check_untampered", "feedback",
           "hide_tests", "main", "max_abs_error", "no_reference", "print_table", "private_copy", "reaches_reference",
           "reference", "run", "scores", "strip_hidden", "time_limit", "HIDDEN_BEGIN", "HIDDEN_END", "_db_url"]
