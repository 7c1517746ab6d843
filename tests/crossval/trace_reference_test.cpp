// The trace stage against the real reference (ctest label `reference`): a weight perturbed in a copy
// of a model is found at the first tensor that consumes it, and nowhere before; the probe's trace
// is the decode the logits mode returns; one-sided tensors are listed; hostile trace files are
// refused with the format's error. Without the reference every test here FAILS.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <fstream>

#include "crossval/trace.hpp"
#include "crossval/trace_stage.hpp"
#include "fixtures/tiny_model.hpp"
#include "gguf/reader.hpp"
#include "reference/reference.hpp"
#include "safetensors/safetensors.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

using nlohmann::json;
using testing_support::quoted;
using testing_support::run_command;
using testing_support::slurp;
namespace st = gguf::safetensors;

namespace {

const std::string kBin = GGUF_CROSSVAL_BIN;
const std::string kSchema = GGUF_CROSSVAL_SOURCE_DIR "/schema/crossval-report.schema.json";
const std::string kValidator = GGUF_CROSSVAL_SOURCE_DIR "/tests/support/validate_schema.py";

class TraceReference : public testing_support::TempDirTest {
protected:
    // The tiny llama f32 model (seed 42), with `delta` added to element `element` of `tensor`.
    std::filesystem::path model(const std::string& name, const std::string& tensor = "", std::size_t element = 0,
                                float delta = 0) {
        auto w = gguf::fixtures::tiny_model({});
        EXPECT_TRUE(w) << w.error().message;
        auto bytes = w->to_bytes();
        if (!tensor.empty()) {
            auto file = gguf::parse({bytes.data(), bytes.size()});
            EXPECT_TRUE(file.ok());
            bool found = false;
            for (const auto& t : file->tensors()) {
                if (t.name != tensor) continue;
                const auto at = static_cast<std::size_t>(t.data.data() - bytes.data()) + 4 * element;
                float v;
                std::memcpy(&v, bytes.data() + at, 4);
                v += delta;
                std::memcpy(bytes.data() + at, &v, 4);
                found = true;
            }
            EXPECT_TRUE(found) << tensor;
        }
        const auto path = dir_ / name;
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        return path;
    }

    // crossval --trace on `gguf` with `extra` flags; returns the run and the report.
    std::pair<testing_support::RunResult, json> crossval(const std::filesystem::path& gguf, const std::string& extra) {
        const auto report = dir_ / (gguf.stem().string() + ".report.json");
        std::filesystem::remove(report);
        auto r = run_command(kBin + " crossval --model " + quoted(gguf) + " --report " + quoted(report) + " --trace " +
                             extra);
        if (!std::filesystem::exists(report)) return {r, json()};
        auto check = run_command("/usr/bin/python3 " + quoted(std::filesystem::path(kValidator)) + " " +
                                 quoted(std::filesystem::path(kSchema)) + " " + quoted(report));
        EXPECT_EQ(check.exit_code, 0) << "schema: " << check.out << check.err;
        return {r, json::parse(slurp(report))};
    }

    static json trace_stage(const json& report) {
        for (const auto& s : report["stages"]) {
            if (s["name"] == "trace") return s;
        }
        ADD_FAILURE() << "no trace stage in " << report.dump().substr(0, 300);
        return json::object();
    }
};

}  // namespace

