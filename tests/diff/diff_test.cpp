// diff as a library: two files built in each test with the writer, differing in one known way, and
// what the comparison must say about them. Expected figures follow from how the files were built.
#include <gtest/gtest.h>
#include <cmath>
#include <cstring>
#include <fstream>

#include "diff/diff.hpp"
#include "gguf/data/quantize.hpp"
#include "gguf/writer.hpp"
#include "support/temp_dir.hpp"

using gguf::GgmlType;
using gguf::Value;
using namespace gguf::diff;

namespace {

std::vector<std::byte> f32_bytes(const std::vector<float>& v) {
    std::vector<std::byte> out(v.size() * sizeof(float));
    std::memcpy(out.data(), v.data(), out.size());
    return out;
}

std::vector<std::byte> q8_0_bytes(const std::vector<float>& v, std::uint64_t row) {
    auto q = gguf::quantize(GgmlType::Q8_0, v, row);
    EXPECT_TRUE(q.ok());
    return q.ok() ? *q : std::vector<std::byte>{};
}

// 0..n-1 minus n/2: exact in F16 and, with 127 in every block of 32, exact in Q8_0 (scale 1).
std::vector<float> integers(std::size_t n) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(static_cast<int>(i % 32) - 16);
    for (std::size_t i = 0; i < n; i += 32) v[i] = 127;
    return v;
}

double sum_squares(const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += double{x} * x;
    return s;
}

class DiffTest : public testing_support::TempDirTest {
protected:
    // A writer holding the KVs every file of these tests shares, and a first tensor that never changes.
    static gguf::Writer base() {
        gguf::Writer w;
        w.add("general.architecture", Value::string("llama"));
        w.add("test.count", Value::u32(7));
        w.add("test.name", Value::string("alpha"));
        EXPECT_TRUE(w.add_tensor("fixed", 0, {4}, f32_bytes({1, 2, 3, 4})).ok());
        return w;
    }

    std::filesystem::path write(const std::string& name, const gguf::Writer& w) {
        const auto p = dir_ / name;
        EXPECT_TRUE(w.write_file(p).ok());
        return p;
    }

    Diff run(const gguf::Writer& a, const gguf::Writer& b, const Options& options = {}) {
        pa_ = write("a.gguf", a);
        pb_ = write("b.gguf", b);
        fa_.emplace(std::move(gguf::open(pa_).value()));
        fb_.emplace(std::move(gguf::open(pb_).value()));
        auto d = diff_files(pa_, *fa_, pb_, *fb_, options);
        EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().error.message);
        return d.ok() ? std::move(d).value() : Diff{};
    }

    static std::vector<std::string> header_fields(const Diff& d) {
        std::vector<std::string> out;
        for (const auto& h : d.header) out.push_back(h.field);
        return out;
    }

    std::filesystem::path pa_, pb_;
    std::optional<gguf::File> fa_, fb_;
};

}  // namespace

TEST_F(DiffTest, IdenticalFilesAreIdentical) {
    auto w = base();
    ASSERT_TRUE(w.add_tensor("w", 8, {32, 2}, q8_0_bytes(integers(64), 32)).ok());
    const auto d = run(w, w);
    EXPECT_TRUE(d.identical());
    EXPECT_TRUE(d.header.empty());
    EXPECT_EQ(d.a.sha256, d.b.sha256);
    ASSERT_EQ(d.data.size(), 2u);
    for (const auto& t : d.data) {
        EXPECT_TRUE(t.bytes_equal) << t.name;
        EXPECT_FALSE(t.values) << "equal bytes of the same type need no value comparison";
    }
}

