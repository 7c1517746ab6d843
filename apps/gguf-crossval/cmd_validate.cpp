// validate: the reader plus every invariant.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "gguf/reader.hpp"
#include "issues_json.hpp"
#include "validate_data.hpp"

namespace cli {

namespace {

struct Opts {
    std::string file;
    bool json = false;
    bool data = false;
    std::string manifest;
};

int run_validate(const Opts& o) {
    auto file = gguf::open(o.file);
    if (!file && file.error().code == gguf::Code::io_error) {
        fmt::print(stderr, "error: {}\n", safe(file.error().message));
        return int{kUsage};
    }
    std::optional<DataOutcome> data;
    if (o.data || !o.manifest.empty()) {
        data = validate_data(o.file, file, o.manifest);
        if (!data->usage_error.empty()) {
            fmt::print(stderr, "error: {}\n", safe(data->usage_error));
            return int{kUsage};
        }
    }
    if (o.json) {
        auto j = validation_json(o.file, file);
        if (data) j["data"] = data->data;
        if (data && !data->errors.empty()) {
            j["ok"] = false;
            for (const auto& e : data->errors) {
                j["errors"].push_back(
                    {{"code", gguf::code_name(e.code)}, {"offset", e.offset}, {"message", e.message}});
            }
        }
        if (data && !o.manifest.empty()) j["manifest"] = data->manifest;
        fmt::print("{}\n", j.dump(2));
    } else if (file) {
        fmt::print("{}: valid GGUF v{}, {} key-value pairs, {} tensors, data at {}, {} bytes\n", safe(o.file),
                   file->version(), file->kvs().size(), file->tensors().size(), file->data_offset(), file->file_size());
        for (const auto& w : file->warnings()) {
            fmt::print("warning [{}] at offset {}: {}\n", gguf::code_name(w.code), w.offset, safe(w.message));
        }
    } else {
        const auto& e = file.error();
        fmt::print("{}: invalid: [{}] at offset {}: {}\n", safe(o.file), gguf::code_name(e.code), e.offset,
                   safe(e.message));
    }
    if (data && !o.json) fmt::print("{}", data->text);
    return file && (!data || data->ok) ? int{kOk} : int{kInvalid};
}

}  // namespace

Command add_validate(CLI::App& root) {
    auto* app = root.add_subcommand("validate",
                                    "Check a GGUF file: structure, values, tensor types and shapes, data layout. "
                                    "Exit 0 valid, 1 invalid, 2 usage error (bad flags, missing file)");
    auto opts = std::make_shared<Opts>();
    app->add_option("FILE", opts->file, "The GGUF file")->required();
    app->add_flag("--json", opts->json, "Print a JSON object instead of text");
    app->add_flag("--data", opts->data,
                  "Also hash the data: XXH3-64 of each tensor's bytes and SHA-256 of the whole file, in one "
                  "streaming pass (with --json this is the manifest for --manifest)");
    app->add_option("--manifest", opts->manifest,
                    "Check the file against a manifest written by 'validate --data --json' on the original: "
                    "report the tensors whose data differs or is missing; exit 1 if anything differs "
                    "(implies --data)");
    return {app, [opts] { return run_validate(*opts); }};
}

}  // namespace cli
