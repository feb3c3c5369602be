#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The man pages against the programs: every long option a program's --help prints is
described in its page, every generated page renders without a groff warning, and no page
sends its reader to a file of the source tree, which is not installed.

  check-pages.py [--program NAME EXE SCD]... [--module SCD SRC...]... [--page ROFF]...
                 [--no-source-paths SRCROOT SCD...]...

"Described" means the option, in bold, on a definition's term line (an unindented line
followed by an indented one), so a mention in the synopsis or in running text elsewhere
does not count.  A kernel module's page must describe each parameter its sources declare
(module_param or module_param_cb), as the term *name*.  Rendering is checked as lintian does: man-db with --warnings, or groff
-ww if man-db is not installed; with neither, that half is skipped."""
import argparse
import os
import re
import shutil
import subprocess
import sys

LONG_OPTION = re.compile(r'(?<![\w-])--([a-z0-9][a-z0-9-]*[a-z0-9])')
BOLD_OPTION = re.compile(r'\*--([a-z0-9][a-z0-9-]*[a-z0-9])\*')


def help_options(exe):
    out = subprocess.run([exe, '--help'], capture_output=True, text=True, check=True).stdout
    return sorted(set(LONG_OPTION.findall(out)))


def described_options(scd):
    lines = open(scd, encoding='utf-8').read().splitlines()
    found = set()
    term = []
    for line in lines:
        if line.startswith('\t'):
            for t in term:
                found.update(BOLD_OPTION.findall(t))
            term = []
        elif line.strip() and not line.startswith((';', '#', '```')):
            term.append(line)
        else:
            term = []
    return found


MODULE_PARAM = re.compile(r'\bmodule_param(?:_cb)?\(\s*([a-z_][a-z0-9_]*)\s*,')


def described_params(scd):
    lines = open(scd, encoding='utf-8').read().splitlines()
    found = set()
    for i, line in enumerate(lines[:-1]):
        m = re.fullmatch(r'\*([a-z_][a-z0-9_]*)\*(=.*)?', line)
        if m and lines[i + 1].startswith('\t'):
            found.add(m.group(1))
    return found


# A source file by its kind (daemon.c, docs/FASTPATH.md), other than a header a page shows
# in an #include <...> line (the installed cokeeper-client.h, the system's).
SOURCE_FILE = re.compile(r'(?<![\w./-])([\w./-]*\w\.(?:c|h|md|py|sh|scd|build))(?![\w])')


MARKUP = re.compile(r'(?<![A-Za-z0-9])[_*]+|[_*]+(?![A-Za-z0-9])')


def source_paths(srcroot, scd):
    """What in scd names a file of the source tree: a path under one of its top-level
    directories (tools/ctl-wait.c, docs/), not under / (/usr/share/doc/...), or any
    source file by its kind."""
    tops = sorted(d for d in os.listdir(srcroot)
                  if os.path.isdir(os.path.join(srcroot, d)) and not d.startswith('.'))
    under_top = re.compile(r'(?<![\w./-])((?:%s)/[\w./-]*)' % '|'.join(map(re.escape, tops)))
    found = []
    for n, line in enumerate(open(scd, encoding='utf-8').read().splitlines(), 1):
        if line.startswith(';'):
            continue
        if re.match(r'\s*#include\s*<[^>]+>\s*$', line):
            continue
        # scdoc's markup off (_docs/FASTPATH.md_), an underscore within a word kept.
        line = MARKUP.sub(' ', line)
        for m in under_top.finditer(line):
            found.append((n, m.group(1)))
        for m in SOURCE_FILE.finditer(line):
            if not any(m.group(1) in f for _, f in found):
                found.append((n, m.group(1)))
    return found


def render(page):
    env = dict(os.environ, MANWIDTH='80', LC_ALL='C.UTF-8')
    if shutil.which('man'):
        cmd = ['man', '--warnings', '-E', 'UTF-8', '-l', page]
    else:
        cmd = ['groff', '-man', '-ww', '-z', '-Tutf8', page]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return r.returncode, r.stderr.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--program', nargs=3, action='append', default=[],
                    metavar=('NAME', 'EXE', 'SCD'))
    ap.add_argument('--module', nargs='+', action='append', default=[],
                    metavar='SCD SRC')
    ap.add_argument('--page', action='append', default=[])
    ap.add_argument('--no-source-paths', nargs='+', action='append', default=[],
                    metavar='SRCROOT SCD')
    args = ap.parse_args()
    failed = 0

    for srcroot, *pages in args.no_source_paths:
        for scd in pages:
            paths = source_paths(srcroot, scd)
            for n, p in paths:
                print(f'FAIL {os.path.basename(scd)}:{n}: names {p}, a source file that is '
                      'not installed: point to an installed page instead')
            if not paths:
                print(f'ok   {os.path.basename(scd)}: names no file of the source tree')
            failed += len(paths)

    for name, exe, scd in args.program:
        described = described_options(scd)
        printed = help_options(exe)
        missing = [o for o in printed if o not in described]
        for o in missing:
            print(f'FAIL {name}: --{o} (printed by --help) is not described in {scd}')
        if not missing:
            print(f'ok   {name}: {len(printed)} long options of --help described')
        failed += len(missing)

    for scd, *sources in args.module:
        declared = sorted({p for src in sources
                           for p in MODULE_PARAM.findall(open(src, encoding='utf-8').read())})
        missing = [p for p in declared if p not in described_params(scd)]
        for p in missing:
            print(f'FAIL {os.path.basename(scd)}: parameter {p} is not described')
        if not missing:
            print(f'ok   {os.path.basename(scd)}: {len(declared)} module parameters described')
        failed += len(missing) + (not declared)

    if args.page and not (shutil.which('man') or shutil.which('groff')):
        print('skip rendering: neither man nor groff is installed')
        args.page = []
    for page in args.page:
        rc, err = render(page)
        if rc != 0 or err:
            print(f'FAIL {os.path.basename(page)}: renders with exit {rc}:\n{err}')
            failed += 1
        else:
            print(f'ok   {os.path.basename(page)}: renders without warnings')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
