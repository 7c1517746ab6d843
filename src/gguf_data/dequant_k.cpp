// The k-quants: 256-element super-blocks with 16 or 8 sub-block scales, themselves quantized
// under f16 super-block scales. Layouts (ggml-common.h), byte offsets within a block:
//
//   Q2_K (84 B):  scales[16]@0 (low nibble: scale, high nibble: min, of a 16-element sub-block),
//                 qs[64]@16 (2 bits), d@80, dmin@82.
//                 value = (d * scale) * q - (dmin * min)
//   Q3_K (110 B): hmask[32]@0, qs[64]@32 (2 low bits), scales[12]@96 (sixteen 6-bit scales), d@108.
//                 value = (d * (scale - 32)) * (q - (high bit set ? 0 : 4))
//   Q4_K (144 B): d@0, dmin@2, scales[12]@4 (eight 6-bit scales and eight 6-bit mins), qs[128]@16.
//                 value = (d * scale) * q - (dmin * min)
//   Q5_K (176 B): d@0, dmin@2, scales[12]@4, qh[32]@16, qs[128]@48; q = low nibble + 16 * high bit.
//   Q6_K (210 B): ql[128]@0, qh[64]@128, int8 scales[16]@192, d@208.
//                 value = (d * scale) * (6-bit q - 32)
//   Q8_K (292 B): f32 d@0, int8 qs[256]@4, int16 bsums[16]@260 (unused here).  value = d * q
//
// Element order within a super-block is ggml's: the 2-bit types (Q2_K, Q3_K, and Q6_K's pairs)
// take the 256 elements as two halves of 128, each half a run of 32 bytes read four times at bit
// shifts 0, 2, 4, 6; the 4/5-bit types take four chunks of 64, low nibbles then high nibbles of 32
// bytes.
#include "dequant_kernels.hpp"

namespace gguf::detail {
namespace {

// Scale and min j (0..7) of the 12-byte Q4_K/Q5_K scales field: j < 4 are the low six bits of
// bytes j and j + 4; j >= 4 take their low four bits from byte j + 4 (low / high nibble) and their
// top two bits from the spare top bits of bytes j - 4 (scale) and j (min).
void scale_min_k4(int j, const std::uint8_t* q, int& scale, int& min) {
    if (j < 4) {
        scale = q[j] & 63;
        min = q[j + 4] & 63;
    } else {
        scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// Scale i (0..15) of the 12-byte Q3_K scales field, 0..63: the low four bits are the low nibble of
// byte i (i < 8) or the high nibble of byte i - 8; the top two bits are bits 2*(i/4).. of byte 8 + i%4.
int scale_q3_k(int i, const std::uint8_t* s) {
    const int low = i < 8 ? (s[i] & 0x0F) : (s[i - 8] >> 4);
    const int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    return low | (high << 4);
}

}  // namespace

void decode_q2_k(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 84) {
        const std::uint8_t* scales = b;
        const float d = half_at(b + 80);
        const float dmin = half_at(b + 82);
        int is = 0;
        for (int half = 0; half < 2; ++half) {
            const std::uint8_t* q = b + 16 + 32 * half;
            for (int shift = 0; shift < 8; shift += 2) {
                for (int part = 0; part < 2; ++part) {
                    const std::uint8_t sc = scales[is++];
                    const float dl = d * static_cast<float>(sc & 0x0F);
                    const float ml = dmin * static_cast<float>(sc >> 4);
                    for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[16 * part + l] >> shift) & 3) - ml;
                }
            }
        }
    }
}

void decode_q3_k(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 110) {
        const std::uint8_t* hmask = b;
        const std::uint8_t* scales = b + 96;
        const float d = half_at(b + 108);
        int is = 0;
        for (int half = 0; half < 2; ++half) {
            const std::uint8_t* q = b + 32 + 32 * half;
            for (int j = 0; j < 4; ++j) {
                const int shift = 2 * j;
                const std::uint8_t bit = static_cast<std::uint8_t>(1u << (4 * half + j));
                for (int part = 0; part < 2; ++part) {
                    const float dl = d * static_cast<float>(scale_q3_k(is++, scales) - 32);
                    for (int l = 16 * part; l < 16 * part + 16; ++l) {
                        const int v = ((q[l] >> shift) & 3) - ((hmask[l] & bit) ? 0 : 4);
                        *y++ = dl * static_cast<float>(v);
                    }
                }
            }
        }
    }
}

void decode_q4_k(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 144) {
        const float d = half_at(b);
        const float dmin = half_at(b + 2);
        const std::uint8_t* scales = b + 4;
        const std::uint8_t* q = b + 16;
        for (int chunk = 0; chunk < 4; ++chunk, q += 32) {
            int sc = 0, m = 0;
            scale_min_k4(2 * chunk, scales, sc, m);
            const float d1 = d * static_cast<float>(sc);
            const float m1 = dmin * static_cast<float>(m);
            scale_min_k4(2 * chunk + 1, scales, sc, m);
            const float d2 = d * static_cast<float>(sc);
            const float m2 = dmin * static_cast<float>(m);
            for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0x0F) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
        }
    }
}

void decode_q5_k(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 176) {
        const float d = half_at(b);
        const float dmin = half_at(b + 2);
        const std::uint8_t* scales = b + 4;
        const std::uint8_t* qh = b + 16;
        const std::uint8_t* ql = b + 48;
        for (int chunk = 0; chunk < 4; ++chunk, ql += 32) {
            const auto lo_bit = static_cast<std::uint8_t>(1u << (2 * chunk));
            const auto hi_bit = static_cast<std::uint8_t>(2u << (2 * chunk));
            int sc = 0, m = 0;
            scale_min_k4(2 * chunk, scales, sc, m);
            const float d1 = d * static_cast<float>(sc);
            const float m1 = dmin * static_cast<float>(m);
            scale_min_k4(2 * chunk + 1, scales, sc, m);
            const float d2 = d * static_cast<float>(sc);
            const float m2 = dmin * static_cast<float>(m);
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * static_cast<float>((ql[l] & 0x0F) + ((qh[l] & lo_bit) ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & hi_bit) ? 16 : 0)) - m2;
        }
    }
}

void decode_q6_k(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 210) {
        const float d = half_at(b + 208);
        for (int half = 0; half < 2; ++half, y += 128) {
            const std::uint8_t* ql = b + 64 * half;
            const std::uint8_t* qh = b + 128 + 32 * half;
            const auto* sc = reinterpret_cast<const std::int8_t*>(b + 192 + 8 * half);
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
                y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
                y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
                y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
            }
        }
    }
}

void decode_q8_k(const std::uint8_t* b, std::size_t n, float* y) {
    for (std::size_t i = 0; i < n; ++i, b += 292, y += 256) {
        const float d = f32_bits(le32(b));
        for (int j = 0; j < 256; ++j) y[j] = d * static_cast<float>(static_cast<std::int8_t>(b[4 + j]));
    }
}

}  // namespace gguf::detail
