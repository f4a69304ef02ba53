// An ELF file read without libdw: its GNU build id, .gnu_debuglink, whether it carries DWARF,
// and the function symbol of an address from .symtab (else .dynsym). Lets the report name the
// frames of modules without debug info at the cost of one read-only mapping, and decide whether
// libdw (and its dependencies) is worth loading at all (issue 13: the cost at exit). Report time
// only: cold path, allocates under the Guard, never throws out of open(); not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace memtrack::detail {

class ElfImage {
public:
    // Maps `path` read-only. nullptr if it cannot be opened or is not an ELF file of this
    // process's class and byte order with sane section headers.
    static std::unique_ptr<ElfImage> open(const std::string& path) noexcept;
    ~ElfImage();
    ElfImage(const ElfImage&) = delete;
    ElfImage& operator=(const ElfImage&) = delete;

    const std::string& path() const noexcept { return path_; }            // as opened
    const std::string& build_id() const noexcept { return build_id_; }    // hex, "" if none
    const std::string& debuglink() const noexcept { return debuglink_; }  // .gnu_debuglink name
    bool has_dwarf() const noexcept { return has_dwarf_; }  // a .debug_info section with data
    bool has_symtab() const noexcept { return symtab_.count > 0; }

    // The name of the symbol containing `addr` (a link-time address: pc - load bias), as the
    // symbol table spells it (version suffix included), or nullptr. Uses .symtab if the file has
    // one, else .dynsym. Of several sized symbols containing addr, the one starting last wins,
    // then the stronger binding (global, weak, local), then the first in table order (elfutils'
    // choice for a function and its aliases); with none, the closest sizeless label before addr
    // that no sized symbol follows. The first call indexes the table (sorts it once).
    const char* symbol(std::uint64_t addr);

private:
    ElfImage() = default;
    struct Table {
        const unsigned char* syms = nullptr;  // Elf64_Sym[count] (may be unaligned: memcpy)
        std::size_t count = 0;
        const char* strs = nullptr;
        std::size_t str_size = 0;
    };
    struct Sym {
        std::uint64_t lo, hi, max_hi;  // max_hi: the largest hi of this and every earlier entry
        const char* name;
        int rank;  // 3 global, 2 weak, 1 local
        std::uint32_t index;
    };
    struct Label {
        std::uint64_t addr;
        const char* name;
    };
    static constexpr int kLinearLookups = 8;  // lookups answered by scan() before indexing

    bool parse() noexcept;
    bool entry(std::size_t i, Sym& out) const noexcept;
    static bool better(const Sym& a, const Sym& b) noexcept;
    const char* scan(std::uint64_t addr) const noexcept;
    void build_index();

    const unsigned char* data_ = nullptr;
    std::size_t size_ = 0;
    std::string path_;
    std::string build_id_;
    std::string debuglink_;
    bool has_dwarf_ = false;
    Table symtab_, dynsym_;
    bool indexed_ = false;
    int lookups_ = 0;
    std::vector<Sym> syms_;      // sized symbols by lo
    std::vector<Label> labels_;  // sizeless ones by addr
};

// A separate debug file for `path` (image is that file) as Debian's debug packages and GDB lay
// them out: /usr/lib/debug/.build-id/xx/rest.debug, then the .gnu_debuglink name in the file's
// directory, its .debug/ subdirectory and /usr/lib/debug/<directory>/. Only a file whose build
// id equals the image's (when both have one) is taken. nullptr if none.
std::unique_ptr<ElfImage> open_debug_file(const std::string& path, const ElfImage& image) noexcept;

}  // namespace memtrack::detail
