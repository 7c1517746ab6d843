// Misclassified input: bad flags and environment are usage errors (exit 2) before any stage runs,
// never a reference failure that CROSSVAL_ALLOW_CPP_FAIL would turn into a pass.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/run.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using testing_support::quoted;
using testing_support::run_command;
using testing_support::slurp;

const std::string kBin = GGUF_CROSSVAL_BIN;

class InputFaults : public testing_support::TempDirTest {
protected:
    void SetUp() override {
        TempDirTest::SetUp();
        model_ = dir_ / "llama.gguf";  // 275-token vocabulary
        ASSERT_EQ(run_command(kBin + " gen-model --arch llama --type f32 -o " + quoted(model_)).exit_code, 0);
        report_ = dir_ / "report.json";
    }
    // crossval with the soft-fail policy on: a misclassified typo would become exit 0 here.
    testing_support::RunResult crossval(const std::string& flags) {
        return run_command("CROSSVAL_ALLOW_CPP_FAIL=1 " + kBin + " crossval --model " + quoted(model_) + " --report " +
                           quoted(report_) + " " + flags);
    }
    void expect_usage_before_any_stage(const testing_support::RunResult& r, const std::string& message) {
        EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
        EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
        EXPECT_EQ(r.out.find("cpp_header"), std::string::npos) << "a stage ran: " << r.out;
    }
    fs::path model_, report_;
};

TEST_F(InputFaults, TokensWithANonNumberAreUsage) {
    expect_usage_before_any_stage(crossval("--logits --tokens '1, 2,x'"), "'x' is not a token id");
}

TEST_F(InputFaults, EmptyTokensAreUsageNotTheDefaults) {
    expect_usage_before_any_stage(crossval("--logits --tokens ''"), "--tokens is empty");
}

TEST_F(InputFaults, TokensBeyondTheVocabularyAreUsage) {
    expect_usage_before_any_stage(crossval("--logits --tokens 1,5000"), "beyond the vocabulary (275 tokens)");
}

TEST_F(InputFaults, UsageAfterParsingStillWritesAReport) {
    ASSERT_EQ(crossval("--logits --tokens 1,5000").exit_code, 2);
    const auto j = nlohmann::json::parse(slurp(report_));
    EXPECT_EQ(j["verdict"], "usage_error");
    EXPECT_EQ(j["exit_code"], 2);
}

TEST_F(InputFaults, BadAgainstFileIsUsageAndWritesAReport) {
    const auto bad = dir_ / "bad.json";
    { std::ofstream(bad) << "{\"n_vocab\": 275, \"logits\": [[1e400]]}"; }
    expect_usage_before_any_stage(crossval("--logits --against " + quoted(bad)), "--against");
    const auto j = nlohmann::json::parse(slurp(report_));
    EXPECT_EQ(j["verdict"], "usage_error");
}

// The tokenize stage's inputs: each mistake is a usage error before any stage, with a report.
TEST_F(InputFaults, TokenizeInputMistakesAreUsageBeforeAnyStage) {
    expect_usage_before_any_stage(crossval("--text-file " + quoted(dir_ / "texts.txt")),
                                  "--text-file and --token-file need --tokenize");
    expect_usage_before_any_stage(crossval("--logits --text hi --tokens 1,2"),
                                  "--text and --tokens both say what to decode");
    expect_usage_before_any_stage(crossval("--tokenize --token-file " + quoted(dir_ / "missing.json")),
                                  "--token-file cannot read");
    expect_usage_before_any_stage(crossval("--tokenize"), "nothing to tokenize");
    const auto j = nlohmann::json::parse(slurp(report_));
    EXPECT_EQ(j["verdict"], "usage_error");
}

TEST_F(InputFaults, CppTimeoutMustBeAFiniteNumberOfSeconds) {
    for (const char* t : {"nan", "1e16", "-1", "0", "inf", "10x"}) {
        const auto r = crossval(std::string("--cpp-timeout ") + t);
        EXPECT_EQ(r.exit_code, 2) << t << ": " << r.out << r.err;
        EXPECT_NE(r.err.find("--cpp-timeout"), std::string::npos) << t << ": " << r.err;
    }
}

