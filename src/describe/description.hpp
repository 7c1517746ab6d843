// The neutral description of a GGUF file: what every reader (ours, the reference, gguf-py...) is
// turned into, so that one comparison serves them all. Also the JSON shape of `inspect --json`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/reader.hpp"

namespace gguf::describe {

// Arrays longer than this are rendered by their first kArrayPreview values plus a hash.
inline constexpr std::size_t kArrayPreview = 64;

struct Kv {
    std::string key;           // rendered (see render_string)
    std::string type;          // the specification's type name
    nlohmann::json value;      // rendered (see render_value)
    std::uint64_t digest = 0;  // xxh64 of the key bytes and the canonical encoding of the value
};

struct Tensor {
    std::string name;
    std::string type;  // ggml type name ("F32"), or "type_<id>" for ids outside the table
    std::vector<std::uint64_t> dims;
    std::uint64_t offset = 0;  // relative to the data section, as stored
    std::uint64_t size = 0;    // bytes, from the type table
};

struct Description {
    std::uint32_t version = 0;
    std::uint64_t n_kv = 0;
    std::uint64_t n_tensors = 0;
    std::uint32_t alignment = 0;
    std::uint64_t data_offset = 0;
    std::uint64_t file_size = 0;
    std::vector<Kv> kv;
    std::vector<Tensor> tensors;
};

// Describe a file parsed by our reader.
Description describe(const File& file);

// One KV from a key and a value view: the single renderer every source goes through.
Kv describe_kv(std::string_view key, const ValueView& value);

// A UTF-8 string as is; otherwise each byte outside a valid sequence becomes the four characters
// \xNN and each backslash is doubled, so nothing is dropped.
std::string render_string(std::string_view bytes);

// Scalars as JSON numbers/bools/strings (NaN and infinities as "nan", "inf", "-inf"); arrays as
// {"type", "length", "values"} with "hash" (xxh64 of the canonical element bytes, 16 hex digits)
// added when longer than kArrayPreview, in which case only the first kArrayPreview values appear.
nlohmann::json render_value(const ValueView& value);

// A double as a JSON number, or "nan", "inf", "-inf" (JSON has no such numbers).
nlohmann::json render_float(double v);

// xxh64 (seed 0) as 16 lower-case hex digits.
std::string xxh64_hex(std::span<const std::byte> bytes);

nlohmann::json to_json(const Description& d);

}  // namespace gguf::describe
