#include "validate_data.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "describe/description.hpp"
#include "util/escape.hpp"
#include "util/json_depth.hpp"

namespace cli {
namespace {

// Files smaller than this hash in well under a second: no progress line for them.
constexpr std::uint64_t kProgressThreshold = std::uint64_t{256} << 20;

std::string mib(std::uint64_t bytes) {
    return fmt::format("{:.0f} MiB", static_cast<double>(bytes) / (1 << 20));
}

// A progress line on stderr when it is a terminal and the file is large; nothing otherwise.
gguf::HashOptions hash_options(const std::string& path) {
    gguf::HashOptions o;
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec || size < kProgressThreshold || ::isatty(STDERR_FILENO) == 0) return o;
    auto last = std::make_shared<int>(-1);
    o.progress = [last](std::uint64_t done, std::uint64_t total) {
        const int pct = total == 0 ? 100 : static_cast<int>(done * 100 / total);
        if (pct == *last) return;
        *last = pct;
        fmt::print(stderr, "\rhashing: {:3d}% ({} of {})", pct, mib(done), mib(total));
        if (done == total) fmt::print(stderr, "\r\033[K");
        std::fflush(stderr);
    };
    return o;
}

nlohmann::json tensor_json(const std::string& name, std::optional<std::uint64_t> xxh3, std::uint64_t offset,
                           std::uint64_t size) {
    return {{"name", gguf::describe::render_string(name)},  // names need not be UTF-8; JSON must be
            {"xxh3", xxh3 ? nlohmann::json(gguf::hex64(*xxh3)) : nlohmann::json(nullptr)},
            {"offset", offset},
            {"size", size}};
}

std::string value_text(double v) {
    if (std::isnan(v)) return "nan";
    return v > 0 ? "inf" : "-inf";
}

// The sentence for a row-check finding: tensor, row, where in the row, what, and the value.
gguf::Error non_finite_error(const gguf::NonFiniteFinding& f) {
    const std::string where =
        f.field == "value"
            ? fmt::format("row {} element {}: value {}", f.row, f.block, value_text(f.value))
            : fmt::format("row {} block {}: scale {} is {}", f.row, f.block, f.field, value_text(f.value));
    return gguf::Error{gguf::Code::non_finite_data, f.offset,
                       fmt::format("tensor '{}' {} (llama.cpp's --check-tensors rejects it)", f.tensor, where)};
}

nlohmann::json finding_json(const gguf::NonFiniteFinding& f) {
    return {{"tensor", f.tensor},          {"row", f.row},     {"block", f.block},
            {"element", f.element},        {"field", f.field}, {"offset", f.offset},
            {"value", value_text(f.value)}};
}

nlohmann::json digest_json(const gguf::DataDigest& d) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& t : d.tensors) tensors.push_back(tensor_json(t.name, t.xxh3, t.offset, t.size));
    nlohmann::json non_finite = nlohmann::json::array();
    for (const auto& f : d.non_finite) non_finite.push_back(finding_json(f));
    return {{"sha256", d.sha256}, {"file_size", d.file_size}, {"tensors", tensors}, {"non_finite", non_finite}};
}

gguf::Error manifest_error(const std::string& path, const std::string& what) {
    return gguf::Error{gguf::Code::io_error, 0, fmt::format("manifest '{}': {}", path, what)};
}

std::optional<std::uint64_t> get_u64(const nlohmann::json& j, const char* key) {
    if (!j.contains(key) || !j[key].is_number_unsigned()) return std::nullopt;
    return j[key].get<std::uint64_t>();
}

