/* Counts heap allocations inside xkeras's native training/predict steps: cpp/train/loop.cpp calls
 * xkeras_alloc_probe(1) before a step's native work and (0) after (Python hooks stay outside), and
 * cpp/tensor/blas.cpp brackets each GEMM with xkeras_alloc_probe_engine(1)/(0), so that what the GEMM
 * library allocates internally is counted apart from xkeras's own code. Both hooks are weak symbols:
 * without this library loaded they cost one predictable branch.
 *
 *   gcc -O2 -shared -fPIC -o alloc_probe.so benchmarks/alloc_probe.c
 *   LD_PRELOAD=./alloc_probe.so python3 ...   # read the counts with ctypes (tests/test_alloc_probe.py)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);

static __thread int in_step, in_engine;
static long own_allocations, engine_allocations, windows;

static void count(void) {
  if (!in_step) return;
  __atomic_add_fetch(in_engine ? &engine_allocations : &own_allocations, 1, __ATOMIC_RELAXED);
}

void xkeras_alloc_probe(int on) {
  in_step = on;
  if (on) __atomic_add_fetch(&windows, 1, __ATOMIC_RELAXED);
}
void xkeras_alloc_probe_engine(int inside) { in_engine = inside; }
long xkeras_alloc_probe_own(void) { return own_allocations; }
long xkeras_alloc_probe_engine_allocations(void) { return engine_allocations; }
long xkeras_alloc_probe_windows(void) { return windows; }

void* malloc(size_t n) { count(); return __libc_malloc(n); }
void* calloc(size_t k, size_t n) { count(); return __libc_calloc(k, n); }
void* realloc(void* p, size_t n) { count(); return __libc_realloc(p, n); }
void* memalign(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
void* aligned_alloc(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
int posix_memalign(void** out, size_t a, size_t n) {
  count();
  void* p = __libc_memalign(a, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
