// full-crossval: generate the fixture set, cross-validate it and every model in a directory, and write
// the reports, summary.json, junit.xml and summary.md.
#include <fmt/format.h>
#include <algorithm>
#include <chrono>

#include "command.hpp"
#include "crossval/summary.hpp"
#include "crossval_output.hpp"
#include "fixtures/fixture_set.hpp"
#include "tokenize_options.hpp"
#include "trace_options.hpp"
#include "util/atomic_file.hpp"

namespace cli {
namespace {

namespace fs = std::filesystem;

// One model of the run: where it is, how expectations and reports name it, which stages it gets.
struct ModelRun {
    fs::path path;
    std::string key;  // "fixtures/NAME", or the path relative to --models
    bool logits = false;
    bool builtin = false;  // compare the logits with the built-in forward pass
};

struct Opts {
    std::string models;
    std::string out = "crossval-results";
    std::string cpp_dir;
    double timeout_s = 60;
    gguf::crossval::LogitsOptions logits;  // --logits applies to the models under --models
    gguf::crossval::TraceOptions trace;    // --trace applies to the models under --models
    std::string against;
    bool builtin = false;
    bool dequant = false;
    std::vector<std::string> texts;  // --text: what the logits and trace stages decode, per model's vocabulary
    ExpectOptions expect;
    std::string shard;
};

// Every *.gguf under dir, sorted; an unreadable directory or a symlink loop is an error, not a
// silent omission.
gguf::Result<std::vector<fs::path>> models_under(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    auto it = fs::recursive_directory_iterator(dir, fs::directory_options::none, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->path().extension() != ".gguf") continue;
        std::error_code type_ec;
        const bool regular = it->is_regular_file(type_ec);
        if (type_ec) {
            return gguf::Error{gguf::Code::io_error, 0,
                               fmt::format("cannot tell what '{}' is: {}",
                                           gguf::describe::render_string(it->path().string()), type_ec.message())};
        }
        if (regular) out.push_back(it->path());
    }
    if (ec) {
        const auto where = it == fs::recursive_directory_iterator() ? dir : it->path();
        return gguf::Error{gguf::Code::io_error, 0,
                           fmt::format("cannot read the directory under '{}': {}",
                                       gguf::describe::render_string(where.string()), ec.message())};
    }
    std::sort(out.begin(), out.end());
    return out;
}

// The report's file name: index and stem, the stem cut so that the name stays within NAME_MAX.
std::string report_name(std::size_t index, const fs::path& model) {
    auto stem = model.stem().string();
    if (stem.size() > 200) stem.resize(200);
    return fmt::format("{:03}-{}.json", index, stem);
}

// Write the fixture set and its expectations into out/fixtures; list the runs (fixtures first, then
// `models`, found under --models).
gguf::Result<std::vector<ModelRun>> plan(const Opts& o, std::uint64_t seed, const std::vector<fs::path>& models,
                                         gguf::crossval::Expectations& expectations) {
    const fs::path out = o.out;
    std::vector<ModelRun> runs;
    for (const auto& f : gguf::fixtures::fixture_set(seed)) {
        const auto path = out / "fixtures" / f.file_name;
        if (auto s = f.writer.write_file(path); !s) return s.error();
        runs.push_back({path, "fixtures/" + f.file_name, f.complete_model, f.complete_model});
    }
    const auto fixture_expectations = gguf::fixtures::fixture_expectations_json();
    auto own = gguf::crossval::Expectations::parse(fixture_expectations, "the fixture set");
    if (!own) return gguf::Error{gguf::Code::io_error, 0, own.error().message};
    expectations.append(*own);
    if (auto s = gguf::crossval::write_text_atomically(out / "fixtures" / "expectations.json", fixture_expectations);
        !s) {
        return s.error();
    }
    for (const auto& p : models) {
        runs.push_back({p, fs::relative(p, o.models).generic_string(), o.logits.enabled || o.builtin, o.builtin});
    }
    return runs;
}

int run_all(const Opts& o) {
    if (!o.models.empty() && !fs::is_directory(o.models)) {
        fmt::print(stderr, "error: --models '{}' is not a directory\n", o.models);
        return kUsage;
    }
    std::optional<gguf::crossval::Shard> shard;
    if (!o.shard.empty() && !(shard = gguf::crossval::parse_shard(o.shard))) {
        fmt::print(stderr, "error: --shard '{}' is not I/N with 1 <= I <= N\n", o.shard);
        return kUsage;
    }
    gguf::crossval::LogitsOptions logits = o.logits;
    gguf::crossval::TraceOptions trace = o.trace;
    if (o.builtin && !o.against.empty()) {
        fmt::print(stderr, "error: --builtin and --against name two second sources; give one\n");
        return kUsage;
    }
    // The tiny models always decode, so --text always has a decode to go to.
    if (auto why = route_text(o.texts, !o.logits.tokens.empty(), true, nullptr, logits, {}); !why.empty()) {
        fmt::print(stderr, "error: {}\n", why);
        return kUsage;
    }
    if (auto why = route_against(o.against, logits, trace); !why.empty()) {
        fmt::print(stderr, "error: {}\n", why);
        return kUsage;
    }
    gguf::crossval::Expectations expectations;
    if (auto why = load_expectations(o.expect, expectations); !why.empty()) {
        fmt::print(stderr, "error: {}\n", why);
        return kUsage;
    }
    std::string seed_source;
    const auto seed = gguf::fixtures::seed_from_environment(seed_source);
    if (!seed) {
        fmt::print(stderr, "error: {} is not an unsigned 64-bit decimal number\n", seed_source);
        return kUsage;
    }
    const fs::path out = o.out;
    std::error_code ec;
    if (fs::exists(out, ec) && !fs::is_directory(out, ec)) {
        fmt::print(stderr, "error: --out '{}' exists and is not a directory\n", safe(out.string()));
        return kUsage;
    }
    // A previous run's summaries must not stand for this one if this one is interrupted.
    for (const char* name : {"summary.json", "junit.xml", "summary.md"}) fs::remove(out / name, ec);
    std::vector<fs::path> models;
    if (!o.models.empty()) {
        auto found = models_under(o.models);
        if (!found) {
            fmt::print(stderr, "error: --models: {}\n", safe(found.error().message));
            return kUsage;
        }
        models = std::move(found).value();
    }
    auto runs = plan(o, *seed, models, expectations);
    if (!runs) {
        fmt::print(stderr, "error: {}\n", safe(runs.error().message));
        return kWriteFailed;
    }

    std::vector<gguf::crossval::SummaryEntry> entries;
    bool all_written = true;
    for (std::size_t i = 0; i < runs->size(); ++i) {
        if (shard && !shard->takes(i)) continue;
        const auto& m = (*runs)[i];
        fmt::print(stderr, "[{}/{}] {}\n", i + 1, runs->size(), safe(m.key));
        auto options = crossval_options(m.path.string(), o.cpp_dir, o.timeout_s);
        options.logits = logits;
        options.logits.enabled = m.logits;
        if (m.builtin && !logits.against) {
            options.logits.against = gguf::crossval::AgainstSource{
                gguf::crossval::AgainstSource::Kind::builtin, {}, logits.builtin_activations};
        }
        // The tiny models run the trace and dequant stages only when asked, like the models under --models.
        options.trace = trace;
        options.dequant = o.dequant;
        options.expectations = &expectations;
        options.model_key = m.key;
        options.strict = o.expect.strict;
        const auto start = std::chrono::steady_clock::now();
        auto report = gguf::crossval::run(options);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        const auto report_path = out / "reports" / report_name(i, m.path);
        if (auto s = gguf::crossval::write_json_atomically(report_path, gguf::crossval::to_json(report)); !s) {
            fmt::print(stderr, "error: {}\n", s.error().message);
            all_written = false;
        }
        fmt::print("{}\n", verdict_line(report));
        entries.push_back(gguf::crossval::summary_entry(report, i, m.key, report_path.string(), ms));
    }
    const int code = write_summaries(entries, shard, out);
    return all_written ? code : int{kWriteFailed};
}

}  // namespace

