#include "vocabulary.hpp"

#include <string>

namespace gguf::crossval {

std::optional<std::uint64_t> our_vocab_size(const File& file) {
    if (const auto* tokens = file.find("tokenizer.ggml.tokens"); tokens && tokens->value.type() == ValueType::array) {
        return tokens->value.as_array().size();
    }
    if (const auto* arch = file.find("general.architecture"); arch && arch->value.type() == ValueType::string) {
        if (const auto* v = file.find(std::string(arch->value.as_string()) + ".vocab_size")) return v->value.as_uint();
    }
    return std::nullopt;
}

}  // namespace gguf::crossval
