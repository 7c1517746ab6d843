// Test support for data hashing: a multi-tensor file built with the Writer, and hashes worked out
// independently of the code under test (XXH3_64bits over a byte range, OpenSSL's one-shot SHA-256).
#pragma once

#include <fmt/format.h>
#include <openssl/evp.h>
#include <xxhash.h>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/build.hpp"

namespace testing_support {

// Five F32 tensors of different sizes, each with its own deterministic contents.
struct DataTensor {
    std::string name;
    std::vector<std::uint64_t> dims;
};
inline const std::vector<DataTensor>& data_tensors() {
    static const std::vector<DataTensor> t{
        {"a", {100}}, {"b", {3, 7}}, {"c", {1000}}, {"d", {64, 64}}, {"e", {5}},
    };
    return t;
}

// The bytes of tensor i: a simple LCG so that every tensor differs.
inline Buffer data_tensor_bytes(std::size_t i) {
    std::uint64_t n = 4;
    for (auto d : data_tensors()[i].dims) n *= d;
    Buffer out(n);
    std::uint32_t x = 12345u + 977u * static_cast<std::uint32_t>(i);
    for (std::size_t k = 0; k < out.size(); ++k) {
        x = x * 1664525u + 1013904223u;
        // the top byte of each little-endian f32 (k % 4 == 3) below 0x7F: never NaN or infinity, which
        // validate --data's row check would report
        out[k] = static_cast<std::byte>(k % 4 == 3 ? (x >> 24) & 0xBF : x >> 24);
    }
    return out;
}

inline Buffer data_file_bytes() {
    gguf::Writer w;
    w.add("general.architecture", gguf::Value::string("test"));
    w.add("general.name", gguf::Value::string("data hashing"));
    for (std::size_t i = 0; i < data_tensors().size(); ++i) {
        const auto& t = data_tensors()[i];
        if (!w.add_tensor(t.name, 0, t.dims, data_tensor_bytes(i)).ok()) throw std::runtime_error("add_tensor");
    }
    return w.to_bytes();
}

inline void write_bytes(const std::filesystem::path& p, const Buffer& b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

inline Buffer read_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    const std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Buffer out(s.size());
    std::memcpy(out.data(), s.data(), s.size());
    return out;
}

inline std::string sha256_hex(const Buffer& b) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(b.data(), b.size(), md, &n, EVP_sha256(), nullptr) != 1) throw std::runtime_error("EVP_Digest");
    std::string s;
    for (unsigned i = 0; i < n; ++i) s += fmt::format("{:02x}", md[i]);
    return s;
}

inline std::uint64_t xxh3_of(const Buffer& b, std::uint64_t offset, std::uint64_t size) {
    return XXH3_64bits(b.data() + offset, size);
}

// Where tensor i's data sits in the file, found by searching for its (unique) contents: a check
// of the offsets the code reports that does not go through the reader.
inline std::uint64_t find_tensor(const Buffer& file, std::size_t i) {
    const auto data = data_tensor_bytes(i);
    auto it = std::search(file.begin(), file.end(), data.begin(), data.end());
    if (it == file.end()) throw std::runtime_error("tensor data not found");
    return static_cast<std::uint64_t>(it - file.begin());
}

}  // namespace testing_support
