// The built-in forward pass (src/forward/) as a second source of logits: it decodes the tokens the
// reference decoded, and the thresholds its comparison with llama.cpp is held to depend on the
// weight types, because llama.cpp's CPU matmuls round activations for some of them
// (docs/forward-pass.md gives the measurements behind each figure).
#pragma once

#include <filesystem>
#include <span>
#include <string>

#include "forward/model.hpp"
#include "gguf/reader.hpp"
#include "logits.hpp"

namespace gguf::crossval {

// The logits of `tokens` computed by the built-in forward pass on the model at `path`.
// Errors (io_error with the forward pass's own code in the message): the file cannot be read, the
// forward pass does not support it (architecture, a missing tensor, a wrong shape, a type), bad tokens.
LogitsResult<Logits> builtin_logits(const std::filesystem::path& path, std::span<const std::int32_t> tokens,
                                    forward::Activations activations = forward::Activations::exact);

// The thresholds builtin vs llama.cpp is held to for this file: those of the least precise weight
// type among its matrices (F32 weights: max_abs 1e-4, cosine 0.99999). `why` names that type.
Thresholds builtin_thresholds(const File& file, std::string& why);

}  // namespace gguf::crossval
