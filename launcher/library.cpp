// Finding libmemtrack.so and composing LD_PRELOAD: for the program (library first, the user's
// preloads kept) and for the launcher itself (never tracked). Start-up path; may allocate.
#include "launcher.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace memtrack::launcher {

namespace {

std::string directory_of(const std::string& path)
{
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string absolute(const std::string& path)
{
    char resolved[PATH_MAX];
    return realpath(path.c_str(), resolved) != nullptr ? std::string(resolved) : std::string();
}

// ld.so splits LD_PRELOAD at colons and spaces (ld.so(8)).
std::vector<std::string> preload_entries(const char* value)
{
    std::vector<std::string> entries;
    std::string current;
    for (const char* c = value; c != nullptr && *c != '\0'; ++c) {
        if (*c == ':' || *c == ' ') {
            if (!current.empty()) entries.push_back(std::move(current));
            current.clear();
        } else {
            current += *c;
        }
    }
    if (!current.empty()) entries.push_back(std::move(current));
    return entries;
}

bool is_memtrack_library(const std::string& entry)
{
    const auto slash = entry.rfind('/');
    const std::string_view name = std::string_view(entry).substr(slash + 1);
    return name.starts_with("libmemtrack.so");
}

}  // namespace

std::string find_library(std::string& looked_at)
{
    if (const char* env = std::getenv("MEMTRACK_LIBRARY"); env != nullptr && *env != '\0') {
        looked_at = fmt::format("MEMTRACK_LIBRARY={}", env);
        return access(env, R_OK) == 0 ? absolute(env) : std::string();
    }
    // /proc/self/exe has symlinks resolved, so a symlink to the launcher (say in ~/bin) still
    // finds the library beside the real file.
    char self[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        looked_at = fmt::format("/proc/self/exe ({})", std::strerror(errno));
        return {};
    }
    self[n] = '\0';
    const std::string candidate = directory_of(self) + "/../lib/libmemtrack.so";
    looked_at = candidate;
    return access(candidate.c_str(), R_OK) == 0 ? absolute(candidate) : std::string();
}

std::string child_preload(const std::string& library)
{
    std::string preload = library;
    if (const char* old = std::getenv("LD_PRELOAD"); old != nullptr && *old != '\0') {
        preload += ':';
        preload += old;
    }
    return preload;
}

void stop_tracking_self(char** argv)
{
    // The library exports memtrack_is_active; finding it means it is loaded into the launcher.
    if (dlsym(RTLD_DEFAULT, "memtrack_is_active") == nullptr) return;
    const char* env = std::getenv("LD_PRELOAD");
    const std::string old = env != nullptr ? env : "";
    std::string kept;
    bool removed = false;
    for (const std::string& entry : preload_entries(old.c_str())) {
        if (is_memtrack_library(entry)) {
            removed = true;
            continue;
        }
        if (!kept.empty()) kept += ':';
        kept += entry;
    }
    if (!removed) return;  // loaded some other way: nothing a re-exec would change
    if (kept.empty())
        unsetenv("LD_PRELOAD");
    else
        setenv("LD_PRELOAD", kept.c_str(), 1);
    // The raw system call: libmemtrack.so interposes execv to write an exec report first, and
    // this image of the launcher is not the user's to report on.
    syscall(SYS_execve, "/proc/self/exe", argv, environ);
    fmt::print(stderr, "memtrack: cannot re-run the launcher without libmemtrack.so: {}\n",
               std::strerror(errno));
    setenv("LD_PRELOAD", old.c_str(), 1);
}

}  // namespace memtrack::launcher
