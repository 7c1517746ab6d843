// Distribution statistics over positions. Expected values are worked out by hand in the comments
// from the definitions in docs/logits-format.md ("Distribution statistics").
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "crossval/distribution.hpp"

using gguf::crossval::DistributionAccumulator;
using gguf::crossval::log_probabilities;
using gguf::crossval::LogProbRow;

namespace {

std::vector<double> lp(std::vector<float> logits) {
    return log_probabilities(logits);
}

}  // namespace

TEST(Percentile, InterpolatesLinearlyBetweenSortedValues) {
    const std::vector<double> v{1, 2, 3, 4};
    // at = f * 3: 0.5 -> 1.5 -> 2.5; 0.9 -> 2.7 -> 3.7; 0.1 -> 0.3 -> 1.3
    EXPECT_DOUBLE_EQ(gguf::crossval::percentile(v, 0.5), 2.5);
    EXPECT_DOUBLE_EQ(gguf::crossval::percentile(v, 0.9), 3.7);
    EXPECT_DOUBLE_EQ(gguf::crossval::percentile(v, 0.1), 1.3);
    EXPECT_DOUBLE_EQ(gguf::crossval::percentile(v, 0), 1);
    EXPECT_DOUBLE_EQ(gguf::crossval::percentile(v, 1), 4);
}

TEST(Percentile, OddCountMedianIsTheMiddleValue) {
    const auto p = gguf::crossval::percentiles_of({5, 1, 3});
    EXPECT_DOUBLE_EQ(p.median, 3);
    EXPECT_DOUBLE_EQ(p.min, 1);
    EXPECT_DOUBLE_EQ(p.max, 5);
}

TEST(Distribution, TwoTokenExampleByHand) {
    // ref logits (0, 0): p = (1/2, 1/2); test (ln 3, 0): q = (3/4, 1/4); the correct token is 0.
    // KL(p || q) = 1/2 ln(2/3) + 1/2 ln 2 = 1/2 ln(4/3); delta-p = 3/4 - 1/2 = 1/4;
    // PPL(ref) = 2, PPL(test) = 4/3, ln(PPL(test)/PPL(ref)) = ln(2/3).
    const auto r = lp({0, 0});
    const auto t = lp({static_cast<float>(std::log(3.0)), 0});
    DistributionAccumulator acc;
    acc.add({r}, {t}, 0u);
    const auto s = acc.finish();
    EXPECT_EQ(s.n_positions, 1u);
    EXPECT_EQ(s.n_scored, 1u);
    EXPECT_NEAR(s.mean_kld, 0.5 * std::log(4.0 / 3), 1e-7);
    EXPECT_NEAR(s.kld.median, 0.5 * std::log(4.0 / 3), 1e-7);
    EXPECT_NEAR(s.mean_delta_p, 0.25, 1e-7);
    EXPECT_NEAR(s.rms_delta_p, 0.25, 1e-7);
    EXPECT_NEAR(s.ppl_ref, 2, 1e-6);
    EXPECT_NEAR(s.ppl_test, 4.0 / 3, 1e-6);
    EXPECT_NEAR(s.ln_ppl_ratio, std::log(2.0 / 3), 1e-7);
    // argmax: ref has a tie (first index: 0), test 0: same top
    EXPECT_EQ(s.n_same_top, 1u);
    EXPECT_DOUBLE_EQ(s.same_top_p, 1);
    EXPECT_FALSE(s.nmse.has_value());  // no logits were added
}

