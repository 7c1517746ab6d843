// The seam between the trace stage and the built-in forward pass (src/forward): its named
// intermediate tensors as a Trace.
#include "trace_stage.hpp"

namespace gguf::crossval {

Result<Trace> builtin_trace(const std::filesystem::path&, const std::vector<std::int32_t>&) {
    return Error{Code::io_error, 0, "the built-in forward pass is not part of this build"};
}

}  // namespace gguf::crossval
