// /proc/self/maps, read with raw syscalls into scratch memory: usable while other threads are
// paused (no stdio, no malloc, no lock). Cold path.
#pragma once

#include "platform/scratch.hpp"

#include <cstdint>

namespace memtrack::detail {

struct Mapping {
    std::uintptr_t start = 0;
    std::uintptr_t end = 0;
    bool readable = false;
    bool writable = false;
    bool executable = false;
    bool shared = false;
    bool file = false;     // backed by a file (a path that does not start with '[')
    bool special = false;  // [vvar], [vdso], [vsyscall]
};

// Appends the current mappings in address order. False if /proc/self/maps cannot be read.
bool read_maps(ScratchVector<Mapping>& out) noexcept;

// True when the system has no swap: then a page mincore() reports non-resident has never been
// written (or was discarded) and reads as zero, so scans may skip it. Read once.
bool no_swap() noexcept;

}  // namespace memtrack::detail
