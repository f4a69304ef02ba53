// ElfImage (elf_image.hpp): section headers, notes and symbol tables of a mapped ELF file, every
// offset checked against the file size (a truncated or hostile file gives fewer answers, never a
// read out of bounds). Report time only; allocates under the Guard; never throws out of open().
#include "stack/elf_image.hpp"

#include "platform/hex.hpp"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace memtrack::detail {
namespace {

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr unsigned char kNativeData = ELFDATA2LSB;
#else
constexpr unsigned char kNativeData = ELFDATA2MSB;
#endif
constexpr unsigned char kNativeClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;

template <class T> T load(const unsigned char* p) noexcept
{
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

bool fits(std::uint64_t offset, std::uint64_t size, std::size_t total) noexcept
{
    return offset <= total && size <= total - offset;
}

std::size_t align_up(std::size_t v, std::size_t a) noexcept
{
    return (v + a - 1) & ~(a - 1);
}

int rank_of(unsigned bind) noexcept
{
    return bind == STB_GLOBAL ? 3 : bind == STB_WEAK ? 2 : bind == STB_LOCAL ? 1 : 0;
}

bool readable_file(const std::string& path) noexcept
{
    return ::access(path.c_str(), R_OK) == 0;
}

}  // namespace

std::unique_ptr<ElfImage> ElfImage::open(const std::string& path) noexcept
{
    try {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return nullptr;
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
            st.st_size < static_cast<off_t>(sizeof(ElfW(Ehdr)))) {
            ::close(fd);
            return nullptr;
        }
        const auto size = static_cast<std::size_t>(st.st_size);
        void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        ::close(fd);
        if (map == MAP_FAILED) return nullptr;
        std::unique_ptr<ElfImage> image(new ElfImage);
        image->data_ = static_cast<const unsigned char*>(map);
        image->size_ = size;
        image->path_ = path;
        if (!image->parse()) return nullptr;
        return image;
    } catch (...) {  // out of memory
        return nullptr;
    }
}

ElfImage::~ElfImage()
{
    if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
}

