// Symbolizer (symbolize.hpp): return address -> inlined frames, function, file, line, module.
// Function names come from the module's own symbol table (elf_image.hpp); elfutils libdw, never
// linked, is dlopen()ed only for a module that has DWARF, for file, line and inlined frames.
// Report time only; allocates under the Guard; never throws out or prints; without libdw it
// degrades to the symbol table's names, then to module + offset.
#include "stack/symbolize.hpp"

#include "platform/hex.hpp"
#include "stack/elf_image.hpp"
#include "stack/modules.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>

namespace memtrack::detail {
namespace {

// Every libdw function used here, resolved with dlsym(): a tracked process maps elfutils (and
// its compression libraries) only if a report needs symbols.
#define MEMTRACK_LIBDW_FUNCTIONS(X)                                                                \
    X(dwfl_begin)                                                                                  \
    X(dwfl_end)                                                                                    \
    X(dwfl_report_begin)                                                                           \
    X(dwfl_report_elf)                                                                             \
    X(dwfl_report_end)                                                                             \
    X(dwfl_build_id_find_elf)                                                                      \
    X(dwfl_build_id_find_debuginfo)                                                                \
    X(dwfl_standard_find_debuginfo)                                                                \
    X(dwfl_offline_section_address)                                                                \
    X(dwfl_module_build_id)                                                                        \
    X(dwfl_module_addrinfo)                                                                        \
    X(dwfl_module_getsymtab)                                                                       \
    X(dwfl_module_getsym_info)                                                                     \
    X(dwfl_module_getsrc)                                                                          \
    X(dwfl_lineinfo)                                                                               \
    X(dwfl_module_addrdie)                                                                         \
    X(dwarf_child)                                                                                 \
    X(dwarf_siblingof)                                                                             \
    X(dwarf_haschildren)                                                                           \
    X(dwarf_ranges)                                                                                \
    X(dwarf_formref_die)                                                                           \
    X(dwarf_tag)                                                                                   \
    X(dwarf_diecu)                                                                                 \
    X(dwarf_getsrcfiles)                                                                           \
    X(dwarf_filesrc)                                                                               \
    X(dwarf_attr)                                                                                  \
    X(dwarf_attr_integrate)                                                                        \
    X(dwarf_formudata)                                                                             \
    X(dwarf_formstring)

struct LibDw {
#define MEMTRACK_LIBDW_MEMBER(name) decltype(&::name) name = nullptr;
    MEMTRACK_LIBDW_FUNCTIONS(MEMTRACK_LIBDW_MEMBER)
#undef MEMTRACK_LIBDW_MEMBER
    Dwfl_Callbacks callbacks{};  // must outlive every Dwfl: lives as long as the process
};

constinit std::mutex g_libdw_mutex;
constinit bool g_libdw_tried = false;  // guarded by g_libdw_mutex
constinit LibDw* g_libdw = nullptr;    // set once, never freed; null if libdw is unavailable
constinit std::atomic<bool> g_debuginfod{false};  // MEMTRACK_DEBUGINFOD (set_debuginfod)

// libdwfl's find_debuginfo callback. dwfl_standard_find_debuginfo ends, when nothing local was
// found, in a debuginfod query (libdebuginfod, libcurl and some 20 more libraries loaded, and
// TCP connections if DEBUGINFOD_URLS is set, as Debian's login shells set it): only with
// MEMTRACK_DEBUGINFOD=1. Otherwise the local part: by build id under the default debuginfo
// path, then by the debuglink name (the places open_debug_file() looks).
int find_debuginfo(Dwfl_Module* mod, void** userdata, const char* modname, GElf_Addr base,
                   const char* file_name, const char* debuglink_file, GElf_Word debuglink_crc,
                   char** debuginfo_file_name)
{
    const LibDw* dw = g_libdw;
    if (g_debuginfod.load(std::memory_order_relaxed))
        return dw->dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name,
                                                debuglink_file, debuglink_crc, debuginfo_file_name);
    const int fd =
        dw->dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                         debuglink_crc, debuginfo_file_name);
    if (fd >= 0 || file_name == nullptr) return fd;
    try {
        std::string found;
        if (debuglink_file != nullptr && std::strchr(debuglink_file, '/') != nullptr) {
            // dwz's alternate file, named by a path (absolute, or from the debug file's folder).
            std::string candidate = debuglink_file;
            if (candidate[0] != '/') {
                const char* slash = std::strrchr(file_name, '/');
                candidate = (slash == nullptr ? std::string(".") : std::string(file_name, slash)) +
                            "/" + candidate;
            }
            if (::access(candidate.c_str(), R_OK) == 0) found = candidate;
        } else if (auto image = ElfImage::open(file_name)) {
            if (auto debug = open_debug_file(file_name, *image)) found = debug->path();
        }
        if (found.empty()) return -1;
        char* name = ::strdup(found.c_str());
        if (name == nullptr) return -1;
        const int opened = ::open(found.c_str(), O_RDONLY | O_CLOEXEC);
        if (opened < 0) {
            std::free(name);
            return -1;
        }
        *debuginfo_file_name = name;  // libdwfl frees it
        return opened;
    } catch (...) {
        return -1;
    }
}

