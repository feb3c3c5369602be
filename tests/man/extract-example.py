#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Writes the C program of an scdoc page's EXAMPLE section to a file, so that the build
compiles it and a change to the client API that breaks the documented example fails.

  extract-example.py PAGE.scd OUT.c"""
import sys


def main(scd, out):
    lines = open(scd, encoding='utf-8').read().splitlines()
    start = lines.index('# EXAMPLE')
    fence = [i for i in range(start, len(lines)) if lines[i].startswith('```')][:2]
    if len(fence) != 2:
        sys.exit(f'{scd}: no literal block under # EXAMPLE')
    # scdoc reads a backslash as an escape even in a literal block: "\\n" is C's "\n".
    body = '\n'.join(lines[fence[0] + 1:fence[1]]).replace('\\\\', '\\')
    with open(out, 'w', encoding='utf-8') as f:
        f.write(f'/* Generated from {scd.split("/")[-1]}: its EXAMPLE. */\n{body}\n')


if __name__ == '__main__':
    main(*sys.argv[1:])
