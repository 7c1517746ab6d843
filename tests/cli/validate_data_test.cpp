// validate --data and --manifest as a user runs them: the manifest's hashes, and which tensors a
// damaged copy reports. Expected hashes come from XXH3_64bits and SHA-256 over the bytes in the test.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <limits>

#include "gguf/reader.hpp"
#include "support/data_file.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

using namespace testing_support;
using nlohmann::json;

namespace {

const std::string kBin = GGUF_CROSSVAL_BIN;

class ValidateData : public testing_support::TempDirTest {
protected:
    void SetUp() override {
        TempDirTest::SetUp();
        bytes_ = data_file_bytes();
        orig_ = dir_ / "orig.gguf";
        write_bytes(orig_, bytes_);
        manifest_ = dir_ / "orig.json";
        auto r = run("validate --data --json " + quoted(orig_));
        ASSERT_EQ(r.exit_code, 0) << r.err;
        std::ofstream(manifest_) << r.out;
    }
    RunResult run(const std::string& args) { return run_command(kBin + " " + args); }

    // Check `b` written as a copy against the manifest, as JSON.
    std::pair<int, json> check(const Buffer& b) {
        const auto copy = dir_ / "copy.gguf";
        write_bytes(copy, b);
        auto r = run("validate --json --manifest " + quoted(manifest_) + " " + quoted(copy));
        return {r.exit_code, json::parse(r.out)};
    }

    static std::vector<std::string> damaged(const json& j) {
        std::vector<std::string> out;
        for (const auto& t : j["manifest"]["damaged"]) out.push_back(t["name"]);
        return out;
    }

    std::filesystem::path orig_, manifest_;
    Buffer bytes_;
};

}  // namespace

TEST_F(ValidateData, JsonHoldsEveryTensorHashAndTheFileHash) {
    const auto j = json::parse(slurp(manifest_));
    EXPECT_EQ(j["ok"], true);
    EXPECT_EQ(j["data"]["sha256"], sha256_hex(bytes_));
    EXPECT_EQ(j["data"]["file_size"], bytes_.size());
    const auto& tensors = j["data"]["tensors"];
    ASSERT_EQ(tensors.size(), data_tensors().size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const auto data = data_tensor_bytes(i);
        EXPECT_EQ(tensors[i]["name"], data_tensors()[i].name);
        EXPECT_EQ(tensors[i]["offset"], find_tensor(bytes_, i));
        EXPECT_EQ(tensors[i]["size"], data.size());
        EXPECT_EQ(tensors[i]["xxh3"], fmt::format("{:016x}", XXH3_64bits(data.data(), data.size())));
    }
}

TEST_F(ValidateData, TextListsEachTensorHash) {
    auto r = run("validate --data " + quoted(orig_));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("sha256 " + sha256_hex(bytes_)), std::string::npos) << r.out;
    const auto c = data_tensor_bytes(2);
    EXPECT_NE(r.out.find(fmt::format("{:016x}  c\n", XXH3_64bits(c.data(), c.size()))), std::string::npos) << r.out;
}

TEST_F(ValidateData, IdenticalCopyPasses) {
    auto [code, j] = check(bytes_);
    EXPECT_EQ(code, 0);
    EXPECT_EQ(j["manifest"]["ok"], true);
    EXPECT_EQ(j["manifest"]["sha256_matches"], true);
    EXPECT_TRUE(j["manifest"]["damaged"].empty());
}

TEST_F(ValidateData, BitFlippedCopyReportsExactlyTheFlippedTensor) {
    auto b = bytes_;
    const auto at = find_tensor(bytes_, 1) + 17;  // inside "b"
    b[at] ^= std::byte{0x01};
    auto [code, j] = check(b);
    EXPECT_EQ(code, 1);
    EXPECT_EQ(j["ok"], true);  // the copy is still valid GGUF: only its data changed
    EXPECT_EQ(j["manifest"]["ok"], false);
    EXPECT_EQ(j["manifest"]["sha256_matches"], false);
    EXPECT_EQ(j["data"]["sha256"], sha256_hex(b));
    ASSERT_EQ(damaged(j), std::vector<std::string>{"b"});
    const auto& t = j["manifest"]["damaged"][0];
    EXPECT_EQ(t["status"], "differs");
    const auto size = data_tensor_bytes(1).size();
    EXPECT_EQ(t["xxh3"], fmt::format("{:016x}", xxh3_of(b, find_tensor(bytes_, 1), size)));
    EXPECT_EQ(t["expected_xxh3"], fmt::format("{:016x}", xxh3_of(bytes_, find_tensor(bytes_, 1), size)));
}

