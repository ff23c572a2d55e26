#!/usr/bin/env python3
"""Figures on the shape of the crate's code, for the issues that ask for them.

Usage: scripts/code-shape.py [REPO_DIR]   (default: this repository)

Prints: Rust files over 800 lines, functions over 100 lines, functions whose error type is a
plain String, unit tests in src/ (they need no Docker), and dependency cycles between the
top-level modules of src/ (from `crate::` paths). Counted from the text of the sources, as
rustfmt lays them out; no build needed.
"""
import os
import re
import sys
from collections import defaultdict

repo = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
src = os.path.join(repo, "src")

files = []
for root, _, names in os.walk(src):
    for name in names:
        if name.endswith(".rs"):
            files.append(os.path.join(root, name))
files.sort()

FN = re.compile(r"^(\s*)(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")
long_files, long_fns, string_errors, tests = [], [], [], 0
edges = defaultdict(set)


def module_of(path):
    rel = os.path.relpath(path, src)
    head = rel.split(os.sep)[0]
    return head[:-3] if head.endswith(".rs") else head


for path in files:
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    rel = os.path.relpath(path, repo)
    if len(lines) > 800:
        long_files.append((len(lines), rel))
    tests += sum(1 for l in lines if l.strip() in ("#[test]",) or l.strip().startswith("#[tokio::test"))
    me = module_of(path)
    for l in lines:
        for other in re.findall(r"crate::(\w+)", l):
            is_module = os.path.exists(os.path.join(src, other + ".rs")) or os.path.isdir(
                os.path.join(src, other)
            )
            if other != me and is_module:
                edges[me].add(other)
    i = 0
    while i < len(lines):
        m = FN.match(lines[i])
        if not m or lines[i].rstrip().endswith(";"):
            i += 1
            continue
        indent, name = m.group(1), m.group(7)
        signature = lines[i]
        j = i
        while "{" not in lines[j] and j + 1 < len(lines) and not lines[j].rstrip().endswith(";"):
            j += 1
            signature += lines[j]
        if re.search(r"Result<[^>]*,\s*String\s*>", signature.replace(" ", " ")):
            string_errors.append(f"{rel}:{i + 1} {name}")
        end = j
        while end < len(lines) and lines[end] != indent + "}":
            end += 1
        length = end - i + 1
        if length > 100 and end < len(lines):
            long_fns.append((length, f"{rel}:{i + 1} {name}"))
        i += 1

# Cycles between top-level modules: strongly connected components with more than one member.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]


def strong(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in sorted(edges.get(v, ())):
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))


for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
    if v not in index:
        strong(v)

print(f"files over 800 lines: {len(long_files)}")
for n, rel in sorted(long_files, reverse=True):
    print(f"  {n:5}  {rel}")
print(f"functions over 100 lines: {len(long_fns)}")
for n, where in sorted(long_fns, reverse=True):
    print(f"  {n:5}  {where}")
print(f"functions with a String error type: {len(string_errors)}")
for where in string_errors:
    print(f"  {where}")
print(f"unit tests in src/ (no Docker): {tests}")
print(f"cycles between top-level modules: {len(sccs)}")
for comp in sccs:
    print("  " + " <-> ".join(comp))
