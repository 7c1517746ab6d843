// Logits metrics and logits files. Expected metrics are worked out by hand (in the comments) from
// the definitions in src/crossval/logits.hpp.
#include <gtest/gtest.h>

#include <unistd.h>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "crossval/logits.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

using gguf::crossval::Logits;
using gguf::crossval::LogitsCode;
using gguf::crossval::LogitsFormat;
using gguf::crossval::Thresholds;

namespace {

std::uint32_t bits(float f) {
    std::uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

gguf::Bytes view(const std::string& s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
gguf::Bytes view(const std::vector<std::byte>& b) {
    return {b.data(), b.size()};
}

// Three positions of 8 logits: position 0 a ramp, position 1 all ones, position 2 a ramp down.
Logits reference() {
    Logits l;
    l.n_vocab = 8;
    l.tokens = {1, 72, 105};
    l.values = {0, 1, 2, 3, 4, 5, 6, 7, 1, 1, 1, 1, 1, 1, 1, 1, 7, 6, 5, 4, 3, 2, 1, 0};
    return l;
}

}  // namespace

// ---- Metrics ----------------------------------------------------------------------------------

TEST(LogitsMetrics, IdenticalLogitsAgreeExactly) {
    const auto ref = reference();
    auto m = gguf::crossval::compare_logits(ref, ref);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_EQ(m->size(), 3u);
    for (const auto& p : *m) {
        EXPECT_TRUE(p.finite);
        EXPECT_EQ(p.max_abs_diff, 0.0);
        EXPECT_EQ(p.cosine, 1.0);
        EXPECT_EQ(p.kl, 0.0);
        EXPECT_TRUE(p.top1_match);
        EXPECT_EQ(p.top5_overlap, 5u);
    }
    EXPECT_EQ((*m)[0].ref_top1, 7u);
    EXPECT_EQ((*m)[2].ref_top1, 0u);
    EXPECT_FALSE(gguf::crossval::first_divergence(*m));
}

TEST(LogitsMetrics, OnePerturbedPositionIsCaughtThereWithTheExpectedMetrics) {
    const auto ref = reference();
    auto test = ref;
    test.values[8 + 3] = 2.0f;  // position 1, vocab index 3: 1 -> 2
    auto m = gguf::crossval::compare_logits(ref, test);
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)[0].max_abs_diff, 0.0);
    EXPECT_EQ((*m)[2].max_abs_diff, 0.0);
    const auto& p = (*m)[1];
    EXPECT_EQ(p.position, 1u);
    EXPECT_EQ(p.max_abs_diff, 1.0);
    EXPECT_EQ(p.max_abs_index, 3u);
    // cosine: ref = 8 ones, test = 7 ones and a 2: (7 + 2) / (sqrt(8) * sqrt(7 + 4)) = 9 / sqrt(88)
    EXPECT_NEAR(p.cosine, 9.0 / std::sqrt(88.0), 1e-15);
    // KL(p || q): p uniform 1/8; q = softmax(7 zeros and a 1) = 1/(7+e) and e/(7+e):
    //   sum p (ln p - ln q) = -ln 8 + ln(7 + e) - (1/8) * 1
    EXPECT_NEAR(p.kl, std::log(7.0 + std::exp(1.0)) - std::log(8.0) - 0.125, 1e-15);
    // top-1: ties go to the lower index, so the reference's is 0 and the test's is 3
    EXPECT_EQ(p.ref_top1, 0u);
    EXPECT_EQ(p.test_top1, 3u);
    EXPECT_FALSE(p.top1_match);
    // top-5: {0,1,2,3,4} and {3,0,1,2,4}
    EXPECT_EQ(p.top5_overlap, 5u);

