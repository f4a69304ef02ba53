// Module table and symbolizer: function, file, line, inlined frames, a library before and after
// its dlclose (epochs), libc, unknown pcs, build ids. Built with -g -O2 (tests/unit/CMakeLists).
#include "stack/elf_image.hpp"
#include "stack/modules.hpp"
#include "stack/symbolize.hpp"

#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace md = memtrack::detail;
using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;

// Functions with known call sites. External linkage, noinline and noclone: the symbol names
// stay as written. The empty asm after each call keeps it from becoming a tail jump (whose
// return address would be in the caller's caller).
int g_caller_line = 0;
int g_inlined_line = 0;
int g_inline_call_line = 0;

[[gnu::noinline, gnu::noclone]] std::uintptr_t symtest_return_address()
{
    return reinterpret_cast<std::uintptr_t>(
        __builtin_extract_return_addr(__builtin_return_address(0)));
}

[[gnu::noinline, gnu::noclone]] std::uintptr_t symtest_caller()
{
    g_caller_line = __LINE__ + 1;
    const std::uintptr_t pc = symtest_return_address();
    asm volatile("" : : "r"(pc) : "memory");
    return pc;
}

[[gnu::always_inline]] inline std::uintptr_t symtest_inlined()
{
    g_inlined_line = __LINE__ + 1;
    const std::uintptr_t pc = symtest_return_address();
    asm volatile("" : : "r"(pc) : "memory");
    return pc;
}

[[gnu::noinline, gnu::noclone]] std::uintptr_t symtest_inline_outer()
{
    g_inline_call_line = __LINE__ + 1;
    const std::uintptr_t pc = symtest_inlined();
    asm volatile("" : : "r"(pc) : "memory");
    return pc;
}

namespace {

std::string self_exe()
{
    char buf[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf);
    REQUIRE(n > 0);
    return std::string(buf, static_cast<std::size_t>(n));
}

// The GNU build id read from the file's section headers (SHT_NOTE sections), as `readelf -n`
// does, not from the mapped program headers the module table uses.
std::string build_id_from_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() > sizeof(Elf64_Ehdr));
    Elf64_Ehdr eh;
    std::memcpy(&eh, bytes.data(), sizeof eh);
    REQUIRE(std::memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0);
    for (unsigned i = 0; i < eh.e_shnum; ++i) {
        Elf64_Shdr sh;
        REQUIRE(eh.e_shoff + (i + 1) * sizeof sh <= bytes.size());
        std::memcpy(&sh, bytes.data() + eh.e_shoff + i * sizeof sh, sizeof sh);
        if (sh.sh_type != SHT_NOTE) continue;
        std::size_t at = sh.sh_offset;
        const std::size_t end = sh.sh_offset + sh.sh_size;
        const std::size_t align = sh.sh_addralign == 8 ? 8 : 4;
        auto up = [align](std::size_t v) { return (v + align - 1) / align * align; };
        while (at + sizeof(Elf64_Nhdr) <= end) {
            Elf64_Nhdr nh;
            std::memcpy(&nh, bytes.data() + at, sizeof nh);
            const std::size_t name = at + sizeof nh;
            const std::size_t desc = name + up(nh.n_namesz);
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
                std::memcmp(bytes.data() + name, "GNU", 4) == 0) {
                std::string hex;
                for (std::size_t k = 0; k < nh.n_descsz; ++k) {
                    char two[3];
                    std::snprintf(two, sizeof two, "%02x",
                                  static_cast<unsigned char>(bytes[desc + k]));
                    hex += two;
                }
                return hex;
            }
            at = desc + up(nh.n_descsz);
        }
    }
    return {};
}

bool listed_by_loader(const std::string& path)
{
    struct Search {
        const std::string* path;
        bool found;
    } search{&path, false};
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* arg) {
            auto* s = static_cast<Search*>(arg);
            if (info->dlpi_name != nullptr && *s->path == info->dlpi_name) s->found = true;
            return 0;
        },
        &search);
    return search.found;
}

using TestlibFn = std::uintptr_t (*)(int*);

TestlibFn testlib_function(void* handle)
{
    void* sym = dlsym(handle, "memtrack_testlib_return_address");
    REQUIRE(sym != nullptr);
    TestlibFn fn;
    std::memcpy(&fn, &sym, sizeof fn);
    return fn;
}

