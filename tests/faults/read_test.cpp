// Faults while reading: a file that shrinks while it is read, and inputs that are not regular files.
// No command may die of a signal (SIGBUS was the failure: exit 135), block, or call such input valid.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "gguf/writer.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using testing_support::quoted;
using testing_support::run_command;

const std::string kBin = GGUF_CROSSVAL_BIN;

// A valid file whose metadata is about 20 MB (a vocabulary-sized string array): more than the
// reader reads in its first pread, so that the file can shrink under every phase.
void write_big_vocabulary(const fs::path& path) {
    std::vector<std::string> tokens;
    tokens.reserve(400000);
    for (int i = 0; i < 400000; ++i) tokens.push_back("token-" + std::to_string(i) + std::string(40, 'x'));
    gguf::Writer w;
    w.add("general.architecture", gguf::Value::string("llama"));
    w.add("tokenizer.ggml.tokens", gguf::Value::strings(tokens));
    ASSERT_TRUE(w.write_file(path).ok());
}

class ReadFaults : public testing_support::TempDirTest {
protected:
    void SetUp() override {
        TempDirTest::SetUp();
        original_ = dir_ / "big.gguf";
        write_big_vocabulary(original_);
    }

    // Runs `args` (with VICTIM replaced by a fresh copy) while the copy is cut to a random length
    // after a random delay, `tries` times. Returns the exit codes seen.
    std::vector<int> shrink_during(const std::string& args, int tries, const std::string& victim_name = "victim.gguf",
                                   const std::string& env = "") {
        std::mt19937 rng(12345);
        const auto size = fs::file_size(original_);
        const auto victim = dir_ / victim_name;
        fs::create_directories(victim.parent_path());
        std::vector<int> codes;
        for (int i = 0; i < tries; ++i) {
            fs::copy_file(original_, victim, fs::copy_options::overwrite_existing);
            const auto cut = std::uniform_int_distribution<std::uintmax_t>(0, size - 1)(rng);
            const auto delay_ms = std::uniform_int_distribution<int>(0, 40)(rng);
            std::string cmd = args;
            if (const auto at = cmd.find("VICTIM"); at != std::string::npos) cmd.replace(at, 6, quoted(victim));
            const auto r = run_command("(" + env + " " + kBin + " " + cmd + " >/dev/null 2>&1 & pid=$!; sleep 0." +
                                       fmt_ms(delay_ms) + "; truncate -s " + std::to_string(cut) + " " +
                                       quoted(victim) + "; wait $pid; exit $?)");
            codes.push_back(r.exit_code);
        }
        return codes;
    }

    static std::string fmt_ms(int ms) {
        auto s = std::to_string(ms);
        return std::string(3 - s.size(), '0') + s;
    }

    fs::path original_;
};

void expect_no_signal(const std::vector<int>& codes, const std::string& what) {
    for (std::size_t i = 0; i < codes.size(); ++i) {
        EXPECT_LE(codes[i], 5) << what << " try " << i << ": exit " << codes[i] << " (128 + signal?)";
    }
}

TEST_F(ReadFaults, InspectJsonSurvivesTheFileShrinking) {
    expect_no_signal(shrink_during("inspect --json VICTIM", 12), "inspect --json");
}

TEST_F(ReadFaults, InspectSurvivesTheFileShrinking) {
    expect_no_signal(shrink_during("inspect VICTIM", 8), "inspect");
}

TEST_F(ReadFaults, ValidateSurvivesTheFileShrinking) {
    expect_no_signal(shrink_during("validate VICTIM", 8), "validate");
}

TEST_F(ReadFaults, ValidateDataSurvivesTheFileShrinking) {
    expect_no_signal(shrink_during("validate --data --json VICTIM", 8), "validate --data");
}

TEST_F(ReadFaults, CrossvalSurvivesTheFileShrinking) {
    expect_no_signal(
        shrink_during("crossval --cpp-dir /nonexistent-build --report " + quoted(dir_ / "r.json") + " --model VICTIM",
                      6),
        "crossval");
}

TEST_F(ReadFaults, DiffSurvivesTheFileShrinking) {
    expect_no_signal(shrink_during("diff VICTIM " + quoted(original_), 6), "diff");
}

TEST_F(ReadFaults, DequantSurvivesTheFileShrinking) {
    expect_no_signal(shrink_during("dequant VICTIM --out " + quoted(dir_ / "out.safetensors"), 6), "dequant");
}

// matrix reads each file of DIR with our reader (the others are made unavailable here, so that only
// our process reads the file as it shrinks).
TEST_F(ReadFaults, MatrixSurvivesTheFileShrinking) {
    expect_no_signal(
        shrink_during(
            "matrix " + quoted(dir_ / "corpus") + " --cpp-dir /nonexistent-build --bitnet-dir /nonexistent-build", 6,
            "corpus/victim.gguf", "GGUF_CROSSVAL_PYTHON=/nonexistent GGUF_CROSSVAL_NODE=/nonexistent"),
        "matrix");
}

