// `memtrack report FILE --format=...`: reads the report, renders the export and writes it to
// stdout or -o FILE. Errors are one line on stderr and exit status 2.
#include "exports.hpp"
#include "launcher.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace memtrack::launcher {

namespace {

int fail(const std::string& what, std::string_view why)
{
    fmt::print(stderr, "memtrack: {}: {}\n", what, why);
    return 2;
}

}  // namespace

int write_output(const std::string& output, const std::string& data)
{
    const bool to_stdout = output.empty() || output == "-";
    std::FILE* f = to_stdout ? stdout : std::fopen(output.c_str(), "wb");
    if (f == nullptr) return fail(output, std::strerror(errno));
    const bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
    const int err = errno;
    const bool closed = to_stdout ? std::fflush(f) == 0 : std::fclose(f) == 0;
    if (!ok || !closed) return fail(to_stdout ? "stdout" : output, std::strerror(err));
    return 0;
}

int export_report(const std::string& path, const std::string& format, const std::string& metric,
                  const std::string& output)
{
    const std::optional<Metric> m = parse_metric(metric.empty() ? "peak" : metric);
    if (!m) return fail(path, fmt::format("--metric={} is not one of {}", metric, metric_names()));
    if (format != "collapsed" && !metric.empty())
        return fail(path, fmt::format("--metric applies to --format=collapsed only ({} has "
                                      "every metric)",
                                      format));
    LoadedReport loaded;
    if (const int status = load_report(path, loaded); status != 0) return status;
    const std::string version =
        loaded.model.memtrack_version.empty() ? "?" : loaded.model.memtrack_version;
    std::string data;
    try {
        if (format == "collapsed")
            data = export_collapsed(loaded.model, *m);
        else if (format == "massif")
            data = export_massif(loaded.model, version);
        else if (format == "speedscope")
            data = export_speedscope(loaded.model, version);
        else if (format == "pprof")
            data = export_pprof(loaded.model, version);
        else
            return fail(path, fmt::format("--format={} is not one of text, collapsed, massif, "
                                          "speedscope, pprof",
                                          format));
    } catch (const std::exception& e) {
        return fail(path, e.what());
    }
    return write_output(output, data);
}

}  // namespace memtrack::launcher
