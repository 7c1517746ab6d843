// The matrix's two outputs: matrix.json (everything) and matrix.md (what a person reads first).
#include <fmt/format.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "describe/description.hpp"
#include "gguf/value.hpp"
#include "matrix.hpp"
#include "report.hpp"
#include "util/atomic_file.hpp"
#include "util/escape.hpp"

namespace gguf::crossval {
namespace {

constexpr int kMatrixSchemaVersion = 1;
constexpr std::size_t kMaxFieldsPerCell = 8;  // matrix.md lists at most this many differing fields per reader

nlohmann::json notes_json(const std::vector<Note>& notes) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& n : notes) out.push_back(n.text);
    return out;
}

// A name from the file system under `key`, as describe renders strings (a byte outside UTF-8 as
// \xNN); when it is not UTF-8, also its bytes in hex under key + "_hex", so that nothing is lost.
void put_name(nlohmann::json& j, const std::string& key, const std::string& name) {
    j[key] = describe::render_string(name);
    if (gguf::is_valid_utf8(name)) return;
    std::string hex;
    for (const unsigned char c : name) hex += fmt::format("{:02x}", c);
    j[key + "_hex"] = std::move(hex);
}

nlohmann::json note_kinds_json(const std::vector<Note>& notes) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& n : notes) out.push_back(note_kind_name(n.kind));
    return out;
}

nlohmann::json cell_json(const Cell& c) {
    nlohmann::json j{{"verdict", reader_verdict_name(c.verdict)}, {"code_or_message", c.reason}};
    j["wrong"] = c.wrong ? nlohmann::json(*c.wrong) : nlohmann::json(nullptr);
    auto fields = nlohmann::json::array();
    auto details = nlohmann::json::array();
    for (const auto& m : c.mismatches) {
        fields.push_back(m.field);
        details.push_back({{"field", m.field}, {"ours", m.ours}, {"theirs", m.theirs}});
    }
    j["mismatches"] = std::move(fields);
    j["details"] = std::move(details);
    j["notes"] = notes_json(c.notes);
    j["note_kinds"] = note_kinds_json(c.notes);
    j["data_offset"] = c.data_offset ? nlohmann::json(*c.data_offset) : nlohmann::json(nullptr);
    if (c.documented) j["documented"] = true;
    j["duration_ms"] = static_cast<std::int64_t>(c.duration_ms + 0.5);
    return j;
}

nlohmann::json totals_json(const ReaderTotals& t) {
    return {{"wrongly_accepted", t.wrongly_accepted},
            {"wrongly_rejected", t.wrongly_rejected},
            {"wrong_code", t.wrong_code},
            {"crashes", t.crashes},
            {"timeouts", t.timeouts},
            {"value_disagreements", t.value_disagreements},
            {"accepted", t.accepted},
            {"rejected", t.rejected},
            {"unavailable", t.unavailable},
            {"duration_ms", static_cast<std::int64_t>(t.duration_ms + 0.5)}};
}

// Text from a file in a table cell or list item: cut to 160 bytes (at a character boundary), then
// escaped so that it stays plain text in one cell (util/escape.hpp).
std::string md(std::string s) {
    if (s.size() > 160) {
        std::size_t cut = 157;
        while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
        s = s.substr(0, cut) + "...";
    }
    return util::markdown_cell(s);
}

std::string cell_md(const Cell& c, std::size_t reader) {
    if (c.verdict == ReaderVerdict::unavailable) return "n/a";
    std::string s(reader_verdict_name(c.verdict));
    if (c.wrong.value_or(false)) s = fmt::format("**{}** ✗", s);
    if (reader == kOurs && c.verdict == ReaderVerdict::reject) s += fmt::format(" `{}`", util::markdown_code(c.reason));
    if (c.documented && c.wrong.value_or(false)) s += " (documented)";
    if (!c.mismatches.empty()) s += fmt::format(" ≠{}", c.mismatches.size());
    return s;
}

std::string valid_md(const MatrixFile& f) {
    if (!f.valid) return "?";
    return *f.valid ? "valid" : "malformed";
}

}  // namespace

namespace {

// One entry of matrix.json's "files".
nlohmann::json file_json(const Matrix& m, const MatrixFile& f) {
    nlohmann::json j{{"index", f.index}};
    put_name(j, "name", f.file);
    j["valid"] = f.valid ? nlohmann::json(*f.valid) : nlohmann::json(nullptr);
    j["expected_code"] = f.expected_code.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.expected_code);
    j["category"] = f.category;
    j["description"] = f.description;
    if (!f.reference_expect.empty()) j["reference_expect"] = f.reference_expect;
    j["all_agree"] = f.all_agree();
    nlohmann::json cells = nlohmann::json::object();
    for (std::size_t r = 0; r < f.cells.size(); ++r) cells[m.readers[r].name] = cell_json(f.cells[r]);
    j["readers"] = std::move(cells);
    return j;
}

