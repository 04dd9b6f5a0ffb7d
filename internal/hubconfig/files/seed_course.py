#!/usr/bin/python3
"""Copies a jhub release's course files into a student's notebook directory.

Usage: seed_course.py SRC DST (stdlib only). The hub's spawner runs it as
the student, before their server starts, so every copy is the student's own
file and a link the student planted reaches only what they could write
anyway. Only missing files are copied: a student's edits are never
overwritten, and a file they deleted comes back at the next start.
"""

import os
import shutil
import sys


def seed(src, dst):
    """Copies each file under src missing below dst; returns the relative
    paths copied. A file that cannot be copied is reported on stderr and
    skipped: course content must not keep a student's server from starting."""
    copied = []
    for top, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            rel = os.path.normpath(os.path.join(os.path.relpath(top, src), name))
            target = os.path.join(dst, rel)
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                # O_EXCL: an existing file, or a link of any kind, is the student's.
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            except OSError as e:
                print("course file %s: %s" % (rel, e.strerror), file=sys.stderr)
                continue
            with os.fdopen(fd, "wb") as out, open(os.path.join(top, name), "rb") as inp:
                shutil.copyfileobj(inp, out)
            copied.append(rel)
    return copied


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: seed_course.py SRC DST", file=sys.stderr)
        sys.exit(2)
    for rel in seed(sys.argv[1], sys.argv[2]):
        print(rel)
