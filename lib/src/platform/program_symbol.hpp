// Functions a program defines for its tools by convention (LeakSanitizer's
// __lsan_is_turned_off, __lsan_default_suppressions, __lsan_default_options), found by name.
// Cold path, start-up or exit; no heap allocation (mmap of the executable, then munmap); not
// async-signal-safe.
#pragma once

namespace memtrack::detail {

// The address of `name` as the program defines it: dlsym(RTLD_DEFAULT) first (any module's
// exported symbol, e.g. a program linked against libmemtrack.so or built with -rdynamic), else
// the main executable's own symbol table (.symtab of /proc/self/exe, load bias added): a
// program built without -rdynamic and run under LD_PRELOAD exports nothing, yet its
// definitions are there unless it was stripped. nullptr when neither has it.
void* program_symbol(const char* name) noexcept;

}  // namespace memtrack::detail