// matrix.json as a tree; without files, "files" is null (write_matrix_json puts them in its place).
nlohmann::json matrix_json(const Matrix& m, bool with_files) {
    nlohmann::json readers = nlohmann::json::array();
    nlohmann::json totals = nlohmann::json::object();
    for (std::size_t r = 0; r < m.readers.size(); ++r) {
        const auto& info = m.readers[r];
        nlohmann::json j{{"name", info.name},
                         {"version", info.version},
                         {"available", info.available},
                         {"normalisations", notes_json(info.normalisations)},
                         {"normalisation_kinds", note_kinds_json(info.normalisations)}};
        if (!info.available) j["why_unavailable"] = info.why_unavailable;
        readers.push_back(std::move(j));
        totals[info.name] = totals_json(m.totals[r]);
    }
    nlohmann::json files = nlohmann::json::array();
    if (with_files) {
        for (const auto& f : m.files) files.push_back(file_json(m, f));
    } else {
        files = nullptr;
    }
    nlohmann::json out{{"schema", "gguf-crossval-matrix"},
                       {"version", kMatrixSchemaVersion},
                       {"has_manifest", m.has_manifest},
                       {"timestamp", m.timestamp},
                       {"duration_s", static_cast<double>(static_cast<std::int64_t>(m.duration_s * 10 + 0.5)) / 10},
                       {"ours_right", m.ours_right()},
                       {"readers", std::move(readers)},
                       {"totals", std::move(totals)},
                       {"files", std::move(files)}};
    put_name(out, "corpus", m.corpus_dir);
    if (m.shard) out["shard"] = {{"index", m.shard->index}, {"count", m.shard->count}};
    return out;
}

std::string dump_json(const nlohmann::json& j) {
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

constexpr std::size_t kChunk = 1u << 20;  // matrix.json is written (and spooled) in pieces of about this size

// A file's entry as nlohmann prints an element of the "files" array at indent 2: on a new line,
// every line of it indented by four more spaces.
std::string file_entry(const Matrix& m, const MatrixFile& f) {
    std::string out = "\n    ";
    for (const char c : dump_json(file_json(m, f))) {
        out += c;
        if (c == '\n') out += "    ";
    }
    return out;
}

// The matrix's file entries, comma-separated as in the "files" array, given to `sink` in pieces of
// about kChunk.
bool write_entries(const Matrix& m, const std::function<bool(std::string_view)>& sink) {
    std::string chunk;
    for (std::size_t i = 0; i < m.files.size(); ++i) {
        if (i > 0) chunk += ',';
        chunk += file_entry(m, m.files[i]);
        if (chunk.size() >= kChunk) {
            if (!sink(chunk)) return false;
            chunk.clear();
        }
    }
    return chunk.empty() || sink(chunk);
}

}  // namespace

gguf::Result<std::shared_ptr<MatrixSpool>> MatrixSpool::create(const std::filesystem::path& dir) {
    const auto where = dir.string();
    const auto failed = [&](const std::string& why) {
        return Error{Code::io_error, 0, fmt::format("cannot make a temporary file in '{}': {}", where, why)};
    };
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return failed(ec.message());
    auto fd = util::unnamed_file(dir);
    if (!fd) return failed(std::strerror(errno));
    return std::shared_ptr<MatrixSpool>(new MatrixSpool(std::move(fd), where));
}

void MatrixSpool::append(const Matrix& matrix, const MatrixFile& file) {
    if (!error_.empty()) return;  // the run fails anyway: nothing more is held
    if (entries_ > 0) buffer_ += ',';
    buffer_ += file_entry(matrix, file);
    ++entries_;
    if (buffer_.size() >= kChunk) flush();
}

bool MatrixSpool::flush() {
    if (!error_.empty()) return false;
    if (!util::write_all(fd_.get(), buffer_.data(), buffer_.size())) {
        error_ = fmt::format("cannot write the matrix's entries in '{}': {}", where_, std::strerror(errno));
        return false;
    }
    written_ += buffer_.size();
    buffer_.clear();
    return true;
}

bool MatrixSpool::copy_to(const std::function<bool(std::string_view)>& sink) const {
    if (!error_.empty() || !buffer_.empty()) return false;  // a failed or unfinished spool is not matrix.json
    std::string chunk(kChunk, '\0');
    for (std::uint64_t at = 0; at < written_;) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), written_ - at));
        const auto got = ::pread(fd_.get(), chunk.data(), want, static_cast<off_t>(at));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        if (!sink(std::string_view(chunk.data(), static_cast<std::size_t>(got)))) return false;
        at += static_cast<std::uint64_t>(got);
    }
    return true;
}

