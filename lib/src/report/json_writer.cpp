// The report's JSON writer (see json_writer.hpp). Cold path; allocates.
#include "report/json_writer.hpp"

#include "report/model.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace memtrack::detail {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if invalid.
std::size_t utf8_length(std::string_view s, std::size_t i)
{
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0 && c >= 0xC2)
        n = 2;
    else if ((c & 0xF0) == 0xE0)
        n = 3;
    else if ((c & 0xF8) == 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
    return n;
}

}  // namespace

void append_json_string(std::string& out, std::string_view text)
{
    out += '"';
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        switch (c) {
        case '"':
            out += "\\\"";
            ++i;
            continue;
        case '\\':
            out += "\\\\";
            ++i;
            continue;
        case '\n':
            out += "\\n";
            ++i;
            continue;
        case '\r':
            out += "\\r";
            ++i;
            continue;
        case '\t':
            out += "\\t";
            ++i;
            continue;
        default:
            break;
        }
        if (c < 0x20) {
            fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
            ++i;
            continue;
        }
        const std::size_t n = utf8_length(text, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD for a byte that is not valid UTF-8
            ++i;
            continue;
        }
        out.append(text.substr(i, n));
        i += n;
    }
    out += '"';
}

double as_written(double v, int decimals)
{
    // The same text the writer produces, read back: exact by construction.
    const std::string text = fmt::format("{:.{}f}", v, decimals);
    return std::strtod(text.c_str(), nullptr);
}

void JsonWriter::before_value()
{
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (levels_.empty()) return;
    Level& l = levels_.back();
    if (l.members > 0) out_ += l.layout == Layout::Block ? "," : ", ";
    if (l.layout == Layout::Block) {
        out_ += '\n';
        out_.append(2 * levels_.size(), ' ');
    }
    ++l.members;
}

void JsonWriter::open(char bracket, Layout layout)
{
    before_value();
    // Nothing inside an inline container goes on lines of its own.
    if (!levels_.empty() && levels_.back().layout == Layout::Inline) layout = Layout::Inline;
    levels_.push_back({layout});
    out_ += bracket;
}

void JsonWriter::close(char bracket)
{
    const Level l = levels_.back();
    levels_.pop_back();
    if (l.layout == Layout::Block && l.members > 0) {
        out_ += '\n';
        out_.append(2 * levels_.size(), ' ');
    }
    out_ += bracket;
}

void JsonWriter::begin_object(Layout layout)
{
    open('{', layout);
}

void JsonWriter::end_object()
{
    close('}');
}

void JsonWriter::begin_array(Layout layout)
{
    open('[', layout);
}

void JsonWriter::end_array()
{
    close(']');
}

JsonWriter& JsonWriter::key(std::string_view name)
{
    before_value();
    append_json_string(out_, name);
    out_ += ": ";
    after_key_ = true;
    return *this;
}

void JsonWriter::value(std::string_view text)
{
    before_value();
    append_json_string(out_, text);
}

void JsonWriter::value(std::int64_t v)
{
    before_value();
    fmt::format_to(std::back_inserter(out_), "{}", v);
}

void JsonWriter::value(std::uint64_t v)
{
    before_value();
    fmt::format_to(std::back_inserter(out_), "{}", v);
}

void JsonWriter::value(bool v)
{
    before_value();
    out_ += v ? "true" : "false";
}

void JsonWriter::value(double v, int decimals)
{
    before_value();
    if (decimals < 0)
        fmt::format_to(std::back_inserter(out_), "{}", v);
    else
        fmt::format_to(std::back_inserter(out_), "{:.{}f}", v, decimals);
}

void JsonWriter::null()
{
    before_value();
    out_ += "null";
}

void JsonWriter::count_or_null(std::uint64_t v)
{
    if (v == 0)
        null();
    else
        value(v);
}

}  // namespace memtrack::detail
