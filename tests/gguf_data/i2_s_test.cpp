// I2_S (bitnet.cpp's x86 layout, docs/i2_s.md): hand-worked bytes from the layout, the tensor-wide
// scale, the zero threshold, the round trip, and the errors. (Byte identity with bitnet.cpp's own
// llama-quantize and bit identity with its kernels: tests/crossval/bitnet_test.cpp.)
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "gguf/data/quantize.hpp"

using gguf::GgmlType;

namespace {

std::uint8_t byte_at(const std::vector<std::byte>& b, std::size_t i) {
    return std::to_integer<std::uint8_t>(b[i]);
}

float f32_at(const std::vector<std::byte>& b, std::size_t i) {
    std::uint32_t v = 0;
    for (unsigned k = 0; k < 4; ++k) v |= static_cast<std::uint32_t>(byte_at(b, i + k)) << (8 * k);
    return std::bit_cast<float>(v);
}

gguf::Bytes view(const std::vector<std::byte>& b) {
    return {b.data(), b.size()};
}

}  // namespace

TEST(I2S, TensorIsQuarterOfTheElementsPlusA32ByteTail) {
    const std::vector<float> x(2 * 256, 0.5f);
    const auto q = gguf::quantize(GgmlType::I2_S, x, 256);
    ASSERT_TRUE(q) << q.error().message;
    EXPECT_EQ(q->size(), 512u / 4 + 32);
}

// Element j of a 128-element block: byte j % 32, bits 7-6 for j < 32, 5-4, 3-2, 1-0 for j >= 96.
// Codes: 0 = -1, 1 = 0, 2 = +1.
TEST(I2S, CodesGoToByteJMod32AtBitsSixMinusTwiceJDiv32) {
    std::vector<float> x(128, 0.0f);
    x[0] = 1.0f;    // byte 0, bits 7-6 = 2
    x[32] = -1.0f;  // byte 0, bits 5-4 = 0
    x[64] = 0.25f;  // byte 0, bits 3-2 = 2 (any positive value is +1)
    x[96] = 1.0f;   // byte 0, bits 1-0 = 2
    x[31] = -0.5f;  // byte 31, bits 7-6 = 0
    x[127] = 1.0f;  // byte 31, bits 1-0 = 2
    const auto q = gguf::quantize(GgmlType::I2_S, x, 128);
    ASSERT_TRUE(q) << q.error().message;
    // byte 0: 2<<6 | 0<<4 | 2<<2 | 2 = 0x8A; bytes 1..30: all four codes 1 (zero) = 0x55;
    // byte 31: 0<<6 | 1<<4 | 1<<2 | 2 = 0x16.
    EXPECT_EQ(byte_at(*q, 0), 0x8Au);
    for (std::size_t i = 1; i < 31; ++i) EXPECT_EQ(byte_at(*q, i), 0x55u) << i;
    EXPECT_EQ(byte_at(*q, 31), 0x16u);
}

TEST(I2S, BlocksFollowEachOtherAcrossRows) {
    std::vector<float> x(2 * 128, 0.0f);
    x[128 + 33] = -2.0f;  // second row = second block: byte 32 + 1, bits 5-4 = 0
    x[5] = 2.0f;
    const auto q = gguf::quantize(GgmlType::I2_S, x, 128);
    ASSERT_TRUE(q) << q.error().message;
    EXPECT_EQ(byte_at(*q, 33), 0x45u);  // 1<<6 | 0<<4 | 1<<2 | 1
    EXPECT_EQ(byte_at(*q, 5), 0x95u);   // 2<<6 | 1<<4 | 1<<2 | 1
}

// One scale for the whole tensor, max |x|, stored as f32 right after the codes; 28 zero bytes follow.
TEST(I2S, OneTensorWideScaleAfterTheCodesThenZeros) {
    std::vector<float> x(3 * 128, 0.125f);
    x[200] = -0.75f;
    const auto q = gguf::quantize(GgmlType::I2_S, x, 128);
    ASSERT_TRUE(q) << q.error().message;
    EXPECT_EQ(f32_at(*q, 96), 0.75f);
    for (std::size_t i = 100; i < 128; ++i) EXPECT_EQ(byte_at(*q, i), 0u) << i;
}

