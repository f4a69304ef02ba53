// Running the program: LD_PRELOAD prepended, MEMTRACK_* set, signals forwarded, exit status
// passed back, and the report announced.
#include "launcher.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <glob.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace memtrack::launcher {

namespace {

volatile sig_atomic_t g_child = 0;

void forward_signal(int sig)
{
    if (g_child > 0) kill(g_child, sig);
}

std::string directory_of(const std::string& path)
{
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

// The report path pattern for the child: the library expands %p to the pid and %e to the
// executable's name (a glob here); it inserts .N before .json when the name is taken.
std::string report_glob(const std::string& templ, pid_t pid)
{
    std::string out;
    for (std::size_t i = 0; i < templ.size(); ++i) {
        if (templ[i] == '%' && i + 1 < templ.size()) {
            const char c = templ[++i];
            if (c == 'p')
                out += std::to_string(pid);
            else if (c == 'e')
                out += '*';
            else if (c == '%')
                out += '%';
            else
                out += templ.substr(i - 1, 2);
        } else if (templ[i] == '*' || templ[i] == '?' || templ[i] == '[') {
            out += '\\';
            out += templ[i];
        } else {
            out += templ[i];
        }
    }
    return out;
}

std::string newest_match(const std::string& pattern)
{
    std::string best;
    timespec best_time{};
    std::string numbered = pattern;
    if (numbered.size() > 5 && numbered.ends_with(".json"))
        numbered.insert(numbered.size() - 5, ".[0-9]*");
    else
        numbered += ".[0-9]*";
    for (const std::string& p : {pattern, numbered}) {
        glob_t g{};
        if (glob(p.c_str(), 0, nullptr, &g) == 0) {
            for (std::size_t i = 0; i < g.gl_pathc; ++i) {
                struct stat st {};
                if (stat(g.gl_pathv[i], &st) != 0) continue;
                if (best.empty() || st.st_mtim.tv_sec > best_time.tv_sec ||
                    (st.st_mtim.tv_sec == best_time.tv_sec &&
                     st.st_mtim.tv_nsec > best_time.tv_nsec)) {
                    best = g.gl_pathv[i];
                    best_time = st.st_mtim;
                }
            }
        }
        globfree(&g);
    }
    return best;
}

std::string setting_or_env(const RunRequest& r, const char* variable, const char* fallback)
{
    for (const Setting& s : r.settings)
        if (s.variable == variable) return s.value;
    const char* env = std::getenv(variable);
    return env != nullptr && *env != '\0' ? env : fallback;
}

void announce_report(const RunRequest& r, pid_t pid)
{
    const std::string kinds = setting_or_env(r, "MEMTRACK_REPORT", "text,json");
    if (kinds.find("json") == std::string::npos) return;
    std::string templ = setting_or_env(r, "MEMTRACK_OUTPUT", "memtrack.%e.%p.json");
    const std::string found = newest_match(report_glob(templ, pid));
    if (!found.empty())
        fmt::print(stderr, "memtrack: report written to {}\n", found);
    else
        fmt::print(stderr,
                   "memtrack: no report found for pid {} (the program did not exit normally, "
                   "exec'd another program, could not write to {}, or MEMTRACK_REPORT={})\n",
                   pid, directory_of(templ), kinds);
}

}  // namespace

std::string default_library()
{
    if (const char* env = std::getenv("MEMTRACK_LIBRARY"); env != nullptr && *env != '\0')
        return env;
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return {};
    self[n] = '\0';
    const std::string bindir = directory_of(self);
    for (const char* rel : {"/../lib/libmemtrack.so", "/../lib64/libmemtrack.so",
                            "/../lib/x86_64-linux-gnu/libmemtrack.so"}) {
        const std::string candidate = bindir + rel;
        char resolved[4096];
        if (realpath(candidate.c_str(), resolved) != nullptr) return resolved;
    }
    return {};
}

int run_program(const RunRequest& request)
{
    std::string preload = request.library;
    if (const char* old = std::getenv("LD_PRELOAD"); old != nullptr && *old != '\0') {
        preload += ':';
        preload += old;
    }
    struct sigaction sa {};
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT})
        sigaction(sig, &sa, nullptr);

    // A close-on-exec pipe tells the parent whether exec succeeded (nothing arrives) or failed
    // (the child writes errno), so a program's own exit status 127 is not mistaken for it.
    int exec_pipe[2];
    if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
        fmt::print(stderr, "memtrack: pipe failed: {}\n", std::strerror(errno));
        return 127;
    }
    const pid_t pid = fork();
    if (pid < 0) {
        fmt::print(stderr, "memtrack: fork failed: {}\n", std::strerror(errno));
        return 127;
    }
    if (pid == 0) {
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT})
            signal(sig, SIG_DFL);
        setenv("LD_PRELOAD", preload.c_str(), 1);
        for (const Setting& s : request.settings)
            setenv(s.variable.c_str(), s.value.c_str(), 1);
        std::vector<char*> argv;
        for (const std::string& a : request.command)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        close(exec_pipe[0]);
        execvp(argv[0], argv.data());
        const int err = errno;
        [[maybe_unused]] ssize_t w = write(exec_pipe[1], &err, sizeof err);
        _exit(err == ENOENT ? 127 : 126);
    }
    close(exec_pipe[1]);
    g_child = pid;
    int exec_errno = 0;
    ssize_t got;
    while ((got = read(exec_pipe[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
    }
    close(exec_pipe[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fmt::print(stderr, "memtrack: waitpid failed: {}\n", std::strerror(errno));
            return 127;
        }
    }
    g_child = 0;
    if (got == static_cast<ssize_t>(sizeof exec_errno)) {
        fmt::print(stderr, "memtrack: cannot run {}: {}\n", request.command[0],
                   std::strerror(exec_errno));
        return exec_errno == ENOENT ? 127 : 126;
    }
    if (WIFEXITED(status)) {
        announce_report(request, pid);
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        fmt::print(stderr, "memtrack: {} was killed by signal {} ({}); no report\n",
                   request.command[0], WTERMSIG(status), strsignal(WTERMSIG(status)));
        return 128 + WTERMSIG(status);
    }
    return 127;
}

}  // namespace memtrack::launcher
