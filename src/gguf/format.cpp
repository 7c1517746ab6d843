// Value type names and sizes from the GGUF specification.
#include "gguf/format.hpp"

#include <array>

namespace gguf {
namespace {

struct ValueTypeRow {
    std::string_view name;
    std::size_t size;
};

constexpr std::array<ValueTypeRow, kValueTypeCount> kValueTypes{{
    {"uint8", 1},
    {"int8", 1},
    {"uint16", 2},
    {"int16", 2},
    {"uint32", 4},
    {"int32", 4},
    {"float32", 4},
    {"bool", 1},
    {"string", 0},
    {"array", 0},
    {"uint64", 8},
    {"int64", 8},
    {"float64", 8},
}};

}  // namespace

std::string_view value_type_name(ValueType type) {
    auto id = static_cast<std::uint32_t>(type);
    return id < kValueTypeCount ? kValueTypes[id].name : std::string_view("invalid");
}

std::optional<ValueType> value_type_from_name(std::string_view name) {
    for (std::uint32_t id = 0; id < kValueTypeCount; ++id) {
        if (kValueTypes[id].name == name) return static_cast<ValueType>(id);
    }
    return std::nullopt;
}

std::size_t value_type_size(ValueType type) {
    auto id = static_cast<std::uint32_t>(type);
    return id < kValueTypeCount ? kValueTypes[id].size : 0;
}

}  // namespace gguf
