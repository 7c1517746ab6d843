// TQ1_0 and TQ2_0, the ternary types: 256 elements, each -1, 0 or +1 times an f16 scale d.
//
//   TQ2_0 (66 B): qs[64]@0, d@64. Byte 32c + m holds, in bits 2n..2n+1, t + 1 of element
//                 128c + 32n + m (c < 2, n < 4, m < 32).
//   TQ1_0 (54 B): qs[48]@0, qh[4]@48, d@52. Five trits a byte stored as ceil(v * 256 / 243), v the
//                 base-3 number of the trits, first trit most significant; trit n of byte q is
//                 ((q * 3^n mod 256) * 3) >> 8. qs[m] (m < 32) holds elements m + 32n, qs[32 + m]
//                 (m < 16) holds 160 + m + 16n, qh[j] holds 240 + j + 4n (n < 4).
// value = (float)(t) * d.
#include "dequant_kernels.hpp"

namespace gguf::detail {
namespace {

int trit_of(std::uint8_t byte, unsigned n) {
    static constexpr unsigned kPow3[5] = {1, 3, 9, 27, 81};
    const unsigned rotated = (byte * kPow3[n]) & 0xFFu;  // multiplying mod 256 brings trit n to the top
    return static_cast<int>((rotated * 3) >> 8) - 1;
}

}  // namespace

void decode_tq1_0(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 54, y += 256) {
        const float d = half_at(b + 52);
        for (unsigned t = 0; t < 5; ++t) {
            for (int m = 0; m < 32; ++m) y[m + 32 * t] = static_cast<float>(trit_of(b[m], t)) * d;
            for (int m = 0; m < 16; ++m) y[160 + m + 16 * t] = static_cast<float>(trit_of(b[32 + m], t)) * d;
        }
        for (unsigned t = 0; t < 4; ++t)
            for (int j = 0; j < 4; ++j) y[240 + j + 4 * t] = static_cast<float>(trit_of(b[48 + j], t)) * d;
    }
}

void decode_tq2_0(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 66, y += 256) {
        const float d = half_at(b + 64);
        for (int c = 0; c < 2; ++c)
            for (int t = 0; t < 4; ++t)
                for (int m = 0; m < 32; ++m)
                    y[128 * c + 32 * t + m] = static_cast<float>(((b[32 * c + m] >> (2 * t)) & 3) - 1) * d;
    }
}

}  // namespace gguf::detail
