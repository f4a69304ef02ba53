// The report's JSON writer (see json_writer.hpp): the std::string forms. Cold path; allocates.
#include "report/json_writer.hpp"

#include "report/model.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace memtrack::detail {

namespace {

// A StringSink over a caller's string.
struct AppendSink {
    std::string& out;
    void put(char c) { out += c; }
    void put(std::string_view s) { out.append(s); }
};

}  // namespace

void append_json_string(std::string& out, std::string_view text)
{
    AppendSink sink{out};
    put_json_string(sink, text);
}

double as_written(double v, int decimals)
{
    // The same text the writer produces, read back: exact by construction.
    const std::string text = fmt::format("{:.{}f}", v, decimals);
    return std::strtod(text.c_str(), nullptr);
}

}  // namespace memtrack::detail
