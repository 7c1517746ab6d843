// Comparing two GGUF files: header, key-values, tensor table, and the data of every tensor both hold
// (byte equality by XXH3-64; for tensors of the same shape, the values after dequantization to f32).
//
// Its own layer, above the core (gguf), the data layer (hashing, dequantizers) and the neutral
// description (the renderer `inspect` uses), and below the CLI: it compares two files, not a file
// against a reference reader, so it is no part of crossval's flow.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gguf/data/hash.hpp"
#include "gguf/reader.hpp"

namespace gguf::diff {

struct Options {
    // Elements of each file dequantized at a time (rounded to whole blocks of both types): the memory
    // the value comparison uses is about 8 bytes per element on top of the raw bytes, whatever the
    // tensor's size.
    std::size_t chunk_elements = std::size_t{1} << 20;
    bool values = true;  // compare dequantized values of tensors whose data differ
    HashOptions hash{};  // SHA-256 of each file and XXH3-64 of each tensor
};

// What one file's header says (and its SHA-256).
struct Header {
    std::string file;  // the path as given
    std::uint32_t version = 0;
    bool big_endian = false;
    std::uint64_t n_kv = 0;
    std::uint64_t n_tensors = 0;
    std::uint32_t alignment = 0;
    std::uint64_t data_offset = 0;
    std::uint64_t file_size = 0;
    std::string sha256;  // lowercase hex of the whole file
};

// One header field that differs.
struct HeaderChange {
    std::string field;  // "version", "byte_order", "n_kv", "n_tensors", "alignment", "data_offset", "file_size"
    nlohmann::json a, b;
};

// A key-value as `inspect` renders it.
struct KvEntry {
    std::string key;       // rendered (describe::render_string)
    std::string type;      // the specification's type name
    nlohmann::json value;  // rendered (describe::render_value)
};

struct KvChange {
    std::string key;
    KvEntry a, b;
};

// A tensor info as `inspect` renders it.
struct TensorEntry {
    std::string name;  // rendered
    std::string type;  // ggml type name
    std::vector<std::uint64_t> dims;
    std::uint64_t offset = 0;  // relative to the data section, as stored
    std::uint64_t size = 0;    // bytes
};

struct TensorChange {
    std::string name;
    std::vector<std::string> fields;  // which of "type", "dims", "offset", "size" differ
    TensorEntry a, b;
};

// The dequantized values of one tensor in both files, file A taken as the reference.
struct Values {
    std::uint64_t elements = 0;
    std::uint64_t differing = 0;                    // elements whose values are not equal (NaN equals NaN)
    std::optional<std::uint64_t> first_difference;  // flat index of the first one
    double max_abs = 0;                             // largest |b - a| over elements finite on both sides
    std::uint64_t max_abs_index = 0;                // its flat row-major index (dim 0 fastest)
    std::vector<std::uint64_t> max_abs_coords;      // the same index per dimension, dim 0 first
    float max_abs_a = 0, max_abs_b = 0;             // the two values there
    double nmse = 0;                          // sum (b - a)^2 / sum a^2 over finite pairs (inf if a is all 0 and b not)
    std::uint64_t non_finite_mismatches = 0;  // elements where one side is NaN/inf and the other differs
};

// The data of a tensor both files hold.
struct TensorData {
    std::string name;  // rendered
    std::uint64_t xxh3_a = 0, xxh3_b = 0;
    std::uint64_t size_a = 0, size_b = 0;
    bool bytes_equal = false;      // same size and same XXH3-64
    std::optional<Values> values;  // compared when the bytes or the types differ and the shapes agree
    std::string values_skipped;    // why they were not, when the data differ (empty otherwise)
};

struct Diff {
    Header a, b;
    std::vector<HeaderChange> header;
    std::vector<KvEntry> kv_added;     // in B only, B's order
    std::vector<KvEntry> kv_removed;   // in A only, A's order
    std::vector<KvChange> kv_changed;  // A's order
    std::vector<TensorEntry> tensors_added, tensors_removed;
    std::vector<TensorChange> tensors_changed;
    std::vector<TensorData> data;  // every tensor both hold, A's order

    // True when nothing above differs (KV and tensor order, and padding bytes, are not compared).
    bool identical() const;
    // The tensors whose bytes differ.
    std::size_t data_differing() const;
};

// A file that could not be read to the end: which one, and the error.
struct DiffError {
    char file = 'A';  // 'A' or 'B'
    Error error;
};

// Compare `fa` (parsed from `path_a`) with `fb` (from `path_b`). The tensor data is read with pread
// in bounded chunks, never through the mapping and never whole.
// Errors: io_error when a file cannot be read or changed (shrank) while being read.
Result<Diff, DiffError> diff_files(const std::filesystem::path& path_a, const File& fa,
                                   const std::filesystem::path& path_b, const File& fb, const Options& options = {});

// The values of one tensor of each file, streamed `options.chunk_elements` at a time. Both must have
// the same dims. Errors: io_error (DiffError::file says which); or the dequantizer's error for a type it does not
// handle (the caller reports it as the reason the values were skipped).
Result<Values, DiffError> compare_values(const std::filesystem::path& path_a, const File& fa, const TensorInfo& ta,
                                         const std::filesystem::path& path_b, const File& fb, const TensorInfo& tb,
                                         const Options& options = {});

// The JSON document of `diff --json` (docs/diff.md).
nlohmann::json to_json(const Diff& d);

// The text report: every line free of control characters from the files (keys, values, names, paths).
std::string to_text(const Diff& d);

}  // namespace gguf::diff
