// Every exported allocation symbol: one short noexcept forwarder per symbol to the core, no
// state, no parsing, no I/O (STYLE.md). The set covers glibc's allocator API, the C++
// operators, and every non-mi_ symbol Debian's libmimalloc.so exports (tests check this), so
// that no allocation reaches mimalloc's own overrides uncounted. Exported through exports.map.
#include "core/block.hpp"
#include "runtime/dlclose.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <new>
#include <unistd.h>

#define MT_EXPORT extern "C" __attribute__((visibility("default")))
#define MT_EXPORT_CXX __attribute__((visibility("default")))

namespace md = memtrack::detail;

namespace {

bool mul_overflows(std::size_t a, std::size_t b, std::size_t* out) noexcept
{
    return __builtin_mul_overflow(a, b, out);
}

std::size_t page_size() noexcept
{
    static std::size_t cached = 0;  // getpagesize() reads the auxv: no syscall
    if (cached == 0) cached = static_cast<std::size_t>(getpagesize());
    return cached;
}

void* calloc_impl(std::size_t n, std::size_t size) noexcept
{
    std::size_t total = 0;
    if (mul_overflows(n, size, &total)) [[unlikely]]
        return md::alloc_failed();
    return md::alloc_zeroed(total);
}

void* reallocarray_impl(void* p, std::size_t n, std::size_t size) noexcept
{
    std::size_t total = 0;
    if (mul_overflows(n, size, &total)) [[unlikely]]
        return md::alloc_failed();
    return md::reallocate(p, total);
}

int posix_memalign_impl(void** out, std::size_t align, std::size_t size) noexcept
{
    // POSIX: a power of two multiple of sizeof(void*), else EINVAL and *out untouched.
    if (align % sizeof(void*) != 0 || (align & (align - 1)) != 0 || align == 0) return EINVAL;
    const int saved = errno;
    void* p = md::alloc_aligned(size, align, false);
    if (p == nullptr) {
        errno = saved;
        return ENOMEM;
    }
    *out = p;
    return 0;
}

void* valloc_impl(std::size_t size) noexcept
{
    return md::alloc_memalign(page_size(), size);
}

void* pvalloc_impl(std::size_t size) noexcept
{
    const std::size_t page = page_size();
    if (size > SIZE_MAX - page) return md::alloc_failed();
    return md::alloc_memalign(page, (size + page - 1) & ~(page - 1));
}

// operator new's failure path: call the new_handler until it gives up (throws or is unset).
[[gnu::noinline, gnu::cold]] void* new_retry(std::size_t size, std::size_t align, bool nothrow)
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
        void* p = align > 16 ? md::alloc_aligned(size, align, false) : md::alloc(size);
        if (p != nullptr) return p;
    }
}

inline void* new_impl(std::size_t size)
{
    void* p = md::alloc(size);
    if (p != nullptr) [[likely]]
        return p;
    return new_retry(size, 0, false);
}

inline void* new_nothrow_impl(std::size_t size) noexcept
{
    void* p = md::alloc(size);
    if (p != nullptr) [[likely]]
        return p;
    try {
        return new_retry(size, 0, true);
    } catch (...) {
        return nullptr;
    }
}

inline void* new_aligned_impl(std::size_t size, std::align_val_t al)
{
    const auto align = static_cast<std::size_t>(al);
    void* p = md::alloc_aligned(size, align, false);
    if (p != nullptr) [[likely]]
        return p;
    return new_retry(size, align, false);
}

inline void* new_aligned_nothrow_impl(std::size_t size, std::align_val_t al) noexcept
{
    const auto align = static_cast<std::size_t>(al);
    void* p = md::alloc_aligned(size, align, false);
    if (p != nullptr) [[likely]]
        return p;
    try {
        return new_retry(size, align, true);
    } catch (...) {
        return nullptr;
    }
}

}  // namespace

// ---- C: glibc's allocator API ----------------------------------------------------------------
MT_EXPORT void* malloc(std::size_t size) noexcept
{
    return md::alloc(size);
}
MT_EXPORT void free(void* p) noexcept
{
    md::release(p);
}
MT_EXPORT void* calloc(std::size_t n, std::size_t size) noexcept
{
    return calloc_impl(n, size);
}
MT_EXPORT void* realloc(void* p, std::size_t size) noexcept
{
    return md::reallocate(p, size);
}
MT_EXPORT void* reallocarray(void* p, std::size_t n, std::size_t size) noexcept
{
    return reallocarray_impl(p, n, size);
}
MT_EXPORT void* memalign(std::size_t align, std::size_t size) noexcept
{
    return md::alloc_memalign(align, size);
}
MT_EXPORT int posix_memalign(void** out, std::size_t align, std::size_t size) noexcept
{
    return posix_memalign_impl(out, align, size);
}
// glibc 2.36 (Debian 12): aligned_alloc is memalign (no power-of-two check).
MT_EXPORT void* aligned_alloc(std::size_t align, std::size_t size) noexcept
{
    return md::alloc_memalign(align, size);
}
MT_EXPORT void* valloc(std::size_t size) noexcept
{
    return valloc_impl(size);
}
MT_EXPORT void* pvalloc(std::size_t size) noexcept
{
    return pvalloc_impl(size);
}
MT_EXPORT std::size_t malloc_usable_size(void* p) noexcept
{
    return md::usable_size(p);
}

