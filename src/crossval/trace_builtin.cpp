// The built-in forward pass (src/forward) as a trace source: its named intermediate tensors,
// keyed as the probe keys llama.cpp's nodes (the last tensor of a name under the plain name,
// earlier ones NAME#k), so that the two traces line up name for name.
#include <fmt/format.h>
#include <map>

#include "forward/model.hpp"
#include "trace_stage.hpp"

namespace gguf::crossval {
namespace {

struct Collector final : forward::TraceSink {
    struct Entry {
        std::string name;
        std::uint32_t occurrence;
        TraceTensor tensor;
    };
    std::vector<Entry> entries;
    std::map<std::string, std::uint32_t, std::less<>> count;

    void tensor(const forward::TraceTensor& t) override {
        TraceTensor out;
        out.shape.assign(t.shape.begin(), t.shape.end());
        out.values.assign(t.data.begin(), t.data.end());
        entries.push_back({std::string(t.name), t.occurrence, std::move(out)});
        auto& n = count[std::string(t.name)];
        n = std::max(n, t.occurrence + 1);
    }
};

}  // namespace

TraceResult<Trace> builtin_trace(const std::filesystem::path& model_path, const std::vector<std::int32_t>& tokens,
                                 forward::Activations activations) {
    auto file = gguf::open(model_path);
    if (!file)
        return TraceError{TraceCode::source_failed, 0,
                          "the built-in forward pass cannot read the file: " + file.error().message};
    auto model = forward::Model::load(*file);
    if (!model) {
        return TraceError{TraceCode::source_failed, 0,
                          fmt::format("the built-in forward pass does not run this model ({}): {}",
                                      forward::code_name(model.error().code), model.error().message)};
    }
    Collector sink;
    if (auto logits = model->run(tokens, &sink, activations); !logits) {
        return TraceError{TraceCode::source_failed, 0,
                          fmt::format("the built-in forward pass failed ({}): {}",
                                      forward::code_name(logits.error().code), logits.error().message)};
    }
    Trace trace;
    trace.source = "builtin";
    trace.producer = "gguf-crossval built-in forward pass";
    trace.tokens = tokens;
    for (auto& e : sink.entries) {
        e.tensor.key = e.occurrence + 1 == sink.count[e.name] ? e.name : fmt::format("{}#{}", e.name, e.occurrence);
        trace.tensors.push_back(std::move(e.tensor));
    }
    return trace;
}

}  // namespace gguf::crossval
