// The CLI as a user runs it: exit codes, output shapes, the mini fixture, truncations.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/build.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

using namespace testing_support;
using nlohmann::json;

namespace {

const std::string kBin = GGUF_CROSSVAL_BIN;

class Cli : public testing_support::TempDirTest {
protected:
    RunResult run(const std::string& args) { return run_command(kBin + " " + args); }
};

}  // namespace

TEST_F(Cli, GenMiniWritesTheFixtureAndCreatesParents) {
    const auto path = dir_ / "a" / "b" / "mini.gguf";
    auto r = run("gen-mini-gguf --output " + quoted(path));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(std::filesystem::file_size(path), 224u);
    auto v = run("validate " + quoted(path) + " --json");
    ASSERT_EQ(v.exit_code, 0) << v.out;
    auto j = json::parse(v.out);
    EXPECT_EQ(j["ok"], true);
    EXPECT_EQ(j["version"], 3);
    EXPECT_EQ(j["n_kv"], 4);
    EXPECT_EQ(j["n_tensors"], 0);
    EXPECT_EQ(j["alignment"], 32);
    EXPECT_EQ(j["data_offset"], 224);
    EXPECT_EQ(j["file_size"], 224);
    EXPECT_TRUE(j["errors"].empty());
}

TEST_F(Cli, GenMiniVersionTwoTagsTheRequest) {
    const auto path = dir_ / "v2.gguf";
    ASSERT_EQ(run("gen-mini-gguf --version 2 --output " + quoted(path)).exit_code, 0);
    auto r = run("inspect --json " + quoted(path));
    ASSERT_EQ(r.exit_code, 0);
    auto j = json::parse(r.out);
    EXPECT_EQ(j["version"], 3);
    EXPECT_EQ(j["kv"][3]["key"], "compat.v2_requested");
    EXPECT_EQ(j["kv"][3]["type"], "bool");
    EXPECT_EQ(j["kv"][3]["value"], true);
}

TEST_F(Cli, GenMiniRejectsOtherVersionsAsUsageErrors) {
    EXPECT_EQ(run("gen-mini-gguf --version 4 --output " + quoted(dir_ / "x.gguf")).exit_code, 2);
    EXPECT_EQ(run("gen-mini-gguf --version 1 --output " + quoted(dir_ / "x.gguf")).exit_code, 2);
    EXPECT_FALSE(std::filesystem::exists(dir_ / "x.gguf"));
}

TEST_F(Cli, GenMiniIsByteIdenticalAcrossRuns) {
    ASSERT_EQ(run("gen-mini-gguf -o " + quoted(dir_ / "1.gguf")).exit_code, 0);
    ASSERT_EQ(run("gen-mini-gguf -o " + quoted(dir_ / "2.gguf")).exit_code, 0);
    EXPECT_EQ(slurp(dir_ / "1.gguf"), slurp(dir_ / "2.gguf"));
}

TEST_F(Cli, UsageErrors) {
    EXPECT_EQ(run("validate").exit_code, 2);
    EXPECT_EQ(run("validate " + quoted(dir_ / "missing.gguf")).exit_code, 2);
    EXPECT_EQ(run("validate --no-such-flag x").exit_code, 2);
    EXPECT_EQ(run("no-such-command").exit_code, 2);
    EXPECT_EQ(run("").exit_code, 2);
}

// The CLI builds only the subcommand its first argument names (and all of them otherwise): the
// tool's help lists every one, and each one's help is its own.
TEST_F(Cli, HelpForToolAndSubcommands) {
    auto r = run("--help");
    EXPECT_EQ(r.exit_code, 0);
    for (const char* sub : {"gen-mini-gguf", "validate", "inspect", "diff", "crossval", "full-crossval", "gen-model",
                            "gen-corpus", "matrix", "merge", "dequant"}) {
        EXPECT_NE(r.out.find(std::string("\n  ") + sub + " "), std::string::npos) << sub;
        auto s = run(std::string(sub) + " --help");
        EXPECT_EQ(s.exit_code, 0) << sub;
        EXPECT_NE(s.out.find(std::string("gguf-crossval ") + sub + " [OPTIONS]"), std::string::npos) << sub << s.out;
    }
}

TEST_F(Cli, ValidateReportsCodeAndOffsetOfInvalidFile) {
    auto b = two_tensor_writer().to_bytes();
    b[0] = std::byte{'X'};
    const auto path = dir_ / "bad.gguf";
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<long>(b.size()));
    auto r = run("validate --json " + quoted(path));
    EXPECT_EQ(r.exit_code, 1);
    auto j = json::parse(r.out);
    EXPECT_EQ(j["ok"], false);
    ASSERT_EQ(j["errors"].size(), 1u);
    EXPECT_EQ(j["errors"][0]["code"], "bad_magic");
    EXPECT_EQ(j["errors"][0]["offset"], 0);
    EXPECT_TRUE(j["version"].is_null());
    EXPECT_EQ(j["file_size"], b.size());
    auto text = run("validate " + quoted(path));
    EXPECT_EQ(text.exit_code, 1);
    EXPECT_NE(text.out.find("bad_magic"), std::string::npos);
}

TEST_F(Cli, InspectJsonListsKvsAndTensors) {
    const auto path = dir_ / "two.gguf";
    ASSERT_TRUE(two_tensor_writer().write_file(path).ok());
    auto r = run("inspect " + quoted(path) + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = json::parse(r.out);
    EXPECT_EQ(j["kv"][1], json({{"key", "test.count"}, {"type", "uint32"}, {"value", 7}}));
    EXPECT_EQ(j["tensors"][0], json({{"name", "a"}, {"type", "F32"}, {"dims", {4}}, {"offset", 0}, {"size", 16}}));
}

// Every truncation of a valid file with tensors, at each byte before the end of its last tensor's
// data, is rejected with exit 1 and code truncated or tensor_data_out_of_bounds, and never crashes.
TEST_F(Cli, EveryTruncationIsRejected) {
    auto b = two_tensor_writer().to_bytes();
    auto f = must_parse(b);
    const auto end = f.data_end();
    ASSERT_GT(end, 200u);
    for (std::uint64_t n = 0; n < end; ++n) {
        const auto path = dir_ / "cut.gguf";
        std::ofstream(path, std::ios::binary | std::ios::trunc)
            .write(reinterpret_cast<const char*>(b.data()), static_cast<long>(n));
        auto r = run("validate --json " + quoted(path));
        ASSERT_EQ(r.exit_code, 1) << "cut at " << n << ": " << r.out << r.err;
        auto j = json::parse(r.out);
        const auto code = j["errors"][0]["code"].get<std::string>();
        EXPECT_TRUE(code == "truncated" || code == "tensor_data_out_of_bounds") << "cut at " << n << ": " << code;
    }
}

TEST_F(Cli, NonUtf8PathsAreEscapedInJson) {
    const auto path = dir_ / std::string("na\xefme.gguf");
    ASSERT_TRUE(two_tensor_writer().write_file(path).ok());
    for (const char* cmd : {"validate --json ", "inspect --json "}) {
        auto r = run(cmd + quoted(path));
        ASSERT_EQ(r.exit_code, 0) << cmd << r.err;
        auto j = json::parse(r.out);
        EXPECT_NE(j["file"].get<std::string>().find("na\\xefme.gguf"), std::string::npos) << cmd;
    }
}