TEST_F(DiffTest, OneChangedKeyIsReportedWithBothValuesAndNothingElse) {
    auto a = base();
    gguf::Writer b;
    b.add("general.architecture", Value::string("llama"));
    b.add("test.count", Value::u32(8));
    b.add("test.name", Value::string("alpha"));
    ASSERT_TRUE(b.add_tensor("fixed", 0, {4}, f32_bytes({1, 2, 3, 4})).ok());
    const auto d = run(a, b);
    EXPECT_FALSE(d.identical());
    ASSERT_EQ(d.kv_changed.size(), 1u);
    EXPECT_EQ(d.kv_changed[0].key, "test.count");
    EXPECT_EQ(d.kv_changed[0].a.type, "uint32");
    EXPECT_EQ(d.kv_changed[0].a.value, 7);
    EXPECT_EQ(d.kv_changed[0].b.type, "uint32");
    EXPECT_EQ(d.kv_changed[0].b.value, 8);
    EXPECT_TRUE(d.header.empty());
    EXPECT_TRUE(d.kv_added.empty());
    EXPECT_TRUE(d.kv_removed.empty());
    EXPECT_TRUE(d.tensors_added.empty() && d.tensors_removed.empty() && d.tensors_changed.empty());
    EXPECT_EQ(d.data_differing(), 0u);
}

TEST_F(DiffTest, AValueOfAnotherTypeIsAChangeEvenWhenTheNumberIsTheSame) {
    auto a = base();
    gguf::Writer b;
    b.add("general.architecture", Value::string("llama"));
    b.add("test.count", Value::i32(7));
    b.add("test.name", Value::string("alpha"));
    ASSERT_TRUE(b.add_tensor("fixed", 0, {4}, f32_bytes({1, 2, 3, 4})).ok());
    const auto d = run(a, b);
    ASSERT_EQ(d.kv_changed.size(), 1u);
    EXPECT_EQ(d.kv_changed[0].a.type, "uint32");
    EXPECT_EQ(d.kv_changed[0].b.type, "int32");
    EXPECT_EQ(d.kv_changed[0].b.value, 7);
}

TEST_F(DiffTest, AddedAndRemovedKeysAreListedWithTheirValues) {
    auto a = base();
    a.add("test.old", Value::u8(1));
    auto b = base();
    b.add("test.new", Value::string("x"));
    b.add("test.two", Value::f32(0.5f));
    const auto d = run(a, b);
    ASSERT_EQ(d.kv_removed.size(), 1u);
    EXPECT_EQ(d.kv_removed[0].key, "test.old");
    EXPECT_EQ(d.kv_removed[0].type, "uint8");
    EXPECT_EQ(d.kv_removed[0].value, 1);
    ASSERT_EQ(d.kv_added.size(), 2u);
    EXPECT_EQ(d.kv_added[0].key, "test.new");
    EXPECT_EQ(d.kv_added[0].value, "x");
    EXPECT_EQ(d.kv_added[1].key, "test.two");
    EXPECT_EQ(d.kv_added[1].value, 0.5);
    EXPECT_TRUE(d.kv_changed.empty());
    ASSERT_FALSE(d.header.empty());
    EXPECT_EQ(d.header[0].field, "n_kv");
    EXPECT_EQ(d.header[0].a, 4);
    EXPECT_EQ(d.header[0].b, 5);
}

TEST_F(DiffTest, AddedAndRemovedTensorsAreListedAndOnlyCommonOnesHaveData) {
    auto a = base();
    ASSERT_TRUE(a.add_tensor("gone", 0, {2, 3}, f32_bytes({1, 2, 3, 4, 5, 6})).ok());
    auto b = base();
    ASSERT_TRUE(b.add_tensor("new", 1, {2, 3}, std::vector<std::byte>(12)).ok());
    const auto d = run(a, b);
    ASSERT_EQ(d.tensors_removed.size(), 1u);
    EXPECT_EQ(d.tensors_removed[0].name, "gone");
    EXPECT_EQ(d.tensors_removed[0].type, "F32");
    EXPECT_EQ(d.tensors_removed[0].dims, (std::vector<std::uint64_t>{2, 3}));
    EXPECT_EQ(d.tensors_removed[0].size, 24u);
    ASSERT_EQ(d.tensors_added.size(), 1u);
    EXPECT_EQ(d.tensors_added[0].name, "new");
    EXPECT_EQ(d.tensors_added[0].type, "F16");
    EXPECT_EQ(d.tensors_added[0].size, 12u);
    EXPECT_TRUE(d.tensors_changed.empty());
    ASSERT_EQ(d.data.size(), 1u);
    EXPECT_EQ(d.data[0].name, "fixed");
    EXPECT_TRUE(d.data[0].bytes_equal);
}

