#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Fails if the files of one directory (and its folders) include each other in a circle.

A module is x.c with its x.h.  With -Werror there are no implicit declarations, so a file can
call into another module only through that module's header: a graph of modules by their
quoted includes that has no circle also has no circle of direct calls.  (Callbacks handed
over at creation are how the spokes reach the hub, and are not calls of this kind.)

    include-cycles.py DIR...
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def modules(directory):
    """The modules of a directory and of its folders (cokeeperd/guests/...), as one graph."""
    paths = {}
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        for name in sorted(names):
            if name.endswith(('.c', '.h')):
                paths.setdefault(name, os.path.join(root, name))
    graph = {}
    for name, path in sorted(paths.items()):
        module = name[:-2]
        with open(path, encoding='utf-8') as f:
            text = f.read()
        deps = graph.setdefault(module, set())
        for inc in INCLUDE.findall(text):
            base = os.path.basename(inc)
            if base.endswith('.h') and base in paths and base[:-2] != module:
                deps.add(base[:-2])
    return graph


def find_cycle(graph):
    state = {}
    stack = []

    def visit(node):
        state[node] = 'open'
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 'open':
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 'done'
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def main(dirs):
    failed = 0
    for directory in dirs:
        graph = modules(directory)
        cycle = find_cycle(graph)
        if cycle:
            print(f'FAIL {directory}: modules include each other in a circle: '
                  + ' -> '.join(cycle))
            failed += 1
        else:
            edges = sum(len(v) for v in graph.values())
            print(f'PASS {directory}: {len(graph)} modules, {edges} includes, no circle')
    print(f'{len(dirs) - failed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
