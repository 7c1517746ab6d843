// Failure classes and the classification of the reference's messages.
//
// The patterns are fragments of the messages llama.cpp (src/llama-model-loader.cpp, src/llama-model.cpp,
// src/llama.cpp) and ggml (ggml/src/gguf.cpp, ggml-quants.c) print at the pinned commit, chosen to
// survive small wording changes (function-name prefixes and quoted values are left out). They are
// tried in the order below, most specific first; the first one found anywhere in the text decides.
#include <array>

#include "reference.hpp"

namespace gguf::reference {
namespace {

struct Pattern {
    std::string_view text;
    FailureClass failure;
};

constexpr std::array kPatterns = {
    // The process aborted (also reported as a signal by the runner).
    Pattern{"GGML_ASSERT(", FailureClass::abort_or_signal},
    Pattern{"terminate called after throwing", FailureClass::abort_or_signal},
    // The reference itself is broken, not the file.
    Pattern{"no backends are loaded", FailureClass::reference_unavailable},
    Pattern{"error while loading shared libraries", FailureClass::reference_unavailable},
    // Opening the file.
    Pattern{"failed to open GGUF file", FailureClass::file_unreadable},
    Pattern{"No such file or directory", FailureClass::file_unreadable},
    Pattern{"Permission denied", FailureClass::file_unreadable},
    // Versions (v0, v1, > 3, byte-swapped).
    Pattern{"GGUFv1 is no longer supported", FailureClass::unsupported_version},
    Pattern{"but this software only supports up to version", FailureClass::unsupported_version},
    Pattern{"bad GGUF version", FailureClass::unsupported_version},
    Pattern{"mismatch between the host and model endianness", FailureClass::unsupported_version},
    // Tensor types: out of range, or removed (block size 0 fails the block-size check).
    Pattern{"has invalid ggml type", FailureClass::unknown_tensor_type},
    Pattern{"not a multiple of block size (0)", FailureClass::unknown_tensor_type},
    // The loader, on the data and on what the architecture needs.
    Pattern{"data is not within the file bounds", FailureClass::data_out_of_bounds},
    Pattern{"has invalid data", FailureClass::invalid_tensor_data},
    Pattern{"found tensors with invalid data", FailureClass::invalid_tensor_data},
    Pattern{"found nan value", FailureClass::invalid_tensor_data},
    Pattern{"found inf value", FailureClass::invalid_tensor_data},
    Pattern{"unknown model architecture", FailureClass::unknown_architecture},
    Pattern{"unsupported model architecture", FailureClass::unknown_architecture},
    Pattern{"has wrong shape", FailureClass::wrong_shape},
    Pattern{"missing tensor '", FailureClass::missing_tensor},
    Pattern{"' not found", FailureClass::missing_tensor},          // "tensor '<name>' not found"
    Pattern{"key not found in model", FailureClass::missing_key},  // also "array key not found in model"
    Pattern{"missing key ", FailureClass::missing_key},
    Pattern{"has wrong array element type", FailureClass::missing_key},
    Pattern{"has wrong array length", FailureClass::missing_key},
    Pattern{"has wrong type", FailureClass::missing_key},  // "key %s has wrong type %s but expected type %s"
    // The GGUF reader rejecting the structure.
    Pattern{"invalid magic characters", FailureClass::invalid_gguf},
    Pattern{"failed to read magic", FailureClass::invalid_gguf},
    Pattern{"failed to read header", FailureClass::invalid_gguf},
    Pattern{"number of tensors is", FailureClass::invalid_gguf},
    Pattern{"number of key value pairs is", FailureClass::invalid_gguf},
    Pattern{"string length", FailureClass::invalid_gguf},
    Pattern{"encountered length_error", FailureClass::invalid_gguf},
    Pattern{"encountered bad_alloc", FailureClass::invalid_gguf},
    Pattern{"is empty", FailureClass::invalid_gguf},
    Pattern{"duplicate key", FailureClass::invalid_gguf},
    Pattern{"has invalid GGUF type", FailureClass::invalid_gguf},
    Pattern{"failed to read key-value pairs", FailureClass::invalid_gguf},
    Pattern{"must be of type", FailureClass::invalid_gguf},
    Pattern{"is not a power of 2", FailureClass::invalid_gguf},
    Pattern{"is too long", FailureClass::invalid_gguf},
    Pattern{"duplicate tensor name", FailureClass::invalid_gguf},
    Pattern{"has invalid number of dimensions", FailureClass::invalid_gguf},
    Pattern{"has invalid number of elements", FailureClass::invalid_gguf},
    Pattern{"total number of elements in tensor", FailureClass::invalid_gguf},
    Pattern{"not a multiple of block size", FailureClass::invalid_gguf},
    Pattern{"has a size in bytes", FailureClass::invalid_gguf},
    Pattern{"failed to read tensor info", FailureClass::invalid_gguf},
    Pattern{"failed to seek to beginning of data section", FailureClass::invalid_gguf},
    Pattern{"has offset", FailureClass::invalid_gguf},  // "tensor '%s' has offset %lu, expected %zu"
    Pattern{"size overflow", FailureClass::invalid_gguf},
    Pattern{"failed to read tensor data", FailureClass::invalid_gguf},
    Pattern{"unexpectedly reached end of file", FailureClass::invalid_gguf},
    Pattern{"is duplicated", FailureClass::invalid_gguf},  // "invalid model: tensor '%s' is duplicated"
    Pattern{"failed to read", FailureClass::invalid_gguf},
};

// The line of `text` around position pos, trimmed.
std::string line_at(std::string_view text, std::size_t pos) {
    const auto begin = text.rfind('\n', pos);
    const auto end = text.find('\n', pos);
    auto line = text.substr(
        begin == std::string_view::npos ? 0 : begin + 1,
        (end == std::string_view::npos ? text.size() : end) - (begin == std::string_view::npos ? 0 : begin + 1));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    return std::string(line);
}

}  // namespace

std::string_view failure_class_name(FailureClass failure) {
    switch (failure) {
        case FailureClass::none:
            return "none";
        case FailureClass::file_unreadable:
            return "file_unreadable";
        case FailureClass::invalid_gguf:
            return "invalid_gguf";
        case FailureClass::unsupported_version:
            return "unsupported_version";
        case FailureClass::unknown_tensor_type:
            return "unknown_tensor_type";
        case FailureClass::unknown_architecture:
            return "unknown_architecture";
        case FailureClass::missing_key:
            return "missing_key";
        case FailureClass::missing_tensor:
            return "missing_tensor";
        case FailureClass::wrong_shape:
            return "wrong_shape";
        case FailureClass::data_out_of_bounds:
            return "data_out_of_bounds";
        case FailureClass::invalid_tensor_data:
            return "invalid_tensor_data";
        case FailureClass::abort_or_signal:
            return "abort_or_signal";
        case FailureClass::timeout:
            return "timeout";
        case FailureClass::reference_unavailable:
            return "reference_unavailable";
        case FailureClass::other:
            return "other";
    }
    return "other";
}

Classification classify_text(std::string_view text) {
    for (const auto& p : kPatterns) {
        if (const auto pos = text.find(p.text); pos != std::string_view::npos) return {p.failure, line_at(text, pos)};
    }
    return {FailureClass::other, {}};
}

FailureClass classify(std::string_view log_text) {
    return classify_text(log_text).failure;
}

}  // namespace gguf::reference