// dlopen() once per process; the handle is never closed (unloading elfutils while a later
// report may want it gains nothing). Failures clear dlerror() so the host never sees ours.
const LibDw* load_libdw() noexcept
{
    std::lock_guard<std::mutex> lock(g_libdw_mutex);
    if (g_libdw_tried) return g_libdw;
    g_libdw_tried = true;
    void* handle = ::dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        ::dlerror();
        return nullptr;
    }
    auto* lib = new (std::nothrow) LibDw;
    if (lib == nullptr) return nullptr;
    bool ok = true;
#define MEMTRACK_LIBDW_RESOLVE(name)                                                               \
    {                                                                                              \
        void* sym = ::dlsym(handle, #name);                                                        \
        static_assert(sizeof sym == sizeof lib->name);                                             \
        std::memcpy(&lib->name, &sym, sizeof sym);                                                 \
        ok = ok && sym != nullptr;                                                                 \
    }
    MEMTRACK_LIBDW_FUNCTIONS(MEMTRACK_LIBDW_RESOLVE)
#undef MEMTRACK_LIBDW_RESOLVE
    if (!ok) {
        ::dlerror();
        delete lib;
        return nullptr;
    }
    // debuginfo_path null: the default ":.debug:/usr/lib/debug", which includes .build-id/.
    lib->callbacks.find_elf = lib->dwfl_build_id_find_elf;
    lib->callbacks.find_debuginfo = find_debuginfo;
    lib->callbacks.section_address = lib->dwfl_offline_section_address;
    g_libdw = lib;
    return lib;
}

struct FreeDeleter {
    void operator()(void* p) const noexcept { std::free(p); }
};

std::string demangle(const char* name)
{
    if (name == nullptr) return {};
    if (name[0] == '_' && name[1] == 'Z') {
        int status = 0;
        std::unique_ptr<char, FreeDeleter> out(
            abi::__cxa_demangle(name, nullptr, nullptr, &status));
        if (out && status == 0) return std::string(out.get());
    }
    return name;
}

// A symbol table name without its version ("__libc_start_main@@GLIBC_2.34" in libc's debug
// symbols), as addr2line and gdb show it; mangled names never contain '@'.
std::string symbol_name(const char* name)
{
    if (name == nullptr) return {};
    const char* at = std::strchr(name, '@');
    if (at == nullptr || at == name) return demangle(name);
    return demangle(std::string(name, at).c_str());
}

std::string hex_of(const unsigned char* bytes, int size)
{
    std::string hex;
    append_hex(hex, bytes, static_cast<std::size_t>(size));
    return hex;
}

