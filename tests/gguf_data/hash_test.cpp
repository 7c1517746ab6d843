// Data hashing: per-tensor XXH3-64 and whole-file SHA-256 in one pass, and the check of a copy
// against a manifest. Expected hashes are computed in the test straight from the file's bytes.
#include <gtest/gtest.h>

#include "gguf/data/hash.hpp"
#include "support/data_file.hpp"
#include "support/temp_dir.hpp"

using namespace testing_support;
using gguf::DataStatus;
using gguf::HeaderStatus;

namespace {

class DataHash : public testing_support::TempDirTest {
protected:
    void SetUp() override {
        TempDirTest::SetUp();
        bytes_ = data_file_bytes();
        path_ = dir_ / "orig.gguf";
        write_bytes(path_, bytes_);
    }

    gguf::DataDigest manifest() {
        auto file = gguf::open(path_);
        EXPECT_TRUE(file.ok());
        auto d = gguf::digest_file(path_, *file);
        EXPECT_TRUE(d.ok()) << d.error().message;
        return *d;
    }

    // Write `b` as a copy and check it against the original's manifest.
    gguf::DataCheck check_copy(const Buffer& b) {
        const auto copy = dir_ / "copy.gguf";
        write_bytes(copy, b);
        auto m = manifest();
        auto parsed = gguf::open(copy);
        auto c = gguf::check_data(copy, m, parsed ? &*parsed : nullptr);
        EXPECT_TRUE(c.ok()) << c.error().message;
        return *c;
    }

    static std::vector<std::string> damaged_names(const gguf::DataCheck& c) {
        std::vector<std::string> out;
        for (const auto* t : c.damaged()) out.push_back(t->expected.name);
        return out;
    }

    std::filesystem::path path_;
    Buffer bytes_;
};

}  // namespace

TEST_F(DataHash, DigestMatchesIndependentHashesForEveryChunkingAndThreading) {
    auto file = gguf::open(path_);
    ASSERT_TRUE(file.ok());
    const auto sha = sha256_hex(bytes_);
    // Chunks larger than the file, of a page, and of 7 bytes (every tensor spans many chunks).
    for (std::size_t chunk : {std::size_t{1} << 20, std::size_t{4096}, std::size_t{7}}) {
        for (bool threads : {true, false}) {
            gguf::HashOptions o;
            o.chunk_size = chunk;
            o.threads = threads;
            auto d = gguf::digest_file(path_, *file, o);
            ASSERT_TRUE(d.ok()) << d.error().message;
            const auto where = fmt::format("chunk {} threads {}", chunk, threads);
            EXPECT_EQ(d->sha256, sha) << where;
            EXPECT_EQ(d->file_size, bytes_.size()) << where;
            ASSERT_EQ(d->tensors.size(), data_tensors().size()) << where;
            for (std::size_t i = 0; i < data_tensors().size(); ++i) {
                const auto& t = d->tensors[i];
                EXPECT_EQ(t.name, data_tensors()[i].name);
                EXPECT_EQ(t.offset, find_tensor(bytes_, i)) << where;
                EXPECT_EQ(t.size, data_tensor_bytes(i).size()) << where;
                EXPECT_EQ(t.xxh3, XXH3_64bits(data_tensor_bytes(i).data(), t.size)) << where << " " << t.name;
            }
        }
    }
}

TEST_F(DataHash, RangesComeBackInTheOrderGiven) {
    const std::vector<gguf::ByteRange> ranges{{100, 50}, {0, 24}, {40, 10}};
    gguf::HashOptions o;
    o.chunk_size = 16;
    auto h = gguf::hash_file(path_, ranges, o);
    ASSERT_TRUE(h.ok());
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        ASSERT_TRUE(h->xxh3[i].has_value());
        EXPECT_EQ(*h->xxh3[i], xxh3_of(bytes_, ranges[i].offset, ranges[i].size)) << i;
    }
}

TEST_F(DataHash, RangesPastTheEndHaveNoHash) {
    const auto n = bytes_.size();
    const std::vector<gguf::ByteRange> ranges{
        {n - 10, 10},                  // ends exactly at the end: hashed
        {n - 10, 11},                  // one byte too far
        {n, 0},                        // empty, at the end: hashed (the empty hash)
        {n + 1, 0},                    // empty, past the end
        {~std::uint64_t{0} - 5, 100},  // offset + size wraps around
    };
    gguf::HashOptions o;
    o.sha256 = false;
    auto h = gguf::hash_file(path_, ranges, o);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->xxh3[0], xxh3_of(bytes_, n - 10, 10));
    EXPECT_FALSE(h->xxh3[1].has_value());
    EXPECT_EQ(h->xxh3[2], XXH3_64bits(nullptr, 0));
    EXPECT_FALSE(h->xxh3[3].has_value());
    EXPECT_FALSE(h->xxh3[4].has_value());
    EXPECT_TRUE(h->sha256.empty());
}

