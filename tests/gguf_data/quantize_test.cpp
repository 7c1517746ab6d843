// Quantizers: hand-worked blocks from the block layouts of ggml-common.h, round-trip bounds, and
// the errors for shapes that are not whole blocks. (Byte identity with the reference quantizer is
// checked in tests/crossval/reference_models_test.cpp, against llama_model_quantize.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "gguf/data/quantize.hpp"

using gguf::GgmlType;

namespace {

std::uint8_t byte_at(const std::vector<std::byte>& b, std::size_t i) {
    return std::to_integer<std::uint8_t>(b[i]);
}

std::uint16_t u16_at(const std::vector<std::byte>& b, std::size_t i) {
    return static_cast<std::uint16_t>(byte_at(b, i) | (byte_at(b, i + 1) << 8));
}

std::uint32_t bits(float f) {
    std::uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

gguf::Bytes view(const std::vector<std::byte>& b) {
    return {b.data(), b.size()};
}

// A small deterministic sequence in (-1, 1) for the round-trip tests (not the fixtures' generator).
std::vector<float> wave(std::size_t n, float scale) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.7f * static_cast<float>(i) + 0.3f);
    return v;
}

}  // namespace

// ---- F16 ---------------------------------------------------------------------------------------

TEST(Fp16, ExactValuesKeepTheirBitPatterns) {
    EXPECT_EQ(gguf::fp32_to_fp16(0.0f), 0x0000);
    EXPECT_EQ(gguf::fp32_to_fp16(-0.0f), 0x8000);
    EXPECT_EQ(gguf::fp32_to_fp16(1.0f), 0x3C00);               // exponent 15, mantissa 0
    EXPECT_EQ(gguf::fp32_to_fp16(-2.0f), 0xC000);              // sign, exponent 16
    EXPECT_EQ(gguf::fp32_to_fp16(65504.0f), 0x7BFF);           // largest finite half
    EXPECT_EQ(gguf::fp32_to_fp16(0x1.0p-14f), 0x0400);         // smallest normal half
    EXPECT_EQ(gguf::fp32_to_fp16(0x1.0p-24f), 0x0001);         // smallest subnormal half
    EXPECT_EQ(gguf::fp32_to_fp16(1023 * 0x1.0p-24f), 0x03FF);  // largest subnormal
}

TEST(Fp16, RoundsToNearestTiesToEven) {
    // 1 + 2^-11 lies halfway between 1 (0x3C00, even) and 1 + 2^-10 (0x3C01): goes to the even one.
    EXPECT_EQ(gguf::fp32_to_fp16(1.0f + 0x1.0p-11f), 0x3C00);
    // 1 + 3 * 2^-11 lies halfway between 0x3C01 and 0x3C02 (even).
    EXPECT_EQ(gguf::fp32_to_fp16(1.0f + 3 * 0x1.0p-11f), 0x3C02);
    // Just above the halfway point rounds up.
    EXPECT_EQ(gguf::fp32_to_fp16(1.0f + 0x1.0p-11f + 0x1.0p-20f), 0x3C01);
    // 0.1 = 1.6 * 2^-4: exponent 11, mantissa 0.6 * 1024 = 614.4 -> 614 = 0x266.
    EXPECT_EQ(gguf::fp32_to_fp16(0.1f), 0x2E66);
    // Subnormal ties: 2^-25 is half of the smallest subnormal -> 0 (even); 3 * 2^-25 -> 2 (even).
    EXPECT_EQ(gguf::fp32_to_fp16(0x1.0p-25f), 0x0000);
    EXPECT_EQ(gguf::fp32_to_fp16(3 * 0x1.0p-25f), 0x0002);
    EXPECT_EQ(gguf::fp32_to_fp16(0x1.8p-25f), 0x0001);  // 0.75 units -> 1
    // A carry out of the mantissa moves into the exponent: 2 - 2^-12 rounds to 2.0.
    EXPECT_EQ(gguf::fp32_to_fp16(2.0f - 0x1.0p-12f), 0x4000);
}

