// matrix.json written one file entry at a time is the same bytes as the whole tree printed, and the
// manifest read entry by entry keeps every check of the whole-tree reading.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "crossval/matrix.hpp"

namespace {

using namespace gguf::crossval;

Matrix small_matrix(std::size_t n_files) {
    Matrix m;
    m.corpus_dir = "corpus \"dir\"\nnext";
    m.timestamp = "2026-12-02T21:00:00Z";
    m.duration_s = 12.34;
    m.has_manifest = true;
    m.shard = Shard{2, 3};
    m.readers.resize(kReaderCount);
    const char* names[] = {"ours", "llama.cpp", "gguf-py", "@huggingface/gguf", "bitnet.cpp"};
    for (std::size_t r = 0; r < kReaderCount; ++r) {
        m.readers[r] = {names[r], "v1", r != kBitnetCpp, r == kBitnetCpp ? "not built" : "", {}};
    }
    m.readers[kLlamaCpp].normalisations = {{NoteKind::trailing_unit_dims, "dims dropped"}};
    for (std::size_t i = 0; i < n_files; ++i) {
        MatrixFile f;
        f.index = i * 3 + 1;
        f.file = i == 1 ? std::string("bad\xff\xfe name.gguf") : "dir/f" + std::to_string(i) + ".gguf";
        if (i % 3 != 2) f.valid = i % 3 == 0;
        if (i % 3 == 1) f.expected_code = "bad_magic";
        f.category = "cat\t" + std::to_string(i);
        f.description = "line one\nline \"two\"";
        if (i == 0) f.reference_expect = "accept";
        f.cells.resize(kReaderCount);
        f.cells[kOurs].verdict = ReaderVerdict::accept;
        f.cells[kOurs].data_offset = 64 * i;
        f.cells[kLlamaCpp].verdict = ReaderVerdict::reject;
        f.cells[kLlamaCpp].reason = "failed {\"x\"}";
        f.cells[kLlamaCpp].wrong = true;
        f.cells[kGgufPy].verdict = ReaderVerdict::accept;
        f.cells[kGgufPy].mismatches.push_back({"kv[a]", nlohmann::json::array({1, 2}), "x\ny"});
        f.cells[kGgufPy].notes.push_back({NoteKind::trailing_unit_dims, "dims"});
        f.cells[kHfGguf].verdict = ReaderVerdict::timeout;
        f.cells[kHfGguf].duration_ms = 20000.5;
        m.files.push_back(std::move(f));
    }
    count_totals(m);
    return m;
}

std::string streamed(const Matrix& m) {
    std::string out;
    EXPECT_TRUE(write_matrix_json(m, [&](std::string_view s) {
        out += s;
        return true;
    }));
    return out;
}

std::string whole(const Matrix& m) {
    return to_json(m).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
}

TEST(MatrixJson, StreamedIsTheWholeTreePrinted) {
    for (const std::size_t n : {1u, 2u, 7u}) {
        const auto m = small_matrix(n);
        const auto text = streamed(m);
        EXPECT_EQ(text, whole(m)) << n << " files";
        // And it is JSON that reads back with the files in order.
        const auto back = nlohmann::json::parse(text);
        ASSERT_EQ(back["files"].size(), n);
        EXPECT_EQ(back["files"][n - 1]["index"], (n - 1) * 3 + 1);
    }
}

TEST(MatrixJson, NoFilesIsAnEmptyArray) {
    auto m = small_matrix(0);
    m.shard.reset();
    EXPECT_EQ(streamed(m), whole(m));
    EXPECT_TRUE(nlohmann::json::parse(streamed(m))["files"].is_array());
}

TEST(MatrixJson, AFailingSinkStopsTheWrite) {
    const auto m = small_matrix(3);
    int calls = 0;
    EXPECT_FALSE(write_matrix_json(m, [&](std::string_view) { return ++calls < 2; }));
    EXPECT_EQ(calls, 2);
}

// What a spooled run keeps: every file's entry in the spool, the cells of the files where the
// readers do not all agree.
Matrix spooled(Matrix m, const std::filesystem::path& dir) {
    auto spool = MatrixSpool::create(dir);
    EXPECT_TRUE(spool) << spool.error().message;
    if (!spool) return m;
    for (auto& f : m.files) {
        (*spool)->append(m, f);
        if (f.all_agree()) f.cells.clear();
    }
    EXPECT_TRUE((*spool)->flush()) << (*spool)->error();
    m.spool = *spool;
    return m;
}

class MatrixSpoolTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ =
            std::filesystem::temp_directory_path() / ("matrix-spool-" + std::to_string(::getpid()) + "-" +
                                                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::filesystem::path dir_;
};

TEST_F(MatrixSpoolTest, ASpooledMatrixWritesTheSameBytes) {
    for (const std::size_t n : {0u, 1u, 7u}) {
        auto m = small_matrix(n);
        // One file on which every reader agrees: its cells go once it is spooled.
        if (n == 7) {
            for (auto& c : m.files[3].cells) {
                c = Cell{};
                c.verdict = ReaderVerdict::accept;
            }
            count_totals(m);
        }
        const auto expected = whole(m);
        const auto s = spooled(m, dir_);
        EXPECT_EQ(streamed(s), expected) << n << " files";
        if (n == 7) {
            EXPECT_TRUE(s.files[3].cells.empty());
            EXPECT_FALSE(s.files[2].cells.empty());
        }
    }
    // The spool has no name: the directory holds nothing once the entries are written.
    EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

TEST_F(MatrixSpoolTest, AnUnflushedSpoolIsNotWritten) {
    auto m = small_matrix(2);
    auto spool = MatrixSpool::create(dir_);
    ASSERT_TRUE(spool) << spool.error().message;
    (*spool)->append(m, m.files[0]);
    m.spool = *spool;
    EXPECT_FALSE(write_matrix_json(m, [](std::string_view) { return true; }));
}

TEST_F(MatrixSpoolTest, ADirectoryThatCannotHoldItIsAnError) {
    std::filesystem::create_directories(dir_);
    const auto file = dir_ / "a-file";
    std::ofstream(file) << "x";
    const auto spool = MatrixSpool::create(file / "sub");
    ASSERT_FALSE(spool);
    EXPECT_EQ(spool.error().code, gguf::Code::io_error);
    EXPECT_NE(spool.error().message.find("cannot make a temporary file"), std::string::npos) << spool.error().message;
}

TEST(Manifest, EntriesAreReadInOrderWithTheirFields) {
    const auto files = parse_manifest(
        R"({"version": 1, "files": [{"file": "a.gguf", "valid": true, "category": "c", "description": "d"},
            {"file": "b/c.gguf", "valid": false, "expected_code": "bad_magic", "reference_expect": "reject"}],
            "other": [{"file": "../not-an-entry"}]})",
        "m");
    ASSERT_TRUE(files) << files.error().message;
    ASSERT_EQ(files->size(), 2u);
    EXPECT_EQ((*files)[0].file, "a.gguf");
    EXPECT_EQ((*files)[0].valid, true);
    EXPECT_EQ((*files)[0].category, "c");
    EXPECT_EQ((*files)[0].description, "d");
    EXPECT_EQ((*files)[1].file, "b/c.gguf");
    EXPECT_EQ((*files)[1].valid, false);
    EXPECT_EQ((*files)[1].expected_code, "bad_magic");
    EXPECT_EQ((*files)[1].reference_expect, "reject");
}

