// A pool of equal slots on slabs from own_map, for memtrack's per-thread tables (the unwinder's,
// stack/fast_unwind.cpp). Cold path (thread start and exit): one mutex, which fork's prepare
// handler takes; no heap allocation; slabs are never unmapped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <pthread.h>

namespace memtrack::detail {

// own_map keeps a fixed table of 256 ranges (own_memory.cpp) for everything memtrack maps, so
// a table per thread cannot be a mapping of its own: a program with a few hundred threads would
// fill the table. The pool maps slabs instead, each many slots, and slab k holds twice as many
// as slab k - 1 (slab 0 and 1: 8 slots; slab k >= 1: slots [8 << (k - 1), 8 << k)), so 400
// threads take 7 ranges and 2^20 threads 18. Slots are index + 1 on a free list whose links live
// in a small array at each slab's end, apart from the slots (kTaken for a slot handed out, so
// that a fork's child finds the tables of the threads it lost): a slot given back has its pages
// returned to the kernel (MADV_DONTNEED), so an exited thread's table costs no memory, the next
// thread that takes the slot reads zeros as from a fresh mapping, and the link does not touch
// the slot's pages again. The slabs are own memory: the leak scan never reads them as roots.
class OwnPool {
public:
    // Start-up, before the first take: the slot size, rounded up to whole pages. Once.
    void set_slot_bytes(std::size_t bytes) noexcept;
    std::size_t slot_bytes() const noexcept { return slot_bytes_; }

    // A slot of zeros, page-aligned; nullptr when no slab could be mapped. Any thread, but not
    // from a signal handler that interrupted take or give_back on the same thread (the lock).
    void* take() noexcept;
    // Returns a slot from take (nullptr, other pointers and slots not taken are ignored). Any
    // thread, as take.
    void give_back(void* slot) noexcept;
    // In a forked child, after after_fork: gives back every slot taken but `kept` (the slot of
    // the thread that forked, or nullptr). The other threads are gone from the child, and their
    // tables, shared with the parent until it writes them, would stay in the child for good.
    void release_others_in_child(const void* kept) noexcept;

    // Slots handed out now, and slots on the slabs mapped so far. Any thread (the lock).
    struct Usage {
        std::size_t taken = 0;
        std::size_t slots = 0;
    };
    Usage usage() noexcept;

    // fork: prepare takes the lock; the parent and the child release it (the child's only
    // thread is the one that held it).
    void prepare_fork() noexcept;
    void after_fork() noexcept;

    static constexpr std::uint32_t kSlabs = 20;  // 8 << 19 slots: 4 Mi threads

private:
    static constexpr std::uint32_t kFirstSlots = 8;
    static std::uint32_t slab_base(std::uint32_t k) noexcept;
    static std::uint32_t slab_slots(std::uint32_t k) noexcept;
    std::uint32_t* links_locked(std::uint32_t k) noexcept;
    void grow_locked() noexcept;
    void release_locked(std::uint32_t k, std::uint32_t j) noexcept;
    static constexpr std::uint32_t kTaken = ~std::uint32_t{0};  // the link of a slot handed out

    pthread_mutex_t lock_ = PTHREAD_MUTEX_INITIALIZER;
    std::size_t slot_bytes_ = 0;
    char* slabs_[kSlabs] = {};  // the lock; slabs_[k] mapped for every k < mapped_
    std::uint32_t mapped_ = 0;  // the lock
    std::uint32_t free_ = 0;    // the lock: index + 1 of the first free slot, 0 = none
    std::size_t taken_ = 0;     // the lock
};

}  // namespace memtrack::detail
