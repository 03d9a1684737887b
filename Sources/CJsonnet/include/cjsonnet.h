// libjsonnet's C API (its header, from libjsonnet-dev), served by lazy.c: the library is loaded on
// the first call to jsonnet_make, not when the agent starts.
#include <libjsonnet.h>
// malloc_trim, to hand back what a VM left in its thread's malloc arena (see Jsonnet.swift).
#include <malloc.h>

/// Why libjsonnet could not be loaded, or NULL once it is loaded.
const char *etcha_jsonnet_load_failure(void);

/// Whether evaluations share one parsed standard library (shared_stdlib.cpp) instead of libjsonnet
/// parsing it for every file; loads libjsonnet.
int etcha_jsonnet_shares_stdlib(void);

/// Makes `vm` evaluate the way libjsonnet does by itself, parsing the standard library for every
/// file (to compare the two).
void etcha_jsonnet_own_stdlib(struct JsonnetVm *vm);

/// Whether `vm`'s last evaluation went through the shared standard library.
int etcha_jsonnet_evaluated_shared(struct JsonnetVm *vm);

/// The shared standard library is released once unused for this long (10 s unless changed; tests
/// shorten it) and made again by the next evaluation.
void etcha_jsonnet_release_stdlib_after(unsigned seconds);

/// How many times the shared standard library has been released.
unsigned long etcha_jsonnet_stdlib_releases(void);
