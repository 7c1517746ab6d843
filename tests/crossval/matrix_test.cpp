// The reader-agreement matrix against the real readers (ctest label: reference): the whole
// conformance corpus, written by our writer, through the CLI as a user runs it. Needs the pinned
// reference (scripts/fetch-reference) and the peers (scripts/fetch-peers); fails, never skips,
// without them. Expected values come from docs/gguf-notes.md and the file layout, not from a run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/corpus.hpp"
#include "reference/peers.hpp"
#include "reference/reference.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

using namespace testing_support;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kBin = GGUF_CROSSVAL_BIN;
const std::vector<std::string> kReaders{"ours", "llama.cpp", "gguf-py", "@huggingface/gguf", "bitnet.cpp"};

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
        dir_ = scratch_dir("matrix_corpus");
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
    const auto dir = scratch_dir("matrix_unavailable");
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

// A file our reader read that a peer then finds gone (deleted or made unreadable during the run) is
// no verdict on the file: the peer's cell is unavailable, not a (wrong) rejection. The peers here are a
// gguf-py and an @huggingface/gguf whose readers fail as each fails on a missing file, on every file.
TEST(Matrix, AFileAPeerCannotFindIsUnavailableNotARejection) {
    const auto dir = scratch_dir("matrix_vanished");
    const auto cases = subset({"valid/header_only_v3.gguf", "malformed/bool_2.gguf"});
    ASSERT_EQ(cases.size(), 2u);
    ASSERT_TRUE(gguf::fixtures::write_corpus(dir / "corpus", cases).ok());
    const auto py = dir / "gguf-py";
    fs::create_directories(py / "gguf");
    std::ofstream(py / "gguf" / "gguf_reader.py")
        << "import errno, os\n"
           "class GGUFReader:\n"
           "    def __init__(self, path, mode='r'):\n"
           "        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)\n";
    std::ofstream(py / "gguf" / "constants.py") << "import enum\nclass GGUFValueType(enum.IntEnum):\n    INT8 = 1\n    "
                                                   "INT16 = 3\n    INT32 = 5\n    INT64 = 11\n";
    const auto hf = dir / "hf";
    fs::create_directories(hf);
    std::ofstream(hf / "package.json") << R"({"name": "@huggingface/gguf", "version": ")"
                                       << gguf::reference::kHfGgufVersion << R"(", "main": "index.js"})";
    std::ofstream(hf / "index.js") << "exports.gguf = async (f) => {\n"
                                      "  const e = new Error(`ENOENT: no such file or directory, open '${f}'`);\n"
                                      "  e.code = 'ENOENT';\n"
                                      "  throw e;\n"
                                      "};\n";
    const auto r = run_command("GGUF_CROSSVAL_GGUF_PY=" + quoted(py) + " GGUF_CROSSVAL_HF_GGUF=" + quoted(hf) + " " +
                               kBin + " matrix " + quoted(dir / "corpus") + " --out " + quoted(dir / "out"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::ifstream in(dir / "out" / "matrix.json");
    const auto m = json::parse(in);
    ASSERT_EQ(m["files"].size(), 2u);
    for (const auto* peer : {"gguf-py", "@huggingface/gguf"}) {
        for (const auto& f : m["files"]) {
            const auto& cell = f["readers"][peer];
            EXPECT_EQ(cell["verdict"], "unavailable") << peer << " " << f["name"] << ": " << cell.dump();
            EXPECT_TRUE(cell["wrong"].is_null()) << peer << " " << f["name"];
            EXPECT_NE(cell["code_or_message"].get<std::string>().find("o such file or directory"), std::string::npos)
                << cell.dump();
        }
        EXPECT_EQ(m["totals"][peer]["rejected"], 0) << peer;
        EXPECT_EQ(m["totals"][peer]["wrongly_rejected"], 0) << peer;
    }
    fs::remove_all(dir);
}

TEST(Matrix, OurReaderWrongAgainstTheManifestExitsOne) {
    // A valid file that a (deliberately false) manifest calls malformed: our reader accepts it, so
    // against this manifest it is wrong.
    const auto dir = scratch_dir("matrix_ours_wrong");
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
    const auto dir = scratch_dir("matrix_no_manifest");
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

// matrix.json without what differs from one run to the next: the times, and which shard it was.
json without_times(json m) {
    m.erase("timestamp");
    m.erase("duration_s");
    m.erase("shard");
    for (auto& [reader, totals] : m["totals"].items()) totals.erase("duration_ms");
    for (auto& f : m["files"]) {
        for (auto& [reader, cell] : f["readers"].items()) cell.erase("duration_ms");
    }
    return m;
}

// Shards 1/3, 2/3 and 3/3 of a corpus, merged, are what one unsharded run writes (but for times).
TEST(Matrix, MergedShardsEqualTheUnshardedRun) {
    const auto dir = scratch_dir("matrix_shards");
    // Files on which the readers differ in every way the matrix records: verdicts some peers get wrong,
    // values that differ (a non-UTF-8 value), normalisations (a 0-tensor file, trailing unit dims, type 36).
    const auto cases = subset({"valid/header_only_v3.gguf", "valid/alignment_32.gguf", "malformed/bool_2.gguf",
                               "valid/dims_5.gguf", "valid/tensor_type_36_I2_S.gguf", "valid/invalid_utf8_value.gguf",
                               "malformed/empty_file.gguf", "valid/trailing_unit_dims.gguf"});
    ASSERT_EQ(cases.size(), 8u);
    ASSERT_TRUE(gguf::fixtures::write_corpus(dir / "corpus", cases).ok());
    const auto corpus = quoted(dir / "corpus");
    const auto whole = run_command(kBin + " matrix " + corpus + " --out " + quoted(dir / "whole"));
    ASSERT_NE(whole.exit_code, 2) << whole.err;
    std::string dirs;
    std::set<std::size_t> seen;
    for (int i = 1; i <= 3; ++i) {
        const auto out = dir / ("shard" + std::to_string(i));
        const auto r =
            run_command(kBin + " matrix " + corpus + " --out " + quoted(out) + " --shard " + std::to_string(i) + "/3");
        ASSERT_EQ(r.exit_code, whole.exit_code) << r.err;
        const auto m = json::parse(slurp(out / "matrix.json"));
        EXPECT_EQ(m["shard"]["index"], i);
        EXPECT_EQ(m["shard"]["count"], 3);
        // Shard i takes the files at positions i-1, i+2, ... of the manifest, and only those.
        for (const auto& f : m["files"]) {
            const auto index = f["index"].get<std::size_t>();
            EXPECT_EQ(index % 3, static_cast<std::size_t>(i - 1)) << f["name"];
            EXPECT_EQ(f["name"], cases.at(index).file);
            EXPECT_TRUE(seen.insert(index).second) << "file " << index << " in two shards";
        }
        dirs += " " + quoted(out);
    }
    EXPECT_EQ(seen.size(), cases.size());  // every file in some shard
    const auto merged = run_command(kBin + " merge --out " + quoted(dir / "merged") + dirs);
    EXPECT_EQ(merged.exit_code, whole.exit_code) << merged.out << merged.err;
    const auto a = json::parse(slurp(dir / "whole" / "matrix.json"));
    const auto b = json::parse(slurp(dir / "merged" / "matrix.json"));
    EXPECT_FALSE(b.contains("shard"));
    EXPECT_EQ(without_times(b).dump(1), without_times(a).dump(1));
    // matrix.md differs only where it gives the time and date of the run
    // and in the readers' times (the last column of the summary table).
    const std::regex when(R"(; run [0-9TZ:.-]+ in [0-9]+ s\.|\| [0-9]+\.[0-9] \|\n)");
    EXPECT_EQ(std::regex_replace(slurp(dir / "merged" / "matrix.md"), when, ""),
              std::regex_replace(slurp(dir / "whole" / "matrix.md"), when, ""));
    // A file in two shards is a usage error.
    EXPECT_EQ(run_command(kBin + " merge --out " + quoted(dir / "twice") + " " + quoted(dir / "shard1") + " " +
                          quoted(dir / "shard1"))
                  .exit_code,
              2);
    fs::remove_all(dir);
}

TEST(Matrix, BadShardSpecificationsAreUsageErrors) {
    const auto dir = scratch_dir("matrix_bad_shards");
    ASSERT_TRUE(gguf::fixtures::write_corpus(dir, subset({"valid/alignment_32.gguf"})).ok());
    for (const char* bad : {"0/3", "4/3", "1/0", "x/3", "1/3x", "13", "' 1/3'", "-1/3", "''", "1/100001"}) {
        const auto r = run_command(kBin + " matrix " + quoted(dir) + " --shard " + bad);
        EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.err;
        EXPECT_FALSE(fs::exists(dir / "matrix.json")) << bad;
    }
    fs::remove_all(dir);
}

// A file whose name is not UTF-8: every reader opens it (Node gets it through an ASCII-named symlink;
// it once answered ENOENT, counted as a reject), and matrix.json names it losslessly: rendered with
// \xNN for the bytes outside UTF-8 (as describe renders strings) and its bytes in hex.
TEST(Matrix, ANonUtf8FileNameIsReadByEveryReaderAndNamedLosslessly) {
    const auto dir = scratch_dir("matrix_non_utf8");
    ASSERT_TRUE(gguf::fixtures::write_corpus(dir / "made", subset({"valid/alignment_32.gguf"})).ok());
    const auto corpus = dir / "corpus";
    fs::create_directories(corpus);
    const std::string name = "w\xff\xfe.gguf";
    fs::copy_file(dir / "made" / "valid" / "alignment_32.gguf", corpus / name);
    const auto r = run_command(kBin + " matrix " + quoted(corpus));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto m = json::parse(slurp(corpus / "matrix.json"));
    ASSERT_EQ(m["files"].size(), 1u);
    const auto& f = m["files"][0];
    EXPECT_EQ(f["name"], "w\\xff\\xfe.gguf");
    EXPECT_EQ(f["name_hex"], "77fffe2e67677566");  // w 0xff 0xfe . g g u f
    for (const auto& reader : kReaders) {
        const auto& cell = f["readers"][reader];
        EXPECT_EQ(cell["verdict"], "accept") << reader << ": " << cell["code_or_message"];
    }
    // No symlink is left behind in the temporary directory.
    for (const auto& e : fs::directory_iterator(fs::temp_directory_path())) {
        EXPECT_NE(e.path().filename().string().rfind("gguf-crossval-matrix-", 0), 0u) << e.path();
    }
    fs::remove_all(dir);
}

// The vocabulary files of the pinned bundle (the largest 15.8 MB): the matrix process once peaked at
// 368 MB for the largest alone and 1.17 GB for all 19 (all four readers' answers held per file, 16
// files' answers per peer batch), then at 418 MB (26 times; each answer's JSON tree copied and its
// arrays rebuilt as Values). Its own memory stays within 10 times the largest file (measured: 6.9,
// 109 MB); the readers' processes are theirs, not counted here.
TEST(MatrixMemory, VocabularyFilesCostOurProcessASmallMultipleOfTheLargest) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "memory bounds are measured in the plain build: ASan's shadow memory and quarantine add to it";
#endif
    const auto located = gguf::reference::locate(std::nullopt);
    ASSERT_TRUE(located.ref) << located.error << " (run scripts/fetch-reference)";
    const auto models = located.ref->dir / "src" / "models";
    const auto corpus = scratch_dir("matrix_vocab");
    std::uintmax_t largest = 0;
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(models)) {
        if (e.path().extension() != ".gguf") continue;
        fs::copy_file(e.path(), corpus / e.path().filename());
        largest = std::max(largest, e.file_size());
        ++files;
    }
    ASSERT_GE(files, 19u) << models;
    int code = -1;
    const long kib = testing_support::own_peak_kib({kBin, "matrix", corpus.string()}, code);
    EXPECT_EQ(code, 0);
    EXPECT_GT(kib, 0);
    EXPECT_LT(static_cast<double>(kib) * 1024, 10.0 * static_cast<double>(largest))
        << kib / 1024 << " MiB for a largest file of " << largest / 1000000 << " MB";
    fs::remove_all(corpus);
}

TEST(Matrix, AMissingDirectoryIsAUsageError) {
    const auto r = run_command(kBin + " matrix /nonexistent/corpus");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("not a directory"), std::string::npos) << r.err;
}

}  // namespace
