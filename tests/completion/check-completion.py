#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The bash completion scripts against the programs: each offers every long option, every
command, and every command's own options and verbs that the program's --help lists, so
that a command or option added without its completion fails here.

  check-completion.py [--program NAME EXE SCRIPT]... [--value=WORDS|CUR|OFFERS]...

--value checks one completion more, such as an option's values: WORDS the words before
(space-separated, the program's NAME first), CUR the prefix, OFFERS what must be offered
(space-separated).

What --help lists: the long options before "Commands:" (the program's own), the commands
under it (an unindented name in the first column), and for each command the options its
text names (completed after "NAME COMMAND --"); a text of alternatives split by " | "
starts each with its verbs ("set|add|clear DOMAIN ...", "create NAME ..."), completed
after "NAME COMMAND" and their options after "NAME COMMAND VERB --".  Each script is run by
bash twice when bash-completion is installed (with its helpers, as a shell loads it, and
without them) and once otherwise; exit 77 without bash."""
import argparse
import os
import re
import shutil
import subprocess
import sys

LONG_OPTION = re.compile(r'(?<![\w-])--([a-z0-9][a-z0-9-]*[a-z0-9])')
BASH_COMPLETION = '/usr/share/bash-completion/bash_completion'


def parse_help(exe):
    """(global options, {command: its text})."""
    out = subprocess.run([exe, '--help'], capture_output=True, text=True, check=True).stdout
    head, _, tail = out.partition('\nCommands:\n')
    options = sorted(set(LONG_OPTION.findall(head)))
    commands = {}
    last = None
    for line in tail.splitlines():
        m = re.match(r'  ([a-z][a-z0-9-]*)(?:\s+(.*))?$', line)
        if m:
            last = m.group(1)
            commands[last] = m.group(2) or ''
        elif last and line.startswith('   '):
            commands[last] += ' ' + line.strip()
        else:
            last = None
    return options, commands


def expectations(name, options, commands):
    """(words before the one completed, its prefix, what must be offered)."""
    want = [([name], '--', ['--' + o for o in options])]
    if commands:
        want.append(([name], '', sorted(commands)))
    for cmd, text in commands.items():
        text = text.split(' (')[0] if ' | ' not in text else text
        segments = re.split(r'\s\|\s', text)
        if len(segments) > 1:
            verbs = []
            for seg in segments:
                first = seg.split()[0] if seg.split() else ''
                words = [w for w in first.split('|') if re.fullmatch(r'[a-z][a-z-]*', w)]
                verbs += words
                opts = ['--' + o for o in LONG_OPTION.findall(seg)]
                for v in words:
                    if opts:
                        want.append(([name, cmd, v], '--', opts))
            if verbs:
                want.append(([name, cmd], '', verbs))
        else:
            opts = sorted(set('--' + o for o in LONG_OPTION.findall(text)))
            if opts:
                want.append(([name, cmd], '--', opts))
    return want


def complete(script, name, words, cur, helpers):
    """What the script offers for cur after words, as bash's programmable completion
    would ask it."""
    line = ' '.join(words + [cur])
    prog = (f'source {BASH_COMPLETION}\n' if helpers else '') + f'''
source "$1"
shift
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${{#COMP_LINE}}
COMP_TYPE=9
fn=$(complete -p {name} | sed -n 's/.*-F \\([^ ]*\\) .*/\\1/p')
[[ -n $fn ]] || {{ echo "no complete -F for {name}" >&2; exit 3; }}
"$fn" "{name}" "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD - 1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
'''
    r = subprocess.run(['bash', '--norc', '--noprofile', '-c', prog, 'bash', script, *words, cur],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f'bash exit {r.returncode} for {line!r}: {r.stderr.strip()}')
    return set(r.stdout.split())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--program', nargs=3, action='append', default=[],
                    metavar=('NAME', 'EXE', 'SCRIPT'))
    ap.add_argument('--value', action='append', default=[], metavar='WORDS|CUR|OFFERS')
    args = ap.parse_args()
    if not shutil.which('bash'):
        print('skip: no bash')
        return 77
    modes = [True, False] if os.path.exists(BASH_COMPLETION) else [False]
    failed = checked = 0
    for name, exe, script in args.program:
        options, commands = parse_help(exe)
        extra = [(w.split(), c, o.split()) for w, c, o in (v.split('|') for v in args.value)
                 if w.split()[0] == name]
        for helpers in modes:
            how = 'with bash-completion' if helpers else 'plain bash'
            for words, cur, want in expectations(name, options, commands) + extra:
                checked += 1
                try:
                    got = complete(script, name, words, cur, helpers)
                except RuntimeError as e:
                    print(f'FAIL {name} ({how}): {e}')
                    failed += 1
                    continue
                missing = [w for w in want if w not in got]
                shown = ' '.join(words[1:] + [cur or "''"])
                if missing:
                    print(f'FAIL {name} ({how}): "{name} {shown}<TAB>" does not offer '
                          f'{" ".join(missing)} (--help lists it)')
                    failed += 1
                else:
                    print(f'ok   {name} ({how}): "{name} {shown}<TAB>": {len(want)} offered')
    print(f'{checked - failed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
