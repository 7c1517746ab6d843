// Trace comparison and trace files, without the reference: metrics worked out by hand, the first
// diverging tensor in graph order, one-sided tensors listed, hostile trace files refused.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "crossval/trace.hpp"
#include "safetensors/safetensors.hpp"
#include "support/temp_dir.hpp"

using gguf::crossval::compare_traces;
using gguf::crossval::compare_values;
using gguf::crossval::layer_of;
using gguf::crossval::TensorStatus;
using gguf::crossval::Trace;
using gguf::crossval::TraceTensor;
namespace st = gguf::safetensors;

namespace {

// Three activations of a 2-token decode, [2, 3] each: values 0.1 * (i + 1) + base.
Trace three_tensor_trace() {
    Trace t;
    t.source = "a";
    t.tokens = {1, 2};
    float base = 0;
    for (const char* key : {"attn_norm-0", "ffn_out-0", "result_output"}) {
        TraceTensor x{key, "", {2, 3}, true, {}};
        for (int i = 0; i < 6; ++i) x.values.push_back(base + 0.1f * static_cast<float>(i + 1));
        base += 1;
        t.tensors.push_back(std::move(x));
    }
    return t;
}

}  // namespace

TEST(TraceMetrics, MatchHandComputedValues) {
    const std::vector<float> a{1, 0}, b{1, 1};
    const auto m = compare_values(a, b);
    EXPECT_DOUBLE_EQ(m.max_abs, 1.0);
    EXPECT_EQ(m.max_abs_index, 1u);
    EXPECT_DOUBLE_EQ(m.nmse, 1.0);                       // sum (a-b)^2 = 1, sum a^2 = 1
    EXPECT_NEAR(m.cosine, 1.0 / std::sqrt(2.0), 1e-15);  // a.b = 1, |a| = 1, |b| = sqrt 2
    const std::vector<float> z{0, 0};
    EXPECT_DOUBLE_EQ(compare_values(z, z).cosine, 1.0);
    EXPECT_DOUBLE_EQ(compare_values(z, z).nmse, 0.0);
    EXPECT_DOUBLE_EQ(compare_values(a, z).cosine, 0.0);
}

TEST(TraceMetrics, CountNonFiniteDisagreementsOnly) {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const std::vector<float> a{nan, inf, 1, inf}, b{nan, inf, nan, -inf};
    const auto m = compare_values(a, b);
    EXPECT_EQ(m.non_finite_mismatches, 2u);  // [2] finite vs NaN, [3] +inf vs -inf
    EXPECT_FALSE(gguf::crossval::failed_checks(m, {}).empty());
}

TEST(TraceLayer, ComesFromTheDashNumberSuffix) {
    EXPECT_EQ(layer_of("ffn_out-1"), 1);
    EXPECT_EQ(layer_of("attn_norm-12"), 12);
    EXPECT_EQ(layer_of("Kcur-0 (view)"), 0);
    EXPECT_EQ(layer_of("Qcur-3#0"), 3);
    EXPECT_EQ(layer_of("result_norm"), std::nullopt);
    EXPECT_EQ(layer_of("cache_k_l0 (view)"), std::nullopt);
    EXPECT_EQ(layer_of("a-b"), std::nullopt);
}

TEST(TraceCompare, IdenticalTracesAgreeEverywhere) {
    const auto a = three_tensor_trace();
    auto c = compare_traces(a, a);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->n_compared, 3u);
    EXPECT_EQ(c->n_diverging, 0u);
    EXPECT_FALSE(c->first_divergence);
    EXPECT_EQ(c->tensors[1].positions.size(), 2u) << "the first dimension is the token count";
}

TEST(TraceCompare, NamesTheFirstDivergingTensorInGraphOrderWithLayerAndPosition) {
    const auto a = three_tensor_trace();
    auto b = a;
    b.tensors[1].values[4] += 0.5f;  // ffn_out-0, position 1, element 1
    b.tensors[2].values[0] += 9.0f;  // a later tensor differs too: it is not the first
    auto c = compare_traces(a, b);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c->first_divergence);
    EXPECT_EQ(c->first_divergence->key, "ffn_out-0");
    EXPECT_EQ(c->first_divergence->layer, 0);
    EXPECT_EQ(c->first_divergence->position, 1u);
    EXPECT_EQ(c->n_diverging, 2u);
    const auto& t = c->tensors[1];
    EXPECT_NEAR(t.metrics.max_abs, 0.5, 1e-6);
    EXPECT_EQ(t.metrics.max_abs_index, 4u);
    EXPECT_EQ(t.positions[1].max_abs_index, 1u) << "index within the position's row";
    EXPECT_DOUBLE_EQ(t.positions[0].max_abs, 0.0);
    EXPECT_FALSE(c->tensors[0].diverges);
}

TEST(TraceCompare, ASmallDifferenceWithinThresholdsIsNotADivergence) {
    const auto a = three_tensor_trace();
    auto b = a;
    b.tensors[0].values[0] = std::nextafter(b.tensors[0].values[0], 1.0f);
    auto c = compare_traces(a, b);
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE(c->first_divergence);
    EXPECT_GT(c->tensors[0].metrics.max_abs, 0.0);
}

