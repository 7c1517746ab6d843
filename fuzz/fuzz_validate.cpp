// fuzz_validate: the path of `gguf-crossval validate --json`: parse, then the JSON report, plus
// checks that the verdict is a function of the bytes alone (a second parse agrees) and that a
// valid file's every prefix that cuts into its metadata is rejected.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.hpp"
#include "issues_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const gguf::Bytes input(reinterpret_cast<const std::byte*>(data), size);
    auto first = gguf::parse(input);
    auto second = gguf::parse(input);
    FUZZ_CHECK(first.ok() == second.ok());
    if (!first) {
        fuzz::check_error(first.error(), input);
        FUZZ_CHECK(first.error().code == second.error().code && first.error().offset == second.error().offset);
    } else {
        fuzz::walk_file(*first, input);
        FUZZ_CHECK(first->kvs().size() == second->kvs().size());
        FUZZ_CHECK(first->tensors().size() == second->tensors().size());
        FUZZ_CHECK(first->warnings().size() == second->warnings().size());
        // Cutting the file anywhere inside its metadata must be reported, never accepted.
        const auto cut = first->metadata_end() == 0 ? 0 : (size * 7919u) % first->metadata_end();
        auto shorter = gguf::parse(input.first(cut));
        FUZZ_CHECK(!shorter.ok());
        FUZZ_CHECK(shorter.error().code == gguf::Code::truncated || shorter.error().code == gguf::Code::bad_magic ||
                   shorter.error().code == gguf::Code::nonstandard_header_layout);
    }
    const auto report = cli::validation_json("fuzz-input.gguf", first);
    FUZZ_CHECK(report["ok"].get<bool>() == first.ok());
    const auto text = report.dump();  // throws (and so crashes) on invalid UTF-8 in a message
    FUZZ_CHECK(!text.empty());
    return 0;
}
