"""nbgrader's exchange submit, with each submission private to its student and the instructors.

nbgrader's own ``ExchangeSubmit`` leaves a submission world-readable (files 0644, folders 0755 and the
submission folder 0777) and hides it only by its name, ``<student>+<assignment>+<time>+<random>``, in an inbound
folder students cannot list (0733). Anyone who learns the name can read it. Here every file and folder of a
submission belongs to the inbound folder's group — the instructor's, which the set-gid inbound folder hands to
whatever is created in it — and ends readable by the student and that group only: files 0640, folders 0750, the
submission folder 0770 (nbgrader keeps it group-writable so that instructors can remove it).

nbgrader's copy (``shutil.copytree``) copies the student's folder mode onto the new submission folder, which
drops the set-gid bit before ``timestamp.txt`` is written (that file then belongs to the student's own group and
the instructor cannot read it). ``do_copy`` below creates the folders itself so that they keep the bit. Students
configure it in their nbgrader_config.py (``c.ExchangeFactory.submit = "hub_exchange.PrivateSubmit"``;
scripts/hub/jupyter/student/).
"""

from __future__ import annotations

import os
import shutil

from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import ignore_patterns


class PrivateSubmit(ExchangeSubmit):
    def do_copy(self, src, dest, log=None):
        if not os.path.abspath(dest).startswith(os.path.abspath(self.inbound_path) + os.sep):
            return super().do_copy(src, dest, log)            # the student's own cache copy
        limit = 1000 * self.coursedir.max_dir_size
        if self.get_size(src) > limit:
            raise RuntimeError(f"Directory size is too big. Size is {self.get_size(src)}, maximum size is {limit}")
        ignore = ignore_patterns(exclude=self.coursedir.ignore, include=self.coursedir.include,
                                 max_file_size=self.coursedir.max_file_size, log=self.log)
        self._copy_keeping_group(src, dest, ignore)

    def _copy_keeping_group(self, src: str, dest: str, ignore) -> None:
        os.mkdir(dest)                     # inherits the inbound folder's group and its set-gid bit
        names = os.listdir(src)
        skipped = ignore(src, names)
        for name in names:
            if name in skipped:
                continue
            source, target = os.path.join(src, name), os.path.join(dest, name)
            if os.path.isdir(source) and not os.path.islink(source):
                self._copy_keeping_group(source, target, ignore)
            elif os.path.isfile(source):
                shutil.copyfile(source, target)          # contents only: the new file keeps the folder's group

    def copy_files(self):
        super().copy_files()
        dest = os.path.join(self.inbound_path, self.assignment_filename)
        for folder, _subfolders, files in os.walk(dest):
            for name in files:
                os.chmod(os.path.join(folder, name), 0o640)
            os.chmod(folder, 0o750)
        os.chmod(dest, 0o770)
