// Test support: run the CLI as a user runs it and capture exit code, stdout and stderr.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace testing_support {

struct RunResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs `command` through /bin/sh (test-controlled arguments only). Returns the exit code, or
// 128 + signal when the process died of a signal.
inline RunResult run_command(const std::string& command) {
    static int counter = 0;
    const auto dir = std::filesystem::temp_directory_path() /
                     ("gguf_cli_run_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(dir);
    const auto out = dir / "out";
    const auto err = dir / "err";
    const int status = std::system((command + " >'" + out.string() + "' 2>'" + err.string() + "'").c_str());
    RunResult r;
    if (WIFEXITED(status))
        r.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        r.exit_code = 128 + WTERMSIG(status);
    r.out = slurp(out);
    r.err = slurp(err);
    std::filesystem::remove_all(dir);
    return r;
}

inline std::string quoted(const std::filesystem::path& p) {
    return "'" + p.string() + "'";
}

// Root reads and writes anything, so a test of a permission fault runs its command as nobody
// (uid/gid 65534) when the tests run as root, as CI does: `setpriv` (util-linux) drops the ids and
// every supplementary group before exec. Paths the command must reach are the test's to grant
// (give_to_unprivileged); the ones it must not, the test leaves root's with no permission bits.
constexpr unsigned kUnprivilegedId = 65534;

inline bool running_as_root() {
    return ::geteuid() == 0;
}

// `command` (a program and its arguments, no leading VAR=value) as nobody when root, else as is.
inline std::string unprivileged(const std::string& command) {
    if (!running_as_root()) return command;
    return "setpriv --reuid=" + std::to_string(kUnprivilegedId) + " --regid=" + std::to_string(kUnprivilegedId) +
           " --clear-groups " + command;
}

// Make `p` the unprivileged user's when root (so that `unprivileged` commands may write there); a
// no-op otherwise, where the test's own user owns it already. Returns false when chown fails.
inline bool give_to_unprivileged(const std::filesystem::path& p) {
    return !running_as_root() || ::chown(p.c_str(), kUnprivilegedId, kUnprivilegedId) == 0;
}

// Starts argv[0] (a path) with argv, its stdout and stderr sent to /dev/null, without waiting: the
// caller watches or signals the child and reaps it.
inline pid_t spawn_quiet(const std::vector<std::string>& argv) {
    const pid_t pid = fork();
    if (pid == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    return pid;
}

// The peak resident memory (VmHWM, KiB) of the process running argv, itself only (not its children),
// sampled every 10 ms until it exits; and its exit status.
inline long own_peak_kib(const std::vector<std::string>& argv, int& exit_code) {
    const pid_t pid = spawn_quiet(argv);
    long peak = 0;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        std::ifstream in("/proc/" + std::to_string(pid) + "/status");
        for (std::string line; std::getline(in, line);) {
            if (line.rfind("VmHWM:", 0) == 0) peak = std::max(peak, std::stol(line.substr(6)));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return peak;
}

}  // namespace testing_support
