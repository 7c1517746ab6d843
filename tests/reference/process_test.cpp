// The child-process runner: argument passing, exit codes, signals, timeouts, output caps.
#include <gtest/gtest.h>
#include <signal.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "reference/process.hpp"
#include "support/temp_dir.hpp"

namespace gguf::reference {
namespace {

using namespace std::chrono_literals;

ProcessSpec sh(std::string script, std::chrono::milliseconds timeout = 30s) {
    return ProcessSpec{"/bin/sh", {"-c", std::move(script)}, {}, timeout};
}

// Split on NUL bytes (printf '%s\0' output), dropping the final empty piece.
std::vector<std::string> split_nul(const std::string& s) {
    std::vector<std::string> parts;
    std::string cur;
    for (char c : s) {
        if (c == '\0') {
            parts.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    return parts;
}

TEST(Process, ReportsTheExitCodeAndBothStreams) {
    const auto r = run_process(sh("printf out; printf err >&2; exit 7"));
    ASSERT_TRUE(r.started) << r.spawn_error;
    EXPECT_EQ(r.exit_code, 7);
    EXPECT_FALSE(r.signal.has_value());
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.out, "out");
    EXPECT_EQ(r.err, "err");
}

TEST(Process, ArgumentsPassThroughUntouchedWithoutAShell) {
    const std::vector<std::string> args = {"a file with spaces.gguf",
                                           "it's",
                                           "\"double\"",
                                           "x; rm -rf /nonexistent",
                                           "$(echo injected)",
                                           "`id`",
                                           "*",
                                           "",
                                           "--",
                                           "-n",
                                           "tab\there",
                                           "new\nline",
                                           "\xff\xfe not utf-8"};
    ProcessSpec spec{"/usr/bin/printf", {"%s\\0"}, {}, 30s};
    spec.args.insert(spec.args.end(), args.begin(), args.end());
    const auto r = run_process(spec);
    ASSERT_TRUE(r.started) << r.spawn_error;
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(split_nul(r.out), args);
}

TEST(Process, StdinIsEmpty) {
    const auto r = run_process(ProcessSpec{"/bin/cat", {}, {}, 30s});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "");
}

TEST(Process, EnvironmentOverridesReachTheChild) {
    ProcessSpec spec = sh("printf '%s|%s' \"$GGML_NO_BACKTRACE\" \"$PATH_IS_KEPT\"");
    spec.env = {{"GGML_NO_BACKTRACE", "1"}, {"PATH_IS_KEPT", "yes"}};
    const auto r = run_process(spec);
    EXPECT_EQ(r.out, "1|yes");
}

TEST(Process, ReportsTheSignalThatKilledTheChild) {
    const auto segv = run_process(sh("kill -SEGV $$"));
    ASSERT_TRUE(segv.signal.has_value());
    EXPECT_EQ(*segv.signal, SIGSEGV);
    EXPECT_FALSE(segv.timed_out);
    EXPECT_EQ(signal_name(*segv.signal), "SIGSEGV");

    const auto abrt = run_process(sh("kill -ABRT $$"));
    ASSERT_TRUE(abrt.signal.has_value());
    EXPECT_EQ(*abrt.signal, SIGABRT);
    EXPECT_EQ(signal_name(SIGABRT), "SIGABRT");
}

TEST(Process, TimeoutKillsASleepingChild) {
    const auto r = run_process(ProcessSpec{"/bin/sleep", {"600"}, {}, 200ms});
    ASSERT_TRUE(r.started);
    EXPECT_TRUE(r.timed_out);
    ASSERT_TRUE(r.signal.has_value());
    EXPECT_EQ(*r.signal, SIGKILL);
}

// After a timeout nothing of the child's process group survives: a grandchild is killed too.
TEST(Process, TimeoutKillsTheWholeProcessGroup) {
    const auto dir = testing_support::test_dir();
    const auto pid_file = dir / "grandchild.pid";
    const auto r = run_process(sh("/bin/sleep 600 & echo $! > '" + pid_file.string() + "'; wait", 500ms));
    EXPECT_TRUE(r.timed_out);
    std::ifstream in(pid_file);
    pid_t grandchild = 0;
    ASSERT_TRUE(in >> grandchild) << "the shell did not record its child's pid";
    // SIGKILL is delivered asynchronously: give the kernel a moment, then the process must be gone
    // (or a zombie waiting for init to reap it).
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
        std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
        std::string pid, comm, state;
        gone = !(stat >> pid >> comm >> state) || state == "Z" || state == "X";
        if (!gone) std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(gone) << "grandchild " << grandchild << " survived the timeout";
    if (!gone) ::kill(grandchild, SIGKILL);
    std::filesystem::remove_all(dir);
}

TEST(Process, StdoutBeyondTheCapKillsTheChild) {
    ProcessSpec spec{"/usr/bin/yes", {}, {}, 30s};
    spec.stdout_cap = 1 << 20;
    const auto r = run_process(spec);
    EXPECT_TRUE(r.stdout_overflow);
    EXPECT_EQ(r.out.size(), std::size_t{1} << 20);
    EXPECT_EQ(r.out.substr(0, 4), "y\ny\n");
    ASSERT_TRUE(r.signal.has_value());
    EXPECT_EQ(*r.signal, SIGKILL);
    EXPECT_FALSE(r.timed_out);
}

TEST(Process, StderrKeepsTheLastBytesWithinTheCap) {
    // 20000 numbered lines of 11 bytes each ("line 00000\n") to stderr: 220000 bytes.
    ProcessSpec spec = sh("i=0; while [ $i -lt 20000 ]; do printf 'line %05d\\n' $i; i=$((i+1)); done >&2; exit 3");
    spec.stderr_cap = 4096;
    const auto r = run_process(spec);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_TRUE(r.stderr_truncated);
    EXPECT_EQ(r.err.size(), 4096u);
    const std::string last = "line 19999\n";
    ASSERT_GE(r.err.size(), last.size());
    EXPECT_EQ(r.err.substr(r.err.size() - last.size()), last);
}

TEST(Process, AProgramThatCannotStartIsReportedNotThrown) {
    const auto r = run_process(ProcessSpec{"/nonexistent/program", {}, {}, 30s});
    EXPECT_FALSE(r.started);
    EXPECT_NE(r.spawn_error.find("/nonexistent/program"), std::string::npos) << r.spawn_error;
}

}  // namespace
}  // namespace gguf::reference
