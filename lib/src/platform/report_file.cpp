// Atomic no-clobber report files: mkostemp + write + renameat2(RENAME_NOREPLACE), falling back
// to link()+unlink() where the filesystem lacks RENAME_NOREPLACE. Neither replaces a file or
// follows a symlink at the destination.
#include "platform/report_file.hpp"

#include "platform/log.hpp"
#include "platform/report_name.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace memtrack::detail {

namespace {

// Moves tmp to dest unless dest exists. Returns 0, EEXIST, or another errno.
int place_no_replace(const char* tmp, const char* dest) noexcept
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return errno;
    if (link(tmp, dest) != 0) return errno;
    unlink(tmp);
    return 0;
}

// dest with ".N" inserted where report_name::numbered_parts says.
bool numbered(const char* path, unsigned n, char* out, std::size_t size) noexcept
{
    const auto [stem, ext] = report_name::numbered_parts(path);
    const auto r = fmt::format_to_n(out, size - 1, "{}.{}{}", stem, n, ext);
    if (r.size >= size - 1) return false;
    out[r.size] = '\0';
    return true;
}

}  // namespace

namespace {

// The data in a new temporary file beside `path` (so that the rename stays on one filesystem);
// its name into tmp. Returns 0 or an errno value (no file left behind).
int write_temporary(const char* path, std::string_view data, char (&tmp)[4200]) noexcept
{
    const std::string_view p(path);
    const std::size_t slash = p.rfind('/');
    const std::string_view dir =
        slash == std::string_view::npos ? std::string_view(".") : p.substr(0, slash ? slash : 1);
    const auto r = fmt::format_to_n(tmp, sizeof tmp - 1, "{}/.memtrack-{}-XXXXXX", dir, getpid());
    if (r.size >= sizeof tmp - 1) return ENAMETOOLONG;
    tmp[r.size] = '\0';
    const int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) return errno;
    fchmod(fd, 0644);  // mkostemp creates 0600; a report is an ordinary file
    bool ok = write_all(fd, data.data(), data.size());
    int err = ok ? 0 : errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        unlink(tmp);
        return err;
    }
    return 0;
}

}  // namespace

int replace_report_file(const char* path, std::string_view data, char* final_path,
                        std::size_t final_size) noexcept
{
    char tmp[4200];
    if (const int err = write_temporary(path, data, tmp); err != 0) return err;
    if (rename(tmp, path) != 0) {
        const int err = errno;
        unlink(tmp);
        return err;
    }
    std::snprintf(final_path, final_size, "%s", path);
    return 0;
}

int write_report_file(const char* path, std::string_view data, char* final_path,
                      std::size_t final_size) noexcept
{
    char tmp[4200];
    int err = write_temporary(path, data, tmp);
    if (err != 0) return err;
    char dest[4200];
    std::snprintf(dest, sizeof dest, "%s", path);
    for (unsigned n = 1;; ++n) {
        err = place_no_replace(tmp, dest);
        if (err != EEXIST) break;
        if (n > report_name::kMaxNumber || !numbered(path, n, dest, sizeof dest)) break;
    }
    if (err != 0) {
        unlink(tmp);
        return err;
    }
    std::snprintf(final_path, final_size, "%s", dest);
    return 0;
}

}  // namespace memtrack::detail
