// Each error code, produced by a file built in the test with the Writer and a named byte edit.
// Offsets are worked out from the layout in the specification: header 24 bytes, then for each KV
// u64 key length, key, u32 type, value; tensor infos: u64 name length, name, u32 n_dims, n_dims u64,
// u32 type, u64 offset.
#include <gtest/gtest.h>

#include "support/build.hpp"

using namespace testing_support;
using gguf::Code;
using gguf::Value;
using gguf::ValueType;

namespace {

gguf::Error expect_error(const Buffer& b, Code code) {
    auto r = gguf::parse(view(b));
    EXPECT_FALSE(r.ok()) << "expected " << gguf::code_name(code);
    if (r.ok()) return {};
    EXPECT_EQ(gguf::code_name(r.error().code), gguf::code_name(code)) << r.error().message;
    EXPECT_FALSE(r.error().message.empty());
    return r.error();
}

// One KV, key "k", of the given value: the value starts at 24 + 8 + 1 + 4 = 37.
Buffer one_kv(Value v) {
    gguf::Writer w;
    w.add("k", std::move(v));
    return w.to_bytes();
}
constexpr std::uint64_t kOneKvType = 24 + 8 + 1;
constexpr std::uint64_t kOneKvValue = kOneKvType + 4;

// One tensor "t" and no KVs: its info starts at 24: name len (8) + "t" (1) + n_dims (4) + dims + type + offset.
Buffer one_tensor(std::uint32_t type, std::vector<std::uint64_t> dims, std::size_t nbytes) {
    gguf::Writer w;
    EXPECT_TRUE(w.add_tensor("t", type, std::move(dims), Buffer(nbytes)).ok());
    return w.to_bytes();
}
constexpr std::uint64_t kTensorNdims = 24 + 8 + 1;
constexpr std::uint64_t kTensorDim0 = kTensorNdims + 4;

}  // namespace

TEST(Errors, BadMagic) {
    auto b = one_kv(Value::u8(1));
    b[0] = std::byte{'X'};
    EXPECT_EQ(expect_error(b, Code::bad_magic).offset, 0u);
}

TEST(Errors, EmptyFileIsTruncated) {
    expect_error({}, Code::truncated);
}

TEST(Errors, UnsupportedVersions) {
    for (std::uint32_t v : {0u, 4u, 99u}) {
        auto b = one_kv(Value::u8(1));
        put<std::uint32_t>(b, 4, v);
        EXPECT_EQ(expect_error(b, Code::unsupported_version).offset, 4u) << v;
    }
}

TEST(Errors, VersionOneIsNamed) {
    auto b = one_kv(Value::u8(1));
    put<std::uint32_t>(b, 4, 1);
    auto e = expect_error(b, Code::unsupported_version);
    EXPECT_NE(e.message.find("version 1"), std::string::npos) << e.message;
}

TEST(Errors, TruncatedInsideValue) {
    auto b = one_kv(Value::u64(5));
    b.resize(kOneKvValue + 3);
    EXPECT_EQ(expect_error(b, Code::truncated).offset, kOneKvValue);
}

TEST(Errors, CountTooLargeForKvs) {
    auto b = one_kv(Value::u8(1));
    put<std::uint64_t>(b, 16, ~std::uint64_t{0});
    EXPECT_EQ(expect_error(b, Code::count_too_large).offset, 16u);
}

TEST(Errors, CountTooLargeForTensors) {
    auto b = one_kv(Value::u8(1));
    put<std::uint64_t>(b, 8, std::uint64_t{1} << 62);
    EXPECT_EQ(expect_error(b, Code::count_too_large).offset, 8u);
}

TEST(Errors, ArrayLengthTimesElementSizeOverflows) {
    auto b = one_kv(Value::array(ValueType::uint32, {Value::u32(1)}));
    put<std::uint64_t>(b, kOneKvValue + 4, (~std::uint64_t{0}) / 2);  // * 4 overflows
    EXPECT_EQ(expect_error(b, Code::count_too_large).offset, kOneKvValue + 4);
}

TEST(Errors, StringLengthSizeMax) {
    auto b = one_kv(Value::string("abc"));
    put<std::uint64_t>(b, kOneKvValue, ~std::uint64_t{0});
    EXPECT_EQ(expect_error(b, Code::string_too_long).offset, kOneKvValue);
}

TEST(Errors, KeyLengthSizeMax) {
    auto b = one_kv(Value::u8(1));
    put<std::uint64_t>(b, 24, ~std::uint64_t{0});
    EXPECT_EQ(expect_error(b, Code::string_too_long).offset, 24u);
}

