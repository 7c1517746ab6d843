// Hashes of a GGUF file's bytes: XXH3-64 of each tensor's data and SHA-256 of the whole file,
// computed in one streaming pass with memory that does not grow with the file, and the check of a
// copy against a manifest of those hashes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gguf/error.hpp"
#include "gguf/reader.hpp"

namespace gguf {

// One tensor's data as a manifest records it: where its bytes are and what they hash to.
struct TensorDigest {
    std::string name;
    std::uint64_t offset = 0;  // file offset of the first byte (not relative to the data section)
    std::uint64_t size = 0;    // byte size of the data, without padding
    std::uint64_t xxh3 = 0;    // XXH3-64 (seed 0) of those bytes
};

// A NaN or infinity the row check found (include/gguf/data/row_check.hpp): the first in a tensor.
struct NonFiniteFinding {
    std::string tensor;
    std::uint64_t row = 0;      // row (ne[0] elements) holding it
    std::uint64_t block = 0;    // block within the row (float types: the element's column)
    std::uint32_t element = 0;  // element within the block (0 for a block scale)
    std::string field;          // "value", or the scale field: "d", "m", "dmin", "scale", "e"
    double value = 0;           // NaN or +-inf
    std::uint64_t offset = 0;   // file offset of the block (float types: of the element)
};

// The hashes of a whole file.
struct DataDigest {
    std::uint64_t file_size = 0;
    std::string sha256;                        // lowercase hex of the SHA-256 of every byte of the file
    std::vector<TensorDigest> tensors;         // in the order of the tensor infos
    std::vector<NonFiniteFinding> non_finite;  // with HashOptions::check_rows: the first per tensor, in tensor order
};

struct HashOptions {
    bool sha256 = true;                 // also hash the whole file (else only the ranges are read)
    std::size_t chunk_size = 1u << 20;  // bytes per read; the memory used is chunk_size * chunks_in_flight
    std::size_t chunks_in_flight = 4;   // read-ahead depth when threaded
    bool threads = true;                // read, per-range XXH3 and SHA-256 on separate threads
    bool check_rows = false;            // digest_file: also run llama.cpp's row check on every tensor,
                                        // in the same pass (DataDigest::non_finite)
    // Called on the calling thread after each chunk: bytes hashed so far, bytes to hash in all.
    std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

// A byte range of a file to hash.
struct ByteRange {
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
};

// What hash_file computed.
struct RangeHashes {
    std::uint64_t file_size = 0;
    std::string sha256;                              // lowercase hex; empty when not requested
    std::vector<std::optional<std::uint64_t>> xxh3;  // one per range, in the order given; nullopt when
                                                     // the range runs past the end of the file
};

// Hash `ranges` of the file at `path` (XXH3-64 each) and, if asked, the whole file (SHA-256), reading
// it once with pread into a fixed set of buffers. Ranges may come in any order but must not overlap
// (tensors_overlap otherwise), so the work is bounded by the file size whatever the ranges claim.
// Errors: io_error (cannot open or read, or the file shrank while being read), tensors_overlap.
Result<RangeHashes> hash_file(const std::filesystem::path& path, std::span<const ByteRange> ranges,
                              const HashOptions& options = {});

// The hashes of `file` (parsed from `path`): SHA-256 of the file and XXH3-64 of each tensor's data.
Result<DataDigest> digest_file(const std::filesystem::path& path, const File& file, const HashOptions& options = {});

// How one tensor of a manifest compares with a copy of the file.
enum class DataStatus {
    same,           // the bytes at the recorded range hash the same
    differs,        // they hash differently
    out_of_bounds,  // the copy ends before the range does (a truncated copy)
};
std::string_view data_status_name(DataStatus status);  // "same", "differs", "out_of_bounds"

// How one tensor of a manifest appears in the copy's own header, when the copy parses.
enum class HeaderStatus {
    same,     // a tensor of that name at the same file offset with the same size
    moved,    // a tensor of that name at another offset or with another size
    missing,  // no tensor of that name
    unknown,  // the copy did not parse
};
std::string_view header_status_name(HeaderStatus status);  // "same", "moved", "missing", "unknown"

struct TensorCheck {
    TensorDigest expected;              // from the manifest
    std::optional<std::uint64_t> xxh3;  // of the copy's bytes at the same range; nullopt when out of bounds
    DataStatus data = DataStatus::same;
    HeaderStatus header = HeaderStatus::unknown;
};

// The outcome of checking a copy against a manifest.
struct DataCheck {
    std::uint64_t file_size = 0;  // of the copy
    std::string sha256;           // of the copy
    bool file_size_matches = false;
    bool sha256_matches = false;
    std::vector<TensorCheck> tensors;  // every tensor of the manifest, in its order
    std::vector<std::string> extra;    // tensors in the copy's header that the manifest lacks

    // True when the copy is byte-identical to the file the manifest describes.
    bool ok() const { return sha256_matches && file_size_matches; }
    // The tensors whose data differs or is out of bounds.
    std::vector<const TensorCheck*> damaged() const;
};

// Check the file at `path` against `manifest`: hash the byte range of every tensor the manifest
// records (so a copy whose header is damaged is still checked tensor by tensor) and the whole
// file. `copy`, when the copy parsed, is compared with the manifest's tensor table too.
Result<DataCheck> check_data(const std::filesystem::path& path, const DataDigest& manifest, const File* copy,
                             const HashOptions& options = {});

// 16 lowercase hex digits, as manifests store XXH3-64 values.
std::string hex64(std::uint64_t v);
// The value of exactly 16 hex digits, or nullopt.
std::optional<std::uint64_t> parse_hex64(std::string_view s);

}  // namespace gguf