TEST_F(TraceReference, APerturbedFfnDownIsFoundAtFfnOutOfItsLayerAndNowhereEarlier) {
    const auto original = model("original.gguf");
    const auto copy = model("copy.gguf", "blk.1.ffn_down.weight", 0, 0.5f);
    const auto copy_trace = dir_ / "copy.safetensors";
    const auto ref_trace = dir_ / "original.safetensors";
    auto [r1, rep1] = crossval(copy, "--trace-out " + quoted(copy_trace));
    ASSERT_EQ(r1.exit_code, 0) << r1.out << r1.err;

    auto [r, report] = crossval(original, "--trace-out " + quoted(ref_trace) + " --against " + quoted(copy_trace));
    EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
    const auto s = trace_stage(report);
    EXPECT_EQ(s["failure_class"], "trace_diverge");
    const auto& d = s["details"]["first_divergence"];
    ASSERT_TRUE(d.is_object()) << s.dump(1).substr(0, 2000);
    EXPECT_EQ(d["tensor"], "ffn_out-1");
    EXPECT_EQ(d["layer"], 1);
    EXPECT_NE(r.out.find("ffn_out-1"), std::string::npos);
    EXPECT_NE(r.out.find("<- first"), std::string::npos) << "the terminal table marks it";

    // The comparison runs in the reference's graph order (its `nodes` metadata), and every tensor
    // before ffn_out-1 is bit-identical: the perturbed weight is consumed nowhere earlier.
    auto reference = gguf::crossval::read_trace(ref_trace);
    ASSERT_TRUE(reference.ok()) << reference.error().message;
    const auto& tensors = s["details"]["tensors"];
    ASSERT_EQ(tensors.size(), reference->tensors.size());
    bool before = true;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        EXPECT_EQ(tensors[i]["key"], reference->tensors[i].key) << i;
        if (tensors[i]["key"] == "ffn_out-1") before = false;
        if (before) EXPECT_EQ(tensors[i]["metrics"]["max_abs_diff"], 0.0) << tensors[i]["key"];
    }
    EXPECT_FALSE(before) << "ffn_out-1 is in the trace";

    // ffn_out-1 = W_down x swiglu-1: adding 0.5 to W_down[0][0] (ggml element 0: output 0, input 0)
    // moves output 0 of position p by 0.5 * swiglu-1[p][0] and nothing else.
    const auto* swiglu = reference->find("ffn_swiglu-1");
    ASSERT_NE(swiglu, nullptr);
    ASSERT_EQ(swiglu->shape, (std::vector<std::uint64_t>{4, 64}));
    double expected = 0;
    std::size_t expected_position = 0;
    for (std::size_t p = 0; p < 4; ++p) {
        const double moved = std::fabs(0.5 * swiglu->values[p * 64]);
        if (moved > expected) {
            expected = moved;
            expected_position = p;
        }
    }
    for (const auto& t : tensors) {
        if (t["key"] != "ffn_out-1") continue;
        EXPECT_NEAR(t["metrics"]["max_abs_diff"].get<double>(), expected, 1e-6 * expected + 1e-7);
        EXPECT_EQ(t["metrics"]["max_abs_index"], expected_position * 32);
        for (std::size_t p = 0; p < 4; ++p) {
            EXPECT_NEAR(t["positions"][p]["max_abs_diff"].get<double>(), std::fabs(0.5 * swiglu->values[p * 64]), 1e-6);
            EXPECT_EQ(t["positions"][p]["max_abs_index"], 0u) << "output channel 0";
        }
    }
}

TEST_F(TraceReference, TheProbeTraceIsTheLogitsDecodeInGraphOrder) {
    const auto gguf = model("m.gguf");
    const auto trace_path = dir_ / "m.safetensors";
    auto [r, report] = crossval(gguf, "--logits --trace-out " + quoted(trace_path));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    auto file = st::open(trace_path);
    ASSERT_TRUE(file.ok()) << file.error().message;
    EXPECT_EQ(file->meta("format"), "gguf-crossval-trace/1");
    EXPECT_EQ(file->meta("tokens"), "[1,75,108,36]") << "BOS and the byte tokens of \"Hi!\" (3 + 'H', ...)";
    EXPECT_EQ(file->meta("model_sha256"), report["sha256"].get<std::string>());

    // llama's graph, layer by layer, in computation order.
    const auto nodes = json::parse(std::string(*file->meta("nodes")));
    std::vector<std::string> keys;
    for (const auto& n : nodes) keys.push_back(n["key"]);
    std::size_t at = 0;
    for (const char* want : {"attn_norm-0", "Qcur-0", "Kcur-0", "kq-0", "kq_soft_max-0", "kqv_out-0", "attn_out-0",
                             "ffn_inp-0", "ffn_norm-0", "ffn_out-0", "l_out-0", "attn_norm-1", "ffn_out-1", "l_out-1",
                             "result_norm", "result_output"}) {
        const auto it = std::find(keys.begin() + static_cast<std::ptrdiff_t>(at), keys.end(), want);
        ASSERT_NE(it, keys.end()) << want << " missing or out of order";
        at = static_cast<std::size_t>(it - keys.begin());
    }
    // Q after RoPE is Qcur-0 (the last node of the name); the projection before it Qcur-0#0.
    for (const auto& n : nodes) {
        if (n["key"] == "Qcur-0") EXPECT_EQ(n["op"], "ROPE");
        if (n["key"] == "Qcur-0#0") EXPECT_EQ(n["op"], "MUL_MAT");
    }
    // Shapes are row-major with the position first: result_output is [n_tokens, n_vocab] and holds
    // exactly the logits the logits stage got from the same decode.
    const auto* out = file->find("result_output");
    ASSERT_NE(out, nullptr);
    ASSERT_EQ(out->shape, (std::vector<std::uint64_t>{4, 275}));
    const auto values = *st::to_f32(*out);
    const auto& positions = report["stages"][3]["details"]["positions"];
    ASSERT_EQ(report["stages"][3]["name"], "logits");
    for (std::size_t p = 0; p < 4; ++p) {
        std::size_t argmax = 0;
        for (std::size_t v = 0; v < 275; ++v) {
            if (values[p * 275 + v] > values[p * 275 + argmax]) argmax = v;
        }
        EXPECT_EQ(positions[p]["argmax"], argmax) << p;
        EXPECT_EQ(positions[p]["max"].get<double>(), static_cast<double>(values[p * 275 + argmax])) << p;
    }
}

