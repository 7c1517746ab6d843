// gen-mini-gguf: write the mini fixture.
#include <fmt/format.h>

#include "command.hpp"
#include "fixtures/mini_fixture.hpp"

namespace cli {

Command add_gen_mini(CLI::App& root) {
    auto* app = root.add_subcommand("gen-mini-gguf",
                                    "Write the mini fixture: standard GGUF v3, 4 key-value pairs, no tensors, 224 "
                                    "bytes, data offset == file size");
    struct Opts {
        std::string output;
        int version = 3;
    };
    auto opts = std::make_shared<Opts>();
    app->add_option("--output,-o", opts->output, "Where to write the file (parent directories are created)")
        ->required();
    app->add_option("--version", opts->version,
                    "Requested GGUF version: 3, or 2 to tag compat.v2_requested=true (the file is v3 either way)")
        ->check(CLI::IsMember({2, 3}));
    return {app, [opts] {
                if (!output_path_ok(opts->output, "--output")) return int{kUsage};
                auto status = gguf::fixtures::mini_fixture(opts->version).write_file(opts->output);
                if (!status) {
                    fmt::print(stderr, "error: {}\n", status.error().message);
                    return int{kWriteFailed};
                }
                fmt::print("wrote {} (GGUF v3, {} bytes, compat.v2_requested={})\n", opts->output,
                           gguf::fixtures::kMiniFixtureSize, opts->version == 2);
                return int{kOk};
            }};
}

}  // namespace cli
