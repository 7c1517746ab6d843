// Running a child process safely: an argument vector (never a shell), stdout and stderr read
// concurrently with size caps, a timeout enforced by killing the child's whole process group, and
// an exact report of how it ended. Nothing the child does can take the caller down with it.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gguf::reference {

struct ProcessSpec {
    std::filesystem::path program;                         // a path (with a '/'), or a bare name looked up in PATH
    std::vector<std::string> args;                         // argv[1..], passed through untouched
    std::vector<std::pair<std::string, std::string>> env;  // added to (or replacing in) our environment
    std::chrono::milliseconds timeout{60000};
    std::size_t stdout_cap = std::size_t{512} << 20;  // past it the child is killed (stdout_overflow)
    std::size_t stderr_cap = std::size_t{1} << 20;    // past it only the last stderr_cap bytes are kept
};

struct ProcessResult {
    bool started = false;
    std::string spawn_error;    // why it did not start
    int exit_code = -1;         // when it exited normally
    std::optional<int> signal;  // the signal that ended it (SIGKILL after a timeout or an overflow)
    bool timed_out = false;
    bool stdout_overflow = false;
    bool stderr_truncated = false;  // the head of stderr was dropped
    std::string out;
    std::string err;
    double duration_ms = 0;

    bool exited_normally() const { return started && !signal.has_value(); }
};

// Spawn the program in its own process group, stdin from /dev/null, and wait for it. Never throws
// for anything the child does; failures to start are reported in spawn_error.
ProcessResult run_process(const ProcessSpec& spec);

// "SIGABRT", "SIGSEGV", ... or "signal N".
std::string signal_name(int signal);

}  // namespace gguf::reference
