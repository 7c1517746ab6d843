// GGUF format constants and the value type ids of the specification.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace gguf {

inline constexpr std::uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr std::uint32_t kDefaultAlignment = 32;
inline constexpr std::size_t kHeaderSize = 24;  // magic, version, n_tensors, n_kv (v2/v3)
inline constexpr std::uint32_t kMaxDims = 16;   // our hard limit; llama.cpp's is 4
inline constexpr std::uint32_t kGgmlMaxDims = 4;
inline constexpr std::size_t kMaxTensorName = 64;    // the specification's limit
inline constexpr std::uint32_t kMaxArrayDepth = 32;  // arrays of arrays nested at most this deep

enum class ValueType : std::uint32_t {
    uint8 = 0,
    int8 = 1,
    uint16 = 2,
    int16 = 3,
    uint32 = 4,
    int32 = 5,
    float32 = 6,
    boolean = 7,
    string = 8,
    array = 9,
    uint64 = 10,
    int64 = 11,
    float64 = 12,
};
inline constexpr std::uint32_t kValueTypeCount = 13;

// The specification's name of a value type ("uint8" ... "float64", "bool", "string", "array").
std::string_view value_type_name(ValueType type);
std::optional<ValueType> value_type_from_name(std::string_view name);

// Encoded size of a fixed-size value type, 0 for string and array.
std::size_t value_type_size(ValueType type);

inline bool is_valid_value_type(std::uint32_t id) {
    return id < kValueTypeCount;
}

}  // namespace gguf
