#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libcokeeper-client's ABI is what its installed header declares, and nothing else.

The shared library's dynamic symbol table must hold exactly the version script's global
functions, each under every version node that lists it, and the script must list exactly the
functions cokeeper-client.h declares.  A function listed in several nodes (its struct grew:
client.c keeps the old version) is exported once per node, and the default version, the one
a program built now binds to, is the newest node's.  Anything else exported (lib/ or the
netlink helpers linked in) would become ABI that packaging/debian/libcokeeper-client0.symbols
has to track; that file must name the library's soname and list the same symbols and nodes.

usage: check-exports.py LIBRARY.so VERSION-SCRIPT HEADER NM READELF DEBIAN-SYMBOLS
"""
import re
import subprocess
import sys


def script_nodes(path):
    """{node: [global symbols]} from a linker version script, in the script's order."""
    text = re.sub(r'#.*', '', open(path).read())
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    nodes = {}
    for m in re.finditer(r'([\w.]+)\s*\{(.*?)\}\s*[\w.]*\s*;', text, re.S):
        body = m.group(2)
        g = re.search(r'global\s*:(.*?)(?:local\s*:|$)', body, re.S)
        nodes[m.group(1)] = [s.strip() for s in g.group(1).split(';') if s.strip()] if g else []
    return nodes


def header_functions(path):
    """Functions the header declares: a line that starts with a type, then name( ."""
    text = re.sub(r'/\*.*?\*/', '', open(path).read(), flags=re.S)
    return {m.group(1) for m in re.finditer(r'^[a-z][^;{}()#]*?\b(ck_\w+)\s*\(', text, re.M)}


def exported(lib, nm):
    """{name: {version: is_default}} of the defined dynamic symbols."""
    out = subprocess.run([nm, '-D', '--defined-only', '--with-symbol-versions', lib],
                         check=True, capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        name, _, version = fields[2].partition('@')
        syms.setdefault(name, {})[version.lstrip('@')] = version.startswith('@')
    return syms


def soname(lib, readelf):
    out = subprocess.run([readelf, '-d', lib], check=True, capture_output=True, text=True).stdout
    m = re.search(r'\(SONAME\).*\[(.*)\]', out)
    return m.group(1) if m else None


def debian_symbols(path):
    """(soname, {symbol@version}) of a dpkg symbols file with one library."""
    lines = [l for l in open(path).read().splitlines() if l and not l.startswith(('#', '*', '|'))]
    return lines[0].split()[0], {l.split()[0] for l in lines[1:]}


def main():
    lib, script, header, nm, readelf, symbols = sys.argv[1:7]
    nodes = script_nodes(script)
    fail = []
    if not nodes:
        fail.append(f'{script}: no version node found')
    listed = {s for syms in nodes.values() for s in syms}
    # Each function's nodes, oldest first: the script adds nodes at its end.
    wanted = {s: [n for n in nodes if s in nodes[n]] for s in listed}
    declared = header_functions(header)
    syms = exported(lib, nm)
    # A version node itself is an absolute symbol named after the node.
    for node in nodes:
        syms.pop(node, None)

    for s in sorted(set(syms) - listed):
        fail.append(f'exported but not in the version script: {s}')
    for s in sorted(listed - set(syms)):
        fail.append(f'in the version script but not exported: {s}')
    for s in sorted(declared - listed):
        fail.append(f'declared by the header but not in the version script: {s}')
    for s in sorted(listed - declared):
        fail.append(f'in the version script but not declared by the header: {s}')
    for s in sorted(set(syms) & listed):
        if set(syms[s]) != set(wanted[s]):
            fail.append(f'{s} is exported as version(s) {sorted(syms[s])}, the version script '
                        f'lists it in {wanted[s]}')
        elif not syms[s][wanted[s][-1]]:
            fail.append(f'{s}: the default version is not the newest node, {wanted[s][-1]}')
    deb_soname, deb_syms = debian_symbols(symbols)
    if deb_soname != soname(lib, readelf):
        fail.append(f'{symbols}: soname {deb_soname}, the library\'s is {soname(lib, readelf)}')
    want = {f'{n}@{n}' for n in nodes} | {f'{s}@{v}' for s, vs in syms.items() if s in listed
                                          for v in vs}
    for s in sorted(want - deb_syms):
        fail.append(f'{symbols}: missing {s}')
    for s in sorted(deb_syms - want):
        fail.append(f'{symbols}: lists {s}, which the library does not export')
    if not declared:
        fail.append(f'{header}: no function declarations found (parser out of date?)')

    for f in fail:
        print(f, file=sys.stderr)
    if fail:
        return 1
    print(f'{len(declared)} functions: declared == version script == exported')
    return 0


if __name__ == '__main__':
    sys.exit(main())