    const auto d = gguf::crossval::first_divergence(*m);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->position, 1u);
    // the reference's row is flat (all ones): its logits of tokens 0 and 3 are equal, so the differing
    // argmax is a near-tie, not a top-1 mismatch
    EXPECT_EQ(p.top1_gap, 0.0);
    ASSERT_EQ(d->reasons.size(), 3u);  // max_abs, cosine, kl
    EXPECT_NE(d->reasons[0].find("max_abs_diff 1 > 0.0001 (vocab index 3)"), std::string::npos) << d->reasons[0];
    // without tie-awareness (a negative tolerance) it is a mismatch
    Thresholds no_ties;
    no_ties.top1_tie = -1;
    const auto d2 = gguf::crossval::first_divergence(*m, no_ties);
    ASSERT_TRUE(d2);
    ASSERT_EQ(d2->reasons.size(), 4u);  // max_abs, cosine, kl, top-1
    EXPECT_NE(d2->reasons[3].find("top-1 differs: reference 0, test 3"), std::string::npos) << d2->reasons[3];
}

TEST(LogitsMetrics, Top1DisagreementWithinTheTieToleranceIsNotAMismatch) {
    // reference: tokens 0 and 1 at 2 and 2 - 5e-5; test prefers 1. Gap 5e-5: within 1e-4, beyond 1e-5.
    Logits ref, test;
    ref.n_vocab = test.n_vocab = 3;
    ref.values = {2.0f, 2.0f - 5e-5f, 0.0f};
    test.values = {2.0f - 5e-5f, 2.0f, 0.0f};
    auto m = gguf::crossval::compare_logits(ref, test);
    ASSERT_TRUE(m);
    EXPECT_FALSE((*m)[0].top1_match);
    EXPECT_NEAR((*m)[0].top1_gap, 5e-5, 1e-6);
    Thresholds t;
    t.max_abs = t.max_kl = 1;
    t.min_cosine = 0;
    EXPECT_TRUE(gguf::crossval::failed_checks((*m)[0], t).empty());
    t.top1_tie = 1e-5;
    ASSERT_EQ(gguf::crossval::failed_checks((*m)[0], t).size(), 1u);
    EXPECT_NE(gguf::crossval::failed_checks((*m)[0], t)[0].find("top-1 differs"), std::string::npos);
}

TEST(LogitsMetrics, FirstDivergenceIsTheEarliestFailingPosition) {
    const auto ref = reference();
    auto test = ref;
    test.values[8 * 1 + 0] += 3e-4f;  // position 1: only max_abs fails (cosine and KL move by O(1e-8))
    test.values[8 * 2 + 0] = -50.0f;  // position 2: everything fails
    auto m = gguf::crossval::compare_logits(ref, test);
    ASSERT_TRUE(m);
    const auto d = gguf::crossval::first_divergence(*m);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->position, 1u);
    ASSERT_EQ(d->reasons.size(), 1u);
    EXPECT_NE(d->reasons[0].find("max_abs_diff"), std::string::npos);
    // with a looser absolute threshold, position 2 is the first
    Thresholds loose;
    loose.max_abs = 1e-3;
    const auto d2 = gguf::crossval::first_divergence(*m, loose);
    ASSERT_TRUE(d2);
    EXPECT_EQ(d2->position, 2u);
}

TEST(LogitsMetrics, ThresholdsAreInclusive) {
    gguf::crossval::PositionMetrics m;
    m.max_abs_diff = 1e-4;
    m.cosine = 0.9999;
    m.kl = 1e-6;
    EXPECT_TRUE(gguf::crossval::failed_checks(m).empty());
    m.top1_match = false;
    m.top1_gap = 1;  // the reference clearly prefers its own top
    EXPECT_EQ(gguf::crossval::failed_checks(m).size(), 1u);
    Thresholds no_top1;
    no_top1.require_top1 = false;
    EXPECT_TRUE(gguf::crossval::failed_checks(m, no_top1).empty());
}

