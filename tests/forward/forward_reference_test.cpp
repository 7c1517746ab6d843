// The built-in forward pass against the real llama.cpp (ctest label `reference`): the logits of
// every tiny model, and of llama files written by gguf-py's GGUFWriter (other shapes, GQA, MQA,
// tied and untied output), agree with llama.cpp's within the thresholds docs/forward-pass.md
// states. Each test prints the measured figures ("[figures] ..."). Without the reference (or,
// for the gguf-py files, without gguf-py and numpy) the tests FAIL: a skipped comparison is not a pass.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "crossval/builtin_source.hpp"
#include "crossval/logits.hpp"
#include "fixtures/tiny_model.hpp"
#include "reference/peers.hpp"
#include "reference/reference_env.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

using gguf::fixtures::TinyArch;
using gguf::fixtures::TinyType;

namespace {

const std::string kTokens = "1,75,108,36,259,270,100,2";
const std::vector<std::int32_t> kTokenIds{1, 75, 108, 36, 259, 270, 100, 2};

struct Figures {
    double max_abs = 0;
    double min_cosine = 1;
    double max_kl = 0;
    std::size_t top1_agree = 0;
    std::size_t positions = 0;
};

class ForwardVsLlamaCpp : public testing_support::TempDirTest {
protected:
    // llama.cpp's and builtin's logits of kTokens on `model`, with the metrics of every position.
    std::vector<gguf::crossval::PositionMetrics> compare(
        const std::filesystem::path& model, gguf::forward::Activations a = gguf::forward::Activations::exact) {
        const auto o = gguf::reference::run_logits(testing_support::reference(), model, kTokens, {});
        EXPECT_TRUE(o.ok) << o.message << "\n" << o.log_excerpt;
        if (!o.ok) return {};
        auto ref = gguf::crossval::parse_logits_json(o.payload.dump());
        EXPECT_TRUE(ref) << ref.error().message;
        auto ours = gguf::crossval::builtin_logits(model, kTokenIds, a);
        EXPECT_TRUE(ours) << ours.error().message;
        if (!ref || !ours) return {};
        ref_max_ = 0;
        for (float v : ref->values) ref_max_ = std::max(ref_max_, static_cast<double>(std::fabs(v)));
        auto metrics = gguf::crossval::compare_logits(*ref, *ours);
        EXPECT_TRUE(metrics) << metrics.error().message;
        return metrics ? *metrics : std::vector<gguf::crossval::PositionMetrics>{};
    }

    double ref_max_ = 0;  // the largest |logit| of the last compare()'s reference

    Figures figures(const std::vector<gguf::crossval::PositionMetrics>& m, const std::string& label) {
        Figures f;
        for (const auto& p : m) {
            f.max_abs = std::max(f.max_abs, p.max_abs_diff);
            f.min_cosine = std::min(f.min_cosine, p.cosine);
            f.max_kl = std::max(f.max_kl, p.kl);
            f.top1_agree += p.top1_match ? 1 : 0;
        }
        f.positions = m.size();
        std::printf("[figures] %-22s max_abs %.3g (largest |logit| %.3g)  min_cosine %.9f  max_kl %.3g  top1 %zu/%zu\n",
                    label.c_str(), f.max_abs, ref_max_, f.min_cosine, f.max_kl, f.top1_agree, f.positions);
        ::testing::Test::RecordProperty(label + ".max_abs", fmt::format("{:.3g}", f.max_abs));
        ::testing::Test::RecordProperty(label + ".min_cosine", fmt::format("{:.9f}", f.min_cosine));
        return f;
    }

    // The comparison holds under the thresholds the logits stage uses against builtin for this file.
    static void expect_within_builtin_thresholds(const std::filesystem::path& model,
                                                 const std::vector<gguf::crossval::PositionMetrics>& m) {
        auto file = gguf::open(model);
        ASSERT_TRUE(file);
        std::string why;
        const auto t = gguf::crossval::builtin_thresholds(*file, why);
        const auto d = gguf::crossval::first_divergence(m, t);
        EXPECT_FALSE(d.has_value()) << why << ": position " << d->position << ": " << d->reasons.front();
    }

    std::filesystem::path tiny(TinyArch arch, TinyType type, std::uint64_t seed = 42) {
        const auto path =
            dir_ / fmt::format("{}-{}-{}.gguf", gguf::fixtures::arch_name(arch), gguf::fixtures::type_name(type), seed);
        auto w = gguf::fixtures::tiny_model({arch, type, seed});
        EXPECT_TRUE(w);
        EXPECT_TRUE(w->write_file(path));
        return path;
    }

