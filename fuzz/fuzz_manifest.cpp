// fuzz_manifest: the corpus manifest `matrix DIR` reads (DIR/manifest.json). A manifest that parses
// lists only entries with a name that stays inside the corpus directory; a rejected one has a message
// that a JSON report can carry.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string_view>

#include "crossval/matrix.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto files = gguf::crossval::parse_manifest(text, "manifest.json");
    if (!files) {
        FUZZ_CHECK(!files.error().message.empty());
        FUZZ_CHECK(!nlohmann::json(files.error().message).dump().empty());  // throws on invalid UTF-8
        return 0;
    }
    for (const auto& f : *files) {
        const auto rel = std::filesystem::path(f.file).lexically_normal();
        FUZZ_CHECK(!f.file.empty() && !rel.is_absolute() && !rel.empty() && *rel.begin() != "..");
        FUZZ_CHECK(f.cells.empty());
    }
    return 0;
}
