// safetensors: the named-tensor file format of Python and Rust engines, read and written.
//
// Layout: u64 little-endian N, then N bytes of a JSON object
//   {"NAME": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value", ...}}
// then the data buffer; offsets are relative to the buffer, row-major (C order), little-endian.
// Traces (docs/trace-format.md) and dequantized tensors are written in it.
//
// Independent of the GGUF library: its errors are its own values (Error, Code below).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "gguf/error.hpp"

namespace gguf::safetensors {

// Stable codes; their snake_case names (code_name) are part of the contract, never renamed.
enum class Code : std::uint16_t {
    io_error,           // the file could not be opened, mapped, written or renamed
    truncated,          // the file ends before the 8-byte length or before the header it announces
    header_too_large,   // the header length exceeds kMaxHeaderBytes
    header_too_deep,    // the JSON nests deeper than kMaxJsonDepth
    invalid_json,       // the header is not valid JSON, or not an object
    invalid_entry,      // a tensor entry lacks dtype/shape/data_offsets or has them of the wrong kind
    invalid_metadata,   // __metadata__ is not an object of strings
    unknown_dtype,      // a dtype name outside the format's list
    duplicate_name,     // the same tensor name twice in the header
    empty_name,         // a tensor named ""
    shape_overflow,     // element count or byte size does not fit in 64 bits
    size_mismatch,      // end - begin differs from product(shape) * dtype size
    out_of_bounds,      // data_offsets beyond the data buffer, or end < begin
    tensors_overlap,    // two tensors' byte ranges intersect
    unsupported_dtype,  // a conversion (to f32) asked of a dtype it does not cover
    invalid_argument,   // the writer was given something it cannot write (bad name, data size)
};

std::string_view code_name(Code code);

// One failure: its code, the byte offset in the file it concerns, a sentence to act on.
struct Error {
    Code code;
    std::uint64_t offset = 0;
    std::string message;
};

// A value or an Error: the GGUF library's Result with this format's own error type.
template <class T>
using Result = gguf::Result<T, Error>;
struct Ok {};
using Status = Result<Ok>;

// Bounds applied to untrusted files before anything is allocated for them.
inline constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;  // 100 MiB, as the format's own reader
inline constexpr int kMaxJsonDepth = 4;                         // root {, entry {, shape [ is 3
inline constexpr std::size_t kMaxRank = 16;

enum class Dtype : std::uint8_t { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64 };

std::string_view dtype_name(Dtype d);
std::optional<Dtype> dtype_from_name(std::string_view name);
std::size_t dtype_size(Dtype d);

// One tensor of a parsed file. `data` views the file's mapping (kept alive by the File).
struct Tensor {
    std::string name;
    Dtype dtype = Dtype::F32;
    std::vector<std::uint64_t> shape;  // row-major: the last dimension varies fastest
    std::uint64_t begin = 0;           // data_offsets, relative to the data buffer
    std::uint64_t end = 0;
    std::span<const std::byte> data;

    std::uint64_t element_count() const;  // 1 for shape []
};

// A parsed file. Tensors are in header order (the order the writer was given them).
class File {
public:
    std::vector<Tensor> tensors;
    std::vector<std::pair<std::string, std::string>> metadata;  // header order
    std::uint64_t header_size = 0;                              // N
    std::uint64_t data_start = 0;                               // 8 + N

    const Tensor* find(std::string_view name) const;
    std::optional<std::string_view> meta(std::string_view key) const;

private:
    friend Result<File> open(const std::filesystem::path& path);
    friend Result<File> parse(std::span<const std::byte> bytes);
    std::shared_ptr<const void> owner_;
};

// Parse bytes held by the caller (the File views them: keep them alive), or map a file read-only.
// Everything in the Contract above is checked: a File that comes back is safe to index.
Result<File> parse(std::span<const std::byte> bytes);
Result<File> open(const std::filesystem::path& path);

// The offset of the first bracket nested deeper than `max_depth` in JSON text (brackets inside
// strings skipped), or nullopt: a check to run on untrusted JSON before parsing it.
std::optional<std::size_t> json_too_deep_at(std::string_view text, int max_depth);

// The tensor's values as f32 (F32 copied, F16 and BF16 widened exactly); unsupported_dtype otherwise.
Result<std::vector<float>> to_f32(const Tensor& t);

// Writes a file. Tensors are declared first (their data is referenced or produced on demand), so
// that the header and every offset are known before the first data byte is written; the data is
// then streamed in declaration order, into a temporary file renamed over `path` at the end.
class Writer {
public:
    // Fills `out` with the bytes [offset, offset + out.size()) of the tensor's data.
    using Fill = std::function<void(std::uint64_t offset, std::span<std::byte> out)>;

    // The span must stay valid until write_file/to_bytes returns.
    Status add(std::string name, Dtype dtype, std::vector<std::uint64_t> shape, std::span<const std::byte> data);
    Status add_f32(std::string name, std::vector<std::uint64_t> shape, std::span<const float> data);
    Status add_streamed(std::string name, Dtype dtype, std::vector<std::uint64_t> shape, Fill fill);
    void set_metadata(std::string key, std::string value);  // replaces an earlier value of the key

    std::vector<std::byte> to_bytes() const;
    Status write_file(const std::filesystem::path& path) const;

private:
    struct Entry {
        std::string name;
        Dtype dtype;
        std::vector<std::uint64_t> shape;
        std::uint64_t size;
        std::span<const std::byte> data;
        Fill fill;
    };
    Status check_new(const std::string& name, Dtype dtype, const std::vector<std::uint64_t>& shape,
                     std::uint64_t& size) const;
    std::string header() const;
    template <class Sink>
    void emit(Sink& sink) const;

    std::vector<Entry> entries_;
    std::vector<std::pair<std::string, std::string>> metadata_;
};

}  // namespace gguf::safetensors