// Name of a subprogram or inlined subroutine: the linkage name demangled if there is one
// (qualified, with parameters, like a symbol), else DW_AT_name; abstract origins followed.
std::string die_name(const LibDw& dw, Dwarf_Die* die)
{
    Dwarf_Attribute attr;
    for (int at : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name})
        if (dw.dwarf_attr_integrate(die, at, &attr) != nullptr)
            if (const char* s = dw.dwarf_formstring(&attr)) return demangle(s);
    if (dw.dwarf_attr_integrate(die, DW_AT_name, &attr) != nullptr)
        if (const char* s = dw.dwarf_formstring(&attr)) return s;
    return {};
}

bool udata_attr(const LibDw& dw, Dwarf_Die* die, unsigned name, Dwarf_Word& out)
{
    Dwarf_Attribute attr;
    return dw.dwarf_attr(die, name, &attr) != nullptr && dw.dwarf_formudata(&attr, &out) == 0;
}

// The dladdr() name of addr, only if the loaded object there is the record's module (same
// bias and name): never a name from a library mapped later at the same place.
std::string dladdr_name(std::uintptr_t addr, const ModuleRecord& rec)
{
    Dl_info info{};
    link_map* map = nullptr;
    if (::dladdr1(reinterpret_cast<void*>(addr), &info, reinterpret_cast<void**>(&map),
                  RTLD_DL_LINKMAP) == 0 ||
        map == nullptr || info.dli_sname == nullptr || map->l_addr != rec.bias)
        return {};
    const bool same = map->l_name == nullptr || map->l_name[0] == '\0' || rec.path == map->l_name;
    return same ? demangle(info.dli_sname) : std::string();
}

struct CacheKey {
    std::uintptr_t pc;
    const ModuleRecord* module;
    bool operator==(const CacheKey&) const = default;
};

struct CacheKeyHash {
    std::size_t operator()(const CacheKey& k) const noexcept
    {
        return std::hash<std::uintptr_t>()(k.pc) ^
               (std::hash<const void*>()(k.module) *
                static_cast<std::size_t>(0x9e3779b97f4a7c15ULL));
    }
};

// Function scopes of one CU, indexed once. dwarf_getscopes() and dwarf_getscopes_die() walk the
// whole CU from its first DIE on every call (83% of the time in a 1000-pc profile of a
// template-heavy C++ binary); this walks it once and answers each lookup with binary searches.
// Nodes are the DIEs with code (subprogram, inlined subroutine, entry point); each lists the
// ranges of the nodes directly inside it, sorted by start, with a running maximum of the ends so
// that even overlapping ranges (bad DWARF) are found. The result is the chain elfutils' addr2line
// -i builds: innermost scope first, up to the enclosing subprogram.
class ScopeIndex {
public:
    void build(const LibDw& dw, Dwarf_Die* cudie)
    {
        lists_.emplace_back();  // list 0: the CU's top level
        walk(dw, cudie, -1, 0);
        for (auto& list : lists_) {
            std::sort(list.begin(), list.end(),
                      [](const Range& a, const Range& b) { return a.lo < b.lo; });
            Dwarf_Addr max_hi = 0;
            for (Range& r : list)
                r.max_hi = max_hi = std::max(max_hi, r.hi);
        }
    }

    // Innermost first, ending at a subprogram (or the outermost inlined scope found).
    void chain(Dwarf_Addr addr, std::vector<Dwarf_Die>& out) const
    {
        int node = -1;
        for (;;) {
            const int inner = find(lists_[static_cast<std::size_t>(node + 1)], addr);
            if (inner < 0) break;
            node = inner;
        }
        for (; node >= 0; node = nodes_[static_cast<std::size_t>(node)].parent) {
            out.push_back(nodes_[static_cast<std::size_t>(node)].die);
            if (!nodes_[static_cast<std::size_t>(node)].inlined) break;
        }
    }

private:
    static constexpr int kMaxDepth = 256;  // DIE nesting; deeper trees are cut, not followed
    struct Node {
        Dwarf_Die die;
        int parent;  // enclosing node, -1 at the top
        bool inlined;
    };
    struct Range {
        Dwarf_Addr lo, hi, max_hi;
        int node;
    };

