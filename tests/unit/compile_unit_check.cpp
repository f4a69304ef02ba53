// Compiled by ctest twice: with a good unit it must compile, with a bad one it must not
// (fmt checks format strings at compile time; memtrack's Bytes formatter rejects the unit).
#include <memtrack/memtrack.hpp>

#include <string>

std::string render(memtrack::Bytes b)
{
#if defined(MT_UNIT_KIND_bad)
    return fmt::format("{:Mb}", b);
#else
    return fmt::format("{:MiB}", b);
#endif
}
