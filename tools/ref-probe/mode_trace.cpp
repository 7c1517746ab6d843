// Mode `trace`: decode one token sequence with llama.cpp and capture every node of the graph as it
// is computed (through the scheduler's cb_eval), written as a safetensors trace file
// (docs/trace-format.md).
//
//   trace FILE --output PATH [--tokens 1,72,101] [--sha256 HEX] [--capture on|off] [decode options as logits]
//
// The decode is the one of mode logits (one micro-batch holding every token, an output at every
// position, f32 KV cache, one thread, no warm-up), so the trace shows how those logits came about.
// Each node: name and occurrence (llama.cpp gives some names to several nodes), ggml op, shape (ggml's
// ne reversed to row-major, trailing size-1 dims dropped), whether it is a view. F32, F16 and BF16
// data is copied as f32 through the node's strides (views need not be contiguous); other types are
// listed with "captured": false. `--capture off` decodes with the callback answering "not needed"
// for every node: the plain decode, timed the same way, to measure what capturing costs.
//
// Fields: "output", "tokens", "n_nodes", "n_captured", "bytes", "decode_ms", "capture".
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "decode.hpp"
#include "ggml.h"
#include "probe.hpp"

namespace probe {
namespace {

struct Node {
    std::string name;  // as ggml holds it; may be empty
    int occurrence = 0;
    int index = 0;  // position among the nodes the callback saw
    std::string op;
    std::string type;
    std::vector<std::int64_t> shape;  // row-major
    bool view = false;
    bool contiguous = true;
    bool captured = false;
    std::size_t first = 0, count = 0;  // its values in Capture::values
};

struct Capture {
    bool enabled = true;
    std::vector<Node> nodes;
    std::vector<float> values;
    std::map<std::string, int> seen;
    std::vector<std::uint8_t> raw;
};

float element(const std::uint8_t* p, ggml_type type) {
    if (type == GGML_TYPE_F32) {
        float f;
        std::memcpy(&f, p, 4);
        return f;
    }
    if (type == GGML_TYPE_F16) {
        ggml_fp16_t h;
        std::memcpy(&h, p, 2);
        return ggml_fp16_to_fp32(h);
    }
    ggml_bf16_t b;
    std::memcpy(&b, p, 2);
    return ggml_bf16_to_fp32(b);
}

bool on_eval(ggml_tensor* t, bool ask, void* user_data) {
    auto& c = *static_cast<Capture*>(user_data);
    if (ask) return c.enabled;
    Node n;
    n.name = t->name;
    n.occurrence = n.name.empty() ? 0 : c.seen[n.name]++;
    n.index = static_cast<int>(c.nodes.size());
    n.op = ggml_op_name(t->op);
    n.type = ggml_type_name(t->type);
    for (int d = ggml_n_dims(t) - 1; d >= 0; --d) n.shape.push_back(t->ne[d]);
    n.view = t->view_src != nullptr;
    n.contiguous = ggml_is_contiguous(t);
    const bool floating = t->type == GGML_TYPE_F32 || t->type == GGML_TYPE_F16 || t->type == GGML_TYPE_BF16;
    if (floating && t->buffer != nullptr && t->data != nullptr) {
        // Copy the byte range the node spans, then walk it by its strides: a view may skip bytes.
        const std::size_t nbytes = ggml_nbytes(t);
        c.raw.resize(nbytes);
        ggml_backend_tensor_get(t, c.raw.data(), 0, nbytes);
        n.first = c.values.size();
        n.count = static_cast<std::size_t>(ggml_nelements(t));
        c.values.reserve(c.values.size() + n.count);
        for (std::int64_t i3 = 0; i3 < t->ne[3]; ++i3)
            for (std::int64_t i2 = 0; i2 < t->ne[2]; ++i2)
                for (std::int64_t i1 = 0; i1 < t->ne[1]; ++i1)
                    for (std::int64_t i0 = 0; i0 < t->ne[0]; ++i0) {
                        const std::size_t at =
                            static_cast<std::size_t>(i0) * t->nb[0] + static_cast<std::size_t>(i1) * t->nb[1] +
                            static_cast<std::size_t>(i2) * t->nb[2] + static_cast<std::size_t>(i3) * t->nb[3];
                        c.values.push_back(element(c.raw.data() + at, t->type));
                    }
        n.captured = true;
    }
    c.nodes.push_back(std::move(n));
    return true;
}

// The key a node is stored under: the last node of a name gets the plain name, earlier ones
// NAME#k; unnamed nodes #node<i>.
std::vector<std::string> keys_of(const Capture& c) {
    std::vector<std::string> keys;
    for (const auto& n : c.nodes) {
        if (n.name.empty())
            keys.push_back("#node" + std::to_string(n.index));
        else if (n.occurrence + 1 == c.seen.at(n.name))
            keys.push_back(n.name);
        else
            keys.push_back(n.name + "#" + std::to_string(n.occurrence));
    }
    return keys;
}

// The safetensors file: u64 LE header length, the JSON header (padded with spaces to a multiple of
// 8), the f32 data of the captured nodes in graph order. Temporary file, then rename.
bool write_trace(const std::string& path, const Capture& c, const std::vector<std::string>& keys,
                 const std::vector<llama_token>& tokens, const std::string& sha256, std::size_t& bytes,
                 std::string& error) {
    Json nodes;
    nodes.begin_array();
    for (std::size_t i = 0; i < c.nodes.size(); ++i) {
        const auto& n = c.nodes[i];
        nodes.begin_object().field("key", keys[i]).field("name", n.name).field("occurrence", n.occurrence);
        nodes.field("op", n.op).field("type", n.type).key("shape").begin_array();
        for (auto d : n.shape) nodes.value(d);
        nodes.end_array().field("view", n.view).field("contiguous", n.contiguous).field("captured", n.captured);
        nodes.end_object();
    }
    nodes.end_array();
    Json tok;
    tok.begin_array();
    for (auto t : tokens) tok.value(t);
    tok.end_array();

    Json h;
    h.begin_object().key("__metadata__").begin_object();
    h.field("format", "gguf-crossval-trace/1").field("producer", "ref-probe llama.cpp");
    h.field("tokens", tok.str()).field("model_sha256", sha256).field("nodes", nodes.str());
    h.end_object();
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < c.nodes.size(); ++i) {
        const auto& n = c.nodes[i];
        if (!n.captured) continue;
        h.key(keys[i]).begin_object().field("dtype", "F32").key("shape").begin_array();
        for (auto d : n.shape) h.value(d);
        h.end_array().key("data_offsets").begin_array().value(offset).value(offset + 4 * n.count).end_array();
        h.end_object();
        offset += 4 * n.count;
    }
    h.end_object();
    std::string header = h.str();
    header.append((8 - header.size() % 8) % 8, ' ');

