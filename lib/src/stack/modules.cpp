// The process-lifetime module table (modules.hpp) and the dlclose epoch. Cold path: allocates
// (callers hold the Guard), one mutex, never throws or prints; modules_epoch() is lock-free.
#include "stack/modules.hpp"

#include "platform/hex.hpp"

#include <elf.h>
#include <link.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <utility>

namespace memtrack::detail {
namespace {

// Data model. The table is a vector of pointers to heap-allocated ModuleRecords in the order they
// were first seen; records are never freed or moved, so module_of() can hand out raw pointers for
// the process lifetime. A record's path, bias, ranges and build id never change after it is
// published under g_mutex; only unload_epoch is written later (under g_mutex, once). A module is
// "known" if a record with its (path, bias) is still loaded (unload_epoch == UINT32_MAX): a
// library dlclose()d and dlopen()ed again gets a second record, even at the same address.
//
// dl_iterate_phdr() runs its callback under the loader's lock, so the listing is collected into
// a local vector without our mutex and merged afterwards: no lock-order tie to the loader.
// dlpi_adds (objects loaded so far, glibc) lets a snapshot stop after one callback when nothing
// was loaded since the last complete one: module_of() on an unknown pc stays cheap.
struct Table {
    std::vector<ModuleRecord*> records;
};

constexpr unsigned long long kNoSnapshot = ~0ULL;

constinit std::mutex g_mutex;
constinit Table* g_table = nullptr;  // guarded by g_mutex; created on first use, never freed
constinit std::atomic<unsigned long long> g_snapshot_adds{kNoSnapshot};
constinit std::string* g_exe_path = nullptr;  // guarded by g_mutex; set once, never freed

Table& table_locked()
{
    if (g_table == nullptr) g_table = new Table;
    return *g_table;
}

std::size_t align_up(std::size_t v, std::size_t a) noexcept
{
    return (v + a - 1) & ~(a - 1);
}

bool in_ranges(const std::vector<ModuleRecord::Range>& ranges, std::uintptr_t start,
               std::size_t size) noexcept
{
    for (const auto& r : ranges)
        if (start >= r.start && start <= r.end && size <= r.end - start) return true;
    return false;
}

// NT_GNU_BUILD_ID from the module's mapped PT_NOTE segments (the same note `readelf -n` shows).
// Notes are 4-aligned, or 8-aligned in a segment with p_align 8 (gABI; glibc dl-prop.h).
std::string build_id_of(const dl_phdr_info* info, const std::vector<ModuleRecord::Range>& ranges)
{
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_NOTE) continue;
        const std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
        if (!in_ranges(ranges, start, ph.p_memsz)) continue;  // not mapped: do not touch
        const std::size_t align = ph.p_align == 8 ? 8 : 4;
        const auto* p = reinterpret_cast<const unsigned char*>(start);
        std::size_t left = ph.p_memsz;
        while (left >= sizeof(ElfW(Nhdr))) {
            ElfW(Nhdr) nh;
            std::memcpy(&nh, p, sizeof nh);
            const std::size_t name_at = sizeof nh;
            const std::size_t desc_at = name_at + align_up(nh.n_namesz, align);
            if (desc_at > left || nh.n_descsz > left - desc_at) break;
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
                std::memcmp(p + name_at, "GNU", 4) == 0) {
                std::string hex;
                hex.reserve(2 * nh.n_descsz);
                append_hex(hex, p + desc_at, nh.n_descsz);
                return hex;
            }
            const std::size_t next = desc_at + align_up(nh.n_descsz, align);
            if (next >= left) break;
            p += next;
            left -= next;
        }
    }
    return {};
}

// The main program's path, read once: a later readlink() of a replaced or deleted executable
// says "... (deleted)", which would make the program look unloaded and loaded again.
const std::string& self_exe_path_locked()
{
    if (g_exe_path == nullptr) {
        char buf[PATH_MAX];
        const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf);
        const std::size_t len =
            n > 0 && static_cast<std::size_t>(n) < sizeof buf ? static_cast<std::size_t>(n) : 0;
        g_exe_path = new std::string(buf, len);
    }
    return *g_exe_path;
}

bool is_vdso(const dl_phdr_info* info) noexcept
{
    const unsigned long ehdr = getauxval(AT_SYSINFO_EHDR);
    for (int i = 0; i < info->dlpi_phnum; ++i)
        if (info->dlpi_phdr[i].p_type == PT_LOAD)
            return ehdr != 0 && info->dlpi_addr + info->dlpi_phdr[i].p_vaddr == ehdr;
    return false;
}

struct Listing {
    bool stop_if_unchanged = false;  // in: end after the first callback if dlpi_adds is unchanged
    bool full = true;                // in: ranges and build ids too (else only path and bias)
    bool first = true;
    bool unchanged = false;     // out: stopped early, nothing new was loaded
    bool failed = false;        // out: allocation failed, the listing is incomplete
    bool main_unnamed = false;  // out: modules[0] is the main program, its path still empty
    unsigned long long adds = kNoSnapshot;
    std::vector<ModuleRecord> modules;
};

