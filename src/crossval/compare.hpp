// Field-by-field comparison of two descriptions of one file (ours and a reference's).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "describe/description.hpp"
#include "verdict.hpp"

namespace gguf::crossval {

// Which field of a description differs.
enum class Field {
    version,
    n_kv,
    n_tensors,
    alignment,
    data_offset,  // the header
    kv_key,
    kv_type,
    kv_value,
    kv_raw_bytes,  // one key-value
    tensor_name,
    tensor_type,
    tensor_dims,
    tensor_offset,
    tensor_size,  // one tensor info
    load_n_tensors,
    load_n_vocab,  // the reference's full load
    payload,       // a reader's whole answer
};

// Where a mismatch is: a field, and for key-values and tensors the entry (index in file order and
// its key or name). render() gives the report's form: n_kv, kv[3](general.name).value,
// tensors[0](blk.0.ffn_up.weight).dims, load.n_vocab.
struct FieldPath {
    Field field = Field::payload;
    std::size_t index = 0;
    std::string entry;

    bool is_kv() const { return field >= Field::kv_key && field <= Field::kv_raw_bytes; }
    bool is_tensor() const { return field >= Field::tensor_name && field <= Field::tensor_size; }
    std::string render() const;
};

struct Mismatch {
    FieldPath path;
    nlohmann::json ours;
    nlohmann::json reference;
};

struct Comparison {
    bool equal = true;
    std::vector<Mismatch> mismatches;
    std::vector<Note> notes;  // documented normalisations that were applied
};

// Compares every field both descriptions carry: version, n_kv, each KV (key, type, value and the
// digest of its raw bytes), n_tensors, each tensor (name, type, dims, offset, size), alignment and
// data offset. KVs and tensors are compared in file order. Two documented differences of definition
// are normalised and noted instead of reported (docs/gguf-notes.md, "The reference's reader"): with 0
// tensors ggml's data offset is the unpadded end of the metadata, ours the padded one; ggml drops a
// tensor's trailing dimensions of size 1.
Comparison compare_descriptions(const describe::Description& ours, const describe::Description& reference);

}  // namespace gguf::crossval