void outcome_for_check(DataOutcome& out, const std::string& path, const std::string& manifest_path,
                       const gguf::DataDigest& manifest, const gguf::DataCheck& check) {
    nlohmann::json tensors = nlohmann::json::array();
    nlohmann::json damaged = nlohmann::json::array();
    nlohmann::json header = nlohmann::json::array();
    for (const auto& t : check.tensors) {
        tensors.push_back(tensor_json(t.expected.name, t.xxh3, t.expected.offset, t.expected.size));
        if (t.data != gguf::DataStatus::same) {
            auto j = tensor_json(t.expected.name, t.xxh3, t.expected.offset, t.expected.size);
            j["status"] = gguf::data_status_name(t.data);
            j["expected_xxh3"] = gguf::hex64(t.expected.xxh3);
            damaged.push_back(j);
        }
        if (t.header == gguf::HeaderStatus::moved || t.header == gguf::HeaderStatus::missing) {
            header.push_back({{"name", gguf::describe::render_string(t.expected.name)},
                              {"status", gguf::header_status_name(t.header)}});
        }
    }
    out.ok = check.ok() && damaged.empty();
    out.data = {{"sha256", check.sha256}, {"file_size", check.file_size}, {"tensors", tensors}};
    out.manifest = {{"file", gguf::describe::render_string(manifest_path)},
                    {"ok", out.ok},
                    {"sha256_matches", check.sha256_matches},
                    {"expected_sha256", manifest.sha256},
                    {"file_size_matches", check.file_size_matches},
                    {"expected_file_size", manifest.file_size},
                    {"n_tensors", check.tensors.size()},
                    {"damaged", damaged},
                    {"header_differences", header},
                    {"extra_tensors", check.extra}};

    std::string& s = out.text;
    if (out.ok) {
        s += fmt::format("data: identical to the manifest {} ({} tensors, sha256 {})\n", manifest_path,
                         check.tensors.size(), check.sha256);
        return;
    }
    s += fmt::format("data: {} differs from the manifest {}: {} of {} tensors damaged\n", path, manifest_path,
                     damaged.size(), check.tensors.size());
    for (const auto* t : check.damaged()) {
        if (t->data == gguf::DataStatus::differs) {
            s += fmt::format("  differs        {} (offset {}, {} bytes): xxh3 {}, manifest {}\n",
                             gguf::util::terminal_safe(t->expected.name), t->expected.offset, t->expected.size,
                             gguf::hex64(*t->xxh3), gguf::hex64(t->expected.xxh3));
        } else {
            s += fmt::format("  out_of_bounds  {} (offset {}, {} bytes): the file ends at byte {}\n",
                             gguf::util::terminal_safe(t->expected.name), t->expected.offset, t->expected.size,
                             check.file_size);
        }
    }
    if (damaged.empty()) s += "  no tensor's data differs: the difference is in the metadata or the padding\n";
    for (const auto& h : header) {
        s += fmt::format("  header: tensor '{}' is {} in this file's header\n",
                         gguf::util::terminal_safe(h["name"].get<std::string>()),
                         h["status"].get<std::string>() == "missing" ? "missing" : "at another offset or size");
    }
    for (const auto& e : check.extra)
        s += fmt::format("  header: tensor '{}' is not in the manifest\n", gguf::util::terminal_safe(e));
    if (!check.sha256_matches) s += fmt::format("  sha256 {}, manifest {}\n", check.sha256, manifest.sha256);
    if (!check.file_size_matches)
        s += fmt::format("  file size {}, manifest {}\n", check.file_size, manifest.file_size);
}

}  // namespace

