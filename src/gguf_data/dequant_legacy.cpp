// The original ggml block types: 32 elements under one f16 scale d (and, for the _1 types, an f16
// offset m), plus Q1_0 and Q2_0. Layouts (ggml-common.h), byte offsets within a block:
//
//   Q4_0 (18 B): d@0, qs[16]@2      element j (< 16) = low nibble of qs[j], j + 16 = high nibble;
//                                   value = (nibble - 8) * d
//   Q4_1 (20 B): d@0, m@2, qs[16]@4 same nibbles; value = nibble * d + m
//   Q5_0 (22 B): d@0, qh@2 (u32 LE), qs[16]@6   bit k of qh is bit 4 of element k;
//                                   value = (5-bit q - 16) * d
//   Q5_1 (24 B): d@0, m@2, qh@4, qs[16]@8       value = q * d + m
//   Q8_0 (34 B): d@0, int8 qs[32]@2             value = q * d
//   Q8_1 (36 B): d@0, s@2 (d * sum of qs, unused here), int8 qs[32]@4   value = q * d
//   Q1_0 (18 B, 128 elements): d@0, qs[16]@2    bit j%8 of qs[j/8] set: +d, clear: -d
//   Q2_0 (18 B, 64 elements):  d@0, qs[16]@2    q = bits 2(j%4).. of qs[j/4]; value = (q - 1) * d
//
// The integer is converted to f32 and multiplied by d in f32; then m is added: one rounding each.
#include "dequant_kernels.hpp"

namespace gguf::detail {

void decode_q4_0(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 18, y += 32) {
        const float d = half_at(b);
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>((b[2 + j] & 0x0F) - 8) * d;
            y[j + 16] = static_cast<float>((b[2 + j] >> 4) - 8) * d;
        }
    }
}

void decode_q4_1(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 20, y += 32) {
        const float d = half_at(b);
        const float m = half_at(b + 2);
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>(b[4 + j] & 0x0F) * d + m;
            y[j + 16] = static_cast<float>(b[4 + j] >> 4) * d + m;
        }
    }
}

// The fifth bit of element k (0..31) of a Q5 block, as 0 or 16.
inline int q5_high(std::uint32_t qh, int k) {
    return static_cast<int>((qh >> k) & 1u) << 4;
}

void decode_q5_0(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 22, y += 32) {
        const float d = half_at(b);
        const std::uint32_t qh = le32(b + 2);
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>(((b[6 + j] & 0x0F) | q5_high(qh, j)) - 16) * d;
            y[j + 16] = static_cast<float>(((b[6 + j] >> 4) | q5_high(qh, j + 16)) - 16) * d;
        }
    }
}

void decode_q5_1(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 24, y += 32) {
        const float d = half_at(b);
        const float m = half_at(b + 2);
        const std::uint32_t qh = le32(b + 4);
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>((b[8 + j] & 0x0F) | q5_high(qh, j)) * d + m;
            y[j + 16] = static_cast<float>((b[8 + j] >> 4) | q5_high(qh, j + 16)) * d + m;
        }
    }
}

void decode_q8_0(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 34, y += 32) {
        const float d = half_at(b);
        for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<std::int8_t>(b[2 + j])) * d;
    }
}

void decode_q8_1(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 36, y += 32) {
        const float d = half_at(b);
        for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<std::int8_t>(b[4 + j])) * d;
    }
}

void decode_q1_0(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 18, y += 128) {
        const float d = half_at(b);
        const float neg = -d;
        for (int j = 0; j < 128; ++j) y[j] = ((b[2 + j / 8] >> (j % 8)) & 1) ? d : neg;
    }
}

void decode_q2_0(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 18, y += 64) {
        const float d = half_at(b);
        for (int j = 0; j < 64; ++j) y[j] = static_cast<float>(((b[2 + j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
    }
}

}  // namespace gguf::detail
