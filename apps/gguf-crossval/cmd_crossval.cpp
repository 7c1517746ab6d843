// crossval: our reader, then the reference's header parse and full load, compared field by field.
#include <fmt/format.h>

#include "command.hpp"
#include "crossval/flow.hpp"
#include "crossval_output.hpp"

namespace cli {

Command add_crossval(CLI::App& root) {
    auto* app = root.add_subcommand(
        "crossval",
        "Cross-validate one GGUF file: our reader (must pass), llama.cpp's header parse (compared field by field), "
        "llama.cpp's full model load, and with --logits the logits of a token sequence. The reference runs in a "
        "child process.");
    app->footer(kCrossvalFooter);
    struct Opts {
        std::string model;
        std::string report = "crossval-report.json";
        std::string cpp_dir;
        double timeout_s = 60;
        gguf::crossval::LogitsOptions logits;
        std::string against;
        ExpectOptions expect;
    };
    auto opts = std::make_shared<Opts>();
    app->add_option("--model,-m", opts->model, "The GGUF file")->required();
    app->add_option("--report", opts->report, "Where to write the JSON report (default: in the current directory)")
        ->capture_default_str();
    add_reference_options(*app, opts->cpp_dir, opts->timeout_s);
    add_logits_options(*app, opts->logits, opts->against);
    add_expect_options(*app, opts->expect);
    return {app, [opts] {
                if (!std::filesystem::is_regular_file(opts->model)) {
                    fmt::print(stderr, "error: '{}' is not a readable file\n", opts->model);
                    return int{kUsage};
                }
                if (auto why = check_against(opts->against, opts->logits); !why.empty()) {
                    fmt::print(stderr, "error: {}\n", why);
                    return int{kUsage};
                }
                gguf::crossval::Expectations expectations;
                if (auto why = load_expectations(opts->expect, expectations); !why.empty()) {
                    fmt::print(stderr, "error: {}\n", why);
                    return int{kUsage};
                }
                auto options = crossval_options(opts->model, opts->cpp_dir, opts->timeout_s);
                options.logits = opts->logits;
                options.expectations = &expectations;
                options.strict = opts->expect.strict;
                const auto report = gguf::crossval::run(options);
                return finish_report(report, opts->report);
            }};
}

}  // namespace cli
