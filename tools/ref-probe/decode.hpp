// One decode of a token sequence on the CPU, shared by the modes that need the reference to compute
// (logits, trace): options, model load, a context sized for the tokens, one batch with an output
// requested at every position.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "llama.h"
#include "probe.hpp"

namespace probe {

// --threads (default 1), --flash-attn off|on (off), --kv f32|f16 (f32), --tokens, --libdir.
struct DecodeOptions {
    int threads = 1;
    bool flash_attn = false;
    std::string kv = "f32";
    bool kv_given = false;   // --kv was given (else a reference that refuses f32 may fall back to f16)
    std::string tokens;      // as given; empty: the default sequence
    bool bos_first = false;  // --bos-first yes: the first token becomes BOS when the tokenizer adds one
    std::string libdir;
};
// The directory that holds libllama (beside it: libggml and the CPU backend variants): the default --libdir.
std::string libllama_dir();

bool parse_decode_options(const Args& args, DecodeOptions& out, std::string& error);

// A loaded model and its context, freed together.
struct Session {
    llama_model* model = nullptr;
    llama_context* ctx = nullptr;
    int n_vocab = 0;
    std::vector<llama_token> tokens;
    double decode_ms = 0;  // wall time of llama_decode alone
    std::string kv_used;   // the KV cache type the context got (o.kv, or f16: see kv_note)
    std::string kv_note;   // why it is not the one asked for

    Session() = default;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session();
};

// Loads `file`, picks the tokens (--tokens, else BOS and the byte tokens of "Hi!" when the vocabulary
// has them, else 1, 2, 3), creates a context whose one micro-batch holds every token (the KV cache
// in o.kv, `cb_eval` registered when given), and decodes them once, outputs at every position.
// No warm-up decode: with cb_eval, the callback sees exactly this one decode.
bool load_and_decode(const std::string& file, const DecodeOptions& o, ggml_backend_sched_eval_callback cb_eval,
                     void* cb_data, Session& s, std::string& error);

}  // namespace probe
