// Integration-test harness: runs real processes (under LD_PRELOAD=libmemtrack.so by default),
// captures stdout/stderr/exit status, and reads the JSON reports they write.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace mt_test {

struct RunOptions {
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env;  // set (overriding) for the child
    std::vector<std::string> unset_env;                    // removed for the child
    bool preload = true;                                   // prepend lib_path() to LD_PRELOAD
    std::string cwd;
    std::string stdin_data;
    int timeout_s = 60;  // then the child's process group is killed (RunResult::timed_out)
};

struct RunResult {
    int exit_code = -1;   // -1 if killed by a signal
    int term_signal = 0;  // the signal, if killed
    std::string out;
    std::string err;
    bool timed_out = false;  // killed with SIGKILL after RunOptions::timeout_s
};

// fork/execvp (the child in a process group of its own), feeding stdin_data and draining
// stdout/stderr concurrently (no pipe deadlock); waits for the exit. The environment is the
// current one with `env` overriding, `unset_env` removed, and with preload, lib_path() put in
// front of LD_PRELOAD (before any LD_PRELOAD given in `env`). Exec failure: exit code 127.
RunResult run(const RunOptions& options);

std::string build_dir();
std::string source_dir();
std::string lib_path();                        // the libmemtrack.so under test
std::string bin(const std::string& name);      // build/bin/<name>
std::string program(const std::string& name);  // build/bin/tests/programs/<name>

// A fresh directory under /tmp, removed with its contents.
struct TempDir {
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string path;
    std::string file(const std::string& name) const { return path + "/" + name; }
};

// Every *.json file in dir (sorted by name), parsed.
std::vector<nlohmann::json> reports_in(const std::string& dir);
// Exactly one report in dir, else the test fails listing what is there.
nlohmann::json only_report(const std::string& dir);
// Exactly one report in dir that is not an exec report (a shell that execs the program, as in
// `sh -c 'exec prog 2>&1'`, writes one before it is replaced); else the test fails.
nlohmann::json final_report(const std::string& dir);
// Lines of `text` that start with "memtrack:".
std::vector<std::string> memtrack_lines(const std::string& text);
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);

}  // namespace mt_test
