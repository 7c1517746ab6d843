// The row check (include/gguf/data/row_check.hpp). Field offsets within a block are those of the
// block structs in ggml-common.h, as the dequantizers use them (dequant_*.cpp).
#include "gguf/data/row_check.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include "dequant_kernels.hpp"
#include "gguf/data/quantize.hpp"
#include "gguf/types.hpp"

namespace gguf {
namespace {

using detail::le16;
using detail::le32;

bool half_not_finite(std::uint16_t h) {
    return (h & 0x7C00u) == 0x7C00u;
}

// Byte offsets of a quantized type's f16 scale and (when it has one) second f16 field.
struct ScaleFields {
    int d = -1;
    int m = -1;
    std::string_view m_name = "m";
};

std::optional<ScaleFields> scale_fields(std::uint32_t id) {
    switch (static_cast<GgmlType>(id)) {
        case GgmlType::Q4_0:
        case GgmlType::Q5_0:
        case GgmlType::Q8_0:
        case GgmlType::Q1_0:
        case GgmlType::Q2_0:
        case GgmlType::IQ2_XXS:
        case GgmlType::IQ2_XS:
        case GgmlType::IQ2_S:
        case GgmlType::IQ3_XXS:
        case GgmlType::IQ3_S:
        case GgmlType::IQ1_S:
        case GgmlType::IQ4_NL:
        case GgmlType::IQ4_XS:
            return ScaleFields{0};
        case GgmlType::Q4_1:
        case GgmlType::Q5_1:
            return ScaleFields{0, 2};
        case GgmlType::Q8_1:
            return ScaleFields{0, 2, "s"};
        case GgmlType::Q2_K:
            return ScaleFields{80, 82, "dmin"};
        case GgmlType::Q4_K:
        case GgmlType::Q5_K:
            return ScaleFields{0, 2, "dmin"};
        case GgmlType::Q3_K:
            return ScaleFields{108};
        case GgmlType::Q6_K:
            return ScaleFields{208};
        case GgmlType::TQ1_0:
            return ScaleFields{52};
        case GgmlType::TQ2_0:
            return ScaleFields{64};
        default:
            return std::nullopt;
    }
}

// IQ1_M keeps its f16 scale in the top nibbles of the four u16 of its scales field (byte 48).
std::uint16_t iq1_m_scale(const std::uint8_t* b) {
    const std::uint16_t s0 = le16(b + 48), s1 = le16(b + 50), s2 = le16(b + 52), s3 = le16(b + 54);
    return static_cast<std::uint16_t>((s0 >> 12) | ((s1 >> 8) & 0x00F0) | ((s2 >> 4) & 0x0F00) | (s3 & 0xF000));
}

BlockFinding half_finding(std::uint64_t block, std::string_view field, std::uint16_t h) {
    return {block, 0, field, static_cast<double>(fp16_to_fp32(h))};
}

}  // namespace

bool row_check_applies(std::uint32_t id) {
    switch (static_cast<GgmlType>(id)) {
        case GgmlType::F32:
        case GgmlType::F16:
        case GgmlType::BF16:
        case GgmlType::F64:
        case GgmlType::Q8_K:
        case GgmlType::IQ1_M:
        case GgmlType::MXFP4:
            return true;
        default:
            return scale_fields(id).has_value();
    }
}

std::optional<BlockFinding> check_blocks(std::uint32_t id, const std::byte* blocks, std::size_t n) {
    const auto* b = reinterpret_cast<const std::uint8_t*>(blocks);
    switch (static_cast<GgmlType>(id)) {
        case GgmlType::F32:
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint32_t v = le32(b + 4 * i);
                if ((v & 0x7F800000u) == 0x7F800000u) return BlockFinding{i, 0, "value", detail::f32_bits(v)};
            }
            return std::nullopt;
        case GgmlType::F16:
            for (std::size_t i = 0; i < n; ++i) {
                if (half_not_finite(le16(b + 2 * i))) return half_finding(i, "value", le16(b + 2 * i));
            }
            return std::nullopt;
        case GgmlType::BF16:
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint16_t v = le16(b + 2 * i);
                if ((v & 0x7F80u) == 0x7F80u)
                    return BlockFinding{i, 0, "value", detail::f32_bits(std::uint32_t{v} << 16)};
            }
            return std::nullopt;
        case GgmlType::F64:
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint64_t v = le32(b + 8 * i) | (std::uint64_t{le32(b + 8 * i + 4)} << 32);
                if ((v >> 52 & 0x7FF) == 0x7FF) {
                    double d;
                    std::memcpy(&d, &v, sizeof d);
                    return BlockFinding{i, 0, "value", d};
                }
            }
            return std::nullopt;
        case GgmlType::Q8_K:
            for (std::size_t i = 0; i < n; ++i) {
                const float d = detail::f32_bits(le32(b + 292 * i));
                if (!std::isfinite(d)) return BlockFinding{i, 0, "d", d};
            }
            return std::nullopt;
        case GgmlType::IQ1_M:
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint16_t s = iq1_m_scale(b + 56 * i);
                if (half_not_finite(s)) return half_finding(i, "scale", s);
            }
            return std::nullopt;
        case GgmlType::MXFP4:
            for (std::size_t i = 0; i < n; ++i) {
                if (b[17 * i] == 0xFF) return BlockFinding{i, 0, "e", std::numeric_limits<double>::infinity()};
            }
            return std::nullopt;
        default:
            break;
    }
    const auto fields = scale_fields(id);
    if (!fields) return std::nullopt;
    const std::size_t bytes = ggml_type(id)->bytes_per_block;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t* p = b + bytes * i;
        if (half_not_finite(le16(p + fields->d))) return half_finding(i, "d", le16(p + fields->d));
        if (fields->m >= 0 && half_not_finite(le16(p + fields->m)))
            return half_finding(i, fields->m_name, le16(p + fields->m));
    }
    return std::nullopt;
}

}  // namespace gguf
