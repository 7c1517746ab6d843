// Quantizers, written from the block layouts of ggml-common.h (pinned ggml 0.23.0)
// and the rounding rules of ggml's reference quantizers:
//
//   Q8_0  (32 elements, 34 bytes):  f16 d, int8 qs[32].  d = amax / 127, q = round_half_away(x / d)
//                                   computed as x * (1/d).
//   TQ2_0 (256 elements, 66 bytes): u8 qs[64], f16 d.  d = amax; trit t = round_half_away(x * (1/d))
//                                   in {-1,0,1}; byte 32*c + m holds t+1 of elements 128*c + 32*n + m
//                                   in bits 2n..2n+1 (n = 0..3).
//   TQ1_0 (256 elements, 54 bytes): u8 qs[48], u8 qh[4], f16 d.  Same d and trits. Five trits per
//                                   byte, first trit most significant, stored as ceil(v * 256 / 243)
//                                   so that trit n can be read back as ((byte * 3^n mod 256) * 3) >> 8:
//                                   qs[m] (m < 32) holds elements m + 32n, qs[32 + m] (m < 16) holds
//                                   160 + m + 16n, qh[j] holds 240 + j + 4n (n < 4, then a zero trit).
//
// The scale is rounded to f16 for storage, but the reciprocal used to quantize is taken from the f32
// scale, as ggml does; this is what makes the bytes identical to ggml's.
#include <fmt/format.h>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>

#include "dequant_kernels.hpp"
#include "gguf/data/quantize.hpp"
#include "i2_s.hpp"

namespace gguf {
namespace {

constexpr std::size_t kQ8Block = 32;
constexpr std::size_t kQ8Bytes = 2 + 32;
constexpr std::size_t kTqBlock = 256;
constexpr std::size_t kTq1Bytes = 48 + 4 + 2;
constexpr std::size_t kTq2Bytes = 64 + 2;

void put_u16(std::byte* out, std::uint16_t v) {
    out[0] = static_cast<std::byte>(v & 0xFF);
    out[1] = static_cast<std::byte>(v >> 8);
}

// The largest magnitude of a block. The comparison is written `best > v ? best : v`, as ggml's MAX,
// so that even a NaN input leads to the same scale as ggml's.
float block_amax(std::span<const float> block) {
    float best = 0.0f;
    for (float x : block) {
        const float v = std::fabs(x);
        best = best > v ? best : v;
    }
    return best;
}

// Round half away from zero to a trit, then shift it to 0..2. Non-finite or out-of-range products
// (only possible for non-finite input or a subnormal scale) are clamped rather than left undefined.
unsigned trit(float x, float inv_scale) {
    const float v = x * inv_scale;
    if (!(std::fabs(v) < 2.0f)) return 1;
    const long r = std::lround(v);
    return static_cast<unsigned>(std::clamp(r, -1L, 1L) + 1);
}

// Pack up to five trits (0..2, most significant first) into one TQ1_0 byte: ceil(v * 256 / 243).
std::byte pack_trits(unsigned value) {
    return static_cast<std::byte>((value * 256 + 242) / 243);
}

void quantize_q8_0_block(std::span<const float> x, std::byte* out) {
    const float d = block_amax(x) / 127.0f;
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    put_u16(out, fp32_to_fp16(d));
    for (std::size_t j = 0; j < kQ8Block; ++j) {
        const float q = std::round(x[j] * inv);  // |q| <= 127 for finite input
        const float clamped = std::isnan(q) ? 0.0f : std::clamp(q, -128.0f, 127.0f);
        out[2 + j] = static_cast<std::byte>(static_cast<std::int8_t>(clamped));
    }
}

void quantize_tq2_0_block(std::span<const float> x, std::byte* out) {
    const float d = block_amax(x);
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    for (std::size_t c = 0; c < 2; ++c) {
        for (std::size_t m = 0; m < 32; ++m) {
            unsigned byte = 0;
            for (unsigned n = 0; n < 4; ++n) byte |= trit(x[128 * c + 32 * n + m], inv) << (2 * n);
            out[32 * c + m] = static_cast<std::byte>(byte);
        }
    }
    put_u16(out + 64, fp32_to_fp16(d));
}

void quantize_tq1_0_block(std::span<const float> x, std::byte* out) {
    const float d = block_amax(x);
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    for (std::size_t m = 0; m < 32; ++m) {  // qs[0..32): elements m + 32n
        unsigned v = 0;
        for (unsigned n = 0; n < 5; ++n) v = v * 3 + trit(x[m + 32 * n], inv);
        out[m] = pack_trits(v);
    }
    for (std::size_t m = 0; m < 16; ++m) {  // qs[32..48): elements 160 + m + 16n
        unsigned v = 0;
        for (unsigned n = 0; n < 5; ++n) v = v * 3 + trit(x[160 + m + 16 * n], inv);
        out[32 + m] = pack_trits(v);
    }
    for (std::size_t j = 0; j < 4; ++j) {  // qh[0..4): elements 240 + j + 4n, then a zero trit
        unsigned v = 0;
        for (unsigned n = 0; n < 4; ++n) v = v * 3 + trit(x[240 + j + 4 * n], inv);
        out[48 + j] = pack_trits(v * 3);
    }
    put_u16(out + 52, fp32_to_fp16(d));
}

struct Layout {
    std::size_t block;
    std::size_t bytes;
};

std::optional<Layout> layout_of(GgmlType type) {
    switch (type) {
        case GgmlType::F32:
            return Layout{1, 4};
        case GgmlType::F16:
            return Layout{1, 2};
        case GgmlType::Q8_0:
            return Layout{kQ8Block, kQ8Bytes};
        case GgmlType::TQ1_0:
            return Layout{kTqBlock, kTq1Bytes};
        case GgmlType::TQ2_0:
            return Layout{kTqBlock, kTq2Bytes};
        default:
            return std::nullopt;
    }
}

std::string type_label(GgmlType type) {
    const auto traits = ggml_type(static_cast<std::uint32_t>(type));
    return traits ? std::string(traits->name) : fmt::format("type {}", static_cast<std::uint32_t>(type));
}

Error unsupported(GgmlType type) {
    return Error{Code::invalid_tensor_type, 0,
                 fmt::format("no quantizer for {}: supported are F32, F16, Q8_0, TQ1_0, TQ2_0", type_label(type))};
}

}  // namespace

std::uint16_t fp32_to_fp16(float value) {
    const std::uint32_t b = std::bit_cast<std::uint32_t>(value);
    const auto sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
    const std::uint32_t mag = b & 0x7FFFFFFFu;
    if (mag > 0x7F800000u) return sign | 0x7E00u;          // NaN
    if (mag >= 0x477FF000u) return sign | 0x7C00u;         // >= 65520 rounds to infinity
    if (mag >= 0x38800000u) {                              // >= 2^-14: a normal half
        const std::uint32_t rebased = mag - (112u << 23);  // exponent bias 127 -> 15
        std::uint32_t h = rebased >> 13;
        const std::uint32_t rest = rebased & 0x1FFFu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carries into the exponent are right
        return static_cast<std::uint16_t>(sign | h);
    }
    // A half subnormal (or zero): the value in units of 2^-24, rounded to nearest even.
    const std::uint32_t exponent = mag >> 23;
    if (exponent < 102) return sign;  // below 2^-25: rounds to zero
    const std::uint32_t mantissa = (mag & 0x7FFFFFu) | 0x800000u;
    const std::uint32_t shift = 126 - exponent;  // 14..24
    std::uint32_t h = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1);
    const std::uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1u))) ++h;
    return static_cast<std::uint16_t>(sign | h);
}