TEST_F(TraceReference, ATraceMissingATensorListsIt) {
    const auto gguf = model("m.gguf");
    const auto full = dir_ / "full.safetensors";
    ASSERT_EQ(crossval(gguf, "--trace-out " + quoted(full)).first.exit_code, 0);
    // An engine's trace: the reference's tensors under their names, attn_norm-0 left out, no nodes.
    auto ref = st::open(full);
    ASSERT_TRUE(ref.ok());
    st::Writer w;
    for (const auto& t : ref->tensors) {
        if (t.name != "attn_norm-0") ASSERT_TRUE(w.add(t.name, t.dtype, t.shape, t.data));
    }
    w.set_metadata("tokens", "[1,75,108,36]");
    const auto partial = dir_ / "partial.safetensors";
    ASSERT_TRUE(w.write_file(partial));

    auto [r, report] = crossval(gguf, "--against " + quoted(partial));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto s = trace_stage(report);
    EXPECT_EQ(s["details"]["only_reference"], json::array({"attn_norm-0"}));
    EXPECT_EQ(s["details"]["n_compared"].get<std::size_t>() + 1, ref->tensors.size());
    EXPECT_NE(r.out.find("only in the reference's trace (1): attn_norm-0"), std::string::npos) << r.out;
}

TEST_F(TraceReference, AnotherReferenceBuildAgreesExactly) {
    const auto gguf = model("m.gguf");
    const auto dir = gguf::reference::pinned_reference_dir();
    auto [r, report] = crossval(gguf, "--against " + quoted(dir));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto s = trace_stage(report);
    EXPECT_EQ(s["details"]["n_diverging"], 0);
    EXPECT_GT(s["details"]["n_compared"].get<int>(), 70);
    EXPECT_TRUE(s["details"]["only_reference"].empty());
}

