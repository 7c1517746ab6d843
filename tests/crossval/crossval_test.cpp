// The crossval flow against the real reference (ctest label: reference). Each file is built with
// the Writer in the test; every report produced is validated against the JSON Schema.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "crossval/logits.hpp"
#include "fixtures/mini_fixture.hpp"
#include "fixtures/tiny_model.hpp"
#include "reference/reference.hpp"
#include "support/build.hpp"
#include "support/kld_base_file.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

using namespace testing_support;
using gguf::Value;
using gguf::ValueType;
using nlohmann::json;

namespace {

const std::string kBin = GGUF_CROSSVAL_BIN;
const std::string kSchema = GGUF_CROSSVAL_SOURCE_DIR "/schema/crossval-report.schema.json";
const std::string kValidator = GGUF_CROSSVAL_SOURCE_DIR "/tests/support/validate_schema.py";

class Crossval : public testing_support::TempDirTest {
protected:
    std::filesystem::path write(const std::string& name, const Buffer& bytes) {
        const auto path = dir_ / name;
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
        return path;
    }

    // Runs crossval; the report must exist and validate against the schema.
    std::pair<RunResult, json> crossval(const std::filesystem::path& model, const std::string& env = "",
                                        const std::string& extra = "") {
        const auto report = dir_ / (model.stem().string() + ".report.json");
        std::filesystem::remove(report);
        auto r = run_command(env + " " + kBin + " crossval --model " + testing_support::quoted(model) + " --report " +
                             testing_support::quoted(report) + " " + extra);
        EXPECT_TRUE(std::filesystem::exists(report)) << r.out << r.err;
        if (!std::filesystem::exists(report)) return {r, json()};
        auto check = run_command("/usr/bin/python3 " + testing_support::quoted(kValidator) + " " +
                                 testing_support::quoted(kSchema) + " " + testing_support::quoted(report));
        EXPECT_EQ(check.exit_code, 0) << "schema: " << check.out << check.err;
        return {r, json::parse(slurp(report))};
    }

    static const json& stage(const json& report, const std::string& name) {
        for (const auto& s : report["stages"]) {
            if (s["name"] == name) return s;
        }
        static const json none;
        ADD_FAILURE() << "no stage " << name;
        return none;
    }
};

const std::string kSoft = "CROSSVAL_ALLOW_CPP_FAIL=1";
const std::string kStrict = "CROSSVAL_ALLOW_CPP_FAIL=0";

// A llama model that llama.cpp's loader aborts on: llama.block_count = 0 (docs/gguf-notes.md, "The reference's model
// loader").
Buffer llama_with_zero_blocks() {
    gguf::Writer w;
    w.add("general.architecture", Value::string("llama"));
    w.add("llama.context_length", Value::u32(32));
    w.add("llama.embedding_length", Value::u32(8));
    w.add("llama.block_count", Value::u32(0));
    w.add("llama.feed_forward_length", Value::u32(16));
    w.add("llama.attention.head_count", Value::u32(2));
    w.add("llama.attention.layer_norm_rms_epsilon", Value::f32(1e-5f));
    w.add("llama.vocab_size", Value::u32(4));
    w.add("tokenizer.ggml.model", Value::string("none"));
    EXPECT_TRUE(w.add_tensor("token_embd.weight", 0, {8, 4}, f32_data(32)).ok());
    EXPECT_TRUE(w.add_tensor("output_norm.weight", 0, {8}, f32_data(8)).ok());
    return w.to_bytes();
}

Buffer tiny(gguf::fixtures::TinyArch arch, gguf::fixtures::TinyType type) {
    auto w = gguf::fixtures::tiny_model({arch, type, 42});
    EXPECT_TRUE(w.ok());
    return w ? w->to_bytes() : Buffer{};
}

}  // namespace

TEST_F(Crossval, MiniFixtureHeaderMatchesAndFullLoadXfailsUnderSoftFail) {
    const auto model = write("mini.gguf", gguf::fixtures::mini_fixture(3).to_bytes());
    auto [r, report] = crossval(model, kSoft);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(report["reader_ok"], true);
    EXPECT_EQ(report["cpp_header_ok"], true);
    EXPECT_EQ(report["comparison"]["ran"], true);
    EXPECT_EQ(report["comparison"]["equal"], true);
    EXPECT_TRUE(report["comparison"]["mismatches"].empty());
    EXPECT_EQ(report["cpp_full_ok"], false);
    const auto& full = stage(report, "cpp_full");
    EXPECT_EQ(full["ran"], true);
    EXPECT_EQ(full["xfail"], true);
    EXPECT_EQ(full["failure_class"], "unknown_architecture") << full.dump();
    EXPECT_EQ(report["xfail"], true);
    EXPECT_EQ(report["verdict"], "pass_xfail");
    EXPECT_EQ(report["gguf_version"], 3);
    EXPECT_EQ(report["n_kv"], 4);
    EXPECT_EQ(report["file_size"], 224);
    EXPECT_EQ(report["data_offset"], 224);
    EXPECT_EQ(report["sha256"].get<std::string>().size(), 64u);
    EXPECT_FALSE(report["reference"]["version"].get<std::string>().empty());
}

