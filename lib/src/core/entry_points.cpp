// The cold entry points of entry_points.hpp: page-size rounding, the BSD realloc variants,
// malloc_good_size and operator new's new_handler loop. No lock, no I/O.
#include "core/entry_points.hpp"

#include <cstdint>
#include <unistd.h>

namespace memtrack::detail {

namespace {
std::size_t page_size() noexcept
{
    return static_cast<std::size_t>(getpagesize());  // glibc reads it from the auxv: no syscall
}
}  // namespace

void* alloc_page_aligned(std::size_t size) noexcept
{
    return alloc_memalign(page_size(), size);
}

void* alloc_whole_pages(std::size_t size) noexcept
{
    const std::size_t page = page_size();
    if (size > SIZE_MAX - page) return alloc_failed();
    return alloc_memalign(page, (size + page - 1) & ~(page - 1));
}

void* reallocate_or_free(void* p, std::size_t size) noexcept
{
    void* q = reallocate(p, size);
    if (q == nullptr && p != nullptr && size != 0) release(p);
    return q;
}

int reallocate_slot(void* slot, std::size_t n, std::size_t size) noexcept
{
    if (slot == nullptr) return EINVAL;
    void** block = static_cast<void**>(slot);
    std::size_t total = 0;
    if (__builtin_mul_overflow(n, size, &total)) return EOVERFLOW;
    if (total == 0) {
        release(*block);
        *block = nullptr;
        return 0;
    }
    const int saved = errno;
    void* q = reallocate(*block, total);
    if (q == nullptr) {
        errno = saved;
        return ENOMEM;
    }
    *block = q;
    return 0;
}

std::size_t good_size(std::size_t size) noexcept
{
    if (size > kMaxRequest) return size;
    return mi_good_size(gross_size(size)) - kHeaderSize;
}

// operator new's sited path: memtrack_alloc_sited_at with the registers new_sited was entered
// with, then the new_handler loop on failure (which may throw: not noexcept).
extern "C" [[gnu::visibility("hidden"), gnu::used]] void* memtrack_new_sited_at(
    std::size_t size, std::uintptr_t ra, std::uintptr_t sp, std::uintptr_t bp)
{
    void* p = memtrack_alloc_sited_at(size, false, ra, sp, bp);
    if (p != nullptr) [[likely]]
        return p;
    return new_retry_slow(size, 0, false);
}

namespace {

// The entry of memtrack_new_sited_at, as alloc_sited is alloc_slow's (block.cpp): no frame,
// passes on the return address, the stack pointer after the return and rbp (x86-64 System V:
// size in rdi; ra, sp, bp become the second to fourth arguments). Reached by tail calls from
// operator new, whose caller's frame they then are.
[[gnu::naked, gnu::noinline]] void* new_sited(std::size_t)
{
    asm("movq (%rsp), %rsi\n\t"
        "leaq 8(%rsp), %rdx\n\t"
        "movq %rbp, %rcx\n\t"
        "jmp memtrack_new_sited_at");
}

}  // namespace

void* new_slow(std::size_t size)
{
    if (sited_path()) [[likely]]
        return new_sited(size);
    void* p = alloc_slow(size, false);
    if (p != nullptr) [[likely]]
        return p;
    return new_retry_slow(size, 0, false);
}

void* new_retry_slow(std::size_t size, std::size_t align, bool nothrow)
{
    for (;;) {
        std::new_handler handler = std::get_new_handler();
        if (handler == nullptr) {
            if (nothrow) return nullptr;
            throw std::bad_alloc();
        }
        if (nothrow) {
            try {
                handler();
            } catch (...) {
                return nullptr;
            }
        } else {
            handler();
        }
        void* p = align > 16 ? alloc_aligned(size, align, false) : alloc(size);
        if (p != nullptr) return p;
    }
}

}  // namespace memtrack::detail