TEST(TraceCompare, ListsTensorsOnlyOneSideHasAndNeverComparesThem) {
    const auto a = three_tensor_trace();
    auto b = a;
    b.tensors.erase(b.tensors.begin() + 1);  // b lacks ffn_out-0
    b.tensors.push_back(TraceTensor{"extra-0", "", {2}, true, {1, 2}});
    auto c = compare_traces(a, b);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->only_a, std::vector<std::string>{"ffn_out-0"});
    EXPECT_EQ(c->only_b, std::vector<std::string>{"extra-0"});
    EXPECT_EQ(c->n_compared, 2u);
    ASSERT_EQ(c->tensors.size(), 4u);
    EXPECT_EQ(c->tensors[1].status, TensorStatus::only_a) << "kept in a's graph order";
    EXPECT_EQ(c->tensors[3].status, TensorStatus::only_b) << "b's extras come last";
}

TEST(TraceCompare, DifferentElementCountsAreIncomparableNotEqual) {
    const auto a = three_tensor_trace();
    auto b = a;
    b.tensors[0].values.pop_back();
    b.tensors[0].shape = {5};
    auto c = compare_traces(a, b);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->tensors[0].status, TensorStatus::incomparable);
    EXPECT_EQ(c->incomparable, std::vector<std::string>{"attn_norm-0"});
    EXPECT_EQ(c->n_compared, 2u);
}

TEST(TraceCompare, SameCountOtherShapeIsComparedWithANote) {
    const auto a = three_tensor_trace();
    auto b = a;
    b.tensors[0].shape = {2, 1, 3};
    auto c = compare_traces(a, b);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->tensors[0].status, TensorStatus::compared);
    ASSERT_EQ(c->notes.size(), 1u);
    EXPECT_NE(c->notes[0].find("attn_norm-0"), std::string::npos);
}

TEST(TraceCompare, RefusesTracesOfDifferentTokens) {
    const auto a = three_tensor_trace();
    auto b = a;
    b.tokens = {1, 3};
    auto c = compare_traces(a, b);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().message.find("different tokens"), std::string::npos);
}

class TraceFile : public testing_support::TempDirTest {
protected:
    std::filesystem::path write(const st::Writer& w, const std::string& name) {
        const auto path = dir_ / name;
        EXPECT_TRUE(w.write_file(path));
        return path;
    }
    std::filesystem::path write_bytes(const std::string& name, const std::string& bytes) {
        const auto path = dir_ / name;
        std::ofstream(path, std::ios::binary) << bytes;
        return path;
    }
    const std::vector<float> two_{1.0f, 2.0f};
};

TEST_F(TraceFile, FollowsTheNodesOrderAndKeepsUncapturedNodes) {
    st::Writer w;
    ASSERT_TRUE(w.add_f32("b", {2}, two_));
    ASSERT_TRUE(w.add_f32("a", {2}, two_));
    w.set_metadata("format", "gguf-crossval-trace/1");
    w.set_metadata("tokens", "[1,2]");
    w.set_metadata("nodes", R"([{"key":"a","op":"MUL"},{"key":"inp_pos","captured":false,"shape":[2]},{"key":"b"}])");
    auto t = gguf::crossval::read_trace(write(w, "t.safetensors"));
    ASSERT_TRUE(t.ok()) << t.error().message;
    ASSERT_EQ(t->tensors.size(), 3u);
    EXPECT_EQ(t->tensors[0].key, "a");
    EXPECT_EQ(t->tensors[0].op, "MUL");
    EXPECT_EQ(t->tensors[1].key, "inp_pos");
    EXPECT_FALSE(t->tensors[1].captured);
    EXPECT_EQ(t->tensors[2].key, "b");
    EXPECT_EQ(t->tokens, (std::vector<std::int32_t>{1, 2}));
}

TEST_F(TraceFile, WithoutNodesKeepsTheHeaderOrder) {
    st::Writer w;
    ASSERT_TRUE(w.add_f32("z", {2}, two_));
    ASSERT_TRUE(w.add_f32("a", {2}, two_));
    auto t = gguf::crossval::read_trace(write(w, "t.safetensors"));
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_EQ(t->tensors[0].key, "z");
    EXPECT_EQ(t->tensors[1].key, "a");
    EXPECT_TRUE(t->tokens.empty());
}

TEST_F(TraceFile, RefusesBadMetadata) {
    for (const auto& [key, value] :
         std::vector<std::pair<std::string, std::string>>{{"tokens", "not json"},
                                                          {"tokens", "[1,-2]"},
                                                          {"tokens", "[[1]]"},
                                                          {"nodes", "{}"},
                                                          {"nodes", "[{\"op\":\"MUL\"}]"},
                                                          {"nodes", std::string(50, '[') + std::string(50, ']')},
                                                          {"format", "something-else/2"}}) {
        st::Writer w;
        ASSERT_TRUE(w.add_f32("a", {2}, two_));
        w.set_metadata(key, value);
        auto t = gguf::crossval::read_trace(write(w, "t.safetensors"));
        EXPECT_FALSE(t.ok()) << key << " = " << value;
    }
}

TEST_F(TraceFile, NamesTheSafetensorsErrorOfAMalformedFile) {
    // Header length 1000 in a file of 12 bytes.
    std::string bytes(8, '\0');
    bytes[0] = static_cast<char>(0xE8);
    bytes[1] = 0x03;
    bytes += "{}  ";
    auto t = gguf::crossval::read_trace(write_bytes("short.safetensors", bytes));
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message.find("truncated"), std::string::npos) << t.error().message;
    EXPECT_NE(t.error().message.find("short.safetensors"), std::string::npos);
}
