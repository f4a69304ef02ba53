// Symbolization of a signal report's raw stack (see crash_stack.hpp), with libdw's offline
// Dwfl: each module file reported once at its own link-time addresses, an address being the
// module's bias plus the frame's offset.
#include "crash_stack.hpp"

#include <cxxabi.h>
#include <elfutils/libdwfl.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>

namespace memtrack::launcher {

namespace {

std::string demangled(const char* name)
{
    int status = 0;
    std::unique_ptr<char, decltype(&std::free)> d(
        abi::__cxa_demangle(name, nullptr, nullptr, &status), &std::free);
    return status == 0 && d ? std::string(d.get()) : std::string(name);
}

}  // namespace

void symbolize_crash_stack(std::vector<memtrack::detail::ReportFrame>& frames)
{
    if (frames.empty()) return;
    static const Dwfl_Callbacks callbacks = {
        dwfl_build_id_find_elf, dwfl_standard_find_debuginfo, dwfl_offline_section_address,
        nullptr};
    std::unique_ptr<Dwfl, decltype(&dwfl_end)> dwfl(dwfl_begin(&callbacks), &dwfl_end);
    if (!dwfl) return;
    std::map<std::string, Dwfl_Module*> modules;
    for (const auto& f : frames)
        if (!f.module.empty() && !modules.contains(f.module))
            modules[f.module] =
                dwfl_report_offline(dwfl.get(), f.module.c_str(), f.module.c_str(), -1);
    dwfl_report_end(dwfl.get(), nullptr, nullptr);
    for (std::size_t i = 0; i < frames.size(); ++i) {
        auto& f = frames[i];
        if (f.module.empty() || !f.function.empty()) continue;
        Dwfl_Module* mod = modules[f.module];
        if (mod == nullptr) continue;
        Dwarf_Addr bias = 0;
        if (dwfl_module_getelf(mod, &bias) == nullptr) continue;
        const Dwarf_Addr at = bias + f.offset - (i > 0 && f.offset > 0 ? 1 : 0);
        if (const char* name = dwfl_module_addrname(mod, at); name != nullptr)
            f.function = demangled(name);
        if (Dwfl_Line* line = dwfl_module_getsrc(mod, at); line != nullptr) {
            int lineno = 0;
            if (const char* file = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr);
                file != nullptr) {
                f.file = file;
                f.line = lineno;
            }
        }
    }
}

}  // namespace memtrack::launcher
