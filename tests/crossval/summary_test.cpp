// summary.json, junit.xml and summary.md: rendered from summary entries, which survive a round trip
// through summary.json (what `merge` relies on); shards partition the models.
#include <gtest/gtest.h>

#include "crossval/expectations.hpp"
#include "crossval/summary.hpp"

using namespace gguf::crossval;
using gguf::reference::FailureClass;

namespace {

SummaryEntry entry(std::size_t index, const std::string& key, int code) {
    Report r;
    r.model = "/tmp/" + key;
    r.exit_code = code;
    r.stages = {Stage{.id = StageId::reader, .ran = true, .ok = true},
                Stage{.id = StageId::cpp_header,
                      .ran = true,
                      .ok = false,
                      .xfail = true,
                      .xfail_rule = "expectation 'x' cpp_header (f): why",
                      .duration_ms = 1500,
                      .failure = FailureClass::reference_unavailable,
                      .message = "no build"},
                Stage{.id = StageId::cpp_full,
                      .ran = true,
                      .ok = false,
                      .duration_ms = 250,
                      .failure = FailureClass::timeout,
                      .message = "did not finish",
                      .log_excerpt = "the log"}};
    return summary_entry(r, index, key, "reports/" + key + ".json", 1750);
}

}  // namespace

TEST(Summary, ExitCodeIsTheMostSevere) {
    EXPECT_EQ(overall_exit_code({entry(0, "a", kPass), entry(1, "b", kPass)}), kPass);
    EXPECT_EQ(overall_exit_code({entry(0, "a", kReferenceFailed), entry(1, "b", kReaderRejected)}), kReaderRejected);
    EXPECT_EQ(overall_exit_code({entry(0, "a", kReaderRejected), entry(1, "b", kDisagree), entry(2, "c", kPass)}),
              kDisagree);
    EXPECT_EQ(overall_exit_code({}), kPass);
}

TEST(Summary, JunitClassnameIsTheKeyWithTimesAndTheMessageBeforeTheLog) {
    const auto xml = junit_xml({entry(0, "a/m<1>.gguf", kReferenceFailed), entry(1, "b/m<1>.gguf", kReferenceFailed)});
    EXPECT_NE(xml.find("tests=\"6\" failures=\"2\" errors=\"0\" skipped=\"2\""), std::string::npos) << xml;
    // Two models of one file name in different directories do not collide.
    EXPECT_NE(xml.find("classname=\"a/m&lt;1&gt;.gguf\" name=\"cpp_header\" time=\"1.500\""), std::string::npos) << xml;
    EXPECT_NE(xml.find("classname=\"b/m&lt;1&gt;.gguf\" name=\"cpp_full\" time=\"0.250\""), std::string::npos) << xml;
    EXPECT_NE(xml.find("<skipped message=\"XFAIL reference_unavailable: no build\">expectation"), std::string::npos);
    const auto failure = xml.find("<failure message=\"timeout: did not finish\">timeout: did not finish\n\nthe log");
    EXPECT_NE(failure, std::string::npos) << xml;
}

TEST(Summary, OutputsCarryNoRawControlCharactersOrMarkupFromKeys) {
    const std::string hostile = "x\x1b[2K\r|`</testcase>\n**PASS**.gguf";
    auto e = entry(0, hostile, kReferenceFailed);
    e.findings.push_back("finding with | and \x1b[1A");
    const auto xml = junit_xml({e});
    EXPECT_EQ(xml.find('\x1b'), std::string::npos);
    EXPECT_EQ(xml.find("</testcase>\n**"), std::string::npos);
    const auto md = summary_markdown({e});
    EXPECT_EQ(md.find('\x1b'), std::string::npos);
    EXPECT_EQ(md.find('\r'), std::string::npos);
    // Every table row has exactly the table's 5 cells: the | in the key is escaped.
    std::size_t rows = 0;
    for (std::size_t at = md.find("\n|"); at != std::string::npos; at = md.find("\n|", at + 1)) {
        const auto end = md.find('\n', at + 1);
        const auto line = md.substr(at + 1, end - at - 1);
        std::size_t bars = 0;
        for (std::size_t i = 0; i < line.size(); ++i) {
            if (line[i] == '|' && (i == 0 || line[i - 1] != '\\')) ++bars;
        }
        EXPECT_EQ(bars, 6u) << line;
        ++rows;
    }
    EXPECT_EQ(rows, 3u) << md;  // header, separator, one model
}

TEST(Summary, EntriesRoundTripThroughSummaryJson) {
    const std::vector<SummaryEntry> entries{entry(0, "fixtures/a.gguf", kPass), entry(3, "m/b.gguf", kReferenceFailed)};
    const auto j = summary_json(entries);
    auto back = entries_from_summary(j);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(junit_xml(*back), junit_xml(entries));
    EXPECT_EQ(summary_markdown(*back), summary_markdown(entries));
    auto again = summary_json(*back);
    again["timestamp"] = j["timestamp"];
    EXPECT_EQ(again, j);
}

