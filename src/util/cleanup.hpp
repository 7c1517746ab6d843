// What must not outlive an interrupted run: temporary files in the making and the process groups of
// child processes. Each is registered for as long as it exists; on SIGINT, SIGTERM or SIGHUP the
// handler installed by install_signal_cleanup() kills the registered groups, removes the registered
// files, and lets the signal end the process as it would have (exit status 128 + signal).
//
// Registration has two steps so that no signal, on any thread, falls between the creation of a
// thing and its registration: a guard is made before the file or the child is created (its slot is
// reserved), and told once it exists. The handler waits for reserved slots to be settled before it
// acts, and once it has begun, no new reservation is granted: the thread that asks waits to end
// with the process.
#pragma once

#include <sys/types.h>
#include <filesystem>

namespace gguf::util {

// Removes the file when it goes out of scope unless released (the file was renamed into place).
class TempFileGuard {
public:
    explicit TempFileGuard(std::filesystem::path path);  // before the file is created
    ~TempFileGuard();
    TempFileGuard(const TempFileGuard&) = delete;
    TempFileGuard& operator=(const TempFileGuard&) = delete;
    void created();  // the file now exists: remove it on a signal and on destruction
    void release();  // the file is no longer temporary (renamed) or was never made: leave it alone

private:
    std::filesystem::path path_;
    int slot_ = -1;
    bool exists_ = false;
};

// Registers a child's process group (its pid, the child being a group leader) to be killed with
// SIGKILL if we are interrupted. The owner still kills and reaps the child in the normal course.
class ChildGroupGuard {
public:
    ChildGroupGuard();  // before the child is started
    ~ChildGroupGuard();
    ChildGroupGuard(const ChildGroupGuard&) = delete;
    ChildGroupGuard& operator=(const ChildGroupGuard&) = delete;
    void started(pid_t pgid);  // the child runs: kill its group on a signal
    void release();            // the child could not be started, or is reaped: forget it

private:
    int slot_ = -1;
};

// Installs the handler for SIGINT, SIGTERM and SIGHUP (once; later calls do nothing).
void install_signal_cleanup();

}  // namespace gguf::util
