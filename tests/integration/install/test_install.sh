#!/usr/bin/env bash
# The installed package, used from outside the tree: `cmake --install` into a temporary prefix,
# then a Makefile consumer (pkg-config --cflags --libs memtrack, a C and a C++ program) and a
# CMake consumer (find_package(memtrack), memtrack::memtrack) are built against it and run:
# each program is tracked without LD_PRELOAD, linked to the installed libmemtrack.so.
# Usage: test_install.sh BUILD_DIR pkgconfig|cmake
set -euo pipefail
build=$1 kind=$2
tmp=$(mktemp -d /tmp/mt-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
unset LD_PRELOAD
for v in $(env | grep -o '^MEMTRACK_[A-Z_]*' || true); do unset "$v"; done
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
prefix=$tmp/prefix
mkdir "$tmp/app"
cat >"$tmp/app/main.c" <<'C'
#include <memtrack/memtrack.h>
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
    memtrack_stats s = memtrack_stats_init();
    void* volatile p = malloc(10007);
    memtrack_get_stats(&s);
    printf("c: active %d, current at least 10007: %d\n", memtrack_is_active(),
           s.current_bytes >= 10007);
    free(p);
    return 0;
}
C
cat >"$tmp/app/main.cpp" <<'CXX'
#include <memtrack/memtrack.hpp>
#include <cstdio>
#include <vector>
int main()
{
    const auto m = memtrack::measure([] { std::vector<char> v(1 << 20, 1); return v[7]; });
    std::printf("c++: active %d, peak at least 1 MiB: %d\n", memtrack_is_active(),
                m.peak.value >= (1 << 20));
    return 0;
}
CXX
case $kind in
pkgconfig)
    export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
    pkg-config --exists --print-errors memtrack
    flags=$(pkg-config --cflags --libs memtrack)
    echo "pkg-config --cflags --libs memtrack: $flags"
    case $flags in *"-I$prefix/lib/pkgconfig/../../include"*"-lmemtrack"*) ;; *) echo "unexpected flags: $flags"; exit 1 ;; esac
    cat >"$tmp/app/Makefile" <<'MK'
CFLAGS += $(shell pkg-config --cflags memtrack)
CXXFLAGS += -std=c++20 $(shell pkg-config --cflags memtrack)
LDLIBS += $(shell pkg-config --libs memtrack)
all: app_c app_cxx
app_c: main.c
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)
app_cxx: main.cpp
	$(CXX) $(CXXFLAGS) -o $@ $< $(LDLIBS)
MK
    make -s -C "$tmp/app"
    apps=("$tmp/app/app_c" "$tmp/app/app_cxx")
    ;;
cmake)
    cat >"$tmp/app/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(consumer C CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(memtrack REQUIRED)
add_executable(app_c main.c)
target_link_libraries(app_c PRIVATE memtrack::memtrack)
add_executable(app_cxx main.cpp)
target_link_libraries(app_cxx PRIVATE memtrack::memtrack)
CM
    cmake -S "$tmp/app" -B "$tmp/app/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
    cmake --build "$tmp/app/build" >/dev/null
    apps=("$tmp/app/build/app_c" "$tmp/app/build/app_cxx")
    ;;
*) echo "usage: $0 BUILD_DIR pkgconfig|cmake"; exit 2 ;;
esac
for app in "${apps[@]}"; do
    # The installed library, not the build tree's.
    ldd_out=$(LD_LIBRARY_PATH=$prefix/lib ldd "$app")
    grep -q "libmemtrack.so.0 => $prefix/lib/libmemtrack.so.0" <<<"$ldd_out" ||
        { echo "$app does not load $prefix/lib/libmemtrack.so.0:"; echo "$ldd_out"; exit 1; }
    out=$(LD_LIBRARY_PATH=$prefix/lib MEMTRACK_REPORT=none "$app")
    echo "$out"
    grep -Eq "active 1, .*: 1$" <<<"$out" || { echo "$app: not tracked"; exit 1; }
done
echo "ok: $kind consumer built against $prefix and tracked"
