// Names of error codes: the stable strings tools match on.
#include "gguf/error.hpp"

#include <fmt/format.h>
#include <cstring>

namespace gguf {

std::string_view code_name(Code code) {
    switch (code) {
        case Code::io_error:
            return "io_error";
        case Code::bad_magic:
            return "bad_magic";
        case Code::unsupported_version:
            return "unsupported_version";
        case Code::truncated:
            return "truncated";
        case Code::count_too_large:
            return "count_too_large";
        case Code::string_too_long:
            return "string_too_long";
        case Code::invalid_value_type:
            return "invalid_value_type";
        case Code::invalid_bool:
            return "invalid_bool";
        case Code::empty_key:
            return "empty_key";
        case Code::duplicate_key:
            return "duplicate_key";
        case Code::nesting_too_deep:
            return "nesting_too_deep";
        case Code::bad_alignment:
            return "bad_alignment";
        case Code::tensor_name_too_long:
            return "tensor_name_too_long";
        case Code::duplicate_tensor:
            return "duplicate_tensor";
        case Code::too_many_dims:
            return "too_many_dims";
        case Code::invalid_dimension:
            return "invalid_dimension";
        case Code::invalid_tensor_type:
            return "invalid_tensor_type";
        case Code::shape_not_block_aligned:
            return "shape_not_block_aligned";
        case Code::shape_overflow:
            return "shape_overflow";
        case Code::offset_misaligned:
            return "offset_misaligned";
        case Code::tensor_data_out_of_bounds:
            return "tensor_data_out_of_bounds";
        case Code::tensors_overlap:
            return "tensors_overlap";
        case Code::nonstandard_header_layout:
            return "nonstandard_header_layout";
        case Code::type_not_supported:
            return "type_not_supported";
        case Code::non_finite_data:
            return "non_finite_data";
        case Code::array_of_arrays:
            return "array_of_arrays";
        case Code::dims_over_ggml_max:
            return "dims_over_ggml_max";
        case Code::tensor_name_at_limit:
            return "tensor_name_at_limit";
        case Code::offsets_not_contiguous:
            return "offsets_not_contiguous";
        case Code::alignment_below_spec:
            return "alignment_below_spec";
        case Code::invalid_utf8:
            return "invalid_utf8";
        case Code::bitnet_i2_s:
            return "bitnet_i2_s";
        case Code::zero_tensor_data_offset:
            return "zero_tensor_data_offset";
        case Code::byte_swapped:
            return "byte_swapped";
    }
    return "unknown";
}

bool is_warning(Code code) {
    return code >= Code::array_of_arrays;
}

Error io_error(const std::filesystem::path& path, std::string_view what, int err) {
    return Error{Code::io_error, 0, fmt::format("cannot {} '{}': {}", what, path.string(), std::strerror(err))};
}

}  // namespace gguf
