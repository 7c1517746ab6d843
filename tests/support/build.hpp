// Test support: build files with the project's Writer and apply named byte edits to them.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/reader.hpp"
#include "gguf/writer.hpp"

namespace testing_support {

using Buffer = std::vector<std::byte>;

inline gguf::Bytes view(const Buffer& b) {
    return {b.data(), b.size()};
}

inline Buffer f32_data(std::size_t n, float start = 0.0f) {
    Buffer out(n * 4);
    for (std::size_t i = 0; i < n; ++i) {
        float v = start + static_cast<float>(i);
        std::memcpy(out.data() + 4 * i, &v, 4);
    }
    return out;
}

// A small valid file: 2 KVs and two F32 tensors of 4 and 6 elements.
inline gguf::Writer two_tensor_writer() {
    gguf::Writer w;
    w.add("general.architecture", gguf::Value::string("test"));
    w.add("test.count", gguf::Value::u32(7));
    (void)w.add_tensor("a", 0, {4}, f32_data(4));
    (void)w.add_tensor("b", 0, {3, 2}, f32_data(6, 10.0f));
    return w;
}

// Named edits.
template <class T>
void put(Buffer& b, std::uint64_t at, T v) {
    std::memcpy(b.data() + at, &v, sizeof v);
}
template <class T>
T get(const Buffer& b, std::uint64_t at) {
    T v;
    std::memcpy(&v, b.data() + at, sizeof v);
    return v;
}

// Parse a buffer that must be valid (fails the test otherwise).
inline gguf::File must_parse(const Buffer& b) {
    auto r = gguf::parse(view(b));
    if (!r) throw std::runtime_error("expected a valid file: " + r.error().message);
    return std::move(r).value();
}

}  // namespace testing_support
