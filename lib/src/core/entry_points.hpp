// The allocator API's own semantics on top of the block primitives (block.hpp): calloc and
// reallocarray overflow checks, posix_memalign's EINVAL rules, valloc/pvalloc page rounding, the
// BSD realloc variants, malloc_good_size and operator new's new_handler loop. preload/ forwards
// each exported symbol to one of these. Hot halves inline (calloc, reallocarray, posix_memalign,
// operator new); the rest out of line and cold. No lock, no I/O; thread-safe as block.hpp is.
#pragma once

#include "core/block.hpp"

#include <cerrno>
#include <cstddef>
#include <new>

namespace memtrack::detail {

// calloc: n * size bytes zeroed; NULL and ENOMEM if the product overflows (glibc). Hot: one
// overflow check on top of alloc_zeroed.
inline void* alloc_zeroed_array(std::size_t n, std::size_t size) noexcept
{
    std::size_t total = 0;
    if (__builtin_mul_overflow(n, size, &total)) [[unlikely]]
        return alloc_failed();
    return alloc_zeroed(total);
}

// reallocarray: realloc(p, n * size); NULL and ENOMEM if the product overflows, p untouched.
inline void* reallocate_array(void* p, std::size_t n, std::size_t size) noexcept
{
    std::size_t total = 0;
    if (__builtin_mul_overflow(n, size, &total)) [[unlikely]]
        return alloc_failed();
    return reallocate(p, total);
}

// posix_memalign: align must be a power of two multiple of sizeof(void*), else EINVAL with *out
// untouched (POSIX); ENOMEM on failure with errno as it was; 0 and *out set on success.
inline int posix_memalign_into(void** out, std::size_t align, std::size_t size) noexcept
{
    if (align % sizeof(void*) != 0 || (align & (align - 1)) != 0 || align == 0) return EINVAL;
    const int saved = errno;
    void* p = alloc_aligned(size, align, false);
    if (p == nullptr) {
        errno = saved;
        return ENOMEM;
    }
    *out = p;
    return 0;
}

// valloc: page-aligned. pvalloc: page-aligned and the size rounded up to whole pages (NULL and
// ENOMEM if rounding overflows). Cold: the page size is read each time (getpagesize(), no
// syscall), so no cache and no start-up order to get right.
[[gnu::cold]] void* alloc_page_aligned(std::size_t size) noexcept;
[[gnu::cold]] void* alloc_whole_pages(std::size_t size) noexcept;

// reallocf (BSD): realloc that frees p when it fails (realloc(p, 0) already freed it).
[[gnu::cold]] void* reallocate_or_free(void* p, std::size_t size) noexcept;

// reallocarr (NetBSD): *(void**)slot = realloc(*(void**)slot, n * size); returns 0, EINVAL for
// a NULL slot, EOVERFLOW for an overflowing product or ENOMEM (slot and errno untouched).
// n * size == 0 frees the block and stores NULL.
[[gnu::cold]] int reallocate_slot(void* slot, std::size_t n, std::size_t size) noexcept;

// malloc_good_size (macOS): the usable size a request of `size` bytes would get.
[[gnu::cold]] std::size_t good_size(std::size_t size) noexcept;

// operator new's failure path: calls the new_handler and retries until it succeeds or the
// handler gives up (unset or throws). Throwing forms (nothrow false) throw std::bad_alloc, the
// only exception memtrack lets out; nothrow forms return NULL. align 0 = default alignment.
[[gnu::noinline, gnu::cold]] void* new_retry_slow(std::size_t size, std::size_t align,
                                                  bool nothrow);

// operator new of a size the inline path does not take (every size in full mode): alloc_slow
// and new_retry_slow, or in full mode the sited path entered with the caller's registers.
[[gnu::noinline]] void* new_slow(std::size_t size);

// The operator new forms. Hot half: one alloc and a test; new_retry_slow only on failure.
// new_block's slow half is a tail call, so that full mode's stack capture starts at the
// program's frame (block.hpp, memtrack_alloc_sited_at) instead of stepping operator new's.
inline void* new_block(std::size_t size)
{
    if (size >= t_state.small_limit) [[unlikely]]
        return new_slow(size);
    void* p = alloc(size);
    if (p != nullptr) [[likely]]
        return p;
    return new_retry_slow(size, 0, false);
}

inline void* new_block_nothrow(std::size_t size) noexcept
{
    void* p = alloc(size);
    if (p != nullptr) [[likely]]
        return p;
    try {
        return new_retry_slow(size, 0, true);
    } catch (...) {
        return nullptr;
    }
}

inline void* new_aligned_block(std::size_t size, std::align_val_t al)
{
    const auto align = static_cast<std::size_t>(al);
    void* p = alloc_aligned(size, align, false);
    if (p != nullptr) [[likely]]
        return p;
    return new_retry_slow(size, align, false);
}

inline void* new_aligned_block_nothrow(std::size_t size, std::align_val_t al) noexcept
{
    const auto align = static_cast<std::size_t>(al);
    void* p = alloc_aligned(size, align, false);
    if (p != nullptr) [[likely]]
        return p;
    try {
        return new_retry_slow(size, align, true);
    } catch (...) {
        return nullptr;
    }
}

}  // namespace memtrack::detail
