// The lecture's In [35]: stacking 500 images of 1000x1000 pixels. Building the whole list first
// grows the heap to ~4 GB; a generator that yields one image at a time stays at a few images.
// Here the generator is a C++20 coroutine; memory is sampled every 200 ms with
// memtrack::memory_usage, like the lecture's memory_profiler tables; memtrack::peak_sites says
// what held each peak: the list's one site with every image, the generator's two images.
//
//   build/bin/list_vs_generator [--images 500] [--pixels 1000000] [--interval 200ms]
//                               [--only list|generator]
#include "demo_common.hpp"

#include <memtrack/memtrack.hpp>

#include <fmt/core.h>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace {

// A minimal synchronous generator (g++ 12 has no std::generator): co_yield hands out one value
// at a time; the coroutine frame keeps only the current one.
template <class T> class Generator {
public:
    struct promise_type {
        T* current = nullptr;
        Generator get_return_object()
        {
            return Generator(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        std::suspend_always final_suspend() noexcept { return {}; }
        std::suspend_always yield_value(T& value) noexcept
        {
            current = &value;
            return {};
        }
        void return_void() noexcept {}
        void unhandled_exception() { throw; }
    };

    explicit Generator(std::coroutine_handle<promise_type> h) : handle_(h) {}
    Generator(Generator&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    Generator(const Generator&) = delete;
    Generator& operator=(const Generator&) = delete;
    ~Generator()
    {
        if (handle_) handle_.destroy();
    }

    // Advances to the next value; false when the coroutine has finished.
    bool next()
    {
        handle_.resume();
        return !handle_.done();
    }
    T& value() { return *handle_.promise().current; }

private:
    std::coroutine_handle<promise_type> handle_;
};

using Image = std::vector<double>;

std::size_t g_images = 500;
std::size_t g_pixels = 1000 * 1000;

Image load_image(std::size_t index)  // a fresh image, every pixel written
{
    Image image(g_pixels);
    for (std::size_t i = 0; i < image.size(); ++i)
        image[i] = static_cast<double>((index + i) % 255) / 255.0;
    return image;
}

// stack_using_list: materialise every image, then add them up.
double stack_using_list()
{
    std::vector<Image> images;
    for (std::size_t i = 0; i < g_images; ++i)
        images.push_back(load_image(i));
    Image total(g_pixels, 0.0);
    for (const Image& image : images)
        for (std::size_t p = 0; p < g_pixels; ++p)
            total[p] += image[p];
    return total[g_pixels / 2];
}

Generator<Image> images()
{
    for (std::size_t i = 0; i < g_images; ++i) {
        Image image = load_image(i);
        co_yield image;
    }
}

// stack_using_generator: one image at a time.
double stack_using_generator()
{
    Image total(g_pixels, 0.0);
    Generator<Image> gen = images();
    while (gen.next()) {
        const Image& image = gen.value();
        for (std::size_t p = 0; p < g_pixels; ++p)
            total[p] += image[p];
    }
    return total[g_pixels / 2];
}

struct Run {
    std::vector<memtrack::Sample> samples;
    std::int64_t peak = 0;
    memtrack::Snapshot held;  // the sites at the region's peak
};

Run run(double (*fn)(), std::chrono::milliseconds interval)
{
    Run r;
    double sink = 0;
    // The scope sits inside the sampled function, so the sampler's own buffer is not counted.
    r.samples = memtrack::memory_usage(
        [&] {
            memtrack::Scope scope;
            sink = fn();
            r.peak = scope.result().peak.value;
            r.held = memtrack::peak_sites();  // since the scope's reset: this region's peak
        },
        interval);
    demo::keep(sink);
    return r;
}

void print_timeline(const char* name, const Run& r)
{
    fmt::print("\n{} (sampled heap, like memory_profiler.memory_usage):\n", name);
    for (const memtrack::Sample& s : r.samples)
        fmt::print("  {:6.2f} s  {:>12}\n", s.t_s, fmt::format("{:MiB}", memtrack::Bytes{s.bytes}));
}

int usage(const char* argv0, const std::string& why)
{
    fmt::print(stderr,
               "{}: {}\nusage: {} [--images N] [--pixels N] [--interval 200ms] "
               "[--only list|generator]\n",
               argv0, why, argv0);
    return 2;
}

}  // namespace

int main(int argc, char** argv)
{
    std::chrono::milliseconds interval{200};
    std::string only;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) return usage(argv[0], "missing value for " + arg);
        try {
            if (arg == "--images")
                g_images = std::stoul(argv[++i]);
            else if (arg == "--pixels")
                g_pixels = std::stoul(argv[++i]);
            else if (arg == "--only") {
                only = argv[++i];
                if (only != "list" && only != "generator")
                    return usage(argv[0], "--only takes list or generator");
            } else if (arg == "--interval") {
                const std::string v = argv[++i];
                interval = std::chrono::milliseconds(v.ends_with("ms") ? std::stoul(v)
                                                                       : std::stoul(v) * 1000);
            } else
                return usage(argv[0], "unknown argument " + arg);
        } catch (const std::exception& e) {
            return usage(argv[0], std::string("bad value: ") + e.what());
        }
    }
    if (g_images == 0 || g_pixels == 0 || interval.count() == 0)
        return usage(argv[0], "values must be positive");
    const auto image_bytes = static_cast<std::int64_t>(g_pixels * sizeof(double));
    fmt::print("list_vs_generator: {} images of {} pixels ({} each), sampled every {} ms\n",
               g_images, g_pixels, memtrack::Bytes{image_bytes}, interval.count());
    fmt::print("memtrack tracking: {}\n", memtrack::is_active() ? "active" : "NOT ACTIVE");

    const bool do_list = only.empty() || only == "list";
    const bool do_gen = only.empty() || only == "generator";
    Run list, gen;
    if (do_list) list = run(stack_using_list, interval);
    if (do_gen) gen = run(stack_using_generator, interval);
    if (do_list) print_timeline("stack_using_list", list);
    if (do_gen) print_timeline("stack_using_generator", gen);
    fmt::print("\n{:<22} {:>12} {:>10}\n", "", "peak", "images");
    const auto row = [&](const char* name, const Run& r) {
        fmt::print("{:<22} {:>12} {:>10.2f}\n", name, fmt::format("{}", memtrack::Bytes{r.peak}),
                   static_cast<double>(r.peak) / static_cast<double>(image_bytes));
        // The sites holding images at the peak (at least half an image each).
        demo::print_held_by(r.held, image_bytes / 2, 22);
    };
    if (do_list) row("stack_using_list", list);
    if (do_gen) row("stack_using_generator", gen);
    fmt::print("\nThe list holds every image at once (plus the vector's own growth); the generator "
               "holds the running total and one image.\n");
    return 0;
}