TEST(Summary, MalformedSummaryJsonIsAnErrorNotACrash) {
    for (const char* text : {R"([])", R"({"models": 5})", R"({"models": [{"index": "x"}]})",
                             R"({"models": [{"index": 1, "key": ["x"]}]})"}) {
        EXPECT_FALSE(entries_from_summary(nlohmann::json::parse(text)).ok()) << text;
    }
}

TEST(Summary, ShardsPartitionTheModelsAndMergeInOrder) {
    const Shard shards[] = {{1, 3}, {2, 3}, {3, 3}};
    std::vector<std::vector<SummaryEntry>> parts(3);
    for (std::size_t i = 0; i < 10; ++i) {
        int takers = 0;
        for (std::size_t s = 0; s < 3; ++s) {
            if (shards[s].takes(i)) {
                ++takers;
                parts[s].push_back(entry(i, "m" + std::to_string(i), kPass));
            }
        }
        EXPECT_EQ(takers, 1) << i;
    }
    auto merged = merge_entries(parts);
    ASSERT_TRUE(merged.ok());
    ASSERT_EQ(merged->size(), 10u);
    for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ((*merged)[i].index, i);
    parts[1].push_back(entry(0, "m0", kPass));
    EXPECT_FALSE(merge_entries(parts).ok());
}

TEST(Expectations, ParseAndMatchByKeyOrFileName) {
    auto e = Expectations::parse(R"({"schema_version": 1, "expectations": [
        {"model": "fixtures/mini*.gguf", "stage": "cpp_full", "failure": "unknown_architecture", "reason": "r1"},
        {"model": "nan.gguf", "stage": "cpp_full", "outcome": "pass", "reason": "r2"}]})",
                                 "test");
    ASSERT_TRUE(e.ok()) << e.error().message;
    const auto* mini = e->find("fixtures/mini-v2.gguf", StageId::cpp_full);
    ASSERT_NE(mini, nullptr);
    EXPECT_TRUE(mini->fails);
    ASSERT_TRUE(mini->failure.has_value());
    EXPECT_EQ(failure_name(*mini->failure), "unknown_architecture");
    EXPECT_EQ(e->find("fixtures/mini.gguf", StageId::cpp_header), nullptr);
    EXPECT_EQ(e->find("other/mini.gguf", StageId::cpp_full), nullptr);      // a pattern with '/' matches the key
    const auto* by_name = e->find("deep/dir/nan.gguf", StageId::cpp_full);  // one without, the file name
    ASSERT_NE(by_name, nullptr);
    EXPECT_FALSE(by_name->fails);
}

TEST(Expectations, MalformedFilesAreRefusedWithTheField) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"expectations": []})", "schema_version"},
        {R"({"schema_version": 1})", "expectations"},
        {R"({"schema_version": 1, "expectations": [{"model": "m", "stage": "reader", "reason": "r"}]})", "stage"},
        {R"({"schema_version": 1,
             "expectations": [{"model": "m", "stage": "cpp_full", "failure": "nope", "reason": "r"}]})",
         "not a failure class"},
        {R"({"schema_version": 1, "expectations": [{"model": "m", "stage": "cpp_full"}]})", "reason"},
        {R"({"schema_version": 1, "expectations": [{"model": "m", "stage": "cpp_full", "reason": "r", "extra": 1}]})",
         "unknown field"},
        {R"({"schema_version": 1, "expectations": [{"model": "m", "stage": "cpp_full", "outcome": "pass",
             "failure": "timeout", "reason": "r"}]})",
         "outcome"},
        {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "nested"},
        {"not json", "not a JSON object"},
    };
    for (const auto& [text, why] : cases) {
        auto e = Expectations::parse(text, "t");
        ASSERT_FALSE(e.ok()) << text;
        EXPECT_NE(e.error().message.find(why), std::string::npos) << text << ": " << e.error().message;
    }
}

TEST(Expectations, RoundTripThroughTheirJsonText) {
    auto e = Expectations::parse(R"({"schema_version": 1, "expectations": [
        {"model": "a/*.gguf", "stage": "logits", "failure": "non_finite_logits", "reason": "r"}]})",
                                 "t");
    ASSERT_TRUE(e.ok());
    auto back = Expectations::parse(to_json_text(*e), "t");
    ASSERT_TRUE(back.ok()) << back.error().message;
    ASSERT_EQ(back->entries().size(), 1u);
    EXPECT_EQ(back->entries()[0].model, "a/*.gguf");
    EXPECT_EQ(back->entries()[0].stage, StageId::logits);
    EXPECT_EQ(failure_name(*back->entries()[0].failure), "non_finite_logits");
}
