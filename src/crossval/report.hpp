// The cross-validation report: what ran, what each stage found, and the verdict. Its JSON form is
// versioned (kSchemaVersion) and described by schema/crossval-report.schema.json.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "compare.hpp"
#include "exit.hpp"
#include "gguf/data/hash.hpp"
#include "gguf/error.hpp"
#include "verdict.hpp"

namespace gguf::crossval {

inline constexpr int kSchemaVersion = 1;

struct Stage {
    StageId id = StageId::reader;
    bool ran = false;  // false: skipped (never counted as a pass)
    bool ok = false;
    bool xfail = false;      // failed, and the failure is allowed (by an expectation or CROSSVAL_ALLOW_CPP_FAIL)
    std::string xfail_rule;  // which rule allowed it (an expectation, or the environment variable)
    bool xpass = false;      // passed, though an expectation declared that it fails
    double duration_ms = 0;
    Failure failure;  // monostate when ok
    std::string message;
    std::string log_excerpt;
    nlohmann::json details = nlohmann::json::object();  // stage-specific facts (load results, error code...)
};

struct Report {
    std::string model;
    std::string timestamp;  // RFC 3339, UTC
    std::string platform;   // linux-x86_64
    std::optional<std::uint32_t> gguf_version;
    std::optional<std::uint64_t> n_kv, n_tensors, data_offset;
    std::optional<std::uint64_t> file_size;
    std::string sha256;
    std::vector<TensorDigest> tensor_hashes;  // XXH3-64 of each tensor's data (when our reader accepts the file)
    struct {
        std::string name, version, path;
    } reference;
    std::vector<Stage> stages;
    bool compared = false;  // whether the header comparison ran (both readers accepted the file)
    Comparison comparison;
    std::vector<Note> notes;
    std::vector<std::string> findings;  // reader disagreements in a sentence each
    bool allow_cpp_fail = false;
    Verdict verdict = Verdict::pass;
    int exit_code = kPass;

    const Stage* stage(StageId id) const;
    bool stage_ok(StageId id) const;
    bool xfail() const;
    bool xpass() const;
};

nlohmann::json to_json(const Report& report);

// Write JSON to `path` atomically (temporary file in the same directory, then rename).
Status write_json_atomically(const std::filesystem::path& path, const nlohmann::json& json);
// The same for any text.
Status write_text_atomically(const std::filesystem::path& path, const std::string& text);

// "linux-x86_64" style name of this machine.
std::string platform_name();

// Now, as RFC 3339 UTC with seconds ("2026-11-26T06:23:05Z").
std::string utc_timestamp();

}  // namespace gguf::crossval
