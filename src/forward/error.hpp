// Errors of the forward pass: a stable code and a sentence naming what is wrong (the key, the
// tensor, the expected and the actual shape). A file the forward pass cannot run is a value, never
// a crash.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "gguf/error.hpp"

namespace gguf::forward {

enum class Code {
    unsupported_architecture,  // general.architecture is neither llama nor bitnet
    missing_key,               // a required hyperparameter is absent
    bad_key,                   // a hyperparameter of the wrong type or out of range
    missing_tensor,            // a tensor the architecture needs is absent
    wrong_shape,               // a tensor whose dims are not what the hyperparameters imply
    unsupported_type,          // a tensor type the library cannot dequantize
    unsupported_feature,       // something the architecture allows that this pass does not implement
    bad_data,                  // the tensor data could not be dequantized
    bad_tokens,                // an empty sequence or a token id outside the vocabulary
};

// The snake_case name of a code ("missing_tensor").
std::string_view code_name(Code code);

struct Error {
    Code code;
    std::string message;
};

// A value or an Error: the library's Result with this layer's error type.
template <class T>
using Result = gguf::Result<T, Error>;

}  // namespace gguf::forward
