// A small streaming JSON writer for the report: objects, arrays, keys and scalar values into a
// sink, in one of two layouts per container. The only place the report's JSON syntax (escaping,
// separators, number formats) is written. Not thread-safe (one writer per report). Used by the
// library and the launcher alike. Two sinks: StringSink (a std::string; allocates) for the
// normal report, and BufferSink (a caller's fixed buffer; no allocation, no lock, no syscall)
// for the report written from a signal handler (report/signal_report.cpp): the writer itself
// keeps its nesting in a fixed array and formats numbers into stack buffers, so with a
// BufferSink it is async-signal-safe.
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace memtrack::detail {

struct StringSink {
    std::string out;
    void put(char c) { out += c; }
    void put(std::string_view s) { out.append(s); }
};

// A fixed buffer; what does not fit is dropped and overflowed() says so.
class BufferSink {
public:
    BufferSink(char* buf, std::size_t cap) noexcept : buf_(buf), cap_(cap) {}
    void put(char c) noexcept
    {
        if (len_ < cap_)
            buf_[len_++] = c;
        else
            overflow_ = true;
    }
    void put(std::string_view s) noexcept
    {
        for (const char c : s)
            put(c);
    }
    std::size_t size() const noexcept { return len_; }
    bool overflowed() const noexcept { return overflow_; }
    std::string_view text() const noexcept { return {buf_, len_}; }

private:
    char* buf_;
    std::size_t cap_;
    std::size_t len_ = 0;
    bool overflow_ = false;
};

namespace json_detail {

// Length of the valid UTF-8 sequence at s[i], or 0 if invalid.
inline std::size_t utf8_length(std::string_view s, std::size_t i) noexcept
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

}  // namespace json_detail

// JSON string escaping (UTF-8 kept, invalid bytes become U+FFFD).
template <class Sink> void put_json_string(Sink& out, std::string_view text)
{
    static constexpr char kHex[] = "0123456789abcdef";
    out.put('"');
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        const char* esc = nullptr;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            break;
        }
        if (esc != nullptr) {
            out.put(std::string_view(esc));
            ++i;
            continue;
        }
        if (c < 0x20) {
            const char u[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
            out.put(std::string_view(u, sizeof u));
            ++i;
            continue;
        }
        const std::size_t n = json_detail::utf8_length(text, i);
        if (n == 0) {
            out.put(std::string_view("\xEF\xBF\xBD"));  // U+FFFD for a byte that is not UTF-8
            ++i;
            continue;
        }
        out.put(text.substr(i, n));
        i += n;
    }
    out.put('"');
}

// The same into a std::string. Exposed for the unit tests.
void append_json_string(std::string& out, std::string_view text);

template <class Sink> class BasicJsonWriter {
public:
    // Inline: `{"a": 1, "b": 2}` on one line. Block: each member on its own line, indented two
    // spaces per level; an empty block container is `{}` / `[]`. A container inside an inline
    // one is inline.
    enum class Layout { Inline, Block };
    // Deepest nesting kept track of (a report nests 5 deep); deeper is not supported.
    static constexpr int kMaxDepth = 16;

    BasicJsonWriter() = default;
    explicit BasicJsonWriter(Sink sink) : sink_(static_cast<Sink&&>(sink)) {}

    void begin_object(Layout layout = Layout::Inline) { open('{', layout); }
    void end_object() { close('}'); }
    void begin_array(Layout layout = Layout::Inline) { open('[', layout); }
    void end_array() { close(']'); }
    // The key of the next value (inside an object).
    BasicJsonWriter& key(std::string_view name)
    {
        before_value();
        put_json_string(sink_, name);
        sink_.put(std::string_view(": "));
        after_key_ = true;
        return *this;
    }

    void value(std::string_view text)
    {
        before_value();
        put_json_string(sink_, text);
    }
    void value(const char* text) { value(std::string_view(text)); }
    void value(std::int64_t v) { number("{}", v); }
    void value(std::uint64_t v) { number("{}", v); }
    void value(int v) { value(static_cast<std::int64_t>(v)); }
    void value(unsigned v) { value(static_cast<std::uint64_t>(v)); }
    void value(bool v)
    {
        before_value();
        sink_.put(std::string_view(v ? "true" : "false"));
    }
    // A number with `decimals` fixed decimals ({:.6f}); decimals < 0: the shortest text that
    // reads back as `v` ({}).
    void value(double v, int decimals)
    {
        if (decimals < 0)
            number("{}", v);
        else
            number("{:.{}f}", v, decimals);
    }
    // An address or offset as a "0x..." string.
    void hex(std::uint64_t v)
    {
        char buf[24];
        const auto r = fmt::format_to_n(buf, sizeof buf, "0x{:x}", v);
        value(std::string_view(buf, r.size < sizeof buf ? r.size : sizeof buf));
    }
    void null()
    {
        before_value();
        sink_.put(std::string_view("null"));
    }
    // A sequence number or other count where 0 means "none": null for 0.
    void count_or_null(std::uint64_t v)
    {
        if (v == 0)
            null();
        else
            value(v);
    }

    Sink& sink() noexcept { return sink_; }
    // StringSink: the text so far (complete once every container is closed).
    const std::string& text() const noexcept { return sink_.out; }
    std::string take() { return static_cast<std::string&&>(sink_.out); }

private:
    struct Level {
        Layout layout = Layout::Inline;
        std::size_t members = 0;
    };

    template <class... Args> void number(fmt::format_string<Args...> format, Args... args)
    {
        before_value();
        char buf[128];  // a double in fixed notation beyond 1e100 is cut: none is that large
        const auto r = fmt::vformat_to_n(buf, sizeof buf, format, fmt::make_format_args(args...));
        sink_.put(std::string_view(buf, r.size < sizeof buf ? r.size : sizeof buf));
    }

    void indent(int depth)
    {
        for (int i = 0; i < depth; ++i)
            sink_.put(std::string_view("  "));
    }

    // The innermost tracked level (containers deeper than kMaxDepth share the last one).
    Level& current() noexcept { return levels_[(depth_ < kMaxDepth ? depth_ : kMaxDepth) - 1]; }

    void before_value()
    {
        if (after_key_) {
            after_key_ = false;
            return;
        }
        if (depth_ == 0) return;
        Level& l = current();
        if (l.members > 0) sink_.put(std::string_view(l.layout == Layout::Block ? "," : ", "));
        if (l.layout == Layout::Block) {
            sink_.put('\n');
            indent(depth_);
        }
        ++l.members;
    }

    void open(char bracket, Layout layout)
    {
        before_value();
        // Nothing inside an inline container goes on lines of its own.
        if (depth_ > 0 && current().layout == Layout::Inline) layout = Layout::Inline;
        if (depth_ < kMaxDepth) levels_[depth_] = {layout};
        ++depth_;
        sink_.put(bracket);
    }

    void close(char bracket)
    {
        const Level l = current();
        --depth_;
        if (l.layout == Layout::Block && l.members > 0) {
            sink_.put('\n');
            indent(depth_);
        }
        sink_.put(bracket);
    }

    Sink sink_{};
    Level levels_[kMaxDepth] = {};
    int depth_ = 0;
    bool after_key_ = false;
};

using JsonWriter = BasicJsonWriter<StringSink>;

}  // namespace memtrack::detail