TEST_F(Crossval, MiniFixtureFailsWithoutSoftFail) {
    const auto model = write("mini.gguf", gguf::fixtures::mini_fixture(3).to_bytes());
    auto [r, report] = crossval(model, kStrict);
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_EQ(report["verdict"], "reference_failed");
    EXPECT_EQ(report["xfail"], false);
    EXPECT_EQ(stage(report, "cpp_full")["xfail"], false);
}

TEST_F(Crossval, SoftFailAcceptsTrueAndYesInAnyCase) {
    const auto model = write("mini.gguf", gguf::fixtures::mini_fixture(2).to_bytes());
    for (const char* v : {"true", "YES", "True"}) {
        auto [r, report] = crossval(model, std::string("CROSSVAL_ALLOW_CPP_FAIL=") + v);
        EXPECT_EQ(r.exit_code, 0) << v;
    }
    auto [r, report] = crossval(model, "CROSSVAL_ALLOW_CPP_FAIL=nope");
    EXPECT_EQ(r.exit_code, 4);
}

TEST_F(Crossval, ReferenceAcceptsWhatOurReaderRejects) {
    // A tensor of shape (2^32, 2^32): the element count wraps to 0 in ggml, which accepts the file
    // (llama.cpp #27203); our reader rejects it as shape_overflow.
    gguf::Writer w;
    ASSERT_TRUE(w.add_tensor("t", 0, {1, 1}, Buffer(4)).ok());
    auto b = w.to_bytes();
    const std::uint64_t dim0 = 24 + 8 + 1 + 4;
    put<std::uint64_t>(b, dim0, std::uint64_t{1} << 32);
    put<std::uint64_t>(b, dim0 + 8, std::uint64_t{1} << 32);
    const auto model = write("wrap.gguf", b);
    auto [r, report] = crossval(model, kSoft);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_EQ(report["verdict"], "reader_rejected");
    EXPECT_EQ(report["reader_ok"], false);
    EXPECT_EQ(stage(report, "reader")["failure_class"], "shape_overflow");
    EXPECT_EQ(report["cpp_header_ok"], true);
    ASSERT_EQ(report["findings"].size(), 1u);
    EXPECT_NE(report["findings"][0].get<std::string>().find("the reference accepts this file; our reader rejects it"),
              std::string::npos);
}

TEST_F(Crossval, OurReaderAcceptsWhatTheReferenceRejects) {
    // A u8 array of 2^30 + 1 elements: valid GGUF (a sparse 1 GiB file), above ggml's array limit.
    gguf::Writer w;
    w.add("big", Value::array(ValueType::uint8, {Value::u8(0)}));
    auto b = w.to_bytes();
    const std::uint64_t count = 24 + 8 + 3 + 4 + 4;
    const std::uint64_t n = (std::uint64_t{1} << 30) + 1;
    put<std::uint64_t>(b, count, n);
    b.resize(count + 8);
    const auto model = write("big-array.gguf", b);
    ASSERT_EQ(::truncate(model.c_str(), static_cast<off_t>(count + 8 + n)), 0);
    auto [r, report] = crossval(model, kSoft);
    EXPECT_EQ(r.exit_code, 3) << r.out;
    EXPECT_EQ(report["verdict"], "readers_disagree");
    EXPECT_EQ(report["reader_ok"], true);
    EXPECT_EQ(report["cpp_header_ok"], false);
    EXPECT_EQ(stage(report, "cpp_header")["failure_class"], "invalid_gguf");
    ASSERT_FALSE(report["findings"].empty());
    EXPECT_NE(report["findings"][0].get<std::string>().find("our reader accepts this file; the reference rejects it"),
              std::string::npos);
}

TEST_F(Crossval, PredictedRejectionIsAReferenceFailureNotASilentPass) {
    gguf::Writer w;
    w.add("nested", Value::array(ValueType::array, {Value::array(ValueType::uint8, {Value::u8(1)})}));
    const auto model = write("nested.gguf", w.to_bytes());
    auto [strict, strict_report] = crossval(model, kStrict);
    EXPECT_EQ(strict.exit_code, 4);
    auto [soft, report] = crossval(model, kSoft);
    EXPECT_EQ(soft.exit_code, 0);
    EXPECT_EQ(report["verdict"], "pass_xfail");
    EXPECT_EQ(stage(report, "cpp_header")["xfail"], true);
    bool noted = false;
    for (const auto& n : report["notes"])
        noted = noted || n.get<std::string>().find("array_of_arrays") != std::string::npos;
    EXPECT_TRUE(noted) << report["notes"].dump();
}

