// `gguf-crossval diff` as a user runs it: exit codes, which file a refusal names, the JSON document.
#include <gtest/gtest.h>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "gguf/data/quantize.hpp"
#include "gguf/writer.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

using gguf::Value;
using namespace testing_support;
using nlohmann::json;

namespace {

const std::string kBin = GGUF_CROSSVAL_BIN;

// Under AddressSanitizer freed memory sits in a quarantine (256 MiB by default), so resident memory
// says nothing about what the program holds: the memory bound is checked in plain builds only.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

class DiffCli : public TempDirTest {
protected:
    std::filesystem::path write(const std::string& name, std::uint32_t count, float last) {
        gguf::Writer w;
        w.add("general.architecture", Value::string("llama"));
        w.add("test.count", Value::u32(count));
        std::vector<float> v{1, 2, 3, last};
        std::vector<std::byte> bytes(sizeof(float) * v.size());
        std::memcpy(bytes.data(), v.data(), bytes.size());
        EXPECT_TRUE(w.add_tensor("w", 0, {4}, bytes).ok());
        const auto p = dir_ / name;
        EXPECT_TRUE(w.write_file(p).ok());
        return p;
    }
    RunResult diff(const std::string& args) { return run_command(kBin + " diff " + args); }
};

}  // namespace

TEST_F(DiffCli, IdenticalFilesExitZero) {
    const auto a = write("a.gguf", 7, 4), b = write("b.gguf", 7, 4);
    const auto r = diff(quoted(a) + " " + quoted(b));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("identical"), std::string::npos);
}

TEST_F(DiffCli, DifferentFilesExitOneAndTheTextNamesTheDifferences) {
    const auto a = write("a.gguf", 7, 4), b = write("b.gguf", 8, 4.5f);
    const auto r = diff(quoted(a) + " " + quoted(b));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.out.find("~ test.count: (uint32) 7 -> (uint32) 8"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("max abs 0.5 at index 3 [3]"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("different"), std::string::npos);
}

TEST_F(DiffCli, JsonIsOneDocumentWithTheChanges) {
    const auto a = write("a.gguf", 7, 4), b = write("b.gguf", 8, 4);
    const auto r = diff("--json " + quoted(a) + " " + quoted(b));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const auto j = json::parse(r.out);
    EXPECT_EQ(j["identical"], false);
    ASSERT_EQ(j["kv"]["changed"].size(), 1u);
    EXPECT_EQ(j["kv"]["changed"][0]["key"], "test.count");
    EXPECT_EQ(j["kv"]["changed"][0]["a"]["value"], 7);
    EXPECT_EQ(j["kv"]["changed"][0]["b"]["value"], 8);
    EXPECT_EQ(j["data_differing"], 0);
    EXPECT_EQ(j["a"]["file"], a.string());
}

TEST_F(DiffCli, AMissingFileIsAUsageErrorNamingIt) {
    const auto a = write("a.gguf", 7, 4);
    const auto r = diff(quoted(a) + " " + quoted(dir_ / "missing.gguf"));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("file B"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("[io_error]"), std::string::npos) << r.err;
}

TEST_F(DiffCli, AnInvalidFileIsAUsageErrorWithItsCodeAndOffset) {
    const auto b = write("b.gguf", 7, 4);
    const auto bad = dir_ / "bad.gguf";
    const std::string v1("GGUF\x01\x00\x00\x00 and nothing more", 24);  // version 1 at offset 4
    std::ofstream(bad, std::ios::binary) << v1;
    const auto r = diff("--json " + quoted(bad) + " " + quoted(b));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("file A"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("is not valid GGUF: [unsupported_version] at offset 4"), std::string::npos) << r.err;
    const auto j = json::parse(r.out);
    EXPECT_EQ(j["error"]["which"], "A");
    EXPECT_EQ(j["error"]["code"], "unsupported_version");
    EXPECT_EQ(j["error"]["offset"], 4);
}

TEST_F(DiffCli, AMissingArgumentIsAUsageError) {
    const auto a = write("a.gguf", 7, 4);
    EXPECT_EQ(diff(quoted(a)).exit_code, 2);
}

TEST_F(DiffCli, ALargeTensorIsComparedInBoundedMemory) {
    // 32 Mi elements: 128 MiB as F32 in A, 64 MiB as F16 in B, written chunk by chunk. The values
    // (0, 1, ..., 2047 repeated) are exact in F16, so the data differ and the values do not. The peak
    // resident memory of the command must stay far below either tensor.
    constexpr std::uint64_t kElements = std::uint64_t{32} << 20;
    auto write_large = [&](const std::string& name, std::uint32_t type, std::uint64_t elem_bytes) {
        gguf::Writer w;
        w.add("general.architecture", Value::string("llama"));
        EXPECT_TRUE(w.add_tensor("big", type, {4096, kElements / 4096},
                                 [elem_bytes](std::uint64_t offset, std::span<std::byte> chunk) {
                                     for (std::size_t i = 0; i < chunk.size(); i += elem_bytes) {
                                         const auto k = static_cast<float>(((offset + i) / elem_bytes) % 2048);
                                         if (elem_bytes == 4) {
                                             std::memcpy(&chunk[i], &k, 4);
                                         } else {
                                             const auto h = gguf::fp32_to_fp16(k);
                                             std::memcpy(&chunk[i], &h, 2);
                                         }
                                     }
                                 })
                        .ok());
        const auto p = dir_ / name;
        EXPECT_TRUE(w.write_file(p).ok());
        return p;
    };
    const auto a = write_large("a.gguf", 0, 4), b = write_large("b.gguf", 1, 2);
    const auto r =
        run_command("/usr/bin/env time -f 'maxrss_kib %M' " + kBin + " diff --json " + quoted(a) + " " + quoted(b));
    ASSERT_EQ(r.exit_code, 1) << r.err;
    const auto j = json::parse(r.out);
    EXPECT_EQ(j["data"][0]["values"]["elements"], kElements);
    EXPECT_EQ(j["data"][0]["values"]["differing"], 0);
    const auto at = r.err.find("maxrss_kib ");
    ASSERT_NE(at, std::string::npos) << r.err;
    const auto kib = std::stoull(r.err.substr(at + 11));
    std::cout << "peak resident memory of diff: " << kib << " KiB\n";
    if (!kSanitized) EXPECT_LT(kib, 64u * 1024) << "peak resident memory " << kib << " KiB";
}