TEST_F(DiffTest, ATensorStoredAsF16IsInTheTableAndComparedAfterDequantization) {
    // Every value is exact in F16 but index 5: 1 + 2^-12 is below half an F16 ulp at 1 (2^-11), so F16
    // holds 1 and the one difference is 2^-12 there.
    std::vector<float> v{0.5f, -2, 3, 4, 8, 1.0f + std::ldexp(1.0f, -12), 0.25f, -1, 16, 7, 6, -5};
    auto a = base();
    ASSERT_TRUE(a.add_tensor("w", 0, {6, 2}, f32_bytes(v)).ok());
    auto b = base();
    auto f16 = gguf::quantize(GgmlType::F16, v, 6);
    ASSERT_TRUE(f16.ok());
    ASSERT_TRUE(b.add_tensor("w", 1, {6, 2}, *f16).ok());
    const auto d = run(a, b);

    ASSERT_EQ(d.tensors_changed.size(), 1u);
    EXPECT_EQ(d.tensors_changed[0].name, "w");
    EXPECT_EQ(d.tensors_changed[0].fields, (std::vector<std::string>{"type", "size"}));
    EXPECT_EQ(d.tensors_changed[0].a.type, "F32");
    EXPECT_EQ(d.tensors_changed[0].b.type, "F16");
    EXPECT_EQ(header_fields(d), (std::vector<std::string>{"file_size"}));
    EXPECT_TRUE(d.kv_changed.empty());

    ASSERT_EQ(d.data.size(), 2u);
    EXPECT_TRUE(d.data[0].bytes_equal);
    const auto& w = d.data[1];
    EXPECT_FALSE(w.bytes_equal);
    ASSERT_TRUE(w.values) << w.values_skipped;
    EXPECT_EQ(w.values->elements, 12u);
    EXPECT_EQ(w.values->differing, 1u);
    EXPECT_EQ(w.values->first_difference, 5u);
    EXPECT_EQ(w.values->max_abs, std::ldexp(1.0, -12));
    EXPECT_EQ(w.values->max_abs_index, 5u);
    EXPECT_EQ(w.values->max_abs_coords, (std::vector<std::uint64_t>{5, 0}));
    EXPECT_EQ(w.values->max_abs_a, v[5]);
    EXPECT_EQ(w.values->max_abs_b, 1.0f);
    EXPECT_DOUBLE_EQ(w.values->nmse, std::ldexp(1.0, -24) / sum_squares(v));
}

TEST_F(DiffTest, ATensorQuantizedToQ8_0IsComparedBlockByBlock) {
    // Two blocks of 32 whose largest magnitude is 127: the Q8_0 scale is exactly 1, integers stay, and
    // the one non-integer, 10.25 at index 40, becomes 10.
    auto v = integers(64);
    v[40] = 10.25f;
    auto a = base();
    ASSERT_TRUE(a.add_tensor("w", 0, {64}, f32_bytes(v)).ok());
    auto b = base();
    ASSERT_TRUE(b.add_tensor("w", 8, {64}, q8_0_bytes(v, 64)).ok());
    Options small;
    small.chunk_elements = 32;  // one block at a time
    const auto d = run(a, b, small);
    ASSERT_EQ(d.tensors_changed.size(), 1u);
    EXPECT_EQ(d.tensors_changed[0].b.type, "Q8_0");
    const auto& w = d.data[1];
    ASSERT_TRUE(w.values) << w.values_skipped;
    EXPECT_EQ(w.values->differing, 1u);
    EXPECT_EQ(w.values->max_abs, 0.25);
    EXPECT_EQ(w.values->max_abs_index, 40u);
    EXPECT_EQ(w.values->max_abs_b, 10.0f);
    EXPECT_DOUBLE_EQ(w.values->nmse, 0.0625 / sum_squares(v));
}

