// gen-corpus: write the conformance corpus and its manifest.
#include <fmt/format.h>
#include <algorithm>

#include "command.hpp"
#include "fixtures/corpus.hpp"

namespace cli {

Command add_gen_corpus(CLI::App& root) {
    auto* app = root.add_subcommand("gen-corpus",
                                    "Write the conformance corpus: valid edge cases and malformed GGUF files, built "
                                    "with our writer, and manifest.json saying what a correct reader does with each");
    auto out = std::make_shared<std::string>();
    app->add_option("--out,-o", *out, "Directory to write into (created if missing; existing files are replaced)")
        ->required();
    return {app, [out] {
                const auto cases = gguf::fixtures::corpus();
                std::error_code ec;
                if (std::filesystem::exists(*out, ec) && !std::filesystem::is_directory(*out, ec)) {
                    fmt::print(stderr, "error: --out '{}' exists and is not a directory\n", *out);
                    return int{kUsage};
                }
                auto status = gguf::fixtures::write_corpus(*out, cases);
                if (!status) {
                    fmt::print(stderr, "error: {}\n", status.error().message);
                    return int{kWriteFailed};
                }
                const auto n_valid = std::count_if(cases.begin(), cases.end(), [](const auto& c) { return c.valid; });
                fmt::print("wrote {} files to {} ({} valid, {} malformed) and {}/manifest.json\n", cases.size(), *out,
                           n_valid, cases.size() - static_cast<std::size_t>(n_valid), *out);
                return int{kOk};
            }};
}

}  // namespace cli
