// libjsonnet, loaded when the first Jsonnet VM is made.
//
// Linking it the usual way maps the library and runs its static initializers at every start:
// 0.8 MiB of its pages resident (/proc/PID/smaps) in an agent whose configuration is JSON and
// that has rendered nothing yet, as in bench/listener.sh.
// Each function of the API the agent uses is defined here with libjsonnet's own signature and
// forwards to the library's, looked up once with dlsym.
#include "cjsonnet.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define LIBRARY "libjsonnet.so.0"

static struct {
    __typeof__(&jsonnet_make) make;
    __typeof__(&jsonnet_destroy) destroy;
    __typeof__(&jsonnet_realloc) realloc;
    __typeof__(&jsonnet_evaluate_snippet) evaluate_snippet;
    __typeof__(&jsonnet_import_callback) import_callback;
    __typeof__(&jsonnet_native_callback) native_callback;
    __typeof__(&jsonnet_json_extract_string) json_extract_string;
    __typeof__(&jsonnet_json_extract_number) json_extract_number;
    __typeof__(&jsonnet_json_extract_bool) json_extract_bool;
    __typeof__(&jsonnet_json_make_string) json_make_string;
    __typeof__(&jsonnet_json_make_number) json_make_number;
    __typeof__(&jsonnet_json_make_bool) json_make_bool;
    __typeof__(&jsonnet_json_make_null) json_make_null;
    __typeof__(&jsonnet_json_make_array) json_make_array;
    __typeof__(&jsonnet_json_array_append) json_array_append;
    __typeof__(&jsonnet_json_make_object) json_make_object;
    __typeof__(&jsonnet_json_object_append) json_object_append;
} api;

static pthread_once_t loaded = PTHREAD_ONCE_INIT;
static char failure[512] = "";

static void load(void) {
    void *library = dlopen(LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(failure, sizeof failure, "cannot load %s (install libjsonnet0): %s", LIBRARY, dlerror());
        return;
    }
#define LOOK_UP(field)                                                                         \
    if ((api.field = dlsym(library, "jsonnet_" #field)) == NULL) {                             \
        snprintf(failure, sizeof failure, "%s has no function jsonnet_%s", LIBRARY, #field); \
        api.make = NULL;                                                                       \
        return;                                                                                \
    }
    LOOK_UP(make)
    LOOK_UP(destroy)
    LOOK_UP(realloc)
    LOOK_UP(evaluate_snippet)
    LOOK_UP(import_callback)
    LOOK_UP(native_callback)
    LOOK_UP(json_extract_string)
    LOOK_UP(json_extract_number)
    LOOK_UP(json_extract_bool)
    LOOK_UP(json_make_string)
    LOOK_UP(json_make_number)
    LOOK_UP(json_make_bool)
    LOOK_UP(json_make_null)
    LOOK_UP(json_make_array)
    LOOK_UP(json_array_append)
    LOOK_UP(json_make_object)
    LOOK_UP(json_object_append)
#undef LOOK_UP
}

const char *etcha_jsonnet_load_failure(void) {
    pthread_once(&loaded, load);
    return api.make == NULL ? failure : NULL;
}

// Every other function takes a VM, which only exists once jsonnet_make succeeded.
struct JsonnetVm *jsonnet_make(void) {
    pthread_once(&loaded, load);
    return api.make == NULL ? NULL : api.make();
}

void jsonnet_destroy(struct JsonnetVm *vm) { api.destroy(vm); }

char *jsonnet_realloc(struct JsonnetVm *vm, char *buf, size_t sz) { return api.realloc(vm, buf, sz); }

char *jsonnet_evaluate_snippet(struct JsonnetVm *vm, const char *filename, const char *snippet, int *error) {
    return api.evaluate_snippet(vm, filename, snippet, error);
}

void jsonnet_import_callback(struct JsonnetVm *vm, JsonnetImportCallback *cb, void *ctx) {
    api.import_callback(vm, cb, ctx);
}

void jsonnet_native_callback(
    struct JsonnetVm *vm, const char *name, JsonnetNativeCallback *cb, void *ctx, const char *const *params) {
    api.native_callback(vm, name, cb, ctx, params);
}

const char *jsonnet_json_extract_string(struct JsonnetVm *vm, const struct JsonnetJsonValue *v) {
    return api.json_extract_string(vm, v);
}

int jsonnet_json_extract_number(struct JsonnetVm *vm, const struct JsonnetJsonValue *v, double *out) {
    return api.json_extract_number(vm, v, out);
}

int jsonnet_json_extract_bool(struct JsonnetVm *vm, const struct JsonnetJsonValue *v) {
    return api.json_extract_bool(vm, v);
}

struct JsonnetJsonValue *jsonnet_json_make_string(struct JsonnetVm *vm, const char *v) {
    return api.json_make_string(vm, v);
}

struct JsonnetJsonValue *jsonnet_json_make_number(struct JsonnetVm *vm, double v) {
    return api.json_make_number(vm, v);
}

struct JsonnetJsonValue *jsonnet_json_make_bool(struct JsonnetVm *vm, int v) { return api.json_make_bool(vm, v); }

struct JsonnetJsonValue *jsonnet_json_make_null(struct JsonnetVm *vm) { return api.json_make_null(vm); }

struct JsonnetJsonValue *jsonnet_json_make_array(struct JsonnetVm *vm) { return api.json_make_array(vm); }

void jsonnet_json_array_append(struct JsonnetVm *vm, struct JsonnetJsonValue *arr, struct JsonnetJsonValue *v) {
    api.json_array_append(vm, arr, v);
}

struct JsonnetJsonValue *jsonnet_json_make_object(struct JsonnetVm *vm) { return api.json_make_object(vm); }

void jsonnet_json_object_append(
    struct JsonnetVm *vm, struct JsonnetJsonValue *obj, const char *f, struct JsonnetJsonValue *v) {
    api.json_object_append(vm, obj, f, v);
}
