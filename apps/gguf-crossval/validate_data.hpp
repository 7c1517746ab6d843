// validate --data: hash a file's tensors and the whole file, or check a copy against a manifest.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "gguf/data/hash.hpp"
#include "gguf/reader.hpp"

namespace cli {

struct DataOutcome {
    bool ok = true;                   // nothing differs from the manifest (always true without one)
    std::string usage_error;          // set when the manifest or the file could not be read: exit 2
    nlohmann::json data;              // {"sha256","file_size","tensors":[{"name","xxh3","offset","size"}]}
    nlohmann::json manifest;          // the comparison, null without a manifest
    std::string text;                 // the same for people
    std::vector<gguf::Error> errors;  // non_finite_data: one per tensor with a NaN or infinity (the first)
};

// Hash `path` (parsed as `file`, which may have failed) and, if `manifest_path` is not empty,
// compare it with the manifest written by `validate --data --json` on the original file.
DataOutcome validate_data(const std::string& path, const gguf::Result<gguf::File>& file,
                          const std::string& manifest_path);

// The manifest in a `validate --data --json` report (its "data" member) or a bare "data" object.
gguf::Result<gguf::DataDigest> read_manifest(const std::string& path);

}  // namespace cli
