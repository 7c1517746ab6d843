// gen-model as a user runs it: exit codes, the seed's sources, and the files it writes.
#include <gtest/gtest.h>

#include "fixtures/tiny_model.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

using namespace testing_support;

namespace {

const std::string kBin = GGUF_CROSSVAL_BIN;

class GenModel : public testing_support::TempDirTest {
protected:
    // env: assignments put before the command ("CROSSVAL_SEED=7"); both seed variables are cleared first.
    RunResult run(const std::string& args, const std::string& env = "") {
        return run_command("env -u CROSSVAL_SEED -u BITNET_SEED " + env + " " + kBin + " gen-model " + args);
    }
    std::string expected_bytes(gguf::fixtures::TinyModelSpec spec) {
        const auto bytes = gguf::fixtures::tiny_model(spec)->to_bytes();
        return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
    }
};

}  // namespace

TEST_F(GenModel, WritesTheTinyModelOfTheSpec) {
    const auto path = dir_ / "sub" / "m.gguf";
    auto r = run("--arch bitnet --type tq2_0 --seed 5 --output " + quoted(path));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(slurp(path), expected_bytes({gguf::fixtures::TinyArch::bitnet, gguf::fixtures::TinyType::tq2_0, 5}));
    EXPECT_NE(r.out.find("seed 5"), std::string::npos) << r.out;
}

TEST_F(GenModel, SeedComesFromCrossvalSeedThenBitnetSeedThen42) {
    using gguf::fixtures::TinyArch;
    using gguf::fixtures::TinyType;
    const auto p = dir_ / "m.gguf";
    ASSERT_EQ(run("--arch llama --type f32 -o " + quoted(p)).exit_code, 0);
    EXPECT_EQ(slurp(p), expected_bytes({TinyArch::llama, TinyType::f32, 42}));
    ASSERT_EQ(run("--arch llama --type f32 -o " + quoted(p), "BITNET_SEED=9").exit_code, 0);
    EXPECT_EQ(slurp(p), expected_bytes({TinyArch::llama, TinyType::f32, 9}));
    ASSERT_EQ(run("--arch llama --type f32 -o " + quoted(p), "BITNET_SEED=9 CROSSVAL_SEED=8").exit_code, 0);
    EXPECT_EQ(slurp(p), expected_bytes({TinyArch::llama, TinyType::f32, 8}));
    ASSERT_EQ(run("--arch llama --type f32 --seed 3 -o " + quoted(p), "CROSSVAL_SEED=8").exit_code, 0);
    EXPECT_EQ(slurp(p), expected_bytes({TinyArch::llama, TinyType::f32, 3}));
}

TEST_F(GenModel, BadSeedVariableIsAUsageError) {
    auto r = run("--arch llama --type f32 -o " + quoted(dir_ / "m.gguf"), "CROSSVAL_SEED=abc");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("CROSSVAL_SEED"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir_ / "m.gguf"));
}

TEST_F(GenModel, UnsupportedCombinationsAreUsageErrors) {
    for (const char* combo : {"--arch llama --type tq1_0", "--arch llama --type tq2_0", "--arch bitnet --type f32"}) {
        auto r = run(std::string(combo) + " -o " + quoted(dir_ / "m.gguf"));
        EXPECT_EQ(r.exit_code, 2) << combo;
        EXPECT_NE(r.err.find("not supported"), std::string::npos) << r.err;
        EXPECT_FALSE(std::filesystem::exists(dir_ / "m.gguf")) << combo;
    }
    EXPECT_EQ(run("--arch gpt2 --type f32 -o " + quoted(dir_ / "m.gguf")).exit_code, 2);
    EXPECT_EQ(run("--arch llama --type q4_0 -o " + quoted(dir_ / "m.gguf")).exit_code, 2);
    EXPECT_EQ(run("--arch llama --type f32").exit_code, 2);  // no output
}
