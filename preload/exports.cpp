// Every exported allocation symbol: one short noexcept forwarder per row of exports.def to the
// core (core/entry_points.hpp holds the allocator API's semantics), no state, no parsing, no
// I/O (STYLE.md). The throwing operator new forms are the only ones not noexcept.
#include "core/entry_points.hpp"
#include "runtime/dlclose.hpp"
#include "runtime/ends.hpp"
#include "runtime/lsan.hpp"
#include "runtime/signals.hpp"

#include <cstddef>
#include <new>

namespace md = memtrack::detail;

#define MEMTRACK_EXPORT_C(name, ret, params, call)                                                 \
    extern "C" __attribute__((visibility("default"))) ret name params noexcept                     \
    {                                                                                              \
        return call;                                                                               \
    }
#define MEMTRACK_EXPORT_C_NORETURN(name, params, call)                                             \
    extern "C" __attribute__((visibility("default"), noreturn)) void name params noexcept          \
    {                                                                                              \
        call;                                                                                      \
    }
#define MEMTRACK_EXPORT_CXX(mangled, ret, op, params, call)                                        \
    __attribute__((visibility("default"))) ret op params noexcept                                  \
    {                                                                                              \
        return call;                                                                               \
    }
#define MEMTRACK_EXPORT_CXX_THROWING(mangled, ret, op, params, call)                               \
    __attribute__((visibility("default"))) ret op params                                           \
    {                                                                                              \
        return call;                                                                               \
    }
#define MEMTRACK_EXPORT_PATTERN(glob)
#define MEMTRACK_EXPORT_ELSEWHERE(name)

#include "exports.def"
