// A small streaming JSON writer for the report: objects, arrays, keys and scalar values into
// one std::string, in one of two layouts per container. The only place the report's JSON
// syntax (escaping, separators, number formats) is written. Cold path; allocates; not
// thread-safe (one writer per report). Used by the library and the launcher alike.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace memtrack::detail {

// JSON string escaping (UTF-8 kept, invalid bytes become U+FFFD). Exposed for the unit tests.
void append_json_string(std::string& out, std::string_view text);

class JsonWriter {
public:
    // Inline: `{"a": 1, "b": 2}` on one line. Block: each member on its own line, indented two
    // spaces per level; an empty block container is `{}` / `[]`. A container inside an inline
    // one is inline.
    enum class Layout { Inline, Block };

    void begin_object(Layout layout = Layout::Inline);
    void end_object();
    void begin_array(Layout layout = Layout::Inline);
    void end_array();
    // The key of the next value (inside an object).
    JsonWriter& key(std::string_view name);

    void value(std::string_view text);
    void value(const char* text) { value(std::string_view(text)); }
    void value(std::int64_t v);
    void value(std::uint64_t v);
    void value(int v) { value(static_cast<std::int64_t>(v)); }
    void value(unsigned v) { value(static_cast<std::uint64_t>(v)); }
    void value(bool v);
    // A number with `decimals` fixed decimals ({:.6f}); decimals < 0: the shortest text that
    // reads back as `v` ({}).
    void value(double v, int decimals);
    void null();
    // A sequence number or other count where 0 means "none": null for 0.
    void count_or_null(std::uint64_t v);

    // The text so far (complete once every container is closed).
    const std::string& text() const noexcept { return out_; }
    std::string take() { return std::move(out_); }

private:
    struct Level {
        Layout layout;
        std::size_t members = 0;
    };
    void before_value();
    void open(char bracket, Layout layout);
    void close(char bracket);

    std::string out_;
    std::vector<Level> levels_;
    bool after_key_ = false;
};

}  // namespace memtrack::detail
