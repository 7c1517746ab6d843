// safetensors: the writer's layout, round trips, and every malformed-input check of the reader.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "safetensors/safetensors.hpp"
#include "support/temp_dir.hpp"

namespace st = gguf::safetensors;
using st::Code;

namespace {

// A file as any writer would lay it out: 8-byte LE length, the header text, the data bytes.
std::vector<std::byte> file_bytes(const std::string& header, std::size_t data_bytes, std::uint64_t declared_len) {
    std::vector<std::byte> out(8);
    for (int i = 0; i < 8; ++i)
        out[static_cast<std::size_t>(i)] = static_cast<std::byte>((declared_len >> (8 * i)) & 0xFF);
    for (char c : header) out.push_back(static_cast<std::byte>(c));
    out.resize(out.size() + data_bytes, std::byte{0});
    return out;
}
std::vector<std::byte> file_bytes(const std::string& header, std::size_t data_bytes) {
    return file_bytes(header, data_bytes, header.size());
}

Code parse_code(const std::vector<std::byte>& bytes) {
    auto f = st::parse(bytes);
    EXPECT_FALSE(f.ok());
    return f ? Code::invalid_argument : f.error().code;
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape, std::uint64_t b,
                  std::uint64_t e) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
           std::to_string(b) + "," + std::to_string(e) + "]}";
}

template <class T>
void put(std::vector<std::byte>& bytes, std::size_t at, T v) {
    std::memcpy(bytes.data() + at, &v, sizeof v);
}

}  // namespace

TEST(SafetensorsWriter, LaysOutLengthHeaderThenDataEndToEnd) {
    const std::vector<float> a{1, 2, 3, 4, 5, 6};
    const std::vector<float> b{-0.5f};
    st::Writer w;
    ASSERT_TRUE(w.add_f32("a", {2, 3}, a));
    ASSERT_TRUE(w.add_f32("b", {}, b));
    w.set_metadata("tokens", "1,2,3");
    const auto bytes = w.to_bytes();
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    EXPECT_EQ(n % 8, 0u) << "the data buffer starts 8-aligned";
    ASSERT_EQ(bytes.size(), 8 + n + 6 * 4 + 4);
    const std::string header(reinterpret_cast<const char*>(bytes.data()) + 8, n);
    EXPECT_NE(header.find(R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]})"), std::string::npos) << header;
    EXPECT_NE(header.find(R"("b":{"dtype":"F32","shape":[],"data_offsets":[24,28]})"), std::string::npos) << header;
    EXPECT_NE(header.find(R"("__metadata__":{"tokens":"1,2,3"})"), std::string::npos) << header;
    float third;
    std::memcpy(&third, bytes.data() + 8 + n + 2 * 4, 4);
    EXPECT_EQ(third, 3.0f);
}

TEST(SafetensorsWriter, RoundTripsThroughAFile) {
    const auto path = testing_support::test_dir() / "round_trip.safetensors";
    const std::vector<float> a{1.5f, -2.25f, 0.0f, 1e-30f};
    st::Writer w;
    ASSERT_TRUE(w.add_f32("first", {4}, a));
    ASSERT_TRUE(w.add_streamed("second", st::Dtype::U8, {3, 2}, [](std::uint64_t off, std::span<std::byte> out) {
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(10 + off + i);
    }));
    w.set_metadata("k", "v1");
    w.set_metadata("k", "v2");
    ASSERT_TRUE(w.write_file(path));
    EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp." + std::to_string(::getpid())));

    auto f = st::open(path);
    ASSERT_TRUE(f.ok()) << f.error().message;
    ASSERT_EQ(f->tensors.size(), 2u);
    EXPECT_EQ(f->tensors[0].name, "first");
    EXPECT_EQ(f->tensors[1].name, "second");
    EXPECT_EQ(f->tensors[1].shape, (std::vector<std::uint64_t>{3, 2}));
    auto values = st::to_f32(f->tensors[0]);
    ASSERT_TRUE(values.ok());
    EXPECT_EQ(*values, a);
    EXPECT_EQ(static_cast<int>(f->tensors[1].data[5]), 15);
    EXPECT_EQ(f->meta("k"), "v2");
    EXPECT_EQ(f->metadata.size(), 1u);
    EXPECT_EQ(st::to_f32(f->tensors[1]).error().code, Code::unsupported_dtype);
    std::filesystem::remove(path);
}

TEST(SafetensorsWriter, RejectsDuplicateNamesWrongSizesAndReservedNames) {
    const std::vector<float> a{1, 2};
    st::Writer w;
    ASSERT_TRUE(w.add_f32("x", {2}, a));
    EXPECT_EQ(w.add_f32("x", {2}, a).error().code, Code::duplicate_name);
    EXPECT_EQ(w.add_f32("y", {3}, a).error().code, Code::invalid_argument);
    EXPECT_EQ(w.add_f32("__metadata__", {2}, a).error().code, Code::invalid_argument);
    EXPECT_EQ(w.add_f32("", {2}, a).error().code, Code::invalid_argument);
    EXPECT_EQ(w.add_f32("big", {1ull << 32, 1ull << 31}, a).error().code, Code::shape_overflow);
}

