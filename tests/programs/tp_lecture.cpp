// The lecture's two peak cases as a plain program (no memtrack API, not linked with it), for
// bench/accuracy/peak_heaptrack.py to run the same binary under memtrack and heaptrack:
//   keep-local N   process_data's keep-local variant with N bytes: load_data, modify1 and
//                  modify2 each hold one buffer at the peak
//   list N P       stack_using_list: N images of P doubles held at once, and the total
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using Data = std::vector<std::uint8_t>;

[[gnu::noinline]] Data load_data(std::size_t n)
{
    Data d(n);
    for (std::size_t i = 0; i < n; i += 4096)
        d[i] = static_cast<std::uint8_t>(i);
    return d;
}

[[gnu::noinline]] Data modify1(const Data& in)
{
    Data out(in.size());
    for (std::size_t i = 0; i < in.size(); i += 4096)
        out[i] = static_cast<std::uint8_t>(in[i] * 2);
    return out;
}

[[gnu::noinline]] Data modify2(const Data& in)
{
    Data out(in.size());
    for (std::size_t i = 0; i < in.size(); i += 4096)
        out[i] = static_cast<std::uint8_t>(in[i] + 10);
    return out;
}

[[gnu::noinline]] unsigned keep_local(std::size_t n)
{
    Data data = load_data(n);
    Data step1 = modify1(data);
    Data step2 = modify2(step1);
    return step2[0] + step1[0] + data[0];
}

using Image = std::vector<double>;

[[gnu::noinline]] Image load_image(std::size_t index, std::size_t pixels)
{
    Image image(pixels);
    for (std::size_t i = 0; i < pixels; ++i)
        image[i] = static_cast<double>((index + i) % 255);
    return image;
}

[[gnu::noinline]] double stack_using_list(std::size_t images, std::size_t pixels)
{
    std::vector<Image> all;
    for (std::size_t i = 0; i < images; ++i)
        all.push_back(load_image(i, pixels));
    Image total(pixels, 0.0);
    for (const Image& image : all)
        for (std::size_t p = 0; p < pixels; ++p)
            total[p] += image[p];
    return total[pixels / 2];
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc >= 3 && std::strcmp(argv[1], "keep-local") == 0) {
        std::printf("%u\n", keep_local(std::strtoull(argv[2], nullptr, 10)));
        return 0;
    }
    if (argc >= 4 && std::strcmp(argv[1], "list") == 0) {
        std::printf("%g\n", stack_using_list(std::strtoull(argv[2], nullptr, 10),
                                             std::strtoull(argv[3], nullptr, 10)));
        return 0;
    }
    std::fprintf(stderr, "usage: %s keep-local BYTES | list IMAGES PIXELS\n", argv[0]);
    return 2;
}
