// C++'s operator new and delete as a program linked against libtcarena.so
// sees them: every form takes tcarena's blocks, aligned forms align, and a
// failure behaves as the C++ standard says (the new-handler is called, then
// std::bad_alloc is thrown; the nothrow forms return nullptr).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "tcarena.h"

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                                  \
        }                                                                                  \
    } while (0)

struct alignas(256) Aligned {
    char bytes[300];
};

static int handler_calls;

static void count_then_give_up()
{
    handler_calls++;
    std::set_new_handler(nullptr);
}

int main()
{
    // Every size and form lands in tcarena (its usable size aborts on a pointer it does not own).
    for (std::size_t size = 1; size <= (std::size_t)1 << 22; size *= 3) {
        char *one = new char[size];
        CHECK(tca_malloc_usable_size(one) >= size);
        delete[] one;
        auto *value = new std::uint64_t(size);
        CHECK(tca_malloc_usable_size(value) >= sizeof *value && *value == size);
        ::operator delete(value, sizeof *value); // sized delete
    }
    auto *aligned = new Aligned[3];
    CHECK((std::uintptr_t)aligned % alignof(Aligned) == 0 && tca_malloc_usable_size(aligned) >= 3 * sizeof(Aligned));
    delete[] aligned;
    void *page = ::operator new(5000, std::align_val_t(8192));
    CHECK((std::uintptr_t)page % 8192 == 0 && tca_malloc_usable_size(page) >= 5000);
    ::operator delete(page, std::align_val_t(8192));

    const std::size_t huge = (std::size_t)1 << 60;
    CHECK(new (std::nothrow) char[huge] == nullptr);
    CHECK(::operator new(huge, std::align_val_t(64), std::nothrow) == nullptr);
    std::set_new_handler(count_then_give_up);
    bool thrown = false;
    try {
        char *never = new char[huge];
        delete[] never;
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    CHECK(thrown && handler_calls == 1);
    thrown = false;
    try {
        ::operator delete(::operator new(huge));
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    CHECK(thrown);
    return 0;
}
