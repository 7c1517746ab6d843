// The vocabulary size of a model as our reader sees it.
#pragma once

#include <cstdint>
#include <optional>

#include "gguf/reader.hpp"

namespace gguf::crossval {

// The token list's length (tokenizer.ggml.tokens), else <general.architecture>.vocab_size; nullopt
// when the file has neither.
std::optional<std::uint64_t> our_vocab_size(const File& file);

}  // namespace gguf::crossval