// llama.cpp reads only files in the host's byte order (it asks whether the endianness differs): our
// byte_swapped warning predicts that, so a valid big-endian file is a reference failure (4), an XFAIL
// under the soft-fail policy or a matching expectation, never an unexplained disagreement (3).
TEST_F(Crossval, ByteSwappedFileIsAPredictedRejection) {
    gguf::Writer w(gguf::WriterOptions{.version = 3, .big_endian = true});
    w.add("general.architecture", Value::string("test"));
    ASSERT_TRUE(w.add_tensor("t", 0, {4}, f32_data(4)).ok());
    const auto model = write("big-endian.gguf", w.to_bytes());
    auto [strict, strict_report] = crossval(model, kStrict);
    EXPECT_EQ(strict.exit_code, 4) << strict.out << strict.err;
    EXPECT_EQ(strict_report["verdict"], "reference_failed");
    EXPECT_TRUE(strict_report["findings"].empty()) << strict_report["findings"].dump();
    const auto& reader = stage(strict_report, "reader");
    EXPECT_EQ(reader["ok"], true);
    bool warned = false;
    for (const auto& x : reader["details"]["warnings"]) warned = warned || x["code"] == "byte_swapped";
    EXPECT_TRUE(warned) << reader.dump();
    EXPECT_EQ(stage(strict_report, "cpp_header")["failure_class"], "unsupported_version");

    auto [soft, report] = crossval(model, kSoft);
    EXPECT_EQ(soft.exit_code, 0) << soft.out << soft.err;
    EXPECT_EQ(report["verdict"], "pass_xfail");
    EXPECT_EQ(stage(report, "cpp_header")["xfail"], true);
    bool noted = false;
    for (const auto& n : report["notes"])
        noted = noted || n.get<std::string>().find("byte_swapped") != std::string::npos;
    EXPECT_TRUE(noted) << report["notes"].dump();

    // An expectation declaring exactly that failure allows it without the policy.
    const auto expect = dir_ / "expect.json";
    std::ofstream(expect) << R"({"schema_version": 1, "expectations": [
        {"model": "big-endian.gguf", "stage": "cpp_header", "failure": "unsupported_version", "reason": "byte order"},
        {"model": "big-endian.gguf", "stage": "cpp_full", "failure": "unsupported_version", "reason": "byte order"}]})";
    auto [declared, declared_report] = crossval(model, kStrict, "--expect " + testing_support::quoted(expect));
    EXPECT_EQ(declared.exit_code, 0) << declared.out << declared.err;
    EXPECT_EQ(declared_report["verdict"], "pass_xfail");
}

TEST_F(Crossval, ReferenceAbortDoesNotTakeUsDown) {
    const auto model = write("zero-blocks.gguf", llama_with_zero_blocks());
    auto [r, report] = crossval(model, kSoft);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;  // our process survived and wrote its verdict
    EXPECT_EQ(report["reader_ok"], true);
    EXPECT_EQ(report["cpp_header_ok"], true);
    const auto& full = stage(report, "cpp_full");
    EXPECT_EQ(full["failure_class"], "abort_or_signal") << full.dump();
    EXPECT_EQ(full["details"]["signal"], 6);  // SIGABRT
}

TEST_F(Crossval, DeliberateDisagreementIsListedAndFailsEvenUnderSoftFail) {
    const auto model = write("mini.gguf", gguf::fixtures::mini_fixture(3).to_bytes());
    auto [r, report] = crossval(model, kSoft + " CROSSVAL_TEST_ALTER_OURS=general.name");
    EXPECT_EQ(r.exit_code, 3) << r.out;
    EXPECT_EQ(report["verdict"], "readers_disagree");
    const auto& m = report["comparison"]["mismatches"];
    ASSERT_EQ(m.size(), 1u) << m.dump();
    EXPECT_EQ(m[0]["field"], "kv[1](general.name).value");
    EXPECT_EQ(m[0]["reference"], std::string(gguf::fixtures::kMiniName));
    EXPECT_EQ(m[0]["ours"], "altered by CROSSVAL_TEST_ALTER_OURS");
}

TEST_F(Crossval, RerunsAreIdenticalButForTime) {
    const auto model = write("mini.gguf", gguf::fixtures::mini_fixture(3).to_bytes());
    auto strip = [](json j) {
        j.erase("timestamp");
        for (auto& s : j["stages"]) s.erase("duration_ms");
        return j;
    };
    auto [r1, a] = crossval(model, kSoft);
    auto [r2, b] = crossval(model, kSoft);
    EXPECT_EQ(strip(a), strip(b));
}

