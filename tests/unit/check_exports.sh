#!/usr/bin/env bash
# Every non-mi_ dynamic symbol libmimalloc.so defines must be defined by libmemtrack.so too, and
# libmemtrack.so must export exactly what its version script lists (made from preload/exports.def):
# every exact name, and nothing beyond those and the patterns (memtrack_*).
# Usage: check_exports.sh libmemtrack.so libmimalloc.so exports.map
set -euo pipefail
ours=$1 theirs=$2 map=$3
defined() { nm -D --defined-only "$1" | awk '{print $3}' | sed 's/@.*//' | sort -u; }
# The names between "global:" and "local:", one "name;" per line.
listed=$(sed -n '/global:/,/local:/p' "$map" | grep -E '^ *[A-Za-z0-9_*]+; *$' | tr -d ' ;' | sort -u)
names=$(grep -v '\*' <<<"$listed" || true)
patterns=$(grep '\*' <<<"$listed" | sed 's/\*/.*/g; s/^/^/; s/$/$/' || true)
if [ -z "$names" ]; then echo "no exported names in $map"; exit 1; fi
for lib in "$ours" "$theirs"; do
  if [ -z "$(defined "$lib")" ]; then echo "no dynamic symbols in $lib"; exit 1; fi
done

missing=$(comm -23 <(defined "$theirs" | grep -v '^mi_' | grep -v '^_mi_') <(defined "$ours"))
if [ -n "$missing" ]; then
  echo "libmemtrack.so lacks these allocation symbols of $theirs:"; echo "$missing"; exit 1
fi
echo "all $(defined "$theirs" | grep -vc '^_\?mi_') non-mi_ symbols of $theirs are exported"
# Every listed name is exported (a wrong mangled name in exports.def exports nothing).
absent=$(comm -23 <(echo "$names") <(defined "$ours"))
if [ -n "$absent" ]; then echo "listed in $map but not exported:"; echo "$absent"; exit 1; fi
# And nothing beyond the list leaks out (the version script works).
extra=$(comm -13 <(echo "$names") <(defined "$ours"))
if [ -n "$patterns" ]; then extra=$(grep -v -E -f <(echo "$patterns") <<<"$extra" || true); fi
if [ -n "$extra" ]; then echo "unexpected exports:"; echo "$extra"; exit 1; fi
echo "exactly the $(wc -l <<<"$names") names and the patterns $(tr '\n' ' ' <<<"$listed" | grep -o '[^ ]*\*[^ ]*' | tr '\n' ' ')of $map are exported"
