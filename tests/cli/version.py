#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Every program answers --version with "NAME VERSION" and exit 0.

    version.py VERSION PROGRAM...
"""
import os
import subprocess
import sys


def main(version, programs):
    failed = 0
    for path in programs:
        name = os.path.basename(path)
        p = subprocess.run([path, '--version'], capture_output=True, text=True, timeout=60)
        want = f'{name} {version}'
        if p.returncode == 0 and p.stdout.strip() == want:
            print(f'PASS {name} --version: {want}')
        else:
            print(f'FAIL {name} --version: exit {p.returncode}, printed {p.stdout!r}, '
                  f'wanted {want!r}')
            failed += 1
    print(f'{len(programs) - failed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2:]))
