// fuzz_probe_answer: what a reference probe prints on stdout (a user's own build, via --cpp-dir,
// prints what it likes). The answer is read as the crossval stages read it: an outcome whose payload
// is an object when it passes, whose failure has a class and a message otherwise; a header answer
// becomes a Description or an error, never an exception, and the same one whether the payload is
// kept or consumed; the outcome's text serialises as JSON.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "describe/description.hpp"
#include "fuzz_check.hpp"
#include "reference/reference.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace ref = gguf::reference;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    ref::StageOutcome o;
    ref::read_probe_answer("header", 0, text, "", o);
    if (o.ok) {
        FUZZ_CHECK(o.payload.is_object() && o.failure == ref::FailureClass::none);
        auto d = ref::description_from_header(o.payload);
        // The matrix's consuming form frees each key-value's JSON as it goes: it reads the same.
        auto consumed = ref::description_from_header(nlohmann::json(o.payload));
        FUZZ_CHECK(consumed.ok() == d.ok());
        if (d && consumed) FUZZ_CHECK(gguf::describe::to_json(*consumed) == gguf::describe::to_json(*d));
        if (!d && !consumed) FUZZ_CHECK(consumed.error().message == d.error().message);
        if (d) {
            FUZZ_CHECK(!gguf::describe::to_json(*d).dump().empty());  // throws on invalid UTF-8
        } else {
            FUZZ_CHECK(!d.error().message.empty());
            FUZZ_CHECK(!nlohmann::json(d.error().message).dump().empty());
        }
    } else {
        FUZZ_CHECK(o.failure != ref::FailureClass::none && !o.message.empty());
        FUZZ_CHECK(o.payload.is_null() || o.payload.is_object());
    }
    // The message is built from the answer's (parsed, so valid UTF-8) strings: it serialises as is. The
    // log excerpt is a byte tail and may cut a character: the report writer replaces such bytes.
    FUZZ_CHECK(!nlohmann::json(o.message).dump().empty());
    nlohmann::json stage = {{"message", o.message}, {"log_excerpt", o.log_excerpt}};
    FUZZ_CHECK(!stage.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).empty());
    return 0;
}
