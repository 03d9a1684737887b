#include <libjsonnet.h>
// malloc_trim, to hand back what a VM left in its thread's malloc arena (see Jsonnet.swift).
#include <malloc.h>