TEST(SafetensorsReader, ReadsAHandWrittenFileInHeaderOrder) {
    // What a few lines of Python would write: no padding, "z" declared before "a".
    const std::string h = "{" + entry("z", "F32", "[2]", 0, 8) + "," + entry("a", "F16", "[2,2]", 8, 16) + "," +
                          entry("b", "BF16", "[2]", 16, 20) + ",\"__metadata__\":{\"m\":\"x\"}}";
    auto bytes = file_bytes(h, 20);
    const std::size_t d = 8 + h.size();
    put(bytes, d, 1.0f);
    put(bytes, d + 4, -2.0f);
    put<std::uint16_t>(bytes, d + 8, 0x3C00);   // 1.0
    put<std::uint16_t>(bytes, d + 10, 0xC000);  // -2.0
    put<std::uint16_t>(bytes, d + 12, 0x0001);  // 2^-24, the smallest subnormal
    put<std::uint16_t>(bytes, d + 14, 0x7C00);  // +inf
    put<std::uint16_t>(bytes, d + 16, 0x3F80);  // bf16 1.0
    put<std::uint16_t>(bytes, d + 18, 0x4049);  // bf16 3.140625
    auto f = st::parse(bytes);
    ASSERT_TRUE(f.ok()) << f.error().message;
    ASSERT_EQ(f->tensors.size(), 3u);
    EXPECT_EQ(f->tensors[0].name, "z");
    EXPECT_EQ(f->data_start, d);
    EXPECT_EQ(*st::to_f32(*f->find("z")), (std::vector<float>{1.0f, -2.0f}));
    const auto half = *st::to_f32(*f->find("a"));
    EXPECT_EQ(half[0], 1.0f);
    EXPECT_EQ(half[1], -2.0f);
    EXPECT_EQ(half[2], std::ldexp(1.0f, -24));
    EXPECT_TRUE(std::isinf(half[3]) && half[3] > 0);
    EXPECT_EQ(*st::to_f32(*f->find("b")), (std::vector<float>{1.0f, 3.140625f}));
    EXPECT_EQ(f->meta("m"), "x");
}

TEST(SafetensorsReader, AcceptsEmptyTensorsAtAnyOffset) {
    const std::string h =
        "{" + entry("e", "F32", "[0,1099511627776,1099511627776]", 4, 4) + "," + entry("x", "F32", "[1]", 0, 4) + "}";
    auto f = st::parse(file_bytes(h, 4));
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->find("e")->element_count(), 0u);
}

TEST(SafetensorsReader, RejectsAFileShorterThanTheLength) {
    EXPECT_EQ(parse_code(std::vector<std::byte>(7)), Code::truncated);
}

TEST(SafetensorsReader, RejectsAHeaderLengthPastTheEnd) {
    EXPECT_EQ(parse_code(file_bytes("{}", 0, 3)), Code::truncated);
}

TEST(SafetensorsReader, RejectsAHeaderLengthOverTheLimitBeforeReadingIt) {
    auto f = st::parse(file_bytes("{}", 0, st::kMaxHeaderBytes + 1));
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code, Code::header_too_large);
    EXPECT_EQ(st::parse(file_bytes("{}", 0, ~0ull)).error().code, Code::header_too_large);
}

