// `tp_exit_stale return|exit`: leaks 21001 bytes, leaving 4 KiB of stale copies of the pointer in
// the dead stack below main's (small) frame, where glibc's exit path then runs: after main
// returns (__libc_start_call_main calls exit), or from exit() called by main.
#include <cstdlib>
#include <cstring>

#define NOINLINE __attribute__((noinline))

namespace {

NOINLINE void spray(void* p)
{
    void* volatile slots[512];
    for (auto& slot : slots)
        slot = p;
    asm volatile("" : : "g"(&slots[0]) : "memory");
}

NOINLINE void* leak()
{
    void* p = std::malloc(21001);
    std::memset(p, 3, 21001);
    return p;
}

}  // namespace

int main(int argc, char** argv)
{
    spray(leak());
    if (argc > 1 && argv[1][0] == 'e') std::exit(0);
    return 0;
}
