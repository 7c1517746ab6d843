// The reader on valid files: values, layout, byte order, versions, warnings.
#include <gtest/gtest.h>
#include <bit>

#include "support/build.hpp"
#include "support/temp_dir.hpp"

using namespace testing_support;
using gguf::Code;
using gguf::Value;
using gguf::ValueType;

namespace {

bool has_warning(const gguf::File& f, Code code) {
    for (const auto& w : f.warnings()) {
        if (w.code == code) return true;
    }
    return false;
}

}  // namespace

TEST(Reader, HeaderFieldsOfTwoTensorFile) {
    auto b = two_tensor_writer().to_bytes();
    auto f = must_parse(b);
    EXPECT_EQ(f.version(), 3u);
    EXPECT_FALSE(f.byte_swapped());
    EXPECT_EQ(f.alignment(), 32u);
    ASSERT_EQ(f.kvs().size(), 2u);
    ASSERT_EQ(f.tensors().size(), 2u);
    // Metadata: 24 + KV1 (8+20+4+8+4=44) + KV2 (8+10+4+4=26) + infos a (8+1+4+8+4+8=33), b (8+1+4+16+4+8=41)
    EXPECT_EQ(f.metadata_end(), 24u + 44 + 26 + 33 + 41);
    EXPECT_EQ(f.data_offset(), 192u);  // 168 padded to 32
    const auto& a = f.tensors()[0];
    const auto& t = f.tensors()[1];
    EXPECT_EQ(a.offset, 0u);
    EXPECT_EQ(a.size, 16u);
    EXPECT_EQ(t.offset, 32u);  // 16 padded to 32
    EXPECT_EQ(t.size, 24u);
    EXPECT_EQ(f.file_size(), 192u + 32 + 32);
    EXPECT_EQ(f.data_end(), 192u + 32 + 24);
    EXPECT_EQ(t.data.data(), f.bytes().data() + 192 + 32);  // zero copy
    float first = 0;
    std::memcpy(&first, t.data.data(), 4);
    EXPECT_EQ(first, 10.0f);
    EXPECT_TRUE(f.warnings().empty());
}

TEST(Reader, FindsKeysAndTensors) {
    auto b = two_tensor_writer().to_bytes();
    auto f = must_parse(b);
    ASSERT_NE(f.find("test.count"), nullptr);
    EXPECT_EQ(f.find("test.count")->value.as_uint(), 7u);
    EXPECT_EQ(f.find("general.architecture")->value.as_string(), "test");
    EXPECT_EQ(f.find("missing"), nullptr);
    ASSERT_NE(f.find_tensor("b"), nullptr);
    EXPECT_EQ(f.find_tensor("b")->n_dims, 2u);
    EXPECT_EQ(f.find_tensor("b")->ne[1], 2u);
}

TEST(Reader, ScalarsOfEveryType) {
    gguf::Writer w;
    w.add("u8", Value::u8(250));
    w.add("i8", Value::i8(-100));
    w.add("u16", Value::u16(65000));
    w.add("i16", Value::i16(-30000));
    w.add("u32", Value::u32(4000000000u));
    w.add("i32", Value::i32(-2000000000));
    w.add("f32", Value::f32(1.5f));
    w.add("bool", Value::boolean(true));
    w.add("str", Value::string("hello"));
    w.add("u64", Value::u64(~std::uint64_t{0}));
    w.add("i64", Value::i64(INT64_MIN));
    w.add("f64", Value::f64(-2.25));
    auto b = w.to_bytes();
    auto f = must_parse(b);
    EXPECT_EQ(f.find("u8")->value.as_uint(), 250u);
    EXPECT_EQ(f.find("i8")->value.as_int(), -100);
    EXPECT_EQ(f.find("u16")->value.as_uint(), 65000u);
    EXPECT_EQ(f.find("i16")->value.as_int(), -30000);
    EXPECT_EQ(f.find("u32")->value.as_uint(), 4000000000u);
    EXPECT_EQ(f.find("i32")->value.as_int(), -2000000000);
    EXPECT_EQ(f.find("f32")->value.as_float(), 1.5);
    EXPECT_TRUE(f.find("bool")->value.as_bool());
    EXPECT_EQ(f.find("str")->value.as_string(), "hello");
    EXPECT_EQ(f.find("u64")->value.as_uint(), ~std::uint64_t{0});
    EXPECT_EQ(f.find("i64")->value.as_int(), INT64_MIN);
    EXPECT_EQ(f.find("f64")->value.as_float(), -2.25);
    EXPECT_EQ(f.find("f64")->value.type(), ValueType::float64);
}

