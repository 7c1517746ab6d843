// Dequantizers: blocks built by hand from the layouts of ggml-common.h, with every expected value
// worked out here from the format's definition (scale * level, in f32). Bit identity with ggml's
// own to_float on real files is checked in tests/crossval/dequant_reference_test.cpp.
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "gguf/data/quantize.hpp"

using gguf::GgmlType;

namespace {

struct Block {
    std::vector<std::byte> bytes;
    explicit Block(std::size_t n) : bytes(n) {}
    void u8(std::size_t at, unsigned v) { bytes[at] = static_cast<std::byte>(v & 0xFF); }
    void u16(std::size_t at, unsigned v) {
        u8(at, v);
        u8(at + 1, v >> 8);
    }
    void u32(std::size_t at, std::uint32_t v) {
        u16(at, v & 0xFFFF);
        u16(at + 2, v >> 16);
    }
    gguf::Bytes view() const { return {bytes.data(), bytes.size()}; }
};

constexpr unsigned kHalfOne = 0x3C00, kHalfHalf = 0x3800, kHalfQuarter = 0x3400, kHalfMinusOne = 0xBC00,
                   kHalfTwo = 0x4000;

std::vector<float> decode(GgmlType type, const Block& b, std::uint64_t n) {
    auto r = gguf::dequantize(type, b.view(), n);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : std::vector<float>(n, NAN);
}

std::uint32_t bits(float f) {
    return std::bit_cast<std::uint32_t>(f);
}

}  // namespace

TEST(Dequantize, Bf16IsTheTopHalfOfAnF32AndKeepsNanPayloads) {
    Block b(6);
    b.u16(0, 0x3F80);  // 1.0
    b.u16(2, 0xC040);  // -3.0
    b.u16(4, 0x7F81);  // a signalling NaN: stays exactly that
    const auto y = decode(GgmlType::BF16, b, 3);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[1], -3.0f);
    EXPECT_EQ(bits(y[2]), 0x7F810000u);
}

TEST(Dequantize, F32IsTheLittleEndianBits) {
    Block b(4);
    b.u32(0, 0x7FA00001);  // a NaN with a payload: kept
    EXPECT_EQ(bits(decode(GgmlType::F32, b, 1)[0]), 0x7FA00001u);
}

TEST(Dequantize, Q4_0IsNibbleMinusEightTimesScale) {
    Block b(18);
    b.u16(0, kHalfHalf);
    for (unsigned j = 0; j < 16; ++j) b.u8(2 + j, j | ((15 - j) << 4));
    const auto y = decode(GgmlType::Q4_0, b, 32);
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(y[j], static_cast<float>(j - 8) * 0.5f) << j;
        EXPECT_EQ(y[j + 16], static_cast<float>(7 - j) * 0.5f) << j;
    }
}

TEST(Dequantize, Q4_1AddsTheMinAfterScaling) {
    Block b(20);
    b.u16(0, kHalfQuarter);
    b.u16(2, kHalfMinusOne);
    for (unsigned j = 0; j < 16; ++j) b.u8(4 + j, j | (j << 4));
    const auto y = decode(GgmlType::Q4_1, b, 32);
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(y[j], static_cast<float>(j) * 0.25f - 1.0f);
        EXPECT_EQ(y[j + 16], y[j]);
    }
}

TEST(Dequantize, Q5_0TakesBitKOfQhAsTheFifthBitOfElementK) {
    Block b(22);
    b.u16(0, kHalfOne);
    b.u32(2, 0x80010001u);                                // elements 0, 16 and 31 have the high bit
    for (unsigned j = 0; j < 16; ++j) b.u8(6 + j, 0x53);  // low nibble 3, high nibble 5
    const auto y = decode(GgmlType::Q5_0, b, 32);
    EXPECT_EQ(y[0], 3.0f);    // 16 + 3 - 16
    EXPECT_EQ(y[1], -13.0f);  // 3 - 16
    EXPECT_EQ(y[16], 5.0f);   // 16 + 5 - 16
    EXPECT_EQ(y[17], -11.0f);
    EXPECT_EQ(y[31], 5.0f);
}