    static int find(const std::vector<Range>& list, Dwarf_Addr addr)
    {
        auto it = std::upper_bound(list.begin(), list.end(), addr,
                                   [](Dwarf_Addr a, const Range& r) { return a < r.lo; });
        while (it != list.begin()) {
            --it;
            if (it->max_hi <= addr) break;  // nothing at or before it reaches addr
            if (addr < it->hi) return it->node;
        }
        return -1;
    }

    static bool next_sibling(const LibDw& dw, Dwarf_Die& die)
    {
        Dwarf_Die next;
        if (dw.dwarf_siblingof(&die, &next) != 0) return false;
        die = next;
        return true;
    }

    void walk(const LibDw& dw, Dwarf_Die* parent_die, int parent, int depth)
    {
        Dwarf_Die child;
        if (depth > kMaxDepth || dw.dwarf_child(parent_die, &child) != 0) return;
        do {
            const int tag = dw.dwarf_tag(&child);
            int here = parent;
            if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
                tag == DW_TAG_entry_point) {
                const int node = static_cast<int>(nodes_.size());
                auto& list = lists_[static_cast<std::size_t>(parent + 1)];
                const std::size_t before = list.size();
                Dwarf_Addr base = 0, lo = 0, hi = 0;
                ptrdiff_t offset = 0;
                while ((offset = dw.dwarf_ranges(&child, offset, &base, &lo, &hi)) > 0)
                    if (lo < hi) list.push_back({lo, hi, 0, node});
                if (list.size() > before) {  // abstract instances and declarations have no code
                    nodes_.push_back({child, parent, tag == DW_TAG_inlined_subroutine});
                    lists_.emplace_back();
                    here = node;
                }
            } else if (tag == DW_TAG_imported_unit) {  // dwz: DIEs shared through partial units
                Dwarf_Attribute attr;
                Dwarf_Die unit;
                if (dw.dwarf_attr(&child, DW_AT_import, &attr) != nullptr &&
                    dw.dwarf_formref_die(&attr, &unit) != nullptr)
                    walk(dw, &unit, parent, depth + 1);
                continue;
            }
            if (dw.dwarf_haschildren(&child) > 0) walk(dw, &child, here, depth + 1);
        } while (next_sibling(dw, child));
    }

    std::vector<Node> nodes_;
    std::vector<std::vector<Range>> lists_;  // lists_[n + 1]: ranges of the nodes inside node n
};