void check_testlib_frames(const std::vector<md::SymbolFrame>& frames, std::uintptr_t pc, int line,
                          const md::ModuleRecord& rec)
{
    REQUIRE(frames.size() == 1);
    const md::SymbolFrame& f = frames[0];
    CHECK(f.pc == pc);
    CHECK(f.function == "memtrack_testlib_return_address");
    CHECK_THAT(f.file, EndsWith("symbolize_testlib.cpp"));
    CHECK(f.line == line);
    CHECK(f.module == MEMTRACK_SYMBOLIZE_TESTLIB);
    CHECK(f.module_offset == pc - rec.bias);
    CHECK_FALSE(f.inlined);
}

}  // namespace

TEST_CASE("symbolize: a return address gives its function, file and call line", "[symbolize]")
{
    const std::uintptr_t pc = symtest_caller();
    md::Symbolizer sym;
    const auto& frames = sym.frames(pc, md::modules_epoch());
    REQUIRE(frames.size() == 1);
    const md::SymbolFrame& f = frames[0];
    CHECK(f.pc == pc);
    CHECK(f.function == "symtest_caller()");
    CHECK_THAT(f.file, EndsWith("test_symbolize.cpp"));
    CHECK(f.line == g_caller_line);
    CHECK(f.module == self_exe());
    const md::ModuleRecord* rec = md::module_of(pc, md::modules_epoch());
    REQUIRE(rec != nullptr);
    CHECK(f.module_offset == pc - rec->bias);
    CHECK_FALSE(f.inlined);
    // Cached: the same list object for the same pc.
    CHECK(&sym.frames(pc, md::modules_epoch()) == &frames);
}

TEST_CASE("symbolize: an always_inline callee is an inlined frame before its caller", "[symbolize]")
{
    const std::uintptr_t pc = symtest_inline_outer();
    md::Symbolizer sym;
    const auto& frames = sym.frames(pc, md::modules_epoch());
    // Not skipped if the compiler did not inline: then this fails, on purpose.
    REQUIRE(frames.size() == 2);
    CHECK(frames[0].inlined);
    CHECK(frames[0].function == "symtest_inlined()");
    CHECK_THAT(frames[0].file, EndsWith("test_symbolize.cpp"));
    CHECK(frames[0].line == g_inlined_line);
    CHECK_FALSE(frames[1].inlined);
    CHECK(frames[1].function == "symtest_inline_outer()");
    CHECK_THAT(frames[1].file, EndsWith("test_symbolize.cpp"));
    CHECK(frames[1].line == g_inline_call_line);
    for (const auto& f : frames) {
        CHECK(f.pc == pc);
        CHECK(f.module == self_exe());
    }
}

