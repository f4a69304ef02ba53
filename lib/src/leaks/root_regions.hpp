// Root regions: memory the program asks the scan to treat as roots although no writable
// private mapping holds it (memtrack_add_root_region, __lsan_register_root_region), for example
// a PROT_READ mapping or a shared one where it hides pointers. Cold path; a fixed table and a
// mutex, no allocation; thread-safe. The scan copies the table before it stops the world (so
// no paused thread holds the lock) and reads only the parts that lie in readable mappings.
#pragma once

#include <cstddef>
#include <cstdint>

namespace memtrack::detail {

inline constexpr std::size_t kMaxRootRegions = 1024;

struct RootRegion {
    std::uintptr_t start;
    std::size_t size;
};

// Adds [p, p + size). False when the table is full (then a message said so) or size is 0.
// The same region may be added more than once; each add needs its own remove (LSan's rule).
bool add_root_region(const void* p, std::size_t size) noexcept;
// Removes one registration of exactly [p, p + size). False if there is none.
bool remove_root_region(const void* p, std::size_t size) noexcept;
// Copies up to `max` regions into out; returns how many.
std::size_t copy_root_regions(RootRegion* out, std::size_t max) noexcept;

// Fork: prepare takes the table's lock, parent and child release it (the child keeps the
// table: its memory is the parent's copy).
void root_regions_prepare_fork() noexcept;
void root_regions_after_fork() noexcept;

}  // namespace memtrack::detail