// Symbols of one module sorted by address. dwfl_module_addrinfo() scans the whole symbol table on
// every call (100-200 us per pc in libc or libstdc++; 72% of the time once ScopeIndex was in).
// This index answers the common case the way elfutils does: the pc lies only in sized symbols
// with one start and end (a function and its aliases); the best binding wins (global, weak,
// local), then the first in table order. Anything else (nested or sizeless symbols, assembler
// labels, a global label exactly at the pc) is left to dwfl_module_addrinfo itself.
class SymbolIndex {
public:
    void build(const LibDw& dw, Dwfl_Module* mod)
    {
        const int count = dw.dwfl_module_getsymtab(mod);
        for (int i = 1; i < count; ++i) {
            GElf_Sym sym;
            GElf_Addr addr = 0;
            GElf_Word shndx = SHN_UNDEF;
            const char* name =
                dw.dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, nullptr, nullptr);
            if (name == nullptr || name[0] == '\0' || shndx == SHN_UNDEF) continue;
            const int type = GELF_ST_TYPE(sym.st_info);
            if (type == STT_SECTION || type == STT_FILE || type == STT_TLS) continue;
            const int bind = GELF_ST_BIND(sym.st_info);
            if (sym.st_size == 0) {
                if (bind != STB_LOCAL) sizeless_nonlocal_.push_back(addr);
                continue;
            }
            const int rank = bind == STB_GLOBAL  ? 3
                             : bind == STB_WEAK  ? 2
                             : bind == STB_LOCAL ? 1
                                                 : 0;
            syms_.push_back({addr, addr + sym.st_size, 0, name, rank, i});
        }
        std::stable_sort(syms_.begin(), syms_.end(),
                         [](const Sym& a, const Sym& b) { return a.lo < b.lo; });
        GElf_Addr max_hi = 0;
        for (Sym& s : syms_)
            s.max_hi = max_hi = std::max(max_hi, s.hi);
        std::sort(sizeless_nonlocal_.begin(), sizeless_nonlocal_.end());
    }

    // The symbol name for addr, or nullptr if dwfl_module_addrinfo must decide.
    const char* find(GElf_Addr addr) const
    {
        auto it = std::upper_bound(syms_.begin(), syms_.end(), addr,
                                   [](GElf_Addr a, const Sym& s) { return a < s.lo; });
        const Sym* best = nullptr;
        while (it != syms_.begin()) {
            --it;
            if (it->max_hi <= addr) break;
            if (addr >= it->hi) continue;
            if (best == nullptr) {
                best = &*it;
            } else if (it->lo != best->lo || it->hi != best->hi) {
                return nullptr;  // nested symbols: elfutils' order-dependent rules
            } else if (it->rank > best->rank ||
                       (it->rank == best->rank && it->index < best->index)) {
                best = &*it;
            }
        }
        if (best == nullptr) return nullptr;
        if (best->rank == 1 &&
            std::binary_search(sizeless_nonlocal_.begin(), sizeless_nonlocal_.end(), addr))
            return nullptr;
        return best->name;
    }

private:
    struct Sym {
        GElf_Addr lo, hi, max_hi;
        const char* name;  // owned by the module's ELF data: valid while its Dwfl lives
        int rank;          // binding: 3 global, 2 weak, 1 local
        int index;         // in the symbol table
    };
    std::vector<Sym> syms_;
    std::vector<GElf_Addr> sizeless_nonlocal_;
};

// A module's ELF file as memtrack reads it without libdw.
struct ModuleElf {
    std::unique_ptr<ElfImage> image;  // null: no readable file with the record's build id
    std::unique_ptr<ElfImage> debug;  // its separate debug file, if there is one
    // DWARF in the file itself (a program or library built with -g): lines are worth loading
    // libdw for. A separate debug file gives names only (its .symtab), see elf_for().
    bool dwarf = false;

    // The table that names functions: the file's .symtab, else the debug file's (a stripped
    // library with a debug package), else the file's .dynsym.
    ElfImage* names() const
    {
        if (image == nullptr) return nullptr;
        if (!image->has_symtab() && debug != nullptr && debug->has_symtab()) return debug.get();
        return image.get();
    }
};

// The outermost frames of every stack, the C library's start-up code (the main thread's and
// each thread's), are named from the symbol table only: their line numbers tell a reader
// nothing, and with the C library's debug package installed they alone would load libdw and
// decompress its DWARF (about 0.1 s of zlib at the exit of every leaking process, issue 13).
bool startup_function(const std::string& name)
{
    static constexpr const char* kStartup[] = {"_start",
                                               "__libc_start_main",
                                               "__libc_start_call_main",
                                               "start_thread",
                                               "__clone3",
                                               "clone3",
                                               "__clone",
                                               "clone"};
    for (const char* s : kStartup)
        if (name == s) return true;
    return false;
}

struct ModuleDwfl {
    Dwfl* dwfl = nullptr;
    Dwfl_Module* module = nullptr;  // null: no usable ELF file for this record
    bool symbols_built = false;
    SymbolIndex symbols;
};

