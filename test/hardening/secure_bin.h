/* The secure-build tests' one helper: the slab geometry of a size's bin, read through tca_ctl. */
#ifndef TCA_TEST_SECURE_BIN_H
#define TCA_TEST_SECURE_BIN_H

#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "tcarena.h"

struct secure_bin_geometry {
    uint32_t nregs;   /* blocks per slab */
    size_t slab_size; /* bytes of blocks per slab, the guard page not counted */
};

/* The bin whose blocks are exactly size bytes. */
static inline struct secure_bin_geometry secure_bin_of(size_t size)
{
    char name[64];
    for (unsigned bin = 0;; bin++) {
        size_t bin_size, len = sizeof bin_size;
        snprintf(name, sizeof name, "arenas.bin.%u.size", bin);
        CHECK(tca_ctl(name, &bin_size, &len, NULL, 0) == 0);
        if (bin_size != size)
            continue;
        struct secure_bin_geometry geometry;
        len = sizeof geometry.nregs;
        snprintf(name, sizeof name, "arenas.bin.%u.nregs", bin);
        CHECK(tca_ctl(name, &geometry.nregs, &len, NULL, 0) == 0);
        len = sizeof geometry.slab_size;
        snprintf(name, sizeof name, "arenas.bin.%u.slab_size", bin);
        CHECK(tca_ctl(name, &geometry.slab_size, &len, NULL, 0) == 0);
        return geometry;
    }
}

#endif