// |x| < 1e-6 (compared in double) is zero, code 1. The f32 nearest 1e-6 lies just below it.
TEST(I2S, MagnitudesBelowOneMillionthAreZero) {
    std::vector<float> x(128, 0.0f);
    x[0] = 9.9e-7f;
    x[1] = -9.9e-7f;
    x[2] = 1.1e-6f;
    x[4] = 1.0e-6f;
    x[3] = 1.0f;
    const auto q = gguf::quantize(GgmlType::I2_S, x, 128);
    ASSERT_TRUE(q) << q.error().message;
    EXPECT_EQ(byte_at(*q, 0), 0x55u);  // code 1
    EXPECT_EQ(byte_at(*q, 1), 0x55u);
    EXPECT_EQ(byte_at(*q, 2), 0x95u);  // +1
    EXPECT_EQ(byte_at(*q, 4), 0x55u);  // 1e-6f = 9.99999997e-7: zero
}

TEST(I2S, AllZeroTensorHasScaleZeroAndZeroCodes) {
    const std::vector<float> x(128, 0.0f);
    const auto q = gguf::quantize(GgmlType::I2_S, x, 128);
    ASSERT_TRUE(q) << q.error().message;
    EXPECT_EQ(f32_at(*q, 32), 0.0f);
    const auto d = gguf::dequantize(GgmlType::I2_S, view(*q), 128);
    ASSERT_TRUE(d) << d.error().message;
    for (float v : *d) EXPECT_EQ(v, 0.0f);
}

// A NaN does not become the scale (fmax skips it) and is stored as -1, as bitnet.cpp does.
TEST(I2S, NanIsSkippedByTheScaleAndStoredAsMinusOne) {
    std::vector<float> x(128, 0.5f);
    x[7] = std::numeric_limits<float>::quiet_NaN();
    const auto q = gguf::quantize(GgmlType::I2_S, x, 128);
    ASSERT_TRUE(q) << q.error().message;
    EXPECT_EQ(f32_at(*q, 32), 0.5f);
    EXPECT_EQ(byte_at(*q, 7), 0x2Au);  // 0<<6 | 2<<4 | 2<<2 | 2
}

TEST(I2S, TernaryTensorRoundTripsExactly) {
    std::vector<float> x(4 * 256);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.375f * static_cast<float>(static_cast<int>((i * 7) % 3) - 1);
    const auto q = gguf::quantize(GgmlType::I2_S, x, 256);
    ASSERT_TRUE(q) << q.error().message;
    const auto d = gguf::dequantize(GgmlType::I2_S, view(*q), x.size());
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(*d, x);
}

TEST(I2S, DequantizeReadsCodeThreeAsPlusTwo) {
    std::vector<std::byte> data(32 + 32, std::byte{0xFF});
    const float scale = 0.5f;
    const auto bits = std::bit_cast<std::uint32_t>(scale);
    for (unsigned k = 0; k < 4; ++k) data[32 + k] = static_cast<std::byte>((bits >> (8 * k)) & 0xFF);
    const auto d = gguf::dequantize(GgmlType::I2_S, view(data), 128);
    ASSERT_TRUE(d) << d.error().message;
    for (float v : *d) EXPECT_EQ(v, 1.0f);
}

TEST(I2S, RowsNotAMultipleOf128AreRejected) {
    const std::vector<float> x(2 * 64, 1.0f);
    const auto q = gguf::quantize(GgmlType::I2_S, x, 64);
    ASSERT_FALSE(q);
    EXPECT_EQ(q.error().code, gguf::Code::shape_not_block_aligned);
}

TEST(I2S, DequantizeNeedsExactlyTheCodesAndTheTail) {
    const std::vector<std::byte> short_data(32 + 31);
    const auto d = gguf::dequantize(GgmlType::I2_S, view(short_data), 128);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code, gguf::Code::tensor_data_out_of_bounds);
    const std::vector<std::byte> data(32 + 32);
    const auto e = gguf::dequantize(GgmlType::I2_S, view(data), 100);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, gguf::Code::shape_not_block_aligned);
}