TEST(Fp16, OverflowInfinityAndNaN) {
    EXPECT_EQ(gguf::fp32_to_fp16(65519.99f), 0x7BFF);  // below the halfway point to 65536
    EXPECT_EQ(gguf::fp32_to_fp16(65520.0f), 0x7C00);   // halfway to 2^16: ties to even = infinity
    EXPECT_EQ(gguf::fp32_to_fp16(1e10f), 0x7C00);
    EXPECT_EQ(gguf::fp32_to_fp16(-INFINITY), 0xFC00);
    EXPECT_EQ(gguf::fp32_to_fp16(NAN), 0x7E00);
    EXPECT_EQ(gguf::fp32_to_fp16(-NAN), 0xFE00);
}

TEST(Fp16, DecodesEveryKindOfHalf) {
    EXPECT_EQ(gguf::fp16_to_fp32(0x3C00), 1.0f);
    EXPECT_EQ(gguf::fp16_to_fp32(0xC000), -2.0f);
    EXPECT_EQ(gguf::fp16_to_fp32(0x7BFF), 65504.0f);
    EXPECT_EQ(gguf::fp16_to_fp32(0x0001), 0x1.0p-24f);
    EXPECT_EQ(gguf::fp16_to_fp32(0x83FF), -1023 * 0x1.0p-24f);
    EXPECT_EQ(gguf::fp16_to_fp32(0x3555), 0.333251953125f);  // 1.0101010101b * 2^-2
    EXPECT_EQ(bits(gguf::fp16_to_fp32(0x8000)), 0x80000000u);
    EXPECT_EQ(gguf::fp16_to_fp32(0xFC00), -INFINITY);
    EXPECT_TRUE(std::isnan(gguf::fp16_to_fp32(0x7C01)));
}

TEST(Fp16, EveryHalfSurvivesARoundTrip) {
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
        const auto half = static_cast<std::uint16_t>(h);
        if ((half & 0x7C00) == 0x7C00 && (half & 0x3FF) != 0) continue;  // NaN payloads become quiet
        ASSERT_EQ(gguf::fp32_to_fp16(gguf::fp16_to_fp32(half)), half) << std::hex << h;
    }
}

// ---- F32 and F16 tensors ---------------------------------------------------------------------

TEST(Quantize, F32IsALittleEndianCopy) {
    const std::vector<float> x{1.0f, -2.5f};
    auto q = gguf::quantize(GgmlType::F32, x, 2);
    ASSERT_TRUE(q) << q.error().message;
    ASSERT_EQ(q->size(), 8u);
    // 1.0f = 0x3F800000, -2.5f = 0xC0200000, least significant byte first
    const std::uint8_t expected[8] = {0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x20, 0xC0};
    for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(byte_at(*q, i), expected[i]) << i;
}

TEST(Quantize, F16StoresEachValueAsAHalf) {
    const std::vector<float> x{1.0f, -2.0f, 0.1f};
    auto q = gguf::quantize(GgmlType::F16, x, 3);
    ASSERT_TRUE(q);
    ASSERT_EQ(q->size(), 6u);
    EXPECT_EQ(u16_at(*q, 0), 0x3C00);
    EXPECT_EQ(u16_at(*q, 2), 0xC000);
    EXPECT_EQ(u16_at(*q, 4), 0x2E66);
}

// ---- Q8_0 --------------------------------------------------------------------------------------

