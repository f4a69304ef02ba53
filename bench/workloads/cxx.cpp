// cxx ROUNDS: std::map / std::string / std::vector heavy code (the operator new/delete path):
// each round builds a map of 20,000 string keys to vectors, looks keys up, erases half, and
// drops the rest. Fixed seed; prints a checksum.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

int main(int argc, char** argv)
{
    const long rounds = argc > 1 ? std::atol(argv[1]) : 40;
    std::uint64_t s = 0x9E3779B97F4A7C15ull, sum = 0;
    auto next = [&s] {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    };
    for (long r = 0; r < rounds; ++r) {
        std::map<std::string, std::vector<int>> m;
        for (int i = 0; i < 20000; ++i) {
            std::string key = "key-" + std::to_string(next() % 100000) + "-with-some-length";
            auto& v = m[key];
            for (int k = 0; k < static_cast<int>(next() % 24); ++k) v.push_back(k);
        }
        for (int i = 0; i < 20000; ++i) {
            auto it = m.find("key-" + std::to_string(next() % 100000) + "-with-some-length");
            if (it != m.end()) sum += it->second.size();
        }
        for (auto it = m.begin(); it != m.end();) it = (next() & 1) ? m.erase(it) : std::next(it);
        sum += m.size();
    }
    std::printf("%llu\n", static_cast<unsigned long long>(sum));
    return 0;
}
