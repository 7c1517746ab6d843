// gen-model: write a tiny complete model (llama or bitnet) that llama.cpp loads and decodes.
#include <fmt/format.h>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string>

#include "command.hpp"
#include "fixtures/fixture_set.hpp"
#include "fixtures/tiny_model.hpp"

namespace cli {
Command add_gen_model(CLI::App& root) {
    auto* app = root.add_subcommand("gen-model",
                                    "Write a tiny complete model with seeded weights and a built-in vocabulary: "
                                    "llama (f32, f16, q8_0) or bitnet (f16, q8_0, tq1_0, tq2_0, i2_s), under 1 MB");
    struct Opts {
        std::string arch;
        std::string type;
        std::optional<std::string> seed;
        bool ternary = false;
        std::string output;
    };
    auto opts = std::make_shared<Opts>();
    app->add_option("--arch", opts->arch, "Architecture")->required()->check(CLI::IsMember({"llama", "bitnet"}));
    app->add_option("--type", opts->type, "Weight type of the matrices (norms stay f32)")
        ->required()
        ->check(CLI::IsMember({"f32", "f16", "q8_0", "tq1_0", "tq2_0", "i2_s"}));
    app->add_option("--seed", opts->seed, "Weight seed (default: $CROSSVAL_SEED, else $BITNET_SEED, else 42)");
    app->add_flag("--ternary", opts->ternary,
                  "Ternary weights (amplitude x {-1,0,+1} per tensor): every type then holds the same numbers");
    app->add_option("--output,-o", opts->output, "Where to write the file (parent directories are created)")
        ->required();
    return {
        app, [opts] {
            gguf::fixtures::TinyModelSpec spec;
            spec.arch = *gguf::fixtures::arch_from_name(opts->arch);
            spec.type = *gguf::fixtures::type_from_name(opts->type);
            spec.ternary = opts->ternary;
            std::string source = "--seed";
            const auto seed =
                opts->seed ? gguf::fixtures::parse_seed(*opts->seed) : gguf::fixtures::seed_from_environment(source);
            if (seed) {
                spec.seed = *seed;
            } else {
                fmt::print(stderr, "error: {} is not an unsigned 64-bit decimal number\n", source);
                return int{kUsage};
            }
            if (auto why = gguf::fixtures::tiny_unsupported(spec)) {
                fmt::print(stderr, "error: --arch {} --type {} is not supported: {}\n", opts->arch, opts->type, *why);
                return int{kUsage};
            }
            auto model = gguf::fixtures::tiny_model(spec);
            if (!model) {
                fmt::print(stderr, "error: {}\n", model.error().message);
                return int{kUsage};
            }
            const auto size = model->to_bytes().size();
            if (!output_path_ok(opts->output, "--output")) return int{kUsage};
            if (auto status = model->write_file(opts->output); !status) {
                fmt::print(stderr, "error: {}\n", status.error().message);
                return int{kWriteFailed};
            }
            fmt::print("wrote {} ({} {}, seed {} from {}, {} bytes)\n", opts->output, opts->arch, opts->type, spec.seed,
                       source, size);
            return int{kOk};
        }};
}

}  // namespace cli