TEST(Errors, InvalidValueType) {
    auto b = one_kv(Value::u8(1));
    put<std::uint32_t>(b, kOneKvType, 13);
    EXPECT_EQ(expect_error(b, Code::invalid_value_type).offset, kOneKvType);
}

TEST(Errors, InvalidArrayElementType) {
    auto b = one_kv(Value::array(ValueType::uint8, {Value::u8(1)}));
    put<std::uint32_t>(b, kOneKvValue, 200);
    EXPECT_EQ(expect_error(b, Code::invalid_value_type).offset, kOneKvValue);
}

TEST(Errors, InvalidBool) {
    auto b = one_kv(Value::boolean(true));
    b[kOneKvValue] = std::byte{2};
    EXPECT_EQ(expect_error(b, Code::invalid_bool).offset, kOneKvValue);
}

TEST(Errors, InvalidBoolInArray) {
    auto b = one_kv(Value::array(ValueType::boolean, {Value::boolean(false), Value::boolean(true)}));
    b[kOneKvValue + 12 + 1] = std::byte{0xff};
    EXPECT_EQ(expect_error(b, Code::invalid_bool).offset, kOneKvValue + 13);
}

TEST(Errors, EmptyKey) {
    gguf::Writer w;
    w.add("", Value::u8(1));
    EXPECT_EQ(expect_error(w.to_bytes(), Code::empty_key).offset, 24u);
}

TEST(Errors, DuplicateKey) {
    gguf::Writer w;
    w.add("k", Value::u8(1));
    w.add("k", Value::u8(2));
    // second KV at 24 + (8 + 1 + 4 + 1)
    EXPECT_EQ(expect_error(w.to_bytes(), Code::duplicate_key).offset, 24u + 14u);
}

TEST(Errors, NestingTooDeep) {
    Value v = Value::array(ValueType::uint8, {});
    for (std::uint32_t i = 0; i < gguf::kMaxArrayDepth; ++i) v = Value::array(ValueType::array, {v});
    expect_error(one_kv(v), Code::nesting_too_deep);
}

TEST(Errors, AlignmentNotPowerOfTwo) {
    gguf::Writer w;
    w.add("general.alignment", Value::u32(48));
    EXPECT_EQ(expect_error(w.to_bytes(), Code::bad_alignment).offset, 24u + 8 + 17 + 4);
}

TEST(Errors, AlignmentZero) {
    gguf::Writer w;
    w.add("general.alignment", Value::u32(0));
    expect_error(w.to_bytes(), Code::bad_alignment);
}

TEST(Errors, AlignmentWrongType) {
    gguf::Writer w;
    w.add("general.alignment", Value::u64(32));
    EXPECT_EQ(expect_error(w.to_bytes(), Code::bad_alignment).offset, 24u);
}

TEST(Errors, TensorNameTooLong) {
    gguf::Writer w;
    ASSERT_TRUE(w.add_tensor(std::string(65, 'n'), 0, {1}, Buffer(4)).ok());
    EXPECT_EQ(expect_error(w.to_bytes(), Code::tensor_name_too_long).offset, 24u);
}

TEST(Errors, DuplicateTensor) {
    gguf::Writer w;
    ASSERT_TRUE(w.add_tensor("t", 0, {1}, Buffer(4)).ok());
    ASSERT_TRUE(w.add_tensor("t", 0, {1}, Buffer(4)).ok());
    // second info at 24 + (8 + 1 + 4 + 8 + 4 + 8)
    EXPECT_EQ(expect_error(w.to_bytes(), Code::duplicate_tensor).offset, 24u + 33u);
}

TEST(Errors, TooManyDims) {
    auto b = one_tensor(0, {1}, 4);
    put<std::uint32_t>(b, kTensorNdims, gguf::kMaxDims + 1);
    EXPECT_EQ(expect_error(b, Code::too_many_dims).offset, kTensorNdims);
}

TEST(Errors, DimensionBeyondInt64) {
    auto b = one_tensor(0, {1}, 4);
    put<std::uint64_t>(b, kTensorDim0, std::uint64_t{1} << 63);
    EXPECT_EQ(expect_error(b, Code::invalid_dimension).offset, kTensorDim0);
}

TEST(Errors, UnknownTensorType) {
    auto b = one_tensor(0, {1}, 4);
    put<std::uint32_t>(b, kTensorDim0 + 8, 43);
    EXPECT_EQ(expect_error(b, Code::invalid_tensor_type).offset, kTensorDim0 + 8);
}

TEST(Errors, RemovedTensorType) {
    auto b = one_tensor(0, {1}, 4);
    put<std::uint32_t>(b, kTensorDim0 + 8, 31);
    auto e = expect_error(b, Code::invalid_tensor_type);
    EXPECT_NE(e.message.find("Q4_0_4_4"), std::string::npos) << e.message;
}

