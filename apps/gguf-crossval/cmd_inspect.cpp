// inspect: everything the reader parsed.
#include <fmt/format.h>

#include "command.hpp"
#include "describe/description.hpp"
#include "issues_json.hpp"

namespace cli {

namespace {

struct Opts {
    std::string file;
    bool json = false;
};

int run_inspect(const Opts& o) {
    auto file = gguf::open(o.file);
    if (!file) {
        const auto& e = file.error();
        fmt::print(stderr, "{}: [{}] at offset {}: {}\n", safe(o.file), gguf::code_name(e.code), e.offset,
                   safe(e.message));
        return e.code == gguf::Code::io_error ? int{kUsage} : int{kInvalid};
    }
    const auto d = gguf::describe::describe(*file);
    if (o.json) {
        auto j = gguf::describe::to_json(d);
        j["file"] = gguf::describe::render_string(o.file);  // paths need not be UTF-8
        j["warnings"] = nlohmann::json::array();
        for (const auto& w : file->warnings()) j["warnings"].push_back(issue_json(w));
        fmt::print("{}\n", j.dump(2));
        return int{kOk};
    }
    fmt::print("{}: GGUF v{}{}, alignment {}, data offset {}, {} bytes\n", safe(o.file), d.version,
               file->byte_swapped() ? " (big-endian)" : "", d.alignment, d.data_offset, d.file_size);
    fmt::print("{} key-value pairs:\n", d.n_kv);
    for (const auto& kv : d.kv) fmt::print("  {} ({}) = {}\n", safe(kv.key), kv.type, safe(kv.value.dump()));
    fmt::print("{} tensors:\n", d.n_tensors);
    for (const auto& t : d.tensors) {
        fmt::print("  {} {} [{}] offset {} size {}\n", safe(t.name), t.type, fmt::join(t.dims, ", "), t.offset, t.size);
    }
    for (const auto& w : file->warnings()) {
        fmt::print("warning [{}] at offset {}: {}\n", gguf::code_name(w.code), w.offset, safe(w.message));
    }
    return int{kOk};
}

}  // namespace

Command add_inspect(CLI::App& root) {
    auto* app = root.add_subcommand("inspect",
                                    "Print everything parsed from a GGUF file: header, key-value pairs with typed "
                                    "values, tensor infos. Exit codes as for validate");
    auto opts = std::make_shared<Opts>();
    app->add_option("FILE", opts->file, "The GGUF file")->required();
    app->add_flag("--json", opts->json,
                  "Print JSON (arrays longer than 64 show their first 64 values and an "
                  "xxh64 hash of their bytes)");
    return {app, [opts] { return run_inspect(*opts); }};
}

}  // namespace cli
