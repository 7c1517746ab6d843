// crossval: our reader, then the reference's header parse and full load, compared field by field.
#include <fmt/format.h>

#include "command.hpp"
#include "crossval/flow.hpp"
#include "crossval_output.hpp"
#include "tokenize_options.hpp"
#include "trace_options.hpp"

namespace cli {

namespace {

struct Opts {
    std::string model;
    std::string report = "crossval-report.json";
    std::string cpp_dir;
    double timeout_s = 60;
    gguf::crossval::LogitsOptions logits;
    gguf::crossval::TraceOptions trace;
    std::string against;
    ExpectOptions expect;
    bool dequant = false;
    gguf::crossval::TokenizeOptions tokenize;
    std::vector<std::string> texts;
};

// The command: its checks (which complete the options: tokens, routes), the run, the report.
int run_crossval(const CLI::App& app, Opts& o) {
    if (!output_path_ok(o.report, "--report")) return int{kUsage};
    if (o.logits.save && !output_path_ok(o.logits.save->string(), "--logits-out")) {
        return int{kUsage};
    }
    if (auto why = readable_model(o.model); !why.empty()) {
        return usage_report(o.model, o.report, why);
    }
    if (auto why = check_tokens(app, o.logits, o.model); !why.empty()) {
        return usage_report(o.model, o.report, why);
    }
    if (auto why = route_text(o.texts, app.count("--tokens") > 0, o.logits.enabled || o.trace.enabled, &o.tokenize,
                              o.logits, o.model);
        !why.empty()) {
        return usage_report(o.model, o.report, why);
    }
    if (auto why = route_against(o.against, o.logits, o.trace); !why.empty()) {
        return usage_report(o.model, o.report, why);
    }
    gguf::crossval::Expectations expectations;
    if (auto why = load_expectations(o.expect, expectations); !why.empty()) {
        return usage_report(o.model, o.report, why);
    }
    auto options = crossval_options(o.model, o.cpp_dir, o.timeout_s);
    options.logits = o.logits;
    options.expectations = &expectations;
    options.strict = o.expect.strict;
    options.trace = o.trace;
    options.dequant = o.dequant;
    options.tokenize = o.tokenize;
    const auto report = gguf::crossval::run(options);
    if (const auto* trace = report.stage(gguf::crossval::StageId::trace))
        fmt::print("{}", gguf::crossval::trace_table(*trace));
    if (const auto* tokenize = report.stage(gguf::crossval::StageId::tokenize))
        fmt::print("{}", gguf::crossval::tokenize_table(*tokenize));
    return finish_report(report, o.report);
}

}  // namespace

Command add_crossval(CLI::App& root) {
    auto* app = root.add_subcommand(
        "crossval",
        "Cross-validate one GGUF file: our reader (must pass), llama.cpp's header parse (compared field by field), "
        "llama.cpp's full model load, with --logits the logits of a token sequence, and with --trace every "
        "intermediate tensor of its decode, with --tokenize its tokenizer on test texts. The reference runs in a "
        "child process.");
    app->footer(kCrossvalFooter);
    auto opts = std::make_shared<Opts>();
    app->add_option("--model,-m", opts->model, "The GGUF file")->required();
    app->add_option("--report", opts->report, "Where to write the JSON report (default: in the current directory)")
        ->capture_default_str();
    add_reference_options(*app, opts->cpp_dir, opts->timeout_s);
    add_logits_options(*app, opts->logits, opts->against);
    add_expect_options(*app, opts->expect);
    add_trace_options(*app, opts->trace);
    add_text_option(*app, opts->texts);
    add_tokenize_options(*app, opts->tokenize);
    app->add_flag(
        "--dequant", opts->dequant,
        "Add the dequant stage: every tensor to f32 by our library and by ggml's to_float, compared bit for bit");
    return {app, [app, opts] { return run_crossval(*app, *opts); }};
}

}  // namespace cli