TEST_F(InputFaults, MatrixTimeoutMustBeAFiniteNumberOfSeconds) {
    const auto r = run_command(kBin + " matrix " + quoted(dir_) + " --timeout nan");
    EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(InputFaults, NegativeSeedIsUsageAsFlagAndAsEnvironment) {
    const auto out = quoted(dir_ / "m.gguf");
    EXPECT_EQ(run_command(kBin + " gen-model --arch llama --type f32 --seed -1 -o " + out).exit_code, 2);
    EXPECT_EQ(run_command("CROSSVAL_SEED=-5 " + kBin + " gen-model --arch llama --type f32 -o " + out).exit_code, 2);
    const auto r = run_command("CROSSVAL_SEED=-1 " + kBin + " full-crossval --out " + quoted(dir_ / "fc"));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("CROSSVAL_SEED"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "m.gguf"));
}

TEST_F(InputFaults, SymlinkLoopAsModelIsUsageNotAnAbort) {
    const auto loop = dir_ / "loop.gguf";
    fs::create_symlink(loop, loop);
    const auto r = run_command(kBin + " crossval --model " + quoted(loop) + " --report " + quoted(report_));
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("Too many levels of symbolic links"), std::string::npos) << r.err;
}

TEST_F(InputFaults, SymlinkLoopUnderModelsIsAClearErrorBeforeAnyRun) {
    const auto models = dir_ / "models";
    fs::create_directories(models);
    fs::create_symlink(models / "loop.gguf", models / "loop.gguf");
    const auto r = run_command(kBin + " full-crossval --models " + quoted(models) + " --out " + quoted(dir_ / "out"));
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("loop.gguf"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "out" / "summary.json"));
}

TEST_F(InputFaults, UnreadableDirectoryUnderModelsIsAnErrorNotFewerModels) {
    // As root the command runs as nobody, who owns dir_ (for --out) but may not read a-locked.
    ASSERT_TRUE(testing_support::give_to_unprivileged(dir_));
    const auto models = dir_ / "models";
    fs::create_directories(models / "a-locked");
    fs::copy_file(model_, models / "z.gguf");
    fs::permissions(models / "a-locked", fs::perms::none);
    const auto r = run_command(testing_support::unprivileged(kBin + " full-crossval --models " + quoted(models) +
                                                             " --out " + quoted(dir_ / "out")));
    fs::permissions(models / "a-locked", fs::perms::owner_all);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
}

// matrix: a manifest is input from outside too.
class MatrixManifestFaults : public testing_support::TempDirTest {
protected:
    testing_support::RunResult matrix_with(const std::string& files_json) {
        { std::ofstream(dir_ / "manifest.json") << "{\"files\": " << files_json << "}"; }
        return run_command(kBin + " matrix " + quoted(dir_) + " --timeout 20");
    }
};

TEST_F(MatrixManifestFaults, EntriesOutsideTheDirectoryAreRefused) {
    for (const char* entry : {"../x.gguf", "/etc/hostname", "a/../../x.gguf"}) {
        const auto r = matrix_with(std::string("[{\"file\": \"") + entry + "\", \"valid\": true}]");
        EXPECT_EQ(r.exit_code, 2) << entry << ": " << r.err;
        EXPECT_NE(r.err.find("not a path inside the corpus directory"), std::string::npos) << r.err;
    }
}

TEST_F(MatrixManifestFaults, FieldsOfTheWrongTypeAreAnErrorNotAnAbort) {
    for (const char* entry : {R"({"file": "a.gguf", "expected_code": 5})",
                              R"({"file": "a.gguf", "description": ["x"]})", R"({"file": "a.gguf", "valid": "yes"})"}) {
        const auto r = matrix_with(std::string("[") + entry + "]");
        EXPECT_EQ(r.exit_code, 2) << entry << ": " << r.err;
        EXPECT_NE(r.err.find("entry 'a.gguf'"), std::string::npos) << r.err;
    }
}

TEST_F(MatrixManifestFaults, AMissingFileIsUnavailableNotAWrongVerdict) {
    const auto r = matrix_with(R"([{"file": "missing.gguf", "valid": true}])");
    EXPECT_EQ(r.exit_code, 0) << "our reader is not wrong about a file that is not there: " << r.err;
    const auto j = nlohmann::json::parse(slurp(dir_ / "matrix.json"));
    for (const auto& [reader, cell] : j["files"][0]["readers"].items()) {
        EXPECT_EQ(cell["verdict"], "unavailable") << reader;
    }
}

}  // namespace