TEST(Distribution, RmsAndMeanOfDeltaPOverPositions) {
    // Two positions, correct token 0: delta-p +1/4 (as above) and -1/4 (roles swapped: q(0) = 1/4).
    // mean 0, RMS 1/4; positions without a correct token count for KLD only.
    DistributionAccumulator acc;
    const auto half = lp({0, 0});
    acc.add({half}, {lp({static_cast<float>(std::log(3.0)), 0})}, 0u);
    acc.add({half}, {lp({0, static_cast<float>(std::log(3.0))})}, 0u);
    acc.add({half}, {half}, std::nullopt);
    const auto s = acc.finish();
    EXPECT_EQ(s.n_positions, 3u);
    EXPECT_EQ(s.n_scored, 2u);
    EXPECT_NEAR(s.mean_delta_p, 0, 1e-7);
    EXPECT_NEAR(s.rms_delta_p, 0.25, 1e-7);
    EXPECT_NEAR(s.delta_p.min, -0.25, 1e-7);
    EXPECT_NEAR(s.delta_p.max, 0.25, 1e-7);
    // KLDs: 1/2 ln(4/3) twice and 0: median 1/2 ln(4/3), minimum 0
    EXPECT_NEAR(s.kld.median, 0.5 * std::log(4.0 / 3), 1e-7);
    EXPECT_DOUBLE_EQ(s.kld.min, 0);
    // same top: positions 0 and 2 (argmax 0 on both sides), not 1 (test's argmax is 1, reference's gap 0: near-tie)
    EXPECT_EQ(s.n_same_top, 2u);
    EXPECT_EQ(s.n_top1_near_tie, 1u);
    EXPECT_EQ(s.n_top1_mismatch, 0u);
}

TEST(Distribution, Top1DisagreementWithinTheToleranceIsANearTie) {
    // The reference's logits of tokens 0 and 1 differ by 5e-5: the test choosing 1 is a near-tie at
    // tolerance 1e-4, a mismatch at 1e-5.
    const auto r = lp({1.0f, 1.0f - 5e-5f, -3.0f});
    const auto t = lp({0.0f, 1.0f, -3.0f});
    DistributionAccumulator loose(1e-4), strict(1e-5);
    loose.add({r}, {t}, std::nullopt);
    strict.add({r}, {t}, std::nullopt);
    EXPECT_EQ(loose.finish().n_top1_near_tie, 1u);
    EXPECT_EQ(loose.finish().n_top1_mismatch, 0u);
    EXPECT_EQ(strict.finish().n_top1_mismatch, 1u);
    EXPECT_EQ(strict.finish().n_same_top, 0u);  // same top p stays strict
}

TEST(Distribution, EntriesAtOrBelowTheFloorCountAsZeroProbability) {
    // ref log-probs: ln 0.5 twice, and -20 (below the floor -16): only the first two terms count.
    // test: ln 0.25, ln 0.5, ln 0.25. KL = 0.5 ln(0.5/0.25) + 0.5 ln(0.5/0.5) = 0.5 ln 2.
    const std::vector<double> r{std::log(0.5), std::log(0.5), -20};
    const std::vector<double> t{std::log(0.25), std::log(0.5), std::log(0.25)};
    DistributionAccumulator acc;
    acc.add(LogProbRow{r, -16}, LogProbRow{t}, std::nullopt);
    EXPECT_NEAR(acc.finish().mean_kld, 0.5 * std::log(2.0), 1e-12);
}

TEST(Distribution, NmseOverEveryLogit) {
    // (1,2) vs (1,3) and (0,1) vs (0,1): sum d^2 = 1, sum ref^2 = 1 + 4 + 1 = 6
    DistributionAccumulator acc;
    const std::vector<float> a{1, 2}, b{1, 3}, c{0, 1};
    acc.add_logits(a, b);
    acc.add_logits(c, c);
    ASSERT_TRUE(acc.finish().nmse.has_value());
    EXPECT_DOUBLE_EQ(*acc.finish().nmse, 1.0 / 6);
}

TEST(Distribution, StateGrowsByTwoNumbersAPositionWhateverTheVocabulary) {
    // The accumulator keeps the per-position KLD and delta-p (for the percentiles), never the rows.
    DistributionAccumulator small, large;
    const auto s = lp(std::vector<float>(8, 0.0f));
    const auto l = lp(std::vector<float>(4096, 0.0f));
    for (int i = 0; i < 1000; ++i) {
        small.add({s}, {s}, 0u);
        large.add({l}, {l}, 0u);
    }
    EXPECT_EQ(small.bytes_held(), large.bytes_held());
    EXPECT_LE(large.bytes_held(), 2 * 2 * 1000 * sizeof(double));  // vector growth at most doubles capacity
}
