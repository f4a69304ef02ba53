#!/usr/bin/env bash
# Every non-mi_ dynamic symbol libmimalloc.so defines must be defined by libmemtrack.so too.
set -euo pipefail
ours=$1 theirs=$2
defined() { nm -D --defined-only "$1" | awk '{print $3}' | sed 's/@.*//' | sort -u; }
missing=$(comm -23 <(defined "$theirs" | grep -v '^mi_' | grep -v '^_mi_') <(defined "$ours"))
if [ -n "$missing" ]; then
  echo "libmemtrack.so lacks these allocation symbols of $theirs:"; echo "$missing"; exit 1
fi
echo "all $(defined "$theirs" | grep -vc '^_\?mi_') non-mi_ symbols of $theirs are exported"
# And nothing beyond the allocator API and memtrack_* leaks out (the version script works).
extra=$(defined "$ours" | grep -v -E '^(memtrack_|_Zn[wa]|_Zd[la]|__libc_|__posix_memalign$)' \
  | grep -v -x -E 'malloc|free|calloc|realloc|reallocarray|memalign|posix_memalign|aligned_alloc|valloc|pvalloc|malloc_usable_size|cfree|vfree|_aligned_malloc|malloc_size|malloc_good_size|reallocf|reallocarr|dlclose|VERS_.*' || true)
if [ -n "$extra" ]; then echo "unexpected exports:"; echo "$extra"; exit 1; fi
