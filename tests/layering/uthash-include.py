#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Fails if a file other than lib/hash.h includes uthash.h.

uthash's defaults call exit(-1) when memory runs out; lib/hash.h sets them once (out of
memory fails the one add, an allocator a test can replace).  A file that includes uthash.h
itself gets the defaults back, silently: a hidden exit below main.  utlist.h and utarray.h
allocate nothing through uthash's macros and may be included anywhere.

    uthash-include.py ROOT DIR...   (DIRs relative to ROOT)
"""
import os
import re
import sys

UTHASH = re.compile(r'^\s*#\s*include\s+[<"]uthash\.h[">]', re.M)
OWNER = 'lib/hash.h'
# Files allowed to include uthash.h until they are converted, each with the reason.  An
# entry that no longer includes it fails too, so that the exception goes with its reason.
PENDING = set()


def includers(root, dirs):
    """Every .c and .h under root/dir that includes uthash.h, as root-relative paths."""
    found = []
    for directory in dirs:
        for top, subdirs, names in os.walk(os.path.join(root, directory)):
            subdirs.sort()
            for name in sorted(names):
                if not name.endswith(('.c', '.h')):
                    continue
                path = os.path.join(top, name)
                with open(path, encoding='utf-8', errors='replace') as f:
                    text = f.read()
                for m in UTHASH.finditer(text):
                    line = text.count('\n', 0, m.start()) + 1
                    found.append((os.path.relpath(path, root), line))
    return found


def main(root, dirs):
    found = includers(root, dirs)
    paths = {path for path, _ in found}
    failed = 0
    for path, line in found:
        if path == OWNER:
            continue
        if path in PENDING:
            print(f'PENDING {path}:{line}: includes uthash.h (allowed until converted)')
            continue
        print(f'FAIL {path}:{line}: includes uthash.h; include "hash.h" instead')
        failed += 1
    for path in sorted(PENDING - paths):
        print(f'FAIL {path}: no longer includes uthash.h; take it off PENDING in {sys.argv[0]}')
        failed += 1
    if OWNER not in paths:
        print(f'FAIL {OWNER}: does not include uthash.h')
        failed += 1
    print(f'{len(found)} includes of uthash.h, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
