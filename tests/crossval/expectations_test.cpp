// Expectations, XPASS, shards and merge, end to end through the CLI against the real reference
// (ctest label: reference).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <regex>

#include "reference/tiny_llama.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

using namespace testing_support;
using nlohmann::json;

namespace {

const std::string kBin = GGUF_CROSSVAL_BIN;
const std::string kSource = GGUF_CROSSVAL_SOURCE_DIR;
const std::string kNoSoftFail = "env -u CROSSVAL_ALLOW_CPP_FAIL";

class ExpectationsRun : public TempDirTest {
protected:
    RunResult full(const std::string& args) { return run_command(kNoSoftFail + " " + kBin + " full-crossval " + args); }
    std::filesystem::path models_with_two_broken() {
        const auto models = dir_ / "models";
        TinyLlama nan;
        nan.nan_tensor = "blk.0.ffn_up.weight";
        TinyLlama missing;
        missing.skip_tensor = "blk.0.ffn_down.weight";
        EXPECT_TRUE(tiny_llama(nan).write_file(models / "a" / "nan.gguf").ok());
        EXPECT_TRUE(tiny_llama(missing).write_file(models / "b" / "missing.gguf").ok());
        return models;
    }
    std::filesystem::path expect_file(const std::string& body) {
        const auto p = dir_ / "expect.json";
        std::ofstream(p) << R"({"schema_version": 1, "expectations": [)" << body << "]}";
        return p;
    }
    static json model(const json& summary, const std::string& key) {
        for (const auto& m : summary["models"]) {
            if (m["key"] == key) return m;
        }
        ADD_FAILURE() << "no model " << key;
        return {};
    }
};

}  // namespace

TEST_F(ExpectationsRun, FixtureSetPassesWithNoFlagAndNoEnvironmentVariable) {
    const auto out = dir_ / "out";
    auto r = full("--out " + quoted(out));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto summary = json::parse(slurp(out / "summary.json"));
    EXPECT_EQ(summary["counts"]["fail"], 0);
    for (const char* key : {"fixtures/mini.gguf", "fixtures/mini-v2.gguf"}) {
        const auto m = model(summary, key);
        EXPECT_EQ(m["stages"]["cpp_full"], "xfail:unknown_architecture") << key;
        const auto report = json::parse(slurp(m["report"].get<std::string>()));
        for (const auto& s : report["stages"]) {
            if (s["name"] != "cpp_full") continue;
            EXPECT_NE(s["xfail_rule"].get<std::string>().find("expectation 'fixtures/mini"), std::string::npos)
                << s.dump();
        }
    }
    // Nothing else is an XFAIL: the tiny models pass every stage.
    EXPECT_EQ(summary["counts"]["xfail"], 2);
    EXPECT_TRUE(std::filesystem::exists(out / "fixtures" / "expectations.json"));
    EXPECT_NE(slurp(out / "summary.md").find("| fixtures/mini.gguf | XFAIL |"), std::string::npos);
}

TEST_F(ExpectationsRun, BrokenModelsFailNamingBothUnlessExactlyTheirFailuresAreDeclared) {
    const auto models = models_with_two_broken();
    const auto out = dir_ / "out";
    auto r = full("--models " + quoted(models) + " --out " + quoted(out));
    EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
    EXPECT_NE(r.out.find("FAIL  " + (models / "a" / "nan.gguf").string()), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("FAIL  " + (models / "b" / "missing.gguf").string()), std::string::npos) << r.out;
    auto summary = json::parse(slurp(out / "summary.json"));
    EXPECT_EQ(model(summary, "a/nan.gguf")["stages"]["cpp_full"], "fail:invalid_tensor_data");
    EXPECT_EQ(model(summary, "b/missing.gguf")["stages"]["cpp_full"], "fail:missing_tensor");
    const auto md = slurp(out / "summary.md");
    EXPECT_NE(md.find("| a/nan.gguf | FAIL |"), std::string::npos) << md;
    EXPECT_NE(md.find("| b/missing.gguf | FAIL |"), std::string::npos) << md;

    // Declared exactly: XFAIL, exit 0.
    const auto exact = expect_file(
        R"({"model": "a/nan.gguf", "stage": "cpp_full", "failure": "invalid_tensor_data", "reason": "planted NaN"},
           {"model": "missing.gguf", "stage": "cpp_full", "failure": "missing_tensor", "reason": "no ffn_down"})");
    r = full("--models " + quoted(models) + " --out " + quoted(out) + " --expect " + quoted(exact));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    summary = json::parse(slurp(out / "summary.json"));
    EXPECT_EQ(model(summary, "a/nan.gguf")["stages"]["cpp_full"], "xfail:invalid_tensor_data");

    // Another class than declared: still a failure, with a finding that says what was declared.
    const auto wrong = expect_file(
        R"({"model": "*.gguf", "stage": "cpp_full", "failure": "wrong_shape", "reason": "not what happens"})");
    r = full("--models " + quoted(models) + " --out " + quoted(out) + " --expect " + quoted(wrong));
    EXPECT_EQ(r.exit_code, 4) << r.out;
    summary = json::parse(slurp(out / "summary.json"));
    const auto findings = model(summary, "b/missing.gguf")["findings"].dump();
    EXPECT_NE(findings.find("wrong_shape"), std::string::npos) << findings;

    // CROSSVAL_ALLOW_CPP_FAIL still allows what no expectation covers, and says so.
    r = run_command("CROSSVAL_ALLOW_CPP_FAIL=1 " + kBin + " full-crossval --models " + quoted(models) + " --out " +
                    quoted(out));
    EXPECT_EQ(r.exit_code, 0) << r.out;
    summary = json::parse(slurp(out / "summary.json"));
    const auto report = json::parse(slurp(model(summary, "a/nan.gguf")["report"].get<std::string>()));
    EXPECT_EQ(report["stages"][2]["xfail_rule"], "CROSSVAL_ALLOW_CPP_FAIL");
}

