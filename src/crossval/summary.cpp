#include "summary.hpp"

#include <fmt/format.h>

#include "describe/description.hpp"
#include "util/escape.hpp"

namespace gguf::crossval {
namespace {

std::string xml_escape(std::string_view s) { return util::xml_text(s); }

}  // namespace

int overall_exit_code(const std::vector<RunEntry>& runs) {
    for (int code : {kDisagree, kReaderRejected, kReferenceFailed}) {
        for (const auto& r : runs) {
            if (r.report.exit_code == code) return code;
        }
    }
    return kPass;
}

nlohmann::json summary_json(const std::vector<RunEntry>& runs) {
    nlohmann::json models = nlohmann::json::array();
    std::size_t pass = 0, xfail = 0, fail = 0;
    for (const auto& e : runs) {
        const auto& r = e.report;
        if (r.exit_code != kPass) ++fail;
        else if (r.xfail()) ++xfail;
        else ++pass;
        nlohmann::json stages = nlohmann::json::object();
        for (const auto& s : r.stages) {
            stages[s.name] = s.ok ? "ok" : (s.xfail ? "xfail:" + s.failure_class : "fail:" + s.failure_class);
        }
        models.push_back({{"model", r.model},
                          {"report", describe::render_string(e.report_path)},
                          {"verdict", r.verdict},
                          {"exit_code", r.exit_code},
                          {"xfail", r.xfail()},
                          {"stages", std::move(stages)},
                          {"mismatches", r.comparison.mismatches.size()},
                          {"findings", r.findings}});
    }
    return {{"schema_version", kSchemaVersion},
            {"timestamp", utc_timestamp()},
            {"platform", platform_name()},
            {"counts", {{"total", runs.size()}, {"pass", pass}, {"xfail", xfail}, {"fail", fail}}},
            {"exit_code", overall_exit_code(runs)},
            {"models", std::move(models)}};
}

std::string junit_xml(const std::vector<RunEntry>& runs) {
    std::string cases;
    std::size_t tests = 0, failures = 0, skipped = 0;
    double total_s = 0;
    for (const auto& e : runs) {
        const auto& r = e.report;
        const auto classname = xml_escape(std::filesystem::path(r.model).filename().string());
        for (const auto& s : r.stages) {
            ++tests;
            total_s += s.duration_ms / 1000;
            cases += fmt::format("  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\">", classname, xml_escape(s.name),
                                 s.duration_ms / 1000);
            const auto what = xml_escape(s.failure_class + (s.message.empty() ? "" : ": " + s.message));
            if (s.ok) {
            } else if (s.xfail) {
                ++skipped;
                cases += fmt::format("<skipped message=\"XFAIL {}\"/>", what);
            } else {
                ++failures;
                cases += fmt::format("<failure message=\"{}\">{}</failure>", what, util::xml_content(s.log_excerpt));
            }
            cases += "</testcase>\n";
        }
        if (r.compared || !r.findings.empty()) {
            ++tests;
            cases += fmt::format("  <testcase classname=\"{}\" name=\"comparison\" time=\"0\">", classname);
            if (!r.comparison.equal || !r.findings.empty()) {
                ++failures;
                std::string body;
                for (const auto& m : r.comparison.mismatches) {
                    body += fmt::format("{}: ours {} reference {}\n", m.field, m.ours.dump(), m.reference.dump());
                }
                for (const auto& f : r.findings) body += f + "\n";
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

}  // namespace gguf::crossval