// Block of 32: f16 d = amax / 127, then 32 int8 q = round-half-away-from-zero(x / d).
TEST(Quantize, Q8_0HandWorkedBlocks) {
    std::vector<float> x(96, 0.0f);
    // Block 0: amax 127 -> d = 1 (0x3C00); halves round away from zero.
    const float b0[] = {127.0f, -2.5f, 2.5f, 0.5f, -0.5f, 1.49f, -127.0f, 3.0f};
    std::copy(std::begin(b0), std::end(b0), x.begin());
    // Block 1: all zero -> d = 0, q = 0.
    // Block 2: amax 63.5 -> d = 0.5 (0x3800), 1/d = 2: 63.5 -> 127, 0.25 -> 0.5 -> 1, -0.75 -> -1.5 -> -2.
    x[64] = 63.5f;
    x[65] = 0.25f;
    x[66] = -0.75f;
    x[67] = -63.5f;
    auto q = gguf::quantize(GgmlType::Q8_0, x, 32);
    ASSERT_TRUE(q) << q.error().message;
    ASSERT_EQ(q->size(), 3u * 34u);
    EXPECT_EQ(u16_at(*q, 0), 0x3C00);
    const std::int8_t e0[] = {127, -3, 3, 1, -1, 1, -127, 3};
    for (std::size_t j = 0; j < 8; ++j) EXPECT_EQ(static_cast<std::int8_t>(byte_at(*q, 2 + j)), e0[j]) << j;
    for (std::size_t j = 8; j < 32; ++j) EXPECT_EQ(byte_at(*q, 2 + j), 0) << j;
    EXPECT_EQ(u16_at(*q, 34), 0x0000);
    for (std::size_t j = 0; j < 32; ++j) EXPECT_EQ(byte_at(*q, 36 + j), 0) << j;
    EXPECT_EQ(u16_at(*q, 68), 0x3800);
    const std::int8_t e2[] = {127, 1, -2, -127};
    for (std::size_t j = 0; j < 4; ++j) EXPECT_EQ(static_cast<std::int8_t>(byte_at(*q, 70 + j)), e2[j]) << j;

    auto back = gguf::dequantize(GgmlType::Q8_0, view(*q), 96);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ((*back)[0], 127.0f);
    EXPECT_EQ((*back)[1], -3.0f);
    EXPECT_EQ((*back)[65], 0.5f);   // 1 * 0.5
    EXPECT_EQ((*back)[66], -1.0f);  // -2 * 0.5
    EXPECT_EQ((*back)[40], 0.0f);
}