// Frames are returned by reference, so the empty list for "no Impl" (out of memory in the
// constructor) lives in static storage without a destructor or a dynamic initialiser.
const std::vector<SymbolFrame>& no_frames() noexcept
{
    alignas(
        std::vector<SymbolFrame>) static unsigned char storage[sizeof(std::vector<SymbolFrame>)];
    return *::new (storage) std::vector<SymbolFrame>();
}

}  // namespace

struct Symbolizer::Impl {
    const LibDw* dw = nullptr;
    bool dw_tried = false;
    // Per record, as for dwfls.
    std::unordered_map<const ModuleRecord*, ModuleElf> elfs;
    // One Dwfl per record: an unloaded library and the one mapped at its address later never
    // share an address space.
    std::unordered_map<const ModuleRecord*, ModuleDwfl> dwfls;
    // Per CU DIE (libdwfl keeps it at a fixed address for the Dwfl's lifetime).
    std::unordered_map<const Dwarf_Die*, ScopeIndex> scope_indexes;
    // Node-based: references handed out by frames() stay valid across rehashing.
    std::unordered_map<CacheKey, std::vector<SymbolFrame>, CacheKeyHash> cache;
    std::vector<SymbolFrame> fallback;  // capacity 1, reused when symbolizing fails

    Impl() noexcept
    {
        try {
            fallback.reserve(1);
        } catch (...) {
        }
    }
    ~Impl()
    {
        for (auto& entry : dwfls)
            if (entry.second.dwfl != nullptr) dw->dwfl_end(entry.second.dwfl);
    }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    ModuleElf& elf_for(const ModuleRecord& rec);
    ModuleDwfl* module_for(const ModuleRecord& rec);
    bool report(ModuleDwfl& entry, const ModuleRecord& rec, const char* file);
    void describe(ModuleDwfl& md, std::uintptr_t addr, const SymbolFrame& base,
                  std::vector<SymbolFrame>& out);
    void symbolize(std::uintptr_t pc, const ModuleRecord* rec, std::vector<SymbolFrame>& out);
};

ModuleElf& Symbolizer::Impl::elf_for(const ModuleRecord& rec)
{
    auto [it, inserted] = elfs.try_emplace(&rec);
    ModuleElf& entry = it->second;
    if (!inserted) return entry;
    // By path, so a dlclose()d library still works. A main program deleted or rebuilt since it
    // started is still reachable as /proc/self/exe (accepted only if the build id matches). A
    // file whose build id is not the record's was replaced: its symbols would lie.
    auto matches = [&](const std::unique_ptr<ElfImage>& image) {
        return image != nullptr && (rec.build_id.empty() || image->build_id() == rec.build_id);
    };
    if (!rec.path.empty()) entry.image = ElfImage::open(rec.path);
    if (!matches(entry.image)) {
        entry.image.reset();
        if (!rec.build_id.empty()) entry.image = ElfImage::open("/proc/self/exe");
        if (!matches(entry.image)) entry.image.reset();
    }
    if (entry.image == nullptr) return entry;
    if (!entry.image->has_dwarf() || !entry.image->has_symtab())
        entry.debug = open_debug_file(rec.path, *entry.image);
    // The DWARF of a separate debug file is not read (unless MEMTRACK_DEBUGINFOD=1): those are
    // the distribution's debug packages of system libraries (libc6-dbg), whose sections are
    // compressed. libdw inflates every section of a file when it opens it: for libc's 4 MiB
    // file, 205 M instructions, about 60 ms, at the exit of every process whose sites or
    // leaks have a frame in libc (the stdout buffer is one), for lines inside libc. Its
    // .symtab still names libc's static functions.
    entry.dwarf = entry.image->has_dwarf();
    return entry;
}

ModuleDwfl* Symbolizer::Impl::module_for(const ModuleRecord& rec)
{
    auto [it, inserted] = dwfls.try_emplace(&rec);
    ModuleDwfl& entry = it->second;
    if (!inserted) return entry.module != nullptr ? &entry : nullptr;
    if (!dw_tried) {
        dw_tried = true;
        dw = load_libdw();
    }
    if (dw == nullptr) return nullptr;
    // By path, so a dlclose()d library still works. A main program deleted or rebuilt since it
    // started is still reachable as /proc/self/exe (accepted only if the build id matches).
    if (!rec.path.empty() && report(entry, rec, rec.path.c_str())) return &entry;
    if (!rec.build_id.empty() && report(entry, rec, "/proc/self/exe")) return &entry;
    return nullptr;
}

