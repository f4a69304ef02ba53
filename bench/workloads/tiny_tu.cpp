// The reduced-size `gxx` workload, for the columns too slow to compile heavy_tu.cpp (Valgrind,
// unsampled heap profilers): no headers, a few recursive templates; the time is mostly the
// start-up of g++, cc1plus and as under the tool. Never run.
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

template <class T, int N>
struct Chain {
    T values[N];
    Chain<T, N - 1> next;
};
template <class T>
struct Chain<T, 0> {};

long tiny_tu() { return Fib<60>::value + static_cast<long>(sizeof(Chain<long, 60>)); }