TEST(LogitsMetrics, TopFiveOverlapCountsSharedIndices) {
    Logits ref, test;
    ref.n_vocab = test.n_vocab = 8;
    ref.values = {9, 8, 7, 6, 5, 0, 0, 0};   // top-5 {0,1,2,3,4}
    test.values = {9, 8, 7, 0, 0, 6, 5, 0};  // top-5 {0,1,2,5,6}: shares 0, 1, 2
    auto m = gguf::crossval::compare_logits(ref, test);
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)[0].top5_overlap, 3u);
    EXPECT_TRUE((*m)[0].top1_match);
    Thresholds strict;
    strict.max_abs = 100;
    strict.min_cosine = -1;
    strict.max_kl = 100;
    EXPECT_FALSE(gguf::crossval::first_divergence(*m, strict));
    strict.min_top5_overlap = 4;
    auto d = gguf::crossval::first_divergence(*m, strict);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->reasons, std::vector<std::string>{"top-5 overlap 3 < 4"});
}

TEST(LogitsMetrics, SoftmaxIsStableForLargeLogits) {
    // exp(1000) overflows a double. Softmax does not change when a constant is added to every logit,
    // so KL of [1000, 999] against [999, 999] equals KL of [1, 0] against [0, 0]:
    // p = (e/(1+e), 1/(1+e)), q = (1/2, 1/2).
    Logits ref, test;
    ref.n_vocab = test.n_vocab = 2;
    ref.values = {1000, 999};
    test.values = {999, 999};
    auto m = gguf::crossval::compare_logits(ref, test);
    ASSERT_TRUE(m);
    const double e = std::exp(1.0);
    const double p0 = e / (1 + e), p1 = 1 / (1 + e);
    const double expected = p0 * std::log(p0 / 0.5) + p1 * std::log(p1 / 0.5);
    EXPECT_TRUE(std::isfinite((*m)[0].kl));
    EXPECT_NEAR((*m)[0].kl, expected, 1e-12);
}

TEST(LogitsMetrics, NonFiniteValuesDivergeUnlessBitIdentical) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    Logits ref, test;
    ref.n_vocab = test.n_vocab = 4;
    ref.values = {1, 2, 3, 4};
    test.values = {1, nan, 3, 4};
    auto m = gguf::crossval::compare_logits(ref, test);
    ASSERT_TRUE(m);
    EXPECT_FALSE((*m)[0].finite);
    EXPECT_TRUE(std::isinf((*m)[0].max_abs_diff));
    auto d = gguf::crossval::first_divergence(*m);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->reasons[0], "non-finite logits (NaN or infinity)");
    auto same = gguf::crossval::compare_logits(test, test);
    ASSERT_TRUE(same);
    EXPECT_FALSE(gguf::crossval::first_divergence(*same));
}

TEST(LogitsMetrics, MismatchedMatricesAreErrors) {
    const auto ref = reference();
    auto other_vocab = ref;
    other_vocab.n_vocab = 4;  // 6 rows of 4
    auto a = gguf::crossval::compare_logits(ref, other_vocab);
    ASSERT_FALSE(a);
    EXPECT_NE(a.error().message.find("n_vocab differs: reference 8, test 4"), std::string::npos);

    auto fewer = ref;
    fewer.values.resize(16);
    fewer.tokens.resize(2);
    auto b = gguf::crossval::compare_logits(ref, fewer);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message.find("reference 3, test 2"), std::string::npos);

    auto other_tokens = ref;
    other_tokens.tokens[2] = 7;
    auto c = gguf::crossval::compare_logits(ref, other_tokens);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("from position 2"), std::string::npos) << c.error().message;

    auto no_tokens = ref;
    no_tokens.tokens.clear();  // unknown tokens: compared by position only
    EXPECT_TRUE(gguf::crossval::compare_logits(ref, no_tokens));

    EXPECT_FALSE(gguf::crossval::compare_logits(Logits{}, ref));
}

// ---- Files ------------------------------------------------------------------------------------

namespace {

Logits awkward() {
    Logits l;
    l.n_vocab = 5;
    l.tokens = {0, 2147483647};
    l.values = {1.0f / 3.0f,
                -0.0f,
                std::numeric_limits<float>::denorm_min(),
                std::numeric_limits<float>::max(),
                -1.17549435e-38f,
                16777217.0f /* rounds to 2^24 */,
                0.1f,
                -123456.789f,
                std::numeric_limits<float>::infinity(),
                -std::numeric_limits<float>::infinity()};
    return l;
}

}  // namespace