TEST(Quantize, Q8_0RoundTripErrorIsAtMostHalfAStep) {
    const auto x = wave(32 * 40, 3.0f);
    auto q = gguf::quantize(GgmlType::Q8_0, x, 32 * 8);
    ASSERT_TRUE(q);
    auto back = gguf::dequantize(GgmlType::Q8_0, view(*q), x.size());
    ASSERT_TRUE(back);
    for (std::size_t b = 0; b < x.size() / 32; ++b) {
        float amax = 0;
        for (std::size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
        const float step = amax / 127.0f;
        // half a step from rounding, plus up to 127 times the F16 rounding of the step (2^-11 relative)
        const float bound = 0.5f * step + 127.0f * step * 0x1.0p-11f;
        for (std::size_t j = 0; j < 32; ++j) {
            EXPECT_LE(std::fabs((*back)[32 * b + j] - x[32 * b + j]), bound) << b << " " << j;
        }
    }
}

// ---- TQ2_0 -------------------------------------------------------------------------------------

// Block of 256: u8 qs[64], f16 d = amax. Trit t = round(x / amax) stored as t + 1 in 2 bits;
// byte 32c + m holds elements 128c + 32n + m at bits 2n.
TEST(Quantize, TQ2_0HandWorkedBlock) {
    std::vector<float> x(256, 0.0f);
    x[0] = 2.0f;     // amax 2: t = +1 -> code 2, byte 0 bits 0-1
    x[32] = -2.0f;   // t = -1 -> code 0, byte 0 bits 2-3
    x[64] = 1.0f;    // 0.5 rounds away from zero: t = +1, byte 0 bits 4-5
    x[96] = -0.9f;   // -0.45 -> 0 -> code 1, byte 0 bits 6-7
    x[161] = -1.0f;  // chunk 1, n = 1, m = 1: t = -1 (-0.5 away from zero) -> byte 33 bits 2-3
    auto q = gguf::quantize(GgmlType::TQ2_0, x, 256);
    ASSERT_TRUE(q);
    ASSERT_EQ(q->size(), 66u);
    // zero elements: code 1 in every 2-bit field = 0b01010101
    EXPECT_EQ(byte_at(*q, 0), 0b01'10'00'10);
    EXPECT_EQ(byte_at(*q, 33), 0b01'01'00'01);
    for (std::size_t i = 0; i < 64; ++i) {
        if (i != 0 && i != 33) EXPECT_EQ(byte_at(*q, i), 0x55) << i;
    }
    EXPECT_EQ(u16_at(*q, 64), 0x4000);  // d = 2.0

    auto back = gguf::dequantize(GgmlType::TQ2_0, view(*q), 256);
    ASSERT_TRUE(back);
    EXPECT_EQ((*back)[0], 2.0f);
    EXPECT_EQ((*back)[32], -2.0f);
    EXPECT_EQ((*back)[64], 2.0f);
    EXPECT_EQ((*back)[96], 0.0f);
    EXPECT_EQ((*back)[161], -2.0f);
    EXPECT_EQ((*back)[255], 0.0f);
}

// ---- TQ1_0 -------------------------------------------------------------------------------------

// Block of 256: u8 qs[48], u8 qh[4], f16 d = amax. Five trits (t + 1, first most significant) per
// byte, stored as ceil(v * 256 / 243): qs[m] holds elements m + 32n (m < 32), qs[32 + m] holds
// 160 + m + 16n (m < 16), qh[j] holds 240 + j + 4n (n < 4, then a zero digit).
TEST(Quantize, TQ1_0HandWorkedBlocks) {
    std::vector<float> x(512, 0.0f);
    // Block 0 is all zero: d = 0, every trit code 1.
    //   qs: v = 11111 (base 3) = 121 -> ceil(121 * 256 / 243) = ceil(127.47) = 128
    //   qh: v = 1111 (base 3) * 3 = 120 -> ceil(120 * 256 / 243) = ceil(126.42) = 127
    // Block 1 (elements 256..511), amax 1 (d = 0x3C00):
    x[256 + 0] = 1.0f;     // qs[0], first trit (code 2) and
    x[256 + 128] = -1.0f;  // qs[0], fifth trit (code 0): v = 21110 (base 3) = 201 -> ceil(211.75) = 212
    x[256 + 175] = 1.0f;   // 160 + 15 + 16*0: qs[47], first trit: v = 21111 = 202 -> ceil(212.81) = 213
    x[256 + 255] = -1.0f;  // 240 + 3 + 4*3: qh[3], fourth trit: v = 1110 = 39, *3 = 117 -> ceil(123.26) = 124
    auto q = gguf::quantize(GgmlType::TQ1_0, x, 256);
    ASSERT_TRUE(q);
    ASSERT_EQ(q->size(), 2u * 54u);
    for (std::size_t i = 0; i < 48; ++i) EXPECT_EQ(byte_at(*q, i), 128) << i;
    for (std::size_t i = 48; i < 52; ++i) EXPECT_EQ(byte_at(*q, i), 127) << i;
    EXPECT_EQ(u16_at(*q, 52), 0x0000);

    const std::size_t b1 = 54;
    EXPECT_EQ(byte_at(*q, b1 + 0), 212);
    EXPECT_EQ(byte_at(*q, b1 + 47), 213);
    EXPECT_EQ(byte_at(*q, b1 + 48 + 3), 124);
    for (std::size_t i = 1; i < 47; ++i) EXPECT_EQ(byte_at(*q, b1 + i), 128) << i;
    for (std::size_t i = 48; i < 51; ++i) EXPECT_EQ(byte_at(*q, b1 + i), 127) << i;
    EXPECT_EQ(u16_at(*q, b1 + 52), 0x3C00);

    auto back = gguf::dequantize(GgmlType::TQ1_0, view(*q), 512);
    ASSERT_TRUE(back);
    for (std::size_t i = 0; i < 512; ++i) EXPECT_EQ((*back)[i], x[i]) << i;  // ternary input comes back exactly
}

TEST(Quantize, TernaryRoundTripGivesOnlyMinusDZeroD) {
    const auto x = wave(256 * 6, 0.8f);
    for (auto type : {GgmlType::TQ1_0, GgmlType::TQ2_0}) {
        auto q = gguf::quantize(type, x, 512);
        ASSERT_TRUE(q);
        auto back = gguf::dequantize(type, view(*q), x.size());
        ASSERT_TRUE(back);
        for (std::size_t b = 0; b < 6; ++b) {
            float amax = 0;
            for (std::size_t j = 0; j < 256; ++j) amax = std::max(amax, std::fabs(x[256 * b + j]));
            const float d = gguf::fp16_to_fp32(gguf::fp32_to_fp16(amax));
            for (std::size_t j = 0; j < 256; ++j) {
                const float y = (*back)[256 * b + j], v = x[256 * b + j];
                ASSERT_TRUE(y == 0.0f || y == d || y == -d) << y;
                // the trit is the nearest of -1, 0, 1 to v / amax
                const float expected = std::fabs(v) < 0.5f * amax ? 0.0f : std::copysign(d, v);
                EXPECT_EQ(y, expected) << b << " " << j << " v=" << v << " amax=" << amax;
            }
        }
    }
}

TEST(Quantize, TQ1_0AndTQ2_0AgreeOnEveryTrit) {
    const auto x = wave(256 * 4, 1.7f);
    auto a = gguf::quantize(GgmlType::TQ1_0, x, 256);
    auto b = gguf::quantize(GgmlType::TQ2_0, x, 256);
    ASSERT_TRUE(a && b);
    auto da = gguf::dequantize(GgmlType::TQ1_0, view(*a), x.size());
    auto db = gguf::dequantize(GgmlType::TQ2_0, view(*b), x.size());
    ASSERT_TRUE(da && db);
    EXPECT_EQ(*da, *db);
}

// ---- Errors ------------------------------------------------------------------------------------

TEST(QuantizeErrors, RowSizeMustBeAPositiveBlockMultiple) {
    const std::vector<float> x(512, 1.0f);
    struct Case {
        GgmlType type;
        std::uint64_t row;
    };
    for (auto c : {Case{GgmlType::Q8_0, 48}, Case{GgmlType::Q8_0, 0}, Case{GgmlType::TQ1_0, 128},
                   Case{GgmlType::TQ2_0, 32}, Case{GgmlType::F16, 0}}) {
        auto q = gguf::quantize(c.type, x, c.row);
        ASSERT_FALSE(q) << c.row;
        EXPECT_EQ(q.error().code, gguf::Code::shape_not_block_aligned);
        EXPECT_NE(q.error().message.find(std::to_string(c.row)), std::string::npos) << q.error().message;
    }
}

TEST(QuantizeErrors, ValuesMustMakeWholeRows) {
    const std::vector<float> x(64, 1.0f);
    auto q = gguf::quantize(GgmlType::Q8_0, x, 96);
    ASSERT_FALSE(q);
    EXPECT_EQ(q.error().code, gguf::Code::shape_not_block_aligned);
    EXPECT_NE(q.error().message.find("64 values"), std::string::npos) << q.error().message;
}

TEST(QuantizeErrors, UnsupportedTypesAreNamed) {
    const std::vector<float> x(32, 1.0f);
    EXPECT_FALSE(gguf::can_quantize(GgmlType::Q4_0));
    EXPECT_TRUE(gguf::can_quantize(GgmlType::TQ1_0));
    auto q = gguf::quantize(GgmlType::Q4_0, x, 32);
    ASSERT_FALSE(q);
    EXPECT_EQ(q.error().code, gguf::Code::invalid_tensor_type);
    EXPECT_NE(q.error().message.find("Q4_0"), std::string::npos) << q.error().message;
    auto d = gguf::dequantize(GgmlType::IQ2_XXS, {}, 0);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code, gguf::Code::type_not_supported);
}

TEST(QuantizeErrors, DequantizeChecksElementCountAndDataSize) {
    const std::vector<std::byte> data(34);
    auto a = gguf::dequantize(GgmlType::Q8_0, view(data), 33);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().code, gguf::Code::shape_not_block_aligned);
    auto b = gguf::dequantize(GgmlType::Q8_0, view(data), 64);  // needs 2 blocks of 34 bytes
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().code, gguf::Code::tensor_data_out_of_bounds);
    EXPECT_NE(b.error().message.find("2 blocks of 34 bytes, got 34"), std::string::npos) << b.error().message;
    const std::vector<std::byte> extra(35);
    EXPECT_FALSE(gguf::dequantize(GgmlType::Q8_0, view(extra), 32));
    // an element count whose byte size would overflow is an error, not an allocation
    auto c = gguf::dequantize(GgmlType::F32, view(data), std::uint64_t{1} << 62);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, gguf::Code::tensor_data_out_of_bounds);
}