TEST(Reader, ArraysAreIndexedAndIterated) {
    gguf::Writer w;
    w.add("nums", Value::array(ValueType::int16, {Value::i16(-1), Value::i16(2), Value::i16(300)}));
    w.add("words", Value::strings({"a", "", "ccc"}));
    auto b = w.to_bytes();
    auto f = must_parse(b);
    auto nums = f.find("nums")->value.as_array();
    EXPECT_EQ(nums.elem_type(), ValueType::int16);
    ASSERT_EQ(nums.size(), 3u);
    EXPECT_EQ(nums.at(2).as_int(), 300);
    std::vector<std::string> words;
    for (auto v : f.find("words")->value.as_array()) words.emplace_back(v.as_string());
    EXPECT_EQ(words, (std::vector<std::string>{"a", "", "ccc"}));
}

TEST(Reader, ArrayOfArraysIsValidWithPortabilityWarning) {
    gguf::Writer w;
    w.add("nested", Value::array(ValueType::array, {Value::array(ValueType::uint8, {Value::u8(1), Value::u8(2)}),
                                                    Value::strings({"x"})}));
    auto b = w.to_bytes();
    auto f = must_parse(b);
    EXPECT_TRUE(has_warning(f, Code::array_of_arrays));
    auto outer = f.find("nested")->value.as_array();
    ASSERT_EQ(outer.size(), 2u);
    auto it = outer.begin();
    EXPECT_EQ((*it).as_array().at(1).as_uint(), 2u);
    ++it;
    EXPECT_EQ((*(*it).as_array().begin()).as_string(), "x");
}

TEST(Reader, VersionTwoReads) {
    gguf::Writer w(gguf::WriterOptions{.version = 2});
    w.add("k", Value::u32(1));
    auto b = w.to_bytes();
    EXPECT_EQ(must_parse(b).version(), 2u);
}

TEST(Reader, ByteSwappedFileReadsTheSameValues) {
    auto build = [](bool big) {
        gguf::Writer w(gguf::WriterOptions{.version = 3, .big_endian = big});
        w.add("u32", Value::u32(0x01020304));
        w.add("f64", Value::f64(3.5));
        w.add("arr", Value::array(ValueType::uint16, {Value::u16(0x0102), Value::u16(7)}));
        w.add("s", Value::strings({"hi"}));
        EXPECT_TRUE(w.add_tensor("t", 0, {2, 3}, Buffer(24)).ok());
        return w.to_bytes();
    };
    auto be = build(true);
    EXPECT_EQ(get<std::uint32_t>(be, 4), 0x03000000u);  // the version as a little-endian reader sees it
    auto f = must_parse(be);
    EXPECT_TRUE(f.byte_swapped());
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.find("u32")->value.as_uint(), 0x01020304u);
    EXPECT_EQ(f.find("f64")->value.as_float(), 3.5);
    EXPECT_EQ(f.find("arr")->value.as_array().at(0).as_uint(), 0x0102u);
    EXPECT_EQ(f.find_tensor("t")->ne[1], 3u);
    auto le = build(false);
    auto fle = must_parse(le);
    EXPECT_EQ(f.find("arr")->value.as_array().canonical_bytes(), fle.find("arr")->value.as_array().canonical_bytes());
}

TEST(Reader, CustomAlignmentPadsDataSection) {
    gguf::Writer w;
    w.add("general.alignment", Value::u32(64));
    ASSERT_TRUE(w.add_tensor("t", 0, {1}, Buffer(4)).ok());
    auto b = w.to_bytes();
    auto f = must_parse(b);
    EXPECT_EQ(f.alignment(), 64u);
    EXPECT_EQ(f.data_offset() % 64, 0u);
    EXPECT_EQ(b.size(), f.data_offset() + 64);
}

TEST(Reader, SmallAlignmentIsValidWithWarning) {
    gguf::Writer w;
    w.add("general.alignment", Value::u32(1));
    ASSERT_TRUE(w.add_tensor("t", 24, {3}, Buffer(3)).ok());  // I8
    auto b = w.to_bytes();
    auto f = must_parse(b);
    EXPECT_EQ(f.alignment(), 1u);
    EXPECT_TRUE(has_warning(f, Code::alignment_below_spec));
}

TEST(Reader, ZeroSizeDimensionIsValid) {
    gguf::Writer w;
    ASSERT_TRUE(w.add_tensor("empty", 0, {0, 5}, Buffer()).ok());
    auto b = w.to_bytes();
    EXPECT_EQ(must_parse(b).tensors()[0].size, 0u);
}

TEST(Reader, FiveDimsValidWithWarning) {
    gguf::Writer w;
    ASSERT_TRUE(w.add_tensor("t", 0, {1, 1, 1, 1, 2}, Buffer(8)).ok());
    auto b = w.to_bytes();
    EXPECT_TRUE(has_warning(must_parse(b), Code::dims_over_ggml_max));
}

