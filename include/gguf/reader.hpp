// The GGUF reader: parses a byte buffer or a memory-mapped file into zero-copy views, and checks
// every invariant of the format before it hands anything out.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "gguf/error.hpp"
#include "gguf/types.hpp"
#include "gguf/value.hpp"

namespace gguf {

struct KeyValue {
    std::string_view key;
    ValueView value;
    std::uint64_t offset;  // file offset of the key's length field
};

struct TensorInfo {
    std::string_view name;
    std::uint32_t type = 0;  // ggml type id as stored
    TypeTraits traits{};     // the type's traits (I2_S for id 36)
    std::uint32_t n_dims = 0;
    std::array<std::uint64_t, kMaxDims> ne{};
    std::uint64_t offset = 0;       // relative to the data section, as stored
    std::uint64_t size = 0;         // byte size from the type table
    std::uint64_t info_offset = 0;  // file offset of the tensor info record
    Bytes data;                     // the tensor's bytes inside the file

    std::span<const std::uint64_t> dims() const { return {ne.data(), n_dims}; }
};

class File {
public:
    std::uint32_t version() const { return version_; }
    bool byte_swapped() const { return swapped_; }
    std::uint32_t alignment() const { return alignment_; }
    // Start of the data section: end of the tensor infos padded to the alignment. For 0 tensors
    // this is the padded end of the metadata (gguf-py's view; ggml reports it unpadded).
    std::uint64_t data_offset() const { return data_offset_; }
    std::uint64_t metadata_end() const { return metadata_end_; }  // end of the last tensor info
    std::uint64_t file_size() const { return bytes_.size(); }
    std::uint64_t data_end() const { return data_end_; }  // end of the last tensor's data
    const std::vector<KeyValue>& kvs() const { return kvs_; }
    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const std::vector<Issue>& warnings() const { return warnings_; }
    Bytes bytes() const { return bytes_; }

    const KeyValue* find(std::string_view key) const;
    const TensorInfo* find_tensor(std::string_view name) const;

private:
    friend class Parser;
    std::shared_ptr<const void> owner_;  // keeps a mapping alive for files from open()
    Bytes bytes_;
    std::uint32_t version_ = 0;
    bool swapped_ = false;
    std::uint32_t alignment_ = kDefaultAlignment;
    std::uint64_t metadata_end_ = 0;
    std::uint64_t data_offset_ = 0;
    std::uint64_t data_end_ = 0;
    std::vector<KeyValue> kvs_;
    std::vector<TensorInfo> tensors_;
    std::vector<Issue> warnings_;
    friend Result<File> parse(Bytes bytes);
    friend Result<File> open(const std::filesystem::path& path);
};

// Parse a buffer. The File views `bytes` and does not own it: keep the buffer alive.
// Returns the first error found; every structural and data-layout invariant is checked.
Result<File> parse(Bytes bytes);

// Memory-map a file read-only and parse it. The File keeps the mapping alive.
Result<File> open(const std::filesystem::path& path);

}  // namespace gguf