    // A llama file written by gguf-py's GGUFWriter (tests/forward/write_llama_gguf_py.py).
    std::filesystem::path gguf_py(const std::string& variant) {
        const auto peer = gguf::reference::locate_gguf_py();
        EXPECT_TRUE(peer.available) << peer.why_unavailable;
        if (!peer.available) return {};
        const auto path = dir_ / (variant + ".gguf");
        const auto r = testing_support::run_command(
            testing_support::quoted(peer.program) + " -I " +
            testing_support::quoted(GGUF_CROSSVAL_SOURCE_DIR "/tests/forward/write_llama_gguf_py.py") + " " +
            testing_support::quoted(peer.args.back()) + " " + testing_support::quoted(path) + " " + variant);
        EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
        return path;
    }
};

}  // namespace

TEST_F(ForwardVsLlamaCpp, F32TinyLlamaAgreesWithin1e4AndCosine099999) {
    ASSERT_REFERENCE();
    const auto m = compare(tiny(TinyArch::llama, TinyType::f32));
    ASSERT_EQ(m.size(), kTokenIds.size());
    const auto f = figures(m, "llama-f32");
    EXPECT_LE(f.max_abs, 1e-4);
    EXPECT_GE(f.min_cosine, 0.99999);
    EXPECT_EQ(f.top1_agree, f.positions);
}

TEST_F(ForwardVsLlamaCpp, GgufPyLlamaFilesAgreeWithin1e4AndCosine099999) {
    ASSERT_REFERENCE();
    for (const std::string variant : {"gqa_tied", "mqa_output"}) {
        SCOPED_TRACE(variant);
        const auto path = gguf_py(variant);
        ASSERT_FALSE(path.empty());
        const auto m = compare(path);
        ASSERT_EQ(m.size(), kTokenIds.size());
        const auto f = figures(m, "gguf-py-" + variant);
        EXPECT_LE(f.max_abs, 1e-4);
        EXPECT_GE(f.min_cosine, 0.99999);
        EXPECT_EQ(f.top1_agree, f.positions);
        expect_within_builtin_thresholds(path, m);
    }
}

TEST_F(ForwardVsLlamaCpp, EveryTinyModelAgreesWithinItsTypesThresholds) {
    ASSERT_REFERENCE();
    for (std::uint64_t seed : {42ull, 9001ull})
        for (auto [arch, type] : {std::pair{TinyArch::llama, TinyType::f32},
                                  {TinyArch::llama, TinyType::f16},
                                  {TinyArch::llama, TinyType::q8_0},
                                  {TinyArch::bitnet, TinyType::f16},
                                  {TinyArch::bitnet, TinyType::q8_0},
                                  {TinyArch::bitnet, TinyType::tq1_0},
                                  {TinyArch::bitnet, TinyType::tq2_0}}) {
            const std::string label =
                fmt::format("{}-{}-{}", gguf::fixtures::arch_name(arch), gguf::fixtures::type_name(type), seed);
            SCOPED_TRACE(label);
            const auto path = tiny(arch, type, seed);
            const auto m = compare(path);
            ASSERT_EQ(m.size(), kTokenIds.size());
            figures(m, label);
            expect_within_builtin_thresholds(path, m);
        }
}

// Where the differences at quantized weights come from: with the activations rounded before each
// matrix product as llama.cpp's CPU backend rounds them (Q8_0 for Q8_0 weights, Q8_K for TQ1_0 and
// TQ2_0), builtin agrees with llama.cpp on the tiny llama Q8_0 and bitnet ternary models as closely
// as at F32 weights. F16 (both) and bitnet Q8_0 are measured and printed, not asserted: there the
// rounding explains only part of the difference (docs/forward-pass.md).
TEST_F(ForwardVsLlamaCpp, RoundingActivationsAsLlamaCppDoesExplainsTheQuantizedDifferences) {
    ASSERT_REFERENCE();
    struct Case {
        TinyArch arch;
        TinyType type;
        bool explained;
    };
    for (const auto& c :
         {Case{TinyArch::llama, TinyType::q8_0, true}, Case{TinyArch::bitnet, TinyType::tq1_0, true},
          Case{TinyArch::bitnet, TinyType::tq2_0, true}, Case{TinyArch::llama, TinyType::f16, false},
          Case{TinyArch::bitnet, TinyType::f16, false}, Case{TinyArch::bitnet, TinyType::q8_0, false}}) {
        const std::string label =
            fmt::format("{}-{}", gguf::fixtures::arch_name(c.arch), gguf::fixtures::type_name(c.type));
        SCOPED_TRACE(label);
        const auto path = tiny(c.arch, c.type);
        const auto exact = figures(compare(path), label);
        const auto rounded = figures(compare(path, gguf::forward::Activations::like_llama_cpp_cpu), label + "-rounded");
        if (c.explained) {
            EXPECT_GT(exact.max_abs, 1e-2);
            EXPECT_LE(rounded.max_abs, 1e-4);
            EXPECT_GE(rounded.min_cosine, 0.99999);
        }
    }
}
