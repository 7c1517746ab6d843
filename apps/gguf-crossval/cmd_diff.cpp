// diff: what differs between two GGUF files, from the header down to the tensor values.
#include <fmt/format.h>

#include "command.hpp"
#include "describe/description.hpp"
#include "diff/diff.hpp"

namespace cli {
namespace {

// A file that cannot be compared: which one, and why. Exit 2 (usage), as the README says.
int refuse(const std::string& which, const std::string& path, const gguf::Error& e, bool json) {
    const auto name = gguf::describe::render_string(path);
    const auto why = e.code == gguf::Code::io_error ? "cannot be read" : "is not valid GGUF";
    // The message may quote bytes from the file: dumped as a JSON string, it holds no control character.
    fmt::print(stderr, "gguf-crossval diff: file {} {} {}: [{}] at offset {}: {}\n", which, nlohmann::json(name).dump(),
               why, gguf::code_name(e.code), e.offset, nlohmann::json(gguf::describe::render_string(e.message)).dump());
    if (json) {
        const nlohmann::json j{{"error",
                                {{"which", which},
                                 {"file", name},
                                 {"code", gguf::code_name(e.code)},
                                 {"offset", e.offset},
                                 {"message", gguf::describe::render_string(e.message)}}}};
        fmt::print("{}\n", j.dump(2));
    }
    return int{kUsage};
}

}  // namespace

Command add_diff(CLI::App& root) {
    auto* app = root.add_subcommand("diff",
                                    "Compare two GGUF files: header, key-values, tensor table, and each common "
                                    "tensor's data (hash; NMSE and max abs after dequantization). Exit 0 identical, "
                                    "1 different, 2 usage (a file missing, unreadable or not valid GGUF)");
    struct Opts {
        std::string a, b;
        bool json = false;
    };
    auto opts = std::make_shared<Opts>();
    app->add_option("A", opts->a, "The first GGUF file (the reference for NMSE)")->required();
    app->add_option("B", opts->b, "The second GGUF file")->required();
    app->add_flag("--json", opts->json, "Print one JSON document (fields in docs/diff.md)");
    return {app, [opts] {
                auto fa = gguf::open(opts->a);
                if (!fa) return refuse("A", opts->a, fa.error(), opts->json);
                auto fb = gguf::open(opts->b);
                if (!fb) return refuse("B", opts->b, fb.error(), opts->json);
                auto d = gguf::diff::diff_files(opts->a, *fa, opts->b, *fb);
                if (!d) {
                    const bool b = d.error().file == 'B';
                    return refuse(b ? "B" : "A", b ? opts->b : opts->a, d.error().error, opts->json);
                }
                if (opts->json)
                    fmt::print("{}\n", gguf::diff::to_json(*d).dump(2));
                else
                    fmt::print("{}", gguf::diff::to_text(*d));
                return d->identical() ? int{kOk} : int{kInvalid};
            }};
}

}  // namespace cli
