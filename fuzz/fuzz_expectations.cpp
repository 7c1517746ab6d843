// fuzz_expectations: the expectations file (`--expect`, docs/expectations.md). A document that
// parses writes back (to_json_text) to one that parses to the same rules, and every rule can be
// looked up; a rejected one has a message that a JSON report can carry.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "crossval/expectations.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace cv = gguf::crossval;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto parsed = cv::Expectations::parse(text, "fuzz-expectations.json");
    if (!parsed) {
        FUZZ_CHECK(!parsed.error().message.empty());
        FUZZ_CHECK(!nlohmann::json(parsed.error().message).dump().empty());  // throws on invalid UTF-8
        return 0;
    }
    auto again = cv::Expectations::parse(cv::to_json_text(*parsed), "fuzz-expectations.json");
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->entries().size() == parsed->entries().size());
    for (std::size_t i = 0; i < parsed->entries().size(); ++i) {
        const auto& a = parsed->entries()[i];
        const auto& b = again->entries()[i];
        FUZZ_CHECK(a.model == b.model && a.stage == b.stage && a.fails == b.fails && a.failure == b.failure &&
                   a.reason == b.reason);
        FUZZ_CHECK(!cv::describe_rule(a).empty());
        (void)parsed->find(a.model, a.stage);
        (void)parsed->find("models/" + a.model, a.stage);
    }
    return 0;
}
