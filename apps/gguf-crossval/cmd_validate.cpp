// validate: the reader plus every invariant.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "gguf/reader.hpp"
#include "issues_json.hpp"

namespace cli {

Command add_validate(CLI::App& root) {
    auto* app = root.add_subcommand("validate",
                                    "Check a GGUF file: structure, values, tensor types and shapes, data layout. "
                                    "Exit 0 valid, 1 invalid, 2 usage error (bad flags, missing file)");
    struct Opts {
        std::string file;
        bool json = false;
    };
    auto opts = std::make_shared<Opts>();
    app->add_option("FILE", opts->file, "The GGUF file")->required();
    app->add_flag("--json", opts->json, "Print a JSON object instead of text");
    return {app, [opts] {
                auto file = gguf::open(opts->file);
                if (!file && file.error().code == gguf::Code::io_error) {
                    fmt::print(stderr, "error: {}\n", file.error().message);
                    return int{kUsage};
                }
                if (opts->json) {
                    fmt::print("{}\n", validation_json(opts->file, file).dump(2));
                } else if (file) {
                    fmt::print("{}: valid GGUF v{}, {} key-value pairs, {} tensors, data at {}, {} bytes\n",
                               opts->file, file->version(), file->kvs().size(), file->tensors().size(),
                               file->data_offset(), file->file_size());
                    for (const auto& w : file->warnings()) {
                        fmt::print("warning [{}] at offset {}: {}\n", gguf::code_name(w.code), w.offset, w.message);
                    }
                } else {
                    const auto& e = file.error();
                    fmt::print("{}: invalid: [{}] at offset {}: {}\n", opts->file, gguf::code_name(e.code), e.offset,
                               e.message);
                }
                return file ? int{kOk} : int{kInvalid};
            }};
}

}  // namespace cli
