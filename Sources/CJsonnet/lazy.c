// libjsonnet, loaded when the first Jsonnet VM is made.
//
// Linking it the usual way maps the library and runs its static initializers at every start,
// leaving its pages resident in an agent whose configuration is JSON and that has rendered nothing
// yet (docs/decisions.md, "libjsonnet loaded on the first render").
// Each function of the API the agent uses is defined here with libjsonnet's own signature and
// forwards to the library's, looked up once with dlsym.
//
// The VM handed out wraps the library's and records the import callback and native functions
// registered on it, so that jsonnet_evaluate_snippet can evaluate with the shared standard library
// (shared_stdlib.cpp) when that could be installed and agrees with libjsonnet on a probe.
#include "cjsonnet.h"
#include "shared_stdlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

// Whether evaluations use the shared standard library (shared_stdlib.cpp).
static int shared = 0;

// A probe of the shared standard library: std's functions with named arguments, an import, and each
// file's std.thisFile; it must evaluate to the same text as libjsonnet's own evaluation.
static const char probe_main[] =
    "local lib = import 'lib.libsonnet';\n"
    "{file: std.thisFile, lib: lib, sorted: std.sort([3, 1, 2], keyF=function(x) -x),\n"
    " yaml: std.manifestYamlDoc({a: [1, {b: 2}]}, indent_array_in_object=true),\n"
    " formatted: std.format('%s-%03d', ['a', 7]), mapped: std.map(function(x) x * 2, std.range(1, 3))}\n";
static const char probe_library[] =
    "{file: std.thisFile, upper: std.asciiUpper('x'), json: std.manifestJsonEx({a: [1]}, '  ')}\n";

static char *probe_import(void *context, const char *base, const char *relative, char **found_here, int *success) {
    (void)context;
    (void)base;
    if (strcmp(relative, "lib.libsonnet") != 0) {
        *success = 0;
        return strdup("no such file");
    }
    *found_here = strdup("/probe/lib.libsonnet");
    *success = 1;
    return strdup(probe_library);
}

static int probe_agrees(void) {
    struct JsonnetVm *vm = api.make();
    if (vm == NULL) return 0;
    api.import_callback(vm, probe_import, NULL);
    int plain_failed = 1;
    char *plain = api.evaluate_snippet(vm, "/probe/main.jsonnet", probe_main, &plain_failed);
    etcha_jsonnet_callbacks callbacks = {probe_import, NULL, NULL, 0};
    int shared_failed = 1;
    char *text = etcha_shared_stdlib_evaluate("/probe/main.jsonnet", probe_main, &callbacks, &shared_failed);
    int agrees = plain != NULL && text != NULL && !plain_failed && !shared_failed && strcmp(plain, text) == 0;
    if (plain != NULL) api.realloc(vm, plain, 0);
    free(text);
    api.destroy(vm);
    return agrees;
}

// The library is looked for until it has loaded: a failure (no descriptor left for dlopen, say) is
// not kept for the life of the agent. `loaded` is set once `api` and `shared` are final.
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int loaded = 0;
static char failure[512] = "";

