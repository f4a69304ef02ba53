// Finding a program's own definitions by name (see program_symbol.hpp).
#include "platform/program_symbol.hpp"

#include <cstdint>
#include <cstring>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace memtrack::detail {

namespace {

// The main executable's load bias (0 for a non-PIE program): the first dl_iterate_phdr entry.
std::uintptr_t main_bias() noexcept
{
    std::uintptr_t bias = 0;
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* out) -> int {
            *static_cast<std::uintptr_t*>(out) = info->dlpi_addr;
            return 1;
        },
        &bias);
    return bias;
}

// `name`'s value in the .symtab of the ELF image [base, base + size), or 0.
std::uintptr_t symtab_value(const unsigned char* base, std::size_t size, const char* name) noexcept
{
    if (size < sizeof(Elf64_Ehdr) || std::memcmp(base, ELFMAG, SELFMAG) != 0 ||
        base[EI_CLASS] != ELFCLASS64)
        return 0;
    const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
    if (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff == 0 ||
        eh->e_shoff + std::uint64_t{eh->e_shnum} * sizeof(Elf64_Shdr) > size)
        return 0;
    const auto* sh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
    for (unsigned i = 0; i < eh->e_shnum; ++i) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
        const Elf64_Shdr& strs = sh[sh[i].sh_link];
        if (sh[i].sh_offset + sh[i].sh_size > size || strs.sh_offset + strs.sh_size > size)
            return 0;
        const auto* syms = reinterpret_cast<const Elf64_Sym*>(base + sh[i].sh_offset);
        const std::size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
        const char* str = reinterpret_cast<const char*>(base + strs.sh_offset);
        for (std::size_t k = 0; k < n; ++k) {
            const Elf64_Sym& s = syms[k];
            if (s.st_shndx == SHN_UNDEF || s.st_value == 0 || s.st_name >= strs.sh_size) continue;
            const int type = ELF64_ST_TYPE(s.st_info);
            if (type != STT_FUNC && type != STT_OBJECT) continue;
            const char* sym = str + s.st_name;
            if (std::strncmp(sym, name, strs.sh_size - s.st_name) == 0) return s.st_value;
        }
    }
    return 0;
}

}  // namespace

void* program_symbol(const char* name) noexcept
{
    if (void* p = dlsym(RTLD_DEFAULT, name); p != nullptr) return p;
    const int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    struct stat st {};
    void* image = MAP_FAILED;
    if (fstat(fd, &st) == 0 && st.st_size > 0)
        image = mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (image == MAP_FAILED) return nullptr;
    const std::uintptr_t value = symtab_value(static_cast<const unsigned char*>(image),
                                              static_cast<std::size_t>(st.st_size), name);
    munmap(image, static_cast<std::size_t>(st.st_size));
    return value == 0 ? nullptr : reinterpret_cast<void*>(main_bias() + value);
}

}  // namespace memtrack::detail