gguf::Result<gguf::DataDigest> read_manifest(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        return manifest_error(path, "is not a regular file");  // a FIFO would block
    std::ifstream in(path, std::ios::binary);
    if (!in) return manifest_error(path, "cannot be opened");
    std::stringstream ss;
    ss << in.rdbuf();
    const auto text = ss.str();
    if (!gguf::util::json_depth_within(text)) return manifest_error(path, "nests arrays or objects too deeply");
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return manifest_error(path, "is not valid JSON");
    if (j.is_object() && j.contains("data")) j = j["data"];
    if (!j.is_object() || !j.contains("tensors") || !j["tensors"].is_array()) {
        return manifest_error(path,
                              "has no \"data\" object with a \"tensors\" array: write it with "
                              "'gguf-crossval validate --data --json FILE'");
    }
    gguf::DataDigest d;
    const auto size = get_u64(j, "file_size");
    if (!size) return manifest_error(path, "\"file_size\" is missing or not a non-negative integer");
    d.file_size = *size;
    if (!j.contains("sha256") || !j["sha256"].is_string() || j["sha256"].get<std::string>().size() != 64) {
        return manifest_error(path, "\"sha256\" is missing or not 64 hex digits");
    }
    d.sha256 = j["sha256"].get<std::string>();
    std::unordered_set<std::string> names;
    for (std::size_t i = 0; i < j["tensors"].size(); ++i) {
        const auto& t = j["tensors"][i];
        const auto where = fmt::format("tensor {} of \"tensors\"", i);
        if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) {
            return manifest_error(path, where + " has no \"name\" string");
        }
        const auto offset = get_u64(t, "offset");
        const auto tsize = get_u64(t, "size");
        if (!offset || !tsize)
            return manifest_error(path, where + " needs non-negative integer \"offset\" and \"size\"");
        const auto xxh3 = t.contains("xxh3") && t["xxh3"].is_string() ? gguf::parse_hex64(t["xxh3"].get<std::string>())
                                                                      : std::nullopt;
        if (!xxh3) return manifest_error(path, where + " has no \"xxh3\" of 16 hex digits");
        auto name = t["name"].get<std::string>();
        if (!names.insert(name).second) return manifest_error(path, fmt::format("tensor '{}' appears twice", name));
        d.tensors.push_back({std::move(name), *offset, *tsize, *xxh3});
    }
    return d;
}

DataOutcome validate_data(const std::string& path, const gguf::Result<gguf::File>& file,
                          const std::string& manifest_path) {
    DataOutcome out;
    auto options = hash_options(path);
    options.check_rows = true;
    if (!manifest_path.empty()) {
        auto manifest = read_manifest(manifest_path);
        if (!manifest) {
            out.usage_error = manifest.error().message;
            return out;
        }
        auto check = gguf::check_data(path, *manifest, file ? &*file : nullptr, options);
        if (!check) {
            out.usage_error = check.error().code == gguf::Code::tensors_overlap
                                  ? fmt::format("manifest '{}': {}", manifest_path, check.error().message)
                                  : check.error().message;
            return out;
        }
        outcome_for_check(out, path, manifest_path, *manifest, *check);
        return out;
    }
    if (!file) {  // no tensor table to go by: the whole file's hash only
        auto h = gguf::hash_file(path, {}, options);
        if (!h) {
            out.usage_error = h.error().message;
            return out;
        }
        out.data = {{"sha256", h->sha256}, {"file_size", h->file_size}, {"tensors", nullptr}};
        out.text = fmt::format("data: sha256 {} (tensors not hashed: the file does not parse)\n", h->sha256);
        return out;
    }
    auto digest = gguf::digest_file(path, *file, options);
    if (!digest) {
        out.usage_error = digest.error().message;
        return out;
    }
    out.data = digest_json(*digest);
    out.text = fmt::format("data: sha256 {}, {} tensors (xxh3-64 of each tensor's bytes):\n", digest->sha256,
                           digest->tensors.size());
    for (const auto& t : digest->tensors)
        out.text += fmt::format("  {}  {}\n", gguf::hex64(t.xxh3), gguf::util::terminal_safe(t.name));
    for (const auto& f : digest->non_finite) {
        out.errors.push_back(non_finite_error(f));
        const auto& e = out.errors.back();
        out.text += fmt::format("error [{}] at offset {}: {}\n", gguf::code_name(e.code), e.offset,
                                gguf::util::terminal_safe(e.message));
    }
    out.ok = out.errors.empty();
    return out;
}

}  // namespace cli