TEST(Dequantize, Q5_1IsQTimesScalePlusMin) {
    Block b(24);
    b.u16(0, kHalfTwo);
    b.u16(2, kHalfHalf);
    b.u32(4, 0x00000002u);  // element 1 has the high bit
    for (unsigned j = 0; j < 16; ++j) b.u8(8 + j, 0x21);
    const auto y = decode(GgmlType::Q5_1, b, 32);
    EXPECT_EQ(y[0], 1.0f * 2.0f + 0.5f);
    EXPECT_EQ(y[1], 17.0f * 2.0f + 0.5f);
    EXPECT_EQ(y[16], 2.0f * 2.0f + 0.5f);
}

TEST(Dequantize, Q8_1IgnoresTheSumField) {
    Block b(36);
    b.u16(0, kHalfHalf);
    b.u16(2, 0x7C00);  // s = inf: not used for the values
    for (unsigned j = 0; j < 32; ++j) b.u8(4 + j, static_cast<unsigned>(static_cast<int>(j) - 16));
    const auto y = decode(GgmlType::Q8_1, b, 32);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], static_cast<float>(j - 16) * 0.5f);
}

TEST(Dequantize, Q1_0IsPlusOrMinusTheScale) {
    Block b(18);
    b.u16(0, kHalfTwo);
    b.u8(2, 0x05);  // elements 0 and 2 set
    const auto y = decode(GgmlType::Q1_0, b, 128);
    EXPECT_EQ(y[0], 2.0f);
    EXPECT_EQ(y[1], -2.0f);
    EXPECT_EQ(y[2], 2.0f);
    EXPECT_EQ(y[127], -2.0f);
}

TEST(Dequantize, Q2_0IsTwoBitsMinusOne) {
    Block b(18);
    b.u16(0, kHalfOne);
    b.u8(2, 0b11100100);  // elements 0..3: q = 0, 1, 2, 3
    const auto y = decode(GgmlType::Q2_0, b, 64);
    EXPECT_EQ(y[0], -1.0f);
    EXPECT_EQ(y[1], 0.0f);
    EXPECT_EQ(y[2], 1.0f);
    EXPECT_EQ(y[3], 2.0f);
}

