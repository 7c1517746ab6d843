// The dequantization stage: every tensor of the file turned to f32 by our library and by ggml's
// to_float (the probe's `dequant` mode), compared bit for bit (NaN payloads included).
#pragma once

#include <filesystem>

#include "reference/reference.hpp"
#include "report.hpp"

namespace gguf::crossval {

// Failure classes beyond the reference's own: dequant_differs (some tensor's f32 bits differ: a
// disagreement, never an XFAIL), dequant_unsupported (every compared tensor is identical, but some
// could not be compared: a type we do not dequantize, or one ggml has no to_float for; they are
// named in the message and in details.unchecked).
// details.tensors lists per tensor: name, type, n_elements, status (identical, differs,
// unsupported, no_reference_to_float), and for `differs` the count of differing elements and the
// first one: index, row, block, element (within the block), both values and their bit patterns.
Stage dequant_stage(const reference::Reference& ref, const std::filesystem::path& model,
                    const reference::RunOptions& run);

// The same with ggml reading `reference_model` and our library `our_model`, two files of the same
// tensor layout: how a test shows that a difference is found exactly where it is.
Stage dequant_stage(const reference::Reference& ref, const std::filesystem::path& reference_model,
                    const std::filesystem::path& our_model, const reference::RunOptions& run);

}  // namespace gguf::crossval
