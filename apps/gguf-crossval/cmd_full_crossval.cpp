// full-crossval: generate the fixture set, cross-validate it and every model in a directory.
#include <algorithm>
#include <fmt/format.h>
#include <fstream>

#include "command.hpp"
#include "crossval/summary.hpp"
#include "crossval_output.hpp"
#include "fixtures/fixture_set.hpp"

namespace cli {
namespace {

std::vector<std::filesystem::path> models_under(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file() && it->path().extension() == ".gguf") out.push_back(it->path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

Command add_full_crossval(CLI::App& root) {
    auto* app = root.add_subcommand(
        "full-crossval",
        "Generate the fixture set (mini v3, mini --version 2, tiny models), cross-validate each fixture (the tiny "
        "models through every stage, logits included and compared with the built-in forward pass) and every *.gguf "
        "under --models; write one report per model, "
        "summary.json and junit.xml");
    app->footer(kCrossvalFooter);
    struct Opts {
        std::string models;
        std::string out = "build/crossval";
        std::string cpp_dir;
        double timeout_s = 60;
        bool logits = false;
        bool builtin = false;
    };
    auto opts = std::make_shared<Opts>();
    app->add_option("--models", opts->models, "A directory searched recursively for *.gguf files");
    app->add_option("--out", opts->out, "Where fixtures, reports, summary.json and junit.xml go")
        ->capture_default_str();
    add_reference_options(*app, opts->cpp_dir, opts->timeout_s);
    app->add_flag("--logits", opts->logits,
                  "Also run the logits stage on the models under --models (the tiny models always run it)");
    app->add_flag("--builtin", opts->builtin,
                  "Also compare the logits of the models under --models with the built-in forward pass (implies "
                  "--logits; the tiny models always are)");
    return {app, [opts] {
                if (!opts->models.empty() && !std::filesystem::is_directory(opts->models)) {
                    fmt::print(stderr, "error: --models '{}' is not a directory\n", opts->models);
                    return int{kUsage};
                }
                const std::filesystem::path out = opts->out;
                const auto seed = gguf::fixtures::seed_from_environment();
                std::vector<std::filesystem::path> models;
                std::vector<bool> with_logits;
                std::vector<bool> with_builtin;  // llama.cpp vs the built-in forward pass
                for (const auto& f : gguf::fixtures::fixture_set(seed)) {
                    const auto path = out / "fixtures" / f.file_name;
                    if (auto s = f.writer.write_file(path); !s) {
                        fmt::print(stderr, "error: {}\n", s.error().message);
                        return int{kUsage};
                    }
                    models.push_back(path);
                    with_logits.push_back(f.complete_model);
                    with_builtin.push_back(f.complete_model);
                }
                if (!opts->models.empty()) {
                    auto more = models_under(opts->models);
                    models.insert(models.end(), more.begin(), more.end());
                    with_logits.resize(models.size(), opts->logits || opts->builtin);
                    with_builtin.resize(models.size(), opts->builtin);
                }
                std::vector<gguf::crossval::RunEntry> runs;
                for (std::size_t i = 0; i < models.size(); ++i) {
                    fmt::print(stderr, "[{}/{}] {}\n", i + 1, models.size(), models[i].string());
                    auto options = crossval_options(models[i].string(), opts->cpp_dir, opts->timeout_s);
                    options.logits.enabled = with_logits[i];
                    if (with_builtin[i]) options.logits.against = gguf::crossval::AgainstSource{gguf::crossval::AgainstSource::Kind::builtin, {}};
                    auto report = gguf::crossval::run(options);
                    const auto report_path =
                        out / "reports" / fmt::format("{:03}-{}.json", i, models[i].stem().string());
                    if (auto s = gguf::crossval::write_json_atomically(report_path, gguf::crossval::to_json(report));
                        !s) {
                        fmt::print(stderr, "error: {}\n", s.error().message);
                    }
                    fmt::print("{}\n", verdict_line(report));
                    runs.push_back({std::move(report), report_path.string()});
                }
                const auto summary = gguf::crossval::summary_json(runs);
                (void)gguf::crossval::write_json_atomically(out / "summary.json", summary);
                std::ofstream(out / "junit.xml") << gguf::crossval::junit_xml(runs);
                const auto& c = summary["counts"];
                fmt::print("{} models: {} pass, {} xfail, {} fail. Summary: {}, JUnit: {}\n", c["total"].get<int>(),
                           c["pass"].get<int>(), c["xfail"].get<int>(), c["fail"].get<int>(),
                           (out / "summary.json").string(), (out / "junit.xml").string());
                return gguf::crossval::overall_exit_code(runs);
            }};
}

}  // namespace cli