nlohmann::json to_json(const Matrix& m) {
    return matrix_json(m, true);
}

bool write_matrix_json(const Matrix& m, const std::function<bool(std::string_view)>& sink) {
    // The tree without the files, printed, split where "files" is; then the files one at a time, each
    // printed as nlohmann prints an element of a top-level array at indent 2, so that the bytes are
    // those of to_json(m).dump(2) without the whole tree ever existing. Top-level keys are at two
    // spaces after a newline, and a newline inside a string is printed escaped, so the marker is unique.
    const auto head = dump_json(matrix_json(m, false)) + '\n';
    constexpr std::string_view kMarker = "\n  \"files\": null";
    const auto at = head.find(kMarker);
    if (at == std::string::npos) return false;
    const auto value_at = at + kMarker.size() - 4;  // where "null" starts
    if (!sink(std::string_view(head).substr(0, value_at))) return false;
    const std::size_t entries = m.spool ? m.spool->entries() : m.files.size();
    if (entries == 0) {
        if (!sink("[]")) return false;
    } else if (!sink("[") || !(m.spool ? m.spool->copy_to(sink) : write_entries(m, sink)) || !sink("\n  ]")) {
        return false;
    }
    return sink(std::string_view(head).substr(value_at + 4));
}

namespace {

// matrix.md is written line by line.
struct MarkdownLines {
    std::string& out;
    void operator()(std::string_view s) const {
        out += s;
        out += '\n';
    }
};

// The heading, the legend and one row of totals per reader.
void markdown_summary(const MarkdownLines& line, const Matrix& m) {
    line("# Reader agreement matrix");
    line("");
    line(fmt::format("Corpus `{}`: {} files{}; run {} in {:.0f} s. Generated by `gguf-crossval matrix`.",
                     util::markdown_code(m.corpus_dir), m.files.size(),
                     m.has_manifest ? " listed in manifest.json" : " (no manifest: no expectations)", m.timestamp,
                     m.duration_s));
    line("");
    line(
        "time: the reader's time over all files, its processes' start included (a batch's time is shared among its "
        "files).");
    line("");
    line(
        "A reader is **wrong** (✗) when it accepts a malformed file or rejects a valid one (the manifest's "
        "`valid`). ≠N: it accepted the file and N fields differ from ours. Crashes and timeouts are counted apart.");
    line("");
    line(
        "| reader | version | accepted | rejected | wrongly accepted | wrongly rejected | crashes | timeouts | "
        "value disagreements | time (s) |");
    line("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (std::size_t r = 0; r < m.readers.size(); ++r) {
        const auto& info = m.readers[r];
        const auto& t = m.totals[r];
        if (!info.available) {
            line(fmt::format("| {} | unavailable | - | - | - | - | - | - | - | - |", info.name));
            continue;
        }
        line(fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1f} |", info.name, md(info.version),
                         t.accepted, t.rejected, t.wrongly_accepted, t.wrongly_rejected, t.crashes, t.timeouts,
                         t.value_disagreements, t.duration_ms / 1000));
    }
    if (m.totals[kOurs].wrong_code != 0) {
        line("");
        line(fmt::format("**Our reader rejected {} malformed file(s) with another code than the manifest's.**",
                         m.totals[kOurs].wrong_code));
    }
    for (const auto& info : m.readers) {
        if (info.available) continue;
        line("");
        line(fmt::format("**{} is unavailable**: {}", info.name, info.why_unavailable));
    }
}

// The files where a reader is wrong or disagrees, one row each (`agree`: how many others there are).
void markdown_rows(const MarkdownLines& line, const Matrix& m, std::size_t agree,
                   const std::vector<const MatrixFile*>& rows) {
    line("");
    line("## Files where a reader is wrong or disagrees");
    line("");
    line(
        fmt::format("{} of {} files: every available reader gives the expected verdict and the same values (after "
                    "the normalisations below). The other {}:",
                    agree, m.files.size(), rows.size()));
    line("");
    std::string header = "| file | expected |";
    std::string rule = "|---|---|";
    for (const auto& info : m.readers) {
        header += " " + info.name + " |";
        rule += "---|";
    }
    line(header + " description |");
    line(rule + "---|");
    for (const auto* f : rows) {
        std::string row = fmt::format(
            "| `{}` | {}{} |", util::markdown_code(f->file), valid_md(*f),
            f->expected_code.empty() ? std::string() : fmt::format(" `{}`", util::markdown_code(f->expected_code)));
        for (std::size_t r = 0; r < f->cells.size(); ++r) row += fmt::format(" {} |", cell_md(f->cells[r], r));
        line(fmt::format("{} {} |", row, md(f->description)));
    }
    line("");
    line(
        "(documented): llama.cpp's verdict is the one docs/gguf-notes.md documents for this file (the manifest's "
        "reference_expect).");
}