TEST(LogitsFiles, JsonRoundTripKeepsEveryBit) {
    const auto l = awkward();
    const auto text = gguf::crossval::to_json_text(l);
    auto back = gguf::crossval::parse_logits_json(text);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->n_vocab, 5u);
    EXPECT_EQ(back->tokens, l.tokens);
    ASSERT_EQ(back->values.size(), l.values.size());
    for (std::size_t i = 0; i < l.values.size(); ++i) EXPECT_EQ(bits(back->values[i]), bits(l.values[i])) << i;
    EXPECT_NE(text.find("\"-inf\""), std::string::npos);
}

TEST(LogitsFiles, JsonNaNBecomesAString) {
    Logits l;
    l.n_vocab = 1;
    l.values = {std::numeric_limits<float>::quiet_NaN()};
    const auto text = gguf::crossval::to_json_text(l);
    EXPECT_EQ(text, "{\"n_vocab\":1,\"logits\":[[\"nan\"]]}\n");
    auto back = gguf::crossval::parse_logits_json(text);
    ASSERT_TRUE(back);
    EXPECT_TRUE(std::isnan(back->values[0]));
}

TEST(LogitsFiles, JsonFromTheProbeCarriesBitPatterns) {
    // ref-probe prints "logits_bits": 0x3F800000 = 1.0f, 0xC0000000 = -2.0f, 0x7FC00001 a NaN with payload
    const std::string text =
        R"({"ok":true,"n_vocab":3,"tokens":[1],"logits_bits":[[1065353216,3221225472,2143289345]]})";
    auto l = gguf::crossval::parse_logits_json(text);
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_EQ(l->values[0], 1.0f);
    EXPECT_EQ(l->values[1], -2.0f);
    EXPECT_EQ(bits(l->values[2]), 0x7FC00001u);
}

TEST(LogitsFiles, BinaryLayoutIsExactlyTheDocumentedOne) {
    Logits l;
    l.n_vocab = 2;
    l.values = {1.0f, -2.0f};
    const auto b = gguf::crossval::to_binary(l);
    const std::uint8_t expected[] = {'G', 'L', 'O', 'G', 1,    0,    0,    0,    1,    0,    0,    0,
                                     2,   0,   0,   0,   0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0};
    ASSERT_EQ(b.size(), sizeof expected);
    for (std::size_t i = 0; i < b.size(); ++i) EXPECT_EQ(std::to_integer<std::uint8_t>(b[i]), expected[i]) << i;
}

TEST(LogitsFiles, BinaryRoundTripKeepsEveryBit) {
    auto l = awkward();
    l.values.push_back(std::numeric_limits<float>::quiet_NaN());
    l.values.resize(10);
    const auto b = gguf::crossval::to_binary(l);
    auto back = gguf::crossval::parse_logits(view(b));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_TRUE(back->tokens.empty());
    ASSERT_EQ(back->values.size(), 10u);
    for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(bits(back->values[i]), bits(l.values[i])) << i;
}

TEST(LogitsFiles, RowReaderReadsTheBinaryFileOnePositionAtATime) {
    Logits l;
    l.n_vocab = 3;
    l.values = {1.0f, -2.0f, 0.5f, std::numeric_limits<float>::quiet_NaN(), -0.0f, 7.25f};
    const auto file = std::filesystem::temp_directory_path() / ("gguf_logits_rows_" + std::to_string(::getpid()));
    ASSERT_TRUE(gguf::crossval::write_logits_file(file, l, LogitsFormat::binary));
    auto rows = gguf::crossval::LogitsRowReader::open(file);
    ASSERT_TRUE(rows) << rows.error().message;
    EXPECT_EQ(rows->n_vocab(), 3u);
    EXPECT_EQ(rows->n_positions(), 2u);
    std::vector<float> row;
    for (std::size_t p = 0; p < 2; ++p) {
        ASSERT_TRUE(rows->read_row(row)) << p;
        ASSERT_EQ(row.size(), 3u);
        for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(bits(row[i]), bits(l.values[p * 3 + i])) << p << "," << i;
    }
    // past the last position: an error, at the offset where a third row would start (16 + 2 * 12)
    auto past = rows->read_row(row);
    ASSERT_FALSE(past);
    EXPECT_EQ(past.error().code, LogitsCode::truncated);
    EXPECT_EQ(past.error().offset, 40u);
    std::filesystem::remove(file);
}

