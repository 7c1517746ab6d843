// FP4 (OCP microscaling E2M1) elements under a shared scale.
//
// An E2M1 nibble is sign (bit 3), two exponent bits and one mantissa bit: magnitudes 0, 0.5, 1,
// 1.5, 2, 3, 4, 6. ggml stores them doubled as int8 (0, 1, 2, 3, 4, 6, 8, 12 and their negatives;
// the nibble 8, E2M1's -0, is the integer 0 and so decodes to +0) and halves the scale instead:
//
//   MXFP4 (17 B, 32 elements): E8M0 e@0, qs[16]@1. E8M0 is a bare exponent, 2^(e-127); the halved
//                              scale is 2^(e-128), built exactly (subnormal for e = 0 and 1). e = 255,
//                              NaN in the MX specification, is read as 2^127 like every other e,
//                              as ggml does. value = doubled level * scale.
//   NVFP4 (36 B, 64 elements): UE4M3 d[4]@0 (one per 16-element sub-block), qs[32]@4. UE4M3 is
//                              4 exponent bits (bias 7, bits 3..6) and 3 mantissa bits; bit 7 is not
//                              read; 0x00 and 0x7F decode to 0; exponent 0 is subnormal (m * 2^-9).
//                              The halved scale is that value / 2. Per sub-block: element j (< 8) is
//                              the low nibble of qs[8s + j], j + 8 the high nibble.
#include "dequant_kernels.hpp"

namespace gguf::detail {
namespace {

constexpr std::int8_t kE2m1Doubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// 2^(e-128) as an f32: exponent field e - 1 for e >= 2; below, the subnormals 2^-128 and 2^-127.
float e8m0_half(std::uint8_t e) {
    return e >= 2 ? f32_bits(static_cast<std::uint32_t>(e - 1) << 23) : f32_bits(0x00200000u << e);
}

// Half the value of a UE4M3 byte. Every value here is exact in f32, so the way it is assembled
// does not matter: (8 + m) * 2^(exp - 10) for exp >= 1, m * 2^-9 for exp 0, then halved.
float ue4m3_half(std::uint8_t x) {
    if (x == 0 || x == 0x7F) return 0.0f;
    const int exponent = (x >> 3) & 0x0F;
    const int mantissa = x & 7;
    const float value = exponent == 0 ? static_cast<float>(mantissa) * 0x1.0p-9f
                                      : static_cast<float>(8 + mantissa) *
                                            f32_bits(static_cast<std::uint32_t>(exponent - 10 + 127) << 23);
    return value * 0.5f;
}

}  // namespace

void decode_mxfp4(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 17, y += 32) {
        const float d = e8m0_half(b[0]);
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>(kE2m1Doubled[b[1 + j] & 0x0F]) * d;
            y[j + 16] = static_cast<float>(kE2m1Doubled[b[1 + j] >> 4]) * d;
        }
    }
}

void decode_nvfp4(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 36) {
        for (int s = 0; s < 4; ++s, y += 16) {
            const float d = ue4m3_half(b[s]);
            const std::uint8_t* qs = b + 4 + 8 * s;
            for (int j = 0; j < 8; ++j) {
                y[j] = static_cast<float>(kE2m1Doubled[qs[j] & 0x0F]) * d;
                y[j + 8] = static_cast<float>(kE2m1Doubled[qs[j] >> 4]) * d;
            }
        }
    }
}

}  // namespace gguf::detail
