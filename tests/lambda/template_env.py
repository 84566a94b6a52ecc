#!/usr/bin/env python3
"""Prints the names of the environment variables the SAM template gives every
function (Globals.Function.Environment.Variables), one per line, so that a local
boot runs each function with exactly the template's variables. It reads only that
block of the YAML (no YAML library needed): the keys indented under `Variables:`."""
import re
import sys

lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
names, indent, inside = [], None, False
for line in lines:
    if re.match(r"^\s+Variables:\s*$", line) and not inside:
        inside, indent = True, None
        continue
    if inside:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        if depth < indent:
            break
        m = re.match(r"^\s+([A-Z][A-Z0-9_]*):", line)
        if depth == indent and m:
            names.append(m.group(1))
if not names:
    sys.exit("no Globals environment variables found")
print("\n".join(names))