TEST(LogitsFiles, MalformedBinaryIsRejectedWithTheReason) {
    Logits l;
    l.n_vocab = 2;
    l.values = {1, 2, 3, 4};
    const auto good = gguf::crossval::to_binary(l);
    struct Case {
        const char* what;
        std::vector<std::byte> bytes;
        LogitsCode code;
        const char* text;
    };
    auto edit = [&good](std::size_t at, std::uint8_t v) {
        auto b = good;
        b[at] = std::byte{v};
        return b;
    };
    auto cut = [&good](std::size_t n) {
        return std::vector<std::byte>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    };
    auto longer = good;
    longer.push_back(std::byte{0});
    const std::vector<Case> cases{
        {"version 2", edit(4, 2), LogitsCode::unsupported_version, "version 2"},
        {"header cut", cut(10), LogitsCode::truncated, "needs 16 bytes"},
        {"data cut", cut(good.size() - 1), LogitsCode::truncated, "need 16 bytes of data"},
        {"trailing byte", longer, LogitsCode::trailing_bytes, "1 bytes after"},
        {"zero positions", edit(8, 0), LogitsCode::empty, "0 positions"},
        {"zero vocab", edit(12, 0), LogitsCode::empty, "of 0 values"},
        {"huge n_positions", edit(11, 0xFF), LogitsCode::truncated, "need"},
        // 2^31 positions x 2^31 values x 4 bytes = 2^64: the size must not wrap to 0.
        {"size wraps",
         [&] {
             auto b = edit(11, 0x80);
             b[15] = std::byte{0x80};
             return b;
         }(),
         LogitsCode::too_large, "does not fit"},
    };
    const auto dir = std::filesystem::temp_directory_path() / ("gguf_logits_rows_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    for (const auto& c : cases) {
        auto r = gguf::crossval::parse_logits(view(c.bytes));
        ASSERT_FALSE(r) << c.what;
        EXPECT_EQ(r.error().code, c.code) << c.what << ": " << r.error().message;
        EXPECT_NE(r.error().message.find(c.text), std::string::npos) << c.what << ": " << r.error().message;
        // The row reader checks the same header against the file's size before reading a row.
        const auto file = dir / "bad.bin";
        std::ofstream(file, std::ios::binary)
            .write(reinterpret_cast<const char*>(c.bytes.data()), static_cast<std::streamsize>(c.bytes.size()));
        auto rows = gguf::crossval::LogitsRowReader::open(file);
        ASSERT_FALSE(rows) << c.what;
        EXPECT_EQ(rows.error().code, c.code) << c.what << ": " << rows.error().message;
        EXPECT_EQ(rows.error().offset, r.error().offset) << c.what;
    }
    std::filesystem::remove_all(dir);
    auto bad_magic = gguf::crossval::parse_logits_binary(view(edit(0, 'X')));
    ASSERT_FALSE(bad_magic);
    EXPECT_EQ(bad_magic.error().code, LogitsCode::not_a_logits_file);
    auto neither = gguf::crossval::parse_logits(view(std::string("XLOG....")));
    ASSERT_FALSE(neither);
    EXPECT_EQ(neither.error().code, LogitsCode::not_a_logits_file);
}

