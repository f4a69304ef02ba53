// The interior-pointer rules (see scan_rules.hpp).
#include "leaks/scan_rules.hpp"

#include "platform/safe_read.hpp"

#include <algorithm>

namespace memtrack::detail {

namespace {

constexpr std::uintptr_t kWord = 8;

// new T[n]: start + c with c = max(8, alignof(T)), n in the word below it (Itanium ABI 2.7).
bool array_cookie(std::uintptr_t user, std::uint64_t size, std::uint64_t c) noexcept
{
    if (c < kWord || c > 4096 || (c & (c - 1)) != 0 || (user & (c - 1)) != 0) return false;
    if (size <= c) return false;  // new T[0] (size == c) is the lookup's special case
    std::uint64_t n = 0;
    if (!load64(user + c - kWord, n) || n == 0) return false;
    return (size - c) % n == 0;
}

// libstdc++'s old-ABI string: {length, capacity, refcount} then capacity + 1 chars.
bool old_string(std::uintptr_t user, std::uint64_t size, std::uint64_t d) noexcept
{
    if (d != 3 * kWord || size < 3 * kWord + 1) return false;
    std::uint64_t length = 0, capacity = 0;
    if (!load64(user + kWord, capacity) || capacity != size - 3 * kWord - 1) return false;
    return load64(user, length) && length <= capacity;
}

// Whether `v` is a vtable pointer whose offset-to-top is `offset_to_top`: the address point of
// a vtable in a module image, {offset-to-top, RTTI} below it, a first slot that is code.
bool vtable_pointer(std::uint64_t v, std::int64_t offset_to_top,
                    const ModuleImages& images) noexcept
{
    if ((v & (kWord - 1)) != 0 || v < 2 * kWord) return false;
    if (!images.holds(v - 2 * kWord, 3 * kWord)) return false;
    std::uint64_t top = 0, rtti = 0, slot = 0;
    if (!load64(v - 2 * kWord, top) || static_cast<std::int64_t>(top) != offset_to_top)
        return false;
    if (!load64(v - kWord, rtti) || (rtti != 0 && !images.holds(rtti, kWord))) return false;
    if (!load64(v, slot)) return false;
    return slot == 0 || images.holds(slot, 1, true);
}

bool secondary_base(std::uintptr_t w, std::uintptr_t user, std::uint64_t size,
                    const ModuleImages& images) noexcept
{
    const std::uint64_t d = w - user;
    if ((w & (kWord - 1)) != 0 || d < kWord || d + kWord > size) return false;
    std::uint64_t v = 0, first = 0;
    if (!load64(w, v) || !load64(user, first)) return false;
    return vtable_pointer(v, -static_cast<std::int64_t>(d), images) &&
           vtable_pointer(first, 0, images);
}

}  // namespace

void ModuleImages::build(const ScratchVector<Mapping>& maps) noexcept
{
    images_.clear();
    for (const Mapping& m : maps) {
        if (!m.file || !m.readable || m.special) continue;
        if (!images_.empty() && images_.back().end == m.start &&
            images_.back().executable == m.executable) {
            images_.back().end = m.end;  // adjacent, same kind: one range
            continue;
        }
        images_.push_back(m);
    }
    lo_ = images_.empty() ? 0 : images_[0].start;
    hi_ = images_.empty() ? 0 : images_[images_.size() - 1].end;
}

bool ModuleImages::holds(std::uintptr_t a, std::uintptr_t n, bool exec) const noexcept
{
    if (a < lo_ || a >= hi_ || n > hi_ - a) return false;
    const Mapping* m =
        std::upper_bound(images_.begin(), images_.end(), a,
                         [](std::uintptr_t v, const Mapping& x) { return v < x.start; });
    if (m == images_.begin()) return false;
    --m;
    return a - m->start < m->end - m->start && n <= m->end - a && (!exec || m->executable);
}

InteriorRule interior_rule(std::uintptr_t w, std::uintptr_t user, std::uint64_t size,
                           const ModuleImages& images) noexcept
{
    // The strictest checks first: a secondary base 16 bytes in, after a first base whose one
    // field holds 1, also passes the array-cookie check (n = 1).
    const std::uint64_t d = w - user;
    if (secondary_base(w, user, size, images)) return InteriorRule::SecondaryBase;
    if (old_string(user, size, d)) return InteriorRule::OldString;
    if (array_cookie(user, size, d)) return InteriorRule::ArrayCookie;
    return InteriorRule::None;
}

}  // namespace memtrack::detail
