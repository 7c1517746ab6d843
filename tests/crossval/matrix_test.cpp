// The reader-agreement matrix against the real readers (ctest label: reference): the whole
// conformance corpus, written by our writer, through the CLI as a user runs it. Needs the pinned
// reference (scripts/fetch-reference) and the peers (scripts/fetch-peers); fails, never skips,
// without them. Expected values come from docs/gguf-notes.md and the file layout, not from a run.
#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "fixtures/corpus.hpp"
#include "support/run.hpp"

using namespace testing_support;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kBin = GGUF_CROSSVAL_BIN;
const std::vector<std::string> kReaders{"ours", "llama.cpp", "gguf-py", "@huggingface/gguf", "bitnet.cpp"};

fs::path fresh_dir(const std::string& name) {
    auto dir = fs::temp_directory_path() / ("gguf_matrix_test_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// The corpus cases with these file names, in corpus order.
std::vector<gguf::fixtures::CorpusCase> subset(const std::set<std::string>& names) {
    std::vector<gguf::fixtures::CorpusCase> out;
    for (auto& c : gguf::fixtures::corpus()) {
        if (names.count(c.file)) out.push_back(std::move(c));
    }
    return out;
}

// The whole corpus, run once for the suite.
class MatrixCorpus : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = fresh_dir("corpus");
        cases_ = gguf::fixtures::corpus().size();
        ASSERT_TRUE(gguf::fixtures::write_corpus(dir_ / "corpus").ok());
        run_ = run_command(kBin + " matrix " + quoted(dir_ / "corpus") + " --out " + quoted(dir_ / "out"));
        std::ifstream in(dir_ / "out" / "matrix.json");
        matrix_ = json::parse(in, nullptr, false);
        markdown_ = slurp(dir_ / "out" / "matrix.md");
    }
    static void TearDownTestSuite() { fs::remove_all(dir_); }

    void SetUp() override {
        ASSERT_TRUE(matrix_.is_object()) << "no matrix.json; exit " << run_.exit_code << "\n" << run_.err;
    }

    static const json& file(const std::string& name) {
        for (const auto& f : matrix_["files"]) {
            if (f["name"] == name) return f;
        }
        ADD_FAILURE() << "no file " << name << " in matrix.json";
        static const json none = json::object();
        return none;
    }
    static const json& cell(const std::string& name, const std::string& reader) {
        return file(name)["readers"][reader];
    }

    static inline fs::path dir_;
    static inline std::size_t cases_ = 0;
    static inline RunResult run_;
    static inline json matrix_;
    static inline std::string markdown_;
};

TEST_F(MatrixCorpus, EveryReaderIsAvailable) {
    // Not a pass by omission: a missing peer would hide its whole column.
    for (const auto& r : matrix_["readers"]) {
        EXPECT_TRUE(r["available"].get<bool>())
            << r["name"] << " unavailable: " << r.value("why_unavailable", std::string())
            << " (run scripts/fetch-reference, scripts/fetch-peers and scripts/fetch-bitnet)";
    }
}

TEST_F(MatrixCorpus, OurReaderIsRightOnEveryFileAndTheExitCodeSaysSo) {
    EXPECT_EQ(run_.exit_code, 0) << run_.err;
    EXPECT_EQ(matrix_["ours_right"], true);
    for (const auto& f : matrix_["files"]) {
        const auto& ours = f["readers"]["ours"];
        const bool valid = f["valid"].get<bool>();
        EXPECT_EQ(ours["verdict"], valid ? "accept" : "reject") << f["name"];
        EXPECT_EQ(ours["wrong"], false) << f["name"];
        if (!valid) EXPECT_EQ(ours["code_or_message"], f["expected_code"]) << f["name"];
    }
    EXPECT_EQ(matrix_["totals"]["ours"]["wrongly_accepted"], 0);
    EXPECT_EQ(matrix_["totals"]["ours"]["wrongly_rejected"], 0);
}

TEST_F(MatrixCorpus, BitnetCppReadsTheI2sFileThePinnedLlamaCppRejects) {
    const std::string name = "valid/tensor_type_36_I2_S.gguf";
    EXPECT_EQ(cell(name, "llama.cpp")["verdict"], "reject");
    EXPECT_EQ(cell(name, "bitnet.cpp")["verdict"], "accept") << cell(name, "bitnet.cpp").dump();
    EXPECT_TRUE(cell(name, "bitnet.cpp")["mismatches"].empty()) << cell(name, "bitnet.cpp").dump();
}