TEST_F(DiffTest, OneChangedBlockOfDataIsFoundInThatTensorAtItsIndex) {
    // Four Q8_0 blocks (rows of 32); in B, quant 7 of block 2 is 5 larger. With scale 1, element
    // 2 * 32 + 7 = 71 (row 2, column 7) differs by exactly 5, and no other element or tensor does.
    const auto v = integers(128);
    const auto bytes = q8_0_bytes(v, 32);
    auto changed = bytes;
    constexpr std::size_t kBlockBytes = 34, kScaleBytes = 2;
    auto& q = changed[2 * kBlockBytes + kScaleBytes + 7];
    q = static_cast<std::byte>(static_cast<std::int8_t>(q) + 5);
    auto a = base();
    ASSERT_TRUE(a.add_tensor("q", 8, {32, 4}, bytes).ok());
    ASSERT_TRUE(a.add_tensor("after", 0, {2}, f32_bytes({5, 6})).ok());
    auto b = base();
    ASSERT_TRUE(b.add_tensor("q", 8, {32, 4}, changed).ok());
    ASSERT_TRUE(b.add_tensor("after", 0, {2}, f32_bytes({5, 6})).ok());

    for (const std::size_t chunk : {std::size_t{32}, std::size_t{64}, std::size_t{1} << 20}) {
        Options o;
        o.chunk_elements = chunk;
        const auto d = run(a, b, o);
        EXPECT_TRUE(d.header.empty() && d.kv_changed.empty() && d.tensors_changed.empty());
        ASSERT_EQ(d.data.size(), 3u);
        EXPECT_EQ(d.data_differing(), 1u);
        EXPECT_TRUE(d.data[0].bytes_equal);
        EXPECT_TRUE(d.data[2].bytes_equal);
        const auto& t = d.data[1];
        EXPECT_EQ(t.name, "q");
        EXPECT_FALSE(t.bytes_equal);
        EXPECT_NE(t.xxh3_a, t.xxh3_b);
        ASSERT_TRUE(t.values) << t.values_skipped;
        EXPECT_EQ(t.values->differing, 1u) << "chunk " << chunk;
        EXPECT_EQ(t.values->max_abs, 5.0);
        EXPECT_EQ(t.values->max_abs_index, 71u) << "chunk " << chunk;
        EXPECT_EQ(t.values->max_abs_coords, (std::vector<std::uint64_t>{7, 2}));
        EXPECT_EQ(t.values->max_abs_a, v[71]);
        EXPECT_EQ(t.values->max_abs_b, v[71] + 5);
    }
}

TEST_F(DiffTest, ValuesOfDifferentShapesAreNotComparedAndTheReasonIsGiven) {
    auto a = base();
    ASSERT_TRUE(a.add_tensor("w", 0, {2, 3}, f32_bytes({1, 2, 3, 4, 5, 6})).ok());
    auto b = base();
    ASSERT_TRUE(b.add_tensor("w", 0, {3, 2}, f32_bytes({1, 2, 3, 4, 5, 7})).ok());
    const auto d = run(a, b);
    ASSERT_EQ(d.tensors_changed.size(), 1u);
    EXPECT_EQ(d.tensors_changed[0].fields, (std::vector<std::string>{"dims"}));
    const auto& w = d.data[1];
    EXPECT_FALSE(w.bytes_equal);
    EXPECT_FALSE(w.values);
    EXPECT_EQ(w.values_skipped, "the shapes differ");
}

