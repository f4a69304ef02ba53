// pprof's profile.proto (google/pprof proto/profile.proto), encoded by hand: the wire format
// needs only varints and length-delimited fields. Sample types are the heap profile's of Go,
// jemalloc and tcmalloc: alloc_objects and alloc_space (every allocation of the run),
// inuse_objects and inuse_space (the sites' shares of the heap peak; default). A location is
// one return address with its inlined frames as lines, callee first. Gzipped with zlib, as
// the format's on-disk form asks.
#include "exports.hpp"

#include <fmt/core.h>
#include <zlib.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace memtrack::launcher {

namespace {

// Field numbers of profile.proto.
namespace field {
constexpr int kSampleType = 1, kSample = 2, kMapping = 3, kLocation = 4, kFunction = 5,
              kStringTable = 6, kDurationNanos = 10, kPeriodType = 11, kPeriod = 12, kComment = 13,
              kDefaultSampleType = 14;
constexpr int kValueTypeType = 1, kValueTypeUnit = 2;
constexpr int kSampleLocationId = 1, kSampleValue = 2;
constexpr int kMappingId = 1, kMappingStart = 2, kMappingLimit = 3, kMappingFilename = 5,
              kMappingHasFunctions = 7, kMappingHasFilenames = 8, kMappingHasLineNumbers = 9,
              kMappingHasInlineFrames = 10;
constexpr int kLocationId = 1, kLocationMappingId = 2, kLocationAddress = 3, kLocationLine = 4;
constexpr int kLineFunctionId = 1, kLineLine = 2;
constexpr int kFunctionId = 1, kFunctionName = 2, kFunctionSystemName = 3, kFunctionFilename = 4;
}  // namespace field

class Proto {
public:
    const std::string& bytes() const { return buf_; }
    // int64 and uint64 fields alike (an int64 below 0 takes ten bytes, as protobuf's).
    void number(int f, std::uint64_t v)
    {
        if (v == 0) return;  // proto3's default: not written
        key(f, 0);
        varint(v);
    }
    void signed_number(int f, std::int64_t v) { number(f, static_cast<std::uint64_t>(v)); }
    void text(int f, std::string_view s)  // written even if empty (string_table[0] is "")
    {
        key(f, 2);
        varint(s.size());
        buf_ += s;
    }
    void message(int f, const Proto& m) { text(f, m.bytes()); }
    void packed(int f, const std::vector<std::uint64_t>& values)
    {
        Proto p;
        for (const std::uint64_t v : values)
            p.varint(v);
        message(f, p);
    }

private:
    void key(int f, int wire)
    {
        varint(static_cast<std::uint64_t>(f) << 3 | static_cast<unsigned>(wire));
    }
    void varint(std::uint64_t v)
    {
        while (v >= 0x80) {
            buf_ += static_cast<char>((v & 0x7f) | 0x80);
            v >>= 7;
        }
        buf_ += static_cast<char>(v);
    }
    std::string buf_;
};

std::string gzip(const std::string& data)
{
    z_stream zs{};
    if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw ExportError("zlib: deflateInit2 failed");
    std::string out(deflateBound(&zs, data.size()), '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) throw ExportError("zlib: deflate failed");
    return out;
}

class Builder {
public:
    std::uint64_t str(const std::string& s)
    {
        if (const auto it = strings_.find(s); it != strings_.end()) return it->second;
        const std::uint64_t id = table_.size();
        table_.push_back(s);
        return strings_[s] = id;
    }

    std::uint64_t function(const std::string& name, const std::string& file)
    {
        const auto key = std::pair{name, file};
        if (const auto it = functions_.find(key); it != functions_.end()) return it->second;
        const std::uint64_t id = functions_.size() + 1;
        Proto f;
        f.number(field::kFunctionId, id);
        f.number(field::kFunctionName, str(name));
        f.number(field::kFunctionSystemName, str(name));
        f.number(field::kFunctionFilename, str(file));
        body_.message(field::kFunction, f);
        return functions_[key] = id;
    }

    std::uint64_t mapping(const md::ReportFrame& f)
    {
        if (f.module.empty()) return 0;
        auto [it, fresh] = mappings_.try_emplace(f.module);
        Mapping& m = it->second;
        if (fresh) {
            m.id = mappings_.size();
            m.start = f.pc - f.offset;
        }
        m.limit = std::max(m.limit, f.pc + 1);
        return m.id;
    }

    // frames[from, to): one return address, its inlined frames first.
    std::uint64_t location(const std::vector<md::ReportFrame>& frames, std::size_t from,
                           std::size_t to)
    {
        std::vector<std::pair<std::uint64_t, int>> lines;
        for (std::size_t i = from; i < to; ++i)
            lines.emplace_back(function(frame_name(frames[i]), frames[i].file), frames[i].line);
        const md::ReportFrame& physical = frames[to - 1];
        const auto key = std::tuple{physical.pc, physical.module, lines};
        if (const auto it = locations_.find(key); it != locations_.end()) return it->second;
        const std::uint64_t id = locations_.size() + 1;
        Proto l;
        l.number(field::kLocationId, id);
        l.number(field::kLocationMappingId, mapping(physical));
        l.number(field::kLocationAddress, physical.pc);
        for (const auto& [fn, line] : lines) {
            Proto ln;
            ln.number(field::kLineFunctionId, fn);
            ln.signed_number(field::kLineLine, line);
            l.message(field::kLocationLine, ln);
        }
        body_.message(field::kLocation, l);
        return locations_[key] = id;
    }

    std::uint64_t missing(std::uint32_t stack)
    {
        std::vector<md::ReportFrame> one{md::ReportFrame{}};
        one[0].function = missing_stack_frame(stack);
        return location(one, 0, 1);
    }

    Proto& body() { return body_; }

    // pprof takes the first mapping for the main binary: the program's comes first.
    std::string finish(Proto head, const std::string& program)
    {
        std::vector<std::pair<std::string, Mapping>> order(mappings_.begin(), mappings_.end());
        std::sort(order.begin(), order.end(), [&](const auto& x, const auto& y) {
            return std::pair{x.first != program, x.second.id} <
                   std::pair{y.first != program, y.second.id};
        });
        for (const auto& [module, m] : order) {
            Proto p;
            p.number(field::kMappingId, m.id);
            p.number(field::kMappingStart, m.start);
            p.number(field::kMappingLimit, std::max(m.limit, m.start + 1));
            p.number(field::kMappingFilename, str(module));
            p.number(field::kMappingHasFunctions, 1);
            p.number(field::kMappingHasFilenames, 1);
            p.number(field::kMappingHasLineNumbers, 1);
            p.number(field::kMappingHasInlineFrames, 1);
            head.message(field::kMapping, p);
        }
        std::string out = head.bytes() + body_.bytes();
        Proto strings;
        for (const std::string& s : table_)
            strings.text(field::kStringTable, s);
        return out + strings.bytes();
    }

private:
    struct Mapping {
        std::uint64_t id = 0, start = 0, limit = 0;
    };
    std::vector<std::string> table_{""};
    std::map<std::string, std::uint64_t> strings_{{"", 0}};
    std::map<std::pair<std::string, std::string>, std::uint64_t> functions_;
    std::map<std::string, Mapping> mappings_;
    std::map<std::tuple<std::uint64_t, std::string, std::vector<std::pair<std::uint64_t, int>>>,
             std::uint64_t>
        locations_;
    Proto body_;  // functions, locations and samples, in the order they were made
};

}  // namespace

std::string export_pprof(const md::ReportModel& r, const std::string& version)
{
    if (!r.sites_recorded)
        throw ExportError("the report has no sites (a stats-only run: MEMTRACK_STACK_DEPTH=0)");
    Builder b;
    Proto head;
    const auto value_type = [&](int f, const char* type, const char* unit) {
        Proto vt;
        vt.number(field::kValueTypeType, b.str(type));
        vt.number(field::kValueTypeUnit, b.str(unit));
        head.message(f, vt);
    };
    value_type(field::kSampleType, "alloc_objects", "count");
    value_type(field::kSampleType, "alloc_space", "bytes");
    value_type(field::kSampleType, "inuse_objects", "count");
    value_type(field::kSampleType, "inuse_space", "bytes");
    value_type(field::kPeriodType, "space", "bytes");
    head.number(field::kPeriod, 1);
    head.signed_number(field::kDurationNanos, static_cast<std::int64_t>(r.process.wall_s * 1e9));
    head.number(field::kDefaultSampleType, b.str("inuse_space"));
    for (const std::string& c :
         {fmt::format("memtrack {}: {}", version, r.program),
          std::string("inuse_*: what each site held at the heap's peak (heap.peak_bytes); "
                      "alloc_*: every allocation of the run")})
        head.number(field::kComment, b.str(c));

    for (const md::ReportSite& s : r.sites) {
        if (s.allocations == 0 && s.peak_bytes == 0 && s.peak_blocks == 0) continue;
        std::vector<std::uint64_t> ids;
        const auto it = r.stacks.find(s.stack);
        if (it == r.stacks.end() || it->second.empty()) {
            ids.push_back(b.missing(s.stack));
        } else {
            const std::vector<md::ReportFrame>& f = it->second;
            std::size_t from = 0;
            for (std::size_t i = 0; i < f.size(); ++i)
                if (!f[i].inlined || i + 1 == f.size()) {
                    ids.push_back(b.location(f, from, i + 1));
                    from = i + 1;
                }
        }
        Proto sample;
        sample.packed(field::kSampleLocationId, ids);
        sample.packed(field::kSampleValue,
                      {s.allocations, s.bytes_allocated, static_cast<std::uint64_t>(s.peak_blocks),
                       static_cast<std::uint64_t>(s.peak_bytes)});
        b.body().message(field::kSample, sample);
    }
    return gzip(b.finish(std::move(head), r.program));
}

}  // namespace memtrack::launcher
