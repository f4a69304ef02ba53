// Registry of big blocks: an open-addressing map from header address to sequence number under
// one mutex (cold).
#include "core/big_blocks.hpp"

#include "platform/own_memory.hpp"

#include <atomic>
#include <pthread.h>

namespace memtrack::detail {

namespace {

constexpr std::uintptr_t kEmpty = 0;
constexpr std::uintptr_t kTombstone = 1;  // header addresses are 16-aligned, never 1

constinit pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
constinit BigBlockEntry* g_table = nullptr;
constinit std::size_t g_capacity = 0;  // power of two
constinit std::size_t g_used = 0;      // live entries + tombstones
constinit std::size_t g_live = 0;
constinit std::atomic<std::uint64_t> g_dropped{0};  // live blocks big_block_add could not register
constinit int g_fail_adds = 0;                      // unit tests: adds to fail

std::size_t slot_of(std::uintptr_t key, std::size_t capacity) noexcept
{
    return static_cast<std::size_t>((key >> 4) * 0x9E3779B97F4A7C15ull) & (capacity - 1);
}

void insert_locked(BigBlockEntry* table, std::size_t capacity, BigBlockEntry entry) noexcept
{
    for (std::size_t i = slot_of(entry.header, capacity);; i = (i + 1) & (capacity - 1)) {
        if (table[i].header == kEmpty || table[i].header == kTombstone) {
            table[i] = entry;
            return;
        }
    }
}

bool live(const BigBlockEntry& e) noexcept
{
    return e.header != kEmpty && e.header != kTombstone;
}

// Grows (or cleans tombstones) so that one more entry keeps the load under one half.
bool reserve_locked() noexcept
{
    if (g_table != nullptr && (g_used + 1) * 2 <= g_capacity) return true;
    std::size_t capacity = g_capacity == 0 ? 1024 : g_capacity;
    while ((g_live + 1) * 4 > capacity)
        capacity *= 2;
    auto* table = static_cast<BigBlockEntry*>(own_map(capacity * sizeof(BigBlockEntry)));
    if (table == nullptr) return false;
    for (std::size_t i = 0; i < g_capacity; ++i)
        if (live(g_table[i])) insert_locked(table, capacity, g_table[i]);
    if (g_table != nullptr) own_unmap(g_table, g_capacity * sizeof(BigBlockEntry));
    g_table = table;
    g_capacity = capacity;
    g_used = g_live;
    return true;
}

}  // namespace

void big_block_add(std::uintptr_t header, std::uint64_t seq) noexcept
{
    pthread_mutex_lock(&g_lock);
    bool ok = false;
    if (g_fail_adds > 0)
        --g_fail_adds;  // unit tests: as if the table could not grow
    else
        ok = reserve_locked();
    if (ok) {
        insert_locked(g_table, g_capacity, {header, seq});
        ++g_used;
        ++g_live;
    } else {
        g_dropped.fetch_add(1, std::memory_order_relaxed);
    }
    pthread_mutex_unlock(&g_lock);
}

void big_block_remove(std::uintptr_t header) noexcept
{
    pthread_mutex_lock(&g_lock);
    if (g_table != nullptr) {
        for (std::size_t i = slot_of(header, g_capacity);; i = (i + 1) & (g_capacity - 1)) {
            if (g_table[i].header == kEmpty) break;
            if (g_table[i].header == header) {
                g_table[i].header = kTombstone;
                --g_live;
                pthread_mutex_unlock(&g_lock);
                return;
            }
        }
    }
    // Not registered: one of the blocks big_block_add had to drop is freed.
    if (g_dropped.load(std::memory_order_relaxed) > 0)
        g_dropped.fetch_sub(1, std::memory_order_relaxed);
    pthread_mutex_unlock(&g_lock);
}

void big_blocks_lock() noexcept
{
    pthread_mutex_lock(&g_lock);
}

void big_blocks_unlock() noexcept
{
    pthread_mutex_unlock(&g_lock);
}

std::size_t big_blocks_count_locked() noexcept
{
    return g_live;
}

std::size_t big_blocks_copy_locked(BigBlockEntry* out, std::size_t max) noexcept
{
    std::size_t n = 0;
    for (std::size_t i = 0; i < g_capacity && n < max; ++i)
        if (live(g_table[i])) out[n++] = g_table[i];
    return g_live;
}

std::uint64_t big_blocks_dropped() noexcept
{
    return g_dropped.load(std::memory_order_relaxed);
}

void big_blocks_fail_adds_for_tests(int n) noexcept
{
    pthread_mutex_lock(&g_lock);
    g_fail_adds = n;
    pthread_mutex_unlock(&g_lock);
}

void big_blocks_prepare_fork() noexcept
{
    pthread_mutex_lock(&g_lock);
}

void big_blocks_after_fork() noexcept
{
    pthread_mutex_unlock(&g_lock);
}

}  // namespace memtrack::detail
