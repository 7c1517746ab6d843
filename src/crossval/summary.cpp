// summary.json, junit.xml and summary.md from summary entries; entries back from summary.json.
#include "summary.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <charconv>
#include <set>

#include "describe/description.hpp"
#include "util/escape.hpp"

namespace gguf::crossval {
namespace {

std::string xml_escape(std::string_view s) {
    return util::xml_text(s);
}

std::string md_cell(std::string_view s) {
    return util::markdown_cell(s);
}

nlohmann::json stage_json(const SummaryStage& s) {
    return {{"name", s.name},
            {"ok", s.ok},
            {"xfail", s.xfail},
            {"xpass", s.xpass},
            {"failure", s.failure},
            {"xfail_rule", s.xfail_rule},
            {"message", s.message},
            {"log_excerpt", s.log_excerpt},
            {"duration_ms", s.duration_ms}};
}

const char* outcome_word(const SummaryEntry& e) {
    if (e.exit_code != kPass) return "FAIL";
    if (e.xpass) return "XPASS";
    return e.xfail ? "XFAIL" : "PASS";
}

}  // namespace

SummaryEntry summary_entry(const Report& r, std::size_t index, std::string key, std::string report_path,
                           double duration_ms) {
    SummaryEntry e;
    e.index = index;
    e.key = describe::render_string(key);
    e.model = r.model;
    e.report = describe::render_string(report_path);
    e.verdict = std::string(verdict_name(r.verdict));
    e.exit_code = r.exit_code;
    e.xfail = r.xfail();
    e.xpass = r.xpass();
    e.duration_ms = duration_ms;
    for (const auto& s : r.stages) {
        e.stages.push_back({std::string(stage_name(s.id)), s.ok, s.xfail, s.xpass, failure_name(s.failure),
                            s.xfail_rule, s.message, s.log_excerpt, s.duration_ms});
    }
    e.compared = r.compared;
    for (const auto& m : r.comparison.mismatches) {
        e.mismatches.push_back(
            fmt::format("{}: ours {} reference {}", m.path.render(), m.ours.dump(), m.reference.dump()));
    }
    e.findings = r.findings;
    return e;
}

std::optional<Shard> parse_shard(std::string_view text) {
    const auto number = [](std::string_view digits) -> std::optional<std::size_t> {
        std::size_t v = 0;
        const auto* end = digits.data() + digits.size();
        const auto [ptr, ec] = std::from_chars(digits.data(), end, v);
        if (digits.empty() || ec != std::errc() || ptr != end) return std::nullopt;
        return v;
    };
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto i = number(text.substr(0, slash));
    const auto n = number(text.substr(slash + 1));
    if (!i || !n || *n == 0 || *i == 0 || *i > *n || *n > 100000) return std::nullopt;
    return Shard{*i, *n};
}

int overall_exit_code(const std::vector<SummaryEntry>& entries) {
    for (int code : {kDisagree, kReaderRejected, kReferenceFailed}) {
        for (const auto& e : entries) {
            if (e.exit_code == code) return code;
        }
    }
    return kPass;
}

nlohmann::json summary_json(const std::vector<SummaryEntry>& entries, const std::optional<Shard>& shard) {
    nlohmann::json models = nlohmann::json::array();
    std::size_t pass = 0, xfail = 0, xpass = 0, fail = 0;
    double total_ms = 0;
    for (const auto& e : entries) {
        if (e.exit_code != kPass)
            ++fail;
        else if (e.xfail)
            ++xfail;
        else
            ++pass;
        if (e.xpass) ++xpass;
        total_ms += e.duration_ms;
        nlohmann::json stages = nlohmann::json::object();
        nlohmann::json detail = nlohmann::json::array();
        for (const auto& s : e.stages) {
            stages[s.name] = s.ok ? (s.xpass ? "xpass" : "ok") : (s.xfail ? "xfail:" : "fail:") + s.failure;
            detail.push_back(stage_json(s));
        }
        models.push_back({{"index", e.index},
                          {"key", e.key},
                          {"model", e.model},
                          {"report", e.report},
                          {"verdict", e.verdict},
                          {"exit_code", e.exit_code},
                          {"xfail", e.xfail},
                          {"xpass", e.xpass},
                          {"duration_ms", e.duration_ms},
                          {"stages", std::move(stages)},
                          {"stage_details", std::move(detail)},
                          {"compared", e.compared},
                          {"mismatches", e.mismatches},
                          {"findings", e.findings}});
    }
    nlohmann::json out{
        {"schema_version", kSchemaVersion},
        {"timestamp", utc_timestamp()},
        {"platform", platform_name()},
        {"counts", {{"total", entries.size()}, {"pass", pass}, {"xfail", xfail}, {"xpass", xpass}, {"fail", fail}}},
        {"exit_code", overall_exit_code(entries)},
        {"duration_ms", total_ms},
        {"models", std::move(models)}};
    if (shard) out["shard"] = {{"index", shard->index}, {"count", shard->count}};
    return out;
}

gguf::Result<std::vector<SummaryEntry>, SummaryError> entries_from_summary(const nlohmann::json& summary) {
    auto bad = [](std::string what) { return SummaryError{"summary.json: " + std::move(what)}; };
    if (!summary.is_object() || !summary.contains("models") || !summary["models"].is_array()) {
        return bad("no \"models\" array");
    }
    std::vector<SummaryEntry> out;
    for (const auto& m : summary["models"]) {
        try {
            SummaryEntry e;
            e.index = m.at("index").get<std::size_t>();
            e.key = m.at("key").get<std::string>();
            e.model = m.at("model").get<std::string>();
            e.report = m.at("report").get<std::string>();
            e.verdict = m.at("verdict").get<std::string>();
            e.exit_code = m.at("exit_code").get<int>();
            e.xfail = m.at("xfail").get<bool>();
            e.xpass = m.at("xpass").get<bool>();
            e.duration_ms = m.at("duration_ms").get<double>();
            for (const auto& s : m.at("stage_details")) {
                e.stages.push_back({s.at("name").get<std::string>(), s.at("ok").get<bool>(), s.at("xfail").get<bool>(),
                                    s.at("xpass").get<bool>(), s.at("failure").get<std::string>(),
                                    s.at("xfail_rule").get<std::string>(), s.at("message").get<std::string>(),
                                    s.at("log_excerpt").get<std::string>(), s.at("duration_ms").get<double>()});
            }
            e.compared = m.at("compared").get<bool>();
            e.mismatches = m.at("mismatches").get<std::vector<std::string>>();
            e.findings = m.at("findings").get<std::vector<std::string>>();
            out.push_back(std::move(e));
        } catch (const nlohmann::json::exception& ex) {
            return bad(fmt::format("model {}: {}", out.size(), ex.what()));
        }
    }
    return out;
}

gguf::Result<std::vector<SummaryEntry>, SummaryError> merge_entries(std::vector<std::vector<SummaryEntry>> shards) {
    std::vector<SummaryEntry> all;
    for (auto& s : shards) std::move(s.begin(), s.end(), std::back_inserter(all));
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    for (std::size_t i = 1; i < all.size(); ++i) {
        if (all[i].index == all[i - 1].index) {
            return SummaryError{fmt::format("model index {} ({}) is in two shards", all[i].index, all[i].key)};
        }
    }
    return all;
}

std::string junit_xml(const std::vector<SummaryEntry>& entries) {
    std::string cases;
    std::size_t tests = 0, failures = 0, skipped = 0;
    double total_s = 0;
    for (const auto& e : entries) {
        const auto classname = xml_escape(e.key);
        for (const auto& s : e.stages) {
            ++tests;
            total_s += s.duration_ms / 1000;
            cases += fmt::format("  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\">", classname,
                                 xml_escape(s.name), s.duration_ms / 1000);
            const auto what = s.failure + (s.message.empty() ? "" : ": " + s.message);
            if (s.ok && s.xpass) {
                cases += "<system-out>XPASS: an expectation declares that this stage fails</system-out>";
            } else if (s.ok) {
            } else if (s.xfail) {
                ++skipped;
                cases += fmt::format("<skipped message=\"XFAIL {}\">{}</skipped>", xml_escape(what),
                                     xml_escape(s.xfail_rule));
            } else {
                ++failures;
                cases += fmt::format("<failure message=\"{}\">{}\n\n{}</failure>", xml_escape(what), xml_escape(what),
                                     util::xml_content(s.log_excerpt));
            }
            cases += "</testcase>\n";
        }
        if (e.compared || !e.findings.empty()) {
            ++tests;
            cases += fmt::format("  <testcase classname=\"{}\" name=\"comparison\" time=\"0\">", classname);
            if (!e.mismatches.empty() || !e.findings.empty()) {
                ++failures;
                std::string body;
                for (const auto& m : e.mismatches) body += m + "\n";
                for (const auto& f : e.findings) body += f + "\n";
                cases += fmt::format("<failure message=\"readers disagree\">{}</failure>", util::xml_content(body));
            }
            cases += "</testcase>\n";
        }
    }
    return fmt::format(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<testsuites>\n<testsuite name=\"gguf-crossval\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" "
        "time=\"{:.3f}\">\n{}</testsuite>\n</testsuites>\n",
        tests, failures, skipped, total_s, cases);
}

std::string summary_markdown(const std::vector<SummaryEntry>& entries) {
    std::size_t pass = 0, xfail = 0, xpass = 0, fail = 0;
    for (const auto& e : entries) {
        const std::string_view w = outcome_word(e);
        if (w == "FAIL")
            ++fail;
        else if (w == "XPASS")
            ++xpass;
        else if (w == "XFAIL")
            ++xfail;
        else
            ++pass;
    }
    std::string out = fmt::format("## gguf-crossval: {} models, {} pass, {} xfail, {} xpass, {} fail\n\n",
                                  entries.size(), pass, xfail, xpass, fail);
    out += "| model | outcome | verdict | stages | why |\n|---|---|---|---|---|\n";
    for (const auto& e : entries) {
        std::vector<std::string> stages, why;
        for (const auto& s : e.stages) {
            stages.push_back(md_cell(s.name) + " " +
                             (s.ok ? (s.xpass ? "xpass" : "ok") : (s.xfail ? "xfail" : "FAIL")));
            if (!s.ok) why.push_back(md_cell(s.name + ": " + s.failure + (s.xfail ? " (" + s.xfail_rule + ")" : "")));
        }
        for (const auto& f : e.findings) why.push_back(md_cell(f));
        if (!e.mismatches.empty()) why.push_back(fmt::format("{} mismatches", e.mismatches.size()));
        out += fmt::format("| {} | {} | {} | {} | {} |\n", md_cell(e.key), outcome_word(e), md_cell(e.verdict),
                           fmt::join(stages, ", "), fmt::join(why, "; "));
    }
    return out;
}

}  // namespace gguf::crossval