TEST_F(Crossval, ExplicitCppDirRoute) {
    // The pinned reference passed as a user's own build, through --cpp-dir and CROSSVAL_CPP_DIR.
    const char* cache = std::getenv("XDG_CACHE_HOME");
    const std::filesystem::path root = cache != nullptr && *cache != '\0'
                                           ? std::filesystem::path(cache)
                                           : std::filesystem::path(std::getenv("HOME")) / ".cache";
    const auto pinned = root / "gguf-crossval" / "reference" / std::string(gguf::reference::kPinnedVersion);
    ASSERT_TRUE(std::filesystem::exists(pinned)) << "run scripts/fetch-reference first";
    const auto model = write("mini.gguf", gguf::fixtures::mini_fixture(3).to_bytes());
    auto [r, report] = crossval(model, kSoft, "--cpp-dir " + testing_support::quoted(pinned));
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(report["cpp_header_ok"], true);
    EXPECT_EQ(report["reference"]["path"], pinned.string());
    auto [r2, report2] = crossval(model, kSoft + " CROSSVAL_CPP_DIR=" + testing_support::quoted(pinned));
    EXPECT_EQ(report2["cpp_header_ok"], true);
    EXPECT_EQ(report2["reference"]["path"], pinned.string());
    // A directory with no reference in it: unavailable, an XFAIL under soft-fail, a failure without.
    auto [r3, report3] = crossval(model, kSoft, "--cpp-dir " + testing_support::quoted(dir_));
    EXPECT_EQ(r3.exit_code, 0);
    EXPECT_EQ(stage(report3, "cpp_header")["failure_class"], "reference_unavailable");
    auto [r4, report4] = crossval(model, kStrict, "--cpp-dir " + testing_support::quoted(dir_));
    EXPECT_EQ(r4.exit_code, 4);
}

TEST_F(Crossval, FullCrossvalWritesReportsSummaryAndJunit) {
    const auto models = dir_ / "models";
    std::filesystem::create_directories(models);
    write("models/nested.gguf", gguf::fixtures::mini_fixture(3).to_bytes());
    const auto out = dir_ / "out";
    auto r = run_command(kSoft + " " + kBin + " full-crossval --models " + testing_support::quoted(models) + " --out " +
                         testing_support::quoted(out));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    auto summary = json::parse(slurp(out / "summary.json"));
    EXPECT_EQ(summary["counts"]["fail"], 0);
    EXPECT_GE(summary["counts"]["total"], 3);
    std::vector<std::string> reports;
    for (const auto& m : summary["models"]) reports.push_back(m["report"]);
    std::string args;
    for (const auto& p : reports) args += " " + testing_support::quoted(p);
    auto check = run_command("/usr/bin/python3 " + testing_support::quoted(kValidator) + " " +
                             testing_support::quoted(kSchema) + args);
    EXPECT_EQ(check.exit_code, 0) << check.out;
    const auto junit = slurp(out / "junit.xml");
    EXPECT_NE(junit.find("<testsuite name=\"gguf-crossval\""), std::string::npos);
    EXPECT_NE(junit.find("XFAIL"), std::string::npos);
    EXPECT_NE(r.out.find("XFAIL"), std::string::npos);  // a verdict line per model
    EXPECT_NE(r.err.find("[1/"), std::string::npos);    // progress
}

TEST_F(Crossval, TinyModelPassesEveryStageLogitsIncluded) {
    using namespace gguf::fixtures;
    const auto model = write("llama-f32.gguf", tiny(TinyArch::llama, TinyType::f32));
    auto [r, report] = crossval(model, kStrict, "--logits --tokens 1,2,3,4,5");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(report["verdict"], "pass");
    EXPECT_EQ(report["cpp_full_ok"], true);
    EXPECT_EQ(report["comparison"]["equal"], true);
    const auto& logits = stage(report, "logits");
    EXPECT_EQ(logits["ok"], true);
    EXPECT_EQ(logits["details"]["tokens"], json({1, 2, 3, 4, 5}));
    EXPECT_EQ(logits["details"]["n_vocab"], tiny_vocab().tokens.size());
    ASSERT_EQ(logits["details"]["positions"].size(), 5u);
    for (const auto& p : logits["details"]["positions"]) EXPECT_EQ(p["finite"], true);
    EXPECT_EQ(logits["details"]["thresholds"]["max_abs"], 1e-4);  // the defaults are written into the report
}