TEST(Reader, SixtyFourByteNameValidWithWarning) {
    gguf::Writer w;
    ASSERT_TRUE(w.add_tensor(std::string(64, 'n'), 0, {1}, Buffer(4)).ok());
    auto b = w.to_bytes();
    EXPECT_TRUE(has_warning(must_parse(b), Code::tensor_name_at_limit));
}

TEST(Reader, BitnetI2SIsNamed) {
    gguf::Writer w;
    ASSERT_TRUE(w.add_tensor("w", gguf::kTypeI2S, {256, 2}, Buffer(512 / 4 + 32)).ok());
    auto b = w.to_bytes();
    auto f = must_parse(b);
    EXPECT_EQ(f.tensors()[0].traits.name, "I2_S");
    EXPECT_EQ(f.tensors()[0].size, 160u);
    EXPECT_TRUE(has_warning(f, Code::bitnet_i2_s));
}

TEST(Reader, GapsBetweenTensorsAreValidWithWarning) {
    auto b = two_tensor_writer().to_bytes();
    auto f = must_parse(b);
    const auto& tb = f.tensors()[1];
    const std::uint64_t offset_field = tb.info_offset + 8 + 1 + 4 + 16 + 4;
    ASSERT_EQ(get<std::uint64_t>(b, offset_field), 32u);
    b.resize(b.size() + 32);
    put<std::uint64_t>(b, offset_field, 64);
    auto g = must_parse(b);
    EXPECT_TRUE(has_warning(g, Code::offsets_not_contiguous));
}

TEST(Reader, InvalidUtf8IsAcceptedWithWarning) {
    gguf::Writer w;
    w.add("k", Value::string(std::string("a\xff") + "b"));
    auto b = w.to_bytes();
    auto f = must_parse(b);
    EXPECT_TRUE(has_warning(f, Code::invalid_utf8));
    EXPECT_EQ(f.find("k")->value.as_string(), std::string("a\xff") + "b");
}

TEST(Reader, NonUtf8TensorNameIsAcceptedWithWarningAtItsInfo) {
    gguf::Writer w;
    std::vector<std::byte> data(16);
    ASSERT_TRUE(w.add_tensor("ok", 0, {4}, data).ok());
    ASSERT_TRUE(w.add_tensor("w\xff\xfe", 0, {4}, data).ok());
    auto b = w.to_bytes();
    auto f = must_parse(b);
    const auto& bad = f.tensors()[1];
    EXPECT_EQ(bad.name, "w\xff\xfe");  // the name as stored: nothing replaced
    std::vector<gguf::Issue> found;
    for (const auto& issue : f.warnings()) {
        if (issue.code == Code::invalid_utf8) found.push_back(issue);
    }
    ASSERT_EQ(found.size(), 1u) << "one warning, for the second tensor only";
    // 24 (header) + 8 + 2 ("ok") + 4 (n_dims) + 8 (one dim) + 4 (type) + 8 (offset): the second info.
    EXPECT_EQ(found[0].offset, 58u);
    EXPECT_EQ(bad.info_offset, 58u);
    EXPECT_NE(found[0].message.find("w\\xff\\xfe"), std::string::npos) << found[0].message;
}

TEST(Reader, ZeroTensorsUnpaddedMetadataIsNoted) {
    gguf::Writer w;
    w.add("k", Value::u8(1));
    auto b = w.to_bytes();  // metadata ends at 38, the writer pads to 64
    auto f = must_parse(b);
    EXPECT_EQ(f.metadata_end(), 38u);
    EXPECT_EQ(f.data_offset(), 64u);
    EXPECT_TRUE(has_warning(f, Code::zero_tensor_data_offset));
}

TEST(Reader, Utf8Validation) {
    EXPECT_TRUE(gguf::is_valid_utf8("plain ascii text, long enough for the fast path"));
    EXPECT_TRUE(gguf::is_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
    EXPECT_FALSE(gguf::is_valid_utf8("\xc0\xaf"));          // overlong
    EXPECT_FALSE(gguf::is_valid_utf8("\xed\xa0\x80"));      // surrogate
    EXPECT_FALSE(gguf::is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
    EXPECT_FALSE(gguf::is_valid_utf8("\xe2\x82"));          // cut short
}

TEST(Reader, OpenMapsAFileAndReportsMissingOnes) {
    auto path = testing_support::test_dir() / "open_test.gguf";
    ASSERT_TRUE(two_tensor_writer().write_file(path).ok());
    auto f = gguf::open(path);
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->tensors().size(), 2u);
    std::filesystem::remove(path);
    auto missing = gguf::open(path);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, Code::io_error);
}
