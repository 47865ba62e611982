#!/usr/bin/env python3
"""Where the page's wasm bytes go: code size per function, read from the wasm's name section.

Usage: scripts/wasm_sizes.py FILE.wasm [top N | groups N | grep REGEX [N]]

FILE.wasm must keep its names: the cargo output before wasm-bindgen
(target/wasm32-unknown-unknown/wasm-release/sendguard-frontend.wasm), or a wasm-opt -Oz -g build
of it. Names are demangled with c++filt (binutils) and the hash suffix dropped.

  top N       the N largest function bodies
  groups N    bodies added up by name with generic closures folded ({{closure}} as C), largest
              first: how many copies of one generic function the monomorphisation made
  grep RE     the bodies whose name matches RE, and their total

What it does not show: the data section (strings, tables) and how well each part compresses.
BENCHMARKS.md ("Where the page's bytes go") has the figures and how they were taken.
"""

import collections
import re
import subprocess
import sys


def leb128(data, i):
    """An unsigned LEB128 number at i, and the index after it."""
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def skip_import(data, j):
    """The index after one import entry's description; whether it imports a function."""
    for _ in range(2):  # module and field names
        length, j = leb128(data, j)
        j += length
    kind = data[j]
    j += 1
    if kind == 0:  # function: a type index
        _, j = leb128(data, j)
    elif kind == 1:  # table: element type and limits
        j += 1
        flags = data[j]
        j += 1
        _, j = leb128(data, j)
        if flags & 1:
            _, j = leb128(data, j)
    elif kind == 2:  # memory: limits
        flags = data[j]
        j += 1
        _, j = leb128(data, j)
        if flags & 1:
            _, j = leb128(data, j)
    elif kind == 3:  # global: value type and mutability
        j += 2
    return j, kind == 0


def read_names(data, j, end):
    """The function names of a name section's subsection 1."""
    names = {}
    while j < end:
        sub = data[j]
        size, j = leb128(data, j + 1)
        if sub == 1:
            k = j
            count, k = leb128(data, k)
            for _ in range(count):
                index, k = leb128(data, k)
                length, k = leb128(data, k)
                names[index] = data[k : k + length].decode("utf-8", "replace")
                k += length
        j += size
    return names


def parse(path):
    """(function index, body size) for every defined function, and the names by index."""
    data = open(path, "rb").read()
    i, imported, bodies, names = 8, 0, [], {}
    while i < len(data):
        section = data[i]
        size, start = leb128(data, i + 1)
        end = start + size
        if section == 0:
            length, j = leb128(data, start)
            if data[j : j + length] == b"name":
                names = read_names(data, j + length, end)
        elif section == 2:
            count, j = leb128(data, start)
            for _ in range(count):
                j, is_function = skip_import(data, j)
                imported += is_function
        elif section == 10:
            count, j = leb128(data, start)
            for k in range(count):
                length, body = leb128(data, j)
                bodies.append((imported + k, body - j + length))
                j = body + length
        i = end
    return bodies, names


def demangle(names):
    """The names demangled by c++filt, without their hash suffix."""
    keys = list(names)
    text = "\n".join(names[k].replace("\n", " ") for k in keys)
    out = subprocess.run(
        ["c++filt", "-s", "rust"], input=text, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    return {k: re.sub(r"::h[0-9a-f]{16}$", "", v) for k, v in zip(keys, out)}


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    bodies, names = parse(argv[1])
    names = demangle(names)
    mode = argv[2] if len(argv) > 2 else "top"
    print(f"{len(bodies)} functions, {sum(size for _, size in bodies)} bytes of code")
    if mode == "top":
        count = int(argv[3]) if len(argv) > 3 else 40
        for index, size in sorted(bodies, key=lambda b: -b[1])[:count]:
            print(f"{size:8d}  {names.get(index, '?')}")
    elif mode == "groups":
        count = int(argv[3]) if len(argv) > 3 else 40
        total, copies = collections.Counter(), collections.Counter()
        for index, size in bodies:
            name = names.get(index, "?").replace("{{closure}}", "C")
            total[name] += size
            copies[name] += 1
        for name, size in total.most_common(count):
            print(f"{size:8d} {copies[name]:4d}x  {name}")
    elif mode == "grep":
        pattern = re.compile(argv[3])
        count = int(argv[4]) if len(argv) > 4 else 20
        found = [(s, names.get(i, "?")) for i, s in bodies if pattern.search(names.get(i, "?"))]
        for size, name in sorted(found, reverse=True)[:count]:
            print(f"{size:8d}  {name}")
        print(f"{len(found)} functions match, {sum(s for s, _ in found)} bytes")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
