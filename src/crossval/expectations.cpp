// Expectations files: parsing (names turned into the typed vocabulary once, here), matching.
#include "expectations.hpp"

#include <fmt/format.h>
#include <fnmatch.h>
#include <fstream>

#include <nlohmann/json.hpp>
#include <sstream>
#include "describe/description.hpp"

namespace gguf::crossval {
namespace {

constexpr std::size_t kMaxBytes = std::size_t{16} << 20;  // an expectations file is small
constexpr int kMaxDepth = 8;                              // the format nests 3 levels

constexpr const char* kOutcomeFail = "fail";
constexpr const char* kOutcomePass = "pass";

// "outcome": whether the stage is declared to fail.
std::optional<bool> fails_from_outcome(std::string_view outcome) {
    for (const auto& [name, fails] : {std::pair{kOutcomeFail, true}, std::pair{kOutcomePass, false}}) {
        if (outcome == name) return fails;
    }
    return std::nullopt;
}

ExpectationsError bad(std::string message) {
    return {ExpectationsCode::bad_field, std::move(message)};
}

std::optional<StageId> stage_from_name(std::string_view name) {
    for (auto s : {StageId::cpp_header, StageId::cpp_full, StageId::logits, StageId::dequant, StageId::tokenize}) {
        if (stage_name(s) == name) return s;
    }
    return std::nullopt;
}

// Every failure class a reference stage can have, by its rendered name.
std::optional<Failure> failure_from_name(std::string_view name) {
    for (int c = static_cast<int>(reference::FailureClass::file_unreadable);
         c <= static_cast<int>(reference::FailureClass::other); ++c) {
        const auto f = static_cast<reference::FailureClass>(c);
        if (reference::failure_class_name(f) == name) return Failure{f};
    }
    for (auto c : {CheckFailure::non_finite_logits, CheckFailure::against_unavailable,
                   CheckFailure::dequant_unsupported, CheckFailure::no_token_cases}) {
        if (check_failure_name(c) == name) return Failure{c};
    }
    return std::nullopt;
}

// nlohmann parses recursively: refuse documents nested deeper than the format can be before parsing.
bool nested_deeper_than(std::string_view text, int limit) {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > limit) return true;
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return false;
}

}  // namespace

gguf::Result<Expectations, ExpectationsError> Expectations::parse(std::string_view text, const std::string& origin) {
    if (nested_deeper_than(text, kMaxDepth)) {
        return ExpectationsError{ExpectationsCode::bad_json,
                                 fmt::format("{}: nested deeper than {}", origin, kMaxDepth)};
    }
    const auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return ExpectationsError{ExpectationsCode::bad_json, fmt::format("{}: not a JSON object", origin)};
    }
    if (doc.value("schema_version", nlohmann::json()) != 1) return bad(origin + ": \"schema_version\" must be 1");
    const auto list = doc.find("expectations");
    if (list == doc.end() || !list->is_array()) return bad(origin + ": no \"expectations\" array");
    Expectations out;
    for (std::size_t i = 0; i < list->size(); ++i) {
        const auto& j = (*list)[i];
        const auto where = fmt::format("{}: expectations[{}]", origin, i);
        if (!j.is_object()) return bad(where + " is not an object");
        for (const auto& [k, v] : j.items()) {
            if (k != "model" && k != "stage" && k != "outcome" && k != "failure" && k != "reason") {
                return bad(fmt::format("{}: unknown field \"{}\"", where, describe::render_string(k)));
            }
        }
        auto text_field = [&](const char* k) -> std::optional<std::string> {
            const auto it = j.find(k);
            if (it == j.end() || !it->is_string()) return std::nullopt;
            return it->get<std::string>();
        };
        Expectation e;
        e.origin = origin;
        const auto model = text_field("model");
        if (!model || model->empty()) return bad(where + ": \"model\" must be a non-empty string");
        e.model = *model;
        const auto stage = text_field("stage");
        const auto id = stage ? stage_from_name(*stage) : std::nullopt;
        if (!id) return bad(where + ": \"stage\" must be one of cpp_header, cpp_full, logits");
        e.stage = *id;
        const auto fails = fails_from_outcome(text_field("outcome").value_or(kOutcomeFail));
        if (!fails) return bad(where + ": \"outcome\" must be \"fail\" or \"pass\"");
        e.fails = *fails;
        if (j.contains("failure")) {
            const auto name = text_field("failure");
            if (!name) return bad(where + ": \"failure\" must be a string");
            e.failure = failure_from_name(*name);
            if (!e.failure)
                return bad(fmt::format("{}: \"{}\" is not a failure class", where, describe::render_string(*name)));
            if (!e.fails) return bad(where + ": a \"failure\" needs \"outcome\": \"fail\"");
        }
        const auto reason = text_field("reason");
        if (!reason || reason->empty()) return bad(where + ": \"reason\" must say why");
        e.reason = *reason;
        out.add(std::move(e));
    }
    return out;
}

gguf::Result<Expectations, ExpectationsError> Expectations::read(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        return ExpectationsError{ExpectationsCode::io_error, fmt::format("'{}' is not a readable file", path.string())};
    }
    if (std::filesystem::file_size(path, ec) > kMaxBytes) {
        return ExpectationsError{ExpectationsCode::io_error, fmt::format("'{}' is larger than 16 MiB", path.string())};
    }
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in && !in.eof()) {
        return ExpectationsError{ExpectationsCode::io_error, fmt::format("cannot read '{}'", path.string())};
    }
    return parse(ss.str(), path.string());
}

void Expectations::append(const Expectations& other) {
    entries_.insert(entries_.end(), other.entries_.begin(), other.entries_.end());
}

const Expectation* Expectations::find(std::string_view model_key, StageId stage) const {
    const std::string key(model_key);
    const auto slash = key.find_last_of('/');
    const std::string file_name = slash == std::string::npos ? key : key.substr(slash + 1);
    for (const auto& e : entries_) {
        if (e.stage != stage) continue;
        const auto& subject = e.model.find('/') == std::string::npos ? file_name : key;
        if (fnmatch(e.model.c_str(), subject.c_str(), 0) == 0) return &e;
    }
    return nullptr;
}

std::string describe_rule(const Expectation& e) {
    return fmt::format("expectation '{}' {} ({}): {}", e.model, stage_name(e.stage), e.origin, e.reason);
}

std::string to_json_text(const Expectations& expectations) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& e : expectations.entries()) {
        nlohmann::json j{
            {"model", e.model}, {"stage", stage_name(e.stage)}, {"outcome", e.fails ? kOutcomeFail : kOutcomePass}};
        if (e.failure) j["failure"] = failure_name(*e.failure);
        j["reason"] = e.reason;
        list.push_back(std::move(j));
    }
    return nlohmann::json{{"schema_version", 1}, {"expectations", std::move(list)}}.dump(2) + "\n";
}

}  // namespace gguf::crossval
