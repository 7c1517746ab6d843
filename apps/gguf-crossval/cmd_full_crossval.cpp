// full-crossval: generate the fixture set, cross-validate it and every model in a directory.
#include <algorithm>
#include <fmt/format.h>
#include <optional>

#include "command.hpp"
#include "crossval/summary.hpp"
#include "crossval_output.hpp"
#include "describe/description.hpp"
#include "fixtures/fixture_set.hpp"
#include "util/atomic_file.hpp"

namespace cli {
namespace {

// Every *.gguf under dir, sorted. A directory that cannot be read or an entry whose type cannot be
// told (a symlink loop) is an error: silently leaving models out would make a run look complete.
std::optional<std::vector<std::filesystem::path>> models_under(const std::filesystem::path& dir, std::string& error) {
    namespace fs = std::filesystem;
    std::vector<fs::path> out;
    std::error_code ec;
    fs::recursive_directory_iterator it(dir, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->path().extension() != ".gguf") continue;
        std::error_code type_ec;
        const bool regular = it->is_regular_file(type_ec);
        if (type_ec) {
            error = fmt::format("cannot tell what '{}' is: {}", gguf::describe::render_string(it->path().string()),
                                type_ec.message());
            return std::nullopt;
        }
        if (regular) out.push_back(it->path());
    }
    if (ec) {
        const auto where = it == fs::recursive_directory_iterator() ? dir : it->path();
        error = fmt::format("cannot read the directory under '{}': {}", gguf::describe::render_string(where.string()),
                            ec.message());
        return std::nullopt;
    }
    std::sort(out.begin(), out.end());
    return out;
}

// The report's file name: index and stem, the stem cut so that the name stays within NAME_MAX.
std::string report_name(std::size_t index, const std::filesystem::path& model) {
    auto stem = model.stem().string();
    if (stem.size() > 200) stem.resize(200);
    return fmt::format("{:03}-{}.json", index, stem);
}

}  // namespace

Command add_full_crossval(CLI::App& root) {
    auto* app = root.add_subcommand(
        "full-crossval",
        "Generate the fixture set (mini v3, mini --version 2, tiny models), cross-validate each fixture (the tiny "
        "models through every stage, logits included) and every *.gguf under --models; write one report per model, "
        "summary.json and junit.xml");
    app->footer(kCrossvalFooter);
    struct Opts {
        std::string models;
        std::string out = "build/crossval";
        std::string cpp_dir;
        double timeout_s = 60;
        bool logits = false;
    };
    auto opts = std::make_shared<Opts>();
    app->add_option("--models", opts->models, "A directory searched recursively for *.gguf files");
    app->add_option("--out", opts->out, "Where fixtures, reports, summary.json and junit.xml go")
        ->capture_default_str();
    add_reference_options(*app, opts->cpp_dir, opts->timeout_s);
    app->add_flag("--logits", opts->logits,
                  "Also run the logits stage on the models under --models (the tiny models always run it)");
    return {app, [opts] {
                if (!opts->models.empty() && !std::filesystem::is_directory(opts->models)) {
                    fmt::print(stderr, "error: --models '{}' is not a directory\n", opts->models);
                    return int{kUsage};
                }
                std::vector<std::filesystem::path> more;
                if (!opts->models.empty()) {
                    std::string why;
                    auto found = models_under(opts->models, why);
                    if (!found) {
                        fmt::print(stderr, "error: --models: {}\n", why);
                        return int{kUsage};
                    }
                    more = std::move(*found);
                }
                const std::filesystem::path out = opts->out;
                std::error_code ec;
                if (std::filesystem::exists(out, ec) && !std::filesystem::is_directory(out, ec)) {
                    fmt::print(stderr, "error: --out '{}' exists and is not a directory\n", out.string());
                    return int{kUsage};
                }
                // A previous run's summary must not stand for this one if this one is interrupted.
                std::filesystem::remove(out / "summary.json", ec);
                std::filesystem::remove(out / "junit.xml", ec);
                bool all_written = true;
                std::string seed_source;
                const auto seed = gguf::fixtures::seed_from_environment(seed_source);
                if (!seed) {
                    fmt::print(stderr, "error: {} is not an unsigned 64-bit decimal number\n", seed_source);
                    return int{kUsage};
                }
                std::vector<std::filesystem::path> models;
                std::vector<bool> with_logits;
                for (const auto& f : gguf::fixtures::fixture_set(*seed)) {
                    const auto path = out / "fixtures" / f.file_name;
                    if (auto s = f.writer.write_file(path); !s) {
                        fmt::print(stderr, "error: {}\n", s.error().message);
                        return int{kWriteFailed};
                    }
                    models.push_back(path);
                    with_logits.push_back(f.complete_model);
                }
                models.insert(models.end(), more.begin(), more.end());
                with_logits.resize(models.size(), opts->logits);
                std::vector<gguf::crossval::RunEntry> runs;
                for (std::size_t i = 0; i < models.size(); ++i) {
                    fmt::print(stderr, "[{}/{}] {}\n", i + 1, models.size(), safe(models[i].string()));
                    auto options = crossval_options(models[i].string(), opts->cpp_dir, opts->timeout_s);
                    options.logits.enabled = with_logits[i];
                    auto report = gguf::crossval::run(options);
                    const auto report_path = out / "reports" / report_name(i, models[i]);
                    if (auto s = gguf::crossval::write_json_atomically(report_path, gguf::crossval::to_json(report));
                        !s) {
                        fmt::print(stderr, "error: {}\n", s.error().message);
                        all_written = false;
                    }
                    fmt::print("{}\n", verdict_line(report));
                    runs.push_back({std::move(report), report_path.string()});
                }
                const auto summary = gguf::crossval::summary_json(runs);
                if (auto s = gguf::crossval::write_json_atomically(out / "summary.json", summary); !s) {
                    fmt::print(stderr, "error: {}\n", s.error().message);
                    all_written = false;
                }
                if (auto failed = gguf::util::write_file(out / "junit.xml", gguf::crossval::junit_xml(runs))) {
                    fmt::print(stderr, "error: {}\n", failed->message);
                    all_written = false;
                }
                const auto& c = summary["counts"];
                fmt::print("{} models: {} pass, {} xfail, {} fail. Summary: {}, JUnit: {}\n", c["total"].get<int>(),
                           c["pass"].get<int>(), c["xfail"].get<int>(), c["fail"].get<int>(),
                           (out / "summary.json").string(), (out / "junit.xml").string());
                return all_written ? gguf::crossval::overall_exit_code(runs) : int{kWriteFailed};
            }};
}

}  // namespace cli
