// Mode `load`: a full model load through llama.cpp on the CPU (n_gpu_layers 0, check_tensors, mmap),
// the way an application would load the file; with --vocab-only 1, llama.cpp's vocabulary-only route
// (the hyperparameters and the vocabulary, no tensor), the way its tokenizer tools load a file. The tensor count has no
// llama API: it is read from the loader's own log line "loaded meta data with N key-value pairs and M tensors"
// ("n_tensors_source").
#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "compat.hpp"
#include "decode.hpp"
#include "ggml-backend.h"
#include "ggml.h"
#include "llama.h"
#include "probe.hpp"

namespace probe {
namespace {

// Parse the loader's "loaded meta data with N key-value pairs and M tensors" line.
bool meta_counts(const std::string& log, long long& n_kv, long long& n_tensors) {
    static const char kMarker[] = "loaded meta data with ";
    const auto pos = log.find(kMarker);
    if (pos == std::string::npos) return false;
    return std::sscanf(log.c_str() + pos, "loaded meta data with %lld key-value pairs and %lld tensors", &n_kv,
                       &n_tensors) == 2;
}

}  // namespace

bool mode_load(const Args& args, Json& out, std::string& error) {
    if (!args.file) {
        error = "mode load needs a FILE";
        return false;
    }
    const std::string libdir = args.option("libdir").value_or(libllama_dir());
    llama_backend_init();
    compat::load_backends(libdir.c_str());
    out.field("libdir", libdir);
    out.key("backends").begin_array();
    for (std::size_t i = 0; i < ggml_backend_reg_count(); ++i)
        out.value(ggml_backend_reg_name(ggml_backend_reg_get(i)));
    out.end_array();

    llama_model_params params = llama_model_default_params();
    params.n_gpu_layers = 0;
    params.check_tensors = true;
    const std::string vocab_only = args.option("vocab-only").value_or("0");
    if (vocab_only != "0" && vocab_only != "1") {
        error = "--vocab-only must be 0 or 1";
        return false;
    }
    params.vocab_only = vocab_only == "1";
    out.field("vocab_only", params.vocab_only);
    compat::set_mmap(params);
    llama_model* model = compat::load_model(args.file->c_str(), params);
    if (model == nullptr) {
        error = "llama_model_load_from_file returned NULL";
        return false;
    }
    char desc[512] = {0};
    llama_model_desc(model, desc, sizeof desc);
    out.field("n_params", static_cast<std::uint64_t>(llama_model_n_params(model)));
    out.field("n_vocab", compat::n_vocab(model));
    out.field("n_layer", compat::n_layer(model));
    out.field("n_embd", compat::n_embd(model));
    out.field("description", static_cast<const char*>(desc));
    out.field("n_meta", llama_model_meta_count(model));
    long long n_kv = 0, n_tensors = 0;
    if (meta_counts(captured_log(), n_kv, n_tensors)) {
        out.field("n_kv", n_kv);
        out.field("n_tensors", n_tensors);
        out.field("n_tensors_source", "log: loaded meta data with N key-value pairs and M tensors");
    } else {
        out.key("n_tensors").null();
        out.field("n_tensors_source", "unavailable: the loader's meta data line was not logged");
    }
    compat::free_model(model);
    return true;
}

}  // namespace probe
