// full-crossval: generate the fixture set, cross-validate it and every model in a directory, and write
// the reports, summary.json, junit.xml and summary.md.
#include <algorithm>
#include <chrono>
#include <fmt/format.h>

#include "command.hpp"
#include "crossval/summary.hpp"
#include "crossval_output.hpp"
#include "fixtures/fixture_set.hpp"

namespace cli {
namespace {

namespace fs = std::filesystem;

// One model of the run: where it is, how expectations and reports name it, which stages it gets.
struct ModelRun {
    fs::path path;
    std::string key;  // "fixtures/NAME", or the path relative to --models
    bool logits = false;
};

struct Opts {
    std::string models;
    std::string out = "crossval-results";
    std::string cpp_dir;
    double timeout_s = 60;
    gguf::crossval::LogitsOptions logits;  // --logits applies to the models under --models
    std::string against;
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
        std::error_code type_ec;
        if (it->is_regular_file(type_ec) && it->path().extension() == ".gguf") out.push_back(it->path());
    }
    if (ec) {
        return gguf::Error{gguf::Code::io_error, 0,
                           fmt::format("cannot list the models under '{}': {}", dir.string(), ec.message())};
    }
    std::sort(out.begin(), out.end());
    return out;
}

// "I/N" with 1 <= I <= N.
std::optional<gguf::crossval::Shard> parse_shard(const std::string& text) {
    const auto slash = text.find('/');
    if (slash == std::string::npos) return std::nullopt;
    std::size_t i = 0, n = 0;
    try {
        std::size_t used = 0;
        i = std::stoul(text.substr(0, slash), &used);
        if (used != slash) return std::nullopt;
        n = std::stoul(text.substr(slash + 1), &used);
        if (used != text.size() - slash - 1) return std::nullopt;
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (n == 0 || i == 0 || i > n || n > 100000) return std::nullopt;
    return gguf::crossval::Shard{i, n};
}

// Write the fixture set and its expectations into out/fixtures; list the runs (fixtures first).
gguf::Result<std::vector<ModelRun>> plan(const Opts& o, gguf::crossval::Expectations& expectations) {
    const fs::path out = o.out;
    std::vector<ModelRun> runs;
    for (const auto& f : gguf::fixtures::fixture_set(gguf::fixtures::seed_from_environment())) {
        const auto path = out / "fixtures" / f.file_name;
        if (auto s = f.writer.write_file(path); !s) return s.error();
        runs.push_back({path, "fixtures/" + f.file_name, f.complete_model});
    }
    const auto fixture_expectations = gguf::fixtures::fixture_expectations_json();
    auto own = gguf::crossval::Expectations::parse(fixture_expectations, "the fixture set");
    if (!own) return gguf::Error{gguf::Code::io_error, 0, own.error().message};
    expectations.append(*own);
    if (auto s = gguf::crossval::write_text_atomically(out / "fixtures" / "expectations.json", fixture_expectations);
        !s) {
        return s.error();
    }
    if (!o.models.empty()) {
        auto more = models_under(o.models);
        if (!more) return more.error();
        for (const auto& p : *more) {
            runs.push_back({p, fs::relative(p, o.models).generic_string(), o.logits.enabled});
        }
    }
    return runs;
}

int run_all(const Opts& o) {
    if (!o.models.empty() && !fs::is_directory(o.models)) {
        fmt::print(stderr, "error: --models '{}' is not a directory\n", o.models);
        return kUsage;
    }
    std::optional<gguf::crossval::Shard> shard;
    if (!o.shard.empty() && !(shard = parse_shard(o.shard))) {
        fmt::print(stderr, "error: --shard '{}' is not I/N with 1 <= I <= N\n", o.shard);
        return kUsage;
    }
    gguf::crossval::LogitsOptions logits = o.logits;
    if (auto why = check_against(o.against, logits); !why.empty()) {
        fmt::print(stderr, "error: {}\n", why);
        return kUsage;
    }
    gguf::crossval::Expectations expectations;
    if (auto why = load_expectations(o.expect, expectations); !why.empty()) {
        fmt::print(stderr, "error: {}\n", why);
        return kUsage;
    }
    auto runs = plan(o, expectations);
    if (!runs) {
        fmt::print(stderr, "error: {}\n", runs.error().message);
        return kUsage;
    }

    const fs::path out = o.out;
    std::vector<gguf::crossval::SummaryEntry> entries;
    for (std::size_t i = 0; i < runs->size(); ++i) {
        if (shard && !shard->takes(i)) continue;
        const auto& m = (*runs)[i];
        fmt::print(stderr, "[{}/{}] {}\n", i + 1, runs->size(), gguf::describe::render_string(m.key));
        auto options = crossval_options(m.path.string(), o.cpp_dir, o.timeout_s);
        options.logits = logits;
        options.logits.enabled = m.logits;
        options.expectations = &expectations;
        options.model_key = m.key;
        options.strict = o.expect.strict;
        const auto start = std::chrono::steady_clock::now();
        auto report = gguf::crossval::run(options);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        const auto report_path = out / "reports" / fmt::format("{:03}-{}.json", i, m.path.stem().string());
        if (auto s = gguf::crossval::write_json_atomically(report_path, gguf::crossval::to_json(report)); !s) {
            fmt::print(stderr, "error: {}\n", s.error().message);
        }
        fmt::print("{}\n", verdict_line(report));
        entries.push_back(gguf::crossval::summary_entry(report, i, m.key, report_path.string(), ms));
    }
    return write_summaries(entries, shard, out);
}

}  // namespace

int write_summaries(const std::vector<gguf::crossval::SummaryEntry>& entries,
                    const std::optional<gguf::crossval::Shard>& shard, const fs::path& out) {
    const auto summary = gguf::crossval::summary_json(entries, shard);
    for (const auto& [name, text] :
         {std::pair<const char*, std::string>{"summary.json", summary.dump(2) + "\n"},
          {"junit.xml", gguf::crossval::junit_xml(entries)},
          {"summary.md", gguf::crossval::summary_markdown(entries)}}) {
        if (auto s = gguf::crossval::write_text_atomically(out / name, text); !s) {
            fmt::print(stderr, "error: {}\n", s.error().message);
            return kUsage;
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
    add_expect_options(*app, opts->expect);
    app->add_option("--shard", opts->shard,
                    "I/N: run only the models whose index (in the whole run's order) modulo N is I-1; combine the "
                    "shards' outputs with 'gguf-crossval merge'");
    return {app, [opts] { return run_all(*opts); }};
}

}  // namespace cli