// ---- glibc's internal names (some programs and libraries call them directly) ---------------
MT_EXPORT void* __libc_malloc(std::size_t size) noexcept
{
    return md::alloc(size);
}
MT_EXPORT void __libc_free(void* p) noexcept
{
    md::release(p);
}
MT_EXPORT void __libc_cfree(void* p) noexcept
{
    md::release(p);
}
MT_EXPORT void* __libc_calloc(std::size_t n, std::size_t size) noexcept
{
    return calloc_impl(n, size);
}
MT_EXPORT void* __libc_realloc(void* p, std::size_t size) noexcept
{
    return md::reallocate(p, size);
}
MT_EXPORT void* __libc_memalign(std::size_t align, std::size_t size) noexcept
{
    return md::alloc_memalign(align, size);
}
MT_EXPORT void* __libc_valloc(std::size_t size) noexcept
{
    return valloc_impl(size);
}
MT_EXPORT void* __libc_pvalloc(std::size_t size) noexcept
{
    return pvalloc_impl(size);
}
MT_EXPORT int __posix_memalign(void** out, std::size_t align, std::size_t size) noexcept
{
    return posix_memalign_impl(out, align, size);
}

// ---- other platforms' names that libmimalloc.so also exports ---------------------------------
MT_EXPORT void cfree(void* p) noexcept
{
    md::release(p);
}
MT_EXPORT void vfree(void* p) noexcept
{
    md::release(p);
}
MT_EXPORT void* _aligned_malloc(std::size_t size, std::size_t align) noexcept
{
    return md::alloc_memalign(align, size);
}
MT_EXPORT std::size_t malloc_size(const void* p) noexcept
{
    return md::usable_size(const_cast<void*>(p));
}
MT_EXPORT std::size_t malloc_good_size(std::size_t size) noexcept
{
    if (size > md::kMaxRequest) return size;
    return mi_good_size(md::gross_size(size)) - md::kHeaderSize;
}
// BSD: like realloc, but frees p when it fails (realloc(p, 0) already freed it).
MT_EXPORT void* reallocf(void* p, std::size_t size) noexcept
{
    void* q = md::reallocate(p, size);
    if (q == nullptr && p != nullptr && size != 0) md::release(p);
    return q;
}
// NetBSD: *(void**)p = realloc(*(void**)p, n * size); returns 0 or an errno value.
MT_EXPORT int reallocarr(void* p, std::size_t n, std::size_t size) noexcept
{
    if (p == nullptr) return EINVAL;
    void** slot = static_cast<void**>(p);
    std::size_t total = 0;
    if (mul_overflows(n, size, &total)) return EOVERFLOW;
    if (total == 0) {
        md::release(*slot);
        *slot = nullptr;
        return 0;
    }
    const int saved = errno;
    void* q = md::reallocate(*slot, total);
    if (q == nullptr) {
        errno = saved;
        return ENOMEM;
    }
    *slot = q;
    return 0;
}

// ---- C++ operators: plain, array, nothrow, sized, aligned and their combinations -----------
MT_EXPORT_CXX void* operator new(std::size_t size)
{
    return new_impl(size);
}
MT_EXPORT_CXX void* operator new[](std::size_t size)
{
    return new_impl(size);
}
MT_EXPORT_CXX void* operator new(std::size_t size, const std::nothrow_t&) noexcept
{
    return new_nothrow_impl(size);
}
MT_EXPORT_CXX void* operator new[](std::size_t size, const std::nothrow_t&) noexcept
{
    return new_nothrow_impl(size);
}
MT_EXPORT_CXX void* operator new(std::size_t size, std::align_val_t al)
{
    return new_aligned_impl(size, al);
}
MT_EXPORT_CXX void* operator new[](std::size_t size, std::align_val_t al)
{
    return new_aligned_impl(size, al);
}
MT_EXPORT_CXX void* operator new(std::size_t size, std::align_val_t al,
                                 const std::nothrow_t&) noexcept
{
    return new_aligned_nothrow_impl(size, al);
}
MT_EXPORT_CXX void* operator new[](std::size_t size, std::align_val_t al,
                                   const std::nothrow_t&) noexcept
{
    return new_aligned_nothrow_impl(size, al);
}

MT_EXPORT_CXX void operator delete(void* p) noexcept
{
    md::release(p);
}
MT_EXPORT_CXX void operator delete[](void* p) noexcept
{
    md::release(p);
}
MT_EXPORT_CXX void operator delete(void* p, const std::nothrow_t&) noexcept
{
    md::release(p);
}
MT_EXPORT_CXX void operator delete[](void* p, const std::nothrow_t&) noexcept
{
    md::release(p);
}
MT_EXPORT_CXX void operator delete(void* p, std::size_t) noexcept
{
    md::release(p);
}
MT_EXPORT_CXX void operator delete[](void* p, std::size_t) noexcept
{
    md::release(p);
}
MT_EXPORT_CXX void operator delete(void* p, std::align_val_t) noexcept
{
    md::release(p);
}
MT_EXPORT_CXX void operator delete[](void* p, std::align_val_t) noexcept
{
    md::release(p);
}
MT_EXPORT_CXX void operator delete(void* p, std::size_t, std::align_val_t) noexcept
{
    md::release(p);
}
MT_EXPORT_CXX void operator delete[](void* p, std::size_t, std::align_val_t) noexcept
{
    md::release(p);
}
MT_EXPORT_CXX void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept
{
    md::release(p);
}
MT_EXPORT_CXX void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept
{
    md::release(p);
}

// dlclose: module records outlive the unload, so leak stacks in unloaded libraries are still
// symbolized (stack/dlclose.cpp).
MT_EXPORT int dlclose(void* handle) noexcept
{
    return md::dlclose_tracked(handle);
}