// The Q4_K/Q5_K 12-byte field, packed from eight 6-bit scales and mins as the format defines it:
// j < 4 in the low six bits of bytes j (scale) and j + 4 (min); j >= 4 split into a nibble of byte
// j + 4 (scale low, min high) and two bits at the top of bytes j - 4 (scale) and j (min).
std::array<std::uint8_t, 12> pack_k4(const std::array<int, 8>& sc, const std::array<int, 8>& mn) {
    std::array<std::uint8_t, 12> q{};
    for (int j = 0; j < 4; ++j) {
        q[j] = static_cast<std::uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
        q[j + 4] = static_cast<std::uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
        q[j + 8] = static_cast<std::uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
    return q;
}

TEST(Dequantize, Q4_KUnpacksSixBitScalesAndMins) {
    const std::array<int, 8> sc{1, 2, 3, 63, 17, 33, 48, 63};
    const std::array<int, 8> mn{0, 5, 63, 1, 62, 16, 31, 47};
    Block b(144);
    b.u16(0, kHalfQuarter);  // d
    b.u16(2, kHalfHalf);     // dmin
    const auto packed = pack_k4(sc, mn);
    for (int k = 0; k < 12; ++k) b.u8(4 + k, packed[k]);
    for (unsigned l = 0; l < 128; ++l) b.u8(16 + l, (l % 16) | ((15 - l % 16) << 4));
    const auto y = decode(GgmlType::Q4_K, b, 256);
    for (int e = 0; e < 256; ++e) {
        const int sub = e / 32;  // 32-element sub-block: low nibbles of chunk e/64, then high
        const int l = e % 32;
        const int byte = 32 * (e / 64) + l;
        const int q = (sub % 2 == 0) ? (byte % 16) : (15 - byte % 16);
        const float expect =
            0.25f * static_cast<float>(sc[sub]) * static_cast<float>(q) - 0.5f * static_cast<float>(mn[sub]);
        ASSERT_EQ(y[e], expect) << e;
    }
}

TEST(Dequantize, Q5_KAddsSixteenForTheHighBit) {
    const std::array<int, 8> sc{1, 1, 1, 1, 1, 1, 1, 40};
    const std::array<int, 8> mn{0, 0, 0, 0, 0, 0, 0, 2};
    Block b(176);
    b.u16(0, kHalfOne);
    b.u16(2, kHalfOne);
    const auto packed = pack_k4(sc, mn);
    for (int k = 0; k < 12; ++k) b.u8(4 + k, packed[k]);
    b.u8(16 + 3, 0x80);  // qh[3] bit 7: element 32 * 7 + 3 (sub-block 7, high nibbles of chunk 3)
    for (unsigned l = 0; l < 128; ++l) b.u8(48 + l, 0x70 | 0x05);
    const auto y = decode(GgmlType::Q5_K, b, 256);
    EXPECT_EQ(y[0], 5.0f);
    EXPECT_EQ(y[224 + 3], 40.0f * 23.0f - 2.0f);  // (7 + 16) * 40 - 2
    EXPECT_EQ(y[224 + 4], 40.0f * 7.0f - 2.0f);
}

TEST(Dequantize, Q3_KUnpacksScalesAndTheHighMask) {
    // sixteen 6-bit scales, packed per the definition: low nibbles in bytes 0..7 (scale i < 8: low
    // nibble of byte i; i >= 8: high nibble of byte i - 8), top two bits in bytes 8..11.
    std::array<int, 16> s{};
    for (int i = 0; i < 16; ++i) s[i] = (i * 13 + 7) % 64;
    Block b(110);
    for (int i = 0; i < 8; ++i) b.u8(96 + i, static_cast<unsigned>((s[i] & 15) | ((s[i + 8] & 15) << 4)));
    for (int k = 0; k < 4; ++k) {
        unsigned v = 0;
        for (int g = 0; g < 4; ++g) v |= static_cast<unsigned>((s[4 * g + k] >> 4) & 3) << (2 * g);
        b.u8(96 + 8 + k, v);
    }
    b.u16(108, kHalfHalf);
    for (unsigned l = 0; l < 64; ++l) b.u8(32 + l, 0b11100100);           // q = 0, 1, 2, 3 at shifts 0, 2, 4, 6
    for (unsigned l = 0; l < 32; ++l) b.u8(l, l % 2 == 0 ? 0xFF : 0x00);  // even l: high bit set everywhere
    const auto y = decode(GgmlType::Q3_K, b, 256);
    for (int e = 0; e < 256; ++e) {
        const int half = e / 128, j = (e % 128) / 32, l = e % 32;  // l: byte within the 32-byte run
        const int sub = e / 16;
        const int q = j - ((l % 2 == 0) ? 0 : 4);
        (void)half;
        const float expect = 0.5f * static_cast<float>(s[sub] - 32) * static_cast<float>(q);
        ASSERT_EQ(y[e], expect) << e;
    }
}

TEST(Dequantize, Q2_KScalesAndMinsAreNibbles) {
    Block b(84);
    for (unsigned i = 0; i < 16; ++i) b.u8(i, (i % 16) | (((15 - i) % 16) << 4));
    for (unsigned l = 0; l < 64; ++l) b.u8(16 + l, 0b00011011);  // q = 3, 2, 1, 0 at shifts 0, 2, 4, 6
    b.u16(80, kHalfHalf);
    b.u16(82, kHalfQuarter);
    const auto y = decode(GgmlType::Q2_K, b, 256);
    for (int e = 0; e < 256; ++e) {
        const int sub = e / 16, j = (e % 128) / 32;
        const float expect =
            0.5f * static_cast<float>(sub) * static_cast<float>(3 - j) - 0.25f * static_cast<float>(15 - sub);
        ASSERT_EQ(y[e], expect) << e;
    }
}

TEST(Dequantize, Q6_KCombinesFourAndTwoBitsMinusThirtyTwo) {
    Block b(210);
    for (unsigned l = 0; l < 128; ++l) b.u8(l, 0x21);             // low nibble 1, high nibble 2
    for (unsigned l = 0; l < 64; ++l) b.u8(128 + l, 0b11100100);  // upper bits 0, 1, 2, 3 for q1..q4
    for (unsigned i = 0; i < 16; ++i) b.u8(192 + i, static_cast<unsigned>(static_cast<int>(i) - 8));
    b.u16(208, kHalfTwo);
    const auto y = decode(GgmlType::Q6_K, b, 256);
    // element 0: q1 = 1 | 0 << 4 = 1 - 32; scale index 0 (-8)
    EXPECT_EQ(y[0], 2.0f * -8.0f * -31.0f);
    // element 32: q2 = 1 | 1 << 4 = 17 - 32; scale 2 (-6)
    EXPECT_EQ(y[32], 2.0f * -6.0f * -15.0f);
    // element 64 + 16: q3 = 2 | 2 << 4 = 34 - 32; scale 5 (-3)
    EXPECT_EQ(y[80], 2.0f * -3.0f * 2.0f);
    // element 128 + 96 + 31: second half, q4 = 2 | 3 << 4 = 50 - 32; scale 8 + 7 (7)
    EXPECT_EQ(y[255], 2.0f * 7.0f * 18.0f);
}

TEST(Dequantize, Q8_KHasAnF32Scale) {
    Block b(292);
    b.u32(0, bits(0.1f));
    b.u8(4, 0x80);  // -128
    b.u8(5, 3);
    const auto y = decode(GgmlType::Q8_K, b, 256);
    EXPECT_EQ(y[0], 0.1f * -128.0f);
    EXPECT_EQ(y[1], 0.1f * 3.0f);
}

TEST(Dequantize, Iq4NlUsesTheSixteenLevels) {
    const int levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    Block b(18);
    b.u16(0, kHalfHalf);
    for (unsigned j = 0; j < 16; ++j) b.u8(2 + j, j | ((15 - j) << 4));
    const auto y = decode(GgmlType::IQ4_NL, b, 32);
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(y[j], 0.5f * static_cast<float>(levels[j]));
        EXPECT_EQ(y[j + 16], 0.5f * static_cast<float>(levels[15 - j]));
    }
}