bool Symbolizer::Impl::report(ModuleDwfl& entry, const ModuleRecord& rec, const char* file)
{
    // O_CLOEXEC: the host's other threads run during the report. On success libdwfl owns fd.
    const int fd = ::open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    Dwfl* dwfl = dw->dwfl_begin(&dw->callbacks);
    if (dwfl == nullptr) {
        ::close(fd);
        return false;
    }
    dw->dwfl_report_begin(dwfl);
    // add_p_vaddr: base is the load bias (dlpi_addr), right for prelinked libraries too.
    Dwfl_Module* mod = dw->dwfl_report_elf(dwfl, rec.path.c_str(), file, fd, rec.bias, true);
    dw->dwfl_report_end(dwfl, nullptr, nullptr);
    if (mod == nullptr) ::close(fd);
    if (mod != nullptr && !rec.build_id.empty()) {  // a replaced file: its symbols would lie
        const unsigned char* bits = nullptr;
        GElf_Addr vaddr = 0;
        const int n = dw->dwfl_module_build_id(mod, &bits, &vaddr);
        if (n > 0 && hex_of(bits, n) != rec.build_id) mod = nullptr;
    }
    if (mod == nullptr) {
        dw->dwfl_end(dwfl);
        return false;
    }
    entry.dwfl = dwfl;
    entry.module = mod;
    return true;
}

// Frame i is the i-th function scope of the chain at addr (ScopeIndex); its line is the line-table
// row for frame 0 and, for the frames after, the DW_AT_call_file/call_line of the scope inside.
void Symbolizer::Impl::describe(ModuleDwfl& md, std::uintptr_t addr, const SymbolFrame& base,
                                std::vector<SymbolFrame>& out)
{
    Dwfl_Module* mod = md.module;
    if (!md.symbols_built) {
        md.symbols_built = true;
        try {
            md.symbols.build(*dw, mod);
        } catch (...) {  // a half-built index would answer wrongly: an empty one defers to libdw
            md.symbols = SymbolIndex();
            throw;
        }
    }
    const char* symbol = md.symbols.find(addr);
    if (symbol == nullptr) {
        GElf_Off offset = 0;
        GElf_Sym sym{};
        symbol = dw->dwfl_module_addrinfo(mod, addr, &offset, &sym, nullptr, nullptr, nullptr);
    }

    std::string file;
    int line = 0;
    if (Dwfl_Line* row = dw->dwfl_module_getsrc(mod, addr)) {
        if (const char* f = dw->dwfl_lineinfo(row, nullptr, &line, nullptr, nullptr, nullptr))
            file = f;
        else
            line = 0;
    }

    std::vector<Dwarf_Die> chain;  // function-like scopes, innermost first, up to a subprogram
    Dwarf_Files* files = nullptr;  // of the CU holding the chain (DW_AT_call_file indexes it)
    Dwarf_Addr cu_bias = 0;
    bool in_cu = false;
    if (Dwarf_Die* cudie = dw->dwfl_module_addrdie(mod, addr, &cu_bias)) {
        in_cu = true;
        auto [it, inserted] = scope_indexes.try_emplace(cudie);
        if (inserted) {
            try {
                it->second.build(*dw, cudie);
            } catch (...) {
                scope_indexes.erase(it);
                throw;
            }
        }
        it->second.chain(addr - cu_bias, chain);
        Dwarf_Die cu;
        if (!chain.empty() && dw->dwarf_diecu(&chain[0], &cu, nullptr, nullptr) != nullptr &&
            dw->dwarf_getsrcfiles(&cu, &files, nullptr) != 0)
            files = nullptr;
    }

    std::size_t i = 0;
    for (; i < chain.size() && dw->dwarf_tag(&chain[i]) == DW_TAG_inlined_subroutine; ++i) {
        SymbolFrame frame = base;
        frame.function = die_name(*dw, &chain[i]);
        frame.file = file;
        frame.line = line;
        frame.inlined = true;
        out.push_back(std::move(frame));
        // Where the caller called it: the position the next (outer) frame reports.
        Dwarf_Word value = 0;
        line = udata_attr(*dw, &chain[i], DW_AT_call_line, value) ? static_cast<int>(value) : 0;
        const char* call_file = nullptr;
        if (files != nullptr && udata_attr(*dw, &chain[i], DW_AT_call_file, value))
            call_file = dw->dwarf_filesrc(files, value, nullptr, nullptr);
        file = call_file != nullptr ? call_file : "";
    }
    SymbolFrame frame = base;
    frame.function = symbol_name(symbol);
    if (frame.function.empty() && i < chain.size()) frame.function = die_name(*dw, &chain[i]);
    // No function of the debug info covers addr (code without it, like _start): the line row
    // dwfl_module_getsrc found is the end of a neighbouring sequence, not this code (GCC ends
    // main's line table with a row at main's end address, where _start may follow).
    if (!in_cu || chain.empty()) {
        file.clear();
        line = 0;
    }
    frame.file = std::move(file);
    frame.line = line;
    out.push_back(std::move(frame));
}

