// Equal slots on own_map slabs (see own_pool.hpp). Cold path: a mutex; no heap allocation.
#include "platform/own_pool.hpp"

#include "platform/own_memory.hpp"

#include <bit>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace memtrack::detail {

namespace {

std::size_t page_bytes() noexcept
{
    const long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? static_cast<std::size_t>(page) : 4096;
}

std::size_t round_up(std::size_t n, std::size_t to) noexcept
{
    return (n + to - 1) / to * to;
}

}  // namespace

std::uint32_t OwnPool::slab_base(std::uint32_t k) noexcept
{
    return k == 0 ? 0 : kFirstSlots << (k - 1);
}

std::uint32_t OwnPool::slab_slots(std::uint32_t k) noexcept
{
    return k == 0 ? kFirstSlots : kFirstSlots << (k - 1);
}

void OwnPool::set_slot_bytes(std::size_t bytes) noexcept
{
    slot_bytes_ = round_up(bytes, page_bytes());
}

// Slab k's free-list links, one per slot, after its slots.
std::uint32_t* OwnPool::links_locked(std::uint32_t k) noexcept
{
    return reinterpret_cast<std::uint32_t*>(slabs_[k] + slab_slots(k) * slot_bytes_);
}

// Maps the next slab and puts its slots on the free list, lowest first. A failed mmap (or a full
// table of own ranges) leaves the pool as it was: the next take tries again.
void OwnPool::grow_locked() noexcept
{
    if (mapped_ == kSlabs || slot_bytes_ == 0) return;
    const std::uint32_t k = mapped_;
    const std::uint32_t n = slab_slots(k);
    const std::size_t bytes = n * slot_bytes_ + round_up(n * sizeof(std::uint32_t), page_bytes());
    auto* slab = static_cast<char*>(own_map(bytes));
    if (slab == nullptr) return;
    slabs_[k] = slab;
    mapped_ = k + 1;
    std::uint32_t* links = links_locked(k);
    const std::uint32_t base = slab_base(k);
    for (std::uint32_t j = 0; j + 1 < n; ++j)
        links[j] = base + j + 2;
    links[n - 1] = free_;
    free_ = base + 1;
}

void* OwnPool::take() noexcept
{
    pthread_mutex_lock(&lock_);
    if (free_ == 0) grow_locked();
    void* slot = nullptr;
    if (free_ != 0) {
        const std::uint32_t i = free_ - 1;
        const std::uint32_t k = static_cast<std::uint32_t>(std::bit_width(i / kFirstSlots));
        const std::uint32_t j = i - slab_base(k);
        free_ = links_locked(k)[j];
        links_locked(k)[j] = kTaken;
        slot = slabs_[k] + j * slot_bytes_;
        ++taken_;
    }
    pthread_mutex_unlock(&lock_);
    return slot;
}

void OwnPool::give_back(void* slot) noexcept
{
    if (slot == nullptr) return;
    const auto* p = static_cast<char*>(slot);
    pthread_mutex_lock(&lock_);
    for (std::uint32_t k = 0; k < mapped_; ++k) {
        const std::uint32_t n = slab_slots(k);
        if (p < slabs_[k] || p >= slabs_[k] + n * slot_bytes_) continue;
        const auto j = static_cast<std::uint32_t>((p - slabs_[k]) / slot_bytes_);
        // Not a slot's start, or a slot on the free list already: ignored (a second link
        // would make the list a loop).
        if (p == slabs_[k] + j * slot_bytes_ && links_locked(k)[j] == kTaken) release_locked(k, j);
        break;
    }
    pthread_mutex_unlock(&lock_);
}

void OwnPool::release_locked(std::uint32_t k, std::uint32_t j) noexcept
{
    // The slot's pages go back to the kernel: they read zeros when touched again. Before the
    // slot is on the free list, so that no take hands it out while they go. madvise refuses
    // locked pages (mlockall): those are resident anyway, and are cleared.
    char* const start = slabs_[k] + j * slot_bytes_;
    if (madvise(start, slot_bytes_, MADV_DONTNEED) != 0) std::memset(start, 0, slot_bytes_);
    links_locked(k)[j] = free_;
    free_ = slab_base(k) + j + 1;
    --taken_;
}

void OwnPool::release_others_in_child(const void* kept) noexcept
{
    for (std::uint32_t k = 0; k < mapped_; ++k) {
        std::uint32_t* links = links_locked(k);
        for (std::uint32_t j = 0; j < slab_slots(k); ++j)
            if (links[j] == kTaken && slabs_[k] + j * slot_bytes_ != kept) release_locked(k, j);
    }
}

OwnPool::Usage OwnPool::usage() noexcept
{
    pthread_mutex_lock(&lock_);
    const Usage u{taken_, mapped_ == 0 ? 0 : slab_base(mapped_ - 1) + slab_slots(mapped_ - 1)};
    pthread_mutex_unlock(&lock_);
    return u;
}

void OwnPool::prepare_fork() noexcept
{
    pthread_mutex_lock(&lock_);
}

void OwnPool::after_fork() noexcept
{
    pthread_mutex_unlock(&lock_);
}

}  // namespace memtrack::detail
