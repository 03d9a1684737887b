// libjsonnet's C API (its header, from libjsonnet-dev), served by lazy.c: the library is loaded on
// the first call to jsonnet_make, not when the agent starts.
#include <libjsonnet.h>
// malloc_trim, to hand back what a VM left in its thread's malloc arena (see Jsonnet.swift).
#include <malloc.h>

/// Why libjsonnet could not be loaded, or NULL once it is loaded.
const char *etcha_jsonnet_load_failure(void);
