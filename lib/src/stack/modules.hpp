// Loaded modules as the stacks saw them, kept after dlclose so that a stack recorded in an
// unloaded library can still be symbolized (LeakSanitizer loses those frames). Cold path; may
// allocate (callers hold the reentrancy Guard); thread-safe (one internal mutex). Never called
// while the world is stopped.
//
// Model: every module ever seen is one ModuleRecord {path, load bias, address ranges (PT_LOAD),
// GNU build id, unload epoch}. The *epoch* counts dlclose calls that unloaded something; a stack
// records the epoch current when it was captured. A dlclose that unloads modules at epoch e sets
// their unload epoch to e + 1 and makes e + 1 current. The module of a pc for a stack of epoch e
// is the record containing pc whose unload epoch is > e, taking the smallest such unload epoch
// (the module mapped there at the time); a record still loaded has unload epoch "infinite"
// (UINT32_MAX). A library loaded again after its dlclose gets a new record.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace memtrack::detail {

struct ModuleRecord {
    std::string path;         // as the loader names it; the main program's real path
    std::uintptr_t bias = 0;  // load bias (dl_phdr_info::dlpi_addr)
    struct Range {
        std::uintptr_t start, end;  // [start, end): PT_LOAD segments, absolute addresses
    };
    std::vector<Range> ranges;
    std::string build_id;  // hex, empty if the module has none
    // Written once, under the table's mutex, by modules_after_dlclose(): read it only while no
    // dlclose can run (tests), or rely on module_of(). All other fields never change.
    std::uint32_t unload_epoch = UINT32_MAX;
};

// The current epoch, written by modules.cpp only (modules_after_dlclose).
inline constinit std::atomic<std::uint32_t> g_modules_epoch{0};

// Current epoch (relaxed atomic load: lock-free, allocation-free, async-signal-safe). Stored
// with each new stack. Inline: the capture's hit path reads it on every allocation.
inline std::uint32_t modules_epoch() noexcept
{
    return g_modules_epoch.load(std::memory_order_relaxed);
}

// Records every module loaded now (dl_iterate_phdr) that has no loaded record yet (key: path +
// bias). Cheap if nothing was loaded since the last snapshot (dlpi_adds). Report time and before
// dlclose.
void modules_snapshot() noexcept;

// dlclose interposition: before the real dlclose, snapshot; after it, the records of modules
// that are gone get unload epoch = current epoch + 1, which becomes current (if any went).
void modules_before_dlclose() noexcept;
void modules_after_dlclose() noexcept;

// The record for `pc` in a stack of epoch `epoch`, or nullptr (pc in no known module). If no
// record matches, takes one snapshot and looks again. The pointer stays valid for the process
// lifetime (records are never freed or moved).
const ModuleRecord* module_of(std::uintptr_t pc, std::uint32_t epoch) noexcept;

// A forked child needs no handler: it inherits the records, and they stay valid there.

}  // namespace memtrack::detail
