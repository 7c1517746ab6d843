// JSON forms of reader outcomes shared by validate and inspect.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "gguf/reader.hpp"

namespace cli {

nlohmann::json issue_json(const gguf::Issue& issue);

// {"file","ok","errors","warnings","version","n_kv","n_tensors","alignment","data_offset","file_size"};
// header fields are null when the file did not parse.
nlohmann::json validation_json(const std::string& path, const gguf::Result<gguf::File>& file);

}  // namespace cli