// With load_lock held; 1 when the library and every function were found.
static int load(void) {
    void *library = dlopen(LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(failure, sizeof failure, "cannot load %s (install libjsonnet0): %s", LIBRARY, dlerror());
        return 0;
    }
#define LOOK_UP(field)                                                                         \
    if ((api.field = dlsym(library, "jsonnet_" #field)) == NULL) {                             \
        snprintf(failure, sizeof failure, "%s has no function jsonnet_%s", LIBRARY, #field); \
        dlclose(library);                                                                      \
        return 0;                                                                              \
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
    shared = etcha_shared_stdlib_install(library) && probe_agrees();
    return 1;
}

// Loads the library unless it is loaded; whether it is.
static int ensure_loaded(void) {
    if (atomic_load_explicit(&loaded, memory_order_acquire)) return 1;
    pthread_mutex_lock(&load_lock);
    if (!atomic_load_explicit(&loaded, memory_order_relaxed) && load()) {
        atomic_store_explicit(&loaded, 1, memory_order_release);
    }
    pthread_mutex_unlock(&load_lock);
    return atomic_load_explicit(&loaded, memory_order_acquire);
}

const char *etcha_jsonnet_load_failure(void) {
    if (ensure_loaded()) return NULL;
    // A copy per thread: another thread's failed attempt may be writing the shared one.
    static __thread char reason[sizeof failure];
    pthread_mutex_lock(&load_lock);
    memcpy(reason, failure, sizeof reason);
    pthread_mutex_unlock(&load_lock);
    return reason;
}

int etcha_jsonnet_shares_stdlib(void) {
    ensure_loaded();
    return shared;
}

// What jsonnet_make hands out: the library's VM, and what was registered on it.
#define MAX_NATIVES 16
#define MAX_PARAMETERS 8
struct etcha_vm {
    struct JsonnetVm *library;
    JsonnetImportCallback *import_callback;
    void *import_context;
    etcha_jsonnet_native natives[MAX_NATIVES];
    char *copies[MAX_NATIVES][MAX_PARAMETERS + 2];  // the name, the parameters, NULL
    size_t native_count;
    // Evaluate with libjsonnet's own path: more natives or parameters than recorded, or asked to.
    int own_stdlib;
    // Whether the last evaluation went through the shared standard library.
    int evaluated_shared;
};

static struct etcha_vm *unwrap(struct JsonnetVm *vm) { return (struct etcha_vm *)vm; }

// Every other function takes a VM, which only exists once jsonnet_make succeeded.
struct JsonnetVm *jsonnet_make(void) {
    if (!ensure_loaded()) return NULL;
    struct etcha_vm *vm = calloc(1, sizeof *vm);
    if (vm == NULL) return NULL;
    vm->library = api.make();
    if (vm->library == NULL) {
        free(vm);
        return NULL;
    }
    return (struct JsonnetVm *)vm;
}

void jsonnet_destroy(struct JsonnetVm *vm) {
    struct etcha_vm *wrapper = unwrap(vm);
    for (size_t index = 0; index < wrapper->native_count; index++) {
        for (char **copy = wrapper->copies[index]; *copy != NULL; copy++) free(*copy);
    }
    api.destroy(wrapper->library);
    free(wrapper);
}

char *jsonnet_realloc(struct JsonnetVm *vm, char *buf, size_t sz) { return api.realloc(unwrap(vm)->library, buf, sz); }

char *jsonnet_evaluate_snippet(struct JsonnetVm *vm, const char *filename, const char *snippet, int *error) {
    struct etcha_vm *wrapper = unwrap(vm);
    // Without an import callback of ours, libjsonnet's own (files on disk, its library paths) applies.
    wrapper->evaluated_shared = shared && !wrapper->own_stdlib && wrapper->import_callback != NULL;
    if (!wrapper->evaluated_shared) return api.evaluate_snippet(wrapper->library, filename, snippet, error);
    etcha_jsonnet_callbacks callbacks = {
        wrapper->import_callback, wrapper->import_context, wrapper->natives, wrapper->native_count};
    return etcha_shared_stdlib_evaluate(filename, snippet, &callbacks, error);
}

void etcha_jsonnet_own_stdlib(struct JsonnetVm *vm) { unwrap(vm)->own_stdlib = 1; }

int etcha_jsonnet_evaluated_shared(struct JsonnetVm *vm) { return unwrap(vm)->evaluated_shared; }

void jsonnet_import_callback(struct JsonnetVm *vm, JsonnetImportCallback *cb, void *ctx) {
    struct etcha_vm *wrapper = unwrap(vm);
    wrapper->import_callback = cb;
    wrapper->import_context = ctx;
    api.import_callback(wrapper->library, cb, ctx);
}

void jsonnet_native_callback(
    struct JsonnetVm *vm, const char *name, JsonnetNativeCallback *cb, void *ctx, const char *const *params) {
    struct etcha_vm *wrapper = unwrap(vm);
    api.native_callback(wrapper->library, name, cb, ctx, params);
    size_t count = 0;
    while (params[count] != NULL) count++;
    if (wrapper->native_count == MAX_NATIVES || count > MAX_PARAMETERS) {
        wrapper->own_stdlib = 1;
        return;
    }
    char **copies = wrapper->copies[wrapper->native_count];
    copies[0] = strdup(name);
    for (size_t index = 0; index < count; index++) copies[index + 1] = strdup(params[index]);
    copies[count + 1] = NULL;
    wrapper->natives[wrapper->native_count] = (etcha_jsonnet_native){
        copies[0], cb, ctx, (const char *const *)(copies + 1)};
    wrapper->native_count++;
}

const char *jsonnet_json_extract_string(struct JsonnetVm *vm, const struct JsonnetJsonValue *v) {
    return api.json_extract_string(unwrap(vm)->library, v);
}

int jsonnet_json_extract_number(struct JsonnetVm *vm, const struct JsonnetJsonValue *v, double *out) {
    return api.json_extract_number(unwrap(vm)->library, v, out);
}

int jsonnet_json_extract_bool(struct JsonnetVm *vm, const struct JsonnetJsonValue *v) {
    return api.json_extract_bool(unwrap(vm)->library, v);
}

struct JsonnetJsonValue *jsonnet_json_make_string(struct JsonnetVm *vm, const char *v) {
    return api.json_make_string(unwrap(vm)->library, v);
}

struct JsonnetJsonValue *jsonnet_json_make_number(struct JsonnetVm *vm, double v) {
    return api.json_make_number(unwrap(vm)->library, v);
}

struct JsonnetJsonValue *jsonnet_json_make_bool(struct JsonnetVm *vm, int v) { return api.json_make_bool(unwrap(vm)->library, v); }

struct JsonnetJsonValue *jsonnet_json_make_null(struct JsonnetVm *vm) { return api.json_make_null(unwrap(vm)->library); }

struct JsonnetJsonValue *jsonnet_json_make_array(struct JsonnetVm *vm) { return api.json_make_array(unwrap(vm)->library); }

void jsonnet_json_array_append(struct JsonnetVm *vm, struct JsonnetJsonValue *arr, struct JsonnetJsonValue *v) {
    api.json_array_append(unwrap(vm)->library, arr, v);
}

struct JsonnetJsonValue *jsonnet_json_make_object(struct JsonnetVm *vm) { return api.json_make_object(unwrap(vm)->library); }

void jsonnet_json_object_append(
    struct JsonnetVm *vm, struct JsonnetJsonValue *obj, const char *f, struct JsonnetJsonValue *v) {
    api.json_object_append(unwrap(vm)->library, obj, f, v);
}