void Symbolizer::Impl::symbolize(std::uintptr_t pc, const ModuleRecord* rec,
                                 std::vector<SymbolFrame>& out)
{
    SymbolFrame base;
    base.pc = pc;
    if (rec == nullptr) {
        out.push_back(std::move(base));
        return;
    }
    base.module = rec->path;
    base.module_offset = pc - rec->bias;
    // A return address points after the call and may already be the next line, or the next
    // function if the call was the last instruction (noreturn): look up the call itself.
    const std::uintptr_t addr = pc - 1;
    const ModuleElf& elf = elf_for(*rec);
    std::string name;
    if (ElfImage* names = elf.names()) name = symbol_name(names->symbol(addr - rec->bias));
    // libdw only where it can add something: DWARF, or debuginfod allowed to fetch it.
    const bool want_dwarf = elf.dwarf || g_debuginfod.load(std::memory_order_relaxed);
    if (elf.image != nullptr && want_dwarf && !startup_function(name))
        if (ModuleDwfl* md = module_for(*rec)) describe(*md, addr, base, out);
    if (out.empty()) out.push_back(std::move(base));
    if (out.back().function.empty()) out.back().function = std::move(name);
    if (out.back().function.empty()) out.back().function = dladdr_name(addr, *rec);
}

void set_debuginfod(bool on) noexcept
{
    g_debuginfod.store(on, std::memory_order_relaxed);
}

Symbolizer::Symbolizer() : impl_(new (std::nothrow) Impl) {}

Symbolizer::~Symbolizer() = default;

const std::vector<SymbolFrame>& Symbolizer::frames(std::uintptr_t pc, std::uint32_t epoch)
{
    if (!impl_) return no_frames();
    try {
        const ModuleRecord* rec = pc > 0 ? module_of(pc, epoch) : nullptr;
        auto [it, inserted] = impl_->cache.try_emplace(CacheKey{pc, rec});
        if (inserted) {
            try {
                impl_->symbolize(pc, rec, it->second);
            } catch (...) {
                impl_->cache.erase(it);
                throw;
            }
        }
        return it->second;
    } catch (...) {  // out of memory or a libdw surprise: the bare address
        impl_->fallback.clear();
        if (impl_->fallback.capacity() > 0) {
            impl_->fallback.emplace_back();
            impl_->fallback.back().pc = pc;
        }
        return impl_->fallback;
    }
}

}  // namespace memtrack::detail
