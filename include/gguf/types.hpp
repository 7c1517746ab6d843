// The ggml tensor type table: every id 0..42 of the pinned ggml, plus bitnet.cpp's I2_S.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace gguf {

inline constexpr std::uint32_t kGgmlTypeCount = 43;  // ids 0..42
inline constexpr std::uint32_t kTypeI2S = 36;        // bitnet.cpp's I2_S; upstream: removed IQ4_NL_4_4

// Named ids used by the fixtures and quantizers.
enum class GgmlType : std::uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    I2_S = 36 /* bitnet.cpp */,
    MXFP4 = 39,
    NVFP4 = 40,
    Q1_0 = 41,
    Q2_0 = 42,
};

struct TypeTraits {
    std::uint32_t id;
    std::string_view name;          // upper case, as gguf-py prints it: "F32", "Q8_0", "TQ2_0"
    std::uint32_t block_size;       // elements per block; 0 for removed ids
    std::uint32_t bytes_per_block;  // 0 for removed ids
    bool removed;                   // the id existed once and ggml no longer reads it
};

// The traits of a ggml type id, or nullopt for ids >= 43. Removed ids return traits with
// removed == true (and the id 36 entry names the upstream IQ4_NL_4_4).
std::optional<TypeTraits> ggml_type(std::uint32_t id);

// The I2_S extension as bitnet.cpp defines it: 2 bits per weight, 4 weights a byte, then a
// 32-byte tail holding the per-tensor scale.
TypeTraits i2_s_traits();

// The type with this name ("Q8_0", case-insensitive), including "I2_S".
std::optional<std::uint32_t> ggml_type_from_name(std::string_view name);

// All 43 table rows, in id order.
std::span<const TypeTraits> ggml_type_table();

// Byte size of a tensor of `traits` with these dims, or nullopt on overflow or when dims[0] is
// not a multiple of the block size. I2_S is sized as ceil(n/4) + 32.
std::optional<std::uint64_t> tensor_nbytes(const TypeTraits& traits, std::span<const std::uint64_t> dims);

// Element count of dims, or nullopt on overflow.
std::optional<std::uint64_t> element_count(std::span<const std::uint64_t> dims);

}  // namespace gguf