TEST_CASE("symbolize: a frame in a dlopened library, before and after its dlclose", "[symbolize]")
{
    void* handle = dlopen(MEMTRACK_SYMBOLIZE_TESTLIB, RTLD_NOW | RTLD_LOCAL);
    REQUIRE(handle != nullptr);
    int line = 0;
    const std::uintptr_t pc = testlib_function(handle)(&line);

    const std::uint32_t before = md::modules_epoch();
    const md::ModuleRecord* rec = md::module_of(pc, before);
    REQUIRE(rec != nullptr);
    CHECK(rec->path == MEMTRACK_SYMBOLIZE_TESTLIB);
    CHECK(rec->unload_epoch == UINT32_MAX);
    CHECK(rec->build_id == build_id_from_file(MEMTRACK_SYMBOLIZE_TESTLIB));
    CHECK_FALSE(rec->build_id.empty());

    md::Symbolizer early;
    check_testlib_frames(early.frames(pc, before), pc, line, *rec);

    md::modules_before_dlclose();
    REQUIRE(dlclose(handle) == 0);
    md::modules_after_dlclose();
    REQUIRE_FALSE(listed_by_loader(MEMTRACK_SYMBOLIZE_TESTLIB));  // really unloaded

    const std::uint32_t after = md::modules_epoch();
    CHECK(after == before + 1);
    CHECK(rec->unload_epoch == after);
    CHECK(md::module_of(pc, before) == rec);
    CHECK(md::module_of(pc, after) != rec);

    // A Symbolizer made after the dlclose opens the file by path.
    md::Symbolizer late;
    check_testlib_frames(late.frames(pc, before), pc, line, *rec);
    check_testlib_frames(early.frames(pc, before), pc, line, *rec);
    const auto& now = late.frames(pc, after);
    REQUIRE_FALSE(now.empty());
    CHECK(now.back().module != MEMTRACK_SYMBOLIZE_TESTLIB);

    // Loaded again: a new record; where it reuses the old addresses, epochs tell them apart.
    void* again = dlopen(MEMTRACK_SYMBOLIZE_TESTLIB, RTLD_NOW | RTLD_LOCAL);
    REQUIRE(again != nullptr);
    int line2 = 0;
    const std::uintptr_t pc2 = testlib_function(again)(&line2);
    const md::ModuleRecord* rec2 = md::module_of(pc2, md::modules_epoch());
    REQUIRE(rec2 != nullptr);
    CHECK(rec2 != rec);
    CHECK(rec2->path == MEMTRACK_SYMBOLIZE_TESTLIB);
    CHECK(rec2->unload_epoch == UINT32_MAX);
    check_testlib_frames(late.frames(pc2, md::modules_epoch()), pc2, line2, *rec2);
    if (rec2->bias == rec->bias) {
        CHECK(md::module_of(pc, before) == rec);
        CHECK(md::module_of(pc, after) == rec2);
    }
    md::modules_before_dlclose();
    REQUIRE(dlclose(again) == 0);
    md::modules_after_dlclose();
    CHECK(md::modules_epoch() == after + 1);
    CHECK(rec2->unload_epoch == after + 1);
    CHECK(rec->unload_epoch == after);
}

TEST_CASE("symbolize: a library file replaced on disk is not trusted (build id differs)",
          "[symbolize]")
{
    char dir[] = "/tmp/memtrack-symbolize-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    const std::string path = std::string(dir) + "/libreplaced.so";
    const std::string other = std::string(dir) + "/other";
    auto copy = [](const std::string& from, const std::string& to) {
        std::ifstream in(from, std::ios::binary);
        std::ofstream out(to, std::ios::binary);
        out << in.rdbuf();
        return static_cast<bool>(out);
    };
    REQUIRE(copy(MEMTRACK_SYMBOLIZE_TESTLIB, path));
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    REQUIRE(handle != nullptr);
    int line = 0;
    const std::uintptr_t pc = testlib_function(handle)(&line);
    // rename() over the path: the mapping keeps the old inode, the path names another ELF file.
    REQUIRE(copy(self_exe(), other));
    REQUIRE(std::rename(other.c_str(), path.c_str()) == 0);

    md::Symbolizer sym;
    const auto& frames = sym.frames(pc, md::modules_epoch());
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].module == path);
    CHECK(frames[0].file.empty());  // no line from the wrong file
    CHECK(frames[0].line == 0);
    // Still loaded: the name comes from dladdr().
    CHECK(frames[0].function == "memtrack_testlib_return_address");

    md::modules_before_dlclose();
    dlclose(handle);
    md::modules_after_dlclose();
    std::remove(path.c_str());
    rmdir(dir);
}

TEST_CASE("symbolize: a pc in libc gives module libc.so.6 and a function name", "[symbolize]")
{
    // libc's own strtol, not an interceptor (a sanitizer runtime defines one too).
    void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    REQUIRE(libc != nullptr);
    void* strtol_addr = dlsym(libc, "strtol");
    void* start_main = dlsym(libc, "__libc_start_main");
    dlclose(libc);
    REQUIRE(strtol_addr != nullptr);
    // As if strtol's first instruction were a call: the lookup address is strtol itself.
    const std::uintptr_t pc = reinterpret_cast<std::uintptr_t>(strtol_addr) + 1;
    md::Symbolizer sym;
    const auto& frames = sym.frames(pc, md::modules_epoch());
    REQUIRE_FALSE(frames.empty());
    const md::SymbolFrame& f = frames.back();
    CHECK_THAT(f.module, EndsWith("/libc.so.6"));
    CHECK_THAT(f.function, Contains("strtol"));
    const md::ModuleRecord* rec = md::module_of(pc, md::modules_epoch());
    REQUIRE(rec != nullptr);
    CHECK(f.module_offset == pc - rec->bias);

    // Without the symbol version libc's debug symbols add ("__libc_start_main@@GLIBC_2.34").
    REQUIRE(start_main != nullptr);
    const auto& versioned =
        sym.frames(reinterpret_cast<std::uintptr_t>(start_main) + 1, md::modules_epoch());
    REQUIRE_FALSE(versioned.empty());
    CHECK(versioned.back().function == "__libc_start_main");

    // A real return address inside libc: qsort calling our comparator.
    static std::uintptr_t from_libc;
    int values[] = {3, 1, 2};
    qsort(values, 3, sizeof(int), [](const void* a, const void* b) {
        from_libc = reinterpret_cast<std::uintptr_t>(
            __builtin_extract_return_addr(__builtin_return_address(0)));
        return *static_cast<const int*>(a) - *static_cast<const int*>(b);
    });
    const auto& inner = sym.frames(from_libc, md::modules_epoch());
    REQUIRE_FALSE(inner.empty());
    CHECK_THAT(inner.back().module, EndsWith("/libc.so.6"));
}

