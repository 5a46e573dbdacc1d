"""Grading helpers, only where nbgrader has no command of its own.

Inside a graded notebook (hidden tests import these; they hold no solution):

- :func:`assert_close`   compare with float32 tolerances in plain Python (a submission that rebinds
  ``numpy.allclose`` / ``torch.allclose`` / ``torch.testing.assert_close`` cannot change the verdict)
- :func:`private_copy`   this module loaded afresh from its file (what hidden tests compare with)
- :func:`reference`      a coursekit.diffusion function from a fresh private copy of the package, so a
  submission that rebinds ``coursekit.diffusion.*`` cannot change the expected values
- :func:`no_reference`   fails a part whose function only calls the coursekit reference for itself
  (static: names the code reaches; dynamic: the reference is swapped for a counting stub during the call)
- :func:`time_limit`     per-cell guard for training cells (SIGALRM; the kernel survives)

For the instructor (``coursekit grade ...`` or ``python -m coursekit.grading ...``):

- :func:`autograde_parallel`  autograde a class across cores; scores identical to ``nbgrader autograde``
- :func:`feedback`            ``nbgrader generate_feedback`` without the hidden tests
- :func:`scores`              the gradebook as {student: {grade_id: score}}

Parts: ``checks`` (in the kernel), ``execution`` (running nbgrader, the gradebook), ``parallel``, ``feedback``,
``commands`` (the command line).
"""

from .checks import (
    assert_close,
    cell_seconds,
    check_untampered,
    max_abs_error,
    no_reference,
    private_copy,
    reaches_reference,
    reference,
    time_limit,
)
from .commands import main, print_table, run
from .execution import _db_url, scores
from .feedback import HIDDEN_BEGIN, HIDDEN_END, block_lines, feedback, hide_tests, strip_hidden
from .parallel import autograde_parallel

__all__ = ["assert_close", "autograde_parallel", "block_lines", "cell_seconds", "check_untampered", "feedback",
           "hide_tests", "main", "max_abs_error", "no_reference", "print_table", "private_copy", "reaches_reference",
           "reference", "run", "scores", "strip_hidden", "time_limit", "HIDDEN_BEGIN", "HIDDEN_END", "_db_url"]
