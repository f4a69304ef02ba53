// Integration-test harness (see harness.hpp).
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace mt_test {

std::string build_dir()
{
    return MT_BUILD_DIR;
}
std::string source_dir()
{
    return MT_SOURCE_DIR;
}
std::string lib_path()
{
    return MT_LIB_PATH;
}
std::string bin(const std::string& name)
{
    return build_dir() + "/bin/" + name;
}
std::string program(const std::string& name)
{
    return build_dir() + "/bin/tests/programs/" + name;
}

RunResult run(const RunOptions& options)
{
    REQUIRE(!options.argv.empty());
    int in[2], out[2], err[2];
    REQUIRE(pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(pipe2(err, O_CLOEXEC) == 0);
    // Build the environment before forking (no allocation in the child).
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry = *e;
        const std::string key = entry.substr(0, entry.find('='));
        const bool overridden = std::any_of(options.env.begin(), options.env.end(),
                                            [&](const auto& kv) { return kv.first == key; }) ||
                                std::find(options.unset_env.begin(), options.unset_env.end(),
                                          key) != options.unset_env.end() ||
                                (options.preload && key == "LD_PRELOAD");
        if (!overridden) env_strings.push_back(entry);
    }
    for (const auto& [k, v] : options.env) {
        if (options.preload && k == "LD_PRELOAD") continue;
        env_strings.push_back(k + "=" + v);
    }
    if (options.preload) {
        std::string preload = lib_path();
        for (const auto& [k, v] : options.env)
            if (k == "LD_PRELOAD" && !v.empty()) preload += ":" + v;
        env_strings.push_back("LD_PRELOAD=" + preload);
    }
    std::vector<char*> envp, argv;
    for (auto& s : env_strings)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = options.argv;
    for (auto& s : args)
        argv.push_back(s.data());
    argv.push_back(nullptr);

    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);  // the harness ignores it; the program must not inherit that
        setpgid(0, 0);             // a process group of its own, killed whole on a timeout
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) _exit(126);
        execvpe(argv[0], argv.data(), envp.data());
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    // Feed stdin and drain both outputs together. The write end is non-blocking: a child that
    // writes a lot before reading its input must not wait for us while we wait for it.
    REQUIRE(fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK) == 0);
    std::size_t fed = 0;
    if (options.stdin_data.empty()) {
        close(in[1]);
        in[1] = -1;
    }
    RunResult result;
    bool out_open = true, err_open = true;
    signal(SIGPIPE, SIG_IGN);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(options.timeout_s);
    while (out_open || err_open || in[1] >= 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            // A hung program (or a grandchild holding the pipes): kill its whole group.
            result.timed_out = true;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            if (in[1] >= 0) close(in[1]);
            break;
        }
        pollfd fds[3];
        int n = 0;
        if (out_open) fds[n++] = {out[0], POLLIN, 0};
        if (err_open) fds[n++] = {err[0], POLLIN, 0};
        if (in[1] >= 0) fds[n++] = {in[1], POLLOUT, 0};
        if (poll(fds, static_cast<nfds_t>(n), static_cast<int>(left.count())) < 0) {
            if (errno == EINTR) continue;
            FAIL("poll failed");
        }
        for (int i = 0; i < n; ++i) {
            if (fds[i].revents == 0) continue;
            if (fds[i].fd == in[1]) {
                const ssize_t w =
                    write(in[1], options.stdin_data.data() + fed, options.stdin_data.size() - fed);
                if (w > 0) fed += static_cast<std::size_t>(w);
                const bool again = w < 0 && (errno == EAGAIN || errno == EINTR);
                if ((w < 0 && !again) || fed == options.stdin_data.size()) {
                    close(in[1]);
                    in[1] = -1;
                }
                continue;
            }
            char buf[65536];
            const ssize_t r = read(fds[i].fd, buf, sizeof buf);
            std::string& sink = fds[i].fd == out[0] ? result.out : result.err;
            if (r > 0) {
                sink.append(buf, static_cast<std::size_t>(r));
            } else if (r == 0 || errno != EINTR) {
                if (fds[i].fd == out[0])
                    out_open = false;
                else
                    err_open = false;
            }
        }
    }
    close(out[0]);
    close(err[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
    if (result.timed_out)
        WARN("timed out after " << options.timeout_s << " s and killed: " << options.argv[0]);
    return result;
}

TempDir::TempDir()
{
    char templ[] = "/tmp/memtrack-test-XXXXXX";
    const char* made = mkdtemp(templ);
    REQUIRE(made != nullptr);
    path = made;
}

TempDir::~TempDir()
{
    const std::string cmd = "rm -rf '" + path + "'";
    [[maybe_unused]] const int rc = std::system(cmd.c_str());
}

std::string read_file(const std::string& path)
{
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool file_exists(const std::string& path)
{
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
}

std::vector<nlohmann::json> reports_in(const std::string& dir)
{
    std::vector<std::string> names;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            const std::string name = e->d_name;
            if (name.size() > 5 && name.ends_with(".json")) names.push_back(name);
        }
        closedir(d);
    }
    std::sort(names.begin(), names.end());
    std::vector<nlohmann::json> reports;
    for (const auto& name : names) {
        INFO("report " << dir << "/" << name);
        reports.push_back(nlohmann::json::parse(read_file(dir + "/" + name)));
    }
    return reports;
}

nlohmann::json only_report(const std::string& dir)
{
    auto reports = reports_in(dir);
    if (reports.size() != 1) {
        std::string listing;
        for (const auto& r : reports)
            listing += r.value("program", "?") + " ";
        FAIL("expected one report in " << dir << ", found " << reports.size() << ": " << listing);
    }
    return reports.front();
}

nlohmann::json final_report(const std::string& dir)
{
    std::vector<nlohmann::json> reports;
    std::string listing;
    for (auto& r : reports_in(dir)) {
        listing += r.value("program", "?") + " (" + r.value("reason", "?") + ") ";
        if (r.value("reason", "") != "exec") reports.push_back(std::move(r));
    }
    if (reports.size() != 1)
        FAIL("expected one report other than exec reports in "
             << dir << ", found " << reports.size() << ": " << listing);
    return reports.front();
}

std::vector<std::string> memtrack_lines(const std::string& text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.rfind("memtrack:", 0) == 0) lines.push_back(line);
    return lines;
}

}  // namespace mt_test