// The differing fields and the peers' messages on the rows above.
void markdown_details(const MarkdownLines& line, const Matrix& m, const std::vector<const MatrixFile*>& rows) {
    line("");
    line("## Details");
    line("");
    for (const auto* f : rows) {
        std::vector<std::string> items;
        for (std::size_t r = 1; r < f->cells.size(); ++r) {
            const auto& c = f->cells[r];
            if (!c.mismatches.empty()) {
                std::string fields;
                for (std::size_t i = 0; i < c.mismatches.size() && i < kMaxFieldsPerCell; ++i) {
                    const auto& d = c.mismatches[i];
                    fields += fmt::format("{}`{}` ours {} theirs {}", i == 0 ? "" : "; ", util::markdown_code(d.field),
                                          md(d.ours.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)),
                                          md(d.theirs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
                }
                if (c.mismatches.size() > kMaxFieldsPerCell) {
                    fields += fmt::format("; and {} more (matrix.json)", c.mismatches.size() - kMaxFieldsPerCell);
                }
                items.push_back(fmt::format("{} differs: {}", m.readers[r].name, fields));
            }
            if ((c.wrong.value_or(false) && c.verdict == ReaderVerdict::reject) || c.verdict == ReaderVerdict::crash ||
                c.verdict == ReaderVerdict::timeout) {
                items.push_back(
                    fmt::format("{} {}: {}", m.readers[r].name, reader_verdict_name(c.verdict), md(c.reason)));
            }
        }
        if (items.empty()) continue;
        line(fmt::format("- `{}`", util::markdown_code(f->file)));
        for (const auto& item : items) line("  - " + item);
    }
}

// Normalisations: per reader, what was applied and how often.
void markdown_normalisations(const MarkdownLines& line, const Matrix& m) {
    line("");
    line("## Normalisations");
    line("");
    line("Documented differences of definition, applied before comparing and not counted as disagreements:");
    line("");
    std::size_t type36 = 0;
    for (std::size_t r = 0; r < m.readers.size(); ++r) {
        const auto& info = m.readers[r];
        const auto& applied = m.totals[r].normalised;  // note kind -> files it was applied on
        const auto applied_on = [&](NoteKind kind) {
            const auto it = applied.find(kind);
            return it == applied.end() ? std::size_t{0} : it->second;
        };
        type36 += applied_on(NoteKind::type_id_36);
        for (const auto& n : info.normalisations) {
            const auto count = n.kind == NoteKind::fields_not_reported
                                   ? std::string()
                                   : fmt::format(" (applied on {} files)", applied_on(n.kind));
            line(fmt::format("- {}: {}{}", info.name, n.text, count));
        }
    }
    line(
        fmt::format("- every reader: tensor type id 36 is compared as an id: our reader names it I2_S (bitnet.cpp), "
                    "ggml's table IQ4_NL_4_4 (applied {} times)",
                    type36));
    line(
        "- every reader: arrays longer than 64 elements are compared by their first 64 values and a hash of all "
        "their bytes (describe's rendering, the same for all)");
}

}  // namespace

std::string to_markdown(const Matrix& m) {
    std::string out;
    const MarkdownLines line{out};
    markdown_summary(line, m);
    std::size_t agree = 0;
    std::vector<const MatrixFile*> rows;
    for (const auto& f : m.files) {
        if (f.all_agree())
            ++agree;
        else
            rows.push_back(&f);
    }
    markdown_rows(line, m, agree, rows);
    markdown_details(line, m, rows);
    markdown_normalisations(line, m);
    return out;
}

gguf::Status write_matrix(const Matrix& matrix, const std::filesystem::path& dir) {
    const auto failed_json = util::write_file(dir / "matrix.json", [&](const util::WriteTarget& target) {
        return write_matrix_json(
            matrix, [&](std::string_view bytes) { return util::write_all(target.fd, bytes.data(), bytes.size()); });
    });
    if (failed_json) return Error{Code::io_error, 0, failed_json->message};
    if (auto failed = util::write_file(dir / "matrix.md", to_markdown(matrix))) {
        return Error{Code::io_error, 0, failed->message};
    }
    return Ok{};
}

}  // namespace gguf::crossval
