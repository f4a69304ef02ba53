// The HTML report (issue 12): one self-contained page built from a saved JSON report, written
// by the launcher after the program ends (`memtrack --html`) or from a file (`memtrack report
// FILE --html`). The preloaded library does no HTML work. Launcher only; may allocate and throw.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memtrack::launcher {

inline constexpr std::int64_t kDefaultHtmlMaxSize = std::int64_t{32} << 20;

struct HtmlOptions {
    std::int64_t max_size = kDefaultHtmlMaxSize;  // the file's hard cap in bytes
};

// Writes the page for the report at `json_path` to `html_path` (atomically: a temporary file,
// then a rename). Returns 0, or 2 after a one-line error on stderr.
int write_html_report(const std::string& json_path, const std::string& html_path,
                      const HtmlOptions& options);

// The page (html/page.{html,css,js}) around `data`, escaped for its <script> block, with a fresh
// CSP nonce: the report's page (write_html_report) and the diff's (memtrack diff --html) share it.
std::string html_page(const nlohmann::json& data);

// The page's file name for a report: FILE.json -> FILE.html, else FILE + ".html".
std::string html_path_for(const std::string& json_path);

// "32MiB", "500KiB", "2MB", "4096": a byte count; nullopt if unreadable or not positive.
std::optional<std::int64_t> parse_html_size(std::string_view text);

}  // namespace memtrack::launcher
