// The GGUF writer: KVs and tensors in, a byte-exact file out. Counts and offsets are written as
// placeholders and backpatched from what was actually written, so they cannot drift.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "gguf/error.hpp"
#include "gguf/format.hpp"
#include "gguf/value.hpp"

namespace gguf {

struct WriterOptions {
    std::uint32_t version = 3;  // 2 and 3 share a layout
    bool big_endian = false;    // write a byte-swapped file (numbers only; tensor data as given)
};

class Writer {
public:
    explicit Writer(WriterOptions options = {});

    // Append a KV. A `general.alignment` u32 sets the alignment used for padding, as in ggml.
    void add(std::string key, Value value);

    // Append a tensor with its data; data.size() must equal the size from the type table.
    // Returns an error (shape_overflow, invalid_tensor_type, ...) without adding anything.
    Status add_tensor(std::string name, std::uint32_t type, std::vector<std::uint64_t> dims,
                      std::vector<std::byte> data);

    // Append a tensor whose data is produced at write time, chunk by chunk: fill(offset, chunk)
    // must fill `chunk` with the bytes at `offset` within the tensor. For very large files.
    using Fill = std::function<void(std::uint64_t offset, std::span<std::byte> chunk)>;
    Status add_tensor(std::string name, std::uint32_t type, std::vector<std::uint64_t> dims, Fill fill);

    std::uint32_t alignment() const { return alignment_; }

    // The whole file in memory.
    std::vector<std::byte> to_bytes() const;

    // Write to `path` through a temporary file and a rename; creates parent directories.
    Status write_file(const std::filesystem::path& path) const;

private:
    struct Tensor {
        std::string name;
        std::uint32_t type;
        std::vector<std::uint64_t> dims;
        std::uint64_t size;
        std::vector<std::byte> data;
        Fill fill;
    };
    template <class Sink>
    void emit(Sink& sink) const;

    WriterOptions options_;
    std::uint32_t alignment_ = kDefaultAlignment;
    std::vector<std::pair<std::string, Value>> kvs_;
    std::vector<Tensor> tensors_;
};

}  // namespace gguf
