/*
 * Read-only file mappings (mmap_file.h).
 */
#include "util/mmap_file.h"

#include <errno.h>
#include <sys/mman.h>

st_status
mmap_file_map(int fd, uint64_t len, const char *path, struct mmap_file *m,
              struct st_error *err)
{
    *m = (struct mmap_file){NULL, 0};
    if (len == 0)
        return ST_OK;
    if (len > SIZE_MAX)
        return st_error_set(err, ST_IO, EFBIG, "mmap %s", path);
    void *p = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return st_error_set(err, ST_IO, errno, "mmap %s", path);
    *m = (struct mmap_file){p, (size_t)len};
    return ST_OK;
}

void
mmap_file_unmap(struct mmap_file *m)
{
    if (m->ptr != NULL)
        munmap((void *)m->ptr, m->len);
    *m = (struct mmap_file){NULL, 0};
}