TEST_F(MatrixCorpus, TheReferenceWronglyAcceptsTheTwoDocumentedHoles) {
    // docs/gguf-notes.md, "The reference's reader": shape (2^32, 2^32) wraps the element count to 0; F32 ne0 =
    // (2^64-1)/4 wraps the padded size to 0. Both are malformed; the pinned reference accepts both.
    for (const auto* name : {"malformed/shape_2_32_by_2_32.gguf", "malformed/f32_padded_size_wraps.gguf"}) {
        EXPECT_EQ(file(name)["valid"], false) << name;
        EXPECT_EQ(cell(name, "llama.cpp")["verdict"], "accept") << name;
        EXPECT_EQ(cell(name, "llama.cpp")["wrong"], true) << name;
        EXPECT_EQ(cell(name, "ours")["verdict"], "reject") << name;
    }
    EXPECT_GE(matrix_["totals"]["llama.cpp"]["wrongly_accepted"].get<int>(), 2);
    EXPECT_NE(markdown_.find("`malformed/shape_2_32_by_2_32.gguf`"), std::string::npos);
    EXPECT_NE(markdown_.find("`malformed/f32_padded_size_wraps.gguf`"), std::string::npos);
}

TEST_F(MatrixCorpus, ZeroTensorDataOffsetIsUnpaddedInGgmlAndPaddedInThePeers) {
    // header_only_v3: magic (4) + version (4) + n_tensors (8) + n_kv (8) = 24 bytes and nothing
    // else. ggml reports the unpadded end of the metadata, 24; gguf-py, @huggingface/gguf and we
    // pad it to the default alignment 32.
    const std::string name = "valid/header_only_v3.gguf";
    EXPECT_EQ(cell(name, "llama.cpp")["data_offset"], 24);
    EXPECT_EQ(cell(name, "gguf-py")["data_offset"], 32);
    EXPECT_EQ(cell(name, "@huggingface/gguf")["data_offset"], 32);
    EXPECT_EQ(cell(name, "ours")["data_offset"], 32);
    // For ggml the difference is documented and normalised (with a note), never a mismatch; for the
    // peers there is nothing to normalise.
    EXPECT_TRUE(cell(name, "llama.cpp")["mismatches"].empty());
    ASSERT_EQ(cell(name, "llama.cpp")["notes"].size(), 1u);
    EXPECT_EQ(cell(name, "llama.cpp")["notes"][0].get<std::string>().rfind("data_offset", 0), 0u);
    for (const auto* peer : {"gguf-py", "@huggingface/gguf"}) {
        EXPECT_TRUE(cell(name, peer)["mismatches"].empty()) << peer;
        EXPECT_TRUE(cell(name, peer)["notes"].empty()) << peer;
    }

    // Every 0-tensor file all three accept: the peers' offset is ggml's rounded up to the alignment.
    std::size_t compared = 0, strictly_less = 0;
    for (const auto& c : gguf::fixtures::corpus()) {
        if (!c.valid || c.expect.value("n_tensors", 1) != 0) continue;
        const auto& f = file(c.file);
        const auto& ggml = f["readers"]["llama.cpp"];
        const auto& py = f["readers"]["gguf-py"];
        const auto& hf = f["readers"]["@huggingface/gguf"];
        if (ggml["verdict"] != "accept" || py["verdict"] != "accept" || hf["verdict"] != "accept") continue;
        const auto a = c.expect["alignment"].get<std::uint64_t>();
        const auto unpadded = ggml["data_offset"].get<std::uint64_t>();
        const auto padded = (unpadded + a - 1) / a * a;
        EXPECT_EQ(py["data_offset"], padded) << c.file;
        EXPECT_EQ(hf["data_offset"], padded) << c.file;
        EXPECT_EQ(f["readers"]["ours"]["data_offset"], padded) << c.file;
        ++compared;
        if (unpadded < padded) ++strictly_less;
    }
    EXPECT_GE(compared, 5u);
    EXPECT_GE(strictly_less, 1u);
}

