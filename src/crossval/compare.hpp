// Field-by-field comparison of two descriptions of one file (ours and a reference's).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "describe/description.hpp"

namespace gguf::crossval {

struct Mismatch {
    std::string field;  // e.g. n_kv, kv["general.name"].value, tensors["blk.0.ffn_up.weight"].dims
    nlohmann::json ours;
    nlohmann::json reference;
};

struct Comparison {
    bool equal = true;
    std::vector<Mismatch> mismatches;
    std::vector<std::string> notes;  // documented normalisations that were applied
};

// Compares every field both descriptions carry: version, n_kv, each KV (key, type, value and the
// digest of its raw bytes), n_tensors, each tensor (name, type, dims, offset, size), alignment and
// data offset. KVs and tensors are compared in file order. One documented difference of
// definition is normalised and noted instead of reported: with 0 tensors, ggml's data offset is
// the unpadded end of the metadata, ours the padded one (gguf-facts.md section 2).
Comparison compare(const describe::Description& ours, const describe::Description& reference);

}  // namespace gguf::crossval