int collect(dl_phdr_info* info, std::size_t size, void* arg) noexcept
{
    auto& listing = *static_cast<Listing*>(arg);
    try {
        const bool main_program = listing.first;  // glibc lists the main program first
        if (listing.first) {
            listing.first = false;
            if (size >= offsetof(dl_phdr_info, dlpi_adds) + sizeof info->dlpi_adds) {
                listing.adds = info->dlpi_adds;
                if (listing.stop_if_unchanged &&
                    listing.adds == g_snapshot_adds.load(std::memory_order_acquire)) {
                    listing.unchanged = true;
                    return 1;
                }
            }
        }
        ModuleRecord rec;
        rec.bias = info->dlpi_addr;
        if (info->dlpi_name != nullptr && info->dlpi_name[0] != '\0') {
            rec.path = info->dlpi_name;
        } else if (main_program) {
            listing.main_unnamed = true;  // path filled in under g_mutex (self_exe_path_locked)
        } else if (is_vdso(info)) {
            rec.path = "[vdso]";  // older glibc lists the vdso without a name
        }
        if (listing.full) {
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const ElfW(Phdr)& ph = info->dlpi_phdr[i];
                if (ph.p_type != PT_LOAD) continue;
                const std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
                rec.ranges.push_back({start, start + ph.p_memsz});
            }
            rec.build_id = build_id_of(info, rec.ranges);
        }
        listing.modules.push_back(std::move(rec));
        return 0;
    } catch (...) {
        listing.failed = true;
        return 1;
    }
}

const ModuleRecord* find_loaded_locked(const Table& table, const std::string& path,
                                       std::uintptr_t bias) noexcept
{
    for (const ModuleRecord* rec : table.records)
        if (rec->unload_epoch == UINT32_MAX && rec->bias == bias && rec->path == path) return rec;
    return nullptr;
}

bool contains(const ModuleRecord& rec, std::uintptr_t pc) noexcept
{
    for (const auto& r : rec.ranges)
        if (pc >= r.start && pc < r.end) return true;
    return false;
}

// Smallest unload epoch > epoch; on a tie the later record (a module that vanished without our
// dlclose hook leaves a stale "loaded" record: the newer mapping is the better guess).
const ModuleRecord* find_locked(std::uintptr_t pc, std::uint32_t epoch) noexcept
{
    if (g_table == nullptr) return nullptr;
    const ModuleRecord* best = nullptr;
    for (const ModuleRecord* rec : g_table->records) {
        if (rec->unload_epoch <= epoch || !contains(*rec, pc)) continue;
        if (best == nullptr || rec->unload_epoch <= best->unload_epoch) best = rec;
    }
    return best;
}

void snapshot(bool stop_if_unchanged)
{
    Listing listing;
    listing.stop_if_unchanged = stop_if_unchanged;
    dl_iterate_phdr(collect, &listing);
    if (listing.unchanged) return;
    std::lock_guard<std::mutex> lock(g_mutex);
    if (listing.main_unnamed) listing.modules[0].path = self_exe_path_locked();
    Table& table = table_locked();
    table.records.reserve(table.records.size() + listing.modules.size());  // push_back can't throw
    for (ModuleRecord& m : listing.modules) {
        if (find_loaded_locked(table, m.path, m.bias) != nullptr) continue;
        table.records.push_back(new ModuleRecord(std::move(m)));
    }
    if (!listing.failed) g_snapshot_adds.store(listing.adds, std::memory_order_release);
}

}  // namespace

void modules_snapshot() noexcept
{
    try {
        snapshot(true);
    } catch (...) {  // out of memory: the table stays as it was
    }
}

void modules_before_dlclose() noexcept
{
    modules_snapshot();
}

void modules_after_dlclose() noexcept
{
    try {
        Listing listing;
        listing.full = false;
        dl_iterate_phdr(collect, &listing);
        if (listing.failed) return;  // an incomplete listing would unload live modules

        std::lock_guard<std::mutex> lock(g_mutex);
        if (g_table == nullptr) return;
        if (listing.main_unnamed) listing.modules[0].path = self_exe_path_locked();
        auto by_key = [](const ModuleRecord& a, const ModuleRecord& b) {
            return a.bias != b.bias ? a.bias < b.bias : a.path < b.path;
        };
        std::sort(listing.modules.begin(), listing.modules.end(), by_key);
        auto listed = [&listing, &by_key](const ModuleRecord& rec) {
            auto it = std::lower_bound(listing.modules.begin(), listing.modules.end(), rec, by_key);
            return it != listing.modules.end() && it->bias == rec.bias && it->path == rec.path;
        };
        // Stacks captured before this dlclose carry epoch e; the unloaded records get e + 1,
        // so that module_of(pc, e) still finds them (e + 1 > e) and stacks captured from now
        // on (epoch e + 1) do not.
        const std::uint32_t next = g_modules_epoch.load(std::memory_order_relaxed) + 1;
        if (next == UINT32_MAX) return;  // saturated: UINT32_MAX means "still loaded"
        bool any = false;
        for (ModuleRecord* rec : g_table->records) {
            if (rec->unload_epoch != UINT32_MAX || listed(*rec)) continue;
            rec->unload_epoch = next;
            any = true;
        }
        if (any) g_modules_epoch.store(next, std::memory_order_relaxed);
    } catch (...) {  // out of memory: the records stay "loaded"
    }
}

const ModuleRecord* module_of(std::uintptr_t pc, std::uint32_t epoch) noexcept
{
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        if (const ModuleRecord* rec = find_locked(pc, epoch)) return rec;
    }
    modules_snapshot();
    std::lock_guard<std::mutex> lock(g_mutex);
    return find_locked(pc, epoch);
}

}  // namespace memtrack::detail
