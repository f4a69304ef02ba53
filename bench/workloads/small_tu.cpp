// The `gxx` workload of quick mode (bench/run.sh --quick), where heavy_tu.cpp would take most of
// the time: a few standard headers and templates. Never run.
#include <map>
#include <string>
#include <vector>

std::map<std::string, std::vector<int>> index_words(const std::vector<std::string>& words)
{
    std::map<std::string, std::vector<int>> out;
    for (int i = 0; i < static_cast<int>(words.size()); ++i)
        out[words[i]].push_back(i);
    return out;
}
