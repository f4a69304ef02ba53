#!/usr/bin/env python3
"""README.md's configuration table must list every MEMTRACK_* option of the option table
(lib/src/config/options.hpp, printed by print_options) with the same launcher option and default,
and nothing else. Usage: check_readme_options.py PRINT_OPTIONS README.md
"""
import subprocess
import sys

HEADER = ["variable", "launcher option", "default", "meaning"]


def cells(line):
    """The first three cells of a markdown table row, backticks removed (the meaning may hold |)."""
    parts = line.strip().strip("|").split("|", 3)
    return [p.strip().replace("`", "") for p in parts[:3]]


def readme_rows(path):
    rows, in_table, found = {}, False, False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.startswith("|"):
                in_table = False
                continue
            parts = [p.strip() for p in line.strip().strip("|").split("|")]
            if parts == HEADER:
                in_table = found = True
                continue
            if not in_table or set(line.strip()) <= set("|- "):
                continue
            variable, flags, default = cells(line)
            if variable in rows:
                sys.exit(f"{path}:{number}: {variable} is listed twice")
            flags = ",".join(f.strip() for f in flags.split(","))
            rows[variable] = (flags, default, number)
    if not found:
        sys.exit(f"{path}: no table with the columns {' | '.join(HEADER)}")
    return rows


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    printer, readme = sys.argv[1:]
    out = subprocess.run([printer], check=True, capture_output=True, text=True).stdout
    table = {}
    for line in out.splitlines():
        variable, flags, default = line.split("\t")
        table[variable] = (flags, default)
    rows = readme_rows(readme)
    problems = []
    for variable, (flags, default) in table.items():
        if variable not in rows:
            problems.append(f"{readme}: {variable} is missing from the configuration table")
            continue
        r_flags, r_default, number = rows[variable]
        if r_flags != flags:
            problems.append(f"{readme}:{number}: {variable}: launcher option {r_flags!r}, the "
                            f"option table says {flags!r}")
        if r_default != default:
            problems.append(f"{readme}:{number}: {variable}: default {r_default!r}, the option "
                            f"table says {default!r}")
    for variable, (_, _, number) in rows.items():
        if variable not in table:
            problems.append(f"{readme}:{number}: {variable} is not in lib/src/config/options.hpp")
    if problems:
        print("\n".join(problems))
        return 1
    print(f"README.md lists all {len(table)} options with their launcher options and defaults")
    return 0


if __name__ == "__main__":
    sys.exit(main())