TEST_F(Crossval, LogitsPerturbedAtOnePositionAreCaughtThere) {
    using namespace gguf::fixtures;
    const auto model = write("llama-f32.gguf", tiny(TinyArch::llama, TinyType::f32));
    const auto saved = dir_ / "reference-logits.json";
    auto [r0, first] = crossval(model, kStrict, "--logits --logits-out " + testing_support::quoted(saved));
    ASSERT_EQ(r0.exit_code, 0) << r0.out;
    auto logits = gguf::crossval::read_logits_file(saved);
    ASSERT_TRUE(logits.ok()) << logits.error().message;
    ASSERT_EQ(logits->n_positions(), 4u);
    // Unchanged, the saved file agrees with a fresh run exactly.
    auto [r1, same] = crossval(model, kStrict, "--logits --against " + testing_support::quoted(saved));
    EXPECT_EQ(r1.exit_code, 0) << r1.out;
    EXPECT_EQ(stage(same, "logits")["details"]["metrics"][3]["max_abs_diff"], 0.0);
    // Position 2, vocab index 7, moved by 0.5: caught at exactly position 2 with that difference.
    auto perturbed = *logits;
    const float before = perturbed.values[2 * perturbed.n_vocab + 7];
    perturbed.values[2 * perturbed.n_vocab + 7] = before + 0.5f;
    const auto test_file = dir_ / "perturbed.bin";
    ASSERT_TRUE(gguf::crossval::write_logits_file(test_file, perturbed, gguf::crossval::LogitsFormat::binary).ok());
    auto [r2, report] = crossval(model, kSoft, "--logits --against " + testing_support::quoted(test_file));
    EXPECT_EQ(r2.exit_code, 3) << r2.out;  // a disagreement: soft-fail does not hide it
    EXPECT_EQ(report["verdict"], "readers_disagree");
    const auto& s = stage(report, "logits");
    EXPECT_EQ(s["failure_class"], "logits_diverge");
    EXPECT_EQ(s["xfail"], false);
    EXPECT_EQ(s["details"]["first_divergence"]["position"], 2);
    const auto& m = s["details"]["metrics"];
    ASSERT_EQ(m.size(), 4u);
    for (int p : {0, 1, 3}) {
        EXPECT_EQ(m[p]["max_abs_diff"], 0.0) << p;
        EXPECT_EQ(m[p]["cosine"], 1.0) << p;
    }
    EXPECT_EQ(m[2]["max_abs_diff"].get<double>(), static_cast<double>((before + 0.5f) - before));
    EXPECT_EQ(m[2]["max_abs_index"], 7);
    EXPECT_GT(m[2]["kl"].get<double>(), 0.0);
    // Over the positions: one KLD above 0 (position 2's), the three others 0; NMSE from one changed logit.
    const auto& d = s["details"]["distribution"];
    EXPECT_EQ(d["n_positions"], 4);
    EXPECT_EQ(d["n_scored"], 3);  // the last position has no next token
    EXPECT_DOUBLE_EQ(d["kld"]["mean"].get<double>(), m[2]["kl"].get<double>() / 4);
    EXPECT_DOUBLE_EQ(d["kld"]["percentiles"]["max"].get<double>(), m[2]["kl"].get<double>());
    EXPECT_DOUBLE_EQ(d["kld"]["percentiles"]["median"].get<double>(), 0.0);
    double sum_sq = 0;
    for (float v : logits->values) sum_sq += double(v) * v;
    const double dd = double(before + 0.5f) - before;
    EXPECT_NEAR(d["nmse"].get<double>(), dd * dd / sum_sq, 1e-12 * dd * dd / sum_sq);
}

namespace {

// Runs `command` (exec'd by /bin/sh, test-controlled arguments only) and returns its exit code and peak
// resident set size in KiB: the largest of the process and every child it waited for.
std::pair<int, long> run_measured(const std::string& command) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        const std::string line = "exec " + command + " >/dev/null 2>&1";
        ::execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    int status = 0;
    struct rusage ru {};
    ::wait4(pid, &status, 0, &ru);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ru.ru_maxrss};
}

}  // namespace