TEST(Manifest, ARepeatedFilesKeyCountsOnceTheLastAsInATree) {
    const auto files = parse_manifest(R"({"files": [{"file": "a.gguf"}], "files": [{"file": "b.gguf"}]})", "m");
    ASSERT_TRUE(files) << files.error().message;
    ASSERT_EQ(files->size(), 1u);
    EXPECT_EQ((*files)[0].file, "b.gguf");
}

TEST(Manifest, EveryEntryCheckStillHolds) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"files": [{"file": "a.gguf"}, ["x"]]})", "without a \"file\" name"},
        {R"({"files": [{"file": "a.gguf"}, "x"]})", "without a \"file\" name"},
        {R"({"files": [{"file": 5}]})", "without a \"file\" name"},
        {R"({"files": [{"file": "../x.gguf"}]})", "not a path inside the corpus directory"},
        {R"({"files": [{"file": "/etc/hostname"}]})", "not a path inside the corpus directory"},
        {R"({"files": [{"file": "a.gguf", "valid": "yes"}]})", "\"valid\" that is not a boolean"},
        {R"({"files": [{"file": "a.gguf", "expected_code": 5}]})", "\"expected_code\" that is not a string"},
        {R"({"files": [{"file": "a.gguf", "description": ["x"]}]})", "\"description\" that is not a string"},
        {R"({"files": {"file": "a.gguf"}})", "no \"files\" array"},
        {R"({"files": [{"file": "a.gguf"}]} trailing)", "no \"files\" array"},
        {R"({"files": [{"file": "../x.gguf"}] )", "no \"files\" array"},
        {R"([{"files": []}])", "no \"files\" array"},
        {R"({"other": []})", "no \"files\" array"},
    };
    for (const auto& [text, expected] : cases) {
        const auto files = parse_manifest(text, "m");
        ASSERT_FALSE(files) << text;
        EXPECT_NE(files.error().message.find(expected), std::string::npos) << text << ": " << files.error().message;
    }
    const std::string deep = "{\"files\": " + std::string(600, '[') + std::string(600, ']') + "}";
    const auto files = parse_manifest(deep, "m");
    ASSERT_FALSE(files);
    EXPECT_NE(files.error().message.find("deeper than"), std::string::npos) << files.error().message;
}

}  // namespace
