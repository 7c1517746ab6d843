// Finding the peer readers and running their adapters.
#include "peers.hpp"

#include <fmt/format.h>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "child.hpp"
#include "process.hpp"
#include "util/json_depth.hpp"

namespace gguf::reference {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kInstallHint = "run scripts/fetch-peers";

fs::path peers_dir() {
    return GGUF_REFERENCE_PEERS_DIR;
}

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
}

bool is_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

// A bare program name looked up in PATH, as posix_spawnp would; a path is taken as is.
std::optional<fs::path> find_program(const std::string& program) {
    if (program.find('/') != std::string::npos) {
        if (is_file(program)) return fs::path(program);
        return std::nullopt;
    }
    std::stringstream path(env("PATH"));
    for (std::string dir; std::getline(path, dir, ':');) {
        if (dir.empty()) continue;
        const auto candidate = fs::path(dir) / program;
        if (is_file(candidate)) return candidate;
    }
    return std::nullopt;
}

// `key = "value"` from a TOML-like file (pyproject.toml's version), or "".
std::string toml_string(const fs::path& file, std::string_view key) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(key, 0) != 0) continue;
        const auto open = line.find('"'), close = line.rfind('"');
        if (open != std::string::npos && close > open) return line.substr(open + 1, close - open - 1);
    }
    return "";
}

// version=... from the REFERENCE file scripts/fetch-reference writes, or "".
std::string reference_version(const fs::path& dir) {
    std::ifstream in(dir / "REFERENCE");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("version=", 0) == 0) return line.substr(8);
    }
    return "";
}

Peer unavailable(Peer p, std::string why) {
    p.available = false;
    p.why_unavailable = std::move(why);
    return p;
}

}  // namespace

Peer locate_gguf_py() {
    Peer p;
    p.name = "gguf-py";
    const auto from_env = env("GGUF_CROSSVAL_GGUF_PY");
    const fs::path dir = from_env.empty() ? pinned_reference_dir() / "src" / "gguf-py" : fs::path(from_env);
    const auto origin = from_env.empty() ? std::string("the pinned reference") : std::string("GGUF_CROSSVAL_GGUF_PY");
    const auto python_name =
        env("GGUF_CROSSVAL_PYTHON").empty() ? std::string("/usr/bin/python3") : env("GGUF_CROSSVAL_PYTHON");
    const auto script = peers_dir() / "gguf_py_describe.py";
    if (!is_file(dir / "gguf" / "gguf_reader.py")) {
        return unavailable(p, fmt::format("no gguf-py at {} (from {}): no gguf/gguf_reader.py there; {} (or set "
                                          "GGUF_CROSSVAL_GGUF_PY to the directory holding the gguf package)",
                                          dir.string(), origin, kInstallHint));
    }
    const auto python = find_program(python_name);
    if (!python) {
        return unavailable(p, fmt::format("no Python interpreter {}: install python3 and python3-numpy ({}), or set "
                                          "GGUF_CROSSVAL_PYTHON",
                                          python_name, kInstallHint));
    }
    if (!is_file(script)) return unavailable(p, fmt::format("the adapter {} is missing", script.string()));
    // numpy is the one dependency of GGUFReader: check it once here rather than fail on every file.
    ProcessSpec check{*python, {"-I", "-c", "import numpy"}, {}, std::chrono::seconds(30)};
    const auto r = run_process(check);
    if (!r.exited_normally() || r.exit_code != 0) {
        return unavailable(
            p, fmt::format("{} cannot import numpy: install python3-numpy ({})", python->string(), kInstallHint));
    }
    const auto package_version = toml_string(dir / "pyproject.toml", "version");
    const auto ref_version = reference_version(dir.parent_path().parent_path());
    p.version = fmt::format("gguf {}{}", package_version.empty() ? "(version unknown)" : package_version,
                            ref_version.empty() ? "" : fmt::format(" (gguf-py of {})", ref_version));
    p.program = *python;
    // -I: isolated mode, so that no PYTHON* variable or user site-packages changes what is imported.
    p.args = {"-I", script.string(), dir.string()};
    p.available = true;
    return p;
}

Peer locate_hf_gguf() {
    Peer p;
    p.name = "@huggingface/gguf";
    const auto from_env = env("GGUF_CROSSVAL_HF_GGUF");
    const fs::path dir =
        from_env.empty() ? cache_root() / "npm-peers" / "node_modules" / "@huggingface" / "gguf" : fs::path(from_env);
    const auto origin = from_env.empty() ? std::string("the peers cache") : std::string("GGUF_CROSSVAL_HF_GGUF");
    const auto node_name = env("GGUF_CROSSVAL_NODE").empty() ? std::string("node") : env("GGUF_CROSSVAL_NODE");
    const auto script = peers_dir() / "hf_gguf_describe.mjs";
    std::ifstream in(dir / "package.json");
    const auto package = nlohmann::json::parse(in, nullptr, false);
    if (!in || package.is_discarded() || !package.is_object()) {
        return unavailable(p, fmt::format("no @huggingface/gguf at {} (from {}): {} (or set GGUF_CROSSVAL_HF_GGUF to "
                                          "the package's directory)",
                                          dir.string(), origin, kInstallHint));
    }
    const auto version = package.value("version", std::string());
    if (package.value("name", std::string()) != "@huggingface/gguf" || version != kHfGgufVersion) {
        return unavailable(p,
                           fmt::format("{} holds {}@{}, not @huggingface/gguf@{}: {}", dir.string(),
                                       package.value("name", std::string("?")), version, kHfGgufVersion, kInstallHint));
    }
    const auto node = find_program(node_name);
    if (!node) {
        return unavailable(
            p, fmt::format("no Node.js ({}): install nodejs (Node 20 or later), or set GGUF_CROSSVAL_NODE", node_name));
    }
    if (!is_file(script)) return unavailable(p, fmt::format("the adapter {} is missing", script.string()));
    p.version = version;
    p.program = *node;
    p.args = {script.string(), dir.string()};
    p.available = true;
    return p;
}