TEST_CASE("issue 13: a library without DWARF is named from .symtab, a stripped one from .dynsym",
          "[symbolize]")
{
    for (const char* path :
         {MEMTRACK_SYMBOLIZE_NODEBUG_TESTLIB, MEMTRACK_SYMBOLIZE_STRIPPED_TESTLIB}) {
        INFO(path);
        void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        REQUIRE(handle != nullptr);
        int line = 0;
        const std::uintptr_t pc = testlib_function(handle)(&line);
        const md::ModuleRecord* rec = md::module_of(pc, md::modules_epoch());
        REQUIRE(rec != nullptr);

        auto image = md::ElfImage::open(path);
        REQUIRE(image != nullptr);
        CHECK_FALSE(image->has_dwarf());
        CHECK(image->has_symtab() == (path == std::string(MEMTRACK_SYMBOLIZE_NODEBUG_TESTLIB)));
        CHECK(image->build_id() == rec->build_id);
        const char* name = image->symbol(pc - 1 - rec->bias);
        REQUIRE(name != nullptr);
        CHECK(std::string(name) == "memtrack_testlib_return_address");
        CHECK(image->symbol(0) == nullptr);  // the ELF header: no symbol

        md::Symbolizer sym;
        const auto& frames = sym.frames(pc, md::modules_epoch());
        REQUIRE(frames.size() == 1);
        CHECK(frames[0].function == "memtrack_testlib_return_address");
        CHECK(frames[0].file.empty());
        CHECK(frames[0].line == 0);
        CHECK(frames[0].module == path);
        CHECK(frames[0].module_offset == pc - rec->bias);
        md::modules_before_dlclose();
        dlclose(handle);
        md::modules_after_dlclose();
    }
}

TEST_CASE("issue 13: the ELF reader names the test binary's functions as libdw does, past the "
          "linear lookups too",
          "[symbolize]")
{
    auto image = md::ElfImage::open(self_exe());
    REQUIRE(image != nullptr);
    CHECK(image->has_dwarf());  // -g
    CHECK(image->has_symtab());
    CHECK(image->build_id() == build_id_from_file(self_exe()));
    const md::ModuleRecord* rec =
        md::module_of(reinterpret_cast<std::uintptr_t>(&symtest_caller), md::modules_epoch());
    REQUIRE(rec != nullptr);
    const std::uintptr_t pcs[] = {symtest_caller(), symtest_inline_outer()};
    const char* names[] = {"_Z14symtest_callerv", "_Z20symtest_inline_outerv"};
    // The first lookups scan the table, the later ones use the sorted index: the same answers.
    for (int round = 0; round < 12; ++round)
        for (int i = 0; i < 2; ++i) {
            const char* name = image->symbol(pcs[i] - 1 - rec->bias);
            REQUIRE(name != nullptr);
            CHECK(std::string(name) == names[i]);
        }
}

