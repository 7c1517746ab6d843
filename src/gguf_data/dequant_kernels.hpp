// The per-family block decoders behind gguf::dequantize (include/gguf/data/quantize.hpp). Each turns
// `n_blocks` consecutive blocks of its type, as stored in a GGUF file, into block_size * n_blocks
// floats. Callers have checked the sizes; these never allocate and never read past
// n_blocks * bytes_per_block bytes.
//
// Bit-exactness with ggml's to_float rests on three things, stated once here: every scale is
// widened to f32 exactly (f16, bf16, e8m0); every product and sum is a single f32 operation in the
// order ggml's reference dequantizer writes it (integers are converted to float first); and this
// library is compiled with -ffp-contract=off, so that no a*b+c becomes a fused multiply-add.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace gguf::detail {

using BlockDecoder = void (*)(const std::uint8_t* blocks, std::size_t n_blocks, float* out);

inline std::uint16_t le16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t le32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
inline float f32_bits(std::uint32_t bits) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}
// IEEE binary16 -> binary32, exact, without branches (so that loops over it vectorize): a normal
// half moves its exponent and mantissa up and rebiases (15 -> 127); infinity and NaN get the f32
// exponent 255, a NaN its quiet bit, payload kept; zero and subnormals are mantissa * 2^-24, exact.
// This is gguf::fp16_to_fp32.
inline float widen_half(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t mag = h & 0x7FFFu;
    std::uint32_t bits = (mag << 13) + (112u << 23);
    bits += mag >= 0x7C00u ? (112u << 23) : 0u;  // infinity / NaN: exponent 31 + 112 + 112 = 255
    bits |= mag > 0x7C00u ? 0x00400000u : 0u;    // NaN: quiet
    float sub = static_cast<float>(mag) * 0x1.0p-24f;
    std::uint32_t sub_bits;
    std::memcpy(&sub_bits, &sub, sizeof sub_bits);
    return f32_bits(sign | (mag < 0x0400u ? sub_bits : bits));
}

// A little-endian f16 at p, widened exactly.
inline float half_at(const std::uint8_t* p) {
    return widen_half(le16(p));
}

// dequant_float.cpp: one element per "block".
void decode_f32(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_f16(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_bf16(const std::uint8_t* blocks, std::size_t n_blocks, float* out);

// dequant_legacy.cpp: 32-element blocks with one f16 scale (and a min for the _1 types), and the
// 1- and 2-bit Q1_0 (128) / Q2_0 (64).
void decode_q4_0(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_q4_1(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_q5_0(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_q5_1(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_q8_0(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_q8_1(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_q1_0(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_q2_0(const std::uint8_t* blocks, std::size_t n_blocks, float* out);

// dequant_k.cpp: 256-element super-blocks with sub-block scales.
void decode_q2_k(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_q3_k(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_q4_k(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_q5_k(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_q6_k(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_q8_k(const std::uint8_t* blocks, std::size_t n_blocks, float* out);

// dequant_iq.cpp: the non-linear 4-bit types (a 16-entry value table, no grid).
void decode_iq4_nl(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_iq4_xs(const std::uint8_t* blocks, std::size_t n_blocks, float* out);

// dequant_fp4.cpp: E2M1 elements under an E8M0 (MXFP4) or UE4M3 (NVFP4) scale.
void decode_mxfp4(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_nvfp4(const std::uint8_t* blocks, std::size_t n_blocks, float* out);

// dequant_ternary.cpp: TQ1_0 and TQ2_0.
void decode_tq1_0(const std::uint8_t* blocks, std::size_t n_blocks, float* out);
void decode_tq2_0(const std::uint8_t* blocks, std::size_t n_blocks, float* out);

}  // namespace gguf::detail
