#include "issues_json.hpp"

#include <filesystem>

#include "describe/description.hpp"

namespace cli {

nlohmann::json issue_json(const gguf::Issue& issue) {
    return {{"code", gguf::code_name(issue.code)}, {"offset", issue.offset}, {"message", issue.message}};
}

nlohmann::json validation_json(const std::string& path, const gguf::Result<gguf::File>& file) {
    nlohmann::json out{{"file", gguf::describe::render_string(path)},
                       {"ok", file.ok()},
                       {"errors", nlohmann::json::array()},
                       {"warnings", nlohmann::json::array()}};
    if (!file) {
        out["errors"].push_back(issue_json(file.error()));
        std::error_code ec;
        const auto size = std::filesystem::file_size(path, ec);
        for (const char* k : {"version", "n_kv", "n_tensors", "alignment", "data_offset"}) out[k] = nullptr;
        out["file_size"] = ec ? nlohmann::json(nullptr) : nlohmann::json(size);
        return out;
    }
    for (const auto& w : file->warnings()) out["warnings"].push_back(issue_json(w));
    out["version"] = file->version();
    out["n_kv"] = file->kvs().size();
    out["n_tensors"] = file->tensors().size();
    out["alignment"] = file->alignment();
    out["data_offset"] = file->data_offset();
    out["file_size"] = file->file_size();
    return out;
}

}  // namespace cli
