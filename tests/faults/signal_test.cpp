// SIGTERM and SIGINT during runs that have child processes: our process ends with the signal, the
// children's process groups are gone, no temporary file is left, and no stale summary stands.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "support/run.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using testing_support::quoted;
using testing_support::run_command;

const std::string kBin = GGUF_CROSSVAL_BIN;

// Processes other than `self` whose command line mentions `needle` (our children name files in
// the test's private directory).
int processes_mentioning(const std::string& needle, pid_t self) {
    int n = 0;
    std::error_code ec;
    for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos || std::stoi(name) == self) continue;
        // Processes come and go while we look: a read that fails is a process that is gone.
        std::FILE* f = std::fopen((it->path() / "cmdline").c_str(), "rb");
        if (f == nullptr) continue;
        std::string cmdline(8192, '\0');
        cmdline.resize(std::fread(cmdline.data(), 1, cmdline.size(), f));
        std::fclose(f);
        if (cmdline.find(needle) != std::string::npos) ++n;
    }
    return n;
}

class SignalFaults : public testing_support::TempDirTest {
protected:
    // Starts argv, waits until it has a child process naming dir_, sends sig, and returns the
    // exit status as a shell reports it (128 + signal).
    int interrupt_once_children_run(const std::vector<std::string>& argv, int sig) {
        const pid_t pid = testing_support::spawn_quiet(argv);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        // Busy: a probe run on a tiny model lasts tens of milliseconds.
        bool seen = false;
        while (!seen && std::chrono::steady_clock::now() < deadline)
            seen = processes_mentioning(dir_.string(), pid) > 0;
        EXPECT_TRUE(seen) << "no child process appeared";
        ::kill(pid, sig);
        int status = 0;
        waitpid(pid, &status, 0);
        return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    }
    void expect_no_children_left() {
        // A killed group is gone at once; give the kernel a moment to reap what init inherits.
        for (int i = 0; i < 100 && processes_mentioning(dir_.string(), getpid()) > 0; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        EXPECT_EQ(processes_mentioning(dir_.string(), getpid()), 0) << "a child process outlived us";
    }
    std::size_t temp_files_left() const {
        std::size_t n = 0;
        for (const auto& e : fs::recursive_directory_iterator(dir_)) {
            if (e.path().filename().string().rfind(".gguf-crossval-", 0) == 0) ++n;
        }
        return n;
    }
};

TEST_F(SignalFaults, SigtermDuringMatrixKillsTheReadersAndExits143) {
    const auto corpus = dir_ / "corpus";
    ASSERT_EQ(run_command(kBin + " gen-corpus --out " + quoted(corpus)).exit_code, 0);
    const int code = interrupt_once_children_run({kBin, "matrix", corpus.string(), "--jobs", "2"}, SIGTERM);
    EXPECT_EQ(code, 143);
    expect_no_children_left();
    EXPECT_EQ(temp_files_left(), 0u);
    EXPECT_FALSE(fs::exists(corpus / "matrix.md"));
}

TEST_F(SignalFaults, SigtermDuringMatrixLeavesNoStaleMatrix) {
    const auto corpus = dir_ / "corpus";
    ASSERT_EQ(run_command(kBin + " gen-corpus --out " + quoted(corpus)).exit_code, 0);
    const auto out = dir_ / "out";
    fs::create_directories(out);
    { std::ofstream(out / "matrix.json") << "{\"stale\": true}\n"; }
    { std::ofstream(out / "matrix.md") << "# stale\n"; }
    const int code = interrupt_once_children_run({kBin, "matrix", corpus.string(), "--out", out.string()}, SIGTERM);
    EXPECT_EQ(code, 143);
    expect_no_children_left();
    EXPECT_EQ(temp_files_left(), 0u);
    EXPECT_FALSE(fs::exists(out / "matrix.json")) << "a previous run's matrix stands for an interrupted one";
    EXPECT_FALSE(fs::exists(out / "matrix.md"));
}

TEST_F(SignalFaults, SigintDuringFullCrossvalKillsTheProbeAndLeavesNoStaleSummary) {
    const auto out = dir_ / "out";
    fs::create_directories(out);
    { std::ofstream(out / "summary.json") << "{\"stale\": true}\n"; }
    { std::ofstream(out / "junit.xml") << "<stale/>\n"; }
    const int code = interrupt_once_children_run({kBin, "full-crossval", "--out", out.string()}, SIGINT);
    EXPECT_EQ(code, 130);
    expect_no_children_left();
    EXPECT_EQ(temp_files_left(), 0u);
    EXPECT_FALSE(fs::exists(out / "summary.json")) << "a previous run's summary stands for an interrupted one";
    EXPECT_FALSE(fs::exists(out / "junit.xml"));
}

TEST_F(SignalFaults, SigtermDuringCrossvalKillsTheProbeAndKeepsTheLastReport) {
    const auto model = dir_ / "llama.gguf";
    ASSERT_EQ(run_command(kBin + " gen-model --arch llama --type f32 -o " + quoted(model)).exit_code, 0);
    const auto report = dir_ / "report.json";
    { std::ofstream(report) << "{\"previous\": true}\n"; }
    const int code = interrupt_once_children_run(
        {kBin, "crossval", "--model", model.string(), "--report", report.string(), "--logits"}, SIGTERM);
    EXPECT_EQ(code, 143);
    expect_no_children_left();
    EXPECT_EQ(temp_files_left(), 0u);
    EXPECT_EQ(testing_support::slurp(report), "{\"previous\": true}\n");
}

}  // namespace