float fp16_to_fp32(std::uint16_t bits) {
    return detail::widen_half(bits);
}

bool can_quantize(GgmlType type) {
    return type == GgmlType::I2_S || layout_of(type).has_value();
}

Result<std::vector<std::byte>> quantize(GgmlType type, std::span<const float> values, std::uint64_t row_size) {
    if (type == GgmlType::I2_S) return detail::quantize_i2_s(values, row_size);
    const auto layout = layout_of(type);
    if (!layout) return unsupported(type);
    if (row_size == 0 || row_size % layout->block != 0) {
        return Error{Code::shape_not_block_aligned, 0,
                     fmt::format("row size {} is not a positive multiple of the {} block size {}", row_size,
                                 type_label(type), layout->block)};
    }
    if (values.size() % row_size != 0) {
        return Error{Code::shape_not_block_aligned, 0,
                     fmt::format("{} values do not make whole rows of {}", values.size(), row_size)};
    }
    const std::size_t n_blocks = values.size() / layout->block;
    std::vector<std::byte> out(n_blocks * layout->bytes);
    for (std::size_t i = 0; i < n_blocks; ++i) {
        const auto block = values.subspan(i * layout->block, layout->block);
        std::byte* dst = out.data() + i * layout->bytes;
        switch (type) {
            case GgmlType::F32: {
                const std::uint32_t b = std::bit_cast<std::uint32_t>(block[0]);
                for (int k = 0; k < 4; ++k) dst[k] = static_cast<std::byte>((b >> (8 * k)) & 0xFF);
                break;
            }
            case GgmlType::F16:
                put_u16(dst, fp32_to_fp16(block[0]));
                break;
            case GgmlType::Q8_0:
                quantize_q8_0_block(block, dst);
                break;
            case GgmlType::TQ1_0:
                quantize_tq1_0_block(block, dst);
                break;
            case GgmlType::TQ2_0:
                quantize_tq2_0_block(block, dst);
                break;
            default:
                return unsupported(type);
        }
    }
    return out;
}

}  // namespace gguf
