// Expectations: per model (path or glob) and per reference stage, the outcome a run should have and
// the failure class if it should fail, with a reason. A failure that matches its expectation is an
// XFAIL; one that does not match fails; a declared failure that passes is an XPASS. The file format
// (JSON) is documented in docs/expectations.md and schema/expectations.schema.json.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/error.hpp"
#include "verdict.hpp"

namespace gguf::crossval {

struct Expectation {
    std::string model;  // a path or fnmatch(3) glob; without '/' it is matched against the file name
    StageId stage = StageId::cpp_full;
    bool fails = true;               // "outcome": "fail" (true) or "pass"
    std::optional<Failure> failure;  // the failure class it fails with; unset: any failure
    std::string reason;
    std::string origin;  // where it was declared: the file, or "fixture set"
};

// Errors of reading an expectations file (its own codes: not a GGUF format).
enum class ExpectationsCode { io_error, bad_json, bad_field };
struct ExpectationsError {
    ExpectationsCode code = ExpectationsCode::bad_json;
    std::string message;
};

class Expectations {
public:
    // Parse an expectations document. `origin` names it in reports.
    static gguf::Result<Expectations, ExpectationsError> parse(std::string_view json_text, const std::string& origin);
    static gguf::Result<Expectations, ExpectationsError> read(const std::filesystem::path& path);

    void add(Expectation e) { entries_.push_back(std::move(e)); }
    void append(const Expectations& other);
    bool empty() const { return entries_.empty(); }
    const std::vector<Expectation>& entries() const { return entries_; }

    // The first expectation for this model key and stage, if any. The key is the model's path as the
    // run names it (relative to --models, "fixtures/NAME" for the fixture set).
    const Expectation* find(std::string_view model_key, StageId stage) const;

private:
    std::vector<Expectation> entries_;
};

// Why a stage's failure is an XFAIL.
std::string describe_rule(const Expectation& e);

// The expectations document as JSON text (what parse() reads).
std::string to_json_text(const Expectations& expectations);

}  // namespace gguf::crossval