TEST_F(ValidateData, TruncatedCopyReportsTheCutTensorAndTheMissingOnes) {
    auto b = bytes_;
    b.resize(find_tensor(bytes_, 3) + 100);  // cut inside "d": "e" is gone entirely
    auto [code, j] = check(b);
    EXPECT_EQ(code, 1);
    EXPECT_EQ(j["ok"], false);
    EXPECT_EQ(j["errors"][0]["code"], "tensor_data_out_of_bounds");
    EXPECT_EQ(j["manifest"]["file_size_matches"], false);
    EXPECT_EQ(damaged(j), (std::vector<std::string>{"d", "e"}));
    for (const auto& t : j["manifest"]["damaged"]) {
        EXPECT_EQ(t["status"], "out_of_bounds");
        EXPECT_TRUE(t["xxh3"].is_null());
    }
    // The tensors before the cut are still checked, and intact.
    EXPECT_EQ(j["data"]["tensors"][2]["xxh3"],
              fmt::format("{:016x}", xxh3_of(bytes_, find_tensor(bytes_, 2), data_tensor_bytes(2).size())));
}

TEST_F(ValidateData, TextNamesTheDamagedTensors) {
    auto b = bytes_;
    b[find_tensor(bytes_, 0)] ^= std::byte{0x80};
    b[find_tensor(bytes_, 4) + 3] ^= std::byte{0x80};
    const auto copy = dir_ / "copy.gguf";
    write_bytes(copy, b);
    auto r = run("validate --manifest " + quoted(manifest_) + " " + quoted(copy));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("2 of 5 tensors damaged"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("differs        a "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("differs        e "), std::string::npos) << r.out;
    for (const char* intact : {"differs        b ", "differs        c ", "differs        d "}) {
        EXPECT_EQ(r.out.find(intact), std::string::npos) << r.out;
    }
}

TEST_F(ValidateData, UnreadableManifestIsAUsageError) {
    const auto bad = dir_ / "bad.json";
    std::ofstream(bad) << "{\"data\": {\"tensors\": [{\"name\": \"a\"}]}}";
    auto r = run("validate --manifest " + quoted(bad) + " " + quoted(orig_));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("manifest"), std::string::npos) << r.err;
    EXPECT_EQ(run("validate --manifest " + quoted(dir_ / "none.json") + " " + quoted(orig_)).exit_code, 2);
}

TEST_F(ValidateData, ManifestWithOverlappingRangesIsRefused) {
    // Hashing overlapping ranges could multiply the work without bound: such a manifest is refused.
    auto j = json::parse(slurp(manifest_));
    j["data"]["tensors"][1]["offset"] = j["data"]["tensors"][0]["offset"].get<std::uint64_t>() + 1;
    const auto bad = dir_ / "overlap.json";
    std::ofstream(bad) << j.dump();
    auto r = run("validate --manifest " + quoted(bad) + " " + quoted(orig_));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("overlap"), std::string::npos) << r.err;
}

// ---- the row check (llama.cpp's --check-tensors) -----------------------------------------------

namespace {

// An F32 weight [8 x 4] with a NaN at row 2, column 5, and a Q8_0 weight [64 x 3] (two blocks a
// row) whose block 1 of row 1 has the f16 scale 0x7E00 (NaN); everything else finite.
Buffer non_finite_file() {
    std::vector<float> w(32);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i) * 0.25f;
    w[2 * 8 + 5] = std::numeric_limits<float>::quiet_NaN();
    Buffer f32(w.size() * 4);
    std::memcpy(f32.data(), w.data(), f32.size());
    Buffer q8(6 * 34);  // 3 rows x 2 blocks: d = 1.0 (0x3C00), quants 0
    for (std::size_t b = 0; b < 6; ++b) {
        q8[34 * b] = std::byte{0x00};
        q8[34 * b + 1] = std::byte{0x3C};
    }
    q8[34 * 3] = std::byte{0x00};  // row 1, block 1
    q8[34 * 3 + 1] = std::byte{0x7E};
    gguf::Writer wr;
    wr.add("general.architecture", gguf::Value::string("test"));
    if (!wr.add_tensor("finite", 0, {4}, Buffer(16)).ok()) throw std::runtime_error("add_tensor");
    if (!wr.add_tensor("weight.f32", 0, {8, 4}, f32).ok()) throw std::runtime_error("add_tensor");
    if (!wr.add_tensor("weight.q8_0", 8, {64, 3}, q8).ok()) throw std::runtime_error("add_tensor");
    return wr.to_bytes();
}

}  // namespace