TEST_CASE("issue 13: the ELF reader rejects what is not a whole ELF file", "[symbolize]")
{
    char dir[] = "/tmp/memtrack-elf-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    std::ifstream in(self_exe(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() > 4096);
    const std::string path = std::string(dir) + "/cut";
    for (std::size_t size : {std::size_t{0}, std::size_t{16}, std::size_t{64}, std::size_t{4096}}) {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, size);
        CHECK(md::ElfImage::open(path) == nullptr);  // section headers are at the end
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc) << std::string(8192, 'x');
    CHECK(md::ElfImage::open(path) == nullptr);
    CHECK(md::ElfImage::open(dir) == nullptr);  // a directory
    CHECK(md::ElfImage::open(std::string(dir) + "/missing") == nullptr);
    std::remove(path.c_str());
    rmdir(dir);
}

TEST_CASE("issue 13: the C library's start-up frames get names without DWARF lines", "[symbolize]")
{
    void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    REQUIRE(libc != nullptr);
    void* start_main = dlsym(libc, "__libc_start_main");
    dlclose(libc);
    REQUIRE(start_main != nullptr);
    md::Symbolizer sym;
    const auto& frames =
        sym.frames(reinterpret_cast<std::uintptr_t>(start_main) + 1, md::modules_epoch());
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].function == "__libc_start_main");
    CHECK(frames[0].file.empty());  // even with libc6-dbg installed
    CHECK(frames[0].line == 0);
}

TEST_CASE("symbolize: an unknown pc gives one frame without a module", "[symbolize]")
{
    md::Symbolizer sym;
    CHECK(md::module_of(0x10, md::modules_epoch()) == nullptr);
    for (std::uintptr_t pc : {std::uintptr_t{0x10}, std::uintptr_t{0}, ~std::uintptr_t{0}}) {
        const auto& frames = sym.frames(pc, md::modules_epoch());
        REQUIRE(frames.size() == 1);
        CHECK(frames[0].pc == pc);
        CHECK(frames[0].module.empty());
        CHECK(frames[0].function.empty());
        CHECK(frames[0].file.empty());
        CHECK(frames[0].line == 0);
    }
    // An epoch from the future or the past is harmless too.
    CHECK(sym.frames(0x10, UINT32_MAX).size() == 1);
}

TEST_CASE("modules: the main program has its real path and the build id readelf shows",
          "[symbolize]")
{
    md::modules_snapshot();
    const auto pc = reinterpret_cast<std::uintptr_t>(&symtest_caller);
    const md::ModuleRecord* rec = md::module_of(pc, md::modules_epoch());
    REQUIRE(rec != nullptr);
    CHECK(rec->path == self_exe());
    CHECK(rec->unload_epoch == UINT32_MAX);
    REQUIRE_FALSE(rec->ranges.empty());
    for (const auto& r : rec->ranges)
        CHECK(r.start < r.end);
    const std::string expected = build_id_from_file(self_exe());
    REQUIRE_FALSE(expected.empty());
    CHECK(rec->build_id == expected);
    CHECK(rec->build_id.size() % 2 == 0);
    // A second snapshot adds nothing: the same record.
    md::modules_snapshot();
    CHECK(md::module_of(pc, md::modules_epoch()) == rec);
}

TEST_CASE("modules: lookups and snapshots race with dlopen and dlclose", "[symbolize]")
{
    const auto main_pc = reinterpret_cast<std::uintptr_t>(&symtest_caller);
    const std::string exe = self_exe();
    std::atomic<bool> stop{false};
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t)
        threads.emplace_back([&] {
            while (!stop.load()) {
                const md::ModuleRecord* rec = md::module_of(main_pc, md::modules_epoch());
                if (rec == nullptr || rec->path != exe) ++wrong;
                if (md::module_of(0x10, md::modules_epoch()) != nullptr) ++wrong;
                md::modules_snapshot();
            }
        });
    for (int i = 0; i < 20; ++i) {
        void* handle = dlopen(MEMTRACK_SYMBOLIZE_TESTLIB, RTLD_NOW | RTLD_LOCAL);
        REQUIRE(handle != nullptr);
        int line = 0;
        const std::uintptr_t pc = testlib_function(handle)(&line);
        const std::uint32_t epoch = md::modules_epoch();
        const md::ModuleRecord* rec = md::module_of(pc, epoch);
        md::modules_before_dlclose();
        dlclose(handle);
        md::modules_after_dlclose();
        if (rec == nullptr || md::module_of(pc, epoch) != rec) ++wrong;
    }
    stop.store(true);
    for (auto& t : threads)
        t.join();
    CHECK(wrong.load() == 0);
}