TEST(Dequantize, Iq4XsSixBitSubBlockScales) {
    Block b(136);
    b.u16(0, kHalfOne);
    b.u16(2, 0b11u << 14);  // sub-block 7: top bits 3
    b.u8(4 + 3, 0x50);      // sub-block 7: low nibble 5 (high nibble of scales_l[3]); sub-block 6: 0
    for (unsigned l = 0; l < 128; ++l) b.u8(8 + l, 0x08);  // low nibble level 1, high nibble level -127
    const auto y = decode(GgmlType::IQ4_XS, b, 256);
    EXPECT_EQ(y[224], static_cast<float>(53 - 32) * 1.0f);  // scale 0x35 = 53
    EXPECT_EQ(y[224 + 16], static_cast<float>(53 - 32) * -127.0f);
    EXPECT_EQ(y[192], -32.0f);  // scale 0
}

TEST(Dequantize, Mxfp4HalvesTheE8M0ScaleOfDoubledLevels) {
    Block b(17 * 3);
    b.u8(0, 127);   // 2^0, halved: 0.5
    b.u8(1, 0x77);  // element 0: nibble 7, 6.0 (doubled 12); element 16: nibble 7 too
    b.u8(2, 0x98);  // element 1: nibble 8 (-0 in E2M1, the integer 0 here) -> +0; element 17: nibble 9 -> -0.5
    b.u8(17, 0);    // 2^-127, halved: 2^-128, a subnormal
    b.u8(18, 0x01);
    b.u8(34, 255);  // read as 2^128, halved 2^127
    b.u8(35, 0x01);
    const auto y = decode(GgmlType::MXFP4, b, 96);
    EXPECT_EQ(y[0], 6.0f);
    EXPECT_EQ(y[16], 6.0f);
    EXPECT_EQ(bits(y[1]), 0u);
    EXPECT_EQ(y[17], -0.5f);
    EXPECT_EQ(bits(y[32]), 0x00200000u);  // 1 * 2^-128
    EXPECT_EQ(y[64], std::ldexp(1.0f, 127));
}

TEST(Dequantize, Nvfp4UsesOneUe4M3ScalePerSixteen) {
    Block b(36);
    b.u8(0, 0x38);                                        // exponent 7, mantissa 0: 1.0, halved 0.5
    b.u8(1, 0x7F);                                        // decodes to 0
    b.u8(2, 0x01);                                        // subnormal 2^-9, halved 2^-10
    b.u8(3, 0x3C);                                        // 1.5, halved 0.75
    for (unsigned j = 0; j < 32; ++j) b.u8(4 + j, 0x72);  // low nibble 2 (doubled 2), high 7 (doubled 12)
    const auto y = decode(GgmlType::NVFP4, b, 64);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[8], 6.0f);
    EXPECT_EQ(y[16], 0.0f);
    EXPECT_EQ(y[32], 2.0f * 0x1.0p-10f);
    EXPECT_EQ(y[56], 12.0f * 0.75f);
}