TEST_F(DataHash, OverlappingRangesAreRejected) {
    const std::vector<gguf::ByteRange> ranges{{0, 100}, {99, 10}};
    auto h = gguf::hash_file(path_, ranges);
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(gguf::code_name(h.error().code), "tensors_overlap");
    EXPECT_EQ(h.error().offset, 99u);
}

TEST_F(DataHash, MissingFileIsAnIoError) {
    auto h = gguf::hash_file(dir_ / "nope.gguf", {});
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(gguf::code_name(h.error().code), "io_error");
}

TEST_F(DataHash, ProgressRisesToTheTotal) {
    gguf::HashOptions o;
    o.chunk_size = 1000;
    std::vector<std::uint64_t> seen;
    o.progress = [&](std::uint64_t done, std::uint64_t total) {
        EXPECT_EQ(total, bytes_.size());
        seen.push_back(done);
    };
    ASSERT_TRUE(gguf::hash_file(path_, {}, o).ok());
    ASSERT_EQ(seen.size(), (bytes_.size() + 999) / 1000);
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
    EXPECT_EQ(seen.back(), bytes_.size());
}

TEST_F(DataHash, IdenticalCopyMatches) {
    auto c = check_copy(bytes_);
    EXPECT_TRUE(c.ok());
    EXPECT_TRUE(c.damaged().empty());
    EXPECT_EQ(c.sha256, sha256_hex(bytes_));
    for (const auto& t : c.tensors) EXPECT_EQ(t.header, HeaderStatus::same) << t.expected.name;
    EXPECT_TRUE(c.extra.empty());
}

TEST_F(DataHash, BitFlipInOneTensorDamagesExactlyThatTensor) {
    auto b = bytes_;
    const auto at = find_tensor(bytes_, 3) + 1234;  // inside "d"
    b[at] ^= std::byte{0x10};
    auto c = check_copy(b);
    EXPECT_FALSE(c.ok());
    EXPECT_FALSE(c.sha256_matches);
    EXPECT_TRUE(c.file_size_matches);
    EXPECT_EQ(damaged_names(c), std::vector<std::string>{"d"});
    const auto& d = c.tensors[3];
    EXPECT_EQ(d.data, DataStatus::differs);
    EXPECT_EQ(d.xxh3, xxh3_of(b, find_tensor(bytes_, 3), data_tensor_bytes(3).size()));
    EXPECT_NE(d.xxh3, d.expected.xxh3);
    EXPECT_EQ(d.header, HeaderStatus::same);
}

TEST_F(DataHash, TruncatedCopyReportsTheCutTensorAndAllAfterIt) {
    auto b = bytes_;
    b.resize(find_tensor(bytes_, 2) + 10);  // cut inside "c"
    auto c = check_copy(b);
    EXPECT_FALSE(c.ok());
    EXPECT_FALSE(c.file_size_matches);
    EXPECT_EQ(damaged_names(c), (std::vector<std::string>{"c", "d", "e"}));
    for (std::size_t i = 2; i < 5; ++i) {
        EXPECT_EQ(c.tensors[i].data, DataStatus::out_of_bounds);
        EXPECT_FALSE(c.tensors[i].xxh3.has_value());
        EXPECT_EQ(c.tensors[i].header, HeaderStatus::unknown);  // the truncated copy does not parse
    }
    EXPECT_EQ(c.tensors[0].xxh3, xxh3_of(bytes_, find_tensor(bytes_, 0), data_tensor_bytes(0).size()));
}

TEST_F(DataHash, FlipOutsideTensorDataDamagesNoTensor) {
    auto b = bytes_;
    // A byte of the general.name value "data hashing": still valid UTF-8, still a valid file.
    const std::string needle = "data hashing";
    auto it = std::search(b.begin(), b.end(), reinterpret_cast<const std::byte*>(needle.data()),
                          reinterpret_cast<const std::byte*>(needle.data() + needle.size()));
    ASSERT_NE(it, b.end());
    *it = std::byte{'D'};
    auto c = check_copy(b);
    EXPECT_FALSE(c.ok());
    EXPECT_FALSE(c.sha256_matches);
    EXPECT_TRUE(c.damaged().empty());
}

TEST_F(DataHash, RenamedTensorIsMissingFromTheHeaderAndExtra) {
    auto b = bytes_;
    // Tensor info names are 1 byte here; rename "e" to "f" in its info record (the only "\x01\0..\0e").
    const std::byte rec[] = {std::byte{1}, {}, {}, {}, {}, {}, {}, {}, std::byte{'e'}};
    auto it = std::search(b.begin(), b.end(), std::begin(rec), std::end(rec));
    ASSERT_NE(it, b.end());
    it[8] = std::byte{'f'};
    auto c = check_copy(b);
    EXPECT_FALSE(c.ok());
    EXPECT_TRUE(c.damaged().empty());  // every tensor's bytes are intact
    EXPECT_EQ(c.tensors[4].header, HeaderStatus::missing);
    EXPECT_EQ(c.extra, std::vector<std::string>{"f"});
}