TEST_F(MatrixCorpus, JsonHasTheDocumentedStructureAndItsTotalsAddUp) {
    EXPECT_EQ(matrix_["schema"], "gguf-crossval-matrix");
    EXPECT_EQ(matrix_["version"], 1);
    std::vector<std::string> names;
    for (const auto& r : matrix_["readers"]) names.push_back(r["name"]);
    EXPECT_EQ(names, kReaders);
    ASSERT_EQ(matrix_["files"].size(), cases_);

    const std::set<std::string> verdicts{"accept", "reject", "crash", "timeout", "unavailable"};
    std::map<std::string, std::map<std::string, int>> counted;
    for (const auto& f : matrix_["files"]) {
        ASSERT_TRUE(f["name"].is_string());
        ASSERT_TRUE(f["valid"].is_boolean()) << f["name"];
        const bool valid = f["valid"].get<bool>();
        EXPECT_EQ(f["expected_code"].is_string(), !valid) << f["name"];
        EXPECT_EQ(f["expected_code"].is_null(), valid) << f["name"];
        EXPECT_TRUE(f["description"].is_string()) << f["name"];
        ASSERT_EQ(f["readers"].size(), kReaders.size()) << f["name"];
        for (const auto& reader : kReaders) {
            const auto& c = f["readers"][reader];
            ASSERT_TRUE(c.is_object()) << f["name"] << " " << reader;
            const auto verdict = c["verdict"].get<std::string>();
            EXPECT_TRUE(verdicts.count(verdict)) << verdict;
            EXPECT_TRUE(c["code_or_message"].is_string());
            ASSERT_TRUE(c["mismatches"].is_array());
            for (const auto& m : c["mismatches"]) EXPECT_TRUE(m.is_string());
            if (verdict == "accept" && !valid) ++counted[reader]["wrongly_accepted"];
            if (verdict == "reject" && valid) ++counted[reader]["wrongly_rejected"];
            if (verdict == "crash") ++counted[reader]["crashes"];
            if (verdict == "timeout") ++counted[reader]["timeouts"];
            if (!c["mismatches"].empty()) ++counted[reader]["value_disagreements"];
            // wrong is exactly "accepts a malformed file or rejects a valid one" (plus, for ours, a
            // wrong code).
            if (reader != "ours" && (verdict == "accept" || verdict == "reject")) {
                EXPECT_EQ(c["wrong"], (verdict == "accept") != valid) << f["name"] << " " << reader;
            }
        }
    }
    for (const auto& reader : kReaders) {
        const auto& t = matrix_["totals"][reader];
        for (const auto* key : {"wrongly_accepted", "wrongly_rejected", "crashes", "timeouts", "value_disagreements"}) {
            ASSERT_TRUE(t[key].is_number_unsigned()) << reader << " " << key;
            EXPECT_EQ(t[key].get<int>(), counted[reader][key]) << reader << " " << key;
        }
    }
}

TEST_F(MatrixCorpus, MarkdownHasTheSummaryThenOnlyTheDisagreeingFiles) {
    EXPECT_NE(markdown_.find("| reader | version | accepted | rejected | wrongly accepted | wrongly rejected |"),
              std::string::npos);
    std::size_t agree = 0;
    for (const auto& f : matrix_["files"]) {
        const bool listed = markdown_.find("| `" + f["name"].get<std::string>() + "` |") != std::string::npos;
        EXPECT_EQ(listed, !f["all_agree"].get<bool>()) << f["name"];
        if (f["all_agree"].get<bool>()) ++agree;
    }
    EXPECT_NE(markdown_.find(std::to_string(agree) + " of " + std::to_string(cases_) + " files"), std::string::npos);
    // A file every reader handles alike is not a row: a valid two-tensor file with general.alignment 32.
    EXPECT_TRUE(file("valid/alignment_32.gguf")["all_agree"].get<bool>());
}

