// Errors and warnings as values: a stable snake_case code, the byte offset it concerns, a sentence.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace gguf {

// Stable codes. Their snake_case names (code_name) are part of the public contract: tools and
// manifests match on them, so a code is never renamed or reused once published.
enum class Code : std::uint16_t {
    // errors
    io_error,                   // the file could not be opened or mapped
    bad_magic,                  // the first four bytes are not "GGUF"
    unsupported_version,        // version other than 2 or 3 (v1 is recognised and named)
    truncated,                  // a structure runs past the end of the file
    count_too_large,            // n_kv / n_tensors / array length that no file could hold (>= 1 PiB of data);
                                // a smaller count that runs past the end of the file is `truncated`
    string_too_long,            // a string length no file could hold (>= 1 PiB); a smaller one past the end
                                // of the file is `truncated`
    invalid_value_type,         // a value type id outside 0..12
    invalid_bool,               // a bool byte other than 0 or 1
    empty_key,                  // a key of length 0
    duplicate_key,              // the same key twice
    nesting_too_deep,           // arrays of arrays nested deeper than kMaxArrayDepth
    bad_alignment,              // general.alignment not a u32 power of two
    tensor_name_too_long,       // a tensor name longer than the specification's 64 bytes
    duplicate_tensor,           // the same tensor name twice
    too_many_dims,              // more dimensions than kMaxDims
    invalid_dimension,          // a dimension >= 2^63
    invalid_tensor_type,        // a ggml type id that is unknown or removed
    shape_not_block_aligned,    // ne[0] not a multiple of the type's block size
    shape_overflow,             // element count or byte size does not fit in 64 bits
    offset_misaligned,          // a tensor offset not a multiple of the alignment
    tensor_data_out_of_bounds,  // a tensor's data runs past the end of the file
    tensors_overlap,            // two tensors' data ranges intersect
    nonstandard_header_layout,  // the pre-standard layout with alignment/data-offset header fields
    type_not_supported,         // a valid tensor type this operation does not handle (named in the message)
    non_finite_data,            // a NaN or infinity in float tensor data or in a block scale
    // warnings (portability: valid GGUF that some reader, usually llama.cpp, rejects)
    array_of_arrays,          // the specification allows them; llama.cpp rejects them
    dims_over_ggml_max,       // more than 4 dims; llama.cpp rejects them
    tensor_name_at_limit,     // a 64-byte name: the specification allows it, llama.cpp needs < 64
    offsets_not_contiguous,   // gaps or reordering; llama.cpp requires the exact running sum
    alignment_below_spec,     // a power of two below 8: llama.cpp accepts it, the spec says multiple of 8
    invalid_utf8,             // a key, string value or tensor name that is not valid UTF-8
    bitnet_i2_s,              // type 36 read as bitnet.cpp's I2_S; upstream calls it removed IQ4_NL_4_4
    zero_tensor_data_offset,  // 0 tensors: readers disagree on whether the data offset is padded
    byte_swapped,             // a big-endian file: valid GGUF, but llama.cpp reads only the host's byte order
};

// The snake_case name of a code ("bad_magic").
std::string_view code_name(Code code);

// True for codes that are warnings rather than errors.
bool is_warning(Code code);

// One finding. `offset` is the byte offset in the file of the structure it concerns.
struct Issue {
    Code code;
    std::uint64_t offset = 0;
    std::string message;
};
using Error = Issue;

// A value or an error (by default a GGUF Error; other formats bring their own error type). Kept
// minimal: C++20 has no std::expected.
template <class T, class E = Error>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
    Result(E error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
    [[nodiscard]] bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const E& error() const { return std::get<1>(v_); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

private:
    std::variant<T, E> v_;
};

struct Ok {};
using Status = Result<Ok>;

// An io_error for a failed system call on a file: "cannot WHAT 'PATH': <strerror(err)>".
Error io_error(const std::filesystem::path& path, std::string_view what, int err);

}  // namespace gguf
