// A small library for test_symbolize.cpp to dlopen and dlclose: one function whose call site
// (file and line) the test knows. Built with -g; no state.
#include <cstdint>

namespace {

[[gnu::noinline, gnu::noclone]] std::uintptr_t testlib_return_address()
{
    return reinterpret_cast<std::uintptr_t>(
        __builtin_extract_return_addr(__builtin_return_address(0)));
}

}  // namespace

// Returns a return address inside this function and the line of the call that produced it.
extern "C" [[gnu::noinline, gnu::visibility("default")]] std::uintptr_t
memtrack_testlib_return_address(int* line)
{
    *line = __LINE__ + 1;
    const std::uintptr_t pc = testlib_return_address();
    asm volatile("" : : "r"(pc) : "memory");  // keeps the call from becoming a tail jump
    return pc;
}
