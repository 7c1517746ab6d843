// The report's JSON form and its atomic write.
#include "report.hpp"

#include "describe/description.hpp"
#include "util/atomic_file.hpp"

#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <chrono>
#include <ctime>
#include <fstream>

namespace gguf::crossval {
namespace {

template <class T>
nlohmann::json opt(const std::optional<T>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json stage_json(const Stage& s) {
    const auto failure = failure_name(s.failure);
    return {{"name", stage_name(s.id)},
            {"ran", s.ran},
            {"ok", s.ok},
            {"xfail", s.xfail},
            {"xfail_rule", s.xfail ? nlohmann::json(s.xfail_rule) : nlohmann::json(nullptr)},
            {"xpass", s.xpass},
            {"duration_ms", s.duration_ms},
            {"failure_class", failure.empty() ? nlohmann::json(nullptr) : nlohmann::json(failure)},
            {"message", s.message},
            {"log_excerpt", s.log_excerpt},
            {"details", s.details}};
}

nlohmann::json tensor_hashes_json(const std::vector<TensorDigest>& digests) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : digests) {
        out.push_back({{"name", describe::render_string(t.name)},
                       {"offset", t.offset},
                       {"size", t.size},
                       {"xxh3", fmt::format("{:016x}", t.xxh3)}});
    }
    return out;
}

}  // namespace

nlohmann::json notes_json(const std::vector<Note>& notes) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& n : notes) out.push_back(n.text);
    return out;
}

const Stage* Report::stage(StageId id) const {
    for (const auto& s : stages) {
        if (s.id == id) return &s;
    }
    return nullptr;
}

bool Report::stage_ok(StageId id) const {
    const auto* s = stage(id);
    return s != nullptr && s->ran && s->ok;
}

bool Report::xpass() const {
    for (const auto& s : stages) {
        if (s.xpass) return true;
    }
    return false;
}

bool Report::xfail() const {
    for (const auto& s : stages) {
        if (s.xfail) return true;
    }
    return false;
}

nlohmann::json to_json(const Report& r) {
    nlohmann::json stages = nlohmann::json::array();
    for (const auto& s : r.stages) stages.push_back(stage_json(s));
    nlohmann::json mismatches = nlohmann::json::array();
    for (const auto& m : r.comparison.mismatches) {
        mismatches.push_back({{"field", m.path.render()}, {"ours", m.ours}, {"reference", m.reference}});
    }
    return {
        {"schema_version", kSchemaVersion},
        {"model", r.model},
        {"verdict", verdict_name(r.verdict)},
        {"exit_code", r.exit_code},
        {"reader_ok", r.stage_ok(StageId::reader)},
        {"cpp_header_ok", r.stage_ok(StageId::cpp_header)},
        {"cpp_full_ok", r.stage_ok(StageId::cpp_full)},
        {"xfail", r.xfail()},
        {"xpass", r.xpass()},
        {"allow_cpp_fail", r.allow_cpp_fail},
        {"notes", notes_json(r.notes)},
        {"findings", r.findings},
        {"timestamp", r.timestamp},
        {"platform", r.platform},
        {"gguf_version", opt(r.gguf_version)},
        {"n_kv", opt(r.n_kv)},
        {"n_tensors", opt(r.n_tensors)},
        {"data_offset", opt(r.data_offset)},
        {"file_size", opt(r.file_size)},
        {"sha256", r.sha256},
        {"tensor_hashes", tensor_hashes_json(r.tensor_hashes)},
        {"reference", {{"name", r.reference.name}, {"version", r.reference.version}, {"path", r.reference.path}}},
        {"stages", std::move(stages)},
        {"comparison",
         {{"ran", r.compared},
          {"equal", r.compared && r.comparison.equal},
          {"mismatches", std::move(mismatches)},
          {"notes", notes_json(r.comparison.notes)}}},
    };
}

Status write_json_atomically(const std::filesystem::path& path, const nlohmann::json& json) {
    return write_text_atomically(path, json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + '\n');
}

Status write_text_atomically(const std::filesystem::path& path, const std::string& text) {
    if (auto failed = util::write_file(path, text)) return Error{Code::io_error, 0, failed->message};
    return Ok{};
}

std::string platform_name() {
    struct utsname u {};
    if (uname(&u) != 0) return "unknown";
    std::string sys = u.sysname;
    for (auto& ch : sys) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return sys + "-" + u.machine;
}

std::string utc_timestamp() {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                       tm.tm_min, tm.tm_sec);
}

}  // namespace gguf::crossval