TEST_F(Crossval, KldBaseFileOfTheReferenceScoresNearZeroInBoundedMemory) {
    // The reference's own logits, chunk by chunk (BOS first, as llama-perplexity decodes a chunk), are
    // written as a base file by the test's writer; --against it, the reference must score KLD near 0
    // (only the file's 16-bit rounding) with the same top tokens, and 16 chunks (2048 tokens) must need
    // no more memory than 2.
    using namespace gguf::fixtures;
    const auto model = write("llama-f32.gguf", tiny(TinyArch::llama, TinyType::f32));
    constexpr int kCtx = 128;  // the tiny model's context length
    std::vector<gguf::crossval::Logits> chunks;
    std::vector<std::int32_t> tokens;
    std::uint32_t seed = 12345;
    for (int c = 0; c < 16; ++c) {
        std::string csv = "1";
        tokens.push_back(1);
        for (int i = 1; i < kCtx; ++i) {
            seed = seed * 1103515245u + 12345u;
            const auto t = static_cast<std::int32_t>(3 + (seed >> 16) % 272);
            tokens.push_back(t);
            csv += "," + std::to_string(t);
        }
        const auto saved = dir_ / ("chunk" + std::to_string(c) + ".bin");
        auto r = run_command(kBin + " crossval --model " + testing_support::quoted(model) + " --logits --tokens " +
                             csv + " --logits-out " + testing_support::quoted(saved) + " --report " +
                             testing_support::quoted(dir_ / "chunk.json"));
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
        auto l = gguf::crossval::read_logits_file(saved);
        ASSERT_TRUE(l.ok()) << l.error().message;
        ASSERT_EQ(l->n_positions(), std::size_t(kCtx));
        chunks.push_back(std::move(*l));
    }
    const auto n_vocab = static_cast<std::int32_t>(chunks[0].n_vocab);
    long rss[2] = {0, 0};
    for (const int n_chunk : {2, 16}) {
        const std::vector<std::int32_t> used(tokens.begin(), tokens.begin() + n_chunk * kCtx);
        const auto bytes = testing_support::kld_base_file(kCtx, n_vocab, n_chunk, used, [&chunks](int c, int p) {
            return chunks[std::size_t(c)].row(std::size_t(p)).data();
        });
        const auto base = dir_ / ("base" + std::to_string(n_chunk) + ".kld");
        std::ofstream(base, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        const auto report_path = dir_ / "kld.report.json";
        const auto [code, kib] =
            run_measured(kBin + " crossval --model " + testing_support::quoted(model) + " --logits --against " +
                         testing_support::quoted(base) + " --report " + testing_support::quoted(report_path));
        ASSERT_EQ(code, 0);
        rss[n_chunk == 16] = kib;
        const auto report = json::parse(slurp(report_path));
        const auto& d = stage(report, "logits")["details"]["distribution"];
        EXPECT_EQ(d["n_positions"], n_chunk * (kCtx - 1 - kCtx / 2));
        EXPECT_LT(d["kld"]["mean"].get<double>(), 1e-4);
        EXPECT_GE(d["same_top"]["p"].get<double>(), 0.99);
        EXPECT_LT(std::fabs(d["delta_p"]["rms"].get<double>()), 1e-3);
        std::printf("%d chunks: peak RSS %ld KiB, mean KLD %.3g, same top p %.4f\n", n_chunk, kib,
                    d["kld"]["mean"].get<double>(), d["same_top"]["p"].get<double>());
    }
    // The logits of 16 chunks would be 16 * 128 * n_vocab floats; the run holds one chunk at a time.
    const long all_logits_kib = 16L * kCtx * n_vocab * 4 / 1024;
#if defined(__SANITIZE_ADDRESS__)
    // ASan's quarantine keeps freed chunks resident, so the peak grows with the run: measured in the
    // plain build only (the statistics above are checked in both).
    (void)all_logits_kib;
#else
    EXPECT_LT(rss[1], rss[0] + all_logits_kib / 2) << "2 chunks: " << rss[0] << " KiB, 16 chunks: " << rss[1];
#endif
}

TEST_F(Crossval, Top1CanBeSwitchedOffOrMadeTolerantFromTheCommandLine) {
    using namespace gguf::fixtures;
    const auto model = write("llama-f32.gguf", tiny(TinyArch::llama, TinyType::f32));
    const auto saved = dir_ / "reference-logits.bin";
    auto [r0, first] = crossval(model, kStrict, "--logits --logits-out " + testing_support::quoted(saved));
    ASSERT_EQ(r0.exit_code, 0) << r0.out;
    auto logits = gguf::crossval::read_logits_file(saved);
    ASSERT_TRUE(logits.ok()) << logits.error().message;
    // Position 1: the reference's runner-up raised 1 above its top, so the test's argmax is the runner-up.
    auto test = *logits;
    const auto row = logits->row(1);
    std::size_t top = 0, second = 0;
    for (std::size_t i = 0; i < row.size(); ++i)
        if (row[i] > row[top]) top = i;
    second = top == 0 ? 1 : 0;
    for (std::size_t i = 0; i < row.size(); ++i)
        if (i != top && row[i] > row[second]) second = i;
    test.values[logits->n_vocab + second] = row[top] + 1;
    const double gap = double(row[top]) - row[second];
    ASSERT_GT(gap, 1e-4);
    const auto file = dir_ / "flipped.bin";
    ASSERT_TRUE(gguf::crossval::write_logits_file(file, test, gguf::crossval::LogitsFormat::binary).ok());
    const std::string loose =
        "--logits --max-abs 100 --min-cosine 0 --max-kl 100 --against " + testing_support::quoted(file);
    auto [r1, checked] = crossval(model, kStrict, loose);
    EXPECT_EQ(r1.exit_code, 3) << r1.out;  // only top-1 fails
    EXPECT_EQ(stage(checked, "logits")["details"]["distribution"]["top1"]["mismatches"], 1);
    auto [r2, off] = crossval(model, kStrict, loose + " --no-top1");
    EXPECT_EQ(r2.exit_code, 0) << r2.out;
    auto [r3, tolerant] = crossval(model, kStrict, loose + " --top1-tie " + std::to_string(gap * 2));
    EXPECT_EQ(r3.exit_code, 0) << r3.out;
    EXPECT_EQ(stage(tolerant, "logits")["details"]["distribution"]["top1"]["near_ties"], 1);
}

TEST_F(Crossval, TernaryFormatsOfOneBitnetModelAgree) {
    using namespace gguf::fixtures;
    const auto tq1 = write("bitnet-tq1.gguf", tiny(TinyArch::bitnet, TinyType::tq1_0));
    const auto tq2 = write("bitnet-tq2.gguf", tiny(TinyArch::bitnet, TinyType::tq2_0));
    const auto saved = dir_ / "tq1.json";
    auto [r1, a] = crossval(tq1, kStrict, "--logits --logits-out " + testing_support::quoted(saved));
    ASSERT_EQ(r1.exit_code, 0) << r1.out;
    auto [r2, b] = crossval(tq2, kStrict, "--logits --against " + testing_support::quoted(saved));
    EXPECT_EQ(r2.exit_code, 0) << r2.out;
    EXPECT_TRUE(stage(b, "logits")["details"]["first_divergence"].is_null());
}

TEST_F(Crossval, LogitsAgainstASecondReferenceBuild) {
    // The pinned build passed again as "another" build directory: same library, same logits.
    using namespace gguf::fixtures;
    const char* cache = std::getenv("XDG_CACHE_HOME");
    const std::filesystem::path root = cache != nullptr && *cache != '\0'
                                           ? std::filesystem::path(cache)
                                           : std::filesystem::path(std::getenv("HOME")) / ".cache";
    const auto pinned = root / "gguf-crossval" / "reference" / std::string(gguf::reference::kPinnedVersion);
    ASSERT_TRUE(std::filesystem::exists(pinned)) << "run scripts/fetch-reference first";
    const auto model = write("llama-q8.gguf", tiny(TinyArch::llama, TinyType::q8_0));
    auto [r, report] = crossval(model, kStrict, "--logits --against " + testing_support::quoted(pinned));
    EXPECT_EQ(r.exit_code, 0) << r.out;
    const auto& s = stage(report, "logits");
    EXPECT_EQ(s["details"]["against"]["kind"], "reference");
    ASSERT_EQ(s["details"]["metrics"].size(), 4u);
    for (const auto& m : s["details"]["metrics"]) EXPECT_EQ(m["max_abs_diff"], 0.0);
}

// A long run costs a row, not a matrix: the reference's logits are read back from the probe's file one
// position at a time for the summary, --logits-out and the comparison with a binary --against file.
// The model's vocabulary is 32768 tokens, so that a row is 128 KiB and 512 positions are 64 MiB:
// holding them (as the stage once did, with copies for the file written, and the --against file read
// whole to check it) added 170 MiB (--logits-out) and 108 MiB (--against) between 64 and 512
// positions; measured now: under 1 MiB for each.
TEST_F(Crossval, ALongRunOfLogitsCostsOurProcessARowNotTheMatrix) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "memory bounds are measured in the plain build: ASan's shadow memory and quarantine add to it";
#endif
    using namespace gguf::fixtures;
    TinyModelSpec spec{TinyArch::llama, TinyType::f32, 42};
    spec.extra_vocab = 32768 - tiny_shape(TinyArch::llama).n_vocab;
    auto w = tiny_model(spec);
    ASSERT_TRUE(w.ok());
    const auto model = write("wide.gguf", w->to_bytes());
    const auto peak = [&](std::size_t positions, bool against, const char* ext) {
        std::string tokens = "1";
        for (std::size_t i = 1; i < positions; ++i) tokens += fmt::format(",{}", 3 + (i * 7) % 256);
        const auto saved = dir_ / fmt::format("ref-{}.{}", positions, ext);
        std::vector<std::string> argv{kBin,           "crossval", "--model",
                                      model.string(), "--report", (dir_ / "long.json").string(),
                                      "--logits",     "--tokens", tokens};
        if (against) {
            argv.insert(argv.end(), {"--against", saved.string()});
        } else {
            argv.insert(argv.end(), {"--logits-out", saved.string()});
        }
        int code = -1;
        const long kib = testing_support::own_peak_kib(argv, code);
        EXPECT_EQ(code, 0) << positions << " positions" << (against ? ", against the saved file" : "") << ", " << ext;
        if (!against && std::string_view(ext) == "bin") {
            EXPECT_EQ(std::filesystem::file_size(saved), 16 + positions * 32768 * 4);  // GLOG header + the rows
        }
        return static_cast<double>(kib) / 1024;
    };
    const double short_save = peak(64, false, "bin"), long_save = peak(512, false, "bin");
    const double short_against = peak(64, true, "bin"), long_against = peak(512, true, "bin");
    const auto report = json::parse(slurp(dir_ / "long.json"));
    EXPECT_EQ(stage(report, "logits")["details"]["metrics"].size(), 512u);
    EXPECT_LT(long_save - short_save, 8.0) << short_save << " MiB for 64 positions, " << long_save << " for 512";
    EXPECT_LT(long_against - short_against, 8.0)
        << short_against << " MiB for 64 positions, " << long_against << " for 512, against a binary file";
    // A JSON file (about 12 bytes a value: 100 MB for 256 positions) is streamed, never a tree: its
    // values wait in a temporary file, not in memory.
    (void)peak(64, false, "json");
    (void)peak(256, false, "json");
    const double short_json = peak(64, true, "json"), long_json = peak(256, true, "json");
    EXPECT_EQ(stage(json::parse(slurp(dir_ / "long.json")), "logits")["details"]["metrics"].size(), 256u);
    EXPECT_LT(long_json - short_json, 8.0)
        << short_json << " MiB for 64 positions, " << long_json << " for 256, against a JSON file";
}