TEST(LogitsFiles, MalformedJsonIsRejectedWithTheReason) {
    struct Case {
        const char* text;
        const char* message;
    };
    const std::vector<Case> cases{
        {R"({"n_vocab":2,"logits":[[1,2],[3]]})", "logits[1] is not an array of n_vocab = 2 values (it has 1)"},
        {R"({"n_vocab":2,"logits":[[1,"x"]]})", "logits[0][1] is not an f32 number"},
        {R"({"n_vocab":2,"logits":[[1,1e39]]})", "logits[0][1] is not an f32 number"},
        {R"({"logits":[[1,2]]})", "\"n_vocab\" is missing"},
        {R"({"n_vocab":-2,"logits":[[1,2]]})", "\"n_vocab\" is missing or not an unsigned"},
        {R"({"n_vocab":2})", "exactly one of"},
        {R"({"n_vocab":2,"logits":[[1,2]],"logits_bits":[[1,2]]})", "exactly one of"},
        {R"({"n_vocab":2,"logits_bits":[[1,4294967296]]})", "logits_bits[0][1] is not a u32"},
        {R"({"n_vocab":2,"logits":[[1,2]],"tokens":[1,2]})", "one token id per position (1)"},
        {R"({"n_vocab":2,"logits":[[1,2]],"tokens":[-1]})", "tokens[0] is not a token id"},
        {R"({"n_vocab":2,"logits":[[1,2]])", "syntax error at byte"},
        // Read in one pass, the keys in any order: the first error is still the one a reader checking
        // n_vocab, then each row in order (its length, then its values), then the tokens finds.
        {R"({"logits":[[1,2],[3]],"n_vocab":2})", "logits[1] is not an array of n_vocab = 2 values (it has 1)"},
        {R"({"logits":[[1,2,3],[1,2]],"n_vocab":2})", "logits[0] is not an array of n_vocab = 2 values (it has 3)"},
        {R"({"logits":[[1,2],[1,"x"]],"n_vocab":2})", "logits[1][1] is not an f32 number"},
        {R"({"n_vocab":2,"logits":[[1,"x"],[3]]})", "logits[0][1] is not an f32 number"},
        {R"({"n_vocab":2,"logits":[[1,"x",3]]})", "logits[0] is not an array of n_vocab = 2 values (it has 3)"},
        {R"({"n_vocab":2,"logits":[[1,2],5]})", "logits[1] is not an array of n_vocab = 2 values"},
        {R"({"n_vocab":2,"logits":[[1,[2]]]})",
         "logits[0][1] is not an f32 number (or \"nan\", \"inf\", \"-inf\"): [...]"},
        {R"({"n_vocab":2,"logits":{"a":[1,2]}})", "\"logits\" is not an array"},
        {R"({"n_vocab":2,"logits":[[1,2]],"logits":[[1,2]]})", "\"logits\" or \"logits_bits\" is given twice"},
        {R"({"tokens":[1,2],"n_vocab":2,"logits":[[1,2]]})", "one token id per position (1)"},
        {R"({"tokens":[1,"a"],"n_vocab":2,"logits":[[1,2],[3,4]]})", "tokens[1] is not a token id"},
        {R"({"n_vocab":3,"n_vocab":2,"logits":[[1,2]]})", ""},                      // the last n_vocab counts: no error
        {R"({"n_vocab":2,"logits":[[1,"x"]],"other":[[)", "syntax error at byte"},  // syntax first
        {R"({"n_vocab":2,"logits":[[1,1e400]]})", "number overflow"},
    };
    const auto dir = testing_support::test_dir();
    for (const auto& c : cases) {
        auto r = gguf::crossval::parse_logits_json(c.text);
        if (*c.message == '\0') {
            EXPECT_TRUE(r) << c.text << " -> " << r.error().message;
            continue;
        }
        ASSERT_FALSE(r) << c.text;
        EXPECT_EQ(r.error().code, LogitsCode::bad_json) << c.text;
        EXPECT_NE(r.error().message.find(c.message), std::string::npos) << c.text << " -> " << r.error().message;
        // The same text as a file, streamed by the row reader and by the up-front check: the same error.
        const auto file = dir / "bad.json";
        std::ofstream(file, std::ios::binary) << c.text;
        auto rows = gguf::crossval::LogitsRowReader::open(file);
        ASSERT_FALSE(rows) << c.text;
        EXPECT_EQ(rows.error().code, r.error().code) << c.text;
        EXPECT_EQ(rows.error().message, r.error().message) << c.text;
        EXPECT_EQ(rows.error().offset, r.error().offset) << c.text;
        auto checked = gguf::crossval::check_logits_file(file);
        ASSERT_FALSE(checked) << c.text;
        EXPECT_EQ(checked.error().message, r.error().message) << c.text;
    }
    std::filesystem::remove_all(dir);
    auto empty = gguf::crossval::parse_logits_json(R"({"n_vocab":2,"logits":[]})");
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().code, LogitsCode::empty);
    auto zero = gguf::crossval::parse_logits_json(R"({"n_vocab":0,"logits":[[]]})");
    ASSERT_FALSE(zero);
    EXPECT_EQ(zero.error().code, LogitsCode::empty);
    auto list = gguf::crossval::parse_logits_json("[1,2]");
    ASSERT_FALSE(list);
    EXPECT_EQ(list.error().code, LogitsCode::not_a_logits_file);
}

