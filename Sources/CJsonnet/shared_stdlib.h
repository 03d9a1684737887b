// The shared standard library (shared_stdlib.cpp), for lazy.c.
#include <libjsonnet.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A native function as jsonnet_native_callback registers it; `parameters` ends with NULL.
typedef struct etcha_jsonnet_native {
    const char *name;
    JsonnetNativeCallback *callback;
    void *context;
    const char *const *parameters;
} etcha_jsonnet_native;

/// What an evaluation calls back: its import callback and native functions.
typedef struct etcha_jsonnet_callbacks {
    JsonnetImportCallback *import_callback;
    void *import_context;
    const etcha_jsonnet_native *natives;
    size_t native_count;
} etcha_jsonnet_callbacks;

/// Makes the shared standard library and redirects libjsonnet's calls to it (`handle` from dlopen);
/// 1 when done, 0 when this libjsonnet is not the one it was written for.
int etcha_shared_stdlib_install(void *handle);

/// Evaluates `snippet` as the file `filename` with the shared standard library; the text (JSON, or
/// libjsonnet's error message when `*error` is set) is to be freed with free.
char *etcha_shared_stdlib_evaluate(
    const char *filename, const char *snippet, const etcha_jsonnet_callbacks *callbacks, int *error);

#ifdef __cplusplus
}
#endif