TEST_F(ValidateData, RowCheckNamesTensorRowAndValueInJson) {
    const auto path = dir_ / "nan.gguf";
    write_bytes(path, non_finite_file());
    auto r = run("validate --data --json " + quoted(path));
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    const auto j = json::parse(r.out);
    EXPECT_EQ(j["ok"], false);
    std::vector<std::string> codes;
    for (const auto& e : j["errors"]) codes.push_back(e["code"]);
    EXPECT_EQ(codes, (std::vector<std::string>{"non_finite_data", "non_finite_data"}));
    const auto& nf = j["data"]["non_finite"];
    ASSERT_EQ(nf.size(), 2u);
    EXPECT_EQ(nf[0]["tensor"], "weight.f32");
    EXPECT_EQ(nf[0]["row"], 2);
    EXPECT_EQ(nf[0]["block"], 5);
    EXPECT_EQ(nf[0]["field"], "value");
    EXPECT_EQ(nf[0]["value"], "nan");
    EXPECT_EQ(nf[1]["tensor"], "weight.q8_0");
    EXPECT_EQ(nf[1]["row"], 1);
    EXPECT_EQ(nf[1]["block"], 1);
    EXPECT_EQ(nf[1]["field"], "d");
    EXPECT_EQ(nf[1]["value"], "nan");
    // the offset is the file offset of the bad element / block
    const auto file = gguf::open(path);
    ASSERT_TRUE(file);
    EXPECT_EQ(nf[0]["offset"], file->data_offset() + file->find_tensor("weight.f32")->offset + (2 * 8 + 5) * 4);
    EXPECT_EQ(nf[1]["offset"], file->data_offset() + file->find_tensor("weight.q8_0")->offset + 3 * 34);
    EXPECT_NE(j["errors"][1]["message"].get<std::string>().find("tensor 'weight.q8_0' row 1 block 1: scale d is nan"),
              std::string::npos)
        << j["errors"][1]["message"];
}

TEST_F(ValidateData, RowCheckInText) {
    const auto path = dir_ / "nan.gguf";
    write_bytes(path, non_finite_file());
    auto r = run("validate --data " + quoted(path));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("error [non_finite_data]"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("tensor 'weight.f32' row 2 element 5: value nan"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("tensor 'weight.q8_0' row 1 block 1: scale d is nan"), std::string::npos) << r.out;
}

// The check sees a block split across two read chunks: the data pass reads 1 MiB at a time, so a
// Q8_0 tensor whose bad block straddles the 1 MiB boundary is found at the right row.
TEST_F(ValidateData, RowCheckFindsABlockAcrossAChunkBoundary) {
    const std::uint64_t rows = 40000, ne0 = 32;  // 40000 blocks of 34 bytes: 1.3 MB
    Buffer q8(rows * 34);
    for (std::uint64_t b = 0; b < rows; ++b) q8[34 * b + 1] = std::byte{0x3C};
    gguf::Writer wr;
    wr.add("general.architecture", gguf::Value::string("test"));
    if (!wr.add_tensor("big", 8, {ne0, rows}, q8).ok()) FAIL();
    auto bytes = wr.to_bytes();
    const auto path = dir_ / "big.gguf";
    write_bytes(path, bytes);
    const auto file = gguf::open(path);
    ASSERT_TRUE(file);
    const std::uint64_t start = file->data_offset() + file->find_tensor("big")->offset;
    // the block holding file byte 2^20 - 1 (its d is then split or just before the boundary)
    const std::uint64_t bad = ((std::uint64_t{1} << 20) - 1 - start) / 34;
    bytes[start + 34 * bad] = std::byte{0x00};
    bytes[start + 34 * bad + 1] = std::byte{0x7C};  // +inf
    write_bytes(path, bytes);
    auto r = run("validate --data --json " + quoted(path));
    EXPECT_EQ(r.exit_code, 1);
    const auto j = json::parse(r.out);
    ASSERT_EQ(j["data"]["non_finite"].size(), 1u);
    EXPECT_EQ(j["data"]["non_finite"][0]["row"], bad);
    EXPECT_EQ(j["data"]["non_finite"][0]["value"], "inf");
}
