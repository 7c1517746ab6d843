// IQ4_NL and IQ4_XS: 4-bit indices into a fixed table of 16 non-uniformly spaced int8 levels,
// under an f16 scale. The table is part of the format's definition (the same 16 levels in every
// implementation); it is not a lookup grid of the kind IQ1/IQ2/IQ3 need.
//
//   IQ4_NL (18 B, 32 elements): d@0, qs[16]@2; element j (< 16) = level[low nibble of qs[j]],
//                               j + 16 = level[high nibble]; value = d * level
//   IQ4_XS (136 B, 256):        d@0, scales_h (u16 LE)@2, scales_l[4]@4, qs[128]@8. Eight 32-element
//                               sub-blocks; the 6-bit scale of sub-block k is nibble k%2 of
//                               scales_l[k/2] plus bits 2k..2k+1 of scales_h on top;
//                               value = (d * (scale - 32)) * level, nibbles as in IQ4_NL per sub-block.
#include "dequant_kernels.hpp"

namespace gguf::detail {
namespace {

constexpr std::int8_t kLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

}  // namespace

void decode_iq4_nl(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 18, y += 32) {
        const float d = half_at(b);
        for (int j = 0; j < 16; ++j) {
            y[j] = d * static_cast<float>(kLevels[b[2 + j] & 0x0F]);
            y[j + 16] = d * static_cast<float>(kLevels[b[2 + j] >> 4]);
        }
    }
}

void decode_iq4_xs(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 136) {
        const float d = half_at(b);
        const std::uint16_t scales_h = le16(b + 2);
        const std::uint8_t* scales_l = b + 4;
        const std::uint8_t* qs = b + 8;
        for (int k = 0; k < 8; ++k, qs += 16, y += 32) {
            const int scale = ((scales_l[k / 2] >> (4 * (k % 2))) & 0x0F) | (((scales_h >> (2 * k)) & 3) << 4);
            const float dl = d * static_cast<float>(scale - 32);
            for (int j = 0; j < 16; ++j) {
                y[j] = dl * static_cast<float>(kLevels[qs[j] & 0x0F]);
                y[j + 16] = dl * static_cast<float>(kLevels[qs[j] >> 4]);
            }
        }
    }
}

}  // namespace gguf::detail
