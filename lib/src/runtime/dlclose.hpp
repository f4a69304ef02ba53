// dlclose through memtrack: module records survive the unload (stack/modules.hpp). Cold path.
#pragma once

namespace memtrack::detail {

// dlclose(handle) with the module table updated around it. Thread-safe.
int dlclose_tracked(void* handle) noexcept;

}  // namespace memtrack::detail
