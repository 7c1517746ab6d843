// The child-process runner: posix_spawn, a poll loop over two pipes, process-group kill on timeout.
#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <thread>

#include "util/cleanup.hpp"
#include "util/fd.hpp"

extern char** environ;

namespace gguf::reference {
namespace {

using Clock = std::chrono::steady_clock;

using Fd = util::UniqueFd;

// The child's environment: ours, with spec.env set on top.
std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& overrides) {
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string_view entry(*e);
        const auto eq = entry.find('=');
        const auto name = entry.substr(0, eq);
        const bool overridden =
            std::any_of(overrides.begin(), overrides.end(), [&](const auto& kv) { return kv.first == name; });
        if (!overridden) env.emplace_back(entry);
    }
    for (const auto& [k, v] : overrides) env.push_back(k + "=" + v);
    return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
    std::vector<char*> p;
    p.reserve(strings.size() + 1);
    for (auto& s : strings) p.push_back(s.data());
    p.push_back(nullptr);
    return p;
}

bool make_pipe(Fd& read_end, Fd& write_end, std::string& error) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        error = std::string("pipe2: ") + std::strerror(errno);
        return false;
    }
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
    ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    return true;
}

// Spawn in a new process group with default signal dispositions and an empty signal mask.
pid_t spawn(const ProcessSpec& spec, int out_fd, int err_fd, std::string& error) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, err_fd, 2);

    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2, SIGABRT, SIGSEGV,
                  SIGBUS, SIGFPE, SIGILL, SIGTTIN, SIGTTOU, SIGTSTP}) {
        sigaddset(&defaults, s);
    }
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<std::string> argv_s;
    argv_s.push_back(spec.program.string());
    argv_s.insert(argv_s.end(), spec.args.begin(), spec.args.end());
    auto env_s = child_environment(spec.env);
    auto argv = pointers(argv_s);
    auto envp = pointers(env_s);

    pid_t pid = -1;
    const bool search = spec.program.string().find('/') == std::string::npos;
    const int rc = search ? ::posix_spawnp(&pid, argv_s[0].c_str(), &actions, &attr, argv.data(), envp.data())
                          : ::posix_spawn(&pid, argv_s[0].c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        error = "cannot start " + spec.program.string() + ": " + std::strerror(rc);
        return -1;
    }
    return pid;
}

// Kill the child's whole process group (it is the group leader). Harmless if it is gone.
void kill_group(pid_t pid) {
    ::kill(-pid, SIGKILL);
}

// Which part of a stream over its cap is kept: the head (stdout: an answer cut short is refused) or
// the tail (stderr: the last lines say why a child died).
enum class Keep { head, tail };

// Read what is available on fd. Returns false at EOF or on error.
bool drain(int fd, std::string& sink, std::size_t cap, Keep keep, bool& overflow) {
    const bool keep_tail = keep == Keep::tail;
    std::array<char, 65536> buf;
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n > 0) {
            const auto len = static_cast<std::size_t>(n);
            if (keep_tail) {
                sink.append(buf.data(), len);
                if (sink.size() > 2 * cap) {  // amortised: trim only when twice over
                    sink.erase(0, sink.size() - cap);
                    overflow = true;
                }
            } else if (sink.size() + len > cap) {
                sink.append(buf.data(), cap - sink.size());
                overflow = true;
                return true;
            } else {
                sink.append(buf.data(), len);
            }
            continue;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }
}

void record_status(ProcessResult& r, int status) {
    if (WIFEXITED(status)) {
        r.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r.signal = WTERMSIG(status);
    }
}

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, INT_MAX));
}

}  // namespace

std::string signal_name(int signal) {
    switch (signal) {
        case SIGABRT:
            return "SIGABRT";
        case SIGSEGV:
            return "SIGSEGV";
        case SIGBUS:
            return "SIGBUS";
        case SIGFPE:
            return "SIGFPE";
        case SIGILL:
            return "SIGILL";
        case SIGKILL:
            return "SIGKILL";
        case SIGTERM:
            return "SIGTERM";
        case SIGINT:
            return "SIGINT";
        case SIGPIPE:
            return "SIGPIPE";
        case SIGTRAP:
            return "SIGTRAP";
        case SIGSYS:
            return "SIGSYS";
        case SIGXCPU:
            return "SIGXCPU";
        case SIGXFSZ:
            return "SIGXFSZ";
        default:
            return "signal " + std::to_string(signal);
    }
}

ProcessResult run_process(const ProcessSpec& spec) {
    ProcessResult r;
    const auto start = Clock::now();
    const auto deadline = start + spec.timeout;
    Fd out_read, out_write, err_read, err_write;
    if (!make_pipe(out_read, out_write, r.spawn_error) || !make_pipe(err_read, err_write, r.spawn_error)) return r;
    // Signals that end us are held off between the spawn and the child's registration, so that an
    // interrupted run never leaves a child behind (util/cleanup.hpp kills registered groups).
    sigset_t ending, previous;
    sigemptyset(&ending);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&ending, s);
    // The guard is made before the spawn, so that a signal handled on another thread waits for it.
    pthread_sigmask(SIG_BLOCK, &ending, &previous);
    util::ChildGroupGuard registered;
    const pid_t pid = spawn(spec, out_write.get(), err_write.get(), r.spawn_error);
    if (pid >= 0) {
        registered.started(pid);
    } else {
        registered.release();
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    out_write.reset();
    err_write.reset();
    if (pid < 0) return r;
    r.started = true;

    bool killed = false;
    bool out_open = true, err_open = true;
    while (out_open || err_open) {
        const int wait_ms = remaining_ms(deadline);
        if (wait_ms == 0) {
            r.timed_out = true;
            break;
        }
        pollfd fds[2] = {{out_open ? out_read.get() : -1, POLLIN, 0}, {err_open ? err_read.get() : -1, POLLIN, 0}};
        const int n = ::poll(fds, 2, wait_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (out_open && fds[0].revents != 0) {
            out_open = drain(out_read.get(), r.out, spec.stdout_cap, Keep::head, r.stdout_overflow);
            if (r.stdout_overflow) break;
        }
        if (err_open && fds[1].revents != 0) {
            err_open = drain(err_read.get(), r.err, spec.stderr_cap, Keep::tail, r.stderr_truncated);
        }
    }
    if (r.timed_out || r.stdout_overflow) {
        kill_group(pid);
        killed = true;
    }

    // Wait for the exit without reaping (WNOWAIT), so that the group id cannot be reused before we
    // kill whatever the child left behind in its group.
    for (;;) {
        siginfo_t info{};
        const int rc = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT | (killed ? 0 : WNOHANG));
        if (rc != 0 && errno == EINTR) continue;
        if (rc != 0 || info.si_pid != 0) break;  // exited (or an error: reap below)
        if (remaining_ms(deadline) == 0) {
            r.timed_out = true;
            kill_group(pid);
            killed = true;
            continue;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    kill_group(pid);
    registered.release();  // before reaping: the group id may be reused once the child is reaped
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    record_status(r, status);
    if (r.err.size() > spec.stderr_cap) {
        r.err.erase(0, r.err.size() - spec.stderr_cap);
        r.stderr_truncated = true;
    }
    r.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    return r;
}

}  // namespace gguf::reference