TEST_F(Crossval, AgainstMustBeReadable) {
    const auto model = write("mini.gguf", gguf::fixtures::mini_fixture(3).to_bytes());
    const auto report = testing_support::quoted(dir_ / "usage.report.json");
    const auto junk = write("junk.json", Buffer{std::byte{'{'}});
    auto r = run_command(kBin + " crossval --model " + testing_support::quoted(model) + " --report " + report +
                         " --logits --against " + testing_support::quoted(junk));
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("--against"), std::string::npos);
    // A binary file is checked by its header against its size, before the run: 2 positions of 3 logits
    // need 2 * 3 * 4 = 24 bytes after the 16-byte header; it has 20.
    std::string cut = "GLOG";
    for (const std::uint32_t v : {1u, 2u, 3u}) {
        for (int b = 0; b < 4; ++b) cut += static_cast<char>((v >> (8 * b)) & 0xff);
    }
    cut += std::string(20, '\0');
    const auto cut_path = write("cut.bin", Buffer(reinterpret_cast<const std::byte*>(cut.data()),
                                                  reinterpret_cast<const std::byte*>(cut.data()) + cut.size()));
    r = run_command(kBin + " crossval --model " + testing_support::quoted(model) + " --report " + report +
                    " --logits --against " + testing_support::quoted(cut_path));
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("need 24 bytes of data after the header, the file has 20"), std::string::npos) << r.err;
}