TEST_F(ReadFaults, ACutFileIsTruncatedNotValid) {
    const auto victim = dir_ / "cut.gguf";
    fs::copy_file(original_, victim);
    fs::resize_file(victim, fs::file_size(original_) / 2);
    const auto r = run_command(kBin + " validate " + quoted(victim));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("truncated"), std::string::npos) << r.out << r.err;
}

TEST_F(ReadFaults, FifoIsRefusedWithoutBlocking) {
    const auto fifo = dir_ / "pipe.gguf";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    for (const std::string cmd : {"validate", "inspect", "validate --data"}) {
        const auto r = run_command("timeout 10 " + kBin + " " + cmd + " " + quoted(fifo));
        EXPECT_EQ(r.exit_code, 2) << cmd << ": " << r.err;
        EXPECT_NE(r.err.find("FIFO"), std::string::npos) << cmd << ": " << r.err;
    }
    const auto r = run_command("timeout 10 " + kBin + " crossval --report " + quoted(dir_ / "r.json") + " --model " +
                               quoted(fifo));
    EXPECT_EQ(r.exit_code, 2) << r.err;
}

// A manifest entry that is a FIFO goes to no reader (each would block in its open until --timeout,
// twice for a batched peer): our reader refuses it without opening it for good, and every column
// says unavailable, not a verdict. `timeout 9` bounds what the old behaviour took: four readers
// waiting out --timeout 5, two at a time, is 10 s or more.
TEST_F(ReadFaults, FifoInAMatrixManifestIsUnavailableAndDoesNotWaitForTheTimeout) {
    const auto corpus = dir_ / "corpus";
    fs::create_directories(corpus);
    ASSERT_EQ(::mkfifo((corpus / "pipe.gguf").c_str(), 0600), 0);
    { std::ofstream(corpus / "manifest.json") << R"({"files": [{"file": "pipe.gguf", "valid": true}]})"; }
    const auto r = run_command("timeout 9 " + kBin + " matrix " + quoted(corpus) + " --timeout 5");
    ASSERT_EQ(r.exit_code, 0) << r.err;  // 124: it waited for the timeout
    std::ifstream in(corpus / "matrix.json");
    const auto m = nlohmann::json::parse(in, nullptr, false);
    ASSERT_TRUE(m.is_object());
    ASSERT_EQ(m["files"].size(), 1u);
    for (const auto& [reader, cell] : m["files"][0]["readers"].items()) {
        EXPECT_EQ(cell["verdict"], "unavailable") << reader;
        EXPECT_TRUE(cell["wrong"].is_null()) << reader;
        EXPECT_NE(cell["code_or_message"].get<std::string>().find("FIFO"), std::string::npos) << reader;
    }
    // A file no reader could be given says nothing of the readers: none is marked unavailable for it
    // (a reader the machine lacks is, with its own reason).
    for (const auto& reader : m["readers"]) {
        if (reader["available"] == true) continue;
        EXPECT_EQ(reader.value("why_unavailable", std::string()).find("FIFO"), std::string::npos) << reader.dump();
    }
}

TEST_F(ReadFaults, DirectoryIsRefused) {
    const auto r = run_command(kBin + " validate " + quoted(dir_));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("directory"), std::string::npos) << r.err;
}

TEST_F(ReadFaults, ProcFileIsRefusedNotTruncated) {
    const auto r = run_command(kBin + " validate /proc/self/status");
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("/proc"), std::string::npos) << r.err;
}

TEST_F(ReadFaults, UnreadableFileIsUsageInValidateAndCrossval) {
    // As root the commands run as nobody, who may write the report into dir_ but not read the model.
    ASSERT_TRUE(testing_support::give_to_unprivileged(dir_));
    const auto path = dir_ / "secret.gguf";
    ASSERT_EQ(run_command(kBin + " gen-mini-gguf -o " + quoted(path)).exit_code, 0);
    ASSERT_TRUE(testing_support::give_to_unprivileged(path));
    fs::permissions(path, fs::perms::none);
    const auto v = run_command(testing_support::unprivileged(kBin + " validate " + quoted(path)));
    EXPECT_EQ(v.exit_code, 2) << v.out << v.err;
    EXPECT_NE(v.err.find("Permission denied"), std::string::npos) << v.err;
    const auto report = dir_ / "r.json";
    const auto r = run_command(
        testing_support::unprivileged(kBin + " crossval --report " + quoted(report) + " --model " + quoted(path)));
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
    ASSERT_TRUE(fs::exists(report)) << "a usage error after the flags parse still writes the report";
    EXPECT_EQ(nlohmann::json::parse(testing_support::slurp(report))["verdict"], "usage_error");
}

}  // namespace
