// Against the real reference (ctest label `reference`): our quantizers are byte-identical to
// llama_model_quantize, and every tiny model loads and decodes in llama.cpp with finite logits.
// Uses the probe built against the located reference (or GGUF_CROSSVAL_PROBE). Without one every
// test here FAILS: a skipped reference stage is not a pass.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>

#include "crossval/logits.hpp"
#include "fixtures/tiny_model.hpp"
#include "gguf/data/quantize.hpp"
#include "gguf/reader.hpp"
#include "reference/reference.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

using gguf::GgmlType;
using gguf::fixtures::TinyArch;
using gguf::fixtures::TinyModelSpec;
using gguf::fixtures::TinyType;
using testing_support::quoted;
using testing_support::run_command;
using testing_support::slurp;

namespace {

// The probe of GGUF_CROSSVAL_PROBE if set, else the one built against the located reference.
std::string probe_path() {
    if (const char* p = std::getenv("GGUF_CROSSVAL_PROBE"); p != nullptr && *p != '\0') return p;
    const auto located = gguf::reference::locate(std::nullopt);
    return located.ref ? located.ref->probe.string() : std::string();
}

#define REQUIRE_PROBE()                                                                                           \
    const std::string probe = probe_path();                                                                       \
    ASSERT_FALSE(probe.empty()) << "no reference probe: run scripts/fetch-reference (or set GGUF_CROSSVAL_PROBE " \
                                   "to a ref-probe with modes quantize and logits); this test needs it";          \
    ASSERT_TRUE(std::filesystem::exists(probe)) << "GGUF_CROSSVAL_PROBE=" << probe << " does not exist"

class Reference : public testing_support::TempDirTest {
protected:
    // Run the probe; returns its JSON object (the probe always prints one, "ok" says how it went,
    // and the exit status agrees: 0 when ok, 1 when not).
    nlohmann::json run_probe(const std::string& probe, const std::string& args) {
        const auto r =
            run_command("GGML_NO_BACKTRACE=1 " + testing_support::quoted(std::filesystem::path(probe)) + " " + args);
        auto j = nlohmann::json::parse(r.out, nullptr, false);
        EXPECT_TRUE(j.is_object()) << "probe output is not a JSON object: " << r.out.substr(0, 400);
        if (j.is_object()) EXPECT_EQ(r.exit_code, j.value("ok", false) ? 0 : 1) << args << "\n" << r.err;
        return j;
    }

    std::filesystem::path write(const gguf::Writer& w, const std::string& name) {
        const auto path = dir_ / name;
        const auto status = w.write_file(path);
        EXPECT_TRUE(status) << status.error().message;
        return path;
    }

    std::filesystem::path write(TinyModelSpec spec, const std::string& name) {
        auto w = gguf::fixtures::tiny_model(spec);
        EXPECT_TRUE(w) << w.error().message;
        return write(*w, name);
    }
};

std::string spec_name(TinyModelSpec s) {
    return std::string(gguf::fixtures::arch_name(s.arch)) + "-" + std::string(gguf::fixtures::type_name(s.type)) + "-" +
           std::to_string(s.seed);
}

// A copy of `source` (a parsed f32 or f16 model) whose 2-D weights hold `fill(name, n)` as F32.
gguf::Writer with_weights(const gguf::File& source,
                          const std::function<std::vector<float>(std::string_view, std::size_t)>& fill) {
    gguf::Writer w;
    for (const auto& kv : source.kvs()) w.add(std::string(kv.key), gguf::Value::from_view(kv.value));
    for (const auto& t : source.tensors()) {
        const auto dims = t.dims();
        std::size_t n = 1;
        for (auto d : dims) n *= d;
        std::vector<std::byte> data(t.data.begin(), t.data.end());
        std::uint32_t type = t.type;
        if (dims.size() == 2) {
            data = *gguf::quantize(GgmlType::F32, fill(t.name, n), dims[0]);
            type = 0;
        }
        (void)w.add_tensor(std::string(t.name), type, {dims.begin(), dims.end()}, std::move(data));
    }
    return w;
}

// Values that exercise the rounding rules: exact halves after scaling, ternary ties at amax / 2,
// zero blocks, tiny and large magnitudes, and values that are not F16-exact. (Scales that overflow
// F16 are left out: llama_model_quantize rejects the resulting infinite block scales.)
std::vector<float> adversarial(std::string_view name, std::size_t n) {
    std::vector<float> v(n);
    std::uint64_t h = 1469598103934665603ull;
    for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    for (std::size_t i = 0; i < n; ++i) {
        h = h * 6364136223846793005ull + 1442695040888963407ull;
        const auto k = static_cast<std::int32_t>(h >> 40) - (1 << 23);  // -2^23 .. 2^23
        switch ((i / 256) % 6) {
            case 0:
                v[i] = static_cast<float>(k) / (1 << 23);
                break;  // plain, not F16-exact
            case 1:
                v[i] = (i % 32 == 0) ? 127.0f : static_cast<float>(k % 255) / 2.0f;
                break;  // Q8_0 halves, d = 1
            case 2:
                v[i] = (i % 256 == 0) ? 1.0f : static_cast<float>(k % 5) / 4.0f;
                break;  // ternary ties at 0.5
            case 3:
                v[i] = 0.0f;
                break;  // zero blocks
            case 4:
                v[i] = static_cast<float>(k) * 1e-12f;
                break;  // tiny scales
            case 5:
                v[i] = static_cast<float>(k) * 1e-3f;
                break;  // large, up to 8388
        }
    }
    return v;
}

}  // namespace

