// validate --data and --manifest as a user runs them: the manifest's hashes, and which tensors a
// damaged copy reports. Expected hashes come from XXH3_64bits and SHA-256 over the bytes in the test.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/data_file.hpp"
#include "support/run.hpp"

using namespace testing_support;
using nlohmann::json;

namespace {

const std::string kBin = GGUF_CROSSVAL_BIN;

class ValidateData : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("gguf_validate_data_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        bytes_ = data_file_bytes();
        orig_ = dir_ / "orig.gguf";
        write_bytes(orig_, bytes_);
        manifest_ = dir_ / "orig.json";
        auto r = run("validate --data --json " + quoted(orig_));
        ASSERT_EQ(r.exit_code, 0) << r.err;
        std::ofstream(manifest_) << r.out;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
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

    std::filesystem::path dir_, orig_, manifest_;
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
