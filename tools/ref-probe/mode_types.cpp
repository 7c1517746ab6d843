// Mode `types`: the reference's ggml type table, for an independent check of ours. Removed ids
// are listed as ggml has them (name "DEPRECATED", block size 0).
#include "ggml.h"
#include "probe.hpp"

namespace probe {

bool mode_types(const Args& /*args*/, Json& out, std::string& /*error*/) {
    out.field("count", static_cast<int>(GGML_TYPE_COUNT));
    out.key("types").begin_array();
    for (int id = 0; id < GGML_TYPE_COUNT; ++id) {
        const auto type = static_cast<ggml_type>(id);
        out.begin_object();
        out.field("id", id);
        out.field("name", ggml_type_name(type));
        out.field("blck_size", static_cast<std::int64_t>(ggml_blck_size(type)));
        out.field("type_size", static_cast<std::uint64_t>(ggml_type_size(type)));
        out.end_object();
    }
    out.end_array();
    return true;
}

}  // namespace probe
