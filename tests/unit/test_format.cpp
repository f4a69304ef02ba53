// Byte formatting of the public C++ API.
#include <memtrack/memtrack.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>

using memtrack::Bytes;

TEST_CASE("format: automatic and fixed units", "[format]")
{
    CHECK(fmt::format("{}", Bytes{0}) == "0 B");
    CHECK(fmt::format("{}", Bytes{1023}) == "1023 B");
    CHECK(fmt::format("{}", Bytes{1024}) == "1.00 KiB");
    CHECK(fmt::format("{}", Bytes{3LL << 30}) == "3.00 GiB");
    CHECK(fmt::format("{}", Bytes{-2048}) == "-2.00 KiB");
    CHECK(fmt::format("{:MiB}", Bytes{3LL << 30}) == "3072.00 MiB");
    CHECK(fmt::format("{:.3GiB}", Bytes{1LL << 29}) == "0.500 GiB");
    CHECK(fmt::format("{:B}", Bytes{1LL << 20}) == "1048576 B");
    CHECK(fmt::format("{:MB}", Bytes{158'000}) == "0.16 MB");
    CHECK(fmt::format("{:.0KB}", Bytes{158'000}) == "158 KB");
    memtrack::Measurement m{Bytes{1 << 30}, Bytes{3LL << 30}, 0.5};
    CHECK(fmt::format("{}", m) == "current 1.00 GiB, peak 3.00 GiB");
    CHECK(fmt::format("{:.1MiB}", m) == "current 1024.0 MiB, peak 3072.0 MiB");
}

TEST_CASE("format: an unknown unit is an error, never ignored", "[format]")
{
    CHECK_THROWS_AS(memtrack::parse_unit("Mb"), std::invalid_argument);
    CHECK_THROWS_AS(memtrack::parse_unit(""), std::invalid_argument);
    CHECK(memtrack::parse_unit("GiB") == memtrack::Unit::GiB);
    CHECK_THROWS_AS(fmt::format(fmt::runtime("{:Mb}"), Bytes{1}), fmt::format_error);
    CHECK_THROWS_AS(fmt::format(fmt::runtime("{:.x}"), Bytes{1}), fmt::format_error);
    CHECK(Bytes{3LL << 30}.in(memtrack::Unit::GiB) == 3.0);
}
