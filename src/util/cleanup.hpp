// What must not outlive an interrupted run: temporary files in the making and the process groups of
// child processes. Each is registered for as long as it exists; on SIGINT, SIGTERM or SIGHUP the
// handler installed by install_signal_cleanup() kills the registered groups, removes the registered
// files, and lets the signal end the process as it would have (exit status 128 + signal).
#pragma once

#include <sys/types.h>
#include <filesystem>

namespace gguf::util {

// Removes the file when it goes out of scope unless released (the file was renamed into place).
class TempFileGuard {
public:
    explicit TempFileGuard(std::filesystem::path path);
    ~TempFileGuard();
    TempFileGuard(const TempFileGuard&) = delete;
    TempFileGuard& operator=(const TempFileGuard&) = delete;
    void release();  // the file is no longer temporary: neither remove it nor register it

private:
    std::filesystem::path path_;
    int slot_ = -1;
};

// Registers a child's process group (its pid, the child being a group leader) to be killed with
// SIGKILL if we are interrupted. The owner still kills and reaps the child in the normal course.
class ChildGroupGuard {
public:
    explicit ChildGroupGuard(pid_t pgid);
    ~ChildGroupGuard();
    ChildGroupGuard(const ChildGroupGuard&) = delete;
    ChildGroupGuard& operator=(const ChildGroupGuard&) = delete;

private:
    int slot_ = -1;
};

// Installs the handler for SIGINT, SIGTERM and SIGHUP (once; later calls do nothing).
void install_signal_cleanup();

}  // namespace gguf::util
