// Scratch arrays for the leak scan, on memory from own_map (never mimalloc, never a root):
// usable while other threads are paused, whatever locks they hold. Not thread-safe.
#pragma once

#include "platform/own_memory.hpp"

#include <cstddef>
#include <cstring>
#include <type_traits>

namespace memtrack::detail {

template <class T> class ScratchVector {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    ScratchVector() = default;
    ScratchVector(const ScratchVector&) = delete;
    ScratchVector& operator=(const ScratchVector&) = delete;
    ~ScratchVector() { release(); }

    // False when memory ran out (the element is dropped).
    bool push_back(const T& v) noexcept
    {
        if (size_ == capacity_ && !grow(capacity_ == 0 ? 4096 : capacity_ * 2)) return false;
        data_[size_++] = v;
        return true;
    }
    bool reserve(std::size_t n) noexcept { return n <= capacity_ || grow(n); }
    // Sets the size to n (n <= capacity after reserve), new elements zeroed by mmap or stale.
    bool resize(std::size_t n) noexcept
    {
        if (!reserve(n)) return false;
        size_ = n;
        return true;
    }
    void clear() noexcept { size_ = 0; }
    void pop_back() noexcept { --size_; }
    void release() noexcept
    {
        if (data_ != nullptr) own_unmap(data_, bytes_);
        data_ = nullptr;
        size_ = capacity_ = bytes_ = 0;
    }

    T* data() noexcept { return data_; }
    const T* data() const noexcept { return data_; }
    T& operator[](std::size_t i) noexcept { return data_[i]; }
    const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    T& back() noexcept { return data_[size_ - 1]; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    T* begin() noexcept { return data_; }
    T* end() noexcept { return data_ + size_; }
    const T* begin() const noexcept { return data_; }
    const T* end() const noexcept { return data_ + size_; }

private:
    bool grow(std::size_t n) noexcept
    {
        const std::size_t bytes = (n * sizeof(T) + 4095) & ~std::size_t{4095};
        T* fresh = static_cast<T*>(own_map(bytes));
        if (fresh == nullptr) return false;
        if (size_ != 0) std::memcpy(static_cast<void*>(fresh), data_, size_ * sizeof(T));
        if (data_ != nullptr) own_unmap(data_, bytes_);
        data_ = fresh;
        bytes_ = bytes;
        capacity_ = bytes / sizeof(T);
        return true;
    }

    T* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
    std::size_t bytes_ = 0;
};

}  // namespace memtrack::detail
