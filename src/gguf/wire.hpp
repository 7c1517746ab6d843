// Low-level encoding helpers shared by the reader, the views and the writer (internal).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "gguf/format.hpp"
#include "gguf/value.hpp"

namespace gguf::wire {

template <class T>
T bswap(T v) {
    static_assert(std::is_unsigned_v<T>);
    if constexpr (sizeof(T) == 1)
        return v;
    else if constexpr (sizeof(T) == 2)
        return static_cast<T>(__builtin_bswap16(v));
    else if constexpr (sizeof(T) == 4)
        return static_cast<T>(__builtin_bswap32(v));
    else
        return static_cast<T>(__builtin_bswap64(v));
}

// Load an unsigned integer stored in file order (little-endian, or big-endian when swapped).
// The host is little-endian (checked in reader.cpp).
template <class T>
T load(const std::byte* p, bool swapped) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return swapped ? bswap(v) : v;
}

template <class T>
void append(std::vector<std::byte>& out, T v, bool big_endian) {
    static_assert(std::is_unsigned_v<T>);
    if (big_endian) v = bswap(v);
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
}

// Load a fixed-size scalar of `type` as raw bits, zero-extended.
inline std::uint64_t load_bits(ValueType type, const std::byte* p, bool swapped) {
    switch (value_type_size(type)) {
        case 1:
            return load<std::uint8_t>(p, swapped);
        case 2:
            return load<std::uint16_t>(p, swapped);
        case 4:
            return load<std::uint32_t>(p, swapped);
        case 8:
            return load<std::uint64_t>(p, swapped);
        default:
            return 0;
    }
}

// Size in bytes of an already-validated value payload of `type` starting at `p` (at most `avail`
// bytes). Used to step over strings and nested arrays; the reader has validated the bytes.
std::size_t payload_size(ValueType type, const std::byte* p, std::size_t avail, bool swapped);

}  // namespace gguf::wire