TEST_F(Reference, TinyModelsAreExactlyWhatLlamaModelQuantizeWrites) {
    REQUIRE_PROBE();
    struct Case {
        TinyArch arch;
        TinyType from;
        TinyType to;
        int ftype;
    };
    const Case cases[] = {
        {TinyArch::llama, TinyType::f32, TinyType::f16, 1},     {TinyArch::llama, TinyType::f32, TinyType::q8_0, 7},
        {TinyArch::llama, TinyType::f16, TinyType::f32, 0},     {TinyArch::llama, TinyType::f16, TinyType::q8_0, 7},
        {TinyArch::bitnet, TinyType::f16, TinyType::q8_0, 7},   {TinyArch::bitnet, TinyType::f16, TinyType::tq1_0, 36},
        {TinyArch::bitnet, TinyType::f16, TinyType::tq2_0, 37},
    };
    for (std::uint64_t seed : {42ull, 9001ull}) {
        for (const auto& c : cases) {
            const TinyModelSpec from{c.arch, c.from, seed}, to{c.arch, c.to, seed};
            SCOPED_TRACE(spec_name(from) + " -> " + spec_name(to));
            const auto src = write(from, spec_name(from) + ".gguf");
            const auto ref = dir_ / ("ref-" + spec_name(to) + ".gguf");
            const auto j = run_probe(
                probe, "quantize " + quoted(src) + " --output " + quoted(ref) + " --ftype " + std::to_string(c.ftype));
            ASSERT_EQ(j.value("ok", false), true) << j.dump().substr(0, 2000);
            const auto ours = gguf::fixtures::tiny_model(to)->to_bytes();
            const auto theirs = slurp(ref);
            ASSERT_EQ(theirs.size(), ours.size());
            EXPECT_TRUE(std::memcmp(theirs.data(), ours.data(), ours.size()) == 0) << "the files differ";
        }
    }
}

TEST_F(Reference, QuantizersMatchTheReferenceOnAdversarialWeights) {
    REQUIRE_PROBE();
    struct Case {
        TinyArch arch;
        GgmlType type;
        int ftype;
    };
    for (const auto& c : {Case{TinyArch::llama, GgmlType::F16, 1}, Case{TinyArch::llama, GgmlType::Q8_0, 7},
                          Case{TinyArch::bitnet, GgmlType::Q8_0, 7}, Case{TinyArch::bitnet, GgmlType::TQ1_0, 36},
                          Case{TinyArch::bitnet, GgmlType::TQ2_0, 37}}) {
        const TinyType base = c.arch == TinyArch::llama ? TinyType::f32 : TinyType::f16;
        const auto base_bytes = gguf::fixtures::tiny_model({c.arch, base, 1})->to_bytes();
        const auto base_file = gguf::parse({base_bytes.data(), base_bytes.size()});
        ASSERT_TRUE(base_file);
        const auto src = write(with_weights(*base_file, adversarial), "adversarial.gguf");  // F32, may exceed 1 MB
        const auto ref = dir_ / "ref.gguf";
        const auto j = run_probe(
            probe, "quantize " + quoted(src) + " --output " + quoted(ref) + " --ftype " + std::to_string(c.ftype));
        ASSERT_EQ(j.value("ok", false), true) << j.dump().substr(0, 2000);
        const auto ref_bytes = slurp(ref);
        auto ref_file = gguf::parse({reinterpret_cast<const std::byte*>(ref_bytes.data()), ref_bytes.size()});
        ASSERT_TRUE(ref_file) << ref_file.error().message;
        int compared = 0;
        for (const auto& t : ref_file->tensors()) {
            if (t.dims().size() != 2) continue;
            SCOPED_TRACE(std::string(t.name));
            ASSERT_EQ(t.type, static_cast<std::uint32_t>(c.type));
            const auto values = adversarial(t.name, t.dims()[0] * t.dims()[1]);
            auto ours = gguf::quantize(c.type, values, t.dims()[0]);
            ASSERT_TRUE(ours);
            ASSERT_EQ(ours->size(), t.data.size());
            EXPECT_TRUE(std::equal(ours->begin(), ours->end(), t.data.begin()));
            ++compared;
        }
        EXPECT_GE(compared, 7);
    }
}