TEST_F(ExpectationsRun, DeclaredFailureThatPassesIsXpassAndFailsUnderStrict) {
    const auto models = dir_ / "models";
    ASSERT_TRUE(tiny_llama().write_file(models / "good.gguf").ok());
    const auto e = expect_file(R"({"model": "good.gguf", "stage": "cpp_full", "reason": "thought broken"})");
    const auto out = dir_ / "out";
    auto r = full("--models " + quoted(models) + " --out " + quoted(out) + " --expect " + quoted(e));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("XPASS " + (models / "good.gguf").string()), std::string::npos) << r.out;
    auto summary = json::parse(slurp(out / "summary.json"));
    EXPECT_EQ(summary["counts"]["xpass"], 1);
    EXPECT_EQ(model(summary, "good.gguf")["stages"]["cpp_full"], "xpass");
    EXPECT_NE(slurp(out / "junit.xml").find("XPASS"), std::string::npos);

    r = full("--models " + quoted(models) + " --out " + quoted(out) + " --expect " + quoted(e) + " --strict");
    EXPECT_EQ(r.exit_code, 4) << r.out;
    summary = json::parse(slurp(out / "summary.json"));
    EXPECT_EQ(model(summary, "good.gguf")["verdict"], "unexpected_pass");
}

TEST_F(ExpectationsRun, CrossvalTakesExpectationsToo) {
    const auto model_path = dir_ / "nan.gguf";
    TinyLlama nan;
    nan.nan_tensor = "blk.0.attn_q.weight";
    ASSERT_TRUE(tiny_llama(nan).write_file(model_path).ok());
    const auto e = expect_file(R"({"model": "nan.gguf", "stage": "cpp_full", "failure": "invalid_tensor_data",
                                   "reason": "planted"})");
    const auto report = dir_ / "r.json";
    auto r = run_command(kNoSoftFail + " " + kBin + " crossval --model " + quoted(model_path) + " --report " +
                         quoted(report) + " --expect " + quoted(e));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(json::parse(slurp(report))["verdict"], "pass_xfail");
    r = run_command(kNoSoftFail + " " + kBin + " crossval --model " + quoted(model_path) + " --report " +
                    quoted(report) + " --expect " + quoted(dir_ / "missing.json"));
    EXPECT_EQ(r.exit_code, 2) << r.out;
}

