#!/usr/bin/env python3
"""Fails on any #include "..." under lib/src/, preload/ and launcher/ against the layer order.

The allowed includes are read from the table in docs/layout.md (one list: the document is the
rule). Usage: check_layering.py ROOT [RULES]   (ROOT holds lib/src/ and preload/; RULES is
ROOT/docs/layout.md unless given: the self-test checks a fixture tree against the real rules)
Exit 0 when every include is allowed, 1 otherwise (each offending line is printed).
"""
import os
import re
import sys

SOURCE_EXT = (".cpp", ".hpp", ".h", ".c", ".def", ".inc")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def read_rules(layout_md):
    rules = {}
    row = re.compile(r"^\|\s*`([a-z_]+)`\s*\|[^|]*\|([^|]*)\|\s*$")
    with open(layout_md, encoding="utf-8") as f:
        for line in f:
            m = row.match(line)
            if m:
                rules[m.group(1)] = set(re.findall(r"`([a-z_]+)`", m.group(2)))
    return rules


def folder_of(root, path):
    rel = os.path.relpath(path, root).split(os.sep)
    if rel[0] in ("preload", "launcher"):
        return rel[0]
    if rel[:2] == ["lib", "src"]:
        return rel[2] if len(rel) > 3 else None  # None: a file right under lib/src
    return None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    rules_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "docs", "layout.md")
    rules = read_rules(rules_path)
    if not rules:
        print("layering: no rules found in docs/layout.md")
        return 1
    bad = []
    checked = 0
    for top in (os.path.join(root, "lib", "src"), os.path.join(root, "preload"),
                os.path.join(root, "launcher")):
        for dirpath, _, files in os.walk(top):
            for name in sorted(files):
                if not name.endswith(SOURCE_EXT):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                folder = folder_of(root, path)
                if folder is None:
                    bad.append(f"{rel}: not in a layer folder (see docs/layout.md)")
                    continue
                if folder not in rules:
                    bad.append(f"{rel}: folder '{folder}' has no row in docs/layout.md")
                    continue
                with open(path, encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        checked += 1
                        target = m.group(1)
                        parts = target.split("/")
                        # A bare name is a header of the same folder.
                        to = parts[0] if len(parts) > 1 else folder
                        if to not in rules:
                            bad.append(f"{rel}:{number}: includes \"{target}\": '{to}' is no "
                                       "layer of docs/layout.md")
                        elif to not in rules[folder]:
                            bad.append(f"{rel}:{number}: includes \"{target}\": {folder} may "
                                       f"include only {', '.join(sorted(rules[folder]))}")
    for line in bad:
        print("layering:", line)
    if bad:
        print(f"layering: {len(bad)} include(s) against docs/layout.md")
        return 1
    print(f"layering: {checked} includes checked, all point down the layer order")
    return 0


if __name__ == "__main__":
    sys.exit(main())