TEST_F(Reference, EveryTinyModelLoadsAndDecodesToFiniteLogits) {
    REQUIRE_PROBE();
    for (const TinyModelSpec spec :
         {TinyModelSpec{TinyArch::llama, TinyType::f32, 42}, TinyModelSpec{TinyArch::llama, TinyType::f16, 42},
          TinyModelSpec{TinyArch::llama, TinyType::q8_0, 42}, TinyModelSpec{TinyArch::bitnet, TinyType::f16, 42},
          TinyModelSpec{TinyArch::bitnet, TinyType::q8_0, 42}, TinyModelSpec{TinyArch::bitnet, TinyType::tq1_0, 42},
          TinyModelSpec{TinyArch::bitnet, TinyType::tq2_0, 42}}) {
        SCOPED_TRACE(spec_name(spec));
        const auto path = write(spec, spec_name(spec) + ".gguf");
        const auto j = run_probe(probe, "logits " + quoted(path) + " --tokens 1,75,108,36,259");
        ASSERT_EQ(j.value("ok", false), true) << j.dump().substr(0, 2000);
        auto logits = gguf::crossval::parse_logits_json(j.dump());
        ASSERT_TRUE(logits) << logits.error().message;
        EXPECT_EQ(logits->n_vocab, 275u);
        EXPECT_EQ(logits->n_positions(), 5u);
        EXPECT_EQ(logits->tokens, (std::vector<std::int32_t>{1, 75, 108, 36, 259}));
        for (float v : logits->values) ASSERT_TRUE(std::isfinite(v));
        // not degenerate: each position has a spread of values
        for (std::size_t p = 0; p < logits->n_positions(); ++p) {
            const auto row = logits->row(p);
            const auto [lo, hi] = std::minmax_element(row.begin(), row.end());
            EXPECT_GT(*hi - *lo, 1.0f) << "position " << p;
        }
    }
}

TEST_F(Reference, ReferenceLogitsAreReproducibleAndTernaryFormatsAgree) {
    REQUIRE_PROBE();
    auto logits_of = [&](TinyModelSpec spec) {
        const auto path = write(spec, spec_name(spec) + ".gguf");
        const auto j = run_probe(probe, "logits " + quoted(path));
        EXPECT_EQ(j.value("ok", false), true) << j.dump().substr(0, 2000);
        return gguf::crossval::parse_logits_json(j.dump());
    };
    // the same file twice: bit-identical logits
    auto a = logits_of({TinyArch::llama, TinyType::f32, 42});
    auto b = logits_of({TinyArch::llama, TinyType::f32, 42});
    ASSERT_TRUE(a && b);
    auto same = gguf::crossval::compare_logits(*a, *b);
    ASSERT_TRUE(same) << same.error().message;
    for (const auto& m : *same) EXPECT_EQ(m.max_abs_diff, 0.0);
    // TQ1_0 and TQ2_0 of one seed hold the same ternary weights: the reference agrees within the defaults
    auto t1 = logits_of({TinyArch::bitnet, TinyType::tq1_0, 42});
    auto t2 = logits_of({TinyArch::bitnet, TinyType::tq2_0, 42});
    ASSERT_TRUE(t1 && t2);
    auto m = gguf::crossval::compare_logits(*t1, *t2);
    ASSERT_TRUE(m);
    const auto d = gguf::crossval::first_divergence(*m);
    EXPECT_FALSE(d) << "diverged at position " << d->position << ": " << d->reasons.front();
    // another seed gives other logits: the first position already diverges
    auto c = logits_of({TinyArch::llama, TinyType::f32, 43});
    ASSERT_TRUE(c);
    auto other = gguf::crossval::compare_logits(*a, *c);
    ASSERT_TRUE(other);
    const auto d2 = gguf::crossval::first_divergence(*other);
    ASSERT_TRUE(d2);
    EXPECT_EQ(d2->position, 0u);
}