TEST(SafetensorsReader, RejectsDeepNestingBeforeParsing) {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    auto f = st::parse(file_bytes("{\"__metadata__\":" + deep + "}", 0));
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code, Code::header_too_deep);
    EXPECT_EQ(f.error().offset, 8u + 16 + 3) << "the fourth opening bracket is one too many";
    // Brackets inside strings are text, not nesting.
    EXPECT_TRUE(st::parse(file_bytes(R"({"__metadata__":{"k":"[[[[[[{{{{\"[["}})", 0)).ok());
}

TEST(SafetensorsReader, RejectsInvalidJsonAndNonObjects) {
    EXPECT_EQ(parse_code(file_bytes("{\"a\":", 0)), Code::invalid_json);
    EXPECT_EQ(parse_code(file_bytes("[]", 0)), Code::invalid_json);
    EXPECT_EQ(parse_code(file_bytes("{\"\xff\":1}", 0)), Code::invalid_json) << "invalid UTF-8";
}

TEST(SafetensorsReader, RejectsMalformedEntries) {
    EXPECT_EQ(parse_code(file_bytes(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4)), Code::invalid_entry);
    EXPECT_EQ(parse_code(file_bytes(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", 4)), Code::invalid_entry);
    EXPECT_EQ(parse_code(file_bytes(R"({"a":{"dtype":"F32","shape":[1]}})", 4)), Code::invalid_entry);
    EXPECT_EQ(parse_code(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4)),
              Code::invalid_entry);
    EXPECT_EQ(parse_code(file_bytes(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)),
              Code::invalid_entry);
    EXPECT_EQ(parse_code(file_bytes(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4)),
              Code::invalid_entry);
    EXPECT_EQ(parse_code(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,-4]}})", 4)),
              Code::invalid_entry);
    EXPECT_EQ(parse_code(file_bytes(R"({"a":7})", 4)), Code::invalid_entry);
    EXPECT_EQ(parse_code(file_bytes(R"({"a":{"dtype":"Q8_0","shape":[1],"data_offsets":[0,4]}})", 4)),
              Code::unknown_dtype);
    EXPECT_EQ(parse_code(file_bytes("{" + entry("", "F32", "[1]", 0, 4) + "}", 4)), Code::empty_name);
}

TEST(SafetensorsReader, RejectsOffsetsThatDisagreeWithTheShape) {
    EXPECT_EQ(parse_code(file_bytes("{" + entry("a", "F32", "[2]", 0, 4) + "}", 8)), Code::size_mismatch);
    EXPECT_EQ(parse_code(file_bytes("{" + entry("a", "F32", "[1]", 8, 4) + "}", 8)), Code::out_of_bounds);
    EXPECT_EQ(parse_code(file_bytes("{" + entry("a", "F32", "[4294967296,4294967296]", 0, 4) + "}", 4)),
              Code::shape_overflow);
}

TEST(SafetensorsReader, RejectsDataPastTheBuffer) {
    auto f = st::parse(file_bytes("{" + entry("a", "F32", "[2]", 4, 12) + "}", 8));
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code, Code::out_of_bounds);
    EXPECT_NE(f.error().message.find("'a'"), std::string::npos);
    const std::uint64_t huge = ~0ull - 4;
    EXPECT_EQ(parse_code(file_bytes("{" + entry("a", "F32", "[1]", huge, huge + 4) + "}", 8)), Code::out_of_bounds);
}

TEST(SafetensorsReader, RejectsOverlappingTensors) {
    // b lies inside a; c starts where a ends and is fine on its own.
    const std::string h = "{" + entry("a", "F32", "[4]", 0, 16) + "," + entry("c", "F32", "[1]", 16, 20) + "," +
                          entry("b", "F32", "[1]", 8, 12) + "}";
    auto f = st::parse(file_bytes(h, 20));
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code, Code::tensors_overlap);
    EXPECT_NE(f.error().message.find("'a'"), std::string::npos);
    EXPECT_NE(f.error().message.find("'b'"), std::string::npos);
}

TEST(SafetensorsReader, RejectsDuplicateNames) {
    const std::string h = "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("a", "F32", "[1]", 4, 8) + "}";
    EXPECT_EQ(parse_code(file_bytes(h, 8)), Code::duplicate_name);
}

TEST(SafetensorsReader, RejectsMetadataThatIsNotStrings) {
    EXPECT_EQ(parse_code(file_bytes(R"({"__metadata__":{"n":3}})", 0)), Code::invalid_metadata);
    EXPECT_EQ(parse_code(file_bytes(R"({"__metadata__":[]})", 0)), Code::invalid_metadata);
}

TEST(SafetensorsReader, ReportsAMissingFileAsIoError) {
    auto f = st::open("/nonexistent/dir/x.safetensors");
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code, Code::io_error);
    EXPECT_EQ(st::code_name(f.error().code), "io_error");
}

TEST(SafetensorsReader, SurvivesSeededByteMutationsWithViewsInsideTheFile) {
    // A valid two-tensor file, then 3000 variants with 1-4 bytes replaced (header and data alike)
    // or cut short: every parse returns a value, and every accepted file's views lie in the buffer.
    const std::vector<float> a{1, 2, 3, 4}, b{5, 6};
    st::Writer w;
    ASSERT_TRUE(w.add_f32("a", {2, 2}, a));
    ASSERT_TRUE(w.add_f32("b", {2}, b));
    w.set_metadata("tokens", "[1,2]");
    const auto valid = w.to_bytes();
    std::uint64_t state = 0x9E3779B97F4A7C15ull;
    auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    const char interesting[] = {'{', '}', '[', ']', '"', ',', ':', '0', '9', '-', '\\', '\0', '\xff'};
    int accepted = 0;
    for (int i = 0; i < 3000; ++i) {
        auto bytes = valid;
        const int edits = 1 + static_cast<int>(next() % 4);
        for (int e = 0; e < edits; ++e) {
            const auto at = static_cast<std::size_t>(next() % bytes.size());
            bytes[at] = next() % 2 ? static_cast<std::byte>(next() & 0xFF)
                                   : static_cast<std::byte>(interesting[next() % sizeof interesting]);
        }
        if (next() % 8 == 0) bytes.resize(static_cast<std::size_t>(next() % bytes.size()));
        auto f = st::parse(bytes);
        if (!f) continue;
        ++accepted;
        for (const auto& t : f->tensors) {
            if (t.data.empty()) continue;
            EXPECT_GE(t.data.data(), bytes.data());
            EXPECT_LE(t.data.data() + t.data.size(), bytes.data() + bytes.size());
            EXPECT_EQ(t.data.size(), t.element_count() * st::dtype_size(t.dtype));
        }
    }
    EXPECT_GT(accepted, 0) << "some mutations (of data bytes) leave the file valid";
}
