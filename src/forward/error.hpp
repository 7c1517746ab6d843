// Errors of the forward pass: a stable code and a sentence naming what is wrong (the key, the
// tensor, the expected and the actual shape). A file the forward pass cannot run is a value, never
// a crash.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

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

// A value or an Error.
template <class T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
    [[nodiscard]] bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const Error& error() const { return std::get<1>(v_); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

private:
    std::variant<T, Error> v_;
};

}  // namespace gguf::forward
