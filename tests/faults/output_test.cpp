// Faults while writing: every output goes through one helper (util/atomic_file.hpp), so these run
// it through the CLI's cheapest writers (gen-mini-gguf, crossval --report) on each kind of target.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "support/run.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using testing_support::quoted;
using testing_support::run_command;
using testing_support::slurp;

const std::string kBin = GGUF_CROSSVAL_BIN;
constexpr std::size_t kMiniSize = 224;

class OutputFaults : public testing_support::TempDirTest {
protected:
    // Files our writer left in dir_ that it did not mean to (its temporary files start with a dot).
    std::size_t temp_files_left(const fs::path& dir) const {
        std::size_t n = 0;
        for (const auto& e : fs::recursive_directory_iterator(dir)) {
            if (e.path().filename().string().rfind(".gguf-crossval-", 0) == 0) ++n;
        }
        return n;
    }
    std::string gen_mini(const fs::path& out, const std::string& prefix = "") {
        return prefix + kBin + " gen-mini-gguf --output " + quoted(out);
    }
};

TEST_F(OutputFaults, DevNullStaysACharacterDevice) {
    const auto r = run_command(gen_mini("/dev/null"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    struct stat st {};
    ASSERT_EQ(::stat("/dev/null", &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST_F(OutputFaults, DevStdoutIsWrittenDirectly) {
    const auto r = run_command(gen_mini("/dev/stdout"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    // The file's bytes, then the "wrote ..." line: written to the pipe, not replacing it.
    ASSERT_GE(r.out.size(), kMiniSize);
    EXPECT_EQ(r.out.substr(0, 4), "GGUF");
}

TEST_F(OutputFaults, FifoIsWrittenDirectlyAndStaysAFifo) {
    const auto fifo = dir_ / "pipe";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const auto got = dir_ / "got";
    const auto r = run_command("cat " + quoted(fifo) + " > " + quoted(got) + " & " + gen_mini(fifo) + "; wait");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(fs::is_fifo(fifo));
    EXPECT_EQ(slurp(got).size(), kMiniSize);
}

TEST_F(OutputFaults, SymlinkIsWrittenThroughToItsTarget) {
    fs::create_directories(dir_ / "real");
    const auto target = dir_ / "real" / "mini.gguf";
    { std::ofstream(target) << "old"; }
    const auto link = dir_ / "link.gguf";
    fs::create_symlink("real/mini.gguf", link);
    const auto r = run_command(gen_mini(link));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(fs::is_symlink(link));
    EXPECT_EQ(fs::file_size(target), kMiniSize);
    EXPECT_EQ(temp_files_left(dir_), 0u);
}

TEST_F(OutputFaults, DanglingSymlinkCreatesItsTarget) {
    const auto link = dir_ / "link.gguf";
    fs::create_symlink(dir_ / "new.gguf", link);
    const auto r = run_command(gen_mini(link));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(fs::is_symlink(link));
    EXPECT_EQ(fs::file_size(dir_ / "new.gguf"), kMiniSize);
}

TEST_F(OutputFaults, ExistingFileKeepsItsPermissions) {
    const auto path = dir_ / "mini.gguf";
    { std::ofstream(path) << "old"; }
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    ASSERT_EQ(run_command(gen_mini(path)).exit_code, 0);
    EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
}

TEST_F(OutputFaults, DirectoryIsAUsageErrorAndLeavesNothing) {
    const auto r = run_command(gen_mini(dir_));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
    EXPECT_TRUE(fs::is_directory(dir_));
    EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(OutputFaults, LongFileNameStillWrites) {
    const auto path = dir_ / (std::string(240, 'm') + ".gguf");  // 245 bytes: room for no ".tmp.PID" suffix
    const auto r = run_command(gen_mini(path));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(fs::file_size(path), kMiniSize);
    EXPECT_EQ(temp_files_left(dir_), 0u);
}

TEST_F(OutputFaults, FileTooLargeFailsWithReasonOldFileIntactNoTempFile) {
    // A 117,792-byte model under a 16 KiB limit (room for the error message on stderr).
    const auto path = dir_ / "model.gguf";
    { std::ofstream(path) << "the old content"; }
    const auto r =
        run_command("prlimit --fsize=16384 " + kBin + " gen-model --arch llama --type f32 -o " + quoted(path));
    EXPECT_EQ(r.exit_code, 5) << r.err;
    EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
    EXPECT_EQ(slurp(path), "the old content");
    EXPECT_EQ(temp_files_left(dir_), 0u);
}

// A full disk (ENOSPC), beside RLIMIT_FSIZE's EFBIG above: a 64 KiB tmpfs, mounted in a private mount
// namespace so that nothing outside the command sees it (as root `unshare -m`; otherwise `unshare -rm`,
// a user namespace, where the kernel allows those), and the same 117,792-byte model. The tmpfs vanishes
// with the namespace, so the shell inside reports the exit code and what the directory holds after.
TEST_F(OutputFaults, FullDiskFailsWithReasonOldFileIntactNoTempFile) {
    const auto disk = dir_ / "disk";
    fs::create_directories(disk);
    const auto d = quoted(disk);
    const std::string ns = testing_support::running_as_root() ? "unshare -m" : "unshare -rm";
    const auto mount = ns + " sh -c \"mount -t tmpfs -o size=64k tmpfs " + d + "\"";
    if (const auto m = run_command(mount); m.exit_code != 0) {
        GTEST_SKIP() << "this machine forbids mounting a tmpfs (" << mount << ": " << m.err
                     << "); FileTooLargeFailsWithReasonOldFileIntactNoTempFile covers the failed write";
    }
    const auto r = run_command(ns + " sh -c \"mount -t tmpfs -o size=64k tmpfs " + d + " && printf old > " + d +
                               "/model.gguf && { " + kBin + " gen-model --arch llama --type f32 -o " + d +
                               "/model.gguf; echo exit=\\$?; cat " + d + "/model.gguf; echo; ls -A " + d + "; }\"");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("exit=5\n"), std::string::npos) << r.out << r.err;
    EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
    // After the exit line: the old content, then the listing: model.gguf alone, no temp file.
    EXPECT_NE(r.out.find("exit=5\nold\nmodel.gguf\n"), std::string::npos) << r.out;
    EXPECT_TRUE(fs::is_empty(disk)) << "the tmpfs was private to the command";
}

TEST_F(OutputFaults, UnwritableDirectoryFailsWithReason) {
    // As root the command runs as nobody, who owns the directory: only the missing write bit stops it.
    fs::create_directories(dir_ / "ro");
    ASSERT_TRUE(testing_support::give_to_unprivileged(dir_ / "ro"));
    fs::permissions(dir_ / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    const auto r = run_command(testing_support::unprivileged(gen_mini(dir_ / "ro" / "mini.gguf")));
    fs::permissions(dir_ / "ro", fs::perms::owner_all);
    EXPECT_EQ(r.exit_code, 5);
    EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
}

// crossval's report: written on every outcome, and a report that cannot be written is exit 5 with the
// old report intact. The reference is made unavailable (and allowed to fail) so that only the write
// can fail.
TEST_F(OutputFaults, CrossvalReportThatCannotBeWrittenIsExit5OldReportIntact) {
    const auto model = dir_ / "mini.gguf";
    ASSERT_EQ(run_command(gen_mini(model)).exit_code, 0);
    const auto report = dir_ / "report.json";
    { std::ofstream(report) << "{\"old\": true}\n"; }
    // The limit is below the report's size and above the error message's; stdout goes to /dev/null
    // (a device: no limit) so that only the report can fail.
    const auto r =
        run_command("(CROSSVAL_ALLOW_CPP_FAIL=1 prlimit --fsize=600 " + kBin + " crossval --model " + quoted(model) +
                    " --cpp-dir " + quoted(dir_ / "no-such-build") + " --report " + quoted(report) + " >/dev/null)");
    EXPECT_EQ(r.exit_code, 5) << r.err;
    EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
    EXPECT_EQ(slurp(report), "{\"old\": true}\n");
    EXPECT_EQ(temp_files_left(dir_), 0u);
}

TEST_F(OutputFaults, CrossvalReportToDevNullLeavesDevNull) {
    const auto model = dir_ / "mini.gguf";
    ASSERT_EQ(run_command(gen_mini(model)).exit_code, 0);
    const auto r = run_command("CROSSVAL_ALLOW_CPP_FAIL=1 " + kBin + " crossval --model " + quoted(model) +
                               " --cpp-dir " + quoted(dir_ / "no-such-build") + " --report /dev/null");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    struct stat st {};
    ASSERT_EQ(::stat("/dev/null", &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST_F(OutputFaults, CrossvalReportDirectoryIsUsageBeforeAnyStage) {
    const auto model = dir_ / "mini.gguf";
    ASSERT_EQ(run_command(gen_mini(model)).exit_code, 0);
    const auto r = run_command(kBin + " crossval --model " + quoted(model) + " --report " + quoted(dir_));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--report"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("reader"), std::string::npos) << "no stage may run: " << r.out;
}

}  // namespace