// The streaming writer (the reference's rows as they are read back) writes the same bytes as the
// whole-matrix writer; a row its source cannot give is that error, and the file it was to replace stays.
TEST(LogitsFiles, RowsWrittenAsTheyArriveAreTheFileAndAFailedRowWritesNothing) {
    const auto dir = testing_support::test_dir();
    const auto l = reference();
    for (auto format : {LogitsFormat::json, LogitsFormat::binary}) {
        const auto whole = dir / (format == LogitsFormat::json ? "whole.json" : "whole.bin");
        const auto rows = dir / (format == LogitsFormat::json ? "rows.json" : "rows.bin");
        ASSERT_TRUE(gguf::crossval::write_logits_file(whole, l, format));
        std::vector<float> buffer;
        const gguf::crossval::RowSource copy =
            [&](std::size_t p) -> gguf::crossval::LogitsResult<std::span<const float>> {
            const auto r = l.row(p);
            buffer.assign(r.begin(), r.end());  // a view of a buffer reused for every row, as a row reader gives
            return std::span<const float>(buffer);
        };
        ASSERT_TRUE(gguf::crossval::write_logits_file(rows, shape_of(l), copy, format));
        EXPECT_EQ(testing_support::slurp(rows), testing_support::slurp(whole));

        const gguf::crossval::RowSource failing =
            [&](std::size_t p) -> gguf::crossval::LogitsResult<std::span<const float>> {
            if (p == 1) return gguf::crossval::LogitsError{LogitsCode::truncated, 40, "cannot read position 1"};
            return l.row(p);
        };
        const auto failed = gguf::crossval::write_logits_file(whole, shape_of(l), failing, format);
        ASSERT_FALSE(failed);
        EXPECT_EQ(failed.error().code, LogitsCode::truncated);
        EXPECT_EQ(failed.error().offset, 40u);
        EXPECT_EQ(testing_support::slurp(whole), testing_support::slurp(rows)) << "the old file is intact";
    }
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        EXPECT_EQ(e.path().filename().string().rfind(".gguf-crossval-", 0), std::string::npos) << "temporary file left";
    }
}

