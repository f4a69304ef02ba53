// Symbolization of recorded stacks: function (demangled) from the module's symbol table, and
// with elfutils libdw, for modules with DWARF, source file, line and inlined frames. Report time
// only (cold path, allocates under the Guard, never with the world stopped). Not thread-safe:
// one Symbolizer per report.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace memtrack::detail {

struct SymbolFrame {
    std::uintptr_t pc = 0;             // the return address as recorded (an inlined frame and the
                                       // frame it was inlined into share it)
    std::string function;              // demangled; empty if unknown
    std::string file;                  // source file, empty if no line info
    int line = 0;                      // 0 if unknown
    std::string module;                // module path, empty if pc is in no known module
    std::uintptr_t module_offset = 0;  // pc - module bias (what addr2line takes)
    bool inlined = false;              // true: this function was inlined into the next frame
};

// MEMTRACK_DEBUGINFOD=1: lines from every debug file: separate ones (/usr/lib/debug), and
// what debuginfod servers (DEBUGINFOD_URLS) have for modules with none locally. Off by
// default: a query loads libdebuginfod and libcurl and opens connections, and libdw inflates
// a compressed debug file whole. Set once at start-up; any thread.
void set_debuginfod(bool on) noexcept;

class Symbolizer {
public:
    Symbolizer();
    ~Symbolizer();
    Symbolizer(const Symbolizer&) = delete;
    Symbolizer& operator=(const Symbolizer&) = delete;

    // Frames for one return address of a stack captured at `epoch` (modules.hpp): the inlined
    // frames innermost first, then the physical frame. At least one frame, even for an unknown
    // pc (module + offset, or just the address; none only if the constructor ran out of memory).
    // Results are cached per (pc, module); the reference stays valid until the Symbolizer is
    // destroyed (if symbolizing failed, out of memory: a bare-address frame valid until the next
    // call). Never throws. Names come from the module file's .symtab (or its separate debug
    // file's, found locally, or .dynsym); libdw.so.1 is dlopen()ed (once per process), for
    // files, lines and inlined frames, only for a pc in a module with DWARF in the file itself,
    // or in any module with set_debuginfod(true) (then separate debug files' DWARF is read too,
    // and debuginfod asked), and never for the C library's start-up frames (_start,
    // __libc_start_main, start_thread, clone3, ...). Without libdw or a readable file, frames
    // carry module + offset and the dladdr() name of a module still loaded.
    const std::vector<SymbolFrame>& frames(std::uintptr_t pc, std::uint32_t epoch);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace memtrack::detail