int write_summaries(const std::vector<gguf::crossval::SummaryEntry>& entries,
                    const std::optional<gguf::crossval::Shard>& shard, const fs::path& out) {
    const auto summary = gguf::crossval::summary_json(entries, shard);
    for (const auto& [name, text] :
         {std::pair<const char*, std::string>{
              "summary.json", summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"},
          {"junit.xml", gguf::crossval::junit_xml(entries)},
          {"summary.md", gguf::crossval::summary_markdown(entries)}}) {
        if (auto failed = gguf::util::write_file(out / name, text)) {
            fmt::print(stderr, "error: {}\n", failed->message);
            return kWriteFailed;
        }
    }
    const auto& c = summary["counts"];
    fmt::print("{} models: {} pass, {} xfail, {} xpass, {} fail. Summary: {}, JUnit: {}, Markdown: {}\n",
               c["total"].get<int>(), c["pass"].get<int>(), c["xfail"].get<int>(), c["xpass"].get<int>(),
               c["fail"].get<int>(), (out / "summary.json").string(), (out / "junit.xml").string(),
               (out / "summary.md").string());
    return gguf::crossval::overall_exit_code(entries);
}

Command add_full_crossval(CLI::App& root) {
    auto* app = root.add_subcommand(
        "full-crossval",
        "Generate the fixture set (mini v3, mini --version 2, tiny models) with its own expectations, cross-validate "
        "each fixture (the tiny models through every stage, logits included) and every *.gguf under --models; write "
        "one report per model, summary.json, junit.xml and summary.md");
    app->footer(kCrossvalFooter);
    auto opts = std::make_shared<Opts>();
    app->add_option("--models", opts->models, "A directory searched recursively for *.gguf files");
    app->add_option("--out", opts->out, "Where fixtures, reports, summary.json, junit.xml and summary.md go")
        ->capture_default_str();
    add_reference_options(*app, opts->cpp_dir, opts->timeout_s);
    add_logits_options(*app, opts->logits, opts->against);
    add_trace_options(*app, opts->trace);
    add_text_option(*app, opts->texts);
    app->add_flag("--dequant", opts->dequant,
                  "Add the dequant stage to every model: every tensor to f32 by our library and by ggml's to_float, "
                  "compared bit for bit");
    add_expect_options(*app, opts->expect);
    app->add_flag("--builtin", opts->builtin,
                  "Also compare the logits of the models under --models with the built-in forward pass (implies "
                  "--logits; the tiny models always are, unless --against names another second source)");
    app->add_option("--shard", opts->shard,
                    "I/N: run only the models whose index (in the whole run's order) modulo N is I-1; combine the "
                    "shards' outputs with 'gguf-crossval merge'");
    return {app, [opts] { return run_all(*opts); }};
}

}  // namespace cli