// A JSON file read row by row: its values go to an unnamed file in $TMPDIR (nothing named is left
// there, during or after), and the rows, n_vocab and tokens are the file's, whatever the key order and
// however the rows fall across the pieces the parser hands over (a row of 40,000 values spans three).
TEST(LogitsFiles, AJsonFileIsReadRowByRowAsTheBinaryOneIs) {
    const auto dir = testing_support::test_dir();
    const auto tmp = dir / "tmp";
    std::filesystem::create_directories(tmp);
    const char* old_tmpdir = std::getenv("TMPDIR");
    const std::string saved = old_tmpdir ? old_tmpdir : "";
    ::setenv("TMPDIR", tmp.c_str(), 1);
    Logits wide;
    wide.n_vocab = 40000;
    wide.tokens = {3, 1, 4};
    for (std::size_t i = 0; i < 3 * wide.n_vocab; ++i) wide.values.push_back(static_cast<float>(i % 977) * 0.25f - 7);
    wide.values[5] = std::numeric_limits<float>::infinity();
    wide.values[40001] = std::numeric_limits<float>::quiet_NaN();
    const auto read_back = [&](const std::filesystem::path& path, const Logits& expected) {
        auto rows = gguf::crossval::LogitsRowReader::open(path);
        ASSERT_TRUE(rows) << rows.error().message;
        EXPECT_TRUE(std::filesystem::is_empty(tmp)) << "a named temporary file";
        EXPECT_EQ(rows->n_vocab(), expected.n_vocab);
        ASSERT_EQ(rows->n_positions(), expected.n_positions());
        EXPECT_EQ(std::vector<std::int32_t>(rows->tokens().begin(), rows->tokens().end()), expected.tokens);
        std::vector<float> row;
        for (std::size_t p = 0; p < expected.n_positions(); ++p) {
            ASSERT_TRUE(rows->read_row(row));
            const auto want = expected.row(p);
            ASSERT_EQ(row.size(), want.size());
            EXPECT_EQ(std::memcmp(row.data(), want.data(), want.size_bytes()), 0) << "position " << p;
        }
        EXPECT_FALSE(rows->read_row(row)) << "past the last position";
    };
    const auto path = dir / "wide.json";
    ASSERT_TRUE(gguf::crossval::write_logits_file(path, wide, LogitsFormat::json));
    read_back(path, wide);
    // The keys in another order, rows as bit patterns.
    const auto l = reference();
    std::string text = R"({"logits_bits": [)";
    for (std::size_t p = 0; p < l.n_positions(); ++p) {
        text += p == 0 ? "[" : ", [";
        for (std::size_t i = 0; i < l.n_vocab; ++i) {
            text += (i == 0 ? "" : ",") + std::to_string(std::bit_cast<std::uint32_t>(l.row(p)[i]));
        }
        text += "]";
    }
    text += R"(], "tokens": [1, 72, 105], "n_vocab": 8, "note": {"any": ["thing"]}})";
    std::ofstream(dir / "reordered.json", std::ios::binary) << text;
    read_back(dir / "reordered.json", l);
    EXPECT_TRUE(std::filesystem::is_empty(tmp));
    if (old_tmpdir) {
        ::setenv("TMPDIR", saved.c_str(), 1);
    } else {
        ::unsetenv("TMPDIR");
    }
    std::filesystem::remove_all(dir);
}

TEST(LogitsFiles, FilesRoundTripInBothFormats) {
    const auto dir = testing_support::test_dir();
    const auto l = reference();
    for (auto format : {LogitsFormat::json, LogitsFormat::binary}) {
        const auto path = dir / (format == LogitsFormat::json ? "l.json" : "l.bin");
        ASSERT_TRUE(gguf::crossval::write_logits_file(path, l, format));
        auto back = gguf::crossval::read_logits_file(path);
        ASSERT_TRUE(back) << back.error().message;
        EXPECT_EQ(back->values, l.values);
        EXPECT_EQ(back->n_vocab, l.n_vocab);
        EXPECT_EQ(back->tokens, format == LogitsFormat::json ? l.tokens : std::vector<std::int32_t>{});
    }
    auto missing = gguf::crossval::read_logits_file(dir / "nope.json");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, LogitsCode::io_error);
    auto capped = gguf::crossval::read_logits_file(dir / "l.json", 10);
    ASSERT_FALSE(capped);
    EXPECT_EQ(capped.error().code, LogitsCode::too_large);
    std::filesystem::remove_all(dir);
}
