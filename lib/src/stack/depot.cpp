// The lock-free stack depot (see depot.hpp for the data model).
#include "stack/depot.hpp"

#include "platform/own_memory.hpp"

#include <atomic>
#include <cstddef>
#include <cstring>

namespace memtrack::detail {

namespace {

struct Node {
    std::atomic<Node*> next;
    std::uint64_t hash;
    std::uint32_t id;
    std::uint32_t epoch;
    std::uint32_t depth;
    std::uint32_t pad;
    std::uint64_t first_seq;  // the allocation that interned it (0 = none)
    std::uintptr_t pcs[1];    // `depth` entries (at least one slot is always allocated)
};

constexpr std::size_t kBucketBits = 20;
constexpr std::size_t kBuckets = std::size_t{1} << kBucketBits;
constexpr std::uint32_t kMaxIds = std::uint32_t{1} << 24;
constexpr std::size_t kArenaBytes = std::size_t{4} << 30;  // virtual; pages touched on use

constinit std::atomic<Node*>* g_buckets = nullptr;
constinit std::atomic<Node*>* g_ids = nullptr;
constinit char* g_arena = nullptr;
constinit std::atomic<std::size_t> g_arena_used{0};
constinit std::atomic<std::uint32_t> g_next_id{1};

std::uint64_t hash_stack(const std::uintptr_t* pcs, int depth) noexcept
{
    std::uint64_t h = kStackHashSeed;
    for (int i = 0; i < depth; ++i)
        h = stack_hash_add(h, pcs[i]);
    return stack_hash_end(h, depth);
}

Node* new_node(const std::uintptr_t* pcs, int depth, std::uint32_t epoch,
               std::uint64_t hash) noexcept
{
    const std::size_t bytes =
        (offsetof(Node, pcs) + sizeof(std::uintptr_t) * static_cast<std::size_t>(depth) + 15) &
        ~std::size_t{15};
    const std::size_t at = g_arena_used.fetch_add(bytes, std::memory_order_relaxed);
    if (at + bytes > kArenaBytes) return nullptr;
    const std::uint32_t id = g_next_id.fetch_add(1, std::memory_order_relaxed);
    if (id >= kMaxIds) return nullptr;
    Node* n = reinterpret_cast<Node*>(g_arena + at);
    n->hash = hash;
    n->id = id;
    n->epoch = epoch;
    n->depth = static_cast<std::uint32_t>(depth);
    const NextAllocSeq next_seq = g_next_alloc_seq;
    n->first_seq = next_seq != nullptr ? next_seq() : 0;
    std::memcpy(n->pcs, pcs, sizeof(std::uintptr_t) * static_cast<std::size_t>(depth));
    g_ids[id].store(n, std::memory_order_release);
    return n;
}

bool same(const Node* n, std::uint64_t hash, const std::uintptr_t* pcs, int depth) noexcept
{
    return n->hash == hash && n->depth == static_cast<std::uint32_t>(depth) &&
           std::memcmp(n->pcs, pcs, sizeof(std::uintptr_t) * static_cast<std::size_t>(depth)) == 0;
}

}  // namespace

bool depot_reserve() noexcept
{
    if (g_buckets != nullptr) return true;
    auto* buckets = static_cast<std::atomic<Node*>*>(own_map(kBuckets * sizeof(Node*)));
    auto* ids = static_cast<std::atomic<Node*>*>(own_map(kMaxIds * sizeof(Node*)));
    auto* arena = static_cast<char*>(own_map(kArenaBytes));
    if (buckets == nullptr || ids == nullptr || arena == nullptr) return false;
    g_buckets = buckets;
    g_ids = ids;
    g_arena = arena;
    return true;
}

std::uint32_t intern_stack(const std::uintptr_t* pcs, int depth, std::uint32_t epoch) noexcept
{
    if (depth <= 0 || g_buckets == nullptr) return 0;
    return intern_stack_hashed(pcs, depth, epoch, hash_stack(pcs, depth));
}

std::uint32_t intern_stack_hashed(const std::uintptr_t* pcs, int depth, std::uint32_t epoch,
                                  std::uint64_t hash) noexcept
{
    if (depth <= 0 || g_buckets == nullptr) return 0;
    std::atomic<Node*>& bucket = g_buckets[hash & (kBuckets - 1)];
    Node* head = bucket.load(std::memory_order_acquire);
    for (Node* n = head; n != nullptr; n = n->next.load(std::memory_order_acquire))
        if (same(n, hash, pcs, depth)) return n->id;
    Node* fresh = new_node(pcs, depth, epoch, hash);
    if (fresh == nullptr) return 0;
    for (;;) {
        fresh->next.store(head, std::memory_order_relaxed);
        Node* seen = head;
        if (bucket.compare_exchange_weak(head, fresh, std::memory_order_release,
                                         std::memory_order_acquire))
            return fresh->id;
        // Someone else linked nodes in front: one of them may be this stack. Only the nodes
        // between the new head and the one we saw are new.
        for (Node* n = head; n != nullptr && n != seen; n = n->next.load(std::memory_order_acquire))
            if (same(n, hash, pcs, depth)) return n->id;  // `fresh` stays unused in the arena
    }
}

StackView stack_of(std::uint32_t id) noexcept
{
    if (id == 0 || g_ids == nullptr || id >= kMaxIds) return {};
    const Node* n = g_ids[id].load(std::memory_order_acquire);
    if (n == nullptr) return {};
    return {n->pcs, static_cast<int>(n->depth), n->epoch};
}

std::uint64_t stack_first_seq(std::uint32_t id) noexcept
{
    if (id == 0 || g_ids == nullptr || id >= kMaxIds) return 0;
    const Node* n = g_ids[id].load(std::memory_order_acquire);
    return n == nullptr ? 0 : n->first_seq;
}

std::uint32_t stack_count() noexcept
{
    const std::uint32_t next = g_next_id.load(std::memory_order_relaxed);
    return next > 0 ? next - 1 : 0;
}

std::size_t depot_bytes() noexcept
{
    return g_arena_used.load(std::memory_order_relaxed);
}

}  // namespace memtrack::detail
