// Running the program: LD_PRELOAD prepended, MEMTRACK_* set, signals forwarded, exit status
// passed back, and the report announced. The signal handler and the forked child before exec
// use async-signal-safe calls only; everything they need is built before fork().
#include "launcher.hpp"
#include "run_dir.hpp"

#include <fmt/core.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace memtrack::launcher {

namespace {

constexpr std::array kForwardedSignals{SIGINT, SIGTERM, SIGHUP, SIGQUIT};

volatile sig_atomic_t g_child = 0;

// Passes a signal sent to the launcher on to the program. A terminal's Ctrl-C or Ctrl-\ (sent
// by the kernel, si_code SI_KERNEL) already went to the whole foreground process group, the
// program included; forwarding it would deliver it twice. Signals from kill(2) (SI_USER) and
// a hangup (which may reach only the session leader) are forwarded. A kill(2) aimed at the
// whole process group still arrives twice: there is no way to tell it apart.
void forward_signal(int sig, siginfo_t* info, void*)
{
    if ((sig == SIGINT || sig == SIGQUIT) && info != nullptr && info->si_code == SI_KERNEL) return;
    const pid_t child = g_child;
    if (child > 0) kill(child, sig);
}

// "NAME=value" strings for the program's environment: ours, with LD_PRELOAD and the settings
// replaced.
std::vector<std::string> child_environment(const RunRequest& request)
{
    std::vector<std::pair<std::string, std::string>> replaced;
    replaced.emplace_back("LD_PRELOAD", child_preload(request.library));
    for (const Setting& s : request.settings)
        replaced.emplace_back(s.variable, s.value);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry = *e;
        const std::string_view name = entry.substr(0, entry.find('='));
        bool keep = true;
        for (const auto& r : replaced)
            keep = keep && r.first != name;
        if (keep) env.emplace_back(entry);
    }
    for (const auto& [name, value] : replaced)
        env.push_back(name + "=" + value);
    return env;
}

}  // namespace

int run_program(const RunRequest& given, std::string* report_path)
{
    // The run directory and what the processes write (run_dir.cpp), decided before fork().
    RunRequest request = given;
    RunPlan plan;
    if (!plan_run(request, request.quiet, plan)) return 127;
    // Everything the child needs, built before fork().
    std::vector<std::string> env_strings = child_environment(request);
    std::vector<char*> envp;
    for (std::string& s : env_strings)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = request.command;
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    // Block the forwarded signals until g_child is set, so none arriving around fork() is lost.
    // A signal the launcher was started with ignored (nohup, a background job of a
    // non-interactive shell) stays ignored, for the program too, as a shell would leave it.
    sigset_t forwarded, old_mask;
    sigemptyset(&forwarded);
    for (int sig : kForwardedSignals)
        sigaddset(&forwarded, sig);
    sigprocmask(SIG_BLOCK, &forwarded, &old_mask);
    std::array<bool, kForwardedSignals.size()> handled{};
    for (std::size_t i = 0; i < kForwardedSignals.size(); ++i) {
        struct sigaction current {};
        sigaction(kForwardedSignals[i], nullptr, &current);
        if (current.sa_handler == SIG_IGN) continue;
        struct sigaction sa {};
        sa.sa_sigaction = forward_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigaction(kForwardedSignals[i], &sa, nullptr);
        handled[i] = true;
    }

    timespec started{};
    clock_gettime(CLOCK_REALTIME, &started);
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
        for (std::size_t i = 0; i < kForwardedSignals.size(); ++i)
            if (handled[i]) signal(kForwardedSignals[i], SIG_DFL);
        sigprocmask(SIG_SETMASK, &old_mask, nullptr);
        close(exec_pipe[0]);
        // execvpe searches the launcher's PATH, as the shell would have.
        execvpe(argv[0], argv.data(), envp.data());
        const int err = errno;
        [[maybe_unused]] const ssize_t w = write(exec_pipe[1], &err, sizeof err);
        _exit(127);
    }
    g_child = pid;
    sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    close(exec_pipe[1]);
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
        remove_if_empty(plan);
        return 127;
    }
    int code = 127;
    if (WIFEXITED(status))
        code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        code = 128 + WTERMSIG(status);
    const std::string found = summarize_run(request, plan, pid, started, status);
    if (report_path != nullptr) *report_path = found;
    return code;
}

}  // namespace memtrack::launcher