bool ElfImage::parse() noexcept
{
    const auto eh = load<ElfW(Ehdr)>(data_);
    if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != kNativeClass ||
        eh.e_ident[EI_DATA] != kNativeData || eh.e_shentsize != sizeof(ElfW(Shdr)))
        return false;
    std::size_t count = eh.e_shnum;
    if (eh.e_shoff == 0 || !fits(eh.e_shoff, sizeof(ElfW(Shdr)), size_)) return false;
    const auto first = load<ElfW(Shdr)>(data_ + eh.e_shoff);
    if (count == 0) count = first.sh_size;  // more than 0xff00 sections (gABI)
    if (count > (size_ - eh.e_shoff) / sizeof(ElfW(Shdr))) return false;
    std::vector<ElfW(Shdr)> sh(count);
    for (std::size_t i = 0; i < count; ++i)
        sh[i] = load<ElfW(Shdr)>(data_ + eh.e_shoff + i * sizeof(ElfW(Shdr)));
    std::size_t shstrndx = eh.e_shstrndx == SHN_XINDEX ? first.sh_link : eh.e_shstrndx;
    const char* names = nullptr;
    std::size_t names_size = 0;
    if (shstrndx < count && sh[shstrndx].sh_type == SHT_STRTAB &&
        fits(sh[shstrndx].sh_offset, sh[shstrndx].sh_size, size_)) {
        names = reinterpret_cast<const char*>(data_ + sh[shstrndx].sh_offset);
        names_size = sh[shstrndx].sh_size;
    }
    auto name_is = [&](const ElfW(Shdr) & s, const char* want) {
        const std::size_t n = std::strlen(want) + 1;
        return names != nullptr && s.sh_name < names_size && names_size - s.sh_name >= n &&
               std::memcmp(names + s.sh_name, want, n) == 0;
    };
    auto table = [&](std::size_t i, Table& out) {
        const ElfW(Shdr)& s = sh[i];
        if ((s.sh_flags & SHF_COMPRESSED) != 0 || s.sh_entsize != sizeof(ElfW(Sym)) ||
            !fits(s.sh_offset, s.sh_size, size_) || s.sh_link >= count)
            return;
        const ElfW(Shdr)& str = sh[s.sh_link];
        if (str.sh_type != SHT_STRTAB || (str.sh_flags & SHF_COMPRESSED) != 0 ||
            !fits(str.sh_offset, str.sh_size, size_) || str.sh_size == 0)
            return;
        out.syms = data_ + s.sh_offset;
        out.count = s.sh_size / sizeof(ElfW(Sym));
        out.strs = reinterpret_cast<const char*>(data_ + str.sh_offset);
        out.str_size = str.sh_size;
    };
    for (std::size_t i = 0; i < count; ++i) {
        const ElfW(Shdr)& s = sh[i];
        if (s.sh_type == SHT_SYMTAB) {
            table(i, symtab_);
        } else if (s.sh_type == SHT_DYNSYM) {
            table(i, dynsym_);
        } else if (s.sh_type == SHT_NOTE && build_id_.empty() &&
                   fits(s.sh_offset, s.sh_size, size_)) {
            // Notes are 4-aligned, or 8-aligned in a section aligned to 8 (gABI).
            const std::size_t align = s.sh_addralign == 8 ? 8 : 4;
            std::size_t at = s.sh_offset;
            const std::size_t end = s.sh_offset + s.sh_size;
            while (end - at >= sizeof(ElfW(Nhdr))) {
                const auto nh = load<ElfW(Nhdr)>(data_ + at);
                const std::size_t name_at = at + sizeof nh;
                if (nh.n_namesz > end - name_at) break;
                const std::size_t desc_at = name_at + align_up(nh.n_namesz, align);
                if (desc_at > end || nh.n_descsz > end - desc_at) break;
                if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
                    std::memcmp(data_ + name_at, "GNU", 4) == 0) {
                    append_hex(build_id_, data_ + desc_at, nh.n_descsz);
                    break;
                }
                const std::size_t next = desc_at + align_up(nh.n_descsz, align);
                if (next <= at || next > end) break;
                at = next;
            }
        } else if (s.sh_type == SHT_PROGBITS && s.sh_size > 0 &&
                   (name_is(s, ".debug_info") || name_is(s, ".zdebug_info"))) {
            has_dwarf_ = fits(s.sh_offset, s.sh_size, size_);
        } else if (s.sh_type == SHT_PROGBITS && name_is(s, ".gnu_debuglink") &&
                   fits(s.sh_offset, s.sh_size, size_)) {
            const char* p = reinterpret_cast<const char*>(data_ + s.sh_offset);
            const void* nul = std::memchr(p, '\0', s.sh_size);
            if (nul != nullptr && nul != p) debuglink_.assign(p, static_cast<const char*>(nul));
        }
    }
    return true;
}

// Symbol i of the table as the lookups see it: false for what names no code or data (undefined,
// absolute, section and file symbols, TLS offsets, bad names). A label has hi == lo.
bool ElfImage::entry(std::size_t i, Sym& out) const noexcept
{
    const Table& t = symtab_.count > 0 ? symtab_ : dynsym_;
    const auto sym = load<ElfW(Sym)>(t.syms + i * sizeof(ElfW(Sym)));
    if (sym.st_shndx == SHN_UNDEF || sym.st_shndx == SHN_ABS || sym.st_name == 0 ||
        sym.st_name >= t.str_size)
        return false;
    const unsigned type = ELF64_ST_TYPE(sym.st_info);
    if (type == STT_SECTION || type == STT_FILE || type == STT_TLS) return false;
    const char* name = t.strs + sym.st_name;
    if (name[0] == '\0' || std::memchr(name, '\0', t.str_size - sym.st_name) == nullptr)
        return false;
    if (sym.st_value + sym.st_size < sym.st_value) return false;
    out = {sym.st_value, sym.st_value + sym.st_size,          0,
           name,         rank_of(ELF64_ST_BIND(sym.st_info)), static_cast<std::uint32_t>(i)};
    return true;
}

// Whether a beats b as the symbol of an address both contain.
bool ElfImage::better(const Sym& a, const Sym& b) noexcept
{
    return a.lo > b.lo ||
           (a.lo == b.lo && (a.rank > b.rank || (a.rank == b.rank && a.index < b.index)));
}

