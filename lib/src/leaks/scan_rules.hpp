// Interior pointers the scan counts as references (issue 10): C++ and C layouts in which the
// only pointer a program keeps to a live block is not its start. Cold path, with the world
// stopped: reads block contents and module images through platform/safe_read.hpp, allocates
// nothing but scratch memory.
//
// The scan's base rule (scan.hpp) is memcheck's: a word equal to a block's start reaches it, a
// word inside it only "possibly". LeakSanitizer counts every interior pointer as a reference;
// memcheck counts some through its heuristics (--leak-check-heuristics, all by default since
// valgrind 3.11, after Dr. Memory's). memtrack takes these layouts as references, each checked
// against the block's own contents, so that a pointer into the middle of a plain buffer stays
// "possible":
//
// - Tagged: a word whose value, with its low 3 bits cleared, is a block's start. Blocks start
//   16-byte aligned, so a program that keeps flags in the bits an 8-byte-aligned pointer leaves
//   free holds start + 1..7: glibc's tsearch (and so setenv's tree) keeps a node's red/black
//   colour in bit 0 of its left-child word, LLVM's PointerIntPair and lock-free lists' mark
//   bits do the same. Offsets of 8 and more are field addresses, not tags. The block may be
//   smaller than the offset (start + 1..7 is never inside another block: headers lie between).
//   Decided in the lookup itself (no memory read), so tagged pointers are edges everywhere.
// - Array cookie (memcheck's newarray, and its length64, which it subsumes): new T[n] of a
//   type with a destructor returns start + c, where c = max(8, alignof(T)) and the 8 bytes
//   just below the returned pointer hold n (Itanium C++ ABI, 2.7). Taken when c is a power of
//   two from 8 to 4096, the block start is c-aligned, the word at start + c - 8 is n >= 1 and
//   the rest of the block, size - c > 0, is a whole number of n elements.
// - Secondary base (memcheck's multipleinheritance): a pointer to a non-first polymorphic base
//   of a multiply inherited object points at that base's vtable pointer, d bytes into the
//   block. Taken when the word there, and the block's first word, are vtable pointers of this
//   object: each points into a readable file mapping (a module image) just past an
//   offset-to-top entry equal to -d (0 for the first word) and an RTTI entry (null, or in a
//   readable file mapping), at a first slot that is null or points into an executable file
//   mapping. The offset-to-top check is stricter than memcheck's (which asks for two code
//   pointers among the first 20 slots) and also holds for a base with one virtual function.
// - Old std::string (memcheck's stdstring): libstdc++'s reference-counted string of the old
//   ABI (_GLIBCXX_USE_CXX11_ABI=0) holds start + 24, past {length, capacity, refcount}; taken
//   when the block is exactly 24 + capacity + 1 bytes and length <= capacity.
#pragma once

#include "platform/maps.hpp"
#include "platform/scratch.hpp"

#include <cstdint>

namespace memtrack::detail {

enum class InteriorRule : std::uint8_t { None = 0, ArrayCookie, SecondaryBase, OldString };

// Tagged pointers are decided by the block lookup: whether `w` is `user` with tag bits set.
inline bool tagged_start(std::uintptr_t w, std::uintptr_t user) noexcept
{
    return w != user && (w & ~std::uintptr_t{7}) == user;
}

// The readable file mappings of the process (module images), for the vtable checks. Built from
// a maps listing in address order; not thread-safe (one scan at a time).
class ModuleImages {
public:
    void build(const ScratchVector<Mapping>& maps) noexcept;
    // Whether [a, a + n) lies in one readable file mapping; `exec`: also executable.
    bool holds(std::uintptr_t a, std::uintptr_t n, bool exec = false) const noexcept;

private:
    ScratchVector<Mapping> images_;
    std::uintptr_t lo_ = 0, hi_ = 0;
};

// Which rule makes `w`, a word pointing inside the live block [user, user + size) but not at
// its start, a reference (None: it is only a possible one). Reads the block's first words and,
// for vtable checks, the images.
InteriorRule interior_rule(std::uintptr_t w, std::uintptr_t user, std::uint64_t size,
                           const ModuleImages& images) noexcept;

}  // namespace memtrack::detail