TEST_F(Crossval, AKldBaseFileIsCheckedBeforeTheRunAndRefusesTokens) {
    const auto model = write("mini.gguf", gguf::fixtures::mini_fixture(3).to_bytes());
    // a header that declares one chunk of 4 tokens but no data: truncated, named with the file's size
    auto bytes = testing_support::kld_base_file(4, 3, 1, {0, 1, 2, 0}, [](int, int) {
        static const float row[3] = {0, 1, 2};
        return row;
    });
    const auto whole = write("base.kld", Buffer(reinterpret_cast<const std::byte*>(bytes.data()),
                                                reinterpret_cast<const std::byte*>(bytes.data()) + bytes.size()));
    bytes.resize(bytes.size() - 2);
    const auto cut = write("cut.kld", Buffer(reinterpret_cast<const std::byte*>(bytes.data()),
                                             reinterpret_cast<const std::byte*>(bytes.data()) + bytes.size()));
    const auto report = testing_support::quoted(dir_ / "usage.report.json");
    auto r = run_command(kBin + " crossval --model " + testing_support::quoted(model) + " --report " + report +
                         " --logits --against " + testing_support::quoted(cut));
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("need"), std::string::npos) << r.err;
    r = run_command(kBin + " crossval --model " + testing_support::quoted(model) + " --report " + report +
                    " --logits --tokens 1 --against " + testing_support::quoted(whole));
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("--tokens"), std::string::npos) << r.err;
}