TEST(Errors, RowNotMultipleOfBlock) {
    auto b = one_tensor(8, {32}, 34);  // Q8_0, one block
    put<std::uint64_t>(b, kTensorDim0, 33);
    expect_error(b, Code::shape_not_block_aligned);
}

TEST(Errors, ElementCountOverflow) {
    // Two dims of 2^32: the element count 2^64 wraps to 0 in ggml (llama.cpp #27203); we reject it.
    gguf::Writer w;
    ASSERT_TRUE(w.add_tensor("t", 0, {1, 1}, Buffer(4)).ok());
    auto b = w.to_bytes();
    put<std::uint64_t>(b, kTensorDim0, std::uint64_t{1} << 32);
    put<std::uint64_t>(b, kTensorDim0 + 8, std::uint64_t{1} << 32);
    expect_error(b, Code::shape_overflow);
}

TEST(Errors, ByteSizeOverflow) {
    // F32 with ne0 = 2^62: the element count fits in 64 bits, 4 bytes each (2^64) does not.
    auto b = one_tensor(0, {1}, 4);
    put<std::uint64_t>(b, kTensorDim0, std::uint64_t{1} << 62);
    expect_error(b, Code::shape_overflow);
}

TEST(Errors, PaddedSizeWrapIsOutOfBounds) {
    // F32 with ne0 = (2^64-1)/4: 2^64-4 bytes, which ggml pads to 2^64 = 0 (PR #24759); we see the real
    // size and that it cannot fit in the file.
    auto b = one_tensor(0, {1}, 4);
    put<std::uint64_t>(b, kTensorDim0, (~std::uint64_t{0}) / 4);
    expect_error(b, Code::tensor_data_out_of_bounds);
}

TEST(Errors, OffsetMisaligned) {
    auto b = one_tensor(0, {1}, 4);
    put<std::uint64_t>(b, kTensorDim0 + 8 + 4, 4);
    EXPECT_EQ(expect_error(b, Code::offset_misaligned).offset, 24u);
}

TEST(Errors, TensorDataOutOfBounds) {
    auto b = one_tensor(0, {8}, 32);
    put<std::uint64_t>(b, kTensorDim0 + 8 + 4, 32);  // aligned, but the data now ends 32 bytes past the file
    EXPECT_EQ(expect_error(b, Code::tensor_data_out_of_bounds).offset, 24u);
}

TEST(Errors, TensorsOverlap) {
    auto b = two_tensor_writer().to_bytes();
    auto f = must_parse(b);
    // Point b's offset at a's: both aligned and in bounds, but they overlap.
    const auto& tb = f.tensors()[1];
    const std::uint64_t offset_field = tb.info_offset + 8 + tb.name.size() + 4 + 8 * tb.n_dims + 4;
    put<std::uint64_t>(b, offset_field, 0);
    EXPECT_EQ(expect_error(b, Code::tensors_overlap).offset, tb.info_offset);
}

TEST(Errors, NonstandardHeaderLayout) {
    // docs/gguf-notes.md, "The pre-standard header layout": magic, version 3, n_tensors 0, n_kv 4, then u32 alignment
    // 32 and u64 data offset 224 (not in the standard), then 4 string KVs, zero padded to 224 bytes.
    gguf::Writer w;
    w.add("general.architecture", Value::string("test"));
    w.add("general.name", Value::string("mini_test_model"));
    w.add("general.file_type", Value::string("smoke"));
    w.add("compat.v2_requested", Value::string("false"));
    auto standard = w.to_bytes();
    Buffer b(standard.begin(), standard.begin() + 24);
    Buffer extra(12);
    put<std::uint32_t>(extra, 0, 32);
    put<std::uint64_t>(extra, 4, 224);
    b.insert(b.end(), extra.begin(), extra.end());
    b.insert(b.end(), standard.begin() + 24, standard.end());
    b.resize(224);
    EXPECT_EQ(expect_error(b, Code::nonstandard_header_layout).offset, 24u);
}

TEST(Errors, CodeNamesAreStableSnakeCase) {
    EXPECT_EQ(gguf::code_name(Code::bad_magic), "bad_magic");
    EXPECT_EQ(gguf::code_name(Code::tensor_data_out_of_bounds), "tensor_data_out_of_bounds");
    EXPECT_EQ(gguf::code_name(Code::nonstandard_header_layout), "nonstandard_header_layout");
    EXPECT_FALSE(gguf::is_warning(Code::tensors_overlap));
    EXPECT_TRUE(gguf::is_warning(Code::array_of_arrays));
}