    const std::string tmp = path + ".tmp.probe";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr) {
        error = "cannot write " + tmp + ": " + std::strerror(errno);
        return false;
    }
    unsigned char len[8];
    for (int i = 0; i < 8; ++i)
        len[i] = static_cast<unsigned char>((static_cast<std::uint64_t>(header.size()) >> (8 * i)) & 0xFF);
    bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(header.data(), 1, header.size(), f) == header.size();
    for (const auto& n : c.nodes) {
        if (ok && n.captured && n.count > 0) ok = std::fwrite(c.values.data() + n.first, 4, n.count, f) == n.count;
    }
    ok = std::fclose(f) == 0 && ok;
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        error = "cannot write " + path + ": " + std::strerror(errno);
        std::remove(tmp.c_str());
        return false;
    }
    bytes = 8 + header.size() + static_cast<std::size_t>(offset);
    return true;
}

}  // namespace

bool mode_trace(const Args& args, Json& out, std::string& error) {
    if (!args.file) {
        error = "mode trace needs a FILE";
        return false;
    }
    const auto output = args.option("output");
    const std::string capture = args.option("capture").value_or("on");
    if (capture != "on" && capture != "off") {
        error = "--capture must be on or off";
        return false;
    }
    if (!output && capture == "on") {
        error = "mode trace needs --output PATH";
        return false;
    }
    DecodeOptions o;
    if (!parse_decode_options(args, o, error)) return false;
    Capture c;
    c.enabled = capture == "on";
    Session s;
    if (!load_and_decode(*args.file, o, on_eval, &c, s, error)) return false;

    std::size_t bytes = 0, captured = 0;
    for (const auto& n : c.nodes) captured += n.captured ? 1 : 0;
    if (c.enabled && !write_trace(*output, c, keys_of(c), s.tokens, args.option("sha256").value_or(""), bytes, error)) {
        return false;
    }
    out.field("output", output.value_or(""));
    out.field("capture", c.enabled);
    out.key("tokens").begin_array();
    for (llama_token t : s.tokens) out.value(t);
    out.end_array();
    out.field("n_nodes", c.nodes.size());
    out.field("n_captured", captured);
    out.field("bytes", bytes);
    out.key("decode_us").value(static_cast<std::int64_t>(s.decode_ms * 1000));
    return true;
}

}  // namespace probe