TEST(Dequantize, StreamingRowsEqualsTheWholeTensor) {
    Block b(18 * 4);
    for (std::size_t i = 0; i < b.bytes.size(); ++i) b.u8(i, static_cast<unsigned>(i * 37 + 11));
    for (int blk = 0; blk < 4; ++blk) b.u16(18 * blk, kHalfQuarter + static_cast<unsigned>(blk));
    const auto whole = decode(GgmlType::Q4_0, b, 128);
    std::vector<float> rows(128);
    for (int r = 0; r < 2; ++r) {
        auto st = gguf::dequantize_into(GgmlType::Q4_0, b.view().subspan(36 * r, 36),
                                        std::span<float>(rows).subspan(64 * r, 64));
        ASSERT_TRUE(st) << st.error().message;
    }
    EXPECT_EQ(std::memcmp(whole.data(), rows.data(), 128 * sizeof(float)), 0);
}

TEST(DequantizeErrors, GridTypesAreNamedAsNotSupported) {
    for (auto t : {GgmlType::IQ1_S, GgmlType::IQ1_M, GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S,
                   GgmlType::IQ3_XXS, GgmlType::IQ3_S}) {
        EXPECT_EQ(gguf::dequant_support(static_cast<std::uint32_t>(t)), gguf::DequantSupport::needs_lookup_grid);
        auto r = gguf::dequantize(t, {}, 0);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, gguf::Code::type_not_supported);
        EXPECT_NE(r.error().message.find(gguf::ggml_type(static_cast<std::uint32_t>(t))->name), std::string::npos);
        EXPECT_NE(r.error().message.find("grid"), std::string::npos);
    }
}

// I2_S (bitnet.cpp's x86 layout, docs/i2_s.md) goes through the one dispatcher, whole tensors only:
// 128 elements are 32 code bytes (element j in byte j % 32, bits 6 - 2 * (j / 32); 0 = -1, 1 = 0,
// 2 = +1), then the tensor's f32 scale and padding to 32 bytes.
TEST(DequantizeI2S, TheDispatcherReadsCodesAndTheTensorScale) {
    std::vector<std::byte> data(64, std::byte{0});
    for (int i = 0; i < 32; ++i) data[i] = std::byte{0xAA};  // every code 2: +1
    data[0] = std::byte{0x2A};                               // element 0 (bits 7-6 of byte 0): code 0, -1
    data[1] = std::byte{0x9A};                               // element 33 (bits 5-4 of byte 1): code 1, 0
    const float scale = 0.5f;
    std::memcpy(data.data() + 32, &scale, 4);
    auto r = gguf::dequantize(static_cast<GgmlType>(36), {data.data(), data.size()}, 128);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->size(), 128u);
    for (std::size_t j = 0; j < 128; ++j) {
        const float want = j == 0 ? -0.5f : (j == 33 ? 0.0f : 0.5f);
        EXPECT_EQ((*r)[j], want) << j;
    }
    std::vector<float> into(128);
    ASSERT_TRUE(gguf::dequantize_into(static_cast<GgmlType>(36), {data.data(), data.size()}, into));
    EXPECT_EQ(into, *r);
    EXPECT_FALSE(gguf::dequantize(static_cast<GgmlType>(36), {data.data(), 40}, 128));  // not the whole tensor
}

TEST(DequantizeErrors, RemovedIdsAreInvalid) {
    auto removed = gguf::dequantize(static_cast<GgmlType>(4), {}, 0);
    ASSERT_FALSE(removed);
    EXPECT_EQ(removed.error().code, gguf::Code::invalid_tensor_type);
    EXPECT_FALSE(gguf::dequantize(static_cast<GgmlType>(9999), {}, 0));
}

TEST(DequantizeErrors, IntoChecksTheBufferAgainstTheBytes) {
    Block b(34);
    std::vector<float> out(64);
    auto st = gguf::dequantize_into(GgmlType::Q8_0, b.view(), out);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, gguf::Code::tensor_data_out_of_bounds);
    std::vector<float> odd(31);
    EXPECT_EQ(gguf::dequantize_into(GgmlType::Q8_0, b.view(), odd).error().code, gguf::Code::shape_not_block_aligned);
}
