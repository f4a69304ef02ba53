// The call tree behind the HTML flame graph (launcher/call_tree.cpp): built from a report's
// sites and leak groups, folded so the totals stay exact.
#include "call_tree.hpp"

#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <string>

using memtrack::launcher::build_call_tree;
using memtrack::launcher::CallTree;
using memtrack::launcher::Column;
using memtrack::launcher::fold;
using nlohmann::json;

namespace {

json frame(const std::string& fn, int line)
{
    return {{"pc", "0x1"},        {"function", fn},  {"file", "a.cpp"}, {"line", line},
            {"module", "/bin/a"}, {"offset", "0x1"}, {"inlined", false}};
}

json site(int stack, std::int64_t peak, std::int64_t allocations = 1)
{
    return {{"stack", stack},          {"allocations", allocations},
            {"bytes_allocated", peak}, {"frees", 0},
            {"peak_bytes", peak},      {"peak_blocks", 1},
            {"exit_bytes", 0},         {"exit_blocks", 0}};
}

std::int64_t total(const CallTree& t, Column c)
{
    return t.total[0][static_cast<std::size_t>(c)];
}

std::size_t find(const CallTree& t, const std::string& fn)
{
    for (std::size_t n = 0; n < t.size(); ++n)
        if (t.frames[t.frame[n]].function == fn) return n;
    return SIZE_MAX;
}

}  // namespace

TEST_CASE("call tree: stacks merge root first by function, whatever the line")
{
    json r = {{"stacks",
               {{"1", json::array({frame("leaf_a", 3), frame("main", 10)})},
                {"2", json::array({frame("leaf_b", 4), frame("main", 11)})}}},
              {"sites", json::array({site(1, 100), site(2, 50), site(0, 7), site(9, 5)})}};
    const CallTree t = build_call_tree(r);
    CHECK(total(t, Column::peak) == 162);
    const std::size_t main = find(t, "main");
    REQUIRE(main != SIZE_MAX);
    CHECK(t.parent[main] == 0);
    CHECK(t.total[main][0] == 150);  // both stacks under one "main" node
    CHECK(t.parent[find(t, "leaf_a")] == main);
    CHECK(t.total[find(t, "[no stack recorded]")][0] == 7);
    CHECK(t.total[find(t, "[sites without symbols]")][0] == 5);  // stack 9 has no frames
}

TEST_CASE("call tree: leak groups fill the leak columns")
{
    json r = {{"stacks", {{"1", json::array({frame("leaky", 3)})}}},
              {"leaks",
               {{"direct", json::array({{{"bytes", 40}, {"blocks", 2}, {"stack", 1}}})},
                {"indirect", json::array({{{"bytes", 8}, {"blocks", 1}, {"stack", 1}}})},
                {"possible", json::array()}}}};
    const CallTree t = build_call_tree(r);
    CHECK(total(t, Column::direct) == 40);
    CHECK(total(t, Column::indirect) == 8);
    CHECK(total(t, Column::leak_blocks) == 3);
    CHECK(total(t, Column::peak) == 0);
}

TEST_CASE("call tree: folding keeps every total exact and names it [other]")
{
    json stacks = json::object(), sites = json::array();
    // One big site and 1,000 tiny ones (each 1 byte of 1,000,999: under 0.01%).
    stacks["1"] = json::array({frame("big", 1), frame("main", 1)});
    sites.push_back(site(1, 1000000, 1));
    for (int i = 2; i < 1002; ++i) {
        stacks[std::to_string(i)] =
            json::array({frame("tiny_" + std::to_string(i), 2), frame("main", 1)});
        sites.push_back(site(i, 1, 0));
    }
    const CallTree full = build_call_tree({{"stacks", stacks}, {"sites", sites}});
    CHECK(full.size() == 1 + 1 + 1001);
    const CallTree folded = fold(full, 1e-4, 20000);
    CHECK(folded.folded_nodes == 1000);
    CHECK(folded.size() == 4);  // root, main, big, [other]
    for (std::size_t c = 0; c < memtrack::launcher::kColumns; ++c)
        CHECK(folded.total[0][c] == full.total[0][c]);
    const std::size_t other = find(folded, "[other]");
    REQUIRE(other != SIZE_MAX);
    CHECK(folded.total[other][static_cast<std::size_t>(Column::peak)] == 1000);
    CHECK(folded.frames[folded.frame[folded.parent[other]]].function == "main");
}

TEST_CASE("call tree: too many nodes raise the fold threshold until they fit")
{
    json stacks = json::object(), sites = json::array();
    for (int i = 1; i <= 500; ++i) {
        stacks[std::to_string(i)] = json::array({frame("f" + std::to_string(i), 1)});
        sites.push_back(site(i, 1000 + i, 1));  // all about 0.2%: nothing folds at 0.01%
    }
    const CallTree full = build_call_tree({{"stacks", stacks}, {"sites", sites}});
    CHECK(fold(full, 1e-4, 20000).size() == 501);
    const CallTree capped = fold(full, 1e-4, 100);
    CHECK(capped.size() <= 100);
    CHECK(capped.threshold > 1e-4);
    CHECK(capped.total[0] == full.total[0]);
}