namespace {

// One adapter line (a JSON object with "ok") as an outcome; nullopt when it is not one.
std::optional<StageOutcome> outcome_from_line(std::string_view line) {
    StageOutcome o;
    if (!util::json_depth_within(line)) return std::nullopt;
    o.payload = nlohmann::json::parse(line, nullptr, false);
    if (o.payload.is_discarded() || !o.payload.is_object() || !o.payload.contains("ok")) return std::nullopt;
    if (o.payload["ok"] == true) {
        o.ok = true;
        return o;
    }
    const auto error = o.payload.find("error");
    o.message = error != o.payload.end() && error->is_string() ? error->get<std::string>() : "(no error text)";
    const auto flag = [&](const char* name) {
        const auto it = o.payload.find(name);
        return it != o.payload.end() && *it == true;
    };
    o.failure = flag("unavailable")  ? FailureClass::reference_unavailable
                : flag("unreadable") ? FailureClass::file_unreadable  // could not open the file at all
                                     : FailureClass::invalid_gguf;
    return o;
}

}  // namespace

StageOutcome run_peer(const Peer& peer, const fs::path& file, const RunOptions& options) {
    StageOutcome o;
    if (!peer.available) {
        o.failure = FailureClass::reference_unavailable;
        o.message = peer.why_unavailable;
        return o;
    }
    auto args = peer.args;
    args.push_back(file.string());
    const auto r = run_child(peer.program, std::move(args), peer.env, options, o);
    if (!r.started) {
        o.failure = FailureClass::reference_unavailable;
        o.message = fmt::format("{} did not start: {}", peer.name, r.spawn_error);
        return o;
    }
    if (r.timed_out) {
        o.failure = FailureClass::timeout;
        o.message = fmt::format("{} did not finish within {} ms and was killed", peer.name, options.timeout.count());
        return o;
    }
    if (r.stdout_overflow) {
        o.failure = FailureClass::other;
        o.message = fmt::format("{} printed more than {} bytes and was killed", peer.name, options.stdout_cap);
        return o;
    }
    if (r.signal) {
        o.failure = FailureClass::abort_or_signal;
        o.message = fmt::format("{} died of {}", peer.name, signal_name(*r.signal));
        return o;
    }
    auto line = std::string_view(r.out);
    while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    auto parsed = outcome_from_line(line);
    if (!parsed) {
        o.failure = FailureClass::abort_or_signal;
        auto last = r.err;
        while (!last.empty() && last.back() == '\n') last.pop_back();
        if (const auto nl = last.rfind('\n'); nl != std::string::npos) last = last.substr(nl + 1);
        o.message = fmt::format("{} exited with {} without printing its JSON object{}", peer.name, r.exit_code,
                                last.empty() ? "" : ": " + last);
        return o;
    }
    parsed->duration_ms = o.duration_ms;
    parsed->exit_code = o.exit_code;
    parsed->log_excerpt = std::move(o.log_excerpt);
    return std::move(*parsed);
}

std::vector<StageOutcome> run_peer_batch(const Peer& peer, const std::vector<fs::path>& files,
                                         const RunOptions& options) {
    std::vector<StageOutcome> out(files.size());
    if (!peer.available) {
        for (auto& o : out) o = run_peer(peer, {}, options);
        return out;
    }
    for (std::size_t start = 0; start < files.size();) {
        if (files.size() - start == 1) {
            out[start] = run_peer(peer, files[start], options);
            break;
        }
        ProcessSpec spec;
        spec.program = peer.program;
        spec.args = peer.args;
        for (std::size_t i = start; i < files.size(); ++i) spec.args.push_back(files[i].string());
        spec.env = peer.env;
        spec.timeout = options.timeout;
        spec.stdout_cap = options.stdout_cap;
        spec.stderr_cap = options.stderr_cap;
        const auto r = run_process(spec);
        // Every complete line is one file's answer, in order.
        std::size_t done = start, pos = 0;
        while (done < files.size()) {
            const auto nl = r.out.find('\n', pos);
            if (nl == std::string::npos) break;
            auto o = outcome_from_line(std::string_view(r.out).substr(pos, nl - pos));
            if (!o) break;
            out[done++] = std::move(*o);
            pos = nl + 1;
        }
        const double each = done > start ? r.duration_ms / static_cast<double>(done - start) : 0;
        for (std::size_t i = start; i < done; ++i) out[i].duration_ms = each;
        if (done == files.size()) break;
        // It stopped on files[done] (or could not start): that file alone decides what happened to it.
        out[done] = run_peer(peer, files[done], options);
        start = done + 1;
    }
    return out;
}

}  // namespace gguf::reference