TEST_F(DiffTest, ATypeWithoutADequantizerIsNamedAsTheReasonValuesAreSkipped) {
    std::vector<std::byte> i32(16);
    i32[0] = std::byte{1};
    auto a = base();
    ASSERT_TRUE(a.add_tensor("ids", 26, {4}, std::vector<std::byte>(16)).ok());
    auto b = base();
    ASSERT_TRUE(b.add_tensor("ids", 26, {4}, i32).ok());
    const auto d = run(a, b);
    const auto& t = d.data[1];
    EXPECT_FALSE(t.bytes_equal);
    EXPECT_FALSE(t.values);
    EXPECT_NE(t.values_skipped.find("I32"), std::string::npos) << t.values_skipped;
}

TEST_F(DiffTest, TheTextReportHoldsNoControlCharacterFromTheFiles) {
    auto a = base();
    a.add("test.evil", Value::string("red\x1b[31m\nnext\x7f\xc2\x9b"));
    auto b = base();
    b.add("test.evil", Value::string("plain"));
    ASSERT_TRUE(b.add_tensor("bad\rname", 0, {1}, f32_bytes({1})).ok());
    const auto text = to_text(run(a, b));
    for (const char c : text) {
        if (c == '\n') continue;
        EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << "control character " << int(c);
    }
    EXPECT_EQ(text.find("\xc2\x9b"), std::string::npos);
    EXPECT_NE(text.find("bad\\x0dname"), std::string::npos) << text;
    EXPECT_NE(text.find("\\x7f\\xc2\\x9b"), std::string::npos) << text;
}

TEST_F(DiffTest, JsonNamesEveryDifferenceAndTheFigures) {
    auto a = base();
    ASSERT_TRUE(a.add_tensor("w", 0, {64}, f32_bytes(integers(64))).ok());
    auto v = integers(64);
    v[3] = 0;
    auto b = base();
    ASSERT_TRUE(b.add_tensor("w", 0, {64}, f32_bytes(v)).ok());
    const auto j = to_json(run(a, b));
    EXPECT_EQ(j["identical"], false);
    EXPECT_EQ(j["byte_identical"], false);
    EXPECT_EQ(j["data_differing"], 1);
    EXPECT_EQ(j["header"].size(), 0u);
    const auto& w = j["data"][1];
    EXPECT_EQ(w["name"], "w");
    EXPECT_EQ(w["bytes_equal"], false);
    EXPECT_EQ(w["xxh3_a"].get<std::string>().size(), 16u);
    EXPECT_EQ(w["values"]["max_abs_index"], 3);
    EXPECT_EQ(w["values"]["max_abs"], 13.0);  // index 3 held 3 - 16 = -13
    EXPECT_EQ(w["values"]["differing"], 1);
    EXPECT_EQ(j["data"][0]["values"], nullptr);
}

TEST_F(DiffTest, TheSameKeyValuesInTheOtherByteOrderAreNotChanges) {
    auto a = base();
    a.add("test.list", Value::i32s(std::vector<std::int32_t>{1, -2, 3}));
    gguf::Writer b({.version = 3, .big_endian = true});
    b.add("general.architecture", Value::string("llama"));
    b.add("test.count", Value::u32(7));
    b.add("test.name", Value::string("alpha"));
    ASSERT_TRUE(b.add_tensor("fixed", 0, {4}, f32_bytes({1, 2, 3, 5})).ok());
    b.add("test.list", Value::i32s(std::vector<std::int32_t>{1, -2, 3}));
    const auto d = run(a, b);
    EXPECT_EQ(header_fields(d), (std::vector<std::string>{"byte_order"}));
    EXPECT_TRUE(d.kv_changed.empty() && d.kv_added.empty() && d.kv_removed.empty());
    ASSERT_EQ(d.data.size(), 1u);
    EXPECT_FALSE(d.data[0].bytes_equal);
    EXPECT_FALSE(d.data[0].values);
    EXPECT_NE(d.data[0].values_skipped.find("big-endian"), std::string::npos) << d.data[0].values_skipped;
}