TEST(Matrix, APeerWithAWrongPathIsUnavailableNotAPass) {
    const auto dir = fresh_dir("unavailable");
    const auto cases = subset({"valid/header_only_v3.gguf", "valid/alignment_32.gguf", "malformed/bool_2.gguf"});
    ASSERT_EQ(cases.size(), 3u);
    ASSERT_TRUE(gguf::fixtures::write_corpus(dir, cases).ok());
    const auto r = run_command("GGUF_CROSSVAL_HF_GGUF=/nonexistent/hf GGUF_CROSSVAL_GGUF_PY=/nonexistent/gguf-py " +
                               kBin + " matrix " + quoted(dir));
    EXPECT_EQ(r.exit_code, 0) << r.err;  // our reader is right: the missing peers are reported, not failures
    EXPECT_NE(r.err.find("scripts/fetch-peers"), std::string::npos) << r.err;
    std::ifstream in(dir / "matrix.json");
    const auto m = json::parse(in);
    for (const auto* peer : {"gguf-py", "@huggingface/gguf"}) {
        for (const auto& reader : m["readers"]) {
            if (reader["name"] != peer) continue;
            EXPECT_EQ(reader["available"], false);
            EXPECT_NE(reader["why_unavailable"].get<std::string>().find("/nonexistent/"), std::string::npos);
        }
        for (const auto& f : m["files"]) {
            EXPECT_EQ(f["readers"][peer]["verdict"], "unavailable") << f["name"];
            EXPECT_TRUE(f["readers"][peer]["wrong"].is_null()) << f["name"];
        }
        EXPECT_EQ(m["totals"][peer]["unavailable"], 3);
        EXPECT_EQ(m["totals"][peer]["accepted"], 0);
        EXPECT_EQ(m["totals"][peer]["rejected"], 0);
    }
    const auto md = slurp(dir / "matrix.md");
    EXPECT_NE(md.find("| gguf-py | unavailable |"), std::string::npos) << md;
    EXPECT_NE(md.find("| @huggingface/gguf | unavailable |"), std::string::npos) << md;
    fs::remove_all(dir);
}

TEST(Matrix, OurReaderWrongAgainstTheManifestExitsOne) {
    // A valid file that a (deliberately false) manifest calls malformed: our reader accepts it, so
    // against this manifest it is wrong.
    const auto dir = fresh_dir("ours_wrong");
    auto cases = subset({"valid/alignment_32.gguf"});
    ASSERT_EQ(cases.size(), 1u);
    cases[0].valid = false;
    cases[0].expected_code = gguf::Code::truncated;
    ASSERT_TRUE(gguf::fixtures::write_corpus(dir, cases).ok());
    const auto r = run_command(kBin + " matrix " + quoted(dir));
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    std::ifstream in(dir / "matrix.json");
    const auto m = json::parse(in);
    EXPECT_EQ(m["ours_right"], false);
    EXPECT_EQ(m["files"][0]["readers"]["ours"]["wrong"], true);
    EXPECT_EQ(m["totals"]["ours"]["wrongly_accepted"], 1);
    fs::remove_all(dir);
}

TEST(Matrix, WithoutAManifestEveryGgufRunsWithNoExpectation) {
    const auto dir = fresh_dir("no_manifest");
    ASSERT_TRUE(gguf::fixtures::write_corpus(dir, subset({"valid/alignment_32.gguf", "malformed/bool_2.gguf"})).ok());
    fs::remove(dir / "manifest.json");
    const auto out = dir / "report";
    const auto r = run_command(kBin + " matrix " + quoted(dir) + " --out " + quoted(out));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::ifstream in(out / "matrix.json");
    const auto m = json::parse(in);
    EXPECT_EQ(m["has_manifest"], false);
    ASSERT_EQ(m["files"].size(), 2u);
    // Sorted by path: malformed/ before valid/.
    EXPECT_EQ(m["files"][0]["name"], "malformed/bool_2.gguf");
    EXPECT_EQ(m["files"][1]["name"], "valid/alignment_32.gguf");
    for (const auto& f : m["files"]) {
        EXPECT_TRUE(f["valid"].is_null());
        for (const auto& reader : kReaders) EXPECT_TRUE(f["readers"][reader]["wrong"].is_null()) << reader;
    }
    EXPECT_EQ(m["files"][0]["readers"]["ours"]["verdict"], "reject");
    EXPECT_EQ(m["files"][0]["readers"]["ours"]["code_or_message"], "invalid_bool");
    fs::remove_all(dir);
}

TEST(Matrix, AMissingDirectoryIsAUsageError) {
    const auto r = run_command(kBin + " matrix /nonexistent/corpus");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("not a directory"), std::string::npos) << r.err;
}

}  // namespace
