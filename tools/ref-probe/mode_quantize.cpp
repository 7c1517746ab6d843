// Mode `quantize`: llama_model_quantize of a whole model, the way the reference itself writes
// quantized files, for byte comparison with our quantizers (include/gguf/data/quantize.hpp).
//
//   quantize FILE --output PATH --ftype N [--libdir D]
//
// pure = true (every quantizable tensor gets the ftype's default type, no mixture heuristics),
// nthread = 1. N is a llama_ftype number: 0 ALL_F32, 1 MOSTLY_F16, 7 MOSTLY_Q8_0, 36 MOSTLY_TQ1_0,
// 37 MOSTLY_TQ2_0 (any other value is passed through; the reference decides).
#include <cerrno>
#include <cstdlib>
#include <string>

#include "ggml-backend.h"
#include "llama.h"
#include "probe.hpp"

namespace probe {

bool mode_quantize(const Args& args, Json& out, std::string& error) {
    const auto output = args.option("output");
    const auto ftype_text = args.option("ftype");
    if (!args.file || !output || !ftype_text) {
        error = "mode quantize needs FILE, --output PATH and --ftype N";
        return false;
    }
    errno = 0;
    char* end = nullptr;
    const long ftype = std::strtol(ftype_text->c_str(), &end, 10);
    if (errno != 0 || end == ftype_text->c_str() || *end != '\0' || ftype < 0 || ftype > 1024) {
        error = "--ftype must be a llama_ftype number, e.g. 7 for MOSTLY_Q8_0";
        return false;
    }
    llama_backend_init();

    llama_model_quantize_params params = llama_model_quantize_default_params();
    params.nthread = 1;
    params.ftype = static_cast<llama_ftype>(ftype);
    params.pure = true;
    const std::uint32_t rc = llama_model_quantize(args.file->c_str(), output->c_str(), &params);
    if (rc != 0) {
        error = "llama_model_quantize returned " + std::to_string(rc);
        return false;
    }
    out.field("input", *args.file);
    out.field("output", *output);
    out.field("ftype", ftype);
    out.field("pure", true);
    out.field("nthread", 1);
    return true;
}

}  // namespace probe
