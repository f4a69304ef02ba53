// Atomic, no-clobber file creation for reports (cold path; syscalls; no allocation).
#pragma once

#include <cstddef>
#include <string_view>

namespace memtrack::detail {

// Writes `data` to `path` atomically: a temporary file in the same directory, then a rename
// that never replaces an existing file or symlink. If `path` is taken, "NAME.1.json",
// "NAME.2.json", ... (suffix before the extension) up to .999. On success copies the final
// path into final_path and returns 0; otherwise returns an errno value and removes the
// temporary file.
int write_report_file(const char* path, std::string_view data, char* final_path,
                      std::size_t final_size) noexcept;
// The same, replacing `path` (a checkpoint memtrack wrote): the rename replaces a file or a
// symlink there, never writes through it. Async-signal-safe (no allocation).
int replace_report_file(const char* path, std::string_view data, char* final_path,
                        std::size_t final_size) noexcept;

}  // namespace memtrack::detail