const char* ElfImage::scan(std::uint64_t addr) const noexcept
{
    const Table& t = symtab_.count > 0 ? symtab_ : dynsym_;
    Sym best{}, sym{};
    bool found = false;
    std::uint64_t last_start = 0, label_addr = 0;
    bool any_before = false;
    const char* label = nullptr;
    for (std::size_t i = 1; i < t.count; ++i) {
        if (!entry(i, sym) || sym.lo > addr) continue;
        if (sym.hi == sym.lo) {
            if (label == nullptr || sym.lo > label_addr) {
                label = sym.name;
                label_addr = sym.lo;
            }
            continue;
        }
        if (!any_before || sym.lo > last_start) last_start = sym.lo;
        any_before = true;
        if (addr < sym.hi && (!found || better(sym, best))) {
            best = sym;
            found = true;
        }
    }
    if (found) return best.name;
    if (label == nullptr || (any_before && last_start > label_addr)) return nullptr;
    return label;
}

void ElfImage::build_index()
{
    indexed_ = true;
    const Table& t = symtab_.count > 0 ? symtab_ : dynsym_;
    Sym sym{};
    for (std::size_t i = 1; i < t.count; ++i) {
        if (!entry(i, sym)) continue;
        if (sym.hi == sym.lo)
            labels_.push_back({sym.lo, sym.name});
        else
            syms_.push_back(sym);
    }
    std::stable_sort(syms_.begin(), syms_.end(),
                     [](const Sym& a, const Sym& b) { return a.lo < b.lo; });
    std::uint64_t max_hi = 0;
    for (Sym& s : syms_)
        s.max_hi = max_hi = std::max(max_hi, s.hi);
    std::stable_sort(labels_.begin(), labels_.end(),
                     [](const Label& a, const Label& b) { return a.addr < b.addr; });
}

const char* ElfImage::symbol(std::uint64_t addr)
{
    // A report names a few pcs in most modules (the C library: its start-up frames): a linear
    // pass over the table answers those without sorting it; the index pays off after that.
    if (!indexed_ && ++lookups_ <= kLinearLookups) return scan(addr);
    if (!indexed_) {
        try {
            build_index();
        } catch (...) {  // out of memory: no answers rather than a half-built index
            syms_.clear();
            labels_.clear();
            return nullptr;
        }
    }
    auto it = std::upper_bound(syms_.begin(), syms_.end(), addr,
                               [](std::uint64_t a, const Sym& s) { return a < s.lo; });
    const std::uint64_t last_start = it == syms_.begin() ? 0 : std::prev(it)->lo;
    const bool any_before = it != syms_.begin();
    const Sym* best = nullptr;
    while (it != syms_.begin()) {
        --it;
        if (it->max_hi <= addr) break;
        if (addr >= it->hi) continue;
        if (best == nullptr || better(*it, *best)) best = &*it;
    }
    if (best != nullptr) return best->name;
    // A label (assembler code, no size): the closest one at or before addr, unless a sized
    // symbol starts between it and addr (addr is then past that symbol's end, in padding).
    auto lab = std::upper_bound(labels_.begin(), labels_.end(), addr,
                                [](std::uint64_t a, const Label& l) { return a < l.addr; });
    if (lab == labels_.begin()) return nullptr;
    --lab;
    if (any_before && last_start > lab->addr) return nullptr;
    return lab->name;
}

std::unique_ptr<ElfImage> open_debug_file(const std::string& path, const ElfImage& image) noexcept
{
    try {
        auto accept = [&](const std::string& candidate) -> std::unique_ptr<ElfImage> {
            if (candidate == path || !readable_file(candidate)) return nullptr;
            auto debug = ElfImage::open(candidate);
            if (debug == nullptr) return nullptr;
            if (!image.build_id().empty() && !debug->build_id().empty() &&
                debug->build_id() != image.build_id())
                return nullptr;
            return debug;
        };
        const std::string& id = image.build_id();
        if (id.size() > 2) {
            const std::string candidate =
                "/usr/lib/debug/.build-id/" + id.substr(0, 2) + "/" + id.substr(2) + ".debug";
            if (auto debug = accept(candidate)) return debug;
        }
        const std::string& link = image.debuglink();
        if (link.empty() || link.find('/') != std::string::npos) return nullptr;
        const std::size_t slash = path.rfind('/');
        const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
        for (const std::string& candidate :
             {dir + "/" + link, dir + "/.debug/" + link, "/usr/lib/debug" + dir + "/" + link})
            if (auto debug = accept(candidate)) return debug;
        return nullptr;
    } catch (...) {
        return nullptr;
    }
}

}  // namespace memtrack::detail