TEST_F(TraceReference, HostileTraceFilesAreRefusedWithTheFormatsError) {
    const auto gguf = model("m.gguf");
    auto file_with = [&](const std::string& name, const std::string& header, std::size_t data) {
        std::string bytes(8, '\0');
        for (int i = 0; i < 8; ++i)
            bytes[static_cast<std::size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
        bytes += header + std::string(data, '\0');
        const auto path = dir_ / name;
        std::ofstream(path, std::ios::binary) << bytes;
        return path;
    };
    const std::vector<std::pair<std::filesystem::path, std::string>> cases{
        {file_with("overlap.safetensors",
                   R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                 "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                   12),
         "tensors_overlap"},
        {file_with("past_end.safetensors", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
         "out_of_bounds"},
        {file_with("deep.safetensors", "{\"__metadata__\":" + std::string(10000, '[') + std::string(10000, ']') + "}",
                   0),
         "header_too_deep"},
        {file_with("not_json.safetensors", "{\"a\":", 0), "invalid_json"},
        {file_with("q8.safetensors", R"({"a":{"dtype":"Q8_0","shape":[2],"data_offsets":[0,8]}})", 8), "unknown_dtype"},
    };
    for (const auto& [path, code] : cases) {
        auto [r, report] = crossval(gguf, "--against " + quoted(path));
        EXPECT_EQ(r.exit_code, 2) << path;
        EXPECT_NE(r.err.find(code), std::string::npos) << path << ": " << r.err;
        EXPECT_NE(r.err.find(path.filename().string()), std::string::npos) << r.err;
    }
    // A 7-byte file, and a length field of 2^63.
    std::ofstream(dir_ / "tiny.safetensors", std::ios::binary) << "1234567";
    auto [r, report] = crossval(gguf, "--against " + quoted(dir_ / "tiny.safetensors"));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
}

TEST_F(TraceReference, TheBuiltinForwardPassAgreesWithLlamaCppTensorByTensorAtF32) {
    const auto gguf = model("m.gguf");
    auto [r, report] = crossval(gguf, "--against builtin");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto s = trace_stage(report);
    EXPECT_EQ(s["details"]["against"]["kind"], "builtin");
    EXPECT_EQ(s["details"]["n_diverging"], 0);
    // Every tensor the forward pass names (attn_norm, Q/K/V with their projections and reshapes,
    // kqv_out, attn_out, ffn_*, l_out per layer, result_norm, result_output) is compared.
    EXPECT_GE(s["details"]["n_compared"].get<int>(), 40);
    for (const auto& t : s["details"]["tensors"]) {
        if (t["status"] == "compared") EXPECT_LE(t["metrics"]["max_abs_diff"].get<double>(), 1e-4) << t["key"];
    }
}

TEST_F(TraceReference, BuiltinOnAPerturbedCopyAgainstLlamaCppOnTheOriginalDivergesFirstAtFfnOut1) {
    const auto original = model("original.gguf");
    const auto copy = model("copy.gguf", "blk.1.ffn_down.weight", 0, 0.5f);
    const auto ref_trace = dir_ / "original.safetensors";
    ASSERT_EQ(crossval(original, "--trace-out " + quoted(ref_trace)).first.exit_code, 0);
    auto reference = gguf::crossval::read_trace(ref_trace);
    ASSERT_TRUE(reference.ok()) << reference.error().message;
    auto builtin = gguf::crossval::builtin_trace(copy, reference->tokens);
    ASSERT_TRUE(builtin.ok()) << builtin.error().message;
    auto c = gguf::crossval::compare_traces(*reference, *builtin);
    ASSERT_TRUE(c.ok()) << c.error().message;
    ASSERT_TRUE(c->first_divergence);
    EXPECT_EQ(c->first_divergence->key, "ffn_out-1");
    EXPECT_EQ(c->first_divergence->layer, 1);
    std::size_t compared_before = 0;
    for (const auto& t : c->tensors) {
        if (t.key == "ffn_out-1") break;
        EXPECT_FALSE(t.diverges) << t.key;
        if (t.status == gguf::crossval::TensorStatus::compared) ++compared_before;
    }
    EXPECT_GE(compared_before, 30u) << "the tensors before it were compared, not skipped";
}

// Q8_0 weights: llama.cpp's CPU backend rounds the activations to Q8_0 before each product, so the
// exact builtin departs at the first projection; rounded as llama.cpp rounds them, the tiny llama
// model (one Q8_0 block per row) agrees tensor by tensor within the f32 thresholds.
TEST_F(TraceReference, BuiltinWithLlamaCppActivationRoundingAgreesOnQ8_0WhereExactDepartsAtTheFirstProjection) {
    const auto gguf = dir_ / "llama-q8_0.gguf";
    ASSERT_EQ(run_command(kBin + " gen-model --arch llama --type q8_0 --output " + quoted(gguf)).exit_code, 0);
    auto [exact_run, exact] = crossval(gguf, "--against builtin");
    EXPECT_EQ(exact_run.exit_code, 3) << exact_run.out << exact_run.err;
    const auto e = trace_stage(exact);
    EXPECT_EQ(e["details"]["against"]["activations"], "exact");
    EXPECT_EQ(e["details"]["first_divergence"]["tensor"], "Qcur-0#0") << e["details"]["first_divergence"].dump();

    auto [rounded_run, rounded] = crossval(gguf, "--against builtin --builtin-activations llama-cpp-cpu");
    EXPECT_EQ(rounded_run.exit_code, 0) << rounded_run.out << rounded_run.err;
    const auto s = trace_stage(rounded);
    EXPECT_EQ(s["details"]["against"]["activations"], "llama-cpp-cpu");
    EXPECT_EQ(s["details"]["n_diverging"], 0);
    EXPECT_GE(s["details"]["n_compared"].get<int>(), 40);
}