// Shards 1/3, 2/3 and 3/3, merged, write what one unsharded run writes (but for times).
TEST_F(ExpectationsRun, MergedShardsEqualTheUnshardedRun) {
    const auto models = models_with_two_broken();
    ASSERT_TRUE(tiny_llama().write_file(models / "c" / "good.gguf").ok());
    const std::string common = "--models " + quoted(models) + " --cpp-timeout 60";
    // One --out for all, as one machine's disk would be in a CI matrix's artifact layout: reports keep their paths.
    const auto whole = dir_ / "whole";
    const auto shards = dir_ / "shards";
    const auto full_run = full(common + " --out " + quoted(whole));
    std::string dirs;
    for (int i = 1; i <= 3; ++i) {
        const auto d = shards / std::to_string(i);
        auto r = full(common + " --out " + quoted(d) + " --shard " + std::to_string(i) + "/3");
        EXPECT_NE(r.exit_code, 2) << r.err;
        dirs += " " + quoted(d);
    }
    const auto merged = dir_ / "merged";
    auto m = run_command(kBin + " merge --out " + quoted(merged) + dirs);
    EXPECT_EQ(m.exit_code, full_run.exit_code) << m.out << m.err;

    // The shards ran in other directories, which the reference's logs name: one placeholder for all.
    auto same_dirs = [&](std::string text) {
        for (const auto& d :
             {whole.string(), (shards / "1").string(), (shards / "2").string(), (shards / "3").string()}) {
            for (auto at = text.find(d); at != std::string::npos; at = text.find(d, at))
                text.replace(at, d.size(), "OUT");
        }
        return text;
    };
    auto normalise_json = [&](json j) {
        j.erase("timestamp");
        j.erase("duration_ms");
        for (auto& model : j["models"]) {
            model.erase("duration_ms");
            model["model"] = std::filesystem::path(model["model"].get<std::string>()).filename().string();
            model["report"] = std::filesystem::path(model["report"].get<std::string>()).filename().string();
            for (auto& s : model["stage_details"]) s.erase("duration_ms");
        }
        return same_dirs(j.dump(1));
    };
    EXPECT_EQ(normalise_json(json::parse(slurp(merged / "summary.json"))),
              normalise_json(json::parse(slurp(whole / "summary.json"))));
    const std::regex times(R"(time="[0-9.]+")");
    EXPECT_EQ(same_dirs(std::regex_replace(slurp(merged / "junit.xml"), times, "")),
              same_dirs(std::regex_replace(slurp(whole / "junit.xml"), times, "")));
    EXPECT_EQ(same_dirs(slurp(merged / "summary.md")), same_dirs(slurp(whole / "summary.md")));
    // Each shard ran a third of the models.
    const auto first = json::parse(slurp(shards / "1" / "summary.json"));
    EXPECT_EQ(first["shard"]["count"], 3);
    EXPECT_LT(first["counts"]["total"].get<int>(),
              json::parse(slurp(whole / "summary.json"))["counts"]["total"].get<int>());
    // Bad shard specifications are usage errors before anything runs.
    for (const char* bad : {"0/3", "4/3", "1/0", "x/3", "1/3x", "13"}) {
        EXPECT_EQ(full("--out " + quoted(dir_ / "bad") + " --shard " + bad).exit_code, 2) << bad;
    }
}

// docs/ci/github-actions.yml parses, shards full-crossval over a matrix and merges the shards with
// options the CLI really has.
TEST(GithubWorkflow, ParsesAndUsesRealCommandsAndOptions) {
    const std::string script = R"(
import sys, yaml, re, subprocess
wf = yaml.safe_load(open(sys.argv[1]))
jobs = wf["jobs"]
shards = jobs["crossval"]["strategy"]["matrix"]["shard"]
assert shards == [1, 2, 3], shards
assert jobs["merge"]["needs"] == "crossval"
runs = [s.get("run", "") for j in jobs.values() for s in j["steps"]]
calls = [r for r in runs if "bin/gguf-crossval" in r]
full = [c for c in calls if " full-crossval" in c]
merge = [c for c in calls if " merge " in c]
assert len(full) == 1 and len(merge) == 1, calls
assert "--shard ${{ matrix.shard }}/3" in full[0]
matrix = [c for c in calls if " matrix " in c]
assert len(matrix) == 1 and "--shard ${{ matrix.shard }}/3" in matrix[0], calls
assert "--out out/shard-${{ matrix.shard }}" in matrix[0] and "--out out/shard-${{ matrix.shard }}" in full[0]
for call in calls:
    words = call.split()
    sub = words[words.index(next(w for w in words if w.endswith("bin/gguf-crossval"))) + 1]
    help = subprocess.run([sys.argv[2], sub, "--help"], capture_output=True, text=True).stdout
    for opt in [w for w in words if w.startswith("--")]:
        assert opt in help, (sub, opt)
print("ok")
)";
    const auto r = run_command("/usr/bin/python3 -c " + quoted(std::filesystem::path(script)) + " " +
                               quoted(std::filesystem::path(kSource + "/docs/ci/github-actions.yml")) + " " +
                               quoted(std::filesystem::path(kBin)));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out, "ok\n");
}

// full-crossval takes crossval's stage options: --dequant adds the dequant stage to every model.
TEST_F(ExpectationsRun, FullCrossvalTakesTheDequantStage) {
    const auto out = dir_ / "out";
    auto r = full("--dequant --out " + quoted(out));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto summary = json::parse(slurp(out / "summary.json"));
    ASSERT_FALSE(summary["models"].empty());
    for (const auto& m : summary["models"]) EXPECT_EQ(m["stages"]["dequant"], "ok") << m["key"];
}
