// A translation unit that is expensive to compile (the `gxx` workload compiles it with
// g++ -std=c++20 -O1 -c): regex, iostream, ranges, maps and templates. Never run.
#include <algorithm>
#include <iostream>
#include <iterator>
#include <map>
#include <numeric>
#include <ranges>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

template <int N>
struct Fib {
    static constexpr long value = Fib<N - 1>::value + Fib<N - 2>::value;
};
template <>
struct Fib<1> {
    static constexpr long value = 1;
};
template <>
struct Fib<0> {
    static constexpr long value = 0;
};

template <class... Ts>
struct Overload : Ts... {
    using Ts::operator()...;
};
template <class... Ts>
Overload(Ts...) -> Overload<Ts...>;

using Value = std::variant<int, double, std::string, std::vector<int>>;

std::string describe(const Value& v)
{
    return std::visit(Overload{[](int i) { return "int " + std::to_string(i); },
                               [](double d) { return "double " + std::to_string(d); },
                               [](const std::string& s) { return "string " + s; },
                               [](const std::vector<int>& xs) {
                                   return "vector of " + std::to_string(xs.size());
                               }},
                      v);
}

std::map<std::string, std::vector<std::pair<int, std::string>>> index_words(const std::string& text)
{
    std::map<std::string, std::vector<std::pair<int, std::string>>> out;
    std::regex word(R"(([A-Za-z]+)(\d*))");
    int n = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), word);
         it != std::sregex_iterator(); ++it, ++n)
        out[(*it)[1]].emplace_back(n, (*it)[2]);
    return out;
}

auto squares_of_evens(const std::vector<int>& xs)
{
    auto view = xs | std::views::filter([](int x) { return x % 2 == 0; }) |
                std::views::transform([](int x) { return x * x; }) | std::views::take(100);
    std::vector<int> out;
    std::ranges::copy(view, std::back_inserter(out));
    return out;
}

template <class K, class V>
std::unordered_map<V, std::set<K>> invert(const std::map<K, V>& m)
{
    std::unordered_map<V, std::set<K>> out;
    for (const auto& [k, v] : m) out[v].insert(k);
    return out;
}

int run(int argc, char** argv)
{
    std::vector<std::string> args(argv, argv + argc);
    std::ostringstream text;
    for (const auto& a : args) text << a << ' ' << Fib<40>::value << ' ';
    auto idx = index_words(text.str());
    std::vector<int> xs(1000);
    std::iota(xs.begin(), xs.end(), 0);
    auto sq = squares_of_evens(xs);
    std::map<int, std::string> m;
    for (int i = 0; i < 100; ++i) m[i] = describe(Value{i % 3 == 0 ? Value{i} : Value{std::to_string(i)}});
    auto inv = invert(m);
    std::tuple<int, double, std::string> t{1, 2.0, "three"};
    std::cout << idx.size() << ' ' << sq.size() << ' ' << inv.size() << ' ' << std::get<2>(t)
              << std::endl;
    return 0;
}
