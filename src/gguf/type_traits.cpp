// The ggml type table, written from the block structs in ggml-common.h of the pinned ggml
// (0.23.0). Bytes per block = the block struct's size; removed ids keep their place with size 0.
#include <algorithm>
#include <array>
#include <cctype>

#include "gguf/types.hpp"

namespace gguf {
namespace {

constexpr std::uint32_t kQK_K = 256;  // super-block size of the k-quants and i-quants
constexpr std::uint32_t kHalf = 2;    // ggml_half

constexpr std::array<TypeTraits, kGgmlTypeCount> kTable{{
    {0, "F32", 1, 4, false},
    {1, "F16", 1, 2, false},
    {2, "Q4_0", 32, kHalf + 16, false},      // d, qs[16]
    {3, "Q4_1", 32, 2 * kHalf + 16, false},  // d, m, qs[16]
    {4, "Q4_2", 0, 0, true},
    {5, "Q4_3", 0, 0, true},
    {6, "Q5_0", 32, kHalf + 4 + 16, false},      // d, qh[4], qs[16]
    {7, "Q5_1", 32, 2 * kHalf + 4 + 16, false},  // d, m, qh[4], qs[16]
    {8, "Q8_0", 32, kHalf + 32, false},          // d, qs[32]
    {9, "Q8_1", 32, 2 * kHalf + 32, false},      // d, s, qs[32]
    {10, "Q2_K", kQK_K, kQK_K / 16 + kQK_K / 4 + 2 * kHalf, false},
    {11, "Q3_K", kQK_K, kQK_K / 8 + kQK_K / 4 + 12 + kHalf, false},
    {12, "Q4_K", kQK_K, 2 * kHalf + 12 + kQK_K / 2, false},
    {13, "Q5_K", kQK_K, 2 * kHalf + 12 + kQK_K / 8 + kQK_K / 2, false},
    {14, "Q6_K", kQK_K, kQK_K / 2 + kQK_K / 4 + kQK_K / 16 + kHalf, false},
    {15, "Q8_K", kQK_K, 4 + kQK_K + kQK_K / 16 * 2, false},  // float d, qs, int16 bsums
    {16, "IQ2_XXS", kQK_K, kHalf + kQK_K / 8 * 2, false},
    {17, "IQ2_XS", kQK_K, kHalf + kQK_K / 8 * 2 + kQK_K / 32, false},
    {18, "IQ3_XXS", kQK_K, kHalf + 3 * (kQK_K / 8), false},
    {19, "IQ1_S", kQK_K, kHalf + kQK_K / 8 + kQK_K / 16, false},
    {20, "IQ4_NL", 32, kHalf + 16, false},
    {21, "IQ3_S", kQK_K, kHalf + 13 * (kQK_K / 32) + kQK_K / 64, false},
    {22, "IQ2_S", kQK_K, kHalf + kQK_K / 4 + kQK_K / 16, false},
    {23, "IQ4_XS", kQK_K, kHalf + 2 + kQK_K / 64 + kQK_K / 2, false},
    {24, "I8", 1, 1, false},
    {25, "I16", 1, 2, false},
    {26, "I32", 1, 4, false},
    {27, "I64", 1, 8, false},
    {28, "F64", 1, 8, false},
    {29, "IQ1_M", kQK_K, kQK_K / 8 + kQK_K / 16 + kQK_K / 32, false},
    {30, "BF16", 1, 2, false},
    {31, "Q4_0_4_4", 0, 0, true},
    {32, "Q4_0_4_8", 0, 0, true},
    {33, "Q4_0_8_8", 0, 0, true},
    {34, "TQ1_0", kQK_K, (kQK_K - 4 * kQK_K / 64) / 5 + kQK_K / 64 + kHalf, false},  // qs, qh, d
    {35, "TQ2_0", kQK_K, kQK_K / 4 + kHalf, false},                                  // qs, d
    {36, "IQ4_NL_4_4", 0, 0, true},
    {37, "IQ4_NL_4_8", 0, 0, true},
    {38, "IQ4_NL_8_8", 0, 0, true},
    {39, "MXFP4", 32, 1 + 16, false},           // e8m0 scale, qs[16]
    {40, "NVFP4", 64, 4 + 32, false},           // 4 e4m3 sub-block scales, qs[32]
    {41, "Q1_0", 128, kHalf + 128 / 8, false},  // d, qs[16]
    {42, "Q2_0", 64, kHalf + 64 / 4, false},    // d, qs[16]
}};

constexpr TypeTraits kI2S{kTypeI2S, "I2_S", 1, 1, false};

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
    });
}

}  // namespace

std::optional<TypeTraits> ggml_type(std::uint32_t id) {
    if (id >= kGgmlTypeCount) return std::nullopt;
    return kTable[id];
}

TypeTraits i2_s_traits() {
    return kI2S;
}

std::optional<std::uint32_t> ggml_type_from_name(std::string_view name) {
    if (iequals(name, kI2S.name)) return kI2S.id;
    for (const auto& row : kTable) {
        if (!row.removed && iequals(name, row.name)) return row.id;
    }
    return std::nullopt;
}

std::span<const TypeTraits> ggml_type_table() {
    return kTable;
}

std::optional<std::uint64_t> element_count(std::span<const std::uint64_t> dims) {
    std::uint64_t n = 1;
    for (auto d : dims) {
        if (__builtin_mul_overflow(n, d, &n)) return std::nullopt;
    }
    return n;
}

std::optional<std::uint64_t> tensor_nbytes(const TypeTraits& traits, std::span<const std::uint64_t> dims) {
    auto n = element_count(dims);
    if (!n) return std::nullopt;
    if (traits.id == kTypeI2S && traits.name == kI2S.name) {
        return *n / 4 + (*n % 4 != 0) + 32;  // packed 2-bit weights, then the 32-byte scale tail
    }
    if (traits.block_size == 0) return std::nullopt;
    std::uint64_t ne0 = dims.empty() ? 1 : dims[0];
    if (ne0 % traits.block_size != 0) return std::nullopt;
    std::uint64_t bytes = 0;
    if (__builtin_mul_overflow(*n / traits.block_size, std::uint64_t{traits.bytes_per_block}, &bytes)) {
        return std::nullopt;
    }
    return bytes;
}

}  // namespace gguf
